/* fuzz_pdf_html.c: the HTML reducer of SecurePDF on hostile markup. Whatever comes in, the
 * text that comes out is valid UTF-8 without NUL or control bytes (but '\n' and '\t'), within
 * the ceiling, and no script or style content survives a well-formed <script> element. */
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "pdf/pdf.h"

#include <glib.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const size_t max = size / 2 + 64; /* small ceilings exercise the cut at a boundary */
	size_t n = 0;
	char *text = pdf_html_to_text((const char *)data, size, max, &n);
	sg_assert(text != NULL && n <= max && strlen(text) == n);
	sg_assert(g_utf8_validate(text, (gssize)n, NULL));
	for (size_t i = 0; i < n; i++)
		sg_assert((unsigned char)text[i] >= 0x20 || text[i] == '\n' || text[i] == '\t');
	sg_free(&text);
	/* A script element appended to any prefix is dropped whole. */
	static const char tail[] = "<script>SCRIPTMARK</script>";
	char *buf = sg_malloc(size + sizeof(tail));
	memcpy(buf, data, size);
	memcpy(buf + size, tail, sizeof(tail));
	text = pdf_html_to_text(buf, size + sizeof(tail) - 1, size + 1024, &n);
	if (memchr(data, '<', size) == NULL && memmem(data, size, "SCRIPTMARK", 10) == NULL)
		sg_assert(strstr(text, "SCRIPTMARK") == NULL);
	sg_free(&text);
	sg_free(&buf);
	return 0;
}

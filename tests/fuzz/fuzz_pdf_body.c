/* fuzz_pdf_body.c: a hostile message through the SecurePDF body-to-layout path: the GMime walk
 * that picks text, HTML and attachments, then pango/cairo layout. Each input must give a PDF
 * or a clean refusal, never a crash (qpdf assembly is left out: it never sees the body text). */
#include "core/limits.h"
#include "core/sg_buf.h"
#include "core/sg_log.h"
#include "pdf/pdf_priv.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);

/* fontconfig and cairo keep font and surface caches for the life of the process. */
const char *__lsan_default_suppressions(void)
{
	return "leak:libfontconfig\nleak:libcairo\nleak:libpango\nleak:libglib\nleak:libgobject\n"
	       "leak:libgmime\nleak:libharfbuzz\n";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pdf_doc doc;
	const char *err = NULL;
	if (pdf_msg_parse((const char *)data, size, 20, &doc, &err) < 0) {
		sg_assert(err != NULL);
		return 0;
	}
	struct sg_buf out;
	sg_buf_init(&out, 64 * 1024 * 1024);
	struct pdf_rect link;
	int rc = pdf_render_doc(&doc, "https://portal.example.test/reply/x", &out, &link, &err);
	sg_assert(rc == 0 ? out.len > 0 && memcmp(out.data, "%PDF-", 5) == 0 : err != NULL);
	sg_buf_free(&out);
	pdf_msg_free(&doc);
	return 0;
}

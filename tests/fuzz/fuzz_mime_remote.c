/* fuzz_mime_remote.c: the remote-reference scanner (mime_remote_html.c) on hostile markup and
 * CSS. Whatever comes in, it returns within the output ceiling or says it is too large, and
 * no "http:" or "https:" (any case) is left anywhere in what it returns. */
#include "core/sg_buf.h"
#include "core/sg_log.h"
#include "mime/mime.h"

#include <glib.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	bool css = data[0] & 1; /* the first byte picks HTML or CSS */
	struct sg_buf out;
	size_t count = 0;
	const char *err;
	sg_buf_init(&out, 4 * size + 64);
	if (mime_remote_html((const char *)data + 1, size - 1, css, &out, &count, &err) == 0) {
		sg_assert(out.len <= 4 * size + 64);
		for (size_t i = 0; i + 5 <= out.len; i++)
			sg_assert(g_ascii_strncasecmp(out.data + i, "http:", 5) != 0);
	}
	sg_buf_free(&out);
	return 0;
}

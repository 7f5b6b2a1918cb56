/* fuzz_mime_sanitize.c: the webmail HTML sanitiser on hostile markup. Whatever comes in, it
 * returns within its ceilings, and what it returns, parsed again as a browser parses it
 * (../unit/html_check.h), holds only allowed elements and attributes, links to http, https
 * and mailto, images from the message's own parts, and nothing nested deeper than the cap. */
#include "core/limits.h"
#include "core/sg_buf.h"
#include "core/sg_log.h"
#include "core/sg_str.h"
#include "mime/mime.h"

#include "../unit/html_check.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool cid_url(void *arg, const char *cid, char *url_r, size_t size)
{
	(void)arg;
	return cid[0] != 'x' && sg_snprintf(url_r, size, HTML_CHECK_IMAGE_PREFIX "%s", cid) >= 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct mime_sanitize_opts o = {.cid_url = cid_url, .blocked_image = "image"};
	struct sg_buf out;
	struct mime_sanitize_report rep;
	const char *err;
	/* a ceiling a little above the input's size exercises the cut too */
	sg_buf_init(&out, size * 3 + 64);
	if (mime_sanitize_html((const char *)data, size, &o, &out, &rep, &err) == 0) {
		size_t depth;
		const char *why = html_check(out.data != NULL ? out.data : "", out.len, &depth);
		if (why != NULL) {
			fprintf(stderr, "output has %s:\n%s\n", why, out.data);
			sg_assert(why == NULL);
		}
		sg_assert(depth <= SG_HTML_DEPTH_MAX + 1);
	} else {
		sg_assert(out.len == 0);
	}
	sg_buf_free(&out);
	return 0;
}

/* fuzz_mime_hp.c: RFC 9788 header protection on hostile bytes. Inbound, the bytes are both the
 * delivered message and the payload whose protected fields replace its own (mime_hp_mode,
 * mime_hp_deliver); outbound, they are a message to protect (mime_hp_payload, mime_hp_outer).
 * Nothing may crash or leak; a delivered message never keeps an HP-Outer field of the payload's
 * header in its own header, and a payload never holds Bcc. */
#include "core/sg_buf.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "mime/mime.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* True if the header block of s (up to its empty line) has a field named name. */
static bool header_has(const char *s, size_t len, const char *name)
{
	size_t hlen = mime_header_block_len(s, len, len), pos = 0;
	struct mime_field f;
	while (mime_field_next(s, hlen, &pos, &f))
		if (mime_field_is(&f, name))
			return true;
	return false;
}

static void outbound(const char *msg, size_t size)
{
	struct sg_buf out;
	const char *err = NULL;
	struct mime_hp_out o = {.encrypted = size % 2 == 0, .hide_subject = size % 3 == 0,
	                        .subject_tag = "[secure]"};
	sg_buf_init(&out, 1 << 22);
	if (mime_hp_payload(msg, size, &o, &out, &err) == 0 && out.len > 0)
		sg_assert(!header_has(out.data, out.len, "Bcc"));
	sg_buf_reset(&out);
	if (mime_hp_outer(msg, size, &o, &out, &err) == 0 && out.len > 0)
		sg_assert(!header_has(out.data, out.len, "Bcc"));
	sg_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *msg = (const char *)data;
	char mode[16];
	mime_hp_mode(msg, size, mode, sizeof(mode));
	sg_assert(strlen(mode) < sizeof(mode));
	struct sg_buf out;
	const char *err = NULL;
	sg_buf_init(&out, 1 << 22);
	if (mime_hp_deliver(msg, size, msg, size, &out, &err) == 0 && out.len > 0)
		sg_assert(!header_has(out.data, out.len, "HP-Outer"));
	sg_buf_free(&out);
	outbound(msg, size);
	return 0;
}

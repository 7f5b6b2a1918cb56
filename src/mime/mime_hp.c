/* mime_hp.c: RFC 9788 header protection. The message's own header fields travel inside the
 * cryptographic payload (the entity that is signed and encrypted), whose Content-Type says so
 * with hp="cipher" (encrypted) or hp="clear" (signed only). When encrypted, the Header
 * Confidentiality Policy decides what is left outside (hcp_baseline: Subject "[...]", no
 * Comments or Keywords), and an HP-Outer line inside records each field that was left outside,
 * so that a reader can tell what the sender hid. Bcc is never copied in: every recipient could
 * read it. Byte-exact like mime_headers.c: fields are copied as they came. */
#include "mime/mime.h"

#include "core/sg_buf.h"
#include "core/sg_str.h"

#include <string.h>
#include <strings.h>

#define HP_FIELDS                                                                             \
	"From", "To", "Cc", "Subject", "Date", "Message-ID", "References", "In-Reply-To",      \
	    "Reply-To", "Keywords", "Comments"

const char *const mime_hp_fields[] = {HP_FIELDS};
const size_t mime_hp_nfields = sizeof(mime_hp_fields) / sizeof(mime_hp_fields[0]);

static const char *const never_inside[] = {"Bcc", "X-Sealgate-*"};
static const char *const hidden_outside[] = {"Bcc", "X-Sealgate-*", "Comments", "Keywords"};

/* The value of a field without its line end (folds kept), and whether it names hp=. */
static bool value_has_hp(const struct mime_field *f)
{
	for (size_t i = 0; i + 3 <= f->value_len; i++)
		if (strncasecmp(f->value + i, "hp=", 3) == 0 &&
		    (i == 0 || strchr(" \t;\r\n", f->value[i - 1]) != NULL))
			return true;
	return false;
}

/* The entity's MIME fields, Content-Type with hp= appended; 1 if it had hp= already. */
static int entity_fields(const char *msg, size_t hlen, const char *mode, struct sg_buf *out)
{
	struct mime_field f;
	size_t pos = 0;
	bool typed = false;
	int rc = 0;
	while (rc == 0 && mime_field_next(msg, hlen, &pos, &f)) {
		if (!mime_field_is_content(&f))
			continue;
		if (!mime_field_is(&f, "Content-Type")) {
			rc = sg_buf_append(out, f.start, f.len);
			continue;
		}
		if (value_has_hp(&f))
			return 1;
		size_t n = f.len;
		while (n > 0 && (f.start[n - 1] == '\n' || f.start[n - 1] == '\r'))
			n--;
		rc = sg_buf_append(out, f.start, n) | sg_buf_printf(out, ";\r\n hp=\"%s\"\r\n", mode);
		typed = true;
	}
	if (rc == 0 && !typed)
		rc = sg_buf_printf(out, "Content-Type: text/plain; charset=us-ascii; hp=\"%s\"\r\n", mode);
	return rc == 0 ? 0 : -1;
}

/* One "HP-Outer: " line per field of the outer section (its folds kept). */
static int hp_outer_lines(const char *outer, size_t len, struct sg_buf *out)
{
	struct mime_field f;
	size_t pos = 0;
	int rc = 0;
	while (rc == 0 && mime_field_next(outer, len, &pos, &f))
		if (f.name_len > 0)
			rc = sg_buf_append_str(out, "HP-Outer: ") | sg_buf_append(out, f.start, f.len);
	return rc;
}

int mime_hp_outer(const char *msg, size_t len, const struct mime_hp_out *o, struct sg_buf *out,
                  const char **error_r)
{
	struct mime_edit e = {.drop = o->hide_subject ? hidden_outside : never_inside,
	                      .ndrop = o->hide_subject ? 4 : 2, .keep = MIME_KEEP_OUTER,
	                      .subject_tag = o->subject_tag,
	                      .subject_value = o->hide_subject ? "[...]" : NULL};
	return mime_edit_apply(msg, len, &e, out, error_r);
}

static int protected_and_outer(const char *msg, size_t len, const struct mime_hp_out *o,
                               struct sg_buf *out, const char **error_r)
{
	struct mime_edit inside = {.drop = never_inside, .ndrop = 2, .keep = MIME_KEEP_OUTER,
	                           .subject_tag = o->subject_tag, .only = mime_hp_fields,
	                           .nonly = mime_hp_nfields};
	if (mime_edit_apply(msg, len, &inside, out, error_r) < 0)
		return -1;
	if (!o->encrypted)
		return 0;
	struct sg_buf outer;
	sg_buf_init(&outer, out->max);
	int rc = mime_hp_outer(msg, len, o, &outer, error_r);
	struct mime_edit listed = {.only = mime_hp_fields, .nonly = mime_hp_nfields};
	struct sg_buf seen;
	sg_buf_init(&seen, out->max);
	if (rc == 0)
		rc = mime_edit_apply(outer.data != NULL ? outer.data : "", outer.len, &listed, &seen,
		                     error_r);
	if (rc == 0 && hp_outer_lines(seen.data != NULL ? seen.data : "", seen.len, out) != 0) {
		*error_r = "message too large to protect its header";
		rc = -1;
	}
	sg_buf_free(&seen);
	sg_buf_free(&outer);
	return rc;
}

int mime_hp_payload(const char *msg, size_t len, const struct mime_hp_out *o, struct sg_buf *out,
                    const char **error_r)
{
	size_t hlen = mime_header_block_len(msg, len, len);
	size_t start = out->len;
	int had = entity_fields(msg, hlen, o->encrypted ? "cipher" : "clear", out);
	if (had != 0) {
		out->len = start;
		struct mime_edit same = {.keep = MIME_KEEP_CONTENT, .with_body = true};
		if (had < 0) {
			*error_r = "message too large to protect its header";
			return -1;
		}
		return mime_edit_apply(msg, len, &same, out, error_r);
	}
	if (protected_and_outer(msg, len, o, out, error_r) < 0)
		return -1;
	if (sg_buf_append_str(out, "\r\n") < 0 || sg_buf_append(out, msg + hlen, len - hlen) < 0) {
		*error_r = "message too large to protect its header";
		return -1;
	}
	return 0;
}

void mime_hp_mode(const char *entity, size_t len, char *dst, size_t size)
{
	size_t hlen = mime_header_block_len(entity, len, len);
	struct mime_field f;
	size_t pos = 0;
	dst[0] = '\0';
	while (mime_field_next(entity, hlen, &pos, &f)) {
		if (!mime_field_is(&f, "Content-Type") || !value_has_hp(&f))
			continue;
		for (size_t i = 0; i + 3 <= f.value_len; i++) {
			if (strncasecmp(f.value + i, "hp=", 3) != 0)
				continue;
			const char *v = f.value + i + 3;
			size_t vlen = f.value_len - i - 3;
			if (vlen > 0 && *v == '"') {
				v++;
				vlen--;
			}
			size_t n = 0;
			while (n < vlen && n + 1 < size && (v[n] >= 'a' && v[n] <= 'z'))
				n++;
			memcpy(dst, v, n);
			dst[n] = '\0';
			return;
		}
	}
}

int mime_hp_deliver(const char *msg, size_t len, const char *payload, size_t payload_len,
                    struct sg_buf *out, const char **error_r)
{
	struct mime_edit inner = {.keep = MIME_KEEP_OUTER, .drop = never_inside, .ndrop = 2,
	                          .only = mime_hp_fields, .nonly = mime_hp_nfields};
	static const char *const drop[] = {HP_FIELDS, "HP-Outer"};
	struct mime_edit rest = {.drop = drop, .ndrop = sizeof(drop) / sizeof(drop[0]),
	                         .with_body = true};
	return mime_edit_apply(payload, payload_len, &inner, out, error_r) < 0 ||
	               mime_edit_apply(msg, len, &rest, out, error_r) < 0
	           ? -1 : 0;
}

int mime_hp_entity(const char *entity, size_t len, struct sg_buf *out, const char **error_r)
{
	static const char *const own[] = {"Content-*", "MIME-Version", "HP-Outer", HP_FIELDS};
	char mode[16];
	mime_hp_mode(entity, len, mode, sizeof(mode));
	struct mime_edit content = {.keep = MIME_KEEP_CONTENT, .with_body = true};
	struct mime_edit with_hp = {.only = own, .nonly = sizeof(own) / sizeof(own[0]),
	                            .with_body = true};
	return mime_edit_apply(entity, len, mode[0] != '\0' ? &with_hp : &content, out, error_r);
}

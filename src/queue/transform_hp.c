/* transform_hp.c: RFC 9788 header protection on the way out (policy.header_protection), for
 * S/MIME and PGP/MIME alike: the entity to sign and encrypt carries the message's own header
 * fields (hp="cipher", HP-Outer lines), and the outer header section follows the Header
 * Confidentiality Policy (policy.hide_subject: hcp_baseline, Subject "[...]"). Without it the
 * entity is the Content-* fields and body, and the outer section the message's fields.
 * On the way in, protected fields replace the outer ones in what is delivered, and a From
 * outside that differs from the one inside is reported. */
#include "queue/transform.h"

#include "core/sg_log.h"
#include "core/sg_str.h"
#include "mime/mime.h"

#include <stdio.h>
#include <string.h>

static struct mime_hp_out policy_of(const struct transform_env *te)
{
	return (struct mime_hp_out){.encrypted = true, .hide_subject = te->hide_subject,
	                            .subject_tag = te->subject_tag};
}

int transform_hp_entity(const struct transform_env *te, const char *plain, size_t len,
                        struct sg_buf *entity, const char **error_r)
{
	struct mime_hp_out hp = policy_of(te);
	struct mime_edit inner = {.keep = MIME_KEEP_CONTENT, .with_body = true};
	return te->header_protection ? mime_hp_payload(plain, len, &hp, entity, error_r)
	                             : mime_edit_apply(plain, len, &inner, entity, error_r);
}

int transform_hp_join(const struct transform_env *te, const char *plain, size_t len,
                      const char *enc, size_t enc_len, struct sg_buf *out, const char **error_r)
{
	if (!te->header_protection)
		return transform_join_outer(plain, len, NULL, te->subject_tag, enc, enc_len, out,
		                            error_r);
	struct mime_hp_out hp = policy_of(te);
	if (mime_hp_outer(plain, len, &hp, out, error_r) < 0)
		return -1;
	if (sg_buf_append(out, enc, enc_len) < 0) {
		*error_r = "message too large";
		return -1;
	}
	return 0;
}

/* The From address of a payload's protected fields (lower-case), or "". */
static void protected_from(const char *payload, size_t len, char *dst, size_t size)
{
	struct mime_info info;
	const char *err;
	dst[0] = '\0';
	if (mime_info_parse(payload, len, &info, &err) == 0 && info.from != NULL)
		sg_strlcpy(dst, info.from, size);
	mime_info_free(&info);
	sg_ascii_lower(dst);
}

void transform_hp_from(const struct transform_input *in, const char *payload, size_t len,
                       char *dst, size_t size)
{
	char mode[16];
	mime_hp_mode(payload, len, mode, sizeof(mode));
	dst[0] = '\0';
	if (mode[0] != '\0')
		protected_from(payload, len, dst, size);
	if (dst[0] == '\0' && in->mime != NULL && in->mime->from != NULL)
		sg_strlcpy(dst, in->mime->from, size);
}

int transform_hp_inbound(const struct transform_input *in, const char *msg, size_t len,
                         const char *payload, size_t payload_len, struct sg_buf *out,
                         char *note, size_t note_size)
{
	char mode[16], from[SG_ADDR_MAX], outside[SG_ADDR_MAX] = "";
	const char *err;
	mime_hp_mode(payload, payload_len, mode, sizeof(mode));
	note[0] = '\0';
	if (mode[0] == '\0')
		return 0;
	if (mime_hp_deliver(msg, len, payload, payload_len, out, &err) < 0) {
		sg_warn("%s: protected header fields not applied: %s", in->queue_id, err);
		return 0;
	}
	protected_from(payload, payload_len, from, sizeof(from));
	if (in->mime != NULL && in->mime->from != NULL)
		sg_strlcpy(outside, in->mime->from, sizeof(outside));
	sg_ascii_lower(outside);
	char shown[SG_LOG_PEER_TEXT_MAX + 4];
	sg_printable(shown, sizeof(shown), outside, SG_LOG_PEER_TEXT_MAX);
	if (from[0] != '\0' && strcmp(from, outside) != 0)
		snprintf(note, note_size, "headers=protected (hp=%s); from-mismatch (outside <%s>, "
		         "inside: the From shown)", mode, shown);
	else
		snprintf(note, note_size, "headers=protected (hp=%s)", mode);
	return 1;
}

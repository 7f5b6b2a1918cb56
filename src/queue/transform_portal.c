/* transform_portal.c: mail a partner wrote on the portal (SPOOL_F_PORTAL, planned
 * POLICY_PORTAL) for an internal recipient. Every X-Sealgate-* field is removed and one
 * X-Sealgate-Security field states where the mail came from and whom the portal authenticated
 * (the envelope sender: the portal sets it from the session). When the recipients have usable
 * S/MIME certificates the entity is encrypted to them, as policy.reencrypt_inbound does for
 * inbound mail, so it rests encrypted in their mailboxes. */
#include "queue/transform.h"

#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "crypto/smime.h"
#include "mime/mime.h"
#include "store/store.h"

#include <string.h>

static const char *const foreign[] = {"X-Sealgate-*"};

/* The entity (Content-* fields and body) encrypted to the recipients' certificates, the
 * message fields outside: 1, 0 when one has no certificate (*why_r), -1 on errors. */
static int encrypt_to(const struct transform_env *te, const struct transform_input *in,
                      const char *field, struct sg_buf *out, const char **why_r)
{
	struct sg_buf entity;
	sg_buf_init(&entity, SG_MESSAGE_SIZE_HARD_MAX);
	struct mime_edit inner = {.keep = MIME_KEEP_CONTENT, .with_body = true};
	int rc = mime_edit_apply(in->data, in->len, &inner, &entity, why_r) < 0
	             ? -1
	             : transform_reencrypt(te, in, entity.data, entity.len, field, out, why_r);
	sg_buf_free_secret(&entity);
	return rc;
}

/* X-Sealgate-Security: portal; authenticated=<sender>[; encrypted=smime] */
static int security_field(const char *sender, bool encrypted, char *dst, size_t size)
{
	/* The sender was checked by the portal; still, nothing odd may reach a header. */
	for (const unsigned char *c = (const unsigned char *)sender; *c != '\0'; c++)
		if (*c < 0x21 || *c == 0x7f || *c == '<' || *c == '>')
			return -1;
	return sg_snprintf(dst, size, "X-Sealgate-Security: portal; authenticated=<%s>%s\r\n", sender,
	                   encrypted ? "; encrypted=smime" : "");
}

enum transform_result transform_portal(const struct transform_env *te,
                                       const struct transform_input *in,
                                       struct transform_output *out)
{
	char field[SG_ADDR_MAX + 96];
	if (in->sender == NULL || in->sender[0] == '\0' ||
	    security_field(in->sender, false, field, sizeof(field)) < 0)
		return transform_fail(out, TRANSFORM_PERM, "5.7.1",
		                      "mail from the portal without a usable sender address");
	const char *why = "", *err = "";
	char enc_field[SG_ADDR_MAX + 96];
	security_field(in->sender, true, enc_field, sizeof(enc_field));
	int found = encrypt_to(te, in, enc_field, &out->buf, &why);
	enum transform_result res = TRANSFORM_OK;
	if (found < 0) {
		res = transform_fail(out, TRANSFORM_TEMP, "4.3.0", "cannot encrypt: %s", why);
	} else if (found == 1) {
		res = transform_check_size(te, out);
	} else {
		sg_buf_reset(&out->buf);
		struct mime_edit e = {.drop = foreign, .ndrop = 1, .keep = MIME_KEEP_ALL,
		                      .with_body = true, .prepend = field};
		if (mime_edit_apply(in->data, in->len, &e, &out->buf, &err) < 0)
			res = transform_fail(out, TRANSFORM_TEMP, "4.3.0", "%s", err);
	}
	if (res == TRANSFORM_OK) {
		out->data = out->buf.data;
		out->len = out->buf.len;
		sg_info("%s: from the portal, %s%s%s", in->queue_id,
		        found == 1 ? "encrypted to the recipient's certificate" : "not encrypted (",
		        found == 1 ? "" : why, found == 1 ? "" : ")");
	}
	return res;
}

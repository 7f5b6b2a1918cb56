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

/* The certificates of every recipient: 1 all found, 0 one has none (why in *why_r), -1 error. */
static int find_certs(const struct transform_env *te, const struct transform_input *in,
                      struct store_cert *certs, size_t *got_r, const char **why_r)
{
	for (*got_r = 0; *got_r < in->nrcpt; (*got_r)++) {
		int rc = transform_find_cert(te, in->rcpts[*got_r], SMIME_USAGE_ENCRYPT, false,
		                             &certs[*got_r], why_r);
		if (rc != 1)
			return rc;
	}
	return 1;
}

/* The entity (Content-* fields and body) encrypted to certs, the message fields outside. */
static int encrypt_to(const struct transform_input *in, const struct store_cert *certs,
                      size_t n, const char *field, struct sg_buf *out, const char **error_r)
{
	struct sg_buf entity;
	sg_buf_init(&entity, SG_MESSAGE_SIZE_HARD_MAX);
	struct smime_der *ders = sg_calloc(n, sizeof(*ders));
	for (size_t i = 0; i < n; i++)
		ders[i] = (struct smime_der){certs[i].der, certs[i].der_len};
	struct mime_edit inner = {.keep = MIME_KEEP_CONTENT, .with_body = true};
	char *enc = NULL;
	size_t enc_len = 0;
	int rc = mime_edit_apply(in->data, in->len, &inner, &entity, error_r);
	if (rc == 0)
		rc = smime_encrypt(ders, n, entity.data, entity.len, 0, &enc, &enc_len, error_r);
	if (rc == 0)
		rc = transform_join_outer(in->data, in->len, field, NULL, enc, enc_len, out, error_r);
	sg_free(&enc);
	sg_free(&ders);
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
	struct store_cert *certs = sg_calloc(in->nrcpt > 0 ? in->nrcpt : 1, sizeof(*certs));
	size_t got = 0;
	const char *why = "", *err = "";
	int found = find_certs(te, in, certs, &got, &why);
	enum transform_result res = TRANSFORM_OK;
	if (found < 0) {
		res = transform_fail(out, TRANSFORM_TEMP, "4.3.0", "store: %s", why);
	} else if (found == 1 && in->nrcpt > 0) {
		security_field(in->sender, true, field, sizeof(field));
		if (encrypt_to(in, certs, got, field, &out->buf, &err) < 0)
			res = transform_fail(out, TRANSFORM_TEMP, "4.7.0", "cannot encrypt: %s", err);
		else
			res = transform_check_size(te, out);
	} else {
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
	for (size_t i = 0; i < got; i++)
		store_cert_clear(&certs[i]);
	sg_free(&certs);
	return res;
}

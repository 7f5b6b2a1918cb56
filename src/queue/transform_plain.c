/* transform_plain.c: getting at what the sender wrote. Outlook encrypts to the proxy
 * certificate the gateway publishes for a partner; such a message is decrypted here with the
 * gateway-held key, and then travels by the partner's own channel like any other. */
#include "queue/transform.h"

#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "crypto/keystore.h"
#include "crypto/smime.h"
#include "mime/mime.h"
#include "policy/policy.h"
#include "store/store.h"

#include <string.h>


int transform_decrypt_gateway(const struct transform_env *te, const char *data, size_t len,
                              char **out_r, size_t *out_len_r, bool *to_domain_r,
                              const char **error_r)
{
	struct smime_rid *rids = NULL;
	size_t n = 0;
	if (smime_recipients(data, len, &rids, &n, error_r) < 0)
		return -1;
	int rc = TRANSFORM_NOT_OURS;
	*error_r = "it is not encrypted to any key the gateway holds";
	for (size_t i = 0; i < n && rc != 0 && te->store != NULL; i++) {
		struct store_cert cert;
		const char *err;
		if (store_cert_find_rid(te->store, rids[i].issuer, rids[i].serial, &cert, &err) != 1)
			continue;
		struct keystore_key *key = NULL;
		if (cert.has_key && transform_cert_key(te, &cert, &key, &err) == 0) {
			struct smime_der der = {cert.der, cert.der_len};
			rc = smime_decrypt(&der, key, data, len, out_r, out_len_r, &err);
			if (rc < 0)
				*error_r = err;
			else if (to_domain_r != NULL)
				*to_domain_r = policy_domain_is_owner(cert.address);
		}
		keystore_key_free(&key);
		store_cert_clear(&cert);
	}
	sg_free(&rids);
	return rc;
}

int transform_join_outer(const char *msg, size_t len, const char *prepend, const char *tag,
                         const char *entity, size_t entity_len, struct sg_buf *out,
                         const char **error_r)
{
	static const char *const drop[] = {"X-Sealgate-*", "Bcc"};
	struct mime_edit e = {.drop = drop, .ndrop = 2, .keep = MIME_KEEP_OUTER,
	                      .subject_tag = tag, .prepend = prepend};
	if (mime_edit_apply(msg, len, &e, out, error_r) < 0)
		return -1;
	if (sg_buf_append(out, entity, entity_len) < 0) {
		*error_r = "message too large";
		return -1;
	}
	return 0;
}

int transform_plaintext(const struct transform_env *te, const struct transform_input *in,
                        struct sg_buf *buf, const char **plain_r, size_t *len_r,
                        const char **error_r)
{
	*plain_r = in->data;
	*len_r = in->len;
	enum smime_kind kind = in->mime != NULL && mime_info_is_smime(in->mime)
	                           ? smime_classify(in->data, in->len)
	                           : SMIME_KIND_NONE;
	if (kind != SMIME_KIND_ENVELOPED && kind != SMIME_KIND_AUTH_ENVELOPED)
		return 0;
	char *inner = NULL;
	size_t inner_len = 0;
	int drc = transform_decrypt_gateway(te, in->data, in->len, &inner, &inner_len, NULL,
	                                    error_r);
	if (drc == TRANSFORM_NOT_OURS)
		return 1; /* end-to-end encrypted by the sender to the partner's own key */
	if (drc < 0)
		return -1;
	int rc = transform_join_outer(in->data, in->len, NULL, NULL, inner, inner_len, buf, error_r);
	sg_free_secret(&inner, inner_len);
	if (rc == 0) {
		sg_info("%s: decrypted what the sender encrypted to a gateway-held key", in->queue_id);
		*plain_r = buf->data;
		*len_r = buf->len;
	}
	return rc;
}

/* transform_reencrypt.c: encrypting mail for internal recipients to their own certificates,
 * so that it rests encrypted in their mailboxes: decrypted inbound mail
 * (policy.reencrypt_inbound) and mail written on the portal share it. */
#include "queue/transform.h"

#include "core/sg_mem.h"
#include "crypto/smime.h"
#include "store/store.h"

int transform_reencrypt(const struct transform_env *te, const struct transform_input *in,
                        const char *entity, size_t entity_len, const char *prepend,
                        struct sg_buf *out, const char **why_r)
{
	size_t n = in->nrcpt, got = 0;
	struct store_cert *certs = sg_calloc(n > 0 ? n : 1, sizeof(*certs));
	struct smime_recipient *rcpts = sg_calloc(n > 0 ? n : 1, sizeof(*rcpts));
	int rc = n > 0 ? 1 : 0;
	*why_r = "no recipients";
	for (; got < n && rc == 1; got++) {
		rc = transform_find_cert(te, in->rcpts[got], SMIME_USAGE_ENCRYPT, false, &certs[got],
		                         why_r);
		if (rc != 1)
			break;
		rcpts[got] = (struct smime_recipient){{certs[got].der, certs[got].der_len},
		                                     {certs[got].caps, certs[got].caps_len}};
	}
	char *enc = NULL;
	size_t enc_len = 0;
	if (rc == 1 && (smime_encrypt_to(rcpts, n, entity, entity_len, 0, &enc, &enc_len, why_r) < 0 ||
	                transform_join_outer(in->data, in->len, prepend, NULL, enc, enc_len, out,
	                                     why_r) < 0))
		rc = -1;
	sg_free(&enc);
	for (size_t i = 0; i < got; i++)
		store_cert_clear(&certs[i]);
	sg_free(&certs);
	sg_free(&rcpts);
	return rc;
}

/* keystore_proxy.c: proxy keys (keystore_proxy.h). A proxy key is an OpenSSL 3 legacy RSA or
 * EC_KEY with the public half and a method of ours (keystore_proxy_meth.c): a key with a
 * non-default method is "foreign" to OpenSSL 3, which then keeps it off the providers and
 * calls the method for every private operation, as it does for engine keys. The method finds
 * the handle in the key's ex_data and asks the key holder; on "unknown handle" (the key holder
 * restarted, or dropped it) the sealed blob is loaded again and the question asked once more. */
#include "crypto/keystore_proxy_priv.h"
#include "crypto/keystore_priv.h"
#include "core/limits.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"

#include <openssl/x509.h>
#include <stdatomic.h>
#include <string.h>

void keystore_proxy_ref_free(struct keystore_proxy_ref *ref)
{
	if (ref == NULL)
		return;
	sg_free(&ref->blob);
	sg_free(&ref->owner);
	sg_free(&ref);
}

/* Loads ref's key; sets its handle and returns the public key the key holder reports. */
static EVP_PKEY *load(struct keystore_proxy_ref *ref, bool again, const char **error_r)
{
	uint32_t handle = 0;
	unsigned char *spki = NULL;
	size_t len = 0;
	if (ref->ops->load(ref->blob, ref->blob_len, ref->owner, again, &handle, &spki, &len,
	                   error_r) < 0)
		return NULL;
	const unsigned char *p = spki;
	EVP_PKEY *pub = len <= SG_CERT_DER_MAX ? d2i_PUBKEY(NULL, &p, (long)len) : NULL;
	if (pub != NULL && p != spki + len) {
		EVP_PKEY_free(pub);
		pub = NULL;
	}
	sg_free(&spki);
	if (pub == NULL)
		*error_r = "key process: the public key it sent does not parse";
	atomic_store(&ref->handle, handle);
	return pub;
}

static int call_once(struct keystore_proxy_ref *ref, enum keystore_proxy_op op,
                     const char *param, const unsigned char *in, size_t in_len,
                     unsigned char *out, size_t *n, const char **err)
{
	return ref->ops->call(op, atomic_load(&ref->handle), param, in, in_len, out, n, err);
}

int keystore_proxy_call(struct keystore_proxy_ref *ref, enum keystore_proxy_op op,
                        const char *param, const unsigned char *in, size_t in_len,
                        unsigned char *out, size_t max)
{
	const char *err = "key process: the result does not fit";
	size_t n = max;
	int rc = ref != NULL ? call_once(ref, op, param, in, in_len, out, &n, &err) : -1;
	if (rc == 1) {
		EVP_PKEY *pub = load(ref, true, &err);
		n = max;
		rc = pub != NULL ? call_once(ref, op, param, in, in_len, out, &n, &err) : -1;
		EVP_PKEY_free(pub);
		if (rc == 1)
			err = "key process forgets the key as soon as it loads it";
	}
	if (rc == 0 && n > max)
		rc = -1;
	if (rc != 0) {
		sg_log(SG_LOG_WARN, "private key operation through the key process failed: %s", err);
		return -1;
	}
	return (int)n;
}

static struct keystore_proxy_ref *ref_new(const struct keystore_proxy_ops *ops,
                                          const unsigned char *blob, size_t blob_len,
                                          const char *owner)
{
	struct keystore_proxy_ref *ref = sg_calloc(1, sizeof(*ref));
	ref->ops = ops;
	ref->blob = sg_memdup(blob, blob_len);
	ref->blob_len = blob_len;
	ref->owner = sg_strdup(owner);
	return ref;
}

int keystore_proxy_unseal(const struct keystore_proxy_ops *ops, const unsigned char *blob,
                          size_t blob_len, const char *owner, struct keystore_key **key_r,
                          const char **error_r)
{
	if (blob_len == 0 || blob_len > SG_SEALED_KEY_MAX || owner == NULL || owner[0] == '\0') {
		*error_r = "sealed record: not a sealgate blob";
		return -1;
	}
	struct keystore_proxy_ref *ref = ref_new(ops, blob, blob_len, owner);
	EVP_PKEY *pub = load(ref, false, error_r);
	if (pub == NULL) {
		keystore_proxy_ref_free(ref);
		return -1;
	}
	EVP_PKEY *pk = keystore_proxy_pkey(pub, ref, error_r); /* ref is pk's now */
	EVP_PKEY_free(pub);
	if (pk == NULL)
		return -1;
	*key_r = keystore_key_wrap(pk);
	return 0;
}

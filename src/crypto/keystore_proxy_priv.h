/* keystore_proxy_priv.h: private to crypto/keystore_proxy*.c. */
#ifndef SG_KEYSTORE_PROXY_PRIV_H
#define SG_KEYSTORE_PROXY_PRIV_H

#include "crypto/keystore_proxy.h"

#include <openssl/evp.h>
#include <stdint.h>

/* What a proxy key knows of its private half: where it is, and how to load it again. */
struct keystore_proxy_ref {
	const struct keystore_proxy_ops *ops;
	_Atomic uint32_t handle;
	unsigned char *blob;
	size_t blob_len;
	char *owner;
};

void keystore_proxy_ref_free(struct keystore_proxy_ref *ref);
/* A proxy EVP_PKEY with pub's public half (RSA or EC) that owns ref, even when it fails. */
EVP_PKEY *keystore_proxy_pkey(EVP_PKEY *pub, struct keystore_proxy_ref *ref,
                              const char **error_r);
/* ref->ops->call, after loading the key again once if the key holder forgot the handle.
 * Returns the result's length (at most max), or -1 (logged). */
int keystore_proxy_call(struct keystore_proxy_ref *ref, enum keystore_proxy_op op,
                        const char *param, const unsigned char *in, size_t in_len,
                        unsigned char *out, size_t max);

#endif

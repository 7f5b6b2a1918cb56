/* keystore_proxy_priv.h: private to crypto/keystore_proxy*.c. */
#ifndef SG_KEYSTORE_PROXY_PRIV_H
#define SG_KEYSTORE_PROXY_PRIV_H

#include "crypto/keystore_proxy.h"

#include <openssl/evp.h>
#include <stdint.h>

/* What a proxy key knows of its private half: where it is, and how to load it again. */
struct keystore_proxy_ref {
	_Atomic uint64_t handle;
	unsigned char *blob;
	size_t blob_len;
	char *owner;
};

void keystore_proxy_ref_free(struct keystore_proxy_ref *ref);
/* A proxy EVP_PKEY with pub's public half (RSA or EC) that owns ref, even when it fails. */
EVP_PKEY *keystore_proxy_pkey(EVP_PKEY *pub, struct keystore_proxy_ref *ref,
                              const char **error_r);
/* Sends handle ‖ body as op; reloads and repeats once on "unknown handle". reply (the body
 * after the status byte) is the caller's to free, also on error. Returns 0 or -1. */
int keystore_proxy_op(struct keystore_proxy_ref *ref, enum keystore_op op,
                      const struct sg_buf *body, struct sg_buf *reply, const char **error_r);
/* The one byte string a reply holds (at most max bytes), or NULL. */
const unsigned char *keystore_proxy_reply_bytes(const struct sg_buf *reply, size_t max,
                                                size_t *len_r);

#endif

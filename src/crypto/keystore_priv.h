/* keystore_priv.h: private to crypto/. The ca_* and smime_* files use the OpenSSL key inside
 * a handle; nothing outside crypto/ includes this header, so no caller sees an EVP_PKEY. */
#ifndef SG_KEYSTORE_PRIV_H
#define SG_KEYSTORE_PRIV_H

#include "crypto/keystore.h"

#include <openssl/evp.h>

struct keystore_key {
	EVP_PKEY *pkey;
};

/* Wraps pkey in a handle that owns it. */
struct keystore_key *keystore_key_wrap(EVP_PKEY *pkey);
EVP_PKEY *keystore_key_pkey(const struct keystore_key *key);
/* True for a handle whose key is in the key process (keystore_remote.h). */
bool keystore_is_remote(const struct keystore *ks);
/* The master key bytes, for keystore_seal.c. */
const unsigned char *keystore_master_bytes(const struct keystore *ks);

/* keystore_seal.c: magic (4 bytes) ‖ 24-byte nonce ‖ XChaCha20-Poly1305 of data under key (32
 * bytes) with ad; the caller frees the blob. Open: 0, -1 not such a blob, -2 does not open
 * (*data_r: one byte longer than *len_r; wipe and free it). */
unsigned char *keystore_aead_seal(const unsigned char *key, const char *magic, const char *ad,
                                  const void *data, size_t len, size_t *blob_len_r);
/* The same blob sealed where the bytes are: buf[header .. header + len) is the plaintext, with
 * the header's room before it and the tag's after it (keystore_msgkey_seal_in_place). */
size_t keystore_aead_seal_in_place(const unsigned char *key, const char *magic, const char *ad,
                                   unsigned char *buf, size_t len);
int keystore_aead_open(const unsigned char *key, const char *magic, const char *ad,
                       const unsigned char *blob, size_t blob_len, unsigned char **data_r,
                       size_t *len_r);

#endif

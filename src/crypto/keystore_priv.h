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
/* The master key bytes, for keystore_seal.c. */
const unsigned char *keystore_master_bytes(const struct keystore *ks);

#endif

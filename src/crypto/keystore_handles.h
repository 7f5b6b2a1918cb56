/* keystore_handles.h: private to crypto/ (keystore_serve.c): the key holder's table of open
 * private keys. Every EVP_PKEY returned carries a reference of the caller's (EVP_PKEY_free). */
#ifndef SG_KEYSTORE_HANDLES_H
#define SG_KEYSTORE_HANDLES_H

#include <openssl/evp.h>
#include <stdint.h>

#define KEYSTORE_TAG_BYTES 32 /* SHA-256 of owner and sealed blob */

EVP_PKEY *keystore_handles_find_tag(const unsigned char *tag, uint64_t *id_r);
/* Takes pkey's reference; returns its new handle. */
uint64_t keystore_handles_add(const unsigned char *tag, EVP_PKEY *pkey);
EVP_PKEY *keystore_handles_get(uint64_t id);

#endif

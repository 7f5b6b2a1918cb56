/* keystore_key.c: private key handles, their generation, and sealing at rest. A sealed blob
 * is "SGK1" | 24-byte nonce | XChaCha20-Poly1305(PKCS#8 DER), with the owner's identity as
 * associated data. The plaintext DER only ever lives in buffers wiped before they are freed. */
#include "crypto/keystore.h"
#include "crypto/keystore_priv.h"
#include "crypto/keystore_remote.h"
#include "core/limits.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <openssl/x509.h>
#include <sodium.h>
#include <string.h>


struct keystore_key *keystore_key_wrap(EVP_PKEY *pkey)
{
	struct keystore_key *k = sg_calloc(1, sizeof(*k));
	k->pkey = pkey;
	return k;
}

EVP_PKEY *keystore_key_pkey(const struct keystore_key *key)
{
	return key->pkey;
}

void keystore_key_free(struct keystore_key **keyp)
{
	if (*keyp == NULL)
		return;
	EVP_PKEY_free((*keyp)->pkey); /* OpenSSL clears private BIGNUMs on free */
	sg_free(keyp);
}

int keystore_key_is_rsa(const struct keystore_key *key)
{
	return EVP_PKEY_is_a(key->pkey, "RSA");
}

static const struct {
	const char *name;
	enum keystore_key_type type;
} key_types[] = {
	{"rsa3072", KEYSTORE_KEY_RSA3072},
	{"p256", KEYSTORE_KEY_P256},
	{"p384", KEYSTORE_KEY_P384},
};

int keystore_key_type_parse(const char *name, enum keystore_key_type *type_r)
{
	for (size_t i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++) {
		if (strcmp(key_types[i].name, name) == 0) {
			*type_r = key_types[i].type;
			return 0;
		}
	}
	return -1;
}

int keystore_key_generate(enum keystore_key_type type, struct keystore_key **key_r,
                          const char **error_r)
{
	EVP_PKEY *pkey = type == KEYSTORE_KEY_RSA3072 ? EVP_RSA_gen(3072)
	               : type == KEYSTORE_KEY_P256    ? EVP_EC_gen("P-256")
	                                              : EVP_EC_gen("P-384");
	if (pkey == NULL) {
		*error_r = "key generation failed (OpenSSL)";
		return -1;
	}
	*key_r = keystore_key_wrap(pkey);
	return 0;
}


int keystore_key_public_der(const struct keystore_key *key, unsigned char **der_r,
                            size_t *len_r)
{
	unsigned char *tmp = NULL;
	int n = i2d_PUBKEY(key->pkey, &tmp);
	if (n <= 0)
		return -1;
	*der_r = sg_memdup(tmp, (size_t)n);
	*len_r = (size_t)n;
	OPENSSL_free(tmp);
	return 0;
}

/* The key as PKCS#8 DER in a buffer the caller wipes and frees. */
static int key_to_der(EVP_PKEY *pkey, unsigned char **der_r, size_t *len_r)
{
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(pkey);
	if (p8 == NULL)
		return -1;
	unsigned char *tmp = NULL;
	int n = i2d_PKCS8_PRIV_KEY_INFO(p8, &tmp);
	PKCS8_PRIV_KEY_INFO_free(p8);
	if (n <= 0 || (size_t)n > SG_SEALED_KEY_MAX - 128) {
		OPENSSL_clear_free(tmp, n > 0 ? (size_t)n : 0);
		return -1;
	}
	*der_r = sg_memdup(tmp, (size_t)n);
	*len_r = (size_t)n;
	OPENSSL_clear_free(tmp, (size_t)n);
	return 0;
}

int keystore_seal(const struct keystore *ks, const struct keystore_key *key, const char *owner,
                  unsigned char **blob_r, size_t *blob_len_r, const char **error_r)
{
	unsigned char *der = NULL;
	size_t der_len = 0;
	if (key_to_der(key->pkey, &der, &der_len) < 0) {
		*error_r = "cannot serialise the private key";
		return -1;
	}
	int rc = keystore_seal_bytes(ks, der, der_len, owner, blob_r, blob_len_r, error_r);
	sg_free_secret(&der, der_len);
	return rc;
}

static int der_to_key(const unsigned char *der, size_t len, struct keystore_key **key_r)
{
	const unsigned char *p = der;
	PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
	EVP_PKEY *pkey = p8 != NULL && p == der + len ? EVP_PKCS82PKEY(p8) : NULL;
	PKCS8_PRIV_KEY_INFO_free(p8);
	if (pkey == NULL)
		return -1;
	*key_r = keystore_key_wrap(pkey);
	return 0;
}

int keystore_unseal(const struct keystore *ks, const unsigned char *blob, size_t blob_len,
                    const char *owner, struct keystore_key **key_r, const char **error_r)
{
	if (keystore_is_remote(ks) && keystore_remote()->unseal_key != NULL)
		return keystore_remote()->unseal_key(blob, blob_len, owner, key_r, error_r);
	unsigned char *der = NULL;
	size_t der_len = 0;
	if (keystore_unseal_bytes(ks, blob, blob_len, owner, &der, &der_len, error_r) < 0)
		return -1;
	int rc = der_to_key(der, der_len, key_r);
	sg_free_secret(&der, der_len);
	if (rc < 0)
		*error_r = "sealed key opened but holds no valid private key";
	return rc;
}

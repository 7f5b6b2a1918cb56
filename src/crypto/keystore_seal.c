/* keystore_seal.c: sealing at rest. A blob is "SGK1" ‖ 24-byte nonce ‖ XChaCha20-Poly1305 of
 * the secret under the master key, with "sealgate-key-v1:<owner>" as associated data: a blob
 * copied to another record (another owner) does not open. Private keys, OpenPGP secret keys
 * and SecurePDF records all go through here. */
#include "crypto/keystore.h"
#include "crypto/keystore_priv.h"
#include "crypto/keystore_remote.h"
#include "core/limits.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <sodium.h>
#include <string.h>

#define SEAL_MAGIC "SGK1"
#define SEAL_MAGIC_LEN 4
#define SEAL_HEADER (SEAL_MAGIC_LEN + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
#define SEAL_AD_PREFIX "sealgate-key-v1:"

static int make_ad(const char *owner, char *ad, size_t adsize, const char **error_r)
{
	if (owner == NULL || owner[0] == '\0' ||
	    sg_snprintf(ad, adsize, "%s%s", SEAL_AD_PREFIX, owner) < 0) {
		*error_r = "key owner identity missing or too long";
		return -1;
	}
	return 0;
}

unsigned char *keystore_aead_seal(const unsigned char *key, const char *magic, const char *ad,
                                  const void *data, size_t len, size_t *blob_len_r)
{
	size_t blen = sg_size_add(SEAL_HEADER + crypto_aead_xchacha20poly1305_ietf_ABYTES, len);
	unsigned char *blob = sg_malloc(blen);
	memcpy(blob, magic, SEAL_MAGIC_LEN);
	randombytes_buf(blob + SEAL_MAGIC_LEN, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	unsigned long long clen = 0;
	crypto_aead_xchacha20poly1305_ietf_encrypt(blob + SEAL_HEADER, &clen, data, len,
	                                           (const unsigned char *)ad, strlen(ad), NULL,
	                                           blob + SEAL_MAGIC_LEN, key);
	*blob_len_r = blen;
	return blob;
}

size_t keystore_aead_seal_in_place(const unsigned char *key, const char *magic, const char *ad,
                                   unsigned char *buf, size_t len)
{
	memcpy(buf, magic, SEAL_MAGIC_LEN);
	randombytes_buf(buf + SEAL_MAGIC_LEN, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	/* libsodium encrypts in place when c and m are the same address */
	crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
	    buf + SEAL_HEADER, buf + SEAL_HEADER + len, NULL, buf + SEAL_HEADER, len,
	    (const unsigned char *)ad, strlen(ad), NULL, buf + SEAL_MAGIC_LEN, key);
	return SEAL_HEADER + len + crypto_aead_xchacha20poly1305_ietf_ABYTES;
}

int keystore_aead_open(const unsigned char *key, const char *magic, const char *ad,
                       const unsigned char *blob, size_t blob_len, unsigned char **data_r,
                       size_t *len_r)
{
	if (blob_len < SEAL_HEADER + crypto_aead_xchacha20poly1305_ietf_ABYTES ||
	    memcmp(blob, magic, SEAL_MAGIC_LEN) != 0)
		return -1;
	size_t clen = blob_len - SEAL_HEADER;
	/* one byte more than the plaintext, so that an empty one still has a buffer of its own */
	size_t size = clen - crypto_aead_xchacha20poly1305_ietf_ABYTES + 1;
	unsigned char *out = sg_malloc(size);
	unsigned long long len = 0;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &len, NULL, blob + SEAL_HEADER, clen,
	                                               (const unsigned char *)ad, strlen(ad),
	                                               blob + SEAL_MAGIC_LEN, key) != 0) {
		sg_free_secret(&out, size);
		return -2;
	}
	*data_r = out;
	*len_r = (size_t)len;
	return 0;
}

int keystore_seal_bytes(const struct keystore *ks, const void *data, size_t len,
                        const char *owner, unsigned char **blob_r, size_t *blob_len_r,
                        const char **error_r)
{
	if (keystore_is_remote(ks))
		return keystore_remote()->seal_bytes(data, len, owner, blob_r, blob_len_r, error_r);
	char ad[512];
	if (make_ad(owner, ad, sizeof(ad), error_r) < 0)
		return -1;
	if (len > SG_SEALED_KEY_MAX - SEAL_HEADER - crypto_aead_xchacha20poly1305_ietf_ABYTES) {
		*error_r = "secret too large to seal";
		return -1;
	}
	*blob_r = keystore_aead_seal(keystore_master_bytes(ks), SEAL_MAGIC, ad, data, len,
	                             blob_len_r);
	return 0;
}

int keystore_unseal_bytes(const struct keystore *ks, const unsigned char *blob, size_t blob_len,
                          const char *owner, unsigned char **data_r, size_t *len_r,
                          const char **error_r)
{
	if (keystore_is_remote(ks))
		return keystore_remote()->unseal_bytes(blob, blob_len, owner, data_r, len_r, error_r);
	char ad[512];
	if (make_ad(owner, ad, sizeof(ad), error_r) < 0)
		return -1;
	int rc = blob_len > (size_t)SG_SEALED_KEY_MAX
	             ? -1
	             : keystore_aead_open(keystore_master_bytes(ks), SEAL_MAGIC, ad, blob, blob_len,
	                                  data_r, len_r);
	if (rc == -1)
		*error_r = "sealed record: not a sealgate blob";
	else if (rc < 0)
		*error_r = "sealed record does not open: wrong master key, or the blob was altered or "
		           "belongs to another record";
	return rc < 0 ? -1 : 0;
}

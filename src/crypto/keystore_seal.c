/* keystore_seal.c: sealing at rest. A blob is "SGK1" ‖ 24-byte nonce ‖ XChaCha20-Poly1305 of
 * the secret under the master key, with "sealgate-key-v1:<owner>" as associated data: a blob
 * copied to another record (another owner) does not open. Private keys, OpenPGP secret keys
 * and SecurePDF records all go through here. */
#include "crypto/keystore.h"
#include "crypto/keystore_priv.h"
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

int keystore_seal_bytes(const struct keystore *ks, const void *data, size_t len,
                        const char *owner, unsigned char **blob_r, size_t *blob_len_r,
                        const char **error_r)
{
	char ad[512];
	if (make_ad(owner, ad, sizeof(ad), error_r) < 0)
		return -1;
	size_t blen = SEAL_HEADER + len + crypto_aead_xchacha20poly1305_ietf_ABYTES;
	if (blen > SG_SEALED_KEY_MAX) {
		*error_r = "secret too large to seal";
		return -1;
	}
	unsigned char *blob = sg_malloc(blen);
	memcpy(blob, SEAL_MAGIC, SEAL_MAGIC_LEN);
	randombytes_buf(blob + SEAL_MAGIC_LEN, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	unsigned long long clen = 0;
	crypto_aead_xchacha20poly1305_ietf_encrypt(blob + SEAL_HEADER, &clen, data, len,
	                                           (const unsigned char *)ad, strlen(ad), NULL,
	                                           blob + SEAL_MAGIC_LEN, keystore_master_bytes(ks));
	*blob_r = blob;
	*blob_len_r = blen;
	return 0;
}

int keystore_unseal_bytes(const struct keystore *ks, const unsigned char *blob, size_t blob_len,
                          const char *owner, unsigned char **data_r, size_t *len_r,
                          const char **error_r)
{
	char ad[512];
	if (make_ad(owner, ad, sizeof(ad), error_r) < 0)
		return -1;
	if (blob_len < SEAL_HEADER + crypto_aead_xchacha20poly1305_ietf_ABYTES ||
	    blob_len > SG_SEALED_KEY_MAX || memcmp(blob, SEAL_MAGIC, SEAL_MAGIC_LEN) != 0) {
		*error_r = "sealed record: not a sealgate blob";
		return -1;
	}
	size_t clen = blob_len - SEAL_HEADER;
	unsigned char *out = sg_malloc(clen);
	unsigned long long len = 0;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &len, NULL, blob + SEAL_HEADER, clen,
	                                               (const unsigned char *)ad, strlen(ad),
	                                               blob + SEAL_MAGIC_LEN,
	                                               keystore_master_bytes(ks)) != 0) {
		sg_free_secret(&out, clen);
		*error_r = "sealed record does not open: wrong master key, or the blob was altered or "
		           "belongs to another record";
		return -1;
	}
	*data_r = out;
	*len_r = (size_t)len;
	return 0;
}

/* keystore_msgkey.c: per-message keys (keystore.h). The key is wiped on free; the master key
 * only ever wraps it. It lives in ordinary heap, like the unsealed bytes it is copied from:
 * sodium_malloc's guard pages cost three system calls per key, and an inbox page opens one
 * key per message shown (half of the page's time at 10,000 messages). */
#include "crypto/keystore.h"
#include "crypto/keystore_priv.h"
#include "core/sg_mem.h"

#include <sodium.h>
#include <string.h>

#define MSG_MAGIC "SGM1"
#define MSG_KEY crypto_aead_xchacha20poly1305_ietf_KEYBYTES

struct keystore_msgkey {
	unsigned char bytes[MSG_KEY];
};

static struct keystore_msgkey *key_alloc(void)
{
	return sg_calloc(1, sizeof(struct keystore_msgkey));
}

void keystore_msgkey_free(struct keystore_msgkey **key)
{
	if (*key == NULL)
		return;
	sodium_memzero((*key)->bytes, MSG_KEY);
	sg_free(key);
}

int keystore_msgkey_new(const struct keystore *ks, const char *owner,
                        struct keystore_msgkey **key_r, unsigned char **wrapped_r,
                        size_t *wrapped_len_r, const char **error_r)
{
	struct keystore_msgkey *k = key_alloc();
	if (k == NULL) {
		*error_r = "no memory for a message key";
		return -1;
	}
	crypto_aead_xchacha20poly1305_ietf_keygen(k->bytes);
	if (keystore_seal_bytes(ks, k->bytes, MSG_KEY, owner, wrapped_r, wrapped_len_r, error_r) < 0) {
		keystore_msgkey_free(&k);
		return -1;
	}
	*key_r = k;
	return 0;
}

int keystore_msgkey_open(const struct keystore *ks, const unsigned char *wrapped, size_t len,
                         const char *owner, struct keystore_msgkey **key_r, const char **error_r)
{
	unsigned char *raw = NULL;
	size_t rlen = 0;
	if (keystore_unseal_bytes(ks, wrapped, len, owner, &raw, &rlen, error_r) < 0)
		return -1;
	struct keystore_msgkey *k = rlen == MSG_KEY ? key_alloc() : NULL;
	if (k != NULL)
		memcpy(k->bytes, raw, MSG_KEY);
	sg_free_secret(&raw, rlen);
	if (k == NULL) {
		*error_r = "message key: wrong length";
		return -1;
	}
	*key_r = k;
	return 0;
}

static bool too_large(size_t len, const char **error_r)
{
	if (len <= (size_t)1 << 34)
		return false;
	*error_r = "message part too large to seal";
	return true;
}

int keystore_msgkey_seal(const struct keystore_msgkey *key, const char *ad, const void *data,
                         size_t len, unsigned char **blob_r, size_t *blob_len_r,
                         const char **error_r)
{
	if (too_large(len, error_r))
		return -1;
	*blob_r = keystore_aead_seal(key->bytes, MSG_MAGIC, ad, data, len, blob_len_r);
	return 0;
}

_Static_assert(KEYSTORE_MSGKEY_HEAD == 4 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES &&
                   KEYSTORE_MSGKEY_TAIL == crypto_aead_xchacha20poly1305_ietf_ABYTES,
               "the in-place room is the blob's header and tag");

int keystore_msgkey_seal_in_place(const struct keystore_msgkey *key, const char *ad,
                                  unsigned char *buf, size_t len, size_t *blob_len_r,
                                  const char **error_r)
{
	if (too_large(len, error_r))
		return -1;
	*blob_len_r = keystore_aead_seal_in_place(key->bytes, MSG_MAGIC, ad, buf, len);
	return 0;
}

int keystore_msgkey_unseal(const struct keystore_msgkey *key, const char *ad,
                           const unsigned char *blob, size_t blob_len, unsigned char **data_r,
                           size_t *len_r, const char **error_r)
{
	int rc = keystore_aead_open(key->bytes, MSG_MAGIC, ad, blob, blob_len, data_r, len_r);
	if (rc == -1)
		*error_r = "sealed message part: not a sealgate blob";
	else if (rc < 0)
		*error_r = "sealed message part does not open: altered, or moved from another message";
	return rc < 0 ? -1 : 0;
}

/* keystore_keyops.c: the key holder's side of keystore_proxy.h, with the real key. Inputs come
 * from a less trusted process and are checked: a digest must have its algorithm's length, a
 * ciphertext the modulus's, a point must lie on the key's curve; and a raw RSA decryption
 * (what OpenSSL asks for OAEP) is returned only when the block is a valid OAEP encoding, so a
 * client allowed to decrypt does not get a raw RSA signing oracle with it. */
#define OPENSSL_SUPPRESS_DEPRECATED /* RSA_padding_check_PKCS1_OAEP_mgf1: no EVP equivalent */
#include "crypto/keystore_priv.h"
#include "crypto/keystore_proxy.h"
#include "core/sg_mem.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <string.h>

/* The digests an RSA signature may be made over. */
static const EVP_MD *sign_md(const char *name)
{
	static const char *const allowed[] = {"SHA224", "SHA256", "SHA384", "SHA512"};
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (strcmp(name, allowed[i]) == 0)
			return EVP_get_digestbyname(name);
	return NULL;
}

static bool sign_input_ok(EVP_PKEY *pkey, const char *md_name, size_t dlen, const EVP_MD **md)
{
	if (EVP_PKEY_is_a(pkey, "EC"))
		return strcmp(md_name, KEYSTORE_SIGN_ECDSA) == 0 && dlen >= 20 && dlen <= 64;
	*md = EVP_PKEY_is_a(pkey, "RSA") ? sign_md(md_name) : NULL;
	return *md != NULL && (size_t)EVP_MD_get_size(*md) == dlen;
}

int keystore_key_sign_digest(const struct keystore_key *key, const char *md_name,
                             const unsigned char *dg, size_t dlen, unsigned char *sig,
                             size_t *sig_len, const char **error_r)
{
	EVP_PKEY *pkey = keystore_key_pkey(key);
	const EVP_MD *md = NULL;
	if (!sign_input_ok(pkey, md_name, dlen, &md)) {
		*error_r = "sign: digest algorithm or length not accepted for this key";
		return -1;
	}
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pkey, NULL);
	int ok = c != NULL && EVP_PKEY_sign_init(c) == 1 &&
	         (md == NULL || (EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) == 1 &&
	                         EVP_PKEY_CTX_set_signature_md(c, md) == 1)) &&
	         EVP_PKEY_sign(c, sig, sig_len, dg, dlen) == 1;
	EVP_PKEY_CTX_free(c);
	ERR_clear_error();
	if (!ok)
		*error_r = "sign: the signature failed";
	return ok ? 0 : -1;
}

/* True when block (a raw RSA decryption, as long as the modulus) is an OAEP encoding under one
 * of the digest pairs senders use, with an empty label. */
static bool is_oaep_block(const unsigned char *block, size_t n)
{
	const EVP_MD *mds[] = {EVP_sha1(), EVP_sha256(), EVP_sha384(), EVP_sha512()};
	unsigned char out[KEYSTORE_PROXY_OUT_MAX];
	bool ok = false;
	for (size_t i = 0; i < 4 && !ok; i++) {
		for (size_t j = 0; j < 2 && !ok; j++) {
			const EVP_MD *mgf = j == 0 ? mds[i] : EVP_sha1();
			ok = RSA_padding_check_PKCS1_OAEP_mgf1(out, (int)sizeof(out), block, (int)n, (int)n,
			                                       NULL, 0, mds[i], mgf) >= 0;
		}
	}
	sg_wipe(out, sizeof(out));
	ERR_clear_error();
	return ok;
}

int keystore_key_decrypt(const struct keystore_key *key, const char *padding,
                         const unsigned char *in, size_t len, unsigned char *out,
                         size_t *out_len, const char **error_r)
{
	EVP_PKEY *pkey = keystore_key_pkey(key);
	bool raw = strcmp(padding, KEYSTORE_PAD_OAEP_RAW) == 0;
	if (!EVP_PKEY_is_a(pkey, "RSA") || len != (size_t)EVP_PKEY_get_size(pkey) ||
	    (!raw && strcmp(padding, KEYSTORE_PAD_PKCS1) != 0)) {
		*error_r = "decrypt: not an RSA key, or a ciphertext or padding it does not take";
		return -1;
	}
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pkey, NULL);
	int ok = c != NULL && EVP_PKEY_decrypt_init(c) == 1 &&
	         EVP_PKEY_CTX_set_rsa_padding(c, raw ? RSA_NO_PADDING : RSA_PKCS1_PADDING) == 1 &&
	         EVP_PKEY_decrypt(c, out, out_len, in, len) == 1;
	EVP_PKEY_CTX_free(c);
	ERR_clear_error();
	if (ok && raw && (*out_len != len || !is_oaep_block(out, *out_len))) {
		sg_wipe(out, *out_len);
		ok = 0;
	}
	if (!ok)
		*error_r = "decrypt: the ciphertext does not decrypt with this key";
	return ok ? 0 : -1;
}

/* The peer's public key: point on pkey's curve (checked by OpenSSL's import). */
static EVP_PKEY *peer_on_curve(EVP_PKEY *pkey, const unsigned char *point, size_t plen)
{
	char group[64];
	if (!EVP_PKEY_is_a(pkey, "EC") ||
	    EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
	                                   NULL) != 1)
		return NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
		OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)point, plen),
		OSSL_PARAM_construct_end(),
	};
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *peer = NULL;
	if (c == NULL || EVP_PKEY_fromdata_init(c) != 1 ||
	    EVP_PKEY_fromdata(c, &peer, EVP_PKEY_PUBLIC_KEY, params) != 1)
		peer = NULL;
	EVP_PKEY_CTX_free(c);
	return peer;
}

int keystore_key_derive(const struct keystore_key *key, const unsigned char *point, size_t len,
                        unsigned char *out, size_t *out_len, const char **error_r)
{
	EVP_PKEY *pkey = keystore_key_pkey(key);
	EVP_PKEY *peer = peer_on_curve(pkey, point, len);
	EVP_PKEY_CTX *c = peer != NULL ? EVP_PKEY_CTX_new(pkey, NULL) : NULL;
	int ok = c != NULL && EVP_PKEY_derive_init(c) == 1 && EVP_PKEY_derive_set_peer(c, peer) == 1 &&
	         EVP_PKEY_derive(c, out, out_len) == 1;
	EVP_PKEY_CTX_free(c);
	EVP_PKEY_free(peer);
	ERR_clear_error();
	if (!ok)
		*error_r = "derive: not an EC key, or the point is not on its curve";
	return ok ? 0 : -1;
}

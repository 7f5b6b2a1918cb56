/* keystore_serve.c: the key holder's side of keystore_proxy.h. Every request is parsed in full
 * before anything is done; a digest must have its algorithm's length, and a raw RSA decryption
 * (what OpenSSL asks for OAEP) is returned only when the block is a valid OAEP encoding, so a
 * client allowed to decrypt does not get a raw RSA signing oracle with it. */
#define OPENSSL_SUPPRESS_DEPRECATED /* RSA_padding_check_PKCS1_OAEP_mgf1: no EVP equivalent */
#include "crypto/keystore_handles.h"
#include "crypto/keystore_priv.h"
#include "crypto/keystore_proxy.h"
#include "crypto/keystore_wire.h"
#include "core/sg_mem.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <string.h>

#define OWNER_MAX 255

static int reply_status(struct sg_buf *reply, enum keystore_reply_status st)
{
	unsigned char b = (unsigned char)st;
	return sg_buf_append(reply, &b, 1);
}

static int reply_pkey(struct sg_buf *reply, uint64_t id, EVP_PKEY *pkey)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(pkey, &der);
	int rc = n > 0 && reply_status(reply, KEYSTORE_REPLY_OK) == 0 && kw_put_u64(reply, id) == 0 &&
	                 kw_put_bytes(reply, der, (size_t)n) == 0
	             ? 0
	             : -1;
	OPENSSL_free(der);
	return rc;
}

static void blob_tag(const unsigned char *owner, size_t olen, const unsigned char *blob,
                     size_t blen, unsigned char tag[KEYSTORE_TAG_BYTES])
{
	crypto_hash_sha256_state st;
	unsigned char sep = 0;
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, owner, olen);
	crypto_hash_sha256_update(&st, &sep, 1);
	crypto_hash_sha256_update(&st, blob, blen);
	crypto_hash_sha256_final(&st, tag);
}

static EVP_PKEY *open_blob(const struct keystore *ks, const unsigned char *owner, size_t olen,
                           const unsigned char *blob, size_t blen, const char **error_r)
{
	char z[OWNER_MAX + 1];
	memcpy(z, owner, olen);
	z[olen] = '\0';
	struct keystore_key *key = NULL;
	if (keystore_unseal(ks, blob, blen, z, &key, error_r) < 0)
		return NULL;
	EVP_PKEY *pkey = keystore_key_pkey(key);
	EVP_PKEY_up_ref(pkey);
	keystore_key_free(&key);
	if (!EVP_PKEY_is_a(pkey, "RSA") && !EVP_PKEY_is_a(pkey, "EC")) {
		EVP_PKEY_free(pkey);
		*error_r = "sealed key is neither RSA nor EC";
		return NULL;
	}
	return pkey;
}

static int serve_load(const struct keystore *ks, struct kw_reader *r, struct sg_buf *reply,
                      const char **error_r)
{
	size_t olen = 0, blen = 0;
	const unsigned char *owner = kw_get_bytes(r, &olen);
	const unsigned char *blob = kw_get_bytes(r, &blen);
	if (!kw_done(r) || olen == 0 || olen > OWNER_MAX || memchr(owner, 0, olen) != NULL) {
		*error_r = "key load: malformed request";
		return -1;
	}
	unsigned char tag[KEYSTORE_TAG_BYTES];
	blob_tag(owner, olen, blob, blen, tag);
	uint64_t id = 0;
	EVP_PKEY *pkey = keystore_handles_find_tag(tag, &id);
	if (pkey == NULL) {
		pkey = open_blob(ks, owner, olen, blob, blen, error_r);
		if (pkey == NULL)
			return -1;
		EVP_PKEY_up_ref(pkey);
		id = keystore_handles_add(tag, pkey);
	}
	int rc = reply_pkey(reply, id, pkey);
	EVP_PKEY_free(pkey);
	return rc;
}

/* The digests a signature may be made over; their length is checked against the request. */
static const EVP_MD *sign_md(uint32_t nid)
{
	return nid == NID_sha256 || nid == NID_sha384 || nid == NID_sha512 || nid == NID_sha224
	           ? EVP_get_digestbynid((int)nid)
	           : NULL;
}

static int sign_digest(EVP_PKEY *pkey, uint32_t nid, const unsigned char *dg, size_t dlen,
                       unsigned char *sig, size_t *slen)
{
	const EVP_MD *md = sign_md(nid);
	bool rsa = EVP_PKEY_is_a(pkey, "RSA");
	if (rsa ? md == NULL || (size_t)EVP_MD_get_size(md) != dlen : dlen < 20 || dlen > 64)
		return -1;
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pkey, NULL);
	int ok = c != NULL && EVP_PKEY_sign_init(c) == 1 &&
	         (!rsa || (EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) == 1 &&
	                   EVP_PKEY_CTX_set_signature_md(c, md) == 1)) &&
	         EVP_PKEY_sign(c, sig, slen, dg, dlen) == 1;
	EVP_PKEY_CTX_free(c);
	return ok ? 0 : -1;
}

static int serve_sign(struct kw_reader *r, struct sg_buf *reply, const char **error_r)
{
	uint64_t id = kw_get_u64(r);
	uint32_t nid = kw_get_u32(r);
	size_t dlen = 0;
	const unsigned char *dg = kw_get_bytes(r, &dlen);
	if (!kw_done(r)) {
		*error_r = "key sign: malformed request";
		return -1;
	}
	EVP_PKEY *pkey = keystore_handles_get(id);
	if (pkey == NULL)
		return reply_status(reply, KEYSTORE_REPLY_UNKNOWN_HANDLE);
	unsigned char sig[1200];
	size_t slen = sizeof(sig);
	int rc = sign_digest(pkey, nid, dg, dlen, sig, &slen);
	EVP_PKEY_free(pkey);
	if (rc < 0 || reply_status(reply, KEYSTORE_REPLY_OK) < 0 || kw_put_bytes(reply, sig, slen) < 0) {
		*error_r = "key sign: refused (digest algorithm or length) or failed";
		return -1;
	}
	return 0;
}

/* True when block (a raw RSA decryption, as long as the modulus) is an OAEP encoding under one
 * of the digest pairs senders use, with an empty label. */
static bool is_oaep_block(const unsigned char *block, int n)
{
	const EVP_MD *mds[] = {EVP_sha1(), EVP_sha256(), EVP_sha384(), EVP_sha512()};
	unsigned char out[1024];
	bool ok = false;
	for (size_t i = 0; i < 4 && !ok; i++) {
		for (size_t j = 0; j < 2 && !ok; j++) {
			const EVP_MD *mgf = j == 0 ? mds[i] : EVP_sha1();
			ok = RSA_padding_check_PKCS1_OAEP_mgf1(out, (int)sizeof(out), block, n, n, NULL, 0,
			                                       mds[i], mgf) >= 0;
		}
	}
	sg_wipe(out, sizeof(out));
	ERR_clear_error();
	return ok;
}

static int rsa_decrypt(EVP_PKEY *pkey, uint32_t padding, const unsigned char *ct, size_t clen,
                       unsigned char *out, size_t *olen)
{
	if (!EVP_PKEY_is_a(pkey, "RSA") || clen != (size_t)EVP_PKEY_get_size(pkey) ||
	    (padding != RSA_PKCS1_PADDING && padding != RSA_NO_PADDING))
		return -1;
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pkey, NULL);
	int ok = c != NULL && EVP_PKEY_decrypt_init(c) == 1 &&
	         EVP_PKEY_CTX_set_rsa_padding(c, (int)padding) == 1 &&
	         EVP_PKEY_decrypt(c, out, olen, ct, clen) == 1;
	EVP_PKEY_CTX_free(c);
	if (ok && padding == RSA_NO_PADDING)
		ok = *olen == clen && is_oaep_block(out, (int)*olen);
	return ok ? 0 : -1;
}

static int serve_decrypt(struct kw_reader *r, struct sg_buf *reply, const char **error_r)
{
	uint64_t id = kw_get_u64(r);
	uint32_t padding = kw_get_u32(r);
	size_t clen = 0;
	const unsigned char *ct = kw_get_bytes(r, &clen);
	if (!kw_done(r) || clen > 1024) {
		*error_r = "key decrypt: malformed request";
		return -1;
	}
	EVP_PKEY *pkey = keystore_handles_get(id);
	if (pkey == NULL)
		return reply_status(reply, KEYSTORE_REPLY_UNKNOWN_HANDLE);
	unsigned char out[1024];
	size_t olen = sizeof(out);
	int rc = rsa_decrypt(pkey, padding, ct, clen, out, &olen);
	EVP_PKEY_free(pkey);
	if (rc == 0)
		rc = reply_status(reply, KEYSTORE_REPLY_OK) == 0 && kw_put_bytes(reply, out, olen) == 0
		         ? 0
		         : -1;
	sg_wipe(out, sizeof(out));
	if (rc < 0)
		*error_r = "key decrypt: refused or failed";
	return rc;
}

/* The peer's public key: point on pkey's curve. */
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

static int ec_derive(EVP_PKEY *pkey, const unsigned char *point, size_t plen,
                     unsigned char *out, size_t *olen)
{
	EVP_PKEY *peer = peer_on_curve(pkey, point, plen);
	EVP_PKEY_CTX *c = peer != NULL ? EVP_PKEY_CTX_new(pkey, NULL) : NULL;
	int ok = c != NULL && EVP_PKEY_derive_init(c) == 1 && EVP_PKEY_derive_set_peer(c, peer) == 1 &&
	         EVP_PKEY_derive(c, out, olen) == 1;
	EVP_PKEY_CTX_free(c);
	EVP_PKEY_free(peer);
	return ok ? 0 : -1;
}

static int serve_derive(struct kw_reader *r, struct sg_buf *reply, const char **error_r)
{
	uint64_t id = kw_get_u64(r);
	size_t plen = 0;
	const unsigned char *point = kw_get_bytes(r, &plen);
	if (!kw_done(r) || plen > 256) {
		*error_r = "key derive: malformed request";
		return -1;
	}
	EVP_PKEY *pkey = keystore_handles_get(id);
	if (pkey == NULL)
		return reply_status(reply, KEYSTORE_REPLY_UNKNOWN_HANDLE);
	unsigned char out[256];
	size_t olen = sizeof(out);
	int rc = ec_derive(pkey, point, plen, out, &olen);
	EVP_PKEY_free(pkey);
	if (rc == 0)
		rc = reply_status(reply, KEYSTORE_REPLY_OK) == 0 && kw_put_bytes(reply, out, olen) == 0
		         ? 0
		         : -1;
	sg_wipe(out, sizeof(out));
	if (rc < 0)
		*error_r = "key derive: refused or failed";
	return rc;
}

int keystore_serve(const struct keystore *ks, enum keystore_op op, const unsigned char *req,
                   size_t len, struct sg_buf *reply, const char **error_r)
{
	struct kw_reader r;
	kw_reader_init(&r, req, len);
	switch (op) {
	case KEYSTORE_OP_KEY_LOAD:
		return serve_load(ks, &r, reply, error_r);
	case KEYSTORE_OP_KEY_SIGN:
		return serve_sign(&r, reply, error_r);
	case KEYSTORE_OP_KEY_DECRYPT:
		return serve_decrypt(&r, reply, error_r);
	case KEYSTORE_OP_KEY_DERIVE:
		return serve_derive(&r, reply, error_r);
	}
	*error_r = "unknown key operation";
	return -1;
}

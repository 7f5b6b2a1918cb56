/* pgp_seipd.c: the OpenPGP encryption layer for RSA recipients, written here: one PKESK v3 per
 * recipient (RSA with OpenSSL) and SEIPD v1 (AES-256 CFB, SHA-1 MDC), armoured. RNP 0.16 on
 * Botan 2 rebuilds an RSA key's Montgomery parameters on every encryption (a constant-time
 * division, ~0.8 ms for RSA-3072, more than the rest of a 100 KB message); OpenSSL keeps them
 * with the key, which stays cached with the thread's pgp_ctx. The packets are those RNP writes
 * with pgp_out.c's options (RFC 4880 as GnuPG 2.2 reads it: no compression, no AEAD); the
 * signed packets of a signed message are still RNP's. A recipient whose encryption key is not
 * RSA makes the caller use RNP for the whole message. */
#include "crypto/pgp_priv.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define SEIPD_SLOTS      16
#define SEIPD_HEX_MAX    4096 /* a 16384-bit modulus */
#define SEIPD_AES256     9    /* RFC 4880 9.2 */
#define SEIPD_KEY_LEN    32
#define SEIPD_BLOCK      16
#define SEIPD_MDC_LEN    22   /* 0xD3 0x14 and the SHA-1 */
#define SEIPD_PKESK_HEAD 12   /* version, key id, algorithm, MPI length */
#define ARMOR_HEAD       "-----BEGIN PGP MESSAGE-----\r\n\r\n"
#define ARMOR_TAIL       "-----END PGP MESSAGE-----\r\n"

struct seipd_rcpt {
	char fpr[PGP_FPR_MAX];   /* the primary key, as the caller names it */
	bool rsa;                /* false: RNP encrypts for this recipient */
	unsigned char keyid[8];  /* of the encryption subkey */
	uint64_t valid_till;     /* UINT64_MAX: no expiry */
	EVP_PKEY *pkey;
};

/* Keyed by primary fingerprint: it lives with its pgp_ctx, which the mail path starts afresh
 * when the store changed (transform_pgp.c), so a re-imported key's new subkey is not missed. */
struct pgp_seipd_cache {
	struct seipd_rcpt r[SEIPD_SLOTS];
	size_t next;
};

void pgp_seipd_cache_free(struct pgp_seipd_cache **c)
{
	if (*c == NULL)
		return;
	for (size_t i = 0; i < SEIPD_SLOTS; i++)
		EVP_PKEY_free((*c)->r[i].pkey);
	sg_free(c);
}

/* ---- recipients ---- */

/* The hex string of "name":"..." inside the "mpis" object of RNP's key JSON, as a BIGNUM. */
static BIGNUM *json_mpi(const char *json, const char *name)
{
	const char *mpis = strstr(json, "\"mpis\":{");
	char key[16];
	if (mpis == NULL || snprintf(key, sizeof(key), "\"%s\":\"", name) >= (int)sizeof(key))
		return NULL;
	const char *p = strstr(mpis, key);
	if (p == NULL)
		return NULL;
	p += strlen(key);
	size_t n = strspn(p, "0123456789abcdefABCDEF");
	if (n == 0 || n > SEIPD_HEX_MAX || p[n] != '"')
		return NULL;
	char hex[SEIPD_HEX_MAX + 1];
	memcpy(hex, p, n);
	hex[n] = '\0';
	BIGNUM *bn = NULL;
	if (BN_hex2bn(&bn, hex) != (int)n) {
		BN_free(bn);
		return NULL;
	}
	return bn;
}

static EVP_PKEY *rsa_pkey(rnp_key_handle_t key)
{
	char *json = NULL;
	if (rnp_key_to_json(key, RNP_JSON_PUBLIC_MPIS, &json) != RNP_SUCCESS)
		return NULL;
	BIGNUM *n = json_mpi(json, "n"), *e = json_mpi(json, "e");
	rnp_buffer_destroy(json);
	EVP_PKEY *pkey = NULL;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (n != NULL && e != NULL && bld != NULL && pc != NULL && BN_num_bits(n) >= 2048 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) &&
	    (params = OSSL_PARAM_BLD_to_param(bld)) != NULL && EVP_PKEY_fromdata_init(pc) == 1 &&
	    EVP_PKEY_fromdata(pc, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(pc);
	BN_free(n);
	BN_free(e);
	return pkey;
}

static bool key_bool(rnp_result_t (*fn)(rnp_key_handle_t, bool *), rnp_key_handle_t key)
{
	bool v = false;
	return fn(key, &v) == RNP_SUCCESS && v;
}

static bool can_encrypt(rnp_key_handle_t key)
{
	bool v = false;
	return rnp_key_allows_usage(key, "encrypt", &v) == RNP_SUCCESS && v &&
	       key_bool(rnp_key_is_valid, key) && !key_bool(rnp_key_is_revoked, key);
}

static bool can_encrypt_fit(rnp_key_handle_t key, const void *arg)
{
	(void)arg;
	return can_encrypt(key);
}

/* The newest valid encryption subkey of primary (as RNP and GnuPG choose), or NULL. */
static rnp_key_handle_t newest_subkey(rnp_key_handle_t primary)
{
	return pgp_priv_newest_subkey(primary, can_encrypt_fit, NULL);
}

static int hex_keyid(const char *hex, unsigned char out[8])
{
	if (hex == NULL || strlen(hex) != 16)
		return -1;
	for (size_t i = 0; i < 8; i++) {
		unsigned v = 0;
		for (size_t k = 0; k < 2; k++) {
			char c = hex[2 * i + k];
			unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
			             : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
			             : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 16u;
			if (d > 15)
				return -1;
			v = v * 16 + d;
		}
		out[i] = (unsigned char)v;
	}
	return 0;
}

/* Fills r for the primary key fpr in ffi: rsa stays false when its encryption key is not an
 * RSA subkey (then RNP does the work, as before). */
static void resolve(rnp_ffi_t ffi, const char *fpr, struct seipd_rcpt *r)
{
	rnp_key_handle_t primary = pgp_priv_locate(ffi, fpr);
	rnp_key_handle_t sub = primary != NULL ? newest_subkey(primary) : NULL;
	char *alg = NULL, *keyid = NULL;
	uint64_t till = 0;
	if (sub != NULL && rnp_key_get_alg(sub, &alg) == RNP_SUCCESS && strcmp(alg, "RSA") == 0 &&
	    rnp_key_get_keyid(sub, &keyid) == RNP_SUCCESS && hex_keyid(keyid, r->keyid) == 0 &&
	    rnp_key_valid_till64(sub, &till) == RNP_SUCCESS && till > 0 &&
	    (r->pkey = rsa_pkey(sub)) != NULL) {
		r->rsa = true;
		r->valid_till = till;
	}
	rnp_buffer_destroy(alg);
	rnp_buffer_destroy(keyid);
	rnp_key_handle_destroy(sub);
	rnp_key_handle_destroy(primary);
}

static struct seipd_rcpt *recipient(struct pgp_ctx *ctx, const char *fpr)
{
	if (ctx->seipd == NULL)
		ctx->seipd = sg_calloc(1, sizeof(*ctx->seipd));
	struct pgp_seipd_cache *c = ctx->seipd;
	for (size_t i = 0; i < SEIPD_SLOTS; i++)
		if (c->r[i].fpr[0] != '\0' && strcasecmp(c->r[i].fpr, fpr) == 0)
			return &c->r[i];
	if (strlen(fpr) >= PGP_FPR_MAX)
		return NULL;
	struct seipd_rcpt *r = &c->r[c->next++ % SEIPD_SLOTS];
	EVP_PKEY_free(r->pkey);
	memset(r, 0, sizeof(*r));
	memcpy(r->fpr, fpr, strlen(fpr) + 1);
	resolve(ctx->ffi, fpr, r);
	return r;
}

bool pgp_seipd_usable(struct pgp_ctx *ctx, const char *const *fprs, size_t n)
{
	uint64_t now = (uint64_t)time(NULL);
	for (size_t i = 0; i < n; i++) {
		const struct seipd_rcpt *r = recipient(ctx, fprs[i]);
		if (r == NULL || !r->rsa || r->valid_till <= now)
			return false;
	}
	return n > 0;
}

/* ---- packets ---- */

/* A new-format packet header (RFC 4880 4.2.2): returns its length. */
static size_t packet_head(unsigned char *p, unsigned tag, size_t len)
{
	p[0] = (unsigned char)(0xC0 | tag);
	if (len < 192) {
		p[1] = (unsigned char)len;
		return 2;
	}
	if (len < 8384) {
		p[1] = (unsigned char)(((len - 192) >> 8) + 192);
		p[2] = (unsigned char)((len - 192) & 0xFF);
		return 3;
	}
	p[1] = 0xFF;
	for (int i = 0; i < 4; i++)
		p[2 + i] = (unsigned char)(len >> (24 - 8 * i));
	return 6;
}

/* PKESK v3 for r at p (room: 6 + SEIPD_PKESK_HEAD + modulus bytes); returns its length or 0. */
static size_t pkesk(const struct seipd_rcpt *r, const unsigned char *key, unsigned char *p)
{
	unsigned char m[1 + SEIPD_KEY_LEN + 2];
	unsigned sum = 0;
	m[0] = SEIPD_AES256;
	memcpy(m + 1, key, SEIPD_KEY_LEN);
	for (size_t i = 0; i < SEIPD_KEY_LEN; i++)
		sum += key[i];
	m[1 + SEIPD_KEY_LEN] = (unsigned char)(sum >> 8);
	m[2 + SEIPD_KEY_LEN] = (unsigned char)sum;
	unsigned char c[SEIPD_HEX_MAX / 2];
	size_t clen = sizeof(c);
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, r->pkey, NULL);
	int ok = pc != NULL && EVP_PKEY_encrypt_init(pc) == 1 &&
	         EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) == 1 &&
	         EVP_PKEY_encrypt(pc, c, &clen, m, sizeof(m)) == 1;
	EVP_PKEY_CTX_free(pc);
	OPENSSL_cleanse(m, sizeof(m));
	if (!ok)
		return 0;
	size_t skip = 0; /* an MPI has no leading zero octets */
	while (skip < clen && c[skip] == 0)
		skip++;
	if (skip == clen)
		return 0;
	unsigned bits = (unsigned)(clen - skip - 1) * 8;
	for (unsigned top = c[skip]; top != 0; top >>= 1)
		bits++;
	size_t body = SEIPD_PKESK_HEAD + (clen - skip);
	size_t h = packet_head(p, 1, body);
	p[h] = 3;
	memcpy(p + h + 1, r->keyid, 8);
	p[h + 9] = 1; /* RSA */
	p[h + 10] = (unsigned char)(bits >> 8);
	p[h + 11] = (unsigned char)bits;
	memcpy(p + h + SEIPD_PKESK_HEAD, c + skip, clen - skip);
	return h + body;
}

/* The literal data packet's header for len bytes of binary data (RFC 4880 5.9). */
static size_t literal_head(unsigned char *p, size_t len)
{
	unsigned char body[6] = {'b', 0, 0, 0, 0, 0};
	uint32_t t = (uint32_t)time(NULL);
	for (int i = 0; i < 4; i++)
		body[2 + i] = (unsigned char)(t >> (24 - 8 * i));
	size_t h = packet_head(p, 11, sizeof(body) + len);
	memcpy(p + h, body, sizeof(body));
	return h + sizeof(body);
}

struct seipd_writer {
	EVP_CIPHER_CTX *cipher;
	EVP_MD_CTX *mdc;
	unsigned char *out;
	size_t o;
};

static int seipd_put(struct seipd_writer *w, const unsigned char *p, size_t len)
{
	while (len > 0) {
		int chunk = len > (1u << 30) ? 1 << 30 : (int)len, outl = 0;
		if (EVP_DigestUpdate(w->mdc, p, (size_t)chunk) != 1 ||
		    EVP_EncryptUpdate(w->cipher, w->out + w->o, &outl, p, chunk) != 1)
			return -1;
		w->o += (size_t)outl;
		p += chunk;
		len -= (size_t)chunk;
	}
	return 0;
}

/* The SEIPD packet over the inner packets (literal header + data, or what RNP signed). */
static int seipd(const unsigned char *key, const unsigned char *head, size_t head_len,
                 const unsigned char *data, size_t len, unsigned char *out, size_t *o)
{
	unsigned char iv[SEIPD_BLOCK] = {0}, prefix[SEIPD_BLOCK + 2], mdc[SEIPD_MDC_LEN];
	size_t body = 1 + sizeof(prefix) + head_len + len + SEIPD_MDC_LEN;
	*o += packet_head(out + *o, 18, body);
	out[(*o)++] = 1;
	struct seipd_writer w = {EVP_CIPHER_CTX_new(), EVP_MD_CTX_new(), out, *o};
	unsigned int mdlen = 0;
	int outl = 0, rc = -1;
	if (RAND_bytes(prefix, SEIPD_BLOCK) != 1)
		goto done;
	prefix[SEIPD_BLOCK] = prefix[SEIPD_BLOCK - 2];
	prefix[SEIPD_BLOCK + 1] = prefix[SEIPD_BLOCK - 1];
	mdc[0] = 0xD3;
	mdc[1] = 0x14;
	if (w.cipher == NULL || w.mdc == NULL ||
	    EVP_EncryptInit_ex(w.cipher, EVP_aes_256_cfb128(), NULL, key, iv) != 1 ||
	    EVP_DigestInit_ex(w.mdc, EVP_sha1(), NULL) != 1 ||
	    seipd_put(&w, prefix, sizeof(prefix)) < 0 || seipd_put(&w, head, head_len) < 0 ||
	    seipd_put(&w, data, len) < 0 || EVP_DigestUpdate(w.mdc, mdc, 2) != 1 ||
	    EVP_DigestFinal_ex(w.mdc, mdc + 2, &mdlen) != 1 || mdlen != 20 ||
	    EVP_EncryptUpdate(w.cipher, out + w.o, &outl, mdc, SEIPD_MDC_LEN) != 1)
		goto done;
	w.o += (size_t)outl;
	if (EVP_EncryptFinal_ex(w.cipher, out + w.o, &outl) != 1)
		goto done;
	w.o += (size_t)outl;
	*o = w.o;
	rc = 0;
done:
	EVP_CIPHER_CTX_free(w.cipher);
	EVP_MD_CTX_free(w.mdc);
	return rc;
}

/* ---- armour (RFC 4880 6.2) ---- */

/* CRC-24 (RFC 4880 6.1) four bytes at a time: the state is kept shifted into the top 24 bits
 * of a 32-bit word, so that the usual table-per-byte-position method applies. */
static uint32_t crc24_tab[4][256];
static pthread_once_t crc24_once = PTHREAD_ONCE_INIT;

static void crc24_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i << 24;
		for (int k = 0; k < 8; k++)
			c = (c & 0x80000000u) != 0 ? (c << 1) ^ 0x864CFB00u : c << 1;
		crc24_tab[0][i] = c;
	}
	for (int t = 1; t < 4; t++)
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = crc24_tab[t - 1][i];
			crc24_tab[t][i] = (c << 8) ^ crc24_tab[0][c >> 24];
		}
}

static uint32_t crc24(const unsigned char *p, size_t len)
{
	pthread_once(&crc24_once, crc24_init);
	uint32_t s = 0xB704CEu << 8;
	size_t i = 0;
	for (; i + 4 <= len; i += 4) {
		s ^= (uint32_t)p[i] << 24 | (uint32_t)p[i + 1] << 16 | (uint32_t)p[i + 2] << 8 | p[i + 3];
		s = crc24_tab[3][s >> 24] ^ crc24_tab[2][(s >> 16) & 0xFF] ^
		    crc24_tab[1][(s >> 8) & 0xFF] ^ crc24_tab[0][s & 0xFF];
	}
	for (; i < len; i++)
		s = (s << 8) ^ crc24_tab[0][(s >> 24) ^ p[i]];
	return s >> 8;
}

size_t pgp_seipd_armor_max(size_t len)
{
	return sg_size_add(sg_size_mul((len + 47) / 48, 66), sizeof(ARMOR_HEAD) + sizeof(ARMOR_TAIL) + 8);
}

size_t pgp_seipd_armor(const unsigned char *bin, size_t len, char *out)
{
	size_t o = sizeof(ARMOR_HEAD) - 1;
	memcpy(out, ARMOR_HEAD, o);
	for (size_t i = 0; i < len; i += 48) {
		int chunk = len - i < 48 ? (int)(len - i) : 48;
		o += (size_t)EVP_EncodeBlock((unsigned char *)out + o, bin + i, chunk);
		out[o++] = '\r';
		out[o++] = '\n';
	}
	uint32_t crc = crc24(bin, len);
	unsigned char c[3] = {(unsigned char)(crc >> 16), (unsigned char)(crc >> 8),
	                      (unsigned char)crc};
	out[o++] = '=';
	o += (size_t)EVP_EncodeBlock((unsigned char *)out + o, c, 3);
	out[o++] = '\r';
	out[o++] = '\n';
	memcpy(out + o, ARMOR_TAIL, sizeof(ARMOR_TAIL) - 1);
	return o + sizeof(ARMOR_TAIL) - 1;
}

/* ---- the message ---- */

/* RNP's signed packets for data (one-pass signature, literal data, signature), uncompressed:
 * what it would otherwise have put inside its own encryption. */
static int sign_packets(struct pgp_ctx *ctx, const char *signer, const char *data, size_t len,
                        rnp_output_t *out_r)
{
	rnp_input_t in = NULL;
	rnp_output_t out = NULL;
	rnp_op_sign_t op = NULL;
	rnp_key_handle_t key = pgp_priv_signing_key(ctx->ffi, signer);
	int rc = -1;
	if (key != NULL && rnp_input_from_memory(&in, (const uint8_t *)data, len, false) == RNP_SUCCESS &&
	    rnp_output_to_memory(&out, 0) == RNP_SUCCESS &&
	    rnp_op_sign_create(&op, ctx->ffi, in, out) == RNP_SUCCESS &&
	    rnp_op_sign_add_signature(op, key, NULL) == RNP_SUCCESS &&
	    rnp_op_sign_set_armor(op, false) == RNP_SUCCESS &&
	    rnp_op_sign_set_hash(op, "SHA256") == RNP_SUCCESS &&
	    rnp_op_sign_set_compression(op, "Uncompressed", 0) == RNP_SUCCESS &&
	    rnp_op_sign_execute(op) == RNP_SUCCESS) {
		*out_r = out;
		out = NULL;
		rc = 0;
	}
	rnp_op_sign_destroy(op);
	rnp_input_destroy(in);
	if (out != NULL) {
		uint8_t *buf = NULL;
		size_t blen = 0;
		if (rnp_output_memory_get_buf(out, &buf, &blen, false) == RNP_SUCCESS && buf != NULL)
			sg_wipe(buf, blen);
		rnp_output_destroy(out);
	}
	rnp_key_handle_destroy(key);
	return rc;
}

static int seal(struct pgp_ctx *ctx, const char *const *fprs, size_t n, const unsigned char *head,
                size_t head_len, const unsigned char *data, size_t len, unsigned char **bin_r,
                size_t *bin_len_r)
{
	unsigned char key[SEIPD_KEY_LEN];
	size_t cap = sg_size_add(sg_size_mul(n, 6 + SEIPD_PKESK_HEAD + SEIPD_HEX_MAX / 2),
	                         sg_size_add(sg_size_add(len, head_len), 64));
	unsigned char *bin = sg_malloc(cap);
	size_t o = 0;
	int rc = RAND_bytes(key, sizeof(key)) == 1 ? 0 : -1;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const struct seipd_rcpt *r = recipient(ctx, fprs[i]);
		size_t w = r != NULL && r->rsa ? pkesk(r, key, bin + o) : 0;
		rc = w > 0 ? 0 : -1;
		o += w;
	}
	if (rc == 0)
		rc = seipd(key, head, head_len, data, len, bin, &o);
	OPENSSL_cleanse(key, sizeof(key));
	if (rc < 0)
		sg_free(&bin);
	*bin_r = bin;
	*bin_len_r = o;
	return rc;
}

int pgp_seipd_encrypt(struct pgp_ctx *ctx, const char *const *fprs, size_t n, const char *signer,
                      const char *data, size_t len, unsigned char **bin_r, size_t *bin_len_r,
                      const char **error_r)
{
	int rc;
	*error_r = "OpenPGP: encryption failed";
	if (signer == NULL) {
		unsigned char head[16];
		size_t hl = literal_head(head, len);
		rc = seal(ctx, fprs, n, head, hl, (const unsigned char *)data, len, bin_r, bin_len_r);
	} else {
		rnp_output_t sig = NULL;
		uint8_t *buf = NULL;
		size_t blen = 0;
		rc = sign_packets(ctx, signer, data, len, &sig);
		if (rc < 0)
			*error_r = "OpenPGP: the signing key is not loaded or cannot sign";
		else if (rnp_output_memory_get_buf(sig, &buf, &blen, false) != RNP_SUCCESS)
			rc = -1;
		else
			rc = seal(ctx, fprs, n, NULL, 0, buf, blen, bin_r, bin_len_r);
		if (buf != NULL)
			sg_wipe(buf, blen); /* the signed plaintext */
		rnp_output_destroy(sig);
	}
	ERR_clear_error();
	return rc;
}

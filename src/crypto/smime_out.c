/* smime_out.c: what leaves encrypted or signed. Both take a CRLF MIME entity and return a
 * CRLF entity; the bytes signed or encrypted are exactly the CRLF-canonical input, which is
 * what gpgsm and NSS check against (notes/test-rig.md part a). */
#include "crypto/smime.h"
#include "crypto/keystore_priv.h"
#include "crypto/smime_priv.h"
#include "core/sg_base64.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"

#include <openssl/buffer.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <string.h>

/* The entity with every bare LF made CRLF, in a BIO the CMS code reads: the entity itself when
 * it is CRLF already (what the spool holds), else a copy in *copy_r. */
static BIO *crlf_input(const char *entity, size_t len, char **copy_r, size_t *copy_len_r)
{
	*copy_r = NULL;
	*copy_len_r = 0;
	if (!smime_priv_has_bare_lf(entity, len))
		return smime_priv_mem_bio(entity, len);
	smime_priv_crlf_copy(entity, len, copy_r, copy_len_r);
	return smime_priv_mem_bio(*copy_r, *copy_len_r);
}

/* RSAES-OAEP with SHA-256 for the hash and MGF1 (RFC 8017, RFC 4055 rsaesOAEP-SHA256); the
 * parameters are written into the RecipientInfo when the key is wrapped. */
static int set_oaep(CMS_RecipientInfo *ri)
{
	EVP_PKEY_CTX *pctx = CMS_RecipientInfo_get0_pkey_ctx(ri);
	return pctx != NULL && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) > 0 &&
	               EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha256()) > 0 &&
	               EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) > 0
	           ? 0 : -1;
}

static CMS_RecipientInfo *add_recipient(CMS_ContentInfo *cms, X509 *x,
                                        const struct smime_recipient *r)
{
	bool oaep = EVP_PKEY_is_a(X509_get0_pubkey(x), "RSA") &&
	            smime_caps_allow_oaep(r->caps.data, r->caps.len);
	/* issuerAndSerialNumber (no CMS_USE_KEYID: it breaks gpgsm 2.2); CMS_KEY_PARAM keeps the
	 * key context open so that its padding can be set before the key is wrapped */
	CMS_RecipientInfo *ri = CMS_add1_recipient_cert(cms, x, oaep ? CMS_KEY_PARAM : 0);
	return ri != NULL && (!oaep || set_oaep(ri) == 0) ? ri : NULL;
}

static int add_recipients(CMS_ContentInfo *cms, const struct smime_recipient *rcpts, size_t n,
                          const char **error_r)
{
	for (size_t i = 0; i < n; i++) {
		X509 *x = smime_priv_x509_cached(rcpts[i].cert.data, rcpts[i].cert.len);
		CMS_RecipientInfo *ri = x != NULL ? add_recipient(cms, x, &rcpts[i]) : NULL;
		X509_free(x);
		if (ri == NULL) {
			*error_r = x == NULL ? "recipient certificate cannot be read"
			                     : "recipient certificate's key cannot be used for encryption";
			return -1;
		}
	}
	return 0;
}

/* What SMIME_write_CMS writes for (auth)enveloped data, with CRLF line ends, written directly:
 * the DER in one piece and base64 in 64-column lines, without the BIO chain and the copy that
 * turned its LF into CRLF. */
#define P7M_HEAD \
	"MIME-Version: 1.0\r\n" \
	"Content-Disposition: attachment; filename=\"smime.p7m\"\r\n" \
	"Content-Type: application/pkcs7-mime; smime-type=%s; name=\"smime.p7m\"\r\n" \
	"Content-Transfer-Encoding: base64\r\n\r\n"

static int write_p7m(CMS_ContentInfo *cms, bool auth, char **out_r, size_t *out_len_r)
{
	unsigned char *der = NULL;
	int n = i2d_CMS_ContentInfo(cms, &der);
	if (n <= 0 || (size_t)n > SG_MESSAGE_SIZE_HARD_MAX) {
		OPENSSL_free(der);
		return -1;
	}
	size_t dlen = (size_t)n;
	char head[256];
	int hl = snprintf(head, sizeof(head), P7M_HEAD, auth ? "authEnveloped-data" : "enveloped-data");
	sg_assert(hl > 0 && (size_t)hl < sizeof(head));
	/* the lines, the closing CRLF, the NUL */
	size_t cap = sg_size_add(sg_size_add((size_t)hl, sg_base64_lines_size(dlen)), 3);
	char *out = sg_malloc(cap);
	memcpy(out, head, (size_t)hl);
	size_t o = (size_t)hl + sg_base64_lines(out + hl, der, dlen);
	out[o++] = '\r';
	out[o++] = '\n';
	out[o] = '\0';
	OPENSSL_free(der);
	*out_r = out;
	*out_len_r = o;
	return 0;
}

/* A memory BIO with room for size bytes from the start: left to itself OpenSSL grows it by a
 * third at a time, copying and wiping it at each step. As the content BIO of CMS_final, its
 * bytes are taken over by CMS_dataFinal (which marks it read-only); the caller frees the BIO. */
static BIO *sized_bio(size_t size)
{
	BUF_MEM *bm = BUF_MEM_new();
	BIO *b = BIO_new(BIO_s_mem());
	if (bm == NULL || b == NULL || BUF_MEM_grow(bm, size) == 0 || BUF_MEM_grow(bm, 0) != 0) {
		BUF_MEM_free(bm);
		BIO_free(b);
		return NULL;
	}
	BIO_set_mem_buf(b, bm, BIO_CLOSE);
	return b;
}

int smime_encrypt_to(const struct smime_recipient *rcpts, size_t ncerts, const char *entity,
                     size_t len, unsigned flags, char **out_r, size_t *out_len_r,
                     const char **error_r)
{
	if (ncerts == 0) {
		*error_r = "no recipient certificate";
		return -1;
	}
	char *copy = NULL;
	size_t copy_len;
	BIO *in = crlf_input(entity, len, &copy, &copy_len);
	bool gcm = (flags & SMIME_ENCRYPT_GCM) != 0;
	const EVP_CIPHER *cipher = gcm ? EVP_aes_256_gcm() : EVP_aes_256_cbc();
	unsigned fl = CMS_PARTIAL | CMS_BINARY; /* input is CRLF already: keep it byte-exact */
	/* the content, the cipher's last block and a margin */
	BIO *content = in != NULL ? sized_bio(sg_size_add(copy != NULL ? copy_len : len, 64)) : NULL;
	CMS_ContentInfo *cms = content != NULL ? CMS_encrypt(NULL, NULL, cipher, fl) : NULL;
	int rc = -1;
	*error_r = "message too large or out of memory";
	if (cms == NULL || add_recipients(cms, rcpts, ncerts, error_r) < 0)
		goto out;
	*error_r = "CMS encryption failed";
	if (CMS_final(cms, in, content, fl) != 1 || write_p7m(cms, gcm, out_r, out_len_r) < 0)
		goto out;
	rc = 0;
out:
	ERR_clear_error();
	CMS_ContentInfo_free(cms);
	BIO_free(content);
	BIO_free(in);
	sg_free_secret(&copy, copy_len);
	return rc;
}

int smime_encrypt(const struct smime_der *certs, size_t ncerts, const char *entity, size_t len,
                  unsigned flags, char **out_r, size_t *out_len_r, const char **error_r)
{
	struct smime_recipient *rcpts = sg_calloc(ncerts > 0 ? ncerts : 1, sizeof(*rcpts));
	for (size_t i = 0; i < ncerts; i++)
		rcpts[i].cert = certs[i];
	int rc = smime_encrypt_to(rcpts, ncerts, entity, len, flags, out_r, out_len_r, error_r);
	sg_free(&rcpts);
	return rc;
}

static STACK_OF(X509) *chain_stack(const struct smime_der *chain, size_t nchain)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	for (size_t i = 0; sk != NULL && i < nchain; i++) {
		X509 *x = smime_priv_x509_cached(chain[i].data, chain[i].len);
		if (x == NULL || !sk_X509_push(sk, x)) {
			X509_free(x);
			sk_X509_pop_free(sk, X509_free);
			return NULL;
		}
	}
	return sk;
}

int smime_sign(const struct smime_der *signer, const struct keystore_key *key,
               const struct smime_der *chain, size_t nchain, const char *entity, size_t len,
               char **out_r, size_t *out_len_r, const char **error_r)
{
	/* The streaming pattern: CMS_final after CMS_PARTIAL fails in 3.0 ("attribute error"). */
	unsigned fl = CMS_DETACHED | CMS_PARTIAL | CMS_STREAM | CMS_BINARY;
	char *copy = NULL;
	size_t copy_len;
	BIO *in = crlf_input(entity, len, &copy, &copy_len);
	/* the entity, the signature with the certificates in base64, the MIME around them */
	BIO *out = sized_bio(sg_size_add(len, 16384));
	X509 *x = smime_priv_x509_cached(signer->data, signer->len);
	STACK_OF(X509) *sk = chain_stack(chain, nchain);
	CMS_ContentInfo *cms = NULL;
	int rc = -1;
	*error_r = "signer certificate or chain cannot be read";
	if (in == NULL || out == NULL || x == NULL || sk == NULL)
		goto out;
	*error_r = "the signer's key does not match its certificate";
	if (X509_check_private_key(x, keystore_key_pkey(key)) != 1)
		goto out;
	*error_r = "CMS signing failed";
	cms = CMS_sign(NULL, NULL, sk, NULL, fl);
	if (cms == NULL || CMS_add1_signer(cms, x, keystore_key_pkey(key), EVP_sha256(), fl) == NULL ||
	    SMIME_write_CMS(out, cms, in, fl) != 1 ||
	    smime_priv_bio_take(out, true, out_r, out_len_r) < 0)
		goto out;
	rc = 0;
out:
	ERR_clear_error();
	CMS_ContentInfo_free(cms);
	sk_X509_pop_free(sk, X509_free);
	X509_free(x);
	BIO_free(in);
	BIO_free(out); /* a memory BIO's buffer is cleared when freed (BUF_MEM_free) */
	sg_free_secret(&copy, copy_len); /* the plaintext that was signed */
	return rc;
}

/* sgdkim_key.c: DKIM key pairs: generation, reading an existing key (one an OpenDKIM setup
 * already published), the names they are published under, and the DNS record of each. */
#include "crypto/sgdkim.h"
#include "core/limits.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

#define RSA_MIN_BITS 1024 /* RFC 8301: verifiers must accept 1024..4096 */
#define RSA_MAX_BITS 4096
#define ED25519_PUB_BYTES 32

static const char *const alg_names[] = {[SGDKIM_RSA2048] = "rsa2048",
                                        [SGDKIM_ED25519] = "ed25519"};

int sgdkim_alg_parse(const char *name, enum sgdkim_alg *alg_r)
{
	for (size_t i = 0; i < sizeof(alg_names) / sizeof(alg_names[0]); i++) {
		if (strcmp(name, alg_names[i]) == 0) {
			*alg_r = (enum sgdkim_alg)i;
			return 0;
		}
	}
	return -1;
}

const char *sgdkim_alg_name(enum sgdkim_alg alg)
{
	return (size_t)alg < sizeof(alg_names) / sizeof(alg_names[0]) ? alg_names[alg] : "?";
}

static bool label_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/* Length of the DNS label at s (up to '.' or the end), or 0 when it is not one. */
static size_t label_len(const char *s)
{
	size_t n = 0;
	while (s[n] != '\0' && s[n] != '.') {
		if (!label_char(s[n]))
			return 0;
		n++;
	}
	if (n == 0 || n > SG_DKIM_SELECTOR_MAX || s[0] == '-' || s[n - 1] == '-')
		return 0;
	return n;
}

int sgdkim_selector_check(const char *selector, const char **error_r)
{
	size_t n = label_len(selector);
	if (n == 0 || selector[n] != '\0') {
		*error_r = "a selector is one DNS label: letters, digits and '-' (not first or last), "
		           "at most 63 characters, no spaces or dots";
		return -1;
	}
	return 0;
}

int sgdkim_domain_check(const char *domain, const char **error_r)
{
	const char *p = domain;
	if (strlen(domain) > SG_DOMAIN_MAX)
		p = "";
	for (size_t n; *p != '\0'; p += n + 1) {
		n = label_len(p);
		if (n == 0)
			break;
		if (p[n] == '\0')
			return 0;
	}
	*error_r = "not a domain name (labels of letters, digits and '-', separated by dots)";
	return -1;
}

static int ossl_fail(const char *what, const char **error_r)
{
	ERR_clear_error();
	*error_r = what;
	return -1;
}

static int pem_of(EVP_PKEY *pk, char **pem_r, size_t *len_r, const char **error_r)
{
	BIO *b = BIO_new(BIO_s_secmem());
	char *p = NULL;
	if (b == NULL || PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL) != 1) {
		BIO_free(b);
		return ossl_fail("cannot encode the private key", error_r);
	}
	long n = BIO_get_mem_data(b, &p);
	*pem_r = sg_malloc((size_t)n + 1);
	memcpy(*pem_r, p, (size_t)n);
	(*pem_r)[n] = '\0';
	*len_r = (size_t)n;
	BIO_free(b);
	return 0;
}

int sgdkim_key_generate(enum sgdkim_alg alg, char **pem_r, size_t *len_r, const char **error_r)
{
	EVP_PKEY *pk = alg == SGDKIM_RSA2048 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
	                                     : EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (pk == NULL)
		return ossl_fail("key generation failed", error_r);
	int rc = pem_of(pk, pem_r, len_r, error_r);
	EVP_PKEY_free(pk);
	return rc;
}

static char *base64_of(const unsigned char *p, size_t n)
{
	char *out = sg_malloc(sg_size_add(sg_size_mul(n / 3 + 1, 4), 1));
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

/* The TXT record's value: RFC 6376 §3.6.1 (p= is the SubjectPublicKeyInfo for RSA), RFC 8463
 * (the raw 32-byte key for Ed25519). */
static char *dns_record(EVP_PKEY *pk, enum sgdkim_alg alg)
{
	unsigned char raw[ED25519_PUB_BYTES], *der = NULL;
	size_t n = sizeof(raw);
	char *b64;
	if (alg == SGDKIM_ED25519) {
		if (EVP_PKEY_get_raw_public_key(pk, raw, &n) != 1)
			return NULL;
		b64 = base64_of(raw, n);
	} else {
		int dn = i2d_PUBKEY(pk, &der);
		if (dn <= 0)
			return NULL;
		b64 = base64_of(der, (size_t)dn);
		OPENSSL_free(der);
	}
	size_t len = strlen(b64) + 40;
	char *rec = sg_malloc(len);
	snprintf(rec, len, "v=DKIM1; k=%s; p=%s", alg == SGDKIM_ED25519 ? "ed25519" : "rsa", b64);
	sg_free(&b64);
	return rec;
}

static int key_alg(EVP_PKEY *pk, enum sgdkim_alg *alg_r, const char **error_r)
{
	if (EVP_PKEY_is_a(pk, "ED25519")) {
		*alg_r = SGDKIM_ED25519;
		return 0;
	}
	int bits = EVP_PKEY_get_bits(pk);
	if (!EVP_PKEY_is_a(pk, "RSA")) {
		*error_r = "not an RSA or Ed25519 key (DKIM signs with those two only)";
		return -1;
	}
	if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
		*error_r = "an RSA key for DKIM must have 1024 to 4096 bits (RFC 8301); 2048 is usual";
		return -1;
	}
	*alg_r = SGDKIM_RSA2048;
	return 0;
}

int sgdkim_key_load(const char *data, size_t len, char **pem_r, size_t *pem_len_r,
                    enum sgdkim_alg *alg_r, char **dns_r, const char **error_r)
{
	if (len == 0 || len > SG_DKIM_KEYFILE_MAX) {
		*error_r = "not a private key: empty or larger than 64 KB";
		return -1;
	}
	BIO *b = BIO_new_mem_buf(data, (int)len);
	EVP_PKEY *pk = b != NULL ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (pk == NULL)
		return ossl_fail("not a private key: expected a PEM file (BEGIN PRIVATE KEY or BEGIN "
		                 "RSA PRIVATE KEY) without a passphrase",
		                 error_r);
	int rc = key_alg(pk, alg_r, error_r);
	if (rc == 0)
		rc = pem_of(pk, pem_r, pem_len_r, error_r);
	if (rc == 0 && (*dns_r = dns_record(pk, *alg_r)) == NULL) {
		sg_free_secret(pem_r, *pem_len_r);
		rc = ossl_fail("cannot encode the public key", error_r);
	}
	EVP_PKEY_free(pk);
	return rc;
}

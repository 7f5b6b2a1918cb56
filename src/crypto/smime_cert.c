/* smime_cert.c: reading certificates and deciding whether one may be used. Certificates come
 * from partners, from harvested signatures and from .p12 files: all hostile, all parsed with
 * a length limit and nothing allowed after the DER. */
#include "crypto/smime.h"
#include "crypto/keystore_priv.h"
#include "crypto/smime_priv.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <string.h>

X509 *smime_priv_x509(const unsigned char *der, size_t len)
{
	if (der == NULL || len == 0 || len > SG_CERT_DER_MAX)
		return NULL;
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	if (x != NULL && p != der + len) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* Per thread: the certificates parsed last, by their exact DER bytes. OpenSSL 3 decodes the
 * public key of every certificate it parses through its provider decoders, which costs more
 * than the RSA encryption the certificate is parsed for, and the mail path meets the same few
 * certificates on every message. Keyed by the DER itself, a cached object can only ever stand
 * for those bytes; whether the certificate may be used is still decided on every call. */
#define X509_CACHE_SLOTS 16

struct x509_cache {
	unsigned char *der[X509_CACHE_SLOTS];
	size_t len[X509_CACHE_SLOTS];
	X509 *x[X509_CACHE_SLOTS];
	size_t next;
};

static pthread_key_t x509_cache_key;
static pthread_once_t x509_cache_once = PTHREAD_ONCE_INIT;

static void x509_cache_free(void *p)
{
	struct x509_cache *c = p;
	for (size_t i = 0; i < X509_CACHE_SLOTS; i++) {
		X509_free(c->x[i]);
		sg_free(&c->der[i]);
	}
	sg_free(&c);
}

static void x509_cache_init(void) { (void)pthread_key_create(&x509_cache_key, x509_cache_free); }

static struct x509_cache *x509_cache_get(void)
{
	pthread_once(&x509_cache_once, x509_cache_init);
	struct x509_cache *c = pthread_getspecific(x509_cache_key);
	if (c == NULL) {
		c = sg_calloc(1, sizeof(*c));
		if (pthread_setspecific(x509_cache_key, c) != 0)
			sg_free(&c);
	}
	return c;
}

X509 *smime_priv_x509_cached(const unsigned char *der, size_t len)
{
	if (der == NULL || len == 0 || len > SG_CERT_DER_MAX)
		return NULL;
	struct x509_cache *c = x509_cache_get();
	for (size_t i = 0; c != NULL && i < X509_CACHE_SLOTS; i++) {
		if (c->x[i] != NULL && c->len[i] == len && memcmp(c->der[i], der, len) == 0)
			return X509_up_ref(c->x[i]) == 1 ? c->x[i] : NULL;
	}
	X509 *x = smime_priv_x509(der, len);
	if (x == NULL || c == NULL || X509_up_ref(x) != 1)
		return x;
	size_t slot = c->next++ % X509_CACHE_SLOTS;
	X509_free(c->x[slot]);
	sg_free(&c->der[slot]);
	c->x[slot] = x;
	c->der[slot] = sg_memdup(der, len);
	c->len[slot] = len;
	return x;
}

int smime_priv_serial_hex(const ASN1_INTEGER *serial, char *dst, size_t dstsize)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	int rc = hex != NULL && sg_strlcpy(dst, hex, dstsize) < dstsize ? 0 : -1;
	OPENSSL_free(hex);
	BN_free(bn);
	return rc;
}

int smime_priv_name(const X509_NAME *name, char *dst, size_t dstsize)
{
	BIO *b = BIO_new(BIO_s_mem());
	if (b == NULL)
		return -1;
	int rc = -1;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0) {
		char *p;
		long n = BIO_get_mem_data(b, &p);
		if (n >= 0 && (size_t)n < dstsize) {
			memcpy(dst, p, (size_t)n);
			dst[n] = '\0';
			rc = 0;
		}
	}
	BIO_free(b);
	return rc;
}

void smime_priv_address(X509 *x, char *dst, size_t dstsize)
{
	dst[0] = '\0';
	STACK_OF(OPENSSL_STRING) *emails = X509_get1_email(x);
	for (int i = 0; i < sk_OPENSSL_STRING_num(emails); i++) {
		const char *e = sk_OPENSSL_STRING_value(emails, i);
		if (strlen(e) < dstsize && strchr(e, '@') != NULL) {
			sg_strlcpy(dst, e, dstsize);
			sg_ascii_lower(dst);
			break;
		}
	}
	X509_email_free(emails);
}

static int asn1_time(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;
	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	*out = timegm(&tm);
	return 0;
}

void smime_priv_fingerprint(const unsigned char *der, size_t len, char *dst)
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++)
		snprintf(dst + 2 * i, 3, "%02x", md[i]);
}

int smime_cert_parse(const unsigned char *der, size_t len, struct smime_certinfo *info_r,
                     const char **error_r)
{
	memset(info_r, 0, sizeof(*info_r));
	X509 *x = smime_priv_x509(der, len);
	if (x == NULL) {
		*error_r = "not a DER X.509 certificate";
		return -1;
	}
	int rc = -1;
	*error_r = "certificate has an unreadable or over-long field";
	if (smime_priv_serial_hex(X509_get0_serialNumber(x), info_r->serial, sizeof(info_r->serial)) < 0 ||
	    smime_priv_name(X509_get_issuer_name(x), info_r->issuer, sizeof(info_r->issuer)) < 0 ||
	    smime_priv_name(X509_get_subject_name(x), info_r->subject, sizeof(info_r->subject)) < 0 ||
	    asn1_time(X509_get0_notBefore(x), &info_r->not_before) < 0 ||
	    asn1_time(X509_get0_notAfter(x), &info_r->not_after) < 0)
		goto out;
	EVP_PKEY *pub = X509_get0_pubkey(x);
	info_r->is_rsa = pub != NULL && EVP_PKEY_is_a(pub, "RSA");
	info_r->is_ca = X509_check_ca(x) != 0;
	smime_priv_address(x, info_r->address, sizeof(info_r->address));
	smime_priv_fingerprint(der, len, info_r->fingerprint);
	rc = 0;
out:
	X509_free(x);
	return rc;
}

static int x509_to_der(X509 *x, unsigned char **der_r, size_t *der_len_r)
{
	unsigned char *tmp = NULL;
	int n = i2d_X509(x, &tmp);
	if (n <= 0 || n > SG_CERT_DER_MAX) {
		OPENSSL_free(tmp);
		return -1;
	}
	*der_r = sg_memdup(tmp, (size_t)n);
	*der_len_r = (size_t)n;
	OPENSSL_free(tmp);
	return 0;
}

int smime_cert_to_der(const unsigned char *data, size_t len, unsigned char **der_r,
                      size_t *der_len_r, const char **error_r)
{
	X509 *x = NULL;
	if (len > 0 && len <= SG_PKCS12_MAX && data[0] == 0x30) {
		const unsigned char *p = data;
		x = d2i_X509(NULL, &p, (long)len);
	} else if (len > 0 && len <= SG_PKCS12_MAX) {
		BIO *b = BIO_new_mem_buf(data, (int)len);
		x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
		BIO_free(b);
	}
	int rc = x != NULL ? x509_to_der(x, der_r, der_len_r) : -1;
	X509_free(x);
	if (rc < 0)
		*error_r = "not a certificate (expected PEM \"BEGIN CERTIFICATE\" or DER)";
	return rc;
}

int smime_cert_to_pem(const unsigned char *der, size_t len, char **pem_r, size_t *pem_len_r,
                      const char **error_r)
{
	X509 *x = smime_priv_x509(der, len);
	BIO *b = BIO_new(BIO_s_mem());
	int rc = -1;
	if (x != NULL && b != NULL && PEM_write_bio_X509(b, x))
		rc = smime_priv_bio_take(b, false, pem_r, pem_len_r);
	if (rc < 0)
		*error_r = "cannot write the certificate as PEM";
	BIO_free(b);
	X509_free(x);
	return rc;
}

static bool any_email(X509 *x, bool (*match)(const char *name, const char *arg), const char *arg)
{
	bool found = false;
	STACK_OF(OPENSSL_STRING) *emails = X509_get1_email(x);
	for (int i = 0; i < sk_OPENSSL_STRING_num(emails) && !found; i++)
		found = match(sk_OPENSSL_STRING_value(emails, i), arg);
	X509_email_free(emails);
	return found;
}

static bool same_address(const char *name, const char *address)
{
	return sg_streq_nocase(name, address);
}

bool smime_cert_has_address(const unsigned char *der, size_t len, const char *address)
{
	X509 *x = smime_priv_x509(der, len);
	bool found = x != NULL && any_email(x, same_address, address);
	X509_free(x);
	return found;
}

static bool any_dns_name(X509 *x, bool (*match)(const char *name, const char *arg),
                         const char *arg)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	bool found = false;
	for (int i = 0; i < sk_GENERAL_NAME_num(names) && !found; i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
		if (gn->type != GEN_DNS)
			continue;
		const unsigned char *p = ASN1_STRING_get0_data(gn->d.dNSName);
		int n = ASN1_STRING_length(gn->d.dNSName);
		char name[256];
		if (n <= 0 || (size_t)n >= sizeof(name) || memchr(p, '\0', (size_t)n) != NULL)
			continue;
		memcpy(name, p, (size_t)n);
		name[n] = '\0';
		found = match(name, arg);
	}
	GENERAL_NAMES_free(names);
	return found;
}

bool smime_cert_any_name(const unsigned char *der, size_t len,
                         bool (*match)(const char *name, const char *arg), const char *arg)
{
	X509 *x = smime_priv_x509(der, len);
	bool found = x != NULL && (any_email(x, match, arg) || any_dns_name(x, match, arg));
	X509_free(x);
	return found;
}

bool smime_cert_matches_key(const unsigned char *der, size_t len, const struct keystore_key *key)
{
	X509 *x = smime_priv_x509(der, len);
	bool ok = x != NULL && X509_check_private_key(x, keystore_key_pkey(key)) == 1;
	X509_free(x);
	return ok;
}

static const char *check_usage(X509 *x, enum smime_usage usage)
{
	uint32_t xku = X509_get_extended_key_usage(x); /* UINT32_MAX when absent */
	if (xku != UINT32_MAX && (xku & XKU_SMIME) == 0 && (xku & XKU_ANYEKU) == 0)
		return "certificate is not for e-mail (no emailProtection extended key usage)";
	uint32_t ku = X509_get_key_usage(x); /* UINT32_MAX when absent */
	EVP_PKEY *pub = X509_get0_pubkey(x);
	if (pub == NULL)
		return "certificate has an unreadable public key";
	if (usage == SMIME_USAGE_SIGN)
		return (ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)) != 0
		           ? NULL : "certificate key usage does not allow signing";
	if (EVP_PKEY_is_a(pub, "RSA"))
		return (ku & KU_KEY_ENCIPHERMENT) != 0
		           ? NULL : "certificate key usage does not allow encryption (keyEncipherment)";
	if (EVP_PKEY_is_a(pub, "EC"))
		return (ku & KU_KEY_AGREEMENT) != 0
		           ? NULL : "certificate key usage does not allow encryption (keyAgreement)";
	return "certificate key type cannot be used for S/MIME encryption";
}

int smime_cert_usable(const unsigned char *der, size_t len, enum smime_usage usage, time_t now,
                      time_t revoked_at, const char **why_r)
{
	X509 *x = smime_priv_x509_cached(der, len);
	if (x == NULL) {
		*why_r = "certificate cannot be read";
		return -1;
	}
	const char *why = NULL;
	time_t t = now;
	if (revoked_at != 0 && revoked_at <= now)
		why = "certificate has been revoked";
	else if (X509_cmp_time(X509_get0_notBefore(x), &t) >= 0)
		why = "certificate is not valid yet";
	else if (X509_cmp_time(X509_get0_notAfter(x), &t) <= 0)
		why = "certificate has expired";
	else
		why = check_usage(x, usage);
	X509_free(x);
	*why_r = why;
	return why == NULL ? 0 : -1;
}

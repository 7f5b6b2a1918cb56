/* ca_issue.c: the CA at work: user and proxy certificates, and the CRL. The CA key stays in
 * ca/ca.key (0600) beside ca/ca.crt, where `sealgate init` put it: the admin backs up one
 * directory, and the key never enters the database (docs/smime.md). */
#include "crypto/ca.h"
#include "crypto/ca_priv.h"
#include "crypto/keystore_priv.h"
#include "crypto/smime_priv.h"
#include "core/limits.h"
#include "core/sg_file.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <string.h>

struct ca {
	X509 *cert;
	struct keystore_key *key;
	unsigned char *der;
	size_t der_len;
	char issuer[SMIME_DN_MAX];
};

void ca_close(struct ca **cap)
{
	if (*cap == NULL)
		return;
	X509_free((*cap)->cert);
	keystore_key_free(&(*cap)->key);
	sg_free(&(*cap)->der);
	sg_free(cap);
}

static int load_cert(struct ca *ca, const char *path)
{
	char *pem = NULL;
	size_t len = 0;
	const char *err;
	if (sg_file_read_all(path, SG_CERT_DER_MAX, &pem, &len, &err) < 0)
		return -1;
	int rc = smime_cert_to_der((unsigned char *)pem, len, &ca->der, &ca->der_len, &err);
	sg_free(&pem);
	ca->cert = rc == 0 ? smime_priv_x509(ca->der, ca->der_len) : NULL;
	return ca->cert != NULL &&
	       smime_priv_name(X509_get_subject_name(ca->cert), ca->issuer, sizeof(ca->issuer)) == 0
	           ? 0 : -1;
}

int ca_open(const char *ca_dir, struct ca **ca_r, const char **error_r)
{
	char crt[SG_PATH_MAX], key[SG_PATH_MAX];
	if (sg_path_join(crt, sizeof(crt), ca_dir, "ca.crt") < 0 ||
	    sg_path_join(key, sizeof(key), ca_dir, "ca.key") < 0) {
		*error_r = "gateway.ca_dir: path too long";
		return -1;
	}
	struct ca *ca = sg_calloc(1, sizeof(*ca));
	if (load_cert(ca, crt) < 0) {
		*error_r = "cannot read the CA certificate (gateway.ca_dir/ca.crt)";
	} else if (keystore_key_load_pem(key, &ca->key, error_r) < 0) {
		*error_r = "cannot read the CA key (gateway.ca_dir/ca.key); restore it from backup";
	} else if (X509_check_private_key(ca->cert, keystore_key_pkey(ca->key)) != 1) {
		*error_r = "ca.key does not belong to ca.crt; restore the pair from backup";
	} else {
		*ca_r = ca;
		return 0;
	}
	ERR_clear_error();
	ca_close(&ca);
	return -1;
}

const unsigned char *ca_cert_der(const struct ca *ca, size_t *len_r)
{
	*len_r = ca->der_len;
	return ca->der;
}

const char *ca_issuer_name(const struct ca *ca)
{
	return ca->issuer;
}

/* The SAN is built as a GENERAL_NAME, not as config text: an address with a comma must not
 * turn into two names. */
static int add_san_email(X509 *x, const char *address)
{
	GENERAL_NAMES *names = GENERAL_NAMES_new();
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
	int ok = names != NULL && gn != NULL && ia5 != NULL &&
	         ASN1_STRING_set(ia5, address, (int)strlen(address)) == 1;
	if (ok) {
		GENERAL_NAME_set0_value(gn, GEN_EMAIL, ia5);
		ia5 = NULL;
		ok = sk_GENERAL_NAME_push(names, gn) > 0;
		if (ok)
			gn = NULL;
	}
	ok = ok && X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT) == 1;
	ASN1_IA5STRING_free(ia5);
	GENERAL_NAME_free(gn);
	GENERAL_NAMES_free(names);
	return ok ? 0 : -1;
}

static X509_NAME *subject_name(const char *address, const char *organization)
{
	X509_NAME *n = X509_NAME_new();
	if (n == NULL ||
	    !X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)organization,
	                                -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)address, -1,
	                                -1, 0)) {
		X509_NAME_free(n);
		return NULL;
	}
	return n;
}

static X509 *new_leaf(const struct ca *ca, const X509_NAME *subject, EVP_PKEY *pkey, int days)
{
	X509 *x = X509_new();
	if (x == NULL || !X509_set_version(x, 2) || ca_init_serial(x) < 0 ||
	    !X509_set_subject_name(x, subject) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400) || !X509_set_pubkey(x, pkey)) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static int der_out(X509 *x, unsigned char **der_r, size_t *der_len_r)
{
	unsigned char *tmp = NULL;
	int n = i2d_X509(x, &tmp);
	if (n <= 0) {
		OPENSSL_free(tmp);
		return -1;
	}
	*der_r = sg_memdup(tmp, (size_t)n);
	*der_len_r = (size_t)n;
	OPENSSL_free(tmp);
	return 0;
}

int ca_issue(const struct ca *ca, const char *address, const char *organization,
             const struct keystore_key *key, int days, unsigned char **der_r, size_t *der_len_r,
             const char **error_r)
{
	EVP_PKEY *pkey = keystore_key_pkey(key);
	bool rsa = EVP_PKEY_is_a(pkey, "RSA");
	X509_NAME *name = subject_name(address, organization);
	X509 *x = name != NULL && days > 0 ? new_leaf(ca, name, pkey, days) : NULL;
	int rc = -1;
	*error_r = "cannot build the certificate (address or organisation not encodable?)";
	if (x == NULL || ca_init_add_ext(x, ca->cert, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    ca_init_add_ext(x, ca->cert, NID_key_usage,
	                    rsa ? "critical,digitalSignature,keyEncipherment"
	                        : "critical,digitalSignature,keyAgreement") < 0 ||
	    ca_init_add_ext(x, ca->cert, NID_ext_key_usage, "emailProtection") < 0 ||
	    add_san_email(x, address) < 0 ||
	    ca_init_add_ext(x, ca->cert, NID_subject_key_identifier, "hash") < 0 ||
	    ca_init_add_ext(x, ca->cert, NID_authority_key_identifier, "keyid:always") < 0)
		goto out;
	*error_r = "the CA could not sign the certificate";
	if (!X509_sign(x, keystore_key_pkey(ca->key), EVP_sha256()) || der_out(x, der_r, der_len_r) < 0)
		goto out;
	rc = 0;
out:
	ERR_clear_error();
	X509_free(x);
	X509_NAME_free(name);
	return rc;
}

static int add_revoked(X509_CRL *crl, const struct ca_revoked *r)
{
	BIGNUM *bn = NULL;
	if (strlen(r->serial) > 2 * 20 + 2 || BN_hex2bn(&bn, r->serial) != (int)strlen(r->serial)) {
		BN_free(bn);
		return -1;
	}
	X509_REVOKED *rev = X509_REVOKED_new();
	ASN1_INTEGER *serial = BN_to_ASN1_INTEGER(bn, NULL);
	ASN1_TIME *when = ASN1_TIME_set(NULL, r->when);
	int ok = rev != NULL && serial != NULL && when != NULL &&
	         X509_REVOKED_set_serialNumber(rev, serial) && X509_REVOKED_set_revocationDate(rev, when) &&
	         X509_CRL_add0_revoked(crl, rev);
	if (!ok)
		X509_REVOKED_free(rev);
	ASN1_TIME_free(when);
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	return ok ? 0 : -1;
}

/* The CRL number is the issue time: it only has to grow. */
static int crl_header(X509_CRL *crl, const struct ca *ca, int days)
{
	time_t now = time(NULL);
	ASN1_TIME *last = ASN1_TIME_set(NULL, now);
	ASN1_TIME *next = ASN1_TIME_set(NULL, now + (time_t)days * 86400);
	ASN1_INTEGER *number = ASN1_INTEGER_new();
	int ok = last != NULL && next != NULL && number != NULL && X509_CRL_set_version(crl, 1) &&
	         X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->cert)) &&
	         X509_CRL_set1_lastUpdate(crl, last) && X509_CRL_set1_nextUpdate(crl, next) &&
	         ASN1_INTEGER_set_int64(number, (int64_t)now) &&
	         X509_CRL_add1_ext_i2d(crl, NID_crl_number, number, 0, 0) == 1;
	ASN1_TIME_free(last);
	ASN1_TIME_free(next);
	ASN1_INTEGER_free(number);
	return ok ? 0 : -1;
}

int ca_crl(const struct ca *ca, const struct ca_revoked *revoked, size_t count, int days,
           char **pem_r, size_t *pem_len_r, const char **error_r)
{
	X509_CRL *crl = X509_CRL_new();
	BIO *b = BIO_new(BIO_s_mem());
	int rc = -1;
	*error_r = "cannot build the CRL";
	if (crl == NULL || b == NULL || crl_header(crl, ca, days) < 0)
		goto out;
	for (size_t i = 0; i < count; i++) {
		if (add_revoked(crl, &revoked[i]) < 0) {
			*error_r = "a revoked serial number in the store is not valid hex";
			goto out;
		}
	}
	*error_r = "the CA could not sign the CRL";
	if (!X509_CRL_sort(crl) || !X509_CRL_sign(crl, keystore_key_pkey(ca->key), EVP_sha256()) ||
	    !PEM_write_bio_X509_CRL(b, crl) || smime_priv_bio_take(b, false, pem_r, pem_len_r) < 0)
		goto out;
	rc = 0;
out:
	ERR_clear_error();
	BIO_free(b);
	X509_CRL_free(crl);
	return rc;
}

/* ca_crl.c: the CA's certificate revocation list: made from the revoked serials in the store
 * (the callers read them), written where `sealgate ca crl`, `cert revoke` and the tick role
 * keep it (ca/crl.pem), and turned into DER for the portal to serve at /ca.crl. */
#include "crypto/ca.h"
#include "crypto/ca_priv.h"
#include "crypto/keystore_priv.h"
#include "crypto/smime_priv.h"
#include "core/sg_file.h"
#include "core/sg_mem.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <string.h>

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
	ASN1_ENUMERATED *reason = r->reason > 0 ? ASN1_ENUMERATED_new() : NULL;
	int ok = rev != NULL && serial != NULL && when != NULL &&
	         X509_REVOKED_set_serialNumber(rev, serial) && X509_REVOKED_set_revocationDate(rev, when) &&
	         (r->reason <= 0 || (reason != NULL && ASN1_ENUMERATED_set(reason, r->reason) &&
	                             X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, reason, 0, 0))) &&
	         X509_CRL_add0_revoked(crl, rev);
	if (!ok)
		X509_REVOKED_free(rev);
	ASN1_ENUMERATED_free(reason);
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

int ca_crl_write(const struct ca *ca, const struct ca_revoked *revoked, size_t count, int days,
                 const char *path, char **pem_r, size_t *pem_len_r, const char **error_r)
{
	if (ca_crl(ca, revoked, count, days, pem_r, pem_len_r, error_r) < 0)
		return -1;
	if (sg_file_write_atomic(path, *pem_r, *pem_len_r, 0644, error_r) < 0) {
		sg_free(pem_r);
		return -1;
	}
	return 0;
}

int ca_crl_pem_to_der(const char *pem, size_t len, unsigned char **der_r, size_t *der_len_r,
                      const char **error_r)
{
	BIO *b = len <= INT32_MAX ? BIO_new_mem_buf(pem, (int)len) : NULL;
	X509_CRL *crl = b != NULL ? PEM_read_bio_X509_CRL(b, NULL, NULL, NULL) : NULL;
	unsigned char *tmp = NULL;
	int n = crl != NULL ? i2d_X509_CRL(crl, &tmp) : -1;
	int rc = -1;
	if (n > 0) {
		*der_r = sg_memdup(tmp, (size_t)n);
		*der_len_r = (size_t)n;
		rc = 0;
	} else {
		*error_r = "not a PEM CRL";
	}
	OPENSSL_free(tmp);
	X509_CRL_free(crl);
	BIO_free(b);
	ERR_clear_error();
	return rc;
}

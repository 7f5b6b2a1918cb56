/* ca_issue.c: the CA at work: user and proxy certificates (the CRL: ca_crl.c). The CA key stays in
 * ca/ca.key (0600, sealed with the master key like every private key) beside ca/ca.crt, where
 * `sealgate init` put it: the admin backs up one directory with the master key, and the key
 * never enters the database (docs/smime.md). */
#include "crypto/ca.h"
#include "crypto/ca_priv.h"
#include "crypto/keystore_priv.h"
#include "crypto/smime_priv.h"
#include "core/limits.h"
#include "core/sg_file.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <string.h>


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

/* A clear ca.key (written before keys were sealed) is sealed in place once it proved to be
 * the CA's key; if that fails the CA still works, and the log says why. */
static void seal_clear_key(const struct ca *ca, const struct keystore *ks, const char *path)
{
	const char *err;
	if (keystore_key_reseal_file(ks, ca->key, CA_KEY_OWNER, path, &err) < 0)
		sg_warn("%s: the CA key is still in clear, and could not be sealed: %s", path, err);
	else
		sg_info("%s: the CA key was a clear PEM file; it is now sealed with the master key "
		        "(gateway.master_key): back the two up together", path);
}

static int load_key(struct ca *ca, const struct keystore *ks, const char *path,
                    const char **error_r)
{
	bool clear = false;
	if (keystore_key_read_file(ks, CA_KEY_OWNER, path, &ca->key, &clear, error_r) < 0)
		return -1;
	if (X509_check_private_key(ca->cert, keystore_key_pkey(ca->key)) != 1) {
		*error_r = "ca.key does not belong to ca.crt; restore the pair from backup";
		return -1;
	}
	if (clear)
		seal_clear_key(ca, ks, path);
	return 0;
}

int ca_open(const char *ca_dir, const struct keystore *ks, struct ca **ca_r,
            const char **error_r)
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
	} else if (load_key(ca, ks, key, error_r) == 0) {
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

/* crlDistributionPoints with one URI, built with the ASN.1 API: the URL is a setting, and the
 * openssl.cnf syntax would let a comma in it add entries of its own. */
static CRL_DIST_POINTS *crl_dist_points(const char *url)
{
	CRL_DIST_POINTS *dps = sk_DIST_POINT_new_null();
	DIST_POINT *dp = DIST_POINT_new();
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *uri = ASN1_IA5STRING_new();
	if (dps == NULL || dp == NULL || gn == NULL || uri == NULL ||
	    ASN1_STRING_set(uri, url, -1) != 1)
		goto fail;
	GENERAL_NAME_set0_value(gn, GEN_URI, uri);
	uri = NULL;
	if ((dp->distpoint = DIST_POINT_NAME_new()) == NULL)
		goto fail;
	dp->distpoint->type = 0; /* fullName */
	if ((dp->distpoint->name.fullname = sk_GENERAL_NAME_new_null()) == NULL ||
	    sk_GENERAL_NAME_push(dp->distpoint->name.fullname, gn) <= 0)
		goto fail;
	gn = NULL;
	if (sk_DIST_POINT_push(dps, dp) <= 0)
		goto fail;
	return dps;
fail:
	ASN1_IA5STRING_free(uri);
	GENERAL_NAME_free(gn);
	DIST_POINT_free(dp);
	CRL_DIST_POINTS_free(dps);
	return NULL;
}

static int add_crl_dp(X509 *x, const char *url)
{
	CRL_DIST_POINTS *dps = crl_dist_points(url);
	int ok = dps != NULL &&
	         X509_add1_ext_i2d(x, NID_crl_distribution_points, dps, 0, X509V3_ADD_DEFAULT) == 1;
	CRL_DIST_POINTS_free(dps);
	return ok ? 0 : -1;
}

int ca_set_crl_url(struct ca *ca, const char *url, const char **error_r)
{
	/* The settings checked the URL (ca.crl_url is a URL setting); the ASN.1 API writes it as
	 * one URI whatever it holds, so only what the field cannot take is refused here. */
	if (url[0] != '\0' && strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
		*error_r = "ca.crl_url must be an http:// or https:// URL";
		return -1;
	}
	if (sg_strlcpy(ca->crl_url, url, sizeof(ca->crl_url)) >= sizeof(ca->crl_url)) {
		ca->crl_url[0] = '\0';
		*error_r = "ca.crl_url is longer than 255 characters";
		return -1;
	}
	return 0;
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

static X509 *new_leaf(const struct ca *ca, uint64_t serial_seq, const X509_NAME *subject,
                      EVP_PKEY *pkey, int days)
{
	X509 *x = X509_new();
	if (x == NULL || !X509_set_version(x, 2) || ca_init_serial_seq(x, serial_seq) < 0 ||
	    !X509_set_subject_name(x, subject) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400) ||
	    !X509_set_pubkey(x, pkey)) {
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

int ca_issue(const struct ca *ca, uint64_t serial_seq, const char *address,
             const char *organization, const struct keystore_key *key, int days,
             unsigned char **der_r, size_t *der_len_r, const char **error_r)
{
	EVP_PKEY *pkey = keystore_key_pkey(key);
	bool rsa = EVP_PKEY_is_a(pkey, "RSA");
	X509_NAME *name = subject_name(address, organization);
	X509 *x = name != NULL && days > 0 ? new_leaf(ca, serial_seq, name, pkey, days) : NULL;
	int rc = -1;
	*error_r = "cannot build the certificate (address or organisation not encodable?)";
	if (x == NULL || ca_init_add_ext(x, ca->cert, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    ca_init_add_ext(x, ca->cert, NID_key_usage,
	                    rsa ? "critical,digitalSignature,keyEncipherment"
	                        : "critical,digitalSignature,keyAgreement") < 0 ||
	    ca_init_add_ext(x, ca->cert, NID_ext_key_usage, "emailProtection") < 0 ||
	    add_san_email(x, address) < 0 ||
	    ca_init_add_ext(x, ca->cert, NID_subject_key_identifier, "hash") < 0 ||
	    ca_init_add_ext(x, ca->cert, NID_authority_key_identifier, "keyid:always") < 0 ||
	    (ca->crl_url[0] != '\0' && add_crl_dp(x, ca->crl_url) < 0))
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

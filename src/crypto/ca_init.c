/* ca_init.c: creation of the instance CA and of the TLS server certificate (OpenSSL 3). */
#include "crypto/ca.h"
#include "crypto/ca_priv.h"
#include "crypto/keystore_priv.h"
#include "core/limits.h"
#include "core/sg_file.h"
#include "core/sg_str.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define CA_DAYS 3650
#define SERVER_DAYS 825

static int set_serial(X509 *x, const unsigned char *bytes, size_t len)
{
	BIGNUM *bn = BN_bin2bn(bytes, (int)len, NULL);
	int ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok ? 0 : -1;
}

int ca_init_serial(X509 *x)
{
	unsigned char rnd[16];
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -1;
	rnd[0] &= 0x7f; /* positive */
	return set_serial(x, rnd, sizeof(rnd));
}

int ca_init_serial_seq(X509 *x, uint64_t seq)
{
	unsigned char b[16];
	if (seq == 0 || seq > INT64_MAX || RAND_bytes(b + 8, 8) != 1)
		return -1;
	for (int i = 7; i >= 0; i--, seq >>= 8)
		b[i] = (unsigned char)(seq & 0xff); /* the top bit stays 0: positive */
	return set_serial(x, b, sizeof(b));
}

int ca_init_add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return -1;
	int ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

static X509_NAME *make_name(const char *cn, const char *org)
{
	X509_NAME *n = X509_NAME_new();
	if (n == NULL)
		return NULL;
	if (!X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)org, -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0)) {
		X509_NAME_free(n);
		return NULL;
	}
	return n;
}

static X509 *new_cert(EVP_PKEY *key, const X509_NAME *subject, const X509_NAME *issuer, int days)
{
	X509 *x = X509_new();
	if (x == NULL)
		return NULL;
	if (!X509_set_version(x, 2) || ca_init_serial(x) < 0 || !X509_set_subject_name(x, subject) ||
	    !X509_set_issuer_name(x, issuer) || !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400) || !X509_set_pubkey(x, key)) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* The TLS server key stays a clear PEM file: OpenSSL's TLS code in smtpd, the portal and ldapd
 * reads it (docs/admin-guide.md). Never through a link, never over an existing file. */
static int write_pem_key(const char *path, EVP_PKEY *key)
{
	FILE *f = NULL;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0)
		f = fdopen(fd, "w");
	if (f == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	int ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	ok &= fflush(f) == 0 && fsync(fileno(f)) == 0;
	return (fclose(f) == 0 && ok) ? 0 : -1;
}

static int write_pem_certs(const char *path, X509 *a, X509 *b)
{
	FILE *f = fopen(path, "w");
	if (f == NULL)
		return -1;
	int ok = PEM_write_X509(f, a) && (b == NULL || PEM_write_X509(f, b));
	ok &= fflush(f) == 0 && fsync(fileno(f)) == 0;
	return (fclose(f) == 0 && ok) ? 0 : -1;
}

int ca_init_create(const char *ca_dir, const char *organization, const struct keystore *ks,
                   const char **error_r)
{
	return ca_init_create_typed(ca_dir, organization, "rsa3072", ks, error_r);
}

static X509 *self_signed_ca(EVP_PKEY *pkey, const char *organization)
{
	char cn[256];
	snprintf(cn, sizeof(cn), "%.200s Secure Mail CA", organization);
	X509_NAME *name = make_name(cn, organization);
	X509 *x = name != NULL ? new_cert(pkey, name, name, CA_DAYS) : NULL;
	X509_NAME_free(name);
	if (x == NULL || ca_init_add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") < 0 ||
	    ca_init_add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
	    ca_init_add_ext(x, x, NID_subject_key_identifier, "hash") < 0 ||
	    ca_init_add_ext(x, x, NID_authority_key_identifier, "keyid:always") < 0 ||
	    !X509_sign(x, pkey, EVP_sha256())) {
		X509_free(x);
		return NULL;
	}
	return x;
}

int ca_init_create_typed(const char *ca_dir, const char *organization, const char *key_type,
                         const struct keystore *ks, const char **error_r)
{
	char crt[SG_PATH_MAX], key[SG_PATH_MAX];
	if (sg_path_join(crt, sizeof(crt), ca_dir, "ca.crt") < 0 ||
	    sg_path_join(key, sizeof(key), ca_dir, "ca.key") < 0) {
		*error_r = "CA directory path too long";
		return -1;
	}
	enum keystore_key_type type;
	struct keystore_key *pkey = NULL;
	X509 *x = NULL;
	int rc = -1;
	*error_r = "cannot create the CA certificate";
	if (keystore_key_type_parse(key_type, &type) < 0 ||
	    keystore_key_generate(type, &pkey, error_r) < 0 ||
	    (x = self_signed_ca(keystore_key_pkey(pkey), organization)) == NULL)
		goto out;
	if (sg_mkdir_p(ca_dir, 0700) < 0) {
		*error_r = "cannot create the CA directory";
		goto out;
	}
	if (keystore_key_write_sealed(ks, pkey, CA_KEY_OWNER, key, error_r) < 0)
		goto out;
	*error_r = "cannot write the CA certificate";
	if (write_pem_certs(crt, x, NULL) < 0)
		goto out;
	rc = 0;
out:
	X509_free(x);
	keystore_key_free(&pkey);
	return rc;
}

int ca_init_server_cert(const char *ca_dir, const struct keystore *ks, const char *hostname,
                        const char *organization, const char *cert_path, const char *key_path,
                        const char **error_r)
{
	struct ca *ca = NULL;
	X509 *x = NULL;
	EVP_PKEY *pkey = NULL;
	X509_NAME *name = NULL;
	int rc = -1;
	char san[600];
	if (ca_open(ca_dir, ks, &ca, error_r) < 0)
		goto out;
	*error_r = "host name too long for a certificate";
	if (sg_snprintf(san, sizeof(san), "DNS:%s,DNS:localhost,IP:127.0.0.1,IP:::1", hostname) < 0)
		goto out;
	*error_r = "cannot create the server certificate";
	pkey = EVP_EC_gen("P-256");
	name = make_name(hostname, organization);
	x = pkey != NULL && name != NULL
	        ? new_cert(pkey, name, X509_get_subject_name(ca->cert), SERVER_DAYS) : NULL;
	if (x == NULL || ca_init_add_ext(x, ca->cert, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    ca_init_add_ext(x, ca->cert, NID_key_usage, "critical,digitalSignature") < 0 ||
	    ca_init_add_ext(x, ca->cert, NID_ext_key_usage, "serverAuth") < 0 ||
	    ca_init_add_ext(x, ca->cert, NID_subject_alt_name, san) < 0 ||
	    ca_init_add_ext(x, ca->cert, NID_subject_key_identifier, "hash") < 0 ||
	    ca_init_add_ext(x, ca->cert, NID_authority_key_identifier, "keyid:always") < 0 ||
	    !X509_sign(x, keystore_key_pkey(ca->key), EVP_sha256()))
		goto out;
	*error_r = "cannot write the server certificate files";
	if (write_pem_key(key_path, pkey) < 0 || write_pem_certs(cert_path, x, ca->cert) < 0)
		goto out;
	rc = 0;
out:
	X509_free(x);
	X509_NAME_free(name);
	EVP_PKEY_free(pkey);
	ca_close(&ca);
	return rc;
}

/* ca_init.c: creation of the instance CA and of the TLS server certificate (OpenSSL 3). */
#include "crypto/ca.h"
#include "crypto/ca_priv.h"
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

int ca_init_serial(X509 *x)
{
	unsigned char rnd[16];
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -1;
	rnd[0] &= 0x7f; /* positive */
	BIGNUM *bn = BN_bin2bn(rnd, sizeof(rnd), NULL);
	int ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok ? 0 : -1;
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

static int write_pem_key(const char *path, EVP_PKEY *key)
{
	FILE *f = NULL;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0)
		f = fdopen(fd, "w");
	if (f == NULL)
		return -1;
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

static EVP_PKEY *ca_key_new(const char *key_type)
{
	if (strcmp(key_type, "rsa3072") == 0)
		return EVP_RSA_gen(3072);
	if (strcmp(key_type, "p256") == 0)
		return EVP_EC_gen("P-256");
	if (strcmp(key_type, "p384") == 0)
		return EVP_EC_gen("P-384");
	return NULL;
}

int ca_init_create(const char *ca_dir, const char *organization, const char **error_r)
{
	return ca_init_create_typed(ca_dir, organization, "rsa3072", error_r);
}

int ca_init_create_typed(const char *ca_dir, const char *organization, const char *key_type,
                         const char **error_r)
{
	char crt[SG_PATH_MAX], key[SG_PATH_MAX], cn[256];
	if (sg_path_join(crt, sizeof(crt), ca_dir, "ca.crt") < 0 ||
	    sg_path_join(key, sizeof(key), ca_dir, "ca.key") < 0) {
		*error_r = "CA directory path too long";
		return -1;
	}
	snprintf(cn, sizeof(cn), "%.200s Secure Mail CA", organization);
	int rc = -1;
	EVP_PKEY *pkey = ca_key_new(key_type);
	X509_NAME *name = make_name(cn, organization);
	X509 *x = pkey != NULL && name != NULL ? new_cert(pkey, name, name, CA_DAYS) : NULL;
	*error_r = "cannot create the CA certificate";
	if (x == NULL || ca_init_add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") < 0 ||
	    ca_init_add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
	    ca_init_add_ext(x, x, NID_subject_key_identifier, "hash") < 0 ||
	    ca_init_add_ext(x, x, NID_authority_key_identifier, "keyid:always") < 0 ||
	    !X509_sign(x, pkey, EVP_sha256()))
		goto out;
	*error_r = "cannot write the CA files";
	if (sg_mkdir_p(ca_dir, 0700) < 0 || write_pem_key(key, pkey) < 0 ||
	    write_pem_certs(crt, x, NULL) < 0)
		goto out;
	rc = 0;
out:
	X509_free(x);
	X509_NAME_free(name);
	EVP_PKEY_free(pkey);
	return rc;
}

static int load_ca(const char *ca_dir, X509 **cert_r, EVP_PKEY **key_r)
{
	char crt[SG_PATH_MAX], key[SG_PATH_MAX];
	if (sg_path_join(crt, sizeof(crt), ca_dir, "ca.crt") < 0 ||
	    sg_path_join(key, sizeof(key), ca_dir, "ca.key") < 0)
		return -1;
	FILE *f = fopen(crt, "r");
	*cert_r = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f != NULL)
		fclose(f);
	f = fopen(key, "r");
	*key_r = f != NULL ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	if (f != NULL)
		fclose(f);
	return *cert_r != NULL && *key_r != NULL ? 0 : -1;
}

int ca_init_server_cert(const char *ca_dir, const char *hostname, const char *organization,
                        const char *cert_path, const char *key_path, const char **error_r)
{
	X509 *ca = NULL, *x = NULL;
	EVP_PKEY *ca_key = NULL, *pkey = NULL;
	X509_NAME *name = NULL;
	int rc = -1;
	char san[600];
	*error_r = "cannot load the CA (run `sealgate init` again?)";
	if (load_ca(ca_dir, &ca, &ca_key) < 0)
		goto out;
	*error_r = "host name too long for a certificate";
	if (sg_snprintf(san, sizeof(san), "DNS:%s,DNS:localhost,IP:127.0.0.1,IP:::1", hostname) < 0)
		goto out;
	*error_r = "cannot create the server certificate";
	pkey = EVP_EC_gen("P-256");
	name = make_name(hostname, organization);
	x = pkey != NULL && name != NULL ? new_cert(pkey, name, X509_get_subject_name(ca), SERVER_DAYS)
	                                 : NULL;
	if (x == NULL || ca_init_add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    ca_init_add_ext(x, ca, NID_key_usage, "critical,digitalSignature") < 0 ||
	    ca_init_add_ext(x, ca, NID_ext_key_usage, "serverAuth") < 0 ||
	    ca_init_add_ext(x, ca, NID_subject_alt_name, san) < 0 ||
	    ca_init_add_ext(x, ca, NID_subject_key_identifier, "hash") < 0 ||
	    ca_init_add_ext(x, ca, NID_authority_key_identifier, "keyid:always") < 0 ||
	    !X509_sign(x, ca_key, EVP_sha256()))
		goto out;
	*error_r = "cannot write the server certificate files";
	if (write_pem_key(key_path, pkey) < 0 || write_pem_certs(cert_path, x, ca) < 0)
		goto out;
	rc = 0;
out:
	X509_free(x);
	X509_free(ca);
	X509_NAME_free(name);
	EVP_PKEY_free(pkey);
	EVP_PKEY_free(ca_key);
	return rc;
}

/* ca_pkcs12.c: .pfx / .p12 in and out. Two protections on export because no one form is read
 * everywhere: OpenSSL 3's PBES2/AES-256 (modern), and PBE-SHA1-3DES with a SHA-1 MAC, the only
 * one gpgsm 2.2 and older Windows import (notes/test-rig.md part a). */
#include "crypto/ca.h"
#include "crypto/keystore_priv.h"
#include "crypto/keystore_proxy.h"
#include "crypto/smime_priv.h"
#include "core/limits.h"
#include "core/sg_mem.h"

#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <sodium.h>
#include <string.h>

#define PFX_ITER 2048 /* what `openssl pkcs12 -export` uses; the PIN is random, not typed */

void ca_pkcs12_pin(char *dst, size_t dstsize)
{
	static const char alphabet[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	size_t n = dstsize > 21 ? 20 : dstsize - 1;
	for (size_t i = 0; i < n; i++)
		dst[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
	dst[n] = '\0';
}

static STACK_OF(X509) *ca_stack(const unsigned char *ca_der, size_t ca_der_len)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	X509 *x = ca_der != NULL ? smime_priv_x509(ca_der, ca_der_len) : NULL;
	if (sk != NULL && x != NULL && sk_X509_push(sk, x) > 0)
		return sk;
	X509_free(x);
	if (ca_der == NULL)
		return sk;
	sk_X509_free(sk);
	return NULL;
}

int ca_pkcs12_export(const unsigned char *der, size_t der_len, const struct keystore_key *key,
                     const unsigned char *ca_der, size_t ca_der_len, const char *friendly_name,
                     bool legacy, const char *pin, unsigned char **out_r, size_t *out_len_r,
                     const char **error_r)
{
	if (keystore_key_is_proxy(key)) { /* the key is in keyd: the .pfx is built there */
		struct keystore_pkcs12_req req = {der, ca_der, der_len, ca_der_len, friendly_name,
		                                  legacy, pin};
		return keystore_proxy_pkcs12(key, &req, out_r, out_len_r, error_r);
	}
	int nid = legacy ? NID_pbe_WithSHA1And3_Key_TripleDES_CBC : NID_aes_256_cbc;
	X509 *x = smime_priv_x509(der, der_len);
	STACK_OF(X509) *chain = ca_stack(ca_der, ca_der_len);
	PKCS12 *p12 = NULL;
	unsigned char *tmp = NULL;
	int n = -1;
	*error_r = "certificate or CA certificate cannot be read";
	if (x == NULL || chain == NULL)
		goto out;
	*error_r = "cannot build the PKCS#12 file";
	/* mac_iter -1: no MAC yet, so that the MAC digest can be chosen below */
	p12 = PKCS12_create(pin, friendly_name, keystore_key_pkey(key), x, chain, nid, nid, PFX_ITER,
	                    -1, 0);
	if (p12 == NULL ||
	    PKCS12_set_mac(p12, pin, -1, NULL, 0, PFX_ITER, legacy ? EVP_sha1() : EVP_sha256()) != 1)
		goto out;
	n = i2d_PKCS12(p12, &tmp);
	if (n <= 0)
		goto out;
	*out_r = sg_memdup(tmp, (size_t)n);
	*out_len_r = (size_t)n;
out:
	ERR_clear_error();
	OPENSSL_free(tmp);
	PKCS12_free(p12);
	sk_X509_pop_free(chain, X509_free);
	X509_free(x);
	return n > 0 ? 0 : -1;
}

static int take_cert(X509 *x, unsigned char **der_r, size_t *der_len_r)
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

int ca_pkcs12_import(const unsigned char *data, size_t len, const char *password,
                     unsigned char **der_r, size_t *der_len_r, struct keystore_key **key_r,
                     const char **error_r)
{
	if (len == 0 || len > SG_PKCS12_MAX) {
		*error_r = "PKCS#12 file empty or too large";
		return -1;
	}
	const unsigned char *p = data;
	PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)len);
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL;
	STACK_OF(X509) *extra = NULL;
	int rc = -1;
	*error_r = "not a PKCS#12 (.p12/.pfx) file";
	if (p12 == NULL)
		goto out;
	*error_r = "wrong password, or a PKCS#12 protection this OpenSSL does not read (RC2-40)";
	if (PKCS12_verify_mac(p12, password, -1) != 1 ||
	    PKCS12_parse(p12, password, &pkey, &x, &extra) != 1)
		goto out;
	*error_r = "the PKCS#12 file holds no certificate with its private key";
	if (pkey == NULL || x == NULL || X509_check_private_key(x, pkey) != 1 ||
	    take_cert(x, der_r, der_len_r) < 0)
		goto out;
	*key_r = keystore_key_wrap(pkey);
	pkey = NULL;
	rc = 0;
out:
	ERR_clear_error();
	EVP_PKEY_free(pkey);
	X509_free(x);
	sk_X509_pop_free(extra, X509_free);
	PKCS12_free(p12);
	return rc;
}

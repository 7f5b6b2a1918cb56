/* keystore_proxy_meth.c: the RSA_METHOD and EC_KEY_METHOD of proxy keys (keystore_proxy.c).
 * Each copies OpenSSL's own method, so public operations (verify, encrypt) stay local, and
 * replaces the private ones by a request to the key holder. RSA-PSS and raw RSA signatures
 * (priv_enc) are refused: the gateway signs PKCS#1 v1.5 (CMS, DKIM) and ECDSA only. */
#define OPENSSL_SUPPRESS_DEPRECATED /* RSA_METHOD / EC_KEY_METHOD: the only hook OpenSSL 3 keeps */
#include "crypto/keystore_proxy_priv.h"
#include "crypto/keystore_priv.h"
#include "core/sg_log.h"

#include <openssl/ec.h>
#include <openssl/rsa.h>
#include <pthread.h>

static RSA_METHOD *rsa_meth;
static EC_KEY_METHOD *ec_meth;
static int rsa_idx = -1, ec_idx = -1;
static pthread_once_t meth_once = PTHREAD_ONCE_INIT;

static int rsa_sign(int type, const unsigned char *m, unsigned int m_len, unsigned char *sigret,
                    unsigned int *siglen, const RSA *rsa)
{
	const char *md = OBJ_nid2sn(type);
	int n = md != NULL ? keystore_proxy_call(RSA_get_ex_data(rsa, rsa_idx), KEYSTORE_PROXY_SIGN,
	                                         md, m, m_len, sigret, (size_t)RSA_size(rsa))
	                   : -1;
	if (n < 0)
		return 0;
	*siglen = (unsigned int)n;
	return 1;
}

/* OpenSSL's own OAEP check (pkey_rsa_decrypt) asks for RSA_NO_PADDING; nothing else does. */
static int rsa_priv_dec(int flen, const unsigned char *from, unsigned char *to, RSA *rsa,
                        int padding)
{
	const char *pad = padding == RSA_PKCS1_PADDING ? KEYSTORE_PAD_PKCS1
	                  : padding == RSA_NO_PADDING  ? KEYSTORE_PAD_OAEP_RAW
	                                               : NULL;
	if (pad == NULL || flen < 0)
		return -1;
	return keystore_proxy_call(RSA_get_ex_data(rsa, rsa_idx), KEYSTORE_PROXY_DECRYPT, pad, from,
	                           (size_t)flen, to, (size_t)RSA_size(rsa));
}

static int rsa_priv_enc(int flen, const unsigned char *from, unsigned char *to, RSA *rsa,
                        int padding)
{
	(void)flen, (void)from, (void)to, (void)rsa, (void)padding;
	sg_log(SG_LOG_WARN, "raw RSA signatures (RSA-PSS) are not done through the key process");
	return -1;
}

static int ec_sign(int type, const unsigned char *dgst, int dlen, unsigned char *sig,
                   unsigned int *siglen, const BIGNUM *kinv, const BIGNUM *r, EC_KEY *eckey)
{
	(void)type, (void)kinv, (void)r;
	int n = dlen >= 0 ? keystore_proxy_call(EC_KEY_get_ex_data(eckey, ec_idx), KEYSTORE_PROXY_SIGN,
	                                        KEYSTORE_SIGN_ECDSA, dgst, (size_t)dlen, sig,
	                                        (size_t)ECDSA_size(eckey))
	                  : -1;
	if (n < 0)
		return 0;
	*siglen = (unsigned int)n;
	return 1;
}

static int ec_sign_setup(EC_KEY *eckey, BN_CTX *ctx, BIGNUM **kinvp, BIGNUM **rp)
{
	(void)eckey, (void)ctx, (void)kinvp, (void)rp;
	return 0; /* the nonce lives where the key does */
}

static ECDSA_SIG *ec_sign_sig(const unsigned char *dgst, int dlen, const BIGNUM *kinv,
                              const BIGNUM *r, EC_KEY *eckey)
{
	unsigned char der[256];
	unsigned int n = 0;
	if (ECDSA_size(eckey) > (int)sizeof(der) ||
	    ec_sign(0, dgst, dlen, der, &n, kinv, r, eckey) != 1)
		return NULL;
	const unsigned char *p = der;
	return d2i_ECDSA_SIG(NULL, &p, n);
}

static int ec_compute_key(unsigned char **psec, size_t *pseclen, const EC_POINT *pub,
                          const EC_KEY *ecdh)
{
	unsigned char point[256], secret[256];
	size_t plen = EC_POINT_point2oct(EC_KEY_get0_group(ecdh), pub, POINT_CONVERSION_UNCOMPRESSED,
	                                 point, sizeof(point), NULL);
	int n = plen > 0 ? keystore_proxy_call(EC_KEY_get_ex_data(ecdh, ec_idx), KEYSTORE_PROXY_DERIVE,
	                                       NULL, point, plen, secret, sizeof(secret))
	                 : -1;
	if (n <= 0)
		return 0;
	*psec = OPENSSL_memdup(secret, (size_t)n);
	*pseclen = (size_t)n;
	OPENSSL_cleanse(secret, sizeof(secret));
	return *psec != NULL;
}

static void ref_free_cb(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                        void *argp)
{
	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	keystore_proxy_ref_free(ptr);
}

static void meth_init(void)
{
	rsa_meth = RSA_meth_dup(RSA_PKCS1_OpenSSL());
	ec_meth = EC_KEY_METHOD_new(EC_KEY_OpenSSL());
	if (rsa_meth == NULL || ec_meth == NULL)
		sg_fatal("out of memory (key methods)");
	RSA_meth_set1_name(rsa_meth, "sealgate key process");
	RSA_meth_set_sign(rsa_meth, rsa_sign);
	RSA_meth_set_priv_dec(rsa_meth, rsa_priv_dec);
	RSA_meth_set_priv_enc(rsa_meth, rsa_priv_enc);
	EC_KEY_METHOD_set_sign(ec_meth, ec_sign, ec_sign_setup, ec_sign_sig);
	EC_KEY_METHOD_set_compute_key(ec_meth, ec_compute_key);
	rsa_idx = CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_RSA, 0, NULL, NULL, NULL, ref_free_cb);
	ec_idx = CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_EC_KEY, 0, NULL, NULL, NULL, ref_free_cb);
}

/* Gives pk pub's public half as a legacy RSA or EC_KEY with our method and ref attached
 * (*ref is then NULL: the key frees it). */
static int attach(EVP_PKEY *pk, EVP_PKEY *pub, struct keystore_proxy_ref **ref)
{
	bool rsa = EVP_PKEY_is_a(pub, "RSA");
	RSA *r = rsa ? EVP_PKEY_get1_RSA(pub) : NULL;
	EC_KEY *e = !rsa && EVP_PKEY_is_a(pub, "EC") ? EVP_PKEY_get1_EC_KEY(pub) : NULL;
	int ok = r != NULL   ? RSA_set_method(r, rsa_meth) == 1 && RSA_set_ex_data(r, rsa_idx, *ref) == 1
	         : e != NULL ? EC_KEY_set_method(e, ec_meth) == 1 &&
	                           EC_KEY_set_ex_data(e, ec_idx, *ref) == 1
	                     : 0;
	if (ok) {
		*ref = NULL;
		ok = r != NULL ? EVP_PKEY_assign_RSA(pk, r) == 1 : EVP_PKEY_assign_EC_KEY(pk, e) == 1;
	}
	if (!ok) {
		RSA_free(r);
		EC_KEY_free(e);
	}
	return ok ? 0 : -1;
}

EVP_PKEY *keystore_proxy_pkey(EVP_PKEY *pub, struct keystore_proxy_ref *ref,
                              const char **error_r)
{
	pthread_once(&meth_once, meth_init);
	EVP_PKEY *pk = EVP_PKEY_new();
	int rc = pk != NULL ? attach(pk, pub, &ref) : -1;
	keystore_proxy_ref_free(ref);
	if (rc < 0) {
		EVP_PKEY_free(pk);
		*error_r = "key process: the key is neither RSA nor EC, or OpenSSL refused the proxy";
		return NULL;
	}
	return pk;
}

/* The ref of a proxy key; NULL for any other key (provider keys are never ours). */
static struct keystore_proxy_ref *ref_of(EVP_PKEY *pk)
{
	pthread_once(&meth_once, meth_init);
	if (EVP_PKEY_get0_provider(pk) != NULL)
		return NULL;
	const RSA *rsa = EVP_PKEY_is_a(pk, "RSA") ? EVP_PKEY_get0_RSA(pk) : NULL;
	if (rsa != NULL)
		return RSA_get_method(rsa) == rsa_meth ? RSA_get_ex_data(rsa, rsa_idx) : NULL;
	const EC_KEY *ec = EVP_PKEY_is_a(pk, "EC") ? EVP_PKEY_get0_EC_KEY(pk) : NULL;
	return ec != NULL && EC_KEY_get_method(ec) == ec_meth ? EC_KEY_get_ex_data(ec, ec_idx) : NULL;
}

bool keystore_key_is_proxy(const struct keystore_key *key)
{
	return ref_of(keystore_key_pkey(key)) != NULL;
}

int keystore_proxy_pkcs12(const struct keystore_key *key, const struct keystore_pkcs12_req *req,
                          unsigned char **out_r, size_t *out_len_r, const char **error_r)
{
	struct keystore_proxy_ref *ref = ref_of(keystore_key_pkey(key));
	if (ref == NULL || ref->ops->pkcs12 == NULL) {
		*error_r = "this key cannot be exported here";
		return -1;
	}
	return ref->ops->pkcs12(ref->blob, ref->blob_len, ref->owner, req, out_r, out_len_r, error_r);
}

/* smime_trust.c: the trust anchors signatures are verified against (the system store, the
 * instance CA, the partners' CAs an admin trusted), and the instance CA's own CRL. Only chains
 * that end at the instance CA are checked against a CRL: it is the one CA whose revocations we
 * make and always have (ca/crl.pem, rewritten by `cert revoke` and the tick role). The file is
 * read again when it changes, under a lock, because the queue manager's workers share one
 * trust object for the life of the process. */
#include "crypto/smime.h"
#include "crypto/smime_priv.h"
#include "core/sg_file.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct own_ca {
	pthread_mutex_t lock;
	X509 *ca;
	char crl_path[SG_PATH_MAX];
	struct stat seen;     /* the CRL file as last read (st_ino 0: not read yet) */
	X509_STORE *store;    /* the CA and its CRL, CRL_CHECK; NULL: no usable CRL */
	bool missing;         /* no CRL file: nothing revoked yet */
};

struct smime_trust {
	X509_STORE *store;
	struct own_ca *own;
	time_t at; /* verification time, 0: now */
};

struct smime_trust *smime_trust_new(bool system_store)
{
	struct smime_trust *t = sg_calloc(1, sizeof(*t));
	t->store = X509_STORE_new();
	if (t->store == NULL)
		sg_free(&t);
	else if (system_store && X509_STORE_set_default_paths(t->store) != 1)
		ERR_clear_error(); /* no system store: only our anchors */
	return t;
}

void smime_trust_set_time(struct smime_trust *t, time_t when)
{
	t->at = when;
	X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(t->store), when);
}

int smime_trust_add_pem_file(struct smime_trust *t, const char *path, const char **error_r)
{
	if (X509_STORE_load_file(t->store, path) == 1)
		return 0;
	ERR_clear_error();
	*error_r = "cannot read the trust anchor file (PEM certificates expected)";
	return -1;
}

int smime_trust_add_anchor_file(struct smime_trust *t, const char *path, const char **error_r)
{
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return 0;
	return smime_trust_add_pem_file(t, path, error_r) < 0 ? -1 : 1;
}

int smime_trust_add_der(struct smime_trust *t, const unsigned char *der, size_t len,
                        const char **error_r)
{
	X509 *x = smime_priv_x509(der, len);
	int ok = x != NULL && X509_STORE_add_cert(t->store, x) == 1;
	X509_free(x);
	ERR_clear_error();
	if (!ok)
		*error_r = "trust anchor is not a readable certificate";
	return ok ? 0 : -1;
}

int smime_trust_set_own_ca(struct smime_trust *t, const unsigned char *der, size_t len,
                           const char *crl_path, const char **error_r)
{
	X509 *x = smime_priv_x509(der, len);
	if (x == NULL) {
		X509_free(x);
		*error_r = "the instance CA certificate cannot be read";
		return -1;
	}
	struct own_ca *own = sg_calloc(1, sizeof(*own));
	if (sg_strlcpy(own->crl_path, crl_path, sizeof(own->crl_path)) >= sizeof(own->crl_path)) {
		X509_free(x);
		sg_free(&own);
		*error_r = "the CRL path is too long";
		return -1;
	}
	pthread_mutex_init(&own->lock, NULL);
	own->ca = x;
	t->own = own;
	return 0;
}

static void own_free(struct own_ca **op)
{
	struct own_ca *own = *op;
	if (own == NULL)
		return;
	X509_free(own->ca);
	X509_STORE_free(own->store);
	pthread_mutex_destroy(&own->lock);
	sg_free(op);
}

void smime_trust_free(struct smime_trust **tp)
{
	if (*tp == NULL)
		return;
	X509_STORE_free((*tp)->store);
	own_free(&(*tp)->own);
	sg_free(tp);
}

X509_STORE *smime_priv_trust_store(const struct smime_trust *t) { return t->store; }

X509 *smime_priv_trust_issuer(const struct smime_trust *t, X509 *x)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509 *issuer = NULL;
	if (ctx != NULL && X509_STORE_CTX_init(ctx, t->store, x, NULL) == 1 &&
	    X509_STORE_CTX_get1_issuer(&issuer, ctx, x) != 1)
		issuer = NULL;
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return issuer;
}

/* A store of the instance CA and the CRL in pem, checking revocation; NULL if the CRL is
 * not one the CA signed. */
static X509_STORE *own_store_build(X509 *ca, const char *pem, size_t len, time_t at)
{
	BIO *b = smime_priv_mem_bio(pem, len);
	X509_CRL *crl = b != NULL ? PEM_read_bio_X509_CRL(b, NULL, NULL, NULL) : NULL;
	EVP_PKEY *pub = X509_get0_pubkey(ca);
	X509_STORE *s = NULL;
	if (crl != NULL && pub != NULL && X509_CRL_verify(crl, pub) == 1) {
		s = X509_STORE_new();
		if (s != NULL && (X509_STORE_add_cert(s, ca) != 1 || X509_STORE_add_crl(s, crl) != 1)) {
			X509_STORE_free(s);
			s = NULL;
		}
	}
	if (s != NULL) {
		X509_STORE_set_flags(s, X509_V_FLAG_CRL_CHECK);
		if (at != 0)
			X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(s), at);
	}
	X509_CRL_free(crl);
	BIO_free(b);
	ERR_clear_error();
	return s;
}

/* The CA+CRL store as of the file now (a reference the caller frees); NULL with *missing_r
 * when there is no file, NULL alone when it cannot be used. Caller holds own->lock. */
static X509_STORE *own_store_current(const struct smime_trust *t, bool *missing_r)
{
	struct own_ca *own = t->own;
	struct stat st;
	if (stat(own->crl_path, &st) < 0) {
		*missing_r = errno == ENOENT;
		return NULL;
	}
	if (st.st_ino != own->seen.st_ino || st.st_mtim.tv_sec != own->seen.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != own->seen.st_mtim.tv_nsec || st.st_size != own->seen.st_size) {
		char *pem = NULL;
		size_t len = 0;
		const char *err;
		X509_STORE_free(own->store);
		own->store = NULL;
		if (sg_file_read_all(own->crl_path, SG_CRL_FILE_MAX, &pem, &len, &err) == 0)
			own->store = own_store_build(own->ca, pem, len, t->at);
		sg_free(&pem);
		own->seen = st;
	}
	if (own->store != NULL)
		X509_STORE_up_ref(own->store);
	return own->store;
}

int smime_priv_trust_own_revoked(const struct smime_trust *t, X509 *signer, const char **why_r)
{
	if (t->own == NULL || signer == NULL || X509_check_issued(t->own->ca, signer) != X509_V_OK)
		return 0;
	bool missing = false;
	pthread_mutex_lock(&t->own->lock);
	X509_STORE *s = own_store_current(t, &missing);
	pthread_mutex_unlock(&t->own->lock);
	if (s == NULL) {
		*why_r = "the instance CA's CRL cannot be read, so revocation cannot be checked";
		return missing ? 0 : -1;
	}
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int rc = -1, err = X509_V_ERR_UNSPECIFIED;
	if (ctx != NULL && X509_STORE_CTX_init(ctx, s, signer, NULL) == 1) {
		X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SMIME_SIGN);
		rc = X509_verify_cert(ctx) == 1 ? 0 : -1;
		err = X509_STORE_CTX_get_error(ctx);
	}
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(s);
	ERR_clear_error();
	if (rc == 0)
		return 0;
	*why_r = err == X509_V_ERR_CERT_REVOKED
	       ? "the instance CA revoked the signer's certificate"
	       : "the instance CA's CRL is out of date, so revocation cannot be checked";
	return err == X509_V_ERR_CERT_REVOKED ? 1 : -1;
}

int smime_trust_check_chain(const struct smime_trust *t, const unsigned char *der, size_t len,
                            const struct smime_der *extra, size_t nextra, const char **why_r)
{
	X509 *x = smime_priv_x509(der, len);
	STACK_OF(X509) *chain = sk_X509_new_null();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int rc = -1, err = X509_V_ERR_UNSPECIFIED;
	*why_r = "the certificate cannot be read";
	for (size_t i = 0; x != NULL && chain != NULL && i < nextra; i++) {
		X509 *c = smime_priv_x509(extra[i].data, extra[i].len);
		if (c != NULL && sk_X509_push(chain, c) <= 0)
			X509_free(c);
	}
	if (x != NULL && chain != NULL && ctx != NULL &&
	    X509_STORE_CTX_init(ctx, t->store, x, chain) == 1) {
		/* usage (EKU, key usage) is judged by smime_cert_usable: OpenSSL's S/MIME purpose
		 * refuses EC keys that agree rather than encipher */
		rc = X509_verify_cert(ctx) == 1 ? 0 : -1;
		err = X509_STORE_CTX_get_error(ctx);
		*why_r = X509_verify_cert_error_string(err);
	}
	X509_STORE_CTX_free(ctx);
	sk_X509_pop_free(chain, X509_free);
	X509_free(x);
	ERR_clear_error();
	return rc;
}

/* transform_keys.c: the store lookups the transforms share: which certificate to encrypt to
 * or sign with, the gateway-held key of a certificate, and the recipient facts the policy
 * needs to choose a channel. */
#include "queue/transform.h"

#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "core/sg_time.h"
#include "crypto/keystore.h"
#include "crypto/smime.h"
#include "policy/policy.h"
#include "store/store.h"
#include "store/store_dkim.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* Per worker thread: what the store said about the last few addresses. The planner and then
 * the transform ask the same questions about every recipient (four and more queries each, and
 * compiling the SQL costs more than running it). An answer is used only while the store's
 * stamp is unchanged, i.e. nothing was written since (a revoked certificate, a new key or a
 * registration take effect on the next message), and never longer than MEMO_TTL_MS. The
 * transforms get the stored rows and judge a certificate or key anew on every call; the
 * planner's summary (policy_rcpt_info) is kept as made, so a certificate that expires is still
 * planned for at most MEMO_TTL_MS, and then refused by the transform's own check. */
#define MEMO_SLOTS  8
#define MEMO_TTL_MS 2000

struct memo_certs {
	char addr[SG_ADDR_MAX];
	struct store_cert *certs;
	size_t n;
};

struct memo_pgp {
	char addr[SG_ADDR_MAX];
	int rc; /* 1 found, 0 none */
	struct store_pgp_key key;
};

struct memo_info {
	char addr[SG_ADDR_MAX];
	struct policy_rcpt_info info;
};

struct memo_dkim {
	char domain[SG_DOMAIN_MAX + 1];
	struct store_dkim_key *keys; /* with their sealed keys (opened only to sign) */
	size_t n;
};

struct memo {
	struct store_stamp stamp;
	int64_t since_ms;
	bool valid;
	struct memo_certs certs[MEMO_SLOTS];
	struct memo_pgp pgp[MEMO_SLOTS];
	struct memo_info info[MEMO_SLOTS];
	struct memo_dkim dkim[MEMO_SLOTS];
	size_t next_certs, next_pgp, next_info, next_dkim;
};

static pthread_key_t memo_key;
static pthread_once_t memo_once = PTHREAD_ONCE_INIT;

static void memo_clear(struct memo *m)
{
	for (size_t i = 0; i < MEMO_SLOTS; i++) {
		store_cert_list_free(&m->certs[i].certs, m->certs[i].n);
		store_pgp_key_clear(&m->pgp[i].key);
		store_dkim_list_free(&m->dkim[i].keys, m->dkim[i].n);
	}
	memset(m, 0, sizeof(*m));
}

static void memo_free(void *p)
{
	struct memo *m = p;
	memo_clear(m);
	sg_free(&m);
}

static void memo_init(void) { (void)pthread_key_create(&memo_key, memo_free); }

/* This thread's memo, emptied when the store changed or it is too old; NULL (ask the store)
 * when the stamp cannot be read. *stamp_r: the stamp read, for memo_put_ok(). */
static struct memo *memo_get(const struct transform_env *te, struct store_stamp *stamp_r)
{
	struct store_stamp stamp;
	const char *err;
	if (te->store == NULL || store_cert_stamp(te->store, &stamp, &err) < 0)
		return NULL;
	pthread_once(&memo_once, memo_init);
	struct memo *m = pthread_getspecific(memo_key);
	if (m == NULL) {
		m = sg_calloc(1, sizeof(*m));
		if (pthread_setspecific(memo_key, m) != 0) {
			sg_free(&m);
			return NULL;
		}
	}
	int64_t now = sg_mono_ms();
	if (m->valid && (m->stamp.conn != stamp.conn || m->stamp.others != stamp.others ||
	                 m->stamp.ours != stamp.ours ||
	                 now - m->since_ms > MEMO_TTL_MS || now < m->since_ms))
		memo_clear(m);
	if (!m->valid) {
		m->stamp = stamp;
		m->since_ms = now;
		m->valid = true;
	}
	*stamp_r = stamp;
	return m;
}

/* May what was read after stamp was taken be kept? Not if a nested lookup found the store
 * changed meanwhile: the answer may then mix rows from before and after the change. */
static bool memo_put_ok(const struct memo *m, const struct store_stamp *stamp, const char *addr)
{
	return m != NULL && m->valid && m->stamp.conn == stamp->conn &&
	       m->stamp.others == stamp->others && m->stamp.ours == stamp->ours &&
	       strlen(addr) < SG_ADDR_MAX;
}

static void cert_copy(struct store_cert *dst, const struct store_cert *src)
{
	*dst = *src;
	dst->der = src->der != NULL ? sg_memdup(src->der, src->der_len) : NULL;
	dst->caps = src->caps != NULL ? sg_memdup(src->caps, src->caps_len) : NULL;
}

static struct store_cert *certs_copy(const struct store_cert *src, size_t n)
{
	struct store_cert *c = sg_calloc(n > 0 ? n : 1, sizeof(*c));
	for (size_t i = 0; i < n; i++)
		cert_copy(&c[i], &src[i]);
	return c;
}

/* store_cert_list through the memo: the caller frees *certs_r as usual. */
static int list_certs(const struct transform_env *te, const char *addr,
                      struct store_cert **certs_r, size_t *n_r, const char **error_r)
{
	struct store_stamp stamp;
	struct memo *m = memo_get(te, &stamp);
	for (size_t i = 0; m != NULL && i < MEMO_SLOTS; i++) {
		if (m->certs[i].addr[0] != '\0' && strcmp(m->certs[i].addr, addr) == 0) {
			*certs_r = certs_copy(m->certs[i].certs, m->certs[i].n);
			*n_r = m->certs[i].n;
			return 0;
		}
	}
	if (store_cert_list(te->store, addr, certs_r, n_r, error_r) < 0)
		return -1;
	if (memo_put_ok(m, &stamp, addr)) {
		struct memo_certs *e = &m->certs[m->next_certs++ % MEMO_SLOTS];
		store_cert_list_free(&e->certs, e->n);
		sg_strlcpy(e->addr, addr, sizeof(e->addr));
		e->certs = certs_copy(*certs_r, *n_r);
		e->n = *n_r;
	}
	return 0;
}

static void pgp_copy(struct store_pgp_key *dst, const struct store_pgp_key *src)
{
	*dst = *src;
	dst->keydata = src->keydata != NULL ? sg_memdup(src->keydata, src->keydata_len) : NULL;
}

/* addr's first-ranking active key, through the memo. */
static int pgp_find_active(const struct transform_env *te, const char *addr,
                           struct store_pgp_key *key_r, const char **why_r)
{
	memset(key_r, 0, sizeof(*key_r));
	*why_r = "no OpenPGP key";
	if (te->store == NULL)
		return -1;
	struct store_stamp stamp;
	struct memo *m = memo_get(te, &stamp);
	for (size_t i = 0; m != NULL && i < MEMO_SLOTS; i++) {
		if (m->pgp[i].addr[0] != '\0' && strcmp(m->pgp[i].addr, addr) == 0) {
			if (m->pgp[i].rc == 1)
				pgp_copy(key_r, &m->pgp[i].key);
			return m->pgp[i].rc;
		}
	}
	int rc = store_pgp_find_active(te->store, addr, key_r, why_r);
	if (rc >= 0 && memo_put_ok(m, &stamp, addr)) {
		struct memo_pgp *e = &m->pgp[m->next_pgp++ % MEMO_SLOTS];
		store_pgp_key_clear(&e->key);
		sg_strlcpy(e->addr, addr, sizeof(e->addr));
		e->rc = rc;
		if (rc == 1)
			pgp_copy(&e->key, key_r);
	}
	if (rc == 0)
		*why_r = "no OpenPGP key";
	return rc;
}

int transform_pgp_find(const struct transform_env *te, const char *addr,
                       struct store_pgp_key *key_r, const char **why_r)
{
	int rc = pgp_find_active(te, addr, key_r, why_r);
	/* A trusted key ranks first, so this one is the best there is: an Autocrypt header that
	 * anyone could have written (issue 21) encrypts only where the admin allowed it. */
	if (rc == 1 && !store_pgp_key_trusted(key_r) && !te->autocrypt_encrypt) {
		store_pgp_key_clear(key_r);
		*why_r = "only a key learned from Autocrypt (pgp.autocrypt_encrypt = no)";
		rc = 0;
	}
	/* below every stored key: one that key discovery found (lookup_cache) */
	if (rc == 0 && transform_discovered_pgp(te, addr, key_r, why_r) == 1)
		rc = 1;
	return rc;
}

static struct store_dkim_key *dkim_copy(const struct store_dkim_key *src, size_t n)
{
	struct store_dkim_key *k = sg_calloc(n > 0 ? n : 1, sizeof(*k));
	for (size_t i = 0; i < n; i++) {
		k[i] = src[i];
		k[i].dns = src[i].dns != NULL ? sg_strdup(src[i].dns) : NULL;
		k[i].sealed = src[i].sealed != NULL ? sg_memdup(src[i].sealed, src[i].sealed_len)
		                                    : NULL;
	}
	return k;
}

int transform_dkim_keys(const struct transform_env *te, const char *domain,
                        struct store_dkim_key **keys_r, size_t *n_r, const char **error_r)
{
	struct store_stamp stamp;
	struct memo *m = memo_get(te, &stamp);
	for (size_t i = 0; m != NULL && i < MEMO_SLOTS; i++) {
		const struct memo_dkim *e = &m->dkim[i];
		if (e->domain[0] != '\0' && strcmp(e->domain, domain) == 0) {
			*keys_r = dkim_copy(e->keys, e->n);
			*n_r = e->n;
			return 0;
		}
	}
	if (store_dkim_list(te->store, domain, true, keys_r, n_r, error_r) < 0)
		return -1;
	if (memo_put_ok(m, &stamp, domain) && strlen(domain) <= SG_DOMAIN_MAX) {
		struct memo_dkim *e = &m->dkim[m->next_dkim++ % MEMO_SLOTS];
		store_dkim_list_free(&e->keys, e->n);
		sg_strlcpy(e->domain, domain, sizeof(e->domain));
		e->keys = dkim_copy(*keys_r, *n_r);
		e->n = *n_r;
	}
	return 0;
}

/* smime.revocation_check: a partner's certificate that its OCSP responder or CRL calls
 * revoked is never encrypted to; with hard, neither is one whose status nobody could tell.
 * Ours (issued, proxy) are judged by the store's revocation record instead. */
static bool revocation_refuses(const struct transform_env *te, const char *addr,
                               const struct store_cert *c, const char **why_r)
{
	if (te->revocation_check == SMIME_REV_OFF || te->trust == NULL ||
	    c->source == STORE_CERT_ISSUED || c->source == STORE_CERT_PROXY)
		return false;
	char how[160];
	enum smime_rev_status st = smime_revocation_status(te->trust, c->der, c->der_len, how,
	                                                   sizeof(how));
	if (st == SMIME_REV_REVOKED) {
		sg_warn("certificate %s of %s is revoked (%s): mail is not encrypted to it",
		        c->serial, addr, how);
		*why_r = "its certificate is revoked";
		return true;
	}
	if (st != SMIME_REV_UNKNOWN)
		return false;
	bool hard = te->revocation_check == SMIME_REV_HARD;
	sg_warn("revocation status of certificate %s of %s unknown (%s); smime.revocation_check = "
	        "%s: %s", c->serial, addr, how, hard ? "hard" : "soft",
	        hard ? "mail is not encrypted to it" : "encrypting to it anyway");
	*why_r = "the revocation status of its certificate cannot be checked";
	return hard;
}

/* May c be used for usage now? */
static bool cert_fits(const struct transform_env *te, const char *addr, int usage, bool need_key,
                      const struct store_cert *c, const char **why_r)
{
	const char *why;
	if (need_key && !c->has_key)
		return false;
	/* A proxy certificate is ours, published for Outlook: the partner cannot read what is
	 * encrypted to it, so it is never the one we encrypt to. */
	if (usage == SMIME_USAGE_ENCRYPT && c->source == STORE_CERT_PROXY)
		return false;
	if (smime_cert_usable(c->der, c->der_len, (enum smime_usage)usage, sg_wall(), c->revoked_at,
	                      &why) < 0) {
		*why_r = why;
		return false;
	}
	return usage != SMIME_USAGE_ENCRYPT || !revocation_refuses(te, addr, c, why_r);
}

int transform_find_cert(const struct transform_env *te, const char *addr, int usage,
                        bool need_key, struct store_cert *cert_r, const char **why_r)
{
	struct store_cert *certs = NULL;
	size_t n = 0;
	*why_r = "no certificate";
	if (te->store == NULL || list_certs(te, addr, &certs, &n, why_r) < 0)
		return -1;
	int found = 0;
	for (size_t i = 0; i < n && !found; i++) { /* newest first */
		if (!cert_fits(te, addr, usage, need_key, &certs[i], why_r))
			continue;
		*cert_r = certs[i];
		memset(&certs[i], 0, sizeof(certs[i]));
		found = 1;
	}
	store_cert_list_free(&certs, n);
	/* below every stored certificate: one that key discovery found (lookup_cache) */
	if (!found && usage == SMIME_USAGE_ENCRYPT && !need_key &&
	    transform_discovered_cert(te, addr, cert_r, why_r) == 1) {
		found = cert_fits(te, addr, usage, false, cert_r, why_r);
		if (!found)
			store_cert_clear(cert_r);
	}
	return found;
}

int transform_cert_key(const struct transform_env *te, const struct store_cert *cert,
                       struct keystore_key **key_r, const char **error_r)
{
	unsigned char *sealed = NULL;
	size_t len = 0;
	char owner[80];
	snprintf(owner, sizeof(owner), "cert:%s", cert->fingerprint);
	*error_r = "no gateway-held key for this certificate";
	if (te->keystore == NULL)
		return -1;
	int rc = store_key_get(te->store, cert->id, &sealed, &len, error_r);
	if (rc == 1)
		rc = keystore_unseal(te->keystore, sealed, len, owner, key_r, error_r) == 0 ? 1 : -1;
	sg_free(&sealed);
	return rc == 1 ? 0 : -1;
}

/* Per worker thread: the last few signing keys, by certificate fingerprint. Unsealing and
 * decoding a key (OpenSSL 3's PKCS#8 decoder) costs more than the signature itself; whether the
 * certificate may still be used is checked on every message before the cache is asked. */
#define SIGNER_CACHE 16

struct signer_cache {
	char fpr[SIGNER_CACHE][65];
	struct keystore_key *key[SIGNER_CACHE];
	size_t next;
};

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_free(void *p)
{
	struct signer_cache *c = p;
	for (size_t i = 0; i < SIGNER_CACHE; i++)
		keystore_key_free(&c->key[i]);
	sg_free(&c);
}

static void cache_init(void) { (void)pthread_key_create(&cache_key, cache_free); }

const struct keystore_key *transform_signing_key(const struct transform_env *te,
                                                 const struct store_cert *cert,
                                                 const char **error_r)
{
	pthread_once(&cache_once, cache_init);
	struct signer_cache *c = pthread_getspecific(cache_key);
	if (c == NULL) {
		c = sg_calloc(1, sizeof(*c));
		(void)pthread_setspecific(cache_key, c);
	}
	for (size_t i = 0; i < SIGNER_CACHE; i++)
		if (c->key[i] != NULL && strcmp(c->fpr[i], cert->fingerprint) == 0)
			return c->key[i];
	struct keystore_key *key = NULL;
	if (transform_cert_key(te, cert, &key, error_r) < 0)
		return NULL;
	size_t slot = c->next++ % SIGNER_CACHE;
	keystore_key_free(&c->key[slot]);
	c->key[slot] = key;
	sg_strlcpy(c->fpr[slot], cert->fingerprint, sizeof(c->fpr[slot]));
	return key;
}

/* The recipient domain's certificate and key (policy_domain.c) and its chosen channel. */
static void lookup_domain(const struct transform_env *te, const char *addr,
                          struct policy_rcpt_info *info_r)
{
	char owner[POLICY_DOMAIN_OWNER_MAX];
	struct store_user user;
	const char *why;
	if (policy_domain_owner(addr, owner, sizeof(owner)) < 0 ||
	    store_user_find(te->store, owner, &user, &why) != 1)
		return;
	enum policy_channel ch;
	if (policy_channel_parse(user.channel, &ch) == 0)
		info_r->domain_channel = ch;
	struct store_cert cert;
	if (transform_find_cert(te, owner, SMIME_USAGE_ENCRYPT, false, &cert, &why) == 1) {
		info_r->domain_smime = true;
		store_cert_clear(&cert);
	}
	struct store_pgp_key key;
	if (transform_pgp_find(te, owner, &key, &why) == 1) {
		info_r->domain_pgp = key.expires == 0 || key.expires > sg_wall();
		store_pgp_key_clear(&key);
	}
}

static int lookup_store(const struct transform_env *te, const char *addr,
                        struct policy_rcpt_info *info_r)
{
	struct store_user user;
	const char *err;
	int rc = store_user_find(te->store, addr, &user, &err);
	if (rc < 0) {
		sg_warn("store lookup of a recipient failed: %s", err);
		return -1;
	}
	if (rc == 1) {
		info_r->known = true;
		enum policy_channel ch;
		if (policy_channel_parse(user.channel, &ch) == 0)
			info_r->channel = ch;
	}
	struct store_cert cert;
	const char *why;
	if (transform_find_cert(te, addr, SMIME_USAGE_ENCRYPT, false, &cert, &why) == 1) {
		info_r->smime_usable = true;
		store_cert_clear(&cert);
	}
	info_r->pdf_ready = store_pdf_key_get(te->store, addr, NULL, NULL, &why) == 1;
	struct store_pgp_key key;
	if (transform_pgp_find(te, addr, &key, &why) == 1) {
		info_r->pgp_usable = key.expires == 0 || key.expires > sg_wall();
		store_pgp_key_clear(&key);
	}
	lookup_domain(te, addr, info_r);
	return 0;
}

const char *transform_key_owner(const struct transform_input *in, size_t i, char *dst,
                                size_t size)
{
	if (!in->plan->via_domain || policy_domain_owner(in->rcpts[i], dst, size) < 0)
		return in->rcpts[i];
	return dst;
}

int transform_lookup(void *ctx, const char *addr, struct policy_rcpt_info *info_r)
{
	const struct transform_env *te = ctx;
	*info_r = (struct policy_rcpt_info){0};
	if (te == NULL || te->store == NULL)
		return 0;
	struct store_stamp stamp;
	struct memo *m = memo_get(te, &stamp);
	for (size_t i = 0; m != NULL && i < MEMO_SLOTS; i++) {
		if (m->info[i].addr[0] != '\0' && strcmp(m->info[i].addr, addr) == 0) {
			*info_r = m->info[i].info;
			return 0;
		}
	}
	if (lookup_store(te, addr, info_r) < 0)
		return -1;
	if (memo_put_ok(m, &stamp, addr)) {
		struct memo_info *e = &m->info[m->next_info++ % MEMO_SLOTS];
		sg_strlcpy(e->addr, addr, sizeof(e->addr));
		e->info = *info_r;
	}
	return 0;
}

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

#include <pthread.h>
#include <stdio.h>
#include <string.h>

int transform_find_cert(const struct transform_env *te, const char *addr, int usage,
                        bool need_key, struct store_cert *cert_r, const char **why_r)
{
	struct store_cert *certs = NULL;
	size_t n = 0;
	*why_r = "no certificate";
	if (te->store == NULL || store_cert_list(te->store, addr, &certs, &n, why_r) < 0)
		return -1;
	int found = 0;
	time_t now = sg_wall();
	for (size_t i = 0; i < n && !found; i++) { /* newest first */
		const char *why;
		if (need_key && !certs[i].has_key)
			continue;
		/* A proxy certificate is ours, published for Outlook: the partner cannot read what
		 * is encrypted to it, so it is never the one we encrypt to. */
		if (usage == SMIME_USAGE_ENCRYPT && certs[i].source == STORE_CERT_PROXY)
			continue;
		if (smime_cert_usable(certs[i].der, certs[i].der_len, (enum smime_usage)usage, now,
		                      certs[i].revoked_at, &why) < 0) {
			*why_r = why;
			continue;
		}
		*cert_r = certs[i];
		memset(&certs[i], 0, sizeof(certs[i]));
		found = 1;
	}
	store_cert_list_free(&certs, n);
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

int transform_lookup(void *ctx, const char *addr, struct policy_rcpt_info *info_r)
{
	const struct transform_env *te = ctx;
	*info_r = (struct policy_rcpt_info){0};
	if (te == NULL || te->store == NULL)
		return 0;
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
	if (store_pgp_find_active(te->store, addr, &key, &why) == 1) {
		info_r->pgp_usable = key.expires == 0 || key.expires > sg_wall();
		store_pgp_key_clear(&key);
	}
	return 0;
}

/* transform_dkim.c: the DKIM signature on what leaves, made after every change sealgate made
 * (an upstream server's signature cannot survive encryption; ours is the one receivers see).
 * Which messages: dkim.sign = transformed signs what a transform changed (any action but
 * pass) and what sealgate wrote itself (DSNs, notices); all adds pass-through mail. Mail for
 * internal recipients is not signed (ARC is the tool for that), except what sealgate wrote. */
#include "queue/transform.h"

#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "crypto/keystore.h"
#include "crypto/sgdkim.h"
#include "mime/mime.h"
#include "policy/policy.h"
#include "store/store_dkim.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define UNSIGNED_LOGGED_MAX 256 /* domains remembered for the once-per-domain log line */
#define PRUNE_SELECTORS_MAX    16  /* selectors of one domain looked at (the store holds two) */

static pthread_mutex_t logged_lock = PTHREAD_MUTEX_INITIALIZER;
static char *logged[UNSIGNED_LOGGED_MAX];
static size_t nlogged;

void transform_dkim_no_key(const char *qid, const char *what, const char *domain)
{
	char key[SG_DOMAIN_MAX + 64];
	snprintf(key, sizeof(key), "%s %s", what, domain);
	bool first = true;
	pthread_mutex_lock(&logged_lock);
	for (size_t i = 0; i < nlogged && first; i++)
		first = strcmp(logged[i], key) != 0;
	if (first && nlogged < UNSIGNED_LOGGED_MAX)
		logged[nlogged++] = sg_strdup(key);
	pthread_mutex_unlock(&logged_lock);
	char k[SG_LOG_PEER_TEXT_MAX + 4];
	sg_printable(k, sizeof(k), key, SG_LOG_PEER_TEXT_MAX);
	if (first)
		sg_info("%s: %s: no key for it (`sealgate dkim generate` makes one; this is said once "
		        "per domain)", qid, k);
}

static bool wanted(const struct transform_env *te, const struct transform_input *in)
{
	if (te == NULL || te->dkim_mode == TRANSFORM_DKIM_OFF || te->dkim_lib == NULL)
		return false;
	if (!in->generated && in->plan->direction != POLICY_DIR_OUTBOUND)
		return false;
	return te->dkim_mode == TRANSFORM_DKIM_ALL || in->generated ||
	       in->plan->action != POLICY_PASS;
}

/* The From domain, lower-cased into dst: 0, or -1 when there is none worth a key. */
static int from_domain(const struct transform_input *in, char *dst, size_t size)
{
	const char *from = in->mime != NULL ? in->mime->from : NULL;
	const char *at = from != NULL ? strrchr(from, '@') : NULL;
	if (at == NULL || at[1] == '\0' || strlen(at + 1) >= size)
		return -1;
	sg_strlcpy(dst, at + 1, size);
	sg_ascii_lower(dst);
	return 0;
}

int transform_dkim_open_key(const struct transform_env *te, const struct store_dkim_key *k,
                            struct sgdkim_key *key_r, const char **error_r)
{
	char owner[SG_DOMAIN_MAX + SG_DKIM_SELECTOR_MAX + 8];
	unsigned char *pem = NULL;
	size_t pem_len = 0;
	*key_r = (struct sgdkim_key){.domain = k->domain, .selector = k->selector};
	snprintf(owner, sizeof(owner), "dkim:%s:%s", k->domain, k->selector);
	if (te->keystore == NULL) {
		*error_r = "the master key is not loaded";
		return -1;
	}
	if (sgdkim_alg_parse(k->alg, &key_r->alg) < 0 ||
	    keystore_unseal_bytes(te->keystore, k->sealed, k->sealed_len, owner, &pem, &pem_len,
	                          error_r) < 0) {
		*error_r = "the sealed key does not open with this master key";
		return -1;
	}
	char *z = sg_malloc(pem_len + 1); /* libopendkim wants a C string */
	memcpy(z, pem, pem_len);
	z[pem_len] = '\0';
	sg_free_secret(&pem, pem_len);
	key_r->pem = z;
	key_r->pem_len = pem_len;
	return 0;
}

void transform_dkim_close_key(struct sgdkim_key *key)
{
	char *z = (char *)key->pem;
	sg_free_secret(&z, key->pem_len + 1);
	key->pem = NULL;
}

/* Appends k's DKIM-Signature over msg to sigs, with k's key as parsed for the last message
 * (unsealed and parsed only when the stored row is new to this queue manager). */
static int sign_with(const struct transform_env *te, const struct store_dkim_key *k,
                     const char *msg, size_t len, struct sg_buf *sigs, const char **error_r)
{
	struct sgdkim_signer s;
	if (sgdkim_cache_find(te->dkim_lib, k->domain, k->selector, k->sealed, k->sealed_len,
	                      &s) == 0) {
		struct sgdkim_key key;
		if (transform_dkim_open_key(te, k, &key, error_r) < 0)
			return -1;
		int rc = sgdkim_cache_add(te->dkim_lib, &key, k->sealed, k->sealed_len, &s, error_r);
		transform_dkim_close_key(&key);
		if (rc < 0)
			return -1;
	}
	int rc = sgdkim_sign_with(te->dkim_lib, &s, msg, len, sigs, error_r);
	sgdkim_signer_release(&s);
	return rc;
}

/* Forgets the parsed keys of domain that the store no longer has (deleted, rotated out). */
static void forget_removed(const struct transform_env *te, const char *domain,
                           const struct store_dkim_key *keys, size_t n)
{
	const char *selectors[PRUNE_SELECTORS_MAX];
	size_t m = 0;
	for (size_t i = 0; i < n && m < PRUNE_SELECTORS_MAX; i++)
		selectors[m++] = keys[i].selector;
	sgdkim_cache_prune(te->dkim_lib, domain, selectors, m);
}

/* Signs out with every key of domain (two while a rotation overlaps); the result replaces
 * out's bytes. Signatures that came with a changed message cannot verify any more: dropped. */
static int sign_all(const struct transform_env *te, const struct transform_input *in,
                    const struct store_dkim_key *keys, size_t n, struct transform_output *out,
                    const char **error_r)
{
	static const char *const old_sigs[] = {"DKIM-Signature"};
	struct sg_buf sigs;
	sg_buf_init(&sigs, (size_t)SG_DKIM_FIELD_MAX * SG_DKIM_KEYS_PER_DOMAIN + 1);
	size_t from = n > SG_DKIM_KEYS_PER_DOMAIN ? n - SG_DKIM_KEYS_PER_DOMAIN : 0;
	int rc = 0;
	for (size_t i = from; i < n && rc == 0; i++)
		rc = sign_with(te, &keys[i], out->data, out->len, &sigs, error_r);
	if (rc == 0 && sg_buf_append(&sigs, "", 1) == 0) {
		bool changed = in->plan->action != POLICY_PASS;
		struct mime_edit e = {.drop = old_sigs, .ndrop = changed ? 1 : 0,
		                      .keep = MIME_KEEP_ALL, .prepend = sigs.data, .with_body = true};
		rc = transform_output_edit(out, &e, error_r);
	}
	sg_buf_free(&sigs);
	return rc;
}

enum transform_result transform_dkim(const struct transform_env *te,
                                     const struct transform_input *in,
                                     struct transform_output *out)
{
	char domain[SG_DOMAIN_MAX + 1];
	if (!wanted(te, in) || from_domain(in, domain, sizeof(domain)) < 0)
		return TRANSFORM_OK;
	if (te->dkim_domains.count > 0 && !sg_strlist_contains_nocase(&te->dkim_domains, domain))
		return TRANSFORM_OK;
	struct store_dkim_key *keys = NULL;
	size_t n = 0;
	const char *err;
	if (te->store == NULL || transform_dkim_keys(te, domain, &keys, &n, &err) < 0)
		return transform_fail(out, TRANSFORM_TEMP, "4.3.0", "DKIM keys not readable: %s",
		                      te->store == NULL ? "the store is not open" : err);
	enum transform_result tr = TRANSFORM_OK;
	forget_removed(te, domain, keys, n);
	if (n == 0)
		transform_dkim_no_key(in->queue_id, "dkim: unsigned, From domain", domain);
	else if (sign_all(te, in, keys, n, out, &err) < 0)
		tr = transform_fail(out, TRANSFORM_TEMP, "4.3.0", "DKIM signing for %s failed: %s",
		                    domain, err);
	store_dkim_list_free(&keys, n);
	if (tr != TRANSFORM_OK)
		sg_error("%s: %s", in->queue_id, out->reason);
	return tr;
}

/* transform_pgp.c: OpenPGP on the mail path. Outbound, the entity is encrypted (and signed
 * with the sender's gateway-held key) as PGP/MIME to every recipient of the group. Inbound,
 * PGP/MIME and inline PGP encrypted to a gateway-held key are decrypted and signatures are
 * verified against the keys the store holds. Outbound keeps one RNP context per worker thread
 * (RNP contexts are not thread-safe) with the keys it has loaded: loading and validating a key
 * costs more than encrypting 100 KB. A fingerprint names the same primary key forever, but not
 * the same subkeys: the context is started afresh when the store changed. Whether a key may
 * still be used is asked of the store on every message. */
#include "queue/transform.h"

#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "core/sg_time.h"
#include "crypto/pgp.h"
#include "mime/mime.h"
#include "policy/policy.h"
#include "store/store.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* Messages a thread context serves before it is started afresh: bounds the keys it holds. */
#define PGP_THREAD_CTX_USES 256

/* A thread's context holds the keys it loaded, and pgp_seipd.c's recipient cache the
 * encryption subkey it chose per primary fingerprint: both are dropped when the store changed
 * (its stamp, as for transform_keys.c's memo), so that a key re-imported under the same
 * fingerprint with a new or revoked subkey is used as it now is on the next message. */
struct thread_ctx {
	struct pgp_ctx *ctx;
	size_t uses;
	struct store_stamp stamp; /* the store's stamp at this thread's last message */
};

static pthread_key_t ctx_key;
static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;

static void thread_ctx_free(void *p)
{
	struct thread_ctx *tc = p;
	pgp_ctx_free(&tc->ctx);
	sg_free(&tc);
}

static void ctx_key_init(void) { (void)pthread_key_create(&ctx_key, thread_ctx_free); }

/* True if the store is as it was at *stamp (an unreadable stamp counts as a change). */
static bool store_unchanged(const struct transform_env *te, struct store_stamp *stamp)
{
	struct store_stamp now;
	const char *err;
	if (te->store == NULL || store_cert_stamp(te->store, &now, &err) < 0) {
		memset(stamp, 0, sizeof(*stamp));
		return false;
	}
	bool same = now.conn == stamp->conn && now.others == stamp->others && now.ours == stamp->ours;
	*stamp = now;
	return same;
}

/* This thread's context, created or renewed as needed; NULL with *err on failure. */
static struct pgp_ctx *thread_ctx(const struct transform_env *te, const char **err)
{
	pthread_once(&ctx_once, ctx_key_init);
	struct thread_ctx *tc = pthread_getspecific(ctx_key);
	if (tc == NULL) {
		tc = sg_calloc(1, sizeof(*tc));
		(void)pthread_setspecific(ctx_key, tc);
	}
	bool unchanged = store_unchanged(te, &tc->stamp);
	if (tc->ctx != NULL && (tc->uses >= PGP_THREAD_CTX_USES || !unchanged)) {
		pgp_ctx_free(&tc->ctx);
		tc->uses = 0;
	}
	if (tc->ctx == NULL && pgp_ctx_new(&tc->ctx, err) < 0)
		return NULL;
	tc->uses++;
	return tc->ctx;
}

/* Loads addr's active public key into ctx; fpr_r gets its fingerprint. 1, 0 none, -1 error. */
static int load_public(const struct transform_env *te, struct pgp_ctx *ctx, const char *addr,
                       char *fpr_r, const char **why_r)
{
	struct store_pgp_key key;
	*why_r = "no OpenPGP key";
	if (te->store == NULL)
		return -1;
	int rc = transform_pgp_find(te, addr, &key, why_r);
	if (rc != 1)
		return rc;
	if (key.expires != 0 && key.expires <= sg_wall()) {
		*why_r = "the OpenPGP key has expired";
		rc = 0;
	} else if (!pgp_ctx_has_key(ctx, key.fingerprint, false) &&
	           pgp_ctx_load_public(ctx, key.keydata, key.keydata_len, why_r) < 0) {
		rc = -1;
	} else {
		sg_strlcpy(fpr_r, key.fingerprint, PGP_FPR_MAX);
		if (key.source == STORE_PGP_DISCOVERED)
			sg_info("to=<%s>: encrypted to a discovered OpenPGP key (%s; policy.key_lookup)",
			        key.address, key.fingerprint);
	}
	store_pgp_key_clear(&key);
	return rc;
}

int transform_pgp_load_public(const struct transform_env *te, struct pgp_ctx *ctx,
                              const char *addr, char *fpr_r, const char **why_r)
{
	return load_public(te, ctx, addr, fpr_r, why_r);
}

/* Unseals the secret key fpr into ctx unless it is there already: 0, or -1 with *why_r. */
static int unseal_held(const struct transform_env *te, struct pgp_ctx *ctx, const char *fpr,
                       const char **why_r)
{
	if (pgp_ctx_has_key(ctx, fpr, true))
		return 0; /* unsealed earlier in this thread */
	unsigned char *blob = NULL;
	size_t len = 0;
	int rc = store_pgp_secret_get(te->store, fpr, &blob, &len, why_r);
	if (rc == 0)
		*why_r = "the sealed OpenPGP key is gone";
	if (rc == 1 && pgp_secret_unseal(ctx, te->keystore, fpr, blob, len, why_r) == 0)
		rc = 0;
	else
		rc = -1;
	sg_free(&blob);
	return rc;
}

int transform_pgp_load_secret(const struct transform_env *te, struct pgp_ctx *ctx,
                              const char *addr, char *fpr_r, const char **why_r)
{
	struct store_pgp_key *keys = NULL;
	size_t n = 0, held = 0;
	const char *fprs[SG_PGP_HELD_MAX];
	time_t now = sg_wall();
	fpr_r[0] = '\0';
	*why_r = "no store or master key here";
	if (te->store == NULL || te->keystore == NULL ||
	    store_pgp_list(te->store, addr, &keys, &n, why_r) < 0)
		return -1;
	for (size_t i = 0; i < n && held < SG_PGP_HELD_MAX; i++) {
		const char *why;
		if (!store_pgp_key_held(&keys[i], now))
			continue;
		if (unseal_held(te, ctx, keys[i].fingerprint, &why) == 0)
			fprs[held++] = keys[i].fingerprint;
		else
			sg_warn("OpenPGP key %s of <%s> not usable: %s", keys[i].fingerprint, addr, why);
	}
	int best = pgp_pick_signer(ctx, fprs, held, now, true);
	if (best >= 0)
		sg_strlcpy(fpr_r, fprs[best], PGP_FPR_MAX);
	*why_r = held == 0 ? "no gateway-held OpenPGP key" : "no gateway-held key that can sign";
	store_pgp_list_free(&keys, n);
	return best >= 0 ? 1 : 0;
}

struct pgp_out {
	const struct transform_env *te;
	const struct transform_input *in;
	struct transform_output *out;
	struct pgp_ctx *ctx;
	char (*fprs)[PGP_FPR_MAX];
	size_t nfprs;
	char signer[PGP_FPR_MAX];
};

/* Loads every recipient's key (or its domain's: one key serves the whole domain, so it is
 * named once); po->nfprs counts the distinct keys. */
static enum transform_result load_recipients(struct pgp_out *po)
{
	po->fprs = sg_calloc(po->in->nrcpt, sizeof(*po->fprs));
	for (size_t i = 0; i < po->in->nrcpt; i++) {
		const char *why;
		char owner[POLICY_DOMAIN_OWNER_MAX];
		const char *whose = transform_key_owner(po->in, i, owner, sizeof(owner));
		int rc = load_public(po->te, po->ctx, whose, po->fprs[po->nfprs], &why);
		if (rc < 0)
			return transform_fail(po->out, TRANSFORM_TEMP, "4.3.0", "OpenPGP key store: %s",
			                      why);
		if (rc == 0)
			return transform_fail(po->out, TRANSFORM_PERM, "5.7.1",
			                      "this message had to be encrypted but %s has no usable OpenPGP "
			                      "key any more (%s); it was not sent", whose, why);
		bool seen = false;
		for (size_t k = 0; k < po->nfprs && !seen; k++)
			seen = strcmp(po->fprs[k], po->fprs[po->nfprs]) == 0;
		if (!seen)
			po->nfprs++;
	}
	return TRANSFORM_OK;
}

static void load_signer(struct pgp_out *po)
{
	const char *why;
	if (transform_pgp_load_secret(po->te, po->ctx, po->in->sender, po->signer, &why) != 1) {
		po->signer[0] = '\0';
		sg_info("%s: not signed: the sender has no gateway-held OpenPGP key (%s)",
		        po->in->queue_id, why);
	}
}

static enum transform_result encrypt(struct pgp_out *po, const char *plain, size_t plain_len)
{
	struct sg_buf entity;
	sg_buf_init(&entity, SG_MESSAGE_SIZE_HARD_MAX);
	const char **fprs = sg_calloc(po->nfprs, sizeof(*fprs));
	for (size_t i = 0; i < po->nfprs; i++)
		fprs[i] = po->fprs[i];
	char *enc = NULL;
	size_t enc_len = 0;
	const char *err;
	enum transform_result res = TRANSFORM_OK;
	if (transform_hp_entity(po->te, plain, plain_len, &entity, &err) < 0)
		res = transform_fail(po->out, TRANSFORM_PERM, "5.3.4", "%s", err);
	else if (pgp_encrypt_mime(po->ctx, fprs, po->nfprs, po->signer[0] ? po->signer : NULL,
	                          entity.data, entity.len, &enc, &enc_len, &err) < 0)
		res = transform_fail(po->out, TRANSFORM_TEMP, "4.7.0", "cannot encrypt: %s", err);
	else if (transform_hp_join(po->te, plain, plain_len, enc, enc_len, &po->out->buf, &err) < 0 ||
	         transform_mark_via(po->in, "pgp", po->out, &err) < 0)
		res = transform_fail(po->out, TRANSFORM_PERM, "5.3.4", "%s", err);
	sg_free(&enc);
	sg_free(&fprs);
	sg_buf_free_secret(&entity);
	return res;
}

enum transform_result transform_pgp(const struct transform_env *te,
                                    const struct transform_input *in,
                                    struct transform_output *out)
{
	struct pgp_out po = {.te = te, .in = in, .out = out};
	struct sg_buf plain_buf;
	sg_buf_init(&plain_buf, SG_MESSAGE_SIZE_HARD_MAX);
	const char *plain, *err;
	size_t plain_len;
	int prc = transform_plaintext(te, in, &plain_buf, &plain, &plain_len, &err);
	if (prc == 1) {
		sg_buf_free(&plain_buf);
		return transform_pass(te, in, out);
	}
	enum transform_result res = TRANSFORM_OK;
	if (prc < 0)
		res = transform_fail(out, TRANSFORM_PERM, "5.7.1",
		                     "the message was encrypted and cannot be read here: %s", err);
	else if ((po.ctx = thread_ctx(te, &err)) == NULL)
		res = transform_fail(out, TRANSFORM_TEMP, "4.3.0", "OpenPGP: %s", err);
	if (res == TRANSFORM_OK)
		res = load_recipients(&po);
	if (res == TRANSFORM_OK && in->plan->sign)
		load_signer(&po);
	if (res == TRANSFORM_OK)
		res = encrypt(&po, plain, plain_len);
	if (res == TRANSFORM_OK)
		res = transform_check_size(te, out);
	if (res == TRANSFORM_OK) {
		out->data = out->buf.data;
		out->len = out->buf.len;
		sg_info("%s: PGP/MIME encrypted for %zu recipient(s) with %zu key(s)%s; %s",
		        in->queue_id, in->nrcpt, po.nfprs, po.signer[0] ? ", signed" : "",
		        in->plan->via_domain ? policy_via_name(in->plan) : "via=personal-key");
	}
	sg_free(&po.fprs);
	sg_buf_free_secret(&plain_buf);
	return res;
}

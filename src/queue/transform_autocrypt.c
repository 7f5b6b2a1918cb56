/* transform_autocrypt.c: Autocrypt Level 1 on the mail path. Inbound mail whose Autocrypt:
 * header names the From address teaches the gateway that partner's key (never silently
 * replacing one it has: a changed key waits for `pgp accept`); outbound mail from internal
 * senders with a gateway-held key can carry their own header (policy.autocrypt_outbound).
 * Autocrypt is trust on first use for encryption, not authentication: anyone can write the
 * header, so a learned key is never learned for our own domains, ranks below every imported,
 * uploaded or generated key, encrypts only under pgp.autocrypt_encrypt and never makes a
 * signature valid (store_pgp_key_trusted). */
#include "queue/transform.h"

#include "core/settings.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "core/sg_time.h"
#include "crypto/pgp.h"
#include "mime/mime.h"
#include "store/store.h"

#include <string.h>

/* The value of the first Autocrypt: field (caller frees), or NULL. */
static char *autocrypt_value(const char *data, size_t len)
{
	size_t hlen = mime_header_block_len(data, len, len), pos = 0;
	struct mime_field f;
	while (mime_field_next(data, hlen, &pos, &f))
		if (mime_field_is(&f, "Autocrypt") && f.value_len <= SG_PGP_AUTOCRYPT_MAX)
			return sg_strndup(f.value, f.value_len);
	return NULL;
}

static void learn(const struct transform_env *te, const char *id, const char *from,
                  const struct pgp_autocrypt *ac)
{
	struct pgp_key_report *reports = NULL;
	size_t n = 0;
	const char *err;
	if (pgp_key_inspect(ac->keydata, ac->keydata_len, sg_wall(), &reports, &n, &err) < 0 ||
	    n != 1 || !reports[0].accepted) {
		sg_info("%s: Autocrypt key of <%s> not learned: %s", id, from,
		        n == 1 && reports[0].reason != NULL ? reports[0].reason : "unusable key");
		pgp_key_reports_free(&reports, n);
		return;
	}
	int64_t uid;
	enum store_pgp_learn result;
	if (store_user_ensure(te->store, from, STORE_USER_EXTERNAL, &uid, &err) < 0 ||
	    store_pgp_learn_autocrypt(te->store, uid, reports[0].fingerprint, reports[0].pubkey,
	                              reports[0].pubkey_len, reports[0].expires, &result, &err) < 0)
		sg_warn("%s: cannot store the Autocrypt key of <%s>: %s", id, from, err);
	else if (result == STORE_PGP_LEARNED)
		sg_info("%s: learned OpenPGP key %s of <%s> from Autocrypt", id, reports[0].fingerprint,
		        from);
	else if (result == STORE_PGP_PENDING_CHANGE)
		sg_warn("%s: <%s> announced a different OpenPGP key %s; kept pending until an admin "
		        "runs `sealgate pgp accept %s`", id, from, reports[0].fingerprint, from);
	pgp_key_reports_free(&reports, n);
}

/* An address of ours: in gateway.internal_domains, or stored as an internal user. Mail
 * "from" it that reaches this point came from outside, so its header proves nothing. */
static bool internal_address(const struct transform_env *te, const char *addr)
{
	const char *at = strrchr(addr, '@');
	bool internal = false;
	if (te->settings != NULL && at != NULL) {
		struct sg_strlist domains;
		sg_strlist_split(&domains, settings_get(te->settings, "gateway.internal_domains"));
		internal = sg_strlist_contains_nocase(&domains, at + 1);
		sg_strlist_free(&domains);
	}
	struct store_user u;
	const char *err;
	return internal || (store_user_find(te->store, addr, &u, &err) == 1 &&
	                    u.kind == STORE_USER_INTERNAL);
}

void transform_autocrypt_learn(const struct transform_env *te, const struct transform_input *in)
{
	if (te == NULL || te->store == NULL || in->mime == NULL || in->mime->from == NULL)
		return;
	char *value = autocrypt_value(in->data, in->len);
	if (value == NULL)
		return;
	struct pgp_autocrypt ac;
	memset(&ac, 0, sizeof(ac));
	const char *err;
	char from[SG_LOG_PEER_TEXT_MAX + 4];
	sg_printable(from, sizeof(from), in->mime->from, SG_LOG_PEER_TEXT_MAX);
	if (pgp_autocrypt_parse(value, strlen(value), &ac, &err) < 0)
		sg_info("%s: Autocrypt header of <%s> ignored: %s", in->queue_id, from, err);
	else if (!sg_streq_nocase(ac.addr, in->mime->from))
		sg_info("%s: Autocrypt header for another address than From <%s> ignored",
		        in->queue_id, from);
	else if (internal_address(te, in->mime->from))
		sg_warn("%s: Autocrypt key for our own address <%s> not learned: keys of internal "
		        "users come only from the gateway or an admin", in->queue_id, from);
	else
		learn(te, in->queue_id, in->mime->from, &ac);
	pgp_autocrypt_clear(&ac);
	sg_free(&value);
}

char *transform_autocrypt_field(const struct transform_env *te, const char *sender)
{
	struct pgp_ctx *ctx = NULL;
	char fpr[PGP_FPR_MAX], *field = NULL;
	const char *err;
	if (te->store == NULL || pgp_ctx_new(&ctx, &err) < 0)
		return NULL;
	if (transform_pgp_load_secret(te, ctx, sender, fpr, &err) == 1 &&
	    pgp_autocrypt_format(ctx, fpr, sender, false, &field, &err) < 0)
		field = NULL;
	pgp_ctx_free(&ctx);
	return field;
}

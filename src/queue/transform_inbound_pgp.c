/* transform_inbound_pgp.c: OpenPGP mail for internal recipients: decrypted with their
 * gateway-held keys, signatures checked against the keys the store holds, the outcome stated
 * in X-Sealgate-Security. A verdict says only what it means (issue 21): signature=valid needs
 * a key trusted by something other than the message (store_pgp_key_trusted) and stored for
 * the From address, a valid user ID of that key naming From, and a signature over everything
 * delivered; each weaker case has its own value (docs/security.md). */
#include "queue/transform.h"

#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "crypto/pgp.h"
#include "mime/mime.h"
#include "policy/policy.h"
#include "store/store.h"

#include <stdio.h>
#include <string.h>

/* The stored keys loaded to verify with: the From address's, then a signer's found by key id. */
struct keyset {
	struct store_pgp_key *from, *byid;
	size_t nfrom, nbyid;
};

static void keyset_free(struct keyset *ks)
{
	store_pgp_list_free(&ks->from, ks->nfrom);
	store_pgp_list_free(&ks->byid, ks->nbyid);
}

/* Loads the active rows into ctx; returns how many were new to it. */
static size_t load_rows(struct pgp_ctx *ctx, const struct store_pgp_key *keys, size_t n)
{
	size_t loaded = 0;
	for (size_t i = 0; i < n; i++) {
		const char *why;
		if (keys[i].status != STORE_PGP_ACTIVE || pgp_ctx_has_key(ctx, keys[i].fingerprint, false))
			continue;
		if (pgp_ctx_load_public(ctx, keys[i].keydata, keys[i].keydata_len, &why) == 0)
			loaded++;
	}
	return loaded;
}

/* True if fpr is an active key of from, trusted by something other than a message. */
static bool trusted_for(const struct keyset *ks, const char *fpr, const char *from)
{
	for (size_t i = 0; i < ks->nfrom; i++)
		if (sg_streq_nocase(ks->from[i].fingerprint, fpr) &&
		    sg_streq_nocase(ks->from[i].address, from))
			return ks->from[i].status == STORE_PGP_ACTIVE &&
			       store_pgp_key_trusted(&ks->from[i]);
	return false;
}

/* True if the signature was made more than SG_SIG_DATE_SKEW_MAX away from the message's
 * Date: (Thunderbird's "mismatch": a genuine old signature replayed under a new message). */
static bool date_mismatch(const struct pgp_sig *s, time_t date)
{
	return date != 0 && s->created != 0 &&
	       (s->created - date > SG_SIG_DATE_SKEW_MAX || date - s->created > SG_SIG_DATE_SKEW_MAX);
}

/* The verdict on the first signature and a remark for the parenthesis (may be ""). */
static const char *verdict(const struct pgp_in_result *r, struct pgp_ctx *ctx,
                           const struct keyset *ks, const char *from, time_t date,
                           const char **remark_r)
{
	const struct pgp_sig *s = &r->sigs[0];
	*remark_r = "";
	if (s->status == PGP_SIG_INVALID)
		return "invalid";
	if (s->status == PGP_SIG_VALID && date_mismatch(s, date)) {
		*remark_r = ", made more than an hour away from the Date header";
		return "invalid";
	}
	if (s->status == PGP_SIG_UNKNOWN_KEY) {
		*remark_r = ", signer's key unknown here";
		return "untrusted";
	}
	if (r->mixed) {
		*remark_r = ", covers only part of the message";
		return "partial";
	}
	if (!pgp_ctx_key_has_address(ctx, s->signer_fpr, from)) {
		*remark_r = ", the key is not the From address's";
		return "valid-other-signer";
	}
	if (!trusted_for(ks, s->signer_fpr, from)) {
		*remark_r = ", key learned from a mail header, not verified";
		return "unverified-key";
	}
	return "valid";
}

static void signature_note(const struct pgp_in_result *r, struct pgp_ctx *ctx,
                           const struct keyset *ks, const char *from, time_t date, char *dst,
                           size_t size)
{
	if (r->nsigs == 0) {
		snprintf(dst, size, "signature=none");
		return;
	}
	const struct pgp_sig *s = &r->sigs[0];
	const char *remark;
	const char *v = verdict(r, ctx, ks, from, date, &remark);
	char signer[SG_LOG_PEER_TEXT_MAX + 4];
	sg_printable(signer, sizeof(signer), s->signer[0] ? s->signer : s->keyid,
	             SG_LOG_PEER_TEXT_MAX);
	snprintf(dst, size, "signature=%s; signer=<%s> (OpenPGP%s)", v, signer, remark);
}

/* Loads the recipients' gateway-held keys and every active key stored for From. */
static void load_keys(const struct transform_env *te, const struct transform_input *in,
                      const char *from, struct pgp_ctx *ctx, struct keyset *ks)
{
	char fpr[PGP_FPR_MAX];
	const char *why;
	for (size_t i = 0; i < in->nrcpt; i++)
		transform_pgp_load_secret(te, ctx, in->rcpts[i], fpr, &why);
	if (te->store != NULL && from[0] != '\0' &&
	    store_pgp_list(te->store, from, &ks->from, &ks->nfrom, &why) == 0)
		(void)load_rows(ctx, ks->from, ks->nfrom);
}

/* A signer From's keys did not know may still be stored (another partner's key): found by
 * key id, so that the verdict can say whose signature it is. 1 if r must be made again. */
static int load_signer(const struct transform_env *te, const struct pgp_in_result *r,
                       struct pgp_ctx *ctx, struct keyset *ks)
{
	const char *why;
	if (te->store == NULL || r->nsigs == 0 || r->sigs[0].status != PGP_SIG_UNKNOWN_KEY ||
	    store_pgp_list_keyid(te->store, r->sigs[0].keyid, &ks->byid, &ks->nbyid, &why) < 0)
		return 0;
	return load_rows(ctx, ks->byid, ks->nbyid) > 0 ? 1 : 0;
}

/* The decrypted entity below the message's fields, with protected header fields (RFC 9788)
 * in place of the outer ones when it carries them (their verdict appended to hp_note). */
static int join_decrypted(const struct transform_input *in, const struct pgp_in_result *r,
                          struct sg_buf *out, char *hp_note, size_t size, const char **err)
{
	struct sg_buf joined;
	sg_buf_init(&joined, SG_MESSAGE_SIZE_HARD_MAX);
	int rc = transform_join_outer(in->data, in->len, NULL, NULL, r->content, r->content_len,
	                              &joined, err);
	if (rc == 0 && transform_hp_inbound(in, joined.data, joined.len, r->content, r->content_len,
	                                    out, hp_note, size) == 0 &&
	    sg_buf_append(out, joined.data, joined.len) < 0) {
		*err = "message too large";
		rc = -1;
	}
	sg_buf_free_secret(&joined);
	return rc;
}

static int emit(const struct transform_input *in, const struct pgp_in_result *r,
                const char *note, struct sg_buf *out, const char **err)
{
	char field[1400], hp_note[400] = "";
	struct sg_buf body;
	sg_buf_init(&body, SG_MESSAGE_SIZE_HARD_MAX);
	const char *msg = in->data;
	size_t len = in->len;
	if (r->decrypted && r->content != NULL) {
		if (join_decrypted(in, r, &body, hp_note, sizeof(hp_note), err) < 0) {
			sg_buf_free_secret(&body);
			return -1;
		}
		msg = body.data;
		len = body.len;
	}
	snprintf(field, sizeof(field), "X-Sealgate-Security: %s%s%s\r\n", note,
	         hp_note[0] ? "; " : "", hp_note);
	static const char *const foreign[] = {"X-Sealgate-*"};
	struct mime_edit e = {.drop = foreign, .ndrop = 1, .prepend = field, .with_body = true};
	int rc = mime_edit_apply(msg, len, &e, out, err);
	sg_buf_free_secret(&body);
	return rc;
}

static void security_note(const struct pgp_in_result *r, bool to_domain, const char *sig,
                          char *note, size_t size)
{
	if (r->encrypted && !r->decrypted && r->mixed)
		snprintf(note, size, "encrypted=pgp; decrypted=no (mixed content)");
	else if (r->encrypted && !r->decrypted)
		snprintf(note, size, "encrypted=pgp; decrypted=no (not encrypted to a key the "
		                     "gateway holds)");
	else if (r->encrypted) /* pgp_in hands out no plaintext without MDC or AEAD */
		snprintf(note, size, "encrypted=pgp; %sdecrypted=yes; integrity=aead; %s",
		         to_domain ? "to=domain; " : "", sig);
	else
		snprintf(note, size, "%s", sig);
}

/* The From a signature is judged against: the protected one when the decrypted entity carries
 * protected header fields (that From is what is delivered), with its stored keys in ks. */
static void bind_from(const struct transform_env *te, const struct transform_input *in,
                      const struct pgp_in_result *r, const char *from, struct keyset *ks,
                      char *bound, size_t size)
{
	const char *why;
	sg_strlcpy(bound, from, size);
	if (!r->decrypted || r->content == NULL)
		return;
	transform_hp_from(in, r->content, r->content_len, bound, size);
	if (sg_streq_nocase(bound, from) || te->store == NULL)
		return;
	store_pgp_list_free(&ks->from, ks->nfrom);
	ks->nfrom = 0;
	if (store_pgp_list(te->store, bound, &ks->from, &ks->nfrom, &why) < 0)
		ks->nfrom = 0;
}

/* Loads the domain keys of the recipients' domains (`domain own`): 1 if one was loaded. They
 * are tried only after the recipients' own keys, so that a verdict can say which opened it. */
static int load_domain_keys(const struct transform_env *te, const struct transform_input *in,
                            struct pgp_ctx *ctx)
{
	char owner[POLICY_DOMAIN_OWNER_MAX], fpr[PGP_FPR_MAX], seen[POLICY_DOMAIN_OWNER_MAX] = "";
	const char *why;
	int loaded = 0;
	for (size_t i = 0; i < in->nrcpt; i++) {
		if (policy_domain_owner(in->rcpts[i], owner, sizeof(owner)) < 0 ||
		    strcmp(owner, seen) == 0)
			continue;
		sg_strlcpy(seen, owner, sizeof(seen));
		loaded |= transform_pgp_load_secret(te, ctx, owner, fpr, &why) == 1;
	}
	return loaded;
}

/* Decrypts and verifies msg, a second time when the signer's key was found by its id. */
static int open_message(const struct transform_env *te, const struct transform_input *in,
                        struct pgp_ctx *ctx, struct keyset *ks, struct pgp_in_result *r)
{
	const char *err;
	struct _GMimeObject *top = in->parsed != NULL ? mime_memo_entity(in->parsed) : NULL;
	if (pgp_decrypt_verify_parsed(ctx, in->data, in->len, top, r, &err) < 0)
		return -1;
	if (load_signer(te, r, ctx, ks) == 1) {
		pgp_in_result_free(r);
		return pgp_decrypt_verify_parsed(ctx, in->data, in->len, top, r, &err);
	}
	return 0;
}

enum transform_result transform_inbound_pgp(const struct transform_env *te,
                                            const struct transform_input *in,
                                            struct transform_output *out)
{
	struct pgp_ctx *ctx = NULL;
	const char *err;
	if (pgp_ctx_new(&ctx, &err) < 0)
		return transform_fail(out, TRANSFORM_TEMP, "4.3.0", "OpenPGP: %s", err);
	const char *from = in->mime != NULL && in->mime->from != NULL ? in->mime->from : "";
	struct keyset ks = {0};
	load_keys(te, in, from, ctx, &ks);
	struct pgp_in_result r;
	memset(&r, 0, sizeof(r));
	enum transform_result res = TRANSFORM_OK;
	int opened = open_message(te, in, ctx, &ks, &r);
	bool to_domain = false;
	if (opened == 0 && r.encrypted && !r.decrypted && !r.mixed &&
	    load_domain_keys(te, in, ctx) == 1) {
		pgp_in_result_free(&r);
		opened = open_message(te, in, ctx, &ks, &r);
		to_domain = opened == 0 && r.decrypted;
	}
	if (opened < 0 || r.kind == PGP_KIND_NONE) {
		pgp_in_result_free(&r);
		pgp_ctx_free(&ctx);
		keyset_free(&ks);
		return transform_pass(te, in, out);
	}
	char sig[400], note[600], bound[SG_ADDR_MAX];
	time_t date = mime_header_date(in->data, in->len);
	bind_from(te, in, &r, from, &ks, bound, sizeof(bound));
	signature_note(&r, ctx, &ks, bound, date, sig, sizeof(sig));
	security_note(&r, to_domain, sig, note, sizeof(note));
	if (emit(in, &r, note, &out->buf, &err) < 0)
		res = transform_fail(out, TRANSFORM_TEMP, "4.3.0", "%s", err);
	else {
		out->data = out->buf.data;
		out->len = out->buf.len;
		sg_info("%s: inbound OpenPGP (%s): %s", in->queue_id, pgp_kind_name(r.kind), note);
	}
	pgp_in_result_free(&r);
	pgp_ctx_free(&ctx);
	keyset_free(&ks);
	return res;
}

/* portal_resetcode.c: the second factor of a password reset. Security questions alone are
 * guessable (NIST SP 800-63B rules out knowledge-based recovery on its own), a read mailbox
 * alone is not enough either: the reset needs the three answers and an 8-digit code mailed to
 * the account's address, valid 15 minutes, taken once, dead after 3 failed tries. Codes mailed
 * per account and completed resets per account are capped per day (counted in the audit log),
 * and the partner is told of every reset. */
#include "portal/portal_priv.h"
#include "core/settings.h"
#include "core/sg_log.h"
#include "core/sg_str.h"
#include "notify/notify.h"
#include "queue/spool.h"
#include "store/store.h"

#include <sodium.h>
#include <string.h>

#define NOTICE_MAX ((size_t)256 * 1024)
#define CODE_DIGITS 8
#define CODE_TRIES 3
#define DAY_S (24 * 60 * 60)

void portal_resetcode_notice(struct portal_req *req, const char *address, enum notify_kind kind,
                             const char *code)
{
	struct notify_vars v = {.partner = address, .client = req->client, .when = req->now,
	                        .otp = code, .until = req->now + PORTAL_RESETCODE_VALID_S,
	                        .lang = portal_i18n_code(req->lang)};
	struct sg_buf b;
	const char *rcpt, *err;
	char id[SG_QUEUE_ID_MAX];
	sg_buf_init(&b, NOTICE_MAX);
	int rc = notify_build(req->ctx->set, kind, &v, &b, &rcpt, &err);
	if (rc == 0)
		rc = spool_notice_send(req->ctx->spool, settings_get(req->ctx->set, "gateway.hostname"),
		                       rcpt, false, b.data, b.len, id, sizeof(id), &err);
	if (rc < 0) {
		sg_error("notice to a partner: %s", err);
		portal_pages_audit(req, "notice-failed", address, err);
	} else {
		sg_info("notice to a partner queued as %s", id);
	}
	sg_buf_free_secret(&b); /* a reset code's mail holds the code */
}

/* The keyed hash of user_id's code: the account is part of it, so a code mailed for one
 * address never matches another's row. */
static void code_hash(const struct portal_ctx *ctx, int64_t user_id, const char *code,
                      char out[PORTAL_TOKEN_HEX])
{
	char in[64];
	sg_snprintf(in, sizeof(in), "reset-code:%lld:%s", (long long)user_id, code);
	portal_auth_anon_csrf(ctx->anon_key, in, out);
	sodium_memzero(in, sizeof(in));
}

/* How many `event` entries of address the audit log has from the last day; -1 on error. */
static long long today(struct portal_req *req, const char *event, const char *address)
{
	size_t n = 0;
	const char *err;
	if (store_portal_audit_count(req->ctx->st, event, address, req->now - DAY_S, &n, &err) < 0) {
		sg_error("portal: counting %s: %s", event, err);
		return -1;
	}
	return (long long)n;
}

bool portal_resetcode_limit_reached(struct portal_req *req, const char *address)
{
	long long resets = today(req, "reset", address);
	return resets < 0 || resets >= settings_number(req->ctx->set, "portal.max_resets_per_day");
}

/* Whether address may be mailed a code now: not over either daily cap (why in *why_r). */
static bool may_mail(struct portal_req *req, const char *address, const char **why_r)
{
	long long sent = today(req, "reset-code-sent", address);
	*why_r = "codes per day";
	if (sent < 0 || sent >= settings_number(req->ctx->set, "portal.reset_codes_per_day"))
		return false;
	*why_r = "resets per day";
	return !portal_resetcode_limit_reached(req, address);
}

void portal_resetcode_issue(struct portal_req *req, int64_t user_id, const char *address)
{
	const char *why, *err;
	if (!may_mail(req, address, &why)) {
		portal_pages_audit(req, "reset-code-refused", address, why);
		return;
	}
	char code[CODE_DIGITS + 1], hash[PORTAL_TOKEN_HEX];
	sg_snprintf(code, sizeof(code), "%08u", randombytes_uniform(100000000U));
	code_hash(req->ctx, user_id, code, hash);
	if (store_resetcode_set(req->ctx->st, user_id, hash, req->now, &err) < 0) {
		sg_error("portal: storing a reset code: %s", err);
	} else {
		portal_resetcode_notice(req, address, NOTIFY_RESET_CODE, code);
		portal_pages_audit(req, "reset-code-sent", address, "");
	}
	sodium_memzero(code, sizeof(code));
}

/* The code as typed, digits only (spaces and dashes a mail client or a person adds dropped);
 * false when it is anything else. */
static bool code_digits(const char *typed, char out[CODE_DIGITS + 1])
{
	size_t n = 0;
	for (const char *c = typed; *c != '\0'; c++) {
		if (*c == ' ' || *c == '-')
			continue;
		if (*c < '0' || *c > '9' || n == CODE_DIGITS)
			return false;
		out[n++] = *c;
	}
	out[n] = '\0';
	return n == CODE_DIGITS;
}

bool portal_resetcode_take(struct portal_req *req, int64_t user_id, const char *typed,
                           bool answers_right)
{
	char code[CODE_DIGITS + 1], hash[PORTAL_TOKEN_HEX];
	const char *err;
	bool well_formed = code_digits(typed, code), taken = false;
	code_hash(req->ctx, user_id, well_formed ? code : "-", hash);
	sodium_memzero(code, sizeof(code));
	/* Only right answers may take the code; any other try counts against it (the same writes
	 * for every address, with an account or without). */
	if (answers_right && well_formed &&
	    store_resetcode_take(req->ctx->st, user_id, hash, req->now - PORTAL_RESETCODE_VALID_S,
	                         &taken, &err) < 0)
		sg_error("portal: taking a reset code: %s", err);
	if (!taken && store_resetcode_failed(req->ctx->st, user_id, CODE_TRIES, &err) < 0)
		sg_error("portal: counting a reset code try: %s", err);
	return taken;
}

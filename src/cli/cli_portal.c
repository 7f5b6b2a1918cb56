/* cli_portal.c: the admin side of the web portal: `sealgate user invite` (a pending account
 * and its one-time password, shown once) and `sealgate audit` (the audit log). */
#include "cli/cli.h"
#include "core/settings.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "core/sg_time.h"
#include "policy/policy.h"
#include "queue/held.h"
#include "store/store.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int cli_portal_invite(struct cli_cert_ctx *ctx, const char *addr)
{
	if (strchr(addr, '@') == NULL || strlen(addr) >= SG_ADDR_MAX) {
		cli_errorf("'%s' is not an e-mail address", addr);
		return 2;
	}
	struct policy *p = policy_new(ctx->settings);
	bool internal = policy_is_internal(p, addr);
	policy_free(&p);
	if (internal) {
		cli_errorf("%s is an internal address: the portal is for external partners", addr);
		return 1;
	}
	struct store_portal_account a;
	const char *err;
	if (store_portal_account_get(ctx->store, addr, &a, &err) == 1 && a.registered != 0) {
		cli_errorf("%s has already registered", addr);
		return 1;
	}
	if (sodium_init() < 0) {
		cli_errorf("libsodium cannot be initialised");
		return 1;
	}
	char otp[HELD_OTP_SIZE];
	int days = (int)settings_number(ctx->settings, "policy.otp_valid_days");
	int64_t uid;
	time_t until;
	if (held_invite_create(ctx->store, addr, "", days, sg_wall(), otp, &uid, &until, &err) < 0) {
		cli_errorf("%s: %s", addr, err);
		return 1;
	}
	printf("%s: invited; one-time password (shown only now, valid %d days):\n%s\n"
	       "register at %s/register\n", addr, days, otp,
	       settings_get(ctx->settings, "portal.base_url"));
	sodium_memzero(otp, sizeof(otp));
	store_portal_audit_add(ctx->store, sg_wall(), "invited", addr, "cli", "", &err);
	return 0;
}

static int audit_print(struct cli_cert_ctx *ctx, time_t since)
{
	struct store_audit_entry *e = NULL;
	size_t n = 0;
	const char *err;
	if (store_portal_audit_list(ctx->store, since, &e, &n, &err) < 0) {
		cli_errorf("%s", err);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		struct tm tm;
		char when[32];
		gmtime_r(&e[i].at, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		printf("%s %-14s %s client=%s%s%s\n", when, e[i].event,
		       e[i].address[0] ? e[i].address : "-", e[i].client, e[i].detail[0] ? " " : "",
		       e[i].detail);
	}
	sg_free(&e);
	return 0;
}

int cli_portal_audit_cmd(int argc, char **argv)
{
	const char *path = cli_take_config(&argc, argv);
	time_t since = 0;
	if (path == NULL || (argc != 0 && argc != 2) ||
	    (argc == 2 && strcmp(argv[0], "--since") != 0)) {
		return cli_usage("audit");
	}
	if (argc == 2) {
		long long d = sg_duration_parse(argv[1]);
		if (d < 0) {
			cli_errorf("--since takes a duration such as 30m, 12h or 7d");
			return 2;
		}
		since = sg_wall() - (time_t)d;
	}
	struct cli_cert_ctx ctx;
	if (cli_cert_open(&ctx, path, false) < 0)
		return 1;
	int rc = audit_print(&ctx, since);
	cli_cert_close(&ctx);
	return rc;
}

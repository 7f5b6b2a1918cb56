/* cli_portal.c: the admin side of the web portal: `sealgate user invite` (a pending account
 * and its one-time password, shown once). */
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
	cli_audit(ctx->store, "invited", addr, "one-time password valid %d days", days);
	return 0;
}

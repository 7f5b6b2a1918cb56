/* cli_user.c: `sealgate user`: the accounts of partners and users and their secure channel. */
#include "cli/cli.h"
#include "core/settings.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "core/sg_time.h"
#include "pdf/pdf.h"
#include "policy/policy.h"
#include "portal/portal.h"
#include "queue/held.h"
#include "queue/spool.h"
#include "store/store.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int user_usage(void)
{
	return cli_usage("user");
}

static void date_text(time_t t, char *dst, size_t size)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	if (t == 0 || strftime(dst, size, "%Y-%m-%d", &tm) == 0)
		sg_strlcpy(dst, "-", size);
}

static int set_channel(struct cli_cert_ctx *ctx, const char *addr, const char *channel)
{
	int ch;
	if (cli_channel_parse(channel, &ch) < 0)
		return 2;
	struct policy *p = policy_new(ctx->settings);
	bool internal = policy_is_internal(p, addr);
	policy_free(&p);
	const char *err;
	int64_t id;
	if (store_user_ensure(ctx->store, addr, internal ? STORE_USER_INTERNAL : STORE_USER_EXTERNAL,
	                      &id, &err) < 0 ||
	    store_user_set_channel(ctx->store, addr, channel, &err) < 0) {
		cli_errorf("%s: %s", addr, err);
		return 1;
	}
	printf("%s: secure mail goes by %s from now on\n", addr, channel);
	cli_audit(ctx->store, "user-channel", addr, "channel %s", channel);
	if (ch == POLICY_CH_SMIME || ch == POLICY_CH_PGP) {
		size_t n = 0;
		if (ch == POLICY_CH_SMIME) {
			struct store_cert *certs = NULL;
			store_cert_list(ctx->store, addr, &certs, &n, &err);
			store_cert_list_free(&certs, n);
		} else {
			struct store_pgp_key *keys = NULL;
			store_pgp_list(ctx->store, addr, &keys, &n, &err);
			store_pgp_list_free(&keys, n);
		}
		if (n == 0)
			printf("note: %s has no %s yet; until one is imported (`sealgate %s`), mail that "
			       "must be encrypted goes by the next channel it can use\n", addr,
			       ch == POLICY_CH_SMIME ? "certificate" : "OpenPGP key",
			       ch == POLICY_CH_SMIME ? "cert import" : "pgp import");
	}
	return 0;
}

/* The first line of stdin, without its line end; wiped by the caller. */
static int read_password(char *pw, size_t size)
{
	if (fgets(pw, (int)size, stdin) == NULL) {
		cli_errorf("no password on standard input (--password-stdin reads its first line)");
		return -1;
	}
	size_t n = strcspn(pw, "\r\n");
	if (pw[n] == '\0' && n == size - 1) {
		cli_errorf("password too long (at most %d bytes)", PDF_PASSWORD_MAX);
		return -1;
	}
	pw[n] = '\0';
	return 0;
}

/* The same password logs in on the portal (Argon2id): the account counts as registered, but
 * without security questions it cannot be reset there (an admin sets a new one). */
static int portal_login_set(struct cli_cert_ctx *ctx, const char *addr, const char *pw)
{
	char hash[STORE_PORTAL_HASH_MAX];
	const char *err;
	int64_t uid;
	if (sodium_init() < 0 || portal_auth_hash_password(pw, hash, sizeof(hash), &err) < 0 ||
	    store_portal_invite(ctx->store, addr, "", 0, &uid, &err) < 0 ||
	    store_portal_register(ctx->store, uid, hash, sg_wall(), &err) < 0) {
		cli_errorf("%s: the portal login could not be stored", addr);
		return -1;
	}
	return 0;
}

/* Mail held for the partner's registration goes out now, by their channel. */
static void release_held(struct cli_cert_ctx *ctx, const char *addr)
{
	char path[SG_PATH_MAX];
	const char *err;
	struct spool *sp = NULL;
	if (settings_path(ctx->settings, "gateway.spool_dir", path, sizeof(path)) == 0)
		sp = spool_open_existing(path, &err);
	char actor[128];
	cli_audit_actor(actor, sizeof(actor));
	struct held_ctx hc = {.settings = ctx->settings, .store = ctx->store,
	                      .keystore = ctx->keystore, .spool = sp, .actor = actor};
	size_t n = 0;
	if (sp == NULL)
		cli_errorf("warning: no spool: mail held for %s stays held until `sealgate user passwd`"
		           " runs with the spool in place", addr);
	else if (held_mail_release(&hc, addr, &n, &err) < 0)
		cli_errorf("warning: releasing mail held for %s: %s (run `sealgate user passwd` again)",
		           addr, err);
	else if (n > 0)
		printf("%s: %zu held message(s) released to the queue\n", addr, n);
	spool_close(&sp);
}

/* Reads the password and stores the partner's SecurePDF record; the password is wiped. */
static int store_password(struct cli_cert_ctx *ctx, const char *addr, int64_t uid)
{
	char pw[PDF_PASSWORD_MAX + 3];
	const char *err;
	int rc = read_password(pw, sizeof(pw));
	size_t min = (size_t)settings_number(ctx->settings, "policy.min_password_length");
	if (rc == 0 && pdf_account_set_password(ctx->store, ctx->keystore, uid, addr, pw, min,
	                                        &err) < 0) {
		cli_errorf("password refused: %s", err);
		rc = -1;
	}
	if (rc == 0 && portal_login_set(ctx, addr, pw) < 0)
		rc = -1;
	sg_wipe(pw, sizeof(pw));
	if (rc == 0)
		release_held(ctx, addr);
	return rc < 0 ? 1 : 0;
}

static int add_external(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	const char *addr = NULL, *channel = "pdf";
	bool stdin_pw = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--channel") == 0 && i + 1 < argc)
			channel = argv[++i];
		else if (strcmp(argv[i], "--password-stdin") == 0)
			stdin_pw = true;
		else if (addr == NULL && argv[i][0] != '-')
			addr = argv[i];
		else
			return user_usage();
	}
	int ch;
	if (addr == NULL || !stdin_pw || strchr(addr, '@') == NULL)
		return user_usage();
	if (cli_channel_parse(channel, &ch) < 0)
		return 2;
	struct policy *p = policy_new(ctx->settings);
	bool internal = policy_is_internal(p, addr);
	policy_free(&p);
	if (internal) {
		cli_errorf("%s is in an internal domain; external accounts are for partners", addr);
		return 1;
	}
	int64_t uid;
	const char *err;
	if (store_user_ensure(ctx->store, addr, STORE_USER_EXTERNAL, &uid, &err) < 0) {
		cli_errorf("%s: %s", addr, err);
		return 1;
	}
	int rc = store_password(ctx, addr, uid);
	if (rc == 0 && store_user_set_channel(ctx->store, addr, channel, &err) < 0)
		rc = 1;
	if (rc == 0) {
		printf("%s: external account ready; secure mail goes by %s\n", addr, channel);
		cli_audit(ctx->store, "user-added", addr, "external, channel %s", channel);
	}
	return rc;
}

static int passwd(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	if (argc != 3 || strcmp(argv[2], "--password-stdin") != 0)
		return user_usage();
	struct store_user u;
	const char *err;
	int rc = store_user_find(ctx->store, argv[1], &u, &err);
	if (rc <= 0 || u.kind != STORE_USER_EXTERNAL) {
		cli_errorf("%s has no external account here (`sealgate user add-external`)", argv[1]);
		return 1;
	}
	rc = store_password(ctx, u.address, u.id);
	if (rc == 0) {
		printf("%s: password changed; new SecurePDFs open with it\n", u.address);
		cli_audit(ctx->store, "user-passwd", u.address, "password set by the admin");
	}
	return rc;
}

static int list_users(struct cli_cert_ctx *ctx)
{
	struct store_user *users = NULL;
	size_t n = 0;
	const char *err;
	if (store_user_list(ctx->store, &users, &n, &err) < 0) {
		cli_errorf("%s", err);
		return 1;
	}
	printf("%-40s %-9s %-8s %s\n", "ADDRESS", "KIND", "CHANNEL", "SINCE");
	for (size_t i = 0; i < n; i++) {
		char since[16];
		date_text(users[i].created, since, sizeof(since));
		printf("%-40s %-9s %-8s %s\n", users[i].address, store_user_kind_name(users[i].kind),
		       users[i].channel[0] ? users[i].channel : "-", since);
	}
	printf("%zu user(s)\n", n);
	sg_free(&users);
	return 0;
}

/* The portal account: registered, or invited (and until when), and the mail held for it. */
static void show_portal(struct cli_cert_ctx *ctx, const char *addr)
{
	struct store_portal_account a;
	const char *err;
	char when[16];
	if (store_portal_account_get(ctx->store, addr, &a, &err) == 1) {
		date_text(a.registered ? a.registered : a.otp_expires, when, sizeof(when));
		printf("portal:   %s %s\n", a.registered ? "registered" : "invited, valid until", when);
	}
	size_t held = 0;
	if (store_held_count(ctx->store, addr, &held, &err) == 0 && held > 0)
		printf("held:     %zu message(s) waiting for the registration\n", held);
}

/* Employees and shared mailboxes: their managers and enrolment links. */
static void show_enrolment(struct cli_cert_ctx *ctx, const char *addr)
{
	static const char *const states[] = {"open", "expired", "replaced"};
	const char *err;
	char(*managers)[SG_ADDR_MAX] = NULL;
	struct store_enrolment *links = NULL;
	size_t n = 0;
	if (store_shared_managers(ctx->store, addr, &managers, &n, &err) == 0)
		for (size_t i = 0; i < n; i++)
			printf("manager:  %s\n", managers[i]);
	sg_free(&managers);
	if (store_enrol_list(ctx->store, addr, &links, &n, &err) == 0)
		for (size_t i = 0; i < n; i++) {
			char made[16], until[16];
			date_text(links[i].created, made, sizeof(made));
			date_text(links[i].expires, until, sizeof(until));
			printf("link:     %s %s, until %s: %s\n", links[i].kind == STORE_ENROL_RENEWAL
			       ? "renewal" : "enrolment", made, until, states[links[i].state]);
		}
	sg_free(&links);
}

static int show_user(struct cli_cert_ctx *ctx, const char *addr)
{
	struct store_user u;
	const char *err;
	int rc = store_user_find(ctx->store, addr, &u, &err);
	if (rc <= 0) {
		cli_errorf(rc == 0 ? "%s has no account here" : "%s: %s", addr, err);
		return 1;
	}
	char since[16];
	date_text(u.created, since, sizeof(since));
	printf("address:  %s\nkind:     %s\nchannel:  %s\nsince:    %s\n", u.address,
	       store_user_kind_name(u.kind), u.channel[0] ? u.channel : "(not chosen)", since);
	struct store_cert *certs = NULL;
	size_t n = 0;
	if (store_cert_list(ctx->store, addr, &certs, &n, &err) == 0)
		for (size_t i = 0; i < n; i++) {
			char until[16];
			date_text(certs[i].not_after, until, sizeof(until));
			time_t replaced = 0;
			store_enrol_replaced_at(ctx->store, certs[i].id, &replaced, &err);
			printf("S/MIME:   %s %s until %s%s%s%s\n", store_cert_source_name(certs[i].source),
			       certs[i].serial, until, certs[i].revoked_at ? " (revoked)" : "",
			       replaced ? " (replaced)" : "", certs[i].has_key ? " (key held here)" : "");
		}
	store_cert_list_free(&certs, n);
	struct store_pgp_key *keys = NULL;
	if (store_pgp_list(ctx->store, addr, &keys, &n, &err) == 0)
		for (size_t i = 0; i < n; i++)
			printf("OpenPGP:  %s %s %s%s\n", keys[i].fingerprint,
			       store_pgp_source_name(keys[i].source), store_pgp_status_name(keys[i].status),
			       keys[i].has_secret ? " (key held here)" : "");
	store_pgp_list_free(&keys, n);
	show_portal(ctx, addr);
	show_enrolment(ctx, addr);
	return 0;
}

int cli_user_cmd(int argc, char **argv)
{
	const char *path = cli_take_config(&argc, argv);
	if (path == NULL || argc < 1)
		return user_usage();
	struct cli_cert_ctx ctx;
	int rc = 2;
	bool enrol = strcmp(argv[0], "enrol") == 0 || strcmp(argv[0], "add-shared") == 0;
	bool needs_keys = strcmp(argv[0], "add-external") == 0 || strcmp(argv[0], "passwd") == 0 ||
	                  enrol;
	bool known = needs_keys || (strcmp(argv[0], "set-channel") == 0 && argc == 3) ||
	             (strcmp(argv[0], "list") == 0 && argc == 1) ||
	             (strcmp(argv[0], "invite") == 0 && argc == 2) ||
	             (strcmp(argv[0], "show") == 0 && argc == 2);
	if (!known)
		return user_usage();
	if (cli_cert_open(&ctx, path, needs_keys) < 0)
		return 1;
	if (enrol)
		rc = cli_enrol_cmd(&ctx, argc, argv);
	else if (strcmp(argv[0], "add-external") == 0)
		rc = add_external(&ctx, argc, argv);
	else if (strcmp(argv[0], "passwd") == 0)
		rc = passwd(&ctx, argc, argv);
	else if (strcmp(argv[0], "set-channel") == 0)
		rc = set_channel(&ctx, argv[1], argv[2]);
	else if (strcmp(argv[0], "list") == 0)
		rc = list_users(&ctx);
	else if (strcmp(argv[0], "invite") == 0)
		rc = cli_portal_invite(&ctx, argv[1]);
	else
		rc = show_user(&ctx, argv[1]);
	cli_cert_close(&ctx);
	return rc;
}

/* cli_directory.c: `sealgate directory test|sync`: the admin checks the directory.* settings
 * against the real directory (what a login would find, and whether the bind works), and runs
 * the sync the tick role runs every directory.sync_interval, or shows what it would do. */
#include "cli/cli.h"
#include "core/settings.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "core/sg_time.h"
#include "directory/directory.h"
#include "enrol/enrol.h"
#include "queue/spool.h"
#include "store/store.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int directory_usage(void)
{
	return cli_usage("directory");
}

static struct directory *open_directory(const struct settings *set)
{
	const char *err;
	if (!dir_conf_enabled(set)) {
		cli_errorf("directory.url is not set: no directory is configured "
		           "(`sealgate config set -c FILE directory.url ldaps://dc.example.com`)");
		return NULL;
	}
	struct directory *d = dir_conf_open(set, &err);
	if (d == NULL)
		cli_errorf("%s", err);
	return d;
}

static void print_employee(const struct dir_employee *e)
{
	printf("found: %s\nlogin: %s\nname: %s\n", e->dn, e->login,
	       e->display_name[0] ? e->display_name : "(none)");
	printf("addresses:");
	for (size_t i = 0; i < e->nmail; i++)
		printf(" %s", e->mail[i]);
	printf("%s\nlanguage: %s\naccount: %s\n", e->nmail == 0 ? " (none: this employee cannot "
	       "enrol; see directory.mail_attribute)" : "", e->lang[0] ? e->lang : "(not set)",
	       e->disabled ? "disabled" : "enabled");
}

/* The first line of stdin (without its end) into pw; -1 when there is none. */
static int read_password(char *pw, size_t size)
{
	if (fgets(pw, (int)size, stdin) == NULL) {
		cli_errorf("no password on standard input (--password-stdin reads its first line)");
		return -1;
	}
	pw[strcspn(pw, "\r\n")] = '\0';
	return 0;
}

static int test_with_password(struct directory *d, const char *user)
{
	char pw[DIR_PASSWORD_MAX + 2];
	struct dir_employee *e = sg_calloc(1, sizeof(*e));
	const char *err = NULL;
	int rc = read_password(pw, sizeof(pw));
	enum dir_status st = rc == 0 ? dir_auth_login(d, user, pw, e, &err) : DIR_ERROR;
	sg_wipe(pw, sizeof(pw));
	if (rc == 0 && (st == DIR_OK || st == DIR_DISABLED))
		print_employee(e);
	if (rc == 0)
		printf("bind: %s%s%s\n", st == DIR_OK ? "ok" : dir_status_name(st),
		       err != NULL && st != DIR_OK ? ": " : "", st != DIR_OK && err ? err : "");
	sg_free(&e);
	return rc == 0 && st == DIR_OK ? 0 : 1;
}

static int test_lookup(struct directory *d, const char *user)
{
	struct dir_employee *e = sg_calloc(1, sizeof(*e));
	const char *err = NULL;
	enum dir_status st = dir_auth_lookup(d, user, e, &err);
	if (st == DIR_OK || st == DIR_DISABLED)
		print_employee(e);
	else
		cli_errorf("%s: %s", dir_status_name(st), err);
	printf("bind: not tried (give the password with --password-stdin)\n");
	sg_free(&e);
	return st == DIR_OK ? 0 : 1;
}

static int cmd_test(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	bool with_pw = argc == 2 && strcmp(argv[1], "--password-stdin") == 0;
	if (argc != 1 && !with_pw)
		return directory_usage();
	struct directory *d = open_directory(ctx->settings);
	if (d == NULL)
		return 1;
	printf("directory: %s%s\n", settings_get(ctx->settings, "directory.url"),
	       strncmp(settings_get(ctx->settings, "directory.url"), "ldaps://", 8) == 0 ? ""
	       : settings_bool(ctx->settings, "directory.starttls") ? " (StartTLS)" : " (no TLS)");
	int rc = with_pw ? test_with_password(d, argv[0]) : test_lookup(d, argv[0]);
	dir_conf_close(&d);
	return rc;
}

struct sync_cli {
	bool dry;
	struct enrol_ctx ec; /* .spool NULL on a dry run */
};

static void print_left(void *cls, const char *address, const char *why, size_t certs)
{
	bool dry = ((const struct sync_cli *)cls)->dry;
	printf("%s: %s: %zu certificate(s) %s\n", address, why, certs,
	       dry ? "would be revoked" : "revoked, portal sessions ended");
}

/* An employee's address changed: their new address is enrolled (dry run: would be). */
static int enrol_moved_employee(void *cls, const char *old_address, const char *new_address,
                                const char *lang, bool dry_run, const char **error_r)
{
	const struct sync_cli *c = cls;
	struct enrol_started r;
	if (dry_run) {
		printf("%s: moved from %s: enrolment would be mailed\n", new_address, old_address);
		return 0;
	}
	if (enrol_moved(&c->ec, old_address, new_address, lang, "cli", sg_wall(), &r, error_r) < 0)
		return -1;
	printf("%s: moved from %s: enrolled, certificate %s, the .pfx was mailed (queue id %s)\n",
	       new_address, old_address, r.serial, r.queue_id);
	return 0;
}

static void print_summary(const struct dir_sync_result *r, bool dry)
{
	printf("%zu employee(s) in the directory (%zu disabled); %zu user(s) %s, %zu certificate(s)"
	       "; %zu %s for a new address\n", r->employees, r->disabled, r->revoked_users,
	       dry ? "would leave" : "left", r->revoked_certs, r->enrolled,
	       dry ? "would be enrolled" : "enrolled");
}

static int cmd_sync(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	struct sync_cli c = {.dry = argc == 1 && strcmp(argv[0], "--dry-run") == 0,
	                     .ec = {.settings = ctx->settings, .store = ctx->store,
	                            .keystore = ctx->keystore, .ca = ctx->ca}};
	if (argc != 0 && !c.dry)
		return directory_usage();
	struct directory *d = open_directory(ctx->settings);
	if (d == NULL)
		return 1;
	char path[SG_PATH_MAX] = "";
	const char *err = "path too long";
	if (!c.dry && (settings_path(ctx->settings, "gateway.spool_dir", path, sizeof(path)) < 0 ||
	               (c.ec.spool = spool_open(path, &err)) == NULL)) {
		cli_errorf("gateway.spool_dir %s: %s; nothing was done", path, err);
		dir_conf_close(&d);
		return 1;
	}
	struct dir_sync_result r;
	struct dir_sync_hooks hooks = {.left = print_left, .moved = enrol_moved_employee, .cls = &c};
	enum dir_status st = dir_sync_run(d, ctx->store, sg_wall(), c.dry, &hooks, &r, &err);
	dir_conf_close(&d);
	spool_close(&c.ec.spool);
	if (st != DIR_OK) {
		cli_errorf("sync not done (%s): %s; nothing was revoked", dir_status_name(st), err);
		return 1;
	}
	print_summary(&r, c.dry);
	if (!c.dry && r.revoked_certs > 0)
		return cli_ca_write_crl(ctx, false) < 0 ? 1 : 0;
	return 0;
}

int cli_directory_cmd(int argc, char **argv)
{
	static const struct cli_subcommand table[] = {
		{"test", cmd_test, false},
		{"sync", cmd_sync, true},
	};
	return cli_dispatch(table, sizeof(table) / sizeof(table[0]), argc, argv, directory_usage);
}

/* cli_enrol.c: `sealgate user enrol` (one employee, or every employee of the directory) and
 * `sealgate user add-shared` (a shared mailbox and its managers). Each enrolment issues a key
 * and certificate, mails the .pfx with the portal link, and prints no PIN: the PIN is shown
 * only on the portal, after the employee's directory login. */
#include "cli/cli.h"
#include "core/settings.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "core/sg_time.h"
#include "directory/directory.h"
#include "enrol/enrol.h"
#include "policy/policy.h"
#include "queue/spool.h"
#include "store/store.h"

#include <fnmatch.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MANAGERS_MAX 16

struct enrol_cli {
	struct cli_cert_ctx *ctx;
	struct enrol_ctx ec;
	struct directory *dir; /* NULL when directory.url is not set */
};

static int enrol_usage(void)
{
	return cli_usage("user");
}

static int open_all(struct enrol_cli *c, struct cli_cert_ctx *ctx)
{
	char path[SG_PATH_MAX];
	const char *err;
	memset(c, 0, sizeof(*c));
	c->ctx = ctx;
	if (sodium_init() < 0) {
		cli_errorf("libsodium cannot be initialised");
		return -1;
	}
	if (settings_path(ctx->settings, "gateway.spool_dir", path, sizeof(path)) < 0 ||
	    (c->ec.spool = spool_open(path, &err)) == NULL) {
		cli_errorf("gateway.spool_dir %s: %s", path, err);
		return -1;
	}
	c->ec.settings = ctx->settings;
	c->ec.store = ctx->store;
	c->ec.keystore = ctx->keystore;
	c->ec.ca = ctx->ca;
	if (dir_conf_enabled(ctx->settings) && (c->dir = dir_conf_open(ctx->settings, &err)) == NULL) {
		cli_errorf("directory: %s", err);
		return -1;
	}
	return 0;
}

static void close_all(struct enrol_cli *c)
{
	dir_conf_close(&c->dir);
	spool_close(&c->ec.spool);
}

static bool internal(const struct enrol_cli *c, const char *addr)
{
	struct policy *p = policy_new(c->ctx->settings);
	bool in = policy_is_internal(p, addr);
	policy_free(&p);
	if (!in)
		cli_errorf("%s is not in gateway.internal_domains: enrolment is for the organisation's "
		           "own addresses", addr);
	return in;
}

/* With a directory: the employee holding addr, for their language; refuses the unknown and
 * the disabled. Without one: nothing to check. */
static int check_employee(struct enrol_cli *c, const char *addr, char *lang, size_t size)
{
	if (c->dir == NULL)
		return 0;
	struct dir_employee emp;
	const char *err = "";
	enum dir_status st = dir_auth_lookup(c->dir, addr, &emp, &err);
	if (st == DIR_OK) {
		sg_strlcpy(lang, emp.lang, size < 3 ? size : 3);
		return 0;
	}
	cli_errorf("%s: %s in the directory (%s: %s)%s", addr,
	           st == DIR_DISABLED ? "the account is disabled" : "not found once",
	           dir_status_name(st), err, st == DIR_UNREACHABLE ? "; try again later" : "");
	return -1;
}

static int enrol_one(struct enrol_cli *c, const char *addr, enum store_user_kind kind,
                     const char *lang)
{
	struct enrol_started r;
	const char *err;
	if (enrol_start(&c->ec, addr, kind, lang, sg_wall(), &r, &err) < 0) {
		cli_errorf("%s: %s", addr, err);
		return -1;
	}
	char until[32], link_until[32];
	struct tm tm;
	strftime(until, sizeof(until), "%Y-%m-%d", gmtime_r(&r.not_after, &tm));
	strftime(link_until, sizeof(link_until), "%Y-%m-%d", gmtime_r(&r.expires, &tm));
	printf("%s: enrolled: certificate %s valid until %s; the .pfx was mailed (queue id %s), "
	       "its PIN is shown on the portal after the directory login until %s\n", addr,
	       r.serial, until, r.queue_id, link_until);
	cli_audit(c->ctx->store, "enrolled", addr, "certificate %s, link valid until %s", r.serial,
	          link_until);
	return 0;
}

static int enrol_address(struct enrol_cli *c, const char *arg, const char *lang_opt)
{
	char addr[SG_ADDR_MAX], lang[8] = "";
	if (cli_take_address(arg, addr, sizeof(addr)) < 0 || !internal(c, addr))
		return 1;
	struct store_user u;
	const char *err;
	int found = store_user_find(c->ctx->store, addr, &u, &err);
	if (found == 1 && u.kind == STORE_USER_EXTERNAL) {
		cli_errorf("%s is an external user, not an employee", addr);
		return 1;
	}
	bool shared = found == 1 && u.kind == STORE_USER_SHARED; /* again: its managers stay */
	if (!shared && check_employee(c, addr, lang, sizeof(lang)) < 0)
		return 1;
	return enrol_one(c, addr, shared ? STORE_USER_SHARED : STORE_USER_INTERNAL,
	                 lang_opt != NULL ? lang_opt : lang) < 0;
}

/* True when addr already holds a current certificate of ours (bulk runs skip it). */
static bool enrolled(struct enrol_cli *c, const char *addr)
{
	struct store_cert *certs = NULL;
	size_t n = 0;
	const char *err;
	bool found = false;
	if (store_cert_list(c->ctx->store, addr, &certs, &n, &err) == 0)
		for (size_t i = 0; i < n && !found; i++)
			found = certs[i].source == STORE_CERT_ISSUED && certs[i].revoked_at == 0 &&
			        certs[i].not_after > sg_wall() && certs[i].has_key;
	store_cert_list_free(&certs, n);
	return found;
}

/* One employee of a bulk run: 0 enrolled, 1 skipped, -1 failed. */
static int enrol_listed(struct enrol_cli *c, const struct dir_employee *emp, const char *pattern)
{
	if (emp->nmail == 0 || emp->disabled)
		return 1;
	const char *addr = emp->mail[0];
	struct policy *p = policy_new(c->ctx->settings);
	bool in = policy_is_internal(p, addr);
	policy_free(&p);
	if (!in || (pattern != NULL && fnmatch(pattern, addr, FNM_CASEFOLD) != 0) || enrolled(c, addr))
		return 1;
	char lang[3];
	sg_strlcpy(lang, emp->lang, sizeof(lang));
	return enrol_one(c, addr, STORE_USER_INTERNAL, lang);
}

static int enrol_all(struct enrol_cli *c, const char *pattern)
{
	if (c->dir == NULL) {
		cli_errorf("--all-from-directory needs the directory: set directory.url (see "
		           "docs/directory.md)");
		return 1;
	}
	struct dir_employee *list = NULL;
	size_t n = 0, counts[3] = {0, 0, 0};
	const char *err = "";
	enum dir_status st = dir_list_employees(c->dir, &list, &n, &err);
	if (st != DIR_OK) {
		cli_errorf("listing the directory: %s (%s)", err, dir_status_name(st));
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		counts[enrol_listed(c, &list[i], pattern) + 1]++;
	sg_free(&list);
	printf("%zu enrolled, %zu skipped (disabled, without an internal address, not matching, or "
	       "already enrolled), %zu failed\n", counts[1], counts[2], counts[0]);
	return counts[0] > 0 ? 1 : 0;
}

/* A manager named by address, or by directory user name (its first address). */
static int manager_address(struct enrol_cli *c, const char *user, char *dst, size_t size)
{
	if (strchr(user, '@') != NULL && c->dir == NULL)
		return cli_take_address(user, dst, size);
	if (c->dir == NULL) {
		cli_errorf("manager '%.100s': a user name needs the directory (directory.url); give "
		           "the manager's e-mail address instead", user);
		return -1;
	}
	struct dir_employee emp;
	const char *err = "";
	enum dir_status st = dir_auth_lookup(c->dir, user, &emp, &err);
	if (st != DIR_OK || emp.nmail == 0) {
		cli_errorf("manager '%.100s': %s (%s)", user, st == DIR_DISABLED ? "account disabled"
		           : "not found once in the directory", dir_status_name(st));
		return -1;
	}
	sg_strlcpy(dst, emp.mail[0], size);
	return 0;
}

static int add_shared(struct enrol_cli *c, int argc, char **argv)
{
	char addr[SG_ADDR_MAX], managers[MANAGERS_MAX][SG_ADDR_MAX];
	size_t nm = 0;
	if (argc < 2 || cli_take_address(argv[1], addr, sizeof(addr)) < 0 || !internal(c, addr))
		return argc < 2 ? enrol_usage() : 1;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--manager") != 0 || i + 1 >= argc || nm >= MANAGERS_MAX)
			return enrol_usage();
		if (manager_address(c, argv[++i], managers[nm], SG_ADDR_MAX) < 0)
			return 1;
		nm++;
	}
	if (nm == 0)
		return enrol_usage();
	const char *err;
	int64_t uid;
	struct store_user u;
	if (store_user_ensure(c->ctx->store, addr, STORE_USER_SHARED, &uid, &err) < 0 ||
	    store_user_find(c->ctx->store, addr, &u, &err) != 1) {
		cli_errorf("%s: %s", addr, err);
		return 1;
	}
	if (u.kind != STORE_USER_SHARED) {
		cli_errorf("%s is already a%s %s user, not a shared mailbox", addr,
		           u.kind == STORE_USER_EXTERNAL ? "n" : "", store_user_kind_name(u.kind));
		return 1;
	}
	for (size_t i = 0; i < nm; i++)
		if (store_shared_manager_add(c->ctx->store, uid, managers[i], &err) < 0) {
			cli_errorf("%s: %s", addr, err);
			return 1;
		}
	printf("%s: shared mailbox, managed by", addr);
	for (size_t i = 0; i < nm; i++)
		printf(" %s", managers[i]);
	printf("\n");
	cli_audit(c->ctx->store, "shared-mailbox", addr, "%zu manager(s), first %.100s", nm,
	          managers[0]);
	return enrolled(c, addr) ? 0 : enrol_one(c, addr, STORE_USER_SHARED, NULL) < 0;
}

static int enrol_cmd(struct enrol_cli *c, int argc, char **argv)
{
	const char *addr = NULL, *lang = NULL, *pattern = NULL;
	bool all = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--all-from-directory") == 0)
			all = true;
		else if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc)
			pattern = argv[++i];
		else if (strcmp(argv[i], "--lang") == 0 && i + 1 < argc)
			lang = argv[++i];
		else if (argv[i][0] != '-' && addr == NULL)
			addr = argv[i];
		else
			return enrol_usage();
	}
	if (all == (addr != NULL) || (pattern != NULL && !all) ||
	    (lang != NULL && strcmp(lang, "en") != 0 && strcmp(lang, "de") != 0))
		return enrol_usage();
	return all ? enrol_all(c, pattern) : enrol_address(c, addr, lang);
}

int cli_enrol_cmd(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	struct enrol_cli c;
	if (open_all(&c, ctx) < 0) {
		close_all(&c);
		return 1;
	}
	int rc = strcmp(argv[0], "add-shared") == 0 ? add_shared(&c, argc, argv)
	                                             : enrol_cmd(&c, argc, argv);
	close_all(&c);
	return rc;
}

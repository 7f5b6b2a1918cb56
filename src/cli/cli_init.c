/* cli_init.c: `sealgate init DIR --domain D ...`: a working instance in one command: the
 * configuration, the spool, the store, the master key, the CA and a TLS certificate. With
 * --store URL --master-key FILE: a node of a shared store, with its CA (docs/cluster.md). */
#include "cli/cli.h"
#include "core/accounts.h"
#include "core/limits.h"
#include "core/settings.h"
#include "core/sg_buf.h"
#include "core/sg_file.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "crypto/ca.h"
#include "crypto/keystore.h"
#include "store/store.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INIT_MAX_DOMAINS 32

struct init_args {
	const char *dir;
	const char *domains[INIT_MAX_DOMAINS];
	size_t ndomains;
	const char *org;
	const char *ca_key;
	const char *user; /* --user: the account the gateway runs as (gateway.user), or NULL */
	const char *smtp_user, *ldap_user; /* smtpd's and ldapd's own accounts, or NULL */
	bool one_account;                   /* --one-account: they run as user too */
	const char *store;      /* --store URL: a node of a shared store, or NULL (SQLite) */
	const char *master_key; /* --master-key FILE: the other nodes' master key, or NULL */
	char hostname[256];
};

static int usage(void)
{
	return cli_usage("init");
}

static int parse_args(int argc, char **argv, struct init_args *a)
{
	memset(a, 0, sizeof(*a));
	a->org = "Secure Mail";
	a->ca_key = "rsa3072";
	for (int i = 0; i < argc; i++) {
		bool has_value = i + 1 < argc;
		if (strcmp(argv[i], "--domain") == 0 && has_value && a->ndomains < INIT_MAX_DOMAINS)
			a->domains[a->ndomains++] = argv[++i];
		else if (strcmp(argv[i], "--org") == 0 && has_value)
			a->org = argv[++i];
		else if (strcmp(argv[i], "--ca-key") == 0 && has_value)
			a->ca_key = argv[++i];
		else if (strcmp(argv[i], "--user") == 0 && has_value)
			a->user = argv[++i];
		else if (strcmp(argv[i], "--smtp-user") == 0 && has_value)
			a->smtp_user = argv[++i];
		else if (strcmp(argv[i], "--ldap-user") == 0 && has_value)
			a->ldap_user = argv[++i];
		else if (strcmp(argv[i], "--one-account") == 0)
			a->one_account = true;
		else if (strcmp(argv[i], "--store") == 0 && has_value)
			a->store = argv[++i];
		else if (strcmp(argv[i], "--master-key") == 0 && has_value)
			a->master_key = argv[++i];
		else if (strcmp(argv[i], "--hostname") == 0 && has_value)
			sg_strlcpy(a->hostname, argv[++i], sizeof(a->hostname));
		else if (argv[i][0] != '-' && a->dir == NULL)
			a->dir = argv[i];
		else
			return -1;
	}
	if (a->dir == NULL || a->ndomains == 0)
		return -1;
	if (strcmp(a->ca_key, "rsa3072") != 0 && strcmp(a->ca_key, "p256") != 0 &&
	    strcmp(a->ca_key, "p384") != 0)
		return -1;
	if (a->hostname[0] == '\0' && gethostname(a->hostname, sizeof(a->hostname) - 1) < 0)
		sg_strlcpy(a->hostname, "localhost", sizeof(a->hostname));
	return 0;
}

/* Every value goes through the settings table, so init cannot write what check-config
 * would refuse. */
static int check_value(const char *key, const char *value)
{
	char why[256];
	if (settings_validate(settings_find(key), value, why, sizeof(why)) == 0 &&
	    strpbrk(value, "\r\n") == NULL)
		return 0;
	cli_errorf("%s '%s': %s", key, value, why);
	return -1;
}

static int write_config(const struct init_args *a, const char *path)
{
	struct sg_buf b;
	sg_buf_init(&b, SG_CONFIG_FILE_MAX);
	sg_buf_printf(&b, "# sealgate configuration; every key: docs/configuration.md\n"
	                  "# edit with `sealgate config set -c %s section.key value`\n\n", path);
	sg_buf_printf(&b, "[gateway]\nhostname = %s\ninternal_domains = ", a->hostname);
	for (size_t i = 0; i < a->ndomains; i++)
		sg_buf_printf(&b, "%s%s", i ? ", " : "", a->domains[i]);
	sg_buf_printf(&b, "\norganization = %s\n", a->org);
	if (a->user != NULL)
		sg_buf_printf(&b, "# the account the gateway's processes run as (started as root)\n"
		                  "user = %s\n", a->user);
	if (a->smtp_user != NULL)
		sg_buf_printf(&b, "# smtpd and ldapd have accounts of their own: they cannot read the "
		                  "store, the keys or the CA\nsmtp_user = %s\nldap_user = %s\n",
		              a->smtp_user, a->ldap_user);
	sg_buf_printf(&b, "\n");
	sg_buf_printf(&b, "[smtp]\nlisten = 127.0.0.1:10025\n"
	                  "internal_networks = 127.0.0.0/8, ::1/128\n\n");
	sg_buf_printf(&b, "[route]\n# Point these at your mail server and your smarthost:\n"
	                  "# smtp:HOST:PORT, or maildir:PATH to keep mail in Maildirs.\n"
	                  "internal = maildir:mail\nexternal = maildir:mail\n\n");
	sg_buf_printf(&b, "[store]\ndatabase = %s\n",
	              a->store != NULL ? a->store : "sqlite:sealgate.db");
	const char *err;
	int rc = sg_file_write_atomic(path, b.data, b.len, 0640, &err);
	if (rc < 0)
		cli_errorf("%s: %s: %s", path, err, strerror(errno));
	sg_buf_free(&b);
	return rc;
}

static int make_dirs(const char *dir)
{
	static const char *const subdirs[] = {"", "/spool", "/mail", "/tls", "/ca"};
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		char p[SG_PATH_MAX];
		if (sg_snprintf(p, sizeof(p), "%s%s", dir, subdirs[i]) < 0 || sg_mkdir_p(p, 0750) < 0) {
			cli_errorf("cannot create %s%s: %s", dir, subdirs[i], strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int step(int ok, const char *what, const char *err)
{
	if (ok < 0)
		cli_errorf("%s: %s", what, err);
	return ok;
}

/* The master key: made here, or the other nodes' copied (every node of a shared store opens
 * the same sealed keys). */
static int master_key(const struct init_args *a, const char *path)
{
	const char *err = "";
	if (a->master_key == NULL)
		return step(keystore_master_create(path, &err), "master key", err);
	char *data = NULL;
	size_t len = 0;
	struct keystore *ks = NULL;
	int rc = sg_file_read_all(a->master_key, 4096, &data, &len, &err) < 0 ||
	                 sg_file_write_atomic(path, data, len, 0600, &err) < 0 ||
	                 keystore_open(path, &ks, &err) < 0
	             ? -1
	             : 0;
	keystore_close(&ks);
	if (data != NULL)
		sg_free_secret(&data, len);
	return step(rc, a->master_key, err);
}

/* The CA: the shared store's (a further node), else a new one (put into a shared store, so
 * that the nodes made after this one fetch it). */
static int ca_of_instance(const struct init_args *a, const char *ca, struct keystore *ks)
{
	const char *err = "";
	if (a->store == NULL)
		return step(ca_init_create_typed(ca, a->org, a->ca_key, ks, &err), "CA", err);
	struct store *st = store_open(a->store, a->dir, &err);
	if (st == NULL)
		return step(-1, a->store, err);
	int rc = cli_ca_fetch(st, ca, ks);
	if (rc == 0)
		rc = step(ca_init_create_typed(ca, a->org, a->ca_key, ks, &err), "CA", err) < 0 ||
		             cli_ca_publish(st, ca) < 0
		         ? -1
		         : 0;
	else if (rc == 1)
		printf("The CA of the shared store was fetched: this is a further node.\n");
	store_close(&st);
	return rc < 0 ? -1 : 0;
}

static int create_keys_and_store(const struct init_args *a)
{
	char p[SG_PATH_MAX], crt[SG_PATH_MAX], key[SG_PATH_MAX], ca[SG_PATH_MAX];
	const char *err = "path too long";
	if (sg_path_join(p, sizeof(p), a->dir, "master.key") < 0 ||
	    sg_path_join(crt, sizeof(crt), a->dir, "tls/server.crt") < 0 ||
	    sg_path_join(key, sizeof(key), a->dir, "tls/server.key") < 0 ||
	    sg_path_join(ca, sizeof(ca), a->dir, "ca") < 0)
		return step(-1, a->dir, err);
	struct keystore *ks = NULL;
	int rc = master_key(a, p) < 0 || step(keystore_open(p, &ks, &err), "master key", err) < 0 ||
	                 ca_of_instance(a, ca, ks) < 0 ||
	                 step(ca_init_server_cert(ca, ks, a->hostname, a->org, crt, key, &err),
	                      "TLS certificate", err) < 0
	             ? -1
	             : 0;
	keystore_close(&ks);
	if (rc < 0 || a->store != NULL)
		return rc;
	struct store *st = store_open("sqlite:sealgate.db", a->dir, &err);
	if (st == NULL)
		return step(-1, "store", err);
	store_close(&st);
	return 0;
}

/* --user: the account (and, from root, smtpd's and ldapd's: sealgate-smtp and sealgate-ldap
 * unless named or --one-account), created if they do not exist. */
static int prepare_accounts(struct init_args *a)
{
	struct sandbox_account acct;
	const char *err;
	bool root = geteuid() == 0;
	if (a->user == NULL)
		return a->smtp_user == NULL && a->ldap_user == NULL
		           ? 0 : (cli_errorf("--smtp-user and --ldap-user need --user"), -1);
	if (!root && sandbox_account_find(a->user, &acct, &err) < 0) {
		cli_errorf("--user %s: %s", a->user, err);
		return -1;
	}
	if (!root && (geteuid() != acct.uid || a->smtp_user != NULL || a->ldap_user != NULL)) {
		cli_errorf("--user %s: only root can give the instance to other accounts", a->user);
		return -1;
	}
	if (!root || a->one_account) {
		a->smtp_user = a->ldap_user = NULL;
		return root ? cli_account_ensure(a->user) : 0;
	}
	a->smtp_user = a->smtp_user != NULL ? a->smtp_user : "sealgate-smtp";
	a->ldap_user = a->ldap_user != NULL ? a->ldap_user : "sealgate-ldap";
	if (strcmp(a->smtp_user, a->user) == 0 || strcmp(a->ldap_user, a->user) == 0) {
		cli_errorf("--smtp-user and --ldap-user name accounts other than --user %s (or use "
		           "--one-account)", a->user);
		return -1;
	}
	return cli_account_ensure(a->user) < 0 || cli_account_ensure(a->smtp_user) < 0 ||
	               cli_account_ensure(a->ldap_user) < 0 ||
	               cli_account_join(a->user, a->smtp_user) < 0
	           ? -1 : 0;
}

/* The owners and modes of docs/architecture.md ("Accounts"), read back from the
 * configuration just written, so that init and check-config cannot disagree. */
static int apply_layout(const struct init_args *a, const char *conf)
{
	if (a->user == NULL)
		return 0;
	char *errors = NULL;
	const char *err;
	struct settings *s = settings_load(conf, &errors);
	int rc = s != NULL ? accounts_apply_layout(s, &err) : -1;
	if (s == NULL)
		cli_errorf("%s: %s", conf, errors);
	else if (rc < 0)
		cli_errorf("%s: %s: %s", a->dir, err, strerror(errno));
	sg_free(&errors);
	settings_free(&s);
	return rc;
}

int cli_init_cmd(int argc, char **argv)
{
	struct init_args a;
	if (parse_args(argc, argv, &a) < 0)
		return usage();
	if (check_value("gateway.hostname", a.hostname) < 0 || check_value("gateway.organization", a.org) < 0)
		return 1;
	for (size_t i = 0; i < a.ndomains; i++)
		if (check_value("gateway.internal_domains", a.domains[i]) < 0)
			return 1;
	char conf[SG_PATH_MAX];
	if (sg_path_join(conf, sizeof(conf), a.dir, "sealgate.conf") < 0)
		return usage();
	if (sg_file_exists(conf)) {
		cli_errorf("%s exists already: %s is an instance. Choose another directory, or "
		           "remove it first to start over.", conf, a.dir);
		return 1;
	}
	if (prepare_accounts(&a) < 0 || make_dirs(a.dir) < 0 || create_keys_and_store(&a) < 0 ||
	    write_config(&a, conf) < 0 || apply_layout(&a, conf) < 0)
		return 1;
	printf("Created a sealgate instance in %s for %s (domains:", a.dir, a.org);
	for (size_t i = 0; i < a.ndomains; i++)
		printf(" %s", a.domains[i]);
	printf(").\n  configuration  %s\n  CA certificate %s/ca/ca.crt\n"
	       "  TLS            %s/tls/server.crt (for %s)\n"
	       "Both routes deliver to the Maildirs in %s/mail; point route.internal and "
	       "route.external at your mail servers with `sealgate config set`.\n"
	       "Start it with: sealgate run -c %s\n",
	       conf, a.dir, a.dir, a.hostname, a.dir, conf);
	if (a.user != NULL)
		printf("It belongs to %s, whom the gateway becomes when started as root; run the other "
		       "commands as %s (sudo -u %s sealgate ...).\n", a.user, a.user, a.user);
	if (a.smtp_user != NULL)
		printf("smtpd runs as %s and ldapd as %s: neither can read the store, the master key "
		       "or the CA (`sealgate check-config` checks the owners).\n", a.smtp_user,
		       a.ldap_user);
	return 0;
}

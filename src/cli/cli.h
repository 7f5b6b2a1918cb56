/* cli.h: the admin commands of `sealgate`, one group per file. Each takes the arguments
 * after its group name and returns the process exit code (0 ok, 1 failure, 2 usage). */
#ifndef SG_CLI_H
#define SG_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

int cli_init_cmd(int argc, char **argv);
int cli_run_cmd(int argc, char **argv);
int cli_config_cmd(int argc, char **argv);
int cli_check_config_cmd(int argc, char **argv);
int cli_queue_cmd(int argc, char **argv);
int cli_user_cmd(int argc, char **argv);
int cli_cert_cmd(int argc, char **argv);
int cli_ca_cmd(int argc, char **argv);
int cli_pgp_cmd(int argc, char **argv);
int cli_dkim_cmd(int argc, char **argv);
int cli_quarantine_cmd(int argc, char **argv);
int cli_audit_cmd(int argc, char **argv);
int cli_directory_cmd(int argc, char **argv);
int cli_webmail_cmd(int argc, char **argv);
int cli_tls_policy_cmd(int argc, char **argv);
int cli_domain_cmd(int argc, char **argv);
int cli_lookup_cmd(int argc, char **argv);
int cli_store_cmd(int argc, char **argv);

/* What the cert and ca commands work on: the configuration, the store, and (when asked
 * for) the master key and the CA. */
struct cli_cert_ctx {
	struct settings *settings;
	struct store *store;
	struct keystore *keystore; /* NULL unless opened with want_keys */
	struct ca *ca;             /* NULL unless opened with want_keys */
};
/* Opens everything for config_path; prints why not and returns -1. */
int cli_cert_open(struct cli_cert_ctx *ctx, const char *config_path, bool want_keys);
/* A subcommand of a group that works on the store (and, with want_keys, the keys). */
struct cli_subcommand {
	const char *name;
	int (*run)(struct cli_cert_ctx *ctx, int argc, char **argv);
	bool want_keys;
};
/* Takes -c FILE, finds argv[0] in table, opens the context it needs and runs it; usage()
 * for anything else. */
int cli_dispatch(const struct cli_subcommand *table, size_t n, int argc, char **argv,
                 int (*usage)(void));
void cli_cert_close(struct cli_cert_ctx *ctx);
/* Writes the CRL of the instance CA to gateway.ca_dir/crl.pem (and stdout if to_stdout). */
int cli_ca_write_crl(struct cli_cert_ctx *ctx, bool to_stdout);

/* True if domain is one of gateway.internal_domains (cli_common.c). */
bool cli_internal_domain(const struct cli_cert_ctx *ctx, const char *domain);
/* "YYYY-MM-DD" (UTC) of t, or "never" for 0. */
void cli_format_day(time_t t, char *dst, size_t size);

/* A plain ASCII addr-spec (local@domain), lower-cased into dst; prints why not and returns -1
 * (cli_cert.c). */
int cli_take_address(const char *arg, char *dst, size_t dstsize);
/* `user enrol` and `user add-shared` (cli_enrol.c): employees' certificates and shared
 * mailboxes; argv[0] is the subcommand. */
int cli_enrol_cmd(struct cli_cert_ctx *ctx, int argc, char **argv);

/* cli_pgp.c, also for `domain own|export`: stores a key pair generated in pc for address (its
 * secret sealed), or prints address's active public key armoured; 0/-1 and 0/1 (exit code). */
struct pgp_ctx;
int cli_pgp_store_generated(struct cli_cert_ctx *ctx, struct pgp_ctx *pc, const char *address,
                            const char *fpr);
int cli_pgp_export_active(struct cli_cert_ctx *ctx, const char *address);

/* `user invite EMAIL` (cli_portal.c): a pending portal account and its one-time password. */
int cli_portal_invite(struct cli_cert_ctx *ctx, const char *addr);

/* cli_usage.c: the table of every command line and option. cli_usage prints the lines of
 * command on stderr and returns 2 (the usage exit code); cli_usage_summary prints them on
 * stdout (`sealgate help`). The writers return -1 if f could not be written. */
int cli_usage(const char *command);
void cli_usage_summary(const char *command);
int cli_usage_write_man(FILE *f);      /* sealgate(8) */
int cli_usage_write_markdown(FILE *f); /* the README's command table */

/* Records event (about address, "" if none) in the audit log with the account that runs the
 * command; a store that refuses it is reported as a warning, the command's work stands. */
struct store;
void cli_audit(struct store *st, const char *event, const char *address, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Who runs this command: "cli:ACCOUNT", with "(sudo by USER)" under sudo. */
void cli_audit_actor(char *dst, size_t size);
/* The same for a command that has not opened the store: it opens the instance's at config. */
void cli_audit_config(const char *config, const char *event, const char *address,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* ---- cli_cluster.c: nodes of a shared store ---- */
struct keystore;
/* `store copy --to URL`: the instance's SQLite store into another, checked table by table. */
int cli_store_copy(struct cli_cert_ctx *ctx, int argc, char **argv);
/* The CA's ca.crt and ca.key of ca_dir put into st (0; -1 when st has another CA's). */
int cli_ca_publish(struct store *st, const char *ca_dir);
/* The store's CA written into ca_dir and opened with ks: 1, 0 when st has none, -1. */
int cli_ca_fetch(struct store *st, const char *ca_dir, const struct keystore *ks);

/* Finds "-c FILE" (or "--config FILE") in argv, removes it, and returns FILE or NULL. */
const char *cli_take_config(int *argc, char **argv);
/* -1 (and why, on stderr) if this is root and the instance runs as gateway.user. */
int cli_check_account(const struct settings *s);
/* Loads the configuration at path, printing every problem to stderr; NULL on error. When
 * smtpd has an account of its own, files are made with the umask 0007 from here on (the spool
 * is its group's too: core/accounts.h). */
struct settings *cli_load_settings(const char *path);
/* cli_accounts.c: the system account name, created (useradd --system, no home, no shell) if
 * it does not exist: 0, or -1 after saying why. */
int cli_account_ensure(const char *name);
/* user joins the primary group of account (usermod --append): 0, or -1 after saying why. */
int cli_account_join(const char *user, const char *account);
/* The channel name: 0 with *channel_r (an enum policy_channel), or -1 after printing why it
 * cannot be chosen: not a channel, or a channel this build has no transform for (its mail
 * would wait in the queue for ever). */
int cli_channel_parse(const char *name, int *channel_r);
/* -1 (after printing why) when key, a setting that names a channel, would be set to value
 * that cli_channel_parse refuses; 0 for every other key. */
int cli_channel_setting_check(const char *key, const char *value);

/* The first line of stdin (without its line end) into dst, for a password or passphrase;
 * -1 (and why, naming what) if there is none or it does not fit. The caller wipes dst. */
int cli_read_secret_line(char *dst, size_t size, const char *what);
/* Prints "sealgate: ..." to stderr with a newline. */
void cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

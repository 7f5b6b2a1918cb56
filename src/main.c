/* main.c: `sealgate <command>`: dispatches to the command groups of cli/ through a table. */
#include "cli/cli.h"
#include "core/sg_log.h"
#include "daemon/daemon.h"
#include "pdf/pdf.h"

#include <stdio.h>
#include <string.h>

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
};

static int version_cmd(int argc, char **argv);
static int help_cmd(int argc, char **argv);
static int role_cmd(int argc, char **argv);
static int pdf_worker_cmd(int argc, char **argv);

static const struct command commands[] = {
	{"init", cli_init_cmd, "init DIR --domain D [--domain D2 ...] [--org NAME] [--hostname H] "
	                       "[--ca-key rsa3072|p256|p384] [--user ACCOUNT]"},
	{"run", cli_run_cmd, "run -c FILE                      run the gateway in the foreground"},
	{"config", cli_config_cmd, "config get|set -c FILE section.key [value]"},
	{"check-config", cli_check_config_cmd, "check-config -c FILE          validate a configuration"},
	{"queue", cli_queue_cmd, "queue list|show ID|flush|delete ID -c FILE"},
	{"cert", cli_cert_cmd, "cert issue|proxy|revoke|list|export|import -c FILE ...  S/MIME certificates"},
	{"ca", cli_ca_cmd, "ca crl|trust|anchors -c FILE [CERT]  the CA's CRL; partners' CAs trusted"},
	{"pgp", cli_pgp_cmd, "pgp import|list|export|delete|generate|accept -c FILE ...  OpenPGP keys"},
	{"dkim", cli_dkim_cmd, "dkim generate|rotate|import|list|show|delete -c FILE ...  DKIM keys"},
	{"quarantine", cli_quarantine_cmd, "quarantine list|show|delete -c FILE [ID]  infected mail held by the virus scan"},
	{"user", cli_user_cmd, "user add-external|invite|passwd|set-channel|list|show|enrol|add-shared -c FILE ...  accounts"},
	{"directory", cli_directory_cmd, "directory test|sync -c FILE ...  the LDAP directory of employees"},
	{"webmail", cli_webmail_cmd, "webmail list|purge -c FILE [ADDRESS]  webmail kept for partners"},
	{"audit", cli_portal_audit_cmd, "audit -c FILE [--since 7d]      the portal's audit log"},
	{"version", version_cmd, "version"},
	{"help", help_cmd, "help"},
	{"__role", role_cmd, NULL}, /* hidden: the master re-executes itself into a role */
	{"__pdf-worker", pdf_worker_cmd, NULL}, /* hidden: qmgr's isolated SecurePDF renderer */
};

static int version_cmd(int argc, char **argv)
{
	(void)argc, (void)argv;
	printf("sealgate %s\n", SEALGATE_VERSION);
	return 0;
}

static int help_cmd(int argc, char **argv)
{
	(void)argc, (void)argv;
	printf("sealgate %s: a secure e-mail gateway\n\nUsage: sealgate COMMAND [ARGS]\n\n",
	       SEALGATE_VERSION);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].usage != NULL)
			printf("  sealgate %s\n", commands[i].usage);
	printf("\nConfiguration keys: docs/configuration.md (or `sealgate config docs`).\n");
	return 0;
}

static int role_cmd(int argc, char **argv)
{
	const char *config = cli_take_config(&argc, argv);
	if (argc != 1 || config == NULL) {
		cli_errorf("usage: __role NAME -c FILE (internal)");
		return 2;
	}
	return master_child_start(argv[0], config);
}

static int pdf_worker_cmd(int argc, char **argv)
{
	(void)argc, (void)argv;
	sg_log_init("pdf-worker");
	return pdf_isolate_worker_main();
}

#if defined(__SANITIZE_ADDRESS__)
/* libopendkim 2.11.0~beta2 never frees an Ed25519 signing key (docs/dkim.md): its leak, not
 * ours, and tests/lsan.supp names it for the unit tests too. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:dkim_privkey_load\n"; }
#endif

int main(int argc, char **argv)
{
	sg_log_init(NULL);
	if (argc < 2) {
		help_cmd(0, NULL);
		return 2;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 2, argv + 2);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return help_cmd(0, NULL);
	if (strcmp(argv[1], "--version") == 0)
		return version_cmd(0, NULL);
	cli_errorf("unknown command '%.40s'; `sealgate help` lists the commands", argv[1]);
	return 2;
}

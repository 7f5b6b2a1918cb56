/* main.c: `sealgate <command>`: dispatches to the command groups of cli/ through a table. */
#include "cli/cli.h"
#include "core/sg_log.h"
#include "daemon/daemon.h"
#include "pdf/pdf.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The usage and description of each command are in the table of cli/cli_usage.c. */
struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	bool hidden;
};

static int version_cmd(int argc, char **argv);
static int help_cmd(int argc, char **argv);
static int role_cmd(int argc, char **argv);
static int pdf_worker_cmd(int argc, char **argv);

static const struct command commands[] = {
	{"init", cli_init_cmd, false},
	{"run", cli_run_cmd, false},
	{"config", cli_config_cmd, false},
	{"check-config", cli_check_config_cmd, false},
	{"queue", cli_queue_cmd, false},
	{"cert", cli_cert_cmd, false},
	{"ca", cli_ca_cmd, false},
	{"pgp", cli_pgp_cmd, false},
	{"dkim", cli_dkim_cmd, false},
	{"tls-policy", cli_tls_policy_cmd, false},
	{"quarantine", cli_quarantine_cmd, false},
	{"user", cli_user_cmd, false},
	{"directory", cli_directory_cmd, false},
	{"webmail", cli_webmail_cmd, false},
	{"domain", cli_domain_cmd, false},
	{"lookup", cli_lookup_cmd, false},
	{"audit", cli_audit_cmd, false},
	{"store", cli_store_cmd, false},
	{"version", version_cmd, false},
	{"help", help_cmd, false},
	{"__role", role_cmd, true},             /* the master re-executes itself into a role */
	{"__pdf-worker", pdf_worker_cmd, true}, /* qmgr's isolated SecurePDF renderer */
};

static int version_cmd(int argc, char **argv)
{
	(void)argc, (void)argv;
	printf("sealgate %s\n", SEALGATE_VERSION);
	return 0;
}

/* help [--man|--markdown]: the commands, or sealgate(8), or the README's command table. */
static int help_cmd(int argc, char **argv)
{
	if (argc == 1 && strcmp(argv[0], "--man") == 0)
		return cli_usage_write_man(stdout) < 0 ? 1 : 0;
	if (argc == 1 && strcmp(argv[0], "--markdown") == 0)
		return cli_usage_write_markdown(stdout) < 0 ? 1 : 0;
	printf("sealgate %s: a secure e-mail gateway\n\nUsage: sealgate COMMAND [ARGS]\n\n",
	       SEALGATE_VERSION);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!commands[i].hidden)
			cli_usage_summary(commands[i].name);
	printf("\nman sealgate; configuration keys: man sealgate.conf (or `sealgate config docs`).\n");
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

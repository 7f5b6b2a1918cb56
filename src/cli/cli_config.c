/* cli_config.c: `config get|set|docs` and `check-config`, all driven by the settings table. */
#include "cli/cli.h"
#include "core/accounts.h"
#include "core/settings.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "store/store.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int config_usage(void)
{
	return cli_usage("config");
}

static int config_get(struct settings *s, int argc, char **argv)
{
	if (argc == 0) {
		size_t count;
		const struct setting_def *t = settings_table(&count);
		for (size_t i = 0; i < count; i++)
			printf("%s = %s\n", t[i].key, settings_get(s, t[i].key));
		return 0;
	}
	for (int i = 0; i < argc; i++) {
		if (settings_find(argv[i]) == NULL) {
			cli_errorf("unknown key %s; `sealgate config get -c FILE` lists them all", argv[i]);
			return 1;
		}
		printf("%s\n", settings_get(s, argv[i]));
	}
	return 0;
}

int cli_config_cmd(int argc, char **argv)
{
	const char *path = cli_take_config(&argc, argv);
	if (argc == 2 && strcmp(argv[0], "docs") == 0 && strcmp(argv[1], "--man") == 0)
		return settings_write_man(stdout) < 0 ? 1 : 0;
	if (argc == 1 && strcmp(argv[0], "docs") == 0)
		return settings_write_docs(STDOUT_FILENO) < 0 ? 1 : 0;
	if (argc < 1 || path == NULL)
		return config_usage();
	if (strcmp(argv[0], "set") == 0) {
		if (argc != 3)
			return config_usage();
		char why[512];
		if (cli_channel_setting_check(argv[1], argv[2]) < 0)
			return 1;
		if (settings_file_set(path, argv[1], argv[2], why, sizeof(why)) < 0) {
			cli_errorf("%s = '%s': %s", argv[1], argv[2], why);
			return 1;
		}
		char value[256];
		sg_printable(value, sizeof(value), argv[2], sizeof(value) - 1);
		cli_audit_config(path, "config-set", "", "%.100s = %s", argv[1], value);
		return 0;
	}
	if (strcmp(argv[0], "get") != 0)
		return config_usage();
	struct settings *s = cli_load_settings(path);
	if (s == NULL)
		return 1;
	int rc = config_get(s, argc - 1, argv + 1);
	settings_free(&s);
	return rc;
}

static void print_layout_problem(void *arg, const char *message)
{
	(void)arg;
	cli_errorf("%s", message);
}

/* Also the owners and modes of the instance's files, when it runs as gateway.user (the
 * checks the master makes before it starts a child: docs/architecture.md, "Accounts"). */
int cli_check_config_cmd(int argc, char **argv)
{
	const char *path = cli_take_config(&argc, argv);
	if (path == NULL || argc != 0) {
		return cli_usage("check-config");
	}
	char *errors = NULL;
	struct settings *s = settings_load(path, &errors);
	if (s == NULL) {
		fputs(errors, stderr);
		sg_free(&errors);
		return 1;
	}
	if (cli_channel_setting_check("policy.default_external_channel",
	                              settings_get(s, "policy.default_external_channel")) < 0) {
		settings_free(&s);
		return 1;
	}
	char why[512];
	if (store_check_settings(s, why, sizeof(why)) < 0) {
		fprintf(stderr, "%s: %s\n", path, why);
		settings_free(&s);
		return 1;
	}
	const char *err;
	int bad = accounts_check_layout(s, print_layout_problem, NULL, &err);
	if (bad < 0)
		cli_errorf("gateway.user = %s: %s", settings_get(s, "gateway.user"), err);
	settings_free(&s);
	if (bad != 0)
		return 1;
	printf("%s: configuration is valid\n", path);
	return 0;
}

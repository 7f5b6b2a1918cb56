/* cli_common.c: argument and error helpers shared by the command groups. */
#include "cli/cli.h"
#include "core/accounts.h"
#include "core/settings.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *cli_take_config(int *argc, char **argv)
{
	for (int i = 0; i + 1 < *argc; i++) {
		if (strcmp(argv[i], "-c") != 0 && strcmp(argv[i], "--config") != 0)
			continue;
		const char *path = argv[i + 1];
		memmove(&argv[i], &argv[i + 2], (size_t)(*argc - i - 2) * sizeof(char *));
		*argc -= 2;
		argv[*argc] = NULL;
		return path;
	}
	return NULL;
}

void cli_errorf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("sealgate: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* As root, a command would leave root-owned files (the store's journal, spool files) that the
 * gateway, running as gateway.user, can no longer read: refused with the command to use. */
int cli_check_account(const struct settings *s)
{
	const char *name = settings_get(s, "gateway.user");
	if (name[0] == '\0' || geteuid() != 0)
		return 0;
	cli_errorf("this instance runs as %s (gateway.user): run the command as that account, so "
	           "that what it writes stays readable by the gateway: sudo -u %s sealgate ...",
	           name, name);
	return -1;
}

struct settings *cli_load_settings(const char *path)
{
	char *errors = NULL;
	struct settings *s = settings_load(path, &errors);
	if (s == NULL) {
		fputs(errors, stderr);
		fprintf(stderr, "sealgate: %s is not valid; fix the lines above "
		                "(`sealgate check-config -c %s` shows them again)\n", path, path);
		sg_free(&errors);
	}
	if (s != NULL && accounts_spool_shared(s))
		umask(S_IRWXO);
	return s;
}

int cli_dispatch(const struct cli_subcommand *table, size_t n, int argc, char **argv,
                 int (*usage)(void))
{
	const char *config = cli_take_config(&argc, argv);
	if (argc < 1)
		return usage();
	for (size_t i = 0; i < n; i++) {
		if (strcmp(argv[0], table[i].name) != 0)
			continue;
		struct cli_cert_ctx ctx;
		if (cli_cert_open(&ctx, config, table[i].want_keys) < 0)
			return 1;
		int rc = table[i].run(&ctx, argc - 1, argv + 1);
		cli_cert_close(&ctx);
		return rc;
	}
	return usage();
}

int cli_read_secret_line(char *dst, size_t size, const char *what)
{
	size_t n = 0;
	char c;
	ssize_t got;
	/* read(2) byte by byte, not stdio: no copy of the secret stays in a FILE buffer */
	while ((got = read(STDIN_FILENO, &c, 1)) == 1 && c != '\n') {
		if (n + 1 >= size) {
			sg_wipe(dst, size);
			cli_errorf("%s: longer than %zu bytes", what, size - 1);
			return -1;
		}
		dst[n++] = c;
	}
	if (n > 0 && dst[n - 1] == '\r')
		n--;
	dst[n] = '\0';
	if (got < 0 || (got == 0 && n == 0)) {
		sg_wipe(dst, size);
		cli_errorf("%s: nothing on standard input (it reads the first line)", what);
		return -1;
	}
	sg_wipe(&c, sizeof(c));
	return 0;
}

bool cli_internal_domain(const struct cli_cert_ctx *ctx, const char *domain)
{
	struct sg_strlist domains;
	sg_strlist_split(&domains, settings_get(ctx->settings, "gateway.internal_domains"));
	bool internal = sg_strlist_contains_nocase(&domains, domain);
	sg_strlist_free(&domains);
	return internal;
}

void cli_format_day(time_t t, char *dst, size_t size)
{
	struct tm tm;
	if (t == 0)
		sg_strlcpy(dst, "never", size);
	else
		strftime(dst, size, "%Y-%m-%d", gmtime_r(&t, &tm));
}

/* cli_webmail.c: `sealgate webmail list|purge`: what the webmail channel keeps, per partner or
 * per message, and deleting it. Admins see sizes, dates and senders, never a subject or body:
 * those stay sealed. */
#include "cli/cli.h"
#include "core/settings.h"
#include "core/sg_mem.h"
#include "core/sg_time.h"
#include "store/store_webmail.h"
#include "webmail/webmail.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int webmail_usage(void)
{
	return cli_usage("webmail");
}

static void when_text(time_t t, char *dst, size_t size)
{
	struct tm tm;
	if (t <= 0 || gmtime_r(&t, &tm) == NULL || strftime(dst, size, "%Y-%m-%d %H:%M", &tm) == 0)
		snprintf(dst, size, "-");
}

static int list_partners(struct cli_cert_ctx *ctx)
{
	struct store_webmail_usage *u = NULL;
	size_t n = 0;
	const char *err;
	if (store_webmail_partners(ctx->store, NULL, &u, &n, &err) < 0) {
		cli_errorf("%s", err);
		return 1;
	}
	printf("%-40s %8s %8s %10s  %-16s  %s\n", "PARTNER", "MESSAGES", "UNREAD", "MB", "OLDEST",
	       "NEWEST");
	for (size_t i = 0; i < n; i++) {
		char oldest[32], newest[32];
		when_text(u[i].oldest, oldest, sizeof(oldest));
		when_text(u[i].newest, newest, sizeof(newest));
		printf("%-40s %8zu %8zu %10.1f  %-16s  %s\n", u[i].address, u[i].messages, u[i].unread,
		       (double)u[i].bytes / 1048576.0, oldest, newest);
	}
	sg_free(&u);
	return 0;
}

static int list_folder(struct cli_cert_ctx *ctx, const char *address,
                       enum store_webmail_folder folder)
{
	struct store_webmail_msg *m = NULL;
	size_t n = 0;
	const char *err;
	if (store_webmail_list(ctx->store, address, folder, 0, STORE_WEBMAIL_PAGE_MAX, &m, &n,
	                       &err) < 0) {
		cli_errorf("%s", err);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char when[32];
		when_text(m[i].created, when, sizeof(when));
		printf("%s  %-5s %s  %-32s %10lld %3d att %s\n", m[i].uid,
		       folder == STORE_WEBMAIL_SENT ? "sent" : "inbox", when,
		       m[i].sender[0] ? m[i].sender : "<>", (long long)m[i].size, m[i].attachments,
		       m[i].read_at ? "read" : "unread");
	}
	store_webmail_list_free(&m, n);
	return (int)n;
}

static int cmd_list(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	if (argc > 1)
		return webmail_usage();
	if (argc == 0)
		return list_partners(ctx);
	int inbox = list_folder(ctx, argv[0], STORE_WEBMAIL_INBOX);
	int sent = inbox < 0 ? -1 : list_folder(ctx, argv[0], STORE_WEBMAIL_SENT);
	if (sent < 0)
		return 1;
	if (inbox + sent == 0)
		printf("no webmail kept for %s\n", argv[0]);
	return 0;
}

static int cmd_purge(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	if (argc > 1)
		return webmail_usage();
	size_t n = 0;
	const char *err;
	int days = (int)settings_number(ctx->settings, "webmail.retention_days");
	size_t swept = 0;
	int rc = argc == 1 ? webmail_purge_address(ctx->store, argv[0], "cli", sg_wall(), &n, &err)
	                   : webmail_retention_run(ctx->store, days, sg_wall(), &n, &err);
	if (rc == 0 && argc == 0)
		rc = webmail_sweep(ctx->store, sg_wall(), &swept, &err);
	if (rc < 0) {
		cli_errorf("%s", err);
		return 1;
	}
	if (argc == 1)
		printf("%zu webmail message(s) of %s deleted\n", n, argv[0]);
	else
		printf("%zu webmail message(s) older than %d days deleted, %zu file(s) of sealed parts"
		       " without a message removed\n", n, days, swept);
	cli_audit(ctx->store, "webmail-purged", argc == 1 ? argv[0] : "", "%zu message(s)%s", n,
	          argc == 1 ? "" : " past webmail.retention_days");
	return 0;
}

static const struct cli_subcommand subcommands[] = {
	{"list", cmd_list, false},
	{"purge", cmd_purge, false},
};

int cli_webmail_cmd(int argc, char **argv)
{
	return cli_dispatch(subcommands, sizeof(subcommands) / sizeof(subcommands[0]), argc, argv,
	                    webmail_usage);
}

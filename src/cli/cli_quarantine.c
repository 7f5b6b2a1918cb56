/* cli_quarantine.c: `sealgate quarantine list|show|delete`: the messages the virus scanner
 * found infected under scan.action = hold, kept sealed in the store for an admin. */
#include "cli/cli.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "crypto/keystore.h"
#include "store/store.h"
#include "store/store_quarantine.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int quarantine_usage(void)
{
	return cli_usage("quarantine");
}

static int take_id(int argc, char **argv, int64_t *id_r)
{
	const char *err;
	if (argc != 1)
		return quarantine_usage();
	*id_r = sg_strtonum(argv[0], 1, INT64_MAX, &err);
	if (err != NULL) {
		cli_errorf("'%.40s' is not a quarantine id (a number from quarantine list)", argv[0]);
		return 1;
	}
	return 0;
}

static int cmd_list(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	(void)argv;
	struct store_quarantine *q = NULL;
	size_t n = 0;
	const char *err;
	if (argc != 0)
		return quarantine_usage();
	if (store_quarantine_list(ctx->store, &q, &n, &err) < 0) {
		cli_errorf("store: %s", err);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		char when[32];
		struct tm tm;
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M", gmtime_r(&q[i].created, &tm));
		printf("%" PRId64 "\t%s\t%s\t<%s> -> %s\t%s\n", q[i].id, when, q[i].queue_id,
		       q[i].sender, q[i].rcpts, q[i].signature);
	}
	sg_free(&q);
	return 0;
}

static int cmd_show(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	int64_t id = 0;
	int rc = take_id(argc, argv, &id);
	if (rc != 0)
		return rc;
	struct store_quarantine q;
	const char *err;
	rc = store_quarantine_get(ctx->store, id, &q, &err);
	if (rc <= 0) {
		cli_errorf(rc < 0 ? "store: %s" : "no quarantined message %s", rc < 0 ? err : argv[0]);
		return 1;
	}
	char owner[64 + SG_QUEUE_ID_MAX];
	unsigned char *msg = NULL;
	size_t len = 0;
	snprintf(owner, sizeof(owner), "quarantine:%" PRId64 ":%s", q.id, q.queue_id);
	rc = keystore_unseal_bytes(ctx->keystore, q.sealed, q.sealed_len, owner, &msg, &len, &err);
	store_quarantine_clear(&q);
	if (rc < 0) {
		cli_errorf("quarantine %s: %s", argv[0], err);
		return 1;
	}
	rc = fwrite(msg, 1, len, stdout) == len ? 0 : 1;
	sg_free_secret(&msg, len);
	return rc;
}

static int cmd_delete(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	int64_t id = 0;
	int rc = take_id(argc, argv, &id);
	const char *err;
	if (rc != 0)
		return rc;
	rc = store_quarantine_delete(ctx->store, id, &err);
	if (rc < 0)
		cli_errorf("store: %s", err);
	else if (rc == 0)
		cli_errorf("no quarantined message %s", argv[0]);
	else
		cli_audit(ctx->store, "virus-deleted", "", "%.40s", argv[0]);
	return rc == 1 ? 0 : 1;
}

static const struct cli_subcommand subcommands[] = {
	{"list", cmd_list, false},
	{"show", cmd_show, true},
	{"delete", cmd_delete, false},
};

int cli_quarantine_cmd(int argc, char **argv)
{
	return cli_dispatch(subcommands, sizeof(subcommands) / sizeof(subcommands[0]), argc,
	                    argv, quarantine_usage);
}

/* cli_quarantine.c: `sealgate quarantine list|show|release|delete`: the messages the virus
 * scanner found infected under scan.action = hold, kept sealed in the store for an admin.
 * release is for a false positive: the message goes to its original recipients without being
 * scanned again (a rescan would find the same signature and hold it again), tagged
 * "X-Sealgate-Scan: released" by the queue manager, with an audit entry naming the admin. */
#include "cli/cli.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "core/settings.h"
#include "crypto/keystore.h"
#include "mime/mime.h"
#include "queue/spool.h"
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

/* Row id with its message unsealed (*msg_r: wipe it): 0, or 1 with the error said. */
static int open_row(struct cli_cert_ctx *ctx, const char *arg, int64_t id,
                    struct store_quarantine *q, unsigned char **msg_r, size_t *len_r)
{
	const char *err;
	int rc = store_quarantine_get(ctx->store, id, q, &err);
	if (rc <= 0) {
		cli_errorf(rc < 0 ? "store: %s" : "no quarantined message %s", rc < 0 ? err : arg);
		return 1;
	}
	char owner[64 + SG_QUEUE_ID_MAX];
	snprintf(owner, sizeof(owner), "quarantine:%" PRId64 ":%s", q->id, q->queue_id);
	if (keystore_unseal_bytes(ctx->keystore, q->sealed, q->sealed_len, owner, msg_r, len_r,
	                          &err) < 0) {
		cli_errorf("quarantine %s: %s", arg, err);
		store_quarantine_clear(q);
		return 1;
	}
	return 0;
}

/* The row named by the one argument, its message unsealed: 0, or the exit code. */
static int take_row(struct cli_cert_ctx *ctx, int argc, char **argv, struct store_quarantine *q,
                    unsigned char **msg_r, size_t *len_r)
{
	int64_t id = 0;
	int rc = take_id(argc, argv, &id);
	return rc != 0 ? rc : open_row(ctx, argv[0], id, q, msg_r, len_r);
}

static int cmd_show(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	struct store_quarantine q;
	unsigned char *msg = NULL;
	size_t len = 0;
	int rc = take_row(ctx, argc, argv, &q, &msg, &len);
	if (rc != 0)
		return rc;
	store_quarantine_clear(&q);
	rc = fwrite(msg, 1, len, stdout) == len ? 0 : 1;
	sg_free_secret(&msg, len);
	return rc;
}

/* The envelope of a release: the original sender and recipients, not scanned again. */
static int release_envelope(const struct store_quarantine *q, const unsigned char *msg,
                            size_t len, struct spool_envelope *env)
{
	if (strlen(q->rcpts) + 1 >= sizeof(q->rcpts)) {
		cli_errorf("quarantine %" PRId64 ": its recipient list was cut when it was stored; "
		           "deliver it by hand (`quarantine show`)", q->id);
		return -1;
	}
	env->arrival = q->created;
	env->sender = sg_strdup(q->sender);
	env->client_addr = sg_strdup("local");
	env->client_helo = sg_strdup("quarantine");
	env->smtputf8 = mime_has_8bit(q->rcpts, strlen(q->rcpts)) ||
	                mime_has_8bit(q->sender, strlen(q->sender));
	env->body_8bit = mime_has_8bit((const char *)msg, len);
	env->flags = SPOOL_F_UNSCANNED;
	char rcpts[sizeof(q->rcpts)], *save = NULL;
	sg_strlcpy(rcpts, q->rcpts, sizeof(rcpts));
	for (char *r = strtok_r(rcpts, ",", &save); r != NULL; r = strtok_r(NULL, ",", &save))
		spool_envelope_add_rcpt(env, r, NULL);
	if (env->nrcpt == 0)
		cli_errorf("quarantine %" PRId64 ": no recipients stored", q->id);
	return env->nrcpt > 0 ? 0 : -1;
}

/* Queued first, forgotten second: a crash in between makes a duplicate, never a loss. */
static int cmd_release(struct cli_cert_ctx *ctx, int argc, char **argv)
{
	struct store_quarantine q;
	unsigned char *msg = NULL;
	size_t len = 0;
	char path[SG_PATH_MAX];
	const char *err = "gateway.spool_dir: path too long";
	int rc = take_row(ctx, argc, argv, &q, &msg, &len);
	if (rc != 0)
		return rc;
	int64_t id = q.id;
	struct spool *sp = NULL;
	if (settings_path(ctx->settings, "gateway.spool_dir", path, sizeof(path)) == 0)
		sp = spool_open_existing(path, &err);
	struct spool_envelope env;
	spool_envelope_init(&env);
	rc = 1;
	if (sp == NULL)
		cli_errorf("spool: %s; nothing released", err);
	else if (release_envelope(&q, msg, len, &env) == 0 &&
	         spool_inject(sp, msg, len, &env, &err) < 0)
		cli_errorf("spool: %s; nothing released", err);
	else if (env.id[0] != '\0' && store_quarantine_delete(ctx->store, id, &err) < 0)
		cli_errorf("released as %s, but the quarantine row stays: %s", env.id, err);
	else if (env.id[0] != '\0')
		rc = 0;
	for (size_t i = 0; rc == 0 && i < env.nrcpt; i++)
		cli_audit(ctx->store, "virus-released", env.rcpts[i].addr,
		          "quarantine %" PRId64 " (%.100s) queued as %s, not scanned again", id,
		          q.signature, env.id);
	if (rc == 0)
		printf("quarantine %" PRId64 " released to %s as %s (not scanned again)\n", id,
		       q.rcpts, env.id);
	spool_envelope_free(&env);
	spool_close(&sp);
	store_quarantine_clear(&q);
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
	{"release", cmd_release, true},
	{"delete", cmd_delete, false},
};

int cli_quarantine_cmd(int argc, char **argv)
{
	return cli_dispatch(subcommands, sizeof(subcommands) / sizeof(subcommands[0]), argc,
	                    argv, quarantine_usage);
}

/* smtpd_main.c: the smtpd role. Reads its settings, loads the TLS context, opens the spool
 * and runs the server with a sink that streams each message into a spool writer: the 250 is
 * sent only after spool_writer_commit made the message durable. */
#include "core/settings.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_net.h"
#include "core/sg_str.h"
#include "role/role.h"
#include "queue/spool.h"
#include "smtp/smtp.h"

#include <openssl/ssl.h>
#include <string.h>

/* Spool details (paths, errno) go to the log; the client gets this. */
#define SINK_CLIENT_ERROR "queue file write error"

struct sink {
	struct spool *sp;
	struct spool_writer *w;
};

static void *sink_new(void *arg)
{
	struct sink *k = sg_calloc(1, sizeof(*k));
	k->sp = arg;
	return k;
}

static void sink_free(void *ctx)
{
	struct sink *k = ctx;
	spool_writer_abort(&k->w);
	sg_free(&k);
}

static int sink_begin(void *ctx, char id_r[SG_QUEUE_ID_MAX], const char **error_r)
{
	struct sink *k = ctx;
	const char *err;
	k->w = spool_writer_begin(k->sp, &err);
	if (k->w == NULL) {
		sg_error("spool: %s", err);
		*error_r = SINK_CLIENT_ERROR;
		return -1;
	}
	sg_strlcpy(id_r, spool_writer_id(k->w), SG_QUEUE_ID_MAX);
	return 0;
}

static int sink_write(void *ctx, const void *data, size_t len, const char **error_r)
{
	struct sink *k = ctx;
	const char *err;
	if (spool_writer_write(k->w, data, len, &err) < 0) {
		sg_error("spool: %s", err);
		*error_r = SINK_CLIENT_ERROR;
		return -1;
	}
	return 0;
}

static void envelope_fill(struct spool_envelope *e, const struct smtpd_envelope *env)
{
	e->arrival = time(NULL);
	e->sender = sg_strdup(env->sender);
	e->client_addr = sg_strdup(env->client_addr);
	e->client_helo = sg_strdup(env->client_helo);
	e->internal_client = env->internal_client;
	e->smtputf8 = env->smtputf8;
	e->body_8bit = env->body_8bit;
	e->tls = env->tls;
	for (size_t i = 0; i < env->nrcpt; i++)
		spool_envelope_add_rcpt(e, env->rcpts[i].addr, env->rcpts[i].orcpt);
}

static int sink_commit(void *ctx, const struct smtpd_envelope *env, const char **error_r)
{
	struct sink *k = ctx;
	struct spool_envelope e;
	spool_envelope_init(&e);
	envelope_fill(&e, env);
	const char *err;
	int rc = spool_writer_commit(&k->w, &e, &err);
	k->w = NULL;
	if (rc < 0) {
		sg_error("%s: spool: %s", env->queue_id, err);
		*error_r = SINK_CLIENT_ERROR;
	}
	spool_envelope_free(&e);
	return rc;
}

static void sink_abort(void *ctx)
{
	struct sink *k = ctx;
	spool_writer_abort(&k->w);
}

/* smtp.internal_networks: validated by check-config, so a bad entry here is a bug. */
static struct sg_cidr *networks_parse(const char *value, size_t *n_r)
{
	const char *err;
	struct sg_cidr *nets = sg_cidr_list_parse(value, n_r, &err);
	if (nets == NULL)
		sg_fatal("smtp.internal_networks: %.80s: %s", value, err);
	return nets;
}

static SSL_CTX *tls_load(const struct settings *set)
{
	char cert[SG_PATH_MAX], key[SG_PATH_MAX];
	if (settings_path(set, "smtp.tls_cert", cert, sizeof(cert)) < 0 ||
	    settings_path(set, "smtp.tls_key", key, sizeof(key)) < 0) {
		sg_warn("TLS certificate or key path too long: STARTTLS not offered");
		return NULL;
	}
	const char *err;
	SSL_CTX *ctx = smtp_tls_server_ctx(cert, key, &err);
	if (ctx == NULL)
		sg_warn("%s (%s, %s): STARTTLS not offered", err, cert, key);
	return ctx;
}

/* smtp.verify_recipients: auto is a callahead when route.internal is an SMTP server (a
 * maildir: route is a demo or a test, where any local part is a mailbox). */
static enum smtpd_verify_mode verify_mode(const struct settings *set, bool internal_smtp)
{
	const char *m = settings_get(set, "smtp.verify_recipients");
	if (strcmp(m, "callahead") == 0 || (strcmp(m, "auto") == 0 && internal_smtp))
		return SMTPD_VERIFY_CALLAHEAD;
	return strcmp(m, "directory") == 0 ? SMTPD_VERIFY_DIRECTORY : SMTPD_VERIFY_OFF;
}

/* The verifier for smtp.verify_recipients, or NULL when it is off. */
static struct smtpd_verify *verify_new(const struct settings *set, const char *spool_path)
{
	const char *route = settings_get(set, "route.internal");
	struct sg_endpoint ep = {0};
	const char *err;
	bool internal_smtp = strncmp(route, "smtp:", 5) == 0 &&
	                     sg_endpoint_parse(route + 5, &ep, &err) == 0;
	char map[SG_PATH_MAX];
	if (sg_snprintf(map, sizeof(map), "%s/%s", spool_path, SMTPD_VERIFY_MAP_NAME) < 0)
		sg_fatal("gateway.spool_dir: path too long");
	struct smtpd_verify_opts vo = {
		.mode = verify_mode(set, internal_smtp), .host = ep.host, .port = ep.port,
		.helo_name = settings_get(set, "gateway.hostname"),
		.timeout_ms = (int)settings_number(set, "smtp.verify_timeout") * 1000,
		.positive_ttl_s = (int)settings_number(set, "smtp.verify_positive_ttl"),
		.negative_ttl_s = (int)settings_number(set, "smtp.verify_negative_ttl"),
		.map_path = map};
	if (vo.mode == SMTPD_VERIFY_CALLAHEAD && !internal_smtp) {
		sg_warn("smtp.verify_recipients = callahead needs an smtp: route.internal: off");
		vo.mode = SMTPD_VERIFY_OFF;
	}
	sg_info("recipient verification: %s", vo.mode == SMTPD_VERIFY_CALLAHEAD ? "callahead"
	                                       : vo.mode == SMTPD_VERIFY_DIRECTORY ? "directory"
	                                                                           : "off");
	return vo.mode == SMTPD_VERIFY_OFF ? NULL : smtpd_verify_new(&vo);
}

static void opts_fill(struct smtpd_server_opts *o, const struct settings *set)
{
	o->session.hostname = settings_get(set, "gateway.hostname");
	o->session.max_message_size = (size_t)settings_number(set, "smtp.max_message_size");
	o->session.max_recipients = (size_t)settings_number(set, "smtp.max_recipients");
	o->session.max_errors = (unsigned int)settings_number(set, "smtp.max_errors");
	o->max_sessions = (unsigned int)settings_number(set, "smtp.max_sessions");
	o->max_sessions_per_client =
		(unsigned int)settings_number(set, "smtp.max_sessions_per_client");
	o->min_data_rate = (size_t)settings_number(set, "smtp.min_data_rate");
	o->command_timeout_ms = (int)settings_number(set, "smtp.command_timeout") * 1000;
	o->data_timeout_ms = (int)settings_number(set, "smtp.data_timeout") * 1000;
	o->drain_timeout_ms = (int)settings_number(set, "smtp.drain_timeout") * 1000;
	o->stop = &daemon_stop_requested;
	o->retire = &daemon_retire_requested;
	o->hooks = (struct smtpd_hooks){.begin = sink_begin, .write = sink_write,
	                                .commit = sink_commit, .abort = sink_abort};
	o->sink_new = sink_new;
	o->sink_free = sink_free;
}

int smtpd_main(struct role_ctx *ctx)
{
	const struct settings *set = ctx->settings;
	if (ctx->n_listen_fds == 0) {
		sg_error("no listening sockets for smtp.listen");
		return 1;
	}
	char spool_path[SG_PATH_MAX];
	const char *err;
	if (settings_path(set, "gateway.spool_dir", spool_path, sizeof(spool_path)) < 0)
		sg_fatal("gateway.spool_dir: path too long");
	/* The TLS key, as gateway.user, before smtpd's own account (which may not read it). */
	if (daemon_borrow_gateway_account(ctx, true) < 0)
		return 1;
	SSL_CTX *tls = tls_load(set);
	if (daemon_borrow_gateway_account(ctx, false) < 0 || daemon_drop_privileges(ctx) < 0)
		return 1;
	struct spool *sp = spool_open(spool_path, &err);
	if (sp == NULL)
		sg_fatal("spool: %s", err);
	struct sg_strlist domains;
	sg_strlist_split(&domains, settings_get(set, "gateway.internal_domains"));
	struct smtpd_server_opts o = {0};
	opts_fill(&o, set);
	o.session.internal_domains = &domains;
	struct smtpd_verify *verify = verify_new(set, spool_path);
	o.session.check_rcpt = verify != NULL ? smtpd_verify_check : NULL;
	o.session.check_ctx = verify;
	struct sg_cidr *nets = networks_parse(settings_get(set, "smtp.internal_networks"),
	                                      &o.n_internal_nets);
	o.internal_nets = nets;
	o.tls = tls;
	o.sink_arg = sp;
	daemon_ready(ctx, "%zu listener(s), STARTTLS %s, max %u sessions", ctx->n_listen_fds,
	        o.tls != NULL ? "on" : "off", o.max_sessions);
	int rc = smtpd_server_run(ctx->listen_fds, ctx->n_listen_fds, &o, &err);
	if (rc < 0) {
		/* Threads may still use what we would free; the process ends right after. */
		sg_warn("%s", err);
		return 0;
	}
	SSL_CTX_free(o.tls);
	smtpd_verify_free(&verify);
	sg_free(&nets);
	sg_strlist_free(&domains);
	spool_close(&sp);
	sg_info("stopped");
	return 0;
}

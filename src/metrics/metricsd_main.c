/* metricsd_main.c: the metrics role. One libmicrohttpd daemon per listening socket, one
 * thread each, a handful of connections: Prometheus scrapes once in a while. The queue gauges
 * are read from the spool at each scrape (the directory listings and one envelope per queue);
 * every counter comes from the shared block the master made. It never opens the store. */
#include "core/settings.h"
#include "core/limits.h"
#include "core/sg_buf.h"
#include "core/sg_log.h"
#include "core/sg_metrics.h"
#include "core/sg_time.h"
#include "role/role.h"
#include "metrics/metricsd.h"
#include "queue/spool.h"

#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define METRICS_BODY_MAX (256 * 1024)
#define METRICS_CONNECTIONS 8
#define METRICS_TIMEOUT_S 10

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char line[512];
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\r\n")] = '\0';
	sg_info("libmicrohttpd: %s", line);
}

/* Queue length per queue and the age of the oldest message in either. */
static void write_queue(struct spool *sp, struct sg_buf *out)
{
	static const char *const names[] = {"incoming", "active"};
	static const enum spool_queue queues[] = {SPOOL_INCOMING, SPOOL_ACTIVE};
	time_t oldest = 0, now = sg_wall();
	sg_buf_append_str(out, "# HELP sealgate_queue_messages Messages in the spool, by queue.\n"
	                       "# TYPE sealgate_queue_messages gauge\n");
	for (size_t q = 0; q < 2; q++) {
		char **ids = NULL;
		size_t n = 0;
		const char *err;
		if (spool_list(sp, queues[q], &ids, &n, &err) < 0) {
			sg_warn("metrics: listing the %s queue: %s", names[q], err);
			continue;
		}
		struct spool_envelope env;
		for (size_t i = 0; i < n; i++) { /* oldest first; one may go while we look */
			if (spool_load(sp, ids[i], &env, NULL, &err) < 0)
				continue;
			if (oldest == 0 || env.arrival < oldest)
				oldest = env.arrival;
			spool_envelope_free(&env);
			break;
		}
		sg_buf_printf(out, "sealgate_queue_messages{queue=\"%s\"} %zu\n", names[q], n);
		spool_ids_free(&ids, n);
	}
	sg_buf_printf(out, "# HELP sealgate_queue_oldest_age_seconds Age of the oldest queued "
	                   "message (0: the queue is empty).\n"
	                   "# TYPE sealgate_queue_oldest_age_seconds gauge\n"
	                   "sealgate_queue_oldest_age_seconds %lld\n",
	              (long long)(oldest != 0 && now > oldest ? now - oldest : 0));
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status, const char *type,
                             const void *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body,
	                                                         MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	enum MHD_Result rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
	(void)version, (void)upload, (void)con_cls;
	static const char not_found[] = "only /metrics is here\n";
	if (*upload_size != 0)
		return MHD_NO; /* a body: not a scrape */
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", "GET only\n", 9);
	if (strcmp(url, "/metrics") != 0)
		return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", not_found, sizeof(not_found) - 1);
	struct sg_buf out;
	sg_buf_init(&out, METRICS_BODY_MAX);
	sg_metrics_write(&out);
	write_queue(cls, &out);
	enum MHD_Result rc = reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
	                           out.data != NULL ? out.data : "", out.len);
	sg_buf_free(&out);
	return rc;
}

static struct MHD_Daemon *serve(int fd, struct spool *sp)
{
	/* MHD_USE_ITC: quiescing hands the shared socket back instead of shutting it down. */
	return MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC, 0,
	                        NULL, NULL, on_request, sp, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	                        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
	                        (unsigned int)METRICS_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
	                        (unsigned int)METRICS_TIMEOUT_S, MHD_OPTION_END);
}

static void nap_until_leaving(void)
{
	while (!daemon_leaving()) {
		struct timespec ts = {.tv_sec = 0, .tv_nsec = 200 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

int metricsd_main(struct role_ctx *ctx)
{
	if (ctx->n_listen_fds == 0) {
		daemon_ready(ctx, "metrics off (metrics.listen is empty)");
		nap_until_leaving();
		return 0;
	}
	char dir[SG_PATH_MAX];
	const char *err = "path too long";
	struct spool *sp = NULL;
	if (settings_path(ctx->settings, "gateway.spool_dir", dir, sizeof(dir)) < 0 ||
	    (sp = spool_open_existing(dir, &err)) == NULL)
		sg_fatal("gateway.spool_dir: %s", err);
	struct MHD_Daemon *d[ROLE_MAX_LISTEN] = {0};
	for (size_t i = 0; i < ctx->n_listen_fds; i++)
		if ((d[i] = serve(ctx->listen_fds[i], sp)) == NULL)
			sg_fatal("metrics.listen: libmicrohttpd cannot serve the socket");
	daemon_ready(ctx, "%zu listener(s), /metrics", ctx->n_listen_fds);
	nap_until_leaving();
	for (size_t i = 0; i < ctx->n_listen_fds; i++) {
		MHD_quiesce_daemon(d[i]);
		MHD_stop_daemon(d[i]);
	}
	spool_close(&sp);
	sg_info("stopped");
	return 0;
}

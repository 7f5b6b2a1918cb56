/* portal_server.c: libmicrohttpd underneath the portal: one daemon per inherited listening
 * socket (handed back untouched when the portal stops: it is the master's), its and GnuTLS's
 * messages in our log, requests on a pool of portal.threads threads, the
 * body collected up to SG_HTTP_BODY_MAX (more only for a logged-in partner's message: see
 * portal_compose_body_max; portal_upload.c keeps it and counts its memory), and the security
 * headers put on every response. */
#include "portal/portal_priv.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_net.h"
#include "core/sg_str.h"
#include "core/sg_time.h"
#include "role/role.h"

#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define CONNECTION_TIMEOUT_S 30
#define CONNECTION_MEMORY (64 * 1024) /* MHD's per-connection pool: caps request headers */
#define STOP_GRACE_MS 2000

struct conn_state {
	struct portal_body body;
};

const char *portal_server_header(struct portal_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *portal_server_query(struct portal_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

static const char *conn_cookie(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_COOKIE_KIND, name);
}

const char *portal_server_cookie(struct portal_req *req, const char *name)
{
	return conn_cookie(req->conn, name);
}

static void add_header(struct MHD_Response *r, const char *name, const char *value)
{
	if (MHD_add_response_header(r, name, value) != MHD_YES)
		sg_warn("cannot add the response header %s", name);
}

static void security_headers(struct MHD_Response *r, bool https, bool cacheable)
{
	add_header(r, "Content-Security-Policy",
	           "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
	           "frame-ancestors 'none'; base-uri 'none'");
	add_header(r, "X-Content-Type-Options", "nosniff");
	add_header(r, "X-Frame-Options", "DENY");
	add_header(r, "Referrer-Policy", "no-referrer");
	add_header(r, "Cross-Origin-Opener-Policy", "same-origin");
	add_header(r, "Cache-Control", cacheable ? "public, max-age=3600" : "no-store");
	if (https)
		add_header(r, "Strict-Transport-Security", "max-age=31536000");
}

/* A webmail part, sent from its own buffer, wiped when MHD is done with it. */
struct blob {
	unsigned char *data;
	size_t len;
};

static void blob_free(void *cls)
{
	struct blob *b = cls;
	sg_free_secret(&b->data, b->len);
	sg_free(&b);
}

static struct MHD_Response *response_new(struct portal_resp *resp)
{
	if (resp->blob == NULL) {
		size_t len = resp->body.len;
		return MHD_create_response_from_buffer(len, len > 0 ? resp->body.data : (void *)"",
		                                       MHD_RESPMEM_MUST_COPY);
	}
	struct blob *b = sg_malloc(sizeof(*b));
	*b = (struct blob){.data = resp->blob, .len = resp->blob_len};
	resp->blob = NULL; /* MHD owns it now, or it is freed here */
	struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback_cls(
	    b->len, b->data, blob_free, b);
	if (r == NULL)
		blob_free(b);
	return r;
}

static enum MHD_Result send_resp(struct MHD_Connection *c, struct portal_ctx *ctx,
                                 struct portal_resp *resp)
{
	struct MHD_Response *r = response_new(resp);
	if (r == NULL)
		return MHD_NO;
	security_headers(r, ctx->https, resp->cacheable);
	add_header(r, "Content-Type", resp->content_type);
	if (resp->location[0] != '\0')
		add_header(r, "Location", resp->location);
	char disp[PORTAL_DISPOSITION_MAX];
	if (resp->attachment[0] != '\0') {
		portal_part_disposition(resp->attachment, disp, sizeof(disp));
		add_header(r, "Content-Disposition", disp);
	}
	for (size_t i = 0; i < resp->ncookies; i++)
		add_header(r, "Set-Cookie", resp->cookies[i]);
	if (resp->cors)
		add_header(r, "Access-Control-Allow-Origin", "*");
	enum MHD_Result rc = MHD_queue_response(c, resp->status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result dispatch(struct portal_ctx *ctx, struct MHD_Connection *c,
                                const char *url, const char *method, struct conn_state *cs)
{
	struct portal_req req = {.ctx = ctx, .conn = c, .method = method, .path = url,
	                         .too_big = cs->body.too_big, .now = sg_wall()};
	req.body = portal_upload_body(&cs->body, &req.body_len);
	req.busy = cs->body.busy;
	portal_client_address(ctx, c, req.client, sizeof(req.client));
	struct portal_resp resp = {.status = 200, .content_type = "text/html; charset=utf-8"};
	/* The compose page may show a long message text again, escaped. */
	sg_buf_init(&resp.body, portal_compose_route(url)           ? SG_HTTP_COMPOSE_PAGE_MAX
	                        : strncmp(url, WEBMAIL_PATH "/", 9) == 0 ? SG_HTTP_READ_PAGE_MAX
	                                                                 : SG_HTTP_PAGE_MAX);
	portal_pages_handle(&req, &resp);
	portal_form_clear(&req.form);
	portal_upload_free(&cs->body); /* its memory goes back to the budget before the reply */
	portal_conns_replying(c);
	enum MHD_Result rc = send_resp(c, ctx, &resp);
	sg_buf_free(&resp.body);
	return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
	(void)version;
	struct conn_state *cs = *con_cls;
	if (cs == NULL) {
		cs = sg_calloc(1, sizeof(*cs));
		size_t big = strcmp(method, MHD_HTTP_METHOD_POST) == 0
		                 ? portal_compose_body_max(cls, url, conn_cookie(c, "sg_session"))
		                 : 0;
		portal_upload_start(cls, &cs->body, big > 0 ? big : SG_HTTP_BODY_MAX, big > 0);
		*con_cls = cs;
		portal_conns_headers_done(c);
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		portal_upload_add(&cs->body, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	return dispatch(cls, c, url, method, cs);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	(void)cls, (void)toe;
	portal_conns_request_done(c);
	struct conn_state *cs = *con_cls;
	if (cs == NULL)
		return;
	portal_upload_free(&cs->body);
	sg_free(&cs);
	*con_cls = NULL;
}

/* libmicrohttpd's messages (a TLS client that closes before its handshake, a failed
 * accept) reach our log instead of bare lines on stderr. Once serving, a message concerns one
 * client: routine on the Internet, so info; before, it is why the server does not start. */
__attribute__((format(printf, 2, 0)))
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	const struct portal_ctx *ctx = cls;
	char line[512];
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\r\n")] = '\0';
	sg_log(atomic_load(&ctx->serving) ? SG_LOG_INFO : SG_LOG_ERROR, "libmicrohttpd: %s", line);
}

/* GnuTLS (under libmicrohttpd) prints nothing unless given a logger: its audit messages (a
 * peer's bad record) are warnings; its debug log only with log.level = debug. */
static void gnutls_audit(gnutls_session_t session, const char *text)
{
	(void)session;
	sg_warn("GnuTLS: %.*s", (int)strcspn(text, "\r\n"), text);
}

static void gnutls_debug(int level, const char *text)
{
	sg_debug("GnuTLS[%d]: %.*s", level, (int)strcspn(text, "\r\n"), text);
}

static void gnutls_logs_to_ours(void)
{
	gnutls_global_set_audit_log_function(gnutls_audit);
	gnutls_global_set_log_function(gnutls_debug);
	gnutls_global_set_log_level(sg_log_enabled(SG_LOG_DEBUG) ? 2 : 0);
}

static struct MHD_Daemon *daemon_start(struct portal_ctx *ctx, int fd, const char *cert,
                                       const char *key)
{
	/* MHD_USE_ITC lets MHD_quiesce_daemon hand the socket back: without it MHD_stop_daemon
	 * shuts the socket down to wake its threads, and the socket is the master's, shared
	 * with the portal that replaces this one (a SIGHUP left the port deaf). */
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC;
	if (ctx->tls)
		flags |= MHD_USE_TLS;
	struct MHD_OptionItem tls_opts[] = {
		{MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)cert},
		{MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)key},
		{MHD_OPTION_END, 0, NULL},
	};
	/* Handlers run on every pool thread at once: the store serialises its connection (and
	 * holds it through a transaction), the rest of what they share is read-only or atomic. */
	struct MHD_OptionItem pool_opts[] = {
		{MHD_OPTION_THREAD_POOL_SIZE, ctx->threads, NULL},
		{MHD_OPTION_END, 0, NULL},
	};
	return MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, ctx, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, ctx,
	    MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_ARRAY, ctx->threads > 1 ? pool_opts : &pool_opts[1],
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)SG_HTTP_CONNECTIONS_MAX,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, ctx->per_client,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONNECTION_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
	    MHD_OPTION_NOTIFY_CONNECTION, portal_conns_notify, ctx->conns,
	    MHD_OPTION_ARRAY, ctx->tls ? tls_opts : &tls_opts[2], MHD_OPTION_END);
}

/* One listening address (several would need a daemon each, sharing the pool size). */
struct MHD_Daemon *portal_server_start(struct portal_ctx *ctx, const int *fds, size_t nfds,
                                       const char *cert_pem, const char *key_pem,
                                       const char **error_r)
{
	if (nfds != 1) {
		*error_r = "portal.listen: exactly one address is supported in this version";
		return NULL;
	}
	if (ctx->tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		*error_r = "libmicrohttpd was built without TLS: set portal.tls = off behind a proxy";
		return NULL;
	}
	gnutls_logs_to_ours();
	struct MHD_Daemon *d = daemon_start(ctx, fds[0], cert_pem, key_pem);
	if (d == NULL) {
		*error_r = "cannot start the HTTP server on the listening socket (see the log)";
		return NULL;
	}
	atomic_store(&ctx->serving, true);
	return d;
}

static unsigned int open_connections(struct MHD_Daemon *d)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	return info != NULL ? info->num_connections : 0;
}

/* Waits ms, then ends the connections past their request deadline. */
static void serve_slice(struct portal_ctx *ctx, int ms)
{
	poll(NULL, 0, ms);
	portal_conns_reap(ctx->conns, sg_mono_ms());
}

/* Serves until told to stop or retire; then stops accepting (the socket stays open for the
 * master and the next portal) and lets the requests in flight finish: on a retire, for as
 * long as a connection may idle; on a stop, briefly. */
void portal_server_serve(struct portal_ctx *ctx, struct MHD_Daemon *d)
{
	while (!daemon_leaving())
		serve_slice(ctx, 200);
	if (MHD_quiesce_daemon(d) == MHD_INVALID_SOCKET)
		sg_warn("cannot stop accepting cleanly; the listening socket may be shut down");
	sg_info("%s: waiting for %u connection(s)",
	        daemon_stop_requested ? "stopping" : "retiring, a new process serves",
	        open_connections(d));
	int64_t until = sg_mono_ms() + (CONNECTION_TIMEOUT_S + 1) * 1000;
	int64_t stop_until = sg_mono_ms() + STOP_GRACE_MS;
	while (open_connections(d) > 0 && sg_mono_ms() < (daemon_stop_requested ? stop_until : until)) {
		if (!daemon_stop_requested)
			stop_until = sg_mono_ms() + STOP_GRACE_MS;
		serve_slice(ctx, 50);
	}
	atomic_store(&ctx->serving, false);
	MHD_stop_daemon(d);
}

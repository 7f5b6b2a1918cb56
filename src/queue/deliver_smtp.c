/* deliver_smtp.c: delivery to smtp:HOST:PORT with one cached connection per worker, reused
 * (after RSET) for the next message to the same hop and closed when idle; a failed STARTTLS
 * handshake is retried once in plain text, as opportunistic TLS allows (never when the TLS
 * mode requires TLS: deliver_mx.c). */
#include "queue/deliver_priv.h"

#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "core/sg_time.h"

#include <stdio.h>
#include <string.h>

#define DELIVER_REUSE_MAX 100 /* messages per connection before a fresh one */

struct deliver_ctx *deliver_ctx_new(const char *helo_name, int connect_timeout_ms,
                                    int timeout_ms, const atomic_int *cancel)
{
	struct deliver_ctx *dc = sg_calloc(1, sizeof(*dc));
	sg_strlcpy(dc->helo, helo_name, sizeof(dc->helo));
	dc->params.helo_name = dc->helo;
	dc->params.connect_timeout_ms = connect_timeout_ms;
	dc->params.timeout_ms = timeout_ms;
	dc->params.cancel = cancel;
	dc->cancel = cancel;
	return dc;
}

void deliver_ctx_free(struct deliver_ctx **dcp)
{
	if (*dcp == NULL)
		return;
	smtpc_close(&(*dcp)->conn);
	dns_resolver_free(&(*dcp)->resolver);
	sg_free(dcp);
}

void deliver_ctx_idle(struct deliver_ctx *dc, int idle_ms)
{
	if (dc->conn != NULL && sg_mono_ms() - dc->last_used_ms >= idle_ms)
		smtpc_close(&dc->conn);
}

/* A cached connection to the same hop that still answers RSET, or NULL. */
static struct smtpc_conn *take_cached(struct deliver_ctx *dc, const struct deliver_route *r)
{
	if (dc->conn == NULL)
		return NULL;
	if (strcmp(dc->host, r->host) != 0 || strcmp(dc->port, r->port) != 0 || dc->tls != r->tls ||
	    dc->uses >= DELIVER_REUSE_MAX || !smtpc_usable(dc->conn) ||
	    smtpc_reset(dc->conn, dc->cancel) < 0) {
		smtpc_close(&dc->conn);
		return NULL;
	}
	return dc->conn;
}

struct smtpc_conn *deliver_connect(struct deliver_ctx *dc, const struct smtpc_params *p,
                                   struct smtpc_status *fail)
{
	bool tls_failed;
	struct smtpc_conn *c = smtpc_connect(p, fail, &tls_failed);
	if (c == NULL && tls_failed && p->tls == SMTPC_TLS_MAY &&
	    !(dc->cancel != NULL && *dc->cancel)) {
		sg_info("%s: %s; retrying %s:%s without STARTTLS", p->log_id, fail->reply, p->host,
		        p->port);
		struct smtpc_params clear = *p;
		clear.no_starttls = true;
		c = smtpc_connect(&clear, fail, &tls_failed);
	}
	return c;
}

static struct smtpc_conn *open_conn(struct deliver_ctx *dc, const struct deliver_route *r,
                                    const char *queue_id, struct smtpc_status *fail)
{
	struct smtpc_params p = dc->params;
	p.host = r->host;
	p.port = r->port;
	p.log_id = queue_id;
	p.tls = r->tls; /* verify: PKIX for the route's host name, deliver.ca_file or the system */
	p.pkix_ca_file = dc->mx != NULL ? dc->mx->ca_file : "";
	struct smtpc_conn *c = deliver_connect(dc, &p, fail);
	if (c == NULL)
		return NULL;
	dc->conn = c;
	sg_strlcpy(dc->host, r->host, sizeof(dc->host));
	sg_strlcpy(dc->port, r->port, sizeof(dc->port));
	dc->tls = r->tls;
	dc->uses = 0;
	return c;
}

static void deliver_smtp(struct deliver_ctx *dc, const struct deliver_route *r,
                         const struct deliver_job *job, struct smtpc_status *st, char *relay_r,
                         size_t relaysize)
{
	snprintf(relay_r, relaysize, "%s:%s", r->host, r->port);
	struct smtpc_conn *c = take_cached(dc, r);
	if (c == NULL) {
		struct smtpc_status fail;
		c = open_conn(dc, r, job->queue_id, &fail);
		if (c == NULL) {
			deliver_fail_all(st, job->nrcpt, &fail);
			return;
		}
	}
	sg_strlcpy(relay_r, smtpc_relay(c), relaysize);
	int rc = deliver_send(dc, c, job, st);
	dc->uses++;
	dc->last_used_ms = sg_mono_ms();
	if (rc < 0)
		smtpc_close(&dc->conn);
}

void deliver_fail_all(struct smtpc_status *st, size_t n, const struct smtpc_status *one)
{
	for (size_t i = 0; i < n; i++)
		st[i] = *one;
}

int deliver_send(struct deliver_ctx *dc, struct smtpc_conn *c, const struct deliver_job *job,
                 struct smtpc_status *st)
{
	struct smtpc_msg m = {.sender = job->sender,
	                      .rcpts = job->rcpts,
	                      .nrcpt = job->nrcpt,
	                      .data = job->data,
	                      .len = job->len,
	                      .body_8bit = job->body_8bit,
	                      .smtputf8 = job->smtputf8};
	return smtpc_send(c, &m, st, dc->cancel);
}

void deliver_run(struct deliver_ctx *dc, const struct deliver_route *route,
                 const struct deliver_job *job, struct smtpc_status *st, char *relay_r,
                 size_t relaysize)
{
	if (route->kind == DELIVER_MAILDIR) {
		sg_strlcpy(relay_r, "maildir", relaysize);
		deliver_maildir(route->path, job, st);
		return;
	}
	if (route->kind == DELIVER_MX) {
		deliver_mx(dc, job, st, relay_r, relaysize);
		return;
	}
	deliver_smtp(dc, route, job, st, relay_r, relaysize);
}

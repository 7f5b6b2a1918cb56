/* smtpd_msg.c: one message of a session, from the 354 to the final reply: our Received
 * header first, the decoded data streamed to the sink in batches, then commit (250 only
 * after the sink made it durable) or abort with the reply that says why. */
#include "smtp/smtpd_private.h"

#include "core/sg_log.h"
#include "core/sg_metrics.h"
#include "core/sg_str.h"
#include "core/sg_time.h"

#include <string.h>

#define BATCH_MAX    ((size_t)64 * 1024)
#define RECEIVED_MAX 8192

static int batch_flush(struct smtpd_session *s)
{
	if (s->sink_error != NULL)
		return -1;
	if (s->batch.len == 0)
		return 0;
	const char *err = "write error";
	if (s->hooks.write(s->hooks.ctx, s->batch.data, s->batch.len, &err) < 0) {
		s->sink_error = err;
		return -1;
	}
	s->written += s->batch.len;
	sg_buf_reset(&s->batch);
	return 0;
}

static int batch_put(struct smtpd_session *s, const void *p, size_t n)
{
	if (s->batch.len + n > BATCH_MAX && batch_flush(s) < 0)
		return -1;
	if (n <= BATCH_MAX)
		return sg_buf_append(&s->batch, p, n) == 0 ? 0 : -1;
	if (s->sink_error != NULL)
		return -1;
	const char *err = "write error";
	if (s->hooks.write(s->hooks.ctx, p, n, &err) < 0) {
		s->sink_error = err;
		return -1;
	}
	s->written += n;
	return 0;
}

static int data_sink(void *ctx, const void *p, size_t n) { return batch_put(ctx, p, n); }

/* RFC 5321 §4.4 trace header; the HELO name is shown only with its harmless bytes. */
static int received_header(struct smtpd_session *s)
{
	char helo[SG_SMTP_HELO_MAX + 1], date[64], tls[64] = "";
	size_t i = 0;
	for (; i < sizeof(helo) - 1 && s->helo[i] != '\0'; i++)
		helo[i] = strchr("();\\\"", s->helo[i]) != NULL ? '_' : s->helo[i];
	helo[i] = '\0';
	sg_rfc5322_date(sg_wall(), date, sizeof(date));
	if (s->tls)
		sg_snprintf(tls, sizeof(tls), "\t(using %s)\r\n", s->tls_version);
	bool v6 = strchr(s->client_addr, ':') != NULL;
	struct sg_buf h;
	sg_buf_init(&h, RECEIVED_MAX);
	int rc = sg_buf_printf(&h, "Received: from %s ([%s%s])\r\n%s\tby %s (sealgate) with %s id %s",
	                       helo, v6 ? "IPv6:" : "", s->client_addr, tls, s->cfg->hostname,
	                       smtpd_session_proto(s), s->queue_id);
	if (rc == 0 && s->nrcpt == 1)
		rc = sg_buf_printf(&h, "\r\n\tfor <%s>", s->rcpts[0].addr);
	if (rc == 0)
		rc = sg_buf_printf(&h, "; %s\r\n", date);
	if (rc == 0)
		rc = batch_put(s, h.data, h.len);
	else
		s->sink_error = "Received header too long";
	sg_buf_free(&h);
	return rc;
}

void smtpd_msg_begin(struct smtpd_session *s)
{
	char id[SG_QUEUE_ID_MAX] = "";
	const char *err = "cannot open queue file";
	if (s->hooks.begin(s->hooks.ctx, id, &err) < 0) {
		sg_warn("NOQUEUE: cannot start a message from [%s]: %s", s->client_addr, err);
		smtpd_session_reply(s, "451 4.3.0 Error: queue file write error");
		return;
	}
	id[sizeof(id) - 1] = '\0';
	sg_strlcpy(s->queue_id, id, sizeof(s->queue_id));
	s->msg_open = true;
	s->sink_error = NULL;
	s->written = 0;
	char helo[SMTPD_PEER_BUF];
	sg_printable(helo, sizeof(helo), s->helo, SG_LOG_PEER_TEXT_MAX);
	sg_info("%s: client=[%s] helo=<%s> tls=%s", s->queue_id, s->client_addr, helo,
	        s->tls ? s->tls_version : "none");
	sg_buf_init(&s->batch, BATCH_MAX);
	smtpd_data_init(&s->data, s->cfg->max_message_size, data_sink, s);
	received_header(s); /* a failure is remembered in sink_error and answered at the end */
	s->phase = SMTPD_PHASE_DATA;
	smtpd_session_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

void smtpd_msg_abort(struct smtpd_session *s)
{
	if (!s->msg_open)
		return;
	s->msg_open = false;
	s->hooks.abort(s->hooks.ctx);
	smtpd_data_free(&s->data);
	sg_buf_free(&s->batch);
	if (s->phase == SMTPD_PHASE_DATA)
		s->phase = SMTPD_PHASE_CMD;
}

static const struct {
	const char *reply;
	const char *why;
} refusals[] = {
	[SMTPD_DATA_TOO_BIG] = {"552 5.3.4 Error: message file too big", "message too big"},
	[SMTPD_DATA_BARE_EOL] = {"554 5.6.0 Error: bare LF/CR not allowed",
	                         "bare LF/CR in DATA (possible SMTP smuggling)"},
	[SMTPD_DATA_LINE_TOO_LONG] = {"554 5.6.0 Error: line too long", "line too long in DATA"},
};

static void refuse(struct smtpd_session *s, enum smtpd_data_status st)
{
	if (st == SMTPD_DATA_SINK_ERROR || s->sink_error != NULL) {
		char why[SMTPD_PEER_BUF];
		sg_printable(why, sizeof(why), s->sink_error ? s->sink_error : "write error", 80);
		sg_warn("%s: cannot queue message from [%s]: %s", s->queue_id, s->client_addr, why);
		smtpd_session_reply(s, "451 4.3.0 Error: %s", why);
	} else {
		sg_warn("%s: reject: DATA from [%s]: %s; %s", s->queue_id, s->client_addr,
		        refusals[st].reply, refusals[st].why);
		smtpd_session_reply(s, "%s", refusals[st].reply);
	}
	smtpd_msg_abort(s);
}

static void commit(struct smtpd_session *s)
{
	struct smtpd_envelope env = {
		.queue_id = s->queue_id,
		.sender = s->sender,
		.rcpts = s->rcpts,
		.nrcpt = s->nrcpt,
		.client_addr = s->client_addr,
		.client_helo = s->helo,
		.internal_client = s->internal_client,
		.smtputf8 = s->smtputf8,
		.body_8bit = s->body_8bit,
		.tls = s->tls,
		.size = s->written,
	};
	const char *err = "commit failed";
	s->msg_open = false; /* commit ends the sink's message either way */
	smtpd_data_free(&s->data);
	sg_buf_free(&s->batch);
	if (s->hooks.commit(s->hooks.ctx, &env, &err) < 0) {
		char why[SMTPD_PEER_BUF];
		sg_printable(why, sizeof(why), err, 80);
		sg_warn("%s: cannot queue message from [%s]: %s", s->queue_id, s->client_addr, why);
		smtpd_session_reply(s, "451 4.3.0 Error: %s", why);
		return;
	}
	char from[SMTPD_PEER_BUF];
	sg_printable(from, sizeof(from), s->sender, SG_LOG_PEER_TEXT_MAX);
	sg_info("%s: from=<%s> size=%zu nrcpt=%zu (queued)", s->queue_id, from, s->written,
	        s->nrcpt);
	sg_metrics_inc1(SG_MET_RECEIVED, s->internal_client ? "internal" : "external");
	smtpd_session_reply(s, "250 2.0.0 Ok: queued as %s", s->queue_id);
}

size_t smtpd_msg_input(struct smtpd_session *s, const char *p, size_t len)
{
	size_t used = smtpd_data_feed(&s->data, p, len);
	if (!s->data.done)
		return used;
	s->phase = SMTPD_PHASE_CMD;
	enum smtpd_data_status st = s->data.status;
	if (st == SMTPD_DATA_OK && batch_flush(s) < 0)
		st = SMTPD_DATA_SINK_ERROR;
	if (st != SMTPD_DATA_OK || s->sink_error != NULL)
		refuse(s, st);
	else
		commit(s);
	smtpd_session_reset_transaction(s);
	return used;
}

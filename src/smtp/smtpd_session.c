/* smtpd_session.c: the SMTP server session as a pure machine: client bytes in, reply bytes
 * and sink calls out, no sockets. Here: life cycle, command-line framing (strict CRLF, length
 * cap with resynchronisation at the next LF), replies, the error limit, STARTTLS switching. */
#include "smtp/smtpd_private.h"

#include "core/sg_log.h"
#include "core/sg_metrics.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Input is taken only while less than this is waiting to be sent, so a client that pipelines
 * without reading cannot grow our memory. */
#define OUT_SOFT_MAX ((size_t)16 * 1024)

struct smtpd_session *smtpd_session_new(const struct smtpd_config *cfg,
                                        const struct smtpd_hooks *hooks,
                                        const char *client_addr, bool internal_client)
{
	struct smtpd_session *s = sg_calloc(1, sizeof(*s));
	s->cfg = cfg;
	s->hooks = *hooks;
	sg_strlcpy(s->client_addr, client_addr, sizeof(s->client_addr));
	s->internal_client = internal_client;
	s->phase = SMTPD_PHASE_CMD;
	sg_buf_init(&s->out, OUT_SOFT_MAX + (size_t)SG_SMTP_REPLY_MAX);
	sg_info("connect from [%s]%s", s->client_addr, internal_client ? " (internal)" : "");
	smtpd_session_reply(s, "220 %s ESMTP sealgate", cfg->hostname);
	return s;
}

static void log_disconnect(const struct smtpd_session *s)
{
	char stats[512];
	size_t o = 0;
	for (int v = 0; v < SMTPD_V_COUNT; v++) {
		if (s->counts[v] == 0)
			continue;
		int n = snprintf(stats + o, sizeof(stats) - o, " %s=%u",
		                 smtpd_parse_verb_name((enum smtpd_verb)v), s->counts[v]);
		if (n < 0 || (size_t)n >= sizeof(stats) - o)
			break;
		o += (size_t)n;
	}
	stats[o] = '\0';
	sg_info("disconnect from [%s]%s errors=%u", s->client_addr, stats, s->errors);
}

void smtpd_session_free(struct smtpd_session **sp)
{
	struct smtpd_session *s = *sp;
	if (s == NULL)
		return;
	smtpd_msg_abort(s);
	smtpd_session_reset_transaction(s);
	log_disconnect(s);
	sg_buf_free(&s->out);
	sg_free(sp);
}

void smtpd_session_reply(struct smtpd_session *s, const char *fmt, ...)
{
	char line[SG_SMTP_REPLY_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	sg_assert(n > 0);
	size_t len = (size_t)n < sizeof(line) - 2 ? (size_t)n : sizeof(line) - 3;
	memcpy(line + len, "\r\n", 2);
	sg_assert(sg_buf_append(&s->out, line, len + 2) == 0);
	if ((line[0] == '4' || line[0] == '5') && strncmp(line, "421", 3) != 0)
		s->errors++;
}

void smtpd_session_reset_transaction(struct smtpd_session *s)
{
	for (size_t i = 0; i < s->nrcpt; i++) {
		sg_free(&s->rcpts[i].addr);
		sg_free(&s->rcpts[i].orcpt);
	}
	sg_free(&s->rcpts);
	s->nrcpt = 0;
	s->rcpt_cap = 0;
	sg_free(&s->sender);
	s->mail_given = false;
	s->smtputf8 = false;
	s->body_8bit = false;
}

const char *smtpd_session_proto(const struct smtpd_session *s)
{
	if (s->tls)
		return s->smtputf8 ? "UTF8SMTPS" : "ESMTPS";
	if (s->smtputf8)
		return "UTF8SMTP";
	return s->esmtp ? "ESMTP" : "SMTP";
}

/* "421 4.x.y host text" (RFC 2034: the enhanced code comes first). */
static void close_with(struct smtpd_session *s, const char *status, const char *text)
{
	smtpd_msg_abort(s);
	smtpd_session_reply(s, "421 %s %s %s", status, s->cfg->hostname, text);
	s->phase = SMTPD_PHASE_CLOSED;
}

static void check_error_limit(struct smtpd_session *s)
{
	if (s->phase == SMTPD_PHASE_CLOSED || s->errors < s->cfg->max_errors)
		return;
	sg_warn("too many errors from [%s] (%u)", s->client_addr, s->errors);
	close_with(s, "4.7.0", "Error: too many errors");
}

/* A whole line, LF included, is in s->line. */
static void line_complete(struct smtpd_session *s)
{
	char *l = s->line;
	size_t n = s->line_len;
	s->line_len = 0;
	s->progress++;
	bool crlf = n >= 2 && l[n - 2] == '\r';
	size_t body = crlf ? n - 2 : n - 1;
	if (!crlf || memchr(l, '\r', body) != NULL) {
		sg_warn("bare LF/CR in command from [%s] (possible SMTP smuggling)", s->client_addr);
		smtpd_session_reply(s, "500 5.5.2 Error: bare LF/CR not allowed");
	} else if (memchr(l, '\0', body) != NULL) {
		smtpd_session_reply(s, "500 5.5.2 Error: NUL in command");
	} else {
		l[body] = '\0';
		smtpd_cmds_dispatch(s, l);
	}
	check_error_limit(s);
}

static void line_too_long(struct smtpd_session *s)
{
	sg_warn("command line too long from [%s] (over %d bytes, skipped)", s->client_addr,
	        SG_SMTP_CMD_LINE_MAX);
	smtpd_session_reply(s, "500 5.5.6 Error: line too long");
	check_error_limit(s);
}

/* Takes bytes up to and including one LF (or all of them); runs a command when a line is
 * complete. An over-long line is dropped up to its LF, then answered, to stay in sync. */
static size_t cmd_input(struct smtpd_session *s, const char *p, size_t len)
{
	const char *lf = memchr(p, '\n', len);
	size_t seg = lf != NULL ? (size_t)(lf - p) + 1 : len;
	if (s->skipping) {
		if (lf != NULL) {
			s->skipping = false;
			line_too_long(s);
		}
		return seg;
	}
	if (s->line_len + seg > SG_SMTP_CMD_LINE_MAX) {
		s->line_len = 0;
		if (lf != NULL)
			line_too_long(s);
		else
			s->skipping = true;
		return seg;
	}
	memcpy(s->line + s->line_len, p, seg);
	s->line_len += seg;
	if (lf != NULL)
		line_complete(s);
	return seg;
}

static size_t data_input(struct smtpd_session *s, const char *p, size_t len)
{
	size_t used = smtpd_msg_input(s, p, len);
	s->data_bytes += used;
	if (s->phase != SMTPD_PHASE_DATA) {
		s->data_bytes = 0;
		s->progress++;
	}
	return used;
}

size_t smtpd_session_input(struct smtpd_session *s, const void *data, size_t len)
{
	const char *p = data;
	size_t off = 0;
	while (off < len && s->phase != SMTPD_PHASE_CLOSED && !s->want_tls) {
		if (s->out.len >= OUT_SOFT_MAX)
			return off;
		if (s->phase == SMTPD_PHASE_DATA)
			off += data_input(s, p + off, len - off);
		else
			off += cmd_input(s, p + off, len - off);
	}
	if (off < len && s->want_tls)
		sg_warn("discarding %zu bytes sent after STARTTLS by [%s] (command injection?)",
		        len - off, s->client_addr);
	return len;
}

const char *smtpd_session_output(const struct smtpd_session *s, size_t *len_r)
{
	*len_r = s->out.len;
	return s->out.data;
}

void smtpd_session_output_consume(struct smtpd_session *s, size_t n) { sg_buf_consume(&s->out, n); }

bool smtpd_session_closed(const struct smtpd_session *s) { return s->phase == SMTPD_PHASE_CLOSED; }

bool smtpd_session_want_tls(const struct smtpd_session *s) { return s->want_tls; }

void smtpd_session_tls_started(struct smtpd_session *s, const char *version)
{
	/* RFC 3207 §4.2: forget everything learnt before the handshake. */
	s->want_tls = false;
	s->tls = true;
	sg_metrics_inc1(SG_MET_TLS, "in");
	sg_strlcpy(s->tls_version, version, sizeof(s->tls_version));
	s->line_len = 0;
	s->skipping = false;
	s->helo_done = false;
	s->esmtp = false;
	s->helo[0] = '\0';
	smtpd_session_reset_transaction(s);
}

bool smtpd_session_in_data(const struct smtpd_session *s) { return s->phase == SMTPD_PHASE_DATA; }

unsigned long smtpd_session_progress(const struct smtpd_session *s) { return s->progress; }

size_t smtpd_session_data_bytes(const struct smtpd_session *s) { return s->data_bytes; }

bool smtpd_session_idle(const struct smtpd_session *s)
{
	return s->phase == SMTPD_PHASE_CMD && !s->want_tls && s->line_len == 0 && !s->skipping &&
	       !s->mail_given;
}

void smtpd_session_timeout(struct smtpd_session *s)
{
	if (s->phase == SMTPD_PHASE_CLOSED)
		return;
	if (s->phase == SMTPD_PHASE_DATA)
		sg_warn("%s: timeout after DATA (%zu bytes) from [%s]", s->queue_id, s->data.size,
		        s->client_addr);
	else
		sg_warn("timeout after %s from [%s]",
		        s->counts[s->last_verb] ? smtpd_parse_verb_name(s->last_verb) : "connect",
		        s->client_addr);
	close_with(s, "4.4.2", "Error: timeout exceeded");
}

void smtpd_session_shutdown(struct smtpd_session *s)
{
	if (s->phase == SMTPD_PHASE_CLOSED)
		return;
	close_with(s, "4.3.2", "Service shutting down, closing transmission channel");
}

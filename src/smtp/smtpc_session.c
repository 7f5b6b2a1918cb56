/* smtpc_session.c: one connection to a next hop and the transactions on it. A failure before
 * MAIL defers every recipient (the next hop, not the message, is at fault); after that each
 * recipient gets the reply that concerns it, so a 5xx to one RCPT bounces only that one. */
#include "smtp/smtpc.h"

#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_net.h"
#include "core/sg_str.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct smtpc_conn {
	struct smtpc_io io;
	char relay[300];
	char host[256];
	char auth[96]; /* "dane=verified (...)" when the peer was authenticated */
	bool usable;
	bool ext_size, ext_8bit, ext_utf8, ext_starttls;
	long long size_max; /* 0: no limit announced */
};

/* ---- EHLO keywords, by table ---- */
static void ext_size(struct smtpc_conn *c, const char *arg)
{
	c->ext_size = true;
	const char *err;
	long long v = sg_strtonum(arg, 0, 1LL << 50, &err);
	c->size_max = err == NULL ? v : 0;
}
static void ext_8bit(struct smtpc_conn *c, const char *arg) { (void)arg, c->ext_8bit = true; }
static void ext_utf8(struct smtpc_conn *c, const char *arg) { (void)arg, c->ext_utf8 = true; }
static void ext_tls(struct smtpc_conn *c, const char *arg) { (void)arg, c->ext_starttls = true; }

static const struct {
	const char *keyword;
	void (*fn)(struct smtpc_conn *c, const char *arg);
} ehlo_keywords[] = {
	{"SIZE", ext_size},
	{"8BITMIME", ext_8bit},
	{"SMTPUTF8", ext_utf8},
	{"STARTTLS", ext_tls},
};

static void parse_ehlo(struct smtpc_conn *c, const struct smtpc_reply *r)
{
	c->ext_size = c->ext_8bit = c->ext_utf8 = c->ext_starttls = false;
	c->size_max = 0;
	const char *line = strchr(r->text, '\n'); /* the first line is the greeting */
	while (line != NULL) {
		line++;
		const char *end = strchr(line, '\n');
		size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
		char buf[128];
		if (len < sizeof(buf)) {
			memcpy(buf, line, len);
			buf[len] = '\0';
			char *arg = strchr(buf, ' ');
			if (arg != NULL)
				*arg++ = '\0';
			for (size_t i = 0; i < sizeof(ehlo_keywords) / sizeof(ehlo_keywords[0]); i++)
				if (sg_streq_nocase(buf, ehlo_keywords[i].keyword))
					ehlo_keywords[i].fn(c, arg != NULL ? sg_trim(arg) : "");
		}
		line = end;
	}
}

/* ---- statuses ---- */
static void status_set(struct smtpc_status *st, enum smtpc_class cls, const char *dsn,
                       bool remote, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void status_set(struct smtpc_status *st, enum smtpc_class cls, const char *dsn,
                       bool remote, const char *fmt, ...)
{
	char raw[SG_SPOOL_REPLY_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	st->cls = cls;
	st->from_remote = remote;
	st->remote_reply[0] = '\0';
	sg_strlcpy(st->dsn, dsn, sizeof(st->dsn));
	sg_printable(st->reply, sizeof(st->reply), raw, sizeof(st->reply) - 1);
}

static void status_from_reply(struct smtpc_status *st, const struct smtpc_reply *r,
                              const struct smtpc_conn *c, const char *when)
{
	char sum[SG_SPOOL_REPLY_MAX];
	char dsn[16];
	smtpc_reply_summary(r, sum, sizeof(sum));
	smtpc_reply_status(r, dsn, sizeof(dsn));
	enum smtpc_class cls = r->code >= 500 ? SMTPC_PERM : r->code >= 400 ? SMTPC_TEMP : SMTPC_OK;
	if (cls == SMTPC_OK)
		status_set(st, cls, dsn, true, "%s", sum);
	else
		status_set(st, cls, dsn, true, "host %s said: %s (in reply to %s)", c->relay, sum, when);
	sg_strlcpy(st->remote_reply, sum, sizeof(st->remote_reply));
}

/* The reply could not be read: lost connection, timeout, garbage or shutdown. */
static void status_io_failure(struct smtpc_status *st, const struct smtpc_conn *c,
                              const char *err, const char *when)
{
	if (c->io.cancelled)
		status_set(st, SMTPC_ABANDONED, "4.3.2", false, "%s", err);
	else
		status_set(st, SMTPC_TEMP, "4.4.2", false,
		           "%s with %s while %s", err, c->relay, when);
}

static void status_all(struct smtpc_status *st, size_t n, const struct smtpc_status *one)
{
	for (size_t i = 0; i < n; i++)
		if (st[i].cls == SMTPC_OK || st[i].cls == SMTPC_ABANDONED)
			st[i] = *one;
}

/* ---- commands ---- */
static int command(struct smtpc_conn *c, struct smtpc_reply *r, const char **error_r,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int command(struct smtpc_conn *c, struct smtpc_reply *r, const char **error_r,
                   const char *fmt, ...)
{
	char line[SG_SMTP_CMD_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2) {
		*error_r = "command too long";
		return -1;
	}
	memcpy(line + n, "\r\n", 3);
	if (smtpc_io_write(&c->io, line, (size_t)n + 2, error_r) < 0 ||
	    smtpc_io_flush(&c->io, error_r) < 0 || smtpc_io_read_reply(&c->io, r, error_r) < 0) {
		c->usable = false;
		return -1;
	}
	return 0;
}

static void set_relay(struct smtpc_conn *c, const struct smtpc_params *p)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char ip[64] = "unknown";
	if (getpeername(c->io.fd, (struct sockaddr *)&ss, &sl) == 0)
		sg_sockaddr_text((struct sockaddr *)&ss, ip, sizeof(ip));
	snprintf(c->relay, sizeof(c->relay), "%.200s[%s]:%.7s", p->host, ip, p->port);
}

static int hello(struct smtpc_conn *c, const struct smtpc_params *p, struct smtpc_reply *r,
                 struct smtpc_status *st)
{
	const char *err;
	if (command(c, r, &err, "EHLO %s", p->helo_name) < 0) {
		status_io_failure(st, c, err, "sending EHLO");
		return -1;
	}
	if (r->code == 250) {
		parse_ehlo(c, r);
		return 0;
	}
	if (r->code >= 500 && command(c, r, &err, "HELO %s", p->helo_name) < 0) {
		status_io_failure(st, c, err, "sending HELO");
		return -1;
	}
	if (r->code == 250)
		return 0;
	status_from_reply(st, r, c, "EHLO/HELO");
	st->cls = SMTPC_TEMP; /* the next hop refuses us, not the message: keep it queued */
	st->dsn[0] = '4';
	return -1;
}

static const char *tls_mode_name(enum smtpc_tls t)
{
	return t == SMTPC_TLS_DANE ? "dane" : t == SMTPC_TLS_ENCRYPT ? "encrypt"
	       : t == SMTPC_TLS_PKIX ? "a verified certificate: mta-sts or tls=verify" : "may";
}

static int starttls(struct smtpc_conn *c, const struct smtpc_params *p, struct smtpc_reply *r,
                    struct smtpc_status *st, bool *tls_failed_r)
{
	const char *err;
	if (command(c, r, &err, "STARTTLS") < 0) {
		status_io_failure(st, c, err, "sending STARTTLS");
		return -1;
	}
	if (r->code != 220 && p->tls == SMTPC_TLS_MAY)
		return 0; /* opportunistic: carry on in plain text */
	if (r->code != 220) {
		status_set(st, SMTPC_TEMP, "4.7.4", false,
		           "TLS is required (%s) but %s refused STARTTLS with %d", tls_mode_name(p->tls),
		           c->relay, r->code);
		return -1;
	}
	c->io.cancel = p->cancel;
	c->io.pkix = p->tls == SMTPC_TLS_PKIX ? SMTPC_PKIX_ENFORCE : p->pkix_report ? SMTPC_PKIX_REPORT : 0;
	c->io.pkix_ca_file = p->pkix_ca_file;
	const struct dns_tlsa_list *tlsa = p->tls == SMTPC_TLS_DANE ? p->tlsa : NULL;
	if (smtpc_io_starttls(&c->io, p->host, tlsa, c->auth, sizeof(c->auth), &err) < 0) {
		*tls_failed_r = true;
		status_set(st, SMTPC_TEMP, "4.7.5", false, "%s with %s", err, c->relay);
		return -1;
	}
	sg_info("%s: %s TLS connection established to %s: %s with cipher %s%s%s",
	        p->log_id != NULL ? p->log_id : "-", c->auth[0] != '\0' ? "Verified" : "Untrusted",
	        c->relay, smtpc_io_tls_version(&c->io), smtpc_io_tls_cipher(&c->io),
	        c->auth[0] != '\0' ? " " : "", c->auth);
	return hello(c, p, r, st);
}

/* STARTTLS when offered (and not refused by the caller); when the mode requires TLS, a peer
 * that does not offer it gets nothing more than EHLO. */
static int tls_step(struct smtpc_conn *c, const struct smtpc_params *p, struct smtpc_reply *r,
                    struct smtpc_status *st, bool *tls_failed_r)
{
	if (c->ext_starttls && !p->no_starttls)
		return starttls(c, p, r, st, tls_failed_r);
	if (p->tls == SMTPC_TLS_MAY)
		return 0;
	status_set(st, SMTPC_TEMP, "4.7.4", false,
	           "TLS is required (%s) but %s does not offer STARTTLS", tls_mode_name(p->tls),
	           c->relay);
	return -1;
}

struct smtpc_conn *smtpc_connect(const struct smtpc_params *p, struct smtpc_status *st_r,
                                 bool *tls_failed_r)
{
	*tls_failed_r = false;
	const char *err;
	const char *addr = p->addr != NULL ? p->addr : p->host;
	int fd = sg_connect_tcp(addr, p->port, p->connect_timeout_ms, &err);
	if (fd < 0) {
		if (p->addr != NULL)
			status_set(st_r, SMTPC_TEMP, "4.4.1", false, "connect to %s[%s]:%s: %s", p->host,
			           addr, p->port, err);
		else
			status_set(st_r, SMTPC_TEMP, "4.4.1", false, "connect to %s:%s: %s", p->host,
			           p->port, err);
		return NULL;
	}
	struct smtpc_conn *c = sg_calloc(1, sizeof(*c));
	smtpc_io_init(&c->io, fd, p->timeout_ms);
	c->io.cancel = p->cancel;
	c->usable = true;
	sg_strlcpy(c->host, p->host, sizeof(c->host));
	set_relay(c, p);
	struct smtpc_reply *r = sg_malloc(sizeof(*r));
	int rc = -1;
	if (smtpc_io_read_reply(&c->io, r, &err) < 0)
		status_io_failure(st_r, c, err, "receiving the initial server greeting");
	else if (r->code != 220) {
		status_from_reply(st_r, r, c, "the initial greeting");
		st_r->cls = SMTPC_TEMP;
		st_r->dsn[0] = '4';
	} else if (hello(c, p, r, st_r) == 0 && tls_step(c, p, r, st_r, tls_failed_r) == 0)
		rc = 0;
	sg_free(&r);
	if (rc < 0) {
		c->usable = false;
		smtpc_close(&c);
	}
	return c;
}

void smtpc_close(struct smtpc_conn **cp)
{
	struct smtpc_conn *c = *cp;
	if (c == NULL)
		return;
	if (c->usable) {
		const char *err;
		c->io.timeout_ms = c->io.timeout_ms < 2000 ? c->io.timeout_ms : 2000;
		c->io.cancel = NULL;
		if (smtpc_io_write(&c->io, "QUIT\r\n", 6, &err) == 0)
			smtpc_io_flush(&c->io, &err);
	}
	smtpc_io_close(&c->io);
	sg_free(cp);
}

const char *smtpc_relay(const struct smtpc_conn *c) { return c->relay; }

const char *smtpc_tls_version(const struct smtpc_conn *c) { return smtpc_io_tls_version(&c->io); }

const char *smtpc_tls_auth(const struct smtpc_conn *c) { return c->auth; }

const char *smtpc_tls_problem(const struct smtpc_conn *c) { return c->io.pkix_problem; }

bool smtpc_usable(const struct smtpc_conn *c) { return c != NULL && c->usable; }

int smtpc_reset(struct smtpc_conn *c, const atomic_int *cancel)
{
	struct smtpc_reply *r = sg_malloc(sizeof(*r));
	const char *err;
	c->io.cancel = cancel;
	int rc = command(c, r, &err, "RSET") == 0 && r->code == 250 ? 0 : -1;
	sg_free(&r);
	if (rc < 0)
		c->usable = false;
	return rc;
}

/* ---- the transaction ---- */
static bool has_8bit(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

static bool bad_address(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '<' || *s == '>')
			return true;
	return false;
}

struct txn {
	struct smtpc_conn *c;
	const struct smtpc_msg *m;
	struct smtpc_status *st;
	struct smtpc_reply *r;
	bool utf8;        /* SMTPUTF8 on MAIL */
	size_t accepted;
};

static int txn_precheck(struct txn *t)
{
	const struct smtpc_msg *m = t->m;
	struct smtpc_status one;
	bool any_utf8 = has_8bit(m->sender);
	for (size_t i = 0; i < m->nrcpt; i++)
		any_utf8 = any_utf8 || has_8bit(m->rcpts[i]);
	t->utf8 = t->c->ext_utf8 && (m->smtputf8 || any_utf8);
	if (t->c->ext_size && t->c->size_max > 0 && (long long)m->len > t->c->size_max) {
		status_set(&one, SMTPC_PERM, "5.3.4", false,
		           "message size %zu exceeds the limit of %lld bytes of %s", m->len,
		           t->c->size_max, t->c->relay);
	} else if (has_8bit(m->sender) && !t->c->ext_utf8) {
		status_set(&one, SMTPC_PERM, "5.6.7", false,
		           "SMTPUTF8 is required for the sender address, but not supported by %s",
		           t->c->relay);
	} else if (bad_address(m->sender)) {
		status_set(&one, SMTPC_PERM, "5.1.7", false, "bad sender address syntax");
	} else {
		return 0;
	}
	status_all(t->st, m->nrcpt, &one);
	return -1;
}

static int txn_mail(struct txn *t)
{
	const struct smtpc_msg *m = t->m;
	char params[96] = "";
	size_t o = 0;
	if (t->c->ext_size)
		o += (size_t)snprintf(params + o, sizeof(params) - o, " SIZE=%zu", m->len);
	if (m->body_8bit && t->c->ext_8bit)
		o += (size_t)snprintf(params + o, sizeof(params) - o, " BODY=8BITMIME");
	if (t->utf8)
		snprintf(params + o, sizeof(params) - o, " SMTPUTF8");
	const char *err;
	struct smtpc_status one;
	if (command(t->c, t->r, &err, "MAIL FROM:<%s>%s", m->sender, params) < 0) {
		status_io_failure(&one, t->c, err, "sending MAIL FROM");
		status_all(t->st, m->nrcpt, &one);
		return -1;
	}
	if (t->r->code / 100 == 2)
		return 0;
	status_from_reply(&one, t->r, t->c, "MAIL FROM");
	status_all(t->st, m->nrcpt, &one);
	return 1;
}

static int txn_rcpts(struct txn *t)
{
	const struct smtpc_msg *m = t->m;
	for (size_t i = 0; i < m->nrcpt; i++) {
		const char *a = m->rcpts[i];
		if (bad_address(a)) {
			status_set(&t->st[i], SMTPC_PERM, "5.1.3", false, "bad recipient address syntax");
			continue;
		}
		if (has_8bit(a) && !t->c->ext_utf8) {
			status_set(&t->st[i], SMTPC_PERM, "5.6.7",
			           false, "SMTPUTF8 is required for the recipient address, but not supported by %s",
			           t->c->relay);
			continue;
		}
		const char *err;
		if (command(t->c, t->r, &err, "RCPT TO:<%s>", a) < 0) {
			status_io_failure(&t->st[i], t->c, err, "sending RCPT TO");
			for (size_t j = i + 1; j < m->nrcpt; j++)
				t->st[j] = t->st[i];
			return -1;
		}
		status_from_reply(&t->st[i], t->r, t->c, "RCPT TO");
		t->accepted += t->st[i].cls == SMTPC_OK;
	}
	return 0;
}

static int data_write(void *ctx, const char *p, size_t n)
{
	struct txn *t = ctx;
	const char *err;
	return smtpc_io_write(&t->c->io, p, n, &err);
}

static int txn_data(struct txn *t)
{
	const char *err;
	struct smtpc_status one;
	const char *when = "sending DATA";
	if (command(t->c, t->r, &err, "DATA") < 0)
		goto io_failure;
	if (t->r->code != 354) {
		status_from_reply(&one, t->r, t->c, "DATA");
		status_all(t->st, t->m->nrcpt, &one);
		return 0;
	}
	when = "sending message body";
	if (smtpc_data_encode(t->m->data, t->m->len, data_write, t) < 0 ||
	    smtpc_io_flush(&t->c->io, &err) < 0) {
		err = "lost connection";
		goto io_failure;
	}
	when = "receiving the reply to end of data";
	if (smtpc_io_read_reply(&t->c->io, t->r, &err) < 0)
		goto io_failure;
	status_from_reply(&one, t->r, t->c, "end of DATA");
	status_all(t->st, t->m->nrcpt, &one);
	return 0;
io_failure:
	t->c->usable = false;
	status_io_failure(&one, t->c, err, when);
	status_all(t->st, t->m->nrcpt, &one);
	return -1;
}

int smtpc_send(struct smtpc_conn *c, const struct smtpc_msg *m, struct smtpc_status *st,
               const atomic_int *cancel)
{
	c->io.cancel = cancel;
	for (size_t i = 0; i < m->nrcpt; i++)
		status_set(&st[i], SMTPC_ABANDONED, "4.3.0", false, "not attempted");
	struct txn t = {.c = c, .m = m, .st = st, .r = sg_malloc(sizeof(*t.r))};
	int rc = 0;
	if (txn_precheck(&t) < 0)
		goto out;
	int mail = txn_mail(&t);
	if (mail != 0) {
		rc = mail < 0 ? -1 : 0;
		goto out;
	}
	if (txn_rcpts(&t) < 0) {
		rc = -1;
		goto out;
	}
	if (t.accepted == 0)
		rc = smtpc_reset(c, cancel);
	else
		rc = txn_data(&t);
out:
	sg_free(&t.r);
	if (rc < 0)
		c->usable = false;
	return rc;
}

/* ---- recipient probe ---- */
int smtpc_probe(struct smtpc_conn *c, const char *rcpt, struct smtpc_status *st,
                const atomic_int *cancel)
{
	const char *one[1] = {rcpt};
	struct smtpc_msg m = {.sender = "", .rcpts = one, .nrcpt = 1};
	c->io.cancel = cancel;
	status_set(st, SMTPC_ABANDONED, "4.3.0", false, "not attempted");
	struct txn t = {.c = c, .m = &m, .st = st, .r = sg_malloc(sizeof(*t.r))};
	int rc = -1;
	int mail = txn_precheck(&t) < 0 ? 1 : txn_mail(&t);
	if (mail > 0) {
		/* Refused before RCPT: the answer says nothing about the recipient. */
		st->cls = SMTPC_TEMP;
		st->dsn[0] = '4';
	}
	if (mail > 0 || (mail == 0 && txn_rcpts(&t) == 0))
		rc = smtpc_reset(c, cancel);
	sg_free(&t.r);
	if (rc < 0)
		c->usable = false;
	return rc;
}

/* ---- DATA encoding ---- */
int smtpc_data_encode(const char *data, size_t len,
                      int (*fn)(void *ctx, const char *p, size_t n), void *ctx)
{
	size_t pos = 0;
	while (pos < len) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		size_t end = nl != NULL ? (size_t)(nl - data) : len;
		size_t llen = end - pos;
		if (llen > 0 && data[end - 1] == '\r')
			llen--;
		if (data[pos] == '.' && fn(ctx, ".", 1) < 0)
			return -1;
		if ((llen > 0 && fn(ctx, data + pos, llen) < 0) || fn(ctx, "\r\n", 2) < 0)
			return -1;
		pos = nl != NULL ? end + 1 : len;
	}
	return fn(ctx, ".\r\n", 3);
}

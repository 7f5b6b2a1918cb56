/* smtpd_cmds.c: the SMTP commands, one handler each, dispatched by table. Sequencing
 * (RFC 5321 §4.1.4), ESMTP parameters by table, the relay decision per recipient, and the
 * tables that map parse and address errors to replies. */
#include "smtp/smtpd_private.h"

#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <limits.h>
#include <string.h>

#define ORCPT_MAX 500 /* RFC 3461 §4.2: addr-type ";" xtext, within a 512-byte line */

typedef void cmd_fn(struct smtpd_session *s, char *arg);

/* ---- replies for parse and address errors ---- */
struct path_replies {
	const char *parse[SMTPD_PARSE_TOO_MANY + 1];
	const char *addr[SMTP_ADDR_EUTF8 + 1];
};

static const struct path_replies mail_replies = {
	.parse = {[SMTPD_PARSE_SYNTAX] = "501 5.5.4 Syntax: MAIL FROM:<address>",
	          [SMTPD_PARSE_PATH] = "501 5.1.7 Bad sender address syntax",
	          [SMTPD_PARSE_PARAM] = "501 5.5.4 Bad parameter syntax",
	          [SMTPD_PARSE_TOO_MANY] = "501 5.5.4 Too many parameters"},
	.addr = {[SMTP_ADDR_ESYNTAX] = "501 5.1.7 Bad sender address syntax",
	         [SMTP_ADDR_ELENGTH] = "501 5.1.7 Sender address too long",
	         [SMTP_ADDR_EUTF8] = "553 5.6.7 Must declare SMTPUTF8 to send UTF8 address"},
};

static const struct path_replies rcpt_replies = {
	.parse = {[SMTPD_PARSE_SYNTAX] = "501 5.5.4 Syntax: RCPT TO:<address>",
	          [SMTPD_PARSE_PATH] = "501 5.1.3 Bad recipient address syntax",
	          [SMTPD_PARSE_PARAM] = "501 5.5.4 Bad parameter syntax",
	          [SMTPD_PARSE_TOO_MANY] = "501 5.5.4 Too many parameters"},
	.addr = {[SMTP_ADDR_ESYNTAX] = "501 5.1.3 Bad recipient address syntax",
	         [SMTP_ADDR_ELENGTH] = "501 5.1.3 Recipient address too long",
	         [SMTP_ADDR_EUTF8] = "553 5.6.7 Must declare SMTPUTF8 to send UTF8 address"},
};

/* Parses the argument of MAIL/RCPT and its address; replies and returns -1 on error. */
static int parse_path_arg(struct smtpd_session *s, char *arg, const char *prefix,
                          unsigned int flags, const struct path_replies *replies,
                          struct smtpd_mailrcpt *mr, struct smtp_addr *addr)
{
	enum smtpd_parse_error perr = smtpd_parse_mailrcpt(arg, prefix, mr);
	if (perr != SMTPD_PARSE_OK) {
		smtpd_session_reply(s, "%s", replies->parse[perr]);
		return -1;
	}
	const char *err;
	if (smtp_addr_parse(mr->path, mr->path_len, flags, addr, &err) < 0) {
		smtpd_session_reply(s, "%s", replies->addr[addr->why]);
		return -1;
	}
	return 0;
}

static void log_reject(const struct smtpd_session *s, const char *verb, const char *reply,
                       const char *to)
{
	char r[SMTPD_PEER_BUF], from[SMTPD_PEER_BUF], rcpt[SMTPD_PEER_BUF], helo[SMTPD_PEER_BUF];
	sg_printable(r, sizeof(r), reply, SG_LOG_PEER_TEXT_MAX);
	sg_printable(from, sizeof(from), s->sender ? s->sender : "", SG_LOG_PEER_TEXT_MAX);
	sg_printable(rcpt, sizeof(rcpt), to, SG_LOG_PEER_TEXT_MAX);
	sg_printable(helo, sizeof(helo), s->helo, SG_LOG_PEER_TEXT_MAX);
	sg_info("NOQUEUE: reject: %s from [%s]: %s; from=<%s> to=<%s> proto=%s helo=<%s>", verb,
	        s->client_addr, r, from, rcpt, smtpd_session_proto(s), helo);
}

/* ---- HELO / EHLO ---- */
static bool helo_valid(const char *arg)
{
	size_t n = strlen(arg);
	if (n == 0 || n > SG_SMTP_HELO_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)arg[i] <= ' ' || (unsigned char)arg[i] >= 0x7f)
			return false;
	return true;
}

static void hello(struct smtpd_session *s, char *arg, bool esmtp)
{
	if (!helo_valid(arg)) {
		smtpd_session_reply(s, "501 5.5.4 Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
		return;
	}
	smtpd_session_reset_transaction(s);
	sg_strlcpy(s->helo, arg, sizeof(s->helo));
	s->helo_done = true;
	s->esmtp = esmtp;
	if (!esmtp) {
		smtpd_session_reply(s, "250 %s", s->cfg->hostname);
		return;
	}
	char size[32];
	sg_snprintf(size, sizeof(size), "SIZE %zu", s->cfg->max_message_size);
	const char *ext[] = {"PIPELINING", size, "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES",
	                     s->cfg->tls_available && !s->tls ? "STARTTLS" : NULL};
	size_t n = sizeof(ext) / sizeof(ext[0]);
	while (ext[n - 1] == NULL)
		n--;
	smtpd_session_reply(s, "250-%s", s->cfg->hostname);
	for (size_t i = 0; i < n; i++)
		smtpd_session_reply(s, "250%c%s", i + 1 == n ? ' ' : '-', ext[i]);
}

static void cmd_helo(struct smtpd_session *s, char *arg) { hello(s, arg, false); }

static void cmd_ehlo(struct smtpd_session *s, char *arg) { hello(s, arg, true); }

/* ---- MAIL ---- */
struct mail_opts {
	bool size_seen, body_seen, utf8_seen;
	bool body_8bit, smtputf8;
};

typedef const char *mail_param_fn(struct smtpd_session *s, const char *value,
                                  struct mail_opts *o);

static const char *param_size(struct smtpd_session *s, const char *value, struct mail_opts *o)
{
	if (o->size_seen || value == NULL || strspn(value, "0123456789") != strlen(value))
		return "501 5.5.4 Bad SIZE syntax";
	o->size_seen = true;
	const char *err;
	long long n = sg_strtonum(value, 0, LLONG_MAX, &err);
	if (err != NULL || (unsigned long long)n > s->cfg->max_message_size)
		return "552 5.3.4 Message size exceeds fixed limit";
	return NULL;
}

static const char *param_body(struct smtpd_session *s, const char *value, struct mail_opts *o)
{
	(void)s;
	if (o->body_seen || value == NULL)
		return "501 5.5.4 Bad BODY syntax";
	o->body_seen = true;
	if (sg_streq_nocase(value, "8BITMIME"))
		o->body_8bit = true;
	else if (!sg_streq_nocase(value, "7BIT"))
		return "501 5.5.4 Unsupported BODY type";
	return NULL;
}

static const char *param_smtputf8(struct smtpd_session *s, const char *value,
                                  struct mail_opts *o)
{
	(void)s;
	if (o->utf8_seen || value != NULL)
		return "501 5.5.4 Bad SMTPUTF8 syntax";
	o->utf8_seen = true;
	o->smtputf8 = true;
	return NULL;
}

static const struct {
	const char *key;
	mail_param_fn *fn;
} mail_params[] = {
	{"SIZE", param_size},
	{"BODY", param_body},
	{"SMTPUTF8", param_smtputf8},
};

static int mail_apply_params(struct smtpd_session *s, const struct smtpd_mailrcpt *mr,
                             struct mail_opts *o)
{
	for (size_t i = 0; i < mr->nparams; i++) {
		size_t k = 0, nk = sizeof(mail_params) / sizeof(mail_params[0]);
		while (k < nk && !sg_streq_nocase(mr->params[i].key, mail_params[k].key))
			k++;
		if (k == nk) {
			smtpd_session_reply(s, "555 5.5.4 Unsupported option: %s", mr->params[i].key);
			return -1;
		}
		const char *reply = mail_params[k].fn(s, mr->params[i].value, o);
		if (reply != NULL) {
			smtpd_session_reply(s, "%s", reply);
			return -1;
		}
	}
	return 0;
}

static void cmd_mail(struct smtpd_session *s, char *arg)
{
	if (!s->helo_done) {
		smtpd_session_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if (s->mail_given) {
		smtpd_session_reply(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	struct smtpd_mailrcpt mr;
	enum smtpd_parse_error perr = smtpd_parse_mailrcpt(arg, "FROM:", &mr);
	if (perr != SMTPD_PARSE_OK) {
		smtpd_session_reply(s, "%s", mail_replies.parse[perr]);
		return;
	}
	/* Parameters first: SMTPUTF8 decides whether the address may be UTF-8. */
	struct mail_opts o = {0};
	if (mail_apply_params(s, &mr, &o) < 0)
		return;
	struct smtp_addr addr;
	const char *err;
	unsigned int flags = SMTP_ADDR_F_NULL_OK | (o.smtputf8 ? SMTP_ADDR_F_UTF8 : 0);
	if (smtp_addr_parse(mr.path, mr.path_len, flags, &addr, &err) < 0) {
		smtpd_session_reply(s, "%s", mail_replies.addr[addr.why]);
		return;
	}
	s->mail_given = true;
	s->sender = sg_strdup(addr.addr);
	s->smtputf8 = o.smtputf8;
	s->body_8bit = o.body_8bit;
	smtpd_session_reply(s, "250 2.1.0 Ok");
}

/* ---- RCPT ---- */
/* ORCPT=addr-type;xtext (RFC 3461 §4.2), kept as given for DSNs. */
static bool orcpt_valid(const char *v)
{
	const char *semi = strchr(v, ';');
	if (semi == NULL || semi == v || semi[1] == '\0' || strlen(v) > ORCPT_MAX)
		return false;
	for (const char *p = v; p < semi; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-'))
			return false;
	return true;
}

static int rcpt_params(struct smtpd_session *s, const struct smtpd_mailrcpt *mr,
                       const char **orcpt_r)
{
	*orcpt_r = NULL;
	for (size_t i = 0; i < mr->nparams; i++) {
		const struct smtpd_param *p = &mr->params[i];
		if (!sg_streq_nocase(p->key, "ORCPT")) {
			smtpd_session_reply(s, "555 5.5.4 Unsupported option: %s", p->key);
			return -1;
		}
		if (*orcpt_r != NULL || p->value == NULL || !orcpt_valid(p->value)) {
			smtpd_session_reply(s, "501 5.5.4 Bad ORCPT syntax");
			return -1;
		}
		*orcpt_r = p->value;
	}
	return 0;
}

static bool relay_allowed(const struct smtpd_session *s, const char *domain)
{
	return s->internal_client || (s->cfg->internal_domains != NULL &&
	                              sg_strlist_contains_nocase(s->cfg->internal_domains, domain));
}

/* smtp.verify_recipients for clients outside smtp.internal_networks: an unknown mailbox is
 * refused here, in the session, so that no bounce ever goes to a (forged) outside sender. */
static bool rcpt_refused(struct smtpd_session *s, const char *addr)
{
	if (s->internal_client || s->cfg->check_rcpt == NULL)
		return false;
	enum smtpd_rcpt_check c = s->cfg->check_rcpt(s->cfg->check_ctx, addr);
	if (c == SMTPD_RCPT_OK)
		return false;
	char reply[SG_SMTP_REPLY_LINE_MAX];
	if (c == SMTPD_RCPT_UNKNOWN)
		sg_snprintf(reply, sizeof(reply),
		            "550 5.1.1 <%s>: Recipient address rejected: User unknown", addr);
	else
		sg_snprintf(reply, sizeof(reply),
		            "450 4.4.3 <%s>: Recipient address rejected: cannot verify the address "
		            "now, try again later", addr);
	smtpd_session_reply(s, "%s", reply);
	log_reject(s, "RCPT", reply, addr);
	return true;
}

static void rcpt_add(struct smtpd_session *s, const char *addr, const char *orcpt)
{
	if (s->nrcpt == s->rcpt_cap) {
		s->rcpt_cap = s->rcpt_cap ? s->rcpt_cap * 2 : 4;
		s->rcpts = sg_reallocarray(s->rcpts, s->rcpt_cap, sizeof(*s->rcpts));
	}
	s->rcpts[s->nrcpt].addr = sg_strdup(addr);
	s->rcpts[s->nrcpt].orcpt = orcpt != NULL ? sg_strdup(orcpt) : NULL;
	s->nrcpt++;
}

static void cmd_rcpt(struct smtpd_session *s, char *arg)
{
	if (!s->mail_given) {
		smtpd_session_reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	struct smtpd_mailrcpt mr;
	struct smtp_addr addr;
	const char *orcpt;
	unsigned int flags = s->smtputf8 ? SMTP_ADDR_F_UTF8 : 0;
	if (parse_path_arg(s, arg, "TO:", flags, &rcpt_replies, &mr, &addr) < 0 ||
	    rcpt_params(s, &mr, &orcpt) < 0)
		return;
	if (s->nrcpt >= s->cfg->max_recipients) {
		smtpd_session_reply(s, "452 4.5.3 Error: too many recipients");
		log_reject(s, "RCPT", "452 4.5.3 Error: too many recipients", addr.addr);
		return;
	}
	if (!relay_allowed(s, addr.domain)) {
		char reply[SG_SMTP_REPLY_LINE_MAX];
		sg_snprintf(reply, sizeof(reply), "554 5.7.1 <%s>: Relay access denied", addr.addr);
		smtpd_session_reply(s, "%s", reply);
		log_reject(s, "RCPT", reply, addr.addr);
		return;
	}
	if (rcpt_refused(s, addr.addr))
		return;
	rcpt_add(s, addr.addr, orcpt);
	smtpd_session_reply(s, "250 2.1.5 Ok");
}

/* ---- the others ---- */
static void cmd_data(struct smtpd_session *s, char *arg)
{
	if (!s->mail_given)
		smtpd_session_reply(s, "503 5.5.1 Error: need MAIL command");
	else if (s->nrcpt == 0)
		smtpd_session_reply(s, "554 5.5.1 Error: no valid recipients");
	else if (arg[0] != '\0')
		smtpd_session_reply(s, "501 5.5.4 Syntax: DATA");
	else
		smtpd_msg_begin(s);
}

static void cmd_rset(struct smtpd_session *s, char *arg)
{
	if (arg[0] != '\0') {
		smtpd_session_reply(s, "501 5.5.4 Syntax: RSET");
		return;
	}
	smtpd_session_reset_transaction(s);
	smtpd_session_reply(s, "250 2.0.0 Ok");
}

static void cmd_noop(struct smtpd_session *s, char *arg)
{
	(void)arg; /* RFC 5321 §4.1.1.9: a parameter is allowed and ignored */
	smtpd_session_reply(s, "250 2.0.0 Ok");
}

static void cmd_quit(struct smtpd_session *s, char *arg)
{
	(void)arg;
	smtpd_session_reply(s, "221 2.0.0 Bye");
	s->phase = SMTPD_PHASE_CLOSED;
}

static void cmd_vrfy(struct smtpd_session *s, char *arg)
{
	if (arg[0] == '\0')
		smtpd_session_reply(s, "501 5.5.4 Syntax: VRFY address");
	else
		smtpd_session_reply(s, "252 2.0.0 Cannot VRFY user, but will accept message");
}

static void cmd_help(struct smtpd_session *s, char *arg)
{
	(void)arg;
	smtpd_session_reply(s, "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY "
	                       "HELP%s",
	                    s->cfg->tls_available && !s->tls ? " STARTTLS" : "");
}

static void cmd_starttls(struct smtpd_session *s, char *arg)
{
	if (arg[0] != '\0')
		smtpd_session_reply(s, "501 5.5.4 Syntax: STARTTLS");
	else if (s->tls)
		smtpd_session_reply(s, "554 5.5.1 Error: TLS already active");
	else if (!s->cfg->tls_available)
		smtpd_session_reply(s, "502 5.5.1 Error: command not implemented");
	else if (s->mail_given)
		smtpd_session_reply(s, "503 5.5.1 Error: MAIL transaction in progress");
	else {
		smtpd_session_reply(s, "220 2.0.0 Ready to start TLS");
		s->want_tls = true;
	}
}

static void cmd_unknown(struct smtpd_session *s, char *arg)
{
	(void)arg;
	smtpd_session_reply(s, "500 5.5.2 Error: command not recognized");
}

static cmd_fn *const handlers[SMTPD_V_COUNT] = {
	[SMTPD_V_UNKNOWN] = cmd_unknown, [SMTPD_V_HELO] = cmd_helo, [SMTPD_V_EHLO] = cmd_ehlo,
	[SMTPD_V_MAIL] = cmd_mail,       [SMTPD_V_RCPT] = cmd_rcpt, [SMTPD_V_DATA] = cmd_data,
	[SMTPD_V_RSET] = cmd_rset,       [SMTPD_V_NOOP] = cmd_noop, [SMTPD_V_QUIT] = cmd_quit,
	[SMTPD_V_VRFY] = cmd_vrfy,       [SMTPD_V_HELP] = cmd_help, [SMTPD_V_STARTTLS] = cmd_starttls,
};

void smtpd_cmds_dispatch(struct smtpd_session *s, char *line)
{
	struct smtpd_cmd cmd;
	enum smtpd_verb v = smtpd_parse_command(line, &cmd);
	s->counts[v]++;
	s->last_verb = v;
	handlers[v](s, cmd.arg);
}

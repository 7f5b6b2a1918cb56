/* test_smtpd_session.c: the SMTP server session machine driven directly, with an in-memory
 * sink: conversations (client bytes → exact replies), sequencing, relay decisions, limits,
 * pipelining, smuggling, STARTTLS buffer clearing, timeouts and sink failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sg_buf.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "smtp/smtp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the fake sink ---- */
struct fake {
	struct sg_buf data;
	int begun, committed, aborted;
	bool fail_begin, fail_write, fail_commit;
	char sender[SG_ADDR_MAX];
	char rcpts[512];           /* "a,b" with ORCPT as "a(orcpt)" */
	bool smtputf8, body_8bit, tls, internal;
	size_t size;
	char helo[300];
	int next_id;
};

static int fake_begin(void *ctx, char id_r[SG_QUEUE_ID_MAX], const char **error_r)
{
	struct fake *f = ctx;
	if (f->fail_begin) {
		*error_r = "disk full";
		return -1;
	}
	f->begun++;
	sg_buf_reset(&f->data);
	snprintf(id_r, SG_QUEUE_ID_MAX, "ID%d", ++f->next_id);
	return 0;
}

static int fake_write(void *ctx, const void *data, size_t len, const char **error_r)
{
	struct fake *f = ctx;
	if (f->fail_write) {
		*error_r = "write failed";
		return -1;
	}
	assert_int_equal(sg_buf_append(&f->data, data, len), 0);
	return 0;
}

static int fake_commit(void *ctx, const struct smtpd_envelope *env, const char **error_r)
{
	struct fake *f = ctx;
	if (f->fail_commit) {
		*error_r = "fsync failed";
		return -1;
	}
	f->committed++;
	sg_strlcpy(f->sender, env->sender, sizeof(f->sender));
	size_t o = 0;
	f->rcpts[0] = '\0';
	for (size_t i = 0; i < env->nrcpt; i++) {
		int n = snprintf(f->rcpts + o, sizeof(f->rcpts) - o, "%s%s%s%s%s", i ? "," : "",
		                 env->rcpts[i].addr, env->rcpts[i].orcpt ? "(" : "",
		                 env->rcpts[i].orcpt ? env->rcpts[i].orcpt : "",
		                 env->rcpts[i].orcpt ? ")" : "");
		o += (size_t)n;
	}
	f->smtputf8 = env->smtputf8;
	f->body_8bit = env->body_8bit;
	f->tls = env->tls;
	f->internal = env->internal_client;
	f->size = env->size;
	sg_strlcpy(f->helo, env->client_helo, sizeof(f->helo));
	assert_int_equal(env->size, f->data.len);
	return 0;
}

static void fake_abort(void *ctx)
{
	struct fake *f = ctx;
	f->aborted++;
}

/* ---- fixtures ---- */
struct fixture {
	struct sg_strlist domains;
	struct smtpd_config cfg;
	struct smtpd_hooks hooks;
	struct fake fake;
	struct smtpd_session *s;
	char out[64 * 1024];
};

static int setup(void **state)
{
	struct fixture *fx = sg_calloc(1, sizeof(*fx));
	sg_strlist_split(&fx->domains, "example.com, Example.ORG");
	fx->cfg = (struct smtpd_config){.hostname = "mx.example.com",
	                                .max_message_size = 1000,
	                                .max_recipients = 3,
	                                .max_errors = 5,
	                                .internal_domains = &fx->domains,
	                                .tls_available = true};
	sg_buf_init(&fx->fake.data, 1 << 20);
	fx->hooks = (struct smtpd_hooks){.ctx = &fx->fake, .begin = fake_begin,
	                                 .write = fake_write, .commit = fake_commit,
	                                 .abort = fake_abort};
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	smtpd_session_free(&fx->s);
	sg_buf_free(&fx->fake.data);
	sg_strlist_free(&fx->domains);
	sg_free(&fx);
	return 0;
}

/* Drains the output into fx->out (replacing it). */
static const char *drain(struct fixture *fx)
{
	size_t len;
	const char *p = smtpd_session_output(fx->s, &len);
	assert_true(len < sizeof(fx->out));
	memcpy(fx->out, p ? p : "", len);
	fx->out[len] = '\0';
	smtpd_session_output_consume(fx->s, len);
	return fx->out;
}

static void start(struct fixture *fx, const char *client, bool internal)
{
	fx->s = smtpd_session_new(&fx->cfg, &fx->hooks, client, internal);
	assert_string_equal(drain(fx), "220 mx.example.com ESMTP sealgate\r\n");
}

/* Feeds bytes (all of them, draining when the session asks) and returns every reply. */
static const char *feed_n(struct fixture *fx, const char *in, size_t len)
{
	static char all[256 * 1024];
	size_t o = 0, off = 0;
	all[0] = '\0';
	do {
		off += smtpd_session_input(fx->s, in + off, len - off);
		size_t n;
		const char *p = smtpd_session_output(fx->s, &n);
		assert_true(o + n < sizeof(all));
		memcpy(all + o, p ? p : "", n);
		o += n;
		all[o] = '\0';
		smtpd_session_output_consume(fx->s, n);
	} while (off < len);
	return all;
}

static const char *feed(struct fixture *fx, const char *in) { return feed_n(fx, in, strlen(in)); }

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- conversations: client bytes and the exact replies ---- */
struct step {
	const char *in;
	const char *out;
};

struct conversation {
	const char *name;
	bool internal;
	struct step steps[12];
};

#define EHLO_REPLY                                                                               \
	"250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-8BITMIME\r\n"              \
	"250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250 STARTTLS\r\n"

static const struct conversation conversations[] = {
	{"sequence", false, {
		{"MAIL FROM:<a@b.net>\r\n", "503 5.5.1 Error: send HELO/EHLO first\r\n"},
		{"RCPT TO:<u@example.com>\r\n", "503 5.5.1 Error: need MAIL command\r\n"},
		{"DATA\r\n", "503 5.5.1 Error: need MAIL command\r\n"},
		{"HELO client.net\r\n", "250 mx.example.com\r\n"},
		{"DATA\r\n", "503 5.5.1 Error: need MAIL command\r\n"},
		{"MAIL FROM:<a@b.net>\r\n", "250 2.1.0 Ok\r\n"},
		{"MAIL FROM:<a@b.net>\r\n", "503 5.5.1 Error: nested MAIL command\r\n"},
		{"DATA\r\n", "554 5.5.1 Error: no valid recipients\r\n"},
		{"RSET\r\n", "250 2.0.0 Ok\r\n"},
		{"RCPT TO:<u@example.com>\r\n", "503 5.5.1 Error: need MAIL command\r\n"},
		{"QUIT\r\n", "221 2.0.0 Bye\r\n"},
		{"NOOP\r\n", ""},
	}},
	{"verbs and syntax", false, {
		{"ehlo client.net\r\n", EHLO_REPLY},
		{"FOO\r\n", "500 5.5.2 Error: command not recognized\r\n"},
		{"EHLO\r\n", "501 5.5.4 Syntax: EHLO hostname\r\n"},
		{"noop whatever\r\nvrfy x\r\nVRFY\r\n",
		 "250 2.0.0 Ok\r\n252 2.0.0 Cannot VRFY user, but will accept message\r\n"
		 "501 5.5.4 Syntax: VRFY address\r\n"},
		{"HELP\r\n", "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP "
		             "STARTTLS\r\n"},
		{"RSET x\r\nDATA x\r\n", "501 5.5.4 Syntax: RSET\r\n503 5.5.1 Error: need MAIL command\r\n"},
		{"MaIl FrOm:<a@b.net>\r\n", "250 2.1.0 Ok\r\n"},
		{"RCPT TO:u@example.com\r\n", "501 5.5.4 Syntax: RCPT TO:<address>\r\n"},
	}},
	{"bad addresses", false, {
		{"EHLO c\r\n", EHLO_REPLY},
		{"MAIL FROM:a@b.net\r\n", "501 5.5.4 Syntax: MAIL FROM:<address>\r\n"},
		{"MAIL FROM:<a@>\r\n", "501 5.1.7 Bad sender address syntax\r\n"},
		{"MAIL FROM:<a@b.net\r\n", "501 5.1.7 Bad sender address syntax\r\n"},
		{"MAIL FROM:<a@b.net> FOO=1\r\n", "555 5.5.4 Unsupported option: FOO\r\n"},
		{"MAIL FROM:<a@b.net> SIZE=x\r\n", "501 5.5.4 Bad SIZE syntax\r\n"},
		{"MAIL FROM:<>\r\n", "250 2.1.0 Ok\r\n"},
		{"RCPT TO:<>\r\n", "501 5.1.3 Bad recipient address syntax\r\n"},
		{"RCPT TO:<u@example.com> NOTIFY=NEVER\r\n", "555 5.5.4 Unsupported option: NOTIFY\r\n"},
		{"RCPT TO:<u@example.com> ORCPT=x\r\n", "501 5.5.4 Bad ORCPT syntax\r\n"},
	}},
	{"relay", false, {
		{"EHLO c\r\n", EHLO_REPLY},
		{"MAIL FROM:<a@b.net>\r\n", "250 2.1.0 Ok\r\n"},
		{"RCPT TO:<u@other.net>\r\n", "554 5.7.1 <u@other.net>: Relay access denied\r\n"},
		{"RCPT TO:<u@sub.example.com>\r\n",
		 "554 5.7.1 <u@sub.example.com>: Relay access denied\r\n"},
		{"RCPT TO:<u@example.com.evil.net>\r\n",
		 "554 5.7.1 <u@example.com.evil.net>: Relay access denied\r\n"},
		{"RCPT TO:<u@[192.0.2.1]>\r\n", "554 5.7.1 <u@[192.0.2.1]>: Relay access denied\r\n"},
		{"RCPT TO:<u@EXAMPLE.com>\r\n", "250 2.1.5 Ok\r\n"},
		{"RCPT TO:<v@example.org>\r\n", "250 2.1.5 Ok\r\n"},
		{"RCPT TO:<@other.net:w@example.org>\r\n", "250 2.1.5 Ok\r\n"},
		{"RCPT TO:<x@example.org>\r\n", "452 4.5.3 Error: too many recipients\r\n"},
	}},
	{"internal client relays", true, {
		{"EHLO c\r\n", EHLO_REPLY},
		{"MAIL FROM:<a@example.com>\r\n", "250 2.1.0 Ok\r\n"},
		{"RCPT TO:<u@other.net>\r\n", "250 2.1.5 Ok\r\n"},
		{"RCPT TO:<u@[192.0.2.1]>\r\n", "250 2.1.5 Ok\r\n"},
	}},
	{"size", false, {
		{"EHLO c\r\n", EHLO_REPLY},
		{"MAIL FROM:<a@b.net> SIZE=1001\r\n", "552 5.3.4 Message size exceeds fixed limit\r\n"},
		{"MAIL FROM:<a@b.net> SIZE=99999999999999999999999\r\n",
		 "552 5.3.4 Message size exceeds fixed limit\r\n"},
		{"MAIL FROM:<a@b.net> SIZE=1000 BODY=8BITMIME\r\n", "250 2.1.0 Ok\r\n"},
		{"RSET\r\nMAIL FROM:<a@b.net> BODY=9BIT\r\n",
		 "250 2.0.0 Ok\r\n501 5.5.4 Unsupported BODY type\r\n"},
		{"MAIL FROM:<a@b.net> SIZE=1 SIZE=2\r\n", "501 5.5.4 Bad SIZE syntax\r\n"},
	}},
	{"smtputf8", false, {
		{"EHLO c\r\n", EHLO_REPLY},
		{"MAIL FROM:<j\xc3\xbcrgen@b.net>\r\n",
		 "553 5.6.7 Must declare SMTPUTF8 to send UTF8 address\r\n"},
		{"MAIL FROM:<j\xc3\xbcrgen@b.net> SMTPUTF8=yes\r\n", "501 5.5.4 Bad SMTPUTF8 syntax\r\n"},
		{"MAIL FROM:<j\xc3\xbcrgen@b.net> SMTPUTF8\r\n", "250 2.1.0 Ok\r\n"},
		{"RCPT TO:<m\xc3\xbcller@example.com>\r\n", "250 2.1.5 Ok\r\n"},
		{"RSET\r\nMAIL FROM:<a@b.net>\r\nRCPT TO:<m\xc3\xbcller@example.com>\r\n",
		 "250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n553 5.6.7 Must declare SMTPUTF8 to send UTF8 "
		 "address\r\n"},
	}},
	{"bare line endings in commands", false, {
		{"EHLO c\n", "500 5.5.2 Error: bare LF/CR not allowed\r\n"},
		{"EHLO c\rMAIL FROM:<a@b.net>\r\n", "500 5.5.2 Error: bare LF/CR not allowed\r\n"},
		{"NOOP\0x\r\n", "500 5.5.2 Error: NUL in command\r\n"},
	}},
};

static void run_conversation(struct fixture *fx, const struct conversation *c)
{
	fx->cfg.max_errors = 100;
	start(fx, "192.0.2.7", c->internal);
	for (size_t i = 0; i < sizeof(c->steps) / sizeof(c->steps[0]) && c->steps[i].in; i++) {
		const char *in = c->steps[i].in;
		size_t len = strlen(in);
		if (strncmp(in, "NOOP\0", 5) == 0)
			len = 8;
		const char *got = feed_n(fx, in, len);
		if (strcmp(got, c->steps[i].out) != 0)
			fail_msg("%s, step %zu: got\n%s\nwanted\n%s", c->name, i, got, c->steps[i].out);
	}
	smtpd_session_free(&fx->s);
}

static void conversations_table(void **state)
{
	struct fixture *fx = *state;
	for (size_t i = 0; i < sizeof(conversations) / sizeof(conversations[0]); i++)
		run_conversation(fx, &conversations[i]);
}

/* ---- whole messages ---- */
static const char *const one_message =
	"EHLO client.net\r\nMAIL FROM:<a@b.net> BODY=8BITMIME\r\n"
	"RCPT TO:<u@example.com> ORCPT=rfc822;u@example.com\r\nRCPT TO:<v@example.com>\r\n"
	"DATA\r\nSubject: hi\r\n\r\n..dot\r\nline\r\n.\r\nQUIT\r\n";

static void message_pipelined(void **state)
{
	struct fixture *fx = *state;
	start(fx, "192.0.2.7", false);
	const char *got = feed(fx, one_message);
	assert_string_equal(got, EHLO_REPLY "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
	                                    "354 End data with <CR><LF>.<CR><LF>\r\n"
	                                    "250 2.0.0 Ok: queued as ID1\r\n221 2.0.0 Bye\r\n");
	assert_true(smtpd_session_closed(fx->s));
	assert_int_equal(fx->fake.committed, 1);
	assert_int_equal(fx->fake.aborted, 0);
	assert_string_equal(fx->fake.sender, "a@b.net");
	assert_string_equal(fx->fake.rcpts, "u@example.com(rfc822;u@example.com),v@example.com");
	assert_true(fx->fake.body_8bit);
	assert_false(fx->fake.smtputf8);
	assert_false(fx->fake.tls);
	assert_string_equal(fx->fake.helo, "client.net");
	const char *d = fx->fake.data.data;
	assert_true(starts_with(d, "Received: from client.net ([192.0.2.7])\r\n"
	                           "\tby mx.example.com (sealgate) with ESMTP id ID1; "));
	const char *body = strstr(d, "\r\nSubject: hi\r\n");
	assert_non_null(body);
	assert_string_equal(body + 2, "Subject: hi\r\n\r\n.dot\r\nline\r\n");
}

static void message_bytewise(void **state)
{
	struct fixture *fx = *state;
	start(fx, "192.0.2.7", false);
	const char *whole = one_message;
	char expect[4096];
	char got[4096] = "";
	for (size_t i = 0; whole[i] != '\0'; i++)
		sg_strlcpy(got + strlen(got), feed_n(fx, whole + i, 1), sizeof(got) - strlen(got));
	snprintf(expect, sizeof(expect), "%s", EHLO_REPLY "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
	         "250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
	         "250 2.0.0 Ok: queued as ID1\r\n221 2.0.0 Bye\r\n");
	assert_string_equal(got, expect);
	assert_int_equal(fx->fake.committed, 1);
}

static void message_for_and_proto(void **state)
{
	struct fixture *fx = *state;
	start(fx, "2001:db8::5", false);
	feed(fx, "HELO c(x);\r\nMAIL FROM:<>\r\nRCPT TO:<u@example.com>\r\nDATA\r\nx\r\n.\r\n");
	assert_int_equal(fx->fake.committed, 1);
	assert_string_equal(fx->fake.sender, "");
	const char *d = fx->fake.data.data;
	assert_true(starts_with(d, "Received: from c_x__ ([IPv6:2001:db8::5])\r\n"
	                           "\tby mx.example.com (sealgate) with SMTP id ID1\r\n"
	                           "\tfor <u@example.com>; "));
	smtpd_session_free(&fx->s);
	start(fx, "192.0.2.7", false);
	feed(fx, "EHLO c\r\nMAIL FROM:<a@b.net> SMTPUTF8\r\nRCPT TO:<u@example.com>\r\n"
	         "RCPT TO:<v@example.com>\r\nDATA\r\nx\r\n.\r\n");
	assert_true(fx->fake.smtputf8);
	assert_non_null(strstr(fx->fake.data.data, " with UTF8SMTP id ID2; "));
}

/* SMTP smuggling: a fake end of data followed by a second message must stay inside the
 * first one, which is then refused as a whole. */
static void smuggling(void **state)
{
	struct fixture *fx = *state;
	static const char *const fake_ends[] = {"\n.\n", "\r\n.\n", "\n.\r\n", "\r.\r", "\r.\r\n",
	                                        "\r\n.\r"};
	for (size_t i = 0; i < sizeof(fake_ends) / sizeof(fake_ends[0]); i++) {
		start(fx, "192.0.2.7", false);
		char in[512];
		snprintf(in, sizeof(in),
		         "EHLO c\r\nMAIL FROM:<a@b.net>\r\nRCPT TO:<u@example.com>\r\nDATA\r\n"
		         "Subject: one\r\n\r\nbody%sMAIL FROM:<admin@example.com>\r\n"
		         "RCPT TO:<v@example.com>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n",
		         fake_ends[i]);
		const char *got = feed(fx, in);
		if (strcmp(got, EHLO_REPLY "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
		                "354 End data with <CR><LF>.<CR><LF>\r\n"
		                "554 5.6.0 Error: bare LF/CR not allowed\r\n") != 0)
			fail_msg("fake end %zu: %s", i, got);
		assert_int_equal(fx->fake.committed, 0);
		assert_int_equal(fx->fake.aborted, (int)i + 1);
		/* and the session is back in command mode */
		assert_string_equal(feed(fx, "NOOP\r\n"), "250 2.0.0 Ok\r\n");
		smtpd_session_free(&fx->s);
	}
}

static void too_big_and_long_lines(void **state)
{
	struct fixture *fx = *state;
	start(fx, "192.0.2.7", false);
	char big[2048];
	memset(big, 'x', 1500);
	memcpy(big + 1500, "\r\n.\r\n", 6);
	feed(fx, "EHLO c\r\nMAIL FROM:<a@b.net>\r\nRCPT TO:<u@example.com>\r\nDATA\r\n");
	assert_string_equal(feed(fx, big), "552 5.3.4 Error: message file too big\r\n");
	assert_int_equal(fx->fake.committed, 0);
	assert_int_equal(fx->fake.aborted, 1);
	/* the transaction is over */
	assert_string_equal(feed(fx, "DATA\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
	smtpd_session_free(&fx->s);

	fx->cfg.max_message_size = 1 << 20;
	start(fx, "192.0.2.7", false);
	size_t n = SG_SMTP_DATA_LINE_MAX + 1;
	char *line = sg_malloc(n + 8);
	memset(line, 'y', n);
	memcpy(line + n, "\r\n.\r\n", 6);
	feed(fx, "EHLO c\r\nMAIL FROM:<a@b.net>\r\nRCPT TO:<u@example.com>\r\nDATA\r\n");
	assert_string_equal(feed(fx, line), "554 5.6.0 Error: line too long\r\n");
	assert_int_equal(fx->fake.committed, 0);
	sg_free(&line);
}

static void command_line_too_long(void **state)
{
	struct fixture *fx = *state;
	start(fx, "192.0.2.7", false);
	char *line = sg_malloc(SG_SMTP_CMD_LINE_MAX + 64);
	memcpy(line, "NOOP ", 5);
	memset(line + 5, 'z', SG_SMTP_CMD_LINE_MAX + 20);
	memcpy(line + SG_SMTP_CMD_LINE_MAX + 25, "\r\nNOOP\r\n", 9);
	/* in two pieces, so the cut falls before the end of the over-long line */
	assert_string_equal(feed_n(fx, line, 100), "");
	assert_string_equal(feed(fx, line + 100),
	                    "500 5.5.6 Error: line too long\r\n250 2.0.0 Ok\r\n");
	/* the longest allowed line still works */
	memset(line + 5, 'z', SG_SMTP_CMD_LINE_MAX - 7);
	memcpy(line + SG_SMTP_CMD_LINE_MAX - 2, "\r\n", 3);
	assert_string_equal(feed(fx, line), "250 2.0.0 Ok\r\n");
	sg_free(&line);
}

static void error_limit(void **state)
{
	struct fixture *fx = *state;
	start(fx, "192.0.2.7", false);
	const char *got = feed(fx, "A\r\nB\r\nC\r\nD\r\nE\r\nNOOP\r\n");
	assert_string_equal(got, "500 5.5.2 Error: command not recognized\r\n"
	                         "500 5.5.2 Error: command not recognized\r\n"
	                         "500 5.5.2 Error: command not recognized\r\n"
	                         "500 5.5.2 Error: command not recognized\r\n"
	                         "500 5.5.2 Error: command not recognized\r\n"
	                         "421 4.7.0 mx.example.com Error: too many errors\r\n");
	assert_true(smtpd_session_closed(fx->s));
}

static void starttls_clears_input(void **state)
{
	struct fixture *fx = *state;
	start(fx, "192.0.2.7", false);
	assert_string_equal(feed(fx, "EHLO c\r\nSTARTTLS x\r\n"),
	                    EHLO_REPLY "501 5.5.4 Syntax: STARTTLS\r\n");
	/* injected commands after STARTTLS in the same packet are dropped */
	assert_string_equal(feed(fx, "STARTTLS\r\nMAIL FROM:<a@b.net>\r\nRCPT TO:<u@example.com>\r\n"),
	                    "220 2.0.0 Ready to start TLS\r\n");
	assert_true(smtpd_session_want_tls(fx->s));
	assert_string_equal(feed(fx, "MAIL FROM:<a@b.net>\r\n"), "");
	smtpd_session_tls_started(fx->s, "TLSv1.3");
	assert_false(smtpd_session_want_tls(fx->s));
	/* the state is reset: EHLO again, and no STARTTLS offered any more */
	assert_string_equal(feed(fx, "MAIL FROM:<a@b.net>\r\n"),
	                    "503 5.5.1 Error: send HELO/EHLO first\r\n");
	assert_string_equal(feed(fx, "EHLO c\r\n"),
	                    "250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 1000\r\n"
	                    "250-8BITMIME\r\n250-SMTPUTF8\r\n250 ENHANCEDSTATUSCODES\r\n");
	assert_string_equal(feed(fx, "STARTTLS\r\n"), "554 5.5.1 Error: TLS already active\r\n");
	feed(fx, "MAIL FROM:<a@b.net>\r\nRCPT TO:<u@example.com>\r\nDATA\r\nx\r\n.\r\n");
	assert_true(fx->fake.tls);
	assert_non_null(strstr(fx->fake.data.data, "\t(using TLSv1.3)\r\n\tby mx.example.com "
	                                            "(sealgate) with ESMTPS id ID1\r\n"));
}

static void starttls_refused(void **state)
{
	struct fixture *fx = *state;
	fx->cfg.tls_available = false;
	start(fx, "192.0.2.7", false);
	assert_string_equal(feed(fx, "EHLO c\r\n"),
	                    "250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 1000\r\n"
	                    "250-8BITMIME\r\n250-SMTPUTF8\r\n250 ENHANCEDSTATUSCODES\r\n");
	assert_string_equal(feed(fx, "STARTTLS\r\n"), "502 5.5.1 Error: command not implemented\r\n");
	smtpd_session_free(&fx->s);
	fx->cfg.tls_available = true;
	start(fx, "192.0.2.7", false);
	assert_string_equal(feed(fx, "EHLO c\r\nMAIL FROM:<a@b.net>\r\nSTARTTLS\r\n"),
	                    EHLO_REPLY "250 2.1.0 Ok\r\n"
	                               "503 5.5.1 Error: MAIL transaction in progress\r\n");
}

static void sink_failures(void **state)
{
	struct fixture *fx = *state;
	static const char *const msg = "EHLO c\r\nMAIL FROM:<a@b.net>\r\nRCPT TO:<u@example.com>\r\n"
	                               "DATA\r\nx\r\n.\r\n";
	static const char *const head = EHLO_REPLY "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n";
	char want[1024];
	fx->fake.fail_begin = true;
	start(fx, "192.0.2.7", false);
	snprintf(want, sizeof(want), "%s451 4.3.0 Error: queue file write error\r\n"
	         "500 5.5.2 Error: command not recognized\r\n"
	         "500 5.5.2 Error: command not recognized\r\n", head);
	assert_string_equal(feed(fx, msg), want);
	smtpd_session_free(&fx->s);

	fx->fake.fail_begin = false;
	fx->fake.fail_write = true;
	start(fx, "192.0.2.7", false);
	snprintf(want, sizeof(want), "%s354 End data with <CR><LF>.<CR><LF>\r\n"
	         "451 4.3.0 Error: write failed\r\n", head);
	assert_string_equal(feed(fx, msg), want);
	assert_int_equal(fx->fake.aborted, 1);
	smtpd_session_free(&fx->s);

	fx->fake.fail_write = false;
	fx->fake.fail_commit = true;
	start(fx, "192.0.2.7", false);
	snprintf(want, sizeof(want), "%s354 End data with <CR><LF>.<CR><LF>\r\n"
	         "451 4.3.0 Error: fsync failed\r\n", head);
	assert_string_equal(feed(fx, msg), want);
	assert_int_equal(fx->fake.committed, 0);
	assert_int_equal(fx->fake.aborted, 1); /* commit ends the message itself */
}

static void timeouts_and_shutdown(void **state)
{
	struct fixture *fx = *state;
	start(fx, "192.0.2.7", false);
	assert_true(smtpd_session_idle(fx->s));
	feed(fx, "EHLO c\r\nMAIL FROM:<a@b.net>\r\nRCPT TO:<u@example.com>\r\nDATA\r\nhalf");
	assert_true(smtpd_session_in_data(fx->s));
	assert_false(smtpd_session_idle(fx->s));
	smtpd_session_timeout(fx->s);
	assert_string_equal(drain(fx), "421 4.4.2 mx.example.com Error: timeout exceeded\r\n");
	assert_true(smtpd_session_closed(fx->s));
	assert_int_equal(fx->fake.aborted, 1);
	assert_int_equal(fx->fake.committed, 0);
	smtpd_session_free(&fx->s);
	assert_int_equal(fx->fake.aborted, 1); /* not twice */

	start(fx, "192.0.2.7", false);
	feed(fx, "NOO");
	assert_false(smtpd_session_idle(fx->s));
	feed(fx, "P\r\n");
	assert_true(smtpd_session_idle(fx->s));
	smtpd_session_shutdown(fx->s);
	assert_string_equal(drain(fx), "421 4.3.2 mx.example.com Service shutting down, closing "
	                               "transmission channel\r\n");
	assert_true(smtpd_session_closed(fx->s));
}

/* smtp.verify_recipients as the session sees it: a checker that knows "u" and cannot tell
 * about "later"; internal clients are never asked. */
static int checks;

static enum smtpd_rcpt_check fake_check(void *ctx, const char *addr)
{
	(void)ctx;
	checks++;
	if (strcmp(addr, "u@example.com") == 0)
		return SMTPD_RCPT_OK;
	return strncmp(addr, "later@", 6) == 0 ? SMTPD_RCPT_TEMPFAIL : SMTPD_RCPT_UNKNOWN;
}

static void recipient_verification(void **state)
{
	struct fixture *fx = *state;
	fx->cfg.check_rcpt = fake_check;
	checks = 0;
	start(fx, "192.0.2.7", false);
	feed(fx, "EHLO c\r\nMAIL FROM:<spam@forged.test>\r\n");
	assert_string_equal(feed(fx, "RCPT TO:<nobody@example.com>\r\n"),
	                    "550 5.1.1 <nobody@example.com>: Recipient address rejected: User "
	                    "unknown\r\n");
	assert_true(starts_with(feed(fx, "RCPT TO:<later@example.com>\r\n"), "450 4.4.3 "));
	assert_string_equal(feed(fx, "RCPT TO:<u@example.com>\r\n"), "250 2.1.5 Ok\r\n");
	assert_true(starts_with(feed(fx, "RCPT TO:<x@remote.test>\r\n"), "554 5.7.1 "));
	assert_int_equal(checks, 3); /* relay refused before any check */
	feed(fx, "DATA\r\nSubject: x\r\n\r\nhi\r\n.\r\n");
	assert_int_equal(fx->fake.committed, 1);
	assert_string_equal(fx->fake.rcpts, "u@example.com");
	smtpd_session_free(&fx->s);
	start(fx, "10.0.0.1", true);
	feed(fx, "EHLO c\r\nMAIL FROM:<a@example.com>\r\n");
	assert_string_equal(feed(fx, "RCPT TO:<nobody@example.com>\r\n"), "250 2.1.5 Ok\r\n");
	assert_int_equal(checks, 3);
}

/* The server's deadlines count from the last progress: a partial line is none. */
static void progress_counts_lines_not_bytes(void **state)
{
	struct fixture *fx = *state;
	start(fx, "192.0.2.7", false);
	unsigned long p0 = smtpd_session_progress(fx->s);
	feed(fx, "EH");
	feed(fx, "L");
	assert_int_equal(smtpd_session_progress(fx->s), p0);
	feed(fx, "O c\r\n");
	assert_int_equal(smtpd_session_progress(fx->s), p0 + 1);
	feed(fx, "MAIL FROM:<a@b.net>\r\nRCPT TO:<u@example.com>\r\nDATA\r\n");
	unsigned long p1 = smtpd_session_progress(fx->s);
	feed(fx, "Subject: x\r\n\r\nbody\r\n");
	assert_int_equal(smtpd_session_progress(fx->s), p1);
	assert_int_equal(smtpd_session_data_bytes(fx->s), 20);
	feed(fx, ".\r\n");
	assert_true(smtpd_session_progress(fx->s) > p1);
	assert_int_equal(smtpd_session_data_bytes(fx->s), 0);
}

/* A client that pipelines without reading: input is taken in bounded steps. */
static void output_backpressure(void **state)
{
	struct fixture *fx = *state;
	start(fx, "192.0.2.7", false);
	size_t count = 10000, len = count * 6;
	char *in = sg_malloc(len + 1);
	for (size_t i = 0; i < count; i++)
		memcpy(in + i * 6, "NOOP\r\n", 6);
	size_t used = smtpd_session_input(fx->s, in, len);
	assert_true(used < len);
	size_t outlen;
	smtpd_session_output(fx->s, &outlen);
	assert_true(outlen < 32 * 1024);
	const char *all = feed_n(fx, in + used, len - used);
	assert_int_equal(strlen(all), count * strlen("250 2.0.0 Ok\r\n"));
	sg_free(&in);
}

static void many_messages_one_session(void **state)
{
	struct fixture *fx = *state;
	start(fx, "192.0.2.7", false);
	feed(fx, "EHLO c\r\n");
	for (int i = 1; i <= 3; i++) {
		char want[64];
		snprintf(want, sizeof(want), "250 2.0.0 Ok: queued as ID%d\r\n", i);
		const char *got = feed(fx, "MAIL FROM:<a@b.net>\r\nRCPT TO:<u@example.com>\r\nDATA\r\n"
		                           "x\r\n.\r\n");
		assert_non_null(strstr(got, want));
	}
	assert_int_equal(fx->fake.committed, 3);
}

int main(void)
{
	sg_log_set_level(SG_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(conversations_table, setup, teardown),
		cmocka_unit_test_setup_teardown(message_pipelined, setup, teardown),
		cmocka_unit_test_setup_teardown(message_bytewise, setup, teardown),
		cmocka_unit_test_setup_teardown(message_for_and_proto, setup, teardown),
		cmocka_unit_test_setup_teardown(smuggling, setup, teardown),
		cmocka_unit_test_setup_teardown(too_big_and_long_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(command_line_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(error_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(starttls_clears_input, setup, teardown),
		cmocka_unit_test_setup_teardown(starttls_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(sink_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(timeouts_and_shutdown, setup, teardown),
		cmocka_unit_test_setup_teardown(output_backpressure, setup, teardown),
		cmocka_unit_test_setup_teardown(recipient_verification, setup, teardown),
		cmocka_unit_test_setup_teardown(progress_counts_lines_not_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(many_messages_one_session, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

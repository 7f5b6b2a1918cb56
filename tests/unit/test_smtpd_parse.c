/* test_smtpd_parse.c: the SMTP server's parsers: command verbs and arguments, MAIL/RCPT
 * parameters, and the DATA decoder (end of data, dot-unstuffing, bare CR/LF smuggling
 * variants, line and size limits), fed whole and byte by byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sg_buf.h"
#include "smtp/smtp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- verbs ---- */
static const struct {
	const char *line;
	enum smtpd_verb verb;
	const char *arg;
} cmds[] = {
	{"EHLO client.example", SMTPD_V_EHLO, "client.example"},
	{"ehlo client.example", SMTPD_V_EHLO, "client.example"},
	{"HeLo   x  ", SMTPD_V_HELO, "x"},
	{"MAIL FROM:<a@b.c> SIZE=10", SMTPD_V_MAIL, "FROM:<a@b.c> SIZE=10"},
	{"rcpt to:<a@b.c>", SMTPD_V_RCPT, "to:<a@b.c>"},
	{"DATA", SMTPD_V_DATA, ""},
	{"data ", SMTPD_V_DATA, ""},
	{"RSET", SMTPD_V_RSET, ""},
	{"NOOP hello", SMTPD_V_NOOP, "hello"},
	{"QUIT", SMTPD_V_QUIT, ""},
	{"VRFY postmaster", SMTPD_V_VRFY, "postmaster"},
	{"HELP", SMTPD_V_HELP, ""},
	{"StartTLS", SMTPD_V_STARTTLS, ""},
	{"NOOPX", SMTPD_V_UNKNOWN, ""},
	{"MAILFROM:<a@b>", SMTPD_V_UNKNOWN, ""},
	{"", SMTPD_V_UNKNOWN, ""},
	{" EHLO x", SMTPD_V_UNKNOWN, "EHLO x"},
	{"BDAT 10", SMTPD_V_UNKNOWN, "10"},
	{"GET / HTTP/1.0", SMTPD_V_UNKNOWN, "/ HTTP/1.0"},
};

static void verbs(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		char line[128];
		snprintf(line, sizeof(line), "%s", cmds[i].line);
		struct smtpd_cmd cmd;
		enum smtpd_verb v = smtpd_parse_command(line, &cmd);
		if (v != cmds[i].verb || cmd.verb != v)
			fail_msg("'%s': verb %d", cmds[i].line, v);
		if (v != SMTPD_V_UNKNOWN || cmds[i].arg[0] != '\0')
			assert_string_equal(cmd.arg, cmds[i].arg);
	}
	assert_string_equal(smtpd_parse_verb_name(SMTPD_V_EHLO), "ehlo");
	assert_string_equal(smtpd_parse_verb_name(SMTPD_V_STARTTLS), "starttls");
}

/* ---- MAIL / RCPT arguments ---- */
static const struct {
	const char *arg;
	const char *prefix;
	enum smtpd_parse_error err;
	const char *path;
	size_t nparams;
	const char *params; /* "K=V K2" as parsed, keys and values joined by '=' and ' ' */
} mailrcpt[] = {
	{"FROM:<a@b.c>", "FROM:", SMTPD_PARSE_OK, "<a@b.c>", 0, ""},
	{"from:<a@b.c>", "FROM:", SMTPD_PARSE_OK, "<a@b.c>", 0, ""},
	{"FROM: <a@b.c>", "FROM:", SMTPD_PARSE_OK, "<a@b.c>", 0, ""},
	{"FROM:<>", "FROM:", SMTPD_PARSE_OK, "<>", 0, ""},
	{"FROM:<a@b.c> SIZE=100 BODY=8BITMIME SMTPUTF8", "FROM:", SMTPD_PARSE_OK, "<a@b.c>", 3,
	 "SIZE=100 BODY=8BITMIME SMTPUTF8"},
	{"FROM:<a@b.c>  SIZE=1", "FROM:", SMTPD_PARSE_OK, "<a@b.c>", 1, "SIZE=1"},
	{"TO:<\"x y\"@b.c> ORCPT=rfc822;x+20y@b.c", "TO:", SMTPD_PARSE_OK, "<\"x y\"@b.c>", 1,
	 "ORCPT=rfc822;x+20y@b.c"},
	{"TO:<a@b.c>", "FROM:", SMTPD_PARSE_SYNTAX, NULL, 0, ""},
	{"FROM:a@b.c", "FROM:", SMTPD_PARSE_SYNTAX, NULL, 0, ""},
	{"FROM", "FROM:", SMTPD_PARSE_SYNTAX, NULL, 0, ""},
	{"FROM:<a@b.c", "FROM:", SMTPD_PARSE_PATH, NULL, 0, ""},
	{"FROM:<a@b.c>SIZE=1", "FROM:", SMTPD_PARSE_PARAM, NULL, 0, ""},
	{"FROM:<a@b.c> SIZE=", "FROM:", SMTPD_PARSE_PARAM, NULL, 0, ""},
	{"FROM:<a@b.c> =1", "FROM:", SMTPD_PARSE_PARAM, NULL, 0, ""},
	{"FROM:<a@b.c> -X=1", "FROM:", SMTPD_PARSE_PARAM, NULL, 0, ""},
	{"FROM:<a@b.c> S_IZE=1", "FROM:", SMTPD_PARSE_PARAM, NULL, 0, ""},
	{"FROM:<a@b.c> SIZE=1=2", "FROM:", SMTPD_PARSE_PARAM, NULL, 0, ""},
	{"FROM:<a@b.c> A B C D E F G H I", "FROM:", SMTPD_PARSE_TOO_MANY, NULL, 0, ""},
};

static void join_params(const struct smtpd_mailrcpt *r, char *dst, size_t size)
{
	size_t o = 0;
	dst[0] = '\0';
	for (size_t i = 0; i < r->nparams; i++) {
		int n = snprintf(dst + o, size - o, "%s%s%s%s", i ? " " : "", r->params[i].key,
		                 r->params[i].value ? "=" : "",
		                 r->params[i].value ? r->params[i].value : "");
		assert_true(n > 0 && (size_t)n < size - o);
		o += (size_t)n;
	}
}

static void mail_rcpt_args(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(mailrcpt) / sizeof(mailrcpt[0]); i++) {
		char arg[256], joined[256];
		snprintf(arg, sizeof(arg), "%s", mailrcpt[i].arg);
		struct smtpd_mailrcpt r;
		enum smtpd_parse_error e = smtpd_parse_mailrcpt(arg, mailrcpt[i].prefix, &r);
		if (e != mailrcpt[i].err)
			fail_msg("'%s': error %d", mailrcpt[i].arg, e);
		if (e != SMTPD_PARSE_OK)
			continue;
		assert_int_equal(r.path_len, strlen(mailrcpt[i].path));
		assert_memory_equal(r.path, mailrcpt[i].path, r.path_len);
		assert_int_equal(r.nparams, mailrcpt[i].nparams);
		join_params(&r, joined, sizeof(joined));
		assert_string_equal(joined, mailrcpt[i].params);
	}
}

/* ---- the DATA decoder ---- */
struct collect {
	struct sg_buf out;
	int fail_after;  /* sink calls before it fails, -1 = never */
};

static int collect_sink(void *ctx, const void *data, size_t len)
{
	struct collect *c = ctx;
	if (c->fail_after == 0)
		return -1;
	if (c->fail_after > 0)
		c->fail_after--;
	return sg_buf_append(&c->out, data, len);
}

struct data_case {
	const char *name;
	const char *in;
	enum smtpd_data_status status;
	const char *out;       /* what the sink got (when OK) */
	const char *rest;      /* bytes after the end of data, left unconsumed */
};

static const struct data_case data_cases[] = {
	{"plain", "a\r\nb\r\n.\r\n", SMTPD_DATA_OK, "a\r\nb\r\n", ""},
	{"empty", ".\r\n", SMTPD_DATA_OK, "", ""},
	{"rest", "a\r\n.\r\nQUIT\r\n", SMTPD_DATA_OK, "a\r\n", "QUIT\r\n"},
	{"unstuff", "..a\r\n..\r\n.\r\n", SMTPD_DATA_OK, ".a\r\n.\r\n", ""},
	{"dot inside", "a.\r\n .\r\n.x\r\n.\r\n", SMTPD_DATA_OK, "a.\r\n .\r\nx\r\n", ""},
	{"empty lines", "\r\n\r\n.\r\n", SMTPD_DATA_OK, "\r\n\r\n", ""},
	{"8bit", "\xc3\xa4\r\n.\r\n", SMTPD_DATA_OK, "\xc3\xa4\r\n", ""},
	/* smuggling: none of these may end the data; the real end comes later */
	{"LF.LF", "a\n.\nMAIL FROM:<x@y>\r\n.\r\n", SMTPD_DATA_BARE_EOL, NULL, ""},
	{"CRLF.LF", "a\r\n.\nMAIL FROM:<x@y>\r\n.\r\n", SMTPD_DATA_BARE_EOL, NULL, ""},
	{"LF.CRLF", "a\n.\r\nMAIL FROM:<x@y>\r\n.\r\n", SMTPD_DATA_BARE_EOL, NULL, ""},
	{"CR.CR", "a\r.\rMAIL FROM:<x@y>\r\n.\r\n", SMTPD_DATA_BARE_EOL, NULL, ""},
	{"CR.CRLF", "a\r.\r\nMAIL FROM:<x@y>\r\n.\r\n", SMTPD_DATA_BARE_EOL, NULL, ""},
	{"CRLF.CR", "a\r\n.\rMAIL FROM:<x@y>\r\n.\r\n", SMTPD_DATA_BARE_EOL, NULL, ""},
	{"start LF", ".\nMAIL FROM:<x@y>\r\n.\r\n", SMTPD_DATA_BARE_EOL, NULL, ""},
	{"bare CR", "a\rb\r\n.\r\n", SMTPD_DATA_BARE_EOL, NULL, ""},
	{"bare LF", "a\nb\r\n.\r\n", SMTPD_DATA_BARE_EOL, NULL, ""},
	{"CRCRLF end", "a\r\r\n.\r\nQUIT\r\n", SMTPD_DATA_BARE_EOL, NULL, "QUIT\r\n"},
	{"too big", "0123456789\r\n0123456789\r\n.\r\n", SMTPD_DATA_TOO_BIG, NULL, ""},
};

static void run_data_case(const struct data_case *c, bool bytewise)
{
	struct collect col = {.fail_after = -1};
	sg_buf_init(&col.out, 1 << 20);
	struct smtpd_data d;
	smtpd_data_init(&d, 20, collect_sink, &col);
	size_t len = strlen(c->in), used = 0;
	if (bytewise) {
		while (used < len && !d.done)
			used += smtpd_data_feed(&d, c->in + used, 1);
	} else {
		used = smtpd_data_feed(&d, c->in, len);
	}
	if (!d.done || d.status != c->status)
		fail_msg("%s (%s): done=%d status=%d", c->name, bytewise ? "bytes" : "whole", d.done,
		         d.status);
	assert_string_equal(c->in + used, c->rest);
	if (c->status == SMTPD_DATA_OK) {
		assert_int_equal(col.out.len, strlen(c->out));
		assert_memory_equal(col.out.data ? col.out.data : "", c->out, col.out.len);
		assert_int_equal(d.size, col.out.len);
	}
	smtpd_data_free(&d);
	sg_buf_free(&col.out);
}

static void data_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(data_cases) / sizeof(data_cases[0]); i++) {
		run_data_case(&data_cases[i], false);
		run_data_case(&data_cases[i], true);
	}
}

static void data_not_done(void **state)
{
	(void)state;
	static const char *const unfinished[] = {"a\r\n.\n", "a\n.\r\n", "a\r.\r", "a\r\n.\r",
	                                         "a\r\n..\r\n", "a\r\n. \r\n"};
	for (size_t i = 0; i < sizeof(unfinished) / sizeof(unfinished[0]); i++) {
		struct collect col = {.fail_after = -1};
		sg_buf_init(&col.out, 1 << 20);
		struct smtpd_data d;
		smtpd_data_init(&d, 1000, collect_sink, &col);
		assert_int_equal(smtpd_data_feed(&d, unfinished[i], strlen(unfinished[i])),
		                 strlen(unfinished[i]));
		assert_false(d.done);
		smtpd_data_free(&d);
		sg_buf_free(&col.out);
	}
}

static void data_long_line(void **state)
{
	(void)state;
	size_t n = SG_SMTP_DATA_LINE_MAX;
	char *big = malloc(n + 16);
	assert_non_null(big);
	for (int over = 0; over <= 1; over++) {
		memset(big, 'x', n + (size_t)over);
		memcpy(big + n + over, "\r\n.\r\n", 6);
		struct collect col = {.fail_after = -1};
		sg_buf_init(&col.out, 1 << 20);
		struct smtpd_data d;
		smtpd_data_init(&d, 1 << 20, collect_sink, &col);
		size_t len = strlen(big);
		/* in uneven pieces, so the cut falls inside and at the end of the line */
		for (size_t off = 0; off < len;)
			off += smtpd_data_feed(&d, big + off, len - off < 4093 ? len - off : 4093);
		assert_true(d.done);
		assert_int_equal(d.status, over ? SMTPD_DATA_LINE_TOO_LONG : SMTPD_DATA_OK);
		smtpd_data_free(&d);
		sg_buf_free(&col.out);
	}
	/* a too long line ending in a bare LF: the following ".\r\n" must not end the data */
	memset(big, 'x', n + 10);
	memcpy(big + n + 10, "\n.\r\n", 5);
	struct smtpd_data d;
	struct collect col = {.fail_after = -1};
	sg_buf_init(&col.out, 1 << 20);
	smtpd_data_init(&d, 1 << 20, collect_sink, &col);
	smtpd_data_feed(&d, big, strlen(big));
	assert_false(d.done);
	assert_int_equal(smtpd_data_feed(&d, "\r\n.\r\n", 5), 5);
	assert_true(d.done);
	assert_int_equal(d.status, SMTPD_DATA_LINE_TOO_LONG);
	smtpd_data_free(&d);
	sg_buf_free(&col.out);
	free(big);
}

static void data_sink_error(void **state)
{
	(void)state;
	struct collect col = {.fail_after = 1};
	sg_buf_init(&col.out, 1 << 20);
	struct smtpd_data d;
	smtpd_data_init(&d, 1000, collect_sink, &col);
	const char *in = "a\r\nb\r\nc\r\n.\r\n";
	assert_int_equal(smtpd_data_feed(&d, in, strlen(in)), strlen(in));
	assert_true(d.done);
	assert_int_equal(d.status, SMTPD_DATA_SINK_ERROR);
	assert_string_equal(col.out.data, "a\r\n");
	smtpd_data_free(&d);
	sg_buf_free(&col.out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(verbs),          cmocka_unit_test(mail_rcpt_args),
		cmocka_unit_test(data_table),     cmocka_unit_test(data_not_done),
		cmocka_unit_test(data_long_line), cmocka_unit_test(data_sink_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

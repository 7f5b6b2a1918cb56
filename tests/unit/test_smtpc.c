/* test_smtpc.c: the SMTP client: the reply parser on good, odd, hostile and over-long replies,
 * DATA encoding, and whole conversations with a scripted in-process server (per-recipient
 * replies, ESMTP parameters, SMTPUTF8 refusal, connection reuse, connection failure). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/limits.h"
#include "core/sg_mem.h"
#include "core/sg_net.h"
#include "smtp/smtpc.h"

#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <time.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- reply parser ---- */
static void reply_table(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int rc;
		int code;
		const char *enhanced;
		size_t nlines;
		const char *text;
	} table[] = {
		{"250 2.0.0 Ok: queued as X\r\n", 1, 250, "2.0.0", 1, "2.0.0 Ok: queued as X"},
		{"250-mx.test\r\n250-SIZE 1000\r\n250 8BITMIME\r\n", 1, 250, "", 3,
		 "mx.test\nSIZE 1000\n8BITMIME"},
		{"550 5.1.1 <a@b>: unknown\n", 1, 550, "5.1.1", 1, "5.1.1 <a@b>: unknown"},
		{"250\r\n", 1, 250, "", 1, ""},
		{"421 4.3.2\r\n", 1, 421, "4.3.2", 1, "4.3.2"},
		{"550 4.1.1 class mismatch\r\n", 1, 550, "", 1, "4.1.1 class mismatch"},
		{"250 2.0.0000 too many digits\r\n", 1, 250, "", 1, "2.0.0000 too many digits"},
		{"250 2.0.0x\r\n", 1, 250, "", 1, "2.0.0x"},
		{"250-first\r\n250 ", 0, 0, "", 0, ""},
		{"25", 0, 0, "", 0, ""},
		{"", 0, 0, "", 0, ""},
		{"hello\r\n", -1, 0, "", 0, ""},
		{"250-a\r\n550 b\r\n", -1, 0, "", 0, ""},
		{"250x\r\n", -1, 0, "", 0, ""},
		{"199 low\r\n", -1, 0, "", 0, ""},
		{"600 high\r\n", -1, 0, "", 0, ""},
		{"2a0 x\r\n", -1, 0, "", 0, ""},
		{"260 x\r\n", -1, 0, "", 0, ""},
	};
	struct smtpc_reply *r = sg_malloc(sizeof(*r));
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		size_t used = 0;
		const char *err = NULL;
		int rc = smtpc_reply_parse(table[i].in, strlen(table[i].in), r, &used, &err);
		if (rc != table[i].rc)
			fail_msg("row %zu: rc %d, want %d (%s)", i, rc, table[i].rc, err ? err : "");
		if (rc != 1)
			continue;
		assert_int_equal(used, strlen(table[i].in));
		assert_int_equal(r->code, table[i].code);
		assert_string_equal(r->enhanced, table[i].enhanced);
		assert_int_equal(r->nlines, table[i].nlines);
		assert_string_equal(r->text, table[i].text);
	}
	sg_free(&r);
}

static void reply_nul_and_pipelined(void **state)
{
	(void)state;
	struct smtpc_reply *r = sg_malloc(sizeof(*r));
	size_t used;
	const char *err;
	static const char nul[] = "250 a\0b\r\n";
	assert_int_equal(smtpc_reply_parse(nul, sizeof(nul) - 1, r, &used, &err), -1);
	static const char two[] = "250 one\r\n354 two\r\n";
	assert_int_equal(smtpc_reply_parse(two, sizeof(two) - 1, r, &used, &err), 1);
	assert_int_equal(used, 9);
	assert_int_equal(smtpc_reply_parse(two + used, sizeof(two) - 1 - used, r, &used, &err), 1);
	assert_int_equal(r->code, 354);
	sg_free(&r);
}

static void reply_too_long(void **state)
{
	(void)state;
	struct smtpc_reply *r = sg_malloc(sizeof(*r));
	size_t used;
	const char *err;
	/* One line past SG_SMTP_REPLY_LINE_MAX without LF: an error, not "need more". */
	char *line = sg_malloc(SG_SMTP_REPLY_LINE_MAX + 10);
	memcpy(line, "250 ", 4);
	memset(line + 4, 'x', SG_SMTP_REPLY_LINE_MAX + 6);
	assert_int_equal(smtpc_reply_parse(line, SG_SMTP_REPLY_LINE_MAX + 10, r, &used, &err), -1);
	assert_string_equal(err, "reply line too long");
	sg_free(&line);
	/* Many short continuation lines past SG_SMTP_REPLY_MAX in all. */
	size_t n = SG_SMTP_REPLY_MAX / 10 + 10;
	char *multi = sg_malloc(n * 10 + 1);
	for (size_t i = 0; i < n; i++)
		memcpy(multi + i * 10, "250-abcd\r\n", 10);
	assert_int_equal(smtpc_reply_parse(multi, n * 10, r, &used, &err), -1);
	assert_string_equal(err, "reply too long");
	/* The same, still incomplete but already longer than a whole reply may be. */
	assert_int_equal(smtpc_reply_parse(multi, SG_SMTP_REPLY_MAX - 5, r, &used, &err), 0);
	sg_free(&multi);
	sg_free(&r);
}

static void reply_summary(void **state)
{
	(void)state;
	struct smtpc_reply *r = sg_malloc(sizeof(*r));
	size_t used;
	const char *err;
	static const char in[] = "550-5.7.1 first\x01\r\n550 5.7.1 second\r\n";
	assert_int_equal(smtpc_reply_parse(in, sizeof(in) - 1, r, &used, &err), 1);
	char sum[128], st[16];
	smtpc_reply_summary(r, sum, sizeof(sum));
	assert_string_equal(sum, "550 5.7.1 first? 5.7.1 second");
	smtpc_reply_status(r, st, sizeof(st));
	assert_string_equal(st, "5.7.1");
	static const char plain[] = "451 try later\r\n";
	assert_int_equal(smtpc_reply_parse(plain, sizeof(plain) - 1, r, &used, &err), 1);
	smtpc_reply_status(r, st, sizeof(st));
	assert_string_equal(st, "4.0.0");
	sg_free(&r);
}

/* ---- DATA encoding ---- */
struct outbuf {
	char data[512];
	size_t len;
};

static int collect(void *ctx, const char *p, size_t n)
{
	struct outbuf *o = ctx;
	assert_true(o->len + n < sizeof(o->data));
	memcpy(o->data + o->len, p, n);
	o->len += n;
	o->data[o->len] = '\0';
	return 0;
}

static void data_encoding(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} table[] = {
		{"a\n.b\r\n..c\nd", "a\r\n..b\r\n...c\r\nd\r\n.\r\n"},
		{"", ".\r\n"},
		{".\n", "..\r\n.\r\n"},
		{"x\r\n\r\n.\r\n", "x\r\n\r\n..\r\n.\r\n"},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		struct outbuf o = {.len = 0};
		assert_int_equal(smtpc_data_encode(table[i].in, strlen(table[i].in), collect, &o), 0);
		assert_string_equal(o.data, table[i].out);
	}
}

/* ---- a scripted server ---- */
struct fake {
	int lfd;
	char port[8];
	bool utf8;        /* offer SMTPUTF8 */
	bool ehlo_fails;  /* answer EHLO with 502 */
	long long size;   /* SIZE announced */
	int connections;
	char mail[10][256];
	int nmail;
	char body[4096];
	pthread_t thread;
	SSL_CTX *tls;     /* offer STARTTLS with this context */
	SSL *ssl;         /* the current connection is under TLS */
	bool tls_done;
};

static struct fake *cur; /* one fake server at a time */

static int read_line(int fd, char *buf, size_t size)
{
	size_t o = 0;
	while (o + 1 < size) {
		char c;
		if (cur->ssl != NULL ? SSL_read(cur->ssl, &c, 1) != 1 : read(fd, &c, 1) != 1)
			return -1;
		if (c == '\n')
			break;
		buf[o++] = c;
	}
	if (o > 0 && buf[o - 1] == '\r')
		o--;
	buf[o] = '\0';
	return 0;
}

static void say(int fd, const char *s)
{
	if (cur->ssl != NULL) {
		SSL_write(cur->ssl, s, (int)strlen(s));
		return;
	}
	ssize_t w = write(fd, s, strlen(s));
	(void)w;
}

static void fake_starttls(struct fake *f, int fd)
{
	say(fd, "220 2.0.0 ready to start TLS\r\n");
	f->ssl = SSL_new(f->tls);
	SSL_set_fd(f->ssl, fd);
	if (SSL_accept(f->ssl) != 1) {
		SSL_free(f->ssl);
		f->ssl = NULL;
		return;
	}
	f->tls_done = true;
}

static void fake_data(struct fake *f, int fd)
{
	say(fd, "354 go ahead\r\n");
	char line[1024];
	size_t o = 0;
	f->body[0] = '\0';
	while (read_line(fd, line, sizeof(line)) == 0 && strcmp(line, ".") != 0) {
		int n = snprintf(f->body + o, sizeof(f->body) - o, "%s\n", line);
		if (n > 0 && (size_t)n < sizeof(f->body) - o)
			o += (size_t)n;
	}
	say(fd, "250 2.0.0 Ok: queued as FAKE1\r\n");
}

static void fake_command(struct fake *f, int fd, const char *line)
{
	if (strncmp(line, "EHLO", 4) == 0) {
		if (f->ehlo_fails) {
			say(fd, "502 5.5.2 no EHLO here\r\n");
			return;
		}
		char buf[256];
		snprintf(buf, sizeof(buf), "250-fake.test\r\n250-PIPELINING\r\n250-SIZE %lld\r\n%s%s"
		         "250 8BITMIME\r\n", f->size, f->utf8 ? "250-SMTPUTF8\r\n" : "",
		         f->tls != NULL && f->ssl == NULL ? "250-STARTTLS\r\n" : "");
		say(fd, buf);
	} else if (strcmp(line, "STARTTLS") == 0 && f->tls != NULL) {
		fake_starttls(f, fd);
	} else if (strncmp(line, "HELO", 4) == 0) {
		say(fd, "250 fake.test\r\n");
	} else if (strncmp(line, "MAIL FROM:", 10) == 0) {
		snprintf(f->mail[f->nmail++ % 10], sizeof(f->mail[0]), "%.255s", line);
		say(fd, "250 2.1.0 Ok\r\n");
	} else if (strncmp(line, "RCPT TO:<bad", 12) == 0) {
		say(fd, "550 5.1.1 <bad>: Recipient address rejected: User unknown\r\n");
	} else if (strncmp(line, "RCPT TO:<tmp", 12) == 0) {
		say(fd, "450-4.2.0 mailbox busy\r\n450 4.2.0 try again later\r\n");
	} else if (strncmp(line, "RCPT TO:", 8) == 0) {
		say(fd, "250 2.1.5 Ok\r\n");
	} else if (strcmp(line, "DATA") == 0) {
		fake_data(f, fd);
	} else if (strcmp(line, "RSET") == 0) {
		say(fd, "250 2.0.0 Ok\r\n");
	} else {
		say(fd, "500 5.5.2 what?\r\n");
	}
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	for (;;) {
		int fd = accept(f->lfd, NULL, NULL);
		if (fd < 0)
			return NULL;
		f->connections++;
		say(fd, "220 fake.test ESMTP\r\n");
		char line[2048];
		while (read_line(fd, line, sizeof(line)) == 0) {
			if (strcmp(line, "QUIT") == 0) {
				say(fd, "221 2.0.0 Bye\r\n");
				break;
			}
			fake_command(f, fd, line);
		}
		if (f->ssl != NULL) {
			SSL_free(f->ssl);
			f->ssl = NULL;
		}
		close(fd);
	}
}

static struct fake *fake_start(bool utf8, long long size)
{
	struct fake *f = sg_calloc(1, sizeof(*f));
	cur = f;
	f->utf8 = utf8;
	f->size = size;
	struct sg_endpoint ep = {.host = "127.0.0.1", .port = "0"};
	const char *err;
	f->lfd = sg_listen_tcp(&ep, 8, &err);
	assert_true(f->lfd >= 0);
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	getsockname(f->lfd, (struct sockaddr *)&sin, &sl);
	snprintf(f->port, sizeof(f->port), "%u", ntohs(sin.sin_port));
	pthread_create(&f->thread, NULL, fake_main, f);
	return f;
}

static void fake_stop(struct fake **fp)
{
	shutdown((*fp)->lfd, SHUT_RDWR);
	close((*fp)->lfd);
	pthread_join((*fp)->thread, NULL);
	SSL_CTX_free((*fp)->tls);
	sg_free(fp);
}

static struct smtpc_conn *connect_fake(struct fake *f, struct smtpc_status *st)
{
	struct smtpc_params p = {.host = "127.0.0.1", .port = f->port, .helo_name = "gw.test",
	                         .connect_timeout_ms = 2000, .timeout_ms = 2000, .log_id = "TEST"};
	bool tls_failed;
	return smtpc_connect(&p, st, &tls_failed);
}

static void conversation(void **state)
{
	(void)state;
	struct fake *f = fake_start(false, 100000);
	struct smtpc_status one;
	struct smtpc_conn *c = connect_fake(f, &one);
	assert_non_null(c);
	assert_null(smtpc_tls_version(c));
	assert_non_null(strstr(smtpc_relay(c), "[127.0.0.1]:"));
	const char *rcpts[] = {"ok@x.test", "bad@x.test", "tmp@x.test", "ok2@x.test"};
	static const char body[] = "Subject: t\r\n\r\n.dot line\r\ncaf\xc3\xa9\r\n";
	struct smtpc_msg m = {.sender = "s@gw.test", .rcpts = rcpts, .nrcpt = 4, .data = body,
	                      .len = sizeof(body) - 1, .body_8bit = true};
	struct smtpc_status st[4];
	assert_int_equal(smtpc_send(c, &m, st, NULL), 0);
	assert_int_equal(st[0].cls, SMTPC_OK);
	assert_string_equal(st[0].dsn, "2.0.0");
	assert_non_null(strstr(st[0].reply, "queued as FAKE1"));
	assert_int_equal(st[1].cls, SMTPC_PERM);
	assert_string_equal(st[1].dsn, "5.1.1");
	assert_non_null(strstr(st[1].reply, "(in reply to RCPT TO)"));
	assert_string_equal(st[1].remote_reply, "550 5.1.1 <bad>: Recipient address rejected: User unknown");
	assert_true(st[1].from_remote);
	assert_int_equal(st[2].cls, SMTPC_TEMP);
	assert_string_equal(st[2].dsn, "4.2.0");
	assert_int_equal(st[3].cls, SMTPC_OK);
	assert_string_equal(f->mail[0], "MAIL FROM:<s@gw.test> SIZE=32 BODY=8BITMIME");
	assert_string_equal(f->body, "Subject: t\n\n..dot line\ncaf\xc3\xa9\n");
	/* Reuse: RSET, then a second message on the same connection; null sender. */
	assert_int_equal(smtpc_reset(c, NULL), 0);
	m.sender = "";
	m.nrcpt = 1;
	m.body_8bit = false;
	assert_int_equal(smtpc_send(c, &m, st, NULL), 0);
	assert_int_equal(st[0].cls, SMTPC_OK);
	assert_string_equal(f->mail[1], "MAIL FROM:<> SIZE=32");
	assert_int_equal(f->connections, 1);
	smtpc_close(&c);
	assert_null(c);
	fake_stop(&f);
}

static void smtputf8_and_size(void **state)
{
	(void)state;
	struct fake *f = fake_start(false, 20);
	struct smtpc_status one;
	struct smtpc_conn *c = connect_fake(f, &one);
	assert_non_null(c);
	const char *rcpts[] = {"j\xc3\xbcrgen@x.test", "ok@x.test"};
	struct smtpc_msg m = {.sender = "s@gw.test", .rcpts = rcpts, .nrcpt = 2, .data = "x\r\n",
	                      .len = 3, .smtputf8 = true};
	struct smtpc_status st[2];
	assert_int_equal(smtpc_send(c, &m, st, NULL), 0);
	assert_int_equal(st[0].cls, SMTPC_PERM);
	assert_string_equal(st[0].dsn, "5.6.7");
	assert_int_equal(st[1].cls, SMTPC_OK);
	/* The peer's SIZE limit: a permanent failure without sending. */
	m.data = "0123456789012345678901234567890\r\n";
	m.len = strlen(m.data);
	m.rcpts = rcpts + 1;
	m.nrcpt = 1;
	assert_int_equal(smtpc_reset(c, NULL), 0);
	assert_int_equal(smtpc_send(c, &m, st, NULL), 0);
	assert_int_equal(st[0].cls, SMTPC_PERM);
	assert_string_equal(st[0].dsn, "5.3.4");
	/* A UTF-8 sender to a peer without SMTPUTF8 fails every recipient. */
	m.sender = "s\xc3\xa9@gw.test";
	m.data = "x\r\n";
	m.len = 3;
	assert_int_equal(smtpc_send(c, &m, st, NULL), 0);
	assert_int_equal(st[0].cls, SMTPC_PERM);
	assert_string_equal(st[0].dsn, "5.6.7");
	smtpc_close(&c);
	fake_stop(&f);
	/* With SMTPUTF8 offered, the parameter is sent. */
	f = fake_start(true, 100000);
	c = connect_fake(f, &one);
	m.sender = "s@gw.test";
	m.rcpts = rcpts;
	assert_int_equal(smtpc_send(c, &m, st, NULL), 0);
	assert_int_equal(st[0].cls, SMTPC_OK);
	assert_string_equal(f->mail[0], "MAIL FROM:<s@gw.test> SIZE=3 SMTPUTF8");
	smtpc_close(&c);
	fake_stop(&f);
}

static void helo_fallback(void **state)
{
	(void)state;
	struct fake *f = fake_start(true, 0);
	f->ehlo_fails = true;
	struct smtpc_status one;
	struct smtpc_conn *c = connect_fake(f, &one);
	assert_non_null(c);
	const char *rcpts[] = {"ok@x.test"};
	struct smtpc_msg m = {.sender = "s@gw.test", .rcpts = rcpts, .nrcpt = 1, .data = "x",
	                      .len = 1, .body_8bit = true};
	struct smtpc_status st[1];
	assert_int_equal(smtpc_send(c, &m, st, NULL), 0);
	assert_int_equal(st[0].cls, SMTPC_OK);
	assert_string_equal(f->mail[0], "MAIL FROM:<s@gw.test>"); /* no ESMTP parameters */
	smtpc_close(&c);
	fake_stop(&f);
}

/* A throw-away self-signed P-256 certificate for the fake server. */
static SSL_CTX *server_tls(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"fake.test", -1,
	                           -1, 0);
	X509_set_issuer_name(x, name);
	X509_sign(x, key, EVP_sha256());
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	assert_int_equal(SSL_CTX_use_certificate(ctx, x), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(ctx, key), 1);
	X509_free(x);
	EVP_PKEY_free(key);
	return ctx;
}

static void starttls(void **state)
{
	(void)state;
	struct fake *f = fake_start(false, 100000);
	f->tls = server_tls();
	struct smtpc_status one;
	struct smtpc_conn *c = connect_fake(f, &one);
	assert_non_null(c);
	assert_non_null(smtpc_tls_version(c));
	assert_true(f->tls_done);
	const char *rcpts[] = {"ok@x.test"};
	struct smtpc_msg m = {.sender = "s@gw.test", .rcpts = rcpts, .nrcpt = 1,
	                      .data = "Subject: tls\r\n\r\nsecret\r\n", .len = 24};
	struct smtpc_status st[1];
	assert_int_equal(smtpc_send(c, &m, st, NULL), 0);
	assert_int_equal(st[0].cls, SMTPC_OK);
	assert_string_equal(f->body, "Subject: tls\n\nsecret\n");
	smtpc_close(&c);
	fake_stop(&f);
}

/* A peer that never answers: the timeout, and a cancel that is honoured promptly. */
static void *set_later(void *arg)
{
	usleep(300000);
	*(atomic_int *)arg = 1;
	return NULL;
}

static void silent_peer(void **state)
{
	(void)state;
	struct sg_endpoint ep = {.host = "127.0.0.1", .port = "0"};
	const char *err;
	int lfd = sg_listen_tcp(&ep, 8, &err);
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	getsockname(lfd, (struct sockaddr *)&sin, &sl);
	char port[8];
	snprintf(port, sizeof(port), "%u", ntohs(sin.sin_port));
	struct smtpc_params p = {.host = "127.0.0.1", .port = port, .helo_name = "gw.test",
	                         .connect_timeout_ms = 2000, .timeout_ms = 400};
	struct smtpc_status st;
	bool tls_failed;
	assert_null(smtpc_connect(&p, &st, &tls_failed));
	assert_int_equal(st.cls, SMTPC_TEMP);
	assert_string_equal(st.dsn, "4.4.2");
	assert_non_null(strstr(st.reply, "timed out"));
	atomic_int cancel = 0;
	p.timeout_ms = 60000;
	p.cancel = &cancel;
	pthread_t t;
	pthread_create(&t, NULL, set_later, (void *)&cancel);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_null(smtpc_connect(&p, &st, &tls_failed));
	clock_gettime(CLOCK_MONOTONIC, &b);
	pthread_join(t, NULL);
	assert_int_equal(st.cls, SMTPC_ABANDONED);
	assert_true(b.tv_sec - a.tv_sec < 3);
	close(lfd);
}

static void connect_refused(void **state)
{
	(void)state;
	struct fake *f = fake_start(false, 0);
	char port[8];
	snprintf(port, sizeof(port), "%s", f->port);
	fake_stop(&f);
	struct smtpc_params p = {.host = "127.0.0.1", .port = port, .helo_name = "gw.test",
	                         .connect_timeout_ms = 2000, .timeout_ms = 2000};
	struct smtpc_status st;
	bool tls_failed;
	assert_null(smtpc_connect(&p, &st, &tls_failed));
	assert_int_equal(st.cls, SMTPC_TEMP);
	assert_string_equal(st.dsn, "4.4.1");
	assert_false(tls_failed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reply_table),       cmocka_unit_test(reply_nul_and_pipelined),
		cmocka_unit_test(reply_too_long),    cmocka_unit_test(reply_summary),
		cmocka_unit_test(data_encoding),     cmocka_unit_test(conversation),
		cmocka_unit_test(smtputf8_and_size), cmocka_unit_test(helo_fallback),
		cmocka_unit_test(starttls),          cmocka_unit_test(silent_peer),
		cmocka_unit_test(connect_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

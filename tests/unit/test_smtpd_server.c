/* test_smtpd_server.c: the socket loop around the session machine, over real loopback
 * connections: a message end to end, the session limit, the command timeout, the drain on
 * stop, and STARTTLS with a throw-away certificate (injected commands must be dropped). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sg_log.h"
#include "core/sg_net.h"
#include "core/sg_str.h"
#include "smtp/smtp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static atomic_int committed;
static atomic_int stop_flag;

static int sink_begin(void *ctx, char id_r[SG_QUEUE_ID_MAX], const char **error_r)
{
	(void)ctx;
	(void)error_r;
	sg_strlcpy(id_r, "TESTID", SG_QUEUE_ID_MAX);
	return 0;
}

static int sink_write(void *ctx, const void *data, size_t len, const char **error_r)
{
	(void)ctx, (void)data, (void)len, (void)error_r;
	return 0;
}

static int sink_commit(void *ctx, const struct smtpd_envelope *env, const char **error_r)
{
	(void)ctx, (void)error_r;
	assert_int_equal(env->nrcpt, 1);
	atomic_fetch_add(&committed, 1);
	return 0;
}

static void sink_abort(void *ctx) { (void)ctx; }

struct server {
	struct sg_strlist domains;
	struct smtpd_server_opts opts;
	int lfd;
	int port;
	pthread_t tid;
	int rc;
};

static void *server_thread(void *arg)
{
	struct server *sv = arg;
	const char *err;
	sv->rc = smtpd_server_run(&sv->lfd, 1, &sv->opts, &err);
	return NULL;
}

static void server_start(struct server *sv, unsigned int max_sessions, int timeout_ms,
                         SSL_CTX *tls)
{
	memset(sv, 0, sizeof(*sv));
	stop_flag = 0;
	atomic_store(&committed, 0);
	sg_strlist_split(&sv->domains, "example.com");
	sv->opts = (struct smtpd_server_opts){
		.session = {.hostname = "mx.test", .max_message_size = 10000, .max_recipients = 10,
		            .max_errors = 10, .internal_domains = &sv->domains},
		.tls = tls,
		.max_sessions = max_sessions,
		.command_timeout_ms = timeout_ms,
		.data_timeout_ms = timeout_ms,
		.drain_timeout_ms = 1000,
		.stop = &stop_flag,
		.hooks = {.begin = sink_begin, .write = sink_write, .commit = sink_commit,
		          .abort = sink_abort},
	};
	sv->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	assert_int_equal(bind(sv->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(sv->lfd, 16), 0);
	assert_int_equal(getsockname(sv->lfd, (struct sockaddr *)&sin, &len), 0);
	sv->port = ntohs(sin.sin_port);
	assert_int_equal(pthread_create(&sv->tid, NULL, server_thread, sv), 0);
}

static void server_stop(struct server *sv)
{
	stop_flag = 1;
	pthread_join(sv->tid, NULL);
	assert_int_equal(sv->rc, 0);
	sg_strlist_free(&sv->domains);
}

/* ---- a small client ---- */
struct client {
	int fd;
	SSL *ssl;
	char buf[8192];
	size_t len;
};

static void client_connect(struct client *c, int port)
{
	memset(c, 0, sizeof(*c));
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
}

static void client_send(struct client *c, const char *s)
{
	if (c->ssl != NULL)
		assert_int_equal(SSL_write(c->ssl, s, (int)strlen(s)), (int)strlen(s));
	else
		assert_int_equal(send(c->fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* Reads until needle has arrived (true) or the peer closed or 5 s passed (false). */
static bool client_wait(struct client *c, const char *needle)
{
	c->len = 0;
	c->buf[0] = '\0';
	while (strstr(c->buf, needle) == NULL) {
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		if ((c->ssl == NULL || SSL_pending(c->ssl) == 0) && poll(&p, 1, 5000) <= 0)
			return false;
		int n = c->ssl != NULL
		                ? SSL_read(c->ssl, c->buf + c->len, (int)(sizeof(c->buf) - c->len - 1))
		                : (int)recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len - 1, 0);
		if (n <= 0)
			return false;
		c->len += (size_t)n;
		c->buf[c->len] = '\0';
	}
	return true;
}

static void client_close(struct client *c)
{
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	close(c->fd);
}

/* ---- tests ---- */
static void message_over_socket(void **state)
{
	(void)state;
	struct server sv;
	server_start(&sv, 4, 5000, NULL);
	struct client c;
	client_connect(&c, sv.port);
	assert_true(client_wait(&c, "220 mx.test ESMTP"));
	client_send(&c, "EHLO t\r\nMAIL FROM:<a@b.net>\r\nRCPT TO:<u@other.net>\r\n"
	                "RCPT TO:<u@example.com>\r\nDATA\r\n");
	assert_true(client_wait(&c, "354 "));
	/* 127.0.0.1 is not in internal_nets here: no relay */
	assert_non_null(strstr(c.buf, "554 5.7.1 <u@other.net>: Relay access denied\r\n"));
	assert_null(strstr(c.buf, "STARTTLS"));
	client_send(&c, "Subject: x\r\n\r\nhello\r\n.\r\nQUIT\r\n");
	assert_true(client_wait(&c, "221 2.0.0 Bye\r\n"));
	assert_non_null(strstr(c.buf, "250 2.0.0 Ok: queued as TESTID\r\n"));
	assert_int_equal(atomic_load(&committed), 1);
	client_close(&c);
	server_stop(&sv);
}

static void busy_and_timeout(void **state)
{
	(void)state;
	struct server sv;
	server_start(&sv, 1, 400, NULL);
	struct client a, b;
	client_connect(&a, sv.port);
	assert_true(client_wait(&a, "220 "));
	client_connect(&b, sv.port);
	assert_true(client_wait(&b, "421 4.3.2 mx.test Error: too many connections\r\n"));
	client_close(&b);
	assert_true(client_wait(&a, "421 4.4.2 mx.test Error: timeout exceeded\r\n"));
	client_close(&a);
	server_stop(&sv);
}

static void stop_tells_idle_sessions(void **state)
{
	(void)state;
	struct server sv;
	server_start(&sv, 4, 30000, NULL);
	struct client a;
	client_connect(&a, sv.port);
	assert_true(client_wait(&a, "220 "));
	stop_flag = 1;
	assert_true(client_wait(&a, "421 4.3.2 mx.test Service shutting down"));
	client_close(&a);
	server_stop(&sv);
}

/* A throw-away self-signed certificate and key in PEM files. */
static void make_cert(const char *cert_path, const char *key_path)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	assert_non_null(key);
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"mx.test", -1,
	                           -1, 0);
	X509_set_issuer_name(x, name);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	FILE *f = fopen(cert_path, "w");
	assert_non_null(f);
	PEM_write_X509(f, x);
	fclose(f);
	f = fopen(key_path, "w");
	assert_non_null(f);
	PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(key);
}

static void starttls_over_socket(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_smtpd_server.XXXXXX", cert[128], key[128];
	assert_non_null(mkdtemp(dir));
	snprintf(cert, sizeof(cert), "%s/c.pem", dir);
	snprintf(key, sizeof(key), "%s/k.pem", dir);
	const char *err;
	assert_null(smtp_tls_server_ctx(cert, key, &err)); /* no files yet */
	make_cert(cert, key);
	SSL_CTX *sctx = smtp_tls_server_ctx(cert, key, &err);
	assert_non_null(sctx);
	struct server sv;
	server_start(&sv, 4, 5000, sctx);
	struct client c;
	client_connect(&c, sv.port);
	assert_true(client_wait(&c, "220 "));
	client_send(&c, "EHLO t\r\n");
	assert_true(client_wait(&c, "250 STARTTLS\r\n"));
	/* the NOOP rides along in the same segment: it must be dropped, not answered in TLS */
	client_send(&c, "STARTTLS\r\nNOOP\r\n");
	assert_true(client_wait(&c, "220 2.0.0 Ready to start TLS\r\n"));
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	c.ssl = SSL_new(cctx);
	SSL_set_fd(c.ssl, c.fd);
	assert_int_equal(SSL_connect(c.ssl), 1);
	client_send(&c, "EHLO t\r\n");
	assert_true(client_wait(&c, "250 ENHANCEDSTATUSCODES\r\n"));
	assert_true(strncmp(c.buf, "250-mx.test\r\n", 13) == 0); /* no 250 for the NOOP first */
	assert_null(strstr(c.buf, "STARTTLS"));
	client_send(&c, "QUIT\r\n");
	assert_true(client_wait(&c, "221 "));
	client_close(&c);
	SSL_CTX_free(cctx);
	server_stop(&sv);
	SSL_CTX_free(sctx);
	unlink(cert);
	unlink(key);
	rmdir(dir);
}

int main(void)
{
	sg_log_set_level(SG_LOG_ERROR);
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(message_over_socket),
		cmocka_unit_test(busy_and_timeout),
		cmocka_unit_test(stop_tells_idle_sessions),
		cmocka_unit_test(starttls_over_socket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_fetch.c: the HTTPS client. The response parser and URL parser by table (whole,
 * byte-by-byte, hostile), then real exchanges with a real HTTPS server (Python's ssl +
 * http.server, tests/integration/https_rig.py) playing good and hostile servers: chunked,
 * close-delimited, redirects (refused and followed), slow (deadline), huge (limit), garbage
 * headers, over-long lines, request smuggling, a certificate of an unknown CA and a name
 * the certificate does not cover (through the resolver hook). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "core/sg_time.h"
#include "fetch/fetch.h"

#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the parser ---- */
struct parse_row {
	const char *in;
	int rc;             /* after the bytes, then EOF if 0 */
	int status;
	const char *body;
};

static int parse_all(const char *in, size_t step, size_t max_body, struct fetch_http *h,
                     const char **err)
{
	fetch_http_init(h, max_body);
	size_t len = strlen(in);
	int rc = 0;
	for (size_t off = 0; off < len && rc == 0; off += step)
		rc = fetch_http_feed(h, in + off, len - off < step ? len - off : step, err);
	if (rc == 0)
		rc = fetch_http_eof(h, err);
	return rc;
}

static void parser_table(void **state)
{
	(void)state;
	static const struct parse_row table[] = {
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 1, 200, "hello"},
		{"HTTP/1.1 200 OK\nContent-Length: 5\n\nhello-and-more", 1, 200, "hello"},
		{"HTTP/1.0 200\r\n\r\nto the end", 1, 200, "to the end"},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
		 1, 200, "abcde"},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: 1\r\n\r\n",
		 1, 200, "abc"},
		{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No\r\n\r\n", 1, 204, ""},
		{"HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n", 1, 302, ""},
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 1, 200, "hello"},
		/* hostile or broken */
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", -1, 0, NULL},
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", -1, 0, NULL},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", -1, 0, NULL},
		{"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", -1, 0, NULL},
		{"HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", -1, 0, NULL},
		{"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", -1, 0, NULL},
		{"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n", -1, 0, NULL},
		{"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", -1, 0, NULL},
		{"HTTP/1.1 200 OK\r\n: x\r\n\r\n", -1, 0, NULL},
		{"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", -1, 0, NULL},
		{"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", -1, 0, NULL},
		{"HTTP/2 200\r\n\r\n", -1, 0, NULL},
		{"HTTP/1.1 999 x\r\n\r\n", -1, 0, NULL},
		{"HTTP/1.1 20 x\r\n\r\n", -1, 0, NULL},
		{"SSH-2.0-OpenSSH\r\n", -1, 0, NULL},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", -1, 0, NULL},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", -1, 0, NULL},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab", -1, 0, NULL},
		{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", -1, 0, NULL},
		{"HTTP/1.1 200 OK\r\nContent-Le", -1, 0, NULL},
		{"", -1, 0, NULL},
		/* over the 16-byte limit of this table */
		{"HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n", -1, 0, NULL},
		{"HTTP/1.1 200 OK\r\n\r\n0123456789abcdefXYZ", -1, 0, NULL},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n11\r\n", -1, 0, NULL},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n", -1, 0, NULL},
	};
	for (size_t step = 1; step <= 4096; step *= 4096) {
		for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
			struct fetch_http h;
			const char *err = NULL;
			int rc = parse_all(table[i].in, step, 16, &h, &err);
			if (rc != table[i].rc)
				fail_msg("row %zu step %zu: rc %d, want %d (%s)", i, step, rc, table[i].rc,
				         err ? err : "");
			if (rc == 1) {
				assert_int_equal(h.status, table[i].status);
				size_t len;
				char *body = fetch_http_take_body(&h, &len);
				assert_string_equal(body, table[i].body);
				assert_int_equal(len, strlen(table[i].body));
				sg_free(&body);
			} else {
				assert_non_null(err);
			}
			fetch_http_free(&h);
		}
	}
}

static void parser_bounded_lines(void **state)
{
	(void)state;
	struct fetch_http h;
	const char *err = NULL;
	char *big = sg_malloc(FETCH_LINE_MAX + 64);
	memset(big, 'a', FETCH_LINE_MAX + 63);
	big[FETCH_LINE_MAX + 63] = '\0';
	memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
	assert_int_equal(parse_all(big, 7, 100, &h, &err), -1);
	assert_string_equal(err, "status or header line too long");
	fetch_http_free(&h);
	sg_free(&big);
	/* more header lines than FETCH_HEADERS_MAX */
	fetch_http_init(&h, 100);
	assert_int_equal(fetch_http_feed(&h, "HTTP/1.1 200 OK\r\n", 17, &err), 0);
	int rc = 0;
	for (int i = 0; i <= FETCH_HEADERS_MAX && rc == 0; i++)
		rc = fetch_http_feed(&h, "X: y\r\n", 6, &err);
	assert_int_equal(rc, -1);
	assert_string_equal(err, "too many header lines");
	fetch_http_free(&h);
}

/* ---- URLs ---- */
static void url_table(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int rc;
		bool tls;
		const char *host, *port, *path;
	} table[] = {
		{"https://mta-sts.example.com/.well-known/mta-sts.txt", 0, true, "mta-sts.example.com",
		 "443", "/.well-known/mta-sts.txt"},
		{"http://a.test:8080", 0, false, "a.test", "8080", "/"},
		{"https://a.test?q=1#frag", 0, true, "a.test", "443", "/?q=1"},
		{"https://[::1]:4443/x", 0, true, "[::1]", "4443", "/x"},
		{"https://127.0.0.1:1/", 0, true, "127.0.0.1", "1", "/"},
		{"ftp://a.test/", -1, false, NULL, NULL, NULL},
		{"https://user@a.test/", -1, false, NULL, NULL, NULL},
		{"https://a.test:0/", -1, false, NULL, NULL, NULL},
		{"https://a.test:65536/", -1, false, NULL, NULL, NULL},
		{"https://a.test:+1/", -1, false, NULL, NULL, NULL},
		{"https://a.test:/", -1, false, NULL, NULL, NULL},
		{"https:///x", -1, false, NULL, NULL, NULL},
		{"https://a.test/x y", -1, false, NULL, NULL, NULL},
		{"https://a.test/x\r\nHost: evil", -1, false, NULL, NULL, NULL},
		{"https://[::1/", -1, false, NULL, NULL, NULL},
		{"https://a_b.test/", -1, false, NULL, NULL, NULL},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		struct fetch_url u;
		const char *err = NULL;
		int rc = fetch_url_parse(table[i].in, &u, &err);
		if (rc != table[i].rc)
			fail_msg("row %zu (%s): rc %d (%s)", i, table[i].in, rc, err ? err : "");
		if (rc < 0)
			continue;
		assert_int_equal(u.tls, table[i].tls);
		assert_string_equal(u.host, table[i].host);
		assert_string_equal(u.port, table[i].port);
		assert_string_equal(u.path, table[i].path);
	}
}

/* ---- a real HTTPS server ---- */
static pid_t server_pid = -1;
static int server_stdin = -1;
static int good_port, bad_port;
static char server_dir[] = "/tmp/test_fetch.XXXXXX";
static char ca_file[64];

static int server_start(void **state)
{
	(void)state;
	const char *src = getenv("SEALGATE_SOURCE_DIR");
	char script[4096];
	snprintf(script, sizeof(script), "%s/tests/integration/https_rig.py", src ? src : "..");
	if (mkdtemp(server_dir) == NULL)
		return -1;
	snprintf(ca_file, sizeof(ca_file), "%s/good.pem", server_dir);
	int in[2], out[2];
	if (pipe(in) < 0 || pipe(out) < 0)
		return -1;
	server_pid = fork();
	if (server_pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execl("/usr/bin/python3", "python3", script, server_dir, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	server_stdin = in[1];
	FILE *f = fdopen(out[0], "r");
	if (f == NULL || fscanf(f, "%d %d", &good_port, &bad_port) != 2) { // NOLINT(cert-err34-c)
		fprintf(stderr, "https_rig.py did not start (python3-cryptography missing?)\n");
		return -1;
	}
	fclose(f);
	return 0;
}

static int server_stop(void **state)
{
	(void)state;
	if (server_stdin >= 0)
		close(server_stdin);
	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, NULL, 0);
	}
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", server_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int get(const char *host, int port, const char *path, struct fetch_request *rq,
               struct fetch_response *resp, const char **err)
{
	char url[512];
	snprintf(url, sizeof(url), "https://%s:%d%s", host, port, path);
	rq->url = url;
	if (rq->timeout_ms == 0)
		rq->timeout_ms = 10000;
	if (rq->max_body == 0)
		rq->max_body = 64 * 1024;
	if (rq->ca_file == NULL)
		rq->ca_file = ca_file;
	return fetch_get(rq, resp, err);
}

static void expect_ok(const char *path, int status, const char *body)
{
	struct fetch_request rq = {0};
	struct fetch_response resp;
	const char *err = NULL;
	if (get("127.0.0.1", good_port, path, &rq, &resp, &err) != 0)
		fail_msg("%s: %s", path, err);
	assert_int_equal(resp.status, status);
	assert_string_equal(resp.body, body);
	fetch_response_free(&resp);
}

static void expect_fail(const char *host, int port, const char *path, struct fetch_request *rq,
                        const char *why)
{
	struct fetch_response resp;
	const char *err = NULL;
	if (get(host, port, path, rq, &resp, &err) == 0)
		fail_msg("%s: fetched (%d) although it should fail with '%s'", path, resp.status, why);
	if (strstr(err, why) == NULL)
		fail_msg("%s: error '%s', want '%s'", path, err, why);
	assert_null(resp.body);
}

static void fetch_good(void **state)
{
	(void)state;
	expect_ok("/ok", 200, "hello");
	expect_ok("/chunked", 200, "hello, world");
	expect_ok("/close", 200, "until close");
	expect_ok("/notfound", 404, "no\n");
	expect_ok("/redirect", 302, ""); /* not followed by default (MTA-STS) */
	struct fetch_request rq = {.max_redirects = 1};
	struct fetch_response resp;
	const char *err = NULL;
	assert_int_equal(get("localhost", good_port, "/redirect", &rq, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.body, "hello");
	fetch_response_free(&resp);
}

static void fetch_hostile(void **state)
{
	(void)state;
	struct fetch_request rq = {0};
	expect_fail("127.0.0.1", good_port, "/huge", &rq, "larger than the limit");
	expect_fail("127.0.0.1", good_port, "/huge-chunked", &rq, "larger than the limit");
	expect_fail("127.0.0.1", good_port, "/garbage", &rq, "header");
	expect_fail("127.0.0.1", good_port, "/not-http", &rq, "not an HTTP/1.x status line");
	expect_fail("127.0.0.1", good_port, "/longline", &rq, "line too long");
	expect_fail("127.0.0.1", good_port, "/smuggle", &rq, "both Content-Length and chunked");
	expect_fail("127.0.0.1", good_port, "/cut", &rq, "before the end of the body");
	expect_fail("127.0.0.1", good_port, "/close-unclean", &rq, "TLS connection cut");
	rq = (struct fetch_request){.max_redirects = 3};
	expect_fail("127.0.0.1", good_port, "/redirect-http", &rq, "plain http:// refused");
}

static void fetch_deadline(void **state)
{
	(void)state;
	struct fetch_request rq = {.timeout_ms = 1500};
	int64_t t0 = sg_mono_ms();
	expect_fail("127.0.0.1", good_port, "/slow", &rq, "deadline passed");
	int64_t took = sg_mono_ms() - t0;
	if (took < 1400 || took > 4000)
		fail_msg("the deadline of 1.5 s ended the exchange after %lld ms", (long long)took);
}

static int resolve_to_loopback(void *ctx, const char *host, const char *port,
                               struct fetch_addr *addrs, size_t max, const char **error_r)
{
	(void)host, (void)max, (void)error_r;
	int *calls = ctx;
	(*calls)++;
	struct sockaddr_in *sin = (struct sockaddr_in *)&addrs[0].ss;
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	const char *err = NULL;
	sin->sin_port = htons((uint16_t)sg_strtonum(port, 1, 65535, &err));
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addrs[0].len = sizeof(*sin);
	return 1;
}

static void fetch_certificates(void **state)
{
	(void)state;
	struct fetch_request rq = {0};
	expect_fail("127.0.0.1", bad_port, "/ok", &rq, "certificate of 127.0.0.1 not valid");
	/* the system store does not know the test CA either */
	rq = (struct fetch_request){.ca_file = ""};
	expect_fail("localhost", good_port, "/ok", &rq, "not valid");
	/* a name the certificate does not cover, sent to the right server by the hook */
	int calls = 0;
	rq = (struct fetch_request){.resolve = resolve_to_loopback, .resolve_ctx = &calls};
	expect_fail("mta-sts.wrong.test", good_port, "/ok", &rq, "certificate of mta-sts.wrong.test");
	assert_int_equal(calls, 1);
	/* the hook with a covered name succeeds */
	rq = (struct fetch_request){.resolve = resolve_to_loopback, .resolve_ctx = &calls};
	struct fetch_response resp;
	const char *err = NULL;
	assert_int_equal(get("localhost", good_port, "/ok", &rq, &resp, &err), 0);
	assert_int_equal(calls, 2);
	fetch_response_free(&resp);
	/* plain http:// is refused unless allowed */
	rq = (struct fetch_request){.url = "http://127.0.0.1:1/", .timeout_ms = 1000, .max_body = 1};
	assert_int_equal(fetch_get(&rq, &resp, &err), -1);
	assert_string_equal(err, "plain http:// refused");
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest offline[] = {
		cmocka_unit_test(parser_table),
		cmocka_unit_test(parser_bounded_lines),
		cmocka_unit_test(url_table),
	};
	const struct CMUnitTest online[] = {
		cmocka_unit_test(fetch_good),
		cmocka_unit_test(fetch_hostile),
		cmocka_unit_test(fetch_deadline),
		cmocka_unit_test(fetch_certificates),
	};
	int rc = cmocka_run_group_tests(offline, NULL, NULL);
	return rc + cmocka_run_group_tests(online, server_start, server_stop);
}

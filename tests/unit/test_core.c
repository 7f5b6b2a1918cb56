/* test_core.c: the core helpers that every parser leans on: bounded buffers, number and
 * duration parsing, printable logging copies, endpoints and CIDR matching, and the log lines
 * the master writes for its children. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sg_base64.h"
#include "core/sg_buf.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_net.h"
#include "core/sg_str.h"
#include "core/sg_time.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

static void buf_ceiling(void **state)
{
	(void)state;
	struct sg_buf b;
	sg_buf_init(&b, 8);
	assert_int_equal(sg_buf_append_str(&b, "12345"), 0);
	assert_int_equal(sg_buf_append_str(&b, "6789"), -1);
	assert_string_equal(b.data, "12345");
	assert_int_equal(sg_buf_printf(&b, "%d", 678), 0);
	assert_int_equal(sg_buf_printf(&b, "%d", 9), -1);
	sg_buf_consume(&b, 3);
	assert_string_equal(b.data, "45678");
	size_t len;
	char *d = sg_buf_steal(&b, &len);
	assert_int_equal(len, 5);
	assert_null(b.data);
	sg_free(&d);
	assert_null(d);
	sg_buf_free(&b);
}

static void strtonum_table(void **state)
{
	(void)state;
	const char *err;
	assert_int_equal(sg_strtonum("42", 0, 100, &err), 42);
	assert_null(err);
	sg_strtonum("101", 0, 100, &err);
	assert_string_equal(err, "too large");
	sg_strtonum("-1", 0, 100, &err);
	assert_string_equal(err, "too small");
	sg_strtonum("4x", 0, 100, &err);
	assert_string_equal(err, "invalid");
	sg_strtonum(" 4", 0, 100, &err);
	assert_string_equal(err, "invalid");
	sg_strtonum("", 0, 100, &err);
	assert_string_equal(err, "invalid");
	sg_strtonum("99999999999999999999999", 0, 100, &err);
	assert_string_equal(err, "too large");
}

static void durations(void **state)
{
	(void)state;
	assert_int_equal(sg_duration_parse("90"), 90);
	assert_int_equal(sg_duration_parse("90s"), 90);
	assert_int_equal(sg_duration_parse("5m"), 300);
	assert_int_equal(sg_duration_parse("4h"), 14400);
	assert_int_equal(sg_duration_parse("5d"), 432000);
	assert_int_equal(sg_duration_parse("5w"), -1);
	assert_int_equal(sg_duration_parse(""), -1);
	assert_int_equal(sg_duration_parse("m"), -1);
}

static void printable(void **state)
{
	(void)state;
	char out[32];
	sg_printable(out, sizeof(out), "ok\r\nbad\x1b[31m\xc3\xa9", 100);
	assert_string_equal(out, "ok??bad?[31m??");
	sg_printable(out, sizeof(out), "abcdefghij", 4);
	assert_string_equal(out, "abcd...");
	sg_printable(out, 6, "abcdefghij", 100);
	assert_string_equal(out, "ab...");
}

static void strlcpy_truncates(void **state)
{
	(void)state;
	char out[4];
	assert_int_equal(sg_strlcpy(out, "abcdef", sizeof(out)), 6);
	assert_string_equal(out, "abc");
	assert_int_equal(sg_snprintf(out, sizeof(out), "%s", "abcd"), -1);
	assert_int_equal(sg_snprintf(out, sizeof(out), "%s", "abc"), 3);
}

static void endpoints(void **state)
{
	(void)state;
	struct sg_endpoint ep;
	const char *err;
	assert_int_equal(sg_endpoint_parse("127.0.0.1:25", &ep, &err), 0);
	assert_string_equal(ep.host, "127.0.0.1");
	assert_string_equal(ep.port, "25");
	assert_int_equal(sg_endpoint_parse("[::1]:2525", &ep, &err), 0);
	assert_string_equal(ep.host, "::1");
	assert_int_equal(sg_endpoint_parse("2525", &ep, &err), 0);
	assert_string_equal(ep.host, "");
	assert_int_equal(sg_endpoint_parse("host:0", &ep, &err), -1);
	assert_int_equal(sg_endpoint_parse("[::1]2525", &ep, &err), -1);
	const char *tls;
	assert_int_equal(sg_smtp_route_parse("smtp:relay.test:25", &ep, &tls, &err), 0);
	assert_string_equal(tls, "may");
	assert_int_equal(sg_smtp_route_parse("smtp:relay.test:25 tls=verify", &ep, &tls, &err), 0);
	assert_string_equal(ep.host, "relay.test");
	assert_string_equal(tls, "verify");
	assert_int_equal(sg_smtp_route_parse("smtp:[::1]:25 tls=encrypt", &ep, &tls, &err), 0);
	assert_string_equal(tls, "encrypt");
	static const char *const bad[] = {"smtp:relay.test:25 tls=maybe", "smtp:relay.test:25 ",
	                                  "smtp:relay.test:25 tls=verify x", "smtp:relay.test",
	                                  "smtp::25", "mx tls=verify", "smtp:relay.test:25  tls=may"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sg_smtp_route_parse(bad[i], &ep, &tls, &err), -1);
}

static void cidr(void **state)
{
	(void)state;
	struct sg_cidr c;
	const char *err;
	struct sockaddr_in in = {.sin_family = AF_INET};
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
	assert_int_equal(sg_cidr_parse("127.0.0.1/32", &c, &err), 0);
	inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
	assert_true(sg_cidr_match(&c, (struct sockaddr *)&in));
	inet_pton(AF_INET, "127.0.0.2", &in.sin_addr);
	assert_false(sg_cidr_match(&c, (struct sockaddr *)&in));
	assert_int_equal(sg_cidr_parse("10.0.0.0/9", &c, &err), 0);
	inet_pton(AF_INET, "10.127.255.1", &in.sin_addr);
	assert_true(sg_cidr_match(&c, (struct sockaddr *)&in));
	inet_pton(AF_INET, "10.128.0.1", &in.sin_addr);
	assert_false(sg_cidr_match(&c, (struct sockaddr *)&in));
	inet_pton(AF_INET6, "::ffff:10.1.2.3", &in6.sin6_addr);
	assert_true(sg_cidr_match(&c, (struct sockaddr *)&in6));
	assert_int_equal(sg_cidr_parse("::1", &c, &err), 0);
	inet_pton(AF_INET6, "::1", &in6.sin6_addr);
	assert_true(sg_cidr_match(&c, (struct sockaddr *)&in6));
	assert_int_equal(sg_cidr_parse("300.1.1.1/8", &c, &err), -1);
	assert_int_equal(sg_cidr_parse("10.0.0.0/-1", &c, &err), -1);
}

static void strlist(void **state)
{
	(void)state;
	struct sg_strlist l;
	sg_strlist_split(&l, " a.example, B.example ,,c ");
	assert_int_equal(l.count, 3);
	assert_string_equal(l.items[1], "B.example");
	assert_true(sg_strlist_contains_nocase(&l, "b.EXAMPLE"));
	assert_false(sg_strlist_contains_nocase(&l, "d"));
	sg_strlist_free(&l);
	assert_int_equal(l.count, 0);
}

/* What the log functions write to stderr while fn runs (stderr is a pipe meanwhile). */
static void capture_stderr(void (*fn)(void), char *out, size_t size)
{
	int p[2], saved = dup(STDERR_FILENO);
	assert_int_equal(pipe(p), 0);
	dup2(p[1], STDERR_FILENO);
	close(p[1]);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	ssize_t n = read(p[0], out, size - 1);
	close(p[0]);
	out[n > 0 ? n : 0] = '\0';
}

static void relay_lines(void)
{
	const char ours[] = "2026-01-02T03:04:05.678Z sealgate/smtpd[12]: ready: 1 listener(s)";
	sg_log_relay("qmgr", 42, true, ours, sizeof(ours) - 1);
	/* A library printing a peer's text that looks like one of our lines. */
	const char forged[] = "2026-01-02T03:04:05.678Z sealgate/master[1]: forged";
	sg_log_relay("qmgr", 42, false, forged, sizeof(forged) - 1);
	const char lib[] = "[armored_src_read() x.cpp:424] Warning:\x1b[31m CRC";
	sg_log_relay("qmgr", 42, false, lib, sizeof(lib) - 1);
	sg_log_lines(SG_LOG_ERROR, "SIGHUP: ", "first line\n\nsecond line");
}

static void relay(void **state)
{
	(void)state;
	sg_log_init("master");
	char out[4096];
	capture_stderr(relay_lines, out, sizeof(out));
	/* Ours as it was; the library's line in our format for the child, control characters
	 * replaced; several lines, each its own line of ours. */
	assert_non_null(strstr(out, "2026-01-02T03:04:05.678Z sealgate/smtpd[12]: ready: 1 listener(s)\n"));
	assert_non_null(strstr(out, "Z sealgate/qmgr[42]: stderr: [armored_src_read() x.cpp:424] Warning:?[31m CRC\n"));
	assert_non_null(strstr(out, "Z sealgate/qmgr[42]: stderr: 2026-01-02T03:04:05.678Z sealgate/master[1]: forged\n"));
	assert_non_null(strstr(out, "]: error: SIGHUP: first line\n"));
	assert_non_null(strstr(out, "]: error: SIGHUP: second line\n"));
	for (char *line = out; *line != '\0'; line = strchr(line, '\n') + 1)
		assert_true(sg_log_is_line(line, strcspn(line, "\n")));
	assert_false(sg_log_is_line("Error: received handshake message out of context.", 50));
}

/* sg_base64_lines against OpenSSL's encoder, line by line, for every length around the line
 * and group boundaries and for a large payload. */
static void base64_lines_match_openssl(void **state)
{
	(void)state;
	enum { MAX = 3000 };
	static unsigned char src[MAX];
	static char ours[MAX * 2], want[MAX * 2];
	for (size_t i = 0; i < MAX; i++)
		src[i] = (unsigned char)(i * 151 + 7);
	for (size_t len = 0; len <= MAX; len += len < 200 ? 1 : 997) {
		size_t w = 0;
		for (size_t i = 0; i < len; i += 48) {
			int n = len - i < 48 ? (int)(len - i) : 48;
			w += (size_t)EVP_EncodeBlock((unsigned char *)want + w, src + i, n);
			want[w++] = '\r';
			want[w++] = '\n';
		}
		assert_int_equal(sg_base64_lines_size(len), w);
		assert_int_equal(sg_base64_lines(ours, src, len), w);
		assert_memory_equal(ours, want, w);
		static unsigned char back[MAX + 3];
		assert_int_equal(sg_base64_decode_clean((unsigned char *)ours, w, back), (int64_t)len);
		assert_memory_equal(back, src, len);
	}
}

/* What is not clean base64 is refused (the caller falls back to GMime), never half-read. */
static void base64_decode_refuses_unclean(void **state)
{
	(void)state;
	unsigned char out[32];
	const char *bad[] = {"QUJD\r\nRA=x", "QU*D", "QQ=", "QUI==", "QUJD=", "Q"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sg_base64_decode_clean((const unsigned char *)bad[i], strlen(bad[i]), out), -1);
	const char *good = "QUJD\r\nRA==\r\n";
	assert_int_equal(sg_base64_decode_clean((const unsigned char *)good, strlen(good), out), 4);
	assert_memory_equal(out, "ABCD", 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(buf_ceiling), cmocka_unit_test(base64_lines_match_openssl), cmocka_unit_test(base64_decode_refuses_unclean), cmocka_unit_test(strtonum_table),
		cmocka_unit_test(durations),   cmocka_unit_test(printable),
		cmocka_unit_test(strlcpy_truncates), cmocka_unit_test(endpoints),
		cmocka_unit_test(cidr),        cmocka_unit_test(strlist), cmocka_unit_test(relay),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

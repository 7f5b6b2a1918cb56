/* test_mime.c: the GMime wrapper: the facts qmgr needs from a message, odd MIME that must
 * still pass, and the header-block and 8-bit helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sg_file.h"
#include "core/sg_mem.h"
#include "mime/mime.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static void parse_basic(void **state)
{
	(void)state;
	static const char msg[] = "Received: from x by y\r\n"
	                          "From: \"Alice A.\" <alice@example.test>\r\n"
	                          "To: bob@partner.test\r\n"
	                          "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
	                          "Message-ID: <abc.123@example.test>\r\n"
	                          "MIME-Version: 1.0\r\n"
	                          "Content-Type: multipart/mixed; boundary=b\r\n"
	                          "\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n";
	struct mime_info info;
	const char *err;
	assert_int_equal(mime_info_parse(msg, sizeof(msg) - 1, &info, &err), 0);
	assert_true(info.parsed);
	assert_string_equal(info.message_id, "abc.123@example.test");
	assert_string_equal(info.from, "alice@example.test");
	assert_string_equal(info.subject, "Gr\xc3\xbc\xc3\x9f" "e");
	assert_string_equal(info.content_type, "multipart/mixed");
	assert_true(info.is_multipart);
	mime_info_free(&info);
	assert_null(info.message_id);
}

static void assert_printable(const char *s, unsigned char lowest)
{
	assert_non_null(s);
	for (const char *p = s; *p != '\0'; p++)
		assert_true((unsigned char)*p >= lowest && (unsigned char)*p != 0x7f);
}

/* Each odd input with the outcome it must have: parsed or refused with a reason, and the facts
 * qmgr reads from it (NULL: must be absent). */
static void parse_odd(void **state)
{
	(void)state;
	static const struct {
		const char *msg, *content_type, *subject;
		int rc;
		bool has_message_id;
	} odd[] = {
		{"no headers at all, just text\n", NULL, NULL, -1, false},
		{"Content-Type: multipart/mixed\r\n\r\nno boundary\r\n", "multipart/mixed", NULL, 0, false},
		/* control bytes never reach a log line; 8-bit junk is read as Latin-1 */
		{"Message-ID: <\x01\x02evil>\r\nSubject: \xff\xfe\r\n\r\nbody", "text/plain",
		 "\xc3\xbf\xc3\xbe", 0, true},
		{"", NULL, NULL, -1, false},
		{"\r\n\r\n", "text/plain", NULL, 0, false},
		{"From: <>\r\nTo: ,,,\r\nContent-Type: ///\r\n\r\n", "application/octet-stream", NULL, 0,
		 false},
	};
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		struct mime_info info;
		const char *err = NULL;
		int rc = mime_info_parse(odd[i].msg, strlen(odd[i].msg), &info, &err);
		assert_int_equal(rc, odd[i].rc);
		assert_int_equal(info.parsed, rc == 0);
		if (rc < 0)
			assert_string_equal(err, "not a parsable message");
		if (odd[i].content_type != NULL)
			assert_string_equal(info.content_type, odd[i].content_type);
		else
			assert_null(info.content_type);
		if (odd[i].subject != NULL) {
			assert_string_equal(info.subject, odd[i].subject);
			assert_printable(info.subject, 0x20);
		} else {
			assert_null(info.subject);
		}
		if (odd[i].has_message_id)
			assert_printable(info.message_id, 0x20);
		else
			assert_null(info.message_id);
		assert_null(info.from);
		mime_info_free(&info);
	}
}

/* CPython's own odd-MIME fixtures (Debian's libpython3.11-testsuite, a package of
 * scripts/deps.sh): every one with a header parses, and without a crash (ASan run). */
#define CPYTHON_EMAIL_DATA "/usr/lib/python3.11/test/test_email/data"

static void parse_cpython_fixtures(void **state)
{
	(void)state;
	DIR *d = opendir(CPYTHON_EMAIL_DATA);
	if (d == NULL)
		fail_msg("%s: %s: install libpython3.11-testsuite (scripts/deps.sh)", CPYTHON_EMAIL_DATA,
		         strerror(errno));
	size_t n = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		if (strncmp(e->d_name, "msg_", 4) != 0)
			continue;
		char path[512], *msg = NULL;
		size_t len = 0;
		const char *err = NULL;
		snprintf(path, sizeof(path), "%s/%s", CPYTHON_EMAIL_DATA, e->d_name);
		assert_int_equal(sg_file_read_all(path, 1 << 20, &msg, &len, &err), 0);
		struct mime_info info;
		int rc = mime_info_parse(msg, len, &info, &err);
		/* msg_19 is a digest body with no header at all: refused, like any headerless text */
		bool headerless = strcmp(e->d_name, "msg_19.txt") == 0;
		if (rc != (headerless ? -1 : 0))
			fail_msg("%s: rc %d (%s)", e->d_name, rc, rc != 0 ? err : "parsed");
		if (headerless)
			assert_string_equal(err, "not a parsable message");
		else
			assert_non_null(info.content_type);
		if (info.message_id != NULL)
			assert_printable(info.message_id, 0x20);
		mime_info_free(&info);
		sg_free(&msg);
		n++;
	}
	closedir(d);
	assert_true(n >= 47); /* msg_01 .. msg_46 and msg_12a in Debian's 3.11.2 */
}

static void header_block(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		size_t max;
		size_t want;
	} table[] = {
		{"A: 1\r\nB: 2\r\n\r\nbody", 1000, 14},
		{"A: 1\nB: 2\n\nbody", 1000, 11},
		{"A: 1\r\nB: 2\r\n", 1000, 12},
		{"\r\nbody", 1000, 2},
		{"\nbody", 1000, 1},
		{"A: 1\r\nB: 2\r\n\r\nbody", 5, 5},
		{"", 1000, 0},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		assert_int_equal(mime_header_block_len(table[i].in, strlen(table[i].in), table[i].max),
		                 table[i].want);
	assert_false(mime_has_8bit("plain", 5));
	assert_true(mime_has_8bit("caf\xc3\xa9", 5));
	assert_true(mime_str_has_8bit("\xe2\x82\xac"));
}

/* The scan reads 32 bytes at a time: one 8-bit byte is found at every offset, at any
 * alignment, in the tail after the last whole block, and never past len. */
static void has_8bit_every_offset(void **state)
{
	(void)state;
	char buf[104];
	for (size_t start = 0; start < 4; start++) {
		for (size_t len = 0; len + start <= 100; len++) {
			memset(buf, 'a', sizeof(buf));
			buf[start + len] = (char)0xff; /* just past the end: must not count */
			assert_false(mime_has_8bit(buf + start, len));
			for (size_t at = 0; at < len; at++) {
				buf[start + at] = (char)0x80;
				assert_true(mime_has_8bit(buf + start, len));
				buf[start + at] = 'a';
			}
		}
	}
}

/* Issue 19: the queue manager's parse reads the header block; the body is parsed only where a
 * byte scan cannot rule out an S/MIME signature below the top (and then it is still found). */
static void parse_reads_headers_only(void **state)
{
	(void)state;
	static const char head[] = "From: alice@example.test\r\nTo: bob@partner.test\r\n"
	                           "Subject: big\r\nMIME-Version: 1.0\r\n"
	                           "Content-Type: multipart/mixed; boundary=b\r\n\r\n";
	static const char part[] = "--b\r\nContent-Type: text/plain\r\n\r\n";
	static const char sig[] = "--b\r\nContent-Type: multipart/signed; boundary=s;"
	                          " protocol=\"application/pkcs7-signature\"\r\n\r\n"
	                          "--s\r\nContent-Type: text/plain\r\n\r\nsigned\r\n"
	                          "--s\r\nContent-Type: application/pkcs7-signature\r\n\r\nAAAA\r\n"
	                          "--s--\r\n";
	char *msg = sg_malloc(300 * 1024);
	for (int signed_part = 0; signed_part < 2; signed_part++) {
		size_t len = 0;
		memcpy(msg, head, sizeof(head) - 1);
		len += sizeof(head) - 1;
		memcpy(msg + len, part, sizeof(part) - 1);
		len += sizeof(part) - 1;
		for (int i = 0; i < 3000; i++) /* ~200 KB of text with many a '7' in it */
			len += (size_t)snprintf(msg + len, 80, "line %d of 7s and 77s, no signature\r\n", i);
		if (signed_part) {
			memcpy(msg + len, sig, sizeof(sig) - 1);
			len += sizeof(sig) - 1;
		}
		len += (size_t)snprintf(msg + len, 16, "--b--\r\n");
		unsigned long n0, n1;
		unsigned long long b0, b1;
		struct mime_info info;
		const char *err;
		mime_parse_stats(&n0, &b0);
		assert_int_equal(mime_info_parse(msg, len, &info, &err), 0);
		mime_parse_stats(&n1, &b1);
		assert_string_equal(info.subject, "big");
		assert_true(info.is_multipart);
		assert_int_equal(info.nested_smime_signed, signed_part);
		if (!signed_part) { /* one parse, of the header block only */
			assert_int_equal(n1 - n0, 1);
			assert_int_equal(b1 - b0, sizeof(head) - 1);
		} else { /* the header block, then the whole message for the signature below */
			assert_int_equal(n1 - n0, 2);
			assert_int_equal(b1 - b0, sizeof(head) - 1 + len);
		}
		mime_info_free(&info);
	}
	sg_free(&msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_basic),
		cmocka_unit_test(parse_odd),
		cmocka_unit_test(parse_reads_headers_only),
		cmocka_unit_test(parse_cpython_fixtures),
		cmocka_unit_test(header_block),
		cmocka_unit_test(has_8bit_every_offset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

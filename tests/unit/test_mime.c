/* test_mime.c: the GMime wrapper: the facts qmgr needs from a message, odd MIME that must
 * still pass, and the header-block and 8-bit helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mime/mime.h"

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

static void parse_odd(void **state)
{
	(void)state;
	static const char *const odd[] = {
		"no headers at all, just text\n",
		"Content-Type: multipart/mixed\r\n\r\nno boundary\r\n",
		"Message-ID: <\x01\x02evil>\r\nSubject: \xff\xfe\r\n\r\nbody",
		"",
		"\r\n\r\n",
		"From: <>\r\nTo: ,,,\r\nContent-Type: ///\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		struct mime_info info;
		const char *err;
		int rc = mime_info_parse(odd[i], strlen(odd[i]), &info, &err);
		assert_true(rc == 0 || rc == -1);
		if (info.message_id != NULL)
			for (const char *p = info.message_id; *p != '\0'; p++)
				assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
		if (info.subject != NULL)
			for (const char *p = info.subject; *p != '\0'; p++)
				assert_true((unsigned char)*p >= 0x20);
		mime_info_free(&info);
	}
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_basic),
		cmocka_unit_test(parse_odd),
		cmocka_unit_test(header_block),
		cmocka_unit_test(has_8bit_every_offset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

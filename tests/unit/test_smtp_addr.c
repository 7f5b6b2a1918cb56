/* test_smtp_addr.c: RFC 5321 paths: good ones and their normal form, bad ones and why they
 * fail, SMTPUTF8, source routes, literals and every length limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "smtp/smtp.h"

#include <stdio.h>
#include <string.h>

#define U8 SMTP_ADDR_F_UTF8
#define NUL SMTP_ADDR_F_NULL_OK

struct good_case {
	const char *in;
	unsigned int flags;
	const char *addr;
	const char *domain;
};

static const struct good_case good[] = {
	{"<user@example.com>", 0, "user@example.com", "example.com"},
	{"<User.Name+tag@Example.COM>", 0, "User.Name+tag@example.com", "example.com"},
	{"<>", NUL, "", ""},
	{"<\"a b\"@x.org>", 0, "\"a b\"@x.org", "x.org"},
	{"<\"plain\"@x.org>", 0, "plain@x.org", "x.org"},         /* needless quotes dropped */
	{"<\"a\\\"b\"@x.org>", 0, "\"a\\\"b\"@x.org", "x.org"},
	{"<\"a\\bc\"@x.org>", 0, "abc@x.org", "x.org"},            /* needless escape dropped */
	{"<\"a..b\"@x.org>", 0, "\"a..b\"@x.org", "x.org"},
	{"<@relay.net:user@example.com>", 0, "user@example.com", "example.com"},
	{"<@a.net,@b.net:user@example.com>", 0, "user@example.com", "example.com"},
	{"<u@[192.0.2.1]>", 0, "u@[192.0.2.1]", "[192.0.2.1]"},
	{"<u@[ipv6:2001:db8::1]>", 0, "u@[IPv6:2001:db8::1]", "[IPv6:2001:db8::1]"},
	{"<a-b@x-y.example>", 0, "a-b@x-y.example", "x-y.example"},
	{"<!#$%&'*+-/=?^_`{|}~@x.org>", 0, "!#$%&'*+-/=?^_`{|}~@x.org", "x.org"},
	{"<j\xc3\xbcrgen@b\xc3\xbcro.example>", U8, "j\xc3\xbcrgen@b\xc3\xbcro.example",
	 "b\xc3\xbcro.example"},
	{"<\"\xe2\x82\xac x\"@x.org>", U8, "\"\xe2\x82\xac x\"@x.org", "x.org"},
	{"<1@2.3>", 0, "1@2.3", "2.3"},
};

static void addr_good(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct smtp_addr a;
		const char *err = NULL;
		int rc = smtp_addr_parse(good[i].in, strlen(good[i].in), good[i].flags, &a, &err);
		if (rc != 0)
			fail_msg("%s: %s", good[i].in, err);
		assert_string_equal(a.addr, good[i].addr);
		assert_string_equal(a.domain, good[i].domain);
		assert_int_equal(a.utf8, (good[i].flags & U8) != 0);
	}
}

struct bad_case {
	const char *in;
	unsigned int flags;
	enum smtp_addr_error why;
};

static const struct bad_case bad[] = {
	{"<>", 0, SMTP_ADDR_ESYNTAX},
	{"user@example.com", 0, SMTP_ADDR_ESYNTAX},
	{"<user@example.com", 0, SMTP_ADDR_ESYNTAX},
	{"<user>", 0, SMTP_ADDR_ESYNTAX},
	{"<@example.com>", 0, SMTP_ADDR_ESYNTAX},
	{"<user@>", 0, SMTP_ADDR_ESYNTAX},
	{"<user@@example.com>", 0, SMTP_ADDR_ESYNTAX},
	{"<.user@example.com>", 0, SMTP_ADDR_ESYNTAX},
	{"<user.@example.com>", 0, SMTP_ADDR_ESYNTAX},
	{"<us..er@example.com>", 0, SMTP_ADDR_ESYNTAX},
	{"<user@example..com>", 0, SMTP_ADDR_ESYNTAX},
	{"<user@example.com.>", 0, SMTP_ADDR_ESYNTAX},
	{"<user@-example.com>", 0, SMTP_ADDR_ESYNTAX},
	{"<user@example-.com>", 0, SMTP_ADDR_ESYNTAX},
	{"<user@exa_mple.com>", 0, SMTP_ADDR_ESYNTAX},
	{"<us er@example.com>", 0, SMTP_ADDR_ESYNTAX},
	{"<\"\"@example.com>", 0, SMTP_ADDR_ESYNTAX},
	{"<\"a\r\"@example.com>", 0, SMTP_ADDR_ESYNTAX},
	{"<\"unterminated@example.com>", 0, SMTP_ADDR_ESYNTAX},
	{"<u@[300.1.1.1]>", 0, SMTP_ADDR_ESYNTAX},
	{"<u@[1.2.3]>", 0, SMTP_ADDR_ESYNTAX},
	{"<u@[IPv6:zz::1]>", 0, SMTP_ADDR_ESYNTAX},
	{"<u@[1.2.3.4>", 0, SMTP_ADDR_ESYNTAX},
	{"<u@[1.2.3.4]x>", 0, SMTP_ADDR_ESYNTAX},
	{"<@relay.net user@example.com>", 0, SMTP_ADDR_ESYNTAX},
	{"<@relay.net,user@example.com>", 0, SMTP_ADDR_ESYNTAX},
	{"<user@example.com> ", 0, SMTP_ADDR_ESYNTAX},
	{"<j\xc3\xbcrgen@example.com>", 0, SMTP_ADDR_EUTF8},
	{"<user@b\xc3\xbcro.example>", 0, SMTP_ADDR_EUTF8},
	{"<j\xc3rgen@example.com>", U8, SMTP_ADDR_ESYNTAX},     /* truncated sequence */
	{"<j\xc0\xafrgen@example.com>", U8, SMTP_ADDR_ESYNTAX}, /* overlong */
	{"<j\xed\xa0\x80@example.com>", U8, SMTP_ADDR_ESYNTAX}, /* surrogate */
	{"<u\x01@example.com>", U8, SMTP_ADDR_ESYNTAX},
};

static void addr_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct smtp_addr a;
		const char *err = NULL;
		int rc = smtp_addr_parse(bad[i].in, strlen(bad[i].in), bad[i].flags, &a, &err);
		if (rc != -1 || a.why != bad[i].why)
			fail_msg("case %zu '%s': rc=%d why=%d", i, bad[i].in, rc, a.why);
		assert_non_null(err);
		assert_string_equal(a.addr, "");
	}
}

static void addr_lengths(void **state)
{
	(void)state;
	char in[2 * SG_ADDR_MAX];
	struct smtp_addr a;
	const char *err;
	/* local part: 64 is fine, 65 is not */
	snprintf(in, sizeof(in), "<%s@x.org>", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	assert_int_equal(smtp_addr_parse(in, strlen(in), 0, &a, &err), 0);
	snprintf(in, sizeof(in), "<%s@x.org>", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	assert_int_equal(smtp_addr_parse(in, strlen(in), 0, &a, &err), -1);
	assert_int_equal(a.why, SMTP_ADDR_ELENGTH);
	/* a label of 63 is fine, 64 is not */
	char label[80];
	memset(label, 'b', 63);
	label[63] = '\0';
	snprintf(in, sizeof(in), "<u@%s.org>", label);
	assert_int_equal(smtp_addr_parse(in, strlen(in), 0, &a, &err), 0);
	memset(label, 'b', 64);
	label[64] = '\0';
	snprintf(in, sizeof(in), "<u@%s.org>", label);
	assert_int_equal(smtp_addr_parse(in, strlen(in), 0, &a, &err), -1);
	assert_int_equal(a.why, SMTP_ADDR_ELENGTH);
	/* a domain over 255 bytes */
	size_t o = (size_t)snprintf(in, sizeof(in), "<u@");
	for (int i = 0; i < 5; i++)
		o += (size_t)snprintf(in + o, sizeof(in) - o, "%.60s.", "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc");
	snprintf(in + o, sizeof(in) - o, "org>");
	assert_int_equal(smtp_addr_parse(in, strlen(in), 0, &a, &err), -1);
	assert_int_equal(a.why, SMTP_ADDR_ELENGTH);
	/* a path longer than SG_ADDR_MAX */
	memset(in, 'a', sizeof(in));
	in[0] = '<';
	memcpy(in + sizeof(in) - 8, "@x.org>", 7);
	assert_int_equal(smtp_addr_parse(in, sizeof(in) - 1, 0, &a, &err), -1);
	assert_int_equal(a.why, SMTP_ADDR_ELENGTH);
	/* a quoted local part: 31 escaped quotes make 64 bytes, 32 make 66 */
	for (int n = 31; n <= 32; n++) {
		size_t k = 0;
		in[k++] = '<';
		in[k++] = '"';
		for (int i = 0; i < n; i++) {
			in[k++] = '\\';
			in[k++] = '"';
		}
		memcpy(in + k, "\"@x.org>", 8);
		k += 8;
		int rc = smtp_addr_parse(in, k, 0, &a, &err);
		assert_int_equal(rc, n == 31 ? 0 : -1);
	}
}

static void path_len(void **state)
{
	(void)state;
	assert_int_equal(smtp_addr_path_len("<a@b> X=1", 9), 5);
	assert_int_equal(smtp_addr_path_len("<\"a>b\"@c> X", 11), 9);
	assert_int_equal(smtp_addr_path_len("<\"a\\\">b\"@c>", 11), 11);
	assert_int_equal(smtp_addr_path_len("<a@b", 4), 0);
	assert_int_equal(smtp_addr_path_len("a@b>", 4), 0);
	assert_int_equal(smtp_addr_path_len("", 0), 0);
}

static void utf8_len(void **state)
{
	(void)state;
	assert_int_equal(smtp_addr_utf8_len((const unsigned char *)"a", 1), 1);
	assert_int_equal(smtp_addr_utf8_len((const unsigned char *)"\xc3\xbc", 2), 2);
	assert_int_equal(smtp_addr_utf8_len((const unsigned char *)"\xe2\x82\xac", 3), 3);
	assert_int_equal(smtp_addr_utf8_len((const unsigned char *)"\xf0\x9f\x98\x80", 4), 4);
	assert_int_equal(smtp_addr_utf8_len((const unsigned char *)"\xf4\x90\x80\x80", 4), 0);
	assert_int_equal(smtp_addr_utf8_len((const unsigned char *)"\xe2\x82", 2), 0);
	assert_int_equal(smtp_addr_utf8_len((const unsigned char *)"\x80", 1), 0);
	assert_int_equal(smtp_addr_utf8_len((const unsigned char *)"\xe0\x80\x80", 3), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(addr_good),    cmocka_unit_test(addr_bad),
		cmocka_unit_test(addr_lengths), cmocka_unit_test(path_len),
		cmocka_unit_test(utf8_len),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

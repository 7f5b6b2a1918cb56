/* test_portal.c: the portal's parsers and helpers (forms, escaping, templates, language
 * choice, secrets) and its store tables (accounts, throttling, sessions, audit). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sg_buf.h"
#include "core/sg_mem.h"
#include "core/sg_net.h"
#include "core/sg_str.h"
#include "portal/portal.h"
#include "portal/portal_priv.h"
#include "queue/held.h"
#include "store/store.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parse(const char *ctype, const char *body, struct portal_form *f)
{
	const char *err;
	return portal_form_parse(ctype, body, strlen(body), f, &err);
}

static void urlencoded_forms(void **state)
{
	(void)state;
	static const char *const bad[] = {"a", "=x", "a=%", "a=%4", "a=%zz", "a=%00", "a=1&b"};
	struct portal_form f;
	const char *u = "application/x-www-form-urlencoded";
	assert_int_equal(parse(u, "email=a%40b.test&password=p+w%21&empty=", &f), 0);
	assert_string_equal(portal_form_get(&f, "email"), "a@b.test");
	assert_string_equal(portal_form_get(&f, "password"), "p w!");
	assert_string_equal(portal_form_get(&f, "empty"), "");
	assert_string_equal(portal_form_get(&f, "missing"), "");
	portal_form_clear(&f);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse(u, bad[i], &f), -1);
	assert_int_equal(parse("text/plain", "a=b", &f), -1);
	assert_int_equal(parse(NULL, "a=b", &f), -1);
	/* Ceilings: one field too long, too many fields. */
	char *big = sg_malloc(SG_HTTP_FIELD_MAX + 8);
	memcpy(big, "a=", 2);
	memset(big + 2, 'x', SG_HTTP_FIELD_MAX + 1);
	big[SG_HTTP_FIELD_MAX + 3] = '\0';
	assert_int_equal(parse(u, big, &f), -1);
	sg_free(&big);
	char many[SG_HTTP_FIELDS_MAX * 8 + 16] = "a=1";
	for (int i = 0; i < SG_HTTP_FIELDS_MAX; i++)
		memcpy(many + 3 + 4 * i, "&a=1", 5);
	assert_int_equal(parse(u, many, &f), -1);
}

static void multipart_forms(void **state)
{
	(void)state;
	struct portal_form f;
	const char *ct = "multipart/form-data; boundary=XyZ";
	const char *body = "--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc\r\n"
	                   "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"k.asc\"\r\n"
	                   "Content-Type: application/octet-stream\r\n\r\nBIN\0DATA\r\n--XyZ--\r\n";
	size_t len = strlen(body) + 1 + strlen(body + strlen(body) + 1);
	const char *err;
	assert_int_equal(portal_form_parse(ct, body, len, &f, &err), 0);
	assert_string_equal(portal_form_get(&f, "csrf"), "abc");
	const struct portal_field *file = portal_form_field(&f, "file");
	assert_non_null(file);
	assert_true(file->is_file);
	assert_int_equal(file->value_len, 8);
	assert_memory_equal(file->value, "BIN\0DATA", 8);
	portal_form_clear(&f);
	assert_int_equal(parse("multipart/form-data; boundary=\"q\"",
	                       "--q\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--q--", &f), 0);
	assert_string_equal(portal_form_get(&f, "a"), "1");
	portal_form_clear(&f);
	static const char *const bad[] = {
		"", "--XyZ", "--XyZ\r\n\r\nno headers\r\n--XyZ--",
		"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated",
		"--XyZ\r\nContent-Disposition: form-data\r\n\r\nx\r\n--XyZ--",
		"--XyZ\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx\r\n--XyZ--",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse(ct, bad[i], &f), -1);
	assert_int_equal(parse("multipart/form-data", "--x--", &f), -1);
}

static void escaping_and_templates(void **state)
{
	(void)state;
	struct sg_buf b;
	sg_buf_init(&b, 4096);
	assert_int_equal(portal_html_escape(&b, "<a href=\"x\">'&`</a>"), 0);
	assert_string_equal(b.data, "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#96;&lt;/a&gt;");
	assert_null(strchr(b.data, '<'));
	assert_null(strchr(b.data, '"'));
	sg_buf_reset(&b);
	struct portal_var v[] = {{"x", "<b>", false}, {"r", "<i>ok</i>", true}};
	assert_int_equal(portal_html_render(&b, "[{{x}}|{{&r}}|{{t.btn_login}}]", v, 2,
	                                    PORTAL_LANG_DE), 0);
	assert_string_equal(b.data, "[&lt;b&gt;|<i>ok</i>|Anmelden]");
	sg_buf_free(&b);
	sg_buf_init(&b, 8);
	assert_int_equal(portal_html_escape(&b, "<<<<<<<<"), -1); /* the ceiling holds */
	sg_buf_free(&b);
}

/* Invalid UTF-8 in a value comes out as U+FFFD, one per byte that starts nothing valid;
 * valid text (up to 4 bytes, U+10FFFF) passes unchanged. */
static void escaping_invalid_utf8(void **state)
{
	(void)state;
	static const struct {
		const char *in, *want;
	} cases[] = {
		{"M\xc3\xbcnchen \xe2\x82\xac \xf0\x9f\x94\x92 \xf4\x8f\xbf\xbf", NULL},
		{"a\xff" "b", "a\xef\xbf\xbd" "b"},                       /* never valid */
		{"\xc3(", "\xef\xbf\xbd("},                          /* cut short */
		{"\xc3", "\xef\xbf\xbd"},                            /* cut by the end */
		{"\xc0\xbc", "\xef\xbf\xbd\xef\xbf\xbd"},           /* overlong "<" */
		{"\xe0\x80\xbc", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* overlong again */
		{"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* a surrogate */
		{"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* past U+10FFFF */
		{"\xe2\x82<", "\xef\xbf\xbd\xef\xbf\xbd&lt;"},      /* and escaping goes on */
	};
	struct sg_buf b;
	sg_buf_init(&b, 4096);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sg_buf_reset(&b);
		assert_int_equal(portal_html_escape(&b, cases[i].in), 0);
		assert_int_equal(sg_buf_append(&b, "", 1), 0);
		assert_string_equal(b.data, cases[i].want != NULL ? cases[i].want : cases[i].in);
	}
	sg_buf_free(&b);
}

static void language_choice(void **state)
{
	(void)state;
	static const struct {
		const char *cookie, *accept;
		enum portal_lang want;
	} cases[] = {
		{NULL, NULL, PORTAL_LANG_EN},
		{NULL, "de-DE,de;q=0.9,en;q=0.8", PORTAL_LANG_DE},
		{NULL, "en-US,en;q=0.9,de;q=0.8", PORTAL_LANG_EN},
		{NULL, "fr, de;q=0.5", PORTAL_LANG_DE},
		{NULL, "en;q=0.2, de;q=0.7", PORTAL_LANG_DE},
		{NULL, "dem, eng", PORTAL_LANG_EN},
		{"en", "de", PORTAL_LANG_EN},
		{"de", NULL, PORTAL_LANG_DE},
		{"xx", "de", PORTAL_LANG_DE},
		/* Malformed weights count as 0, never as a number that wrapped around. */
		{NULL, "de;q=99999999999", PORTAL_LANG_EN},
		{NULL, "en;q=0.1, de;q=99999999999999999999", PORTAL_LANG_EN},
		{NULL, "de;q=0.5x, en;q=0.1", PORTAL_LANG_EN},
		{NULL, "de;q=1.000, en", PORTAL_LANG_EN},
		{NULL, "de;q=1, en;q=0.999", PORTAL_LANG_DE},
		{NULL, "de;q=0.0001, en;q=0", PORTAL_LANG_EN},
		{NULL, "en;q=0, de;q=0.001", PORTAL_LANG_DE},
		{NULL, "de;q=, en;q=.5", PORTAL_LANG_EN},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(portal_i18n_pick(cases[i].cookie, cases[i].accept), cases[i].want);
	assert_string_equal(portal_i18n_text(PORTAL_LANG_DE, "password"), "Passwort");
}

static void secrets(void **state)
{
	(void)state;
	char hash[STORE_PORTAL_HASH_MAX];
	const char *err;
	assert_int_equal(portal_auth_hash_password("pässword 1234", hash, sizeof(hash), &err), 0);
	assert_true(strncmp(hash, "$argon2id$", 10) == 0);
	assert_true(portal_auth_check_password(hash, "pässword 1234"));
	assert_false(portal_auth_check_password(hash, "pässword 1235"));
	assert_false(portal_auth_check_password("", ""));
	char otp[HELD_OTP_SIZE], h1[HELD_HASH_HEX], h2[HELD_HASH_HEX];
	held_invite_otp_new(otp, sizeof(otp));
	assert_int_equal(strlen(otp), HELD_OTP_LEN + HELD_OTP_LEN / 4 - 1);
	held_invite_otp_hash(otp, h1);
	for (char *p = otp; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	held_invite_otp_hash(otp, h2); /* typed in lower case, still the same */
	assert_true(portal_auth_equal(h1, h2));
	portal_auth_token_hash("a", h1);
	portal_auth_token_hash("b", h2);
	assert_false(portal_auth_equal(h1, h2));
	assert_false(portal_auth_equal("", ""));
}

/* Throttling: 5 free attempts on each key, then waits of 60 s doubling to at most 300 s,
 * a fresh count a day after the last one; a refused attempt counts nothing. */
static void throttle_table(struct store *st)
{
	const struct store_throttle_policy p = {5, 60, 300, 86400};
	const char *both[] = {"ip:1", "acct:p@x.test"}, *other[] = {"ip:2", "acct:p@x.test"};
	const char *err;
	time_t wait;
	for (int i = 0; i < 4; i++) {
		assert_int_equal(store_portal_throttle_reserve(st, both, 2, 100, &p, &wait, &err), 0);
		assert_int_equal(wait, 0);
	}
	assert_int_equal(store_portal_throttle_reserve(st, both, 2, 100, &p, &wait, &err), 0);
	assert_int_equal(wait, 60); /* the 5th attempt makes the 6th wait */
	assert_int_equal(store_portal_throttle_reserve(st, other, 2, 130, &p, &wait, &err), 1);
	assert_int_equal(wait, 30); /* the account waits for any client; ip:2 counted nothing */
	assert_int_equal(store_portal_throttle_reserve(st, other + 0, 1, 130, &p, &wait, &err), 0);
	assert_int_equal(wait, 0);
	assert_int_equal(store_portal_throttle_reserve(st, both, 2, 160, &p, &wait, &err), 0);
	assert_int_equal(wait, 120); /* doubled */
	for (time_t t = 280, w = 240; w <= 300; t += w, w *= 2) {
		assert_int_equal(store_portal_throttle_reserve(st, both, 2, t, &p, &wait, &err), 0);
		assert_int_equal(wait, w);
	}
	assert_int_equal(store_portal_throttle_reserve(st, both, 2, 520, &p, &wait, &err), 0);
	assert_int_equal(wait, 300); /* at most max_delay_s */
	/* A success resets the account's count but never shortens its running wait. */
	assert_int_equal(store_portal_throttle_succeeded(st, "acct:p@x.test", true, &err), 0);
	assert_int_equal(store_portal_throttle_reserve(st, both + 1, 1, 819, &p, &wait, &err), 1);
	assert_int_equal(store_portal_throttle_reserve(st, both + 1, 1, 820, &p, &wait, &err), 0);
	assert_int_equal(wait, 0);
	/* Quiet for a day: a fresh count; expire deletes what is older than that. */
	assert_int_equal(store_portal_throttle_reserve(st, both, 2, 820 + 86400, &p, &wait, &err), 0);
	assert_int_equal(wait, 0);
	assert_int_equal(store_portal_throttle_expire(st, 821, &err), 0);
	for (int i = 0; i < 4; i++) /* ip:2's attempt at 130 is gone: four more are free */
		assert_int_equal(store_portal_throttle_reserve(st, other, 1, 900, &p, &wait, &err), 0);
	assert_int_equal(wait, 0);
}

/* X-Forwarded-For as read from a trusted proxy (10.0.0.0/8 and 192.0.2.1 trusted): the
 * rightmost hop that is not a trusted proxy; a hop that is not an address stops the walk. */
static void forwarded_client(void **state)
{
	(void)state;
	const char *err;
	size_t n;
	struct sg_cidr *proxies = sg_cidr_list_parse("10.0.0.0/8, 192.0.2.1", &n, &err);
	assert_non_null(proxies);
	static const struct {
		const char *lines[3], *want;
	} cases[] = {
		{{NULL}, "10.0.0.1"},
		{{"198.51.100.7"}, "198.51.100.7"},
		{{" 203.0.113.9 , 198.51.100.7 "}, "198.51.100.7"},       /* the left hop is the client's */
		{{"198.51.100.7, 10.1.2.3, 192.0.2.1"}, "198.51.100.7"},  /* through two proxies */
		{{"203.0.113.9", "198.51.100.7"}, "198.51.100.7"},        /* the last line is the proxy's */
		{{"198.51.100.7", "10.9.9.9"}, "198.51.100.7"},
		{{"2001:DB8::1"}, "2001:db8::1"},                         /* one spelling per address */
		{{"::ffff:198.51.100.7"}, "198.51.100.7"},
		{{"198.51.100.7, unknown"}, "10.0.0.1"},                  /* not an address: the peer */
		{{"198.51.100.7, 10.1.2.3, junk"}, "10.0.0.1"},
		{{"junk, 10.1.2.3"}, "10.1.2.3"},                         /* the last trusted hop */
		{{"198.51.100.7:443"}, "10.0.0.1"},
		{{""}, "10.0.0.1"},
		{{"198.51.100.7,"}, "10.0.0.1"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char dst[64] = "10.0.0.1";
		size_t nl = 0;
		while (nl < 3 && cases[i].lines[nl] != NULL)
			nl++;
		portal_client_forwarded(proxies, n, cases[i].lines, nl, dst, sizeof(dst));
		if (strcmp(dst, cases[i].want) != 0)
			fail_msg("case %zu: %s, want %s", i, dst, cases[i].want);
	}
	sg_free(&proxies);
}

static void store_tables(void **state)
{
	(void)state;
	char dir[] = "/tmp/sg-portal-XXXXXX";
	assert_non_null(mkdtemp(dir));
	const char *err;
	struct store *st = store_open("sqlite:t.db", dir, &err);
	assert_non_null(st);
	assert_true(store_schema_version(st) >= 5);
	char otp[HELD_OTP_SIZE];
	int64_t uid;
	time_t until;
	assert_int_equal(held_invite_create(st, "P@x.test", "", 30, 1000, otp, &uid, &until, &err), 0);
	struct store_portal_account a;
	assert_int_equal(store_portal_account_get(st, "p@X.test", &a, &err), 1);
	assert_int_equal(a.otp_expires, 1000 + 30 * 86400);
	assert_int_equal(a.registered, 0);
	assert_int_equal(store_portal_register(st, a.user_id, "$argon2id$x", 2000, &err), 0);
	assert_int_equal(store_portal_account_get(st, "p@x.test", &a, &err), 1);
	assert_string_equal(a.otp_hash, "");
	assert_int_equal(a.registered, 2000);
	assert_int_equal(store_portal_account_get(st, "q@x.test", &a, &err), 0);
	throttle_table(st);
	/* Sessions and their expiry. */
	struct store_portal_session s = {.user_id = 7, .stage = 2, .created = 10, .last_seen = 20};
	sg_strlcpy(s.id_hash, "h1", sizeof(s.id_hash));
	sg_strlcpy(s.csrf, "c1", sizeof(s.csrf));
	sg_strlcpy(s.address, "p@x.test", sizeof(s.address));
	assert_int_equal(store_portal_session_add(st, &s, &err), 0);
	struct store_portal_session got;
	assert_int_equal(store_portal_session_get(st, "h1", &got, &err), 1);
	assert_string_equal(got.address, "p@x.test");
	assert_int_equal(got.stage, 2);
	assert_int_equal(store_portal_session_touch(st, "h1", 50, &err), 0);
	assert_int_equal(store_portal_session_expire(st, 40, 5, &err), 0);
	assert_int_equal(store_portal_session_get(st, "h1", &got, &err), 1);
	assert_int_equal(store_portal_session_expire(st, 51, 5, &err), 0);
	assert_int_equal(store_portal_session_get(st, "h1", &got, &err), 0);
	/* Audit. */
	assert_int_equal(store_portal_audit_add(st, 5, "login", "p@x.test", "127.0.0.1", "", &err), 0);
	assert_int_equal(store_portal_audit_add(st, 9, "logout", "p@x.test", "127.0.0.1", "", &err), 0);
	struct store_audit_entry *e;
	size_t n;
	struct store_audit_query q = {.since = 6};
	assert_int_equal(store_audit_list(st, &q, &e, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(e[0].event, "logout");
	sg_free(&e);
	/* With who did it; selected by time window and by event. */
	struct store_audit_entry row = {.at = 12, .event = "cert-issued", .address = "u@x.test",
	                                .client = "cli", .detail = "serial 01", .actor = "cli:admin"};
	assert_int_equal(store_audit_add(st, &row, &err), 0);
	q = (struct store_audit_query){.since = 0, .until = 12};
	assert_int_equal(store_audit_list(st, &q, &e, &n, &err), 0);
	assert_int_equal(n, 2); /* until is exclusive */
	sg_free(&e);
	q = (struct store_audit_query){.event = "cert-issued"};
	assert_int_equal(store_audit_list(st, &q, &e, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(e[0].actor, "cli:admin");
	assert_string_equal(e[0].detail, "serial 01");
	sg_free(&e);
	store_close(&st);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* Content-Disposition of a webmail download: never a second parameter, a header or a path. */
static void download_names(void **state)
{
	(void)state;
	static const struct {
		const char *name, *want;
	} cases[] = {
		{"report.pdf", "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"},
		{"\xc3\x9c bersicht.pdf",
		 "attachment; filename=\"__ bersicht.pdf\"; filename*=UTF-8''%C3%9C%20bersicht.pdf"},
		{"a\"b;c\\d/e%f.txt",
		 "attachment; filename=\"a_b_c_d_e_f.txt\"; filename*=UTF-8''a%22b%3Bc%5Cd%2Fe%25f.txt"},
		{"x\r\nSet-Cookie: a=b", "attachment; filename=\"x__Set-Cookie: a=b\"; "
		                         "filename*=UTF-8''x%0D%0ASet-Cookie%3A%20a%3Db"},
		{"", "attachment"},
		{"..", "attachment"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char got[PORTAL_DISPOSITION_MAX];
		portal_part_disposition(cases[i].name, got, sizeof(got));
		assert_string_equal(got, cases[i].want);
	}
	/* the longest name fits whole, every byte percent-encoded */
	char name[WEBMAIL_NAME_MAX], got[PORTAL_DISPOSITION_MAX];
	memset(name, 0xe4, sizeof(name) - 1);
	name[0] = 'x';
	name[sizeof(name) - 1] = '\0';
	portal_part_disposition(name, got, sizeof(got));
	assert_int_equal(strlen(got), strlen("attachment; filename=\"\"; filename*=UTF-8''") +
	                                  (sizeof(name) - 1) * 4 - 2);
	assert_true(portal_part_inline_image("IMAGE/PNG") && !portal_part_inline_image("image/svg+xml"));
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(urlencoded_forms),      cmocka_unit_test(multipart_forms),
		cmocka_unit_test(escaping_and_templates), cmocka_unit_test(language_choice),
		cmocka_unit_test(escaping_invalid_utf8),
		cmocka_unit_test(secrets),               cmocka_unit_test(store_tables),
		cmocka_unit_test(forwarded_client),      cmocka_unit_test(download_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

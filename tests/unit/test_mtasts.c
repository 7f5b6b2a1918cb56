/* test_mtasts.c: MTA-STS parsers by table (the TXT record, the policy, MX patterns) on good,
 * odd and hostile input, and the policy cache in the store. Discovery, fetch and delivery
 * against a real resolver and HTTPS server: tests/integration/test_mta_sts.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "mtasts/mtasts.h"
#include "store/store.h"
#include "store/store_mta_sts.h"
#include "store/store_tls_policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void txt_table(void **state)
{
	(void)state;
	static const struct {
		const char *txt[3];
		int rc;
		const char *id;
	} table[] = {
		{{"v=STSv1; id=20160831085700Z;"}, 0, "20160831085700Z"},
		{{"v=STSv1;id=abc"}, 0, "abc"},
		{{"v=STSv1; id=abc; ext=1"}, 0, "abc"},
		{{"v=spf1 -all", "v=STSv1; id=x1"}, 0, "x1"},
		{{"v=STSv1; ext=1; id=Z9;"}, 0, "Z9"},
		{{"v=STSv1; id=01234567890123456789012345678901"}, 0, "01234567890123456789012345678901"},
		{{"v=STSv1; id=012345678901234567890123456789012"}, -1, NULL},
		{{"v=STSv1; id=a-b"}, -1, NULL},
		{{"v=STSv1; id="}, -1, NULL},
		{{"v=STSv1;"}, -1, NULL},
		{{"v=STSv1; id=a", "v=STSv1; id=b"}, -1, NULL},
		{{"v=STSv2; id=a"}, -1, NULL},
		{{"id=a; v=STSv1"}, -1, NULL},
		{{"v=STSv1 id=a"}, -1, NULL},
		{{"v=STSv1; junk"}, -1, NULL},
		{{"v=spf1"}, -1, NULL},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		size_t n = 0;
		while (n < 3 && table[i].txt[n] != NULL)
			n++;
		char id[MTASTS_ID_MAX + 1] = "";
		const char *err = NULL;
		int rc = mtasts_txt_parse((char *const *)table[i].txt, n, id, sizeof(id), &err);
		if (rc != table[i].rc)
			fail_msg("row %zu (%s): rc %d (%s)", i, table[i].txt[0], rc, err ? err : "");
		if (rc == 0)
			assert_string_equal(id, table[i].id);
	}
}

static void policy_table(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int rc;
		enum mtasts_mode mode;
		long max_age;
		size_t nmx;
	} table[] = {
		{"version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\n"
		 "max_age: 86400\n", 0, MTASTS_ENFORCE, 86400, 2},
		{"version: STSv1\r\nmode: testing\r\nmx: MX.Example.COM\r\nmax_age: 0\r\n", 0,
		 MTASTS_TESTING, 0, 1},
		{"version:STSv1\nmode:none\nmax_age:   604800   \n", 0, MTASTS_NONE, 604800, 0},
		{"version: STSv1\nmode: enforce\nmode: none\nmx: a.b\nmax_age: 5\nfuture: x\n\n", 0,
		 MTASTS_ENFORCE, 5, 1},
		{"version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 31557600", 0, MTASTS_ENFORCE,
		 31557600, 1},
		/* refused */
		{"version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 31557601\n", -1, 0, 0, 0},
		{"version: STSv1\nmode: enforce\nmx: a.b\nmax_age: -1\n", -1, 0, 0, 0},
		{"version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 99999999999999999999\n", -1, 0, 0, 0},
		{"version: STSv1\nmode: enforce\nmax_age: 10\n", -1, 0, 0, 0},
		{"version: STSv2\nmode: enforce\nmx: a.b\nmax_age: 10\n", -1, 0, 0, 0},
		{"mode: enforce\nmx: a.b\nmax_age: 10\n", -1, 0, 0, 0},
		{"version: STSv1\nmode: strict\nmx: a.b\nmax_age: 10\n", -1, 0, 0, 0},
		{"version: STSv1\nmode: enforce\nmx: a..b\nmax_age: 10\n", -1, 0, 0, 0},
		{"version: STSv1\nmode: enforce\nmx: *.\nmax_age: 10\n", -1, 0, 0, 0},
		{"version: STSv1\nmode: enforce\nmx: a.*.b\nmax_age: 10\n", -1, 0, 0, 0},
		{"version: STSv1\nmode: enforce\nmx: a b\nmax_age: 10\n", -1, 0, 0, 0},
		{"version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 10\n<html>\n", -1, 0, 0, 0},
		{"version: STSv1\nmode: enforce\nmx: a.b\x01\nmax_age: 10\n", -1, 0, 0, 0},
		{"<html><body>Not found</body></html>", -1, 0, 0, 0},
		{"", -1, 0, 0, 0},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		struct mtasts_policy p;
		const char *err = NULL;
		int rc = mtasts_policy_parse(table[i].in, strlen(table[i].in), &p, &err);
		if (rc != table[i].rc)
			fail_msg("row %zu: rc %d (%s)", i, rc, err ? err : "");
		if (rc < 0)
			continue;
		assert_int_equal(p.mode, table[i].mode);
		assert_int_equal(p.max_age, table[i].max_age);
		assert_int_equal(p.nmx, table[i].nmx);
	}
	/* a NUL inside and more mx patterns than MTASTS_MX_MAX are refused too */
	struct mtasts_policy p;
	const char *err = NULL;
	assert_int_equal(mtasts_policy_parse("version: STSv1\0", 15, &p, &err), -1);
	char *many = sg_malloc(MTASTS_POLICY_MAX);
	size_t o = (size_t)snprintf(many, 100, "version: STSv1\nmode: enforce\nmax_age: 1\n");
	for (int i = 0; i <= MTASTS_MX_MAX; i++)
		o += (size_t)snprintf(many + o, 100, "mx: m%d.example\n", i);
	assert_int_equal(mtasts_policy_parse(many, o, &p, &err), -1);
	assert_string_equal(err, "policy has too many mx patterns");
	sg_free(&many);
}

static void mx_match_table(void **state)
{
	(void)state;
	struct mtasts_policy p;
	const char *err = NULL;
	const char *pol = "version: STSv1\nmode: enforce\nmax_age: 1\nmx: mail.example.com\n"
	                  "mx: *.example.net\n";
	assert_int_equal(mtasts_policy_parse(pol, strlen(pol), &p, &err), 0);
	static const struct {
		const char *mx;
		bool match;
	} table[] = {
		{"mail.example.com", true}, {"MAIL.Example.com.", true}, {"mx1.example.net", true},
		{"mx1.example.net.", true}, {"example.net", false}, {"a.mx1.example.net", false},
		{"mail.example.com.evil", false}, {"xmail.example.com", false}, {".example.net", false},
		{"", false}, {"evil-example.net", false},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (mtasts_mx_match(&p, table[i].mx) != table[i].match)
			fail_msg("%s: match %d", table[i].mx, !table[i].match);
}

static void cache_in_store(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_mtasts.XXXXXX";
	assert_non_null(mkdtemp(dir));
	const char *err = NULL;
	struct store *st = store_open("sqlite:t.db", dir, &err);
	assert_non_null(st);
	struct store_mta_sts row = {.domain = "Example.COM", .id = "id1",
	                            .policy = "version: STSv1\n", .fetched = 10, .expires = 20};
	assert_int_equal(store_mta_sts_put(st, &row, &err), 0);
	row.policy = "version: STSv1\nmode: none\n";
	sg_strlcpy(row.id, "id2", sizeof(row.id));
	assert_int_equal(store_mta_sts_put(st, &row, &err), 0);
	struct store_mta_sts got;
	assert_int_equal(store_mta_sts_get(st, "example.com", &got, &err), 1);
	assert_string_equal(got.id, "id2");
	assert_string_equal(got.policy, "version: STSv1\nmode: none\n");
	assert_int_equal(got.expires, 20);
	store_mta_sts_free(&got);
	assert_int_equal(store_mta_sts_delete(st, "example.com", &err), 1);
	assert_int_equal(store_mta_sts_get(st, "example.com", &got, &err), 0);
	assert_int_equal(store_mta_sts_delete(st, "example.com", &err), 0);
	/* the tls_policy table takes the mode mta-sts */
	enum tls_policy_mode mode;
	assert_int_equal(tls_policy_mode_parse("mta-sts", &mode), 0);
	assert_int_equal(store_tls_policy_set(st, "Example.NET", mode, &err), 0);
	assert_int_equal(store_tls_policy_get(st, "example.net", &mode, &err), 1);
	assert_string_equal(tls_policy_mode_name(mode), "mta-sts");
	assert_string_equal(tls_policy_mode_choices(), "may|encrypt|dane|mta-sts");
	assert_int_equal(store_tls_policy_delete(st, "example.net", &err), 1);
	assert_int_equal(store_tls_policy_delete(st, "example.net", &err), 0);
	store_close(&st);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(txt_table),
		cmocka_unit_test(policy_table),
		cmocka_unit_test(mx_match_table),
		cmocka_unit_test(cache_in_store),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

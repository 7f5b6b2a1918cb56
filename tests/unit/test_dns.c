/* test_dns.c: the parts of the outbound-TLS code that need no network, by table: IDNA names,
 * SMIMEA/OPENPGPKEY owner names (RFC 7929's own example), which TLSA records RFC 7672 lets
 * SMTP use, the TLS mode names, the tls_policy table, resolver settings refused with a reason.
 * Lookups themselves run against a real unbound in tests/integration/test_dns.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "dns/dns.h"
#include "smtp/smtpc.h"
#include "store/store.h"
#include "store/store_tls_policy.h"
#include "core/sg_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void names_are_lower_case_a_labels(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out; /* out NULL: refused */
	} rows[] = {
		{"Example.ORG", "example.org"},
		{"b\xc3\xbc" "cher.example", "xn--bcher-kva.example"},
		{"M\xc3\xbcLLER.de", "xn--mller-kva.de"},
		{"", NULL},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char out[DNS_NAME_MAX + 1];
		const char *err = NULL;
		int rc = dns_name_ascii(rows[i].in, out, sizeof(out), &err);
		if (rows[i].out == NULL) {
			assert_int_equal(rc, -1);
			assert_non_null(err);
		} else {
			assert_int_equal(rc, 0);
			assert_string_equal(out, rows[i].out);
		}
	}
	char small[8];
	const char *err;
	assert_int_equal(dns_name_ascii("much-too-long.example", small, sizeof(small), &err), -1);
}

static void hashed_owner_matches_rfc7929(void **state)
{
	(void)state;
	char name[DNS_NAME_MAX + 1];
	assert_int_equal(dns_hashed_owner("hugh", "_openpgpkey", "example.com", name, sizeof(name)), 0);
	assert_string_equal(name, "c93f1e400f26708f98cb19d936620da35eec8f72e57f9eec01c1afd6"
	                          "._openpgpkey.example.com");
	assert_int_equal(dns_hashed_owner("hugh", "_smimecert", "example.com", name, 20), -1);
}

static void only_dane_ta_and_ee_are_usable(void **state)
{
	(void)state;
	static const struct {
		uint8_t usage, selector, mtype;
		size_t len;
		bool usable;
	} rows[] = {
		{3, 1, 1, 32, true},  {3, 0, 0, 300, true}, {2, 0, 1, 32, true}, {2, 1, 2, 64, true},
		{0, 0, 1, 32, false}, {1, 1, 1, 32, false}, {4, 1, 1, 32, false},
		{3, 2, 1, 32, false}, {3, 1, 3, 32, false}, {3, 1, 1, 0, false},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct dns_tlsa t = {.usage = rows[i].usage, .selector = rows[i].selector,
		                     .mtype = rows[i].mtype, .len = rows[i].len};
		assert_int_equal(smtpc_tlsa_usable(&t), rows[i].usable);
	}
}

static void mode_names_round_trip(void **state)
{
	(void)state;
	for (unsigned int m = 0; m < TLS_POLICY_MODES; m++) {
		enum tls_policy_mode back;
		const char *name = tls_policy_mode_name((enum tls_policy_mode)m);
		assert_non_null(name);
		assert_int_equal(tls_policy_mode_parse(name, &back), 0);
		assert_int_equal(back, m);
		assert_non_null(strstr(tls_policy_mode_choices(), name));
	}
	enum tls_policy_mode m;
	assert_int_equal(tls_policy_mode_parse("DANE", &m), -1);
	assert_int_equal(tls_policy_mode_parse("none", &m), -1);
	assert_null(tls_policy_mode_name(TLS_POLICY_MODES));
}

static void policy_table_set_get_list_delete(void **state)
{
	(void)state;
	char dir[] = "/tmp/sg-dns-XXXXXX";
	assert_non_null(mkdtemp(dir));
	const char *err;
	struct store *st = store_open("sqlite:t.db", dir, &err);
	assert_non_null(st);
	enum tls_policy_mode m = TLS_POLICY_MAY;
	assert_int_equal(store_tls_policy_get(st, "example.org", &m, &err), 0);
	assert_int_equal(store_tls_policy_set(st, "example.org", TLS_POLICY_ENCRYPT, &err), 0);
	assert_int_equal(store_tls_policy_set(st, "EXAMPLE.org", TLS_POLICY_DANE, &err), 0);
	assert_int_equal(store_tls_policy_set(st, "a.example", TLS_POLICY_MAY, &err), 0);
	assert_int_equal(store_tls_policy_get(st, "Example.Org", &m, &err), 1);
	assert_int_equal(m, TLS_POLICY_DANE);
	struct store_tls_policy *rows = NULL;
	size_t n = 0;
	assert_int_equal(store_tls_policy_list(st, &rows, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].domain, "a.example");
	assert_int_equal(rows[1].mode, TLS_POLICY_DANE);
	sg_free(&rows);
	assert_int_equal(store_tls_policy_delete(st, "example.org", &err), 1);
	assert_int_equal(store_tls_policy_delete(st, "example.org", &err), 0);
	store_close(&st);
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void bad_resolver_settings_are_refused(void **state)
{
	(void)state;
	static const struct {
		const char *resolver, *anchor;
	} rows[] = {
		{"dns.example.org", ""},          /* a name, not an address */
		{"127.0.0.1@99999", ""},          /* port out of range */
		{"", ""},                         /* nothing */
		{"127.0.0.1", "/nonexistent/root.key"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct dns_config cfg = {.resolver = rows[i].resolver, .trust_anchor = rows[i].anchor,
		                         .timeout_ms = 1000};
		struct dns_resolver *r = NULL;
		const char *err = NULL;
		assert_int_equal(dns_resolver_new(&cfg, &r, &err), -1);
		assert_null(r);
		assert_non_null(err);
	}
	struct dns_config ok = {.resolver = "127.0.0.1@5353, ::1", .trust_anchor = "",
	                        .timeout_ms = 1000};
	struct dns_resolver *r = NULL;
	const char *err;
	assert_int_equal(dns_resolver_new(&ok, &r, &err), 0);
	dns_resolver_free(&r);
	assert_null(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names_are_lower_case_a_labels),
		cmocka_unit_test(hashed_owner_matches_rfc7929),
		cmocka_unit_test(only_dane_ta_and_ee_are_usable),
		cmocka_unit_test(mode_names_round_trip),
		cmocka_unit_test(policy_table_set_get_list_delete),
		cmocka_unit_test(bad_resolver_settings_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

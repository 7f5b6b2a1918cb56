/* test_lookup.c: key discovery's own pieces without a network: the WKD hash (the draft's
 * example), URL escaping, the SMIMEA rdata decoder, the settings a chain is made of (each
 * source once, "off" alone, URL lists split at white space), the refusals before any source is
 * asked (internal domain, unusual address), an unreachable source ending as a failure within
 * its budget, and the cache (hits, misses, expiry, forget). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/settings.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "core/sg_time.h"
#include "lookup/lookup_priv.h"
#include "store/store.h"
#include "store/store_lookup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void wkd_hash_is_the_drafts(void **state)
{
	(void)state;
	char h[33];
	/* draft-koch-openpgp-webkey-service, section 3.1: "Joe.Doe" */
	assert_int_equal(lookup_wkd_hash("Joe.Doe", 7, h, sizeof(h)), 0);
	assert_string_equal(h, "iy9q119eutrkn8s1mk4r39qejnbu3n5q");
	assert_int_equal(lookup_wkd_hash("joe.doe", 7, h, sizeof(h)), 0);
	assert_string_equal(h, "iy9q119eutrkn8s1mk4r39qejnbu3n5q");
	assert_int_equal(lookup_wkd_hash("x", 1, h, 32), -1);
}

static void url_escape(void **state)
{
	(void)state;
	char out[64];
	assert_int_equal(lookup_url_escape("bob+x@a.b", 9, out, sizeof(out)), 0);
	assert_string_equal(out, "bob%2Bx%40a.b");
	assert_int_equal(lookup_url_escape("a&b=c/d?", 8, out, sizeof(out)), 0);
	assert_string_equal(out, "a%26b%3Dc%2Fd%3F");
	assert_int_equal(lookup_url_escape("@@@@", 4, out, 12), -1);
}

static void smimea_rdata(void **state)
{
	(void)state;
	const unsigned char cert[] = {3, 0, 0, 0x30, 0x82, 0x01};
	const unsigned char digest[] = {3, 0, 1, 0xaa, 0xbb};
	const unsigned char spki[] = {3, 1, 0, 0x30};
	const unsigned char undefined[] = {7, 0, 0, 0x30};
	const unsigned char *der = NULL;
	size_t len = 0;
	assert_int_equal(lookup_dns_smimea_cert(cert, sizeof(cert), &der, &len), 1);
	assert_ptr_equal(der, cert + 3);
	assert_int_equal(len, 3);
	assert_int_equal(lookup_dns_smimea_cert(digest, sizeof(digest), &der, &len), 0);
	assert_int_equal(lookup_dns_smimea_cert(spki, sizeof(spki), &der, &len), 0);
	assert_int_equal(lookup_dns_smimea_cert(undefined, sizeof(undefined), &der, &len), 0);
	assert_int_equal(lookup_dns_smimea_cert(cert, 3, &der, &len), -1);
	assert_int_equal(lookup_dns_smimea_cert(NULL, 0, &der, &len), -1);
}

static int check(const char *key, const char *value)
{
	char why[256];
	return settings_validate(settings_find(key), value, why, sizeof(why));
}

static void chain_settings(void **state)
{
	(void)state;
	assert_int_equal(check("policy.key_lookup", "off"), 0);
	assert_int_equal(check("policy.key_lookup", "ldap, vks,hkp wkd,dns"), 0);
	assert_int_equal(check("policy.key_lookup", "ldap,ldap"), -1);
	assert_int_equal(check("policy.key_lookup", "off,ldap"), -1);
	assert_int_equal(check("policy.key_lookup", "gpg"), -1);
	assert_int_equal(check("lookup.ldap", "ldap://h/ou=a,o=b ldaps://h2:636/c=DE"), 0);
	assert_int_equal(check("lookup.ldap", "http://h/"), -1);
	assert_int_equal(check("lookup.vks", "https://keys.openpgp.org"), 0);
	assert_int_equal(check("lookup.vks", "http://keys.openpgp.org"), -1);
	assert_int_equal(check("lookup.hkp", "https://"), -1);
}

static struct settings *load(const char *dir, const char *lookup_text)
{
	char text[2048], path[128], *errors = NULL;
	snprintf(path, sizeof(path), "%s/sealgate.conf", dir);
	snprintf(text, sizeof(text),
	         "[gateway]\nhostname = gw.example.test\ninternal_domains = example.test\n"
	         "[smtp]\nlisten = 127.0.0.1:1\n"
	         "[route]\ninternal = maildir:/tmp/x\nexternal = maildir:/tmp/y\n%s", lookup_text);
	struct settings *s = settings_load_text(path, text, &errors);
	if (s == NULL)
		fail_msg("settings: %s", errors);
	return s;
}

static void refusals_before_any_source(void **state)
{
	(void)state;
	struct settings *s = load("/tmp", "[policy]\nkey_lookup = ldap\n[lookup]\n"
	                                  "ldap = ldap://127.0.0.1:1/o=x\nmax_wait = 1s\n");
	const char *err;
	struct lookup *lk = lookup_new(s, NULL, &err);
	assert_non_null(lk);
	assert_true(lookup_enabled(lk));
	assert_true(lookup_is_internal(lk, "carol@EXAMPLE.test."));
	struct lookup_answer a;
	lookup_ask(lk, LOOKUP_LDAP, "carol@example.test", 1000, &a);
	assert_int_equal(a.outcome, LOOKUP_REFUSED);
	assert_non_null(strstr(a.detail, "internal"));
	lookup_ask(lk, LOOKUP_LDAP, "x)(mail=*@partner.test", 1000, &a);
	assert_int_equal(a.outcome, LOOKUP_REFUSED);
	lookup_ask(lk, LOOKUP_LDAP, "\"quoted\"@partner.test", 1000, &a);
	assert_int_equal(a.outcome, LOOKUP_REFUSED);
	/* nothing listens on port 1: a failure, within the budget */
	int64_t t0 = sg_mono_ms();
	lookup_ask(lk, LOOKUP_LDAP, "bob@partner.test", 1000, &a);
	assert_int_equal(a.outcome, LOOKUP_FAILED);
	assert_true(sg_mono_ms() - t0 < 3000);
	lookup_answer_clear(&a);
	lookup_free(&lk);
	settings_free(&s);
}

static void cache_hits_misses_and_expiry(void **state)
{
	(void)state;
	char dir[64];
	snprintf(dir, sizeof(dir), "/tmp/sg-lookup-XXXXXX");
	assert_non_null(mkdtemp(dir));
	const char *err = NULL;
	struct store *st = store_open("sqlite:store.db", dir, &err);
	assert_non_null(st);
	unsigned char der[] = {0x30, 0x03, 0x02, 0x01, 0x01};
	struct store_lookup e = {.kind = STORE_LOOKUP_SMIME, .data = der, .data_len = sizeof(der),
	                         .looked_at = 1000, .expires = 2000};
	sg_strlcpy(e.address, "Bob@Partner.test", sizeof(e.address));
	sg_strlcpy(e.source, "ldap", sizeof(e.source));
	assert_int_equal(store_lookup_put(st, &e, &err), 0);
	struct store_lookup got;
	assert_int_equal(store_lookup_get(st, "bob@partner.test", 1500, &got, &err), 1);
	assert_int_equal(got.kind, STORE_LOOKUP_SMIME);
	assert_int_equal(got.data_len, sizeof(der));
	assert_memory_equal(got.data, der, sizeof(der));
	store_lookup_clear(&got);
	assert_int_equal(store_lookup_get(st, "bob@partner.test", 2000, &got, &err), 0); /* expired */
	struct store_lookup miss = {.kind = STORE_LOOKUP_NONE, .looked_at = 1000, .expires = 5000};
	sg_strlcpy(miss.address, "carol@partner.test", sizeof(miss.address));
	sg_strlcpy(miss.source, "ldap,vks", sizeof(miss.source));
	assert_int_equal(store_lookup_put(st, &miss, &err), 0);
	assert_int_equal(store_lookup_get(st, "carol@partner.test", 1500, &got, &err), 1);
	assert_int_equal(got.kind, STORE_LOOKUP_NONE);
	assert_null(got.data);
	store_lookup_clear(&got);
	size_t n = 0;
	assert_int_equal(store_lookup_forget(st, NULL, &n, &err), 0);
	assert_int_equal(n, 2);
	store_close(&st);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(wkd_hash_is_the_drafts),
		cmocka_unit_test(url_escape),
		cmocka_unit_test(smimea_rdata),
		cmocka_unit_test(chain_settings),
		cmocka_unit_test(refusals_before_any_source),
		cmocka_unit_test(cache_hits_misses_and_expiry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_sgdkim.c: DKIM names, keys and signatures (crypto/sgdkim.h): selectors and domains are
 * DNS labels only, anything but an RSA or Ed25519 private key is refused with a reason, and a
 * signature (rsa2048 and Ed25519) is one relaxed/relaxed DKIM-Signature field folded with CRLF
 * that libopendkim's own verifier accepts, and refuses once a body byte changed. (dkimpy
 * verifies the signatures in tests/integration/test_dkim.py.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/limits.h"
#include "core/sg_buf.h"
#include "core/sg_mem.h"
#include "crypto/sgdkim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void names_are_dns_labels(void **state)
{
	(void)state;
	const char *err;
	static const char *const good[] = {"s1", "sg20261207", "mail-2026", "a_b"};
	static const char *const bad[] = {"", "my selector", "a.b", "-a", "a-", "s\n1", "s;1",
	                                  "0123456789012345678901234567890123456789012345678901234567890123"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(sgdkim_selector_check(good[i], &err), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sgdkim_selector_check(bad[i], &err), -1);
	assert_int_equal(sgdkim_domain_check("gw.example.com", &err), 0);
	assert_int_equal(sgdkim_domain_check("example..com", &err), -1);
	assert_int_equal(sgdkim_domain_check("example.com.", &err), -1);
	assert_int_equal(sgdkim_domain_check("ex ample.com", &err), -1);
}

static void what_is_not_a_key_is_refused(void **state)
{
	(void)state;
	char *pem = NULL, *dns = NULL;
	size_t n = 0;
	enum sgdkim_alg alg;
	const char *err = NULL;
	static const char junk[] = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n";
	assert_int_equal(sgdkim_key_load(junk, strlen(junk), &pem, &n, &alg, &dns, &err), -1);
	assert_non_null(strstr(err, "not a private key"));
	assert_int_equal(sgdkim_key_load("", 0, &pem, &n, &alg, &dns, &err), -1);
	assert_null(pem);
	assert_null(dns);
}

/* libopendkim's own verifier (file query method) on field + msg with the key record dns. */
static void verified_by_libopendkim(const struct sg_buf *field, const char *msg,
                                    const char *dns, const char *want)
{
	char keys[] = "/tmp/sg-sgdkim-keys-XXXXXX", res[256];
	int fd = mkstemp(keys);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fprintf(f, "s1._domainkey.example.com %s\n", dns);
	assert_int_equal(fclose(f), 0);
	struct sgdkim_lib *v = NULL;
	const char *err;
	assert_int_equal(sgdkim_lib_new(&v, keys, &err), 0);
	struct sg_buf m;
	sg_buf_init(&m, 1 << 16);
	sg_buf_append(&m, field->data, field->len);
	sg_buf_append_str(&m, msg);
	sgdkim_verify(v, m.data, m.len, res, sizeof(res));
	assert_string_equal(res, want);
	m.data[m.len - 4] ^= 1; /* one byte of the body changed */
	sgdkim_verify(v, m.data, m.len, res, sizeof(res));
	assert_non_null(strstr(res, "dkim=fail"));
	sg_buf_free(&m);
	sgdkim_lib_free(&v);
	unlink(keys);
}

static void generated_keys_sign(void **state)
{
	(void)state;
	struct sgdkim_lib *lib = NULL;
	const char *err = NULL;
	assert_int_equal(sgdkim_lib_new(&lib, NULL, &err), 0);
	static const char msg[] = "From: a@example.com\r\nTo: b@partner.test\r\nSubject: x\r\n"
	                          "Date: Mon, 07 Dec 2026 10:00:00 +0000\r\n\r\nbody\r\n";
	for (int a = SGDKIM_RSA2048; a <= SGDKIM_ED25519; a++) {
		char *pem = NULL, *again = NULL, *dns = NULL;
		size_t n = 0, n2 = 0;
		enum sgdkim_alg alg;
		assert_int_equal(sgdkim_key_generate((enum sgdkim_alg)a, &pem, &n, &err), 0);
		assert_int_equal(sgdkim_key_load(pem, n, &again, &n2, &alg, &dns, &err), 0);
		assert_int_equal(alg, a);
		assert_non_null(strstr(dns, a == SGDKIM_ED25519 ? "k=ed25519; p=" : "k=rsa; p=MII"));
		struct sgdkim_key key = {.domain = "example.com", .selector = "s1", .alg = alg,
		                         .pem = again, .pem_len = n2};
		struct sg_buf field;
		sg_buf_init(&field, SG_DKIM_FIELD_MAX + 64);
		assert_int_equal(sgdkim_sign(lib, &key, msg, strlen(msg), &field, &err), 0);
		assert_true(field.len > 100 && strncmp(field.data, "DKIM-Signature: v=1;", 20) == 0);
		assert_memory_equal(field.data + field.len - 2, "\r\n", 2);
		for (size_t i = 0; i < field.len; i++)
			if (field.data[i] == '\n')
				assert_int_equal(field.data[i - 1], '\r');
		assert_non_null(memmem(field.data, field.len, "c=relaxed/relaxed", 17));
		verified_by_libopendkim(&field, msg, dns, "dkim=pass header.d=example.com header.s=s1");
		sg_buf_free(&field);
		sg_free_secret(&pem, n);
		sg_free_secret(&again, n2);
		sg_free(&dns);
	}
	sgdkim_lib_free(&lib);
}

/* A message carrying n ARC sets (i=1..n; their signatures are not checked here). */
static char *with_arc_sets(int n, const char *msg)
{
	struct sg_buf b;
	sg_buf_init(&b, 1 << 20);
	for (int i = n; i >= 1; i--)
		sg_buf_printf(&b, "ARC-Seal: i=%d; a=rsa-sha256; cv=%s; d=x.test; s=s; b=AAAA\r\n"
		                  "ARC-Message-Signature: i=%d; a=rsa-sha256; d=x.test; s=s; h=from; "
		                  "bh=AAAA; b=AAAA\r\nARC-Authentication-Results: i=%d; x.test; none\r\n",
		              i, i == 1 ? "none" : "pass", i, i);
	sg_buf_append_str(&b, msg);
	sg_buf_append(&b, "", 1);
	size_t len;
	return sg_buf_steal(&b, &len);
}

/* RFC 8617: at most 50 sets; malformed sets make the chain fail; no sets: none. */
static void arc_chain_limits(void **state)
{
	(void)state;
	struct sgdkim_lib *lib = NULL;
	const char *err = NULL, *why = NULL;
	char *pem = NULL;
	size_t n = 0;
	int inst = -1;
	assert_int_equal(sgdkim_lib_new(&lib, NULL, &err), 0);
	assert_int_equal(sgdkim_key_generate(SGDKIM_RSA2048, &pem, &n, &err), 0);
	struct sgdkim_key key = {.domain = "example.com", .selector = "gw", .alg = SGDKIM_RSA2048,
	                         .pem = pem, .pem_len = n};
	static const char msg[] = "From: a@partner.test\r\nTo: b@example.com\r\nSubject: x\r\n\r\nbody\r\n";
	assert_int_equal(sgdkim_arc_validate(lib, msg, strlen(msg), &inst, &why), SGDKIM_CV_NONE);
	assert_int_equal(inst, 0);
	char *fifty = with_arc_sets(50, msg), *two = with_arc_sets(2, msg);
	struct sg_buf out;
	sg_buf_init(&out, 1 << 16);
	assert_int_equal(sgdkim_arc_seal(lib, &key, fifty, strlen(fifty), "gw; dkim=none",
	                                 SGDKIM_CV_FAIL, &out, &err), -1);
	assert_non_null(strstr(err, "50 ARC sets"));
	assert_int_equal(out.len, 0);
	/* a second i=2 seal: malformed, fail without looking up any key */
	char *dup = sg_malloc(strlen(two) + 128);
	snprintf(dup, strlen(two) + 128, "ARC-Seal: i=2; cv=pass; a=rsa-sha256; d=x; s=s; b=AAAA\r\n%s", two);
	assert_int_equal(sgdkim_arc_validate(lib, dup, strlen(dup), &inst, &why), SGDKIM_CV_FAIL);
	assert_non_null(strstr(why, "malformed"));
	/* over a failed chain our set (i=3) says cv=fail */
	assert_int_equal(sgdkim_arc_seal(lib, &key, two, strlen(two), "gw; dkim=none",
	                                 SGDKIM_CV_FAIL, &out, &err), 0);
	assert_non_null(memmem(out.data, out.len, "ARC-Seal: i=3; a=rsa-sha256;", 28));
	assert_non_null(memmem(out.data, out.len, "cv=fail", 7));
	sg_buf_free(&out);
	sg_free(&dup);
	sg_free(&two);
	sg_free(&fifty);
	sg_free_secret(&pem, n);
	sgdkim_lib_free(&lib);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names_are_dns_labels),
		cmocka_unit_test(what_is_not_a_key_is_refused),
		cmocka_unit_test(generated_keys_sign),
		cmocka_unit_test(arc_chain_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

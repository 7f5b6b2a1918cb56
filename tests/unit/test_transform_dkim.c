/* test_transform_dkim.c: the queue manager's DKIM key cache (crypto/sgdkim_cache.c, used by
 * queue/transform_dkim.c). Keys are parsed once per domain and selector, but the store stays
 * the authority: a key deleted and made anew under the same selector signs the next message
 * with the new key, a rotation adds the second signature at once, and deleted keys leave the
 * cache (and stop signing) with the next message. libopendkim's own verifier checks every
 * signature against the public key of the moment (its file query method). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sg_file.h"
#include "core/sg_mem.h"
#include "crypto/keystore.h"
#include "crypto/sgdkim.h"
#include "mime/mime.h"
#include "policy/policy.h"
#include "queue/transform.h"
#include "store/store.h"
#include "store/store_dkim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char dir[64], keys_path[128];
static struct transform_env te;
static struct sgdkim_lib *verifier;

static const char msg[] = "From: alice@example.com\r\nTo: bob@partner.test\r\nSubject: hi\r\n"
                          "Date: Mon, 07 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
                          "Content-Type: text/plain\r\n\r\nfigures 42\r\n";

static int setup(void **state)
{
	(void)state;
	const char *err;
	char path[128];
	snprintf(dir, sizeof(dir), "/tmp/sg-tdkim-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/master.key", dir);
	snprintf(keys_path, sizeof(keys_path), "%s/keys", dir);
	te.dkim_mode = TRANSFORM_DKIM_TRANSFORMED;
	if (keystore_master_create(path, &err) < 0 || keystore_open(path, &te.keystore, &err) < 0 ||
	    (te.store = store_open("sqlite:t.db", dir, &err)) == NULL ||
	    sgdkim_lib_new(&te.dkim_lib, NULL, &err) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sgdkim_lib_free(&te.dkim_lib);
	store_close(&te.store);
	keystore_close(&te.keystore);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A new key for example.com/selector in the store; its DNS record becomes the only one the
 * verifier knows for that selector (keys file lines: "NAME RECORD"). */
static void add_key(const char *selector, enum sgdkim_alg alg, char *dns_line, size_t size)
{
	char *pem = NULL, *again = NULL, *dns = NULL, owner[64];
	size_t n = 0, n2 = 0;
	enum sgdkim_alg got;
	const char *err;
	assert_int_equal(sgdkim_key_generate(alg, &pem, &n, &err), 0);
	assert_int_equal(sgdkim_key_load(pem, n, &again, &n2, &got, &dns, &err), 0);
	struct store_dkim_key k = {.domain = "example.com", .dns = dns, .created = time(NULL)};
	snprintf(k.selector, sizeof(k.selector), "%s", selector);
	snprintf(k.alg, sizeof(k.alg), "%s", sgdkim_alg_name(alg));
	snprintf(owner, sizeof(owner), "dkim:example.com:%s", selector);
	assert_int_equal(keystore_seal_bytes(te.keystore, again, n2, owner, &k.sealed,
	                                     &k.sealed_len, &err), 0);
	assert_int_equal(store_dkim_add(te.store, &k, &err), 1);
	snprintf(dns_line, size, "%s._domainkey.example.com %s\n", selector, dns);
	sg_free(&k.sealed);
	sg_free(&dns);
	sg_free_secret(&pem, n);
	sg_free_secret(&again, n2);
}

static void delete_key(const char *selector)
{
	const char *err;
	assert_int_equal(store_dkim_delete(te.store, "example.com", selector, &err), 1);
}

/* The verifier, knowing exactly the records given. */
static void publish(const char *a, const char *b)
{
	const char *err;
	FILE *f = fopen(keys_path, "w");
	assert_non_null(f);
	fputs(a, f);
	fputs(b, f);
	assert_int_equal(fclose(f), 0);
	sgdkim_lib_free(&verifier);
	assert_int_equal(sgdkim_lib_new(&verifier, keys_path, &err), 0);
}

/* msg through transform_dkim as the queue manager sends it; the number of signatures, and
 * libopendkim's verdict on the first in res. */
static int sign(char *res, size_t size)
{
	struct mime_info info;
	const char *err;
	assert_int_equal(mime_info_parse(msg, strlen(msg), &info, &err), 0);
	struct policy_plan plan = {.direction = POLICY_DIR_OUTBOUND, .action = POLICY_SMIME};
	const char *rcpts[] = {"bob@partner.test"};
	struct transform_input in = {.queue_id = "q1", .data = msg, .len = strlen(msg),
	                             .mime = &info, .plan = &plan, .rcpts = rcpts, .nrcpt = 1};
	struct transform_output out;
	transform_output_init(&out);
	out.data = msg;
	out.len = strlen(msg);
	assert_int_equal(transform_dkim(&te, &in, &out), TRANSFORM_OK);
	int n = 0;
	for (const char *p = out.data; (p = memmem(p, out.len - (size_t)(p - out.data),
	                                          "DKIM-Signature:", 15)) != NULL; p++)
		n++;
	sgdkim_verify(verifier, out.data, out.len, res, size);
	transform_output_free(&out);
	mime_info_free(&info);
	return n;
}

static void rotate_and_delete_apply_to_the_next_message(void **state)
{
	(void)state;
	char s1[1024], s1_new[1024], s2[1024], res[512];
	add_key("s1", SGDKIM_RSA2048, s1, sizeof(s1));
	publish(s1, "");
	assert_int_equal(sign(res, sizeof(res)), 1);
	assert_string_equal(res, "dkim=pass header.d=example.com header.s=s1");
	assert_int_equal(sgdkim_cache_size(te.dkim_lib), 1);

	/* s1 deleted and made anew: the parsed old key must not sign any more */
	delete_key("s1");
	add_key("s1", SGDKIM_RSA2048, s1_new, sizeof(s1_new));
	publish(s1_new, "");
	assert_int_equal(sign(res, sizeof(res)), 1);
	assert_string_equal(res, "dkim=pass header.d=example.com header.s=s1");
	assert_int_equal(sgdkim_cache_size(te.dkim_lib), 1);

	/* rotation: s2 (ed25519) signs beside s1 from the next message on */
	add_key("s2", SGDKIM_ED25519, s2, sizeof(s2));
	publish(s1_new, s2);
	assert_int_equal(sign(res, sizeof(res)), 2);
	assert_int_equal(strncmp(res, "dkim=pass", 9), 0);
	assert_int_equal(sgdkim_cache_size(te.dkim_lib), 2);

	/* the old selector deleted: only s2 signs, and s1's key leaves the cache */
	delete_key("s1");
	publish("", s2);
	assert_int_equal(sign(res, sizeof(res)), 1);
	assert_string_equal(res, "dkim=pass header.d=example.com header.s=s2");
	assert_int_equal(sgdkim_cache_size(te.dkim_lib), 1);

	/* no key left: unsigned, nothing cached */
	delete_key("s2");
	assert_int_equal(sign(res, sizeof(res)), 0);
	assert_int_equal(sgdkim_cache_size(te.dkim_lib), 0);
	sgdkim_lib_free(&verifier);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rotate_and_delete_apply_to_the_next_message),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

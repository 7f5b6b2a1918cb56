/* test_transform_pgp.c: outbound PGP/MIME and the worker thread's key cache. A partner's key
 * re-imported under the same primary fingerprint with a newer encryption subkey (made by gpg)
 * is used from the next message on: the thread's RNP context and its recipient cache are
 * dropped when the store changed. gpg --list-packets names the subkey each message went to. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sg_file.h"
#include "core/sg_mem.h"
#include "policy/policy.h"
#include "queue/transform.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[64];
static struct store *st;
static int64_t bob_id;
static char fpr[64], sub1[20], sub2[20];

static const char msg[] = "From: alice@example.com\r\nTo: bob@partner.test\r\nSubject: hi\r\n"
                          "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nfigures 42\r\n";

static int sh(const char *script)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "cd %s && export GNUPGHOME=$PWD/gnupg && %s", dir, script);
	return system(cmd);
}

static void read_line(const char *name, char *dst, size_t size)
{
	char path[128], *data = NULL;
	size_t len = 0;
	const char *err;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(sg_file_read_all(path, 256, &data, &len, &err), 0);
	assert_true(len > 8 && len < size);
	memcpy(dst, data, len);
	dst[len] = '\0';
	dst[strcspn(dst, "\n")] = '\0';
	sg_free(&data);
}

/* Bob's key as gpg makes it: an RSA primary with one encryption subkey (v1.pgp), then with a
 * second, newer one (v2.pgp); the times are fixed so that the second is the newer. */
static int setup(void **state)
{
	(void)state;
	const char *err;
	snprintf(dir, sizeof(dir), "/tmp/sg-tpgp-XXXXXX");
	if (mkdtemp(dir) == NULL || (st = store_open("sqlite:t.db", dir, &err)) == NULL ||
	    store_user_ensure(st, "bob@partner.test", STORE_USER_EXTERNAL, &bob_id, &err) < 0)
		return -1;
	const char *gpg = "gpg --batch --quiet --pinentry-mode loopback --passphrase ''";
	char script[1600];
	snprintf(script, sizeof(script),
	         "mkdir -m700 gnupg && "
	         "%s --faked-system-time 1700000000! --quick-gen-key 'Bob <bob@partner.test>' "
	         "rsa2048 sign,cert never 2>/dev/null && "
	         "gpg --with-colons --list-keys bob@partner.test | awk -F: '/^fpr:/{print $10; exit}' "
	         "> fpr && "
	         "%s --faked-system-time 1700000100! --quick-add-key $(cat fpr) rsa2048 encr never "
	         "2>/dev/null && gpg --export $(cat fpr) > v1.pgp && "
	         "%s --faked-system-time 1700000200! --quick-add-key $(cat fpr) rsa2048 encr never "
	         "2>/dev/null && gpg --export $(cat fpr) > v2.pgp && "
	         "gpg --with-colons --list-keys $(cat fpr) | awk -F: '/^sub:/{print $5}' > subs && "
	         "head -1 subs > sub1 && tail -1 subs > sub2",
	         gpg, gpg, gpg);
	if (sh(script) != 0)
		return -1;
	read_line("fpr", fpr, sizeof(fpr));
	read_line("sub1", sub1, sizeof(sub1));
	read_line("sub2", sub2, sizeof(sub2));
	return strcmp(sub1, sub2) != 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	store_close(&st);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "gpgconf --homedir %s/gnupg --kill all; rm -rf %s", dir, dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void store_key(const char *file)
{
	char path[128], *data = NULL;
	size_t len = 0;
	const char *err;
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	assert_int_equal(sg_file_read_all(path, 1 << 20, &data, &len, &err), 0);
	struct store_pgp_key k = {.user_id = bob_id, .keydata = (unsigned char *)data,
	                          .keydata_len = len, .source = STORE_PGP_IMPORTED,
	                          .status = STORE_PGP_ACTIVE};
	snprintf(k.fingerprint, sizeof(k.fingerprint), "%s", fpr);
	int64_t id;
	assert_int_equal(store_pgp_add(st, &k, NULL, 0, &id, &err), 0);
	sg_free(&data);
}

/* Encrypts msg to bob as the queue manager would; the key id its PKESK names, per gpg. */
static void encrypted_to(char *keyid, size_t size)
{
	struct policy_plan plan = {.direction = POLICY_DIR_OUTBOUND, .action = POLICY_PGP};
	const char *rcpts[] = {"bob@partner.test"};
	struct transform_env te = {.store = st};
	struct transform_input in = {.queue_id = "Q1", .sender = "alice@example.com", .data = msg,
	                             .len = strlen(msg), .plan = &plan, .rcpts = rcpts,
	                             .nrcpt = 1};
	struct transform_output out;
	transform_output_init(&out);
	assert_int_equal(transform_pgp(&te, &in, &out), TRANSFORM_OK);
	const char *armor = memmem(out.data, out.len, "-----BEGIN PGP MESSAGE-----", 27);
	assert_non_null(armor);
	char path[128];
	const char *err;
	snprintf(path, sizeof(path), "%s/out.asc", dir);
	assert_int_equal(sg_file_write_atomic(path, armor, out.len - (size_t)(armor - out.data),
	                                      0600, &err), 0);
	transform_output_free(&out);
	assert_int_equal(sh("gpg --list-packets out.asc 2>/dev/null | "
	                    "sed -n 's/.*pubkey enc packet.*keyid \\([0-9A-F]*\\).*/\\1/p' > keyid"), 0);
	read_line("keyid", keyid, size);
}

static void replaced_subkey_is_used_right_after_the_store_changed(void **state)
{
	(void)state;
	char keyid[20];
	store_key("v1.pgp");
	encrypted_to(keyid, sizeof(keyid));
	assert_string_equal(keyid, sub1);
	encrypted_to(keyid, sizeof(keyid)); /* the thread's cache at work: the same */
	assert_string_equal(keyid, sub1);
	store_key("v2.pgp"); /* same primary fingerprint, a newer encryption subkey */
	encrypted_to(keyid, sizeof(keyid));
	assert_string_equal(keyid, sub2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(replaced_subkey_is_used_right_after_the_store_changed),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

/* test_keystore.c: the master key file and sealing private keys at rest: a blob opens only
 * with the same master key and owner, and any flipped byte makes it fail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sg_mem.h"
#include "crypto/keystore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/sg-keystore-XXXXXX");
	return mkdtemp(dir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct keystore *open_new(const char *name)
{
	char path[128];
	const char *err;
	struct keystore *ks = NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(keystore_master_create(path, &err), 0);
	assert_int_equal(keystore_open(path, &ks, &err), 0);
	return ks;
}

static void master_create_refuses_overwrite_and_open_checks_mode(void **state)
{
	(void)state;
	char path[128];
	const char *err;
	struct keystore *ks = NULL;
	snprintf(path, sizeof(path), "%s/m1", dir);
	assert_int_equal(keystore_master_create(path, &err), 0);
	assert_int_equal(keystore_master_create(path, &err), -1);
	assert_non_null(strstr(err, "refusing"));
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(keystore_open(path, &ks, &err), -1);
	assert_non_null(strstr(err, "chmod 600"));
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(keystore_open(path, &ks, &err), 0);
	keystore_close(&ks);
	assert_null(ks);
	assert_int_equal(truncate(path, 16), 0);
	assert_int_equal(keystore_open(path, &ks, &err), -1);
	assert_non_null(strstr(err, "wrong size"));
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(keystore_open(path, &ks, &err), -1);
}

/* A process that opened the key store leaves no core file and cannot be traced by the
 * account's other processes (checked in a child, which starts dumpable). */
static void open_key_store_makes_the_process_undumpable(void **state)
{
	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0 || prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 1)
			_exit(2);
		struct keystore *ks = open_new("m-dump");
		int dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
		keystore_close(&ks);
		_exit(dumpable == 0 ? 0 : 1);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void seal_round_trip_each_key_type(void **state)
{
	(void)state;
	static const char *const types[] = {"rsa3072", "p256", "p384"};
	struct keystore *ks = open_new("m2");
	for (size_t i = 0; i < 3; i++) {
		enum keystore_key_type type;
		struct keystore_key *key = NULL, *back = NULL;
		unsigned char *blob = NULL;
		size_t len = 0;
		const char *err;
		assert_int_equal(keystore_key_type_parse(types[i], &type), 0);
		assert_int_equal(keystore_key_generate(type, &key, &err), 0);
		assert_int_equal(keystore_key_is_rsa(key), i == 0);
		assert_int_equal(keystore_seal(ks, key, "cert:abc", &blob, &len, &err), 0);
		assert_int_equal(keystore_unseal(ks, blob, len, "cert:abc", &back, &err), 0);
		assert_int_equal(keystore_key_is_rsa(back), i == 0);
		keystore_key_free(&back);
		keystore_key_free(&key);
		assert_null(key);
		sg_free(&blob);
	}
	enum keystore_key_type type;
	assert_int_equal(keystore_key_type_parse("rsa1024", &type), -1);
	keystore_close(&ks);
}

static void tampered_swapped_or_foreign_blobs_fail(void **state)
{
	(void)state;
	struct keystore *ks = open_new("m3"), *other = open_new("m4");
	struct keystore_key *key = NULL, *back = NULL;
	unsigned char *blob = NULL;
	size_t len = 0;
	const char *err;
	assert_int_equal(keystore_key_generate(KEYSTORE_KEY_P256, &key, &err), 0);
	assert_int_equal(keystore_seal(ks, key, "cert:owner-1", &blob, &len, &err), 0);
	/* every single flipped byte, header, nonce, ciphertext and tag alike */
	for (size_t i = 0; i < len; i++) {
		blob[i] ^= 0x01;
		assert_int_equal(keystore_unseal(ks, blob, len, "cert:owner-1", &back, &err), -1);
		assert_null(back);
		blob[i] ^= 0x01;
	}
	assert_int_equal(keystore_unseal(ks, blob, len - 1, "cert:owner-1", &back, &err), -1);
	assert_int_equal(keystore_unseal(ks, blob, len, "cert:owner-2", &back, &err), -1);
	assert_non_null(strstr(err, "another record"));
	assert_int_equal(keystore_unseal(other, blob, len, "cert:owner-1", &back, &err), -1);
	assert_int_equal(keystore_unseal(ks, blob, 10, "cert:owner-1", &back, &err), -1);
	assert_int_equal(keystore_seal(ks, key, "", &blob, &len, &err), -1);
	assert_int_equal(keystore_unseal(ks, blob, len, "cert:owner-1", &back, &err), 0);
	keystore_key_free(&back);
	keystore_key_free(&key);
	sg_free(&blob);
	keystore_close(&ks);
	keystore_close(&other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(master_create_refuses_overwrite_and_open_checks_mode),
		cmocka_unit_test(open_key_store_makes_the_process_undumpable),
		cmocka_unit_test(seal_round_trip_each_key_type),
		cmocka_unit_test(tampered_swapped_or_foreign_blobs_fail),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

/* test_pgp_store.c: OpenPGP key rows in the store: add and update, listing order, the active
 * key of an address, Autocrypt learning with its pending-change rule, accept, delete, the
 * default channel, sealed secrets. */
#include "store/store.h"
#include "store/store_sqlite.h" /* store_sqlite_create_at: an instance of schema 6 */
#include "core/sg_mem.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#define FPR_A "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define FPR_B "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
#define FPR_C "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"

struct fx {
	char dir[64];
	struct store *st;
};

static int setup(void **state)
{
	struct fx *fx = sg_calloc(1, sizeof(*fx));
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/sg-pgpstore-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	const char *err = NULL;
	fx->st = store_open("sqlite:store.db", fx->dir, &err);
	assert_non_null(fx->st);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[128];
	store_close(&fx->st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
	assert_int_equal(system(cmd), 0);
	sg_free(&fx);
	return 0;
}

static int64_t user(struct store *st, const char *addr)
{
	int64_t id = 0;
	const char *err = NULL;
	assert_int_equal(store_user_ensure(st, addr, STORE_USER_EXTERNAL, &id, &err), 0);
	return id;
}

static void add(struct store *st, int64_t uid, const char *fpr, enum store_pgp_source src,
                const char *sealed)
{
	struct store_pgp_key k = {.user_id = uid, .source = src, .status = STORE_PGP_ACTIVE,
	                          .keydata = (unsigned char *)"KEY", .keydata_len = 3};
	int64_t id;
	const char *err = NULL;
	snprintf(k.fingerprint, sizeof(k.fingerprint), "%s", fpr);
	assert_int_equal(store_pgp_add(st, &k, (const unsigned char *)sealed,
	                               sealed != NULL ? strlen(sealed) : 0, &id, &err), 0);
	assert_true(id > 0);
}

static void add_list_find_delete(void **state)
{
	struct fx *fx = *state;
	const char *err = NULL;
	int64_t p = user(fx->st, "partner@other.test");
	add(fx->st, p, FPR_A, STORE_PGP_IMPORTED, NULL);
	add(fx->st, p, FPR_A, STORE_PGP_IMPORTED, NULL); /* the same key again: one row */
	struct store_pgp_key *keys = NULL;
	size_t n = 0;
	assert_int_equal(store_pgp_list(fx->st, "PARTNER@other.test", &keys, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(keys[0].fingerprint, FPR_A);
	assert_string_equal(keys[0].address, "partner@other.test");
	assert_false(keys[0].has_secret);
	assert_int_equal(keys[0].keydata_len, 3);
	store_pgp_list_free(&keys, n);
	struct store_pgp_key k;
	assert_int_equal(store_pgp_find_active(fx->st, "partner@other.test", &k, &err), 1);
	store_pgp_key_clear(&k);
	assert_int_equal(store_pgp_find_active(fx->st, "nobody@other.test", &k, &err), 0);
	size_t count = 0;
	assert_int_equal(store_pgp_delete_fpr(fx->st, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	                                      &count, &err), 0);
	assert_int_equal(count, 1);
	assert_int_equal(store_pgp_delete_address(fx->st, "partner@other.test", &count, &err), 0);
	assert_int_equal(count, 0);
}

static void secrets_and_channel(void **state)
{
	struct fx *fx = *state;
	const char *err = NULL;
	int64_t u = user(fx->st, "alice@example.test");
	add(fx->st, u, FPR_B, STORE_PGP_GENERATED, "SEALED");
	unsigned char *sealed = NULL;
	size_t len = 0;
	assert_int_equal(store_pgp_secret_get(fx->st, FPR_B, &sealed, &len, &err), 1);
	assert_memory_equal(sealed, "SEALED", 6);
	sg_free(&sealed);
	/* a later update without a secret keeps the sealed one */
	add(fx->st, u, FPR_B, STORE_PGP_GENERATED, NULL);
	assert_int_equal(store_pgp_secret_get(fx->st, FPR_B, &sealed, &len, &err), 1);
	sg_free(&sealed);
	assert_int_equal(store_pgp_secret_get(fx->st, FPR_A, &sealed, &len, &err), 0);

	int64_t p = user(fx->st, "partner@other.test");
	assert_int_equal(store_pgp_default_channel(fx->st, p, "pgp", &err), 0);
	assert_int_equal(store_pgp_default_channel(fx->st, p, "smime", &err), 0); /* chosen once */
	struct store_user su;
	assert_int_equal(store_user_find(fx->st, "partner@other.test", &su, &err), 1);
	assert_string_equal(su.channel, "pgp");
}

static void autocrypt_learning(void **state)
{
	struct fx *fx = *state;
	const char *err = NULL;
	enum store_pgp_learn res;
	size_t count = 0;
	int64_t p = user(fx->st, "partner@other.test");
	const unsigned char kd[] = "KEYDATA";
	assert_int_equal(store_pgp_learn_autocrypt(fx->st, p, FPR_A, kd, 7, 0, &res, &err), 0);
	assert_int_equal(res, STORE_PGP_LEARNED);
	assert_int_equal(store_pgp_learn_autocrypt(fx->st, p, FPR_A, kd, 7, 0, &res, &err), 0);
	assert_int_equal(res, STORE_PGP_UNCHANGED);
	/* a changed key never replaces the stored one silently */
	assert_int_equal(store_pgp_learn_autocrypt(fx->st, p, FPR_B, kd, 7, 0, &res, &err), 0);
	assert_int_equal(res, STORE_PGP_PENDING_CHANGE);
	assert_int_equal(store_pgp_learn_autocrypt(fx->st, p, FPR_C, kd, 7, 0, &res, &err), 0);
	assert_int_equal(res, STORE_PGP_PENDING_CHANGE);
	struct store_pgp_key k;
	assert_int_equal(store_pgp_find_active(fx->st, "partner@other.test", &k, &err), 1);
	assert_string_equal(k.fingerprint, FPR_A);
	assert_int_equal(k.source, STORE_PGP_AUTOCRYPT);
	store_pgp_key_clear(&k);
	struct store_pgp_key *keys = NULL;
	size_t n = 0;
	assert_int_equal(store_pgp_list(fx->st, "partner@other.test", &keys, &n, &err), 0);
	assert_int_equal(n, 2); /* the active one and the newest pending one */
	assert_int_equal(keys[0].status, STORE_PGP_ACTIVE);
	assert_int_equal(keys[1].status, STORE_PGP_PENDING);
	assert_string_equal(keys[1].fingerprint, FPR_C);
	store_pgp_list_free(&keys, n);
	/* the admin accepts: the pending key becomes the active one */
	assert_int_equal(store_pgp_accept(fx->st, "partner@other.test", &count, &err), 0);
	assert_int_equal(count, 1);
	assert_int_equal(store_pgp_find_active(fx->st, "partner@other.test", &k, &err), 1);
	assert_string_equal(k.fingerprint, FPR_C);
	store_pgp_key_clear(&k);
	assert_int_equal(store_pgp_list(fx->st, "partner@other.test", &keys, &n, &err), 0);
	assert_int_equal(n, 1);
	store_pgp_list_free(&keys, n);
	assert_int_equal(store_pgp_accept(fx->st, "partner@other.test", &count, &err), 0);
	assert_int_equal(count, 0);
	assert_int_equal(store_pgp_accept(fx->st, "unknown@other.test", &count, &err), 0);
	assert_int_equal(count, 0);
}

/* Issue 21: a learned key never outranks a trusted one, whichever came first; provenance
 * survives a round trip; an admin's accept confirms a learned key. */
static void provenance_and_rank(void **state)
{
	struct fx *fx = *state;
	const char *err = NULL;
	enum store_pgp_learn res;
	struct store_pgp_key k;
	int64_t p = user(fx->st, "partner@other.test");
	const unsigned char kd[] = "KEYDATA";
	assert_int_equal(store_pgp_learn_autocrypt(fx->st, p, FPR_A, kd, 7, 0, &res, &err), 0);
	assert_int_equal(res, STORE_PGP_LEARNED);
	assert_int_equal(store_pgp_find_active(fx->st, "partner@other.test", &k, &err), 1);
	assert_false(store_pgp_key_trusted(&k));
	store_pgp_key_clear(&k);
	add(fx->st, p, FPR_B, STORE_PGP_PORTAL, NULL); /* the partner uploads a key later */
	assert_int_equal(store_pgp_find_active(fx->st, "partner@other.test", &k, &err), 1);
	assert_string_equal(k.fingerprint, FPR_B);
	assert_int_equal(k.source, STORE_PGP_PORTAL);
	assert_true(store_pgp_key_trusted(&k));
	store_pgp_key_clear(&k);
	/* found by key id (the last 16 digits), for any address; never a LIKE pattern */
	struct store_pgp_key *keys = NULL;
	size_t n = 0;
	assert_int_equal(store_pgp_list_keyid(fx->st, "bbbbbbbbbbbbbbbb", &keys, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(keys[0].fingerprint, FPR_B);
	store_pgp_list_free(&keys, n);
	assert_int_equal(store_pgp_list_keyid(fx->st, "%%%%%%%%%%%%%%%%", &keys, &n, &err), 0);
	assert_int_equal(n, 0);
	/* a pending learned key an admin accepts counts as confirmed */
	int64_t q = user(fx->st, "other@other.test");
	add(fx->st, q, FPR_C, STORE_PGP_IMPORTED, NULL);
	assert_int_equal(store_pgp_learn_autocrypt(fx->st, q, FPR_A, kd, 7, 0, &res, &err), 0);
	assert_int_equal(res, STORE_PGP_PENDING_CHANGE);
	size_t count = 0;
	assert_int_equal(store_pgp_accept(fx->st, "other@other.test", &count, &err), 0);
	assert_int_equal(count, 1);
	assert_int_equal(store_pgp_find_active(fx->st, "other@other.test", &k, &err), 1);
	assert_string_equal(k.fingerprint, FPR_A);
	assert_true(k.confirmed > 0 && store_pgp_key_trusted(&k));
	store_pgp_key_clear(&k);
}

/* Schema 7 on an instance made before it: the rows survive with their source, nobody's
 * learned key is confirmed, and the trusted key of an address ranks first at once. The store
 * is made anew at version 6 and filled as such an instance was, so 7 and later run on it. */
static void migration_keeps_rows(void **state)
{
	struct fx *fx = *state;
	const char *err = NULL;
	store_close(&fx->st);
	char path[128];
	snprintf(path, sizeof(path), "%s/store.db", fx->dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(store_sqlite_create_at(path, 6, &err), 0);
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	char sql[1024];
	snprintf(sql, sizeof(sql),
	         "INSERT INTO users (id, address, kind, created) VALUES (7, 'partner@other.test', "
	         "'external', 1);"
	         "INSERT INTO pgp_keys VALUES (1, 7, '%s', x'00', NULL, 'imported', 'active', 0, 10);"
	         "INSERT INTO pgp_keys VALUES (2, 7, '%s', x'00', NULL, 'autocrypt', 'active', 0, 20);",
	         FPR_A, FPR_B);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	int64_t p = 7;
	fx->st = store_open("sqlite:store.db", fx->dir, &err);
	assert_non_null(fx->st);
	assert_true(store_schema_version(fx->st) >= 8);
	struct store_pgp_key *keys = NULL;
	size_t n = 0;
	assert_int_equal(store_pgp_list(fx->st, "partner@other.test", &keys, &n, &err), 0);
	assert_int_equal(n, 2);
	/* the newer learned key no longer ranks first */
	assert_string_equal(keys[0].fingerprint, FPR_A);
	assert_true(store_pgp_key_trusted(&keys[0]));
	assert_int_equal(keys[1].source, STORE_PGP_AUTOCRYPT);
	assert_false(store_pgp_key_trusted(&keys[1]));
	store_pgp_list_free(&keys, n);
	add(fx->st, p, FPR_C, STORE_PGP_PORTAL, NULL); /* the new CHECK takes 'portal' */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(add_list_find_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(secrets_and_channel, setup, teardown),
		cmocka_unit_test_setup_teardown(autocrypt_learning, setup, teardown),
		cmocka_unit_test_setup_teardown(provenance_and_rank, setup, teardown),
		cmocka_unit_test_setup_teardown(migration_keeps_rows, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_store.c: schema migration 2 and the users / certificates / sealed keys API. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "store/store.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];
static struct store *st_global; /* cmocka copies group state: keep the handle here */

/* The store under test: SQLite in dir, or the database SEALGATE_TEST_STORE names (a
 * postgresql:// URI: tests/integration/test_store_pgsql.py runs this test on PostgreSQL). */
static const char *store_url(void)
{
	const char *url = getenv("SEALGATE_TEST_STORE");
	return url != NULL && url[0] != '\0' ? url : "sqlite:t.db";
}

static int setup(void **state)
{
	const char *err;
	snprintf(dir, sizeof(dir), "/tmp/sg-store-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	st_global = store_open(store_url(), dir, &err);
	*state = st_global;
	return st_global != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	store_close(&st_global);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void fill(struct store_cert *c, int64_t user, char fpr_char, const char *serial,
                 enum store_cert_source source)
{
	static unsigned char der[] = {0x30, 0x03, 0x02, 0x01, 0x01};
	memset(c, 0, sizeof(*c));
	c->user_id = user;
	c->der = der;
	c->der_len = sizeof(der);
	memset(c->fingerprint, fpr_char, 64);
	sg_strlcpy(c->serial, serial, sizeof(c->serial));
	sg_strlcpy(c->issuer, "CN=Test CA,O=Acme", sizeof(c->issuer));
	c->not_before = 1000;
	c->not_after = 2000;
	c->source = source;
}

static void schema_is_at_version_2(void **state)
{
	assert_true(store_schema_version(*state) >= 2);
}

static void users_are_one_per_address_whatever_the_case(void **state)
{
	struct store *st = *state;
	int64_t a, b;
	struct store_user u;
	const char *err;
	assert_int_equal(store_user_ensure(st, "Alice@Example.test", STORE_USER_INTERNAL, &a, &err), 0);
	assert_int_equal(store_user_ensure(st, "alice@example.test", STORE_USER_EXTERNAL, &b, &err), 0);
	assert_int_equal(a, b);
	assert_int_equal(store_user_find(st, "ALICE@EXAMPLE.TEST", &u, &err), 1);
	assert_int_equal(u.kind, STORE_USER_INTERNAL);
	assert_int_equal(store_user_find(st, "nobody@example.test", &u, &err), 0);
	assert_int_equal(store_user_ensure(st, "no-at-sign", STORE_USER_INTERNAL, &a, &err), -1);
	enum store_user_kind k;
	assert_int_equal(store_user_kind_parse("shared", &k), 0);
	assert_int_equal(k, STORE_USER_SHARED);
	assert_int_equal(store_user_kind_parse("robot", &k), -1);
}

static void certificates_keys_and_revocation(void **state)
{
	struct store *st = *state;
	const char *err;
	int64_t uid, id1, id2, id3;
	struct store_cert c, found;
	struct store_cert *list = NULL;
	size_t n = 0, count = 0;
	unsigned char sealed[] = "SGK1-not-really-a-key";
	unsigned char *key = NULL;
	size_t key_len = 0;
	assert_int_equal(store_user_ensure(st, "bob@example.test", STORE_USER_INTERNAL, &uid, &err), 0);
	fill(&c, uid, 'a', "0A1B", STORE_CERT_ISSUED);
	assert_int_equal(store_cert_add(st, &c, sealed, sizeof(sealed), &id1, &err), 0);
	fill(&c, uid, 'b', "0C2D", STORE_CERT_HARVESTED);
	c.not_before = 1500;
	assert_int_equal(store_cert_add(st, &c, NULL, 0, &id2, &err), 0);
	/* the same certificate harvested again: same row, newer capabilities kept */
	unsigned char caps[] = {0x30, 0x00};
	c.caps = caps;
	c.caps_len = sizeof(caps);
	assert_int_equal(store_cert_add(st, &c, NULL, 0, &id3, &err), 0);
	assert_int_equal(id2, id3);

	assert_int_equal(store_cert_list(st, "BOB@example.test", &list, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(list[0].id, id2); /* newest first */
	assert_int_equal(list[0].caps_len, 2);
	assert_false(list[0].has_key);
	assert_true(list[1].has_key);
	assert_string_equal(list[1].address, "bob@example.test");
	assert_int_equal(list[1].source, STORE_CERT_ISSUED);
	store_cert_list_free(&list, n);

	assert_int_equal(store_key_get(st, id1, &key, &key_len, &err), 1);
	assert_memory_equal(key, sealed, sizeof(sealed));
	sg_free(&key);
	assert_int_equal(store_key_get(st, id2, &key, &key_len, &err), 0);

	assert_int_equal(store_cert_find_rid(st, "CN=Test CA,O=Acme", "0A1B", &found, &err), 1);
	assert_int_equal(found.id, id1);
	store_cert_clear(&found);
	assert_int_equal(store_cert_find_rid(st, "CN=Other", "0A1B", &found, &err), 0);

	assert_int_equal(store_cert_revoke_serial(st, "0a1b", 1700, &count, &err), 0);
	assert_int_equal(count, 1);
	assert_int_equal(store_cert_revoke_serial(st, "0a1b", 1800, &count, &err), 0);
	assert_int_equal(count, 0); /* already revoked: the first date stays */
	assert_int_equal(store_cert_list_revoked(st, "CN=Test CA,O=Acme", &list, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(list[0].revoked_at, 1700);
	store_cert_list_free(&list, n);
	assert_int_equal(store_cert_revoke_address(st, "bob@example.test", 1900, &count, &err), 0);
	assert_int_equal(count, 1);

	fill(&c, uid, 'c', "01", STORE_CERT_IMPORTED);
	c.fingerprint[5] = '\0';
	assert_int_equal(store_cert_add(st, &c, NULL, 0, &id3, &err), -1);
	fill(&c, 999999, 'd', "02", STORE_CERT_IMPORTED); /* no such user: foreign key refuses */
	assert_int_equal(store_cert_add(st, &c, NULL, 0, &id3, &err), -1);
}

static void reopen_keeps_data(void **state)
{
	(void)state;
	const char *err;
	store_close(&st_global);
	struct store *st = st_global = store_open(store_url(), dir, &err);
	assert_non_null(st);
	struct store_user u;
	assert_int_equal(store_user_find(st, "bob@example.test", &u, &err), 1);
}

struct adder {
	struct store *st;
	int64_t uid;
	char tag;
	int failures;
};

static void *add_many(void *arg)
{
	struct adder *a = arg;
	for (int i = 0; i < 150; i++) {
		struct store_cert c;
		char serial[16];
		snprintf(serial, sizeof(serial), "%c%04X", a->tag, (unsigned)i);
		fill(&c, a->uid, 'f', serial, STORE_CERT_HARVESTED);
		snprintf(c.fingerprint, sizeof(c.fingerprint), "%c%063d", a->tag, i);
		int64_t id;
		const char *err;
		if (store_cert_add(a->st, &c, NULL, 0, &id, &err) < 0)
			a->failures++;
	}
	return NULL;
}

/* qmgr's worker threads share one store: a transaction of one thread (BEGIN ... COMMIT) must
 * not meet another's BEGIN, nor take the other's statements with it when it rolls back. */
static void transactions_from_two_threads(void **state)
{
	(void)state;
	struct store *st = st_global; /* reopened by reopen_keeps_data */
	const char *err;
	int64_t uid;
	assert_int_equal(store_user_ensure(st, "threads@example.test", STORE_USER_EXTERNAL, &uid, &err), 0);
	struct adder a = {st, uid, 'a', 0}, b = {st, uid, 'b', 0};
	pthread_t ta, tb;
	assert_int_equal(pthread_create(&ta, NULL, add_many, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, add_many, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	assert_int_equal(a.failures, 0);
	assert_int_equal(b.failures, 0);
	struct store_cert *list = NULL;
	size_t n = 0;
	assert_int_equal(store_cert_list(st, "threads@example.test", &list, &n, &err), 0);
	assert_int_equal(n, 300);
	store_cert_list_free(&list, n);
}

static bool stamps_equal(const struct store_stamp *a, const struct store_stamp *b)
{
	return a->conn == b->conn && a->others == b->others && a->ours == b->ours;
}

/* The stamp the transforms' memo relies on: equal while nothing changed, different after a
 * write through this store, a commit through another one, or for another open store. */
static void stamp_changes_with_every_write(void **state)
{
	(void)state;
	const char *err;
	struct store *st = st_global, *other = store_open(store_url(), dir, &err);
	assert_non_null(other);
	struct store_stamp a, b;
	assert_int_equal(store_cert_stamp(st, &a, &err), 0);
	assert_int_equal(store_cert_stamp(st, &b, &err), 0);
	assert_true(stamps_equal(&a, &b));
	int64_t id;
	assert_int_equal(store_user_ensure(st, "stamp1@example.test", STORE_USER_EXTERNAL, &id, &err), 0);
	assert_int_equal(store_cert_stamp(st, &b, &err), 0);
	assert_false(stamps_equal(&a, &b));
	assert_int_equal(store_cert_stamp(st, &a, &err), 0);
	assert_int_equal(store_user_ensure(other, "stamp2@example.test", STORE_USER_EXTERNAL, &id, &err), 0);
	assert_int_equal(store_cert_stamp(st, &b, &err), 0);
	assert_false(stamps_equal(&a, &b));
	struct store_stamp o;
	assert_int_equal(store_cert_stamp(other, &o, &err), 0);
	assert_int_not_equal(o.conn, b.conn);
	store_close(&other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(schema_is_at_version_2),
		cmocka_unit_test(users_are_one_per_address_whatever_the_case),
		cmocka_unit_test(certificates_keys_and_revocation),
		cmocka_unit_test(reopen_keeps_data),
		cmocka_unit_test(stamp_changes_with_every_write),
		cmocka_unit_test(transactions_from_two_threads),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

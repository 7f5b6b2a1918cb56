/* test_store_webmail.c: the webmail table family against a real SQLite store: put (and the
 * idempotent second put of the same dedup), paging newest first, ownership (another partner's
 * uid is not found), parts, read flag, usage, retention and quota queries, delete. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sg_mem.h"
#include "store/store_webmail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fixture {
	char dir[64];
	struct store *st;
	int64_t alice, bob;
};

static int setup(void **state)
{
	struct fixture *f = sg_calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/sg-wmstore-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	const char *err = NULL;
	f->st = store_open("sqlite:store.db", f->dir, &err);
	assert_non_null(f->st);
	assert_int_equal(store_user_ensure(f->st, "alice@partner.test", STORE_USER_EXTERNAL,
	                                   &f->alice, &err), 0);
	assert_int_equal(store_user_ensure(f->st, "bob@partner.test", STORE_USER_EXTERNAL, &f->bob,
	                                   &err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_close(&f->st);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	sg_free(&f);
	return 0;
}

static int64_t put(struct fixture *f, int64_t user, const char *uid, const char *dedup,
                   time_t created, bool *existed_r)
{
	unsigned char key[] = "wrapped", meta[] = "sealed-meta", p0[] = "part0", p1[] = "part-one";
	struct store_webmail_msg m = {.user_id = user, .folder = STORE_WEBMAIL_INBOX,
	                              .created = created, .size = 1000, .attachments = 1,
	                              .wrapped_key = key, .wrapped_key_len = sizeof(key),
	                              .meta = meta, .meta_len = sizeof(meta)};
	snprintf(m.uid, sizeof(m.uid), "%s", uid);
	snprintf(m.dedup, sizeof(m.dedup), "%s", dedup);
	snprintf(m.sender, sizeof(m.sender), "boss@example.test");
	struct store_webmail_part parts[2] = {{5, p0, sizeof(p0)}, {8, p1, sizeof(p1)}};
	int64_t id = 0;
	const char *err = NULL;
	assert_int_equal(store_webmail_put(f->st, &m, parts, 2, &id, existed_r, &err), 0);
	return id;
}

static void test_put_idempotent_and_owned(void **state)
{
	struct fixture *f = *state;
	bool existed = true;
	int64_t id = put(f, f->alice, "00112233445566778899aabbccddeeff", "Q1:alice", 100, &existed);
	assert_false(existed);
	int64_t again = put(f, f->alice, "ffeeddccbbaa99887766554433221100", "Q1:alice", 100,
	                    &existed);
	assert_true(existed);
	assert_int_equal(id, again);
	const char *err = NULL;
	struct store_webmail_msg m;
	assert_int_equal(store_webmail_get(f->st, "ALICE@partner.test",
	                                   "00112233445566778899aabbccddeeff", &m, &err), 1);
	assert_int_equal(m.attachments, 1);
	assert_memory_equal(m.meta, "sealed-meta", 12);
	assert_int_equal(m.stored, (int64_t)(8 + 12 + 6 + 9));
	store_webmail_msg_clear(&m);
	/* the same uid asked for by another partner: not found */
	assert_int_equal(store_webmail_get(f->st, "bob@partner.test",
	                                   "00112233445566778899aabbccddeeff", &m, &err), 0);
	unsigned char *blob = NULL;
	size_t len = 0;
	assert_int_equal(store_webmail_part_get(f->st, "bob@partner.test",
	                                        "00112233445566778899aabbccddeeff", 1, &blob, &len,
	                                        &err), 0);
	assert_int_equal(store_webmail_part_get(f->st, "alice@partner.test",
	                                        "00112233445566778899aabbccddeeff", 1, &blob, &len,
	                                        &err), 1);
	assert_memory_equal(blob, "part-one", 9);
	sg_free(&blob);
	assert_int_equal(store_webmail_delete(f->st, "bob@partner.test",
	                                      "00112233445566778899aabbccddeeff", &err), 0);
	assert_int_equal(store_webmail_delete(f->st, "alice@partner.test",
	                                      "00112233445566778899aabbccddeeff", &err), 1);
	assert_int_equal(store_webmail_part_get(f->st, "alice@partner.test",
	                                        "00112233445566778899aabbccddeeff", 1, &blob, &len,
	                                        &err), 0);
}

static void test_paging_read_quota_retention(void **state)
{
	struct fixture *f = *state;
	bool existed;
	for (int i = 0; i < 30; i++) {
		char uid[40], dedup[40];
		snprintf(uid, sizeof(uid), "%032d", i);
		snprintf(dedup, sizeof(dedup), "Q%d:alice", i);
		put(f, f->alice, uid, dedup, 1000 + i, &existed);
	}
	const char *err = NULL;
	struct store_webmail_msg *list = NULL;
	size_t n = 0, total = 0, unread = 0;
	assert_int_equal(store_webmail_list(f->st, "alice@partner.test", STORE_WEBMAIL_INBOX, 10, 10,
	                                    &list, &n, &err), 0);
	assert_int_equal(n, 10);
	assert_int_equal(list[0].created, 1019); /* newest first, 10 skipped */
	assert_int_equal(list[9].created, 1010);
	assert_non_null(list[0].wrapped_key);
	store_webmail_list_free(&list, n);
	char uid[40];
	snprintf(uid, sizeof(uid), "%032d", 5);
	assert_int_equal(store_webmail_mark_read(f->st, "alice@partner.test", uid, 5000, &err), 1);
	snprintf(uid, sizeof(uid), "%032d", 2);
	assert_int_equal(store_webmail_mark_read(f->st, "alice@partner.test", uid, 6000, &err), 1);
	assert_int_equal(store_webmail_mark_read(f->st, "bob@partner.test", uid, 6000, &err), 0);
	assert_int_equal(store_webmail_count(f->st, "alice@partner.test", STORE_WEBMAIL_INBOX, &total,
	                                     &unread, &err), 0);
	assert_int_equal(total, 30);
	assert_int_equal(unread, 28);
	assert_int_equal(store_webmail_oldest_read(f->st, "alice@partner.test", 10, &list, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(list[0].created, 1002); /* oldest read first */
	assert_null(list[0].wrapped_key);
	store_webmail_list_free(&list, n);
	int64_t bytes = 0;
	assert_int_equal(store_webmail_usage(f->st, "alice@partner.test", &bytes, &n, &err), 0);
	assert_int_equal(n, 30);
	assert_int_equal(bytes, 30 * 35);
	assert_int_equal(store_webmail_older(f->st, 1005, &list, &n, &err), 0);
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(store_webmail_delete_id(f->st, list[i].id, &err), 0);
	store_webmail_list_free(&list, n);
	struct store_webmail_usage *u = NULL;
	assert_int_equal(store_webmail_partners(f->st, NULL, &u, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(u[0].messages, 25);
	assert_int_equal(u[0].unread, 24);
	assert_int_equal(u[0].oldest, 1005);
	sg_free(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_idempotent_and_owned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paging_read_quota_retention, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_store_cluster.c: what lets several nodes share one store (store_cluster.c): counters
 * drawn at once from two connections (as two nodes) never repeat; the tick lease goes to one
 * holder at a time, is renewed, lapses and is given back; the directory's change counter moves
 * with every change ldapd publishes, made through another connection, and not with others. */
#include "core/sg_mem.h"
#include "store/store.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define DRAWS 400

struct fx {
	char dir[64];
	struct store *a, *b; /* two connections to one database: two nodes */
};

static int setup(void **state)
{
	struct fx *fx = sg_calloc(1, sizeof(*fx));
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/sg-cluster-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	const char *err = NULL;
	fx->a = store_open("sqlite:store.db", fx->dir, &err);
	fx->b = store_open("sqlite:store.db", fx->dir, &err);
	assert_non_null(fx->a);
	assert_non_null(fx->b);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[128];
	store_close(&fx->a);
	store_close(&fx->b);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
	assert_int_equal(system(cmd), 0);
	sg_free(&fx);
	return 0;
}

struct drawer {
	struct store *st;
	uint64_t got[DRAWS];
	int failed;
};

static void *draw(void *arg)
{
	struct drawer *d = arg;
	const char *err;
	for (int i = 0; i < DRAWS; i++)
		if (store_ca_serial_next(d->st, &d->got[i], &err) < 0)
			d->failed++;
	return NULL;
}

static void test_serials_from_two_connections_never_repeat(void **state)
{
	struct fx *fx = *state;
	struct drawer *d = sg_calloc(2, sizeof(*d));
	d[0].st = fx->a;
	d[1].st = fx->b;
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, draw, &d[i]), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_int_equal(d[0].failed + d[1].failed, 0);
	/* every value 1 .. 2*DRAWS exactly once */
	unsigned char *seen = sg_calloc(2 * DRAWS + 1, 1);
	for (int k = 0; k < 2; k++)
		for (int i = 0; i < DRAWS; i++) {
			assert_in_range(d[k].got[i], 1, 2 * DRAWS);
			assert_int_equal(seen[d[k].got[i]]++, 0);
		}
	sg_free(&seen);
	sg_free(&d);
}

static void test_lease_one_holder_at_a_time(void **state)
{
	struct fx *fx = *state;
	const char *err;
	bool lead = false;
	char who[64];
	assert_int_equal(store_leader_try(fx->a, "tick", "node-a", 1000, 60, &lead, &err), 0);
	assert_true(lead);
	assert_int_equal(store_leader_try(fx->b, "tick", "node-b", 1010, 60, &lead, &err), 0);
	assert_false(lead);
	assert_int_equal(store_leader_holder(fx->b, "tick", 1010, who, sizeof(who), &err), 1);
	assert_string_equal(who, "node-a");
	/* a renews its lease: b still waits past the first expiry */
	assert_int_equal(store_leader_try(fx->a, "tick", "node-a", 1050, 60, &lead, &err), 0);
	assert_true(lead);
	assert_int_equal(store_leader_try(fx->b, "tick", "node-b", 1070, 60, &lead, &err), 0);
	assert_false(lead);
	/* a died: its lease lapses, b takes over, a is refused when it comes back */
	assert_int_equal(store_leader_try(fx->b, "tick", "node-b", 1110, 60, &lead, &err), 0);
	assert_true(lead);
	assert_int_equal(store_leader_try(fx->a, "tick", "node-a", 1111, 60, &lead, &err), 0);
	assert_false(lead);
	/* b stops cleanly: a leads at its next try; another name is another lease */
	assert_int_equal(store_leader_release(fx->b, "tick", "node-b", &err), 0);
	assert_int_equal(store_leader_holder(fx->a, "tick", 1112, who, sizeof(who), &err), 0);
	assert_int_equal(store_leader_try(fx->a, "tick", "node-a", 1112, 60, &lead, &err), 0);
	assert_true(lead);
	assert_int_equal(store_leader_try(fx->b, "other", "node-b", 1112, 60, &lead, &err), 0);
	assert_true(lead);
}

static uint64_t dir_version(struct store *st)
{
	uint64_t v = 0;
	const char *err;
	assert_int_equal(store_directory_version(st, &v, &err), 0);
	return v;
}

static void test_directory_version_follows_other_connection(void **state)
{
	struct fx *fx = *state;
	const char *err;
	int64_t id = 0;
	uint64_t v0 = dir_version(fx->a);
	assert_int_equal(
	    store_user_ensure(fx->b, "alice@example.com", STORE_USER_INTERNAL, &id, &err), 0);
	uint64_t v1 = dir_version(fx->a);
	assert_true(v1 > v0);
	/* the channel is not published: no rebuild for it */
	assert_int_equal(store_user_set_channel(fx->b, "alice@example.com", "pgp", &err), 1);
	assert_int_equal(dir_version(fx->a), v1);
	unsigned char der[4] = {1, 2, 3, 4};
	struct store_cert c = {.user_id = id,
	                       .der = der,
	                       .der_len = sizeof(der),
	                       .serial = "01",
	                       .issuer = "CN=CA",
	                       .not_before = 1,
	                       .not_after = 2,
	                       .source = STORE_CERT_IMPORTED};
	memset(c.fingerprint, 'a', 64);
	int64_t cert_id = 0;
	assert_int_equal(store_cert_add(fx->b, &c, NULL, 0, &cert_id, &err), 0);
	uint64_t v2 = dir_version(fx->a);
	assert_true(v2 > v1);
	int64_t rev0 = 0, rev1 = 0;
	assert_int_equal(store_counter_get(fx->a, STORE_COUNTER_REVOCATIONS, &rev0, &err), 0);
	size_t n = 0;
	assert_int_equal(store_cert_revoke_serial(fx->b, "01", 3, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_true(dir_version(fx->a) > v2);
	assert_int_equal(store_counter_get(fx->a, STORE_COUNTER_REVOCATIONS, &rev1, &err), 0);
	assert_true(rev1 > rev0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_serials_from_two_connections_never_repeat, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_lease_one_holder_at_a_time, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_directory_version_follows_other_connection, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

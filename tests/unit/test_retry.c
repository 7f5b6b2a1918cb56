/* test_retry.c: the backoff schedule: doubling from queue.retry_first, the queue.retry_max cap,
 * jitter that never exceeds the cap, and expiry after queue.lifetime. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "queue/qmgr.h"

static const struct retry_policy defaults = {.first = 300, .max = 4 * 3600, .lifetime = 5 * 86400};

static void delay_table(void **state)
{
	(void)state;
	static const struct {
		unsigned int attempts;
		long long delay;
	} table[] = {
		{0, 300}, {1, 300}, {2, 600}, {3, 1200}, {4, 2400}, {5, 4800}, {6, 9600},
		{7, 14400}, {8, 14400}, {100, 14400}, {4000000000u, 14400},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		assert_int_equal(retry_delay(&defaults, table[i].attempts), table[i].delay);
}

static void odd_settings(void **state)
{
	(void)state;
	struct retry_policy p = {.first = 1000, .max = 10, .lifetime = 1};
	assert_int_equal(retry_delay(&p, 1), 1000); /* a cap below first means first */
	p = (struct retry_policy){.first = 7, .max = 100, .lifetime = 1};
	assert_int_equal(retry_delay(&p, 4), 56);
	assert_int_equal(retry_delay(&p, 5), 100);
}

static void jitter_bounds(void **state)
{
	(void)state;
	time_t now = 1000000;
	for (uint32_t rnd = 0; rnd < 5000; rnd += 7) {
		time_t t = retry_next(&defaults, 1, now, rnd);
		assert_true(t <= now + 300 && t >= now + 270);
		t = retry_next(&defaults, 50, now, rnd * 2654435761u);
		assert_true(t <= now + 14400 && t >= now + 12960);
	}
	assert_int_equal(retry_next(&defaults, 1, now, 0), now + 300);
}

static void expiry(void **state)
{
	(void)state;
	time_t arrival = 1700000000;
	assert_false(retry_expired(&defaults, arrival, arrival));
	assert_false(retry_expired(&defaults, arrival, arrival + 5 * 86400 - 1));
	assert_true(retry_expired(&defaults, arrival, arrival + 5 * 86400));
	assert_true(retry_expired(&defaults, arrival, arrival + 6 * 86400));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(delay_table),
		cmocka_unit_test(odd_settings),
		cmocka_unit_test(jitter_bounds),
		cmocka_unit_test(expiry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

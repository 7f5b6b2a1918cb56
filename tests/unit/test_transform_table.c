/* test_transform_table.c: configuration safety. Every action the policy can choose has a
 * transform (else its mail would be accepted and deferred for ever, as webmail once was), every
 * channel a partner or the configuration can name leads to one, and the CLI's channel checks
 * agree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cli/cli.h"
#include "policy/policy.h"
#include "queue/transform.h"

static void test_every_action_has_a_transform(void **state)
{
	(void)state;
	for (int a = 0; a < POLICY_ACTION_COUNT; a++)
		if (!transform_exists(a))
			fail_msg("policy action %s has no transform", policy_action_name((enum policy_action)a));
	assert_false(transform_exists(POLICY_ACTION_COUNT));
	assert_false(transform_exists(-1));
}

static void test_every_channel_is_deliverable(void **state)
{
	(void)state;
	for (int c = POLICY_CH_NONE + 1; c < POLICY_CH_COUNT; c++) {
		const char *name = policy_channel_name((enum policy_channel)c);
		enum policy_channel parsed;
		assert_int_equal(policy_channel_parse(name, &parsed), 0);
		if (!transform_channel_exists(c))
			fail_msg("channel %s can be chosen but has no transform", name);
		int ch = -1;
		assert_int_equal(cli_channel_parse(name, &ch), 0);
		assert_int_equal(ch, c);
	}
	int ch;
	assert_int_equal(cli_channel_parse("fax", &ch), -1);
	assert_int_equal(cli_channel_setting_check("policy.default_external_channel", "webmail"), 0);
	assert_int_equal(cli_channel_setting_check("policy.default_external_channel", "fax"), -1);
	assert_int_equal(cli_channel_setting_check("policy.hide_subject", "yes"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_action_has_a_transform),
		cmocka_unit_test(test_every_channel_is_deliverable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

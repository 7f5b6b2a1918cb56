/* test_policy.c: direction and route per recipient, and which recipients share a delivery. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "policy/policy.h"

#include <string.h>

static void direction_table(void **state)
{
	(void)state;
	struct policy *p = policy_new_from("example.test, Corp.Test", "maildir:mail", "smtp:relay:25");
	static const struct {
		const char *sender;
		bool internal_client;
		const char *rcpt;
		enum policy_direction dir;
		const char *route;
	} table[] = {
		{"alice@example.test", true, "bob@partner.test", POLICY_DIR_OUTBOUND, "smtp:relay:25"},
		{"alice@example.test", false, "bob@partner.test", POLICY_DIR_OUTBOUND, "smtp:relay:25"},
		{"bob@partner.test", false, "alice@example.test", POLICY_DIR_INBOUND, "maildir:mail"},
		{"bob@partner.test", true, "alice@example.test", POLICY_DIR_INTERNAL, "maildir:mail"},
		{"alice@example.test", true, "carol@corp.test", POLICY_DIR_INTERNAL, "maildir:mail"},
		{"alice@example.test", false, "carol@CORP.TEST", POLICY_DIR_INBOUND, "maildir:mail"},
		{"", false, "alice@example.test.", POLICY_DIR_INBOUND, "maildir:mail"},
		{"", true, "bob@partner.test", POLICY_DIR_INTERNAL, "smtp:relay:25"},
		{"x@partner.test", true, "y@other.test", POLICY_DIR_INTERNAL, "smtp:relay:25"},
		{"x@sub.example.test", true, "y@other.test", POLICY_DIR_INTERNAL, "smtp:relay:25"},
		{"x@example.test", true, "y@evil-example.test", POLICY_DIR_OUTBOUND, "smtp:relay:25"},
		{"x@example.test", true, "noatsign", POLICY_DIR_OUTBOUND, "smtp:relay:25"},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		struct policy_msg m = {.sender = table[i].sender,
		                       .internal_client = table[i].internal_client};
		struct policy_plan plan;
		const char *err;
		assert_int_equal(policy_plan_rcpt(p, &m, table[i].rcpt, &plan, &err), 0);
		if (plan.direction != table[i].dir)
			fail_msg("row %zu: %s -> %s: got %s", i, table[i].sender, table[i].rcpt,
			         policy_direction_name(plan.direction));
		assert_string_equal(plan.route, table[i].route);
		assert_int_equal(plan.action, POLICY_PASS);
	}
	struct policy_msg m = {.sender = "a@example.test"};
	struct policy_plan plan;
	const char *err;
	assert_int_equal(policy_plan_rcpt(p, &m, "", &plan, &err), -1);
	policy_free(&p);
	assert_null(p);
}

static void grouping(void **state)
{
	(void)state;
	struct policy *p = policy_new_from("example.test", "smtp:in:25", "smtp:out:25");
	struct policy_msg m = {.sender = "a@example.test", .internal_client = true};
	struct policy_plan a, b, c;
	const char *err;
	policy_plan_rcpt(p, &m, "x@partner.test", &a, &err);
	policy_plan_rcpt(p, &m, "y@other.test", &b, &err);
	policy_plan_rcpt(p, &m, "z@example.test", &c, &err);
	assert_true(policy_plan_equal(&a, &b));
	assert_false(policy_plan_equal(&a, &c));
	assert_string_equal(policy_direction_name(POLICY_DIR_OUTBOUND), "outbound");
	assert_string_equal(policy_action_name(POLICY_PASS), "pass");
	policy_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(direction_table),
		cmocka_unit_test(grouping),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_scan.c: the clamd reply parser and target syntax (scan/scan.h). A real clamd is driven in
 * tests/integration/test_scan.py; here the table of replies, hostile ones included. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "scan/scan.h"

#include <string.h>

static void replies(void **state)
{
	(void)state;
	static const struct {
		const char *reply;
		enum scan_verdict verdict;
		const char *signature;
	} cases[] = {
		{"stream: OK", SCAN_CLEAN, ""},
		{"stream: OK\n", SCAN_CLEAN, ""},
		{"stream: Eicar-Test-Signature FOUND", SCAN_INFECTED, "Eicar-Test-Signature"},
		{"stream: Win.Test.EICAR_HDB-1 FOUND\n", SCAN_INFECTED, "Win.Test.EICAR_HDB-1"},
		{"INSTREAM size limit exceeded. ERROR", SCAN_FAILED, ""},
		{"stream: Can't allocate memory ERROR", SCAN_FAILED, ""},
		{"stream: OK FOUND ERROR", SCAN_FAILED, ""},
		{"stream: OKAY", SCAN_FAILED, ""},
		{"stream:OK", SCAN_FAILED, ""},
		{"OK", SCAN_FAILED, ""},
		{"", SCAN_FAILED, ""},
		{"stream:  FOUND", SCAN_FAILED, ""},
		{"stream: \x01x FOUND", SCAN_FAILED, ""},
		{"stream: a b FOUND", SCAN_INFECTED, "a b"},
		{"stream: OK\r", SCAN_FAILED, ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct scan_result r;
		scan_reply_parse(cases[i].reply, strlen(cases[i].reply), &r);
		assert_int_equal(r.verdict, cases[i].verdict);
		assert_string_equal(r.signature, cases[i].signature);
		if (r.verdict == SCAN_FAILED)
			assert_true(strncmp(r.error, "clamd ", 6) == 0);
	}
	char longname[300] = "stream: ";
	memset(longname + 8, 'A', 200);
	memcpy(longname + 208, " FOUND", 7);
	struct scan_result r;
	scan_reply_parse(longname, strlen(longname), &r);
	assert_int_equal(r.verdict, SCAN_FAILED);
}

static void targets(void **state)
{
	(void)state;
	struct scan_target t;
	const char *err;
	assert_int_equal(scan_target_parse("unix:/run/clamav/clamd.ctl", &t, &err), 0);
	assert_false(t.tcp);
	assert_string_equal(t.path, "/run/clamav/clamd.ctl");
	assert_int_equal(scan_target_parse("tcp:127.0.0.1:3310", &t, &err), 0);
	assert_true(t.tcp);
	assert_string_equal(t.port, "3310");
	assert_int_equal(scan_target_parse("unix:relative.sock", &t, &err), -1);
	assert_int_equal(scan_target_parse("tcp::3310", &t, &err), -1);
	assert_int_equal(scan_target_parse("/run/clamav/clamd.ctl", &t, &err), -1);
}

static void unreachable_is_a_failure(void **state)
{
	(void)state;
	struct scan_target t;
	const char *err;
	struct scan_result r;
	assert_int_equal(scan_target_parse("unix:/nonexistent/clamd.sock", &t, &err), 0);
	scan_clamd_instream(&t, "x", 1, 1000, &r);
	assert_int_equal(r.verdict, SCAN_FAILED);
	assert_non_null(strstr(r.error, "unreachable"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(replies),
		cmocka_unit_test(targets),
		cmocka_unit_test(unreachable_is_a_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

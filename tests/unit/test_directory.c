/* test_directory.c: RFC 4515 escaping of what a user types into the directory's filter, and
 * the filter templates (AD default, OpenLDAP preset) built from it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "directory/directory.h"

#include <string.h>

static void escape_table(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} table[] = {
		{"alice", "alice"},
		{"alice@example.test", "alice@example.test"},
		{"*", "\\2a"},
		{"*)(uid=*", "\\2a\\29\\28uid=\\2a"},
		{"a\\b", "a\\5cb"},
		{"(cn=x)", "\\28cn=x\\29"},
		{"tab\there", "tab\\09here"},
		{"J\xc3\xbcrgen", "J\xc3\xbcrgen"}, /* UTF-8 is a value like any other */
		{"", ""},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		char out[128];
		assert_int_equal(dir_filter_escape(table[i].in, out, sizeof(out)), 0);
		assert_string_equal(out, table[i].out);
	}
}

static void escape_bounds(void **state)
{
	(void)state;
	char out[4];
	assert_int_equal(dir_filter_escape("abc", out, sizeof(out)), 0);
	assert_int_equal(dir_filter_escape("abcd", out, sizeof(out)), -1);
	assert_int_equal(dir_filter_escape("a*", out, sizeof(out)), -1); /* "a\2a" needs 5 */
}

static void build_templates(void **state)
{
	(void)state;
	char out[512];
	assert_int_equal(dir_filter_build("(&(objectClass=inetOrgPerson)(|(uid=%s)(mail=%s)))",
	                                  "*)(uid=*", false, out, sizeof(out)), 0);
	assert_string_equal(out, "(&(objectClass=inetOrgPerson)(|(uid=\\2a\\29\\28uid=\\2a)"
	                         "(mail=\\2a\\29\\28uid=\\2a)))");
	assert_int_equal(dir_filter_build("(&(objectClass=user)(|(sAMAccountName=%s)"
	                                  "(userPrincipalName=%s)(mail=%s)))",
	                                  "*", true, out, sizeof(out)), 0);
	assert_string_equal(out, "(&(objectClass=user)(|(sAMAccountName=*)(userPrincipalName=*)"
	                         "(mail=*)))");
	assert_int_equal(dir_filter_build("(cn=100%%)(uid=%s)", "a", false, out, sizeof(out)), 0);
	assert_string_equal(out, "(cn=100%)(uid=a)");
	assert_int_equal(dir_filter_build("(uid=%d)", "a", false, out, sizeof(out)), -1);
	assert_int_equal(dir_filter_build("(uid=%s)", "abcdefgh", false, out, 12), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(escape_table),
		cmocka_unit_test(escape_bounds),
		cmocka_unit_test(build_templates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

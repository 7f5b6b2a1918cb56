/* test_sandbox.c: gateway.user: the account lookup, the ownership walk that guards a start,
 * chown -R for `init --user`, and the change of account itself (in a forked child, since it
 * cannot be undone). The parts that need root are skipped without it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sandbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void account_lookup(void **state)
{
	(void)state;
	struct sandbox_account a;
	const char *err;
	assert_int_equal(sandbox_account_find("nobody", &a, &err), 0);
	assert_int_not_equal(a.uid, 0);
	assert_string_equal(a.name, "nobody");
	assert_int_equal(sandbox_account_find("root", &a, &err), -1);
	assert_non_null(strstr(err, "root"));
	assert_int_equal(sandbox_account_find("no-such-account-here", &a, &err), -1);
	assert_non_null(strstr(err, "useradd"));
	assert_int_equal(sandbox_account_find("", &a, &err), -1);
}

static void ownership_walk_and_chown(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	char dir[] = "/tmp/sg-sandbox-XXXXXX", sub[64], file[96], bad[256];
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/spool", dir);
	snprintf(file, sizeof(file), "%s/spool/x", dir);
	assert_int_equal(mkdir(sub, 0750), 0);
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	struct sandbox_account a;
	const char *err;
	assert_int_equal(sandbox_account_find("nobody", &a, &err), 0);
	const char *none[] = {NULL};
	const char *paths[] = {dir, "/tmp/sg-sandbox-missing", NULL};
	assert_int_equal(sandbox_find_foreign(none, paths, &a, bad, sizeof(bad), &err), 1);
	assert_string_equal(bad, dir); /* the top first */
	assert_int_equal(sandbox_chown_tree(dir, &a, &err), 0);
	assert_int_equal(sandbox_find_foreign(none, paths, &a, bad, sizeof(bad), &err), 0);
	assert_int_equal(chown(file, 0, 0), 0);
	assert_int_equal(sandbox_find_foreign(none, paths, &a, bad, sizeof(bad), &err), 1);
	assert_string_equal(bad, file);
	/* one level deep: spool/ itself is the account's, what is below it is not looked at */
	assert_int_equal(sandbox_find_foreign(paths, none, &a, bad, sizeof(bad), &err), 0);
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* In a child: 0 if it became the account for good, else the step that failed. */
static int become_in_child(const struct sandbox_account *a)
{
	const char *err;
	if (sandbox_become(a, &err) < 0)
		return 1;
	if (getuid() != a->uid || geteuid() != a->uid || getgid() != a->gid)
		return 2;
	if (setuid(0) == 0 || setgid(0) == 0)
		return 3;
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return 4;
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
		return 6;
	gid_t groups[4];
	int n = getgroups(4, groups);
	if (n != 1 || groups[0] != a->gid)
		return 5;
	return 0;
}

static void become_account_for_good(void **state)
{
	(void)state;
	struct sandbox_account a;
	const char *err;
	assert_int_equal(sandbox_account_find("nobody", &a, &err), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(become_in_child(&a));
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	/* not root: changing to another account is refused (1) */
	assert_int_equal(WEXITSTATUS(status), geteuid() == 0 ? 0 : 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(account_lookup),
		cmocka_unit_test(ownership_walk_and_chown),
		cmocka_unit_test(become_account_for_good),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

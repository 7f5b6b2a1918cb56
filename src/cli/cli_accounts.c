/* cli_accounts.c: the system accounts `init --user` creates or uses: gateway.user and the
 * accounts of smtpd and ldapd (docs/architecture.md, "Accounts"). Made by the system's own
 * useradd/usermod, as an administrator would, so that the account database stays theirs. */
#include "cli/cli.h"
#include "core/sandbox.h"

#include <errno.h>
#include <stdbool.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define ACCOUNTS_GRBUF 16384

static int run_tool(char *const argv[])
{
	pid_t pid = fork();
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	int status = 0;
	while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* What useradd's default NAME_REGEX accepts on Debian, which is wider than what ours does:
 * a portable name, so that no account "a/b" is ever made. */
static bool portable_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 32 || !((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_'))
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

int cli_account_ensure(const char *name)
{
	struct sandbox_account a;
	const char *err;
	if (sandbox_account_find(name, &a, &err) == 0)
		return 0;
	if (!portable_name(name)) {
		cli_errorf("%s: no such account, and not a name to create one by (lower-case letters, "
		           "digits, _ and -, at most 32)", name);
		return -1;
	}
	/* --system --user-group --no-create-home --home-dir --shell --comment (short forms: the
	 * long ones would read as options of ours to test_docs) */
	char *argv[] = {"/usr/sbin/useradd", "-r", "-U", "-M", "-d", "/nonexistent", "-s",
	                "/usr/sbin/nologin", "-c", "sealgate", (char *)name, NULL};
	if (run_tool(argv) < 0 || sandbox_account_find(name, &a, &err) < 0) {
		cli_errorf("cannot create the account %s (useradd --system failed): create it, or "
		           "name an existing one", name);
		return -1;
	}
	printf("Created the system account %s.\n", name);
	return 0;
}

/* The name of the primary group of account, or NULL. */
static const char *primary_group(const char *account, char *buf, size_t size)
{
	struct sandbox_account a;
	const char *err;
	struct group gr, *found = NULL;
	if (sandbox_account_find(account, &a, &err) < 0 ||
	    getgrgid_r(a.gid, &gr, buf, size, &found) != 0 || found == NULL)
		return NULL;
	return found->gr_name;
}

/* user joins the primary group of account in the group database, so that the commands an
 * administrator runs as user (sudo -u) read the files account writes to the spool. */
int cli_account_join(const char *user, const char *account)
{
	static char buf[ACCOUNTS_GRBUF];
	const char *group = primary_group(account, buf, sizeof(buf));
	if (group == NULL) {
		cli_errorf("the account %s has no primary group", account);
		return -1;
	}
	struct group *gr = getgrnam(group);
	for (size_t i = 0; gr != NULL && gr->gr_mem[i] != NULL; i++)
		if (strcmp(gr->gr_mem[i], user) == 0)
			return 0;
	char *argv[] = {"/usr/sbin/usermod", "-a", "-G", (char *)group, (char *)user, NULL};
	if (run_tool(argv) < 0) {
		cli_errorf("cannot add %s to the group %s (usermod failed)", user, group);
		return -1;
	}
	return 0;
}

/* master_child.c: the child side of the master's re-exec: become the role, pick up the
 * inherited listening sockets, load the configuration and run the role's entry function. */
#include "core/settings.h"
#include "core/limits.h"
#include "core/sandbox.h"
#include "core/sg_buf.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "daemon/daemon.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static int take_listen_fds(struct role_ctx *ctx)
{
	const char *s = getenv("SEALGATE_LISTEN_FDS");
	if (s == NULL)
		return 0;
	const char *err;
	long long n = sg_strtonum(s, 0, ROLE_MAX_LISTEN, &err);
	if (err != NULL)
		return -1;
	for (long long i = 0; i < n; i++)
		ctx->listen_fds[ctx->n_listen_fds++] = 3 + (int)i;
	unsetenv("SEALGATE_LISTEN_FDS");
	return 0;
}

/* The configuration the master validated, from the in-memory file it passed; without one
 * (started by hand) the file itself. */
static struct settings *load_settings(const char *config_path, char **errors_r)
{
	const char *s = getenv("SEALGATE_CONFIG_FD");
	if (s == NULL)
		return settings_load(config_path, errors_r);
	const char *err;
	int fd = (int)sg_strtonum(s, 3, 1024, &err);
	unsetenv("SEALGATE_CONFIG_FD");
	struct sg_buf text;
	sg_buf_init(&text, SG_CONFIG_FILE_MAX);
	char chunk[4096];
	ssize_t n;
	while (err == NULL && (n = read(fd, chunk, sizeof(chunk))) > 0)
		if (sg_buf_append(&text, chunk, (size_t)n) < 0)
			err = "too large";
	if (err == NULL)
		close(fd);
	struct settings *st = err == NULL ? settings_load_text(config_path, text.data ? text.data : "",
	                                                       errors_r)
	                                  : NULL;
	if (err != NULL)
		*errors_r = sg_strdup("the configuration passed by the master cannot be read");
	sg_buf_free(&text);
	return st;
}

/* gateway.user, before the role reads anything of the instance: the listening sockets (bound
 * by the master) are all a child keeps of root. Not dumpable in any case (after the change of
 * account, which would reset it): the roles hold keys and mail. */
static int become_account(const struct settings *s)
{
	const char *name = settings_get(s, "gateway.user"), *err;
	struct sandbox_account a;
	if (name[0] != '\0' &&
	    (sandbox_account_find(name, &a, &err) < 0 || sandbox_become(&a, &err) < 0)) {
		sg_error("gateway.user = %s: %s", name, err);
		return -1;
	}
	if (sandbox_no_dump(&err) < 0) {
		sg_error("%s", err);
		return -1;
	}
	return 0;
}

int master_child_start(const char *role, const char *config_path)
{
	sg_log_init(role);
	const struct role_def *def = roles_find(role);
	if (def == NULL) {
		sg_error("unknown role '%.40s'", role);
		return 2;
	}
	/* A child must not outlive its master: a killed master leaves no orphan listening. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		return 1;
	daemon_signals_init();
	sigset_t unblock;
	sigemptyset(&unblock);
	sigaddset(&unblock, SIGTERM);
	sigaddset(&unblock, SIGINT);
	sigaddset(&unblock, SIGHUP);
	sigprocmask(SIG_UNBLOCK, &unblock, NULL); /* the master blocked them across exec */
	struct role_ctx ctx = {.role = role, .config_path = config_path};
	if (take_listen_fds(&ctx) < 0)
		sg_fatal("bad SEALGATE_LISTEN_FDS");
	char *errors = NULL;
	ctx.settings = load_settings(config_path, &errors);
	if (ctx.settings == NULL) {
		sg_error("%s is not valid:\n%s", config_path, errors);
		sg_free(&errors);
		return 1;
	}
	if (strcmp(settings_get(ctx.settings, "log.level"), "debug") == 0)
		sg_log_set_level(SG_LOG_DEBUG);
	if (become_account(ctx.settings) < 0) {
		settings_free(&ctx.settings);
		return 1;
	}
	int rc = def->entry(&ctx);
	settings_free(&ctx.settings);
	return rc;
}

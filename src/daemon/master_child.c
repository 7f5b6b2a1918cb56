/* master_child.c: the child side of the master's re-exec: become the role, pick up the
 * inherited listening sockets (checked: a socket that was not handed over is an error the
 * master reports), load the configuration and run the role's entry function, which calls
 * daemon_ready when it serves. */
#include "core/accounts.h"
#include "core/settings.h"
#include "core/limits.h"
#include "core/sandbox.h"
#include "core/sg_buf.h"
#include "core/sg_file.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_metrics.h"
#include "core/sg_str.h"
#include "daemon/daemon.h"
#include "keyd/keyd_client.h"
#include "role/role_seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* A number the master put in the environment (an inherited fd), or -1; the variable goes so
 * that nothing the role starts inherits it. */
static int env_fd(const char *name, long long min)
{
	const char *s = getenv(name);
	if (s == NULL)
		return -1;
	const char *err;
	long long n = sg_strtonum(s, min, 1024, &err);
	unsetenv(name);
	return err == NULL ? (int)n : -1;
}

/* An inherited socket the role cannot accept on would leave its port deaf: say so and stop,
 * and the master's reload summary names the role. */
static int check_listener(const char *role, int fd)
{
	int on = 0;
	socklen_t len = sizeof(on);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) < 0 || !on) {
		sg_error("%s: the listening socket (fd %d) was not handed over: %s", role, fd,
		         on ? strerror(errno) : "it does not listen");
		return -1;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC); /* helpers the role starts must not hold the port */
	return 0;
}

static int take_listen_fds(struct role_ctx *ctx)
{
	const char *s = getenv("SEALGATE_LISTEN_FDS");
	if (s == NULL)
		return 0;
	const char *err;
	long long n = sg_strtonum(s, 0, ROLE_MAX_LISTEN, &err);
	if (err != NULL) {
		sg_error("bad SEALGATE_LISTEN_FDS");
		return -1;
	}
	for (long long i = 0; i < n; i++) {
		if (check_listener(ctx->role, 3 + (int)i) < 0)
			return -1;
		ctx->listen_fds[ctx->n_listen_fds++] = 3 + (int)i;
	}
	unsetenv("SEALGATE_LISTEN_FDS");
	return 0;
}

/* A configuration the master validated, from the in-memory file it passed at fd. */
static struct settings *settings_from_fd(const char *config_path, int fd, char **errors_r)
{
	const char *err = NULL;
	struct sg_buf text;
	sg_buf_init(&text, SG_CONFIG_FILE_MAX);
	char chunk[4096];
	ssize_t n;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0 && err == NULL)
		if (sg_buf_append(&text, chunk, (size_t)n) < 0)
			err = "too large";
	close(fd);
	if (n < 0)
		err = "unreadable";
	struct settings *st = err == NULL ? settings_load_text(config_path, text.data ? text.data : "",
	                                                       errors_r)
	                                  : NULL;
	if (err != NULL)
		*errors_r = sg_strdup("the configuration passed by the master cannot be read");
	sg_buf_free(&text);
	return st;
}

/* The configuration the master validated; without one (started by hand) the file itself. */
static struct settings *load_settings(const char *config_path, char **errors_r)
{
	int fd = env_fd("SEALGATE_CONFIG_FD", 3);
	if (fd < 0)
		return settings_load(config_path, errors_r);
	return settings_from_fd(config_path, fd, errors_r);
}

/* After a SIGHUP, the configuration before it (for the changes log); NULL otherwise. */
static struct settings *load_previous(const char *config_path)
{
	int fd = env_fd("SEALGATE_PREVIOUS_CONFIG_FD", 3);
	if (fd < 0)
		return NULL;
	char *errors = NULL;
	struct settings *st = settings_from_fd(config_path, fd, &errors);
	sg_free(&errors); /* valid when it ran; if this binary now refuses it, no changes log */
	return st;
}

#ifdef SEALGATE_TEST_HOOKS
/* Test builds only (never the package): SIGUSR2 makes the role call add_key, which no filter
 * allows, so test_seccomp.py can see the kill, the master's log line and the restart. */
static void forbidden_call(int sig)
{
	(void)sig;
	(void)syscall(SYS_add_key, NULL, NULL, NULL, 0, 0);
}

static void install_test_hook(void)
{
	struct sigaction sa = {.sa_handler = forbidden_call};
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGUSR2, &sa, NULL);
}
#else
static void install_test_hook(void)
{
}
#endif

/* Start-up is over (sockets, files, store, libraries are open): from here the role makes only
 * the calls of its list. A role that cannot be confined as configured does not serve. */
static void confine(const struct role_ctx *ctx)
{
	enum role_seccomp_mode mode = ROLE_SECCOMP_ON;
	const char *err;
	if (ctx->drop_pending) /* a role of its own account that forgot to drop: never serve */
		sg_fatal("%s is ready to serve but still has the master's account", ctx->role);
	(void)role_seccomp_mode_parse(settings_get(ctx->settings, "gateway.seccomp"), &mode);
	install_test_hook();
	if (role_seccomp_apply(ctx->role, mode, &err) < 0)
		sg_fatal("%s (gateway.seccomp = off runs without, for debugging only)", err);
	if (mode == ROLE_SECCOMP_LOG)
		sg_warn("seccomp: calls outside the %s filter are logged by the kernel, not refused",
		        ctx->role);
}

void daemon_ready(struct role_ctx *ctx, const char *fmt, ...)
{
	confine(ctx);
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	sg_info("ready: %s", what);
	const struct role_def *def = roles_find(ctx->role);
	if (ctx->previous != NULL && def != NULL)
		daemon_log_changes(ctx, def);
	if (ctx->status_fd < 0)
		return;
	if (sg_write_all(ctx->status_fd, "ready\n", 6) < 0)
		sg_warn("cannot tell the master that this child is ready: %m");
	close(ctx->status_fd);
	ctx->status_fd = -1;
}

/* The role's account (role_def.account_key, else gateway.user), before the role reads
 * anything of the instance: the listening sockets (bound by the master) and what a role with
 * an account of its own opened before daemon_drop_privileges are all a child keeps of root.
 * Not dumpable in any case (after the change of account, which would reset it): the roles
 * hold keys and mail. */
static int become_account(const struct settings *s, const char *account_key)
{
	struct sandbox_account a;
	bool found;
	const char *err;
	if (accounts_for_role(s, account_key, &a, &found, &err) < 0 ||
	    (found && sandbox_become(&a, &err) < 0)) {
		sg_error("%s = %s: %s", account_key != NULL ? account_key : "gateway.user",
		         accounts_name(s, account_key), err);
		return -1;
	}
	if (accounts_spool_shared(s))
		umask(S_IRWXO); /* the spool's files are the group's too: the other account's */
	if (sandbox_no_dump(&err) < 0) {
		sg_error("%s", err);
		return -1;
	}
	return 0;
}

int daemon_drop_privileges(struct role_ctx *ctx)
{
	if (!ctx->drop_pending)
		return 0;
	ctx->drop_pending = false;
	const struct role_def *def = roles_find(ctx->role);
	return become_account(ctx->settings, def != NULL ? def->account_key : NULL);
}

int daemon_borrow_gateway_account(struct role_ctx *ctx, bool borrow)
{
	struct sandbox_account a;
	bool found;
	const char *err = NULL;
	if (!ctx->drop_pending)
		return 0;
	int rc = accounts_for_role(ctx->settings, NULL, &a, &found, &err);
	if (rc == 0 && found)
		rc = borrow ? sandbox_borrow(&a, &err) : sandbox_unborrow(&err);
	if (rc < 0)
		sg_error("gateway.user: %s", err);
	return rc;
}

/* A role of its own account starts as root and drops once it has opened its files; one of
 * gateway.user drops now. */
static int start_account(struct role_ctx *ctx, const struct role_def *def)
{
	const char *err;
	ctx->drop_pending = def->account_key != NULL;
	if (!ctx->drop_pending)
		return become_account(ctx->settings, NULL);
	if (sandbox_no_dump(&err) < 0) {
		sg_error("%s", err);
		return -1;
	}
	return 0;
}

int master_child_start(const char *role, const char *config_path)
{
	sg_log_init(role);
	int log_fd = env_fd("SEALGATE_LOG_FD", 3);
	if (log_fd >= 0) {
		fcntl(log_fd, F_SETFD, FD_CLOEXEC);
		sg_log_set_fd(log_fd);
	}
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
	sigaddset(&unblock, SIGUSR1);
	sigprocmask(SIG_UNBLOCK, &unblock, NULL); /* the master blocked them across exec */
	struct role_ctx ctx = {.role = role, .config_path = config_path,
	                       .listen_bound = getenv("SEALGATE_LISTEN_BOUND")};
	ctx.status_fd = env_fd("SEALGATE_STATUS_FD", 3);
	if (ctx.status_fd >= 0)
		fcntl(ctx.status_fd, F_SETFD, FD_CLOEXEC);
	if (take_listen_fds(&ctx) < 0 || keyd_client_attach(role) < 0)
		return 1;
	int metrics_fd = env_fd("SEALGATE_METRICS_FD", 3);
	if (metrics_fd >= 0 && sg_metrics_attach(metrics_fd) < 0)
		sg_warn("metrics: the shared counters cannot be mapped: this child counts for itself");
	char *errors = NULL;
	ctx.settings = load_settings(config_path, &errors);
	if (ctx.settings == NULL) {
		sg_error("%s is not valid:", config_path);
		sg_log_lines(SG_LOG_ERROR, "", errors);
		sg_free(&errors);
		return 1;
	}
	ctx.previous = load_previous(config_path);
	if (strcmp(settings_get(ctx.settings, "log.level"), "debug") == 0)
		sg_log_set_level(SG_LOG_DEBUG);
	int rc = start_account(&ctx, def) < 0 ? 1 : def->entry(&ctx);
	settings_free(&ctx.settings);
	settings_free(&ctx.previous);
	if (ctx.status_fd >= 0)
		close(ctx.status_fd);
	return rc;
}

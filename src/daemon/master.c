/* master.c: `sealgate run`. Binds the listening sockets, re-executes the binary once per
 * role of the role table, hears from each child when it is ready (a status pipe), restarts a
 * child that dies (with backoff) and drains on SIGTERM; SIGHUP is master_reload.c. The master
 * holds no mail and no keys: a crash of a child costs a restart, never a message. */
#include "daemon/master_priv.h"
#include "core/accounts.h"
#include "core/sandbox.h"
#include "core/sg_file.h"
#include "core/settings.h"
#include "core/sg_log.h"
#include "core/sg_metrics.h"
#include "core/sg_mem.h"
#include "core/sg_net.h"
#include "core/sg_str.h"
#include "core/sg_time.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RESTART_MAX_MS 60000
#define HEALTHY_AFTER_MS 60000
#define LOOP_SLICE_MS 100

static int bind_role(const struct settings *s, const struct role_def *role, int *fds,
                     size_t *n_r, char *why, size_t whysize)
{
	struct sg_strlist eps;
	sg_strlist_split(&eps, settings_get(s, role->listen_key));
	*n_r = 0;
	int rc = 0;
	for (size_t i = 0; i < eps.count && rc == 0; i++) {
		struct sg_endpoint ep;
		const char *err;
		if (i >= ROLE_MAX_LISTEN || sg_endpoint_parse(eps.items[i], &ep, &err) < 0) {
			snprintf(why, whysize, "%s: cannot use '%s'", role->listen_key, eps.items[i]);
			rc = -1;
			break;
		}
		int fd = sg_listen_tcp(&ep, 128, &err);
		if (fd < 0) {
			snprintf(why, whysize, "%s = %s: %s: %m (is another server using the port?)",
			         role->listen_key, eps.items[i], err);
			rc = -1;
			break;
		}
		fds[(*n_r)++] = fd;
	}
	sg_strlist_free(&eps);
	if (rc < 0)
		while (*n_r > 0)
			close(fds[--(*n_r)]);
	return rc;
}

static void close_listeners(struct master *m, size_t ri)
{
	while (m->nlisten[ri] > 0)
		close(m->listen_fds[ri][--m->nlisten[ri]]);
	sg_free(&m->listen_spec[ri]);
}

/* A listen setting changed by a SIGHUP that cannot be bound now (often: the new address
 * overlaps the one in use): the running sockets stay, the rest of the reload goes on. */
static void keep_listeners(struct master *m, const char *key, const char *why, size_t ri)
{
	sg_error("SIGHUP: %s; still listening on %s: the new address needs a restart", why,
	         m->listen_spec[ri]);
	size_t used = strlen(m->restart_needed);
	snprintf(m->restart_needed + used, sizeof(m->restart_needed) - used, "%s%s",
	         used > 0 ? ", " : "", key);
}

int master_bind_all(struct master *m, const struct settings *s, bool reloading)
{
	size_t count;
	const struct role_def *roles = roles_table(&count);
	m->restart_needed[0] = '\0';
	for (size_t ri = 0; ri < count; ri++) {
		if (roles[ri].listen_key == NULL)
			continue;
		const char *spec = settings_get(s, roles[ri].listen_key);
		if (m->listen_spec[ri] != NULL && strcmp(m->listen_spec[ri], spec) == 0)
			continue; /* unchanged: the same sockets, so no connection is refused */
		int fds[ROLE_MAX_LISTEN];
		size_t n;
		char why[SG_PATH_MAX];
		if (bind_role(s, &roles[ri], fds, &n, why, sizeof(why)) < 0) {
			if (!reloading || m->listen_spec[ri] == NULL) {
				sg_error("%s", why);
				return -1;
			}
			keep_listeners(m, roles[ri].listen_key, why, ri);
			continue;
		}
		close_listeners(m, ri);
		memcpy(m->listen_fds[ri], fds, n * sizeof(int));
		m->nlisten[ri] = n;
		m->listen_spec[ri] = sg_strdup(spec);
	}
	return 0;
}

/* Reads and validates the configuration file; on success *text_r is what was validated. */
struct settings *master_load_config(const char *path, char **text_r, char **errors_r)
{
	const char *err;
	if (sg_file_read_all(path, SG_CONFIG_FILE_MAX, text_r, NULL, &err) < 0) {
		char why[SG_PATH_MAX + 100];
		snprintf(why, sizeof(why), "%s: %s: %m\n", path, err);
		*errors_r = sg_strdup(why);
		return NULL;
	}
	struct settings *s = settings_load_text(path, *text_r, errors_r);
	if (s == NULL)
		sg_free(text_r);
	return s;
}

static void pass_fd_number(const char *env, int fd)
{
	char nbuf[16];
	snprintf(nbuf, sizeof(nbuf), "%d", fd);
	setenv(env, nbuf, 1);
}

/* text as an in-memory file at fd, named in the environment variable env for the child. */
static void pass_text(const char *text, int fd, const char *env, const struct role_def *role)
{
	int mfd = memfd_create("sealgate.conf", 0);
	size_t len = strlen(text);
	if (mfd < 0 || sg_write_all(mfd, text, len) < 0 || lseek(mfd, 0, SEEK_SET) < 0 ||
	    dup2(mfd, fd) < 0)
		sg_fatal("%s: cannot pass the configuration: %m", role->name);
	if (mfd != fd)
		close(mfd);
	pass_fd_number(env, fd);
}

/* In the forked child: stdout and stderr become the one log pipe, the inherited sockets fds
 * 3.. in listen order, then come the configuration, the status pipe, the other log pipe (for
 * sg_log), the shared counters and (after a SIGHUP) the previous configuration. Each is first dup'ed above any target, so that moving one never
 * clobbers another. */
static _Noreturn void exec_child(struct master *m, size_t ri, const struct child *c,
                                 int status_w, const int log_w[2])
{
	const struct role_def *role = c->role;
	if (dup2(log_w[1], STDOUT_FILENO) < 0 || dup2(log_w[1], STDERR_FILENO) < 0)
		sg_fatal("%s: cannot pass the log pipe: %m", role->name);
	int log_tmp = fcntl(log_w[0], F_DUPFD, 64);
	int tmp[ROLE_MAX_LISTEN];
	size_t n = m->nlisten[ri];
	for (size_t i = 0; i < n; i++)
		tmp[i] = fcntl(m->listen_fds[ri][i], F_DUPFD, 64);
	int status_tmp = fcntl(status_w, F_DUPFD, 64);
	int metrics_tmp = m->metrics_fd >= 0 ? fcntl(m->metrics_fd, F_DUPFD, 64) : -1;
	for (size_t i = 0; i < n; i++) {
		if (tmp[i] < 0 || dup2(tmp[i], 3 + (int)i) < 0)
			sg_fatal("%s: cannot pass listening socket: %m", role->name);
		close(tmp[i]);
	}
	char nbuf[16];
	snprintf(nbuf, sizeof(nbuf), "%zu", n);
	setenv("SEALGATE_LISTEN_FDS", nbuf, 1);
	if (m->listen_spec[ri] != NULL)
		setenv("SEALGATE_LISTEN_BOUND", m->listen_spec[ri], 1);
	int next = 3 + (int)n;
	pass_text(m->config_text, next++, "SEALGATE_CONFIG_FD", role);
	if (status_tmp < 0 || dup2(status_tmp, next) < 0)
		sg_fatal("%s: cannot pass the status pipe: %m", role->name);
	close(status_tmp);
	pass_fd_number("SEALGATE_STATUS_FD", next++);
	if (log_tmp < 0 || dup2(log_tmp, next) < 0)
		sg_fatal("%s: cannot pass the log pipe: %m", role->name);
	close(log_tmp);
	pass_fd_number("SEALGATE_LOG_FD", next++);
	if (metrics_tmp >= 0 && dup2(metrics_tmp, next) == next) {
		close(metrics_tmp);
		pass_fd_number("SEALGATE_METRICS_FD", next++);
	}
	next = master_keyd_pass(m, role, next);
	if (c->reload != RELOAD_NONE && m->previous_text != NULL)
		pass_text(m->previous_text, next++, "SEALGATE_PREVIOUS_CONFIG_FD", role);
	char *argv[] = {"sealgate", "__role", (char *)role->name, "-c", m->config_path, NULL};
	execv("/proc/self/exe", argv);
	sg_fatal("%s: cannot execute /proc/self/exe: %m", role->name);
}

void master_start_child(struct master *m, struct child *c)
{
	size_t count;
	const struct role_def *roles = roles_table(&count);
	size_t ri = (size_t)(c->role - roles);
	int status[2], log[2];
	if (pipe2(status, O_CLOEXEC | O_NONBLOCK) < 0) {
		sg_error("cannot start %s: pipe: %m; retrying", c->role->name);
		c->restart_at_ms = sg_mono_ms() + RESTART_MIN_MS;
		return;
	}
	if (master_log_open(c, log) < 0) {
		sg_error("cannot start %s: pipe: %m; retrying", c->role->name);
		close(status[0]);
		close(status[1]);
		c->restart_at_ms = sg_mono_ms() + RESTART_MIN_MS;
		return;
	}
	/* The child keeps these blocked across exec until its own handlers are in place, so a
	 * SIGTERM that arrives while it starts is a drain request, not a kill. */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &old);
	pid_t pid = fork();
	if (pid != 0)
		sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid == 0)
		exec_child(m, ri, c, status[1], log);
	close(status[1]);
	close(log[0]);
	close(log[1]);
	if (pid < 0) {
		sg_error("cannot fork %s: %m; retrying", c->role->name);
		close(status[0]);
		master_log_finish(c, 0);
		c->restart_at_ms = sg_mono_ms() + RESTART_MIN_MS;
		return;
	}
	c->pid = pid;
	c->ready = false;
	c->status_fd = status[0];
	c->started_ms = sg_mono_ms();
	c->restart_at_ms = 0;
	sg_info("started %s (pid %ld)", c->role->name, (long)pid);
}

struct child *master_add_child(struct master *m, const struct role_def *role)
{
	struct child *c = NULL;
	for (size_t i = 0; i < m->nchildren && c == NULL; i++)
		if (m->children[i].pid == 0 && m->children[i].retiring &&
		    m->children[i].reload != RELOAD_FAILED)
			c = &m->children[i]; /* reuse the slot of a child that has gone */
	if (c == NULL) {
		if (m->nchildren >= MAX_CHILDREN)
			sg_fatal("too many children");
		c = &m->children[m->nchildren++];
	}
	memset(c, 0, sizeof(*c));
	c->role = role;
	c->status_fd = -1;
	c->logs[0].fd = c->logs[1].fd = -1;
	c->backoff_ms = RESTART_MIN_MS;
	return c;
}

static void describe_exit(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
		snprintf(buf, size, "killed by seccomp (SIGSYS): a system call outside its filter "
		         "(gateway.seccomp = log names it in the kernel log)");
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(status),
		         strsignal(WTERMSIG(status)));
	else
		snprintf(buf, size, "stopped");
}

static void close_status(struct child *c)
{
	if (c->status_fd >= 0)
		close(c->status_fd);
	c->status_fd = -1;
}

/* Reads what the child said on its status pipe ("ready"). Returns 1 if it read something,
 * 0 at the pipe's end (closed then), -1 if nothing is there now. */
static int read_status(struct master *m, struct child *c)
{
	char buf[64];
	ssize_t n = read(c->status_fd, buf, sizeof(buf) - 1);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return -1;
	if (n <= 0) {
		close_status(c);
		return 0;
	}
	buf[n] = '\0';
	if (!c->ready && strncmp(buf, "ready", 5) == 0)
		master_child_ready(m, c);
	return 1;
}

static void child_exited(struct master *m, struct child *c, int status, bool stopping)
{
	char why[160];
	describe_exit(status, why, sizeof(why));
	pid_t pid = c->pid;
	while (c->status_fd >= 0 && read_status(m, c) > 0)
		; /* a "ready" written just before the exit still counts */
	close_status(c);
	master_log_finish(c, (long)pid);
	int64_t lived = sg_mono_ms() - c->started_ms;
	c->pid = 0;
	bool expected = c->retiring || stopping;
	if (expected || master_has_successor(m, pid)) {
		sg_log(expected ? SG_LOG_INFO : SG_LOG_WARN, "%s %s%s", c->role->name, why,
		       expected ? "" : "; the child starting in its place takes over");
		c->retiring = true;
		return;
	}
	if (!c->ready && master_child_failed(m, c, pid, why))
		return;
	if (lived > HEALTHY_AFTER_MS)
		c->backoff_ms = RESTART_MIN_MS;
	sg_warn("%s %s after %lld ms; restarting in %d ms", c->role->name, why, (long long)lived,
	        c->backoff_ms);
	c->restart_at_ms = sg_mono_ms() + c->backoff_ms;
	c->backoff_ms = c->backoff_ms * 2 > RESTART_MAX_MS ? RESTART_MAX_MS : c->backoff_ms * 2;
}

static void reap(struct master *m, bool stopping)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		for (size_t i = 0; i < m->nchildren; i++)
			if (m->children[i].pid == pid)
				child_exited(m, &m->children[i], status, stopping);
}

static bool role_has_live_retiree(struct master *m, const struct role_def *role)
{
	for (size_t i = 0; i < m->nchildren; i++)
		if (m->children[i].role == role && m->children[i].retiring && m->children[i].pid > 0)
			return true;
	return false;
}

void master_restart_due(struct master *m)
{
	int64_t now = sg_mono_ms();
	for (size_t i = 0; i < m->nchildren; i++) {
		struct child *c = &m->children[i];
		if (c->pid != 0 || c->retiring || c->restart_at_ms > now)
			continue;
		if (!c->role->overlap_on_reload && role_has_live_retiree(m, c->role))
			continue;
		master_start_child(m, c);
	}
}

/* Waits up to timeout_ms for a child to say something on its status or log pipe, and
 * handles it (a signal cuts the wait short). */
static void wait_children(struct master *m, int timeout_ms)
{
	struct pollfd pfd[3 * MAX_CHILDREN];
	struct child *who[3 * MAX_CHILDREN];
	nfds_t n = 0;
	for (size_t i = 0; i < m->nchildren; i++) {
		struct child *c = &m->children[i];
		int fds[3] = {c->status_fd, c->logs[0].fd, c->logs[1].fd};
		for (size_t k = 0; k < 3; k++)
			if (fds[k] >= 0) {
				pfd[n] = (struct pollfd){.fd = fds[k], .events = POLLIN};
				who[n++] = c;
			}
	}
	if (poll(pfd, n, timeout_ms) <= 0)
		return;
	for (nfds_t i = 0; i < n; i++) {
		struct child *c = who[i];
		if (pfd[i].revents == 0)
			continue;
		if (pfd[i].fd == c->status_fd)
			read_status(m, c);
		else
			master_log_read(c, &c->logs[pfd[i].fd == c->logs[0].fd ? 0 : 1], (long)c->pid);
	}
}

static size_t live_children(const struct master *m)
{
	size_t n = 0;
	for (size_t i = 0; i < m->nchildren; i++)
		n += m->children[i].pid > 0;
	return n;
}

static void signal_children(struct master *m, int sig, bool only_retiring)
{
	for (size_t i = 0; i < m->nchildren; i++)
		if (m->children[i].pid > 0 && (!only_retiring || m->children[i].retiring))
			kill(m->children[i].pid, sig);
}

static void log_layout_problem(void *arg, const char *message)
{
	(void)arg;
	sg_error("%s", message);
}

/* gateway.user and the role accounts: the accounts the children become. Checked before any
 * child starts (and before a reload takes effect), so that a wrong account or a file it cannot
 * use is one clear message instead of children that die and restart in a loop. */
int master_check_account(const struct settings *s)
{
	const char *name = settings_get(s, "gateway.user"), *err;
	const char *keys[] = {"gateway.user", "gateway.smtp_user", "gateway.ldap_user"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		struct sandbox_account a;
		bool found;
		if (accounts_for_role(s, keys[i], &a, &found, &err) < 0) {
			sg_error("%s = %s: %s", keys[i], accounts_name(s, keys[i]), err);
			return -1;
		}
		if (found && geteuid() != 0 && geteuid() != a.uid) {
			sg_error("%s = %s, but sealgate was started by another account: start it as "
			         "root (it changes to %s) or as %s", keys[i], a.name, a.name, a.name);
			return -1;
		}
	}
	if (name[0] == '\0' && geteuid() == 0)
		sg_warn("running as root: set gateway.user to an unprivileged account "
		        "(docs/admin-guide.md, \"Running as an unprivileged account\")");
	if (name[0] == '\0' || geteuid() != 0)
		return 0;
	int bad = accounts_check_layout(s, log_layout_problem, NULL, &err);
	if (bad < 0)
		sg_error("gateway.user = %s: %s", name, err);
	return bad == 0 ? 0 : -1;
}

static bool is_keyd(const struct child *c)
{
	return strcmp(c->role->name, "keyd") == 0;
}

/* The children of one turn of the stop: every role but keyd, or keyd alone. */
static size_t live_in_turn(const struct master *m, bool keyd)
{
	size_t n = 0;
	for (size_t i = 0; i < m->nchildren; i++)
		n += m->children[i].pid > 0 && is_keyd(&m->children[i]) == keyd;
	return n;
}

static void stop_turn(struct master *m, bool keyd, int64_t deadline)
{
	for (size_t i = 0; i < m->nchildren; i++)
		if (m->children[i].pid > 0 && is_keyd(&m->children[i]) == keyd)
			kill(m->children[i].pid, SIGTERM);
	while (live_in_turn(m, keyd) > 0 && sg_mono_ms() < deadline) {
		reap(m, true);
		wait_children(m, 50);
	}
}

/* keyd stops last: a role finishing its work (qmgr's last signature, tick's CRL) may still
 * open a connection to it, which a keyd stopped at the same time would never answer. */
static void drain(struct master *m)
{
	long long grace = settings_number(m->settings, "smtp.drain_timeout") + 10;
	sg_info("stopping: draining children (at most %lld s)", grace);
	int64_t deadline = sg_mono_ms() + grace * 1000;
	stop_turn(m, false, deadline);
	stop_turn(m, true, deadline);
	if (live_children(m) > 0) {
		sg_warn("children still running after %lld s; killing them", grace);
		signal_children(m, SIGKILL, false);
		while (live_children(m) > 0 && waitpid(-1, NULL, 0) > 0)
			reap(m, true);
	}
}

static void master_free(struct master *m)
{
	size_t count;
	roles_table(&count);
	for (size_t ri = 0; ri < count && ri < MAX_CHILDREN; ri++)
		close_listeners(m, ri);
	master_keyd_close(m);
	settings_free(&m->settings);
	sg_free(&m->config_text);
	sg_free(&m->previous_text);
	for (size_t i = 0; i < m->nchildren; i++) {
		close_status(&m->children[i]);
		master_log_finish(&m->children[i], (long)m->children[i].pid);
	}
}

int master_run(const char *config_path)
{
	static struct master m;
	const char *err;
	sg_log_init("master");
	if (sandbox_no_dump(&err) < 0) {
		sg_error("%s", err);
		return 1;
	}
	if (realpath(config_path, m.config_path) == NULL) {
		sg_error("cannot open %s: %m", config_path);
		return 1;
	}
	char *errors = NULL;
	m.settings = master_load_config(m.config_path, &m.config_text, &errors);
	if (m.settings == NULL) {
		sg_log_lines(SG_LOG_ERROR, "", errors);
		sg_error("%s is not valid; fix the lines above and start again", m.config_path);
		sg_free(&errors);
		return 1;
	}
	daemon_signals_init();
	if (master_check_account(m.settings) < 0 || master_bind_all(&m, m.settings, false) < 0) {
		master_free(&m);
		return 1;
	}
	if (master_keyd_open(&m) < 0) {
		sg_error("cannot make the keyd sockets: %m");
		master_free(&m);
		return 1;
	}
	/* Made once: the counters outlive every child (and every reload). */
	if ((m.metrics_fd = sg_metrics_create()) < 0)
		sg_warn("metrics: no shared counters (%m): each child counts for itself");
	size_t count;
	const struct role_def *roles = roles_table(&count);
	for (size_t i = 0; i < count; i++)
		master_add_child(&m, &roles[i]);
	sg_info("sealgate %s starting with %s", SEALGATE_VERSION, m.config_path);
	while (!daemon_stop_requested) {
		reap(&m, false);
		if (daemon_reload_requested) {
			daemon_reload_requested = 0;
			master_reload(&m);
		}
		master_restart_due(&m);
		master_reload_progress(&m);
		master_notify_started(&m);
		wait_children(&m, LOOP_SLICE_MS);
	}
	master_notify_stopping();
	drain(&m);
	master_free(&m);
	sg_info("stopped");
	return 0;
}

/* master.c: `sealgate run`. Binds the listening sockets, re-executes the binary once per
 * role of the role table, restarts a child that dies (with backoff), drains on SIGTERM and
 * re-reads the configuration on SIGHUP. The master holds no mail and no keys: a crash of a
 * child costs a restart, never a message. */
#include "daemon/daemon.h"
#include "core/limits.h"
#include "core/sandbox.h"
#include "core/sg_file.h"
#include "core/settings.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_net.h"
#include "core/sg_str.h"
#include "core/sg_time.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RESTART_MIN_MS 1000
#define RESTART_MAX_MS 60000
#define HEALTHY_AFTER_MS 60000
#define MAX_CHILDREN 32

struct child {
	const struct role_def *role;
	pid_t pid;            /* 0 = not running */
	bool retiring;        /* replaced on reload: not restarted when it exits */
	int64_t started_ms;
	int64_t restart_at_ms;
	int backoff_ms;
};

struct master {
	char config_path[SG_PATH_MAX];
	char *config_text; /* what settings was validated from: children get exactly this */
	struct settings *settings;
	struct child children[MAX_CHILDREN];
	size_t nchildren;
	int listen_fds[MAX_CHILDREN][ROLE_MAX_LISTEN]; /* per role index */
	size_t nlisten[MAX_CHILDREN];
	char *listen_spec[MAX_CHILDREN];                /* the setting value they were bound from */
};

static int bind_role(const struct settings *s, const struct role_def *role, int *fds,
                     size_t *n_r)
{
	struct sg_strlist eps;
	sg_strlist_split(&eps, settings_get(s, role->listen_key));
	*n_r = 0;
	int rc = 0;
	for (size_t i = 0; i < eps.count && rc == 0; i++) {
		struct sg_endpoint ep;
		const char *err;
		if (i >= ROLE_MAX_LISTEN || sg_endpoint_parse(eps.items[i], &ep, &err) < 0) {
			sg_error("%s: cannot use '%s'", role->listen_key, eps.items[i]);
			rc = -1;
			break;
		}
		int fd = sg_listen_tcp(&ep, 128, &err);
		if (fd < 0) {
			sg_error("%s = %s: %s: %m (is another server using the port?)", role->listen_key,
			         eps.items[i], err);
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

/* Binds what changed; keeps sockets whose setting is unchanged so no connection is refused
 * across a reload. */
static int bind_all(struct master *m, const struct settings *s)
{
	size_t count;
	const struct role_def *roles = roles_table(&count);
	for (size_t ri = 0; ri < count; ri++) {
		if (roles[ri].listen_key == NULL)
			continue;
		const char *spec = settings_get(s, roles[ri].listen_key);
		if (m->listen_spec[ri] != NULL && strcmp(m->listen_spec[ri], spec) == 0)
			continue;
		int fds[ROLE_MAX_LISTEN];
		size_t n;
		if (bind_role(s, &roles[ri], fds, &n) < 0)
			return -1;
		close_listeners(m, ri);
		memcpy(m->listen_fds[ri], fds, n * sizeof(int));
		m->nlisten[ri] = n;
		m->listen_spec[ri] = sg_strdup(spec);
	}
	return 0;
}

/* Reads and validates the configuration file; on success *text_r is what was validated. */
static struct settings *load_config(const char *path, char **text_r, char **errors_r)
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

/* The validated configuration as an in-memory file at fd, for the child to read. */
static void pass_config(const struct master *m, int fd, const struct role_def *role)
{
	int mfd = memfd_create("sealgate.conf", 0);
	size_t len = strlen(m->config_text);
	if (mfd < 0 || sg_write_all(mfd, m->config_text, len) < 0 || lseek(mfd, 0, SEEK_SET) < 0 ||
	    dup2(mfd, fd) < 0)
		sg_fatal("%s: cannot pass the configuration: %m", role->name);
	if (mfd != fd)
		close(mfd);
	char nbuf[16];
	snprintf(nbuf, sizeof(nbuf), "%d", fd);
	setenv("SEALGATE_CONFIG_FD", nbuf, 1);
}

static _Noreturn void exec_child(struct master *m, size_t ri, const struct role_def *role)
{
	/* Inherited sockets become fds 3.. in smtp.listen order. dup first, to fds above any
	 * target, so that moving one never clobbers another. */
	int tmp[ROLE_MAX_LISTEN];
	size_t n = m->nlisten[ri];
	for (size_t i = 0; i < n; i++)
		tmp[i] = fcntl(m->listen_fds[ri][i], F_DUPFD, 64);
	for (size_t i = 0; i < n; i++) {
		if (tmp[i] < 0 || dup2(tmp[i], 3 + (int)i) < 0)
			sg_fatal("%s: cannot pass listening socket: %m", role->name);
		close(tmp[i]);
	}
	char nbuf[16];
	snprintf(nbuf, sizeof(nbuf), "%zu", n);
	setenv("SEALGATE_LISTEN_FDS", nbuf, 1);
	pass_config(m, 3 + (int)n, role);
	char *argv[] = {"sealgate", "__role", (char *)role->name, "-c", m->config_path, NULL};
	execv("/proc/self/exe", argv);
	sg_fatal("%s: cannot execute /proc/self/exe: %m", role->name);
}

static void start_child(struct master *m, struct child *c)
{
	size_t count;
	const struct role_def *roles = roles_table(&count);
	size_t ri = (size_t)(c->role - roles);
	/* The child keeps these blocked across exec until its own handlers are in place, so a
	 * SIGTERM that arrives while it starts is a drain request, not a kill. */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &old);
	pid_t pid = fork();
	if (pid != 0)
		sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		sg_error("cannot fork %s: %m; retrying", c->role->name);
		c->restart_at_ms = sg_mono_ms() + RESTART_MIN_MS;
		return;
	}
	if (pid == 0)
		exec_child(m, ri, c->role);
	c->pid = pid;
	c->started_ms = sg_mono_ms();
	c->restart_at_ms = 0;
	sg_info("started %s (pid %ld)", c->role->name, (long)pid);
}

static struct child *add_child(struct master *m, const struct role_def *role)
{
	struct child *c = NULL;
	for (size_t i = 0; i < m->nchildren && c == NULL; i++)
		if (m->children[i].pid == 0 && m->children[i].retiring)
			c = &m->children[i]; /* reuse the slot of a child that has gone */
	if (c == NULL) {
		if (m->nchildren >= MAX_CHILDREN)
			sg_fatal("too many children");
		c = &m->children[m->nchildren++];
	}
	memset(c, 0, sizeof(*c));
	c->role = role;
	c->backoff_ms = RESTART_MIN_MS;
	return c;
}

static void describe_exit(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(status),
		         strsignal(WTERMSIG(status)));
	else
		snprintf(buf, size, "stopped");
}

static void child_exited(struct child *c, int status, bool stopping)
{
	char why[96];
	describe_exit(status, why, sizeof(why));
	int64_t lived = sg_mono_ms() - c->started_ms;
	c->pid = 0;
	if (c->retiring || stopping) {
		sg_info("%s %s", c->role->name, why);
		c->retiring = true;
		return;
	}
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
				child_exited(&m->children[i], status, stopping);
}

static bool role_has_live_retiree(struct master *m, const struct role_def *role)
{
	for (size_t i = 0; i < m->nchildren; i++)
		if (m->children[i].role == role && m->children[i].retiring && m->children[i].pid > 0)
			return true;
	return false;
}

static void restart_due(struct master *m)
{
	int64_t now = sg_mono_ms();
	for (size_t i = 0; i < m->nchildren; i++) {
		struct child *c = &m->children[i];
		if (c->pid != 0 || c->retiring || c->restart_at_ms > now)
			continue;
		if (!c->role->overlap_on_reload && role_has_live_retiree(m, c->role))
			continue;
		start_child(m, c);
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

static bool inside(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* gateway.user: the account the children become. Checked before any child starts (and before
 * a reload takes effect), so that a wrong account or a file it cannot use is one clear message
 * instead of children that die and restart in a loop. */
static int check_account(const struct settings *s)
{
	const char *name = settings_get(s, "gateway.user"), *err;
	if (name[0] == '\0') {
		if (geteuid() == 0)
			sg_warn("running as root: set gateway.user to an unprivileged account "
			        "(docs/admin-guide.md, \"Running as an unprivileged account\")");
		return 0;
	}
	struct sandbox_account a;
	if (sandbox_account_find(name, &a, &err) < 0) {
		sg_error("gateway.user = %s: %s", name, err);
		return -1;
	}
	if (geteuid() != 0) {
		if (geteuid() == a.uid)
			return 0;
		sg_error("gateway.user = %s, but sealgate was started by another account: start it as "
		         "root (it changes to %s) or as %s", name, name, name);
		return -1;
	}
	char spool[SG_PATH_MAX], key[SG_PATH_MAX], db[SG_PATH_MAX], ca[SG_PATH_MAX];
	char tls[SG_PATH_MAX], bad[SG_PATH_MAX];
	const char *url = settings_get(s, "store.database");
	if (settings_path(s, "gateway.spool_dir", spool, sizeof(spool)) < 0 ||
	    settings_path(s, "gateway.master_key", key, sizeof(key)) < 0 ||
	    settings_path(s, "gateway.ca_dir", ca, sizeof(ca)) < 0 ||
	    settings_path(s, "smtp.tls_key", tls, sizeof(tls)) < 0 ||
	    sg_path_resolve(db, sizeof(db), settings_dir(s),
	                    strncmp(url, "sqlite:", 7) == 0 ? url + 7 : "") < 0) {
		sg_error("gateway.user: a path of the instance is too long");
		return -1;
	}
	/* The instance directory one level deep (not its Maildirs, which may be large), what the
	 * store writes beside its file (journal), and the trees the processes read and write. */
	char db_dir[SG_PATH_MAX];
	sg_strlcpy(db_dir, db, sizeof(db_dir));
	char *slash = strrchr(db_dir, '/');
	if (slash != NULL && slash != db_dir)
		*slash = '\0';
	const char *paths[] = {settings_dir(s), db_dir, NULL};
	const char *trees[] = {spool, key, ca, tls, NULL};
	int rc = sandbox_find_foreign(paths, trees, &a, bad, sizeof(bad), &err);
	if (rc != 0)
		sg_error("gateway.user = %s, but %s %s: run `chown -R %s: %s`%s%s", name, bad,
		         rc < 0 ? "cannot be read" : "belongs to another account", name,
		         settings_dir(s), inside(spool, settings_dir(s)) ? "" : " and the same for ",
		         inside(spool, settings_dir(s)) ? "" : spool);
	return rc == 0 ? 0 : -1;
}

static void reload(struct master *m)
{
	char *errors = NULL, *text = NULL;
	struct settings *s = load_config(m->config_path, &text, &errors);
	if (s == NULL) {
		sg_error("SIGHUP: %s is not valid; keeping the running configuration:\n%s",
		         m->config_path, errors);
		sg_free(&errors);
		return;
	}
	if (check_account(s) < 0) {
		sg_error("SIGHUP: keeping the running configuration");
		settings_free(&s);
		sg_free(&text);
		return;
	}
	if (bind_all(m, s) < 0) {
		sg_error("SIGHUP: cannot bind the new listen addresses; keeping the running configuration");
		settings_free(&s);
		sg_free(&text);
		return;
	}
	settings_free(&m->settings);
	m->settings = s;
	sg_free(&m->config_text);
	m->config_text = text;
	sg_info("SIGHUP: configuration re-read; restarting children");
	const struct role_def *replace[MAX_CHILDREN];
	size_t nreplace = 0;
	for (size_t i = 0; i < m->nchildren; i++) {
		struct child *old = &m->children[i];
		if (old->retiring)
			continue;
		old->retiring = true;
		if (old->pid > 0)
			kill(old->pid, SIGTERM);
		replace[nreplace++] = old->role;
	}
	for (size_t i = 0; i < nreplace; i++)
		add_child(m, replace[i]);
	restart_due(m);
}

static void drain(struct master *m)
{
	long long grace = settings_number(m->settings, "smtp.drain_timeout") + 10;
	sg_info("stopping: draining children (at most %lld s)", grace);
	signal_children(m, SIGTERM, false);
	int64_t deadline = sg_mono_ms() + grace * 1000;
	while (live_children(m) > 0 && sg_mono_ms() < deadline) {
		reap(m, true);
		usleep(50 * 1000);
	}
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
	settings_free(&m->settings);
	sg_free(&m->config_text);
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
	m.settings = load_config(m.config_path, &m.config_text, &errors);
	if (m.settings == NULL) {
		fputs(errors, stderr);
		sg_error("%s is not valid; fix the lines above and start again", m.config_path);
		sg_free(&errors);
		return 1;
	}
	daemon_signals_init();
	if (check_account(m.settings) < 0 || bind_all(&m, m.settings) < 0) {
		master_free(&m);
		return 1;
	}
	size_t count;
	const struct role_def *roles = roles_table(&count);
	for (size_t i = 0; i < count; i++)
		add_child(&m, &roles[i]);
	sg_info("sealgate %s starting with %s", SEALGATE_VERSION, m.config_path);
	while (!daemon_stop_requested) {
		reap(&m, false);
		if (daemon_reload_requested) {
			daemon_reload_requested = 0;
			reload(&m);
		}
		restart_due(&m);
		usleep(100 * 1000); /* a signal cuts the sleep short */
	}
	drain(&m);
	master_free(&m);
	sg_info("stopped");
	return 0;
}

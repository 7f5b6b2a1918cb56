/* daemon.h: the master and its children. The master binds the listening sockets, then
 * re-executes the binary once per role (a fresh address space); a role's entry function
 * receives a role_ctx with the loaded settings and its inherited sockets. */
#ifndef SG_DAEMON_H
#define SG_DAEMON_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct settings;

#define ROLE_MAX_LISTEN 8

struct role_ctx {
	const char *role;
	const char *config_path;
	struct settings *settings;
	int listen_fds[ROLE_MAX_LISTEN]; /* inherited from the master, in smtp.listen order */
	size_t n_listen_fds;
};

typedef int (*role_entry_fn)(struct role_ctx *ctx);

struct role_def {
	const char *name;
	role_entry_fn entry;
	const char *listen_key;   /* setting whose endpoints the master binds for it, or NULL */
	bool opens_store;         /* may open the store (smtpd may not) */
	const char *spool_dirs;   /* spool subdirectories it touches, for docs/architecture.md */
	bool overlap_on_reload;   /* on SIGHUP the new child may start before the old one ends */
	const char *doc;
};

/* The role table (daemon/roles.c). */
const struct role_def *roles_table(size_t *count_r);
const struct role_def *roles_find(const char *name);

/* Set by the signal handlers every role installs with daemon_signals_init(). */
extern atomic_int daemon_stop_requested;
extern atomic_int daemon_reload_requested;
/* SIGTERM/SIGINT set daemon_stop_requested, SIGHUP daemon_reload_requested; SIGPIPE ignored.
 * Handlers are installed without SA_RESTART so blocking calls return EINTR. */
void daemon_signals_init(void);

/* The tick role (daemon/tick_main.c): clock-driven work such as expiring held mail. */
int tick_main(struct role_ctx *ctx);

/* `sealgate run`: the master; returns the process exit code. */
int master_run(const char *config_path);
/* Hidden `sealgate __role NAME -c FILE`: the child side of the re-exec. */
int master_child_start(const char *role, const char *config_path);

#endif

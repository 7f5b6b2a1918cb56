/* daemon.h: the master and its children. The master binds the listening sockets, then
 * re-executes the binary once per role (a fresh address space); the contract a role sees
 * (role_ctx, daemon_ready, the stop flags) is role/role.h. When a role serves (daemon_ready):
 * on SIGHUP the master retires the old child of a listening role
 * only once its successor is ready, so the sockets never lack a process that accepts. */
#ifndef SG_DAEMON_H
#define SG_DAEMON_H

#include "role/role.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

struct settings;

struct role_def {
	const char *name;
	role_entry_fn entry;
	const char *listen_key;   /* setting whose endpoints the master binds for it, or NULL */
	bool opens_store;         /* may open the store (smtpd may not) */
	const char *spool_dirs;   /* spool subdirectories it touches, for docs/architecture.md */
	bool overlap_on_reload;   /* on SIGHUP the new child starts first; the old one is retired
	                             (SIGUSR1) once the new one is ready */
	const char *sections;     /* setting prefixes it logs changes of after a SIGHUP */
	const char *account_key;  /* setting naming its own account (empty: gateway.user), or
	                           * NULL: it runs as gateway.user from the start */
	const char *doc;
};

/* The role table (daemon/roles.c). */
const struct role_def *roles_table(size_t *count_r);
const struct role_def *roles_find(const char *name);

struct setting_def;
typedef void (*daemon_change_fn)(const struct setting_def *def, const char *was, const char *now,
                                 void *arg);
/* Calls fn for each setting whose value differs between was and now, among the keys that
 * start with one of the space-separated prefixes of sections (NULL: all); returns how many. */
size_t daemon_settings_diff(const struct settings *was, const struct settings *now,
                            const char *sections, daemon_change_fn fn, void *arg);
/* After a SIGHUP: logs the settings of the role's sections that changed, and whether each
 * took effect (a listen address the master could not bind needs a restart). */
void daemon_log_changes(const struct role_ctx *ctx, const struct role_def *role);

/* The tick role (daemon/tick_main.c): clock-driven work such as expiring held mail. */
int tick_main(struct role_ctx *ctx);

/* `sealgate run`: the master; returns the process exit code. */
int master_run(const char *config_path);
/* Hidden `sealgate __role NAME -c FILE`: the child side of the re-exec. */
int master_child_start(const char *role, const char *config_path);

#endif

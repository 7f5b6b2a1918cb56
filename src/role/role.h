/* role.h: the contract between the master and a role (a child it starts: smtpd, qmgr, ldapd,
 * portal, tick, metrics). A role's entry function receives a role_ctx with the loaded settings
 * and its inherited sockets, watches the stop/retire flags, and tells the master when it serves
 * (daemon_ready). Roles include this header, not daemon/daemon.h: a role needs the contract,
 * never the master. The functions are defined by the daemon layer (daemon_signals.c,
 * master_child.c), which the binary links with every role. */
#ifndef SG_ROLE_H
#define SG_ROLE_H

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
	const char *listen_bound;        /* the listen setting the sockets were bound from */
	struct settings *previous;       /* after a SIGHUP: the configuration before it, else NULL */
	int status_fd;                   /* where daemon_ready tells the master, or -1 */
	bool drop_pending;               /* a role of its own account, still root: it opens its
	                                  * files, then calls daemon_drop_privileges */
};

typedef int (*role_entry_fn)(struct role_ctx *ctx);

/* Set by the signal handlers every role installs with daemon_signals_init(). */
extern atomic_int daemon_stop_requested;
extern atomic_int daemon_reload_requested;
extern atomic_int daemon_retire_requested;
/* SIGTERM/SIGINT set daemon_stop_requested, SIGHUP daemon_reload_requested, SIGUSR1 (sent by
 * the master once a successor serves) daemon_retire_requested: stop accepting, let the
 * sessions in flight end by themselves (bounded), exit. SIGPIPE ignored. Handlers are
 * installed without SA_RESTART so blocking calls return EINTR. */
void daemon_signals_init(void);
/* True once the process should stop accepting new connections (stop or retire). */
bool daemon_leaving(void);

/* A role of its own account (role_def.account_key: smtpd, ldapd) starts as root so that it
 * can open what its account may not read (TLS key, the store); it calls this once that is
 * done, before it reads any input. 0, or -1 (logged). No-op for the other roles, which the
 * child start made their account already. daemon_ready refuses to serve before it. */
int daemon_drop_privileges(struct role_ctx *ctx);

/* Before that drop: borrow true acts with gateway.user's file permissions, false returns to
 * root, so that what the role opens of gateway.user's (ldapd: the store, whose WAL files a
 * root connection would create root's) is opened as gateway.user would. 0, or -1 (logged). */
int daemon_borrow_gateway_account(struct role_ctx *ctx, bool borrow);

/* Logs "ready: ..." and tells the master that this child serves; call once, when the role
 * accepts connections (or does its work). */
void daemon_ready(struct role_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

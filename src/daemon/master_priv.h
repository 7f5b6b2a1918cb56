/* master_priv.h: the master's state, shared by master.c (children's lives, the run loop) and
 * master_reload.c (SIGHUP: the new configuration, the hand-over, the summary). */
#ifndef SG_MASTER_PRIV_H
#define SG_MASTER_PRIV_H

#include "core/limits.h"
#include "core/sg_log.h"
#include "daemon/daemon.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define MAX_CHILDREN 32
#define RESTART_MIN_MS 1000
#define MASTER_KEYD_CLIENTS 8

/* Where a child started by a SIGHUP stands, for the reload summary. */
enum reload_state { RELOAD_NONE, RELOAD_WAITING, RELOAD_READY, RELOAD_FAILED };

/* One of a child's two log pipes (master_log.c). */
struct child_log {
	int fd;     /* read end, or -1 */
	bool ours;  /* its sg_log lines (else its stdout and stderr) */
	size_t len; /* bytes of an unfinished line in buf */
	char buf[SG_LOG_LINE_MAX];
};

struct child {
	const struct role_def *role;
	pid_t pid;            /* 0 = not running */
	bool retiring;        /* replaced on reload: not restarted when it exits */
	bool ready;           /* said daemon_ready since it started */
	int status_fd;        /* read end of its status pipe, or -1 */
	struct child_log logs[2]; /* [0] its log lines, [1] its stdout and stderr */
	pid_t replaces;       /* the child it takes over from once ready (reload), or 0 */
	enum reload_state reload;
	char reload_note[160]; /* why it failed, for the summary */
	int64_t started_ms;
	int64_t restart_at_ms;
	int backoff_ms;
};

struct master {
	char config_path[SG_PATH_MAX];
	char *config_text;   /* what settings was validated from: children get exactly this */
	char *previous_text; /* the configuration before the last SIGHUP, for the changes log */
	struct settings *settings;
	struct child children[MAX_CHILDREN];
	size_t nchildren;
	int listen_fds[MAX_CHILDREN][ROLE_MAX_LISTEN]; /* per role index */
	size_t nlisten[MAX_CHILDREN];
	char *listen_spec[MAX_CHILDREN];                /* the setting value they were bound from */
	int64_t reload_deadline_ms; /* a child of the last SIGHUP not ready by then has failed */
	char restart_needed[256];   /* listen settings of the last SIGHUP that could not be bound */
	int metrics_fd;             /* the counters every child shares (sg_metrics.h), or -1 */
	bool notified_ready;        /* systemd was told READY=1 after the start */
	int keyd_fds[MASTER_KEYD_CLIENTS][2]; /* per keyd client role: [0] its end, [1] keyd's */
	size_t nkeyd;
};

/* master_notify.c: systemd's Type=notify (no-ops outside systemd). started: READY=1 once
 * every child serves (call it each turn of the loop); reloading/reloaded around a SIGHUP
 * (status: the reload's summary); stopping when the drain begins. */
void master_notify_started(struct master *m);
void master_notify_reloading(void);
void master_notify_reloaded(const char *status);
void master_notify_stopping(void);

/* master.c */
struct child *master_add_child(struct master *m, const struct role_def *role);
void master_start_child(struct master *m, struct child *c);
void master_restart_due(struct master *m);
struct settings *master_load_config(const char *path, char **text_r, char **errors_r);
int master_check_account(const struct settings *s);
/* Binds the listen settings that changed. At start (reloading false) a failure is fatal
 * (-1); on SIGHUP an address that cannot be bound keeps the running sockets and is named in
 * m->restart_needed. */
int master_bind_all(struct master *m, const struct settings *s, bool reloading);

/* master_keyd.c: the rendezvous socket pairs between keyd and its client roles (qmgr,
 * portal, tick), made once at start and held by the master for its whole life: a restarted
 * keyd or client inherits the same pair, and nothing queued on it is lost. */
int master_keyd_open(struct master *m);
/* In the forked child before exec: keyd gets every keyd end (SEALGATE_KEYD_CLIENTS), a client
 * role its own end (SEALGATE_KEYD_FD), at fd numbers from next on; returns the next free. */
int master_keyd_pass(const struct master *m, const struct role_def *role, int next);
void master_keyd_close(struct master *m);

/* master_log.c: each child's log lines and its stdout and stderr are pipes to the master,
 * which writes them to its stderr line by line in our log format. */
/* Makes both pipes; write_r gets the child's ends ([0] log lines, [1] stdout and stderr). */
int master_log_open(struct child *c, int write_r[2]);
/* Reads what the child wrote on l; returns 1 if it read, 0 at the end (flushed, closed), -1
 * if nothing is there now. */
int master_log_read(struct child *c, struct child_log *l, long pid);
/* The child is gone: whatever it wrote still in the pipe, then a last unfinished line. */
void master_log_finish(struct child *c, long pid);

/* master_reload.c */
void master_reload(struct master *m);
/* A child said it is ready: a successor takes over from the child it replaces. */
void master_child_ready(struct master *m, struct child *c);
/* A child started by a SIGHUP is about to take over from child pid: if pid dies meanwhile,
 * it is not restarted. */
bool master_has_successor(const struct master *m, pid_t pid);
/* Child pid exited (why: how) before it was ready; true if it was part of a reload whose
 * predecessor keeps serving, so it must not be restarted. */
bool master_child_failed(struct master *m, struct child *c, pid_t pid, const char *why);
/* Logs the reload summary once every child of the last SIGHUP is ready or has failed. */
void master_reload_progress(struct master *m);

#endif

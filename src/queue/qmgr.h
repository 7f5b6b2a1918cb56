/* qmgr.h: the queue manager role: it takes new mail from the spool, plans each recipient
 * (policy/), delivers to smtp: or maildir: next hops, retries with backoff and bounces with an
 * RFC 3464 DSN. Its private parts (retry_*, dsn_*, deliver_*) are declared here for tests. */
#ifndef SG_QMGR_H
#define SG_QMGR_H

#include "core/limits.h"
#include "dns/dns.h"
#include "smtp/smtpc.h"
#include "store/store_tls_policy.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct role_ctx;
struct settings;
struct spool;
struct policy;
struct sg_buf;

/* The role entry (daemon/roles.c): runs until daemon_stop_requested, returns 0. */
int qmgr_main(struct role_ctx *ctx);

/* ---- retry_schedule.c: when to try a deferred recipient again ---- */
struct retry_policy {
	long long first;    /* seconds before the first retry (queue.retry_first) */
	long long max;      /* longest gap (queue.retry_max) */
	long long lifetime; /* bounce when still deferred this long after arrival (queue.lifetime) */
};
void retry_policy_load(const struct settings *s, struct retry_policy *p_r);
/* Delay after the given number of failed attempts (>= 1): first * 2^(attempts-1), capped. */
long long retry_delay(const struct retry_policy *p, unsigned int attempts);
/* now + retry_delay minus up to 10% jitter chosen by rnd (so retries of many messages spread
 * out); never beyond the cap. */
time_t retry_next(const struct retry_policy *p, unsigned int attempts, time_t now, uint32_t rnd);
/* True when a message that arrived at arrival may no longer be retried at now. */
bool retry_expired(const struct retry_policy *p, time_t arrival, time_t now);

/* ---- dsn_build.c: RFC 3464 delivery status notifications ---- */
struct dsn_rcpt {
	const char *addr;       /* Final-Recipient */
	const char *orcpt;      /* Original-Recipient as given (e.g. "rfc822;a@b"), or NULL */
	const char *status;     /* "5.1.1" */
	const char *remote_mta; /* host name of the next hop that answered, or NULL */
	const char *diagnostic; /* Diagnostic-Code: the remote reply, or our reason */
	bool diag_smtp;         /* diagnostic is an SMTP reply (Diagnostic-Code: smtp;) */
	const char *reason;     /* for people (the text part), or NULL to show diagnostic */
};
struct dsn_input {
	const char *hostname;   /* gateway.hostname: Reporting-MTA and MAILER-DAEMON@ */
	const char *queue_id;   /* of the original message */
	const char *sender;     /* the original envelope sender: the DSN goes there */
	time_t arrival;
	time_t now;
	const struct dsn_rcpt *rcpts;
	size_t nrcpt;
	const char *headers;    /* the original header block */
	size_t headers_len;
};
/* True if a DSN can be sent to sender: not <>, no control bytes, not too long. */
bool dsn_sender_usable(const char *sender);
/* Builds the DSN message (CRLF line endings) into out. -1 with *error_r for the null sender
 * (never bounce to <>), for no recipients, or if it does not fit out's ceiling. */
int dsn_build(const struct dsn_input *in, struct sg_buf *out, const char **error_r);
/* Builds and injects the DSN into the spool (envelope sender <>, SPOOL_F_BOUNCE); the new
 * queue id is written to id_r. */
int dsn_send(struct spool *sp, const struct dsn_input *in, bool smtputf8, char *id_r,
             size_t idsize, const char **error_r);

/* ---- deliver_*.c: next hops ---- */
enum deliver_kind { DELIVER_SMTP, DELIVER_MAILDIR, DELIVER_MX };
struct deliver_route {
	enum deliver_kind kind;
	char host[256];
	char port[8];
	char path[SG_PATH_MAX]; /* maildir base, absolute or relative to the config directory */
	enum smtpc_tls tls;     /* smtp: what the hop needs (" tls=encrypt|verify" in the route) */
};
/* Parses "smtp:HOST:PORT [tls=may|encrypt|verify]", "mx" or "maildir:PATH" (PATH resolved
 * against config_dir). */
int deliver_route_parse(const char *route, const char *config_dir, struct deliver_route *r_r,
                        const char **error_r);

/* One delivery: the same bytes to one or more recipients over one route. */
struct deliver_job {
	const char *queue_id;
	const char *sender;
	const char *const *rcpts;
	size_t nrcpt;
	const char *data;
	size_t len;
	bool body_8bit;
	bool smtputf8;
};

/* A worker's delivery state (its cached SMTP connection). Not shared between threads. */
struct deliver_ctx;
struct deliver_ctx *deliver_ctx_new(const char *helo_name, int connect_timeout_ms,
                                    int timeout_ms, const atomic_int *cancel);
/* What MX delivery (route mx, deliver_mx.c) needs: DNS, the port, the TLS policy. */
struct deliver_mx_cfg {
	struct dns_config dns;           /* its strings point into this struct or the settings */
	char trust_anchor[SG_PATH_MAX];
	char port[8];                    /* deliver.mx_port */
	enum tls_policy_mode tls;        /* deliver.tls: for domains without a tls_policy row */
	struct store *store;             /* the tls_policy table, or NULL: deliver.tls for all */
	char ca_file[SG_PATH_MAX];       /* deliver.ca_file: MTA-STS PKIX anchors, "": system */
	char fetch_ca_file[SG_PATH_MAX]; /* fetch.ca_file: the policy hosts' anchors, "": system */
	int sts_timeout_ms;              /* mta_sts.fetch_timeout */
	int sts_port;                    /* mta_sts.port */
};
/* Fills cfg from the settings (dns.*, deliver.*); -1 with *error_r. */
int deliver_mx_cfg_load(const struct settings *s, struct store *store,
                        struct deliver_mx_cfg *cfg_r, const char **error_r);
/* Gives dc the MX configuration (kept by pointer; its resolver is made at first use). */
void deliver_ctx_set_mx(struct deliver_ctx *dc, const struct deliver_mx_cfg *cfg);
void deliver_ctx_free(struct deliver_ctx **dc);
/* Closes the cached connection if it has been idle for idle_ms or more. */
void deliver_ctx_idle(struct deliver_ctx *dc, int idle_ms);
/* Delivers job over route; st[i] is the outcome for job->rcpts[i]; relay_r names the hop. */
void deliver_run(struct deliver_ctx *dc, const struct deliver_route *route,
                 const struct deliver_job *job, struct smtpc_status *st, char *relay_r,
                 size_t relaysize);

/* deliver_maildir.c: PATH/<address, lower-cased, escaped>/{tmp,new,cur}. */
int deliver_maildir_folder(const char *base, const char *addr, char *dst, size_t dstsize,
                           const char **error_r);
/* Writes one message file atomically (tmp, fsync, rename into new/, fsync the directory),
 * with Return-Path and Delivered-To headers first. The new file's path goes to path_r. */
int deliver_maildir_one(const char *base, const char *sender, const char *addr,
                        const char *data, size_t len, char *path_r, size_t pathsize,
                        const char **error_r);
void deliver_maildir(const char *base, const struct deliver_job *job, struct smtpc_status *st);

/* ---- qmgr_job.c and qmgr_loop.c ---- */
struct transform_env;
struct policy_rcpt_info;
struct archive_cfg;
struct qmgr_env {
	struct spool *spool;
	const struct transform_env *te; /* keys, store and settings of the transforms */
	int (*lookup)(void *ctx, const char *addr, struct policy_rcpt_info *info_r);
	void *lookup_ctx;               /* recipient facts from the store (policy.h), or NULL */
	int (*discover)(void *ctx, const char *addr, struct policy_rcpt_info *info_r); /* or NULL */
	struct policy *policy;
	struct retry_policy retry;
	const char *hostname;
	const char *config_dir;
	int connect_timeout_ms;
	int smtp_timeout_ms;
	const atomic_int *cancel;
	const struct archive_cfg *archive; /* archive.* (queue/archive.h); never NULL in qmgr */
	const struct deliver_mx_cfg *mx;   /* route mx; NULL: such routes defer with a reason */
};

enum qmgr_job_result {
	QMGR_JOB_DONE,    /* every recipient finished: the message was removed */
	QMGR_JOB_WAIT,    /* recipients remain; *next_r is when the next one is due */
	QMGR_JOB_BUSY,    /* someone else holds the lock: try again soon */
	QMGR_JOB_GONE,    /* no such message (deleted, or unreadable: logged) */
};
/* Works on one message: lock, load, parse, plan, deliver what is due (all pending recipients
 * if flush), record every state change, bounce, remove when done. */
enum qmgr_job_result qmgr_job_run(const struct qmgr_env *qe, struct deliver_ctx *dc,
                                  const char *id, bool flush, time_t *next_r);

/* The scheduler: recovers active/, takes incoming/ (inotify + scan_interval), runs jobs on
 * `concurrency` worker threads until *qe->cancel; returns 0. */
int qmgr_loop_run(const struct qmgr_env *qe, unsigned int concurrency, int scan_interval_ms);

#endif

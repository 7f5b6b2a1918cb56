/* deliver_priv.h: the delivery state shared by deliver_smtp.c (smarthost, the cached
 * connection) and deliver_mx.c (MX hosts found in DNS, DANE). */
#ifndef SG_DELIVER_PRIV_H
#define SG_DELIVER_PRIV_H

#include "mtasts/mtasts.h"
#include "queue/qmgr.h"

#include <stdint.h>

struct deliver_ctx {
	struct smtpc_params params;
	char helo[256];
	const atomic_int *cancel;
	struct smtpc_conn *conn; /* cached (smarthost only), or NULL */
	char host[256];
	char port[8];
	enum smtpc_tls tls;      /* what the cached connection was made under */
	int64_t last_used_ms;
	unsigned int uses;
	const struct deliver_mx_cfg *mx; /* NULL until deliver_ctx_set_mx */
	struct dns_resolver *resolver;   /* made at the first MX delivery */
};

/* Connects with p (dc's defaults under it); in SMTPC_TLS_MAY a failed STARTTLS handshake is
 * retried once in plain text, as opportunistic TLS allows. NULL with *fail set. */
struct smtpc_conn *deliver_connect(struct deliver_ctx *dc, const struct smtpc_params *p,
                                   struct smtpc_status *fail);
/* One transaction of job on c; st[i] for job->rcpts[i]. Returns smtpc_send's result. */
int deliver_send(struct deliver_ctx *dc, struct smtpc_conn *c, const struct deliver_job *job,
                 struct smtpc_status *st);
/* deliver_mx.c: route mx; every recipient of job has the same domain. */
void deliver_mx(struct deliver_ctx *dc, const struct deliver_job *job, struct smtpc_status *st,
                char *relay_r, size_t relaysize);
/* st[0..n) = *one. */
void deliver_fail_all(struct smtpc_status *st, size_t n, const struct smtpc_status *one);

/* deliver_mtasts.c: MTA-STS for the domains in mode mta-sts (deliver_mx.c). */
struct deliver_sts {
	bool active;                 /* a policy in mode enforce or testing applies */
	struct mtasts_policy policy;
};
/* deliver.ca_file, fetch.ca_file, mta_sts.* into cfg. */
void deliver_mtasts_cfg_load(const struct settings *s, struct deliver_mx_cfg *cfg);
/* Before the MX hosts are tried: the domain's policy (looked up, fetched or cached). */
void deliver_mtasts_begin(struct deliver_ctx *dc, const char *domain, const char *queue_id,
                          struct deliver_sts *sts);
/* How host is spoken to; -1 with *last set when an enforced policy does not name it. */
int deliver_mtasts_host(const struct deliver_sts *sts, const char *domain, const char *host,
                        const char *queue_id, enum smtpc_tls *tls_r, const char **why_r,
                        struct smtpc_status *last);
/* The PKIX part of a connection's parameters (sts may be NULL: nothing to add). */
void deliver_mtasts_params(const struct deliver_sts *sts, const struct deliver_ctx *dc,
                           struct smtpc_params *p);
/* Testing mode: logs what enforce would have refused on the established connection c. */
void deliver_mtasts_report(const struct deliver_sts *sts, const struct smtpc_conn *c,
                           const char *host, const char *queue_id);

#endif

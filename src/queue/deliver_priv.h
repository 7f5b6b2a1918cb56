/* deliver_priv.h: the delivery state shared by deliver_smtp.c (smarthost, the cached
 * connection) and deliver_mx.c (MX hosts found in DNS, DANE). */
#ifndef SG_DELIVER_PRIV_H
#define SG_DELIVER_PRIV_H

#include "queue/qmgr.h"

#include <stdint.h>

struct deliver_ctx {
	struct smtpc_params params;
	char helo[256];
	const atomic_int *cancel;
	struct smtpc_conn *conn; /* cached (smarthost only), or NULL */
	char host[256];
	char port[8];
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

#endif

/* qmgr_job.c: one pass over one message. The envelope on disk is the truth: every outcome is
 * written with spool_update() before the next step, a DSN is queued before its recipients are
 * marked BOUNCED, and the message is removed only when no recipient is left pending. A crash at
 * any point therefore repeats work (at-least-once) but never loses a recipient. */
#include "queue/qmgr.h"
#include "queue/archive.h"
#include "queue/spool.h"
#include "queue/transform.h"

#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_metrics.h"
#include "core/sg_str.h"
#include "core/sg_time.h"
#include "mime/mime.h"
#include "policy/policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>

/* Replies in log lines: longer than SG_LOG_PEER_TEXT_MAX so that "(in reply to RCPT TO)"
 * survives typical rejections; the whole reply is in the envelope and the DSN. */
#define QMGR_LOG_REPLY_MAX 300
#define QMGR_RETRY_SOON    60   /* seconds, after a local failure (spool write, DSN queueing) */

struct job_fail {
	size_t idx;
	char status[16];
	char diag[SG_SPOOL_REPLY_MAX];   /* for people */
	char remote[SG_SPOOL_REPLY_MAX]; /* the peer's reply alone, or "" */
	char relay[300];
	bool smtp;
};

struct job {
	const struct qmgr_env *qe;
	struct deliver_ctx *dc;
	const char *id;
	bool flush;
	time_t now;
	int lock_fd;
	void *map;
	const char *data;
	size_t len;
	struct spool_envelope env;
	struct mime_info mime;
	struct mime_memo parsed; /* the full parse, made when a group's transform needs it */
	struct policy_plan *plans;
	bool *due;
	bool *planned; /* plans[i] was made (for the metrics' labels) */
	struct job_fail *fails;
	size_t nfail;
	bool aborted; /* a state change could not be recorded: stop and retry later */
};

static double since_arrival(const struct job *j)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	double d = (double)(ts.tv_sec - j->env.arrival) + (double)ts.tv_nsec / 1e9;
	return d < 0 ? 0 : d;
}

/* The outcome for the metrics, labelled with the recipient's plan when one was made. */
static void count_rcpt(const struct job *j, const struct spool_rcpt *r, const char *status)
{
	size_t i = (size_t)(r - j->env.rcpts);
	bool planned = j->planned != NULL && i < j->env.nrcpt && j->planned[i];
	const char *labels[3] = {
		strcmp(status, "sent") == 0 ? "delivered" : status,
		planned ? policy_direction_name(j->plans[i].direction) : "unknown",
		planned ? policy_action_name(j->plans[i].action) : "none"};
	sg_metrics_add(SG_MET_MESSAGES, labels, 1);
	if (strcmp(status, "sent") == 0)
		sg_metrics_observe(SG_HIST_DELIVERY, since_arrival(j));
}

static void log_rcpt(const struct job *j, const struct spool_rcpt *r, const char *relay,
                     const char *dsn, const char *status, const char *why)
{
	char to[SG_LOG_PEER_TEXT_MAX + 4], rel[SG_LOG_PEER_TEXT_MAX + 4];
	char text[QMGR_LOG_REPLY_MAX + 4];
	sg_printable(to, sizeof(to), r->addr, SG_LOG_PEER_TEXT_MAX);
	sg_printable(rel, sizeof(rel), relay != NULL ? relay : "none", SG_LOG_PEER_TEXT_MAX);
	sg_printable(text, sizeof(text), why != NULL ? why : "", QMGR_LOG_REPLY_MAX);
	sg_info("%s: to=<%s>, relay=%s, delay=%.2f, dsn=%s, status=%s (%s)", j->id, to, rel,
	        since_arrival(j), dsn, status, text);
	count_rcpt(j, r, status);
}

static void replace_str(char **dst, const char *s)
{
	sg_free(dst);
	*dst = s != NULL ? sg_strdup(s) : NULL;
}

static void add_fail(struct job *j, size_t idx, const char *status, const char *diag,
                     const char *relay, const char *remote)
{
	struct job_fail *f = &j->fails[j->nfail++];
	f->idx = idx;
	sg_strlcpy(f->status, status, sizeof(f->status));
	sg_strlcpy(f->diag, diag != NULL ? diag : "", sizeof(f->diag));
	sg_strlcpy(f->relay, relay != NULL ? relay : "", sizeof(f->relay));
	sg_strlcpy(f->remote, remote != NULL ? remote : "", sizeof(f->remote));
	f->smtp = remote != NULL && remote[0] != '\0';
}

/* True when nothing is left to record: no recipient pending and no bounce to send. The message
 * is about to be removed, so writing its state first would only cost fsyncs; a crash before
 * the removal delivers it again (a duplicate, never a loss). */
static bool finishing(const struct job *j)
{
	if (j->nfail > 0)
		return false;
	for (size_t i = 0; i < j->env.nrcpt; i++)
		if (j->env.rcpts[i].state == SPOOL_RCPT_PENDING)
			return false;
	return true;
}

static void save(struct job *j)
{
	const char *err;
	if (spool_update(j->qe->spool, &j->env, &err) < 0) {
		sg_error("%s: cannot record delivery state: %s; will retry", j->id, err);
		j->aborted = true;
	}
}

static uint32_t rnd32(void)
{
	uint32_t r = 0;
	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = (uint32_t)sg_mono_ms();
	return r;
}

/* ---- open and close ---- */
static enum qmgr_job_result job_open(struct job *j)
{
	const char *err;
	j->lock_fd = spool_lock(j->qe->spool, j->id, true, &err);
	if (j->lock_fd < 0)
		return errno == EWOULDBLOCK ? QMGR_JOB_BUSY : QMGR_JOB_GONE;
	enum spool_queue q;
	if (spool_load(j->qe->spool, j->id, &j->env, &q, &err) < 0) {
		sg_warn("%s: cannot load envelope: %s", j->id, err);
		return QMGR_JOB_GONE;
	}
	if (q == SPOOL_INCOMING && spool_activate(j->qe->spool, j->id, &err) < 0) {
		sg_warn("%s: cannot activate: %s", j->id, err);
		return QMGR_JOB_GONE;
	}
	struct stat st;
	if (fstat(j->lock_fd, &st) < 0) {
		sg_warn("%s: cannot stat data file", j->id);
		return QMGR_JOB_GONE;
	}
	j->len = (size_t)st.st_size;
	j->data = "";
	if (j->len > 0) {
		j->map = mmap(NULL, j->len, PROT_READ, MAP_PRIVATE, j->lock_fd, 0);
		if (j->map == MAP_FAILED) {
			j->map = NULL;
			sg_warn("%s: cannot map data file", j->id);
			return QMGR_JOB_GONE;
		}
		j->data = j->map;
	}
	mime_memo_init(&j->parsed, j->data, j->len);
	size_t n = j->env.nrcpt;
	j->plans = sg_calloc(n ? n : 1, sizeof(*j->plans));
	j->due = sg_calloc(n ? n : 1, sizeof(*j->due));
	j->planned = sg_calloc(n ? n : 1, sizeof(*j->planned));
	j->fails = sg_calloc(n ? n : 1, sizeof(*j->fails));
	return QMGR_JOB_WAIT;
}

static void job_close(struct job *j)
{
	if (j->map != NULL)
		munmap(j->map, j->len);
	spool_unlock(&j->lock_fd);
	spool_envelope_free(&j->env);
	mime_info_free(&j->mime);
	mime_memo_free(&j->parsed);
	sg_free(&j->plans);
	sg_free(&j->due);
	sg_free(&j->planned);
	sg_free(&j->fails);
}

/* ---- parse once, log the message ---- */
static void job_parse(struct job *j)
{
	const char *err;
	if (mime_info_parse(j->data, j->len, &j->mime, &err) < 0)
		sg_info("%s: %s: delivering it unchanged", j->id, err);
	if (j->env.message_id != NULL)
		return;
	j->env.message_id = sg_strdup(j->mime.message_id != NULL ? j->mime.message_id : "");
	char mid[SG_LOG_PEER_TEXT_MAX + 4], from[SG_LOG_PEER_TEXT_MAX + 4];
	sg_printable(mid, sizeof(mid), j->env.message_id, SG_LOG_PEER_TEXT_MAX);
	sg_printable(from, sizeof(from), j->env.sender, SG_LOG_PEER_TEXT_MAX);
	sg_info("%s: message-id=<%s>", j->id, mid);
	sg_info("%s: from=<%s>, size=%zu, nrcpt=%zu (queue active)", j->id, from, j->env.size,
	        j->env.nrcpt);
	/* The message-id reaches the envelope with its next update (every delivery attempt makes
	 * one): a write of its own here cost a third of the queue manager's time. */
}

/* ---- which recipients are due, which have expired ---- */
static void job_select(struct job *j)
{
	for (size_t i = 0; i < j->env.nrcpt; i++) {
		struct spool_rcpt *r = &j->env.rcpts[i];
		if (r->state != SPOOL_RCPT_PENDING)
			continue;
		if (r->attempts > 0 && retry_expired(&j->qe->retry, j->env.arrival, j->now)) {
			char why[SG_SPOOL_REPLY_MAX];
			snprintf(why, sizeof(why), "delivery time expired; last error: %s",
			         r->last_reply != NULL ? r->last_reply : "none");
			const char *st = r->dsn_status != NULL && (r->dsn_status[0] == '4' ||
			                                            r->dsn_status[0] == '5')
			                     ? r->dsn_status
			                     : "4.4.7";
			add_fail(j, i, st, why, r->relay, NULL);
			log_rcpt(j, r, r->relay, st, "bounced", why);
			continue;
		}
		j->due[i] = j->flush || r->next_attempt <= j->now;
	}
}

/* ---- delivery in groups of equal plans ---- */
static bool apply_status(struct job *j, size_t i, const struct smtpc_status *st,
                         const char *relay)
{
	struct spool_rcpt *r = &j->env.rcpts[i];
	if (st->cls == SMTPC_ABANDONED)
		return false;
	replace_str(&r->relay, relay);
	replace_str(&r->dsn_status, st->dsn);
	replace_str(&r->last_reply, st->reply);
	if (st->cls == SMTPC_OK) {
		r->state = SPOOL_RCPT_SENT;
		log_rcpt(j, r, relay, st->dsn, "sent", st->reply);
		return true;
	}
	r->attempts++;
	r->next_attempt = retry_next(&j->qe->retry, r->attempts, j->now, rnd32());
	if (st->cls == SMTPC_PERM || retry_expired(&j->qe->retry, j->env.arrival, j->now)) {
		add_fail(j, i, st->dsn, st->reply, relay, st->from_remote ? st->remote_reply : NULL);
		log_rcpt(j, r, relay, st->dsn, "bounced", st->reply);
	} else {
		log_rcpt(j, r, relay, st->dsn, "deferred", st->reply);
	}
	return true;
}

static void fail_all(struct smtpc_status *st, size_t n, enum smtpc_class cls,
                     const char *dsn, const char *reason)
{
	for (size_t k = 0; k < n; k++) {
		st[k].cls = cls;
		sg_strlcpy(st[k].dsn, dsn, sizeof(st[k].dsn));
		sg_strlcpy(st[k].reply, reason, sizeof(st[k].reply));
	}
}

/* The store holds these recipients' copy now: they are done as far as the spool goes, held
 * for a registration, or delivered (stored: webmail, the partner notified). */
static void mark_held(struct job *j, const size_t *idx, size_t n, const char *why, bool stored)
{
	const char *relay = stored ? "webmail" : "store";
	for (size_t k = 0; k < n; k++) {
		struct spool_rcpt *r = &j->env.rcpts[idx[k]];
		r->state = stored ? SPOOL_RCPT_SENT : SPOOL_RCPT_HELD;
		replace_str(&r->relay, relay);
		replace_str(&r->dsn_status, "2.0.0");
		replace_str(&r->last_reply, why);
		log_rcpt(j, r, relay, "2.0.0", stored ? "sent" : "held", why);
	}
	if (!finishing(j))
		save(j);
}

/* ---- the archive copy (archive.h) ---- */

/* Whether this group's copy is still to be made: on each recipient's first attempt, or after
 * a transform failed (relay "none": the copy of an inbound message is made after it). Never
 * for mail sealgate wrote, released held mail (its copy was made when it was held), a copy,
 * or mail refused by policy (it does not leave). */
static bool archive_due(const struct job *j, const struct policy_plan *plan, const size_t *idx,
                        size_t n)
{
	const struct archive_cfg *ac = j->qe->archive;
	bool wanted = ac != NULL && ((ac->outbound && plan->direction == POLICY_DIR_OUTBOUND) ||
	                             (ac->inbound && plan->direction == POLICY_DIR_INBOUND));
	if (!wanted || plan->action == POLICY_REFUSE ||
	    (j->env.flags & (SPOOL_F_BOUNCE | SPOOL_F_RELEASED | SPOOL_F_ARCHIVE)) != 0)
		return false;
	for (size_t k = 0; k < n; k++) {
		const struct spool_rcpt *r = &j->env.rcpts[idx[k]];
		if (r->attempts > 0 && r->relay != NULL && strcmp(r->relay, "none") != 0)
			return false;
	}
	return true;
}

/* Queues the copy of data; -1 with the group failed (temporarily: no mail leaves without its
 * copy) when it cannot be. */
static int archive_group(struct job *j, const char **rcpts, size_t n, const char *direction,
                         const char *data, size_t len, struct smtpc_status *st)
{
	const struct archive_cfg *ac = j->qe->archive;
	struct archive_msg m = {.queue_id = j->id, .sender = j->env.sender, .rcpts = rcpts,
	                        .nrcpt = n, .direction = direction, .data = data, .len = len,
	                        .drop_foreign = strcmp(direction, "outbound") == 0};
	char id[SG_QUEUE_ID_MAX], why[SG_SPOOL_REPLY_MAX];
	const char *err = ac->broken;
	if (err == NULL && archive_copy_queue(ac, j->qe->spool, &m, id, &err) == 0)
		return 0;
	snprintf(why, sizeof(why), "the archive copy cannot be queued: %s", err);
	fail_all(st, n, SMTPC_TEMP, "4.3.0", why);
	return -1;
}

/* The transform of this group's plan; an archive copy is delivered as it is. */
static enum transform_result transform_group(struct job *j, const struct policy_plan *plan,
                                             const char **rcpts, size_t n,
                                             struct transform_output *out)
{
	if (j->env.flags & SPOOL_F_ARCHIVE) {
		out->data = j->data;
		out->len = j->len;
		return TRANSFORM_OK;
	}
	struct transform_input ti = {.queue_id = j->id, .sender = j->env.sender, .data = j->data,
	                             .len = j->len, .mime = &j->mime, .parsed = &j->parsed,
	                             .plan = plan,
	                             .rcpts = rcpts, .nrcpt = n,
	                             .generated = (j->env.flags & SPOOL_F_BOUNCE) != 0,
	                             .unscanned = (j->env.flags & SPOOL_F_UNSCANNED) != 0};
	return transform_run(j->qe->te, &ti, out);
}

/* Transforms the message for this group's plan, then hands the result to the next hop; the
 * archive copy goes first (outbound: as written; inbound: as transformed). */
static enum transform_result transform_and_deliver(struct job *j, const struct policy_plan *plan,
                                  const struct deliver_route *route, const char **rcpts,
                                  size_t n, bool archive, struct smtpc_status *st, char *relay,
                                  size_t relaysize)
{
	bool outbound = plan->direction == POLICY_DIR_OUTBOUND;
	if (archive && outbound && archive_group(j, rcpts, n, "outbound", j->data, j->len, st) < 0)
		return TRANSFORM_TEMP;
	struct transform_output out;
	transform_output_init(&out);
	enum transform_result tr = transform_group(j, plan, rcpts, n, &out);
	if (tr == TRANSFORM_OK && archive && !outbound &&
	    archive_group(j, rcpts, n, "inbound", out.data, out.len, st) < 0) {
		transform_output_free(&out);
		return TRANSFORM_TEMP;
	}
	if (tr == TRANSFORM_HELD || tr == TRANSFORM_STORED) {
		sg_strlcpy(relay, out.reason, relaysize); /* the caller marks them held or sent */
	} else if (tr != TRANSFORM_OK) {
		fail_all(st, n, tr == TRANSFORM_PERM ? SMTPC_PERM : SMTPC_TEMP, out.status, out.reason);
		const char *labels[2] = {policy_action_name(plan->action),
		                         tr == TRANSFORM_PERM ? "permanent" : "temporary"};
		sg_metrics_add(SG_MET_TRANSFORM_ERROR, labels, n);
		sg_strlcpy(relay, "none", relaysize);
	} else {
		struct deliver_job dj = {.queue_id = j->id,
		                         .sender = j->env.sender,
		                         .rcpts = rcpts,
		                         .nrcpt = n,
		                         .data = out.data,
		                         .len = out.len,
		                         .body_8bit = j->env.body_8bit || mime_has_8bit(out.data, out.len),
		                         .smtputf8 = j->env.smtputf8};
		deliver_run(j->dc, route, &dj, st, relay, relaysize);
	}
	transform_output_free(&out);
	return tr;
}

static void deliver_group(struct job *j, const struct policy_plan *plan, const size_t *idx,
                          size_t n)
{
	const char **rcpts = sg_calloc(n, sizeof(*rcpts));
	struct smtpc_status *st = sg_calloc(n, sizeof(*st));
	char relay[300] = "none";
	enum transform_result tr;
	for (size_t k = 0; k < n; k++)
		rcpts[k] = j->env.rcpts[idx[k]].addr;
	struct deliver_route route;
	const char *err;
	if (deliver_route_parse(plan->route, j->qe->config_dir, &route, &err) < 0) {
		char why[SG_SPOOL_REPLY_MAX];
		snprintf(why, sizeof(why), "bad route %.200s: %s", plan->route, err);
		fail_all(st, n, SMTPC_TEMP, "4.3.5", why);
	} else if ((tr = transform_and_deliver(j, plan, &route, rcpts, n,
	                                       archive_due(j, plan, idx, n), st, relay,
	                                       sizeof(relay))) == TRANSFORM_HELD ||
	           tr == TRANSFORM_STORED) {
		mark_held(j, idx, n, relay, tr == TRANSFORM_STORED);
		sg_free(&rcpts);
		sg_free(&st);
		return;
	}
	bool changed = false;
	for (size_t k = 0; k < n; k++)
		changed |= apply_status(j, idx[k], &st[k], relay);
	if (changed && !finishing(j))
		save(j);
	sg_free(&rcpts);
	sg_free(&st);
}

static void job_plan(struct job *j)
{
	struct policy_msg m = {.sender = j->env.sender,
	                       .internal_client = j->env.internal_client,
	                       .must_encrypt = (j->env.flags & SPOOL_F_RELEASED) != 0,
	                       .from_portal = (j->env.flags & SPOOL_F_PORTAL) != 0,
	                       .mime = &j->mime,
	                       .lookup = j->qe->lookup,
	                       .lookup_ctx = j->qe->lookup_ctx,
	                       .discover = j->qe->discover};
	for (size_t i = 0; i < j->env.nrcpt; i++) {
		const char *err;
		if (j->due[i] && (j->env.flags & SPOOL_F_ARCHIVE) != 0) {
			/* a copy for the archive: to archive.route, whatever the address says */
			j->plans[i] = (struct policy_plan){.direction = POLICY_DIR_INTERNAL,
			                                   .action = POLICY_PASS,
			                                   .route = j->qe->archive->route};
			j->planned[i] = true;
		} else if (j->due[i] &&
		    policy_plan_rcpt(j->qe->policy, &m, j->env.rcpts[i].addr, &j->plans[i], &err) < 0) {
			j->due[i] = false;
			add_fail(j, i, "5.1.3", err, NULL, NULL);
			log_rcpt(j, &j->env.rcpts[i], NULL, "5.1.3", "bounced", err);
		} else {
			j->planned[i] = j->due[i];
		}
	}
}

/* Recipients x and i go in one delivery: equal plans and, for route mx, one domain (its MX
 * hosts are the next hop). */
static bool same_group(const struct job *j, size_t i, size_t x)
{
	if (!policy_plan_equal(&j->plans[i], &j->plans[x]))
		return false;
	if (strcmp(j->plans[i].route, "mx") != 0)
		return true;
	const char *a = strrchr(j->env.rcpts[i].addr, '@'), *b = strrchr(j->env.rcpts[x].addr, '@');
	return a != NULL && b != NULL && sg_streq_nocase(a, b);
}

static void job_deliver(struct job *j)
{
	size_t n = j->env.nrcpt;
	size_t *idx = sg_calloc(n ? n : 1, sizeof(*idx));
	for (size_t i = 0; i < n && !j->aborted; i++) {
		if (!j->due[i])
			continue;
		if (j->qe->cancel != NULL && *j->qe->cancel)
			break; /* shutting down: the rest stays pending */
		size_t k = 0;
		for (size_t x = i; x < n; x++) {
			if (j->due[x] && same_group(j, i, x)) {
				idx[k++] = x;
				j->due[x] = false;
			}
		}
		deliver_group(j, &j->plans[i], idx, k);
	}
	sg_free(&idx);
}

/* ---- bounces ---- */
static int queue_dsn(struct job *j)
{
	struct dsn_rcpt *dr = sg_calloc(j->nfail, sizeof(*dr));
	for (size_t k = 0; k < j->nfail; k++) {
		const struct job_fail *f = &j->fails[k];
		const struct spool_rcpt *r = &j->env.rcpts[f->idx];
		dr[k] = (struct dsn_rcpt){.addr = r->addr,
		                          .orcpt = r->orcpt,
		                          .status = f->status,
		                          .remote_mta = f->smtp ? f->relay : NULL,
		                          .diagnostic = f->smtp ? f->remote : f->diag,
		                          .diag_smtp = f->smtp,
		                          .reason = f->diag};
	}
	struct dsn_input in = {
		.hostname = j->qe->hostname,
		.queue_id = j->id,
		.sender = j->env.sender,
		.arrival = j->env.arrival,
		.now = j->now,
		.rcpts = dr,
		.nrcpt = j->nfail,
		.headers = j->data,
		.headers_len = mime_header_block_len(j->data, j->len, SG_HEADER_BLOCK_MAX),
	};
	char dsnid[SG_QUEUE_ID_MAX];
	const char *err;
	int rc = dsn_send(j->qe->spool, &in, j->env.smtputf8, dsnid, sizeof(dsnid), &err);
	if (rc < 0)
		sg_error("%s: cannot queue the non-delivery notification: %s; will retry", j->id, err);
	else
		sg_info("%s: sender non-delivery notification: %s", j->id, dsnid);
	sg_free(&dr);
	return rc;
}

/* Mail from a client outside smtp.internal_networks that our internal server refused for good
 * (a 5xx to RCPT or DATA) is dropped with a log line, not bounced: its sender is forged more
 * often than not, and a DSN would carry the spam to an innocent third party (backscatter).
 * Recipient verification at RCPT refuses most of these in the session already. */
static bool silent_fail(const struct job *j, const struct job_fail *f)
{
	return !j->env.internal_client && f->smtp && f->status[0] == '5' &&
	       j->plans[f->idx].direction == POLICY_DIR_INBOUND;
}

/* Drops the silent failures from j->fails (they are marked bounced, without a DSN). */
static void drop_silent_fails(struct job *j)
{
	size_t keep = 0;
	for (size_t k = 0; k < j->nfail; k++) {
		const struct job_fail *f = &j->fails[k];
		if (!silent_fail(j, f)) {
			j->fails[keep++] = *f;
			continue;
		}
		struct spool_rcpt *r = &j->env.rcpts[f->idx];
		char to[SG_LOG_PEER_TEXT_MAX + 4], from[SG_LOG_PEER_TEXT_MAX + 4];
		sg_printable(to, sizeof(to), r->addr, SG_LOG_PEER_TEXT_MAX);
		sg_printable(from, sizeof(from), j->env.sender, SG_LOG_PEER_TEXT_MAX);
		sg_info("%s: to=<%s>: refused by the internal server (%s) for mail from outside: "
		        "no non-delivery notification to <%s> (backscatter): dropped",
		        j->id, to, f->status, from);
		r->state = SPOOL_RCPT_BOUNCED;
	}
	if (keep < j->nfail)
		save(j);
	j->nfail = keep;
}

static void job_bounce(struct job *j)
{
	if (j->nfail == 0 || j->aborted)
		return;
	drop_silent_fails(j);
	if (j->nfail == 0)
		return;
	if ((j->env.flags & SPOOL_F_BOUNCE) != 0 || !dsn_sender_usable(j->env.sender)) {
		char from[SG_LOG_PEER_TEXT_MAX + 4];
		sg_printable(from, sizeof(from), j->env.sender, SG_LOG_PEER_TEXT_MAX);
		sg_info("%s: no non-delivery notification to sender <%s>: dropped", j->id, from);
	} else if (queue_dsn(j) < 0) {
		/* Recipients stay pending: the next pass bounces them again, a DSN is not lost. */
		for (size_t k = 0; k < j->nfail; k++)
			j->env.rcpts[j->fails[k].idx].next_attempt = j->now + QMGR_RETRY_SOON;
		save(j);
		return;
	}
	for (size_t k = 0; k < j->nfail; k++)
		j->env.rcpts[j->fails[k].idx].state = SPOOL_RCPT_BOUNCED;
	save(j);
}

static enum qmgr_job_result job_finish(struct job *j, time_t *next_r)
{
	*next_r = j->now + QMGR_RETRY_SOON;
	if (j->aborted)
		return QMGR_JOB_WAIT;
	bool live = false, have_next = false;
	time_t next = 0;
	for (size_t i = 0; i < j->env.nrcpt; i++) {
		const struct spool_rcpt *r = &j->env.rcpts[i];
		live = live || r->state == SPOOL_RCPT_PENDING;
		if (r->state == SPOOL_RCPT_PENDING && (!have_next || r->next_attempt < next)) {
			next = r->next_attempt;
			have_next = true;
		}
	}
	if (live) {
		*next_r = next;
		return QMGR_JOB_WAIT;
	}
	const char *err;
	if (spool_remove_delivered(j->qe->spool, j->id, &err) < 0) {
		sg_error("%s: cannot remove: %s", j->id, err);
		save(j); /* the state not written while finishing: never deliver it twice */
		return QMGR_JOB_WAIT;
	}
	sg_info("%s: removed", j->id);
	return QMGR_JOB_DONE;
}

enum qmgr_job_result qmgr_job_run(const struct qmgr_env *qe, struct deliver_ctx *dc,
                                  const char *id, bool flush, time_t *next_r)
{
	struct job j = {.qe = qe, .dc = dc, .id = id, .flush = flush, .lock_fd = -1};
	spool_envelope_init(&j.env);
	*next_r = 0;
	enum qmgr_job_result res = job_open(&j);
	if (res == QMGR_JOB_WAIT) {
		j.now = sg_wall();
		job_parse(&j);
		job_select(&j);
		job_plan(&j);
		job_deliver(&j);
		job_bounce(&j);
		res = job_finish(&j, next_r);
	}
	job_close(&j);
	return res;
}

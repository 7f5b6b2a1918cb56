/* qmgr_loop.c: the scheduler. The main thread learns of new mail in incoming/ from inotify
 * (the names in its events; a listing on overflow and every queue.scan_interval), keeps a table
 * of messages and when each is next due, and hands due ones to a fixed pool of worker threads.
 * A message is in at most one worker at a time (the table and the spool lock both ensure it).
 * The main thread does no durable work of its own: taking a message from incoming/ into active/
 * costs a rename and two directory fsyncs, and done here, one message after the other, it
 * capped the whole queue manager at about 200 messages a second however fast the workers were
 * (issue 19): the workers do it, in parallel, as the first step of the message's job. */
#include "queue/qmgr.h"
#include "queue/spool.h"

#include "core/sg_file.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "core/sg_time.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#define QMGR_ACTIVE_RESCAN_MS 60000 /* pick up anything the table lost (e.g. unreadable once) */
#define QMGR_IDLE_CLOSE_MS    5000  /* close a cached SMTP connection idle this long */
#define QMGR_BUSY_RETRY       1     /* seconds, when the message was locked by someone else */
#define QMGR_EVENT_BUF        16384 /* bytes of inotify events read at a time */

struct qmgr_item {
	char id[SG_QUEUE_ID_MAX];
	time_t due;
	bool busy;   /* a worker has it */
	bool queued; /* waiting for a worker */
	bool flush;  /* `queue flush`: every pending recipient is due */
	bool incoming; /* still in incoming/: the worker moves it to active/ first */
	uint64_t seq;  /* order of arrival in the table: workers take the oldest queued first */
};

struct qmgr {
	const struct qmgr_env *qe;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct qmgr_item *items;
	size_t nitems;
	bool stopping;
	int wake_fd;
	int ino_fd;
	int incoming_wd; /* the inotify watch on incoming/, or -1 */
	uint64_t next_seq;
};

/* ---- the table (callers hold mu) ---- */
static struct qmgr_item *item_find(struct qmgr *q, const char *id)
{
	for (size_t i = 0; i < q->nitems; i++)
		if (strcmp(q->items[i].id, id) == 0)
			return &q->items[i];
	return NULL;
}

static void item_add(struct qmgr *q, const char *id, bool incoming)
{
	if (item_find(q, id) != NULL || strlen(id) >= SG_QUEUE_ID_MAX)
		return;
	q->items = sg_reallocarray(q->items, q->nitems + 1, sizeof(*q->items));
	struct qmgr_item *it = &q->items[q->nitems++];
	memset(it, 0, sizeof(*it));
	sg_strlcpy(it->id, id, sizeof(it->id));
	it->incoming = incoming;
	it->seq = q->next_seq++;
}

static void item_remove(struct qmgr *q, struct qmgr_item *it)
{
	*it = q->items[--q->nitems];
}

/* ---- what the main thread does ---- */
static void take_queue(struct qmgr *q, enum spool_queue which)
{
	char **ids;
	size_t n;
	const char *err;
	if (spool_list(q->qe->spool, which, &ids, &n, &err) < 0) {
		sg_error("cannot list the %s queue: %s", which == SPOOL_INCOMING ? "incoming" : "active",
		         err);
		return;
	}
	pthread_mutex_lock(&q->mu);
	for (size_t i = 0; i < n; i++)
		item_add(q, ids[i], which == SPOOL_INCOMING);
	pthread_mutex_unlock(&q->mu);
	spool_ids_free(&ids, n);
}

/* Adds the messages the pending inotify events name; true when events were lost (the kernel's
 * queue overflowed) and incoming/ must be listed. */
static bool take_events(struct qmgr *q)
{
	char buf[QMGR_EVENT_BUF] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool lost = false;
	ssize_t n;
	while ((n = read(q->ino_fd, buf, sizeof(buf))) > 0) {
		pthread_mutex_lock(&q->mu);
		for (ssize_t off = 0; off + (ssize_t)sizeof(struct inotify_event) <= n;) {
			const struct inotify_event *ev = (const void *)(buf + off);
			off += (ssize_t)sizeof(*ev) + ev->len;
			lost |= (ev->mask & IN_Q_OVERFLOW) != 0;
			if (ev->wd == q->incoming_wd && ev->len > 0 && (ev->mask & IN_MOVED_TO) &&
			    strnlen(ev->name, ev->len) < ev->len && spool_id_valid(ev->name))
				item_add(q, ev->name, true);
		}
		pthread_mutex_unlock(&q->mu);
	}
	return lost;
}

static void flush_all(struct qmgr *q)
{
	sg_info("flush requested: every deferred recipient is due now");
	pthread_mutex_lock(&q->mu);
	for (size_t i = 0; i < q->nitems; i++) {
		q->items[i].due = 0;
		q->items[i].flush = true;
	}
	pthread_mutex_unlock(&q->mu);
}

/* Queues what is due; returns the milliseconds until the next item is. */
static int dispatch(struct qmgr *q, int max_wait_ms)
{
	time_t now = sg_wall();
	long long wait = max_wait_ms;
	bool any = false;
	pthread_mutex_lock(&q->mu);
	for (size_t i = 0; i < q->nitems; i++) {
		struct qmgr_item *it = &q->items[i];
		if (it->busy || it->queued)
			continue;
		if (it->due <= now) {
			it->queued = any = true;
		} else if ((it->due - now) * 1000LL < wait) {
			wait = (it->due - now) * 1000LL;
		}
	}
	if (any)
		pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	return (int)wait;
}

static void drain(int fd)
{
	char buf[4096];
	while (fd >= 0 && read(fd, buf, sizeof(buf)) > 0)
		;
}

static void watch_dirs(struct qmgr *q)
{
	q->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (q->ino_fd < 0) {
		sg_warn("inotify unavailable; scanning every queue.scan_interval");
		return;
	}
	static const char *const dirs[] = {"incoming", "trigger"};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char path[SG_PATH_MAX];
		int wd = -1;
		if (sg_path_join(path, sizeof(path), spool_dir(q->qe->spool), dirs[i]) < 0 ||
		    (wd = inotify_add_watch(q->ino_fd, path,
		                            IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE)) < 0)
			sg_warn("cannot watch %s/%s; relying on the scan interval",
			        spool_dir(q->qe->spool), dirs[i]);
		if (i == 0)
			q->incoming_wd = wd;
	}
}

/* ---- workers ---- */
/* The oldest queued item: the table's order is not the order of arrival (item_remove moves
 * the last item into the gap), and under a backlog taking the first one found let some
 * messages wait seconds while later ones went out. */
static struct qmgr_item *next_queued(struct qmgr *q)
{
	struct qmgr_item *best = NULL;
	for (size_t i = 0; i < q->nitems; i++) {
		struct qmgr_item *it = &q->items[i];
		if (it->queued && !it->busy && (best == NULL || it->seq < best->seq))
			best = it;
	}
	return best;
}

static void job_done(struct qmgr *q, const char *id, enum qmgr_job_result res, time_t next)
{
	struct qmgr_item *it = item_find(q, id);
	if (it == NULL)
		return;
	it->busy = false;
	if (res == QMGR_JOB_DONE || res == QMGR_JOB_GONE)
		item_remove(q, it);
	else
		it->due = res == QMGR_JOB_BUSY ? sg_wall() + QMGR_BUSY_RETRY : it->flush ? 0 : next;
	uint64_t one = 1;
	ssize_t w = write(q->wake_fd, &one, sizeof(one));
	(void)w;
}

/* incoming/ to active/; false when it cannot be (gone meanwhile: deleted, or an event for a
 * message already taken; else a warning, and the next listing of incoming/ tries again). */
static bool activate(const struct qmgr_env *qe, const char *id)
{
	const char *err;
	if (spool_activate(qe->spool, id, &err) == 0)
		return true;
	if (errno != ENOENT)
		sg_warn("%s: cannot activate: %s", id, err);
	return false;
}

static void wait_for_work(struct qmgr *q, struct deliver_ctx *dc)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 1;
	if (pthread_cond_timedwait(&q->cv, &q->mu, &ts) == ETIMEDOUT) {
		pthread_mutex_unlock(&q->mu);
		deliver_ctx_idle(dc, QMGR_IDLE_CLOSE_MS);
		pthread_mutex_lock(&q->mu);
	}
}

static void *worker(void *arg)
{
	struct qmgr *q = arg;
	const struct qmgr_env *qe = q->qe;
	struct deliver_ctx *dc = deliver_ctx_new(qe->hostname, qe->connect_timeout_ms,
	                                         qe->smtp_timeout_ms, qe->cancel);
	if (qe->mx != NULL)
		deliver_ctx_set_mx(dc, qe->mx);
	pthread_mutex_lock(&q->mu);
	while (!q->stopping) {
		struct qmgr_item *it = next_queued(q);
		if (it == NULL) {
			wait_for_work(q, dc);
			continue;
		}
		char id[SG_QUEUE_ID_MAX];
		sg_strlcpy(id, it->id, sizeof(id));
		bool flush = it->flush, incoming = it->incoming;
		it->busy = true;
		it->queued = it->flush = it->incoming = false;
		pthread_mutex_unlock(&q->mu);
		time_t next = 0;
		enum qmgr_job_result res = incoming && !activate(qe, id)
		                               ? QMGR_JOB_GONE
		                               : qmgr_job_run(qe, dc, id, flush, &next);
		pthread_mutex_lock(&q->mu);
		job_done(q, id, res, next);
	}
	pthread_mutex_unlock(&q->mu);
	deliver_ctx_free(&dc);
	return NULL;
}

/* Workers leave signals to the main thread, whose poll they interrupt. */
static pthread_t *start_workers(struct qmgr *q, unsigned int n)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_t *t = sg_calloc(n, sizeof(*t));
	for (unsigned int i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, worker, q) != 0)
			sg_fatal("cannot start queue manager worker thread");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return t;
}

/* incoming/ is listed at the start, every scan interval, and when inotify lost events; in
 * between the events name what arrived (a listing per arrival would cost the whole backlog). */
static void main_loop(struct qmgr *q, int scan_interval_ms)
{
	int64_t last_active_scan = sg_mono_ms(), last_incoming_scan = 0;
	bool list_incoming = true;
	while (!*q->qe->cancel) {
		if (spool_take_flush(q->qe->spool))
			flush_all(q);
		int64_t now = sg_mono_ms();
		if (list_incoming || q->incoming_wd < 0 || now - last_incoming_scan >= scan_interval_ms) {
			take_queue(q, SPOOL_INCOMING);
			last_incoming_scan = now;
			list_incoming = false;
		}
		if (now - last_active_scan >= QMGR_ACTIVE_RESCAN_MS) {
			take_queue(q, SPOOL_ACTIVE);
			last_active_scan = now;
		}
		int wait = dispatch(q, scan_interval_ms);
		struct pollfd pfd[2] = {{.fd = q->ino_fd, .events = POLLIN},
		                        {.fd = q->wake_fd, .events = POLLIN}};
		if (poll(pfd, 2, wait > 0 ? wait : 0) > 0) {
			if (q->ino_fd >= 0 && take_events(q))
				list_incoming = true;
			drain(q->wake_fd);
		}
	}
}

int qmgr_loop_run(const struct qmgr_env *qe, unsigned int concurrency, int scan_interval_ms)
{
	struct qmgr q = {.qe = qe, .ino_fd = -1, .incoming_wd = -1};
	pthread_mutex_init(&q.mu, NULL);
	pthread_cond_init(&q.cv, NULL);
	q.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q.wake_fd < 0)
		sg_fatal("eventfd: %s", strerror(errno));
	watch_dirs(&q);
	take_queue(&q, SPOOL_ACTIVE); /* recovery: whatever a crash or kill -9 left in active/ */
	sg_info("queue manager: %zu message(s) to recover from active/", q.nitems);
	pthread_t *threads = start_workers(&q, concurrency ? concurrency : 1);
	main_loop(&q, scan_interval_ms > 0 ? scan_interval_ms : 1000);
	pthread_mutex_lock(&q.mu);
	q.stopping = true;
	pthread_cond_broadcast(&q.cv);
	pthread_mutex_unlock(&q.mu);
	for (unsigned int i = 0; i < (concurrency ? concurrency : 1); i++)
		pthread_join(threads[i], NULL);
	sg_free(&threads);
	sg_free(&q.items);
	if (q.ino_fd >= 0)
		close(q.ino_fd);
	close(q.wake_fd);
	pthread_cond_destroy(&q.cv);
	pthread_mutex_destroy(&q.mu);
	return 0;
}

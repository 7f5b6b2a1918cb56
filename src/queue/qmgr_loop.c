/* qmgr_loop.c: the scheduler. The main thread takes new mail from incoming/ (woken by inotify,
 * with queue.scan_interval as the fallback), keeps a table of active messages and when each is
 * next due, and hands due ones to a fixed pool of worker threads. A message is in at most one
 * worker at a time (the table and the spool lock both ensure it). */
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

struct qmgr_item {
	char id[SG_QUEUE_ID_MAX];
	time_t due;
	bool busy;   /* a worker has it */
	bool queued; /* waiting for a worker */
	bool flush;  /* `queue flush`: every pending recipient is due */
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
};

/* ---- the table (callers hold mu) ---- */
static struct qmgr_item *item_find(struct qmgr *q, const char *id)
{
	for (size_t i = 0; i < q->nitems; i++)
		if (strcmp(q->items[i].id, id) == 0)
			return &q->items[i];
	return NULL;
}

static void item_add(struct qmgr *q, const char *id, time_t due)
{
	if (item_find(q, id) != NULL || strlen(id) >= SG_QUEUE_ID_MAX)
		return;
	q->items = sg_reallocarray(q->items, q->nitems + 1, sizeof(*q->items));
	struct qmgr_item *it = &q->items[q->nitems++];
	memset(it, 0, sizeof(*it));
	sg_strlcpy(it->id, id, sizeof(it->id));
	it->due = due;
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
	for (size_t i = 0; i < n; i++) {
		if (which == SPOOL_INCOMING && spool_activate(q->qe->spool, ids[i], &err) < 0) {
			sg_warn("%s: cannot activate: %s", ids[i], err);
			continue;
		}
		pthread_mutex_lock(&q->mu);
		item_add(q, ids[i], 0);
		pthread_mutex_unlock(&q->mu);
	}
	spool_ids_free(&ids, n);
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
		if (sg_path_join(path, sizeof(path), spool_dir(q->qe->spool), dirs[i]) < 0 ||
		    inotify_add_watch(q->ino_fd, path, IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE) < 0)
			sg_warn("cannot watch %s/%s; relying on the scan interval",
			        spool_dir(q->qe->spool), dirs[i]);
	}
}

/* ---- workers ---- */
static struct qmgr_item *next_queued(struct qmgr *q)
{
	for (size_t i = 0; i < q->nitems; i++)
		if (q->items[i].queued && !q->items[i].busy)
			return &q->items[i];
	return NULL;
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
		bool flush = it->flush;
		it->busy = true;
		it->queued = it->flush = false;
		pthread_mutex_unlock(&q->mu);
		time_t next;
		enum qmgr_job_result res = qmgr_job_run(qe, dc, id, flush, &next);
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

static void main_loop(struct qmgr *q, int scan_interval_ms)
{
	int64_t last_active_scan = sg_mono_ms();
	while (!*q->qe->cancel) {
		if (spool_take_flush(q->qe->spool))
			flush_all(q);
		take_queue(q, SPOOL_INCOMING);
		if (sg_mono_ms() - last_active_scan >= QMGR_ACTIVE_RESCAN_MS) {
			take_queue(q, SPOOL_ACTIVE);
			last_active_scan = sg_mono_ms();
		}
		int wait = dispatch(q, scan_interval_ms);
		struct pollfd pfd[2] = {{.fd = q->ino_fd, .events = POLLIN},
		                        {.fd = q->wake_fd, .events = POLLIN}};
		if (poll(pfd, 2, wait > 0 ? wait : 0) > 0) {
			drain(q->ino_fd);
			drain(q->wake_fd);
		}
	}
}

int qmgr_loop_run(const struct qmgr_env *qe, unsigned int concurrency, int scan_interval_ms)
{
	struct qmgr q = {.qe = qe, .ino_fd = -1};
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

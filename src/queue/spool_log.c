/* spool_log.c: this process's append-only spool log and its group commit. Every envelope
 * that must become durable (a message received, a recipient's new state) is appended here as
 * a framed record; a batch of them is written and fsynced once for every thread waiting in it,
 * as databases commit. The envelope files themselves are written without fsync: after a crash
 * spool_recover.c rebuilds them from the logs.
 *
 * A batch: the first caller that finds no batch in flight leads it. It waits (at most
 * LOG_BATCH_WAIT_US) while other callers that announced a commit have not appended yet, and
 * closes the batch at LOG_BATCH_MAX records; meanwhile later callers queue for the next one.
 * The leader writes the records, fsyncs data/ if a record asked for it (a new message's data
 * file must be in its directory before the record that names it counts), then the log.
 *
 * The file: "SGL 1\n", then records "R <len> <i|a> <fnv1a64 hex>\n<len bytes>\n" whose payload
 * is an envelope (spool_record.c) for incoming/ (i) or active/ (a). The writer holds
 * flock(LOCK_EX) on its open log, so recovery knows which logs are still being written. */
#include "queue/spool_private.h"
#include "core/sg_buf.h"
#include "core/sg_file.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define LOG_BATCH_MAX     64
#define LOG_BATCH_WAIT_US 2000

/* A committer waits on its own condition: the end of a batch wakes the sessions it held and
 * one that waits for the next (to lead it), not every session (50 sessions woken per record
 * cost more CPU than the records). */
struct log_waiter {
	struct log_waiter *next;
	pthread_cond_t cv;
	bool done;
	int rc;
};

struct spool_log {
	pthread_mutex_t mu;
	pthread_cond_t lead_cv;   /* the leader waits here for announced records */
	int fd;                   /* -1 until the first batch, after rotation or a failure */
	size_t size;              /* bytes in the open file */
	struct sg_buf pending;    /* records of the batch being formed */
	struct log_waiter *waiters;
	size_t npending;
	bool data_dir;            /* the batch must fsync data/ */
	bool leading;             /* a leader is forming or writing a batch */
	bool rotated;             /* a batch closed the file: one of its callers retires it */
	unsigned int announced;   /* commits announced but not appended yet */
	uint64_t waits;           /* times a committer was woken (spool_log_waits) */
};

struct spool_log *spool_log_new(void)
{
	struct spool_log *lg = sg_calloc(1, sizeof(*lg));
	pthread_mutex_init(&lg->mu, NULL);
	pthread_cond_init(&lg->lead_cv, NULL);
	lg->fd = -1;
	sg_buf_init(&lg->pending, (size_t)LOG_BATCH_MAX * SG_SPOOL_RECORD_MAX);
	return lg;
}

void spool_log_free(struct spool_log **lg)
{
	if (*lg == NULL)
		return;
	if ((*lg)->fd >= 0)
		close((*lg)->fd); /* releases the flock: recovery may retire the file */
	sg_buf_free(&(*lg)->pending);
	pthread_cond_destroy(&(*lg)->lead_cv);
	pthread_mutex_destroy(&(*lg)->mu);
	sg_free(lg);
}

uint64_t spool_log_hash(const char *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
	return h;
}

/* Creates log/ID.log with its header, durable in log/, locked. */
static int log_create(struct spool *sp, struct spool_log *lg)
{
	char id[SG_QUEUE_ID_MAX], name[SG_QUEUE_ID_MAX + 8], path[SG_PATH_MAX];
	static const char header[] = SPOOL_LOG_HEADER;
	spool_id_generate(id);
	if (sg_snprintf(name, sizeof(name), "%s" SPOOL_LOG_SUFFIX, id) < 0 ||
	    spool_subpath(sp, path, sizeof(path), SPOOL_LOG_DIR, name) < 0)
		return -1;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0660);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0 || sg_write_all(fd, header, sizeof(header) - 1) < 0 ||
	    sg_fsync_dir(path, false) < 0) {
		int saved = errno;
		close(fd);
		unlink(path);
		errno = saved;
		return -1;
	}
	lg->fd = fd;
	lg->size = sizeof(header) - 1;
	return 0;
}

/* Writes and syncs one batch (mu not held). On failure the file is given up: the next batch
 * starts a new one, so a torn record is only ever at the end of a file. */
static int log_write_batch(struct spool *sp, struct spool_log *lg, const struct sg_buf *b,
                           bool data_dir)
{
	char path[SG_PATH_MAX];
	if (lg->fd < 0 && log_create(sp, lg) < 0)
		return -1;
	int rc = sg_write_all(lg->fd, b->data, b->len);
	if (rc == 0 && data_dir)
		rc = spool_subpath(sp, path, sizeof(path), SPOOL_DATA, NULL) < 0 ? -1
		                                                                 : sg_fsync_dir(path, true);
	if (rc == 0)
		rc = sg_fsync(lg->fd);
	lg->size += b->len;
	if (rc < 0 || lg->size >= sp->log_rotate_bytes) {
		int saved = errno;
		close(lg->fd);
		lg->fd = -1;
		errno = saved;
	}
	return rc;
}

static void deadline_after_us(struct timespec *ts, long us)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_nsec += us * 1000;
	ts->tv_sec += ts->tv_nsec / 1000000000L;
	ts->tv_nsec %= 1000000000L;
}

/* The leader (mu held on entry and exit): lets announced commits join, then writes. */
static void lead_batch(struct spool *sp, struct spool_log *lg)
{
	struct timespec until;
	deadline_after_us(&until, LOG_BATCH_WAIT_US);
	while (lg->announced > 0 && lg->npending < LOG_BATCH_MAX &&
	       pthread_cond_timedwait(&lg->lead_cv, &lg->mu, &until) == 0)
		;
	struct sg_buf batch = lg->pending;
	struct log_waiter *ws = lg->waiters;
	bool data_dir = lg->data_dir;
	sg_buf_init(&lg->pending, (size_t)LOG_BATCH_MAX * SG_SPOOL_RECORD_MAX);
	lg->waiters = NULL;
	lg->npending = 0;
	lg->data_dir = false;
	pthread_mutex_unlock(&lg->mu);
	int rc = log_write_batch(sp, lg, &batch, data_dir);
	int saved = errno;
	sg_buf_free(&batch);
	pthread_mutex_lock(&lg->mu);
	lg->rotated = lg->rotated || (rc == 0 && lg->fd < 0);
	for (; ws != NULL; ws = ws->next) {
		ws->rc = rc;
		ws->done = true;
		pthread_cond_signal(&ws->cv);
	}
	lg->leading = false;
	if (lg->waiters != NULL) /* records came during the write: one of them leads next */
		pthread_cond_signal(&lg->waiters->cv);
	errno = saved;
}

/* The file this process just closed (and any other closed log) is replayed and removed now,
 * by a thread of the batch that closed it, after that batch's replies were released: under a
 * long-running process closed logs would otherwise pile up until the next start. */
static void retire_closed(struct spool *sp)
{
	const char *err;
	if (spool_recover(sp, &err) < 0)
		sg_warn("spool: %s", err);
}

uint64_t spool_log_waits(struct spool *sp)
{
	pthread_mutex_lock(&sp->log->mu);
	uint64_t n = sp->log->waits;
	pthread_mutex_unlock(&sp->log->mu);
	return n;
}

void spool_log_announce(struct spool *sp)
{
	pthread_mutex_lock(&sp->log->mu);
	sp->log->announced++;
	pthread_mutex_unlock(&sp->log->mu);
}

void spool_log_withdraw(struct spool *sp)
{
	pthread_mutex_lock(&sp->log->mu);
	sp->log->announced--;
	pthread_cond_signal(&sp->log->lead_cv);
	pthread_mutex_unlock(&sp->log->mu);
}

static int frame(struct sg_buf *b, const struct spool_envelope *env, enum spool_queue q)
{
	struct sg_buf rec;
	sg_buf_init(&rec, SG_SPOOL_RECORD_MAX);
	int rc = spool_record_format(env, &rec);
	if (rc == 0)
		rc = sg_buf_printf(b, "R %zu %c %016llx\n", rec.len, q == SPOOL_ACTIVE ? 'a' : 'i',
		                   (unsigned long long)spool_log_hash(rec.data, rec.len));
	if (rc == 0 && (sg_buf_append(b, rec.data, rec.len) < 0 || sg_buf_append(b, "\n", 1) < 0))
		rc = -1;
	sg_buf_free(&rec);
	return rc;
}

int spool_log_commit(struct spool *sp, const struct spool_envelope *env, enum spool_queue q,
                     bool announced, bool data_dir, const char **error_r)
{
	struct spool_log *lg = sp->log;
	struct log_waiter me = {0};
	pthread_cond_init(&me.cv, NULL);
	pthread_mutex_lock(&lg->mu);
	if (announced)
		lg->announced--;
	size_t mark = lg->pending.len;
	if (frame(&lg->pending, env, q) < 0) {
		lg->pending.len = mark;
		pthread_cond_signal(&lg->lead_cv);
		pthread_mutex_unlock(&lg->mu);
		pthread_cond_destroy(&me.cv);
		*error_r = spool_errorf(false, "envelope of %s cannot be logged", env->id);
		return -1;
	}
	me.next = lg->waiters;
	lg->waiters = &me;
	lg->npending++;
	lg->data_dir = lg->data_dir || data_dir;
	pthread_cond_signal(&lg->lead_cv); /* a leader waiting for this record may close its batch */
	while (!me.done) {
		if (!lg->leading) {
			lg->leading = true;
			lead_batch(sp, lg);
		} else {
			pthread_cond_wait(&me.cv, &lg->mu);
			lg->waits++;
		}
	}
	bool retire = lg->rotated && me.rc == 0;
	lg->rotated = lg->rotated && !retire;
	pthread_mutex_unlock(&lg->mu);
	pthread_cond_destroy(&me.cv);
	if (me.rc < 0) {
		*error_r = spool_errorf(true, "cannot write the spool log in %s/" SPOOL_LOG_DIR,
		                        spool_dir(sp));
		return -1;
	}
	if (retire)
		retire_closed(sp);
	return 0;
}

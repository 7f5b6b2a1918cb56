/* spool_writer.c: receiving a message into the spool. The data goes through a buffer straight
 * into data/ID (the O_EXCL creation reserves the id; until its envelope exists it is an orphan
 * that spool_cleanup removes when stale). Commit fsyncs it, writes the envelope into incoming/
 * without fsync and commits the envelope through the spool log, whose batch also fsyncs
 * data/: the message exists once that batch is on disk. */
#include "queue/spool_private.h"
#include "core/sg_file.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WRITER_BUF_SIZE ((size_t)64 * 1024)
#define ID_ATTEMPTS 100

struct spool_writer {
	struct spool *sp;
	char id[SG_QUEUE_ID_MAX];
	char path[SG_PATH_MAX]; /* data/ID, or "" once committed */
	int fd;
	bool failed;    /* a write failed: the message can only be aborted */
	size_t size;    /* bytes accepted so far */
	size_t buflen;
	char buf[WRITER_BUF_SIZE];
};

/* True if id is already used by an envelope (ids must never be reused). */
static bool id_taken(struct spool *sp, const char *id)
{
	char path[SG_PATH_MAX];
	for (int q = SPOOL_INCOMING; q <= SPOOL_ACTIVE; q++)
		if (spool_subpath(sp, path, sizeof(path), spool_queue_dir(q), id) < 0 ||
		    access(path, F_OK) == 0 || errno != ENOENT)
			return true;
	return false;
}

/* Creates data/ID with O_EXCL under a fresh id; retries on collision. */
static int reserve_id(struct spool_writer *w, const char **error_r)
{
	for (int i = 0; i < ID_ATTEMPTS; i++) {
		spool_id_generate(w->id);
		if (spool_subpath(w->sp, w->path, sizeof(w->path), SPOOL_DATA, w->id) < 0)
			break;
		w->fd = open(w->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0660);
		if (w->fd < 0 && errno == EEXIST)
			continue;
		if (w->fd < 0)
			break;
		if (!id_taken(w->sp, w->id))
			return 0;
		close(w->fd);
		w->fd = -1;
		unlink(w->path);
	}
	*error_r = spool_errorf(true, "cannot create a message file in %s/" SPOOL_DATA,
	                        spool_dir(w->sp));
	w->path[0] = '\0';
	return -1;
}

struct spool_writer *spool_writer_begin(struct spool *sp, const char **error_r)
{
	struct spool_writer *w = sg_calloc(1, sizeof(*w));
	w->sp = sp;
	w->fd = -1;
	if (reserve_id(w, error_r) < 0) {
		sg_free(&w);
		return NULL;
	}
	return w;
}

const char *spool_writer_id(const struct spool_writer *w) { return w->id; }

size_t spool_writer_size(const struct spool_writer *w) { return w->size; }

static int flush_buf(struct spool_writer *w, const char **error_r)
{
	if (w->buflen > 0 && sg_write_all(w->fd, w->buf, w->buflen) < 0) {
		w->failed = true;
		*error_r = spool_errorf(true, "cannot write message %s to the spool", w->id);
		return -1;
	}
	w->buflen = 0;
	return 0;
}

int spool_writer_write(struct spool_writer *w, const void *data, size_t len,
                       const char **error_r)
{
	size_t total;
	if (w->failed || __builtin_add_overflow(w->size, len, &total)) {
		w->failed = true;
		*error_r = spool_errorf(false, "an earlier write of message %s failed", w->id);
		return -1;
	}
	const char *p = data;
	while (len > 0) {
		if (w->buflen == WRITER_BUF_SIZE && flush_buf(w, error_r) < 0)
			return -1;
		size_t n = WRITER_BUF_SIZE - w->buflen;
		n = n < len ? n : len;
		memcpy(w->buf + w->buflen, p, n);
		w->buflen += n;
		p += n;
		len -= n;
	}
	w->size = total;
	return 0;
}

static void writer_free(struct spool_writer **w)
{
	if ((*w)->fd >= 0)
		close((*w)->fd);
	if ((*w)->path[0] != '\0')
		unlink((*w)->path);
	sg_free(w);
}

void spool_writer_abort(struct spool_writer **w)
{
	if (*w != NULL)
		writer_free(w);
}

/* Fsyncs the data file (its name in data/ is synced by the log batch). */
static int sync_data(struct spool_writer *w, const char **error_r)
{
	if (w->failed) {
		*error_r = spool_errorf(false, "an earlier write of message %s failed", w->id);
		return -1;
	}
	if (flush_buf(w, error_r) < 0)
		return -1;
	int rc = sg_fsync(w->fd);
	if (close(w->fd) < 0)
		rc = -1;
	w->fd = -1;
	if (rc < 0) {
		*error_r = spool_errorf(true, "cannot write message %s to the spool", w->id);
		return -1;
	}
	return 0;
}

/* queue_dir: incoming/ for mail received (qmgr picks it up), active/ for mail the queue
 * manager writes itself and hands straight to a worker (spool_inject with a hook). */
static int commit(struct spool_writer *w, struct spool_envelope *env, const char *queue_dir,
                  const char **error_r)
{
	bool renamed;
	if (env->nrcpt == 0) {
		*error_r = spool_errorf(false, "message %s has no recipients", w->id);
		return -1;
	}
	spool_log_announce(w->sp);
	sg_strlcpy(env->id, w->id, sizeof(env->id));
	env->size = w->size;
	env->seq = 1;
	if (env->arrival == 0)
		env->arrival = time(NULL);
	enum spool_queue q = strcmp(queue_dir, SPOOL_ACTIVE_DIR) == 0 ? SPOOL_ACTIVE : SPOOL_INCOMING;
	if (sync_data(w, error_r) < 0 ||
	    spool_write_envelope(w->sp, env, queue_dir, false, &renamed, error_r) < 0) {
		spool_log_withdraw(w->sp);
		return -1;
	}
	if (spool_log_commit(w->sp, env, q, true, true, error_r) < 0) {
		/* The envelope may be in its queue directory (or qmgr took it already): take it
		 * back, so the client's retry does not make a duplicate. A record that reached the
		 * log despite the error names data that is gone: recovery skips it. */
		const char *ignored;
		int saved = errno;
		(void)spool_remove_delivered(w->sp, w->id, &ignored);
		errno = saved; /* the error buffer was reused: say it again */
		*error_r = spool_errorf(true, "cannot write the spool log for message %s", w->id);
		return -1;
	}
	w->path[0] = '\0'; /* committed: the data file stays */
	return 0;
}

int spool_writer_commit(struct spool_writer **w, struct spool_envelope *env,
                        const char **error_r)
{
	if (*w == NULL) {
		*error_r = spool_errorf(false, "no message is being received");
		return -1;
	}
	int rc = commit(*w, env, SPOOL_INCOMING_DIR, error_r);
	writer_free(w);
	return rc;
}

void spool_set_active_hook(struct spool *sp, spool_active_hook hook, void *ctx)
{
	sp->active_hook = hook;
	sp->active_ctx = ctx;
}

int spool_inject(struct spool *sp, const void *data, size_t len, struct spool_envelope *env,
                 const char **error_r)
{
	struct spool_writer *w = spool_writer_begin(sp, error_r);
	if (w == NULL)
		return -1;
	if (spool_writer_write(w, data, len, error_r) < 0) {
		spool_writer_abort(&w);
		return -1;
	}
	spool_active_hook hook = sp->active_hook;
	int rc = commit(w, env, hook != NULL ? SPOOL_ACTIVE_DIR : SPOOL_INCOMING_DIR, error_r);
	writer_free(&w);
	if (rc == 0 && hook != NULL)
		hook(sp->active_ctx, env->id);
	return rc;
}

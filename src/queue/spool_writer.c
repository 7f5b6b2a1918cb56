/* spool_writer.c: receiving a message into the spool. The data goes through a buffer into
 * tmp/ID.data (the O_EXCL creation there reserves the id); commit makes it durable in data/
 * and only then writes the envelope into incoming/, which is what makes the message exist. */
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
	char tmp[SG_PATH_MAX];
	int fd;
	bool failed;    /* a write failed: the message can only be aborted */
	size_t size;    /* bytes accepted so far */
	size_t buflen;
	char buf[WRITER_BUF_SIZE];
};

/* True if id is already used by a committed message (ids must never be reused). */
static bool id_taken(struct spool *sp, const char *id)
{
	static const char *const subs[] = {SPOOL_DATA, SPOOL_INCOMING_DIR, SPOOL_ACTIVE_DIR};
	char path[SG_PATH_MAX];
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (spool_subpath(sp, path, sizeof(path), subs[i], id) < 0 ||
		    access(path, F_OK) == 0 || errno != ENOENT)
			return true;
	return false;
}

/* Creates tmp/ID.data with O_EXCL under a fresh id; retries on collision. */
static int reserve_id(struct spool_writer *w, const char **error_r)
{
	char name[SG_QUEUE_ID_MAX + 8];
	for (int i = 0; i < ID_ATTEMPTS; i++) {
		spool_id_generate(w->id);
		if (sg_snprintf(name, sizeof(name), "%s.data", w->id) < 0 ||
		    spool_subpath(w->sp, w->tmp, sizeof(w->tmp), SPOOL_TMP, name) < 0)
			break;
		w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (w->fd < 0 && errno == EEXIST)
			continue;
		if (w->fd < 0)
			break;
		if (!id_taken(w->sp, w->id))
			return 0;
		close(w->fd);
		w->fd = -1;
		unlink(w->tmp);
	}
	*error_r = spool_errorf(true, "cannot create a message file in %s/" SPOOL_TMP,
	                        spool_dir(w->sp));
	w->tmp[0] = '\0';
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
	if ((*w)->tmp[0] != '\0')
		unlink((*w)->tmp);
	sg_free(w);
}

void spool_writer_abort(struct spool_writer **w)
{
	if (*w != NULL)
		writer_free(w);
}

/* Makes tmp/ID.data durable as data/ID. */
static int commit_data(struct spool_writer *w, const char *data_path, const char **error_r)
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
	if (sg_rename(w->tmp, data_path) < 0) {
		*error_r = spool_errorf(true, "cannot move message %s into data/", w->id);
		return -1;
	}
	w->tmp[0] = '\0';
	/* data/ must be durable before the envelope can point at it. */
	if (sg_fsync_dir(data_path, false) < 0) {
		*error_r = spool_errorf(true, "cannot fsync %s/" SPOOL_DATA, spool_dir(w->sp));
		unlink(data_path);
		return -1;
	}
	return 0;
}

/* The envelope reached incoming/ but is not known durable: take it back if we still can,
 * so the client's retry does not make a duplicate. The data goes only when the envelope's
 * removal is itself durable; otherwise both stay and the message is delivered (a duplicate
 * is acceptable, an envelope without data is not). */
static void undo_envelope(struct spool_writer *w, const char *queue_dir,
                          const char *data_path)
{
	char path[SG_PATH_MAX];
	if (spool_subpath(w->sp, path, sizeof(path), queue_dir, w->id) < 0 ||
	    unlink(path) < 0 || sg_fsync_dir(path, false) < 0)
		return;
	unlink(data_path);
}

static int commit(struct spool_writer *w, struct spool_envelope *env, const char *queue_dir,
                  const char **error_r)
{
	char data_path[SG_PATH_MAX];
	bool renamed;
	if (env->nrcpt == 0) {
		*error_r = spool_errorf(false, "message %s has no recipients", w->id);
		return -1;
	}
	if (spool_subpath(w->sp, data_path, sizeof(data_path), SPOOL_DATA, w->id) < 0 ||
	    commit_data(w, data_path, error_r) < 0)
		return -1;
	sg_strlcpy(env->id, w->id, sizeof(env->id));
	env->size = w->size;
	if (env->arrival == 0)
		env->arrival = time(NULL);
	if (spool_write_envelope(w->sp, env, queue_dir, &renamed, error_r) == 0)
		return 0;
	if (renamed)
		undo_envelope(w, queue_dir, data_path);
	else
		unlink(data_path);
	return -1;
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

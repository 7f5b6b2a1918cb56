/* spool_queue.c: the spool directory: opening and cleaning it, listing, loading, moving,
 * rewriting and removing envelopes. An envelope file changes by write → rename; it is made
 * durable by the log record that goes with it (spool_log.c) or, in recovery, by fsyncs. */
#include "queue/spool_private.h"
#include "core/sg_buf.h"
#include "core/sg_file.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const subdirs[] = {
	SPOOL_TMP, SPOOL_DATA, SPOOL_INCOMING_DIR, SPOOL_ACTIVE_DIR, SPOOL_TRIGGER, SPOOL_LOG_DIR,
};

const char *spool_errorf(bool with_errno, const char *fmt, ...)
{
	static _Thread_local char buf[SG_PATH_MAX + 256];
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (with_errno && n >= 0 && (size_t)n < sizeof(buf))
		(void)snprintf(buf + n, sizeof(buf) - (size_t)n, ": %s", strerror(saved));
	errno = saved;
	return buf;
}

int spool_subpath(const struct spool *sp, char *dst, size_t dstsize, const char *sub,
                  const char *name)
{
	int n = name != NULL ? sg_snprintf(dst, dstsize, "%s/%s/%s", sp->dir, sub, name)
	                     : sg_snprintf(dst, dstsize, "%s/%s", sp->dir, sub);
	if (n < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

const char *spool_queue_dir(enum spool_queue q)
{
	return q == SPOOL_ACTIVE ? SPOOL_ACTIVE_DIR : SPOOL_INCOMING_DIR;
}

const char *spool_dir(const struct spool *sp) { return sp->dir; }

static struct spool *spool_new(const char *dir, const char **error_r)
{
	if (strlen(dir) > SG_PATH_MAX - 64) {
		*error_r = spool_errorf(false, "spool directory name too long");
		return NULL;
	}
	struct spool *sp = sg_calloc(1, sizeof(*sp));
	sp->dir = sg_strdup(dir);
	sp->log = spool_log_new();
	sp->log_rotate_bytes = SPOOL_LOG_ROTATE_BYTES;
	return sp;
}

struct spool *spool_open(const char *dir, const char **error_r)
{
	struct spool *sp = spool_new(dir, error_r);
	if (sp == NULL)
		return NULL;
	if (sg_mkdir_p(dir, 0770) < 0) {
		*error_r = spool_errorf(true, "cannot create spool %s", dir);
		spool_close(&sp);
		return NULL;
	}
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		char path[SG_PATH_MAX];
		struct stat st;
		bool ok = spool_subpath(sp, path, sizeof(path), subdirs[i], NULL) == 0 &&
		          (mkdir(path, 0770) == 0 || errno == EEXIST) && stat(path, &st) == 0;
		if (ok && !S_ISDIR(st.st_mode)) {
			ok = false;
			errno = ENOTDIR;
		}
		if (!ok) {
			*error_r = spool_errorf(true, "cannot create spool directory %s/%s", dir,
			                        subdirs[i]);
			spool_close(&sp);
			return NULL;
		}
	}
	/* Recovery first: a data file whose envelope only a log holds is no orphan. */
	if (spool_recover(sp, error_r) < 0 || spool_cleanup(sp, time(NULL), error_r) < 0) {
		spool_close(&sp);
		return NULL;
	}
	return sp;
}

struct spool *spool_open_existing(const char *dir, const char **error_r)
{
	struct stat st;
	int rc = stat(dir, &st);
	if (rc == 0 && !S_ISDIR(st.st_mode)) {
		rc = -1;
		errno = ENOTDIR;
	}
	if (rc < 0) {
		*error_r = spool_errorf(true, "no spool directory at %s", dir);
		return NULL;
	}
	return spool_new(dir, error_r);
}

void spool_close(struct spool **sp)
{
	if (*sp == NULL)
		return;
	spool_log_free(&(*sp)->log);
	sg_free(&(*sp)->dir);
	sg_free(sp);
}

/* ---- cleanup ---- */

static bool file_is_stale(const char *path, time_t now)
{
	struct stat st;
	return lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_mtime < now - SPOOL_STALE_SECS;
}

static bool has_envelope(const struct spool *sp, const char *id)
{
	/* incoming before active: a message moves that way, so a move between the two checks
	 * is still seen. */
	char path[SG_PATH_MAX];
	for (int q = SPOOL_INCOMING; q <= SPOOL_ACTIVE; q++)
		if (spool_subpath(sp, path, sizeof(path), spool_queue_dir(q), id) < 0 ||
		    access(path, F_OK) == 0 || errno != ENOENT)
			return true; /* when in doubt, keep the data */
	return false;
}

/* Removes stale files of one subdirectory; orphans_only keeps data that has an envelope. */
static int cleanup_dir(struct spool *sp, const char *sub, time_t now, bool orphans_only,
                       const char **error_r)
{
	char dirpath[SG_PATH_MAX], path[SG_PATH_MAX];
	DIR *d;
	if (spool_subpath(sp, dirpath, sizeof(dirpath), sub, NULL) < 0 ||
	    (d = opendir(dirpath)) == NULL) {
		*error_r = spool_errorf(true, "cannot read %s/%s", sp->dir, sub);
		return -1;
	}
	int removed = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || (orphans_only && !spool_id_valid(de->d_name)))
			continue;
		if (spool_subpath(sp, path, sizeof(path), sub, de->d_name) < 0 ||
		    !file_is_stale(path, now) || (orphans_only && has_envelope(sp, de->d_name)))
			continue;
		if (unlink(path) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}

int spool_cleanup(struct spool *sp, time_t now, const char **error_r)
{
	int a = cleanup_dir(sp, SPOOL_TMP, now, false, error_r);
	if (a < 0)
		return -1;
	int b = cleanup_dir(sp, SPOOL_DATA, now, true, error_r);
	if (b < 0)
		return -1;
	return a + b;
}

/* ---- listing and loading ---- */

static int cmp_ids(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int spool_list(struct spool *sp, enum spool_queue q, char ***ids_r, size_t *n_r,
               const char **error_r)
{
	char dirpath[SG_PATH_MAX];
	*ids_r = NULL;
	*n_r = 0;
	DIR *d = NULL;
	if (spool_subpath(sp, dirpath, sizeof(dirpath), spool_queue_dir(q), NULL) < 0 ||
	    (d = opendir(dirpath)) == NULL) {
		if (errno == ENOENT)
			return 0; /* a spool no daemon has opened yet: nothing queued */
		*error_r = spool_errorf(true, "cannot list %s", dirpath);
		return -1;
	}
	char **ids = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (!spool_id_valid(de->d_name))
			continue;
		if ((n & (n - 1)) == 0)
			ids = sg_reallocarray(ids, n == 0 ? 1 : sg_size_mul(n, 2), sizeof(*ids));
		ids[n++] = sg_strdup(de->d_name);
	}
	closedir(d);
	if (n > 0)
		qsort(ids, n, sizeof(*ids), cmp_ids);
	*ids_r = ids;
	*n_r = n;
	return 0;
}

void spool_ids_free(char ***ids, size_t n)
{
	if (*ids == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		sg_free(&(*ids)[i]);
	sg_free(ids);
}

static int load_from(struct spool *sp, const char *id, enum spool_queue q,
                     struct spool_envelope *env_r, const char **error_r)
{
	char path[SG_PATH_MAX], *data = NULL;
	size_t len;
	const char *err;
	if (spool_subpath(sp, path, sizeof(path), spool_queue_dir(q), id) < 0 ||
	    sg_file_read_all(path, SG_SPOOL_RECORD_MAX, &data, &len, &err) < 0) {
		*error_r = spool_errorf(true, "cannot read envelope %s", path);
		return -1;
	}
	int rc = spool_record_parse(data, len, env_r, &err);
	sg_free(&data);
	if (rc < 0) {
		*error_r = spool_errorf(false, "envelope %s is damaged: %s", path, err);
		errno = EINVAL;
		return -1;
	}
	if (strcmp(env_r->id, id) != 0) {
		spool_envelope_free(env_r);
		*error_r = spool_errorf(false, "envelope %s names another id", path);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int spool_load(struct spool *sp, const char *id, struct spool_envelope *env_r,
               enum spool_queue *queue_r, const char **error_r)
{
	spool_envelope_init(env_r);
	if (!spool_id_valid(id)) {
		*error_r = spool_errorf(false, "'%.40s' is not a queue id", id);
		errno = EINVAL;
		return -1;
	}
	/* incoming first: qmgr moves envelopes from there to active, never back. */
	for (int q = SPOOL_INCOMING; q <= SPOOL_ACTIVE; q++) {
		if (load_from(sp, id, (enum spool_queue)q, env_r, error_r) == 0) {
			if (queue_r != NULL)
				*queue_r = (enum spool_queue)q;
			return 0;
		}
		if (errno != ENOENT)
			return -1;
	}
	*error_r = spool_errorf(false, "no message %s in the queue", id);
	errno = ENOENT;
	return -1;
}

/* ---- changes ---- */

static int write_tmp_record(const char *tmp, const struct spool_envelope *env, bool durable,
                            const char **error_r)
{
	struct sg_buf buf;
	sg_buf_init(&buf, SG_SPOOL_RECORD_MAX);
	if (spool_record_format(env, &buf) < 0) {
		sg_buf_free(&buf);
		*error_r = spool_errorf(false, "envelope of %s cannot be written (a value is too "
		                               "long or the id is bad)", env->id);
		errno = EINVAL;
		return -1;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0660);
	int rc = fd < 0 || sg_write_all(fd, buf.data, buf.len) < 0 || (durable && sg_fsync(fd) < 0)
	         ? -1 : 0;
	if (rc < 0)
		*error_r = spool_errorf(true, "cannot write %s", tmp);
	if (fd >= 0 && close(fd) < 0 && rc == 0) {
		*error_r = spool_errorf(true, "cannot write %s", tmp);
		rc = -1;
	}
	sg_buf_free(&buf);
	return rc;
}

int spool_write_envelope(struct spool *sp, const struct spool_envelope *env, const char *sub,
                         bool durable, bool *renamed_r, const char **error_r)
{
	char tmp[SG_PATH_MAX], dst[SG_PATH_MAX], name[SG_QUEUE_ID_MAX + 32];
	*renamed_r = false;
	if (sg_snprintf(name, sizeof(name), "%s.env.%ld", env->id, (long)getpid()) < 0 ||
	    spool_subpath(sp, tmp, sizeof(tmp), SPOOL_TMP, name) < 0 ||
	    spool_subpath(sp, dst, sizeof(dst), sub, env->id) < 0) {
		*error_r = spool_errorf(true, "envelope path of %s", env->id);
		return -1;
	}
	if (write_tmp_record(tmp, env, durable, error_r) < 0) {
		unlink(tmp);
		return -1;
	}
	if (sg_rename(tmp, dst) < 0) {
		*error_r = spool_errorf(true, "cannot rename envelope into %s", dst);
		unlink(tmp);
		return -1;
	}
	*renamed_r = true;
	if (durable && sg_fsync_dir(dst, false) < 0) {
		*error_r = spool_errorf(true, "cannot fsync %s/%s", sp->dir, sub);
		return -1;
	}
	return 0;
}

static int fsync_sub(struct spool *sp, const char *sub, const char **error_r)
{
	char path[SG_PATH_MAX];
	if (spool_subpath(sp, path, sizeof(path), sub, NULL) < 0 || sg_fsync_dir(path, true) < 0) {
		*error_r = spool_errorf(true, "cannot fsync %s/%s", sp->dir, sub);
		return -1;
	}
	return 0;
}

int spool_activate(struct spool *sp, const char *id, const char **error_r)
{
	char from[SG_PATH_MAX], to[SG_PATH_MAX];
	if (!spool_id_valid(id)) {
		*error_r = spool_errorf(false, "'%.40s' is not a queue id", id);
		return -1;
	}
	if (spool_subpath(sp, from, sizeof(from), SPOOL_INCOMING_DIR, id) < 0 ||
	    spool_subpath(sp, to, sizeof(to), SPOOL_ACTIVE_DIR, id) < 0 || sg_rename(from, to) < 0) {
		*error_r = spool_errorf(true, "cannot move %s from incoming to active", id);
		return -1;
	}
	return 0;
}

int spool_update(struct spool *sp, struct spool_envelope *env, const char **error_r)
{
	char path[SG_PATH_MAX];
	bool renamed;
	if (!spool_id_valid(env->id)) {
		*error_r = spool_errorf(false, "'%.40s' is not a queue id", env->id);
		return -1;
	}
	/* Never resurrect a message that `queue delete` removed. */
	if (spool_subpath(sp, path, sizeof(path), SPOOL_ACTIVE_DIR, env->id) < 0 ||
	    access(path, F_OK) < 0) {
		*error_r = spool_errorf(true, "message %s is not in active/", env->id);
		return -1;
	}
	env->seq++;
	if (spool_write_envelope(sp, env, SPOOL_ACTIVE_DIR, false, &renamed, error_r) < 0)
		return -1;
	return spool_log_commit(sp, env, SPOOL_ACTIVE, false, false, error_r);
}

/* Data first: an envelope without data is a removal cut short, which recovery finishes; data
 * without an envelope could be brought back from a log. */
static int remove_files(struct spool *sp, const char *id, bool durable, const char **error_r)
{
	char path[SG_PATH_MAX];
	if (!spool_id_valid(id)) {
		*error_r = spool_errorf(false, "'%.40s' is not a queue id", id);
		return -1;
	}
	if (spool_subpath(sp, path, sizeof(path), SPOOL_DATA, id) < 0 ||
	    (unlink(path) < 0 && errno != ENOENT)) {
		*error_r = spool_errorf(true, "cannot remove data of %s", id);
		return -1;
	}
	if (durable && fsync_sub(sp, SPOOL_DATA, error_r) < 0)
		return -1;
	/* active first: where a message usually ends; it is never in both. */
	bool found = false;
	for (int q = SPOOL_ACTIVE; q >= SPOOL_INCOMING && !found; q--) {
		if (spool_subpath(sp, path, sizeof(path), spool_queue_dir(q), id) < 0)
			continue;
		if (unlink(path) == 0)
			found = true;
		else if (errno != ENOENT) {
			*error_r = spool_errorf(true, "cannot remove envelope %s", id);
			return -1;
		}
	}
	if (!found) {
		*error_r = spool_errorf(false, "no message %s in the queue", id);
		errno = ENOENT;
		return -1;
	}
	return 0;
}

int spool_remove(struct spool *sp, const char *id, const char **error_r)
{
	return remove_files(sp, id, true, error_r);
}

int spool_remove_delivered(struct spool *sp, const char *id, const char **error_r)
{
	return remove_files(sp, id, false, error_r);
}

int spool_data_path(const struct spool *sp, const char *id, char *dst, size_t dstsize)
{
	if (!spool_id_valid(id)) {
		errno = EINVAL;
		return -1;
	}
	return spool_subpath(sp, dst, dstsize, SPOOL_DATA, id);
}

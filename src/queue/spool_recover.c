/* spool_recover.c: making the envelope files durable again from the spool logs. A log that no
 * process holds (its writer ended, crashed or rotated) is replayed record by record: for each
 * message whose data file exists, the newest of the envelope file and the record (by seq) is
 * made durable in its queue directory; then the log is removed. A record of a message whose
 * data is gone is skipped: the message was delivered and removed, or its commit failed. The
 * log is read as hostile input: a record whose frame or checksum does not match ends the
 * replay of that file (a torn tail: its batch was never acknowledged). */
#include "queue/spool_private.h"
#include "core/sg_file.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* A log is at most a rotation's worth plus one batch; anything larger is not ours. */
#define LOG_READ_MAX ((size_t)512 * 1024 * 1024)
#define FRAME_MAX 64

struct log_rec {
	const char *payload;
	size_t len;
	enum spool_queue q;
};

/* Reads the record at *pos; false at the end of the file or at a torn or foreign record. */
static bool next_record(const char *data, size_t size, size_t *pos, struct log_rec *r)
{
	const char *p = data + *pos, *end = data + size;
	size_t n = 0, digits = 0;
	if (end - p < 4 || p[0] != 'R' || p[1] != ' ')
		return false;
	for (p += 2; p < end && *p >= '0' && *p <= '9' && digits < 8; p++, digits++)
		n = n * 10 + (size_t)(*p - '0');
	if (digits == 0 || n > SG_SPOOL_RECORD_MAX || end - p < 3 || p[0] != ' ' ||
	    (p[1] != 'i' && p[1] != 'a'))
		return false;
	r->q = p[1] == 'a' ? SPOOL_ACTIVE : SPOOL_INCOMING;
	const char *nl = memchr(p, '\n', (size_t)(end - p) < FRAME_MAX ? (size_t)(end - p) : FRAME_MAX);
	if (nl == NULL || (size_t)(end - nl - 1) < n + 1 || nl[1 + n] != '\n')
		return false;
	r->payload = nl + 1;
	r->len = n;
	char expect[FRAME_MAX];
	int elen = sg_snprintf(expect, sizeof(expect), "R %zu %c %016llx\n", n, p[1],
	                       (unsigned long long)spool_log_hash(r->payload, n));
	size_t flen = (size_t)(nl + 1 - (data + *pos));
	if (elen < 0 || (size_t)elen != flen || memcmp(expect, data + *pos, flen) != 0)
		return false;
	*pos += flen + n + 1;
	return true;
}

static bool exists(struct spool *sp, const char *sub, const char *id)
{
	char path[SG_PATH_MAX];
	return spool_subpath(sp, path, sizeof(path), sub, id) == 0 && access(path, F_OK) == 0;
}

static int fsync_file(struct spool *sp, const char *sub, const char *id)
{
	char path[SG_PATH_MAX];
	if (spool_subpath(sp, path, sizeof(path), sub, id) < 0)
		return -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1; /* moved on meanwhile: its writer logged that */
	int rc = sg_fsync(fd);
	close(fd);
	return rc;
}

/* Makes the newest state of one message durable; 1 if the file was rewritten. */
static int recover_one(struct spool *sp, const struct spool_envelope *logged, enum spool_queue q,
                       const char **error_r)
{
	if (!exists(sp, SPOOL_DATA, logged->id))
		return 0;
	struct spool_envelope cur;
	enum spool_queue cq;
	const char *err;
	if (spool_load(sp, logged->id, &cur, &cq, &err) == 0 && cur.seq >= logged->seq) {
		spool_envelope_free(&cur);
		if (fsync_file(sp, spool_queue_dir(cq), logged->id) < 0) {
			*error_r = spool_errorf(true, "cannot fsync envelope %s", logged->id);
			return -1;
		}
		return 0;
	}
	spool_envelope_free(&cur);
	bool renamed;
	if (spool_write_envelope(sp, logged, spool_queue_dir(q), true, &renamed, error_r) < 0)
		return -1;
	if (q == SPOOL_ACTIVE && exists(sp, SPOOL_INCOMING_DIR, logged->id)) {
		char path[SG_PATH_MAX];
		if (spool_subpath(sp, path, sizeof(path), SPOOL_INCOMING_DIR, logged->id) == 0)
			unlink(path);
	}
	return 1;
}

static int replay(struct spool *sp, const char *data, size_t size, const char **error_r)
{
	static const char header[] = SPOOL_LOG_HEADER;
	size_t pos = sizeof(header) - 1;
	int rewritten = 0;
	struct log_rec r;
	if (size < pos || memcmp(data, header, pos) != 0)
		return 0; /* created but its header never reached the disk: nothing in it */
	while (next_record(data, size, &pos, &r)) {
		struct spool_envelope env;
		const char *perr;
		if (spool_record_parse(r.payload, r.len, &env, &perr) < 0) {
			sg_warn("spool log: a record with a valid checksum does not parse (%s): "
			        "skipped", perr);
			continue;
		}
		int rc = recover_one(sp, &env, r.q, error_r);
		spool_envelope_free(&env);
		if (rc < 0)
			return -1;
		rewritten += rc;
	}
	return rewritten;
}

static int fsync_subs(struct spool *sp, const char **error_r)
{
	static const char *const subs[] = {SPOOL_DATA, SPOOL_INCOMING_DIR, SPOOL_ACTIVE_DIR};
	char path[SG_PATH_MAX];
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (spool_subpath(sp, path, sizeof(path), subs[i], NULL) < 0 ||
		    sg_fsync_dir(path, true) < 0) {
			*error_r = spool_errorf(true, "cannot fsync %s/%s", spool_dir(sp), subs[i]);
			return -1;
		}
	return 0;
}

/* Replays one log if no process holds it, then removes it: the number of envelopes rewritten,
 * or -1 (with *error_r unless the log could not be opened). */
static int recover_log(struct spool *sp, const char *path, const char **error_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return 0; /* its writer is alive */
	}
	char *data = NULL;
	size_t size = 0;
	const char *err;
	int rc = sg_file_read_all(path, LOG_READ_MAX, &data, &size, &err);
	if (rc < 0)
		*error_r = spool_errorf(true, "cannot read spool log %s (%s)", path, err);
	else
		rc = replay(sp, data, size, error_r);
	sg_free(&data);
	/* Every envelope the log made durable is durable by itself now: the log may go. */
	if (rc >= 0 && (fsync_subs(sp, error_r) < 0 || unlink(path) < 0 ||
	                sg_fsync_dir(path, false) < 0)) {
		*error_r = spool_errorf(true, "cannot retire spool log %s", path);
		rc = -1;
	}
	close(fd);
	return rc;
}

/* True if the envelope file is empty or cut short: written without fsync before a power cut. */
static bool envelope_torn(struct spool *sp, enum spool_queue q, const char *id)
{
	char path[SG_PATH_MAX], *data = NULL;
	size_t len = 0;
	const char *err = NULL;
	struct spool_envelope env;
	if (spool_subpath(sp, path, sizeof(path), spool_queue_dir(q), id) < 0 ||
	    sg_file_read_all(path, SG_SPOOL_RECORD_MAX, &data, &len, &err) < 0)
		return false;
	bool torn = len == 0 || (spool_record_parse(data, len, &env, &err) < 0 &&
	                         strcmp(err, "truncated record") == 0);
	if (len > 0 && !torn)
		spool_envelope_free(&env);
	sg_free(&data);
	return torn;
}

/* After the replay: an envelope whose data is gone is a removal a crash cut short; a torn one
 * belongs to a message never acknowledged (an acknowledged one had a record, and the replay
 * rewrote it), so it goes with its data. */
static void drop_unfinished(struct spool *sp)
{
	for (int q = SPOOL_INCOMING; q <= SPOOL_ACTIVE; q++) {
		char **ids, path[SG_PATH_MAX], data[SG_PATH_MAX];
		size_t n;
		const char *err;
		if (spool_list(sp, (enum spool_queue)q, &ids, &n, &err) < 0)
			continue;
		for (size_t i = 0; i < n; i++) {
			bool dataless = !exists(sp, SPOOL_DATA, ids[i]);
			if ((!dataless && !envelope_torn(sp, (enum spool_queue)q, ids[i])) ||
			    spool_subpath(sp, path, sizeof(path), spool_queue_dir(q), ids[i]) < 0 ||
			    spool_subpath(sp, data, sizeof(data), SPOOL_DATA, ids[i]) < 0)
				continue;
			unlink(data);
			if (unlink(path) == 0)
				sg_info("%s: %s envelope removed (a crash cut it short)", ids[i],
				        dataless ? "data-less" : "torn");
		}
		spool_ids_free(&ids, n);
	}
}

/* Every closed log; a log that fails is logged and kept, the others are still replayed. */
static int recover_logs(struct spool *sp, const char *logdir, const char **error_r)
{
	DIR *d = opendir(logdir);
	if (d == NULL) {
		*error_r = spool_errorf(true, "cannot read %s", logdir);
		return -1;
	}
	int total = 0;
	struct dirent *de;
	char path[SG_PATH_MAX];
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name), slen = sizeof(SPOOL_LOG_SUFFIX) - 1;
		if (de->d_name[0] == '.' || len <= slen ||
		    strcmp(de->d_name + len - slen, SPOOL_LOG_SUFFIX) != 0 ||
		    spool_subpath(sp, path, sizeof(path), SPOOL_LOG_DIR, de->d_name) < 0)
			continue;
		const char *err = NULL;
		int rc = recover_log(sp, path, &err);
		if (rc >= 0)
			total += rc;
		else /* one bad log must not stop the gateway: it is tried again next time */
			sg_warn("spool: %s; the log is kept for the next recovery",
			        err != NULL ? err : spool_errorf(true, "cannot open %s", path));
	}
	closedir(d);
	return total;
}

int spool_recover(struct spool *sp, const char **error_r)
{
	char logdir[SG_PATH_MAX], lockpath[SG_PATH_MAX];
	if (spool_subpath(sp, logdir, sizeof(logdir), SPOOL_LOG_DIR, NULL) < 0 ||
	    spool_subpath(sp, lockpath, sizeof(lockpath), SPOOL_LOG_DIR, SPOOL_LOG_LOCK) < 0) {
		*error_r = spool_errorf(true, "spool log path");
		return -1;
	}
	int lock = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0660);
	if (lock < 0 || flock(lock, LOCK_EX) < 0) {
		*error_r = spool_errorf(true, "cannot lock %s", lockpath);
		if (lock >= 0)
			close(lock);
		return -1;
	}
	int rc = recover_logs(sp, logdir, error_r);
	if (rc >= 0)
		drop_unfinished(sp);
	if (rc > 0)
		sg_info("spool: %d envelopes recovered from the spool logs", rc);
	close(lock);
	return rc;
}

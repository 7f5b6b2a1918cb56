/* store_webmail_blob.c: the sealed parts of large webmail messages (STORE_WEBMAIL_FILE_MIN),
 * one file per message beside the database ("<database>-webmail/<uid>": the parts one after
 * the other, each where its row in webmail_parts says). In SQLite's WAL a megabyte blob is
 * written twice (log, then checkpoint) page by page while every other store user waits; a
 * file is written once, by the thread that sealed it, outside the store's lock. Order: file, fsync, directory fsync, then the rows; so a
 * crash before the rows' commit leaves only a file no row names (swept once it is an hour old),
 * never a row without its file. Deleting goes the other way: rows first, then the file. */
#include "store/store_webmail_blob.h"
#include "store/store_db.h"

#include "core/sg_file.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOB_DIR_SUFFIX "-webmail"

/* The directory of st's blob files into dst. */
static int blob_dir(struct store *st, char *dst, size_t size)
{
	const char *db = sdb_file_path(st);
	if (db == NULL || db[0] == '\0' ||
	    sg_snprintf(dst, size, "%s%s", db, BLOB_DIR_SUFFIX) < 0)
		return -1;
	return 0;
}

/* uid's file into dst; uid is 32 hex digits (it names a file: nothing else may). */
static int blob_path(struct store *st, const char *uid, char *dst, size_t size)
{
	char dir[SG_PATH_MAX];
	if (strlen(uid) != STORE_WEBMAIL_UID_MAX - 1 ||
	    strspn(uid, "0123456789abcdef") != STORE_WEBMAIL_UID_MAX - 1 ||
	    blob_dir(st, dir, sizeof(dir)) < 0)
		return -1;
	return sg_snprintf(dst, size, "%s/%s", dir, uid) < 0 ? -1 : 0;
}

/* The directory, made on first use (by the process that stores mail: it then owns it). */
static int ensure_dir(struct store *st)
{
	char dir[SG_PATH_MAX];
	if (blob_dir(st, dir, sizeof(dir)) < 0)
		return -1;
	if (mkdir(dir, 0700) == 0)
		return sg_fsync_dir(dir, false);
	return errno == EEXIST ? 0 : -1;
}

/* A new file at path; the directory is made the first time it is missing (a mkdir before
 * every file cost a system call and a path walk per message). */
static int create(struct store *st, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == ENOENT && ensure_dir(st) == 0)
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	return fd;
}

static int write_parts(int fd, const struct store_webmail_part *parts, size_t n,
                       int64_t *offsets)
{
	int64_t at = 0;
	for (size_t i = 0; i < n; i++) {
		if (parts[i].sealed_len > 0 && sg_write_all(fd, parts[i].sealed, parts[i].sealed_len) < 0)
			return -1;
		offsets[i] = at;
		at += (int64_t)parts[i].sealed_len;
	}
	return sg_fsync(fd);
}

int store_webmail_blob_write(struct store *st, const char *uid,
                             const struct store_webmail_part *parts, size_t n, int64_t *offsets,
                             const char **error_r)
{
	char path[SG_PATH_MAX];
	if (blob_path(st, uid, path, sizeof(path)) < 0) {
		*error_r = "webmail: cannot name the file of sealed parts";
		return -1;
	}
	int fd = create(st, path);
	int rc = fd < 0 ? -1 : write_parts(fd, parts, n, offsets);
	int saved = errno;
	if (fd >= 0 && close(fd) < 0 && rc == 0)
		rc = -1, saved = errno;
	if (rc == 0 && sg_fsync_dir(path, false) < 0)
		rc = -1, saved = errno;
	if (rc < 0) {
		sg_error("webmail: writing %s: %s", path, strerror(saved));
		if (fd >= 0)
			unlink(path);
		*error_r = "webmail: cannot write the sealed parts";
	}
	return rc;
}

int store_webmail_blob_read(struct store *st, const char *uid, int64_t offset, int64_t len,
                            unsigned char **data_r, size_t *len_r, const char **error_r)
{
	char path[SG_PATH_MAX];
	*error_r = "webmail: the sealed part is missing";
	if (offset < 0 || len < 0 || blob_path(st, uid, path, sizeof(path)) < 0)
		return -1;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) < 0 || offset > sb.st_size || len > sb.st_size - offset) {
		sg_error("webmail: %s: %s", path, fd < 0 ? strerror(errno) : "shorter than its rows");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	unsigned char *buf = sg_malloc((size_t)len + 1);
	size_t got = 0;
	while (got < (size_t)len) {
		ssize_t r = pread(fd, buf + got, (size_t)len - got, (off_t)(offset + (int64_t)got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got < (size_t)len) {
		sg_free(&buf);
		return -1;
	}
	*data_r = buf;
	*len_r = got;
	return 0;
}

void store_webmail_blob_remove(struct store *st, const char *uid)
{
	char path[SG_PATH_MAX];
	if (blob_path(st, uid, path, sizeof(path)) == 0 && unlink(path) < 0 && errno != ENOENT)
		sg_warn("webmail: cannot remove %s: %s (the sweep tries again)", path, strerror(errno));
}

/* Whether a row names uid: 1, 0, -1 error. */
static int uid_known(struct store *st, const char *uid, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st, "SELECT 1 FROM webmail_messages WHERE uid = ?1", &s, error_r) < 0 ||
	    sdb_bind_text(s, 1, uid) < 0)
		return sdb_fail(s, error_r);
	int rc = sdb_step(s);
	if (rc != SDB_ROW && rc != SDB_DONE)
		return sdb_fail(s, error_r);
	sdb_finish(s);
	return rc == SDB_ROW;
}

int store_webmail_sweep(struct store *st, time_t before, size_t *removed_r,
                       const char **error_r)
{
	char dir[SG_PATH_MAX], path[SG_PATH_MAX];
	*removed_r = 0;
	if (blob_dir(st, dir, sizeof(dir)) < 0)
		return 0;
	DIR *d = opendir(dir);
	if (d == NULL)
		return 0; /* nothing stored yet */
	int rc = 0;
	struct dirent *e;
	struct stat sb;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		if (blob_path(st, e->d_name, path, sizeof(path)) < 0 || lstat(path, &sb) < 0 ||
		    !S_ISREG(sb.st_mode) || sb.st_mtime >= before)
			continue; /* not a blob, or one a put may still be committing */
		int known = uid_known(st, e->d_name, error_r);
		if (known < 0)
			rc = -1;
		else if (known == 0 && unlink(path) == 0)
			(*removed_r)++;
	}
	closedir(d);
	return rc;
}

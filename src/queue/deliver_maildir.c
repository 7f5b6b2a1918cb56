/* deliver_maildir.c: maildir:PATH delivery, one Maildir per recipient address. The folder
 * name is the address lower-cased with every byte outside [a-z0-9@._+=-] (and a leading dot)
 * written as %XX, so no address can name "..", a slash or another recipient's folder.
 * Files are written the Maildir way: tmp/, fsync, rename into new/, fsync new/. */
#include "queue/qmgr.h"

#include "core/sg_file.h"
#include "core/sg_str.h"
#include "core/sg_time.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define MAILDIR_NAME_MAX 255 /* one path component */
#define MAILDIR_CHUNK    (64 * 1024)

static atomic_uint maildir_counter;

static bool safe_byte(unsigned char c, size_t pos)
{
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return true;
	return strchr("@_+=-", c) != NULL || (c == '.' && pos > 0);
}

int deliver_maildir_folder(const char *base, const char *addr, char *dst, size_t dstsize,
                           const char **error_r)
{
	static const char hex[] = "0123456789ABCDEF";
	char name[MAILDIR_NAME_MAX + 1];
	size_t o = 0;
	if (addr[0] == '\0') {
		*error_r = "empty recipient address";
		return -1;
	}
	for (size_t i = 0; addr[i] != '\0'; i++) {
		unsigned char c = (unsigned char)addr[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		size_t need = safe_byte(c, i) ? 1 : 3;
		if (o + need > MAILDIR_NAME_MAX) {
			*error_r = "recipient address too long for a Maildir folder name";
			return -1;
		}
		if (need == 1) {
			name[o++] = (char)c;
		} else {
			name[o++] = '%';
			name[o++] = hex[c >> 4];
			name[o++] = hex[c & 15];
		}
	}
	name[o] = '\0';
	if (sg_path_join(dst, dstsize, base, name) < 0) {
		*error_r = "Maildir path too long";
		return -1;
	}
	return 0;
}

static int make_dirs(const char *folder, const char **error_r)
{
	static const char *const subs[] = {"tmp", "new", "cur"};
	char path[SG_PATH_MAX];
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (sg_path_join(path, sizeof(path), folder, subs[i]) < 0 || sg_mkdir_p(path, 0700) < 0) {
			*error_r = "cannot create Maildir folders";
			return -1;
		}
	}
	return 0;
}

/* time.MusecPpidQn.host: unique per host, as Maildir requires. */
static void unique_name(char *dst, size_t size)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	char host[64];
	if (gethostname(host, sizeof(host)) != 0)
		sg_strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	for (char *p = host; *p != '\0'; p++)
		if (*p == '/' || *p == ':' || (unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
			*p = '_';
	unsigned int n = atomic_fetch_add(&maildir_counter, 1u);
	snprintf(dst, size, "%lld.M%ldP%ldQ%u.%s", (long long)tv.tv_sec, (long)tv.tv_usec,
	         (long)getpid(), n, host);
}

/* Maildir files use LF line endings: copy data with CRLF turned into LF. */
static int write_lf(int fd, const char *data, size_t len)
{
	char buf[MAILDIR_CHUNK];
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n')
			continue;
		buf[o++] = data[i];
		if (o == sizeof(buf)) {
			if (sg_write_all(fd, buf, o) < 0)
				return -1;
			o = 0;
		}
	}
	return o > 0 ? sg_write_all(fd, buf, o) : 0;
}

static int write_file(const char *tmp, const char *sender, const char *addr, const char *data,
                      size_t len, const char **error_r)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		*error_r = "cannot create Maildir tmp file";
		return -1;
	}
	char head[2 * SG_ADDR_MAX + 64];
	char s[SG_ADDR_MAX], a[SG_ADDR_MAX];
	sg_printable(s, sizeof(s), sender, sizeof(s) - 1);
	sg_printable(a, sizeof(a), addr, sizeof(a) - 1);
	int n = snprintf(head, sizeof(head), "Return-Path: <%s>\nDelivered-To: %s\n", s, a);
	int rc = -1;
	if (n < 0 || (size_t)n >= sizeof(head) || sg_write_all(fd, head, (size_t)n) < 0 ||
	    write_lf(fd, data, len) < 0)
		*error_r = "cannot write Maildir file";
	else if (sg_fsync(fd) < 0)
		*error_r = "cannot fsync Maildir file";
	else
		rc = 0;
	if (close(fd) < 0 && rc == 0) {
		*error_r = "cannot close Maildir file";
		rc = -1;
	}
	return rc;
}

int deliver_maildir_one(const char *base, const char *sender, const char *addr,
                        const char *data, size_t len, char *path_r, size_t pathsize,
                        const char **error_r)
{
	char folder[SG_PATH_MAX], name[256], tmp[SG_PATH_MAX], dst[SG_PATH_MAX];
	if (deliver_maildir_folder(base, addr, folder, sizeof(folder), error_r) < 0 ||
	    make_dirs(folder, error_r) < 0)
		return -1;
	unique_name(name, sizeof(name));
	if (sg_snprintf(tmp, sizeof(tmp), "%s/tmp/%s", folder, name) < 0 ||
	    sg_snprintf(dst, sizeof(dst), "%s/new/%s", folder, name) < 0) {
		*error_r = "Maildir path too long";
		return -1;
	}
	if (write_file(tmp, sender, addr, data, len, error_r) < 0) {
		unlink(tmp);
		return -1;
	}
	if (sg_rename(tmp, dst) < 0) {
		*error_r = "cannot move Maildir file into new/";
		unlink(tmp);
		return -1;
	}
	if (sg_fsync_dir(dst, false) < 0) {
		/* The file is in new/ but may not survive a crash: report a failure so the
		 * message stays queued; a duplicate is acceptable, a loss is not. */
		*error_r = "cannot fsync Maildir new/";
		return -1;
	}
	if (path_r != NULL)
		sg_strlcpy(path_r, dst, pathsize);
	return 0;
}

static void set_status(struct smtpc_status *s, enum smtpc_class cls, const char *dsn,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void set_status(struct smtpc_status *s, enum smtpc_class cls, const char *dsn,
                       const char *fmt, ...)
{
	s->cls = cls;
	s->from_remote = false;
	sg_strlcpy(s->dsn, dsn, sizeof(s->dsn));
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->reply, sizeof(s->reply), fmt, ap);
	va_end(ap);
}

void deliver_maildir(const char *base, const struct deliver_job *job, struct smtpc_status *st)
{
	for (size_t i = 0; i < job->nrcpt; i++) {
		const char *err = NULL;
		char path[SG_PATH_MAX];
		if (deliver_maildir_folder(base, job->rcpts[i], path, sizeof(path), &err) < 0) {
			/* The address itself can never be stored: retrying will not help. */
			set_status(&st[i], SMTPC_PERM, "5.1.3", "maildir delivery failed: %s", err);
			continue;
		}
		errno = 0;
		if (deliver_maildir_one(base, job->sender, job->rcpts[i], job->data, job->len, path,
		                        sizeof(path), &err) < 0) {
			int e = errno;
			set_status(&st[i], SMTPC_TEMP, "4.3.0", "maildir delivery failed: %s (%s)", err,
			           e != 0 ? strerror(e) : "no system error");
			continue;
		}
		const char *slash = strrchr(path, '/');
		set_status(&st[i], SMTPC_OK, "2.0.0", "delivered to maildir as %.200s",
		           slash != NULL ? slash + 1 : path);
	}
}

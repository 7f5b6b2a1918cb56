/* sg_file.c: durable file operations; see sg_file.h. */
#include "core/sg_file.h"
#include "core/limits.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static ssize_t os_write(int fd, const void *buf, size_t len) { return write(fd, buf, len); }

const struct sg_fileops sg_fileops_default = {
	.write = os_write,
	.fsync = fsync,
	.rename = rename,
};
const struct sg_fileops *sg_fileops = &sg_fileops_default;

int sg_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = sg_fileops->write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int sg_fsync(int fd) { return sg_fileops->fsync(fd); }

int sg_rename(const char *from, const char *to) { return sg_fileops->rename(from, to); }

int sg_fsync_dir(const char *path, bool is_dir)
{
	char tmp[SG_PATH_MAX];
	if (sg_strlcpy(tmp, path, sizeof(tmp)) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	const char *dir = is_dir ? tmp : dirname(tmp);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = sg_fsync(fd);
	int saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

int sg_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         const char **error_r)
{
	char tmp[SG_PATH_MAX];
	if (sg_snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) < 0) {
		*error_r = "path too long";
		return -1;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		*error_r = "cannot create temporary file";
		return -1;
	}
	if (sg_write_all(fd, data, len) < 0 || sg_fsync(fd) < 0) {
		*error_r = "cannot write temporary file";
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		*error_r = "cannot close temporary file";
		goto fail;
	}
	fd = -1;
	if (sg_rename(tmp, path) < 0) {
		*error_r = "cannot rename temporary file into place";
		goto fail;
	}
	if (sg_fsync_dir(path, false) < 0) {
		*error_r = "cannot fsync directory";
		return -1; /* the new file is in place; the caller must not assume durability */
	}
	return 0;
fail:;
	int saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = saved;
	return -1;
}

int sg_file_read_all(const char *path, size_t max, char **data_r, size_t *len_r,
                     const char **error_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*error_r = "cannot open file";
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		*error_r = "not a regular file";
		errno = EINVAL;
		return -1;
	}
	if ((unsigned long long)st.st_size > max) {
		close(fd);
		*error_r = "file too large";
		errno = EFBIG;
		return -1;
	}
	size_t cap = (size_t)st.st_size + 1, len = 0;
	char *data = sg_malloc(cap);
	for (;;) {
		if (len + 1 >= cap) {
			if (cap > max) {
				sg_free(&data);
				close(fd);
				*error_r = "file too large";
				errno = EFBIG;
				return -1;
			}
			cap = sg_size_mul(cap, 2);
			data = sg_realloc(data, cap);
		}
		ssize_t n = read(fd, data + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;
			sg_free(&data);
			close(fd);
			*error_r = "cannot read file";
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	data[len] = '\0';
	*data_r = data;
	if (len_r != NULL)
		*len_r = len;
	return 0;
}

int sg_mkdir_p(const char *path, mode_t mode)
{
	char tmp[SG_PATH_MAX];
	if (sg_strlcpy(tmp, path, sizeof(tmp)) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

bool sg_file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

int sg_path_join(char *dst, size_t dstsize, const char *dir, const char *name)
{
	return sg_snprintf(dst, dstsize, "%s/%s", dir, name) < 0 ? -1 : 0;
}

int sg_path_resolve(char *dst, size_t dstsize, const char *base_dir, const char *p)
{
	if (p[0] == '/' || base_dir == NULL || base_dir[0] == '\0')
		return sg_strlcpy(dst, p, dstsize) >= dstsize ? -1 : 0;
	return sg_path_join(dst, dstsize, base_dir, p);
}

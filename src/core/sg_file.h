/* sg_file.h: durable file operations. Every state change on disk goes through
 * write → fsync → rename → fsync(dir), so a crash leaves the old or the new state,
 * never a torn one. The I/O primitives are a table that tests replace to inject failures. */
#ifndef SG_FILE_H
#define SG_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct sg_fileops {
	ssize_t (*write)(int fd, const void *buf, size_t len);
	int (*fsync)(int fd);
	int (*rename)(const char *from, const char *to);
};
/* The operations in force; tests swap in failing ones. */
extern const struct sg_fileops *sg_fileops;
extern const struct sg_fileops sg_fileops_default;

/* Writes all of buf to fd (retrying on EINTR and short writes); -1 with errno set. */
int sg_write_all(int fd, const void *buf, size_t len);
int sg_fsync(int fd);
int sg_rename(const char *from, const char *to);
/* fsyncs the directory that holds path (or the directory path itself if is_dir). */
int sg_fsync_dir(const char *path, bool is_dir);
/* Atomically replaces path with data: tmp file in the same directory, fsync, rename,
 * fsync of the directory. Returns 0, or -1 with *error_r. */
int sg_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         const char **error_r);
/* Reads a whole file of at most max bytes (NUL-terminated); -1 with *error_r and errno. */
int sg_file_read_all(const char *path, size_t max, char **data_r, size_t *len_r,
                     const char **error_r);
/* mkdir -p with mode for the created components. */
int sg_mkdir_p(const char *path, mode_t mode);
bool sg_file_exists(const char *path);
/* Joins dir and name into dst; -1 if it does not fit. */
int sg_path_join(char *dst, size_t dstsize, const char *dir, const char *name);
/* Resolves p relative to base_dir unless p is absolute. */
int sg_path_resolve(char *dst, size_t dstsize, const char *base_dir, const char *p);

#endif

/* spool_lock.c: the per-message delivery lock, flock(LOCK_EX) on data/ID. qmgr holds it
 * while it delivers; `queue delete` takes it too, so a message is never deleted mid-delivery. */
#include "queue/spool_private.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

int spool_lock(struct spool *sp, const char *id, bool nonblock, const char **error_r)
{
	char path[SG_PATH_MAX];
	if (spool_data_path(sp, id, path, sizeof(path)) < 0) {
		*error_r = spool_errorf(false, "'%.40s' is not a queue id", id);
		return -1;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		*error_r = errno == ENOENT ? spool_errorf(false, "no message %s in the queue", id)
		                           : spool_errorf(true, "cannot open %s", path);
		return -1;
	}
	int rc;
	do
		rc = flock(fd, LOCK_EX | (nonblock ? LOCK_NB : 0));
	while (rc < 0 && errno == EINTR);
	if (rc < 0) {
		int saved = errno;
		*error_r = saved == EWOULDBLOCK ? spool_errorf(false, "message %s is locked", id)
		                                : spool_errorf(true, "cannot lock %s", path);
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

void spool_unlock(int *fd)
{
	if (*fd < 0)
		return;
	close(*fd); /* releases the flock */
	*fd = -1;
}

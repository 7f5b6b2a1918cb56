/* spool_trigger.c: requests from the CLI to qmgr as files in trigger/; qmgr polls it. The
 * file's existence is the request, and unlinking it takes the request exactly once. */
#include "queue/spool_private.h"
#include "core/sg_file.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#define TRIGGER_FLUSH "flush"

int spool_trigger_flush(struct spool *sp, const char **error_r)
{
	char path[SG_PATH_MAX];
	int fd = -1;
	if (spool_subpath(sp, path, sizeof(path), SPOOL_TRIGGER, TRIGGER_FLUSH) < 0 ||
	    (fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0660)) < 0) {
		*error_r = errno == ENOENT
		               ? spool_errorf(false, "%s/" SPOOL_TRIGGER " does not exist; has the "
		                                     "gateway run on this spool yet?", spool_dir(sp))
		               : spool_errorf(true, "cannot write %s", path);
		return -1;
	}
	close(fd);
	return 0;
}

bool spool_take_flush(struct spool *sp)
{
	char path[SG_PATH_MAX];
	return spool_subpath(sp, path, sizeof(path), SPOOL_TRIGGER, TRIGGER_FLUSH) == 0 &&
	       unlink(path) == 0;
}

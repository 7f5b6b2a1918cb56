/* spool_private.h: what the spool_*.c files share and nobody else sees: the spool handle,
 * path building, the per-thread error buffer and the durable envelope write. */
#ifndef SG_SPOOL_PRIVATE_H
#define SG_SPOOL_PRIVATE_H

#include "queue/spool.h"

struct spool {
	char *dir;
	spool_active_hook active_hook; /* set by the queue manager: see spool_set_active_hook */
	void *active_ctx;
};

#define SPOOL_TMP "tmp"
#define SPOOL_DATA "data"
#define SPOOL_INCOMING_DIR "incoming"
#define SPOOL_ACTIVE_DIR "active"
#define SPOOL_TRIGGER "trigger"

/* Formats into a per-thread buffer (with ": strerror(errno)" if with_errno) and returns it;
 * errno is preserved. */
const char *spool_errorf(bool with_errno, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* dir/sub or dir/sub/name into dst; -1 (ENAMETOOLONG) if it does not fit. */
int spool_subpath(const struct spool *sp, char *dst, size_t dstsize, const char *sub,
                  const char *name);
/* The subdirectory of a queue. */
const char *spool_queue_dir(enum spool_queue q);
/* Writes env durably into sub/ID: tmp file, fsync, rename, fsync(sub). On failure *renamed_r
 * says whether the new file already replaced the old one (only the directory fsync failed). */
int spool_write_envelope(struct spool *sp, const struct spool_envelope *env, const char *sub,
                         bool *renamed_r, const char **error_r);

#endif

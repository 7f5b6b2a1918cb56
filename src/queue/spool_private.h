/* spool_private.h: what the spool_*.c files share and nobody else sees: the spool handle,
 * path building, the per-thread error buffer, envelope writes and the spool log. */
#ifndef SG_SPOOL_PRIVATE_H
#define SG_SPOOL_PRIVATE_H

#include "queue/spool.h"

#include <stdint.h>

struct spool_log;

struct spool {
	char *dir;
	struct spool_log *log; /* this process's log (spool_log.c); its file opens on first use */
	size_t log_rotate_bytes; /* a log this large is closed and retired (tests lower it) */
	spool_active_hook active_hook; /* set by the queue manager: see spool_set_active_hook */
	void *active_ctx;
};

#define SPOOL_LOG_ROTATE_BYTES ((size_t)8 * 1024 * 1024)

#define SPOOL_TMP "tmp"
#define SPOOL_DATA "data"
#define SPOOL_INCOMING_DIR "incoming"
#define SPOOL_ACTIVE_DIR "active"
#define SPOOL_TRIGGER "trigger"
#define SPOOL_LOG_DIR "log"
#define SPOOL_LOG_SUFFIX ".log"
#define SPOOL_LOG_LOCK ".recover"
#define SPOOL_LOG_HEADER "SGL 1\n"

/* Formats into a per-thread buffer (with ": strerror(errno)" if with_errno) and returns it;
 * errno is preserved. */
const char *spool_errorf(bool with_errno, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* dir/sub or dir/sub/name into dst; -1 (ENAMETOOLONG) if it does not fit. */
int spool_subpath(const struct spool *sp, char *dst, size_t dstsize, const char *sub,
                  const char *name);
/* The subdirectory of a queue. */
const char *spool_queue_dir(enum spool_queue q);
/* Writes env into sub/ID: tmp file, rename; durable adds fsync of the file before the rename
 * and of sub/ after it. On failure *renamed_r says whether the new file already replaced the
 * old one (only the directory fsync failed). */
int spool_write_envelope(struct spool *sp, const struct spool_envelope *env, const char *sub,
                         bool durable, bool *renamed_r, const char **error_r);

/* ---- the spool log (spool_log.c) ---- */
struct spool_log *spool_log_new(void);
void spool_log_free(struct spool_log **lg);
/* How often a committing session was woken while it waited (each is a context switch): the
 * figure that says whether a batch wakes only its own sessions (test_spool_crash). */
uint64_t spool_log_waits(struct spool *sp);
/* A commit is on its way (its data is being synced): a batch leader waits for it a little. */
void spool_log_announce(struct spool *sp);
/* An announced commit failed before it reached spool_log_commit. */
void spool_log_withdraw(struct spool *sp);
/* Appends env (destined for queue q) and returns once the batch holding it is on disk (0) or
 * failed (-1). announced: the caller called spool_log_announce; data_dir: data/ must be
 * fsynced in the same batch (a new message). */
int spool_log_commit(struct spool *sp, const struct spool_envelope *env, enum spool_queue q,
                     bool announced, bool data_dir, const char **error_r);
/* The checksum of a record's payload (FNV-1a, 64 bits): it finds a torn tail, not an attack. */
uint64_t spool_log_hash(const char *p, size_t len);

#endif

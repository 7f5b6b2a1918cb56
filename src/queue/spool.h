/* spool.h: the durable queue. A message is a data file (immutable, the bytes as received
 * with our Received header first) and an envelope file (sender, recipients and their
 * per-recipient state). The data file is fsynced once; the envelope is committed by a record
 * in the writing process's append-only log (spool/log/, one fsync per batch of messages
 * across all sessions: group commit), and its file in incoming/ or active/ is written
 * without fsync: recovery rebuilds it from the logs after a crash (spool_recover).
 * docs/architecture.md argues the crash consistency step by step.
 *
 * Layout under the spool directory:
 *   tmp/       files being written (removed at start if stale)
 *   data/ID    message data
 *   incoming/ID  envelope of a message qmgr has not seen yet (smtpd → qmgr)
 *   active/ID    envelope owned by qmgr (pending, deferred, partly delivered)
 *   trigger/   requests to qmgr from the CLI (flush)
 *   log/       append-only logs of envelope records, one per writing process (flock'd)
 * While qmgr works on a message it holds flock(LOCK_EX) on data/ID; `queue delete` takes
 * the same lock, so a message is never deleted under a delivery in progress.
 * Files are made group-readable and -writable (0660, directories 0770): when smtpd has an
 * account of its own the spool's group is its group and the umask 0007 (core/accounts.h);
 * otherwise the umask and the 0700 spool directory keep them to gateway.user. */
#ifndef SG_SPOOL_H
#define SG_SPOOL_H

#include "core/limits.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct sg_buf;

enum spool_rcpt_state {
	SPOOL_RCPT_PENDING,  /* not yet delivered; attempts > 0 means deferred */
	SPOOL_RCPT_SENT,     /* delivered: never sent again */
	SPOOL_RCPT_BOUNCED,  /* permanently failed, DSN queued (or none for the null sender) */
	SPOOL_RCPT_HELD,     /* moved to the store until the partner registers: done here */
};

struct spool_rcpt {
	char *addr;          /* without angle brackets; may be UTF-8 when smtputf8 */
	char *orcpt;         /* ORCPT as given, or NULL */
	enum spool_rcpt_state state;
	unsigned int attempts;
	time_t next_attempt; /* 0 = as soon as possible */
	char *relay;         /* last next hop, or NULL */
	char *dsn_status;    /* last enhanced status ("4.4.1"), or NULL */
	char *last_reply;    /* last reply or reason, sanitised, or NULL */
};

#define SPOOL_F_BOUNCE   0x1u /* this message is a DSN or notice we wrote: never bounce it */
#define SPOOL_F_RELEASED 0x2u /* held until its recipient registered: must be encrypted */
#define SPOOL_F_PORTAL   0x4u /* written on the portal by the sender, who logged in there */
#define SPOOL_F_ARCHIVE  0x8u /* an archive copy (archive.h): to archive.route, untouched */
#define SPOOL_F_UNSCANNED 0x10u /* released from the virus quarantine by an admin: not scanned again */

struct spool_envelope {
	char id[SG_QUEUE_ID_MAX];
	time_t arrival;
	char *sender;        /* "" for the null sender <> */
	char *client_addr;   /* "127.0.0.1", or "local" for mail sealgate wrote */
	char *client_helo;
	bool internal_client;/* client was in smtp.internal_networks */
	bool smtputf8;
	bool body_8bit;
	bool tls;            /* received over TLS */
	unsigned int flags;  /* SPOOL_F_* */
	size_t size;         /* bytes of the data file */
	char *message_id;    /* Message-ID header, filled by qmgr when known, or NULL */
	unsigned int seq;    /* version: 1 when received, +1 per spool_update; recovery keeps the
	                      * newest of the file and the log records */
	size_t nrcpt;
	struct spool_rcpt *rcpts;
};

void spool_envelope_init(struct spool_envelope *env);
void spool_envelope_free(struct spool_envelope *env);
/* Appends a recipient (address copied) in state PENDING; returns it. */
struct spool_rcpt *spool_envelope_add_rcpt(struct spool_envelope *env, const char *addr,
                                           const char *orcpt);
/* Counts recipients still PENDING. */
size_t spool_envelope_pending(const struct spool_envelope *env);

/* Envelope records: a line-oriented text format with escaped values, versioned.
 * The parser treats its input as hostile (it is fuzzed). Unknown keys are skipped (forward
 * compatible within a version); format fails if a value exceeds SG_SPOOL_FIELD_MAX, so
 * whatever it writes parses back equal (spool_record.c describes the format). */
int spool_record_format(const struct spool_envelope *env, struct sg_buf *out);
int spool_record_parse(const char *data, size_t len, struct spool_envelope *env_r,
                       const char **error_r);

/* Error strings of the functions below that take a spool live in a per-thread buffer:
 * valid until the next failing spool call of the same thread. */

/* A queue id: 1..SG_QUEUE_ID_MAX-1 characters of [0-9A-Za-z]. Ids from the CLI or a
 * directory listing are checked with this before they become part of a path. */
bool spool_id_valid(const char *id);
/* A new id: 13 hex digits of the wall clock in microseconds and 4 random hex digits, so
 * ids sort by arrival. Uniqueness is the writer's job (O_EXCL in tmp/, retried). */
void spool_id_generate(char dst[SG_QUEUE_ID_MAX]);
/* "pending", "deferred" (pending with attempts > 0), "sent", "bounced", "held". */
const char *spool_rcpt_state_name(const struct spool_rcpt *rcpt);

/* Files in tmp/ and orphan data files (no envelope) untouched for this long are removed. */
#define SPOOL_STALE_SECS 3600

struct spool;
/* Opens (and creates the subdirectories of) a spool; recovers from the logs that no process
 * writes any more (spool_recover), then removes stale tmp/ files. */
struct spool *spool_open(const char *dir, const char **error_r);
/* Opens an existing spool without creating or cleaning anything (the CLI, read-only use). */
struct spool *spool_open_existing(const char *dir, const char **error_r);
/* Removes files in tmp/ and data files without an envelope whose mtime is older than
 * now - SPOOL_STALE_SECS (spool_open runs it; tick may run it periodically). Returns the
 * number removed, or -1 with *error_r. */
int spool_cleanup(struct spool *sp, time_t now, const char **error_r);
void spool_close(struct spool **sp);
/* Replays every log no live process holds: each message whose data exists gets the newest of
 * its envelope file and its logged envelopes, durably; then the log is removed. Envelopes
 * whose data is gone (a removal cut short) are removed. Serialised by a lock in log/. Returns
 * the number of envelopes rewritten, or -1. */
int spool_recover(struct spool *sp, const char **error_r);
const char *spool_dir(const struct spool *sp);

/* Receiving: begin → write* → commit (durable on success) or abort. */
struct spool_writer;
struct spool_writer *spool_writer_begin(struct spool *sp, const char **error_r);
const char *spool_writer_id(const struct spool_writer *w);
size_t spool_writer_size(const struct spool_writer *w);
int spool_writer_write(struct spool_writer *w, const void *data, size_t len,
                       const char **error_r);
/* Fsyncs the data, writes env (its id, size and seq are filled in) into incoming/ and commits
 * it through the log (waiting for the batch's fsync). Only after this returns 0 may the 250
 * be sent. Frees the writer either way. Thread-safe across writers of one spool. */
int spool_writer_commit(struct spool_writer **w, struct spool_envelope *env,
                        const char **error_r);
void spool_writer_abort(struct spool_writer **w);
/* Convenience for mail sealgate writes itself (DSNs): one buffer, committed. In the queue
 * manager (a hook set) it goes straight into active/ and the hook takes it: the incoming/ ->
 * active/ step, two directory fsyncs in the manager's one scheduling thread, is for mail that
 * another process queued. Elsewhere (the portal) it goes into incoming/. */
int spool_inject(struct spool *sp, const void *data, size_t len, struct spool_envelope *env,
                 const char **error_r);
/* The queue manager's: called with the id of each message spool_inject wrote into active/
 * (from the injecting thread). A crash before the call loses nothing: the manager takes
 * active/ at start and rescans it. NULL: spool_inject uses incoming/ again. */
typedef void (*spool_active_hook)(void *ctx, const char *id);
void spool_set_active_hook(struct spool *sp, spool_active_hook hook, void *ctx);
/* Queues a message sealgate wrote (a DSN or a notice to a person) for one recipient: envelope
 * sender <>, SPOOL_F_BOUNCE (never bounced itself); the new queue id goes to id_r. */
int spool_notice_send(struct spool *sp, const char *hostname, const char *rcpt, bool smtputf8,
                      const char *data, size_t len, char *id_r, size_t idsize,
                      const char **error_r);

enum spool_queue { SPOOL_INCOMING, SPOOL_ACTIVE };
/* Lists the ids in a queue (sorted, oldest first); caller frees with spool_ids_free. */
int spool_list(struct spool *sp, enum spool_queue q, char ***ids_r, size_t *n_r,
               const char **error_r);
void spool_ids_free(char ***ids, size_t n);
/* Loads an envelope from active/ or incoming/; sets *queue_r if not NULL. */
int spool_load(struct spool *sp, const char *id, struct spool_envelope *env_r,
               enum spool_queue *queue_r, const char **error_r);
/* Moves an envelope from incoming/ to active/ (qmgr has taken it); no fsync: a crash may put
 * it back into incoming/, which only means qmgr takes it again. */
int spool_activate(struct spool *sp, const char *id, const char **error_r);
/* Records env's new state: seq+1, the file in active/ rewritten atomically, the envelope
 * committed through the log (returns after the batch's fsync). */
int spool_update(struct spool *sp, struct spool_envelope *env, const char **error_r);
/* Removes data then envelope, durably (`queue delete`): a crash never brings it back. */
int spool_remove(struct spool *sp, const char *id, const char **error_r);
/* The same without any fsync, for a message with nothing left to do: a crash may bring it
 * back, and it is delivered again (at-least-once). */
int spool_remove_delivered(struct spool *sp, const char *id, const char **error_r);
/* Path of the data file. */
int spool_data_path(const struct spool *sp, const char *id, char *dst, size_t dstsize);
/* Takes flock(LOCK_EX) on the data file; nonblock: -1 with errno EWOULDBLOCK if busy.
 * Returns the locked fd (open for reading) or -1. */
int spool_lock(struct spool *sp, const char *id, bool nonblock, const char **error_r);
void spool_unlock(int *fd);

/* Triggers: the CLI asks qmgr to retry every deferred recipient now. */
int spool_trigger_flush(struct spool *sp, const char **error_r);
/* qmgr: true (and clears it) if a flush was requested. */
bool spool_take_flush(struct spool *sp);

#endif

/* store_webmail.h: webmail messages kept for partners (store_webmail.c, the schema entry
 * "webmail"; the sealed parts in files beside the database, store_webmail_blob.c: how they are
 * kept is the store's business). The store sees only sealed blobs: each message has a random
 * key wrapped by the master key, its metadata (subject, header fields, the part list) and each
 * part sealed with that key by the caller (webmail/webmail.h does the sealing). In clear are only what the
 * inbox, retention and quota need without opening anything: the partner, the envelope
 * sender, times, sizes, the number of attachments and the read flag. */
#ifndef SG_STORE_WEBMAIL_H
#define SG_STORE_WEBMAIL_H

#include "store/store.h"

enum store_webmail_folder {
	STORE_WEBMAIL_INBOX, /* mail sealgate received for the partner */
	STORE_WEBMAIL_SENT,  /* what the partner wrote on the portal */
};

#define STORE_WEBMAIL_UID_MAX 33    /* a message's random id: 32 hex digits and the NUL */
#define STORE_WEBMAIL_DEDUP_MAX 320 /* what makes a put idempotent (queue id + recipient) */
#define STORE_WEBMAIL_PAGE_MAX 500  /* rows one list call returns at most */
#define STORE_WEBMAIL_FILE_MIN (64 * 1024) /* sealed parts from this size on go into a file */

struct store_webmail_msg {
	int64_t id;
	int64_t user_id;
	char address[SG_ADDR_MAX];         /* the partner's (read only) */
	char uid[STORE_WEBMAIL_UID_MAX];   /* in URLs and in the sealing's associated data */
	enum store_webmail_folder folder;
	char dedup[STORE_WEBMAIL_DEDUP_MAX];
	char sender[SG_ADDR_MAX];          /* envelope sender ("" for <>); the partner for sent */
	time_t created;
	int64_t size;                      /* the message as received, bytes */
	int64_t stored;                    /* bytes it takes in the store (what the quota counts) */
	int attachments;
	time_t read_at;                    /* 0: unread */
	bool notified;                     /* the partner's notification is queued */
	unsigned char *wrapped_key;        /* the message key sealed by the master key */
	size_t wrapped_key_len;
	unsigned char *meta;               /* sealed metadata (webmail.h's format) */
	size_t meta_len;
};
void store_webmail_msg_clear(struct store_webmail_msg *m);
void store_webmail_list_free(struct store_webmail_msg **list, size_t n);

/* One sealed part, by its index (0, 1, ...). */
struct store_webmail_part {
	int64_t size; /* clear bytes */
	const unsigned char *sealed;
	size_t sealed_len;
};

/* Stores m (user_id, uid, folder, dedup, sender, created, size, attachments, wrapped_key,
 * meta; m->stored is computed) with parts 0..nparts-1, all in one transaction. A message of
 * the same user with the same dedup already stored is kept as it is: *existed_r is set and
 * *id_r is its id. */
int store_webmail_put(struct store *st, const struct store_webmail_msg *m,
                      const struct store_webmail_part *parts, size_t nparts, int64_t *id_r,
                      bool *existed_r, const char **error_r);
/* The message of user_id with dedup: 1 found (*m_r, clear it), 0 none, -1 error. */
int store_webmail_find_dedup(struct store *st, int64_t user_id, const char *dedup,
                             struct store_webmail_msg *m_r, const char **error_r);
/* Its notification is queued (a retried put then has nothing left to do). Not synced to disk
 * (only a power cut can lose it: one more notification then). */
int store_webmail_mark_notified(struct store *st, int64_t id, const char **error_r);

/* One page of address's folder, newest first (offset rows skipped, at most limit up to
 * STORE_WEBMAIL_PAGE_MAX), with the wrapped key and metadata. */
int store_webmail_list(struct store *st, const char *address, enum store_webmail_folder folder,
                       size_t offset, size_t limit, struct store_webmail_msg **list_r,
                       size_t *n_r, const char **error_r);
/* How many messages address has in folder, and how many of them are unread. */
int store_webmail_count(struct store *st, const char *address, enum store_webmail_folder folder,
                        size_t *total_r, size_t *unread_r, const char **error_r);
/* The message uid when it belongs to address (any folder): 1 found, 0 not (also when it is
 * another partner's: the caller answers 404 either way), -1 error. */
int store_webmail_get(struct store *st, const char *address, const char *uid,
                      struct store_webmail_msg *m_r, const char **error_r);
/* Part idx of message uid of address (caller frees *sealed_r): 1, 0 none, -1 error. */
int store_webmail_part_get(struct store *st, const char *address, const char *uid, int idx,
                           unsigned char **sealed_r, size_t *len_r, const char **error_r);
/* Marks uid of address read at now (kept when already read): 1 done, 0 no such message. */
int store_webmail_mark_read(struct store *st, const char *address, const char *uid, time_t now,
                            const char **error_r);
/* Deletes uid of address with its parts: 1 deleted, 0 no such message. */
int store_webmail_delete(struct store *st, const char *address, const char *uid,
                         const char **error_r);
/* Bytes and messages address keeps (both folders): what webmail.quota_mb is checked against. */
int store_webmail_usage(struct store *st, const char *address, int64_t *bytes_r,
                        size_t *count_r, const char **error_r);

/* ---- for retention, quota and the admin CLI (no blobs are read) ---- */
/* Messages created before `before`, oldest first (at most STORE_WEBMAIL_PAGE_MAX). */
int store_webmail_older(struct store *st, time_t before, struct store_webmail_msg **list_r,
                        size_t *n_r, const char **error_r);
/* Read messages of address, oldest first (the ones quota drops first), at most limit. */
int store_webmail_oldest_read(struct store *st, const char *address, size_t limit,
                              struct store_webmail_msg **list_r, size_t *n_r,
                              const char **error_r);
/* Deletes message id with its parts. */
int store_webmail_delete_id(struct store *st, int64_t id, const char **error_r);
/* Removes the sealed parts no message names any more that were written before `before` (left
 * by a crash between writing them and committing their message, or between deleting a message
 * and its parts): *removed_r of them. Give puts in flight time: an hour is plenty. */
int store_webmail_sweep(struct store *st, time_t before, size_t *removed_r,
                        const char **error_r);

/* One partner's webmail, for `sealgate webmail list`. */
struct store_webmail_usage {
	char address[SG_ADDR_MAX];
	size_t messages, unread;
	int64_t bytes;
	time_t oldest, newest;
};
/* Every partner with webmail kept (address NULL) or just address, by address. */
int store_webmail_partners(struct store *st, const char *address,
                           struct store_webmail_usage **list_r, size_t *n_r,
                           const char **error_r);

#endif

/* webmail.h: the webmail channel's messages, kept sealed in the store for a partner.
 * A message is taken apart once, when it is stored (GMime): its text and HTML bodies (as
 * UTF-8) and every other part as an attachment (the original bytes, with a file name that is
 * safe to save, its content type, Content-ID and size). Each message gets a key of its own,
 * wrapped by the master key and bound to the partner and the message's uid; the metadata
 * (subject, header fields, part list) and every part are sealed with it, each bound to
 * "webmail:<partner>:<uid>:<what>". The portal reads through here; nothing shows plaintext
 * to the store. Portal paths: WEBMAIL_PATH (the inbox), WEBMAIL_PATH "/<uid>" (a message). */
#ifndef SG_WEBMAIL_H
#define SG_WEBMAIL_H

#include "store/store_webmail.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct keystore;

#define WEBMAIL_PATH "/webmail"
#define WEBMAIL_PARTS_MAX 256      /* parts kept of one message; more are refused (5.3.4) */
#define WEBMAIL_NAME_MAX 256       /* a part's file name, bytes with the NUL */
#define WEBMAIL_TYPE_MAX 128       /* "type/subtype", lower case */
#define WEBMAIL_FIELD_MAX 2048     /* a header field's text (UTF-8), cut */

enum webmail_part_kind {
	WEBMAIL_PART_TEXT,       /* the text/plain body (UTF-8) */
	WEBMAIL_PART_HTML,       /* the text/html body (UTF-8, as sent: sanitise before showing) */
	WEBMAIL_PART_ATTACHMENT, /* anything else, the original bytes */
	WEBMAIL_PART_INLINE,     /* an attachment with a Content-ID that the HTML body may use */
};

struct webmail_part_info {
	enum webmail_part_kind kind;
	char filename[WEBMAIL_NAME_MAX];     /* safe: no path, no controls; "" for bodies */
	char content_type[WEBMAIL_TYPE_MAX]; /* as declared ("application/octet-stream" if none) */
	char content_id[WEBMAIL_NAME_MAX];   /* without <>, "" if none */
	int64_t size;                        /* bytes of the part as stored */
};

/* What the inbox shows of a message, and for webmail_open its header fields and parts. */
struct webmail_message {
	struct store_webmail_msg row;        /* uid, sender, created, size, attachments, read_at */
	char subject[WEBMAIL_FIELD_MAX];     /* decoded, UTF-8 without controls */
	char from[WEBMAIL_FIELD_MAX];        /* the From field as a reader sees it */
	char to[WEBMAIL_FIELD_MAX];
	char cc[WEBMAIL_FIELD_MAX];
	char date[WEBMAIL_FIELD_MAX];        /* the Date field as sent */
	char message_id[WEBMAIL_FIELD_MAX];  /* without <>: what a reply's In-Reply-To names */
	struct webmail_part_info *parts;     /* webmail_open only */
	size_t nparts;
};
void webmail_message_free(struct webmail_message *m);
void webmail_list_free(struct webmail_message **list, size_t n);

/* What webmail_put keeps. */
struct webmail_put {
	int64_t user_id;                 /* the partner (store_user_ensure) */
	const char *address;             /* the partner's address as stored */
	enum store_webmail_folder folder;
	const char *dedup;               /* e.g. "<queue id>:<recipient>": a retry finds its row */
	const char *sender;              /* envelope sender, "" for <> */
	const char *data;                /* the message (CRLF or LF) */
	size_t len;
	time_t now;
	struct store_webmail_msg *stored_r; /* or NULL: the new row as stored (no blobs, `stored`
	                                     * left 0), so that the caller need not read it back */
};
/* Parses, seals and stores the message in one transaction: 0 with *id_r (and *existed_r when
 * a message with this dedup was stored before, which is then left as it was, and *stored_r
 * is not filled), -1 with *error_r (nothing stored). *perm_r is set when retrying cannot help
 * (too many parts). */
int webmail_put(struct store *st, const struct keystore *ks, const struct webmail_put *p,
                int64_t *id_r, bool *existed_r, bool *perm_r, const char **error_r);

/* One page of address's folder, newest first, with subject and From opened (no parts). */
int webmail_list(struct store *st, const struct keystore *ks, const char *address,
                 enum store_webmail_folder folder, size_t offset, size_t limit,
                 struct webmail_message **list_r, size_t *n_r, const char **error_r);
/* Message uid of address with its header fields and part list: 1, 0 not found (another
 * partner's uid too), -1 error (a blob that does not open is an error, logged). */
int webmail_open(struct store *st, const struct keystore *ks, const char *address,
                 const char *uid, struct webmail_message *m_r, const char **error_r);
/* The bytes of part idx of message uid of address (*data_r: free with sg_free_secret, *len_r
 * bytes, plus a NUL after them for the text bodies' sake): 1, 0 no such part, -1 error. */
int webmail_part(struct store *st, const struct keystore *ks, const char *address,
                 const char *uid, int idx, unsigned char **data_r, size_t *len_r,
                 const char **error_r);

/* ---- webmail_retention.c: the tick's retention and the admin's purge ---- */
/* Deletes every message older than days (0: keep forever), with an audit entry per partner
 * ("webmail-expired"); *count_r: messages deleted. */
int webmail_retention_run(struct store *st, int days, time_t now, size_t *count_r,
                          const char **error_r);
/* Removes the files of sealed parts that an interrupted put or delete left behind (no message
 * names them; an hour old): *count_r of them. Reads the whole directory: hourly is enough. */
int webmail_sweep(struct store *st, time_t now, size_t *count_r, const char **error_r);
/* Deletes every message of address ("webmail-purged" audit entry, who: actor). */
int webmail_purge_address(struct store *st, const char *address, const char *actor,
                          time_t now, size_t *count_r, const char **error_r);

/* Makes room for need more bytes in address's quota (quota_bytes, 0 = none) by dropping its
 * oldest read messages: 0 with *dropped_r (messages dropped, each audited "webmail-quota"),
 * or 1 when even dropping every read message would not make room (nothing is dropped then:
 * unread mail is never dropped). */
int webmail_quota_make_room(struct store *st, const char *address, int64_t quota_bytes,
                            int64_t need, time_t now, size_t *dropped_r, const char **error_r);

#endif

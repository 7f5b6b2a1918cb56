/* archive.h: the journal/archive copy (archive.route, archive.what, archive.address): a copy of
 * each outbound message as the internal sender wrote it (before encryption) and of each
 * inbound message as the internal recipient gets it (after decryption), with its envelope in
 * X-Sealgate-Envelope-* fields, queued as a message of its own (SPOOL_F_ARCHIVE) that qmgr
 * delivers, untouched, to archive.route with the retries of any mail. */
#ifndef SG_ARCHIVE_H
#define SG_ARCHIVE_H

#include "core/limits.h"

#include <stdbool.h>
#include <stddef.h>

struct settings;
struct policy;
struct spool;

struct archive_cfg {
	bool outbound, inbound;       /* archive.what */
	const char *route;            /* archive.route */
	char address[SG_ADDR_MAX];    /* the archive's mailbox: an internal address */
	const char *broken;           /* why the settings were refused (nothing is archived), or NULL */
};

/* Reads the settings; off (both false) when archive.what = none. An archive.address outside
 * gateway.internal_domains, or a bad archive.route, is refused: logged, broken set and -1 (no
 * copy may go to an external address; the mail that needs one waits). */
int archive_config(const struct settings *s, const struct policy *p, struct archive_cfg *a_r);

struct archive_msg {
	const char *queue_id;       /* of the original */
	const char *sender;
	const char *const *rcpts;
	size_t nrcpt;
	const char *direction;      /* "outbound" | "inbound" */
	const char *data;
	size_t len;
	bool drop_foreign;          /* remove X-Sealgate-* fields that came with the data */
};
/* Queues the copy; its queue id in id_r (size SG_QUEUE_ID_MAX). 0, or -1 with *error_r. */
int archive_copy_queue(const struct archive_cfg *a, struct spool *sp, const struct archive_msg *m,
                       char *id_r, const char **error_r);

#endif

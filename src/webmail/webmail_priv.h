/* webmail_priv.h: private to webmail/: the message taken apart, and the metadata record. */
#ifndef SG_WEBMAIL_PRIV_H
#define SG_WEBMAIL_PRIV_H

#include "webmail/webmail.h"
#include "core/sg_buf.h"

/* One part of a parsed message: what the part list says, and its bytes. */
struct webmail_parsed_part {
	struct webmail_part_info info;
	unsigned char *data;
	size_t len;
	void *decoded; /* the framed GByteArray an attachment was decoded into (data is its bytes),
	                * or NULL (data is ours): sealed where it was decoded, not copied */
};

struct webmail_parsed {
	struct webmail_message head; /* subject, from, to, cc, date, message_id (no row, no parts) */
	struct webmail_parsed_part *parts;
	size_t nparts;
	int attachments;             /* parts that are not a body */
};

/* webmail_parse.c: takes data apart (GMime): 0, or -1 with *error_r (*perm_r: for good). */
int webmail_parse(const char *data, size_t len, struct webmail_parsed *p_r, bool *perm_r,
                  const char **error_r);
void webmail_parsed_free(struct webmail_parsed *p);

/* webmail_decode.c: the decoded bytes of a part's content (GMimeDataWrapper), in a GByteArray
 * the caller owns (g_byte_array_free), framed for sealing in place: KEYSTORE_MSGKEY_HEAD spare
 * bytes, the bytes, KEYSTORE_MSGKEY_TAIL spare bytes (zero: the bytes end with a NUL). */
struct _GMimeDataWrapper;
struct _GByteArray;
struct _GByteArray *webmail_content_bytes(struct _GMimeDataWrapper *content);
/* Frames raw that way (moves it once: for the rare bytes not decoded by webmail_content_bytes). */
struct _GByteArray *webmail_frame_bytes(struct _GByteArray *raw);
/* The bytes in such a frame, and their length. */
unsigned char *webmail_framed_data(struct _GByteArray *framed, size_t *len_r);

/* webmail_meta.c: the metadata record (header fields and part list) as bytes and back. */
int webmail_meta_encode(const struct webmail_message *head, const struct webmail_parsed_part *parts,
                        size_t nparts, struct sg_buf *out);
/* Fills m's fields and, when with_parts, m->parts; -1 on a malformed record. */
int webmail_meta_decode(const unsigned char *data, size_t len, bool with_parts,
                        struct webmail_message *m);

#endif

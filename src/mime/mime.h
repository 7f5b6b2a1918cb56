/* mime.h: the GMime wrapper. The queue manager parses each message once, here, to learn the
 * headers that logging and policy need; a message GMime cannot read is still delivered unchanged.
 * Plain helpers that need no parser (header block, 8-bit scan) live here too. */
#ifndef SG_MIME_H
#define SG_MIME_H

#include <stdbool.h>
#include <stddef.h>

struct mime_info {
	bool parsed;        /* GMime read a message (headers below may still be NULL) */
	char *message_id;   /* without angle brackets, printable ASCII, or NULL */
	char *from;         /* first From: address (addr-spec), or NULL */
	char *subject;      /* decoded Subject (UTF-8), or NULL */
	bool is_multipart;  /* top-level Content-Type is multipart/ */
	char *content_type; /* "type/subtype" of the top-level entity, lower-case, or NULL */
};

/* Initialises GMime once per process (thread-safe); every other mime_* call does it too. */
void mime_init(void);
/* Parses len bytes of a message. Returns 0 with *info_r filled, or -1 with *error_r when
 * the bytes are not a message at all (info_r is then empty but valid to free). */
int mime_info_parse(const char *data, size_t len, struct mime_info *info_r,
                    const char **error_r);
void mime_info_free(struct mime_info *info);

/* Length of the header block at data: up to and including the empty line that ends it, or
 * all of data if there is none. Never more than max: a longer block returns max. */
size_t mime_header_block_len(const char *data, size_t len, size_t max);
/* True if any byte of data is >= 0x80 (the body needs 8BITMIME). */
bool mime_has_8bit(const char *data, size_t len);
/* True if s holds a byte >= 0x80 (an address that needs SMTPUTF8). */
bool mime_str_has_8bit(const char *s);

#endif

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
	char *ct_protocol;  /* its protocol= parameter (multipart/signed, /encrypted), lower-case */
	char *ct_smime_type;/* its smime-type= parameter, lower-case, or NULL */
	char *sensitivity;  /* Sensitivity: header (RFC 2156), or NULL */
	bool inline_pgp;    /* a line starts "-----BEGIN PGP MESSAGE-----" or "... SIGNED MESSAGE" */
	bool nested_smime_signed; /* not S/MIME at the top, but an S/MIME signature below it */
	char **visible;     /* lower-cased addresses in To: and Cc: (Bcc recipients are not) */
	size_t nvisible;
};
/* True if addr (any case) is in To: or Cc:. */
bool mime_info_is_visible(const struct mime_info *info, const char *addr);
/* The message is S/MIME (application/pkcs7-mime, or multipart/signed with a pkcs7 protocol). */
bool mime_info_is_smime(const struct mime_info *info);
/* The message is S/MIME encrypted (application/pkcs7-mime other than signed-data). */
bool mime_info_is_smime_encrypted(const struct mime_info *info);
/* The message is PGP/MIME (multipart/encrypted or multipart/signed with a pgp protocol). */
bool mime_info_is_pgp_mime(const struct mime_info *info);

/* Initialises GMime once per process (thread-safe); every other mime_* call does it too. */
void mime_init(void);
/* Sends GLib's log messages (GMime, Pango) to our log (mime_init does it once). */
void mime_glib_log_to_ours(void);
/* Parses len bytes of a message. Returns 0 with *info_r filled, or -1 with *error_r when
 * the bytes are not a message at all (info_r is then empty but valid to free). */
int mime_info_parse(const char *data, size_t len, struct mime_info *info_r,
                    const char **error_r);
void mime_info_free(struct mime_info *info);
/* The message GMime makes of len bytes (the caller unrefs it), or NULL when they are not a
 * message: for modules that walk a message's parts themselves (pdf, webmail). */
struct _GMimeMessage *mime_message_parse(const char *data, size_t len);

/* Length of the header block at data: up to and including the empty line that ends it, or
 * all of data if there is none. Never more than max: a longer block returns max. */
size_t mime_header_block_len(const char *data, size_t len, size_t max);
/* True if any byte of data is >= 0x80 (the body needs 8BITMIME). */
bool mime_has_8bit(const char *data, size_t len);
/* True if s holds a byte >= 0x80 (an address that needs SMTPUTF8). */
bool mime_str_has_8bit(const char *s);

/* ---- mime_headers.c: byte-exact header block edits ---- */
struct sg_buf;

/* One header field as it stands in the message: name, and the whole field including folded
 * continuation lines and its line end. A line without a colon has name_len 0. */
struct mime_field {
	const char *name;
	size_t name_len;
	const char *start;
	size_t len;
	const char *value; /* after the colon, folds and line end included */
	size_t value_len;
};
/* Steps through the header block (at most block_len bytes from *pos); 1 with *f, 0 at its end
 * (the empty line, whose offset is then in *pos). */
int mime_field_next(const char *block, size_t block_len, size_t *pos, struct mime_field *f);
/* Case-insensitive name test; a name ending in '*' is a prefix ("X-Sealgate-*"). */
bool mime_field_is(const struct mime_field *f, const char *name);
/* Content-* and MIME-Version: the fields that belong to the entity, not the message. */
bool mime_field_is_content(const struct mime_field *f);

enum mime_keep {
	MIME_KEEP_ALL,     /* every field not dropped */
	MIME_KEEP_CONTENT, /* only Content-* and MIME-Version (the inner entity's header) */
	MIME_KEEP_OUTER,   /* every field except those (the envelope of an encrypted entity) */
};
struct mime_edit {
	const char *const *drop; /* field names to drop; "X-Sealgate-*" drops a prefix */
	size_t ndrop;
	enum mime_keep keep;
	const char *subject_tag; /* removed (with one adjacent space) from Subject, or NULL */
	const char *prepend;     /* CRLF-terminated fields written first, or NULL */
	bool with_body;          /* append the empty line and the body */
};
/* Appends the edited message (or header block) to out; -1 with *error_r past out's ceiling. */
int mime_edit_apply(const char *data, size_t len, const struct mime_edit *e, struct sg_buf *out,
                    const char **error_r);

/* ---- mime_build.c: new messages (notices, mail written on the portal) ---- */
struct mime_attachment {
	const char *filename;     /* as the user named it (UTF-8); encoded by GMime */
	const char *content_type; /* "type/subtype"; anything else becomes application/octet-stream */
	const void *data;
	size_t len;
};
struct mime_header_pair {
	const char *name, *value;
};
struct mime_build {
	const char *from, *from_name; /* addr-spec and display name (UTF-8, may be NULL) */
	const char *to, *to_name;
	const char *subject;          /* UTF-8 */
	const char *text;             /* the text part, UTF-8 */
	const char *in_reply_to;      /* a Message-ID without <>, or NULL */
	const char *msgid_domain;     /* right-hand side of the new Message-ID */
	bool auto_submitted;          /* Auto-Submitted: auto-generated (RFC 3834) */
	const struct mime_header_pair *extra; /* more fields (values must be printable ASCII) */
	size_t nextra;
	const struct mime_attachment *att;
	size_t natt;
};
/* Appends a complete RFC 5322 message (CRLF, 7-bit) to out; -1 with *error_r when an address
 * is missing or out's ceiling is reached. */
int mime_build_message(const struct mime_build *b, struct sg_buf *out, const char **error_r);

/* ---- mime_remote.c: remote references made inert (decrypted mail nothing authenticates) ---- */
/* HTML (css: CSS) text with every reference that makes a mail client fetch or open a URL by
 * itself renamed or defanged (mime_remote_html.c says how); appends to out, *count_r the
 * number of changes. -1 with *error_r past out's ceiling. */
int mime_remote_html(const char *in, size_t len, bool css, struct sg_buf *out, size_t *count_r,
                     const char **error_r);
/* The same for every HTML, XHTML, SVG and CSS part of a MIME entity at any depth. With
 * *count_r > 0 the rewritten entity (CRLF) is appended to out; with 0, out is left alone and
 * the entity may be used as it is. */
int mime_remote_neutralise(const char *entity, size_t len, struct sg_buf *out, size_t *count_r,
                           const char **error_r);

/* mime_nested.c: true if an S/MIME signature (multipart/signed's pkcs7-signature, or opaque
 * signed-data) sits below the top level of entity: it signs one part, not the message. */
bool mime_nested_smime_signed(const char *entity, size_t len);

#endif

/* mime.h: the GMime wrapper. The queue manager reads each message's header block once, here, to
 * learn what logging and policy need (the body is parsed only by a transform that needs it); a
 * message GMime cannot read is still delivered unchanged.
 * Plain helpers that need no parser (header block, 8-bit scan) live here too. */
#ifndef SG_MIME_H
#define SG_MIME_H

#include "core/limits.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

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
/* GMime parses made by this process so far (mime_message_parse, mime_entity_parse) and the
 * bytes they were given: for the tests and benchmarks that count parses per message. */
void mime_parse_stats(unsigned long *parses_r, unsigned long long *bytes_r);
/* The message GMime makes of len bytes (the caller unrefs it), or NULL when they are not a
 * message: for modules that walk a message's parts themselves (pdf, webmail). */
struct _GMimeMessage *mime_message_parse(const char *data, size_t len);
/* The same for a MIME entity (a part with its own header, no message envelope needed). */
struct _GMimeObject *mime_entity_parse(const char *data, size_t len);

/* One full parse of a message for all its readers in one thread: the queue manager keeps one
 * per queued message, and every recipient group whose transform needs the body borrows it
 * (issue 19: one parse per message). Parsed on first use. Borrowers only read the tree: a
 * reader that would change it parses a copy of its own (mime_entity_parse). */
struct mime_memo {
	const char *data;
	size_t len;
	struct _GMimeObject *entity; /* the parse, or NULL (not yet, or not MIME) */
	bool tried;
};
void mime_memo_init(struct mime_memo *m, const char *data, size_t len);
/* The entity of m's bytes (lent: do not unref, do not change), or NULL if they are not MIME. */
struct _GMimeObject *mime_memo_entity(struct mime_memo *m);
void mime_memo_free(struct mime_memo *m);

/* Length of the header block at data: up to and including the empty line that ends it, or
 * all of data if there is none. Never more than max: a longer block returns max. */
size_t mime_header_block_len(const char *data, size_t len, size_t max);
/* True if any byte of data is >= 0x80 (the body needs 8BITMIME). */
bool mime_has_8bit(const char *data, size_t len);
/* The top-level Date: field of msg as epoch seconds, or 0 (none, folded, or unreadable). */
time_t mime_header_date(const char *msg, size_t len);
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
	const char *const *only; /* when set: keep only fields of these names (after drop) */
	size_t nonly;
	const char *subject_value; /* when set: the Subject's value is replaced by it */
};
/* Appends the edited message (or header block) to out; -1 with *error_r past out's ceiling. */
int mime_edit_apply(const char *data, size_t len, const struct mime_edit *e, struct sg_buf *out,
                    const char **error_r);

/* ---- mime_hp.c: RFC 9788 header protection ---- */

/* The fields header protection copies into the cryptographic payload (never Bcc). */
extern const char *const mime_hp_fields[];
extern const size_t mime_hp_nfields;

struct mime_hp_out {
	bool encrypted;          /* hp="cipher", with HP-Outer lines (else hp="clear") */
	bool hide_subject;       /* hcp_baseline: outer Subject "[...]", no Comments or Keywords
	                          * outside (else hcp_no_confidentiality: outer as it was) */
	const char *subject_tag; /* removed from the Subject, inside and outside (or NULL) */
};
/* The cryptographic payload of msg, appended to out: msg's entity (Content-* fields and
 * body) with hp= on its Content-Type, then msg's protected fields, then (encrypted) one
 * HP-Outer line for each protected field left in the outer header section. An entity that
 * already carries hp= is copied as it is. */
int mime_hp_payload(const char *msg, size_t len, const struct mime_hp_out *o, struct sg_buf *out,
                    const char **error_r);
/* msg's outer header section under o's policy (no Content-*, no Bcc, no X-Sealgate-*), the
 * fields HP-Outer names, appended to out without the empty line. */
int mime_hp_outer(const char *msg, size_t len, const struct mime_hp_out *o, struct sg_buf *out,
                  const char **error_r);
/* The hp= value of entity's Content-Type ("cipher", "clear") into dst, or "" if none. */
void mime_hp_mode(const char *entity, size_t len, char *dst, size_t size);
/* entity's own fields (Content-*, MIME-Version) and body, appended to out; when it carries
 * hp=, its protected fields and HP-Outer lines too (they belong to it, RFC 9788). */
int mime_hp_entity(const char *entity, size_t len, struct sg_buf *out, const char **error_r);
/* The message as delivered when payload carries protected fields: those fields first, then
 * msg's header fields without any field of a protected name and without HP-Outer, then msg's
 * body. */
int mime_hp_deliver(const char *msg, size_t len, const char *payload, size_t payload_len,
                    struct sg_buf *out, const char **error_r);

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

/* ---- mime_sanitize.c: HTML mail made safe to show inside a portal page ---- */
struct mime_sanitize_opts {
	/* Writes to url_r (size bytes) the address that serves the part of the message whose
	 * Content-ID is cid (decoded, without angle brackets); false when there is none. NULL:
	 * no image is shown. */
	bool (*cid_url)(void *arg, const char *cid, char *url_r, size_t size);
	void *arg;
	const char *blocked_image; /* shown, in brackets, for an image left out ("image") */
};
struct mime_sanitize_report {
	size_t dropped;        /* elements removed with their content: script, style, iframe, svg... */
	size_t attributes;     /* attributes removed: event handlers, style, class, remote URLs... */
	size_t blocked_images; /* images not shown: remote, data:, or no such part */
	size_t links;          /* links kept (http, https, mailto), each shown with its target */
	size_t unsafe_links;   /* links whose target is none of those: their text only */
};
/* Appends to out an HTML fragment of the body of html (len bytes of UTF-8: invalid bytes
 * become U+FFFD) with only what the allow-list keeps, to be placed inside a sectioning element
 * of a page whose CSP forbids script. -1 with *error_r when the part is over the ceilings of
 * core/limits.h (SG_HTML_*: show it as text instead) or out's ceiling is reached (out is then
 * as it was). */
int mime_sanitize_html(const char *html, size_t len, const struct mime_sanitize_opts *o,
                       struct sg_buf *out, struct mime_sanitize_report *report_r,
                       const char **error_r);

/* mime_addrlist.c: the mailbox addresses (addr-spec, at most max, each < SG_ADDR_MAX bytes)
 * of an address field's value ("Doe, Jane" <jane@x>, b@y, group: c@z;); how many. */
size_t mime_addrlist_parse(const char *field, char (*out)[SG_ADDR_MAX], size_t max);

/* mime_nested.c: true if an S/MIME signature (multipart/signed's pkcs7-signature, or opaque
 * signed-data) sits below the top level of entity: it signs one part, not the message. */
bool mime_nested_smime_signed(const char *entity, size_t len);

#endif

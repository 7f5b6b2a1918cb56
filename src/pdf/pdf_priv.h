/* pdf_priv.h: what the files of src/pdf share and nobody else sees: the message as the
 * renderer wants it, the R6 primitives, and the renderer's output. */
#ifndef SG_PDF_PRIV_H
#define SG_PDF_PRIV_H

#include "pdf/pdf.h"

#include <stdbool.h>
#include <stddef.h>

struct sg_buf;

/* ---- pdf_msg.c: the parts of a message a SecurePDF shows ---- */
struct pdf_attachment {
	char *name;          /* UTF-8, safe as a file name, unique within the document */
	char *mime_type;     /* "type/subtype", lower-case ASCII */
	unsigned char *data; /* decoded content */
	size_t len;
};
struct pdf_doc {
	char *from, *to, *cc, *date, *subject; /* UTF-8 without control characters, or NULL */
	char *body;                            /* valid UTF-8, '\n' line ends */
	size_t body_len;
	const char *lang;                      /* for Han glyph forms ("zh-cn", "ja"...), or NULL */
	struct pdf_attachment *att;
	size_t natt;
};
int pdf_msg_parse(const char *msg, size_t len, size_t max_att, struct pdf_doc *doc,
                  const char **error_r);
void pdf_msg_free(struct pdf_doc *doc);
/* A human size: "512 bytes", "1.5 KB", "12.3 MB". */
void pdf_msg_size_text(size_t n, char *buf, size_t bufsize);

/* ---- pdf_render.c: the unencrypted PDF of a doc, from cairo ---- */
struct pdf_rect {
	double x1, y1, x2, y2; /* PDF user space of page 1 (origin bottom left) */
};
int pdf_render_doc(const struct pdf_doc *doc, const char *reply_url, struct sg_buf *out,
                   struct pdf_rect *link_r, const char **error_r);

/* ---- pdf_r6.c: PDF 2.0 standard security handler, revision 6 ---- */
#define PDF_R6_HASH_LEN 32
/* Algorithm 2.B of ISO 32000-2 (qpdf's reading of the round count). */
void pdf_r6_hash(const unsigned char *pw, size_t pwlen, const unsigned char salt[8],
                 const unsigned char *udata, size_t udlen, unsigned char out[PDF_R6_HASH_LEN]);
/* Appends to out a minimal PDF (empty page tree) whose /Encrypt dictionary carries key's U, a
 * fresh file key wrapped by K (/UE), O and OE for a random owner password, /P -4 and /Perms.
 * The owner password, which qpdf needs to open the template, goes to owner_r (NUL-terminated);
 * the caller wipes it. */
void pdf_r6_template(const struct pdf_key *key, struct sg_buf *out, char owner_r[65]);
void pdf_r6_random(void *p, size_t n);

/* ---- pdf_nomem.c: out of memory in a worker ends it ---- */

/* The worker's exit status when an allocation failed (its memory limit, in practice). */
#define PDF_WORKER_EXIT_NOMEM 7

/* From now on a failed allocation in any thread exits with PDF_WORKER_EXIT_NOMEM. */
void pdf_nomem_fatal_enable(void);

#endif

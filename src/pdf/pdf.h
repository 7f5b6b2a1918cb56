/* pdf.h: SecurePDF. A partner's password becomes {U, K} once (PDF 2.0 R6, ISO 32000-2
 * Algorithms 2.B and 8); from {U, K} alone each message is laid out (pango/cairo), assembled and
 * encrypted (libqpdf) into a PDF that opens with that password. Hostile mail renders in a worker. */
#ifndef SG_PDF_H
#define SG_PDF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- pdf_key.c: the stored record of a partner ---- */
#define PDF_KEY_U_LEN 48 /* /U: hash ‖ validation salt ‖ key salt */
#define PDF_KEY_K_LEN 32 /* the intermediate key that wraps each file key (/UE) */
#define PDF_KEY_LEN   (PDF_KEY_U_LEN + PDF_KEY_K_LEN) /* serialised form: U ‖ K */
#define PDF_PASSWORD_MAX 127 /* bytes of UTF-8, as R6 hashes them */

/* K is a capability (it makes and opens this partner's PDFs): seal it at rest, free with
 * pdf_key_free, which wipes it. */
struct pdf_key {
	unsigned char u[PDF_KEY_U_LEN];
	unsigned char k[PDF_KEY_K_LEN];
	/* For one document (pdf_account_key): its file key and that key wrapped by K (/UE), made
	 * where K is kept (keystore_pdf_wrap); k is then all zero, K never comes here. */
	bool wrapped;
	unsigned char fk[32], ue[32];
};

/* Refuses, with a reason fit for the user, a password that is not UTF-8, has more than 127
 * bytes, has fewer than min_chars characters, or that SASLprep would change or forbids (then
 * readers would disagree on the bytes they hash). 0 if acceptable. */
int pdf_key_check_password(const char *pw, size_t min_chars, const char **error_r);
/* Checks pw as above, then derives {U, K} with fresh salts. */
int pdf_key_derive(const char *pw, size_t min_chars, struct pdf_key **key_r,
                   const char **error_r);
/* True if pw is the password the record was derived from (Algorithm 11). */
bool pdf_key_verify_password(const struct pdf_key *key, const char *pw);
/* Serialises to U ‖ K (PDF_KEY_LEN bytes) for sealing, and back. */
void pdf_key_to_bytes(const struct pdf_key *key, unsigned char out[PDF_KEY_LEN]);
int pdf_key_from_bytes(const unsigned char *b, size_t len, struct pdf_key **key_r,
                       const char **error_r);
void pdf_key_free(struct pdf_key **key);

/* ---- pdf_build.c: one message to one encrypted PDF ---- */
/* Return values of the build functions besides 0. */
#define PDF_ERR_REJECT (-1) /* this message cannot become a SecurePDF: tell the sender */
#define PDF_ERR_DEFER  (-2) /* the renderer failed (crash, limit, timeout): try again later */

struct pdf_options {
	const char *reply_url;  /* http(s) URL, printable ASCII, <= SG_PDF_URL_MAX; required */
	size_t max_attachments; /* 0: SG_PDF_ATTACHMENTS_MAX */
	size_t max_output;      /* bytes of PDF; 0: SG_PDF_OUTPUT_MAX */
};

/* Renders the RFC 5322 message msg (headers From To Cc Date Subject, the text body or the
 * HTML body reduced to text, every attachment embedded) into a PDF encrypted for key, with a
 * Reply link to opts->reply_url. *pdf_r is freed by the caller (sg_free). In-process: use
 * pdf_isolate_build for mail from outside. */
int pdf_build_message(const char *msg, size_t len, const struct pdf_key *key,
                      const struct pdf_options *opts, unsigned char **pdf_r, size_t *pdf_len_r,
                      const char **error_r);

/* ---- pdf_isolate.c: the same in a worker process ---- */
struct pdf_limits {
	size_t mem_bytes;      /* RLIMIT_AS of the worker; 0: 2 GB (not applied under ASan) */
	unsigned cpu_seconds;  /* RLIMIT_CPU; 0: 60 */
	unsigned wall_seconds; /* killed after this long; 0: 120 */
};
/* Forks a worker (no network namespace when permitted, no inherited descriptors, rlimits, no
 * core dumps) that runs pdf_build_message; a crash, limit or timeout is PDF_ERR_DEFER. */
int pdf_isolate_build(const char *msg, size_t len, const struct pdf_key *key,
                      const struct pdf_options *opts, const struct pdf_limits *limits,
                      unsigned char **pdf_r, size_t *pdf_len_r, const char **error_r);

/* Threaded callers (qmgr) set the binary to exec for each worker ("/proc/self/exe", run as
 * `sealgate __pdf-worker`): a forked copy of a threaded process may inherit a lock that another
 * thread held at fork time and hang. Without it the worker renders in the forked copy. */
void pdf_isolate_set_exec(const char *path);
/* The body of `sealgate __pdf-worker`: reads the job from fd 4, answers on fd 3. */
int pdf_isolate_worker_main(void);

/* ---- pdf_html.c: HTML reduced to plain text ---- */
/* Text content of an HTML document as UTF-8: no scripts, styles or remote content; block
 * elements become line breaks, links "text <href>" (javascript: and data: targets dropped).
 * Output is at most max bytes (then cut at a character boundary). Caller frees (sg_free). */
char *pdf_html_to_text(const char *html, size_t len, size_t max, size_t *len_r);

/* ---- pdf_account.c: the partner's record in the store ---- */
struct store;
struct keystore;
/* Checks and derives the password (at least min_chars characters), seals {U, K} and stores it
 * for user_id. The password is not kept. */
int pdf_account_set_password(struct store *st, const struct keystore *ks, int64_t user_id,
                             const char *address, const char *password, size_t min_chars,
                             const char **error_r);
/* The record of address for one document: 1 with *key_r (pdf_key_free; U, a fresh file key
 * and its /UE: K stays with the key holder), 0 none (not registered), -1 error. */
int pdf_account_key(struct store *st, const struct keystore *ks, const char *address,
                    struct pdf_key **key_r, const char **error_r);

#endif

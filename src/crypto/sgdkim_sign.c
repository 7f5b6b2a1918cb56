/* sgdkim_sign.c: one DKIM-Signature over a finished message, made by libopendkim. */
#include "crypto/sgdkim.h"
#include "crypto/sgdkim_priv.h"
#include "core/limits.h"
#include "core/sg_buf.h"
#include "core/sg_mem.h"
#include "mime/mime.h"

#include <opendkim/dkim.h>
#include <stdio.h>
#include <string.h>


/* RFC 6376 §5.4.1's recommendation, in its order; libopendkim signs those present. */
const char *const sgdkim_signed_fields[] = {
	"from", "reply-to", "subject", "date", "to", "cc", "resent-date", "resent-from",
	"resent-to", "resent-cc", "in-reply-to", "references", "list-id", "list-help",
	"list-unsubscribe", "list-subscribe", "list-post", "list-owner", "list-archive",
	"message-id", "mime-version", "content-type", "content-transfer-encoding", "sender",
	"autocrypt", NULL};
/* Signed once more than they occur, so that nobody can add a second From, To, Subject or
 * Date that some readers would show instead (RFC 6376 §8.15). */
static const char *const oversigned_fields[] = {"from", "to", "subject", "date", NULL};

int sgdkim_lib_new(struct sgdkim_lib **lib_r, const char *keys_file, const char **error_r)
{
	DKIM_LIB *l = dkim_init(NULL, NULL);
	dkim_query_t file = DKIM_QUERY_FILE;
	if (l != NULL && keys_file != NULL && keys_file[0] != '\0' &&
	    (dkim_options(l, DKIM_OP_SETOPT, DKIM_OPTS_QUERYMETHOD, &file, sizeof(file)) !=
	         DKIM_STAT_OK ||
	     dkim_options(l, DKIM_OP_SETOPT, DKIM_OPTS_QUERYINFO, (void *)keys_file,
	                  strlen(keys_file)) != DKIM_STAT_OK)) {
		dkim_close(l);
		l = NULL;
	}
	if (l == NULL ||
	    dkim_options(l, DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS, (void *)sgdkim_signed_fields,
	                 sizeof(char **)) != DKIM_STAT_OK ||
	    dkim_options(l, DKIM_OP_SETOPT, DKIM_OPTS_OVERSIGNHDRS, (void *)oversigned_fields,
	                 sizeof(char **)) != DKIM_STAT_OK) {
		if (l != NULL)
			dkim_close(l);
		*error_r = "libopendkim could not be initialised";
		return -1;
	}
	*lib_r = sg_calloc(1, sizeof(**lib_r));
	(*lib_r)->lib = l;
	return 0;
}

void sgdkim_lib_free(struct sgdkim_lib **lib)
{
	if (*lib == NULL)
		return;
	dkim_close((*lib)->lib);
	sg_free(lib);
}

DKIM_STAT sgdkim_feed(DKIM *d, const char *msg, size_t len)
{
	size_t hlen = mime_header_block_len(msg, len, SG_HEADER_BLOCK_MAX), pos = 0;
	struct mime_field f;
	DKIM_STAT st = DKIM_STAT_OK;
	while (st == DKIM_STAT_OK && mime_field_next(msg, hlen, &pos, &f)) {
		size_t n = f.len;
		while (n > 0 && (f.start[n - 1] == '\n' || f.start[n - 1] == '\r'))
			n--;
		if (f.name_len > 0)
			st = dkim_header(d, (u_char *)f.start, n);
	}
	if (st == DKIM_STAT_OK)
		st = dkim_eoh(d);
	size_t body = hlen < len ? hlen : len;
	if (st == DKIM_STAT_OK && len > body)
		st = dkim_body(d, (u_char *)msg + body, len - body);
	return st;
}

/* libopendkim folds with bare LF: the message wants CRLF. */
static int append_field(struct sg_buf *field, const u_char *sig, size_t n)
{
	if (sg_buf_append_str(field, "DKIM-Signature: ") < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (sig[i] == '\n' && sg_buf_append(field, "\r", 1) < 0)
			return -1;
		if (sg_buf_append(field, &sig[i], 1) < 0)
			return -1;
	}
	return sg_buf_append(field, "\r\n", 2);
}

/* The library's words for st, kept past dkim_free (one buffer per thread). */
const char *sgdkim_stat_text(DKIM *d, DKIM_STAT st)
{
	static __thread char text[256];
	const char *e = d != NULL ? dkim_geterror(d) : NULL;
	snprintf(text, sizeof(text), "DKIM signing failed: %s",
	         e != NULL && e[0] != '\0' ? e : dkim_getresultstr(st));
	return text;
}

int sgdkim_sign(struct sgdkim_lib *lib, const struct sgdkim_key *key, const char *msg,
                size_t len, struct sg_buf *field, const char **error_r)
{
	DKIM_STAT st = DKIM_STAT_OK;
	DKIM *d = dkim_sign(lib->lib, (const u_char *)"sealgate", NULL, (dkim_sigkey_t)key->pem,
	                    (const u_char *)key->selector, (const u_char *)key->domain,
	                    DKIM_CANON_RELAXED, DKIM_CANON_RELAXED,
	                    key->alg == SGDKIM_ED25519 ? DKIM_SIGN_ED25519SHA256 : DKIM_SIGN_RSASHA256,
	                    -1, &st);
	u_char *sig = NULL;
	size_t n = 0;
	if (d != NULL && st == DKIM_STAT_OK)
		st = sgdkim_feed(d, msg, len);
	if (d != NULL && st == DKIM_STAT_OK)
		st = dkim_eom(d, NULL);
	if (d != NULL && st == DKIM_STAT_OK)
		st = dkim_getsighdr_d(d, strlen("DKIM-Signature: "), &sig, &n);
	int rc = 0;
	if (d == NULL || st != DKIM_STAT_OK) {
		*error_r = sgdkim_stat_text(d, st);
		rc = -1;
	} else if (n > SG_DKIM_FIELD_MAX || append_field(field, sig, n) < 0) {
		*error_r = "the DKIM-Signature field does not fit";
		rc = -1;
	}
	if (d != NULL)
		dkim_free(d);
	return rc;
}

/* sgdkim_sign.c: one DKIM-Signature over a finished message: libopendkim canonicalises and
 * hashes (sgdkim_hash.c), the signature over its header hash is made here with a key parsed
 * once (RSA-SHA256, RFC 6376 §3.3.1; Ed25519-SHA256, RFC 8463 §3: Ed25519 over that hash). */
#include "crypto/sgdkim.h"
#include "crypto/sgdkim_priv.h"
#include "core/limits.h"
#include "core/sg_buf.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "mime/mime.h"

#include <opendkim/dkim.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define H_LIST_MAX 900 /* h= on one line of the field (998 at most) */
#define B_PLACEHOLDER "AAAA"


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
	DKIM_LIB *hl = sgdkim_hashlib_new();
	if (hl == NULL) {
		dkim_close(l);
		*error_r = "libopendkim could not be initialised";
		return -1;
	}
	*lib_r = sg_calloc(1, sizeof(**lib_r));
	(*lib_r)->lib = l;
	(*lib_r)->hashlib = hl;
	if (keys_file != NULL)
		sg_strlcpy((*lib_r)->keys_file, keys_file, sizeof((*lib_r)->keys_file));
	pthread_mutex_init(&(*lib_r)->lock, NULL);
	return 0;
}

void sgdkim_lib_free(struct sgdkim_lib **lib)
{
	if (*lib == NULL)
		return;
	sgdkim_cache_clear(*lib);
	pthread_mutex_destroy(&(*lib)->lock);
	dkim_close((*lib)->lib);
	dkim_close((*lib)->hashlib);
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

/* The library's words for st, kept past dkim_free (one buffer per thread). */
const char *sgdkim_stat_text(DKIM *d, DKIM_STAT st)
{
	static __thread char text[256];
	const char *e = d != NULL ? dkim_geterror(d) : NULL;
	snprintf(text, sizeof(text), "DKIM signing failed: %s",
	         e != NULL && e[0] != '\0' ? e : dkim_getresultstr(st));
	return text;
}

/* h=: From, To, Subject and Date once more than the message has them (oversigned: nobody
 * can add one that some readers would show instead, RFC 6376 §8.15), then every field of
 * §5.4.1 the message has, top to bottom, as far as the list fits on its line. */
static void header_list(const char *msg, size_t len, char *h, size_t size)
{
	size_t hlen = mime_header_block_len(msg, len, SG_HEADER_BLOCK_MAX), pos = 0, used = 0;
	struct mime_field f;
	h[0] = '\0';
	for (size_t k = 0; oversigned_fields[k] != NULL; k++)
		used += (size_t)snprintf(h + used, size - used, "%s%s", k ? ":" : "",
		                         oversigned_fields[k]);
	while (mime_field_next(msg, hlen, &pos, &f)) {
		for (size_t k = 0; sgdkim_signed_fields[k] != NULL; k++) {
			const char *name = sgdkim_signed_fields[k];
			if (mime_field_is(&f, name) && used + strlen(name) + 2 < size)
				used += (size_t)snprintf(h + used, size - used, ":%s", name);
		}
	}
}

/* The signature over the header hash hh into sig (*n: its size in, length out). */
static int sign_hash(EVP_PKEY *pk, enum sgdkim_alg alg, const unsigned char hh[32],
                     unsigned char *sig, size_t *n)
{
	int ok;
	if (alg == SGDKIM_ED25519) {
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		ok = md != NULL && EVP_DigestSignInit(md, NULL, NULL, NULL, pk) == 1 &&
		     EVP_DigestSign(md, sig, n, hh, 32) == 1;
		EVP_MD_CTX_free(md);
	} else {
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pk, NULL);
		ok = c != NULL && EVP_PKEY_sign_init(c) == 1 &&
		     EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) == 1 &&
		     EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) == 1 &&
		     EVP_PKEY_sign(c, sig, n, hh, 32) == 1;
		EVP_PKEY_CTX_free(c);
	}
	ERR_clear_error();
	return ok ? 0 : -1;
}

/* The field up to "b=" (the value libopendkim hashes the field with). */
static int field_template(struct sgdkim_lib *lib, const struct sgdkim_signer *s,
                          const char *msg, size_t len, struct sg_buf *f, const char **error_r)
{
	unsigned char bh[32];
	char bh64[48], h[H_LIST_MAX];
	if (sgdkim_body_hash(lib, msg, len, bh, error_r) < 0)
		return -1;
	EVP_EncodeBlock((unsigned char *)bh64, bh, 32);
	header_list(msg, len, h, sizeof(h));
	int rc = sg_buf_printf(f, "DKIM-Signature: v=1; a=%s; c=relaxed/relaxed; d=%s; s=%s;\r\n"
	                       "\tt=%lld; h=%s;\r\n\tbh=%s;\r\n\tb=",
	                       s->alg == SGDKIM_ED25519 ? "ed25519-sha256" : "rsa-sha256",
	                       s->domain, s->selector, (long long)time(NULL), h, bh64);
	if (rc < 0)
		*error_r = "the DKIM-Signature field does not fit";
	return rc < 0 ? -1 : 0;
}

/* b=: base64, folded every 72 characters, and the field's CRLF. */
static int append_b(struct sg_buf *f, const unsigned char *sig, size_t n)
{
	char b64[1400];
	int len = EVP_EncodeBlock((unsigned char *)b64, sig, (int)n);
	int rc = 0;
	for (int i = 0; i < len && rc == 0; i += 72) {
		if (i > 0)
			rc = sg_buf_append(f, "\r\n\t", 3);
		rc = rc == 0 ? sg_buf_append(f, b64 + i, (size_t)(len - i < 72 ? len - i : 72)) : rc;
	}
	return rc == 0 ? sg_buf_append(f, "\r\n", 2) : rc;
}

int sgdkim_sign_with(struct sgdkim_lib *lib, const struct sgdkim_signer *s, const char *msg,
                     size_t len, struct sg_buf *field, const char **error_r)
{
	struct sg_buf f;
	sg_buf_init(&f, SG_DKIM_FIELD_MAX);
	unsigned char hh[32], bh[32], sig[1024];
	size_t n = sizeof(sig);
	int rc = field_template(lib, s, msg, len, &f, error_r);
	/* libopendkim refuses an empty b=; its value is left out of the hash anyway */
	size_t end = f.len;
	if (rc == 0 && sg_buf_append(&f, B_PLACEHOLDER, sizeof(B_PLACEHOLDER)) < 0) {
		*error_r = "the DKIM-Signature field does not fit";
		rc = -1;
	}
	if (rc == 0)
		rc = sgdkim_hashes(lib, msg, len, f.data, false, hh, bh, error_r);
	f.len = end;
	if (rc == 0 && sign_hash(s->pkey, s->alg, hh, sig, &n) < 0) {
		*error_r = "DKIM signing failed: the private key did not sign";
		rc = -1;
	}
	if (rc == 0 && (append_b(&f, sig, n) < 0 || f.len > SG_DKIM_FIELD_MAX ||
	                sg_buf_append(field, f.data, f.len) < 0)) {
		*error_r = "the DKIM-Signature field does not fit";
		rc = -1;
	}
	sg_buf_free(&f);
	return rc;
}

int sgdkim_sign(struct sgdkim_lib *lib, const struct sgdkim_key *key, const char *msg,
                size_t len, struct sg_buf *field, const char **error_r)
{
	struct sgdkim_signer s = {.alg = key->alg, .pkey = sgdkim_pkey_parse(key)};
	if (s.pkey == NULL || strlen(key->domain) >= sizeof(s.domain) ||
	    strlen(key->selector) >= sizeof(s.selector)) {
		sgdkim_signer_release(&s);
		*error_r = "DKIM signing failed: not a private key of its type";
		return -1;
	}
	sg_strlcpy(s.domain, key->domain, sizeof(s.domain));
	sg_strlcpy(s.selector, key->selector, sizeof(s.selector));
	int rc = sgdkim_sign_with(lib, &s, msg, len, field, error_r);
	sgdkim_signer_release(&s);
	return rc;
}

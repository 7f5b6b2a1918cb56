/* sgdkim_arc.c: the ARC set (RFC 8617) that sealgate adds after it changed inbound mail
 * (decrypted it), so that the internal server can trust the authentication results of the
 * message as it arrived. libopendkim has no ARC: the body hash comes from libopendkim (the
 * relaxed body canonicalisation of a DKIM signature made over the same bytes); the header
 * fields are canonicalised here (relaxed, RFC 6376 §3.4.2, a dozen lines) and signed with
 * RSA-SHA256 by OpenSSL. A message that carries ARC sets gets the next instance; the caller
 * judged the chain (sgdkim_arc_chain.c) and says cv. */
#include "crypto/sgdkim.h"
#include "crypto/sgdkim_priv.h"
#include "core/limits.h"
#include "core/sg_buf.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "mime/mime.h"

#include <ctype.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define ARC_HLIST_MAX 2048

/* RFC 6376 §3.4.2: name lower-cased, folds removed, runs of WSP one space, WSP around the
 * colon and at the end removed. */
int sgdkim_canon_relaxed(struct sg_buf *b, const char *f, size_t n, bool crlf)
{
	const char *colon = memchr(f, ':', n);
	if (colon == NULL)
		return 0;
	size_t nl = (size_t)(colon - f);
	while (nl > 0 && (f[nl - 1] == ' ' || f[nl - 1] == '\t'))
		nl--;
	int rc = 0;
	for (size_t i = 0; i < nl && rc == 0; i++) {
		char c = (char)tolower((unsigned char)f[i]);
		rc = sg_buf_append(b, &c, 1);
	}
	rc = rc == 0 ? sg_buf_append(b, ":", 1) : rc;
	bool space = false, started = false;
	for (const char *p = colon + 1; p < f + n && rc == 0; p++) {
		if (*p == '\r' || *p == '\n')
			continue;
		if (*p == ' ' || *p == '\t') {
			space = true;
			continue;
		}
		if (space && started)
			rc = sg_buf_append(b, " ", 1);
		space = false;
		started = true;
		rc = rc == 0 ? sg_buf_append(b, p, 1) : rc;
	}
	return rc == 0 && crlf ? sg_buf_append(b, "\r\n", 2) : rc;
}

size_t sgdkim_fields_collect(const char *msg, size_t len, struct sgdkim_field *fs)
{
	size_t hlen = mime_header_block_len(msg, len, SG_HEADER_BLOCK_MAX), pos = 0, n = 0;
	struct mime_field f;
	while (n < SGDKIM_FIELDS_MAX && mime_field_next(msg, hlen, &pos, &f)) {
		size_t l = f.len;
		while (l > 0 && (f.start[l - 1] == '\n' || f.start[l - 1] == '\r'))
			l--;
		if (f.name_len > 0)
			fs[n++] = (struct sgdkim_field){.p = f.start, .n = l};
	}
	return n;
}

bool sgdkim_field_named(const struct sgdkim_field *f, const char *name)
{
	size_t nl = strlen(name);
	return f->n > nl && f->p[nl] == ':' && strncasecmp(f->p, name, nl) == 0;
}

/* h=: every signed field the message has, top to bottom. */
static void header_list(const struct sgdkim_field *fs, size_t n, char *h, size_t size)
{
	size_t used = 0;
	h[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; sgdkim_signed_fields[k] != NULL; k++) {
			const char *name = sgdkim_signed_fields[k];
			if (!sgdkim_field_named(&fs[i], name) || used + strlen(name) + 2 >= size)
				continue;
			used += (size_t)snprintf(h + used, size - used, "%s%s", used ? ":" : "", name);
		}
	}
}

/* The fields named in h, each taken from the bottom up (RFC 6376 §5.4.2), canonicalised:
 * relaxed, or simple (the field as it is). */
int sgdkim_canon_signed(struct sgdkim_field *fs, size_t n, const char *h, bool simple,
                        struct sg_buf *b)
{
	char name[64];
	for (size_t i = 0; i < n; i++)
		fs[i].used = false;
	for (const char *p = h; *p != '\0';) {
		size_t l = strcspn(p, ":");
		if (l == 0 || l >= sizeof(name))
			return -1;
		memcpy(name, p, l);
		name[l] = '\0';
		for (size_t i = n; i-- > 0;) {
			if (!fs[i].used && sgdkim_field_named(&fs[i], name)) {
				fs[i].used = true;
				int rc = simple ? sg_buf_append(b, fs[i].p, fs[i].n) < 0 ||
				                          sg_buf_append(b, "\r\n", 2) < 0
				                      ? -1
				                      : 0
				                : sgdkim_canon_relaxed(b, fs[i].p, fs[i].n, true);
				if (rc < 0)
					return -1;
				break;
			}
		}
		p += l + (p[l] == ':');
	}
	return 0;
}

/* bh=: libopendkim's relaxed body hash of msg (the same as a DKIM signature's). */
static int body_hash(struct sgdkim_lib *lib, const char *msg, size_t len, char *bh,
                     const char **error_r)
{
	unsigned char h[32];
	if (sgdkim_body_hash(lib, msg, len, h, error_r) < 0)
		return -1;
	EVP_EncodeBlock((unsigned char *)bh, h, 32);
	return 0;
}

/* key's private key, parsed once for both signatures of a set: OpenSSL 3 spends about as
 * much on parsing a PEM key (and on the first signature's blinding set-up) as on the RSA
 * signature itself. NULL when it is not an RSA key. */
static EVP_PKEY *rsa_key_load(const struct sgdkim_key *key, const char **error_r)
{
	BIO *bio = BIO_new_mem_buf(key->pem, (int)key->pem_len);
	EVP_PKEY *pk = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	if (pk != NULL && !EVP_PKEY_is_a(pk, "RSA")) {
		EVP_PKEY_free(pk);
		pk = NULL;
	}
	ERR_clear_error();
	if (pk == NULL)
		*error_r = "ARC needs an RSA key (RFC 8617 knows rsa-sha256 only); signing failed";
	return pk;
}

/* RSA-SHA256 over data, base64 into b64 (at least 700 bytes for 4096-bit keys). */
static int rsa_sign(EVP_PKEY *pk, const struct sg_buf *data, char *b64, size_t size,
                    const char **error_r)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char sig[1024];
	size_t sl = sizeof(sig);
	int ok = ctx != NULL && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pk) == 1 &&
	         EVP_DigestSign(ctx, sig, &sl, (const unsigned char *)data->data, data->len) == 1 &&
	         (sl / 3 + 1) * 4 < size;
	if (ok)
		EVP_EncodeBlock((unsigned char *)b64, sig, (int)sl);
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	if (!ok)
		*error_r = "ARC signing failed";
	return ok ? 0 : -1;
}

struct arc_set {
	EVP_PKEY *pk; /* the key of both signatures */
	int i;        /* this set's instance */
	enum sgdkim_cv cv;
	struct sgdkim_field *fs; /* the message's header fields */
	size_t nf;
	struct sgdkim_arc_sets sets; /* the earlier ones */
	char aar[SG_DKIM_FIELD_MAX];
	char ams[SG_DKIM_FIELD_MAX];
	char as[SG_DKIM_FIELD_MAX];
	char b64[1024];
};

static int make_ams(struct sgdkim_lib *lib, const struct sgdkim_key *key, const char *msg,
                    size_t len, long long t, struct arc_set *s, const char **error_r)
{
	char h[ARC_HLIST_MAX], bh[128];
	header_list(s->fs, s->nf, h, sizeof(h));
	struct sg_buf data;
	sg_buf_init(&data, SG_HEADER_BLOCK_MAX + SG_DKIM_FIELD_MAX);
	int rc = body_hash(lib, msg, len, bh, error_r);
	snprintf(s->ams, sizeof(s->ams),
	         "ARC-Message-Signature: i=%d; a=rsa-sha256; c=relaxed/relaxed; d=%s;\r\n\ts=%s; "
	         "t=%lld; h=%s;\r\n\tbh=%s;\r\n\tb=", s->i, key->domain, key->selector, t, h, bh);
	if (rc == 0 && (sgdkim_canon_signed(s->fs, s->nf, h, false, &data) < 0 ||
	                sgdkim_canon_relaxed(&data, s->ams, strlen(s->ams), false) < 0)) {
		*error_r = "the header is too large to sign";
		rc = -1;
	}
	if (rc == 0)
		rc = rsa_sign(s->pk, &data, s->b64, sizeof(s->b64), error_r);
	if (rc == 0)
		sg_strlcpy(s->ams + strlen(s->ams), s->b64, sizeof(s->ams) - strlen(s->ams));
	sg_buf_free(&data);
	return rc;
}

/* The earlier sets, 1..i-1, as the seal covers them (none when the chain failed: RFC 8617
 * §5.1.1, and what dkimpy does). */
static int earlier_sets(const struct arc_set *s, struct sg_buf *data)
{
	int rc = 0;
	for (int k = 1; s->cv != SGDKIM_CV_FAIL && k < s->i && rc == 0; k++)
		rc = sgdkim_canon_relaxed(data, s->sets.aar[k].p, s->sets.aar[k].n, true) < 0 ||
		             sgdkim_canon_relaxed(data, s->sets.ams[k].p, s->sets.ams[k].n, true) < 0 ||
		             sgdkim_canon_relaxed(data, s->sets.as[k].p, s->sets.as[k].n, true) < 0
		         ? -1
		         : 0;
	return rc;
}

static int make_seal(const struct sgdkim_key *key, long long t, struct arc_set *s,
                     const char **error_r)
{
	struct sg_buf data;
	sg_buf_init(&data, (size_t)3 * SG_DKIM_FIELD_MAX * (size_t)(s->i + 1));
	snprintf(s->as, sizeof(s->as),
	         "ARC-Seal: i=%d; a=rsa-sha256; t=%lld; cv=%s; d=%s; s=%s;\r\n\tb=", s->i, t,
	         sgdkim_cv_name(s->cv), key->domain, key->selector);
	int rc = earlier_sets(s, &data) < 0 ||
	                 sgdkim_canon_relaxed(&data, s->aar, strlen(s->aar), true) < 0 ||
	                 sgdkim_canon_relaxed(&data, s->ams, strlen(s->ams), true) < 0 ||
	                 sgdkim_canon_relaxed(&data, s->as, strlen(s->as), false) < 0
	             ? -1
	             : rsa_sign(s->pk, &data, s->b64, sizeof(s->b64), error_r);
	if (rc == 0)
		sg_strlcpy(s->as + strlen(s->as), s->b64, sizeof(s->as) - strlen(s->as));
	sg_buf_free(&data);
	return rc;
}

/* This set's instance from the sets msg carries: -1 when it cannot be added. */
static int instance(struct arc_set *s, const char *msg, size_t len, const char **error_r)
{
	s->fs = sg_calloc(SGDKIM_FIELDS_MAX, sizeof(*s->fs));
	s->nf = sgdkim_fields_collect(msg, len, s->fs);
	sgdkim_arc_sets(s->fs, s->nf, &s->sets);
	s->i = s->sets.n + 1;
	if (s->i > SGDKIM_ARC_MAX)
		*error_r = "the message carries 50 ARC sets already (RFC 8617's limit)";
	else if (s->sets.broken && s->cv != SGDKIM_CV_FAIL)
		*error_r = "the earlier ARC sets are malformed but the chain was not judged failed";
	else
		return 0;
	return -1;
}

int sgdkim_arc_seal(struct sgdkim_lib *lib, const struct sgdkim_key *key, const char *msg,
                    size_t len, const char *aar, enum sgdkim_cv cv, struct sg_buf *out,
                    const char **error_r)
{
	struct arc_set *s = sg_calloc(1, sizeof(*s));
	long long t = (long long)time(NULL);
	s->cv = cv;
	int rc = instance(s, msg, len, error_r);
	if (rc == 0) {
		*error_r = "the ARC set does not fit";
		s->pk = rsa_key_load(key, error_r);
		rc = s->pk != NULL && snprintf(s->aar, sizeof(s->aar), "ARC-Authentication-Results: "
		                               "i=%d; %s", s->i, aar) < (int)sizeof(s->aar)
		         ? make_ams(lib, key, msg, len, t, s, error_r)
		         : -1;
	}
	if (rc == 0)
		rc = make_seal(key, t, s, error_r);
	if (rc == 0)
		rc = sg_buf_printf(out, "%s\r\n%s\r\n%s\r\n", s->as, s->ams, s->aar);
	EVP_PKEY_free(s->pk);
	sg_free(&s->fs);
	sg_free(&s);
	return rc;
}

/* sgdkim_arc_chain.c: validation of the ARC chain a message arrives with (RFC 8617 §5.2), so
 * that sealgate's own set (instance i+1) says cv=pass or cv=fail truthfully. The semantics are
 * dkimpy's (the verifier the tests use): the newest ARC-Message-Signature and every ARC-Seal
 * must verify, i=1 says cv=none and every later seal cv=pass. libopendkim computes the body
 * hash; the header fields are canonicalised as for sealing (sgdkim_arc.c). */
#include "crypto/sgdkim.h"
#include "crypto/sgdkim_priv.h"
#include "core/limits.h"
#include "core/sg_buf.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <openssl/evp.h>
#include <string.h>

#define TAG_MAX 2048 /* one tag value (b= of a 4096-bit key is 684) */

const char *sgdkim_cv_name(enum sgdkim_cv cv)
{
	return cv == SGDKIM_CV_PASS ? "pass" : cv == SGDKIM_CV_FAIL ? "fail" : "none";
}

/* The instance of an ARC field: i= of the tag list, or "i=N;" leading an AAR; 0 if none. */
static int instance_of(const struct sgdkim_field *f)
{
	const char *colon = memchr(f->p, ':', f->n);
	char v[16];
	if (colon == NULL)
		return 0;
	size_t n = f->n - (size_t)(colon + 1 - f->p);
	if (sgdkim_field_named(f, "ARC-Authentication-Results")) {
		const char *semi = memchr(colon + 1, ';', n); /* "i=N" is its first tag */
		n = semi != NULL ? (size_t)(semi - (colon + 1)) : n;
	}
	const char *err = NULL;
	long long i = sgdkim_tag(colon + 1, n, "i", v, sizeof(v)) ? sg_strtonum(v, 1, 999, &err) : 0;
	return err == NULL ? (int)i : 0;
}

void sgdkim_arc_sets(const struct sgdkim_field *fs, size_t n, struct sgdkim_arc_sets *s)
{
	memset(s, 0, sizeof(*s));
	for (size_t k = 0; k < n; k++) {
		struct sgdkim_field *slot =
		    sgdkim_field_named(&fs[k], "ARC-Seal")                     ? s->as
		    : sgdkim_field_named(&fs[k], "ARC-Message-Signature")      ? s->ams
		    : sgdkim_field_named(&fs[k], "ARC-Authentication-Results") ? s->aar
		                                                               : NULL;
		if (slot == NULL)
			continue;
		int i = instance_of(&fs[k]);
		if (i < 1 || i > SGDKIM_ARC_MAX || slot[i].p != NULL) {
			s->broken = true;
			s->n = i > s->n ? i : s->n;
			continue;
		}
		slot[i] = fs[k];
		s->n = i > s->n ? i : s->n;
	}
	for (int i = 1; i <= s->n && !s->broken; i++)
		s->broken = s->aar[i].p == NULL || s->ams[i].p == NULL || s->as[i].p == NULL;
}

/* The tags of field f's value. */
static const char *value_of(const struct sgdkim_field *f, size_t *n_r)
{
	const char *colon = memchr(f->p, ':', f->n);
	*n_r = f->n - (size_t)(colon + 1 - f->p);
	return colon + 1;
}

/* f's signature (a=, d=, s=, b=) over data. */
static bool signed_ok(struct sgdkim_lib *lib, const struct sgdkim_field *f,
                      const struct sg_buf *data)
{
	size_t n;
	const char *v = value_of(f, &n);
	char a[32], d[SG_DOMAIN_MAX + 1], s[SG_DKIM_SELECTOR_MAX + 1], b[TAG_MAX];
	unsigned char sig[TAG_MAX];
	const char *err;
	EVP_PKEY *pk = NULL;
	int sl = -1;
	if (sgdkim_tag(v, n, "a", a, sizeof(a)) && sgdkim_tag(v, n, "d", d, sizeof(d)) &&
	    sgdkim_tag(v, n, "s", s, sizeof(s)) && sgdkim_tag(v, n, "b", b, sizeof(b)))
		sl = sgdkim_unbase64(b, sig, sizeof(sig));
	bool ok = sl > 0 && sgdkim_pubkey_fetch(lib, s, d, &pk, &err) == 0 &&
	          sgdkim_sig_check(pk, a, sig, (size_t)sl, (const unsigned char *)data->data,
	                           data->len);
	EVP_PKEY_free(pk);
	return ok;
}

/* The newest ARC-Message-Signature: body hash (libopendkim) and signature. */
static bool ams_ok(struct sgdkim_lib *lib, const char *msg, size_t len, struct sgdkim_field *fs,
                   size_t nf, const struct sgdkim_field *ams)
{
	size_t n;
	const char *v = value_of(ams, &n), *err;
	char c[40] = "relaxed/relaxed", h[TAG_MAX], bh[64];
	unsigned char want[48], got[32];
	(void)sgdkim_tag(v, n, "c", c, sizeof(c));
	bool simple_h = strncmp(c, "simple", 6) == 0;
	const char *slash = strchr(c, '/');
	bool simple_b = slash != NULL && strcmp(slash + 1, "simple") == 0;
	if (!sgdkim_tag(v, n, "h", h, sizeof(h)) || !sgdkim_tag(v, n, "bh", bh, sizeof(bh)) ||
	    sgdkim_unbase64(bh, want, sizeof(want)) != 32 ||
	    sgdkim_body_hash_c(lib, msg, len, simple_b, got, &err) < 0 || memcmp(want, got, 32) != 0)
		return false;
	struct sg_buf data, self;
	sg_buf_init(&data, SG_HEADER_BLOCK_MAX);
	sg_buf_init(&self, SG_DKIM_FIELD_MAX * 4);
	bool ok = sgdkim_canon_signed(fs, nf, h, simple_h, &data) == 0 &&
	          sgdkim_strip_b(ams->p, ams->n, &self) == 0 &&
	          (simple_h ? sg_buf_append(&data, self.data, self.len)
	                    : sgdkim_canon_relaxed(&data, self.data, self.len, false)) == 0 &&
	          signed_ok(lib, ams, &data);
	sg_buf_free(&data);
	sg_buf_free(&self);
	return ok;
}

/* ARC-Seal i: over sets 1..i (AAR, AMS, AS each), its own b= left out. */
static bool seal_ok(struct sgdkim_lib *lib, const struct sgdkim_arc_sets *s, int i)
{
	struct sg_buf data, self;
	sg_buf_init(&data, (size_t)SG_DKIM_FIELD_MAX * 3 * (size_t)(i + 1));
	sg_buf_init(&self, SG_DKIM_FIELD_MAX * 4);
	int rc = 0;
	for (int k = 1; k <= i && rc == 0; k++) {
		rc = sgdkim_canon_relaxed(&data, s->aar[k].p, s->aar[k].n, true) < 0 ||
		             sgdkim_canon_relaxed(&data, s->ams[k].p, s->ams[k].n, true) < 0
		         ? -1
		         : 0;
		if (rc == 0 && k < i)
			rc = sgdkim_canon_relaxed(&data, s->as[k].p, s->as[k].n, true);
	}
	bool ok = rc == 0 && sgdkim_strip_b(s->as[i].p, s->as[i].n, &self) == 0 &&
	          sgdkim_canon_relaxed(&data, self.data, self.len, false) == 0 &&
	          signed_ok(lib, &s->as[i], &data);
	sg_buf_free(&data);
	sg_buf_free(&self);
	return ok;
}

static bool cv_is(const struct sgdkim_field *as, const char *want)
{
	size_t n;
	const char *v = value_of(as, &n);
	char cv[16];
	return sgdkim_tag(v, n, "cv", cv, sizeof(cv)) && strcasecmp(cv, want) == 0;
}

static enum sgdkim_cv validate(struct sgdkim_lib *lib, const char *msg, size_t len,
                               struct sgdkim_field *fs, size_t nf,
                               const struct sgdkim_arc_sets *s, const char **why_r)
{
	if (s->n == 0)
		return SGDKIM_CV_NONE;
	*why_r = "the ARC sets are malformed (one incomplete or twice, or more than 50)";
	if (s->broken)
		return SGDKIM_CV_FAIL;
	*why_r = "the newest ARC-Seal says cv=fail already";
	if (cv_is(&s->as[s->n], "fail"))
		return SGDKIM_CV_FAIL;
	*why_r = "the newest ARC-Message-Signature does not verify";
	if (!ams_ok(lib, msg, len, fs, nf, &s->ams[s->n]))
		return SGDKIM_CV_FAIL;
	for (int i = s->n; i >= 1; i--) {
		*why_r = "an ARC-Seal has the wrong cv (i=1: none, later: pass)";
		if (!cv_is(&s->as[i], i == 1 ? "none" : "pass"))
			return SGDKIM_CV_FAIL;
		*why_r = "an ARC-Seal does not verify";
		if (!seal_ok(lib, s, i))
			return SGDKIM_CV_FAIL;
	}
	*why_r = "the chain verifies";
	return SGDKIM_CV_PASS;
}

enum sgdkim_cv sgdkim_arc_validate(struct sgdkim_lib *lib, const char *msg, size_t len,
                                   int *n_r, const char **why_r)
{
	struct sgdkim_field *fs = sg_calloc(SGDKIM_FIELDS_MAX, sizeof(*fs));
	struct sgdkim_arc_sets *s = sg_calloc(1, sizeof(*s));
	size_t nf = sgdkim_fields_collect(msg, len, fs);
	sgdkim_arc_sets(fs, nf, s);
	*why_r = "no ARC sets";
	enum sgdkim_cv cv = validate(lib, msg, len, fs, nf, s, why_r);
	*n_r = s->n;
	sg_free(&s);
	sg_free(&fs);
	return cv;
}

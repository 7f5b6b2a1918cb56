/* sgdkim_hash.c: the body and header hashes of a DKIM signature, computed by libopendkim.
 * libopendkim's signing mode takes the private key as PEM text and parses it again for every
 * signature (and OpenSSL pays the first-signature set-up of a fresh key again): about half
 * the cost of a signature. So sealgate runs libopendkim in verifying mode over the signature
 * it is about to make: libopendkim canonicalises (relaxed/relaxed) and hashes as for any
 * signature it checks, a final callback stops it before it looks for a public key, and
 * dkim_sig_gethashes hands out both hashes. The signature over the header hash is then made
 * with a key parsed once (sgdkim_cache.c, sgdkim_sign.c). Two passes: the signature field
 * carries the body hash (bh=), and libopendkim hashes that field at the end of the header. */
#include "crypto/sgdkim.h"
#include "crypto/sgdkim_priv.h"
#include "core/limits.h"
#include "mime/mime.h"

#include <opendkim/dkim.h>
#include <string.h>

/* Every signature is stopped before its key is looked up: only the hashes are wanted. */
static DKIM_CBSTAT stop_before_keys(DKIM *d, DKIM_SIGINFO **sigs, int nsigs)
{
	(void)d;
	(void)sigs;
	(void)nsigs;
	return DKIM_CBSTAT_REJECT;
}

DKIM_LIB *sgdkim_hashlib_new(void)
{
	DKIM_LIB *l = dkim_init(NULL, NULL);
	unsigned int flags = DKIM_LIBFLAGS_DELAYSIGPROC; /* keys are looked up at the end... */
	if (l != NULL && (dkim_options(l, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags,
	                               sizeof(flags)) != DKIM_STAT_OK ||
	                  /* ... after the final callback, which stops there */
	                  dkim_set_final(l, stop_before_keys) != DKIM_STAT_OK)) {
		dkim_close(l);
		l = NULL;
	}
	return l;
}

/* Feeds msg's header fields but its DKIM-Signature ones (never signed by us; the hashing
 * handle must see exactly one signature: sighdr), then sighdr, then (with_body) the body. */
static DKIM_STAT feed(DKIM *d, const char *msg, size_t len, const char *sighdr, bool with_body)
{
	size_t hlen = mime_header_block_len(msg, len, SG_HEADER_BLOCK_MAX), pos = 0;
	struct mime_field f;
	DKIM_STAT st = dkim_header(d, (u_char *)sighdr, strlen(sighdr));
	while (st == DKIM_STAT_OK && mime_field_next(msg, hlen, &pos, &f)) {
		size_t n = f.len;
		while (n > 0 && (f.start[n - 1] == '\n' || f.start[n - 1] == '\r'))
			n--;
		if (f.name_len > 0 && !mime_field_is(&f, "DKIM-Signature"))
			st = dkim_header(d, (u_char *)f.start, n);
	}
	if (st == DKIM_STAT_OK)
		st = dkim_eoh(d);
	size_t body = hlen < len ? hlen : len;
	if (st == DKIM_STAT_OK && with_body && len > body)
		st = dkim_body(d, (u_char *)msg + body, len - body);
	return st;
}

int sgdkim_hashes(struct sgdkim_lib *lib, const char *msg, size_t len, const char *sighdr,
                  bool with_body, unsigned char hh[32], unsigned char bh[32],
                  const char **error_r)
{
	DKIM_STAT st = DKIM_STAT_OK;
	DKIM *d = dkim_verify(lib->hashlib, (const u_char *)"sealgate", NULL, &st);
	DKIM_SIGINFO **sigs = NULL;
	int nsigs = 0;
	void *h = NULL, *b = NULL;
	size_t hl = 0, bl = 0;
	if (d != NULL && st == DKIM_STAT_OK)
		st = feed(d, msg, len, sighdr, with_body);
	if (d != NULL && st == DKIM_STAT_OK)
		st = dkim_eom(d, NULL); /* the final callback's "reject": hashes done, nothing else */
	bool ok = d != NULL && st == DKIM_STAT_CBREJECT &&
	          dkim_getsiglist(d, &sigs, &nsigs) == DKIM_STAT_OK && nsigs == 1 &&
	          (dkim_sig_geterror(sigs[0]) == DKIM_SIGERROR_UNKNOWN ||
	           dkim_sig_geterror(sigs[0]) == DKIM_SIGERROR_OK) &&
	          dkim_sig_gethashes(sigs[0], &h, &hl, &b, &bl) == DKIM_STAT_OK && hl == 32 &&
	          bl == 32;
	if (ok) {
		memcpy(hh, h, 32);
		memcpy(bh, b, 32);
	} else {
		*error_r = sgdkim_stat_text(d, st == DKIM_STAT_CBREJECT ? DKIM_STAT_INTERNAL : st);
	}
	if (d != NULL)
		dkim_free(d);
	return ok ? 0 : -1;
}

/* A signature field with a placeholder body hash: only bh is read from this pass. */
#define BH_PROBE(c) "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/" c "; d=invalid; s=x; " \
                    "h=from; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA"

int sgdkim_body_hash_c(struct sgdkim_lib *lib, const char *msg, size_t len, bool simple,
                       unsigned char bh[32], const char **error_r)
{
	unsigned char hh[32];
	return sgdkim_hashes(lib, msg, len, simple ? BH_PROBE("simple") : BH_PROBE("relaxed"), true,
	                     hh, bh, error_r);
}

int sgdkim_body_hash(struct sgdkim_lib *lib, const char *msg, size_t len, unsigned char bh[32],
                     const char **error_r)
{
	return sgdkim_body_hash_c(lib, msg, len, false, bh, error_r);
}

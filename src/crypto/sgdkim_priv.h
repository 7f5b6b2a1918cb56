/* sgdkim_priv.h: private to crypto/sgdkim_*.c. */
#ifndef SG_SGDKIM_PRIV_H
#define SG_SGDKIM_PRIV_H

#include "core/limits.h"
#include "crypto/sgdkim.h"

#include <opendkim/dkim.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#define SGDKIM_CACHE_MAX 64 /* parsed keys kept (two per signing domain while rotating) */

struct sgdkim_cached {
	char domain[SG_DOMAIN_MAX + 1];
	char selector[SG_DKIM_SELECTOR_MAX + 1];
	enum sgdkim_alg alg;
	unsigned char row[32]; /* SHA-256 of the stored row's sealed bytes it was parsed from */
	EVP_PKEY *pk;
};

struct sgdkim_lib {
	DKIM_LIB *lib;     /* verification of incoming signatures */
	DKIM_LIB *hashlib; /* hashing only (sgdkim_hash.c): stops before any key lookup */
	char keys_file[SG_PATH_MAX]; /* public keys for verification; "" means DNS */
	pthread_mutex_t lock;
	struct sgdkim_cached *cache[SGDKIM_CACHE_MAX];
	size_t ncache;
};

/* The header fields signed (RFC 6376 §5.4.1), lower case, NULL-terminated. */
extern const char *const sgdkim_signed_fields[];

/* Feeds msg's header fields (folds kept, final CRLF not) and its body to d. */
DKIM_STAT sgdkim_feed(DKIM *d, const char *msg, size_t len);
/* "DKIM signing failed: <the library's words>" (one buffer per thread). */
const char *sgdkim_stat_text(DKIM *d, DKIM_STAT st);

/* sgdkim_hash.c */
DKIM_LIB *sgdkim_hashlib_new(void);
/* The header hash (hh) and body hash (bh) SHA-256 of msg signed by the field sighdr
 * ("DKIM-Signature: ...", its b= value ignored), canonicalised and hashed by libopendkim;
 * without with_body the body hash is that of an empty body. */
int sgdkim_hashes(struct sgdkim_lib *lib, const char *msg, size_t len, const char *sighdr,
                  bool with_body, unsigned char hh[32], unsigned char bh[32],
                  const char **error_r);
/* The relaxed body hash of msg. */
int sgdkim_body_hash(struct sgdkim_lib *lib, const char *msg, size_t len, unsigned char bh[32],
                     const char **error_r);
/* The same with simple body canonicalisation when simple. */
int sgdkim_body_hash_c(struct sgdkim_lib *lib, const char *msg, size_t len, bool simple,
                       unsigned char bh[32], const char **error_r);

/* sgdkim_arc.c: header fields for ARC (no CRLF at their end). */
#define SGDKIM_FIELDS_MAX 1000 /* header fields of a message looked at */
struct sgdkim_field {
	const char *p;
	size_t n;
	bool used;
};
struct sg_buf;
size_t sgdkim_fields_collect(const char *msg, size_t len, struct sgdkim_field *fs);
bool sgdkim_field_named(const struct sgdkim_field *f, const char *name);
/* RFC 6376 §3.4.2 relaxed canonicalisation of one field (with CRLF when crlf). */
int sgdkim_canon_relaxed(struct sg_buf *b, const char *f, size_t n, bool crlf);
int sgdkim_canon_signed(struct sgdkim_field *fs, size_t n, const char *h, bool simple,
                        struct sg_buf *b);

/* sgdkim_arc_chain.c: a message's ARC sets by instance (1..SGDKIM_ARC_MAX). */
struct sgdkim_arc_sets {
	struct sgdkim_field aar[SGDKIM_ARC_MAX + 1], ams[SGDKIM_ARC_MAX + 1], as[SGDKIM_ARC_MAX + 1];
	int n;       /* the highest instance */
	bool broken; /* a set incomplete or twice, an instance out of range */
};
void sgdkim_arc_sets(const struct sgdkim_field *fs, size_t n, struct sgdkim_arc_sets *s);

/* sgdkim_tags.c: tag lists (RFC 6376 §3.2). */
/* The value of tag name in list (n bytes), whitespace removed: false when absent or longer
 * than size - 1. */
bool sgdkim_tag(const char *list, size_t n, const char *name, char *out, size_t size);
/* The field f with the value of its b= tag removed (what a signature covers of itself). */
int sgdkim_strip_b(const char *f, size_t n, struct sg_buf *out);
/* base64 (no whitespace) decoded into out: its length, or -1. */
int sgdkim_unbase64(const char *b64, unsigned char *out, size_t size);

/* sgdkim_pubkey.c: selector._domainkey.domain's public key, from lib's keys file when it has
 * one, else from DNS: 0, or -1 with *error_r. */
int sgdkim_pubkey_fetch(const struct sgdkim_lib *lib, const char *selector, const char *domain,
                        EVP_PKEY **pk_r, const char **error_r);
/* Checks sig (a=rsa-sha256 or ed25519-sha256 over SHA-256 of data) with pk. */
bool sgdkim_sig_check(EVP_PKEY *pk, const char *alg, const unsigned char *sig, size_t siglen,
                      const unsigned char *data, size_t len);

/* sgdkim_cache.c */
void sgdkim_cache_clear(struct sgdkim_lib *lib);
/* key's PEM parsed: an RSA or Ed25519 key of alg, or NULL. */
EVP_PKEY *sgdkim_pkey_parse(const struct sgdkim_key *key);

#endif

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

/* sgdkim_cache.c */
void sgdkim_cache_clear(struct sgdkim_lib *lib);
/* key's PEM parsed: an RSA or Ed25519 key of alg, or NULL. */
EVP_PKEY *sgdkim_pkey_parse(const struct sgdkim_key *key);

#endif

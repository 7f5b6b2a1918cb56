/* sgdkim.h: DKIM keys and signatures (RFC 6376, RFC 8463) on top of libopendkim, which does
 * the canonicalisation and the signing; we never hand-write either. (Prefix sgdkim_: dkim_ is
 * libopendkim's.) A key travels as PKCS#8 PEM bytes, the form libopendkim reads; callers keep
 * it sealed at rest (keystore_seal_bytes) and wipe it after use. */
#ifndef SG_SGDKIM_H
#define SG_SGDKIM_H

#include "core/limits.h"

#include <stdbool.h>
#include <stddef.h>

struct sg_buf;

enum sgdkim_alg {
	SGDKIM_RSA2048,
	SGDKIM_ED25519,
};

/* "rsa2048" | "ed25519" → alg; -1 otherwise. */
int sgdkim_alg_parse(const char *name, enum sgdkim_alg *alg_r);
const char *sgdkim_alg_name(enum sgdkim_alg alg);

/* A selector is one DNS label (letters, digits, '-', not at either end, at most 63); a domain
 * is dot-separated such labels. -1 with *error_r saying what is wrong. */
int sgdkim_selector_check(const char *selector, const char **error_r);
int sgdkim_domain_check(const char *domain, const char **error_r);

/* A new private key as PKCS#8 PEM (*pem_r: wipe and free with sg_free_secret). */
int sgdkim_key_generate(enum sgdkim_alg alg, char **pem_r, size_t *len_r, const char **error_r);
/* Reads a private key (PEM, PKCS#8 or traditional RSA): an RSA key of 1024..4096 bits or an
 * Ed25519 key. *pem_r: the key re-encoded as PKCS#8 PEM (wipe and free), *alg_r its type,
 * *dns_r the DNS TXT record value "v=DKIM1; k=...; p=..." (free). */
int sgdkim_key_load(const char *data, size_t len, char **pem_r, size_t *pem_len_r,
                    enum sgdkim_alg *alg_r, char **dns_r, const char **error_r);

/* The process's libopendkim handle, made once (thread-safe to share). Verification finds
 * public keys in DNS, or with keys_file in that file ("NAME RECORD" lines, libopendkim's
 * file query method: for tests and closed networks). */
struct sgdkim_lib;
int sgdkim_lib_new(struct sgdkim_lib **lib_r, const char *keys_file, const char **error_r);
void sgdkim_lib_free(struct sgdkim_lib **lib);

struct sgdkim_key {
	const char *domain;
	const char *selector;
	enum sgdkim_alg alg;
	const char *pem; /* PKCS#8 PEM */
	size_t pem_len;
};
/* Signs msg (CRLF lines, header block and body) relaxed/relaxed with key, the header fields
 * of RFC 6376 §5.4.1 that it has, From/To/Subject/Date oversigned; appends the field
 * "DKIM-Signature: ...\r\n" (folded with CRLF) to field. libopendkim canonicalises and
 * hashes; the signature over its header hash is made here (sgdkim_hash.c says why). This
 * one parses key for the call; the qmgr signs with sgdkim_sign_with and a cached key. */
int sgdkim_sign(struct sgdkim_lib *lib, const struct sgdkim_key *key, const char *msg,
                size_t len, struct sg_buf *field, const char **error_r);

/* sgdkim_cache.c: private keys parsed once per domain and selector and kept in lib (until
 * sgdkim_lib_free, i.e. the queue manager's exit or reload), so that a signature costs no
 * PEM parse and no fresh-key set-up. A cached key is tied to the stored row it came from
 * (row: the row's sealed bytes, of which the SHA-256 is kept): a row that changed (deleted
 * and made again, imported anew) is parsed again, and sgdkim_cache_prune drops what the store
 * no longer has, so rotate and delete apply to the next message. */
struct sgdkim_signer {
	char domain[SG_DOMAIN_MAX + 1];
	char selector[SG_DKIM_SELECTOR_MAX + 1];
	enum sgdkim_alg alg;
	void *pkey; /* EVP_PKEY: a reference of the signer's own */
};
/* 1 with *s_r (release it) when lib holds domain/selector's key parsed from row; 0 not (an
 * entry for an older row is dropped). */
int sgdkim_cache_find(struct sgdkim_lib *lib, const char *domain, const char *selector,
                      const void *row, size_t row_len, struct sgdkim_signer *s_r);
/* Parses key (PEM), keeps it in lib for row and fills *s_r (release it). */
int sgdkim_cache_add(struct sgdkim_lib *lib, const struct sgdkim_key *key, const void *row,
                     size_t row_len, struct sgdkim_signer *s_r, const char **error_r);
/* Drops domain's cached keys whose selector is not among the n selectors. */
void sgdkim_cache_prune(struct sgdkim_lib *lib, const char *domain,
                        const char *const *selectors, size_t n);
size_t sgdkim_cache_size(struct sgdkim_lib *lib);
void sgdkim_signer_release(struct sgdkim_signer *s);
/* sgdkim_sign with a parsed key. */
int sgdkim_sign_with(struct sgdkim_lib *lib, const struct sgdkim_signer *s, const char *msg,
                     size_t len, struct sg_buf *field, const char **error_r);

/* sgdkim_verify.c: the verdict on msg's first DKIM signature as an Authentication-Results
 * resinfo: "dkim=pass header.d=D header.s=S", "dkim=fail (why) header.d=…", "dkim=none",
 * "dkim=temperror (why) header.d=…". */
void sgdkim_verify(struct sgdkim_lib *lib, const char *msg, size_t len, char *res, size_t size);

/* sgdkim_arc_chain.c: RFC 8617 §5.2 validation of the ARC sets msg carries, with dkimpy's
 * semantics: none without sets; fail when malformed (a set incomplete or twice, more than
 * SGDKIM_ARC_MAX), when the newest seal says cv=fail, when the newest ARC-Message-Signature or
 * any ARC-Seal does not verify, or when a seal's cv is not none (i=1) / pass (i>1); else pass.
 * Public keys as for sgdkim_verify (keys file or DNS). *n_r: the newest instance; *why_r says
 * what failed. */
#define SGDKIM_ARC_MAX 50 /* RFC 8617 §4.2.1: at most 50 ARC sets */
enum sgdkim_cv { SGDKIM_CV_NONE, SGDKIM_CV_PASS, SGDKIM_CV_FAIL };
const char *sgdkim_cv_name(enum sgdkim_cv cv);
enum sgdkim_cv sgdkim_arc_validate(struct sgdkim_lib *lib, const char *msg, size_t len,
                                   int *n_r, const char **why_r);

/* sgdkim_arc.c: the next ARC set (RFC 8617: instance i = the sets msg carries + 1, the
 * chain's verdict cv) over msg with an RSA key: appends "ARC-Seal", "ARC-Message-Signature"
 * and "ARC-Authentication-Results: i=N; <aar>" fields (CRLF) to out. The seal covers every
 * earlier set, or only its own one when cv is fail. -1 when msg carries SGDKIM_ARC_MAX sets
 * already. The body hash is libopendkim's relaxed one; the header fields are canonicalised
 * (relaxed) and signed here: libopendkim has no ARC. */
int sgdkim_arc_seal(struct sgdkim_lib *lib, const struct sgdkim_key *key, const char *msg,
                    size_t len, const char *aar, enum sgdkim_cv cv, struct sg_buf *out,
                    const char **error_r);

#endif

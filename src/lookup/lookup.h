/* lookup.h: key discovery. For an external recipient of mail that must be encrypted and has no
 * certificate or key, the queue manager asks the sources of policy.key_lookup in order (CA
 * directories over LDAP, VKS and HKP keyservers, the domain's Web Key Directory, DNSSEC-secure
 * SMIMEA/OPENPGPKEY records); the first answer that passes the checks wins. A certificate must
 * chain to a trust anchor, name the address and be usable for encryption; a key must carry a
 * valid user ID with the address, be unexpired, unrevoked and able to encrypt. Every answer,
 * found or not, is cached in the store (lookup.cache_hours); the whole chain never takes longer
 * than lookup.max_wait. What is found is "discovered": it encrypts outbound mail, it never
 * authenticates a sender (it is not in the certificate or key tables). Never for internal
 * domains. */
#ifndef SG_LOOKUP_H
#define SG_LOOKUP_H

#include "store/store_lookup.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct settings;
struct store;
struct smime_trust;

enum lookup_source { LOOKUP_LDAP, LOOKUP_VKS, LOOKUP_HKP, LOOKUP_WKD, LOOKUP_DNS, LOOKUP_NSOURCES };
const char *lookup_source_name(enum lookup_source src);
/* "ldap", "vks", ... → source; -1 otherwise. */
int lookup_source_parse(const char *name, enum lookup_source *src_r);

enum lookup_outcome {
	LOOKUP_FOUND,    /* a certificate or key that passed every check */
	LOOKUP_NOTHING,  /* the source answered: it has nothing for the address */
	LOOKUP_REFUSED,  /* the source answered with something we do not use (see detail) */
	LOOKUP_FAILED,   /* no answer: unreachable, too slow, too big, not configured */
};
const char *lookup_outcome_name(enum lookup_outcome o);

/* One source's answer. */
struct lookup_answer {
	enum lookup_source source;
	enum lookup_outcome outcome;
	enum store_lookup_kind kind;  /* FOUND: SMIME or PGP */
	unsigned char *data;          /* FOUND: the certificate (DER) or public key (binary) */
	size_t len;
	char fingerprint[66];
	time_t not_after;             /* 0: the key never expires */
	char detail[240];             /* where it was found, or why nothing was used */
};
void lookup_answer_clear(struct lookup_answer *a);

struct lookup;
/* From policy.key_lookup and lookup.*; trust (borrowed, may be NULL: no certificate passes)
 * judges certificate chains. NULL with *error_r when a setting cannot be used. */
struct lookup *lookup_new(const struct settings *s, const struct smime_trust *trust,
                          const char **error_r);
void lookup_free(struct lookup **lk);
/* True when policy.key_lookup names at least one source. */
bool lookup_enabled(const struct lookup *lk);
/* True when addr's domain is one of gateway.internal_domains (never looked up). */
bool lookup_is_internal(const struct lookup *lk, const char *addr);
/* The sources of the chain, in order; returns how many (at most LOOKUP_NSOURCES). */
size_t lookup_chain(const struct lookup *lk, enum lookup_source *srcs);

/* Asks one source (in the chain or not) about addr, at most budget_ms, and checks what it
 * says. Logs nothing: the caller decides. */
void lookup_ask(const struct lookup *lk, enum lookup_source src, const char *addr,
                int budget_ms, struct lookup_answer *a_r);
/* The chain for addr through the cache: a fresh cache entry is returned as it is; else the
 * sources are asked in order within lookup.max_wait, every refusal is logged, and the first
 * hit (or the miss) is cached. 1 hit (*e_r kind SMIME or PGP), 0 miss (also when disabled or
 * internal), -1 store error. */
int lookup_discover(const struct lookup *lk, struct store *st, const char *addr,
                    struct store_lookup *e_r, const char **error_r);

#endif

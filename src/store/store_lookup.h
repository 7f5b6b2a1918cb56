/* store_lookup.h: the key-discovery cache (store_lookup.c): per address the last answer of the
 * lookup chain, a certificate or key found (already checked) or a miss, until it expires. A
 * second mail to the address asks no directory until then. */
#ifndef SG_STORE_LOOKUP_H
#define SG_STORE_LOOKUP_H

#include "core/limits.h"

#include <stddef.h>
#include <time.h>

struct store;

enum store_lookup_kind { STORE_LOOKUP_NONE, STORE_LOOKUP_SMIME, STORE_LOOKUP_PGP };

struct store_lookup {
	char address[SG_ADDR_MAX];
	enum store_lookup_kind kind;
	char source[32];       /* "ldap", "vks", ... ; for a miss: the chain asked */
	unsigned char *data;   /* SMIME: the certificate (DER); PGP: the public key (binary) */
	size_t data_len;
	char fingerprint[66];  /* SHA-256 of the certificate, or the key's primary fingerprint */
	time_t not_after;      /* the certificate's notAfter, the key's expiry; 0 never */
	char detail[200];      /* why it was a miss, or where it was found */
	time_t looked_at;
	time_t expires;
};
void store_lookup_clear(struct store_lookup *e);
const char *store_lookup_kind_name(enum store_lookup_kind kind);

/* The entry of address that has not expired at now: 1 found, 0 none (or expired), -1 error. */
int store_lookup_get(struct store *st, const char *address, time_t now, struct store_lookup *e_r,
                     const char **error_r);
/* Stores e (replacing the address's previous entry). */
int store_lookup_put(struct store *st, const struct store_lookup *e, const char **error_r);
/* Forgets address's entry (every entry when NULL); *count_r says how many. */
int store_lookup_forget(struct store *st, const char *address, size_t *count_r,
                        const char **error_r);

#endif

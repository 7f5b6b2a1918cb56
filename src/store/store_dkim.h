/* store_dkim.h: the DKIM keys of the sending domains (store_dkim.c). The private key is a blob
 * sealed for "dkim:DOMAIN:SELECTOR" (keystore_seal_bytes); the store never sees it in clear. */
#ifndef SG_STORE_DKIM_H
#define SG_STORE_DKIM_H

#include "core/limits.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct store;

struct store_dkim_key {
	char domain[SG_DOMAIN_MAX + 1];
	char selector[SG_DKIM_SELECTOR_MAX + 1];
	char alg[16];          /* "rsa2048" | "ed25519" */
	char *dns;             /* the TXT record's value */
	unsigned char *sealed; /* NULL in listings */
	size_t sealed_len;
	time_t created;
};
void store_dkim_key_clear(struct store_dkim_key *k);
void store_dkim_list_free(struct store_dkim_key **keys, size_t n);

/* Adds a key: 1 added, 0 the domain has this selector already, -1 store error. */
int store_dkim_add(struct store *st, const struct store_dkim_key *k, const char **error_r);
/* 1 deleted, 0 no such key. */
int store_dkim_delete(struct store *st, const char *domain, const char *selector,
                      const char **error_r);
/* The keys of domain (every domain when NULL), oldest first; with_secret fills sealed. */
int store_dkim_list(struct store *st, const char *domain, bool with_secret,
                    struct store_dkim_key **keys_r, size_t *n_r, const char **error_r);

#endif

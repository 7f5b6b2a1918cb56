/* store_quarantine.h: messages the virus scanner found infected and scan.action = hold kept
 * for an admin (store_quarantine.c). The message is sealed with the master key for
 * "quarantine:<id>:<queue id>"; the store never holds it in clear. */
#ifndef SG_STORE_QUARANTINE_H
#define SG_STORE_QUARANTINE_H

#include "core/limits.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct store;

struct store_quarantine {
	int64_t id;
	char queue_id[SG_QUEUE_ID_MAX];
	char sender[SG_ADDR_MAX];
	char rcpts[1024];      /* the recipients it was for, comma separated (cut) */
	char signature[128];   /* what clamd found */
	time_t created;
	unsigned char *sealed; /* only from store_quarantine_get */
	size_t sealed_len;
};
void store_quarantine_clear(struct store_quarantine *q);

/* Reserves a row (so its id can go into the seal's owner): *id_r. */
int store_quarantine_reserve(struct store *st, const struct store_quarantine *q, int64_t *id_r,
                             const char **error_r);
/* Fills in the sealed message of a reserved row. */
int store_quarantine_seal(struct store *st, int64_t id, const unsigned char *sealed,
                          size_t sealed_len, const char **error_r);
/* Every row (without the message), oldest first; caller frees the array. */
int store_quarantine_list(struct store *st, struct store_quarantine **q_r, size_t *n_r,
                          const char **error_r);
/* One row with its sealed message: 1, 0 none, -1 error. */
int store_quarantine_get(struct store *st, int64_t id, struct store_quarantine *q_r,
                         const char **error_r);
/* 1 deleted, 0 none, -1 error. */
int store_quarantine_delete(struct store *st, int64_t id, const char **error_r);

#endif

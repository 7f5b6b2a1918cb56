/* store_mta_sts.h: the MTA-STS policy cache (RFC 8461 section 5.1): per recipient domain the
 * policy text last fetched, the id of the TXT record it was fetched under, and when it
 * expires (fetched + max_age). The text is kept as it came and parsed again on use
 * (mtasts/mtasts.h), so there is one parser and the cache holds nothing it did not check. */
#ifndef SG_STORE_MTA_STS_H
#define SG_STORE_MTA_STS_H

#include "core/limits.h"

#include <time.h>

struct store;

struct store_mta_sts {
	char domain[SG_DOMAIN_MAX + 1];
	char id[33];        /* the TXT record's id= (1 to 32 letters and digits) */
	char *policy;       /* NUL-terminated, at most the fetch limit; sg_free */
	time_t fetched;
	time_t expires;
};

/* Adds or replaces the cached policy of domain. 0, or -1 with *error_r. */
int store_mta_sts_put(struct store *st, const struct store_mta_sts *row, const char **error_r);
/* 1 with *row_r (free with store_mta_sts_free) when domain has a cached policy, 0 when not,
 * -1 store error. */
int store_mta_sts_get(struct store *st, const char *domain, struct store_mta_sts *row_r,
                      const char **error_r);
/* 1 deleted, 0 none, -1 store error. */
int store_mta_sts_delete(struct store *st, const char *domain, const char **error_r);
void store_mta_sts_free(struct store_mta_sts *row);

#endif

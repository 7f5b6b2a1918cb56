/* mtasts.h: SMTP MTA Strict Transport Security (RFC 8461) for the outbound hop. A recipient
 * domain that publishes `_mta-sts.DOMAIN` TXT "v=STSv1; id=..." and a policy at
 * https://mta-sts.DOMAIN/.well-known/mta-sts.txt says which MX hosts are genuine and that they
 * must present a certificate valid (PKIX) for their name. The policy is fetched with the HTTPS
 * client (src/fetch: 64 KB, a deadline, no redirects, text/plain), cached in the store
 * (store_mta_sts.h) until max_age passes or the TXT id changes, and the cached one is kept
 * when a refresh fails, as the RFC says. Every byte of TXT and policy is hostile. */
#ifndef SG_MTASTS_H
#define SG_MTASTS_H

#include "fetch/fetch.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define MTASTS_POLICY_MAX   (64 * 1024)  /* the policy resource, as RFC 8461 3.3 allows */
#define MTASTS_MX_MAX       64           /* mx patterns in one policy */
#define MTASTS_ID_MAX       32           /* id= of the TXT record */
#define MTASTS_MAX_AGE_MAX  31557600L    /* one year, RFC 8461 3.2 */

enum mtasts_mode { MTASTS_NONE = 0, MTASTS_TESTING, MTASTS_ENFORCE };
const char *mtasts_mode_name(enum mtasts_mode m); /* "none" | "testing" | "enforce" */

struct mtasts_policy {
	enum mtasts_mode mode;
	long max_age;                      /* seconds */
	size_t nmx;
	char mx[MTASTS_MX_MAX][256];       /* lower case: "mail.example.com" or "*.example.com" */
	char id[MTASTS_ID_MAX + 1];        /* the TXT id it was fetched under */
	time_t expires;                    /* fetched + max_age */
	bool from_cache;                   /* a refresh failed or was not needed */
};

/* ---- parsers (mtasts_parse.c; fuzzed by tests/fuzz/fuzz_mtasts_policy.c) ---- */
/* The TXT records of _mta-sts.DOMAIN: exactly one must start with "v=STSv1;" and carry a
 * valid id (RFC 8461 3.1). 0 with id (size > MTASTS_ID_MAX), -1 with *error_r. */
int mtasts_txt_parse(char *const *txt, size_t ntxt, char *id, size_t idsize, const char **error_r);
/* The policy body (RFC 8461 3.2): version STSv1, mode, max_age, mx (one or more unless mode
 * none). Unknown keys ignored; a repeated key other than mx: the first counts. 0, or -1. */
int mtasts_policy_parse(const char *body, size_t len, struct mtasts_policy *p,
                        const char **error_r);
/* Whether MX host name mx (trailing dot allowed) matches a pattern of p (RFC 8461 4.1:
 * "*." matches exactly one leftmost label). */
bool mtasts_mx_match(const struct mtasts_policy *p, const char *mx);

/* ---- discovery, fetch and cache (mtasts_lookup.c) ---- */
struct store;
struct dns_resolver;
struct mtasts_ctx {
	struct store *store;         /* the cache, or NULL (no cache: every delivery fetches) */
	struct dns_resolver *dns;    /* the TXT lookup, and the policy host's addresses */
	const char *ca_file;         /* fetch.ca_file: trust anchors for the policy host, or "" */
	int timeout_ms;              /* mta_sts.fetch_timeout */
	int port;                    /* mta_sts.port: 443 but in tests */
	const atomic_int *cancel;
	const char *log_id;          /* queue id in log lines, or NULL */
};
/* The policy that applies to domain now. 1 with *p_r when a policy in mode enforce or
 * testing applies (fresh, or cached when the TXT id is unchanged or a refresh failed); 0 when
 * none does (no TXT record, mode none, or no valid policy could be had and none is cached):
 * then *why_r says which, for the log. Failures are logged with the domain. */
int mtasts_policy_for(const struct mtasts_ctx *c, const char *domain, struct mtasts_policy *p_r,
                      char *why_r, size_t whysize);

/* A fetch_resolve_fn that asks the DNS module (ctx: a struct dns_resolver *), so the policy
 * host is found as the MX hosts are (the test resolver included). */
int mtasts_resolve_dns(void *ctx, const char *host, const char *port, struct fetch_addr *addrs,
                       size_t max, const char **error_r);

#endif

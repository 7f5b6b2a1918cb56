/* lookup_priv.h: private to lookup/: the configuration and the sources' common shape. */
#ifndef SG_LOOKUP_PRIV_H
#define SG_LOOKUP_PRIV_H

#include "lookup/lookup.h"
#include "core/limits.h"
#include "core/sg_str.h"

#define LOOKUP_MAX_CERTS 16 /* certificates read from one answer */

struct lookup {
	enum lookup_source chain[LOOKUP_NSOURCES];
	size_t nchain;
	struct sg_strlist ldap, vks, hkp;   /* lookup.ldap, lookup.vks, lookup.hkp */
	struct sg_strlist internal;         /* gateway.internal_domains */
	char tls_ca[SG_PATH_MAX];           /* lookup.tls_ca, "" none */
	int max_wait_ms;
	int cache_s;
	size_t max_size;
	const struct smime_trust *trust;
};

/* Certificates a source returned, unchecked (LDAP values, SMIMEA data). */
struct lookup_certs {
	unsigned char *der[LOOKUP_MAX_CERTS];
	size_t len[LOOKUP_MAX_CERTS];
	size_t n;
};
void lookup_certs_free(struct lookup_certs *c);
/* Adds a copy of der[0..len) (dropped silently beyond LOOKUP_MAX_CERTS). */
void lookup_certs_add(struct lookup_certs *c, const void *der, size_t len);

/* lookup_check.c: what a source found, judged for addr. Sets a->outcome FOUND (with kind,
 * data, fingerprint, not_after) or REFUSED (with detail saying why), where names the source's
 * answer ("ldap://host/base") for detail. */
void lookup_check_certs(const struct lookup *lk, const char *addr, const struct lookup_certs *c,
                        const char *where, struct lookup_answer *a);
void lookup_check_key(const char *addr, const unsigned char *data, size_t len, const char *where,
                      struct lookup_answer *a);

/* Milliseconds left until deadline (a sg_mono_ms() time), at least 0. */
int lookup_left_ms(int64_t deadline_ms);
/* Sets a's outcome and detail (printf). */
void lookup_set(struct lookup_answer *a, enum lookup_outcome o, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* One source: asks about addr until deadline (sg_mono_ms), fills a. */
void lookup_ldap_ask(const struct lookup *lk, const char *addr, int64_t deadline_ms,
                     struct lookup_answer *a);

#endif

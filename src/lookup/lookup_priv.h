/* lookup_priv.h: private to lookup/: the configuration and the sources' common shape. */
#ifndef SG_LOOKUP_PRIV_H
#define SG_LOOKUP_PRIV_H

#include "lookup/lookup.h"
#include "core/limits.h"
#include "core/sg_str.h"
#include "dns/dns.h"
#include "fetch/fetch.h"

#define LOOKUP_MAX_CERTS 16 /* certificates read from one answer */

struct lookup {
	enum lookup_source chain[LOOKUP_NSOURCES];
	size_t nchain;
	struct sg_strlist ldap, vks, hkp;   /* lookup.ldap, lookup.vks, lookup.hkp */
	struct sg_strlist internal;         /* gateway.internal_domains */
	char ca_file[SG_PATH_MAX];          /* fetch.ca_file (HTTPS, ldaps), "" none */
	char dns_anchor[SG_PATH_MAX];       /* dns.trust_anchor, resolved */
	struct dns_config dns;              /* dns.* (WKD host names, SMIMEA, OPENPGPKEY) */
	int wkd_port;
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

/* A resolver of dns.* whose queries end by deadline (one per call: resolvers are not shared
 * between threads); NULL with a->outcome FAILED and why. */
struct dns_resolver *lookup_resolver(const struct lookup *lk, int64_t deadline_ms,
                                     struct lookup_answer *a);

/* lookup_http.c: judges an HTTP answer of a keyserver or WKD (status, then the key in body):
 * 404/410 nothing, 200 a key for addr (lookup_check_key), anything else refused. Fuzzed. */
void lookup_http_judge(int status, const char *body, size_t len, const char *addr,
                       const char *where, struct lookup_answer *a);
/* GETs url until deadline (no redirects, fetch.ca_file, body at most lookup.max_size) and
 * judges it as above; where names it in messages; resolve NULL: the system resolver. -1 when no
 * answer came (a FAILED), else 0. */
int lookup_http_get(const struct lookup *lk, const char *url, const char *where,
                    const char *addr, int64_t deadline_ms, fetch_resolve_fn *resolve,
                    void *resolve_ctx, struct lookup_answer *a);
/* lookup_wkd.c: the WKD hash of a local part: z-base32 of SHA-1 of it lower-cased (32
 * characters and a NUL in dst); -1 if dstsize is too small. */
int lookup_wkd_hash(const char *local, size_t len, char *dst, size_t dstsize);
/* Percent-encodes s (everything but RFC 3986 unreserved characters) into dst; -1 too long. */
int lookup_url_escape(const char *s, size_t len, char *dst, size_t dstsize);
/* lookup_dns.c: an SMIMEA record's rdata (RFC 8162/6698: usage, selector, matching type,
 * data): 1 with the certificate (selector 0, matching 0: a whole certificate) in *der_r /
 * *len_r (pointing into rdata), 0 a record that carries no certificate (a hash or a key:
 * nothing to encrypt to), -1 malformed. Fuzzed. */
int lookup_dns_smimea_cert(const unsigned char *rdata, size_t len, const unsigned char **der_r,
                           size_t *len_r);

/* The sources: each asks about addr until deadline (sg_mono_ms), fills a. */
void lookup_ldap_ask(const struct lookup *lk, const char *addr, int64_t deadline_ms,
                     struct lookup_answer *a);
void lookup_vks_ask(const struct lookup *lk, const char *addr, int64_t deadline_ms,
                    struct lookup_answer *a);
void lookup_hkp_ask(const struct lookup *lk, const char *addr, int64_t deadline_ms,
                    struct lookup_answer *a);
void lookup_wkd_ask(const struct lookup *lk, const char *addr, int64_t deadline_ms,
                    struct lookup_answer *a);
void lookup_dns_ask(const struct lookup *lk, const char *addr, int64_t deadline_ms,
                    struct lookup_answer *a);

#endif

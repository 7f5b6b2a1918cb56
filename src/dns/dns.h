/* dns.h: DNS lookups through a validating stub resolver (libunbound), for the outbound hop
 * (MX, A/AAAA, TLSA for DANE, TXT for MTA-STS) and key discovery (SMIMEA, OPENPGPKEY).
 * Every answer says whether DNSSEC proved it (secure), whether no trust anchor covers it
 * (insecure), or whether validation failed (bogus: treated as a temporary failure, never used).
 * Answers are hostile input: rdata is length-checked before it is read.
 *
 * One resolver per thread: it keeps a cache and is not shared between threads. */
#ifndef SG_DNS_H
#define SG_DNS_H

#include "core/limits.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_NAME_MAX SG_DOMAIN_MAX   /* presentation form, without the trailing dot */
#define DNS_RDATA_MAX 65535          /* one record's rdata */
#define DNS_RECORDS_MAX 256          /* records kept from one answer; more: the rest ignored */

enum dns_type {
	DNS_TYPE_A = 1,
	DNS_TYPE_MX = 15,
	DNS_TYPE_TXT = 16,
	DNS_TYPE_AAAA = 28,
	DNS_TYPE_TLSA = 52,
	DNS_TYPE_SMIMEA = 53,
	DNS_TYPE_OPENPGPKEY = 61,
};

enum dns_security {
	DNS_INSECURE = 0, /* no trust anchor covers the name, or the zone is provably unsigned */
	DNS_SECURE = 1,   /* DNSSEC validated from a trust anchor */
	DNS_BOGUS = 2,    /* signatures missing or wrong where they must be: an attack or an error */
};
const char *dns_security_name(enum dns_security sec); /* "secure" | "insecure" | "bogus" */

/* ---- the resolver ---- */
struct dns_config {
	/* "system" (the name servers of /etc/resolv.conf, or full recursion if it names none),
	 * or a comma-separated list of forwarders IP[@PORT] (e.g. "127.0.0.1@5353, ::1"). */
	const char *resolver;
	/* File of the DNSSEC trust anchors (DS or DNSKEY records, zone-file syntax, as
	 * /usr/share/dns/root.key); "" validates nothing (every answer is insecure). */
	const char *trust_anchor;
	int timeout_ms;              /* default deadline of one query */
	const atomic_int *cancel;    /* when non-zero, queries stop early (or NULL) */
};
struct dns_resolver;
/* 0 with *r_r, or -1 with *error_r (bad resolver syntax, unreadable trust anchor). */
int dns_resolver_new(const struct dns_config *cfg, struct dns_resolver **r_r,
                     const char **error_r);
void dns_resolver_free(struct dns_resolver **r);
/* The settings dns.resolver, dns.trust_anchor and dns.timeout as a dns_config (the strings
 * point into s and path_buf). */
struct settings;
int dns_config_from_settings(const struct settings *s, struct dns_config *cfg_r,
                             char *path_buf, size_t path_size, const char **error_r);

/* ---- raw answers ---- */
struct dns_rdata {
	const unsigned char *data;
	size_t len;
};
struct dns_answer {
	enum dns_security security;
	bool nxdomain;                   /* the name does not exist */
	size_t count;                    /* records of the asked type; 0: none (NODATA/NXDOMAIN) */
	struct dns_rdata rr[DNS_RECORDS_MAX];
	char why_bogus[200];             /* the validator's reason, when bogus */
	void *priv;                      /* owns the bytes rr[] points into */
};
/* Asks for name/type (class IN) with the resolver's deadline. 0 with *a_r filled (count may
 * be 0); -1 with *error_r on timeout, SERVFAIL, a resolver failure, or a bogus answer (then
 * a_r->security is DNS_BOGUS and a_r->why_bogus says why). Always dns_answer_free(a_r). */
int dns_query(struct dns_resolver *r, const char *name, enum dns_type type,
              struct dns_answer *a_r, const char **error_r);
void dns_answer_free(struct dns_answer *a);

/* ---- typed helpers: each returns 0 (count may be 0) or -1 with *error_r, as dns_query ---- */
struct dns_mx {
	uint16_t pref;
	char host[DNS_NAME_MAX + 1]; /* lower case, no trailing dot; "" for the null MX "." */
};
struct dns_mx_list {
	enum dns_security security;
	bool nxdomain;
	bool null_mx;        /* RFC 7505: the domain accepts no mail */
	size_t count;
	struct dns_mx mx[64]; /* sorted by preference; equal ones keep the answer's order */
};
int dns_lookup_mx(struct dns_resolver *r, const char *domain, struct dns_mx_list *l_r,
                  const char **error_r);

struct dns_addr_list {
	enum dns_security security; /* the weakest of the A and AAAA answers */
	size_t count;
	char addr[32][46];          /* IPv6 first (as RFC 6724 prefers), then IPv4, as text */
};
/* A and AAAA of host. */
int dns_lookup_addrs(struct dns_resolver *r, const char *host, struct dns_addr_list *l_r,
                     const char **error_r);

struct dns_tlsa {
	uint8_t usage, selector, mtype;
	size_t len;
	unsigned char data[512];    /* certificate association data; longer records are skipped */
};
struct dns_tlsa_list {
	enum dns_security security;
	size_t count;
	struct dns_tlsa rr[32];
};
/* TLSA of _PORT._tcp.HOST (RFC 6698). */
int dns_lookup_tlsa(struct dns_resolver *r, const char *host, unsigned int port,
                    struct dns_tlsa_list *l_r, const char **error_r);

struct dns_txt_list {
	enum dns_security security;
	size_t count;
	char *txt[16];              /* each record's character-strings joined; NUL-terminated */
};
int dns_lookup_txt(struct dns_resolver *r, const char *name, struct dns_txt_list *l_r,
                   const char **error_r);
void dns_txt_list_free(struct dns_txt_list *l);

/* name as DNS asks for it: lower case, and an internationalised (UTF-8) name converted to
 * A-labels (IDNA, "bücher.example" → "xn--bcher-kva.example"). -1 with *error_r. */
int dns_name_ascii(const char *name, char *dst, size_t dstsize, const char **error_r);

/* The owner name of an SMIMEA (label "_smimecert") or OPENPGPKEY ("_openpgpkey") record for
 * local@domain (RFC 8162, RFC 7929): hex of the first 28 bytes of SHA2-256(local), the label,
 * the domain. -1 if it does not fit dst. */
int dns_hashed_owner(const char *local, const char *label, const char *domain, char *dst,
                     size_t dstsize);

#endif

/* deliver_mx.c: route mx: the recipient domain's MX hosts from DNS (src/dns), tried in
 * preference order (RFC 5321 5.1: no MX → the domain's own address; a null MX (RFC 7505)
 * bounces), each under the domain's TLS mode (tls_policy row, else deliver.tls):
 *   may      STARTTLS when offered, plain text otherwise or after a failed handshake;
 *   encrypt  TLS required, unauthenticated;
 *   dane     RFC 7672: when the MX answer and the host's addresses are DNSSEC-secure, the
 *            host's TLSA records decide: usable ones → the certificate must match them
 *            (else 4.7.5, nothing sent); secure but none usable → TLS required; none at all
 *            → may. An insecure domain or host gets may; a bogus answer defers.
 * A host that cannot be reached (or refuses TLS it must speak) makes way for the next; the
 * first host that takes the transaction gives the recipients their replies. MX connections
 * are not cached: each has its own TLS verdict. */
#include "queue/deliver_priv.h"

#include "core/settings.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MX_ATTEMPTS_MAX 10 /* connections per delivery: bounds the time a dead domain costs */

int deliver_mx_cfg_load(const struct settings *s, struct store *store,
                        struct deliver_mx_cfg *cfg_r, const char **error_r)
{
	memset(cfg_r, 0, sizeof(*cfg_r));
	if (dns_config_from_settings(s, &cfg_r->dns, cfg_r->trust_anchor,
	                             sizeof(cfg_r->trust_anchor), error_r) < 0)
		return -1;
	snprintf(cfg_r->port, sizeof(cfg_r->port), "%lld", settings_number(s, "deliver.mx_port"));
	if (tls_policy_mode_parse(settings_get(s, "deliver.tls"), &cfg_r->tls) < 0)
		cfg_r->tls = TLS_POLICY_ENCRYPT; /* validated by the settings: unreachable */
	cfg_r->store = store;
	deliver_mtasts_cfg_load(s, cfg_r);
	return 0;
}

void deliver_ctx_set_mx(struct deliver_ctx *dc, const struct deliver_mx_cfg *cfg)
{
	dc->mx = cfg;
}

static void fail_set(struct smtpc_status *st, enum smtpc_class cls, const char *dsn,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void fail_set(struct smtpc_status *st, enum smtpc_class cls, const char *dsn,
                     const char *fmt, ...)
{
	char raw[SG_SPOOL_REPLY_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	memset(st, 0, sizeof(*st));
	st->cls = cls;
	sg_strlcpy(st->dsn, dsn, sizeof(st->dsn));
	sg_printable(st->reply, sizeof(st->reply), raw, sizeof(st->reply) - 1);
}

/* The domain's TLS mode: its tls_policy row, else deliver.tls. */
static enum tls_policy_mode domain_mode(const struct deliver_mx_cfg *cfg, const char *domain)
{
	enum tls_policy_mode mode = cfg->tls;
	const char *err;
	if (cfg->store != NULL && store_tls_policy_get(cfg->store, domain, &mode, &err) < 0) {
		sg_error("tls_policy of %s: %s; using the strictest of deliver.tls and encrypt",
		         domain, err);
		mode = cfg->tls == TLS_POLICY_MAY ? TLS_POLICY_ENCRYPT : cfg->tls;
	}
	return mode;
}

/* ---- one MX host ---- */
struct mx_try {
	struct deliver_ctx *dc;
	const struct deliver_job *job;
	const char *domain;
	enum tls_policy_mode mode;
	enum dns_security mx_security;
	struct smtpc_status last; /* why the last host failed */
	unsigned int attempts;
	struct deliver_sts *sts;  /* mode mta-sts: the domain's policy (deliver_mtasts.c) */
};

/* How host is to be spoken to under t->mode: *tls_r and, for DANE, *tlsa_r filled. -1 with
 * t->last set when the host must be skipped (its TLSA lookup failed or was bogus). */
static int host_tls(struct mx_try *t, const char *host, enum dns_security addr_sec,
                    struct dns_tlsa_list *tlsa, enum smtpc_tls *tls_r, const char **why_r)
{
	if (t->mode == TLS_POLICY_MTA_STS)
		return deliver_mtasts_host(t->sts, t->domain, host, t->job->queue_id, tls_r, why_r,
		                           &t->last);
	*tls_r = t->mode == TLS_POLICY_MAY ? SMTPC_TLS_MAY : SMTPC_TLS_ENCRYPT;
	*why_r = tls_policy_mode_name(t->mode);
	if (t->mode != TLS_POLICY_DANE)
		return 0;
	if (t->mx_security != DNS_SECURE || addr_sec != DNS_SECURE) {
		*tls_r = SMTPC_TLS_MAY;
		*why_r = "dane: insecure DNS, opportunistic TLS";
		return 0;
	}
	const char *err;
	unsigned int port = (unsigned int)strtoul(t->dc->mx->port, NULL, 10);
	if (dns_lookup_tlsa(t->dc->resolver, host, port, tlsa, &err) < 0) {
		fail_set(&t->last, SMTPC_TEMP, "4.7.5", "TLSA lookup of _%u._tcp.%s failed: %s%s%s",
		         port, host, err, tlsa->security == DNS_BOGUS ? " " : "",
		         tlsa->security == DNS_BOGUS ? "(dane: DNSSEC bogus)" : "");
		return -1;
	}
	size_t usable = 0;
	for (size_t i = 0; i < tlsa->count; i++)
		usable += smtpc_tlsa_usable(&tlsa->rr[i]);
	if (tlsa->security != DNS_SECURE || tlsa->count == 0) {
		*tls_r = SMTPC_TLS_MAY;
		*why_r = "dane: no TLSA records, opportunistic TLS";
	} else if (usable == 0) {
		*tls_r = SMTPC_TLS_ENCRYPT;
		*why_r = "dane: no usable TLSA record, TLS required";
	} else {
		*tls_r = SMTPC_TLS_DANE;
		*why_r = "dane: TLSA records secure";
	}
	return 0;
}

/* Connects to host's addresses in turn; the first that answers takes the transaction. 1 when
 * one did (st filled), 0 otherwise (t->last says why). */
static int try_addrs(struct mx_try *t, const char *host, const struct dns_addr_list *addrs,
                     enum smtpc_tls tls, const struct dns_tlsa_list *tlsa, const char *why,
                     struct smtpc_status *st, char *relay_r, size_t relaysize)
{
	struct deliver_ctx *dc = t->dc;
	for (size_t i = 0; i < addrs->count && t->attempts < MX_ATTEMPTS_MAX; i++) {
		if (dc->cancel != NULL && *dc->cancel)
			return 0;
		struct smtpc_params p = dc->params;
		p.host = host;
		p.addr = addrs->addr[i];
		p.port = dc->mx->port;
		p.log_id = t->job->queue_id;
		p.tls = tls;
		p.tlsa = tls == SMTPC_TLS_DANE ? tlsa : NULL;
		deliver_mtasts_params(t->sts, dc, &p);
		t->attempts++;
		sg_info("%s: to %s: MX %s[%s]:%s, TLS %s", t->job->queue_id, t->domain, host, p.addr,
		        p.port, why);
		struct smtpc_conn *c = deliver_connect(dc, &p, &t->last);
		if (c == NULL)
			continue;
		const char *auth = smtpc_tls_auth(c); /* "dane=verified (...)": its first word */
		snprintf(relay_r, relaysize, "%s%s%.*s%s", smtpc_relay(c), *auth != '\0' ? " (" : "",
		         (int)strcspn(auth, " "), auth, *auth != '\0' ? ")" : "");
		deliver_mtasts_report(t->sts, c, host, t->job->queue_id);
		deliver_send(dc, c, t->job, st);
		smtpc_close(&c);
		return 1;
	}
	return 0;
}

/* Tries the addresses of host. 1 when one took the transaction (st filled), 0 otherwise
 * (t->last says why). */
static int try_host(struct mx_try *t, const char *host, struct smtpc_status *st, char *relay_r,
                    size_t relaysize)
{
	struct dns_addr_list addrs;
	struct dns_tlsa_list *tlsa = sg_malloc(sizeof(*tlsa));
	const char *err, *why;
	enum smtpc_tls tls;
	int rc = 0;
	if (dns_lookup_addrs(t->dc->resolver, host, &addrs, &err) < 0)
		fail_set(&t->last, SMTPC_TEMP, "4.4.3", "address lookup of MX host %s failed: %s", host,
		         err);
	else if (addrs.count == 0)
		fail_set(&t->last, SMTPC_TEMP, "4.4.3", "MX host %s has no address", host);
	else if (host_tls(t, host, addrs.security, tlsa, &tls, &why) == 0)
		rc = try_addrs(t, host, &addrs, tls, tlsa, why, st, relay_r, relaysize);
	sg_free(&tlsa);
	return rc;
}

/* ---- the domain ---- */
/* The domain of the group (every recipient has it) as DNS asks for it; -1 with *error_r. */
static int group_domain(const struct deliver_job *job, char *dst, size_t dstsize,
                        const char **error_r)
{
	const char *at = job->nrcpt > 0 ? strrchr(job->rcpts[0], '@') : NULL;
	if (at == NULL || at[1] == '\0') {
		*error_r = "recipient address has no domain";
		return -1;
	}
	return dns_name_ascii(at + 1, dst, dstsize, error_r);
}

/* The MX hosts of domain in t (or the domain itself, when it has none). -1 with one set. */
static int find_mx(struct mx_try *t, struct dns_mx_list *mx, struct smtpc_status *one)
{
	const char *err;
	if (dns_lookup_mx(t->dc->resolver, t->domain, mx, &err) < 0) {
		fail_set(one, SMTPC_TEMP, "4.4.3", "MX lookup of %s failed: %s%s%s", t->domain, err,
		         mx->security == DNS_BOGUS ? ": " : "",
		         mx->security == DNS_BOGUS ? "DNSSEC validation failed" : "");
		return -1;
	}
	if (mx->nxdomain) {
		fail_set(one, SMTPC_PERM, "5.1.2", "recipient domain %s does not exist (DNS: NXDOMAIN)",
		         t->domain);
		return -1;
	}
	if (mx->null_mx) {
		fail_set(one, SMTPC_PERM, "5.1.10",
		         "recipient domain %s accepts no mail (null MX, RFC 7505)", t->domain);
		return -1;
	}
	t->mx_security = mx->security;
	if (mx->count == 0) { /* RFC 5321 5.1: the domain is its own mail host */
		mx->count = 1;
		mx->mx[0].pref = 0;
		sg_strlcpy(mx->mx[0].host, t->domain, sizeof(mx->mx[0].host));
	}
	return 0;
}

void deliver_mx(struct deliver_ctx *dc, const struct deliver_job *job, struct smtpc_status *st,
                char *relay_r, size_t relaysize)
{
	char domain[SG_DOMAIN_MAX + 1];
	struct smtpc_status one;
	const char *err;
	snprintf(relay_r, relaysize, "mx");
	if (dc->mx == NULL) {
		fail_set(&one, SMTPC_TEMP, "4.3.5", "route mx is not configured in this process");
	} else if (group_domain(job, domain, sizeof(domain), &err) < 0) {
		fail_set(&one, SMTPC_PERM, "5.1.3", "%s", err);
	} else if (dc->resolver == NULL && dns_resolver_new(&dc->mx->dns, &dc->resolver, &err) < 0) {
		fail_set(&one, SMTPC_TEMP, "4.3.5", "DNS resolver: %s", err);
	} else {
		struct mx_try t = {.dc = dc, .job = job, .domain = domain};
		t.mode = domain_mode(dc->mx, domain);
		fail_set(&t.last, SMTPC_TEMP, "4.4.1", "no MX host of %s could be reached", domain);
		struct dns_mx_list *mx = sg_malloc(sizeof(*mx));
		int rc = find_mx(&t, mx, &one);
		if (rc == 0 && t.mode == TLS_POLICY_MTA_STS) {
			t.sts = sg_malloc(sizeof(*t.sts));
			deliver_mtasts_begin(dc, domain, job->queue_id, t.sts);
		}
		for (size_t i = 0; rc == 0 && i < mx->count; i++)
			if (try_host(&t, mx->mx[i].host, st, relay_r, relaysize) == 1)
				rc = 1;
		sg_free(&mx);
		sg_free(&t.sts);
		if (rc == 1)
			return;
		if (rc == 0)
			one = t.last;
	}
	if (dc->cancel != NULL && *dc->cancel)
		fail_set(&one, SMTPC_ABANDONED, "4.3.2", "shutting down");
	deliver_fail_all(st, job->nrcpt, &one);
}

/* mtasts_lookup.c: which MTA-STS policy applies to a recipient domain now (RFC 8461 3, 5.1):
 * the TXT id decides whether the cached policy is current; a new id or an expired policy is
 * fetched; a failed fetch keeps an unexpired cached policy in force (an attacker who blocks the
 * policy host or the TXT record gains nothing while the cache lasts). */
#include "mtasts/mtasts.h"

#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "core/sg_time.h"
#include "dns/dns.h"
#include "store/store_mta_sts.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void why_set(char *why, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void why_set(char *why, size_t size, const char *fmt, ...)
{
	char raw[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	sg_printable(why, size, raw, size - 1);
}

static const char *qid(const struct mtasts_ctx *c) { return c->log_id != NULL ? c->log_id : "-"; }

/* The id of the domain's TXT record: 1 with id, 0 when there is no valid record, -1 when the
 * lookup failed (timeout, SERVFAIL, bogus). */
static int txt_id(const struct mtasts_ctx *c, const char *domain, char *id, size_t idsize,
                  char *why, size_t whysize)
{
	char name[DNS_NAME_MAX + 1];
	int n = snprintf(name, sizeof(name), "_mta-sts.%s", domain);
	if (n < 0 || (size_t)n >= sizeof(name)) {
		why_set(why, whysize, "domain name too long for _mta-sts");
		return 0;
	}
	struct dns_txt_list l;
	const char *err = NULL;
	if (dns_lookup_txt(c->dns, name, &l, &err) < 0) {
		why_set(why, whysize, "TXT lookup of %s failed: %s", name, err);
		dns_txt_list_free(&l);
		return -1;
	}
	int rc = mtasts_txt_parse(l.txt, l.count, id, idsize, &err);
	dns_txt_list_free(&l);
	if (rc < 0) {
		why_set(why, whysize, "%s: %s", name, err);
		return 0;
	}
	return 1;
}

static bool is_text_plain(const char *ct)
{
	size_t n = strcspn(ct, "; \t");
	return n == 10 && strncasecmp(ct, "text/plain", 10) == 0;
}

/* The answer of the policy host, judged: 0 with body parsed into *p, or -1 with why. */
static int judge_response(const struct fetch_response *resp, const char *url,
                          struct mtasts_policy *p, char *why, size_t whysize)
{
	const char *err = NULL;
	if (resp->status >= 300 && resp->status < 400)
		why_set(why, whysize, "policy refused: %s answered %d with a redirect to %s (RFC 8461 "
		        "forbids following it)", url, resp->status, resp->location);
	else if (resp->status != 200)
		why_set(why, whysize, "policy refused: %s answered HTTP %d", url, resp->status);
	else if (!is_text_plain(resp->content_type))
		why_set(why, whysize, "policy refused: %s is served as '%s', not text/plain", url,
		        resp->content_type);
	else if (mtasts_policy_parse(resp->body, resp->body_len, p, &err) < 0)
		why_set(why, whysize, "policy refused: %s: %s", url, err);
	else
		return 0;
	return -1;
}

/* Fetches and parses the policy of domain; on success caches it under id. */
static int fetch_policy(const struct mtasts_ctx *c, const char *domain, const char *id,
                        struct mtasts_policy *p, char *why, size_t whysize)
{
	char url[FETCH_URL_MAX];
	char port[8] = "";
	if (c->port != 0 && c->port != 443)
		snprintf(port, sizeof(port), ":%d", c->port);
	int n = snprintf(url, sizeof(url), "https://mta-sts.%s%s/.well-known/mta-sts.txt", domain,
	                 port);
	if (n < 0 || (size_t)n >= sizeof(url)) {
		why_set(why, whysize, "domain name too long for a policy URL");
		return -1;
	}
	struct fetch_request req = {
		.url = url, .timeout_ms = c->timeout_ms, .max_body = MTASTS_POLICY_MAX,
		.max_redirects = 0, .ca_file = c->ca_file, .accept = "text/plain",
		.resolve = mtasts_resolve_dns, .resolve_ctx = c->dns, .cancel = c->cancel};
	struct fetch_response resp;
	const char *err = NULL;
	if (fetch_get(&req, &resp, &err) < 0) {
		why_set(why, whysize, "policy fetch failed: %s", err);
		return -1;
	}
	int rc = judge_response(&resp, url, p, why, whysize);
	if (rc == 0) {
		time_t now = sg_wall();
		sg_strlcpy(p->id, id, sizeof(p->id));
		p->expires = now + p->max_age;
		struct store_mta_sts row = {.policy = resp.body, .fetched = now, .expires = p->expires};
		sg_strlcpy(row.domain, domain, sizeof(row.domain));
		sg_strlcpy(row.id, id, sizeof(row.id));
		sg_info("%s: mta-sts: policy of %s fetched (id %s, mode %s, %zu mx, max_age %ld)",
		        qid(c), domain, id, mtasts_mode_name(p->mode), p->nmx, p->max_age);
		if (c->store != NULL && store_mta_sts_put(c->store, &row, &err) < 0)
			sg_warn("%s: mta-sts: cannot cache the policy of %s: %s", qid(c), domain, err);
	}
	fetch_response_free(&resp);
	return rc;
}

/* The cached policy of domain, if one is unexpired: 1 with *p, else 0. */
static int cached_policy(const struct mtasts_ctx *c, const char *domain, struct mtasts_policy *p)
{
	struct store_mta_sts row;
	const char *err = NULL;
	if (c->store == NULL)
		return 0;
	int rc = store_mta_sts_get(c->store, domain, &row, &err);
	if (rc < 0)
		sg_warn("%s: mta-sts: cannot read the cached policy of %s: %s", qid(c), domain, err);
	if (rc == 1 && (row.expires <= sg_wall() ||
	                mtasts_policy_parse(row.policy, strlen(row.policy), p, &err) < 0))
		rc = 0;
	if (rc == 1) {
		sg_strlcpy(p->id, row.id, sizeof(p->id));
		p->expires = row.expires;
		p->from_cache = true;
	}
	store_mta_sts_free(&row);
	return rc == 1;
}

/* Which policy is current: 1 with *p, 0 none (why says why). */
static int current_policy(const struct mtasts_ctx *c, const char *domain,
                          struct mtasts_policy *p, char *why, size_t whysize)
{
	char id[MTASTS_ID_MAX + 1];
	struct mtasts_policy *cached = sg_malloc(sizeof(*cached));
	bool have = cached_policy(c, domain, cached) == 1;
	int t = txt_id(c, domain, id, sizeof(id), why, whysize);
	int rc = 1;
	if (have && (t <= 0 || strcmp(cached->id, id) == 0)) {
		if (t <= 0) /* no record now, or DNS failing: the cache stands until it expires */
			sg_info("%s: mta-sts: %s; the cached policy of %s (id %s) stays in force", qid(c),
			        why, domain, cached->id);
		*p = *cached;
	} else if (t <= 0) {
		rc = 0;
	} else if (fetch_policy(c, domain, id, p, why, whysize) < 0) {
		sg_warn("%s: mta-sts: %s: %s%s", qid(c), domain, why,
		        have ? "; the cached policy stays in force" : "; no cached policy");
		if (have)
			*p = *cached;
		rc = have ? 1 : 0;
	}
	sg_free(&cached);
	return rc;
}

int mtasts_policy_for(const struct mtasts_ctx *c, const char *domain, struct mtasts_policy *p_r,
                      char *why_r, size_t whysize)
{
	memset(p_r, 0, sizeof(*p_r));
	why_r[0] = '\0';
	if (current_policy(c, domain, p_r, why_r, whysize) == 0)
		return 0;
	if (p_r->mode == MTASTS_NONE) {
		why_set(why_r, whysize, "the policy of %s has mode none", domain);
		return 0;
	}
	return 1;
}

/* ---- the policy host's addresses, from the DNS module ---- */
static bool addr_fill(const char *text, unsigned short port, struct fetch_addr *a)
{
	memset(a, 0, sizeof(*a));
	struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;
	if (inet_pton(AF_INET6, text, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		a->len = sizeof(*s6);
		return true;
	}
	if (inet_pton(AF_INET, text, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		a->len = sizeof(*s4);
		return true;
	}
	return false;
}

int mtasts_resolve_dns(void *ctx, const char *host, const char *port, struct fetch_addr *addrs,
                       size_t max, const char **error_r)
{
	const char *err = NULL;
	long long pn = sg_strtonum(port, 1, 65535, &err);
	struct dns_addr_list *l = sg_malloc(sizeof(*l));
	int n = 0;
	if (err != NULL)
		*error_r = "bad port";
	else if (dns_lookup_addrs(ctx, host, l, error_r) == 0 && l->count == 0)
		*error_r = "host name has no address";
	else
		for (size_t i = 0; i < l->count && (size_t)n < max; i++)
			n += addr_fill(l->addr[i], (unsigned short)pn, &addrs[n]) ? 1 : 0;
	sg_free(&l);
	return n > 0 ? n : -1;
}

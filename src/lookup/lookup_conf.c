/* lookup_conf.c: the lookup chain's configuration (policy.key_lookup, lookup.*), names, and the
 * small helpers the sources share. */
#include "lookup/lookup_priv.h"

#include "core/settings.h"
#include "core/sg_mem.h"
#include "core/sg_time.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const source_names[] = {
	[LOOKUP_LDAP] = "ldap", [LOOKUP_VKS] = "vks", [LOOKUP_HKP] = "hkp",
	[LOOKUP_WKD] = "wkd",   [LOOKUP_DNS] = "dns",
};
static const char *const outcome_names[] = {
	[LOOKUP_FOUND] = "found",     [LOOKUP_NOTHING] = "nothing",
	[LOOKUP_REFUSED] = "refused", [LOOKUP_FAILED] = "failed",
};

const char *lookup_source_name(enum lookup_source src)
{
	return (size_t)src < LOOKUP_NSOURCES ? source_names[src] : "?";
}

int lookup_source_parse(const char *name, enum lookup_source *src_r)
{
	for (size_t i = 0; i < LOOKUP_NSOURCES; i++)
		if (strcmp(source_names[i], name) == 0) {
			*src_r = (enum lookup_source)i;
			return 0;
		}
	return -1;
}

const char *lookup_outcome_name(enum lookup_outcome o)
{
	return (size_t)o < sizeof(outcome_names) / sizeof(outcome_names[0]) ? outcome_names[o] : "?";
}

void lookup_answer_clear(struct lookup_answer *a)
{
	sg_free(&a->data);
	memset(a, 0, sizeof(*a));
}

void lookup_certs_free(struct lookup_certs *c)
{
	for (size_t i = 0; i < c->n; i++)
		sg_free(&c->der[i]);
	memset(c, 0, sizeof(*c));
}

void lookup_certs_add(struct lookup_certs *c, const void *der, size_t len)
{
	if (c->n >= LOOKUP_MAX_CERTS || len == 0)
		return;
	c->der[c->n] = sg_memdup(der, len);
	c->len[c->n++] = len;
}

int lookup_left_ms(int64_t deadline_ms)
{
	int64_t left = deadline_ms - sg_mono_ms();
	return left > 0 ? (int)left : 0;
}

void lookup_set(struct lookup_answer *a, enum lookup_outcome o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->detail, sizeof(a->detail), fmt, ap);
	va_end(ap);
	a->outcome = o;
}

struct lookup *lookup_new(const struct settings *s, const struct smime_trust *trust,
                          const char **error_r)
{
	struct lookup *lk = sg_calloc(1, sizeof(*lk));
	struct sg_strlist chain;
	sg_strlist_split(&chain, settings_get(s, "policy.key_lookup"));
	for (size_t i = 0; i < chain.count; i++) {
		enum lookup_source src;
		if (lookup_source_parse(chain.items[i], &src) == 0 && lk->nchain < LOOKUP_NSOURCES)
			lk->chain[lk->nchain++] = src;
	}
	sg_strlist_free(&chain);
	sg_strlist_split_spaces(&lk->ldap, settings_get(s, "lookup.ldap"));
	sg_strlist_split_spaces(&lk->vks, settings_get(s, "lookup.vks"));
	sg_strlist_split_spaces(&lk->hkp, settings_get(s, "lookup.hkp"));
	sg_strlist_split(&lk->internal, settings_get(s, "gateway.internal_domains"));
	if ((settings_get(s, "fetch.ca_file")[0] != '\0' &&
	     settings_path(s, "fetch.ca_file", lk->ca_file, sizeof(lk->ca_file)) < 0) ||
	    dns_config_from_settings(s, &lk->dns, lk->dns_anchor, sizeof(lk->dns_anchor),
	                             error_r) < 0) {
		*error_r = "fetch.ca_file or dns.trust_anchor: path too long";
		lookup_free(&lk);
		return NULL;
	}
	lk->wkd_port = (int)settings_number(s, "lookup.wkd_port");
	lk->max_wait_ms = (int)settings_number(s, "lookup.max_wait") * 1000;
	lk->cache_s = (int)settings_number(s, "lookup.cache_hours") * 3600;
	lk->max_size = (size_t)settings_number(s, "lookup.max_size");
	lk->trust = trust;
	return lk;
}

void lookup_free(struct lookup **lkp)
{
	struct lookup *lk = *lkp;
	if (lk == NULL)
		return;
	sg_strlist_free(&lk->ldap);
	sg_strlist_free(&lk->vks);
	sg_strlist_free(&lk->hkp);
	sg_strlist_free(&lk->internal);
	sg_free(lkp);
}

struct dns_resolver *lookup_resolver(const struct lookup *lk, int64_t deadline_ms,
                                     struct lookup_answer *a)
{
	struct dns_config cfg = lk->dns;
	struct dns_resolver *r = NULL;
	const char *err;
	cfg.timeout_ms = lookup_left_ms(deadline_ms);
	if (cfg.timeout_ms == 0) {
		lookup_set(a, LOOKUP_FAILED, "lookup.max_wait used up");
		return NULL;
	}
	if (dns_resolver_new(&cfg, &r, &err) < 0) {
		lookup_set(a, LOOKUP_FAILED, "resolver (dns.*): %s", err);
		return NULL;
	}
	return r;
}

bool lookup_enabled(const struct lookup *lk) { return lk != NULL && lk->nchain > 0; }

size_t lookup_chain(const struct lookup *lk, enum lookup_source *srcs)
{
	memcpy(srcs, lk->chain, lk->nchain * sizeof(*srcs));
	return lk->nchain;
}

bool lookup_is_internal(const struct lookup *lk, const char *addr)
{
	const char *at = strrchr(addr, '@');
	if (at == NULL)
		return false;
	char domain[SG_ADDR_MAX];
	sg_strlcpy(domain, at + 1, sizeof(domain));
	size_t n = strlen(domain);
	if (n > 0 && domain[n - 1] == '.')
		domain[n - 1] = '\0';
	return sg_strlist_contains_nocase(&lk->internal, domain);
}

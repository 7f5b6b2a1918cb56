/* lookup_chain.c: the sources of policy.key_lookup asked in order within lookup.max_wait, the
 * first valid answer wins, and every answer (hit or miss) is cached in the store so that the
 * next mail to the address asks nobody until lookup.cache_hours have passed. */
#include "lookup/lookup_priv.h"

#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "core/sg_time.h"

#include <string.h>

typedef void (*source_fn)(const struct lookup *lk, const char *addr, int64_t deadline_ms,
                          struct lookup_answer *a);

static const source_fn sources[LOOKUP_NSOURCES] = {
	[LOOKUP_LDAP] = lookup_ldap_ask, [LOOKUP_VKS] = lookup_vks_ask, [LOOKUP_HKP] = lookup_hkp_ask,
	[LOOKUP_WKD] = lookup_wkd_ask,   [LOOKUP_DNS] = lookup_dns_ask,
};

/* An address we are willing to put into a query: local@domain, printable ASCII, no spaces,
 * quotes or controls (RFC 5321 dot-atoms; quoted local parts are never looked up). */
static bool address_ok(const char *addr)
{
	const char *at = strrchr(addr, '@');
	size_t len = strlen(addr);
	if (at == NULL || at == addr || at[1] == '\0' || len >= SG_ADDR_MAX || len > 254)
		return false;
	for (const char *c = addr; *c != '\0'; c++)
		if (*c <= ' ' || *c >= 0x7f || strchr("\"\\()<>,;:[]", *c) != NULL ||
		    (*c == '@' && c != at))
			return false;
	return true;
}

void lookup_ask(const struct lookup *lk, enum lookup_source src, const char *addr,
                int budget_ms, struct lookup_answer *a_r)
{
	memset(a_r, 0, sizeof(*a_r));
	a_r->source = src;
	if ((size_t)src >= LOOKUP_NSOURCES) {
		lookup_set(a_r, LOOKUP_FAILED, "unknown source");
		return;
	}
	if (!address_ok(addr)) {
		lookup_set(a_r, LOOKUP_REFUSED, "the address is not looked up (unusual characters)");
		return;
	}
	if (lookup_is_internal(lk, addr)) {
		lookup_set(a_r, LOOKUP_REFUSED, "internal domain: never looked up");
		return;
	}
	sources[src](lk, addr, sg_mono_ms() + budget_ms, a_r);
	if (a_r->outcome != LOOKUP_FOUND) {
		sg_free(&a_r->data);
		a_r->len = 0;
	}
}

static void log_answer(const char *addr, const struct lookup_answer *a)
{
	char to[SG_LOG_PEER_TEXT_MAX + 4], detail[sizeof(a->detail)];
	sg_printable(to, sizeof(to), addr, SG_LOG_PEER_TEXT_MAX);
	sg_printable(detail, sizeof(detail), a->detail, sizeof(detail) - 4);
	if (a->outcome == LOOKUP_REFUSED)
		sg_warn("key lookup <%s> %s: answer refused: %s", to, lookup_source_name(a->source),
		        detail);
	else if (a->outcome == LOOKUP_FAILED)
		sg_warn("key lookup <%s> %s: no answer: %s", to, lookup_source_name(a->source), detail);
	else
		sg_info("key lookup <%s> %s: %s: %s", to, lookup_source_name(a->source),
		        lookup_outcome_name(a->outcome), detail);
}

/* Runs the chain; fills e (not yet stored) with the first hit or the miss. */
static void run_chain(const struct lookup *lk, const char *addr, struct store_lookup *e)
{
	int64_t deadline = sg_mono_ms() + lk->max_wait_ms;
	char asked[64] = "";
	for (size_t i = 0; i < lk->nchain && e->kind == STORE_LOOKUP_NONE; i++) {
		struct lookup_answer a;
		int left = lookup_left_ms(deadline);
		const char *name = lookup_source_name(lk->chain[i]);
		sg_snprintf(asked + strlen(asked), sizeof(asked) - strlen(asked), "%s%s",
		            asked[0] != '\0' ? "," : "", name);
		if (left == 0) {
			memset(&a, 0, sizeof(a));
			a.source = lk->chain[i];
			lookup_set(&a, LOOKUP_FAILED, "lookup.max_wait (%d ms) used up", lk->max_wait_ms);
		} else {
			lookup_ask(lk, lk->chain[i], addr, left, &a);
		}
		log_answer(addr, &a);
		if (a.outcome == LOOKUP_FOUND) {
			e->kind = a.kind;
			e->data = a.data;
			e->data_len = a.len;
			a.data = NULL;
			sg_strlcpy(e->fingerprint, a.fingerprint, sizeof(e->fingerprint));
			e->not_after = a.not_after;
			sg_strlcpy(e->source, name, sizeof(e->source));
			sg_strlcpy(e->detail, a.detail, sizeof(e->detail));
		}
		lookup_answer_clear(&a);
	}
	if (e->kind == STORE_LOOKUP_NONE) {
		sg_strlcpy(e->source, asked, sizeof(e->source));
		sg_strlcpy(e->detail, "no source had a usable certificate or key", sizeof(e->detail));
	}
}

int lookup_discover(const struct lookup *lk, struct store *st, const char *addr,
                    struct store_lookup *e_r, const char **error_r)
{
	memset(e_r, 0, sizeof(*e_r));
	if (!lookup_enabled(lk) || lookup_is_internal(lk, addr) || !address_ok(addr))
		return 0;
	time_t now = sg_wall();
	int rc = store_lookup_get(st, addr, now, e_r, error_r);
	if (rc != 0)
		return rc < 0 ? -1 : e_r->kind != STORE_LOOKUP_NONE;
	sg_strlcpy(e_r->address, addr, sizeof(e_r->address));
	run_chain(lk, addr, e_r);
	e_r->looked_at = now;
	e_r->expires = now + lk->cache_s;
	if (store_lookup_put(st, e_r, error_r) < 0) {
		store_lookup_clear(e_r);
		return -1;
	}
	return e_r->kind != STORE_LOOKUP_NONE;
}

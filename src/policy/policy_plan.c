/* policy_plan.c: direction, routing and the per-recipient plan. Every plan is PASS for now;
 * the action table is where later channels (S/MIME, PGP, SecurePDF, webmail, hold) plug in. */
#include "policy/policy.h"

#include "core/settings.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <string.h>

struct policy {
	struct sg_strlist internal_domains;
	char *route_internal;
	char *route_external;
};

static const char *const direction_names[] = {
	[POLICY_DIR_INTERNAL] = "internal",
	[POLICY_DIR_OUTBOUND] = "outbound",
	[POLICY_DIR_INBOUND] = "inbound",
};

static const char *const action_names[] = {
	[POLICY_PASS] = "pass",
};

struct policy *policy_new_from(const char *internal_domains, const char *route_internal,
                               const char *route_external)
{
	struct policy *p = sg_calloc(1, sizeof(*p));
	sg_strlist_split(&p->internal_domains, internal_domains);
	p->route_internal = sg_strdup(route_internal);
	p->route_external = sg_strdup(route_external);
	return p;
}

struct policy *policy_new(const struct settings *s)
{
	return policy_new_from(settings_get(s, "gateway.internal_domains"),
	                       settings_get(s, "route.internal"), settings_get(s, "route.external"));
}

void policy_free(struct policy **pp)
{
	struct policy *p = *pp;
	if (p == NULL)
		return;
	sg_strlist_free(&p->internal_domains);
	sg_free(&p->route_internal);
	sg_free(&p->route_external);
	sg_free(pp);
}

bool policy_is_internal(const struct policy *p, const char *addr)
{
	const char *at = strrchr(addr, '@');
	if (at == NULL || at[1] == '\0')
		return false;
	const char *domain = at + 1;
	/* A trailing dot names the same domain; anything else must match exactly. */
	size_t len = strlen(domain);
	if (domain[len - 1] == '.') {
		char tmp[256];
		if (len >= sizeof(tmp))
			return false;
		memcpy(tmp, domain, len - 1);
		tmp[len - 1] = '\0';
		return sg_strlist_contains_nocase(&p->internal_domains, tmp);
	}
	return sg_strlist_contains_nocase(&p->internal_domains, domain);
}

enum policy_direction policy_direction(const struct policy *p, const struct policy_msg *m,
                                       const char *rcpt)
{
	bool rcpt_internal = policy_is_internal(p, rcpt);
	if (!rcpt_internal && policy_is_internal(p, m->sender))
		return POLICY_DIR_OUTBOUND;
	if (rcpt_internal && !m->internal_client)
		return POLICY_DIR_INBOUND;
	return POLICY_DIR_INTERNAL;
}

int policy_plan_rcpt(const struct policy *p, const struct policy_msg *m, const char *rcpt,
                     struct policy_plan *plan_r, const char **error_r)
{
	if (rcpt == NULL || rcpt[0] == '\0') {
		*error_r = "empty recipient address";
		return -1;
	}
	plan_r->direction = policy_direction(p, m, rcpt);
	plan_r->action = POLICY_PASS;
	plan_r->route = policy_is_internal(p, rcpt) ? p->route_internal : p->route_external;
	return 0;
}

bool policy_plan_equal(const struct policy_plan *a, const struct policy_plan *b)
{
	return a->action == b->action && strcmp(a->route, b->route) == 0;
}

const char *policy_direction_name(enum policy_direction d)
{
	return (size_t)d < sizeof(direction_names) / sizeof(direction_names[0]) ? direction_names[d]
	                                                                         : "?";
}

const char *policy_action_name(enum policy_action a)
{
	return (size_t)a < sizeof(action_names) / sizeof(action_names[0]) ? action_names[a] : "?";
}

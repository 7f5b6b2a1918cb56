/* policy_plan.c: direction, routing and the per-recipient plan. Outbound mail that must be
 * encrypted goes by the best channel the recipient has, and is refused (fail closed) when it
 * has none: it is never sent in clear. Inbound secure mail is decrypted and verified. */
#include "policy/policy.h"

#include "core/settings.h"
#include "mime/mime.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <string.h>

struct policy {
	struct sg_strlist internal_domains;
	char *route_internal;
	char *route_external;
	char *subject_tag;
	bool opportunistic;
	bool sign_outbound;
	enum policy_channel default_external;
	bool invite;
};

static const char *const direction_names[] = {
	[POLICY_DIR_INTERNAL] = "internal",
	[POLICY_DIR_OUTBOUND] = "outbound",
	[POLICY_DIR_INBOUND] = "inbound",
};

static const char *const action_names[] = {
	[POLICY_PASS] = "pass",       [POLICY_SMIME] = "smime",     [POLICY_PGP] = "pgp",
	[POLICY_PDF] = "pdf",         [POLICY_WEBMAIL] = "webmail", [POLICY_INBOUND] = "inbound",
	[POLICY_REFUSE] = "refuse",   [POLICY_HOLD] = "hold",       [POLICY_PORTAL] = "portal",
};

static const char *const channel_names[] = {
	[POLICY_CH_NONE] = "none", [POLICY_CH_SMIME] = "smime", [POLICY_CH_PGP] = "pgp",
	[POLICY_CH_PDF] = "pdf",   [POLICY_CH_WEBMAIL] = "webmail",
};

struct policy *policy_new_from(const char *internal_domains, const char *route_internal,
                               const char *route_external)
{
	struct policy *p = sg_calloc(1, sizeof(*p));
	sg_strlist_split(&p->internal_domains, internal_domains);
	p->route_internal = sg_strdup(route_internal);
	p->route_external = sg_strdup(route_external);
	p->subject_tag = sg_strdup("");
	p->default_external = POLICY_CH_PDF;
	p->invite = true;
	return p;
}

void policy_set_options(struct policy *p, const char *subject_tag, bool opportunistic,
                        bool sign_outbound, enum policy_channel default_external)
{
	sg_free(&p->subject_tag);
	p->subject_tag = sg_strdup(subject_tag);
	p->opportunistic = opportunistic;
	p->sign_outbound = sign_outbound;
	p->default_external = default_external;
}

void policy_set_invite(struct policy *p, bool invite) { p->invite = invite; }

const char *policy_subject_tag(const struct policy *p) { return p->subject_tag; }

struct policy *policy_new(const struct settings *s)
{
	struct policy *p = policy_new_from(settings_get(s, "gateway.internal_domains"),
	                                   settings_get(s, "route.internal"),
	                                   settings_get(s, "route.external"));
	enum policy_channel def = POLICY_CH_PDF;
	policy_channel_parse(settings_get(s, "policy.default_external_channel"), &def);
	policy_set_options(p, settings_get(s, "policy.encrypt_subject_tag"),
	                   settings_bool(s, "policy.opportunistic_encrypt"),
	                   settings_bool(s, "policy.sign_outbound"), def);
	policy_set_invite(p, settings_bool(s, "policy.invite_partners"));
	return p;
}

void policy_free(struct policy **pp)
{
	struct policy *p = *pp;
	if (p == NULL)
		return;
	sg_strlist_free(&p->internal_domains);
	sg_free(&p->route_internal);
	sg_free(&p->route_external);
	sg_free(&p->subject_tag);
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

const char *policy_encryption_trigger(const struct policy *p, const struct mime_info *mime)
{
	if (mime == NULL)
		return NULL;
	if (p->subject_tag[0] != '\0' && mime->subject != NULL &&
	    strcasestr(mime->subject, p->subject_tag) != NULL)
		return "subject tag";
	if (mime->sensitivity != NULL && sg_streq_nocase(mime->sensitivity, "Company-Confidential"))
		return "Sensitivity header";
	if (mime_info_is_smime_encrypted(mime))
		return "encrypted by the sender";
	return NULL;
}

/* The partner gateway's domain certificate or key (`domain set-channel` picks when it holds
 * both), or POLICY_REFUSE when the recipient's domain has neither. */
static enum policy_action domain_channel(const struct policy_rcpt_info *ri)
{
	if (ri->domain_channel == POLICY_CH_PGP && ri->domain_pgp)
		return POLICY_PGP;
	if (ri->domain_smime)
		return POLICY_SMIME;
	return ri->domain_pgp ? POLICY_PGP : POLICY_REFUSE;
}

/* The channel for an outbound recipient: the partner's choice when it is usable, else a
 * certificate, else a key (personal ones win), else the partner's domain certificate or key,
 * else the default channel if the partner can use it. */
static enum policy_action outbound_channel(const struct policy *p,
                                           const struct policy_rcpt_info *ri, bool *via_domain_r)
{
	if (ri->channel == POLICY_CH_SMIME && ri->smime_usable)
		return POLICY_SMIME;
	if (ri->channel == POLICY_CH_PGP && ri->pgp_usable)
		return POLICY_PGP;
	if (ri->channel == POLICY_CH_PDF && ri->pdf_ready)
		return POLICY_PDF;
	if (ri->channel == POLICY_CH_WEBMAIL && ri->known)
		return POLICY_WEBMAIL;
	if (ri->smime_usable)
		return POLICY_SMIME;
	if (ri->pgp_usable)
		return POLICY_PGP;
	enum policy_action domain = domain_channel(ri);
	if (domain != POLICY_REFUSE) {
		*via_domain_r = true;
		return domain;
	}
	if (p->default_external == POLICY_CH_PDF && ri->pdf_ready)
		return POLICY_PDF;
	if (p->default_external == POLICY_CH_WEBMAIL && ri->known)
		return POLICY_WEBMAIL;
	return POLICY_REFUSE;
}

/* Discovery only before a fallback: not for a recipient who can already be encrypted to (a
 * personal key, or the domain key an admin exchanged with the partner's gateway: both rank
 * above anything a directory answers), nor for a partner who chose SecurePDF or webmail and
 * can use it (a lookup tells a third party whom we write to). */
static bool wants_discovery(const struct policy_msg *m, const struct policy_rcpt_info *ri)
{
	if (m->discover == NULL || ri->smime_usable || ri->pgp_usable || ri->domain_smime ||
	    ri->domain_pgp)
		return false;
	return !(ri->channel == POLICY_CH_PDF && ri->pdf_ready) &&
	       !(ri->channel == POLICY_CH_WEBMAIL && ri->known);
}

static void plan_outbound(const struct policy *p, const struct policy_msg *m, const char *rcpt,
                          struct policy_plan *plan)
{
	struct policy_rcpt_info ri = {0};
	if (m->lookup != NULL && m->lookup(m->lookup_ctx, rcpt, &ri) < 0) {
		ri = (struct policy_rcpt_info){0};
	}
	plan->trigger = m->must_encrypt ? "released after registration"
	                                : policy_encryption_trigger(p, m->mime);
	if (plan->trigger == NULL && p->opportunistic && (ri.smime_usable || ri.pgp_usable))
		plan->trigger = "opportunistic encryption";
	/* A domain whose gateway exchanged keys with us gets all its mail encrypted: that is what
	 * the exchange is for (its users with personal keys get theirs). */
	if (plan->trigger == NULL && (ri.domain_smime || ri.domain_pgp))
		plan->trigger = "domain encryption";
	if (plan->trigger == NULL)
		return;
	if (wants_discovery(m, &ri) && m->discover(m->lookup_ctx, rcpt, &ri) < 0)
		ri.smime_usable = ri.pgp_usable = false;
	plan->action = outbound_channel(p, &ri, &plan->via_domain);
	/* A partner who has not registered yet is invited; the mail waits for the registration.
	 * Mail released after registration never loops back into a hold. */
	if (plan->action == POLICY_REFUSE && p->invite && !ri.registered && !m->must_encrypt)
		plan->action = POLICY_HOLD;
	if (plan->action == POLICY_REFUSE)
		plan->reason = ri.known ? "the recipient has no usable certificate, key or secure channel"
		                        : "the recipient has no certificate or key and is not registered "
		                          "for secure mail";
	plan->sign = p->sign_outbound && (plan->action == POLICY_SMIME || plan->action == POLICY_PGP);
	/* A SecurePDF is made for one password, a webmail copy for one partner: every recipient
	 * gets its own. */
	plan->individual = plan->action == POLICY_PDF || plan->action == POLICY_HOLD ||
	                   plan->action == POLICY_WEBMAIL ||
	                   (plan->action != POLICY_REFUSE && m->mime != NULL &&
	                    !mime_info_is_visible(m->mime, rcpt));
}

/* Partners write on the portal to internal addresses only; the portal checks that already,
 * this is the rule's second line. */
static void plan_portal(const struct policy *p, const char *rcpt, struct policy_plan *plan)
{
	plan->direction = POLICY_DIR_INBOUND;
	if (policy_is_internal(p, rcpt)) {
		plan->action = POLICY_PORTAL;
		return;
	}
	plan->action = POLICY_REFUSE;
	plan->reason = "mail written on the portal may only go to internal addresses";
}

int policy_plan_rcpt(const struct policy *p, const struct policy_msg *m, const char *rcpt,
                     struct policy_plan *plan_r, const char **error_r)
{
	if (rcpt == NULL || rcpt[0] == '\0') {
		*error_r = "empty recipient address";
		return -1;
	}
	*plan_r = (struct policy_plan){.action = POLICY_PASS};
	plan_r->direction = policy_direction(p, m, rcpt);
	plan_r->route = policy_is_internal(p, rcpt) ? p->route_internal : p->route_external;
	if (m->from_portal)
		plan_portal(p, rcpt, plan_r);
	else if (plan_r->direction == POLICY_DIR_OUTBOUND)
		plan_outbound(p, m, rcpt, plan_r);
	else if (plan_r->direction == POLICY_DIR_INBOUND && m->mime != NULL &&
	         (mime_info_is_smime(m->mime) || mime_info_is_pgp_mime(m->mime) ||
	          m->mime->inline_pgp || m->mime->nested_smime_signed))
		plan_r->action = POLICY_INBOUND;
	return 0;
}

bool policy_plan_equal(const struct policy_plan *a, const struct policy_plan *b)
{
	if (a == b)
		return true;
	return !a->individual && !b->individual && a->action == b->action && a->sign == b->sign &&
	       a->via_domain == b->via_domain && strcmp(a->route, b->route) == 0;
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

const char *policy_channel_name(enum policy_channel c)
{
	return (size_t)c < sizeof(channel_names) / sizeof(channel_names[0]) ? channel_names[c] : "?";
}

int policy_channel_parse(const char *name, enum policy_channel *c_r)
{
	for (size_t i = 1; i < sizeof(channel_names) / sizeof(channel_names[0]); i++) {
		if (strcmp(name, channel_names[i]) == 0) {
			*c_r = (enum policy_channel)i;
			return 0;
		}
	}
	return -1;
}

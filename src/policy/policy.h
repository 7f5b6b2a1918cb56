/* policy.h: what happens to each recipient of a message: its direction (outbound, inbound,
 * internal), the action (for now always pass; later S/MIME, PGP, SecurePDF, webmail, hold) and
 * the route to its next hop. Recipients whose plans are equal share one delivery. */
#ifndef SG_POLICY_H
#define SG_POLICY_H

#include <stdbool.h>
#include <stddef.h>

struct settings;
struct mime_info;

enum policy_direction {
	POLICY_DIR_INTERNAL, /* neither of the two below */
	POLICY_DIR_OUTBOUND, /* internal sender domain to an external recipient */
	POLICY_DIR_INBOUND,  /* internal recipient, client outside smtp.internal_networks */
};

/* Later channels add members here and a row in policy_plan.c's action table. */
enum policy_action {
	POLICY_PASS, /* deliver the message unchanged */
};

struct policy_plan {
	enum policy_direction direction;
	enum policy_action action;
	const char *route; /* "smtp:HOST:PORT" or "maildir:PATH", owned by the policy */
};

/* What the planner knows about the message as a whole. */
struct policy_msg {
	const char *sender;        /* envelope sender, "" for <> */
	bool internal_client;      /* the client was in smtp.internal_networks */
	const struct mime_info *mime; /* parsed headers, or NULL */
};

struct policy;
/* Takes gateway.internal_domains, route.internal and route.external from settings. */
struct policy *policy_new(const struct settings *s);
/* For tests and tools: the same from plain values (domains comma or space separated). */
struct policy *policy_new_from(const char *internal_domains, const char *route_internal,
                               const char *route_external);
void policy_free(struct policy **p);

/* True if addr's domain (after the last '@') is one of the internal domains. */
bool policy_is_internal(const struct policy *p, const char *addr);
enum policy_direction policy_direction(const struct policy *p, const struct policy_msg *m,
                                       const char *rcpt);
/* Fills *plan_r for one recipient. Returns 0, or -1 with *error_r if no plan can be made. */
int policy_plan_rcpt(const struct policy *p, const struct policy_msg *m, const char *rcpt,
                     struct policy_plan *plan_r, const char **error_r);
/* True if two recipients with these plans can share one delivery. */
bool policy_plan_equal(const struct policy_plan *a, const struct policy_plan *b);
const char *policy_direction_name(enum policy_direction d);
const char *policy_action_name(enum policy_action a);

#endif

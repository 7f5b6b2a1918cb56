/* policy.h: what happens to each recipient of a message: its direction (outbound, inbound,
 * internal), the action (pass, S/MIME, PGP, SecurePDF, webmail, hold for registration, ...)
 * and the route to its next hop. Recipients whose plans are equal share one delivery. */
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

/* Each action has one transform (queue/transform.c) and a name in policy_plan.c. */
enum policy_action {
	POLICY_PASS,    /* deliver the message unchanged */
	POLICY_SMIME,   /* encrypt (and sign) with S/MIME */
	POLICY_PGP,     /* encrypt (and sign) with PGP/MIME */
	POLICY_PDF,     /* SecurePDF with the partner's password */
	POLICY_WEBMAIL, /* keep on the portal, send a notification */
	POLICY_INBOUND, /* decrypt and verify secure mail for an internal recipient */
	POLICY_REFUSE,  /* must be encrypted and cannot be: bounce (fail closed) */
	POLICY_HOLD,    /* must be encrypted to a partner not yet registered: hold and invite */
	POLICY_PORTAL,  /* written on the portal by a partner: to the internal recipient */
	POLICY_ACTION_COUNT /* keep last: tests check that each action has a transform */
};

/* A partner's or user's way of receiving secure mail. */
enum policy_channel {
	POLICY_CH_NONE,
	POLICY_CH_SMIME,
	POLICY_CH_PGP,
	POLICY_CH_PDF,
	POLICY_CH_WEBMAIL,
	POLICY_CH_COUNT /* keep last */
};

/* What the store knows of a recipient; the queue manager fills it through a lookup. */
struct policy_rcpt_info {
	bool known;                  /* has an account (registered partner or user) */
	enum policy_channel channel; /* the channel the partner chose, or NONE */
	bool smime_usable;           /* a valid, unrevoked encryption certificate */
	bool pgp_usable;             /* an active encryption-capable OpenPGP key */
	bool pdf_ready;              /* a SecurePDF key record from registration */
	bool registered;             /* a portal account whose registration is complete */
	/* Gateway-to-gateway domain encryption (policy_domain.c): the partner's gateway holds a
	 * certificate or key for the recipient's whole domain, and the channel chosen for it. */
	bool domain_smime;
	bool domain_pgp;
	enum policy_channel domain_channel; /* `domain set-channel`, or NONE */
};
typedef int (*policy_lookup_fn)(void *ctx, const char *addr, struct policy_rcpt_info *info_r);

struct policy_plan {
	enum policy_direction direction;
	enum policy_action action;
	const char *route;  /* "smtp:HOST:PORT" or "maildir:PATH", owned by the policy */
	bool sign;          /* sign with the sender's gateway-held key */
	bool individual;    /* a Bcc recipient of encrypted mail: a message of its own */
	const char *reason; /* POLICY_REFUSE: why, for the DSN (static text) */
	const char *trigger;/* why encryption was required ("subject tag", ...), or NULL */
	bool via_domain;    /* POLICY_SMIME/PGP to the recipient domain's certificate or key */
};

/* What the planner knows about the message as a whole. */
struct policy_msg {
	const char *sender;        /* envelope sender, "" for <> */
	bool internal_client;      /* the client was in smtp.internal_networks */
	const struct mime_info *mime; /* parsed headers, or NULL */
	bool must_encrypt;         /* released after registration: encrypted whatever it says */
	bool from_portal;          /* written on the portal by the (authenticated) sender */
	policy_lookup_fn lookup;   /* recipient facts from the store, or NULL (nothing known) */
	void *lookup_ctx;
	/* Key discovery (policy.key_lookup), or NULL: asked only for an external recipient of mail
	 * that must be encrypted, who has no usable certificate or key and chose no channel of
	 * their own; it may set smime_usable or pgp_usable. Called with lookup_ctx. */
	policy_lookup_fn discover;
};

struct policy;
/* Takes gateway.internal_domains, route.internal and route.external from settings. */
struct policy *policy_new(const struct settings *s);
/* For tests and tools: the same from plain values (domains comma or space separated). */
struct policy *policy_new_from(const char *internal_domains, const char *route_internal,
                               const char *route_external);
void policy_free(struct policy **p);
/* The encryption options (policy.* settings) for policy_new_from users; policy_new sets them
 * from the settings. tag may be "" (no tag). */
void policy_set_options(struct policy *p, const char *subject_tag, bool opportunistic,
                        bool sign_outbound, enum policy_channel default_external);
/* policy.invite_partners: hold mail to unregistered partners and invite them (default on). */
void policy_set_invite(struct policy *p, bool invite);
const char *policy_subject_tag(const struct policy *p);
/* Why this message must be encrypted ("subject tag", "Sensitivity header"), or NULL. */
const char *policy_encryption_trigger(const struct policy *p, const struct mime_info *mime);

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
const char *policy_channel_name(enum policy_channel c);
/* "smime", "pgp", "pdf", "webmail" → channel; -1 otherwise. */
int policy_channel_parse(const char *name, enum policy_channel *c_r);

/* ---- policy_domain.c: domain encryption (gateway to gateway) ---- */

/* The store keeps a domain's certificates and keys under this pseudo-address ("@" + domain,
 * lower-cased), which no mailbox can have. */
#define POLICY_DOMAIN_OWNER_MAX 256
/* "@domain" of addr (or of a bare domain) into dst; -1 when there is no usable domain. */
int policy_domain_owner(const char *addr_or_domain, char *dst, size_t size);
/* True when owner (an address from the store) is a domain's pseudo-address. */
bool policy_domain_is_owner(const char *owner);
/* The local parts a domain certificate or key may name instead of the bare domain
 * ("postmaster", "domain", ...), NULL-terminated. */
extern const char *const policy_domain_locals[];
/* True when address (an address a certificate or user ID names) stands for domain: the
 * domain itself, "@domain", or one of policy_domain_locals at domain. */
bool policy_domain_names(const char *address, const char *domain);
/* "via=domain-certificate" or "via=domain-key" for an action, "" for personal ones. */
const char *policy_via_name(const struct policy_plan *plan);

#endif

/* keyd_policy.c: what each client role may ask keyd. smtpd, ldapd and metrics have no keyd
 * socket at all (no row): they cannot ask anything. The owner families bound what a client
 * may name; a compromised client can still name any owner of its families (see
 * docs/security.md, "The key process"). */
#include "keyd/keyd_server.h"

#include <string.h>

#define BASE (KEYD_ALLOW(KEYD_OP_PING) | KEYD_ALLOW(KEYD_OP_SEAL) | KEYD_ALLOW(KEYD_OP_UNSEAL))
#define KEYS (KEYD_ALLOW(KEYD_OP_KEY_LOAD) | KEYD_ALLOW(KEYD_OP_KEY_FREE) | \
              KEYD_ALLOW(KEYD_OP_SIGN) | KEYD_ALLOW(KEYD_OP_DECRYPT))

static const struct keyd_policy policies[] = {
	/* sign, decrypt, SecurePDF keys, OpenPGP, DKIM, held and quarantined mail, webmail */
	{.role = "qmgr",
	 .ops = BASE | KEYS | KEYD_ALLOW(KEYD_OP_PDF_UNWRAP) | KEYD_ALLOW(KEYD_OP_PGP_SIGN) |
	        KEYD_ALLOW(KEYD_OP_PGP_DECRYPT),
	 .owners = "cert: dkim: pgp: pdf: held: quarantine: webmail: ca-key"},
	/* the logged-in owner's webmail, PDF password, held mail, enrolment (PIN, the employee's
	 * key for the PKCS#12 download, the CA for issuing) */
	{.role = "portal",
	 .ops = BASE | KEYS | KEYD_ALLOW(KEYD_OP_CA_ISSUE) | KEYD_ALLOW(KEYD_OP_PKCS12),
	 .owners = "webmail: pdf: held: enrol-pin: cert: ca-key"},
	/* held mail released or expired, the CRL (the CA key), certificates renewed */
	{.role = "tick",
	 .ops = BASE | KEYS | KEYD_ALLOW(KEYD_OP_CA_ISSUE),
	 .owners = "held: ca-key cert: enrol-pin: pdf:"},
};

static const struct keyd_policy local = {.role = "local", .ops = ~(keyd_allow)0, .owners = "*"};

const struct keyd_policy *keyd_policy_find(const char *role)
{
	for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++)
		if (strcmp(policies[i].role, role) == 0)
			return &policies[i];
	return NULL;
}

const struct keyd_policy *keyd_policy_local(void)
{
	return &local;
}

size_t keyd_policy_count(void)
{
	return sizeof(policies) / sizeof(policies[0]);
}

const struct keyd_policy *keyd_policy_at(size_t i)
{
	return i < keyd_policy_count() ? &policies[i] : NULL;
}

bool keyd_policy_owner_ok(const struct keyd_policy *policy, const char *owner)
{
	const char *p = policy->owners;
	while (*p != '\0') {
		size_t n = strcspn(p, " ");
		if ((n == 1 && p[0] == '*') || (n > 0 && strncmp(owner, p, n) == 0))
			return true;
		p += n;
		p += strspn(p, " ");
	}
	return false;
}

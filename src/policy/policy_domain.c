/* policy_domain.c: the names of domain encryption. A partner's gateway that decrypts for its
 * whole domain has one certificate or key for it; the store keeps it under "@domain", an
 * address no mailbox can have, so that every store and LDAP path for addresses serves it. */
#include "policy/policy.h"

#include "core/sg_str.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* What gateways put into domain certificates and keys besides the bare domain (RFC 2142
 * role names and the names CipherMail-, SEPPmail- and Zertificon-style gateways use). */
const char *const policy_domain_locals[] = {
	"postmaster", "domain", "gateway", "encryption", "securemail", "smime", "openpgp", NULL,
};

static bool domain_char_ok(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '.';
}

int policy_domain_owner(const char *addr_or_domain, char *dst, size_t size)
{
	const char *at = strrchr(addr_or_domain, '@');
	const char *domain = at != NULL ? at + 1 : addr_or_domain;
	size_t len = strlen(domain);
	if (len > 0 && domain[len - 1] == '.')
		len--;
	if (len == 0 || len + 2 > size || len > 253 || domain[0] == '.' || domain[0] == '-' ||
	    memchr(domain, '.', len) == NULL)
		return -1;
	dst[0] = '@';
	for (size_t i = 0; i < len; i++) {
		if (!domain_char_ok(domain[i]))
			return -1;
		dst[i + 1] = (char)tolower((unsigned char)domain[i]);
	}
	dst[len + 1] = '\0';
	return 0;
}

bool policy_domain_is_owner(const char *owner)
{
	return owner != NULL && owner[0] == '@';
}

bool policy_domain_names(const char *address, const char *domain)
{
	const char *at = strrchr(address, '@');
	if (at == NULL)
		return sg_streq_nocase(address, domain);
	if (!sg_streq_nocase(at + 1, domain))
		return false;
	size_t local_len = (size_t)(at - address);
	if (local_len == 0)
		return true; /* "@domain" */
	for (size_t i = 0; policy_domain_locals[i] != NULL; i++)
		if (strlen(policy_domain_locals[i]) == local_len &&
		    strncasecmp(address, policy_domain_locals[i], local_len) == 0)
			return true;
	return false;
}

const char *policy_via_name(const struct policy_plan *plan)
{
	if (!plan->via_domain)
		return "";
	return plan->action == POLICY_PGP ? "via=domain-key" : "via=domain-certificate";
}

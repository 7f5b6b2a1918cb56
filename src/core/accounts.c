/* accounts.c: the account of each role (gateway.user, gateway.smtp_user, gateway.ldap_user).
 * Why one group and not shared files: smtpd must write the spool and nothing else; a group
 * on the spool alone gives exactly that, and the roles of gateway.user join it for the one
 * thing they share with smtpd. */
#include "core/accounts.h"

#include "core/settings.h"

#include <string.h>

const char *accounts_name(const struct settings *s, const char *account_key)
{
	const char *name = account_key != NULL ? settings_get(s, account_key) : "";
	return name[0] != '\0' ? name : settings_get(s, "gateway.user");
}

bool accounts_spool_shared(const struct settings *s)
{
	const char *smtp = accounts_name(s, "gateway.smtp_user");
	return smtp[0] != '\0' && strcmp(smtp, settings_get(s, "gateway.user")) != 0;
}

/* The spool's group: the primary group of the smtp account. */
static int spool_group(const struct settings *s, gid_t *gid_r, const char **error_r)
{
	struct sandbox_account smtp;
	if (sandbox_account_find(accounts_name(s, "gateway.smtp_user"), &smtp, error_r) < 0)
		return -1;
	*gid_r = smtp.gid;
	return 0;
}

int accounts_for_role(const struct settings *s, const char *account_key,
                      struct sandbox_account *a_r, bool *found_r, const char **error_r)
{
	const char *name = accounts_name(s, account_key);
	*found_r = name[0] != '\0';
	memset(a_r, 0, sizeof(*a_r));
	if (!*found_r)
		return 0;
	if (sandbox_account_find(name, a_r, error_r) < 0)
		return -1;
	bool own = account_key != NULL && settings_get(s, account_key)[0] != '\0' &&
	           strcmp(name, settings_get(s, "gateway.user")) != 0;
	if (own || !accounts_spool_shared(s))
		return 0;
	if (spool_group(s, &a_r->extra_gid, error_r) < 0)
		return -1;
	a_r->has_extra_gid = a_r->extra_gid != a_r->gid;
	return 0;
}

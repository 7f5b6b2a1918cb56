/* dir_auth.c: an employee's login: the service account finds the one entry that matches
 * what was typed, then the password is checked by a simple bind as that entry's DN on the
 * same connection. An empty password is refused before: many servers take an empty simple
 * bind as an anonymous success (RFC 4513 section 5.1.2). */
#include "directory/dir_priv.h"
#include "core/sg_log.h"
#include "core/sg_str.h"

#include <string.h>

/* A user name or address as typed: bounded, no control bytes. */
static bool user_ok(const char *user)
{
	size_t len = strlen(user);
	if (len == 0 || len >= DIR_LOGIN_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)user[i] < 0x20 || user[i] == 0x7f)
			return false;
	return true;
}

/* The single entry of user on ld: DIR_OK, DIR_DENIED (none, or several), or a failure. */
static enum dir_status find(const struct directory *d, LDAP *ld, const char *user,
                            struct dir_employee *emp_r, const char **error_r)
{
	char filter[DIR_FILTER_MAX];
	char *attrbuf[16];
	if (!user_ok(user) || dir_filter_build(d->user_filter, user, false, filter, sizeof(filter)) < 0) {
		*error_r = "the user name is empty, too long or holds control characters";
		return DIR_DENIED;
	}
	struct timeval tv = dir_conn_timeval(d);
	LDAPMessage *res = NULL;
	int rc = ldap_search_ext_s(ld, d->base_dn, LDAP_SCOPE_SUBTREE, filter,
	                           dir_conn_attrs(d, attrbuf), 0, NULL, NULL, &tv, 2, &res);
	int n = res != NULL ? ldap_count_entries(ld, res) : 0;
	enum dir_status st = DIR_OK;
	if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
		sg_warn("directory: search: %s (%d)", ldap_err2string(rc), rc);
		st = dir_conn_status(rc) == DIR_UNREACHABLE ? DIR_UNREACHABLE : DIR_ERROR;
		*error_r = st == DIR_UNREACHABLE ? "the directory cannot be reached (search timed out)"
		                                 : "the directory refused the search (directory.base_dn, "
		                                   "directory.user_filter: see the log)";
	} else if (n != 1 || rc == LDAP_SIZELIMIT_EXCEEDED) {
		*error_r = n == 0 ? "no employee matches this name in the directory"
		                  : "several employees match this name in the directory";
		st = DIR_DENIED;
	} else {
		dir_entry_read(d, ld, ldap_first_entry(ld, res), emp_r);
	}
	ldap_msgfree(res);
	return st;
}

enum dir_status dir_auth_lookup(struct directory *d, const char *user,
                                struct dir_employee *emp_r, const char **error_r)
{
	LDAP *ld;
	memset(emp_r, 0, sizeof(*emp_r));
	enum dir_status st = dir_conn_open(d, &ld, error_r);
	if (st == DIR_OK)
		st = find(d, ld, user, emp_r, error_r);
	if (st == DIR_OK && emp_r->disabled) {
		*error_r = "the employee's account is disabled in the directory";
		st = DIR_DISABLED;
	}
	dir_conn_close(&ld);
	return st;
}

/* The bind that checks the password, on the connection that found the DN. */
static enum dir_status user_bind(LDAP *ld, const char *dn, const char *password,
                                 const char **error_r)
{
	struct berval cred = {strlen(password), (char *)password};
	int rc = ldap_sasl_bind_s(ld, dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
	enum dir_status st = dir_conn_status(rc);
	if (st == DIR_UNREACHABLE) {
		*error_r = "the directory cannot be reached (bind)";
		return st;
	}
	if (rc != LDAP_SUCCESS) {
		/* AD says "data 533" (disabled) or "data 775" (locked) behind 49: all are a no. */
		sg_info("directory: bind as the employee's DN refused: %s (%d)", ldap_err2string(rc), rc);
		*error_r = "the directory refused the password";
		return DIR_DENIED;
	}
	return DIR_OK;
}

enum dir_status dir_auth_login(struct directory *d, const char *user, const char *password,
                               struct dir_employee *emp_r, const char **error_r)
{
	memset(emp_r, 0, sizeof(*emp_r));
	size_t pwlen = strlen(password);
	if (pwlen == 0 || pwlen > DIR_PASSWORD_MAX) {
		*error_r = pwlen == 0 ? "an empty password is refused (it would be an anonymous bind)"
		                      : "the password is too long";
		return DIR_DENIED;
	}
	LDAP *ld;
	enum dir_status st = dir_conn_open(d, &ld, error_r);
	if (st == DIR_OK)
		st = find(d, ld, user, emp_r, error_r);
	if (st == DIR_OK && emp_r->dn[0] == '\0') {
		*error_r = "the directory returned an entry without a DN";
		st = DIR_ERROR;
	}
	if (st == DIR_OK)
		st = user_bind(ld, emp_r->dn, password, error_r);
	if (st == DIR_OK && emp_r->disabled) {
		*error_r = "the employee's account is disabled in the directory";
		st = DIR_DISABLED;
	}
	dir_conn_close(&ld);
	if (st != DIR_OK && st != DIR_DISABLED)
		memset(emp_r, 0, sizeof(*emp_r));
	return st;
}

/* dir_conn.c: one connection to the directory: LDAPv3, TLS (StartTLS on ldap://, or ldaps://)
 * verified against directory.tls_ca with the host name checked, no referrals chased, a
 * timeout on connecting and on every operation, then the service account's simple bind. */
#include "directory/dir_priv.h"
#include "core/sg_log.h"
#include "core/sg_str.h"

#include <string.h>

struct timeval dir_conn_timeval(const struct directory *d)
{
	return (struct timeval){.tv_sec = d->timeout_s, .tv_usec = 0};
}

enum dir_status dir_conn_status(int rc)
{
	switch (rc) {
	case LDAP_SUCCESS:
		return DIR_OK;
	case LDAP_SERVER_DOWN:
	case LDAP_CONNECT_ERROR:
	case LDAP_TIMEOUT:
	case LDAP_TIMELIMIT_EXCEEDED:
	case LDAP_BUSY:
	case LDAP_UNAVAILABLE:
		return DIR_UNREACHABLE;
	case LDAP_INVALID_CREDENTIALS:
		return DIR_DENIED;
	default:
		return DIR_ERROR;
	}
}

static int set_tls(LDAP *ld, const struct directory *d)
{
	int demand = LDAP_OPT_X_TLS_DEMAND, zero = 0, min = LDAP_OPT_X_TLS_PROTOCOL_TLS1_2;
	if (d->tls_ca[0] != '\0' &&
	    ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, d->tls_ca) != LDAP_OPT_SUCCESS)
		return -1;
	if (ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_X_TLS_PROTOCOL_MIN, &min) != LDAP_OPT_SUCCESS)
		return -1;
	/* The options above take effect in a new TLS context of this handle only. */
	return ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero) == LDAP_OPT_SUCCESS ? 0 : -1;
}

static int set_options(LDAP *ld, const struct directory *d)
{
	int v3 = LDAP_VERSION3;
	struct timeval tv = dir_conn_timeval(d);
	if (ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv) != LDAP_OPT_SUCCESS)
		return -1;
	bool tls = strncmp(d->url, "ldaps://", 8) == 0 || d->starttls;
	return tls ? set_tls(ld, d) : 0;
}

static enum dir_status fail(LDAP **ldp, int rc, const char *what, const char **error_r)
{
	sg_warn("directory: %s: %s (%d)", what, ldap_err2string(rc), rc);
	enum dir_status st = dir_conn_status(rc);
	if (st == DIR_DENIED && strcmp(what, "service bind") == 0) {
		*error_r = "the directory refused the service account (directory.bind_dn and "
		           "directory.bind_password_file)";
		st = DIR_ERROR;
	} else if (st == DIR_UNREACHABLE || strcmp(what, "StartTLS") == 0) {
		*error_r = "the directory cannot be reached (connection, TLS or timeout: see the log)";
		st = DIR_UNREACHABLE;
	} else {
		*error_r = "the directory answered with an error (see the log)";
	}
	dir_conn_close(ldp);
	return st;
}

static enum dir_status service_bind(LDAP **ldp, const struct directory *d, const char **error_r)
{
	struct berval cred = {0, NULL};
	if (d->bind_pw != NULL)
		cred = (struct berval){strlen(d->bind_pw), d->bind_pw};
	int rc = ldap_sasl_bind_s(*ldp, d->bind_dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
	return rc == LDAP_SUCCESS ? DIR_OK : fail(ldp, rc, "service bind", error_r);
}

enum dir_status dir_conn_open(const struct directory *d, LDAP **ld_r, const char **error_r)
{
	*ld_r = NULL;
	int rc = ldap_initialize(ld_r, d->url);
	if (rc != LDAP_SUCCESS) {
		*error_r = "directory.url: libldap refuses it";
		return DIR_ERROR;
	}
	if (set_options(*ld_r, d) < 0) {
		*error_r = "cannot set the LDAP options (directory.tls_ca readable?)";
		dir_conn_close(ld_r);
		return DIR_ERROR;
	}
	if (strncmp(d->url, "ldap://", 7) == 0 && d->starttls) {
		rc = ldap_start_tls_s(*ld_r, NULL, NULL);
		if (rc != LDAP_SUCCESS)
			return fail(ld_r, rc, "StartTLS", error_r);
	}
	return service_bind(ld_r, d, error_r);
}

void dir_conn_close(LDAP **ldp)
{
	if (*ldp != NULL)
		ldap_unbind_ext_s(*ldp, NULL, NULL);
	*ldp = NULL;
}

char **dir_conn_attrs(const struct directory *d, char *buf[16])
{
	static const char *const fixed[] = {
	    "proxyAddresses", "displayName", "cn", "uid", "sAMAccountName", "userPrincipalName",
	    "preferredLanguage", "userAccountControl", "pwdAccountLockedTime", "nsAccountLock"};
	size_t n = 0;
	buf[n++] = (char *)d->mail_attr;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		buf[n++] = (char *)fixed[i];
	buf[n] = NULL;
	return buf;
}

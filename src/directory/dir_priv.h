/* dir_priv.h: private to directory/: the loaded settings, the connection and the reading of
 * one entry. */
#ifndef SG_DIR_PRIV_H
#define SG_DIR_PRIV_H

#include "directory/directory.h"

#include <sys/time.h> /* before <ldap.h> */
#include <ldap.h>

#define DIR_FILTER_MAX 4096
#define DIR_ATTR_MAX 64

struct directory {
	char url[SG_CONFIG_VALUE_MAX];
	bool starttls;
	char tls_ca[SG_PATH_MAX];      /* "" for the system store */
	char base_dn[SG_LDAP_DN_MAX];
	char bind_dn[SG_LDAP_DN_MAX];  /* "" for anonymous searches */
	char *bind_pw;                 /* secret; NULL when bind_dn is "" */
	char user_filter[SG_CONFIG_VALUE_MAX];
	char mail_attr[DIR_ATTR_MAX];
	int timeout_s;
};

/* ---- dir_conn.c ---- */
/* Connects (TLS as configured, timeouts) and binds as the service account: DIR_OK with
 * *ld_r, else DIR_UNREACHABLE or DIR_ERROR with *error_r. */
enum dir_status dir_conn_open(const struct directory *d, LDAP **ld_r, const char **error_r);
void dir_conn_close(LDAP **ldp);
/* The status an LDAP result code stands for (a lost or timed-out connection: unreachable). */
enum dir_status dir_conn_status(int rc);
/* The attributes every employee search asks for (NULL-terminated). */
char **dir_conn_attrs(const struct directory *d, char *mail_attr_buf[16]);
struct timeval dir_conn_timeval(const struct directory *d);

/* ---- dir_entry.c ---- */
/* Reads entry into *emp_r (cleared first). */
void dir_entry_read(const struct directory *d, LDAP *ld, LDAPMessage *entry,
                    struct dir_employee *emp_r);

#endif

/* directory.h: the organisation's LDAP directory (Active Directory or OpenLDAP), as a client:
 * employees log in with their directory password (checked only by a bind as their own DN,
 * never compared, stored or logged here), are looked up by name or address, and are listed
 * for the sync. Settings directory.* (core/settings.c). Each call opens its own connection
 * (StartTLS or ldaps, timeouts), so calls from several threads need no lock. */
#ifndef SG_DIRECTORY_H
#define SG_DIRECTORY_H

#include "core/limits.h"

#include <stdbool.h>
#include <stddef.h>

struct settings;
struct directory;

#define DIR_MAILS_MAX 16  /* addresses kept per employee (primary first) */
#define DIR_NAME_MAX 256  /* a display name, UTF-8 bytes */
#define DIR_LANG_MAX 16   /* preferredLanguage, e.g. "de" or "en-US" */
#define DIR_LOGIN_MAX 256 /* what an employee types as their user name */
#define DIR_PASSWORD_MAX 512

struct dir_employee {
	char dn[SG_LDAP_DN_MAX];
	char login[DIR_LOGIN_MAX];          /* uid or sAMAccountName, else the first address */
	char display_name[DIR_NAME_MAX];    /* displayName, else cn; "" if neither */
	char mail[DIR_MAILS_MAX][SG_ADDR_MAX]; /* lower-cased; directory.mail_attribute first */
	size_t nmail;
	char lang[DIR_LANG_MAX];            /* preferredLanguage, "" when not set */
	bool disabled; /* AD userAccountControl bit 2, ppolicy pwdAccountLockedTime 000001010000Z,
	                * or nsAccountLock TRUE */
};

/* What a login or lookup came to. Only DIR_OK lets anyone in. */
enum dir_status {
	DIR_OK = 0,
	DIR_DENIED,      /* unknown user, several matches, wrong or empty password */
	DIR_DISABLED,    /* the account is disabled in the directory */
	DIR_UNREACHABLE, /* no connection, TLS failed, timeout, service bind refused */
	DIR_ERROR,       /* configuration or protocol error (error_r says which) */
};
const char *dir_status_name(enum dir_status st);

/* ---- dir_conf.c ---- */
/* Whether directory.url is set. */
bool dir_conf_enabled(const struct settings *set);
/* Reads the directory.* settings (and the service password file); NULL with *error_r when
 * they are incomplete or unreadable. */
struct directory *dir_conf_open(const struct settings *set, const char **error_r);
void dir_conf_close(struct directory **dp);

/* ---- dir_auth.c ---- */
/* Finds the one employee matching user (a login name or an address, escaped into
 * directory.user_filter) and checks password by binding as their DN. An empty password is
 * refused before any bind. On DIR_OK *emp_r is filled; on any other status *error_r says why
 * (for the log and the CLI, never naming the password). */
enum dir_status dir_auth_login(struct directory *d, const char *user, const char *password,
                               struct dir_employee *emp_r, const char **error_r);
/* The same search without a password (an admin's enrolment): DIR_OK, DIR_DENIED for none or
 * several, DIR_DISABLED (with *emp_r filled), DIR_UNREACHABLE, DIR_ERROR. */
enum dir_status dir_auth_lookup(struct directory *d, const char *user,
                                struct dir_employee *emp_r, const char **error_r);

/* ---- dir_list.c ---- */
/* Every entry of directory.user_filter with %s as "*" (paged), disabled ones too, flagged.
 * Only DIR_OK means the list is complete: anything else must never be read as "gone". */
enum dir_status dir_list_employees(struct directory *d, struct dir_employee **list_r,
                                   size_t *n_r, const char **error_r);
/* Whether emp holds address (case-insensitive). */
bool dir_employee_has_mail(const struct dir_employee *emp, const char *address);

/* ---- dir_filter.c: RFC 4515 ---- */
/* Escapes value for an assertion value: * ( ) \ and control bytes become \XX (UTF-8 passes
 * as is). -1 if out (size bytes) is too small. */
int dir_filter_escape(const char *value, char *out, size_t size);
/* tmpl with each %s replaced by value escaped (raw_value: as is, for "*"), %% by %; -1 if
 * out is too small or tmpl has another % sequence. */
int dir_filter_build(const char *tmpl, const char *value, bool raw_value, char *out,
                     size_t size);

#endif

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
#include <stdint.h>
#include <time.h>

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

/* ---- dir_sync.c: the store follows the directory ---- */
struct store;
struct dir_sync_result {
	size_t employees;     /* entries listed */
	size_t disabled;      /* of them, disabled */
	size_t revoked_users; /* internal users whose certificates were (or, dry run, would be) revoked */
	size_t revoked_certs;
	size_t enrolled;      /* employees enrolled for their new address (dry run: would be) */
};
/* Told about each internal user that left: address, why ("not in the directory", "account
 * disabled", "address changed to ..."), the certificates revoked (dry run: that would be). */
typedef void (*dir_sync_note_fn)(void *cls, const char *address, const char *why, size_t certs);
/* Told about an enabled employee whose address changed: old_address (its certificate of ours
 * just revoked) was theirs by their directory entry, new_address (their primary address now)
 * holds no current certificate. The caller enrols new_address, mailing in lang ("de", "en" or
 * "" for the setting), unless dry_run; 0 done, -1 with *error_r. */
typedef int (*dir_sync_moved_fn)(void *cls, const char *old_address, const char *new_address,
                                 const char *lang, bool dry_run, const char **error_r);
struct dir_sync_hooks {
	dir_sync_note_fn left;   /* may be NULL */
	dir_sync_moved_fn moved; /* NULL: nobody is offered enrolment */
	void *cls;
};
/* Lists the employees; every internal user (not shared mailboxes) with an unrevoked
 * certificate or an employee record whose address no enabled employee holds loses its
 * certificates (revoked, reason cessationOfOperation, so no longer published), its portal
 * sessions and its employee record, with an audit entry. When that user's record names an
 * enabled employee now holding another address without a certificate, hooks->moved enrols
 * it; the record being gone, that happens once. Records of employees still there are
 * refreshed. Nothing is changed unless the listing is complete (DIR_OK) and holds at least one
 * enabled employee with an address; dry_run changes nothing. The caller rewrites the CRL when
 * r->revoked_certs > 0. hooks may be NULL. */
enum dir_status dir_sync_run(struct directory *d, struct store *st, time_t now, bool dry_run,
                             const struct dir_sync_hooks *hooks, struct dir_sync_result *r,
                             const char **error_r);
/* The employee record of emp for user_id (addresses one a line) stored at now. */
int dir_sync_remember(struct store *st, int64_t user_id, const struct dir_employee *emp,
                      time_t now, const char **error_r);

/* ---- dir_filter.c: RFC 4515 ---- */
/* Escapes value for an assertion value: * ( ) \ and control bytes become \XX (UTF-8 passes
 * as is). -1 if out (size bytes) is too small. */
int dir_filter_escape(const char *value, char *out, size_t size);
/* tmpl with each %s replaced by value escaped (raw_value: as is, for "*"), %% by %; -1 if
 * out is too small or tmpl has another % sequence. */
int dir_filter_build(const char *tmpl, const char *value, bool raw_value, char *out,
                     size_t size);

#endif

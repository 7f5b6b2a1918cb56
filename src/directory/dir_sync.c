/* dir_sync.c: the store follows the directory. An employee who left, or whose account was
 * disabled, or whose address changed, must not keep a certificate sealgate publishes for an
 * address they no longer hold: it is revoked (cessationOfOperation), which also takes it out
 * of ldapd's directory, and their portal sessions end. An employee whose address changed is
 * offered enrolment for the new one (the caller's hook enrols). Only a complete listing
 * counts: a directory that cannot be reached, refuses, or lists nobody changes nothing. */
#include "directory/dir_priv.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct index {
	const char **addr; /* addresses of enabled employees, sorted (case-insensitive) */
	size_t n;
};

static int cmp_addr(const void *a, const void *b)
{
	return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

static void index_build(struct index *ix, const struct dir_employee *emps, size_t n)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += emps[i].disabled ? 0 : emps[i].nmail;
	ix->addr = sg_calloc(total + 1, sizeof(*ix->addr));
	ix->n = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; !emps[i].disabled && j < emps[i].nmail; j++)
			ix->addr[ix->n++] = emps[i].mail[j];
	qsort(ix->addr, ix->n, sizeof(*ix->addr), cmp_addr);
}

static bool index_has(const struct index *ix, const char *address)
{
	return bsearch(&address, ix->addr, ix->n, sizeof(*ix->addr), cmp_addr) != NULL;
}

int dir_sync_remember(struct store *st, int64_t user_id, const struct dir_employee *emp,
                      time_t now, const char **error_r)
{
	struct store_employee *e = sg_calloc(1, sizeof(*e));
	e->user_id = user_id;
	e->seen = now;
	sg_strlcpy(e->dn, emp->dn, sizeof(e->dn));
	sg_strlcpy(e->login, emp->login, sizeof(e->login));
	sg_strlcpy(e->display_name, emp->display_name, sizeof(e->display_name));
	sg_strlcpy(e->lang, emp->lang, sizeof(e->lang));
	size_t o = 0;
	for (size_t i = 0; i < emp->nmail; i++) {
		int w = sg_snprintf(e->addresses + o, sizeof(e->addresses) - o, "%s\n", emp->mail[i]);
		if (w < 0)
			break;
		o += (size_t)w;
	}
	int rc = store_employee_set(st, e, error_r);
	sg_free(&e);
	return rc;
}

/* Why address is no longer an employee's, in words for the audit log and the admin; the
 * directory entry it belonged to (by address, or by the DN its record names), or NULL. */
static const struct dir_employee *why_gone(struct store *st, const struct store_user *u,
                                           const struct dir_employee *emps, size_t n,
                                           char *why, size_t size)
{
	const char *err;
	const struct dir_employee *owner = NULL;
	struct store_employee *rec = sg_calloc(1, sizeof(*rec));
	bool known = store_employee_get(st, u->id, rec, &err) == 1;
	sg_strlcpy(why, "not in the directory", size);
	for (size_t i = 0; i < n && owner == NULL; i++) {
		bool same = dir_employee_has_mail(&emps[i], u->address) ||
		            (known && rec->dn[0] != '\0' && strcasecmp(rec->dn, emps[i].dn) == 0);
		if (same && emps[i].disabled)
			sg_strlcpy(why, "account disabled", size);
		else if (same && emps[i].nmail > 0)
			sg_snprintf(why, size, "address changed to %s", emps[i].mail[0]);
		owner = same ? &emps[i] : NULL;
	}
	sg_free(&rec);
	return owner;
}

/* What u holds that a departed employee must lose: unrevoked certificates (*certs_r; *ours_r
 * when one of them was issued here with its key, i.e. enrolled) or an employee record. */
static int holds_something(struct store *st, const struct store_user *u, size_t *certs_r,
                           bool *ours_r, const char **error_r)
{
	struct store_cert *certs = NULL;
	size_t n = 0;
	*certs_r = 0;
	*ours_r = false;
	if (store_cert_list(st, u->address, &certs, &n, error_r) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		*certs_r += certs[i].revoked_at == 0 ? 1 : 0;
		*ours_r |= certs[i].revoked_at == 0 && certs[i].has_key &&
		           certs[i].source == STORE_CERT_ISSUED;
	}
	store_cert_list_free(&certs, n);
	struct store_employee *rec = sg_calloc(1, sizeof(*rec));
	int has_rec = store_employee_get(st, u->id, rec, error_r);
	sg_free(&rec);
	if (has_rec < 0)
		return -1;
	return *certs_r > 0 || has_rec == 1 ? 1 : 0;
}

static int retire(struct store *st, const struct store_user *u, time_t now, const char *why,
                  size_t *revoked_r, const char **error_r)
{
	char detail[256];
	if (store_cert_revoke_address_reason(st, u->address, now, STORE_REVOKE_CESSATION, revoked_r,
	                                     error_r) < 0 ||
	    store_portal_session_delete_address(st, u->address, error_r) < 0 ||
	    store_employee_delete(st, u->id, error_r) < 0)
		return -1;
	sg_snprintf(detail, sizeof(detail), "%s; %zu certificate(s) revoked, sessions ended", why,
	            *revoked_r);
	sg_info("directory sync: %s: %s", u->address, detail);
	if (store_role_audit_add(st, now, "directory-left", u->address, "directory-sync", detail,
	                           error_r) < 0)
		sg_warn("audit: %s", *error_r);
	return 0;
}

/* Whether address may be enrolled for an employee who moved to it: an internal user or none
 * yet, holding no unrevoked certificate (so a second sync, or a second old address of the
 * same employee, offers nothing again). */
static bool needs_enrolment(struct store *st, const char *address)
{
	const char *err;
	struct store_user u;
	int found = store_user_find(st, address, &u, &err);
	if (found < 0 || (found == 1 && u.kind != STORE_USER_INTERNAL))
		return false;
	struct store_cert *certs = NULL;
	size_t n = 0, current = 0;
	if (found == 1 && store_cert_list(st, address, &certs, &n, &err) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		current += certs[i].revoked_at == 0 ? 1 : 0;
	store_cert_list_free(&certs, n);
	return current == 0;
}

/* The employee emp left old_address (its enrolled certificate revoked): enrolment is offered
 * for their primary address now, in their language. A failure is logged, not fatal: the
 * sync's revocations stand and the admin can enrol by hand. */
static void offer(struct store *st, const struct dir_employee *emp, const char *old_address,
                  bool dry_run, const struct dir_sync_hooks *hooks, struct dir_sync_result *r)
{
	const char *err = "";
	char lang[3] = "";
	if (hooks == NULL || hooks->moved == NULL || emp->disabled || emp->nmail == 0 ||
	    !needs_enrolment(st, emp->mail[0]))
		return;
	for (size_t i = 0; i < 2 && emp->lang[i] != '\0'; i++)
		lang[i] = (char)(emp->lang[i] | 0x20); /* "de-DE" and "DE" mean "de" */
	if (hooks->moved(hooks->cls, old_address, emp->mail[0], lang, dry_run, &err) < 0)
		sg_error("directory sync: %s moved to %s: enrolment failed: %s; enrol them with "
		         "`sealgate user enrol %s`", old_address, emp->mail[0], err, emp->mail[0]);
	else
		r->enrolled++;
}

static int follow(struct store *st, const struct dir_employee *emps, size_t n, time_t now,
                  bool dry_run, const struct dir_sync_hooks *hooks, struct dir_sync_result *r,
                  const char **error_r)
{
	struct store_user *users = NULL;
	size_t nu = 0;
	struct index ix;
	if (store_user_list(st, &users, &nu, error_r) < 0)
		return -1;
	index_build(&ix, emps, n);
	int rc = 0;
	for (size_t i = 0; i < nu && rc == 0; i++) {
		size_t certs = 0;
		bool ours = false;
		/* "@domain" holds our domain certificate and key (`domain own`): nobody's mailbox */
		if (users[i].kind != STORE_USER_INTERNAL || users[i].address[0] == '@' ||
		    index_has(&ix, users[i].address))
			continue;
		rc = holds_something(st, &users[i], &certs, &ours, error_r);
		if (rc <= 0)
			continue;
		char why[SG_ADDR_MAX + 64];
		const struct dir_employee *owner = why_gone(st, &users[i], emps, n, why, sizeof(why));
		rc = dry_run ? 0 : retire(st, &users[i], now, why, &certs, error_r);
		if (rc == 0 && hooks != NULL && hooks->left != NULL)
			hooks->left(hooks->cls, users[i].address, why, certs);
		r->revoked_users++;
		r->revoked_certs += certs;
		if (rc == 0 && ours && owner != NULL)
			offer(st, owner, users[i].address, dry_run, hooks, r);
	}
	sg_free(&ix.addr);
	sg_free(&users);
	return rc < 0 ? -1 : 0;
}

/* Refreshes the records of employees the store knows (their primary address is a user). */
static void refresh(struct store *st, const struct dir_employee *emps, size_t n, time_t now)
{
	const char *err;
	for (size_t i = 0; i < n; i++) {
		struct store_user u;
		if (emps[i].disabled || emps[i].nmail == 0 ||
		    store_user_find(st, emps[i].mail[0], &u, &err) != 1 ||
		    u.kind != STORE_USER_INTERNAL)
			continue;
		if (dir_sync_remember(st, u.id, &emps[i], now, &err) < 0)
			sg_warn("directory sync: %s: %s", emps[i].mail[0], err);
	}
}

enum dir_status dir_sync_run(struct directory *d, struct store *st, time_t now, bool dry_run,
                             const struct dir_sync_hooks *hooks, struct dir_sync_result *r,
                             const char **error_r)
{
	struct dir_employee *emps = NULL;
	size_t n = 0, usable = 0;
	memset(r, 0, sizeof(*r));
	enum dir_status ds = dir_list_employees(d, &emps, &n, error_r);
	if (ds != DIR_OK)
		return ds;
	r->employees = n;
	for (size_t i = 0; i < n; i++) {
		r->disabled += emps[i].disabled ? 1 : 0;
		usable += !emps[i].disabled && emps[i].nmail > 0 ? 1 : 0;
	}
	if (usable == 0) {
		*error_r = "the directory listed no enabled employee with a mail address: nothing "
		           "revoked (check directory.base_dn, directory.user_filter and "
		           "directory.mail_attribute)";
		ds = DIR_ERROR;
	} else {
		if (!dry_run)
			refresh(st, emps, n, now);
		if (follow(st, emps, n, now, dry_run, hooks, r, error_r) < 0)
			ds = DIR_ERROR;
	}
	sg_free(&emps);
	return ds;
}

/* store_enrol.c: employee enrolment (issue 13): the portal links of enrolments and renewals
 * (a hash of the token, the sealed PIN while the link is open), certificates replaced by a
 * later enrolment, and the managers of shared mailboxes. */
#include "store/store.h"
#include "store/store_db.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <string.h>

#define ENROL_LIST_MAX 10000 /* rows one listing returns */

static const char *const kind_names[] = {"enrol", "renewal"};
static const char *const state_names[] = {"open", "expired", "replaced"};

static int name_index(const char *name, const char *const *names, int n)
{
	for (int i = 0; name != NULL && i < n; i++)
		if (strcmp(name, names[i]) == 0)
			return i;
	return 0;
}

#define ENROL_COLUMNS                                                                      \
	"SELECT e.id, e.user_id, u.address, u.kind, e.cert_id, e.prev_cert_id, e.kind, e.state, " \
	"e.token_hash, e.lang, e.created, e.expires, e.sealed_pin IS NOT NULL "                  \
	"FROM enrolments e JOIN users u ON u.id = e.user_id "

static void row_to_enrolment(struct sdb_stmt *s, struct store_enrolment *e)
{
	memset(e, 0, sizeof(*e));
	e->id = sdb_col_int64(s, 0);
	e->user_id = sdb_col_int64(s, 1);
	sdb_col_copy(s, 2, e->address, sizeof(e->address));
	if (store_user_kind_parse(sdb_col_text(s, 3), &e->user_kind) < 0)
		e->user_kind = STORE_USER_INTERNAL;
	e->cert_id = sdb_col_int64(s, 4);
	e->prev_cert_id = sdb_col_int64(s, 5);
	e->kind = (enum store_enrol_kind)name_index(sdb_col_text(s, 6), kind_names, 2);
	e->state = (enum store_enrol_state)name_index(sdb_col_text(s, 7), state_names, 3);
	sdb_col_copy(s, 8, e->token_hash, sizeof(e->token_hash));
	sdb_col_copy(s, 9, e->lang, sizeof(e->lang));
	e->created = (time_t)sdb_col_int64(s, 10);
	e->expires = (time_t)sdb_col_int64(s, 11);
	e->has_pin = (int)sdb_col_int64(s, 12) != 0;
}

int store_enrol_add(struct store *st, const struct store_enrolment *e,
                    const unsigned char *sealed_pin, size_t sealed_len, int64_t *id_r,
                    const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_begin(st, true, error_r) < 0)
		return -1;
	if (sdb_prepare(
	        st,
	        "INSERT INTO enrolments (user_id, cert_id, prev_cert_id, kind,"
	        " token_hash, sealed_pin, lang, state, created, expires) VALUES (?1, ?2, ?3,"
	        " ?4, ?5, ?6, ?7, 'open', ?8, ?9) RETURNING id",
	        &s, error_r) < 0 ||
	    sdb_bind_int64(s, 1, e->user_id) < 0 || sdb_bind_int64(s, 2, e->cert_id) < 0 ||
	    sdb_bind_int64(s, 3, e->prev_cert_id) < 0 ||
	    sdb_bind_text(s, 4, kind_names[e->kind]) < 0 ||
	    sdb_bind_text(s, 5, e->token_hash) < 0 ||
	    sdb_bind_blob(s, 6, sealed_pin, sealed_len) < 0 || sdb_bind_text(s, 7, e->lang) < 0 ||
	    sdb_bind_int64(s, 8, e->created) < 0 || sdb_bind_int64(s, 9, e->expires) < 0 ||
	    sdb_step(s) != SDB_ROW) {
		sdb_fail(s, error_r);
		sdb_rollback(st);
		return -1;
	}
	*id_r = sdb_col_int64(s, 0);
	sdb_finish(s);
	return sdb_commit(st, error_r);
}

/* Runs an ENROL_COLUMNS query with ?1 text; up to max rows into *list_r. */
static int query(struct store *st, const char *where, const char *arg, size_t max,
                 struct store_enrolment **list_r, size_t *n_r, const char **error_r)
{
	char sql[1024];
	sg_assert(sg_snprintf(sql, sizeof(sql), ENROL_COLUMNS "WHERE %s ORDER BY e.id DESC",
	                      where) >= 0);
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st, sql, &s, error_r) < 0 || sdb_bind_text(s, 1, arg) < 0)
		return sdb_fail(s, error_r);
	struct store_enrolment *list = NULL;
	size_t n = 0;
	int rc;
	while ((rc = sdb_step(s)) == SDB_ROW && n < max) {
		list = sg_reallocarray(list, n + 1, sizeof(*list));
		row_to_enrolment(s, &list[n++]);
	}
	if (rc != SDB_ROW && rc != SDB_DONE) {
		sg_free(&list);
		return sdb_fail(s, error_r);
	}
	sdb_finish(s);
	*list_r = list;
	*n_r = n;
	return 0;
}

int store_enrol_find(struct store *st, const char *token_hash, struct store_enrolment *e_r,
                     const char **error_r)
{
	struct store_enrolment *list = NULL;
	size_t n = 0;
	if (query(st, "e.token_hash = ?1", token_hash, 1, &list, &n, error_r) < 0)
		return -1;
	if (n == 1)
		*e_r = list[0];
	sg_free(&list);
	return n == 1 ? 1 : 0;
}

int store_enrol_list(struct store *st, const char *address, struct store_enrolment **list_r,
                     size_t *n_r, const char **error_r)
{
	return query(st, "u.address = ?1", address, ENROL_LIST_MAX, list_r, n_r, error_r);
}

int store_enrol_pin_get(struct store *st, int64_t id, time_t now, unsigned char **sealed_r,
                        size_t *len_r, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st,
	                "SELECT sealed_pin FROM enrolments WHERE id = ?1 AND state = "
	                "'open' AND expires > ?2 AND sealed_pin IS NOT NULL",
	                &s, error_r) < 0 ||
	    sdb_bind_int64(s, 1, id) < 0 || sdb_bind_int64(s, 2, now) < 0)
		return sdb_fail(s, error_r);
	int rc = sdb_step(s);
	if (rc == SDB_DONE) {
		sdb_finish(s);
		return 0;
	}
	if (rc != SDB_ROW || (*sealed_r = sdb_col_blob_dup(s, 0, len_r)) == NULL)
		return sdb_fail(s, error_r);
	sdb_finish(s);
	return 1;
}

/* Runs an UPDATE with ?1 and ?2 numbers; *n_r the rows changed (may be NULL). */
static int update(struct store *st, const char *sql, int64_t a, int64_t b, size_t *n_r,
                  const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st, sql, &s, error_r) < 0 || sdb_bind_int64(s, 1, a) < 0 ||
	    (sdb_param_count(s) >= 2 && sdb_bind_int64(s, 2, b) < 0) || sdb_step(s) != SDB_DONE)
		return sdb_fail(s, error_r);
	if (n_r != NULL)
		*n_r = (size_t)sdb_changes(s);
	sdb_finish(s);
	return 0;
}

int store_enrol_expire(struct store *st, time_t now, struct store_enrolment **list_r,
                       size_t *n_r, const char **error_r)
{
	char where[128];
	sg_assert(sg_snprintf(where, sizeof(where), "e.state = 'open' AND e.expires <= %lld AND "
	                      "?1 = ''", (long long)now) >= 0);
	if (sdb_begin(st, true, error_r) < 0)
		return -1;
	size_t changed = 0;
	*list_r = NULL;
	*n_r = 0;
	if (query(st, where, "", ENROL_LIST_MAX, list_r, n_r, error_r) < 0 ||
	    update(st, "UPDATE enrolments SET state = 'expired', sealed_pin = NULL "
	               "WHERE state = 'open' AND expires <= ?1", now, 0, &changed, error_r) < 0) {
		sdb_rollback(st);
		sg_free(list_r);
		*n_r = 0;
		return -1;
	}
	return sdb_commit(st, error_r);
}

int store_enrol_supersede(struct store *st, int64_t user_id, int64_t keep_cert_id, time_t now,
                          const char **error_r)
{
	if (sdb_begin(st, true, error_r) < 0)
		return -1;
	char sql[256];
	sg_assert(sg_snprintf(sql, sizeof(sql), "UPDATE certificates SET replaced_at = %lld WHERE "
	                      "user_id = ?1 AND id != ?2 AND source = 'issued' AND replaced_at IS "
	                      "NULL", (long long)now) >= 0);
	if (update(st, sql, user_id, keep_cert_id, NULL, error_r) < 0 ||
	    update(st, "UPDATE enrolments SET state = 'replaced', sealed_pin = NULL WHERE "
	               "user_id = ?1 AND cert_id != ?2 AND state = 'open'",
	           user_id, keep_cert_id, NULL, error_r) < 0) {
		sdb_rollback(st);
		return -1;
	}
	return sdb_commit(st, error_r);
}

int store_enrol_mark_replaced(struct store *st, int64_t cert_id, time_t now,
                              const char **error_r)
{
	return update(st, "UPDATE certificates SET replaced_at = ?2 WHERE id = ?1", cert_id, now,
	              NULL, error_r);
}

int store_enrol_renewal_due(struct store *st, time_t before, struct store_cert **certs_r,
                            size_t *n_r, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(
	        st,
	        "SELECT c.id, c.user_id, u.address, c.not_after, c.serial FROM certificates c JOIN "
	        "users u ON "
	        "u.id = c.user_id WHERE u.kind IN ('internal', 'shared') AND c.source = 'issued' "
	        "AND "
	        "u.address NOT LIKE '@%' AND " /* a domain certificate (`domain own`): no mailbox */
	        "c.revoked_at IS NULL AND c.replaced_at IS NULL AND c.not_after < ?1 AND EXISTS "
	        "(SELECT 1 FROM private_keys k WHERE k.cert_id = c.id) AND NOT EXISTS (SELECT 1 "
	        "FROM "
	        "certificates d WHERE d.user_id = c.user_id AND d.id != c.id AND d.source = "
	        "'issued' "
	        "AND d.revoked_at IS NULL AND d.replaced_at IS NULL AND d.not_after >= "
	        "c.not_after) "
	        "ORDER BY c.not_after",
	        &s, error_r) < 0 ||
	    sdb_bind_int64(s, 1, before) < 0)
		return sdb_fail(s, error_r);
	struct store_cert *certs = NULL;
	size_t n = 0;
	int rc;
	while ((rc = sdb_step(s)) == SDB_ROW && n < ENROL_LIST_MAX) {
		certs = sg_reallocarray(certs, n + 1, sizeof(*certs));
		memset(&certs[n], 0, sizeof(certs[n]));
		certs[n].id = sdb_col_int64(s, 0);
		certs[n].user_id = sdb_col_int64(s, 1);
		sdb_col_copy(s, 2, certs[n].address, sizeof(certs[n].address));
		sdb_col_copy(s, 4, certs[n].serial, sizeof(certs[n].serial));
		certs[n++].not_after = (time_t)sdb_col_int64(s, 3);
	}
	if (rc != SDB_ROW && rc != SDB_DONE) {
		store_cert_list_free(&certs, n);
		return sdb_fail(s, error_r);
	}
	sdb_finish(s);
	*certs_r = certs;
	*n_r = n;
	return 0;
}

int store_enrol_replaced_at(struct store *st, int64_t cert_id, time_t *when_r,
                            const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st, "SELECT coalesce(replaced_at, 0) FROM certificates WHERE id = ?1", &s,
	                error_r) < 0 ||
	    sdb_bind_int64(s, 1, cert_id) < 0)
		return sdb_fail(s, error_r);
	int rc = sdb_step(s);
	*when_r = rc == SDB_ROW ? (time_t)sdb_col_int64(s, 0) : 0;
	if (rc != SDB_ROW && rc != SDB_DONE)
		return sdb_fail(s, error_r);
	sdb_finish(s);
	return 0;
}

/* ---- shared mailboxes ---- */

int store_shared_manager_add(struct store *st, int64_t user_id, const char *manager,
                             const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st,
	                "INSERT INTO shared_managers (user_id, manager) VALUES (?1, lower(?2))"
	                " ON CONFLICT DO NOTHING",
	                &s, error_r) < 0 ||
	    sdb_bind_int64(s, 1, user_id) < 0 || sdb_bind_text(s, 2, manager) < 0 ||
	    sdb_step(s) != SDB_DONE)
		return sdb_fail(s, error_r);
	sdb_finish(s);
	return 0;
}

/* Runs sql with ?1 text and collects its first column (addresses). */
static int addresses(struct store *st, const char *sql, const char *arg,
                     char (**list_r)[SG_ADDR_MAX], size_t *n_r, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st, sql, &s, error_r) < 0 || sdb_bind_text(s, 1, arg) < 0)
		return sdb_fail(s, error_r);
	char(*list)[SG_ADDR_MAX] = NULL;
	size_t n = 0;
	int rc;
	while ((rc = sdb_step(s)) == SDB_ROW && n < ENROL_LIST_MAX) {
		list = sg_reallocarray(list, n + 1, sizeof(*list));
		sdb_col_copy(s, 0, list[n++], SG_ADDR_MAX);
	}
	if (rc != SDB_ROW && rc != SDB_DONE) {
		sg_free(&list);
		return sdb_fail(s, error_r);
	}
	sdb_finish(s);
	*list_r = list;
	*n_r = n;
	return 0;
}

int store_shared_managers(struct store *st, const char *address, char (**managers_r)[SG_ADDR_MAX],
                          size_t *n_r, const char **error_r)
{
	return addresses(st, "SELECT m.manager FROM shared_managers m JOIN users u ON u.id = "
	                     "m.user_id WHERE u.address = ?1 ORDER BY m.manager",
	                 address, managers_r, n_r, error_r);
}

int store_shared_managed_by(struct store *st, const char *manager,
                            char (**addresses_r)[SG_ADDR_MAX], size_t *n_r, const char **error_r)
{
	return addresses(st, "SELECT u.address FROM shared_managers m JOIN users u ON u.id = "
	                     "m.user_id WHERE m.manager = ?1 AND u.kind = 'shared' ORDER BY "
	                     "lower(u.address)", manager, addresses_r, n_r, error_r);
}

int store_shared_is_manager(struct store *st, const char *address, const char *manager,
                            const char **error_r)
{
	char(*list)[SG_ADDR_MAX] = NULL;
	size_t n = 0;
	if (store_shared_managed_by(st, manager, &list, &n, error_r) < 0)
		return -1;
	int found = 0;
	for (size_t i = 0; i < n && !found; i++)
		found = sg_streq_nocase(list[i], address);
	sg_free(&list);
	return found;
}

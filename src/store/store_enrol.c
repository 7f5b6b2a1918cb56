/* store_enrol.c: employee enrolment (issue 13): the portal links of enrolments and renewals
 * (a hash of the token, the sealed PIN while the link is open), certificates replaced by a
 * later enrolment, and the managers of shared mailboxes. */
#include "store/store.h"
#include "store/store_sqlite.h"
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

static void row_to_enrolment(sqlite3_stmt *s, struct store_enrolment *e)
{
	memset(e, 0, sizeof(*e));
	e->id = sqlite3_column_int64(s, 0);
	e->user_id = sqlite3_column_int64(s, 1);
	store_sqlite_text(s, 2, e->address, sizeof(e->address));
	if (store_user_kind_parse((const char *)sqlite3_column_text(s, 3), &e->user_kind) < 0)
		e->user_kind = STORE_USER_INTERNAL;
	e->cert_id = sqlite3_column_int64(s, 4);
	e->prev_cert_id = sqlite3_column_int64(s, 5);
	e->kind = (enum store_enrol_kind)name_index((const char *)sqlite3_column_text(s, 6),
	                                            kind_names, 2);
	e->state = (enum store_enrol_state)name_index((const char *)sqlite3_column_text(s, 7),
	                                              state_names, 3);
	store_sqlite_text(s, 8, e->token_hash, sizeof(e->token_hash));
	store_sqlite_text(s, 9, e->lang, sizeof(e->lang));
	e->created = (time_t)sqlite3_column_int64(s, 10);
	e->expires = (time_t)sqlite3_column_int64(s, 11);
	e->has_pin = sqlite3_column_int(s, 12) != 0;
}

int store_enrol_add(struct store *st, const struct store_enrolment *e,
                    const unsigned char *sealed_pin, size_t sealed_len, int64_t *id_r,
                    const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	if (store_sqlite_begin(st, true, error_r) < 0)
		return -1;
	bool ok = sqlite3_prepare_v2(db,
	    "INSERT INTO enrolments (user_id, cert_id, prev_cert_id, kind, token_hash, sealed_pin, "
	    "lang, state, created, expires) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'open', ?8, ?9)",
	    -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_bind_int64(s, 1, e->user_id) == SQLITE_OK &&
	    sqlite3_bind_int64(s, 2, e->cert_id) == SQLITE_OK &&
	    sqlite3_bind_int64(s, 3, e->prev_cert_id) == SQLITE_OK &&
	    sqlite3_bind_text(s, 4, kind_names[e->kind], -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_text(s, 5, e->token_hash, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_blob(s, 6, sealed_pin, (int)sealed_len, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_text(s, 7, e->lang, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_int64(s, 8, e->created) == SQLITE_OK &&
	    sqlite3_bind_int64(s, 9, e->expires) == SQLITE_OK && sqlite3_step(s) == SQLITE_DONE;
	if (!ok) {
		store_sqlite_fail(db, s, error_r);
		store_sqlite_rollback(st);
		return -1;
	}
	sqlite3_finalize(s);
	*id_r = sqlite3_last_insert_rowid(db);
	return store_sqlite_commit(st, error_r);
}

/* Runs an ENROL_COLUMNS query with ?1 text; up to max rows into *list_r. */
static int query(struct store *st, const char *where, const char *arg, size_t max,
                 struct store_enrolment **list_r, size_t *n_r, const char **error_r)
{
	char sql[1024];
	sg_assert(sg_snprintf(sql, sizeof(sql), ENROL_COLUMNS "WHERE %s ORDER BY e.id DESC",
	                      where) >= 0);
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(s, 1, arg, -1, SQLITE_STATIC) != SQLITE_OK)
		return store_sqlite_fail(db, s, error_r);
	struct store_enrolment *list = NULL;
	size_t n = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < max) {
		list = sg_reallocarray(list, n + 1, sizeof(*list));
		row_to_enrolment(s, &list[n++]);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sg_free(&list);
		return store_sqlite_fail(db, s, error_r);
	}
	sqlite3_finalize(s);
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
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, "SELECT sealed_pin FROM enrolments WHERE id = ?1 AND state = "
	                           "'open' AND expires > ?2 AND sealed_pin IS NOT NULL",
	                       -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 1, id) != SQLITE_OK || sqlite3_bind_int64(s, 2, now) != SQLITE_OK)
		return store_sqlite_fail(db, s, error_r);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		sqlite3_finalize(s);
		return 0;
	}
	const void *blob = sqlite3_column_blob(s, 0);
	int len = sqlite3_column_bytes(s, 0);
	if (rc != SQLITE_ROW || blob == NULL || len <= 0)
		return store_sqlite_fail(db, s, error_r);
	*sealed_r = sg_memdup(blob, (size_t)len);
	*len_r = (size_t)len;
	sqlite3_finalize(s);
	return 1;
}

/* Runs an UPDATE with ?1 and ?2 numbers; *n_r the rows changed (may be NULL). */
static int update(struct store *st, const char *sql, int64_t a, int64_t b, size_t *n_r,
                  const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 1, a) != SQLITE_OK ||
	    (sqlite3_bind_parameter_count(s) >= 2 && sqlite3_bind_int64(s, 2, b) != SQLITE_OK) ||
	    sqlite3_step(s) != SQLITE_DONE)
		return store_sqlite_fail(db, s, error_r);
	if (n_r != NULL)
		*n_r = (size_t)sqlite3_changes(db);
	sqlite3_finalize(s);
	return 0;
}

int store_enrol_expire(struct store *st, time_t now, struct store_enrolment **list_r,
                       size_t *n_r, const char **error_r)
{
	char where[128];
	sg_assert(sg_snprintf(where, sizeof(where), "e.state = 'open' AND e.expires <= %lld AND "
	                      "?1 = ''", (long long)now) >= 0);
	if (store_sqlite_begin(st, true, error_r) < 0)
		return -1;
	size_t changed = 0;
	*list_r = NULL;
	*n_r = 0;
	if (query(st, where, "", ENROL_LIST_MAX, list_r, n_r, error_r) < 0 ||
	    update(st, "UPDATE enrolments SET state = 'expired', sealed_pin = NULL "
	               "WHERE state = 'open' AND expires <= ?1", now, 0, &changed, error_r) < 0) {
		store_sqlite_rollback(st);
		sg_free(list_r);
		*n_r = 0;
		return -1;
	}
	return store_sqlite_commit(st, error_r);
}

int store_enrol_supersede(struct store *st, int64_t user_id, int64_t keep_cert_id, time_t now,
                          const char **error_r)
{
	if (store_sqlite_begin(st, true, error_r) < 0)
		return -1;
	char sql[256];
	sg_assert(sg_snprintf(sql, sizeof(sql), "UPDATE certificates SET replaced_at = %lld WHERE "
	                      "user_id = ?1 AND id != ?2 AND source = 'issued' AND replaced_at IS "
	                      "NULL", (long long)now) >= 0);
	if (update(st, sql, user_id, keep_cert_id, NULL, error_r) < 0 ||
	    update(st, "UPDATE enrolments SET state = 'replaced', sealed_pin = NULL WHERE "
	               "user_id = ?1 AND cert_id != ?2 AND state = 'open'",
	           user_id, keep_cert_id, NULL, error_r) < 0) {
		store_sqlite_rollback(st);
		return -1;
	}
	return store_sqlite_commit(st, error_r);
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
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db,
	    "SELECT c.id, c.user_id, u.address, c.not_after, c.serial FROM certificates c JOIN users u ON "
	    "u.id = c.user_id WHERE u.kind IN ('internal', 'shared') AND c.source = 'issued' AND "
	    "u.address NOT LIKE '@%' AND " /* a domain certificate (`domain own`): no mailbox */
	    "c.revoked_at IS NULL AND c.replaced_at IS NULL AND c.not_after < ?1 AND EXISTS "
	    "(SELECT 1 FROM private_keys k WHERE k.cert_id = c.id) AND NOT EXISTS (SELECT 1 FROM "
	    "certificates d WHERE d.user_id = c.user_id AND d.id != c.id AND d.source = 'issued' "
	    "AND d.revoked_at IS NULL AND d.replaced_at IS NULL AND d.not_after >= c.not_after) "
	    "ORDER BY c.not_after", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 1, before) != SQLITE_OK)
		return store_sqlite_fail(db, s, error_r);
	struct store_cert *certs = NULL;
	size_t n = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < ENROL_LIST_MAX) {
		certs = sg_reallocarray(certs, n + 1, sizeof(*certs));
		memset(&certs[n], 0, sizeof(certs[n]));
		certs[n].id = sqlite3_column_int64(s, 0);
		certs[n].user_id = sqlite3_column_int64(s, 1);
		store_sqlite_text(s, 2, certs[n].address, sizeof(certs[n].address));
		store_sqlite_text(s, 4, certs[n].serial, sizeof(certs[n].serial));
		certs[n++].not_after = (time_t)sqlite3_column_int64(s, 3);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_cert_list_free(&certs, n);
		return store_sqlite_fail(db, s, error_r);
	}
	sqlite3_finalize(s);
	*certs_r = certs;
	*n_r = n;
	return 0;
}

int store_enrol_replaced_at(struct store *st, int64_t cert_id, time_t *when_r,
                            const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, "SELECT coalesce(replaced_at, 0) FROM certificates WHERE id = ?1",
	                       -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 1, cert_id) != SQLITE_OK)
		return store_sqlite_fail(db, s, error_r);
	int rc = sqlite3_step(s);
	*when_r = rc == SQLITE_ROW ? (time_t)sqlite3_column_int64(s, 0) : 0;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_sqlite_fail(db, s, error_r);
	sqlite3_finalize(s);
	return 0;
}

/* ---- shared mailboxes ---- */

int store_shared_manager_add(struct store *st, int64_t user_id, const char *manager,
                             const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO shared_managers (user_id, manager) "
	                           "VALUES (?1, lower(?2))", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 1, user_id) != SQLITE_OK ||
	    sqlite3_bind_text(s, 2, manager, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_DONE)
		return store_sqlite_fail(db, s, error_r);
	sqlite3_finalize(s);
	return 0;
}

/* Runs sql with ?1 text and collects its first column (addresses). */
static int addresses(struct store *st, const char *sql, const char *arg,
                     char (**list_r)[SG_ADDR_MAX], size_t *n_r, const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(s, 1, arg, -1, SQLITE_STATIC) != SQLITE_OK)
		return store_sqlite_fail(db, s, error_r);
	char(*list)[SG_ADDR_MAX] = NULL;
	size_t n = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < ENROL_LIST_MAX) {
		list = sg_reallocarray(list, n + 1, sizeof(*list));
		store_sqlite_text(s, 0, list[n++], SG_ADDR_MAX);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sg_free(&list);
		return store_sqlite_fail(db, s, error_r);
	}
	sqlite3_finalize(s);
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

/* store_audit.c: the audit log (table audit_log): one row per admin or mail event worth
 * answering "who did what, when" for: portal events, CLI changes (certificates, keys,
 * configuration, users, the queue), held mail released or expired, mail refused by policy. */
#include "store/store.h"
#include "store/store_sqlite.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <string.h>

int store_audit_add(struct store *st, const struct store_audit_entry *e, const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, "INSERT INTO audit_log (at, event, address, client, detail, actor)"
	                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6)", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 1, (int64_t)e->at) != SQLITE_OK ||
	    sqlite3_bind_text(s, 2, e->event, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(s, 3, e->address, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(s, 4, e->client, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(s, 5, e->detail, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(s, 6, e->actor, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_DONE)
		return store_sqlite_fail(db, s, error_r);
	sqlite3_finalize(s);
	return 0;
}

static int audit_add(struct store *st, time_t at, const char *event, const char *address,
                     const char *client, const char *actor, const char *detail,
                     const char **error_r)
{
	struct store_audit_entry e = {.at = at};
	sg_strlcpy(e.event, event, sizeof(e.event));
	sg_strlcpy(e.address, address, sizeof(e.address));
	sg_strlcpy(e.client, client, sizeof(e.client));
	sg_strlcpy(e.actor, actor, sizeof(e.actor));
	sg_strlcpy(e.detail, detail, sizeof(e.detail));
	return store_audit_add(st, &e, error_r);
}

int store_portal_audit_add(struct store *st, time_t at, const char *event, const char *address,
                           const char *client, const char *detail, const char **error_r)
{
	return audit_add(st, at, event, address, client, "", detail, error_r);
}

int store_role_audit_add(struct store *st, time_t at, const char *event, const char *address,
                         const char *role, const char *detail, const char **error_r)
{
	return audit_add(st, at, event, address, role, role, detail, error_r);
}

int store_portal_audit_count(struct store *st, const char *event, const char *address,
                             time_t since, size_t *n_r, const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	*n_r = 0;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM audit_log WHERE at >= ?1 AND event = ?2"
	                           " AND address = ?3 COLLATE NOCASE", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 1, (int64_t)since) != SQLITE_OK ||
	    sqlite3_bind_text(s, 2, event, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(s, 3, address, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW)
		return store_sqlite_fail(db, s, error_r);
	*n_r = (size_t)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return 0;
}


int store_audit_add_capped(struct store *st, const struct store_audit_entry *e, time_t since,
                           size_t max, const char **error_r)
{
	size_t n = 0;
	if (store_sqlite_begin(st, true, error_r) < 0)
		return -1;
	if (store_portal_audit_count(st, e->event, e->address, since, &n, error_r) < 0 ||
	    (n < max && store_audit_add(st, e, error_r) < 0)) {
		store_sqlite_rollback(st);
		return -1;
	}
	if (store_sqlite_commit(st, error_r) < 0)
		return -1;
	return n < max ? 1 : 0;
}

static void read_entry(sqlite3_stmt *s, struct store_audit_entry *e)
{
	e->id = sqlite3_column_int64(s, 0);
	e->at = (time_t)sqlite3_column_int64(s, 1);
	store_sqlite_text(s, 2, e->event, sizeof(e->event));
	store_sqlite_text(s, 3, e->address, sizeof(e->address));
	store_sqlite_text(s, 4, e->client, sizeof(e->client));
	store_sqlite_text(s, 5, e->detail, sizeof(e->detail));
	store_sqlite_text(s, 6, e->actor, sizeof(e->actor));
}

int store_audit_list(struct store *st, const struct store_audit_query *q,
                     struct store_audit_entry **entries_r, size_t *count_r, const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	*entries_r = NULL;
	*count_r = 0;
	if (sqlite3_prepare_v2(db, "SELECT id, at, event, address, client, detail, actor"
	                           " FROM audit_log WHERE at >= ?1 AND (?2 = 0 OR at < ?2)"
	                           " AND (?3 = '' OR event = ?3) ORDER BY id", -1, &s,
	                       NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 1, (int64_t)q->since) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 2, (int64_t)q->until) != SQLITE_OK ||
	    sqlite3_bind_text(s, 3, q->event != NULL ? q->event : "", -1, SQLITE_STATIC) != SQLITE_OK)
		return store_sqlite_fail(db, s, error_r);
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		*entries_r = sg_reallocarray(*entries_r, *count_r + 1, sizeof(**entries_r));
		read_entry(s, &(*entries_r)[(*count_r)++]);
	}
	if (rc != SQLITE_DONE) {
		sg_free(entries_r);
		*count_r = 0;
		return store_sqlite_fail(db, s, error_r);
	}
	sqlite3_finalize(s);
	return 0;
}

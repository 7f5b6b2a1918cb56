/* store_mta_sts.c: the mta_sts_policy table (the MTA-STS policy cache). */
#include "store/store_mta_sts.h"
#include "store/store.h"
#include "store/store_sqlite.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <string.h>

int store_mta_sts_put(struct store *st, const struct store_mta_sts *row, const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, "INSERT INTO mta_sts_policy (domain, policy_id, policy, fetched, "
	                           "expires) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (domain) DO "
	                           "UPDATE SET policy_id = excluded.policy_id, policy = "
	                           "excluded.policy, fetched = excluded.fetched, expires = "
	                           "excluded.expires",
	                       -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(s, 1, row->domain, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(s, 2, row->id, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(s, 3, row->policy, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 4, (sqlite3_int64)row->fetched) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 5, (sqlite3_int64)row->expires) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_DONE)
		return store_sqlite_fail(db, s, error_r);
	sqlite3_finalize(s);
	return 0;
}

int store_mta_sts_get(struct store *st, const char *domain, struct store_mta_sts *row_r,
                      const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	memset(row_r, 0, sizeof(*row_r));
	if (sqlite3_prepare_v2(db, "SELECT domain, policy_id, policy, fetched, expires FROM "
	                           "mta_sts_policy WHERE domain = ?1",
	                       -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(s, 1, domain, -1, SQLITE_STATIC) != SQLITE_OK)
		return store_sqlite_fail(db, s, error_r);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_sqlite_fail(db, s, error_r);
	if (rc == SQLITE_ROW) {
		store_sqlite_text(s, 0, row_r->domain, sizeof(row_r->domain));
		store_sqlite_text(s, 1, row_r->id, sizeof(row_r->id));
		const char *t = (const char *)sqlite3_column_text(s, 2);
		row_r->policy = sg_strdup(t != NULL ? t : "");
		row_r->fetched = (time_t)sqlite3_column_int64(s, 3);
		row_r->expires = (time_t)sqlite3_column_int64(s, 4);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 1 : 0;
}

int store_mta_sts_delete(struct store *st, const char *domain, const char **error_r)
{
	int n = store_sqlite_exec_text(st, "DELETE FROM mta_sts_policy WHERE domain = ?1", domain,
	                               error_r);
	return n < 0 ? -1 : n > 0 ? 1 : 0;
}

void store_mta_sts_free(struct store_mta_sts *row) { sg_free(&row->policy); }

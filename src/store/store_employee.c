/* store_employee.c: what the directory last said about an employee who logged in or was
 * listed by a sync (DN, login name, display name, language, every address), keyed by the user
 * of their primary address: the portal shows their addresses and certificates from it. */
#include "store/store.h"
#include "store/store_sqlite.h"

#include <string.h>

int store_employee_set(struct store *st, const struct store_employee *e, const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	const char *texts[] = {e->dn, e->login, e->display_name, e->lang, e->addresses};
	if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO directory_employees (user_id, dn, login,"
	                           " display_name, lang, addresses, seen) VALUES (?1, ?2, ?3, ?4, ?5,"
	                           " ?6, ?7)", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 1, e->user_id) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 7, (int64_t)e->seen) != SQLITE_OK)
		return store_sqlite_fail(db, s, error_r);
	for (int i = 0; i < 5; i++)
		if (sqlite3_bind_text(s, i + 2, texts[i], -1, SQLITE_STATIC) != SQLITE_OK)
			return store_sqlite_fail(db, s, error_r);
	if (sqlite3_step(s) != SQLITE_DONE)
		return store_sqlite_fail(db, s, error_r);
	sqlite3_finalize(s);
	return 0;
}

int store_employee_get(struct store *st, int64_t user_id, struct store_employee *e_r,
                       const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, "SELECT dn, login, display_name, lang, addresses, seen FROM"
	                           " directory_employees WHERE user_id = ?1", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 1, user_id) != SQLITE_OK)
		return store_sqlite_fail(db, s, error_r);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		memset(e_r, 0, sizeof(*e_r));
		e_r->user_id = user_id;
		store_sqlite_text(s, 0, e_r->dn, sizeof(e_r->dn));
		store_sqlite_text(s, 1, e_r->login, sizeof(e_r->login));
		store_sqlite_text(s, 2, e_r->display_name, sizeof(e_r->display_name));
		store_sqlite_text(s, 3, e_r->lang, sizeof(e_r->lang));
		store_sqlite_text(s, 4, e_r->addresses, sizeof(e_r->addresses));
		e_r->seen = (time_t)sqlite3_column_int64(s, 5);
	} else if (rc != SQLITE_DONE) {
		return store_sqlite_fail(db, s, error_r);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 1 : 0;
}

int store_employee_delete(struct store *st, int64_t user_id, const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, "DELETE FROM directory_employees WHERE user_id = ?1", -1, &s,
	                       NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 1, user_id) != SQLITE_OK || sqlite3_step(s) != SQLITE_DONE)
		return store_sqlite_fail(db, s, error_r);
	sqlite3_finalize(s);
	return 0;
}

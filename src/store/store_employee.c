/* store_employee.c: what the directory last said about an employee who logged in or was
 * listed by a sync (DN, login name, display name, language, every address), keyed by the user
 * of their primary address: the portal shows their addresses and certificates from it. */
#include "store/store.h"
#include "store/store_db.h"

#include <string.h>

int store_employee_set(struct store *st, const struct store_employee *e, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	const char *texts[] = {e->dn, e->login, e->display_name, e->lang, e->addresses};
	if (sdb_prepare(st,
	                "INSERT INTO directory_employees (user_id, dn, login, display_name,"
	                " lang, addresses, seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
	                " ON CONFLICT (user_id) DO UPDATE SET dn = excluded.dn,"
	                " login = excluded.login, display_name = excluded.display_name,"
	                " lang = excluded.lang, addresses = excluded.addresses,"
	                " seen = excluded.seen",
	                &s, error_r) < 0 ||
	    sdb_bind_int64(s, 1, e->user_id) < 0 || sdb_bind_int64(s, 7, (int64_t)e->seen) < 0)
		return sdb_fail(s, error_r);
	for (int i = 0; i < 5; i++)
		if (sdb_bind_text(s, i + 2, texts[i]) < 0)
			return sdb_fail(s, error_r);
	if (sdb_step(s) != SDB_DONE)
		return sdb_fail(s, error_r);
	sdb_finish(s);
	return 0;
}

int store_employee_get(struct store *st, int64_t user_id, struct store_employee *e_r,
                       const char **error_r)
{
	struct sdb_stmt *s = NULL;
	int rc = sdb_query_int(st, "SELECT dn, login, display_name, lang, addresses, seen FROM"
	                       " directory_employees WHERE user_id = ?1",
	                       user_id, &s, error_r);
	if (rc == SDB_ROW) {
		memset(e_r, 0, sizeof(*e_r));
		e_r->user_id = user_id;
		sdb_col_copy(s, 0, e_r->dn, sizeof(e_r->dn));
		sdb_col_copy(s, 1, e_r->login, sizeof(e_r->login));
		sdb_col_copy(s, 2, e_r->display_name, sizeof(e_r->display_name));
		sdb_col_copy(s, 3, e_r->lang, sizeof(e_r->lang));
		sdb_col_copy(s, 4, e_r->addresses, sizeof(e_r->addresses));
		e_r->seen = (time_t)sdb_col_int64(s, 5);
		sdb_finish(s);
	}
	return rc;
}

int store_employee_delete(struct store *st, int64_t user_id, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st, "DELETE FROM directory_employees WHERE user_id = ?1", &s, error_r) <
	        0 ||
	    sdb_bind_int64(s, 1, user_id) < 0 || sdb_step(s) != SDB_DONE)
		return sdb_fail(s, error_r);
	sdb_finish(s);
	return 0;
}

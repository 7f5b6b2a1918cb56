/* store_sqlite_legacy.c: TEMPORARY: the old store_sqlite.h calls over store_db.h, until every
 * store_*.c runs through store_db.h; then this file goes. */
#include "store/store_sqlite.h"
#include "store/store_db.h"
#include "core/sg_log.h"
#include "core/sg_str.h"

sqlite3 *sdb_sqlite_handle(struct store *st);

sqlite3 *store_sqlite_db(struct store *st) { return sdb_sqlite_handle(st); }

int64_t store_sqlite_conn_id(const struct store *st)
{
	struct store_stamp stamp;
	const char *err;
	sdb_stamp((struct store *)st, &stamp, &err);
	return stamp.conn;
}

int store_sqlite_data_version(struct store *st, int64_t *version_r, const char **error_r)
{
	struct store_stamp stamp;
	if (sdb_stamp(st, &stamp, error_r) < 0)
		return -1;
	*version_r = stamp.others;
	return 0;
}

int store_sqlite_begin(struct store *st, bool write, const char **error_r)
{
	return sdb_begin(st, write, error_r);
}

int store_sqlite_commit(struct store *st, const char **error_r) { return sdb_commit(st, error_r); }
void store_sqlite_rollback(struct store *st) { sdb_rollback(st); }
int store_sqlite_unsynced_begin(struct store *st) { return sdb_unsynced_begin(st); }
void store_sqlite_unsynced_end(struct store *st, int level) { sdb_unsynced_end(st, level); }

int store_sqlite_fail(sqlite3 *db, sqlite3_stmt *s, const char **error_r)
{
	sg_error("store: %s", sqlite3_errmsg(db));
	sqlite3_finalize(s);
	*error_r = "store: database error (see the log)";
	return -1;
}

int store_sqlite_exec_text(struct store *st, const char *sql, const char *arg,
                           const char **error_r)
{
	return sdb_exec_text(st, sql, arg, error_r);
}

void store_sqlite_text(sqlite3_stmt *s, int col, char *dst, size_t size)
{
	const unsigned char *t = sqlite3_column_text(s, col);
	sg_strlcpy(dst, t != NULL ? (const char *)t : "", size);
}

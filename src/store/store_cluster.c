/* store_cluster.c: what lets several gateway nodes share one store (issue 15). Named counters
 * that only ever grow, each step one atomic statement, so no two nodes draw the same value (the
 * CA's serial sequence; the directory's change counter, which triggers bump in the transaction
 * of every change to users and certificates), and leases for jobs that one node at a time runs
 * (the tick). Every statement is plain SQL both engines run: an upsert with RETURNING. */
#include "store/store.h"
#include "store/store_sqlite.h"

/* Runs sql with ?1 text, ?2 text, ?3 and ?4 numbers (those it names); when it returns a row,
 * *row_r is true and *value_r its first column. */
static int run(struct store *st, const char *sql, const char *t1, const char *t2, int64_t n3,
               int64_t n4, int64_t *value_r, bool *row_r, const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return store_sqlite_fail(db, s, error_r);
	int params = sqlite3_bind_parameter_count(s);
	if (sqlite3_bind_text(s, 1, t1, -1, SQLITE_STATIC) != SQLITE_OK ||
	    (params >= 2 && sqlite3_bind_text(s, 2, t2, -1, SQLITE_STATIC) != SQLITE_OK) ||
	    (params >= 3 && sqlite3_bind_int64(s, 3, n3) != SQLITE_OK) ||
	    (params >= 4 && sqlite3_bind_int64(s, 4, n4) != SQLITE_OK))
		return store_sqlite_fail(db, s, error_r);
	int rc = sqlite3_step(s);
	*row_r = rc == SQLITE_ROW;
	if (*row_r)
		*value_r = sqlite3_column_int64(s, 0);
	/* A RETURNING statement commits only when stepped to its end. */
	while (rc == SQLITE_ROW)
		rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		return store_sqlite_fail(db, s, error_r);
	sqlite3_finalize(s);
	return 0;
}

int store_counter_next(struct store *st, const char *name, int64_t *value_r,
                       const char **error_r)
{
	bool row = false;
	if (run(st, "INSERT INTO store_counters (name, value) VALUES (?1, 1)"
	            " ON CONFLICT (name) DO UPDATE SET value = store_counters.value + 1"
	            " RETURNING value",
	        name, NULL, 0, 0, value_r, &row, error_r) < 0)
		return -1;
	if (!row) {
		*error_r = "store: the counter did not advance";
		return -1;
	}
	return 0;
}

int store_counter_get(struct store *st, const char *name, int64_t *value_r,
                      const char **error_r)
{
	bool row = false;
	if (run(st, "SELECT value FROM store_counters WHERE name = ?1", name, NULL, 0, 0, value_r,
	        &row, error_r) < 0)
		return -1;
	if (!row)
		*value_r = 0;
	return 0;
}

int store_ca_serial_next(struct store *st, uint64_t *seq_r, const char **error_r)
{
	int64_t v = 0;
	if (store_counter_next(st, STORE_COUNTER_CA_SERIAL, &v, error_r) < 0)
		return -1;
	*seq_r = (uint64_t)v;
	return 0;
}

int store_directory_version(struct store *st, uint64_t *version_r, const char **error_r)
{
	int64_t v = 0;
	if (store_counter_get(st, STORE_COUNTER_DIRECTORY, &v, error_r) < 0)
		return -1;
	*version_r = (uint64_t)v;
	return 0;
}

int store_leader_try(struct store *st, const char *name, const char *holder, time_t now,
                     time_t ttl, bool *leading_r, const char **error_r)
{
	/* Taken when free, when ours (renewed), or when its holder let it lapse: one statement,
	 * so two nodes that ask at once cannot both get it. */
	int64_t ignored = 0;
	*leading_r = false;
	return run(st, "INSERT INTO store_leases (name, holder, expires) VALUES (?1, ?2, ?3 + ?4)"
	               " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,"
	               " expires = excluded.expires"
	               " WHERE store_leases.holder = excluded.holder OR store_leases.expires <= ?3"
	               " RETURNING expires",
	           name, holder, (int64_t)now, (int64_t)ttl, &ignored, leading_r, error_r);
}

int store_leader_release(struct store *st, const char *name, const char *holder,
                         const char **error_r)
{
	int64_t ignored = 0;
	bool row = false;
	return run(st, "DELETE FROM store_leases WHERE name = ?1 AND holder = ?2 RETURNING expires",
	           name, holder, 0, 0, &ignored, &row, error_r);
}

int store_leader_holder(struct store *st, const char *name, time_t now, char *holder_r,
                        size_t size, const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	holder_r[0] = '\0';
	if (sqlite3_prepare_v2(db, "SELECT holder FROM store_leases WHERE name = ?1 AND expires > ?2",
	                       -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 2, (int64_t)now) != SQLITE_OK)
		return store_sqlite_fail(db, s, error_r);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		store_sqlite_text(s, 0, holder_r, size);
	else if (rc != SQLITE_DONE)
		return store_sqlite_fail(db, s, error_r);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 1 : 0;
}

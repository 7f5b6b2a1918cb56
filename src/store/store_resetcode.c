/* store_resetcode.c: the one-time codes a password reset mails to the partner (schema version
 * 7). One row per account, holding only a keyed hash of the code; a new code replaces the
 * last. Taking a code is one DELETE that matches hash and age together, so two requests with
 * the same code cannot both succeed. */
#include "store/store.h"
#include "store/store_sqlite.h"

/* Runs sql with ?1 user_id, ?2 text, ?3 number (those of them it names); *changed_r: the rows
 * it changed. */
static int run(struct store *st, const char *sql, int64_t user_id, const char *text, int64_t n,
               int *changed_r, const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return store_sqlite_fail(db, s, error_r);
	int params = sqlite3_bind_parameter_count(s);
	if (sqlite3_bind_int64(s, 1, user_id) != SQLITE_OK ||
	    (params >= 2 && sqlite3_bind_text(s, 2, text, -1, SQLITE_STATIC) != SQLITE_OK) ||
	    (params >= 3 && sqlite3_bind_int64(s, 3, n) != SQLITE_OK) || sqlite3_step(s) != SQLITE_DONE)
		return store_sqlite_fail(db, s, error_r);
	*changed_r = sqlite3_changes(db);
	sqlite3_finalize(s);
	return 0;
}

int store_resetcode_set(struct store *st, int64_t user_id, const char *code_hash, time_t now,
                        const char **error_r)
{
	int n = 0;
	return run(st, "INSERT INTO portal_reset_codes (user_id, code_hash, created, attempts)"
	               " VALUES (?1, ?2, ?3, 0) ON CONFLICT (user_id) DO UPDATE"
	               " SET code_hash = ?2, created = ?3, attempts = 0",
	           user_id, code_hash, (int64_t)now, &n, error_r);
}

int store_resetcode_take(struct store *st, int64_t user_id, const char *code_hash,
                         time_t created_after, bool *taken_r, const char **error_r)
{
	int n = 0;
	/* The store's mutex holds the connection from the DELETE to sqlite3_changes. */
	if (store_sqlite_begin(st, true, error_r) < 0)
		return -1;
	if (run(st, "DELETE FROM portal_reset_codes WHERE user_id = ?1 AND code_hash = ?2"
	            " AND created > ?3", user_id, code_hash, (int64_t)created_after, &n, error_r) < 0) {
		store_sqlite_rollback(st);
		return -1;
	}
	*taken_r = n == 1;
	return store_sqlite_commit(st, error_r);
}

int store_resetcode_failed(struct store *st, int64_t user_id, int max_attempts,
                           const char **error_r)
{
	int n = 0;
	if (store_sqlite_begin(st, true, error_r) < 0)
		return -1;
	if (run(st, "UPDATE portal_reset_codes SET attempts = attempts + 1 WHERE user_id = ?1",
	        user_id, NULL, 0, &n, error_r) < 0 ||
	    run(st, "DELETE FROM portal_reset_codes WHERE user_id = ?1"
	            " AND attempts >= ?3", user_id, NULL, max_attempts, &n, error_r) < 0) {
		store_sqlite_rollback(st);
		return -1;
	}
	return store_sqlite_commit(st, error_r);
}

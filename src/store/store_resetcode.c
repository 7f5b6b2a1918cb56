/* store_resetcode.c: the one-time codes a password reset mails to the partner (schema version
 * 7). One row per account, holding only a keyed hash of the code; a new code replaces the
 * last. Taking a code is one DELETE that matches hash and age together, so two requests with
 * the same code cannot both succeed. */
#include "store/store.h"
#include "store/store_db.h"

/* Runs sql with ?1 user_id, then text (unless NULL) and n, those of them it names; *changed_r:
 * the rows it changed. */
static int run(struct store *st, const char *sql, int64_t user_id, const char *text, int64_t n,
               int *changed_r, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st, sql, &s, error_r) < 0)
		return -1;
	int params = sdb_param_count(s);
	int n_idx = text != NULL ? 3 : 2;
	if (sdb_bind_int64(s, 1, user_id) < 0 ||
	    (text != NULL && params >= 2 && sdb_bind_text(s, 2, text) < 0) ||
	    (params >= n_idx && sdb_bind_int64(s, n_idx, n) < 0) || sdb_step(s) != SDB_DONE)
		return sdb_fail(s, error_r);
	*changed_r = (int)sdb_changes(s);
	sdb_finish(s);
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
	if (sdb_begin(st, true, error_r) < 0)
		return -1;
	if (run(st, "DELETE FROM portal_reset_codes WHERE user_id = ?1 AND code_hash = ?2"
	            " AND created > ?3", user_id, code_hash, (int64_t)created_after, &n, error_r) < 0) {
		sdb_rollback(st);
		return -1;
	}
	*taken_r = n == 1;
	return sdb_commit(st, error_r);
}

int store_resetcode_failed(struct store *st, int64_t user_id, int max_attempts,
                           const char **error_r)
{
	int n = 0;
	if (sdb_begin(st, true, error_r) < 0)
		return -1;
	if (run(st, "UPDATE portal_reset_codes SET attempts = attempts + 1 WHERE user_id = ?1",
	        user_id, NULL, 0, &n, error_r) < 0 ||
	    run(st,
	        "DELETE FROM portal_reset_codes WHERE user_id = ?1"
	        " AND attempts >= ?2",
	        user_id, NULL, max_attempts, &n, error_r) < 0) {
		sdb_rollback(st);
		return -1;
	}
	return sdb_commit(st, error_r);
}

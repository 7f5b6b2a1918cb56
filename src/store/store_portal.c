/* store_portal.c: what the web portal keeps: account credentials (hashes only), security
 * questions, attempt counters for throttling and sessions (by the hash of the cookie); the
 * audit log is store_audit.c's. */
#include "store/store.h"
#include "store/store_db.h"
#include "core/sg_time.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <string.h>

/* Runs a statement that returns no rows; text binds in order ("t"), integers ("i"). */
static int run(struct store *st, const char *sql, const char *types, const char *const *texts,
               const int64_t *ints, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st, sql, &s, error_r) < 0)
		return -1;
	size_t ti = 0, ii = 0;
	for (int i = 0; types[i] != '\0'; i++) {
		int rc = types[i] == 't' ? sdb_bind_text(s, i + 1, texts[ti++])
		                         : sdb_bind_int64(s, i + 1, ints[ii++]);
		if (rc < 0)
			return sdb_fail(s, error_r);
	}
	if (sdb_step(s) != SDB_DONE)
		return sdb_fail(s, error_r);
	sdb_finish(s);
	return 0;
}

int store_portal_invite(struct store *st, const char *address, const char *otp_hash,
                        time_t otp_expires, int64_t *user_id_r, const char **error_r)
{
	if (store_user_ensure(st, address, STORE_USER_EXTERNAL, user_id_r, error_r) < 0)
		return -1;
	const char *t[] = {otp_hash};
	int64_t n[] = {*user_id_r, (int64_t)otp_expires, (int64_t)sg_wall()};
	return run(
	    st,
	    "INSERT INTO portal_accounts (user_id, otp_hash, otp_expires, otp_attempts, invited)"
	    " VALUES (?1, ?2, ?3, 0, ?4) ON CONFLICT (user_id) DO UPDATE"
	    " SET otp_hash = ?2, otp_expires = ?3, otp_attempts = 0",
	    "itii", t, n, error_r);
}

int store_portal_account_get(struct store *st, const char *address,
                             struct store_portal_account *acct_r, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	int rc = sdb_query_text(st, "SELECT a.user_id, u.address, a.password_hash, a.otp_hash,"
	                        " a.otp_expires, a.otp_attempts, a.registered FROM portal_accounts a"
	                        " JOIN users u ON u.id = a.user_id WHERE u.address = ?1",
	                        address, &s, error_r);
	if (rc == SDB_ROW) {
		memset(acct_r, 0, sizeof(*acct_r));
		acct_r->user_id = sdb_col_int64(s, 0);
		sdb_col_copy(s, 1, acct_r->address, sizeof(acct_r->address));
		sdb_col_copy(s, 2, acct_r->password_hash, sizeof(acct_r->password_hash));
		sdb_col_copy(s, 3, acct_r->otp_hash, sizeof(acct_r->otp_hash));
		acct_r->otp_expires = (time_t)sdb_col_int64(s, 4);
		acct_r->otp_attempts = (int)sdb_col_int64(s, 5);
		acct_r->registered = (time_t)sdb_col_int64(s, 6);
		sdb_finish(s);
	}
	return rc;
}

int store_portal_register(struct store *st, int64_t user_id, const char *password_hash,
                          time_t now, const char **error_r)
{
	const char *t[] = {password_hash};
	int64_t n[] = {user_id, (int64_t)now};
	return run(st, "UPDATE portal_accounts SET password_hash = ?2, registered = ?3,"
	               " otp_hash = '', otp_expires = 0, otp_attempts = 0 WHERE user_id = ?1",
	           "iti", t, n, error_r);
}

int store_portal_password_set(struct store *st, int64_t user_id, const char *password_hash,
                              const char **error_r)
{
	const char *t[] = {password_hash};
	int64_t n[] = {user_id};
	return run(st, "UPDATE portal_accounts SET password_hash = ?2 WHERE user_id = ?1", "it", t, n,
	           error_r);
}

static int insert_question(struct store *st, int64_t user_id, int64_t idx,
                           const struct store_portal_question *q, const char **error_r)
{
	const char *t[] = {q->key, q->answer_hash};
	int64_t n[] = {user_id, idx};
	return run(st, "INSERT INTO portal_questions (user_id, idx, question, answer_hash)"
	               " VALUES (?1, ?2, ?3, ?4)",
	           "iitt", t, n, error_r);
}

int store_portal_questions_set(struct store *st, int64_t user_id,
                               const struct store_portal_question q[STORE_PORTAL_QUESTIONS],
                               const char **error_r)
{
	for (size_t i = 0; i < STORE_PORTAL_QUESTIONS; i++)
		if (q[i].key[0] == '\0' || q[i].answer_hash[0] == '\0') {
			*error_r = "store: a security question without key or answer";
			return -1;
		}
	int64_t uid[] = {user_id};
	if (sdb_begin(st, true, error_r) < 0)
		return -1;
	int rc = run(st, "DELETE FROM portal_questions WHERE user_id = ?1", "i", NULL, uid, error_r);
	for (size_t i = 0; rc == 0 && i < STORE_PORTAL_QUESTIONS; i++)
		rc = insert_question(st, user_id, (int64_t)i, &q[i], error_r);
	if (rc < 0) {
		sdb_rollback(st);
		return -1;
	}
	return sdb_commit(st, error_r);
}

int store_portal_questions_get(struct store *st, int64_t user_id,
                               struct store_portal_question q_r[STORE_PORTAL_QUESTIONS],
                               const char **error_r)
{
	struct sdb_stmt *s = NULL;
	memset(q_r, 0, sizeof(*q_r) * STORE_PORTAL_QUESTIONS);
	if (sdb_prepare(st,
	                "SELECT idx, question, answer_hash FROM portal_questions"
	                " WHERE user_id = ?1 ORDER BY idx",
	                &s, error_r) < 0 ||
	    sdb_bind_int64(s, 1, user_id) < 0)
		return sdb_fail(s, error_r);
	int rc;
	unsigned seen = 0;
	while ((rc = sdb_step(s)) == SDB_ROW) {
		int idx = (int)sdb_col_int64(s, 0);
		if (idx < 0 || idx >= STORE_PORTAL_QUESTIONS)
			continue;
		sdb_col_copy(s, 1, q_r[idx].key, sizeof(q_r[idx].key));
		sdb_col_copy(s, 2, q_r[idx].answer_hash, sizeof(q_r[idx].answer_hash));
		seen |= 1u << idx;
	}
	if (rc != SDB_DONE)
		return sdb_fail(s, error_r);
	sdb_finish(s);
	if (seen != (1u << STORE_PORTAL_QUESTIONS) - 1) {
		memset(q_r, 0, sizeof(*q_r) * STORE_PORTAL_QUESTIONS);
		return 0;
	}
	return 1;
}

int store_portal_meta_once(struct store *st, const char *key, const char *fresh, char *value_r,
                           size_t size, const char **error_r)
{
	const char *t[] = {key, fresh};
	if (run(st, "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
	        "tt", t, NULL, error_r) < 0)
		return -1;
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st, "SELECT value FROM meta WHERE key = ?1", &s, error_r) < 0 ||
	    sdb_bind_text(s, 1, key) < 0 || sdb_step(s) != SDB_ROW)
		return sdb_fail(s, error_r);
	sdb_col_copy(s, 0, value_r, size);
	sdb_finish(s);
	return 0;
}

/* failures and locked_until of key (0, 0 when unknown). */
static int throttle_get(struct store *st, const char *key, int64_t *failures_r,
                        int64_t *until_r, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	*failures_r = *until_r = 0;
	int rc = sdb_query_text(st, "SELECT failures, locked_until FROM portal_throttle WHERE key = ?1",
	                        key, &s, error_r);
	if (rc == SDB_ROW) {
		*failures_r = sdb_col_int64(s, 0);
		*until_r = sdb_col_int64(s, 1);
		sdb_finish(s);
	}
	return rc < 0 ? -1 : 0;
}

/* The wait before attempt+1 of a key that has made attempt attempts. */
static int64_t throttle_delay(const struct store_throttle_policy *p, int64_t attempt)
{
	if (attempt < p->free_attempts)
		return 0;
	int64_t d = p->delay_s;
	for (int64_t i = p->free_attempts; i < attempt && d < p->max_delay_s; i++)
		d *= 2;
	return d < p->max_delay_s ? d : p->max_delay_s;
}

/* Counts one attempt on key (inside the caller's transaction); *wait_r: the wait it starts. */
static int throttle_count(struct store *st, const char *key, time_t now,
                          const struct store_throttle_policy *p, time_t *wait_r,
                          const char **error_r)
{
	int64_t failures, until;
	if (throttle_get(st, key, &failures, &until, error_r) < 0)
		return -1;
	if (until + p->forget_s <= (int64_t)now)
		failures = 0; /* quiet long enough: a fresh count */
	failures++;
	int64_t next = (int64_t)now + throttle_delay(p, failures);
	if (next > until)
		until = next; /* never shortens a wait */
	*wait_r = (time_t)(until - (int64_t)now);
	int64_t n[] = {failures, until};
	const char *t[] = {key};
	return run(st, "INSERT INTO portal_throttle (key, failures, locked_until) VALUES (?1, ?2, ?3)"
	               " ON CONFLICT (key) DO UPDATE SET failures = ?2, locked_until = ?3",
	           "tii", t, n, error_r);
}

/* The longest wait still running on keys (0: none). */
static int throttle_waiting(struct store *st, const char *const *keys, size_t n, time_t now,
                            time_t *wait_r, const char **error_r)
{
	*wait_r = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t failures, until;
		if (throttle_get(st, keys[i], &failures, &until, error_r) < 0)
			return -1;
		if (until > (int64_t)now && until - (int64_t)now > (int64_t)*wait_r)
			*wait_r = (time_t)(until - (int64_t)now);
	}
	return 0;
}

int store_portal_throttle_reserve(struct store *st, const char *const *keys, size_t n,
                                  time_t now, const struct store_throttle_policy *p,
                                  time_t *wait_r, const char **error_r)
{
	if (sdb_begin(st, true, error_r) < 0)
		return -1;
	int rc = throttle_waiting(st, keys, n, now, wait_r, error_r);
	if (rc == 0 && *wait_r > 0) {
		sdb_rollback(st);
		return 1;
	}
	for (size_t i = 0; rc == 0 && i < n; i++) {
		time_t w = 0;
		rc = throttle_count(st, keys[i], now, p, &w, error_r);
		if (w > *wait_r)
			*wait_r = w;
	}
	if (rc < 0) {
		sdb_rollback(st);
		return -1;
	}
	return sdb_commit(st, error_r);
}

int store_portal_throttle_succeeded(struct store *st, const char *key, bool reset,
                                    const char **error_r)
{
	const char *t[] = {key};
	return run(st,
	           reset ? "UPDATE portal_throttle SET failures = 0 WHERE key = ?1"
	                 : "UPDATE portal_throttle SET failures = CASE WHEN failures > 0 THEN"
	                   " failures - 1 ELSE 0 END WHERE key = ?1",
	           "t", t, NULL, error_r);
}

int store_portal_throttle_expire(struct store *st, time_t before, const char **error_r)
{
	int64_t n[] = {(int64_t)before};
	return run(st, "DELETE FROM portal_throttle WHERE locked_until < ?1", "i", NULL, n, error_r);
}

int store_portal_session_add(struct store *st, const struct store_portal_session *s,
                             const char **error_r)
{
	const char *t[] = {s->id_hash, s->csrf, s->address};
	int64_t n[] = {s->user_id, s->stage, (int64_t)s->created, (int64_t)s->last_seen};
	return run(st, "INSERT INTO portal_sessions (id_hash, user_id, stage, csrf, created, last_seen,"
	               " address) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	           "tiitiit", t, n, error_r);
}

int store_portal_session_get(struct store *st, const char *id_hash,
                             struct store_portal_session *s_r, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	int rc = sdb_query_text(st, "SELECT user_id, stage, csrf, created, last_seen, address FROM"
	                        " portal_sessions WHERE id_hash = ?1",
	                        id_hash, &s, error_r);
	if (rc == SDB_ROW) {
		memset(s_r, 0, sizeof(*s_r));
		sg_strlcpy(s_r->id_hash, id_hash, sizeof(s_r->id_hash));
		s_r->user_id = sdb_col_int64(s, 0);
		s_r->stage = (int)sdb_col_int64(s, 1);
		sdb_col_copy(s, 2, s_r->csrf, sizeof(s_r->csrf));
		s_r->created = (time_t)sdb_col_int64(s, 3);
		s_r->last_seen = (time_t)sdb_col_int64(s, 4);
		sdb_col_copy(s, 5, s_r->address, sizeof(s_r->address));
		sdb_finish(s);
	}
	return rc;
}

int store_portal_session_touch(struct store *st, const char *id_hash, time_t now,
                               const char **error_r)
{
	const char *t[] = {id_hash};
	int64_t n[] = {(int64_t)now};
	return run(st, "UPDATE portal_sessions SET last_seen = ?2 WHERE id_hash = ?1", "ti", t, n,
	           error_r);
}

int store_portal_session_delete(struct store *st, const char *id_hash, const char **error_r)
{
	const char *t[] = {id_hash};
	return run(st, "DELETE FROM portal_sessions WHERE id_hash = ?1", "t", t, NULL, error_r);
}

int store_portal_session_delete_user(struct store *st, int64_t user_id, const char **error_r)
{
	int64_t n[] = {user_id};
	return run(st, "DELETE FROM portal_sessions WHERE user_id = ?1", "i", NULL, n, error_r);
}

int store_portal_session_delete_address(struct store *st, const char *address,
                                        const char **error_r)
{
	const char *t[] = {address};
	return run(st, "DELETE FROM portal_sessions WHERE user_id = (SELECT id FROM users WHERE"
	               " address = ?1) OR address = ?1", "t", t, NULL, error_r);
}

int store_portal_session_expire(struct store *st, time_t idle_before, time_t created_before,
                                const char **error_r)
{
	int64_t n[] = {(int64_t)idle_before, (int64_t)created_before};
	return run(st, "DELETE FROM portal_sessions WHERE last_seen < ?1 OR created < ?2", "ii", NULL,
	           n, error_r);
}

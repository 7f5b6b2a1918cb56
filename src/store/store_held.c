/* store_held.c: mail that waits in the store for a partner to register. The message is sealed
 * by the caller (keystore) before it comes here; the store sees only the sealed blob, the two
 * addresses and the subject that the notices to the sender quote. */
#include "store/store.h"
#include "store/store_sqlite.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <string.h>

#define HELD_LIST_MAX 10000 /* rows per query: more waits for the next round */

int store_held_add(struct store *st, int64_t user_id, const char *sender, const char *subject,
                   const unsigned char *sealed, size_t sealed_len, time_t now, int64_t *id_r,
                   const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	char subj[256];
	sg_strlcpy(subj, subject != NULL ? subject : "", sizeof(subj));
	if (sqlite3_prepare_v2(db, "INSERT INTO held_mail (user_id, sender, subject, sealed, created,"
	                           " expires) VALUES (?1, ?2, ?3, ?4, ?5, 0)", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 1, user_id) != SQLITE_OK ||
	    sqlite3_bind_text(s, 2, sender, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(s, 3, subj, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_blob64(s, 4, sealed, sealed_len, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 5, (int64_t)now) != SQLITE_OK || sqlite3_step(s) != SQLITE_DONE)
		return store_sqlite_fail(db, s, error_r);
	sqlite3_finalize(s);
	*id_r = sqlite3_last_insert_rowid(db);
	return 0;
}

#define HELD_COLUMNS                                                                             \
	"SELECT h.id, h.user_id, u.address, h.sender, h.subject, h.created,"                        \
	" COALESCE(a.otp_expires, 0) FROM held_mail h JOIN users u ON u.id = h.user_id"             \
	" LEFT JOIN portal_accounts a ON a.user_id = h.user_id "

/* Binds ?1 to address, or to now when now > 0; a query without ?1 gets neither. */
static int list(struct store *st, const char *sql, const char *address, int64_t now,
                struct store_held **list_r, size_t *n_r, const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	*list_r = NULL;
	*n_r = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK ||
	    (address != NULL && sqlite3_bind_text(s, 1, address, -1, SQLITE_STATIC) != SQLITE_OK) ||
	    (now > 0 && sqlite3_bind_int64(s, 1, now) != SQLITE_OK))
		return store_sqlite_fail(db, s, error_r);
	size_t cap = 0;
	int rc;
	while (*n_r < HELD_LIST_MAX && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (*n_r == cap) {
			cap = cap ? cap * 2 : 8;
			*list_r = sg_realloc(*list_r, cap * sizeof(**list_r));
		}
		struct store_held *h = &(*list_r)[(*n_r)++];
		memset(h, 0, sizeof(*h));
		h->id = sqlite3_column_int64(s, 0);
		h->user_id = sqlite3_column_int64(s, 1);
		store_sqlite_text(s, 2, h->address, sizeof(h->address));
		store_sqlite_text(s, 3, h->sender, sizeof(h->sender));
		store_sqlite_text(s, 4, h->subject, sizeof(h->subject));
		h->created = (time_t)sqlite3_column_int64(s, 5);
		h->until = (time_t)sqlite3_column_int64(s, 6);
	}
	if (*n_r < HELD_LIST_MAX && rc != SQLITE_DONE) {
		sg_free(list_r);
		*n_r = 0;
		return store_sqlite_fail(db, s, error_r);
	}
	sqlite3_finalize(s);
	return 0;
}

int store_held_list(struct store *st, const char *address, struct store_held **list_r,
                    size_t *n_r, const char **error_r)
{
	return list(st, HELD_COLUMNS "WHERE u.address = ?1 ORDER BY h.id", address, 0, list_r, n_r,
	            error_r);
}

int store_held_expired(struct store *st, time_t now, struct store_held **list_r, size_t *n_r,
                       const char **error_r)
{
	/* No account row (dropped) or an unregistered one whose OTP ran out. */
	return list(st,
	            HELD_COLUMNS "WHERE a.user_id IS NULL OR (a.registered = 0 AND a.otp_expires < ?1)"
	                         " ORDER BY h.id",
	            NULL, (int64_t)now, list_r, n_r, error_r);
}

int store_held_registered(struct store *st, struct store_held **list_r, size_t *n_r,
                          const char **error_r)
{
	return list(st, HELD_COLUMNS "WHERE a.registered != 0 ORDER BY h.id", NULL, 0, list_r, n_r,
	            error_r);
}

int store_held_sealed(struct store *st, int64_t id, unsigned char **sealed_r, size_t *len_r,
                      const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, "SELECT sealed FROM held_mail WHERE id = ?1", -1, &s, NULL) !=
	        SQLITE_OK ||
	    sqlite3_bind_int64(s, 1, id) != SQLITE_OK)
		return store_sqlite_fail(db, s, error_r);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		int n = sqlite3_column_bytes(s, 0);
		*len_r = (size_t)(n > 0 ? n : 0);
		*sealed_r = sg_memdup(sqlite3_column_blob(s, 0), *len_r);
	} else if (rc != SQLITE_DONE) {
		return store_sqlite_fail(db, s, error_r);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 1 : 0;
}

static int exec_id(struct store *st, const char *sql, int64_t id, const char *text,
                   const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 1, id) != SQLITE_OK ||
	    (text != NULL && sqlite3_bind_text(s, 2, text, -1, SQLITE_STATIC) != SQLITE_OK) ||
	    sqlite3_step(s) != SQLITE_DONE)
		return store_sqlite_fail(db, s, error_r);
	sqlite3_finalize(s);
	return 0;
}

int store_held_delete(struct store *st, int64_t id, const char **error_r)
{
	return exec_id(st, "DELETE FROM held_mail WHERE id = ?1", id, NULL, error_r);
}

int store_held_count(struct store *st, const char *address, size_t *n_r, const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM held_mail h JOIN users u ON u.id = h.user_id"
	                           " WHERE u.address = ?1", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(s, 1, address, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW)
		return store_sqlite_fail(db, s, error_r);
	*n_r = (size_t)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return 0;
}

int store_held_inviter_set(struct store *st, int64_t user_id, const char *inviter,
                           const char **error_r)
{
	return exec_id(st, "UPDATE portal_accounts SET inviter = ?2 WHERE user_id = ?1", user_id,
	               inviter, error_r);
}

int store_held_invite_drop(struct store *st, int64_t user_id, const char **error_r)
{
	return exec_id(st, "DELETE FROM portal_accounts WHERE user_id = ?1 AND registered = 0",
	               user_id, NULL, error_r);
}

/* store_held.c: mail that waits in the store for a partner to register. The message is sealed
 * by the caller (keystore) before it comes here; the store sees only the sealed blob, the two
 * addresses and the subject that the notices to the sender quote. */
#include "store/store.h"
#include "store/store_db.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <string.h>

#define HELD_LIST_MAX 10000 /* rows per query: more waits for the next round */

int store_held_add(struct store *st, int64_t user_id, const char *sender, const char *subject,
                   const unsigned char *sealed, size_t sealed_len, time_t now, int64_t *id_r,
                   const char **error_r)
{
	struct sdb_stmt *s = NULL;
	char subj[256];
	sg_strlcpy(subj, subject != NULL ? subject : "", sizeof(subj));
	if (sdb_prepare(st,
	                "INSERT INTO held_mail (user_id, sender, subject, sealed, created,"
	                " expires) VALUES (?1, ?2, ?3, ?4, ?5, 0) RETURNING id",
	                &s, error_r) < 0 ||
	    sdb_bind_int64(s, 1, user_id) < 0 || sdb_bind_text(s, 2, sender) < 0 ||
	    sdb_bind_text(s, 3, subj) < 0 || sdb_bind_blob(s, 4, sealed, sealed_len) < 0 ||
	    sdb_bind_int64(s, 5, (int64_t)now) < 0 || sdb_step(s) != SDB_ROW)
		return sdb_fail(s, error_r);
	*id_r = sdb_col_int64(s, 0);
	sdb_finish(s);
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
	struct sdb_stmt *s = NULL;
	*list_r = NULL;
	*n_r = 0;
	if (sdb_prepare(st, sql, &s, error_r) < 0 ||
	    (address != NULL && sdb_bind_text(s, 1, address) < 0) ||
	    (now > 0 && sdb_bind_int64(s, 1, now) < 0))
		return sdb_fail(s, error_r);
	size_t cap = 0;
	int rc;
	while (*n_r < HELD_LIST_MAX && (rc = sdb_step(s)) == SDB_ROW) {
		if (*n_r == cap) {
			cap = cap ? cap * 2 : 8;
			*list_r = sg_realloc(*list_r, cap * sizeof(**list_r));
		}
		struct store_held *h = &(*list_r)[(*n_r)++];
		memset(h, 0, sizeof(*h));
		h->id = sdb_col_int64(s, 0);
		h->user_id = sdb_col_int64(s, 1);
		sdb_col_copy(s, 2, h->address, sizeof(h->address));
		sdb_col_copy(s, 3, h->sender, sizeof(h->sender));
		sdb_col_copy(s, 4, h->subject, sizeof(h->subject));
		h->created = (time_t)sdb_col_int64(s, 5);
		h->until = (time_t)sdb_col_int64(s, 6);
	}
	if (*n_r < HELD_LIST_MAX && rc != SDB_DONE) {
		sg_free(list_r);
		*n_r = 0;
		return sdb_fail(s, error_r);
	}
	sdb_finish(s);
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
	struct sdb_stmt *s = NULL;
	int rc = sdb_query_int(st, "SELECT sealed FROM held_mail WHERE id = ?1",
	                       id, &s, error_r);
	if (rc == SDB_ROW) {
		*sealed_r = sdb_col_blob_dup(s, 0, len_r);
		sdb_finish(s);
	}
	return rc;
}

static int exec_id(struct store *st, const char *sql, int64_t id, const char *text,
                   const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st, sql, &s, error_r) < 0 || sdb_bind_int64(s, 1, id) < 0 ||
	    (text != NULL && sdb_bind_text(s, 2, text) < 0) || sdb_step(s) != SDB_DONE)
		return sdb_fail(s, error_r);
	sdb_finish(s);
	return 0;
}

int store_held_delete(struct store *st, int64_t id, const char **error_r)
{
	return exec_id(st, "DELETE FROM held_mail WHERE id = ?1", id, NULL, error_r);
}

int store_held_count(struct store *st, const char *address, size_t *n_r, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st,
	                "SELECT count(*) FROM held_mail h JOIN users u ON u.id = h.user_id"
	                " WHERE u.address = ?1",
	                &s, error_r) < 0 ||
	    sdb_bind_text(s, 1, address) < 0 || sdb_step(s) != SDB_ROW)
		return sdb_fail(s, error_r);
	*n_r = (size_t)sdb_col_int64(s, 0);
	sdb_finish(s);
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

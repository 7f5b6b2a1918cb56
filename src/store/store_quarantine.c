/* store_quarantine.c: the scan_quarantine table. */
#include "store/store_quarantine.h"
#include "store/store.h"
#include "store/store_sqlite.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <string.h>

#define QUARANTINE_LIST_MAX 100000

void store_quarantine_clear(struct store_quarantine *q)
{
	sg_free(&q->sealed);
	memset(q, 0, sizeof(*q));
}

int store_quarantine_reserve(struct store *st, const struct store_quarantine *q, int64_t *id_r,
                             const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, "INSERT INTO scan_quarantine (queue_id, sender, rcpts, "
	                           "signature, created) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
	                       -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(s, 1, q->queue_id, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(s, 2, q->sender, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(s, 3, q->rcpts, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(s, 4, q->signature, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 5, (sqlite3_int64)q->created) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW)
		return store_sqlite_fail(db, s, error_r);
	*id_r = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return 0;
}

int store_quarantine_seal(struct store *st, int64_t id, const unsigned char *sealed,
                          size_t sealed_len, const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, "UPDATE scan_quarantine SET sealed = ?2 WHERE id = ?1", -1, &s,
	                       NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 1, id) != SQLITE_OK ||
	    sqlite3_bind_blob(s, 2, sealed, (int)sealed_len, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_DONE)
		return store_sqlite_fail(db, s, error_r);
	sqlite3_finalize(s);
	return 0;
}

static void read_row(sqlite3_stmt *s, bool with_sealed, struct store_quarantine *q)
{
	const char *t;
	q->id = sqlite3_column_int64(s, 0);
	sg_strlcpy(q->queue_id, (t = (const char *)sqlite3_column_text(s, 1)) ? t : "",
	           sizeof(q->queue_id));
	sg_strlcpy(q->sender, (t = (const char *)sqlite3_column_text(s, 2)) ? t : "",
	           sizeof(q->sender));
	sg_strlcpy(q->rcpts, (t = (const char *)sqlite3_column_text(s, 3)) ? t : "",
	           sizeof(q->rcpts));
	sg_strlcpy(q->signature, (t = (const char *)sqlite3_column_text(s, 4)) ? t : "",
	           sizeof(q->signature));
	q->created = (time_t)sqlite3_column_int64(s, 6);
	int n = sqlite3_column_bytes(s, 5);
	if (with_sealed && n > 0) {
		q->sealed = sg_memdup(sqlite3_column_blob(s, 5), (size_t)n);
		q->sealed_len = (size_t)n;
	}
}

#define COLUMNS "SELECT id, queue_id, sender, rcpts, signature, sealed, created FROM scan_quarantine "

int store_quarantine_list(struct store *st, struct store_quarantine **q_r, size_t *n_r,
                          const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	*q_r = NULL;
	*n_r = 0;
	if (sqlite3_prepare_v2(db, COLUMNS "WHERE sealed IS NOT NULL ORDER BY id", -1, &s, NULL) !=
	    SQLITE_OK)
		return store_sqlite_fail(db, s, error_r);
	int rc;
	size_t cap = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && *n_r < QUARANTINE_LIST_MAX) {
		if (*n_r == cap) {
			cap = cap ? cap * 2 : 8;
			*q_r = sg_reallocarray(*q_r, cap, sizeof(**q_r));
		}
		memset(&(*q_r)[*n_r], 0, sizeof(**q_r));
		read_row(s, false, &(*q_r)[(*n_r)++]);
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		sg_free(q_r);
		*n_r = 0;
		return store_sqlite_fail(db, s, error_r);
	}
	sqlite3_finalize(s);
	return 0;
}

int store_quarantine_get(struct store *st, int64_t id, struct store_quarantine *q_r,
                         const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	memset(q_r, 0, sizeof(*q_r));
	if (sqlite3_prepare_v2(db, COLUMNS "WHERE id = ?1 AND sealed IS NOT NULL", -1, &s, NULL) !=
	        SQLITE_OK ||
	    sqlite3_bind_int64(s, 1, id) != SQLITE_OK)
		return store_sqlite_fail(db, s, error_r);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		read_row(s, true, q_r);
	else if (rc != SQLITE_DONE)
		return store_sqlite_fail(db, s, error_r);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 1 : 0;
}

int store_quarantine_delete(struct store *st, int64_t id, const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, "DELETE FROM scan_quarantine WHERE id = ?1", -1, &s, NULL) !=
	        SQLITE_OK ||
	    sqlite3_bind_int64(s, 1, id) != SQLITE_OK || sqlite3_step(s) != SQLITE_DONE)
		return store_sqlite_fail(db, s, error_r);
	sqlite3_finalize(s);
	return sqlite3_changes(db) > 0 ? 1 : 0;
}

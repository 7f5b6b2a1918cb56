/* store_quarantine.c: the scan_quarantine table. */
#include "store/store_quarantine.h"
#include "store/store.h"
#include "store/store_db.h"
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
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st,
	                "INSERT INTO scan_quarantine (queue_id, sender, rcpts, "
	                "signature, created) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
	                &s, error_r) < 0 ||
	    sdb_bind_text(s, 1, q->queue_id) < 0 || sdb_bind_text(s, 2, q->sender) < 0 ||
	    sdb_bind_text(s, 3, q->rcpts) < 0 || sdb_bind_text(s, 4, q->signature) < 0 ||
	    sdb_bind_int64(s, 5, (int64_t)q->created) < 0 || sdb_step(s) != SDB_ROW)
		return sdb_fail(s, error_r);
	*id_r = sdb_col_int64(s, 0);
	sdb_finish(s);
	return 0;
}

int store_quarantine_seal(struct store *st, int64_t id, const unsigned char *sealed,
                          size_t sealed_len, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st, "UPDATE scan_quarantine SET sealed = ?2 WHERE id = ?1", &s, error_r) <
	        0 ||
	    sdb_bind_int64(s, 1, id) < 0 || sdb_bind_blob(s, 2, sealed, sealed_len) < 0 ||
	    sdb_step(s) != SDB_DONE)
		return sdb_fail(s, error_r);
	sdb_finish(s);
	return 0;
}

static void read_row(struct sdb_stmt *s, bool with_sealed, struct store_quarantine *q)
{
	const char *t;
	q->id = sdb_col_int64(s, 0);
	sg_strlcpy(q->queue_id, (t = sdb_col_text(s, 1)) ? t : "", sizeof(q->queue_id));
	sg_strlcpy(q->sender, (t = sdb_col_text(s, 2)) ? t : "", sizeof(q->sender));
	sg_strlcpy(q->rcpts, (t = sdb_col_text(s, 3)) ? t : "", sizeof(q->rcpts));
	sg_strlcpy(q->signature, (t = sdb_col_text(s, 4)) ? t : "", sizeof(q->signature));
	q->created = (time_t)sdb_col_int64(s, 6);
	if (with_sealed)
		q->sealed = sdb_col_blob_dup(s, 5, &q->sealed_len);
}

#define COLUMNS "SELECT id, queue_id, sender, rcpts, signature, sealed, created FROM scan_quarantine "

int store_quarantine_list(struct store *st, struct store_quarantine **q_r, size_t *n_r,
                          const char **error_r)
{
	struct sdb_stmt *s = NULL;
	*q_r = NULL;
	*n_r = 0;
	if (sdb_prepare(st, COLUMNS "WHERE sealed IS NOT NULL ORDER BY id", &s, error_r) < 0)
		return sdb_fail(s, error_r);
	int rc;
	size_t cap = 0;
	while ((rc = sdb_step(s)) == SDB_ROW && *n_r < QUARANTINE_LIST_MAX) {
		if (*n_r == cap) {
			cap = cap ? cap * 2 : 8;
			*q_r = sg_reallocarray(*q_r, cap, sizeof(**q_r));
		}
		memset(&(*q_r)[*n_r], 0, sizeof(**q_r));
		read_row(s, false, &(*q_r)[(*n_r)++]);
	}
	if (rc != SDB_DONE && rc != SDB_ROW) {
		sg_free(q_r);
		*n_r = 0;
		return sdb_fail(s, error_r);
	}
	sdb_finish(s);
	return 0;
}

int store_quarantine_get(struct store *st, int64_t id, struct store_quarantine *q_r,
                         const char **error_r)
{
	struct sdb_stmt *s = NULL;
	memset(q_r, 0, sizeof(*q_r));
	if (sdb_prepare(st, COLUMNS "WHERE id = ?1 AND sealed IS NOT NULL", &s, error_r) < 0 ||
	    sdb_bind_int64(s, 1, id) < 0)
		return sdb_fail(s, error_r);
	int rc = sdb_step(s);
	if (rc == SDB_ROW)
		read_row(s, true, q_r);
	else if (rc != SDB_DONE)
		return sdb_fail(s, error_r);
	sdb_finish(s);
	return rc == SDB_ROW ? 1 : 0;
}

int store_quarantine_delete(struct store *st, int64_t id, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st, "DELETE FROM scan_quarantine WHERE id = ?1", &s, error_r) < 0 ||
	    sdb_bind_int64(s, 1, id) < 0 || sdb_step(s) != SDB_DONE)
		return sdb_fail(s, error_r);
	int64_t changed = sdb_changes(s);
	sdb_finish(s);
	return changed > 0 ? 1 : 0;
}

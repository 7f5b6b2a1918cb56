/* store_webmail.c: webmail messages and their sealed parts (store_webmail.h). Every query by
 * a partner names the partner's address too, so a uid of another partner is simply not found.
 * The parts of a large message are in a file of its own (store_webmail_blob.c), their rows
 * say where; a small message's parts (and every part stored before files) are in `sealed`. */
#include "store/store_webmail.h"
#include "store/store_db.h"
#include "store/store_webmail_blob.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <string.h>

#define COLUMNS                                                                                  \
	"SELECT m.id, m.user_id, u.address, m.uid, m.folder, m.dedup, m.sender, m.created, m.size," \
	" m.stored, m.attachments, m.read_at, m.notified"
#define WITH_BLOBS ", m.wrapped_key, m.meta"
#define FROM " FROM webmail_messages m JOIN users u ON u.id = m.user_id "

static const char *folder_name(enum store_webmail_folder f)
{
	return f == STORE_WEBMAIL_SENT ? "sent" : "inbox";
}

void store_webmail_msg_clear(struct store_webmail_msg *m)
{
	sg_free(&m->wrapped_key);
	sg_free(&m->meta);
	m->wrapped_key_len = m->meta_len = 0;
}

void store_webmail_list_free(struct store_webmail_msg **list, size_t n)
{
	for (size_t i = 0; *list != NULL && i < n; i++)
		store_webmail_msg_clear(&(*list)[i]);
	sg_free(list);
}

static unsigned char *blob_copy(struct sdb_stmt *s, int col, size_t *len_r)
{
	const void *p = sdb_col_blob(s, col, len_r);
	return sg_memdup(p, *len_r); /* never NULL, even when empty */
}

/* The current row into *m (blobs when the query selected them). */
static void read_row(struct sdb_stmt *s, struct store_webmail_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->id = sdb_col_int64(s, 0);
	m->user_id = sdb_col_int64(s, 1);
	sdb_col_copy(s, 2, m->address, sizeof(m->address));
	sdb_col_copy(s, 3, m->uid, sizeof(m->uid));
	m->folder =
	    strcmp(sdb_col_text(s, 4), "sent") == 0 ? STORE_WEBMAIL_SENT : STORE_WEBMAIL_INBOX;
	sdb_col_copy(s, 5, m->dedup, sizeof(m->dedup));
	sdb_col_copy(s, 6, m->sender, sizeof(m->sender));
	m->created = (time_t)sdb_col_int64(s, 7);
	m->size = sdb_col_int64(s, 8);
	m->stored = sdb_col_int64(s, 9);
	m->attachments = (int)sdb_col_int64(s, 10);
	m->read_at = (time_t)sdb_col_int64(s, 11);
	m->notified = (int)sdb_col_int64(s, 12) != 0;
	if (sdb_col_count(s) > 14) {
		m->wrapped_key = blob_copy(s, 13, &m->wrapped_key_len);
		m->meta = blob_copy(s, 14, &m->meta_len);
	}
}

/* Steps the bound statement s through at most max rows into a new array. */
static int rows(struct sdb_stmt *s, size_t max, struct store_webmail_msg **list_r, size_t *n_r,
                const char **error_r)
{
	*list_r = NULL;
	*n_r = 0;
	size_t cap = 0;
	int rc = SDB_DONE;
	while (*n_r < max && (rc = sdb_step(s)) == SDB_ROW) {
		if (*n_r == cap) {
			cap = cap ? cap * 2 : 16;
			*list_r = sg_reallocarray(*list_r, cap, sizeof(**list_r));
		}
		read_row(s, &(*list_r)[(*n_r)++]);
	}
	if (rc != SDB_ROW && rc != SDB_DONE) {
		store_webmail_list_free(list_r, *n_r);
		*n_r = 0;
		return sdb_fail(s, error_r);
	}
	sdb_finish(s);
	return 0;
}

/* One row of the bound statement s into *m_r: 1, 0 none, -1 error. */
static int one_row(struct sdb_stmt *s, struct store_webmail_msg *m_r, const char **error_r)
{
	int rc = sdb_step(s);
	if (rc == SDB_ROW)
		read_row(s, m_r);
	else if (rc != SDB_DONE)
		return sdb_fail(s, error_r);
	sdb_finish(s);
	return rc == SDB_ROW ? 1 : 0;
}

static int insert_message(struct store *st, const struct store_webmail_msg *m, int64_t stored,
                          int64_t *id_r, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st,
	                "INSERT INTO webmail_messages (user_id, uid, folder, dedup, sender,"
	                " created, size, stored, attachments, wrapped_key, meta)"
	                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) RETURNING id",
	                &s, error_r) < 0 ||
	    sdb_bind_int64(s, 1, m->user_id) < 0 || sdb_bind_text(s, 2, m->uid) < 0 ||
	    sdb_bind_text(s, 3, folder_name(m->folder)) < 0 || sdb_bind_text(s, 4, m->dedup) < 0 ||
	    sdb_bind_text(s, 5, m->sender) < 0 || sdb_bind_int64(s, 6, (int64_t)m->created) < 0 ||
	    sdb_bind_int64(s, 7, m->size) < 0 || sdb_bind_int64(s, 8, stored) < 0 ||
	    sdb_bind_int64(s, 9, m->attachments) < 0 ||
	    sdb_bind_blob(s, 10, m->wrapped_key, m->wrapped_key_len) < 0 ||
	    sdb_bind_blob(s, 11, m->meta, m->meta_len) < 0 || sdb_step(s) != SDB_ROW)
		return sdb_fail(s, error_r);
	*id_r = sdb_col_int64(s, 0);
	sdb_finish(s);
	return 0;
}

static int insert_parts(struct store *st, int64_t id, const struct store_webmail_part *parts,
                        const int64_t *offsets, size_t nparts, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st,
	                "INSERT INTO webmail_parts (message_id, idx, size, sealed,"
	                " file_offset, file_len) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	                &s, error_r) < 0)
		return -1;
	for (size_t i = 0; i < nparts; i++) {
		/* in the file: where; in the row (offsets NULL): the bytes */
		if (sdb_reset(s) < 0 || sdb_bind_int64(s, 1, id) < 0 ||
		    sdb_bind_int64(s, 2, (int64_t)i) < 0 ||
		    sdb_bind_int64(s, 3, parts[i].size) < 0 ||
		    sdb_bind_blob(s, 4, offsets != NULL ? (const void *)"" : parts[i].sealed,
		                  offsets != NULL ? 0 : parts[i].sealed_len) < 0 ||
		    (offsets != NULL && (sdb_bind_int64(s, 5, offsets[i]) < 0 ||
		                         sdb_bind_int64(s, 6, (int64_t)parts[i].sealed_len) < 0)) ||
		    sdb_step(s) != SDB_DONE)
			return sdb_fail(s, error_r);
	}
	sdb_finish(s);
	return 0;
}

/* The rows of m, in one transaction (its parts' file is written): 0, or -1 nothing stored. */
static int insert_rows(struct store *st, const struct store_webmail_msg *m,
                       const struct store_webmail_part *parts, const int64_t *offsets,
                       size_t nparts, int64_t *id_r, bool *existed_r, const char **error_r)
{
	int64_t stored = (int64_t)(m->wrapped_key_len + m->meta_len);
	for (size_t i = 0; i < nparts; i++)
		stored += (int64_t)parts[i].sealed_len;
	if (sdb_begin(st, true, error_r) < 0)
		return -1;
	struct store_webmail_msg old;
	int found = store_webmail_find_dedup(st, m->user_id, m->dedup, &old, error_r);
	*existed_r = found == 1;
	if (found == 1) {
		*id_r = old.id;
		store_webmail_msg_clear(&old);
	}
	if (found < 0 ||
	    (found == 0 && (insert_message(st, m, stored, id_r, error_r) < 0 ||
	                    insert_parts(st, *id_r, parts, offsets, nparts, error_r) < 0))) {
		sdb_rollback(st);
		return -1;
	}
	return sdb_commit(st, error_r);
}

int store_webmail_put(struct store *st, const struct store_webmail_msg *m,
                      const struct store_webmail_part *parts, size_t nparts, int64_t *id_r,
                      bool *existed_r, const char **error_r)
{
	*existed_r = false;
	size_t total = 0;
	for (size_t i = 0; i < nparts; i++)
		total += parts[i].sealed_len;
	/* Small messages stay in their rows: one fsync (the WAL's) costs less than a new file's
	 * two, and writing a few kilobytes twice costs nothing. Large ones: the file first,
	 * outside the transaction (the time it takes holds no one up). A store that is no file
	 * (PostgreSQL, shared by several nodes) keeps every part in its row: a file beside one
	 * node would be missing on the others. */
	bool in_file = total >= STORE_WEBMAIL_FILE_MIN && sdb_file_path(st) != NULL;
	int64_t *offsets = in_file ? sg_calloc(nparts, sizeof(*offsets)) : NULL;
	int rc = in_file ? store_webmail_blob_write(st, m->uid, parts, nparts, offsets, error_r) : 0;
	if (rc == 0)
		rc = insert_rows(st, m, parts, offsets, nparts, id_r, existed_r, error_r);
	if (in_file && (rc < 0 || *existed_r))
		store_webmail_blob_remove(st, m->uid); /* no row names it */
	sg_free(&offsets);
	return rc;
}

int store_webmail_find_dedup(struct store *st, int64_t user_id, const char *dedup,
                             struct store_webmail_msg *m_r, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st, COLUMNS FROM "WHERE m.user_id = ?1 AND m.dedup = ?2", &s, error_r) <
	        0 ||
	    sdb_bind_int64(s, 1, user_id) < 0 || sdb_bind_text(s, 2, dedup) < 0)
		return sdb_fail(s, error_r);
	return one_row(s, m_r, error_r);
}

/* Runs sql with ?1 = id. */
static int exec_id(struct store *st, const char *sql, int64_t id, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st, sql, &s, error_r) < 0 || sdb_bind_int64(s, 1, id) < 0 ||
	    sdb_step(s) != SDB_DONE)
		return sdb_fail(s, error_r);
	sdb_finish(s);
	return 0;
}

int store_webmail_mark_notified(struct store *st, int64_t id, const char **error_r)
{
	/* Not waited for: lost (only by a power cut) it means one more notification, which a
	 * crash between queueing and this can cause anyway; the message's rows were synced. */
	int level = sdb_unsynced_begin(st);
	int rc = exec_id(st, "UPDATE webmail_messages SET notified = 1 WHERE id = ?1", id, error_r);
	sdb_unsynced_end(st, level);
	return rc;
}

int store_webmail_list(struct store *st, const char *address, enum store_webmail_folder folder,
                       size_t offset, size_t limit, struct store_webmail_msg **list_r,
                       size_t *n_r, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (limit > STORE_WEBMAIL_PAGE_MAX)
		limit = STORE_WEBMAIL_PAGE_MAX;
	if (sdb_prepare(st,
	                COLUMNS WITH_BLOBS FROM
	                "WHERE m.user_id = (SELECT id FROM users WHERE address = ?1)"
	                " AND m.folder = ?2 ORDER BY m.created DESC, m.id DESC"
	                " LIMIT ?3 OFFSET ?4",
	                &s, error_r) < 0 ||
	    sdb_bind_text(s, 1, address) < 0 || sdb_bind_text(s, 2, folder_name(folder)) < 0 ||
	    sdb_bind_int64(s, 3, (int64_t)limit) < 0 || sdb_bind_int64(s, 4, (int64_t)offset) < 0)
		return sdb_fail(s, error_r);
	return rows(s, limit, list_r, n_r, error_r);
}

int store_webmail_count(struct store *st, const char *address, enum store_webmail_folder folder,
                        size_t *total_r, size_t *unread_r, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st,
	                "SELECT count(*), coalesce(sum(CASE WHEN m.read_at = 0 THEN 1 ELSE 0 END), 0)"
	                " FROM webmail_messages m"
	                " WHERE m.user_id = (SELECT id FROM users WHERE address = ?1)"
	                " AND m.folder = ?2",
	                &s, error_r) < 0 ||
	    sdb_bind_text(s, 1, address) < 0 || sdb_bind_text(s, 2, folder_name(folder)) < 0 ||
	    sdb_step(s) != SDB_ROW)
		return sdb_fail(s, error_r);
	*total_r = (size_t)sdb_col_int64(s, 0);
	*unread_r = (size_t)sdb_col_int64(s, 1);
	sdb_finish(s);
	return 0;
}

int store_webmail_get(struct store *st, const char *address, const char *uid,
                      struct store_webmail_msg *m_r, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st, COLUMNS WITH_BLOBS FROM "WHERE m.uid = ?1 AND u.address = ?2", &s,
	                error_r) < 0 ||
	    sdb_bind_text(s, 1, uid) < 0 || sdb_bind_text(s, 2, address) < 0)
		return sdb_fail(s, error_r);
	return one_row(s, m_r, error_r);
}

int store_webmail_part_get(struct store *st, const char *address, const char *uid, int idx,
                           unsigned char **sealed_r, size_t *len_r, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st,
	                "SELECT p.sealed, p.file_offset, p.file_len FROM webmail_parts p"
	                " JOIN webmail_messages m ON m.id = p.message_id"
	                " JOIN users u ON u.id = m.user_id"
	                " WHERE m.uid = ?1 AND u.address = ?2 AND p.idx = ?3",
	                &s, error_r) < 0 ||
	    sdb_bind_text(s, 1, uid) < 0 || sdb_bind_text(s, 2, address) < 0 ||
	    sdb_bind_int64(s, 3, idx) < 0)
		return sdb_fail(s, error_r);
	int rc = sdb_step(s);
	bool in_file = rc == SDB_ROW && !sdb_col_is_null(s, 1);
	int64_t offset = in_file ? sdb_col_int64(s, 1) : 0;
	int64_t len = in_file ? sdb_col_int64(s, 2) : 0;
	if (rc == SDB_ROW && !in_file)
		*sealed_r = blob_copy(s, 0, len_r);
	else if (rc != SDB_ROW && rc != SDB_DONE)
		return sdb_fail(s, error_r);
	sdb_finish(s);
	if (in_file && store_webmail_blob_read(st, uid, offset, len, sealed_r, len_r, error_r) < 0)
		return -1;
	return rc == SDB_ROW ? 1 : 0;
}

#define OWNED "uid = ?2 AND user_id = (SELECT id FROM users WHERE address = ?4)"

/* exec_changes with the partner's address as ?4 as well. */
static int exec_owned(struct store *st, const char *sql, const char *address, const char *uid,
                      time_t now, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st, sql, &s, error_r) < 0 || sdb_bind_text(s, 2, uid) < 0 ||
	    (now != 0 && sdb_bind_int64(s, 3, (int64_t)now) < 0) ||
	    sdb_bind_text(s, 4, address) < 0 || sdb_step(s) != SDB_DONE)
		return sdb_fail(s, error_r);
	int64_t changed = sdb_changes(s);
	sdb_finish(s);
	return changed > 0 ? 1 : 0;
}

int store_webmail_mark_read(struct store *st, const char *address, const char *uid, time_t now,
                            const char **error_r)
{
	struct store_webmail_msg m;
	int found = store_webmail_get(st, address, uid, &m, error_r);
	if (found <= 0)
		return found;
	store_webmail_msg_clear(&m);
	if (m.read_at != 0)
		return 1;
	return exec_owned(st, "UPDATE webmail_messages SET read_at = ?3 WHERE " OWNED, address, uid,
	                  now, error_r);
}

int store_webmail_delete(struct store *st, const char *address, const char *uid,
                         const char **error_r)
{
	int rc = exec_owned(st, "DELETE FROM webmail_messages WHERE " OWNED, address, uid, 0,
	                    error_r);
	if (rc == 1)
		store_webmail_blob_remove(st, uid);
	return rc;
}

int store_webmail_usage(struct store *st, const char *address, int64_t *bytes_r,
                        size_t *count_r, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st,
	                "SELECT coalesce(sum(stored), 0), count(*) FROM webmail_messages"
	                " WHERE user_id = (SELECT id FROM users WHERE address = ?1)",
	                &s, error_r) < 0 ||
	    sdb_bind_text(s, 1, address) < 0 || sdb_step(s) != SDB_ROW)
		return sdb_fail(s, error_r);
	*bytes_r = sdb_col_int64(s, 0);
	*count_r = (size_t)sdb_col_int64(s, 1);
	sdb_finish(s);
	return 0;
}

int store_webmail_older(struct store *st, time_t before, struct store_webmail_msg **list_r,
                        size_t *n_r, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st,
	                COLUMNS FROM "WHERE m.created < ?1 ORDER BY m.created, m.id"
	                             " LIMIT ?2",
	                &s, error_r) < 0 ||
	    sdb_bind_int64(s, 1, (int64_t)before) < 0 ||
	    sdb_bind_int64(s, 2, STORE_WEBMAIL_PAGE_MAX) < 0)
		return sdb_fail(s, error_r);
	return rows(s, STORE_WEBMAIL_PAGE_MAX, list_r, n_r, error_r);
}

int store_webmail_oldest_read(struct store *st, const char *address, size_t limit,
                              struct store_webmail_msg **list_r, size_t *n_r,
                              const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (limit > STORE_WEBMAIL_PAGE_MAX)
		limit = STORE_WEBMAIL_PAGE_MAX;
	if (sdb_prepare(st,
	                COLUMNS FROM "WHERE u.address = ?1 AND m.read_at != 0"
	                             " ORDER BY m.created, m.id LIMIT ?2",
	                &s, error_r) < 0 ||
	    sdb_bind_text(s, 1, address) < 0 || sdb_bind_int64(s, 2, (int64_t)limit) < 0)
		return sdb_fail(s, error_r);
	return rows(s, limit, list_r, n_r, error_r);
}

int store_webmail_delete_id(struct store *st, int64_t id, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st, "DELETE FROM webmail_messages WHERE id = ?1 RETURNING uid", &s,
	                error_r) < 0 ||
	    sdb_bind_int64(s, 1, id) < 0)
		return sdb_fail(s, error_r);
	char uid[STORE_WEBMAIL_UID_MAX] = "";
	int rc = sdb_step(s);
	if (rc == SDB_ROW)
		sdb_col_copy(s, 0, uid, sizeof(uid));
	if (rc == SDB_ROW)
		rc = sdb_step(s);
	if (rc != SDB_DONE)
		return sdb_fail(s, error_r);
	sdb_finish(s);
	if (uid[0] != '\0')
		store_webmail_blob_remove(st, uid);
	return 0;
}

int store_webmail_partners(struct store *st, const char *address,
                           struct store_webmail_usage **list_r, size_t *n_r,
                           const char **error_r)
{
	struct sdb_stmt *s = NULL;
	*list_r = NULL;
	*n_r = 0;
	if (sdb_prepare(st,
	                "SELECT u.address, count(*), sum(CASE WHEN m.read_at = 0 THEN 1 ELSE 0 END),"
	                " sum(m.stored),"
	                " min(m.created), max(m.created) FROM webmail_messages m"
	                " JOIN users u ON u.id = m.user_id"
	                " WHERE u.address = ?1 OR ?1 IS NULL"
	                " GROUP BY u.id ORDER BY lower(u.address)",
	                &s, error_r) < 0 ||
	    (address != NULL && sdb_bind_text(s, 1, address) < 0))
		return sdb_fail(s, error_r);
	size_t cap = 0;
	int rc;
	while ((rc = sdb_step(s)) == SDB_ROW) {
		if (*n_r == cap) {
			cap = cap ? cap * 2 : 16;
			*list_r = sg_reallocarray(*list_r, cap, sizeof(**list_r));
		}
		struct store_webmail_usage *u = &(*list_r)[(*n_r)++];
		sdb_col_copy(s, 0, u->address, sizeof(u->address));
		u->messages = (size_t)sdb_col_int64(s, 1);
		u->unread = (size_t)sdb_col_int64(s, 2);
		u->bytes = sdb_col_int64(s, 3);
		u->oldest = (time_t)sdb_col_int64(s, 4);
		u->newest = (time_t)sdb_col_int64(s, 5);
	}
	if (rc != SDB_DONE) {
		sg_free(list_r);
		*n_r = 0;
		return sdb_fail(s, error_r);
	}
	sdb_finish(s);
	return 0;
}

/* store_pdf.c: SecurePDF records of partners and the Reply tokens of the PDFs sent to them. */
#include "store/store.h"
#include "store/store_sqlite.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <string.h>

int store_pdf_key_set(struct store *st, int64_t user_id, const unsigned char *sealed,
                      size_t sealed_len, const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, "INSERT INTO pdf_keys (user_id, sealed, updated) "
	                           "VALUES (?1, ?2, strftime('%s','now')) ON CONFLICT (user_id) "
	                           "DO UPDATE SET sealed = ?2, updated = strftime('%s','now')",
	                       -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 1, user_id) != SQLITE_OK ||
	    sqlite3_bind_blob(s, 2, sealed, (int)sealed_len, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_DONE)
		return store_sqlite_fail(db, s, error_r);
	sqlite3_finalize(s);
	return 0;
}

int store_pdf_key_get(struct store *st, const char *address, unsigned char **sealed_r,
                      size_t *sealed_len_r, const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, "SELECT p.sealed FROM pdf_keys p JOIN users u ON u.id = p.user_id "
	                           "WHERE u.address = ?1", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(s, 1, address, -1, SQLITE_STATIC) != SQLITE_OK)
		return store_sqlite_fail(db, s, error_r);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const void *blob = sqlite3_column_blob(s, 0);
		int n = sqlite3_column_bytes(s, 0);
		if (sealed_r != NULL) {
			*sealed_r = sg_memdup(blob, (size_t)(n > 0 ? n : 0));
			*sealed_len_r = (size_t)(n > 0 ? n : 0);
		}
	} else if (rc != SQLITE_DONE) {
		return store_sqlite_fail(db, s, error_r);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 1 : 0;
}

int store_reply_token_add(struct store *st, const char *token_hash, const char *message_id,
                          const char *sender, const char *recipient, const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, "INSERT INTO reply_tokens (token_hash, message_id, sender, "
	                           "recipient, created) VALUES (?1, ?2, ?3, ?4, strftime('%s','now'))",
	                       -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(s, 1, token_hash, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(s, 2, message_id, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(s, 3, sender, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(s, 4, recipient, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_DONE)
		return store_sqlite_fail(db, s, error_r);
	sqlite3_finalize(s);
	return 0;
}

int store_reply_token_expire(struct store *st, time_t before, size_t *n_r, const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	*n_r = 0;
	if (sqlite3_prepare_v2(db, "DELETE FROM reply_tokens WHERE created < ?1", -1, &s, NULL) !=
	        SQLITE_OK ||
	    sqlite3_bind_int64(s, 1, (sqlite3_int64)before) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_DONE)
		return store_sqlite_fail(db, s, error_r);
	*n_r = (size_t)sqlite3_changes(db);
	sqlite3_finalize(s);
	return 0;
}

/* Copies column col of s into dst; false when it is NULL or does not fit. */
static bool column_text(sqlite3_stmt *s, int col, char *dst, size_t size)
{
	const unsigned char *t = sqlite3_column_text(s, col);
	return t != NULL && sg_strlcpy(dst, (const char *)t, size) < size;
}

int store_reply_token_get(struct store *st, const char *token_hash,
                          struct store_reply_token *tok_r, const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	memset(tok_r, 0, sizeof(*tok_r));
	if (sqlite3_prepare_v2(db, "SELECT message_id, sender, recipient, created FROM reply_tokens "
	                           "WHERE token_hash = ?1", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(s, 1, token_hash, -1, SQLITE_STATIC) != SQLITE_OK)
		return store_sqlite_fail(db, s, error_r);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		sqlite3_finalize(s);
		return 0;
	}
	if (rc != SQLITE_ROW)
		return store_sqlite_fail(db, s, error_r);
	/* A Message-ID too long to keep only costs the reply its In-Reply-To field. */
	if (!column_text(s, 0, tok_r->message_id, sizeof(tok_r->message_id)))
		tok_r->message_id[0] = '\0';
	bool ok = column_text(s, 1, tok_r->sender, sizeof(tok_r->sender)) &&
	          column_text(s, 2, tok_r->recipient, sizeof(tok_r->recipient));
	tok_r->created = (time_t)sqlite3_column_int64(s, 3);
	sqlite3_finalize(s);
	if (!ok) {
		*error_r = "store: a Reply token holds a value too long to use";
		return -1;
	}
	return 1;
}

/* store_pdf.c: SecurePDF records of partners and the Reply tokens of the PDFs sent to them. */
#include "store/store.h"
#include "store/store_db.h"
#include "core/sg_time.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <string.h>

int store_pdf_key_set(struct store *st, int64_t user_id, const unsigned char *sealed,
                      size_t sealed_len, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st,
	                "INSERT INTO pdf_keys (user_id, sealed, updated) "
	                "VALUES (?1, ?2, ?3) ON CONFLICT (user_id) "
	                "DO UPDATE SET sealed = ?2, updated = ?3",
	                &s, error_r) < 0 ||
	    sdb_bind_int64(s, 1, user_id) < 0 || sdb_bind_int64(s, 3, (int64_t)sg_wall()) < 0 ||
	    sdb_bind_blob(s, 2, sealed, sealed_len) < 0 || sdb_step(s) != SDB_DONE)
		return sdb_fail(s, error_r);
	sdb_finish(s);
	return 0;
}

int store_pdf_key_get(struct store *st, const char *address, unsigned char **sealed_r,
                      size_t *sealed_len_r, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	int rc = sdb_query_text(st, "SELECT p.sealed FROM pdf_keys p JOIN users u ON u.id = p.user_id "
	                        "WHERE u.address = ?1",
	                        address, &s, error_r);
	if (rc == SDB_ROW) {
		if (sealed_r != NULL)
			*sealed_r = sdb_col_blob_dup(s, 0, sealed_len_r);
		sdb_finish(s);
	}
	return rc;
}

int store_reply_token_add(struct store *st, const char *token_hash, const char *message_id,
                          const char *sender, const char *recipient, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st,
	                "INSERT INTO reply_tokens (token_hash, message_id, sender, "
	                "recipient, created) VALUES (?1, ?2, ?3, ?4, ?5)",
	                &s, error_r) < 0 ||
	    sdb_bind_int64(s, 5, (int64_t)sg_wall()) < 0 || sdb_bind_text(s, 1, token_hash) < 0 ||
	    sdb_bind_text(s, 2, message_id) < 0 || sdb_bind_text(s, 3, sender) < 0 ||
	    sdb_bind_text(s, 4, recipient) < 0 || sdb_step(s) != SDB_DONE)
		return sdb_fail(s, error_r);
	sdb_finish(s);
	return 0;
}

int store_reply_token_expire(struct store *st, time_t before, size_t *n_r, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	*n_r = 0;
	if (sdb_prepare(st, "DELETE FROM reply_tokens WHERE created < ?1", &s, error_r) < 0 ||
	    sdb_bind_int64(s, 1, (int64_t)before) < 0 || sdb_step(s) != SDB_DONE)
		return sdb_fail(s, error_r);
	*n_r = (size_t)sdb_changes(s);
	sdb_finish(s);
	return 0;
}

/* Copies column col of s into dst; false when it is NULL or does not fit. */
static bool column_text(struct sdb_stmt *s, int col, char *dst, size_t size)
{
	return !sdb_col_is_null(s, col) && sg_strlcpy(dst, sdb_col_text(s, col), size) < size;
}

int store_reply_token_get(struct store *st, const char *token_hash,
                          struct store_reply_token *tok_r, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	memset(tok_r, 0, sizeof(*tok_r));
	if (sdb_prepare(st,
	                "SELECT message_id, sender, recipient, created FROM reply_tokens "
	                "WHERE token_hash = ?1",
	                &s, error_r) < 0 ||
	    sdb_bind_text(s, 1, token_hash) < 0)
		return sdb_fail(s, error_r);
	int rc = sdb_step(s);
	if (rc == SDB_DONE) {
		sdb_finish(s);
		return 0;
	}
	if (rc != SDB_ROW)
		return sdb_fail(s, error_r);
	/* A Message-ID too long to keep only costs the reply its In-Reply-To field. */
	if (!column_text(s, 0, tok_r->message_id, sizeof(tok_r->message_id)))
		tok_r->message_id[0] = '\0';
	bool ok = column_text(s, 1, tok_r->sender, sizeof(tok_r->sender)) &&
	          column_text(s, 2, tok_r->recipient, sizeof(tok_r->recipient));
	tok_r->created = (time_t)sdb_col_int64(s, 3);
	sdb_finish(s);
	if (!ok) {
		*error_r = "store: a Reply token holds a value too long to use";
		return -1;
	}
	return 1;
}

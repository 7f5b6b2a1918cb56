/* store_dkim.c: the dkim_keys table. */
#include "store/store_dkim.h"
#include "store/store.h"
#include "store/store_sqlite.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <string.h>

#define DKIM_LIST_MAX 10000 /* keys listed at once: far beyond any real setup */

void store_dkim_key_clear(struct store_dkim_key *k)
{
	sg_free(&k->dns);
	sg_free(&k->sealed);
	memset(k, 0, sizeof(*k));
}

void store_dkim_list_free(struct store_dkim_key **keys, size_t n)
{
	for (size_t i = 0; *keys != NULL && i < n; i++)
		store_dkim_key_clear(&(*keys)[i]);
	sg_free(keys);
}

int store_dkim_add(struct store *st, const struct store_dkim_key *k, const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, "INSERT INTO dkim_keys (domain, selector, alg, dns, sealed, "
	                           "created) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
	                           "ON CONFLICT (domain, selector) DO NOTHING",
	                       -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(s, 1, k->domain, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(s, 2, k->selector, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(s, 3, k->alg, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(s, 4, k->dns, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_blob(s, 5, k->sealed, (int)k->sealed_len, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 6, (sqlite3_int64)k->created) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_DONE)
		return store_sqlite_fail(db, s, error_r);
	sqlite3_finalize(s);
	return sqlite3_changes(db) > 0 ? 1 : 0;
}

int store_dkim_delete(struct store *st, const char *domain, const char *selector,
                      const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, "DELETE FROM dkim_keys WHERE domain = ?1 AND selector = ?2", -1,
	                       &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(s, 1, domain, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(s, 2, selector, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_DONE)
		return store_sqlite_fail(db, s, error_r);
	sqlite3_finalize(s);
	return sqlite3_changes(db) > 0 ? 1 : 0;
}

static void read_row(sqlite3_stmt *s, bool with_secret, struct store_dkim_key *k)
{
	const char *t;
	sg_strlcpy(k->domain, (t = (const char *)sqlite3_column_text(s, 0)) ? t : "",
	           sizeof(k->domain));
	sg_strlcpy(k->selector, (t = (const char *)sqlite3_column_text(s, 1)) ? t : "",
	           sizeof(k->selector));
	sg_strlcpy(k->alg, (t = (const char *)sqlite3_column_text(s, 2)) ? t : "", sizeof(k->alg));
	k->dns = sg_strdup((t = (const char *)sqlite3_column_text(s, 3)) ? t : "");
	k->created = (time_t)sqlite3_column_int64(s, 5);
	int n = sqlite3_column_bytes(s, 4);
	if (with_secret && n > 0) {
		k->sealed = sg_memdup(sqlite3_column_blob(s, 4), (size_t)n);
		k->sealed_len = (size_t)n;
	}
}

int store_dkim_list(struct store *st, const char *domain, bool with_secret,
                    struct store_dkim_key **keys_r, size_t *n_r, const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	*keys_r = NULL;
	*n_r = 0;
	if (sqlite3_prepare_v2(db, "SELECT domain, selector, alg, dns, sealed, created FROM "
	                           "dkim_keys WHERE ?1 IS NULL OR domain = ?1 "
	                           "ORDER BY domain, created, selector",
	                       -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(s, 1, domain, -1, SQLITE_STATIC) != SQLITE_OK)
		return store_sqlite_fail(db, s, error_r);
	int rc;
	size_t cap = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && *n_r < DKIM_LIST_MAX) {
		if (*n_r == cap) {
			cap = cap ? cap * 2 : 4;
			*keys_r = sg_reallocarray(*keys_r, cap, sizeof(**keys_r));
		}
		memset(&(*keys_r)[*n_r], 0, sizeof(**keys_r));
		read_row(s, with_secret, &(*keys_r)[(*n_r)++]);
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		store_dkim_list_free(keys_r, *n_r);
		*n_r = 0;
		return store_sqlite_fail(db, s, error_r);
	}
	sqlite3_finalize(s);
	return 0;
}

/* store_lookup.c: the lookup_cache table (key discovery's hits and misses). */
#include "store/store_lookup.h"
#include "store/store.h"
#include "store/store_sqlite.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <string.h>

static const char *const kind_names[] = {
	[STORE_LOOKUP_NONE] = "none", [STORE_LOOKUP_SMIME] = "smime", [STORE_LOOKUP_PGP] = "pgp"};

const char *store_lookup_kind_name(enum store_lookup_kind kind)
{
	return (size_t)kind < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[kind] : "?";
}

static enum store_lookup_kind kind_parse(const unsigned char *name)
{
	for (size_t i = 0; name != NULL && i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
		if (strcmp(kind_names[i], (const char *)name) == 0)
			return (enum store_lookup_kind)i;
	return STORE_LOOKUP_NONE; /* unknown: a miss, never material */
}

void store_lookup_clear(struct store_lookup *e)
{
	sg_free(&e->data);
	memset(e, 0, sizeof(*e));
}

static void read_row(sqlite3_stmt *s, struct store_lookup *e)
{
	store_sqlite_text(s, 0, e->address, sizeof(e->address));
	e->kind = kind_parse(sqlite3_column_text(s, 1));
	store_sqlite_text(s, 2, e->source, sizeof(e->source));
	int n = sqlite3_column_bytes(s, 3);
	if (n > 0 && e->kind != STORE_LOOKUP_NONE) {
		e->data = sg_memdup(sqlite3_column_blob(s, 3), (size_t)n);
		e->data_len = (size_t)n;
	} else {
		e->kind = STORE_LOOKUP_NONE;
	}
	store_sqlite_text(s, 4, e->fingerprint, sizeof(e->fingerprint));
	e->not_after = (time_t)sqlite3_column_int64(s, 5);
	store_sqlite_text(s, 6, e->detail, sizeof(e->detail));
	e->looked_at = (time_t)sqlite3_column_int64(s, 7);
	e->expires = (time_t)sqlite3_column_int64(s, 8);
}

int store_lookup_get(struct store *st, const char *address, time_t now, struct store_lookup *e_r,
                     const char **error_r)
{
	memset(e_r, 0, sizeof(*e_r));
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, "SELECT address, kind, source, data, fingerprint, not_after, "
	                           "detail, looked_at, expires FROM lookup_cache "
	                           "WHERE address = ?1 AND expires > ?2", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(s, 1, address, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 2, (sqlite3_int64)now) != SQLITE_OK)
		return store_sqlite_fail(db, s, error_r);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_sqlite_fail(db, s, error_r);
	if (rc == SQLITE_ROW)
		read_row(s, e_r);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 1 : 0;
}

int store_lookup_put(struct store *st, const struct store_lookup *e, const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO lookup_cache (address, kind, source, "
	                           "data, fingerprint, not_after, detail, looked_at, expires) "
	                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	                       -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(s, 1, e->address, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(s, 2, store_lookup_kind_name(e->kind), -1, SQLITE_STATIC) !=
	        SQLITE_OK ||
	    sqlite3_bind_text(s, 3, e->source, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_blob(s, 4, e->data, (int)e->data_len, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(s, 5, e->fingerprint, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 6, (sqlite3_int64)e->not_after) != SQLITE_OK ||
	    sqlite3_bind_text(s, 7, e->detail, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 8, (sqlite3_int64)e->looked_at) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 9, (sqlite3_int64)e->expires) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_DONE)
		return store_sqlite_fail(db, s, error_r);
	sqlite3_finalize(s);
	return 0;
}

int store_lookup_forget(struct store *st, const char *address, size_t *count_r,
                        const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	const char *sql = address != NULL ? "DELETE FROM lookup_cache WHERE address = ?1"
	                                  : "DELETE FROM lookup_cache";
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK ||
	    (address != NULL && sqlite3_bind_text(s, 1, address, -1, SQLITE_STATIC) != SQLITE_OK) ||
	    sqlite3_step(s) != SQLITE_DONE)
		return store_sqlite_fail(db, s, error_r);
	sqlite3_finalize(s);
	*count_r = (size_t)sqlite3_changes(db);
	return 0;
}

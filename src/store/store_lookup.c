/* store_lookup.c: the lookup_cache table (key discovery's hits and misses). */
#include "store/store_lookup.h"
#include "store/store.h"
#include "store/store_db.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <string.h>

static const char *const kind_names[] = {
	[STORE_LOOKUP_NONE] = "none", [STORE_LOOKUP_SMIME] = "smime", [STORE_LOOKUP_PGP] = "pgp"};

const char *store_lookup_kind_name(enum store_lookup_kind kind)
{
	return (size_t)kind < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[kind] : "?";
}

static enum store_lookup_kind kind_parse(const char *name)
{
	for (size_t i = 0; name != NULL && i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
		if (strcmp(kind_names[i], name) == 0)
			return (enum store_lookup_kind)i;
	return STORE_LOOKUP_NONE; /* unknown: a miss, never material */
}

void store_lookup_clear(struct store_lookup *e)
{
	sg_free(&e->data);
	memset(e, 0, sizeof(*e));
}

static void read_row(struct sdb_stmt *s, struct store_lookup *e)
{
	sdb_col_copy(s, 0, e->address, sizeof(e->address));
	e->kind = kind_parse(sdb_col_text(s, 1));
	sdb_col_copy(s, 2, e->source, sizeof(e->source));
	if (e->kind != STORE_LOOKUP_NONE)
		e->data = sdb_col_blob_dup(s, 3, &e->data_len);
	if (e->data == NULL)
		e->kind = STORE_LOOKUP_NONE;
	sdb_col_copy(s, 4, e->fingerprint, sizeof(e->fingerprint));
	e->not_after = (time_t)sdb_col_int64(s, 5);
	sdb_col_copy(s, 6, e->detail, sizeof(e->detail));
	e->looked_at = (time_t)sdb_col_int64(s, 7);
	e->expires = (time_t)sdb_col_int64(s, 8);
}

int store_lookup_get(struct store *st, const char *address, time_t now, struct store_lookup *e_r,
                     const char **error_r)
{
	memset(e_r, 0, sizeof(*e_r));
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st,
	                "SELECT address, kind, source, data, fingerprint, not_after, "
	                "detail, looked_at, expires FROM lookup_cache "
	                "WHERE address = ?1 AND expires > ?2",
	                &s, error_r) < 0 ||
	    sdb_bind_text(s, 1, address) < 0 || sdb_bind_int64(s, 2, (int64_t)now) < 0)
		return sdb_fail(s, error_r);
	int rc = sdb_step(s);
	if (rc != SDB_ROW && rc != SDB_DONE)
		return sdb_fail(s, error_r);
	if (rc == SDB_ROW)
		read_row(s, e_r);
	sdb_finish(s);
	return rc == SDB_ROW ? 1 : 0;
}

int store_lookup_put(struct store *st, const struct store_lookup *e, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st,
	                "INSERT INTO lookup_cache (address, kind, source, "
	                "data, fingerprint, not_after, detail, looked_at, expires) "
	                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (address) DO UPDATE "
	                "SET kind = excluded.kind, source = excluded.source, data = excluded.data, "
	                "fingerprint = excluded.fingerprint, not_after = excluded.not_after, "
	                "detail = excluded.detail, looked_at = excluded.looked_at, "
	                "expires = excluded.expires",
	                &s, error_r) < 0 ||
	    sdb_bind_text(s, 1, e->address) < 0 ||
	    sdb_bind_text(s, 2, store_lookup_kind_name(e->kind)) < 0 ||
	    sdb_bind_text(s, 3, e->source) < 0 || sdb_bind_blob(s, 4, e->data, e->data_len) < 0 ||
	    sdb_bind_text(s, 5, e->fingerprint) < 0 ||
	    sdb_bind_int64(s, 6, (int64_t)e->not_after) < 0 || sdb_bind_text(s, 7, e->detail) < 0 ||
	    sdb_bind_int64(s, 8, (int64_t)e->looked_at) < 0 ||
	    sdb_bind_int64(s, 9, (int64_t)e->expires) < 0 || sdb_step(s) != SDB_DONE)
		return sdb_fail(s, error_r);
	sdb_finish(s);
	return 0;
}

int store_lookup_forget(struct store *st, const char *address, size_t *count_r,
                        const char **error_r)
{
	struct sdb_stmt *s = NULL;
	const char *sql = address != NULL ? "DELETE FROM lookup_cache WHERE address = ?1"
	                                  : "DELETE FROM lookup_cache";
	if (sdb_prepare(st, sql, &s, error_r) < 0 ||
	    (address != NULL && sdb_bind_text(s, 1, address) < 0) || sdb_step(s) != SDB_DONE)
		return sdb_fail(s, error_r);
	*count_r = (size_t)sdb_changes(s);
	sdb_finish(s);
	return 0;
}

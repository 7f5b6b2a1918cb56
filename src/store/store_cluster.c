/* store_cluster.c: what lets several gateway nodes share one store (issue 15). Named counters
 * that only ever grow, each step one atomic statement, so no two nodes draw the same value (the
 * CA's serial sequence; the directory's change counter, which triggers bump in the transaction
 * of every change to users and certificates), leases for jobs that one node at a time runs
 * (the tick), and the CA's files, which a new node fetches. Every statement is plain SQL both
 * engines run: an upsert with RETURNING. */
#include "core/sg_mem.h"
#include "store/store.h"
#include "store/store_db.h"

/* A statement's parameters ?1 .. ?n in order, each a text or a number. */
struct param {
	const char *text; /* NULL: the number */
	int64_t num;
};
struct args {
	int n;
	struct param p[4];
};
#define T(x)                                                                                       \
	{                                                                                          \
		(x), 0                                                                             \
	}
#define N(x)                                                                                       \
	{                                                                                          \
		NULL, (x)                                                                          \
	}

/* Runs sql with a's parameters; when it returns a row, *row_r is true and *value_r its first
 * column. */
static int run(struct store *st, const char *sql, const struct args *a, int64_t *value_r,
               bool *row_r, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st, sql, &s, error_r) < 0)
		return -1;
	for (int i = 0; i < a->n; i++)
		if ((a->p[i].text != NULL ? sdb_bind_text(s, i + 1, a->p[i].text)
		                          : sdb_bind_int64(s, i + 1, a->p[i].num)) < 0)
			return sdb_fail(s, error_r);
	int rc = sdb_step(s);
	*row_r = rc == SDB_ROW;
	if (*row_r)
		*value_r = sdb_col_int64(s, 0);
	/* A RETURNING statement is done only when stepped to its end. */
	while (rc == SDB_ROW)
		rc = sdb_step(s);
	if (rc != SDB_DONE)
		return sdb_fail(s, error_r);
	sdb_finish(s);
	return 0;
}

int store_counter_next(struct store *st, const char *name, int64_t *value_r, const char **error_r)
{
	bool row = false;
	if (run(st,
	        "INSERT INTO store_counters (name, value) VALUES (?1, 1)"
	        " ON CONFLICT (name) DO UPDATE SET value = store_counters.value + 1"
	        " RETURNING value",
	        &(struct args){1, {T(name)}}, value_r, &row, error_r) < 0)
		return -1;
	if (!row) {
		*error_r = "store: the counter did not advance";
		return -1;
	}
	return 0;
}

int store_counter_raise(struct store *st, const char *name, int64_t at_least, const char **error_r)
{
	int64_t ignored = 0;
	bool row = false;
	return run(st,
	           "INSERT INTO store_counters (name, value) VALUES (?1, ?2)"
	           " ON CONFLICT (name) DO UPDATE SET value = CASE WHEN excluded.value >"
	           " store_counters.value THEN excluded.value ELSE store_counters.value END"
	           " RETURNING value",
	           &(struct args){2, {T(name), N(at_least)}}, &ignored, &row, error_r);
}

int store_counter_get(struct store *st, const char *name, int64_t *value_r, const char **error_r)
{
	bool row = false;
	if (run(st, "SELECT value FROM store_counters WHERE name = ?1",
	        &(struct args){1, {T(name)}}, value_r, &row, error_r) < 0)
		return -1;
	if (!row)
		*value_r = 0;
	return 0;
}

int store_ca_serial_next(struct store *st, uint64_t *seq_r, const char **error_r)
{
	int64_t v = 0;
	if (store_counter_next(st, STORE_COUNTER_CA_SERIAL, &v, error_r) < 0)
		return -1;
	*seq_r = (uint64_t)v;
	return 0;
}

int store_directory_version(struct store *st, uint64_t *version_r, const char **error_r)
{
	int64_t v = 0;
	if (store_counter_get(st, STORE_COUNTER_DIRECTORY, &v, error_r) < 0)
		return -1;
	*version_r = (uint64_t)v;
	return 0;
}

int store_leader_try(struct store *st, const char *name, const char *holder, time_t now, time_t ttl,
                     bool *leading_r, const char **error_r)
{
	/* Taken when free, when ours (renewed), or when its holder let it lapse: one statement,
	 * so two nodes that ask at once cannot both get it. */
	int64_t ignored = 0;
	*leading_r = false;
	return run(
	    st,
	    "INSERT INTO store_leases (name, holder, expires) VALUES (?1, ?2, ?4)"
	    " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,"
	    " expires = excluded.expires"
	    " WHERE store_leases.holder = excluded.holder OR store_leases.expires <= ?3"
	    " RETURNING expires",
	    &(struct args){4, {T(name), T(holder), N((int64_t)now), N((int64_t)(now + ttl))}},
	    &ignored, leading_r, error_r);
}

int store_leader_release(struct store *st, const char *name, const char *holder,
                         const char **error_r)
{
	int64_t ignored = 0;
	bool row = false;
	return run(st, "DELETE FROM store_leases WHERE name = ?1 AND holder = ?2 RETURNING expires",
	           &(struct args){2, {T(name), T(holder)}}, &ignored, &row, error_r);
}

int store_leader_holder(struct store *st, const char *name, time_t now, char *holder_r, size_t size,
                        const char **error_r)
{
	struct sdb_stmt *s = NULL;
	holder_r[0] = '\0';
	if (sdb_prepare(st, "SELECT holder FROM store_leases WHERE name = ?1 AND expires > ?2", &s,
	                error_r) < 0)
		return -1;
	if (sdb_bind_text(s, 1, name) < 0 || sdb_bind_int64(s, 2, (int64_t)now) < 0)
		return sdb_fail(s, error_r);
	int rc = sdb_step(s);
	if (rc == SDB_ROW)
		sdb_col_copy(s, 0, holder_r, size);
	else if (rc != SDB_DONE)
		return sdb_fail(s, error_r);
	sdb_finish(s);
	return rc == SDB_ROW ? 1 : 0;
}

int store_ca_file_put(struct store *st, const char *name, const unsigned char *data, size_t len,
                      time_t now, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st,
	                "INSERT INTO store_ca_files (name, data, updated) VALUES (?1, ?2, ?3)"
	                " ON CONFLICT (name) DO NOTHING",
	                &s, error_r) < 0)
		return -1;
	if (sdb_bind_text(s, 1, name) < 0 || sdb_bind_blob(s, 2, data, len) < 0 ||
	    sdb_bind_int64(s, 3, (int64_t)now) < 0 || sdb_step(s) != SDB_DONE)
		return sdb_fail(s, error_r);
	int stored = sdb_changes(s) > 0;
	sdb_finish(s);
	return stored;
}

int store_ca_file_get(struct store *st, const char *name, unsigned char **data_r, size_t *len_r,
                      const char **error_r)
{
	struct sdb_stmt *s = NULL;
	*data_r = NULL;
	*len_r = 0;
	if (sdb_prepare(st, "SELECT data FROM store_ca_files WHERE name = ?1", &s, error_r) < 0)
		return -1;
	if (sdb_bind_text(s, 1, name) < 0)
		return sdb_fail(s, error_r);
	int rc = sdb_step(s);
	if (rc == SDB_ROW) {
		const void *p = sdb_col_blob(s, 0, len_r);
		*data_r = sg_memdup(p != NULL ? p : "", *len_r + 1);
		(*data_r)[*len_r] = '\0';
	} else if (rc != SDB_DONE)
		return sdb_fail(s, error_r);
	sdb_finish(s);
	return rc == SDB_ROW ? 1 : 0;
}

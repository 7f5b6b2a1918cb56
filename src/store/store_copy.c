/* store_copy.c: `sealgate store copy`: every row of a SQLite store into another store (a
 * PostgreSQL server, so that a single node can grow into several). Tables and columns come
 * from the source's own schema, in the order they were made (a table is made after those it
 * references); both stores are at the same schema version (opening them migrated both). A row
 * the target already has (same key) is kept, so running the copy again adds only what is new.
 * Afterwards each table is read back on both sides: its row count and a checksum (the sum of
 * a BLAKE2b hash per row, so the order rows come back in does not matter) must agree.
 * Webmail parts kept in files beside the SQLite database are copied into their rows. */
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "store/store.h"
#include "store/store_db.h"
#include "store/store_webmail_blob.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define COLS_MAX     32
#define NAME_MAX_LEN 64
#define SQL_MAX      4096

enum col_type { COL_INT, COL_TEXT, COL_BLOB };

struct table {
	char name[NAME_MAX_LEN];
	size_t ncols;
	char cols[COLS_MAX][NAME_MAX_LEN];
	enum col_type types[COLS_MAX];
	bool has_id;  /* id INTEGER PRIMARY KEY: PostgreSQL's identity must follow the copied ids */
	int file_off; /* webmail_parts: the column of file_offset, else -1 */
};

/* One column's value of the current row, as read (pointers valid until the next step). */
struct value {
	bool null;
	int64_t i;
	const void *p;
	size_t len;
	unsigned char *owned; /* bytes read from a webmail file, freed with the row */
};

/* Not copied: the target's own schema record, the nodes' leases and counters (the CA serial
 * sequence is carried over apart, the change counters move by themselves), and the CA's files
 * (the CLI puts the source node's CA there, or finds it there already). */
static bool skipped(const char *name)
{
	return strcmp(name, "schema_version") == 0 || strcmp(name, "store_leases") == 0 ||
	       strcmp(name, "store_counters") == 0 || strcmp(name, "store_ca_files") == 0;
}

static enum col_type type_of(const char *decl)
{
	if (strncmp(decl, "INTEGER", 7) == 0)
		return COL_INT;
	return strncmp(decl, "BLOB", 4) == 0 ? COL_BLOB : COL_TEXT;
}

static int add_column(struct table *t, struct sdb_stmt *s)
{
	if (t->ncols >= COLS_MAX)
		return -1;
	size_t i = t->ncols++;
	sdb_col_copy(s, 0, t->cols[i], sizeof(t->cols[i]));
	t->types[i] = type_of(sdb_col_text(s, 1));
	if (strcmp(t->cols[i], "id") == 0 && t->types[i] == COL_INT && sdb_col_int64(s, 2) == 1)
		t->has_id = true;
	if (strcmp(t->name, "webmail_parts") == 0 && strcmp(t->cols[i], "file_offset") == 0)
		t->file_off = (int)i;
	return 0;
}

static int read_columns(struct store *src, struct table *t, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	t->file_off = -1;
	if (sdb_prepare(src, "SELECT name, upper(type), pk FROM pragma_table_info(?1) ORDER BY cid",
	                &s, error_r) < 0)
		return -1;
	if (sdb_bind_text(s, 1, t->name) < 0)
		return sdb_fail(s, error_r);
	int rc;
	while ((rc = sdb_step(s)) == SDB_ROW && add_column(t, s) == 0)
		;
	if (rc == SDB_ROW)
		*error_r = "store copy: a table with more columns than it can copy";
	else if (rc != SDB_DONE)
		return sdb_fail(s, error_r);
	sdb_finish(s);
	return rc == SDB_DONE ? 0 : -1;
}

/* The source's tables in the order they were made (caller frees). */
static int list_tables(struct store *src, struct table **tables_r, size_t *n_r,
                       const char **error_r)
{
	struct sdb_stmt *s = NULL;
	*tables_r = NULL;
	*n_r = 0;
	if (sdb_prepare(src,
	                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE"
	                " 'sqlite_%' ORDER BY rowid",
	                &s, error_r) < 0)
		return -1;
	int rc;
	while ((rc = sdb_step(s)) == SDB_ROW) {
		if (skipped(sdb_col_text(s, 0)))
			continue;
		*tables_r = sg_reallocarray(*tables_r, *n_r + 1, sizeof(**tables_r));
		struct table *t = &(*tables_r)[(*n_r)++];
		memset(t, 0, sizeof(*t));
		sdb_col_copy(s, 0, t->name, sizeof(t->name));
	}
	if (rc != SDB_DONE)
		return sdb_fail(s, error_r);
	sdb_finish(s);
	for (size_t i = 0; i < *n_r; i++)
		if (read_columns(src, &(*tables_r)[i], error_r) < 0)
			return -1;
	return 0;
}

/* "SELECT c1, c2 FROM t" (with_uid: and the message's uid, for webmail parts in a file). */
static int select_sql(const struct table *t, char *sql, size_t size)
{
	int n = snprintf(sql, size, "SELECT ");
	for (size_t i = 0; i < t->ncols && n > 0 && (size_t)n < size; i++)
		n += snprintf(sql + n, size - (size_t)n, "%s%s", i ? ", " : "", t->cols[i]);
	if (n > 0 && (size_t)n < size && t->file_off >= 0)
		n += snprintf(sql + n, size - (size_t)n,
		              ", (SELECT uid FROM webmail_messages m WHERE"
		              " m.id = message_id)");
	if (n > 0 && (size_t)n < size)
		n += snprintf(sql + n, size - (size_t)n, " FROM %s", t->name);
	return n > 0 && (size_t)n < size ? 0 : -1;
}

static int insert_sql(const struct table *t, char *sql, size_t size)
{
	int n = snprintf(sql, size, "INSERT INTO %s (", t->name);
	for (size_t i = 0; i < t->ncols && n > 0 && (size_t)n < size; i++)
		n += snprintf(sql + n, size - (size_t)n, "%s%s", i ? ", " : "", t->cols[i]);
	if (n > 0 && (size_t)n < size)
		n += snprintf(sql + n, size - (size_t)n, ") VALUES (");
	for (size_t i = 0; i < t->ncols && n > 0 && (size_t)n < size; i++)
		n += snprintf(sql + n, size - (size_t)n, "%s?%zu", i ? ", " : "", i + 1);
	/* meta: the source's values win (the target's migration wrote its own 'created') */
	if (n > 0 && (size_t)n < size)
		n += snprintf(sql + n, size - (size_t)n, "%s",
		              strcmp(t->name, "meta") == 0
		                  ? ") ON CONFLICT (key) DO UPDATE SET value = excluded.value"
		                  : ") ON CONFLICT DO NOTHING");
	return n > 0 && (size_t)n < size ? 0 : -1;
}

static void read_value(struct sdb_stmt *s, int col, enum col_type type, struct value *v)
{
	memset(v, 0, sizeof(*v));
	v->null = sdb_col_is_null(s, col);
	if (v->null)
		return;
	if (type == COL_INT)
		v->i = sdb_col_int64(s, col);
	else if (type == COL_BLOB)
		v->p = sdb_col_blob(s, col, &v->len);
	else {
		v->p = sdb_col_text(s, col);
		v->len = strlen(v->p);
	}
}

/* A webmail part whose bytes are in a file: the row as if they were in `sealed` (file_offset
 * and file_len NULL, as rows made before the files were). */
static int inline_part(struct store *src, const struct table *t, struct sdb_stmt *s,
                       struct value *row, const char **error_r)
{
	int off = t->file_off;
	if (off < 0 || row[off].null)
		return 0;
	int sealed = -1;
	for (size_t i = 0; i < t->ncols; i++)
		if (strcmp(t->cols[i], "sealed") == 0)
			sealed = (int)i;
	size_t len = 0;
	if (sealed < 0 || off + 1 >= (int)t->ncols || strcmp(t->cols[off + 1], "file_len") != 0 ||
	    store_webmail_blob_read(src, sdb_col_text(s, (int)t->ncols), row[off].i, row[off + 1].i,
	                            &row[sealed].owned, &len, error_r) < 0)
		return -1;
	row[sealed] =
	    (struct value){.p = row[sealed].owned, .len = len, .owned = row[sealed].owned};
	row[off].null = row[off + 1].null = true;
	return 0;
}

static int read_row(struct store *src, const struct table *t, struct sdb_stmt *s, struct value *row,
                    const char **error_r)
{
	for (size_t i = 0; i < t->ncols; i++)
		read_value(s, (int)i, t->types[i], &row[i]);
	return inline_part(src, t, s, row, error_r);
}

static void row_free(const struct table *t, struct value *row)
{
	for (size_t i = 0; i < t->ncols; i++)
		sg_free(&row[i].owned);
}

static int bind_row(struct sdb_stmt *ins, const struct table *t, const struct value *row)
{
	for (size_t i = 0; i < t->ncols; i++) {
		int idx = (int)i + 1, rc;
		if (row[i].null)
			rc = sdb_bind_null(ins, idx);
		else if (t->types[i] == COL_INT)
			rc = sdb_bind_int64(ins, idx, row[i].i);
		else if (t->types[i] == COL_BLOB)
			rc = sdb_bind_blob(ins, idx, row[i].p != NULL ? row[i].p : "", row[i].len);
		else
			rc = sdb_bind_text(ins, idx, row[i].p);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* The row's hash, added into sum[2] (order-free). Each value is tagged and length-prefixed,
 * so no two different rows serialise alike. */
static void hash_row(const struct table *t, const struct value *row, uint64_t sum[2])
{
	crypto_generichash_state h;
	unsigned char out[16];
	crypto_generichash_init(&h, NULL, 0, sizeof(out));
	for (size_t i = 0; i < t->ncols; i++) {
		char head[48];
		int n = row[i].null ? snprintf(head, sizeof(head), "N;")
		        : t->types[i] == COL_INT
		            ? snprintf(head, sizeof(head), "I%lld;", (long long)row[i].i)
		            : snprintf(head, sizeof(head), "B%zu;", row[i].len);
		crypto_generichash_update(&h, (const unsigned char *)head, (size_t)n);
		if (!row[i].null && t->types[i] != COL_INT && row[i].len > 0)
			crypto_generichash_update(&h, row[i].p, row[i].len);
	}
	crypto_generichash_final(&h, out, sizeof(out));
	uint64_t a, b;
	memcpy(&a, out, 8);
	memcpy(&b, out + 8, 8);
	sum[0] += a;
	sum[1] += b;
}

/* Copies t's rows into *ins (when ins != NULL) and sums them: *rows_r, sum[2]. An insert that
 * fails is finished here (its error logged) and *ins set to NULL. */
static int walk_table(struct store *from, const struct table *t, struct sdb_stmt **ins,
                      int64_t *rows_r, uint64_t sum[2], const char **error_r)
{
	char sql[SQL_MAX];
	struct sdb_stmt *s = NULL;
	struct value row[COLS_MAX];
	*rows_r = 0;
	sum[0] = sum[1] = 0;
	if (select_sql(t, sql, sizeof(sql)) < 0 || sdb_prepare(from, sql, &s, error_r) < 0)
		return -1;
	int rc;
	while ((rc = sdb_step(s)) == SDB_ROW) {
		bool bad = read_row(from, t, s, row, error_r) < 0;
		if (!bad) {
			hash_row(t, row, sum);
			(*rows_r)++;
		}
		bool bad_ins = !bad && ins != NULL &&
		               (bind_row(*ins, t, row) < 0 || sdb_step(*ins) != SDB_DONE ||
		                sdb_reset(*ins) < 0);
		row_free(t, row);
		if (bad_ins) {
			sdb_fail(*ins, error_r);
			*ins = NULL;
		}
		if (bad || bad_ins) {
			sdb_finish(s);
			return -1;
		}
	}
	if (rc != SDB_DONE)
		return sdb_fail(s, error_r);
	sdb_finish(s);
	return 0;
}

/* PostgreSQL hands out the next id from an identity sequence, which copied rows did not
 * advance: it is moved past the largest id copied. */
static int follow_identity(struct store *dst, const struct table *t, const char **error_r)
{
	char sql[512];
	struct sdb_stmt *s = NULL;
	if (!t->has_id || sdb_engine(dst) != SDB_PGSQL)
		return 0;
	if (snprintf(sql, sizeof(sql),
	             "SELECT setval(pg_get_serial_sequence('%s', 'id'),"
	             " (SELECT max(id) FROM %s))",
	             t->name, t->name) >= (int)sizeof(sql) ||
	    sdb_prepare(dst, sql, &s, error_r) < 0)
		return -1;
	if (sdb_step(s) != SDB_ROW) /* setval's one row */
		return sdb_fail(s, error_r);
	sdb_finish(s);
	return 0;
}

static int copy_table(struct store *src, struct store *dst, const struct table *t,
                      struct store_copy_table *r, const char **error_r)
{
	char sql[SQL_MAX];
	struct sdb_stmt *ins = NULL;
	uint64_t ignored[2];
	if (insert_sql(t, sql, sizeof(sql)) < 0) {
		*error_r = "store copy: a table too wide to copy";
		return -1;
	}
	if (sdb_begin(dst, true, error_r) < 0)
		return -1;
	int rc = sdb_prepare(dst, sql, &ins, error_r) < 0 ||
	                 walk_table(src, t, &ins, &r->rows_source, ignored, error_r) < 0
	             ? -1
	             : 0;
	sdb_finish(ins);
	if (rc < 0 || follow_identity(dst, t, error_r) < 0) {
		sdb_rollback(dst);
		return -1;
	}
	return sdb_commit(dst, error_r);
}

static int verify_table(struct store *src, struct store *dst, const struct table *t,
                        struct store_copy_table *r, const char **error_r)
{
	if (walk_table(src, t, NULL, &r->rows_source, r->sum_source, error_r) < 0 ||
	    walk_table(dst, t, NULL, &r->rows_target, r->sum_target, error_r) < 0)
		return -1;
	r->same = r->rows_source == r->rows_target && r->sum_source[0] == r->sum_target[0] &&
	          r->sum_source[1] == r->sum_target[1];
	return 0;
}

/* The CA's serial sequence goes on from the larger of the two. */
static int carry_serials(struct store *src, struct store *dst, const char **error_r)
{
	int64_t want = 0;
	return store_counter_get(src, STORE_COUNTER_CA_SERIAL, &want, error_r) < 0 ||
	               store_counter_raise(dst, STORE_COUNTER_CA_SERIAL, want, error_r) < 0
	           ? -1
	           : 0;
}

static int copy_all(struct store *src, struct store *dst, const struct table *tables, size_t n,
                    struct store_copy_table *results, const char **error_r)
{
	for (size_t i = 0; i < n; i++) {
		sg_strlcpy(results[i].name, tables[i].name, sizeof(results[i].name));
		if (copy_table(src, dst, &tables[i], &results[i], error_r) < 0)
			return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (verify_table(src, dst, &tables[i], &results[i], error_r) < 0)
			return -1;
	return carry_serials(src, dst, error_r);
}

int store_copy_to(struct store *src, struct store *dst, struct store_copy_table **results_r,
                  size_t *n_r, const char **error_r)
{
	struct table *tables = NULL;
	size_t n = 0;
	*results_r = NULL;
	*n_r = 0;
	if (sdb_engine(src) != SDB_SQLITE) {
		*error_r =
		    "store copy: the source must be a SQLite store (store.database = sqlite:...)";
		return -1;
	}
	/* one read transaction: every table from the same moment of the source */
	if (sdb_begin(src, false, error_r) < 0)
		return -1;
	int rc = list_tables(src, &tables, &n, error_r);
	struct store_copy_table *results = sg_calloc(n + 1, sizeof(*results));
	if (rc == 0)
		rc = copy_all(src, dst, tables, n, results, error_r);
	sdb_rollback(src); /* it only read */
	sg_free(&tables);
	if (rc < 0) {
		sg_free(&results);
		return -1;
	}
	*results_r = results;
	*n_r = n;
	return 0;
}

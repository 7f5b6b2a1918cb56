/* store_db_pgsql.c: PostgreSQL (libpq) behind store_db.h, for several gateway nodes on one
 * database (docs/cluster.md). A pool of connections per process (store_db_pgsql_pool.c); each
 * statement is prepared once per connection (PQprepare, ?N rewritten to $N once per text);
 * parameters go as text, blobs as binary bytea; results come as text (bytea unescaped on read).
 *
 * Transactions, and why nothing here retries a whole one: a write transaction takes one
 * advisory lock (WRITE_LOCK) right after BEGIN, so writers run one at a time across every
 * node -- the same order SQLite's BEGIN IMMEDIATE gives, which the store's read-then-write
 * functions were written for -- at READ COMMITTED, where a statement after the lock sees every
 * earlier commit and no serialization failure (40001) can arise. A read transaction is one
 * REPEATABLE READ snapshot (SQLite's read transaction), which never fails with 40001 while it
 * only reads. What remains is retried here, where it is safe:
 *   - a statement outside a transaction that failed with 40001 or a deadlock (40P01): the
 *     server rolled it back, so it runs again (up to STMT_TRIES times);
 *   - a connection found closed before a statement or BEGIN is sent (a restarted server, a
 *     failover): reconnected with backoff, then the statement is sent;
 *   - a connection lost while a statement outside a transaction ran: run again only when the
 *     statement reads (SELECT/WITH ... SELECT); a write may have committed, so it fails.
 * A transaction whose connection is lost fails (its steps and its COMMIT report an error): the
 * caller's operation fails as it would on a full disk, and the work that called it (a queued
 * message, a portal request) is retried later or refused with "try again". */
#include "store/store_db_backend.h"
#include "store/store_db_cache.h"
#include "store/store_db_pgsql_dialect.h"
#include "store/store_db_pgsql_pool.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_metrics.h"
#include "core/sg_str.h"
#include "core/sg_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STMT_CACHE_MAX 256
#define PARAMS_MAX 64
#define ERROR_MAX 256
#define STMT_TRIES 3
#define BYTEA_OID 17
/* pg_advisory_xact_lock keys: "sgW1" (every write transaction), "sgM1" (migrations). */
#define WRITE_LOCK "1936152369"
#define MIGRATION_LOCK "1936149809"

struct pg_store {
	struct store base;
	struct pg_pool *pool;
	struct sdb_cache *cache;
	int64_t conn_id;   /* unique among the stores this process opened */
	int64_t changes;   /* rows changed through this store (stamp's "ours"), atomic */
	int64_t tx_start_us;
};

struct pg_stmt {
	struct sdb_stmt base;
	struct pg_store *st;
	int nparams;
	bool reads;        /* SELECT or WITH: safe to run again after a lost connection */
	const char *values[PARAMS_MAX];
	int lengths[PARAMS_MAX];
	int formats[PARAMS_MAX];
	char ints[PARAMS_MAX][24];
	PGresult *res;
	int row, rows;
	int64_t changes;
	unsigned char **unescaped; /* this row's bytea columns, decoded on read */
	size_t *unescaped_len;
	int fields;
};

static int64_t conn_counter;

static struct pg_store *store_of(struct store *st) { return (struct pg_store *)st; }
static struct pg_stmt *stmt_of(struct sdb_stmt *s) { return (struct pg_stmt *)s; }

static int stmt_error(struct pg_stmt *q, const char *msg)
{
	(void)q;
	char line[ERROR_MAX];
	sg_strlcpy(line, msg != NULL && msg[0] != '\0' ? msg : "unknown PostgreSQL error", sizeof(line));
	line[strcspn(line, "\n")] = '\0';
	sdb_note_error(line);
	return -1;
}

static void free_row(struct pg_stmt *q)
{
	for (int i = 0; q->unescaped != NULL && i < q->fields; i++)
		if (q->unescaped[i] != NULL)
			PQfreemem(q->unescaped[i]);
	sg_free(&q->unescaped);
	sg_free(&q->unescaped_len);
	q->fields = 0;
}

static void clear_result(struct pg_stmt *q)
{
	free_row(q);
	PQclear(q->res);
	q->res = NULL;
	q->row = q->rows = 0;
}

static void stmt_destroy(struct sdb_stmt *s)
{
	struct pg_stmt *q = stmt_of(s);
	clear_result(q);
	sg_free(&q->base.sql);
	sg_free(&q);
}

static bool sql_reads(const char *sql)
{
	sql += strspn(sql, " \t\n");
	return strncasecmp(sql, "SELECT", 6) == 0 || strncasecmp(sql, "WITH", 4) == 0;
}

static int pg_prepare(struct store *st, const char *sql, struct sdb_stmt **stmt_r,
                      const char **error_r)
{
	struct pg_store *ps = store_of(st);
	*stmt_r = sdb_cache_take(ps->cache, sql);
	if (*stmt_r != NULL)
		return 0;
	int n = 0;
	uint64_t used = 0;
	char *text = pg_sql_numbered(sql, &n, &used);
	if (text == NULL || n > PARAMS_MAX) {
		sg_error("store: bad parameters in \"%.80s\"", sql);
		sg_free(&text);
		*error_r = "store: database error (see the log)";
		return -1;
	}
	sg_free(&text);
	struct pg_stmt *q = sg_calloc(1, sizeof(*q));
	q->base.ops = &sdb_pgsql_ops;
	q->base.sql = sg_strdup(sql);
	q->base.hash = sdb_cache_hash(sql);
	q->st = ps;
	q->nparams = n;
	q->reads = sql_reads(sql);
	*stmt_r = &q->base;
	return 0;
}

static int param(struct pg_stmt *q, int idx, const char *value, int len, int format)
{
	if (idx < 1 || idx > q->nparams)
		return stmt_error(q, "bind: no such parameter");
	q->values[idx - 1] = value;
	q->lengths[idx - 1] = len;
	q->formats[idx - 1] = format;
	return 0;
}

static int pg_bind_int64(struct sdb_stmt *s, int idx, int64_t value)
{
	struct pg_stmt *q = stmt_of(s);
	if (idx < 1 || idx > q->nparams)
		return stmt_error(q, "bind: no such parameter");
	snprintf(q->ints[idx - 1], sizeof(q->ints[0]), "%lld", (long long)value);
	return param(q, idx, q->ints[idx - 1], 0, 0);
}

static int pg_bind_text(struct sdb_stmt *s, int idx, const char *text)
{
	return param(stmt_of(s), idx, text, 0, 0);
}

static int pg_bind_blob(struct sdb_stmt *s, int idx, const void *data, size_t len)
{
	if (len > 0x7fffffff)
		return stmt_error(stmt_of(s), "bind: blob too large");
	return param(stmt_of(s), idx, data, (int)len, 1);
}

static int pg_bind_null(struct sdb_stmt *s, int idx) { return param(stmt_of(s), idx, NULL, 0, 0); }

static bool retryable_state(const PGresult *r)
{
	const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	return state != NULL && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0);
}

/* One run on c: the result, or NULL (message kept) when it failed. *again_r: the failure is one
 * that running the statement once more may cure (see the top of the file). */
static PGresult *run_once(struct pg_stmt *q, struct pg_pool_conn *c, bool *again_r)
{
	char name[16];
	*again_r = false;
	if (pg_conn_prepared(c, q->base.sql, q->base.hash, q->nparams, name, sizeof(name)) < 0) {
		*again_r = pg_conn_lost(c) && !c->in_tx;
		stmt_error(q, PQerrorMessage(c->conn));
		return NULL;
	}
	PGresult *r = PQexecPrepared(c->conn, name, q->nparams, q->values, q->lengths, q->formats, 0);
	ExecStatusType status = PQresultStatus(r);
	if (r != NULL && (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK))
		return r;
	stmt_error(q, r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(c->conn));
	*again_r = !c->in_tx && (retryable_state(r) || (pg_conn_lost(c) && q->reads));
	PQclear(r);
	return NULL;
}

/* Runs the statement, taking a connection for it unless the thread's transaction has one. */
static PGresult *run(struct pg_stmt *q)
{
	PGresult *r = NULL;
	bool again = true;
	for (int tries = 0; r == NULL && again && tries < STMT_TRIES; tries++) {
		struct pg_pool_conn *c = NULL;
		const char *err = NULL;
		if (pg_pool_take(q->st->pool, &c, &err) < 0) {
			stmt_error(q, err);
			return NULL;
		}
		r = run_once(q, c, &again);
		pg_pool_give(c);
	}
	return r;
}

/* INSERT, UPDATE or DELETE (PQcmdTuples also counts a SELECT's rows, which change nothing). */
static bool writes(const PGresult *r)
{
	const char *tag = PQcmdStatus((PGresult *)r);
	return strncmp(tag, "INSERT", 6) == 0 || strncmp(tag, "UPDATE", 6) == 0 ||
	       strncmp(tag, "DELETE", 6) == 0;
}

static int pg_step(struct sdb_stmt *s)
{
	struct pg_stmt *q = stmt_of(s);
	free_row(q);
	if (q->res == NULL) {
		q->res = run(q);
		if (q->res == NULL)
			return -1;
		q->rows = PQntuples(q->res);
		q->row = -1;
		q->changes = writes(q->res) ? strtoll(PQcmdTuples(q->res), NULL, 10) : 0;
		if (q->changes > 0)
			__atomic_add_fetch(&q->st->changes, q->changes, __ATOMIC_RELAXED);
	}
	if (q->row + 1 >= q->rows) {
		q->row = q->rows;
		return SDB_DONE;
	}
	q->row++;
	return SDB_ROW;
}

static bool in_row(const struct pg_stmt *q, int col)
{
	return q->res != NULL && q->row >= 0 && q->row < q->rows && col >= 0 &&
	       col < PQnfields(q->res);
}

static bool pg_col_is_null(struct sdb_stmt *s, int col)
{
	struct pg_stmt *q = stmt_of(s);
	return !in_row(q, col) || PQgetisnull(q->res, q->row, col);
}

static const char *pg_col_text(struct sdb_stmt *s, int col)
{
	struct pg_stmt *q = stmt_of(s);
	return pg_col_is_null(s, col) ? NULL : PQgetvalue(q->res, q->row, col);
}

static int64_t pg_col_int64(struct sdb_stmt *s, int col)
{
	const char *t = pg_col_text(s, col);
	if (t == NULL)
		return 0;
	if (t[0] == 't' || t[0] == 'f') /* a boolean (a comparison), as SQLite's 1 and 0 */
		return t[0] == 't';
	return strtoll(t, NULL, 10);
}

static const void *pg_col_blob(struct sdb_stmt *s, int col, size_t *len_r)
{
	struct pg_stmt *q = stmt_of(s);
	*len_r = 0;
	if (pg_col_is_null(s, col))
		return NULL;
	const char *t = PQgetvalue(q->res, q->row, col);
	if (PQftype(q->res, col) != BYTEA_OID) {
		*len_r = (size_t)PQgetlength(q->res, q->row, col);
		return t;
	}
	if (q->unescaped == NULL) {
		q->fields = PQnfields(q->res);
		q->unescaped = sg_calloc((size_t)q->fields, sizeof(*q->unescaped));
		q->unescaped_len = sg_calloc((size_t)q->fields, sizeof(*q->unescaped_len));
	}
	if (q->unescaped[col] == NULL)
		q->unescaped[col] = PQunescapeBytea((const unsigned char *)t, &q->unescaped_len[col]);
	*len_r = q->unescaped[col] != NULL ? q->unescaped_len[col] : 0;
	return q->unescaped[col];
}

static int64_t pg_changes(struct sdb_stmt *s) { return stmt_of(s)->changes; }

static int pg_reset(struct sdb_stmt *s)
{
	struct pg_stmt *q = stmt_of(s);
	clear_result(q);
	memset(q->values, 0, sizeof(q->values));
	memset(q->lengths, 0, sizeof(q->lengths));
	memset(q->formats, 0, sizeof(q->formats));
	q->changes = 0;
	return 0;
}

static void pg_finish(struct sdb_stmt *s)
{
	pg_reset(s);
	sdb_cache_give(stmt_of(s)->st->cache, s);
}

static int pg_param_count(struct sdb_stmt *s) { return stmt_of(s)->nparams; }

static int pg_col_count(struct sdb_stmt *s)
{
	struct pg_stmt *q = stmt_of(s);
	return q->res != NULL ? PQnfields(q->res) : 0;
}

/* Runs sql (no parameters) on c with the simple protocol: 0, or -1 with the log written. */
static int exec_on(struct pg_pool_conn *c, const char *sql, const char **error_r)
{
	PGresult *r = PQexec(c->conn, sql);
	ExecStatusType status = PQresultStatus(r);
	bool ok = r != NULL && (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK);
	if (!ok) {
		sg_error("store: %.300s", r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(c->conn));
		*error_r = "store: database error (see the log)";
	}
	PQclear(r);
	return ok ? 0 : -1;
}

/* BEGIN on c: sent once more after a reconnect when the connection was lost (nothing ran). */
static int begin_on(struct pg_pool_conn *c, bool write, const char **error_r)
{
	const char *sql = write ? "BEGIN; SELECT pg_advisory_xact_lock(" WRITE_LOCK ")"
	                        : "BEGIN ISOLATION LEVEL REPEATABLE READ";
	if (exec_on(c, sql, error_r) == 0)
		return 0;
	if (!pg_conn_lost(c) || pg_conn_reconnect(c, error_r) < 0)
		return -1;
	return exec_on(c, sql, error_r);
}

static int pg_begin(struct store *st, bool write, const char **error_r)
{
	struct pg_store *ps = store_of(st);
	int64_t asked = sg_mono_us();
	struct pg_pool_conn *c = NULL;
	if (pg_pool_take(ps->pool, &c, error_r) < 0)
		return -1;
	if (begin_on(c, write, error_r) < 0) {
		pg_pool_give(c);
		return -1;
	}
	c->in_tx = true;
	c->tx_start_us = asked;
	pg_pool_bind(c);
	return 0;
}

/* Ends the thread's transaction: its time observed, its connection back to the pool. */
static void end_tx(struct pg_pool_conn *c)
{
	sg_metrics_observe(SG_HIST_STORE, (double)(sg_mono_us() - c->tx_start_us) / 1e6);
	c->in_tx = false;
	pg_pool_unbind(c);
}

static int pg_commit(struct store *st, const char **error_r)
{
	struct pg_pool_conn *c = pg_pool_bound(store_of(st)->pool);
	if (c == NULL) {
		*error_r = "store: commit without a transaction";
		return -1;
	}
	PGresult *r = PQexec(c->conn, "COMMIT");
	/* COMMIT of a transaction that failed earlier answers ROLLBACK, not an error */
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK && strcmp(PQcmdStatus(r), "COMMIT") == 0;
	if (!ok) {
		sg_error("store: commit failed (%s): %.300s", r != NULL ? PQcmdStatus(r) : "no result",
		         r != NULL && PQresultErrorMessage(r)[0] != '\0' ? PQresultErrorMessage(r)
		                                                          : PQerrorMessage(c->conn));
		*error_r = "store: database error (see the log)";
	}
	PQclear(r);
	end_tx(c);
	return ok ? 0 : -1;
}

static void pg_rollback(struct store *st)
{
	struct pg_pool_conn *c = pg_pool_bound(store_of(st)->pool);
	if (c == NULL)
		return;
	PQclear(PQexec(c->conn, "ROLLBACK"));
	end_tx(c);
}

/* The thread keeps one connection whose commits do not wait for the server's disk. */
static int pg_unsynced_begin(struct store *st)
{
	struct pg_pool_conn *c = NULL;
	const char *err = NULL;
	if (pg_pool_take(store_of(st)->pool, &c, &err) < 0)
		return -1;
	pg_pool_bind(c);
	if (exec_on(c, "SET synchronous_commit = off", &err) < 0)
		return -1;
	return 0;
}

static void pg_unsynced_end(struct store *st, int level)
{
	struct pg_pool_conn *c = pg_pool_bound(store_of(st)->pool);
	const char *err = NULL;
	if (c == NULL)
		return;
	if (level == 0 && !pg_conn_lost(c))
		exec_on(c, "RESET synchronous_commit", &err);
	pg_pool_unbind(c);
}

static uint64_t fnv64(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* The server's snapshot (xmin:xmax:in-progress) changes whenever a transaction of any node is
 * given an id or ends: equal snapshots mean nothing was committed in between. */
static int pg_stamp(struct store *st, struct store_stamp *stamp_r, const char **error_r)
{
	struct pg_store *ps = store_of(st);
	struct sdb_stmt *s = NULL;
	if (pg_prepare(st, "SELECT pg_current_snapshot()::text", &s, error_r) < 0)
		return -1;
	if (pg_step(s) != SDB_ROW)
		return sdb_fail(s, error_r);
	stamp_r->others = (int64_t)fnv64(pg_col_text(s, 0));
	pg_finish(s);
	stamp_r->conn = ps->conn_id;
	stamp_r->ours = __atomic_load_n(&ps->changes, __ATOMIC_RELAXED);
	return 0;
}

static const char *pg_file_path(struct store *st)
{
	(void)st;
	return NULL;
}

/* A migration's script, in PostgreSQL's dialect (store_db_pgsql_dialect.c), on the transaction's
 * connection. */
static int pg_exec_script(struct store *st, const char *sql, const char **error_r)
{
	struct pg_store *ps = store_of(st);
	char *text = pg_dialect_script(sql);
	struct pg_pool_conn *c = NULL;
	int rc = -1;
	if (text == NULL)
		*error_r = "store: a migration is too long for the PostgreSQL dialect";
	else if (pg_pool_take(ps->pool, &c, error_r) == 0) {
		rc = exec_on(c, text, error_r);
		pg_pool_give(c);
	}
	sg_free(&text);
	return rc;
}

static int pg_engine_version(struct store *st)
{
	(void)st;
	return -1; /* the schema_version table alone says */
}

static int pg_migration_lock(struct store *st, const char **error_r)
{
	struct pg_pool_conn *c = pg_pool_bound(store_of(st)->pool);
	if (c == NULL) {
		*error_r = "store: migration outside a transaction";
		return -1;
	}
	return exec_on(c, "SELECT pg_advisory_xact_lock(" MIGRATION_LOCK ")", error_r);
}

static bool pg_accepts(const char *url)
{
	return strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0;
}

static void pg_close(struct store *st)
{
	struct pg_store *ps = store_of(st);
	sdb_cache_free(&ps->cache);
	pg_pool_close(&ps->pool);
	sg_free(&ps);
}

static struct store *pg_open(const char *url, const char *base_dir,
                             const struct store_options *opt, const char **error_r)
{
	(void)base_dir;
	struct pg_store *ps = sg_calloc(1, sizeof(*ps));
	ps->base.ops = &sdb_pgsql_ops;
	ps->conn_id = __atomic_add_fetch(&conn_counter, 1, __ATOMIC_RELAXED);
	ps->cache = sdb_cache_new(STMT_CACHE_MAX, stmt_destroy);
	if (pg_pool_open(url, opt->password, opt->pool_size, &ps->pool, error_r) < 0) {
		pg_close(&ps->base);
		return NULL;
	}
	return &ps->base;
}

const struct sdb_ops sdb_pgsql_ops = {
	.engine = SDB_PGSQL,
	.accepts = pg_accepts,
	.open = pg_open,
	.close = pg_close,
	.prepare = pg_prepare,
	.bind_int64 = pg_bind_int64,
	.bind_text = pg_bind_text,
	.bind_blob = pg_bind_blob,
	.bind_null = pg_bind_null,
	.param_count = pg_param_count,
	.step = pg_step,
	.col_int64 = pg_col_int64,
	.col_text = pg_col_text,
	.col_blob = pg_col_blob,
	.col_is_null = pg_col_is_null,
	.col_count = pg_col_count,
	.changes = pg_changes,
	.reset = pg_reset,
	.finish = pg_finish,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.unsynced_begin = pg_unsynced_begin,
	.unsynced_end = pg_unsynced_end,
	.stamp = pg_stamp,
	.file_path = pg_file_path,
	.exec_script = pg_exec_script,
	.engine_version = pg_engine_version,
	.migration_lock = pg_migration_lock,
	.version_done = NULL,
};

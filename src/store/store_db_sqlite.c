/* store_db_sqlite.c: the embedded SQLite engine behind store_db.h. One connection serves every
 * thread of the process (SQLITE_OPEN_FULLMUTEX): a transaction holds the connection's recursive
 * mutex from BEGIN to COMMIT so that no other thread's statement lands inside it; WAL mode so
 * the portal and qmgr read while one writes. Statements are compiled once and kept idle in a
 * cache (store_db_cache.c). */
#include "store/store_db_backend.h"
#include "store/store_db_cache.h"
#include "core/limits.h"
#include "core/sg_file.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_metrics.h"
#include "core/sg_str.h"
#include "core/sg_time.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#define STMT_CACHE_MAX 256 /* idle statements kept; the store has about 200 texts */

struct sqlite_store {
	struct store base;
	sqlite3 *db;
	int64_t conn_id;     /* unique among the stores this process opened */
	int64_t tx_start_us; /* when the open transaction asked for the lock (its latency) */
	struct sdb_cache *cache;
};

struct sqlite_stmt {
	struct sdb_stmt base;
	sqlite3 *db;
	sqlite3_stmt *s;
	struct sdb_cache *cache;
	int64_t changes; /* of this statement's last run, read under the db mutex */
};

/* Never reused within the process: a stamp from a store closed meanwhile can then never equal
 * one from a store opened later at the same address with the same counters. */
static int64_t conn_counter;

static struct sqlite_store *store_of(struct store *st)
{
	return (struct sqlite_store *)st;
}
static struct sqlite_stmt *stmt_of(struct sdb_stmt *s)
{
	return (struct sqlite_stmt *)s;
}

/* sqlite3_errmsg is the connection's: keep it for this thread before another thread's
 * statement replaces it (call with the db mutex held). */
static int stmt_error(struct sqlite_stmt *q)
{
	sdb_note_error(sqlite3_errmsg(q->db));
	return -1;
}

static void stmt_destroy(struct sdb_stmt *s)
{
	struct sqlite_stmt *q = stmt_of(s);
	sqlite3_finalize(q->s);
	sg_free(&q->base.sql);
	sg_free(&q);
}

static struct sdb_stmt *stmt_new(struct sqlite_store *ss, const char *sql, sqlite3_stmt *raw)
{
	struct sqlite_stmt *q = sg_calloc(1, sizeof(*q));
	q->base.ops = &sdb_sqlite_ops;
	q->base.sql = sg_strdup(sql);
	q->base.hash = sdb_cache_hash(sql);
	q->db = ss->db;
	q->s = raw;
	q->cache = ss->cache;
	return &q->base;
}

static int sq_prepare(struct store *st, const char *sql, struct sdb_stmt **stmt_r,
                      const char **error_r)
{
	struct sqlite_store *ss = store_of(st);
	*stmt_r = sdb_cache_take(ss->cache, sql);
	if (*stmt_r != NULL)
		return 0;
	sqlite3_stmt *raw = NULL;
	sqlite3_mutex_enter(sqlite3_db_mutex(ss->db));
	int rc = sqlite3_prepare_v3(ss->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, NULL);
	if (rc != SQLITE_OK)
		sg_error("store: %s", sqlite3_errmsg(ss->db));
	sqlite3_mutex_leave(sqlite3_db_mutex(ss->db));
	if (rc != SQLITE_OK || raw == NULL) {
		sqlite3_finalize(raw);
		*error_r = "store: database error (see the log)";
		return -1;
	}
	__atomic_add_fetch(&ss->base.compiled, 1, __ATOMIC_RELAXED);
	*stmt_r = stmt_new(ss, sql, raw);
	return 0;
}

/* A bind's result: 0, or -1 with the message kept. */
static int bound(struct sqlite_stmt *q, int rc)
{
	if (rc == SQLITE_OK)
		return 0;
	sqlite3_mutex_enter(sqlite3_db_mutex(q->db));
	stmt_error(q);
	sqlite3_mutex_leave(sqlite3_db_mutex(q->db));
	return -1;
}

static int sq_bind_int64(struct sdb_stmt *s, int idx, int64_t value)
{
	struct sqlite_stmt *q = stmt_of(s);
	return bound(q, sqlite3_bind_int64(q->s, idx, value));
}

static int sq_bind_text(struct sdb_stmt *s, int idx, const char *text)
{
	struct sqlite_stmt *q = stmt_of(s);
	return bound(q, sqlite3_bind_text(q->s, idx, text, -1, SQLITE_STATIC));
}

static int sq_bind_blob(struct sdb_stmt *s, int idx, const void *data, size_t len)
{
	struct sqlite_stmt *q = stmt_of(s);
	return bound(q, sqlite3_bind_blob64(q->s, idx, data, len, SQLITE_STATIC));
}

static int sq_bind_null(struct sdb_stmt *s, int idx)
{
	struct sqlite_stmt *q = stmt_of(s);
	return bound(q, sqlite3_bind_null(q->s, idx));
}

static int sq_param_count(struct sdb_stmt *s)
{
	return sqlite3_bind_parameter_count(stmt_of(s)->s);
}

static int sq_step(struct sdb_stmt *s)
{
	struct sqlite_stmt *q = stmt_of(s);
	sqlite3_mutex_enter(sqlite3_db_mutex(q->db));
	int rc = sqlite3_step(q->s);
	int ret = rc == SQLITE_ROW ? SDB_ROW : rc == SQLITE_DONE ? SDB_DONE : stmt_error(q);
	if (rc == SQLITE_DONE)
		q->changes = sqlite3_changes64(q->db);
	sqlite3_mutex_leave(sqlite3_db_mutex(q->db));
	return ret;
}

static int64_t sq_col_int64(struct sdb_stmt *s, int col)
{
	return sqlite3_column_int64(stmt_of(s)->s, col);
}

static const char *sq_col_text(struct sdb_stmt *s, int col)
{
	return (const char *)sqlite3_column_text(stmt_of(s)->s, col);
}

static const void *sq_col_blob(struct sdb_stmt *s, int col, size_t *len_r)
{
	const void *p = sqlite3_column_blob(stmt_of(s)->s, col);
	int n = sqlite3_column_bytes(stmt_of(s)->s, col);
	*len_r = n > 0 ? (size_t)n : 0;
	return p;
}

static bool sq_col_is_null(struct sdb_stmt *s, int col)
{
	return sqlite3_column_type(stmt_of(s)->s, col) == SQLITE_NULL;
}

static int sq_col_count(struct sdb_stmt *s)
{
	return sqlite3_column_count(stmt_of(s)->s);
}

static int64_t sq_changes(struct sdb_stmt *s)
{
	return stmt_of(s)->changes;
}

/* Reset at once after use: a statement left mid-step would hold a read transaction open. */
static int sq_reset(struct sdb_stmt *s)
{
	struct sqlite_stmt *q = stmt_of(s);
	sqlite3_reset(q->s); /* repeats the last step's error, already kept */
	sqlite3_clear_bindings(q->s);
	q->changes = 0;
	return 0;
}

static void sq_finish(struct sdb_stmt *s)
{
	sq_reset(s);
	sdb_cache_give(stmt_of(s)->cache, s);
}

/* Runs sql on the connection (no parameters, no rows); logs and sets *error_r on failure. */
static int exec_sql(sqlite3 *db, const char *sql, const char **error_r)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	sg_error("store: %s", msg != NULL ? msg : "unknown error");
	sqlite3_free(msg);
	*error_r = "store: database error (see the log)";
	return -1;
}

/* The transaction's time for sealgate_store_transaction_duration_seconds; called with the
 * connection's mutex still held (tx_start_us is the open transaction's). */
static void observe_transaction(const struct sqlite_store *ss)
{
	sg_metrics_observe(SG_HIST_STORE, (double)(sg_mono_us() - ss->tx_start_us) / 1e6);
}

static int sq_begin(struct store *st, bool write, const char **error_r)
{
	struct sqlite_store *ss = store_of(st);
	int64_t asked = sg_mono_us();
	sqlite3_mutex_enter(sqlite3_db_mutex(ss->db));
	ss->tx_start_us = asked;
	if (exec_sql(ss->db, write ? "BEGIN IMMEDIATE" : "BEGIN", error_r) == 0)
		return 0;
	sqlite3_mutex_leave(sqlite3_db_mutex(ss->db));
	return -1;
}

static int sq_commit(struct store *st, const char **error_r)
{
	struct sqlite_store *ss = store_of(st);
	int rc = 0;
	if (exec_sql(ss->db, "COMMIT", error_r) < 0) {
		rc = -1;
		sqlite3_exec(ss->db, "ROLLBACK", NULL, NULL, NULL);
	}
	observe_transaction(ss);
	sqlite3_mutex_leave(sqlite3_db_mutex(ss->db));
	return rc;
}

static void sq_rollback(struct store *st)
{
	struct sqlite_store *ss = store_of(st);
	sqlite3_exec(ss->db, "ROLLBACK", NULL, NULL, NULL);
	observe_transaction(ss);
	sqlite3_mutex_leave(sqlite3_db_mutex(ss->db));
}

/* An integer from a one-row PRAGMA, fallback (and *rc_r -1) when it has none. */
static int64_t query_int(struct sqlite_store *ss, const char *sql, int64_t fallback, int *rc_r)
{
	struct sdb_stmt *s = NULL;
	const char *err = NULL;
	*rc_r = -1;
	if (sq_prepare(&ss->base, sql, &s, &err) < 0)
		return fallback;
	if (sq_step(s) != SDB_ROW) {
		sdb_fail(s, &err);
		return fallback;
	}
	int64_t v = sq_col_int64(s, 0);
	sq_finish(s);
	*rc_r = 0;
	return v;
}

static int sq_unsynced_begin(struct store *st)
{
	struct sqlite_store *ss = store_of(st);
	sqlite3_mutex_enter(sqlite3_db_mutex(ss->db));
	int rc;
	int level = (int)query_int(ss, "PRAGMA synchronous", 2 /* FULL, SQLite's default */, &rc);
	sqlite3_exec(ss->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
	return level;
}

static void sq_unsynced_end(struct store *st, int level)
{
	struct sqlite_store *ss = store_of(st);
	char sql[40];
	snprintf(sql, sizeof(sql), "PRAGMA synchronous = %d", level);
	if (sqlite3_exec(ss->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		sg_error("store: cannot restore PRAGMA synchronous: %s", sqlite3_errmsg(ss->db));
	sqlite3_mutex_leave(sqlite3_db_mutex(ss->db));
}

static int sq_stamp(struct store *st, struct store_stamp *stamp_r, const char **error_r)
{
	struct sqlite_store *ss = store_of(st);
	int rc;
	/* Read before the counter: a write in between makes the next stamp differ, never equal. */
	stamp_r->others = query_int(ss, "PRAGMA data_version", 0, &rc);
	if (rc < 0) {
		*error_r = "store: database error (see the log)";
		return -1;
	}
	stamp_r->conn = ss->conn_id;
	stamp_r->ours = sqlite3_total_changes64(ss->db);
	return 0;
}

static const char *sq_file_path(struct store *st)
{
	return sqlite3_db_filename(store_of(st)->db, "main");
}

static int sq_exec_script(struct store *st, const char *sql, const char **error_r)
{
	return exec_sql(store_of(st)->db, sql, error_r);
}

static int sq_engine_version(struct store *st)
{
	int rc;
	int64_t v = query_int(store_of(st), "PRAGMA user_version", -1, &rc);
	return rc < 0 || v < 0 || v > 1000000 ? -1 : (int)v;
}

static int sq_version_done(struct store *st, int v, const char **error_r)
{
	char bump[64];
	snprintf(bump, sizeof(bump), "PRAGMA user_version = %d;", v);
	return exec_sql(store_of(st)->db, bump, error_r);
}

static bool sq_accepts(const char *url)
{
	return strncmp(url, "sqlite:", 7) == 0;
}

static void sq_close(struct store *st)
{
	struct sqlite_store *ss = store_of(st);
	sdb_cache_free(&ss->cache);
	sqlite3_close(ss->db);
	sg_free(&ss);
}

static struct store *sq_open(const char *url, const char *base_dir,
                             const struct store_options *opt, const char **error_r)
{
	(void)opt;
	char path[SG_PATH_MAX];
	if (sg_path_resolve(path, sizeof(path), base_dir, url + 7) < 0) {
		*error_r = "store.database: path too long";
		return NULL;
	}
	struct sqlite_store *ss = sg_calloc(1, sizeof(*ss));
	ss->base.ops = &sdb_sqlite_ops;
	ss->conn_id = __atomic_add_fetch(&conn_counter, 1, __ATOMIC_RELAXED);
	ss->cache = sdb_cache_new(STMT_CACHE_MAX, stmt_destroy);
	if (sqlite3_open_v2(path, &ss->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
	                    NULL) != SQLITE_OK) {
		*error_r = "store: cannot open the SQLite database";
		sq_close(&ss->base);
		return NULL;
	}
	sqlite3_busy_timeout(ss->db, 5000);
	if (exec_sql(ss->db, "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;", error_r) < 0) {
		sq_close(&ss->base);
		return NULL;
	}
	return &ss->base;
}

const struct sdb_ops sdb_sqlite_ops = {
    .engine = SDB_SQLITE,
    .accepts = sq_accepts,
    .open = sq_open,
    .close = sq_close,
    .prepare = sq_prepare,
    .bind_int64 = sq_bind_int64,
    .bind_text = sq_bind_text,
    .bind_blob = sq_bind_blob,
    .bind_null = sq_bind_null,
    .param_count = sq_param_count,
    .step = sq_step,
    .col_int64 = sq_col_int64,
    .col_text = sq_col_text,
    .col_blob = sq_col_blob,
    .col_is_null = sq_col_is_null,
    .col_count = sq_col_count,
    .changes = sq_changes,
    .reset = sq_reset,
    .finish = sq_finish,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .unsynced_begin = sq_unsynced_begin,
    .unsynced_end = sq_unsynced_end,
    .stamp = sq_stamp,
    .file_path = sq_file_path,
    .exec_script = sq_exec_script,
    .engine_version = sq_engine_version,
    .migration_lock = NULL,
    .version_done = sq_version_done,
};

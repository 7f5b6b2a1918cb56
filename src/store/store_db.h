/* store_db.h: private to store/: the one statement layer every store_*.c runs its SQL through,
 * whatever the engine (SQLite today in store_db_sqlite.c, PostgreSQL through libpq beside it).
 * Shaped like sqlite3's prepare/bind/step/column API so that the store's files stay plain SQL.
 *
 * SQL: one text for both engines. Parameters are numbered ?1 ?2 ... only (never a bare ?, never
 * :name); a backend whose engine spells them otherwise rewrites them once, when the statement
 * is prepared (libpq: ?N outside string literals -> $N). Write the common subset: ON CONFLICT
 * (...) DO NOTHING / DO UPDATE SET x = excluded.x (never INSERT OR IGNORE/REPLACE), COALESCE,
 * CASE instead of two-argument min()/max(), sum(CASE ...) instead of summing a comparison, new
 * ids by INSERT ... RETURNING id, the current time bound from C (never strftime('%s','now')).
 * Where a query cannot be common, branch on sdb_engine() in the store file, and say why.
 *
 * Connections and threads: a store serves every thread of the process. Outside a transaction
 * each statement runs on whichever connection the backend picks, from sdb_prepare to sdb_finish
 * (keep that span short: finish before calling anything that may run another statement).
 * Between sdb_begin and sdb_commit/sdb_rollback, every statement the SAME thread prepares runs
 * on the transaction's connection, and no other thread's statement runs inside the transaction
 * (SQLite: the one shared connection's recursive mutex is held; libpq: a pooled connection is
 * bound to the thread until the transaction ends). Transactions do not nest: a store function
 * that opens one is never called inside another's. sdb_unsynced_begin..end binds the thread
 * the same way but leaves each statement its own transaction.
 *
 * Errors: sdb_prepare, sdb_begin, sdb_commit log the engine's message and set *error_r (a
 * generic text: the engine's words go to the log, never to a user). bind/step keep the engine's
 * message for the calling thread; sdb_fail(s, error_r) finishes s, logs that message and sets
 * *error_r, so it may come after sdb_finish too (sdb_fail(NULL, error_r)). */
#ifndef SG_STORE_DB_H
#define SG_STORE_DB_H

#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sdb_stmt;

enum sdb_engine { SDB_SQLITE, SDB_PGSQL };

/* What sdb_step returns (or -1 on an error). */
#define SDB_DONE 0
#define SDB_ROW  1

enum sdb_engine sdb_engine(const struct store *st);

/* A statement for sql, from the connection's cache of prepared statements (keyed by the SQL
 * text, so a query built at run time is cached too; compile once, run many). The statement is
 * the caller's alone until sdb_finish. 0 or -1. */
int sdb_prepare(struct store *st, const char *sql, struct sdb_stmt **stmt_r, const char **error_r);

/* How many statements the store has compiled so far (cache misses), for tests and benchmarks. */
int64_t sdb_compiled(const struct store *st);

/* Binding: idx counts from 1 like ?1. Text and blobs are NOT copied: the caller keeps them
 * valid and unchanged until sdb_finish (or until it binds that parameter again). text is
 * NUL-terminated. NULL text or blob data binds SQL NULL; a blob of length 0 at a non-NULL
 * pointer binds an empty blob.
 * 0, or -1 with the error kept for sdb_fail. */
int sdb_bind_int64(struct sdb_stmt *s, int idx, int64_t value);
int sdb_bind_text(struct sdb_stmt *s, int idx, const char *text);
int sdb_bind_blob(struct sdb_stmt *s, int idx, const void *data, size_t len);
int sdb_bind_null(struct sdb_stmt *s, int idx);

/* How many parameters the SQL names (its highest ?N), for a helper that binds only those. */
int sdb_param_count(struct sdb_stmt *s);

/* Runs the statement, or moves to its next row: SDB_ROW, SDB_DONE, or -1. After SDB_DONE
 * sdb_step must not be called again before sdb_reset. */
int sdb_step(struct sdb_stmt *s);

/* Columns of the current row, counted from 0. Pointers stay valid until the next sdb_step,
 * sdb_reset or sdb_finish. Text is never NULL: SQL NULL reads as "" (sdb_col_is_null tells);
 * a NULL or empty blob reads as NULL with *len_r 0. */
int64_t sdb_col_int64(struct sdb_stmt *s, int col);
const char *sdb_col_text(struct sdb_stmt *s, int col);
const void *sdb_col_blob(struct sdb_stmt *s, int col, size_t *len_r);
bool sdb_col_is_null(struct sdb_stmt *s, int col);
/* How many columns the statement's rows have. */
int sdb_col_count(struct sdb_stmt *s);
/* A copy of blob column col (sg_malloc'd, the caller's), NULL with *len_r 0 when it is NULL
 * or empty. */
void *sdb_col_blob_dup(struct sdb_stmt *s, int col, size_t *len_r);
/* Column col as text into dst, cut to size ("" for NULL). */
void sdb_col_copy(struct sdb_stmt *s, int col, char *dst, size_t size);

/* Rows the statement's last execution inserted, updated or deleted (that statement's own
 * count, not the connection's: libpq's PQcmdTuples). Valid once sdb_step returned SDB_DONE. */
int64_t sdb_changes(struct sdb_stmt *s);

/* Makes s ready to run again with new bindings (bindings are cleared). 0 or -1. */
int sdb_reset(struct sdb_stmt *s);
/* Ends the caller's use of s: reset, bindings cleared, back to the cache. NULL is fine. */
void sdb_finish(struct sdb_stmt *s);
/* Finishes s (NULL is fine), logs the calling thread's last bind/step error (the engine's
 * message, not yet logged) and sets a generic *error_r: -1. */
int sdb_fail(struct sdb_stmt *s, const char **error_r);

/* The first row of sql with ?1 bound to a text (NULL: SQL NULL) or a number: SDB_ROW (read it
 * from *s_r, then sdb_finish), SDB_DONE (no row; finished) or -1 (finished, *error_r set). */
int sdb_query_text(struct store *st, const char *sql, const char *arg, struct sdb_stmt **s_r,
                   const char **error_r);
int sdb_query_int(struct store *st, const char *sql, int64_t arg, struct sdb_stmt **s_r,
                  const char **error_r);

/* Runs sql (a write with one text parameter ?1 = arg): the rows it changed, or -1. */
int sdb_exec_text(struct store *st, const char *sql, const char *arg, const char **error_r);

/* A transaction (see the top of this file). write: it will write, so it takes the write lock
 * at once (SQLite: BEGIN IMMEDIATE), which avoids a deadlock between two readers upgrading.
 * commit rolls back when COMMIT fails; commit and rollback both end the transaction. */
int sdb_begin(struct store *st, bool write, const char **error_r);
int sdb_commit(struct store *st, const char **error_r);
void sdb_rollback(struct store *st);

/* For a change whose loss on a power cut is harmless (a flag that only saves work): between
 * these, statements commit without waiting for the disk (SQLite: PRAGMA synchronous = NORMAL:
 * the WAL keeps their order and the next synced commit makes them durable; OFF would also skip
 * the checkpoint's sync, which a power cut could turn into a corrupt database; PostgreSQL:
 * synchronous_commit = off). begin returns what end restores. */
int sdb_unsynced_begin(struct store *st);
void sdb_unsynced_end(struct store *st, int level);

/* What lets a reader cache what it read (store_stamp in store.h): equal stamps mean nothing
 * was committed in between, by this process or another. */
int sdb_stamp(struct store *st, struct store_stamp *stamp_r, const char **error_r);

/* The database file (SQLite), beside which the store may keep files; NULL when the store is
 * not a file (PostgreSQL). */
const char *sdb_file_path(struct store *st);

#endif

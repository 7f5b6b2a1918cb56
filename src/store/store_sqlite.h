/* store_sqlite.h: private to store/: the SQLite handle for the store_* files that run
 * queries. Nothing outside store/ includes it (no SQL outside store/). */
#ifndef SG_STORE_SQLITE_H
#define SG_STORE_SQLITE_H

#include "store/store.h"

#include <sqlite3.h>
#include <stdbool.h>

sqlite3 *store_sqlite_db(struct store *st);
/* A number no other store opened by this process had. */
int64_t store_sqlite_conn_id(const struct store *st);
/* SQLite's data_version: changes when another connection commits (thread-safe). */
int store_sqlite_data_version(struct store *st, int64_t *version_r, const char **error_r);
/* A transaction on the store's connection, which every thread of the process shares: the
 * connection's own (recursive) mutex is held from BEGIN to COMMIT or ROLLBACK, so that no
 * other thread's statement lands inside it, or is rolled back with it. write: BEGIN IMMEDIATE.
 * commit rolls back when COMMIT fails; both end the transaction and release the mutex. */
int store_sqlite_begin(struct store *st, bool write, const char **error_r);
int store_sqlite_commit(struct store *st, const char **error_r);
void store_sqlite_rollback(struct store *st);
/* A write transaction whose wait for the disk happens after the mutex is released: COMMIT
 * writes the WAL without syncing it (synchronous = NORMAL from begin to its end), then one
 * fsync of the WAL covers every thread that committed so far (group commit). commit returns
 * when this transaction is durable; the other threads' statements meanwhile are not held up
 * by the disk. Ended by commit_grouped or store_sqlite_rollback. */
int store_sqlite_begin_grouped(struct store *st, const char **error_r);
int store_sqlite_commit_grouped(struct store *st, const char **error_r);
/* For a change whose loss on a power cut is harmless (a flag that only saves work): between
 * these, statements commit without waiting for the disk (PRAGMA synchronous = NORMAL: the WAL
 * keeps their order, so the next synced commit makes them durable too, and a checkpoint
 * still syncs). Holds the mutex; begin returns the level that end restores. A killed process
 * loses nothing either way. */
int store_sqlite_unsynced_begin(struct store *st);
void store_sqlite_unsynced_end(struct store *st, int level);
/* Logs the database's error, finalizes s (may be NULL) and sets a generic *error_r: -1. */
int store_sqlite_fail(sqlite3 *db, sqlite3_stmt *s, const char **error_r);
/* Runs sql (a write with one text parameter ?1 = arg): the rows it changed, or -1. */
int store_sqlite_exec_text(struct store *st, const char *sql, const char *arg,
                           const char **error_r);
/* Column col as text into dst ("" for NULL), cut to size. */
void store_sqlite_text(sqlite3_stmt *s, int col, char *dst, size_t size);

/* A new database at path with the schema of `version` (the first `version` migrations), for
 * the tests of a later migration: they fill it as an old instance would, then store_open
 * runs the rest. */
int store_sqlite_create_at(const char *path, int version, const char **error_r);

#endif

/* store_sqlite.h: for the tests of a migration (store_sqlite_create_at); the rest is the old
 * direct SQLite API, kept only while the store_*.c files move to store_db.h (TEMPORARY). */
#ifndef SG_STORE_SQLITE_H
#define SG_STORE_SQLITE_H

#include "store/store.h"

#include <sqlite3.h>
#include <stdbool.h>

sqlite3 *store_sqlite_db(struct store *st);
int64_t store_sqlite_conn_id(const struct store *st);
int store_sqlite_data_version(struct store *st, int64_t *version_r, const char **error_r);
int store_sqlite_begin(struct store *st, bool write, const char **error_r);
int store_sqlite_commit(struct store *st, const char **error_r);
void store_sqlite_rollback(struct store *st);
int store_sqlite_unsynced_begin(struct store *st);
void store_sqlite_unsynced_end(struct store *st, int level);
int store_sqlite_fail(sqlite3 *db, sqlite3_stmt *s, const char **error_r);
int store_sqlite_exec_text(struct store *st, const char *sql, const char *arg,
                           const char **error_r);
void store_sqlite_text(sqlite3_stmt *s, int col, char *dst, size_t size);

/* A new database at path with the schema of `version` (the first `version` migrations), for
 * the tests of a later migration: they fill it as an old instance would, then store_open
 * runs the rest. */
int store_sqlite_create_at(const char *path, int version, const char **error_r);

#endif

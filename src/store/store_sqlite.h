/* store_sqlite.h: private to store/: the SQLite handle for the store_* files that run
 * queries. Nothing outside store/ includes it (no SQL outside store/). */
#ifndef SG_STORE_SQLITE_H
#define SG_STORE_SQLITE_H

#include "store/store.h"

#include <sqlite3.h>

sqlite3 *store_sqlite_db(struct store *st);
/* A number no other store opened by this process had. */
int64_t store_sqlite_conn_id(const struct store *st);
/* SQLite's data_version: changes when another connection commits (thread-safe). */
int store_sqlite_data_version(struct store *st, int64_t *version_r, const char **error_r);
/* Logs the database's error, finalizes s (may be NULL) and sets a generic *error_r: -1. */
int store_sqlite_fail(sqlite3 *db, sqlite3_stmt *s, const char **error_r);
/* Column col as text into dst ("" for NULL), cut to size. */
void store_sqlite_text(sqlite3_stmt *s, int col, char *dst, size_t size);

#endif

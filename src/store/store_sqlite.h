/* store_sqlite.h: private to store/: the SQLite handle for the store_* files that run
 * queries. Nothing outside store/ includes it (no SQL outside store/). */
#ifndef SG_STORE_SQLITE_H
#define SG_STORE_SQLITE_H

#include "store/store.h"

#include <sqlite3.h>

sqlite3 *store_sqlite_db(struct store *st);
/* Logs the database's error, finalizes s (may be NULL) and sets a generic *error_r: -1. */
int store_sqlite_fail(sqlite3 *db, sqlite3_stmt *s, const char **error_r);
/* Column col as text into dst ("" for NULL), cut to size. */
void store_sqlite_text(sqlite3_stmt *s, int col, char *dst, size_t size);

#endif

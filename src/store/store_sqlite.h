/* store_sqlite.h: for the tests of a migration only (the engine itself is private to
 * store_db_sqlite.c behind store_db.h; nothing else includes sqlite3.h). */
#ifndef SG_STORE_SQLITE_H
#define SG_STORE_SQLITE_H

/* A new database at path with the schema of `version` (the first `version` migrations), for
 * the tests of a later migration: they fill it as an old instance would, then store_open
 * runs the rest. */
int store_sqlite_create_at(const char *path, int version, const char **error_r);

#endif

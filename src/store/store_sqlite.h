/* store_sqlite.h: private to store/: the SQLite handle for the store_* files that run
 * queries. Nothing outside store/ includes it (no SQL outside store/). */
#ifndef SG_STORE_SQLITE_H
#define SG_STORE_SQLITE_H

#include "store/store.h"

#include <sqlite3.h>

sqlite3 *store_sqlite_db(struct store *st);

#endif

/* store_db_pgsql.h: private to store/: what the PostgreSQL backend offers beside its sdb_ops
 * (store_db_backend.h), without libpq's header (only the store_db_pgsql*.c files see it). */
#ifndef SG_STORE_DB_PGSQL_H
#define SG_STORE_DB_PGSQL_H

#include <stddef.h>

/* check-config: is conninfo a URI libpq parses, and does the server take the login? 0, or -1
 * with why ("store.database: ..."). */
int sdb_pgsql_probe(const char *conninfo, const char *password, char *why, size_t why_size);

#endif

/* store_db_cache.h: private to the store_db_*.c backends: the idle prepared statements of one
 * connection, by SQL text. A statement in use is out of the cache, so two threads never share
 * one; two threads running the same query at once get two statements, both kept after. */
#ifndef SG_STORE_DB_CACHE_H
#define SG_STORE_DB_CACHE_H

#include "store/store_db_backend.h"

struct sdb_cache;

/* A cache keeping at most capacity idle statements; destroy frees one (backend's). */
struct sdb_cache *sdb_cache_new(size_t capacity, void (*destroy)(struct sdb_stmt *s));
/* Frees every idle statement and the cache. NULL is fine. */
void sdb_cache_free(struct sdb_cache **cachep);
/* The hash under which sql is kept (set it in a new statement's head with its sql copy). */
uint64_t sdb_cache_hash(const char *sql);
/* An idle statement for sql, now the caller's; NULL if none. */
struct sdb_stmt *sdb_cache_take(struct sdb_cache *cache, const char *sql);
/* Keeps s (reset, bindings cleared) for the next take of its SQL, or destroys it when full. */
void sdb_cache_give(struct sdb_cache *cache, struct sdb_stmt *s);

#endif

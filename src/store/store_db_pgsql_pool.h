/* store_db_pgsql_pool.h: private to store/: the PostgreSQL connections of one open store -- a pool
 * per process of at most store.pool_size libpq connections, each with its own cache of
 * prepared statements. A thread takes a connection for one statement (outside a transaction)
 * or binds one to itself from BEGIN to COMMIT/ROLLBACK (store_db.h's contract); a lost
 * connection is reset with backoff before it is handed out again. */
#ifndef SG_STORE_DB_PGSQL_POOL_H
#define SG_STORE_DB_PGSQL_POOL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pg_pool;

/* One pooled connection. The statement names are "s<index>" in the order this connection
 * prepared them; the cache maps SQL text to that index. */
struct pg_pool_conn {
	PGconn *conn;
	struct pg_pool *pool;
	char **cached_sql;     /* SQL texts prepared on this connection (index = name) */
	uint64_t *cached_hash; /* their sdb_cache_hash, compared first */
	size_t cached, cached_cap;
	bool in_tx;            /* between BEGIN and COMMIT/ROLLBACK */
	int64_t tx_start_us;   /* when the transaction asked for its connection */
};

/* conninfo: the libpq URI of store.database; password: NULL, or store.password_file's line
 * (copied, wiped at close). Connects one connection at once, so that a wrong URI, an
 * unreachable server or a refused login is an error here and not at the first message. */
int pg_pool_open(const char *conninfo, const char *password, int size, struct pg_pool **pool_r,
                 const char **error_r);
void pg_pool_close(struct pg_pool **pool);

/* A connection for this thread: the one bound to it by a transaction on this pool, else a
 * free one (waits while all are taken), reconnected when it was lost. -1 when the server
 * cannot be reached after the backoff (*error_r says so). */
int pg_pool_take(struct pg_pool *pool, struct pg_pool_conn **conn_r, const char **error_r);
/* Gives back a connection taken for one statement; one bound to a transaction stays bound. */
void pg_pool_give(struct pg_pool_conn *c);
/* Binds c to the calling thread until pg_pool_unbind (a transaction). */
void pg_pool_bind(struct pg_pool_conn *c);
void pg_pool_unbind(struct pg_pool_conn *c);
/* The connection bound to this thread for pool, or NULL. */
struct pg_pool_conn *pg_pool_bound(struct pg_pool *pool);

/* The cache index of sql (whose sdb_cache_hash is hash) on c, preparing it (with ?N already rewritten) on first use: the
 * statement's name is written to name (at least 16 bytes). 0 or -1 (the error in the log). */
int pg_conn_prepared(struct pg_pool_conn *c, const char *sql, uint64_t hash, int nparams,
                     char *name, size_t name_size);
/* After a lost connection: its prepared statements are gone with it. */
void pg_conn_forget_prepared(struct pg_pool_conn *c);
/* True when the connection is gone (the server closed it, or a network error). */
bool pg_conn_lost(const struct pg_pool_conn *c);
/* Reconnects c (PQreset) with backoff: 0, or -1 when the server stays unreachable. */
int pg_conn_reconnect(struct pg_pool_conn *c, const char **error_r);

/* ?1 ?2 ... outside string literals and quoted names become $1 $2 ...; *nparams_r is the
 * highest number seen, bit n-1 of *used_r set for each ?n (n <= 64). Caller frees. NULL when a bare ? or an over-long text is found. */
char *pg_sql_numbered(const char *sql, int *nparams_r, uint64_t *used_r);

#endif

/* store_db_pgsql_pool.c: the PostgreSQL connection pool of one open store (store_db_pgsql_pool.h). */
#include "store/store_db_pgsql_pool.h"
#include "store/store_db_pgsql.h"
#include "core/sg_buf.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_time.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PG_SQL_MAX (256 * 1024)
/* Waits between reconnection attempts (ms): about 6 s in all, so that a restarting server or
 * a failover of a few seconds is ridden out, while a caller is not held much longer. */
static const int backoff_ms[] = {100, 200, 400, 800, 1600, 3000};

struct pg_pool {
	char *conninfo;
	char *password;
	pthread_mutex_t lock;
	pthread_cond_t freed;
	struct pg_pool_conn **conns; /* size slots; NULL until first needed */
	bool *busy;
	int size;
};

/* The connection a transaction bound to this thread (transactions do not nest). */
static _Thread_local struct pg_pool_conn *bound_conn;

/* The URI first (expanded), then what it must not hold: the password from its own file. */
static PGconn *connect_db(const char *conninfo, const char *password)
{
	const char *keys[] = {"dbname", "fallback_application_name", "password", NULL};
	const char *values[] = {conninfo, "sealgate", password, NULL};
	if (password == NULL)
		keys[2] = NULL;
	return PQconnectdbParams(keys, values, 1);
}

/* libpq's message, on one line, for the log. */
static const char *conn_message(const PGconn *conn)
{
	const char *m = conn != NULL ? PQerrorMessage(conn) : "out of memory";
	return m[0] != '\0' ? m : "unknown error";
}

int sdb_pgsql_probe(const char *conninfo, const char *password, char *why, size_t why_size)
{
	char *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
	if (opts == NULL) {
		snprintf(why, why_size, "store.database: not a valid PostgreSQL URI: %s",
		         perr != NULL ? perr : "out of memory");
		PQfreemem(perr);
		why[strcspn(why, "\n")] = '\0';
		return -1;
	}
	PQconninfoFree(opts);
	PGconn *conn = connect_db(conninfo, password);
	int rc = conn != NULL && PQstatus(conn) == CONNECTION_OK ? 0 : -1;
	if (rc < 0) {
		snprintf(why, why_size, "store.database: cannot connect to PostgreSQL: %s",
		         conn_message(conn));
		why[strcspn(why, "\n")] = '\0';
	}
	PQfinish(conn);
	return rc;
}

/* The server's notices ("already exists, skipping") are no business of a log or a terminal. */
static void notice_drop(void *arg, const char *message)
{
	(void)arg, (void)message;
}

static struct pg_pool_conn *conn_new(struct pg_pool *p, const char **error_r)
{
	PGconn *conn = connect_db(p->conninfo, p->password);
	if (conn != NULL)
		PQsetNoticeProcessor(conn, notice_drop, NULL);
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
		sg_error("store: cannot connect to PostgreSQL: %.300s", conn_message(conn));
		PQfinish(conn);
		*error_r = "store: cannot connect to PostgreSQL (see the log)";
		return NULL;
	}
	struct pg_pool_conn *c = sg_calloc(1, sizeof(*c));
	c->conn = conn;
	c->pool = p;
	return c;
}

static void conn_free(struct pg_pool_conn **cp)
{
	if (*cp == NULL)
		return;
	pg_conn_forget_prepared(*cp);
	sg_free(&(*cp)->cached_sql);
	sg_free(&(*cp)->cached_hash);
	PQfinish((*cp)->conn);
	sg_free(cp);
}

int pg_pool_open(const char *conninfo, const char *password, int size, struct pg_pool **pool_r,
                 const char **error_r)
{
	struct pg_pool *p = sg_calloc(1, sizeof(*p));
	p->conninfo = sg_strdup(conninfo);
	p->password = password != NULL ? sg_strdup(password) : NULL;
	p->size = size < 1 ? 1 : size;
	p->conns = sg_calloc((size_t)p->size, sizeof(*p->conns));
	p->busy = sg_calloc((size_t)p->size, sizeof(*p->busy));
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->freed, NULL);
	p->conns[0] = conn_new(p, error_r);
	if (p->conns[0] == NULL) {
		pg_pool_close(&p);
		return -1;
	}
	*pool_r = p;
	return 0;
}

void pg_pool_close(struct pg_pool **pp)
{
	struct pg_pool *p = *pp;
	if (p == NULL)
		return;
	for (int i = 0; i < p->size; i++)
		conn_free(&p->conns[i]);
	if (p->password != NULL)
		sg_free_secret(&p->password, strlen(p->password));
	sg_free(&p->conninfo);
	sg_free(&p->conns);
	sg_free(&p->busy);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->freed);
	sg_free(pp);
}

/* A free slot's index (its connection may still be NULL), waiting while all are busy. */
static int take_slot(struct pg_pool *p)
{
	pthread_mutex_lock(&p->lock);
	for (;;) {
		int empty = -1;
		for (int i = 0; i < p->size; i++) {
			if (p->busy[i])
				continue;
			if (p->conns[i] != NULL) {
				p->busy[i] = true;
				pthread_mutex_unlock(&p->lock);
				return i;
			}
			if (empty < 0)
				empty = i;
		}
		if (empty >= 0) { /* no connected one free: open a new one in this slot */
			p->busy[empty] = true;
			pthread_mutex_unlock(&p->lock);
			return empty;
		}
		pthread_cond_wait(&p->freed, &p->lock);
	}
}

static void give_slot(struct pg_pool *p, int slot)
{
	pthread_mutex_lock(&p->lock);
	p->busy[slot] = false;
	pthread_cond_signal(&p->freed);
	pthread_mutex_unlock(&p->lock);
}

static int slot_of(const struct pg_pool_conn *c)
{
	for (int i = 0; i < c->pool->size; i++)
		if (c->pool->conns[i] == c)
			return i;
	return -1;
}

int pg_pool_take(struct pg_pool *p, struct pg_pool_conn **conn_r, const char **error_r)
{
	struct pg_pool_conn *bound = pg_pool_bound(p);
	if (bound != NULL) {
		*conn_r = bound;
		return 0;
	}
	int slot = take_slot(p);
	if (p->conns[slot] == NULL)
		p->conns[slot] = conn_new(p, error_r); /* the slot is ours: no lock needed */
	struct pg_pool_conn *c = p->conns[slot];
	/* reads what the server sent while the connection was idle: a server that restarted or
	 * failed over has closed it, and that is seen here, before a statement is sent on it */
	if (c != NULL)
		PQconsumeInput(c->conn);
	if (c == NULL || (pg_conn_lost(c) && pg_conn_reconnect(c, error_r) < 0)) {
		give_slot(p, slot);
		return -1;
	}
	*conn_r = c;
	return 0;
}

void pg_pool_give(struct pg_pool_conn *c)
{
	if (c == NULL || c == bound_conn)
		return;
	give_slot(c->pool, slot_of(c));
}

void pg_pool_bind(struct pg_pool_conn *c)
{
	bound_conn = c;
}

void pg_pool_unbind(struct pg_pool_conn *c)
{
	if (bound_conn == c)
		bound_conn = NULL;
	pg_pool_give(c);
}

struct pg_pool_conn *pg_pool_bound(struct pg_pool *p)
{
	return bound_conn != NULL && bound_conn->pool == p ? bound_conn : NULL;
}

bool pg_conn_lost(const struct pg_pool_conn *c)
{
	return PQstatus(c->conn) != CONNECTION_OK;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

int pg_conn_reconnect(struct pg_pool_conn *c, const char **error_r)
{
	pg_conn_forget_prepared(c);
	for (size_t i = 0; i < sizeof(backoff_ms) / sizeof(backoff_ms[0]); i++) {
		PQreset(c->conn);
		if (PQstatus(c->conn) == CONNECTION_OK) {
			sg_info("store: reconnected to PostgreSQL");
			return 0;
		}
		sg_warn("store: PostgreSQL unreachable, retrying in %d ms: %.300s", backoff_ms[i],
		        conn_message(c->conn));
		sleep_ms(backoff_ms[i]);
	}
	*error_r = "store: PostgreSQL is unreachable (see the log); try again shortly";
	return -1;
}

void pg_conn_forget_prepared(struct pg_pool_conn *c)
{
	for (size_t i = 0; i < c->cached; i++)
		sg_free(&c->cached_sql[i]);
	c->cached = 0;
}

static int cache_find(const struct pg_pool_conn *c, const char *sql, uint64_t hash)
{
	for (size_t i = c->cached; i-- > 0;)
		if (c->cached_hash[i] == hash && strcmp(c->cached_sql[i], sql) == 0)
			return (int)i;
	return -1;
}

int pg_conn_prepared(struct pg_pool_conn *c, const char *sql, uint64_t hash, int nparams,
                     char *name, size_t name_size)
{
	int idx = cache_find(c, sql, hash);
	if (idx < 0) {
		int n = 0;
		uint64_t used = 0;
		char *text = pg_sql_numbered(sql, &n, &used);
		/* a number the SQL skips (?2 and ?4 only) has no context to type it: text */
		Oid types[64] = {0};
		for (int i = 0; i < nparams && i < 64; i++)
			types[i] = (used >> i) & 1 ? 0 : 25 /* TEXTOID */;
		snprintf(name, name_size, "s%zu", c->cached);
		PGresult *r = text != NULL ? PQprepare(c->conn, name, text, nparams, types) : NULL;
		bool ok = r != NULL && PQresultStatus(r) == PGRES_COMMAND_OK;
		if (!ok)
			sg_error("store: cannot prepare \"%.80s\": %.300s", sql,
			         text == NULL ? "bad parameter" : conn_message(c->conn));
		PQclear(r);
		sg_free(&text);
		if (!ok)
			return -1;
		if (c->cached == c->cached_cap) {
			c->cached_cap = c->cached_cap ? c->cached_cap * 2 : 32;
			c->cached_sql = sg_reallocarray(c->cached_sql, c->cached_cap, sizeof(char *));
			c->cached_hash = sg_reallocarray(c->cached_hash, c->cached_cap, sizeof(uint64_t));
		}
		c->cached_hash[c->cached] = hash;
		c->cached_sql[c->cached] = sg_strdup(sql);
		idx = (int)c->cached++;
	}
	snprintf(name, name_size, "s%d", idx);
	return 0;
}

/* After a quote character at *i: copies up to and including the closing quote. */
static int copy_quoted(struct sg_buf *b, const char *sql, size_t *i)
{
	char q = sql[*i];
	size_t end = *i + 1;
	while (sql[end] != '\0' && sql[end] != q)
		end++;
	if (sql[end] == '\0')
		return -1;
	int rc = sg_buf_append(b, sql + *i, end + 1 - *i);
	*i = end + 1;
	return rc;
}

char *pg_sql_numbered(const char *sql, int *nparams_r, uint64_t *used_r)
{
	*used_r = 0;
	struct sg_buf b;
	sg_buf_init(&b, PG_SQL_MAX);
	int rc = 0, most = 0;
	for (size_t i = 0; sql[i] != '\0' && rc == 0;) {
		if (sql[i] == '\'' || sql[i] == '"') {
			rc = copy_quoted(&b, sql, &i);
		} else if (sql[i] == '?') {
			size_t digits = strspn(sql + i + 1, "0123456789");
			int n = digits > 0 && digits < 4 ? (int)strtol(sql + i + 1, NULL, 10) : 0;
			most = n > most ? n : most;
			*used_r |= n > 0 && n <= 64 ? 1ULL << (n - 1) : 0;
			rc = n > 0 ? sg_buf_printf(&b, "$%d", n) : -1;
			i += 1 + digits;
		} else {
			rc = sg_buf_append(&b, sql + i, 1);
			i++;
		}
	}
	if (rc < 0 || b.data == NULL) {
		sg_buf_free(&b);
		return NULL;
	}
	*nparams_r = most;
	return sg_buf_steal(&b, NULL);
}

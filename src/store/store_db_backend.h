/* store_db_backend.h: private to the store_db_*.c backends: what one engine provides behind
 * store_db.h (a table of operations, chosen by the store.database URL in store_db.c), and the
 * head that a backend's store and statement structs start with. */
#ifndef SG_STORE_DB_BACKEND_H
#define SG_STORE_DB_BACKEND_H

#include "store/store_db.h"

struct sdb_ops {
	enum sdb_engine engine;
	/* Whether url names this engine ("sqlite:", "postgresql://"). */
	bool (*accepts)(const char *url);
	/* A connected store (no schema work: store_schema.c migrates after), or NULL. opt: the
	 * settings beside the URL (never NULL; SQLite has no use for them). */
	struct store *(*open)(const char *url, const char *base_dir,
	                      const struct store_options *opt, const char **error_r);
	void (*close)(struct store *st);

	int (*prepare)(struct store *st, const char *sql, struct sdb_stmt **stmt_r,
	               const char **error_r);
	int (*bind_int64)(struct sdb_stmt *s, int idx, int64_t value);
	int (*bind_text)(struct sdb_stmt *s, int idx, const char *text);
	int (*bind_blob)(struct sdb_stmt *s, int idx, const void *data, size_t len);
	int (*bind_null)(struct sdb_stmt *s, int idx);
	int (*param_count)(struct sdb_stmt *s);
	int (*step)(struct sdb_stmt *s);
	int64_t (*col_int64)(struct sdb_stmt *s, int col);
	const char *(*col_text)(struct sdb_stmt *s, int col);
	const void *(*col_blob)(struct sdb_stmt *s, int col, size_t *len_r);
	bool (*col_is_null)(struct sdb_stmt *s, int col);
	int (*col_count)(struct sdb_stmt *s);
	int64_t (*changes)(struct sdb_stmt *s);
	int (*reset)(struct sdb_stmt *s);
	void (*finish)(struct sdb_stmt *s);

	int (*begin)(struct store *st, bool write, const char **error_r);
	int (*commit)(struct store *st, const char **error_r);
	void (*rollback)(struct store *st);
	int (*unsynced_begin)(struct store *st);
	void (*unsynced_end)(struct store *st, int level);
	int (*stamp)(struct store *st, struct store_stamp *stamp_r, const char **error_r);
	const char *(*file_path)(struct store *st);

	/* For migrations: runs a script of several statements without parameters. */
	int (*exec_script)(struct store *st, const char *sql, const char **error_r);
	/* The schema version as the engine records it natively (SQLite: PRAGMA user_version, which
	 * version_done keeps equal to the schema_version table; stores made before that table have
	 * only this), or -1 when the engine records none (then the table alone says). */
	int (*engine_version)(struct store *st);
	/* Called inside each migration's transaction before the version is read, so that two
	 * processes starting at once migrate once (PostgreSQL: pg_advisory_xact_lock). NULL: the
	 * engine's write transaction already serialises (SQLite's BEGIN IMMEDIATE). */
	int (*migration_lock)(struct store *st, const char **error_r);
	/* Called inside the transaction that reached version v; NULL: nothing (SQLite mirrors it
	 * into PRAGMA user_version, so that an older sealgate still reads the right version). */
	int (*version_done)(struct store *st, int v, const char **error_r);
};

/* The head of every backend's store struct (the backend's struct begins with it). */
struct store {
	const struct sdb_ops *ops;
	int64_t compiled; /* statements compiled: a backend's prepare adds 1 on a cache miss */
};

/* The head of every backend's statement struct; the cache (store_db_cache.h) uses sql, hash
 * and next while the statement is idle in it. */
struct sdb_stmt {
	const struct sdb_ops *ops;
	char *sql; /* own copy: the cache key */
	uint64_t hash;
	struct sdb_stmt *next; /* in the cache's bucket */
};

extern const struct sdb_ops sdb_sqlite_ops;
extern const struct sdb_ops sdb_pgsql_ops;

/* A backend's bind or step failed: keeps the engine's message for sdb_fail in this thread. */
void sdb_note_error(const char *message);

#endif

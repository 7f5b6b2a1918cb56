/* store_db.c: the engine-neutral half of store_db.h: picks the backend from store.database and
 * forwards each call to it (one indirect call per statement step: nothing beside the SQL). */
#include "store/store_db.h"
#include "store/store_db_backend.h"
#include "store/store_schema.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <stddef.h>

/* Every engine this build knows. */
static const struct sdb_ops *const backends[] = {
	&sdb_sqlite_ops,
	&sdb_pgsql_ops,
};

/* The engine's message of this thread's last failed bind or step, until sdb_fail logs it. */
static _Thread_local char last_error[256];

void sdb_note_error(const char *message)
{
	sg_strlcpy(last_error, message, sizeof(last_error));
}

struct store *store_open(const char *url, const char *base_dir, const char **error_r)
{
	return store_open_options(url, base_dir, NULL, error_r);
}

struct store *store_open_options(const char *url, const char *base_dir,
                                 const struct store_options *opt, const char **error_r)
{
	static const struct store_options defaults = {.password = NULL, .pool_size = 1};
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		if (!backends[i]->accepts(url))
			continue;
		struct store *st = backends[i]->open(url, base_dir, opt != NULL ? opt : &defaults,
		                                     error_r);
		if (st != NULL && store_schema_migrate(st, -1, error_r) < 0)
			store_close(&st);
		return st;
	}
	*error_r = "store.database: neither sqlite:PATH nor postgresql://...";
	return NULL;
}

void store_close(struct store **stp)
{
	if (*stp == NULL)
		return;
	(*stp)->ops->close(*stp);
	*stp = NULL;
}

enum sdb_engine sdb_engine(const struct store *st) { return st->ops->engine; }

int sdb_prepare(struct store *st, const char *sql, struct sdb_stmt **stmt_r,
                const char **error_r)
{
	*stmt_r = NULL;
	return st->ops->prepare(st, sql, stmt_r, error_r);
}

int64_t sdb_compiled(const struct store *st)
{
	return __atomic_load_n(&st->compiled, __ATOMIC_RELAXED);
}

int sdb_bind_int64(struct sdb_stmt *s, int idx, int64_t value)
{
	return s->ops->bind_int64(s, idx, value);
}

int sdb_bind_text(struct sdb_stmt *s, int idx, const char *text)
{
	return text != NULL ? s->ops->bind_text(s, idx, text) : s->ops->bind_null(s, idx);
}

int sdb_bind_blob(struct sdb_stmt *s, int idx, const void *data, size_t len)
{
	if (data == NULL)
		return s->ops->bind_null(s, idx);
	return s->ops->bind_blob(s, idx, len > 0 ? data : "", len);
}

int sdb_bind_null(struct sdb_stmt *s, int idx) { return s->ops->bind_null(s, idx); }

int sdb_param_count(struct sdb_stmt *s) { return s->ops->param_count(s); }

int sdb_step(struct sdb_stmt *s) { return s->ops->step(s); }

int64_t sdb_col_int64(struct sdb_stmt *s, int col) { return s->ops->col_int64(s, col); }

const char *sdb_col_text(struct sdb_stmt *s, int col)
{
	const char *t = s->ops->col_text(s, col);
	return t != NULL ? t : "";
}

const void *sdb_col_blob(struct sdb_stmt *s, int col, size_t *len_r)
{
	const void *p = s->ops->col_blob(s, col, len_r);
	if (p == NULL)
		*len_r = 0;
	return *len_r > 0 ? p : NULL;
}

void *sdb_col_blob_dup(struct sdb_stmt *s, int col, size_t *len_r)
{
	const void *p = sdb_col_blob(s, col, len_r);
	return p != NULL ? sg_memdup(p, *len_r) : NULL;
}

int sdb_col_count(struct sdb_stmt *s) { return s->ops->col_count(s); }

bool sdb_col_is_null(struct sdb_stmt *s, int col) { return s->ops->col_is_null(s, col); }

void sdb_col_copy(struct sdb_stmt *s, int col, char *dst, size_t size)
{
	sg_strlcpy(dst, sdb_col_text(s, col), size);
}

int64_t sdb_changes(struct sdb_stmt *s) { return s->ops->changes(s); }

int sdb_reset(struct sdb_stmt *s) { return s->ops->reset(s); }

void sdb_finish(struct sdb_stmt *s)
{
	if (s != NULL)
		s->ops->finish(s);
}

int sdb_fail(struct sdb_stmt *s, const char **error_r)
{
	sdb_finish(s);
	if (last_error[0] != '\0') /* else sdb_prepare, sdb_begin... have logged their own */
		sg_error("store: %s", last_error);
	last_error[0] = '\0';
	*error_r = "store: database error (see the log)";
	return -1;
}

/* Steps s, bound: the sdb_query_* contract. */
static int first_row(struct sdb_stmt *s, struct sdb_stmt **s_r, const char **error_r)
{
	int rc = sdb_step(s);
	if (rc == SDB_ROW) {
		*s_r = s;
		return SDB_ROW;
	}
	*s_r = NULL;
	if (rc != SDB_DONE)
		return sdb_fail(s, error_r);
	sdb_finish(s);
	return SDB_DONE;
}

int sdb_query_text(struct store *st, const char *sql, const char *arg, struct sdb_stmt **s_r,
                   const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st, sql, &s, error_r) < 0 || sdb_bind_text(s, 1, arg) < 0)
		return sdb_fail(s, error_r);
	return first_row(s, s_r, error_r);
}

int sdb_query_int(struct store *st, const char *sql, int64_t arg, struct sdb_stmt **s_r,
                  const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st, sql, &s, error_r) < 0 || sdb_bind_int64(s, 1, arg) < 0)
		return sdb_fail(s, error_r);
	return first_row(s, s_r, error_r);
}

int sdb_exec_text(struct store *st, const char *sql, const char *arg, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st, sql, &s, error_r) < 0 || sdb_bind_text(s, 1, arg) < 0 ||
	    sdb_step(s) != SDB_DONE)
		return sdb_fail(s, error_r);
	int64_t n = sdb_changes(s);
	sdb_finish(s);
	return n > 0x7fffffff ? 0x7fffffff : (int)n;
}

int sdb_begin(struct store *st, bool write, const char **error_r)
{
	return st->ops->begin(st, write, error_r);
}

int sdb_commit(struct store *st, const char **error_r) { return st->ops->commit(st, error_r); }

void sdb_rollback(struct store *st) { st->ops->rollback(st); }

int sdb_unsynced_begin(struct store *st) { return st->ops->unsynced_begin(st); }

void sdb_unsynced_end(struct store *st, int level) { st->ops->unsynced_end(st, level); }

int sdb_stamp(struct store *st, struct store_stamp *stamp_r, const char **error_r)
{
	return st->ops->stamp(st, stamp_r, error_r);
}

const char *sdb_file_path(struct store *st) { return st->ops->file_path(st); }

/* test_store_db.c: the store's statement layer (store_db.h) on SQLite: the statement cache,
 * per-statement change counts, RETURNING ids, NULL binding, and the schema version of stores
 * made before the schema_version table (PRAGMA user_version only). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store/store.h"
#include "store/store_db.h"
#include "store/store_sqlite.h" /* store_sqlite_create_at */

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fx {
	char dir[64];
	char path[128];
	struct store *st;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	const char *err = NULL;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/sg-storedb-XXXXXX");
	if (fx == NULL || mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/store.db", fx->dir);
	fx->st = store_open("sqlite:store.db", fx->dir, &err);
	*state = fx;
	return fx->st != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	store_close(&fx->st);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
	int rc = system(cmd);
	free(fx);
	return rc == 0 ? 0 : -1;
}

static const char count_users[] = "SELECT count(*) FROM users WHERE kind = ?1";

/* A finished statement is handed out again for the same text (compiled once); two uses at
 * the same time get two statements. */
static void statements_are_cached(void **state)
{
	struct fx *fx = *state;
	const char *err = NULL;
	struct sdb_stmt *a = NULL, *b = NULL, *c = NULL;
	int64_t compiled = sdb_compiled(fx->st);
	assert_int_equal(sdb_prepare(fx->st, count_users, &a, &err), 0);
	assert_int_equal(sdb_compiled(fx->st), compiled + 1);
	sdb_finish(a);
	char copy[sizeof(count_users)];
	memcpy(copy, count_users, sizeof(copy)); /* the same text elsewhere: the same statement */
	assert_int_equal(sdb_prepare(fx->st, copy, &b, &err), 0);
	assert_ptr_equal(a, b);
	assert_int_equal(sdb_compiled(fx->st), compiled + 1);
	assert_int_equal(sdb_prepare(fx->st, count_users, &c, &err), 0);
	assert_ptr_not_equal(b, c);
	assert_int_equal(sdb_compiled(fx->st), compiled + 2);
	/* both usable at once, each with its own binding */
	assert_int_equal(sdb_bind_text(b, 1, "internal"), 0);
	assert_int_equal(sdb_bind_text(c, 1, "external"), 0);
	assert_int_equal(sdb_step(b), SDB_ROW);
	assert_int_equal(sdb_step(c), SDB_ROW);
	sdb_finish(b);
	sdb_finish(c);
}

/* sdb_changes is the statement's own count, not the connection's last one (libpq's
 * PQcmdTuples works so; SQLite's sqlite3_changes would say 0 here). */
static void changes_are_per_statement(void **state)
{
	struct fx *fx = *state;
	const char *err = NULL;
	int64_t id;
	assert_int_equal(store_user_ensure(fx->st, "a@x.test", STORE_USER_EXTERNAL, &id, &err), 0);
	assert_int_equal(store_user_ensure(fx->st, "b@x.test", STORE_USER_EXTERNAL, &id, &err), 0);
	struct sdb_stmt *upd = NULL, *none = NULL;
	assert_int_equal(sdb_prepare(fx->st, "UPDATE users SET channel = ?1 WHERE kind = 'external'",
	                             &upd, &err), 0);
	assert_int_equal(sdb_bind_text(upd, 1, "smime"), 0);
	assert_int_equal(sdb_step(upd), SDB_DONE);
	assert_int_equal(sdb_prepare(fx->st, "DELETE FROM users WHERE address = ?1", &none, &err), 0);
	assert_int_equal(sdb_bind_text(none, 1, "nobody@x.test"), 0);
	assert_int_equal(sdb_step(none), SDB_DONE);
	assert_int_equal(sdb_changes(none), 0);
	assert_int_equal(sdb_changes(upd), 2);
	sdb_finish(none);
	sdb_finish(upd);
}

/* New ids come back from INSERT ... RETURNING; a NULL text binds SQL NULL. */
static void returning_and_null(void **state)
{
	struct fx *fx = *state;
	const char *err = NULL;
	struct sdb_stmt *s = NULL;
	assert_int_equal(sdb_prepare(fx->st, "INSERT INTO users (address, kind, created) VALUES"
	                             " (?1, 'external', 5) RETURNING id, ?2 IS NULL", &s, &err), 0);
	assert_int_equal(sdb_bind_text(s, 1, "r@x.test"), 0);
	assert_int_equal(sdb_bind_text(s, 2, NULL), 0);
	assert_int_equal(sdb_step(s), SDB_ROW);
	int64_t id = sdb_col_int64(s, 0);
	assert_int_equal(sdb_col_int64(s, 1), 1);
	sdb_finish(s);
	struct store_user u;
	assert_int_equal(store_user_find(fx->st, "r@x.test", &u, &err), 1);
	assert_int_equal(u.id, id);
}

static void exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* A store made before the schema_version table (PRAGMA user_version only, here at 6) opens
 * and migrates from where it was, recording each later version in the table. */
static void store_before_the_version_table(void **state)
{
	struct fx *fx = *state;
	const char *err = NULL;
	int latest = store_schema_version(fx->st);
	store_close(&fx->st);
	assert_int_equal(unlink(fx->path), 0);
	assert_int_equal(store_sqlite_create_at(fx->path, 6, &err), 0);
	exec(fx->path, "DROP TABLE schema_version");
	fx->st = store_open("sqlite:store.db", fx->dir, &err);
	assert_non_null(fx->st);
	assert_int_equal(store_schema_version(fx->st), latest);
	struct sdb_stmt *s = NULL;
	assert_int_equal(sdb_prepare(fx->st, "SELECT min(version), max(version), count(*)"
	                             " FROM schema_version", &s, &err), 0);
	assert_int_equal(sdb_step(s), SDB_ROW);
	assert_int_equal(sdb_col_int64(s, 0), 7);
	assert_int_equal(sdb_col_int64(s, 1), latest);
	assert_int_equal(sdb_col_int64(s, 2), latest - 6);
	sdb_finish(s);
	/* and at the latest version already: opens without migrating anything */
	store_close(&fx->st);
	exec(fx->path, "DROP TABLE schema_version");
	fx->st = store_open("sqlite:store.db", fx->dir, &err);
	assert_non_null(fx->st);
	assert_int_equal(store_schema_version(fx->st), latest);
}

/* A store from a newer sealgate is refused, not half-migrated. */
static void newer_store_refused(void **state)
{
	struct fx *fx = *state;
	const char *err = NULL;
	char sql[64];
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", store_schema_version(fx->st) + 1);
	store_close(&fx->st);
	exec(fx->path, sql);
	fx->st = store_open("sqlite:store.db", fx->dir, &err);
	assert_null(fx->st);
	assert_non_null(strstr(err, "newer"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(statements_are_cached, setup, teardown),
		cmocka_unit_test_setup_teardown(changes_are_per_statement, setup, teardown),
		cmocka_unit_test_setup_teardown(returning_and_null, setup, teardown),
		cmocka_unit_test_setup_teardown(store_before_the_version_table, setup, teardown),
		cmocka_unit_test_setup_teardown(newer_store_refused, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

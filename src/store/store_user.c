/* store_user.c: the users table: internal users, external partners, shared mailboxes. An
 * address is one user whatever its case. */
#include "store/store.h"
#include "store/store_db.h"
#include "core/sg_time.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <string.h>

static const char *const kind_names[] = {
	[STORE_USER_INTERNAL] = "internal",
	[STORE_USER_EXTERNAL] = "external",
	[STORE_USER_SHARED] = "shared",
};

const char *store_user_kind_name(enum store_user_kind kind)
{
	return (size_t)kind < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[kind] : "?";
}

int store_user_kind_parse(const char *name, enum store_user_kind *kind_r)
{
	for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++) {
		if (strcmp(kind_names[i], name) == 0) {
			*kind_r = (enum store_user_kind)i;
			return 0;
		}
	}
	return -1;
}

int store_user_find(struct store *st, const char *address, struct store_user *user_r,
                    const char **error_r)
{
	struct sdb_stmt *s = NULL;
	memset(user_r, 0, sizeof(*user_r));
	if (sdb_prepare(st,
	                "SELECT id, address, kind, channel, created FROM users "
	                "WHERE address = ?1",
	                &s, error_r) < 0 ||
	    sdb_bind_text(s, 1, address) < 0)
		return sdb_fail(s, error_r);
	int rc = sdb_step(s);
	if (rc == SDB_ROW) {
		const char *kind = sdb_col_text(s, 2);
		const char *chan = sdb_col_text(s, 3);
		user_r->id = sdb_col_int64(s, 0);
		sg_strlcpy(user_r->address, sdb_col_text(s, 1), sizeof(user_r->address));
		if (kind == NULL || store_user_kind_parse(kind, &user_r->kind) < 0)
			user_r->kind = STORE_USER_EXTERNAL;
		sg_strlcpy(user_r->channel, chan != NULL ? chan : "", sizeof(user_r->channel));
		user_r->created = (time_t)sdb_col_int64(s, 4);
	}
	sdb_finish(s);
	if (rc != SDB_ROW && rc != SDB_DONE)
		return sdb_fail(NULL, error_r);
	return rc == SDB_ROW ? 1 : 0;
}

int store_user_ensure(struct store *st, const char *address, enum store_user_kind kind,
                      int64_t *id_r, const char **error_r)
{
	if (strlen(address) >= SG_ADDR_MAX || strchr(address, '@') == NULL) {
		*error_r = "not an e-mail address";
		return -1;
	}
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st,
	                "INSERT INTO users (address, kind, created) "
	                "VALUES (?1, ?2, ?3) "
	                "ON CONFLICT (address) DO NOTHING",
	                &s, error_r) < 0 ||
	    sdb_bind_text(s, 1, address) < 0 ||
	    sdb_bind_text(s, 2, store_user_kind_name(kind)) < 0 ||
	    sdb_bind_int64(s, 3, (int64_t)sg_wall()) < 0 || sdb_step(s) != SDB_DONE)
		return sdb_fail(s, error_r);
	sdb_finish(s);
	struct store_user u;
	int rc = store_user_find(st, address, &u, error_r);
	if (rc <= 0) {
		*error_r = rc == 0 ? "store: user vanished while being created" : *error_r;
		return -1;
	}
	*id_r = u.id;
	return 0;
}

int store_user_set_channel(struct store *st, const char *address, const char *channel,
                           const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st, "UPDATE users SET channel = ?2 WHERE address = ?1", &s, error_r) < 0 ||
	    sdb_bind_text(s, 1, address) < 0 || sdb_bind_text(s, 2, channel) < 0 ||
	    sdb_step(s) != SDB_DONE)
		return sdb_fail(s, error_r);
	int64_t changed = sdb_changes(s);
	sdb_finish(s);
	return changed > 0 ? 1 : 0;
}

int store_user_list(struct store *st, struct store_user **users_r, size_t *count_r,
                    const char **error_r)
{
	struct sdb_stmt *s = NULL;
	*users_r = NULL;
	*count_r = 0;
	if (sdb_prepare(st,
	                "SELECT id, address, kind, channel, created FROM users "
	                "ORDER BY address",
	                &s, error_r) < 0)
		return sdb_fail(NULL, error_r);
	int rc;
	while ((rc = sdb_step(s)) == SDB_ROW) {
		*users_r = sg_reallocarray(*users_r, *count_r + 1, sizeof(**users_r));
		struct store_user *u = &(*users_r)[(*count_r)++];
		memset(u, 0, sizeof(*u));
		const char *kind = sdb_col_text(s, 2);
		const char *chan = sdb_col_text(s, 3);
		u->id = sdb_col_int64(s, 0);
		sg_strlcpy(u->address, sdb_col_text(s, 1), sizeof(u->address));
		if (kind == NULL || store_user_kind_parse(kind, &u->kind) < 0)
			u->kind = STORE_USER_EXTERNAL;
		sg_strlcpy(u->channel, chan != NULL ? chan : "", sizeof(u->channel));
		u->created = (time_t)sdb_col_int64(s, 4);
	}
	sdb_finish(s);
	if (rc != SDB_DONE) {
		sg_free(users_r);
		*count_r = 0;
		return sdb_fail(NULL, error_r);
	}
	return 0;
}

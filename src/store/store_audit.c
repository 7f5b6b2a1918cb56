/* store_audit.c: the audit log (table audit_log): one row per admin or mail event worth
 * answering "who did what, when" for: portal events, CLI changes (certificates, keys,
 * configuration, users, the queue), held mail released or expired, mail refused by policy. */
#include "store/store.h"
#include "store/store_db.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <string.h>

int store_audit_add(struct store *st, const struct store_audit_entry *e, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st,
	                "INSERT INTO audit_log (at, event, address, client, detail, actor)"
	                " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	                &s, error_r) < 0 ||
	    sdb_bind_int64(s, 1, (int64_t)e->at) < 0 || sdb_bind_text(s, 2, e->event) < 0 ||
	    sdb_bind_text(s, 3, e->address) < 0 || sdb_bind_text(s, 4, e->client) < 0 ||
	    sdb_bind_text(s, 5, e->detail) < 0 || sdb_bind_text(s, 6, e->actor) < 0 ||
	    sdb_step(s) != SDB_DONE)
		return sdb_fail(s, error_r);
	sdb_finish(s);
	return 0;
}

static int audit_add(struct store *st, time_t at, const char *event, const char *address,
                     const char *client, const char *actor, const char *detail,
                     const char **error_r)
{
	struct store_audit_entry e = {.at = at};
	sg_strlcpy(e.event, event, sizeof(e.event));
	sg_strlcpy(e.address, address, sizeof(e.address));
	sg_strlcpy(e.client, client, sizeof(e.client));
	sg_strlcpy(e.actor, actor, sizeof(e.actor));
	sg_strlcpy(e.detail, detail, sizeof(e.detail));
	return store_audit_add(st, &e, error_r);
}

int store_portal_audit_add(struct store *st, time_t at, const char *event, const char *address,
                           const char *client, const char *detail, const char **error_r)
{
	return audit_add(st, at, event, address, client, "", detail, error_r);
}

int store_role_audit_add(struct store *st, time_t at, const char *event, const char *address,
                         const char *role, const char *detail, const char **error_r)
{
	return audit_add(st, at, event, address, role, role, detail, error_r);
}

int store_portal_audit_count(struct store *st, const char *event, const char *address,
                             time_t since, size_t *n_r, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	*n_r = 0;
	if (sdb_prepare(st,
	                "SELECT count(*) FROM audit_log WHERE at >= ?1 AND event = ?2"
	                " AND lower(address) = lower(?3)",
	                &s, error_r) < 0 ||
	    sdb_bind_int64(s, 1, (int64_t)since) < 0 || sdb_bind_text(s, 2, event) < 0 ||
	    sdb_bind_text(s, 3, address) < 0 || sdb_step(s) != SDB_ROW)
		return sdb_fail(s, error_r);
	*n_r = (size_t)sdb_col_int64(s, 0);
	sdb_finish(s);
	return 0;
}


int store_audit_add_capped(struct store *st, const struct store_audit_entry *e, time_t since,
                           size_t max, const char **error_r)
{
	size_t n = 0;
	if (sdb_begin(st, true, error_r) < 0)
		return -1;
	if (store_portal_audit_count(st, e->event, e->address, since, &n, error_r) < 0 ||
	    (n < max && store_audit_add(st, e, error_r) < 0)) {
		sdb_rollback(st);
		return -1;
	}
	if (sdb_commit(st, error_r) < 0)
		return -1;
	return n < max ? 1 : 0;
}

static void read_entry(struct sdb_stmt *s, struct store_audit_entry *e)
{
	e->id = sdb_col_int64(s, 0);
	e->at = (time_t)sdb_col_int64(s, 1);
	sdb_col_copy(s, 2, e->event, sizeof(e->event));
	sdb_col_copy(s, 3, e->address, sizeof(e->address));
	sdb_col_copy(s, 4, e->client, sizeof(e->client));
	sdb_col_copy(s, 5, e->detail, sizeof(e->detail));
	sdb_col_copy(s, 6, e->actor, sizeof(e->actor));
}

int store_audit_list(struct store *st, const struct store_audit_query *q,
                     struct store_audit_entry **entries_r, size_t *count_r, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	*entries_r = NULL;
	*count_r = 0;
	if (sdb_prepare(st,
	                "SELECT id, at, event, address, client, detail, actor"
	                " FROM audit_log WHERE at >= ?1 AND (?2 = 0 OR at < ?2)"
	                " AND (?3 = '' OR event = ?3) ORDER BY id",
	                &s, error_r) < 0 ||
	    sdb_bind_int64(s, 1, (int64_t)q->since) < 0 ||
	    sdb_bind_int64(s, 2, (int64_t)q->until) < 0 ||
	    sdb_bind_text(s, 3, q->event != NULL ? q->event : "") < 0)
		return sdb_fail(s, error_r);
	int rc;
	while ((rc = sdb_step(s)) == SDB_ROW) {
		*entries_r = sg_reallocarray(*entries_r, *count_r + 1, sizeof(**entries_r));
		read_entry(s, &(*entries_r)[(*count_r)++]);
	}
	if (rc != SDB_DONE) {
		sg_free(entries_r);
		*count_r = 0;
		return sdb_fail(s, error_r);
	}
	sdb_finish(s);
	return 0;
}

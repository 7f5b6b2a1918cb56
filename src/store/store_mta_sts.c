/* store_mta_sts.c: the mta_sts_policy table (the MTA-STS policy cache). */
#include "store/store_mta_sts.h"
#include "store/store.h"
#include "store/store_db.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <string.h>

int store_mta_sts_put(struct store *st, const struct store_mta_sts *row, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st,
	                "INSERT INTO mta_sts_policy (domain, policy_id, policy, fetched, "
	                "expires) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (domain) DO "
	                "UPDATE SET policy_id = excluded.policy_id, policy = "
	                "excluded.policy, fetched = excluded.fetched, expires = "
	                "excluded.expires",
	                &s, error_r) < 0 ||
	    sdb_bind_text(s, 1, row->domain) < 0 || sdb_bind_text(s, 2, row->id) < 0 ||
	    sdb_bind_text(s, 3, row->policy) < 0 ||
	    sdb_bind_int64(s, 4, (int64_t)row->fetched) < 0 ||
	    sdb_bind_int64(s, 5, (int64_t)row->expires) < 0 || sdb_step(s) != SDB_DONE)
		return sdb_fail(s, error_r);
	sdb_finish(s);
	return 0;
}

int store_mta_sts_get(struct store *st, const char *domain, struct store_mta_sts *row_r,
                      const char **error_r)
{
	struct sdb_stmt *s = NULL;
	memset(row_r, 0, sizeof(*row_r));
	int rc = sdb_query_text(st, "SELECT domain, policy_id, policy, fetched, expires FROM "
	                        "mta_sts_policy WHERE domain = ?1",
	                        domain, &s, error_r);
	if (rc == SDB_ROW) {
		sdb_col_copy(s, 0, row_r->domain, sizeof(row_r->domain));
		sdb_col_copy(s, 1, row_r->id, sizeof(row_r->id));
		const char *t = sdb_col_text(s, 2);
		row_r->policy = sg_strdup(t != NULL ? t : "");
		row_r->fetched = (time_t)sdb_col_int64(s, 3);
		row_r->expires = (time_t)sdb_col_int64(s, 4);
		sdb_finish(s);
	}
	return rc;
}

int store_mta_sts_delete(struct store *st, const char *domain, const char **error_r)
{
	int n = sdb_exec_text(st, "DELETE FROM mta_sts_policy WHERE domain = ?1", domain, error_r);
	return n < 0 ? -1 : n > 0 ? 1 : 0;
}

void store_mta_sts_free(struct store_mta_sts *row) { sg_free(&row->policy); }

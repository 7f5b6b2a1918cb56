/* store_dkim.c: the dkim_keys table. */
#include "store/store_dkim.h"
#include "store/store.h"
#include "store/store_db.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <string.h>

#define DKIM_LIST_MAX 10000 /* keys listed at once: far beyond any real setup */

void store_dkim_key_clear(struct store_dkim_key *k)
{
	sg_free(&k->dns);
	sg_free(&k->sealed);
	memset(k, 0, sizeof(*k));
}

void store_dkim_list_free(struct store_dkim_key **keys, size_t n)
{
	for (size_t i = 0; *keys != NULL && i < n; i++)
		store_dkim_key_clear(&(*keys)[i]);
	sg_free(keys);
}

int store_dkim_add(struct store *st, const struct store_dkim_key *k, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st,
	                "INSERT INTO dkim_keys (domain, selector, alg, dns, sealed, "
	                "created) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
	                "ON CONFLICT (domain, selector) DO NOTHING",
	                &s, error_r) < 0 ||
	    sdb_bind_text(s, 1, k->domain) < 0 || sdb_bind_text(s, 2, k->selector) < 0 ||
	    sdb_bind_text(s, 3, k->alg) < 0 || sdb_bind_text(s, 4, k->dns) < 0 ||
	    sdb_bind_blob(s, 5, k->sealed, k->sealed_len) < 0 ||
	    sdb_bind_int64(s, 6, (int64_t)k->created) < 0 || sdb_step(s) != SDB_DONE)
		return sdb_fail(s, error_r);
	int64_t changed = sdb_changes(s);
	sdb_finish(s);
	return changed > 0 ? 1 : 0;
}

int store_dkim_delete(struct store *st, const char *domain, const char *selector,
                      const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st, "DELETE FROM dkim_keys WHERE domain = ?1 AND selector = ?2", &s,
	                error_r) < 0 ||
	    sdb_bind_text(s, 1, domain) < 0 || sdb_bind_text(s, 2, selector) < 0 ||
	    sdb_step(s) != SDB_DONE)
		return sdb_fail(s, error_r);
	int64_t changed = sdb_changes(s);
	sdb_finish(s);
	return changed > 0 ? 1 : 0;
}

static void read_row(struct sdb_stmt *s, bool with_secret, struct store_dkim_key *k)
{
	const char *t;
	sg_strlcpy(k->domain, (t = sdb_col_text(s, 0)) ? t : "", sizeof(k->domain));
	sg_strlcpy(k->selector, (t = sdb_col_text(s, 1)) ? t : "", sizeof(k->selector));
	sg_strlcpy(k->alg, (t = sdb_col_text(s, 2)) ? t : "", sizeof(k->alg));
	k->dns = sg_strdup((t = sdb_col_text(s, 3)) ? t : "");
	k->created = (time_t)sdb_col_int64(s, 5);
	if (with_secret)
		k->sealed = sdb_col_blob_dup(s, 4, &k->sealed_len);
}

int store_dkim_list(struct store *st, const char *domain, bool with_secret,
                    struct store_dkim_key **keys_r, size_t *n_r, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	*keys_r = NULL;
	*n_r = 0;
	if (sdb_prepare(st,
	                "SELECT domain, selector, alg, dns, sealed, created FROM "
	                "dkim_keys WHERE domain = ?1 OR ?1 IS NULL "
	                "ORDER BY domain, created, selector",
	                &s, error_r) < 0 ||
	    sdb_bind_text(s, 1, domain) < 0)
		return sdb_fail(s, error_r);
	int rc;
	size_t cap = 0;
	while ((rc = sdb_step(s)) == SDB_ROW && *n_r < DKIM_LIST_MAX) {
		if (*n_r == cap) {
			cap = cap ? cap * 2 : 4;
			*keys_r = sg_reallocarray(*keys_r, cap, sizeof(**keys_r));
		}
		memset(&(*keys_r)[*n_r], 0, sizeof(**keys_r));
		read_row(s, with_secret, &(*keys_r)[(*n_r)++]);
	}
	if (rc != SDB_DONE && rc != SDB_ROW) {
		store_dkim_list_free(keys_r, *n_r);
		*n_r = 0;
		return sdb_fail(s, error_r);
	}
	sdb_finish(s);
	return 0;
}

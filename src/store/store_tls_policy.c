/* store_tls_policy.c: the tls_policy table and the names of its modes. */
#include "store/store_tls_policy.h"
#include "store/store.h"
#include "store/store_db.h"
#include "core/sg_time.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <stdio.h>
#include <string.h>

#define TLS_POLICY_LIST_MAX 100000 /* rows listed at once */

static const char *const mode_names[TLS_POLICY_MODES] = {
	[TLS_POLICY_MAY] = "may",
	[TLS_POLICY_ENCRYPT] = "encrypt",
	[TLS_POLICY_DANE] = "dane",
	[TLS_POLICY_MTA_STS] = "mta-sts",
};

const char *tls_policy_mode_name(enum tls_policy_mode m)
{
	return (unsigned int)m < TLS_POLICY_MODES ? mode_names[m] : NULL;
}

int tls_policy_mode_parse(const char *name, enum tls_policy_mode *m_r)
{
	for (unsigned int i = 0; i < TLS_POLICY_MODES; i++)
		if (mode_names[i] != NULL && strcmp(name, mode_names[i]) == 0) {
			*m_r = (enum tls_policy_mode)i;
			return 0;
		}
	return -1;
}

const char *tls_policy_mode_choices(void)
{
	static char choices[128];
	if (choices[0] == '\0') {
		size_t o = 0;
		for (unsigned int i = 0; i < TLS_POLICY_MODES; i++)
			o += (size_t)snprintf(choices + o, sizeof(choices) - o, "%s%s", i ? "|" : "",
			                      mode_names[i]);
	}
	return choices;
}

int store_tls_policy_set(struct store *st, const char *domain, enum tls_policy_mode mode,
                         const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st,
	                "INSERT INTO tls_policy (domain, mode, updated) VALUES "
	                "(?1, ?2, ?3) ON CONFLICT (domain) DO UPDATE "
	                "SET mode = excluded.mode, updated = excluded.updated",
	                &s, error_r) < 0 ||
	    sdb_bind_text(s, 1, domain) < 0 ||
	    sdb_bind_text(s, 2, tls_policy_mode_name(mode)) < 0 ||
	    sdb_bind_int64(s, 3, (int64_t)sg_wall()) < 0 || sdb_step(s) != SDB_DONE)
		return sdb_fail(s, error_r);
	sdb_finish(s);
	return 0;
}

int store_tls_policy_delete(struct store *st, const char *domain, const char **error_r)
{
	int n = sdb_exec_text(st, "DELETE FROM tls_policy WHERE domain = ?1", domain, error_r);
	return n < 0 ? -1 : n > 0 ? 1 : 0;
}

static void read_row(struct sdb_stmt *s, struct store_tls_policy *p)
{
	const char *t = sdb_col_text(s, 0);
	sg_strlcpy(p->domain, t != NULL ? t : "", sizeof(p->domain));
	t = sdb_col_text(s, 1);
	if (t == NULL || tls_policy_mode_parse(t, &p->mode) < 0)
		p->mode = TLS_POLICY_ENCRYPT;
	p->updated = (time_t)sdb_col_int64(s, 2);
}

int store_tls_policy_get(struct store *st, const char *domain, enum tls_policy_mode *mode_r,
                         const char **error_r)
{
	struct sdb_stmt *s = NULL;
	int rc = sdb_query_text(st, "SELECT domain, mode, updated FROM tls_policy WHERE domain = ?1",
	                        domain, &s, error_r);
	if (rc == SDB_ROW) {
		struct store_tls_policy p;
		read_row(s, &p);
		*mode_r = p.mode;
		sdb_finish(s);
	}
	return rc;
}

int store_tls_policy_list(struct store *st, struct store_tls_policy **rows_r, size_t *n_r,
                          const char **error_r)
{
	struct sdb_stmt *s = NULL;
	*rows_r = NULL;
	*n_r = 0;
	if (sdb_prepare(st, "SELECT domain, mode, updated FROM tls_policy ORDER BY domain", &s,
	                error_r) < 0)
		return sdb_fail(s, error_r);
	int rc;
	size_t cap = 0;
	while ((rc = sdb_step(s)) == SDB_ROW && *n_r < TLS_POLICY_LIST_MAX) {
		if (*n_r == cap) {
			cap = cap ? cap * 2 : 8;
			*rows_r = sg_reallocarray(*rows_r, cap, sizeof(**rows_r));
		}
		read_row(s, &(*rows_r)[(*n_r)++]);
	}
	if (rc != SDB_DONE && rc != SDB_ROW) {
		sg_free(rows_r);
		*n_r = 0;
		return sdb_fail(s, error_r);
	}
	sdb_finish(s);
	return 0;
}

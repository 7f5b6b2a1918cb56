/* store_directory.c: what the certificate directory (ldapd) publishes, read in one query:
 * internal users' own certificates and external partners' proxy certificates, unrevoked and
 * valid now. ldapd polls store_directory_version() to see changes without a restart. */
#include "store/store.h"
#include "store/store_db.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <string.h>

#define DIRECTORY_MAX 1000000 /* rows one listing returns */

/* The published set, by kind of user and source of certificate. ?1 is now. A certificate
 * replaced by a later enrolment (a new workstation) still decrypts but is not published. */
#define PUBLISHED                                                                       \
	"FROM certificates c JOIN users u ON u.id = c.user_id WHERE c.revoked_at IS NULL AND " \
	"c.replaced_at IS NULL AND "                                                            \
	"((u.kind IN ('internal', 'shared') AND c.source IN ('issued', 'imported')) OR "        \
	" (u.kind = 'external' AND c.source = 'proxy'))"

static void row_to_cert(struct sdb_stmt *s, struct store_dir_cert *c)
{
	const char *addr = sdb_col_text(s, 0);
	sg_strlcpy(c->address, addr != NULL ? addr : "", sizeof(c->address));
	sg_ascii_lower(c->address);
	const char *kind = sdb_col_text(s, 1);
	if (kind == NULL || store_user_kind_parse(kind, &c->kind) < 0)
		c->kind = STORE_USER_INTERNAL;
	const char *src = sdb_col_text(s, 2);
	c->source = src != NULL && strcmp(src, "proxy") == 0 ? STORE_CERT_PROXY : STORE_CERT_ISSUED;
	c->der = sdb_col_blob_dup(s, 3, &c->der_len);
	c->not_before = (time_t)sdb_col_int64(s, 4);
	c->not_after = (time_t)sdb_col_int64(s, 5);
}

void store_directory_list_free(struct store_dir_cert **certs, size_t count)
{
	for (size_t i = 0; *certs != NULL && i < count; i++)
		sg_free(&(*certs)[i].der);
	sg_free(certs);
}

static int list_rows(struct store *st, time_t now, struct store_dir_cert **certs_r, size_t *count_r,
                     const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st,
	                "SELECT u.address, u.kind, c.source, c.der, c.not_before, "
	                "c.not_after " PUBLISHED " AND c.not_before <= ?1 AND "
	                "c.not_after >= ?1 ORDER BY lower(u.address), c.not_before DESC, "
	                "c.id DESC",
	                &s, error_r) < 0 ||
	    sdb_bind_int64(s, 1, now) < 0)
		return sdb_fail(s, error_r);
	struct store_dir_cert *certs = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sdb_step(s)) == SDB_ROW && n < DIRECTORY_MAX) {
		if (n == cap) {
			cap = cap == 0 ? 64 : sg_size_mul(cap, 2);
			certs = sg_reallocarray(certs, cap, sizeof(*certs));
		}
		memset(&certs[n], 0, sizeof(certs[n]));
		row_to_cert(s, &certs[n]);
		if (certs[n].der != NULL && certs[n].address[0] != '\0')
			n++;
	}
	sdb_finish(s);
	if (rc != SDB_ROW && rc != SDB_DONE) {
		store_directory_list_free(&certs, n);
		return sdb_fail(NULL, error_r);
	}
	if (rc == SDB_ROW)
		sg_warn("store: directory truncated at %d certificates", DIRECTORY_MAX);
	*certs_r = certs;
	*count_r = n;
	return 0;
}

/* The next moment a certificate of the published set starts or stops being valid. */
static int next_change(struct store *st, time_t now, time_t *when_r, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st,
	                "SELECT min(t) FROM (SELECT c.not_before AS t " PUBLISHED
	                " AND c.not_before > ?1 UNION ALL SELECT c.not_after + 1 AS t " PUBLISHED
	                " AND c.not_after >= ?1) AS changes", /* PostgreSQL wants the alias */
	                &s, error_r) < 0 ||
	    sdb_bind_int64(s, 1, now) < 0)
		return sdb_fail(s, error_r);
	int rc = sdb_step(s);
	*when_r = rc == SDB_ROW && !sdb_col_is_null(s, 0) ? (time_t)sdb_col_int64(s, 0) : 0;
	sdb_finish(s);
	return rc == SDB_ROW || rc == SDB_DONE ? 0 : sdb_fail(NULL, error_r);
}

int store_directory_list(struct store *st, time_t now, struct store_dir_cert **certs_r,
                         size_t *count_r, time_t *next_change_r, const char **error_r)
{
	*certs_r = NULL;
	*count_r = 0;
	/* One read transaction, so the list and its next change agree. */
	if (sdb_begin(st, false, error_r) < 0)
		return -1;
	int rc = list_rows(st, now, certs_r, count_r, error_r);
	if (rc == 0 && next_change(st, now, next_change_r, error_r) < 0) {
		store_directory_list_free(certs_r, *count_r);
		*count_r = 0;
		rc = -1;
	}
	const char *ignored;
	sdb_commit(st, &ignored); /* a read: nothing to lose if it fails */
	return rc;
}

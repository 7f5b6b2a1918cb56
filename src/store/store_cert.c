/* store_cert.c: certificates and the sealed private keys stored with them. The store never
 * sees a key in clear: keystore_seal() makes the blob, bound to the certificate fingerprint. */
#include "store/store.h"
#include "store/store_sqlite.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <string.h>

#define LIST_MAX 100000 /* rows one listing returns */

static const char *const source_names[] = {
	[STORE_CERT_ISSUED] = "issued",
	[STORE_CERT_IMPORTED] = "imported",
	[STORE_CERT_HARVESTED] = "harvested",
	[STORE_CERT_PROXY] = "proxy",
	[STORE_CERT_DISCOVERED] = "discovered",
};

const char *store_cert_source_name(enum store_cert_source source)
{
	return (size_t)source < sizeof(source_names) / sizeof(source_names[0]) ? source_names[source]
	                                                                      : "?";
}

static enum store_cert_source source_parse(const char *name)
{
	for (size_t i = 0; name != NULL && i < sizeof(source_names) / sizeof(source_names[0]); i++)
		if (strcmp(source_names[i], name) == 0)
			return (enum store_cert_source)i;
	return STORE_CERT_IMPORTED;
}

static int fail(sqlite3 *db, const char **error_r)
{
	sg_error("store: %s", sqlite3_errmsg(db));
	*error_r = "store: database error (see the log)";
	return -1;
}

void store_cert_clear(struct store_cert *cert)
{
	sg_free(&cert->der);
	sg_free(&cert->caps);
	memset(cert, 0, sizeof(*cert));
}

void store_cert_list_free(struct store_cert **certs, size_t count)
{
	for (size_t i = 0; *certs != NULL && i < count; i++)
		store_cert_clear(&(*certs)[i]);
	sg_free(certs);
}

static void *blob_dup(sqlite3_stmt *s, int col, size_t *len_r)
{
	const void *p = sqlite3_column_blob(s, col);
	int n = sqlite3_column_bytes(s, col);
	*len_r = p != NULL && n > 0 ? (size_t)n : 0;
	return *len_r > 0 ? sg_memdup(p, *len_r) : NULL;
}

static void text_copy(sqlite3_stmt *s, int col, char *dst, size_t size)
{
	const char *t = (const char *)sqlite3_column_text(s, col);
	sg_strlcpy(dst, t != NULL ? t : "", size);
}

static void row_to_cert(sqlite3_stmt *s, struct store_cert *c)
{
	c->id = sqlite3_column_int64(s, 0);
	c->user_id = sqlite3_column_int64(s, 1);
	text_copy(s, 2, c->address, sizeof(c->address));
	c->der = blob_dup(s, 3, &c->der_len);
	text_copy(s, 4, c->fingerprint, sizeof(c->fingerprint));
	text_copy(s, 5, c->serial, sizeof(c->serial));
	text_copy(s, 6, c->issuer, sizeof(c->issuer));
	c->not_before = (time_t)sqlite3_column_int64(s, 7);
	c->not_after = (time_t)sqlite3_column_int64(s, 8);
	c->source = source_parse((const char *)sqlite3_column_text(s, 9));
	c->revoked_at = (time_t)sqlite3_column_int64(s, 10);
	c->caps = blob_dup(s, 11, &c->caps_len);
	c->has_key = sqlite3_column_int(s, 12) != 0;
	c->revoke_reason = sqlite3_column_int(s, 13);
}

/* Runs the certificate SELECT with where (binding up to two text values), newest first. */
static int query(struct store *st, const char *where, const char *a, const char *b,
                 struct store_cert **certs_r, size_t *count_r, const char **error_r)
{
	char sql[1024];
	sg_assert(sg_snprintf(sql, sizeof(sql),
	    "SELECT c.id, c.user_id, u.address, c.der, c.fingerprint, c.serial, c.issuer, "
	    "c.not_before, c.not_after, c.source, coalesce(c.revoked_at, 0), c.smime_capabilities, "
	    "EXISTS (SELECT 1 FROM private_keys k WHERE k.cert_id = c.id), c.revoke_reason "
	    "FROM certificates c JOIN users u ON u.id = c.user_id WHERE %s "
	    "ORDER BY c.not_before DESC, c.id DESC", where) >= 0);
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK ||
	    (a != NULL && sqlite3_bind_text(s, 1, a, -1, SQLITE_STATIC) != SQLITE_OK) ||
	    (b != NULL && sqlite3_bind_text(s, 2, b, -1, SQLITE_STATIC) != SQLITE_OK)) {
		sqlite3_finalize(s);
		return fail(db, error_r);
	}
	struct store_cert *certs = NULL;
	size_t n = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < LIST_MAX) {
		certs = sg_reallocarray(certs, n + 1, sizeof(*certs));
		memset(&certs[n], 0, sizeof(certs[n]));
		row_to_cert(s, &certs[n++]);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_cert_list_free(&certs, n);
		return fail(db, error_r);
	}
	*certs_r = certs;
	*count_r = n;
	return 0;
}

int store_cert_list(struct store *st, const char *address, struct store_cert **certs_r,
                    size_t *count_r, const char **error_r)
{
	return query(st, address != NULL ? "u.address = ?1" : "1", address, NULL, certs_r,
	             count_r, error_r);
}

int store_cert_stamp(struct store *st, struct store_stamp *stamp_r, const char **error_r)
{
	/* Read before the counter: a write in between makes the next stamp differ, never equal. */
	if (store_sqlite_data_version(st, &stamp_r->others, error_r) < 0)
		return -1;
	stamp_r->conn = store_sqlite_conn_id(st);
	stamp_r->ours = sqlite3_total_changes64(store_sqlite_db(st));
	return 0;
}

int store_cert_list_revoked(struct store *st, const char *issuer, struct store_cert **certs_r,
                            size_t *count_r, const char **error_r)
{
	return query(st, "c.issuer = ?1 AND c.revoked_at IS NOT NULL", issuer, NULL, certs_r,
	             count_r, error_r);
}

int store_cert_find_rid(struct store *st, const char *issuer, const char *serial,
                        struct store_cert *cert_r, const char **error_r)
{
	struct store_cert *certs = NULL;
	size_t n = 0;
	memset(cert_r, 0, sizeof(*cert_r));
	if (query(st, "c.issuer = ?1 AND c.serial = ?2", issuer, serial, &certs, &n, error_r) < 0)
		return -1;
	if (n > 0) {
		*cert_r = certs[0];
		memset(&certs[0], 0, sizeof(certs[0]));
	}
	store_cert_list_free(&certs, n);
	return n > 0 ? 1 : 0;
}

static int insert_cert(sqlite3 *db, const struct store_cert *c, const char **error_r)
{
	sqlite3_stmt *s = NULL;
	int ok = sqlite3_prepare_v2(db,
	    "INSERT INTO certificates (user_id, der, fingerprint, serial, issuer, not_before, "
	    "not_after, source, revoked_at, smime_capabilities, created) VALUES (?1, ?2, ?3, ?4, "
	    "?5, ?6, ?7, ?8, NULLIF(?9, 0), ?10, strftime('%s','now')) ON CONFLICT (fingerprint) "
	    "DO UPDATE SET smime_capabilities = coalesce(excluded.smime_capabilities, "
	    "smime_capabilities)", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_bind_int64(s, 1, c->user_id) == SQLITE_OK &&
	    sqlite3_bind_blob(s, 2, c->der, (int)c->der_len, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_text(s, 3, c->fingerprint, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_text(s, 4, c->serial, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_text(s, 5, c->issuer, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_int64(s, 6, c->not_before) == SQLITE_OK &&
	    sqlite3_bind_int64(s, 7, c->not_after) == SQLITE_OK &&
	    sqlite3_bind_text(s, 8, store_cert_source_name(c->source), -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_int64(s, 9, c->revoked_at) == SQLITE_OK &&
	    (c->caps != NULL ? sqlite3_bind_blob(s, 10, c->caps, (int)c->caps_len, SQLITE_STATIC)
	                     : sqlite3_bind_null(s, 10)) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_DONE;
	sqlite3_finalize(s);
	return ok ? 0 : fail(db, error_r);
}

static int insert_key(sqlite3 *db, int64_t cert_id, const unsigned char *sealed, size_t len,
                      const char **error_r)
{
	sqlite3_stmt *s = NULL;
	int ok = sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO private_keys (cert_id, sealed, "
	                                "created) VALUES (?1, ?2, strftime('%s','now'))",
	                            -1, &s, NULL) == SQLITE_OK &&
	         sqlite3_bind_int64(s, 1, cert_id) == SQLITE_OK &&
	         sqlite3_bind_blob(s, 2, sealed, (int)len, SQLITE_STATIC) == SQLITE_OK &&
	         sqlite3_step(s) == SQLITE_DONE;
	sqlite3_finalize(s);
	return ok ? 0 : fail(db, error_r);
}

static int64_t id_by_fingerprint(sqlite3 *db, const char *fpr)
{
	sqlite3_stmt *s = NULL;
	int64_t id = -1;
	if (sqlite3_prepare_v2(db, "SELECT id FROM certificates WHERE fingerprint = ?1", -1, &s,
	                       NULL) == SQLITE_OK &&
	    sqlite3_bind_text(s, 1, fpr, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		id = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return id;
}

int store_cert_add(struct store *st, const struct store_cert *cert, const unsigned char *sealed,
                   size_t sealed_len, int64_t *id_r, const char **error_r)
{
	if (cert->der == NULL || cert->der_len == 0 || cert->der_len > SG_CERT_DER_MAX ||
	    strlen(cert->fingerprint) != 64 || cert->caps_len > SG_SMIME_CAPS_MAX ||
	    (sealed != NULL && (sealed_len == 0 || sealed_len > SG_SEALED_KEY_MAX))) {
		*error_r = "store: certificate record incomplete or too large";
		return -1;
	}
	sqlite3 *db = store_sqlite_db(st);
	if (store_sqlite_begin(st, true, error_r) < 0)
		return -1;
	int64_t id = -1;
	if (insert_cert(db, cert, error_r) < 0 || (id = id_by_fingerprint(db, cert->fingerprint)) < 0 ||
	    (sealed != NULL && insert_key(db, id, sealed, sealed_len, error_r) < 0)) {
		if (id < 0)
			*error_r = "store: cannot store the certificate";
		store_sqlite_rollback(st);
		return -1;
	}
	if (store_sqlite_commit(st, error_r) < 0)
		return -1;
	*id_r = id;
	return 0;
}

static int revoke(struct store *st, const char *sql, const char *arg, time_t when,
                  size_t *count_r, const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	int ok = sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK &&
	         sqlite3_bind_int64(s, 1, when) == SQLITE_OK &&
	         sqlite3_bind_text(s, 2, arg, -1, SQLITE_STATIC) == SQLITE_OK &&
	         sqlite3_step(s) == SQLITE_DONE;
	sqlite3_finalize(s);
	if (!ok)
		return fail(db, error_r);
	*count_r = (size_t)sqlite3_changes(db);
	return 0;
}

int store_cert_revoke_address(struct store *st, const char *address, time_t when,
                              size_t *count_r, const char **error_r)
{
	return revoke(st, "UPDATE certificates SET revoked_at = ?1 WHERE revoked_at IS NULL AND "
	                  "user_id = (SELECT id FROM users WHERE address = ?2)",
	              address, when, count_r, error_r);
}

int store_cert_revoke_address_reason(struct store *st, const char *address, time_t when,
                                     int reason, size_t *count_r, const char **error_r)
{
	char sql[256];
	sg_assert(reason >= 0 && reason <= 10 &&
	          sg_snprintf(sql, sizeof(sql), "UPDATE certificates SET revoked_at = ?1, "
	                      "revoke_reason = %d WHERE revoked_at IS NULL AND "
	                      "user_id = (SELECT id FROM users WHERE address = ?2)", reason) >= 0);
	return revoke(st, sql, address, when, count_r, error_r);
}

int store_cert_revoke_serial(struct store *st, const char *serial, time_t when, size_t *count_r,
                             const char **error_r)
{
	return revoke(st, "UPDATE certificates SET revoked_at = ?1 WHERE revoked_at IS NULL AND "
	                  "serial = upper(?2)",
	              serial, when, count_r, error_r);
}

int store_key_get(struct store *st, int64_t cert_id, unsigned char **sealed_r,
                  size_t *sealed_len_r, const char **error_r)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, "SELECT sealed FROM private_keys WHERE cert_id = ?1", -1, &s,
	                       NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 1, cert_id) != SQLITE_OK) {
		sqlite3_finalize(s);
		return fail(db, error_r);
	}
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*sealed_r = blob_dup(s, 0, sealed_len_r);
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return fail(db, error_r);
	return rc == SQLITE_ROW && *sealed_r != NULL ? 1 : 0;
}

/* store_cert.c: certificates and the sealed private keys stored with them. The store never
 * sees a key in clear: keystore_seal() makes the blob, bound to the certificate fingerprint. */
#include "store/store.h"
#include "store/store_db.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "core/sg_time.h"

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

static void row_to_cert(struct sdb_stmt *s, struct store_cert *c)
{
	c->id = sdb_col_int64(s, 0);
	c->user_id = sdb_col_int64(s, 1);
	sdb_col_copy(s, 2, c->address, sizeof(c->address));
	c->der = sdb_col_blob_dup(s, 3, &c->der_len);
	sdb_col_copy(s, 4, c->fingerprint, sizeof(c->fingerprint));
	sdb_col_copy(s, 5, c->serial, sizeof(c->serial));
	sdb_col_copy(s, 6, c->issuer, sizeof(c->issuer));
	c->not_before = (time_t)sdb_col_int64(s, 7);
	c->not_after = (time_t)sdb_col_int64(s, 8);
	c->source = source_parse(sdb_col_text(s, 9));
	c->revoked_at = (time_t)sdb_col_int64(s, 10);
	c->caps = sdb_col_blob_dup(s, 11, &c->caps_len);
	c->has_key = (int)sdb_col_int64(s, 12) != 0;
	c->revoke_reason = (int)sdb_col_int64(s, 13);
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
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st, sql, &s, error_r) < 0 || (a != NULL && sdb_bind_text(s, 1, a) < 0) ||
	    (b != NULL && sdb_bind_text(s, 2, b) < 0))
		return sdb_fail(s, error_r);
	struct store_cert *certs = NULL;
	size_t n = 0;
	int rc;
	while ((rc = sdb_step(s)) == SDB_ROW && n < LIST_MAX) {
		certs = sg_reallocarray(certs, n + 1, sizeof(*certs));
		memset(&certs[n], 0, sizeof(certs[n]));
		row_to_cert(s, &certs[n++]);
	}
	sdb_finish(s);
	if (rc != SDB_ROW && rc != SDB_DONE) {
		store_cert_list_free(&certs, n);
		return sdb_fail(NULL, error_r);
	}
	*certs_r = certs;
	*count_r = n;
	return 0;
}

int store_cert_list(struct store *st, const char *address, struct store_cert **certs_r,
                    size_t *count_r, const char **error_r)
{
	return query(st, address != NULL ? "u.address = ?1" : "1 = 1", address, NULL, certs_r,
	             count_r, error_r);
}

int store_cert_stamp(struct store *st, struct store_stamp *stamp_r, const char **error_r)
{
	return sdb_stamp(st, stamp_r, error_r);
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

/* Adds c (a certificate already stored keeps its row, with newer capabilities): its id, -1. */
static int64_t insert_cert(struct store *st, const struct store_cert *c, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st,
	                "INSERT INTO certificates (user_id, der, fingerprint, serial, issuer,"
	                " not_before, not_after, source, revoked_at, smime_capabilities, created)"
	                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULLIF(?9, 0), ?10, ?11)"
	                " ON CONFLICT (fingerprint) DO UPDATE SET smime_capabilities ="
	                " coalesce(excluded.smime_capabilities, certificates.smime_capabilities)"
	                " RETURNING id",
	                &s, error_r) < 0 ||
	    sdb_bind_int64(s, 1, c->user_id) < 0 || sdb_bind_blob(s, 2, c->der, c->der_len) < 0 ||
	    sdb_bind_text(s, 3, c->fingerprint) < 0 || sdb_bind_text(s, 4, c->serial) < 0 ||
	    sdb_bind_text(s, 5, c->issuer) < 0 || sdb_bind_int64(s, 6, c->not_before) < 0 ||
	    sdb_bind_int64(s, 7, c->not_after) < 0 ||
	    sdb_bind_text(s, 8, store_cert_source_name(c->source)) < 0 ||
	    sdb_bind_int64(s, 9, c->revoked_at) < 0 ||
	    (c->caps != NULL ? sdb_bind_blob(s, 10, c->caps, c->caps_len) : sdb_bind_null(s, 10)) <
	        0 ||
	    sdb_bind_int64(s, 11, (int64_t)sg_wall()) < 0 || sdb_step(s) != SDB_ROW)
		return sdb_fail(s, error_r);
	int64_t id = sdb_col_int64(s, 0);
	sdb_finish(s);
	return id;
}

static int insert_key(struct store *st, int64_t cert_id, const unsigned char *sealed, size_t len,
                      const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st,
	                "INSERT INTO private_keys (cert_id, sealed, created) VALUES (?1, ?2, ?3)"
	                " ON CONFLICT (cert_id) DO UPDATE SET sealed = excluded.sealed,"
	                " created = excluded.created",
	                &s, error_r) < 0 ||
	    sdb_bind_int64(s, 1, cert_id) < 0 || sdb_bind_blob(s, 2, sealed, len) < 0 ||
	    sdb_bind_int64(s, 3, (int64_t)sg_wall()) < 0 || sdb_step(s) != SDB_DONE)
		return sdb_fail(s, error_r);
	sdb_finish(s);
	return 0;
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
	if (sdb_begin(st, true, error_r) < 0)
		return -1;
	int64_t id = -1;
	if ((id = insert_cert(st, cert, error_r)) < 0 ||
	    (sealed != NULL && insert_key(st, id, sealed, sealed_len, error_r) < 0)) {
		sdb_rollback(st);
		return -1;
	}
	if (sdb_commit(st, error_r) < 0)
		return -1;
	*id_r = id;
	return 0;
}

static int revoke(struct store *st, const char *sql, const char *arg, time_t when,
                  size_t *count_r, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st, sql, &s, error_r) < 0 || sdb_bind_int64(s, 1, when) < 0 ||
	    sdb_bind_text(s, 2, arg) < 0 || sdb_step(s) != SDB_DONE)
		return sdb_fail(s, error_r);
	*count_r = (size_t)sdb_changes(s);
	sdb_finish(s);
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
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st, "SELECT sealed FROM private_keys WHERE cert_id = ?1", &s, error_r) <
	        0 ||
	    sdb_bind_int64(s, 1, cert_id) < 0)
		return sdb_fail(s, error_r);
	int rc = sdb_step(s);
	if (rc == SDB_ROW)
		*sealed_r = sdb_col_blob_dup(s, 0, sealed_len_r);
	sdb_finish(s);
	if (rc != SDB_ROW && rc != SDB_DONE)
		return sdb_fail(NULL, error_r);
	return rc == SDB_ROW && *sealed_r != NULL ? 1 : 0;
}

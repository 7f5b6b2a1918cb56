/* store_pgp.c: OpenPGP keys per address. Public keys are stored as checked by pgp_key_inspect;
 * a gateway-held secret key only as a blob sealed by pgp_secret_seal. Autocrypt may teach a
 * key for an address that has none, but never replaces one silently: a changed key waits as
 * pending until an admin accepts it. Each row keeps where its key came from: only a key
 * trusted by something other than a message (store_pgp_key_trusted) ranks first and can make
 * a signature valid. */
#include "store/store.h"
#include "store/store_db.h"
#include "core/sg_time.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <string.h>

#define LIST_MAX 100000

static const char *const source_names[] = {
	[STORE_PGP_IMPORTED] = "imported",
	[STORE_PGP_GENERATED] = "generated",
	[STORE_PGP_AUTOCRYPT] = "autocrypt",
	[STORE_PGP_PORTAL] = "portal",
	[STORE_PGP_DISCOVERED] = "discovered",
};
static const char *const status_names[] = {
	[STORE_PGP_ACTIVE] = "active",
	[STORE_PGP_PENDING] = "pending",
};

const char *store_pgp_source_name(enum store_pgp_source source)
{
	return (size_t)source < sizeof(source_names) / sizeof(source_names[0]) ? source_names[source]
	                                                                      : "?";
}

const char *store_pgp_status_name(enum store_pgp_status status)
{
	return (size_t)status < sizeof(status_names) / sizeof(status_names[0]) ? status_names[status]
	                                                                      : "?";
}

/* The index of name in names, or fallback for a name this version does not know. */
static int name_index(const char *const *names, size_t n, const char *name, int fallback)
{
	for (size_t i = 0; name != NULL && i < n; i++)
		if (strcmp(names[i], name) == 0)
			return (int)i;
	return fallback;
}

bool store_pgp_key_trusted(const struct store_pgp_key *key)
{
	if (key->source == STORE_PGP_DISCOVERED)
		return false;
	return key->source != STORE_PGP_AUTOCRYPT || key->confirmed != 0;
}

bool store_pgp_key_held(const struct store_pgp_key *key, time_t now)
{
	return key->status == STORE_PGP_ACTIVE && key->has_secret &&
	       (key->expires == 0 || key->expires > now);
}

void store_pgp_key_clear(struct store_pgp_key *key)
{
	sg_free(&key->keydata);
	memset(key, 0, sizeof(*key));
}

void store_pgp_list_free(struct store_pgp_key **keys, size_t count)
{
	for (size_t i = 0; *keys != NULL && i < count; i++)
		store_pgp_key_clear(&(*keys)[i]);
	sg_free(keys);
}

static void row_to_key(struct sdb_stmt *s, struct store_pgp_key *k)
{
	k->id = sdb_col_int64(s, 0);
	k->user_id = sdb_col_int64(s, 1);
	sdb_col_copy(s, 2, k->address, sizeof(k->address));
	sdb_col_copy(s, 3, k->fingerprint, sizeof(k->fingerprint));
	k->keydata = sdb_col_blob_dup(s, 4, &k->keydata_len);
	/* unknown values fail closed: untrusted, not used */
	k->source = (enum store_pgp_source)name_index(source_names, 4, sdb_col_text(s, 5),
	                                              STORE_PGP_AUTOCRYPT);
	k->status = (enum store_pgp_status)name_index(status_names, 2, sdb_col_text(s, 6),
	                                              STORE_PGP_PENDING);
	k->expires = (time_t)sdb_col_int64(s, 7);
	k->created = (time_t)sdb_col_int64(s, 8);
	k->has_secret = (int)sdb_col_int64(s, 9) != 0;
	k->confirmed = (time_t)sdb_col_int64(s, 10);
}

/* Runs the key SELECT with where (binding one text value, if a != NULL). */
static int query(struct store *st, const char *where, const char *a, struct store_pgp_key **keys_r,
                 size_t *count_r, const char **error_r)
{
	char sql[1024];
	sg_assert(sg_snprintf(sql, sizeof(sql),
	    "SELECT k.id, k.user_id, u.address, k.fingerprint, k.keydata, k.source, k.status, "
	    "k.expires, k.created, k.sealed IS NOT NULL, k.confirmed "
	    "FROM pgp_keys k JOIN users u ON u.id = k.user_id WHERE %s "
	    "ORDER BY u.address, k.status = 'pending', "
	    "k.source = 'autocrypt' AND k.confirmed = 0, k.created DESC, k.id DESC", where) >= 0);
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st, sql, &s, error_r) < 0 || (a != NULL && sdb_bind_text(s, 1, a) < 0))
		return sdb_fail(s, error_r);
	struct store_pgp_key *keys = NULL;
	size_t n = 0;
	int rc;
	while ((rc = sdb_step(s)) == SDB_ROW && n < LIST_MAX) {
		keys = sg_reallocarray(keys, n + 1, sizeof(*keys));
		memset(&keys[n], 0, sizeof(keys[n]));
		row_to_key(s, &keys[n++]);
	}
	sdb_finish(s);
	if (rc != SDB_ROW && rc != SDB_DONE) {
		store_pgp_list_free(&keys, n);
		return sdb_fail(NULL, error_r);
	}
	*keys_r = keys;
	*count_r = n;
	return 0;
}

int store_pgp_list(struct store *st, const char *address, struct store_pgp_key **keys_r,
                   size_t *count_r, const char **error_r)
{
	return query(st, address != NULL ? "u.address = ?1" : "1 = 1", address, keys_r, count_r,
	             error_r);
}

int store_pgp_find_active(struct store *st, const char *address, struct store_pgp_key *key_r,
                          const char **error_r)
{
	struct store_pgp_key *keys = NULL;
	size_t n = 0;
	memset(key_r, 0, sizeof(*key_r));
	if (query(st, "u.address = ?1 AND k.status = 'active'", address, &keys, &n, error_r) < 0)
		return -1;
	if (n > 0) {
		*key_r = keys[0];
		memset(&keys[0], 0, sizeof(keys[0]));
	}
	store_pgp_list_free(&keys, n);
	return n > 0 ? 1 : 0;
}

int store_pgp_list_keyid(struct store *st, const char *keyid, struct store_pgp_key **keys_r,
                         size_t *count_r, const char **error_r)
{
	size_t n = strlen(keyid);
	*keys_r = NULL;
	*count_r = 0;
	if (n != 16 || strspn(keyid, "0123456789abcdefABCDEF") != n)
		return 0; /* not a v4 key id: LIKE must never see a wildcard */
	return query(st, "k.fingerprint LIKE '%' || upper(?1) AND k.status = 'active'", keyid,
	             keys_r, count_r, error_r);
}

int store_pgp_add(struct store *st, const struct store_pgp_key *key, const unsigned char *sealed,
                  size_t sealed_len, int64_t *id_r, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (key->keydata_len == 0 || key->keydata_len > SG_PGP_KEY_MAX ||
	    sealed_len > SG_SEALED_KEY_MAX) {
		*error_r = "store: OpenPGP key empty or too large";
		return -1;
	}
	if (sdb_prepare(
	        st,
	        "INSERT INTO pgp_keys (user_id, fingerprint, keydata, sealed, source, status, "
	        "expires, created) VALUES (?1, upper(?2), ?3, ?4, ?5, ?6, ?7, ?8) "
	        "ON CONFLICT (user_id, fingerprint) DO UPDATE SET keydata = excluded.keydata, "
	        "sealed = coalesce(excluded.sealed, pgp_keys.sealed), source = excluded.source, "
	        "status = excluded.status, expires = excluded.expires RETURNING id",
	        &s, error_r) < 0 ||
	    sdb_bind_int64(s, 1, key->user_id) < 0 || sdb_bind_text(s, 2, key->fingerprint) < 0 ||
	    sdb_bind_blob(s, 3, key->keydata, key->keydata_len) < 0 ||
	    (sealed != NULL ? sdb_bind_blob(s, 4, sealed, sealed_len) : sdb_bind_null(s, 4)) < 0 ||
	    sdb_bind_text(s, 5, store_pgp_source_name(key->source)) < 0 ||
	    sdb_bind_text(s, 6, store_pgp_status_name(key->status)) < 0 ||
	    sdb_bind_int64(s, 7, (int64_t)key->expires) < 0 ||
	    sdb_bind_int64(s, 8, (int64_t)sg_wall()) < 0 || sdb_step(s) != SDB_ROW)
		return sdb_fail(s, error_r);
	*id_r = sdb_col_int64(s, 0);
	sdb_finish(s);
	return 0;
}

/* Runs one statement binding ?1 to a text (or int64 when text is NULL) and ?2, if the SQL names
 * it, to the current time; *changes_r: rows touched. */
static int exec1(struct store *st, const char *sql, const char *text, int64_t num,
                 size_t *changes_r, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st, sql, &s, error_r) < 0 ||
	    (sdb_param_count(s) > 0 &&
	     (text != NULL ? sdb_bind_text(s, 1, text) : sdb_bind_int64(s, 1, num)) < 0) ||
	    (sdb_param_count(s) > 1 && sdb_bind_int64(s, 2, (int64_t)sg_wall()) < 0) ||
	    sdb_step(s) != SDB_DONE)
		return sdb_fail(s, error_r);
	if (changes_r != NULL)
		*changes_r = (size_t)sdb_changes(s);
	sdb_finish(s);
	return 0;
}

int store_pgp_delete_address(struct store *st, const char *address, size_t *count_r,
                             const char **error_r)
{
	return exec1(st, "DELETE FROM pgp_keys WHERE user_id IN "
	                 "(SELECT id FROM users WHERE address = ?1)",
	             address, 0, count_r, error_r);
}

int store_pgp_delete_fpr(struct store *st, const char *fpr, size_t *count_r,
                         const char **error_r)
{
	return exec1(st, "DELETE FROM pgp_keys WHERE fingerprint = upper(?1)", fpr, 0, count_r,
	             error_r);
}

int store_pgp_accept(struct store *st, const char *address, size_t *count_r,
                     const char **error_r)
{
	struct store_user u;
	int found = store_user_find(st, address, &u, error_r);
	*count_r = 0;
	if (found <= 0)
		return found;
	if (sdb_begin(st, true, error_r) < 0)
		return -1;
	size_t pending = 0;
	if (exec1(st,
	          "DELETE FROM pgp_keys WHERE user_id = ?1 AND status = 'active' AND "
	          "sealed IS NULL AND EXISTS (SELECT 1 FROM pgp_keys p WHERE p.user_id = ?1 "
	          "AND p.status = 'pending')",
	          NULL, u.id, NULL, error_r) < 0 ||
	    exec1(st,
	          "UPDATE pgp_keys SET status = 'active', confirmed = "
	          "CASE source WHEN 'autocrypt' THEN ?2 ELSE confirmed END "
	          "WHERE user_id = ?1 AND status = 'pending'",
	          NULL, u.id, &pending, error_r) < 0) {
		sdb_rollback(st);
		return -1;
	}
	*count_r = pending;
	return sdb_commit(st, error_r);
}

int store_pgp_secret_get(struct store *st, const char *fpr, unsigned char **sealed_r,
                         size_t *sealed_len_r, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	*sealed_r = NULL;
	*sealed_len_r = 0;
	if (sdb_prepare(st,
	                "SELECT sealed FROM pgp_keys WHERE fingerprint = upper(?1) "
	                "AND sealed IS NOT NULL LIMIT 1",
	                &s, error_r) < 0 ||
	    sdb_bind_text(s, 1, fpr) < 0)
		return sdb_fail(s, error_r);
	int rc = sdb_step(s);
	if (rc == SDB_ROW) {
		size_t n = 0;
		const void *p = sdb_col_blob(s, 0, &n);
		if (p != NULL && n <= SG_SEALED_KEY_MAX) {
			*sealed_r = sg_memdup(p, n);
			*sealed_len_r = n;
		}
	}
	sdb_finish(s);
	if (rc != SDB_ROW && rc != SDB_DONE)
		return sdb_fail(NULL, error_r);
	return *sealed_r != NULL ? 1 : 0;
}

/* 1 if user_id has a row with fpr, 0 if not; *others_r: rows with another fingerprint. */
static int user_has(struct store *st, int64_t user_id, const char *fpr, size_t *others_r,
                    const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(
	        st,
	        "SELECT coalesce(sum(CASE WHEN fingerprint = upper(?2) THEN 1 ELSE 0 END), 0),"
	        " coalesce(sum(CASE WHEN fingerprint = upper(?2) THEN 0 ELSE 1 END), 0)"
	        " FROM pgp_keys "
	        "WHERE user_id = ?1",
	        &s, error_r) < 0 ||
	    sdb_bind_int64(s, 1, user_id) < 0 || sdb_bind_text(s, 2, fpr) < 0 ||
	    sdb_step(s) != SDB_ROW)
		return sdb_fail(s, error_r);
	int same = (int)sdb_col_int64(s, 0) > 0;
	*others_r = (size_t)sdb_col_int64(s, 1);
	sdb_finish(s);
	return same;
}

int store_pgp_learn_autocrypt(struct store *st, int64_t user_id, const char *fpr,
                              const unsigned char *keydata, size_t keydata_len, time_t expires,
                              enum store_pgp_learn *result_r, const char **error_r)
{
	size_t others = 0;
	if (sdb_begin(st, true, error_r) < 0)
		return -1;
	int same = user_has(st, user_id, fpr, &others, error_r);
	int rc = same < 0 ? -1 : 0;
	if (same == 0) {
		struct store_pgp_key k = {.user_id = user_id, .source = STORE_PGP_AUTOCRYPT,
		                          .status = others > 0 ? STORE_PGP_PENDING : STORE_PGP_ACTIVE,
		                          .keydata = (unsigned char *)keydata,
		                          .keydata_len = keydata_len, .expires = expires};
		int64_t id;
		sg_strlcpy(k.fingerprint, fpr, sizeof(k.fingerprint));
		/* one pending key at a time: the newest change is the one an admin judges */
		rc = others > 0 ? exec1(st, "DELETE FROM pgp_keys WHERE user_id = ?1 AND "
		                            "status = 'pending'", NULL, user_id, NULL, error_r)
		                : 0;
		if (rc == 0)
			rc = store_pgp_add(st, &k, NULL, 0, &id, error_r);
	}
	if (rc < 0) {
		sdb_rollback(st);
		return -1;
	}
	*result_r = same == 1 ? STORE_PGP_UNCHANGED
	            : others > 0 ? STORE_PGP_PENDING_CHANGE
	                         : STORE_PGP_LEARNED;
	return sdb_commit(st, error_r);
}

int store_pgp_default_channel(struct store *st, int64_t user_id, const char *channel,
                              const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st, "UPDATE users SET channel = ?2 WHERE id = ?1 AND channel = ''", &s,
	                error_r) < 0 ||
	    sdb_bind_int64(s, 1, user_id) < 0 || sdb_bind_text(s, 2, channel) < 0 ||
	    sdb_step(s) != SDB_DONE)
		return sdb_fail(s, error_r);
	sdb_finish(s);
	return 0;
}

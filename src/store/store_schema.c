/* store_schema.c: the schema of the store, for every engine: an ordered list of SQL scripts,
 * each applied in its own transaction together with its row in schema_version, by whichever
 * process opens the store first (the others wait on the write lock, then find nothing to do). */
#include "store/store.h"
#include "store/store_db.h"
#include "store/store_db_backend.h"
#include "store/store_schema.h"
#include "store/store_sqlite.h"
#include "core/limits.h"
#include "core/sg_str.h"
#include "core/sg_time.h"

#include <stdio.h>

/* The cluster entry's tables (store_cluster.c), the same on both engines; its triggers differ. */
#define CLUSTER_TABLES                                                                         \
	"CREATE TABLE store_counters ("                                                        \
	"  name TEXT PRIMARY KEY,"                                                             \
	"  value INTEGER NOT NULL);"                                                           \
	"INSERT INTO store_counters (name, value) VALUES ('directory', 1), ('revocations', 1);" \
	"CREATE TABLE store_leases ("                                                          \
	"  name TEXT PRIMARY KEY,"                                                             \
	"  holder TEXT NOT NULL,"                                                              \
	"  expires INTEGER NOT NULL);"                                                         \
	"CREATE TABLE store_ca_files ("                                                        \
	"  name TEXT PRIMARY KEY,"                                                             \
	"  data BLOB NOT NULL,"                                                                \
	"  updated INTEGER NOT NULL);"

/* Each entry moves the schema from version i to i+1. Later issues append, never edit. */
static const char *const migrations[] = {
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"INSERT INTO meta (key, value) VALUES ('created', strftime('%s','now'));",

	/* 2: S/MIME users, certificates, sealed private keys. A certificate row is identified by
	 * its fingerprint, which is also the associated data of its sealed key. */
	"CREATE TABLE users ("
	"  id INTEGER PRIMARY KEY,"
	"  address TEXT NOT NULL UNIQUE COLLATE NOCASE,"
	"  kind TEXT NOT NULL CHECK (kind IN ('internal', 'external', 'shared')),"
	"  channel TEXT NOT NULL DEFAULT '',"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE certificates ("
	"  id INTEGER PRIMARY KEY,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  der BLOB NOT NULL,"
	"  fingerprint TEXT NOT NULL UNIQUE,"
	"  serial TEXT NOT NULL,"
	"  issuer TEXT NOT NULL,"
	"  not_before INTEGER NOT NULL,"
	"  not_after INTEGER NOT NULL,"
	"  source TEXT NOT NULL CHECK (source IN ('issued', 'imported', 'harvested', 'proxy')),"
	"  revoked_at INTEGER,"
	"  smime_capabilities BLOB,"
	"  created INTEGER NOT NULL);"
	"CREATE INDEX certificates_user ON certificates (user_id);"
	"CREATE INDEX certificates_rid ON certificates (issuer, serial);"
	"CREATE TABLE private_keys ("
	"  cert_id INTEGER PRIMARY KEY REFERENCES certificates(id) ON DELETE CASCADE,"
	"  sealed BLOB NOT NULL,"
	"  created INTEGER NOT NULL);",

	/* OpenPGP keys per address (store_pgp.c): one row per user and key; a key whose user IDs
	 * name several addresses has several rows. sealed: a gateway-held secret key, bound to
	 * "pgp:<fingerprint>". A pending key (a changed Autocrypt key) waits for `pgp accept`. */
	"CREATE TABLE pgp_keys ("
	"  id INTEGER PRIMARY KEY,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  fingerprint TEXT NOT NULL,"
	"  keydata BLOB NOT NULL,"
	"  sealed BLOB,"
	"  source TEXT NOT NULL CHECK (source IN ('imported', 'generated', 'autocrypt')),"
	"  status TEXT NOT NULL CHECK (status IN ('active', 'pending')),"
	"  expires INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL,"
	"  UNIQUE (user_id, fingerprint));"
	"CREATE INDEX pgp_keys_fpr ON pgp_keys (fingerprint);",

	/* 4: SecurePDF partner records ({U, K} sealed, never the password) and Reply tokens
	 * (only a hash of the token, bound to the message and the recipient; no content). */
	"CREATE TABLE pdf_keys ("
	"  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
	"  sealed BLOB NOT NULL,"
	"  updated INTEGER NOT NULL);"
	"CREATE TABLE reply_tokens ("
	"  token_hash TEXT PRIMARY KEY,"
	"  message_id TEXT NOT NULL,"
	"  sender TEXT NOT NULL,"
	"  recipient TEXT NOT NULL,"
	"  created INTEGER NOT NULL);",

	/* 5: the web portal (store_portal.c): login hashes (Argon2id strings) and one-time
	 * passwords (hashed) per user, failure counters per account and per client, sessions
	 * (the cookie is kept only as a hash) and the audit log. */
	"CREATE TABLE portal_accounts ("
	"  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
	"  password_hash TEXT NOT NULL DEFAULT '',"
	"  otp_hash TEXT NOT NULL DEFAULT '',"
	"  otp_expires INTEGER NOT NULL DEFAULT 0,"
	"  otp_attempts INTEGER NOT NULL DEFAULT 0,"
	"  registered INTEGER NOT NULL DEFAULT 0,"
	"  invited INTEGER NOT NULL);"
	"CREATE TABLE portal_throttle ("
	"  key TEXT PRIMARY KEY,"
	"  failures INTEGER NOT NULL,"
	"  locked_until INTEGER NOT NULL);"
	"CREATE TABLE portal_sessions ("
	"  id_hash TEXT PRIMARY KEY,"
	"  user_id INTEGER NOT NULL DEFAULT 0,"
	"  address TEXT NOT NULL DEFAULT '',"
	"  stage INTEGER NOT NULL,"
	"  csrf TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  last_seen INTEGER NOT NULL);"
	"CREATE TABLE audit_log ("
	"  id INTEGER PRIMARY KEY,"
	"  at INTEGER NOT NULL,"
	"  event TEXT NOT NULL,"
	"  address TEXT NOT NULL,"
	"  client TEXT NOT NULL,"
	"  detail TEXT NOT NULL);"
	"CREATE INDEX audit_log_at ON audit_log (at);",

	/* 6: mail held until its recipient registers (sealed, bound to "held:<id>"; deleted when
	 * released or when the invitation expires), the security questions of self-registered
	 * partners (answers as Argon2id strings) and who asked for an invitation. */
	"CREATE TABLE held_mail ("
	"  id INTEGER PRIMARY KEY,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  sender TEXT NOT NULL,"
	"  subject TEXT NOT NULL DEFAULT '',"
	"  sealed BLOB NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL);"
	"CREATE INDEX held_mail_user ON held_mail (user_id);"
	"CREATE INDEX held_mail_expires ON held_mail (expires);"
	"CREATE TABLE portal_questions ("
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  idx INTEGER NOT NULL CHECK (idx BETWEEN 0 AND 2),"
	"  question TEXT NOT NULL,"
	"  answer_hash TEXT NOT NULL,"
	"  PRIMARY KEY (user_id, idx));"
	"ALTER TABLE portal_accounts ADD COLUMN inviter TEXT NOT NULL DEFAULT '';",

	/* 7: OpenPGP key provenance (issue 21). source 'portal': the partner's own upload after
	 * login; confirmed: when an Autocrypt-learned key was vouched for (an admin's `pgp accept`),
	 * 0 never. SQLite cannot change a CHECK in place, so the table is copied; keys stored before
	 * keep their source ('imported' covers earlier portal uploads, which were trusted too). */
	"CREATE TABLE pgp_keys_v7 ("
	"  id INTEGER PRIMARY KEY,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  fingerprint TEXT NOT NULL,"
	"  keydata BLOB NOT NULL,"
	"  sealed BLOB,"
	"  source TEXT NOT NULL CHECK (source IN ('imported', 'portal', 'generated', 'autocrypt')),"
	"  status TEXT NOT NULL CHECK (status IN ('active', 'pending')),"
	"  expires INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL,"
	"  confirmed INTEGER NOT NULL DEFAULT 0,"
	"  UNIQUE (user_id, fingerprint));"
	"INSERT INTO pgp_keys_v7 (id, user_id, fingerprint, keydata, sealed, source, status, expires,"
	"  created) SELECT id, user_id, fingerprint, keydata, sealed, source, status, expires, created"
	"  FROM pgp_keys;"
	"DROP TABLE pgp_keys;"
	"ALTER TABLE pgp_keys_v7 RENAME TO pgp_keys;"
	"CREATE INDEX pgp_keys_fpr ON pgp_keys (fingerprint);",

	/* 8: the one-time code a password reset mails to the partner (store_resetcode.c): a keyed
	 * hash only, when it was made and the failed tries against it. */
	"CREATE TABLE portal_reset_codes ("
	"  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
	"  code_hash TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0);",

	/* webmail (store_webmail.c, issue 14): messages kept sealed for partners. uid is random
	 * (URLs, the sealing's associated data); dedup (queue id + recipient) makes a retried
	 * transform find its earlier row; parts are sealed one by one, so a download opens one. */
	"CREATE TABLE webmail_messages ("
	"  id INTEGER PRIMARY KEY,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  uid TEXT NOT NULL UNIQUE,"
	"  folder TEXT NOT NULL CHECK (folder IN ('inbox', 'sent')),"
	"  dedup TEXT NOT NULL,"
	"  sender TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  stored INTEGER NOT NULL,"
	"  attachments INTEGER NOT NULL,"
	"  read_at INTEGER NOT NULL DEFAULT 0,"
	"  notified INTEGER NOT NULL DEFAULT 0,"
	"  wrapped_key BLOB NOT NULL,"
	"  meta BLOB NOT NULL,"
	"  UNIQUE (user_id, dedup));"
	"CREATE INDEX webmail_messages_page ON webmail_messages (user_id, folder, created, id);"
	"CREATE INDEX webmail_messages_created ON webmail_messages (created);"
	"CREATE TABLE webmail_parts ("
	"  message_id INTEGER NOT NULL REFERENCES webmail_messages(id) ON DELETE CASCADE,"
	"  idx INTEGER NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  sealed BLOB NOT NULL,"
	"  PRIMARY KEY (message_id, idx));",

	/* Employees (directory login and sync) and why a certificate was revoked. */
	"CREATE TABLE directory_employees ("
	"  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
	"  dn TEXT NOT NULL,"
	"  login TEXT NOT NULL,"
	"  display_name TEXT NOT NULL,"
	"  lang TEXT NOT NULL,"
	"  addresses TEXT NOT NULL,"
	"  seen INTEGER NOT NULL);"
	"ALTER TABLE certificates ADD COLUMN revoke_reason INTEGER NOT NULL DEFAULT 0;",

	/* DKIM keys of the sending domains (store_dkim.c): at most two selectors per domain sign
	 * at once (rotation); the private key sealed for "dkim:DOMAIN:SELECTOR". */
	"CREATE TABLE dkim_keys ("
	"  domain TEXT NOT NULL,"
	"  selector TEXT NOT NULL,"
	"  alg TEXT NOT NULL,"
	"  dns TEXT NOT NULL,"
	"  sealed BLOB NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  PRIMARY KEY (domain, selector));",

	/* Infected messages held for an admin (store_quarantine.c), sealed for
	 * "quarantine:<id>:<queue id>"; sealed is NULL only between reserving and sealing. */
	"CREATE TABLE scan_quarantine ("
	"  id INTEGER PRIMARY KEY,"
	"  queue_id TEXT NOT NULL,"
	"  sender TEXT NOT NULL,"
	"  rcpts TEXT NOT NULL,"
	"  signature TEXT NOT NULL,"
	"  sealed BLOB,"
	"  created INTEGER NOT NULL);",

	/* Employee enrolment (store_enrol.c, issue 13): the portal links of enrolments and
	 * renewals (only a hash of the token; the .pfx PIN sealed to "enrol-pin:<hash>", wiped
	 * when the link expires or is replaced), certificates replaced by a later enrolment
	 * (kept for decryption, no longer published) and the managers of shared mailboxes. */
	"CREATE TABLE enrolments ("
	"  id INTEGER PRIMARY KEY,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  cert_id INTEGER NOT NULL REFERENCES certificates(id) ON DELETE CASCADE,"
	"  prev_cert_id INTEGER NOT NULL DEFAULT 0,"
	"  kind TEXT NOT NULL CHECK (kind IN ('enrol', 'renewal')),"
	"  token_hash TEXT NOT NULL UNIQUE,"
	"  sealed_pin BLOB,"
	"  lang TEXT NOT NULL DEFAULT 'en',"
	"  state TEXT NOT NULL CHECK (state IN ('open', 'expired', 'replaced')),"
	"  created INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL);"
	"CREATE INDEX enrolments_user ON enrolments (user_id);"
	"CREATE INDEX enrolments_open ON enrolments (state, expires);"
	"ALTER TABLE certificates ADD COLUMN replaced_at INTEGER;"
	"CREATE TABLE shared_managers ("
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  manager TEXT NOT NULL COLLATE NOCASE,"
	"  PRIMARY KEY (user_id, manager));",

	/* webmail pages (issue 14, portal side): the inbox's "messages, unread" count from the
	 * index alone; without it each view reads every row of the partner (6 ms at 10,000). */
	"CREATE INDEX webmail_messages_unread ON webmail_messages (user_id, folder, read_at);",

	/* the audit log covers every admin and mail event, not only the portal's (issue 17):
	 * who did it ("cli:ACCOUNT", "portal:ADDRESS", or the role), and a lookup by event. */
	"ALTER TABLE audit_log ADD COLUMN actor TEXT NOT NULL DEFAULT '';"
	"CREATE INDEX audit_log_event ON audit_log (event, at);",

	/* outbound TLS per recipient domain (issue 18, like Postfix's smtp_tls_policy_maps). The
	 * mode is checked in code (store_tls_policy.h), not by CHECK, so that a mode added later
	 * (mta-sts) needs no table rebuild. */
	"CREATE TABLE tls_policy ("
	"  domain TEXT PRIMARY KEY COLLATE NOCASE,"
	"  mode TEXT NOT NULL,"
	"  updated INTEGER NOT NULL);",

	/* the MTA-STS policy cache (issue 18, RFC 8461 5.1): the policy text as fetched, the TXT
	 * id it was fetched under, and its expiry (fetched + max_age). */
	"CREATE TABLE mta_sts_policy ("
	"  domain TEXT PRIMARY KEY COLLATE NOCASE,"
	"  policy_id TEXT NOT NULL,"
	"  policy TEXT NOT NULL,"
	"  fetched INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL);",

	/* webmail parts in a file per message beside the database (store_webmail_blob.c: written
	 * once, outside the write lock): where each part is in it. NULL: the bytes are in `sealed`
	 * (rows stored before this entry). */
	"ALTER TABLE webmail_parts ADD COLUMN file_offset INTEGER;"
	"ALTER TABLE webmail_parts ADD COLUMN file_len INTEGER;",

	/* key discovery (issue 26 part 3): the last answer of the lookup chain per address, a hit
	 * (the certificate or key, checked before it was stored) or a miss, until expires. */
	"CREATE TABLE lookup_cache ("
	"  address TEXT PRIMARY KEY COLLATE NOCASE,"
	"  kind TEXT NOT NULL CHECK (kind IN ('none', 'smime', 'pgp')),"
	"  source TEXT NOT NULL,"
	"  data BLOB,"
	"  fingerprint TEXT NOT NULL DEFAULT '',"
	"  not_after INTEGER NOT NULL DEFAULT 0,"
	"  detail TEXT NOT NULL DEFAULT '',"
	"  looked_at INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL);",

	/* several nodes on one store (store_cluster.c, issue 15): counters that only grow (the
	 * CA's serial sequence; the directory's change counter, bumped by the triggers in the
	 * transaction of every change to users and certificates, which ldapd polls instead of
	 * SQLite's data_version, blind to another node's writes to a shared server; and the
	 * revocations, which every node's tick follows with its CRL file), the leases of the
	 * jobs one node at a time runs, and the CA's certificate and sealed key for new nodes. */
	CLUSTER_TABLES
	"CREATE TRIGGER store_directory_users_insert AFTER INSERT ON users BEGIN"
	"  UPDATE store_counters SET value = value + 1 WHERE name = 'directory'; END;"
	"CREATE TRIGGER store_directory_users_update AFTER UPDATE OF address, kind ON users"
	"  BEGIN"
	"  UPDATE store_counters SET value = value + 1 WHERE name = 'directory'; END;"
	"CREATE TRIGGER store_directory_users_delete AFTER DELETE ON users BEGIN"
	"  UPDATE store_counters SET value = value + 1 WHERE name = 'directory'; END;"
	"CREATE TRIGGER store_directory_certificates_insert AFTER INSERT ON certificates BEGIN"
	"  UPDATE store_counters SET value = value + 1 WHERE name = 'directory'; END;"
	"CREATE TRIGGER store_directory_certificates_update AFTER UPDATE OF user_id, der, source,"
	"  revoked_at, replaced_at, not_before, not_after ON certificates BEGIN"
	"  UPDATE store_counters SET value = value + 1 WHERE name = 'directory'; END;"
	"CREATE TRIGGER store_directory_certificates_delete AFTER DELETE ON certificates BEGIN"
	"  UPDATE store_counters SET value = value + 1 WHERE name = 'directory'; END;"
	"CREATE TRIGGER store_revocations AFTER UPDATE OF revoked_at ON certificates BEGIN"
	"  UPDATE store_counters SET value = value + 1 WHERE name = 'revocations'; END;",
};

#define MIGRATIONS (int)(sizeof(migrations) / sizeof(migrations[0]))

/* PostgreSQL's text of an entry whose SQLite text it cannot run (NULL: the same SQL). Kept
 * apart so that the list above stays as it was written: indexes match migrations[]. */
static const char *const migrations_pgsql[sizeof(migrations) / sizeof(migrations[0])] = {
	[0] = NULL,
	/* The cluster entry (store_cluster.c; its index in migrations[], renumbered with it): a
	 * PostgreSQL trigger runs a function, once per statement. */
	[19] = CLUSTER_TABLES
	"CREATE FUNCTION store_bump_directory() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
	"  UPDATE store_counters SET value = value + 1 WHERE name = 'directory'; RETURN NULL; END $$;"
	"CREATE FUNCTION store_bump_revocations() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
	"  UPDATE store_counters SET value = value + 1 WHERE name = 'revocations'; RETURN NULL; END $$;"
	"CREATE TRIGGER store_directory_users AFTER INSERT OR DELETE OR UPDATE OF address, kind"
	"  ON users FOR EACH STATEMENT EXECUTE FUNCTION store_bump_directory();"
	"CREATE TRIGGER store_directory_certificates AFTER INSERT OR DELETE OR UPDATE OF user_id,"
	"  der, source, revoked_at, replaced_at, not_before, not_after ON certificates"
	"  FOR EACH STATEMENT EXECUTE FUNCTION store_bump_directory();"
	"CREATE TRIGGER store_revocations AFTER UPDATE OF revoked_at ON certificates"
	"  FOR EACH STATEMENT EXECUTE FUNCTION store_bump_revocations();",
};

/* The schema_version table: one row per applied entry (the store's latest is the maximum).
 * Stores made before it have only the engine's own record (SQLite's PRAGMA user_version). */
static const char schema_version_table[] =
	"CREATE TABLE IF NOT EXISTS schema_version ("
	"  version INTEGER PRIMARY KEY,"
	"  applied INTEGER NOT NULL)";

/* The latest version in the schema_version table, else the engine's own record; -1. */
static int read_version(struct store *st)
{
	struct sdb_stmt *s = NULL;
	const char *err = NULL;
	if (sdb_prepare(st, "SELECT max(version) FROM schema_version", &s, &err) < 0)
		return -1;
	if (sdb_step(s) != SDB_ROW)
		return sdb_fail(s, &err);
	bool none = sdb_col_is_null(s, 0);
	int64_t v = sdb_col_int64(s, 0);
	sdb_finish(s);
	if (none) {
		int legacy = st->ops->engine_version(st);
		return legacy > 0 ? legacy : 0;
	}
	return v >= 0 && v <= 1000000 ? (int)v : -1;
}

int store_schema_version(struct store *st)
{
	int v = st->ops->engine_version(st);
	return v >= 0 ? v : read_version(st);
}

/* Records version v as applied, in the migration's transaction. */
static int mark_version(struct store *st, int v, const char **error_r)
{
	struct sdb_stmt *s = NULL;
	if (sdb_prepare(st, "INSERT INTO schema_version (version, applied) VALUES (?1, ?2)", &s,
	                error_r) < 0 ||
	    sdb_bind_int64(s, 1, v) < 0 || sdb_bind_int64(s, 2, (int64_t)sg_wall()) < 0 ||
	    sdb_step(s) != SDB_DONE)
		return sdb_fail(s, error_r);
	sdb_finish(s);
	return st->ops->version_done != NULL ? st->ops->version_done(st, v, error_r) : 0;
}

/* One step towards want in one write transaction: 1 when a migration ran, 0 when the store is
 * there already, -1. */
static int migrate_step(struct store *st, int want, const char **error_r)
{
	if (sdb_begin(st, true, error_r) < 0)
		return -1;
	int have = -1;
	if ((st->ops->migration_lock != NULL && st->ops->migration_lock(st, error_r) < 0) ||
	    st->ops->exec_script(st, schema_version_table, error_r) < 0 ||
	    (have = read_version(st)) < 0 || have > MIGRATIONS) {
		if (have < 0 && *error_r == NULL)
			*error_r = "store: cannot read the schema version";
		else if (have > MIGRATIONS)
			*error_r = "store: schema is newer than this sealgate; upgrade sealgate";
		sdb_rollback(st);
		return -1;
	}
	if (have >= want)
		return sdb_commit(st, error_r) < 0 ? -1 : 0;
	const char *sql = sdb_engine(st) == SDB_PGSQL && migrations_pgsql[have] != NULL
	                      ? migrations_pgsql[have]
	                      : migrations[have];
	if (st->ops->exec_script(st, sql, error_r) < 0 || mark_version(st, have + 1, error_r) < 0) {
		sdb_rollback(st);
		return -1;
	}
	return sdb_commit(st, error_r) < 0 ? -1 : 1;
}

int store_schema_migrate(struct store *st, int target, const char **error_r)
{
	int want = target < 0 ? MIGRATIONS : target;
	if (want > MIGRATIONS) {
		*error_r = "store: no such schema version";
		return -1;
	}
	int native = st->ops->engine_version(st);
	if (native > MIGRATIONS) {
		*error_r = "store: schema is newer than this sealgate; upgrade sealgate";
		return -1;
	}
	if (native == want)
		return 0; /* nothing to do: no write lock taken at each start */
	int rc;
	*error_r = NULL;
	while ((rc = migrate_step(st, want, error_r)) > 0)
		;
	return rc;
}

int store_sqlite_create_at(const char *path, int version, const char **error_r)
{
	char url[SG_PATH_MAX + 8];
	if (sg_snprintf(url, sizeof(url), "sqlite:%s", path) < 0) {
		*error_r = "store: path too long";
		return -1;
	}
	static const struct store_options none = {.password = NULL, .pool_size = 1};
	struct store *st = sdb_sqlite_ops.open(url, "/", &none, error_r);
	if (st == NULL)
		return -1;
	int rc = store_schema_migrate(st, version, error_r);
	store_close(&st);
	return rc;
}

/* store.h: the interface to the database of users, keys, certificates, held and webmail
 * messages. SQLite is embedded and the default; PostgreSQL comes later behind this same
 * header, so nothing above store/ names a database. */
#ifndef SG_STORE_H
#define SG_STORE_H

#include "core/limits.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct store;

/* Opens the store named by url ("sqlite:PATH", PATH relative to base_dir), creating the
 * schema or migrating it to the current version. */
struct store *store_open(const char *url, const char *base_dir, const char **error_r);
/* What PostgreSQL needs beside the URL (store.password_file's line, store.pool_size). */
struct store_options {
	const char *password; /* NULL: none, or ~/.pgpass of the account (libpq) */
	int pool_size;        /* connections per process; 0: 1 */
};
struct store *store_open_options(const char *url, const char *base_dir,
                                 const struct store_options *opt, const char **error_r);
/* The store of the settings (store.database, store.password_file, store.pool_size): what
 * every role and command opens. */
struct settings;
struct store *store_open_settings(const struct settings *s, const char **error_r);
/* The same for another store (`store copy --to URL`), with the settings' password file. */
struct store *store_open_settings_url(const struct settings *s, const char *url,
                                      const char **error_r);
/* check-config: 0, or -1 with why (a malformed PostgreSQL URI, an unreachable server, a
 * refused login, an unusable password file). Nothing to check for SQLite. */
int store_check_settings(const struct settings *s, char *why, size_t why_size);
void store_close(struct store **st);
/* The schema version the store is at. */
int store_schema_version(struct store *st);

/* ---- users, certificates and sealed private keys (schema version 2) ---- */

enum store_user_kind { STORE_USER_INTERNAL, STORE_USER_EXTERNAL, STORE_USER_SHARED };
enum store_cert_source {
	STORE_CERT_ISSUED,    /* by the instance CA, key held here */
	STORE_CERT_IMPORTED,  /* a partner's certificate, or an internal user's .p12 */
	STORE_CERT_HARVESTED, /* from a valid signature on inbound mail */
	STORE_CERT_PROXY,     /* issued here for an external address, key held here */
	STORE_CERT_DISCOVERED, /* found by key discovery (lookup/): never in the certificates
	                        * table, only in lookup_cache; encrypts, never authenticates */
};
const char *store_user_kind_name(enum store_user_kind kind);
int store_user_kind_parse(const char *name, enum store_user_kind *kind_r);
const char *store_cert_source_name(enum store_cert_source source);

#define STORE_CHANNEL_MAX 32

struct store_user {
	int64_t id;
	char address[SG_ADDR_MAX];
	enum store_user_kind kind;
	char channel[STORE_CHANNEL_MAX];
	time_t created;
};

/* Finds the user with address (case-insensitive): 1 found, 0 not, -1 error. */
int store_user_find(struct store *st, const char *address, struct store_user *user_r,
                    const char **error_r);
/* Sets the channel ("smime", "pgp", "pdf", "webmail") of an existing user: 1 set, 0 no user. */
int store_user_set_channel(struct store *st, const char *address, const char *channel,
                           const char **error_r);
/* Every user, by address (caller frees the array). */
int store_user_list(struct store *st, struct store_user **users_r, size_t *count_r,
                    const char **error_r);
/* Finds the user or creates it with kind; *id_r is its id. An existing user keeps its kind. */
int store_user_ensure(struct store *st, const char *address, enum store_user_kind kind,
                      int64_t *id_r, const char **error_r);

struct store_cert {
	int64_t id;
	int64_t user_id;
	char address[SG_ADDR_MAX];     /* the owning user's address (read only) */
	unsigned char *der;
	size_t der_len;
	char fingerprint[65];          /* SHA-256 of der, hex: the record's identity */
	char serial[80];               /* upper-case hex */
	char issuer[512];
	time_t not_before, not_after;
	enum store_cert_source source;
	time_t revoked_at;             /* 0: not revoked */
	unsigned char *caps;           /* SMIMECapabilities DER, or NULL */
	size_t caps_len;
	bool has_key;                  /* a sealed private key is stored with it (read only) */
	int revoke_reason;             /* RFC 5280 CRLReason when revoked with one, else 0 */
};
void store_cert_clear(struct store_cert *cert);
/* What lets a reader cache what it read: equal stamps mean the same open store, and that
 * nothing was written to it in between, through this handle (ours) or by anyone else (others). */
struct store_stamp {
	int64_t conn;   /* this open store, unique in the process */
	int64_t others; /* SQLite's data_version: commits by other connections */
	int64_t ours;   /* rows changed through this connection */
};
int store_cert_stamp(struct store *st, struct store_stamp *stamp_r, const char **error_r);
void store_cert_list_free(struct store_cert **certs, size_t count);

/* Adds cert (user_id set) and, if sealed != NULL, its sealed private key, in one transaction.
 * A certificate already stored (same fingerprint) keeps its row; only newer capabilities are
 * taken. *id_r is the row's id. */
int store_cert_add(struct store *st, const struct store_cert *cert, const unsigned char *sealed,
                   size_t sealed_len, int64_t *id_r, const char **error_r);
/* Certificates of address (or all when NULL), newest first. */
int store_cert_list(struct store *st, const char *address, struct store_cert **certs_r,
                    size_t *count_r, const char **error_r);
/* The certificate with issuer and serial (what a RecipientInfo names): 1 found, 0 not, -1. */
int store_cert_find_rid(struct store *st, const char *issuer, const char *serial,
                        struct store_cert *cert_r, const char **error_r);
/* Revoked certificates issued by issuer (for the CRL). */
int store_cert_list_revoked(struct store *st, const char *issuer, struct store_cert **certs_r,
                            size_t *count_r, const char **error_r);
/* Marks every unrevoked certificate of address, or the one with serial (issuer may be NULL
 * for any), revoked at when. *count_r says how many. */
int store_cert_revoke_address(struct store *st, const char *address, time_t when,
                              size_t *count_r, const char **error_r);
/* The same with an RFC 5280 CRLReason code (e.g. 5, cessationOfOperation) for the CRL. */
#define STORE_REVOKE_CESSATION 5
int store_cert_revoke_address_reason(struct store *st, const char *address, time_t when,
                                     int reason, size_t *count_r, const char **error_r);
int store_cert_revoke_serial(struct store *st, const char *serial, time_t when, size_t *count_r,
                             const char **error_r);
/* The sealed private key stored with certificate cert_id (caller frees): 1 found, 0 not, -1. */
int store_key_get(struct store *st, int64_t cert_id, unsigned char **sealed_r,
                  size_t *sealed_len_r, const char **error_r);

/* ---- the certificate directory (store_directory.c, read only; for ldapd) ---- */

/* One published certificate: an internal (or shared) user's issued or imported certificate,
 * or an external partner's proxy certificate, unrevoked and valid at the time asked. */
struct store_dir_cert {
	char address[SG_ADDR_MAX];
	enum store_user_kind kind;
	enum store_cert_source source;
	unsigned char *der;
	size_t der_len;
	time_t not_before, not_after;
};
/* Every certificate published at now, ordered by address (lower-cased), newest first within
 * one address. *next_change_r is the earliest later time at which the answer changes by
 * time alone (a not_before or not_after passing), or 0 if none. */
int store_directory_list(struct store *st, time_t now, struct store_dir_cert **certs_r,
                         size_t *count_r, time_t *next_change_r, const char **error_r);
void store_directory_list_free(struct store_dir_cert **certs, size_t count);
/* A number that changes whenever a change to users or certificates is committed, by this
 * process or another node (store_cluster.c: a counter bumped in the change's transaction). */
int store_directory_version(struct store *st, uint64_t *version_r, const char **error_r);

/* ---- OpenPGP keys per address (store_pgp.c, schema versions 3 and 7) ---- */

/* Where a key came from: an admin's import, the gateway, Autocrypt (learned from a mail
 * header: TOFU, proves nothing about who sent it) or the partner's own portal upload. */
enum store_pgp_source {
	STORE_PGP_IMPORTED,
	STORE_PGP_GENERATED,
	STORE_PGP_AUTOCRYPT,
	STORE_PGP_PORTAL,
	STORE_PGP_DISCOVERED, /* found by key discovery (lookup/): never in pgp_keys, only in
	                       * lookup_cache; encrypts, never makes a signature valid */
};
enum store_pgp_status { STORE_PGP_ACTIVE, STORE_PGP_PENDING };
const char *store_pgp_source_name(enum store_pgp_source source);
const char *store_pgp_status_name(enum store_pgp_status status);

#define STORE_PGP_FPR_MAX 65

struct store_pgp_key {
	int64_t id;
	int64_t user_id;
	char address[SG_ADDR_MAX];     /* the owning user's address (read only) */
	char fingerprint[STORE_PGP_FPR_MAX]; /* primary key, upper-case hex */
	unsigned char *keydata;        /* the public key (binary, with subkeys) */
	size_t keydata_len;
	enum store_pgp_source source;
	enum store_pgp_status status;
	time_t expires;                /* 0: never */
	time_t created;                /* when the row was stored (read only) */
	bool has_secret;               /* a sealed secret key is stored (read only) */
	time_t confirmed;              /* an admin vouched for an Autocrypt key (read only), 0 */
};
/* Trusted by something other than a message: imported, uploaded on the portal, generated,
 * or an Autocrypt key an admin confirmed. Only such a key can make a signature valid. */
bool store_pgp_key_trusted(const struct store_pgp_key *key);
/* A gateway-held key that may decrypt and sign at now: active, its secret sealed in the
 * store, not expired. An address may hold several (an old and a new key). */
bool store_pgp_key_held(const struct store_pgp_key *key, time_t now);
void store_pgp_key_clear(struct store_pgp_key *key);
void store_pgp_list_free(struct store_pgp_key **keys, size_t count);

/* Stores key for key->user_id. A row with the same user and fingerprint is updated (keydata,
 * source, status, expires) and keeps its sealed secret unless sealed != NULL. */
int store_pgp_add(struct store *st, const struct store_pgp_key *key, const unsigned char *sealed,
                  size_t sealed_len, int64_t *id_r, const char **error_r);
/* Keys of address (or all when NULL): active before pending, trusted before Autocrypt-learned,
 * newest first. */
int store_pgp_list(struct store *st, const char *address, struct store_pgp_key **keys_r,
                   size_t *count_r, const char **error_r);
/* The active key of address that ranks first (a trusted key outranks any learned one):
 * 1 found, 0 none, -1 error. */
int store_pgp_find_active(struct store *st, const char *address, struct store_pgp_key *key_r,
                          const char **error_r);
/* Active keys of any address whose fingerprint ends in keyid (16 hex digits: a v4 key id). */
int store_pgp_list_keyid(struct store *st, const char *keyid, struct store_pgp_key **keys_r,
                         size_t *count_r, const char **error_r);
/* Deletes every key row of address / every row of fingerprint fpr; *count_r says how many. */
int store_pgp_delete_address(struct store *st, const char *address, size_t *count_r,
                             const char **error_r);
int store_pgp_delete_fpr(struct store *st, const char *fpr, size_t *count_r,
                         const char **error_r);
/* An admin accepts the pending key(s) of address: they become active (an Autocrypt one counts
 * as confirmed from then on), and the other keys of address that hold no secret are removed.
 * *count_r: keys made active (0: none pending). */
int store_pgp_accept(struct store *st, const char *address, size_t *count_r,
                     const char **error_r);
/* The sealed secret key stored with fingerprint fpr (caller frees): 1 found, 0 not, -1. */
int store_pgp_secret_get(struct store *st, const char *fpr, unsigned char **sealed_r,
                         size_t *sealed_len_r, const char **error_r);

enum store_pgp_learn {
	STORE_PGP_LEARNED,        /* the address had no key: stored active, source autocrypt */
	STORE_PGP_UNCHANGED,      /* the address already has this key */
	STORE_PGP_PENDING_CHANGE, /* another key is stored: this one waits as pending */
};
/* Autocrypt learning for user_id (the From address of mail that passed): never replaces a
 * stored key silently; the caller never asks it for an internal address. */
int store_pgp_learn_autocrypt(struct store *st, int64_t user_id, const char *fpr,
                              const unsigned char *keydata, size_t keydata_len, time_t expires,
                              enum store_pgp_learn *result_r, const char **error_r);
/* Sets the user's channel to channel when none has been chosen yet. */
int store_pgp_default_channel(struct store *st, int64_t user_id, const char *channel,
                              const char **error_r);

/* ---- SecurePDF (store_pdf.c, schema version 4) ---- */
/* Stores (or replaces) the sealed {U, K} record of user_id. */
int store_pdf_key_set(struct store *st, int64_t user_id, const unsigned char *sealed,
                      size_t sealed_len, const char **error_r);
/* The sealed record of address (caller frees; sealed_r may be NULL to test): 1, 0 none, -1. */
int store_pdf_key_get(struct store *st, const char *address, unsigned char **sealed_r,
                      size_t *sealed_len_r, const char **error_r);
/* Remembers a Reply token by its hash, bound to the message and the recipient. */
int store_reply_token_add(struct store *st, const char *token_hash, const char *message_id,
                          const char *sender, const char *recipient, const char **error_r);
#define STORE_MSGID_MAX 1000 /* a Message-ID as stored (one header line) */
struct store_reply_token {
	char message_id[STORE_MSGID_MAX]; /* of the message the PDF carried, without <>; may be "" */
	char sender[SG_ADDR_MAX];         /* its internal sender: whom the reply goes to */
	char recipient[SG_ADDR_MAX];      /* the partner the PDF was made for */
	time_t created;
};
/* The Reply token stored under token_hash: 1 found, 0 none, -1 store error (or an address
 * that does not fit *tok_r; a Message-ID that does not fit is returned as ""). */
int store_reply_token_get(struct store *st, const char *token_hash,
                          struct store_reply_token *tok_r, const char **error_r);
/* Forgets the Reply tokens made before `before`; *n_r how many. */
int store_reply_token_expire(struct store *st, time_t before, size_t *n_r, const char **error_r);

/* ---- mail held until its recipient registers (store_held.c, schema version 6) ---- */
struct store_held {
	int64_t id;
	int64_t user_id;
	char address[SG_ADDR_MAX]; /* the partner it waits for */
	char sender[SG_ADDR_MAX];  /* the internal sender, who is told what becomes of it */
	char subject[256];         /* for those notices (UTF-8, cut) */
	time_t created;
	time_t until;              /* the invitation's expiry */
};
/* Keeps a sealed message for user_id. */
int store_held_add(struct store *st, int64_t user_id, const char *sender, const char *subject,
                   const unsigned char *sealed, size_t sealed_len, time_t now, int64_t *id_r,
                   const char **error_r);
/* The held mail of address, oldest first (caller frees the array). */
int store_held_list(struct store *st, const char *address, struct store_held **list_r,
                    size_t *n_r, const char **error_r);
/* Held mail whose recipient never registered and whose invitation expired before now. */
int store_held_expired(struct store *st, time_t now, struct store_held **list_r, size_t *n_r,
                       const char **error_r);
/* Held mail whose recipient has registered (a release that failed; the tick retries it). */
int store_held_registered(struct store *st, struct store_held **list_r, size_t *n_r,
                          const char **error_r);
/* The sealed message of id: 1 found, 0 gone, -1 error. */
int store_held_sealed(struct store *st, int64_t id, unsigned char **sealed_r, size_t *len_r,
                      const char **error_r);
int store_held_delete(struct store *st, int64_t id, const char **error_r);
/* Number of held messages for address. */
int store_held_count(struct store *st, const char *address, size_t *n_r, const char **error_r);
/* Who asked for the pending invitation of user_id (the first sender), and dropping an
 * invitation that expired unused (the account row goes; the user row stays). */
int store_held_inviter_set(struct store *st, int64_t user_id, const char *inviter,
                           const char **error_r);
int store_held_invite_drop(struct store *st, int64_t user_id, const char **error_r);

/* ---- the web portal (store_portal.c, schema version 5) ---- */
#define STORE_PORTAL_HASH_MAX 160 /* an Argon2id string or a hex digest, with its NUL */

/* A user's portal account. Created pending by an invitation (an OTP hash), registered when
 * a password is chosen (then the OTP is gone). */
struct store_portal_account {
	int64_t user_id;
	char address[SG_ADDR_MAX];
	char password_hash[STORE_PORTAL_HASH_MAX]; /* "" until registered */
	char otp_hash[STORE_PORTAL_HASH_MAX];      /* "" when no OTP is pending */
	time_t otp_expires;
	int otp_attempts;                          /* no longer counted (kept in the schema) */
	time_t registered;                         /* 0: still pending */
};
/* Creates the external user if needed and gives it a fresh OTP (replacing any earlier one,
 * attempts reset). An already registered account keeps its password. */
int store_portal_invite(struct store *st, const char *address, const char *otp_hash,
                        time_t otp_expires, int64_t *user_id_r, const char **error_r);
/* The account of address: 1 found, 0 none, -1 error. */
int store_portal_account_get(struct store *st, const char *address,
                             struct store_portal_account *acct_r, const char **error_r);
/* Stores the login hash, marks the account registered at now and drops the OTP. */
int store_portal_register(struct store *st, int64_t user_id, const char *password_hash,
                          time_t now, const char **error_r);
/* Sets only the login hash: the password step before registration completes (the OTP stays
 * valid until the security questions are saved), a reset and a change. */
int store_portal_password_set(struct store *st, int64_t user_id, const char *password_hash,
                              const char **error_r);

/* Security questions (schema version 6): three per self-registered account, each a stable
 * question key (not its text) and the Argon2id string of the normalised answer. */
#define STORE_PORTAL_QUESTIONS 3
#define STORE_PORTAL_QKEY_MAX 32
struct store_portal_question {
	char key[STORE_PORTAL_QKEY_MAX];
	char answer_hash[STORE_PORTAL_HASH_MAX];
};
/* Replaces the questions of user_id with q[0..2] (all or nothing). */
int store_portal_questions_set(struct store *st, int64_t user_id,
                               const struct store_portal_question q[STORE_PORTAL_QUESTIONS],
                               const char **error_r);
/* The questions of user_id in order: 1 with all three, 0 when it has not three, -1 error. */
int store_portal_questions_get(struct store *st, int64_t user_id,
                               struct store_portal_question q_r[STORE_PORTAL_QUESTIONS],
                               const char **error_r);
/* A value of the meta table that is made once and then kept: the first caller's fresh value
 * wins, every later one reads it (value_r, size bytes). */
int store_portal_meta_once(struct store *st, const char *key, const char *fresh, char *value_r,
                           size_t size, const char **error_r);

/* Attempt counters of the portal's secret checks, by key ("acct:ADDRESS", "ip:CLIENT",
 * "dev:DEVICE"). A key may try free_attempts times without waiting; from then on each attempt
 * makes the next one wait delay_s, doubled per further attempt up to max_delay_s. A key quiet
 * for forget_s after its last attempt (or wait) starts afresh. */
struct store_throttle_policy {
	int64_t free_attempts, delay_s, max_delay_s, forget_s;
};
/* Reserves one attempt on all n keys at once (one write transaction), before the secret is
 * checked, so that parallel requests cannot pass a check together: 0 when every key counted
 * it (*wait_r: the wait this attempt started, 0 for none); 1 when a key must still wait
 * (nothing counted; *wait_r: seconds until the longest wait ends). Waits are never shortened. */
int store_portal_throttle_reserve(struct store *st, const char *const *keys, size_t n,
                                  time_t now, const struct store_throttle_policy *p,
                                  time_t *wait_r, const char **error_r);
/* The attempt reserved on key was right: reset forgets the key's count, else the attempt is
 * given back (one less). A running wait stays. */
int store_portal_throttle_succeeded(struct store *st, const char *key, bool reset,
                                    const char **error_r);
/* Deletes the keys whose last attempt or wait ended before before. */
int store_portal_throttle_expire(struct store *st, time_t before, const char **error_r);

/* Sessions: stage 0 anonymous, 1 OTP accepted (choosing a password), 2 logged in; the portal's
 * enum portal_stage names the later steps (questions, password reset). */
struct store_portal_session {
	char id_hash[65];
	int64_t user_id;
	char address[SG_ADDR_MAX]; /* the user's, "" when anonymous */
	int stage;
	char csrf[65];
	time_t created, last_seen;
};
int store_portal_session_add(struct store *st, const struct store_portal_session *s,
                             const char **error_r);
/* 1 found, 0 not, -1 error. */
int store_portal_session_get(struct store *st, const char *id_hash,
                             struct store_portal_session *s_r, const char **error_r);
int store_portal_session_touch(struct store *st, const char *id_hash, time_t now,
                               const char **error_r);
int store_portal_session_delete(struct store *st, const char *id_hash, const char **error_r);
/* Deletes every session of user_id (a password reset or change logs out everywhere). */
int store_portal_session_delete_user(struct store *st, int64_t user_id, const char **error_r);
/* Drops sessions idle since before idle_before or created before created_before. */
int store_portal_session_expire(struct store *st, time_t idle_before, time_t created_before,
                                const char **error_r);

/* Deletes every session of address's user (an employee gone from the directory). */
int store_portal_session_delete_address(struct store *st, const char *address,
                                        const char **error_r);

/* ---- the audit log (store_audit.c): who did what, when, from where ---- */
struct store_audit_entry {
	int64_t id;
	time_t at;
	char event[32];            /* "cert-issued", "login-failed", ... (docs/admin-guide.md) */
	char address[SG_ADDR_MAX]; /* the account or address the event is about */
	char client[64];           /* where from: the portal client's IP, "cli", "mail", "tick" */
	char detail[256];
	char actor[SG_ADDR_MAX + 32]; /* who: "cli:ACCOUNT", "portal:ADDRESS", "qmgr", "tick" */
};
int store_audit_add(struct store *st, const struct store_audit_entry *e, const char **error_r);
/* The same with no actor (the event's address and client say who). */
int store_portal_audit_add(struct store *st, time_t at, const char *event, const char *address,
                           const char *client, const char *detail, const char **error_r);
/* The same for work a role does on its own: role ("tick", "qmgr", "clamd", "cli") is both
 * the client and the actor. */
int store_role_audit_add(struct store *st, time_t at, const char *event, const char *address,
                         const char *role, const char *detail, const char **error_r);
/* e, only while fewer than max entries of e's event and address are at or after since: the
 * count and the insert are one write transaction. 1: added; 0: cap reached; -1: error. */
int store_audit_add_capped(struct store *st, const struct store_audit_entry *e, time_t since,
                           size_t max, const char **error_r);
/* How many `event` entries of address at or after since. */
int store_portal_audit_count(struct store *st, const char *event, const char *address,
                             time_t since, size_t *n_r, const char **error_r);
struct store_audit_query {
	time_t since;      /* entries at or after */
	time_t until;      /* and before; 0: no bound */
	const char *event; /* only this event; NULL or "": all */
};
/* The entries q selects, oldest first (caller frees the array). */
int store_audit_list(struct store *st, const struct store_audit_query *q,
                     struct store_audit_entry **entries_r, size_t *count_r, const char **error_r);

/* ---- one-time codes of password resets (store_resetcode.c, schema version 8) ---- */
/* Gives user_id a new code (its keyed hash), made at now; an earlier one is gone. */
int store_resetcode_set(struct store *st, int64_t user_id, const char *code_hash, time_t now,
                        const char **error_r);
/* Takes (deletes) the code of user_id when it has code_hash and was made after created_after:
 * *taken_r says whether it did. A code is taken once, however many requests race for it. */
int store_resetcode_take(struct store *st, int64_t user_id, const char *code_hash,
                         time_t created_after, bool *taken_r, const char **error_r);
/* Counts a failed try against the code of user_id; the max_attempts-th deletes it. */
int store_resetcode_failed(struct store *st, int64_t user_id, int max_attempts,
                           const char **error_r);

/* ---- employee enrolment (store_enrol.c, issue 13) ---- */
/* A portal link to a .pfx and its PIN: made by an enrolment (a new key and certificate) or
 * a renewal (the successor of an expiring certificate). Open until it expires or a later
 * enrolment replaces it; then its sealed PIN is wiped. */
enum store_enrol_kind { STORE_ENROL_NEW, STORE_ENROL_RENEWAL };
enum store_enrol_state { STORE_ENROL_OPEN, STORE_ENROL_EXPIRED, STORE_ENROL_REPLACED };
#define STORE_ENROL_HASH_HEX 65
struct store_enrolment {
	int64_t id;
	int64_t user_id;
	char address[SG_ADDR_MAX];         /* the user's (read only) */
	enum store_user_kind user_kind;    /* (read only) */
	int64_t cert_id;                   /* the certificate the link hands out */
	int64_t prev_cert_id;              /* a renewal's predecessor, else 0 */
	enum store_enrol_kind kind;
	enum store_enrol_state state;
	char token_hash[STORE_ENROL_HASH_HEX];
	char lang[8];                      /* of the mails: "en" or "de" */
	time_t created, expires;
	bool has_pin;                      /* the sealed PIN is still stored (read only) */
};
/* Stores a new open link with its sealed PIN; *id_r its id. */
int store_enrol_add(struct store *st, const struct store_enrolment *e,
                    const unsigned char *sealed_pin, size_t sealed_len, int64_t *id_r,
                    const char **error_r);
/* The link whose token hashes to token_hash: 1 found, 0 not, -1 error. */
int store_enrol_find(struct store *st, const char *token_hash, struct store_enrolment *e_r,
                     const char **error_r);
/* The links of address, newest first (caller frees the array). */
int store_enrol_list(struct store *st, const char *address, struct store_enrolment **list_r,
                     size_t *n_r, const char **error_r);
/* The sealed PIN of link id, only while it is open and before now reaches its expiry (caller
 * frees): 1 found, 0 not (expired, replaced, wiped), -1 error. */
int store_enrol_pin_get(struct store *st, int64_t id, time_t now, unsigned char **sealed_r,
                        size_t *len_r, const char **error_r);
/* Open links whose expiry is at or before now become expired and lose their PIN; they are
 * listed in *list_r (caller frees). */
int store_enrol_expire(struct store *st, time_t now, struct store_enrolment **list_r,
                       size_t *n_r, const char **error_r);
/* A new enrolment of user_id took over: its other issued certificates (not keep_cert_id) are
 * marked replaced at now (they still decrypt, they are no longer published) and its open
 * links are replaced (their PINs wiped). */
int store_enrol_supersede(struct store *st, int64_t user_id, int64_t keep_cert_id, time_t now,
                          const char **error_r);
/* Marks certificate cert_id replaced at now (a renewal whose notice failed: the next tick
 * renews the predecessor again). */
int store_enrol_mark_replaced(struct store *st, int64_t cert_id, time_t now,
                              const char **error_r);
/* Certificates due for renewal: per internal or shared user the newest issued one with a key,
 * unrevoked, not replaced, that ends before `before` and has no later unrevoked issued
 * certificate (fills id, user_id and address of each; caller frees). */
int store_enrol_renewal_due(struct store *st, time_t before, struct store_cert **certs_r,
                            size_t *n_r, const char **error_r);
/* The time a certificate was marked replaced (0: it was not): for `cert list` and pages. */
int store_enrol_replaced_at(struct store *st, int64_t cert_id, time_t *when_r,
                            const char **error_r);

/* Shared mailboxes: the directory users (their addresses) who manage one. */
int store_shared_manager_add(struct store *st, int64_t user_id, const char *manager,
                             const char **error_r);
/* The managers of address (caller frees; SG_ADDR_MAX each). */
int store_shared_managers(struct store *st, const char *address, char (**managers_r)[SG_ADDR_MAX],
                          size_t *n_r, const char **error_r);
/* The shared mailboxes manager manages, by address (caller frees). */
int store_shared_managed_by(struct store *st, const char *manager,
                            char (**addresses_r)[SG_ADDR_MAX], size_t *n_r,
                            const char **error_r);
/* True when manager manages the shared mailbox address: 1 yes, 0 no, -1 error. */
int store_shared_is_manager(struct store *st, const char *address, const char *manager,
                            const char **error_r);
/* ---- employees as the directory last described them (store_employee.c) ---- */
#define STORE_EMPLOYEE_ADDRS_MAX 8192 /* the addresses, one a line */
struct store_employee {
	int64_t user_id;                 /* the user of the primary address */
	char dn[1024];
	char login[256];
	char display_name[256];
	char lang[16];
	char addresses[STORE_EMPLOYEE_ADDRS_MAX];
	time_t seen;                     /* last login or sync that found them */
};
/* Stores (or replaces) the record of e->user_id. */
int store_employee_set(struct store *st, const struct store_employee *e, const char **error_r);
/* The record of user_id: 1 found, 0 none, -1 error. */
int store_employee_get(struct store *st, int64_t user_id, struct store_employee *e_r,
                       const char **error_r);
/* Forgets the record of user_id (gone from the directory). */
int store_employee_delete(struct store *st, int64_t user_id, const char **error_r);

/* ---- several nodes on one store (store_cluster.c, issue 15) ---- */
#define STORE_COUNTER_CA_SERIAL   "ca-serial"   /* the CA's serial sequence */
#define STORE_COUNTER_DIRECTORY   "directory"   /* bumped by every change to users, certificates */
#define STORE_COUNTER_REVOCATIONS "revocations" /* bumped by every revocation (the CRL follows) */
/* Advances the counter name (created at 1) in one atomic statement: no two callers, on any
 * node, ever get the same value. */
int store_counter_next(struct store *st, const char *name, int64_t *value_r, const char **error_r);
/* Sets the counter to at_least unless it is there already (a copied store's sequence). */
int store_counter_raise(struct store *st, const char *name, int64_t at_least, const char **error_r);
/* The counter's value now (0 when it never advanced). */
int store_counter_get(struct store *st, const char *name, int64_t *value_r, const char **error_r);
/* The next number of the CA's serial sequence (1, 2, ...): part of every serial it issues. */
int store_ca_serial_next(struct store *st, uint64_t *seq_r, const char **error_r);
/* A lease on the job name for holder (unique per process), until now + ttl: *leading_r when
 * it was free, lapsed or already holder's (then renewed). One node at a time leads. */
int store_leader_try(struct store *st, const char *name, const char *holder, time_t now, time_t ttl,
                     bool *leading_r, const char **error_r);
/* Gives the lease up (a clean stop), so that another node takes over at its next try. */
int store_leader_release(struct store *st, const char *name, const char *holder,
                         const char **error_r);
/* Who holds the lease at now: 1 (holder_r set), 0 nobody, -1 error. */
int store_leader_holder(struct store *st, const char *name, time_t now, char *holder_r, size_t size,
                        const char **error_r);

/* `sealgate store copy` (store_copy.c): every row of the SQLite store src into dst (rows dst
 * has already are kept), then each table compared on both sides. One result per table. */
struct store_copy_table {
	char name[64];
	int64_t rows_source, rows_target;
	uint64_t sum_source[2], sum_target[2]; /* order-free checksums of the rows */
	bool same;                             /* counts and checksums agree */
};
int store_copy_to(struct store *src, struct store *dst, struct store_copy_table **results_r,
                  size_t *n_r, const char **error_r);

/* The instance CA as files in the store (store_cluster.c), so that a new node fetches it:
 * "ca.crt" (PEM) and "ca.key" (sealed with the master key, as in gateway.ca_dir). put keeps
 * what is there (1 stored, 0 there already); get: 1 found (caller frees), 0 none. */
int store_ca_file_put(struct store *st, const char *name, const unsigned char *data, size_t len,
                      time_t now, const char **error_r);
int store_ca_file_get(struct store *st, const char *name, unsigned char **data_r, size_t *len_r,
                      const char **error_r);

#endif

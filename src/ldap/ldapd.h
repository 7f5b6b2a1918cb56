/* ldapd.h: the read-only LDAPv3 certificate directory (RFC 4511) that Outlook and Thunderbird
 * query for recipients' certificates. BER via OpenLDAP's liblber; a pure session machine turns
 * request bytes into reply bytes; entries come from the store as an immutable snapshot. */
#ifndef SG_LDAPD_H
#define SG_LDAPD_H

#include "core/limits.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct role_ctx;
struct sg_buf;
struct ssl_ctx_st;
struct store;

/* LDAP result codes we send (RFC 4511 §4.1.9). */
enum ldapd_rc {
	LDAPD_SUCCESS = 0,
	LDAPD_OPERATIONS_ERROR = 1,
	LDAPD_PROTOCOL_ERROR = 2,
	LDAPD_TIME_LIMIT = 3,
	LDAPD_SIZE_LIMIT = 4,
	LDAPD_AUTH_METHOD_NOT_SUPPORTED = 7,
	LDAPD_ADMIN_LIMIT = 11,
	LDAPD_UNAVAILABLE_CRITICAL_EXTENSION = 12,
	LDAPD_NO_SUCH_OBJECT = 32,
	LDAPD_INVALID_DN_SYNTAX = 34,
	LDAPD_INAPPROPRIATE_AUTH = 48,
	LDAPD_INVALID_CREDENTIALS = 49,
	LDAPD_INSUFFICIENT_ACCESS = 50,
	LDAPD_BUSY = 51,
	LDAPD_UNAVAILABLE = 52,
	LDAPD_UNWILLING = 53,
};

/* ---- attributes (ldapd_attr.c) ---- */
enum ldapd_attr {
	LDAPD_A_OBJECTCLASS,
	LDAPD_A_MAIL,
	LDAPD_A_CN,
	LDAPD_A_SN,
	LDAPD_A_GIVENNAME,
	LDAPD_A_DISPLAYNAME,
	LDAPD_A_USERCERT,
	LDAPD_A_USERSMIME,
	LDAPD_A_O,
	LDAPD_A_OU,
	LDAPD_A_DC,
	LDAPD_A_NAMINGCONTEXTS,
	LDAPD_A_LDAPVERSION,
	LDAPD_A_EXTENSION,
	LDAPD_A_VENDORNAME,
	LDAPD_A_COUNT
};
/* The attribute named by an attribute description of len bytes (name or alias, any case,
 * option ";binary" allowed and reported in *binary_r); -1 when unknown or other options. */
int ldapd_attr_lookup(const char *name, size_t len, bool *binary_r);
/* The name we send for attribute a. */
const char *ldapd_attr_name(int a);
/* True for attributes matched as case-insensitive strings (false: binary values). */
bool ldapd_attr_is_string(int a);

/* DN comparison form: attribute types and values lower-cased, spaces around separators
 * dropped, escapes in one canonical form. Returns the length, or -1 if dn is not a DN. */
int ldapd_dn_normalize(const char *dn, size_t len, char *dst, size_t dstsize);
/* Appends value escaped for an RDN (RFC 4514 §2.4) to dst; -1 if it does not fit. */
int ldapd_dn_escape(const char *value, char *dst, size_t dstsize);

/* ---- entries and snapshots (ldapd_entry.c) ---- */
struct ldapd_value {
	const char *v;      /* value bytes (NUL-terminated for strings) */
	size_t len;
	const char *lower;  /* strings: lower-cased copy for matching; NULL for binary */
};

struct ldapd_entry {
	char *dn;
	char *ndn;               /* normalised */
	struct ldapd_value *vals[LDAPD_A_COUNT];
	size_t nvals[LDAPD_A_COUNT];
};

/* A sorted list of the lower-cased values of one attribute, for prefix and exact lookups. */
struct ldapd_ikey {
	const char *lower;
	size_t len;
	uint32_t entry;          /* index into people */
};
struct ldapd_index {
	struct ldapd_ikey *keys;
	size_t n;
};

/* An immutable directory shared by every session; reference counted. */
struct ldapd_snapshot {
	_Atomic unsigned int refs;
	struct ldapd_entry root_dse;
	struct ldapd_entry base;
	struct ldapd_entry *people;
	size_t npeople, cap;
	char *nbase;             /* normalised base DN */
	struct ldapd_index index[LDAPD_A_COUNT]; /* of people, for the string attributes */
	time_t next_change;      /* rebuild when the clock passes this (0: never) */
	uint64_t version;        /* store version it was built from */
	void *ca;                /* X509 of the instance CA while building, NULL after */
};

struct ldapd_snapshot_config {
	const char *base_dn;
	const char *organization;
	const unsigned char *ca_der; /* instance CA certificate, added to userSMIMECertificate */
	size_t ca_der_len;
	bool starttls;               /* announce StartTLS in the root DSE */
	int refresh_s;               /* ldap.refresh: ask the store for changes at most this often */
};
/* A snapshot with the root DSE and the base entry; NULL with *error_r if base_dn is bad. */
struct ldapd_snapshot *ldapd_snapshot_new(const struct ldapd_snapshot_config *cfg,
                                          const char **error_r);
/* Adds a certificate of address: a new entry, or another value of the previous entry when
 * address repeats it (callers add one address's certificates together). */
int ldapd_snapshot_add(struct ldapd_snapshot *snap, const char *address,
                       const unsigned char *der, size_t len, const char **error_r);
/* Builds the userSMIMECertificate values; after this the snapshot is read only. */
void ldapd_snapshot_finish(struct ldapd_snapshot *snap);
struct ldapd_snapshot *ldapd_snapshot_ref(struct ldapd_snapshot *snap);
void ldapd_snapshot_unref(struct ldapd_snapshot **snap);

/* ---- the directory: a snapshot kept current from the store (ldapd_dir.c) ---- */
struct ldapd_dir;
/* Reads the store on the first acquire and again whenever it changed or time made a
 * certificate start or stop being valid. cfg's strings must outlive the directory. */
struct ldapd_dir *ldapd_dir_new(struct store *st, const struct ldapd_snapshot_config *cfg);
/* A directory that always serves snap (tests, fuzzing); takes the reference. */
struct ldapd_dir *ldapd_dir_new_fixed(struct ldapd_snapshot *snap);
void ldapd_dir_free(struct ldapd_dir **dir);
/* The current snapshot, referenced: give it back with ldapd_snapshot_unref. NULL only if the
 * store could never be read (then searches answer unavailable). */
struct ldapd_snapshot *ldapd_dir_acquire(struct ldapd_dir *dir);

/* ---- filters (ldapd_filter.c) ---- */
enum ldapd_tri { LDAPD_FALSE, LDAPD_TRUE, LDAPD_UNDEFINED };
struct ldapd_filter;
struct berelement;
/* Decodes the filter at the reader's position (at most SG_LDAP_FILTER_DEPTH_MAX deep and
 * SG_LDAP_FILTER_NODES_MAX items). Returns NULL with *rc_r = protocolError (malformed) or
 * adminLimitExceeded (too deep or too large) and *error_r. */
struct ldapd_filter *ldapd_filter_decode(struct berelement *ber, enum ldapd_rc *rc_r,
                                         const char **error_r);
enum ldapd_tri ldapd_filter_eval(const struct ldapd_filter *f, const struct ldapd_entry *e);
/* The people that can match f, from the snapshot's indexes: true with a sorted list of
 * entry numbers (caller frees; every one still needs ldapd_filter_eval), or false when the
 * filter cannot narrow the search (then every entry is a candidate). */
bool ldapd_filter_candidates(const struct ldapd_filter *f, const struct ldapd_snapshot *snap,
                             uint32_t **ids_r, size_t *n_r);
void ldapd_filter_free(struct ldapd_filter **f);
/* True when f can only match entries whose mail equals a value it names: an equality on mail,
 * an and with such a part, an or of such parts; assertions on attributes we do not hold (e.g.
 * (proxyAddresses=smtp:x)) match nothing and count as pinned. What anonymous clients may ask
 * under ldap.anonymous_search = lookup: one finds an address's entry only by knowing it. */
bool ldapd_filter_pinned(const struct ldapd_filter *f);

/* ---- requests (ldapd_request.c) ---- */
struct ldapd_bv {
	const char *p;
	size_t len;
};

struct ldapd_request {
	int msgid;
	unsigned long op;                 /* LDAP_REQ_* tag */
	bool unknown_critical;            /* a critical control we do not support */
	/* bind */
	int version;
	struct ldapd_bv name, cred;
	unsigned long auth_tag;
	/* search */
	struct ldapd_bv base;
	int scope, sizelimit, timelimit;
	bool typesonly;
	struct ldapd_filter *filter;
	struct ldapd_bv attrs[SG_LDAP_ATTRS_MAX];
	size_t nattrs;
	/* extended */
	struct ldapd_bv oid;
	struct berelement *ber;           /* owns the bytes the ldapd_bv fields point into */
};

enum ldapd_frame { LDAPD_FRAME_MORE, LDAPD_FRAME_OK, LDAPD_FRAME_BAD, LDAPD_FRAME_TOO_BIG };
/* Is there a whole LDAPMessage at buf? *pdu_len_r is its size when LDAPD_FRAME_OK. */
enum ldapd_frame ldapd_request_frame(const unsigned char *buf, size_t len, size_t max,
                                     size_t *pdu_len_r);
enum ldapd_decode {
	LDAPD_DECODE_OK,
	LDAPD_DECODE_FAIL,   /* msgid and op known: answer the operation with *rc_r */
	LDAPD_DECODE_BROKEN, /* not an LDAPMessage: notice of disconnection */
};
/* Decodes one framed LDAPMessage. On FAIL req_r->msgid and ->op are set. */
enum ldapd_decode ldapd_request_decode(const void *pdu, size_t len, struct ldapd_request *req_r,
                                       enum ldapd_rc *rc_r, const char **error_r);
void ldapd_request_free(struct ldapd_request *req);

/* ---- replies (ldapd_reply.c): each appends one LDAPMessage; -1 if out is full ---- */
int ldapd_reply_result(struct sg_buf *out, int msgid, unsigned long tag, enum ldapd_rc rc,
                       const char *matched, const char *diag);
int ldapd_reply_extended(struct sg_buf *out, int msgid, enum ldapd_rc rc, const char *diag,
                         const char *oid);
/* Unsolicited notice of disconnection (RFC 4511 §4.4.1). */
int ldapd_reply_notice(struct sg_buf *out, enum ldapd_rc rc, const char *diag);

/* Which attributes a search returns. */
struct ldapd_attrsel {
	bool all;                /* "*" or an empty list */
	bool smime_binary;       /* userSMIMECertificate was asked for as ";binary" only */
	uint32_t mask;           /* 1 << enum ldapd_attr */
};
void ldapd_reply_attrsel(struct ldapd_attrsel *sel, const struct ldapd_bv *attrs, size_t n);
int ldapd_reply_entry(struct sg_buf *out, int msgid, const struct ldapd_entry *e,
                      const struct ldapd_attrsel *sel, bool typesonly);

/* ---- search (ldapd_search.c) ---- */
struct ldapd_search_limits {
	size_t max_results;           /* server ceiling (ldap.max_results) */
	int time_limit_s;             /* server ceiling (ldap.time_limit) */
	int64_t (*now_ms)(void);      /* monotonic clock (tests replace it) */
};
/* Runs req (a search) over snap, appending entries and the SearchResultDone to out. */
void ldapd_search_run(const struct ldapd_snapshot *snap, const struct ldapd_request *req,
                      const struct ldapd_search_limits *lim, struct sg_buf *out);

/* ---- the session machine (ldapd_session.c) ---- */
struct ldapd_config {
	const char *bind_dn;             /* ldap.bind_dn, "" for none */
	const char *bind_password;       /* NULL: simple binds are refused */
	bool allow_anonymous;
	bool anonymous_full;             /* ldap.anonymous_search = full: any filter */
	bool tls_available;
	struct ldapd_search_limits limits;
};
struct ldapd_session;
struct ldapd_session *ldapd_session_new(const struct ldapd_config *cfg, struct ldapd_dir *dir,
                                        const char *peer);
void ldapd_session_free(struct ldapd_session **s);
/* Feeds client bytes; complete requests are answered into the output. Returns how many were
 * taken: fewer than len while the output holds more than SG_LDAP_OUTPUT_SOFT (send it, then
 * call again with the rest), so a client that sends requests without reading the replies is
 * not read from. All are taken (and dropped) after StartTLS or the end. */
size_t ldapd_session_input(struct ldapd_session *s, const void *data, size_t len);
/* Complete requests are waiting, held back by a full output: call ldapd_session_input (len 0
 * is fine) once the output was sent. */
bool ldapd_session_pending(const struct ldapd_session *s);
const char *ldapd_session_output(const struct ldapd_session *s, size_t *len_r);
void ldapd_session_output_consume(struct ldapd_session *s, size_t n);
/* Unbind, a broken request or a notice: send the output, then close. */
bool ldapd_session_closed(const struct ldapd_session *s);
/* StartTLS was accepted: send the output, do the handshake, then call tls_started. */
bool ldapd_session_want_tls(const struct ldapd_session *s);
void ldapd_session_tls_started(struct ldapd_session *s);
/* Idle too long / we are stopping: a notice of disconnection, then close. */
void ldapd_session_timeout(struct ldapd_session *s);
void ldapd_session_shutdown(struct ldapd_session *s);

/* ---- the server loop (ldapd_server.c) ---- */
struct ldapd_server_opts {
	const struct ldapd_config *cfg;
	struct ldapd_dir *dir;
	struct ssl_ctx_st *tls;          /* NULL: no StartTLS */
	unsigned int max_connections;
	int idle_timeout_ms;
	const atomic_int *stop;
	const atomic_int *retire; /* a successor serves: stop accepting, let clients finish */
};
/* Accepts on the listening sockets (taking ownership) until *opts->stop or *opts->retire. On
 * a stop it ends every connection with a notice; on a retire each connection goes on until
 * the client closes it or it is idle for idle_timeout_ms. Returns 0, or -1 with *error_r. */
int ldapd_server_run(const int *listen_fds, size_t n_fds, const struct ldapd_server_opts *opts,
                     const char **error_r);

/* ---- the role ---- */
int ldapd_main(struct role_ctx *ctx);

#endif

/* smtpc.h: the SMTP client that delivers to a next hop: EHLO (HELO fallback), opportunistic
 * STARTTLS, SIZE, 8BITMIME, SMTPUTF8, per-recipient replies, dot-stuffed DATA, and connection
 * reuse (RSET between messages). Replies are hostile input: bounded, strictly parsed. */
#ifndef SG_SMTPC_H
#define SG_SMTPC_H

#include "core/limits.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* ---- replies ---- */
struct smtpc_reply {
	int code;            /* 200..599 */
	char enhanced[16];   /* "2.0.0" from the first line, or "" */
	size_t nlines;
	size_t text_len;
	char text[SG_SMTP_REPLY_MAX]; /* each line's text after "NNN-"/"NNN ", joined by '\n' */
};

/* Parses one complete reply from the front of buf. Returns 1 with *consumed_r set when a
 * whole reply was read, 0 when more bytes are needed, -1 with *error_r when the bytes are not
 * an SMTP reply or exceed SG_SMTP_REPLY_LINE_MAX per line or SG_SMTP_REPLY_MAX in all. */
int smtpc_reply_parse(const char *buf, size_t len, struct smtpc_reply *r, size_t *consumed_r,
                      const char **error_r);
/* One printable line for logs and the spool: "250 2.0.0 Ok: queued as X" (lines joined). */
void smtpc_reply_summary(const struct smtpc_reply *r, char *dst, size_t dstsize);
/* The enhanced status of the reply, or the class default ("4.0.0") if it gave none. */
void smtpc_reply_status(const struct smtpc_reply *r, char *dst, size_t dstsize);

/* ---- results ---- */
enum smtpc_class {
	SMTPC_OK = 2,        /* delivered */
	SMTPC_TEMP = 4,      /* try again later */
	SMTPC_PERM = 5,      /* bounce */
	SMTPC_ABANDONED = 0, /* cancelled by shutdown: leave the recipient as it was */
};

struct smtpc_status {
	enum smtpc_class cls;
	char dsn[16];                      /* enhanced status code, e.g. "5.1.1" */
	char reply[SG_SPOOL_REPLY_MAX];    /* printable reply or reason */
	bool from_remote;                  /* reply came from the peer (Diagnostic-Code: smtp) */
	char remote_reply[SG_SPOOL_REPLY_MAX]; /* the peer's reply alone, when from_remote */
};

/* ---- connections ---- */
/* How much TLS a connection needs (deliver.tls, store_tls_policy.h). */
enum smtpc_tls {
	SMTPC_TLS_MAY = 0,  /* STARTTLS when offered, unauthenticated; the caller may retry in clear */
	SMTPC_TLS_ENCRYPT,  /* STARTTLS required, unauthenticated: no STARTTLS → 4.7.4 */
	SMTPC_TLS_DANE,     /* STARTTLS required and the certificate must match tlsa: else 4.7.5 */
	SMTPC_TLS_PKIX,     /* MTA-STS enforce: STARTTLS required and the certificate must be valid
	                     * for host under pkix_ca_file (PKIX): else 4.7.5 */
};
struct dns_tlsa_list;
struct smtpc_params {
	const char *host;                  /* the name: SNI, DANE reference identity, logs */
	const char *addr;                  /* the IP address to connect to, or NULL: host */
	const char *port;
	const char *helo_name;             /* our name in EHLO/HELO */
	int connect_timeout_ms;
	int timeout_ms;                    /* per reply / per write */
	bool no_starttls;                  /* plain text even if offered */
	const atomic_int *cancel; /* when non-zero, stop and abandon, or NULL */
	const char *log_id;                /* queue id shown in TLS and connection log lines */
	enum smtpc_tls tls;
	const struct dns_tlsa_list *tlsa;  /* SMTPC_TLS_DANE: the host's secure TLSA records */
	const char *pkix_ca_file;          /* SMTPC_TLS_PKIX, pkix_report: trust anchors ("" or
	                                    * NULL: the system store) */
	bool pkix_report;                  /* MTA-STS testing: verify as PKIX would, only report
	                                    * (smtpc_tls_problem) */
};
/* RFC 7672 section 3.1: only DANE-TA(2) and DANE-EE(3), selector 0/1, matching 0/1/2 are
 * usable for SMTP; PKIX-TA(0)/PKIX-EE(1) and unknown values are not. */
struct dns_tlsa;
bool smtpc_tlsa_usable(const struct dns_tlsa *t);

struct smtpc_conn;

/* Connects, reads the greeting, EHLO/HELO and STARTTLS. Returns the connection or NULL with
 * *st_r describing the failure (never SMTPC_OK). *tls_failed_r is set when the failure was the
 * TLS handshake, so the caller may retry with no_starttls. */
struct smtpc_conn *smtpc_connect(const struct smtpc_params *p, struct smtpc_status *st_r,
                                 bool *tls_failed_r);
/* Sends QUIT (best effort) and frees. Accepts NULL. */
void smtpc_close(struct smtpc_conn **c);
/* "host[1.2.3.4]:port" for logs. */
const char *smtpc_relay(const struct smtpc_conn *c);
/* Protocol version of the TLS session ("TLSv1.3") or NULL if none. */
const char *smtpc_tls_version(const struct smtpc_conn *c);
/* How the peer was authenticated: "dane=verified (...)", "pkix=verified", or "" (none). */
const char *smtpc_tls_auth(const struct smtpc_conn *c);
/* With pkix_report: why the peer's certificate would not pass PKIX, or "" (it would). */
const char *smtpc_tls_problem(const struct smtpc_conn *c);
bool smtpc_usable(const struct smtpc_conn *c);
/* Before reusing a connection for another message: RSET. Returns 0 if it answered 250. */
int smtpc_reset(struct smtpc_conn *c, const atomic_int *cancel);

struct smtpc_msg {
	const char *sender;      /* "" for <> */
	const char *const *rcpts;
	size_t nrcpt;
	const char *data;        /* message bytes, LF or CRLF line endings */
	size_t len;
	bool body_8bit;
	bool smtputf8;           /* the envelope asked for SMTPUTF8 */
};

/* One transaction: MAIL, RCPT per recipient, DATA. Fills st[i] for every recipient.
 * Returns 0 if the connection can be reused, -1 if it was lost or is in an unknown state. */
int smtpc_send(struct smtpc_conn *c, const struct smtpc_msg *m, struct smtpc_status *st,
               const atomic_int *cancel);

/* Asks whether the next hop would take mail for rcpt: MAIL FROM:<>, RCPT TO, then RSET (no
 * message is sent). st gets the RCPT reply; a refused MAIL or a failure is SMTPC_TEMP.
 * Returns 0 if the connection can be reused, -1 if it is lost or in an unknown state. */
int smtpc_probe(struct smtpc_conn *c, const char *rcpt, struct smtpc_status *st,
                const atomic_int *cancel);

/* ---- transport, shared by smtpc_session.c and smtpc_io.c ---- */
struct ssl_st;
struct ssl_ctx_st;
struct smtpc_io {
	int fd;
	struct ssl_ctx_st *ctx;
	struct ssl_st *ssl;
	int timeout_ms;
	const atomic_int *cancel;
	bool cancelled;      /* the last failure was a cancellation */
	bool timed_out;      /* the last failure was a timeout */
	size_t rlen;
	char rbuf[SG_SMTP_REPLY_MAX];
	size_t wlen;
	char wbuf[16384];
	int pkix;                 /* 0, or SMTPC_PKIX_REPORT / SMTPC_PKIX_ENFORCE (MTA-STS) */
	const char *pkix_ca_file;
	char pkix_problem[200];   /* why PKIX failed, when it did */
};
enum { SMTPC_PKIX_REPORT = 1, SMTPC_PKIX_ENFORCE = 2 };
void smtpc_io_init(struct smtpc_io *io, int fd, int timeout_ms);
/* Reads one whole reply. -1 with *error_r on timeout, cancel, lost connection or garbage. */
int smtpc_io_read_reply(struct smtpc_io *io, struct smtpc_reply *r, const char **error_r);
/* Buffered write; smtpc_io_flush sends what is buffered. */
int smtpc_io_write(struct smtpc_io *io, const char *p, size_t n, const char **error_r);
int smtpc_io_flush(struct smtpc_io *io, const char **error_r);
/* TLS handshake on the connected socket: without tlsa no certificate verification
 * (opportunistic or mandatory unauthenticated TLS); with tlsa (its usable records) the
 * handshake succeeds only if the peer's chain matches one (DANE, smtpc_dane.c), and
 * auth_r (size authsize) then describes the match. */
int smtpc_io_starttls(struct smtpc_io *io, const char *sni, const struct dns_tlsa_list *tlsa,
                      char *auth_r, size_t authsize, const char **error_r);
/* smtpc_dane.c: DANE on an SSL about to connect, and its verdict after the handshake. */
int smtpc_dane_prepare(struct ssl_ctx_st *ctx, struct ssl_st *ssl, const char *host,
                       const struct dns_tlsa_list *tlsa, const char **error_r);
int smtpc_dane_verdict(struct ssl_st *ssl, char *auth_r, size_t authsize, const char **error_r);
/* smtpc_pkix.c: PKIX for MTA-STS (io->pkix): anchors and the host name before the handshake;
 * after it "pkix=verified" in auth_r, or the reason in io->pkix_problem (-1 if enforced). */
int smtpc_pkix_prepare(struct smtpc_io *io, const char *host, const char **error_r);
int smtpc_pkix_verdict(struct smtpc_io *io, const char *host, char *auth_r, size_t authsize,
                       const char **error_r);
const char *smtpc_io_tls_version(const struct smtpc_io *io);
const char *smtpc_io_tls_cipher(const struct smtpc_io *io);
void smtpc_io_close(struct smtpc_io *io);

/* Writes m->data with dot-stuffing and CRLF line endings, ending in ".\r\n", through fn. */
int smtpc_data_encode(const char *data, size_t len,
                      int (*fn)(void *ctx, const char *p, size_t n), void *ctx);

#endif

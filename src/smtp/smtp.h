/* smtp.h: the SMTP server of sealgate (RFC 5321 with PIPELINING, SIZE, 8BITMIME, SMTPUTF8,
 * ENHANCEDSTATUSCODES, STARTTLS). A pure session machine turns input bytes into reply bytes and
 * message events; the server loop adds sockets, TLS and threads; smtpd_main wires in the spool. */
#ifndef SG_SMTP_H
#define SG_SMTP_H

#include "core/limits.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct role_ctx;
struct sg_cidr;
struct sg_strlist;
struct ssl_ctx_st;

/* ---- addresses (smtp_addr.c), also for other modules ---- */
#define SMTP_ADDR_F_UTF8    0x1u /* SMTPUTF8 was given: UTF-8 allowed in local part and domain */
#define SMTP_ADDR_F_NULL_OK 0x2u /* the null path <> is allowed (MAIL FROM) */
#define SMTP_LOCALPART_MAX  64   /* RFC 5321 §4.5.3.1.1 */

enum smtp_addr_error {
	SMTP_ADDR_OK,
	SMTP_ADDR_ESYNTAX,  /* not a path of RFC 5321 §4.1.2 */
	SMTP_ADDR_ELENGTH,  /* local part, domain, label or path too long */
	SMTP_ADDR_EUTF8,    /* non-ASCII without SMTP_ADDR_F_UTF8 */
};

struct smtp_addr {
	char addr[SG_ADDR_MAX];          /* normalised mailbox without <>; "" for the null path */
	char domain[SG_DOMAIN_MAX + 1];  /* lower-cased (ASCII) domain or [literal]; "" for <> */
	bool utf8;                       /* addr holds non-ASCII bytes */
	enum smtp_addr_error why;        /* set on failure */
};

/* Parses a whole path "<[@route,...:]local@domain>" of len bytes. Source routes are dropped,
 * quoted local parts are unquoted when they need no quotes, the domain is lower-cased.
 * Returns 0, or -1 with addr_r->why and *error_r. */
int smtp_addr_parse(const char *s, size_t len, unsigned int flags, struct smtp_addr *addr_r,
                    const char **error_r);
/* Length of the path at s (from '<' through the matching '>', quotes honoured), 0 if s does
 * not start one or it is not closed within len bytes. */
size_t smtp_addr_path_len(const char *s, size_t len);
/* Length of the valid UTF-8 sequence at s (1..4), 0 if the bytes are not one. */
size_t smtp_addr_utf8_len(const unsigned char *s, size_t len);

/* ---- command parsing (smtpd_parse.c) ---- */
enum smtpd_verb {
	SMTPD_V_UNKNOWN,
	SMTPD_V_HELO,
	SMTPD_V_EHLO,
	SMTPD_V_MAIL,
	SMTPD_V_RCPT,
	SMTPD_V_DATA,
	SMTPD_V_RSET,
	SMTPD_V_NOOP,
	SMTPD_V_QUIT,
	SMTPD_V_VRFY,
	SMTPD_V_HELP,
	SMTPD_V_STARTTLS,
	SMTPD_V_COUNT
};

struct smtpd_cmd {
	enum smtpd_verb verb;
	char *arg;                 /* after the verb and its spaces, trailing spaces cut; "" if none */
};

/* Splits a command line (NUL-terminated, CRLF already removed) in place; verbs are
 * case-insensitive. Returns the verb (SMTPD_V_UNKNOWN for anything else). */
enum smtpd_verb smtpd_parse_command(char *line, struct smtpd_cmd *cmd_r);
/* Lower-case name of a verb for logs ("ehlo"). */
const char *smtpd_parse_verb_name(enum smtpd_verb verb);

#define SMTPD_PARAMS_MAX 8

struct smtpd_param {
	const char *key;           /* esmtp-keyword */
	const char *value;         /* esmtp-value, or NULL when none was given */
};

struct smtpd_mailrcpt {
	const char *path;          /* "<...>", path_len bytes, not NUL-terminated */
	size_t path_len;
	struct smtpd_param params[SMTPD_PARAMS_MAX];
	size_t nparams;
};

/* What a MAIL/RCPT argument can be wrong with; the session maps each to a reply. */
enum smtpd_parse_error {
	SMTPD_PARSE_OK,
	SMTPD_PARSE_SYNTAX,        /* no "FROM:"/"TO:" or no '<' */
	SMTPD_PARSE_PATH,          /* path not closed */
	SMTPD_PARSE_PARAM,         /* a parameter is malformed */
	SMTPD_PARSE_TOO_MANY,      /* more than SMTPD_PARAMS_MAX parameters */
};

/* Parses "FROM:<path> KEY=VALUE ..." (prefix "FROM:" or "TO:", case-insensitive) in place. */
enum smtpd_parse_error smtpd_parse_mailrcpt(char *arg, const char *prefix,
                                            struct smtpd_mailrcpt *r);

/* ---- DATA decoding (smtpd_data.c): end of data, dot-unstuffing, smuggling defence ---- */
enum smtpd_data_status {
	SMTPD_DATA_OK,
	SMTPD_DATA_TOO_BIG,        /* more than max_size bytes */
	SMTPD_DATA_BARE_EOL,       /* a bare LF or bare CR */
	SMTPD_DATA_LINE_TOO_LONG,  /* a line longer than SG_SMTP_DATA_LINE_MAX */
	SMTPD_DATA_SINK_ERROR,     /* the sink refused a write */
};

/* Receives unstuffed lines with their CRLF; returns 0 or -1 (then nothing more is sent). */
typedef int smtpd_data_sink_fn(void *ctx, const void *data, size_t len);

struct smtpd_data {
	char *line;                /* the current line, at most SG_SMTP_DATA_LINE_MAX + 2 bytes */
	size_t line_len;
	bool skipping;             /* in a line that was too long: drop bytes up to LF */
	bool skip_last_cr;
	bool prev_crlf;            /* the previous line ended in CRLF (or data just began) */
	bool done;                 /* CRLF.CRLF seen */
	size_t size;               /* bytes given to the sink */
	size_t max_size;
	enum smtpd_data_status status; /* the first problem wins */
	smtpd_data_sink_fn *sink;
	void *sink_ctx;
};

void smtpd_data_init(struct smtpd_data *d, size_t max_size, smtpd_data_sink_fn *sink, void *ctx);
/* Consumes bytes up to and including the end-of-data line; returns how many were used (less
 * than len only when d->done). Only <CR><LF>.<CR><LF> ends data. */
size_t smtpd_data_feed(struct smtpd_data *d, const void *data, size_t len);
void smtpd_data_free(struct smtpd_data *d);

/* ---- the session machine (smtpd_session.c, smtpd_cmds.c) ---- */
/* Whether a recipient of an internal domain exists (smtp.verify_recipients). */
enum smtpd_rcpt_check {
	SMTPD_RCPT_OK,       /* a mailbox: accept */
	SMTPD_RCPT_UNKNOWN,  /* no such mailbox: 550 5.1.1 in the session */
	SMTPD_RCPT_TEMPFAIL, /* cannot tell now: 450, the client tries later */
};
typedef enum smtpd_rcpt_check smtpd_rcpt_check_fn(void *ctx, const char *addr);

struct smtpd_config {
	const char *hostname;               /* gateway.hostname */
	size_t max_message_size;            /* smtp.max_message_size */
	size_t max_recipients;              /* smtp.max_recipients */
	unsigned int max_errors;            /* smtp.max_errors */
	const struct sg_strlist *internal_domains; /* gateway.internal_domains */
	bool tls_available;                 /* offer STARTTLS */
	/* Asked for each recipient a client outside smtp.internal_networks gives (those are of
	 * an internal domain); NULL: every local part is accepted. May block (a callahead). */
	smtpd_rcpt_check_fn *check_rcpt;
	void *check_ctx;
};

struct smtpd_rcpt {
	char *addr;
	char *orcpt;                        /* ORCPT as given, or NULL */
};

/* What the session hands to the sink when a message is complete. */
struct smtpd_envelope {
	const char *queue_id;
	const char *sender;                 /* "" for <> */
	const struct smtpd_rcpt *rcpts;
	size_t nrcpt;
	const char *client_addr;
	const char *client_helo;
	bool internal_client;
	bool smtputf8;
	bool body_8bit;
	bool tls;
	size_t size;                        /* bytes written, our Received header included */
};

/* The message sink. Every call returns 0, or -1 with a short *error_r for the 451 reply.
 * After begin succeeded exactly one of commit or abort follows. */
struct smtpd_hooks {
	void *ctx;
	/* A message starts (after DATA): open the sink, write its queue id into id_r. */
	int (*begin)(void *ctx, char id_r[SG_QUEUE_ID_MAX], const char **error_r);
	int (*write)(void *ctx, const void *data, size_t len, const char **error_r);
	/* Make it durable: the 250 is sent only when this returns 0. */
	int (*commit)(void *ctx, const struct smtpd_envelope *env, const char **error_r);
	void (*abort)(void *ctx);
};

struct smtpd_session;

/* A new session for a connected client; the greeting is already in the output. */
struct smtpd_session *smtpd_session_new(const struct smtpd_config *cfg,
                                        const struct smtpd_hooks *hooks,
                                        const char *client_addr, bool internal_client);
/* Aborts a message in progress, logs the disconnect line, frees. */
void smtpd_session_free(struct smtpd_session **s);
/* Feeds client bytes; returns how many were used. Fewer than len means "drain the output
 * first, then call again with the rest". After STARTTLS or the end of the session the rest
 * of the input is discarded (and counted as used). */
size_t smtpd_session_input(struct smtpd_session *s, const void *data, size_t len);
/* Reply bytes waiting to be sent, and how many of them were sent. */
const char *smtpd_session_output(const struct smtpd_session *s, size_t *len_r);
void smtpd_session_output_consume(struct smtpd_session *s, size_t n);
/* The session is over: send the output, then close. */
bool smtpd_session_closed(const struct smtpd_session *s);
/* STARTTLS was accepted: send the output, do the handshake, then call tls_started. */
bool smtpd_session_want_tls(const struct smtpd_session *s);
void smtpd_session_tls_started(struct smtpd_session *s, const char *version);
/* Receiving message data (the data timeout applies). */
bool smtpd_session_in_data(const struct smtpd_session *s);
/* Changes whenever a command line was complete or message data ended: the server's command
 * and data deadlines count from the last change, not from the last byte. */
unsigned long smtpd_session_progress(const struct smtpd_session *s);
/* Message bytes taken since the current DATA began (0 outside DATA). */
size_t smtpd_session_data_bytes(const struct smtpd_session *s);
/* Waiting for a command with no mail transaction and no partial line. */
bool smtpd_session_idle(const struct smtpd_session *s);
/* The client was silent too long: 421 4.4.2 and close. */
void smtpd_session_timeout(struct smtpd_session *s);
/* We are stopping: 421 4.3.2 and close. */
void smtpd_session_shutdown(struct smtpd_session *s);

/* ---- recipient verification (smtpd_verify.c): a smtpd_rcpt_check_fn for smtpd_config ---- */
enum smtpd_verify_mode { SMTPD_VERIFY_OFF, SMTPD_VERIFY_CALLAHEAD, SMTPD_VERIFY_DIRECTORY };
struct smtpd_verify_opts {
	enum smtpd_verify_mode mode;
	const char *host, *port;     /* callahead: route.internal's SMTP server */
	const char *helo_name;
	int timeout_ms;              /* callahead: per connect and per reply */
	int positive_ttl_s;          /* callahead: how long answers are remembered */
	int negative_ttl_s;
	const char *map_path;        /* directory: the list the tick role exports, one a line */
};
struct smtpd_verify;
struct smtpd_verify *smtpd_verify_new(const struct smtpd_verify_opts *o);
void smtpd_verify_free(struct smtpd_verify **v);
/* ctx is a struct smtpd_verify; thread-safe. A probe that fails is TEMPFAIL, never OK. */
enum smtpd_rcpt_check smtpd_verify_check(void *ctx, const char *addr);
/* Name of the list file inside the spool directory (written by the tick role). */
#define SMTPD_VERIFY_MAP_NAME "recipients"

/* ---- TLS (smtp_tls.c) ---- */
/* A server context (TLS 1.2+) from PEM files; NULL with *error_r. Free with SSL_CTX_free. */
struct ssl_ctx_st *smtp_tls_server_ctx(const char *cert_file, const char *key_file,
                                       const char **error_r);

/* ---- the server loop (smtpd_server.c) ---- */
struct smtpd_server_opts {
	struct smtpd_config session;
	struct ssl_ctx_st *tls;             /* NULL: no STARTTLS */
	const struct sg_cidr *internal_nets;
	size_t n_internal_nets;
	unsigned int max_sessions;
	unsigned int max_sessions_per_client; /* sessions from one client address */
	int command_timeout_ms;              /* total for one command line */
	int data_timeout_ms;                 /* total for DATA, plus ... */
	size_t min_data_rate;                /* ... one second per this many bytes received */
	int drain_timeout_ms;
	const atomic_int *stop;  /* set when we should stop (daemon_stop_requested) */
	const atomic_int *retire; /* a successor serves: stop accepting, sessions end by themselves */
	/* Per connection the sink's ctx comes from sink_new(sink_arg) and goes to sink_free. */
	struct smtpd_hooks hooks;
	void *(*sink_new)(void *arg);
	void (*sink_free)(void *ctx);
	void *sink_arg;
};

/* Accepts on the listening sockets (taking ownership) until *opts->stop or *opts->retire is
 * set, then drains for at most drain_timeout_ms: on a stop an idle session is told 421, on a
 * retire it may go on (more mail, QUIT) until the drain timeout. Returns 0, or -1 with
 * *error_r. */
int smtpd_server_run(const int *listen_fds, size_t n_fds, const struct smtpd_server_opts *opts,
                     const char **error_r);

/* ---- the role ---- */
int smtpd_main(struct role_ctx *ctx);

#endif

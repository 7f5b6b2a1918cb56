/* portal_priv.h: private to portal/: the request and response a page handler sees, the
 * role's context, and the handlers the router (portal_pages.c) dispatches to. */
#ifndef SG_PORTAL_PRIV_H
#define SG_PORTAL_PRIV_H

#include "portal/portal.h"
#include "core/sg_str.h"
#include "enrol/enrol.h"
#include "mime/mime.h"
#include "notify/notify.h"
#include "store/store.h"
#include "webmail/webmail.h"

#include <microhttpd.h>
#include <stdatomic.h>

struct settings;
struct keystore;
struct ca;

struct spool;
struct sg_cidr;

struct portal_ctx {
	struct store *st;
	struct keystore *ks;
	struct ca *ca;         /* issues employees' certificates (NULL: enrolment unavailable) */
	struct spool *spool;   /* mail the portal sends (notices, released and written mail) */
	const struct settings *set;
	bool tls;
	bool https;            /* browsers come by HTTPS (portal.tls or portal.public_https) */
	struct sg_cidr *proxies; /* portal.trusted_proxies */
	size_t nproxies;
	struct store_throttle_policy throttle;
	const char *org;
	size_t min_password;
	time_t idle_s, max_s;  /* session idle and absolute timeouts */
	time_t next_expiry;    /* when stale sessions are purged next (atomic: threads share it) */
	unsigned int per_client; /* portal.connections_per_client (0: no limit) */
	unsigned int threads;    /* portal.threads: requests served at once */
	struct portal_conns *conns; /* open connections and their request deadlines */
	size_t upload_budget;    /* portal.max_upload_memory */
	size_t upload_used;      /* of it, counted now (atomic: threads share it) */
	char upload_dir[SG_PATH_MAX]; /* where messages being received wait (the spool's tmp/) */
	unsigned char anon_key[32]; /* derives anonymous visitors' CSRF tokens (kept in the store) */
	unsigned char cookie_key[32]; /* MACs the signed cookies (portal_cookie.c; kept alike) */
	atomic_bool serving;     /* the HTTP server has started (its messages are about clients) */
	struct directory *dir;   /* employee logins (directory.*), NULL when none or broken */
	bool dir_enabled;        /* directory.url is set (names without "@" go to it) */
	struct sg_strlist internal_domains; /* gateway.internal_domains: employees' addresses */
};

/* What a session may do next. Each step's page needs its stage exactly, and each stage is
 * given only by the step before it (in a new session), so no step can be skipped. */
enum portal_stage {
	PORTAL_ANON = 0,
	PORTAL_REGISTERING = 1,     /* OTP accepted: choose the password */
	PORTAL_LOGGED_IN = 2,
	PORTAL_QUESTIONS = 3,       /* password chosen: the security questions finish registration */
	PORTAL_RESET_ANSWERS = 4,   /* forgot password: address given, answer the questions */
	PORTAL_RESET_PASSWORD = 5,  /* answers right: choose a new password */
	PORTAL_EMPLOYEE = 6,        /* an employee logged in with the directory password */
};

struct portal_req {
	struct portal_ctx *ctx;
	struct MHD_Connection *conn;
	const char *method, *path;
	char client[64];
	const char *body;
	size_t body_len;
	bool too_big;
	bool busy;                    /* the body was dropped: over portal.max_upload_memory */
	enum portal_lang lang;
	struct portal_form form;      /* parsed body of a POST */
	struct store_portal_session sess;
	bool has_sess;
	char sess_token[PORTAL_TOKEN_HEX]; /* set when a new cookie must be sent */
	time_t now;
};

#define PORTAL_COOKIES_MAX 3
/* A download's file name: a webmail part's (WEBMAIL_NAME_MAX) or an enrolment's (an address) */
#define PORTAL_ATTACHMENT_MAX (SG_ADDR_MAX + 64)
/* attachment; filename="<name>"; filename*=UTF-8''<name, each byte as %XX> */
#define PORTAL_DISPOSITION_MAX (48 + 4 * PORTAL_ATTACHMENT_MAX)
struct portal_resp {
	unsigned status;
	struct sg_buf body;
	const char *content_type;
	char location[256];
	char cookies[PORTAL_COOKIES_MAX][768]; /* a reset cookie carries an address in hex */
	size_t ncookies;
	bool cacheable;
	bool wide;           /* the page needs room (a folder, a message) */
	/* A download's file name (UTF-8): sent as Content-Disposition: attachment, RFC 6266/5987
	 * (portal_part_disposition), or "". */
	char attachment[PORTAL_ATTACHMENT_MAX];
	unsigned char *blob; /* a webmail part, sent instead of body (then wiped and freed) */
	size_t blob_len;
};

/* portal_server.c */
const char *portal_server_header(struct portal_req *req, const char *name);
const char *portal_server_query(struct portal_req *req, const char *name);
const char *portal_server_cookie(struct portal_req *req, const char *name);
/* Starts serving on the listening sockets; NULL with *error_r if it cannot. */
struct MHD_Daemon *portal_server_start(struct portal_ctx *ctx, const int *fds, size_t nfds,
                                       const char *cert_pem, const char *key_pem,
                                       const char **error_r);
/* Serves until daemon_leaving(), lets requests in flight end, stops; the socket stays open. */
void portal_server_serve(struct portal_ctx *ctx, struct MHD_Daemon *d);

/* portal_conns.c: total deadlines per request (headers, then headers and body), on top of
 * libmicrohttpd's idle timeout. The server hooks each connection's steps in; its main loop
 * calls portal_conns_reap, which cuts the connections past their deadline. */
struct portal_conns;
struct portal_conns *portal_conns_new(int64_t header_ms, int64_t request_ms);
void portal_conns_free(struct portal_conns **tp);
/* MHD_OPTION_NOTIFY_CONNECTION's callback; cls is the table. */
void portal_conns_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                         enum MHD_ConnectionNotificationCode toe);
void portal_conns_headers_done(struct MHD_Connection *c);
void portal_conns_replying(struct MHD_Connection *c);
void portal_conns_request_done(struct MHD_Connection *c);
/* How many connections were cut now. */
size_t portal_conns_reap(struct portal_conns *t, int64_t now_ms);

/* portal_upload.c: a request body as it arrives, in memory (small ones) or in an unlinked
 * temporary file (a logged-in partner's message), counted against portal.max_upload_memory. */
struct portal_body {
	struct portal_ctx *ctx;
	struct sg_buf mem;
	int fd;          /* the temporary file, or -1 */
	size_t len, max; /* bytes received, the ceiling */
	size_t counted;  /* bytes counted against the budget now */
	void *map;       /* the file mapped for the handler */
	bool too_big;    /* over max: dropped, answered 413 */
	bool busy;       /* over the budget (or the file failed): dropped, answered 503 */
};
void portal_upload_start(struct portal_ctx *ctx, struct portal_body *b, size_t max, bool to_file);
void portal_upload_add(struct portal_body *b, const char *data, size_t len);
/* The whole body for the handler ("" when there is none or it was dropped). */
const char *portal_upload_body(struct portal_body *b, size_t *len_r);
/* Frees the body and gives its bytes back to the budget; again is harmless. */
void portal_upload_free(struct portal_body *b);

/* portal_pages.c: the router and the shared page frame */
void portal_pages_handle(struct portal_req *req, struct portal_resp *resp);
void portal_pages_frame(struct portal_req *req, struct portal_resp *resp, const char *title_key,
                        const char *msg_html, const char *content_html);
/* A page that says what went wrong (text_key), with status. */
void portal_pages_error(struct portal_req *req, struct portal_resp *resp, unsigned status,
                        const char *text_key);
/* A message paragraph (escaped text) for msg_html; kind "error" or "ok". */
void portal_pages_msg(struct sg_buf *b, const char *kind, const char *text, const char *detail);
void portal_pages_redirect(struct portal_resp *resp, const char *location);
void portal_pages_cookie(struct portal_req *req, struct portal_resp *resp, const char *name,
                         const char *value, long max_age);
/* Replaces the request's session by a new anonymous one (not stored; a new cookie). */
void portal_pages_new_anonymous(struct portal_req *req);
/* Replaces the request's session by a new one for user at stage (new id, new CSRF token). */
int portal_pages_new_session(struct portal_req *req, int64_t user_id, const char *address,
                             enum portal_stage stage);
void portal_pages_audit(struct portal_req *req, const char *event, const char *address,
                        const char *detail);
/* The same, only while fewer than max `event` entries of address are at or after since,
 * counted and added in one store transaction (parallel requests cannot both pass the count).
 * 1: added; 0: the cap is reached; -1: store error (logged). */
int portal_pages_audit_capped(struct portal_req *req, const char *event, const char *address,
                              const char *detail, time_t since, size_t max);
/* Where to go after logging in: the "next" form field (POST) or query parameter (GET) when it
 * is a local path (starts with one "/", only [A-Za-z0-9/_.-], no "//"), else NULL. */
const char *portal_pages_next(struct portal_req *req);

/* portal_login.c: log in, log out, register */
void portal_login_get(struct portal_req *req, struct portal_resp *resp);
void portal_login_post(struct portal_req *req, struct portal_resp *resp);
void portal_login_logout(struct portal_req *req, struct portal_resp *resp);
void portal_login_logout_all(struct portal_req *req, struct portal_resp *resp);
void portal_login_register_get(struct portal_req *req, struct portal_resp *resp);
void portal_login_register_post(struct portal_req *req, struct portal_resp *resp);
void portal_login_password_get(struct portal_req *req, struct portal_resp *resp);
void portal_login_password_post(struct portal_req *req, struct portal_resp *resp);
struct portal_attempt;
/* The login form again: with the wait of locked (429 set by the caller's status), or with the
 * error text msg_key (NULL: none). */
void portal_login_form(struct portal_req *req, struct portal_resp *resp,
                       const struct portal_attempt *locked, const char *msg_key);

/* portal_employee.c: employees log in with the directory password; their home page */
/* Whether what was typed at login names an employee: with directory.url set, an address of
 * gateway.internal_domains or a name without "@". */
bool portal_employee_is_login(const struct portal_ctx *ctx, const char *name);
/* The login of an employee after the throttle reserved the attempt at. */
void portal_employee_login(struct portal_req *req, struct portal_resp *resp,
                           const struct portal_attempt *at);
void portal_employee_home(struct portal_req *req, struct portal_resp *resp);
/* portal_throttle.c: every form that checks a secret (password, OTP, reset answers) first
 * reserves the attempt, before the check, on the client address ("ip:CLIENT") and, when an
 * address is given, on the account ("acct:ADDRESS"), or instead on the browser when it holds
 * a known-device cookie for that address ("dev:ID"): see store_portal_throttle_reserve. */
struct portal_attempt {
	char keys[2][SG_ADDR_MAX + 8];
	const char *kp[2];
	size_t n;
	time_t wait; /* refused: seconds to wait; counted: the wait this attempt started */
};
/* True when the attempt may go on (it is counted); false when it must wait (a->wait). */
bool portal_throttle_reserve(struct portal_req *req, const char *address,
                             struct portal_attempt *a);
/* The reserved attempt was right: the client's count gets it back, the account's (or the
 * browser's) count is reset. */
void portal_throttle_succeeded(struct portal_req *req, const struct portal_attempt *a);
/* The wait in whole minutes (at least 1), for the "err_locked" message's detail. */
void portal_throttle_minutes(const struct portal_attempt *a, char *buf, size_t size);

/* portal_cookie.c: signed cookies that spare the store a row. The known-device cookie marks
 * a browser that logged in to an address (180 days); the reset cookie carries the address of
 * a password reset for 15 minutes, bound to the anonymous session. */
void portal_cookie_device_set(struct portal_req *req, struct portal_resp *resp,
                              const char *address);
/* The browser's device id (PORTAL_DEVICE_HEX) when its cookie is valid for address. */
#define PORTAL_DEVICE_HEX 33
bool portal_cookie_device_id(struct portal_req *req, const char *address, char *id_r);
void portal_cookie_reset_set(struct portal_req *req, struct portal_resp *resp,
                             const char *address);
void portal_cookie_reset_clear(struct portal_req *req, struct portal_resp *resp);
/* The address of a valid reset cookie of this session into addr_r (SG_ADDR_MAX). */
bool portal_cookie_reset_address(struct portal_req *req, char *addr_r);

/* portal_client.c: the client address of a request into dst: the peer's, or behind one of
 * portal.trusted_proxies the rightmost X-Forwarded-For hop that is not a trusted proxy. */
void portal_client_address(const struct portal_ctx *ctx, struct MHD_Connection *c, char *dst,
                           size_t size);
/* The walk behind it: dst holds the trusted peer's address and becomes the client named by
 * the X-Forwarded-For lines (in the order received). */
void portal_client_forwarded(const struct sg_cidr *proxies, size_t n, const char *const *lines,
                             size_t nlines, char *dst, size_t size);

/* A new password for user_id (pw repeated in pw2, by the registration rules): the SecurePDF
 * record and the login hash are replaced. NULL, or the text key of what is wrong (with
 * *detail_r from the password check). */
const char *portal_login_new_password(struct portal_req *req, int64_t user_id,
                                      const char *address, const char *pw, const char *pw2,
                                      const char **detail_r);

/* portal_questions.c: the security questions: the compiled-in list, answers (normalised, then
 * Argon2id), the registration step that saves them, and the stand-in questions shown for
 * addresses that cannot reset (so the page tells nothing about accounts). */
#define PORTAL_ANSWER_MAX 128 /* bytes of one answer as typed */
size_t portal_questions_count(void);
/* The i-th question's key (its text is the i18n text of the same key), NULL past the end. */
const char *portal_questions_key(size_t i);
bool portal_questions_known(const char *key);
/* Trims, collapses inner white space (ASCII and Unicode spaces) to one space, lower-cases
 * ASCII and Latin-1 letters; other UTF-8 passes through. Refuses empty answers, answers over
 * PORTAL_ANSWER_MAX bytes, invalid UTF-8 and control characters. out: PORTAL_ANSWER_MAX + 1. */
int portal_questions_normalize(const char *answer, char *out, size_t size, const char **error_r);
/* The Argon2id string (STORE_PORTAL_HASH_MAX) of the normalised answer. */
int portal_questions_hash_answer(const char *answer, char *out, size_t size,
                                 const char **error_r);
/* True only when all three answers match; all three are always checked. */
bool portal_questions_check(const struct store_portal_question q[STORE_PORTAL_QUESTIONS],
                            const char *const answers[STORE_PORTAL_QUESTIONS]);
/* Three different question keys chosen from address (case-insensitive) keyed by key. */
void portal_questions_decoy(const unsigned char key[32], const char *address,
                            const char *keys_r[STORE_PORTAL_QUESTIONS]);
/* The questions a reset of address asks: the account's own when it registered itself
 * (*user_id_r its id), else stand-ins with no answer (*user_id_r 0). */
int portal_questions_for(struct portal_req *req, const char *address,
                         struct store_portal_question q_r[STORE_PORTAL_QUESTIONS],
                         int64_t *user_id_r, const char **error_r);
/* The three answer fields (labelled with the questions' texts) as HTML, for a form. */
void portal_questions_answer_fields(struct portal_req *req, struct sg_buf *b,
                                    const struct store_portal_question q[STORE_PORTAL_QUESTIONS]);
/* The registration step after the password (/register/questions): registration completes,
 * the OTP is consumed and held mail is released only when the questions are saved. */
void portal_questions_register_get(struct portal_req *req, struct portal_resp *resp);
void portal_questions_register_post(struct portal_req *req, struct portal_resp *resp);

/* portal_reset.c: forgot password (questions, then a new password) and change password */
void portal_reset_forgot_get(struct portal_req *req, struct portal_resp *resp);
void portal_reset_forgot_post(struct portal_req *req, struct portal_resp *resp);
void portal_reset_answers_get(struct portal_req *req, struct portal_resp *resp);
void portal_reset_answers_post(struct portal_req *req, struct portal_resp *resp);
void portal_reset_password_get(struct portal_req *req, struct portal_resp *resp);
void portal_reset_password_post(struct portal_req *req, struct portal_resp *resp);
void portal_reset_change_get(struct portal_req *req, struct portal_resp *resp);
void portal_reset_change_post(struct portal_req *req, struct portal_resp *resp);

/* portal_resetcode.c: the code a reset mails to the partner (8 digits, 15 minutes, once) and
 * the partner's mails about their password, in the page's language. */
#define PORTAL_RESETCODE_VALID_S (15 * 60)
/* Mails user_id (at address) a new code unless the daily caps (portal.reset_codes_per_day,
 * portal.max_resets_per_day) are reached; the audit log says which. */
void portal_resetcode_issue(struct portal_req *req, int64_t user_id, const char *address);
/* Takes the code typed for user_id when answers_right and it is the live one; any other try
 * counts against the code (the third kills it). */
bool portal_resetcode_take(struct portal_req *req, int64_t user_id, const char *typed,
                           bool answers_right);
/* portal.max_resets_per_day completed resets of address in the last day (or an error). */
bool portal_resetcode_limit_reached(struct portal_req *req, const char *address);
/* A mail to the partner at address (code: the reset code, or NULL). */
void portal_resetcode_notice(struct portal_req *req, const char *address, enum notify_kind kind,
                             const char *code);

/* portal_ca.c: the CA certificate and its CRL, DER, for anyone (no session). */
void portal_ca_crl_get(struct portal_req *req, struct portal_resp *resp);
void portal_ca_cert_get(struct portal_req *req, struct portal_resp *resp);

/* portal_account.c: the overview, the channel and uploads */
void portal_account_get(struct portal_req *req, struct portal_resp *resp);
void portal_account_channel(struct portal_req *req, struct portal_resp *resp);
void portal_account_upload(struct portal_req *req, struct portal_resp *resp);

/* portal_enrol.c: the links of employees' enrolments and renewals (/employee/pin/TOKEN, and
 * /employee/link/ID for the managers of shared mailboxes), each also with /download. */
void portal_enrol_link_get(struct portal_req *req, struct portal_resp *resp);
/* True for the paths of those links (a visitor is sent to the login and comes back). */
bool portal_enrol_route(const char *path);
void portal_enrol_managed_get(struct portal_req *req, struct portal_resp *resp);
/* The address of the employee this request's session belongs to (PORTAL_EMPLOYEE), or NULL. */
const char *portal_enrol_employee(struct portal_req *req);
struct enrol_ctx portal_enrol_ctx(struct portal_req *req);
/* YYYY-MM-DD of t ("-" for 0). */
void portal_enrol_day(time_t t, char *dst, size_t size);
/* A page titled by title_key: the message key (kind "ok"/"error", or NULL) and content. */
void portal_enrol_page(struct portal_req *req, struct portal_resp *resp, const char *title_key,
                       const char *kind, const char *key, const char *content);

/* portal_enrol_home.c: the enrolment part of the employee's home page (appended to b), its
 * messages, and "Getting started" (POST /employee/enrol: a new certificate by mail, own or a
 * managed shared mailbox's). */
void portal_enrol_home(struct portal_req *req, struct sg_buf *b);
void portal_enrol_home_msg(struct portal_req *req, struct sg_buf *msg);
void portal_enrol_home_post(struct portal_req *req, struct portal_resp *resp);

/* portal_compose.c: mail a partner writes on the portal ("New message", and the SecurePDF
 * Reply link /reply/TOKEN): to internal addresses only, sent as the session's address. */
#define PORTAL_CC_MAX 20 /* other recipients of a reply to all */
/* What the form asks for, as checked. Strings point into the request's form. */
struct portal_draft {
	char to[SG_ADDR_MAX];
	char cc[PORTAL_CC_MAX][SG_ADDR_MAX]; /* a reply to all: its other (internal) recipients */
	size_t ncc;
	const char *subject, *text;
	char in_reply_to[STORE_MSGID_MAX];
	bool fixed_to;           /* a reply: the recipients come from the message, not the form */
	struct mime_attachment *att;
	size_t natt;
	char id[SG_QUEUE_ID_MAX];
	bool not_kept;           /* sent, but its copy in the Sent folder failed */
};
/* The form for d (fixed_to: its recipients shown, not editable), with subject and text. */
void portal_compose_form(struct portal_req *req, struct portal_resp *resp,
                         const struct portal_draft *d, const char *subject, const char *text);
/* Checks the form's fields against d and the limits, sends, answers with the confirmation
 * or the form and what to change. */
void portal_compose_submit(struct portal_req *req, struct portal_resp *resp,
                           struct portal_draft *d);
/* d's recipients as "a, b, c" (with_to: To first, else only the others). */
void portal_compose_join(const struct portal_draft *d, bool with_to, char *dst, size_t size);
/* True for the paths whose POST carries a message (/compose, /reply/..., a webmail reply). */
bool portal_compose_route(const char *path);
/* The body ceiling for a POST to path: policy.max_encrypted_size (bounded by
 * SG_HTTP_COMPOSE_BODY_MAX) when it is a message route and session_cookie names a logged-in
 * session, else 0 (the default ceiling applies). */
size_t portal_compose_body_max(struct portal_ctx *ctx, const char *path,
                               const char *session_cookie);
void portal_compose_get(struct portal_req *req, struct portal_resp *resp);
void portal_compose_post(struct portal_req *req, struct portal_resp *resp);
void portal_compose_reply_get(struct portal_req *req, struct portal_resp *resp);
void portal_compose_reply_post(struct portal_req *req, struct portal_resp *resp);
/* A message body over the ceiling: the form again, saying the limit. */
void portal_compose_too_big(struct portal_req *req, struct portal_resp *resp);

/* portal_inbox.c: the partner's webmail folders (WEBMAIL_PATH, WEBMAIL_PATH "/sent"), newest
 * first, a page at a time; and the copy of what they write on the portal kept in Sent. */
#define PORTAL_INBOX_PAGE 25
void portal_inbox_get(struct portal_req *req, struct portal_resp *resp);
void portal_inbox_sent_get(struct portal_req *req, struct portal_resp *resp);
/* When the partner reads on the portal (channel webmail), msg (queued as queue_id) is kept
 * in their Sent folder; false when that failed (logged; the message is sent all the same). */
bool portal_inbox_keep_sent(struct portal_req *req, const char *msg, size_t len,
                            const char *queue_id);

/* portal_read.c: one message (WEBMAIL_PATH "/<uid>"): header fields, attachments, the body
 * (text as text; HTML through mime_sanitize_html, its images only from the message's parts);
 * delete. Every path under WEBMAIL_PATH "/" is dispatched here; a uid that is not the
 * partner's own is 404, exactly like one that does not exist. */
void portal_read_dispatch(struct portal_req *req, struct portal_resp *resp);
/* The partner's message uid: 1 with *m_r (webmail_message_free it), or 0 / -1 when the
 * page (404 / 500) was answered. */
int portal_read_open(struct portal_req *req, struct portal_resp *resp, const char *uid,
                     struct webmail_message *m_r);
/* The subject as the partner sees it: without a leading policy.encrypt_subject_tag (the
 * sender's instruction to the gateway), "(no subject)" when empty. */
const char *portal_read_subject(struct portal_req *req, const char *subject);
/* The 32 hex digits of a webmail uid at the start of path into uid_r; the rest, or NULL. */
const char *portal_read_uid(const char *path, char uid_r[STORE_WEBMAIL_UID_MAX]);

/* portal_part.c: a part's original bytes (WEBMAIL_PATH "/<uid>/part/<n>"), always as an
 * attachment (RFC 6266), typed only when the type is harmless, never sniffed. */
void portal_part_get(struct portal_req *req, struct portal_resp *resp, const char *uid,
                     const char *index);
/* Content-Disposition: attachment with an ASCII filename= and an RFC 5987 filename*= for
 * name (UTF-8); "attachment" when name is empty. */
void portal_part_disposition(const char *name, char *dst, size_t size);
/* True when a part of this type may be shown by an <img> of the read page. */
bool portal_part_inline_image(const char *content_type);

/* portal_answer.c: reply and reply to all (WEBMAIL_PATH "/<uid>/reply", ".../reply-all"):
 * the compose form with the recipients taken from the message, internal addresses only. */
bool portal_answer_route(const char *path);
void portal_answer_get(struct portal_req *req, struct portal_resp *resp, const char *uid,
                       bool all);
void portal_answer_post(struct portal_req *req, struct portal_resp *resp, const char *uid,
                        bool all);

#endif

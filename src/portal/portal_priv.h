/* portal_priv.h: private to portal/: the request and response a page handler sees, the
 * role's context, and the handlers the router (portal_pages.c) dispatches to. */
#ifndef SG_PORTAL_PRIV_H
#define SG_PORTAL_PRIV_H

#include "portal/portal.h"
#include "store/store.h"

struct settings;
struct keystore;
struct MHD_Connection;

struct portal_ctx {
	struct store *st;
	struct keystore *ks;
	const struct settings *set;
	bool tls;
	const char *org;
	size_t min_password;
	time_t idle_s, max_s;  /* session idle and absolute timeouts */
	time_t next_expiry;    /* when stale sessions are purged next */
};

enum portal_stage { PORTAL_ANON = 0, PORTAL_REGISTERING = 1, PORTAL_LOGGED_IN = 2 };

struct portal_req {
	struct portal_ctx *ctx;
	struct MHD_Connection *conn;
	const char *method, *path;
	char client[64];
	const char *body;
	size_t body_len;
	bool too_big;
	enum portal_lang lang;
	struct portal_form form;      /* parsed body of a POST */
	struct store_portal_session sess;
	bool has_sess;
	char sess_token[PORTAL_TOKEN_HEX]; /* set when a new cookie must be sent */
	time_t now;
};

#define PORTAL_COOKIES_MAX 3
struct portal_resp {
	unsigned status;
	struct sg_buf body;
	const char *content_type;
	char location[256];
	char cookies[PORTAL_COOKIES_MAX][256];
	size_t ncookies;
	bool cacheable;
};

/* portal_server.c */
const char *portal_server_header(struct portal_req *req, const char *name);
const char *portal_server_query(struct portal_req *req, const char *name);
const char *portal_server_cookie(struct portal_req *req, const char *name);
/* Runs the portal on the listening sockets until daemon_stop_requested. */
int portal_server_run(struct portal_ctx *ctx, const int *fds, size_t nfds, const char *cert_pem,
                      const char *key_pem, const char **error_r);

/* portal_pages.c: the router and the shared page frame */
void portal_pages_handle(struct portal_req *req, struct portal_resp *resp);
void portal_pages_frame(struct portal_req *req, struct portal_resp *resp, const char *title_key,
                        const char *msg_html, const char *content_html);
/* A message paragraph (escaped text) for msg_html; kind "error" or "ok". */
void portal_pages_msg(struct sg_buf *b, const char *kind, const char *text, const char *detail);
void portal_pages_redirect(struct portal_resp *resp, const char *location);
void portal_pages_cookie(struct portal_req *req, struct portal_resp *resp, const char *name,
                         const char *value, long max_age);
/* Replaces the request's session by a new one for user at stage (new id, new CSRF token). */
int portal_pages_new_session(struct portal_req *req, int64_t user_id, const char *address,
                             enum portal_stage stage);
void portal_pages_audit(struct portal_req *req, const char *event, const char *address,
                        const char *detail);

/* portal_login.c: log in, log out, register */
void portal_login_get(struct portal_req *req, struct portal_resp *resp);
void portal_login_post(struct portal_req *req, struct portal_resp *resp);
void portal_login_logout(struct portal_req *req, struct portal_resp *resp);
void portal_login_register_get(struct portal_req *req, struct portal_resp *resp);
void portal_login_register_post(struct portal_req *req, struct portal_resp *resp);
void portal_login_password_get(struct portal_req *req, struct portal_resp *resp);
void portal_login_password_post(struct portal_req *req, struct portal_resp *resp);

/* portal_account.c: the overview, the channel and uploads */
void portal_account_get(struct portal_req *req, struct portal_resp *resp);
void portal_account_channel(struct portal_req *req, struct portal_resp *resp);
void portal_account_upload(struct portal_req *req, struct portal_resp *resp);

#endif

/* portal_pages.c: the router. Loads the session from its cookie (idle and absolute timeouts),
 * refuses a POST without the session's CSRF token (403), dispatches by the route table, and
 * wraps page content in the shared frame with the language switch. */
#include "portal/portal_priv.h"
#include "core/sg_log.h"
#include "core/sg_str.h"
#include "store/store.h"

#include <microhttpd.h>
#include <stdio.h>
#include <string.h>

#define SESSION_COOKIE "sg_session"
#define EXPIRY_INTERVAL_S 300
#define TOUCH_INTERVAL_S 30

static const char css[] =
    "*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#1b1b1b;"
    "background:#f4f5f7}header{display:flex;flex-wrap:wrap;gap:1em;align-items:center;"
    "justify-content:space-between;padding:.75em 1.25em;background:#17324d;color:#fff}"
    "header a{color:#fff}.org{font-weight:600;font-size:1.1em}nav a{margin-left:.75em}"
    "main{max-width:40em;margin:1.5em auto;padding:1.5em;background:#fff;border-radius:6px}"
    "label{display:block;margin-top:1em;font-weight:600}input[type=text],input[type=email],"
    "input[type=password],input[type=file],select,textarea{width:100%;padding:.5em;font:inherit;"
    "border:1px solid #8a8f98;border-radius:4px}button{margin-top:1em;padding:.55em 1.2em;"
    "font:inherit;color:#fff;background:#1d5fa0;border:0;border-radius:4px;cursor:pointer}"
    "button:focus,input:focus,a:focus{outline:3px solid #f0b400;outline-offset:2px}"
    ".error{color:#9b1c1c;background:#fdecec;padding:.6em;border-radius:4px}"
    ".ok{color:#1c5e20;background:#e9f6ea;padding:.6em;border-radius:4px}"
    "fieldset{border:1px solid #c8ccd2;border-radius:4px;margin-top:1em}"
    "fieldset label{font-weight:400;margin-top:.4em}.skip{position:absolute;left:-999px}"
    ".skip:focus{left:1em;top:1em;background:#fff;color:#000;padding:.5em}"
    "table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3em .4em;"
    "border-bottom:1px solid #c8ccd2;vertical-align:top}td:nth-child(3),td:nth-child(4){white-space:nowrap}"
    "form.inline{display:inline}code{word-break:break-all}"
    /* webmail: folders, a message, its body (the mail's own markup stays inside .mailbody) */
    ".folders{display:flex;flex-wrap:wrap;gap:1em;margin:1em 0}.folders a{margin:0}"
    ".folders a[aria-current]{font-weight:700}.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}"
    "main.wide{max-width:64em}.scroll{overflow-x:auto}table.folder{width:100%;border-collapse:collapse}"
    ".folder th,.folder td{text-align:left;padding:.4em;border-bottom:1px solid #c8ccd2;vertical-align:top}"
    ".folder td.num{text-align:right;white-space:nowrap}.folder tr.unread td{font-weight:700}"
    ".pager{display:flex;gap:1em;margin-top:1em}.actions{display:flex;flex-wrap:wrap;gap:.75em;"
    "align-items:center;margin:1em 0}.actions a,.actions button{margin:0}"
    "dl.fields{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}dl.fields dd{margin:0;"
    "word-break:break-word}.mailbody{border-top:1px solid #c8ccd2;margin-top:1em;padding-top:1em;"
    "overflow-wrap:anywhere;overflow-x:auto}.mailbody img{max-width:100%;height:auto}"
    ".mailbody table{width:auto}.mailbody th,.mailbody td{border:0;padding:0;white-space:normal}"
    ".mailtext{white-space:pre-wrap;font:inherit}.link-target{color:#4a4f57;font-size:.9em;"
    "word-break:break-all}.blocked-image{color:#4a4f57;font-style:italic}"
    "@media (max-width:600px){main{margin:0;border-radius:0}.folder th:nth-child(n+4),"
    ".folder td:nth-child(n+4){display:none}}";

static const char frame_tmpl[] =
    "<!DOCTYPE html>\n<html lang=\"{{lang}}\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    "<title>{{title}} - {{org}}</title><link rel=\"stylesheet\" href=\"/static/portal.css\">"
    "</head><body><a class=\"skip\" href=\"#main\">{{t.skip}}</a><header>"
    "<span class=\"org\">{{org}}</span><nav aria-label=\"{{t.lang_switch}}\">"
    "<a href=\"/lang?l=en&amp;next={{path}}\" lang=\"en\" hreflang=\"en\">English</a>"
    "<a href=\"/lang?l=de&amp;next={{path}}\" lang=\"de\" hreflang=\"de\">Deutsch</a>"
    "{{&logout}}</nav></header><main id=\"main\"{{&wide}}><h1>{{title}}</h1>{{&msg}}{{&content}}"
    "</main></body></html>\n";

static const char employee_nav_tmpl[] =
    "<a href=\"/employee\">{{t.link_employee_home}}</a>"
    "<form class=\"inline\" method=\"post\" action=\"/logout\">"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">"
    "<button type=\"submit\">{{t.btn_logout}}</button></form>";

static const char logout_tmpl[] =
    "<a href=\"" WEBMAIL_PATH "\">{{t.link_inbox}}</a>"
    "<a href=\"/compose\">{{t.link_compose}}</a>"
    "<a href=\"/account/password\">{{t.link_change_pw}}</a>"
    "<form class=\"inline\" method=\"post\" action=\"/logout\">"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">"
    "<button type=\"submit\">{{t.btn_logout}}</button></form>";

typedef void (*handler_fn)(struct portal_req *req, struct portal_resp *resp);

static void css_get(struct portal_req *req, struct portal_resp *resp);
static void lang_get(struct portal_req *req, struct portal_resp *resp);
static void root_get(struct portal_req *req, struct portal_resp *resp);

static const struct route {
	const char *method, *path;
	handler_fn fn;
	enum portal_stage stage; /* the session stage the page needs */
} routes[] = {
	{"GET", "/", root_get, PORTAL_ANON},
	{"GET", "/static/portal.css", css_get, PORTAL_ANON},
	{"GET", "/lang", lang_get, PORTAL_ANON},
	{"GET", "/ca.crl", portal_ca_crl_get, PORTAL_ANON},
	{"GET", "/ca.crt", portal_ca_cert_get, PORTAL_ANON},
	{"GET", "/login", portal_login_get, PORTAL_ANON},
	{"POST", "/login", portal_login_post, PORTAL_ANON},
	{"POST", "/logout", portal_login_logout, PORTAL_ANON},
	{"POST", "/logout/all", portal_login_logout_all, PORTAL_LOGGED_IN},
	{"GET", "/register", portal_login_register_get, PORTAL_ANON},
	{"POST", "/register", portal_login_register_post, PORTAL_ANON},
	{"GET", "/register/password", portal_login_password_get, PORTAL_REGISTERING},
	{"POST", "/register/password", portal_login_password_post, PORTAL_REGISTERING},
	{"GET", "/register/questions", portal_questions_register_get, PORTAL_QUESTIONS},
	{"POST", "/register/questions", portal_questions_register_post, PORTAL_QUESTIONS},
	{"GET", "/forgot", portal_reset_forgot_get, PORTAL_ANON},
	{"POST", "/forgot", portal_reset_forgot_post, PORTAL_ANON},
	{"GET", "/forgot/answers", portal_reset_answers_get, PORTAL_RESET_ANSWERS},
	{"POST", "/forgot/answers", portal_reset_answers_post, PORTAL_RESET_ANSWERS},
	{"GET", "/forgot/password", portal_reset_password_get, PORTAL_RESET_PASSWORD},
	{"POST", "/forgot/password", portal_reset_password_post, PORTAL_RESET_PASSWORD},
	{"GET", "/account/password", portal_reset_change_get, PORTAL_LOGGED_IN},
	{"POST", "/account/password", portal_reset_change_post, PORTAL_LOGGED_IN},
	{"GET", "/account", portal_account_get, PORTAL_LOGGED_IN},
	{"GET", "/employee", portal_employee_home, PORTAL_EMPLOYEE},
	{"POST", "/account/channel", portal_account_channel, PORTAL_LOGGED_IN},
	{"POST", "/account/upload", portal_account_upload, PORTAL_LOGGED_IN},
	{"GET", "/compose", portal_compose_get, PORTAL_LOGGED_IN},
	{"POST", "/compose", portal_compose_post, PORTAL_LOGGED_IN},
	{"POST", "/employee/enrol", portal_enrol_home_post, PORTAL_EMPLOYEE},
	/* A path ending in "/" is a prefix: the rest is the page's argument. */
	{"GET", "/employee/pin/", portal_enrol_link_get, PORTAL_EMPLOYEE},
	{"GET", "/employee/link/", portal_enrol_managed_get, PORTAL_EMPLOYEE},
	{"GET", "/reply/", portal_compose_reply_get, PORTAL_LOGGED_IN},
	{"POST", "/reply/", portal_compose_reply_post, PORTAL_LOGGED_IN},
	{"GET", WEBMAIL_PATH, portal_inbox_get, PORTAL_LOGGED_IN},
	{"GET", WEBMAIL_PATH "/", portal_read_dispatch, PORTAL_LOGGED_IN},
	{"POST", WEBMAIL_PATH "/", portal_read_dispatch, PORTAL_LOGGED_IN},
};

void portal_pages_msg(struct sg_buf *b, const char *kind, const char *text, const char *detail)
{
	struct portal_var v[] = {{"kind", kind, false}, {"text", text, false},
	                         {"detail", detail != NULL ? detail : "", false}};
	portal_html_render(b, "<p class=\"{{kind}}\" role=\"alert\">{{text}} {{detail}}</p>", v, 3,
	                   PORTAL_LANG_EN);
}

void portal_pages_redirect(struct portal_resp *resp, const char *location)
{
	resp->status = MHD_HTTP_SEE_OTHER;
	sg_strlcpy(resp->location, location, sizeof(resp->location));
}

void portal_pages_cookie(struct portal_req *req, struct portal_resp *resp, const char *name,
                         const char *value, long max_age)
{
	if (resp->ncookies >= PORTAL_COOKIES_MAX)
		return;
	sg_snprintf(resp->cookies[resp->ncookies++], sizeof(resp->cookies[0]),
	            "%s=%s; Path=/; Max-Age=%ld; HttpOnly; SameSite=Strict%s", name, value, max_age,
	            req->ctx->https ? "; Secure" : "");
}

/* The audit entry of a portal event: who (the session's account, or nobody yet: a login, a
 * registration, a reset), from where, what; logged as it is made. */
static void audit_entry(struct portal_req *req, const char *event, const char *address,
                        const char *detail, struct store_audit_entry *e)
{
	char addr[SG_ADDR_MAX], det[SG_ADDR_MAX + 128];
	sg_printable(addr, sizeof(addr), address, SG_ADDR_MAX - 1);
	sg_printable(det, sizeof(det), detail, sizeof(det) - 4); /* may hold a path as requested */
	sg_info("portal: %s %s from %s%s%s", event, addr, req->client, det[0] ? ": " : "", det);
	memset(e, 0, sizeof(*e));
	e->at = req->now;
	bool known = req->has_sess && req->sess.address[0] != '\0';
	snprintf(e->actor, sizeof(e->actor), "portal:%s", known ? req->sess.address : "anonymous");
	sg_strlcpy(e->event, event, sizeof(e->event));
	sg_strlcpy(e->address, addr, sizeof(e->address));
	sg_strlcpy(e->client, req->client, sizeof(e->client));
	sg_strlcpy(e->detail, det, sizeof(e->detail));
}

void portal_pages_audit(struct portal_req *req, const char *event, const char *address,
                        const char *detail)
{
	const char *err;
	struct store_audit_entry e;
	audit_entry(req, event, address, detail, &e);
	if (store_audit_add(req->ctx->st, &e, &err) < 0)
		sg_warn("audit: %s", err);
}

int portal_pages_audit_capped(struct portal_req *req, const char *event, const char *address,
                              const char *detail, time_t since, size_t max)
{
	const char *err;
	struct store_audit_entry e;
	audit_entry(req, event, address, detail, &e);
	int rc = store_audit_add_capped(req->ctx->st, &e, since, max, &err);
	if (rc < 0)
		sg_warn("audit: %s", err);
	return rc;
}

int portal_pages_new_session(struct portal_req *req, int64_t user_id, const char *address,
                             enum portal_stage stage)
{
	const char *err;
	if (req->has_sess)
		store_portal_session_delete(req->ctx->st, req->sess.id_hash, &err);
	struct store_portal_session s = {.user_id = user_id, .stage = (int)stage,
	                                 .created = req->now, .last_seen = req->now};
	sg_strlcpy(s.address, address, sizeof(s.address));
	portal_auth_token_new(req->sess_token);
	portal_auth_token_hash(req->sess_token, s.id_hash);
	portal_auth_token_new(s.csrf);
	if (store_portal_session_add(req->ctx->st, &s, &err) < 0) {
		req->has_sess = false;
		return -1;
	}
	req->sess = s;
	req->has_sess = true;
	return 0;
}

/* A visitor who has not logged in (or registered) yet has no row in the store: the cookie is
 * random and the CSRF token derived from it with the portal's key, so that unauthenticated
 * page views cost no write and cannot fill the session table. */
static void anonymous(struct portal_req *req, const char *token)
{
	req->sess = (struct store_portal_session){.stage = PORTAL_ANON, .created = req->now,
	                                          .last_seen = req->now};
	portal_auth_token_hash(token, req->sess.id_hash);
	portal_auth_anon_csrf(req->ctx->anon_key, token, req->sess.csrf);
	req->has_sess = true;
	/* The first step of a password reset is kept in a signed cookie, not in the store. */
	if (portal_cookie_reset_address(req, req->sess.address))
		req->sess.stage = PORTAL_RESET_ANSWERS;
}

void portal_pages_new_anonymous(struct portal_req *req)
{
	const char *err;
	if (req->has_sess && req->sess.stage != PORTAL_ANON && req->sess.stage != PORTAL_RESET_ANSWERS)
		store_portal_session_delete(req->ctx->st, req->sess.id_hash, &err);
	portal_auth_token_new(req->sess_token);
	anonymous(req, req->sess_token);
}

static void session_load(struct portal_req *req)
{
	struct portal_ctx *ctx = req->ctx;
	const char *err;
	/* One thread of the pool purges; the others see the new time and go on. */
	time_t due = __atomic_load_n(&ctx->next_expiry, __ATOMIC_RELAXED);
	if (req->now >= due &&
	    __atomic_compare_exchange_n(&ctx->next_expiry, &due, req->now + EXPIRY_INTERVAL_S, false,
	                                __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
		store_portal_session_expire(ctx->st, req->now - ctx->idle_s, req->now - ctx->max_s, &err);
		store_portal_throttle_expire(ctx->st, req->now - ctx->throttle.forget_s, &err);
	}
	const char *cookie = portal_server_cookie(req, SESSION_COOKIE);
	if (cookie == NULL || strlen(cookie) != PORTAL_TOKEN_HEX - 1 ||
	    strspn(cookie, "0123456789abcdef") != PORTAL_TOKEN_HEX - 1)
		return;
	char hash[PORTAL_TOKEN_HEX];
	portal_auth_token_hash(cookie, hash);
	if (store_portal_session_get(ctx->st, hash, &req->sess, &err) != 1) {
		anonymous(req, cookie);
		return;
	}
	if (req->sess.last_seen + ctx->idle_s < req->now || req->sess.created + ctx->max_s < req->now) {
		store_portal_session_delete(ctx->st, hash, &err);
		return;
	}
	req->has_sess = true;
	/* The idle timeout is counted in minutes: a write per request would buy nothing. */
	if (req->now - req->sess.last_seen >= TOUCH_INTERVAL_S)
		store_portal_session_touch(ctx->st, hash, req->now, &err);
}

void portal_pages_frame(struct portal_req *req, struct portal_resp *resp, const char *title_key,
                        const char *msg_html, const char *content_html)
{
	struct sg_buf logout;
	sg_buf_init(&logout, 4096);
	bool partner = req->has_sess && req->sess.stage == PORTAL_LOGGED_IN;
	if (partner || (req->has_sess && req->sess.stage == PORTAL_EMPLOYEE)) {
		struct portal_var lv[] = {{"csrf", req->sess.csrf, false}};
		portal_html_render(&logout, partner ? logout_tmpl : employee_nav_tmpl, lv, 1, req->lang);
	}
	const char *path = strcmp(req->method, "GET") == 0 ? req->path : "/";
	struct portal_var v[] = {
		{"lang", portal_i18n_code(req->lang), false},
		{"title", portal_i18n_text(req->lang, title_key), false},
		{"org", req->ctx->org, false},
		{"path", path, false},
		{"logout", logout.data != NULL ? logout.data : "", true},
		{"msg", msg_html != NULL ? msg_html : "", true},
		{"content", content_html, true},
		{"wide", resp->wide ? " class=\"wide\"" : "", true},
	};
	sg_buf_reset(&resp->body);
	if (portal_html_render(&resp->body, frame_tmpl, v, sizeof(v) / sizeof(v[0]), req->lang) < 0)
		resp->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	sg_buf_free(&logout);
}

void portal_pages_error(struct portal_req *req, struct portal_resp *resp, unsigned status,
                        const char *text_key)
{
	struct sg_buf msg, content;
	sg_buf_init(&msg, 4096);
	sg_buf_init(&content, 4096);
	portal_pages_msg(&msg, "error", portal_i18n_text(req->lang, text_key), NULL);
	portal_html_render(&content, "<p><a href=\"/\">{{t.back}}</a></p>", NULL, 0, req->lang);
	portal_pages_frame(req, resp, "title_error", msg.data, content.data);
	resp->status = status;
	sg_buf_free(&msg);
	sg_buf_free(&content);
}

static void css_get(struct portal_req *req, struct portal_resp *resp)
{
	(void)req;
	resp->content_type = "text/css; charset=utf-8";
	resp->cacheable = true;
	sg_buf_append(&resp->body, css, sizeof(css) - 1);
}

/* Only our own pages are redirect targets (no open redirect): "/" then path characters that
 * need no escaping in a Location or a query, never "//" (which names another host). */
static bool local_path(const char *p)
{
	if (p == NULL || p[0] != '/' || strlen(p) > 128)
		return false;
	for (const char *c = p + 1; *c != '\0'; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      *c == '_' || *c == '-' || *c == '.' || (*c == '/' && c[-1] != '/')))
			return false;
	return true;
}

const char *portal_pages_next(struct portal_req *req)
{
	const char *next = strcmp(req->method, "POST") == 0 ? portal_form_get(&req->form, "next")
	                                                    : portal_server_query(req, "next");
	return local_path(next) ? next : NULL;
}

static void lang_get(struct portal_req *req, struct portal_resp *resp)
{
	const char *l = portal_server_query(req, "l");
	const char *next = portal_server_query(req, "next");
	if (l != NULL && (strcmp(l, "de") == 0 || strcmp(l, "en") == 0))
		portal_pages_cookie(req, resp, "lang", l, 365L * 86400);
	portal_pages_redirect(resp, local_path(next) ? next : "/");
}

static void root_get(struct portal_req *req, struct portal_resp *resp)
{
	bool in = req->has_sess && req->sess.stage == PORTAL_LOGGED_IN;
	bool employee = req->has_sess && req->sess.stage == PORTAL_EMPLOYEE;
	portal_pages_redirect(resp, in ? "/account" : employee ? "/employee" : "/login");
}

/* Where a flow starts again when a page of it is asked for in the wrong stage. */
static const char *stage_start(enum portal_stage stage)
{
	if (stage == PORTAL_EMPLOYEE)
		return "/login";
	if (stage == PORTAL_REGISTERING || stage == PORTAL_QUESTIONS)
		return "/register";
	if (stage == PORTAL_RESET_ANSWERS || stage == PORTAL_RESET_PASSWORD)
		return "/forgot";
	return "/login";
}

/* A page of the other kind of user sends a logged-in partner or employee to their own home
 * (they never see each other's pages); anyone else starts the page's flow. */
static const char *elsewhere(const struct portal_req *req, enum portal_stage stage)
{
	if (req->has_sess && req->sess.stage == PORTAL_EMPLOYEE)
		return "/employee";
	if (req->has_sess && req->sess.stage == PORTAL_LOGGED_IN && stage == PORTAL_EMPLOYEE)
		return "/account";
	return stage_start(stage);
}

static const struct route *route_find(const char *method, const char *path, bool *path_known_r)
{
	*path_known_r = false;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		size_t plen = strlen(routes[i].path);
		bool match = plen > 1 && routes[i].path[plen - 1] == '/'
		                 ? strncmp(routes[i].path, path, plen) == 0
		                 : strcmp(routes[i].path, path) == 0;
		if (!match)
			continue;
		*path_known_r = true;
		if (strcmp(routes[i].method, method) == 0)
			return &routes[i];
	}
	return NULL;
}

/* A POST needs a session, a parsed body and the session's CSRF token: else 403/400/413, or 503
 * when its body was dropped to keep the portal within portal.max_upload_memory. */
static bool post_ok(struct portal_req *req, struct portal_resp *resp)
{
	const char *err;
	if (req->busy) {
		portal_pages_error(req, resp, MHD_HTTP_SERVICE_UNAVAILABLE, "err_busy");
		return false;
	}
	if (req->too_big) {
		if (portal_compose_route(req->path) && req->has_sess &&
		    req->sess.stage == PORTAL_LOGGED_IN)
			portal_compose_too_big(req, resp);
		else
			portal_pages_error(req, resp, 413, "err_too_big");
		return false;
	}
	if (portal_form_parse(portal_server_header(req, "Content-Type"), req->body, req->body_len,
	                      &req->form, &err) < 0) {
		portal_pages_error(req, resp, MHD_HTTP_BAD_REQUEST, "err_form");
		return false;
	}
	if (!req->has_sess || !portal_auth_equal(portal_form_get(&req->form, "csrf"), req->sess.csrf)) {
		portal_pages_audit(req, "csrf-refused", "", req->path);
		portal_pages_error(req, resp, MHD_HTTP_FORBIDDEN, "err_csrf");
		return false;
	}
	return true;
}

void portal_pages_handle(struct portal_req *req, struct portal_resp *resp)
{
	req->lang = portal_i18n_pick(portal_server_cookie(req, "lang"),
	                             portal_server_header(req, "Accept-Language"));
	bool known;
	const struct route *r = route_find(req->method, req->path, &known);
	if (r == NULL) {
		portal_pages_error(req, resp, known ? MHD_HTTP_METHOD_NOT_ALLOWED : MHD_HTTP_NOT_FOUND,
		           "err_notfound");
		return;
	}
	if (r->fn == css_get) {
		css_get(req, resp);
		return;
	}
	session_load(req);
	bool is_post = strcmp(req->method, "POST") == 0;
	if (is_post && !post_ok(req, resp))
		return;
	if (r->stage != PORTAL_ANON && (!req->has_sess || req->sess.stage != (int)r->stage)) {
		/* A message page asked for by link (the Reply link of a PDF, a webmail notification)
		 * comes back after login; so does an employee's page (the link of an enrolment mail),
		 * unless a partner asks. */
		char login[192];
		bool partner = req->has_sess && req->sess.stage == PORTAL_LOGGED_IN;
		bool employee = req->has_sess && req->sess.stage == PORTAL_EMPLOYEE;
		bool partner_link = portal_compose_route(req->path) ||
		                    strncmp(req->path, WEBMAIL_PATH, sizeof(WEBMAIL_PATH) - 1) == 0;
		bool back = r->stage == PORTAL_LOGGED_IN ? partner_link && !employee
		                                         : portal_enrol_route(req->path) && !partner;
		if (back && !is_post && local_path(req->path) &&
		    sg_snprintf(login, sizeof(login), "/login?next=%s", req->path) >= 0)
			portal_pages_redirect(resp, login);
		else
			portal_pages_redirect(resp, elsewhere(req, r->stage));
		return;
	}
	/* Every form needs a token, so every page is served within a session (anonymous ones
	 * are not stored). */
	if (!req->has_sess) {
		portal_auth_token_new(req->sess_token);
		anonymous(req, req->sess_token);
	}
	r->fn(req, resp);
	if (req->sess_token[0] != '\0')
		portal_pages_cookie(req, resp, SESSION_COOKIE, req->sess_token, (long)req->ctx->max_s);
}

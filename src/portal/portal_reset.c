/* portal_reset.c: a new password without the old one (forgot password: the address, then the
 * three security questions with the code mailed to the address (portal_resetcode.c), then the
 * new password) and with it (change password on the account). Both replace the login hash and
 * the SecurePDF record and end every session of the account. The questions page looks the
 * same for every address, wrong tries count in the login's throttle, and the partner is told of
 * every reset by mail. */
#include "portal/portal_priv.h"
#include "core/sg_log.h"
#include "core/sg_str.h"
#include "notify/notify.h"
#include "store/store.h"

#include <microhttpd.h>
#include <string.h>

static const char forgot_tmpl[] =
    "<p>{{t.intro_forgot}}</p><form method=\"post\" action=\"/forgot\">"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">"
    "<label for=\"email\">{{t.email}}</label>"
    "<input type=\"email\" id=\"email\" name=\"email\" value=\"{{email}}\" autocomplete=\"username\" required>"
    "<button type=\"submit\">{{t.btn_continue}}</button></form>"
    "<p><a href=\"/login\">{{t.link_login_back}}</a></p>";

static const char answers_tmpl[] =
    "<p>{{t.intro_answers}} <strong>{{email}}</strong></p>"
    "<form method=\"post\" action=\"/forgot/answers\">"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">{{&fields}}"
    "<label for=\"code\">{{t.reset_code}}</label>"
    "<input type=\"text\" id=\"code\" name=\"code\" inputmode=\"numeric\" "
    "autocomplete=\"one-time-code\" aria-describedby=\"code-hint\" required>"
    "<p id=\"code-hint\">{{t.reset_code_hint}}</p>"
    "<button type=\"submit\">{{t.btn_continue}}</button></form>"
    "<p><a href=\"/forgot\">{{t.link_other_address}}</a></p>";

static const char newpw_tmpl[] =
    "<p>{{t.intro_newpw}} {{min}}</p><form method=\"post\" action=\"/forgot/password\">"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">"
    "<label for=\"password\">{{t.password_new}}</label>"
    "<input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"new-password\" required>"
    "<label for=\"password2\">{{t.password2}}</label>"
    "<input type=\"password\" id=\"password2\" name=\"password2\" autocomplete=\"new-password\" required>"
    "<button type=\"submit\">{{t.btn_save}}</button></form>";

static const char change_tmpl[] =
    "<p>{{t.intro_change}} {{min}}</p><form method=\"post\" action=\"/account/password\">"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">"
    "<label for=\"current\">{{t.password_current}}</label>"
    "<input type=\"password\" id=\"current\" name=\"current\" autocomplete=\"current-password\" required>"
    "<label for=\"password\">{{t.password_new}}</label>"
    "<input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"new-password\" required>"
    "<label for=\"password2\">{{t.password2}}</label>"
    "<input type=\"password\" id=\"password2\" name=\"password2\" autocomplete=\"new-password\" required>"
    "<button type=\"submit\">{{t.btn_save}}</button></form>"
    "<p><a href=\"/account\">{{t.link_account}}</a></p>";

/* A message above a page: kind "error" or "ok", a text key, and an untranslated detail. */
struct note {
	const char *kind, *key, *detail;
};

/* Renders one of this file's forms; fields is the answer fields' HTML (answers_tmpl). */
static void page(struct portal_req *req, struct portal_resp *resp, const char *title_key,
                 const char *tmpl, const struct note *note, const char *fields)
{
	char min[16];
	sg_snprintf(min, sizeof(min), "%zu", req->ctx->min_password);
	const char *email = req->sess.stage == PORTAL_RESET_ANSWERS
	                        ? req->sess.address
	                        : portal_form_get(&req->form, "email");
	struct portal_var v[] = {{"csrf", req->sess.csrf, false}, {"email", email, false},
	                         {"min", min, false}, {"fields", fields != NULL ? fields : "", true}};
	struct sg_buf content, msg;
	sg_buf_init(&content, SG_HTTP_PAGE_MAX);
	sg_buf_init(&msg, 8192);
	if (note != NULL)
		portal_pages_msg(&msg, note->kind, portal_i18n_text(req->lang, note->key), note->detail);
	portal_html_render(&content, tmpl, v, sizeof(v) / sizeof(v[0]), req->lang);
	portal_pages_frame(req, resp, title_key, msg.data, content.data != NULL ? content.data : "");
	sg_buf_free(&content);
	sg_buf_free(&msg);
}

static void error_form(struct portal_req *req, struct portal_resp *resp, const char *title_key,
                       const char *tmpl, const char *key, const char *detail)
{
	struct note n = {"error", key, detail};
	if (strcmp(key, "err_locked") == 0)
		resp->status = MHD_HTTP_TOO_MANY_REQUESTS;
	page(req, resp, title_key, tmpl, &n, NULL);
}

void portal_reset_forgot_get(struct portal_req *req, struct portal_resp *resp)
{
	page(req, resp, "title_forgot", forgot_tmpl, NULL, NULL);
}

/* The code goes only to an account that can reset (registered, with its own questions); the
 * next page is the same either way. */
static void mail_code(struct portal_req *req, const char *address)
{
	struct store_portal_question q[STORE_PORTAL_QUESTIONS];
	int64_t uid;
	const char *err;
	if (portal_questions_for(req, address, q, &uid, &err) < 0)
		sg_error("portal: the questions of a reset: %s", err);
	else if (uid != 0)
		portal_resetcode_issue(req, uid, address);
}

/* Any address that looks like one goes on to the questions: the page after this one is the
 * same whether an account exists or not. The address travels in a signed cookie, so this
 * step stores nothing however often it is sent. */
void portal_reset_forgot_post(struct portal_req *req, struct portal_resp *resp)
{
	const char *addr = portal_form_get(&req->form, "email");
	char lower[SG_ADDR_MAX];
	size_t len = strlen(addr);
	if (len < 3 || len >= SG_ADDR_MAX || strchr(addr, '@') == NULL) {
		error_form(req, resp, "title_forgot", forgot_tmpl, "err_email", NULL);
		return;
	}
	if (req->sess.stage != PORTAL_ANON && req->sess.stage != PORTAL_RESET_ANSWERS)
		portal_pages_new_anonymous(req); /* a stored session ends here, as before */
	portal_cookie_reset_set(req, resp, addr);
	sg_strlcpy(lower, addr, sizeof(lower));
	sg_ascii_lower(lower);
	mail_code(req, lower);
	portal_pages_redirect(resp, "/forgot/answers");
}

/* The questions page for the session's address, with an optional error above it. */
static void answers_page(struct portal_req *req, struct portal_resp *resp,
                         const struct store_portal_question q[STORE_PORTAL_QUESTIONS],
                         const char *msg_key, const char *detail)
{
	struct sg_buf fields;
	sg_buf_init(&fields, SG_HTTP_PAGE_MAX / 2);
	portal_questions_answer_fields(req, &fields, q);
	struct note n = {"error", msg_key, detail};
	if (msg_key != NULL && strcmp(msg_key, "err_locked") == 0)
		resp->status = MHD_HTTP_TOO_MANY_REQUESTS;
	page(req, resp, "title_forgot", answers_tmpl, msg_key != NULL ? &n : NULL,
	     fields.data != NULL ? fields.data : "");
	sg_buf_free(&fields);
}

void portal_reset_answers_get(struct portal_req *req, struct portal_resp *resp)
{
	struct store_portal_question q[STORE_PORTAL_QUESTIONS];
	int64_t uid;
	const char *err;
	if (portal_questions_for(req, req->sess.address, q, &uid, &err) < 0) {
		error_form(req, resp, "title_forgot", forgot_tmpl, "err_internal", NULL);
		return;
	}
	answers_page(req, resp, q, NULL, NULL);
}

void portal_reset_answers_post(struct portal_req *req, struct portal_resp *resp)
{
	struct store_portal_question q[STORE_PORTAL_QUESTIONS];
	char addr[SG_ADDR_MAX], minutes[24];
	int64_t uid;
	const char *err;
	struct portal_attempt at;
	sg_strlcpy(addr, req->sess.address, sizeof(addr));
	if (portal_questions_for(req, addr, q, &uid, &err) < 0) {
		error_form(req, resp, "title_forgot", forgot_tmpl, "err_internal", NULL);
		return;
	}
	if (!portal_throttle_reserve(req, addr, &at)) {
		portal_pages_audit(req, "reset-locked", addr, "");
		portal_throttle_minutes(&at, minutes, sizeof(minutes));
		answers_page(req, resp, q, "err_locked", minutes);
		return;
	}
	const char *answers[] = {portal_form_get(&req->form, "answer1"),
	                         portal_form_get(&req->form, "answer2"),
	                         portal_form_get(&req->form, "answer3")};
	/* Stand-ins have no answer hashes: they never match, at the same cost. Both factors are
	 * always checked, and the page never says which one was wrong. */
	bool answers_right = portal_questions_check(q, answers) && uid != 0;
	if (!portal_resetcode_take(req, uid, portal_form_get(&req->form, "code"), answers_right)) {
		portal_pages_audit(req, "reset-failed", addr, answers_right ? "code" : "");
		if (at.wait > 0)
			portal_pages_audit(req, "lockout", addr, "password reset");
		portal_throttle_minutes(&at, minutes, sizeof(minutes));
		answers_page(req, resp, q, at.wait > 0 ? "err_locked" : "err_answers",
		             at.wait > 0 ? minutes : NULL);
		return;
	}
	portal_throttle_succeeded(req, &at); /* both secrets were right, whatever the cap says */
	if (portal_resetcode_limit_reached(req, addr)) {
		portal_pages_audit(req, "reset-refused", addr, "resets per day");
		answers_page(req, resp, q, "err_reset_limit", NULL);
		resp->status = MHD_HTTP_TOO_MANY_REQUESTS;
		return;
	}
	if (portal_pages_new_session(req, uid, addr, PORTAL_RESET_PASSWORD) < 0) {
		answers_page(req, resp, q, "err_internal", NULL);
		return;
	}
	portal_cookie_reset_clear(req, resp);
	portal_pages_audit(req, "reset-answers", addr, "");
	portal_pages_redirect(resp, "/forgot/password");
}

void portal_reset_password_get(struct portal_req *req, struct portal_resp *resp)
{
	page(req, resp, "title_newpw", newpw_tmpl, NULL, NULL);
}

void portal_reset_password_post(struct portal_req *req, struct portal_resp *resp)
{
	struct store_portal_account a;
	const char *err, *detail = NULL;
	char addr[SG_ADDR_MAX];
	sg_strlcpy(addr, req->sess.address, sizeof(addr));
	if (store_portal_account_get(req->ctx->st, addr, &a, &err) != 1 ||
	    a.user_id != req->sess.user_id || a.registered == 0) {
		error_form(req, resp, "title_newpw", newpw_tmpl, "err_internal", NULL);
		return;
	}
	const char *fail = portal_login_new_password(req, a.user_id, a.address,
	                                             portal_form_get(&req->form, "password"),
	                                             portal_form_get(&req->form, "password2"),
	                                             &detail);
	if (fail != NULL) {
		error_form(req, resp, "title_newpw", newpw_tmpl, fail, detail);
		return;
	}
	/* Whoever was logged in with the old password is not any more. */
	store_portal_session_delete_user(req->ctx->st, a.user_id, &err);
	store_portal_session_delete(req->ctx->st, req->sess.id_hash, &err);
	req->has_sess = false;
	portal_pages_cookie(req, resp, "sg_session", "", 0);
	portal_pages_audit(req, "reset", a.address, "");
	/* The owner of the address learns of it, whoever did it. */
	portal_resetcode_notice(req, a.address, NOTIFY_PASSWORD_RESET, NULL);
	portal_pages_redirect(resp, "/login?m=reset_done");
}

void portal_reset_change_get(struct portal_req *req, struct portal_resp *resp)
{
	const char *m = portal_server_query(req, "m");
	struct note ok = {"ok", "pw_changed", NULL};
	page(req, resp, "title_change", change_tmpl,
	     m != NULL && strcmp(m, "pw_changed") == 0 ? &ok : NULL, NULL);
}

void portal_reset_change_post(struct portal_req *req, struct portal_resp *resp)
{
	struct store_portal_account a;
	char addr[SG_ADDR_MAX], minutes[24];
	const char *err, *detail = NULL;
	struct portal_attempt at;
	sg_strlcpy(addr, req->sess.address, sizeof(addr));
	if (!portal_throttle_reserve(req, addr, &at)) {
		portal_throttle_minutes(&at, minutes, sizeof(minutes));
		error_form(req, resp, "title_change", change_tmpl, "err_locked", minutes);
		return;
	}
	if (store_portal_account_get(req->ctx->st, addr, &a, &err) != 1 || a.registered == 0) {
		error_form(req, resp, "title_change", change_tmpl, "err_internal", NULL);
		return;
	}
	if (!portal_auth_check_password(a.password_hash, portal_form_get(&req->form, "current"))) {
		portal_pages_audit(req, "password-change-failed", addr, "");
		if (at.wait > 0)
			portal_pages_audit(req, "lockout", addr, "password change");
		portal_throttle_minutes(&at, minutes, sizeof(minutes));
		error_form(req, resp, "title_change", change_tmpl,
		           at.wait > 0 ? "err_locked" : "err_current", at.wait > 0 ? minutes : NULL);
		return;
	}
	portal_throttle_succeeded(req, &at);
	const char *fail = portal_login_new_password(req, a.user_id, a.address,
	                                             portal_form_get(&req->form, "password"),
	                                             portal_form_get(&req->form, "password2"),
	                                             &detail);
	if (fail != NULL) {
		error_form(req, resp, "title_change", change_tmpl, fail, detail);
		return;
	}
	store_portal_session_delete_user(req->ctx->st, a.user_id, &err);
	portal_pages_audit(req, "password-changed", a.address, "");
	portal_resetcode_notice(req, a.address, NOTIFY_PASSWORD_CHANGED, NULL);
	if (portal_pages_new_session(req, a.user_id, a.address, PORTAL_LOGGED_IN) < 0) {
		portal_pages_redirect(resp, "/login");
		return;
	}
	portal_pages_redirect(resp, "/account/password?m=pw_changed");
}

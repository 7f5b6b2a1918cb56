/* portal_login.c: log in (Argon2id, throttled: portal_throttle.c), log out, and the
 * first two registration steps: invitation OTP, then the password (SecurePDF record + login
 * hash); the security questions (portal_questions.c) complete it. Failure messages never say
 * whether an address has an account. */
#include "portal/portal_priv.h"
#include "core/sg_metrics.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "pdf/pdf.h"
#include "queue/held.h"
#include "store/store.h"

#include <microhttpd.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>
#include <strings.h>

static const char login_tmpl[] =
    "<p>{{t.intro_login}}</p><form method=\"post\" action=\"/login\">"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">"
    "<input type=\"hidden\" name=\"next\" value=\"{{next}}\">"
    "<label for=\"email\">{{t.login_name}}</label>"
    "<input type=\"text\" id=\"email\" name=\"email\" value=\"{{email}}\" autocomplete=\"username\" required>"
    "<label for=\"password\">{{t.password}}</label>"
    "<input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" required>"
    "<button type=\"submit\">{{t.btn_login}}</button></form>"
    "<p>{{t.login_employee_hint}}</p>"
    "<p><a href=\"/forgot\">{{t.link_forgot}}</a></p>"
    "<p><a href=\"/register\">{{t.link_register}}</a></p>";

static const char register_tmpl[] =
    "<p>{{t.intro_register}}</p><form method=\"post\" action=\"/register\">"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">"
    "<label for=\"email\">{{t.email}}</label>"
    "<input type=\"email\" id=\"email\" name=\"email\" value=\"{{email}}\" autocomplete=\"username\" required>"
    "<label for=\"otp\">{{t.otp}}</label>"
    "<input type=\"text\" id=\"otp\" name=\"otp\" autocomplete=\"one-time-code\" required>"
    "<button type=\"submit\">{{t.btn_continue}}</button></form>"
    "<p><a href=\"/login\">{{t.link_login}}</a></p>";

static const char password_tmpl[] =
    "<p>{{t.intro_password}} {{min}}</p><form method=\"post\" action=\"/register/password\">"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">"
    "<label for=\"password\">{{t.password}}</label>"
    "<input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"new-password\" required>"
    "<label for=\"password2\">{{t.password2}}</label>"
    "<input type=\"password\" id=\"password2\" name=\"password2\" autocomplete=\"new-password\" required>"
    "<button type=\"submit\">{{t.btn_continue}}</button></form>";

/* Renders a form page; msg_key/detail make an error above it. */
static void form_page(struct portal_req *req, struct portal_resp *resp, const char *title_key,
                      const char *tmpl, const char *msg_key, const char *detail)
{
	char min[16];
	sg_snprintf(min, sizeof(min), "%zu", req->ctx->min_password);
	const char *email = portal_form_get(&req->form, "email");
	const char *next = portal_pages_next(req);
	struct portal_var v[] = {{"csrf", req->sess.csrf, false}, {"email", email, false},
	                         {"min", min, false}, {"next", next != NULL ? next : "", false}};
	struct sg_buf content, msg;
	sg_buf_init(&content, SG_HTTP_PAGE_MAX);
	sg_buf_init(&msg, 8192);
	if (msg_key != NULL)
		portal_pages_msg(&msg, "error", portal_i18n_text(req->lang, msg_key), detail);
	const char *m = portal_server_query(req, "m");
	if (msg_key == NULL && m != NULL &&
	    (strcmp(m, "logged_out") == 0 || strcmp(m, "reset_done") == 0 ||
	     strcmp(m, "logged_out_all") == 0))
		portal_pages_msg(&msg, "ok", portal_i18n_text(req->lang, m), NULL);
	portal_html_render(&content, tmpl, v, sizeof(v) / sizeof(v[0]), req->lang);
	portal_pages_frame(req, resp, title_key, msg.data, content.data != NULL ? content.data : "");
	sg_buf_free(&content);
	sg_buf_free(&msg);
}

void portal_login_get(struct portal_req *req, struct portal_resp *resp)
{
	form_page(req, resp, "title_login", login_tmpl, NULL, NULL);
}

void portal_login_register_get(struct portal_req *req, struct portal_resp *resp)
{
	form_page(req, resp, "title_register", register_tmpl, NULL, NULL);
}

void portal_login_password_get(struct portal_req *req, struct portal_resp *resp)
{
	form_page(req, resp, "title_password", password_tmpl, NULL, NULL);
}

static char dummy[STORE_PORTAL_HASH_MAX];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void dummy_init(void)
{
	const char *err;
	if (portal_auth_hash_password("sealgate-dummy", dummy, sizeof(dummy), &err) < 0)
		dummy[0] = '\0';
}

/* Verifies against a real hash even for unknown addresses, so timing tells nothing. */
static bool password_ok(const struct store_portal_account *a, bool found, const char *pw)
{
	pthread_once(&dummy_once, dummy_init);
	if (dummy[0] == '\0')
		return false;
	bool registered = found && a->registered != 0 && a->password_hash[0] != '\0';
	bool ok = portal_auth_check_password(registered ? a->password_hash : dummy, pw);
	return registered && ok;
}

/* The login form again with "wait N minutes" (429). */
static void locked_page(struct portal_req *req, struct portal_resp *resp, const char *title_key,
                        const char *tmpl, const struct portal_attempt *at)
{
	char minutes[24];
	portal_throttle_minutes(at, minutes, sizeof(minutes));
	resp->status = MHD_HTTP_TOO_MANY_REQUESTS;
	form_page(req, resp, title_key, tmpl, "err_locked", minutes);
}

void portal_login_form(struct portal_req *req, struct portal_resp *resp,
                       const struct portal_attempt *locked, const char *msg_key)
{
	if (locked != NULL)
		locked_page(req, resp, "title_login", login_tmpl, locked);
	else
		form_page(req, resp, "title_login", login_tmpl, msg_key, NULL);
}

void portal_login_post(struct portal_req *req, struct portal_resp *resp)
{
	const char *addr = portal_form_get(&req->form, "email");
	const char *pw = portal_form_get(&req->form, "password");
	const char *err;
	struct portal_attempt at;
	if (!portal_throttle_reserve(req, addr, &at)) {
		portal_pages_audit(req, "login-locked", addr, "");
		sg_metrics_inc1(SG_MET_PORTAL_LOGIN, "locked");
		locked_page(req, resp, "title_login", login_tmpl, &at);
		return;
	}
	/* An internal address, or a name without "@": the directory decides. */
	if (portal_employee_is_login(req->ctx, addr)) {
		portal_employee_login(req, resp, &at);
		return;
	}
	struct store_portal_account a;
	int found = strlen(addr) < SG_ADDR_MAX ? store_portal_account_get(req->ctx->st, addr, &a, &err)
	                                       : 0;
	if (found < 0 || !password_ok(&a, found == 1, pw)) {
		/* A failure that started a wait says how long it is. */
		portal_pages_audit(req, at.wait > 0 ? "lockout" : "login-failed", addr, "");
		sg_metrics_inc1(SG_MET_PORTAL_LOGIN, "failed");
		if (at.wait > 0)
			locked_page(req, resp, "title_login", login_tmpl, &at);
		else
			form_page(req, resp, "title_login", login_tmpl, "err_login", NULL);
		return;
	}
	portal_throttle_succeeded(req, &at);
	if (portal_pages_new_session(req, a.user_id, a.address, PORTAL_LOGGED_IN) < 0) {
		form_page(req, resp, "title_login", login_tmpl, "err_internal", NULL);
		return;
	}
	portal_cookie_device_set(req, resp, a.address);
	portal_pages_audit(req, "login", a.address, "");
	sg_metrics_inc1(SG_MET_PORTAL_LOGIN, "ok");
	const char *next = portal_pages_next(req); /* e.g. the Reply link that asked for the login */
	portal_pages_redirect(resp, next != NULL ? next : "/account");
}

void portal_login_logout(struct portal_req *req, struct portal_resp *resp)
{
	const char *err;
	if (req->sess.stage == PORTAL_LOGGED_IN || req->sess.stage == PORTAL_EMPLOYEE)
		portal_pages_audit(req, "logout", req->sess.address, "");
	store_portal_session_delete(req->ctx->st, req->sess.id_hash, &err);
	req->has_sess = false;
	portal_pages_cookie(req, resp, "sg_session", "", 0);
	portal_pages_redirect(resp, "/login?m=logged_out");
}

/* Ends every session of the account (other browsers, a phone left logged in), this one too. */
void portal_login_logout_all(struct portal_req *req, struct portal_resp *resp)
{
	const char *err;
	if (store_portal_session_delete_user(req->ctx->st, req->sess.user_id, &err) < 0) {
		portal_pages_redirect(resp, "/account");
		return;
	}
	portal_pages_audit(req, "logout-all", req->sess.address, "");
	req->has_sess = false;
	portal_pages_cookie(req, resp, "sg_session", "", 0);
	portal_pages_redirect(resp, "/login?m=logged_out_all");
}

/* An OTP has ~100 random bits: the throttle per client address is what limits guessing, so
 * wrong guesses never use up the invitation (anyone could burn a partner's otherwise). */
static bool otp_ok(struct portal_req *req, const struct store_portal_account *a, bool found,
                   const char *otp)
{
	char hash[PORTAL_TOKEN_HEX];
	held_invite_otp_hash(otp, hash); /* for unknown addresses too: the same work */
	return found && portal_auth_equal(hash, a->otp_hash) && a->registered == 0 &&
	       a->otp_hash[0] != '\0' && a->otp_expires > req->now;
}

/* Known and unknown addresses cost the same: one reservation, one lookup, one hash. */
void portal_login_register_post(struct portal_req *req, struct portal_resp *resp)
{
	const char *addr = portal_form_get(&req->form, "email");
	const char *otp = portal_form_get(&req->form, "otp");
	const char *err;
	struct portal_attempt at;
	if (!portal_throttle_reserve(req, NULL, &at)) {
		portal_pages_audit(req, "otp-locked", addr, "");
		locked_page(req, resp, "title_register", register_tmpl, &at);
		return;
	}
	struct store_portal_account a;
	int found = strlen(addr) < SG_ADDR_MAX ? store_portal_account_get(req->ctx->st, addr, &a, &err)
	                                       : 0;
	if (!otp_ok(req, &a, found == 1, otp)) {
		portal_pages_audit(req, at.wait > 0 ? "lockout" : "otp-failed", addr, "");
		if (at.wait > 0)
			locked_page(req, resp, "title_register", register_tmpl, &at);
		else
			form_page(req, resp, "title_register", register_tmpl, "err_otp", NULL);
		return;
	}
	portal_throttle_succeeded(req, &at);
	if (portal_pages_new_session(req, a.user_id, a.address, PORTAL_REGISTERING) < 0) {
		form_page(req, resp, "title_register", register_tmpl, "err_internal", NULL);
		return;
	}
	portal_pages_audit(req, "otp-accepted", a.address, "");
	portal_pages_redirect(resp, "/register/password");
}

const char *portal_login_new_password(struct portal_req *req, int64_t user_id,
                                      const char *address, const char *pw, const char *pw2,
                                      const char **detail_r)
{
	const char *err;
	if (strcmp(pw, pw2) != 0)
		return "err_pw_match";
	if (strcasecmp(pw, address) == 0)
		return "err_pw_address";
	if (pdf_account_set_password(req->ctx->st, req->ctx->ks, user_id, address, pw,
	                             req->ctx->min_password, detail_r) < 0)
		return "err_pw";
	char hash[STORE_PORTAL_HASH_MAX];
	int rc = portal_auth_hash_password(pw, hash, sizeof(hash), &err);
	if (rc == 0)
		rc = store_portal_password_set(req->ctx->st, user_id, hash, &err);
	sodium_memzero(hash, sizeof(hash));
	return rc < 0 ? "err_internal" : NULL;
}

/* The password step: the login hash and the SecurePDF record are stored, but the account is
 * registered (and the OTP consumed) only by the questions step, so a partner who stops here
 * can come back with the same OTP and choose the password again. */
static const char *set_password(struct portal_req *req, const char *pw, const char **detail_r)
{
	struct store_portal_account a;
	const char *err;
	if (store_portal_account_get(req->ctx->st, req->sess.address, &a, &err) != 1 ||
	    a.registered != 0 || a.otp_hash[0] == '\0' || a.otp_expires <= req->now)
		return "err_otp"; /* consumed or expired since the OTP step */
	return portal_login_new_password(req, a.user_id, a.address, pw,
	                                 portal_form_get(&req->form, "password2"), detail_r);
}

void portal_login_password_post(struct portal_req *req, struct portal_resp *resp)
{
	const char *detail = NULL;
	const char *fail = set_password(req, portal_form_get(&req->form, "password"), &detail);
	if (fail != NULL) {
		form_page(req, resp, "title_password", password_tmpl, fail, detail);
		return;
	}
	char addr[SG_ADDR_MAX];
	sg_strlcpy(addr, req->sess.address, sizeof(addr));
	portal_pages_audit(req, "password-chosen", addr, "");
	if (portal_pages_new_session(req, req->sess.user_id, addr, PORTAL_QUESTIONS) < 0) {
		form_page(req, resp, "title_password", password_tmpl, "err_internal", NULL);
		return;
	}
	portal_pages_redirect(resp, "/register/questions");
}

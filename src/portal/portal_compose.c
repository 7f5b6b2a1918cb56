/* portal_compose.c: mail a partner writes on the portal. "New message" (/compose) and the
 * SecurePDF Reply link (/reply/TOKEN) lead to the same form; the message is built here (From is
 * always the session's address, To an internal address only: externals never write to
 * externals), checked against policy.max_portal_attachments and policy.max_encrypted_size, and
 * queued with SPOOL_F_PORTAL: qmgr plans it POLICY_PORTAL (transform_portal.c). */
#include "portal/portal_priv.h"
#include "core/settings.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "core/sg_time.h"
#include "mime/mime.h"
#include "policy/policy.h"
#include "queue/spool.h"
#include "smtp/smtp.h"
#include "store/store.h"

#include <microhttpd.h>
#include <sodium.h>
#include <string.h>

#define REPLY_PREFIX "/reply/"
#define REPLY_TOKEN_LEN 43      /* 32 random bytes, base64url without padding (transform_pdf.c) */
#define SUBJECT_MAX 500         /* bytes of UTF-8 */
#define ENVELOPE_SLACK 16384    /* CMS envelope, outer fields, our header: more than they need */
#define BODY_SLACK (64 * 1024)  /* multipart framing and the small fields of the form */
#define MB 1048576.0

static const char form_tmpl[] =
    "<p>{{intro}}</p><form method=\"post\" action=\"{{action}}\" enctype=\"multipart/form-data\">"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">"
    "<label for=\"from\">{{t.c_from}}</label>"
    "<input type=\"email\" id=\"from\" value=\"{{from}}\" readonly>"
    "<label for=\"to\">{{t.c_to}}</label>{{&to_input}}"
    "<label for=\"subject\">{{t.c_subject}}</label>"
    "<input type=\"text\" id=\"subject\" name=\"subject\" value=\"{{subject}}\" maxlength=\"500\">"
    "<label for=\"text\">{{t.c_text}}</label>"
    "<textarea id=\"text\" name=\"text\" rows=\"12\" required>\n{{text}}</textarea>"
    "<label for=\"files\">{{t.c_files}}</label>"
    "<input type=\"file\" id=\"files\" name=\"files\" multiple aria-describedby=\"limits\">"
    "<p id=\"limits\">{{t.c_limit_n}} {{n}}. {{t.c_limit_mb}} {{mb}} MB.</p>"
    "<button type=\"submit\">{{t.btn_send}}</button></form>"
    "<p><a href=\"/account\">{{t.link_account}}</a></p>";

/* A reply's To is the token's: shown, never sent back by the form. */
static const char to_fixed_tmpl[] =
    "<input type=\"email\" id=\"to\" value=\"{{to}}\" readonly>";
static const char to_free_tmpl[] =
    "<input type=\"email\" id=\"to\" name=\"to\" value=\"{{to}}\" autocomplete=\"email\" required>";

static const char sent_tmpl[] =
    "<dl><dt>{{t.c_from}}</dt><dd>{{from}}</dd><dt>{{t.c_to}}</dt><dd>{{to}}</dd>"
    "<dt>{{t.c_subject}}</dt><dd>{{subject}}</dd><dt>{{t.c_files}}</dt><dd>{{&files}}</dd>"
    "<dt>{{t.sent_ref}}</dt><dd><code>{{id}}</code></dd></dl>"
    "<p><a href=\"/compose\">{{t.link_compose_again}}</a></p>"
    "<p><a href=\"/account\">{{t.link_account}}</a></p>";

/* A user-facing failure: the text key, with an optional detail (escaped when shown). */
struct refusal {
	unsigned status;
	const char *key;
	char detail[SG_ADDR_MAX + 128];
};

bool portal_compose_route(const char *path)
{
	return strcmp(path, "/compose") == 0 ||
	       strncmp(path, REPLY_PREFIX, sizeof(REPLY_PREFIX) - 1) == 0 ||
	       portal_answer_route(path);
}

static long long encrypted_max(const struct portal_ctx *ctx)
{
	return settings_number(ctx->set, "policy.max_encrypted_size");
}

size_t portal_compose_body_max(struct portal_ctx *ctx, const char *path,
                               const char *session_cookie)
{
	if (!portal_compose_route(path) || session_cookie == NULL ||
	    strlen(session_cookie) != PORTAL_TOKEN_HEX - 1)
		return 0;
	/* Only a logged-in partner may make the server hold this much. */
	char hash[PORTAL_TOKEN_HEX];
	struct store_portal_session s;
	const char *err;
	time_t now = sg_wall();
	portal_auth_token_hash(session_cookie, hash);
	if (store_portal_session_get(ctx->st, hash, &s, &err) != 1 || s.stage != PORTAL_LOGGED_IN ||
	    s.last_seen + ctx->idle_s < now || s.created + ctx->max_s < now)
		return 0;
	/* Encrypted, attachments grow by more than half: the limit itself bounds the raw files. */
	long long max = encrypted_max(ctx) + SG_HTTP_TEXT_MAX + BODY_SLACK;
	return max > SG_HTTP_COMPOSE_BODY_MAX ? (size_t)SG_HTTP_COMPOSE_BODY_MAX : (size_t)max;
}

/* The size of the message once encrypted to the recipient: S/MIME base64 again (64-character
 * lines and CRLF: 4/3 * 66/64 = 11/8) plus the envelope. Mail without a certificate on file
 * goes unencrypted and smaller; the same limit keeps the rule one rule. */
static unsigned long long encrypted_estimate(size_t mime_len)
{
	return (unsigned long long)mime_len / 8 * 11 + 11 + ENVELOPE_SLACK;
}

/* About how many MB of files fit (base64 in the message, 4/3 * 78/76, then 11/8). */
static double files_mb(long long max)
{
	double raw = (double)(max - ENVELOPE_SLACK) * 8.0 / 11.0 * 57.0 / 78.0;
	return raw > 0 ? raw / MB : 0;
}

static size_t max_files(const struct portal_ctx *ctx)
{
	return (size_t)settings_number(ctx->set, "policy.max_portal_attachments");
}

/* Valid UTF-8 without control characters (tab allowed; CR and LF too when multiline). */
static bool clean_text(const char *s, bool multiline)
{
	size_t len = strlen(s);
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t' && !(multiline && (c == '\r' || c == '\n'))) || c == 0x7f)
			return false;
		size_t n = smtp_addr_utf8_len((const unsigned char *)s + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

static bool blank(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
			return false;
	return true;
}

static void refuse(struct refusal *r, unsigned status, const char *key, const char *detail)
{
	r->status = status;
	r->key = key;
	sg_strlcpy(r->detail, detail != NULL ? detail : "", sizeof(r->detail)); /* escaped when shown */
}

/* To: a mailbox whose domain is one of gateway.internal_domains. */
static int check_to(struct portal_req *req, const char *to, struct portal_draft *d, struct refusal *r)
{
	struct smtp_addr a;
	char path[SG_ADDR_MAX + 2];
	const char *err;
	if (blank(to)) {
		refuse(r, MHD_HTTP_BAD_REQUEST, "err_to_empty", NULL);
		return -1;
	}
	if (sg_snprintf(path, sizeof(path), "<%s>", to) < 0 ||
	    smtp_addr_parse(path, strlen(path), SMTP_ADDR_F_UTF8, &a, &err) < 0 || a.addr[0] == '\0') {
		refuse(r, MHD_HTTP_BAD_REQUEST, "err_to_invalid", to);
		return -1;
	}
	struct policy *p = policy_new(req->ctx->set);
	bool internal = policy_is_internal(p, a.addr);
	policy_free(&p);
	if (!internal) {
		portal_pages_audit(req, "send-refused", req->sess.address, "external recipient");
		refuse(r, MHD_HTTP_FORBIDDEN, "err_to_external", a.addr);
		return -1;
	}
	sg_strlcpy(d->to, a.addr, sizeof(d->to));
	return 0;
}

/* The attachments: every file part of "files" that names a file or has content (a browser
 * sends an empty part when none was chosen), at most policy.max_portal_attachments. */
static int collect_files(struct portal_req *req, struct portal_draft *d, struct refusal *r)
{
	const struct portal_form *f = &req->form;
	size_t n = 0, max = max_files(req->ctx);
	for (size_t i = 0; i < f->n; i++)
		n += f->fields[i].is_file && (f->fields[i].filename[0] != '\0' || f->fields[i].value_len > 0);
	if (n > max) {
		char detail[64];
		sg_snprintf(detail, sizeof(detail), "%zu", max);
		refuse(r, MHD_HTTP_BAD_REQUEST, "err_files_count", detail);
		return -1;
	}
	d->att = sg_calloc(n > 0 ? n : 1, sizeof(*d->att));
	for (size_t i = 0; i < f->n; i++) {
		const struct portal_field *p = &f->fields[i];
		if (!p->is_file || (p->filename[0] == '\0' && p->value_len == 0))
			continue;
		/* Some browsers send a whole path: the recipient sees the file's own name. */
		const char *base = p->filename;
		for (const char *c = p->filename; *c != '\0'; c++)
			if (*c == '/' || *c == '\\')
				base = c + 1;
		d->att[d->natt++] = (struct mime_attachment){
			.filename = base, .content_type = p->content_type, .data = p->value,
			.len = p->value_len};
	}
	return 0;
}

/* portal.max_messages_per_hour, counted in the audit log ("sent"): a partner's password in
 * the wrong hands must not make the portal a way to flood the organisation. */
static int check_rate(struct portal_req *req, struct refusal *r)
{
	long long max = settings_number(req->ctx->set, "portal.max_messages_per_hour");
	size_t n = 0;
	const char *err;
	if (max <= 0)
		return 0;
	if (store_portal_audit_count(req->ctx->st, "sent", req->sess.address, req->now - 3600, &n,
	                             &err) < 0) {
		sg_error("portal: counting sent messages: %s", err);
		refuse(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "err_internal", NULL);
		return -1;
	}
	if ((long long)n < max)
		return 0;
	char detail[32];
	sg_snprintf(detail, sizeof(detail), "%lld", max);
	portal_pages_audit(req, "send-refused", req->sess.address, "hourly limit reached");
	refuse(r, MHD_HTTP_TOO_MANY_REQUESTS, "err_send_rate", detail);
	return -1;
}

static int check_fields(struct portal_req *req, struct portal_draft *d, struct refusal *r)
{
	d->subject = portal_form_get(&req->form, "subject");
	d->text = portal_form_get(&req->form, "text");
	if (check_rate(req, r) < 0)
		return -1;
	if (!d->fixed_to && check_to(req, portal_form_get(&req->form, "to"), d, r) < 0)
		return -1;
	if (strlen(d->subject) > SUBJECT_MAX || !clean_text(d->subject, false)) {
		refuse(r, MHD_HTTP_BAD_REQUEST, "err_subject", NULL);
		return -1;
	}
	if (blank(d->text)) {
		refuse(r, MHD_HTTP_BAD_REQUEST, "err_text_empty", NULL);
		return -1;
	}
	if (!clean_text(d->text, true)) {
		refuse(r, MHD_HTTP_BAD_REQUEST, "err_text_chars", NULL);
		return -1;
	}
	return collect_files(req, d, r);
}

static void refuse_size(struct portal_req *req, struct refusal *r)
{
	long long max = encrypted_max(req->ctx);
	char detail[128];
	sg_snprintf(detail, sizeof(detail), "%.1f MB (%s %.1f MB)", (double)max / MB,
	            portal_i18n_text(req->lang, "err_size_files"), files_mb(max));
	refuse(r, MHD_HTTP_CONTENT_TOO_LARGE, "err_size", detail);
}

/* Builds the message and queues it: sender the session's address, one internal recipient. */
static int send_draft(struct portal_req *req, struct portal_draft *d, struct refusal *r)
{
	struct portal_ctx *ctx = req->ctx;
	const char *from = req->sess.address, *err;
	char cc[PORTAL_CC_MAX * SG_ADDR_MAX];
	struct mime_header_pair cc_field = {"Cc", cc};
	struct mime_build b = {.from = from, .to = d->to, .subject = d->subject, .text = d->text,
	                       .in_reply_to = d->in_reply_to[0] != '\0' ? d->in_reply_to : NULL,
	                       .msgid_domain = settings_get(ctx->set, "gateway.hostname"),
	                       .extra = &cc_field, .nextra = d->ncc > 0,
	                       .att = d->att, .natt = d->natt};
	portal_compose_join(d, false, cc, sizeof(cc));
	long long max = encrypted_max(ctx);
	struct sg_buf msg;
	sg_buf_init(&msg, (size_t)(max / 11 * 8) + 8);
	/* The addresses were checked: the build fails only at msg's ceiling, which is over max. */
	int rc = mime_build_message(&b, &msg, &err);
	if (rc < 0 || encrypted_estimate(msg.len) > (unsigned long long)max) {
		sg_buf_free_secret(&msg);
		refuse_size(req, r);
		return -1;
	}
	struct spool_envelope env;
	spool_envelope_init(&env);
	env.arrival = req->now;
	env.sender = sg_strdup(from);
	env.client_addr = sg_strdup("portal");
	env.client_helo = sg_strdup(req->client);
	env.internal_client = false;
	env.flags = SPOOL_F_PORTAL;
	env.smtputf8 = mime_has_8bit(from, strlen(from)) || mime_has_8bit(d->to, strlen(d->to));
	env.body_8bit = mime_has_8bit(msg.data, msg.len);
	spool_envelope_add_rcpt(&env, d->to, NULL);
	for (size_t i = 0; i < d->ncc; i++)
		spool_envelope_add_rcpt(&env, d->cc[i], NULL);
	rc = spool_inject(ctx->spool, msg.data, msg.len, &env, &err);
	if (rc == 0) {
		sg_strlcpy(d->id, env.id, sizeof(d->id));
		d->not_kept = !portal_inbox_keep_sent(req, msg.data, msg.len, d->id);
	}
	else
		sg_error("portal: cannot queue a message from %s: %s", req->client, err);
	spool_envelope_free(&env);
	sg_buf_free_secret(&msg);
	if (rc < 0)
		refuse(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "err_internal", NULL);
	return rc;
}

static bool had_files(const struct portal_req *req)
{
	for (size_t i = 0; i < req->form.n; i++)
		if (req->form.fields[i].is_file && req->form.fields[i].value_len > 0)
			return true;
	return false;
}

/* The form, with the user's subject and text kept after a refusal (files must be chosen
 * again: a browser never fills a file input). */
static void form_page(struct portal_req *req, struct portal_resp *resp,
                      const struct portal_draft *d, const char *to, const char *subject,
                      const char *text, const struct refusal *r)
{
	char n[16], mb[32];
	sg_snprintf(n, sizeof(n), "%zu", max_files(req->ctx));
	sg_snprintf(mb, sizeof(mb), "%.1f", files_mb(encrypted_max(req->ctx)));
	struct sg_buf to_input, content, msg;
	sg_buf_init(&to_input, 4096);
	sg_buf_init(&content, SG_HTTP_COMPOSE_PAGE_MAX);
	sg_buf_init(&msg, 8192);
	struct portal_var tv[] = {{"to", to, false}};
	portal_html_render(&to_input, d->fixed_to ? to_fixed_tmpl : to_free_tmpl, tv, 1, req->lang);
	const char *intro = portal_i18n_text(req->lang, d->fixed_to ? "intro_reply" : "intro_compose");
	struct portal_var v[] = {
		{"intro", intro, false},     {"action", req->path, false},
		{"csrf", req->sess.csrf, false}, {"from", req->sess.address, false},
		{"to_input", to_input.data != NULL ? to_input.data : "", true},
		{"subject", subject, false}, {"text", text, false},
		{"n", n, false},             {"mb", mb, false},
	};
	if (r != NULL) {
		portal_pages_msg(&msg, "error", portal_i18n_text(req->lang, r->key), r->detail);
		if (had_files(req))
			portal_pages_msg(&msg, "error", portal_i18n_text(req->lang, "c_files_again"), NULL);
		resp->status = r->status;
	}
	if (portal_html_render(&content, form_tmpl, v, sizeof(v) / sizeof(v[0]), req->lang) < 0)
		resp->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	portal_pages_frame(req, resp, d->fixed_to ? "title_reply" : "title_compose", msg.data,
	                   content.data != NULL ? content.data : "");
	sg_buf_free(&to_input);
	sg_buf_free(&content);
	sg_buf_free(&msg);
}

static void sent_page(struct portal_req *req, struct portal_resp *resp,
                      const struct portal_draft *d)
{
	char to[(PORTAL_CC_MAX + 1) * SG_ADDR_MAX];
	portal_compose_join(d, true, to, sizeof(to));
	struct sg_buf files, content, msg;
	sg_buf_init(&files, SG_HTTP_PAGE_MAX / 2);
	sg_buf_init(&content, SG_HTTP_PAGE_MAX);
	sg_buf_init(&msg, 4096);
	sg_buf_append_str(&files, d->natt > 0 ? "<ul>" : "-");
	for (size_t i = 0; i < d->natt; i++) {
		char size[32];
		portal_html_size((int64_t)d->att[i].len, size, sizeof(size));
		struct portal_var fv[] = {{"name", d->att[i].filename, false}, {"size", size, false}};
		portal_html_render(&files, "<li>{{name}} ({{size}})</li>", fv, 2, req->lang);
	}
	sg_buf_append_str(&files, d->natt > 0 ? "</ul>" : "");
	struct portal_var v[] = {
		{"from", req->sess.address, false}, {"to", to, false},
		{"subject", d->subject, false},     {"files", files.data != NULL ? files.data : "", true},
		{"id", d->id, false},
	};
	portal_pages_msg(&msg, "ok", portal_i18n_text(req->lang, "sent_ok"), NULL);
	if (d->not_kept)
		portal_pages_msg(&msg, "error", portal_i18n_text(req->lang, "wm_sent_not_kept"), NULL);
	portal_html_render(&content, sent_tmpl, v, sizeof(v) / sizeof(v[0]), req->lang);
	portal_pages_frame(req, resp, "title_sent", msg.data, content.data != NULL ? content.data : "");
	sg_buf_free(&files);
	sg_buf_free(&content);
	sg_buf_free(&msg);
}

void portal_compose_join(const struct portal_draft *d, bool with_to, char *dst, size_t size)
{
	dst[0] = '\0';
	if (with_to)
		sg_strlcpy(dst, d->to, size);
	for (size_t i = 0; i < d->ncc; i++) {
		size_t n = strlen(dst);
		sg_snprintf(dst + n, size - n, "%s%s", n > 0 ? ", " : "", d->cc[i]);
	}
}

void portal_compose_form(struct portal_req *req, struct portal_resp *resp,
                         const struct portal_draft *d, const char *subject, const char *text)
{
	char to[(PORTAL_CC_MAX + 1) * SG_ADDR_MAX];
	portal_compose_join(d, true, to, sizeof(to));
	form_page(req, resp, d, to, subject, text, NULL);
}

/* Checks, sends, and answers with the confirmation or the form and what to change. */
void portal_compose_submit(struct portal_req *req, struct portal_resp *resp,
                           struct portal_draft *d)
{
	struct refusal r = {0};
	int rc = check_fields(req, d, &r);
	if (rc == 0)
		rc = send_draft(req, d, &r);
	if (rc < 0) {
		char fixed[(PORTAL_CC_MAX + 1) * SG_ADDR_MAX];
		portal_compose_join(d, true, fixed, sizeof(fixed));
		const char *to = d->fixed_to ? fixed : portal_form_get(&req->form, "to");
		form_page(req, resp, d, to, d->subject, d->text, &r);
	} else {
		char detail[SG_ADDR_MAX + 96], to[SG_ADDR_MAX];
		sg_printable(to, sizeof(to), d->to, SG_ADDR_MAX - 4); /* the audit logs it as it is */
		sg_snprintf(detail, sizeof(detail), "to %s%s, %zu attachment(s), queue id %s%s", to,
		            d->ncc > 0 ? " and others" : "", d->natt, d->id,
		            d->fixed_to ? ", reply" : "");
		portal_pages_audit(req, "sent", req->sess.address, detail);
		sent_page(req, resp, d);
	}
	sg_free(&d->att);
}

void portal_compose_get(struct portal_req *req, struct portal_resp *resp)
{
	struct portal_draft d = {0};
	form_page(req, resp, &d, "", "", "", NULL);
}

void portal_compose_post(struct portal_req *req, struct portal_resp *resp)
{
	struct portal_draft d = {0};
	portal_compose_submit(req, resp, &d);
}

/* A page that says what went wrong with a Reply link, and where to go instead. */
static void problem(struct portal_req *req, struct portal_resp *resp, const struct refusal *r)
{
	struct sg_buf msg, content;
	sg_buf_init(&msg, 8192);
	sg_buf_init(&content, 4096);
	portal_pages_msg(&msg, "error", portal_i18n_text(req->lang, r->key), r->detail);
	portal_html_render(&content, "<p><a href=\"/compose\">{{t.link_compose}}</a></p>"
	                   "<p><a href=\"/account\">{{t.link_account}}</a></p>", NULL, 0, req->lang);
	portal_pages_frame(req, resp, "title_error", msg.data, content.data);
	resp->status = r->status;
	sg_buf_free(&msg);
	sg_buf_free(&content);
}

/* The token of /reply/TOKEN, looked up: it must be ours (format, then its SHA-256 in the
 * store), made for the logged-in partner, and answer an internal sender. */
static int reply_draft(struct portal_req *req, struct portal_draft *d, struct refusal *r)
{
	const char *token = req->path + sizeof(REPLY_PREFIX) - 1, *err;
	bool shape = strlen(token) == REPLY_TOKEN_LEN;
	for (const char *c = token; shape && *c != '\0'; c++)
		shape = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		        (*c >= '0' && *c <= '9') || *c == '-' || *c == '_';
	struct store_reply_token tok;
	int rc = 0;
	if (shape) {
		unsigned char digest[crypto_hash_sha256_BYTES];
		char hex[2 * crypto_hash_sha256_BYTES + 1];
		crypto_hash_sha256(digest, (const unsigned char *)token, REPLY_TOKEN_LEN);
		sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
		rc = store_reply_token_get(req->ctx->st, hex, &tok, &err);
	}
	if (rc < 0) {
		sg_error("portal: reply token: %s", err);
		refuse(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "err_internal", NULL);
		return -1;
	}
	if (rc == 0) {
		portal_pages_audit(req, "reply-refused", req->sess.address, "unknown reply link");
		refuse(r, MHD_HTTP_NOT_FOUND, "err_reply_token", NULL);
		return -1;
	}
	long long days = settings_number(req->ctx->set, "portal.reply_link_days");
	if ((long long)tok.created < (long long)req->now - days * 86400) {
		portal_pages_audit(req, "reply-refused", req->sess.address, "expired reply link");
		refuse(r, MHD_HTTP_GONE, "err_reply_expired", NULL);
		return -1;
	}
	if (!sg_streq_nocase(tok.recipient, req->sess.address)) {
		portal_pages_audit(req, "reply-refused", req->sess.address, "link of another recipient");
		refuse(r, MHD_HTTP_FORBIDDEN, "err_reply_other", NULL);
		return -1;
	}
	struct policy *p = policy_new(req->ctx->set);
	bool internal = tok.sender[0] != '\0' && policy_is_internal(p, tok.sender);
	policy_free(&p);
	if (!internal) {
		refuse(r, MHD_HTTP_FORBIDDEN, "err_to_external", tok.sender);
		return -1;
	}
	d->fixed_to = true;
	sg_strlcpy(d->to, tok.sender, sizeof(d->to));
	sg_strlcpy(d->in_reply_to, tok.message_id, sizeof(d->in_reply_to));
	return 0;
}

void portal_compose_reply_get(struct portal_req *req, struct portal_resp *resp)
{
	struct portal_draft d = {0};
	struct refusal r = {0};
	if (reply_draft(req, &d, &r) < 0) {
		problem(req, resp, &r);
		return;
	}
	form_page(req, resp, &d, d.to, "Re: ", "", NULL);
}

void portal_compose_reply_post(struct portal_req *req, struct portal_resp *resp)
{
	struct portal_draft d = {0};
	struct refusal r = {0};
	if (reply_draft(req, &d, &r) < 0) {
		problem(req, resp, &r);
		return;
	}
	portal_compose_submit(req, resp, &d);
}

void portal_compose_too_big(struct portal_req *req, struct portal_resp *resp)
{
	struct refusal r = {0};
	refuse_size(req, &r);
	portal_pages_audit(req, "send-refused", req->sess.address, "request body over the limit");
	struct sg_buf msg, content;
	sg_buf_init(&msg, 8192);
	sg_buf_init(&content, 4096);
	portal_pages_msg(&msg, "error", portal_i18n_text(req->lang, r.key), r.detail);
	struct portal_var v[] = {{"back", req->path, false}};
	portal_html_render(&content, "<p><a href=\"{{back}}\">{{t.link_compose_back}}</a></p>", v, 1,
	                   req->lang);
	portal_pages_frame(req, resp, "title_error", msg.data, content.data);
	resp->status = r.status;
	sg_buf_free(&msg);
	sg_buf_free(&content);
}

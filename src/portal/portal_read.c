/* portal_read.c: one webmail message on the portal, and the dispatch of every path below
 * WEBMAIL_PATH "/". The body is shown as the reader's mail client would show it, minus all
 * that could run or call home: a text body as text; an HTML body through the sanitiser
 * (mime_sanitize_html: our allow-list, images only from the message's own parts, links with
 * their targets), inside a section element the markup cannot close; the page's CSP stays
 * script-free. A message that is not the partner's own is not found (404), exactly like one
 * that does not exist, so ids cannot be probed. */
#include "portal/portal_priv.h"
#include "core/settings.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "mime/mime.h"
#include "pdf/pdf.h"
#include "webmail/webmail.h"

#include <microhttpd.h>
#include <string.h>

static const char read_tmpl[] =
    "<p><a href=\"{{back}}\">{{back_text}}</a></p><h2>{{subject}}</h2>"
    "<dl class=\"fields\"><dt>{{t.c_from}}</dt><dd>{{from}}</dd><dt>{{t.c_to}}</dt><dd>{{to}}</dd>"
    "{{&cc}}<dt>{{t.wm_date}}</dt><dd>{{date}}</dd></dl><div class=\"actions\">{{&reply}}"
    "<form class=\"inline\" method=\"post\" action=\"" WEBMAIL_PATH "/{{uid}}/delete\">"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">"
    "<button type=\"submit\">{{t.wm_delete}}</button></form></div>{{&atts}}{{&body}}";

static const char reply_tmpl[] =
    "<a href=\"" WEBMAIL_PATH "/{{uid}}/reply\">{{t.wm_reply}}</a>"
    "<a href=\"" WEBMAIL_PATH "/{{uid}}/reply-all\">{{t.wm_reply_all}}</a>";

/* What the cid: URLs of the HTML body may name: the message's own image parts. */
struct cid_ctx {
	const struct webmail_message *m;
	const char *uid;
};

/* The subject without a leading policy.encrypt_subject_tag: the sender's instruction to the
 * gateway, not part of the conversation. */
const char *portal_read_subject(struct portal_req *req, const char *subject)
{
	const char *tag = settings_get(req->ctx->set, "policy.encrypt_subject_tag");
	if (subject[0] == '\0')
		return portal_i18n_text(req->lang, "wm_no_subject");
	if (tag == NULL || tag[0] == '\0' || !sg_has_prefix_nocase(subject, tag))
		return subject;
	subject += strlen(tag);
	subject += strspn(subject, " ");
	return subject[0] != '\0' ? subject : portal_i18n_text(req->lang, "wm_no_subject");
}

const char *portal_read_uid(const char *path, char uid_r[STORE_WEBMAIL_UID_MAX])
{
	size_t n = strspn(path, "0123456789abcdef");
	if (n != STORE_WEBMAIL_UID_MAX - 1 || (path[n] != '\0' && path[n] != '/'))
		return NULL;
	memcpy(uid_r, path, n);
	uid_r[n] = '\0';
	return path + n;
}

static bool cid_url(void *arg, const char *cid, char *url_r, size_t size)
{
	const struct cid_ctx *c = arg;
	for (size_t i = 0; i < c->m->nparts; i++) {
		const struct webmail_part_info *p = &c->m->parts[i];
		if ((p->kind == WEBMAIL_PART_INLINE || p->kind == WEBMAIL_PART_ATTACHMENT) &&
		    p->content_id[0] != '\0' && sg_streq_nocase(p->content_id, cid) &&
		    portal_part_inline_image(p->content_type))
			return sg_snprintf(url_r, size, WEBMAIL_PATH "/%s/part/%zu", c->uid, i) >= 0;
	}
	return false;
}

static int find_part(const struct webmail_message *m, enum webmail_part_kind kind)
{
	for (size_t i = 0; i < m->nparts; i++)
		if (m->parts[i].kind == kind)
			return (int)i;
	return -1;
}

/* Text in a section of its own, escaped (invalid UTF-8 shown as U+FFFD); a text longer than
 * SG_HTML_SANITIZE_MAX is shown up to there (at a character boundary), and the page says so
 * (the page has a ceiling; 1 MB of text is more than anyone reads in a browser). */
static void put_text(struct portal_req *req, struct sg_buf *b, char *text, struct sg_buf *msg)
{
	size_t len = strlen(text);
	if (len > SG_HTML_SANITIZE_MAX) {
		len = SG_HTML_SANITIZE_MAX;
		while (len > 0 && ((unsigned char)text[len] & 0xc0) == 0x80)
			len--;
		text[len] = '\0';
		portal_pages_msg(msg, "ok", portal_i18n_text(req->lang, "wm_text_cut"), NULL);
	}
	portal_html_render(b, "<section class=\"mailbody\" aria-label=\"{{t.wm_body}}\">"
	                   "<pre class=\"mailtext\">", NULL, 0, req->lang);
	portal_html_escape(b, text);
	sg_buf_append_str(b, "</pre></section>");
}

/* The HTML body, sanitised; -1 (b as it was) when it cannot be shown as HTML. */
static int put_html(struct portal_req *req, const struct webmail_message *m, const char *uid,
                    const char *html, size_t len, struct sg_buf *b, struct sg_buf *msg)
{
	struct cid_ctx c = {.m = m, .uid = uid};
	struct mime_sanitize_opts o = {.cid_url = cid_url, .arg = &c,
	                               .blocked_image = portal_i18n_text(req->lang, "wm_image")};
	struct mime_sanitize_report rep;
	const char *err;
	size_t start = b->len;
	portal_html_render(b, "<section class=\"mailbody\" aria-label=\"{{t.wm_body}}\">", NULL, 0,
	                   req->lang);
	if (mime_sanitize_html(html, len, &o, b, &rep, &err) < 0 ||
	    sg_buf_append_str(b, "</section>") < 0) {
		sg_info("portal: a webmail HTML body shown as text: %s", err);
		b->len = start;
		if (b->data != NULL)
			b->data[start] = '\0';
		return -1;
	}
	if (rep.blocked_images > 0) {
		char n[32];
		sg_snprintf(n, sizeof(n), "%zu", rep.blocked_images);
		portal_pages_msg(msg, "ok", portal_i18n_text(req->lang, "wm_images_blocked"), n);
	}
	return 0;
}

/* Bytes of part idx (NUL-terminated; free with sg_free_secret), or NULL. */
static unsigned char *part_bytes(struct portal_req *req, const char *uid, int idx, size_t *len_r)
{
	unsigned char *data = NULL;
	const char *err;
	if (idx < 0)
		return NULL;
	int rc = webmail_part(req->ctx->st, req->ctx->ks, req->sess.address, uid, idx, &data, len_r,
	                      &err);
	if (rc < 0)
		sg_error("portal: webmail part of %s: %s", req->client, err);
	return rc == 1 ? data : NULL;
}

/* HTML when there is an HTML body that can be shown, else the text body, else the HTML
 * reduced to text. */
static void body_html(struct portal_req *req, const struct webmail_message *m, const char *uid,
                      struct sg_buf *b, struct sg_buf *msg)
{
	size_t hlen = 0, tlen = 0;
	unsigned char *html = part_bytes(req, uid, find_part(m, WEBMAIL_PART_HTML), &hlen);
	unsigned char *text = NULL;
	if (html == NULL || put_html(req, m, uid, (const char *)html, hlen, b, msg) < 0) {
		text = part_bytes(req, uid, find_part(m, WEBMAIL_PART_TEXT), &tlen);
		char *reduced = text == NULL && html != NULL
		                    ? pdf_html_to_text((const char *)html, hlen, SG_HTML_SANITIZE_MAX, &tlen)
		                    : NULL;
		if (html != NULL)
			portal_pages_msg(msg, "ok", portal_i18n_text(req->lang, "wm_html_as_text"), NULL);
		char none[] = "";
		put_text(req, b, text != NULL ? (char *)text : reduced != NULL ? reduced : none, msg);
		sg_free(&reduced);
	}
	if (html != NULL)
		sg_free_secret(&html, hlen);
	if (text != NULL)
		sg_free_secret(&text, tlen);
}

static void attachments_html(struct portal_req *req, const struct webmail_message *m,
                             const char *uid, struct sg_buf *b)
{
	size_t n = 0;
	for (size_t i = 0; i < m->nparts; i++) {
		const struct webmail_part_info *p = &m->parts[i];
		if (p->kind != WEBMAIL_PART_ATTACHMENT && p->kind != WEBMAIL_PART_INLINE)
			continue;
		if (n++ == 0)
			portal_html_render(b, "<h2>{{t.wm_attachments}}</h2><ul>", NULL, 0, req->lang);
		char idx[16], size[32], fallback[32];
		sg_snprintf(idx, sizeof(idx), "%zu", i);
		sg_snprintf(fallback, sizeof(fallback), "attachment-%zu", i);
		portal_html_size(p->size, size, sizeof(size));
		struct portal_var v[] = {
			{"uid", uid, false}, {"idx", idx, false},
			{"name", p->filename[0] != '\0' ? p->filename : fallback, false},
			{"type", p->content_type, false}, {"size", size, false}};
		portal_html_render(b, "<li><a href=\"" WEBMAIL_PATH "/{{uid}}/part/{{idx}}\">{{name}}</a> "
		                   "({{type}}, {{size}})</li>", v, 5, req->lang);
	}
	if (n > 0)
		sg_buf_append_str(b, "</ul>");
}

static void read_content(struct portal_req *req, const struct webmail_message *m,
                         const char *uid, struct sg_buf *content, struct sg_buf *msg)
{
	struct sg_buf cc, reply, atts, body;
	sg_buf_init(&cc, 2 * WEBMAIL_FIELD_MAX + 256);
	sg_buf_init(&reply, 4096);
	sg_buf_init(&atts, SG_HTTP_PAGE_MAX);
	sg_buf_init(&body, SG_HTTP_READ_PAGE_MAX - SG_HTTP_PAGE_MAX);
	bool sent = m->row.folder == STORE_WEBMAIL_SENT;
	struct portal_var cv[] = {{"cc", m->cc, false}, {"uid", uid, false}};
	if (m->cc[0] != '\0')
		portal_html_render(&cc, "<dt>Cc</dt><dd>{{cc}}</dd>", cv, 2, req->lang);
	if (!sent)
		portal_html_render(&reply, reply_tmpl, cv, 2, req->lang);
	attachments_html(req, m, uid, &atts);
	body_html(req, m, uid, &body, msg);
	char date[48];
	portal_html_time(m->row.created, date, sizeof(date));
	struct portal_var v[] = {
		{"back", sent ? WEBMAIL_PATH "/sent" : WEBMAIL_PATH, false},
		{"back_text", portal_i18n_text(req->lang, sent ? "wm_back_sent" : "wm_back"), false},
		{"subject", portal_read_subject(req, m->subject), false},
		{"from", m->from[0] != '\0' ? m->from : m->row.sender, false},
		{"to", m->to, false},
		{"cc", cc.data != NULL ? cc.data : "", true},
		{"date", m->date[0] != '\0' ? m->date : date, false},
		{"uid", uid, false},
		{"csrf", req->sess.csrf, false},
		{"reply", reply.data != NULL ? reply.data : "", true},
		{"atts", atts.data != NULL ? atts.data : "", true},
		{"body", body.data != NULL ? body.data : "", true},
	};
	portal_html_render(content, read_tmpl, v, sizeof(v) / sizeof(v[0]), req->lang);
	sg_buf_free(&cc);
	sg_buf_free(&reply);
	sg_buf_free(&atts);
	sg_buf_free_secret(&body);
}

/* The partner's message uid: 1 with *m (free it), 0 answered 404, -1 answered 500. */
int portal_read_open(struct portal_req *req, struct portal_resp *resp, const char *uid,
                     struct webmail_message *m)
{
	const char *err;
	int rc = webmail_open(req->ctx->st, req->ctx->ks, req->sess.address, uid, m, &err);
	if (rc < 0) {
		sg_error("portal: webmail message of %s: %s", req->client, err);
		portal_pages_error(req, resp, MHD_HTTP_INTERNAL_SERVER_ERROR, "err_internal");
	} else if (rc == 0) {
		portal_pages_audit(req, "webmail-not-found", req->sess.address, uid);
		portal_pages_error(req, resp, MHD_HTTP_NOT_FOUND, "wm_not_found");
	}
	return rc;
}

static void read_get(struct portal_req *req, struct portal_resp *resp, const char *uid)
{
	struct webmail_message m = {0};
	const char *err;
	if (portal_read_open(req, resp, uid, &m) != 1)
		return;
	if (m.row.folder == STORE_WEBMAIL_INBOX && m.row.read_at == 0 &&
	    store_webmail_mark_read(req->ctx->st, req->sess.address, uid, req->now, &err) < 0)
		sg_warn("portal: marking a webmail message read: %s", err);
	struct sg_buf content, msg;
	sg_buf_init(&content, SG_HTTP_READ_PAGE_MAX);
	sg_buf_init(&msg, 8192);
	read_content(req, &m, uid, &content, &msg);
	resp->wide = true;
	portal_pages_frame(req, resp, "wm_message", msg.data,
	                   content.data != NULL ? content.data : "");
	sg_buf_free_secret(&content);
	sg_buf_free(&msg);
	webmail_message_free(&m);
}

static void delete_post(struct portal_req *req, struct portal_resp *resp, const char *uid)
{
	const char *err;
	int rc = store_webmail_delete(req->ctx->st, req->sess.address, uid, &err);
	if (rc < 0) {
		sg_error("portal: deleting a webmail message of %s: %s", req->client, err);
		portal_pages_error(req, resp, MHD_HTTP_INTERNAL_SERVER_ERROR, "err_internal");
		return;
	}
	if (rc == 0) {
		portal_pages_audit(req, "webmail-not-found", req->sess.address, uid);
		portal_pages_error(req, resp, MHD_HTTP_NOT_FOUND, "wm_not_found");
		return;
	}
	portal_pages_audit(req, "webmail-deleted", req->sess.address, uid);
	portal_pages_redirect(resp, WEBMAIL_PATH "?m=wm_deleted");
}

void portal_read_dispatch(struct portal_req *req, struct portal_resp *resp)
{
	const char *rest = req->path + sizeof(WEBMAIL_PATH); /* past WEBMAIL_PATH "/" */
	bool post = strcmp(req->method, "POST") == 0;
	char uid[STORE_WEBMAIL_UID_MAX];
	if (!post && strcmp(rest, "sent") == 0) {
		portal_inbox_sent_get(req, resp);
		return;
	}
	const char *tail = portal_read_uid(rest, uid);
	bool all = tail != NULL && strcmp(tail, "/reply-all") == 0;
	if (tail != NULL && tail[0] == '\0' && !post)
		read_get(req, resp, uid);
	else if (tail != NULL && strcmp(tail, "/delete") == 0 && post)
		delete_post(req, resp, uid);
	else if (tail != NULL && strncmp(tail, "/part/", 6) == 0 && !post)
		portal_part_get(req, resp, uid, tail + 6);
	else if (tail != NULL && (all || strcmp(tail, "/reply") == 0))
		(post ? portal_answer_post : portal_answer_get)(req, resp, uid, all);
	else
		portal_pages_error(req, resp, MHD_HTTP_NOT_FOUND, "err_notfound");
}

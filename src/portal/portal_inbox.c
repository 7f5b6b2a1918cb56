/* portal_inbox.c: the partner's webmail folders. The inbox lists what sealgate kept for them
 * (sender, subject, date, size, attachments, unread in bold and said in words), Sent what
 * they wrote here; newest first, PORTAL_INBOX_PAGE a page, so a partner with ten thousand
 * messages costs one page of unsealing per view. */
#include "portal/portal_priv.h"
#include "core/settings.h"
#include "core/sg_log.h"
#include "core/sg_str.h"
#include "webmail/webmail.h"

#include <microhttpd.h>
#include <string.h>

#define PAGE_NUMBER_MAX 1000000

static const char folder_tmpl[] =
    "<nav class=\"folders\" aria-label=\"{{t.wm_folders}}\"><a href=\"" WEBMAIL_PATH "\"{{&cur_in}}>"
    "{{t.wm_inbox}}</a><a href=\"" WEBMAIL_PATH "/sent\"{{&cur_sent}}>{{t.wm_sent}}</a>"
    "<a href=\"/compose\">{{t.link_compose}}</a></nav><p>{{count}}</p>{{&table}}{{&pager}}";

static const char table_tmpl[] =
    "<div class=\"scroll\"><table class=\"folder\"><caption class=\"sr\">{{caption}}</caption>"
    "<thead><tr><th scope=\"col\">{{who}}</th><th scope=\"col\">{{t.c_subject}}</th>"
    "<th scope=\"col\">{{t.wm_date}}</th><th scope=\"col\">{{t.wm_size}}</th>"
    "<th scope=\"col\">{{t.wm_attachments}}</th></tr></thead><tbody>{{&rows}}</tbody></table></div>";

static const char row_tmpl[] =
    "<tr{{&cls}}><td>{{who}}</td><td><a href=\"" WEBMAIL_PATH "/{{uid}}\">{{&unread}}{{subject}}"
    "</a></td><td>{{date}}</td><td class=\"num\">{{size}}</td><td class=\"num\">{{natt}}</td></tr>";

struct folder {
	enum store_webmail_folder which;
	const char *path;   /* its page */
	size_t page, pages; /* 1-based */
	size_t total, unread;
};

static size_t page_asked(struct portal_req *req)
{
	const char *p = portal_server_query(req, "page"), *err;
	if (p == NULL)
		return 1;
	long long n = sg_strtonum(p, 1, PAGE_NUMBER_MAX, &err);
	return err == NULL ? (size_t)n : 1;
}

static void row_html(struct portal_req *req, struct sg_buf *b, const struct webmail_message *m,
                     const struct folder *f)
{
	char date[48], size[32], natt[16];
	portal_html_time(m->row.created, date, sizeof(date));
	portal_html_size(m->row.size, size, sizeof(size));
	sg_snprintf(natt, sizeof(natt), "%d", m->row.attachments);
	bool unread = f->which == STORE_WEBMAIL_INBOX && m->row.read_at == 0;
	struct sg_buf mark;
	sg_buf_init(&mark, 256);
	if (unread)
		portal_html_render(&mark, "<span class=\"sr\">{{t.wm_unread}}: </span>", NULL, 0,
		                   req->lang);
	const char *who = f->which == STORE_WEBMAIL_SENT ? m->to : m->from;
	const char *subject = portal_read_subject(req, m->subject);
	struct portal_var v[] = {
		{"cls", unread ? " class=\"unread\"" : "", true},
		{"who", who[0] != '\0' ? who : m->row.sender, false},
		{"uid", m->row.uid, false},
		{"unread", mark.data != NULL ? mark.data : "", true},
		{"subject", subject, false},
		{"date", date, false},
		{"size", size, false},
		{"natt", natt, false},
	};
	portal_html_render(b, row_tmpl, v, sizeof(v) / sizeof(v[0]), req->lang);
	sg_buf_free(&mark);
}

static void pager_html(struct portal_req *req, struct sg_buf *b, const struct folder *f)
{
	char newer[64], older[64], where[64];
	sg_snprintf(newer, sizeof(newer), "%s?page=%zu", f->path, f->page - 1);
	sg_snprintf(older, sizeof(older), "%s?page=%zu", f->path, f->page + 1);
	sg_snprintf(where, sizeof(where), "%zu / %zu", f->page, f->pages);
	struct portal_var v[] = {{"newer", newer, false}, {"older", older, false},
	                         {"where", where, false}};
	if (f->pages <= 1)
		return;
	portal_html_render(b, "<nav class=\"pager\" aria-label=\"{{t.wm_pages}}\">", NULL, 0, req->lang);
	if (f->page > 1)
		portal_html_render(b, "<a href=\"{{newer}}\" rel=\"prev\">{{t.wm_newer}}</a>", v, 3,
		                   req->lang);
	portal_html_render(b, "<span>{{t.wm_page}} {{where}}</span>", v, 3, req->lang);
	if (f->page < f->pages)
		portal_html_render(b, "<a href=\"{{older}}\" rel=\"next\">{{t.wm_older}}</a>", v, 3,
		                   req->lang);
	sg_buf_append_str(b, "</nav>");
}

static void folder_html(struct portal_req *req, struct sg_buf *b, const struct folder *f,
                        struct webmail_message *list, size_t n)
{
	struct sg_buf rows, table, pager;
	sg_buf_init(&rows, SG_HTTP_PAGE_MAX);
	sg_buf_init(&table, SG_HTTP_PAGE_MAX);
	sg_buf_init(&pager, 4096);
	for (size_t i = 0; i < n; i++)
		row_html(req, &rows, &list[i], f);
	bool sent = f->which == STORE_WEBMAIL_SENT;
	struct portal_var tv[] = {
		{"caption", portal_i18n_text(req->lang, sent ? "wm_sent" : "wm_inbox"), false},
		{"who", portal_i18n_text(req->lang, sent ? "c_to" : "c_from"), false},
		{"rows", rows.data != NULL ? rows.data : "", true},
	};
	if (n > 0)
		portal_html_render(&table, table_tmpl, tv, 3, req->lang);
	pager_html(req, &pager, f);
	char count[128];
	int at = sg_snprintf(count, sizeof(count), "%s: %zu",
	                     portal_i18n_text(req->lang, "wm_messages"), f->total);
	if (!sent && at > 0) /* what the partner wrote is never unread */
		sg_snprintf(count + at, sizeof(count) - (size_t)at, ", %s: %zu",
		            portal_i18n_text(req->lang, "wm_unread"), f->unread);
	const char *current = " aria-current=\"page\"";
	struct portal_var v[] = {
		{"cur_in", sent ? "" : current, true},
		{"cur_sent", sent ? current : "", true},
		{"count", f->total > 0 ? count : portal_i18n_text(req->lang, "wm_empty"), false},
		{"table", table.data != NULL ? table.data : "", true},
		{"pager", pager.data != NULL ? pager.data : "", true},
	};
	portal_html_render(b, folder_tmpl, v, sizeof(v) / sizeof(v[0]), req->lang);
	sg_buf_free(&rows);
	sg_buf_free(&table);
	sg_buf_free(&pager);
}

static void flash(struct portal_req *req, struct sg_buf *msg)
{
	static const char *const known[] = {"wm_deleted"};
	const char *m = portal_server_query(req, "m");
	for (size_t i = 0; m != NULL && i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(m, known[i]) == 0)
			portal_pages_msg(msg, "ok", portal_i18n_text(req->lang, known[i]), NULL);
}

static void folder_page(struct portal_req *req, struct portal_resp *resp, struct folder *f)
{
	const char *err;
	struct webmail_message *list = NULL;
	size_t n = 0;
	if (store_webmail_count(req->ctx->st, req->sess.address, f->which, &f->total, &f->unread,
	                        &err) < 0 ||
	    (f->pages = (f->total + PORTAL_INBOX_PAGE - 1) / PORTAL_INBOX_PAGE,
	     webmail_list(req->ctx->st, req->ctx->ks, req->sess.address, f->which,
	                  (f->page - 1) * PORTAL_INBOX_PAGE, PORTAL_INBOX_PAGE, &list, &n, &err) < 0)) {
		sg_error("portal: webmail folder of %s: %s", req->client, err);
		portal_pages_error(req, resp, MHD_HTTP_INTERNAL_SERVER_ERROR, "err_internal");
		return;
	}
	f->pages = f->pages > 0 ? f->pages : 1;
	struct sg_buf content, msg;
	sg_buf_init(&content, SG_HTTP_PAGE_MAX);
	sg_buf_init(&msg, 4096);
	flash(req, &msg);
	folder_html(req, &content, f, list, n);
	resp->wide = true;
	portal_pages_frame(req, resp, f->which == STORE_WEBMAIL_SENT ? "wm_sent" : "wm_inbox",
	                   msg.data, content.data != NULL ? content.data : "");
	sg_buf_free(&content);
	sg_buf_free(&msg);
	webmail_list_free(&list, n);
}

void portal_inbox_get(struct portal_req *req, struct portal_resp *resp)
{
	struct folder f = {.which = STORE_WEBMAIL_INBOX, .path = WEBMAIL_PATH,
	                   .page = page_asked(req)};
	folder_page(req, resp, &f);
}

void portal_inbox_sent_get(struct portal_req *req, struct portal_resp *resp)
{
	struct folder f = {.which = STORE_WEBMAIL_SENT, .path = WEBMAIL_PATH "/sent",
	                   .page = page_asked(req)};
	folder_page(req, resp, &f);
}

bool portal_inbox_keep_sent(struct portal_req *req, const char *msg, size_t len,
                            const char *queue_id)
{
	struct store_user u;
	const char *err;
	char dedup[STORE_WEBMAIL_DEDUP_MAX];
	if (store_user_find(req->ctx->st, req->sess.address, &u, &err) != 1 ||
	    strcmp(u.channel, "webmail") != 0)
		return true; /* nothing is kept for partners who read elsewhere */
	sg_snprintf(dedup, sizeof(dedup), "sent:%s", queue_id);
	struct webmail_put p = {.user_id = u.id, .address = u.address,
	                        .folder = STORE_WEBMAIL_SENT, .dedup = dedup,
	                        .sender = u.address, .data = msg, .len = len, .now = req->now};
	int64_t id, quota = (int64_t)settings_number(req->ctx->set, "webmail.quota_mb") * 1048576;
	bool existed, perm;
	size_t dropped = 0;
	/* The copy counts against webmail.quota_mb like received mail: old read mail makes room,
	 * unread mail never does (then there is no copy, and the page says so). */
	int room = webmail_quota_make_room(req->ctx->st, u.address, quota, (int64_t)len, req->now,
	                                   &dropped, &err);
	if (room == 1)
		err = "the webmail quota is full of unread messages";
	if (room != 0 || webmail_put(req->ctx->st, req->ctx->ks, &p, &id, &existed, &perm, &err) < 0) {
		sg_error("portal: keeping %s in the Sent folder of %s: %s", queue_id, req->client, err);
		portal_pages_audit(req, "webmail-sent-not-kept", req->sess.address, err);
		return false;
	}
	return true;
}

/* portal_answer.c: reply and reply to all to a message in the partner's inbox. The
 * recipients come from the message, never from the form: To is its first From address of the
 * organisation (its envelope sender only when it has no From); a reply to all adds the other
 * internal addresses of To and Cc. External addresses are left out (a partner never writes to
 * another partner here), and so is the partner's own. The form, its checks and limits
 * (policy.max_portal_attachments, policy.max_encrypted_size, portal.max_messages_per_hour)
 * are the compose page's. */
#include "portal/portal_priv.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "mime/mime.h"
#include "policy/policy.h"
#include "smtp/smtp.h"
#include "webmail/webmail.h"

#include <microhttpd.h>
#include <string.h>

#define ADDRS_MAX 64          /* addresses read from To and Cc */
#define QUOTE_MAX (32 * 1024) /* of the text quoted in a reply */

bool portal_answer_route(const char *path)
{
	char uid[STORE_WEBMAIL_UID_MAX];
	if (strncmp(path, WEBMAIL_PATH "/", sizeof(WEBMAIL_PATH)) != 0)
		return false;
	const char *tail = portal_read_uid(path + sizeof(WEBMAIL_PATH), uid);
	return tail != NULL && (strcmp(tail, "/reply") == 0 || strcmp(tail, "/reply-all") == 0);
}

/* A well-formed address of an internal domain, ASCII (it goes into a Cc field as it is). */
static bool internal(const struct policy *p, const char *addr)
{
	struct smtp_addr a;
	char path[SG_ADDR_MAX + 2];
	const char *err;
	return sg_snprintf(path, sizeof(path), "<%s>", addr) >= 0 &&
	       smtp_addr_parse(path, strlen(path), 0, &a, &err) == 0 && a.addr[0] != '\0' &&
	       policy_is_internal(p, a.addr);
}

static bool already(const struct portal_draft *d, const char *addr)
{
	if (sg_streq_nocase(d->to, addr))
		return true;
	for (size_t i = 0; i < d->ncc; i++)
		if (sg_streq_nocase(d->cc[i], addr))
			return true;
	return false;
}

/* The other internal recipients of field (To or Cc) for a reply to all. */
static void add_others(struct portal_req *req, const struct policy *p, const char *field,
                       struct portal_draft *d)
{
	char (*addrs)[SG_ADDR_MAX] = sg_calloc(ADDRS_MAX, SG_ADDR_MAX);
	size_t n = mime_addrlist_parse(field, addrs, ADDRS_MAX);
	for (size_t i = 0; i < n && d->ncc < PORTAL_CC_MAX; i++)
		if (internal(p, addrs[i]) && !sg_streq_nocase(addrs[i], req->sess.address) &&
		    !already(d, addrs[i]))
			sg_strlcpy(d->cc[d->ncc++], addrs[i], SG_ADDR_MAX);
	sg_free(&addrs);
}

/* The recipients of a reply to m; -1 when it has no internal sender to answer. */
static int answer_draft(struct portal_req *req, const struct webmail_message *m, bool all,
                        struct portal_draft *d)
{
	struct policy *p = policy_new(req->ctx->set);
	char from[4][SG_ADDR_MAX];
	size_t n = mime_addrlist_parse(m->from, from, 4);
	for (size_t i = 0; i < n && d->to[0] == '\0'; i++)
		if (internal(p, from[i]))
			sg_strlcpy(d->to, from[i], sizeof(d->to));
	/* Only a message without a From address is answered to its envelope sender. */
	if (n == 0 && internal(p, m->row.sender))
		sg_strlcpy(d->to, m->row.sender, sizeof(d->to));
	if (d->to[0] != '\0' && all) {
		add_others(req, p, m->to, d);
		add_others(req, p, m->cc, d);
	}
	policy_free(&p);
	d->fixed_to = true;
	sg_strlcpy(d->in_reply_to, m->message_id, sizeof(d->in_reply_to));
	return d->to[0] != '\0' ? 0 : -1;
}

/* The message, when it is one the partner may answer (in their inbox, from inside). */
static int answerable(struct portal_req *req, struct portal_resp *resp, const char *uid,
                      bool all, struct webmail_message *m, struct portal_draft *d)
{
	int rc = portal_read_open(req, resp, uid, m);
	if (rc != 1)
		return -1;
	if (m->row.folder != STORE_WEBMAIL_INBOX) {
		portal_pages_error(req, resp, MHD_HTTP_NOT_FOUND, "wm_not_found");
		webmail_message_free(m);
		return -1;
	}
	if (answer_draft(req, m, all, d) < 0) {
		portal_pages_audit(req, "reply-refused", req->sess.address, "no internal sender");
		portal_pages_error(req, resp, MHD_HTTP_FORBIDDEN, "wm_reply_external");
		webmail_message_free(m);
		return -1;
	}
	return 0;
}

/* "> " before each line of the text body (the first QUOTE_MAX bytes). */
static void quote(struct portal_req *req, const char *uid, const struct webmail_message *m,
                  struct sg_buf *b)
{
	int idx = -1;
	for (size_t i = 0; i < m->nparts && idx < 0; i++)
		if (m->parts[i].kind == WEBMAIL_PART_TEXT)
			idx = (int)i;
	unsigned char *text = NULL;
	size_t len = 0;
	const char *err;
	if (idx < 0 || webmail_part(req->ctx->st, req->ctx->ks, req->sess.address, uid, idx, &text,
	                            &len, &err) != 1)
		return;
	sg_buf_printf(b, "\n\n%s:\n", m->from);
	for (const char *line = (const char *)text; *line != '\0' && b->len < QUOTE_MAX;) {
		size_t n = strcspn(line, "\n");
		sg_buf_append_str(b, "> ");
		if (sg_buf_append(b, line, n) < 0 || sg_buf_append_str(b, "\n") < 0)
			break;
		line += n + (line[n] == '\n');
	}
	sg_free_secret(&text, len);
}

void portal_answer_get(struct portal_req *req, struct portal_resp *resp, const char *uid,
                       bool all)
{
	struct webmail_message m = {0};
	struct portal_draft d = {0};
	if (answerable(req, resp, uid, all, &m, &d) < 0)
		return;
	struct sg_buf subject, text;
	sg_buf_init(&subject, WEBMAIL_FIELD_MAX + 8);
	sg_buf_init(&text, QUOTE_MAX + WEBMAIL_FIELD_MAX + 1024);
	const char *subj = portal_read_subject(req, m.subject);
	if (!sg_has_prefix_nocase(subj, "re:"))
		sg_buf_append_str(&subject, "Re: ");
	sg_buf_append_str(&subject, subj);
	quote(req, uid, &m, &text);
	portal_compose_form(req, resp, &d, subject.data, text.data != NULL ? text.data : "");
	sg_buf_free(&subject);
	sg_buf_free_secret(&text);
	webmail_message_free(&m);
}

void portal_answer_post(struct portal_req *req, struct portal_resp *resp, const char *uid,
                        bool all)
{
	struct webmail_message m = {0};
	struct portal_draft d = {0};
	if (answerable(req, resp, uid, all, &m, &d) < 0)
		return;
	portal_compose_submit(req, resp, &d);
	webmail_message_free(&m);
}

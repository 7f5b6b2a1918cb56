/* webmail_parse.c: a message taken apart once, when it is stored: the first text/plain and
 * text/html parts that are not attachments become the bodies (converted to UTF-8 by GMime);
 * every other leaf, and each attached message as a whole, is an attachment with its decoded
 * bytes exactly as sent. Header fields are kept as a reader sees them (decoded, UTF-8, no
 * control characters). */
#include "webmail/webmail_priv.h"

#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "mime/mime.h"

#include <gmime/gmime.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

struct walk {
	struct webmail_parsed *p;
	bool have_text, have_html;
	const char *error;
};

/* s as valid UTF-8 without control characters (newlines and tabs too become spaces). */
static void field_copy(char *dst, size_t size, const char *s)
{
	dst[0] = '\0';
	if (s == NULL)
		return;
	gchar *v = g_utf8_make_valid(s, -1);
	for (unsigned char *c = (unsigned char *)v; *c != '\0'; c++)
		if (*c < 0x20 || *c == 0x7f)
			*c = ' ';
	sg_strlcpy(dst, v, size);
	/* a cut in the middle of a character: drop the partial one */
	const char *end = dst + strlen(dst);
	if (!g_utf8_validate(dst, -1, NULL)) {
		const char *prev = g_utf8_find_prev_char(dst, end);
		dst[prev != NULL ? (size_t)(prev - dst) : 0] = '\0';
	}
	g_free(v);
}

static void list_copy(char *dst, size_t size, InternetAddressList *list)
{
	char *s = list != NULL ? internet_address_list_to_string(list, NULL, FALSE) : NULL;
	field_copy(dst, size, s);
	g_free(s);
}

static bool name_taken(const struct webmail_parsed *p, const char *name)
{
	for (size_t i = 0; i < p->nparts; i++)
		if (strcmp(p->parts[i].info.filename, name) == 0)
			return true;
	return false;
}

/* A name a reader can save as is: no directory, no controls or reserved characters, not
 * hidden, unique within the message ("name (2).ext"). */
static void safe_name(const struct webmail_parsed *p, const char *raw, char *dst, size_t size)
{
	char base[WEBMAIL_NAME_MAX - 8];
	field_copy(base, sizeof(base), raw);
	for (char *c = base; *c != '\0'; c++)
		if (strchr("/\\:*?\"<>|", *c) != NULL)
			*c = '_';
	const char *start = base;
	while (*start == '.' || *start == ' ')
		start++;
	char name[sizeof(base)];
	if (*start == '\0')
		snprintf(name, sizeof(name), "attachment-%zu", p->nparts + 1);
	else
		sg_strlcpy(name, start, sizeof(name));
	sg_strlcpy(dst, name, size);
	const char *dot = strrchr(name, '.');
	int stem = (int)(dot != NULL && dot != name ? (size_t)(dot - name) : strlen(name));
	for (unsigned k = 2; name_taken(p, dst); k++)
		snprintf(dst, size, "%.*s (%u)%s", stem, name, k, name + stem);
}

static void safe_type(GMimeContentType *ct, char *dst, size_t size)
{
	char *t = ct != NULL ? g_mime_content_type_get_mime_type(ct) : NULL;
	bool ok = t != NULL && strlen(t) < size && strchr(t, '/') != NULL;
	for (const char *c = t; ok && *c != '\0'; c++)
		ok = g_ascii_isalnum(*c) || strchr("/!#$&^_.+-", *c) != NULL;
	sg_strlcpy(dst, ok ? t : "application/octet-stream", size);
	sg_ascii_lower(dst);
	g_free(t);
}

static struct webmail_parsed_part *add_part(struct walk *w, enum webmail_part_kind kind)
{
	struct webmail_parsed *p = w->p;
	if (p->nparts >= WEBMAIL_PARTS_MAX) {
		w->error = "the message has more parts than webmail keeps";
		return NULL;
	}
	p->parts = sg_reallocarray(p->parts, p->nparts + 1, sizeof(*p->parts));
	struct webmail_parsed_part *pp = &p->parts[p->nparts];
	memset(pp, 0, sizeof(*pp));
	pp->info.kind = kind;
	return pp;
}

/* The framed bytes (webmail_decode.c) become the part's: sealed later where they are. */
static void take_bytes(struct webmail_parsed_part *pp, GByteArray *framed)
{
	pp->decoded = framed;
	pp->data = webmail_framed_data(framed, &pp->len);
	pp->info.size = (int64_t)pp->len;
}

static int add_attachment(struct walk *w, GMimeObject *obj)
{
	const char *cid = g_mime_object_get_content_id(obj);
	struct webmail_parsed_part *pp =
	    add_part(w, cid != NULL && *cid != '\0' ? WEBMAIL_PART_INLINE : WEBMAIL_PART_ATTACHMENT);
	if (pp == NULL)
		return -1;
	GByteArray *bytes = NULL;
	const char *fname = NULL;
	if (GMIME_IS_PART(obj)) {
		GMimeDataWrapper *content = g_mime_part_get_content(GMIME_PART(obj));
		bytes = content != NULL ? webmail_content_bytes(content)
		                        : webmail_frame_bytes(g_byte_array_new());
		fname = g_mime_part_get_filename(GMIME_PART(obj));
	} else { /* message/rfc822 and the like: the entity as it was sent */
		GMimeStream *mem = g_mime_stream_mem_new();
		GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
		if (inner != NULL)
			(void)g_mime_object_write_to_stream(GMIME_OBJECT(inner), NULL, mem);
		bytes =
		    webmail_frame_bytes(g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem)));
		g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE); /* the bytes are ours */
		g_object_unref(mem);
		fname = g_mime_object_get_content_disposition_parameter(obj, "filename");
		if (fname == NULL)
			fname = "message.eml";
	}
	safe_name(w->p, fname, pp->info.filename, sizeof(pp->info.filename));
	safe_type(g_mime_object_get_content_type(obj), pp->info.content_type,
	          sizeof(pp->info.content_type));
	field_copy(pp->info.content_id, sizeof(pp->info.content_id), cid);
	take_bytes(pp, bytes);
	w->p->nparts++;
	w->p->attachments++;
	return 0;
}

/* The body's text up to its first NUL, as UTF-8 (still to be made valid). A part that says it
 * is UTF-8 is only decoded: GMime would pass it through iconv from UTF-8 to UTF-8. */
static char *body_text(GMimeObject *obj)
{
	const char *charset = g_mime_object_get_content_type_parameter(obj, "charset");
	GMimeDataWrapper *content = g_mime_part_get_content(GMIME_PART(obj));
	if (content == NULL || charset == NULL ||
	    (g_ascii_strcasecmp(charset, "utf-8") != 0 && g_ascii_strcasecmp(charset, "utf8") != 0))
		return g_mime_text_part_get_text(GMIME_TEXT_PART(obj));
	GByteArray *framed = webmail_content_bytes(content);
	size_t len;
	const char *text = (const char *)webmail_framed_data(framed, &len);
	char *copy = g_strndup(text, strnlen(text, len));
	g_byte_array_free(framed, TRUE);
	return copy;
}

/* A text/plain or text/html leaf that is the body (1), or not (0: an attachment). */
static int add_body(struct walk *w, GMimeObject *obj)
{
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	bool html = g_mime_content_type_is_type(ct, "text", "html");
	if (!GMIME_IS_TEXT_PART(obj) || (!html && !g_mime_content_type_is_type(ct, "text", "plain")) ||
	    (html ? w->have_html : w->have_text) || g_mime_part_is_attachment(GMIME_PART(obj)) ||
	    g_mime_part_get_filename(GMIME_PART(obj)) != NULL)
		return 0;
	struct webmail_parsed_part *pp = add_part(w, html ? WEBMAIL_PART_HTML : WEBMAIL_PART_TEXT);
	if (pp == NULL)
		return -1;
	char *text = body_text(obj);
	gchar *valid = g_utf8_make_valid(text != NULL ? text : "", -1);
	pp->len = strlen(valid);
	pp->data = (unsigned char *)sg_strdup(valid);
	pp->info.size = (int64_t)pp->len;
	sg_strlcpy(pp->info.content_type, html ? "text/html" : "text/plain",
	           sizeof(pp->info.content_type));
	g_free(valid);
	g_free(text);
	*(html ? &w->have_html : &w->have_text) = true;
	w->p->nparts++;
	return 1;
}

static void walk_cb(GMimeObject *parent, GMimeObject *obj, gpointer data)
{
	(void)parent;
	struct walk *w = data;
	if (w->error != NULL || GMIME_IS_MULTIPART(obj))
		return;
	int r = GMIME_IS_PART(obj) ? add_body(w, obj) : 0;
	if (r == 0 && add_attachment(w, obj) < 0)
		r = -1;
	if (r < 0 && w->error == NULL)
		w->error = "the message could not be taken apart";
}

static void head_copy(GMimeMessage *msg, struct webmail_message *h)
{
	field_copy(h->subject, sizeof(h->subject), g_mime_message_get_subject(msg));
	list_copy(h->from, sizeof(h->from), g_mime_message_get_from(msg));
	list_copy(h->to, sizeof(h->to), g_mime_message_get_to(msg));
	list_copy(h->cc, sizeof(h->cc), g_mime_message_get_cc(msg));
	field_copy(h->date, sizeof(h->date), g_mime_object_get_header(GMIME_OBJECT(msg), "Date"));
	field_copy(h->message_id, sizeof(h->message_id), g_mime_message_get_message_id(msg));
}

int webmail_parse(const char *data, size_t len, struct webmail_parsed *p_r, bool *perm_r,
                  const char **error_r)
{
	memset(p_r, 0, sizeof(*p_r));
	*perm_r = false;
	GMimeMessage *msg = mime_message_parse(data, len);
	if (msg == NULL) {
		*perm_r = true;
		*error_r = "not a parsable message";
		return -1;
	}
	head_copy(msg, &p_r->head);
	struct walk w = {.p = p_r};
	GMimeObject *top = g_mime_message_get_mime_part(msg);
	if (top != NULL && !GMIME_IS_MULTIPART(top))
		walk_cb(NULL, top, &w);
	else if (top != NULL)
		g_mime_multipart_foreach(GMIME_MULTIPART(top), walk_cb, &w);
	g_object_unref(msg);
	if (w.error != NULL) {
		webmail_parsed_free(p_r);
		*perm_r = true;
		*error_r = w.error;
		return -1;
	}
	return 0;
}

void webmail_parsed_free(struct webmail_parsed *p)
{
	for (size_t i = 0; p->parts != NULL && i < p->nparts; i++) {
		struct webmail_parsed_part *pp = &p->parts[i];
		if (pp->decoded == NULL) {
			sg_free_secret(&pp->data, pp->len);
			continue;
		}
		sodium_memzero(pp->data, pp->len);
		g_byte_array_free(pp->decoded, TRUE);
		pp->decoded = NULL;
		pp->data = NULL;
	}
	sg_free(&p->parts);
	p->nparts = 0;
}

/* pdf_msg.c: what a SecurePDF shows of a message, taken apart with GMime: the header fields
 * of page 1, the readable text (plain preferred, HTML reduced), and every other part as an
 * attachment with a name that is safe to save. All text leaves here as valid UTF-8 without
 * control characters, because pango silently drops whatever follows invalid bytes. */
#include "pdf/pdf_priv.h"

#include "core/limits.h"
#include "core/sg_buf.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "mime/mime.h"

#include <gmime/gmime.h>
#include <stdio.h>
#include <string.h>

struct walk {
	struct pdf_doc *doc;
	struct sg_buf body;
	size_t max_att;
	const char *charset_lang; /* language implied by a body charset */
	const char *error;
};

/* Valid UTF-8, CR dropped, other controls (but '\n' and '\t') as spaces; at most max bytes. */
static char *clean_text(const char *s, size_t n, size_t max, bool keep_newlines)
{
	gchar *v = g_utf8_make_valid(s, (gssize)n);
	size_t o = 0;
	for (size_t i = 0; v[i] != '\0'; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c == '\r')
			continue;
		if ((c < 0x20 && !(keep_newlines && (c == '\n' || c == '\t'))) || c == 0x7f)
			c = ' ';
		v[o++] = (char)c;
	}
	v[o] = '\0';
	if (o > max) {
		const char *cut = g_utf8_find_prev_char(v, v + max + 1);
		o = cut != NULL ? (size_t)(cut - v) : 0;
	}
	char *r = sg_strndup(v, o);
	g_free(v);
	return r;
}

static char *field_text(const char *s)
{
	if (s == NULL || *s == '\0')
		return NULL;
	return clean_text(s, strlen(s), SG_PDF_FIELD_MAX, false);
}

static char *address_text(InternetAddressList *list)
{
	if (list == NULL || internet_address_list_length(list) == 0)
		return NULL;
	char *s = internet_address_list_to_string(list, NULL, FALSE);
	char *r = field_text(s);
	g_free(s);
	return r;
}

/* ---- language of Han text (Noto Sans CJK picks SC/TC/JP/KR glyphs by it) ---- */

struct lang_map {
	const char *prefix;
	const char *lang;
};
static const struct lang_map charset_langs[] = {
	{"gb", "zh-cn"},          {"hz-gb", "zh-cn"},  {"big5", "zh-tw"},    {"iso-2022-jp", "ja"},
	{"shift_jis", "ja"},      {"euc-jp", "ja"},    {"windows-31j", "ja"}, {"euc-kr", "ko"},
	{"ks_c_5601", "ko"},      {"iso-2022-kr", "ko"},
};
static const struct lang_map tag_langs[] = {
	{"zh-tw", "zh-tw"}, {"zh-hk", "zh-tw"}, {"zh-hant", "zh-tw"}, {"zh", "zh-cn"},
	{"ja", "ja"},       {"ko", "ko"},
};

static const char *lang_lookup(const char *s, const struct lang_map *map, size_t n)
{
	for (size_t i = 0; s != NULL && i < n; i++)
		if (sg_has_prefix_nocase(s, map[i].prefix))
			return map[i].lang;
	return NULL;
}

/* Without a hint: kana means Japanese, Hangul Korean, other Han Simplified Chinese. */
static const char *lang_guess(const char *s)
{
	bool han = false;
	for (const char *p = s; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if ((c >= 0x3040 && c <= 0x30ff) || (c >= 0x31f0 && c <= 0x31ff))
			return "ja";
		if ((c >= 0xac00 && c <= 0xd7af) || (c >= 0x1100 && c <= 0x11ff))
			return "ko";
		han = han || (c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf);
	}
	return han ? "zh-cn" : NULL;
}

/* ---- attachments ---- */

static bool name_taken(const struct pdf_doc *doc, const char *name)
{
	for (size_t i = 0; i < doc->natt; i++)
		if (strcmp(doc->att[i].name, name) == 0)
			return true;
	return false;
}

/* A name a reader can save as is: no directories, no controls, not hidden, unique. */
static char *safe_name(const struct pdf_doc *doc, const char *raw)
{
	char *n = clean_text(raw != NULL ? raw : "", raw != NULL ? strlen(raw) : 0,
	                     SG_PDF_FILENAME_MAX - 8, false);
	for (char *p = n; *p != '\0'; p++)
		if (strchr("/\\:*?\"<>|", *p) != NULL)
			*p = '_';
	char *start = n;
	while (*start == '.' || *start == ' ')
		start++;
	char base[SG_PDF_FILENAME_MAX + 1];
	if (*start == '\0')
		(void)snprintf(base, sizeof(base), "attachment-%zu", doc->natt + 1);
	else
		sg_strlcpy(base, start, sizeof(base));
	sg_free(&n);
	char name[SG_PDF_FILENAME_MAX + 16];
	sg_strlcpy(name, base, sizeof(name));
	const char *dot = strrchr(base, '.');
	size_t stem = dot != NULL && dot != base ? (size_t)(dot - base) : strlen(base);
	for (unsigned k = 2; name_taken(doc, name); k++)
		(void)snprintf(name, sizeof(name), "%.*s (%u)%s", (int)stem, base, k, base + stem);
	return sg_strdup(name);
}

static char *safe_type(GMimeContentType *ct)
{
	char *t = ct != NULL ? g_mime_content_type_get_mime_type(ct) : NULL;
	bool ok = t != NULL && strlen(t) < 128 && strchr(t, '/') != NULL;
	for (const char *p = t; ok && *p != '\0'; p++)
		ok = g_ascii_isalnum(*p) || strchr("/!#$&^_.+-", *p) != NULL;
	char *r = sg_strdup(ok ? t : "application/octet-stream");
	g_free(t);
	sg_ascii_lower(r);
	return r;
}

static int add_attachment(struct walk *w, GMimeObject *obj, const char *fallback_name)
{
	struct pdf_doc *doc = w->doc;
	if (doc->natt >= w->max_att) {
		w->error = "the message has more attachments than SecurePDF embeds";
		return -1;
	}
	GMimeStream *mem = g_mime_stream_mem_new();
	if (GMIME_IS_PART(obj)) {
		GMimeDataWrapper *content = g_mime_part_get_content(GMIME_PART(obj));
		if (content != NULL)
			(void)g_mime_data_wrapper_write_to_stream(content, mem);
	} else { /* message/rfc822 and the like: the entity as it was sent */
		GMimeObject *inner = GMIME_IS_MESSAGE_PART(obj) ?
		    GMIME_OBJECT(g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj))) : obj;
		if (inner != NULL)
			(void)g_mime_object_write_to_stream(inner, NULL, mem);
	}
	GByteArray *bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	const char *fname = GMIME_IS_PART(obj) ? g_mime_part_get_filename(GMIME_PART(obj)) : NULL;
	doc->att = sg_reallocarray(doc->att, doc->natt + 1, sizeof(*doc->att));
	struct pdf_attachment *a = &doc->att[doc->natt];
	a->name = safe_name(doc, fname != NULL ? fname : fallback_name);
	a->mime_type = safe_type(g_mime_object_get_content_type(obj));
	a->len = bytes->len;
	a->data = sg_memdup(bytes->len > 0 ? bytes->data : (guint8 *)"", bytes->len > 0 ? bytes->len : 1);
	doc->natt++;
	g_object_unref(mem);
	return 0;
}

/* ---- the walk ---- */

static int body_append(struct walk *w, const char *text, size_t n)
{
	char *clean = clean_text(text, n, SG_PDF_BODY_TEXT_MAX, true);
	int rc = 0;
	if (w->body.len > 0)
		rc = sg_buf_append_str(&w->body, "\n\n");
	if (rc == 0)
		rc = sg_buf_append_str(&w->body, clean);
	sg_free(&clean);
	if (rc < 0)
		w->error = "the message text is longer than SecurePDF lays out (8 MB)";
	return rc;
}

static int text_part(struct walk *w, GMimePart *part, bool html)
{
	const char *cs = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
	if (w->charset_lang == NULL)
		w->charset_lang = lang_lookup(cs, charset_langs,
		                              sizeof(charset_langs) / sizeof(charset_langs[0]));
	char *text = g_mime_text_part_get_text(GMIME_TEXT_PART(part));
	if (text == NULL)
		return 0;
	int rc;
	if (html) {
		size_t n;
		char *plain = pdf_html_to_text(text, strlen(text), SG_PDF_BODY_TEXT_MAX, &n);
		rc = body_append(w, plain, n);
		sg_free(&plain);
	} else {
		rc = body_append(w, text, strlen(text));
	}
	g_free(text);
	return rc;
}

static bool is_type(GMimeObject *obj, const char *type, const char *subtype)
{
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	return ct != NULL && g_mime_content_type_is_type(ct, type, subtype);
}

static int walk_object(struct walk *w, GMimeObject *obj, int depth);

/* Of the alternatives the plain text is shown; the others say the same thing. */
static GMimeObject *pick_alternative(GMimeMultipart *mp)
{
	int n = g_mime_multipart_get_count(mp);
	for (int i = 0; i < n; i++)
		if (is_type(g_mime_multipart_get_part(mp, i), "text", "plain"))
			return g_mime_multipart_get_part(mp, i);
	return n > 0 ? g_mime_multipart_get_part(mp, n - 1) : NULL;
}

static int walk_multipart(struct walk *w, GMimeObject *obj, int depth)
{
	GMimeMultipart *mp = GMIME_MULTIPART(obj);
	if (is_type(obj, "multipart", "alternative")) {
		GMimeObject *pick = pick_alternative(mp);
		return pick != NULL ? walk_object(w, pick, depth + 1) : 0;
	}
	int n = g_mime_multipart_get_count(mp);
	for (int i = 0; i < n; i++)
		if (walk_object(w, g_mime_multipart_get_part(mp, i), depth + 1) < 0)
			return -1;
	return 0;
}

static int walk_object(struct walk *w, GMimeObject *obj, int depth)
{
	if (depth > SG_PDF_MIME_DEPTH_MAX) {
		w->error = "the message nests MIME parts too deeply";
		return -1;
	}
	if (GMIME_IS_MULTIPART(obj))
		return walk_multipart(w, obj, depth);
	if (!GMIME_IS_PART(obj))
		return add_attachment(w, obj, "message.eml");
	GMimePart *part = GMIME_PART(obj);
	GMimeContentDisposition *cd = g_mime_object_get_content_disposition(obj);
	bool attached = (cd != NULL && g_mime_content_disposition_is_attachment(cd)) ||
	                g_mime_part_get_filename(part) != NULL;
	bool plain = is_type(obj, "text", "plain"), html = is_type(obj, "text", "html");
	if (!attached && (plain || html) && GMIME_IS_TEXT_PART(obj))
		return text_part(w, part, html);
	return add_attachment(w, obj, NULL);
}

static void headers(struct pdf_doc *doc, GMimeMessage *m)
{
	doc->from = address_text(g_mime_message_get_from(m));
	doc->to = address_text(g_mime_message_get_to(m));
	doc->cc = address_text(g_mime_message_get_cc(m));
	doc->date = field_text(g_mime_object_get_header(GMIME_OBJECT(m), "Date"));
	doc->subject = field_text(g_mime_message_get_subject(m));
}

int pdf_msg_parse(const char *msg, size_t len, size_t max_att, struct pdf_doc *doc,
                  const char **error_r)
{
	memset(doc, 0, sizeof(*doc));
	GMimeMessage *m = mime_message_parse(msg, len);
	if (m == NULL) {
		*error_r = "the message could not be parsed";
		return -1;
	}
	struct walk w = {.doc = doc, .max_att = max_att};
	sg_buf_init(&w.body, SG_PDF_BODY_TEXT_MAX);
	headers(doc, m);
	GMimeObject *top = g_mime_message_get_mime_part(m);
	int rc = top != NULL ? walk_object(&w, top, 0) : 0;
	/* GMime files Content-* fields under the top part, not the message. */
	const char *cl = top != NULL ? g_mime_object_get_header(top, "Content-Language") : NULL;
	doc->lang = lang_lookup(cl, tag_langs, sizeof(tag_langs) / sizeof(tag_langs[0]));
	g_object_unref(m);
	doc->body = sg_buf_steal(&w.body, &doc->body_len);
	if (doc->body == NULL)
		doc->body = sg_strdup("");
	if (doc->lang == NULL)
		doc->lang = w.charset_lang != NULL ? w.charset_lang : lang_guess(doc->body);
	if (rc < 0) {
		*error_r = w.error;
		pdf_msg_free(doc);
		return -1;
	}
	return 0;
}

void pdf_msg_free(struct pdf_doc *doc)
{
	sg_free(&doc->from);
	sg_free(&doc->to);
	sg_free(&doc->cc);
	sg_free(&doc->date);
	sg_free(&doc->subject);
	sg_free(&doc->body);
	for (size_t i = 0; i < doc->natt; i++) {
		sg_free(&doc->att[i].name);
		sg_free(&doc->att[i].mime_type);
		sg_free(&doc->att[i].data);
	}
	sg_free(&doc->att);
	doc->natt = 0;
}

void pdf_msg_size_text(size_t n, char *buf, size_t bufsize)
{
	if (n < 1024)
		(void)snprintf(buf, bufsize, "%zu bytes", n);
	else if (n < 1024 * 1024)
		(void)snprintf(buf, bufsize, "%.1f KB", (double)n / 1024.0);
	else
		(void)snprintf(buf, bufsize, "%.1f MB", (double)n / (1024.0 * 1024.0));
}

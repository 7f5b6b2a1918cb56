/* mime_sanitize.c: HTML mail made safe to show inside a portal page. A real HTML5 parser
 * (gumbo, Debian's libgumbo) reads the markup as a browser would, so that no trick of the
 * tokenizer (unclosed quotes, character references, raw-text elements, foreign content) makes
 * us see one thing and the browser another; then one pass over its tree writes back only what
 * the allow-list (mime_sanitize_rules.c) keeps, every text and value escaped again:
 *  - no script, no event handler, no style (element or attribute), no form, no frame, no
 *    object, no SVG or MathML: the page's CSP stays script-free and this adds nothing to it;
 *  - no remote content: an image is shown only when it names a part of the message (cid:),
 *    through the URL the caller gives; every other image becomes its alt text in brackets;
 *  - a link keeps an http, https or mailto target, and its target is written after it (so the
 *    reader sees where it goes); any other target leaves the text without the link.
 * Hostile input is bounded before the parser sees it (size and number of start tags: the
 * parser's scope checks cost the square of the nesting), the walk is a loop over an explicit
 * stack, and the output is bounded by the caller's buffer. */
#include "mime/mime.h"
#include "mime/mime_sanitize_priv.h"

#include "core/limits.h"
#include "core/sg_buf.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <glib.h>
#include <string.h>

struct frame {
	const GumboNode *node;
	unsigned int next; /* the child to visit next */
	bool open;         /* its start tag was written: the end tag follows its children */
	bool link;         /* it is the link whose target is written after it */
};

struct walk {
	const struct mime_sanitize_opts *o;
	struct sg_buf *out;
	struct mime_sanitize_report *rep;
	struct frame *stack;
	size_t depth, cap;
	size_t open;       /* elements written and not yet closed */
	bool in_link;
	char href[SG_HTML_URL_MAX + 1];
	struct sg_buf link_text; /* the text of the open link, to tell whether it shows its target */
	bool failed;
};

static void put(struct walk *w, const char *s, size_t n)
{
	if (n > 0 && sg_buf_append(w->out, s, n) < 0)
		w->failed = true;
}

static void put_str(struct walk *w, const char *s)
{
	put(w, s, strlen(s));
}

static const char *entity_of(char c)
{
	switch (c) {
	case '&': return "&amp;";
	case '<': return "&lt;";
	case '>': return "&gt;";
	case '"': return "&quot;";
	case '\'': return "&#39;";
	default: return NULL;
	}
}

/* Appends the valid UTF-8 of [s, end) escaped; -1 at b's ceiling. */
static int escape_valid(struct sg_buf *b, const char *s, const char *end)
{
	const char *run = s;
	for (; s < end; s++) {
		const char *with = entity_of(*s);
		if (with == NULL)
			continue;
		if (sg_buf_append(b, run, (size_t)(s - run)) < 0 || sg_buf_append_str(b, with) < 0)
			return -1;
		run = s + 1;
	}
	return sg_buf_append(b, run, (size_t)(s - run));
}

/* Appends s escaped for text and quoted attributes, each invalid UTF-8 byte as U+FFFD;
 * -1 at b's ceiling. */
static int escape_into(struct sg_buf *b, const char *s, size_t n)
{
	const char *end = s + n;
	while (s < end) {
		const char *bad = s;
		g_utf8_validate(s, (gssize)(end - s), &bad);
		if (escape_valid(b, s, bad) < 0)
			return -1;
		s = bad;
		if (s < end) {
			if (sg_buf_append_str(b, "\xef\xbf\xbd") < 0)
				return -1;
			s++;
		}
	}
	return 0;
}

static void put_escaped(struct walk *w, const char *s, size_t n)
{
	if (!w->failed && escape_into(w->out, s, n) < 0)
		w->failed = true;
}

/* ---- URLs ---- */

/* The URL as a browser reads it: white space and controls at both ends dropped, tabs and
 * newlines inside dropped (the URL parser does both); false for another control character or
 * one longer than SG_HTML_URL_MAX. */
static bool url_normalise(const char *v, char *dst, size_t size)
{
	size_t len = strlen(v), n = 0;
	while (len > 0 && (unsigned char)v[len - 1] <= 0x20)
		len--;
	while (len > 0 && (unsigned char)*v <= 0x20) {
		v++;
		len--;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c == '\t' || c == '\n' || c == '\r')
			continue;
		if (c < 0x20 || c == 0x7f || n + 1 >= size)
			return false;
		dst[n++] = (char)c;
	}
	dst[n] = '\0';
	return n > 0;
}

static bool link_target_ok(const char *url)
{
	return sg_has_prefix_nocase(url, "https://") || sg_has_prefix_nocase(url, "http://") ||
	       sg_has_prefix_nocase(url, "mailto:");
}

static int hex_digit(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
	     : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The Content-ID a cid: URL names (RFC 2392: %-encoded), without angle brackets. */
static bool cid_decode(const char *url, char *dst, size_t size)
{
	const char *s = url + 4;
	size_t n = 0;
	for (; *s != '\0'; s++) {
		int c = (unsigned char)*s;
		if (c == '%') {
			int hi = hex_digit(s[1]), lo = hi < 0 ? -1 : hex_digit(s[2]);
			if (lo < 0)
				return false;
			c = hi * 16 + lo;
			s += 2;
		}
		if (c < 0x20 || c == 0x7f || n + 1 >= size)
			return false;
		dst[n++] = (char)c;
	}
	dst[n] = '\0';
	if (n >= 2 && dst[0] == '<' && dst[n - 1] == '>') {
		memmove(dst, dst + 1, n - 2);
		dst[n - 2] = '\0';
	}
	return dst[0] != '\0';
}

/* The address an image may be loaded from: only a part of this message, by its cid:. */
static bool image_url(struct walk *w, const char *src, char *dst, size_t size)
{
	char url[SG_HTML_URL_MAX + 1], cid[SG_HTML_URL_MAX + 1];
	if (w->o == NULL || w->o->cid_url == NULL || src == NULL ||
	    !url_normalise(src, url, sizeof(url)) || !sg_has_prefix_nocase(url, "cid:") ||
	    !cid_decode(url, cid, sizeof(cid)))
		return false;
	return w->o->cid_url(w->o->arg, cid, dst, size);
}

/* ---- elements ---- */

static const GumboVector *children_of(const GumboNode *n)
{
	if (n->type == GUMBO_NODE_DOCUMENT)
		return &n->v.document.children;
	if (n->type == GUMBO_NODE_ELEMENT)
		return &n->v.element.children;
	return NULL;
}

static const char *attr_value(const GumboNode *el, const char *name)
{
	const GumboAttribute *a = gumbo_get_attribute(&el->v.element.attributes, name);
	return a != NULL ? a->value : NULL;
}

static void put_attr(struct walk *w, const char *name, const char *value)
{
	put(w, " ", 1);
	put_str(w, name);
	put(w, "=\"", 2);
	put_escaped(w, value, strlen(value));
	put(w, "\"", 1);
}

/* The allowed attributes of el but href and src (written by the caller, checked). */
static void put_attrs(struct walk *w, const GumboNode *el)
{
	const GumboVector *attrs = &el->v.element.attributes;
	for (unsigned int i = 0; i < attrs->length; i++) {
		const GumboAttribute *a = attrs->data[i];
		if (strcmp(a->name, "href") == 0 || strcmp(a->name, "src") == 0)
			continue;
		if (mime_sanitize_rules_attr(el, a))
			put_attr(w, a->name, a->value);
		else
			w->rep->attributes++;
	}
}

static void push(struct walk *w, const GumboNode *n, bool open, bool link)
{
	if (w->depth == w->cap) {
		w->cap = w->cap == 0 ? 64 : w->cap * 2;
		w->stack = sg_reallocarray(w->stack, w->cap, sizeof(*w->stack));
	}
	w->stack[w->depth++] = (struct frame){.node = n, .open = open, .link = link};
	w->open += open;
}

/* <a>: a link with a target the reader may follow, or just its text. */
static void open_link(struct walk *w, const GumboNode *el)
{
	const char *href = attr_value(el, "href");
	if (w->in_link || href == NULL || !url_normalise(href, w->href, sizeof(w->href)) ||
	    !link_target_ok(w->href)) {
		w->rep->unsafe_links += href != NULL;
		push(w, el, false, false);
		return;
	}
	put_str(w, "<a");
	put_attr(w, "href", w->href);
	put_str(w, " rel=\"noopener noreferrer nofollow\" target=\"_blank\"");
	put_attrs(w, el);
	put(w, ">", 1);
	w->in_link = true;
	sg_buf_reset(&w->link_text);
	w->rep->links++;
	push(w, el, true, true);
}

/* After </a>: its target, unless the text already is the target. */
static void close_link(struct walk *w)
{
	const char *text = w->link_text.data != NULL ? g_strstrip(w->link_text.data) : "";
	const char *bare = sg_has_prefix_nocase(w->href, "mailto:") ? w->href + 7 : w->href;
	w->in_link = false;
	if (sg_streq_nocase(text, w->href) || sg_streq_nocase(text, bare))
		return;
	put_str(w, " <span class=\"link-target\">(");
	put_escaped(w, w->href, strlen(w->href));
	put_str(w, ")</span>");
}

static void put_image(struct walk *w, const GumboNode *el)
{
	char url[SG_HTML_URL_MAX + 1];
	if (image_url(w, attr_value(el, "src"), url, sizeof(url))) {
		put_str(w, "<img");
		put_attr(w, "src", url);
		put_attrs(w, el);
		put(w, ">", 1);
		return;
	}
	/* Remote, data: or unknown: the reader sees that an image was left out, and its alt text. */
	const char *alt = attr_value(el, "alt");
	w->rep->blocked_images++;
	put_str(w, "<span class=\"blocked-image\">[");
	const char *what = w->o != NULL && w->o->blocked_image != NULL ? w->o->blocked_image : "image";
	put_escaped(w, what, strlen(what));
	if (alt != NULL && alt[0] != '\0' && strlen(alt) <= SG_HTML_ATTR_TEXT_MAX) {
		put(w, ": ", 2);
		put_escaped(w, alt, strlen(alt));
	}
	put_str(w, "]</span>");
}

static void put_start(struct walk *w, const GumboNode *el, bool is_void)
{
	put(w, "<", 1);
	put_str(w, gumbo_normalized_tagname(el->v.element.tag));
	put_attrs(w, el);
	put(w, ">", 1);
	/* A parser drops a newline right after <pre>: one more keeps the text's own. */
	const GumboVector *kids = &el->v.element.children;
	if (el->v.element.tag == GUMBO_TAG_PRE && kids->length > 0) {
		const GumboNode *first = kids->data[0];
		if ((first->type == GUMBO_NODE_TEXT || first->type == GUMBO_NODE_WHITESPACE) &&
		    first->v.text.text[0] == '\n')
			put(w, "\n", 1);
	}
	if (!is_void)
		push(w, el, true, false);
}

static void visit_element(struct walk *w, const GumboNode *el)
{
	enum mime_sanitize_kind kind = mime_sanitize_rules_element(el);
	if (kind == MIME_SANITIZE_DROP) {
		w->rep->dropped++;
		return;
	}
	if (kind == MIME_SANITIZE_UNWRAP || w->open >= SG_HTML_DEPTH_MAX) {
		w->rep->attributes += el->v.element.attributes.length;
		push(w, el, false, false);
		return;
	}
	GumboTag tag = el->v.element.tag;
	if (tag == GUMBO_TAG_A)
		open_link(w, el);
	else if (tag == GUMBO_TAG_IMG)
		put_image(w, el);
	else
		put_start(w, el, kind == MIME_SANITIZE_VOID);
}

/* Enough of the link's text to compare with its target (the rest cannot be equal). */
static void link_text_add(struct walk *w, const char *text)
{
	size_t room = w->link_text.max - w->link_text.len, n = strlen(text);
	(void)sg_buf_append(&w->link_text, text, n < room ? n : room);
}

static void visit(struct walk *w, const GumboNode *n)
{
	switch (n->type) {
	case GUMBO_NODE_ELEMENT:
		visit_element(w, n);
		break;
	case GUMBO_NODE_TEXT:
	case GUMBO_NODE_WHITESPACE:
		put_escaped(w, n->v.text.text, strlen(n->v.text.text));
		if (w->in_link)
			link_text_add(w, n->v.text.text);
		break;
	default: /* comments, CDATA (only in foreign content), templates, doctypes */
		break;
	}
}

static void walk_tree(struct walk *w, const GumboNode *root)
{
	push(w, root, false, false);
	while (w->depth > 0 && !w->failed) {
		struct frame *f = &w->stack[w->depth - 1];
		const GumboVector *kids = children_of(f->node);
		if (kids != NULL && f->next < kids->length) {
			visit(w, kids->data[f->next++]);
			continue;
		}
		w->depth--;
		w->open -= f->open;
		if (f->open) {
			put(w, "</", 2);
			put_str(w, gumbo_normalized_tagname(f->node->v.element.tag));
			put(w, ">", 1);
		}
		if (f->link)
			close_link(w);
	}
}

/* The input's size and start tags against the ceilings, before the parser sees it. */
static int check_bounds(const char *html, size_t len, const char **error_r)
{
	if (len > SG_HTML_SANITIZE_MAX) {
		*error_r = "the HTML part is too large to show";
		return -1;
	}
	size_t tags = 0;
	for (const char *p = html, *end = html + len; (p = memchr(p, '<', (size_t)(end - p))) != NULL; p++)
		tags += p + 1 < end && g_ascii_isalpha(p[1]);
	if (tags > SG_HTML_TAGS_MAX) {
		*error_r = "the HTML part has too many elements to show";
		return -1;
	}
	return 0;
}

int mime_sanitize_html(const char *html, size_t len, const struct mime_sanitize_opts *o,
                       struct sg_buf *out, struct mime_sanitize_report *report_r,
                       const char **error_r)
{
	*report_r = (struct mime_sanitize_report){0};
	if (check_bounds(html, len, error_r) < 0)
		return -1;
	GumboOptions opts = kGumboDefaultOptions;
	opts.max_errors = 0; /* parse errors are not kept: hostile input would make many */
	GumboOutput *tree = gumbo_parse_with_options(&opts, html, len);
	if (tree == NULL)
		sg_fatal("out of memory parsing HTML");
	struct walk w = {.o = o, .out = out, .rep = report_r};
	sg_buf_init(&w.link_text, SG_HTML_URL_MAX + 64);
	size_t start = out->len;
	walk_tree(&w, tree->document);
	gumbo_destroy_output(&opts, tree);
	sg_free(&w.stack);
	sg_buf_free(&w.link_text);
	if (w.failed) {
		out->len = start;
		if (out->data != NULL)
			out->data[start] = '\0';
		*error_r = "the HTML part is too large to show";
		return -1;
	}
	return 0;
}

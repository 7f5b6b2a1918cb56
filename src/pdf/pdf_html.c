/* pdf_html.c: HTML mail reduced to the text a person would read. It is a one-pass scanner,
 * not a DOM: nothing is fetched, scripts, styles and embedded documents are dropped with their
 * content, and a link keeps its target only as visible text. Depth of nesting costs nothing, so
 * hostile markup cannot make it recurse or grow past the output ceiling. */
#include "pdf/pdf_priv.h"

#include "core/limits.h"
#include "core/sg_buf.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <glib.h>
#include <string.h>

#define HTML_NAME_MAX 16

struct html {
	const char *p, *end;
	struct sg_buf out;
	int pre;              /* depth of <pre>: white space kept */
	bool space;           /* a collapsed space is pending */
	char href[SG_PDF_HTML_HREF_MAX + 1];
	size_t link_start;    /* output length at <a>, to tell whether the text is the target */
	bool in_link;
};

/* ---- output ---- */

static size_t trailing_newlines(const struct html *h)
{
	size_t n = 0;
	while (n < h->out.len && h->out.data[h->out.len - 1 - n] == '\n')
		n++;
	return n;
}

static void emit(struct html *h, const char *s, size_t n)
{
	if (h->space && h->out.len > 0 && trailing_newlines(h) == 0 &&
	    h->out.data[h->out.len - 1] != ' ')
		(void)sg_buf_append(&h->out, " ", 1);
	h->space = false;
	(void)sg_buf_append(&h->out, s, n); /* at the ceiling the rest is simply not shown */
}

/* Ends the current line; want 2 leaves an empty line (a paragraph). */
static void line_break(struct html *h, size_t want)
{
	h->space = false;
	if (h->out.len == 0)
		return;
	for (size_t n = trailing_newlines(h); n < want; n++)
		(void)sg_buf_append(&h->out, "\n", 1);
}

static void emit_codepoint(struct html *h, gunichar c)
{
	if (c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff) || c == 0 ||
	    (c < 0x20 && c != '\t' && c != '\n') || (c >= 0x7f && c < 0xa0))
		c = 0xfffd;
	char u[8];
	int n = g_unichar_to_utf8(c, u);
	emit(h, u, (size_t)n);
}

/* ---- entities ---- */

struct entity {
	const char *name;
	gunichar c;
};
static const struct entity entities[] = {
	{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}, {"nbsp", ' '},
	{"copy", 0xa9}, {"reg", 0xae}, {"trade", 0x2122}, {"hellip", 0x2026}, {"mdash", 0x2014},
	{"ndash", 0x2013}, {"laquo", 0xab}, {"raquo", 0xbb}, {"lsquo", 0x2018}, {"rsquo", 0x2019},
	{"ldquo", 0x201c}, {"rdquo", 0x201d}, {"bull", 0x2022}, {"middot", 0xb7}, {"euro", 0x20ac},
	{"pound", 0xa3}, {"yen", 0xa5}, {"cent", 0xa2}, {"sect", 0xa7}, {"para", 0xb6},
	{"deg", 0xb0}, {"plusmn", 0xb1}, {"times", 0xd7}, {"divide", 0xf7}, {"auml", 0xe4},
	{"ouml", 0xf6}, {"uuml", 0xfc}, {"Auml", 0xc4}, {"Ouml", 0xd6}, {"Uuml", 0xdc},
	{"szlig", 0xdf}, {"eacute", 0xe9}, {"egrave", 0xe8}, {"agrave", 0xe0}, {"aacute", 0xe1},
	{"ccedil", 0xe7}, {"ecirc", 0xea}, {"iacute", 0xed}, {"oacute", 0xf3}, {"uacute", 0xfa},
	{"ntilde", 0xf1}, {"Eacute", 0xc9}, {"zwnj", 0x200c}, {"zwj", 0x200d}, {"shy", 0xad},
};

/* Decodes the entity at p ('&'); returns its length, 0 if it is not one (then '&' is text). */
static size_t entity_decode(const char *p, const char *end, gunichar *c_r)
{
	const char *q = p + 1;
	if (q < end && *q == '#') {
		bool hex = q + 1 < end && (q[1] == 'x' || q[1] == 'X');
		q += hex ? 2 : 1;
		unsigned long v = 0;
		const char *digits = q;
		while (q < end && q - digits < 8 && g_ascii_isxdigit(*q) && (hex || g_ascii_isdigit(*q)))
			v = v * (hex ? 16 : 10) + (unsigned long)g_ascii_xdigit_value(*q++);
		if (q == digits)
			return 0;
		*c_r = v > 0x10ffff ? 0xfffd : (gunichar)v;
		return (size_t)(q - p) + (q < end && *q == ';');
	}
	for (size_t i = 0; i < sizeof(entities) / sizeof(entities[0]); i++) {
		size_t n = strlen(entities[i].name);
		if ((size_t)(end - q) > n && memcmp(q, entities[i].name, n) == 0 && q[n] == ';') {
			*c_r = entities[i].c;
			return n + 2;
		}
	}
	return 0;
}

/* ---- tags ---- */

struct tag {
	char name[HTML_NAME_MAX + 1];
	bool closing;
	char href[SG_PDF_HTML_HREF_MAX + 1];
	char alt[256];
};

static void attr_store(char *dst, size_t dstsize, const char *v, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < dstsize;) {
		gunichar c;
		size_t el = v[i] == '&' ? entity_decode(v + i, v + n, &c) : 0;
		if (el > 0 && c < 0x80) { /* only ASCII entities matter in a URL or alt text */
			if (c >= 0x20 && c != 0x7f)
				dst[o++] = (char)c;
			i += el;
		} else if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
			i++; /* browsers drop tabs and newlines inside URLs too */
		} else {
			dst[o++] = v[i++];
		}
	}
	dst[o] = '\0';
}

static const char *attr_value(const char *p, const char *end, const char **v, size_t *n)
{
	while (p < end && g_ascii_isspace(*p))
		p++;
	if (p < end && (*p == '"' || *p == '\'')) {
		const char *close = memchr(p + 1, *p, (size_t)(end - p - 1));
		*v = p + 1;
		*n = close != NULL ? (size_t)(close - p - 1) : (size_t)(end - p - 1);
		return close != NULL ? close + 1 : end;
	}
	*v = p;
	while (p < end && !g_ascii_isspace(*p) && *p != '>')
		p++;
	*n = (size_t)(p - *v);
	return p;
}

/* Parses the attributes up to '>' and returns the position after it. */
static const char *tag_attrs(const char *p, const char *end, struct tag *t)
{
	while (p < end && *p != '>') {
		if (g_ascii_isspace(*p) || *p == '/') {
			p++;
			continue;
		}
		const char *name = p;
		while (p < end && !g_ascii_isspace(*p) && *p != '=' && *p != '>' && *p != '/')
			p++;
		size_t nlen = (size_t)(p - name);
		while (p < end && g_ascii_isspace(*p))
			p++;
		if (p >= end || *p != '=')
			continue;
		const char *v;
		size_t vn;
		p = attr_value(p + 1, end, &v, &vn);
		if (nlen == 4 && g_ascii_strncasecmp(name, "href", 4) == 0)
			attr_store(t->href, sizeof(t->href), v, vn);
		else if (nlen == 3 && g_ascii_strncasecmp(name, "alt", 3) == 0)
			attr_store(t->alt, sizeof(t->alt), v, vn);
	}
	return p < end ? p + 1 : end;
}

static const char *tag_parse(const char *p, const char *end, struct tag *t)
{
	memset(t, 0, sizeof(*t));
	p++; /* '<' */
	if (p < end && *p == '/') {
		t->closing = true;
		p++;
	}
	size_t n = 0;
	while (p < end && g_ascii_isalnum(*p)) {
		if (n < HTML_NAME_MAX)
			t->name[n++] = g_ascii_tolower(*p);
		p++;
	}
	return tag_attrs(p, end, t);
}

/* Elements whose whole content is dropped: code, styling, metadata, embedded documents. */
static const char *const skipped[] = {"script", "style", "head", "title", "noscript",
                                      "template", "svg", "math", "iframe", "object",
                                      "textarea", "select", "frameset"};
static const char *const paragraphs[] = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
                                         "pre", "table", "ul", "ol", "dl", "hr"};
static const char *const lines[] = {"br", "div", "tr", "li", "dt", "dd", "section", "article",
                                    "header", "footer", "address", "center", "form",
                                    "fieldset", "caption", "nav", "aside", "main", "figure"};

static bool in_list(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, list[i]) == 0)
			return true;
	return false;
}
#define IN(name, list) in_list((name), (list), sizeof(list) / sizeof((list)[0]))

/* Skips to after "</name" ... '>' (case-insensitive), or to the end. */
static const char *skip_element(const char *p, const char *end, const char *name)
{
	size_t n = strlen(name);
	for (; p < end; p++)
		if (*p == '<' && end - p > (ptrdiff_t)(n + 2) && p[1] == '/' &&
		    g_ascii_strncasecmp(p + 2, name, n) == 0 && !g_ascii_isalnum(p[2 + n])) {
			const char *gt = memchr(p, '>', (size_t)(end - p));
			return gt != NULL ? gt + 1 : end;
		}
	return end;
}

static bool href_shown(const char *href)
{
	static const char *const bad[] = {"javascript:", "vbscript:", "data:", "file:"};
	if (*href == '\0' || *href == '#')
		return false;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sg_has_prefix_nocase(href, bad[i]))
			return false;
	return true;
}

static void link_end(struct html *h)
{
	if (!h->in_link)
		return;
	h->in_link = false;
	const char *text = h->out.data != NULL ? h->out.data + h->link_start : "";
	size_t tlen = h->out.len - h->link_start;
	const char *target = h->href;
	if (sg_has_prefix_nocase(target, "mailto:"))
		target += 7;
	if (!href_shown(h->href) || (tlen == strlen(target) && memcmp(text, target, tlen) == 0))
		return;
	emit(h, " <", 2);
	emit(h, target, strlen(target));
	emit(h, ">", 1);
}

static void tag_apply(struct html *h, const struct tag *t)
{
	if (strcmp(t->name, "a") == 0) {
		link_end(h);
		if (!t->closing) {
			h->in_link = true;
			sg_strlcpy(h->href, t->href, sizeof(h->href));
			h->link_start = h->out.len;
		}
	} else if (strcmp(t->name, "img") == 0 && t->alt[0] != '\0') {
		emit(h, "[", 1);
		emit(h, t->alt, strlen(t->alt));
		emit(h, "]", 1);
	} else if (strcmp(t->name, "td") == 0 || strcmp(t->name, "th") == 0) {
		h->space = !t->closing || h->space;
	}
	if (strcmp(t->name, "pre") == 0)
		h->pre += t->closing ? (h->pre > 0 ? -1 : 0) : 1;
	if (IN(t->name, paragraphs))
		line_break(h, 2);
	else if (IN(t->name, lines))
		line_break(h, 1);
	if (!t->closing && strcmp(t->name, "li") == 0)
		emit(h, "\xe2\x80\xa2 ", 4); /* a bullet */
	else if (!t->closing && strcmp(t->name, "hr") == 0) {
		emit(h, "\xe2\x80\x94\xe2\x80\x94\xe2\x80\x94", 9);
		line_break(h, 2);
	}
}

/* One markup construct at h->p ('<'): comment, declaration, or tag. */
static void markup(struct html *h)
{
	const char *p = h->p, *end = h->end;
	if (end - p >= 4 && memcmp(p, "<!--", 4) == 0) {
		const char *c = g_strstr_len(p + 4, end - p - 4, "-->");
		h->p = c != NULL ? c + 3 : end;
		return;
	}
	if (end - p >= 2 && (p[1] == '!' || p[1] == '?')) {
		const char *gt = memchr(p, '>', (size_t)(end - p));
		h->p = gt != NULL ? gt + 1 : end;
		return;
	}
	if (end - p < 2 || !(g_ascii_isalpha(p[1]) || (p[1] == '/' && end - p > 2))) {
		emit(h, "<", 1); /* a lone '<' is text */
		h->p++;
		return;
	}
	struct tag t;
	h->p = tag_parse(p, end, &t);
	if (!t.closing && IN(t.name, skipped)) {
		h->p = skip_element(h->p, end, t.name);
		return;
	}
	tag_apply(h, &t);
}

static void text(struct html *h)
{
	char c = *h->p;
	if (c == '&') {
		gunichar u;
		size_t n = entity_decode(h->p, h->end, &u);
		if (n > 0) {
			emit_codepoint(h, u);
			h->p += n;
			return;
		}
	}
	if (h->pre == 0 && (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f')) {
		h->space = true;
	} else if (c == '\r') {
		/* CRLF inside <pre>: the LF makes the break */
	} else if (c != '\n' && c != '\t' && ((unsigned char)c < 0x20 || c == 0x7f)) {
		emit(h, " ", 1);
	} else {
		emit(h, h->p, 1);
	}
	h->p++;
}

char *pdf_html_to_text(const char *html, size_t len, size_t max, size_t *len_r)
{
	struct html h = {.p = html, .end = html + len};
	sg_buf_init(&h.out, max);
	while (h.p < h.end) {
		if (*h.p == '<')
			markup(&h);
		else
			text(&h);
	}
	link_end(&h);
	/* Invalid bytes of the source become U+FFFD; then cut at a character boundary. */
	gchar *valid = g_utf8_make_valid(h.out.data != NULL ? h.out.data : "", (gssize)h.out.len);
	sg_buf_free(&h.out);
	size_t n = strlen(valid);
	if (n > max) {
		const char *cut = g_utf8_find_prev_char(valid, valid + max + 1);
		n = cut != NULL ? (size_t)(cut - valid) : 0;
	}
	while (n > 0 && (valid[n - 1] == '\n' || valid[n - 1] == ' '))
		n--;
	char *out = sg_strndup(valid, n);
	g_free(valid);
	*len_r = n;
	return out;
}

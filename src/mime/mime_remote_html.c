/* mime_remote_html.c: the remote references of HTML and CSS made inert, for decrypted mail
 * that nothing authenticates (S/MIME AES-CBC without a valid inner signature). EFAIL's CBC
 * gadgets let whoever holds the ciphertext splice markup around the plaintext, so that the
 * mail client sends the plaintext to them in a URL it fetches by itself. This is not an HTML
 * sanitiser of everything: it removes every way markup names a URL outside the message.
 *  - An attribute whose value, as a browser reads it (character references decoded, tabs and
 *    newlines removed), names a scheme other than cid/mid/data/mailto/tel, starts a
 *    protocol-relative URL, or mentions http, url(, image-set( or @import, is renamed to
 *    data-blocked-NAME: its text stays (an unclosed quote swallowing the plaintext keeps
 *    swallowing it, into an attribute nothing loads).
 *  - CSS (style elements, text/css parts): url(, image-set(, src( and @import are spelled so that
 *    no parser reads them, and backslashes (CSS escapes that could spell them) become '/'.
 *  - Everywhere, http:, https: and ftp: become hxxp:, hxxps: and fxp: (the defanging security
 *    tools use), so text that the scanner and a browser would tokenize differently cannot
 *    carry a working URL either.
 * The scanner follows HTML's tag, attribute and raw-text rules; it never recurses, and its
 * output is bounded by the caller's buffer. */
#include "mime/mime.h"

#include "core/sg_buf.h"

#include <glib.h>
#include <stdbool.h>
#include <string.h>

#define VALUE_NORM_MAX 8192 /* a longer attribute value is judged remote unread */

struct scan {
	const char *p, *end;
	struct sg_buf *out;
	size_t count;
	bool failed;
};

static void emit(struct scan *s, const char *p, size_t n)
{
	if (n > 0 && sg_buf_append(s->out, p, n) < 0)
		s->failed = true;
}

static bool at_word(const char *p, const char *end, const char *word)
{
	size_t n = strlen(word);
	return (size_t)(end - p) >= n && g_ascii_strncasecmp(p, word, n) == 0;
}

/* ---- text: defanging, and CSS ---- */

struct rewrite {
	const char *from, *to;
};

static const struct rewrite defang[] = {
	{"https:", "hxxps:"}, {"http:", "hxxp:"}, {"ftp:", "fxp:"},
};

static const struct rewrite css_rules[] = {
	{"url(", "blocked("}, {"image-set(", "blocked("}, {"src(", "blocked("},
	{"@import", "@blocked"}, {"\\", "/"},
};

/* Copies [p, end) to the output with the rewrites applied; css adds the CSS rules. */
static void copy_text(struct scan *s, const char *p, const char *end, bool css)
{
	const char *run = p;
	while (p < end) {
		const struct rewrite *hit = NULL;
		for (size_t i = 0; hit == NULL && i < G_N_ELEMENTS(defang); i++)
			if (at_word(p, end, defang[i].from))
				hit = &defang[i];
		for (size_t i = 0; css && hit == NULL && i < G_N_ELEMENTS(css_rules); i++)
			if (at_word(p, end, css_rules[i].from))
				hit = &css_rules[i];
		if (hit == NULL) {
			p++;
			continue;
		}
		emit(s, run, (size_t)(p - run));
		emit(s, hit->to, strlen(hit->to));
		s->count++;
		p += strlen(hit->from);
		run = p;
	}
	emit(s, run, (size_t)(p - run));
}

/* ---- attribute values as a browser reads them ---- */

/* The character a reference at p (after '&') stands for, its length in *n_r; -1 for a
 * reference this scanner does not know (then the value is judged remote). */
static int char_ref(const char *p, const char *end, size_t *n_r)
{
	static const struct {
		const char *name;
		char c;
	} named[] = {{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''},
	             {"nbsp", ' '}};
	if (p < end && *p == '#') {
		bool hex = p + 1 < end && (p[1] == 'x' || p[1] == 'X');
		const char *q = p + 1 + hex;
		unsigned long v = 0;
		while (q < end && (hex ? g_ascii_isxdigit(*q) : g_ascii_isdigit(*q)) && v < 0x110000)
			v = v * (hex ? 16 : 10) + (unsigned long)(hex ? g_ascii_xdigit_value(*q)
			                                               : g_ascii_digit_value(*q)), q++;
		*n_r = (size_t)(q - p) + (q < end && *q == ';');
		return v < 0x80 ? (int)v : 0x80; /* beyond ASCII: a letter of no scheme we test */
	}
	for (size_t i = 0; i < G_N_ELEMENTS(named); i++) {
		size_t l = strlen(named[i].name);
		if (at_word(p, end, named[i].name) && p + l < end && p[l] == ';') {
			*n_r = l + 1;
			return named[i].c;
		}
	}
	return g_ascii_isalpha(p < end ? *p : ' ') ? -1 : '&';
}

/* The value as a URL parser sees it: references decoded, ASCII white space and controls
 * dropped, lower case. False if it is too long or holds an unknown reference. */
static bool normalise(const char *v, size_t n, char *dst, size_t dstsize)
{
	size_t o = 0;
	for (const char *p = v, *end = v + n; p < end;) {
		int c = (unsigned char)*p++;
		if (c == '&') {
			size_t used = 0;
			c = char_ref(p, end, &used);
			if (c < 0)
				return false;
			p += used;
		}
		if (c <= 0x20 || c == 0x7f)
			continue;
		if (o + 1 >= dstsize)
			return false;
		dst[o++] = (char)g_ascii_tolower((char)c);
	}
	dst[o] = '\0';
	return true;
}

static bool has_local_scheme(const char *v)
{
	static const char *const local[] = {"cid:", "mid:", "data:", "mailto:", "tel:"};
	for (size_t i = 0; i < G_N_ELEMENTS(local); i++)
		if (strncmp(v, local[i], strlen(local[i])) == 0)
			return true;
	return false;
}

/* Does this attribute value make a mail client fetch or open something outside the message? */
static bool value_is_remote(const char *v, size_t n)
{
	char norm[VALUE_NORM_MAX];
	if (!normalise(v, n, norm, sizeof(norm)))
		return true;
	static const char *const marks[] = {"//", "\\", "http", "ftp:", "url(", "image-set(",
	                                    "@import"};
	for (size_t i = 0; i < G_N_ELEMENTS(marks); i++)
		if (strstr(norm, marks[i]) != NULL)
			return true;
	size_t scheme = strspn(norm, "abcdefghijklmnopqrstuvwxyz0123456789+-.");
	return scheme > 0 && norm[scheme] == ':' && !has_local_scheme(norm);
}

/* ---- tags ---- */

/* c is one of set (never NUL: HTML reads a NUL inside a tag as a character of a name). */
static bool in_set(char c, const char *set) { return c != '\0' && strchr(set, c) != NULL; }

static const char *skip_space(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f'))
		p++;
	return p;
}

/* One attribute at s->p (name, optional value), copied or renamed. */
static void attribute(struct scan *s)
{
	const char *name = s->p, *end = s->end, *p = s->p + 1; /* a first '=' belongs to the name */
	while (p < end && !in_set(*p, " \t\n\r\f/>="))
		p++;
	const char *name_end = p, *q = skip_space(p, end);
	if (q >= end || *q != '=') {
		copy_text(s, name, name_end, false);
		s->p = name_end;
		return;
	}
	q = skip_space(q + 1, end);
	const char *v = q, *v_end;
	if (q < end && (*q == '"' || *q == '\'')) {
		const char *close = memchr(q + 1, *q, (size_t)(end - q - 1));
		v = q + 1;
		v_end = close != NULL ? close : end;
		q = close != NULL ? close + 1 : end;
	} else {
		while (q < end && !in_set(*q, " \t\n\r\f>"))
			q++;
		v_end = q;
	}
	if (value_is_remote(v, (size_t)(v_end - v))) {
		emit(s, "data-blocked-", 13);
		s->count++;
	}
	copy_text(s, name, name_end, false);
	copy_text(s, name_end, v, false);   /* the '=', quote and spaces as they were */
	copy_text(s, v, v_end, false);
	copy_text(s, v_end, q, false);     /* the closing quote */
	s->p = q;
}

/* Elements whose content HTML does not parse as markup. */
static bool is_raw_text(const char *name, size_t n)
{
	static const char *const raw[] = {"style", "script", "textarea", "title", "xmp", "iframe",
	                                  "noembed", "noframes", "noscript", "plaintext"};
	for (size_t i = 0; i < G_N_ELEMENTS(raw); i++)
		if (strlen(raw[i]) == n && g_ascii_strncasecmp(name, raw[i], n) == 0)
			return true;
	return false;
}

/* The content of a raw-text element up to its end tag (all the rest for plaintext). */
static void raw_text(struct scan *s, const char *name, size_t n)
{
	const char *p = s->p;
	bool plaintext = n == 9;
	while (!plaintext && p < s->end &&
	       !(p[0] == '<' && p + 1 < s->end && p[1] == '/' && (size_t)(s->end - p - 2) >= n &&
	         g_ascii_strncasecmp(p + 2, name, n) == 0))
		p++;
	copy_text(s, s->p, p, n == 5 && g_ascii_strncasecmp(name, "style", 5) == 0);
	s->p = p;
}

/* A tag at s->p ('<' and a letter, '/', '!' or '?'). */
static void tag(struct scan *s)
{
	const char *end = s->end;
	/* comments, and the bogus comments <!...> and <?...> that end at the first '>' */
	if (s->p[1] == '!' || s->p[1] == '?') {
		bool comment = at_word(s->p, end, "<!--");
		const char *close = comment ? g_strstr_len(s->p + 4, end - s->p - 4, "-->")
		                            : memchr(s->p, '>', (size_t)(end - s->p));
		const char *stop = close != NULL ? close + (comment ? 3 : 1) : end;
		copy_text(s, s->p, stop, false);
		s->p = stop;
		return;
	}
	bool closing = s->p[1] == '/';
	const char *name = s->p + 1 + closing, *p = name;
	while (p < end && !in_set(*p, " \t\n\r\f/>"))
		p++;
	size_t name_len = (size_t)(p - name);
	copy_text(s, s->p, p, false);
	s->p = p;
	while (s->p < end && *s->p != '>' && !s->failed) {
		const char *q = skip_space(s->p, end);
		while (q < end && *q == '/')
			q++;
		copy_text(s, s->p, q, false);
		s->p = q;
		if (q < end && *q != '>' && !in_set(*q, " \t\n\r\f"))
			attribute(s);
	}
	if (s->p < end)
		emit(s, s->p++, 1);
	if (!closing && is_raw_text(name, name_len))
		raw_text(s, name, name_len);
}

int mime_remote_html(const char *in, size_t len, bool css, struct sg_buf *out, size_t *count_r,
                     const char **error_r)
{
	struct scan s = {.p = in, .end = in + len, .out = out};
	if (css) {
		copy_text(&s, in, in + len, true);
	} else {
		while (s.p < s.end && !s.failed) {
			const char *lt = memchr(s.p, '<', (size_t)(s.end - s.p));
			const char *stop = lt != NULL ? lt : s.end;
			copy_text(&s, s.p, stop, false);
			s.p = stop;
			if (lt == NULL)
				break;
			if (lt + 1 < s.end && (g_ascii_isalpha(lt[1]) || in_set(lt[1], "/!?")))
				tag(&s);
			else
				copy_text(&s, lt, (s.p = lt + 1), false); /* a '<' that starts no tag */
		}
	}
	*count_r = s.count;
	if (s.failed)
		*error_r = "the message is too large to make its HTML safe";
	return s.failed ? -1 : 0;
}

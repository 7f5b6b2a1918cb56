/* mime_sanitize_rules.c: the allow-list of the HTML sanitiser (mime_sanitize.c), ours and
 * nothing else's: which elements stay, which go with their content, and which attributes an
 * element keeps with which values. Everything not named here is refused: an unknown element
 * loses its tag (its text stays), an unknown attribute goes. There is no style attribute, no
 * class or id (the page's own CSS and fragment links are not the mail's to use), no event
 * handler, and no URL but the two the walker checks itself (a link's href, an image's src). */
#include "mime/mime_sanitize_priv.h"

#include "core/limits.h"

#include <string.h>
#include <strings.h>

/* Attribute bits: which an element may keep. */
enum {
	A_TITLE = 1u << 0, A_LANG = 1u << 1, A_DIR = 1u << 2, A_HREF = 1u << 3, A_SRC = 1u << 4,
	A_ALT = 1u << 5, A_WIDTH = 1u << 6, A_HEIGHT = 1u << 7, A_ALIGN = 1u << 8,
	A_VALIGN = 1u << 9, A_SPANS = 1u << 10, A_TABLE = 1u << 11, A_START = 1u << 12,
	A_TYPE = 1u << 13, A_VALUE = 1u << 14, A_SCOPE = 1u << 15,
};
#define A_COMMON (A_TITLE | A_LANG | A_DIR)
#define A_CELL (A_COMMON | A_SPANS | A_ALIGN | A_VALIGN | A_WIDTH | A_HEIGHT | A_SCOPE)

struct el_rule {
	enum mime_sanitize_kind kind;
	unsigned attrs;
};

#define KEEP(a) {MIME_SANITIZE_KEEP, (a)}
#define VOID(a) {MIME_SANITIZE_VOID, (a)}
#define DROP {MIME_SANITIZE_DROP, 0}

/* Unlisted tags (and GUMBO_TAG_UNKNOWN) are 0: MIME_SANITIZE_UNWRAP. */
static const struct el_rule rules[GUMBO_TAG_LAST + 1] = {
	/* text and phrasing */
	[GUMBO_TAG_A] = KEEP(A_COMMON | A_HREF), [GUMBO_TAG_ABBR] = KEEP(A_COMMON),
	[GUMBO_TAG_B] = KEEP(A_COMMON), [GUMBO_TAG_BDI] = KEEP(A_COMMON),
	[GUMBO_TAG_BDO] = KEEP(A_COMMON), [GUMBO_TAG_BIG] = KEEP(A_COMMON),
	[GUMBO_TAG_BR] = VOID(0), [GUMBO_TAG_CITE] = KEEP(A_COMMON),
	[GUMBO_TAG_CODE] = KEEP(A_COMMON), [GUMBO_TAG_DEL] = KEEP(A_COMMON),
	[GUMBO_TAG_DFN] = KEEP(A_COMMON), [GUMBO_TAG_EM] = KEEP(A_COMMON),
	[GUMBO_TAG_I] = KEEP(A_COMMON), [GUMBO_TAG_IMG] = VOID(A_COMMON | A_SRC | A_ALT | A_WIDTH | A_HEIGHT),
	[GUMBO_TAG_INS] = KEEP(A_COMMON), [GUMBO_TAG_KBD] = KEEP(A_COMMON),
	[GUMBO_TAG_MARK] = KEEP(A_COMMON), [GUMBO_TAG_Q] = KEEP(A_COMMON),
	[GUMBO_TAG_S] = KEEP(A_COMMON), [GUMBO_TAG_SAMP] = KEEP(A_COMMON),
	[GUMBO_TAG_SMALL] = KEEP(A_COMMON), [GUMBO_TAG_SPAN] = KEEP(A_COMMON),
	[GUMBO_TAG_STRIKE] = KEEP(A_COMMON), [GUMBO_TAG_STRONG] = KEEP(A_COMMON),
	[GUMBO_TAG_SUB] = KEEP(A_COMMON), [GUMBO_TAG_SUP] = KEEP(A_COMMON),
	[GUMBO_TAG_TIME] = KEEP(A_COMMON), [GUMBO_TAG_TT] = KEEP(A_COMMON),
	[GUMBO_TAG_U] = KEEP(A_COMMON), [GUMBO_TAG_VAR] = KEEP(A_COMMON),
	[GUMBO_TAG_WBR] = VOID(0),
	/* blocks */
	[GUMBO_TAG_ADDRESS] = KEEP(A_COMMON), [GUMBO_TAG_BLOCKQUOTE] = KEEP(A_COMMON),
	[GUMBO_TAG_CENTER] = KEEP(A_COMMON), [GUMBO_TAG_DD] = KEEP(A_COMMON),
	[GUMBO_TAG_DIV] = KEEP(A_COMMON | A_ALIGN), [GUMBO_TAG_DL] = KEEP(A_COMMON),
	[GUMBO_TAG_DT] = KEEP(A_COMMON), [GUMBO_TAG_FIGCAPTION] = KEEP(A_COMMON),
	[GUMBO_TAG_FIGURE] = KEEP(A_COMMON), [GUMBO_TAG_H1] = KEEP(A_COMMON | A_ALIGN),
	[GUMBO_TAG_H2] = KEEP(A_COMMON | A_ALIGN), [GUMBO_TAG_H3] = KEEP(A_COMMON | A_ALIGN),
	[GUMBO_TAG_H4] = KEEP(A_COMMON | A_ALIGN), [GUMBO_TAG_H5] = KEEP(A_COMMON | A_ALIGN),
	[GUMBO_TAG_H6] = KEEP(A_COMMON | A_ALIGN), [GUMBO_TAG_HR] = VOID(A_WIDTH | A_ALIGN),
	[GUMBO_TAG_LI] = KEEP(A_COMMON | A_VALUE), [GUMBO_TAG_OL] = KEEP(A_COMMON | A_START | A_TYPE),
	[GUMBO_TAG_P] = KEEP(A_COMMON | A_ALIGN), [GUMBO_TAG_PRE] = KEEP(A_COMMON),
	[GUMBO_TAG_UL] = KEEP(A_COMMON),
	/* tables */
	[GUMBO_TAG_CAPTION] = KEEP(A_COMMON | A_ALIGN),
	[GUMBO_TAG_COL] = VOID(A_SPANS | A_WIDTH | A_ALIGN | A_VALIGN),
	[GUMBO_TAG_COLGROUP] = KEEP(A_SPANS | A_WIDTH | A_ALIGN | A_VALIGN),
	[GUMBO_TAG_TABLE] = KEEP(A_COMMON | A_TABLE | A_WIDTH | A_ALIGN),
	[GUMBO_TAG_TBODY] = KEEP(A_ALIGN | A_VALIGN), [GUMBO_TAG_THEAD] = KEEP(A_ALIGN | A_VALIGN),
	[GUMBO_TAG_TFOOT] = KEEP(A_ALIGN | A_VALIGN), [GUMBO_TAG_TR] = KEEP(A_ALIGN | A_VALIGN),
	[GUMBO_TAG_TD] = KEEP(A_CELL), [GUMBO_TAG_TH] = KEEP(A_CELL),
	/* gone with everything inside: code, styles, other documents, media, forms' own text */
	[GUMBO_TAG_HEAD] = DROP, [GUMBO_TAG_TITLE] = DROP, [GUMBO_TAG_BASE] = DROP,
	[GUMBO_TAG_LINK] = DROP, [GUMBO_TAG_META] = DROP, [GUMBO_TAG_STYLE] = DROP,
	[GUMBO_TAG_SCRIPT] = DROP, [GUMBO_TAG_NOSCRIPT] = DROP, [GUMBO_TAG_TEMPLATE] = DROP,
	[GUMBO_TAG_IFRAME] = DROP, [GUMBO_TAG_FRAME] = DROP, [GUMBO_TAG_FRAMESET] = DROP,
	[GUMBO_TAG_NOFRAMES] = DROP, [GUMBO_TAG_OBJECT] = DROP, [GUMBO_TAG_EMBED] = DROP,
	[GUMBO_TAG_APPLET] = DROP, [GUMBO_TAG_PARAM] = DROP, [GUMBO_TAG_NOEMBED] = DROP,
	[GUMBO_TAG_AUDIO] = DROP, [GUMBO_TAG_VIDEO] = DROP, [GUMBO_TAG_SOURCE] = DROP,
	[GUMBO_TAG_TRACK] = DROP, [GUMBO_TAG_CANVAS] = DROP, [GUMBO_TAG_SVG] = DROP,
	[GUMBO_TAG_MATH] = DROP, [GUMBO_TAG_MAP] = DROP, [GUMBO_TAG_AREA] = DROP,
	[GUMBO_TAG_INPUT] = DROP, [GUMBO_TAG_SELECT] = DROP, [GUMBO_TAG_TEXTAREA] = DROP,
	[GUMBO_TAG_KEYGEN] = DROP, [GUMBO_TAG_MENUITEM] = DROP,
	[GUMBO_TAG_IMAGE] = DROP,
};

enum value_rule { V_TEXT, V_LANG, V_DIR, V_URL, V_NUMBER, V_LENGTH, V_ALIGN, V_VALIGN,
                  V_OLTYPE, V_SCOPE };

static const struct attr_rule {
	const char *name;
	unsigned bit;
	enum value_rule value;
} attr_rules[] = {
	{"title", A_TITLE, V_TEXT},           {"lang", A_LANG, V_LANG},
	{"dir", A_DIR, V_DIR},                {"href", A_HREF, V_URL},
	{"src", A_SRC, V_URL},                {"alt", A_ALT, V_TEXT},
	{"width", A_WIDTH, V_LENGTH},         {"height", A_HEIGHT, V_LENGTH},
	{"align", A_ALIGN, V_ALIGN},          {"valign", A_VALIGN, V_VALIGN},
	{"colspan", A_SPANS, V_NUMBER},       {"rowspan", A_SPANS, V_NUMBER},
	{"span", A_SPANS, V_NUMBER},          {"border", A_TABLE, V_NUMBER},
	{"cellpadding", A_TABLE, V_NUMBER},   {"cellspacing", A_TABLE, V_NUMBER},
	{"start", A_START, V_NUMBER},         {"type", A_TYPE, V_OLTYPE},
	{"value", A_VALUE, V_NUMBER},         {"scope", A_SCOPE, V_SCOPE},
};

enum mime_sanitize_kind mime_sanitize_rules_element(const GumboNode *n)
{
	if (n->v.element.tag_namespace != GUMBO_NAMESPACE_HTML)
		return MIME_SANITIZE_DROP; /* SVG and MathML, whatever their tag */
	GumboTag t = n->v.element.tag;
	return t <= GUMBO_TAG_LAST ? rules[t].kind : MIME_SANITIZE_UNWRAP;
}

static bool one_of(const char *v, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(v, list[i]) == 0)
			return true;
	return false;
}

/* Digits only (a length may end in '%'), at most 6 of them: no unit, no expression. */
static bool number_ok(const char *v, bool percent)
{
	size_t n = strspn(v, "0123456789");
	if (n == 0 || n > 6)
		return false;
	return v[n] == '\0' || (percent && v[n] == '%' && v[n + 1] == '\0');
}

static bool lang_ok(const char *v)
{
	size_t n = strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-");
	return n > 0 && n <= 35 && v[n] == '\0';
}

static bool value_ok(enum value_rule r, const char *v)
{
	static const char *const dirs[] = {"ltr", "rtl", "auto"};
	static const char *const aligns[] = {"left", "right", "center", "justify"};
	static const char *const valigns[] = {"top", "middle", "bottom", "baseline"};
	static const char *const oltypes[] = {"1", "a", "i"};
	static const char *const scopes[] = {"row", "col", "rowgroup", "colgroup"};
	switch (r) {
	case V_TEXT: return strlen(v) <= SG_HTML_ATTR_TEXT_MAX;
	case V_LANG: return lang_ok(v);
	case V_DIR: return one_of(v, dirs, 3);
	case V_URL: return true; /* the walker checks href and src itself */
	case V_NUMBER: return number_ok(v, false);
	case V_LENGTH: return number_ok(v, true);
	case V_ALIGN: return one_of(v, aligns, 4);
	case V_VALIGN: return one_of(v, valigns, 4);
	case V_OLTYPE: return one_of(v, oltypes, 3);
	case V_SCOPE: return one_of(v, scopes, 4);
	}
	return false;
}

bool mime_sanitize_rules_attr(const GumboNode *el, const GumboAttribute *a)
{
	GumboTag t = el->v.element.tag;
	if (a->attr_namespace != GUMBO_ATTR_NAMESPACE_NONE || t > GUMBO_TAG_LAST)
		return false;
	for (size_t i = 0; i < sizeof(attr_rules) / sizeof(attr_rules[0]); i++)
		if (strcmp(a->name, attr_rules[i].name) == 0)
			return (rules[t].attrs & attr_rules[i].bit) != 0 &&
			       value_ok(attr_rules[i].value, a->value);
	return false;
}

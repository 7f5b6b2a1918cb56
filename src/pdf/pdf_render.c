/* pdf_render.c: lays a message out on A4 pages with pango (font fallback through fontconfig,
 * HarfBuzz shaping, bidi, line breaking) and lets cairo write an unencrypted PDF with subset
 * fonts. Pages are filled line by line. cairo's link tags are not used (cairo 1.16 corrupts its
 * xref with them): the Reply link's rectangle is returned and qpdf adds the annotation. */
#include "pdf/pdf_priv.h"

#include "core/limits.h"
#include "core/sg_buf.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <cairo-pdf.h>
#include <pango/pangocairo.h>
#include <stdio.h>
#include <string.h>

#define PAGE_W 595.276 /* A4 in points */
#define PAGE_H 841.89
#define MARGIN 56.0
#define LABEL_W 78.0   /* column of the header labels */
#define CHUNK_MAX (16 * 1024) /* a longer paragraph is laid out in pieces: pango is superlinear */
/* Families named in order, so that the Noto face of each script wins over whatever
 * fontconfig would sort first (DejaVu for Arabic); the CJK face follows the language. */
#define FONT_FAMILIES "Noto Sans,Noto Sans Arabic,Noto Sans Hebrew,Noto Sans CJK %s," \
                      "Noto Sans Thai,Noto Sans Devanagari"

struct render {
	cairo_surface_t *surface;
	cairo_t *cr;
	PangoContext *ctx;
	double y;       /* top of the next line, from the top of the page */
	int pages;
	struct sg_buf *out;
	const char *error;
	char font_body[160], font_title[160];
};

static cairo_status_t write_cb(void *closure, const unsigned char *data, unsigned int len)
{
	struct render *r = closure;
	if (sg_buf_append(r->out, data, len) < 0) {
		r->error = "the SecurePDF would exceed the size limit";
		return CAIRO_STATUS_WRITE_ERROR;
	}
	return CAIRO_STATUS_SUCCESS;
}

static int new_page(struct render *r)
{
	if (r->pages >= SG_PDF_PAGES_MAX) {
		r->error = "the message would need more pages than SecurePDF allows";
		return -1;
	}
	if (r->pages > 0)
		cairo_show_page(r->cr);
	r->pages++;
	r->y = MARGIN;
	return 0;
}

static PangoLayout *layout_new(struct render *r, const char *font, const char *text, int len,
                               double indent)
{
	PangoLayout *l = pango_layout_new(r->ctx);
	PangoFontDescription *fd = pango_font_description_from_string(font);
	pango_layout_set_font_description(l, fd);
	pango_font_description_free(fd);
	pango_layout_set_width(l, (int)((PAGE_W - 2 * MARGIN - indent) * PANGO_SCALE));
	pango_layout_set_wrap(l, PANGO_WRAP_WORD_CHAR);
	pango_layout_set_text(l, text, len);
	return l;
}

/* Draws the layout at x, breaking pages between lines; box_r gets the extent on the first page
 * (page-top coordinates) when not NULL. */
static int draw(struct render *r, PangoLayout *l, double x, PangoRectangle *box_r)
{
	PangoLayoutIter *it = pango_layout_get_iter(l);
	int rc = 0;
	bool first = true;
	do {
		PangoRectangle lr;
		pango_layout_iter_get_line_extents(it, NULL, &lr);
		double h = (double)lr.height / PANGO_SCALE;
		if (r->y + h > PAGE_H - MARGIN && r->y > MARGIN && (rc = new_page(r)) < 0)
			break;
		double base = (double)(pango_layout_iter_get_baseline(it) - lr.y) / PANGO_SCALE;
		cairo_move_to(r->cr, x + (double)lr.x / PANGO_SCALE, r->y + base);
		pango_cairo_show_layout_line(r->cr, pango_layout_iter_get_line_readonly(it));
		if (box_r != NULL && first) {
			*box_r = (PangoRectangle){(int)x, (int)r->y, 0, 0};
			first = false;
		}
		if (box_r != NULL) {
			int right = (int)(x + (double)(lr.x + lr.width) / PANGO_SCALE + 1);
			box_r->width = right - box_r->x > box_r->width ? right - box_r->x : box_r->width;
			box_r->height = (int)(r->y + h + 1) - box_r->y;
		}
		r->y += h;
	} while (pango_layout_iter_next_line(it));
	pango_layout_iter_free(it);
	return rc;
}

/* "Label:<TAB>value" with a hanging indent, so long values line up under the first. */
static int field(struct render *r, const char *label, const char *value)
{
	char *text = g_strdup_printf("%s\t%s", label, value);
	PangoLayout *l = layout_new(r, r->font_body, text, -1, 0);
	PangoTabArray *tabs = pango_tab_array_new_with_positions(1, FALSE, PANGO_TAB_LEFT,
	                                                         (int)(LABEL_W * PANGO_SCALE));
	pango_layout_set_tabs(l, tabs);
	pango_tab_array_free(tabs);
	pango_layout_set_indent(l, (int)(-LABEL_W * PANGO_SCALE));
	PangoAttrList *attrs = pango_attr_list_new();
	PangoAttribute *bold = pango_attr_weight_new(PANGO_WEIGHT_BOLD);
	bold->end_index = (guint)strlen(label);
	pango_attr_list_insert(attrs, bold);
	pango_layout_set_attributes(l, attrs);
	pango_attr_list_unref(attrs);
	int rc = draw(r, l, MARGIN, NULL);
	g_object_unref(l);
	g_free(text);
	return rc;
}

static int title(struct render *r, const char *text)
{
	PangoLayout *l = layout_new(r, r->font_title, text, -1, 0);
	int rc = draw(r, l, MARGIN, NULL);
	g_object_unref(l);
	r->y += 8;
	return rc;
}

static void rule(struct render *r)
{
	r->y += 6;
	cairo_set_line_width(r->cr, 0.6);
	cairo_move_to(r->cr, MARGIN, r->y);
	cairo_line_to(r->cr, PAGE_W - MARGIN, r->y);
	cairo_stroke(r->cr);
	r->y += 10;
}

static int attachments(struct render *r, const struct pdf_doc *doc)
{
	for (size_t i = 0; i < doc->natt; i++) {
		char size[32];
		pdf_msg_size_text(doc->att[i].len, size, sizeof(size));
		char *v = g_strdup_printf("%s (%s, %s)", doc->att[i].name, doc->att[i].mime_type, size);
		int rc = field(r, i == 0 ? "Attachments:" : "", v);
		g_free(v);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int reply_link(struct render *r, const char *url, struct pdf_rect *link_r)
{
	char *text = g_strdup_printf("Reply:\t%s", url);
	PangoLayout *l = layout_new(r, r->font_body, text, -1, 0);
	PangoTabArray *tabs = pango_tab_array_new_with_positions(1, FALSE, PANGO_TAB_LEFT,
	                                                         (int)(LABEL_W * PANGO_SCALE));
	pango_layout_set_tabs(l, tabs);
	pango_tab_array_free(tabs);
	pango_layout_set_indent(l, (int)(-LABEL_W * PANGO_SCALE));
	PangoAttrList *attrs = pango_attr_list_new();
	PangoAttribute *a[3] = {pango_attr_weight_new(PANGO_WEIGHT_BOLD),
	                        pango_attr_foreground_new(0x1a1a, 0x4d4d, 0xb3b3),
	                        pango_attr_underline_new(PANGO_UNDERLINE_SINGLE)};
	a[0]->end_index = 6;
	a[1]->start_index = a[2]->start_index = 7;
	for (int i = 0; i < 3; i++)
		pango_attr_list_insert(attrs, a[i]);
	pango_layout_set_attributes(l, attrs);
	pango_attr_list_unref(attrs);
	PangoRectangle box = {0, 0, 0, 0};
	int rc = draw(r, l, MARGIN, &box);
	g_object_unref(l);
	g_free(text);
	/* The whole paragraph is the link; PDF counts y from the bottom of the page. */
	link_r->x1 = box.x - 2;
	link_r->x2 = box.x + box.width + 2;
	link_r->y1 = PAGE_H - (box.y + box.height) - 2;
	link_r->y2 = PAGE_H - box.y + 2;
	return rc;
}

static int header_block(struct render *r, const struct pdf_doc *doc, const char *url,
                        struct pdf_rect *link_r)
{
	const struct {
		const char *label, *value;
	} rows[] = {{"From:", doc->from}, {"To:", doc->to},   {"Cc:", doc->cc},
	            {"Date:", doc->date}, {"Subject:", doc->subject}};
	if (title(r, "Secure message") < 0)
		return -1;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (rows[i].value != NULL && field(r, rows[i].label, rows[i].value) < 0)
			return -1;
	if (attachments(r, doc) < 0)
		return -1;
	r->y += 4;
	if (reply_link(r, url, link_r) < 0)
		return -1;
	rule(r);
	return 0;
}

/* pango lays out a run without break opportunities in quadratic time, so such a run is cut
 * into pieces of RUN_MAX bytes (it wraps at character level anyway). Spaces, hyphens, slashes and
 * characters from U+0800 on (CJK, Thai: breakable between characters) end a run. */
#define RUN_MAX 1024

static bool breakable(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '-' || c == '/' || c >= 0xe0;
}

/* Length of the next piece of a paragraph: whole up to CHUNK_MAX, else cut after a space near
 * the limit, else at a character boundary. */
static size_t chunk_len(const char *p, size_t n)
{
	size_t lim = n < CHUNK_MAX ? n : CHUNK_MAX;
	for (size_t i = 0, run = 0; i < lim; i++) {
		run = breakable((unsigned char)p[i]) ? 0 : run + 1;
		if (run > RUN_MAX) {
			const char *cut = g_utf8_find_prev_char(p, p + i + 1);
			return cut != NULL && cut > p ? (size_t)(cut - p) : i;
		}
	}
	if (n <= CHUNK_MAX)
		return n;
	for (size_t i = CHUNK_MAX; i > CHUNK_MAX - 512; i--)
		if (p[i - 1] == ' ')
			return i;
	const char *cut = g_utf8_find_prev_char(p, p + CHUNK_MAX);
	return cut != NULL && cut > p ? (size_t)(cut - p) : CHUNK_MAX;
}

static int body(struct render *r, const char *text, size_t len)
{
	size_t pos = 0;
	for (;;) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t plen = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;
		do {
			size_t n = chunk_len(text + pos, plen);
			PangoLayout *l = layout_new(r, r->font_body, text + pos, (int)n, 0);
			int rc = draw(r, l, MARGIN, NULL);
			g_object_unref(l);
			if (rc < 0)
				return -1;
			pos += n;
			plen -= n;
		} while (plen > 0);
		if (nl == NULL)
			return 0;
		pos++; /* the '\n' */
	}
}

static const char *cjk_face(const char *lang)
{
	static const struct {
		const char *lang, *face;
	} faces[] = {{"zh-cn", "SC"}, {"zh-tw", "TC"}, {"ja", "JP"}, {"ko", "KR"}};
	for (size_t i = 0; lang != NULL && i < sizeof(faces) / sizeof(faces[0]); i++)
		if (strcmp(lang, faces[i].lang) == 0)
			return faces[i].face;
	return "SC";
}

static void fonts(struct render *r, const char *lang)
{
	char families[128];
	(void)snprintf(families, sizeof(families), FONT_FAMILIES, cjk_face(lang));
	(void)snprintf(r->font_body, sizeof(r->font_body), "%s 10", families);
	(void)snprintf(r->font_title, sizeof(r->font_title), "%s Bold 15", families);
}

static PangoContext *context_new(const struct pdf_doc *doc)
{
	PangoContext *ctx = pango_font_map_create_context(pango_cairo_font_map_get_default());
	pango_cairo_context_set_resolution(ctx, 72); /* pango's 96 dpi would scale every size */
	cairo_font_options_t *fo = cairo_font_options_create();
	cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
	cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
	pango_cairo_context_set_font_options(ctx, fo);
	cairo_font_options_destroy(fo);
	if (doc->lang != NULL) /* Han glyph forms follow the language */
		pango_context_set_language(ctx, pango_language_from_string(doc->lang));
	return ctx;
}

int pdf_render_doc(const struct pdf_doc *doc, const char *reply_url, struct sg_buf *out,
                   struct pdf_rect *link_r, const char **error_r)
{
	struct render r = {.out = out};
	r.surface = cairo_pdf_surface_create_for_stream(write_cb, &r, PAGE_W, PAGE_H);
	r.cr = cairo_create(r.surface);
	r.ctx = context_new(doc);
	fonts(&r, doc->lang);
	pango_cairo_update_context(r.cr, r.ctx);
	cairo_set_source_rgb(r.cr, 0, 0, 0);
	int rc = new_page(&r);
	if (rc == 0)
		rc = header_block(&r, doc, reply_url, link_r);
	if (rc == 0)
		rc = body(&r, doc->body, doc->body_len);
	g_object_unref(r.ctx);
	cairo_destroy(r.cr);
	cairo_surface_finish(r.surface);
	cairo_status_t st = cairo_surface_status(r.surface);
	cairo_surface_destroy(r.surface);
	if (rc == 0 && (st != CAIRO_STATUS_SUCCESS || r.error != NULL)) {
		rc = r.error != NULL ? PDF_ERR_REJECT : PDF_ERR_DEFER;
		if (r.error == NULL)
			r.error = cairo_status_to_string(st);
	}
	if (rc < 0)
		*error_r = r.error;
	return rc;
}

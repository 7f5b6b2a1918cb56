/* pdf_build.c: one message to one encrypted PDF. The body pages come from cairo; qpdf opens
 * our per-document R6 template with its throw-away owner password (checking O, OE and Perms on
 * the way), takes the pages over, embeds the attachments, adds the Reply link and writes every
 * string and stream encrypted with the template's fresh file key. */
#include "pdf/pdf_priv.h"

#include "core/limits.h"
#include "core/sg_buf.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <openssl/evp.h>
#include <qpdf/qpdf-c.h>
#include <stdio.h>
#include <string.h>

#define TEMPLATE_MAX 4096

struct build {
	qpdf_data t; /* the template, which becomes the output */
	qpdf_data c; /* cairo's pages; read lazily until qpdf_write is done */
	const char *error;
	int code;
};

static bool failed(struct build *b, qpdf_data q, const char *what)
{
	if (!qpdf_has_error(q))
		return false;
	qpdf_error e = qpdf_get_error(q);
	sg_warn("pdf: qpdf %s: %s", what, qpdf_get_error_full_text(q, e));
	b->error = "assembling the PDF failed";
	b->code = PDF_ERR_DEFER;
	return true;
}

static int check_url(const char *url, const char **error_r)
{
	size_t n = url != NULL ? strnlen(url, SG_PDF_URL_MAX + 1) : 0;
	bool ok = n > 0 && n <= SG_PDF_URL_MAX &&
	          (sg_has_prefix_nocase(url, "https://") || sg_has_prefix_nocase(url, "http://"));
	for (size_t i = 0; ok && i < n; i++)
		ok = url[i] > 0x20 && url[i] < 0x7f;
	if (!ok) {
		*error_r = "the Reply URL is not a printable http(s) URL";
		return -1;
	}
	return 0;
}

/* ---- attachments ---- */

/* /F for old readers: the name with non-ASCII bytes as '_' (/UF has the real one). */
static char *ascii_name(const char *name)
{
	char *a = sg_strdup(name);
	for (char *p = a; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '_';
	return a;
}

static qpdf_oh embedded_file(qpdf_data q, const struct pdf_attachment *a)
{
	unsigned char md5[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	if (EVP_Digest(a->data, a->len, md5, &mdlen, EVP_md5(), NULL) != 1)
		sg_fatal("pdf: MD5 failed");
	qpdf_oh st = qpdf_oh_new_stream(q);
	qpdf_oh_replace_stream_data(q, st, a->data, a->len, qpdf_oh_new_null(q),
	                            qpdf_oh_new_null(q));
	qpdf_oh dict = qpdf_oh_get_dict(q, st);
	char subtype[160];
	(void)snprintf(subtype, sizeof(subtype), "/%s", a->mime_type);
	qpdf_oh_replace_key(q, dict, "/Type", qpdf_oh_new_name(q, "/EmbeddedFile"));
	qpdf_oh_replace_key(q, dict, "/Subtype", qpdf_oh_new_name(q, subtype));
	qpdf_oh params = qpdf_oh_new_dictionary(q);
	qpdf_oh_replace_key(q, params, "/Size", qpdf_oh_new_integer(q, (long long)a->len));
	qpdf_oh_replace_key(q, params, "/CheckSum",
	                    qpdf_oh_new_binary_string(q, (const char *)md5, mdlen));
	qpdf_oh_replace_key(q, dict, "/Params", params);
	return st;
}

static qpdf_oh filespec(qpdf_data q, const struct pdf_attachment *a)
{
	qpdf_oh st = embedded_file(q, a);
	qpdf_oh fs = qpdf_oh_new_dictionary(q);
	char *ascii = ascii_name(a->name);
	qpdf_oh_replace_key(q, fs, "/Type", qpdf_oh_new_name(q, "/Filespec"));
	qpdf_oh_replace_key(q, fs, "/F", qpdf_oh_new_string(q, ascii));
	qpdf_oh_replace_key(q, fs, "/UF", qpdf_oh_new_unicode_string(q, a->name));
	qpdf_oh_replace_key(q, fs, "/AFRelationship", qpdf_oh_new_name(q, "/Unspecified"));
	qpdf_oh ef = qpdf_oh_new_dictionary(q);
	qpdf_oh_replace_key(q, ef, "/F", st);
	qpdf_oh_replace_key(q, ef, "/UF", st);
	qpdf_oh_replace_key(q, fs, "/EF", ef);
	sg_free(&ascii);
	return qpdf_make_indirect_object(q, fs);
}

/* The EmbeddedFiles name tree, one flat sorted /Names array; keys are zero-padded numbers so
 * that equal file names cannot collide and the order is the message's. */
static void embed_all(struct build *b, const struct pdf_doc *doc, qpdf_oh root)
{
	if (doc->natt == 0)
		return;
	qpdf_data q = b->t;
	qpdf_oh arr = qpdf_oh_new_array(q);
	for (size_t i = 0; i < doc->natt; i++) {
		char key[24];
		(void)snprintf(key, sizeof(key), "%06zu", i + 1);
		qpdf_oh_append_item(q, arr, qpdf_oh_new_string(q, key));
		qpdf_oh_append_item(q, arr, filespec(q, &doc->att[i]));
	}
	qpdf_oh tree = qpdf_oh_new_dictionary(q);
	qpdf_oh_replace_key(q, tree, "/Names", arr);
	qpdf_oh names = qpdf_oh_new_dictionary(q);
	qpdf_oh_replace_key(q, names, "/EmbeddedFiles", tree);
	qpdf_oh_replace_key(q, root, "/Names", names);
	qpdf_oh_replace_key(q, root, "/PageMode", qpdf_oh_new_name(q, "/UseAttachments"));
}

/* ---- the Reply link ---- */

static qpdf_oh rect(qpdf_data q, const struct pdf_rect *r)
{
	qpdf_oh a = qpdf_oh_new_array(q);
	const double v[4] = {r->x1, r->y1, r->x2, r->y2};
	for (int i = 0; i < 4; i++)
		qpdf_oh_append_item(q, a, qpdf_oh_new_real_from_double(q, v[i], 2));
	return a;
}

static void add_link(struct build *b, const struct pdf_rect *r, const char *url)
{
	qpdf_data q = b->t;
	qpdf_oh action = qpdf_oh_new_dictionary(q);
	qpdf_oh_replace_key(q, action, "/Type", qpdf_oh_new_name(q, "/Action"));
	qpdf_oh_replace_key(q, action, "/S", qpdf_oh_new_name(q, "/URI"));
	qpdf_oh_replace_key(q, action, "/URI", qpdf_oh_new_string(q, url));
	qpdf_oh border = qpdf_oh_new_array(q);
	for (int i = 0; i < 3; i++)
		qpdf_oh_append_item(q, border, qpdf_oh_new_integer(q, 0));
	qpdf_oh annot = qpdf_oh_new_dictionary(q);
	qpdf_oh_replace_key(q, annot, "/Type", qpdf_oh_new_name(q, "/Annot"));
	qpdf_oh_replace_key(q, annot, "/Subtype", qpdf_oh_new_name(q, "/Link"));
	qpdf_oh_replace_key(q, annot, "/Rect", rect(q, r));
	qpdf_oh_replace_key(q, annot, "/Border", border);
	qpdf_oh_replace_key(q, annot, "/F", qpdf_oh_new_integer(q, 4)); /* print */
	qpdf_oh_replace_key(q, annot, "/A", action);
	qpdf_oh page = qpdf_get_page_n(q, 0);
	qpdf_oh annots = qpdf_oh_get_key(q, page, "/Annots");
	if (!qpdf_oh_is_array(q, annots)) {
		annots = qpdf_oh_new_array(q);
		qpdf_oh_replace_key(q, page, "/Annots", annots);
	}
	qpdf_oh_append_item(q, annots, qpdf_make_indirect_object(q, annot));
}

/* ---- assembly ---- */

static int open_inputs(struct build *b, const struct pdf_key *key, struct sg_buf *tmpl,
                       const struct sg_buf *body)
{
	char owner[65];
	pdf_r6_template(key, tmpl, owner);
	qpdf_read_memory(b->t, "template", tmpl->data, tmpl->len, owner);
	sg_wipe(owner, sizeof(owner));
	if (failed(b, b->t, "template"))
		return -1;
	qpdf_read_memory(b->c, "body", body->data, body->len, "");
	if (failed(b, b->c, "body"))
		return -1;
	int n = qpdf_get_num_pages(b->c);
	if (n <= 0) {
		if (!failed(b, b->c, "pages"))
			b->error = "the renderer produced no pages";
		return -1;
	}
	for (int i = 0; i < n; i++) {
		qpdf_add_page(b->t, b->c, qpdf_get_page_n(b->c, (size_t)i), QPDF_FALSE);
		if (failed(b, b->t, "add page"))
			return -1;
	}
	return 0;
}

static int write_out(struct build *b, size_t max_out, unsigned char **pdf_r, size_t *len_r)
{
	qpdf_init_write_memory(b->t);
	qpdf_set_object_stream_mode(b->t, qpdf_o_generate);
	qpdf_set_minimum_pdf_version(b->t, "2.0");
	qpdf_write(b->t);
	if (failed(b, b->t, "write"))
		return -1;
	while (qpdf_more_warnings(b->t))
		sg_debug("pdf: qpdf: %s", qpdf_get_error_full_text(b->t, qpdf_next_warning(b->t)));
	size_t len = qpdf_get_buffer_length(b->t);
	if (len > max_out) {
		b->error = "the SecurePDF would exceed the size limit";
		b->code = PDF_ERR_REJECT;
		return -1;
	}
	*pdf_r = sg_memdup(qpdf_get_buffer(b->t), len);
	*len_r = len;
	return 0;
}

static int assemble(struct build *b, const struct pdf_doc *doc, const struct pdf_key *key,
                    const struct sg_buf *body, const struct pdf_rect *link,
                    const struct pdf_options *opts, size_t max_out, unsigned char **pdf_r,
                    size_t *len_r)
{
	struct sg_buf tmpl;
	sg_buf_init(&tmpl, TEMPLATE_MAX);
	b->t = qpdf_init();
	b->c = qpdf_init();
	qpdf_silence_errors(b->t);
	qpdf_silence_errors(b->c);
	int rc = open_inputs(b, key, &tmpl, body);
	if (rc == 0) {
		qpdf_oh root = qpdf_get_root(b->t);
		embed_all(b, doc, root);
		add_link(b, link, opts->reply_url);
		if (doc->lang != NULL)
			qpdf_oh_replace_key(b->t, root, "/Lang", qpdf_oh_new_string(b->t, doc->lang));
		rc = failed(b, b->t, "edit") ? -1 : write_out(b, max_out, pdf_r, len_r);
	}
	qpdf_cleanup(&b->t); /* the template holds the file key: gone with it */
	qpdf_cleanup(&b->c);
	sg_buf_free_secret(&tmpl);
	return rc;
}

int pdf_build_message(const char *msg, size_t len, const struct pdf_key *key,
                      const struct pdf_options *opts, unsigned char **pdf_r, size_t *pdf_len_r,
                      const char **error_r)
{
	*pdf_r = NULL;
	*pdf_len_r = 0;
	if (check_url(opts->reply_url, error_r) < 0)
		return PDF_ERR_REJECT;
	size_t max_att = opts->max_attachments > 0 && opts->max_attachments < SG_PDF_ATTACHMENTS_MAX ?
	                     opts->max_attachments : SG_PDF_ATTACHMENTS_MAX;
	size_t max_out = opts->max_output > 0 && opts->max_output < (size_t)SG_PDF_OUTPUT_MAX ?
	                     opts->max_output : (size_t)SG_PDF_OUTPUT_MAX;
	struct pdf_doc doc;
	if (pdf_msg_parse(msg, len, max_att, &doc, error_r) < 0)
		return PDF_ERR_REJECT;
	struct sg_buf body;
	sg_buf_init(&body, max_out);
	struct pdf_rect link;
	int rc = pdf_render_doc(&doc, opts->reply_url, &body, &link, error_r);
	if (rc == 0) {
		struct build b = {.code = PDF_ERR_DEFER};
		rc = assemble(&b, &doc, key, &body, &link, opts, max_out, pdf_r, pdf_len_r) < 0 ?
		         b.code : 0;
		if (rc != 0)
			*error_r = b.error;
	}
	sg_buf_free(&body);
	pdf_msg_free(&doc);
	return rc;
}

/* mime_remote.c: every markup part of a MIME entity (HTML, XHTML, SVG, CSS, at any depth,
 * in attached messages too) passed through the remote-reference scanner of
 * mime_remote_html.c. Parts are read in their declared charset and written back as UTF-8, so
 * that a UTF-16 or UTF-7 part cannot hide its markup from an ASCII scanner. */
#include "mime/mime.h"
#include "mime/mime_priv.h"

#include "core/limits.h"
#include "core/sg_buf.h"
#include "core/sg_mem.h"

#include <gmime/gmime.h>
#include <string.h>

#define WALK_DEPTH_MAX 32

struct neutralise {
	size_t count;
	const char *error;
};

static bool is_markup(GMimeContentType *ct, bool *css_r)
{
	*css_r = g_mime_content_type_is_type(ct, "text", "css");
	return *css_r || g_mime_content_type_is_type(ct, "text", "html") ||
	       g_mime_content_type_is_type(ct, "application", "xhtml+xml") ||
	       g_mime_content_type_is_type(ct, "image", "svg+xml") ||
	       g_mime_content_type_is_type(ct, "text", "xml");
}

/* The part's content as UTF-8 (g_free), or NULL if its charset cannot be read. */
static char *part_text(GMimePart *part, size_t *len_r)
{
	char *text = NULL;
	if (GMIME_IS_TEXT_PART(part)) {
		text = g_mime_text_part_get_text(GMIME_TEXT_PART(part));
	} else if (g_mime_part_get_content(part) != NULL) {
		GMimeStream *mem = g_mime_stream_mem_new();
		g_mime_data_wrapper_write_to_stream(g_mime_part_get_content(part), mem);
		GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
		text = g_strndup((const char *)ba->data, ba->len);
		g_object_unref(mem);
	}
	if (text != NULL && !g_utf8_validate(text, -1, NULL)) {
		g_free(text);
		text = NULL;
	}
	*len_r = text != NULL ? strlen(text) : 0;
	return text;
}

static void set_part_text(GMimePart *part, const char *text, size_t len)
{
	GMimeStream *s = g_mime_stream_mem_new_with_buffer(text, len);
	GMimeDataWrapper *dw = g_mime_data_wrapper_new_with_stream(s, GMIME_CONTENT_ENCODING_DEFAULT);
	g_mime_part_set_content(part, dw);
	g_mime_object_set_content_type_parameter(GMIME_OBJECT(part), "charset", "utf-8");
	g_mime_part_set_content_encoding(part, mime_has_8bit(text, len)
	                                           ? GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE
	                                           : GMIME_CONTENT_ENCODING_7BIT);
	g_object_unref(dw);
	g_object_unref(s);
}

static void leaf(struct neutralise *n, GMimePart *part)
{
	bool css;
	if (!is_markup(g_mime_object_get_content_type(GMIME_OBJECT(part)), &css))
		return;
	size_t len = 0, count = 0;
	char *text = part_text(part, &len);
	struct sg_buf out;
	sg_buf_init(&out, SG_MESSAGE_SIZE_HARD_MAX);
	static const char unreadable[] = "(sealgate removed this part: its character set cannot be "
	                                 "read, so its remote references could not be made safe)";
	if (text == NULL) {
		set_part_text(part, unreadable, sizeof(unreadable) - 1);
		n->count++;
	} else if (mime_remote_html(text, len, css, &out, &count, &n->error) == 0 && count > 0) {
		set_part_text(part, out.data, out.len);
		n->count += count;
	}
	sg_buf_free_secret(&out);
	if (text != NULL)
		sg_wipe(text, len);
	g_free(text);
}

static void walk(struct neutralise *n, GMimeObject *o, int depth)
{
	if (depth > WALK_DEPTH_MAX) {
		n->error = "the message nests its parts too deeply";
		return;
	}
	if (GMIME_IS_MULTIPART(o)) {
		GMimeMultipart *mp = GMIME_MULTIPART(o);
		for (int i = 0; i < g_mime_multipart_get_count(mp) && n->error == NULL; i++)
			walk(n, g_mime_multipart_get_part(mp, i), depth + 1);
	} else if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
		GMimeObject *body = m != NULL ? g_mime_message_get_mime_part(m) : NULL;
		if (body != NULL)
			walk(n, body, depth + 1);
	} else if (GMIME_IS_PART(o)) {
		leaf(n, GMIME_PART(o));
	}
}

int mime_remote_neutralise(const char *entity, size_t len, struct sg_buf *out, size_t *count_r,
                           const char **error_r)
{
	*count_r = 0;
	GMimeObject *o = mime_entity_parse(entity, len);
	if (o == NULL) {
		*error_r = "the decrypted content is not a MIME entity";
		return -1;
	}
	struct neutralise n = {0};
	walk(&n, o, 0);
	int rc = n.error == NULL ? 0 : -1;
	if (rc == 0 && n.count > 0) {
		GMimeFormatOptions *fo = g_mime_format_options_new();
		g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
		GMimeStream *mem = g_mime_stream_mem_new();
		g_mime_object_write_to_stream(o, fo, mem);
		g_mime_format_options_free(fo);
		GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
		if (sg_buf_append(out, ba->data, ba->len) < 0) {
			rc = -1;
			n.error = "the message is too large to make its HTML safe";
		}
		sg_wipe(ba->data, ba->len);
		g_object_unref(mem);
	}
	g_object_unref(o);
	*count_r = n.count;
	if (rc < 0)
		*error_r = n.error;
	return rc;
}

/* mime_build.c: new messages that sealgate writes (notices to people, mail written on the
 * portal). GMime does the encoding: RFC 2047 words for non-ASCII header text, quoted-printable
 * for the text and base64 for attachments, so the result is 7-bit and safe for any next hop. */
#include "mime/mime.h"

#include "core/sg_buf.h"
#include "core/sg_str.h"
#include "core/limits.h"

#include <gmime/gmime.h>
#include <string.h>

static int add_address(GMimeMessage *msg, GMimeAddressType type, const char *name,
                       const char *addr)
{
	if (addr == NULL || addr[0] == '\0' || strchr(addr, '@') == NULL)
		return -1;
	InternetAddressList *list = g_mime_message_get_addresses(msg, type);
	InternetAddress *mb = internet_address_mailbox_new(name, addr);
	internet_address_list_add(list, mb); /* takes its own reference */
	g_object_unref(mb);
	return 0;
}

/* The text as UTF-8 bytes: g_mime_text_part_set_text would convert it to the "best" charset
 * (ISO-8859-1 for German), which a charset=utf-8 label then misnames. */
static GMimeObject *text_part(const char *text)
{
	GMimeTextPart *tp = g_mime_text_part_new_with_subtype("plain");
	GMimeStream *mem = g_mime_stream_mem_new_with_buffer(text, strlen(text));
	GMimeDataWrapper *dw = g_mime_data_wrapper_new_with_stream(mem, GMIME_CONTENT_ENCODING_DEFAULT);
	g_mime_part_set_content(GMIME_PART(tp), dw);
	g_object_unref(dw);
	g_object_unref(mem);
	g_mime_text_part_set_charset(tp, "utf-8");
	g_mime_part_set_content_encoding(GMIME_PART(tp), GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
	return GMIME_OBJECT(tp);
}

static GMimeObject *attachment_part(const struct mime_attachment *a)
{
	const char *ct = a->content_type != NULL && strchr(a->content_type, '/') != NULL
	                     ? a->content_type
	                     : "application/octet-stream";
	GMimeContentType *type = g_mime_content_type_parse(NULL, ct);
	GMimePart *part = g_mime_part_new_with_type(g_mime_content_type_get_media_type(type),
	                                            g_mime_content_type_get_media_subtype(type));
	g_object_unref(type);
	GMimeStream *mem = g_mime_stream_mem_new_with_buffer(a->data, a->len);
	GMimeDataWrapper *dw = g_mime_data_wrapper_new_with_stream(mem, GMIME_CONTENT_ENCODING_DEFAULT);
	g_mime_part_set_content(part, dw);
	g_object_unref(dw);
	g_object_unref(mem);
	g_mime_part_set_filename(part, a->filename != NULL && a->filename[0] != '\0' ? a->filename
	                                                                            : "attachment");
	g_mime_object_set_disposition(GMIME_OBJECT(part), "attachment");
	g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_BASE64);
	return GMIME_OBJECT(part);
}

static GMimeObject *body(const struct mime_build *b)
{
	GMimeObject *text = text_part(b->text != NULL ? b->text : "");
	if (b->natt == 0)
		return text;
	GMimeMultipart *mixed = g_mime_multipart_new_with_subtype("mixed");
	g_mime_multipart_add(mixed, text);
	g_object_unref(text);
	for (size_t i = 0; i < b->natt; i++) {
		GMimeObject *a = attachment_part(&b->att[i]);
		g_mime_multipart_add(mixed, a);
		g_object_unref(a);
	}
	return GMIME_OBJECT(mixed);
}

static void set_headers(GMimeMessage *msg, const struct mime_build *b)
{
	g_mime_message_set_subject(msg, b->subject != NULL ? b->subject : "", "utf-8");
	GDateTime *now = g_date_time_new_now_utc();
	g_mime_message_set_date(msg, now);
	g_date_time_unref(now);
	char *id = g_mime_utils_generate_message_id(b->msgid_domain != NULL ? b->msgid_domain
	                                                                    : "localhost");
	g_mime_message_set_message_id(msg, id);
	g_free(id);
	GMimeObject *o = GMIME_OBJECT(msg);
	if (b->in_reply_to != NULL && b->in_reply_to[0] != '\0') {
		char ref[1000];
		if (sg_snprintf(ref, sizeof(ref), "<%s>", b->in_reply_to) >= 0) {
			g_mime_object_set_header(o, "In-Reply-To", ref, NULL);
			g_mime_object_set_header(o, "References", ref, NULL);
		}
	}
	if (b->auto_submitted)
		g_mime_object_set_header(o, "Auto-Submitted", "auto-generated", NULL);
	for (size_t i = 0; i < b->nextra; i++)
		g_mime_object_set_header(o, b->extra[i].name, b->extra[i].value, NULL);
}

int mime_build_message(const struct mime_build *b, struct sg_buf *out, const char **error_r)
{
	mime_init();
	GMimeMessage *msg = g_mime_message_new(TRUE);
	if (add_address(msg, GMIME_ADDRESS_TYPE_FROM, b->from_name, b->from) < 0 ||
	    add_address(msg, GMIME_ADDRESS_TYPE_TO, b->to_name, b->to) < 0) {
		g_object_unref(msg);
		*error_r = "a message needs a From and a To address";
		return -1;
	}
	set_headers(msg, b);
	GMimeObject *part = body(b);
	g_mime_message_set_mime_part(msg, part);
	g_object_unref(part);
	GMimeFormatOptions *fo = g_mime_format_options_new();
	g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
	GMimeStream *mem = g_mime_stream_mem_new();
	g_mime_object_write_to_stream(GMIME_OBJECT(msg), fo, mem);
	GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	int rc = sg_buf_append(out, ba->data, ba->len);
	g_object_unref(mem);
	g_mime_format_options_free(fo);
	g_object_unref(msg);
	if (rc < 0)
		*error_r = "the message is too large";
	return rc;
}

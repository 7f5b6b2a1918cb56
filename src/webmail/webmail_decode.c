/* webmail_decode.c: an attachment's bytes as sent. Base64 as mail clients write it (lines of
 * the alphabet, CRLF between them, '=' padding only at the end) is decoded by sg_base64, four
 * characters at a time, straight from the bytes GMime parsed: GMime's decoder, a filter
 * stream that takes one character at a time, was a third of the webmail transform's time.
 * Anything else (other encodings, stray characters, odd padding) goes through GMime, which
 * is lenient in its own way; both give the same bytes for clean input. The bytes land framed
 * for sealing in place (keystore_msgkey_seal_in_place): decoded once, never copied again. */
#include "webmail/webmail_priv.h"

#include "core/limits.h"
#include "core/sg_base64.h"
#include "crypto/keystore.h"

#include <gmime/gmime.h>
#include <stdint.h>
#include <string.h>

static const unsigned char *encoded_bytes(GMimeDataWrapper *content, size_t *len_r)
{
	GMimeStream *raw = g_mime_data_wrapper_get_stream(content);
	if (raw == NULL || !GMIME_IS_STREAM_MEM(raw))
		return NULL;
	GByteArray *all = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(raw));
	if (all == NULL)
		return NULL;
	gint64 start = raw->bound_start, end = raw->bound_end < 0 ? (gint64)all->len : raw->bound_end;
	if (start < 0 || end < start || end > (gint64)all->len)
		return NULL;
	*len_r = (size_t)(end - start);
	return all->data + start;
}

GByteArray *webmail_frame_bytes(GByteArray *raw)
{
	static const guint8 zeros[KEYSTORE_MSGKEY_HEAD + KEYSTORE_MSGKEY_TAIL];
	g_byte_array_prepend(raw, zeros, KEYSTORE_MSGKEY_HEAD);
	return g_byte_array_append(raw, zeros, KEYSTORE_MSGKEY_TAIL);
}

GByteArray *webmail_content_bytes(GMimeDataWrapper *content)
{
	size_t len = 0;
	bool b64 = g_mime_data_wrapper_get_encoding(content) == GMIME_CONTENT_ENCODING_BASE64;
	const unsigned char *enc = encoded_bytes(content, &len);
	if (enc == NULL || len > (size_t)SG_MESSAGE_SIZE_HARD_MAX)
		len = 0;
	int64_t n = -1;
	if (b64 && enc != NULL) {
		/* decoded straight into its frame: the room before and after, then the bytes */
		GByteArray *out = g_byte_array_sized_new(
		    (guint)(KEYSTORE_MSGKEY_HEAD + len / 4 * 3 + 3 + KEYSTORE_MSGKEY_TAIL));
		n = sg_base64_decode_clean(enc, len, out->data + KEYSTORE_MSGKEY_HEAD);
		if (n >= 0) {
			g_byte_array_set_size(
			    out, (guint)(KEYSTORE_MSGKEY_HEAD + n + KEYSTORE_MSGKEY_TAIL));
			memset(out->data + KEYSTORE_MSGKEY_HEAD + n, 0, KEYSTORE_MSGKEY_TAIL);
			return out;
		}
		g_byte_array_free(out, TRUE);
	}
	GByteArray *raw =
	    g_byte_array_sized_new((guint)len + KEYSTORE_MSGKEY_HEAD + KEYSTORE_MSGKEY_TAIL);
	GMimeStream *mem = g_mime_stream_mem_new_with_byte_array(raw);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
	(void)g_mime_data_wrapper_write_to_stream(content, mem);
	g_object_unref(mem);
	return webmail_frame_bytes(raw);
}

unsigned char *webmail_framed_data(GByteArray *framed, size_t *len_r)
{
	*len_r = framed->len - KEYSTORE_MSGKEY_HEAD - KEYSTORE_MSGKEY_TAIL;
	return framed->data + KEYSTORE_MSGKEY_HEAD;
}

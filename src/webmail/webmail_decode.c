/* webmail_decode.c: an attachment's bytes as sent. Base64 as mail clients write it (lines of
 * the alphabet, CRLF between them, '=' padding only at the end) is decoded here, four
 * characters at a time, straight from the bytes GMime parsed: GMime's decoder, a filter
 * stream that takes one character at a time, was a third of the webmail transform's time.
 * Anything else (other encodings, stray characters, odd padding) goes through GMime, which
 * is lenient in its own way; both give the same bytes for clean input. */
#include "webmail/webmail_priv.h"

#include "core/limits.h"

#include <gmime/gmime.h>
#include <stdint.h>
#include <string.h>

static const char ALPHABET[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* After the first '=' at in[i - 1]: only '=', CR and LF may follow; the padding must fit the
 * n characters of the last quantum. Bytes the quantum gives (0 to 2), or -1. */
static int padding(const unsigned char *in, size_t len, size_t i, int n)
{
	int pads = 1;
	for (; i < len; i++) {
		if (in[i] == '=')
			pads++;
		else if (in[i] != '\r' && in[i] != '\n')
			return -1;
	}
	return (n == 2 && pads == 2) || (n == 3 && pads == 1) ? n - 1 : -1;
}

/* Clean base64 in[0..len) into out (room for len / 4 * 3 + 3): the bytes, or -1 if unclean. */
static int64_t decode_clean(const unsigned char *in, size_t len, unsigned char *out)
{
	unsigned char val[256];
	memset(val, 0xff, sizeof(val));
	for (unsigned k = 0; k < 64; k++)
		val[(unsigned char)ALPHABET[k]] = (unsigned char)k;
	size_t i = 0, o = 0;
	uint32_t acc = 0;
	int n = 0;
	while (i < len) {
		if (n == 0 && len - i >= 4 &&
		    (val[in[i]] | val[in[i + 1]] | val[in[i + 2]] | val[in[i + 3]]) < 64) {
			uint32_t v = (uint32_t)val[in[i]] << 18 | (uint32_t)val[in[i + 1]] << 12 |
			             (uint32_t)val[in[i + 2]] << 6 | val[in[i + 3]];
			out[o] = (unsigned char)(v >> 16);
			out[o + 1] = (unsigned char)(v >> 8);
			out[o + 2] = (unsigned char)v;
			o += 3;
			i += 4;
			continue;
		}
		unsigned char c = in[i++];
		if (val[c] < 64) {
			acc = acc << 6 | val[c];
			if (++n == 4) {
				out[o] = (unsigned char)(acc >> 16);
				out[o + 1] = (unsigned char)(acc >> 8);
				out[o + 2] = (unsigned char)acc;
				o += 3;
				n = 0;
				acc = 0;
			}
		} else if (c == '=') {
			int last = padding(in, len, i, n);
			if (last < 0)
				return -1;
			acc <<= 6 * (4 - n);
			for (int k = 0; k < last; k++)
				out[o++] = (unsigned char)(acc >> (16 - 8 * k));
			return (int64_t)o;
		} else if (c != '\r' && c != '\n') {
			return -1;
		}
	}
	return n == 0 ? (int64_t)o : -1;
}

/* The encoded bytes of content as GMime keeps them (a memory stream, or a window of one). */
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

GByteArray *webmail_content_bytes(GMimeDataWrapper *content)
{
	size_t len = 0;
	bool b64 = g_mime_data_wrapper_get_encoding(content) == GMIME_CONTENT_ENCODING_BASE64;
	const unsigned char *enc = encoded_bytes(content, &len);
	if (enc == NULL || len > (size_t)SG_MESSAGE_SIZE_HARD_MAX)
		len = 0;
	GByteArray *out = g_byte_array_sized_new((guint)(b64 ? len / 4 * 3 + 3 : len) + 1);
	int64_t n = b64 && enc != NULL ? decode_clean(enc, len, out->data) : -1;
	if (n >= 0) {
		g_byte_array_set_size(out, (guint)n);
		return out;
	}
	GMimeStream *mem = g_mime_stream_mem_new_with_byte_array(out);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
	(void)g_mime_data_wrapper_write_to_stream(content, mem);
	g_object_unref(mem);
	return out;
}

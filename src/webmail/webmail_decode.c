/* webmail_decode.c: an attachment's bytes as sent. Base64 as mail clients write it (lines of
 * the alphabet, CRLF between them, '=' padding only at the end) is decoded here, four
 * characters at a time, straight from the bytes GMime parsed: GMime's decoder, a filter
 * stream that takes one character at a time, was a third of the webmail transform's time.
 * Anything else (other encodings, stray characters, odd padding) goes through GMime, which
 * is lenient in its own way; both give the same bytes for clean input. The bytes land framed
 * for sealing in place (keystore_msgkey_seal_in_place): decoded once, never copied again. */
#include "webmail/webmail_priv.h"

#include "core/limits.h"
#include "crypto/keystore.h"

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

/* The four tables of the decoder: each character's six bits already in their place in the
 * three bytes of its quantum (d[k] for the k-th character), BAD for anything else, so that
 * one OR of four lookups both decodes a quantum and says whether all four were clean. */
#define BAD 0x01000000u
struct b64_tables {
	uint32_t d[4][256];
};

static void tables_init(struct b64_tables *t)
{
	for (unsigned k = 0; k < 4; k++)
		for (unsigned c = 0; c < 256; c++)
			t->d[k][c] = BAD;
	for (unsigned v = 0; v < 64; v++)
		for (unsigned k = 0; k < 4; k++)
			t->d[k][(unsigned char)ALPHABET[v]] = (uint32_t)v << (18 - 6 * k);
}

static void put3(unsigned char *out, uint32_t v)
{
	out[0] = (unsigned char)(v >> 16);
	out[1] = (unsigned char)(v >> 8);
	out[2] = (unsigned char)v;
}

/* Clean base64 in[0..len) into out (room for len / 4 * 3 + 3): the bytes, or -1 if unclean.
 * Whole quanta go through the tables; CR, LF and the last, padded quantum one by one. */
static int64_t decode_clean(const unsigned char *in, size_t len, unsigned char *out)
{
	struct b64_tables t;
	tables_init(&t);
	size_t i = 0, o = 0;
	uint32_t acc = 0;
	int n = 0;
	while (i < len) {
		while (n == 0 && len - i >= 4) {
			uint32_t v = t.d[0][in[i]] | t.d[1][in[i + 1]] | t.d[2][in[i + 2]] |
			             t.d[3][in[i + 3]];
			if (v & BAD)
				break;
			put3(out + o, v);
			o += 3;
			i += 4;
		}
		if (i >= len)
			break;
		unsigned char c = in[i++];
		uint32_t v = t.d[3][c];
		if (!(v & BAD)) {
			acc = acc << 6 | v;
			if (++n == 4) {
				put3(out + o, acc);
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
		n = decode_clean(enc, len, out->data + KEYSTORE_MSGKEY_HEAD);
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

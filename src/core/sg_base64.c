/* sg_base64.c: base64 lines (sg_base64.h): encoded for MIME bodies, clean ones decoded. */
#include "core/sg_base64.h"

#include "core/sg_mem.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#define LINE_BYTES 48 /* 64 characters */

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static char pairs[4096][2]; /* the two characters of every 12-bit value */
static pthread_once_t pairs_once = PTHREAD_ONCE_INIT;

static void pairs_fill(void)
{
	for (size_t i = 0; i < 4096; i++) {
		pairs[i][0] = alphabet[i >> 6];
		pairs[i][1] = alphabet[i & 63];
	}
}

size_t sg_base64_lines_size(size_t len)
{
	size_t lines = len / LINE_BYTES + (len % LINE_BYTES != 0);
	return sg_size_add(sg_size_mul(len / 3 + (len % 3 != 0), 4), sg_size_mul(lines, 2));
}

/* Three bytes as four characters. */
static void quad(char *dst, const unsigned char *p)
{
	uint32_t v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
	memcpy(dst, pairs[v >> 12], 2);
	memcpy(dst + 2, pairs[v & 0xfff], 2);
}

/* The last one or two bytes, padded. */
static void tail(char *dst, const unsigned char *p, size_t n)
{
	uint32_t v = (uint32_t)p[0] << 16 | (n > 1 ? (uint32_t)p[1] << 8 : 0);
	dst[0] = alphabet[v >> 18];
	dst[1] = alphabet[(v >> 12) & 63];
	dst[2] = n > 1 ? alphabet[(v >> 6) & 63] : '=';
	dst[3] = '=';
}

size_t sg_base64_lines(char *dst, const unsigned char *src, size_t len)
{
	pthread_once(&pairs_once, pairs_fill);
	size_t o = 0;
	for (size_t i = 0; i < len; i += LINE_BYTES) {
		size_t n = len - i < LINE_BYTES ? len - i : LINE_BYTES, j = 0;
		for (; j + 3 <= n; j += 3, o += 4)
			quad(dst + o, src + i + j);
		if (j < n) {
			tail(dst + o, src + i + j, n - j);
			o += 4;
		}
		dst[o++] = '\r';
		dst[o++] = '\n';
	}
	return o;
}

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
static struct b64_tables tables; /* built once: 4 KB of lookups per character position */
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void tables_init(void)
{
	struct b64_tables *t = &tables;
	for (unsigned k = 0; k < 4; k++)
		for (unsigned c = 0; c < 256; c++)
			t->d[k][c] = BAD;
	for (unsigned v = 0; v < 64; v++)
		for (unsigned k = 0; k < 4; k++)
			t->d[k][(unsigned char)alphabet[v]] = (uint32_t)v << (18 - 6 * k);
}

static void put3(unsigned char *out, uint32_t v)
{
	out[0] = (unsigned char)(v >> 16);
	out[1] = (unsigned char)(v >> 8);
	out[2] = (unsigned char)v;
}

/* Clean base64 in[0..len) into out (room for len / 4 * 3 + 3): the bytes, or -1 if unclean.
 * Whole quanta go through the tables; CR, LF and the last, padded quantum one by one. */
int64_t sg_base64_decode_clean(const unsigned char *in, size_t len, unsigned char *out)
{
	pthread_once(&tables_once, tables_init);
	const struct b64_tables *t = &tables;
	size_t i = 0, o = 0;
	uint32_t acc = 0;
	int n = 0;
	while (i < len) {
		while (n == 0 && len - i >= 4) {
			uint32_t v = t->d[0][in[i]] | t->d[1][in[i + 1]] | t->d[2][in[i + 2]] |
			             t->d[3][in[i + 3]];
			if (v & BAD)
				break;
			put3(out + o, v);
			o += 3;
			i += 4;
		}
		if (i >= len)
			break;
		unsigned char c = in[i++];
		uint32_t v = t->d[3][c];
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

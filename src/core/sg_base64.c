/* sg_base64.c: base64 lines (sg_base64.h). */
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

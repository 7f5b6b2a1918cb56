/* sg_buf.c: bounded growable buffer; see sg_buf.h. */
#include "core/sg_buf.h"
#include "core/sg_mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void sg_buf_init(struct sg_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

static void grow(struct sg_buf *b, size_t need)
{
	if (need + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need + 1)
		cap = sg_size_mul(cap, 2);
	b->data = sg_realloc(b->data, cap);
	b->cap = cap;
}

int sg_buf_append(struct sg_buf *b, const void *p, size_t n)
{
	size_t need;
	if (__builtin_add_overflow(b->len, n, &need) || need > b->max)
		return -1;
	grow(b, need);
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len = need;
	b->data[b->len] = '\0';
	return 0;
}

int sg_buf_append_str(struct sg_buf *b, const char *s) { return sg_buf_append(b, s, strlen(s)); }

int sg_buf_printf(struct sg_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	size_t need;
	if (__builtin_add_overflow(b->len, (size_t)n, &need) || need > b->max)
		return -1;
	grow(b, need);
	va_start(ap, fmt);
	int m = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (m != n)
		return -1;
	b->len = need;
	return 0;
}

void sg_buf_reset(struct sg_buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

void sg_buf_consume(struct sg_buf *b, size_t n)
{
	if (n >= b->len) {
		sg_buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

char *sg_buf_steal(struct sg_buf *b, size_t *len_r)
{
	if (b->data == NULL)
		grow(b, 0), b->data[0] = '\0';
	char *d = b->data;
	if (len_r != NULL)
		*len_r = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return d;
}

void sg_buf_free(struct sg_buf *b)
{
	sg_free(&b->data);
	b->len = b->cap = 0;
}

void sg_buf_free_secret(struct sg_buf *b)
{
	sg_free_secret(&b->data, b->cap);
	b->len = b->cap = 0;
}

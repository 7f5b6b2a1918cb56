/* sg_buf.h: a growable byte buffer with a ceiling. Appending past the ceiling fails
 * and leaves the buffer unchanged, so hostile input cannot grow memory without bound. */
#ifndef SG_BUF_H
#define SG_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct sg_buf {
	char *data;     /* always NUL-terminated after len bytes (when data != NULL) */
	size_t len;
	size_t cap;
	size_t max;     /* ceiling for len */
};

void sg_buf_init(struct sg_buf *b, size_t max);
/* Returns 0, or -1 if the result would exceed b->max. */
int sg_buf_append(struct sg_buf *b, const void *p, size_t n);
int sg_buf_append_str(struct sg_buf *b, const char *s);
int sg_buf_printf(struct sg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sg_buf_reset(struct sg_buf *b);
/* Drops the first n bytes. */
void sg_buf_consume(struct sg_buf *b, size_t n);
/* Hands the data to the caller (who frees it) and resets the buffer. */
char *sg_buf_steal(struct sg_buf *b, size_t *len_r);
void sg_buf_free(struct sg_buf *b);
/* Wipes the contents before freeing: for secrets. */
void sg_buf_free_secret(struct sg_buf *b);

#endif

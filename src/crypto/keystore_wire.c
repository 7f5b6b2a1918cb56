/* keystore_wire.c: see keystore_wire.h. */
#include "crypto/keystore_wire.h"

static int put_be(struct sg_buf *b, uint64_t v, size_t n)
{
	unsigned char out[8];
	for (size_t i = 0; i < n; i++)
		out[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
	return sg_buf_append(b, out, n);
}

int kw_put_u32(struct sg_buf *b, uint32_t v)
{
	return put_be(b, v, 4);
}

int kw_put_u64(struct sg_buf *b, uint64_t v)
{
	return put_be(b, v, 8);
}

int kw_put_bytes(struct sg_buf *b, const void *p, size_t n)
{
	if (n > UINT32_MAX || kw_put_u32(b, (uint32_t)n) < 0)
		return -1;
	return n == 0 ? 0 : sg_buf_append(b, p, n);
}

void kw_reader_init(struct kw_reader *r, const void *p, size_t len)
{
	*r = (struct kw_reader){.p = p, .left = len, .bad = p == NULL && len > 0};
}

static const unsigned char *take(struct kw_reader *r, size_t n)
{
	if (r->bad || n > r->left) {
		r->bad = true;
		return NULL;
	}
	const unsigned char *at = r->p;
	r->p += n;
	r->left -= n;
	return at;
}

static uint64_t get_be(struct kw_reader *r, size_t n)
{
	const unsigned char *at = take(r, n);
	uint64_t v = 0;
	for (size_t i = 0; at != NULL && i < n; i++)
		v = v << 8 | at[i];
	return v;
}

uint32_t kw_get_u32(struct kw_reader *r)
{
	return (uint32_t)get_be(r, 4);
}

uint64_t kw_get_u64(struct kw_reader *r)
{
	return get_be(r, 8);
}

const unsigned char *kw_get_bytes(struct kw_reader *r, size_t *len_r)
{
	size_t n = kw_get_u32(r);
	const unsigned char *at = take(r, n);
	*len_r = at != NULL ? n : 0;
	return at;
}

bool kw_done(const struct kw_reader *r)
{
	return !r->bad && r->left == 0;
}

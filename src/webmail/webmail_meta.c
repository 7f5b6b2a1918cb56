/* webmail_meta.c: the metadata record sealed with each message: "SGW1", then the header
 * fields and the part list as length-prefixed strings and big-endian numbers. It is read only
 * after it opened (so it is ours), and still read with every length checked. */
#include "webmail/webmail_priv.h"

#include "core/sg_mem.h"

#include <string.h>

#define META_MAGIC "SGW1"

static int put_u32(struct sg_buf *out, uint32_t v)
{
	unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
	                      (unsigned char)(v >> 8), (unsigned char)v};
	return sg_buf_append(out, b, 4);
}

static int put_str(struct sg_buf *out, const char *s)
{
	size_t n = strlen(s);
	return put_u32(out, (uint32_t)n) < 0 ? -1 : sg_buf_append(out, s, n);
}

int webmail_meta_encode(const struct webmail_message *h, const struct webmail_parsed_part *parts,
                        size_t nparts, struct sg_buf *out)
{
	const char *fields[] = {h->subject, h->from, h->to, h->cc, h->date, h->message_id};
	int rc = sg_buf_append(out, META_MAGIC, 4);
	for (size_t i = 0; rc == 0 && i < sizeof(fields) / sizeof(fields[0]); i++)
		rc = put_str(out, fields[i]);
	if (rc == 0)
		rc = put_u32(out, (uint32_t)nparts);
	for (size_t i = 0; rc == 0 && i < nparts; i++) {
		const struct webmail_part_info *p = &parts[i].info;
		uint64_t size = (uint64_t)p->size;
		if (put_u32(out, (uint32_t)p->kind) < 0 || put_u32(out, (uint32_t)(size >> 32)) < 0 ||
		    put_u32(out, (uint32_t)size) < 0 || put_str(out, p->filename) < 0 ||
		    put_str(out, p->content_type) < 0 || put_str(out, p->content_id) < 0)
			rc = -1;
	}
	return rc;
}

struct reader {
	const unsigned char *p;
	size_t left;
	bool bad;
};

static uint32_t get_u32(struct reader *r)
{
	if (r->bad || r->left < 4) {
		r->bad = true;
		return 0;
	}
	uint32_t v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 |
	             r->p[3];
	r->p += 4;
	r->left -= 4;
	return v;
}

static void get_str(struct reader *r, char *dst, size_t size)
{
	uint32_t n = get_u32(r);
	if (r->bad || n > r->left || n >= size) {
		r->bad = true;
		dst[0] = '\0';
		return;
	}
	memcpy(dst, r->p, n);
	dst[n] = '\0';
	r->p += n;
	r->left -= n;
}

static void get_part(struct reader *r, struct webmail_part_info *p)
{
	uint32_t kind = get_u32(r);
	p->kind = kind <= WEBMAIL_PART_INLINE ? (enum webmail_part_kind)kind : WEBMAIL_PART_ATTACHMENT;
	uint64_t hi = get_u32(r), lo = get_u32(r);
	p->size = (int64_t)(hi << 32 | lo);
	get_str(r, p->filename, sizeof(p->filename));
	get_str(r, p->content_type, sizeof(p->content_type));
	get_str(r, p->content_id, sizeof(p->content_id));
}

int webmail_meta_decode(const unsigned char *data, size_t len, bool with_parts,
                        struct webmail_message *m)
{
	if (len < 4 || memcmp(data, META_MAGIC, 4) != 0)
		return -1;
	struct reader r = {data + 4, len - 4, false};
	char *fields[] = {m->subject, m->from, m->to, m->cc, m->date, m->message_id};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		get_str(&r, fields[i], WEBMAIL_FIELD_MAX);
	uint32_t n = get_u32(&r);
	if (r.bad || n > WEBMAIL_PARTS_MAX)
		return -1;
	if (!with_parts)
		return 0;
	m->parts = sg_calloc(n > 0 ? n : 1, sizeof(*m->parts));
	m->nparts = n;
	for (uint32_t i = 0; i < n && !r.bad; i++)
		get_part(&r, &m->parts[i]);
	return r.bad ? -1 : 0;
}

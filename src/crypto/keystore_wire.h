/* keystore_wire.h: the bodies of the key operations that cross keyd's socket (keystore_proxy.c
 * writes them, keystore_serve.c reads them, and the other way round for replies). Integers are
 * big-endian; a byte string is a u32 length and its bytes. A reader that runs short or meets a
 * length past what is left turns bad and stays bad, so a parser checks once at the end. */
#ifndef SG_KEYSTORE_WIRE_H
#define SG_KEYSTORE_WIRE_H

#include "core/sg_buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kw_reader {
	const unsigned char *p;
	size_t left;
	bool bad;
};

/* Each returns 0, or -1 when the buffer's ceiling would be passed. */
int kw_put_u32(struct sg_buf *b, uint32_t v);
int kw_put_u64(struct sg_buf *b, uint64_t v);
int kw_put_bytes(struct sg_buf *b, const void *p, size_t n);

void kw_reader_init(struct kw_reader *r, const void *p, size_t len);
uint32_t kw_get_u32(struct kw_reader *r);
uint64_t kw_get_u64(struct kw_reader *r);
/* A pointer into the reader's input (not NUL-terminated), or NULL once bad. */
const unsigned char *kw_get_bytes(struct kw_reader *r, size_t *len_r);
/* True when everything was read and nothing was missing or left over. */
bool kw_done(const struct kw_reader *r);

#endif

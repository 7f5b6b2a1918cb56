/* smime_priv.c: BIO plumbing shared by the smime_* files: memory in, CRLF memory out, and one
 * reader for every form S/MIME arrives in (a message, an entity, raw DER from gpgsm). */
#include "crypto/smime_priv.h"
#include "core/sg_mem.h"

#include <openssl/cms.h>
#include <string.h>

/* The number of bare LFs (not after CR): memchr finds the few line ends of a line-structured
 * text much faster than a byte loop. */
static size_t bare_lf_count(const char *p, size_t n)
{
	size_t count = 0;
	const char *q = p, *end = p + n;
	while (q < end && (q = memchr(q, '\n', (size_t)(end - q))) != NULL) {
		count += q == p || q[-1] != '\r';
		q++;
	}
	return count;
}

bool smime_priv_has_bare_lf(const char *p, size_t n)
{
	const char *q = p, *end = p + n;
	while (q < end && (q = memchr(q, '\n', (size_t)(end - q))) != NULL) {
		if (q == p || q[-1] != '\r')
			return true;
		q++;
	}
	return false;
}

void smime_priv_crlf_copy(const char *p, size_t n, char **out_r, size_t *out_len_r)
{
	size_t outlen = sg_size_add(n, bare_lf_count(p, n));
	char *out = sg_malloc(sg_size_add(outlen, 1));
	size_t o = 0;
	const char *q = p, *end = p + n;
	while (q < end) {
		const char *nl = memchr(q, '\n', (size_t)(end - q));
		size_t seg = nl != NULL ? (size_t)(nl - q) : (size_t)(end - q);
		memcpy(out + o, q, seg);
		o += seg;
		if (nl == NULL)
			break;
		if (nl == p || nl[-1] != '\r')
			out[o++] = '\r';
		out[o++] = '\n';
		q = nl + 1;
	}
	out[o] = '\0';
	*out_r = out;
	*out_len_r = o;
}

int smime_priv_bio_take(BIO *b, bool crlf, char **out_r, size_t *out_len_r)
{
	char *p = NULL;
	long n = BIO_get_mem_data(b, &p);
	if (n < 0 || (n > 0 && p == NULL))
		return -1;
	size_t len = (size_t)n;
	if (crlf) {
		smime_priv_crlf_copy(p, len, out_r, out_len_r);
		return 0;
	}
	char *out = sg_malloc(sg_size_add(len, 1));
	if (len > 0)
		memcpy(out, p, len);
	out[len] = '\0';
	*out_r = out;
	*out_len_r = len;
	return 0;
}

BIO *smime_priv_mem_bio(const char *msg, size_t len)
{
	if (len > SG_MESSAGE_SIZE_HARD_MAX || len > (size_t)INT32_MAX)
		return NULL;
	return BIO_new_mem_buf(msg, (int)len);
}

struct CMS_ContentInfo_st *smime_priv_read(const char *msg, size_t len, BIO **content_r)
{
	*content_r = NULL;
	if (len == 0)
		return NULL;
	BIO *in = smime_priv_mem_bio(msg, len);
	if (in == NULL)
		return NULL;
	CMS_ContentInfo *cms = (unsigned char)msg[0] == 0x30 ? d2i_CMS_bio(in, NULL)
	                                                    : SMIME_read_CMS(in, content_r);
	BIO_free(in);
	return cms;
}

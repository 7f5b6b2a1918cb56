/* smime_priv.c: BIO plumbing shared by the smime_* files: memory in, CRLF memory out, and one
 * reader for every form S/MIME arrives in (a message, an entity, raw DER from gpgsm). */
#include "crypto/smime_priv.h"
#include "core/sg_mem.h"

#include <openssl/cms.h>
#include <string.h>

/* Worst case every byte is a bare LF and doubles. */
static size_t crlf_len(const char *p, size_t n)
{
	size_t extra = 0;
	for (size_t i = 0; i < n; i++)
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			extra++;
	return sg_size_add(n, extra);
}

int smime_priv_bio_take(BIO *b, bool crlf, char **out_r, size_t *out_len_r)
{
	char *p = NULL;
	long n = BIO_get_mem_data(b, &p);
	if (n < 0 || (n > 0 && p == NULL))
		return -1;
	size_t len = (size_t)n;
	size_t outlen = crlf ? crlf_len(p, len) : len;
	char *out = sg_malloc(sg_size_add(outlen, 1));
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (crlf && p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			out[o++] = '\r';
		out[o++] = p[i];
	}
	out[o] = '\0';
	*out_r = out;
	*out_len_r = o;
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

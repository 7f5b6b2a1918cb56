/* sgdkim_tags.c: tag lists ("a=b; c=d", RFC 6376 §3.2) of the signatures and key records
 * sealgate checks itself (ARC: libopendkim has none). Every input is a stranger's header
 * field or DNS record: lengths are bounded, nothing is trusted to be well formed. */
#include "crypto/sgdkim.h"
#include "crypto/sgdkim_priv.h"
#include "core/sg_buf.h"

#include <openssl/evp.h>
#include <string.h>

static bool is_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The tag starting at *pos: its name [*name, *name_len) and value [*val, *val_len) (not
 * trimmed); *pos moved past its ';'. False at the end of the list. */
static bool next_tag(const char *list, size_t n, size_t *pos, const char **name,
                     size_t *name_len, const char **val, size_t *val_len)
{
	size_t p = *pos;
	while (p < n && is_fws(list[p]))
		p++;
	if (p >= n)
		return false;
	size_t end = p;
	while (end < n && list[end] != ';')
		end++;
	const char *eq = memchr(list + p, '=', end - p);
	*name = list + p;
	*name_len = eq != NULL ? (size_t)(eq - (list + p)) : end - p;
	while (*name_len > 0 && is_fws((*name)[*name_len - 1]))
		(*name_len)--;
	*val = eq != NULL ? eq + 1 : list + end;
	*val_len = (size_t)(list + end - *val);
	*pos = end < n ? end + 1 : end;
	return true;
}

bool sgdkim_tag(const char *list, size_t n, const char *name, char *out, size_t size)
{
	size_t pos = 0, nl, vl, used = 0;
	const char *tn, *v;
	while (next_tag(list, n, &pos, &tn, &nl, &v, &vl)) {
		if (nl != strlen(name) || memcmp(tn, name, nl) != 0)
			continue;
		for (size_t i = 0; i < vl; i++) {
			if (is_fws(v[i]))
				continue;
			if (used + 1 >= size)
				return false;
			out[used++] = v[i];
		}
		out[used] = '\0';
		return true;
	}
	return false;
}

int sgdkim_strip_b(const char *f, size_t n, struct sg_buf *out)
{
	const char *colon = memchr(f, ':', n), *tn, *v;
	if (colon == NULL)
		return -1;
	const char *list = colon + 1;
	size_t ln = n - (size_t)(list - f), tp = 0, nl, vl, copied = 0;
	while (next_tag(list, ln, &tp, &tn, &nl, &v, &vl)) {
		if (nl == 1 && tn[0] == 'b') { /* up to "b=", the value left out */
			size_t upto = (size_t)(v - f);
			if (sg_buf_append(out, f + copied, upto - copied) < 0)
				return -1;
			copied = upto + vl;
		}
	}
	return sg_buf_append(out, f + copied, n - copied);
}

int sgdkim_unbase64(const char *b64, unsigned char *out, size_t size)
{
	size_t n = strlen(b64);
	if (n == 0 || n % 4 != 0 || n / 4 * 3 > size)
		return -1;
	int len = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)n);
	if (len < 0)
		return -1;
	for (size_t i = n; i > 0 && b64[i - 1] == '='; i--)
		len--; /* EVP_DecodeBlock counts the padding as zero bytes */
	return len;
}

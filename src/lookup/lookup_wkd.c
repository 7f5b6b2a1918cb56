/* lookup_wkd.c: the partner domain's Web Key Directory (draft-koch-openpgp-webkey-service):
 * the advanced method first, https://openpgpkey.DOMAIN/.well-known/openpgpkey/DOMAIN/hu/HASH
 * ?l=LOCAL, and only when that host cannot be reached at all (no such name, no connection) the
 * direct method, https://DOMAIN/.well-known/openpgpkey/hu/HASH?l=LOCAL. HASH is z-base32 of
 * SHA-1 of the lower-cased local part. Host names are resolved through dns.resolver. */
#include "lookup/lookup_priv.h"

#include "core/sg_str.h"
#include "fetch/fetch.h"
#include "mtasts/mtasts.h"

#include <openssl/evp.h>
#include <string.h>

int lookup_url_escape(const char *s, size_t len, char *dst, size_t dstsize)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		             (c >= '0' && c <= '9') || strchr("-._~", c) != NULL;
		if (o + (plain ? 1 : 3) >= dstsize)
			return -1;
		if (plain) {
			dst[o++] = (char)c;
		} else {
			dst[o++] = '%';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	dst[o] = '\0';
	return 0;
}

int lookup_wkd_hash(const char *local, size_t len, char *dst, size_t dstsize)
{
	static const char zb32[] = "ybndrfg8ejkmcpqxot1uwisza345h769";
	unsigned char lower[SG_ADDR_MAX], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (dstsize < 33 || len >= sizeof(lower))
		return -1;
	for (size_t i = 0; i < len; i++)
		lower[i] = (unsigned char)(local[i] >= 'A' && local[i] <= 'Z' ? local[i] + 32 : local[i]);
	if (EVP_Digest(lower, len, md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20)
		return -1;
	/* 160 bits are 32 groups of 5, most significant bit first */
	for (size_t g = 0; g < 32; g++) {
		size_t bit = g * 5;
		unsigned v = ((unsigned)md[bit / 8] << 8 | (bit / 8 + 1 < 20 ? md[bit / 8 + 1] : 0u));
		dst[g] = zb32[(v >> (11 - bit % 8)) & 31];
	}
	dst[32] = '\0';
	return 0;
}

/* The advanced (advanced = true) or direct URL of addr's key. */
static int wkd_url(const struct lookup *lk, const char *addr, bool advanced, char *url,
                   size_t size)
{
	const char *at = strrchr(addr, '@'), *domain = at + 1;
	char hash[33], local[SG_ADDR_MAX * 3], port[8] = "";
	if (lookup_wkd_hash(addr, (size_t)(at - addr), hash, sizeof(hash)) < 0 ||
	    lookup_url_escape(addr, (size_t)(at - addr), local, sizeof(local)) < 0)
		return -1;
	if (lk->wkd_port != 443)
		sg_snprintf(port, sizeof(port), ":%d", lk->wkd_port);
	if (advanced)
		return sg_snprintf(url, size, "https://openpgpkey.%s%s/.well-known/openpgpkey/%s/hu/%s"
		                   "?l=%s", domain, port, domain, hash, local);
	return sg_snprintf(url, size, "https://%s%s/.well-known/openpgpkey/hu/%s?l=%s", domain,
	                   port, hash, local);
}

void lookup_wkd_ask(const struct lookup *lk, const char *addr, int64_t deadline_ms,
                    struct lookup_answer *a)
{
	char adv[FETCH_URL_MAX], direct[FETCH_URL_MAX];
	if (wkd_url(lk, addr, true, adv, sizeof(adv)) < 0 ||
	    wkd_url(lk, addr, false, direct, sizeof(direct)) < 0) {
		lookup_set(a, LOOKUP_REFUSED, "address too long for a WKD URL");
		return;
	}
	struct dns_resolver *r = lookup_resolver(lk, deadline_ms, a);
	if (r == NULL)
		return;
	if (lookup_http_get(lk, adv, "WKD (advanced)", addr, deadline_ms, mtasts_resolve_dns, r,
	                    a) < 0) {
		char first[sizeof(a->detail)];
		sg_strlcpy(first, a->detail, sizeof(first));
		if (lookup_http_get(lk, direct, "WKD (direct)", addr, deadline_ms, mtasts_resolve_dns,
		                    r, a) < 0)
			lookup_set(a, LOOKUP_FAILED, "%.110s; %.110s", first, a->detail);
	}
	dns_resolver_free(&r);
}

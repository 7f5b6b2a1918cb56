/* dns_records.c: the typed lookups (MX, A/AAAA, TLSA, TXT) on top of dns_query, and the
 * hashed owner names of SMIMEA/OPENPGPKEY. Every rdata is checked for its exact length before
 * it is read; a record that does not parse is skipped, never half-used. */
#include "dns/dns.h"

#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <arpa/inet.h>
#include <idn-free.h>
#include <idna.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A wire-format name (uncompressed, as libunbound hands rdata) at data[0..len) into dst in
 * lower case without the trailing dot ("" for the root). Host-name bytes only (letters,
 * digits, '-', '_'). Returns the bytes used, or 0 if it is not such a name. */
static size_t wire_name(const unsigned char *data, size_t len, char *dst, size_t dstsize)
{
	size_t pos = 0, out = 0;
	while (pos < len) {
		size_t l = data[pos++];
		if (l == 0) {
			dst[out] = '\0';
			return pos;
		}
		if (l > 63 || pos + l > len || out + l + 2 > dstsize)
			return 0;
		if (out > 0)
			dst[out++] = '.';
		for (size_t i = 0; i < l; i++) {
			char c = (char)data[pos + i];
			bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			          (c >= '0' && c <= '9') || c == '-' || c == '_';
			if (!ok)
				return 0;
			dst[out++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
		}
		pos += l;
	}
	return 0;
}

/* ---- MX ---- */
static int mx_cmp(const void *a, const void *b)
{
	const struct dns_mx *x = a, *y = b;
	return (int)x->pref - (int)y->pref;
}

int dns_lookup_mx(struct dns_resolver *r, const char *domain, struct dns_mx_list *l_r,
                  const char **error_r)
{
	memset(l_r, 0, sizeof(*l_r));
	struct dns_answer *a = sg_malloc(sizeof(*a));
	int rc = dns_query(r, domain, DNS_TYPE_MX, a, error_r);
	l_r->security = a->security;
	l_r->nxdomain = a->nxdomain;
	size_t max = sizeof(l_r->mx) / sizeof(l_r->mx[0]);
	for (size_t i = 0; rc == 0 && i < a->count && l_r->count < max; i++) {
		const struct dns_rdata *rd = &a->rr[i];
		struct dns_mx *mx = &l_r->mx[l_r->count];
		if (rd->len < 3 || wire_name(rd->data + 2, rd->len - 2, mx->host,
		                              sizeof(mx->host)) != rd->len - 2)
			continue;
		mx->pref = (uint16_t)(rd->data[0] << 8 | rd->data[1]);
		l_r->count++;
	}
	dns_answer_free(a);
	sg_free(&a);
	/* qsort is not stable: stability does not matter among equal preferences (RFC 5321
	 * asks for them to be tried in random order). */
	qsort(l_r->mx, l_r->count, sizeof(l_r->mx[0]), mx_cmp);
	l_r->null_mx = l_r->count == 1 && l_r->mx[0].host[0] == '\0';
	return rc;
}

/* ---- A / AAAA ---- */
static int add_addrs(struct dns_resolver *r, const char *host, enum dns_type type,
                     struct dns_addr_list *l, enum dns_security *sec_r, const char **error_r)
{
	struct dns_answer *a = sg_malloc(sizeof(*a));
	int rc = dns_query(r, host, type, a, error_r);
	*sec_r = a->security;
	size_t want = type == DNS_TYPE_A ? 4 : 16;
	size_t max = sizeof(l->addr) / sizeof(l->addr[0]);
	for (size_t i = 0; rc == 0 && i < a->count && l->count < max; i++) {
		if (a->rr[i].len != want)
			continue;
		if (inet_ntop(type == DNS_TYPE_A ? AF_INET : AF_INET6, a->rr[i].data,
		              l->addr[l->count], sizeof(l->addr[0])) != NULL)
			l->count++;
	}
	dns_answer_free(a);
	sg_free(&a);
	return rc;
}

int dns_lookup_addrs(struct dns_resolver *r, const char *host, struct dns_addr_list *l_r,
                     const char **error_r)
{
	memset(l_r, 0, sizeof(*l_r));
	enum dns_security s6 = DNS_INSECURE, s4 = DNS_INSECURE;
	const char *err6 = NULL;
	int rc6 = add_addrs(r, host, DNS_TYPE_AAAA, l_r, &s6, &err6);
	int rc4 = add_addrs(r, host, DNS_TYPE_A, l_r, &s4, error_r);
	l_r->security = (s6 == DNS_BOGUS || s4 == DNS_BOGUS)     ? DNS_BOGUS
	                : (s6 == DNS_SECURE && s4 == DNS_SECURE) ? DNS_SECURE
	                                                         : DNS_INSECURE;
	if (rc4 < 0 || rc6 < 0) {
		if (rc4 == 0)
			*error_r = err6;
		return -1;
	}
	return 0;
}

/* ---- TLSA ---- */
int dns_lookup_tlsa(struct dns_resolver *r, const char *host, unsigned int port,
                    struct dns_tlsa_list *l_r, const char **error_r)
{
	memset(l_r, 0, sizeof(*l_r));
	char name[DNS_NAME_MAX + 1];
	int n = snprintf(name, sizeof(name), "_%u._tcp.%s", port, host);
	if (n < 0 || (size_t)n >= sizeof(name)) {
		*error_r = "TLSA owner name too long";
		return -1;
	}
	struct dns_answer *a = sg_malloc(sizeof(*a));
	int rc = dns_query(r, name, DNS_TYPE_TLSA, a, error_r);
	l_r->security = a->security;
	size_t max = sizeof(l_r->rr) / sizeof(l_r->rr[0]);
	for (size_t i = 0; rc == 0 && i < a->count && l_r->count < max; i++) {
		const struct dns_rdata *rd = &a->rr[i];
		struct dns_tlsa *t = &l_r->rr[l_r->count];
		if (rd->len < 4 || rd->len - 3 > sizeof(t->data))
			continue;
		t->usage = rd->data[0];
		t->selector = rd->data[1];
		t->mtype = rd->data[2];
		t->len = rd->len - 3;
		memcpy(t->data, rd->data + 3, t->len);
		l_r->count++;
	}
	dns_answer_free(a);
	sg_free(&a);
	return rc;
}

/* ---- TXT ---- */
/* The character-strings of one TXT rdata joined, or NULL if the lengths do not add up. */
static char *txt_join(const struct dns_rdata *rd)
{
	char *out = sg_malloc(rd->len + 1);
	size_t pos = 0, o = 0;
	while (pos < rd->len) {
		size_t l = rd->data[pos++];
		if (pos + l > rd->len) {
			sg_free(&out);
			return NULL;
		}
		memcpy(out + o, rd->data + pos, l);
		o += l;
		pos += l;
	}
	out[o] = '\0';
	return out;
}

int dns_lookup_txt(struct dns_resolver *r, const char *name, struct dns_txt_list *l_r,
                   const char **error_r)
{
	memset(l_r, 0, sizeof(*l_r));
	struct dns_answer *a = sg_malloc(sizeof(*a));
	int rc = dns_query(r, name, DNS_TYPE_TXT, a, error_r);
	l_r->security = a->security;
	size_t max = sizeof(l_r->txt) / sizeof(l_r->txt[0]);
	for (size_t i = 0; rc == 0 && i < a->count && l_r->count < max; i++) {
		char *t = txt_join(&a->rr[i]);
		if (t != NULL)
			l_r->txt[l_r->count++] = t;
	}
	dns_answer_free(a);
	sg_free(&a);
	return rc;
}

void dns_txt_list_free(struct dns_txt_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		sg_free(&l->txt[i]);
	l->count = 0;
}

/* ---- names ---- */
int dns_name_ascii(const char *name, char *dst, size_t dstsize, const char **error_r)
{
	bool ascii = true;
	for (const char *p = name; *p != '\0'; p++)
		ascii = ascii && (unsigned char)*p < 0x80;
	char *idn = NULL;
	if (!ascii && idna_to_ascii_8z(name, &idn, 0) != IDNA_SUCCESS) {
		*error_r = "internationalised domain name cannot be converted to A-labels (IDNA)";
		return -1;
	}
	const char *src = idn != NULL ? idn : name;
	bool fits = strlen(src) > 0 && strlen(src) < dstsize && strlen(src) <= DNS_NAME_MAX;
	if (fits) {
		sg_strlcpy(dst, src, dstsize);
		sg_ascii_lower(dst);
	}
	idn_free(idn);
	if (!fits)
		*error_r = "domain name empty or too long";
	return fits ? 0 : -1;
}

/* ---- SMIMEA / OPENPGPKEY owner names ---- */
int dns_hashed_owner(const char *local, const char *label, const char *domain, char *dst,
                     size_t dstsize)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)local, strlen(local), md);
	char hex[57];
	for (size_t i = 0; i < 28; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	int n = snprintf(dst, dstsize, "%s.%s.%s", hex, label, domain);
	return n < 0 || (size_t)n >= dstsize ? -1 : 0;
}

/* ldapd_attr.c: the attribute schema the directory knows (names, aliases, string or binary)
 * and DN handling: one normal form for comparing DNs, and RFC 4514 escaping for the DNs we
 * build from mail addresses. */
#include "ldap/ldapd.h"

#include "core/sg_str.h"

#include <ctype.h>
#include <string.h>

struct attr_def {
	const char *name;
	const char *alias;
	const char *alias2;
	bool string;
};

static const struct attr_def attrs[LDAPD_A_COUNT] = {
	[LDAPD_A_OBJECTCLASS] = {"objectClass", "2.5.4.0", NULL, true},
	[LDAPD_A_MAIL] = {"mail", "rfc822Mailbox", "0.9.2342.19200300.100.1.3", true},
	[LDAPD_A_CN] = {"cn", "commonName", "2.5.4.3", true},
	[LDAPD_A_SN] = {"sn", "surname", "2.5.4.4", true},
	[LDAPD_A_GIVENNAME] = {"givenName", "gn", "2.5.4.42", true},
	[LDAPD_A_DISPLAYNAME] = {"displayName", "2.16.840.1.113730.3.1.241", NULL, true},
	[LDAPD_A_USERCERT] = {"userCertificate", "2.5.4.36", NULL, false},
	[LDAPD_A_USERSMIME] = {"userSMIMECertificate", "2.16.840.1.113730.3.1.40", NULL, false},
	[LDAPD_A_O] = {"o", "organizationName", "2.5.4.10", true},
	[LDAPD_A_OU] = {"ou", "organizationalUnitName", "2.5.4.11", true},
	[LDAPD_A_DC] = {"dc", "domainComponent", "0.9.2342.19200300.100.1.25", true},
	[LDAPD_A_NAMINGCONTEXTS] = {"namingContexts", NULL, NULL, true},
	[LDAPD_A_LDAPVERSION] = {"supportedLDAPVersion", NULL, NULL, true},
	[LDAPD_A_EXTENSION] = {"supportedExtension", NULL, NULL, true},
	[LDAPD_A_VENDORNAME] = {"vendorName", NULL, NULL, true},
};

static bool name_is(const char *want, const char *name, size_t len)
{
	return want != NULL && strlen(want) == len && strncasecmp(want, name, len) == 0;
}

int ldapd_attr_lookup(const char *name, size_t len, bool *binary_r)
{
	*binary_r = false;
	const char *semi = memchr(name, ';', len);
	size_t base_len = semi != NULL ? (size_t)(semi - name) : len;
	if (semi != NULL) {
		/* Only the transfer option of RFC 4522 is known; any other option is another
		 * attribute description, which we do not hold. */
		if (!name_is("binary", semi + 1, len - base_len - 1))
			return -1;
		*binary_r = true;
	}
	for (int a = 0; a < LDAPD_A_COUNT; a++)
		if (name_is(attrs[a].name, name, base_len) || name_is(attrs[a].alias, name, base_len) ||
		    name_is(attrs[a].alias2, name, base_len))
			return a;
	return -1;
}

const char *ldapd_attr_name(int a)
{
	return a >= 0 && a < LDAPD_A_COUNT ? attrs[a].name : "?";
}

bool ldapd_attr_is_string(int a)
{
	return a >= 0 && a < LDAPD_A_COUNT && attrs[a].string;
}

/* ---- DNs ---- */

static bool needs_escape(unsigned char c)
{
	return c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' || c == ';' ||
	       c == '=' || c < 0x20 || c == 0x7f;
}

struct out {
	char *p;
	size_t size, len;
	bool full;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 >= o->size) {
		o->full = true;
		return;
	}
	o->p[o->len++] = c;
	o->p[o->len] = '\0';
}

static void put_escaped(struct out *o, const unsigned char *v, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		bool edge = (i == 0 && (v[i] == ' ' || v[i] == '#')) || (i + 1 == n && v[i] == ' ');
		if (v[i] < 0x20 || v[i] == 0x7f) {
			put(o, '\\');
			put(o, hex[v[i] >> 4]);
			put(o, hex[v[i] & 15]);
		} else {
			if (edge || needs_escape(v[i]))
				put(o, '\\');
			put(o, (char)v[i]);
		}
	}
}

int ldapd_dn_escape(const char *value, char *dst, size_t dstsize)
{
	struct out o = {dst, dstsize, strlen(dst), false};
	put_escaped(&o, (const unsigned char *)value, strlen(value));
	return o.full ? -1 : 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Reads one attribute value up to an unescaped ',' or '+' into val (unescaped, lower-cased,
 * trailing unescaped spaces dropped). Returns the position after it, or -1. */
static int read_value(const char *dn, size_t len, size_t i, unsigned char *val, size_t *vlen_r)
{
	size_t n = 0, keep = 0;
	while (i < len && dn[i] != ',' && dn[i] != '+') {
		unsigned char c = (unsigned char)dn[i++];
		bool escaped = false;
		if (c == '\\') {
			if (i >= len)
				return -1;
			int h = hexval(dn[i]), l = i + 1 < len ? hexval(dn[i + 1]) : -1;
			if (h >= 0 && l >= 0) {
				c = (unsigned char)(h * 16 + l);
				i += 2;
			} else {
				c = (unsigned char)dn[i++];
			}
			escaped = true;
		} else if (c == '"' || c == ';' || c == '<' || c == '>') {
			return -1;
		}
		if (n >= SG_LDAP_DN_MAX)
			return -1;
		val[n++] = (unsigned char)tolower(c);
		if (escaped || c != ' ')
			keep = n;
	}
	*vlen_r = keep;
	return (int)i;
}

static size_t skip_spaces(const char *dn, size_t len, size_t i)
{
	while (i < len && dn[i] == ' ')
		i++;
	return i;
}

/* One "type=value" of an RDN; returns the position after the value, or -1. */
static int read_ava(const char *dn, size_t len, size_t i, struct out *o)
{
	unsigned char val[SG_LDAP_DN_MAX];
	i = skip_spaces(dn, len, i);
	size_t start = i;
	while (i < len && (isalnum((unsigned char)dn[i]) || dn[i] == '-' || dn[i] == '.'))
		put(o, (char)tolower((unsigned char)dn[i++]));
	if (i == start)
		return -1;
	i = skip_spaces(dn, len, i);
	if (i >= len || dn[i] != '=')
		return -1;
	put(o, '=');
	i = skip_spaces(dn, len, i + 1);
	size_t vlen;
	int next = read_value(dn, len, i, val, &vlen);
	if (next < 0)
		return -1;
	put_escaped(o, val, vlen);
	return next;
}

int ldapd_dn_normalize(const char *dn, size_t len, char *dst, size_t dstsize)
{
	struct out o = {dst, dstsize, 0, false};
	if (dstsize == 0)
		return -1;
	dst[0] = '\0';
	size_t i = skip_spaces(dn, len, 0);
	if (i == len)
		return 0; /* the root DSE */
	for (;;) {
		int next = read_ava(dn, len, i, &o);
		if (next < 0)
			return -1;
		i = (size_t)next;
		if (i == len)
			break;
		put(&o, dn[i]); /* ',' or '+' */
		i++;
	}
	return o.full ? -1 : (int)o.len;
}

/* smtp_addr.c: RFC 5321 §4.1.2 paths, with RFC 6531 UTF-8: parse, validate, normalise.
 * A cursor walks the bytes once; lengths are checked before anything is copied, and anything
 * outside the grammar is refused rather than repaired. */
#include "smtp/smtp.h"

#include "core/sg_str.h"

#include <arpa/inet.h>
#include <string.h>

#define LABEL_MAX   63
#define LITERAL_MAX 64

struct cursor {
	const unsigned char *p;
	size_t len;
	size_t pos;
	bool utf8;                 /* a non-ASCII byte was accepted */
	enum smtp_addr_error why;
	const char *error;
};

static int fail(struct cursor *c, enum smtp_addr_error why, const char *error)
{
	if (c->why == SMTP_ADDR_OK) {
		c->why = why;
		c->error = error;
	}
	return -1;
}

static bool at_end(const struct cursor *c) { return c->pos >= c->len; }

static int peek(const struct cursor *c) { return at_end(c) ? -1 : c->p[c->pos]; }

static bool is_alnum(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

static bool is_atext(int ch)
{
	return is_alnum(ch) || (ch > 0 && ch < 0x80 && strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL);
}

size_t smtp_addr_utf8_len(const unsigned char *s, size_t len)
{
	static const struct {
		unsigned char first_lo, first_hi, n, second_lo, second_hi;
	} forms[] = {
		{0xc2, 0xdf, 2, 0x80, 0xbf}, {0xe0, 0xe0, 3, 0xa0, 0xbf}, {0xe1, 0xec, 3, 0x80, 0xbf},
		{0xed, 0xed, 3, 0x80, 0x9f}, {0xee, 0xef, 3, 0x80, 0xbf}, {0xf0, 0xf0, 4, 0x90, 0xbf},
		{0xf1, 0xf3, 4, 0x80, 0xbf}, {0xf4, 0xf4, 4, 0x80, 0x8f},
	};
	if (len == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		if (s[0] < forms[i].first_lo || s[0] > forms[i].first_hi)
			continue;
		size_t n = forms[i].n;
		if (len < n || s[1] < forms[i].second_lo || s[1] > forms[i].second_hi)
			return 0;
		for (size_t k = 2; k < n; k++)
			if (s[k] < 0x80 || s[k] > 0xbf)
				return 0;
		return n;
	}
	return 0;
}

/* Takes one UTF-8 sequence of two or more bytes at the cursor, copying it to out (may be
 * NULL); returns its length or 0. */
static size_t take_utf8(struct cursor *c, char *out, size_t *outlen)
{
	size_t n = smtp_addr_utf8_len(c->p + c->pos, c->len - c->pos);
	if (n < 2)
		return 0;
	if (out != NULL) {
		memcpy(out + *outlen, c->p + c->pos, n);
		*outlen += n;
	}
	c->pos += n;
	c->utf8 = true;
	return n;
}

/* sub-domain = Let-dig [Ldh-str], or a U-label (UTF-8 checked here, allowed or not later).
 * Copies it lower-cased into out, or only validates when out is NULL. */
static int take_label(struct cursor *c, char *out, size_t *outlen)
{
	size_t n = 0;
	int last = -1;
	for (;;) {
		int ch = peek(c);
		size_t k = 1;
		if (ch >= 0x80) {
			k = take_utf8(c, out, outlen);
			if (k == 0)
				return fail(c, SMTP_ADDR_ESYNTAX, "invalid UTF-8 in domain");
		} else if (is_alnum(ch) || (ch == '-' && n > 0)) {
			if (out != NULL)
				out[(*outlen)++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : (char)ch;
			c->pos++;
		} else {
			break;
		}
		last = ch;
		n += k;
		if (n > LABEL_MAX)
			return fail(c, SMTP_ADDR_ELENGTH, "domain label too long");
	}
	return n == 0 || last == '-' ? fail(c, SMTP_ADDR_ESYNTAX, "bad domain syntax") : 0;
}

/* Domain = sub-domain *("." sub-domain) */
static int parse_domain(struct cursor *c, char *out, size_t *outlen)
{
	size_t start = c->pos;
	for (;;) {
		if (take_label(c, out, outlen) < 0)
			return -1;
		if (peek(c) != '.')
			break;
		if (out != NULL)
			out[(*outlen)++] = '.';
		c->pos++;
	}
	if (c->pos - start > SG_DOMAIN_MAX)
		return fail(c, SMTP_ADDR_ELENGTH, "domain too long");
	return 0;
}

/* address-literal: "[" IPv4 / "IPv6:" IPv6 "]"; general literals are not accepted. */
static int parse_literal(struct cursor *c, char *out, size_t *outlen)
{
	const unsigned char *close = memchr(c->p + c->pos, ']', c->len - c->pos);
	if (close == NULL)
		return fail(c, SMTP_ADDR_ESYNTAX, "unterminated address literal");
	size_t n = (size_t)(close - (c->p + c->pos)) - 1;
	if (n == 0 || n > LITERAL_MAX)
		return fail(c, SMTP_ADDR_ESYNTAX, "bad address literal");
	char text[LITERAL_MAX + 1];
	memcpy(text, c->p + c->pos + 1, n);
	text[n] = '\0';
	unsigned char bin[16];
	bool v6 = sg_has_prefix_nocase(text, "IPv6:");
	if (inet_pton(v6 ? AF_INET6 : AF_INET, v6 ? text + 5 : text, bin) != 1)
		return fail(c, SMTP_ADDR_ESYNTAX, "bad address literal");
	if (v6)
		memcpy(text, "IPv6:", 5);
	out[(*outlen)++] = '[';
	memcpy(out + *outlen, text, n);
	*outlen += n;
	out[(*outlen)++] = ']';
	c->pos += n + 2;
	return 0;
}

/* A-d-l ":" — a source route, parsed and dropped (RFC 5321 §4.1.2, Appendix C). */
static int skip_route(struct cursor *c)
{
	for (;;) {
		if (peek(c) != '@')
			return fail(c, SMTP_ADDR_ESYNTAX, "bad source route");
		c->pos++;
		if (parse_domain(c, NULL, NULL) < 0)
			return -1;
		int ch = peek(c);
		c->pos++;
		if (ch == ':')
			return 0;
		if (ch != ',')
			return fail(c, SMTP_ADDR_ESYNTAX, "bad source route");
	}
}

static int parse_dot_string(struct cursor *c, char *out, size_t *outlen)
{
	bool atom = false;
	for (;;) {
		int ch = peek(c);
		if (ch >= 0x80) {
			if (take_utf8(c, out, outlen) == 0)
				return fail(c, SMTP_ADDR_ESYNTAX, "invalid UTF-8 in local part");
			atom = true;
		} else if (is_atext(ch)) {
			out[(*outlen)++] = (char)ch;
			c->pos++;
			atom = true;
		} else if (ch == '.' && atom) {
			out[(*outlen)++] = '.';
			c->pos++;
			atom = false;
		} else {
			break;
		}
	}
	return atom ? 0 : fail(c, SMTP_ADDR_ESYNTAX, "bad local part");
}

/* Quoted-string: the unquoted content goes to out. */
static int parse_quoted(struct cursor *c, char *out, size_t *outlen)
{
	c->pos++; /* the opening DQUOTE */
	for (;;) {
		int ch = peek(c);
		if (ch == '"') {
			c->pos++;
			return *outlen > 0 ? 0 : fail(c, SMTP_ADDR_ESYNTAX, "empty local part");
		}
		if (ch == '\\') {
			c->pos++;
			ch = peek(c);
			if (ch < 32 || ch > 126)
				return fail(c, SMTP_ADDR_ESYNTAX, "bad quoted pair");
		} else if (ch >= 0x80) {
			if (take_utf8(c, out, outlen) == 0)
				return fail(c, SMTP_ADDR_ESYNTAX, "invalid UTF-8 in local part");
			continue;
		} else if (ch < 32 || ch > 126) {
			return fail(c, SMTP_ADDR_ESYNTAX, "bad quoted local part");
		}
		out[(*outlen)++] = (char)ch;
		c->pos++;
	}
}

/* The normal form of a local part: bare when it is a Dot-string, else quoted with only
 * '"' and '\' escaped. */
static int local_normalise(const char *raw, size_t rawlen, char *dst, size_t *dstlen)
{
	struct cursor probe = {.p = (const unsigned char *)raw, .len = rawlen};
	char scratch[SG_ADDR_MAX];
	size_t scratch_len = 0;
	if (parse_dot_string(&probe, scratch, &scratch_len) == 0 && at_end(&probe)) {
		memcpy(dst, raw, rawlen);
		*dstlen = rawlen;
		return 0;
	}
	size_t o = 0;
	dst[o++] = '"';
	for (size_t i = 0; i < rawlen; i++) {
		if (o + 3 > SMTP_LOCALPART_MAX)
			return -1;
		if (raw[i] == '"' || raw[i] == '\\')
			dst[o++] = '\\';
		dst[o++] = raw[i];
	}
	dst[o++] = '"';
	*dstlen = o;
	return 0;
}

static int parse_mailbox(struct cursor *c, struct smtp_addr *a)
{
	char raw[SG_ADDR_MAX], local[SG_ADDR_MAX + 2];
	size_t rawlen = 0, locallen = 0;
	int rc = peek(c) == '"' ? parse_quoted(c, raw, &rawlen) : parse_dot_string(c, raw, &rawlen);
	if (rc < 0)
		return -1;
	if (rawlen > SMTP_LOCALPART_MAX || local_normalise(raw, rawlen, local, &locallen) < 0 ||
	    locallen > SMTP_LOCALPART_MAX)
		return fail(c, SMTP_ADDR_ELENGTH, "local part too long");
	if (peek(c) != '@')
		return fail(c, SMTP_ADDR_ESYNTAX, "missing domain");
	c->pos++;
	char domain[SG_ADDR_MAX];
	size_t domlen = 0;
	rc = peek(c) == '[' ? parse_literal(c, domain, &domlen) : parse_domain(c, domain, &domlen);
	if (rc < 0)
		return -1;
	if (domlen > SG_DOMAIN_MAX)
		return fail(c, SMTP_ADDR_ELENGTH, "domain too long");
	if (locallen + 1 + domlen >= sizeof(a->addr))
		return fail(c, SMTP_ADDR_ELENGTH, "address too long");
	memcpy(a->addr, local, locallen);
	a->addr[locallen] = '@';
	memcpy(a->addr + locallen + 1, domain, domlen);
	a->addr[locallen + 1 + domlen] = '\0';
	memcpy(a->domain, domain, domlen);
	a->domain[domlen] = '\0';
	return 0;
}

static int parse_path(const char *s, size_t len, unsigned int flags, struct smtp_addr *a,
                      struct cursor *c)
{
	if (len > SG_ADDR_MAX)
		return fail(c, SMTP_ADDR_ELENGTH, "address too long");
	if (len < 2 || s[0] != '<' || s[len - 1] != '>')
		return fail(c, SMTP_ADDR_ESYNTAX, "address must be in <>");
	if (len == 2)
		return (flags & SMTP_ADDR_F_NULL_OK) ? 0
		                                     : fail(c, SMTP_ADDR_ESYNTAX, "null address");
	c->p = (const unsigned char *)s + 1;
	c->len = len - 2;
	if (peek(c) == '@' && skip_route(c) < 0)
		return -1;
	if (parse_mailbox(c, a) < 0)
		return -1;
	if (!at_end(c))
		return fail(c, SMTP_ADDR_ESYNTAX, "bad address syntax");
	if (c->utf8 && !(flags & SMTP_ADDR_F_UTF8))
		return fail(c, SMTP_ADDR_EUTF8, "UTF-8 address without SMTPUTF8");
	a->utf8 = c->utf8;
	return 0;
}

int smtp_addr_parse(const char *s, size_t len, unsigned int flags, struct smtp_addr *addr_r,
                    const char **error_r)
{
	struct cursor c = {.why = SMTP_ADDR_OK};
	addr_r->addr[0] = '\0';
	addr_r->domain[0] = '\0';
	addr_r->utf8 = false;
	addr_r->why = SMTP_ADDR_OK;
	if (parse_path(s, len, flags, addr_r, &c) == 0)
		return 0;
	addr_r->addr[0] = '\0';
	addr_r->domain[0] = '\0';
	addr_r->why = c.why;
	*error_r = c.error;
	return -1;
}

size_t smtp_addr_path_len(const char *s, size_t len)
{
	if (len == 0 || s[0] != '<')
		return 0;
	bool quoted = false;
	for (size_t i = 1; i < len; i++) {
		if (quoted && s[i] == '\\') {
			i++;
		} else if (s[i] == '"') {
			quoted = !quoted;
		} else if (!quoted && s[i] == '>') {
			return i + 1;
		}
	}
	return 0;
}

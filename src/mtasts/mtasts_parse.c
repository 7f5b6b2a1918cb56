/* mtasts_parse.c: the two texts MTA-STS reads from a recipient domain, the TXT record and the
 * policy, both hostile: bounded, strictly parsed, refused rather than repaired. */
#include "mtasts/mtasts.h"

#include "core/sg_str.h"

#include <string.h>

static const char *const mode_names[] = {
	[MTASTS_NONE] = "none", [MTASTS_TESTING] = "testing", [MTASTS_ENFORCE] = "enforce"};

const char *mtasts_mode_name(enum mtasts_mode m)
{
	return (unsigned int)m <= MTASTS_ENFORCE ? mode_names[m] : "none";
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_wsp(char c) { return c == ' ' || c == '\t'; }

static int refuse(const char **error_r, const char *why)
{
	*error_r = why;
	return -1;
}

/* ---- the TXT record: "v=STSv1; id=20160831085700Z;" ---- */
static int txt_one(const char *t, char *id, size_t idsize, const char **error_r)
{
	bool have_id = false;
	const char *p = t + 7; /* after "v=STSv1" */
	while (*p != '\0') {
		while (is_wsp(*p))
			p++;
		if (*p != ';') {
			*error_r = "TXT record fields not separated by ';'";
			return -1;
		}
		p++;
		while (is_wsp(*p))
			p++;
		if (*p == '\0')
			break;
		const char *eq = p;
		while (*eq != '\0' && *eq != '=' && *eq != ';')
			eq++;
		if (*eq != '=') {
			*error_r = "TXT record field without '='";
			return -1;
		}
		const char *v = eq + 1, *e = v;
		while (*e != '\0' && *e != ';' && !is_wsp(*e))
			e++;
		if (eq - p == 2 && strncmp(p, "id", 2) == 0 && !have_id) {
			size_t n = (size_t)(e - v);
			for (const char *c = v; c < e; c++)
				if (!is_alnum(*c))
					n = 0;
			if (n == 0 || n > MTASTS_ID_MAX || n >= idsize) {
				*error_r = "TXT record id is not 1 to 32 letters and digits";
				return -1;
			}
			memcpy(id, v, n);
			id[n] = '\0';
			have_id = true;
		}
		p = e;
	}
	if (!have_id)
		*error_r = "TXT record has no id";
	return have_id ? 0 : -1;
}

int mtasts_txt_parse(char *const *txt, size_t ntxt, char *id, size_t idsize, const char **error_r)
{
	const char *found = NULL;
	for (size_t i = 0; i < ntxt; i++) {
		const char *t = txt[i];
		if (strncmp(t, "v=STSv1", 7) != 0 || (t[7] != ';' && !is_wsp(t[7])))
			continue;
		if (found != NULL) {
			*error_r = "more than one v=STSv1 TXT record";
			return -1;
		}
		found = t;
	}
	if (found == NULL) {
		*error_r = "no v=STSv1 TXT record";
		return -1;
	}
	return txt_one(found, id, idsize, error_r);
}

/* ---- the policy ---- */
/* "mail.example.com" or "*.example.com": labels of letters, digits, '-' (and '_'), lower cased
 * into dst. */
static int mx_pattern(const char *v, size_t len, char *dst, size_t dstsize)
{
	size_t start = len >= 2 && v[0] == '*' && v[1] == '.' ? 2 : 0;
	if (len == start || len >= dstsize || len > 253)
		return -1;
	char prev = '.';
	for (size_t i = start; i < len; i++) {
		char c = v[i];
		if (!(is_alnum(c) || c == '-' || c == '_' || (c == '.' && prev != '.')))
			return -1;
		prev = c;
	}
	if (prev == '.')
		return -1;
	for (size_t i = 0; i < len; i++)
		dst[i] = (char)(v[i] >= 'A' && v[i] <= 'Z' ? v[i] + 32 : v[i]);
	dst[len] = '\0';
	return 0;
}

struct policy_seen {
	bool version, mode, max_age;
};

static int policy_field(struct mtasts_policy *p, struct policy_seen *seen, const char *k,
                        size_t klen, const char *v, size_t vlen, const char **error_r)
{
	char val[32];
	bool small = vlen < sizeof(val);
	if (small) {
		memcpy(val, v, vlen);
		val[vlen] = '\0';
	}
	if (klen == 7 && strncmp(k, "version", 7) == 0 && !seen->version) {
		seen->version = true;
		if (!small || strcmp(val, "STSv1") != 0)
			return refuse(error_r, "policy version is not STSv1");
	} else if (klen == 4 && strncmp(k, "mode", 4) == 0 && !seen->mode) {
		seen->mode = true;
		int m = -1;
		for (int i = 0; small && i <= MTASTS_ENFORCE; i++)
			if (strcmp(val, mode_names[i]) == 0)
				m = i;
		if (m < 0)
			return refuse(error_r, "policy mode is not enforce, testing or none");
		p->mode = (enum mtasts_mode)m;
	} else if (klen == 7 && strncmp(k, "max_age", 7) == 0 && !seen->max_age) {
		seen->max_age = true;
		const char *err = NULL;
		long long age = small && vlen <= 10 && strspn(val, "0123456789") == vlen
		                    ? sg_strtonum(val, 0, MTASTS_MAX_AGE_MAX, &err) : -1;
		if (age < 0 || err != NULL)
			return refuse(error_r, "policy max_age is not 0 to 31557600 seconds");
		p->max_age = (long)age;
	} else if (klen == 2 && strncmp(k, "mx", 2) == 0) {
		if (p->nmx == MTASTS_MX_MAX)
			return refuse(error_r, "policy has too many mx patterns");
		if (mx_pattern(v, vlen, p->mx[p->nmx], sizeof(p->mx[0])) < 0)
			return refuse(error_r, "policy mx is not a host name or *.domain pattern");
		p->nmx++;
	}
	return 0;
}

/* One line (without its line end): "key: value" (RFC 8461 3.2, sts-field-delim). */
static int policy_line(struct mtasts_policy *p, struct policy_seen *seen, const char *l,
                       size_t len, const char **error_r)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)l[i] < 0x20 && l[i] != '\t')
			return refuse(error_r, "policy has a control character");
	size_t k = 0;
	while (k < len && (is_alnum(l[k]) || l[k] == '_' || l[k] == '-' || l[k] == '.'))
		k++;
	size_t c = k;
	while (c < len && is_wsp(l[c]))
		c++;
	if (k == 0 || c == len || l[c] != ':')
		return refuse(error_r, "policy line is not 'key: value'");
	size_t v = c + 1, e = len;
	while (v < e && is_wsp(l[v]))
		v++;
	while (e > v && is_wsp(l[e - 1]))
		e--;
	return policy_field(p, seen, l, k, l + v, e - v, error_r);
}

int mtasts_policy_parse(const char *body, size_t len, struct mtasts_policy *p,
                        const char **error_r)
{
	memset(p, 0, sizeof(*p));
	struct policy_seen seen = {0};
	if (len > MTASTS_POLICY_MAX || memchr(body, '\0', len) != NULL)
		return refuse(error_r, "policy too large or not text");
	for (size_t off = 0; off < len;) {
		const char *lf = memchr(body + off, '\n', len - off);
		size_t end = lf != NULL ? (size_t)(lf - body) : len;
		size_t l = end - off;
		if (l > 0 && body[off + l - 1] == '\r')
			l--;
		if (l > 0 && policy_line(p, &seen, body + off, l, error_r) < 0)
			return -1;
		off = end + 1;
	}
	if (!seen.version || !seen.mode || !seen.max_age)
		return refuse(error_r, "policy lacks version, mode or max_age");
	if (p->mode != MTASTS_NONE && p->nmx == 0)
		return refuse(error_r, "policy names no mx");
	return 0;
}

/* ---- matching ---- */
static bool pattern_match(const char *pat, const char *host, size_t hlen)
{
	if (pat[0] != '*')
		return strlen(pat) == hlen && strncmp(pat, host, hlen) == 0;
	const char *dot = memchr(host, '.', hlen); /* "*.d" matches "x.d", never "d" or "y.x.d" */
	if (dot == NULL || dot == host)
		return false;
	size_t rest = hlen - (size_t)(dot - host);
	return strlen(pat + 1) == rest && strncmp(pat + 1, dot, rest) == 0;
}

bool mtasts_mx_match(const struct mtasts_policy *p, const char *mx)
{
	char host[256];
	size_t n = strlen(mx);
	if (n > 0 && mx[n - 1] == '.')
		n--;
	if (n == 0 || n >= sizeof(host))
		return false;
	for (size_t i = 0; i < n; i++)
		host[i] = (char)(mx[i] >= 'A' && mx[i] <= 'Z' ? mx[i] + 32 : mx[i]);
	host[n] = '\0';
	for (size_t i = 0; i < p->nmx; i++)
		if (pattern_match(p->mx[i], host, n))
			return true;
	return false;
}

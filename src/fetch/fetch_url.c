/* fetch_url.c: the URLs the client accepts: http(s)://host[:port][/path][?query]. Strict and
 * bounded: a name of letters, digits, '-', '.' (or an IPv6 literal), no user info, no
 * controls or spaces anywhere, so nothing an attacker writes in a Location: or a policy can
 * change the request line we send. */
#include "fetch/fetch.h"

#include "core/sg_str.h"

#include <string.h>

static bool host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.';
}

static bool v6_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
	       c == ':' || c == '.';
}

/* Host part from s up to (not including) end. */
static int parse_host(const char *s, size_t len, struct fetch_url *u, const char **error_r)
{
	bool v6 = len > 2 && s[0] == '[' && s[len - 1] == ']';
	if (len == 0 || len > FETCH_HOST_MAX + 2 || (!v6 && len > FETCH_HOST_MAX)) {
		*error_r = "URL host missing or too long";
		return -1;
	}
	for (size_t i = v6 ? 1 : 0; i < (v6 ? len - 1 : len); i++)
		if (v6 ? !v6_char(s[i]) : !host_char(s[i])) {
			*error_r = "URL host has a character not allowed in a host name";
			return -1;
		}
	memcpy(u->host, s, len);
	u->host[len] = '\0';
	return 0;
}

static int parse_port(const char *s, size_t len, struct fetch_url *u, const char **error_r)
{
	char buf[8];
	const char *err = NULL;
	if (len == 0 || len >= sizeof(buf)) {
		*error_r = "URL port is not a number from 1 to 65535";
		return -1;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	long long port = sg_strtonum(buf, 1, 65535, &err);
	if (err != NULL || buf[0] < '0' || buf[0] > '9') {
		*error_r = "URL port is not a number from 1 to 65535";
		return -1;
	}
	(void)port;
	sg_strlcpy(u->port, buf, sizeof(u->port));
	return 0;
}

static int parse_path(const char *s, struct fetch_url *u, const char **error_r)
{
	size_t len = strcspn(s, "#");
	if (len + 2 > sizeof(u->path)) {
		*error_r = "URL too long";
		return -1;
	}
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) {
			*error_r = "URL path has a space, a control or a non-ASCII byte";
			return -1;
		}
	u->path[0] = '/';
	size_t off = s[0] == '/' ? 0 : 1; /* "?q" alone becomes "/?q" */
	memcpy(u->path + off, s, len);
	u->path[off + len] = '\0';
	return 0;
}

int fetch_url_parse(const char *url, struct fetch_url *u, const char **error_r)
{
	memset(u, 0, sizeof(*u));
	const char *rest;
	if (strncmp(url, "https://", 8) == 0) {
		u->tls = true;
		rest = url + 8;
	} else if (strncmp(url, "http://", 7) == 0) {
		rest = url + 7;
	} else {
		*error_r = "URL is not http:// or https://";
		return -1;
	}
	size_t auth_len = strcspn(rest, "/?#");
	const char *auth_end = rest + auth_len;
	const char *v6_end = rest[0] == '[' ? memchr(rest, ']', auth_len) : rest;
	if (v6_end == NULL) {
		*error_r = "URL host has a character not allowed in a host name";
		return -1;
	}
	const char *colon = memchr(v6_end, ':', (size_t)(auth_end - v6_end));
	const char *host_end = colon != NULL ? colon : auth_end;
	if (parse_host(rest, (size_t)(host_end - rest), u, error_r) < 0)
		return -1;
	if (colon != NULL && parse_port(colon + 1, (size_t)(auth_end - colon - 1), u, error_r) < 0)
		return -1;
	if (colon == NULL)
		sg_strlcpy(u->port, u->tls ? "443" : "80", sizeof(u->port));
	return parse_path(auth_end, u, error_r);
}

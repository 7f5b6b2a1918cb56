/* portal_client.c: the client address a request is throttled and audited under. Behind a
 * TLS-terminating reverse proxy every connection comes from the proxy, so one guesser would
 * make every partner wait: a peer listed in portal.trusted_proxies is believed about the
 * client in X-Forwarded-For. Each proxy appends the address it saw, so the list is read from
 * the right, skipping trusted proxies; the first other hop is the client. Hops further left
 * were written by the client and prove nothing. Several X-Forwarded-For lines count as one
 * list in their order (HAProxy adds a line, nginx appends to the last). */
#include "portal/portal_priv.h"
#include "core/sg_net.h"
#include "core/sg_str.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#define XFF_LINES_MAX 8 /* the last lines are the ones our proxies wrote */

struct xff_lines {
	const char *v[XFF_LINES_MAX];
	size_t n;
};

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
	(void)kind;
	struct xff_lines *l = cls;
	if (strcasecmp(key, "X-Forwarded-For") != 0 || value == NULL)
		return MHD_YES;
	if (l->n == XFF_LINES_MAX) {
		memmove(l->v, l->v + 1, sizeof(l->v[0]) * (XFF_LINES_MAX - 1));
		l->n--;
	}
	l->v[l->n++] = value;
	return MHD_YES;
}

/* The hop text (spaces trimmed) as a socket address; false when it is not a plain address. */
static bool hop_addr(const char *start, size_t len, char *text, size_t size,
                     struct sockaddr_storage *ss)
{
	while (len > 0 && (*start == ' ' || *start == '\t'))
		start++, len--;
	while (len > 0 && (start[len - 1] == ' ' || start[len - 1] == '\t'))
		len--;
	if (len == 0 || len >= size)
		return false;
	memcpy(text, start, len);
	text[len] = '\0';
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, text, &v4->sin_addr) == 1)
		v4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1)
		v6->sin6_family = AF_INET6;
	else
		return false;
	sg_sockaddr_text((struct sockaddr *)ss, text, size); /* one spelling per address */
	return true;
}

static bool trusted(const struct sg_cidr *proxies, size_t n, const struct sockaddr *sa)
{
	for (size_t i = 0; i < n; i++)
		if (sg_cidr_match(&proxies[i], sa))
			return true;
	return false;
}

/* Walks one line's hops from the right; false once the client is found (in dst) or a hop
 * is not an address (dst keeps the last trusted proxy: the best that is known). */
static bool walk_line(const struct sg_cidr *proxies, size_t n, const char *line, char *dst,
                      size_t size)
{
	const char *end = line + strlen(line);
	while (end > line) {
		const char *comma = end;
		while (comma > line && comma[-1] != ',')
			comma--;
		char text[INET6_ADDRSTRLEN + 1];
		struct sockaddr_storage ss;
		if (!hop_addr(comma, (size_t)(end - comma), text, sizeof(text), &ss))
			return false;
		sg_strlcpy(dst, text, size);
		if (!trusted(proxies, n, (struct sockaddr *)&ss))
			return false;
		end = comma > line ? comma - 1 : line;
	}
	return true;
}

void portal_client_forwarded(const struct sg_cidr *proxies, size_t n, const char *const *lines,
                             size_t nlines, char *dst, size_t size)
{
	for (size_t i = nlines; i > 0; i--)
		if (!walk_line(proxies, n, lines[i - 1], dst, size))
			return;
}

void portal_client_address(const struct portal_ctx *ctx, struct MHD_Connection *c, char *dst,
                           size_t size)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL) {
		sg_strlcpy(dst, "unknown", size);
		return;
	}
	sg_sockaddr_text(ci->client_addr, dst, size);
	if (!trusted(ctx->proxies, ctx->nproxies, ci->client_addr))
		return;
	struct xff_lines l = {.n = 0};
	MHD_get_connection_values(c, MHD_HEADER_KIND, collect, &l);
	portal_client_forwarded(ctx->proxies, ctx->nproxies, l.v, l.n, dst, size);
}

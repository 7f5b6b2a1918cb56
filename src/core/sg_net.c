/* sg_net.c: socket plumbing; see sg_net.h. */
#include "core/sg_net.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "core/sg_time.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

int sg_smtp_route_parse(const char *route, struct sg_endpoint *ep_r, const char **tls_r,
                        const char **error_r)
{
	static const char *const modes[] = {"may", "encrypt", "verify"};
	char hop[300];
	const char *space = strchr(route, ' ');
	size_t len = space != NULL ? (size_t)(space - route) : strlen(route);
	*tls_r = modes[0];
	if (strncmp(route, "smtp:", 5) != 0 || len >= sizeof(hop)) {
		*error_r = "smtp route needs smtp:HOST:PORT";
		return -1;
	}
	memcpy(hop, route + 5, len - 5);
	hop[len - 5] = '\0';
	if (sg_endpoint_parse(hop, ep_r, error_r) < 0)
		return -1;
	if (ep_r->host[0] == '\0' || ep_r->port[0] == '\0') {
		*error_r = "smtp route needs HOST:PORT";
		return -1;
	}
	if (space == NULL)
		return 0;
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strncmp(space + 1, "tls=", 4) == 0 && strcmp(space + 5, modes[i]) == 0) {
			*tls_r = modes[i];
			return 0;
		}
	}
	*error_r = "after the smtp route only tls=may, tls=encrypt or tls=verify may follow";
	return -1;
}

int sg_endpoint_parse(const char *s, struct sg_endpoint *ep_r, const char **error_r)
{
	const char *colon;
	memset(ep_r, 0, sizeof(*ep_r));
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (end == NULL || end[1] != ':') {
			*error_r = "expected [ADDRESS]:PORT";
			return -1;
		}
		if ((size_t)(end - s - 1) >= sizeof(ep_r->host)) {
			*error_r = "host too long";
			return -1;
		}
		memcpy(ep_r->host, s + 1, (size_t)(end - s - 1));
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon != NULL) {
			if ((size_t)(colon - s) >= sizeof(ep_r->host)) {
				*error_r = "host too long";
				return -1;
			}
			memcpy(ep_r->host, s, (size_t)(colon - s));
		}
	}
	const char *port = colon != NULL ? colon + 1 : s;
	const char *err;
	sg_strtonum(port, 1, 65535, &err);
	if (err != NULL) {
		*error_r = "port must be a number from 1 to 65535";
		return -1;
	}
	sg_strlcpy(ep_r->port, port, sizeof(ep_r->port));
	return 0;
}

int sg_cidr_parse(const char *s, struct sg_cidr *cidr_r, const char **error_r)
{
	char host[64];
	const char *slash = strchr(s, '/');
	size_t hl = slash != NULL ? (size_t)(slash - s) : strlen(s);
	if (hl == 0 || hl >= sizeof(host)) {
		*error_r = "expected ADDRESS/PREFIX";
		return -1;
	}
	memcpy(host, s, hl);
	host[hl] = '\0';
	memset(cidr_r, 0, sizeof(*cidr_r));
	unsigned int maxbits;
	if (inet_pton(AF_INET, host, cidr_r->addr) == 1) {
		cidr_r->family = AF_INET;
		maxbits = 32;
	} else if (inet_pton(AF_INET6, host, cidr_r->addr) == 1) {
		cidr_r->family = AF_INET6;
		maxbits = 128;
	} else {
		*error_r = "not an IPv4 or IPv6 address";
		return -1;
	}
	cidr_r->prefix = maxbits;
	if (slash != NULL) {
		const char *err;
		cidr_r->prefix = (unsigned int)sg_strtonum(slash + 1, 0, maxbits, &err);
		if (err != NULL) {
			*error_r = "prefix length out of range";
			return -1;
		}
	}
	return 0;
}

struct sg_cidr *sg_cidr_list_parse(const char *value, size_t *n_r, const char **error_r)
{
	struct sg_strlist list;
	sg_strlist_split(&list, value);
	struct sg_cidr *nets = sg_calloc(list.count + 1, sizeof(*nets));
	*n_r = 0;
	for (size_t i = 0; i < list.count; i++)
		if (sg_cidr_parse(list.items[i], &nets[(*n_r)++], error_r) < 0) {
			sg_free(&nets);
			break;
		}
	sg_strlist_free(&list);
	return nets;
}

static bool prefix_equal(const unsigned char *a, const unsigned char *b, unsigned int bits)
{
	unsigned int bytes = bits / 8, rest = bits % 8;
	if (memcmp(a, b, bytes) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (a[bytes] & mask) == (b[bytes] & mask);
}

bool sg_cidr_match(const struct sg_cidr *cidr, const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET && cidr->family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		return prefix_equal((const unsigned char *)&in->sin_addr, cidr->addr, cidr->prefix);
	}
	if (sa->sa_family != AF_INET6)
		return false;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
	const unsigned char *a = (const unsigned char *)&in6->sin6_addr;
	if (cidr->family == AF_INET6)
		return prefix_equal(a, cidr->addr, cidr->prefix);
	if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
		return prefix_equal(a + 12, cidr->addr, cidr->prefix);
	return false;
}

void sg_sockaddr_text(const struct sockaddr *sa, char *dst, size_t dstsize)
{
	const void *a = NULL;
	int family = sa->sa_family;
	if (family == AF_INET) {
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	} else if (family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		a = a6;
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			a = (const unsigned char *)a6 + 12;
			family = AF_INET;
		}
	}
	if (a == NULL || inet_ntop(family, a, dst, (socklen_t)dstsize) == NULL)
		sg_strlcpy(dst, "unknown", dstsize);
}

int sg_listen_tcp(const struct sg_endpoint *ep, int backlog, const char **error_r)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res;
	if (getaddrinfo(ep->host[0] ? ep->host : NULL, ep->port, &hints, &res) != 0) {
		*error_r = "cannot resolve listen address";
		return -1;
	}
	int fd = -1;
	*error_r = "cannot bind listen address";
	for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	return fd;
}

static int wait_connected(int fd, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLOUT};
	int rc;
	do
		rc = poll(&pfd, 1, timeout_ms);
	while (rc < 0 && errno == EINTR);
	if (rc <= 0)
		return -1;
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0)
		return -1;
	return 0;
}

int sg_connect_tcp(const char *host, const char *port, int timeout_ms, const char **error_r)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res;
	if (getaddrinfo(host, port, &hints, &res) != 0) {
		*error_r = "cannot resolve host";
		return -1;
	}
	int fd = -1;
	*error_r = "connection refused or timed out";
	for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 &&
		    (errno != EINPROGRESS || wait_connected(fd, timeout_ms) < 0)) {
			close(fd);
			fd = -1;
			continue;
		}
		int flags = fcntl(fd, F_GETFL);
		fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	freeaddrinfo(res);
	return fd;
}

int sg_socket_set_timeout(int fd, int timeout_ms)
{
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -1;
	return 0;
}

int sg_wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - sg_mono_ms();
		if (left <= 0)
			return -1;
		struct pollfd p = {.fd = fd, .events = events};
		int n = poll(&p, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

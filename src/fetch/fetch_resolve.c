/* fetch_resolve.c: the default name resolution of the client, the system resolver. Callers
 * that must see DNS as the DNS module sees it (DNSSEC, the test resolver) pass their own
 * fetch_resolve_fn instead. */
#include "fetch/fetch.h"

#include <netdb.h>
#include <string.h>

int fetch_resolve_system(void *ctx, const char *host, const char *port,
                         struct fetch_addr *addrs, size_t max, const char **error_r)
{
	(void)ctx;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res;
	if (getaddrinfo(host, port, &hints, &res) != 0) {
		*error_r = "host name not found";
		return -1;
	}
	size_t n = 0;
	for (struct addrinfo *ai = res; ai != NULL && n < max; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(addrs[n].ss))
			continue;
		memcpy(&addrs[n].ss, ai->ai_addr, ai->ai_addrlen);
		addrs[n].len = ai->ai_addrlen;
		n++;
	}
	freeaddrinfo(res);
	if (n == 0) {
		*error_r = "host name has no usable address";
		return -1;
	}
	return (int)n;
}

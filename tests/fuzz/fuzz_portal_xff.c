/* fuzz_portal_xff.c: X-Forwarded-For lines reach the portal from anyone (a trusted proxy
 * appends, it does not clean). Each input line is one header line; whatever they say, the
 * client is the trusted peer or a plain IP address (never attacker text). */
#include "core/sg_net.h"
#include "portal/portal_priv.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sg_cidr *proxies;
	static size_t n;
	const char *err;
	if (proxies == NULL && (proxies = sg_cidr_list_parse("10.0.0.0/8, ::1/128", &n, &err)) == NULL)
		__builtin_trap();
	char *text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	const char *lines[8];
	size_t nl = 0;
	for (char *p = text; p != NULL && nl < 8;) {
		lines[nl++] = p;
		p = strchr(p, '\n');
		if (p != NULL)
			*p++ = '\0';
	}
	char dst[64] = "10.0.0.1";
	portal_client_forwarded(proxies, n, lines, nl, dst, sizeof(dst));
	unsigned char buf[16];
	if (strcmp(dst, "10.0.0.1") != 0 && inet_pton(AF_INET, dst, buf) != 1 &&
	    inet_pton(AF_INET6, dst, buf) != 1)
		__builtin_trap();
	free(text);
	return 0;
}

/* deliver_route.c: the next-hop syntax of route.internal and route.external, and the choice
 * of transport for a route. */
#include "queue/qmgr.h"

#include "core/sg_file.h"
#include "core/sg_net.h"
#include "core/sg_str.h"

#include <string.h>

int deliver_route_parse(const char *route, const char *config_dir, struct deliver_route *r_r,
                        const char **error_r)
{
	memset(r_r, 0, sizeof(*r_r));
	if (strncmp(route, "maildir:", 8) == 0) {
		r_r->kind = DELIVER_MAILDIR;
		if (route[8] == '\0' ||
		    sg_path_resolve(r_r->path, sizeof(r_r->path), config_dir, route + 8) < 0) {
			*error_r = "maildir route needs a path that fits SG_PATH_MAX";
			return -1;
		}
		return 0;
	}
	if (strcmp(route, "mx") == 0) {
		r_r->kind = DELIVER_MX;
		return 0;
	}
	if (strncmp(route, "smtp:", 5) == 0) {
		struct sg_endpoint ep;
		const char *tls;
		if (sg_smtp_route_parse(route, &ep, &tls, error_r) < 0)
			return -1;
		r_r->kind = DELIVER_SMTP;
		r_r->tls = strcmp(tls, "encrypt") == 0  ? SMTPC_TLS_ENCRYPT
		           : strcmp(tls, "verify") == 0 ? SMTPC_TLS_PKIX
		                                        : SMTPC_TLS_MAY;
		sg_strlcpy(r_r->host, ep.host, sizeof(r_r->host));
		sg_strlcpy(r_r->port, ep.port, sizeof(r_r->port));
		return 0;
	}
	*error_r = "route must be smtp:HOST:PORT, mx or maildir:PATH";
	return -1;
}

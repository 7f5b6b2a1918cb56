/* portal_throttle.c: the throttle in front of every secret the portal checks. The attempt is
 * reserved in the store before the (Argon2id) check, on every key at once, so parallel
 * requests cannot slip past a wait that one of them starts; a failure then needs no second
 * write. Unknown addresses cost exactly the same writes as known ones. A browser that logged
 * in to the address before (known-device cookie) is counted as itself instead of against the
 * account, so a guesser elsewhere cannot keep the partner out by making the account wait. */
#include "portal/portal_priv.h"
#include "core/sg_log.h"
#include "core/sg_str.h"
#include "store/store.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#define STORE_ERROR_WAIT_S 60 /* the store failed: refuse rather than check unthrottled */

/* The client's key: an IPv6 client is counted by its /64, which one subscriber usually has
 * whole (else each of its 2^64 addresses would get its own budget). */
static void client_key(const char *client, char *key, size_t size)
{
	struct in6_addr a6;
	char text[INET6_ADDRSTRLEN];
	if (inet_pton(AF_INET6, client, &a6) == 1) {
		memset(a6.s6_addr + 8, 0, 8);
		if (inet_ntop(AF_INET6, &a6, text, sizeof(text)) != NULL) {
			sg_snprintf(key, size, "ip:%s/64", text);
			return;
		}
	}
	sg_snprintf(key, size, "ip:%s", client);
}

bool portal_throttle_reserve(struct portal_req *req, const char *address,
                             struct portal_attempt *a)
{
	char dev[PORTAL_DEVICE_HEX];
	const char *err;
	memset(a, 0, sizeof(*a));
	client_key(req->client, a->keys[a->n++], sizeof(a->keys[0]));
	if (address != NULL && portal_cookie_device_id(req, address, dev))
		sg_snprintf(a->keys[a->n++], sizeof(a->keys[0]), "dev:%s", dev);
	else if (address != NULL)
		sg_snprintf(a->keys[a->n++], sizeof(a->keys[0]), "acct:%s", address);
	for (size_t i = 0; i < a->n; i++) {
		sg_ascii_lower(a->keys[i]);
		a->kp[i] = a->keys[i];
	}
	int rc = store_portal_throttle_reserve(req->ctx->st, a->kp, a->n, req->now,
	                                       &req->ctx->throttle, &a->wait, &err);
	if (rc < 0) {
		sg_warn("portal throttle: %s", err);
		a->wait = STORE_ERROR_WAIT_S;
	}
	return rc == 0;
}

void portal_throttle_succeeded(struct portal_req *req, const struct portal_attempt *a)
{
	const char *err;
	for (size_t i = 0; i < a->n; i++)
		if (store_portal_throttle_succeeded(req->ctx->st, a->kp[i], i > 0, &err) < 0)
			sg_warn("portal throttle: %s", err);
}

void portal_throttle_minutes(const struct portal_attempt *a, char *buf, size_t size)
{
	long long m = ((long long)a->wait + 59) / 60;
	sg_snprintf(buf, size, "%lld", m > 0 ? m : 1);
}

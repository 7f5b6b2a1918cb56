/* portal_cookie.c: signed cookies, so that what an unauthenticated visitor can cause costs
 * the store no row. Each value ends in a keyed BLAKE2b MAC (the portal's cookie key, kept in
 * the store's meta table like the anonymous CSRF key) over a purpose label and every field.
 *   sg_device = ID.ISSUED.MAC(address, ID, ISSUED): this browser logged in to address; it
 *               passes that account's throttle wait (portal_throttle.c), for 180 days.
 *   sg_reset  = EXPIRES.MAC(session, address, EXPIRES).HEX(address): the first step of a
 *               password reset, valid 15 minutes and only with the anonymous session it was
 *               given to (so POST /forgot writes nothing, however often it is sent). */
#include "portal/portal_priv.h"
#include "core/sg_str.h"

#include <sodium.h>
#include <string.h>

#define DEVICE_COOKIE "sg_device"
#define RESET_COOKIE "sg_reset"
#define DEVICE_S (180L * 86400)
#define RESET_S (15L * 60)
#define MAC_HEX 65
#define ID_BYTES 16

/* The MAC (hex) of purpose and the NUL-separated fields (lower-case address). */
static void mac_hex(const struct portal_req *req, const char *purpose, const char *const *fields,
                    size_t n, char out[MAC_HEX])
{
	unsigned char h[32];
	crypto_generichash_state st;
	crypto_generichash_init(&st, req->ctx->cookie_key, sizeof(req->ctx->cookie_key), sizeof(h));
	crypto_generichash_update(&st, (const unsigned char *)purpose, strlen(purpose) + 1);
	for (size_t i = 0; i < n; i++)
		crypto_generichash_update(&st, (const unsigned char *)fields[i], strlen(fields[i]) + 1);
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2hex(out, MAC_HEX, h, sizeof(h));
}

static void lower_copy(char *dst, const char *src, size_t size)
{
	sg_strlcpy(dst, src, size);
	sg_ascii_lower(dst);
}

/* Splits "A.B.C" (in place) into three parts; false unless there are exactly three. */
static bool split3(char *s, char **a, char **b, char **c)
{
	*a = s;
	*b = strchr(s, '.');
	if (*b == NULL)
		return false;
	*(*b)++ = '\0';
	*c = strchr(*b, '.');
	if (*c == NULL)
		return false;
	*(*c)++ = '\0';
	return strchr(*c, '.') == NULL;
}

/* The cookie's value, copied into buf, when it is present and fits. */
static bool cookie_copy(struct portal_req *req, const char *name, char *buf, size_t size)
{
	const char *v = portal_server_cookie(req, name);
	return v != NULL && sg_strlcpy(buf, v, size) < size;
}

bool portal_cookie_device_id(struct portal_req *req, const char *address, char *id_r)
{
	char buf[160], addr[SG_ADDR_MAX], want[MAC_HEX], *id, *issued, *mac;
	const char *err;
	if (!cookie_copy(req, DEVICE_COOKIE, buf, sizeof(buf)) || !split3(buf, &id, &issued, &mac) ||
	    strlen(id) != PORTAL_DEVICE_HEX - 1 || strlen(address) >= sizeof(addr))
		return false;
	long long at = sg_strtonum(issued, 0, (long long)req->now, &err);
	if (err != NULL || at + DEVICE_S < (long long)req->now)
		return false;
	lower_copy(addr, address, sizeof(addr));
	const char *f[] = {addr, id, issued};
	mac_hex(req, "sealgate-device", f, 3, want);
	if (!portal_auth_equal(mac, want))
		return false;
	sg_strlcpy(id_r, id, PORTAL_DEVICE_HEX);
	return true;
}

/* Issued again at every login (the 180 days count from the last one), same id if valid. */
void portal_cookie_device_set(struct portal_req *req, struct portal_resp *resp,
                              const char *address)
{
	char id[PORTAL_DEVICE_HEX], issued[24], addr[SG_ADDR_MAX], mac[MAC_HEX], value[160];
	if (!portal_cookie_device_id(req, address, id)) {
		unsigned char r[ID_BYTES];
		randombytes_buf(r, sizeof(r));
		sodium_bin2hex(id, sizeof(id), r, sizeof(r));
	}
	sg_snprintf(issued, sizeof(issued), "%lld", (long long)req->now);
	lower_copy(addr, address, sizeof(addr));
	const char *f[] = {addr, id, issued};
	mac_hex(req, "sealgate-device", f, 3, mac);
	if (sg_snprintf(value, sizeof(value), "%s.%s.%s", id, issued, mac) > 0)
		portal_pages_cookie(req, resp, DEVICE_COOKIE, value, DEVICE_S);
}

void portal_cookie_reset_set(struct portal_req *req, struct portal_resp *resp,
                             const char *address)
{
	char expires[24], addr[SG_ADDR_MAX], mac[MAC_HEX], hex[2 * SG_ADDR_MAX + 1];
	char value[sizeof(expires) + MAC_HEX + sizeof(hex)];
	sg_snprintf(expires, sizeof(expires), "%lld", (long long)req->now + RESET_S);
	lower_copy(addr, address, sizeof(addr));
	sodium_bin2hex(hex, sizeof(hex), (const unsigned char *)addr, strlen(addr));
	const char *f[] = {req->sess.id_hash, addr, expires};
	mac_hex(req, "sealgate-reset", f, 3, mac);
	if (sg_snprintf(value, sizeof(value), "%s.%s.%s", expires, mac, hex) > 0)
		portal_pages_cookie(req, resp, RESET_COOKIE, value, RESET_S);
}

void portal_cookie_reset_clear(struct portal_req *req, struct portal_resp *resp)
{
	portal_pages_cookie(req, resp, RESET_COOKIE, "", 0);
}

bool portal_cookie_reset_address(struct portal_req *req, char *addr_r)
{
	char buf[24 + MAC_HEX + 2 * SG_ADDR_MAX + 4], want[MAC_HEX], *expires, *mac, *hex;
	size_t len = 0;
	const char *err;
	if (!cookie_copy(req, RESET_COOKIE, buf, sizeof(buf)) || !split3(buf, &expires, &mac, &hex))
		return false;
	long long until = sg_strtonum(expires, (long long)req->now, (long long)req->now + RESET_S,
	                              &err);
	if (err != NULL || until <= (long long)req->now ||
	    sodium_hex2bin((unsigned char *)addr_r, SG_ADDR_MAX - 1, hex, strlen(hex), NULL, &len,
	                   NULL) != 0)
		return false;
	addr_r[len] = '\0';
	const char *f[] = {req->sess.id_hash, addr_r, expires};
	mac_hex(req, "sealgate-reset", f, 3, want);
	if (strlen(addr_r) != len || !portal_auth_equal(mac, want)) {
		addr_r[0] = '\0';
		return false;
	}
	return true;
}

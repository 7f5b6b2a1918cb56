/* portal_wkd.c: the Web Key Directory (draft-koch-openpgp-webkey-service) for internal users'
 * OpenPGP keys, so that GnuPG, Thunderbird and other gateways find them by address alone:
 *   direct:   https://DOMAIN/.well-known/openpgpkey/hu/HASH?l=LOCAL      (Host: DOMAIN)
 *   advanced: https://openpgpkey.DOMAIN/.well-known/openpgpkey/DOMAIN/hu/HASH?l=LOCAL
 * and the policy file beside hu/. A key is served only for an internal domain, only a trusted
 * active key (never one learned from a message), binary, with Access-Control-Allow-Origin: *
 * as the draft asks; anything else is a plain 404. postmaster@DOMAIN without a key of its own
 * is answered with our domain key (`domain own`), whose user ID names that address. */
#include "portal/portal_priv.h"

#include "core/limits.h"
#include "core/sg_str.h"
#include "core/sg_time.h"
#include "crypto/pgp.h"
#include "policy/policy.h"
#include "store/store.h"

#include <ctype.h>
#include <microhttpd.h>
#include <string.h>

#define WKD_PREFIX "/.well-known/openpgpkey/"
#define WKD_DOMAIN_MAX 254

struct wkd_query {
	char domain[WKD_DOMAIN_MAX];
	const char *what; /* "policy" or "hu/HASH" */
};

static void not_found(struct portal_resp *resp)
{
	resp->status = MHD_HTTP_NOT_FOUND;
	resp->content_type = "text/plain; charset=utf-8";
	sg_buf_append_str(&resp->body, "No key for this address here.\n");
}

/* A lower-cased domain of letters, digits, '-' and '.' of n bytes from s; false otherwise. */
static bool take_domain(const char *s, size_t n, char *dst, size_t size)
{
	if (n == 0 || n >= size)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.')
			return false;
		dst[i] = (char)tolower((unsigned char)s[i]);
	}
	dst[n] = '\0';
	return true;
}

/* The domain (advanced method: in the path; direct: the Host header, without a port) and what
 * is asked of it; false when the request names neither. */
static bool parse(struct portal_req *req, struct wkd_query *q)
{
	const char *rest = req->path + strlen(WKD_PREFIX);
	if (strncmp(rest, "hu/", 3) == 0 || strcmp(rest, "policy") == 0) {
		const char *host = portal_server_header(req, "Host");
		if (host == NULL)
			return false;
		const char *colon = strchr(host, ':');
		q->what = rest;
		return take_domain(host, colon != NULL ? (size_t)(colon - host) : strlen(host),
		                   q->domain, sizeof(q->domain));
	}
	const char *slash = strchr(rest, '/');
	if (slash == NULL)
		return false;
	q->what = slash + 1;
	return take_domain(rest, (size_t)(slash - rest), q->domain, sizeof(q->domain));
}

static bool servable(const struct store_pgp_key *k, time_t now)
{
	return k->status == STORE_PGP_ACTIVE && store_pgp_key_trusted(k) &&
	       (k->expires == 0 || k->expires > now);
}

/* The key of local@domain when local hashes to hash: 1 found (*key_r), 0 not, -1 error. */
static int key_of(struct portal_req *req, const char *local, const char *domain,
                  const char *hash, struct store_pgp_key *key_r)
{
	char mine[PGP_WKD_HASH_MAX], addr[SG_ADDR_MAX];
	const char *err;
	if (pgp_wkd_hash(local, mine) < 0 || strcmp(mine, hash) != 0 ||
	    (size_t)snprintf(addr, sizeof(addr), "%s@%s", local, domain) >= sizeof(addr))
		return 0;
	int rc = store_pgp_find_active(req->ctx->st, addr, key_r, &err);
	if (rc == 1 && !servable(key_r, req->now)) {
		store_pgp_key_clear(key_r);
		rc = 0;
	}
	return rc;
}

/* Without ?l= (it is optional): the internal address of domain whose local part hashes to
 * hash, found among the stored keys. */
static int key_by_hash(struct portal_req *req, const char *domain, const char *hash,
                       struct store_pgp_key *key_r)
{
	struct store_pgp_key *keys = NULL;
	size_t n = 0;
	const char *err;
	if (store_pgp_list(req->ctx->st, NULL, &keys, &n, &err) < 0)
		return -1;
	int found = 0;
	for (size_t i = 0; i < n && !found; i++) {
		char local[SG_ADDR_MAX], mine[PGP_WKD_HASH_MAX];
		const char *at = strrchr(keys[i].address, '@');
		if (at == NULL || at == keys[i].address || !sg_streq_nocase(at + 1, domain) ||
		    !servable(&keys[i], req->now))
			continue;
		sg_strlcpy(local, keys[i].address, (size_t)(at - keys[i].address) + 1);
		if (pgp_wkd_hash(local, mine) == 0 && strcmp(mine, hash) == 0) {
			*key_r = keys[i];
			memset(&keys[i], 0, sizeof(keys[i]));
			found = 1;
		}
	}
	store_pgp_list_free(&keys, n);
	return found;
}

static int find_key(struct portal_req *req, const struct wkd_query *q, const char *hash,
                    struct store_pgp_key *key_r)
{
	/* ?l= is a hint: it saves the search when it hashes to hash; the hash decides. */
	const char *l = portal_server_query(req, "l");
	int rc = l != NULL && l[0] != '\0' && strlen(l) < 64 && strchr(l, '@') == NULL
	             ? key_of(req, l, q->domain, hash, key_r)
	             : 0;
	if (rc == 0)
		rc = key_by_hash(req, q->domain, hash, key_r);
	char owner[POLICY_DOMAIN_OWNER_MAX], postmaster[PGP_WKD_HASH_MAX];
	if (rc == 0 && pgp_wkd_hash("postmaster", postmaster) == 0 && strcmp(hash, postmaster) == 0 &&
	    policy_domain_owner(q->domain, owner, sizeof(owner)) == 0) {
		const char *err;
		rc = store_pgp_find_active(req->ctx->st, owner, key_r, &err);
	}
	return rc;
}

void portal_wkd_get(struct portal_req *req, struct portal_resp *resp)
{
	struct wkd_query q;
	if (!parse(req, &q) || !sg_strlist_contains_nocase(&req->ctx->internal_domains, q.domain)) {
		not_found(resp);
		return;
	}
	if (strcmp(q.what, "policy") == 0) { /* empty: no submission service, defaults apply */
		resp->content_type = "text/plain; charset=utf-8";
		resp->cors = true;
		return;
	}
	const char *hash = strncmp(q.what, "hu/", 3) == 0 ? q.what + 3 : "";
	struct store_pgp_key key;
	memset(&key, 0, sizeof(key));
	if (strlen(hash) != PGP_WKD_HASH_MAX - 1 || find_key(req, &q, hash, &key) != 1) {
		not_found(resp);
		return;
	}
	resp->content_type = "application/octet-stream";
	resp->cors = true;
	sg_buf_append(&resp->body, key.keydata, key.keydata_len);
	store_pgp_key_clear(&key);
}

/* lookup_http.c: keyservers over HTTPS: VKS (GET /vks/v1/by-email/ADDRESS on each lookup.vks
 * URL, as keys.openpgp.org answers) and HKP (GET /pks/lookup?op=get&options=mr&search=ADDRESS on
 * each lookup.hkp URL, ASCII-armoured keys). Certificates verified (system store, fetch.ca_file),
 * no redirects, no plain http, one deadline, bodies capped at lookup.max_size; what comes back
 * is a key only if lookup_check_key says so. */
#include "lookup/lookup_priv.h"

#include "core/sg_str.h"
#include "fetch/fetch.h"

#include <string.h>

void lookup_http_judge(int status, const char *body, size_t len, const char *addr,
                       const char *where, struct lookup_answer *a)
{
	if (status == 404 || status == 410) {
		lookup_set(a, LOOKUP_NOTHING, "%s: no key for the address (HTTP %d)", where, status);
		return;
	}
	if (status != 200) {
		lookup_set(a, LOOKUP_REFUSED, "%s: HTTP status %d", where, status);
		return;
	}
	if (body == NULL || len == 0) {
		lookup_set(a, LOOKUP_REFUSED, "%s: empty answer", where);
		return;
	}
	lookup_check_key(addr, (const unsigned char *)body, len, where, a);
}

/* GETs url until deadline and judges the answer; where names it in messages. resolve: NULL for
 * the system resolver. Returns -1 when no answer came (a is FAILED), 0 otherwise. */
int lookup_http_get(const struct lookup *lk, const char *url, const char *where,
                    const char *addr, int64_t deadline_ms, fetch_resolve_fn *resolve,
                    void *resolve_ctx, struct lookup_answer *a)
{
	int left = lookup_left_ms(deadline_ms);
	if (left == 0) {
		lookup_set(a, LOOKUP_FAILED, "%s: lookup.max_wait used up", where);
		return -1;
	}
	struct fetch_request req = {
		.url = url, .timeout_ms = left, .max_body = lk->max_size, .max_redirects = 0,
		.ca_file = lk->ca_file[0] != '\0' ? lk->ca_file : NULL,
		.accept = "application/pgp-keys", .resolve = resolve, .resolve_ctx = resolve_ctx};
	struct fetch_response resp;
	const char *err;
	if (fetch_get(&req, &resp, &err) < 0) {
		lookup_set(a, LOOKUP_FAILED, "%s: %s", where, err);
		fetch_response_free(&resp);
		return -1;
	}
	lookup_http_judge(resp.status, resp.body, resp.body_len, addr, where, a);
	fetch_response_free(&resp);
	return 0;
}

/* Each base URL of list with path and the escaped address appended, until a key. */
static void ask_each(const struct lookup *lk, const struct sg_strlist *list, const char *setting,
                     const char *path, const char *addr, int64_t deadline_ms,
                     struct lookup_answer *a)
{
	char esc[SG_ADDR_MAX * 3], url[FETCH_URL_MAX];
	if (lookup_url_escape(addr, strlen(addr), esc, sizeof(esc)) < 0) {
		lookup_set(a, LOOKUP_REFUSED, "address too long for a URL");
		return;
	}
	lookup_set(a, LOOKUP_FAILED, "%s is empty", setting);
	for (size_t i = 0; i < list->count && a->outcome != LOOKUP_FOUND; i++) {
		const char *base = list->items[i];
		size_t bl = strlen(base);
		while (bl > 0 && base[bl - 1] == '/')
			bl--;
		if (sg_snprintf(url, sizeof(url), "%.*s%s%s", (int)bl, base, path, esc) < 0) {
			lookup_set(a, LOOKUP_FAILED, "%s: URL too long", base);
			continue;
		}
		(void)lookup_http_get(lk, url, base, addr, deadline_ms, NULL, NULL, a);
	}
}

void lookup_vks_ask(const struct lookup *lk, const char *addr, int64_t deadline_ms,
                    struct lookup_answer *a)
{
	ask_each(lk, &lk->vks, "lookup.vks", "/vks/v1/by-email/", addr, deadline_ms, a);
}

void lookup_hkp_ask(const struct lookup *lk, const char *addr, int64_t deadline_ms,
                    struct lookup_answer *a)
{
	ask_each(lk, &lk->hkp, "lookup.hkp", "/pks/lookup?op=get&options=mr&search=", addr,
	         deadline_ms, a);
}

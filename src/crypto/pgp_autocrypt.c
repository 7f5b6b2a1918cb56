/* pgp_autocrypt.c: the Autocrypt Level 1 header (autocrypt.org/level1.html §2.1): parsed from
 * inbound mail (hostile: bounded, strict, unknown critical attributes refuse the header) and
 * written for internal senders with their gateway-held key in its minimal form. */
#include "crypto/pgp.h"
#include "crypto/pgp_priv.h"
#include "core/sg_buf.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <sodium.h>
#include <string.h>

#define FOLD_WIDTH 76

void pgp_autocrypt_clear(struct pgp_autocrypt *ac)
{
	sg_free(&ac->keydata);
	memset(ac, 0, sizeof(*ac));
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* [s, e) trimmed of folding white space. */
static void trim(const char **s, const char **e)
{
	while (*s < *e && is_ws(**s))
		(*s)++;
	while (*e > *s && is_ws((*e)[-1]))
		(*e)--;
}

static int take_keydata(struct pgp_autocrypt *ac, const char *v, size_t n, const char **error_r)
{
	size_t max = n / 4 * 3 + 3, len = 0;
	unsigned char *bin = sg_malloc(max + 1);
	if (sodium_base642bin(bin, max, v, n, " \t\r\n", &len, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 || len == 0) {
		sg_free(&bin);
		*error_r = "Autocrypt: keydata is not valid base64";
		return -1;
	}
	ac->keydata = bin;
	ac->keydata_len = len;
	return 0;
}

/* One attribute "name=value"; seen tracks addr, prefer-encrypt, keydata against repeats. */
static int take_attr(struct pgp_autocrypt *ac, const char *s, const char *e, unsigned *seen,
                     const char **error_r)
{
	const char *eq = memchr(s, '=', (size_t)(e - s));
	if (eq == NULL) {
		*error_r = "Autocrypt: an attribute without '='";
		return -1;
	}
	const char *ns = s, *ne = eq, *vs = eq + 1, *ve = e;
	trim(&ns, &ne);
	trim(&vs, &ve);
	size_t nlen = (size_t)(ne - ns), vlen = (size_t)(ve - vs);
	unsigned bit = nlen == 4 && memcmp(ns, "addr", 4) == 0               ? 1u
	               : nlen == 14 && memcmp(ns, "prefer-encrypt", 14) == 0 ? 2u
	               : nlen == 7 && memcmp(ns, "keydata", 7) == 0          ? 4u
	                                                                     : 0u;
	if (bit == 0) {
		*error_r = "Autocrypt: unknown critical attribute";
		return nlen > 0 && ns[0] == '_' ? 0 : -1; /* '_' attributes are optional */
	}
	if ((*seen & bit) != 0) {
		*error_r = "Autocrypt: an attribute appears twice";
		return -1;
	}
	*seen |= bit;
	if (bit == 4)
		return take_keydata(ac, vs, vlen, error_r);
	char tmp[SG_ADDR_MAX];
	if (vlen >= sizeof(tmp)) {
		*error_r = "Autocrypt: attribute value too long";
		return -1;
	}
	memcpy(tmp, vs, vlen);
	tmp[vlen] = '\0';
	if (bit == 2) {
		ac->prefer_mutual = strcmp(tmp, "mutual") == 0;
		return 0;
	}
	if (strchr(tmp, '<') != NULL || pgp_uid_address(tmp, ac->addr, sizeof(ac->addr)) < 0) {
		*error_r = "Autocrypt: addr is not an e-mail address";
		return -1;
	}
	return 0;
}

int pgp_autocrypt_parse(const char *value, size_t len, struct pgp_autocrypt *ac_r,
                        const char **error_r)
{
	memset(ac_r, 0, sizeof(*ac_r));
	if (len > SG_PGP_AUTOCRYPT_MAX || memchr(value, '\0', len) != NULL) {
		*error_r = "Autocrypt: header too long or not text";
		return -1;
	}
	unsigned seen = 0;
	const char *p = value, *end = value + len;
	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *e = semi != NULL ? semi : end;
		const char *s = p, *te = e;
		trim(&s, &te);
		if (s < te && take_attr(ac_r, s, te, &seen, error_r) < 0) {
			pgp_autocrypt_clear(ac_r);
			return -1;
		}
		p = semi != NULL ? semi + 1 : end;
	}
	if ((seen & 5u) != 5u) {
		*error_r = "Autocrypt: addr or keydata missing";
		pgp_autocrypt_clear(ac_r);
		return -1;
	}
	return 0;
}

/* The user ID of key whose address is address (caller frees with rnp_buffer_destroy). */
static char *uid_for(rnp_key_handle_t key, const char *address)
{
	size_t n = 0;
	(void)rnp_key_get_uid_count(key, &n);
	for (size_t i = 0; i < n && i < 100; i++) {
		char *uid = NULL, addr[SG_ADDR_MAX];
		if (rnp_key_get_uid_at(key, i, &uid) == RNP_SUCCESS && uid != NULL &&
		    pgp_uid_address(uid, addr, sizeof(addr)) == 0 && sg_streq_nocase(addr, address))
			return uid;
		rnp_buffer_destroy(uid);
	}
	return NULL;
}

static int minimal_key(struct pgp_ctx *ctx, const char *fpr, const char *address,
                       unsigned char **bin_r, size_t *len_r, const char **error_r)
{
	rnp_key_handle_t key = pgp_priv_locate(ctx->ffi, fpr);
	char *uid = key != NULL ? uid_for(key, address) : NULL;
	rnp_output_t out = NULL;
	int rc = -1;
	*error_r = key == NULL ? "Autocrypt: no such key" : "Autocrypt: the key has no user ID "
	                                                    "for this address";
	if (uid != NULL && rnp_output_to_memory(&out, 0) == RNP_SUCCESS) {
		*error_r = "Autocrypt: key export failed";
		if (rnp_key_export_autocrypt(key, NULL, uid, out, 0) == RNP_SUCCESS &&
		    pgp_priv_output_take(out, SG_PGP_AUTOCRYPT_MAX / 2, bin_r, len_r) == 0)
			rc = 0;
	}
	rnp_output_destroy(out);
	rnp_buffer_destroy(uid);
	rnp_key_handle_destroy(key);
	return rc;
}

int pgp_autocrypt_format(struct pgp_ctx *ctx, const char *fpr, const char *address,
                         bool prefer_mutual, char **field_r, const char **error_r)
{
	unsigned char *bin = NULL;
	size_t blen = 0;
	if (minimal_key(ctx, fpr, address, &bin, &blen, error_r) < 0)
		return -1;
	size_t b64max = sodium_base64_ENCODED_LEN(blen, sodium_base64_VARIANT_ORIGINAL);
	char *b64 = sg_malloc(b64max);
	sodium_bin2base64(b64, b64max, bin, blen, sodium_base64_VARIANT_ORIGINAL);
	sg_free(&bin);
	struct sg_buf b;
	sg_buf_init(&b, SG_PGP_AUTOCRYPT_MAX);
	int rc = sg_buf_printf(&b, "Autocrypt: addr=%s;%s keydata=\r\n", address,
	                       prefer_mutual ? " prefer-encrypt=mutual;" : "");
	for (size_t i = 0, n = strlen(b64); rc == 0 && i < n; i += FOLD_WIDTH)
		rc = sg_buf_printf(&b, " %.*s\r\n", (int)(n - i < FOLD_WIDTH ? n - i : FOLD_WIDTH),
		                   b64 + i);
	sg_free(&b64);
	if (rc < 0) {
		sg_buf_free(&b);
		*error_r = "Autocrypt: key too large for the header";
		return -1;
	}
	size_t len = 0;
	*field_r = sg_buf_steal(&b, &len);
	return 0;
}

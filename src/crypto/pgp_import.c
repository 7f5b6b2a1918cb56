/* pgp_import.c: judges keys before they are stored. The bytes come from an admin's file or a
 * partner's Autocrypt header, so they are read into a throwaway RNP context and every key
 * gets a verdict with a reason an admin can act on; only accepted keys leave as bytes. */
#include "crypto/pgp.h"
#include "crypto/pgp_priv.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MIN_BITS 2048 /* RSA, DSA, ElGamal below this are refused as weak */
#define UIDS_MAX 100  /* user IDs looked at per key */

static bool addr_char(char c)
{
	return c > ' ' && c < 0x7f && strchr("<>()[]\\,;:\"", c) == NULL;
}

int pgp_uid_address(const char *uid, char *dst, size_t dstsize)
{
	const char *lt = strrchr(uid, '<');
	const char *start = uid, *end = uid + strlen(uid);
	if (lt != NULL) {
		start = lt + 1;
		end = strchr(start, '>');
		if (end == NULL)
			return -1;
	}
	size_t n = (size_t)(end - start);
	if (n == 0 || n >= dstsize)
		return -1;
	const char *at = memchr(start, '@', n);
	if (at == NULL || at == start || at == end - 1 || memchr(at + 1, '@', (size_t)(end - at - 1)))
		return -1;
	for (const char *p = start; p < end; p++)
		if (!addr_char(*p))
			return -1;
	memcpy(dst, start, n);
	dst[n] = '\0';
	sg_ascii_lower(dst);
	return 0;
}

/* When the key stops being usable: 0 never valid, UINT64_MAX never expires. */
static uint64_t valid_till(rnp_key_handle_t key)
{
	uint64_t till = 0;
	return rnp_key_valid_till64(key, &till) == RNP_SUCCESS ? till : 0;
}

bool pgp_priv_usable_at(rnp_key_handle_t key, time_t now)
{
	bool revoked = false;
	if (rnp_key_is_revoked(key, &revoked) != RNP_SUCCESS || revoked)
		return false;
	return valid_till(key) > (uint64_t)now;
}

static bool weak(rnp_key_handle_t key)
{
	char *alg = NULL;
	uint32_t bits = 0;
	bool w = rnp_key_get_alg(key, &alg) != RNP_SUCCESS || alg == NULL ||
	         rnp_key_get_bits(key, &bits) != RNP_SUCCESS ||
	         ((strcmp(alg, "RSA") == 0 || strcmp(alg, "DSA") == 0 ||
	           strcmp(alg, "ELGAMAL") == 0) && bits < MIN_BITS);
	rnp_buffer_destroy(alg);
	return w;
}

static bool can_encrypt(rnp_key_handle_t key, time_t now)
{
	bool allows = false;
	return rnp_key_allows_usage(key, "encrypt", &allows) == RNP_SUCCESS && allows &&
	       pgp_priv_usable_at(key, now) && !weak(key);
}

/* NULL if primary (or one of its subkeys) can take encrypted mail at now, else why not. */
static const char *encryption_reason(rnp_key_handle_t primary, time_t now)
{
	size_t n = 0;
	bool any_enc = false;
	if (can_encrypt(primary, now))
		return NULL;
	(void)rnp_key_get_subkey_count(primary, &n);
	for (size_t i = 0; i < n && i < 256; i++) {
		rnp_key_handle_t sub = NULL;
		bool allows = false;
		if (rnp_key_get_subkey_at(primary, i, &sub) != RNP_SUCCESS)
			continue;
		bool ok = can_encrypt(sub, now);
		any_enc |= rnp_key_allows_usage(sub, "encrypt", &allows) == RNP_SUCCESS && allows;
		rnp_key_handle_destroy(sub);
		if (ok)
			return NULL;
	}
	return any_enc ? "its encryption subkey is expired, revoked, weak or not validly bound"
	               : "sign-only key: it has no encryption-capable subkey";
}

static const char *primary_reason(rnp_key_handle_t key, time_t now)
{
	bool revoked = false;
	if (rnp_key_is_revoked(key, &revoked) == RNP_SUCCESS && revoked)
		return "the key is revoked";
	uint64_t till = valid_till(key);
	if (till == 0)
		return "no valid self-signature (the key is not bound to its user IDs)";
	if (till <= (uint64_t)now)
		return "the key is expired";
	if (weak(key))
		return "weak key: RSA, DSA and ElGamal keys need at least 2048 bits";
	return NULL;
}

static void add_address(struct pgp_key_report *r, const char *addr)
{
	for (size_t i = 0; i < r->naddresses; i++)
		if (strcmp(r->addresses[i], addr) == 0)
			return;
	r->addresses = sg_reallocarray(r->addresses, r->naddresses + 1, sizeof(char *));
	r->addresses[r->naddresses++] = sg_strdup(addr);
}

static void collect_addresses(rnp_key_handle_t key, struct pgp_key_report *r)
{
	size_t n = 0;
	(void)rnp_key_get_uid_count(key, &n);
	for (size_t i = 0; i < n && i < UIDS_MAX; i++) {
		rnp_uid_handle_t h = NULL;
		char *uid = NULL, addr[SG_ADDR_MAX];
		bool valid = false, revoked = true;
		if (rnp_key_get_uid_handle_at(key, i, &h) == RNP_SUCCESS) {
			(void)rnp_uid_is_valid(h, &valid);
			(void)rnp_uid_is_revoked(h, &revoked);
			rnp_uid_handle_destroy(h);
		}
		if (valid && !revoked && rnp_key_get_uid_at(key, i, &uid) == RNP_SUCCESS &&
		    uid != NULL && pgp_uid_address(uid, addr, sizeof(addr)) == 0)
			add_address(r, addr);
		rnp_buffer_destroy(uid);
	}
}

static void describe(rnp_key_handle_t key, struct pgp_key_report *r)
{
	char *alg = NULL, *curve = NULL, *uid = NULL;
	uint32_t bits = 0, created = 0, expiry = 0;
	(void)pgp_priv_fpr(key, r->fingerprint);
	(void)rnp_key_get_alg(key, &alg);
	(void)rnp_key_get_bits(key, &bits);
	if (rnp_key_get_curve(key, &curve) == RNP_SUCCESS && curve != NULL)
		(void)snprintf(r->algo, sizeof(r->algo), "%.10s %.12s", alg != NULL ? alg : "?", curve);
	else
		(void)snprintf(r->algo, sizeof(r->algo), "%.10s %u", alg != NULL ? alg : "?", bits);
	if (rnp_key_get_primary_uid(key, &uid) == RNP_SUCCESS && uid != NULL)
		sg_printable(r->uid, sizeof(r->uid), uid, 200);
	else if (rnp_key_get_uid_at(key, 0, &uid) == RNP_SUCCESS && uid != NULL)
		sg_printable(r->uid, sizeof(r->uid), uid, 200);
	(void)rnp_key_get_creation(key, &created);
	(void)rnp_key_get_expiration(key, &expiry);
	r->created = (time_t)created;
	r->expires = expiry != 0 ? (time_t)created + (time_t)expiry : 0;
	rnp_buffer_destroy(alg);
	rnp_buffer_destroy(curve);
	rnp_buffer_destroy(uid);
}

static int export_public(rnp_key_handle_t key, struct pgp_key_report *r)
{
	rnp_output_t out = NULL;
	int rc = -1;
	if (rnp_output_to_memory(&out, 0) == RNP_SUCCESS &&
	    rnp_key_export(key, out, RNP_KEY_EXPORT_PUBLIC | RNP_KEY_EXPORT_SUBKEYS) == RNP_SUCCESS &&
	    pgp_priv_output_take(out, SG_PGP_KEY_MAX, &r->pubkey, &r->pubkey_len) == 0)
		rc = 0;
	rnp_output_destroy(out);
	return rc;
}

/* ---- secret keys: what a gateway can decrypt and sign with ---- */

/* Looks at one part (primary or subkey) of a secret key for the report. */
static void secret_part(rnp_key_handle_t k, bool primary, time_t now, struct pgp_key_report *r,
                        size_t *present_r, size_t *enc_present_r)
{
	bool prot = false, sign = false;
	bool present = pgp_priv_secret_present(k);
	*present_r += present;
	if (present && rnp_key_is_protected(k, &prot) == RNP_SUCCESS && prot)
		r->secret_protected = true;
	if (can_encrypt(k, now)) {
		*enc_present_r += present;
		r->enc_stubs += !present;
	}
	bool usable = primary ? pgp_priv_usable_at(k, now) : pgp_priv_usable_at(k, now) && !weak(k);
	if (present && usable && rnp_key_allows_usage(k, "sign", &sign) == RNP_SUCCESS && sign)
		r->can_sign = true;
}

/* NULL if key (already accepted as a public key) is a secret key the gateway can hold. */
static const char *secret_reason(rnp_key_handle_t key, time_t now, struct pgp_key_report *r)
{
	size_t present = 0, enc_present = 0, n = 0;
	if (strlen(r->fingerprint) != 40)
		return "not a v4 key: only v4 secret keys can be held (RNP 0.16)";
	secret_part(key, true, now, r, &present, &enc_present);
	(void)rnp_key_get_subkey_count(key, &n);
	for (size_t i = 0; i < n && i < 256; i++) {
		rnp_key_handle_t sub = NULL;
		if (rnp_key_get_subkey_at(key, i, &sub) != RNP_SUCCESS)
			continue;
		secret_part(sub, false, now, r, &present, &enc_present);
		rnp_key_handle_destroy(sub);
	}
	if (present == 0)
		return "no secret key material (a public key: import it without --secret)";
	if (enc_present == 0)
		return "no secret part for any encryption subkey (gnu-dummy or smartcard stubs: the "
		       "secret stayed on another machine or a card); export it from there";
	return NULL;
}

static void judge(rnp_key_handle_t key, time_t now, bool secret, struct pgp_key_report *r)
{
	describe(key, r);
	collect_addresses(key, r);
	r->reason = primary_reason(key, now);
	if (r->reason == NULL)
		r->reason = encryption_reason(key, now);
	if (r->reason == NULL && r->naddresses == 0)
		r->reason = "no valid user ID with an e-mail address";
	if (r->reason == NULL && secret)
		r->reason = secret_reason(key, now, r);
	if (r->reason == NULL && export_public(key, r) < 0)
		r->reason = "the key is too large to store";
	r->accepted = r->reason == NULL;
}

static void judge_all(rnp_ffi_t ffi, time_t now, bool secret, struct pgp_key_report **reports_r,
                      size_t *count_r)
{
	rnp_identifier_iterator_t it = NULL;
	const char *fpr = NULL;
	struct pgp_key_report *reports = NULL;
	size_t n = 0;
	if (rnp_identifier_iterator_create(ffi, &it, "fingerprint") != RNP_SUCCESS)
		return;
	while (n < SG_PGP_KEYS_PER_IMPORT_MAX &&
	       rnp_identifier_iterator_next(it, &fpr) == RNP_SUCCESS && fpr != NULL) {
		rnp_key_handle_t key = NULL;
		bool primary = false;
		if (rnp_locate_key(ffi, "fingerprint", fpr, &key) == RNP_SUCCESS && key != NULL &&
		    rnp_key_is_primary(key, &primary) == RNP_SUCCESS && primary) {
			reports = sg_reallocarray(reports, n + 1, sizeof(*reports));
			memset(&reports[n], 0, sizeof(reports[n]));
			judge(key, now, secret, &reports[n++]);
		}
		rnp_key_handle_destroy(key);
	}
	rnp_identifier_iterator_destroy(it);
	*reports_r = reports;
	*count_r = n;
}

/* The version of the first key packet in data (armoured or binary), or -1: RNP 0.16 reads
 * no v5/v6 key at all, so this is how the refusal can name the reason. */
static int first_key_version(const unsigned char *data, size_t len)
{
	size_t n = 0;
	struct pgp_packet p;
	uint8_t *bin = pgp_priv_binary((const char *)data, len, &n);
	int v = -1;
	if (bin != NULL && pgp_priv_packet_at(bin, n, 0, &p) == 0 && (p.tag == 5 || p.tag == 6) &&
	    p.len > 0)
		v = bin[p.body];
	sg_free(&bin);
	return v;
}

static const char *unreadable_reason(const unsigned char *data, size_t len)
{
	switch (first_key_version(data, len)) {
	case 5:
		return "a v5 key: v5/v6 keys are not supported (this OpenPGP library, RNP 0.16, reads "
		       "v4 keys only)";
	case 6:
		return "a v6 key (RFC 9580): v5/v6 keys are not supported (this OpenPGP library, RNP "
		       "0.16, reads v4 keys only)";
	default:
		return "no OpenPGP key could be read (damaged data, or a v5/v6 key, which is not "
		       "supported)";
	}
}

static int inspect(const unsigned char *data, size_t len, time_t now, bool secret,
                   struct pgp_key_report **reports_r, size_t *count_r, const char **error_r)
{
	rnp_ffi_t ffi = NULL;
	*reports_r = NULL;
	*count_r = 0;
	if (len == 0 || len > SG_PGP_KEYFILE_MAX) {
		*error_r = len == 0 ? "the key file is empty" : "the key file is too large";
		return -1;
	}
	if (pgp_priv_ffi_new(&ffi) < 0) {
		*error_r = "OpenPGP: cannot create an RNP context";
		return -1;
	}
	uint32_t flags = RNP_LOAD_SAVE_PUBLIC_KEYS | RNP_LOAD_SAVE_PERMISSIVE |
	                 (secret ? RNP_LOAD_SAVE_SECRET_KEYS : 0);
	if (pgp_priv_import(ffi, data, len, flags) == 0)
		judge_all(ffi, now, secret, reports_r, count_r);
	rnp_ffi_destroy(ffi);
	if (*count_r == 0) {
		*error_r = unreadable_reason(data, len);
		return -1;
	}
	return 0;
}

int pgp_key_inspect(const unsigned char *data, size_t len, time_t now,
                    struct pgp_key_report **reports_r, size_t *count_r, const char **error_r)
{
	return inspect(data, len, now, false, reports_r, count_r, error_r);
}

int pgp_secret_inspect(const unsigned char *data, size_t len, time_t now,
                       struct pgp_key_report **reports_r, size_t *count_r, const char **error_r)
{
	return inspect(data, len, now, true, reports_r, count_r, error_r);
}

void pgp_key_reports_free(struct pgp_key_report **reports, size_t count)
{
	for (size_t i = 0; *reports != NULL && i < count; i++) {
		struct pgp_key_report *r = &(*reports)[i];
		for (size_t j = 0; j < r->naddresses; j++)
			sg_free(&r->addresses[j]);
		sg_free(&r->addresses);
		sg_free(&r->pubkey);
	}
	sg_free(reports);
}

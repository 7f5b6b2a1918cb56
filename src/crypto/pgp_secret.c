/* pgp_secret.c: secret keys that come from elsewhere (an employee's GnuPG, another gateway's
 * export) and the choice of the key that signs when an address holds several. An imported key
 * ends up exactly like a generated one: its passphrase protection is removed in memory and the
 * clear key is sealed with the master key for "pgp:<FPR>" (pgp_secret_seal); at rest there is
 * only the sealed blob, never the key in clear and never the passphrase. */
#include "crypto/pgp.h"
#include "crypto/pgp_priv.h"
#include "core/sg_mem.h"

#include <string.h>
#include <time.h>

/* Removes the protection of one part: 0 done (or nothing to do), -1 with *error_r. */
static int open_part(rnp_key_handle_t k, const char *passphrase, const char **error_r)
{
	bool prot = false;
	if (!pgp_priv_secret_present(k) || rnp_key_is_protected(k, &prot) != RNP_SUCCESS || !prot)
		return 0;
	if (passphrase == NULL) {
		*error_r = "the secret key is protected by a passphrase: give it on standard input "
		           "with --passphrase-stdin";
		return -1;
	}
	/* runs the S2K with the passphrase and keeps the clear key in RNP's memory only */
	if (rnp_key_unprotect(k, passphrase) != RNP_SUCCESS) {
		*error_r = "wrong passphrase: it does not unlock the secret key (nothing was stored)";
		return -1;
	}
	return 0;
}

/* A Cv25519 secret scalar written without the bits RFC 7748 clamps (older GnuPG and other
 * tools did) is clamped once here, as Thunderbird does on import: RNP refuses it otherwise. */
static int tweak_25519(rnp_key_handle_t k, const char **error_r)
{
	char *curve = NULL;
	bool tweaked = true;
	bool x25519 = pgp_priv_secret_present(k) && rnp_key_get_curve(k, &curve) == RNP_SUCCESS &&
	              curve != NULL && strcmp(curve, "Curve25519") == 0;
	rnp_buffer_destroy(curve);
	if (!x25519 || rnp_key_25519_bits_tweaked(k, &tweaked) != RNP_SUCCESS || tweaked)
		return 0;
	if (rnp_key_25519_bits_tweak(k) != RNP_SUCCESS) {
		*error_r = "OpenPGP: cannot clamp the Curve25519 secret key";
		return -1;
	}
	return 0;
}

static int open_all(rnp_key_handle_t primary, const char *passphrase, const char **error_r)
{
	size_t n = 0;
	if (open_part(primary, passphrase, error_r) < 0)
		return -1;
	(void)rnp_key_get_subkey_count(primary, &n);
	for (size_t i = 0; i < n && i < PGP_PRIV_SUBKEYS_MAX; i++) {
		rnp_key_handle_t sub = NULL;
		if (rnp_key_get_subkey_at(primary, i, &sub) != RNP_SUCCESS)
			continue;
		int rc = open_part(sub, passphrase, error_r) == 0 ? tweak_25519(sub, error_r) : -1;
		rnp_key_handle_destroy(sub);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* The sealed blob must open into a usable key, as the mail path will open it. */
static int check_sealed(const struct keystore *ks, const char *fpr, const unsigned char *blob,
                        size_t blob_len, const char **error_r)
{
	struct pgp_ctx *check = NULL;
	int rc = -1;
	if (pgp_ctx_new(&check, error_r) == 0 &&
	    pgp_secret_unseal(check, ks, fpr, blob, blob_len, error_r) == 0)
		rc = 0;
	pgp_ctx_free(&check);
	return rc;
}

int pgp_secret_take(const unsigned char *data, size_t len, const char *fpr,
                    const char *passphrase, const struct keystore *ks, unsigned char **blob_r,
                    size_t *blob_len_r, const char **error_r)
{
	struct pgp_ctx *ctx = NULL;
	rnp_key_handle_t key = NULL;
	int rc = -1;
	*blob_r = NULL;
	*blob_len_r = 0;
	if (pgp_ctx_new(&ctx, error_r) < 0)
		return -1;
	*error_r = "OpenPGP: cannot read the secret key";
	if (pgp_priv_import(ctx->ffi, data, len,
	                    RNP_LOAD_SAVE_PUBLIC_KEYS | RNP_LOAD_SAVE_SECRET_KEYS |
	                        RNP_LOAD_SAVE_PERMISSIVE) < 0 ||
	    (key = pgp_priv_locate(ctx->ffi, fpr)) == NULL)
		goto done;
	if (open_all(key, passphrase, error_r) < 0 ||
	    pgp_secret_seal(ctx, ks, fpr, blob_r, blob_len_r, error_r) < 0)
		goto done;
	if (check_sealed(ks, fpr, *blob_r, *blob_len_r, error_r) < 0) {
		sg_free(blob_r);
		*blob_len_r = 0;
		goto done;
	}
	rc = 0;
done:
	rnp_key_handle_destroy(key);
	pgp_ctx_free(&ctx); /* RNP wipes the key material it frees */
	return rc;
}

/* ---- which key signs ---- */

static bool part_signs(rnp_key_handle_t k, time_t now, bool need_secret)
{
	bool sign = false;
	return rnp_key_allows_usage(k, "sign", &sign) == RNP_SUCCESS && sign &&
	       pgp_priv_usable_at(k, now) && (!need_secret || pgp_priv_secret_present(k));
}

struct sign_test {
	time_t now;
	bool need_secret;
};

static bool signs_fit(rnp_key_handle_t key, const void *arg)
{
	const struct sign_test *t = arg;
	return part_signs(key, t->now, t->need_secret);
}

/* True if primary (valid at now) or one of its subkeys can sign. */
static bool key_signs(rnp_key_handle_t primary, time_t now, bool need_secret)
{
	struct sign_test t = {.now = now, .need_secret = need_secret};
	if (!pgp_priv_usable_at(primary, now))
		return false;
	if (part_signs(primary, now, need_secret))
		return true;
	rnp_key_handle_t sub = pgp_priv_newest_subkey(primary, signs_fit, &t);
	bool any = sub != NULL;
	rnp_key_handle_destroy(sub);
	return any;
}

rnp_key_handle_t pgp_priv_signing_key(rnp_ffi_t ffi, const char *fpr)
{
	rnp_key_handle_t primary = pgp_priv_locate(ffi, fpr);
	time_t now = time(NULL);
	if (primary == NULL || part_signs(primary, now, true))
		return primary;
	struct sign_test t = {.now = now, .need_secret = true};
	rnp_key_handle_t sub = pgp_priv_newest_subkey(primary, signs_fit, &t);
	rnp_key_handle_destroy(primary);
	return sub;
}

int pgp_pick_signer(struct pgp_ctx *ctx, const char *const *fprs, size_t n, time_t now,
                    bool need_secret)
{
	int best = -1;
	uint32_t best_created = 0;
	for (size_t i = 0; i < n && i < (size_t)SG_PGP_KEYS_PER_IMPORT_MAX; i++) {
		rnp_key_handle_t key = pgp_priv_locate(ctx->ffi, fprs[i]);
		uint32_t created = 0;
		if (key != NULL && key_signs(key, now, need_secret) &&
		    rnp_key_get_creation(key, &created) == RNP_SUCCESS &&
		    (best < 0 || created > best_created)) {
			best = (int)i;
			best_created = created;
		}
		rnp_key_handle_destroy(key);
	}
	return best;
}

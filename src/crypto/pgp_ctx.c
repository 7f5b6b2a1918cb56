/* pgp_ctx.c: an RNP key ring in memory per thread, key generation, export, and the sealing of
 * gateway-held secret keys: the unprotected transferable secret key is sealed by the keystore
 * for owner "pgp:<FPR>", so a blob copied to another key's row does not open. */
#include "crypto/pgp.h"
#include "crypto/pgp_priv.h"
#include "crypto/keystore_priv.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <ctype.h>
#include <sodium.h>
#include <string.h>

#define SEAL_OWNER_PREFIX "pgp:"

/* Nothing may prompt: a key that needs a password we did not give stays locked. */
static bool no_password(rnp_ffi_t ffi, void *app_ctx, rnp_key_handle_t key,
                        const char *pgp_context, char buf[], size_t buf_len)
{
	(void)ffi, (void)app_ctx, (void)key, (void)pgp_context, (void)buf, (void)buf_len;
	return false;
}

int pgp_priv_ffi_new(rnp_ffi_t *ffi_r)
{
	if (rnp_ffi_create(ffi_r, "GPG", "GPG") != RNP_SUCCESS)
		return -1;
	rnp_ffi_set_pass_provider(*ffi_r, no_password, NULL);
	return 0;
}

int pgp_ctx_new(struct pgp_ctx **ctx_r, const char **error_r)
{
	struct pgp_ctx *ctx = sg_calloc(1, sizeof(*ctx));
	if (pgp_priv_ffi_new(&ctx->ffi) < 0) {
		sg_free(&ctx);
		*error_r = "OpenPGP: cannot create an RNP context";
		return -1;
	}
	*ctx_r = ctx;
	return 0;
}

void pgp_ctx_free(struct pgp_ctx **ctx)
{
	if (*ctx == NULL)
		return;
	pgp_seipd_cache_free(&(*ctx)->seipd);
	rnp_ffi_destroy((*ctx)->ffi);
	sg_free(ctx);
}

int pgp_priv_output_take(rnp_output_t out, size_t max, unsigned char **data_r, size_t *len_r)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	if (rnp_output_memory_get_buf(out, &buf, &len, false) != RNP_SUCCESS || len > max)
		return -1;
	unsigned char *copy = sg_malloc(sg_size_add(len, 1));
	if (len > 0)
		memcpy(copy, buf, len);
	copy[len] = '\0';
	*data_r = copy;
	*len_r = len;
	return 0;
}

rnp_key_handle_t pgp_priv_locate(rnp_ffi_t ffi, const char *fpr)
{
	rnp_key_handle_t key = NULL;
	char up[PGP_FPR_MAX];
	if (sg_strlcpy(up, fpr, sizeof(up)) >= sizeof(up))
		return NULL;
	for (char *p = up; *p != '\0'; p++)
		*p = (char)toupper((unsigned char)*p);
	if (rnp_locate_key(ffi, "fingerprint", up, &key) != RNP_SUCCESS)
		return NULL;
	return key;
}

rnp_key_handle_t pgp_priv_newest_subkey(rnp_key_handle_t primary,
                                        bool (*fit)(rnp_key_handle_t, const void *),
                                        const void *arg)
{
	size_t count = 0;
	rnp_key_handle_t best = NULL;
	uint32_t best_created = 0;
	if (rnp_key_get_subkey_count(primary, &count) != RNP_SUCCESS)
		return NULL;
	for (size_t i = 0; i < count && i < PGP_PRIV_SUBKEYS_MAX; i++) {
		rnp_key_handle_t sub = NULL;
		uint32_t created = 0;
		if (rnp_key_get_subkey_at(primary, i, &sub) != RNP_SUCCESS)
			continue;
		if (fit(sub, arg) && rnp_key_get_creation(sub, &created) == RNP_SUCCESS &&
		    (best == NULL || created > best_created)) {
			rnp_key_handle_destroy(best);
			best = sub;
			best_created = created;
		} else {
			rnp_key_handle_destroy(sub);
		}
	}
	return best;
}

int pgp_priv_fpr(rnp_key_handle_t key, char *dst)
{
	char *f = NULL;
	if (rnp_key_get_fprint(key, &f) != RNP_SUCCESS || f == NULL ||
	    sg_strlcpy(dst, f, PGP_FPR_MAX) >= PGP_FPR_MAX) {
		rnp_buffer_destroy(f);
		dst[0] = '\0';
		return -1;
	}
	rnp_buffer_destroy(f);
	return 0;
}

void pgp_priv_key_address(rnp_key_handle_t key, char *dst, size_t dstsize)
{
	char *uid = NULL;
	dst[0] = '\0';
	if (rnp_key_get_primary_uid(key, &uid) == RNP_SUCCESS && uid != NULL &&
	    pgp_uid_address(uid, dst, dstsize) == 0) {
		rnp_buffer_destroy(uid);
		return;
	}
	rnp_buffer_destroy(uid);
	size_t n = 0;
	(void)rnp_key_get_uid_count(key, &n);
	for (size_t i = 0; i < n && i < 100; i++) {
		uid = NULL;
		int ok = rnp_key_get_uid_at(key, i, &uid) == RNP_SUCCESS && uid != NULL &&
		         pgp_uid_address(uid, dst, dstsize) == 0;
		rnp_buffer_destroy(uid);
		if (ok)
			return;
	}
	dst[0] = '\0';
}

int pgp_priv_import(rnp_ffi_t ffi, const unsigned char *data, size_t len, uint32_t flags)
{
	rnp_input_t in = NULL;
	char *json = NULL;
	if (len == 0 || len > SG_PGP_KEYFILE_MAX ||
	    rnp_input_from_memory(&in, data, len, false) != RNP_SUCCESS)
		return -1;
	rnp_result_t rc = rnp_import_keys(ffi, in, flags, &json);
	rnp_buffer_destroy(json);
	rnp_input_destroy(in);
	return rc == RNP_SUCCESS ? 0 : -1;
}

int pgp_ctx_load_public(struct pgp_ctx *ctx, const unsigned char *data, size_t len,
                        const char **error_r)
{
	if (pgp_priv_import(ctx->ffi, data, len, RNP_LOAD_SAVE_PUBLIC_KEYS) < 0) {
		*error_r = "OpenPGP: cannot read the public key";
		return -1;
	}
	return 0;
}

bool pgp_priv_secret_present(rnp_key_handle_t key)
{
	bool have = false;
	char *type = NULL;
	if (rnp_key_have_secret(key, &have) != RNP_SUCCESS || !have)
		return false;
	/* an offline primary (gnu-dummy S2K) or a key on a card: RNP says "have" all the same */
	bool stub = rnp_key_get_protection_type(key, &type) == RNP_SUCCESS && type != NULL &&
	            (strcmp(type, "GPG-None") == 0 || strcmp(type, "GPG-Smartcard") == 0);
	rnp_buffer_destroy(type);
	return !stub;
}

/* Unlocks key if it holds protected secret material: 1 unlocked (or nothing to unlock),
 * 0 no secret here (offline primary), -1 wrong passphrase. */
static int unlock_one(rnp_key_handle_t key, const char *passphrase)
{
	bool prot = false, locked = false;
	if (!pgp_priv_secret_present(key))
		return 0;
	if (rnp_key_is_protected(key, &prot) != RNP_SUCCESS || !prot)
		return 1;
	if (rnp_key_is_locked(key, &locked) == RNP_SUCCESS && !locked)
		return 1;
	if (passphrase == NULL)
		return -1;
	return rnp_key_unlock(key, passphrase) == RNP_SUCCESS ? 1 : -1;
}

/* Unlocks every secret key and subkey in ffi; -1 if one refused the passphrase or none
 * holds usable secret material. */
static int unlock_all(rnp_ffi_t ffi, const char *passphrase)
{
	rnp_identifier_iterator_t it = NULL;
	const char *fpr = NULL;
	int unlocked = 0, bad = 0;
	if (rnp_identifier_iterator_create(ffi, &it, "fingerprint") != RNP_SUCCESS)
		return -1;
	while (rnp_identifier_iterator_next(it, &fpr) == RNP_SUCCESS && fpr != NULL) {
		rnp_key_handle_t key = NULL;
		if (rnp_locate_key(ffi, "fingerprint", fpr, &key) != RNP_SUCCESS || key == NULL)
			continue;
		int rc = unlock_one(key, passphrase);
		unlocked += rc > 0;
		bad += rc < 0;
		rnp_key_handle_destroy(key);
	}
	rnp_identifier_iterator_destroy(it);
	return bad > 0 || unlocked == 0 ? -1 : 0;
}

int pgp_ctx_load_secret(struct pgp_ctx *ctx, const unsigned char *data, size_t len,
                        const char *passphrase, const char **error_r)
{
	if (pgp_priv_import(ctx->ffi, data, len,
	                    RNP_LOAD_SAVE_PUBLIC_KEYS | RNP_LOAD_SAVE_SECRET_KEYS) < 0) {
		*error_r = "OpenPGP: cannot read the secret key";
		return -1;
	}
	if (unlock_all(ctx->ffi, passphrase) < 0) {
		*error_r = "OpenPGP: the secret key does not unlock (wrong or missing passphrase)";
		return -1;
	}
	return 0;
}

bool pgp_ctx_has_key(struct pgp_ctx *ctx, const char *fpr, bool secret)
{
	rnp_key_handle_t key = pgp_priv_locate(ctx->ffi, fpr);
	bool have = key != NULL;
	if (have && secret)
		have = rnp_key_have_secret(key, &have) == RNP_SUCCESS && have;
	rnp_key_handle_destroy(key);
	return have;
}

/* True if user ID i of key is valid (self-signed, unrevoked) and names address. */
static bool uid_names(rnp_key_handle_t key, size_t i, const char *address)
{
	rnp_uid_handle_t h = NULL;
	char *uid = NULL, addr[SG_ADDR_MAX];
	bool valid = false, revoked = true;
	if (rnp_key_get_uid_handle_at(key, i, &h) == RNP_SUCCESS && h != NULL &&
	    (rnp_uid_is_valid(h, &valid) != RNP_SUCCESS || rnp_uid_is_revoked(h, &revoked) !=
	                                                       RNP_SUCCESS))
		valid = false;
	bool names = valid && !revoked && rnp_key_get_uid_at(key, i, &uid) == RNP_SUCCESS &&
	             uid != NULL && pgp_uid_address(uid, addr, sizeof(addr)) == 0 &&
	             sg_streq_nocase(addr, address);
	rnp_buffer_destroy(uid);
	rnp_uid_handle_destroy(h);
	return names;
}

bool pgp_ctx_key_has_address(struct pgp_ctx *ctx, const char *fpr, const char *address)
{
	rnp_key_handle_t key = pgp_priv_locate(ctx->ffi, fpr);
	size_t n = 0;
	bool found = false;
	if (key != NULL && rnp_key_get_uid_count(key, &n) == RNP_SUCCESS)
		for (size_t i = 0; i < n && i < 100 && !found; i++)
			found = uid_names(key, i, address);
	rnp_key_handle_destroy(key);
	return found;
}

int pgp_algo_parse(const char *name, enum pgp_algo *algo_r)
{
	if (strcmp(name, "ed25519") == 0)
		*algo_r = PGP_ALGO_ED25519;
	else if (strcmp(name, "rsa3072") == 0)
		*algo_r = PGP_ALGO_RSA3072;
	else
		return -1;
	return 0;
}

static rnp_result_t gen_run(rnp_op_generate_t op, const char *curve, uint32_t bits,
                            const char *const *usage, rnp_key_handle_t *key_r)
{
	rnp_result_t rc = RNP_SUCCESS;
	if (curve != NULL)
		rc = rnp_op_generate_set_curve(op, curve);
	if (rc == RNP_SUCCESS && bits != 0)
		rc = rnp_op_generate_set_bits(op, bits);
	if (rc == RNP_SUCCESS)
		rc = rnp_op_generate_clear_usage(op);
	for (size_t i = 0; rc == RNP_SUCCESS && usage[i] != NULL; i++)
		rc = rnp_op_generate_add_usage(op, usage[i]);
	if (rc == RNP_SUCCESS)
		rc = rnp_op_generate_set_expiration(op, 0);
	if (rc == RNP_SUCCESS)
		rc = rnp_op_generate_execute(op);
	if (rc == RNP_SUCCESS)
		rc = rnp_op_generate_get_key(op, key_r);
	rnp_op_generate_destroy(op);
	return rc;
}

static const char *const primary_usage[] = {"sign", "certify", NULL};
static const char *const sub_usage[] = {"encrypt", NULL};

int pgp_generate(struct pgp_ctx *ctx, const char *address, const char *name,
                 enum pgp_algo algo, char *fpr_r, const char **error_r)
{
	char uid[SG_ADDR_MAX + 256];
	bool rsa = algo == PGP_ALGO_RSA3072;
	rnp_op_generate_t op = NULL;
	rnp_key_handle_t primary = NULL, sub = NULL;
	*error_r = "OpenPGP: key generation failed";
	if (sg_snprintf(uid, sizeof(uid), "%s%s<%s>", name != NULL ? name : "",
	                name != NULL && name[0] != '\0' ? " " : "", address) < 0) {
		*error_r = "OpenPGP: user ID too long";
		return -1;
	}
	if (rnp_op_generate_create(&op, ctx->ffi, rsa ? "RSA" : "EDDSA") != RNP_SUCCESS ||
	    rnp_op_generate_set_userid(op, uid) != RNP_SUCCESS) {
		rnp_op_generate_destroy(op);
		return -1;
	}
	if (gen_run(op, NULL, rsa ? 3072 : 0, primary_usage, &primary) != RNP_SUCCESS)
		return -1;
	op = NULL;
	int rc = -1;
	if (rnp_op_generate_subkey_create(&op, ctx->ffi, primary, rsa ? "RSA" : "ECDH") ==
	        RNP_SUCCESS &&
	    gen_run(op, rsa ? NULL : "Curve25519", rsa ? 3072 : 0, sub_usage, &sub) == RNP_SUCCESS &&
	    pgp_priv_fpr(primary, fpr_r) == 0)
		rc = 0;
	rnp_key_handle_destroy(sub);
	rnp_key_handle_destroy(primary);
	return rc;
}

static int export_key(struct pgp_ctx *ctx, const char *fpr, uint32_t flags, size_t max,
                      unsigned char **out_r, size_t *out_len_r, const char **error_r)
{
	rnp_key_handle_t key = pgp_priv_locate(ctx->ffi, fpr);
	rnp_output_t out = NULL;
	int rc = -1;
	*error_r = "OpenPGP: no such key";
	if (key == NULL || rnp_output_to_memory(&out, 0) != RNP_SUCCESS)
		goto done;
	*error_r = "OpenPGP: key export failed";
	if (rnp_key_export(key, out, flags | RNP_KEY_EXPORT_SUBKEYS) == RNP_SUCCESS &&
	    pgp_priv_output_take(out, max, out_r, out_len_r) == 0)
		rc = 0;
done:
	if (out != NULL) {
		uint8_t *buf = NULL;
		size_t len = 0;
		if (rnp_output_memory_get_buf(out, &buf, &len, false) == RNP_SUCCESS && buf != NULL)
			sg_wipe(buf, len); /* secret exports must not linger in freed memory */
		rnp_output_destroy(out);
	}
	rnp_key_handle_destroy(key);
	return rc;
}

int pgp_export_public(struct pgp_ctx *ctx, const char *fpr, bool armored, unsigned char **out_r,
                      size_t *out_len_r, const char **error_r)
{
	uint32_t flags = RNP_KEY_EXPORT_PUBLIC | (armored ? RNP_KEY_EXPORT_ARMORED : 0);
	return export_key(ctx, fpr, flags, SG_PGP_KEY_MAX * 2, out_r, out_len_r, error_r);
}

static int seal_owner(const char *fpr, char *owner, size_t size, const char **error_r)
{
	if (sg_snprintf(owner, size, "%s%s", SEAL_OWNER_PREFIX, fpr) < 0) {
		*error_r = "OpenPGP: fingerprint too long";
		return -1;
	}
	for (char *p = owner + strlen(SEAL_OWNER_PREFIX); *p != '\0'; p++)
		*p = (char)toupper((unsigned char)*p);
	return 0;
}

int pgp_secret_seal(struct pgp_ctx *ctx, const struct keystore *ks, const char *fpr,
                    unsigned char **blob_r, size_t *blob_len_r, const char **error_r)
{
	char owner[128];
	unsigned char *sec = NULL;
	size_t sec_len = 0;
	if (seal_owner(fpr, owner, sizeof(owner), error_r) < 0 ||
	    export_key(ctx, fpr, RNP_KEY_EXPORT_SECRET, SG_SEALED_KEY_MAX - 128, &sec, &sec_len,
	               error_r) < 0)
		return -1;
	int rc = keystore_seal_bytes(ks, sec, sec_len, owner, blob_r, blob_len_r, error_r);
	sg_free_secret(&sec, sec_len);
	return rc;
}

int pgp_secret_unseal(struct pgp_ctx *ctx, const struct keystore *ks, const char *fpr,
                      const unsigned char *blob, size_t blob_len, const char **error_r)
{
	char owner[128];
	unsigned char *sec = NULL;
	size_t sec_len = 0;
	if (seal_owner(fpr, owner, sizeof(owner), error_r) < 0 ||
	    keystore_unseal_bytes(ks, blob, blob_len, owner, &sec, &sec_len, error_r) < 0)
		return -1;
	int rc = -1;
	if (pgp_ctx_load_secret(ctx, sec, sec_len, NULL, error_r) == 0 &&
	    pgp_ctx_has_key(ctx, fpr, true))
		rc = 0;
	else
		*error_r = "OpenPGP: sealed key opened but holds no usable secret key";
	sg_free_secret(&sec, sec_len);
	return rc;
}

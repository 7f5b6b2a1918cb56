/* pdf_account.c: a partner's SecurePDF record in the store. The password becomes {U, K}, which
 * is sealed with the master key for owner "pdf:<address>"; the password itself is never kept.
 * The CLI (user add-external, passwd) and the portal (registration, reset) both come here. */
#include "pdf/pdf.h"
#include "pdf/pdf_priv.h"

#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "crypto/keystore.h"
#include "store/store.h"

#include <stdio.h>

_Static_assert(PDF_KEY_U_LEN == KEYSTORE_PDF_U_LEN && PDF_KEY_K_LEN == KEYSTORE_PDF_K_LEN,
               "the SecurePDF record as keystore_pdf_wrap reads it");

static void owner_of(const char *address, char *owner, size_t size)
{
	snprintf(owner, size, "pdf:%s", address);
	sg_ascii_lower(owner);
}

int pdf_account_set_password(struct store *st, const struct keystore *ks, int64_t user_id,
                             const char *address, const char *password, size_t min_chars,
                             const char **error_r)
{
	struct pdf_key *key = NULL;
	if (pdf_key_derive(password, min_chars, &key, error_r) < 0)
		return -1;
	unsigned char bytes[PDF_KEY_LEN], *sealed = NULL;
	size_t sealed_len = 0;
	char owner[SG_ADDR_MAX + 8];
	owner_of(address, owner, sizeof(owner));
	pdf_key_to_bytes(key, bytes);
	pdf_key_free(&key);
	int rc = keystore_seal_bytes(ks, bytes, sizeof(bytes), owner, &sealed, &sealed_len,
	                             error_r) == 0 &&
	                 store_pdf_key_set(st, user_id, sealed, sealed_len, error_r) == 0
	             ? 0
	             : -1;
	sg_wipe(bytes, sizeof(bytes));
	sg_free(&sealed);
	return rc;
}

/* U and a fresh file key wrapped by K, from the sealed record (K stays with the key holder). */
static int wrapped_key(const struct keystore *ks, const unsigned char *sealed, size_t len,
                       const char *owner, struct pdf_key **key_r, const char **error_r)
{
	if (ks == NULL) {
		*error_r = "the master key is not loaded";
		return -1;
	}
	struct pdf_key *key = sg_calloc(1, sizeof(*key));
	key->wrapped = true;
	pdf_r6_random(key->fk, sizeof(key->fk));
	if (keystore_pdf_wrap(ks, sealed, len, owner, key->fk, key->u, key->ue, error_r) < 0) {
		pdf_key_free(&key);
		return -1;
	}
	*key_r = key;
	return 0;
}

int pdf_account_key(struct store *st, const struct keystore *ks, const char *address,
                    struct pdf_key **key_r, const char **error_r)
{
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	char owner[SG_ADDR_MAX + 8];
	owner_of(address, owner, sizeof(owner));
	int rc = store_pdf_key_get(st, address, &sealed, &sealed_len, error_r);
	if (rc == 0)
		*error_r = "the recipient has no SecurePDF password (not registered)";
	if (rc == 1)
		rc = wrapped_key(ks, sealed, sealed_len, owner, key_r, error_r) == 0 ? 1 : -1;
	sg_free(&sealed);
	return rc;
}

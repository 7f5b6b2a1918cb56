/* pdf_account.c: a partner's SecurePDF record in the store. The password becomes {U, K}, which
 * is sealed with the master key for owner "pdf:<address>"; the password itself is never kept.
 * The CLI (user add-external, passwd) and the portal (registration, reset) both come here. */
#include "pdf/pdf.h"

#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "crypto/keystore.h"
#include "store/store.h"

#include <stdio.h>

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

int pdf_account_key(struct store *st, const struct keystore *ks, const char *address,
                    struct pdf_key **key_r, const char **error_r)
{
	unsigned char *sealed = NULL, *bytes = NULL;
	size_t sealed_len = 0, len = 0;
	char owner[SG_ADDR_MAX + 8];
	owner_of(address, owner, sizeof(owner));
	int rc = store_pdf_key_get(st, address, &sealed, &sealed_len, error_r);
	if (rc == 0)
		*error_r = "the recipient has no SecurePDF password (not registered)";
	if (rc == 1)
		rc = ks != NULL &&
		             keystore_unseal_bytes(ks, sealed, sealed_len, owner, &bytes, &len,
		                                   error_r) == 0 &&
		             pdf_key_from_bytes(bytes, len, key_r, error_r) == 0
		         ? 1
		         : -1;
	sg_free_secret(&bytes, len);
	sg_free(&sealed);
	return rc;
}

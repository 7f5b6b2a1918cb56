/* keystore_pdfwrap.c: keystore_pdf_wrap (keystore.h). The record is opened, used for one
 * AES block pair and wiped again; in a role served by keyd the whole of it runs there. */
#include "crypto/keystore.h"
#include "crypto/keystore_priv.h"
#include "crypto/keystore_remote.h"
#include "core/sg_mem.h"

#include <openssl/evp.h>
#include <string.h>

#define RECORD_LEN (KEYSTORE_PDF_U_LEN + KEYSTORE_PDF_K_LEN)

static int wrap_under(const unsigned char *k, const unsigned char fk[32], unsigned char ue[32])
{
	static const unsigned char zero_iv[16];
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, m = 0;
	int ok = c != NULL && EVP_EncryptInit_ex(c, EVP_aes_256_cbc(), NULL, k, zero_iv) == 1 &&
	         EVP_CIPHER_CTX_set_padding(c, 0) == 1 && EVP_EncryptUpdate(c, ue, &n, fk, 32) == 1 &&
	         EVP_EncryptFinal_ex(c, ue + n, &m) == 1 && n + m == 32;
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -1;
}

int keystore_pdf_wrap(const struct keystore *ks, const unsigned char *blob, size_t blob_len,
                      const char *owner, const unsigned char fk[32],
                      unsigned char u_r[KEYSTORE_PDF_U_LEN], unsigned char ue_r[32],
                      const char **error_r)
{
	if (keystore_is_remote(ks)) {
		const struct keystore_remote_ops *r = keystore_remote();
		*error_r = "the key process cannot wrap SecurePDF keys";
		return r->pdf_wrap != NULL ? r->pdf_wrap(blob, blob_len, owner, fk, u_r, ue_r, error_r)
		                           : -1;
	}
	unsigned char *rec = NULL;
	size_t len = 0;
	if (keystore_unseal_bytes(ks, blob, blob_len, owner, &rec, &len, error_r) < 0)
		return -1;
	int rc = len == RECORD_LEN ? wrap_under(rec + KEYSTORE_PDF_U_LEN, fk, ue_r) : -1;
	if (rc == 0)
		memcpy(u_r, rec, KEYSTORE_PDF_U_LEN);
	else
		*error_r = "SecurePDF record has the wrong length";
	sg_free_secret(&rec, len);
	return rc;
}

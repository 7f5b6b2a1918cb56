/* pdf_key.c: a partner's password becomes the stored {U, K} and is then forgotten. Passwords
 * are refused rather than normalised: a password that SASLprep changes would be hashed as
 * different bytes by Acrobat (which applies SASLprep) and by qpdf/poppler (which do not). */
#include "pdf/pdf_priv.h"

#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <stringprep.h>

static _Thread_local char key_error[160];

static int saslprep_stable(const char *pw, const char **error_r)
{
	char *out = NULL;
	int rc = stringprep_profile(pw, &out, "SASLprep", STRINGPREP_NO_UNASSIGNED);
	if (rc != STRINGPREP_OK) {
		*error_r = "password contains a character that PDF passwords may not hold (a control "
		           "character, an unassigned code point or mixed right-to-left text)";
		return -1;
	}
	bool same = strcmp(out, pw) == 0;
	sg_wipe(out, strlen(out));
	free(out);
	if (!same) {
		*error_r = "password would be changed by SASLprep normalisation (for example a "
		           "no-break space, a ligature, full-width or decomposed letters), so PDF "
		           "readers would disagree on it: type it with plain characters";
		return -1;
	}
	return 0;
}

int pdf_key_check_password(const char *pw, size_t min_chars, const char **error_r)
{
	size_t len = strnlen(pw, PDF_PASSWORD_MAX + 1);
	if (len > PDF_PASSWORD_MAX) {
		*error_r = "password is longer than 127 bytes (the PDF limit)";
		return -1;
	}
	if (!g_utf8_validate(pw, (gssize)len, NULL)) {
		*error_r = "password is not valid UTF-8";
		return -1;
	}
	size_t chars = (size_t)g_utf8_strlen(pw, (gssize)len);
	if (chars < min_chars) {
		(void)snprintf(key_error, sizeof(key_error),
		               "password is too short: %zu characters, at least %zu required", chars,
		               min_chars);
		*error_r = key_error;
		return -1;
	}
	return saslprep_stable(pw, error_r);
}

int pdf_key_derive(const char *pw, size_t min_chars, struct pdf_key **key_r,
                   const char **error_r)
{
	*key_r = NULL;
	if (pdf_key_check_password(pw, min_chars, error_r) < 0)
		return -1;
	struct pdf_key *key = sg_calloc(1, sizeof(*key));
	const unsigned char *p = (const unsigned char *)pw;
	size_t len = strlen(pw);
	unsigned char *vsalt = key->u + 32, *ksalt = key->u + 40;
	pdf_r6_random(key->u + 32, 16);
	pdf_r6_hash(p, len, vsalt, NULL, 0, key->u);
	pdf_r6_hash(p, len, ksalt, NULL, 0, key->k);
	*key_r = key;
	return 0;
}

bool pdf_key_verify_password(const struct pdf_key *key, const char *pw)
{
	unsigned char h[PDF_R6_HASH_LEN];
	size_t len = strnlen(pw, PDF_PASSWORD_MAX + 1);
	if (len > PDF_PASSWORD_MAX)
		return false;
	pdf_r6_hash((const unsigned char *)pw, len, key->u + 32, NULL, 0, h);
	unsigned char diff = 0;
	for (size_t i = 0; i < sizeof(h); i++)
		diff |= (unsigned char)(h[i] ^ key->u[i]);
	sg_wipe(h, sizeof(h));
	return diff == 0;
}

void pdf_key_to_bytes(const struct pdf_key *key, unsigned char out[PDF_KEY_LEN])
{
	memcpy(out, key->u, PDF_KEY_U_LEN);
	memcpy(out + PDF_KEY_U_LEN, key->k, PDF_KEY_K_LEN);
}

int pdf_key_from_bytes(const unsigned char *b, size_t len, struct pdf_key **key_r,
                       const char **error_r)
{
	*key_r = NULL;
	if (len != PDF_KEY_LEN) {
		*error_r = "PDF key record has the wrong length";
		return -1;
	}
	struct pdf_key *key = sg_calloc(1, sizeof(*key));
	memcpy(key->u, b, PDF_KEY_U_LEN);
	memcpy(key->k, b + PDF_KEY_U_LEN, PDF_KEY_K_LEN);
	*key_r = key;
	return 0;
}

void pdf_key_free(struct pdf_key **key)
{
	sg_free_secret(key, sizeof(**key));
}

/* pgp_out.c: what leaves as PGP/MIME (RFC 3156 §4). The bytes encrypted are exactly the
 * CRLF-canonical entity, so the recipient's client gets the entity back byte for byte; the
 * choices (SEIPD v1, AES-256, no compression, no AEAD) are the ones GnuPG 2.2 reads. When every
 * recipient's encryption key is RSA, pgp_seipd.c writes the encryption layer (RNP still signs);
 * otherwise RNP does it all. */
#include "crypto/pgp.h"
#include "crypto/pgp_priv.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define MAX_RECIPIENTS 1000
#define PROLOGUE "This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)"

/* True if data has an LF that no CR precedes. */
static bool has_bare_lf(const char *data, size_t len)
{
	const char *q = data, *end = data + len;
	while (q < end && (q = memchr(q, '\n', (size_t)(end - q))) != NULL) {
		if (q == data || q[-1] != '\r')
			return true;
		q++;
	}
	return false;
}

/* Appends data to out at *o with every bare LF made CRLF; out has room for 2 * len. memchr
 * finds the line ends of text much faster than a loop over every byte. */
static void put_crlf(char *out, size_t *o, const char *data, size_t len)
{
	const char *q = data, *end = data + len;
	while (q < end) {
		const char *nl = memchr(q, '\n', (size_t)(end - q));
		size_t seg = nl != NULL ? (size_t)(nl - q) : (size_t)(end - q);
		memcpy(out + *o, q, seg);
		*o += seg;
		if (nl == NULL)
			break;
		if (nl == data || nl[-1] != '\r')
			out[(*o)++] = '\r';
		out[(*o)++] = '\n';
		q = nl + 1;
	}
}

/* entity with every bare LF made CRLF (caller frees). */
static char *crlf_copy(const char *entity, size_t len, size_t *len_r)
{
	char *out = sg_malloc(sg_size_add(sg_size_mul(len, 2), 1));
	size_t o = 0;
	put_crlf(out, &o, entity, len);
	out[o] = '\0';
	*len_r = o;
	return out;
}

static int add_recipients(rnp_ffi_t ffi, rnp_op_encrypt_t op, const char *const *fprs, size_t n,
                          const char **error_r)
{
	for (size_t i = 0; i < n; i++) {
		rnp_key_handle_t key = pgp_priv_locate(ffi, fprs[i]);
		rnp_result_t rc = key != NULL ? rnp_op_encrypt_add_recipient(op, key) : RNP_ERROR_GENERIC;
		rnp_key_handle_destroy(key);
		if (rc != RNP_SUCCESS) {
			*error_r = key == NULL ? "OpenPGP: a recipient key is not loaded"
			                       : "OpenPGP: a recipient key cannot encrypt (no usable "
			                         "encryption subkey)";
			return -1;
		}
	}
	return 0;
}

static int add_signer(rnp_ffi_t ffi, rnp_op_encrypt_t op, const char *fpr, const char **error_r)
{
	rnp_key_handle_t key = pgp_priv_signing_key(ffi, fpr);
	rnp_result_t rc = RNP_ERROR_GENERIC;
	if (key != NULL)
		rc = rnp_op_encrypt_add_signature(op, key, NULL);
	rnp_key_handle_destroy(key);
	if (rc != RNP_SUCCESS) {
		*error_r = "OpenPGP: the signing key is not loaded or cannot sign";
		return -1;
	}
	return 0;
}

static int set_options(rnp_op_encrypt_t op)
{
	return rnp_op_encrypt_set_armor(op, true) == RNP_SUCCESS &&
	               rnp_op_encrypt_set_cipher(op, "AES256") == RNP_SUCCESS &&
	               rnp_op_encrypt_set_hash(op, "SHA256") == RNP_SUCCESS &&
	               rnp_op_encrypt_set_aead(op, "None") == RNP_SUCCESS &&
	               rnp_op_encrypt_set_compression(op, "Uncompressed", 0) == RNP_SUCCESS
	           ? 0
	           : -1;
}

/* The armoured OpenPGP message for data, in *out_r (the caller destroys it). */
static int encrypt_armored(struct pgp_ctx *ctx, const char *const *fprs, size_t n,
                           const char *signer, const char *data, size_t len, rnp_output_t *out_r,
                           const char **error_r)
{
	rnp_input_t in = NULL;
	rnp_output_t out = NULL;
	rnp_op_encrypt_t op = NULL;
	int rc = -1;
	*error_r = "OpenPGP: out of memory";
	if (rnp_input_from_memory(&in, (const uint8_t *)data, len, false) != RNP_SUCCESS ||
	    rnp_output_to_memory(&out, 0) != RNP_SUCCESS ||
	    rnp_op_encrypt_create(&op, ctx->ffi, in, out) != RNP_SUCCESS)
		goto done;
	if (add_recipients(ctx->ffi, op, fprs, n, error_r) < 0 ||
	    (signer != NULL && add_signer(ctx->ffi, op, signer, error_r) < 0))
		goto done;
	*error_r = "OpenPGP: encryption failed";
	if (set_options(op) < 0 || rnp_op_encrypt_execute(op) != RNP_SUCCESS)
		goto done;
	*out_r = out;
	out = NULL;
	rc = 0;
done:
	rnp_op_encrypt_destroy(op);
	rnp_input_destroy(in);
	rnp_output_destroy(out);
	return rc;
}

/* RFC 3156 §4: multipart/encrypted with the version part and the armoured message; the same
 * fields, order and folding GMime wrote, written directly (GMime cost more than the rest). */
#define MPE_HEAD \
	"MIME-Version: 1.0\r\n" \
	"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\";\r\n" \
	"\tboundary=\"%s\"\r\n" \
	"\r\n" PROLOGUE "\r\n" \
	"--%s\r\n" \
	"Content-Type: application/pgp-encrypted\r\n" \
	"Content-Transfer-Encoding: 7bit\r\n" \
	"Content-Description: PGP/MIME version identification\r\n" \
	"\r\n" \
	"Version: 1\r\n" \
	"\r\n" \
	"--%s\r\n" \
	"Content-Type: application/octet-stream; name=encrypted.asc\r\n" \
	"Content-Transfer-Encoding: 7bit\r\n" \
	"Content-Description: OpenPGP encrypted message\r\n" \
	"Content-Disposition: inline; filename=encrypted.asc\r\n" \
	"\r\n"
#define BOUNDARY_SIZE 32

/* "=-" and 20 random base64 characters, as GMime makes them: "=-" can start no line of the
 * armour (base64 and its header lines), so the boundary never occurs inside. */
static void make_boundary(char dst[BOUNDARY_SIZE])
{
	unsigned char rnd[15];
	randombytes_buf(rnd, sizeof(rnd));
	dst[0] = '=';
	dst[1] = '-';
	sodium_bin2base64(dst + 2, BOUNDARY_SIZE - 2, rnd, sizeof(rnd),
	                  sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
}

/* The entity around an armour of alen bytes at most that arm writes: head, armour, delimiter. */
static void build_mime_with(size_t alen, void (*arm)(void *, char *, size_t *), void *arg,
                            char **out_r, size_t *out_len_r)
{
	char boundary[BOUNDARY_SIZE], head[1024];
	make_boundary(boundary);
	int hl = snprintf(head, sizeof(head), MPE_HEAD, boundary, boundary, boundary);
	sg_assert(hl > 0 && (size_t)hl < sizeof(head));
	/* the head, the armour, CRLF, CRLF--boundary--CRLF, NUL */
	size_t cap = sg_size_add(sg_size_add((size_t)hl, alen), 2 + 8 + BOUNDARY_SIZE);
	char *out = sg_malloc(cap);
	memcpy(out, head, (size_t)hl);
	size_t o = (size_t)hl;
	arm(arg, out, &o);
	if (o == (size_t)hl || out[o - 1] != '\n') {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	int tl = snprintf(out + o, cap - o, "\r\n--%s--\r\n", boundary);
	sg_assert(tl > 0 && (size_t)tl < cap - o);
	*out_r = out;
	*out_len_r = o + (size_t)tl;
}

struct span {
	const void *p;
	size_t len;
};

/* RNP's armour, its line ends made CRLF (it may double in size). */
static void put_rnp_armor(void *arg, char *out, size_t *o)
{
	const struct span *s = arg;
	put_crlf(out, o, s->p, s->len);
}

/* pgp_seipd.c's binary message, armoured in place. */
static void put_seipd_armor(void *arg, char *out, size_t *o)
{
	const struct span *s = arg;
	*o += pgp_seipd_armor(s->p, s->len, out + *o);
}

static int encrypt_rnp(struct pgp_ctx *ctx, const char *const *fprs, size_t n, const char *signer,
                       const char *data, size_t len, char **out_r, size_t *out_len_r,
                       const char **error_r)
{
	rnp_output_t armored = NULL;
	uint8_t *buf = NULL;
	size_t alen = 0;
	int rc = encrypt_armored(ctx, fprs, n, signer, data, len, &armored, error_r);
	if (rc == 0 && rnp_output_memory_get_buf(armored, &buf, &alen, false) != RNP_SUCCESS) {
		*error_r = "OpenPGP: encryption failed";
		rc = -1;
	}
	if (rc == 0) {
		struct span s = {buf, alen};
		build_mime_with(sg_size_mul(alen, 2), put_rnp_armor, &s, out_r, out_len_r);
	}
	rnp_output_destroy(armored);
	return rc;
}

static int encrypt_seipd(struct pgp_ctx *ctx, const char *const *fprs, size_t n,
                         const char *signer, const char *data, size_t len, char **out_r,
                         size_t *out_len_r, const char **error_r)
{
	unsigned char *bin = NULL;
	size_t blen = 0;
	if (pgp_seipd_encrypt(ctx, fprs, n, signer, data, len, &bin, &blen, error_r) < 0)
		return -1;
	struct span s = {bin, blen};
	build_mime_with(pgp_seipd_armor_max(blen), put_seipd_armor, &s, out_r, out_len_r);
	sg_free(&bin);
	return 0;
}

int pgp_encrypt_mime(struct pgp_ctx *ctx, const char *const *recipient_fprs, size_t nrecipients,
                     const char *signer_fpr, const char *entity, size_t len, char **out_r,
                     size_t *out_len_r, const char **error_r)
{
	if (nrecipients == 0 || nrecipients > MAX_RECIPIENTS) {
		*error_r = nrecipients == 0 ? "OpenPGP: no recipient key" : "OpenPGP: too many recipients";
		return -1;
	}
	/* What the spool holds is CRLF already: then the entity is encrypted as it is. */
	size_t clen = len;
	char *canon = has_bare_lf(entity, len) ? crlf_copy(entity, len, &clen) : NULL;
	const char *data = canon != NULL ? canon : entity;
	int rc = pgp_seipd_usable(ctx, recipient_fprs, nrecipients)
	             ? encrypt_seipd(ctx, recipient_fprs, nrecipients, signer_fpr, data, clen, out_r,
	                             out_len_r, error_r)
	             : encrypt_rnp(ctx, recipient_fprs, nrecipients, signer_fpr, data, clen, out_r,
	                           out_len_r, error_r);
	sg_free_secret(&canon, clen); /* plaintext of a message meant to be secret */
	return rc;
}

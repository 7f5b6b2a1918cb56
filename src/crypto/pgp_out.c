/* pgp_out.c: what leaves as PGP/MIME (RFC 3156 §4). The bytes encrypted are exactly the
 * CRLF-canonical entity, so the recipient's client gets the entity back byte for byte; the
 * choices (SEIPD v1, AES-256, no compression, no AEAD) are the ones GnuPG 2.2 reads. */
#include "crypto/pgp.h"
#include "crypto/pgp_priv.h"
#include "core/sg_mem.h"
#include "mime/mime.h"

#include <gmime/gmime.h>
#include <string.h>

#define MAX_RECIPIENTS 1000
#define PROLOGUE "This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)"

/* entity with every bare LF made CRLF (caller frees). */
static char *crlf_copy(const char *entity, size_t len, size_t *len_r)
{
	size_t extra = 0;
	for (size_t i = 0; i < len; i++)
		extra += entity[i] == '\n' && (i == 0 || entity[i - 1] != '\r');
	char *out = sg_malloc(sg_size_add(sg_size_add(len, extra), 1));
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (entity[i] == '\n' && (i == 0 || entity[i - 1] != '\r'))
			out[o++] = '\r';
		out[o++] = entity[i];
	}
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
	rnp_key_handle_t key = pgp_priv_locate(ffi, fpr);
	bool secret = false;
	rnp_result_t rc = RNP_ERROR_GENERIC;
	if (key != NULL && rnp_key_have_secret(key, &secret) == RNP_SUCCESS && secret)
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

/* The armoured OpenPGP message for data (caller frees). */
static int encrypt_armored(struct pgp_ctx *ctx, const char *const *fprs, size_t n,
                           const char *signer, const char *data, size_t len,
                           unsigned char **armored_r, size_t *armored_len_r, const char **error_r)
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
	if (set_options(op) < 0 || rnp_op_encrypt_execute(op) != RNP_SUCCESS ||
	    pgp_priv_output_take(out, SIZE_MAX / 2, armored_r, armored_len_r) < 0)
		goto done;
	rc = 0;
done:
	rnp_op_encrypt_destroy(op);
	rnp_input_destroy(in);
	rnp_output_destroy(out);
	return rc;
}

static GMimePart *make_part(const char *type, const char *subtype, const void *data, size_t len)
{
	GMimePart *part = g_mime_part_new_with_type(type, subtype);
	GMimeStream *s = g_mime_stream_mem_new_with_buffer(data, len);
	GMimeDataWrapper *w = g_mime_data_wrapper_new_with_stream(s, GMIME_CONTENT_ENCODING_DEFAULT);
	g_mime_part_set_content(part, w);
	g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_7BIT);
	g_object_unref(w);
	g_object_unref(s);
	return part;
}

/* RFC 3156 §4: multipart/encrypted with the version part and the armoured message. */
static void build_mime(const unsigned char *armored, size_t len, char **out_r, size_t *out_len_r)
{
	static const char version[] = "Version: 1\r\n";
	static const char head[] = "MIME-Version: 1.0\r\n";
	mime_init();
	GMimeMultipartEncrypted *mpe = g_mime_multipart_encrypted_new();
	GMimeObject *obj = GMIME_OBJECT(mpe);
	g_mime_object_set_content_type_parameter(obj, "protocol", "application/pgp-encrypted");
	GMimePart *v = make_part("application", "pgp-encrypted", version, sizeof(version) - 1);
	g_mime_object_set_header(GMIME_OBJECT(v), "Content-Description",
	                         "PGP/MIME version identification", NULL);
	GMimePart *enc = make_part("application", "octet-stream", armored, len);
	g_mime_object_set_content_type_parameter(GMIME_OBJECT(enc), "name", "encrypted.asc");
	g_mime_object_set_header(GMIME_OBJECT(enc), "Content-Description",
	                         "OpenPGP encrypted message", NULL);
	g_mime_object_set_disposition(GMIME_OBJECT(enc), "inline");
	g_mime_object_set_content_disposition_parameter(GMIME_OBJECT(enc), "filename",
	                                                "encrypted.asc");
	g_mime_multipart_add(GMIME_MULTIPART(mpe), GMIME_OBJECT(v));
	g_mime_multipart_add(GMIME_MULTIPART(mpe), GMIME_OBJECT(enc));
	g_mime_multipart_set_prologue(GMIME_MULTIPART(mpe), PROLOGUE);
	g_mime_multipart_set_boundary(GMIME_MULTIPART(mpe), NULL); /* else "--(null)" */
	g_object_unref(v);
	g_object_unref(enc);

	GMimeFormatOptions *fo = g_mime_format_options_new();
	g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
	GMimeStream *mem = g_mime_stream_mem_new();
	g_mime_object_write_to_stream(obj, fo, mem);
	GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	size_t n = sizeof(head) - 1 + ba->len;
	char *out = sg_malloc(n + 1);
	memcpy(out, head, sizeof(head) - 1);
	memcpy(out + sizeof(head) - 1, ba->data, ba->len);
	out[n] = '\0';
	*out_r = out;
	*out_len_r = n;
	g_object_unref(mem);
	g_mime_format_options_free(fo);
	g_object_unref(mpe);
}

int pgp_encrypt_mime(struct pgp_ctx *ctx, const char *const *recipient_fprs, size_t nrecipients,
                     const char *signer_fpr, const char *entity, size_t len, char **out_r,
                     size_t *out_len_r, const char **error_r)
{
	if (nrecipients == 0 || nrecipients > MAX_RECIPIENTS) {
		*error_r = nrecipients == 0 ? "OpenPGP: no recipient key" : "OpenPGP: too many recipients";
		return -1;
	}
	size_t clen = 0;
	char *canon = crlf_copy(entity, len, &clen);
	unsigned char *armored = NULL;
	size_t alen = 0;
	int rc = encrypt_armored(ctx, recipient_fprs, nrecipients, signer_fpr, canon, clen, &armored,
	                         &alen, error_r);
	sg_free_secret(&canon, clen); /* plaintext of a message meant to be secret */
	if (rc < 0)
		return -1;
	build_mime(armored, alen, out_r, out_len_r);
	sg_free(&armored);
	return 0;
}

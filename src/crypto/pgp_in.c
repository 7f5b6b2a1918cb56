/* pgp_in.c: what arrives as OpenPGP: PGP/MIME encrypted and signed layers (RFC 3156 §4, §5,
 * nested as §6.1 allows) and inline PGP in a text part. Every layer is undone with RNP; each
 * signature gets its own status. Plaintext without integrity protection (no MDC) is not
 * handed out, and inline PGP is opened only as the whole body of a single-part message:
 * those are the EFAIL lessons (issue 21). */
#include "crypto/pgp.h"
#include "crypto/pgp_priv.h"
#include "core/sg_buf.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "mime/mime.h"

#include <gmime/gmime.h>
#include <string.h>

#define INLINE_DEPTH_MAX 16 /* multipart nesting searched for an inline block */
#define HIDDEN_TRIES_MAX 16 /* held keys tried for a hidden recipient */

static const char *const sig_names[] = {
	[PGP_SIG_VALID] = "valid",
	[PGP_SIG_INVALID] = "invalid",
	[PGP_SIG_UNKNOWN_KEY] = "unknown-key",
};

const char *pgp_sig_status_name(enum pgp_sig_status s)
{
	return (size_t)s < sizeof(sig_names) / sizeof(sig_names[0]) ? sig_names[s] : "?";
}

static const char *const kind_names[] = {
	[PGP_KIND_NONE] = "none",
	[PGP_KIND_MIME_ENCRYPTED] = "pgp-mime-encrypted",
	[PGP_KIND_MIME_SIGNED] = "pgp-mime-signed",
	[PGP_KIND_INLINE_ENCRYPTED] = "inline-encrypted",
	[PGP_KIND_INLINE_SIGNED] = "inline-signed",
};

const char *pgp_kind_name(enum pgp_kind kind)
{
	return (size_t)kind < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[kind] : "?";
}

void pgp_in_result_free(struct pgp_in_result *r)
{
	sg_free_secret(&r->content, r->content_len);
	memset(r, 0, sizeof(*r));
}

/* ---- GMime helpers ---- */

static char *take_stream(GMimeStream *mem, size_t *len_r)
{
	GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	char *out = sg_malloc((size_t)ba->len + 1);
	if (ba->len > 0)
		memcpy(out, ba->data, ba->len);
	out[ba->len] = '\0';
	*len_r = ba->len;
	sg_wipe(ba->data, ba->len);
	g_object_unref(mem);
	return out;
}

/* The CRLF serialisation of o: what a multipart/signed signature covers. */
static char *serialize(GMimeObject *o, size_t *len_r)
{
	GMimeFormatOptions *fo = g_mime_format_options_new();
	g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
	GMimeStream *mem = g_mime_stream_mem_new();
	g_mime_object_write_to_stream(o, fo, mem);
	g_mime_format_options_free(fo);
	return take_stream(mem, len_r);
}

/* The transfer-decoded body of a leaf part, or NULL. */
static char *decoded(GMimeObject *o, size_t *len_r)
{
	GMimeDataWrapper *w = GMIME_IS_PART(o) ? g_mime_part_get_content(GMIME_PART(o)) : NULL;
	if (w == NULL)
		return NULL;
	GMimeStream *mem = g_mime_stream_mem_new();
	g_mime_data_wrapper_write_to_stream(w, mem);
	return take_stream(mem, len_r);
}

static bool is_type(GMimeObject *o, const char *type, const char *subtype, const char *protocol)
{
	GMimeContentType *ct = g_mime_object_get_content_type(o);
	if (ct == NULL || !g_mime_content_type_is_type(ct, type, subtype))
		return false;
	const char *p = protocol != NULL ? g_mime_content_type_get_parameter(ct, "protocol") : NULL;
	return protocol == NULL || (p != NULL && g_ascii_strcasecmp(p, protocol) == 0);
}

/* ---- RNP ---- */

static void sig_key_info(rnp_ffi_t ffi, rnp_key_handle_t key, struct pgp_sig *s)
{
	bool primary = true;
	char fpr[PGP_FPR_MAX] = "";
	char *pf = NULL;
	(void)rnp_key_is_primary(key, &primary);
	if (!primary && rnp_key_get_primary_fprint(key, &pf) == RNP_SUCCESS && pf != NULL)
		sg_strlcpy(fpr, pf, sizeof(fpr));
	else if (primary)
		(void)pgp_priv_fpr(key, fpr);
	rnp_buffer_destroy(pf);
	rnp_key_handle_t pk = fpr[0] != '\0' ? pgp_priv_locate(ffi, fpr) : NULL;
	if (pk != NULL) {
		sg_strlcpy(s->signer_fpr, fpr, sizeof(s->signer_fpr));
		pgp_priv_key_address(pk, s->signer, sizeof(s->signer));
	}
	rnp_key_handle_destroy(pk);
}

static void collect_sig(rnp_ffi_t ffi, rnp_op_verify_signature_t vs, struct pgp_sig *s)
{
	rnp_result_t st = rnp_op_verify_signature_get_status(vs);
	s->status = st == RNP_SUCCESS                ? PGP_SIG_VALID
	            : st == RNP_ERROR_KEY_NOT_FOUND ? PGP_SIG_UNKNOWN_KEY
	                                            : PGP_SIG_INVALID;
	rnp_signature_handle_t h = NULL;
	char *keyid = NULL;
	/* Only a signature that parsed is copied into a handle: RNP 0.16 double-frees the copy
	 * of a malformed one (found by fuzz_pgp_mime). A known key gives its id directly. */
	if (st == RNP_ERROR_KEY_NOT_FOUND &&
	    rnp_op_verify_signature_get_handle(vs, &h) == RNP_SUCCESS &&
	    rnp_signature_get_keyid(h, &keyid) == RNP_SUCCESS && keyid != NULL)
		sg_strlcpy(s->keyid, keyid, sizeof(s->keyid));
	rnp_buffer_destroy(keyid);
	rnp_signature_handle_destroy(h);
	uint32_t created = 0, expires = 0;
	(void)rnp_op_verify_signature_get_times(vs, &created, &expires);
	s->created = (time_t)created;
	rnp_key_handle_t key = NULL;
	keyid = NULL;
	if (rnp_op_verify_signature_get_key(vs, &key) == RNP_SUCCESS && key != NULL) {
		if (rnp_key_get_keyid(key, &keyid) == RNP_SUCCESS && keyid != NULL)
			sg_strlcpy(s->keyid, keyid, sizeof(s->keyid));
		sig_key_info(ffi, key, s);
	}
	rnp_buffer_destroy(keyid);
	rnp_key_handle_destroy(key);
}

static void collect_sigs(rnp_ffi_t ffi, rnp_op_verify_t op, struct pgp_in_result *r)
{
	size_t n = 0;
	(void)rnp_op_verify_get_signature_count(op, &n);
	for (size_t i = 0; i < n && r->nsigs < SG_PGP_SIGS_MAX; i++) {
		rnp_op_verify_signature_t vs = NULL;
		if (rnp_op_verify_get_signature_at(op, i, &vs) != RNP_SUCCESS)
			continue;
		struct pgp_sig *s = &r->sigs[r->nsigs++];
		memset(s, 0, sizeof(*s));
		collect_sig(ffi, vs, s);
	}
}

/* After execute: was there an encryption layer, and did we open it with integrity? */
static bool protection(rnp_op_verify_t op, struct pgp_in_result *r, bool *encrypted_r)
{
	char *mode = NULL, *cipher = NULL;
	bool valid = false;
	*encrypted_r = false;
	if (rnp_op_verify_get_protection_info(op, &mode, &cipher, &valid) != RNP_SUCCESS)
		return false;
	*encrypted_r = mode != NULL && strcmp(mode, "none") != 0;
	if (*encrypted_r) {
		sg_strlcpy(r->mode, mode, sizeof(r->mode));
		sg_strlcpy(r->cipher, cipher != NULL ? cipher : "", sizeof(r->cipher));
		r->integrity_ok = valid;
	}
	rnp_buffer_destroy(mode);
	rnp_buffer_destroy(cipher);
	rnp_recipient_handle_t used = NULL;
	return *encrypted_r && valid &&
	       rnp_op_verify_get_used_recipient(op, &used) == RNP_SUCCESS && used != NULL;
}

/* Runs RNP on data (an OpenPGP message, or with sig a detached signature over data).
 * Returns the plaintext (NULL for detached, or when an encryption layer did not open),
 * and whether data was encrypted. Signatures are added to r. */
static char *run_rnp(struct pgp_ctx *ctx, const char *data, size_t len, const char *sig,
                     size_t sig_len, struct pgp_in_result *r, bool *encrypted_r, size_t *out_len_r)
{
	rnp_input_t in = NULL, sin = NULL;
	rnp_output_t out = NULL;
	rnp_op_verify_t op = NULL;
	unsigned char *plain = NULL;
	*encrypted_r = false;
	*out_len_r = 0;
	if (rnp_input_from_memory(&in, (const uint8_t *)data, len, false) != RNP_SUCCESS)
		goto done;
	if (sig != NULL) {
		if (rnp_input_from_memory(&sin, (const uint8_t *)sig, sig_len, false) != RNP_SUCCESS ||
		    rnp_op_verify_detached_create(&op, ctx->ffi, in, sin) != RNP_SUCCESS)
			goto done;
	} else if (rnp_output_to_memory(&out, (size_t)SG_MESSAGE_SIZE_HARD_MAX) != RNP_SUCCESS ||
	           rnp_op_verify_create(&op, ctx->ffi, in, out) != RNP_SUCCESS) {
		goto done;
	}
	/* The result code is not the verdict: plaintext may exist although a signer's key is
	 * missing (notes/test-rig.md part b); status and protection decide. */
	(void)rnp_op_verify_execute(op);
	bool opened = protection(op, r, encrypted_r);
	collect_sigs(ctx->ffi, op, r);
	if (out != NULL && (opened || !*encrypted_r) &&
	    pgp_priv_output_take(out, (size_t)SG_MESSAGE_SIZE_HARD_MAX, &plain, out_len_r) < 0)
		plain = NULL;
	if (out != NULL && plain != NULL && *out_len_r == 0 && !*encrypted_r && r->nsigs == 0)
		sg_free(&plain); /* nothing OpenPGP was read */
done:
	rnp_op_verify_destroy(op);
	if (out != NULL) {
		uint8_t *buf = NULL;
		size_t n = 0;
		if (rnp_output_memory_get_buf(out, &buf, &n, false) == RNP_SUCCESS && buf != NULL)
			sg_wipe(buf, n);
		rnp_output_destroy(out);
	}
	rnp_input_destroy(in);
	rnp_input_destroy(sin);
	return (char *)plain;
}

/* run_rnp once more per held key that may be the hidden recipient (pgp_hidden.c), for a
 * message that was encrypted but did not open. */
static char *run_hidden(struct pgp_ctx *ctx, const char *data, size_t len,
                        struct pgp_in_result *r, bool *encrypted_r, size_t *out_len_r)
{
	char *plain = NULL;
	unsigned char *bin = NULL;
	size_t n = 0;
	for (size_t i = 0; plain == NULL && i < HIDDEN_TRIES_MAX &&
	                   pgp_hidden_candidate(ctx, data, len, i, &bin, &n) == 1; i++) {
		struct pgp_in_result scratch;
		memset(&scratch, 0, sizeof(scratch));
		bool encrypted = false;
		plain = run_rnp(ctx, (const char *)bin, n, NULL, 0, &scratch, &encrypted, out_len_r);
		if (plain != NULL) {
			*r = scratch;
			*encrypted_r = encrypted;
		}
		sg_free(&bin);
	}
	return plain;
}

/* run_rnp for an OpenPGP message, trying held keys for a hidden recipient if need be. */
static char *open_message(struct pgp_ctx *ctx, const char *data, size_t len,
                          struct pgp_in_result *r, bool *encrypted_r, size_t *out_len_r)
{
	char *plain = run_rnp(ctx, data, len, NULL, 0, r, encrypted_r, out_len_r);
	if (plain == NULL && *encrypted_r) {
		struct pgp_in_result hidden;
		memset(&hidden, 0, sizeof(hidden));
		bool encrypted = false;
		plain = run_hidden(ctx, data, len, &hidden, &encrypted, out_len_r);
		if (plain != NULL) {
			*r = hidden;
			*encrypted_r = encrypted;
		}
	}
	return plain;
}

/* ---- layers ---- */

struct walk {
	struct pgp_ctx *ctx;
	struct pgp_in_result *r;
	char *raw; /* the current innermost entity */
	size_t raw_len;
	/* signatures [outer_first, +outer_count) of r sign the encrypted layer right below: they
	 * cover ciphertext, not what the reader sees, and are dropped once it opens (as
	 * Thunderbird ignores an outer signature around an encrypted message) */
	size_t outer_first, outer_count;
};

static bool is_pgp_encrypted(GMimeObject *o)
{
	return is_type(o, "multipart", "encrypted", "application/pgp-encrypted");
}

static void drop_outer_sigs(struct walk *w)
{
	struct pgp_in_result *r = w->r;
	size_t end = w->outer_first + w->outer_count;
	if (w->outer_count == 0 || end > r->nsigs)
		return;
	memmove(&r->sigs[w->outer_first], &r->sigs[end], (r->nsigs - end) * sizeof(r->sigs[0]));
	r->nsigs -= w->outer_count;
	w->outer_count = 0;
}

static void set_kind(struct walk *w, enum pgp_kind kind)
{
	if (w->r->kind == PGP_KIND_NONE)
		w->r->kind = kind;
}

static void replace_raw(struct walk *w, char *raw, size_t len)
{
	sg_free_secret(&w->raw, w->raw_len);
	w->raw = raw;
	w->raw_len = len;
}

/* multipart/encrypted: part 2 holds the OpenPGP message. 1 opened, 0 stop. */
static int layer_encrypted(struct walk *w, GMimeObject *o)
{
	set_kind(w, PGP_KIND_MIME_ENCRYPTED);
	w->r->encrypted = true;
	GMimeMultipart *mp = GMIME_MULTIPART(o);
	if (g_mime_multipart_get_count(mp) != 2)
		return 0;
	size_t len = 0, plen = 0;
	char *body = decoded(g_mime_multipart_get_part(mp, 1), &len);
	if (body == NULL)
		return 0;
	struct pgp_in_result scratch;
	memset(&scratch, 0, sizeof(scratch));
	bool encrypted = false;
	char *plain = open_message(w->ctx, body, len, &scratch, &encrypted, &plen);
	sg_free(&body);
	if (!encrypted || plain == NULL) { /* e.g. a bare signature dressed as encrypted */
		sg_free_secret(&plain, plen);
		return 0;
	}
	drop_outer_sigs(w);
	w->r->decrypted = true;
	w->r->integrity_ok = scratch.integrity_ok;
	sg_strlcpy(w->r->mode, scratch.mode, sizeof(w->r->mode));
	sg_strlcpy(w->r->cipher, scratch.cipher, sizeof(w->r->cipher));
	for (size_t i = 0; i < scratch.nsigs && w->r->nsigs < SG_PGP_SIGS_MAX; i++)
		w->r->sigs[w->r->nsigs++] = scratch.sigs[i];
	replace_raw(w, plain, plen);
	return 1;
}

/* multipart/signed: the first part as sent (CRLF) against the detached signature. */
static int layer_signed(struct walk *w, GMimeObject *o)
{
	set_kind(w, PGP_KIND_MIME_SIGNED);
	GMimeMultipart *mp = GMIME_MULTIPART(o);
	if (g_mime_multipart_get_count(mp) != 2) {
		if (w->r->nsigs < SG_PGP_SIGS_MAX) /* stripped signature: say so */
			w->r->sigs[w->r->nsigs++].status = PGP_SIG_INVALID;
		return 0;
	}
	size_t dlen = 0, slen = 0, olen = 0;
	char *data = serialize(g_mime_multipart_get_part(mp, 0), &dlen);
	char *sig = decoded(g_mime_multipart_get_part(mp, 1), &slen);
	size_t before = w->r->nsigs;
	bool encrypted = false;
	if (sig != NULL)
		(void)run_rnp(w->ctx, data, dlen, sig, slen, w->r, &encrypted, &olen);
	if (w->r->nsigs == before && w->r->nsigs < SG_PGP_SIGS_MAX) /* unreadable signature */
		w->r->sigs[w->r->nsigs++].status = PGP_SIG_INVALID;
	w->outer_first = before;
	w->outer_count = is_pgp_encrypted(g_mime_multipart_get_part(mp, 0)) ? w->r->nsigs - before
	                                                                   : 0;
	sg_free(&sig);
	replace_raw(w, data, dlen);
	return 1;
}

static void set_text(GMimeObject *part, const char *text, size_t len)
{
	GMimeStream *s = g_mime_stream_mem_new_with_buffer(text, len);
	GMimeDataWrapper *dw = g_mime_data_wrapper_new_with_stream(s, GMIME_CONTENT_ENCODING_DEFAULT);
	g_mime_part_set_content(GMIME_PART(part), dw);
	g_mime_part_set_content_encoding(GMIME_PART(part), mime_has_8bit(text, len)
	                                                       ? GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE
	                                                       : GMIME_CONTENT_ENCODING_7BIT);
	g_object_unref(dw);
	g_object_unref(s);
}

/* A block that is not the whole body: noted, never decrypted (EFAIL: plaintext must not end up
 * beside the sender's other text or parts); a clear-signed one is verified so that the verdict
 * can name its signer, and the plaintext RNP writes is thrown away. */
static void mixed_block(struct walk *w, const char *text, const struct pgp_armor_span *sp)
{
	set_kind(w, sp->kind);
	w->r->mixed = true;
	if (sp->kind == PGP_KIND_INLINE_ENCRYPTED) {
		w->r->encrypted = true;
		return;
	}
	size_t plen = 0;
	bool encrypted = false;
	char *plain = run_rnp(w->ctx, text + sp->start, sp->end - sp->start, NULL, 0, w->r,
	                      &encrypted, &plen);
	sg_free_secret(&plain, plen);
}

/* Inline PGP in a text part: opened in place only when the block is the part's whole body
 * and the part is the whole entity (top); else mixed. 1 found, 0 none here. */
static int inline_part(struct walk *w, GMimeObject *part, bool top)
{
	size_t len = 0, plen = 0;
	struct pgp_armor_span sp;
	char *text = decoded(part, &len);
	if (text == NULL || pgp_inline_find(text, len, &sp) == 0) {
		sg_free(&text);
		return 0;
	}
	if (!top || !sp.whole || !is_type(part, "text", "plain", NULL)) {
		mixed_block(w, text, &sp);
		sg_free(&text);
		return 1;
	}
	set_kind(w, sp.kind);
	bool encrypted = false;
	char *plain = run_rnp(w->ctx, text + sp.start, sp.end - sp.start, NULL, 0, w->r,
	                      &encrypted, &plen);
	if (encrypted) {
		w->r->encrypted = true;
		w->r->decrypted = plain != NULL;
	}
	if (plain != NULL) /* nothing but white space was around the block */
		set_text(part, plain, plen);
	sg_free_secret(&plain, plen);
	sg_free(&text);
	return 1;
}

/* Depth-first over a multipart (not into attached messages): the first text part with an
 * armour block, or a PGP/MIME encrypted part below the top, is mixed content. */
static int find_mixed(struct walk *w, GMimeObject *o, int depth)
{
	if (depth > INLINE_DEPTH_MAX)
		return 0;
	if (is_type(o, "multipart", "encrypted", "application/pgp-encrypted")) {
		set_kind(w, PGP_KIND_MIME_ENCRYPTED);
		w->r->mixed = true;
		w->r->encrypted = true;
		return 1;
	}
	if (GMIME_IS_MULTIPART(o)) {
		GMimeMultipart *mp = GMIME_MULTIPART(o);
		int n = g_mime_multipart_get_count(mp);
		for (int i = 0; i < n; i++)
			if (find_mixed(w, g_mime_multipart_get_part(mp, i), depth + 1) != 0)
				return 1;
		return 0;
	}
	if (GMIME_IS_PART(o) && is_type(o, "text", "*", NULL))
		return inline_part(w, o, false);
	return 0;
}

/* An S/MIME multipart/signed whose signed part is PGP/MIME encrypted: Thunderbird ignores
 * the outer signature and decrypts (testOuterSmimeSig*: the signature covers ciphertext). */
static bool is_smime_signed_encrypted(GMimeObject *o)
{
	if (!is_type(o, "multipart", "signed", NULL) || !GMIME_IS_MULTIPART(o) ||
	    g_mime_multipart_get_count(GMIME_MULTIPART(o)) != 2)
		return false;
	GMimeContentType *ct = g_mime_object_get_content_type(o);
	const char *p = g_mime_content_type_get_parameter(ct, "protocol");
	return p != NULL &&
	       (g_ascii_strcasecmp(p, "application/pkcs7-signature") == 0 ||
	        g_ascii_strcasecmp(p, "application/x-pkcs7-signature") == 0) &&
	       is_pgp_encrypted(g_mime_multipart_get_part(GMIME_MULTIPART(o), 0));
}

/* Steps into the encrypted part; if it does not open, the message is left as it came. */
static int layer_smime_around(struct walk *w, GMimeObject *o)
{
	size_t n = 0;
	char *inner = serialize(g_mime_multipart_get_part(GMIME_MULTIPART(o), 0), &n);
	replace_raw(w, inner, n);
	return 1;
}

/* Undoes one layer of o, the parse of w->raw: 1 if another layer may follow, 0 if done. Only
 * an inline block opened at the top (a single part) changes o. */
static int unwrap_object(struct walk *w, GMimeObject *o)
{
	int rc = 0;
	if (is_pgp_encrypted(o))
		rc = layer_encrypted(w, o);
	else if (is_type(o, "multipart", "signed", "application/pgp-signature"))
		rc = layer_signed(w, o);
	else if (is_smime_signed_encrypted(o))
		rc = layer_smime_around(w, o);
	else if (GMIME_IS_PART(o) && inline_part(w, o, true) == 1 && !w->r->mixed) {
		size_t n = 0;
		char *whole = serialize(o, &n);
		replace_raw(w, whole, n);
	} else if (GMIME_IS_MULTIPART(o))
		(void)find_mixed(w, o, 0);
	return rc;
}

static int unwrap_once(struct walk *w)
{
	GMimeObject *o = mime_entity_parse(w->raw, w->raw_len);
	if (o == NULL)
		return 0;
	int rc = unwrap_object(w, o);
	g_object_unref(o);
	return rc;
}

/* Keeps only the entity's own header fields (drops From, To, ... of a top-level message),
 * and the protected ones of an RFC 9788 payload (mime_hp_entity). */
static int finish(struct walk *w, const char **error_r)
{
	struct sg_buf b;
	sg_buf_init(&b, sg_size_add(w->raw_len, 1024));
	if (mime_hp_entity(w->raw, w->raw_len, &b, error_r) < 0) {
		sg_buf_free_secret(&b);
		return -1;
	}
	w->r->content = sg_buf_steal(&b, &w->r->content_len);
	return 0;
}

int pgp_decrypt_verify(struct pgp_ctx *ctx, const char *msg, size_t len, struct pgp_in_result *r,
                       const char **error_r)
{
	return pgp_decrypt_verify_parsed(ctx, msg, len, NULL, r, error_r);
}

int pgp_decrypt_verify_parsed(struct pgp_ctx *ctx, const char *msg, size_t len,
                              struct _GMimeObject *parsed, struct pgp_in_result *r,
                              const char **error_r)
{
	memset(r, 0, sizeof(*r));
	mime_init();
	/* A lent multipart is only read; a single part may be opened in place: our own parse. */
	bool lent = parsed != NULL && GMIME_IS_MULTIPART(parsed);
	GMimeObject *top = lent ? parsed : mime_entity_parse(msg, len);
	if (top == NULL) {
		*error_r = "not a MIME message";
		return -1;
	}
	struct walk w = {.ctx = ctx, .r = r, .raw = sg_memdup(msg, len), .raw_len = len};
	int more = unwrap_object(&w, top);
	if (!lent)
		g_object_unref(top);
	for (int i = 1; i < SG_PGP_LAYERS_MAX && more == 1; i++)
		more = unwrap_once(&w);
	int rc = 0;
	bool opened = r->kind != PGP_KIND_NONE && (!r->encrypted || r->decrypted) &&
	              (!r->mixed || r->decrypted);
	if (opened)
		rc = finish(&w, error_r);
	sg_free_secret(&w.raw, w.raw_len);
	return rc;
}

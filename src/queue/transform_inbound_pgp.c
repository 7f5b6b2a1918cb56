/* transform_inbound_pgp.c: OpenPGP mail for internal recipients: decrypted with their
 * gateway-held keys, signatures checked against the sender's stored key, the outcome stated
 * in X-Sealgate-Security in the same words as for S/MIME. */
#include "queue/transform.h"

#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "crypto/pgp.h"
#include "mime/mime.h"

#include <stdio.h>
#include <string.h>

/* valid / invalid / untrusted (we hold no key of the signer): the S/MIME vocabulary. */
static void signature_note(const struct pgp_in_result *r, char *dst, size_t size)
{
	if (r->nsigs == 0) {
		snprintf(dst, size, "signature=none");
		return;
	}
	const struct pgp_sig *s = &r->sigs[0];
	const char *verdict = s->status == PGP_SIG_VALID     ? "valid"
	                      : s->status == PGP_SIG_INVALID ? "invalid"
	                                                     : "untrusted";
	char signer[SG_LOG_PEER_TEXT_MAX + 4];
	sg_printable(signer, sizeof(signer), s->signer[0] ? s->signer : s->keyid,
	             SG_LOG_PEER_TEXT_MAX);
	snprintf(dst, size, "signature=%s; signer=<%s> (OpenPGP%s)", verdict, signer,
	         s->status == PGP_SIG_UNKNOWN_KEY ? ", signer's key unknown here" : "");
}

/* Loads the recipients' gateway-held keys and the sender's public key. */
static void load_keys(const struct transform_env *te, const struct transform_input *in,
                      struct pgp_ctx *ctx)
{
	char fpr[PGP_FPR_MAX];
	const char *why;
	for (size_t i = 0; i < in->nrcpt; i++)
		transform_pgp_load_secret(te, ctx, in->rcpts[i], fpr, &why);
	const char *from = in->mime != NULL && in->mime->from != NULL ? in->mime->from : in->sender;
	if (from != NULL && from[0] != '\0')
		transform_pgp_load_public(te, ctx, from, fpr, &why);
}

static int emit(const struct transform_input *in, const struct pgp_in_result *r,
                const char *note, struct sg_buf *out, const char **err)
{
	char field[900];
	snprintf(field, sizeof(field), "X-Sealgate-Security: %s\r\n", note);
	if (r->decrypted && r->content != NULL)
		return transform_join_outer(in->data, in->len, field, NULL, r->content, r->content_len,
		                            out, err);
	static const char *const foreign[] = {"X-Sealgate-*"};
	struct mime_edit e = {.drop = foreign, .ndrop = 1, .prepend = field, .with_body = true};
	return mime_edit_apply(in->data, in->len, &e, out, err);
}

enum transform_result transform_inbound_pgp(const struct transform_env *te,
                                            const struct transform_input *in,
                                            struct transform_output *out)
{
	struct pgp_ctx *ctx = NULL;
	const char *err;
	if (pgp_ctx_new(&ctx, &err) < 0)
		return transform_fail(out, TRANSFORM_TEMP, "4.3.0", "OpenPGP: %s", err);
	load_keys(te, in, ctx);
	struct pgp_in_result r;
	memset(&r, 0, sizeof(r));
	enum transform_result res = TRANSFORM_OK;
	if (pgp_decrypt_verify(ctx, in->data, in->len, &r, &err) < 0 || r.kind == PGP_KIND_NONE) {
		pgp_in_result_free(&r);
		pgp_ctx_free(&ctx);
		return transform_pass(te, in, out);
	}
	char sig[400], note[600];
	signature_note(&r, sig, sizeof(sig));
	if (r.encrypted && !r.decrypted)
		snprintf(note, sizeof(note), "encrypted=pgp; decrypted=no (not encrypted to a key the "
		                             "gateway holds)");
	else if (r.encrypted)
		snprintf(note, sizeof(note), "encrypted=pgp; decrypted=yes; %s", sig);
	else
		snprintf(note, sizeof(note), "%s", sig);
	if (emit(in, &r, note, &out->buf, &err) < 0)
		res = transform_fail(out, TRANSFORM_TEMP, "4.3.0", "%s", err);
	else {
		out->data = out->buf.data;
		out->len = out->buf.len;
		sg_info("%s: inbound OpenPGP (%s): %s", in->queue_id, pgp_kind_name(r.kind), note);
	}
	pgp_in_result_free(&r);
	pgp_ctx_free(&ctx);
	return res;
}

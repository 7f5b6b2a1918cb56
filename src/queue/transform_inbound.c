/* transform_inbound.c: secure mail for internal recipients. What is encrypted to a
 * gateway-held key is decrypted; signatures are verified; the outcome is stated in one
 * X-Sealgate-Security field (after every foreign one was removed). A valid signer's
 * certificate is kept so that replies can be encrypted. What cannot be decrypted is delivered
 * as it came, with a field that says so.
 * What protects decrypted content is stated too (integrity=): AuthEnvelopedData (aead), a
 * valid signature over the whole decrypted entity (signed), or nothing (none: AES-CBC is
 * malleable, EFAIL's gadgets splice markup into it). With none, every remote reference of its
 * HTML is made inert before delivery, or it is delivered encrypted (policy.cbc_unsigned). */
#include "queue/transform.h"

#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "crypto/smime.h"
#include "mime/mime.h"
#include "store/store.h"

#include <stdio.h>
#include <string.h>

#define SECURITY_FIELD_MAX 600
#define PARTIAL_NOTE                                                                          \
	"signature=partial (a signature inside covers only a part of the message; the parts "     \
	"beside it are not signed)"

struct inbound {
	const struct transform_env *te;
	const struct transform_input *in;
	const char *msg; /* current message: the original, or outer + decrypted entity */
	size_t len;
	struct sg_buf decrypted;
	char *inner;     /* the decrypted entity, kept for re-encryption */
	size_t inner_len;
	enum smime_kind envelope; /* what was decrypted (NONE: nothing) */
	bool covered;             /* a valid signature covers the whole decrypted entity */
	char decrypted_note[200];
	char integrity_note[120];
	char signature_note[SECURITY_FIELD_MAX];
};

static void harvest(const struct inbound *ib, const struct smime_verify_result *r)
{
	struct smime_certinfo info;
	const char *err;
	if (ib->te->store == NULL || r->signer_der == NULL ||
	    smime_cert_parse(r->signer_der, r->signer_der_len, &info, &err) < 0)
		return;
	int64_t uid, cid;
	struct store_cert cert = {.der = r->signer_der, .der_len = r->signer_der_len,
	                          .not_before = info.not_before, .not_after = info.not_after,
	                          .source = STORE_CERT_HARVESTED, .caps = r->caps,
	                          .caps_len = r->caps_len};
	sg_strlcpy(cert.fingerprint, info.fingerprint, sizeof(cert.fingerprint));
	sg_strlcpy(cert.serial, info.serial, sizeof(cert.serial));
	sg_strlcpy(cert.issuer, info.issuer, sizeof(cert.issuer));
	if (store_user_ensure(ib->te->store, info.address, STORE_USER_EXTERNAL, &uid, &err) < 0 ||
	    (cert.user_id = uid, store_cert_add(ib->te->store, &cert, NULL, 0, &cid, &err)) < 0)
		sg_warn("%s: cannot keep the signer's certificate: %s", ib->in->queue_id, err);
}

static void verify(struct inbound *ib)
{
	struct smime_verify_result r;
	const char *err;
	if (smime_verify(ib->te->trust, ib->msg, ib->len, &r, &err) < 0) {
		snprintf(ib->signature_note, sizeof(ib->signature_note),
		         "signature=invalid (%s)", err);
		return;
	}
	smime_verify_require_signer(&r, ib->in->mime != NULL ? ib->in->mime->from : NULL);
	ib->covered = r.verdict == SMIME_SIG_VALID || r.verdict == SMIME_SIG_OTHER_SIGNER;
	char signer[SG_LOG_PEER_TEXT_MAX + 4];
	sg_printable(signer, sizeof(signer), r.signer, SG_LOG_PEER_TEXT_MAX);
	snprintf(ib->signature_note, sizeof(ib->signature_note), "signature=%s%s%s%s (%s)",
	         smime_verdict_name(r.verdict), signer[0] ? "; signer=<" : "", signer,
	         signer[0] ? ">" : "", r.reason);
	if (r.verdict == SMIME_SIG_VALID)
		harvest(ib, &r);
	smime_verify_result_free(&r);
}

static void decrypt(struct inbound *ib)
{
	char *inner = NULL;
	size_t inner_len = 0;
	const char *err;
	if (transform_decrypt_gateway(ib->te, ib->msg, ib->len, &inner, &inner_len, &err) < 0) {
		snprintf(ib->decrypted_note, sizeof(ib->decrypted_note), "encrypted=smime; "
		         "decrypted=no (%s)", err);
		return;
	}
	if (transform_join_outer(ib->msg, ib->len, NULL, NULL, inner, inner_len, &ib->decrypted,
	                         &err) == 0) {
		ib->msg = ib->decrypted.data;
		ib->len = ib->decrypted.len;
		snprintf(ib->decrypted_note, sizeof(ib->decrypted_note), "encrypted=smime; decrypted=yes");
	}
	ib->inner = inner;
	ib->inner_len = inner_len;
}

/* Back to the message as it came: nothing decrypted is delivered. */
static void keep_encrypted(struct inbound *ib, const char *why)
{
	ib->msg = ib->in->data;
	ib->len = ib->in->len;
	sg_buf_free_secret(&ib->decrypted);
	sg_free_secret(&ib->inner, ib->inner_len);
	snprintf(ib->decrypted_note, sizeof(ib->decrypted_note), "encrypted=smime; decrypted=no (%s)",
	         why);
}

/* True if the decrypted entity is itself opaque S/MIME (signed-data whose signature is not
 * valid): its HTML is out of the scanner's sight, and the mail client would unwrap it. */
static bool inner_is_opaque(const struct inbound *ib)
{
	struct mime_info info;
	const char *err;
	bool opaque = mime_info_parse(ib->inner, ib->inner_len, &info, &err) == 0 &&
	              mime_info_is_smime(&info) && !info.is_multipart;
	mime_info_free(&info);
	return opaque;
}

/* integrity=none: the decrypted entity with every remote reference of its HTML made inert. */
static void neutralise(struct inbound *ib)
{
	struct sg_buf safe;
	size_t count = 0;
	const char *err;
	sg_strlcpy(ib->integrity_note, "integrity=none", sizeof(ib->integrity_note));
	if (inner_is_opaque(ib)) {
		keep_encrypted(ib, "no integrity protection, and its content is opaque signed data "
		                   "without a valid signature");
		return;
	}
	sg_buf_init(&safe, SG_MESSAGE_SIZE_HARD_MAX);
	if (mime_remote_neutralise(ib->inner, ib->inner_len, &safe, &count, &err) < 0) {
		sg_buf_free_secret(&safe);
		sg_info("%s: unauthenticated CBC content kept encrypted: %s", ib->in->queue_id, err);
		keep_encrypted(ib, "no integrity protection, and its HTML cannot be made safe");
		return;
	}
	snprintf(ib->integrity_note, sizeof(ib->integrity_note), "integrity=none; remote-content=%s",
	         count > 0 ? "neutralised" : "none-found");
	if (count == 0)
		return;
	sg_info("%s: integrity=none: %zu remote reference(s) made inert", ib->in->queue_id, count);
	struct sg_buf joined;
	sg_buf_init(&joined, SG_MESSAGE_SIZE_HARD_MAX);
	if (transform_join_outer(ib->in->data, ib->in->len, NULL, NULL, safe.data, safe.len, &joined,
	                         &err) < 0) {
		sg_buf_free_secret(&joined);
		keep_encrypted(ib, "no integrity protection, and its HTML cannot be made safe");
	} else {
		sg_buf_free_secret(&ib->decrypted);
		ib->decrypted = joined;
		ib->msg = joined.data;
		ib->len = joined.len;
		sg_free_secret(&ib->inner, ib->inner_len);
		ib->inner = sg_buf_steal(&safe, &ib->inner_len);
	}
	sg_buf_free_secret(&safe);
}

/* What protects the decrypted content, and what follows when nothing does. */
static void judge_integrity(struct inbound *ib)
{
	if (ib->envelope == SMIME_KIND_AUTH_ENVELOPED) {
		sg_strlcpy(ib->integrity_note, "integrity=aead", sizeof(ib->integrity_note));
	} else if (ib->covered) {
		sg_strlcpy(ib->integrity_note, "integrity=signed", sizeof(ib->integrity_note));
	} else if (ib->te->cbc_keep_encrypted) {
		sg_strlcpy(ib->integrity_note, "integrity=none", sizeof(ib->integrity_note));
		keep_encrypted(ib, "no integrity protection: AES-CBC without a valid signature inside, "
		                   "policy.cbc_unsigned = keep-encrypted");
	} else {
		neutralise(ib);
	}
}

/* policy.reencrypt_inbound: the decrypted entity is encrypted again to the internal
 * recipients' own certificates, so that it rests encrypted in their mailboxes. If one of
 * them has no usable certificate, the group gets the decrypted message (logged). */
static void reencrypt(struct inbound *ib)
{
	const char *why;
	struct sg_buf enc;
	sg_buf_init(&enc, SG_MESSAGE_SIZE_HARD_MAX);
	if (transform_reencrypt(ib->te, ib->in, ib->inner, ib->inner_len, NULL, &enc, &why) == 1) {
		sg_buf_free_secret(&ib->decrypted); /* ib->msg pointed into it: replaced just below */
		ib->decrypted = enc;
		ib->msg = ib->decrypted.data;
		ib->len = ib->decrypted.len;
		sg_strlcpy(ib->decrypted_note + strlen(ib->decrypted_note), "; reencrypted=yes",
		           sizeof(ib->decrypted_note) - strlen(ib->decrypted_note));
	} else {
		sg_buf_free(&enc);
		sg_info("%s: delivered decrypted, not re-encrypted: %s", ib->in->queue_id, why);
	}
}

static int emit(const struct inbound *ib, struct transform_output *out, const char **err)
{
	char field[SECURITY_FIELD_MAX + 450];
	snprintf(field, sizeof(field), "X-Sealgate-Security: %s%s%s%s%s\r\n", ib->decrypted_note,
	         ib->decrypted_note[0] && ib->integrity_note[0] ? "; " : "", ib->integrity_note,
	         ib->decrypted_note[0] && ib->signature_note[0] ? "; " : "",
	         ib->signature_note[0] ? ib->signature_note : "");
	static const char *const foreign[] = {"X-Sealgate-*"};
	struct mime_edit e = {.drop = foreign, .ndrop = 1, .prepend = field, .with_body = true};
	return mime_edit_apply(ib->msg, ib->len, &e, &out->buf, err);
}

enum transform_result transform_inbound(const struct transform_env *te,
                                        const struct transform_input *in,
                                        struct transform_output *out)
{
	if (in->mime != NULL && (mime_info_is_pgp_mime(in->mime) || in->mime->inline_pgp))
		return transform_inbound_pgp(te, in, out);
	if (in->mime == NULL || (!mime_info_is_smime(in->mime) && !in->mime->nested_smime_signed))
		return transform_pass(te, in, out);
	struct inbound ib = {.te = te, .in = in, .msg = in->data, .len = in->len};
	sg_buf_init(&ib.decrypted, SG_MESSAGE_SIZE_HARD_MAX);
	enum smime_kind kind = smime_classify(in->data, in->len);
	if (kind == SMIME_KIND_ENVELOPED || kind == SMIME_KIND_AUTH_ENVELOPED) {
		decrypt(&ib);
		ib.envelope = ib.msg != in->data ? kind : SMIME_KIND_NONE;
		kind = ib.msg != in->data ? smime_classify(ib.msg, ib.len) : SMIME_KIND_NONE;
	}
	if (kind == SMIME_KIND_SIGNED)
		verify(&ib);
	else if (in->mime->nested_smime_signed || /* then delivered as it came, verdict on top */
	         (ib.envelope != SMIME_KIND_NONE && mime_nested_smime_signed(ib.inner, ib.inner_len)))
		sg_strlcpy(ib.signature_note, PARTIAL_NOTE, sizeof(ib.signature_note));
	else if (ib.decrypted_note[0] == '\0' || ib.msg != in->data)
		sg_strlcpy(ib.signature_note, "signature=none", sizeof(ib.signature_note));
	if (ib.envelope != SMIME_KIND_NONE)
		judge_integrity(&ib);
	if (ib.inner != NULL && te->reencrypt_inbound)
		reencrypt(&ib);
	const char *err;
	enum transform_result res = TRANSFORM_OK;
	if (emit(&ib, out, &err) < 0)
		res = transform_fail(out, TRANSFORM_TEMP, "4.3.0", "%s", err);
	else {
		out->data = out->buf.data;
		out->len = out->buf.len;
		sg_info("%s: inbound S/MIME: %s%s%s%s%s", in->queue_id, ib.decrypted_note,
		        ib.integrity_note[0] ? "; " : "", ib.integrity_note,
		        ib.decrypted_note[0] ? "; " : "", ib.signature_note);
	}
	sg_buf_free_secret(&ib.decrypted);
	sg_free_secret(&ib.inner, ib.inner_len);
	return res;
}

/* transform_inbound.c: secure mail for internal recipients. What is encrypted to a
 * gateway-held key is decrypted; signatures are verified; the outcome is stated in one
 * X-Sealgate-Security field (after every foreign one was removed). A valid signer's
 * certificate is kept so that replies can be encrypted. What cannot be decrypted is delivered
 * as it came, with a field that says so.
 * Nested layers (transform_nested.c) are unwrapped as Thunderbird does: every envelope the
 * gateway can open is opened, and the deepest one opened is what is delivered. The field's
 * first line speaks of that content; a signature over an envelope is stated apart
 * (outer-sig=), and each layer's verdict follows in order (layers=).
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
	struct nested_walk walk;
	struct sg_buf decrypted;
	char *inner;     /* the decrypted entity, kept for re-encryption */
	size_t inner_len;
	enum smime_kind envelope; /* the deepest envelope decrypted (NONE: nothing) */
	bool covered;             /* a valid signature covers the whole decrypted entity */
	char decrypted_note[200];
	char integrity_note[120];
	char signature_note[SECURITY_FIELD_MAX];
	char outer_note[SECURITY_FIELD_MAX];
	char headers_note[SECURITY_FIELD_MAX];
	struct sg_buf protected; /* the message with its protected header fields applied */
};

/* The content's signature: the first layer below the deepest envelope opened. */
static void state_signature(struct inbound *ib, const struct nested_layer *l)
{
	char signer[SG_LOG_PEER_TEXT_MAX + 4];
	sg_printable(signer, sizeof(signer), l->signer, SG_LOG_PEER_TEXT_MAX);
	/* integrity: an intact SHA-1 signature inside the envelope protects the content too (EFAIL
	 * gadgets would need a second preimage of SHA-1); it still names no trusted author */
	ib->covered = l->verdict == SMIME_SIG_VALID || l->verdict == SMIME_SIG_OTHER_SIGNER ||
	              l->verdict == SMIME_SIG_WEAK;
	snprintf(ib->signature_note, sizeof(ib->signature_note), "signature=%s%s%s%s (%s)",
	         smime_verdict_name(l->verdict), signer[0] ? "; signer=<" : "", signer,
	         signer[0] ? ">" : "", l->note);
}

/* Signatures over an envelope sign ciphertext: who sent it, not who wrote the text. They are
 * stated apart, never as signature=: the first one that is not valid, else the outermost. */
static void state_outer(struct inbound *ib)
{
	const struct nested_layer *pick = NULL;
	for (size_t i = 0; i < ib->walk.n; i++) {
		const struct nested_layer *l = &ib->walk.layer[i];
		if (l->kind != SMIME_KIND_SIGNED || !l->over_encrypted)
			continue;
		if (pick == NULL || (pick->verdict == SMIME_SIG_VALID && l->verdict != SMIME_SIG_VALID))
			pick = l;
	}
	if (pick == NULL)
		return;
	char signer[SG_LOG_PEER_TEXT_MAX + 4];
	sg_printable(signer, sizeof(signer), pick->signer, SG_LOG_PEER_TEXT_MAX);
	if (pick->verdict == SMIME_SIG_VALID)
		snprintf(ib->outer_note, sizeof(ib->outer_note), "outer-sig=valid (by %s; it signs "
		         "the encrypted part, not the text)", signer);
	else
		snprintf(ib->outer_note, sizeof(ib->outer_note), "outer-sig=%s (%s)",
		         smime_verdict_name(pick->verdict), pick->note);
}

/* The deepest envelope opened becomes the delivered entity, below the message's own fields;
 * every layer above it (signatures over ciphertext, outer envelopes) is taken off. */
static void open_envelopes(struct inbound *ib, size_t k)
{
	struct nested_layer *l = &ib->walk.layer[k - 1];
	const char *err;
	ib->inner = l->entity;
	ib->inner_len = l->entity_len;
	l->entity = NULL;
	if (transform_join_outer(ib->in->data, ib->in->len, NULL, NULL, ib->inner, ib->inner_len,
	                         &ib->decrypted, &err) < 0) {
		snprintf(ib->decrypted_note, sizeof(ib->decrypted_note), "encrypted=smime; "
		         "decrypted=no (%s)", err);
		sg_free_secret(&ib->inner, ib->inner_len);
		return;
	}
	ib->msg = ib->decrypted.data;
	ib->len = ib->decrypted.len;
	ib->envelope = (enum smime_kind)l->kind;
	snprintf(ib->decrypted_note, sizeof(ib->decrypted_note), "encrypted=smime; %sdecrypted=yes",
	         l->to_domain ? "to=domain; " : "");
}

/* The notes from the walk: what was decrypted, the content's signature, the outer ones. */
static void summarise(struct inbound *ib)
{
	const struct nested_walk *w = &ib->walk;
	size_t k = transform_nested_decrypted(w);
	for (size_t i = k; i < w->n && k == 0; i++)
		if (w->layer[i].kind != SMIME_KIND_SIGNED)
			snprintf(ib->decrypted_note, sizeof(ib->decrypted_note), "encrypted=smime; "
			         "decrypted=no (%s)", w->layer[i].note);
	if (k > 0)
		open_envelopes(ib, k);
	const struct nested_layer *below = k < w->n ? &w->layer[k] : NULL;
	if (below != NULL && below->kind == SMIME_KIND_SIGNED && !below->over_encrypted)
		state_signature(ib, below);
	else if (ib->in->mime->nested_smime_signed || /* then delivered as it came, verdict on top */
	         (ib->inner != NULL && mime_nested_smime_signed(ib->inner, ib->inner_len)))
		sg_strlcpy(ib->signature_note, PARTIAL_NOTE, sizeof(ib->signature_note));
	else if (ib->decrypted_note[0] == '\0' || ib->inner != NULL)
		sg_strlcpy(ib->signature_note, "signature=none", sizeof(ib->signature_note));
	state_outer(ib);
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

/* The innermost content delivered, where protected header fields (RFC 9788) would be; NULL
 * when the message goes as it came with an envelope unopened, or the walk stopped short. */
static const char *payload_of(const struct inbound *ib, size_t *len_r)
{
	const struct nested_walk *w = &ib->walk;
	if (w->n == 0 || w->too_deep || (ib->envelope != SMIME_KIND_NONE && ib->inner == NULL))
		return NULL;
	for (size_t i = 0; i < w->n; i++)
		if (w->layer[i].kind != SMIME_KIND_SIGNED && !w->layer[i].decrypted)
			return NULL;
	if (transform_nested_decrypted(w) == w->n) {
		*len_r = ib->inner_len;
		return ib->inner;
	}
	*len_r = w->layer[w->n - 1].entity_len;
	return w->layer[w->n - 1].entity;
}

/* Protected header fields inside replace the outer ones in what is delivered. */
static void apply_protected_headers(struct inbound *ib)
{
	size_t len = 0;
	const char *payload = payload_of(ib, &len);
	if (payload != NULL &&
	    transform_hp_inbound(ib->in, ib->msg, ib->len, payload, len, &ib->protected,
	                         ib->headers_note, sizeof(ib->headers_note)) == 1) {
		ib->msg = ib->protected.data;
		ib->len = ib->protected.len;
	}
}

/* Joins the non-empty notes with "; ", folding before a note that would take the line past
 * LINE_SOFT_MAX (RFC 5322 allows 998 characters a line; our notes stay well below it). */
#define LINE_SOFT_MAX 900
static void join_notes(char *dst, size_t size, const char *const *notes, size_t n)
{
	size_t used = 0, line = 0;
	dst[0] = '\0';
	for (size_t i = 0; i < n && used < size; i++) {
		if (notes[i][0] == '\0')
			continue;
		bool fold = used > 0 && line + strlen(notes[i]) + 2 > LINE_SOFT_MAX;
		int k = snprintf(dst + used, size - used, "%s%s", used == 0 ? "" : fold ? ";\r\n\t" : "; ",
		                 notes[i]);
		used += (size_t)k;
		line = fold ? strlen(notes[i]) + 1 : line + (size_t)k;
	}
}

/* The summary on the first line (what the delivered content is), then every layer in order
 * on a continuation line when there was more than one. */
static int emit(const struct inbound *ib, struct transform_output *out, const char **err)
{
	char summary[4 * SECURITY_FIELD_MAX], layers[SECURITY_FIELD_MAX * 2] = "";
	char field[sizeof(summary) + sizeof(layers) + 64];
	const char *notes[] = {ib->decrypted_note, ib->integrity_note, ib->signature_note,
	                       ib->outer_note, ib->headers_note};
	join_notes(summary, sizeof(summary), notes, 5);
	if (ib->walk.n > 1 || ib->walk.too_deep)
		transform_nested_layers(&ib->walk, layers, sizeof(layers));
	snprintf(field, sizeof(field), "X-Sealgate-Security: %s%s%s\r\n", summary,
	         layers[0] ? ";\r\n\t" : "", layers);
	static const char *const foreign[] = {"X-Sealgate-*"};
	struct mime_edit e = {.drop = foreign, .ndrop = 1, .prepend = field, .with_body = true};
	int rc = mime_edit_apply(ib->msg, ib->len, &e, &out->buf, err);
	sg_info("%s: inbound S/MIME: %s%s%s", ib->in->queue_id, summary, layers[0] ? "; " : "",
	        layers);
	return rc;
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
	sg_buf_init(&ib.protected, SG_MESSAGE_SIZE_HARD_MAX);
	transform_nested_walk(te, in, &ib.walk);
	summarise(&ib);
	if (ib.envelope != SMIME_KIND_NONE)
		judge_integrity(&ib);
	if (ib.inner != NULL && te->reencrypt_inbound)
		reencrypt(&ib);
	apply_protected_headers(&ib);
	const char *err;
	enum transform_result res = TRANSFORM_OK;
	if (emit(&ib, out, &err) < 0)
		res = transform_fail(out, TRANSFORM_TEMP, "4.3.0", "%s", err);
	else {
		out->data = out->buf.data;
		out->len = out->buf.len;
	}
	transform_nested_free(&ib.walk);
	sg_buf_free_secret(&ib.protected);
	sg_buf_free_secret(&ib.decrypted);
	sg_free_secret(&ib.inner, ib.inner_len);
	return res;
}

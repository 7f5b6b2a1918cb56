/* transform_nested.c: the S/MIME layers at the top of an inbound message, outer to inner, as
 * Thunderbird unwraps them: each signature verified, each envelope opened with a gateway-held
 * key, at most TRANSFORM_NESTED_MAX deep (a deeper chain is a bomb, not mail). Only the chain
 * at the top is walked: an S/MIME part beside others in a multipart/mixed is no layer (its
 * signature is partial, mime_nested.c). Each layer below the first is read with the message's
 * own header fields above it, so that a signing time is still compared with its Date. */
#include "queue/transform.h"

#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "crypto/smime.h"
#include "mime/mime.h"
#include "store/store.h"

#include <stdio.h>
#include <string.h>

/* Keeps a valid signer's certificate (and the capabilities it states) for replies. */
static void harvest(const struct transform_env *te, const struct transform_input *in,
                    const struct smime_verify_result *r)
{
	struct smime_certinfo info;
	const char *err;
	if (te->store == NULL || r->signer_der == NULL ||
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
	if (store_user_ensure(te->store, info.address, STORE_USER_EXTERNAL, &uid, &err) < 0 ||
	    (cert.user_id = uid, store_cert_add(te->store, &cert, NULL, 0, &cid, &err)) < 0)
		sg_warn("%s: cannot keep the signer's certificate: %s", in->queue_id, err);
}

/* A signature layer: verdict (bound to the From address: the protected one when what it
 * signed carries protected header fields, RFC 9788), signer, and what it signed. */
static bool verify_layer(const struct transform_env *te, const struct transform_input *in,
                         const char *msg, size_t len, struct nested_layer *l)
{
	struct smime_verify_result r;
	const char *err;
	if (smime_verify(te->trust, msg, len, &r, &err) < 0) {
		l->verdict = SMIME_SIG_INVALID;
		sg_strlcpy(l->note, err, sizeof(l->note));
		return false;
	}
	char from[SG_ADDR_MAX];
	transform_hp_from(in, r.content != NULL ? r.content : "", r.content_len, from, sizeof(from));
	smime_verify_require_signer(&r, from);
	l->verdict = r.verdict;
	l->detached = r.detached;
	sg_strlcpy(l->signer, r.signer, sizeof(l->signer));
	sg_strlcpy(l->note, r.reason, sizeof(l->note));
	if (r.verdict == SMIME_SIG_VALID)
		harvest(te, in, &r);
	l->entity = r.content; /* opaque with a broken signature: none, the walk ends */
	l->entity_len = r.content_len;
	r.content = NULL;
	smime_verify_result_free(&r);
	return l->entity != NULL;
}

/* An envelope: opened with whichever gateway-held key it names, or why not. */
static bool decrypt_layer(const struct transform_env *te, const char *msg, size_t len,
                          struct nested_layer *l)
{
	const char *err;
	if (transform_decrypt_gateway(te, msg, len, &l->entity, &l->entity_len, &l->to_domain,
	                              &err) != 0) {
		l->entity = NULL;
		sg_strlcpy(l->note, err, sizeof(l->note));
		return false;
	}
	l->decrypted = true;
	return true;
}

/* True if entity begins with a header field (or with the empty line of an empty header). */
static bool has_header(const char *entity, size_t len)
{
	if (len > 0 && (entity[0] == '\n' || entity[0] == '\r'))
		return true;
	size_t i = 0;
	while (i < len && entity[i] > ' ' && entity[i] < 127 && entity[i] != ':')
		i++;
	return i > 0 && i < len && entity[i] == ':';
}

/* Content without any header (what `openssl cms -encrypt` makes of a text file) is text/plain
 * by MIME's default: it gets the empty line of an empty header, so that it stays the body and
 * its first line is not read as a field of the message. */
static void give_empty_header(struct nested_layer *l)
{
	if (l->entity == NULL || has_header(l->entity, l->entity_len))
		return;
	char *e = sg_malloc(l->entity_len + 3);
	memcpy(e, "\r\n", 2);
	memcpy(e + 2, l->entity, l->entity_len + 1);
	sg_free_secret(&l->entity, l->entity_len);
	l->entity = e;
	l->entity_len += 2;
}

/* Marks each signature with an envelope below it: it covers ciphertext, not the text. */
static void mark_outer(struct nested_walk *w)
{
	bool envelope_below = false;
	for (size_t i = w->n; i-- > 0;) {
		struct nested_layer *l = &w->layer[i];
		if (l->kind == SMIME_KIND_SIGNED)
			l->over_encrypted = envelope_below;
		else
			envelope_below = true;
	}
}

void transform_nested_walk(const struct transform_env *te, const struct transform_input *in,
                           struct nested_walk *w)
{
	memset(w, 0, sizeof(*w));
	struct sg_buf cur;
	sg_buf_init(&cur, SG_MESSAGE_SIZE_HARD_MAX);
	const char *msg = in->data;
	size_t len = in->len;
	for (;;) {
		enum smime_kind kind = smime_classify(msg, len);
		if (kind == SMIME_KIND_NONE || kind == SMIME_KIND_OTHER)
			break;
		if (w->n == TRANSFORM_NESTED_MAX) {
			w->too_deep = true;
			break;
		}
		struct nested_layer *l = &w->layer[w->n++];
		l->kind = kind;
		bool opened = kind == SMIME_KIND_SIGNED ? verify_layer(te, in, msg, len, l)
		                                        : decrypt_layer(te, msg, len, l);
		give_empty_header(l);
		struct sg_buf next;
		const char *err;
		sg_buf_init(&next, SG_MESSAGE_SIZE_HARD_MAX);
		if (!opened || transform_join_outer(in->data, in->len, NULL, NULL, l->entity,
		                                    l->entity_len, &next, &err) < 0) {
			sg_buf_free_secret(&next);
			break;
		}
		sg_buf_free_secret(&cur);
		cur = next;
		msg = cur.data;
		len = cur.len;
	}
	sg_buf_free_secret(&cur);
	mark_outer(w);
}

size_t transform_nested_decrypted(const struct nested_walk *w)
{
	size_t k = 0;
	for (size_t i = 0; i < w->n; i++)
		if (w->layer[i].decrypted)
			k = i + 1;
	return k;
}

/* A layer's name and outcome for the field, e.g. "opaque-signed(valid a@b.example, outer)". */
static void describe(const struct nested_layer *l, char *dst, size_t size)
{
	char signer[SG_LOG_PEER_TEXT_MAX + 4];
	sg_printable(signer, sizeof(signer), l->signer, SG_LOG_PEER_TEXT_MAX);
	for (char *p = signer; *p != '\0'; p++)
		if (strchr("()<>;,\"\\ ", *p) != NULL) /* the field's own separators */
			*p = '?';
	if (l->kind != SMIME_KIND_SIGNED) {
		snprintf(dst, size, "%s(%s)", l->kind == SMIME_KIND_AUTH_ENVELOPED ? "authenveloped"
		                                                                     : "enveloped",
		         l->decrypted ? "decrypted" : "not-decrypted");
		return;
	}
	snprintf(dst, size, "%s(%s%s%s%s)", l->detached ? "signed" : "opaque-signed",
	         smime_verdict_name(l->verdict), signer[0] ? " " : "", signer,
	         l->over_encrypted ? ", outer" : "");
}

void transform_nested_layers(const struct nested_walk *w, char *dst, size_t size)
{
	size_t used = (size_t)snprintf(dst, size, "layers=");
	for (size_t i = 0; i < w->n && used < size; i++) {
		char one[SG_LOG_PEER_TEXT_MAX + 64];
		describe(&w->layer[i], one, sizeof(one));
		used += (size_t)snprintf(dst + used, size - used, "%s%s", i > 0 ? " > " : "", one);
	}
	if (w->too_deep && used < size)
		snprintf(dst + used, size - used, " > (more layers: not opened, at most %d)",
		         TRANSFORM_NESTED_MAX);
}

void transform_nested_free(struct nested_walk *w)
{
	for (size_t i = 0; i < w->n; i++)
		sg_free_secret(&w->layer[i].entity, w->layer[i].entity_len);
	w->n = 0;
}

/* transform_smime.c: outbound S/MIME. The entity (Content-* fields and body) is signed with
 * the sender's gateway-held key when the plan says so, then encrypted to every recipient of
 * the group; the message-level fields stay outside, minus Bcc and the subject tag, and with
 * policy.header_protection inside too (RFC 9788, transform_hp.c). */
#include "queue/transform.h"

#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "crypto/keystore.h"
#include "crypto/smime.h"
#include "mime/mime.h"
#include "policy/policy.h"
#include "store/store.h"

#include <stdio.h>
#include <string.h>

struct smime_job {
	const struct transform_env *te;
	const struct transform_input *in;
	struct transform_output *out;
	const char *plain;   /* the message as the sender meant it */
	size_t plain_len;
	struct sg_buf plain_buf;
	struct sg_buf entity;
	char *signed_entity; /* or NULL when not signed */
	size_t signed_len;
	struct store_cert *certs;
	size_t ncerts;
};

/* The sender's signature, if the plan asks for one and the sender has a gateway-held key.
 * Without one the message still leaves encrypted: signing is a bonus, encryption the rule. */
static enum transform_result sign_entity(struct smime_job *sj)
{
	struct store_cert cert;
	const char *why;
	int rc = transform_find_cert(sj->te, sj->in->sender, SMIME_USAGE_SIGN, true, &cert, &why);
	if (rc <= 0) {
		sg_info("%s: not signed: the sender has no gateway-held signing certificate (%s)",
		        sj->in->queue_id, why);
		return rc < 0 ? TRANSFORM_TEMP : TRANSFORM_OK;
	}
	const char *err;
	enum transform_result res = TRANSFORM_OK;
	const struct keystore_key *key = transform_signing_key(sj->te, &cert, &err);
	if (key != NULL) {
		struct smime_der signer = {cert.der, cert.der_len};
		struct smime_der chain = {sj->te->ca_der, sj->te->ca_der_len};
		if (smime_sign(&signer, key, &chain, sj->te->ca_der != NULL ? 1 : 0, sj->entity.data,
		               sj->entity.len, &sj->signed_entity, &sj->signed_len, &err) < 0)
			res = transform_fail(sj->out, TRANSFORM_TEMP, "4.7.0", "cannot sign: %s", err);
	} else {
		res = transform_fail(sj->out, TRANSFORM_TEMP, "4.7.0", "cannot open the signing key: %s",
		                     err);
	}
	store_cert_clear(&cert);
	return res;
}

/* True when the certificate with fingerprint fpr is among the first n already collected: a
 * domain certificate serves every recipient of its domain with one RecipientInfo. */
static bool collected(const struct smime_job *sj, const char *fpr)
{
	for (size_t i = 0; i < sj->ncerts; i++)
		if (strcmp(sj->certs[i].fingerprint, fpr) == 0)
			return true;
	return false;
}

static enum transform_result collect_certs(struct smime_job *sj)
{
	sj->certs = sg_calloc(sj->in->nrcpt, sizeof(*sj->certs));
	for (size_t i = 0; i < sj->in->nrcpt; i++) {
		const char *why;
		char owner[POLICY_DOMAIN_OWNER_MAX];
		const char *whose = transform_key_owner(sj->in, i, owner, sizeof(owner));
		int rc = transform_find_cert(sj->te, whose, SMIME_USAGE_ENCRYPT, false,
		                             &sj->certs[sj->ncerts], &why);
		if (rc < 0)
			return transform_fail(sj->out, TRANSFORM_TEMP, "4.3.0", "store: %s", why);
		if (rc == 0) /* it was usable when planned; expired or revoked since */
			return transform_fail(sj->out, TRANSFORM_PERM, "5.7.1",
			                      "this message had to be encrypted but %s has no usable "
			                      "certificate any more (%s); it was not sent", whose, why);
		if (sj->certs[sj->ncerts].source == STORE_CERT_DISCOVERED)
			sg_info("%s: to=<%s>: encrypted to a discovered certificate (sha256 %s; "
			        "policy.key_lookup)", sj->in->queue_id, sj->certs[sj->ncerts].address,
			        sj->certs[sj->ncerts].fingerprint);
		if (collected(sj, sj->certs[sj->ncerts].fingerprint))
			store_cert_clear(&sj->certs[sj->ncerts]);
		else
			sj->ncerts++;
	}
	return TRANSFORM_OK;
}

/* GCM only when every recipient of the group can read it (or the admin says always). */
static unsigned cipher_flags(const struct smime_job *sj)
{
	const char *mode = sj->te->smime_gcm != NULL ? sj->te->smime_gcm : "capable";
	if (strcmp(mode, "always") == 0)
		return SMIME_ENCRYPT_GCM;
	if (strcmp(mode, "never") == 0)
		return 0;
	for (size_t i = 0; i < sj->ncerts; i++)
		if (!smime_caps_allow_gcm(sj->certs[i].caps, sj->certs[i].caps_len))
			return 0;
	return sj->ncerts > 0 ? SMIME_ENCRYPT_GCM : 0;
}

static enum transform_result encrypt_and_wrap(struct smime_job *sj)
{
	struct smime_recipient *rcpts = sg_calloc(sj->ncerts, sizeof(*rcpts));
	for (size_t i = 0; i < sj->ncerts; i++)
		rcpts[i] = (struct smime_recipient){{sj->certs[i].der, sj->certs[i].der_len},
		                                   {sj->certs[i].caps, sj->certs[i].caps_len}};
	const char *body = sj->signed_entity != NULL ? sj->signed_entity : sj->entity.data;
	size_t body_len = sj->signed_entity != NULL ? sj->signed_len : sj->entity.len;
	char *enc = NULL;
	size_t enc_len = 0;
	const char *err;
	enum transform_result res = TRANSFORM_OK;
	if (smime_encrypt_to(rcpts, sj->ncerts, body, body_len, cipher_flags(sj), &enc, &enc_len,
	                     &err) < 0)
		res = transform_fail(sj->out, TRANSFORM_TEMP, "4.7.0", "cannot encrypt: %s", err);
	else if (transform_hp_join(sj->te, sj->plain, sj->plain_len, enc, enc_len, &sj->out->buf,
	                           &err) < 0 ||
	         transform_mark_via(sj->in, "smime", sj->out, &err) < 0)
		res = transform_fail(sj->out, TRANSFORM_PERM, "5.3.4", "%s", err);
	sg_free(&enc);
	sg_free(&rcpts);
	return res;
}

enum transform_result transform_smime(const struct transform_env *te,
                                      const struct transform_input *in,
                                      struct transform_output *out)
{
	struct smime_job sj = {.te = te, .in = in, .out = out};
	sg_buf_init(&sj.plain_buf, SG_MESSAGE_SIZE_HARD_MAX);
	sg_buf_init(&sj.entity, SG_MESSAGE_SIZE_HARD_MAX);
	const char *err;
	enum transform_result res = TRANSFORM_OK;
	int prc = transform_plaintext(te, in, &sj.plain_buf, &sj.plain, &sj.plain_len, &err);
	if (prc == 1) {
		sg_buf_free(&sj.plain_buf);
		sg_buf_free(&sj.entity);
		return transform_pass(te, in, out);
	}
	if (prc < 0)
		res = transform_fail(out, TRANSFORM_PERM, "5.7.1",
		                     "the message was encrypted and cannot be read here: %s", err);
	else if (transform_hp_entity(te, sj.plain, sj.plain_len, &sj.entity, &err) < 0)
		res = transform_fail(out, TRANSFORM_PERM, "5.3.4", "%s", err);
	if (res == TRANSFORM_OK && in->plan->sign)
		res = sign_entity(&sj);
	if (res == TRANSFORM_OK)
		res = collect_certs(&sj);
	if (res == TRANSFORM_OK)
		res = encrypt_and_wrap(&sj);
	if (res == TRANSFORM_OK)
		res = transform_check_size(te, out);
	if (res == TRANSFORM_OK) {
		out->data = out->buf.data;
		out->len = out->buf.len;
		sg_info("%s: S/MIME encrypted for %zu recipient(s) with %zu certificate(s)%s; %s",
		        in->queue_id, in->nrcpt, sj.ncerts, sj.signed_entity != NULL ? ", signed" : "",
		        in->plan->via_domain ? policy_via_name(in->plan) : "via=personal-certificate");
	}
	for (size_t i = 0; i < sj.ncerts; i++)
		store_cert_clear(&sj.certs[i]);
	sg_free(&sj.certs);
	sg_free_secret(&sj.signed_entity, sj.signed_len);
	sg_buf_free_secret(&sj.entity);
	sg_buf_free_secret(&sj.plain_buf);
	return res;
}

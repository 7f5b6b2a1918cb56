/* transform_arc.c: the ARC set sealgate adds to inbound mail it decrypted. The change breaks
 * the sender's DKIM signature for the internal server; before changing anything, sealgate
 * checks that signature (and takes the verdicts of trusted upstream servers from their
 * Authentication-Results), and records them in an ARC set signed with the recipient domain's
 * key, which the internal server can verify and trust (RFC 8617). */
#include "queue/transform.h"

#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "crypto/sgdkim.h"
#include "mime/mime.h"
#include "policy/policy.h"
#include "store/store_dkim.h"

#include <stdio.h>
#include <string.h>

#define AAR_MAX 2048

/* Appends "; <resinfo>" of each Authentication-Results field whose authserv-id is trusted. */
static void trusted_results(const struct transform_env *te, const char *msg, size_t len,
                            char *aar, size_t size)
{
	size_t hlen = mime_header_block_len(msg, len, SG_HEADER_BLOCK_MAX), pos = 0;
	struct mime_field f;
	while (te->arc_trusted.count > 0 && mime_field_next(msg, hlen, &pos, &f)) {
		if (!mime_field_is(&f, "Authentication-Results") || f.value_len > 1000)
			continue;
		char v[1024], id[256], shown[1100];
		memcpy(v, f.value, f.value_len);
		v[f.value_len] = '\0';
		const char *semi = strchr(v, ';');
		size_t idlen = semi != NULL ? (size_t)(semi - v) : 0;
		if (idlen == 0 || idlen >= sizeof(id))
			continue;
		memcpy(id, v, idlen);
		id[idlen] = '\0';
		if (!sg_strlist_contains_nocase(&te->arc_trusted, sg_trim(id)))
			continue;
		sg_printable(shown, sizeof(shown), sg_trim((char *)semi + 1), 1000);
		size_t used = strlen(aar);
		if (shown[0] != '\0' && strcmp(shown, "none") != 0)
			snprintf(aar + used, size - used, ";\r\n\t%s", shown);
	}
}

/* The newest RSA key of domain: 1 found (*k_r filled, clear it), 0 none, -1 error. */
static int rsa_key(const struct transform_env *te, const char *domain,
                   struct store_dkim_key *k_r, const char **error_r)
{
	struct store_dkim_key *keys = NULL;
	size_t n = 0;
	if (te->store == NULL || store_dkim_list(te->store, domain, true, &keys, &n, error_r) < 0)
		return -1;
	int found = 0;
	for (size_t i = n; i-- > 0 && !found;) {
		if (strcmp(keys[i].alg, "rsa2048") == 0) {
			*k_r = keys[i];
			memset(&keys[i], 0, sizeof(keys[i]));
			found = 1;
		}
	}
	store_dkim_list_free(&keys, n);
	return found;
}

/* The AAR: our verdict on the sender's DKIM signature and on the ARC chain the message
 * arrived with (arc=, when it had one), and what trusted upstream servers found. */
static void aar_of(const struct transform_env *te, const struct transform_input *in,
                   enum sgdkim_cv cv, int n, const char *why, char *aar, size_t size)
{
	char verdict[512];
	sgdkim_verify(te->dkim_lib, in->data, in->len, verdict, sizeof(verdict));
	int used = snprintf(aar, size, "%s;\r\n\t%s", te->hostname, verdict);
	if (n > 0 && used > 0 && (size_t)used < size)
		snprintf(aar + used, size - (size_t)used, ";\r\n\tarc=%s%s%s%s",
		         sgdkim_cv_name(cv), cv == SGDKIM_CV_FAIL ? " (" : "",
		         cv == SGDKIM_CV_FAIL ? why : "", cv == SGDKIM_CV_FAIL ? ")" : "");
	trusted_results(te, in->data, in->len, aar, size);
}

static int seal(const struct transform_env *te, const struct transform_input *in,
                const struct store_dkim_key *k, struct transform_output *out,
                const char **error_r)
{
	char aar[AAR_MAX];
	int n = 0;
	const char *why = NULL;
	/* the chain as it arrived, before the change (RFC 8617 §5.2) */
	enum sgdkim_cv cv = sgdkim_arc_validate(te->dkim_lib, in->data, in->len, &n, &why);
	aar_of(te, in, cv, n, why, aar, sizeof(aar));
	struct sgdkim_key key;
	if (transform_dkim_open_key(te, k, &key, error_r) < 0)
		return -1;
	struct sg_buf fields;
	sg_buf_init(&fields, 4 * SG_DKIM_FIELD_MAX);
	int rc = sgdkim_arc_seal(te->dkim_lib, &key, out->data, out->len, aar, cv, &fields,
	                         error_r);
	transform_dkim_close_key(&key);
	if (rc == 0 && sg_buf_append(&fields, "", 1) == 0) {
		struct mime_edit e = {.keep = MIME_KEEP_ALL, .prepend = fields.data, .with_body = true};
		rc = transform_output_edit(out, &e, error_r);
	}
	if (rc == 0)
		sg_info("%s: arc: sealed i=%d cv=%s by %s (%s)", in->queue_id, n + 1,
		        sgdkim_cv_name(cv), k->domain, cv == SGDKIM_CV_FAIL ? why : "ok");
	sg_buf_free(&fields);
	return rc;
}

enum transform_result transform_arc(const struct transform_env *te,
                                    const struct transform_input *in,
                                    struct transform_output *out)
{
	if (te == NULL || !te->arc_seal || te->dkim_lib == NULL ||
	    in->plan->direction != POLICY_DIR_INBOUND || in->plan->action != POLICY_INBOUND ||
	    out->data == in->data || in->nrcpt == 0)
		return TRANSFORM_OK;
	const char *at = strrchr(in->rcpts[0], '@'), *err = NULL;
	char domain[SG_DOMAIN_MAX + 1];
	if (at == NULL || strlen(at + 1) >= sizeof(domain))
		return TRANSFORM_OK;
	sg_strlcpy(domain, at + 1, sizeof(domain));
	sg_ascii_lower(domain);
	struct store_dkim_key k;
	memset(&k, 0, sizeof(k));
	int rc = rsa_key(te, domain, &k, &err);
	if (rc == 0)
		transform_dkim_no_key(in->queue_id, "arc: not sealed, recipient domain", domain);
	if (rc == 1 && seal(te, in, &k, out, &err) < 0)
		rc = -1;
	if (rc < 0)
		sg_warn("%s: arc: not sealed: %s", in->queue_id, err != NULL ? err : "error");
	store_dkim_key_clear(&k);
	return TRANSFORM_OK;
}

/* transform_pass.c: the pass-through transform. The common case costs nothing: the queued
 * bytes are delivered as they are unless a foreign X-Sealgate-* field has to go. */
#include "queue/transform.h"

#include "core/sg_mem.h"
#include "mime/mime.h"
#include "policy/policy.h"

static const char *const foreign[] = {"X-Sealgate-*"};

/* True if the header block has a field that must not leave as it came. */
static bool has_foreign_field(const char *data, size_t len)
{
	size_t hlen = mime_header_block_len(data, len, len), pos = 0;
	struct mime_field f;
	while (mime_field_next(data, hlen, &pos, &f))
		if (mime_field_is(&f, foreign[0]))
			return true;
	return false;
}

enum transform_result transform_pass(const struct transform_env *te,
                                     const struct transform_input *in,
                                     struct transform_output *out)
{
	out->data = in->data;
	out->len = in->len;
	char *autocrypt = NULL;
	if (te != NULL && te->autocrypt_outbound && in->plan->direction == POLICY_DIR_OUTBOUND)
		autocrypt = transform_autocrypt_field(te, in->sender);
	if (autocrypt == NULL && !has_foreign_field(in->data, in->len))
		return TRANSFORM_OK;
	struct mime_edit e = {.drop = foreign, .ndrop = 1, .keep = MIME_KEEP_ALL, .with_body = true,
	                      .prepend = autocrypt};
	const char *err;
	int rc = mime_edit_apply(in->data, in->len, &e, &out->buf, &err);
	sg_free(&autocrypt);
	if (rc < 0)
		return transform_fail(out, TRANSFORM_TEMP, "4.3.0", "%s", err);
	out->data = out->buf.data;
	out->len = out->buf.len;
	return TRANSFORM_OK;
}

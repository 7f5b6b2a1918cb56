/* fuzz_spool_record.c: the envelope parser on hostile bytes. Whatever it accepts must
 * format again and parse back to the same record (the round-trip property), and nothing
 * may crash or leak. */
#include "core/sg_buf.h"
#include "core/sg_log.h"
#include "queue/spool.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spool_envelope env;
	const char *err = NULL;
	if (spool_record_parse((const char *)data, size, &env, &err) < 0) {
		sg_assert(err != NULL && env.nrcpt == 0 && env.sender == NULL);
		spool_envelope_free(&env);
		return 0;
	}
	struct sg_buf a, b;
	sg_buf_init(&a, SG_SPOOL_RECORD_MAX);
	sg_buf_init(&b, SG_SPOOL_RECORD_MAX);
	sg_assert(spool_record_format(&env, &a) == 0);
	struct spool_envelope back;
	sg_assert(spool_record_parse(a.data, a.len, &back, &err) == 0);
	sg_assert(spool_record_format(&back, &b) == 0);
	/* The format is canonical, so equal records give equal bytes. */
	sg_assert(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	sg_assert(back.nrcpt == env.nrcpt && back.size == env.size &&
	          strcmp(back.id, env.id) == 0 && strcmp(back.sender, env.sender) == 0);
	spool_envelope_free(&back);
	spool_envelope_free(&env);
	sg_buf_free(&a);
	sg_buf_free(&b);
	return 0;
}

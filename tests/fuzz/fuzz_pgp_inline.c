/* fuzz_pgp_inline.c: the inline-PGP splitter (pgp_inline_find) on hostile decoded text. It
 * decides what may be decrypted or called signed (issue 21), so beyond not crashing: a span
 * lies inside the text and starts with a BEGIN line, and a whole block has nothing but white
 * space around it. */
#include "core/sg_log.h"
#include "crypto/pgp.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool only_space(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct pgp_armor_span sp;
	int found = pgp_inline_find(text, size, &sp);
	sg_assert(found == 0 || found == 1);
	if (found == 0)
		return 0;
	sg_assert(sp.start < sp.end && sp.end <= size);
	sg_assert(sp.end - sp.start >= 15 && memcmp(text + sp.start, "-----BEGIN PGP ", 15) == 0);
	sg_assert(sp.start == 0 || text[sp.start - 1] == '\n');
	sg_assert(sp.kind == PGP_KIND_INLINE_ENCRYPTED || sp.kind == PGP_KIND_INLINE_SIGNED);
	if (sp.whole)
		sg_assert(only_space(text, sp.start) && only_space(text + sp.end, size - sp.end));
	return 0;
}

/* fuzz_portal_i18n.c: the language choice reads the Accept-Language header and the "lang"
 * cookie, both sent by anyone. The first input byte says whether a cookie is sent (and where it
 * ends); the rest is the header. The answer is always one of the two languages, and nothing is
 * undefined on the way (UBSan: the q-values are numbers the parser computes). */
#include "portal/portal.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[4096];
	if (size == 0 || size >= sizeof(buf))
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	size_t cut = data[0] % 8; /* the cookie: the first few bytes, or none */
	char cookie[8] = "";
	const char *accept = buf;
	if (cut > 0 && cut <= strlen(buf)) {
		memcpy(cookie, buf, cut - 1);
		cookie[cut - 1] = '\0';
		accept = buf + cut - 1;
	}
	enum portal_lang l = portal_i18n_pick(cut > 0 ? cookie : NULL, data[0] & 0x80 ? NULL : accept);
	if (l != PORTAL_LANG_EN && l != PORTAL_LANG_DE)
		__builtin_trap();
	/* The text table and the code answer for whatever was picked. */
	if (strlen(portal_i18n_code(l)) != 2 || portal_i18n_text(l, "password")[0] == '\0')
		__builtin_trap();
	return 0;
}

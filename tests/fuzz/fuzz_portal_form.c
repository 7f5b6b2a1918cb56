/* fuzz_portal_form.c: portal request bodies are hostile input. The first line of the input is
 * the Content-Type (so the boundary is fuzzed too), the rest the body; whatever parses must
 * respect the field ceilings. */
#include "portal/portal.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct portal_form form;
	char ctype[256];
	const uint8_t *nl = memchr(data, '\n', size < sizeof(ctype) ? size : sizeof(ctype) - 1);
	if (nl == NULL)
		return 0;
	size_t clen = (size_t)(nl - data);
	memcpy(ctype, data, clen);
	ctype[clen] = '\0';
	const char *err;
	if (portal_form_parse(ctype, (const char *)nl + 1, size - clen - 1, &form, &err) == 0) {
		if (form.n > SG_HTTP_FIELDS_MAX)
			__builtin_trap();
		for (size_t i = 0; i < form.n; i++) {
			const struct portal_field *f = &form.fields[i];
			if (f->name[0] == '\0' || f->value[f->value_len] != '\0' ||
			    (!f->is_file && (f->value_len > SG_HTTP_FIELD_MAX ||
			                     strlen(f->value) != f->value_len)))
				__builtin_trap();
		}
		portal_form_clear(&form);
	}
	return 0;
}

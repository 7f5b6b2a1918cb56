/* fuzz_portal_form.c: portal request bodies are hostile input. The first line of the input is
 * the Content-Type (so the boundary is fuzzed too), the rest the body; whatever parses must
 * respect the field ceilings (the larger one of "text" too) and carry only clean file names
 * and content types. */
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
			    (!f->is_file && (f->value_len > portal_form_field_max(f->name) ||
			                     strlen(f->value) != f->value_len)))
				__builtin_trap();
			/* File parts carry a name (maybe "") without control characters and at most a
			 * plain "type/subtype"; text fields carry neither. */
			if (f->is_file != (f->filename != NULL) || (!f->is_file && f->content_type != NULL))
				__builtin_trap();
			for (const char *c = f->filename; c != NULL && *c != '\0'; c++)
				if ((unsigned char)*c < 0x20 || *c == 0x7f)
					__builtin_trap();
			if (f->content_type != NULL && (strchr(f->content_type, '/') == NULL ||
			                                strpbrk(f->content_type, " ;\"<>\r\n") != NULL))
				__builtin_trap();
		}
		portal_form_clear(&form);
	}
	return 0;
}

/* dir_filter.c: what a user types goes into an LDAP filter only escaped (RFC 4515 section 3:
 * "*", "(", ")", "\" and NUL as \XX; control bytes too), so that "*)(uid=*" is a name like
 * any other, not a wildcard or a second assertion. */
#include "directory/directory.h"

#include <string.h>

static bool needs_escape(unsigned char c)
{
	return c == '*' || c == '(' || c == ')' || c == '\\' || c < 0x20 || c == 0x7f;
}

int dir_filter_escape(const char *value, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
		size_t need = needs_escape(*p) ? 3 : 1;
		if (o + need >= size)
			return -1;
		if (need == 3) {
			out[o++] = '\\';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		} else {
			out[o++] = (char)*p;
		}
	}
	if (o >= size)
		return -1;
	out[o] = '\0';
	return 0;
}

static int append(char *out, size_t size, size_t *o, const char *s)
{
	size_t len = strlen(s);
	if (*o + len >= size)
		return -1;
	memcpy(out + *o, s, len);
	*o += len;
	out[*o] = '\0';
	return 0;
}

int dir_filter_build(const char *tmpl, const char *value, bool raw_value, char *out, size_t size)
{
	char esc[1024];
	if (size == 0 || (raw_value ? strlen(value) >= sizeof(esc)
	                            : dir_filter_escape(value, esc, sizeof(esc)) < 0))
		return -1;
	if (raw_value)
		memcpy(esc, value, strlen(value) + 1);
	size_t o = 0;
	out[0] = '\0';
	for (const char *p = tmpl; *p != '\0'; p++) {
		char one[2] = {*p, '\0'};
		const char *piece = one;
		if (*p == '%') {
			p++;
			if (*p != 's' && *p != '%')
				return -1;
			piece = *p == 's' ? esc : "%";
		}
		if (append(out, size, &o, piece) < 0)
			return -1;
	}
	return 0;
}

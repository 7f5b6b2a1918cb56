/* sg_str.c: bounded string helpers; see sg_str.h. */
#include "core/sg_str.h"
#include "core/sg_mem.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

size_t sg_strlcpy(char *dst, const char *src, size_t dstsize)
{
	size_t len = strlen(src);
	if (dstsize > 0) {
		size_t n = len < dstsize - 1 ? len : dstsize - 1;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

int sg_snprintf(char *dst, size_t dstsize, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(dst, dstsize, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= dstsize)
		return -1;
	return n;
}

long long sg_strtonum(const char *s, long long min, long long max, const char **error_r)
{
	const char *dummy;
	if (error_r == NULL)
		error_r = &dummy;
	*error_r = NULL;
	if (s == NULL || *s == '\0' || isspace((unsigned char)*s)) {
		*error_r = "invalid";
		return 0;
	}
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (*end != '\0') {
		*error_r = "invalid";
		return 0;
	}
	if ((errno == ERANGE && v == LLONG_MIN) || v < min) {
		*error_r = "too small";
		return 0;
	}
	if ((errno == ERANGE && v == LLONG_MAX) || v > max) {
		*error_r = "too large";
		return 0;
	}
	return v;
}

long long sg_strtonum_unit(const char *s, const struct sg_unit *units, size_t nunits,
                           long long max)
{
	char num[32];
	size_t len = strlen(s);
	if (len == 0 || len >= sizeof(num))
		return -1;
	memcpy(num, s, len + 1);
	long long mult = 1;
	for (size_t i = 0; i < nunits; i++) {
		if (tolower((unsigned char)num[len - 1]) == units[i].suffix) {
			mult = units[i].mult;
			num[--len] = '\0';
			break;
		}
	}
	const char *err;
	long long v = sg_strtonum(num, 0, max, &err);
	return err != NULL ? -1 : v * mult;
}

void sg_printable(char *dst, size_t dstsize, const char *s, size_t max)
{
	if (dstsize == 0)
		return;
	size_t o = 0, i = 0;
	for (; s[i] != '\0' && i < max && o + 1 < dstsize; i++) {
		unsigned char c = (unsigned char)s[i];
		dst[o++] = (c < 0x20 || c == 0x7f || c >= 0x80) ? '?' : (char)c;
	}
	if (s[i] != '\0' && dstsize > 4) {
		o = o > dstsize - 4 ? dstsize - 4 : o;
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
}

bool sg_streq_nocase(const char *a, const char *b) { return strcasecmp(a, b) == 0; }

bool sg_has_prefix_nocase(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

bool sg_has_suffix_nocase(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);
	return ls >= lx && strcasecmp(s + ls - lx, suffix) == 0;
}

char *sg_trim(char *s)
{
	size_t len = strlen(s);
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		s[--len] = '\0';
	size_t start = 0;
	while (isspace((unsigned char)s[start]))
		start++;
	if (start > 0)
		memmove(s, s + start, len - start + 1);
	return s;
}

void sg_ascii_lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

static bool is_list_sep(char c, bool comma)
{
	return (comma && c == ',') || isspace((unsigned char)c);
}

static void split(struct sg_strlist *list, const char *s, bool comma)
{
	list->items = NULL;
	list->count = 0;
	while (*s != '\0') {
		while (*s != '\0' && is_list_sep(*s, comma))
			s++;
		const char *start = s;
		while (*s != '\0' && !is_list_sep(*s, comma))
			s++;
		if (s > start) {
			list->items = sg_reallocarray(list->items, list->count + 1, sizeof(char *));
			list->items[list->count++] = sg_strndup(start, (size_t)(s - start));
		}
	}
}

void sg_strlist_split(struct sg_strlist *list, const char *s) { split(list, s, true); }

void sg_strlist_split_spaces(struct sg_strlist *list, const char *s) { split(list, s, false); }

void sg_strlist_free(struct sg_strlist *list)
{
	for (size_t i = 0; i < list->count; i++)
		sg_free(&list->items[i]);
	sg_free(&list->items);
	list->count = 0;
}

bool sg_strlist_contains_nocase(const struct sg_strlist *list, const char *s)
{
	for (size_t i = 0; i < list->count; i++)
		if (strcasecmp(list->items[i], s) == 0)
			return true;
	return false;
}

void sg_roff_text(FILE *f, const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", f);
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			fputs("\\e", f);
		else if (*s == '-')
			fputs("\\-", f);
		else
			fputc(*s, f);
	}
}

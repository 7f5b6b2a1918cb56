/* sg_str.h: bounded string helpers that replace the banned libc calls
 * (see tools/checksrc.sh): copy with truncation report, checked number parsing,
 * and sanitising of peer text before it is logged. */
#ifndef SG_STR_H
#define SG_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

/* Copies src into dst (size dstsize, NUL-terminated); returns strlen(src): a result
 * >= dstsize means truncation. */
size_t sg_strlcpy(char *dst, const char *src, size_t dstsize);
/* snprintf that returns -1 on truncation or error instead of a length. */
int sg_snprintf(char *dst, size_t dstsize, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Parses a whole decimal integer in [min, max]; on failure returns 0 and sets *error_r
 * ("invalid", "too small", "too large"). */
long long sg_strtonum(const char *s, long long min, long long max, const char **error_r);
/* A unit suffix and its multiplier, for sg_strtonum_unit. */
struct sg_unit {
	char suffix;
	long long mult;
};
/* Parses "NUMBER[SUFFIX]" where SUFFIX is one of units (case-insensitive), the number in
 * [0, max] before scaling; returns the scaled value or -1. */
long long sg_strtonum_unit(const char *s, const struct sg_unit *units, size_t nunits,
                           long long max);
/* Writes a printable, truncated copy of s (at most max source bytes) into dst: control
 * bytes become '?', as do bytes >= 0x80 unless allow_utf8; "..." marks truncation. */
void sg_printable(char *dst, size_t dstsize, const char *s, size_t max);
bool sg_streq_nocase(const char *a, const char *b);
bool sg_has_prefix_nocase(const char *s, const char *prefix);
bool sg_has_suffix_nocase(const char *s, const char *suffix);
/* Trims ASCII white space at both ends, in place; returns s. */
char *sg_trim(char *s);
/* Writes s to f as roff text (man pages): a leading dot or quote cannot start a request,
 * backslashes and hyphens are escaped. */
void sg_roff_text(FILE *f, const char *s);
/* Lower-cases ASCII letters in place. */
void sg_ascii_lower(char *s);

/* A list of strings split from "a, b ,c" (comma or white space separated). */
struct sg_strlist {
	char **items;
	size_t count;
};
void sg_strlist_split(struct sg_strlist *list, const char *s);
/* The same split at white space only (items that may hold commas: LDAP URLs with a DN). */
void sg_strlist_split_spaces(struct sg_strlist *list, const char *s);
void sg_strlist_free(struct sg_strlist *list);
bool sg_strlist_contains_nocase(const struct sg_strlist *list, const char *s);

#endif

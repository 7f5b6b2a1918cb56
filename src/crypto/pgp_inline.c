/* pgp_inline.c: finds an inline PGP armour block in decoded text and says whether it is the
 * whole text. Only a whole block may be decrypted or called signed (issue 21): text around a
 * block is not covered by its signature, and plaintext put beside attacker text is what EFAIL
 * exfiltrates. Armour header lines are shown by mail clients as text and are not covered
 * either, so a block with any but the harmless ones is not whole. Pure and bounded: fuzzed by
 * fuzz_pgp_inline. */
#include "crypto/pgp.h"

#include <string.h>

static const struct {
	const char *begin, *end;
	enum pgp_kind kind;
} armors[] = {
	{"-----BEGIN PGP MESSAGE-----", "-----END PGP MESSAGE-----", PGP_KIND_INLINE_ENCRYPTED},
	{"-----BEGIN PGP SIGNED MESSAGE-----", "-----END PGP SIGNATURE-----",
	 PGP_KIND_INLINE_SIGNED},
};

#define SIG_BEGIN "-----BEGIN PGP SIGNATURE-----"

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool all_space(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_space(s[i]))
			return false;
	return true;
}

/* The end of the line that starts at pos: the index after its '\n', or len. */
static size_t line_end(const char *text, size_t len, size_t pos)
{
	const char *nl = memchr(text + pos, '\n', len - pos);
	return nl != NULL ? (size_t)(nl + 1 - text) : len;
}

/* True if the line at pos is marker followed only by white space. */
static bool line_is(const char *text, size_t len, size_t pos, const char *marker)
{
	size_t m = strlen(marker), e = line_end(text, len, pos);
	return e - pos >= m && memcmp(text + pos, marker, m) == 0 &&
	       all_space(text + pos + m, e - pos - m);
}

/* The first line at or after pos that is marker: its start, or len. */
static size_t find_line(const char *text, size_t len, size_t pos, const char *marker)
{
	while (pos < len) {
		if (line_is(text, len, pos, marker))
			return pos;
		pos = line_end(text, len, pos);
	}
	return len;
}

/* Armour header lines after the marker line at pos, up to the blank line: true if each is
 * one of names ("Hash: ", ...). A missing blank line also fails. */
static bool headers_ok(const char *text, size_t len, size_t pos, const char *const *names,
                       size_t nnames)
{
	for (pos = line_end(text, len, pos); pos < len; pos = line_end(text, len, pos)) {
		size_t e = line_end(text, len, pos);
		if (all_space(text + pos, e - pos))
			return true;
		bool known = false;
		for (size_t i = 0; i < nnames && !known; i++)
			known = e - pos > strlen(names[i]) &&
			        strncmp(text + pos, names[i], strlen(names[i])) == 0;
		if (!known)
			return false;
	}
	return false;
}

/* Nothing but the signed text, a signature and harmless armour headers between the lines. */
static bool block_clean(const char *text, size_t len, const struct pgp_armor_span *sp)
{
	static const char *const clear_headers[] = {"Hash: "};
	static const char *const sig_headers[] = {"Version: ", "Charset: "};
	if (sp->kind == PGP_KIND_INLINE_ENCRYPTED)
		return true; /* replaced by its plaintext when opened: its headers are never shown */
	size_t sig = find_line(text, sp->end, line_end(text, len, sp->start), SIG_BEGIN);
	return sig < sp->end && headers_ok(text, sp->end, sp->start, clear_headers, 1) &&
	       headers_ok(text, sp->end, sig, sig_headers, 2);
}

/* The earliest BEGIN line of any armour kind at or after pos: its index into armors, or -1. */
static int first_begin(const char *text, size_t len, size_t pos, size_t *at_r)
{
	for (; pos < len; pos = line_end(text, len, pos))
		for (size_t i = 0; i < sizeof(armors) / sizeof(armors[0]); i++)
			if (line_is(text, len, pos, armors[i].begin)) {
				*at_r = pos;
				return (int)i;
			}
	return -1;
}

int pgp_inline_find(const char *text, size_t len, struct pgp_armor_span *span_r)
{
	memset(span_r, 0, sizeof(*span_r));
	size_t start = 0;
	int i = first_begin(text, len, 0, &start);
	if (i < 0)
		return 0;
	size_t end = find_line(text, len, line_end(text, len, start), armors[i].end);
	if (end == len)
		return 0; /* unterminated: nothing to open, and the text is shown as it is */
	span_r->kind = armors[i].kind;
	span_r->start = start;
	span_r->end = line_end(text, len, end);
	span_r->whole = all_space(text, start) &&
	                all_space(text + span_r->end, len - span_r->end) &&
	                block_clean(text, len, span_r);
	return 1;
}

/* spool_record.c: the envelope file format. Text, versioned, one "key=value" per line and
 * one line of space-separated fields per recipient; values are %XX-escaped so a line never
 * holds a control byte, a space or a raw '%'. Example:
 *
 *   SGQ 1
 *   id=0183A4F2C1D3E7A2B
 *   arrival=1764391993
 *   sender=alice@example.org
 *   ...
 *   rcpt=bob@example.com state=pending attempts=1 next=1764392593 reply=451%204.4.1...
 *   end=1
 *
 * "end=N" (N = number of recipients) closes the record, so a truncated file is rejected.
 * Forward compatibility: keys this version does not know are skipped (their syntax is still
 * checked), so an older binary can read a newer record of the same version; a change old
 * readers must not misread bumps the version, which they reject. Every other deviation —
 * duplicate or missing keys, bad numbers, unknown states, NUL bytes, oversized values — is
 * an error: the file is treated as hostile (it is fuzzed). */
#include "queue/spool.h"
#include "core/sg_buf.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define RECORD_VERSION_LINE "SGQ 1"
#define KEY_MAX 32

enum field_kind { F_STR, F_OPTSTR, F_ID, F_BOOL, F_UINT, F_TIME, F_SIZE, F_STATE };

struct field {
	const char *key;
	enum field_kind kind;
	size_t off;
	bool required;
};

#define ENV(m) offsetof(struct spool_envelope, m)
static const struct field env_fields[] = {
	{"id", F_ID, ENV(id), true},
	{"arrival", F_TIME, ENV(arrival), true},
	{"sender", F_STR, ENV(sender), true},
	{"client_addr", F_OPTSTR, ENV(client_addr), false},
	{"client_helo", F_OPTSTR, ENV(client_helo), false},
	{"internal_client", F_BOOL, ENV(internal_client), false},
	{"smtputf8", F_BOOL, ENV(smtputf8), false},
	{"body_8bit", F_BOOL, ENV(body_8bit), false},
	{"tls", F_BOOL, ENV(tls), false},
	{"flags", F_UINT, ENV(flags), false},
	{"size", F_SIZE, ENV(size), true},
	{"message_id", F_OPTSTR, ENV(message_id), false},
	{"seq", F_UINT, ENV(seq), false},
};
#define RCPT(m) offsetof(struct spool_rcpt, m)
/* "rcpt" must come first on its line: it opens the recipient. */
static const struct field rcpt_fields[] = {
	{"rcpt", F_STR, RCPT(addr), true},
	{"state", F_STATE, RCPT(state), true},
	{"attempts", F_UINT, RCPT(attempts), false},
	{"next", F_TIME, RCPT(next_attempt), false},
	{"orcpt", F_OPTSTR, RCPT(orcpt), false},
	{"relay", F_OPTSTR, RCPT(relay), false},
	{"dsn", F_OPTSTR, RCPT(dsn_status), false},
	{"reply", F_OPTSTR, RCPT(last_reply), false},
};
#define NFIELDS(t) (sizeof(t) / sizeof((t)[0]))

static const char *const state_names[] = {
	[SPOOL_RCPT_PENDING] = "pending",
	[SPOOL_RCPT_SENT] = "sent",
	[SPOOL_RCPT_BOUNCED] = "bounced",
	[SPOOL_RCPT_HELD] = "held",
};
#define NSTATES (sizeof(state_names) / sizeof(state_names[0]))

#define TIME_MAX_VALUE (sizeof(time_t) >= 8 ? LLONG_MAX : (long long)INT32_MAX)
#define SIZE_MAX_VALUE (SIZE_MAX > (unsigned long long)LLONG_MAX ? LLONG_MAX : (long long)SIZE_MAX)

/* ---- formatting ---- */

static bool needs_escape(unsigned char c)
{
	return c < 0x20 || c == 0x7f || c == ' ' || c == '%';
}

static int append_escaped(struct sg_buf *out, const char *v)
{
	static const char hex[] = "0123456789ABCDEF";
	if (strlen(v) > SG_SPOOL_FIELD_MAX)
		return -1;
	for (const char *p = v; *p != '\0';) {
		size_t run = 0;
		while (p[run] != '\0' && !needs_escape((unsigned char)p[run]))
			run++;
		if (sg_buf_append(out, p, run) < 0)
			return -1;
		p += run;
		if (*p == '\0')
			break;
		unsigned char c = (unsigned char)*p++;
		char esc[3] = {'%', hex[c >> 4], hex[c & 0xf]};
		if (sg_buf_append(out, esc, sizeof(esc)) < 0)
			return -1;
	}
	return 0;
}

/* Writes " key=value" (sep first unless it is NUL) and returns 1; an absent optional field
 * writes nothing and returns 0. */
static int format_field(struct sg_buf *out, const struct field *f, const void *base, char sep)
{
	const char *p = (const char *)base + f->off;
	char num[32];
	const char *v = num;
	int n = 0;
	switch (f->kind) {
	case F_STR: v = *(char *const *)(const void *)p; v = v != NULL ? v : ""; break;
	case F_OPTSTR: v = *(char *const *)(const void *)p; if (v == NULL) return 0; break;
	case F_ID: v = p; break;
	case F_BOOL: v = *(const bool *)(const void *)p ? "1" : "0"; break;
	case F_UINT: n = sg_snprintf(num, sizeof(num), "%u", *(const unsigned int *)(const void *)p); break;
	case F_TIME: n = sg_snprintf(num, sizeof(num), "%lld", (long long)*(const time_t *)(const void *)p); break;
	case F_SIZE: n = sg_snprintf(num, sizeof(num), "%zu", *(const size_t *)(const void *)p); break;
	case F_STATE: {
		enum spool_rcpt_state st = *(const enum spool_rcpt_state *)(const void *)p;
		if ((size_t)st >= NSTATES)
			return -1;
		v = state_names[st];
		break;
	}
	}
	if (n < 0 || (sep != '\0' && sg_buf_append(out, &sep, 1) < 0))
		return -1;
	if (sg_buf_append_str(out, f->key) < 0 || sg_buf_append(out, "=", 1) < 0)
		return -1;
	return append_escaped(out, v) < 0 ? -1 : 1;
}

static int format_record(const struct spool_envelope *env, struct sg_buf *out)
{
	if (env->nrcpt > SG_SMTP_RCPT_HARD_MAX || !spool_id_valid(env->id))
		return -1;
	if (sg_buf_append_str(out, RECORD_VERSION_LINE "\n") < 0)
		return -1;
	for (size_t i = 0; i < NFIELDS(env_fields); i++) {
		int rc = format_field(out, &env_fields[i], env, '\0');
		if (rc < 0 || (rc > 0 && sg_buf_append(out, "\n", 1) < 0))
			return -1;
	}
	for (size_t r = 0; r < env->nrcpt; r++) {
		for (size_t i = 0; i < NFIELDS(rcpt_fields); i++)
			if (format_field(out, &rcpt_fields[i], &env->rcpts[r], i == 0 ? '\0' : ' ') < 0)
				return -1;
		if (sg_buf_append(out, "\n", 1) < 0)
			return -1;
	}
	return sg_buf_printf(out, "end=%zu\n", env->nrcpt);
}

int spool_record_format(const struct spool_envelope *env, struct sg_buf *out)
{
	size_t start = out->len;
	if (format_record(env, out) < 0 || out->len - start > SG_SPOOL_RECORD_MAX) {
		out->len = start;
		if (out->data != NULL)
			out->data[start] = '\0';
		return -1;
	}
	return 0;
}

/* ---- parsing ---- */

struct token {
	char key[KEY_MAX + 1];
	char value[SG_SPOOL_FIELD_MAX + 1];
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int decode_value(const char *s, size_t len, char *dst, const char **error_r)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (o >= SG_SPOOL_FIELD_MAX) {
			*error_r = "value too long";
			return -1;
		}
		if (c < 0x20 || c == 0x7f) {
			*error_r = "control character in value";
			return -1;
		}
		if (c == '%') {
			int hi = i + 2 < len ? hexval(s[i + 1]) : -1;
			int lo = hi >= 0 ? hexval(s[i + 2]) : -1;
			if (lo < 0 || (hi | lo) == 0) {
				*error_r = "bad %-escape in value";
				return -1;
			}
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		}
		dst[o++] = (char)c;
	}
	dst[o] = '\0';
	return 0;
}

/* Splits "key=value" (len bytes, no space inside) into tok. */
static int parse_token(const char *s, size_t len, struct token *tok, const char **error_r)
{
	size_t k = 0;
	while (k < len && ((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= '0' && s[k] <= '9') || s[k] == '_'))
		k++;
	if (k == 0 || k > KEY_MAX || k >= len || s[k] != '=') {
		*error_r = "malformed key=value";
		return -1;
	}
	memcpy(tok->key, s, k);
	tok->key[k] = '\0';
	return decode_value(s + k + 1, len - k - 1, tok->value, error_r);
}

static int parse_number(const char *v, long long max, long long *n_r, const char **error_r)
{
	const char *err = NULL;
	*n_r = sg_strtonum(v, 0, max, &err);
	if (err != NULL) {
		*error_r = "bad number";
		return -1;
	}
	return 0;
}

static int parse_state(const char *v, enum spool_rcpt_state *st_r, const char **error_r)
{
	for (size_t i = 0; i < NSTATES; i++) {
		if (strcmp(v, state_names[i]) == 0) {
			*st_r = (enum spool_rcpt_state)i;
			return 0;
		}
	}
	*error_r = "unknown recipient state";
	return -1;
}

static int store_field(const struct field *f, void *base, const char *v, const char **error_r)
{
	char *p = (char *)base + f->off;
	long long n = 0;
	switch (f->kind) {
	case F_STR:
	case F_OPTSTR: *(char **)(void *)p = sg_strdup(v); return 0;
	case F_ID:
		if (!spool_id_valid(v)) {
			*error_r = "bad queue id";
			return -1;
		}
		sg_strlcpy(p, v, SG_QUEUE_ID_MAX);
		return 0;
	case F_BOOL:
		if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0) {
			*error_r = "bad boolean";
			return -1;
		}
		*(bool *)(void *)p = v[0] == '1';
		return 0;
	case F_UINT: if (parse_number(v, UINT_MAX, &n, error_r) < 0) return -1;
		*(unsigned int *)(void *)p = (unsigned int)n; return 0;
	case F_TIME: if (parse_number(v, TIME_MAX_VALUE, &n, error_r) < 0) return -1;
		*(time_t *)(void *)p = (time_t)n; return 0;
	case F_SIZE: if (parse_number(v, SIZE_MAX_VALUE, &n, error_r) < 0) return -1;
		*(size_t *)(void *)p = (size_t)n; return 0;
	case F_STATE: return parse_state(v, (enum spool_rcpt_state *)(void *)p, error_r);
	}
	*error_r = "internal: bad field kind";
	return -1;
}

/* Stores tok into base if its key is in table; unknown keys are skipped (see top). */
static int apply_token(const struct field *table, size_t n, uint32_t *seen, void *base,
                       const struct token *tok, const char **error_r)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(tok->key, table[i].key) != 0)
			continue;
		if (*seen & (1u << i)) {
			*error_r = "duplicate key";
			return -1;
		}
		*seen |= 1u << i;
		return store_field(&table[i], base, tok->value, error_r);
	}
	return 0;
}

static bool has_required(const struct field *table, size_t n, uint32_t seen)
{
	for (size_t i = 0; i < n; i++)
		if (table[i].required && !(seen & (1u << i)))
			return false;
	return true;
}

struct parser {
	struct spool_envelope *env;
	uint32_t env_seen;
	bool ended;
	struct token tok;
};

static int parse_rcpt_line(struct parser *ps, const char *line, size_t len, const char **error_r)
{
	if (ps->env->nrcpt >= SG_SMTP_RCPT_HARD_MAX) {
		*error_r = "too many recipients";
		return -1;
	}
	const char *sp = memchr(line, ' ', len);
	size_t first = sp != NULL ? (size_t)(sp - line) : len;
	if (parse_token(line, first, &ps->tok, error_r) < 0)
		return -1;
	struct spool_rcpt *r = spool_envelope_add_rcpt(ps->env, ps->tok.value, NULL);
	uint32_t seen = 1u; /* rcpt */
	for (size_t pos = first; pos < len;) {
		pos++; /* the space */
		sp = memchr(line + pos, ' ', len - pos);
		size_t tlen = (sp != NULL ? (size_t)(sp - line) : len) - pos;
		if (parse_token(line + pos, tlen, &ps->tok, error_r) < 0 ||
		    apply_token(rcpt_fields, NFIELDS(rcpt_fields), &seen, r, &ps->tok, error_r) < 0)
			return -1;
		pos += tlen;
	}
	if (!has_required(rcpt_fields, NFIELDS(rcpt_fields), seen)) {
		*error_r = "recipient without state";
		return -1;
	}
	return 0;
}

static int parse_end(struct parser *ps, const char **error_r)
{
	long long n;
	if (parse_number(ps->tok.value, SG_SMTP_RCPT_HARD_MAX, &n, error_r) < 0)
		return -1;
	if ((size_t)n != ps->env->nrcpt) {
		*error_r = "recipient count does not match";
		return -1;
	}
	if (!has_required(env_fields, NFIELDS(env_fields), ps->env_seen)) {
		*error_r = "required key missing";
		return -1;
	}
	ps->ended = true;
	return 0;
}

static int parse_line(struct parser *ps, const char *line, size_t len, const char **error_r)
{
	if (ps->ended) {
		*error_r = "data after end";
		return -1;
	}
	if (len >= 5 && memcmp(line, "rcpt=", 5) == 0)
		return parse_rcpt_line(ps, line, len, error_r);
	if (memchr(line, ' ', len) != NULL) {
		*error_r = "space in value";
		return -1;
	}
	if (parse_token(line, len, &ps->tok, error_r) < 0)
		return -1;
	if (strcmp(ps->tok.key, "end") == 0)
		return parse_end(ps, error_r);
	return apply_token(env_fields, NFIELDS(env_fields), &ps->env_seen, ps->env, &ps->tok,
	                   error_r);
}

static int parse_version(const char *data, size_t len, size_t *pos_r, const char **error_r)
{
	const size_t vlen = sizeof(RECORD_VERSION_LINE) - 1;
	if (len < 4 || memcmp(data, "SGQ ", 4) != 0) {
		*error_r = "not a spool envelope";
		return -1;
	}
	if (len <= vlen || memcmp(data, RECORD_VERSION_LINE "\n", vlen + 1) != 0) {
		*error_r = memchr(data, '\n', len) == NULL ? "truncated record"
		                                           : "unsupported envelope version";
		return -1;
	}
	*pos_r = vlen + 1;
	return 0;
}

static int parse_record(struct parser *ps, const char *data, size_t len, const char **error_r)
{
	size_t pos;
	if (len > SG_SPOOL_RECORD_MAX) {
		*error_r = "record too large";
		return -1;
	}
	if (memchr(data, '\0', len) != NULL) {
		*error_r = "NUL byte in record";
		return -1;
	}
	if (parse_version(data, len, &pos, error_r) < 0)
		return -1;
	while (pos < len) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		if (nl == NULL) {
			*error_r = "truncated record";
			return -1;
		}
		size_t llen = (size_t)(nl - (data + pos));
		if (parse_line(ps, data + pos, llen, error_r) < 0)
			return -1;
		pos += llen + 1;
	}
	if (!ps->ended) {
		*error_r = "truncated record";
		return -1;
	}
	return 0;
}

int spool_record_parse(const char *data, size_t len, struct spool_envelope *env_r,
                       const char **error_r)
{
	struct parser *ps = sg_calloc(1, sizeof(*ps));
	spool_envelope_init(env_r);
	ps->env = env_r;
	int rc = parse_record(ps, data, len, error_r);
	if (rc < 0)
		spool_envelope_free(env_r);
	sg_free(&ps);
	return rc;
}

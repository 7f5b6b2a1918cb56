/* fetch_http.c: the HTTP/1.1 response parser. Bytes arrive in any split; lines are bounded
 * (FETCH_LINE_MAX, FETCH_HEADERS_MAX), the body never grows past the caller's ceiling, and
 * anything ambiguous (Content-Length beside chunked, two different lengths, folded headers,
 * controls in a line) is refused rather than repaired: a smuggling server gains nothing. */
#include "fetch/fetch.h"

#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <stdint.h>
#include <string.h>

enum http_state {
	ST_STATUS, ST_HEADER, ST_BODY_LEN, ST_BODY_CLOSE, ST_CHUNK_SIZE, ST_CHUNK_DATA,
	ST_CHUNK_END, ST_TRAILER, ST_DONE,
};

void fetch_http_init(struct fetch_http *h, size_t max_body)
{
	memset(h, 0, sizeof(*h));
	h->state = ST_STATUS;
	h->content_length = -1;
	h->max_body = max_body > SIZE_MAX / 4 ? SIZE_MAX / 4 : max_body; /* no size arithmetic wraps */
}

void fetch_http_free(struct fetch_http *h) { sg_free(&h->body); }

char *fetch_http_take_body(struct fetch_http *h, size_t *len_r)
{
	if (h->body == NULL)
		h->body = sg_calloc(1, 1);
	char *b = h->body;
	*len_r = h->body_len;
	h->body = NULL;
	h->body_len = h->body_cap = 0;
	return b;
}

static int body_append(struct fetch_http *h, const char *p, size_t n, const char **error_r)
{
	if (n > h->max_body - h->body_len) {
		*error_r = "response body larger than the limit";
		return -1;
	}
	if (h->body_len + n + 1 > h->body_cap) {
		size_t cap = h->body_cap < 4096 ? 4096 : h->body_cap;
		while (cap < h->body_len + n + 1)
			cap = sg_size_mul(cap, 2);
		if (cap > h->max_body + 1)
			cap = h->max_body + 1;
		h->body = sg_realloc(h->body, cap);
		h->body_cap = cap;
	}
	memcpy(h->body + h->body_len, p, n);
	h->body_len += n;
	h->body[h->body_len] = '\0';
	return 0;
}

/* ---- the status line ---- */
static int parse_status(struct fetch_http *h, const char *line, const char **error_r)
{
	if ((strncmp(line, "HTTP/1.1 ", 9) != 0 && strncmp(line, "HTTP/1.0 ", 9) != 0) ||
	    line[9] < '1' || line[9] > '5' || line[10] < '0' || line[10] > '9' ||
	    line[11] < '0' || line[11] > '9' || (line[12] != ' ' && line[12] != '\0')) {
		*error_r = "not an HTTP/1.x status line";
		return -1;
	}
	h->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
	if (h->status < 100) {
		*error_r = "not an HTTP/1.x status line";
		return -1;
	}
	h->state = ST_HEADER;
	return 0;
}

/* ---- header fields ---- */
static bool is_token_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int header_content_length(struct fetch_http *h, const char *v, const char **error_r)
{
	const char *err = NULL;
	long long n = -1;
	if (*v >= '0' && *v <= '9' && strlen(v) <= 18)
		n = sg_strtonum(v, 0, 999999999999999999LL, &err);
	if (n < 0 || err != NULL || (h->content_length >= 0 && h->content_length != n)) {
		*error_r = "bad or conflicting Content-Length";
		return -1;
	}
	h->content_length = n;
	return 0;
}

static int header_transfer_encoding(struct fetch_http *h, const char *v, const char **error_r)
{
	if (!sg_streq_nocase(v, "chunked") || h->chunked) {
		*error_r = "unsupported Transfer-Encoding";
		return -1;
	}
	h->chunked = true;
	return 0;
}

static int header_content_type(struct fetch_http *h, const char *v, const char **error_r)
{
	(void)error_r;
	sg_printable(h->content_type, sizeof(h->content_type), v, sizeof(h->content_type) - 1);
	return 0;
}

static int header_location(struct fetch_http *h, const char *v, const char **error_r)
{
	if (strlen(v) >= sizeof(h->location)) {
		*error_r = "Location too long";
		return -1;
	}
	sg_strlcpy(h->location, v, sizeof(h->location));
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(struct fetch_http *h, const char *value, const char **error_r);
} header_fields[] = {
	{"Content-Length", header_content_length},
	{"Transfer-Encoding", header_transfer_encoding},
	{"Content-Type", header_content_type},
	{"Location", header_location},
};

static int parse_header(struct fetch_http *h, char *line, const char **error_r)
{
	if (++h->nheaders > FETCH_HEADERS_MAX) {
		*error_r = "too many header lines";
		return -1;
	}
	char *colon = strchr(line, ':');
	if (colon == NULL || colon == line) {
		*error_r = "malformed header line";
		return -1;
	}
	for (const char *c = line; c < colon; c++)
		if (!is_token_char(*c)) {
			*error_r = "malformed header name";
			return -1;
		}
	*colon = '\0';
	const char *value = sg_trim(colon + 1);
	if (h->state == ST_TRAILER)
		return 0;
	for (size_t i = 0; i < sizeof(header_fields) / sizeof(header_fields[0]); i++)
		if (sg_streq_nocase(line, header_fields[i].name))
			return header_fields[i].fn(h, value, error_r);
	return 0;
}

/* The blank line after the header fields: what delimits the body. */
static int end_of_head(struct fetch_http *h, const char **error_r)
{
	if (h->status < 200) { /* 100 Continue and friends: the real response follows */
		h->state = ST_STATUS;
		h->chunked = false;
		h->content_length = -1;
		h->content_type[0] = h->location[0] = '\0';
		return 0;
	}
	h->head_done = true;
	if (h->chunked && h->content_length >= 0) {
		*error_r = "both Content-Length and chunked";
		return -1;
	}
	if (h->status == 204 || h->status == 304 || h->content_length == 0) {
		h->state = ST_DONE;
	} else if (h->chunked) {
		h->state = ST_CHUNK_SIZE;
	} else if (h->content_length > 0) {
		if ((unsigned long long)h->content_length > h->max_body) {
			*error_r = "response body larger than the limit";
			return -1;
		}
		h->state = ST_BODY_LEN;
	} else {
		h->state = ST_BODY_CLOSE;
	}
	return 0;
}

static int parse_chunk_size(struct fetch_http *h, const char *line, const char **error_r)
{
	unsigned long long n = 0;
	size_t digits = 0;
	for (; line[digits] != '\0'; digits++) {
		char c = line[digits];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
		      : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (v < 0)
			break;
		n = n * 16 + (unsigned)v;
		if (digits >= 15)
			break;
	}
	char next = line[digits];
	if (digits == 0 || (next != '\0' && next != ';' && next != ' ' && next != '\t')) {
		*error_r = "malformed chunk size";
		return -1;
	}
	if (n > h->max_body - h->body_len) {
		*error_r = "response body larger than the limit";
		return -1;
	}
	h->chunk_left = n;
	h->state = n == 0 ? ST_TRAILER : ST_CHUNK_DATA;
	return 0;
}

/* One complete line (CR LF or LF stripped) in the state that reads lines. */
static int parse_line(struct fetch_http *h, char *line, const char **error_r)
{
	for (const char *c = line; *c != '\0'; c++)
		if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f) {
			*error_r = "control character in a header line";
			return -1;
		}
	switch (h->state) {
	case ST_STATUS:
		return parse_status(h, line, error_r);
	case ST_HEADER:
		if (*line == ' ' || *line == '\t') {
			*error_r = "folded header line";
			return -1;
		}
		return *line == '\0' ? end_of_head(h, error_r) : parse_header(h, line, error_r);
	case ST_CHUNK_SIZE:
		return parse_chunk_size(h, line, error_r);
	case ST_CHUNK_END:
		if (*line != '\0') {
			*error_r = "chunk not followed by CRLF";
			return -1;
		}
		h->state = ST_CHUNK_SIZE;
		return 0;
	default: /* ST_TRAILER */
		if (*line == '\0') {
			h->state = ST_DONE;
			return 0;
		}
		return parse_header(h, line, error_r);
	}
}

/* Collects one line from p; returns bytes used (>0) or -1. Sets *complete when the LF came. */
static long take_line(struct fetch_http *h, const char *p, size_t n, bool *complete,
                      const char **error_r)
{
	const char *lf = memchr(p, '\n', n);
	size_t k = lf != NULL ? (size_t)(lf - p) : n;
	if (k >= sizeof(h->line) - h->line_len) {
		*error_r = "status or header line too long";
		return -1;
	}
	if (memchr(p, '\0', k) != NULL) {
		*error_r = "NUL byte in a header line";
		return -1;
	}
	memcpy(h->line + h->line_len, p, k);
	h->line_len += k;
	*complete = lf != NULL;
	return (long)(lf != NULL ? k + 1 : k);
}

static long feed_line_state(struct fetch_http *h, const char *p, size_t n, const char **error_r)
{
	bool complete;
	long used = take_line(h, p, n, &complete, error_r);
	if (used < 0 || !complete)
		return used;
	if (h->line_len > 0 && h->line[h->line_len - 1] == '\r')
		h->line_len--;
	h->line[h->line_len] = '\0';
	h->line_len = 0;
	return parse_line(h, h->line, error_r) < 0 ? -1 : used;
}

static long feed_body(struct fetch_http *h, const char *p, size_t n, const char **error_r)
{
	size_t k = n;
	if (h->state == ST_BODY_LEN) {
		unsigned long long left = (unsigned long long)h->content_length - h->body_len;
		k = left < n ? (size_t)left : n;
	} else if (h->state == ST_CHUNK_DATA) {
		k = h->chunk_left < n ? (size_t)h->chunk_left : n;
		h->chunk_left -= k;
	}
	if (body_append(h, p, k, error_r) < 0)
		return -1;
	if (h->state == ST_BODY_LEN && h->body_len == (unsigned long long)h->content_length)
		h->state = ST_DONE;
	else if (h->state == ST_CHUNK_DATA && h->chunk_left == 0)
		h->state = ST_CHUNK_END;
	return (long)k;
}

int fetch_http_feed(struct fetch_http *h, const char *p, size_t n, const char **error_r)
{
	while (n > 0 && h->state != ST_DONE) {
		bool body = h->state == ST_BODY_LEN || h->state == ST_BODY_CLOSE ||
		            h->state == ST_CHUNK_DATA;
		size_t chunk = n > (size_t)1 << 30 ? (size_t)1 << 30 : n;
		long used = body ? feed_body(h, p, chunk, error_r) : feed_line_state(h, p, chunk, error_r);
		if (used < 0)
			return -1;
		p += used;
		n -= (size_t)used;
	}
	return h->state == ST_DONE ? 1 : 0;
}

int fetch_http_eof(struct fetch_http *h, const char **error_r)
{
	if (h->state == ST_DONE)
		return 1;
	if (h->state == ST_BODY_CLOSE) {
		h->state = ST_DONE;
		return 1;
	}
	*error_r = h->head_done ? "connection closed before the end of the body"
	                        : "connection closed before the end of the header";
	return -1;
}

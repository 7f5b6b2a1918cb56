/* fetch.h: a minimal HTTP/1.1 GET client on OpenSSL for the lookups the gateway makes on the
 * web (MTA-STS policies, WKD/VKS/HKP keys). Every server is hostile: one overall deadline
 * (resolve, connect, TLS, request, response), a body ceiling given by the caller, bounded
 * status and header lines, certificate and host name verification (system store or a CA
 * file), plain http:// and redirects only when the caller allows them. */
#ifndef SG_FETCH_H
#define SG_FETCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define FETCH_HOST_MAX     253   /* a DNS name */
#define FETCH_URL_MAX      2048  /* a request URL or a Location: value */
#define FETCH_LINE_MAX     8192  /* the status line or one header line */
#define FETCH_HEADERS_MAX  100   /* header lines in one response (trailers included) */
#define FETCH_ADDRS_MAX    8     /* addresses tried per host */
#define FETCH_REDIRECTS_MAX 5

/* ---- name resolution (a hook so that the DNS module, and tests, can decide) ---- */
struct fetch_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};
/* Fills up to max addresses of host with port set; returns how many (>0), or -1 with
 * *error_r. */
typedef int fetch_resolve_fn(void *ctx, const char *host, const char *port,
                             struct fetch_addr *addrs, size_t max, const char **error_r);
/* The default: the system resolver (getaddrinfo). */
int fetch_resolve_system(void *ctx, const char *host, const char *port,
                         struct fetch_addr *addrs, size_t max, const char **error_r);

/* ---- requests ---- */
struct fetch_request {
	const char *url;          /* https://host[:port]/path[?query]; http:// only if allow_http */
	int timeout_ms;           /* one deadline for the whole exchange, redirects included */
	size_t max_body;          /* a longer body is an error, not a truncation */
	int max_redirects;        /* 0: a 3xx is returned as it came (MTA-STS forbids following) */
	bool allow_http;          /* plain http:// (for the first URL and any redirect) */
	const char *ca_file;      /* PEM trust anchors; NULL or "": the system store */
	const char *accept;       /* Accept: value, or NULL */
	fetch_resolve_fn *resolve;/* NULL: fetch_resolve_system */
	void *resolve_ctx;
	const atomic_int *cancel; /* when non-zero, give up (shutdown), or NULL */
};

struct fetch_response {
	int status;                      /* 100..599 of the last response */
	char content_type[128];          /* printable, "" if none */
	char location[FETCH_URL_MAX];    /* Location: of a 3xx not followed, "" otherwise */
	char url[FETCH_URL_MAX];         /* the URL that answered (after redirects) */
	char *body;                      /* NUL-terminated (sg_free via fetch_response_free) */
	size_t body_len;
	char error[256];                 /* why fetch_get failed (printable, for logs) */
};

/* GETs req->url. Returns 0 with any HTTP status (the caller judges it), or -1 with
 * *error_r pointing into resp->error (name not resolved, refused, deadline passed,
 * certificate not valid for the host, malformed response, body over max_body, ...). */
int fetch_get(const struct fetch_request *req, struct fetch_response *resp, const char **error_r);
void fetch_response_free(struct fetch_response *resp);

/* ---- URLs ---- */
struct fetch_url {
	bool tls;
	char host[FETCH_HOST_MAX + 3];  /* a name, an IPv4 address or "[v6]" as written */
	char port[8];
	char path[FETCH_URL_MAX];       /* "/..." with the query, never the fragment */
};
/* Accepts http(s)://host[:port][/path]: no user info, no spaces or controls, bounded. */
int fetch_url_parse(const char *url, struct fetch_url *u, const char **error_r);

/* ---- the response parser (incremental; fuzzed by tests/fuzz/fuzz_fetch_http.c) ---- */
struct fetch_http {
	int state;
	int status;
	bool chunked;
	bool head_done;
	long long content_length;       /* -1: none (body ends at close, or chunked) */
	unsigned long long chunk_left;
	size_t nheaders;
	size_t line_len;
	char line[FETCH_LINE_MAX];
	char content_type[128];
	char location[FETCH_URL_MAX];
	size_t max_body;
	char *body;
	size_t body_len;
	size_t body_cap;
};
void fetch_http_init(struct fetch_http *h, size_t max_body);
/* Feeds n bytes from the peer. Returns 1 when the response is complete (any bytes after it
 * are ignored), 0 when more are needed, -1 with *error_r when it is malformed or too big. */
int fetch_http_feed(struct fetch_http *h, const char *p, size_t n, const char **error_r);
/* The peer closed: returns 1 if that completes the response (body delimited by close), -1
 * with *error_r if the response was cut short. */
int fetch_http_eof(struct fetch_http *h, const char **error_r);
/* Hands the body (NUL-terminated) to the caller, who frees it with sg_free. */
char *fetch_http_take_body(struct fetch_http *h, size_t *len_r);
void fetch_http_free(struct fetch_http *h);

#endif

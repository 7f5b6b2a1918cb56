/* fetch_get.c: one GET, following redirects only as far as the caller allows, under one
 * deadline. The request line is built from a parsed URL only (fetch_url_parse), so a hostile
 * Location: cannot inject header lines. */
#include "fetch/fetch.h"
#include "fetch/fetch_io.h"

#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "core/sg_time.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define FETCH_READ_CHUNK 16384

static int fail(struct fetch_response *resp, const char **error_r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct fetch_response *resp, const char **error_r, const char *fmt, ...)
{
	char raw[sizeof(resp->error)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	sg_printable(resp->error, sizeof(resp->error), raw, sizeof(resp->error) - 1);
	*error_r = resp->error;
	return -1;
}

static int send_request(struct fetch_io *io, const struct fetch_url *u,
                        const struct fetch_request *req, const char **error_r)
{
	bool default_port = strcmp(u->port, u->tls ? "443" : "80") == 0;
	char head[FETCH_URL_MAX + 512];
	int n = snprintf(head, sizeof(head),
	                 "GET %s HTTP/1.1\r\nHost: %s%s%s\r\nUser-Agent: sealgate\r\n"
	                 "Accept: %s\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n",
	                 u->path, u->host, default_port ? "" : ":", default_port ? "" : u->port,
	                 req->accept != NULL ? req->accept : "*/*");
	if (n < 0 || (size_t)n >= sizeof(head)) {
		*error_r = "request too long";
		return -1;
	}
	return fetch_io_write(io, head, (size_t)n, error_r);
}

static int read_response(struct fetch_io *io, struct fetch_http *h, const char **error_r)
{
	char *buf = sg_malloc(FETCH_READ_CHUNK);
	int rc = 0;
	while (rc == 0) {
		ssize_t n = fetch_io_read(io, buf, FETCH_READ_CHUNK, error_r);
		if (n < 0) {
			rc = -1;
		} else if (n == 0) {
			bool by_close = h->head_done && !h->chunked && h->content_length < 0;
			if (by_close && io->eof_is_truncation) {
				*error_r = "TLS connection cut before the end of the body";
				rc = -1;
			} else {
				rc = fetch_http_eof(h, error_r);
			}
		} else {
			rc = fetch_http_feed(h, buf, (size_t)n, error_r);
		}
	}
	sg_free(&buf);
	return rc < 0 ? -1 : 0;
}

/* Connects to u's host (without the brackets of an IPv6 literal) and speaks TLS if asked. */
static int open_url(struct fetch_io *io, const struct fetch_url *u,
                    const struct fetch_request *req, const char **error_r)
{
	char host[FETCH_HOST_MAX + 1];
	bool ip6 = u->host[0] == '[';
	sg_strlcpy(host, u->host + (ip6 ? 1 : 0), sizeof(host));
	if (ip6)
		host[strlen(host) - 1] = '\0';
	struct fetch_addr addrs[FETCH_ADDRS_MAX];
	fetch_resolve_fn *resolve = req->resolve != NULL ? req->resolve : fetch_resolve_system;
	int n = resolve(req->resolve_ctx, host, u->port, addrs, FETCH_ADDRS_MAX, error_r);
	if (n <= 0 || fetch_io_connect(io, addrs, (size_t)n, error_r) < 0)
		return -1;
	bool ip4 = strspn(host, "0123456789.") == strlen(host);
	return u->tls ? fetch_io_starttls(io, host, ip6 || ip4, req->ca_file, error_r) : 0;
}

/* One exchange with one URL; *h holds the parsed response. */
static int exchange(const struct fetch_url *u, const struct fetch_request *req, int64_t deadline,
                    struct fetch_http *h, struct fetch_response *resp, const char **error_r)
{
	struct fetch_io io = {.fd = -1, .deadline = deadline, .cancel = req->cancel};
	const char *err = "no answer";
	int rc = open_url(&io, u, req, &err) == 0 && send_request(&io, u, req, &err) == 0 &&
	                 read_response(&io, h, &err) == 0
	             ? 0
	             : -1;
	fetch_io_close(&io);
	if (rc < 0)
		return fail(resp, error_r, "%s%s: %s", u->tls ? "https://" : "http://", u->host, err);
	return 0;
}

static bool is_redirect(int status)
{
	return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* The next URL of a redirect: absolute, or a path on the same origin. */
static int next_url(struct fetch_url *u, const char *location, const struct fetch_request *req,
                    struct fetch_response *resp, const char **error_r)
{
	struct fetch_url next;
	const char *err = NULL;
	if (location[0] == '/' && location[1] != '/') {
		next = *u;
		struct fetch_url tmp;
		char abs[FETCH_URL_MAX];
		int n = snprintf(abs, sizeof(abs), "http://x%s", location);
		if (n < 0 || (size_t)n >= sizeof(abs))
			return fail(resp, error_r, "redirect to an unusable location: too long");
		if (fetch_url_parse(abs, &tmp, &err) < 0)
			return fail(resp, error_r, "redirect to an unusable location: %s", err);
		sg_strlcpy(next.path, tmp.path, sizeof(next.path));
	} else if (fetch_url_parse(location, &next, &err) < 0) {
		return fail(resp, error_r, "redirect to an unusable location: %s", err);
	}
	if (!next.tls && !req->allow_http)
		return fail(resp, error_r, "redirect to plain http:// refused");
	*u = next;
	return 0;
}

static void url_text(const struct fetch_url *u, char *dst, size_t size)
{
	int n = snprintf(dst, size, "%s://%s:%s%s", u->tls ? "https" : "http", u->host, u->port,
	                 u->path);
	if (n < 0 || (size_t)n >= size) /* shown in logs only: mark the cut */
		sg_strlcpy(dst + size - 4, "...", 4);
}

int fetch_get(const struct fetch_request *req, struct fetch_response *resp, const char **error_r)
{
	memset(resp, 0, sizeof(*resp));
	struct fetch_url u;
	const char *err = NULL;
	if (fetch_url_parse(req->url, &u, &err) < 0)
		return fail(resp, error_r, "%s", err);
	if (!u.tls && !req->allow_http)
		return fail(resp, error_r, "plain http:// refused");
	int64_t deadline = sg_mono_ms() + (req->timeout_ms > 0 ? req->timeout_ms : 1);
	int limit = req->max_redirects < FETCH_REDIRECTS_MAX ? req->max_redirects : FETCH_REDIRECTS_MAX;
	for (int hop = 0;; hop++) {
		struct fetch_http h;
		fetch_http_init(&h, req->max_body);
		url_text(&u, resp->url, sizeof(resp->url));
		if (exchange(&u, req, deadline, &h, resp, error_r) < 0) {
			fetch_http_free(&h);
			return -1;
		}
		bool follow = is_redirect(h.status) && hop < limit && h.location[0] != '\0';
		if (!follow) {
			resp->status = h.status;
			sg_strlcpy(resp->content_type, h.content_type, sizeof(resp->content_type));
			if (is_redirect(h.status))
				sg_printable(resp->location, sizeof(resp->location), h.location,
				             sizeof(resp->location) - 1);
			resp->body = fetch_http_take_body(&h, &resp->body_len);
			fetch_http_free(&h);
			return 0;
		}
		int rc = next_url(&u, h.location, req, resp, error_r);
		fetch_http_free(&h);
		if (rc < 0)
			return -1;
	}
}

void fetch_response_free(struct fetch_response *resp)
{
	sg_free(&resp->body);
	resp->body_len = 0;
}

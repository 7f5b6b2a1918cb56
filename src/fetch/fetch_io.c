/* fetch_io.c: one connection of the client, plain or TLS, on a non-blocking socket so that
 * every step (connect, handshake, write, read) answers to the one deadline of the request
 * and to a shutdown request. */
#include "fetch/fetch_io.h"

#include "core/sg_time.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define FETCH_POLL_SLICE_MS 250

/* Waits for events on the socket until the deadline or a cancel; 0 when ready. */
static int io_wait(struct fetch_io *io, short events, const char **error_r)
{
	for (;;) {
		if (io->cancel != NULL && *io->cancel) {
			*error_r = "cancelled by shutdown";
			return -1;
		}
		int64_t left = io->deadline - sg_mono_ms();
		if (left <= 0) {
			*error_r = "deadline passed";
			return -1;
		}
		struct pollfd pfd = {.fd = io->fd, .events = events};
		int n = poll(&pfd, 1, left < FETCH_POLL_SLICE_MS ? (int)left : FETCH_POLL_SLICE_MS);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR) {
			*error_r = "poll failed";
			return -1;
		}
	}
}

static int connect_one(struct fetch_io *io, const struct fetch_addr *a, const char **error_r)
{
	io->fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (io->fd < 0) {
		*error_r = "cannot create a socket";
		return -1;
	}
	if (connect(io->fd, (const struct sockaddr *)&a->ss, a->len) == 0)
		return 0;
	int err = 0;
	socklen_t elen = sizeof(err);
	if (errno == EINPROGRESS && io_wait(io, POLLOUT, error_r) == 0 &&
	    getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err == 0)
		return 0;
	if (err != 0 || errno != EINPROGRESS)
		*error_r = "connection refused";
	close(io->fd);
	io->fd = -1;
	return -1;
}

int fetch_io_connect(struct fetch_io *io, const struct fetch_addr *addrs, size_t n,
                     const char **error_r)
{
	for (size_t i = 0; i < n; i++)
		if (connect_one(io, &addrs[i], error_r) == 0)
			return 0;
	return -1;
}

static short tls_want(struct fetch_io *io, int rc)
{
	int err = SSL_get_error(io->ssl, rc);
	return err == SSL_ERROR_WANT_READ ? POLLIN : err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
}

static int tls_setup(struct fetch_io *io, const char *host, bool ip, const char *ca_file,
                     const char **error_r)
{
	io->ctx = SSL_CTX_new(TLS_client_method());
	if (io->ctx == NULL) {
		*error_r = "cannot create a TLS context";
		return -1;
	}
	SSL_CTX_set_min_proto_version(io->ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(io->ctx, SSL_VERIFY_PEER, NULL);
	int loaded = ca_file != NULL && *ca_file != '\0'
	                 ? SSL_CTX_load_verify_locations(io->ctx, ca_file, NULL)
	                 : SSL_CTX_set_default_verify_paths(io->ctx);
	io->ssl = loaded == 1 ? SSL_new(io->ctx) : NULL;
	if (io->ssl == NULL) {
		*error_r = loaded == 1 ? "cannot create a TLS session" : "cannot load the CA file";
		return -1;
	}
	X509_VERIFY_PARAM *vp = SSL_get0_param(io->ssl);
	int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, host)
	            : SSL_set_tlsext_host_name(io->ssl, host) == 1 && SSL_set1_host(io->ssl, host) == 1;
	if (ok != 1 || SSL_set_fd(io->ssl, io->fd) != 1) {
		*error_r = "cannot set up TLS for the host";
		return -1;
	}
	return 0;
}

/* Why the handshake failed, for the log: a certificate problem is named. */
static void handshake_error(struct fetch_io *io, const char *host, const char **error_r)
{
	long v = SSL_get_verify_result(io->ssl);
	if (v != X509_V_OK)
		snprintf(io->why, sizeof(io->why), "certificate of %s not valid: %s", host,
		         X509_verify_cert_error_string(v));
	else
		snprintf(io->why, sizeof(io->why), "TLS handshake with %s failed", host);
	ERR_clear_error();
	*error_r = io->why;
}

int fetch_io_starttls(struct fetch_io *io, const char *host, bool ip, const char *ca_file,
                      const char **error_r)
{
	if (tls_setup(io, host, ip, ca_file, error_r) < 0) {
		ERR_clear_error();
		return -1;
	}
	for (;;) {
		int r = SSL_connect(io->ssl);
		if (r == 1)
			return 0;
		short ev = tls_want(io, r);
		if (ev == 0) {
			handshake_error(io, host, error_r);
			return -1;
		}
		if (io_wait(io, ev, error_r) < 0)
			return -1;
	}
}

int fetch_io_write(struct fetch_io *io, const char *p, size_t n, const char **error_r)
{
	short want = POLLOUT;
	while (n > 0) {
		if (io_wait(io, want, error_r) < 0)
			return -1;
		ssize_t w;
		if (io->ssl == NULL) {
			w = write(io->fd, p, n);
			if (w < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
		} else {
			int r = SSL_write(io->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
			if (r <= 0 && (want = tls_want(io, r)) != 0)
				continue;
			want = POLLOUT;
			w = r > 0 ? r : -1;
		}
		if (w <= 0) {
			ERR_clear_error();
			*error_r = "connection lost while sending the request";
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

ssize_t fetch_io_read(struct fetch_io *io, char *p, size_t n, const char **error_r)
{
	short want = POLLIN;
	for (;;) {
		if ((io->ssl == NULL || SSL_pending(io->ssl) == 0) && io_wait(io, want, error_r) < 0)
			return -1;
		if (io->ssl == NULL) {
			ssize_t r = read(io->fd, p, n);
			if (r < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (r < 0)
				*error_r = "connection lost while reading the response";
			return r;
		}
		int r = SSL_read(io->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
		if (r > 0)
			return r;
		if ((want = tls_want(io, r)) != 0)
			continue;
		int err = SSL_get_error(io->ssl, r);
		ERR_clear_error();
		if (err == SSL_ERROR_ZERO_RETURN)
			return 0;
		/* A server that closes without close_notify: the parser decides whether the
		 * response was complete (a body delimited by close is then refused). */
		if (err == SSL_ERROR_SYSCALL || err == SSL_ERROR_SSL) {
			io->eof_is_truncation = true;
			return 0;
		}
		*error_r = "connection lost while reading the response";
		return -1;
	}
}

void fetch_io_close(struct fetch_io *io)
{
	if (io->ssl != NULL)
		SSL_free(io->ssl);
	if (io->ctx != NULL)
		SSL_CTX_free(io->ctx);
	if (io->fd >= 0)
		close(io->fd);
	io->ssl = NULL;
	io->ctx = NULL;
	io->fd = -1;
}

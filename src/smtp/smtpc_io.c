/* smtpc_io.c: the client's byte transport, plain or TLS. Every wait is a poll in short slices
 * so that a deadline (queue.smtp_timeout) and a shutdown request are both honoured while the
 * socket stays blocking for OpenSSL. */
#include "smtp/smtpc.h"

#include "core/sg_metrics.h"
#include "core/sg_time.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#define SMTPC_POLL_SLICE_MS 250

void smtpc_io_init(struct smtpc_io *io, int fd, int timeout_ms)
{
	int flags = fcntl(fd, F_GETFL);
	if (flags >= 0)
		fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	io->fd = fd;
	io->ctx = NULL;
	io->ssl = NULL;
	io->timeout_ms = timeout_ms;
	io->cancel = NULL;
	io->cancelled = false;
	io->timed_out = false;
	io->rlen = 0;
	io->pkix = 0;
	io->pkix_ca_file = NULL;
	io->pkix_problem[0] = '\0';
	io->wlen = 0;
}

/* Waits until fd is ready for events, the deadline passes (-1) or a cancel is seen (-1). */
static int io_wait(struct smtpc_io *io, short events, int64_t deadline, const char **error_r)
{
	for (;;) {
		if (io->cancel != NULL && *io->cancel) {
			io->cancelled = true;
			*error_r = "delivery cancelled by shutdown";
			return -1;
		}
		int64_t left = deadline - sg_mono_ms();
		if (left <= 0) {
			io->timed_out = true;
			*error_r = "conversation timed out";
			return -1;
		}
		struct pollfd pfd = {.fd = io->fd, .events = events};
		int n = poll(&pfd, 1, left < SMTPC_POLL_SLICE_MS ? (int)left : SMTPC_POLL_SLICE_MS);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR) {
			*error_r = "poll failed";
			return -1;
		}
	}
}

/* What a TLS call that did not complete waits for. */
static short tls_want(struct smtpc_io *io, int rc)
{
	int err = SSL_get_error(io->ssl, rc);
	return err == SSL_ERROR_WANT_READ ? POLLIN : err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
}

/* One read of at most n bytes: >0 bytes, 0 on EOF, -1 on error. The socket is non-blocking,
 * so no call here can outlive the deadline or a cancel by more than one poll slice. */
static ssize_t io_read_some(struct smtpc_io *io, char *p, size_t n, int64_t deadline,
                            const char **error_r)
{
	short want = POLLIN;
	for (;;) {
		if ((io->ssl == NULL || SSL_pending(io->ssl) == 0) &&
		    io_wait(io, want, deadline, error_r) < 0)
			return -1;
		if (io->ssl == NULL) {
			ssize_t r = read(io->fd, p, n);
			if (r < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (r < 0)
				*error_r = "lost connection";
			return r;
		}
		int r = SSL_read(io->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
		if (r > 0)
			return r;
		want = tls_want(io, r);
		if (want != 0)
			continue;
		if (SSL_get_error(io->ssl, r) == SSL_ERROR_ZERO_RETURN)
			return 0;
		ERR_clear_error();
		*error_r = "lost connection (TLS)";
		return -1;
	}
}

int smtpc_io_read_reply(struct smtpc_io *io, struct smtpc_reply *r, const char **error_r)
{
	int64_t deadline = sg_mono_ms() + io->timeout_ms;
	io->cancelled = io->timed_out = false;
	for (;;) {
		size_t used;
		int rc = smtpc_reply_parse(io->rbuf, io->rlen, r, &used, error_r);
		if (rc < 0)
			return -1;
		if (rc > 0) {
			memmove(io->rbuf, io->rbuf + used, io->rlen - used);
			io->rlen -= used;
			return 0;
		}
		if (io->rlen >= sizeof(io->rbuf)) {
			*error_r = "reply too long";
			return -1;
		}
		ssize_t n = io_read_some(io, io->rbuf + io->rlen, sizeof(io->rbuf) - io->rlen,
		                         deadline, error_r);
		if (n == 0)
			*error_r = "lost connection";
		if (n <= 0)
			return -1;
		io->rlen += (size_t)n;
	}
}

static int io_send(struct smtpc_io *io, const char *p, size_t n, const char **error_r)
{
	int64_t deadline = sg_mono_ms() + io->timeout_ms;
	short want = POLLOUT;
	while (n > 0) {
		if (io_wait(io, want, deadline, error_r) < 0)
			return -1;
		want = POLLOUT;
		ssize_t w;
		if (io->ssl == NULL) {
			w = write(io->fd, p, n);
			if (w < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
		} else {
			int r = SSL_write(io->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
			if (r <= 0 && (want = tls_want(io, r)) != 0)
				continue;
			if (r <= 0)
				ERR_clear_error();
			w = r > 0 ? r : -1;
		}
		if (w <= 0) {
			*error_r = "lost connection";
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int smtpc_io_flush(struct smtpc_io *io, const char **error_r)
{
	int rc = io_send(io, io->wbuf, io->wlen, error_r);
	io->wlen = 0;
	return rc;
}

int smtpc_io_write(struct smtpc_io *io, const char *p, size_t n, const char **error_r)
{
	while (n > 0) {
		if (io->wlen == sizeof(io->wbuf) && smtpc_io_flush(io, error_r) < 0)
			return -1;
		size_t k = sizeof(io->wbuf) - io->wlen;
		k = k < n ? k : n;
		memcpy(io->wbuf + io->wlen, p, k);
		io->wlen += k;
		p += k;
		n -= k;
	}
	return 0;
}

static int handshake(struct smtpc_io *io, const char **error_r)
{
	int64_t deadline = sg_mono_ms() + io->timeout_ms;
	for (;;) {
		int r = SSL_connect(io->ssl);
		if (r == 1) {
			sg_metrics_inc1(SG_MET_TLS, "out");
			return 0;
		}
		short ev = tls_want(io, r);
		if (ev == 0) {
			*error_r = "TLS handshake failed";
			ERR_clear_error();
			return -1;
		}
		if (io_wait(io, ev, deadline, error_r) < 0)
			return -1;
	}
}

int smtpc_io_starttls(struct smtpc_io *io, const char *sni, const struct dns_tlsa_list *tlsa,
                      char *auth_r, size_t authsize, const char **error_r)
{
	auth_r[0] = '\0';
	if (io->rlen > 0) {
		/* Bytes sent before the handshake would be trusted as if sent under TLS
		 * (the STARTTLS command injection of CVE-2011-0411): refuse. */
		*error_r = "peer sent data after its STARTTLS reply";
		return -1;
	}
	io->ctx = SSL_CTX_new(TLS_client_method());
	if (io->ctx == NULL) {
		*error_r = "cannot create TLS context";
		return -1;
	}
	SSL_CTX_set_verify(io->ctx, SSL_VERIFY_NONE, NULL);
	io->ssl = SSL_new(io->ctx);
	if (io->ssl == NULL || SSL_set_fd(io->ssl, io->fd) != 1) {
		*error_r = "cannot create TLS session";
		return -1;
	}
	if (sni != NULL && strchr(sni, ':') == NULL && strspn(sni, "0123456789.") != strlen(sni))
		SSL_set_tlsext_host_name(io->ssl, sni);
	if (tlsa != NULL && smtpc_dane_prepare(io->ctx, io->ssl, sni, tlsa, error_r) < 0)
		return -1;
	if (io->pkix != 0 && smtpc_pkix_prepare(io, sni, error_r) < 0)
		return -1;
	if (handshake(io, error_r) < 0)
		return -1;
	if (tlsa != NULL)
		return smtpc_dane_verdict(io->ssl, auth_r, authsize, error_r);
	return io->pkix != 0 ? smtpc_pkix_verdict(io, sni, auth_r, authsize, error_r) : 0;
}

const char *smtpc_io_tls_version(const struct smtpc_io *io)
{
	return io->ssl != NULL ? SSL_get_version(io->ssl) : NULL;
}

const char *smtpc_io_tls_cipher(const struct smtpc_io *io)
{
	return io->ssl != NULL ? SSL_get_cipher_name(io->ssl) : NULL;
}

void smtpc_io_close(struct smtpc_io *io)
{
	if (io->ssl != NULL) {
		SSL_set_quiet_shutdown(io->ssl, 1);
		SSL_free(io->ssl);
		io->ssl = NULL;
	}
	if (io->ctx != NULL) {
		SSL_CTX_free(io->ctx);
		io->ctx = NULL;
	}
	if (io->fd >= 0)
		close(io->fd);
	io->fd = -1;
}

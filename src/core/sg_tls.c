/* sg_tls.c: TLS handshakes, reads and writes with deadlines (see sg_tls.h). The socket is
 * non-blocking, so OpenSSL returns "want read/write" as soon as a record is incomplete, and
 * the deadline is checked then: a blocking read would sit inside OpenSSL for as long as the
 * client kept sending one byte at a time. */
#include "core/sg_tls.h"

#include "core/sg_time.h"

#include <fcntl.h>
#include <limits.h>
#include <openssl/err.h>
#include <poll.h>
#include <stdbool.h>

static const char *error_reason(void)
{
	static _Thread_local char reason[128];
	unsigned long e = ERR_get_error();
	if (e == 0)
		return "connection lost";
	ERR_error_string_n(e, reason, sizeof(reason));
	return reason;
}

/* Waits until fd can go on with what OpenSSL wants (e: SSL_ERROR_WANT_*), up to deadline.
 * 0 to try again, -1 when the time is up or e is not a want. */
static int wait_for(int fd, int e, int64_t deadline_ms)
{
	if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
		return -1;
	int64_t left = deadline_ms - sg_mono_ms();
	if (left <= 0)
		return -1;
	struct pollfd p = {.fd = fd, .events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT};
	return poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left) < 0 ? -1 : 0;
}

int sg_tls_accept(SSL *ssl, int fd, int64_t deadline_ms, const char **reason_r)
{
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		*reason_r = "cannot make the socket non-blocking";
		return -1;
	}
	for (;;) {
		int r = SSL_accept(ssl);
		if (r == 1)
			return 0;
		int e = SSL_get_error(ssl, r);
		if (wait_for(fd, e, deadline_ms) < 0) {
			bool want = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
			*reason_r = want ? "timed out" : error_reason();
			ERR_clear_error();
			return -1;
		}
	}
}

ssize_t sg_tls_read(SSL *ssl, char *buf, size_t size)
{
	int n = SSL_read(ssl, buf, size > INT_MAX ? INT_MAX : (int)size);
	if (n > 0)
		return n;
	int e = SSL_get_error(ssl, n);
	ERR_clear_error();
	return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
}

int sg_tls_write(SSL *ssl, int fd, const char *p, size_t len, int timeout_ms)
{
	int64_t deadline = sg_mono_ms() + timeout_ms;
	while (len > 0) {
		int w = SSL_write(ssl, p, len > INT_MAX ? INT_MAX : (int)len);
		if (w > 0) {
			p += w;
			len -= (size_t)w;
			continue;
		}
		if (wait_for(fd, SSL_get_error(ssl, w), deadline) < 0) {
			ERR_clear_error();
			return -1;
		}
	}
	return 0;
}

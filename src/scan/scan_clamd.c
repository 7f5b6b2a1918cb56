/* scan_clamd.c: the INSTREAM client. "zINSTREAM\0", then the data in chunks each preceded by
 * its length (4 bytes, network order), then a zero length; clamd answers one NUL-terminated
 * line. Every step waits at most until one deadline for the whole exchange, so a clamd that
 * hangs costs a bounded time and gives a clear error, never a verdict. */
#include "scan/scan.h"

#include "core/sg_net.h"
#include "core/sg_str.h"
#include "core/sg_time.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int scan_target_parse(const char *spec, struct scan_target *t, const char **error_r)
{
	memset(t, 0, sizeof(*t));
	if (strncmp(spec, "unix:", 5) == 0) {
		const char *p = spec + 5;
		if (p[0] != '/' || strlen(p) >= sizeof(t->path)) {
			*error_r = "unix: needs an absolute socket path (at most 107 bytes)";
			return -1;
		}
		sg_strlcpy(t->path, p, sizeof(t->path));
		return 0;
	}
	struct sg_endpoint ep;
	if (strncmp(spec, "tcp:", 4) == 0 && sg_endpoint_parse(spec + 4, &ep, error_r) == 0 &&
	    ep.host[0] != '\0') {
		t->tcp = true;
		sg_strlcpy(t->host, ep.host, sizeof(t->host));
		sg_strlcpy(t->port, ep.port, sizeof(t->port));
		return 0;
	}
	*error_r = "expected unix:/path/to/clamd.ctl or tcp:HOST:PORT";
	return -1;
}

static int fail(struct scan_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct scan_result *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	r->verdict = SCAN_FAILED;
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
	return -1;
}

static int connect_unix(const char *path, int64_t deadline)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	sg_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	int err = 0;
	socklen_t el = sizeof(err);
	if ((errno == EINPROGRESS || errno == EAGAIN) && sg_wait_fd(fd, POLLOUT, deadline) == 0 &&
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0)
		return fd;
	int saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

static int open_conn(const struct scan_target *t, int64_t deadline, struct scan_result *r)
{
	const char *err = NULL;
	int fd;
	if (!t->tcp) {
		fd = connect_unix(t->path, deadline);
		if (fd < 0)
			return fail(r, "clamd unreachable at unix:%s (%s)", t->path, strerror(errno));
		return fd;
	}
	int64_t left = deadline - sg_mono_ms();
	fd = sg_connect_tcp(t->host, t->port, left > 0 ? (int)left : 1, &err);
	if (fd < 0)
		return fail(r, "clamd unreachable at tcp:%.100s:%s (%s)", t->host, t->port, err);
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		close(fd);
		return fail(r, "clamd: %s", "cannot make the socket non-blocking");
	}
	return fd;
}

/* 0 all sent, -1 timeout (*timed_out) or the peer closed (clamd may have said why). */
static int send_all(int fd, const void *p, size_t n, int64_t deadline, bool *timed_out)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		if (w > 0) {
			c += w;
			n -= (size_t)w;
		} else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (sg_wait_fd(fd, POLLOUT, deadline) < 0) {
				*timed_out = true;
				return -1;
			}
		} else {
			return -1;
		}
	}
	return 0;
}

static int send_stream(int fd, const char *data, size_t len, int64_t deadline, bool *timed_out)
{
	static const char cmd[] = "zINSTREAM";
	if (send_all(fd, cmd, sizeof(cmd), deadline, timed_out) < 0) /* with its NUL */
		return -1;
	for (size_t off = 0; off < len;) {
		size_t n = len - off < SCAN_CHUNK ? len - off : SCAN_CHUNK;
		uint32_t be = htonl((uint32_t)n);
		if (send_all(fd, &be, sizeof(be), deadline, timed_out) < 0 ||
		    send_all(fd, data + off, n, deadline, timed_out) < 0)
			return -1;
		off += n;
	}
	uint32_t end = 0;
	return send_all(fd, &end, sizeof(end), deadline, timed_out);
}

/* Reads up to the NUL (or EOF) into buf: its length, or -1 on timeout (*timed_out), error or
 * a reply longer than SCAN_REPLY_MAX. */
static ssize_t read_reply(int fd, char *buf, int64_t deadline, bool *timed_out)
{
	size_t n = 0;
	while (n < SCAN_REPLY_MAX) {
		ssize_t got = recv(fd, buf + n, SCAN_REPLY_MAX - n, 0);
		if (got == 0)
			return (ssize_t)n;
		if (got < 0 && errno != EAGAIN && errno != EINTR)
			return n > 0 ? (ssize_t)n : -1;
		if (got < 0) {
			if (sg_wait_fd(fd, POLLIN, deadline) < 0) {
				*timed_out = true;
				return -1;
			}
			continue;
		}
		void *nul = memchr(buf + n, '\0', (size_t)got);
		n += (size_t)got;
		if (nul != NULL)
			return (char *)nul - buf;
	}
	return -1;
}

void scan_clamd_instream(const struct scan_target *t, const char *data, size_t len,
                         int timeout_ms, struct scan_result *r)
{
	memset(r, 0, sizeof(*r));
	int64_t deadline = sg_mono_ms() + timeout_ms;
	int fd = open_conn(t, deadline, r);
	if (fd < 0)
		return;
	bool timed_out = false;
	char buf[SCAN_REPLY_MAX];
	int sent = send_stream(fd, data, len, deadline, &timed_out);
	ssize_t n = timed_out ? -1 : read_reply(fd, buf, deadline, &timed_out);
	close(fd);
	if (timed_out)
		fail(r, "clamd did not answer within %s", "scan.timeout");
	else if (n < 0)
		fail(r, "clamd %s", "closed the connection or sent an over-long reply");
	else if (n == 0)
		fail(r, "clamd %s", sent < 0 ? "closed the connection while the message was sent"
		                              : "closed the connection without a verdict");
	else
		scan_reply_parse(buf, (size_t)n, r);
}

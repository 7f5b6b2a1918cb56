/* keyd_wire.c: see keyd_wire.h. The body is read in chunks into a buffer that grows with what
 * actually arrives, so a header that announces a gigabyte costs nothing until it is sent. */
#include "keyd/keyd_wire.h"
#include "core/sg_mem.h"
#include "core/sg_net.h"
#include "core/sg_time.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

int keyd_wire_write(int fd, const unsigned char *frame, size_t len, int timeout_ms)
{
	int64_t deadline = sg_mono_ms() + timeout_ms;
	size_t at = 0;
	while (at < len) {
		ssize_t n = send(fd, frame + at, len - at, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0)
			at += (size_t)n;
		else if (n < 0 && errno == EINTR)
			continue;
		else if (n < 0 && errno == EAGAIN && sg_wait_fd(fd, POLLOUT, deadline) == 0)
			continue;
		else
			return -1;
	}
	return 0;
}

/* Exactly len bytes; 1 if the peer closed before the first byte, else 0 or -1. */
static int read_exact(int fd, unsigned char *buf, size_t len, int64_t deadline)
{
	size_t at = 0;
	while (at < len) {
		ssize_t n = recv(fd, buf + at, len - at, MSG_DONTWAIT);
		if (n > 0)
			at += (size_t)n;
		else if (n == 0)
			return at == 0 ? 1 : -1;
		else if (errno == EINTR)
			continue;
		else if (errno == EAGAIN && sg_wait_fd(fd, POLLIN, deadline) == 0)
			continue;
		else
			return -1;
	}
	return 0;
}

#define CHUNK (256 * 1024)

static int read_body(int fd, unsigned char **frame, size_t total, int64_t deadline)
{
	size_t at = KEYD_HEADER_LEN, cap = KEYD_HEADER_LEN;
	while (at < total) {
		size_t want = total - at < CHUNK ? total - at : CHUNK;
		if (at + want > cap) {
			cap = at + want > cap * 2 ? at + want : cap * 2;
			cap = cap > total ? total : cap;
			*frame = sg_realloc(*frame, cap);
		}
		if (read_exact(fd, *frame + at, want, deadline) != 0)
			return -1;
		at += want;
	}
	return 0;
}

int keyd_wire_read(int fd, unsigned char **frame_r, size_t *len_r, int timeout_ms)
{
	int64_t deadline = sg_mono_ms() + timeout_ms;
	unsigned char *frame = sg_malloc(KEYD_HEADER_LEN);
	int rc = read_exact(fd, frame, KEYD_HEADER_LEN, deadline);
	struct keyd_header h = {0};
	bool valid = rc == 0 && keyd_header_decode(frame, &h) == KEYD_OK;
	size_t total = KEYD_HEADER_LEN + (valid ? (size_t)h.body_len : 0);
	if (valid && read_body(fd, &frame, total, deadline) < 0)
		rc = -1;
	if (rc != 0) {
		sg_free(&frame);
		return rc;
	}
	*frame_r = frame;
	*len_r = total;
	return 0;
}

ssize_t keyd_wire_pass_fd(int via, int fd)
{
	char one = 'c';
	struct iovec iov = {.iov_base = &one, .iov_len = 1};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} c;
	memset(&c, 0, sizeof(c));
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
	                     .msg_controllen = sizeof(c.buf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(via, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* master_log.c: the children's stdout and stderr. Each child writes them into a pipe the
 * master reads: a line of ours goes on as it is, any other (a library that prints by itself,
 * such as RNP, or a sanitizer report) is put in our format with the child's role and pid. So
 * every line of the log has the format, and what a child wrote just before it died is not
 * lost: the pipe outlives it. */
#include "daemon/master_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define LOG_PIPE_SIZE (1024 * 1024)

int master_log_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	/* Room for a burst while the master is busy (a reload's account check walks the spool):
	 * a child blocks on a full pipe. Best effort: the default 64 KB otherwise. */
	(void)fcntl(fds[0], F_SETPIPE_SZ, LOG_PIPE_SIZE);
	return 0;
}

static void emit(struct child *c, long pid, size_t len)
{
	if (len > 0)
		sg_log_relay(c->role->name, pid, c->log_buf, len);
}

/* Writes the complete lines of the buffer; a line longer than the buffer goes cut. */
static void emit_lines(struct child *c, long pid)
{
	size_t start = 0;
	for (size_t i = 0; i < c->log_len; i++)
		if (c->log_buf[i] == '\n') {
			sg_log_relay(c->role->name, pid, c->log_buf + start, i - start);
			start = i + 1;
		}
	memmove(c->log_buf, c->log_buf + start, c->log_len - start);
	c->log_len -= start;
	if (c->log_len == sizeof(c->log_buf)) {
		emit(c, pid, c->log_len);
		c->log_len = 0;
	}
}

int master_log_read(struct child *c, long pid)
{
	ssize_t n = read(c->log_fd, c->log_buf + c->log_len, sizeof(c->log_buf) - c->log_len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return -1;
	if (n <= 0) {
		emit(c, pid, c->log_len);
		c->log_len = 0;
		close(c->log_fd);
		c->log_fd = -1;
		return 0;
	}
	c->log_len += (size_t)n;
	emit_lines(c, pid);
	return 1;
}

void master_log_finish(struct child *c, long pid)
{
	while (c->log_fd >= 0 && master_log_read(c, pid) > 0)
		;
	/* Still open: a process the child started holds the pipe; keep what we have. */
	if (c->log_fd >= 0) {
		emit(c, pid, c->log_len);
		c->log_len = 0;
		close(c->log_fd);
		c->log_fd = -1;
	}
}

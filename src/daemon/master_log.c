/* master_log.c: the children's log. Each child has two pipes to the master: one for its own
 * log lines (sg_log), written on as they are, and one that is its stdout and stderr, whose
 * every line (a library that prints by itself, such as RNP, or a sanitizer report) is put in
 * our format with the child's role and pid and marked "stderr:". So every line of the log has
 * the format, text a library printed cannot pass for a line of ours (a forged line in a
 * peer's data stays marked), and what a child wrote just before it died is not lost: the
 * pipes outlive it. */
#include "daemon/master_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define LOG_PIPE_SIZE (1024 * 1024)

static int log_pipe(struct child_log *l, int *write_r)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	/* Room for a burst while the master is busy (a reload's account check walks the spool):
	 * a child blocks on a full pipe. Best effort: the default 64 KB otherwise. */
	(void)fcntl(fds[0], F_SETPIPE_SZ, LOG_PIPE_SIZE);
	l->fd = fds[0];
	l->len = 0;
	*write_r = fds[1];
	return 0;
}

int master_log_open(struct child *c, int write_r[2])
{
	c->logs[0].ours = true;
	c->logs[1].ours = false;
	if (log_pipe(&c->logs[0], &write_r[0]) < 0)
		return -1;
	if (log_pipe(&c->logs[1], &write_r[1]) == 0)
		return 0;
	close(c->logs[0].fd);
	close(write_r[0]);
	c->logs[0].fd = -1;
	return -1;
}

static void emit(const struct child *c, const struct child_log *l, long pid, const char *text,
                 size_t len)
{
	if (len > 0)
		sg_log_relay(c->role->name, pid, l->ours, text, len);
}

/* Writes the complete lines of the buffer; a line longer than the buffer goes cut. */
static void emit_lines(const struct child *c, struct child_log *l, long pid)
{
	size_t start = 0;
	for (size_t i = 0; i < l->len; i++)
		if (l->buf[i] == '\n') {
			emit(c, l, pid, l->buf + start, i - start);
			start = i + 1;
		}
	memmove(l->buf, l->buf + start, l->len - start);
	l->len -= start;
	if (l->len == sizeof(l->buf)) {
		emit(c, l, pid, l->buf, l->len);
		l->len = 0;
	}
}

static void log_close(const struct child *c, struct child_log *l, long pid)
{
	emit(c, l, pid, l->buf, l->len); /* a last line without its newline */
	l->len = 0;
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}

int master_log_read(struct child *c, struct child_log *l, long pid)
{
	ssize_t n = read(l->fd, l->buf + l->len, sizeof(l->buf) - l->len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return -1;
	if (n <= 0) {
		log_close(c, l, pid);
		return 0;
	}
	l->len += (size_t)n;
	emit_lines(c, l, pid);
	return 1;
}

void master_log_finish(struct child *c, long pid)
{
	for (size_t i = 0; i < 2; i++) {
		struct child_log *l = &c->logs[i];
		while (l->fd >= 0 && master_log_read(c, l, pid) > 0)
			;
		/* Still open: a process the child started holds the pipe; keep what we have. */
		if (l->fd >= 0)
			log_close(c, l, pid);
	}
}

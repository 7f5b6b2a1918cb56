/* master_keyd.c: the sockets between keyd and its clients (master_priv.h). Why the master
 * holds both ends: a keyd killed by a bug or by kill -9 is restarted onto the very same
 * sockets, so clients need no new descriptor and a connection they passed while keyd was down
 * waits in the queue for the new keyd. Which pair a process inherits is what it is to keyd:
 * smtpd, ldapd and metrics inherit none. */
#include "daemon/master_priv.h"
#include "keyd/keyd_server.h"
#include "core/sg_buf.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Above the numbers exec_child moves descriptors to, so passing never clobbers one. */
#define KEYD_FD_FLOOR 256

static int move_high(int fd)
{
	int high = fcntl(fd, F_DUPFD_CLOEXEC, KEYD_FD_FLOOR);
	close(fd);
	return high;
}

int master_keyd_open(struct master *m)
{
	m->nkeyd = 0;
	for (size_t i = 0; i < keyd_policy_count() && i < MASTER_KEYD_CLIENTS; i++) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
			return -1;
		m->keyd_fds[i][0] = move_high(sv[0]);
		m->keyd_fds[i][1] = move_high(sv[1]);
		m->nkeyd++;
		if (m->keyd_fds[i][0] < 0 || m->keyd_fds[i][1] < 0)
			return -1;
	}
	return 0;
}

void master_keyd_close(struct master *m)
{
	for (size_t i = 0; i < m->nkeyd; i++) {
		close(m->keyd_fds[i][0]);
		close(m->keyd_fds[i][1]);
	}
	m->nkeyd = 0;
}

/* fd as number next in the child (without close-on-exec). */
static void pass(int fd, int next, const char *role)
{
	if (dup2(fd, next) < 0)
		sg_fatal("%s: cannot pass a keyd socket: %m", role);
}

int master_keyd_pass(const struct master *m, const struct role_def *role, int next)
{
	struct sg_buf list;
	sg_buf_init(&list, 1024);
	for (size_t i = 0; i < m->nkeyd; i++) {
		const char *client = keyd_policy_at(i)->role;
		if (strcmp(role->name, "keyd") == 0) {
			pass(m->keyd_fds[i][1], next, role->name);
			(void)sg_buf_printf(&list, "%s%s=%d", list.len > 0 ? "," : "", client, next++);
		} else if (strcmp(role->name, client) == 0) {
			pass(m->keyd_fds[i][0], next, role->name);
			(void)sg_buf_printf(&list, "%d", next++);
			setenv("SEALGATE_KEYD_FD", list.data, 1);
		}
	}
	if (strcmp(role->name, "keyd") == 0 && list.data != NULL)
		setenv("SEALGATE_KEYD_CLIENTS", list.data, 1);
	sg_buf_free(&list);
	return next;
}

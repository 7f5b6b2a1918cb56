/* ldapd_server.c: sockets and TLS around the session machine. One detached thread per
 * connection, bounded by max_connections (more are told busy and closed); blocking I/O with
 * an idle timeout, polled in one-second slices so every thread notices a stop; StartTLS. */
#include "ldap/ldapd.h"

#include "core/sg_buf.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_net.h"
#include "core/sg_time.h"
#include "core/sg_tls.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_CHUNK     (16 * 1024)
#define POLL_SLICE_MS  1000
#define LISTEN_MAX     16
#define STOP_WAIT_MS   5000

struct server {
	const struct ldapd_server_opts *opts;
	pthread_mutex_t lock;
	unsigned int active;
};

struct conn {
	struct server *srv;
	int fd;
	SSL *ssl;
	struct ldapd_session *s;
	char addr[64];
};

static int conn_write(struct conn *c, const char *p, size_t len)
{
	if (c->ssl != NULL)
		return sg_tls_write(c->ssl, c->fd, p, len, c->srv->opts->idle_timeout_ms);
	while (len > 0) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int conn_flush(struct conn *c)
{
	size_t len;
	const char *out = ldapd_session_output(c->s, &len);
	if (len == 0)
		return 0;
	int rc = conn_write(c, out, len);
	ldapd_session_output_consume(c->s, len);
	return rc;
}

static ssize_t conn_read(struct conn *c, char *buf, size_t size)
{
	if (c->ssl != NULL)
		return sg_tls_read(c->ssl, buf, size);
	for (;;) {
		ssize_t n = recv(c->fd, buf, size, 0);
		if (n >= 0 || errno != EINTR)
			return n > 0 ? n : -1;
	}
}

/* The handshake gets the idle time, in total (a client dripping the bytes of its
 * ClientHello cannot stretch it); afterwards the socket is non-blocking, so a record left
 * half-sent comes back to conn_wait and its deadline. */
static int conn_starttls(struct conn *c)
{
	const char *reason = "out of memory";
	c->ssl = SSL_new(c->srv->opts->tls);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1 ||
	    sg_tls_accept(c->ssl, c->fd, sg_mono_ms() + c->srv->opts->idle_timeout_ms,
	                  &reason) < 0) {
		sg_warn("TLS handshake failed with [%s]: %s", c->addr, reason);
		ERR_clear_error();
		return -1;
	}
	sg_info("TLS connection established from [%s]: %s with cipher %s", c->addr,
	        SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl));
	ldapd_session_tls_started(c->s);
	return 0;
}

/* Waits for input; an idle connection or a stop closes the session with a notice. */
static void conn_wait(struct conn *c)
{
	const struct ldapd_server_opts *o = c->srv->opts;
	int64_t deadline = sg_mono_ms() + o->idle_timeout_ms;
	for (;;) {
		if (c->ssl != NULL && SSL_pending(c->ssl) > 0)
			return;
		if (*o->stop) {
			ldapd_session_shutdown(c->s);
			return;
		}
		int64_t left = deadline - sg_mono_ms();
		if (left <= 0) {
			ldapd_session_timeout(c->s);
			return;
		}
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		if (poll(&p, 1, left < POLL_SLICE_MS ? (int)left : POLL_SLICE_MS) > 0)
			return;
	}
}

/* Hands the bytes read to the session, sending its replies whenever they pile up: requests
 * are read only while less than SG_LDAP_OUTPUT_SOFT waits to be sent (back-pressure). */
static int conn_feed(struct conn *c, const char *buf, size_t n)
{
	size_t off = 0;
	do {
		off += ldapd_session_input(c->s, buf + off, n - off);
		if (conn_flush(c) < 0)
			return -1;
	} while (off < n || ldapd_session_pending(c->s));
	return 0;
}

static void conn_run(struct conn *c)
{
	char buf[READ_CHUNK];
	for (;;) {
		if (conn_flush(c) < 0 || ldapd_session_closed(c->s))
			return;
		if (ldapd_session_want_tls(c->s)) {
			if (conn_starttls(c) < 0)
				return;
			continue;
		}
		conn_wait(c);
		if (ldapd_session_closed(c->s))
			continue; /* send the notice */
		ssize_t n = conn_read(c, buf, sizeof(buf));
		if (n == 0)
			continue; /* a TLS record not complete yet: wait again */
		if (n < 0 || conn_feed(c, buf, (size_t)n) < 0)
			return;
	}
}

static void *conn_thread(void *arg)
{
	struct conn *c = arg;
	struct server *srv = c->srv;
	sg_socket_set_timeout(c->fd, srv->opts->idle_timeout_ms);
	c->s = ldapd_session_new(srv->opts->cfg, srv->opts->dir, c->addr);
	sg_debug("connect from [%s]", c->addr);
	conn_run(c);
	ldapd_session_free(&c->s);
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	ERR_clear_error();
	close(c->fd);
	sg_debug("disconnect from [%s]", c->addr);
	sg_free(&c);
	OPENSSL_thread_stop(); /* as in smtpd: nothing of the thread's is left when the drain ends */
	pthread_mutex_lock(&srv->lock);
	srv->active--;
	pthread_mutex_unlock(&srv->lock);
	return NULL;
}

/* More connections than allowed: say busy (51) in a notice and close. */
static void refuse_busy(struct server *srv, int fd, const char *addr)
{
	struct sg_buf b;
	sg_buf_init(&b, 512);
	ldapd_reply_notice(&b, LDAPD_BUSY, "too many connections");
	sg_warn("too many connections (%u): refusing [%s]", srv->opts->max_connections, addr);
	if (b.len > 0 && send(fd, b.data, b.len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		sg_debug("cannot tell [%s] we are busy: %s", addr, strerror(errno));
	sg_buf_free(&b);
	close(fd);
}

static int spawn(struct conn *c)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old); /* signals stay with the accepting thread */
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_t tid;
	int rc = pthread_create(&tid, &attr, conn_thread, c);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

static void accept_one(struct server *srv, int lfd)
{
	struct sockaddr_storage sa;
	socklen_t salen = sizeof(sa);
	int fd = accept4(lfd, (struct sockaddr *)&sa, &salen, SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOMEM)
			sg_warn("accept: %s", strerror(errno));
		return;
	}
	char addr[64];
	sg_sockaddr_text((const struct sockaddr *)&sa, addr, sizeof(addr));
	pthread_mutex_lock(&srv->lock);
	bool busy = srv->active >= srv->opts->max_connections;
	if (!busy)
		srv->active++;
	pthread_mutex_unlock(&srv->lock);
	if (busy) {
		refuse_busy(srv, fd, addr);
		return;
	}
	struct conn *c = sg_calloc(1, sizeof(*c));
	c->srv = srv;
	c->fd = fd;
	memcpy(c->addr, addr, sizeof(addr));
	if (spawn(c) != 0) {
		sg_warn("cannot start a thread for [%s]", addr);
		close(fd);
		sg_free(&c);
		pthread_mutex_lock(&srv->lock);
		srv->active--;
		pthread_mutex_unlock(&srv->lock);
	}
}

static unsigned int active_count(struct server *srv)
{
	pthread_mutex_lock(&srv->lock);
	unsigned int n = srv->active;
	pthread_mutex_unlock(&srv->lock);
	return n;
}

int ldapd_server_run(const int *listen_fds, size_t n_fds, const struct ldapd_server_opts *opts,
                     const char **error_r)
{
	if (n_fds == 0 || n_fds > LISTEN_MAX) {
		*error_r = "no listening sockets";
		return -1;
	}
	/* On the heap: a thread that does not end keeps a valid server until the exit. */
	struct server *srv = sg_calloc(1, sizeof(*srv));
	srv->opts = opts;
	pthread_mutex_init(&srv->lock, NULL);
	struct pollfd pfd[LISTEN_MAX];
	for (size_t i = 0; i < n_fds; i++) {
		pfd[i] = (struct pollfd){.fd = listen_fds[i], .events = POLLIN};
		fcntl(listen_fds[i], F_SETFL, fcntl(listen_fds[i], F_GETFL) | O_NONBLOCK);
	}
	while (!*opts->stop && !(opts->retire != NULL && *opts->retire)) {
		int r = poll(pfd, (nfds_t)n_fds, POLL_SLICE_MS);
		for (size_t i = 0; r > 0 && i < n_fds; i++)
			if (pfd[i].revents & POLLIN)
				accept_one(srv, pfd[i].fd);
	}
	for (size_t i = 0; i < n_fds; i++)
		close(listen_fds[i]);
	/* On a stop each thread sees it within a poll slice and sends its notice; retired, a
	 * connection ends when its client is done or idle (or a stop comes). */
	if (!*opts->stop)
		sg_info("retiring, a new process serves: waiting for %u connection(s)", active_count(srv));
	int64_t retired_until = sg_mono_ms() + opts->idle_timeout_ms + STOP_WAIT_MS;
	int64_t deadline = sg_mono_ms() + STOP_WAIT_MS;
	while (active_count(srv) > 0 && sg_mono_ms() < (*opts->stop ? deadline : retired_until)) {
		if (!*opts->stop)
			deadline = sg_mono_ms() + STOP_WAIT_MS;
		usleep(20 * 1000);
	}
	if (active_count(srv) > 0) {
		*error_r = "connections did not end";
		return -1;
	}
	pthread_mutex_destroy(&srv->lock);
	sg_free(&srv);
	return 0;
}

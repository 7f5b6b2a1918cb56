/* smtpd_server.c: sockets and TLS around the session machine. One detached thread per
 * connection, bounded by max_sessions; blocking I/O with timeouts (poll in one-second slices
 * so every thread notices a stop), non-blocking under TLS (core/sg_tls.h); STARTTLS
 * handshakes; a drain on stop. */
#include "smtp/smtpd_private.h"

#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_net.h"
#include "core/sg_str.h"
#include "core/sg_time.h"
#include "core/sg_tls.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_CHUNK      (16 * 1024)
#define POLL_SLICE_MS   1000
#define FORCE_WAIT_MS   10000
#define LISTEN_MAX      16

struct conn;

struct server {
	const struct smtpd_server_opts *opts;
	struct smtpd_config cfg;     /* opts->session with tls_available filled in */
	pthread_mutex_t lock;
	unsigned int active;
	struct conn *conns;          /* live connections, for the forced end of a drain */
	atomic_bool force;
};

struct conn {
	struct server *srv;
	struct conn *next;
	int fd;
	struct sockaddr_storage sa;
	SSL *ssl;
	struct smtpd_session *s;
	void *sink;
	char addr[SMTPD_ADDR_TEXT];
	unsigned long progress;      /* of the session when `since` was taken */
	int64_t since;               /* the current command or DATA began waiting */
};

/* ---- the connection ---- */
static int conn_write(struct conn *c, const char *p, size_t len)
{
	if (c->ssl != NULL)
		return sg_tls_write(c->ssl, c->fd, p, len, c->srv->opts->command_timeout_ms);
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
	const char *out = smtpd_session_output(c->s, &len);
	if (len == 0)
		return 0;
	int rc = conn_write(c, out, len);
	smtpd_session_output_consume(c->s, len);
	if (rc < 0)
		sg_info("lost connection (write) from [%s]", c->addr);
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

/* The handshake gets the time of one command, in total (a client dripping the bytes of its
 * ClientHello cannot stretch it); afterwards the socket is non-blocking, so a record left
 * half-sent comes back to conn_wait and its deadline. */
static int conn_starttls(struct conn *c)
{
	const char *reason = "out of memory";
	c->ssl = SSL_new(c->srv->opts->tls);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1 ||
	    sg_tls_accept(c->ssl, c->fd, sg_mono_ms() + c->srv->opts->command_timeout_ms,
	                  &reason) < 0) {
		sg_warn("TLS handshake failed with [%s]: %s", c->addr, reason);
		ERR_clear_error();
		return -1;
	}
	const char *version = SSL_get_version(c->ssl);
	sg_info("TLS connection established from [%s]: %s with cipher %s", c->addr, version,
	        SSL_get_cipher_name(c->ssl));
	smtpd_session_tls_started(c->s, version);
	return 0;
}

/* The end of the time for the command (or the DATA) in progress: a total counted from its
 * start, so a client dribbling a byte at a time cannot hold the session. DATA earns a second
 * per min_data_rate bytes received, so honest large messages on slow links still fit. */
static int64_t conn_deadline(struct conn *c)
{
	const struct smtpd_server_opts *o = c->srv->opts;
	unsigned long p = smtpd_session_progress(c->s);
	if (c->since == 0 || p != c->progress) {
		c->progress = p;
		c->since = sg_mono_ms();
	}
	if (!smtpd_session_in_data(c->s))
		return c->since + o->command_timeout_ms;
	size_t rate = o->min_data_rate > 0 ? o->min_data_rate : 1;
	return c->since + o->data_timeout_ms +
	       (int64_t)(smtpd_session_data_bytes(c->s) / rate) * 1000;
}

/* Waits for input; on a timeout or a stop the session is closed with its 421 instead. */
static void conn_wait(struct conn *c)
{
	const struct smtpd_server_opts *o = c->srv->opts;
	int64_t deadline = conn_deadline(c);
	for (;;) {
		if (c->ssl != NULL && SSL_pending(c->ssl) > 0)
			return;
		if (atomic_load(&c->srv->force) || (*o->stop && smtpd_session_idle(c->s))) {
			smtpd_session_shutdown(c->s);
			return;
		}
		int64_t left = deadline - sg_mono_ms();
		if (left <= 0) {
			smtpd_session_timeout(c->s);
			return;
		}
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		int r = poll(&p, 1, left < POLL_SLICE_MS ? (int)left : POLL_SLICE_MS);
		if (r > 0)
			return;
	}
}

static void conn_run(struct conn *c)
{
	char buf[READ_CHUNK];
	for (;;) {
		if (conn_flush(c) < 0 || smtpd_session_closed(c->s))
			return;
		if (smtpd_session_want_tls(c->s)) {
			if (conn_starttls(c) < 0)
				return;
			continue;
		}
		conn_wait(c);
		if (smtpd_session_closed(c->s))
			continue; /* send the 421 */
		ssize_t n = conn_read(c, buf, sizeof(buf));
		if (n == 0)
			continue; /* a TLS record not complete yet: wait again, same deadline */
		if (n < 0) {
			sg_info("lost connection from [%s]", c->addr);
			return;
		}
		for (size_t off = 0; off < (size_t)n;) {
			off += smtpd_session_input(c->s, buf + off, (size_t)n - off);
			if (conn_flush(c) < 0)
				return;
		}
	}
}

static bool is_internal(const struct smtpd_server_opts *o, const struct sockaddr *sa)
{
	for (size_t i = 0; i < o->n_internal_nets; i++)
		if (sg_cidr_match(&o->internal_nets[i], sa))
			return true;
	return false;
}

static void conn_unlist(struct server *srv, struct conn *c)
{
	pthread_mutex_lock(&srv->lock);
	for (struct conn **pp = &srv->conns; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	pthread_mutex_unlock(&srv->lock);
}

static void session_ended(struct server *srv)
{
	pthread_mutex_lock(&srv->lock);
	srv->active--;
	pthread_mutex_unlock(&srv->lock);
}

static void conn_unlink(struct server *srv, struct conn *c)
{
	conn_unlist(srv, c);
	session_ended(srv);
}

static void *conn_thread(void *arg)
{
	struct conn *c = arg;
	const struct smtpd_server_opts *o = c->srv->opts;
	sg_socket_set_timeout(c->fd, o->command_timeout_ms);
	c->sink = o->sink_new != NULL ? o->sink_new(o->sink_arg) : NULL;
	struct smtpd_hooks hooks = o->hooks;
	hooks.ctx = c->sink;
	c->s = smtpd_session_new(&c->srv->cfg, &hooks, c->addr,
	                         is_internal(o, (const struct sockaddr *)&c->sa));
	conn_run(c);
	smtpd_session_free(&c->s);
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	ERR_clear_error();
	if (o->sink_free != NULL)
		o->sink_free(c->sink);
	struct server *srv = c->srv;
	conn_unlist(srv, c);
	close(c->fd);
	sg_free(&c);
	/* Everything the thread owns is freed before the drain may see it gone: OpenSSL's
	 * per-thread state (error queue, DRBGs) would otherwise be freed only at thread exit,
	 * which a stopping process does not wait for (LeakSanitizer saw it under load). */
	OPENSSL_thread_stop();
	session_ended(srv);
	return NULL;
}

/* ---- accepting ---- */
static void refuse_busy(struct server *srv, int fd, const char *addr)
{
	char msg[SG_SMTP_REPLY_LINE_MAX];
	int n = sg_snprintf(msg, sizeof(msg), "421 4.3.2 %s Error: too many connections\r\n",
	                    srv->cfg.hostname);
	sg_warn("too many sessions (%u): refusing [%s]", srv->opts->max_sessions, addr);
	if (n > 0 && send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		sg_debug("cannot tell [%s] we are busy: %s", addr, strerror(errno));
	close(fd);
}

/* One client may hold at most max_sessions_per_client sessions, so that it cannot take all. */
static void refuse_client(struct server *srv, int fd, const char *addr)
{
	char msg[SG_SMTP_REPLY_LINE_MAX];
	int n = sg_snprintf(msg, sizeof(msg),
	                    "421 4.7.0 %s Error: too many connections from your address\r\n",
	                    srv->cfg.hostname);
	sg_warn("too many sessions from [%s] (%u): refusing", addr,
	        srv->opts->max_sessions_per_client);
	if (n > 0 && send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		sg_debug("cannot tell [%s] it has too many sessions: %s", addr, strerror(errno));
	close(fd);
}

/* Sessions of the client at addr (the lock is held). */
static unsigned int client_sessions(const struct server *srv, const char *addr)
{
	unsigned int n = 0;
	for (const struct conn *c = srv->conns; c != NULL; c = c->next)
		n += strcmp(c->addr, addr) == 0;
	return n;
}

static int spawn(struct server *srv, struct conn *c)
{
	/* Connection threads leave the stop signals to the accepting thread. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_t tid;
	int rc = pthread_create(&tid, &attr, conn_thread, c);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	(void)srv;
	return rc;
}

static void accept_one(struct server *srv, int lfd)
{
	struct conn *c = sg_calloc(1, sizeof(*c));
	socklen_t salen = sizeof(c->sa);
	c->fd = accept4(lfd, (struct sockaddr *)&c->sa, &salen, SOCK_CLOEXEC);
	if (c->fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOMEM)
			sg_warn("accept: %s", strerror(errno));
		sg_free(&c);
		return;
	}
	c->srv = srv;
	sg_sockaddr_text((const struct sockaddr *)&c->sa, c->addr, sizeof(c->addr));
	pthread_mutex_lock(&srv->lock);
	bool busy = srv->active >= srv->opts->max_sessions;
	bool greedy = !busy && srv->opts->max_sessions_per_client > 0 &&
	              client_sessions(srv, c->addr) >= srv->opts->max_sessions_per_client;
	if (!busy && !greedy) {
		srv->active++;
		c->next = srv->conns;
		srv->conns = c;
	}
	pthread_mutex_unlock(&srv->lock);
	if (busy || greedy) {
		if (busy)
			refuse_busy(srv, c->fd, c->addr);
		else
			refuse_client(srv, c->fd, c->addr);
		sg_free(&c);
		return;
	}
	if (spawn(srv, c) != 0) {
		sg_warn("cannot start a session thread for [%s]", c->addr);
		int fd = c->fd;
		conn_unlink(srv, c);
		close(fd);
		sg_free(&c);
	}
}

static unsigned int active_count(struct server *srv)
{
	pthread_mutex_lock(&srv->lock);
	unsigned int n = srv->active;
	pthread_mutex_unlock(&srv->lock);
	return n;
}

static bool wait_idle(struct server *srv, int64_t deadline)
{
	while (active_count(srv) > 0) {
		if (sg_mono_ms() >= deadline)
			return false;
		usleep(50 * 1000);
	}
	return true;
}

/* Sessions in flight get drain_timeout_ms; then they are cut off (the sink aborts anything
 * not yet committed, so nothing acknowledged is lost). */
static void drain(struct server *srv)
{
	unsigned int n = active_count(srv);
	bool retiring = !*srv->opts->stop;
	if (n > 0 || retiring)
		sg_info("%s: waiting for %u session(s)",
		        retiring ? "retiring, a new process serves" : "stopping", n);
	if (wait_idle(srv, sg_mono_ms() + srv->opts->drain_timeout_ms))
		return;
	sg_warn("stopping: %u session(s) still active after the drain timeout; closing them",
	        active_count(srv));
	atomic_store(&srv->force, true);
	/* Give each session one poll slice to say 421 itself, then cut the sockets. */
	if (wait_idle(srv, sg_mono_ms() + POLL_SLICE_MS + 500))
		return;
	pthread_mutex_lock(&srv->lock);
	for (struct conn *c = srv->conns; c != NULL; c = c->next)
		shutdown(c->fd, SHUT_RDWR);
	pthread_mutex_unlock(&srv->lock);
	if (!wait_idle(srv, sg_mono_ms() + FORCE_WAIT_MS))
		sg_warn("stopping: %u session(s) did not end", active_count(srv));
}

int smtpd_server_run(const int *listen_fds, size_t n_fds, const struct smtpd_server_opts *opts,
                     const char **error_r)
{
	if (n_fds == 0 || n_fds > LISTEN_MAX) {
		*error_r = "no listening sockets";
		return -1;
	}
	/* On the heap: if a session thread refuses to end, it keeps a valid server to the exit. */
	struct server *srv = sg_calloc(1, sizeof(*srv));
	srv->opts = opts;
	srv->cfg = opts->session;
	srv->cfg.tls_available = opts->tls != NULL;
	pthread_mutex_init(&srv->lock, NULL);
	atomic_init(&srv->force, false);
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
	drain(srv);
	if (active_count(srv) > 0) {
		*error_r = "sessions did not end";
		return -1;
	}
	pthread_mutex_destroy(&srv->lock);
	sg_free(&srv);
	return 0;
}

/* keyd_main.c: the keyd role. One poll loop over the clients' rendezvous sockets (a new
 * connection arrives as a passed descriptor) and their connections (one request, one
 * answer, in order). A client that breaks the protocol or asks beyond its allow-list is
 * refused, logged and cut off: its rendezvous socket is shut down for good (the master holds
 * the other end, so not even a restarted keyd serves it again until sealgate restarts). */
#include "keyd/keyd.h"
#include "keyd/keyd_server.h"
#include "keyd/keyd_wire.h"
#include "crypto/keystore.h"
#include "core/limits.h"
#include "core/settings.h"
#include "core/sg_buf.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "core/sg_time.h"
#include "role/role.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CLIENTS_MAX 8
#define CONNS_MAX 256
/* A client that sends half a frame holds keyd at most this long. */
#define READ_TIMEOUT_MS 10000
/* The master waits smtp.drain_timeout + 10 s (15 s in the tests) for its children. */
#define DRAIN_MS 12000

struct client {
	const struct keyd_policy *policy;
	int rv_fd; /* its rendezvous socket, or -1 once cut off */
	struct keyd_session *session;
};

struct conn {
	int fd;
	size_t client;
};

struct keyd {
	struct client clients[CLIENTS_MAX];
	size_t nclients;
	struct conn conns[CONNS_MAX];
	size_t nconns;
};

static int add_client(struct keyd *k, const char *role, const char *num)
{
	const char *err = NULL;
	long long fd = sg_strtonum(num, 3, 1024, &err);
	const struct keyd_policy *p = keyd_policy_find(role);
	int type = 0;
	socklen_t len = sizeof(type);
	if (p == NULL || err != NULL || k->nclients >= CLIENTS_MAX ||
	    getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_SEQPACKET) {
		sg_error("SEALGATE_KEYD_CLIENTS: %.40s's socket was not handed over", role);
		return -1;
	}
	fcntl((int)fd, F_SETFD, FD_CLOEXEC);
	k->clients[k->nclients++] = (struct client){.policy = p, .rv_fd = (int)fd};
	return 0;
}

/* "qmgr=7,portal=8,tick=9" from the master. */
static int take_clients(struct keyd *k)
{
	const char *s = getenv("SEALGATE_KEYD_CLIENTS");
	if (s == NULL) {
		sg_error("keyd started without client sockets (it runs under `sealgate run` only)");
		return -1;
	}
	char *copy = sg_strdup(s), *save = NULL;
	int rc = 0;
	for (char *item = strtok_r(copy, ",", &save); item != NULL && rc == 0;
	     item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		rc = eq == NULL ? -1 : (*eq = '\0', add_client(k, item, eq + 1));
	}
	sg_free(&copy);
	unsetenv("SEALGATE_KEYD_CLIENTS");
	return rc;
}

static void drop_conn(struct keyd *k, size_t i)
{
	close(k->conns[i].fd);
	k->conns[i] = k->conns[--k->nconns];
}

/* The client broke the protocol or its allow-list: no more connections, none served. */
static void cut_off(struct keyd *k, size_t ci, const char *why)
{
	struct client *c = &k->clients[ci];
	sg_error("keyd: refused a request of %s (%s); %s is cut off and not served until sealgate "
	         "restarts",
	         c->policy->role, why, c->policy->role);
	for (size_t i = k->nconns; i-- > 0;)
		if (k->conns[i].client == ci)
			drop_conn(k, i);
	if (c->rv_fd >= 0) {
		shutdown(c->rv_fd, SHUT_RDWR);
		close(c->rv_fd);
		c->rv_fd = -1;
	}
}

/* A stream socket of ours, or -1. */
static int checked_stream(int fd)
{
	int type = 0, domain = 0;
	socklen_t len = sizeof(int), dlen = sizeof(int);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dlen) < 0 || type != SOCK_STREAM ||
	    domain != AF_UNIX) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A connection passed over client ci's rendezvous socket. */
static void take_conn(struct keyd *k, size_t ci)
{
	char byte;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} c;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
	                     .msg_controllen = sizeof(c.buf)};
	ssize_t n = recvmsg(k->clients[ci].rv_fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	struct cmsghdr *cm = n == 1 ? CMSG_FIRSTHDR(&msg) : NULL;
	int fd = -1;
	if (cm != NULL && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
	    cm->cmsg_len == CMSG_LEN(sizeof(int)) && (msg.msg_flags & MSG_CTRUNC) == 0)
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (fd < 0 || checked_stream(fd) < 0) {
		cut_off(k, ci, "a rendezvous message without a stream socket");
		return;
	}
	if (k->nconns >= CONNS_MAX) {
		sg_warn("keyd: %zu connections open; one of %s refused (it retries)", k->nconns,
		        k->clients[ci].policy->role);
		close(fd);
		return;
	}
	k->conns[k->nconns++] = (struct conn){.fd = fd, .client = ci};
}

static bool is_refusal(enum keyd_status st)
{
	return st == KEYD_E_BAD_REQUEST || st == KEYD_E_UNKNOWN_OP || st == KEYD_E_NOT_ALLOWED ||
	       st == KEYD_E_OWNER;
}

/* One request on connection i. */
static void serve_conn(struct keyd *k, size_t i)
{
	struct conn c = k->conns[i];
	struct client *cl = &k->clients[c.client];
	unsigned char *frame = NULL, *resp = NULL;
	size_t len = 0, rlen = 0;
	int rc = keyd_wire_read(c.fd, &frame, &len, READ_TIMEOUT_MS);
	if (rc != 0) {
		if (rc < 0)
			sg_warn("keyd: a connection of %s broke off mid-request", cl->policy->role);
		drop_conn(k, i);
		return;
	}
	enum keyd_status st = keyd_dispatch(cl->session, frame, len, &resp, &rlen);
	unsigned op = len > 5 ? frame[5] : 0;
	sg_free_secret(&frame, len);
	(void)keyd_wire_write(c.fd, resp, rlen, READ_TIMEOUT_MS);
	sg_free_secret(&resp, rlen);
	if (is_refusal(st)) {
		char why[96];
		sg_snprintf(why, sizeof(why), "%s: %s (op %u)", keyd_status_text(st), keyd_op_name(op),
		            op);
		cut_off(k, c.client, why);
	}
}

/* pollfds: the live rendezvous sockets, then the connections. */
static size_t fill_poll(const struct keyd *k, struct pollfd *p, size_t *who)
{
	size_t n = 0;
	for (size_t i = 0; i < k->nclients; i++)
		if (k->clients[i].rv_fd >= 0) {
			who[n] = i;
			p[n++] = (struct pollfd){.fd = k->clients[i].rv_fd, .events = POLLIN};
		}
	for (size_t i = 0; i < k->nconns; i++) {
		who[n] = CLIENTS_MAX + i;
		p[n++] = (struct pollfd){.fd = k->conns[i].fd, .events = POLLIN};
	}
	return n;
}

static void serve_turn(struct keyd *k)
{
	struct pollfd p[CLIENTS_MAX + CONNS_MAX];
	size_t who[CLIENTS_MAX + CONNS_MAX];
	size_t n = fill_poll(k, p, who);
	if (poll(p, n, 1000) <= 0)
		return;
	/* connections first, from the last: serving one may drop it (swap with the last) */
	for (size_t j = n; j-- > 0;) {
		if (p[j].revents == 0 || who[j] < CLIENTS_MAX)
			continue;
		size_t ci = who[j] - CLIENTS_MAX;
		if (ci < k->nconns && k->conns[ci].fd == p[j].fd)
			serve_conn(k, ci);
	}
	for (size_t j = 0; j < n; j++)
		if (p[j].revents != 0 && who[j] < CLIENTS_MAX && k->clients[who[j]].rv_fd == p[j].fd)
			take_conn(k, who[j]);
}

static void describe_clients(const struct keyd *k, struct sg_buf *b)
{
	for (size_t i = 0; i < k->nclients; i++)
		(void)sg_buf_printf(b, "%s%s", i == 0 ? "" : " ", k->clients[i].policy->role);
}

/* On SIGTERM (or retirement after a SIGHUP) the master stops every role at once, but qmgr may
 * still be finishing a delivery that needs a signature: keyd serves the connections it has
 * until their clients close them (the client exits), for at most DRAIN_MS. */
static void serve_until_clients_leave(struct keyd *k)
{
	int64_t deadline = 0;
	for (;;) {
		if (daemon_leaving() && deadline == 0)
			deadline = sg_mono_ms() + DRAIN_MS;
		if (deadline != 0 && (k->nconns == 0 || sg_mono_ms() > deadline))
			return;
		serve_turn(k);
	}
}

int keyd_main(struct role_ctx *ctx)
{
	static struct keyd k;
	char path[SG_PATH_MAX];
	const char *err = "path too long";
	struct keystore *ks = NULL;
	if (take_clients(&k) < 0)
		return 1;
	if (settings_path(ctx->settings, "gateway.master_key", path, sizeof(path)) < 0 ||
	    keystore_open(path, &ks, &err) < 0)
		sg_fatal("gateway.master_key: %s", err);
	for (size_t i = 0; i < k.nclients; i++)
		k.clients[i].session = keyd_session_new(k.clients[i].policy, ks);
	struct sg_buf names;
	sg_buf_init(&names, 256);
	describe_clients(&k, &names);
	daemon_ready(ctx, "serving %s", names.data != NULL ? names.data : "no client");
	sg_buf_free(&names);
	serve_until_clients_leave(&k);
	for (size_t i = 0; i < k.nclients; i++)
		keyd_session_free(&k.clients[i].session);
	while (k.nconns > 0)
		drop_conn(&k, k.nconns - 1);
	keystore_close(&ks);
	sg_info("stopped");
	return 0;
}

/* portal_conns.c: the deadlines of the portal's requests. libmicrohttpd's own timeout counts
 * only idle time, so a client sending one header line every few seconds would hold its
 * connection for ever (slowloris). Every open connection is listed here with the time its
 * current request began and how far it got; the server's main loop cuts (shuts down) those past
 * portal.header_timeout without complete headers or past portal.request_timeout without a
 * complete body. How many connections one address may hold is libmicrohttpd's per-address
 * limit (portal.connections_per_client). */
#include "portal/portal_priv.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_net.h"
#include "core/sg_str.h"
#include "core/sg_time.h"

#include <microhttpd.h>
#include <pthread.h>
#include <sys/socket.h>

enum phase {
	PHASE_HEADERS, /* waiting for (the rest of) a request line and headers */
	PHASE_BODY,    /* headers read, the body is coming */
	PHASE_REPLY,   /* the answer is being sent: no deadline of ours */
};

struct tracked {
	struct tracked *prev, *next;
	struct portal_conns *table;
	int fd;
	enum phase phase;
	int64_t since_ms; /* when the current request began (or the previous one ended) */
	bool cut;
	char client[64];
};

struct portal_conns {
	pthread_mutex_t lock;
	struct tracked *head;
	int64_t header_ms, request_ms;
};

struct portal_conns *portal_conns_new(int64_t header_ms, int64_t request_ms)
{
	struct portal_conns *t = sg_calloc(1, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	t->header_ms = header_ms;
	t->request_ms = request_ms;
	return t;
}

void portal_conns_free(struct portal_conns **tp)
{
	struct portal_conns *t = *tp;
	if (t == NULL)
		return;
	/* The daemon is stopped: its connections were all closed and unlisted. */
	pthread_mutex_destroy(&t->lock);
	sg_free(tp);
}

static void track(struct portal_conns *t, struct MHD_Connection *c, void **socket_context)
{
	struct tracked *e = sg_calloc(1, sizeof(*e));
	const union MHD_ConnectionInfo *fd =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	const union MHD_ConnectionInfo *ad =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	e->table = t;
	e->fd = fd != NULL ? fd->connect_fd : -1;
	e->since_ms = sg_mono_ms();
	if (ad != NULL && ad->client_addr != NULL)
		sg_sockaddr_text(ad->client_addr, e->client, sizeof(e->client));
	pthread_mutex_lock(&t->lock);
	e->next = t->head;
	if (t->head != NULL)
		t->head->prev = e;
	t->head = e;
	pthread_mutex_unlock(&t->lock);
	*socket_context = e;
}

/* libmicrohttpd calls this before it closes the socket, so a listed fd is never a reused one. */
static void untrack(struct tracked *e)
{
	struct portal_conns *t = e->table;
	pthread_mutex_lock(&t->lock);
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		t->head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	pthread_mutex_unlock(&t->lock);
	sg_free(&e);
}

void portal_conns_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                         enum MHD_ConnectionNotificationCode toe)
{
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		track(cls, c, socket_context);
	else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context != NULL)
		untrack(*socket_context);
	if (toe == MHD_CONNECTION_NOTIFY_CLOSED)
		*socket_context = NULL;
}

static void set_phase(struct MHD_Connection *c, enum phase phase, bool restart)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct tracked *e = ci != NULL ? ci->socket_context : NULL;
	if (e == NULL)
		return;
	pthread_mutex_lock(&e->table->lock);
	e->phase = phase;
	if (restart)
		e->since_ms = sg_mono_ms();
	pthread_mutex_unlock(&e->table->lock);
}

void portal_conns_headers_done(struct MHD_Connection *c) { set_phase(c, PHASE_BODY, false); }
void portal_conns_replying(struct MHD_Connection *c) { set_phase(c, PHASE_REPLY, false); }
/* A kept-alive connection's next request has header_timeout from the end of this one. */
void portal_conns_request_done(struct MHD_Connection *c) { set_phase(c, PHASE_HEADERS, true); }

size_t portal_conns_reap(struct portal_conns *t, int64_t now_ms)
{
	size_t n = 0;
	pthread_mutex_lock(&t->lock);
	for (struct tracked *e = t->head; e != NULL; e = e->next) {
		int64_t limit = e->phase == PHASE_HEADERS ? t->header_ms
		                : e->phase == PHASE_BODY  ? t->request_ms
		                                          : 0;
		if (e->cut || limit == 0 || now_ms - e->since_ms <= limit || e->fd < 0)
			continue;
		/* libmicrohttpd sees the end of the stream on its next read and closes it. */
		shutdown(e->fd, SHUT_RDWR);
		e->cut = true;
		n++;
		sg_info("portal: cut a connection from %s: %s not complete after %lld s", e->client,
		        e->phase == PHASE_HEADERS ? "request headers" : "request",
		        (long long)(limit / 1000));
	}
	pthread_mutex_unlock(&t->lock);
	return n;
}

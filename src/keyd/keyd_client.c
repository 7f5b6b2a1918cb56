/* keyd_client.c: keyd_call over the role's keyd socket, or in-process (keyd_client.h). Both
 * paths build the same request frame and check the same response frame. */
#include "keyd/keyd_client.h"
#include "keyd/keyd_server.h"
#include "keyd/keyd_wire.h"
#include "crypto/keystore_remote.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_net.h"
#include "core/sg_str.h"
#include "core/sg_time.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int rendezvous_fd = -1; /* the SEQPACKET end the master passed; -1: loopback */
static _Thread_local int conn_fd = -1;
static _Thread_local uint32_t next_id;
static _Thread_local char error_text[256];

bool keyd_client_remote(void)
{
	return rendezvous_fd >= 0;
}

void keyd_client_set_socket(int fd)
{
	rendezvous_fd = fd;
}

static unsigned char *request_frame(enum keyd_op op, uint32_t id, const void *req,
                                    size_t req_len, size_t *len_r)
{
	struct keyd_header h = {.version = KEYD_VERSION, .op = (uint8_t)op, .id = id,
	                        .body_len = (uint32_t)req_len};
	unsigned char *frame = sg_malloc(KEYD_HEADER_LEN + req_len);
	keyd_header_encode(&h, frame);
	if (req_len > 0)
		memcpy(frame + KEYD_HEADER_LEN, req, req_len);
	*len_r = KEYD_HEADER_LEN + req_len;
	return frame;
}

/* Checks a response frame against the request; on KEYD_OK hands its body over. */
static enum keyd_status take_response(unsigned char *frame, size_t len, enum keyd_op op,
                                      uint32_t id, unsigned char **resp_r, size_t *resp_len_r,
                                      const char **error_r)
{
	struct keyd_header h;
	if (len < KEYD_HEADER_LEN || keyd_header_decode(frame, &h) != KEYD_OK ||
	    h.body_len != len - KEYD_HEADER_LEN || h.op != op || h.id != id) {
		*error_r = "key process: malformed response";
		return KEYD_E_TEMPORARY;
	}
	enum keyd_status st = (enum keyd_status)h.status;
	if (st == KEYD_OK) {
		*resp_len_r = len - KEYD_HEADER_LEN;
		*resp_r = sg_malloc(*resp_len_r + 1);
		memcpy(*resp_r, frame + KEYD_HEADER_LEN, *resp_len_r);
		(*resp_r)[*resp_len_r] = '\0';
		return KEYD_OK;
	}
	struct keyd_field f;
	if (keyd_body_decode(frame + KEYD_HEADER_LEN, len - KEYD_HEADER_LEN, &f, 1) < 0)
		f.len = 0;
	sg_snprintf(error_text, sizeof(error_text), "key process: %.*s", (int)f.len,
	            (const char *)f.data);
	*error_r = error_text;
	return st == KEYD_OK ? KEYD_E_FAILED : st;
}

/* In-process: one session for the process, allowed everything, with the keystore it opened. */
static pthread_mutex_t loop_lock = PTHREAD_MUTEX_INITIALIZER;
static struct keyd_session *loop_session;

static enum keyd_status call_loopback(const unsigned char *frame, size_t len,
                                      unsigned char **out_r, size_t *out_len_r,
                                      const char **error_r)
{
	const struct keystore *ks = keystore_local();
	if (ks == NULL) {
		*error_r = "no master key open in this process (keystore_open)";
		return KEYD_E_FAILED;
	}
	pthread_mutex_lock(&loop_lock);
	if (loop_session != NULL && keyd_session_keystore(loop_session) != ks)
		keyd_session_free(&loop_session);
	if (loop_session == NULL)
		loop_session = keyd_session_new(keyd_policy_local(), ks);
	(void)keyd_dispatch(loop_session, frame, len, out_r, out_len_r);
	pthread_mutex_unlock(&loop_lock);
	return KEYD_OK;
}

static void drop_connection(void)
{
	if (conn_fd >= 0)
		close(conn_fd);
	conn_fd = -1;
}

/* A fresh stream to keyd: one end passed over the rendezvous socket, the other ours. */
static int connect_keyd(const char **error_r)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		*error_r = "key process: socketpair failed";
		return -1;
	}
	/* While keyd is down the queue fills (max_dgram_qlen): wait for room, bounded. */
	int64_t deadline = sg_mono_ms() + KEYD_CALL_TIMEOUT_MS;
	ssize_t n;
	while ((n = keyd_wire_pass_fd(rendezvous_fd, sv[1])) < 0 &&
	       (errno == EINTR || errno == EAGAIN) && sg_wait_fd(rendezvous_fd, POLLOUT, deadline) == 0)
		;
	int saved = errno;
	close(sv[1]);
	if (n != 1) {
		close(sv[0]);
		*error_r = saved == EPIPE || saved == ECONNRESET
		               ? "key process: this process was cut off by keyd (see keyd's log)"
		               : "key process: cannot reach keyd";
		return -1;
	}
	conn_fd = sv[0];
	return 0;
}

/* One exchange on the thread's connection: 0, or -1 (the connection is gone). */
static int exchange(const unsigned char *frame, size_t len, unsigned char **out_r,
                    size_t *out_len_r)
{
	int rc = keyd_wire_write(conn_fd, frame, len, KEYD_CALL_TIMEOUT_MS);
	if (rc == 0)
		rc = keyd_wire_read(conn_fd, out_r, out_len_r, KEYD_CALL_TIMEOUT_MS);
	if (rc != 0)
		drop_connection();
	return rc == 0 ? 0 : -1;
}

/* A connection kept from an earlier call may belong to a keyd that has since been restarted
 * or retired (SIGHUP): such a failure is retried once on a fresh connection, which waits for
 * the keyd that serves now. Every operation may be repeated (sealing twice makes two blobs, of
 * which the caller keeps one). A fresh connection that fails is a temporary error. */
static enum keyd_status call_remote(const unsigned char *frame, size_t len,
                                    unsigned char **out_r, size_t *out_len_r,
                                    const char **error_r)
{
	bool reused = conn_fd >= 0;
	if (reused && exchange(frame, len, out_r, out_len_r) == 0)
		return KEYD_OK;
	if (connect_keyd(error_r) < 0)
		return KEYD_E_TEMPORARY;
	if (exchange(frame, len, out_r, out_len_r) < 0) {
		*error_r = "key process unavailable (keyd restarting?); try again later";
		return KEYD_E_TEMPORARY;
	}
	return KEYD_OK;
}

enum keyd_status keyd_call(enum keyd_op op, const void *req, size_t req_len,
                           unsigned char **resp_r, size_t *resp_len_r, const char **error_r)
{
	*resp_r = NULL;
	*resp_len_r = 0;
	if (req_len > KEYD_BODY_MAX) {
		*error_r = "key process: request too large";
		return KEYD_E_FAILED;
	}
	uint32_t id = ++next_id;
	size_t flen = 0, olen = 0;
	unsigned char *frame = request_frame(op, id, req, req_len, &flen), *out = NULL;
	enum keyd_status st = keyd_client_remote()
	                          ? call_remote(frame, flen, &out, &olen, error_r)
	                          : call_loopback(frame, flen, &out, &olen, error_r);
	sg_free_secret(&frame, flen);
	if (st == KEYD_OK)
		st = take_response(out, olen, op, id, resp_r, resp_len_r, error_r);
	if (out != NULL)
		sg_free_secret(&out, olen);
	return st;
}

enum keyd_status keyd_callv(enum keyd_op op, const struct keyd_field *in, size_t nin,
                            struct keyd_field *out, size_t nout, unsigned char **resp_r,
                            size_t *resp_len_r, const char **error_r)
{
	struct sg_buf req;
	sg_buf_init(&req, KEYD_BODY_MAX);
	if (keyd_body_encode(&req, in, nin) < 0) {
		sg_buf_free_secret(&req);
		*error_r = "key process: request too large";
		return KEYD_E_FAILED;
	}
	enum keyd_status st = keyd_call(op, req.data, req.len, resp_r, resp_len_r, error_r);
	sg_buf_free_secret(&req);
	if (st == KEYD_OK && keyd_body_decode(*resp_r, *resp_len_r, out, nout) < 0) {
		sg_free_secret(resp_r, *resp_len_r);
		*error_r = "key process: response does not match the operation";
		return KEYD_E_FAILED;
	}
	return st;
}

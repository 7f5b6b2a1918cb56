/* keyd_testhook.c: test builds only (SEALGATE_TEST_HOOKS; the package has none). Real-time
 * signals make a client role send keyd a raw request that keyd must refuse and answer by
 * cutting the client off (tests/integration/test_keyd.py): SIGRTMIN+1 a body length that does
 * not match the fields, +2 an unknown operation, +3 an operation not on the client's list.
 * Everything here is async-signal-safe: a socketpair, sendmsg, send, close. */
#include "keyd/keyd_client.h"
#include "keyd/keyd_wire.h"

#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef SEALGATE_TEST_HOOKS
static int hook_fd = -1;

/* owner "held:1", data "x": the body of a seal */
static const unsigned char seal_body[] = {0, 0, 0, 6, 'h', 'e', 'l', 'd', ':', '1',
                                          0, 0, 0, 1, 'x'};

static void raw_frame(int which, unsigned char *frame)
{
	struct keyd_header h = {.version = KEYD_VERSION, .op = KEYD_OP_SEAL, .id = 0x7e57,
	                        .body_len = sizeof(seal_body)};
	if (which == 1)
		h.body_len = sizeof(seal_body) - 2; /* fields claim more than the body holds */
	else if (which == 2)
		h.op = 200;
	else
		h.op = KEYD_OP_CA_ISSUE; /* neither qmgr's nor anyone's but portal and tick */
	keyd_header_encode(&h, frame);
	memcpy(frame + KEYD_HEADER_LEN, seal_body, sizeof(seal_body));
}

static void send_raw(int sig)
{
	int sv[2];
	if (hook_fd < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return;
	unsigned char frame[KEYD_HEADER_LEN + sizeof(seal_body)];
	raw_frame(sig - SIGRTMIN, frame);
	(void)keyd_wire_pass_fd(hook_fd, sv[1]);
	(void)send(sv[0], frame, sizeof(frame), MSG_NOSIGNAL | MSG_DONTWAIT);
	close(sv[1]);
	close(sv[0]);
}

void keyd_testhook_install(int rendezvous_fd)
{
	hook_fd = rendezvous_fd;
	struct sigaction sa = {.sa_handler = send_raw};
	sigemptyset(&sa.sa_mask);
	for (int i = 1; i <= 3; i++)
		(void)sigaction(SIGRTMIN + i, &sa, NULL);
}
#else
void keyd_testhook_install(int rendezvous_fd)
{
	(void)rendezvous_fd;
}
#endif

/* keyd_client.h: asking the key process. A role the master started with a keyd socket
 * (qmgr, portal, tick) sends each call to keyd; any other process (CLI commands, unit tests,
 * the keyd role itself) has the call served in-process by the same dispatch code, with the
 * keystore it opened (keystore_open). Callers cannot tell the two apart except by speed.
 *
 * How a role learns its socket: the master makes, before it starts any child, one
 * SOCK_SEQPACKET socketpair per client role and keeps both ends for its whole life; the
 * client role inherits its end (fd named by SEALGATE_KEYD_FD), keyd inherits every keyd end.
 * The pair only carries connections: for each connection the client makes a fresh
 * SOCK_STREAM socketpair and passes one end over it (SCM_RIGHTS). Who sent the end is who the
 * client is (the allow-list), since no other process ever held that pair. A keyd that dies
 * takes its connections with it (calls in flight fail with KEYD_E_TEMPORARY); the pair stays
 * open in the master, and the next call's connection waits there for the restarted keyd.
 *
 * Thread-safe: each thread has a connection of its own. */
#ifndef SG_KEYD_CLIENT_H
#define SG_KEYD_CLIENT_H

#include "keyd/keyd_proto.h"

#include <stdbool.h>
#include <stddef.h>

/* Calls op with req (a body made with keyd_body_encode, req_len bytes). On KEYD_OK *resp_r
 * holds the response body (*resp_len_r bytes; the caller wipes and frees it:
 * sg_free_secret), else *error_r says why in words. Returns the status: KEYD_E_TEMPORARY
 * means "keyd unavailable now, try again later" (qmgr defers the message). */
enum keyd_status keyd_call(enum keyd_op op, const void *req, size_t req_len,
                           unsigned char **resp_r, size_t *resp_len_r, const char **error_r);

/* keyd_call with fields in and out: sends in[0..nin), checks that the response has exactly
 * nout fields and points out[] into *resp_r (which the caller wipes and frees). */
enum keyd_status keyd_callv(enum keyd_op op, const struct keyd_field *in, size_t nin,
                            struct keyd_field *out, size_t nout, unsigned char **resp_r,
                            size_t *resp_len_r, const char **error_r);

/* True in a role that talks to a keyd process (after keyd_client_attach). */
bool keyd_client_remote(void);

/* At a role's start (master_child.c): picks up the keyd socket the master passed
 * (SEALGATE_KEYD_FD), if any, and routes keystore.h to keyd. Returns 1 if attached, 0 if
 * this role has none, -1 on a bad variable. */
int keyd_client_attach(const char *role);

/* keyd_client.c: from now on calls go over the rendezvous socket fd (keyd_client_attach). */
void keyd_client_set_socket(int fd);

/* Test builds only (keyd_testhook.c): real-time signals send keyd raw bad requests. */
void keyd_testhook_install(int rendezvous_fd);

/* Milliseconds a call waits for keyd's answer before it fails with KEYD_E_TEMPORARY. */
#define KEYD_CALL_TIMEOUT_MS 30000

#endif

/* keyd_server.h: the serving side, shared by the keyd role (one session per client role) and
 * the in-process loopback (one session allowed everything). A handler gets the decoded
 * fields of a request and appends its response fields; the dispatcher has already checked
 * the schema, the client's allow-list and the owner. Handlers of the private-key operations
 * (sign, decrypt, CA issue, PDF, OpenPGP) live in keyd_keyops.c. */
#ifndef SG_KEYD_SERVER_H
#define SG_KEYD_SERVER_H

#include "keyd/keyd_proto.h"

#include <stdbool.h>
#include <stdint.h>

struct keystore;
struct keystore_key;

/* What one client may ask: its role name, the operations, and the owner families it may
 * name (space-separated prefixes such as "webmail: held:"; "*" any). */
struct keyd_policy {
	const char *role;
	keyd_allow ops;
	const char *owners;
};

/* The policy for a client role (keyd_policy.c), or NULL: a role with no keyd socket. */
const struct keyd_policy *keyd_policy_find(const char *role);
/* The client roles, for the master (one socket each) and keyd; i < keyd_policy_count(). */
size_t keyd_policy_count(void);
const struct keyd_policy *keyd_policy_at(size_t i);
/* The loopback's: everything (the process holds the master key itself). */
const struct keyd_policy *keyd_policy_local(void);
/* True if owner begins with one of policy->owners' prefixes. */
bool keyd_policy_owner_ok(const struct keyd_policy *policy, const char *owner);

struct keyd_session;
struct keyd_session *keyd_session_new(const struct keyd_policy *policy,
                                      const struct keystore *ks);
void keyd_session_free(struct keyd_session **s);
const struct keystore *keyd_session_keystore(const struct keyd_session *s);
const struct keyd_policy *keyd_session_policy(const struct keyd_session *s);

/* Private keys loaded by KEYD_OP_KEY_LOAD, per session (a handle of qmgr means nothing to
 * the portal). The session owns key; at most KEYD_HANDLES_MAX, the oldest dropped first. */
#define KEYD_HANDLES_MAX 1024
uint32_t keyd_session_key_add(struct keyd_session *s, struct keystore_key *key);
/* NULL if handle is unknown (never loaded, freed, or dropped). */
struct keystore_key *keyd_session_key(struct keyd_session *s, uint32_t handle);
void keyd_session_key_free(struct keyd_session *s, uint32_t handle);

/* A handler: in[] are the request's fields (count and sizes checked by the schema), req the
 * whole request (owner). Appends the response fields to out (keyd_body_encode). Returns
 * KEYD_OK or a status; *error_r says why (logged by keyd, returned to the client). */
typedef enum keyd_status (*keyd_handler_fn)(struct keyd_session *s,
                                            const struct keyd_request *req,
                                            struct sg_buf *out, const char **error_r);
struct keyd_handler {
	enum keyd_op op;
	keyd_handler_fn fn;
};
/* keyd_keyops.c (helper keydops): the private-key operations' handlers. */
extern const struct keyd_handler keyd_keyops_handlers[];
extern const size_t keyd_keyops_count;

/* Serves one request frame for session s: parse, check allow-list and owner, run the
 * handler; *resp_r gets the response frame (header + body; the caller wipes and frees it).
 * Returns the status sent; a status other than KEYD_OK, KEYD_E_FAILED and KEYD_E_NO_HANDLE
 * means the client broke the protocol or its allow-list (keyd cuts it off). */
enum keyd_status keyd_dispatch(struct keyd_session *s, const unsigned char *frame, size_t len,
                               unsigned char **resp_r, size_t *resp_len_r);

#endif

/* keyd_keyops.c: handlers of the private-key operations (sign, decrypt, CA issue, SecurePDF
 * unwrap, OpenPGP) inside keyd. Owned by the keydops work; empty until it lands: these
 * operations are then answered "unknown operation". */
#include "keyd/keyd_server.h"

const struct keyd_handler keyd_keyops_handlers[] = {{KEYD_OP_PING, NULL}};
const size_t keyd_keyops_count = 0;

#include "keyd/keyd_proxy.h"

const keyd_unseal_key_fn keyd_proxy_unseal_key = NULL;

/* keyd.h: the key process (a role, daemon/roles.c): the only process that reads the master key
 * file and holds private keys. It has no network and no store; it answers the typed requests
 * of keyd_proto.h from the client roles the master connected it to (keyd_client.h). */
#ifndef SG_KEYD_H
#define SG_KEYD_H

struct role_ctx;

int keyd_main(struct role_ctx *ctx);

#endif

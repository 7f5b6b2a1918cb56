/* keyd_wire.h: frames over a stream socket, for keyd and its clients: a whole frame written,
 * a whole frame read (header first, the body only once the header is valid), each bounded
 * by a deadline so a peer that stops half-way cannot hold the other side. */
#ifndef SG_KEYD_WIRE_H
#define SG_KEYD_WIRE_H

#include "keyd/keyd_proto.h"

#include <stddef.h>
#include <sys/types.h>

/* 0, or -1 (peer gone, deadline passed). */
int keyd_wire_write(int fd, const unsigned char *frame, size_t len, int timeout_ms);
/* Reads one frame into *frame_r (header + body, the caller wipes and frees). Returns 0, 1 at
 * a clean end (peer closed before a header), -1 on error or timeout. A header that is not
 * valid (magic, version, a body over KEYD_BODY_MAX) comes back alone, 16 bytes, for the
 * parser to refuse: nothing after it is read (the stream cannot be resynchronised). */
int keyd_wire_read(int fd, unsigned char **frame_r, size_t *len_r, int timeout_ms);

/* Passes fd (one end of a fresh connection) over the rendezvous socket via, with one byte;
 * the sendmsg result (1, or -1 with errno). Async-signal-safe (the test hook uses it). */
ssize_t keyd_wire_pass_fd(int via, int fd);

#endif

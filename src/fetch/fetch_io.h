/* fetch_io.h: private to src/fetch: the transport of one request (fetch_io.c). */
#ifndef SG_FETCH_IO_H
#define SG_FETCH_IO_H

#include "fetch/fetch.h"

#include <stdint.h>
#include <sys/types.h>

struct ssl_st;
struct ssl_ctx_st;
struct fetch_io {
	int fd;
	struct ssl_ctx_st *ctx;
	struct ssl_st *ssl;
	int64_t deadline;            /* sg_mono_ms() */
	const atomic_int *cancel;
	bool eof_is_truncation;      /* TLS ended without close_notify */
	char why[200];
};

/* Tries each address in turn; 0 with io->fd connected. */
int fetch_io_connect(struct fetch_io *io, const struct fetch_addr *addrs, size_t n,
                     const char **error_r);
/* TLS with the peer's certificate verified for host (a name, or an address when ip). */
int fetch_io_starttls(struct fetch_io *io, const char *host, bool ip, const char *ca_file,
                      const char **error_r);
int fetch_io_write(struct fetch_io *io, const char *p, size_t n, const char **error_r);
/* >0 bytes, 0 at the end of the stream, -1 with *error_r. */
ssize_t fetch_io_read(struct fetch_io *io, char *p, size_t n, const char **error_r);
void fetch_io_close(struct fetch_io *io);

#endif

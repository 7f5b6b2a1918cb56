/* sg_tls.h: the server side of TLS on a connected socket, bounded in time: the handshake has
 * one total deadline, a read never waits inside a TLS record, and a write waits at most its
 * timeout; so a client that stops (or drips bytes) mid-handshake or mid-record cannot hold a
 * session thread past its deadline. Shared by smtpd and ldapd. */
#ifndef SG_TLS_H
#define SG_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The TLS handshake of ssl (already bound to fd) by deadline_ms (sg_mono_ms clock). fd is
 * non-blocking from here on: use the two calls below for its I/O. 0, or -1 with reason
 * ("timed out", "connection lost", OpenSSL's reason; static or thread-local text). */
int sg_tls_accept(SSL *ssl, int fd, int64_t deadline_ms, const char **reason_r);
/* One SSL_read without waiting: > 0 bytes; 0: no complete record yet (poll fd and call
 * again); -1: closed or failed. */
ssize_t sg_tls_read(SSL *ssl, char *buf, size_t size);
/* All of p, waiting at most timeout_ms in total for the peer to take it. 0 or -1. */
int sg_tls_write(SSL *ssl, int fd, const char *p, size_t len, int timeout_ms);

#endif

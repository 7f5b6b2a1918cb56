/* sg_net.h: socket plumbing shared by every listener and client: endpoint parsing,
 * CIDR matching for smtp.internal_networks, listening and connecting with timeouts. */
#ifndef SG_NET_H
#define SG_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* "host:port", "[v6addr]:port" or ":port"/"port" (all addresses). */
struct sg_endpoint {
	char host[256];
	char port[8];
};
int sg_endpoint_parse(const char *s, struct sg_endpoint *ep_r, const char **error_r);
/* An SMTP route "smtp:HOST:PORT" with an optional TLS requirement after one space,
 * "smtp:HOST:PORT tls=may|encrypt|verify": the endpoint, and the mode in *tls_r ("may" when
 * there is none). -1 with *error_r for anything else. */
int sg_smtp_route_parse(const char *route, struct sg_endpoint *ep_r, const char **tls_r,
                        const char **error_r);

struct sg_cidr {
	int family;               /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned int prefix;
};
int sg_cidr_parse(const char *s, struct sg_cidr *cidr_r, const char **error_r);
bool sg_cidr_match(const struct sg_cidr *cidr, const struct sockaddr *sa);
/* A comma/space separated list of CIDRs (a validated setting) as an array of *n_r entries
 * (freed with sg_free); NULL with *error_r naming the bad entry's problem. */
struct sg_cidr *sg_cidr_list_parse(const char *value, size_t *n_r, const char **error_r);
/* Text form of a peer address ("127.0.0.1", "::1"); IPv4-mapped IPv6 shown as IPv4. */
void sg_sockaddr_text(const struct sockaddr *sa, char *dst, size_t dstsize);

/* Listening TCP socket on ep (SO_REUSEADDR, CLOEXEC); -1 with *error_r. */
int sg_listen_tcp(const struct sg_endpoint *ep, int backlog, const char **error_r);
/* Connects to host:port with a timeout in milliseconds; optional source address. */
int sg_connect_tcp(const char *host, const char *port, int timeout_ms, const char **error_r);
/* Sets SO_RCVTIMEO and SO_SNDTIMEO. */
int sg_socket_set_timeout(int fd, int timeout_ms);
/* Waits for events (poll's) on fd until deadline (sg_mono_ms): 0, or -1 on timeout or error;
 * EINTR waits on. */
int sg_wait_fd(int fd, short events, int64_t deadline);

#endif

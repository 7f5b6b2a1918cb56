/* smtpsink.c: the benchmark's final hop. Accepts every message (thread per connection),
 * throws the bytes away and counts them; "XSTAT" answers "250 <count>" so the load generator
 * can tell when everything it sent has come out the other side.
 * Build: cc -O2 -pthread -o smtpsink smtpsink.c     Run: smtpsink PORT */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE 65536

static atomic_ulong messages;

struct conn {
	int fd;
	char buf[BUF_SIZE];
	size_t len;
};

static int say(int fd, const char *s)
{
	size_t n = strlen(s);
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static int fill(struct conn *c)
{
	if (c->len == sizeof(c->buf))
		return -1; /* a command line longer than the buffer: hostile or broken */
	ssize_t r;
	do
		r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return -1;
	c->len += (size_t)r;
	return 0;
}

static void consume(struct conn *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

/* Skip message data up to and including CRLF.CRLF; state 2 = "just after a CRLF". */
static int skip_data(struct conn *c)
{
	int state = 2;
	for (;;) {
		for (size_t i = 0; i < c->len; i++) {
			char ch = c->buf[i];
			if (ch == '\r')
				state = state == 3 ? 4 : 1;
			else if (ch == '\n' && state == 4) {
				consume(c, i + 1);
				return 0;
			} else if (ch == '\n')
				state = state == 1 ? 2 : 0;
			else if (ch == '.')
				state = state == 2 ? 3 : 0;
			else
				state = 0;
		}
		c->len = 0;
		if (fill(c) < 0)
			return -1;
	}
}

static int command(struct conn *c, const char *line)
{
	char reply[128];
	if (strncasecmp(line, "EHLO", 4) == 0)
		return say(c->fd, "250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
		                  "250 SIZE 1073741824\r\n");
	if (strncasecmp(line, "HELO", 4) == 0)
		return say(c->fd, "250 sink\r\n");
	if (strncasecmp(line, "DATA", 4) == 0) {
		if (say(c->fd, "354 go ahead\r\n") < 0 || skip_data(c) < 0)
			return -1;
		atomic_fetch_add(&messages, 1);
		return say(c->fd, "250 2.0.0 Ok\r\n");
	}
	if (strncasecmp(line, "XSTAT", 5) == 0) {
		snprintf(reply, sizeof(reply), "250 %lu\r\n", atomic_load(&messages));
		return say(c->fd, reply);
	}
	if (strncasecmp(line, "QUIT", 4) == 0) {
		say(c->fd, "221 2.0.0 Bye\r\n");
		return -1;
	}
	return say(c->fd, "250 2.0.0 Ok\r\n"); /* MAIL, RCPT, RSET, NOOP, STARTTLS-less rest */
}

static void *session(void *arg)
{
	struct conn *c = arg;
	if (say(c->fd, "220 sink ESMTP\r\n") == 0) {
		for (;;) {
			char *nl = memchr(c->buf, '\n', c->len);
			if (nl == NULL) {
				if (fill(c) < 0)
					break;
				continue;
			}
			size_t n = (size_t)(nl - c->buf) + 1;
			char line[1024];
			size_t l = n < sizeof(line) ? n : sizeof(line) - 1;
			memcpy(line, c->buf, l);
			line[l] = '\0';
			consume(c, n);
			if (command(c, line) < 0)
				break;
		}
	}
	close(c->fd);
	free(c);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: smtpsink PORT\n");
		return 2;
	}
	char *end;
	long port = strtol(argv[1], &end, 10);
	if (*end != '\0' || port < 1 || port > 65535) {
		fprintf(stderr, "smtpsink: bad port '%s'\n", argv[1]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 128) < 0) {
		perror("smtpsink: bind/listen");
		return 1;
	}
	for (;;) {
		int fd = accept(ls, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("smtpsink: accept");
			return 1;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct conn *c = calloc(1, sizeof(*c));
		pthread_t t;
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		if (pthread_create(&t, NULL, session, c) != 0) {
			close(fd);
			free(c);
			continue;
		}
		pthread_detach(t);
	}
}

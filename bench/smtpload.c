/* smtpload.c: the benchmark's load generator. CLIENTS threads, each on its own SMTP session,
 * share COUNT messages of SIZE bytes; each message is MAIL+RCPT+DATA pipelined, then the data.
 * Measures the accept rate and the latency from the end of DATA to the 250; with SINKPORT it
 * also waits until the sink (smtpsink XSTAT) has all of them, for the end-to-end rate.
 * Build: cc -O2 -pthread -o smtpload smtpload.c
 * Run:   smtpload LABEL PORT CLIENTS COUNT SIZE [SINKPORT]
 * Prints one line: RESULT label=.. size=.. count=.. ok=.. secs=.. rate=.. p50_ms=.. p99_ms=..
 *                  e2e_secs=.. e2e_rate=.. errors=..
 * SMTPLOAD_MESSAGE=FILE sends that prepared message (header and body, LF or CRLF line ends)
 * instead of generated text: each copy gets its own Message-ID line in front, SIZE is then
 * ignored and size= reports the bytes sent per message. Without it nothing changes. */
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
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct session {
	int fd;
	char buf[8192];
	size_t len;
};

static long g_port, g_count, g_size;
static atomic_long next_msg, ok_msgs, errors;
static double *latencies; /* one slot per message, -1 when it failed */
static char *body;
static size_t body_len;
static int prepared; /* body is a whole message from SMTPLOAD_MESSAGE */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long number(const char *s, long min, long max)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "smtpload: bad number '%s' (%ld..%ld)\n", s, min, max);
		exit(2);
	}
	return v;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The code of one complete (possibly multi-line) reply, or -1; its last line to `last`. */
static int reply_text(struct session *s, char *last, size_t lastsz)
{
	for (;;) {
		char *nl = memchr(s->buf, '\n', s->len);
		if (nl != NULL) {
			size_t n = (size_t)(nl - s->buf) + 1;
			int code = n >= 3 ? (s->buf[0] - '0') * 100 + (s->buf[1] - '0') * 10 + (s->buf[2] - '0') : -1;
			if (last && lastsz > 0) {
				size_t l = n < lastsz ? n : lastsz - 1;
				memcpy(last, s->buf, l);
				last[l] = '\0';
			}
			int final = n >= 4 && s->buf[3] != '-';
			memmove(s->buf, s->buf + n, s->len - n);
			s->len -= n;
			if (final)
				return code;
			continue;
		}
		if (s->len == sizeof(s->buf))
			return -1;
		ssize_t r = recv(s->fd, s->buf + s->len, sizeof(s->buf) - s->len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		s->len += (size_t)r;
	}
}

static int reply(struct session *s)
{
	return reply_text(s, NULL, 0);
}

static int session_open(struct session *s, long port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->len = 0;
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (s->fd < 0 || connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	int one = 1;
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct timeval tv = {.tv_sec = 120};
	setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (reply(s) != 220)
		return -1;
	const char *ehlo = "EHLO bench.example.com\r\n";
	if (send_all(s->fd, ehlo, strlen(ehlo)) < 0 || reply(s) != 250)
		return -1;
	return 0;
}

static int one_message(struct session *s, long n)
{
	static const char env[] = "MAIL FROM:<bench@example.com>\r\nRCPT TO:<sink@remote.test>\r\nDATA\r\n";
	char head[384];
	/* SMTPLOAD_SUBJECT lets a benchmark tag the subject (e.g. "[secure] bench"). */
	const char *subject = getenv("SMTPLOAD_SUBJECT");
	int hl = prepared ? snprintf(head, sizeof(head), "Message-ID: <bench-%ld-%ld@example.com>\r\n",
	                             (long)getpid(), n) :
	                    snprintf(head, sizeof(head),
	                  "From: bench@example.com\r\nTo: sink@remote.test\r\nSubject: %.100s %ld\r\n"
	                  "Message-ID: <bench-%ld-%ld@example.com>\r\n\r\n",
	                  subject != NULL ? subject : "bench", n, (long)getpid(), n);
	if (hl < 0 || (size_t)hl >= sizeof(head))
		return -1;
	if (send_all(s->fd, env, sizeof(env) - 1) < 0 || reply(s) != 250 || reply(s) != 250 ||
	    reply(s) != 354)
		return -1;
	if (send_all(s->fd, head, (size_t)hl) < 0 || send_all(s->fd, body, body_len) < 0)
		return -1;
	double t0 = now();
	if (reply(s) != 250)
		return -1;
	latencies[n] = now() - t0;
	return 0;
}

static void *client(void *arg)
{
	(void)arg;
	struct session s = {.fd = -1};
	for (;;) {
		long n = atomic_fetch_add(&next_msg, 1);
		if (n >= g_count)
			break;
		if (s.fd < 0 && session_open(&s, g_port) < 0) {
			if (s.fd >= 0)
				close(s.fd);
			s.fd = -1;
			atomic_fetch_add(&errors, 1);
			usleep(100000);
			continue;
		}
		if (one_message(&s, n) == 0) {
			atomic_fetch_add(&ok_msgs, 1);
		} else {
			atomic_fetch_add(&errors, 1);
			close(s.fd);
			s.fd = -1;
		}
	}
	if (s.fd >= 0) {
		send_all(s.fd, "QUIT\r\n", 6);
		reply(&s);
		close(s.fd);
	}
	return NULL;
}

static long sink_count(long port)
{
	struct session s = {.fd = -1};
	long v = -1;
	char line[128];
	if (session_open(&s, port) == 0 && send_all(s.fd, "XSTAT\r\n", 7) == 0 &&
	    reply_text(&s, line, sizeof(line)) == 250) {
		v = strtol(line + 4, NULL, 10);
		send_all(s.fd, "QUIT\r\n", 6);
	}
	if (s.fd >= 0)
		close(s.fd);
	return v;
}

static void make_body(void)
{
	size_t line = 78; /* 76 characters + CRLF, no leading dots */
	size_t lines = (size_t)g_size / line + 1;
	body_len = lines * line + 3;
	body = malloc(body_len + 1);
	if (body == NULL)
		exit(1);
	for (size_t i = 0; i < lines; i++) {
		char *p = body + i * line;
		for (size_t k = 0; k < 76; k++)
			p[k] = (char)('a' + (i + k) % 26);
		p[76] = '\r';
		p[77] = '\n';
	}
	memcpy(body + lines * line, ".\r\n", 3);
}

/* Reads a prepared message: CRLF line ends, dot-stuffed, with the final ".". */
static void load_message(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "smtpload: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	size_t cap = 1 << 16, used = 0;
	char *raw = malloc(cap);
	size_t r;
	while (raw != NULL && (r = fread(raw + used, 1, cap - used, f)) > 0) {
		used += r;
		if (used == cap)
			raw = realloc(raw, cap *= 2);
	}
	if (raw == NULL || ferror(f)) {
		fprintf(stderr, "smtpload: cannot read %s\n", path);
		exit(2);
	}
	fclose(f);
	body = malloc(used * 2 + 8); /* worst case: every line is "." */
	if (body == NULL)
		exit(1);
	body_len = 0;
	for (size_t i = 0; i < used;) {
		char *nl = memchr(raw + i, '\n', used - i);
		size_t end = nl != NULL ? (size_t)(nl - raw) : used, len = end - i;
		if (len > 0 && raw[i + len - 1] == '\r')
			len--;
		if (len > 0 && raw[i] == '.')
			body[body_len++] = '.';
		memcpy(body + body_len, raw + i, len);
		body_len += len;
		memcpy(body + body_len, "\r\n", 2);
		body_len += 2;
		i = end + 1;
	}
	memcpy(body + body_len, ".\r\n", 3);
	body_len += 3;
	free(raw);
	prepared = 1;
	g_size = (long)body_len;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	if (argc != 6 && argc != 7) {
		fprintf(stderr, "usage: smtpload LABEL PORT CLIENTS COUNT SIZE [SINKPORT]\n");
		return 2;
	}
	const char *label = argv[1];
	g_port = number(argv[2], 1, 65535);
	long clients = number(argv[3], 1, 1000);
	g_count = number(argv[4], 1, 10000000);
	g_size = number(argv[5], 1, 1L << 30);
	long sink = argc == 7 ? number(argv[6], 1, 65535) : 0;
	const char *message = getenv("SMTPLOAD_MESSAGE");
	if (message != NULL && *message != '\0')
		load_message(message);
	else
		make_body();
	latencies = malloc((size_t)g_count * sizeof(double));
	pthread_t *t = malloc((size_t)clients * sizeof(pthread_t));
	if (latencies == NULL || t == NULL)
		return 1;
	for (long i = 0; i < g_count; i++)
		latencies[i] = -1;
	long base = sink ? sink_count(sink) : 0;
	double t0 = now();
	for (long i = 0; i < clients; i++)
		pthread_create(&t[i], NULL, client, NULL);
	for (long i = 0; i < clients; i++)
		pthread_join(t[i], NULL);
	double secs = now() - t0;
	long ok = atomic_load(&ok_msgs);
	double e2e = -1;
	if (sink && base >= 0) {
		double deadline = now() + 600;
		while (now() < deadline) {
			long c = sink_count(sink);
			if (c >= base + ok) {
				e2e = now() - t0;
				break;
			}
			usleep(10000);
		}
	}
	long n = 0;
	for (long i = 0; i < g_count; i++)
		if (latencies[i] >= 0)
			latencies[n++] = latencies[i];
	qsort(latencies, (size_t)n, sizeof(double), cmp_double);
	double p50 = n ? latencies[n / 2] * 1000 : -1;
	double p99 = n ? latencies[n * 99 / 100 < n ? n * 99 / 100 : n - 1] * 1000 : -1;
	printf("RESULT label=%s size=%ld count=%ld ok=%ld secs=%.3f rate=%.1f p50_ms=%.2f p99_ms=%.2f "
	       "e2e_secs=%.3f e2e_rate=%.1f errors=%ld\n",
	       label, g_size, g_count, ok, secs, (double)ok / secs, p50, p99, e2e,
	       e2e > 0 ? (double)ok / e2e : -1.0,
	       atomic_load(&errors));
	return ok == g_count ? 0 : 1;
}

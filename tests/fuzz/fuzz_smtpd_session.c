/* fuzz_smtpd_session.c: arbitrary client bytes into the SMTP server session machine, with an
 * in-memory sink and settings like the defaults (small limits so they are reached). The first
 * bytes choose the session's options and how the input is cut into reads; the checks are that
 * every reply is a well-formed line and that a committed message has only CRLF line ends. */
#include "core/sg_buf.h"
#include "core/sg_log.h"
#include "core/sg_str.h"
#include "smtp/smtp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sink {
	struct sg_buf msg;
	unsigned int fail; /* bit 0: begin, 1: write, 2: commit */
	int open;
};

static int sink_begin(void *ctx, char id_r[SG_QUEUE_ID_MAX], const char **error_r)
{
	struct sink *k = ctx;
	if (k->open)
		abort(); /* a second begin without commit or abort */
	if (k->fail & 1) {
		*error_r = "no space";
		return -1;
	}
	k->open = 1;
	sg_buf_reset(&k->msg);
	sg_strlcpy(id_r, "FUZZ1", SG_QUEUE_ID_MAX);
	return 0;
}

static int sink_write(void *ctx, const void *p, size_t n, const char **error_r)
{
	struct sink *k = ctx;
	if (!k->open)
		abort();
	if ((k->fail & 2) || sg_buf_append(&k->msg, p, n) < 0) {
		*error_r = "write failed";
		return -1;
	}
	return 0;
}

static void check_crlf(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			abort();
		if (p[i] == '\r' && (i + 1 == n || p[i + 1] != '\n'))
			abort();
	}
}

static int sink_commit(void *ctx, const struct smtpd_envelope *env, const char **error_r)
{
	struct sink *k = ctx;
	if (!k->open || env->nrcpt == 0 || env->sender == NULL)
		abort();
	k->open = 0;
	if (k->fail & 4) {
		*error_r = "fsync failed";
		return -1;
	}
	check_crlf(k->msg.data, k->msg.len);
	if (env->size != k->msg.len)
		abort();
	return 0;
}

static void sink_abort(void *ctx)
{
	struct sink *k = ctx;
	if (!k->open)
		abort();
	k->open = 0;
}

/* Every reply line: three digits, ' ' or '-', text, CRLF. */
static void check_output(struct smtpd_session *s)
{
	size_t len;
	const char *out = smtpd_session_output(s, &len);
	check_crlf(out, len);
	for (size_t i = 0; i < len;) {
		const char *eol = memchr(out + i, '\n', len - i);
		if (eol == NULL || (size_t)(eol - (out + i)) < 5 || out[i] < '2' || out[i] > '5' ||
		    (out[i + 3] != ' ' && out[i + 3] != '-'))
			abort();
		i = (size_t)(eol - out) + 1;
	}
	smtpd_session_output_consume(s, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sg_strlist domains;
	if (domains.items == NULL) {
		sg_log_set_level(SG_LOG_ERROR);
		sg_strlist_split(&domains, "example.com example.org");
	}
	if (size < 2)
		return 0;
	uint8_t opt = data[0], cut = data[1];
	data += 2;
	size -= 2;
	struct smtpd_config cfg = {.hostname = "mx.example.com",
	                           .max_message_size = 4096,
	                           .max_recipients = 5,
	                           .max_errors = (opt & 0x40) ? 3 : 50,
	                           .internal_domains = &domains,
	                           .tls_available = (opt & 1) != 0};
	struct sink k = {.fail = (unsigned int)(opt >> 1) & 7};
	sg_buf_init(&k.msg, 1 << 20);
	struct smtpd_hooks hooks = {.ctx = &k, .begin = sink_begin, .write = sink_write,
	                            .commit = sink_commit, .abort = sink_abort};
	struct smtpd_session *s = smtpd_session_new(&cfg, &hooks, (opt & 0x10) ? "::1" : "192.0.2.1",
	                                            (opt & 0x20) != 0);
	size_t chunk = cut == 0 ? size : cut;
	for (size_t off = 0; off < size && !smtpd_session_closed(s);) {
		size_t n = size - off < chunk ? size - off : chunk;
		size_t used = smtpd_session_input(s, data + off, n);
		if (used > n)
			abort();
		off += used;
		check_output(s);
		if (smtpd_session_want_tls(s))
			smtpd_session_tls_started(s, "TLSv1.3");
	}
	if (opt & 0x80)
		smtpd_session_timeout(s);
	else if (smtpd_session_idle(s))
		smtpd_session_shutdown(s);
	check_output(s);
	smtpd_session_free(&s);
	if (k.open)
		abort(); /* the session ended with a message neither committed nor aborted */
	sg_buf_free(&k.msg);
	return 0;
}

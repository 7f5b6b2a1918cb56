/* cli_queue.c: `queue list|show|flush|delete`, the mailq/postsuper of sealgate. It works
 * beside a running daemon: it only reads, except delete (under the message's delivery lock)
 * and flush (a trigger file qmgr picks up). Everything it prints from the spool came from
 * the network, so it is made safe for a terminal first. */
#include "cli/cli.h"
#include "core/settings.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "queue/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TEXT_MAX 1024 /* longest field shown in a listing (SG_SPOOL_FIELD_MAX is longer) */

static int queue_usage(void)
{
	return cli_usage("queue");
}

/* ---- terminal-safe text ---- */

/* Length of a printable UTF-8 sequence at s (n bytes available), or 0. C1 controls
 * (U+0080..U+009F) are refused: some terminals act on them. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4
	           : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 && s[0] <= 0xDF ? 2 : 0;
	if (len == 0 || len > n || (s[0] == 0xC2 && s[1] < 0xA0))
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return len;
}

/* Writes s[0..n) with every control byte and invalid UTF-8 as '?' (tabs kept if keep_tab). */
static void put_safe(const char *s, size_t n, bool keep_tab)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		size_t u = p[i] >= 0x80 ? utf8_len(p + i, n - i) : 0;
		if (u > 0) {
			(void)fwrite(p + i, 1, u, stdout);
			i += u;
			continue;
		}
		bool ok = (p[i] >= 0x20 && p[i] < 0x7f) || (keep_tab && p[i] == '\t');
		putchar(ok ? p[i] : '?');
		i++;
	}
}

static void put_field(const char *s)
{
	size_t n = strlen(s);
	put_safe(s, n < TEXT_MAX ? n : TEXT_MAX, false);
	if (n > TEXT_MAX)
		(void)fputs("...", stdout);
}

static void fmt_time(time_t t, char *dst, size_t size, bool year)
{
	struct tm tm;
	if (localtime_r(&t, &tm) == NULL ||
	    strftime(dst, size, year ? "%a %b %e %H:%M:%S %Y" : "%a %b %e %H:%M:%S", &tm) == 0)
		sg_strlcpy(dst, "?", size);
}

/* ---- list ---- */

static void print_rcpt_state(const struct spool_rcpt *r)
{
	printf("%s", spool_rcpt_state_name(r));
	if (r->attempts > 0)
		printf(", %u attempt%s", r->attempts, r->attempts == 1 ? "" : "s");
	if (r->state == SPOOL_RCPT_PENDING && r->attempts > 0 && r->next_attempt > 0) {
		char when[64];
		fmt_time(r->next_attempt, when, sizeof(when), false);
		printf(", next %s", when);
	}
}

static void list_one(const struct spool_envelope *env, enum spool_queue q)
{
	char when[64];
	fmt_time(env->arrival, when, sizeof(when), false);
	printf("%-17s%c %9zu %-20s ", env->id, q == SPOOL_ACTIVE ? '*' : ' ', env->size, when);
	put_field(env->sender[0] != '\0' ? env->sender : "<>");
	putchar('\n');
	for (size_t i = 0; i < env->nrcpt; i++) {
		const struct spool_rcpt *r = &env->rcpts[i];
		printf("%50s", "");
		put_field(r->addr);
		(void)fputs("  [", stdout);
		print_rcpt_state(r);
		(void)fputs("]\n", stdout);
		if (r->last_reply != NULL) {
			printf("%52s(", "");
			put_field(r->last_reply);
			(void)fputs(")\n", stdout);
		}
	}
	putchar('\n');
}

static int cmp_ids(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Both queues, merged in id (= arrival) order. */
static int list_all(struct spool *sp, char ***ids_r, size_t *n_r)
{
	char **in = NULL, **act = NULL;
	size_t nin = 0, nact = 0;
	const char *err;
	if (spool_list(sp, SPOOL_INCOMING, &in, &nin, &err) < 0 ||
	    spool_list(sp, SPOOL_ACTIVE, &act, &nact, &err) < 0) {
		spool_ids_free(&in, nin);
		cli_errorf("%s", err);
		return -1;
	}
	size_t n = sg_size_add(nin, nact);
	char **ids = sg_reallocarray(in, n > 0 ? n : 1, sizeof(*ids));
	if (nact > 0)
		memcpy(ids + nin, act, nact * sizeof(*act));
	sg_free(&act);
	qsort(ids, n, sizeof(*ids), cmp_ids);
	*ids_r = ids;
	*n_r = n;
	return 0;
}

static int queue_list(struct spool *sp, const char *config, int argc, char **argv)
{
	(void)config;
	(void)argv;
	if (argc != 0)
		return queue_usage();
	char **ids;
	size_t n, shown = 0, bytes = 0;
	int rc = 0;
	if (list_all(sp, &ids, &n) < 0)
		return 1;
	for (size_t i = 0; i < n; i++) {
		struct spool_envelope env;
		enum spool_queue q;
		const char *err;
		if (spool_load(sp, ids[i], &env, &q, &err) < 0) {
			if (errno != ENOENT) { /* ENOENT: delivered since the listing */
				cli_errorf("%s", err);
				rc = 1;
			}
			continue;
		}
		if (shown++ == 0)
			printf("%-18s %9s %-20s %s\n", "-Queue ID-", "--Size--",
			       "----Arrival Time----", "-Sender/Recipient-------");
		list_one(&env, q);
		bytes = sg_size_add(bytes, env.size);
		spool_envelope_free(&env);
	}
	spool_ids_free(&ids, n);
	if (shown == 0)
		printf("Queue is empty\n");
	else
		printf("-- %zu Kbytes in %zu Request%s.\n", (bytes + 1023) / 1024, shown,
		       shown == 1 ? "" : "s");
	return rc;
}

/* ---- show ---- */

static void show_line(const char *label, const char *value)
{
	if (value == NULL)
		return;
	printf("%-14s", label);
	put_field(value);
	putchar('\n');
}

static void show_client(const struct spool_envelope *env)
{
	printf("%-14s", "Client:");
	put_field(env->client_addr != NULL ? env->client_addr : "?");
	if (env->client_helo != NULL) {
		(void)fputs(" (", stdout);
		put_field(env->client_helo);
		putchar(')');
	}
	printf("%s%s\n", env->tls ? ", TLS" : "", env->internal_client ? ", internal network" : "");
	if (env->smtputf8 || env->body_8bit || (env->flags & SPOOL_F_BOUNCE))
		printf("%-13s%s%s%s\n", "Options:", env->smtputf8 ? " SMTPUTF8" : "",
		       env->body_8bit ? " 8BITMIME" : "",
		       (env->flags & SPOOL_F_BOUNCE) ? " delivery-status-notification" : "");
}

static void show_rcpt(const struct spool_rcpt *r)
{
	show_line("Recipient:", r->addr);
	printf("  %-12s", "State:");
	print_rcpt_state(r);
	putchar('\n');
	show_line("  ORCPT:", r->orcpt);
	show_line("  Relay:", r->relay);
	show_line("  Status:", r->dsn_status);
	show_line("  Last reply:", r->last_reply);
}

static void show_envelope(const struct spool_envelope *env, enum spool_queue q,
                          const char *data_path)
{
	char when[64];
	fmt_time(env->arrival, when, sizeof(when), true);
	show_line("Queue ID:", env->id);
	show_line("Queue:", q == SPOOL_ACTIVE ? "active (taken by qmgr)" : "incoming");
	show_line("Arrival:", when);
	printf("%-14s%zu bytes\n", "Size:", env->size);
	show_line("Sender:", env->sender[0] != '\0' ? env->sender : "<> (null sender)");
	show_client(env);
	show_line("Message-ID:", env->message_id);
	show_line("Data file:", data_path);
	for (size_t i = 0; i < env->nrcpt; i++)
		show_rcpt(&env->rcpts[i]);
}

/* Prints one line of the message (without its LF, CR stripped); returns true if it is the
 * empty line that ends the header. */
static bool show_msg_line(const char *s, size_t n)
{
	if (n > 0 && s[n - 1] == '\r')
		n--;
	put_safe(s, n, true);
	putchar('\n');
	return n == 0;
}

/* Streams the data file: the header block, or everything with body. Lines longer than the
 * buffer are shown in pieces; memory stays bounded whatever the file holds. */
static int show_message(const char *path, bool body)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		cli_errorf("cannot open %s: %s", path, strerror(errno));
		return 1;
	}
	char *buf = sg_malloc(SG_SMTP_DATA_LINE_MAX);
	size_t len = 0;
	bool done = false, eof = false;
	ssize_t r = 0;
	while (!done && !eof) {
		r = read(fd, buf + len, SG_SMTP_DATA_LINE_MAX - len);
		if (r < 0 && errno == EINTR)
			continue;
		eof = r <= 0;
		len += r > 0 ? (size_t)r : 0;
		size_t start = 0;
		const char *nl;
		while (!done && (nl = memchr(buf + start, '\n', len - start)) != NULL) {
			size_t n = (size_t)(nl - (buf + start));
			done = show_msg_line(buf + start, n) && !body;
			start += n + 1;
		}
		bool full = start == 0 && len == SG_SMTP_DATA_LINE_MAX;
		if (!done && (eof || full) && len > start) { /* last or over-long line */
			show_msg_line(buf + start, len - start);
			start = len;
		}
		memmove(buf, buf + start, len - start);
		len -= start;
	}
	sg_free(&buf);
	close(fd);
	if (r < 0) {
		cli_errorf("cannot read %s: %s", path, strerror(errno));
		return 1;
	}
	return 0;
}

static int queue_show(struct spool *sp, const char *config, int argc, char **argv)
{
	(void)config;
	const char *id = NULL;
	bool body = false;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--body") == 0)
			body = true;
		else if (id == NULL)
			id = argv[i];
		else
			return queue_usage();
	}
	if (id == NULL)
		return queue_usage();
	struct spool_envelope env;
	enum spool_queue q;
	const char *err;
	char path[SG_PATH_MAX];
	if (spool_load(sp, id, &env, &q, &err) < 0) {
		cli_errorf("%s", err);
		return 1;
	}
	if (spool_data_path(sp, id, path, sizeof(path)) < 0) {
		spool_envelope_free(&env);
		cli_errorf("data path of %s too long", id);
		return 1;
	}
	show_envelope(&env, q, path);
	spool_envelope_free(&env);
	putchar('\n');
	(void)fflush(stdout);
	return show_message(path, body);
}

/* ---- flush and delete ---- */

static int queue_flush(struct spool *sp, const char *config, int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return queue_usage();
	const char *err;
	if (spool_trigger_flush(sp, &err) < 0) {
		/* no trigger/ yet: no daemon has opened this spool, so nothing can be deferred */
		if (errno == ENOENT) {
			printf("Nothing to flush: no gateway has used this spool yet.\n");
			return 0;
		}
		cli_errorf("%s", err);
		return 1;
	}
	printf("Flush requested: the queue manager retries every deferred recipient now.\n");
	cli_audit_config(config, "queue-flushed", "", "every deferred recipient retried now");
	return 0;
}

static int queue_delete(struct spool *sp, const char *config, int argc, char **argv)
{
	if (argc != 1)
		return queue_usage();
	const char *id = argv[0], *err;
	struct spool_envelope env;
	if (spool_load(sp, id, &env, NULL, &err) < 0) {
		cli_errorf("%s", err);
		return 1;
	}
	char what[512];
	snprintf(what, sizeof(what), "%.100s from <%.200s> to %zu recipient(s)", id, env.sender,
	         env.nrcpt);
	spool_envelope_free(&env);
	int fd = spool_lock(sp, id, true, &err);
	if (fd < 0 && errno == EWOULDBLOCK) {
		cli_errorf("message %s is being delivered right now; try again in a moment", id);
		return 1;
	}
	/* No data file but an envelope: a damaged entry; removing it is all that is left. */
	if (fd < 0 && errno != ENOENT) {
		cli_errorf("%s", err);
		return 1;
	}
	int rc = spool_remove(sp, id, &err);
	spool_unlock(&fd);
	if (rc < 0) {
		cli_errorf("%s", err);
		return 1;
	}
	printf("%s: removed\n", id);
	cli_audit_config(config, "queue-deleted", "", "%s", what);
	return 0;
}

/* ---- dispatch ---- */

static const struct {
	const char *name;
	int (*run)(struct spool *sp, const char *config, int argc, char **argv);
} queue_cmds[] = {
	{"list", queue_list},
	{"show", queue_show},
	{"flush", queue_flush},
	{"delete", queue_delete},
};

static struct spool *open_spool(const char *config)
{
	struct settings *s = cli_load_settings(config);
	if (s == NULL)
		return NULL;
	if (cli_check_account(s) < 0) {
		settings_free(&s);
		return NULL;
	}
	char dir[SG_PATH_MAX];
	const char *err;
	struct spool *sp = NULL;
	if (settings_path(s, "gateway.spool_dir", dir, sizeof(dir)) < 0)
		cli_errorf("gateway.spool_dir: path too long");
	else if ((sp = spool_open_existing(dir, &err)) == NULL)
		cli_errorf("%s (gateway.spool_dir in %s)", err, config);
	settings_free(&s);
	return sp;
}

int cli_queue_cmd(int argc, char **argv)
{
	const char *config = cli_take_config(&argc, argv);
	if (argc < 1 || config == NULL)
		return queue_usage();
	for (size_t i = 0; i < sizeof(queue_cmds) / sizeof(queue_cmds[0]); i++) {
		if (strcmp(argv[0], queue_cmds[i].name) != 0)
			continue;
		struct spool *sp = open_spool(config);
		if (sp == NULL)
			return 1;
		int rc = queue_cmds[i].run(sp, config, argc - 1, argv + 1);
		spool_close(&sp);
		if (fflush(stdout) != 0 || ferror(stdout)) {
			cli_errorf("cannot write the output: %s", strerror(errno));
			rc = 1;
		}
		return rc;
	}
	return queue_usage();
}

/* test_spool.c: the spool's envelope format (round trip, hostile input) and its life cycle
 * on disk: receive, commit, activate, update, restart, remove; ids, cleanup, locks, triggers.
 * Fault injection on the spool's I/O lives in test_spool_fault.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sg_buf.h"
#include "core/sg_file.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "queue/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

/* ---- helpers ---- */

static bool str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void assert_env_equal(const struct spool_envelope *a, const struct spool_envelope *b)
{
	assert_string_equal(a->id, b->id);
	assert_int_equal(a->arrival, b->arrival);
	assert_true(str_eq(a->sender, b->sender));
	assert_true(str_eq(a->client_addr, b->client_addr));
	assert_true(str_eq(a->client_helo, b->client_helo));
	assert_true(a->internal_client == b->internal_client && a->smtputf8 == b->smtputf8 &&
	            a->body_8bit == b->body_8bit && a->tls == b->tls);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->size, b->size);
	assert_true(str_eq(a->message_id, b->message_id));
	assert_int_equal(a->nrcpt, b->nrcpt);
	for (size_t i = 0; i < a->nrcpt; i++) {
		const struct spool_rcpt *x = &a->rcpts[i], *y = &b->rcpts[i];
		assert_true(str_eq(x->addr, y->addr));
		assert_true(str_eq(x->orcpt, y->orcpt));
		assert_int_equal(x->state, y->state);
		assert_int_equal(x->attempts, y->attempts);
		assert_int_equal(x->next_attempt, y->next_attempt);
		assert_true(str_eq(x->relay, y->relay));
		assert_true(str_eq(x->dsn_status, y->dsn_status));
		assert_true(str_eq(x->last_reply, y->last_reply));
	}
}

static void roundtrip(const struct spool_envelope *env)
{
	struct sg_buf b;
	sg_buf_init(&b, SG_SPOOL_RECORD_MAX);
	assert_int_equal(spool_record_format(env, &b), 0);
	struct spool_envelope back;
	const char *err = NULL;
	if (spool_record_parse(b.data, b.len, &back, &err) < 0)
		fail_msg("parse of formatted record failed: %s\n%s", err, b.data);
	assert_env_equal(env, &back);
	/* The format is canonical: formatting again gives the same bytes. */
	struct sg_buf b2;
	sg_buf_init(&b2, SG_SPOOL_RECORD_MAX);
	assert_int_equal(spool_record_format(&back, &b2), 0);
	assert_int_equal(b.len, b2.len);
	assert_memory_equal(b.data, b2.data, b.len);
	sg_buf_free(&b2);
	spool_envelope_free(&back);
	sg_buf_free(&b);
}

static void env_basic(struct spool_envelope *e)
{
	sg_strlcpy(e->id, "0183A4F2C1D3E7A2B", sizeof(e->id));
	e->arrival = 1764391993;
	e->sender = sg_strdup("alice@example.org");
	e->client_addr = sg_strdup("192.0.2.7");
	e->client_helo = sg_strdup("mail.example.org");
	e->tls = true;
	e->size = 1234;
	spool_envelope_add_rcpt(e, "bob@example.com", NULL);
}

static void env_utf8(struct spool_envelope *e)
{
	env_basic(e);
	e->smtputf8 = e->body_8bit = e->internal_client = true;
	sg_free(&e->sender);
	e->sender = sg_strdup("jörg@bücher.example");
	struct spool_rcpt *r = spool_envelope_add_rcpt(e, "用户@例子.广告", "utf-8;用户@例子.广告");
	r->state = SPOOL_RCPT_HELD;
	e->message_id = sg_strdup("<ü@x>");
}

static void env_null_sender(struct spool_envelope *e)
{
	env_basic(e);
	sg_free(&e->sender);
	e->sender = sg_strdup("");
	e->flags = SPOOL_F_BOUNCE;
	sg_free(&e->client_helo);
	sg_free(&e->client_addr);
	e->client_addr = sg_strdup("local");
}

static void env_many(struct spool_envelope *e)
{
	env_basic(e);
	for (int i = 0; i < 1000; i++) {
		char addr[64];
		assert_true(sg_snprintf(addr, sizeof(addr), "user%d@example.net", i) > 0);
		struct spool_rcpt *r = spool_envelope_add_rcpt(e, addr, i % 3 ? NULL : "rfc822;x@y");
		r->state = (enum spool_rcpt_state)(i % 4);
		r->attempts = (unsigned int)i;
		r->next_attempt = i * 60;
		if (i % 2)
			r->last_reply = sg_strdup("451 4.4.1 try later");
	}
}

static void env_escapes(struct spool_envelope *e)
{
	env_basic(e);
	e->rcpts[0].last_reply = sg_strdup("550 5.1.1 <a b>\r\n%41 = 100%\tdone\x01\x1f\x7f end ");
	e->rcpts[0].relay = sg_strdup("[192.0.2.1]:25");
	e->rcpts[0].dsn_status = sg_strdup("5.1.1");
	e->rcpts[0].state = SPOOL_RCPT_BOUNCED;
	e->rcpts[0].attempts = 4294967295u;
	sg_free(&e->client_helo);
	e->client_helo = sg_strdup("");
	e->message_id = sg_strdup("  ");
	struct spool_rcpt *r = spool_envelope_add_rcpt(e, "\"a b\"@x", "");
	r->relay = sg_strdup("%%%");
	r->state = SPOOL_RCPT_SENT;
}

static void env_max_field(struct spool_envelope *e)
{
	env_basic(e);
	char *big = sg_malloc(SG_SPOOL_FIELD_MAX + 1);
	memset(big, '%', SG_SPOOL_FIELD_MAX); /* every byte escaped: 3x on disk */
	big[SG_SPOOL_FIELD_MAX] = '\0';
	e->rcpts[0].last_reply = big;
}

static void record_roundtrip_table(void **state)
{
	(void)state;
	void (*builders[])(struct spool_envelope *) = {
		env_basic, env_utf8, env_null_sender, env_many, env_escapes, env_max_field,
	};
	for (size_t i = 0; i < sizeof(builders) / sizeof(builders[0]); i++) {
		struct spool_envelope e;
		spool_envelope_init(&e);
		builders[i](&e);
		roundtrip(&e);
		spool_envelope_free(&e);
	}
}

static void record_format_limits(void **state)
{
	(void)state;
	struct spool_envelope e;
	spool_envelope_init(&e);
	env_basic(&e);
	struct sg_buf b;
	sg_buf_init(&b, SG_SPOOL_RECORD_MAX);
	char *big = sg_malloc(SG_SPOOL_FIELD_MAX + 2);
	memset(big, 'x', SG_SPOOL_FIELD_MAX + 1);
	big[SG_SPOOL_FIELD_MAX + 1] = '\0';
	e.rcpts[0].last_reply = big;
	assert_int_equal(spool_record_format(&e, &b), -1); /* would not parse back */
	assert_int_equal(b.len, 0);
	sg_free(&e.rcpts[0].last_reply);
	sg_strlcpy(e.id, "../x", sizeof(e.id));
	assert_int_equal(spool_record_format(&e, &b), -1);
	sg_buf_free(&b);
	spool_envelope_free(&e);
}

static const char valid_record[] =
	"SGQ 1\n"
	"id=ABC123\n"
	"arrival=100\n"
	"sender=a@b\n"
	"size=5\n"
	"rcpt=c@d state=pending attempts=2 next=300 reply=451%20later\n"
	"end=1\n";

static void record_parse_valid_and_forward_compatible(void **state)
{
	(void)state;
	struct spool_envelope e;
	const char *err = NULL;
	assert_int_equal(spool_record_parse(valid_record, strlen(valid_record), &e, &err), 0);
	assert_string_equal(e.id, "ABC123");
	assert_string_equal(e.rcpts[0].last_reply, "451 later");
	assert_string_equal(spool_rcpt_state_name(&e.rcpts[0]), "deferred");
	assert_int_equal(spool_envelope_pending(&e), 1);
	spool_envelope_free(&e);
	/* Unknown keys (a newer writer of the same version) are skipped. */
	static const char newer[] = "SGQ 1\nid=ABC123\nfuture=x%20y\narrival=100\nsender=\n"
	                            "size=5\nrcpt=c@d state=sent newfield=1\nend=1\n";
	assert_int_equal(spool_record_parse(newer, strlen(newer), &e, &err), 0);
	assert_string_equal(e.sender, "");
	assert_int_equal(e.rcpts[0].state, SPOOL_RCPT_SENT);
	spool_envelope_free(&e);
}

struct bad_case {
	const char *from, *to; /* replace `from` in valid_record by `to` */
	const char *error;
};

static const struct bad_case bad_cases[] = {
	{"SGQ 1\n", "", "not a spool envelope"},
	{"SGQ 1\n", "SGQ 2\n", "unsupported envelope version"},
	{"SGQ 1\n", "SGQ 1 \n", "unsupported envelope version"},
	{"end=1\n", "", "truncated record"},
	{"end=1\n", "end=1", "truncated record"},
	{"end=1\n", "end=2\n", "recipient count does not match"},
	{"end=1\n", "end=1\nsender=x\n", "data after end"},
	{"state=pending", "state=frozen", "unknown recipient state"},
	{"state=pending ", "", "recipient without state"},
	{"sender=a@b\n", "sender=a@b\nsender=c@d\n", "duplicate key"},
	{"size=5\n", "", "required key missing"},
	{"id=ABC123", "id=../../etc", "bad queue id"},
	{"id=ABC123", "id=", "bad queue id"},
	{"size=5", "size=-5", "bad number"},
	{"size=5", "size=5x", "bad number"},
	{"attempts=2", "attempts=4294967296", "bad number"},
	{"arrival=100", "arrival=99999999999999999999", "bad number"},
	{"sender=a@b", "sender=a\tb", "control character in value"},
	{"sender=a@b\n", "sender=a@b\r\n", "control character in value"},
	{"sender=a@b", "sender=a b", "space in value"},
	{"sender=a@b", "sender=%4", "bad %-escape in value"},
	{"sender=a@b", "sender=%G1", "bad %-escape in value"},
	{"sender=a@b", "sender=%00", "bad %-escape in value"},
	{"sender=a@b", "Sender=a@b", "malformed key=value"},
	{"sender=a@b", "=a@b", "malformed key=value"},
	{"sender=a@b", "sender", "malformed key=value"},
	{"attempts=2 ", "attempts=2  ", "malformed key=value"},
	{"reply=451%20later", "reply=451%20later ", "malformed key=value"},
	{"rcpt=c@d state=pending", "rcpt=c@d rcpt=e@f state=pending", "duplicate key"},
	{NULL, NULL, NULL},
};

static char *replace(const char *s, const char *from, const char *to)
{
	const char *p = strstr(s, from);
	assert_non_null(p);
	size_t a = (size_t)(p - s), fl = strlen(from), tl = strlen(to);
	char *out = sg_malloc(strlen(s) - fl + tl + 1);
	memcpy(out, s, a);
	memcpy(out + a, to, tl);
	memcpy(out + a + tl, p + fl, strlen(p + fl) + 1);
	return out;
}

static void expect_reject(const char *data, size_t len, const char *error)
{
	struct spool_envelope e;
	const char *err = NULL;
	if (spool_record_parse(data, len, &e, &err) == 0)
		fail_msg("accepted: %.*s", (int)len, data);
	assert_non_null(err);
	if (strcmp(err, error) != 0)
		fail_msg("input %.*s: expected '%s', got '%s'", (int)len, data, error, err);
	assert_int_equal(e.nrcpt, 0); /* nothing left behind to leak */
	assert_null(e.sender);
	spool_envelope_free(&e);
}

static void record_parse_rejections(void **state)
{
	(void)state;
	for (size_t i = 0; bad_cases[i].error != NULL; i++) {
		char *s = replace(valid_record, bad_cases[i].from, bad_cases[i].to);
		expect_reject(s, strlen(s), bad_cases[i].error);
		sg_free(&s);
	}
	static const char with_nul[] = "SGQ 1\nid=A\0\n";
	expect_reject(with_nul, sizeof(with_nul) - 1, "NUL byte in record");
	expect_reject("tls=1\n", 6, "not a spool envelope");
	expect_reject("", 0, "not a spool envelope");
	expect_reject("SGQ 1", 5, "truncated record");
	/* Oversized value, and a record over the ceiling. */
	size_t n = strlen("SGQ 1\nsender=") + SG_SPOOL_FIELD_MAX + 2;
	char *big = sg_malloc(n + 1);
	int k = sg_snprintf(big, n + 1, "SGQ 1\nsender=");
	memset(big + k, 'a', n - (size_t)k - 1);
	big[n - 1] = '\n';
	big[n] = '\0';
	expect_reject(big, n, "value too long");
	sg_free(&big);
	big = sg_calloc(1, SG_SPOOL_RECORD_MAX + 1);
	memcpy(big, valid_record, sizeof(valid_record) - 1);
	expect_reject(big, SG_SPOOL_RECORD_MAX + 1, "record too large");
	sg_free(&big);
}

static void record_every_truncation_rejected(void **state)
{
	(void)state;
	struct spool_envelope e;
	spool_envelope_init(&e);
	env_escapes(&e);
	struct sg_buf b;
	sg_buf_init(&b, SG_SPOOL_RECORD_MAX);
	assert_int_equal(spool_record_format(&e, &b), 0);
	for (size_t len = 0; len < b.len; len++) {
		struct spool_envelope x;
		const char *err;
		if (spool_record_parse(b.data, len, &x, &err) == 0)
			fail_msg("prefix of %zu bytes accepted", len);
		spool_envelope_free(&x);
	}
	sg_buf_free(&b);
	spool_envelope_free(&e);
}

static void ids(void **state)
{
	(void)state;
	assert_true(spool_id_valid("0183A4F2C1D3E7A2B"));
	assert_true(spool_id_valid("a"));
	assert_false(spool_id_valid(""));
	assert_false(spool_id_valid(".."));
	assert_false(spool_id_valid("../data/x"));
	assert_false(spool_id_valid("AB/C"));
	assert_false(spool_id_valid("ABC.data"));
	assert_false(spool_id_valid("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456")); /* 33 chars */
	char a[SG_QUEUE_ID_MAX], b[SG_QUEUE_ID_MAX];
	spool_id_generate(a);
	usleep(5);
	spool_id_generate(b);
	assert_int_equal(strlen(a), 17);
	assert_true(spool_id_valid(a) && spool_id_valid(b));
	assert_true(strcmp(a, b) < 0); /* sortable by arrival */
}

/* ---- the spool on disk ---- */

struct fixture {
	char dir[64];
	char spooldir[128];
	struct spool *sp;
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct fixture *f = sg_calloc(1, sizeof(*f));
	sg_strlcpy(f->dir, "/tmp/test_spool.XXXXXX", sizeof(f->dir));
	assert_non_null(mkdtemp(f->dir));
	const char *err = NULL;
	assert_true(sg_snprintf(f->spooldir, sizeof(f->spooldir), "%s/spool", f->dir) > 0);
	f->sp = spool_open(f->spooldir, &err);
	assert_non_null(f->sp);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	spool_close(&f->sp);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	sg_free(&f);
	return 0;
}

static size_t count_files(struct spool *sp, const char *sub)
{
	char path[SG_PATH_MAX];
	assert_true(sg_snprintf(path, sizeof(path), "%s/%s", spool_dir(sp), sub) > 0);
	char cmd[SG_PATH_MAX + 64];
	assert_true(sg_snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", path) > 0);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char line[32] = "";
	assert_non_null(fgets(line, sizeof(line), p));
	pclose(p);
	const char *err;
	return (size_t)sg_strtonum(sg_trim(line), 0, 1000000, &err);
}

static char *make_message(size_t n)
{
	char *m = sg_malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		m[i] = (char)('a' + i % 26);
	memcpy(m, "Subject: x\r\n\r\n", 14);
	m[n] = '\0';
	return m;
}

static void commit_one(struct spool *sp, const char *msg, size_t len, char id_r[SG_QUEUE_ID_MAX])
{
	const char *err = NULL;
	struct spool_writer *w = spool_writer_begin(sp, &err);
	assert_non_null(w);
	/* odd chunk sizes across the writer's 64 KiB buffer */
	for (size_t off = 0; off < len;) {
		size_t n = len - off < 7777 ? len - off : 7777;
		assert_int_equal(spool_writer_write(w, msg + off, n, &err), 0);
		off += n;
	}
	assert_int_equal(spool_writer_size(w), len);
	struct spool_envelope env;
	spool_envelope_init(&env);
	env.sender = sg_strdup("a@example.org");
	spool_envelope_add_rcpt(&env, "x@example.com", NULL);
	spool_envelope_add_rcpt(&env, "y@example.com", "rfc822;y@example.com");
	sg_strlcpy(id_r, spool_writer_id(w), SG_QUEUE_ID_MAX);
	if (spool_writer_commit(&w, &env, &err) < 0)
		fail_msg("commit: %s", err);
	assert_null(w);
	assert_string_equal(env.id, id_r);
	assert_int_equal(env.size, len);
	spool_envelope_free(&env);
}

static void assert_data(struct spool *sp, const char *id, const char *msg, size_t len)
{
	char path[SG_PATH_MAX], *data = NULL;
	size_t dlen;
	const char *err;
	assert_int_equal(spool_data_path(sp, id, path, sizeof(path)), 0);
	assert_int_equal(sg_file_read_all(path, SG_MESSAGE_SIZE_HARD_MAX, &data, &dlen, &err), 0);
	assert_int_equal(dlen, len);
	assert_memory_equal(data, msg, len);
	sg_free(&data);
}

static void life_cycle(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	size_t len = 200 * 1024 + 3;
	char *msg = make_message(len), id[SG_QUEUE_ID_MAX];
	commit_one(f->sp, msg, len, id);
	assert_data(f->sp, id, msg, len);
	assert_int_equal(count_files(f->sp, "tmp"), 0);

	char **list;
	size_t n;
	assert_int_equal(spool_list(f->sp, SPOOL_INCOMING, &list, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0], id);
	spool_ids_free(&list, n);

	struct spool_envelope env;
	enum spool_queue q;
	assert_int_equal(spool_load(f->sp, id, &env, &q, &err), 0);
	assert_int_equal(q, SPOOL_INCOMING);
	assert_int_equal(env.size, len);
	assert_int_equal(env.nrcpt, 2);
	assert_true(env.arrival > 0);
	assert_int_equal(spool_update(f->sp, &env, &err), -1); /* not active yet */

	assert_int_equal(spool_activate(f->sp, id, &err), 0);
	assert_int_equal(spool_list(f->sp, SPOOL_INCOMING, &list, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(spool_list(f->sp, SPOOL_ACTIVE, &list, &n, &err), 0);
	assert_int_equal(n, 1);
	spool_ids_free(&list, n);

	env.rcpts[0].state = SPOOL_RCPT_SENT;
	env.rcpts[0].attempts = 1;
	env.rcpts[1].attempts = 1;
	env.rcpts[1].next_attempt = 12345;
	env.rcpts[1].last_reply = sg_strdup("451 4.7.1 greylisted");
	assert_int_equal(spool_update(f->sp, &env, &err), 0);

	/* A restart: a fresh handle sees exactly the last committed state. */
	spool_close(&f->sp);
	f->sp = spool_open(f->spooldir, &err);
	assert_non_null(f->sp);
	struct spool_envelope again;
	assert_int_equal(spool_load(f->sp, id, &again, &q, &err), 0);
	assert_int_equal(q, SPOOL_ACTIVE);
	assert_env_equal(&env, &again);
	assert_int_equal(spool_envelope_pending(&again), 1);
	assert_string_equal(spool_rcpt_state_name(&again.rcpts[0]), "sent");
	assert_string_equal(spool_rcpt_state_name(&again.rcpts[1]), "deferred");
	spool_envelope_free(&again);
	assert_data(f->sp, id, msg, len);

	assert_int_equal(spool_remove(f->sp, id, &err), 0);
	assert_int_equal(spool_load(f->sp, id, &again, &q, &err), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(spool_remove(f->sp, id, &err), -1);
	assert_non_null(strstr(err, "in the queue"));
	assert_int_equal(count_files(f->sp, "data"), 0);
	assert_int_equal(count_files(f->sp, "active"), 0);
	assert_int_equal(count_files(f->sp, "tmp"), 0);
	spool_envelope_free(&env);
	sg_free(&msg);
}

static void abort_and_inject(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	struct spool_writer *w = spool_writer_begin(f->sp, &err);
	assert_non_null(w);
	assert_int_equal(spool_writer_write(w, "abc", 3, &err), 0);
	assert_int_equal(count_files(f->sp, "data"), 1); /* received straight into data/ */
	spool_writer_abort(&w);
	assert_null(w);
	spool_writer_abort(&w);
	assert_int_equal(count_files(f->sp, "tmp"), 0);
	assert_int_equal(count_files(f->sp, "data"), 0);

	/* No recipients: refused, nothing left. */
	struct spool_envelope env;
	spool_envelope_init(&env);
	env.sender = sg_strdup("");
	assert_int_equal(spool_inject(f->sp, "x", 1, &env, &err), -1);
	assert_int_equal(count_files(f->sp, "data"), 0);
	assert_int_equal(count_files(f->sp, "tmp"), 0);
	spool_envelope_add_rcpt(&env, "postmaster@example.org", NULL);
	env.flags = SPOOL_F_BOUNCE;
	assert_int_equal(spool_inject(f->sp, "dsn", 3, &env, &err), 0);
	struct spool_envelope back;
	assert_int_equal(spool_load(f->sp, env.id, &back, NULL, &err), 0);
	assert_env_equal(&env, &back);
	assert_data(f->sp, env.id, "dsn", 3);
	spool_envelope_free(&back);
	spool_envelope_free(&env);
}

static void hostile_ids(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	struct spool_envelope env;
	const char *bad[] = {"..", "../../etc/passwd", "a/b", "", "A.data", "x\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char path[SG_PATH_MAX];
		assert_int_equal(spool_load(f->sp, bad[i], &env, NULL, &err), -1);
		spool_envelope_free(&env);
		assert_int_equal(spool_remove(f->sp, bad[i], &err), -1);
		assert_int_equal(spool_activate(f->sp, bad[i], &err), -1);
		assert_int_equal(spool_lock(f->sp, bad[i], true, &err), -1);
		assert_int_equal(spool_data_path(f->sp, bad[i], path, sizeof(path)), -1);
	}
	/* Junk in a queue directory is not listed. */
	char path[SG_PATH_MAX];
	assert_true(sg_snprintf(path, sizeof(path), "%s/incoming/.hidden", f->spooldir) > 0);
	assert_int_equal(sg_file_write_atomic(path, "x", 1, 0600, &err), 0);
	assert_true(sg_snprintf(path, sizeof(path), "%s/incoming/A.B", f->spooldir) > 0);
	assert_int_equal(sg_file_write_atomic(path, "x", 1, 0600, &err), 0);
	char **list;
	size_t n;
	assert_int_equal(spool_list(f->sp, SPOOL_INCOMING, &list, &n, &err), 0);
	assert_int_equal(n, 0);
	/* A damaged envelope is reported, not trusted. */
	assert_true(sg_snprintf(path, sizeof(path), "%s/incoming/ABC", f->spooldir) > 0);
	assert_int_equal(sg_file_write_atomic(path, "SGQ 1\nid=ABC\n", 13, 0600, &err), 0);
	assert_int_equal(spool_load(f->sp, "ABC", &env, NULL, &err), -1);
	assert_non_null(strstr(err, "damaged"));
	/* An envelope under another file name is refused. */
	assert_true(sg_snprintf(path, sizeof(path), "%s/incoming/XYZ", f->spooldir) > 0);
	assert_int_equal(sg_file_write_atomic(path, valid_record, strlen(valid_record), 0600, &err), 0);
	assert_int_equal(spool_load(f->sp, "XYZ", &env, NULL, &err), -1);
	assert_non_null(strstr(err, "another id"));
}

static void ordering(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	char ids_w[5][SG_QUEUE_ID_MAX];
	for (int i = 0; i < 5; i++) {
		commit_one(f->sp, "hello", 5, ids_w[i]);
		usleep(2);
	}
	char **list;
	size_t n;
	assert_int_equal(spool_list(f->sp, SPOOL_INCOMING, &list, &n, &err), 0);
	assert_int_equal(n, 5);
	for (int i = 0; i < 5; i++)
		assert_string_equal(list[i], ids_w[i]);
	spool_ids_free(&list, n);
	assert_null(list);
}

static void set_mtime(const char *path, time_t t)
{
	struct timeval tv[2] = {{t, 0}, {t, 0}};
	assert_int_equal(utimes(path, tv), 0);
}

static void touch(const char *path, time_t mtime)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	close(fd);
	set_mtime(path, mtime);
}

static void cleanup_orphans(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	time_t now = time(NULL), old = now - SPOOL_STALE_SECS - 60;
	char id[SG_QUEUE_ID_MAX], path[SG_PATH_MAX];
	commit_one(f->sp, "kept", 4, id);
	assert_int_equal(spool_data_path(f->sp, id, path, sizeof(path)), 0);
	set_mtime(path, old); /* old, but it has an envelope */
	static const char *const files[] = {"data/AAAORPHANOLD", "data/AAAORPHANNEW",
	                                    "tmp/XYZ.data", "tmp/XYZ.env.1", "tmp/FRESH.data"};
	for (size_t i = 0; i < 5; i++) {
		assert_true(sg_snprintf(path, sizeof(path), "%s/%s", f->spooldir, files[i]) > 0);
		touch(path, i == 1 || i == 4 ? now : old);
	}
	assert_int_equal(spool_cleanup(f->sp, now, &err), 3);
	assert_int_equal(count_files(f->sp, "data"), 2);
	assert_int_equal(count_files(f->sp, "tmp"), 1);
	assert_true(sg_snprintf(path, sizeof(path), "%s/data/AAAORPHANNEW", f->spooldir) > 0);
	assert_true(sg_file_exists(path));
	/* spool_open cleans too (an hour later both fresh files are stale). */
	set_mtime(path, old);
	assert_true(sg_snprintf(path, sizeof(path), "%s/tmp/FRESH.data", f->spooldir) > 0);
	set_mtime(path, old);
	spool_close(&f->sp);
	f->sp = spool_open(f->spooldir, &err);
	assert_non_null(f->sp);
	assert_int_equal(count_files(f->sp, "data"), 1);
	assert_int_equal(count_files(f->sp, "tmp"), 0);
	struct spool_envelope env;
	assert_int_equal(spool_load(f->sp, id, &env, NULL, &err), 0);
	spool_envelope_free(&env);
}

static void lock_contention(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	char id[SG_QUEUE_ID_MAX];
	commit_one(f->sp, "locked", 6, id);
	int a = spool_lock(f->sp, id, false, &err);
	assert_true(a >= 0);
	/* flock belongs to the open file description: a second open contends like qmgr vs CLI */
	int b = spool_lock(f->sp, id, true, &err);
	assert_int_equal(b, -1);
	assert_true(errno == EWOULDBLOCK);
	assert_non_null(strstr(err, "locked"));
	spool_unlock(&a);
	assert_int_equal(a, -1);
	spool_unlock(&a);
	b = spool_lock(f->sp, id, true, &err);
	assert_true(b >= 0);
	spool_unlock(&b);
	assert_int_equal(spool_lock(f->sp, "NOSUCHID", true, &err), -1);
	assert_int_equal(errno, ENOENT);
}

static void triggers(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	assert_false(spool_take_flush(f->sp));
	assert_int_equal(spool_trigger_flush(f->sp, &err), 0);
	assert_int_equal(spool_trigger_flush(f->sp, &err), 0);
	assert_true(spool_take_flush(f->sp));
	assert_false(spool_take_flush(f->sp));
}

static void open_existing(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	struct spool *sp = spool_open_existing(f->spooldir, &err);
	assert_non_null(sp);
	assert_string_equal(spool_dir(sp), f->spooldir);
	spool_close(&sp);
	assert_null(sp);
	char path[SG_PATH_MAX];
	assert_true(sg_snprintf(path, sizeof(path), "%s/none", f->dir) > 0);
	assert_null(spool_open_existing(path, &err));
	assert_non_null(strstr(err, "no spool directory"));
	assert_false(sg_file_exists(path));
	/* A spool directory no daemon has opened lists as empty. */
	assert_int_equal(mkdir(path, 0700), 0);
	sp = spool_open_existing(path, &err);
	char **list;
	size_t n;
	assert_int_equal(spool_list(sp, SPOOL_ACTIVE, &list, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(spool_trigger_flush(sp, &err), -1);
	spool_close(&sp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(record_roundtrip_table),
		cmocka_unit_test(record_format_limits),
		cmocka_unit_test(record_parse_valid_and_forward_compatible),
		cmocka_unit_test(record_parse_rejections),
		cmocka_unit_test(record_every_truncation_rejected),
		cmocka_unit_test(ids),
		cmocka_unit_test_setup_teardown(life_cycle, setup, teardown),
		cmocka_unit_test_setup_teardown(abort_and_inject, setup, teardown),
		cmocka_unit_test_setup_teardown(hostile_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(ordering, setup, teardown),
		cmocka_unit_test_setup_teardown(cleanup_orphans, setup, teardown),
		cmocka_unit_test_setup_teardown(lock_contention, setup, teardown),
		cmocka_unit_test_setup_teardown(triggers, setup, teardown),
		cmocka_unit_test_setup_teardown(open_existing, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

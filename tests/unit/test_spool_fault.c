/* test_spool_fault.c: fault injection on the spool's I/O. write, fsync or rename fails on
 * the Nth call (a failing write first writes half its buffer, as a full disk does), for every
 * N that the operation reaches. After each attempt the spool must hold every message that was
 * reported committed, intact, and nothing of a message whose commit failed: no envelope, no
 * data, no tmp file. An envelope is never visible without its data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sg_file.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "queue/spool.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum fault_op { FAULT_WRITE, FAULT_FSYNC, FAULT_RENAME, FAULT_NONE };

static enum fault_op fault_op = FAULT_NONE;
static int fault_at;      /* fail the fault_at-th call of fault_op (1-based) */
static int fault_calls;
static bool fault_fired;

static bool should_fail(enum fault_op op)
{
	if (op != fault_op || fault_fired)
		return false;
	if (++fault_calls < fault_at)
		return false;
	fault_fired = true;
	return true;
}

static ssize_t faulty_write(int fd, const void *buf, size_t len)
{
	if (should_fail(FAULT_WRITE)) {
		if (len > 1 && write(fd, buf, len / 2) < 0)
			return -1;
		errno = ENOSPC;
		return -1;
	}
	return sg_fileops_default.write(fd, buf, len);
}

static int faulty_fsync(int fd)
{
	if (should_fail(FAULT_FSYNC)) {
		errno = EIO;
		return -1;
	}
	return sg_fileops_default.fsync(fd);
}

static int faulty_rename(const char *from, const char *to)
{
	if (should_fail(FAULT_RENAME)) {
		errno = EIO;
		return -1;
	}
	return sg_fileops_default.rename(from, to);
}

static const struct sg_fileops faulty_ops = {faulty_write, faulty_fsync, faulty_rename};

static void arm(enum fault_op op, int n)
{
	fault_op = op;
	fault_at = n;
	fault_calls = 0;
	fault_fired = false;
	sg_fileops = &faulty_ops;
}

static void disarm(void)
{
	sg_fileops = &sg_fileops_default;
	fault_op = FAULT_NONE;
}

/* ---- the spool and what it must contain ---- */

#define MAX_MSGS 256

struct fixture {
	char dir[64];
	struct spool *sp;
	size_t n;
	char ids[MAX_MSGS][SG_QUEUE_ID_MAX]; /* committed messages */
	char *bodies[MAX_MSGS];
	size_t lens[MAX_MSGS];
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct fixture *f = sg_calloc(1, sizeof(*f));
	sg_strlcpy(f->dir, "/tmp/test_spool_fault.XXXXXX", sizeof(f->dir));
	assert_non_null(mkdtemp(f->dir));
	const char *err = NULL;
	f->sp = spool_open(f->dir, &err);
	assert_non_null(f->sp);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	disarm();
	spool_close(&f->sp);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	for (size_t i = 0; i < f->n; i++)
		sg_free(&f->bodies[i]);
	sg_free(&f);
	return 0;
}

static size_t dir_entries(struct fixture *f, const char *sub)
{
	char path[SG_PATH_MAX];
	assert_true(sg_snprintf(path, sizeof(path), "%s/%s", f->dir, sub) > 0);
	DIR *d = opendir(path);
	assert_non_null(d);
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static bool committed(const struct fixture *f, const char *id)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->ids[i], id) == 0)
			return true;
	return false;
}

/* Every committed message is loadable with its exact data; nothing else is there. */
static void check_spool(struct fixture *f)
{
	const char *err = NULL;
	for (size_t i = 0; i < f->n; i++) {
		struct spool_envelope env;
		if (spool_load(f->sp, f->ids[i], &env, NULL, &err) < 0)
			fail_msg("committed message %s lost: %s", f->ids[i], err);
		assert_int_equal(env.size, f->lens[i]);
		spool_envelope_free(&env);
		char path[SG_PATH_MAX], *data = NULL;
		size_t len;
		assert_int_equal(spool_data_path(f->sp, f->ids[i], path, sizeof(path)), 0);
		if (sg_file_read_all(path, 1 << 24, &data, &len, &err) < 0)
			fail_msg("data of committed message %s lost", f->ids[i]);
		assert_int_equal(len, f->lens[i]);
		assert_memory_equal(data, f->bodies[i], len);
		sg_free(&data);
	}
	for (int q = SPOOL_INCOMING; q <= SPOOL_ACTIVE; q++) {
		char **ids;
		size_t n;
		assert_int_equal(spool_list(f->sp, (enum spool_queue)q, &ids, &n, &err), 0);
		for (size_t i = 0; i < n; i++)
			if (!committed(f, ids[i]))
				fail_msg("failed message %s is visible in the queue", ids[i]);
		spool_ids_free(&ids, n);
	}
	assert_int_equal(dir_entries(f, "data"), f->n);
	assert_int_equal(dir_entries(f, "tmp"), 0);
}

static char *body(size_t n, unsigned seed)
{
	char *m = sg_malloc(n);
	for (size_t i = 0; i < n; i++)
		m[i] = (char)('A' + (i * 7 + seed) % 26);
	return m;
}

/* Receives one message; returns the commit result and records it when committed. */
static int try_commit(struct fixture *f, size_t len)
{
	assert_true(f->n < MAX_MSGS);
	const char *err = NULL;
	char *m = body(len, (unsigned)f->n);
	struct spool_envelope env;
	spool_envelope_init(&env);
	env.sender = sg_strdup("s@example.org");
	spool_envelope_add_rcpt(&env, "r@example.net", NULL);
	int rc = spool_inject(f->sp, m, len, &env, &err);
	if (rc == 0) {
		sg_strlcpy(f->ids[f->n], env.id, SG_QUEUE_ID_MAX);
		f->bodies[f->n] = m;
		f->lens[f->n++] = len;
	} else {
		assert_non_null(err);
		sg_free(&m);
	}
	spool_envelope_free(&env);
	return rc;
}

static void commit_faults(void **state)
{
	struct fixture *f = *state;
	static const char *const names[] = {"write", "fsync", "rename"};
	try_commit(f, 1000); /* something that must survive everything below */
	for (int op = FAULT_WRITE; op <= FAULT_RENAME; op++) {
		int failures = 0;
		for (int n = 1;; n++) {
			arm((enum fault_op)op, n);
			int rc = try_commit(f, 150 * 1000); /* three buffer flushes */
			bool fired = fault_fired;
			disarm();
			check_spool(f);
			if (!fired) {
				assert_int_equal(rc, 0);
				break;
			}
			if (rc == 0)
				fail_msg("commit succeeded although %s #%d failed", names[op], n);
			failures++;
		}
		/* A failed log batch gives its file up, so the next commit creates a log again
		 * (header write, fsync of log/). write: 3 data flushes, envelope, record, then
		 * the new log's header; fsync: data, data/ (the log is given up), log/ of the
		 * new log, the log; rename: the envelope (the data is written in place). */
		static const int expected[] = {6, 4, 1};
		assert_int_equal(failures, expected[op]);
	}
}

/* Recipient state survives: a failed update leaves the old or the new envelope, never none
 * and never a torn one; a successful one is what a restart sees. */
static void update_faults(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	assert_int_equal(try_commit(f, 10), 0);
	assert_int_equal(spool_activate(f->sp, f->ids[0], &err), 0);
	for (int op = FAULT_WRITE; op <= FAULT_RENAME; op++) {
		for (int n = 1;; n++) {
			struct spool_envelope env;
			assert_int_equal(spool_load(f->sp, f->ids[0], &env, NULL, &err), 0);
			unsigned int before = env.rcpts[0].attempts;
			env.rcpts[0].attempts = before + 1;
			arm((enum fault_op)op, n);
			int rc = spool_update(f->sp, &env, &err);
			bool fired = fault_fired;
			disarm();
			spool_envelope_free(&env);
			assert_int_equal(spool_load(f->sp, f->ids[0], &env, NULL, &err), 0);
			if (rc == 0)
				assert_int_equal(env.rcpts[0].attempts, before + 1);
			else
				assert_true(env.rcpts[0].attempts == before ||
				            env.rcpts[0].attempts == before + 1);
			spool_envelope_free(&env);
			check_spool(f);
			if (!fired)
				break;
			assert_int_equal(rc, -1);
		}
	}
	/* Delivered recipients stay delivered across a restart. */
	struct spool_envelope env;
	assert_int_equal(spool_load(f->sp, f->ids[0], &env, NULL, &err), 0);
	env.rcpts[0].state = SPOOL_RCPT_SENT;
	assert_int_equal(spool_update(f->sp, &env, &err), 0);
	spool_envelope_free(&env);
	spool_close(&f->sp);
	f->sp = spool_open(f->dir, &err);
	assert_non_null(f->sp);
	assert_int_equal(spool_load(f->sp, f->ids[0], &env, NULL, &err), 0);
	assert_int_equal(env.rcpts[0].state, SPOOL_RCPT_SENT);
	assert_int_equal(spool_envelope_pending(&env), 0);
	spool_envelope_free(&env);
}

static void activate_faults(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	for (int op = FAULT_FSYNC; op <= FAULT_RENAME; op++) {
		for (int n = 1;; n++) {
			assert_int_equal(try_commit(f, 64), 0);
			const char *id = f->ids[f->n - 1];
			arm((enum fault_op)op, n);
			int rc = spool_activate(f->sp, id, &err);
			bool fired = fault_fired;
			disarm();
			enum spool_queue q;
			struct spool_envelope env;
			assert_int_equal(spool_load(f->sp, id, &env, &q, &err), 0);
			spool_envelope_free(&env);
			if (rc == 0)
				assert_int_equal(q, SPOOL_ACTIVE);
			check_spool(f);
			if (!fired)
				break;
			assert_int_equal(rc, -1);
		}
	}
}

static void write_failure_poisons_writer(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	struct spool_writer *w = spool_writer_begin(f->sp, &err);
	assert_non_null(w);
	char *m = body(100 * 1000, 1);
	arm(FAULT_WRITE, 1);
	assert_int_equal(spool_writer_write(w, m, 100 * 1000, &err), -1);
	disarm();
	/* Later writes and the commit fail too: a message with a hole is never committed. */
	assert_int_equal(spool_writer_write(w, "x", 1, &err), -1);
	struct spool_envelope env;
	spool_envelope_init(&env);
	env.sender = sg_strdup("");
	spool_envelope_add_rcpt(&env, "r@example.net", NULL);
	assert_int_equal(spool_writer_commit(&w, &env, &err), -1);
	assert_null(w);
	assert_non_null(strstr(err, "earlier write"));
	spool_envelope_free(&env);
	sg_free(&m);
	check_spool(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(commit_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(update_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(activate_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(write_failure_poisons_writer, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

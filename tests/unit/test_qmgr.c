/* test_qmgr.c: the queue manager against a real temporary spool: delivery to a maildir route
 * with the message removed afterwards, a 5xx bounce with its DSN queued before the recipient
 * is marked, no DSN to the null sender, deferral with backoff and expiry, and the scheduler
 * recovering a message left in active/ and picking up new mail until it is told to stop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sg_file.h"
#include "core/sg_mem.h"
#include "core/sg_net.h"
#include "policy/policy.h"
#include "queue/qmgr.h"
#include "queue/spool.h"

#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct fixture {
	char dir[256];
	char maildir[300];
	struct spool *sp;
	struct qmgr_env qe;
	struct deliver_ctx *dc;
	atomic_int cancel;
	char dead_port[8];
};

static const char message[] = "From: Alice <alice@example.test>\r\n"
                              "To: bob@example.test\r\n"
                              "Subject: test\r\n"
                              "Message-ID: <t1@example.test>\r\n"
                              "\r\n"
                              "Hello.\r\n";

/* A port with nobody listening: bind, read the port, close. */
static void dead_port(char *dst, size_t size)
{
	struct sg_endpoint ep = {.host = "127.0.0.1", .port = "0"};
	const char *err;
	int fd = sg_listen_tcp(&ep, 1, &err);
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	getsockname(fd, (struct sockaddr *)&sin, &sl);
	snprintf(dst, size, "%u", ntohs(sin.sin_port));
	close(fd);
}

static int setup(void **state)
{
	struct fixture *f = sg_calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/sg-test-qmgr-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->maildir, sizeof(f->maildir), "%s/mail", f->dir);
	char spool_path[300];
	snprintf(spool_path, sizeof(spool_path), "%s/spool", f->dir);
	const char *err;
	f->sp = spool_open(spool_path, &err);
	if (f->sp == NULL)
		return -1;
	dead_port(f->dead_port, sizeof(f->dead_port));
	char ext[64];
	snprintf(ext, sizeof(ext), "smtp:127.0.0.1:%s", f->dead_port);
	f->qe = (struct qmgr_env){
		.spool = f->sp,
		.policy = policy_new_from("example.test", "maildir:mail", ext),
		.retry = {.first = 300, .max = 14400, .lifetime = 5 * 86400},
		.hostname = "gw.example.test",
		.config_dir = f->dir,
		.connect_timeout_ms = 2000,
		.smtp_timeout_ms = 2000,
		.cancel = &f->cancel,
	};
	f->dc = deliver_ctx_new("gw.example.test", 2000, 2000, &f->cancel);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	deliver_ctx_free(&f->dc);
	policy_free(&f->qe.policy);
	spool_close(&f->sp);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	int rc = system(cmd);
	sg_free(&f);
	return rc == 0 ? 0 : -1;
}

static void inject(struct fixture *f, const char *sender, const char *const *rcpts, size_t n,
                   char *id_r)
{
	struct spool_envelope env;
	spool_envelope_init(&env);
	env.arrival = time(NULL);
	env.sender = sg_strdup(sender);
	env.client_addr = sg_strdup("192.0.2.7");
	env.client_helo = sg_strdup("client.test");
	env.internal_client = true;
	for (size_t i = 0; i < n; i++)
		spool_envelope_add_rcpt(&env, rcpts[i], NULL);
	const char *err;
	assert_int_equal(spool_inject(f->sp, message, sizeof(message) - 1, &env, &err), 0);
	snprintf(id_r, SG_QUEUE_ID_MAX, "%s", env.id);
	spool_envelope_free(&env);
}

static size_t queue_len(struct fixture *f, enum spool_queue q)
{
	char **ids;
	size_t n;
	const char *err;
	assert_int_equal(spool_list(f->sp, q, &ids, &n, &err), 0);
	spool_ids_free(&ids, n);
	return n;
}

static size_t count_new(struct fixture *f, const char *folder)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/%s/new", f->maildir, folder);
	DIR *d = opendir(path);
	if (d == NULL)
		return 0;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void maildir_delivery(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = {"bob@example.test", "Carol@Example.test"};
	char id[SG_QUEUE_ID_MAX];
	inject(f, "alice@example.test", rcpts, 2, id);
	time_t next;
	assert_int_equal(qmgr_job_run(&f->qe, f->dc, id, false, &next), QMGR_JOB_DONE);
	assert_int_equal(count_new(f, "bob@example.test"), 1);
	assert_int_equal(count_new(f, "carol@example.test"), 1);
	assert_int_equal(queue_len(f, SPOOL_INCOMING), 0);
	assert_int_equal(queue_len(f, SPOOL_ACTIVE), 0);
	assert_int_equal(qmgr_job_run(&f->qe, f->dc, id, false, &next), QMGR_JOB_GONE);
}

static void load_env(struct fixture *f, const char *id, struct spool_envelope *env)
{
	const char *err;
	spool_envelope_init(env);
	assert_int_equal(spool_load(f->sp, id, env, NULL, &err), 0);
}

static void bounce_with_dsn(void **state)
{
	struct fixture *f = *state;
	char longaddr[300];
	memset(longaddr, '%', 200);
	snprintf(longaddr + 200, sizeof(longaddr) - 200, "@example.test");
	const char *rcpts[] = {longaddr, "bob@example.test"};
	char id[SG_QUEUE_ID_MAX];
	inject(f, "alice@example.test", rcpts, 2, id);
	time_t next;
	assert_int_equal(qmgr_job_run(&f->qe, f->dc, id, false, &next), QMGR_JOB_DONE);
	assert_int_equal(count_new(f, "bob@example.test"), 1);
	/* The DSN waits in incoming/: to alice, from <>, marked as a bounce. */
	char **ids;
	size_t n;
	const char *err;
	assert_int_equal(spool_list(f->sp, SPOOL_INCOMING, &ids, &n, &err), 0);
	assert_int_equal(n, 1);
	struct spool_envelope env;
	load_env(f, ids[0], &env);
	assert_string_equal(env.sender, "");
	assert_true(env.flags & SPOOL_F_BOUNCE);
	assert_int_equal(env.nrcpt, 1);
	assert_string_equal(env.rcpts[0].addr, "alice@example.test");
	spool_envelope_free(&env);
	char dsn_id[SG_QUEUE_ID_MAX];
	snprintf(dsn_id, sizeof(dsn_id), "%s", ids[0]);
	spool_ids_free(&ids, n);
	/* Delivering the DSN puts it into alice's Maildir. */
	assert_int_equal(qmgr_job_run(&f->qe, f->dc, dsn_id, false, &next), QMGR_JOB_DONE);
	assert_int_equal(count_new(f, "alice@example.test"), 1);
	assert_int_equal(queue_len(f, SPOOL_INCOMING) + queue_len(f, SPOOL_ACTIVE), 0);
}

static void null_sender_no_dsn(void **state)
{
	struct fixture *f = *state;
	char longaddr[300];
	memset(longaddr, '%', 200);
	snprintf(longaddr + 200, sizeof(longaddr) - 200, "@example.test");
	const char *rcpts[] = {longaddr};
	char id[SG_QUEUE_ID_MAX];
	inject(f, "", rcpts, 1, id);
	time_t next;
	assert_int_equal(qmgr_job_run(&f->qe, f->dc, id, false, &next), QMGR_JOB_DONE);
	assert_int_equal(queue_len(f, SPOOL_INCOMING) + queue_len(f, SPOOL_ACTIVE), 0);
}

static void defer_then_expire(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = {"partner@partner.test", "bob@example.test"};
	char id[SG_QUEUE_ID_MAX];
	inject(f, "alice@example.test", rcpts, 2, id);
	time_t next;
	time_t before = time(NULL);
	assert_int_equal(qmgr_job_run(&f->qe, f->dc, id, false, &next), QMGR_JOB_WAIT);
	assert_true(next >= before + 270 && next <= time(NULL) + 300);
	struct spool_envelope env;
	load_env(f, id, &env);
	assert_string_equal(env.message_id, "t1@example.test");
	assert_int_equal(env.rcpts[0].state, SPOOL_RCPT_PENDING);
	assert_int_equal(env.rcpts[0].attempts, 1);
	assert_string_equal(env.rcpts[0].dsn_status, "4.4.1");
	assert_int_equal(env.rcpts[1].state, SPOOL_RCPT_SENT);
	/* Not yet due: nothing happens, the sent recipient is not sent again. */
	assert_int_equal(qmgr_job_run(&f->qe, f->dc, id, false, &next), QMGR_JOB_WAIT);
	assert_int_equal(count_new(f, "bob@example.test"), 1);
	/* Arrived six days ago: a flush makes it due, the retry fails, it expires and bounces. */
	env.arrival -= 6 * 86400;
	const char *err;
	assert_int_equal(spool_update(f->sp, &env, &err), 0);
	spool_envelope_free(&env);
	assert_int_equal(qmgr_job_run(&f->qe, f->dc, id, true, &next), QMGR_JOB_DONE);
	assert_int_equal(queue_len(f, SPOOL_INCOMING), 1); /* the DSN */
	assert_int_equal(count_new(f, "bob@example.test"), 1);
}

/* Fails only the write of a DSN's data, so envelope updates still work. */
static ssize_t fail_write(int fd, const void *buf, size_t len)
{
	static const char dsn_start[] = "From: Mail Delivery System";
	if (len >= sizeof(dsn_start) - 1 && memcmp(buf, dsn_start, sizeof(dsn_start) - 1) == 0) {
		errno = ENOSPC;
		return -1;
	}
	return sg_fileops_default.write(fd, buf, len);
}

/* The DSN cannot be queued (disk full): the recipient must stay pending, not be marked
 * bounced, and the next pass must bounce it with a DSN. */
static void dsn_failure_keeps_recipient(void **state)
{
	struct fixture *f = *state;
	char longaddr[300];
	memset(longaddr, '%', 200);
	snprintf(longaddr + 200, sizeof(longaddr) - 200, "@example.test");
	const char *rcpts[] = {longaddr};
	char id[SG_QUEUE_ID_MAX];
	inject(f, "alice@example.test", rcpts, 1, id);
	const struct sg_fileops failing = {.write = fail_write,
	                                   .fsync = sg_fileops_default.fsync,
	                                   .rename = sg_fileops_default.rename};
	time_t next;
	sg_fileops = &failing;
	enum qmgr_job_result res = qmgr_job_run(&f->qe, f->dc, id, false, &next);
	sg_fileops = &sg_fileops_default;
	assert_int_equal(res, QMGR_JOB_WAIT);
	assert_int_equal(queue_len(f, SPOOL_INCOMING), 0); /* no DSN */
	struct spool_envelope env;
	load_env(f, id, &env);
	assert_int_equal(env.rcpts[0].state, SPOOL_RCPT_PENDING);
	assert_int_equal(env.rcpts[0].attempts, 1);
	assert_string_equal(env.rcpts[0].dsn_status, "5.1.3");
	spool_envelope_free(&env);
	assert_int_equal(qmgr_job_run(&f->qe, f->dc, id, true, &next), QMGR_JOB_DONE);
	assert_int_equal(queue_len(f, SPOOL_INCOMING), 1); /* the DSN, this time */
}

struct loop_arg {
	struct fixture *f;
	int rc;
};

static void *loop_thread(void *arg)
{
	struct loop_arg *a = arg;
	a->rc = qmgr_loop_run(&a->f->qe, 3, 200);
	return NULL;
}

static bool wait_empty(struct fixture *f, int ms)
{
	for (int i = 0; i < ms / 20; i++) {
		if (queue_len(f, SPOOL_INCOMING) + queue_len(f, SPOOL_ACTIVE) == 0)
			return true;
		usleep(20000);
	}
	return false;
}

static void loop_recovers_and_delivers(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = {"bob@example.test"};
	char id[SG_QUEUE_ID_MAX];
	inject(f, "alice@example.test", rcpts, 1, id);
	const char *err;
	assert_int_equal(spool_activate(f->sp, id, &err), 0); /* as if qmgr died after taking it */
	struct loop_arg a = {.f = f, .rc = -1};
	pthread_t t;
	pthread_create(&t, NULL, loop_thread, &a);
	assert_true(wait_empty(f, 5000));
	assert_int_equal(count_new(f, "bob@example.test"), 1);
	/* New mail while running is picked up promptly. */
	for (int i = 0; i < 5; i++)
		inject(f, "alice@example.test", rcpts, 1, id);
	assert_true(wait_empty(f, 5000));
	assert_int_equal(count_new(f, "bob@example.test"), 6);
	f->cancel = 1;
	pthread_join(t, NULL);
	assert_int_equal(a.rc, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(maildir_delivery, setup, teardown),
		cmocka_unit_test_setup_teardown(bounce_with_dsn, setup, teardown),
		cmocka_unit_test_setup_teardown(null_sender_no_dsn, setup, teardown),
		cmocka_unit_test_setup_teardown(defer_then_expire, setup, teardown),
		cmocka_unit_test_setup_teardown(dsn_failure_keeps_recipient, setup, teardown),
		cmocka_unit_test_setup_teardown(loop_recovers_and_delivers, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

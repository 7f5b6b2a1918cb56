/* test_transform_webmail.c: the webmail transform against a real store, keystore and spool.
 * Run twice for the same queued message (what the queue does when the gateway died after the
 * transform and before the spool recorded it), it keeps one sealed copy and queues one
 * notification; the notification names the link and not the content. The quota drops the
 * oldest read message for a new one and refuses (5.2.2) when only unread mail is left. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/settings.h"
#include "core/sg_buf.h"
#include "core/sg_file.h"
#include "core/sg_mem.h"
#include "policy/policy.h"
#include "queue/spool.h"
#include "queue/transform.h"
#include "store/store_webmail.h"
#include "unit_keystore.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PARTNER "reader@partner.test"

struct fixture {
	char dir[64];
	struct settings *set;
	struct transform_env te;
};

static int setup(void **state)
{
	struct fixture *f = sg_calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/sg-twm-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_true(sodium_init() >= 0);
	char path[128], *errors = NULL;
	const char *err;
	snprintf(path, sizeof(path), "%s/sealgate.conf", f->dir);
	f->set = settings_load_text(path,
		"[gateway]\nhostname = gw.example.test\ninternal_domains = example.test\n"
		"[smtp]\nlisten = 127.0.0.1:1\n[route]\ninternal = maildir:/tmp/x\n"
		"external = maildir:/tmp/y\n[portal]\nbase_url = https://portal.example.test/\n"
		"[webmail]\nquota_mb = 1\n", &errors);
	assert_non_null(f->set);
	f->te.settings = f->set;
	f->te.store = store_open("sqlite:t.db", f->dir, &err);
	assert_non_null(f->te.store);
	assert_int_equal(unit_keystore_new(f->dir, &f->te.keystore), 0);
	snprintf(path, sizeof(path), "%s/spool", f->dir);
	f->te.spool = spool_open(path, &err);
	assert_non_null(f->te.spool);
	int64_t uid;
	assert_int_equal(store_user_ensure(f->te.store, PARTNER, STORE_USER_EXTERNAL, &uid, &err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	spool_close(&f->te.spool);
	keystore_close(&f->te.keystore);
	store_close(&f->te.store);
	settings_free(&f->set);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	sg_free(&f);
	return 0;
}

/* The notices queued so far, concatenated. */
static size_t queued(struct fixture *f, struct sg_buf *all)
{
	char **ids = NULL;
	size_t n = 0;
	const char *err;
	assert_int_equal(spool_list(f->te.spool, SPOOL_INCOMING, &ids, &n, &err), 0);
	for (size_t i = 0; i < n; i++) {
		char path[SG_PATH_MAX], *data = NULL;
		size_t len = 0;
		assert_int_equal(spool_data_path(f->te.spool, ids[i], path, sizeof(path)), 0);
		assert_int_equal(sg_file_read_all(path, 1 << 20, &data, &len, &err), 0);
		sg_buf_append(all, data, len);
		sg_free(&data);
	}
	spool_ids_free(&ids, n);
	return n;
}

static enum transform_result run(struct fixture *f, const char *queue_id, const char *data,
                                 size_t len, struct transform_output *out)
{
	const char *rcpts[] = {PARTNER};
	struct policy_plan plan = {.direction = POLICY_DIR_OUTBOUND, .action = POLICY_WEBMAIL};
	struct transform_input in = {.queue_id = queue_id, .sender = "boss@example.test",
	                             .data = data, .len = len, .plan = &plan, .rcpts = rcpts,
	                             .nrcpt = 1};
	transform_output_init(out);
	return transform_run(&f->te, &in, out);
}

static void test_rerun_keeps_one_copy_and_one_notice(void **state)
{
	struct fixture *f = *state;
	static const char msg[] = "From: boss@example.test\r\nTo: " PARTNER "\r\n"
	                          "Subject: [secure] plans\r\n\r\nThe price is 4711.\r\n";
	struct transform_output out;
	assert_int_equal(run(f, "Q1", msg, sizeof(msg) - 1, &out), TRANSFORM_STORED);
	transform_output_free(&out);
	assert_int_equal(run(f, "Q1", msg, sizeof(msg) - 1, &out), TRANSFORM_STORED);
	transform_output_free(&out);
	size_t total = 0, unread = 0;
	const char *err;
	assert_int_equal(store_webmail_count(f->te.store, PARTNER, STORE_WEBMAIL_INBOX, &total,
	                                     &unread, &err), 0);
	assert_int_equal(total, 1);
	struct sg_buf all;
	sg_buf_init(&all, 1 << 20);
	assert_int_equal(queued(f, &all), 1);
	assert_int_equal(sg_buf_append(&all, "", 1), 0);
	assert_non_null(strstr(all.data, "https://portal.example.test/webmail/"));
	assert_null(strstr(all.data, "4711"));
	sg_buf_free(&all);
	/* another queued message is another copy */
	assert_int_equal(run(f, "Q2", msg, sizeof(msg) - 1, &out), TRANSFORM_STORED);
	transform_output_free(&out);
	assert_int_equal(store_webmail_count(f->te.store, PARTNER, STORE_WEBMAIL_INBOX, &total,
	                                     &unread, &err), 0);
	assert_int_equal(total, 2);
}

static void big_message_lines(struct sg_buf *b, int n, int lines)
{
	sg_buf_reset(b);
	assert_int_equal(sg_buf_printf(b, "From: boss@example.test\r\nTo: " PARTNER "\r\n"
	                                  "Subject: [secure] big %d\r\n\r\n", n), 0);
	for (int i = 0; i < lines; i++)
		assert_int_equal(sg_buf_printf(b, "%098d\r\n", i), 0);
}

static void big_message(struct sg_buf *b, int n)
{
	big_message_lines(b, n, 4000); /* 400 KB */
}


static void test_quota_drops_read_never_unread(void **state)
{
	struct fixture *f = *state;
	struct sg_buf b;
	sg_buf_init(&b, 4 << 20);
	struct transform_output out;
	const char *err;
	for (int i = 1; i <= 2; i++) {
		char qid[8];
		snprintf(qid, sizeof(qid), "Q%d", i);
		big_message(&b, i);
		assert_int_equal(run(f, qid, b.data, b.len, &out), TRANSFORM_STORED);
		transform_output_free(&out);
	}
	struct store_webmail_msg *list = NULL;
	size_t n = 0;
	assert_int_equal(store_webmail_list(f->te.store, PARTNER, STORE_WEBMAIL_INBOX, 0, 10, &list,
	                                    &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_webmail_mark_read(f->te.store, PARTNER, list[1].uid, 5, &err), 1);
	char read_uid[STORE_WEBMAIL_UID_MAX];
	snprintf(read_uid, sizeof(read_uid), "%s", list[1].uid);
	store_webmail_list_free(&list, n);
	big_message(&b, 3);
	assert_int_equal(run(f, "Q3", b.data, b.len, &out), TRANSFORM_STORED);
	transform_output_free(&out);
	struct store_webmail_msg m;
	assert_int_equal(store_webmail_get(f->te.store, PARTNER, read_uid, &m, &err), 0);
	big_message(&b, 4);
	assert_int_equal(run(f, "Q4", b.data, b.len, &out), TRANSFORM_PERM);
	assert_string_equal(out.status, "5.2.2");
	transform_output_free(&out);
	big_message_lines(&b, 5, 12000); /* 1.2 MB: more than the whole quota */
	assert_int_equal(run(f, "Q5", b.data, b.len, &out), TRANSFORM_PERM);
	assert_string_equal(out.status, "5.2.3");
	transform_output_free(&out);
	size_t total = 0, unread = 0;
	assert_int_equal(store_webmail_count(f->te.store, PARTNER, STORE_WEBMAIL_INBOX, &total,
	                                     &unread, &err), 0);
	assert_int_equal(total, 2);
	assert_int_equal(unread, 2);
	sg_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rerun_keeps_one_copy_and_one_notice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quota_drops_read_never_unread, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

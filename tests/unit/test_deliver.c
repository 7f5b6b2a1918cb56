/* test_deliver.c: next-hop routes and the Maildir writer: the file appears in new/ with the
 * added headers, addresses cannot escape PATH, and a failing write, fsync or rename leaves
 * nothing in new/ (and nothing behind in tmp/). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sg_file.h"
#include "core/sg_mem.h"
#include "queue/qmgr.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char base[256];

static int setup(void **state)
{
	(void)state;
	snprintf(base, sizeof(base), "/tmp/sg-test-deliver-XXXXXX");
	return mkdtemp(base) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	return system(cmd) == 0 ? 0 : -1;
}

static size_t count_files(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return 0;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void routes(void **state)
{
	(void)state;
	struct deliver_route r;
	const char *err;
	assert_int_equal(deliver_route_parse("smtp:127.0.0.1:10030", "/etc/sg", &r, &err), 0);
	assert_int_equal(r.kind, DELIVER_SMTP);
	assert_string_equal(r.host, "127.0.0.1");
	assert_string_equal(r.port, "10030");
	assert_int_equal(deliver_route_parse("smtp:[::1]:25", "/etc/sg", &r, &err), 0);
	assert_string_equal(r.host, "::1");
	assert_int_equal(deliver_route_parse("maildir:mail", "/etc/sg", &r, &err), 0);
	assert_int_equal(r.kind, DELIVER_MAILDIR);
	assert_string_equal(r.path, "/etc/sg/mail");
	assert_int_equal(deliver_route_parse("maildir:/var/mail", "/etc/sg", &r, &err), 0);
	assert_string_equal(r.path, "/var/mail");
	assert_int_equal(deliver_route_parse("maildir:", "/etc/sg", &r, &err), -1);
	assert_int_equal(deliver_route_parse("lmtp:x:1", "/etc/sg", &r, &err), -1);
	assert_int_equal(deliver_route_parse("smtp::25", "/etc/sg", &r, &err), -1);
}

static void folder_names(void **state)
{
	(void)state;
	static const struct {
		const char *addr;
		const char *folder; /* NULL: refused */
	} table[] = {
		{"Bob@Example.TEST", "/m/bob@example.test"},
		{"a.b+tag@x.test", "/m/a.b+tag@x.test"},
		{"../../etc/passwd", "/m/%2E.%2F..%2Fetc%2Fpasswd"},
		{"..", "/m/%2E."},
		{".hidden@x", "/m/%2Ehidden@x"},
		{"a/b@x", "/m/a%2Fb@x"},
		{"\"q w\"@x", "/m/%22q%20w%22@x"},
		{"j\xc3\xbcrgen@x", "/m/j%C3%BCrgen@x"},
		{"100%@x", "/m/100%25@x"},
		{"", NULL},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		char dst[512];
		const char *err;
		int rc = deliver_maildir_folder("/m", table[i].addr, dst, sizeof(dst), &err);
		if (table[i].folder == NULL) {
			assert_int_equal(rc, -1);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_string_equal(dst, table[i].folder);
		assert_null(strchr(dst + 3, '/'));
	}
	char longaddr[300];
	memset(longaddr, '/', sizeof(longaddr) - 1);
	longaddr[sizeof(longaddr) - 1] = '\0';
	char dst[2048];
	const char *err;
	assert_int_equal(deliver_maildir_folder("/m", longaddr, dst, sizeof(dst), &err), -1);
}

static void write_one(void **state)
{
	(void)state;
	static const char msg[] = "Subject: hi\r\n\r\nline 1\r\n.line 2\r\n";
	char path[4096];
	const char *err;
	assert_int_equal(deliver_maildir_one(base, "alice@example.test", "Bob@Example.test", msg,
	                                     sizeof(msg) - 1, path, sizeof(path), &err), 0);
	char newdir[512], tmpdir[512];
	snprintf(newdir, sizeof(newdir), "%s/bob@example.test/new", base);
	snprintf(tmpdir, sizeof(tmpdir), "%s/bob@example.test/tmp", base);
	assert_int_equal(count_files(newdir), 1);
	assert_int_equal(count_files(tmpdir), 0);
	assert_true(strncmp(path, newdir, strlen(newdir)) == 0);
	char *data;
	size_t len;
	assert_int_equal(sg_file_read_all(path, 1 << 20, &data, &len, &err), 0);
	assert_string_equal(data, "Return-Path: <alice@example.test>\nDelivered-To: Bob@Example.test\n"
	                          "Subject: hi\n\nline 1\n.line 2\n");
	sg_free(&data);
	/* A second delivery gets a different name. */
	char path2[4096];
	assert_int_equal(deliver_maildir_one(base, "", "bob@example.test", msg, sizeof(msg) - 1,
	                                     path2, sizeof(path2), &err), 0);
	assert_string_not_equal(path, path2);
	assert_int_equal(count_files(newdir), 2);
}

static int fail_rename(const char *from, const char *to)
{
	(void)from, (void)to;
	errno = EIO;
	return -1;
}

static int fail_fsync(int fd)
{
	(void)fd;
	errno = EIO;
	return -1;
}

static ssize_t fail_write(int fd, const void *buf, size_t len)
{
	(void)fd, (void)buf, (void)len;
	errno = ENOSPC;
	return -1;
}

static void atomic_on_failure(void **state)
{
	(void)state;
	const struct sg_fileops ops[] = {
		{.write = sg_fileops_default.write, .fsync = sg_fileops_default.fsync, .rename = fail_rename},
		{.write = sg_fileops_default.write, .fsync = fail_fsync, .rename = sg_fileops_default.rename},
		{.write = fail_write, .fsync = sg_fileops_default.fsync, .rename = sg_fileops_default.rename},
	};
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		sg_fileops = &ops[i];
		char path[4096];
		const char *err;
		int rc = deliver_maildir_one(base, "a@x", "carol@x.test", "x\n", 2, path, sizeof(path),
		                             &err);
		sg_fileops = &sg_fileops_default;
		assert_int_equal(rc, -1);
		char dir[512];
		snprintf(dir, sizeof(dir), "%s/carol@x.test/new", base);
		assert_int_equal(count_files(dir), 0);
		snprintf(dir, sizeof(dir), "%s/carol@x.test/tmp", base);
		assert_int_equal(count_files(dir), 0);
	}
}

static void statuses(void **state)
{
	(void)state;
	char longaddr[300];
	memset(longaddr, '%', sizeof(longaddr) - 1);
	longaddr[sizeof(longaddr) - 1] = '\0';
	const char *rcpts[] = {"dave@x.test", longaddr};
	struct deliver_job job = {.queue_id = "Q1", .sender = "s@x", .rcpts = rcpts, .nrcpt = 2,
	                          .data = "Subject: x\n\nbody\n", .len = 17};
	struct smtpc_status st[2];
	struct deliver_route r;
	const char *err;
	char spec[300];
	snprintf(spec, sizeof(spec), "maildir:%s", base);
	assert_int_equal(deliver_route_parse(spec, "/", &r, &err), 0);
	char relay[64];
	deliver_run(NULL, &r, &job, st, relay, sizeof(relay));
	assert_string_equal(relay, "maildir");
	assert_int_equal(st[0].cls, SMTPC_OK);
	assert_string_equal(st[0].dsn, "2.0.0");
	assert_int_equal(st[1].cls, SMTPC_PERM);
	assert_string_equal(st[1].dsn, "5.1.3");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(routes),
		cmocka_unit_test(folder_names),
		cmocka_unit_test_setup_teardown(write_one, setup, teardown),
		cmocka_unit_test_setup_teardown(atomic_on_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(statuses, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

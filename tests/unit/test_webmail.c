/* test_webmail.c: webmail messages sealed into a real store and opened again: the bodies and
 * nine attachments (non-ASCII and hostile names, a 14 MB one) come back byte-exact with their
 * metadata; the store file holds none of the plaintext; another partner cannot open the
 * message; a blob moved to another part or message does not open; a second put with the same
 * dedup key stores nothing new. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sg_buf.h"
#include "core/sg_file.h"
#include "core/sg_mem.h"
#include "crypto/keystore.h"
#include "unit_keystore.h"
#include "webmail/webmail.h"

#include <dirent.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#define BIG (14 * 1024 * 1024)
#define NATT 9

struct fixture {
	char dir[64];
	struct store *st;
	struct keystore *ks;
	int64_t alice;
	unsigned char *att[NATT];
	size_t att_len[NATT];
};

static const char *const names[NATT] = {
	"filename*=UTF-8''Bericht%20M%C3%BCller%20%E2%82%AC.pdf", /* Bericht Müller €.pdf */
	"filename*=UTF-8''%E6%97%A5%E6%9C%AC%E8%AA%9E.txt",      /* 日本語.txt */
	"filename=\"=?UTF-8?B?w6TDtsO8LmJpbg==?=\"",               /* äöü.bin (RFC 2047) */
	"filename=\"../../etc/passwd\"",
	"filename=\"big.dat\"",
	"filename=\"a.txt\"",
	"filename=\"a.txt\"",
	"filename=\"\x01\x7f evil\r.exe\"",
	"",
};
static const char *const want[NATT] = {
	"Bericht Müller €.pdf", "日本語.txt", "äöü.bin", "_.._etc_passwd", "big.dat", "a.txt",
	"a (2).txt", NULL, "attachment-11",
};

static void base64_lines(struct sg_buf *b, const unsigned char *data, size_t len)
{
	for (size_t off = 0; off < len; off += 57) {
		size_t n = len - off < 57 ? len - off : 57;
		char line[80];
		sodium_bin2base64(line, sizeof(line), data + off, n, sodium_base64_VARIANT_ORIGINAL);
		assert_int_equal(sg_buf_printf(b, "%s\r\n", line), 0);
	}
}

static void build(struct fixture *f, struct sg_buf *b)
{
	assert_int_equal(sg_buf_append_str(b,
		"From: Boss <boss@example.test>\r\nTo: alice@partner.test\r\n"
		"Subject: =?UTF-8?Q?Geheimer_Plan_f=C3=BCr_Q3?=\r\nDate: Mon, 7 Dec 2026 10:00:00 +0000\r\n"
		"Message-ID: <plan@example.test>\r\nMIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"B1\"\r\n\r\n"
		"--B1\r\nContent-Type: multipart/alternative; boundary=\"B2\"\r\n\r\n"
		"--B2\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n\r\nDie Zahlen sind =FCberraschend: 4711.\r\n"
		"--B2\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
		"<p>Die Zahlen sind <b>4711</b></p>\r\n--B2--\r\n"), 0);
	for (int i = 0; i < NATT; i++) {
		f->att_len[i] = i == 4 ? BIG : (size_t)(100 + i * 37);
		f->att[i] = sg_malloc(f->att_len[i]);
		randombytes_buf(f->att[i], f->att_len[i]);
		assert_int_equal(sg_buf_printf(b, "--B1\r\nContent-Type: application/octet-stream\r\n"
		                                  "Content-Transfer-Encoding: base64\r\n"
		                                  "Content-Disposition: attachment%s%s\r\n\r\n",
		                                  names[i][0] ? "; " : "", names[i]), 0);
		base64_lines(b, f->att[i], f->att_len[i]);
	}
	assert_int_equal(sg_buf_append_str(b, "--B1--\r\n"), 0);
}

static int setup(void **state)
{
	struct fixture *f = sg_calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/sg-webmail-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_true(sodium_init() >= 0);
	const char *err = NULL;
	f->st = store_open("sqlite:store.db", f->dir, &err);
	assert_non_null(f->st);
	assert_int_equal(unit_keystore_new(f->dir, &f->ks), 0);
	assert_int_equal(store_user_ensure(f->st, "alice@partner.test", STORE_USER_EXTERNAL,
	                                   &f->alice, &err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	for (int i = 0; i < NATT; i++)
		sg_free(&f->att[i]);
	keystore_close(&f->ks);
	store_close(&f->st);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	sg_free(&f);
	return 0;
}

static bool file_contains(const char *path, const void *needle, size_t n)
{
	char *data = NULL;
	size_t len = 0;
	const char *err;
	assert_int_equal(sg_file_read_all(path, 1024L * 1024 * 1024, &data, &len, &err), 0);
	bool found = memmem(data, len, needle, n) != NULL;
	sg_free(&data);
	return found;
}

/* How many files the parts' directory holds. */
static int blob_files(const struct fixture *f)
{
	char dir[300];
	snprintf(dir, sizeof(dir), "%s/store.db-webmail", f->dir);
	DIR *d = opendir(dir);
	assert_non_null(d);
	int n = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void test_put_open_byte_exact(void **state)
{
	struct fixture *f = *state;
	struct sg_buf b;
	sg_buf_init(&b, 64 * 1024 * 1024);
	build(f, &b);
	struct webmail_put p = {.user_id = f->alice, .address = "alice@partner.test",
	                        .folder = STORE_WEBMAIL_INBOX, .dedup = "Q1:alice@partner.test",
	                        .sender = "boss@example.test", .data = b.data, .len = b.len,
	                        .now = 1000};
	int64_t id = 0;
	bool existed = true, perm = true;
	const char *err = NULL;
	assert_int_equal(webmail_put(f->st, f->ks, &p, &id, &existed, &perm, &err), 0);
	assert_false(existed);
	struct webmail_message *list = NULL;
	size_t n = 0;
	assert_int_equal(webmail_list(f->st, f->ks, "alice@partner.test", STORE_WEBMAIL_INBOX, 0, 20,
	                              &list, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].subject, "Geheimer Plan für Q3");
	assert_int_equal(list[0].row.attachments, NATT);
	char uid[STORE_WEBMAIL_UID_MAX];
	snprintf(uid, sizeof(uid), "%s", list[0].row.uid);
	webmail_list_free(&list, n);

	struct webmail_message m;
	assert_int_equal(webmail_open(f->st, f->ks, "Alice@Partner.test", uid, &m, &err), 1);
	assert_string_equal(m.message_id, "plan@example.test");
	assert_int_equal(m.nparts, NATT + 2);
	assert_int_equal(m.parts[0].kind, WEBMAIL_PART_TEXT);
	assert_int_equal(m.parts[1].kind, WEBMAIL_PART_HTML);
	unsigned char *data = NULL;
	size_t len = 0;
	assert_int_equal(webmail_part(f->st, f->ks, "alice@partner.test", uid, 0, &data, &len, &err), 1);
	assert_string_equal((char *)data, "Die Zahlen sind überraschend: 4711.");
	sg_free_secret(&data, len);
	for (int i = 0; i < NATT; i++) {
		const struct webmail_part_info *pi = &m.parts[i + 2];
		if (want[i] != NULL)
			assert_string_equal(pi->filename, want[i]);
		assert_null(strpbrk(pi->filename, "/\\\r\n\x01\x7f"));
		assert_int_equal(pi->size, (int64_t)f->att_len[i]);
		assert_int_equal(webmail_part(f->st, f->ks, "alice@partner.test", uid, i + 2, &data,
		                              &len, &err), 1);
		assert_int_equal(len, f->att_len[i]);
		assert_memory_equal(data, f->att[i], len);
		sg_free_secret(&data, len);
	}
	webmail_message_free(&m);

	/* another partner: not found, as if the uid did not exist */
	assert_int_equal(webmail_open(f->st, f->ks, "bob@partner.test", uid, &m, &err), 0);
	assert_int_equal(webmail_part(f->st, f->ks, "bob@partner.test", uid, 2, &data, &len, &err), 0);
	/* the same message again (a retried transform): nothing new */
	int64_t again = 0;
	assert_int_equal(webmail_put(f->st, f->ks, &p, &again, &existed, &perm, &err), 0);
	assert_true(existed);
	assert_int_equal(again, id);

	assert_int_equal(blob_files(f), 1); /* the retry's own file is gone */

	store_close(&f->st); /* checkpoint the WAL into the file */
	char path[300];
	for (int k = 0; k < 2; k++) { /* the database, then the parts' file beside it */
		if (k == 0)
			snprintf(path, sizeof(path), "%s/store.db", f->dir);
		else
			snprintf(path, sizeof(path), "%s/store.db-webmail/%s", f->dir, uid);
		assert_false(file_contains(path, "4711", 4));
		assert_false(file_contains(path, "Geheimer", 8));
		assert_false(file_contains(path, "Bericht", 7));
		assert_false(file_contains(path, f->att[5], 64));
	}
	snprintf(path, sizeof(path), "%s/store.db", f->dir);
	assert_true(file_contains(path, "boss@example.test", 17)); /* what is meant to be clear */
	sg_buf_free(&b);
}

/* Puts the test message as dedup, returns its uid in uid. */
static void put_one(struct fixture *f, const char *dedup, char uid[STORE_WEBMAIL_UID_MAX])
{
	struct sg_buf b;
	sg_buf_init(&b, 64 * 1024 * 1024);
	build(f, &b);
	struct webmail_put p = {.user_id = f->alice, .address = "alice@partner.test",
	                        .folder = STORE_WEBMAIL_INBOX, .dedup = dedup,
	                        .sender = "boss@example.test", .data = b.data, .len = b.len,
	                        .now = 1000};
	int64_t id = 0;
	bool existed, perm;
	const char *err = NULL;
	assert_int_equal(webmail_put(f->st, f->ks, &p, &id, &existed, &perm, &err), 0);
	struct store_webmail_msg m;
	assert_int_equal(store_webmail_find_dedup(f->st, f->alice, dedup, &m, &err), 1);
	snprintf(uid, STORE_WEBMAIL_UID_MAX, "%s", m.uid);
	store_webmail_msg_clear(&m);
	sg_buf_free(&b);
}

/* Attachment 5 of uid opens and is byte-exact. */
static void assert_attachment_opens(struct fixture *f, const char *uid)
{
	unsigned char *data = NULL;
	size_t len = 0;
	const char *err = NULL;
	assert_int_equal(webmail_part(f->st, f->ks, "alice@partner.test", uid, 5 + 2, &data, &len,
	                              &err), 1);
	assert_int_equal(len, f->att_len[5]);
	assert_memory_equal(data, f->att[5], len);
	sg_free_secret(&data, len);
}

static void make_file(const char *path, time_t mtime)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("left by a crash", fp);
	fclose(fp);
	struct utimbuf t = {.actime = mtime, .modtime = mtime};
	assert_int_equal(utime(path, &t), 0);
}

/* A file no row names (a put killed before its commit, a delete killed before the unlink) is
 * swept once it is an hour old; a younger one (a put in flight) and every named one stay. */
static void test_orphan_part_files_are_swept(void **state)
{
	struct fixture *f = *state;
	char uid[STORE_WEBMAIL_UID_MAX], path[300], old[300], young[300];
	put_one(f, "Q2:alice@partner.test", uid);
	time_t now = 100000;
	snprintf(path, sizeof(path), "%s/store.db-webmail/%s", f->dir, uid);
	snprintf(old, sizeof(old), "%s/store.db-webmail/%032d", f->dir, 1);
	snprintf(young, sizeof(young), "%s/store.db-webmail/%032d", f->dir, 2);
	make_file(old, now - 3601);
	make_file(young, now - 60);
	struct utimbuf t = {.actime = now - 86400, .modtime = now - 86400};
	assert_int_equal(utime(path, &t), 0);
	size_t n = 99;
	const char *err = NULL;
	assert_int_equal(webmail_sweep(f->st, now, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_false(sg_file_exists(old));
	assert_true(sg_file_exists(young));
	assert_true(sg_file_exists(path));
	assert_attachment_opens(f, uid);
	/* deleting the message removes its file */
	assert_int_equal(store_webmail_delete(f->st, "alice@partner.test", uid, &err), 1);
	assert_false(sg_file_exists(path));
}

/* Stores from before the parts moved to files keep them in the row: they still open. */
static void test_parts_kept_in_rows_still_open(void **state)
{
	struct fixture *f = *state;
	char uid[STORE_WEBMAIL_UID_MAX], path[300], db_path[300];
	put_one(f, "Q3:alice@partner.test", uid);
	snprintf(path, sizeof(path), "%s/store.db-webmail/%s", f->dir, uid);
	snprintf(db_path, sizeof(db_path), "%s/store.db", f->dir);
	char *file = NULL;
	size_t flen = 0;
	const char *err = NULL;
	assert_int_equal(sg_file_read_all(path, 1 << 30, &file, &flen, &err), 0);
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_prepare_v2(db, "UPDATE webmail_parts SET sealed ="
	                                        " substr(?1, file_offset + 1, file_len),"
	                                        " file_offset = NULL, file_len = NULL", -1, &s,
	                                    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_bind_blob64(s, 1, file, flen, SQLITE_STATIC), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_DONE);
	sqlite3_finalize(s);
	sqlite3_close(db);
	sg_free(&file);
	assert_int_equal(unlink(path), 0);
	assert_attachment_opens(f, uid);
}

static void test_sealing_is_bound(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	unsigned char *wrapped = NULL, *blob = NULL, *out = NULL;
	size_t wlen = 0, blen = 0, olen = 0;
	struct keystore_msgkey *key = NULL, *again = NULL;
	assert_int_equal(keystore_msgkey_new(f->ks, "webmail:a@x:1", &key, &wrapped, &wlen, &err), 0);
	assert_int_equal(keystore_msgkey_seal(key, "webmail:a@x:1:part:0", "secret", 6, &blob, &blen,
	                                      &err), 0);
	assert_int_equal(keystore_msgkey_unseal(key, "webmail:a@x:1:part:1", blob, blen, &out, &olen,
	                                        &err), -1);
	assert_int_equal(keystore_msgkey_open(f->ks, wrapped, wlen, "webmail:b@x:1", &again, &err), -1);
	assert_int_equal(keystore_msgkey_open(f->ks, wrapped, wlen, "webmail:a@x:1", &again, &err), 0);
	assert_int_equal(keystore_msgkey_unseal(again, "webmail:a@x:1:part:0", blob, blen, &out,
	                                        &olen, &err), 0);
	assert_memory_equal(out, "secret", 6);
	blob[blen - 1] ^= 1;
	unsigned char *bad = NULL;
	assert_int_equal(keystore_msgkey_unseal(again, "webmail:a@x:1:part:0", blob, blen, &bad,
	                                        &olen, &err), -1);
	sg_free_secret(&out, 6);
	sg_free(&blob);
	sg_free(&wrapped);
	keystore_msgkey_free(&key);
	keystore_msgkey_free(&again);
}

/* data base64-encoded into b, lines of width characters ending in eol, with junk inserted at
 * character position at (none if at < 0). */
static void base64_odd(struct sg_buf *b, const unsigned char *data, size_t len, size_t width,
                       const char *eol, const char *junk, long at)
{
	char *enc = sg_malloc(len / 3 * 4 + 8);
	sodium_bin2base64(enc, len / 3 * 4 + 8, data, len, sodium_base64_VARIANT_ORIGINAL);
	size_t n = strlen(enc);
	for (size_t off = 0; off < n; off += width) {
		size_t k = n - off < width ? n - off : width;
		if (at >= 0 && (size_t)at >= off && (size_t)at < off + k) {
			size_t cut = (size_t)at - off;
			assert_int_equal(sg_buf_printf(b, "%.*s%s%.*s%s", (int)cut, enc + off, junk,
			                               (int)(k - cut), enc + off + cut, eol), 0);
		} else {
			assert_int_equal(sg_buf_printf(b, "%.*s%s", (int)k, enc + off, eol), 0);
		}
	}
	sg_free(&enc);
}

/* Base64 as clients write it (decoded by webmail itself) and as they should not (spaces,
 * stray characters: GMime's lenient decoder): the same bytes either way, every padding. */
static void test_base64_forms_decode_byte_exact(void **state)
{
	struct fixture *f = *state;
	static const struct {
		size_t len, width;
		const char *eol, *junk;
		long at;
	} forms[] = {
		{0, 76, "\r\n", "", -1},   {1, 76, "\r\n", "", -1},    {2, 76, "\r\n", "", -1},
		{3, 76, "\r\n", "", -1},   {4, 76, "\r\n", "", -1},    {5, 76, "\r\n", "\r\n", 8},
		{58, 76, "\r\n", "", -1},  {59, 76, "\r\n", "", -1},      {4000, 76, "\r\n", "", -1},
		{1000, 70, "\r\n", "", -1},   {1000, 76, "\r\n", " ", 300}, {1000, 76, "\r\n", "!", 301},
		{1000, 64, "\r\n", "\t", 1}, {2, 76, "\r\n\r\n", "", -1},
	};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		unsigned char data[4000];
		randombytes_buf(data, forms[i].len);
		struct sg_buf b;
		sg_buf_init(&b, 1 << 20);
		assert_int_equal(sg_buf_printf(&b,
			"From: a@example.test\r\nTo: alice@partner.test\r\nSubject: form %zu\r\n"
			"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n"
			"--B\r\nContent-Type: text/plain; charset=UTF-8\r\n"
			"Content-Transfer-Encoding: quoted-printable\r\n\r\nsee attached, gr=C3=\r\n"
			"=BC=C3=9Fe\r\n"
			"--B\r\nContent-Type: application/octet-stream\r\n"
			"Content-Transfer-Encoding: base64\r\n"
			"Content-Disposition: attachment; filename=f.bin\r\n\r\n", i), 0);
		base64_odd(&b, data, forms[i].len, forms[i].width, forms[i].eol, forms[i].junk,
		           forms[i].at);
		assert_int_equal(sg_buf_append_str(&b, "--B--\r\n"), 0);
		char dedup[32], uid[STORE_WEBMAIL_UID_MAX];
		snprintf(dedup, sizeof(dedup), "form:%zu", i);
		struct webmail_put p = {.user_id = f->alice, .address = "alice@partner.test",
		                        .folder = STORE_WEBMAIL_INBOX, .dedup = dedup, .sender = "",
		                        .data = b.data, .len = b.len, .now = 1000};
		int64_t id;
		bool existed, perm;
		const char *err = NULL;
		assert_int_equal(webmail_put(f->st, f->ks, &p, &id, &existed, &perm, &err), 0);
		struct store_webmail_msg m;
		assert_int_equal(store_webmail_find_dedup(f->st, f->alice, dedup, &m, &err), 1);
		snprintf(uid, sizeof(uid), "%s", m.uid);
		store_webmail_msg_clear(&m);
		unsigned char *out = NULL;
		size_t olen = 0;
		assert_int_equal(webmail_part(f->st, f->ks, "alice@partner.test", uid, 1, &out, &olen,
		                              &err), 1);
		if (olen != forms[i].len || memcmp(out, data, olen) != 0)
			fail_msg("form %zu: %zu bytes back for %zu", i, olen, forms[i].len);
		sg_free_secret(&out, olen);
		/* the UTF-8 body: only its transfer encoding undone */
		assert_int_equal(webmail_part(f->st, f->ks, "alice@partner.test", uid, 0, &out, &olen,
		                              &err), 1);
		assert_string_equal((char *)out, "see attached, grüße");
		sg_free_secret(&out, olen);
		sg_buf_free(&b);
	}
	/* small messages keep their parts in their rows: no file, no directory of files */
	char dir[300];
	snprintf(dir, sizeof(dir), "%s/store.db-webmail", f->dir);
	assert_false(sg_file_exists(dir));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_open_byte_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sealing_is_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_orphan_part_files_are_swept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parts_kept_in_rows_still_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_base64_forms_decode_byte_exact, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

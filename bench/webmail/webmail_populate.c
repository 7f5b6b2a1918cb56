/* webmail_populate.c: fills a partner's webmail inbox through webmail.h (webmail_put: parsed,
 * sealed and stored as the transform does), for the page benchmark (bench/webmail/pages.sh):
 * ten thousand messages in seconds, which the SMTP path one message at a time would take
 * minutes for. Each message has a text body, an HTML body and one attachment; its date is one
 * minute after the one before.
 *
 *   webmail_populate -c CONF ADDRESS COUNT
 * Prints the uid of every message made, one a line. */
#include "core/settings.h"
#include "core/sg_buf.h"
#include "core/sg_str.h"
#include "crypto/keystore.h"
#include "store/store.h"
#include "webmail/webmail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static _Noreturn void die(const char *what, const char *err)
{
	fprintf(stderr, "webmail_populate: %s%s%s\n", what, err != NULL ? ": " : "", err ? err : "");
	exit(1);
}

static void message(struct sg_buf *b, const char *to, long i)
{
	sg_buf_reset(b);
	sg_buf_printf(b,
	    "From: Bench Sender <bench%ld@example.com>\r\nTo: %s\r\nSubject: Quarterly figures %ld\r\n"
	    "Message-ID: <bench%ld@example.com>\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
	    "Content-Type: multipart/alternative; boundary=a\r\n\r\n--a\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n\r\nThe figures of message %ld.\r\n--a\r\n"
	    "Content-Type: text/html; charset=utf-8\r\n\r\n<p>The <b>figures</b> of message %ld."
	    "<img src=\"http://tracker.example/p.gif\"><a href=\"https://example.com/r\">report</a>"
	    "</p>\r\n--a--\r\n--b\r\nContent-Type: application/octet-stream\r\n"
	    "Content-Disposition: attachment; filename=\"figures-%ld.bin\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\r\n"
	    "--b--\r\n", i, to, i, i, i, i, i);
}

int main(int argc, char **argv)
{
	if (argc != 5 || strcmp(argv[1], "-c") != 0)
		die("usage: webmail_populate -c CONF ADDRESS COUNT", NULL);
	const char *err = NULL;
	long count = (long)sg_strtonum(argv[4], 1, 1000000, &err);
	if (err != NULL)
		die("bad COUNT", err);
	char *errors = NULL, keypath[SG_PATH_MAX];
	struct settings *set = settings_load(argv[2], &errors);
	if (set == NULL)
		die("cannot load the configuration", errors);
	struct store *st = store_open_settings(set, &err);
	struct keystore *ks = NULL;
	if (st == NULL || settings_path(set, "gateway.master_key", keypath, sizeof(keypath)) < 0 ||
	    keystore_open(keypath, &ks, &err) < 0)
		die("cannot open the store or the master key", err);
	struct store_user u;
	if (store_user_find(st, argv[3], &u, &err) != 1)
		die("no such partner (add it first)", err);
	struct sg_buf msg;
	sg_buf_init(&msg, 1 << 20);
	time_t start = time(NULL) - (time_t)count * 60;
	for (long i = 0; i < count; i++) {
		char dedup[64];
		int64_t id;
		bool existed, perm;
		sg_snprintf(dedup, sizeof(dedup), "bench:%ld", i);
		message(&msg, u.address, i);
		struct webmail_put p = {.user_id = u.id, .address = u.address,
		                        .folder = STORE_WEBMAIL_INBOX, .dedup = dedup,
		                        .sender = "bench@example.com", .data = msg.data,
		                        .len = msg.len, .now = start + (time_t)i * 60};
		if (webmail_put(st, ks, &p, &id, &existed, &perm, &err) < 0)
			die("webmail_put", err);
	}
	/* The uids, from the store (newest first), for the read requests. */
	for (size_t off = 0; off < (size_t)count; off += STORE_WEBMAIL_PAGE_MAX) {
		struct store_webmail_msg *list = NULL;
		size_t n = 0;
		if (store_webmail_list(st, u.address, STORE_WEBMAIL_INBOX, off, STORE_WEBMAIL_PAGE_MAX,
		                       &list, &n, &err) < 0)
			die("store_webmail_list", err);
		for (size_t k = 0; k < n; k++)
			printf("%s\n", list[k].uid);
		store_webmail_list_free(&list, n);
	}
	sg_buf_free(&msg);
	keystore_close(&ks);
	store_close(&st);
	settings_free(&set);
	return 0;
}

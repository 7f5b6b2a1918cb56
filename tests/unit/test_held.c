/* test_held.c: holding mail for an unregistered partner against a real store, keystore and
 * spool: the invitation and the notices (OTP to the sender or to the partner), the sealed copy,
 * a second hold without a new OTP, the release into the queue (marked as released, byte-exact)
 * and the expiry that deletes the copy, tells the sender and drops the invitation. Also the
 * notice texts themselves (notify.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/settings.h"
#include "core/sg_buf.h"
#include "core/sg_file.h"
#include "core/sg_mem.h"
#include "crypto/keystore.h"
#include "notify/notify.h"
#include "queue/held.h"
#include "queue/spool.h"
#include "store/store.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char message[] = "From: alice@example.test\r\n"
                              "To: p@partner.test\r\n"
                              "Subject: [secure] figures\r\n"
                              "\r\n"
                              "The figures are 42.\r\n";

struct fixture {
	char dir[64];
	struct settings *set;
	struct held_ctx hc;
};

static struct settings *settings_with(const char *dir, const char *otp_delivery)
{
	char text[1024], path[128], *errors = NULL;
	snprintf(path, sizeof(path), "%s/sealgate.conf", dir);
	snprintf(text, sizeof(text),
	         "[gateway]\nhostname = gw.example.test\ninternal_domains = example.test\n"
	         "organization = Acme\n[smtp]\nlisten = 127.0.0.1:1\n"
	         "[route]\ninternal = maildir:/tmp/x\nexternal = maildir:/tmp/y\n"
	         "[policy]\notp_delivery = %s\n[portal]\nbase_url = https://portal.example.test/\n",
	         otp_delivery);
	struct settings *s = settings_load_text(path, text, &errors);
	if (s == NULL)
		fail_msg("settings: %s", errors);
	return s;
}

static int setup_with(void **state, const char *otp_delivery)
{
	struct fixture *f = sg_calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/sg-held-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_true(sodium_init() >= 0);
	const char *err;
	char path[128];
	f->set = settings_with(f->dir, otp_delivery);
	f->hc.settings = f->set;
	f->hc.store = store_open("sqlite:t.db", f->dir, &err);
	assert_non_null(f->hc.store);
	snprintf(path, sizeof(path), "%s/master.key", f->dir);
	assert_int_equal(keystore_master_create(path, &err), 0);
	assert_int_equal(keystore_open(path, &f->hc.keystore, &err), 0);
	snprintf(path, sizeof(path), "%s/spool", f->dir);
	f->hc.spool = spool_open(path, &err);
	assert_non_null(f->hc.spool);
	*state = f;
	return 0;
}

static int setup(void **state) { return setup_with(state, "sender"); }
static int setup_recipient(void **state) { return setup_with(state, "recipient"); }

static int teardown(void **state)
{
	struct fixture *f = *state;
	spool_close(&f->hc.spool);
	keystore_close(&f->hc.keystore);
	store_close(&f->hc.store);
	settings_free(&f->set);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	sg_free(&f);
	return 0;
}

/* The queued messages: their data concatenated (for searching) and their envelopes' flags. */
static size_t queued(struct fixture *f, struct sg_buf *all, unsigned int *flags_or_r)
{
	char **ids = NULL;
	size_t n = 0;
	const char *err;
	assert_int_equal(spool_list(f->hc.spool, SPOOL_INCOMING, &ids, &n, &err), 0);
	*flags_or_r = 0;
	for (size_t i = 0; i < n; i++) {
		char path[SG_PATH_MAX];
		char *data = NULL;
		size_t len = 0;
		struct spool_envelope env;
		assert_int_equal(spool_load(f->hc.spool, ids[i], &env, NULL, &err), 0);
		*flags_or_r |= env.flags;
		spool_envelope_free(&env);
		assert_int_equal(spool_data_path(f->hc.spool, ids[i], path, sizeof(path)), 0);
		assert_int_equal(sg_file_read_all(path, 1 << 20, &data, &len, &err), 0);
		sg_buf_append(all, data, len);
		sg_free(&data);
	}
	spool_ids_free(&ids, n);
	return n;
}

static size_t held(struct fixture *f, const char *addr)
{
	size_t n;
	const char *err;
	assert_int_equal(store_held_count(f->hc.store, addr, &n, &err), 0);
	return n;
}

static void hold_then_release(void **state)
{
	struct fixture *f = *state;
	const char *err;
	assert_int_equal(held_mail_hold(&f->hc, "alice@example.test", "p@partner.test", "[secure] figures",
	                                message, sizeof(message) - 1, 1000, &err), 0);
	assert_int_equal(held(f, "p@partner.test"), 1);
	struct sg_buf all;
	sg_buf_init(&all, 8 << 20);
	unsigned int flags;
	/* invitation to the partner, OTP to the sender */
	assert_int_equal(queued(f, &all, &flags), 2);
	assert_int_equal(flags, SPOOL_F_BOUNCE);
	sg_buf_append(&all, "", 1);
	assert_non_null(strstr(all.data, "https://portal.example.test/register"));
	assert_non_null(strstr(all.data, "keeps the message safe")); /* the OTP notice */
	assert_null(strstr(all.data, "The figures are 42")); /* the notices do not quote the text */
	struct store_portal_account a;
	assert_int_equal(store_portal_account_get(f->hc.store, "p@partner.test", &a, &err), 1);
	assert_int_equal(a.otp_expires, 1000 + 30 * 86400);
	char first_otp[sizeof(a.otp_hash)];
	memcpy(first_otp, a.otp_hash, sizeof(first_otp));

	/* A second mail while the invitation is pending: no new OTP, one notice to the sender. */
	assert_int_equal(held_mail_hold(&f->hc, "bob@example.test", "p@partner.test", "again",
	                                message, sizeof(message) - 1, 2000, &err), 0);
	assert_int_equal(held(f, "p@partner.test"), 2);
	assert_int_equal(store_portal_account_get(f->hc.store, "p@partner.test", &a, &err), 1);
	assert_string_equal(a.otp_hash, first_otp);
	all.len = 0;
	assert_int_equal(queued(f, &all, &flags), 3);

	size_t n = 0;
	assert_int_equal(held_mail_release(&f->hc, "p@partner.test", &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(held(f, "p@partner.test"), 0);
	all.len = 0;
	assert_int_equal(queued(f, &all, &flags), 5);
	assert_true((flags & SPOOL_F_RELEASED) != 0);
	sg_buf_append(&all, "", 1);
	assert_non_null(strstr(all.data, message)); /* byte-exact */
	sg_buf_free(&all);
}

/* A release that failed at registration is done later by the tick. */
static void release_of_registered_partners(void **state)
{
	struct fixture *f = *state;
	const char *err;
	assert_int_equal(held_mail_hold(&f->hc, "alice@example.test", "p@partner.test", "x",
	                                message, sizeof(message) - 1, 1000, &err), 0);
	size_t n = 1;
	assert_int_equal(held_mail_release_registered(&f->hc, &n, &err), 0);
	assert_int_equal(n, 0); /* still pending: nothing to release */
	struct store_portal_account a;
	assert_int_equal(store_portal_account_get(f->hc.store, "p@partner.test", &a, &err), 1);
	assert_int_equal(store_portal_register(f->hc.store, a.user_id, "hash", 2000, &err), 0);
	assert_int_equal(held_mail_release_registered(&f->hc, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(held(f, "p@partner.test"), 0);
	assert_int_equal(held_mail_expire(&f->hc, 1000 + 31 * 86400, &n, &err), 0);
	assert_int_equal(n, 0); /* registered: never expired */
}

static void otp_to_partner(void **state)
{
	struct fixture *f = *state;
	const char *err;
	assert_int_equal(held_mail_hold(&f->hc, "alice@example.test", "p@partner.test", "x",
	                                message, sizeof(message) - 1, 1000, &err), 0);
	struct sg_buf all;
	sg_buf_init(&all, 8 << 20);
	unsigned int flags;
	/* invitation and OTP to the partner, "held" to the sender */
	assert_int_equal(queued(f, &all, &flags), 3);
	sg_buf_append(&all, "", 1);
	assert_non_null(strstr(all.data, "your one-time password"));
	assert_non_null(strstr(all.data, "separate e-mail"));
	sg_buf_free(&all);
}

static void expiry_deletes_and_tells(void **state)
{
	struct fixture *f = *state;
	const char *err;
	assert_int_equal(held_mail_hold(&f->hc, "alice@example.test", "p@partner.test", "old news",
	                                message, sizeof(message) - 1, 1000, &err), 0);
	size_t n = 1;
	assert_int_equal(held_mail_expire(&f->hc, 1000 + 86400, &n, &err), 0);
	assert_int_equal(n, 0); /* not yet */
	assert_int_equal(held_mail_expire(&f->hc, 1000 + 31 * 86400, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(held(f, "p@partner.test"), 0);
	struct store_portal_account a;
	assert_int_equal(store_portal_account_get(f->hc.store, "p@partner.test", &a, &err), 0);
	struct sg_buf all;
	sg_buf_init(&all, 8 << 20);
	unsigned int flags;
	assert_int_equal(queued(f, &all, &flags), 3);
	sg_buf_append(&all, "", 1);
	assert_non_null(strstr(all.data, "was not delivered"));
	assert_non_null(strstr(all.data, "old news"));
	sg_buf_free(&all);
}

static void registered_partner_is_not_held(void **state)
{
	struct fixture *f = *state;
	const char *err;
	int64_t uid;
	assert_int_equal(store_portal_invite(f->hc.store, "p@partner.test", "h", 99999, &uid, &err), 0);
	assert_int_equal(store_portal_register(f->hc.store, uid, "hash", 10, &err), 0);
	assert_int_equal(held_mail_hold(&f->hc, "alice@example.test", "p@partner.test", "x",
	                                message, sizeof(message) - 1, 1000, &err), -1);
	assert_non_null(strstr(err, "registered"));
	assert_int_equal(held(f, "p@partner.test"), 0);
}

static void notice_texts(void **state)
{
	struct fixture *f = *state;
	struct notify_vars v = {.partner = "p@partner.test", .sender = "alice@example.test",
	                        .otp = "ABCD-EFGH", .subject = "Grüße aus Köln", .until = 86400,
	                        .when = 0, .client = "192.0.2.1",
	                        .link = "/employee/pin/0123456789abcdef0123456789abcdef0123456789abcdef"};
	for (int k = 0; k < 2 * NOTIFY_KIND_COUNT; k++) {
		v.lang = k >= NOTIFY_KIND_COUNT ? "de" : NULL; /* every kind again, asked in German */
		struct sg_buf b;
		sg_buf_init(&b, 1 << 20);
		const char *rcpt, *err;
		enum notify_kind kind = (enum notify_kind)(k % NOTIFY_KIND_COUNT);
		assert_int_equal(notify_build(f->set, kind, &v, &b, &rcpt, &err), 0);
		sg_buf_append(&b, "", 1);
		for (size_t i = 0; i + 1 < b.len; i++)
			assert_true((unsigned char)b.data[i] < 0x80); /* 7-bit: encoded by GMime */
		assert_non_null(strstr(b.data, "\r\nAuto-Submitted: auto-generated\r\n"));
		assert_non_null(strstr(b.data, "From: Acme <postmaster@gw.example.test>"));
		bool otp_inside = strstr(b.data, "ABCD-EFGH") != NULL;
		assert_int_equal(otp_inside, kind == NOTIFY_OTP_PARTNER || kind == NOTIFY_OTP_SENDER ||
		                                 kind == NOTIFY_RESET_CODE);
		/* The reset code's mail speaks the partner's language (its subject is encoded). */
		if (kind == NOTIFY_RESET_CODE)
			assert_int_equal(strstr(b.data, "Subject: Acme: your code") != NULL, v.lang == NULL);
		sg_buf_free(&b);
	}
	struct notify_vars none = {.partner = "p@partner.test"};
	struct sg_buf b;
	sg_buf_init(&b, 1 << 20);
	const char *rcpt, *err;
	assert_int_equal(notify_build(f->set, NOTIFY_OTP_SENDER, &none, &b, &rcpt, &err), -1);
	assert_int_equal(notify_build(f->set, NOTIFY_ENROL, &none, &b, &rcpt, &err), -1); /* no link */
	sg_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(hold_then_release, setup, teardown),
		cmocka_unit_test_setup_teardown(release_of_registered_partners, setup, teardown),
		cmocka_unit_test_setup_teardown(otp_to_partner, setup_recipient, teardown),
		cmocka_unit_test_setup_teardown(expiry_deletes_and_tells, setup, teardown),
		cmocka_unit_test_setup_teardown(registered_partner_is_not_held, setup, teardown),
		cmocka_unit_test_setup_teardown(notice_texts, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

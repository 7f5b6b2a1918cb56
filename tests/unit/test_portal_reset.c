/* test_portal_reset.c: the security questions (answer normalisation, Argon2id answers, the
 * stand-in questions for addresses that cannot reset) and their store tables (questions, the
 * password hash alone, sessions of one user, the meta value made once), and the mailed reset
 * codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "portal/portal_priv.h"
#include "queue/held.h"
#include "store/store.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void normalisation(void **state)
{
	(void)state;
	static const struct {
		const char *in, *want;
	} good[] = {
		{"Fluffy", "fluffy"},
		{"  Main   Street  ", "main street"},
		{"\tMain\r\nStreet\v", "main street"},
		{"MÜNCHEN", "münchen"},
		{"\xc2\xa0" "Café\xe2\x80\xaf" "Olé\xe3\x80\x80", "café olé"},
		{"ÆRØ ÐÞ × ÀÉÎ", "ærø ðþ × àéî"},
		{"Straße", "straße"},
		{"ИВАН Петров", "ИВАН Петров"}, /* other scripts pass through unchanged */
		{"東京  タワー", "東京 タワー"},
		{"VW Golf 2 (1987)!", "vw golf 2 (1987)!"},
		{"\xf0\x9f\x90\xb1 Cat", "\xf0\x9f\x90\xb1 cat"},
	};
	char out[PORTAL_ANSWER_MAX + 1];
	const char *err;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(portal_questions_normalize(good[i].in, out, sizeof(out), &err), 0);
		assert_string_equal(out, good[i].want);
	}
	static const char *const bad[] = {
		"",           "   ",          "\xc2\xa0\t",   "a\x01" "b",    "a\x7f",
		"\xff",       "\xc0\xaf",     "\xe0\x80\xaf", "\xed\xa0\x80", "\xc2\x85",
		"a\xe2\x82",  "\xf4\x90\x80\x80", "\x80",     "ab\xc3",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(portal_questions_normalize(bad[i], out, sizeof(out), &err), -1);
		assert_string_equal(out, "");
		assert_non_null(err);
	}
	/* The ceiling is on the bytes as typed. */
	char s[PORTAL_ANSWER_MAX + 2];
	memset(s, 'a', PORTAL_ANSWER_MAX);
	s[PORTAL_ANSWER_MAX] = '\0';
	assert_int_equal(portal_questions_normalize(s, out, sizeof(out), &err), 0);
	assert_int_equal(strlen(out), PORTAL_ANSWER_MAX);
	s[PORTAL_ANSWER_MAX] = 'a';
	s[PORTAL_ANSWER_MAX + 1] = '\0';
	assert_int_equal(portal_questions_normalize(s, out, sizeof(out), &err), -1);
}

static void question_list(void **state)
{
	(void)state;
	assert_true(portal_questions_count() >= 6);
	assert_null(portal_questions_key(portal_questions_count()));
	for (size_t i = 0; i < portal_questions_count(); i++) {
		const char *k = portal_questions_key(i);
		assert_non_null(k);
		assert_true(strlen(k) < STORE_PORTAL_QKEY_MAX);
		assert_true(portal_questions_known(k));
		char tk[64];
		sg_snprintf(tk, sizeof(tk), "sq_%s", k);
		/* Both languages have a text, and they differ (so one is not missing). */
		assert_true(strcmp(portal_i18n_text(PORTAL_LANG_EN, tk),
		                   portal_i18n_text(PORTAL_LANG_DE, tk)) != 0);
		for (size_t j = 0; j < i; j++)
			assert_true(strcmp(k, portal_questions_key(j)) != 0);
	}
	assert_false(portal_questions_known(""));
	assert_false(portal_questions_known("first_pet "));
}

static void answers_hashed_and_checked(void **state)
{
	(void)state;
	struct store_portal_question q[STORE_PORTAL_QUESTIONS];
	const char *err;
	memset(q, 0, sizeof(q));
	static const char *const set[] = {"Fluffy", "München", "Oak  Street"};
	for (size_t i = 0; i < STORE_PORTAL_QUESTIONS; i++) {
		sg_strlcpy(q[i].key, portal_questions_key(i), sizeof(q[i].key));
		assert_int_equal(portal_questions_hash_answer(set[i], q[i].answer_hash,
		                                              sizeof(q[i].answer_hash), &err), 0);
		assert_true(strncmp(q[i].answer_hash, "$argon2id$", 10) == 0);
		assert_null(strstr(q[i].answer_hash, "luffy"));
	}
	assert_int_equal(portal_questions_hash_answer("  ", q[0].answer_hash, sizeof(q[0].answer_hash),
	                                              &err) == 0, false);
	sg_strlcpy(q[0].key, portal_questions_key(0), sizeof(q[0].key));
	assert_int_equal(portal_questions_hash_answer("Fluffy", q[0].answer_hash,
	                                              sizeof(q[0].answer_hash), &err), 0);
	const char *right[] = {" FLUFFY ", "MÜNCHEN", "oak street"};
	assert_true(portal_questions_check(q, right));
	/* (Few cases: each costs three Argon2id runs, and make check runs this under valgrind.) */
	const char *one_wrong[][3] = {
		{"fluffy", "münchen", "oak str"},
		{"", "münchen", "oak street"},
		{"fluffy", "oak street", "münchen"},
	};
	for (size_t i = 0; i < sizeof(one_wrong) / sizeof(one_wrong[0]); i++)
		assert_false(portal_questions_check(q, one_wrong[i]));
	/* Stand-ins have no answer hash: nothing matches them. */
	memset(q[1].answer_hash, 0, sizeof(q[1].answer_hash));
	assert_false(portal_questions_check(q, right));
}

static void decoys(void **state)
{
	(void)state;
	unsigned char k1[32], k2[32];
	memset(k1, 1, sizeof(k1));
	memset(k2, 2, sizeof(k2));
	const char *a[STORE_PORTAL_QUESTIONS], *b[STORE_PORTAL_QUESTIONS];
	size_t differ_by_key = 0, differ_by_addr = 0;
	for (int n = 0; n < 40; n++) {
		char addr[64], upper[64];
		sg_snprintf(addr, sizeof(addr), "someone%d@example.org", n);
		sg_snprintf(upper, sizeof(upper), "SomeOne%d@Example.ORG", n);
		portal_questions_decoy(k1, addr, a);
		portal_questions_decoy(k1, upper, b);
		for (size_t i = 0; i < STORE_PORTAL_QUESTIONS; i++) {
			assert_true(portal_questions_known(a[i]));
			assert_string_equal(a[i], b[i]); /* stable, and case does not matter */
			for (size_t j = 0; j < i; j++)
				assert_true(strcmp(a[i], a[j]) != 0);
		}
		portal_questions_decoy(k2, addr, b);
		differ_by_key += strcmp(a[0], b[0]) != 0 || strcmp(a[1], b[1]) != 0 ||
		                 strcmp(a[2], b[2]) != 0;
		portal_questions_decoy(k1, "other@example.org", b);
		differ_by_addr += strcmp(a[0], b[0]) != 0 || strcmp(a[1], b[1]) != 0 ||
		                  strcmp(a[2], b[2]) != 0;
	}
	assert_true(differ_by_key > 30);
	assert_true(differ_by_addr > 30);
}

static void store_questions(void **state)
{
	(void)state;
	char dir[] = "/tmp/sg-portal-reset-XXXXXX";
	assert_non_null(mkdtemp(dir));
	const char *err;
	struct store *st = store_open("sqlite:t.db", dir, &err);
	assert_non_null(st);
	assert_true(store_schema_version(st) >= 8); /* portal_reset_codes */
	char otp[HELD_OTP_SIZE];
	int64_t uid;
	time_t until;
	assert_int_equal(held_invite_create(st, "p@x.test", "", 30, 1000, otp, &uid, &until, &err), 0);
	struct store_portal_account a;
	assert_int_equal(store_portal_account_get(st, "p@x.test", &a, &err), 1);
	/* The password step keeps the account pending and the OTP valid. */
	assert_int_equal(store_portal_password_set(st, a.user_id, "$argon2id$pw", &err), 0);
	assert_int_equal(store_portal_account_get(st, "p@x.test", &a, &err), 1);
	assert_string_equal(a.password_hash, "$argon2id$pw");
	assert_int_equal(a.registered, 0);
	assert_true(a.otp_hash[0] != '\0');
	struct store_portal_question q[STORE_PORTAL_QUESTIONS], got[STORE_PORTAL_QUESTIONS];
	assert_int_equal(store_portal_questions_get(st, a.user_id, got, &err), 0);
	memset(q, 0, sizeof(q));
	static const char *const keys[] = {"first_car", "first_pet", "birth_city"};
	for (size_t i = 0; i < STORE_PORTAL_QUESTIONS; i++) {
		sg_strlcpy(q[i].key, keys[i], sizeof(q[i].key));
		sg_snprintf(q[i].answer_hash, sizeof(q[i].answer_hash), "$argon2id$h%zu", i);
	}
	assert_int_equal(store_portal_questions_set(st, a.user_id, q, &err), 0);
	assert_int_equal(store_portal_questions_get(st, a.user_id, got, &err), 1);
	for (size_t i = 0; i < STORE_PORTAL_QUESTIONS; i++) {
		assert_string_equal(got[i].key, keys[i]);
		assert_string_equal(got[i].answer_hash, q[i].answer_hash);
	}
	/* Setting again replaces all three; an incomplete set is refused and changes nothing. */
	sg_strlcpy(q[0].key, "first_employer", sizeof(q[0].key));
	assert_int_equal(store_portal_questions_set(st, a.user_id, q, &err), 0);
	assert_int_equal(store_portal_questions_get(st, a.user_id, got, &err), 1);
	assert_string_equal(got[0].key, "first_employer");
	q[2].answer_hash[0] = '\0';
	assert_int_equal(store_portal_questions_set(st, a.user_id, q, &err), -1);
	assert_int_equal(store_portal_questions_get(st, a.user_id, got, &err), 1);
	assert_string_equal(got[2].answer_hash, "$argon2id$h2");
	assert_int_equal(store_portal_questions_get(st, a.user_id + 100, got, &err), 0);
	/* Sessions of one user go together. */
	for (int i = 0; i < 3; i++) {
		struct store_portal_session s = {.user_id = i < 2 ? a.user_id : a.user_id + 1,
		                                 .stage = 2, .created = 10, .last_seen = 10};
		sg_snprintf(s.id_hash, sizeof(s.id_hash), "h%d", i);
		sg_strlcpy(s.csrf, "c", sizeof(s.csrf));
		assert_int_equal(store_portal_session_add(st, &s, &err), 0);
	}
	assert_int_equal(store_portal_session_delete_user(st, a.user_id, &err), 0);
	struct store_portal_session s;
	assert_int_equal(store_portal_session_get(st, "h0", &s, &err), 0);
	assert_int_equal(store_portal_session_get(st, "h1", &s, &err), 0);
	assert_int_equal(store_portal_session_get(st, "h2", &s, &err), 1);
	/* A meta value is made once and then kept. */
	char v[80];
	assert_int_equal(store_portal_meta_once(st, "portal.test", "first", v, sizeof(v), &err), 0);
	assert_string_equal(v, "first");
	assert_int_equal(store_portal_meta_once(st, "portal.test", "second", v, sizeof(v), &err), 0);
	assert_string_equal(v, "first");
	store_close(&st);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* Reset codes: taken once, only with their hash, only while fresh; the third failed try
 * kills a code; a new code replaces the old one. */
static void store_reset_codes(void **state)
{
	(void)state;
	char dir[] = "/tmp/sg-portal-code-XXXXXX";
	assert_non_null(mkdtemp(dir));
	const char *err;
	struct store *st = store_open("sqlite:t.db", dir, &err);
	assert_non_null(st);
	int64_t uid, other;
	assert_int_equal(store_user_ensure(st, "p@x.test", STORE_USER_EXTERNAL, &uid, &err), 0);
	assert_int_equal(store_user_ensure(st, "q@x.test", STORE_USER_EXTERNAL, &other, &err), 0);
	bool taken = true;
	assert_int_equal(store_resetcode_take(st, uid, "h1", 0, &taken, &err), 0);
	assert_false(taken); /* none yet */
	assert_int_equal(store_resetcode_set(st, uid, "h1", 1000, &err), 0);
	assert_int_equal(store_resetcode_take(st, other, "h1", 0, &taken, &err), 0);
	assert_false(taken); /* another account's row */
	assert_int_equal(store_resetcode_take(st, uid, "h2", 0, &taken, &err), 0);
	assert_false(taken);
	assert_int_equal(store_resetcode_take(st, uid, "h1", 1000, &taken, &err), 0);
	assert_false(taken); /* made at 1000: not after it */
	assert_int_equal(store_resetcode_take(st, uid, "h1", 999, &taken, &err), 0);
	assert_true(taken);
	assert_int_equal(store_resetcode_take(st, uid, "h1", 0, &taken, &err), 0);
	assert_false(taken); /* once */
	assert_int_equal(store_resetcode_set(st, uid, "h3", 2000, &err), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(store_resetcode_failed(st, uid, 3, &err), 0);
	assert_int_equal(store_resetcode_set(st, uid, "h4", 2000, &err), 0); /* replaces, count 0 */
	assert_int_equal(store_resetcode_take(st, uid, "h3", 0, &taken, &err), 0);
	assert_false(taken);
	for (int i = 0; i < 3; i++)
		assert_int_equal(store_resetcode_failed(st, uid, 3, &err), 0);
	assert_int_equal(store_resetcode_take(st, uid, "h4", 0, &taken, &err), 0);
	assert_false(taken); /* three failures killed it */
	store_close(&st);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(normalisation),   cmocka_unit_test(question_list),
		cmocka_unit_test(answers_hashed_and_checked), cmocka_unit_test(decoys),
		cmocka_unit_test(store_questions), cmocka_unit_test(store_reset_codes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

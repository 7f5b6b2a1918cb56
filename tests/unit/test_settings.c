/* test_settings.c: the settings table, validation messages, loading and `config set`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/settings.h"
#include "core/sg_file.h"
#include "core/sg_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void every_key_is_documented_and_its_default_valid(void **state)
{
	(void)state;
	size_t count;
	const struct setting_def *t = settings_table(&count);
	assert_true(count > 40);
	for (size_t i = 0; i < count; i++) {
		char why[256];
		assert_non_null(t[i].doc);
		assert_true(strlen(t[i].doc) > 10);
		assert_non_null(strchr(t[i].key, '.'));
		if (!t[i].required || t[i].def[0] != '\0') {
			if (settings_validate(&t[i], t[i].def, why, sizeof(why)) != 0)
				fail_msg("default of %s invalid: %s", t[i].key, why);
		}
		assert_ptr_equal(settings_find(t[i].key), &t[i]);
	}
}

static void contract_keys_exist(void **state)
{
	(void)state;
	static const char *const keys[] = {
		"gateway.hostname", "gateway.internal_domains", "gateway.organization",
		"smtp.listen", "smtp.internal_networks", "smtp.max_message_size", "smtp.tls_cert",
		"smtp.tls_key", "route.internal", "route.external", "policy.encrypt_subject_tag",
		"policy.opportunistic_encrypt", "policy.sign_outbound", "policy.reencrypt_inbound",
		"policy.max_encrypted_size", "policy.default_external_channel", "policy.hide_subject",
		"policy.min_password_length", "policy.otp_delivery", "policy.otp_valid_days",
		"policy.max_portal_attachments", "policy.autocrypt_outbound", "portal.listen",
		"portal.base_url", "portal.tls", "ldap.listen", "ldap.base_dn", "ldap.allow_anonymous",
		"ldap.bind_dn", "store.database",
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (settings_find(keys[i]) == NULL)
			fail_msg("missing key %s", keys[i]);
	assert_string_equal(settings_find("policy.encrypt_subject_tag")->def, "[secure]");
	assert_string_equal(settings_find("policy.max_encrypted_size")->def, "15728640");
	assert_string_equal(settings_find("policy.max_portal_attachments")->def, "9");
}

struct validate_case {
	const char *key, *value;
	int rc;
	const char *why_contains;
};

static void validation_table(void **state)
{
	(void)state;
	static const struct validate_case cases[] = {
		{"smtp.max_message_size", "10M", 0, NULL},
		{"smtp.max_message_size", "abc", -1, "from 1024 to 1073741824"},
		{"smtp.max_message_size", "2G", -1, "bytes"},
		{"smtp.max_recipients", "0", -1, "from 1 to 10000"},
		{"smtp.max_recipients", "100", 0, NULL},
		{"queue.retry_first", "5m", 0, NULL},
		{"queue.retry_first", "5x", -1, "seconds"},
		{"policy.sign_outbound", "maybe", -1, "yes or no"},
		{"policy.sign_outbound", "off", 0, NULL},
		{"policy.otp_delivery", "pigeon", -1, "sender|recipient"},
		{"route.internal", "smtp:mx.example.com:25", 0, NULL},
		{"route.internal", "maildir:/var/mail", 0, NULL},
		{"route.internal", "smtp:mx", -1, "smtp:HOST:PORT"},
		{"route.external", "lmtp:x", -1, "maildir:PATH"},
		{"smtp.internal_networks", "10.0.0.0/8, ::1/128", 0, NULL},
		{"smtp.internal_networks", "10.0.0.0/33", -1, "prefix"},
		{"smtp.listen", "127.0.0.1:25, [::1]:25", 0, NULL},
		{"smtp.listen", "127.0.0.1:99999", -1, "port"},
		{"gateway.internal_domains", "example.com example.org", 0, NULL},
		{"gateway.internal_domains", "", -1, "set"},
		{"gateway.internal_domains", "bad..domain", -1, "not a domain"},
		{"portal.base_url", "ftp://x", -1, "https://"},
		{"portal.base_url", "", -1, "set"},
		{"portal.base_url", "https://mail.example.com/a b", -1, "without spaces"},
		{"ca.crl_url", "", 0, NULL}, /* optional: no distribution point */
		{"ca.crl_url", "http://pki.example.com/ca.crl", 0, NULL},
		{"ca.crl_url", "http://pki.example.com/\x01", -1, "without spaces"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char why[256] = "";
		int rc = settings_validate(settings_find(cases[i].key), cases[i].value, why, sizeof(why));
		if (rc != cases[i].rc)
			fail_msg("%s = %s: rc %d (%s)", cases[i].key, cases[i].value, rc, why);
		if (cases[i].why_contains != NULL && strstr(why, cases[i].why_contains) == NULL)
			fail_msg("%s = %s: '%s' lacks '%s'", cases[i].key, cases[i].value, why,
			         cases[i].why_contains);
	}
}

static char *write_temp(const char *text)
{
	char *path = sg_strdup("/tmp/sealgate-test-XXXXXX.conf");
	int fd = mkstemps(path, 5);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void load_reports_every_problem(void **state)
{
	(void)state;
	char *path = write_temp("[gateway]\ninternal_domains = example.com\n"
	                        "[smtp]\nmax_message_size = huge\nmax_recipients = 0\nbogus = 1\n");
	char *errors = NULL;
	struct settings *s = settings_load(path, &errors);
	assert_null(s);
	assert_non_null(strstr(errors, "smtp.max_message_size = 'huge'"));
	assert_non_null(strstr(errors, "smtp.max_recipients = '0': must be a number from 1 to 10000"));
	assert_non_null(strstr(errors, "smtp.bogus"));
	sg_free(&errors);
	unlink(path);
	sg_free(&path);
}

static void load_and_get(void **state)
{
	(void)state;
	char *path = write_temp("# comment\n[gateway]\ninternal_domains = example.com\n"
	                        "[smtp]\nmax_message_size = 10M\n");
	char *errors = NULL;
	struct settings *s = settings_load(path, &errors);
	assert_non_null(s);
	assert_int_equal(settings_number(s, "smtp.max_message_size"), 10 * 1024 * 1024);
	assert_int_equal(settings_number(s, "queue.retry_first"), 300);
	assert_int_equal(settings_number(s, "queue.lifetime"), 5 * 86400);
	assert_false(settings_bool(s, "policy.opportunistic_encrypt"));
	assert_true(settings_bool(s, "policy.sign_outbound"));
	assert_true(settings_is_set(s, "smtp.max_message_size"));
	assert_false(settings_is_set(s, "smtp.listen"));
	char p[256];
	assert_int_equal(settings_path(s, "gateway.spool_dir", p, sizeof(p)), 0);
	assert_string_equal(p, "/tmp/spool");
	settings_free(&s);
	assert_null(s);
	unlink(path);
	sg_free(&path);
}

static void set_keeps_other_lines(void **state)
{
	(void)state;
	char *path = write_temp("# keep me\n[gateway]\ninternal_domains = example.com\n\n"
	                        "[smtp]\n# and me\nmax_recipients = 5\n[route]\ninternal = maildir:m\n");
	char why[256];
	assert_int_equal(settings_file_set(path, "smtp.max_recipients", "50", why, sizeof(why)), 0);
	assert_int_equal(settings_file_set(path, "smtp.listen", "127.0.0.1:2525", why, sizeof(why)), 0);
	assert_int_equal(settings_file_set(path, "ldap.base_dn", "dc=x", why, sizeof(why)), 0);
	assert_int_equal(settings_file_set(path, "smtp.max_recipients", "x", why, sizeof(why)), -1);
	assert_int_equal(settings_file_set(path, "nope.key", "1", why, sizeof(why)), -1);
	assert_int_equal(settings_file_set(path, "gateway.organization", "a\nb", why, sizeof(why)), -1);
	char *text;
	const char *err;
	assert_int_equal(sg_file_read_all(path, 65536, &text, NULL, &err), 0);
	assert_string_equal(text, "# keep me\n[gateway]\ninternal_domains = example.com\n\n"
	                          "[smtp]\n# and me\nmax_recipients = 50\nlisten = 127.0.0.1:2525\n"
	                          "[route]\ninternal = maildir:m\n\n[ldap]\nbase_dn = dc=x\n");
	sg_free(&text);
	unlink(path);
	sg_free(&path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_key_is_documented_and_its_default_valid),
		cmocka_unit_test(contract_keys_exist),
		cmocka_unit_test(validation_table),
		cmocka_unit_test(load_reports_every_problem),
		cmocka_unit_test(load_and_get),
		cmocka_unit_test(set_keeps_other_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_smime_caps.c: reading a partner's SMIMECapabilities for the GCM and OAEP decisions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "crypto/smime.h"

static void gcm_named_or_not(void **state)
{
	(void)state;
	/* SEQUENCE { SEQUENCE { id-aes256-GCM } } */
	static const unsigned char gcm[] = {0x30, 0x0d, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86,
	                                    0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2e};
	/* SEQUENCE { SEQUENCE { id-aes256-CBC } } */
	static const unsigned char cbc[] = {0x30, 0x0d, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86,
	                                    0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a};
	static const unsigned char junk[] = {0x30, 0x80, 0xff};
	assert_true(smime_caps_allow_gcm(gcm, sizeof(gcm)));
	assert_false(smime_caps_allow_gcm(cbc, sizeof(cbc)));
	assert_false(smime_caps_allow_gcm(junk, sizeof(junk)));
	assert_false(smime_caps_allow_gcm(NULL, 0));
	assert_false(smime_caps_allow_gcm(gcm, sizeof(gcm) - 1));
}

static void oaep_named_or_not(void **state)
{
	(void)state;
	/* SEQUENCE { SEQUENCE { rsaesOaep } }: OAEP, hash not said */
	static const unsigned char bare[] = {0x30, 0x0d, 0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86,
	                                     0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x07};
	/* SEQUENCE { SEQUENCE { rsaesOaep, { [0] { sha256 } } } } */
	static const unsigned char sha256[] = {
		0x30, 0x1e, 0x30, 0x1c, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01,
		0x07, 0x30, 0x0f, 0xa0, 0x0d, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
		0x03, 0x04, 0x02, 0x01};
	/* SEQUENCE { SEQUENCE { rsaesOaep, { [0] { sha1 } } } }: not the SHA-256 we send */
	static const unsigned char sha1[] = {
		0x30, 0x1a, 0x30, 0x18, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01,
		0x07, 0x30, 0x0b, 0xa0, 0x09, 0x30, 0x07, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a};
	/* SEQUENCE { SEQUENCE { id-aes256-GCM } } */
	static const unsigned char gcm[] = {0x30, 0x0d, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86,
	                                    0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2e};
	assert_true(smime_caps_allow_oaep(bare, sizeof(bare)));
	assert_true(smime_caps_allow_oaep(sha256, sizeof(sha256)));
	assert_false(smime_caps_allow_oaep(sha1, sizeof(sha1)));
	assert_false(smime_caps_allow_oaep(gcm, sizeof(gcm)));
	assert_false(smime_caps_allow_gcm(sha256, sizeof(sha256)));
	assert_false(smime_caps_allow_oaep(NULL, 0));
	assert_false(smime_caps_allow_oaep(sha256, sizeof(sha256) - 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(gcm_named_or_not),
	                                   cmocka_unit_test(oaep_named_or_not)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

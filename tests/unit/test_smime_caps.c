/* test_smime_caps.c: reading a partner's SMIMECapabilities for the GCM decision. */
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

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(gcm_named_or_not)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

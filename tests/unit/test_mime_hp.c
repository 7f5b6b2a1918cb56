/* test_mime_hp.c: RFC 9788 header protection as text: the payload a sender builds (hp=,
 * protected fields, HP-Outer under hcp_baseline and hcp_no_confidentiality, never Bcc), the
 * outer section, and what a reader delivers from a protected payload. The messages have the
 * shape of the RFC's examples (section 4 and appendix C: a text/plain payload, the outer
 * Subject "[...]"); the cryptography around them is tested with openssl and gpg in
 * tests/integration/test_smime_nested.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sg_buf.h"
#include "core/sg_mem.h"
#include "mime/mime.h"

#include <string.h>

static const char msg[] =
	"Received: from client.example.com\r\n"
	"From: Alice <alice@example.com>\r\n"
	"To: Bob <bob@partner.test>,\r\n Carol <carol@partner.test>\r\n"
	"Bcc: dave@example.com\r\n"
	"Subject: [secure] The FooCorp contract\r\n"
	"Keywords: contract\r\n"
	"Date: Mon, 07 Dec 2026 15:30:00 +0000\r\n"
	"Message-ID: <hp-1@example.com>\r\n"
	"X-Sealgate-Security: forged\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: text/plain; charset=us-ascii\r\n"
	"\r\n"
	"Bob, we need to cancel this contract.\r\n";

static char *payload(bool encrypted, bool hide, const char *m)
{
	struct sg_buf out;
	const char *err;
	struct mime_hp_out o = {.encrypted = encrypted, .hide_subject = hide, .subject_tag = "[secure]"};
	sg_buf_init(&out, 1 << 20);
	assert_int_equal(mime_hp_payload(m, strlen(m), &o, &out, &err), 0);
	assert_int_equal(sg_buf_append(&out, "", 1), 0);
	return out.data;
}

static void encrypted_payload_under_hcp_baseline(void **state)
{
	(void)state;
	char *p = payload(true, true, msg);
	/* the entity: its Content-Type says hp="cipher", the body is unchanged */
	assert_non_null(strstr(p, "Content-Type: text/plain; charset=us-ascii;\r\n hp=\"cipher\"\r\n"));
	assert_non_null(strstr(p, "\r\n\r\nBob, we need to cancel this contract.\r\n"));
	/* the protected fields, the Subject without the gateway's tag */
	assert_non_null(strstr(p, "\r\nSubject: The FooCorp contract\r\n"));
	assert_non_null(strstr(p, "\r\nTo: Bob <bob@partner.test>,\r\n Carol <carol@partner.test>\r\n"));
	assert_non_null(strstr(p, "\r\nKeywords: contract\r\n"));
	assert_non_null(strstr(p, "\r\nMessage-ID: <hp-1@example.com>\r\n"));
	/* what is left outside, recorded: Subject obscured, Keywords removed (no line) */
	assert_non_null(strstr(p, "HP-Outer: Subject: [...]\r\n"));
	assert_non_null(strstr(p, "HP-Outer: From: Alice <alice@example.com>\r\n"));
	assert_non_null(strstr(p, "HP-Outer: To: Bob <bob@partner.test>,\r\n Carol"));
	assert_null(strstr(p, "HP-Outer: Keywords"));
	/* never inside: Bcc, trace fields, our own fields */
	assert_null(strstr(p, "Bcc"));
	assert_null(strstr(p, "dave@example.com"));
	assert_null(strstr(p, "Received"));
	assert_null(strstr(p, "X-Sealgate"));
	sg_free(&p);
}

static void outer_section_follows_the_policy(void **state)
{
	(void)state;
	struct sg_buf out;
	const char *err;
	struct mime_hp_out o = {.encrypted = true, .hide_subject = true, .subject_tag = "[secure]"};
	sg_buf_init(&out, 1 << 20);
	assert_int_equal(mime_hp_outer(msg, strlen(msg), &o, &out, &err), 0);
	assert_int_equal(sg_buf_append(&out, "", 1), 0);
	assert_non_null(strstr(out.data, "Subject: [...]\r\n"));
	assert_null(strstr(out.data, "FooCorp"));
	assert_null(strstr(out.data, "Keywords"));
	assert_null(strstr(out.data, "Bcc"));
	assert_null(strstr(out.data, "Content-Type"));
	assert_non_null(strstr(out.data, "Received: from client.example.com\r\n"));
	sg_buf_free(&out);
	/* hcp_no_confidentiality: the Subject stays (untagged), HP-Outer says so */
	char *p = payload(true, false, msg);
	assert_non_null(strstr(p, "HP-Outer: Subject: The FooCorp contract\r\n"));
	assert_non_null(strstr(p, "HP-Outer: Keywords: contract\r\n"));
	sg_free(&p);
}

static void signed_only_and_odd_entities(void **state)
{
	(void)state;
	char *p = payload(false, false, msg);
	assert_non_null(strstr(p, "hp=\"clear\""));
	assert_null(strstr(p, "HP-Outer")); /* only encrypted payloads record the outside */
	sg_free(&p);
	/* no Content-Type: MIME's default, named */
	p = payload(true, false, "From: a@example.com\r\nSubject: s\r\n\r\nhello\r\n");
	assert_non_null(strstr(p, "Content-Type: text/plain; charset=us-ascii; hp=\"cipher\"\r\n"));
	assert_non_null(strstr(p, "\r\n\r\nhello\r\n"));
	sg_free(&p);
	/* already protected by the sender's client: left as it is */
	static const char done[] = "From: a@example.com\r\nSubject: [...]\r\nContent-Type: text/plain;"
	                           " hp=\"cipher\"\r\n\r\nx\r\n";
	p = payload(true, true, done);
	assert_string_equal(p, "Content-Type: text/plain; hp=\"cipher\"\r\n\r\nx\r\n");
	sg_free(&p);
	char mode[16];
	mime_hp_mode(done, strlen(done), mode, sizeof(mode));
	assert_string_equal(mode, "cipher");
	mime_hp_mode(msg, strlen(msg), mode, sizeof(mode));
	assert_string_equal(mode, "");
	static const char chp[] = "Content-Type: text/plain; chp=\"cipher\"\r\n\r\nx\r\n";
	mime_hp_mode(chp, strlen(chp), mode, sizeof(mode));
	assert_string_equal(mode, "");
}

/* A reader: the protected values replace the outer ones, once each; HP-Outer goes. */
static void delivered_with_the_protected_values(void **state)
{
	(void)state;
	char *p = payload(true, true, msg);
	struct sg_buf outer, joined, out;
	const char *err;
	struct mime_hp_out o = {.encrypted = true, .hide_subject = true, .subject_tag = "[secure]"};
	sg_buf_init(&outer, 1 << 20);
	sg_buf_init(&joined, 1 << 20);
	sg_buf_init(&out, 1 << 20);
	assert_int_equal(mime_hp_outer(msg, strlen(msg), &o, &outer, &err), 0);
	/* what a decrypting reader has: the outer fields, then the payload */
	assert_int_equal(sg_buf_append(&joined, outer.data, outer.len), 0);
	assert_int_equal(sg_buf_append(&joined, p, strlen(p)), 0);
	assert_int_equal(mime_hp_deliver(joined.data, joined.len, p, strlen(p), &out, &err), 0);
	assert_int_equal(sg_buf_append(&out, "", 1), 0);
	const char *d = out.data;
	assert_non_null(strstr(d, "Subject: The FooCorp contract\r\n"));
	assert_null(strstr(d, "[...]"));
	assert_null(strstr(d, "HP-Outer"));
	assert_null(strstr(strstr(d, "From: ") + 1, "\nFrom: "));
	assert_non_null(strstr(d, "Received: from client.example.com\r\n"));
	assert_non_null(strstr(d, "hp=\"cipher\"\r\n\r\nBob, we need to cancel this contract.\r\n"));
	sg_buf_free(&outer);
	sg_buf_free(&joined);
	sg_buf_free(&out);
	sg_free(&p);
}

/* What a decrypted payload keeps as its own: protected fields only when it says hp=. */
static void entity_keeps_protected_fields_only_with_hp(void **state)
{
	(void)state;
	char *p = payload(true, true, msg);
	struct sg_buf out;
	const char *err;
	sg_buf_init(&out, 1 << 20);
	assert_int_equal(mime_hp_entity(p, strlen(p), &out, &err), 0);
	assert_int_equal(out.len, strlen(p)); /* all of it is the payload's own */
	sg_buf_reset(&out);
	assert_int_equal(mime_hp_entity(msg, strlen(msg), &out, &err), 0);
	assert_int_equal(sg_buf_append(&out, "", 1), 0);
	assert_null(strstr(out.data, "From:"));
	assert_null(strstr(out.data, "Subject:"));
	assert_non_null(strstr(out.data, "Content-Type: text/plain"));
	sg_buf_free(&out);
	sg_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(encrypted_payload_under_hcp_baseline),
		cmocka_unit_test(outer_section_follows_the_policy),
		cmocka_unit_test(signed_only_and_odd_entities),
		cmocka_unit_test(delivered_with_the_protected_values),
		cmocka_unit_test(entity_keeps_protected_fields_only_with_hp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_policy.c: direction and route per recipient, and which recipients share a delivery. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mime/mime.h"
#include "policy/policy.h"

#include <string.h>

static void direction_table(void **state)
{
	(void)state;
	struct policy *p = policy_new_from("example.test, Corp.Test", "maildir:mail", "smtp:relay:25");
	static const struct {
		const char *sender;
		bool internal_client;
		const char *rcpt;
		enum policy_direction dir;
		const char *route;
	} table[] = {
		{"alice@example.test", true, "bob@partner.test", POLICY_DIR_OUTBOUND, "smtp:relay:25"},
		{"alice@example.test", false, "bob@partner.test", POLICY_DIR_OUTBOUND, "smtp:relay:25"},
		{"bob@partner.test", false, "alice@example.test", POLICY_DIR_INBOUND, "maildir:mail"},
		{"bob@partner.test", true, "alice@example.test", POLICY_DIR_INTERNAL, "maildir:mail"},
		{"alice@example.test", true, "carol@corp.test", POLICY_DIR_INTERNAL, "maildir:mail"},
		{"alice@example.test", false, "carol@CORP.TEST", POLICY_DIR_INBOUND, "maildir:mail"},
		{"", false, "alice@example.test.", POLICY_DIR_INBOUND, "maildir:mail"},
		{"", true, "bob@partner.test", POLICY_DIR_INTERNAL, "smtp:relay:25"},
		{"x@partner.test", true, "y@other.test", POLICY_DIR_INTERNAL, "smtp:relay:25"},
		{"x@sub.example.test", true, "y@other.test", POLICY_DIR_INTERNAL, "smtp:relay:25"},
		{"x@example.test", true, "y@evil-example.test", POLICY_DIR_OUTBOUND, "smtp:relay:25"},
		{"x@example.test", true, "noatsign", POLICY_DIR_OUTBOUND, "smtp:relay:25"},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		struct policy_msg m = {.sender = table[i].sender,
		                       .internal_client = table[i].internal_client};
		struct policy_plan plan;
		const char *err;
		assert_int_equal(policy_plan_rcpt(p, &m, table[i].rcpt, &plan, &err), 0);
		if (plan.direction != table[i].dir)
			fail_msg("row %zu: %s -> %s: got %s", i, table[i].sender, table[i].rcpt,
			         policy_direction_name(plan.direction));
		assert_string_equal(plan.route, table[i].route);
		assert_int_equal(plan.action, POLICY_PASS);
	}
	struct policy_msg m = {.sender = "a@example.test"};
	struct policy_plan plan;
	const char *err;
	assert_int_equal(policy_plan_rcpt(p, &m, "", &plan, &err), -1);
	policy_free(&p);
	assert_null(p);
}

static void grouping(void **state)
{
	(void)state;
	struct policy *p = policy_new_from("example.test", "smtp:in:25", "smtp:out:25");
	struct policy_msg m = {.sender = "a@example.test", .internal_client = true};
	struct policy_plan a, b, c;
	const char *err;
	policy_plan_rcpt(p, &m, "x@partner.test", &a, &err);
	policy_plan_rcpt(p, &m, "y@other.test", &b, &err);
	policy_plan_rcpt(p, &m, "z@example.test", &c, &err);
	assert_true(policy_plan_equal(&a, &b));
	assert_false(policy_plan_equal(&a, &c));
	assert_string_equal(policy_direction_name(POLICY_DIR_OUTBOUND), "outbound");
	assert_string_equal(policy_action_name(POLICY_PASS), "pass");
	policy_free(&p);
}

struct fake_dir {
	const char *addr;
	struct policy_rcpt_info info;
};

static int fake_lookup(void *ctx, const char *addr, struct policy_rcpt_info *info_r)
{
	for (const struct fake_dir *d = ctx; d->addr != NULL; d++) {
		if (strcmp(d->addr, addr) == 0) {
			*info_r = d->info;
			return 0;
		}
	}
	*info_r = (struct policy_rcpt_info){0};
	return 0;
}

static const struct fake_dir partners[] = {
	{"cert@partner.test", {.known = true, .smime_usable = true}},
	{"key@partner.test", {.known = true, .pgp_usable = true}},
	{"both@partner.test", {.known = true, .smime_usable = true, .pgp_usable = true,
	                       .channel = POLICY_CH_PGP}},
	{"pdf@partner.test", {.known = true, .pdf_ready = true, .channel = POLICY_CH_PDF}},
	{"expired@partner.test", {.known = true, .registered = true, .channel = POLICY_CH_SMIME}},
	{"web@partner.test", {.known = true, .channel = POLICY_CH_WEBMAIL}},
	{NULL, {0}},
};

static void channel_table(void **state)
{
	(void)state;
	struct policy *p = policy_new_from("example.test", "smtp:in:25", "smtp:out:25");
	policy_set_options(p, "[secure]", false, true, POLICY_CH_PDF);
	char *to[] = {"cert@partner.test", "key@partner.test", "both@partner.test",
	              "pdf@partner.test", "expired@partner.test", "web@partner.test",
	              "nobody@partner.test"};
	struct mime_info tagged = {.parsed = true, .subject = "[SECURE] figures", .visible = to,
	                           .nvisible = 7};
	struct mime_info plain = {.parsed = true, .subject = "figures", .visible = to, .nvisible = 7};
	static const struct {
		const char *rcpt;
		bool tagged;
		enum policy_action action;
	} rows[] = {
		{"cert@partner.test", true, POLICY_SMIME},   {"key@partner.test", true, POLICY_PGP},
		{"both@partner.test", true, POLICY_PGP},     {"pdf@partner.test", true, POLICY_PDF},
		{"expired@partner.test", true, POLICY_REFUSE}, {"web@partner.test", true, POLICY_WEBMAIL},
		{"nobody@partner.test", true, POLICY_HOLD},   {"cert@partner.test", false, POLICY_PASS},
		{"alice@example.test", true, POLICY_PASS},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct policy_msg m = {.sender = "boss@example.test", .internal_client = true,
		                       .mime = rows[i].tagged ? &tagged : &plain,
		                       .lookup = fake_lookup, .lookup_ctx = (void *)partners};
		struct policy_plan plan;
		const char *err;
		assert_int_equal(policy_plan_rcpt(p, &m, rows[i].rcpt, &plan, &err), 0);
		if (plan.action != rows[i].action)
			fail_msg("row %zu %s: got %s", i, rows[i].rcpt, policy_action_name(plan.action));
		/* one PDF per password, one held or webmail copy per partner */
		assert_int_equal(plan.individual, plan.action == POLICY_PDF || plan.action == POLICY_HOLD ||
		                                  plan.action == POLICY_WEBMAIL);
		if (plan.action == POLICY_REFUSE)
			assert_non_null(plan.reason);
		assert_int_equal(plan.sign, plan.action == POLICY_SMIME || plan.action == POLICY_PGP);
	}
	policy_free(&p);
}

/* Held mail released after registration must be encrypted whatever it says, and never goes
 * back into a hold; without invitations an unregistered partner is refused; mail written on
 * the portal goes to internal addresses only. */
static void hold_release_and_portal(void **state)
{
	(void)state;
	struct policy *p = policy_new_from("example.test", "smtp:in:25", "smtp:out:25");
	policy_set_options(p, "[secure]", false, true, POLICY_CH_PDF);
	struct mime_info plain = {.parsed = true, .subject = "figures"};
	struct policy_msg m = {.sender = "boss@example.test", .internal_client = true,
	                       .mime = &plain, .must_encrypt = true, .lookup = fake_lookup,
	                       .lookup_ctx = (void *)partners};
	struct policy_plan plan;
	const char *err;
	assert_int_equal(policy_plan_rcpt(p, &m, "pdf@partner.test", &plan, &err), 0);
	assert_int_equal(plan.action, POLICY_PDF);
	assert_string_equal(plan.trigger, "released after registration");
	assert_int_equal(policy_plan_rcpt(p, &m, "nobody@partner.test", &plan, &err), 0);
	assert_int_equal(plan.action, POLICY_REFUSE);
	m.must_encrypt = false;
	struct mime_info tagged = {.parsed = true, .subject = "[secure] figures"};
	m.mime = &tagged;
	policy_set_invite(p, false);
	assert_int_equal(policy_plan_rcpt(p, &m, "nobody@partner.test", &plan, &err), 0);
	assert_int_equal(plan.action, POLICY_REFUSE);
	m = (struct policy_msg){.sender = "pdf@partner.test", .from_portal = true, .mime = &plain};
	assert_int_equal(policy_plan_rcpt(p, &m, "alice@example.test", &plan, &err), 0);
	assert_int_equal(plan.action, POLICY_PORTAL);
	assert_int_equal(policy_plan_rcpt(p, &m, "other@partner.test", &plan, &err), 0);
	assert_int_equal(plan.action, POLICY_REFUSE);
	assert_non_null(strstr(plan.reason, "internal addresses"));
	policy_free(&p);
}

static void triggers_and_bcc(void **state)
{
	(void)state;
	struct policy *p = policy_new_from("example.test", "smtp:in:25", "smtp:out:25");
	policy_set_options(p, "[secure]", true, false, POLICY_CH_PDF);
	char *to[] = {"key@partner.test"};
	struct mime_info sens = {.parsed = true, .subject = "x", .sensitivity = "company-confidential",
	                         .visible = to, .nvisible = 1};
	assert_string_equal(policy_encryption_trigger(p, &sens), "Sensitivity header");
	struct mime_info plain = {.parsed = true, .subject = "x", .visible = to, .nvisible = 1};
	assert_null(policy_encryption_trigger(p, &plain));
	struct policy_msg m = {.sender = "boss@example.test", .internal_client = true, .mime = &plain,
	                       .lookup = fake_lookup, .lookup_ctx = (void *)partners};
	struct policy_plan a, b, c;
	const char *err;
	/* opportunistic: a usable key is enough; a Bcc recipient (not in To/Cc) goes alone */
	policy_plan_rcpt(p, &m, "key@partner.test", &a, &err);
	policy_plan_rcpt(p, &m, "cert@partner.test", &b, &err);
	policy_plan_rcpt(p, &m, "nobody@partner.test", &c, &err);
	assert_int_equal(a.action, POLICY_PGP);
	assert_string_equal(a.trigger, "opportunistic encryption");
	assert_false(a.individual);
	assert_int_equal(b.action, POLICY_SMIME);
	assert_true(b.individual);
	assert_false(policy_plan_equal(&a, &b));
	assert_true(policy_plan_equal(&b, &b));
	assert_int_equal(c.action, POLICY_PASS);
	/* inbound secure mail is decrypted and verified */
	struct mime_info enc = {.parsed = true, .content_type = "application/pkcs7-mime"};
	struct policy_msg in = {.sender = "x@partner.test", .mime = &enc};
	policy_plan_rcpt(p, &in, "alice@example.test", &a, &err);
	assert_int_equal(a.action, POLICY_INBOUND);
	enc.content_type = "multipart/signed";
	enc.ct_protocol = "application/pgp-signature";
	policy_plan_rcpt(p, &in, "alice@example.test", &a, &err);
	assert_int_equal(a.action, POLICY_INBOUND);
	enc.content_type = "text/plain";
	policy_plan_rcpt(p, &in, "alice@example.test", &a, &err);
	assert_int_equal(a.action, POLICY_PASS);
	enum policy_channel ch;
	assert_int_equal(policy_channel_parse("pgp", &ch), 0);
	assert_int_equal(ch, POLICY_CH_PGP);
	assert_int_equal(policy_channel_parse("carrier-pigeon", &ch), -1);
	policy_free(&p);
}

/* Domain encryption: a partner domain's certificate or key serves its users without one of
 * their own (and makes all mail to the domain encrypted); personal keys and choices win. */
static const struct fake_dir domain_partners[] = {
	{"own@dom.test", {.known = true, .smime_usable = true, .domain_smime = true}},
	{"pdf@dom.test", {.known = true, .pdf_ready = true, .channel = POLICY_CH_PDF,
	                  .domain_smime = true}},
	{"plain@dom.test", {.domain_smime = true, .domain_pgp = true}},
	{"pgp@dom.test", {.domain_smime = true, .domain_pgp = true,
	                  .domain_channel = POLICY_CH_PGP}},
	{"keyonly@dom.test", {.domain_pgp = true}},
	{NULL, {0}},
};

static void domain_encryption(void **state)
{
	(void)state;
	struct policy *p = policy_new_from("example.test", "smtp:in:25", "smtp:out:25");
	policy_set_options(p, "[secure]", false, false, POLICY_CH_PDF);
	static const struct {
		const char *rcpt;
		enum policy_action action;
		bool via_domain;
		const char *via;
	} rows[] = {
		{"own@dom.test", POLICY_SMIME, false, ""},
		{"pdf@dom.test", POLICY_PDF, false, ""},
		{"plain@dom.test", POLICY_SMIME, true, "via=domain-certificate"},
		{"pgp@dom.test", POLICY_PGP, true, "via=domain-key"},
		{"keyonly@dom.test", POLICY_PGP, true, "via=domain-key"},
		{"other@else.test", POLICY_PASS, false, ""},
	};
	struct mime_info plain = {.parsed = true, .subject = "figures"};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct policy_msg m = {.sender = "boss@example.test", .internal_client = true,
		                       .mime = &plain, .lookup = fake_lookup,
		                       .lookup_ctx = (void *)domain_partners};
		struct policy_plan plan;
		const char *err;
		assert_int_equal(policy_plan_rcpt(p, &m, rows[i].rcpt, &plan, &err), 0);
		if (plan.action != rows[i].action || plan.via_domain != rows[i].via_domain)
			fail_msg("row %zu %s: got %s via_domain=%d", i, rows[i].rcpt,
			         policy_action_name(plan.action), plan.via_domain);
		assert_string_equal(policy_via_name(&plan), rows[i].via);
	}
	/* a personal certificate's recipient never shares the domain's message */
	struct policy_msg m = {.sender = "boss@example.test", .internal_client = true,
	                       .mime = &plain, .lookup = fake_lookup,
	                       .lookup_ctx = (void *)domain_partners};
	struct policy_plan a, b, c;
	const char *err;
	policy_plan_rcpt(p, &m, "plain@dom.test", &a, &err);
	policy_plan_rcpt(p, &m, "keyonly@dom.test", &b, &err);
	policy_plan_rcpt(p, &m, "own@dom.test", &c, &err);
	assert_false(policy_plan_equal(&a, &c)); /* both S/MIME: personal apart from domain */
	assert_false(policy_plan_equal(&a, &b)); /* S/MIME and PGP */
	policy_free(&p);
}

/* Discovery asks third parties: never for a recipient whose domain key an admin exchanged
 * (nor one with a key of their own); asked for an unknown recipient, whose answer is used. */
static int discovered_calls;
static int fake_discover(void *ctx, const char *addr, struct policy_rcpt_info *info_r)
{
	(void)ctx;
	(void)addr;
	discovered_calls++;
	info_r->smime_usable = true;
	return 0;
}

static void discovery_after_domain_keys(void **state)
{
	(void)state;
	struct policy *p = policy_new_from("example.test", "smtp:in:25", "smtp:out:25");
	policy_set_options(p, "[secure]", false, false, POLICY_CH_PDF);
	struct mime_info tagged = {.parsed = true, .subject = "[secure] figures"};
	struct policy_msg m = {.sender = "boss@example.test", .internal_client = true,
	                       .mime = &tagged, .lookup = fake_lookup, .discover = fake_discover,
	                       .lookup_ctx = (void *)domain_partners};
	struct policy_plan plan;
	const char *err;
	static const char *const keyed[] = {"plain@dom.test", "keyonly@dom.test", "own@dom.test"};
	for (size_t i = 0; i < sizeof(keyed) / sizeof(keyed[0]); i++) {
		assert_int_equal(policy_plan_rcpt(p, &m, keyed[i], &plan, &err), 0);
		assert_int_equal(discovered_calls, 0);
	}
	assert_true(plan.action == POLICY_SMIME && !plan.via_domain);
	assert_int_equal(policy_plan_rcpt(p, &m, "stranger@else.test", &plan, &err), 0);
	assert_int_equal(discovered_calls, 1);
	assert_true(plan.action == POLICY_SMIME && !plan.via_domain);
	policy_free(&p);
}

static void domain_names(void **state)
{
	(void)state;
	char owner[POLICY_DOMAIN_OWNER_MAX];
	assert_int_equal(policy_domain_owner("Bob@Partner.Test", owner, sizeof(owner)), 0);
	assert_string_equal(owner, "@partner.test");
	assert_int_equal(policy_domain_owner("partner.test.", owner, sizeof(owner)), 0);
	assert_string_equal(owner, "@partner.test");
	assert_int_equal(policy_domain_owner("localhost", owner, sizeof(owner)), -1);
	assert_int_equal(policy_domain_owner("a@b/../c.test", owner, sizeof(owner)), -1);
	assert_int_equal(policy_domain_owner("x@", owner, sizeof(owner)), -1);
	assert_true(policy_domain_is_owner("@partner.test"));
	assert_false(policy_domain_is_owner("bob@partner.test"));
	assert_true(policy_domain_names("partner.test", "partner.test"));
	assert_true(policy_domain_names("@partner.test", "partner.test"));
	assert_true(policy_domain_names("Postmaster@Partner.test", "partner.test"));
	assert_true(policy_domain_names("domain@partner.test", "partner.test"));
	assert_false(policy_domain_names("bob@partner.test", "partner.test"));
	assert_false(policy_domain_names("postmaster@other.test", "partner.test"));
	assert_false(policy_domain_names("postmaster@sub.partner.test", "partner.test"));
	assert_false(policy_domain_names("postmasterx@partner.test", "partner.test"));
	assert_false(policy_domain_names("other.test", "partner.test"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(direction_table),
		cmocka_unit_test(grouping),
		cmocka_unit_test(channel_table),
		cmocka_unit_test(triggers_and_bcc),
		cmocka_unit_test(hold_release_and_portal),
		cmocka_unit_test(domain_encryption),
		cmocka_unit_test(domain_names),
		cmocka_unit_test(discovery_after_domain_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* portal_questions.c: the security questions. The list is compiled in and the store keeps a
 * question's key, never its text, so texts can change and be translated. Answers are
 * normalised (so "  Main  Street" matches "main street") and kept as Argon2id strings. For an
 * address that cannot reset (unknown, or never answered questions) stand-in questions are
 * chosen by a keyed hash of the address: the same every time, telling nothing. */
#include "portal/portal_priv.h"
#include "core/settings.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "queue/held.h"
#include "store/store.h"

#include <microhttpd.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#define DECOY_KEY_META "portal.question_key"

static const struct question {
	const char *key;      /* stored; never renamed */
	const char *text_key; /* portal_i18n.c */
} questions[] = {
	{"first_pet", "sq_first_pet"},       {"birth_city", "sq_birth_city"},
	{"first_school", "sq_first_school"}, {"childhood_friend", "sq_childhood_friend"},
	{"first_car", "sq_first_car"},       {"parents_met", "sq_parents_met"},
	{"first_employer", "sq_first_employer"}, {"childhood_street", "sq_childhood_street"},
};
#define NQUESTIONS (sizeof(questions) / sizeof(questions[0]))

static const char questions_tmpl[] =
    "<p>{{t.intro_questions}}</p><form method=\"post\" action=\"/register/questions\">"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">{{&fields}}"
    "<fieldset><legend>{{t.ch_register}}</legend>"
    "<label><input type=\"radio\" name=\"channel\" value=\"webmail\"{{&c_webmail}}> "
    "{{t.ch_webmail}}</label><label><input type=\"radio\" name=\"channel\" value=\"pdf\""
    "{{&c_pdf}}> {{t.ch_pdf}}</label></fieldset>"
    "<button type=\"submit\">{{t.btn_finish}}</button></form>";

static const char choice_tmpl[] =
    "<fieldset><legend>{{t.q_legend}} {{n}}</legend>"
    "<label for=\"q{{n}}\">{{t.q_choose}}</label>"
    "<select id=\"q{{n}}\" name=\"q{{n}}\" required><option value=\"\">{{t.q_placeholder}}</option>"
    "{{&options}}</select><label for=\"answer{{n}}\">{{t.q_answer}}</label>"
    "<input type=\"text\" id=\"answer{{n}}\" name=\"answer{{n}}\" maxlength=\"128\" autocomplete=\"off\" "
    "required></fieldset>";

size_t portal_questions_count(void)
{
	return NQUESTIONS;
}

const char *portal_questions_key(size_t i)
{
	return i < NQUESTIONS ? questions[i].key : NULL;
}

static const struct question *question_find(const char *key)
{
	for (size_t i = 0; i < NQUESTIONS; i++)
		if (strcmp(questions[i].key, key) == 0)
			return &questions[i];
	return NULL;
}

bool portal_questions_known(const char *key)
{
	return question_find(key) != NULL;
}

static const char *question_text(enum portal_lang lang, const char *key)
{
	const struct question *q = question_find(key);
	return q != NULL ? portal_i18n_text(lang, q->text_key) : "?";
}

/* Bytes of white space at p: ASCII, NO-BREAK SPACE, U+2000..U+200A, NARROW NBSP, MEDIUM
 * MATHEMATICAL SPACE, IDEOGRAPHIC SPACE (phones and copy-paste bring these); 0 if none. */
static size_t space_len(const unsigned char *p)
{
	if (*p == ' ' || (*p >= '\t' && *p <= '\r'))
		return 1;
	if (p[0] == 0xc2 && p[1] == 0xa0)
		return 2;
	if (p[0] == 0xe2 && p[1] == 0x80 && ((p[2] >= 0x80 && p[2] <= 0x8a) || p[2] == 0xaf))
		return 3;
	if ((p[0] == 0xe2 && p[1] == 0x81 && p[2] == 0x9f) ||
	    (p[0] == 0xe3 && p[1] == 0x80 && p[2] == 0x80))
		return 3;
	return 0;
}

/* Bytes of the well-formed UTF-8 character at p (no overlongs, surrogates or C1 controls);
 * 0 if it is not one. */
static size_t utf8_len(const unsigned char *p)
{
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		return (p[1] & 0xc0) == 0x80 && !(p[0] == 0xc2 && p[1] < 0xa0) ? 2 : 0;
	size_t n = p[0] >= 0xe0 && p[0] <= 0xef ? 3 : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : 0;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0) ||
	    (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))
		return 0;
	return n;
}

/* Appends the character at p (n bytes) lower-cased: ASCII A-Z and Latin-1 À-Þ (not ×). */
static void put_lower(char *out, size_t *o, const unsigned char *p, size_t n)
{
	memcpy(out + *o, p, n);
	if (n == 1 && p[0] >= 'A' && p[0] <= 'Z')
		out[*o] = (char)(p[0] + 32);
	else if (n == 2 && p[0] == 0xc3 && p[1] >= 0x80 && p[1] <= 0x9e && p[1] != 0x97)
		out[*o + 1] = (char)(p[1] + 32);
	*o += n;
}

int portal_questions_normalize(const char *answer, char *out, size_t size, const char **error_r)
{
	sg_assert(size > PORTAL_ANSWER_MAX);
	out[0] = '\0';
	if (strlen(answer) > PORTAL_ANSWER_MAX) {
		*error_r = "the answer is longer than 128 bytes";
		return -1;
	}
	const unsigned char *p = (const unsigned char *)answer;
	size_t o = 0;
	bool gap = false;
	while (*p != '\0') {
		size_t n = space_len(p);
		if (n > 0) {
			gap = o > 0;
			p += n;
			continue;
		}
		if (*p < 0x20 || *p == 0x7f || (n = utf8_len(p)) == 0) {
			out[0] = '\0';
			*error_r = "the answer holds a control character or is not UTF-8";
			return -1;
		}
		if (gap)
			out[o++] = ' ';
		gap = false;
		put_lower(out, &o, p, n);
		p += n;
	}
	out[o] = '\0';
	if (o == 0) {
		*error_r = "the answer is empty";
		return -1;
	}
	return 0;
}

int portal_questions_hash_answer(const char *answer, char *out, size_t size,
                                 const char **error_r)
{
	char norm[PORTAL_ANSWER_MAX + 1];
	int rc = portal_questions_normalize(answer, norm, sizeof(norm), error_r);
	if (rc == 0)
		rc = portal_auth_hash_password(norm, out, size, error_r);
	sodium_memzero(norm, sizeof(norm));
	return rc;
}

/* An Argon2id string nobody knows the input of: stand-in questions are checked against it,
 * so a wrong answer costs the same time whether the account exists or not. */
static char dummy[STORE_PORTAL_HASH_MAX];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void dummy_init(void)
{
	char secret[PORTAL_TOKEN_HEX];
	const char *err;
	portal_auth_token_new(secret);
	if (portal_auth_hash_password(secret, dummy, sizeof(dummy), &err) < 0)
		dummy[0] = '\0';
	sodium_memzero(secret, sizeof(secret));
}

static const char *dummy_hash(void)
{
	pthread_once(&dummy_once, dummy_init);
	return dummy;
}

bool portal_questions_check(const struct store_portal_question q[STORE_PORTAL_QUESTIONS],
                            const char *const answers[STORE_PORTAL_QUESTIONS])
{
	bool all = dummy_hash()[0] != '\0'; /* made before the first check, not during one */
	for (size_t i = 0; i < STORE_PORTAL_QUESTIONS; i++) {
		char norm[PORTAL_ANSWER_MAX + 1];
		const char *err;
		bool real = q[i].answer_hash[0] != '\0';
		bool valid = portal_questions_normalize(answers[i], norm, sizeof(norm), &err) == 0;
		/* Always verify, so time does not tell which answer failed or why. */
		bool match = portal_auth_check_password(real ? q[i].answer_hash : dummy_hash(),
		                                        valid ? norm : "-");
		all = all && real && valid && match;
		sodium_memzero(norm, sizeof(norm));
	}
	return all;
}

void portal_questions_decoy(const unsigned char key[32], const char *address,
                            const char *keys_r[STORE_PORTAL_QUESTIONS])
{
	char lower[SG_ADDR_MAX];
	sg_strlcpy(lower, address, sizeof(lower));
	sg_ascii_lower(lower);
	unsigned char h[STORE_PORTAL_QUESTIONS * 2];
	crypto_generichash(h, sizeof(h), (const unsigned char *)lower, strlen(lower), key, 32);
	size_t idx[NQUESTIONS];
	for (size_t i = 0; i < NQUESTIONS; i++)
		idx[i] = i;
	/* A partial Fisher-Yates shuffle driven by the hash: three different questions. */
	for (size_t i = 0; i < STORE_PORTAL_QUESTIONS; i++) {
		size_t r = ((size_t)h[2 * i] << 8) | h[2 * i + 1];
		size_t j = i + r % (NQUESTIONS - i);
		size_t t = idx[i];
		idx[i] = idx[j];
		idx[j] = t;
		keys_r[i] = questions[idx[i]].key;
	}
}

/* The instance's key for stand-in questions: random once, then kept in the store so the
 * stand-ins stay the same across restarts (changing ones would give them away). Cached, so a
 * stand-in costs no more store work than a real account. */
static unsigned char decoy_cached[32];
static bool decoy_have;
static pthread_mutex_t decoy_lock = PTHREAD_MUTEX_INITIALIZER;

static int decoy_key_load(struct store *st, unsigned char key[32], const char **error_r)
{
	if (decoy_have) {
		memcpy(key, decoy_cached, sizeof(decoy_cached));
		return 0;
	}
	unsigned char fresh[32];
	char fresh_hex[65], hex[80];
	randombytes_buf(fresh, sizeof(fresh));
	sodium_bin2hex(fresh_hex, sizeof(fresh_hex), fresh, sizeof(fresh));
	int rc = store_portal_meta_once(st, DECOY_KEY_META, fresh_hex, hex, sizeof(hex), error_r);
	size_t len = 0;
	if (rc == 0 && (sodium_hex2bin(key, 32, hex, strlen(hex), NULL, &len, NULL) != 0 ||
	                len != 32)) {
		*error_r = "store: the portal's question key is damaged";
		rc = -1;
	}
	if (rc == 0) {
		memcpy(decoy_cached, key, sizeof(decoy_cached));
		decoy_have = true;
	}
	sodium_memzero(fresh, sizeof(fresh));
	sodium_memzero(fresh_hex, sizeof(fresh_hex));
	sodium_memzero(hex, sizeof(hex));
	return rc;
}

/* The portal's request threads share the cache. */
static int decoy_key(struct store *st, unsigned char key[32], const char **error_r)
{
	pthread_mutex_lock(&decoy_lock);
	int rc = decoy_key_load(st, key, error_r);
	pthread_mutex_unlock(&decoy_lock);
	return rc;
}

int portal_questions_for(struct portal_req *req, const char *address,
                         struct store_portal_question q_r[STORE_PORTAL_QUESTIONS],
                         int64_t *user_id_r, const char **error_r)
{
	struct store_portal_account a;
	*user_id_r = 0;
	int found = strlen(address) < SG_ADDR_MAX
	                ? store_portal_account_get(req->ctx->st, address, &a, error_r)
	                : 0;
	if (found < 0)
		return -1;
	if (found == 1 && a.registered != 0) {
		int rc = store_portal_questions_get(req->ctx->st, a.user_id, q_r, error_r);
		if (rc < 0)
			return -1;
		if (rc == 1) {
			*user_id_r = a.user_id;
			return 0;
		}
	}
	unsigned char key[32];
	const char *keys[STORE_PORTAL_QUESTIONS];
	if (decoy_key(req->ctx->st, key, error_r) < 0)
		return -1;
	portal_questions_decoy(key, address, keys);
	sodium_memzero(key, sizeof(key));
	memset(q_r, 0, sizeof(*q_r) * STORE_PORTAL_QUESTIONS);
	for (size_t i = 0; i < STORE_PORTAL_QUESTIONS; i++)
		sg_strlcpy(q_r[i].key, keys[i], sizeof(q_r[i].key));
	return 0;
}

void portal_questions_answer_fields(struct portal_req *req, struct sg_buf *b,
                                    const struct store_portal_question q[STORE_PORTAL_QUESTIONS])
{
	for (size_t i = 0; i < STORE_PORTAL_QUESTIONS; i++) {
		char n[4];
		sg_snprintf(n, sizeof(n), "%zu", i + 1);
		struct portal_var v[] = {{"n", n, false},
		                         {"question", question_text(req->lang, q[i].key), false}};
		portal_html_render(b, "<label for=\"answer{{n}}\">{{question}}</label>"
		                      "<input type=\"text\" id=\"answer{{n}}\" name=\"answer{{n}}\" maxlength=\"128\" "
		                      "autocomplete=\"off\" required>",
		                   v, 2, req->lang);
	}
}

/* One question's fieldset: the choice (keeping the earlier pick) and the answer field. */
static void choice_html(struct portal_req *req, struct sg_buf *b, size_t i, const char *picked)
{
	struct sg_buf opts;
	sg_buf_init(&opts, 8192);
	for (size_t k = 0; k < NQUESTIONS; k++) {
		struct portal_var ov[] = {
			{"key", questions[k].key, false},
			{"sel", strcmp(picked, questions[k].key) == 0 ? " selected" : "", true},
			{"text", portal_i18n_text(req->lang, questions[k].text_key), false}};
		portal_html_render(&opts, "<option value=\"{{key}}\"{{&sel}}>{{text}}</option>", ov, 3,
		                   req->lang);
	}
	char n[4];
	sg_snprintf(n, sizeof(n), "%zu", i + 1);
	struct portal_var v[] = {{"n", n, false},
	                         {"options", opts.data != NULL ? opts.data : "", true}};
	portal_html_render(b, choice_tmpl, v, 2, req->lang);
	sg_buf_free(&opts);
}

static void questions_page(struct portal_req *req, struct portal_resp *resp, const char *msg_key)
{
	struct sg_buf fields, content, msg;
	sg_buf_init(&fields, SG_HTTP_PAGE_MAX / 2);
	sg_buf_init(&content, SG_HTTP_PAGE_MAX);
	sg_buf_init(&msg, 8192);
	for (size_t i = 0; i < STORE_PORTAL_QUESTIONS; i++) {
		char name[4];
		sg_snprintf(name, sizeof(name), "q%zu", i + 1);
		choice_html(req, &fields, i, portal_form_get(&req->form, name));
	}
	if (msg_key != NULL)
		portal_pages_msg(&msg, "error", portal_i18n_text(req->lang, msg_key), NULL);
	const char *ch = portal_form_get(&req->form, "channel");
	if (strcmp(ch, "webmail") != 0 && strcmp(ch, "pdf") != 0)
		ch = settings_get(req->ctx->set, "policy.default_external_channel");
	struct portal_var v[] = {{"csrf", req->sess.csrf, false},
	                         {"fields", fields.data != NULL ? fields.data : "", true},
	                         {"c_webmail", strcmp(ch, "webmail") == 0 ? " checked" : "", true},
	                         {"c_pdf", strcmp(ch, "webmail") != 0 ? " checked" : "", true}};
	portal_html_render(&content, questions_tmpl, v, sizeof(v) / sizeof(v[0]), req->lang);
	portal_pages_frame(req, resp, "title_questions", msg.data,
	                   content.data != NULL ? content.data : "");
	sg_buf_free(&fields);
	sg_buf_free(&content);
	sg_buf_free(&msg);
}

void portal_questions_register_get(struct portal_req *req, struct portal_resp *resp)
{
	questions_page(req, resp, NULL);
}

/* The three picks and answers of the form, hashed; NULL or the failure's text key. */
static const char *read_choices(struct portal_req *req,
                                struct store_portal_question q[STORE_PORTAL_QUESTIONS])
{
	const char *err;
	for (size_t i = 0; i < STORE_PORTAL_QUESTIONS; i++) {
		char qn[4], an[16], norm[PORTAL_ANSWER_MAX + 1];
		sg_snprintf(qn, sizeof(qn), "q%zu", i + 1);
		sg_snprintf(an, sizeof(an), "answer%zu", i + 1);
		const char *key = portal_form_get(&req->form, qn);
		if (!portal_questions_known(key))
			return "err_q_choose";
		for (size_t j = 0; j < i; j++)
			if (strcmp(q[j].key, key) == 0)
				return "err_q_distinct";
		sg_strlcpy(q[i].key, key, sizeof(q[i].key));
		if (portal_questions_normalize(portal_form_get(&req->form, an), norm, sizeof(norm),
		                               &err) < 0)
			return "err_q_answer";
		sodium_memzero(norm, sizeof(norm));
	}
	for (size_t i = 0; i < STORE_PORTAL_QUESTIONS; i++) {
		char an[16];
		sg_snprintf(an, sizeof(an), "answer%zu", i + 1);
		if (portal_questions_hash_answer(portal_form_get(&req->form, an), q[i].answer_hash,
		                                 sizeof(q[i].answer_hash), &err) < 0)
			return "err_internal";
	}
	return NULL;
}

/* Registration is complete: mail held for the partner goes out by the new channel. A failure
 * here does not undo the registration; the held mail stays sealed in the store. */
static void registration_done(struct portal_req *req, const char *address)
{
	char actor[SG_ADDR_MAX + 8];
	sg_snprintf(actor, sizeof(actor), "portal:%s", address);
	struct held_ctx hc = {.settings = req->ctx->set, .store = req->ctx->st,
	                      .keystore = req->ctx->ks, .spool = req->ctx->spool, .actor = actor};
	size_t count = 0;
	const char *err;
	char detail[64];
	if (held_mail_release(&hc, address, &count, &err) < 0) {
		sg_error("held mail for a new partner: %s", err);
		portal_pages_audit(req, "release-failed", address, err);
		return;
	}
	if (count > 0) {
		sg_snprintf(detail, sizeof(detail), "%zu held message(s)", count);
		portal_pages_audit(req, "released", address, detail);
	}
}

/* The account is still waiting for this step: a password chosen, the invitation open. */
static bool still_pending(struct portal_req *req, struct store_portal_account *a)
{
	const char *err;
	return store_portal_account_get(req->ctx->st, req->sess.address, a, &err) == 1 &&
	       a->user_id == req->sess.user_id && a->registered == 0 && a->otp_hash[0] != '\0' &&
	       a->otp_expires > req->now && a->password_hash[0] != '\0';
}

void portal_questions_register_post(struct portal_req *req, struct portal_resp *resp)
{
	struct store_portal_account a;
	struct store_portal_question q[STORE_PORTAL_QUESTIONS];
	const char *err;
	memset(q, 0, sizeof(q));
	if (!still_pending(req, &a)) {
		questions_page(req, resp, "err_otp");
		return;
	}
	const char *fail = read_choices(req, q);
	if (fail == NULL && (store_portal_questions_set(req->ctx->st, a.user_id, q, &err) < 0 ||
	                     store_portal_register(req->ctx->st, a.user_id, a.password_hash,
	                                           req->now, &err) < 0))
		fail = "err_internal";
	sodium_memzero(q, sizeof(q));
	if (fail != NULL) {
		questions_page(req, resp, fail);
		return;
	}
	portal_pages_audit(req, "registered", a.address, "");
	/* The channel chosen here is the one held mail goes out by. */
	const char *ch = portal_form_get(&req->form, "channel");
	if ((strcmp(ch, "webmail") == 0 || strcmp(ch, "pdf") == 0) &&
	    store_user_set_channel(req->ctx->st, a.address, ch, &err) == 1)
		portal_pages_audit(req, "channel", a.address, ch);
	registration_done(req, a.address);
	if (portal_pages_new_session(req, a.user_id, a.address, PORTAL_LOGGED_IN) < 0) {
		portal_pages_redirect(resp, "/login");
		return;
	}
	portal_cookie_device_set(req, resp, a.address); /* the browser that registered is known */
	portal_pages_redirect(resp, "/account?m=registered");
}

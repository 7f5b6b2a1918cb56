/* portal.h: the web portal where partners register (invitation OTP), log in and choose how
 * secure mail reaches them. Pages are rendered here from compiled-in templates; every value is
 * HTML-escaped unless a template asks otherwise. Form parsing is bounded by core/limits.h. */
#ifndef SG_PORTAL_H
#define SG_PORTAL_H

#include "core/limits.h"
#include "core/sg_buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct role_ctx;
struct store;

/* The portal role's entry function (roles.c). */
int portal_main(struct role_ctx *ctx);

/* ---- portal_form.c: application/x-www-form-urlencoded and multipart/form-data ---- */
struct portal_field {
	char *name;
	char *value;      /* NUL-terminated; text fields hold no NUL and are <= SG_HTTP_FIELD_MAX */
	size_t value_len;
	bool is_file;     /* a multipart part with a filename (binary allowed) */
	char *filename;   /* file parts: the name as sent (may be ""), else NULL */
	char *content_type; /* file parts: "type/subtype" when sent and well-formed, else NULL */
};
struct portal_form {
	struct portal_field fields[SG_HTTP_FIELDS_MAX];
	size_t n;
};
/* Parses body (at most SG_HTTP_COMPOSE_BODY_MAX bytes: the server caps each route lower) by
 * content_type (either kind; NULL or other types are refused). Values are wiped when the form
 * is cleared (passwords pass through here). */
int portal_form_parse(const char *content_type, const char *body, size_t len,
                      struct portal_form *form_r, const char **error_r);
/* The value of the first field called name, or "" when absent. */
const char *portal_form_get(const struct portal_form *form, const char *name);
const struct portal_field *portal_form_field(const struct portal_form *form, const char *name);
void portal_form_clear(struct portal_form *form);
/* The ceiling of a text field called name: SG_HTTP_TEXT_MAX for "text" (a message written on
 * the portal), SG_HTTP_FIELD_MAX for every other. */
size_t portal_form_field_max(const char *name);

/* ---- portal_html.c: escaping and templates ---- */
enum portal_lang { PORTAL_LANG_EN, PORTAL_LANG_DE };
/* Appends s HTML-escaped (& < > " ' `): safe in text and in quoted attributes. Each byte that
 * starts no well-formed UTF-8 sequence becomes U+FFFD (pages are declared UTF-8, and form
 * values are echoed). -1 past the buffer's ceiling. */
int portal_html_escape(struct sg_buf *b, const char *s);
struct portal_var {
	const char *name;
	const char *value;
	bool raw; /* already HTML (made by us from escaped parts) */
};
/* Expands tmpl: {{name}} is a var, escaped; {{t.key}} a translated text, escaped; {{&name}}
 * a raw var. Unknown names are a broken invariant. */
int portal_html_render(struct sg_buf *b, const char *tmpl, const struct portal_var *vars,
                       size_t nvars, enum portal_lang lang);

/* "512 B", "1.2 KB", "3.4 MB". */
void portal_html_size(int64_t bytes, char *dst, size_t size);
/* "2026-12-07 15:20 UTC" ("-" when t cannot be shown). */
void portal_html_time(time_t t, char *dst, size_t size);

/* ---- portal_i18n.c: English and German texts ---- */
const char *portal_i18n_text(enum portal_lang lang, const char *key);
/* The language from the "lang" cookie value, else Accept-Language (q-values honoured). */
enum portal_lang portal_i18n_pick(const char *cookie, const char *accept_language);
const char *portal_i18n_code(enum portal_lang lang);

/* ---- portal_auth.c: secrets: passwords, OTPs, session ids, CSRF tokens ---- */
#define PORTAL_TOKEN_HEX 65 /* 32 random bytes as hex, with NUL */
/* Argon2id (libsodium crypto_pwhash_str) of pw into out (STORE_PORTAL_HASH_MAX). */
int portal_auth_hash_password(const char *pw, char *out, size_t outsize, const char **error_r);
bool portal_auth_check_password(const char *hash, const char *pw);
void portal_auth_token_new(char out[PORTAL_TOKEN_HEX]);
/* The hash (hex) under which a session id is stored. */
void portal_auth_token_hash(const char *token, char out[PORTAL_TOKEN_HEX]);
bool portal_auth_equal(const char *a, const char *b);
/* The CSRF token of an anonymous visitor: a keyed hash (hex) of their session cookie. */
void portal_auth_anon_csrf(const unsigned char key[32], const char *token,
                           char out[PORTAL_TOKEN_HEX]);
/* A portal key (anonymous CSRF tokens, signed cookies) by its name in the store's meta
 * table: made once at random, kept there. */
int portal_auth_stored_key(struct store *st, const char *name, unsigned char key_r[32],
                           const char **error_r);

#endif

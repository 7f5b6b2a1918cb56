/* settings_validate.c: checks a value against its declaration and says what is allowed,
 * so check-config can name the key, the bad value and the range. */
#include "core/settings.h"
#include "core/sg_file.h"
#include "core/sg_net.h"
#include "core/sg_str.h"
#include "core/sg_time.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

const char *settings_type_name(enum setting_type type)
{
	static const char *const names[] = {
		[SETTING_STRING] = "string",      [SETTING_INT] = "integer",
		[SETTING_SIZE] = "size",          [SETTING_BOOL] = "boolean",
		[SETTING_DURATION] = "duration",  [SETTING_ENUM] = "choice",
		[SETTING_DOMAINS] = "domain list", [SETTING_ENDPOINTS] = "address list",
		[SETTING_NETWORKS] = "network list", [SETTING_ROUTE] = "route",
		[SETTING_PATH] = "path",          [SETTING_URL] = "URL",
		[SETTING_ENUM_LIST] = "choice list", [SETTING_URL_LIST] = "URL list",
		[SETTING_STORE] = "store",
	};
	return names[type];
}

static long long parse_size(const char *s)
{
	static const struct sg_unit units[] = {
		{'k', 1024}, {'m', 1024 * 1024}, {'g', 1024 * 1024 * 1024}};
	return sg_strtonum_unit(s, units, sizeof(units) / sizeof(units[0]), 1LL << 40);
}

static int parse_bool(const char *s)
{
	static const char *const yes[] = {"yes", "on", "true", "1"};
	static const char *const no[] = {"no", "off", "false", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (sg_streq_nocase(s, yes[i]))
			return 1;
		if (sg_streq_nocase(s, no[i]))
			return 0;
	}
	return -1;
}

long long settings_parse_number(const struct setting_def *def, const char *value)
{
	switch (def->type) {
	case SETTING_SIZE: return parse_size(value);
	case SETTING_DURATION: return sg_duration_parse(value);
	case SETTING_BOOL: return parse_bool(value);
	case SETTING_INT: {
		const char *err;
		long long v = sg_strtonum(value, def->min, def->max, &err);
		return err != NULL ? -1 : v;
	}
	default: return -1;
	}
}

static bool valid_domain(const char *d)
{
	size_t len = strlen(d);
	if (len == 0 || len > 253 || d[0] == '.' || d[0] == '-' || d[len - 1] == '.')
		return false;
	for (const char *p = d; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if (!(isalnum(c) || c == '-' || c == '.' || c >= 0x80))
			return false;
		if (c == '.' && p[1] == '.')
			return false;
	}
	return true;
}

typedef int (*item_check_fn)(const char *item, char *why, size_t whysize);

static int check_domain(const char *item, char *why, size_t whysize)
{
	if (valid_domain(item))
		return 0;
	snprintf(why, whysize, "'%s' is not a domain name", item);
	return -1;
}

static int check_endpoint(const char *item, char *why, size_t whysize)
{
	struct sg_endpoint ep;
	const char *err;
	if (sg_endpoint_parse(item, &ep, &err) == 0)
		return 0;
	snprintf(why, whysize, "'%s': %s", item, err);
	return -1;
}

static int check_network(const char *item, char *why, size_t whysize)
{
	struct sg_cidr c;
	const char *err;
	if (sg_cidr_parse(item, &c, &err) == 0)
		return 0;
	snprintf(why, whysize, "'%s': %s (expected e.g. 10.0.0.0/8 or ::1/128)", item, err);
	return -1;
}

static int check_list(const char *value, item_check_fn fn, bool required, char *why,
                      size_t whysize)
{
	struct sg_strlist list;
	sg_strlist_split(&list, value);
	int rc = 0;
	if (list.count == 0 && required) {
		snprintf(why, whysize, "must list at least one value");
		rc = -1;
	}
	for (size_t i = 0; rc == 0 && i < list.count; i++)
		rc = fn(list.items[i], why, whysize);
	sg_strlist_free(&list);
	return rc;
}

static int check_route(const struct setting_def *def, const char *value, char *why,
                       size_t whysize)
{
	if (strcmp(value, "mx") == 0 && strcmp(def->key, "route.external") == 0)
		return 0;
	if (strncmp(value, "maildir:", 8) == 0 && value[8] != '\0')
		return 0;
	struct sg_endpoint ep;
	const char *tls, *err = "expected smtp:HOST:PORT";
	if (strncmp(value, "smtp:", 5) == 0 && sg_smtp_route_parse(value, &ep, &tls, &err) == 0)
		return 0;
	snprintf(why, whysize, "%s (smtp:HOST:PORT [tls=may|encrypt|verify]%s or maildir:PATH)", err,
	         strcmp(def->key, "route.external") == 0 ? ", mx" : "");
	return -1;
}

/* http(s)://, then printable ASCII without spaces (what goes into links and certificates); ""
 * passes the type check (required keys are refused before). */
static int check_url(const char *value, char *why, size_t whysize)
{
	if (value[0] == '\0')
		return 0;
	bool ok = strlen(value) <= 255 &&
	          (strncmp(value, "https://", 8) == 0 || strncmp(value, "http://", 7) == 0);
	for (const char *c = value; ok && *c != '\0'; c++)
		ok = *c > ' ' && *c < 0x7f;
	if (!ok)
		snprintf(why, whysize, "must be an https:// or http:// URL of at most 255 characters, "
		                       "without spaces");
	return ok ? 0 : -1;
}

static bool uri_has_password(const char *uri)
{
	const char *auth = uri + strcspn(uri, ":") + 3;
	size_t len = strcspn(auth, "@/?");
	return (auth[len] == '@' && memchr(auth, ':', len) != NULL) ||
	       strstr(uri, "?password=") != NULL || strstr(uri, "&password=") != NULL;
}

/* The shape only: libpq parses a postgresql:// URI in full when the store opens (and in
 * check-config). A password in it would sit in a file many can read: it has its own file. */
static int check_store(const char *value, char *why, size_t whysize)
{
	bool pg = strncmp(value, "postgresql://", 13) == 0 || strncmp(value, "postgres://", 11) == 0;
	if (!pg && (strncmp(value, "sqlite:", 7) != 0 || value[7] == '\0')) {
		snprintf(why, whysize, "must be sqlite:PATH or postgresql://USER@HOST:PORT/DATABASE");
		return -1;
	}
	if (pg && uri_has_password(value)) {
		snprintf(why, whysize, "must not hold a password: put it in store.password_file");
		return -1;
	}
	return 0;
}

static int check_enum(const struct setting_def *def, const char *value, char *why,
                      size_t whysize)
{
	size_t vl = strlen(value);
	for (const char *p = def->choices; *p != '\0';) {
		size_t l = strcspn(p, "|");
		if (l == vl && strncmp(p, value, l) == 0)
			return 0;
		p += l + (p[l] == '|');
	}
	snprintf(why, whysize, "must be one of %s", def->choices);
	return -1;
}

static int check_number(const struct setting_def *def, const char *value, char *why,
                        size_t whysize)
{
	long long v = settings_parse_number(def, value);
	if (def->type == SETTING_BOOL) {
		if (v >= 0)
			return 0;
		snprintf(why, whysize, "must be yes or no");
		return -1;
	}
	if (v >= def->min && v <= def->max)
		return 0;
	const char *unit = def->type == SETTING_SIZE ? " bytes (K, M, G suffixes allowed)"
	                   : def->type == SETTING_DURATION ? " seconds (s, m, h, d suffixes allowed)"
	                                                   : "";
	snprintf(why, whysize, "must be a number from %lld to %lld%s", def->min, def->max, unit);
	return -1;
}

/* True if s[0..len) is one of choices ("a|b|c"). */
static bool choice_has(const char *choices, const char *s, size_t len)
{
	for (const char *p = choices; *p != '\0';) {
		size_t l = strcspn(p, "|");
		if (l == len && strncmp(p, s, l) == 0)
			return true;
		p += l + (p[l] == '|');
	}
	return false;
}

/* Items of choices, each at most once (a chain is tried in the order given); "off" alone. */
static int check_enum_list(const struct setting_def *def, const char *value, char *why,
                           size_t whysize)
{
	struct sg_strlist list;
	sg_strlist_split(&list, value);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < list.count; i++) {
		const char *item = list.items[i];
		rc = -1;
		if (!choice_has(def->choices, item, strlen(item)))
			snprintf(why, whysize, "each item must be one of %s", def->choices);
		else if (strcmp(item, "off") == 0 && list.count > 1)
			snprintf(why, whysize, "off cannot be combined with other items");
		else
			rc = 0;
		for (size_t k = 0; k < i && rc == 0; k++)
			if (strcmp(list.items[k], item) == 0) {
				snprintf(why, whysize, "%.40s is listed twice", item);
				rc = -1;
			}
	}
	sg_strlist_free(&list);
	return rc;
}

/* Each item SCHEME://REST with SCHEME one of choices, printable ASCII, at most 255 bytes. */
static int check_url_list(const struct setting_def *def, const char *value, char *why,
                          size_t whysize)
{
	struct sg_strlist list;
	sg_strlist_split_spaces(&list, value);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < list.count; i++) {
		const char *item = list.items[i], *sep = strstr(item, "://");
		bool ok = sep != NULL && strlen(item) <= 255 && sep[3] != '\0' &&
		          choice_has(def->choices, item, (size_t)(sep - item));
		for (const char *c = item; ok && *c != '\0'; c++)
			ok = *c > ' ' && *c < 0x7f;
		if (!ok) {
			snprintf(why, whysize, "%.100s: expected a URL (%s://...) of at most 255 characters, "
			                       "without spaces", item, def->choices);
			rc = -1;
		}
	}
	sg_strlist_free(&list);
	return rc;
}

int settings_validate(const struct setting_def *def, const char *value, char *why,
                      size_t whysize)
{
	if (strlen(value) >= 4096) {
		snprintf(why, whysize, "value too long");
		return -1;
	}
	if (def->required && value[0] == '\0') {
		snprintf(why, whysize, "must be set");
		return -1;
	}
	switch (def->type) {
	case SETTING_STRING: return 0;
	case SETTING_PATH: return 0;
	case SETTING_INT:
	case SETTING_SIZE:
	case SETTING_DURATION:
	case SETTING_BOOL: return check_number(def, value, why, whysize);
	case SETTING_ENUM: return check_enum(def, value, why, whysize);
	case SETTING_DOMAINS: return check_list(value, check_domain, def->required, why, whysize);
	case SETTING_ENDPOINTS: return check_list(value, check_endpoint, def->required, why, whysize);
	case SETTING_NETWORKS: return check_list(value, check_network, def->required, why, whysize);
	case SETTING_ROUTE: return check_route(def, value, why, whysize);
	case SETTING_URL: return check_url(value, why, whysize);
	case SETTING_ENUM_LIST: return check_enum_list(def, value, why, whysize);
	case SETTING_URL_LIST: return check_url_list(def, value, why, whysize);
	case SETTING_STORE: return check_store(value, why, whysize);
	}
	return -1;
}

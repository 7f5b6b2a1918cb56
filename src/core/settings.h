/* settings.h: the typed table of every configuration key, and the loaded configuration.
 * The one table drives validation (check-config), defaults (config get) and the generated
 * docs/configuration.md; a key that is not in the table does not exist. */
#ifndef SG_SETTINGS_H
#define SG_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum setting_type {
	SETTING_STRING,
	SETTING_INT,
	SETTING_SIZE,      /* bytes, with optional K, M, G suffix */
	SETTING_BOOL,      /* yes/no, on/off, true/false, 1/0 */
	SETTING_DURATION,  /* seconds, with optional s, m, h, d suffix */
	SETTING_ENUM,      /* one of choices ("a|b|c") */
	SETTING_DOMAINS,   /* list of domain names */
	SETTING_ENDPOINTS, /* list of [host]:port */
	SETTING_NETWORKS,  /* list of CIDR */
	SETTING_ROUTE,     /* smtp:HOST:PORT or maildir:PATH */
	SETTING_PATH,      /* relative to the configuration file's directory */
	SETTING_URL,       /* http:// or https:// */
	SETTING_ENUM_LIST, /* comma-separated choices ("a|b|c"), each at most once, in order */
	SETTING_URL_LIST,  /* comma-separated URLs of the schemes in choices ("ldap|ldaps") */
	SETTING_STORE,     /* sqlite:PATH or postgresql://... (a libpq URI without a password) */
};

struct setting_def {
	const char *key;     /* "section.name" */
	enum setting_type type;
	const char *def;     /* default, in the file's syntax */
	long long min, max;  /* INT, SIZE, DURATION (seconds) */
	const char *choices; /* ENUM */
	bool required;       /* must be set to a non-empty value */
	const char *doc;     /* one line, shown in docs/configuration.md */
};

const struct setting_def *settings_table(size_t *count_r);
const struct setting_def *settings_find(const char *key);
const char *settings_type_name(enum setting_type type);
/* Checks value against def; on error writes why (what is allowed) and returns -1. */
int settings_validate(const struct setting_def *def, const char *value, char *why, size_t whysize);
/* Parses a validated SIZE/INT/DURATION/BOOL value. */
long long settings_parse_number(const struct setting_def *def, const char *value);
/* Writes docs/configuration.md's text to fd; -1 if a key lacks its doc string. */
int settings_write_docs(int fd);
/* Writes the man page sealgate.conf(5) to f; -1 if a key lacks its doc string or f failed. */
int settings_write_man(FILE *f);

struct settings;
/* Loads and validates path; every problem is one line in errors_r (caller frees).
 * Returns NULL if any key is unknown or invalid. */
struct settings *settings_load(const char *path, char **errors_r);
/* The same from text already read (path names the file for messages and relative paths). The
 * master hands its children the text it validated, so a file edited since is never half-used. */
struct settings *settings_load_text(const char *path, const char *text, char **errors_r);
void settings_free(struct settings **s);
/* The value of key, or its default; key must be in the table (asserted). */
const char *settings_get(const struct settings *s, const char *key);
bool settings_is_set(const struct settings *s, const char *key);
long long settings_number(const struct settings *s, const char *key);
bool settings_bool(const struct settings *s, const char *key);
/* A PATH (or maildir route path) resolved against the configuration's directory. */
int settings_path(const struct settings *s, const char *key, char *dst, size_t dstsize);
const char *settings_dir(const struct settings *s);
const char *settings_file(const struct settings *s);

/* Sets key = value in the file at path, keeping every other line; validates first.
 * Returns 0, or -1 with a message in why. */
int settings_file_set(const char *path, const char *key, const char *value, char *why,
                      size_t whysize);

#endif

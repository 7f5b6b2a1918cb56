/* settings_load.c: reads an INI file (libinih) into the values of the settings table,
 * collecting every problem instead of stopping at the first, so check-config can list
 * them all. */
#include "core/limits.h"
#include "core/settings.h"
#include "core/sg_buf.h"
#include "core/sg_file.h"
#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <ini.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>

struct settings {
	char *file;
	char *dir;
	size_t count;
	char **values; /* index as in the table; NULL = default */
};

struct load_ctx {
	struct settings *s;
	const struct setting_def *table;
	struct sg_buf errors;
};

static void add_error(struct load_ctx *ctx, const char *key, const char *value, const char *why)
{
	char shown[120];
	sg_printable(shown, sizeof(shown), value != NULL ? value : "", 80);
	if (value != NULL)
		sg_buf_printf(&ctx->errors, "%s: %s = '%s': %s\n", ctx->s->file, key, shown, why);
	else
		sg_buf_printf(&ctx->errors, "%s: %s: %s\n", ctx->s->file, key, why);
}

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
	struct load_ctx *ctx = user;
	char key[256];
	if (sg_snprintf(key, sizeof(key), "%s.%s", section, name) < 0) {
		add_error(ctx, section, NULL, "key too long");
		return 1;
	}
	const struct setting_def *def = settings_find(key);
	if (def == NULL) {
		add_error(ctx, key, value, "unknown key; docs/configuration.md lists the keys");
		return 1;
	}
	char why[256];
	if (settings_validate(def, value, why, sizeof(why)) < 0) {
		add_error(ctx, key, value, why);
		return 1;
	}
	size_t i = (size_t)(def - ctx->table);
	sg_free(&ctx->s->values[i]);
	ctx->s->values[i] = sg_strdup(value);
	return 1;
}

static void check_required(struct load_ctx *ctx)
{
	for (size_t i = 0; i < ctx->s->count; i++) {
		const struct setting_def *d = &ctx->table[i];
		const char *v = ctx->s->values[i] != NULL ? ctx->s->values[i] : d->def;
		if (d->required && v[0] == '\0')
			add_error(ctx, d->key, NULL, "is not set; it is required");
	}
}

static struct settings *settings_new(const char *path, size_t count)
{
	struct settings *s = sg_calloc(1, sizeof(*s));
	s->file = sg_strdup(path);
	char tmp[SG_PATH_MAX];
	sg_strlcpy(tmp, path, sizeof(tmp));
	s->dir = sg_strdup(dirname(tmp));
	s->count = count;
	s->values = sg_calloc(count, sizeof(char *));
	return s;
}

/* text NULL: the file could not be read (read_err says why). */
static struct settings *load(const char *path, const char *text, const char *read_err,
                             char **errors_r)
{
	struct load_ctx ctx;
	size_t count;
	ctx.table = settings_table(&count);
	ctx.s = settings_new(path, count);
	sg_buf_init(&ctx.errors, 64 * 1024);
	if (text == NULL) {
		sg_buf_printf(&ctx.errors, "%s: %s\n", path, read_err);
	} else {
		int line = ini_parse_string(text, on_entry, &ctx);
		if (line > 0)
			sg_buf_printf(&ctx.errors, "%s:%d: syntax error (expected [section] or key = value)\n",
			              path, line);
		check_required(&ctx);
	}
	if (ctx.errors.len > 0) {
		settings_free(&ctx.s);
		*errors_r = sg_buf_steal(&ctx.errors, NULL);
		return NULL;
	}
	sg_buf_free(&ctx.errors);
	*errors_r = NULL;
	return ctx.s;
}

struct settings *settings_load_text(const char *path, const char *text, char **errors_r)
{
	return load(path, text, NULL, errors_r);
}

struct settings *settings_load(const char *path, char **errors_r)
{
	char *text = NULL;
	const char *err;
	char why[300] = "";
	if (sg_file_read_all(path, SG_CONFIG_FILE_MAX, &text, NULL, &err) < 0)
		snprintf(why, sizeof(why), "%s: %m", err);
	struct settings *s = load(path, text, why, errors_r);
	sg_free(&text);
	return s;
}

void settings_free(struct settings **sp)
{
	struct settings *s = *sp;
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->count; i++)
		sg_free(&s->values[i]);
	sg_free(&s->values);
	sg_free(&s->file);
	sg_free(&s->dir);
	sg_free(sp);
}

static size_t index_of(const char *key)
{
	size_t count;
	const struct setting_def *t = settings_table(&count);
	const struct setting_def *d = settings_find(key);
	if (d == NULL)
		sg_fatal("BUG: setting %s is not declared in core/settings.c", key);
	return (size_t)(d - t);
}

const char *settings_get(const struct settings *s, const char *key)
{
	size_t i = index_of(key);
	return s->values[i] != NULL ? s->values[i] : settings_table(&(size_t){0})[i].def;
}

bool settings_is_set(const struct settings *s, const char *key)
{
	return s->values[index_of(key)] != NULL;
}

long long settings_number(const struct settings *s, const char *key)
{
	const struct setting_def *d = settings_find(key);
	long long v = settings_parse_number(d, settings_get(s, key));
	sg_assert(v >= 0);
	return v;
}

bool settings_bool(const struct settings *s, const char *key)
{
	return settings_number(s, key) == 1;
}

int settings_path(const struct settings *s, const char *key, char *dst, size_t dstsize)
{
	return sg_path_resolve(dst, dstsize, s->dir, settings_get(s, key));
}

const char *settings_dir(const struct settings *s) { return s->dir; }

const char *settings_file(const struct settings *s) { return s->file; }

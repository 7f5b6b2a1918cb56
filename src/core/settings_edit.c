/* settings_edit.c: `config set` edits one key in place, like `postconf -e`: every other
 * line (comments included) is kept, and the file is replaced atomically. */
#include "core/limits.h"
#include "core/settings.h"
#include "core/sg_buf.h"
#include "core/sg_file.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Does line (without newline) open [section]? */
static bool is_section(const char *line, size_t len, const char **name_r, size_t *nlen_r)
{
	while (len > 0 && (*line == ' ' || *line == '\t'))
		line++, len--;
	if (len < 2 || line[0] != '[')
		return false;
	const char *end = memchr(line, ']', len);
	if (end == NULL)
		return false;
	*name_r = line + 1;
	*nlen_r = (size_t)(end - line - 1);
	return true;
}

static bool is_key(const char *line, size_t len, const char *name)
{
	while (len > 0 && (*line == ' ' || *line == '\t'))
		line++, len--;
	size_t nl = strlen(name);
	if (len < nl || strncmp(line, name, nl) != 0)
		return false;
	for (size_t i = nl; i < len; i++) {
		if (line[i] == '=' || line[i] == ':')
			return true;
		if (line[i] != ' ' && line[i] != '\t')
			return false;
	}
	return false;
}

struct edit {
	const char *section, *name, *value;
	struct sg_buf out;
	bool in_section, done, seen_section;
};

static void emit_setting(struct edit *e)
{
	sg_buf_printf(&e->out, "%s = %s\n", e->name, e->value);
	e->done = true;
}

static void edit_line(struct edit *e, const char *line, size_t len)
{
	const char *sec;
	size_t slen;
	if (is_section(line, len, &sec, &slen)) {
		if (e->in_section && !e->done)
			emit_setting(e);
		e->in_section = slen == strlen(e->section) && strncmp(sec, e->section, slen) == 0;
		e->seen_section |= e->in_section;
	} else if (e->in_section && is_key(line, len, e->name)) {
		if (!e->done)
			emit_setting(e);
		return; /* drop the old line (and any duplicate) */
	}
	sg_buf_append(&e->out, line, len);
	sg_buf_append_str(&e->out, "\n");
}

int settings_file_set(const char *path, const char *key, const char *value, char *why,
                      size_t whysize)
{
	const struct setting_def *def = settings_find(key);
	if (def == NULL) {
		snprintf(why, whysize, "unknown key %s; see docs/configuration.md", key);
		return -1;
	}
	if (settings_validate(def, value, why, whysize) < 0 || strpbrk(value, "\r\n") != NULL) {
		if (strpbrk(value, "\r\n") != NULL)
			snprintf(why, whysize, "a value cannot contain a line break");
		return -1;
	}
	char *text;
	size_t len;
	const char *err;
	if (sg_file_read_all(path, SG_CONFIG_FILE_MAX, &text, &len, &err) < 0) {
		snprintf(why, whysize, "%s: %s", path, err);
		return -1;
	}
	char section[128];
	const char *dot = strchr(key, '.');
	snprintf(section, sizeof(section), "%.*s", (int)(dot - key), key);
	struct edit e = {.section = section, .name = dot + 1, .value = value};
	sg_buf_init(&e.out, SG_CONFIG_FILE_MAX + 8192);
	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t l = nl != NULL ? (size_t)(nl - text - pos) : len - pos;
		edit_line(&e, text + pos, l);
		pos += l + 1;
	}
	if (!e.done) {
		if (!e.seen_section || !e.in_section)
			sg_buf_printf(&e.out, "\n[%s]\n", section);
		emit_setting(&e);
	}
	struct stat st;
	bool existed = stat(path, &st) == 0;
	mode_t mode = existed ? (st.st_mode & 0777) : 0640;
	int rc = sg_file_write_atomic(path, e.out.data, e.out.len, mode, &err);
	if (rc < 0)
		snprintf(why, whysize, "%s: %s", path, err);
	/* root editing the file of an instance that runs as gateway.user: it stays theirs */
	else if (existed && geteuid() == 0 && (st.st_uid != 0 || st.st_gid != 0) &&
	         chown(path, st.st_uid, st.st_gid) < 0)
		snprintf(why, whysize, "%s: cannot give it back to its owner", path), rc = -1;
	sg_free(&text);
	sg_buf_free(&e.out);
	return rc;
}

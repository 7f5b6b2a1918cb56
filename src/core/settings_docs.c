/* settings_docs.c: the settings table written out for people: docs/configuration.md
 * (Markdown) and the man page sealgate.conf(5) (roff). Both are generated, and `make check`
 * fails when the committed copies differ, so neither can drift from the table. */
#include "core/settings.h"
#include "core/sg_str.h"

#include <stdio.h>
#include <string.h>

static const char *range_text(const struct setting_def *d, char *buf, size_t size)
{
	if (d->type == SETTING_ENUM)
		snprintf(buf, size, "%s", d->choices);
	else if (d->type == SETTING_ENUM_LIST)
		snprintf(buf, size, "list of %s", d->choices);
	else if (d->type == SETTING_URL_LIST)
		snprintf(buf, size, "%s URLs, space separated", d->choices);
	else if (d->type == SETTING_INT || d->type == SETTING_SIZE || d->type == SETTING_DURATION)
		snprintf(buf, size, "%lld to %lld", d->min, d->max);
	else if (d->type == SETTING_BOOL)
		snprintf(buf, size, "yes, no");
	else
		buf[0] = '\0';
	return buf;
}

int settings_write_docs(int fd)
{
	size_t count;
	const struct setting_def *t = settings_table(&count);
	dprintf(fd, "# Configuration reference\n\n"
	            "Generated from `src/core/settings.c` by `sealgate config docs`; do not edit.\n"
	            "Edit a key with `sealgate config set -c FILE section.key value`, check a file\n"
	            "with `sealgate check-config -c FILE`. Sizes take K, M and G suffixes, durations\n"
	            "s, m, h and d; relative paths are relative to the configuration file.\n\n"
	            "| key | type | default | allowed | description |\n"
	            "| --- | --- | --- | --- | --- |\n");
	for (size_t i = 0; i < count; i++) {
		char range[128];
		if (t[i].doc == NULL || t[i].doc[0] == '\0')
			return -1;
		char def[300];
		snprintf(def, sizeof(def), t[i].def[0] != '\0' ? "`%s`" : "(none)", t[i].def);
		dprintf(fd, "| `%s` | %s | %s | %s | %s%s |\n", t[i].key,
		        settings_type_name(t[i].type), def, range_text(&t[i], range, sizeof(range)),
		        t[i].required ? "(required) " : "", t[i].doc);
	}
	return 0;
}

static const char man_head[] =
	".TH SEALGATE.CONF 5 \"\" \"sealgate " SEALGATE_VERSION "\" \"File Formats\"\n"
	".\\\" Generated from src/core/settings.c by `sealgate config docs --man`; do not edit.\n"
	".SH NAME\nsealgate.conf \\- configuration of the sealgate secure e\\-mail gateway\n"
	".SH DESCRIPTION\nAn INI file: \\fB[section]\\fR lines, then \\fBname = value\\fR lines; "
	"the key \\fIsection.name\\fR below is \\fBname\\fR in \\fB[section]\\fR. A key not listed "
	"here is an error. Sizes take K, M and G suffixes, durations s, m, h and d; relative paths "
	"are relative to the directory of the file.\n"
	"Edit a key with \\fBsealgate config set \\-c FILE section.key value\\fR, check a file "
	"with \\fBsealgate check\\-config \\-c FILE\\fR; the running gateway reads it again on "
	"SIGHUP.\n.SH KEYS\n";

static void man_key(FILE *f, const struct setting_def *d)
{
	char range[128];
	fputs(".TP\n.B ", f);
	sg_roff_text(f, d->key);
	fprintf(f, "\n%s%s, default ", d->required ? "(required) " : "",
	        settings_type_name(d->type));
	sg_roff_text(f, d->def[0] != '\0' ? d->def : "(none)");
	if (range_text(d, range, sizeof(range))[0] != '\0') {
		fputs(", allowed: ", f);
		sg_roff_text(f, range);
	}
	fputs(".\n.br\n", f);
	sg_roff_text(f, d->doc);
	fputc('\n', f);
}

int settings_write_man(FILE *f)
{
	size_t count;
	const struct setting_def *t = settings_table(&count);
	fputs(man_head, f);
	for (size_t i = 0; i < count; i++) {
		const char *dot = strchr(t[i].key, '.');
		size_t len = dot != NULL ? (size_t)(dot - t[i].key) : strlen(t[i].key);
		if (i == 0 || strncmp(t[i - 1].key, t[i].key, len + 1) != 0)
			fprintf(f, ".SS [%.*s]\n", (int)len, t[i].key);
		if (t[i].doc == NULL || t[i].doc[0] == '\0')
			return -1;
		man_key(f, &t[i]);
	}
	fputs(".SH FILES\n.I /etc/sealgate/sealgate.conf\n(the Debian package)\n"
	      ".SH SEE ALSO\n.BR sealgate (8)\n", f);
	return fflush(f) == 0 && !ferror(f) ? 0 : -1;
}

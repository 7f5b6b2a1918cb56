/* smtpd_parse.c: splitting SMTP command lines: the verb (by table, case-insensitive) and the
 * MAIL/RCPT argument with its ESMTP parameters (RFC 5321 §4.1.2 esmtp-param). Works in place
 * on the session's line buffer; nothing here decides a reply. */
#include "smtp/smtp.h"

#include "core/sg_str.h"

#include <string.h>

static const struct {
	const char *name;
	const char *log_name;
} verbs[SMTPD_V_COUNT] = {
	[SMTPD_V_UNKNOWN] = {NULL, "unknown"}, [SMTPD_V_HELO] = {"HELO", "helo"},
	[SMTPD_V_EHLO] = {"EHLO", "ehlo"},     [SMTPD_V_MAIL] = {"MAIL", "mail"},
	[SMTPD_V_RCPT] = {"RCPT", "rcpt"},     [SMTPD_V_DATA] = {"DATA", "data"},
	[SMTPD_V_RSET] = {"RSET", "rset"},     [SMTPD_V_NOOP] = {"NOOP", "noop"},
	[SMTPD_V_QUIT] = {"QUIT", "quit"},     [SMTPD_V_VRFY] = {"VRFY", "vrfy"},
	[SMTPD_V_HELP] = {"HELP", "help"},     [SMTPD_V_STARTTLS] = {"STARTTLS", "starttls"},
};

const char *smtpd_parse_verb_name(enum smtpd_verb verb)
{
	return (unsigned)verb < SMTPD_V_COUNT ? verbs[verb].log_name : "unknown";
}

static void trim_trailing_spaces(char *s)
{
	size_t n = strlen(s);
	while (n > 0 && s[n - 1] == ' ')
		s[--n] = '\0';
}

enum smtpd_verb smtpd_parse_command(char *line, struct smtpd_cmd *cmd_r)
{
	size_t vlen = strcspn(line, " ");
	char *arg = line + vlen;
	while (*arg == ' ')
		arg++;
	trim_trailing_spaces(arg);
	cmd_r->verb = SMTPD_V_UNKNOWN;
	cmd_r->arg = arg;
	for (int v = SMTPD_V_UNKNOWN + 1; v < SMTPD_V_COUNT; v++) {
		if (strlen(verbs[v].name) == vlen && strncasecmp(line, verbs[v].name, vlen) == 0) {
			cmd_r->verb = (enum smtpd_verb)v;
			break;
		}
	}
	return cmd_r->verb;
}

static bool is_keychar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-';
}

/* esmtp-value = 1*(%d33-60 / %d62-126), with UTF-8 (RFC 6531 §3.3) allowed. */
static bool is_valuechar(char c)
{
	unsigned char u = (unsigned char)c;
	return (u >= 33 && u <= 126 && u != '=') || u >= 0x80;
}

/* One "KEY[=VALUE]" token in place (NUL-terminated by the caller). */
static int parse_param(char *tok, struct smtpd_param *p)
{
	char *eq = strchr(tok, '=');
	if (eq != NULL)
		*eq = '\0';
	if (tok[0] == '\0' || tok[0] == '-')
		return -1;
	for (const char *k = tok; *k != '\0'; k++)
		if (!is_keychar(*k))
			return -1;
	p->key = tok;
	p->value = NULL;
	if (eq == NULL)
		return 0;
	if (eq[1] == '\0')
		return -1;
	for (const char *v = eq + 1; *v != '\0'; v++)
		if (!is_valuechar(*v))
			return -1;
	p->value = eq + 1;
	return 0;
}

/* Parameters are separated by spaces, which become NULs so each key and value is a string. */
static enum smtpd_parse_error parse_params(char *s, struct smtpd_mailrcpt *r)
{
	if (*s != '\0' && *s != ' ')
		return SMTPD_PARSE_PARAM;
	for (;;) {
		while (*s == ' ')
			*s++ = '\0';
		if (*s == '\0')
			return SMTPD_PARSE_OK;
		if (r->nparams == SMTPD_PARAMS_MAX)
			return SMTPD_PARSE_TOO_MANY;
		char *tok = s;
		s += strcspn(s, " ");
		if (*s == ' ')
			*s++ = '\0';
		if (parse_param(tok, &r->params[r->nparams]) < 0)
			return SMTPD_PARSE_PARAM;
		r->nparams++;
	}
}

enum smtpd_parse_error smtpd_parse_mailrcpt(char *arg, const char *prefix,
                                            struct smtpd_mailrcpt *r)
{
	r->path = NULL;
	r->path_len = 0;
	r->nparams = 0;
	size_t plen = strlen(prefix);
	if (strncasecmp(arg, prefix, plen) != 0)
		return SMTPD_PARSE_SYNTAX;
	char *s = arg + plen;
	/* "MAIL FROM: <a@b>" is common enough and unambiguous. */
	while (*s == ' ')
		s++;
	if (*s != '<')
		return SMTPD_PARSE_SYNTAX;
	size_t n = smtp_addr_path_len(s, strlen(s));
	if (n == 0)
		return SMTPD_PARSE_PATH;
	r->path = s;
	r->path_len = n;
	return parse_params(s + n, r);
}

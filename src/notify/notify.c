/* notify.c: the texts of the notices and their expansion. A text names its values as
 * {partner}, {sender}, {otp}, {subject}, {client}, {until}, {when}, {org} and {url}; each value
 * is inserted as it is (these are text/plain mails, encoded by mime_build). */
#include "notify/notify.h"

#include "core/limits.h"
#include "core/settings.h"
#include "core/sg_buf.h"
#include "core/sg_str.h"
#include "mime/mime.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct notice {
	bool to_partner;
	bool needs_otp;
	const char *subject;
	const char *text;
	const char *subject_de, *text_de; /* NULL: English only */
};

static const struct notice notices[NOTIFY_KIND_COUNT] = {
	[NOTIFY_INVITATION] = {
		true, false, "{org}: a secure message from {sender} is waiting for you",
		"Hello,\n\n"
		"{sender} at {org} has sent you a message that must be sent securely:\n\n"
		"    {subject}\n\n"
		"To read it, register once on the secure mail portal:\n\n"
		"    {url}/register\n\n"
		"You need your e-mail address and a one-time password. {otp_hint}\n\n"
		"At registration you choose a password. Your message, and later ones, then reach\n"
		"you as a password-protected PDF that opens with that password, or in the way you\n"
		"choose on the portal (S/MIME or OpenPGP if you have a certificate or key).\n\n"
		"The invitation is valid until {until}. If you do not register by then, the\n"
		"message is deleted and {sender} is told.\n\n"
		"If you did not expect this message, you can ignore it; nothing else will follow.\n",
		NULL, NULL},
	[NOTIFY_OTP_PARTNER] = {
		true, true, "{org}: your one-time password for the secure mail portal",
		"Hello,\n\n"
		"this is the one-time password for your registration on the secure mail portal of\n"
		"{org}:\n\n"
		"    {otp}\n\n"
		"Enter it with your e-mail address at {url}/register before {until}.\n"
		"It works once; the invitation mail that came separately tells you more.\n",
		NULL, NULL},
	[NOTIFY_OTP_SENDER] = {
		false, true, "Secure mail to {partner} is waiting: pass on the one-time password",
		"Hello,\n\n"
		"your message to {partner} must be sent securely:\n\n"
		"    {subject}\n\n"
		"{partner} is not registered for secure mail yet, so the message is held\n"
		"until they register. {partner} has received an invitation with the link to the\n"
		"portal. To register, they also need this one-time password:\n\n"
		"    {otp}\n\n"
		"Please give it to {partner} by phone or in person, not by e-mail: that is what\n"
		"keeps the message safe even if their mailbox is read by someone else.\n\n"
		"The invitation is valid until {until}. If {partner} does not register by then,\n"
		"the message is deleted and you will be told.\n",
		NULL, NULL},
	[NOTIFY_HELD] = {
		false, false, "Secure mail to {partner} is held until they register",
		"Hello,\n\n"
		"your message to {partner} must be sent securely:\n\n"
		"    {subject}\n\n"
		"{partner} has been invited to the secure mail portal but has not registered\n"
		"yet. The message is held and will be delivered as soon as they register.\n"
		"{otp_hint_sender}\n\n"
		"The invitation is valid until {until}. If {partner} does not register by then,\n"
		"the message is deleted and you will be told.\n",
		NULL, NULL},
	[NOTIFY_HELD_EXPIRED] = {
		false, false, "Secure mail to {partner} was not delivered",
		"Hello,\n\n"
		"your message to {partner}\n\n"
		"    {subject}\n\n"
		"was held until {partner} registered on the secure mail portal. The invitation\n"
		"expired on {until} without a registration, so the message has been deleted.\n\n"
		"What you can do: make sure the address is right and that {partner} has the\n"
		"one-time password, then send the message again: a new invitation is made. Or\n"
		"reach {partner} another way.\n",
		NULL, NULL},
	[NOTIFY_PASSWORD_RESET] = {
		true, false, "{org}: your secure mail password was changed",
		"Hello,\n\n"
		"the password of your account {partner} on the secure mail portal of {org}\n"
		"was reset with your security questions and the code we mailed you on {when}\n"
		"(from {client}).\n\n"
		"From now on, new secure PDF messages open with the new password; messages you\n"
		"received before still open with the old one.\n\n"
		"If this was not you, contact your contact person at {org} at once.\n",
		"{org}: Ihr Passwort für sichere E-Mail wurde geändert",
		"Guten Tag,\n\n"
		"das Passwort Ihres Kontos {partner} im Portal für sichere E-Mail von {org}\n"
		"wurde am {when} (von {client}) mit Ihren Sicherheitsfragen und dem Code per\n"
		"E-Mail zurückgesetzt.\n\n"
		"Neue sichere PDF-Nachrichten öffnen sich ab jetzt mit dem neuen Passwort;\n"
		"frühere Nachrichten weiterhin mit dem alten.\n\n"
		"Falls Sie das nicht waren, wenden Sie sich sofort an Ihren Ansprechpartner\n"
		"bei {org}.\n"},
	[NOTIFY_PASSWORD_CHANGED] = {
		true, false, "{org}: your secure mail password was changed",
		"Hello,\n\n"
		"the password of your account {partner} on the secure mail portal of {org}\n"
		"was changed on the account page on {when} (from {client}); every other\n"
		"session of the account was logged out.\n\n"
		"From now on, new secure PDF messages open with the new password; messages you\n"
		"received before still open with the old one.\n\n"
		"If this was not you, reset the password with your security questions\n"
		"(\"Forgot password\" on the portal's login page) and contact your contact person\n"
		"at {org} at once.\n",
		"{org}: Ihr Passwort für sichere E-Mail wurde geändert",
		"Guten Tag,\n\n"
		"das Passwort Ihres Kontos {partner} im Portal für sichere E-Mail von {org}\n"
		"wurde am {when} (von {client}) auf der Kontoseite geändert; alle anderen\n"
		"Sitzungen des Kontos wurden abgemeldet.\n\n"
		"Neue sichere PDF-Nachrichten öffnen sich ab jetzt mit dem neuen Passwort;\n"
		"frühere Nachrichten weiterhin mit dem alten.\n\n"
		"Falls Sie das nicht waren, setzen Sie das Passwort mit Ihren Sicherheitsfragen\n"
		"zurück (\"Passwort vergessen?\" auf der Anmeldeseite des Portals) und wenden\n"
		"Sie sich sofort an Ihren Ansprechpartner bei {org}.\n"},
	[NOTIFY_RESET_CODE] = {
		true, true, "{org}: your code to reset the secure mail password",
		"Hello,\n\n"
		"someone (from {client}) asked to reset the password of your account {partner}\n"
		"on the secure mail portal of {org}. The reset needs your security answers and\n"
		"this code:\n\n"
		"    {otp}\n\n"
		"Enter it on the page with your security questions by {until}. It works once.\n\n"
		"If this was not you, ignore this mail: without the code and the answers the\n"
		"password stays as it is. Never pass the code on, not even to {org}.\n",
		"{org}: Ihr Code zum Zurücksetzen des Passworts für sichere E-Mail",
		"Guten Tag,\n\n"
		"jemand (von {client}) möchte das Passwort Ihres Kontos {partner} im Portal\n"
		"für sichere E-Mail von {org} zurücksetzen. Dazu braucht es Ihre Antworten auf\n"
		"die Sicherheitsfragen und diesen Code:\n\n"
		"    {otp}\n\n"
		"Geben Sie ihn bis {until} auf der Seite mit Ihren Sicherheitsfragen ein. Er gilt\n"
		"nur einmal.\n\n"
		"Falls Sie das nicht waren, ignorieren Sie diese E-Mail: ohne den Code und die\n"
		"Antworten bleibt das Passwort, wie es ist. Geben Sie den Code niemals weiter,\n"
		"auch nicht an {org}.\n"},
	/* Webmail: in English and German in one mail (a partner's language is not known here);
	 * never the content, and the subject only where policy.hide_subject allows it. */
	[NOTIFY_WEBMAIL] = {
		true, false, "{org}: secure message from {sender} / Sichere Nachricht von {sender}",
		"(Deutsch unten)\n\n"
		"Hello,\n\n"
		"{sender} sent you a secure message on {when}.\n{subject_line}"
		"Read it on the secure mail portal of {org}:\n\n"
		"    {link}\n\n"
		"The message itself is not in this e-mail; it is kept encrypted on the portal for\n"
		"{retention}. If you did not expect it, contact {sender} by phone.\n\n"
		"--\n\n"
		"Guten Tag,\n\n"
		"{sender} hat Ihnen am {when} eine sichere Nachricht gesendet.\n{subject_line}"
		"Lesen Sie sie im Portal für sichere E-Mail von {org}:\n\n"
		"    {link}\n\n"
		"Die Nachricht selbst steht nicht in dieser E-Mail; sie liegt verschlüsselt im\n"
		"Portal ({retention_de}). Falls Sie sie nicht erwartet haben, rufen Sie {sender} an.\n",
		NULL, NULL},
	[NOTIFY_WEBMAIL_QUOTA] = {
		true, false, "{org}: secure mail storage full / Speicher für sichere E-Mail voll",
		"(Deutsch unten)\n\n"
		"Hello,\n\n"
		"your storage on the secure mail portal of {org} was full. To keep a new message\n"
		"from {sender}, your {count} oldest already read message(s) were deleted.\n"
		"Delete messages you no longer need on {url}/webmail to keep room.\n\n"
		"--\n\n"
		"Guten Tag,\n\n"
		"Ihr Speicher im Portal für sichere E-Mail von {org} war voll. Damit eine neue\n"
		"Nachricht von {sender} Platz hat, wurden Ihre {count} ältesten bereits gelesenen\n"
		"Nachrichten gelöscht. Löschen Sie nicht mehr benötigte Nachrichten unter\n"
		"{url}/webmail, damit Platz bleibt.\n",
		NULL, NULL},
	[NOTIFY_WEBMAIL_FULL] = {
		true, false, "{org}: a secure message could not be kept / Nachricht nicht zugestellt",
		"(Deutsch unten)\n\n"
		"Hello,\n\n"
		"{sender} sent you a secure message on {when}, but your storage on the secure\n"
		"mail portal of {org} is full of unread messages, so it could not be kept.\n"
		"{sender} has been told that it was not delivered. Read or delete messages on\n"
		"{url}/webmail, then ask {sender} to send it again.\n\n"
		"--\n\n"
		"Guten Tag,\n\n"
		"{sender} hat Ihnen am {when} eine sichere Nachricht gesendet, aber Ihr Speicher im\n"
		"Portal für sichere E-Mail von {org} ist voll mit ungelesenen Nachrichten; sie\n"
		"konnte nicht abgelegt werden. {sender} wurde benachrichtigt. Lesen oder löschen\n"
		"Sie Nachrichten unter {url}/webmail und bitten Sie {sender}, sie erneut zu senden.\n",
		NULL, NULL},
};

/* "Subject: ..." for the webmail notice, or nothing when the subject is hidden (NULL). */
static const char *subject_line(const struct notify_vars *v, char *tmp, size_t size)
{
	if (v->subject == NULL)
		return "";
	if (sg_snprintf(tmp, size, "Subject / Betreff: %s\n", v->subject[0] != '\0' ? v->subject
	                                                                           : "-") < 0)
		sg_strlcpy(tmp, "", size);
	return tmp;
}

/* How long webmail is kept, for the notice: "N days", or "until you delete it". */
static const char *retention(const struct settings *s, bool de, char *tmp, size_t size)
{
	long long days = settings_number(s, "webmail.retention_days");
	if (days <= 0)
		return de ? "bis Sie sie löschen" : "until you delete it";
	if (sg_snprintf(tmp, size, de ? "%lld Tage lang" : "%lld days", days) < 0)
		sg_strlcpy(tmp, "-", size);
	return tmp;
}

static const char *hint_partner(const struct settings *s)
{
	return strcmp(settings_get(s, "policy.otp_delivery"), "recipient") == 0
	           ? "It comes in a separate e-mail."
	           : "The sender will give it to you by phone or in person; it is never sent\n"
	             "with this invitation.";
}

static const char *hint_sender(const struct settings *s)
{
	return strcmp(settings_get(s, "policy.otp_delivery"), "recipient") == 0
	           ? "Their one-time password was sent to them in a separate e-mail."
	           : "They need the one-time password that was sent to the first person who wrote\n"
	             "to them securely; if it is lost, an administrator can invite them again.";
}

static void date_text(time_t t, char *dst, size_t size)
{
	struct tm tm;
	if (t <= 0 || gmtime_r(&t, &tm) == NULL || strftime(dst, size, "%Y-%m-%d %H:%M UTC", &tm) == 0)
		sg_strlcpy(dst, "-", size);
}

static void base_url(const struct settings *s, char *dst, size_t size)
{
	sg_strlcpy(dst, settings_get(s, "portal.base_url"), size);
	size_t n = strlen(dst);
	while (n > 0 && dst[n - 1] == '/')
		dst[--n] = '\0';
}

/* The value of {name}, or NULL for an unknown name. */
static const char *value_of(const struct settings *s, const struct notify_vars *v,
                            const char *name, size_t len, char *tmp, size_t tmpsize)
{
#define IS(lit) (len == sizeof(lit) - 1 && memcmp(name, lit, len) == 0)
	if (IS("partner"))
		return v->partner;
	if (IS("sender"))
		return v->sender;
	if (IS("otp"))
		return v->otp;
	if (IS("subject"))
		return v->subject != NULL && v->subject[0] != '\0' ? v->subject : "(no subject)";
	if (IS("client"))
		return v->client != NULL ? v->client : "unknown";
	if (IS("org"))
		return settings_get(s, "gateway.organization");
	if (IS("otp_hint"))
		return hint_partner(s);
	if (IS("otp_hint_sender"))
		return hint_sender(s);
	if (IS("until") || IS("when")) {
		date_text(IS("until") ? v->until : v->when, tmp, tmpsize);
		return tmp;
	}
	if (IS("url") || IS("link")) {
		base_url(s, tmp, tmpsize);
		size_t n = strlen(tmp);
		if (IS("link") && v->link != NULL)
			sg_strlcpy(tmp + n, v->link, tmpsize - n);
		return tmp;
	}
	if (IS("subject_line"))
		return subject_line(v, tmp, tmpsize);
	if (IS("retention") || IS("retention_de"))
		return retention(s, IS("retention_de"), tmp, tmpsize);
	if (IS("count")) {
		snprintf(tmp, tmpsize, "%zu", v->count);
		return tmp;
	}
	return NULL;
#undef IS
}

static int expand(const struct settings *s, const struct notify_vars *v, const char *text,
                  struct sg_buf *out)
{
	for (const char *p = text; *p != '\0';) {
		const char *open = strchr(p, '{');
		const char *close = open != NULL ? strchr(open, '}') : NULL;
		if (open == NULL || close == NULL)
			return sg_buf_append(out, p, strlen(p));
		if (sg_buf_append(out, p, (size_t)(open - p)) < 0)
			return -1;
		char tmp[SG_PATH_MAX];
		const char *val = value_of(s, v, open + 1, (size_t)(close - open - 1), tmp, sizeof(tmp));
		if (val == NULL || sg_buf_append(out, val, strlen(val)) < 0)
			return -1; /* an unknown name is our bug, not the user's */
		p = close + 1;
	}
	return 0;
}

void notify_from(const struct settings *s, char *dst, size_t size)
{
	const char *from = settings_get(s, "gateway.notify_from");
	if (from[0] != '\0')
		sg_strlcpy(dst, from, size);
	else if (sg_snprintf(dst, size, "postmaster@%s", settings_get(s, "gateway.hostname")) < 0)
		sg_strlcpy(dst, "postmaster@localhost", size);
}

int notify_build(const struct settings *s, enum notify_kind kind, const struct notify_vars *v,
                 struct sg_buf *out, const char **rcpt_r, const char **error_r)
{
	if ((size_t)kind >= NOTIFY_KIND_COUNT || v->partner == NULL) {
		*error_r = "notice: unknown kind or no partner address";
		return -1;
	}
	const struct notice *n = &notices[kind];
	const char *to = n->to_partner ? v->partner : v->sender;
	if (to == NULL || (n->needs_otp && v->otp == NULL) ||
	    (!n->to_partner && v->sender == NULL) || (n->to_partner && kind == NOTIFY_INVITATION &&
	                                              v->sender == NULL)) {
		*error_r = "notice: a required value is missing";
		return -1;
	}
	struct sg_buf subject, text;
	sg_buf_init(&subject, SG_HEADER_BLOCK_MAX);
	sg_buf_init(&text, 64 * 1024);
	char from[SG_ADDR_MAX];
	notify_from(s, from, sizeof(from));
	int rc = -1;
	bool de = v->lang != NULL && strcmp(v->lang, "de") == 0 && n->text_de != NULL;
	if (expand(s, v, de ? n->subject_de : n->subject, &subject) == 0 &&
	    sg_buf_append(&subject, "", 1) == 0 && expand(s, v, de ? n->text_de : n->text, &text) == 0 &&
	    sg_buf_append(&text, "", 1) == 0) {
		struct mime_build b = {.from = from,
		                       .from_name = settings_get(s, "gateway.organization"),
		                       .to = to,
		                       .subject = subject.data,
		                       .text = text.data,
		                       .msgid_domain = settings_get(s, "gateway.hostname"),
		                       .auto_submitted = true};
		rc = mime_build_message(&b, out, error_r);
	} else {
		*error_r = "notice: the text does not fit";
	}
	sg_buf_free(&subject);
	sg_buf_free(&text);
	if (rc == 0)
		*rcpt_r = to;
	return rc;
}

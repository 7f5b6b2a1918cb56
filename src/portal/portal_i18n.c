/* portal_i18n.c: every text the portal shows, in English and German, and the choice between
 * them (a "lang" cookie set by the visible switch wins over Accept-Language). */
#include "portal/portal.h"
#include "core/sg_log.h"
#include "core/sg_str.h"

#include <string.h>

struct text {
	const char *key, *en, *de;
};

static const struct text texts[] = {
	{"skip", "Skip to content", "Zum Inhalt springen"},
	{"lang_switch", "Language", "Sprache"},
	{"title_login", "Log in", "Anmelden"},
	{"title_register", "Register", "Registrieren"},
	{"title_password", "Choose your password", "Passwort festlegen"},
	{"title_account", "Your account", "Ihr Konto"},
	{"title_error", "Something went wrong", "Etwas ist schiefgegangen"},
	{"email", "E-mail address", "E-Mail-Adresse"},
	{"password", "Password", "Passwort"},
	{"password2", "Repeat the password", "Passwort wiederholen"},
	{"otp", "One-time password from your invitation", "Einmalpasswort aus Ihrer Einladung"},
	{"btn_login", "Log in", "Anmelden"},
	{"btn_continue", "Continue", "Weiter"},
	{"btn_save", "Save", "Speichern"},
	{"btn_upload", "Upload", "Hochladen"},
	{"btn_logout", "Log out", "Abmelden"},
	{"intro_login", "Log in to choose how secure e-mail reaches you.",
	 "Melden Sie sich an, um festzulegen, wie Sie sichere E-Mails erhalten."},
	{"intro_register", "Enter your e-mail address and the one-time password from your invitation.",
	 "Geben Sie Ihre E-Mail-Adresse und das Einmalpasswort aus Ihrer Einladung ein."},
	{"intro_password",
	 "This password opens your SecurePDF messages and logs you in here. It must not be your "
	 "e-mail address. Minimum length in characters:",
	 "Mit diesem Passwort öffnen Sie Ihre SecurePDF-Nachrichten und melden sich hier an. Es darf "
	 "nicht Ihre E-Mail-Adresse sein. Mindestlänge in Zeichen:"},
	{"link_register", "First time here? Register with your invitation",
	 "Zum ersten Mal hier? Mit Ihrer Einladung registrieren"},
	{"link_login", "Already registered? Log in", "Bereits registriert? Anmelden"},
	{"err_login", "Login failed: the address or the password is wrong.",
	 "Anmeldung fehlgeschlagen: Adresse oder Passwort ist falsch."},
	{"err_locked", "Too many failed attempts. Please try again in 15 minutes.",
	 "Zu viele Fehlversuche. Bitte versuchen Sie es in 15 Minuten erneut."},
	{"err_otp",
	 "This address and one-time password do not match an open invitation (or it has expired). "
	 "Ask your contact for a new invitation.",
	 "Adresse und Einmalpasswort passen zu keiner offenen Einladung (oder sie ist abgelaufen). "
	 "Bitten Sie Ihren Ansprechpartner um eine neue Einladung."},
	{"err_pw_match", "The two passwords differ.", "Die beiden Passwörter unterscheiden sich."},
	{"err_pw_address", "The password must not be your e-mail address.",
	 "Das Passwort darf nicht Ihre E-Mail-Adresse sein."},
	{"err_pw", "This password cannot be used:", "Dieses Passwort ist nicht verwendbar:"},
	{"err_csrf", "This form has expired. Please reload the page and try again.",
	 "Dieses Formular ist abgelaufen. Bitte laden Sie die Seite neu und versuchen Sie es erneut."},
	{"err_notfound", "This page does not exist.", "Diese Seite gibt es nicht."},
	{"err_form", "The form could not be read.", "Das Formular konnte nicht gelesen werden."},
	{"err_internal", "An internal error occurred. Please try again later.",
	 "Ein interner Fehler ist aufgetreten. Bitte versuchen Sie es später erneut."},
	{"err_too_big", "The upload is too large.", "Die Datei ist zu groß."},
	{"back", "Back to the start page", "Zurück zur Startseite"},
	{"ch_title", "How secure e-mail reaches you", "Wie Sie sichere E-Mails erhalten"},
	{"ch_pdf", "SecurePDF: an encrypted PDF that opens with your password",
	 "SecurePDF: ein verschlüsseltes PDF, das sich mit Ihrem Passwort öffnet"},
	{"ch_smime", "S/MIME: encrypted to your certificate",
	 "S/MIME: verschlüsselt für Ihr Zertifikat"},
	{"ch_pgp", "OpenPGP: encrypted to your public key",
	 "OpenPGP: verschlüsselt für Ihren öffentlichen Schlüssel"},
	{"ch_saved", "Your choice has been saved.", "Ihre Auswahl wurde gespeichert."},
	{"ch_needs_key", "Upload your certificate or public key first, then choose this channel.",
	 "Laden Sie zuerst Ihr Zertifikat oder Ihren öffentlichen Schlüssel hoch."},
	{"up_title", "Upload a certificate or public key",
	 "Zertifikat oder öffentlichen Schlüssel hochladen"},
	{"up_help", "An S/MIME certificate (PEM or DER) or an OpenPGP public key (armoured or binary).",
	 "Ein S/MIME-Zertifikat (PEM oder DER) oder ein öffentlicher OpenPGP-Schlüssel."},
	{"up_file", "File", "Datei"},
	{"up_ok", "Stored. You can now choose it as your channel.",
	 "Gespeichert. Sie können es jetzt als Weg auswählen."},
	{"up_err", "This file was not accepted:", "Diese Datei wurde nicht angenommen:"},
	{"onfile_title", "Certificates and keys on file", "Hinterlegte Zertifikate und Schlüssel"},
	{"onfile_none", "None yet.", "Noch keine."},
	{"valid_until", "valid until", "gültig bis"},
	{"never", "no expiry", "unbefristet"},
	{"acct_address", "Address", "Adresse"},
	{"acct_channel", "Current channel", "Aktueller Weg"},
	{"registered", "Registration complete. Choose how secure e-mail reaches you.",
	 "Registrierung abgeschlossen. Wählen Sie, wie Sie sichere E-Mails erhalten."},
	{"logged_out", "You have been logged out.", "Sie wurden abgemeldet."},
};

const char *portal_i18n_text(enum portal_lang lang, const char *key)
{
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (strcmp(texts[i].key, key) == 0)
			return lang == PORTAL_LANG_DE ? texts[i].de : texts[i].en;
	sg_assert(false); /* a template names a text that does not exist */
	return "";
}

const char *portal_i18n_code(enum portal_lang lang)
{
	return lang == PORTAL_LANG_DE ? "de" : "en";
}

/* The q-value of one Accept-Language item ("de;q=0.8"), 1000 = 1.0; 0 for anything odd. */
static int item_q(const char *item, size_t len)
{
	const char *q = NULL;
	for (size_t i = 0; i + 2 < len; i++)
		if (item[i] == ';' && item[i + 1] == 'q' && item[i + 2] == '=')
			q = item + i + 3;
	if (q == NULL)
		return 1000;
	int v = 0, digits = 0;
	bool frac = false;
	for (; q < item + len && digits < 4; q++) {
		if (*q == '.' && !frac) {
			frac = true;
		} else if (*q >= '0' && *q <= '9') {
			v = v * 10 + (*q - '0');
			digits += frac;
		} else {
			break;
		}
	}
	while (digits++ < 3)
		v *= 10;
	return v > 1000 ? 1000 : v;
}

enum portal_lang portal_i18n_pick(const char *cookie, const char *accept_language)
{
	if (cookie != NULL && (strcmp(cookie, "de") == 0 || strcmp(cookie, "en") == 0))
		return cookie[0] == 'd' ? PORTAL_LANG_DE : PORTAL_LANG_EN;
	if (accept_language == NULL || strlen(accept_language) > 1024)
		return PORTAL_LANG_EN;
	int best_de = 0, best_en = 0;
	const char *p = accept_language;
	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		size_t len = strcspn(p, ",");
		int q = item_q(p, len);
		if (len >= 2 && sg_has_prefix_nocase(p, "de") && (len == 2 || p[2] == '-' || p[2] == ';'))
			best_de = q > best_de ? q : best_de;
		else if (len >= 2 && sg_has_prefix_nocase(p, "en") &&
		         (len == 2 || p[2] == '-' || p[2] == ';'))
			best_en = q > best_en ? q : best_en;
		p += len;
	}
	return best_de > best_en ? PORTAL_LANG_DE : PORTAL_LANG_EN;
}

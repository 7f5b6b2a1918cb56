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
	{"login_name", "E-mail address or user name", "E-Mail-Adresse oder Benutzername"},
	{"login_employee_hint",
	 "Employees: log in with your Windows (directory) user name and password.",
	 "Mitarbeitende: Melden Sie sich mit Ihrem Windows-Benutzernamen (Verzeichnis) und Passwort an."},
	{"title_employee", "Your secure e-mail", "Ihre sichere E-Mail"},
	{"employee_hello", "Logged in as", "Angemeldet als"},
	{"link_employee_home", "Your certificates", "Ihre Zertifikate"},
	{"certs_title", "Your certificates", "Ihre Zertifikate"},
	{"certs_none", "You have no certificate yet.", "Sie haben noch kein Zertifikat."},
	{"cert_serial", "Serial number", "Seriennummer"},
	{"cert_from", "Valid from", "Gültig ab"},
	{"cert_until", "Valid until", "Gültig bis"},
	{"cert_state", "Status", "Status"},
	{"cert_valid", "valid", "gültig"},
	{"cert_expired", "expired", "abgelaufen"},
	{"cert_revoked", "revoked", "widerrufen"},
	{"err_dir_down", "The directory cannot be reached; try again later.",
	 "Das Verzeichnis ist nicht erreichbar; versuchen Sie es später erneut."},
	{"err_dir_disabled",
	 "Your account is disabled in the directory. Please contact your IT service desk.",
	 "Ihr Konto ist im Verzeichnis deaktiviert. Bitte wenden Sie sich an Ihren IT-Service-Desk."},
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
	{"err_login", "Login failed: the address (or user name) or the password is wrong.",
	 "Anmeldung fehlgeschlagen: Adresse (oder Benutzername) oder Passwort ist falsch."},
	{"err_locked", "Too many failed attempts. Please wait before you try again; minutes:",
	 "Zu viele Fehlversuche. Bitte warten Sie, bevor Sie es erneut versuchen; Minuten:"},
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
	{"err_busy",
	 "The portal is receiving many messages at the moment and could not take yours. Nothing was "
	 "sent. Please try again in a few minutes.",
	 "Das Portal nimmt gerade sehr viele Nachrichten entgegen und konnte Ihre nicht annehmen. Es "
	 "wurde nichts gesendet. Bitte versuchen Sie es in einigen Minuten erneut."},
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
	{"logged_out_all", "You have been logged out everywhere.",
	 "Sie wurden überall abgemeldet."},
	{"sessions_title", "Sessions", "Sitzungen"},
	{"sessions_help", "Logged in on another computer or phone? End every session of your account, this one included.",
	 "Auf einem anderen Computer oder Telefon angemeldet? Beenden Sie alle Sitzungen Ihres Kontos, auch diese."},
	{"btn_logout_all", "Log out everywhere", "Überall abmelden"},
	/* Security questions, forgot password, change password. */
	{"title_questions", "Security questions", "Sicherheitsfragen"},
	{"title_forgot", "Forgot your password?", "Passwort vergessen?"},
	{"title_newpw", "Choose a new password", "Neues Passwort festlegen"},
	{"title_change", "Change your password", "Passwort ändern"},
	{"intro_questions",
	 "Last step: choose three different questions and answer them. If you forget your password, "
	 "these answers let you choose a new one. Capitals and extra spaces do not matter.",
	 "Letzter Schritt: Wählen Sie drei verschiedene Fragen und beantworten Sie sie. Falls Sie Ihr "
	 "Passwort vergessen, können Sie damit ein neues festlegen. Groß- und Kleinschreibung sowie "
	 "zusätzliche Leerzeichen spielen keine Rolle."},
	{"intro_forgot",
	 "Enter your e-mail address. We mail a code to it; you then answer the security questions "
	 "you chose when you registered and enter the code.",
	 "Geben Sie Ihre E-Mail-Adresse ein. Wir schicken einen Code an diese Adresse; danach "
	 "beantworten Sie die Sicherheitsfragen, die Sie bei der Registrierung gewählt haben, und "
	 "geben den Code ein."},
	{"intro_answers", "Answer your security questions for",
	 "Beantworten Sie Ihre Sicherheitsfragen für"},
	{"intro_newpw",
	 "New SecurePDF messages will open with this password; messages you received before still "
	 "open with the old one. It must not be your e-mail address. Minimum length in characters:",
	 "Neue SecurePDF-Nachrichten öffnen sich mit diesem Passwort; frühere Nachrichten weiterhin mit "
	 "dem alten. Es darf nicht Ihre E-Mail-Adresse sein. Mindestlänge in Zeichen:"},
	{"intro_change",
	 "Enter your current password and the new one twice. New SecurePDF messages will open with "
	 "the new password; messages you received before still open with the old one. Minimum "
	 "length in characters:",
	 "Geben Sie Ihr aktuelles Passwort und zweimal das neue ein. Neue SecurePDF-Nachrichten öffnen "
	 "sich mit dem neuen Passwort, frühere weiterhin mit dem alten. Mindestlänge in Zeichen:"},
	{"btn_finish", "Finish registration", "Registrierung abschließen"},
	{"q_legend", "Question", "Frage"},
	{"q_choose", "Choose a question", "Frage auswählen"},
	{"q_placeholder", "Please choose", "Bitte wählen"},
	{"q_answer", "Your answer", "Ihre Antwort"},
	{"sq_first_pet", "What was the name of your first pet?", "Wie hieß Ihr erstes Haustier?"},
	{"sq_birth_city", "In which town or city were you born?",
	 "In welcher Stadt oder welchem Ort wurden Sie geboren?"},
	{"sq_first_school", "What was the name of your first school?",
	 "Wie hieß Ihre erste Schule?"},
	{"sq_childhood_friend", "What is the first name of your best friend in childhood?",
	 "Wie lautet der Vorname Ihres besten Freundes oder Ihrer besten Freundin in der Kindheit?"},
	{"sq_first_car", "What was the make and model of your first car?",
	 "Welche Marke und welches Modell hatte Ihr erstes Auto?"},
	{"sq_parents_met", "In which town or city did your parents meet?",
	 "In welcher Stadt oder welchem Ort haben sich Ihre Eltern kennengelernt?"},
	{"sq_first_employer", "What was the name of your first employer?",
	 "Wie hieß Ihr erster Arbeitgeber?"},
	{"sq_childhood_street", "In which street did you live as a child?",
	 "In welcher Straße haben Sie als Kind gewohnt?"},
	{"err_q_choose", "Choose a question for each of the three fields.",
	 "Wählen Sie für jedes der drei Felder eine Frage."},
	{"err_q_distinct", "Choose three different questions.", "Wählen Sie drei verschiedene Fragen."},
	{"err_q_answer",
	 "Each answer must be filled in, be at most 128 bytes long (128 plain letters; fewer with "
	 "accents or other scripts) and contain no control characters. Please enter the answers "
	 "again.",
	 "Jede Antwort muss ausgefüllt und höchstens 128 Byte lang sein (128 einfache Buchstaben, "
	 "weniger mit Umlauten oder anderen Schriften) und darf keine Steuerzeichen enthalten. Bitte "
	 "geben Sie die Antworten erneut ein."},
	{"err_answers",
	 "The answers or the code do not match. Check them and try again; after several failed "
	 "attempts you must wait before the next one, and a code stops working after 3.",
	 "Die Antworten oder der Code stimmen nicht. Prüfen Sie sie und versuchen Sie es erneut; nach "
	 "mehreren Fehlversuchen müssen Sie vor dem nächsten Versuch warten, ein Code gilt höchstens "
	 "für 3 Versuche."},
	{"err_reset_limit",
	 "This account's password has been reset too often today. Please try again tomorrow, or ask "
	 "your contact person for help.",
	 "Das Passwort dieses Kontos wurde heute zu oft zurückgesetzt. Bitte versuchen Sie es morgen "
	 "erneut oder bitten Sie Ihren Ansprechpartner um Hilfe."},
	{"reset_code", "Code from the e-mail we have just sent you",
	 "Code aus der E-Mail, die wir Ihnen soeben geschickt haben"},
	{"reset_code_hint",
	 "If the address has an account, a code has been mailed to it. It is valid for 15 minutes and "
	 "works once; for a new code, start again with \"Use another e-mail address\".",
	 "Wenn zu der Adresse ein Konto gehört, wurde ein Code an sie geschickt. Er gilt 15 Minuten "
	 "und nur einmal; einen neuen Code erhalten Sie, wenn Sie mit \"Andere E-Mail-Adresse "
	 "verwenden\" neu beginnen."},
	{"err_email", "Please enter your e-mail address.", "Bitte geben Sie Ihre E-Mail-Adresse ein."},
	{"err_current", "The current password is wrong.", "Das aktuelle Passwort ist falsch."},
	{"link_forgot", "Forgot your password?", "Passwort vergessen?"},
	{"link_login_back", "Back to the login", "Zurück zur Anmeldung"},
	{"link_other_address", "Use another e-mail address", "Andere E-Mail-Adresse verwenden"},
	{"link_account", "Back to your account", "Zurück zu Ihrem Konto"},
	{"link_change_pw", "Change password", "Passwort ändern"},
	{"password_new", "New password", "Neues Passwort"},
	{"password_current", "Current password", "Aktuelles Passwort"},
	{"pw_changed", "Your password has been changed. Other sessions were logged out.",
	 "Ihr Passwort wurde geändert. Andere Sitzungen wurden abgemeldet."},
	/* Writing on the portal: "New message" and the SecurePDF Reply link. */
	{"link_compose", "New message", "Neue Nachricht"},
	{"link_compose_again", "Write another message", "Weitere Nachricht schreiben"},
	{"link_compose_back", "Back to the message form", "Zurück zum Nachrichtenformular"},
	{"title_compose", "New message", "Neue Nachricht"},
	{"title_reply", "Reply", "Antworten"},
	{"title_sent", "Message sent", "Nachricht gesendet"},
	{"intro_compose",
	 "Write securely to people of the organisation. Messages from this portal can only go to "
	 "the organisation's own addresses; your address is the sender.",
	 "Schreiben Sie sicher an Personen der Organisation. Nachrichten aus diesem Portal können nur "
	 "an Adressen der Organisation gehen; Absender ist Ihre Adresse."},
	{"intro_reply", "Your reply goes securely to the sender of the message.",
	 "Ihre Antwort geht sicher an den Absender der Nachricht."},
	{"c_from", "From", "Von"},
	{"c_to", "To", "An"},
	{"c_subject", "Subject", "Betreff"},
	{"c_text", "Message", "Nachricht"},
	{"c_files", "Attachments", "Anhänge"},
	{"c_limit_n", "Attachments at most:", "Anhänge höchstens:"},
	{"c_limit_mb", "Their total size at most about", "Ihre Gesamtgröße höchstens etwa"},
	{"btn_send", "Send securely", "Sicher senden"},
	{"c_files_again", "Please choose the attachments again.",
	 "Bitte wählen Sie die Anhänge erneut aus."},
	{"sent_ok", "Your message has been sent securely.", "Ihre Nachricht wurde sicher gesendet."},
	{"sent_ref", "Reference", "Referenz"},
	{"err_to_empty", "Enter the recipient's e-mail address.",
	 "Geben Sie die E-Mail-Adresse des Empfängers ein."},
	{"err_to_invalid", "This is not a valid e-mail address:",
	 "Das ist keine gültige E-Mail-Adresse:"},
	{"err_to_external",
	 "Messages from this portal may only go to addresses of the organisation; external "
	 "addresses cannot be written to from here. Not accepted:",
	 "Nachrichten aus diesem Portal dürfen nur an Adressen der Organisation gehen; an externe "
	 "Adressen kann von hier nicht geschrieben werden. Nicht angenommen:"},
	{"err_subject", "The subject must be one line of at most 500 bytes without control characters.",
	 "Der Betreff muss eine Zeile von höchstens 500 Byte ohne Steuerzeichen sein."},
	{"err_text_empty", "Write a message text.", "Bitte schreiben Sie einen Nachrichtentext."},
	{"err_text_chars",
	 "The text contains characters that cannot be sent (control characters or invalid UTF-8).",
	 "Der Text enthält Zeichen, die nicht gesendet werden können (Steuerzeichen oder ungültiges "
	 "UTF-8)."},
	{"err_files_count",
	 "Too many attachments; choose the files again. The most one message can carry:",
	 "Zu viele Anhänge; wählen Sie die Dateien erneut. Höchstzahl pro Nachricht:"},
	{"err_send_rate",
	 "You have sent as many messages from the portal in the last hour as it allows; please send "
	 "this one a little later (your text is kept below). Messages per hour:",
	 "Sie haben in der letzten Stunde so viele Nachrichten über das Portal gesendet, wie es "
	 "erlaubt; bitte senden Sie diese etwas später (Ihr Text steht unten). Nachrichten pro "
	 "Stunde:"},
	{"err_size",
	 "The message is too large to be sent encrypted; choose fewer or smaller files and send the "
	 "rest in another message. The limit is",
	 "Die Nachricht ist zu groß, um verschlüsselt gesendet zu werden; wählen Sie weniger oder "
	 "kleinere Dateien und senden Sie den Rest in einer weiteren Nachricht. Die Grenze ist"},
	{"err_size_files", "attachments together at most about",
	 "Anhänge zusammen höchstens etwa"},
	{"err_reply_expired",
	 "This reply link has expired. Write a new message instead: \"New message\" on your account "
	 "page.",
	 "Dieser Antwort-Link ist abgelaufen. Schreiben Sie stattdessen eine neue Nachricht: "
	 "\"Neue Nachricht\" auf Ihrer Kontoseite."},
	{"err_reply_token",
	 "This reply link is not valid. Open it again from the PDF (the whole link), or write a "
	 "new message.",
	 "Dieser Antwort-Link ist ungültig. Öffnen Sie ihn erneut aus dem PDF (den ganzen Link) "
	 "oder schreiben Sie eine neue Nachricht."},
	{"err_reply_other",
	 "This reply link belongs to a message for another address. Log in with the address the "
	 "message was sent to.",
	 "Dieser Antwort-Link gehört zu einer Nachricht an eine andere Adresse. Melden Sie sich mit "
	 "der Adresse an, an die die Nachricht ging."},
	{"reset_done",
	 "Your password has been reset. Log in with the new password. We have sent you an e-mail "
	 "about it.",
	 "Ihr Passwort wurde zurückgesetzt. Melden Sie sich mit dem neuen Passwort an. Wir haben "
	 "Ihnen dazu eine E-Mail geschickt."},
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

/* The q-value of one Accept-Language item ("de;q=0.8"), 1000 = 1.0. RFC 9110's qvalue is "0"
 * or "1" and at most three decimals: anything else (more digits, junk after them) weighs 0, so
 * a hostile weight is never a number at all, let alone one that overflows. */
static int item_q(const char *item, size_t len)
{
	const char *q = NULL, *end = item + len;
	for (size_t i = 0; i + 2 < len; i++)
		if (item[i] == ';' && item[i + 1] == 'q' && item[i + 2] == '=')
			q = item + i + 3;
	if (q == NULL)
		return 1000;
	while (end > q && end[-1] == ' ')
		end--;
	if (q == end || (*q != '0' && *q != '1'))
		return 0;
	int v = (*q++ - '0') * 1000;
	if (q < end && *q == '.') {
		q++;
		for (int scale = 100; q < end && scale > 0 && *q >= '0' && *q <= '9'; q++, scale /= 10)
			v += (*q - '0') * scale;
	}
	if (q != end)
		return 0;
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

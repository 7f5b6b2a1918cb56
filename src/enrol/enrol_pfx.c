/* enrol_pfx.c: the files an employee downloads: a .pfx (PKCS#12 of the certificate, its key
 * unsealed for this moment only, and the CA certificate) and, for a renewal, the ZIP with the
 * old and the new .pfx, each named by its validity dates, and a README in the user's
 * language (the FAQ's steps: install only the new one, select it in Outlook). */
#include "enrol/enrol.h"

#include "core/settings.h"
#include "core/sg_buf.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "crypto/ca.h"
#include "crypto/keystore.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define README_EN \
    "Your certificates for secure e-mail\r\n" \
    "===================================\r\n\r\n" \
    "This ZIP file holds two certificates of %s:\r\n\r\n" \
    "  old: %s\r\n" \
    "  new: %s\r\n\r\n" \
    "The dates in each file name are when the certificate starts and ends.\r\n\r\n" \
    "1. Save the ZIP file to your home drive and extract both files.\r\n" \
    "2. Install ONLY THE NEW certificate: double-click %s and enter the PIN\r\n" \
    "   shown on the portal page. Keep the old one: it still opens older mail.\r\n" \
    "3. In Outlook open File - Options - Trust Center - Trust Center Settings -\r\n" \
    "   E-mail Security and click Settings.\r\n" \
    "4. Next to Signing Certificate click Choose, then More choices, and select the\r\n" \
    "   new certificate (the one with the later expiry date).\r\n" \
    "5. Do the same for the Encryption Certificate, then click OK.\r\n\r\n" \
    "To renew the certificate on a mobile phone, contact your IT Service Desk.\r\n"

#define README_DE \
    "Ihre Zertifikate für sichere E-Mail\r\n" \
    "===================================\r\n\r\n" \
    "Diese ZIP-Datei enthält zwei Zertifikate von %s:\r\n\r\n" \
    "  alt: %s\r\n" \
    "  neu: %s\r\n\r\n" \
    "Die Daten im Dateinamen sind Beginn und Ende der Gültigkeit.\r\n\r\n" \
    "1. Speichern Sie die ZIP-Datei in Ihrem Home-Laufwerk und entpacken Sie beide Dateien.\r\n" \
    "2. Installieren Sie NUR DAS NEUE Zertifikat: Doppelklick auf %s und die\r\n" \
    "   PIN von der Portalseite eingeben. Behalten Sie das alte: es öffnet ältere E-Mails.\r\n" \
    "3. Öffnen Sie in Outlook Datei - Optionen - Trust Center - Einstellungen für das\r\n" \
    "   Trust Center - E-Mail-Sicherheit und klicken Sie auf Einstellungen.\r\n" \
    "4. Klicken Sie bei Signaturzertifikat auf Auswählen, dann Weitere Optionen, und\r\n" \
    "   wählen Sie das neue Zertifikat (das mit dem späteren Ablaufdatum).\r\n" \
    "5. Ebenso beim Verschlüsselungszertifikat, dann OK.\r\n\r\n" \
    "Für das Zertifikat auf dem Mobiltelefon wenden Sie sich an Ihren IT Service Desk.\r\n"

static void day_text(time_t t, char *dst, size_t size)
{
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL || strftime(dst, size, "%Y-%m-%d", &tm) == 0)
		sg_strlcpy(dst, "0000-00-00", size);
}

void enrol_pfx_name(const struct store_cert *cert, char *dst, size_t size)
{
	char from[16], until[16];
	day_text(cert->not_before, from, sizeof(from));
	day_text(cert->not_after, until, sizeof(until));
	if (sg_snprintf(dst, size, "%s_%s_%s.pfx", cert->address, from, until) < 0)
		sg_strlcpy(dst, "certificate.pfx", size);
}

static int unseal_key(const struct enrol_ctx *ec, const struct store_cert *cert,
                      struct keystore_key **key_r, const char **error_r)
{
	unsigned char *sealed = NULL;
	size_t len = 0;
	char owner[80];
	sg_snprintf(owner, sizeof(owner), "cert:%s", cert->fingerprint);
	int rc = store_key_get(ec->store, cert->id, &sealed, &len, error_r);
	if (rc == 0)
		*error_r = "no private key is stored with this certificate";
	if (rc == 1)
		rc = keystore_unseal(ec->keystore, sealed, len, owner, key_r, error_r) == 0 ? 1 : -1;
	sg_free(&sealed);
	return rc == 1 ? 0 : -1;
}

int enrol_pfx_make(const struct enrol_ctx *ec, const struct store_cert *cert, const char *pin,
                   unsigned char **out_r, size_t *len_r, const char **error_r)
{
	struct keystore_key *key = NULL;
	if (unseal_key(ec, cert, &key, error_r) < 0)
		return -1;
	size_t ca_len = 0;
	const unsigned char *ca_der = ca_cert_der(ec->ca, &ca_len);
	bool legacy = strcmp(settings_get(ec->settings, "ca.pfx_protection"), "legacy") == 0;
	int rc = ca_pkcs12_export(cert->der, cert->der_len, key, ca_der, ca_len, cert->address,
	                          legacy, pin, out_r, len_r, error_r);
	keystore_key_free(&key);
	return rc;
}

/* The README of a renewal ZIP, in lang, into b. */
static int readme(const char *lang, const char *address, const char *old_name,
                  const char *new_name, struct sg_buf *b)
{
	bool de = strcmp(lang, "de") == 0;
	return sg_buf_printf(b, de ? README_DE : README_EN, address, old_name, new_name, new_name);
}

int enrol_pfx_renewal_zip(const struct enrol_ctx *ec, const struct store_enrolment *e,
                          const char *pin, struct sg_buf *out, const char **error_r)
{
	struct store_cert old, new;
	memset(&old, 0, sizeof(old));
	memset(&new, 0, sizeof(new));
	unsigned char *old_pfx = NULL, *new_pfx = NULL;
	size_t old_len = 0, new_len = 0;
	char old_name[SG_ADDR_MAX + 32], new_name[SG_ADDR_MAX + 32];
	struct sg_buf text;
	sg_buf_init(&text, 8192);
	int rc = -1;
	*error_r = "the certificates of this renewal are no longer stored";
	if (enrol_cert_get(ec, e->address, e->prev_cert_id, &old, error_r) == 1 &&
	    enrol_cert_get(ec, e->address, e->cert_id, &new, error_r) == 1 &&
	    enrol_pfx_make(ec, &old, pin, &old_pfx, &old_len, error_r) == 0 &&
	    enrol_pfx_make(ec, &new, pin, &new_pfx, &new_len, error_r) == 0) {
		enrol_pfx_name(&old, old_name, sizeof(old_name));
		enrol_pfx_name(&new, new_name, sizeof(new_name));
		if (readme(e->lang, e->address, old_name, new_name, &text) < 0) {
			*error_r = "renewal: the README does not fit";
		} else {
			struct enrol_zip_entry entries[] = {
				{old_name, old_pfx, old_len},
				{new_name, new_pfx, new_len},
				{strcmp(e->lang, "de") == 0 ? "LIESMICH.txt" : "README.txt", text.data,
				 text.len},
			};
			rc = enrol_zip_write(entries, 3, out, error_r);
		}
	}
	sg_buf_free(&text);
	sg_free(&old_pfx);
	sg_free(&new_pfx);
	store_cert_clear(&old);
	store_cert_clear(&new);
	return rc;
}

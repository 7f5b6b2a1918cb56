/* limits.h: every buffer ceiling of sealgate in one place.
 * A growable buffer names its ceiling here; appending past it is an error, never a realloc. */
#ifndef SG_LIMITS_H
#define SG_LIMITS_H

/* SMTP (RFC 5321 §4.5.3.1 gives 512 for commands; we allow room for ESMTP parameters
 * and SMTPUTF8 addresses, and 998+2 for text lines as RFC 5322 does). */
#define SG_SMTP_CMD_LINE_MAX      2048
#define SG_SMTP_TEXT_LINE_MAX     1000
#define SG_SMTP_DATA_LINE_MAX     (64 * 1024) /* longer lines are refused, not wrapped */
#define SG_SMTP_REPLY_LINE_MAX    1024
#define SG_SMTP_REPLY_MAX         (16 * 1024) /* a whole multi-line reply */
#define SG_SMTP_HELO_MAX          255
#define SG_ADDR_MAX               512  /* RFC 5321: 64 local + @ + 255 domain, with room for quoting */
#define SG_LOCALPART_MAX          128
#define SG_DOMAIN_MAX             255
#define SG_SMTP_RCPT_HARD_MAX     10000 /* ceiling for the smtp.max_recipients setting */
#define SG_HEADER_BLOCK_MAX       (1024 * 1024)

/* Spool */
#define SG_QUEUE_ID_MAX           32
#define SG_SPOOL_RECORD_MAX       (4 * 1024 * 1024) /* an envelope file */
#define SG_SPOOL_FIELD_MAX        4096              /* one value in an envelope record */
#define SG_SPOOL_REPLY_MAX        512               /* last reply kept per recipient */

/* Configuration */
#define SG_CONFIG_FILE_MAX        (1024 * 1024)
#define SG_CONFIG_VALUE_MAX       4096
#define SG_PATH_MAX               4096

/* Messages */
#define SG_MESSAGE_SIZE_HARD_MAX  (1024L * 1024 * 1024) /* ceiling for smtp.max_message_size */

/* S/MIME and keys (crypto/, store/) */
#define SG_CERT_DER_MAX           (64 * 1024)       /* one X.509 certificate */
#define SG_SEALED_KEY_MAX         (16 * 1024)       /* a sealed private key */
#define SG_PKCS12_MAX             (1024 * 1024)     /* a .p12 / .pfx file */
#define SG_SMIME_CAPS_MAX         4096              /* an SMIMECapabilities attribute */
#define SG_CRL_FILE_MAX           (64L * 1024 * 1024) /* the instance CA's own CRL file */
#define SG_CRL_FETCH_MAX          (8L * 1024 * 1024)  /* a partner CA's CRL fetched over HTTP */
#define SG_OCSP_RESPONSE_MAX      (64 * 1024)       /* an OCSP response */
#define SG_REVOCATION_TIMEOUT     5                 /* seconds for one CRL or OCSP fetch */

/* LDAP certificate directory (ldap/) */
#define SG_LDAP_PDU_MAX           (64 * 1024)  /* one request; Outlook's are under 1 KB */
#define SG_LDAP_FILTER_DEPTH_MAX  32           /* nesting of and/or/not */
#define SG_LDAP_FILTER_NODES_MAX  256          /* items in one filter */
#define SG_LDAP_ATTRS_MAX         64           /* attributes named in one search */
#define SG_LDAP_DN_MAX            1024
#define SG_LDAP_OUTPUT_MAX        (64 * 1024 * 1024) /* replies to one request */
#define SG_LDAP_OUTPUT_SOFT       (4 * 1024 * 1024)  /* no new request while more waits */
#define SG_LDAP_CONNECTIONS_HARD_MAX 10000     /* ceiling for ldap.max_connections */
#define SG_LDAP_RESULTS_HARD_MAX  100000       /* ceiling for ldap.max_results */

/* SecurePDF (pdf/) */
#define SG_PDF_ATTACHMENTS_MAX    500               /* attachments embedded in one PDF */
#define SG_PDF_BODY_TEXT_MAX      (8 * 1024 * 1024) /* body text laid out (UTF-8 bytes) */
#define SG_PDF_PAGES_MAX          5000
#define SG_PDF_OUTPUT_MAX         (256L * 1024 * 1024) /* one finished PDF */
#define SG_PDF_MIME_DEPTH_MAX     32                /* nesting of multiparts walked */
#define SG_PDF_FIELD_MAX          4096              /* a header value shown on page 1 */
#define SG_PDF_URL_MAX            2048              /* the Reply link */
#define SG_PDF_FILENAME_MAX       255               /* an attachment name, UTF-8 bytes */
#define SG_PDF_HTML_HREF_MAX      2048              /* a link target kept by the HTML reducer */

/* OpenPGP (crypto/pgp_*) */
#define SG_PGP_KEYFILE_MAX        (4 * 1024 * 1024) /* one import: a key file or keyring */
#define SG_PGP_KEYS_PER_IMPORT_MAX 1000             /* primary keys read from one import */
#define SG_PGP_KEY_MAX            (1024 * 1024)     /* one stored public key with subkeys */
#define SG_PGP_SIGS_MAX           16                /* signatures reported per message */
#define SG_PGP_LAYERS_MAX         4                 /* nested signed/encrypted layers undone */
#define SG_PGP_AUTOCRYPT_MAX      (64 * 1024)       /* one Autocrypt: header value */

/* Web portal (portal/) */
#define SG_HTTP_FIELD_MAX         4096              /* one text field of a form, bytes */
#define SG_HTTP_FIELDS_MAX        32                /* fields in one form */
#define SG_HTTP_BODY_MAX          (1024 * 1024)     /* one request body (an uploaded key) */
#define SG_HTTP_TEXT_MAX          (256 * 1024)      /* the text field of a message written on the portal */
#define SG_HTTP_COMPOSE_BODY_MAX  (64L * 1024 * 1024) /* a message with attachments (POST /compose,
                                                     * /reply/...): policy.max_encrypted_size, capped */
#define SG_HTTP_COMPOSE_PAGE_MAX  (2 * 1024 * 1024) /* the compose page, with the text shown again */
#define SG_HTTP_PAGE_MAX          (256 * 1024)      /* one rendered page */
#define SG_HTTP_CONNECTIONS_MAX   256               /* concurrent portal connections */

/* DKIM (crypto/sgdkim.h) */
#define SG_DKIM_KEYFILE_MAX       (64 * 1024)  /* a private key file given to dkim import */
#define SG_DKIM_SELECTOR_MAX      63           /* one DNS label */
#define SG_DKIM_KEYS_PER_DOMAIN   2            /* active selectors: the old and the new key */
#define SG_DKIM_FIELD_MAX         4096         /* one DKIM-Signature field as written */

/* Logging: attacker text is cut to this many characters. */
#define SG_LOG_PEER_TEXT_MAX      100

#endif

/* ca.h: the instance CA. `sealgate init` creates it and the TLS server certificate that
 * smtpd (STARTTLS), the portal and ldapd present. User and proxy certificates (the S/MIME
 * issue) are issued by the same CA. */
#ifndef SG_CA_H
#define SG_CA_H

/* Creates DIR/ca.crt and DIR/ca.key (0600): RSA-3072 self-signed CA, 10 years. */
int ca_init_create(const char *ca_dir, const char *organization, const char **error_r);
/* Issues a TLS server certificate for hostname (SAN: hostname, localhost, 127.0.0.1, ::1)
 * from the CA in ca_dir: EC P-256 key, 825 days. Writes cert_path (leaf then CA) and
 * key_path (0600). */
int ca_init_server_cert(const char *ca_dir, const char *hostname, const char *organization,
                        const char *cert_path, const char *key_path, const char **error_r);

#endif

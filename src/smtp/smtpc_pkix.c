/* smtpc_pkix.c: PKIX authentication of the next hop for MTA-STS (RFC 8461 4.2): the
 * certificate must chain to a trusted root (the system store, or deliver.ca_file) and name
 * the MX host (SAN dNSName; a wildcard only as the whole leftmost label). As for DANE
 * (smtpc_dane.c) the handshake itself verifies nothing: the verdict is read after it, so the
 * reason can be named, and an enforced failure ends the session before MAIL FROM. */
#include "smtp/smtpc.h"

#include "core/sg_str.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>

int smtpc_pkix_prepare(struct smtpc_io *io, const char *host, const char **error_r)
{
	const char *ca_file = io->pkix_ca_file;
	int loaded = ca_file != NULL && *ca_file != '\0'
	                 ? SSL_CTX_load_verify_locations(io->ctx, ca_file, NULL)
	                 : SSL_CTX_set_default_verify_paths(io->ctx);
	if (loaded != 1) {
		ERR_clear_error();
		*error_r = "cannot load the trust anchors for MTA-STS (deliver.ca_file)";
		return -1;
	}
	SSL_set_hostflags(io->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (host == NULL || SSL_set1_host(io->ssl, host) != 1) {
		ERR_clear_error();
		*error_r = "cannot set the MX host name for certificate verification";
		return -1;
	}
	return 0;
}

int smtpc_pkix_verdict(struct smtpc_io *io, const char *host, char *auth_r, size_t authsize,
                       const char **error_r)
{
	long v = SSL_get_verify_result(io->ssl);
	if (v == X509_V_OK && SSL_get0_peer_certificate(io->ssl) != NULL) {
		snprintf(auth_r, authsize, "pkix=verified");
		return 0;
	}
	char raw[sizeof(io->pkix_problem)];
	snprintf(raw, sizeof(raw), "certificate of %s not valid (mta-sts): %s", host,
	         v == X509_V_OK ? "none presented" : X509_verify_cert_error_string(v));
	sg_printable(io->pkix_problem, sizeof(io->pkix_problem), raw, sizeof(raw) - 1);
	if (io->pkix != SMTPC_PKIX_ENFORCE)
		return 0;
	*error_r = io->pkix_problem;
	return -1;
}

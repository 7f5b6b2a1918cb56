/* smtpc_pkix.c: PKIX authentication of the next hop for MTA-STS (RFC 8461 4.2): the
 * certificate must chain to a trusted root (the system store, or deliver.ca_file) and name
 * the MX host (SAN dNSName, a wildcard only as a whole leftmost label). Enforced, a failure
 * ends the handshake; in testing mode it is only reported. */
#include "smtp/smtpc.h"

#include "core/sg_str.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>

int smtpc_pkix_prepare(struct ssl_ctx_st *ctx, struct ssl_st *ssl, const char *host,
                       const char *ca_file, bool enforce, const char **error_r)
{
	int loaded = ca_file != NULL && *ca_file != '\0'
	                 ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
	                 : SSL_CTX_set_default_verify_paths(ctx);
	if (loaded != 1) {
		ERR_clear_error();
		*error_r = "cannot load the trust anchors (deliver.ca_file)";
		return -1;
	}
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (SSL_set1_host(ssl, host) != 1) {
		ERR_clear_error();
		*error_r = "cannot set the MX host name for certificate verification";
		return -1;
	}
	SSL_set_verify(ssl, enforce ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	return 0;
}

int smtpc_pkix_verdict(struct ssl_st *ssl, const char *host, char *auth_r, size_t authsize,
                       char *problem_r, size_t problemsize)
{
	long v = SSL_get_verify_result(ssl);
	if (v == X509_V_OK && SSL_get0_peer_certificate(ssl) != NULL) {
		snprintf(auth_r, authsize, "mta-sts=verified");
		return 0;
	}
	char raw[200];
	snprintf(raw, sizeof(raw), "certificate of %s not valid: %s", host,
	         v == X509_V_OK ? "none presented" : X509_verify_cert_error_string(v));
	sg_printable(problem_r, problemsize, raw, problemsize - 1);
	return -1;
}

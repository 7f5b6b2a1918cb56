/* smtp_tls.c: the server side TLS context for STARTTLS: TLS 1.2 or newer, our certificate
 * chain and key from PEM files, no renegotiation, no compression. */
#include "smtp/smtp.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

struct ssl_ctx_st *smtp_tls_server_ctx(const char *cert_file, const char *key_file,
                                       const char **error_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		*error_r = "cannot create a TLS context";
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	                             SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* A mail server serves many one-shot peers: no session cache worth the memory. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		*error_r = "cannot load the TLS certificate (smtp.tls_cert)";
	} else if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
		*error_r = "cannot load the TLS key (smtp.tls_key)";
	} else if (SSL_CTX_check_private_key(ctx) != 1) {
		*error_r = "the TLS key does not match the certificate";
	} else {
		return ctx;
	}
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

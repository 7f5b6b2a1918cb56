/* smtpc_dane.c: DANE for SMTP (RFC 7672) on OpenSSL's own DANE verifier (SSL_dane_enable,
 * SSL_dane_tlsa_add): the TLSA records are matched during the handshake, the chain the peer
 * sends is the only input. DANE-EE(3) matches the server's certificate or key alone, with no
 * name or expiry checks (RFC 7672 3.1.1); DANE-TA(2) names a trust anchor in the chain, and the
 * server certificate must then carry the MX host name (RFC 7672 3.2.2). */
#include "smtp/smtpc.h"

#include "dns/dns.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <stdio.h>

bool smtpc_tlsa_usable(const struct dns_tlsa *t)
{
	return (t->usage == 2 || t->usage == 3) && t->selector <= 1 && t->mtype <= 2 && t->len > 0;
}

int smtpc_dane_prepare(SSL_CTX *ctx, SSL *ssl, const char *host,
                       const struct dns_tlsa_list *tlsa, const char **error_r)
{
	if (SSL_CTX_dane_enable(ctx) <= 0 || SSL_dane_enable(ssl, host) <= 0) {
		ERR_clear_error();
		*error_r = "cannot enable DANE in OpenSSL";
		return -1;
	}
	/* SMTP has no name checks for DANE-EE (RFC 7672 3.1.1). */
	SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	int usable = 0;
	for (size_t i = 0; i < tlsa->count; i++) {
		const struct dns_tlsa *t = &tlsa->rr[i];
		if (smtpc_tlsa_usable(t) &&
		    SSL_dane_tlsa_add(ssl, t->usage, t->selector, t->mtype, t->data, t->len) > 0)
			usable++;
	}
	ERR_clear_error(); /* a malformed record (a wrong digest length) is skipped, not fatal */
	if (usable == 0) {
		*error_r = "no usable TLSA record";
		return -1;
	}
	/* The verdict is read after the handshake (smtpc_dane_verdict) to name the reason. */
	SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	return 0;
}

int smtpc_dane_verdict(SSL *ssl, char *auth_r, size_t authsize, const char **error_r)
{
	long v = SSL_get_verify_result(ssl);
	uint8_t usage = 0, selector = 0, mtype = 0;
	int depth = SSL_get0_dane_tlsa(ssl, &usage, &selector, &mtype, NULL, NULL);
	if (v != X509_V_OK || depth < 0) {
		static __thread char why[200];
		snprintf(why, sizeof(why), "the certificate matches no TLSA record (dane=fail: %s)",
		         v != X509_V_OK ? X509_verify_cert_error_string(v) : "no match");
		*error_r = why;
		return -1;
	}
	snprintf(auth_r, authsize, "dane=verified (TLSA %u %u %u, depth %d)", usage, selector, mtype,
	         depth);
	return 0;
}

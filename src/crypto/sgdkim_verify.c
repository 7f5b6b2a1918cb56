/* sgdkim_verify.c: the verdict on the DKIM signature a message arrived with, for the
 * ARC-Authentication-Results sealgate writes after it changed the message (the internal
 * server can no longer check the signature itself). */
#include "crypto/sgdkim.h"
#include "crypto/sgdkim_priv.h"
#include "core/sg_str.h"

#include <stdio.h>
#include <string.h>

/* d= and s= of sig, made printable for a header field. */
static void sig_names(DKIM_SIGINFO *sig, char *d, char *s, size_t size)
{
	const char *dom = (const char *)dkim_sig_getdomain(sig);
	const char *sel = (const char *)dkim_sig_getselector(sig);
	sg_printable(d, size, dom != NULL ? dom : "", 100);
	sg_printable(s, size, sel != NULL ? sel : "", 64);
	for (char *p = d; *p; p++)
		if (*p == ' ' || *p == ';' || *p == '(' || *p == ')')
			*p = '_';
	for (char *p = s; *p; p++)
		if (*p == ' ' || *p == ';' || *p == '(' || *p == ')')
			*p = '_';
}

void sgdkim_verify(struct sgdkim_lib *lib, const char *msg, size_t len, char *res, size_t size)
{
	DKIM_STAT st = DKIM_STAT_OK;
	DKIM *d = dkim_verify(lib->lib, (const u_char *)"sealgate", NULL, &st);
	if (d == NULL) {
		snprintf(res, size, "dkim=temperror (verifier unavailable)");
		return;
	}
	st = sgdkim_feed(d, msg, len);
	if (st == DKIM_STAT_OK || st == DKIM_STAT_NOSIG)
		st = dkim_eom(d, NULL);
	DKIM_SIGINFO *sig = dkim_getsignature(d);
	char dom[128], sel[80];
	if (sig == NULL || st == DKIM_STAT_NOSIG) {
		snprintf(res, size, "dkim=none");
	} else {
		sig_names(sig, dom, sel, sizeof(sel));
		const char *why = dkim_sig_geterrorstr(dkim_sig_geterror(sig));
		if (st == DKIM_STAT_OK && DKIM_SIG_CHECK(sig))
			snprintf(res, size, "dkim=pass header.d=%s header.s=%s", dom, sel);
		else if (st == DKIM_STAT_CANTVRFY || st == DKIM_STAT_KEYFAIL)
			snprintf(res, size, "dkim=temperror (key not retrieved) header.d=%s header.s=%s",
			         dom, sel);
		else
			snprintf(res, size, "dkim=fail (%s) header.d=%s header.s=%s",
			         why != NULL ? why : "bad signature", dom, sel);
	}
	dkim_free(d);
}

/* scan_reply.c: clamd's answer to zINSTREAM. The forms (clamd(8), "Commands"):
 *   "stream: OK"                       clean
 *   "stream: Eicar-Test-Signature FOUND"   infected, with the signature's name
 *   "stream: <why> ERROR" / "INSTREAM size limit exceeded. ERROR"   failed
 * Anything else (garbage, a truncated reply, a name with control characters) is a failure,
 * never a clean verdict. */
#include "scan/scan.h"

#include "core/sg_str.h"

#include <stdio.h>
#include <string.h>

#define PREFIX "stream: "

static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);
	return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

static void failed(struct scan_result *r, const char *what, const char *reply, size_t len)
{
	char shown[101];
	size_t n = len < sizeof(shown) - 1 ? len : sizeof(shown) - 1;
	memcpy(shown, reply, n);
	shown[n] = '\0';
	char clean[sizeof(shown) + 4];
	sg_printable(clean, sizeof(clean), shown, 100);
	r->verdict = SCAN_FAILED;
	snprintf(r->error, sizeof(r->error), "clamd %s: \"%s\"", what, clean);
}

/* The name between "stream: " and " FOUND": printable ASCII without spaces at either end. */
static bool take_signature(const char *s, size_t n, struct scan_result *r)
{
	if (n == 0 || n >= sizeof(r->signature) || s[0] == ' ' || s[n - 1] == ' ')
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	memcpy(r->signature, s, n);
	r->signature[n] = '\0';
	return true;
}

void scan_reply_parse(const char *reply, size_t len, struct scan_result *r)
{
	memset(r, 0, sizeof(*r));
	while (len > 0 && (reply[len - 1] == '\n' || reply[len - 1] == '\0'))
		len--;
	size_t plen = strlen(PREFIX);
	if (ends_with(reply, len, " ERROR")) {
		failed(r, "could not scan", reply, len);
		return;
	}
	if (len < plen || memcmp(reply, PREFIX, plen) != 0) {
		failed(r, "answered something unexpected", reply, len);
		return;
	}
	const char *rest = reply + plen;
	size_t n = len - plen;
	if (n == 2 && memcmp(rest, "OK", 2) == 0) {
		r->verdict = SCAN_CLEAN;
		return;
	}
	if (ends_with(rest, n, " FOUND") && take_signature(rest, n - strlen(" FOUND"), r)) {
		r->verdict = SCAN_INFECTED;
		return;
	}
	failed(r, "answered something unexpected", reply, len);
}

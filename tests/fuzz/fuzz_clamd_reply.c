/* fuzz_clamd_reply.c: clamd's reply to INSTREAM is hostile input (a compromised or confused
 * clamd, or whatever listens on the configured socket). The parser must never crash, never call
 * anything clean that is not exactly "stream: OK", and keep only printable signature names. */
#include "scan/scan.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scan_result r;
	if (size > SCAN_REPLY_MAX)
		size = SCAN_REPLY_MAX;
	scan_reply_parse((const char *)data, size, &r);
	size_t n = size;
	while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == '\0'))
		n--;
	if (r.verdict == SCAN_CLEAN && !(n == 10 && memcmp(data, "stream: OK", 10) == 0))
		__builtin_trap();
	if (r.verdict == SCAN_INFECTED) {
		size_t len = strnlen(r.signature, sizeof(r.signature));
		if (len == 0 || len >= sizeof(r.signature))
			__builtin_trap();
		for (size_t i = 0; i < len; i++)
			if (r.signature[i] < 0x20 || r.signature[i] > 0x7e)
				__builtin_trap();
	}
	if (r.verdict == SCAN_FAILED && strnlen(r.error, sizeof(r.error)) == sizeof(r.error))
		__builtin_trap();
	return 0;
}

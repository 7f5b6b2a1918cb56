/* fuzz_fetch_http.c: HTTP responses (MTA-STS policies, WKD/VKS/HKP answers) are hostile input;
 * the incremental parser must reject or accept any byte string, split anywhere, without
 * crashing, and never hand out a body over its ceiling. The first byte picks the split size
 * and the ceiling. */
#include "core/sg_mem.h"
#include "fetch/fetch.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = (size_t)(data[0] & 0x1f) + 1;
	size_t max_body = (size_t)(data[0] >> 5) * 512;
	const char *p = (const char *)data + 1;
	size_t n = size - 1;
	struct fetch_http h;
	fetch_http_init(&h, max_body);
	const char *err = NULL;
	int rc = 0;
	for (size_t off = 0; off < n && rc == 0; off += step)
		rc = fetch_http_feed(&h, p + off, n - off < step ? n - off : step, &err);
	if (rc == 0)
		rc = fetch_http_eof(&h, &err);
	if (rc < 0 && err == NULL)
		__builtin_trap();
	if (rc == 1) {
		size_t len;
		char *body = fetch_http_take_body(&h, &len);
		if (len > max_body || body[len] != '\0' || h.status < 100 || h.status > 599)
			__builtin_trap();
		sg_free(&body);
	}
	fetch_http_free(&h);
	return 0;
}

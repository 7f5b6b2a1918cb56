/* fuzz_lookup_answer.c: what key discovery reads from hosts it does not control, through our
 * own code: a keyserver's or WKD's HTTP answer (status and body, judged by lookup_http_judge,
 * which hands the body to the key inspection) and an SMIMEA record's rdata
 * (lookup_dns_smimea_cert). The first byte chooses; any bytes must be refused or accepted
 * without a crash, and what is accepted must stay within its input. */
#include "lookup/lookup_priv.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void smimea(const uint8_t *data, size_t size)
{
	const unsigned char *der = NULL;
	size_t len = 0;
	int rc = lookup_dns_smimea_cert(data, size, &der, &len);
	if (rc == 1 && (der != data + 3 || len != size - 3 || len == 0 || data[1] != 0 || data[2] != 0))
		__builtin_trap();
	if (rc != 1 && der != NULL)
		__builtin_trap();
}

static void http(const uint8_t *data, size_t size)
{
	if (size < 2)
		return;
	int status = (data[0] << 8 | data[1]) % 600;
	struct lookup_answer a;
	memset(&a, 0, sizeof(a));
	lookup_http_judge(status, (const char *)data + 2, size - 2, "bob@partner.test", "fuzz", &a);
	if (a.outcome == LOOKUP_FOUND && (status != 200 || a.data == NULL || a.len == 0 ||
	                                  a.kind != STORE_LOOKUP_PGP))
		__builtin_trap();
	if (a.outcome != LOOKUP_FOUND && a.data != NULL)
		__builtin_trap();
	if (memchr(a.detail, '\0', sizeof(a.detail)) == NULL)
		__builtin_trap();
	lookup_answer_clear(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		smimea(data + 1, size - 1);
	else
		http(data + 1, size - 1);
	return 0;
}

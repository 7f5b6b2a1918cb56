/* fuzz_smtpc_reply.c: next-hop replies are hostile input; the parser must reject or accept
 * any byte string without crashing, and what it accepts must summarise cleanly. */
#include "smtp/smtpc.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct smtpc_reply r;
	const char *buf = (const char *)data;
	size_t off = 0;
	/* Parse replies back to back, as a pipelined client would. */
	while (off < size) {
		size_t consumed = 0;
		const char *err = NULL;
		int rc = smtpc_reply_parse(buf + off, size - off, &r, &consumed, &err);
		if (rc <= 0)
			break;
		if (consumed == 0 || consumed > size - off)
			__builtin_trap();
		char line[600], status[16];
		smtpc_reply_summary(&r, line, sizeof(line));
		smtpc_reply_status(&r, status, sizeof(status));
		if (r.code < 200 || r.code > 599 || strlen(status) < 5)
			__builtin_trap();
		off += consumed;
	}
	return 0;
}

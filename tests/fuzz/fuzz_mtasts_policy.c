/* fuzz_mtasts_policy.c: an MTA-STS policy and TXT record come from any domain a user mails;
 * the parsers must refuse or accept any bytes without crashing, and what they accept must be
 * within the documented bounds. */
#include "mtasts/mtasts.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mtasts_policy p;
	const char *err = NULL;
	if (mtasts_policy_parse((const char *)data, size, &p, &err) == 0) {
		if (p.nmx > MTASTS_MX_MAX || p.max_age < 0 || p.max_age > MTASTS_MAX_AGE_MAX ||
		    (p.mode != MTASTS_NONE && p.nmx == 0))
			__builtin_trap();
		for (size_t i = 0; i < p.nmx; i++)
			(void)mtasts_mx_match(&p, p.mx[i][0] == '*' ? p.mx[i] + 1 : p.mx[i]);
	} else if (err == NULL) {
		__builtin_trap();
	}
	/* the same bytes as TXT records split at NUL-free newlines */
	char buf[1024];
	size_t n = size < sizeof(buf) - 1 ? size : sizeof(buf) - 1;
	memcpy(buf, data, n);
	buf[n] = '\0';
	char *recs[4] = {buf};
	size_t nrec = 1;
	for (char *c = buf; *c != '\0' && nrec < 4; c++)
		if (*c == '\n') {
			*c = '\0';
			recs[nrec++] = c + 1;
		}
	char id[MTASTS_ID_MAX + 1];
	if (mtasts_txt_parse(recs, nrec, id, sizeof(id), &err) == 0 &&
	    (strlen(id) == 0 || strlen(id) > MTASTS_ID_MAX))
		__builtin_trap();
	return 0;
}

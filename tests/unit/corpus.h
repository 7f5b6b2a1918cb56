/* corpus.h: where the unit tests find the shared corpus of real third-party messages and keys:
 * $SEALGATE_CORPUS, else ../shared/corpus beside the checkout (ctest sets SEALGATE_SOURCE_DIR).
 * A test without it skips, loudly counted by `make check`; under CI=true it fails instead. */
#ifndef SG_TEST_CORPUS_H
#define SG_TEST_CORPUS_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *corpus_root(void)
{
	static char path[1024];
	const char *c = getenv("SEALGATE_CORPUS");
	if (c != NULL && c[0] != '\0')
		return c;
	const char *src = getenv("SEALGATE_SOURCE_DIR");
	snprintf(path, sizeof(path), "%s/../shared/corpus", src != NULL ? src : ".");
	return path;
}

/* True when the corpus file rel exists; under CI=true its absence fails the calling test. */
static bool corpus_has(const char *rel)
{
	char path[1200];
	snprintf(path, sizeof(path), "%s/%s", corpus_root(), rel);
	if (access(path, R_OK) == 0)
		return true;
	const char *ci = getenv("CI");
	if (ci != NULL && strcmp(ci, "true") == 0)
		fail_msg("no corpus file %s (CI=true: every test must run); set SEALGATE_CORPUS", path);
	return false;
}

#endif

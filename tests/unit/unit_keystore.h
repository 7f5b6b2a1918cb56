/* unit_keystore.h: for the unit tests that need the key store (the CA key is sealed with it):
 * a new master key in a test's scratch directory, opened. */
#ifndef SG_UNIT_KEYSTORE_H
#define SG_UNIT_KEYSTORE_H

#include "crypto/keystore.h"

#include <stdio.h>

static inline int unit_keystore_new(const char *dir, struct keystore **ks_r)
{
	char path[256];
	const char *err;
	snprintf(path, sizeof(path), "%s/master.key", dir);
	return keystore_master_create(path, &err) == 0 && keystore_open(path, ks_r, &err) == 0 ? 0
	                                                                                        : -1;
}

#endif

/* store_schema.h: private to store/: brings an open store's schema to a version. */
#ifndef SG_STORE_SCHEMA_H
#define SG_STORE_SCHEMA_H

#include "store/store.h"

/* Applies the migrations up to target (-1: all), each in its own transaction. 0 or -1. */
int store_schema_migrate(struct store *st, int target, const char **error_r);

#endif

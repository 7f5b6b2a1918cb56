/* store.h: the interface to the database of users, keys, certificates, held and webmail
 * messages. SQLite is embedded and the default; PostgreSQL comes later behind this same
 * header, so nothing above store/ names a database. */
#ifndef SG_STORE_H
#define SG_STORE_H

struct store;

/* Opens the store named by url ("sqlite:PATH", PATH relative to base_dir), creating the
 * schema or migrating it to the current version. */
struct store *store_open(const char *url, const char *base_dir, const char **error_r);
void store_close(struct store **st);
/* The schema version the store is at. */
int store_schema_version(struct store *st);

#endif

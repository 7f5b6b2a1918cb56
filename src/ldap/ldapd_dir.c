/* ldapd_dir.c: keeps the snapshot current. An acquire asks the store (at most every
 * ldap.refresh seconds) whether users or certificates changed since, on this node or another
 * one sharing the store (a change counter), and whether the clock passed a certificate's start
 * or end; only then is the snapshot rebuilt. Sessions hold references, so a rebuild never
 * pulls entries from under a search in progress. */
#include "ldap/ldapd.h"

#include "core/sg_log.h"
#include "core/sg_mem.h"
#include "core/sg_str.h"
#include "store/store.h"

#include <pthread.h>
#include <stdio.h>
#include <time.h>

struct ldapd_dir {
	pthread_mutex_t lock;
	struct store *st;                   /* NULL: a fixed snapshot */
	const struct ldapd_snapshot_config *cfg;
	struct ldapd_snapshot *cur;
	bool warned;
	time_t next_poll; /* the store's change counter is asked again then */
};

struct ldapd_dir *ldapd_dir_new(struct store *st, const struct ldapd_snapshot_config *cfg)
{
	struct ldapd_dir *dir = sg_calloc(1, sizeof(*dir));
	pthread_mutex_init(&dir->lock, NULL);
	dir->st = st;
	dir->cfg = cfg;
	return dir;
}

struct ldapd_dir *ldapd_dir_new_fixed(struct ldapd_snapshot *snap)
{
	struct ldapd_dir *dir = sg_calloc(1, sizeof(*dir));
	pthread_mutex_init(&dir->lock, NULL);
	dir->cur = snap;
	return dir;
}

void ldapd_dir_free(struct ldapd_dir **dir)
{
	if (*dir == NULL)
		return;
	ldapd_snapshot_unref(&(*dir)->cur);
	pthread_mutex_destroy(&(*dir)->lock);
	sg_free(dir);
}

/* The address an entry is published under: a domain certificate of ours (`domain own`, kept
 * under "@domain") as postmaster@domain, the address it names, unless the postmaster has
 * certificates of its own (then it is left out: one entry per address); NULL to leave out. */
static const char *published_address(const struct store_dir_cert *certs, size_t n, size_t i,
                                     char *dst, size_t size)
{
	if (certs[i].address[0] != '@')
		return certs[i].address;
	if ((size_t)snprintf(dst, size, "postmaster%s", certs[i].address) >= size)
		return NULL;
	for (size_t k = 0; k < n; k++)
		if (sg_streq_nocase(certs[k].address, dst))
			return NULL;
	return dst;
}

static struct ldapd_snapshot *build(struct ldapd_dir *dir, uint64_t version, time_t now)
{
	const char *err;
	struct store_dir_cert *certs = NULL;
	size_t n = 0;
	time_t next = 0;
	if (store_directory_list(dir->st, now, &certs, &n, &next, &err) < 0) {
		sg_error("ldap: cannot read the directory: %s", err);
		return NULL;
	}
	struct ldapd_snapshot *snap = ldapd_snapshot_new(dir->cfg, &err);
	if (snap == NULL)
		sg_fatal("ldap: %s", err); /* checked at start, so the configuration changed under us */
	size_t skipped = 0;
	for (size_t i = 0; i < n; i++) {
		char domain_addr[SG_ADDR_MAX];
		const char *addr = published_address(certs, n, i, domain_addr, sizeof(domain_addr));
		if (addr == NULL ||
		    ldapd_snapshot_add(snap, addr, certs[i].der, certs[i].der_len, &err) < 0)
			skipped++;
	}
	ldapd_snapshot_finish(snap);
	store_directory_list_free(&certs, n);
	snap->version = version;
	snap->next_change = next;
	sg_info("directory: %zu entries from %zu certificates%s", snap->npeople, n - skipped,
	        skipped > 0 ? " (some did not parse and are left out)" : "");
	return snap;
}

/* The store is asked at most every ldap.refresh seconds (a round trip to a database server
 * per search would be its load); a certificate starting or ending is seen at once. */
static bool poll_due(struct ldapd_dir *dir, time_t now)
{
	const struct ldapd_snapshot *cur = dir->cur;
	if (cur != NULL && now < dir->next_poll &&
	    (cur->next_change == 0 || now < cur->next_change))
		return false;
	dir->next_poll = now + dir->cfg->refresh_s;
	return true;
}

static void refresh(struct ldapd_dir *dir)
{
	const char *err;
	uint64_t version = 0;
	time_t now = time(NULL);
	if (!poll_due(dir, now))
		return;
	if (store_directory_version(dir->st, &version, &err) < 0) {
		if (!dir->warned)
			sg_error("ldap: %s", err);
		dir->warned = true;
		return;
	}
	struct ldapd_snapshot *cur = dir->cur;
	if (cur != NULL && cur->version == version &&
	    (cur->next_change == 0 || now < cur->next_change))
		return;
	struct ldapd_snapshot *snap = build(dir, version, now);
	if (snap == NULL)
		return; /* keep serving the last good snapshot */
	ldapd_snapshot_unref(&dir->cur);
	dir->cur = snap;
	dir->warned = false;
}

struct ldapd_snapshot *ldapd_dir_acquire(struct ldapd_dir *dir)
{
	pthread_mutex_lock(&dir->lock);
	if (dir->st != NULL)
		refresh(dir);
	struct ldapd_snapshot *snap = dir->cur != NULL ? ldapd_snapshot_ref(dir->cur) : NULL;
	pthread_mutex_unlock(&dir->lock);
	return snap;
}

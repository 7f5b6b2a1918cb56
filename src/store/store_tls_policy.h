/* store_tls_policy.h: outbound TLS policy per recipient domain (the tls_policy table, like
 * Postfix's smtp_tls_policy_maps), and the modes of deliver.tls. A domain without a row gets
 * deliver.tls. The mode names are stored as text; adding a mode is one enum value and one row
 * of the name table in store_tls_policy.c (no schema change). */
#ifndef SG_STORE_TLS_POLICY_H
#define SG_STORE_TLS_POLICY_H

#include "core/limits.h"

#include <stddef.h>
#include <time.h>

struct store;

enum tls_policy_mode {
	TLS_POLICY_MAY = 0,     /* STARTTLS when offered, no authentication, else plain text */
	TLS_POLICY_ENCRYPT = 1, /* TLS required, no authentication: no STARTTLS → defer */
	TLS_POLICY_DANE = 2,    /* RFC 7672; insecure (unsigned) domains fall back to may */
	TLS_POLICY_MTA_STS = 3, /* RFC 8461: the domain's policy (mtasts/mtasts.h); none → may */
	TLS_POLICY_MODES        /* count; new modes go before it (mta-sts: issue 18) */
};
/* "may" | "encrypt" | "dane" | "mta-sts"; NULL for a value out of range. */
const char *tls_policy_mode_name(enum tls_policy_mode m);
/* 0 with *m_r, or -1 for an unknown name. */
int tls_policy_mode_parse(const char *name, enum tls_policy_mode *m_r);
/* "may|encrypt|dane|mta-sts": the choices, for usage and error messages. */
const char *tls_policy_mode_choices(void);

struct store_tls_policy {
	char domain[SG_DOMAIN_MAX + 1];
	enum tls_policy_mode mode;
	time_t updated;
};
/* Sets (adds or replaces) the mode of domain. 0, or -1 with *error_r. */
int store_tls_policy_set(struct store *st, const char *domain, enum tls_policy_mode mode,
                         const char **error_r);
/* 1 deleted, 0 no such domain, -1 store error. */
int store_tls_policy_delete(struct store *st, const char *domain, const char **error_r);
/* 1 with *mode_r when domain has a row, 0 when not, -1 store error. A row whose mode this
 * build does not know reads as encrypt (the strictest that needs no more than TLS). */
int store_tls_policy_get(struct store *st, const char *domain, enum tls_policy_mode *mode_r,
                         const char **error_r);
/* Every row, by domain; sg_free(rows_r). */
int store_tls_policy_list(struct store *st, struct store_tls_policy **rows_r, size_t *n_r,
                          const char **error_r);

#endif

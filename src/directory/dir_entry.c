/* dir_entry.c: one employee entry as read from the directory: addresses from
 * directory.mail_attribute and AD's proxyAddresses ("SMTP:" primary, "smtp:" aliases; X400:
 * and others skipped), the login name, display name, language and whether the account is
 * disabled. Values are the server's: bounded, checked, cut, never trusted as C strings. */
#include "directory/dir_priv.h"
#include "core/sg_str.h"

#include <string.h>
#include <strings.h>

#define UAC_ACCOUNTDISABLE 0x2

/* The first value of attr as a string (bounded; "" if absent or holding NUL). */
static void first_value(LDAP *ld, LDAPMessage *e, const char *attr, char *dst, size_t size)
{
	dst[0] = '\0';
	struct berval **v = ldap_get_values_len(ld, e, attr);
	if (v == NULL)
		return;
	if (v[0] != NULL && v[0]->bv_len < size && memchr(v[0]->bv_val, '\0', v[0]->bv_len) == NULL) {
		memcpy(dst, v[0]->bv_val, v[0]->bv_len);
		dst[v[0]->bv_len] = '\0';
	}
	ldap_value_free_len(v);
}

static bool plausible_address(const char *a, size_t len)
{
	const char *at = memchr(a, '@', len);
	if (len == 0 || len >= SG_ADDR_MAX || at == NULL || at == a || at == a + len - 1)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)a[i] <= 0x20 || a[i] == 0x7f || a[i] == '<' || a[i] == '>')
			return false;
	return true;
}

static void add_mail(struct dir_employee *emp, const char *a, size_t len, bool primary)
{
	if (!plausible_address(a, len) || emp->nmail >= DIR_MAILS_MAX)
		return;
	char addr[SG_ADDR_MAX];
	memcpy(addr, a, len);
	addr[len] = '\0';
	sg_ascii_lower(addr);
	if (dir_employee_has_mail(emp, addr))
		return;
	size_t at = primary ? 0 : emp->nmail;
	memmove(emp->mail[at + 1], emp->mail[at], (emp->nmail - at) * sizeof(emp->mail[0]));
	sg_strlcpy(emp->mail[at], addr, sizeof(emp->mail[at]));
	emp->nmail++;
}

static void read_mails(const struct directory *d, LDAP *ld, LDAPMessage *e,
                       struct dir_employee *emp)
{
	struct berval **v = ldap_get_values_len(ld, e, d->mail_attr);
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		add_mail(emp, v[i]->bv_val, v[i]->bv_len, false);
	ldap_value_free_len(v);
	if (strcasecmp(d->mail_attr, "proxyAddresses") == 0)
		return;
	v = ldap_get_values_len(ld, e, "proxyAddresses");
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		if (v[i]->bv_len > 5 && strncasecmp(v[i]->bv_val, "smtp:", 5) == 0)
			add_mail(emp, v[i]->bv_val + 5, v[i]->bv_len - 5,
			         strncmp(v[i]->bv_val, "SMTP:", 5) == 0);
	ldap_value_free_len(v);
}

static bool read_disabled(LDAP *ld, LDAPMessage *e)
{
	char v[32];
	const char *err = NULL;
	first_value(ld, e, "userAccountControl", v, sizeof(v));
	long long uac = v[0] != '\0' ? sg_strtonum(v, -2147483648LL, 4294967295LL, &err) : 0;
	if (err == NULL && (uac & UAC_ACCOUNTDISABLE) != 0)
		return true;
	/* ppolicy: this value locks for good (an administrative lock); others are a lockout
	 * after wrong passwords, which ends by itself. */
	first_value(ld, e, "pwdAccountLockedTime", v, sizeof(v));
	if (strcmp(v, "000001010000Z") == 0)
		return true;
	first_value(ld, e, "nsAccountLock", v, sizeof(v));
	return strcasecmp(v, "true") == 0;
}

void dir_entry_read(const struct directory *d, LDAP *ld, LDAPMessage *entry,
                    struct dir_employee *emp_r)
{
	memset(emp_r, 0, sizeof(*emp_r));
	char *dn = ldap_get_dn(ld, entry);
	if (dn != NULL)
		sg_strlcpy(emp_r->dn, dn, sizeof(emp_r->dn));
	ldap_memfree(dn);
	read_mails(d, ld, entry, emp_r);
	first_value(ld, entry, "sAMAccountName", emp_r->login, sizeof(emp_r->login));
	if (emp_r->login[0] == '\0')
		first_value(ld, entry, "uid", emp_r->login, sizeof(emp_r->login));
	if (emp_r->login[0] == '\0' && emp_r->nmail > 0)
		sg_strlcpy(emp_r->login, emp_r->mail[0], sizeof(emp_r->login));
	first_value(ld, entry, "displayName", emp_r->display_name, sizeof(emp_r->display_name));
	if (emp_r->display_name[0] == '\0')
		first_value(ld, entry, "cn", emp_r->display_name, sizeof(emp_r->display_name));
	first_value(ld, entry, "preferredLanguage", emp_r->lang, sizeof(emp_r->lang));
	emp_r->disabled = read_disabled(ld, entry);
}

bool dir_employee_has_mail(const struct dir_employee *emp, const char *address)
{
	for (size_t i = 0; i < emp->nmail; i++)
		if (strcasecmp(emp->mail[i], address) == 0)
			return true;
	return false;
}

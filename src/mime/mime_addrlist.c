/* mime_addrlist.c: the addresses of an address field as a reader sees it ("Doe, Jane"
 * <jane@example.org>, groups, RFC 2047 names), for a reply to all: GMime parses, so a comma
 * inside a quoted name never splits an address. */
#include "mime/mime.h"

#include "core/sg_str.h"

#include <gmime/gmime.h>
#include <string.h>

static void add_list(InternetAddressList *list, char (*out)[SG_ADDR_MAX], size_t max,
                     size_t *n, int depth)
{
	int len = list != NULL ? internet_address_list_length(list) : 0;
	for (int i = 0; i < len && *n < max; i++) {
		InternetAddress *ia = internet_address_list_get_address(list, i);
		if (INTERNET_ADDRESS_IS_GROUP(ia) && depth == 0) {
			add_list(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)), out, max,
			         n, 1);
			continue;
		}
		if (!INTERNET_ADDRESS_IS_MAILBOX(ia))
			continue;
		const char *a = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
		size_t alen = a != NULL ? strlen(a) : 0;
		if (alen == 0 || alen >= SG_ADDR_MAX || strchr(a, '@') == NULL)
			continue; /* the caller checks each address again before sending to it */
		sg_strlcpy(out[(*n)++], a, SG_ADDR_MAX);
	}
}

size_t mime_addrlist_parse(const char *field, char (*out)[SG_ADDR_MAX], size_t max)
{
	size_t n = 0;
	if (field == NULL || field[0] == '\0')
		return 0;
	mime_init();
	InternetAddressList *list = internet_address_list_parse(NULL, field);
	add_list(list, out, max, &n, 0);
	if (list != NULL)
		g_object_unref(list);
	return n;
}

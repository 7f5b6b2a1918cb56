/* cli_channel.c: a channel may be chosen (user set-channel, user add-external --channel,
 * policy.default_external_channel) only when this build can deliver by it: a channel without
 * a transform would be accepted by SMTP and then deferred for ever. */
#include "cli/cli.h"
#include "policy/policy.h"
#include "queue/transform.h"

#include <string.h>

/* The settings whose value is a channel. */
static const char *const channel_keys[] = {"policy.default_external_channel"};

int cli_channel_parse(const char *name, int *channel_r)
{
	enum policy_channel ch;
	if (policy_channel_parse(name, &ch) < 0) {
		cli_errorf("'%s' is not a channel: choose pdf, webmail, smime or pgp", name);
		return -1;
	}
	if (!transform_channel_exists((int)ch)) {
		cli_errorf("the channel '%s' is not built in this version of sealgate: mail to it would "
		           "wait in the queue for ever; choose another channel", name);
		return -1;
	}
	*channel_r = (int)ch;
	return 0;
}

int cli_channel_setting_check(const char *key, const char *value)
{
	int ch;
	for (size_t i = 0; i < sizeof(channel_keys) / sizeof(channel_keys[0]); i++)
		if (strcmp(key, channel_keys[i]) == 0 && cli_channel_parse(value, &ch) < 0) {
			cli_errorf("%s = '%s' refused", key, value);
			return -1;
		}
	return 0;
}

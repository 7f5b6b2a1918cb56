/* mime_glib_log.c: GLib's messages (GMime's warnings and criticals, and those of the other
 * GLib-based libraries: Pango, Cairo's helpers) in our log with a fitting level, instead of
 * "(process:123): GMime-WARNING **: ..." on stderr. */
#include "mime/mime.h"
#include "core/sg_log.h"

#include <glib.h>
#include <string.h>

static enum sg_log_level our_level(GLogLevelFlags level)
{
	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
		return SG_LOG_ERROR;
	if (level & G_LOG_LEVEL_WARNING)
		return SG_LOG_WARN;
	if (level & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO))
		return SG_LOG_INFO;
	return SG_LOG_DEBUG;
}

static void log_one(GLogLevelFlags level, const char *domain, const char *message)
{
	if (message == NULL)
		return;
	sg_log(our_level(level), "%s: %.*s", domain != NULL ? domain : "GLib",
	       (int)strcspn(message, "\r\n"), message);
}

/* Messages through g_log() (GMime's g_warning and friends). */
static void on_log(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer arg)
{
	(void)arg;
	log_one(level, domain, message);
}

/* Structured messages (g_log_structured, and g_log's default handler hands over to it). */
static GLogWriterOutput on_structured(GLogLevelFlags level, const GLogField *fields, gsize n,
                                      gpointer arg)
{
	(void)arg;
	const char *domain = NULL, *message = NULL;
	for (gsize i = 0; i < n; i++) {
		if (fields[i].length >= 0)
			continue; /* only NUL-terminated strings */
		if (strcmp(fields[i].key, "GLIB_DOMAIN") == 0)
			domain = fields[i].value;
		else if (strcmp(fields[i].key, "MESSAGE") == 0)
			message = fields[i].value;
	}
	log_one(level, domain, message);
	return G_LOG_WRITER_HANDLED;
}

void mime_glib_log_to_ours(void)
{
	g_log_set_default_handler(on_log, NULL);
	g_log_set_writer_func(on_structured, NULL, NULL);
}

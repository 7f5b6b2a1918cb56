/* smtpd_data.c: the DATA phase as a streaming decoder: finds the end of data, undoes dot
 * stuffing and refuses what could smuggle a second message past us. Only <CR><LF>.<CR><LF>
 * ends data: a line ends at LF, and "." CRLF is the end only if the previous line ended in CRLF.
 * After the first problem the decoder keeps reading to the end but passes nothing on. */
#include "smtp/smtp.h"

#include "core/sg_mem.h"

#include <string.h>

#define LINE_CAP (SG_SMTP_DATA_LINE_MAX + 2)

void smtpd_data_init(struct smtpd_data *d, size_t max_size, smtpd_data_sink_fn *sink, void *ctx)
{
	memset(d, 0, sizeof(*d));
	d->line = sg_malloc(LINE_CAP);
	d->prev_crlf = true; /* the DATA command's CRLF */
	d->max_size = max_size;
	d->status = SMTPD_DATA_OK;
	d->sink = sink;
	d->sink_ctx = ctx;
}

void smtpd_data_free(struct smtpd_data *d) { sg_free(&d->line); }

static void flag(struct smtpd_data *d, enum smtpd_data_status status)
{
	if (d->status == SMTPD_DATA_OK)
		d->status = status;
}

static void emit(struct smtpd_data *d, const char *p, size_t n)
{
	if (d->status != SMTPD_DATA_OK)
		return;
	if (n > d->max_size - d->size) {
		flag(d, SMTPD_DATA_TOO_BIG);
		return;
	}
	if (d->sink(d->sink_ctx, p, n) < 0) {
		flag(d, SMTPD_DATA_SINK_ERROR);
		return;
	}
	d->size += n;
}

/* d->line holds one whole line including its LF. */
static void end_line(struct smtpd_data *d)
{
	const char *l = d->line;
	size_t n = d->line_len;
	bool crlf = n >= 2 && l[n - 2] == '\r';
	d->line_len = 0;
	if (crlf && n == 3 && l[0] == '.' && d->prev_crlf) {
		d->done = true;
		return;
	}
	bool bare = !crlf || memchr(l, '\r', n - 2) != NULL;
	d->prev_crlf = crlf;
	if (bare) {
		flag(d, SMTPD_DATA_BARE_EOL);
		return;
	}
	if (l[0] == '.')
		emit(d, l + 1, n - 1);
	else
		emit(d, l, n);
}

/* Inside an over-long line: drop bytes up to LF, remembering whether it was a CRLF. */
static void skip_segment(struct smtpd_data *d, const char *p, size_t seg, bool has_lf)
{
	if (!has_lf) {
		d->skip_last_cr = p[seg - 1] == '\r';
		return;
	}
	d->prev_crlf = seg >= 2 ? p[seg - 2] == '\r' : d->skip_last_cr;
	d->skipping = false;
}

size_t smtpd_data_feed(struct smtpd_data *d, const void *data, size_t len)
{
	const char *p = data;
	size_t off = 0;
	while (off < len && !d->done) {
		const char *lf = memchr(p + off, '\n', len - off);
		size_t seg = lf != NULL ? (size_t)(lf - (p + off)) + 1 : len - off;
		if (d->skipping) {
			skip_segment(d, p + off, seg, lf != NULL);
			off += seg;
			continue;
		}
		if (d->line_len + seg > LINE_CAP) {
			flag(d, SMTPD_DATA_LINE_TOO_LONG);
			d->skipping = true;
			d->skip_last_cr = d->line_len > 0 && d->line[d->line_len - 1] == '\r';
			d->line_len = 0;
			continue; /* the same segment again, now skipped */
		}
		memcpy(d->line + d->line_len, p + off, seg);
		d->line_len += seg;
		off += seg;
		if (lf != NULL)
			end_line(d);
	}
	return off;
}

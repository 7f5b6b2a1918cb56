/* enrol_zip.c: a ZIP archive built in memory by libzip (deflate), never by hand: the archive
 * is written into a zip_source buffer and copied out once libzip has closed it. */
#include "enrol/enrol.h"

#include "core/sg_buf.h"

#include <zip.h>

static int zip_fail(zip_t *za, zip_source_t *mem, zip_error_t *ze, const char **error_r)
{
	if (za != NULL)
		zip_discard(za);
	if (mem != NULL)
		zip_source_free(mem);
	zip_error_fini(ze);
	*error_r = "zip: the archive could not be made";
	return -1;
}

/* Adds one entry (data stays the caller's until the archive is closed). */
static int add_entry(zip_t *za, const struct enrol_zip_entry *e)
{
	zip_source_t *src = zip_source_buffer(za, e->data, e->len, 0);
	if (src == NULL)
		return -1;
	zip_int64_t idx = zip_file_add(za, e->name, src, ZIP_FL_ENC_UTF_8);
	if (idx < 0) {
		zip_source_free(src);
		return -1;
	}
	return zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_DEFLATE, 9);
}

/* Copies the closed archive held by mem to out. */
static int copy_out(zip_source_t *mem, struct sg_buf *out)
{
	zip_stat_t st;
	if (zip_source_stat(mem, &st) < 0 || !(st.valid & ZIP_STAT_SIZE) ||
	    zip_source_open(mem) < 0)
		return -1;
	char chunk[8192];
	zip_uint64_t left = st.size;
	int rc = 0;
	while (rc == 0 && left > 0) {
		zip_int64_t n = zip_source_read(mem, chunk, left < sizeof(chunk) ? left : sizeof(chunk));
		if (n <= 0 || sg_buf_append(out, chunk, (size_t)n) < 0)
			rc = -1;
		else
			left -= (zip_uint64_t)n;
	}
	zip_source_close(mem);
	return rc;
}

int enrol_zip_write(const struct enrol_zip_entry *entries, size_t n, struct sg_buf *out,
                    const char **error_r)
{
	zip_error_t ze;
	zip_error_init(&ze);
	zip_source_t *mem = zip_source_buffer_create(NULL, 0, 0, &ze);
	if (mem == NULL)
		return zip_fail(NULL, NULL, &ze, error_r);
	zip_t *za = zip_open_from_source(mem, ZIP_TRUNCATE, &ze);
	if (za == NULL)
		return zip_fail(NULL, mem, &ze, error_r);
	zip_source_keep(mem); /* it must outlive zip_close, which writes into it */
	for (size_t i = 0; i < n; i++)
		if (add_entry(za, &entries[i]) < 0)
			return zip_fail(za, mem, &ze, error_r);
	if (zip_close(za) < 0)
		return zip_fail(za, mem, &ze, error_r);
	int rc = copy_out(mem, out);
	zip_source_free(mem);
	zip_error_fini(&ze);
	if (rc < 0)
		*error_r = "zip: the archive does not fit";
	return rc;
}

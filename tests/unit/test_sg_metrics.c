/* test_sg_metrics.c: the counters' slots and their exposition: every policy action and
 * direction has its own series (no two label sets share a slot, none falls off the block),
 * unknown label values land in the last value, the histograms are cumulative and apart, and a
 * block made by sg_metrics_create is shared between two mappings (what the master gives its
 * children). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sg_buf.h"
#include "core/sg_metrics.h"
#include "policy/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The value of one sample line ("name{labels}"), or -1 if absent. */
static long long sample(const char *text, const char *series)
{
	char needle[256];
	snprintf(needle, sizeof(needle), "\n%s ", series);
	const char *p = strstr(text, needle);
	return p != NULL ? strtoll(p + strlen(needle), NULL, 10) : -1;
}

static char *exposition(void)
{
	struct sg_buf b;
	sg_buf_init(&b, 1 << 20);
	sg_buf_append_str(&b, "\n");
	sg_metrics_write(&b);
	return sg_buf_steal(&b, NULL);
}

static void every_action_and_direction_has_its_series(void **state)
{
	(void)state;
	static const char *const statuses[] = {"delivered", "deferred", "bounced", "held"};
	long long n = 0;
	for (int d = POLICY_DIR_INTERNAL; d <= POLICY_DIR_INBOUND; d++)
		for (int a = POLICY_PASS; a < POLICY_ACTION_COUNT; a++)
			for (size_t s = 0; s < 4; s++) {
				const char *l[3] = {statuses[s], policy_direction_name(d), policy_action_name(a)};
				sg_metrics_add(SG_MET_MESSAGES, l, (uint64_t)++n);
			}
	char *text = exposition();
	n = 0;
	for (int d = POLICY_DIR_INTERNAL; d <= POLICY_DIR_INBOUND; d++)
		for (int a = POLICY_PASS; a < POLICY_ACTION_COUNT; a++)
			for (size_t s = 0; s < 4; s++) {
				char series[200];
				snprintf(series, sizeof(series),
				         "sealgate_messages_total{status=\"%s\",direction=\"%s\",channel=\"%s\"}",
				         statuses[s], policy_direction_name(d), policy_action_name(a));
				if (sample(text, series) != ++n)
					fail_msg("%s is %lld, not %lld", series, sample(text, series), n);
			}
	free(text);
}

static void unknown_values_and_the_histogram(void **state)
{
	(void)state;
	sg_metrics_inc1(SG_MET_PORTAL_LOGIN, "no-such-result");
	sg_metrics_inc1(SG_MET_LDAP_SEARCH, NULL);
	sg_metrics_observe(SG_HIST_DELIVERY, 0.2);
	sg_metrics_observe(SG_HIST_DELIVERY, 7);
	sg_metrics_observe(SG_HIST_DELIVERY, 1e9);
	char *text = exposition();
	assert_int_equal(sample(text, "sealgate_portal_logins_total{result=\"locked\"}"), 1);
	assert_int_equal(sample(text, "sealgate_portal_logins_total{result=\"ok\"}"), 0);
	assert_int_equal(sample(text, "sealgate_ldap_searches_total"), 1);
	assert_int_equal(sample(text, "sealgate_delivery_duration_seconds_bucket{le=\"0.1\"}"), 0);
	assert_int_equal(sample(text, "sealgate_delivery_duration_seconds_bucket{le=\"0.25\"}"), 1);
	assert_int_equal(sample(text, "sealgate_delivery_duration_seconds_bucket{le=\"10\"}"), 2);
	assert_int_equal(sample(text, "sealgate_delivery_duration_seconds_bucket{le=\"86400\"}"), 2);
	assert_int_equal(sample(text, "sealgate_delivery_duration_seconds_bucket{le=\"+Inf\"}"), 3);
	assert_int_equal(sample(text, "sealgate_delivery_duration_seconds_count"), 3);
	assert_null(strstr(text, "sealgate_certificate_expiry_timestamp_seconds{")); /* unset */
	free(text);
}

/* Each histogram has its own buckets and slots: the PDF and store observations land in theirs
 * only, and the delivery histogram of the test before is untouched. */
static void each_histogram_counts_for_itself(void **state)
{
	(void)state;
	sg_metrics_observe(SG_HIST_PDF_WALL, 0.3);
	sg_metrics_observe(SG_HIST_PDF_CPU, 0.02);
	sg_metrics_observe(SG_HIST_STORE, 0.0003);
	sg_metrics_observe(SG_HIST_STORE, 2);
	sg_metrics_observe((enum sg_histogram)SG_HIST__COUNT, 1); /* ignored */
	char *text = exposition();
	assert_int_equal(sample(text, "sealgate_delivery_duration_seconds_count"), 3);
	assert_int_equal(sample(text, "sealgate_pdf_worker_duration_seconds_bucket{le=\"0.25\"}"), 0);
	assert_int_equal(sample(text, "sealgate_pdf_worker_duration_seconds_bucket{le=\"0.5\"}"), 1);
	assert_int_equal(sample(text, "sealgate_pdf_worker_duration_seconds_count"), 1);
	assert_int_equal(sample(text, "sealgate_pdf_worker_cpu_seconds_bucket{le=\"0.025\"}"), 1);
	assert_int_equal(sample(text, "sealgate_pdf_worker_cpu_seconds_count"), 1);
	assert_int_equal(sample(text, "sealgate_store_transaction_duration_seconds_bucket{le=\"0.00025\"}"), 0);
	assert_int_equal(sample(text, "sealgate_store_transaction_duration_seconds_bucket{le=\"0.0005\"}"), 1);
	assert_int_equal(sample(text, "sealgate_store_transaction_duration_seconds_bucket{le=\"1\"}"), 1);
	assert_int_equal(sample(text, "sealgate_store_transaction_duration_seconds_bucket{le=\"5\"}"), 2);
	assert_int_equal(sample(text, "sealgate_store_transaction_duration_seconds_count"), 2);
	assert_non_null(strstr(text, "\nsealgate_store_transaction_duration_seconds_sum 2.000300\n"));
	free(text);
}

static void a_created_block_is_shared(void **state)
{
	(void)state;
	int fd = sg_metrics_create();
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 0), -1); /* sealed: no child can shrink it */
	int fd2 = dup(fd);
	assert_int_equal(sg_metrics_attach(fd), 0);
	sg_metrics_inc1(SG_MET_TLS, "in");
	/* Another process maps the block for itself, as a restarted child does, and counts. */
	pid_t pid = fork();
	if (pid == 0)
		_exit(sg_metrics_attach(fd2) == 0 ? (sg_metrics_inc1(SG_MET_TLS, "in"), 0) : 1);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(fd2);
	char *text = exposition();
	assert_int_equal(sample(text, "sealgate_tls_sessions_total{direction=\"in\"}"), 2);
	free(text);
	assert_int_equal(sg_metrics_attach(-1), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_action_and_direction_has_its_series),
		cmocka_unit_test(unknown_values_and_the_histogram),
		cmocka_unit_test(each_histogram_counts_for_itself),
		cmocka_unit_test(a_created_block_is_shared),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

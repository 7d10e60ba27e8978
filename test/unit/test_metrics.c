#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/error.h"
#include "pkg/metrics/metrics.h"

/* The exposition of reg as a string owned by the caller. */
static char *expose(dtk_metrics_registry *reg)
{
    dtk_buf buf = DTK_BUF_INIT((size_t)1024 * 1024);

    assert_int_equal(dtk_metrics_write(&buf, reg), 0);
    return dtk_buf_detach(&buf);
}

static dtk_metrics_series *with1(dtk_metrics_family *f, const char *v)
{
    const char *values[] = {v, NULL};
    dtk_metrics_series *s = NULL;

    assert_int_equal(dtk_metrics_with(&s, f, values), 0);
    assert_non_null(s);
    return s;
}

static void test_metrics__exposition_is_exact(void **state)
{
    static const char *const req_labels[] = {"method", "code", NULL};
    static const char *const path_label[] = {"path", NULL};
    static const double buckets[] = {0.1, 1};
    dtk_metrics_registry *reg = dtk_metrics_registry_new();
    dtk_metrics_family *requests = NULL;
    dtk_metrics_family *temp = NULL;
    dtk_metrics_family *latency = NULL;
    dtk_metrics_family *unused = NULL;
    dtk_metrics_series *ok = NULL;
    dtk_metrics_series *fail = NULL;
    dtk_metrics_series *temp_s = NULL;
    dtk_metrics_series *x;
    char *text;

    (void)state;
    assert_int_equal(dtk_metrics_register_counter(
                         &requests, reg, "dtk_requests_total",
                         "Requests handled.\nSecond line \\ done", req_labels),
                     0);
    assert_int_equal(dtk_metrics_register_gauge(&temp, reg, "dtk_temperature",
                                                "Current temperature.", NULL),
                     0);
    assert_int_equal(dtk_metrics_register_histogram(
                         &latency, reg, "dtk_latency_seconds",
                         "Request latency.", path_label, buckets, 2),
                     0);
    /* A labelled family without series is not exposed at all. */
    assert_int_equal(dtk_metrics_register_counter(&unused, reg,
                                                  "dtk_unused_total", "Unused.",
                                                  path_label),
                     0);

    /* Declared order {method, code}; exposed in label-name order. */
    assert_int_equal(
        dtk_metrics_with(&ok, requests, (const char *[]){"get", "200", NULL}),
        0);
    assert_int_equal(
        dtk_metrics_with(&fail, requests, (const char *[]){"get", "500", NULL}),
        0);
    dtk_metrics_counter_inc(ok);
    dtk_metrics_counter_inc(ok);
    dtk_metrics_counter_inc(ok);
    dtk_metrics_counter_add(fail, 2);
    assert_int_equal(dtk_metrics_with(&temp_s, temp, NULL), 0);
    dtk_metrics_gauge_set(temp_s, 21.5);
    x = with1(latency, "/x");
    dtk_metrics_histogram_observe(x, 0.0625);
    dtk_metrics_histogram_observe(x, 0.5);
    dtk_metrics_histogram_observe(x, 1); /* "le" is inclusive */
    dtk_metrics_histogram_observe(x, 2);

    text = expose(reg);
    assert_string_equal(
        text,
        "# HELP dtk_latency_seconds Request latency.\n"
        "# TYPE dtk_latency_seconds histogram\n"
        "dtk_latency_seconds_bucket{path=\"/x\",le=\"0.1\"} 1\n"
        "dtk_latency_seconds_bucket{path=\"/x\",le=\"1\"} 3\n"
        "dtk_latency_seconds_bucket{path=\"/x\",le=\"+Inf\"} 4\n"
        "dtk_latency_seconds_sum{path=\"/x\"} 3.5625\n"
        "dtk_latency_seconds_count{path=\"/x\"} 4\n"
        "# HELP dtk_requests_total Requests handled.\\nSecond line \\\\ done\n"
        "# TYPE dtk_requests_total counter\n"
        "dtk_requests_total{code=\"200\",method=\"get\"} 3\n"
        "dtk_requests_total{code=\"500\",method=\"get\"} 2\n"
        "# HELP dtk_temperature Current temperature.\n"
        "# TYPE dtk_temperature gauge\n"
        "dtk_temperature 21.5\n");
    dtk_free(text);
    dtk_metrics_registry_free(reg);
}

static void test_metrics__label_values_are_escaped(void **state)
{
    static const char *const labels[] = {"v", NULL};
    dtk_metrics_registry *reg = dtk_metrics_registry_new();
    dtk_metrics_family *f = NULL;
    char *text;

    (void)state;
    assert_int_equal(
        dtk_metrics_register_gauge(&f, reg, "dtk_esc", "Escapes.", labels), 0);
    dtk_metrics_gauge_set(with1(f, "a\\b\"c\nd"), 1);
    text = expose(reg);
    assert_string_equal(text, "# HELP dtk_esc Escapes.\n"
                              "# TYPE dtk_esc gauge\n"
                              "dtk_esc{v=\"a\\\\b\\\"c\\nd\"} 1\n");
    dtk_free(text);
    dtk_metrics_registry_free(reg);
}

/* Values are written as Go's strconv 'g' shortest form, as client_golang
 * does, so dashboards and recording rules see identical text. */
static void test_metrics__numbers_use_go_float_format(void **state)
{
    static const char *const labels[] = {"case", NULL};
    static const struct {
        const char *label;
        double value;
        const char *text;
    } cases[] = {
        {"a", 1e6, "1e+06"},
        {"b", 123456, "123456"},
        {"c", 1234567, "1.234567e+06"},
        {"d", 0.0001, "0.0001"},
        {"e", 0.00001, "1e-05"},
        {"f", -2.5, "-2.5"},
        {"g", 0.1 + 0.2, "0.30000000000000004"},
        {"h", INFINITY, "+Inf"},
        {"i", -INFINITY, "-Inf"},
        {"j", NAN, "NaN"},
        {"k", 0, "0"},
    };
    dtk_metrics_registry *reg = dtk_metrics_registry_new();
    dtk_metrics_family *f = NULL;
    dtk_buf want = DTK_BUF_INIT(0);
    char *text;
    size_t i;

    (void)state;
    assert_int_equal(
        dtk_metrics_register_gauge(&f, reg, "dtk_num", "Numbers.", labels), 0);
    assert_int_equal(dtk_buf_puts(&want, "# HELP dtk_num Numbers.\n"
                                         "# TYPE dtk_num gauge\n"),
                     0);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        dtk_metrics_gauge_set(with1(f, cases[i].label), cases[i].value);
        assert_int_equal(dtk_buf_printf(&want, "dtk_num{case=\"%s\"} %s\n",
                                        cases[i].label, cases[i].text),
                         0);
    }
    text = expose(reg);
    assert_string_equal(text, dtk_buf_cstr(&want));
    dtk_free(text);
    dtk_buf_dispose(&want);
    dtk_metrics_registry_free(reg);
}

static void test_metrics__histogram_buckets_are_cumulative(void **state)
{
    static const double buckets[] = {1, 2, 4};
    dtk_metrics_registry *reg = dtk_metrics_registry_new();
    dtk_metrics_family *f = NULL;
    dtk_metrics_series *s = NULL;
    char *text;

    (void)state;
    assert_int_equal(dtk_metrics_register_histogram(&f, reg, "dtk_h", "H.",
                                                    NULL, buckets, 3),
                     0);
    assert_int_equal(dtk_metrics_with(&s, f, NULL), 0);
    /* Never observed: every bucket, sum and count are 0. */
    text = expose(reg);
    assert_non_null(strstr(text, "dtk_h_bucket{le=\"4\"} 0\n"
                                 "dtk_h_bucket{le=\"+Inf\"} 0\n"
                                 "dtk_h_sum 0\n"
                                 "dtk_h_count 0\n"));
    dtk_free(text);
    dtk_metrics_histogram_observe(s, 0.5);
    dtk_metrics_histogram_observe(s, 3);
    dtk_metrics_histogram_observe(s, 3);
    dtk_metrics_histogram_observe(s, 100);
    text = expose(reg);
    assert_string_equal(text, "# HELP dtk_h H.\n"
                              "# TYPE dtk_h histogram\n"
                              "dtk_h_bucket{le=\"1\"} 1\n"
                              "dtk_h_bucket{le=\"2\"} 1\n"
                              "dtk_h_bucket{le=\"4\"} 3\n"
                              "dtk_h_bucket{le=\"+Inf\"} 4\n"
                              "dtk_h_sum 106.5\n"
                              "dtk_h_count 4\n");
    assert_int_equal(dtk_metrics_histogram_count(s), 4);
    assert_true(dtk_metrics_value(s) == 106.5);
    dtk_free(text);
    dtk_metrics_registry_free(reg);
}

/* The "le" labels of the workqueue buckets match what a Go operator built
 * on controller-runtime exposes (ExponentialBuckets(10e-9, 10, 12)). */
static void test_metrics__workqueue_buckets_match_controller_runtime(
    void **state)
{
    static const char *const want[DTK_METRICS_WORKQUEUE_BUCKETS_LEN] = {
        "1e-08",
        "1e-07",
        "1e-06",
        "9.999999999999999e-06",
        "9.999999999999999e-05",
        "0.001",
        "0.01",
        "0.1",
        "1",
        "10",
        "100",
        "1000"};
    double buckets[DTK_METRICS_WORKQUEUE_BUCKETS_LEN];
    dtk_metrics_registry *reg = dtk_metrics_registry_new();
    dtk_metrics_family *f = NULL;
    dtk_metrics_series *s = NULL;
    char line[128];
    char *text;
    size_t i;

    (void)state;
    dtk_metrics_exponential_buckets(buckets, 10e-9, 10,
                                    DTK_METRICS_WORKQUEUE_BUCKETS_LEN);
    assert_int_equal(
        dtk_metrics_register_histogram(&f, reg, "dtk_wq", "W.", NULL, buckets,
                                       DTK_METRICS_WORKQUEUE_BUCKETS_LEN),
        0);
    assert_int_equal(dtk_metrics_with(&s, f, NULL), 0);
    text = expose(reg);
    for (i = 0; i < DTK_METRICS_WORKQUEUE_BUCKETS_LEN; i++) {
        int n = snprintf(line, sizeof(line), "dtk_wq_bucket{le=\"%s\"} 0\n",
                         want[i]);

        assert_true(n > 0 && (size_t)n < sizeof(line));
        assert_non_null(strstr(text, line));
    }
    dtk_free(text);
    assert_true(dtk_metrics_reconcile_buckets[0] == 0.005);
    assert_true(
        dtk_metrics_reconcile_buckets[DTK_METRICS_RECONCILE_BUCKETS_LEN - 1] ==
        60);
    dtk_metrics_registry_free(reg);
}

enum { THREADS = 8, ITERATIONS = 100000 };

typedef struct hammer {
    dtk_metrics_family *counter;
    dtk_metrics_series *gauge;
    dtk_metrics_series *hist;
} hammer;

static void *hammer_main(void *arg)
{
    hammer *h = arg;
    dtk_metrics_series *c = NULL;
    int i;

    /* Every thread looks the series up itself: concurrent creation of the
     * same combination must yield one series. */
    if (dtk_metrics_with(&c, h->counter, (const char *[]){"shared", NULL}) <
        0) {
        return NULL;
    }
    for (i = 0; i < ITERATIONS; i++) {
        dtk_metrics_counter_inc(c);
        dtk_metrics_counter_add(c, 0.5);
        dtk_metrics_gauge_inc(h->gauge);
        dtk_metrics_gauge_add(h->gauge, 2);
        dtk_metrics_gauge_dec(h->gauge);
        dtk_metrics_histogram_observe(h->hist, (i % 2) ? 0.25 : 4);
    }
    return c;
}

static void test_metrics__concurrent_updates_sum_exactly(void **state)
{
    static const char *const labels[] = {"k", NULL};
    static const double buckets[] = {1};
    dtk_metrics_registry *reg = dtk_metrics_registry_new();
    dtk_metrics_family *g = NULL;
    dtk_metrics_family *h = NULL;
    pthread_t threads[THREADS];
    void *results[THREADS];
    hammer ham = {NULL, NULL, NULL};
    int i;

    (void)state;
    assert_int_equal(
        dtk_metrics_register_counter(&ham.counter, reg, "dtk_c", "C.", labels),
        0);
    assert_int_equal(dtk_metrics_register_gauge(&g, reg, "dtk_g", "G.", NULL),
                     0);
    assert_int_equal(dtk_metrics_register_histogram(&h, reg, "dtk_hh", "H.",
                                                    NULL, buckets, 1),
                     0);
    assert_int_equal(dtk_metrics_with(&ham.gauge, g, NULL), 0);
    assert_int_equal(dtk_metrics_with(&ham.hist, h, NULL), 0);
    for (i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_create(&threads[i], NULL, hammer_main, &ham),
                         0);
    }
    for (i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(threads[i], &results[i]), 0);
        assert_non_null(results[i]);
        assert_ptr_equal(results[i], results[0]);
    }
    /* 1.5 per iteration: every partial sum is exact in binary. */
    assert_true(dtk_metrics_value(results[0]) == 1.5 * THREADS * ITERATIONS);
    assert_true(dtk_metrics_value(ham.gauge) == 2.0 * THREADS * ITERATIONS);
    assert_int_equal(dtk_metrics_histogram_count(ham.hist),
                     (uint64_t)THREADS * ITERATIONS);
    assert_true(dtk_metrics_value(ham.hist) ==
                (0.25 + 4) / 2 * THREADS * ITERATIONS);
    {
        char *text = expose(reg);

        assert_non_null(strstr(text, "dtk_hh_bucket{le=\"1\"} 400000\n"
                                     "dtk_hh_bucket{le=\"+Inf\"} 800000\n"));
        assert_non_null(strstr(text, "dtk_c{k=\"shared\"} 1.2e+06\n"));
        dtk_free(text);
    }
    dtk_metrics_registry_free(reg);
}

static void test_metrics__same_registration_returns_existing(void **state)
{
    static const char *const labels[] = {"controller", NULL};
    static const char *const other[] = {"name", NULL};
    dtk_metrics_registry *reg = dtk_metrics_registry_new();
    dtk_metrics_family *a = NULL;
    dtk_metrics_family *b = NULL;

    (void)state;
    assert_int_equal(
        dtk_metrics_register_counter(&a, reg, "dtk_x_total", "X.", labels), 0);
    assert_int_equal(
        dtk_metrics_register_counter(&b, reg, "dtk_x_total", "X.", labels), 0);
    assert_ptr_equal(a, b);
    assert_int_equal(
        dtk_metrics_register_gauge(&b, reg, "dtk_x_total", "X.", labels),
        DTK_EEXISTS);
    assert_null(b);
    assert_string_equal(dtk_error_last()->message,
                        "metric 'dtk_x_total': already registered with a "
                        "different type, help, labels or buckets");
    assert_int_equal(
        dtk_metrics_register_counter(&b, reg, "dtk_x_total", "X.", other),
        DTK_EEXISTS);
    dtk_metrics_registry_free(reg);
}

static void test_metrics__bad_definitions_are_rejected(void **state)
{
    static const char *const dup[] = {"a", "a", NULL};
    static const char *const reserved[] = {"__x", NULL};
    static const char *const le[] = {"le", NULL};
    static const double unsorted[] = {1, 0.5};
    dtk_metrics_registry *reg = dtk_metrics_registry_new();
    dtk_metrics_family *f = NULL;

    (void)state;
    assert_int_equal(dtk_metrics_register_counter(&f, reg, "1bad", "B.", NULL),
                     DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "metric name '1bad': must match "
                        "[a-zA-Z_:][a-zA-Z0-9_:]*");
    assert_int_equal(dtk_metrics_register_counter(&f, reg, "", "B.", NULL),
                     DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "metric name: must not be empty");
    assert_int_equal(dtk_metrics_register_counter(&f, reg, "dtk_d", "D.", dup),
                     DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "metric 'dtk_d': label name 'a' appears twice");
    assert_int_equal(
        dtk_metrics_register_counter(&f, reg, "dtk_r", "R.", reserved),
        DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "metric 'dtk_r': label name '__x' must match "
                        "[a-zA-Z_][a-zA-Z0-9_]* and not start with '__'");
    assert_int_equal(
        dtk_metrics_register_histogram(&f, reg, "dtk_l", "L.", le, unsorted, 1),
        DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "metric 'dtk_l': label name 'le' is reserved for "
                        "histogram buckets");
    assert_int_equal(dtk_metrics_register_histogram(&f, reg, "dtk_u", "U.",
                                                    NULL, unsorted, 2),
                     DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "metric 'dtk_u': bucket 1: upper bounds must be "
                        "finite and strictly increasing");
    assert_int_equal(
        dtk_metrics_register_histogram(&f, reg, "dtk_n", "N.", NULL, NULL, 0),
        DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "metric 'dtk_n': histogram needs 1 to 128 buckets, "
                        "got 0");
    assert_null(f);
    /* Nothing half-registered shows up. */
    {
        char *text = expose(reg);

        assert_string_equal(text, "");
        dtk_free(text);
    }
    dtk_metrics_registry_free(reg);
}

static void test_metrics__bad_label_values_are_rejected(void **state)
{
    static const char *const labels[] = {"controller", "result", NULL};
    dtk_metrics_registry *reg = dtk_metrics_registry_new();
    dtk_metrics_family *f = NULL;
    dtk_metrics_series *s = NULL;

    (void)state;
    assert_int_equal(
        dtk_metrics_register_counter(&f, reg, "dtk_rt", "R.", labels), 0);
    assert_int_equal(
        dtk_metrics_with(&s, f, (const char *[]){"only-one", NULL}),
        DTK_EINVALID);
    assert_null(s);
    assert_string_equal(dtk_error_last()->message,
                        "metric 'dtk_rt': expected 2 label values, got 1");
    assert_int_equal(
        dtk_metrics_with(&s, f, (const char *[]){"c", "\xff\xfe", NULL}),
        DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "metric 'dtk_rt': value of label 'result' is not "
                        "valid UTF-8");
    /* Valid multi-byte UTF-8 is fine and written as is. */
    assert_int_equal(
        dtk_metrics_with(&s, f, (const char *[]){"caf\xc3\xa9", "ok", NULL}),
        0);
    dtk_metrics_counter_inc(s);
    {
        char *text = expose(reg);

        assert_non_null(strstr(
            text, "dtk_rt{controller=\"caf\xc3\xa9\",result=\"ok\"} 1\n"));
        dtk_free(text);
    }
    dtk_metrics_registry_free(reg);
}

static void test_metrics__write_respects_buffer_limit(void **state)
{
    dtk_metrics_registry *reg = dtk_metrics_registry_new();
    dtk_metrics_family *f = NULL;
    dtk_buf small = DTK_BUF_INIT(32);

    (void)state;
    assert_int_equal(
        dtk_metrics_register_gauge(&f, reg, "dtk_long_gauge_name",
                                   "A help text that does not fit.", NULL),
        0);
    assert_int_equal(dtk_metrics_write(&small, reg), DTK_ETOOBIG);
    assert_string_equal(dtk_error_last()->message,
                        "metrics exposition: larger than the buffer limit of "
                        "32 bytes");
    dtk_buf_dispose(&small);
    dtk_metrics_registry_free(reg);
}

static void test_metrics__default_registry_is_shared(void **state)
{
    dtk_metrics_registry *reg = dtk_metrics_default();
    dtk_metrics_family *f = NULL;
    dtk_metrics_series *s = NULL;
    char *text;

    (void)state;
    assert_non_null(reg);
    assert_ptr_equal(reg, dtk_metrics_default());
    assert_int_equal(dtk_metrics_register_counter(
                         &f, reg, "dtk_default_test_total", "Default.", NULL),
                     0);
    assert_int_equal(dtk_metrics_with(&s, f, NULL), 0);
    dtk_metrics_counter_add(s, 7);
    text = expose(dtk_metrics_default());
    assert_non_null(strstr(text, "\ndtk_default_test_total 7\n"));
    dtk_free(text);
    /* NULL series (metrics disabled) are no-ops. */
    dtk_metrics_counter_inc(NULL);
    dtk_metrics_gauge_set(NULL, 1);
    dtk_metrics_histogram_observe(NULL, 1);
    assert_true(dtk_metrics_value(NULL) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics__exposition_is_exact),
        cmocka_unit_test(test_metrics__label_values_are_escaped),
        cmocka_unit_test(test_metrics__numbers_use_go_float_format),
        cmocka_unit_test(test_metrics__histogram_buckets_are_cumulative),
        cmocka_unit_test(
            test_metrics__workqueue_buckets_match_controller_runtime),
        cmocka_unit_test(test_metrics__concurrent_updates_sum_exactly),
        cmocka_unit_test(test_metrics__same_registration_returns_existing),
        cmocka_unit_test(test_metrics__bad_definitions_are_rejected),
        cmocka_unit_test(test_metrics__bad_label_values_are_rejected),
        cmocka_unit_test(test_metrics__write_respects_buffer_limit),
        cmocka_unit_test(test_metrics__default_registry_is_shared),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

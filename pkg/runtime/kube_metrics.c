#include "pkg/runtime/kube_metrics.h"

#include <stdio.h>

#include "pkg/base/alloc.h"

struct dtk_kube_metrics {
    dtk_metrics_family *requests;
    dtk_metrics_family *duration;
};

/* client-go's request latency buckets. */
static const double latency_buckets[] = {0.005, 0.025, 0.1, 0.25, 0.5, 1.0,
                                         2.0,   4.0,   8.0, 15.0, 30.0, 60.0};

static void on_request(const char *method, const char *host, int code,
                       double duration_s, void *payload)
{
    dtk_kube_metrics *m = payload;
    dtk_metrics_series *s = NULL;
    char code_text[16];
    const char *req_values[4];
    const char *dur_values[3];

    /* client-go reports "<error>" when no response arrived. */
    if (code == 0) {
        snprintf(code_text, sizeof(code_text), "<error>");
    } else {
        snprintf(code_text, sizeof(code_text), "%d", code);
    }
    req_values[0] = code_text;
    req_values[1] = method;
    req_values[2] = host;
    req_values[3] = NULL;
    if (dtk_metrics_with(&s, m->requests, req_values) == 0) {
        dtk_metrics_counter_inc(s);
    }
    dur_values[0] = method;
    dur_values[1] = host;
    dur_values[2] = NULL;
    s = NULL;
    if (dtk_metrics_with(&s, m->duration, dur_values) == 0) {
        dtk_metrics_histogram_observe(s, duration_s);
    }
}

int dtk_kube_metrics_install(dtk_kube_metrics **out,
                             dtk_kube_config_options *options,
                             dtk_metrics_registry *reg)
{
    static const char *const req_labels[] = {"code", "method", "host", NULL};
    static const char *const dur_labels[] = {"verb", "host", NULL};
    dtk_kube_metrics *m = dtk_calloc(1, sizeof(*m));
    int error;

    error = dtk_metrics_register_counter(
        &m->requests, reg, "rest_client_requests_total",
        "Number of HTTP requests, partitioned by status code, method, and "
        "host.",
        req_labels);
    if (error == 0) {
        error = dtk_metrics_register_histogram(
            &m->duration, reg, "rest_client_request_duration_seconds",
            "Request latency in seconds. Broken down by verb, and host.",
            dur_labels, latency_buckets,
            sizeof(latency_buckets) / sizeof(latency_buckets[0]));
    }
    if (error < 0) {
        dtk_free(m);
        return error;
    }
    options->on_request = on_request;
    options->on_request_payload = m;
    *out = m;
    return 0;
}

void dtk_kube_metrics_free(dtk_kube_metrics *m)
{
    dtk_free(m);
}

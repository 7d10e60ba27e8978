/* dtk-apiserver throughput on this machine:
 *   creates/s and status patches/s of ~1 KiB custom objects from one
 *   keep-alive client; watch events/s delivered to 10 concurrent watchers
 *   (replaying a history of N events, so the figure is delivery, not the
 *   write rate), and the same while writes happen live.
 * Each figure is the median of 3 runs. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/clock.h"
#include "pkg/base/error.h"
#include "pkg/http/http.h"
#include "test/support/apiserver.h"

#define OBJECTS 3000
#define WATCHERS 10
#define RUNS 3

static dtk_test_apiserver server;

static const char crd[] =
    "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":"
    "\"CustomResourceDefinition\",\"metadata\":{\"name\":"
    "\"things.bench.dtk.io\"},\"spec\":{\"group\":\"bench.dtk.io\","
    "\"scope\":\"Namespaced\",\"names\":{\"plural\":\"things\",\"kind\":"
    "\"Thing\"},\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":"
    "true,\"subresources\":{\"status\":{}},\"schema\":{\"openAPIV3Schema\":"
    "{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}}}]}}";

static int request(dtk_http_client *c, const char *method, const char *path,
                   const char *ct, const char *body)
{
    char url[256], cth[128];
    const char *headers[] = {cth, NULL};
    dtk_http_request req = DTK_HTTP_REQUEST_INIT;
    dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;
    long status;

    snprintf(url, sizeof(url), "%s%s", server.url, path);
    snprintf(cth, sizeof(cth), "Content-Type: %s", ct);
    req.method = method;
    req.url = url;
    req.headers = headers;
    req.body = body;
    req.body_len = strlen(body);
    if (dtk_http_do(c, &req, &resp) < 0) {
        fprintf(stderr, "%s %s: %s\n", method, path, dtk_error_last()->message);
        exit(1);
    }
    status = resp.status;
    dtk_http_response_dispose(&resp);
    return (int)status;
}

static void object_body(char *out, size_t size, const char *name)
{
    char pad[900];

    memset(pad, 'x', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    snprintf(out, size,
             "{\"apiVersion\":\"bench.dtk.io/v1\",\"kind\":\"Thing\","
             "\"metadata\":{\"name\":\"%s\",\"labels\":{\"app\":\"bench\"}},"
             "\"spec\":{\"replicas\":3,\"image\":\"busybox:1\",\"pad\":\"%s\"}}",
             name, pad);
}

static double median(double *v, int n)
{
    for (int i = 1; i < n; i++) {
        for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
            double t = v[j];

            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    }
    return v[n / 2];
}

typedef struct watcher_arg {
    char url[512];
    long target;
    long seen;
} watcher_arg;

static int count_lines(const char *data, size_t len, void *payload)
{
    watcher_arg *w = payload;

    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\n') {
            w->seen++;
        }
    }
    return w->seen >= w->target;
}

static void *watcher_main(void *arg)
{
    watcher_arg *w = arg;
    dtk_http_client *c = NULL;
    dtk_http_client_options o = DTK_HTTP_CLIENT_OPTIONS_INIT;
    dtk_http_request req = DTK_HTTP_REQUEST_INIT;
    dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;

    dtk_http_client_new(&c, &o);
    req.method = "GET";
    req.url = w->url;
    req.timeout_ms = 120000;
    req.response_limit = 1024;
    dtk_http_stream(c, &req, &resp, count_lines, w);
    dtk_http_response_dispose(&resp);
    dtk_http_client_free(c);
    return NULL;
}

/* Starts WATCHERS watches from rv and waits until each saw n events.
 * Returns elapsed seconds. live: create n objects meanwhile. */
static double watch_run(dtk_http_client *c, long long rv, long n, int live,
                        int run)
{
    pthread_t threads[WATCHERS];
    watcher_arg args[WATCHERS];
    int64_t start = dtk_clock_now_ms();

    for (int i = 0; i < WATCHERS; i++) {
        args[i].target = n;
        args[i].seen = 0;
        snprintf(args[i].url, sizeof(args[i].url),
                 "%s/apis/bench.dtk.io/v1/things?watch=1&resourceVersion=%lld"
                 "&timeoutSeconds=120",
                 server.url, rv);
        pthread_create(&threads[i], NULL, watcher_main, &args[i]);
    }
    if (live) {
        char body[2048], name[64];

        for (long i = 0; i < n; i++) {
            snprintf(name, sizeof(name), "live-%d-%ld", run, i);
            object_body(body, sizeof(body), name);
            request(c, "POST", "/apis/bench.dtk.io/v1/namespaces/default/things",
                    "application/json", body);
        }
    }
    for (int i = 0; i < WATCHERS; i++) {
        pthread_join(threads[i], NULL);
    }
    return (double)(dtk_clock_now_ms() - start) / 1000.0;
}

static long long current_rv(dtk_http_client *c)
{
    char url[256];
    dtk_http_request req = DTK_HTTP_REQUEST_INIT;
    dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;
    const char *p;
    long long rv = 0;

    snprintf(url, sizeof(url), "%s/api/v1/namespaces?limit=1", server.url);
    req.method = "GET";
    req.url = url;
    dtk_http_do(c, &req, &resp);
    p = strstr(dtk_buf_cstr(&resp.body), "\"resourceVersion\":\"");
    if (p != NULL) {
        rv = strtoll(p + 19, NULL, 10);
    }
    dtk_http_response_dispose(&resp);
    return rv;
}

int main(void)
{
    static const char *const args[] = {"--watch-history", "200000", NULL};
    dtk_http_client *c = NULL;
    dtk_http_client_options o = DTK_HTTP_CLIENT_OPTIONS_INIT;
    double creates[RUNS], patches[RUNS], replay[RUNS], live[RUNS];
    char body[2048], name[64], path[256];

    dtk_http_global_init();
    if (dtk_test_apiserver_start(&server, args) < 0) {
        return 1;
    }
    dtk_http_client_new(&c, &o);
    request(c, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            "application/json", crd);
    for (int run = 0; run < RUNS; run++) {
        int64_t t0;
        long long rv_before;

        rv_before = current_rv(c);
        t0 = dtk_clock_now_ms();
        for (int i = 0; i < OBJECTS; i++) {
            snprintf(name, sizeof(name), "t-%d-%d", run, i);
            object_body(body, sizeof(body), name);
            if (request(c, "POST",
                        "/apis/bench.dtk.io/v1/namespaces/default/things",
                        "application/json", body) != 201) {
                fprintf(stderr, "create failed\n");
                return 1;
            }
        }
        creates[run] = OBJECTS / ((double)(dtk_clock_now_ms() - t0) / 1000.0);
        t0 = dtk_clock_now_ms();
        for (int i = 0; i < OBJECTS; i++) {
            snprintf(path, sizeof(path),
                     "/apis/bench.dtk.io/v1/namespaces/default/things/t-%d-%d/"
                     "status",
                     run, i);
            snprintf(body, sizeof(body),
                     "{\"status\":{\"phase\":\"Ready\",\"observedGeneration\":"
                     "1,\"message\":\"converged %d\"}}",
                     i);
            if (request(c, "PATCH", path, "application/merge-patch+json",
                        body) != 200) {
                fprintf(stderr, "patch failed\n");
                return 1;
            }
        }
        patches[run] = OBJECTS / ((double)(dtk_clock_now_ms() - t0) / 1000.0);
        replay[run] = (double)WATCHERS * 2 * OBJECTS /
                      watch_run(c, rv_before, 2 * OBJECTS, 0, run);
        live[run] = (double)WATCHERS * 1000 /
                    watch_run(c, current_rv(c), 1000, 1, run);
    }
    printf("apiserver_creates_per_sec: %.0f (1 KiB custom objects, one "
           "keep-alive client, median of %d x %d)\n",
           median(creates, RUNS), RUNS, OBJECTS);
    printf("apiserver_status_patches_per_sec: %.0f (merge patch on /status)\n",
           median(patches, RUNS));
    printf("apiserver_watch_events_delivered_per_sec: %.0f (%d watchers "
           "replaying %d events each from history)\n",
           median(replay, RUNS), WATCHERS, 2 * OBJECTS);
    printf("apiserver_watch_events_delivered_live_per_sec: %.0f (%d watchers, "
           "events delivered while one client creates)\n",
           median(live, RUNS), WATCHERS);
    dtk_http_client_free(c);
    dtk_test_apiserver_dispose(&server);
    dtk_http_global_cleanup();
    return 0;
}

/* Benchmarks of pkg/osb, printed as "name: value unit" lines:
 *   osb_catalog_parse_1mib: decoding a generated 1 MiB catalog (plans with
 *     parameter schemas), median of 21 runs;
 *   osb_lifecycle_requests: requests/s of provision + bind + unbind +
 *     deprovision (sync plan) against the @sap/sbf test broker, one client
 *     (one connection reused), for about 3 seconds;
 *   osb_lifecycle_connections: TCP connections the broker saw for them;
 *   osb_lifecycle_client_cpu: this process's CPU time per request;
 *   osb_catalog_fetch_requests: requests/s of GET /v2/catalog, which SBF
 *     serves without per-request schema compilation.
 * Run from the repository root (make bench). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/clock.h"
#include "pkg/base/error.h"
#include "pkg/http/http.h"
#include "pkg/osb/osb.h"
#include "test/support/broker.h"

#define RUNS 21

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a;
    int64_t y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

/* A catalog of services whose plans carry realistic schemas, until the
 * text reaches 1 MiB. */
static void make_catalog(dtk_buf *out)
{
    size_t s = 0;

    dtk_buf_puts(out, "{\"services\":[");
    while (out->len < 1024 * 1024) {
        dtk_buf_printf(out,
                       "%s{\"id\":\"svc-%zu\",\"name\":\"service-%zu\","
                       "\"description\":\"Generated service %zu\","
                       "\"bindable\":true,\"plan_updateable\":true,"
                       "\"instances_retrievable\":true,\"tags\":[\"a\",\"b\"],"
                       "\"metadata\":{\"displayName\":\"S %zu\"},\"plans\":[",
                       s ? "," : "", s, s, s, s);
        for (int p = 0; p < 4; p++) {
            dtk_buf_printf(
                out,
                "%s{\"id\":\"plan-%zu-%d\",\"name\":\"plan-%d\","
                "\"description\":\"Plan %d of service %zu\",\"free\":false,"
                "\"maximum_polling_duration\":600,"
                "\"maintenance_info\":{\"version\":\"1.%d.0\"},"
                "\"schemas\":{\"service_instance\":{\"create\":{"
                "\"parameters\":{\"$schema\":"
                "\"http://json-schema.org/draft-04/schema#\","
                "\"type\":\"object\",\"additionalProperties\":false,"
                "\"properties\":{\"size\":{\"type\":\"string\",\"enum\":"
                "[\"small\",\"medium\",\"large\"]},\"replicas\":{\"type\":"
                "\"integer\",\"minimum\":1,\"maximum\":9},\"region\":{"
                "\"type\":\"string\",\"minLength\":2}}}},\"update\":{"
                "\"parameters\":{\"type\":\"object\",\"properties\":{"
                "\"size\":{\"type\":\"string\"}}}}},\"service_binding\":{"
                "\"create\":{\"parameters\":{\"type\":\"object\","
                "\"properties\":{\"role\":{\"enum\":[\"r\",\"w\"]}}}}}}}",
                p ? "," : "", s, p, p, p, s, p);
        }
        dtk_buf_puts(out, "]}");
        s++;
    }
    dtk_buf_puts(out, "]}");
}

static int bench_catalog(void)
{
    dtk_buf text = DTK_BUF_INIT(0);
    int64_t times[RUNS];
    dtk_osb_catalog *cat = NULL;
    size_t services = 0;

    make_catalog(&text);
    for (int i = 0; i < RUNS; i++) {
        struct timespec a, b;

        clock_gettime(CLOCK_MONOTONIC, &a);
        if (dtk_osb_catalog_parse(&cat, text.ptr, text.len) < 0) {
            fprintf(stderr, "catalog parse failed: %s\n",
                    dtk_error_last()->message);
            return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        times[i] =
            (b.tv_sec - a.tv_sec) * 1000000LL + (b.tv_nsec - a.tv_nsec) / 1000;
        services = cat->service_count;
        dtk_osb_catalog_free(cat);
    }
    qsort(times, RUNS, sizeof(times[0]), cmp_i64);
    printf("osb_catalog_size: %zu bytes (%zu services, %zu plans)\n", text.len,
           services, services * 4);
    printf("osb_catalog_parse_1mib: %.2f ms\n", times[RUNS / 2] / 1000.0);
    dtk_buf_dispose(&text);
    return 0;
}

static int step(int error, const dtk_osb_reply *reply, const char *what)
{
    if (error < 0 || reply->decision.action != DTK_OSB_DONE) {
        fprintf(stderr, "%s: %s\n", what, dtk_error_last()->message);
        return 1;
    }
    return 0;
}

static int bench_lifecycle(void)
{
    dtk_test_broker *b = NULL;
    dtk_osb_client *c = NULL;
    dtk_osb_options o = DTK_OSB_OPTIONS_INIT;
    dtk_osb_context ctx = {"cluster-1", "bench", "ns-uid", "db", NULL, NULL};
    dtk_osb_reply reply = DTK_OSB_REPLY_INIT;
    dtk_json *log = NULL;
    const dtk_json *list;
    int64_t start, elapsed;
    long cycles = 0;
    clock_t cpu0;
    double cpu;
    int64_t ports[2048];
    size_t distinct = 0;
    int rc = 1;

    if (dtk_test_broker_start(&b, NULL) < 0) {
        fprintf(stderr, "broker: %s\n", dtk_error_last()->message);
        return 1;
    }
    o.url = dtk_test_broker_url(b);
    o.username = dtk_test_broker_username(b);
    o.password = dtk_test_broker_password(b);
    if (dtk_osb_client_new(&c, &o) < 0) {
        goto out;
    }
    cpu0 = clock();
    start = dtk_clock_now_ms();
    while (cycles < 450 && dtk_clock_now_ms() - start < 3000) {
        char iid[32], bid[32];
        dtk_osb_request req = DTK_OSB_REQUEST_INIT;

        snprintf(iid, sizeof(iid), "bench-i-%ld", cycles);
        snprintf(bid, sizeof(bid), "bench-b-%ld", cycles);
        req.instance_id = iid;
        req.binding_id = bid;
        req.service_id = "svc-db";
        req.plan_id = "plan-sync";
        req.context = &ctx;
        if (step(dtk_osb_provision(&reply, c, &req), &reply, "provision") ||
            step(dtk_osb_bind(&reply, c, &req), &reply, "bind") ||
            step(dtk_osb_unbind(&reply, c, &req), &reply, "unbind") ||
            step(dtk_osb_deprovision(&reply, c, &req), &reply, "deprovision")) {
            goto out;
        }
        cycles++;
    }
    elapsed = dtk_clock_now_ms() - start;
    cpu = (double)(clock() - cpu0) / CLOCKS_PER_SEC;
    if (dtk_test_broker_call(b, "GET", "/test/requests", NULL, &log) < 0) {
        goto out;
    }
    list = dtk_json_get(log, "requests");
    for (size_t i = 0; i < dtk_json_len(list); i++) {
        int64_t port = 0;
        size_t j;

        dtk_json_int(&port, dtk_json_get(dtk_json_at(list, i), "remote_port"));
        for (j = 0; j < distinct && ports[j] != port; j++) {
        }
        if (j == distinct && distinct < 2048) {
            ports[distinct++] = port;
        }
    }
    printf("osb_lifecycle_cycles: %ld cycles in %lld ms\n", cycles,
           (long long)elapsed);
    printf("osb_lifecycle_requests: %.0f requests/s\n",
           elapsed > 0 ? 4.0 * cycles * 1000.0 / elapsed : 0.0);
    printf("osb_lifecycle_connections: %zu connections\n", distinct);
    printf("osb_lifecycle_client_cpu: %.0f us/request\n",
           cycles > 0 ? cpu * 1e6 / (4.0 * cycles) : 0.0);
    /* The same client on a request SBF does not validate with a freshly
     * compiled JSON schema (its provision/bind/unbind/deprovision
     * middleware does, which bounds the figures above). */
    start = dtk_clock_now_ms();
    cycles = 0;
    while (dtk_clock_now_ms() - start < 1000) {
        dtk_osb_catalog *cat = NULL;

        if (step(dtk_osb_catalog_fetch(&cat, &reply, c, NULL), &reply,
                 "catalog")) {
            goto out;
        }
        dtk_osb_catalog_free(cat);
        cycles++;
    }
    elapsed = dtk_clock_now_ms() - start;
    printf("osb_catalog_fetch_requests: %.0f requests/s\n",
           elapsed > 0 ? cycles * 1000.0 / elapsed : 0.0);
    rc = 0;
out:
    dtk_json_free(log);
    dtk_osb_reply_dispose(&reply);
    dtk_osb_client_free(c);
    dtk_test_broker_stop(b);
    return rc;
}

int main(void)
{
    int rc;

    dtk_http_global_init();
    rc = bench_catalog();
    if (rc == 0) {
        rc = bench_lifecycle();
    }
    dtk_http_global_cleanup();
    return rc;
}

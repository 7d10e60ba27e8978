/* pkg/kube figures: watch stream decoding throughput, and GET round trips
 * against a local stub API server over one reused connection.
 * Prints "name: value unit" lines. */
#include <stdio.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/clock.h"
#include "pkg/http/http.h"
#include "pkg/kube/kube.h"
#include "test/support/kube_stub.h"

#define EVENTS 100000
#define CHUNK  16384
#define GETS   2000

static int count(dtk_kube_event *ev, void *payload)
{
    (void)ev;
    (*(long *)payload)++;
    return 0;
}

static void bench_decode(void)
{
    dtk_buf stream = DTK_BUF_INIT(0);
    dtk_kube_watch_decoder dec;
    long events = 0;
    int64_t start;
    double s;

    for (int i = 0; i < EVENTS; i++) {
        dtk_buf_printf(
            &stream,
            "{\"type\":\"MODIFIED\",\"object\":{\"apiVersion\":\"dtk.io/"
            "v1alpha1\",\"kind\":\"ServiceInstance\",\"metadata\":{\"name\":"
            "\"si-%d\",\"namespace\":\"team-a\",\"uid\":\"6f1c2e4a-%08d\","
            "\"resourceVersion\":\"%d\",\"generation\":3,\"labels\":{\"app\":"
            "\"blog\"}},\"spec\":{\"assemblyRef\":{\"name\":\"wordpress\"},"
            "\"targetRef\":{\"kind\":\"Target\",\"name\":\"staging\"}},"
            "\"status\":{\"phase\":\"Ready\",\"observedGeneration\":3}}}\n",
            i, i, 1000 + i);
    }
    dtk_kube_watch_decoder_init(&dec, 0);
    start = dtk_clock_now_ms();
    for (size_t off = 0; off < stream.len; off += CHUNK) {
        size_t n = stream.len - off < CHUNK ? stream.len - off : CHUNK;

        if (dtk_kube_watch_decoder_feed(&dec, stream.ptr + off, n, count,
                                        &events) != 0) {
            fprintf(stderr, "decode failed\n");
            break;
        }
    }
    s = (double)(dtk_clock_now_ms() - start) / 1000.0;
    if (s <= 0) {
        s = 0.001;
    }
    printf("kube_watch_decode_events: %.0f events/s\n", (double)events / s);
    printf("kube_watch_decode_bytes: %.1f MB/s\n",
           (double)stream.len / s / 1e6);
    printf("kube_watch_event_size: %zu bytes\n", stream.len / EVENTS);
    dtk_kube_watch_decoder_dispose(&dec);
    dtk_buf_dispose(&stream);
}

static void answer(dtk_kstub *s,
                   dtk_httpserver_exchange *ex,
                   int hit,
                   void *payload)
{
    (void)s;
    (void)hit;
    (void)payload;
    dtk_kstub_configmap(ex, "cm");
}

static void bench_gets(void)
{
    dtk_kstub *stub = NULL;
    dtk_kube_config *cfg = NULL;
    dtk_kube_client *c = NULL;
    int64_t start;
    double s;

    if (dtk_kstub_start(&stub, NULL, NULL, answer, NULL) < 0 ||
        dtk_kube_config_for_url(&cfg, stub->base, NULL, NULL) < 0 ||
        dtk_kube_client_new(&c, cfg) < 0) {
        fprintf(stderr, "setup failed\n");
        goto out;
    }
    start = dtk_clock_now_ms();
    for (int i = 0; i < GETS; i++) {
        dtk_json *obj = NULL;

        if (dtk_kube_get(&obj, c, &dtk_kube_gvr_configmaps, "default", "cm",
                         NULL) < 0) {
            fprintf(stderr, "get failed\n");
            break;
        }
        dtk_json_free(obj);
    }
    s = (double)(dtk_clock_now_ms() - start) / 1000.0;
    if (s <= 0) {
        s = 0.001;
    }
    printf("kube_get_rate: %.0f requests/s\n", GETS / s);
    printf("kube_get_mean_latency: %.3f ms\n", s * 1000.0 / GETS);
out:
    dtk_kube_client_free(c);
    dtk_kube_config_free(cfg);
    dtk_kstub_stop(stub);
}

int main(void)
{
    dtk_http_global_init();
    bench_decode();
    bench_gets();
    dtk_http_global_cleanup();
    return 0;
}

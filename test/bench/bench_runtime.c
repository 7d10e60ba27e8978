/* Controller worker loop and event recorder costs.
 *
 *   runtime_reconciles_per_sec_1worker   20,000 distinct keys queued, one
 *                                        worker, a no-op reconcile: the
 *                                        loop's own overhead (queue, metrics,
 *                                        reconcile_id, log context)
 *   runtime_reconciles_per_sec_4workers  the same with 4 workers
 *   events_record_ns_repeat              one dtk_kube_recorder_event call
 *                                        that folds into a queued write (a
 *                                        hot loop's repeat)
 *   events_record_ns_new                 one call for a new object (cache
 *                                        entry, spam bucket, queued write)
 *
 * The recorder points at a closed port, so nothing is written and only the
 * caller's side is measured. Best of 3 runs is printed.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "pkg/base/clock.h"
#include "pkg/base/error.h"
#include "pkg/base/log.h"
#include "pkg/http/http.h"
#include "pkg/kube/events.h"
#include "pkg/metrics/metrics.h"
#include "pkg/runtime/runtime.h"

#define NKEYS 20000
#define RUNS  3
#define NREC  100000
#define NNEW  1000

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void check(int error, const char *what)
{
    if (error < 0) {
        fprintf(stderr, "bench_runtime: %s: %s\n", what,
                dtk_error_last()->message);
        exit(1);
    }
}

static int noop(dtk_result *res, const dtk_request *req, void *payload)
{
    (void)res;
    (void)req;
    atomic_fetch_add((atomic_int *)payload, 1);
    return 0;
}

static double reconciles_per_sec(int workers)
{
    dtk_metrics_registry *reg = dtk_metrics_registry_new();
    dtk_controller_options o = DTK_CONTROLLER_OPTIONS_INIT;
    dtk_controller *c = NULL;
    atomic_int done;
    char key[48];
    double t0, t1;

    atomic_init(&done, 0);
    o.name = "bench";
    o.reconcile = noop;
    o.payload = &done;
    o.max_concurrent_reconciles = workers;
    o.metrics = reg;
    check(dtk_controller_new(&c, &o), "controller");
    for (int i = 0; i < NKEYS; i++) {
        snprintf(key, sizeof(key), "bench/object-%d", i);
        check(dtk_controller_enqueue(c, key), "enqueue");
    }
    t0 = now_s();
    check(dtk_controller_start(c), "start");
    while (atomic_load(&done) < NKEYS) {
        dtk_clock_sleep_ms(1);
    }
    t1 = now_s();
    check(dtk_controller_stop(c, 10000), "stop");
    dtk_controller_free(c);
    dtk_metrics_registry_free(reg);
    return NKEYS / (t1 - t0);
}

static void record_costs(double *repeat_ns, double *new_ns)
{
    dtk_kube_recorder_options o = DTK_KUBE_RECORDER_OPTIONS_INIT;
    dtk_kube_config *cfg = NULL;
    dtk_kube_recorder *rec = NULL;
    dtk_kube_object_ref ref = DTK_KUBE_OBJECT_REF_INIT;
    char name[32];
    double t0;

    /* Port 1 on loopback: refused at once; the sender just retries. */
    check(dtk_kube_config_for_url(&cfg, "http://127.0.0.1:1", NULL, NULL),
          "config");
    o.component = "bench";
    o.instance = "bench-0";
    o.queue_size = NNEW + 10;
    o.spam_burst = NNEW + 10;
    check(dtk_kube_recorder_new(&rec, cfg, &o), "recorder");
    ref.api_version = "v1";
    ref.kind = "ConfigMap";
    ref.namespace = "bench";
    ref.name = "hot";
    /* The first call queues a write the sender keeps retrying; every
     * repeat folds into a write that is still queued or in flight. */
    check(dtk_kube_recorder_event(rec, &ref, DTK_KUBE_EVENT_WARNING, "Hot",
                                  "the same thing again"),
          "event");
    t0 = now_s();
    for (int i = 0; i < NREC; i++) {
        dtk_kube_recorder_event(rec, &ref, DTK_KUBE_EVENT_WARNING, "Hot",
                                "the same thing again");
    }
    *repeat_ns = (now_s() - t0) * 1e9 / NREC;
    t0 = now_s();
    for (int i = 0; i < NNEW; i++) {
        snprintf(name, sizeof(name), "object-%d", i);
        ref.name = name;
        dtk_kube_recorder_event(rec, &ref, DTK_KUBE_EVENT_NORMAL, "Created",
                                "created");
    }
    *new_ns = (now_s() - t0) * 1e9 / NNEW;
    dtk_kube_recorder_free(rec);
    dtk_kube_config_free(cfg);
}

int main(void)
{
    double best1 = 0, best4 = 0, rep = 1e18, fresh = 1e18;

    dtk_log_set_level(DTK_LOG_WARN);
    dtk_http_global_init();
    for (int r = 0; r < RUNS; r++) {
        double a = reconciles_per_sec(1), b = reconciles_per_sec(4);
        double x, y;

        record_costs(&x, &y);
        best1 = a > best1 ? a : best1;
        best4 = b > best4 ? b : best4;
        rep = x < rep ? x : rep;
        fresh = y < fresh ? y : fresh;
    }
    printf("runtime_reconciles_per_sec_1worker: %.0f reconciles/s\n", best1);
    printf("runtime_reconciles_per_sec_4workers: %.0f reconciles/s\n", best4);
    printf("events_record_ns_repeat: %.0f ns\n", rep);
    printf("events_record_ns_new: %.0f ns\n", fresh);
    dtk_http_global_cleanup();
    return 0;
}

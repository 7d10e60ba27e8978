/* Controller workers: the C form of controller-runtime's
 * processNextWorkItem + reconcileHandler (see runtime.h for the result
 * handling). Each worker thread owns nothing but its stack; the queue is
 * the only shared state, plus lock-free metric series.
 *
 * Stop path: dtk_controller_stop sets `stopping` (reconcilers can see it
 * through req->stopping), shuts the queue down and drains it: reconciles in
 * flight finish; keys still queued are handed out but skipped, so the
 * workers reach the end of the queue quickly and exit, and are joined. A
 * reconcile that outlives the drain deadline leaves its worker running;
 * dtk_controller_free joins it later (the process is expected to exit
 * first).
 */
#include "pkg/runtime/runtime_int.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/clock.h"
#include "pkg/base/error.h"
#include "pkg/base/log.h"

#define NAME_MAX_LEN            63
#define DEFAULT_STOP_TIMEOUT_MS 30000

/* ---- reconcile IDs ------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t random_seed(void)
{
    uint64_t seed = 0;
    int fd = open("/dev/urandom", O_RDONLY);

    if (fd < 0 || read(fd, &seed, sizeof(seed)) != (ssize_t)sizeof(seed)) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
               ((uint64_t)getpid() << 40);
    }
    if (fd >= 0) {
        close(fd);
    }
    return seed;
}

/* A version 4 UUID from the controller's counter: unique per reconcile
 * (the counter never repeats), unpredictable across processes (the seed).
 * out holds 37 bytes. */
static void new_reconcile_id(dtk_controller *c, char *out, size_t size)
{
    uint64_t n = atomic_fetch_add(&c->id_counter, 2);
    uint64_t s1 = c->id_seed + n, s2 = c->id_seed + n + 1;
    uint64_t hi = splitmix64(&s1), lo = splitmix64(&s2);
    int len;

    hi = (hi & ~UINT64_C(0xf000)) | UINT64_C(0x4000);
    lo = (lo & ~(UINT64_C(0xc) << 60)) | (UINT64_C(0x8) << 60);
    len = snprintf(out, size, "%08x-%04x-%04x-%04x-%012llx",
                   (unsigned)(hi >> 32), (unsigned)((hi >> 16) & 0xffff),
                   (unsigned)(hi & 0xffff), (unsigned)(lo >> 48),
                   (unsigned long long)(lo & UINT64_C(0xffffffffffff)));
    dtk_assert(len == 36 && (size_t)len < size);
}

/* ---- the worker --------------------------------------------------------- */

static double seconds_since(const struct timespec *start)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) +
           (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* reconcileHandler: one key, start to finish. */
static void reconcile_handler(dtk_controller *c, const char *key)
{
    const char *slash = strchr(key, '/');
    char *ns = slash != NULL ? dtk_strndup(key, (size_t)(slash - key))
                             : dtk_strdup("");
    const char *name = slash != NULL ? slash + 1 : key;
    char id[40];
    dtk_log_ctx log;
    dtk_request req;
    dtk_result res;
    struct timespec start;
    double took;
    int error;

    if (*name == '\0' || strchr(name, '/') != NULL) {
        /* Not a key an event handler should make: drop it for good. */
        dtk_log(DTK_LOG_ERROR, NULL, "Dropping malformed queue key",
                "controller=%s key=\"%s\"", c->name, key);
        dtk_workqueue_forget(c->queue, key);
        dtk_free(ns);
        return;
    }
    new_reconcile_id(c, id, sizeof(id));
    log.controller = c->name;
    log.object = key;
    log.reconcile_id = id;
    req.key = key;
    req.namespace = ns;
    req.name = name;
    req.reconcile_id = id;
    req.log = &log;
    req.stopping = &c->stopping_flag;
    memset(&res, 0, sizeof(res));

    dtk_error_clear();
    clock_gettime(CLOCK_MONOTONIC, &start);
    error = c->reconcile(&res, &req, c->payload);
    took = seconds_since(&start);
    dtk_metrics_histogram_observe(c->m_time, took);

    if (error < 0) {
        const char *msg = dtk_error_last()->message;
        int terminal = dtk_error_is_terminal(error);

        if (terminal) {
            /* Wait for the object to change (a new add). */
            dtk_workqueue_forget(c->queue, key);
            dtk_metrics_counter_inc(c->m_terminal);
        } else {
            dtk_workqueue_add_rate_limited(c->queue, key);
        }
        dtk_metrics_counter_inc(c->m_errors);
        dtk_metrics_counter_inc(c->m_error);
        dtk_log(DTK_LOG_ERROR, &log, "Reconciler error",
                "error=\"%s\" code=%s terminal=%s duration_ms=%.0f",
                *msg ? msg : dtk_error_name(error), dtk_error_name(error),
                terminal ? "true" : "false", took * 1000.0);
    } else if (res.requeue_after_ms > 0) {
        dtk_workqueue_forget(c->queue, key);
        dtk_workqueue_add_after(c->queue, key, res.requeue_after_ms);
        dtk_metrics_counter_inc(c->m_requeue_after);
        dtk_log(DTK_LOG_DEBUG, &log, "Reconcile done, requeueing after delay",
                "requeue_after_ms=%lld duration_ms=%.0f",
                (long long)res.requeue_after_ms, took * 1000.0);
    } else if (res.requeue) {
        dtk_workqueue_add_rate_limited(c->queue, key);
        dtk_metrics_counter_inc(c->m_requeue);
        dtk_log(DTK_LOG_DEBUG, &log, "Reconcile done, requeueing",
                "duration_ms=%.0f", took * 1000.0);
    } else {
        dtk_workqueue_forget(c->queue, key);
        dtk_metrics_counter_inc(c->m_success);
        dtk_log(DTK_LOG_DEBUG, &log, "Reconcile successful", "duration_ms=%.0f",
                took * 1000.0);
    }
    dtk_error_clear();
    dtk_free(ns);
}

/* processNextWorkItem in a loop; DTK_ESHUTDOWN from get ends it. */
static void *worker_main(void *arg)
{
    dtk_controller *c = arg;
    const char *key;

    while (dtk_workqueue_get(c->queue, &key) == 0) {
        if (atomic_load(&c->stopping_flag)) {
            /* Shutting down: finish the queue without new work. */
            dtk_workqueue_done(c->queue, key);
            continue;
        }
        dtk_metrics_gauge_inc(c->m_active);
        reconcile_handler(c, key);
        dtk_metrics_gauge_dec(c->m_active);
        dtk_workqueue_done(c->queue, key);
    }
    return NULL;
}

/* ---- lifecycle ---------------------------------------------------------- */

static int valid_name(const char *name)
{
    size_t len = name != NULL ? strlen(name) : 0;

    if (len == 0 || len > NAME_MAX_LEN) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
              ch == '.')) {
            return 0;
        }
    }
    return 1;
}

/* controller-runtime's families (pkg/internal/controller/metrics). */
static int metrics_setup(dtk_controller *c, dtk_metrics_registry *reg)
{
    static const char *const by_controller[] = {"controller", NULL};
    static const char *const by_result[] = {"controller", "result", NULL};
    const char *v[] = {c->name, NULL};
    const char *vs[] = {c->name, "success", NULL};
    const char *ve[] = {c->name, "error", NULL};
    const char *vr[] = {c->name, "requeue", NULL};
    const char *va[] = {c->name, "requeue_after", NULL};
    dtk_metrics_family *f = NULL;
    int error;

    error = dtk_metrics_register_counter(
        &f, reg, "controller_runtime_reconcile_total",
        "Total number of reconciliations per controller", by_result);
    if (error == 0) {
        error = dtk_metrics_with(&c->m_success, f, vs);
    }
    if (error == 0) {
        error = dtk_metrics_with(&c->m_error, f, ve);
    }
    if (error == 0) {
        error = dtk_metrics_with(&c->m_requeue, f, vr);
    }
    if (error == 0) {
        error = dtk_metrics_with(&c->m_requeue_after, f, va);
    }
    if (error == 0) {
        error = dtk_metrics_register_counter(
            &f, reg, "controller_runtime_reconcile_errors_total",
            "Total number of reconciliation errors per controller",
            by_controller);
    }
    if (error == 0) {
        error = dtk_metrics_with(&c->m_errors, f, v);
    }
    if (error == 0) {
        error = dtk_metrics_register_counter(
            &f, reg, "controller_runtime_terminal_reconcile_errors_total",
            "Total number of terminal reconciliation errors per controller",
            by_controller);
    }
    if (error == 0) {
        error = dtk_metrics_with(&c->m_terminal, f, v);
    }
    if (error == 0) {
        error = dtk_metrics_register_histogram(
            &f, reg, "controller_runtime_reconcile_time_seconds",
            "Length of time per reconciliation per controller", by_controller,
            dtk_metrics_reconcile_buckets, DTK_METRICS_RECONCILE_BUCKETS_LEN);
    }
    if (error == 0) {
        error = dtk_metrics_with(&c->m_time, f, v);
    }
    if (error == 0) {
        error = dtk_metrics_register_gauge(
            &f, reg, "controller_runtime_max_concurrent_reconciles",
            "Maximum number of concurrent reconciles per controller",
            by_controller);
    }
    if (error == 0) {
        error = dtk_metrics_with(&c->m_max_workers, f, v);
    }
    if (error == 0) {
        error = dtk_metrics_register_gauge(
            &f, reg, "controller_runtime_active_workers",
            "Number of currently used workers per controller", by_controller);
    }
    if (error == 0) {
        error = dtk_metrics_with(&c->m_active, f, v);
    }
    return error;
}

int dtk_controller_new(dtk_controller **out,
                       const dtk_controller_options *options)
{
    dtk_workqueue_options qo = DTK_WORKQUEUE_OPTIONS_INIT;
    dtk_metrics_registry *reg;
    dtk_controller *c = NULL;
    int error;

    *out = NULL;
    if (!valid_name(options->name)) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "controller name: expected 1 to %d of "
                      "[A-Za-z0-9._-]",
                      NAME_MAX_LEN);
        return DTK_EINVALID;
    }
    if (options->reconcile == NULL) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "controller '%s': reconcile: required", options->name);
        return DTK_EINVALID;
    }
    if (options->max_concurrent_reconciles < 0 ||
        options->max_concurrent_reconciles > 1024) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "controller '%s': max_concurrent_reconciles: expected "
                      "0 to 1024, got %d",
                      options->name, options->max_concurrent_reconciles);
        return DTK_EINVALID;
    }
    reg = options->metrics != NULL ? options->metrics : dtk_metrics_default();
    c = dtk_calloc(1, sizeof(*c));
    c->name = dtk_strdup(options->name);
    c->reconcile = options->reconcile;
    c->payload = options->payload;
    c->workers = options->max_concurrent_reconciles > 0
                     ? options->max_concurrent_reconciles
                     : 1;
    c->id_seed = random_seed();
    atomic_init(&c->id_counter, 0);
    atomic_init(&c->stopping_flag, 0);
    error = metrics_setup(c, reg);
    if (error < 0) {
        goto out;
    }
    qo.name = c->name;
    qo.controller = c->name;
    qo.base_delay_ms = options->base_delay_ms;
    qo.max_delay_ms = options->max_delay_ms;
    qo.metrics = reg;
    error = dtk_workqueue_new(&c->queue, &qo);
    if (error < 0) {
        goto out;
    }
    dtk_metrics_gauge_set(c->m_max_workers, (double)c->workers);
    *out = c;
    c = NULL;
out:
    dtk_controller_free(c);
    return error;
}

int dtk_controller_start(dtk_controller *c)
{
    if (c->started) {
        dtk_error_set(DTK_ERRCLASS_INVALID, "controller '%s': already started",
                      c->name);
        return DTK_EINVALID;
    }
    c->threads = dtk_calloc((size_t)c->workers, sizeof(pthread_t));
    for (int i = 0; i < c->workers; i++) {
        if (pthread_create(&c->threads[i], NULL, worker_main, c) != 0) {
            dtk_error_set(DTK_ERRCLASS_OS, "controller '%s': worker thread",
                          c->name);
            c->running = i;
            c->started = 1;
            dtk_controller_stop(c, DEFAULT_STOP_TIMEOUT_MS);
            return DTK_ERROR;
        }
    }
    c->running = c->workers;
    c->started = 1;
    dtk_log(DTK_LOG_INFO, NULL, "Starting workers",
            "controller=%s worker_count=%d", c->name, c->workers);
    return 0;
}

static void join_workers(dtk_controller *c)
{
    for (int i = 0; i < c->running; i++) {
        pthread_join(c->threads[i], NULL);
    }
    c->running = 0;
}

int dtk_controller_stop(dtk_controller *c, int64_t timeout_ms)
{
    int error;

    if (!c->started || c->running == 0) {
        /* Never started, or stopped: no worker to wait for, but adds must
         * end all the same. */
        atomic_store(&c->stopping_flag, 1);
        dtk_workqueue_shutdown(c->queue);
        return 0;
    }
    atomic_store(&c->stopping_flag, 1);
    error = dtk_workqueue_shutdown_with_drain(c->queue,
                                              timeout_ms > 0 ? timeout_ms : 0);
    if (error < 0) {
        dtk_error_set(DTK_ERRCLASS_NONE,
                      "controller '%s': reconciles still running after "
                      "%lld ms",
                      c->name, (long long)timeout_ms);
        return DTK_ETIMEOUT;
    }
    join_workers(c);
    dtk_log(DTK_LOG_INFO, NULL, "All workers finished", "controller=%s",
            c->name);
    return 0;
}

void dtk_controller_free(dtk_controller *c)
{
    if (c == NULL) {
        return;
    }
    if (c->queue != NULL) {
        if (dtk_controller_stop(c, DEFAULT_STOP_TIMEOUT_MS) < 0) {
            /* A reconcile outlived the deadline: wait for it, there is no
             * safe way to free what it uses. */
            join_workers(c);
        }
    }
    dtk_workqueue_free(c->queue);
    dtk_free(c->threads);
    dtk_free(c->name);
    dtk_free(c);
}

int dtk_controller_enqueue(dtk_controller *c, const char *key)
{
    return dtk_workqueue_add(c->queue, key);
}

int dtk_controller_enqueue_after(dtk_controller *c,
                                 const char *key,
                                 int64_t delay_ms)
{
    return dtk_workqueue_add_after(c->queue, key, delay_ms);
}

dtk_workqueue *dtk_controller_queue(dtk_controller *c)
{
    return c->queue;
}

const char *dtk_controller_name(const dtk_controller *c)
{
    return c->name;
}

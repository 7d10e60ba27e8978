/* pkg/runtime and pkg/health: the worker loop's result handling with fake
 * reconcile functions, the manager's start and stop order with fake
 * runnables, deadlines, and the HTTP endpoints fetched over HTTP. Waits
 * poll with generous deadlines; timing assertions are lower bounds (a delay
 * that must have passed) unless they guard a deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/clock.h"
#include "pkg/base/error.h"
#include "pkg/health/health.h"
#include "pkg/http/http.h"
#include "pkg/metrics/metrics.h"
#include "pkg/runtime/runtime.h"
#include "pkg/workqueue/workqueue.h"

#define WAIT_MS   20000
#define MAX_CALLS 64

/* ---- helpers ------------------------------------------------------------ */

static int count_threads(void)
{
    DIR *dir = opendir("/proc/self/task");
    struct dirent *ent;
    int n = 0;

    assert_non_null(dir);
    while ((ent = readdir(dir)) != NULL) {
        if (ent->d_name[0] != '.') {
            n++;
        }
    }
    closedir(dir);
    return n;
}

static int wait_thread_count(int want)
{
    int64_t deadline = dtk_clock_now_ms() + WAIT_MS;
    int n;

    while ((n = count_threads()) != want && dtk_clock_now_ms() < deadline) {
        dtk_clock_sleep_ms(5);
    }
    return n;
}

typedef struct reply {
    long status;
    char body[8192];
} reply;

static reply http_get_method(int port, const char *method, const char *path)
{
    dtk_http_client *c = NULL;
    dtk_http_client_options o = DTK_HTTP_CLIENT_OPTIONS_INIT;
    dtk_http_request req = DTK_HTTP_REQUEST_INIT;
    dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;
    char url[256];
    reply r;

    memset(&r, 0, sizeof(r));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    o.timeout_ms = 10000;
    assert_int_equal(dtk_http_client_new(&c, &o), 0);
    req.method = method;
    req.url = url;
    req.response_limit = 4 * 1024 * 1024;
    if (dtk_http_do(c, &req, &resp) < 0) {
        r.status = -1;
    } else {
        r.status = resp.status;
        snprintf(r.body, sizeof(r.body), "%s", dtk_buf_cstr(&resp.body));
    }
    dtk_http_response_dispose(&resp);
    dtk_http_client_free(c);
    return r;
}

static reply http_get(int port, const char *path)
{
    return http_get_method(port, "GET", path);
}

/* A fake reconciler: records every call, answers from a script. */
typedef struct call {
    char key[64];
    char ns[32];
    char name[32];
    char reconcile_id[40];
    char log_controller[32];
    char log_object[64];
    int64_t at_ms;
} call;

typedef struct fake {
    pthread_mutex_t mu;
    pthread_cond_t changed;
    call calls[MAX_CALLS];
    int ncalls;
    /* Script, by call number (0-based): what to return. */
    int fail_first; /* the first N calls fail with fail_code */
    int fail_code;
    int64_t requeue_after; /* first call asks for this delay */
    int requeue_first;     /* first call sets result.requeue */
    /* Blocking: a call waits while hold is set. */
    int hold;
    int holding;
    /* Concurrency check. */
    atomic_int in_flight[4];
    atomic_int total_in_flight;
    atomic_int max_in_flight;
    atomic_int overlap_same_key;
    int sleep_ms;
} fake;

static void fake_init(fake *f)
{
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->changed, NULL);
}

static void fake_dispose(fake *f)
{
    pthread_cond_destroy(&f->changed);
    pthread_mutex_destroy(&f->mu);
}

static int fake_reconcile(dtk_result *res,
                          const dtk_request *req,
                          void *payload)
{
    fake *f = payload;
    int n, error = 0;
    int slot = req->name[0] == 'k' ? req->name[1] - '0' : -1;

    if (slot >= 0 && slot < 4) {
        int now = atomic_fetch_add(&f->total_in_flight, 1) + 1;
        int prev = atomic_load(&f->max_in_flight);

        while (now > prev &&
               !atomic_compare_exchange_weak(&f->max_in_flight, &prev, now)) {
        }
        if (atomic_fetch_add(&f->in_flight[slot], 1) != 0) {
            atomic_fetch_add(&f->overlap_same_key, 1);
        }
        dtk_clock_sleep_ms(f->sleep_ms);
        atomic_fetch_sub(&f->in_flight[slot], 1);
        atomic_fetch_sub(&f->total_in_flight, 1);
    }
    pthread_mutex_lock(&f->mu);
    n = f->ncalls;
    if (n < MAX_CALLS) {
        call *c = &f->calls[n];

        snprintf(c->key, sizeof(c->key), "%s", req->key);
        snprintf(c->ns, sizeof(c->ns), "%s", req->namespace);
        snprintf(c->name, sizeof(c->name), "%s", req->name);
        snprintf(c->reconcile_id, sizeof(c->reconcile_id), "%s",
                 req->reconcile_id);
        snprintf(c->log_controller, sizeof(c->log_controller), "%s",
                 req->log->controller);
        snprintf(c->log_object, sizeof(c->log_object), "%s", req->log->object);
        c->at_ms = dtk_clock_now_ms();
    }
    f->ncalls++;
    f->holding = f->hold;
    pthread_cond_broadcast(&f->changed);
    while (f->hold) {
        pthread_cond_wait(&f->changed, &f->mu);
    }
    f->holding = 0;
    pthread_mutex_unlock(&f->mu);

    if (n < f->fail_first) {
        dtk_error_set(DTK_ERRCLASS_NONE, "backend '%s' unreachable", req->name);
        error = f->fail_code;
    } else if (n == 0 && f->requeue_after > 0) {
        res->requeue_after_ms = f->requeue_after;
    } else if (n == 0 && f->requeue_first) {
        res->requeue = 1;
    }
    return error;
}

static int wait_calls(fake *f, int n)
{
    int64_t deadline = dtk_clock_now_ms() + WAIT_MS;
    int got;

    pthread_mutex_lock(&f->mu);
    while (f->ncalls < n && dtk_clock_now_ms() < deadline) {
        pthread_mutex_unlock(&f->mu);
        dtk_clock_sleep_ms(2);
        pthread_mutex_lock(&f->mu);
    }
    got = f->ncalls;
    pthread_mutex_unlock(&f->mu);
    return got;
}

static void release_hold(fake *f)
{
    pthread_mutex_lock(&f->mu);
    f->hold = 0;
    pthread_cond_broadcast(&f->changed);
    pthread_mutex_unlock(&f->mu);
}

static dtk_controller *new_controller(const char *name,
                                      fake *f,
                                      dtk_metrics_registry *reg,
                                      int workers,
                                      int64_t base_ms)
{
    dtk_controller_options o = DTK_CONTROLLER_OPTIONS_INIT;
    dtk_controller *c = NULL;

    o.name = name;
    o.reconcile = fake_reconcile;
    o.payload = f;
    o.max_concurrent_reconciles = workers;
    o.base_delay_ms = base_ms;
    o.max_delay_ms = 10000;
    o.metrics = reg;
    assert_int_equal(dtk_controller_new(&c, &o), 0);
    return c;
}

static double metric(dtk_metrics_registry *reg, const char *line_prefix)
{
    dtk_buf text = DTK_BUF_INIT(0);
    const char *p;
    double v = -1;

    assert_int_equal(dtk_metrics_write(&text, reg), 0);
    p = strstr(text.ptr, line_prefix);
    if (p != NULL) {
        v = strtod(p + strlen(line_prefix), NULL);
    }
    dtk_buf_dispose(&text);
    return v;
}

/* ---- the worker loop ---------------------------------------------------- */

static void test_runtime__success_forgets_and_passes_the_request(void **state)
{
    dtk_metrics_registry *reg = dtk_metrics_registry_new();
    fake f;
    dtk_controller *c;

    (void)state;
    fake_init(&f);
    c = new_controller("widgets", &f, reg, 1, 5);
    assert_int_equal(dtk_controller_enqueue(c, "shop/blog"), 0);
    assert_int_equal(dtk_controller_enqueue(c, "cluster-wide"), 0);
    assert_int_equal(dtk_controller_start(c), 0);
    assert_int_equal(wait_calls(&f, 2), 2);
    assert_int_equal(dtk_controller_stop(c, WAIT_MS), 0);

    assert_string_equal(f.calls[0].key, "shop/blog");
    assert_string_equal(f.calls[0].ns, "shop");
    assert_string_equal(f.calls[0].name, "blog");
    assert_string_equal(f.calls[0].log_controller, "widgets");
    assert_string_equal(f.calls[0].log_object, "shop/blog");
    assert_int_equal(strlen(f.calls[0].reconcile_id), 36);
    assert_int_equal(f.calls[0].reconcile_id[14], '4'); /* UUID v4 */
    assert_string_not_equal(f.calls[0].reconcile_id, f.calls[1].reconcile_id);
    assert_string_equal(f.calls[1].ns, "");
    assert_string_equal(f.calls[1].name, "cluster-wide");
    assert_int_equal(
        dtk_workqueue_num_requeues(dtk_controller_queue(c), "shop/blog"), 0);
    assert_true(metric(reg, "controller_runtime_reconcile_total{controller="
                            "\"widgets\",result=\"success\"} ") == 2);
    assert_true(metric(reg, "controller_runtime_reconcile_total{controller="
                            "\"widgets\",result=\"error\"} ") == 0);
    assert_true(metric(reg, "controller_runtime_reconcile_time_seconds_count"
                            "{controller=\"widgets\"} ") == 2);
    /* A stopped controller takes no more keys. */
    assert_int_equal(dtk_controller_enqueue(c, "shop/blog"), DTK_ESHUTDOWN);
    dtk_controller_free(c);
    fake_dispose(&f);
    dtk_metrics_registry_free(reg);
}

static void test_runtime__errors_requeue_with_growing_backoff(void **state)
{
    dtk_metrics_registry *reg = dtk_metrics_registry_new();
    fake f;
    dtk_controller *c;

    (void)state;
    fake_init(&f);
    f.fail_first = 4;
    f.fail_code = DTK_EUNAVAIL;
    c = new_controller("flaky", &f, reg, 2, 20);
    assert_int_equal(dtk_controller_start(c), 0);
    assert_int_equal(dtk_controller_enqueue(c, "ns/db"), 0);
    assert_int_equal(wait_calls(&f, 5), 5);
    /* Backoff 20, 40, 80, 160 ms: each retry waits at least that long. */
    for (int i = 1; i < 5; i++) {
        int64_t gap = f.calls[i].at_ms - f.calls[i - 1].at_ms;
        int64_t want = (int64_t)20 << (i - 1);

        printf("retry %d after %lld ms (backoff %lld ms)\n", i, (long long)gap,
               (long long)want);
        assert_true(gap >= want - 2);
    }
    dtk_clock_sleep_ms(50); /* the worker records the result after return */
    assert_int_equal(dtk_controller_stop(c, WAIT_MS), 0);
    assert_int_equal(f.ncalls, 5);
    assert_int_equal(
        dtk_workqueue_num_requeues(dtk_controller_queue(c), "ns/db"), 0);
    assert_true(metric(reg, "controller_runtime_reconcile_total{controller="
                            "\"flaky\",result=\"error\"} ") == 4);
    assert_true(metric(reg, "controller_runtime_reconcile_errors_total{"
                            "controller=\"flaky\"} ") == 4);
    assert_true(metric(reg, "controller_runtime_reconcile_total{controller="
                            "\"flaky\",result=\"success\"} ") == 1);
    assert_true(metric(reg, "controller_runtime_terminal_reconcile_errors_"
                            "total{controller=\"flaky\"} ") == 0);
    dtk_controller_free(c);
    fake_dispose(&f);
    dtk_metrics_registry_free(reg);
}

static void test_runtime__requeue_after_and_requeue(void **state)
{
    dtk_metrics_registry *reg = dtk_metrics_registry_new();
    fake f, g;
    dtk_controller *c, *d;
    int64_t gap;

    (void)state;
    fake_init(&f);
    f.requeue_after = 200;
    c = new_controller("poller", &f, reg, 1, 5);
    assert_int_equal(dtk_controller_start(c), 0);
    assert_int_equal(dtk_controller_enqueue(c, "ns/op"), 0);
    assert_int_equal(wait_calls(&f, 1), 1);
    dtk_clock_sleep_ms(20);
    /* Forgotten: a requeue_after is not a failure. */
    assert_int_equal(
        dtk_workqueue_num_requeues(dtk_controller_queue(c), "ns/op"), 0);
    assert_int_equal(wait_calls(&f, 2), 2);
    gap = f.calls[1].at_ms - f.calls[0].at_ms;
    printf("requeue_after 200 ms: reconciled again after %lld ms\n",
           (long long)gap);
    assert_true(gap >= 198);
    assert_int_equal(dtk_controller_stop(c, WAIT_MS), 0);
    assert_true(metric(reg, "controller_runtime_reconcile_total{controller="
                            "\"poller\",result=\"requeue_after\"} ") == 1);
    dtk_controller_free(c);

    /* result.requeue: rate-limited, counted as "requeue". */
    fake_init(&g);
    g.requeue_first = 1;
    d = new_controller("again", &g, reg, 1, 5);
    assert_int_equal(dtk_controller_start(d), 0);
    assert_int_equal(dtk_controller_enqueue(d, "ns/x"), 0);
    assert_int_equal(wait_calls(&g, 2), 2);
    dtk_clock_sleep_ms(20);
    assert_int_equal(dtk_controller_stop(d, WAIT_MS), 0);
    assert_true(metric(reg, "controller_runtime_reconcile_total{controller="
                            "\"again\",result=\"requeue\"} ") == 1);
    assert_true(metric(reg, "controller_runtime_reconcile_total{controller="
                            "\"again\",result=\"success\"} ") == 1);
    dtk_controller_free(d);
    fake_dispose(&f);
    fake_dispose(&g);
    dtk_metrics_registry_free(reg);
}

static void test_runtime__terminal_error_is_not_retried(void **state)
{
    dtk_metrics_registry *reg = dtk_metrics_registry_new();
    fake f;
    dtk_controller *c;

    (void)state;
    fake_init(&f);
    f.fail_first = 1;
    f.fail_code = DTK_EINVALID;
    c = new_controller("strict", &f, reg, 1, 5);
    assert_int_equal(dtk_controller_start(c), 0);
    assert_int_equal(dtk_controller_enqueue(c, "ns/bad"), 0);
    assert_int_equal(wait_calls(&f, 1), 1);
    /* Many backoff periods later: still one call. */
    dtk_clock_sleep_ms(300);
    assert_int_equal(wait_calls(&f, 1), 1);
    assert_int_equal(
        dtk_workqueue_num_requeues(dtk_controller_queue(c), "ns/bad"), 0);
    assert_true(metric(reg, "controller_runtime_terminal_reconcile_errors_"
                            "total{controller=\"strict\"} ") == 1);
    assert_true(metric(reg, "controller_runtime_reconcile_errors_total{"
                            "controller=\"strict\"} ") == 1);
    assert_true(metric(reg, "controller_runtime_reconcile_total{controller="
                            "\"strict\",result=\"error\"} ") == 1);
    /* The object changes (a new add): reconciled again. */
    assert_int_equal(dtk_controller_enqueue(c, "ns/bad"), 0);
    assert_int_equal(wait_calls(&f, 2), 2);
    assert_int_equal(dtk_controller_stop(c, WAIT_MS), 0);
    dtk_controller_free(c);
    fake_dispose(&f);
    dtk_metrics_registry_free(reg);
}

typedef struct feeder {
    dtk_controller *c;
    atomic_int stop;
} feeder;

static void *feed(void *arg)
{
    feeder *fd = arg;
    static const char *const keys[] = {"ns/k0", "ns/k1", "ns/k2"};

    while (!atomic_load(&fd->stop)) {
        for (int i = 0; i < 3; i++) {
            dtk_controller_enqueue(fd->c, keys[i]);
        }
        dtk_clock_sleep_ms(3);
    }
    return NULL;
}

static void test_runtime__a_key_is_never_reconciled_concurrently(void **state)
{
    dtk_metrics_registry *reg = dtk_metrics_registry_new();
    fake f;
    feeder fd;
    pthread_t t;

    (void)state;
    fake_init(&f);
    f.sleep_ms = 15;
    fd.c = new_controller("busy", &f, reg, 4, 5);
    atomic_init(&fd.stop, 0);
    assert_int_equal(dtk_controller_start(fd.c), 0);
    assert_true(metric(reg, "controller_runtime_max_concurrent_reconciles{"
                            "controller=\"busy\"} ") == 4);
    assert_int_equal(pthread_create(&t, NULL, feed, &fd), 0);
    assert_true(wait_calls(&f, 40) >= 40);
    atomic_store(&fd.stop, 1);
    pthread_join(t, NULL);
    assert_int_equal(dtk_controller_stop(fd.c, WAIT_MS), 0);
    printf("reconciles: %d, most at once: %d, same key at once: %d\n", f.ncalls,
           atomic_load(&f.max_in_flight), atomic_load(&f.overlap_same_key));
    assert_int_equal(atomic_load(&f.overlap_same_key), 0);
    /* The workers did run in parallel (on different keys). */
    assert_true(atomic_load(&f.max_in_flight) >= 2);
    assert_true(metric(reg, "controller_runtime_active_workers{controller="
                            "\"busy\"} ") == 0);
    dtk_controller_free(fd.c);
    fake_dispose(&f);
    dtk_metrics_registry_free(reg);
}

static void test_runtime__bad_options_are_refused(void **state)
{
    dtk_controller_options o = DTK_CONTROLLER_OPTIONS_INIT;
    dtk_manager_options mo = DTK_MANAGER_OPTIONS_INIT;
    dtk_metrics_registry *reg = dtk_metrics_registry_new();
    dtk_controller *c = NULL, *c2 = NULL;
    dtk_manager *m = NULL;
    fake f;

    (void)state;
    fake_init(&f);
    o.name = "has space";
    o.reconcile = fake_reconcile;
    assert_int_equal(dtk_controller_new(&c, &o), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "controller name: expected 1 to 63 of "
                        "[A-Za-z0-9._-]");
    o.name = "ok";
    o.reconcile = NULL;
    assert_int_equal(dtk_controller_new(&c, &o), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "controller 'ok': reconcile: required");
    assert_null(c);

    mo.leader_election = 1;
    assert_int_equal(dtk_manager_new(&m, &mo), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "leader election: kube_config: required");

    mo.leader_election = 0;
    mo.metrics = reg;
    assert_int_equal(dtk_manager_new(&m, &mo), 0);
    c = new_controller("twin", &f, reg, 1, 5);
    c2 = new_controller("twin", &f, reg, 1, 5);
    assert_int_equal(dtk_manager_add_controller(m, c), 0);
    assert_int_equal(dtk_manager_add_controller(m, c2), DTK_EEXISTS);
    assert_string_equal(dtk_error_last()->message,
                        "controller 'twin': a controller of this name was "
                        "added already");
    dtk_controller_free(c2);
    dtk_manager_free(m);
    fake_dispose(&f);
    dtk_metrics_registry_free(reg);
}

/* ---- the manager -------------------------------------------------------- */

typedef struct journal {
    pthread_mutex_t mu;
    char lines[32][64];
    int n;
} journal;

static void note(journal *j, const char *what)
{
    pthread_mutex_lock(&j->mu);
    if (j->n < 32) {
        snprintf(j->lines[j->n++], 64, "%s", what);
    }
    pthread_mutex_unlock(&j->mu);
}

typedef struct fake_runnable {
    const char *name;
    journal *j;
    dtk_manager *m;
    dtk_controller *watched; /* stop checks that its queue is shut */
    atomic_int synced;
    int sync_on_start;
    int fail_start;
    int64_t stop_sleep_ms;
} fake_runnable;

static int fr_start(void *payload)
{
    fake_runnable *r = payload;
    char line[64];
    int port = dtk_manager_http_port(r->m);

    snprintf(line, sizeof(line), "%s.start", r->name);
    note(r->j, line);
    /* The HTTP endpoints are up before any runnable. */
    if (port > 0 && http_get(port, "/healthz").status == 200) {
        snprintf(line, sizeof(line), "%s.http-up", r->name);
        note(r->j, line);
    }
    if (r->fail_start) {
        dtk_error_set(DTK_ERRCLASS_NONE, "cannot list widgets");
        return DTK_EAUTH;
    }
    if (r->sync_on_start) {
        atomic_store(&r->synced, 1);
    }
    return 0;
}

static int fr_stop(void *payload, int64_t timeout_ms)
{
    fake_runnable *r = payload;
    char line[64];
    int port = dtk_manager_http_port(r->m);

    (void)timeout_ms;
    snprintf(line, sizeof(line), "%s.stop", r->name);
    note(r->j, line);
    /* Controllers are stopped before runnables... */
    if (r->watched != NULL &&
        dtk_controller_enqueue(r->watched, "ns/late") == DTK_ESHUTDOWN) {
        snprintf(line, sizeof(line), "%s.controllers-stopped", r->name);
        note(r->j, line);
    }
    /* ...and the HTTP endpoints after them. */
    if (port > 0 && http_get(port, "/healthz").status == 200) {
        snprintf(line, sizeof(line), "%s.http-up", r->name);
        note(r->j, line);
    }
    if (r->stop_sleep_ms > 0) {
        dtk_clock_sleep_ms(r->stop_sleep_ms);
    }
    return 0;
}

static int fr_synced(void *payload)
{
    fake_runnable *r = payload;

    return atomic_load(&r->synced);
}

static void add_fake_runnable(dtk_manager *m, fake_runnable *r)
{
    dtk_runnable d = DTK_RUNNABLE_INIT;

    d.name = r->name;
    d.start = fr_start;
    d.stop = fr_stop;
    d.has_synced = fr_synced;
    d.payload = r;
    assert_int_equal(dtk_manager_add_runnable(m, &d), 0);
}

static dtk_manager *new_manager(dtk_metrics_registry *reg,
                                int64_t sync_ms,
                                int64_t graceful_ms)
{
    dtk_manager_options o = DTK_MANAGER_OPTIONS_INIT;
    dtk_manager *m = NULL;

    o.bind_address = "127.0.0.1";
    o.bind_port = 0;
    o.metrics = reg;
    o.cache_sync_timeout_ms = sync_ms;
    o.graceful_shutdown_timeout_ms = graceful_ms;
    assert_int_equal(dtk_manager_new(&m, &o), 0);
    return m;
}

static void test_runtime__manager_starts_in_order_and_stops_in_reverse(
    void **state)
{
    static const char *const want[] = {"A.start",
                                       "A.http-up",
                                       "B.start",
                                       "B.http-up",
                                       "reconciled",
                                       "B.stop",
                                       "B.controllers-stopped",
                                       "B.http-up",
                                       "A.stop",
                                       "A.controllers-stopped",
                                       "A.http-up"};
    dtk_metrics_registry *reg = dtk_metrics_registry_new();
    journal j;
    fake f;
    fake_runnable a, b;
    dtk_manager *m;
    dtk_controller *c;
    int baseline = count_threads();

    (void)state;
    memset(&j, 0, sizeof(j));
    pthread_mutex_init(&j.mu, NULL);
    fake_init(&f);
    m = new_manager(reg, 10000, 10000);
    c = new_controller("ordered", &f, reg, 2, 5);
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.name = "A";
    b.name = "B";
    a.j = b.j = &j;
    a.m = b.m = m;
    a.watched = b.watched = c;
    a.sync_on_start = b.sync_on_start = 1;
    add_fake_runnable(m, &a);
    add_fake_runnable(m, &b);
    assert_int_equal(dtk_manager_add_controller(m, c), 0);
    /* Queued before start, reconciled only once everything synced. */
    assert_int_equal(dtk_controller_enqueue(c, "ns/early"), 0);

    assert_int_equal(dtk_manager_start(m), 0);
    assert_int_equal(wait_calls(&f, 1), 1);
    note(&j, "reconciled");
    assert_int_equal(dtk_manager_is_leader(m), 1);
    assert_int_equal(dtk_manager_stop(m), 0);
    assert_int_equal(dtk_manager_http_port(m), 0);

    assert_int_equal(j.n, (int)(sizeof(want) / sizeof(want[0])));
    for (int i = 0; i < j.n; i++) {
        assert_string_equal(j.lines[i], want[i]);
    }
    /* Idempotent. */
    assert_int_equal(dtk_manager_stop(m), 0);
    dtk_manager_free(m);
    assert_int_equal(wait_thread_count(baseline), baseline);
    fake_dispose(&f);
    pthread_mutex_destroy(&j.mu);
    dtk_metrics_registry_free(reg);
}

typedef struct starter {
    dtk_manager *m;
    atomic_int done;
    int error;
} starter;

static void *start_thread(void *arg)
{
    starter *s = arg;

    s->error = dtk_manager_start(s->m);
    atomic_store(&s->done, 1);
    return NULL;
}

static void test_runtime__probes_and_metrics_over_http(void **state)
{
    dtk_metrics_registry *reg = dtk_metrics_registry_new();
    journal j;
    fake f;
    fake_runnable inf;
    starter s;
    pthread_t t;
    dtk_manager *m;
    dtk_controller *c;
    reply r;
    int port = 0;

    (void)state;
    memset(&j, 0, sizeof(j));
    pthread_mutex_init(&j.mu, NULL);
    fake_init(&f);
    f.fail_first = 1;
    f.fail_code = DTK_EINVALID;
    m = new_manager(reg, 20000, 10000);
    c = new_controller("probed", &f, reg, 1, 5);
    memset(&inf, 0, sizeof(inf));
    inf.name = "informer";
    inf.j = &j;
    inf.m = m;
    add_fake_runnable(m, &inf);
    assert_int_equal(dtk_manager_add_controller(m, c), 0);
    assert_int_equal(dtk_controller_enqueue(c, "ns/a"), 0);

    s.m = m;
    atomic_init(&s.done, 0);
    assert_int_equal(pthread_create(&t, NULL, start_thread, &s), 0);
    for (int64_t deadline = dtk_clock_now_ms() + WAIT_MS; port == 0;) {
        assert_true(dtk_clock_now_ms() < deadline);
        port = dtk_manager_http_port(m);
        dtk_clock_sleep_ms(5);
    }

    /* Not synced: alive but not ready, and nothing reconciled. */
    r = http_get(port, "/healthz");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok");
    r = http_get(port, "/readyz");
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body, "[-]synced failed: reason withheld\n"
                                "readyz check failed\n");
    r = http_get(port, "/readyz/synced");
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body,
                        "internal server error: runnables not synced yet\n");
    assert_int_equal(atomic_load(&s.done), 0);
    assert_int_equal(f.ncalls, 0);

    atomic_store(&inf.synced, 1);
    pthread_join(t, NULL);
    assert_int_equal(s.error, 0);
    r = http_get(port, "/readyz");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok");
    r = http_get(port, "/readyz?verbose=1");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "[+]synced ok\nreadyz check passed\n");
    r = http_get(port, "/healthz?verbose=1&exclude=ping");
    assert_string_equal(r.body, "[+]ping excluded: ok\nhealthz check "
                                "passed\n");
    r = http_get(port, "/healthz/nope");
    assert_int_equal(r.status, 404);
    r = http_get(port, "/nope");
    assert_int_equal(r.status, 404);
    r = http_get_method(port, "POST", "/healthz");
    assert_int_equal(r.status, 405);

    /* The terminal failure shows in the controller-runtime families. */
    assert_int_equal(wait_calls(&f, 1), 1);
    dtk_clock_sleep_ms(20);
    r = http_get(port, "/metrics");
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "# TYPE controller_runtime_reconcile_total "
                                   "counter\n"));
    assert_non_null(strstr(r.body, "controller_runtime_reconcile_total{"
                                   "controller=\"probed\",result=\"error\"} "
                                   "1\n"));
    assert_non_null(strstr(r.body, "controller_runtime_reconcile_errors_total"
                                   "{controller=\"probed\"} 1\n"));
    assert_non_null(strstr(r.body, "controller_runtime_terminal_reconcile_"
                                   "errors_total{controller=\"probed\"} "
                                   "1\n"));
    assert_non_null(strstr(r.body, "# TYPE controller_runtime_reconcile_time_"
                                   "seconds histogram\n"));
    assert_non_null(strstr(r.body, "controller_runtime_reconcile_time_"
                                   "seconds_bucket{controller=\"probed\","
                                   "le=\"0.005\"}"));
    assert_non_null(strstr(r.body, "controller_runtime_active_workers{"
                                   "controller=\"probed\"} 0\n"));
    assert_non_null(strstr(r.body, "controller_runtime_max_concurrent_"
                                   "reconciles{controller=\"probed\"} 1\n"));
    assert_non_null(strstr(r.body, "workqueue_adds_total{controller="
                                   "\"probed\",name=\"probed\"} 1\n"));

    assert_int_equal(dtk_manager_stop(m), 0);
    assert_int_equal(http_get(port, "/healthz").status, -1);
    dtk_manager_free(m);
    fake_dispose(&f);
    pthread_mutex_destroy(&j.mu);
    dtk_metrics_registry_free(reg);
}

static void test_runtime__sync_timeout_and_start_failure_undo_the_start(
    void **state)
{
    dtk_metrics_registry *reg = dtk_metrics_registry_new();
    journal j;
    fake f;
    fake_runnable never, bad;
    dtk_manager *m;
    dtk_controller *c;
    int64_t t0;
    int baseline = count_threads();

    (void)state;
    memset(&j, 0, sizeof(j));
    pthread_mutex_init(&j.mu, NULL);
    fake_init(&f);
    m = new_manager(reg, 300, 10000);
    c = new_controller("unsynced", &f, reg, 1, 5);
    memset(&never, 0, sizeof(never));
    never.name = "never";
    never.j = &j;
    never.m = m;
    add_fake_runnable(m, &never);
    assert_int_equal(dtk_manager_add_controller(m, c), 0);
    assert_int_equal(dtk_controller_enqueue(c, "ns/a"), 0);
    t0 = dtk_clock_now_ms();
    assert_int_equal(dtk_manager_start(m), DTK_ETIMEOUT);
    assert_string_equal(dtk_error_last()->message,
                        "runnable 'never': not synced after 300 ms");
    assert_true(dtk_clock_now_ms() - t0 >= 300);
    assert_int_equal(f.ncalls, 0);
    assert_int_equal(dtk_manager_http_port(m), 0);
    assert_int_equal(j.n, 4);
    assert_string_equal(j.lines[0], "never.start");
    assert_string_equal(j.lines[2], "never.stop");
    assert_int_equal(dtk_manager_start(m), DTK_EINVALID);
    dtk_manager_free(m);

    /* A runnable that cannot start: its error, prefixed; the runnables
     * started before it are stopped again. */
    j.n = 0;
    m = new_manager(reg, 300, 10000);
    memset(&never, 0, sizeof(never));
    never.name = "first";
    never.j = &j;
    never.m = m;
    never.sync_on_start = 1;
    memset(&bad, 0, sizeof(bad));
    bad.name = "second";
    bad.j = &j;
    bad.m = m;
    bad.fail_start = 1;
    add_fake_runnable(m, &never);
    add_fake_runnable(m, &bad);
    assert_int_equal(dtk_manager_start(m), DTK_EAUTH);
    assert_string_equal(dtk_error_last()->message,
                        "runnable 'second': cannot list widgets");
    /* first.start, first.http-up, second.start, second.http-up, then only
     * the started one is stopped. */
    assert_int_equal(j.n, 6);
    assert_string_equal(j.lines[2], "second.start");
    assert_string_equal(j.lines[4], "first.stop");
    dtk_manager_free(m);
    assert_int_equal(wait_thread_count(baseline), baseline);
    fake_dispose(&f);
    pthread_mutex_destroy(&j.mu);
    dtk_metrics_registry_free(reg);
}

static void *release_later(void *arg)
{
    dtk_clock_sleep_ms(200);
    release_hold(arg);
    return NULL;
}

static void test_runtime__stop_keeps_its_deadline(void **state)
{
    dtk_metrics_registry *reg = dtk_metrics_registry_new();
    fake f;
    dtk_manager *m;
    dtk_controller *c;
    int64_t t0, took;
    int baseline = count_threads();

    (void)state;
    fake_init(&f);
    f.hold = 1; /* the reconcile blocks until released */
    m = new_manager(reg, 10000, 300);
    c = new_controller("stuck", &f, reg, 1, 5);
    assert_int_equal(dtk_manager_add_controller(m, c), 0);
    assert_int_equal(dtk_manager_start(m), 0);
    assert_int_equal(dtk_controller_enqueue(c, "ns/slow"), 0);
    assert_int_equal(wait_calls(&f, 1), 1);

    t0 = dtk_clock_now_ms();
    assert_int_equal(dtk_manager_stop(m), DTK_ETIMEOUT);
    took = dtk_clock_now_ms() - t0;
    printf("stop with a stuck reconcile returned after %lld ms (deadline "
           "300 ms)\n",
           (long long)took);
    assert_true(took >= 290);
    assert_true(took < 300 + 2000);
    assert_string_equal(dtk_error_last()->message,
                        "graceful shutdown: 'stuck' did not stop within "
                        "300 ms");
    /* The stuck reconcile finishes later; free waits for it. */
    release_hold(&f);
    dtk_manager_free(m);
    assert_int_equal(wait_thread_count(baseline), baseline);

    /* A reconcile that finishes in time is waited for, and the keys still
     * queued behind it are dropped: stop is clean. */
    fake_dispose(&f);
    fake_init(&f);
    f.hold = 1;
    m = new_manager(reg, 10000, 5000);
    c = new_controller("slowish", &f, reg, 1, 5);
    assert_int_equal(dtk_manager_add_controller(m, c), 0);
    assert_int_equal(dtk_manager_start(m), 0);
    assert_int_equal(dtk_controller_enqueue(c, "ns/slow"), 0);
    assert_int_equal(wait_calls(&f, 1), 1);
    assert_int_equal(dtk_controller_enqueue(c, "ns/queued"), 0);
    {
        pthread_t t;

        assert_int_equal(pthread_create(&t, NULL, release_later, &f), 0);
        t0 = dtk_clock_now_ms();
        assert_int_equal(dtk_manager_stop(m), 0);
        took = dtk_clock_now_ms() - t0;
        pthread_join(t, NULL);
    }
    assert_true(took >= 150);
    assert_int_equal(f.ncalls, 1);
    dtk_manager_free(m);
    assert_int_equal(wait_thread_count(baseline), baseline);
    fake_dispose(&f);
    dtk_metrics_registry_free(reg);
}

static dtk_manager *signalled;

static void on_sigusr1(int sig)
{
    (void)sig;
    dtk_manager_request_stop(signalled);
}

static void *send_signal(void *arg)
{
    (void)arg;
    dtk_clock_sleep_ms(100);
    kill(getpid(), SIGUSR1);
    return NULL;
}

static void test_runtime__run_returns_after_a_signal(void **state)
{
    dtk_metrics_registry *reg = dtk_metrics_registry_new();
    struct sigaction sa, old;
    fake f;
    dtk_controller *c;
    pthread_t t;
    int baseline = count_threads();

    (void)state;
    fake_init(&f);
    signalled = new_manager(reg, 10000, 10000);
    c = new_controller("signalled", &f, reg, 2, 5);
    assert_int_equal(dtk_manager_add_controller(signalled, c), 0);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
    assert_int_equal(pthread_create(&t, NULL, send_signal, NULL), 0);
    assert_int_equal(dtk_manager_run(signalled), 0);
    pthread_join(t, NULL);
    sigaction(SIGUSR1, &old, NULL);
    assert_int_equal(dtk_manager_http_port(signalled), 0);
    dtk_manager_free(signalled);
    signalled = NULL;
    assert_int_equal(wait_thread_count(baseline), baseline);
    fake_dispose(&f);
    dtk_metrics_registry_free(reg);
}

static int group_setup(void **state)
{
    (void)state;
    return dtk_http_global_init();
}

static int group_teardown(void **state)
{
    (void)state;
    dtk_http_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runtime__success_forgets_and_passes_the_request),
        cmocka_unit_test(test_runtime__errors_requeue_with_growing_backoff),
        cmocka_unit_test(test_runtime__requeue_after_and_requeue),
        cmocka_unit_test(test_runtime__terminal_error_is_not_retried),
        cmocka_unit_test(test_runtime__a_key_is_never_reconciled_concurrently),
        cmocka_unit_test(test_runtime__bad_options_are_refused),
        cmocka_unit_test(
            test_runtime__manager_starts_in_order_and_stops_in_reverse),
        cmocka_unit_test(test_runtime__probes_and_metrics_over_http),
        cmocka_unit_test(
            test_runtime__sync_timeout_and_start_failure_undo_the_start),
        cmocka_unit_test(test_runtime__stop_keeps_its_deadline),
        cmocka_unit_test(test_runtime__run_returns_after_a_signal),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

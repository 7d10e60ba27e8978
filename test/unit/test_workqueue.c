/* Workqueue tests. Blocking calls that a bug could leave hanging run on a
 * helper thread and are waited for with a condition variable and a generous
 * deadline; a watchdog alarm ends the binary if anything else hangs. */
#define _GNU_SOURCE /* syscall(SYS_gettid) to inspect a thread's state */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/clock.h"
#include "pkg/base/error.h"
#include "pkg/metrics/metrics.h"
#include "pkg/workqueue/workqueue.h"

#define WAIT_MS 20000 /* generous: a loaded 2-core machine, ASan */

/* ---- helpers ------------------------------------------------------------ */

static dtk_workqueue *new_queue(const char *name,
                                int64_t base_ms,
                                int64_t max_ms)
{
    dtk_workqueue_options opts = DTK_WORKQUEUE_OPTIONS_INIT;
    dtk_workqueue *q = NULL;

    opts.name = name;
    opts.base_delay_ms = base_ms;
    opts.max_delay_ms = max_ms;
    assert_int_equal(dtk_workqueue_new(&q, &opts), 0);
    assert_non_null(q);
    return q;
}

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

/* Polls until count_threads() == want (a joined thread can linger in
 * /proc for a moment after pthread_join returns). */
static int wait_thread_count(int want)
{
    int64_t deadline = dtk_clock_now_ms() + WAIT_MS;
    int n;

    while ((n = count_threads()) != want && dtk_clock_now_ms() < deadline) {
        dtk_clock_sleep_ms(1);
    }
    return n;
}

/* Polls until the queue holds at least n keys; returns its length. */
static size_t wait_len_at_least(dtk_workqueue *q, size_t n)
{
    int64_t deadline = dtk_clock_now_ms() + WAIT_MS;

    while (dtk_workqueue_len(q) < n && dtk_clock_now_ms() < deadline) {
        dtk_clock_sleep_ms(1);
    }
    return dtk_workqueue_len(q);
}

/* The scheduler state of a thread of this process ('R', 'S', ...). */
static char thread_state(pid_t tid)
{
    char path[64];
    char line[512];
    char *paren;
    FILE *f;
    int n = snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);

    assert_true(n > 0 && (size_t)n < sizeof(path));
    f = fopen(path, "r");
    if (f == NULL) {
        return '?';
    }
    if (fgets(line, sizeof(line), f) == NULL) {
        line[0] = '\0';
    }
    fclose(f);
    paren = strrchr(line, ')');
    if (paren == NULL || paren[1] != ' ') {
        return '?';
    }
    return paren[2];
}

/* Waits until the thread sleeps (blocked on a condition variable here). */
static void wait_until_sleeping(const atomic_int *tid)
{
    int64_t deadline = dtk_clock_now_ms() + WAIT_MS;

    while (atomic_load(tid) == 0 && dtk_clock_now_ms() < deadline) {
        dtk_clock_sleep_ms(1);
    }
    assert_int_not_equal(atomic_load(tid), 0);
    while (thread_state((pid_t)atomic_load(tid)) != 'S' &&
           dtk_clock_now_ms() < deadline) {
        dtk_clock_sleep_ms(1);
    }
    assert_int_equal(thread_state((pid_t)atomic_load(tid)), 'S');
}

/* A dtk_workqueue_get on a helper thread, waited for with a deadline. */
typedef struct getter {
    dtk_workqueue *q;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int finished;
    int rc;
    char key[DTK_ERROR_MESSAGE_MAX];
    char message[DTK_ERROR_MESSAGE_MAX];
    atomic_int tid;
} getter;

static void *getter_main(void *arg)
{
    getter *g = arg;
    const char *key = NULL;
    int rc;

    atomic_store(&g->tid, (int)syscall(SYS_gettid));
    rc = dtk_workqueue_get(g->q, &key);
    pthread_mutex_lock(&g->lock);
    g->rc = rc;
    snprintf(g->key, sizeof(g->key), "%s", key != NULL ? key : "");
    snprintf(g->message, sizeof(g->message), "%s", dtk_error_last()->message);
    g->finished = 1;
    pthread_cond_signal(&g->cond);
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

static void getter_start(getter *g, dtk_workqueue *q)
{
    memset(g, 0, sizeof(*g));
    g->q = q;
    atomic_init(&g->tid, 0);
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->cond, NULL);
    assert_int_equal(pthread_create(&g->thread, NULL, getter_main, g), 0);
}

/* Waits up to timeout_ms for the get to return; on timeout shuts the queue
 * down so the thread can be joined, and fails. */
static void getter_finish(getter *g, int64_t timeout_ms)
{
    struct timespec deadline;
    int finished;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += (time_t)(timeout_ms / 1000);
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&g->lock);
    while (!g->finished) {
        if (pthread_cond_timedwait(&g->cond, &g->lock, &deadline) ==
            ETIMEDOUT) {
            break;
        }
    }
    finished = g->finished;
    pthread_mutex_unlock(&g->lock);
    if (!finished) {
        dtk_workqueue_shutdown(g->q);
    }
    assert_int_equal(pthread_join(g->thread, NULL), 0);
    pthread_mutex_destroy(&g->lock);
    pthread_cond_destroy(&g->cond);
    assert_true(finished); /* the get returned in time */
}

/* Gets one key with a deadline and checks which one it is. */
static void expect_get(dtk_workqueue *q, const char *want)
{
    getter g;

    getter_start(&g, q);
    getter_finish(&g, WAIT_MS);
    assert_int_equal(g.rc, 0);
    assert_string_equal(g.key, want);
}

static void expect_get_done(dtk_workqueue *q, const char *want)
{
    expect_get(q, want);
    dtk_workqueue_done(q, want);
}

/* ---- basic semantics ---------------------------------------------------- */

static void test_workqueue__add_dedups_and_keeps_fifo_order(void **state)
{
    dtk_workqueue *q = new_queue("fifo", 0, 0);

    (void)state;
    assert_int_equal(dtk_workqueue_add(q, "ns/a"), 0);
    assert_int_equal(dtk_workqueue_add(q, "ns/b"), 0);
    assert_int_equal(dtk_workqueue_add(q, "ns/a"), 0);
    assert_int_equal(dtk_workqueue_add(q, "ns/c"), 0);
    assert_int_equal(dtk_workqueue_add(q, "ns/b"), 0);
    assert_int_equal(dtk_workqueue_len(q), 3);
    expect_get_done(q, "ns/a");
    expect_get_done(q, "ns/b");
    expect_get_done(q, "ns/c");
    assert_int_equal(dtk_workqueue_len(q), 0);
    dtk_workqueue_free(q);
}

static void test_workqueue__add_during_processing_waits_for_done(void **state)
{
    dtk_workqueue *q = new_queue("requeue", 0, 0);
    const char *key = NULL;

    (void)state;
    assert_int_equal(dtk_workqueue_add(q, "ns/a"), 0);
    assert_int_equal(dtk_workqueue_get(q, &key), 0);
    assert_string_equal(key, "ns/a");
    /* Being processed: adds mark it dirty but do not queue it. */
    assert_int_equal(dtk_workqueue_add(q, "ns/a"), 0);
    assert_int_equal(dtk_workqueue_add(q, "ns/a"), 0);
    assert_int_equal(dtk_workqueue_len(q), 0);
    assert_int_equal(dtk_workqueue_add(q, "ns/b"), 0);
    /* A second worker gets the other key, never "ns/a" again. */
    expect_get(q, "ns/b");
    assert_int_equal(dtk_workqueue_len(q), 0);
    dtk_workqueue_done(q, key); /* the borrowed pointer is accepted */
    assert_int_equal(dtk_workqueue_len(q), 1);
    expect_get_done(q, "ns/a");
    dtk_workqueue_done(q, "ns/b");
    /* Done without a pending add does not queue anything. */
    assert_int_equal(dtk_workqueue_len(q), 0);
    dtk_workqueue_free(q);
}

/* ---- invariants under concurrency --------------------------------------- */

enum {
    NKEYS = 16,
    PRODUCERS = 8,
    WORKERS = 8,
    ADDS_PER_PRODUCER = 10000,
};

typedef struct stress {
    dtk_workqueue *q;
    char keys[NKEYS][32];
    atomic_int busy[NKEYS];    /* 1 while a worker processes the key */
    atomic_int pending[NKEYS]; /* 1 from before an add until a get after it */
    atomic_long processed;
    atomic_int concurrent; /* violations: same key on two workers */
    atomic_int too_long;   /* violations: more queued than distinct keys */
    atomic_int worker_errors;
    atomic_uint seed;
} stress;

static int key_index(const char *key)
{
    size_t len = strlen(key);

    return (key[len - 2] - '0') * 10 + (key[len - 1] - '0');
}

static void *producer_main(void *arg)
{
    stress *s = arg;
    unsigned seed = atomic_fetch_add(&s->seed, 7919);
    int i;

    for (i = 0; i < ADDS_PER_PRODUCER; i++) {
        int k = rand_r(&seed) % NKEYS;

        atomic_store(&s->pending[k], 1);
        if (dtk_workqueue_add(s->q, s->keys[k]) != 0) {
            atomic_fetch_add(&s->worker_errors, 1);
        }
        if (dtk_workqueue_len(s->q) > NKEYS) {
            atomic_fetch_add(&s->too_long, 1);
        }
        if (i % 64 == 0) {
            sched_yield();
        }
    }
    return NULL;
}

static void *worker_main(void *arg)
{
    stress *s = arg;
    unsigned seed = atomic_fetch_add(&s->seed, 104729);
    const char *key;

    while (dtk_workqueue_get(s->q, &key) == 0) {
        int k = key_index(key);
        volatile unsigned sink = 0;
        unsigned spin = (unsigned)rand_r(&seed) % 2000;
        unsigned j;

        atomic_store(&s->pending[k], 0);
        if (atomic_exchange(&s->busy[k], 1) != 0) {
            atomic_fetch_add(&s->concurrent, 1);
        }
        for (j = 0; j < spin; j++) {
            sink += j;
        }
        if (spin % 4 == 0) {
            sched_yield();
        }
        atomic_store(&s->busy[k], 0);
        atomic_fetch_add(&s->processed, 1);
        dtk_workqueue_done(s->q, key);
    }
    return NULL;
}

static void test_workqueue__key_never_processed_concurrently(void **state)
{
    pthread_t producers[PRODUCERS];
    pthread_t workers[WORKERS];
    stress *s = dtk_calloc(1, sizeof(*s));
    int i;

    (void)state;
    s->q = new_queue("stress", 0, 0);
    atomic_init(&s->seed, 12345);
    for (i = 0; i < NKEYS; i++) {
        snprintf(s->keys[i], sizeof(s->keys[i]), "ns/key-%02d", i);
        atomic_init(&s->busy[i], 0);
        atomic_init(&s->pending[i], 0);
    }
    for (i = 0; i < WORKERS; i++) {
        assert_int_equal(pthread_create(&workers[i], NULL, worker_main, s), 0);
    }
    for (i = 0; i < PRODUCERS; i++) {
        assert_int_equal(pthread_create(&producers[i], NULL, producer_main, s),
                         0);
    }
    for (i = 0; i < PRODUCERS; i++) {
        assert_int_equal(pthread_join(producers[i], NULL), 0);
    }
    /* Workers finish what is queued and in flight, then see the end. */
    assert_int_equal(dtk_workqueue_shutdown_with_drain(s->q, 60000), 0);
    for (i = 0; i < WORKERS; i++) {
        assert_int_equal(pthread_join(workers[i], NULL), 0);
    }

    assert_int_equal(atomic_load(&s->concurrent), 0);
    assert_int_equal(atomic_load(&s->too_long), 0);
    assert_int_equal(atomic_load(&s->worker_errors), 0);
    /* No add was lost: every key added was processed after its last add. */
    for (i = 0; i < NKEYS; i++) {
        assert_int_equal(atomic_load(&s->pending[i]), 0);
    }
    assert_true(atomic_load(&s->processed) >= NKEYS);
    assert_true(atomic_load(&s->processed) <=
                (long)PRODUCERS * ADDS_PER_PRODUCER);
    assert_int_equal(dtk_workqueue_len(s->q), 0);
    dtk_workqueue_free(s->q);
    dtk_free(s);
}

static void *adder_main(void *arg)
{
    stress *s = arg;
    unsigned seed = atomic_fetch_add(&s->seed, 31);
    int i;

    for (i = 0; i < 500 * NKEYS; i++) {
        if (dtk_workqueue_add(s->q, s->keys[rand_r(&seed) % NKEYS]) != 0) {
            atomic_fetch_add(&s->worker_errors, 1);
        }
    }
    /* Make sure every key was added at least once by this thread. */
    for (i = 0; i < NKEYS; i++) {
        if (dtk_workqueue_add(s->q, s->keys[i]) != 0) {
            atomic_fetch_add(&s->worker_errors, 1);
        }
    }
    return NULL;
}

static void test_workqueue__key_never_queued_twice(void **state)
{
    pthread_t adders[PRODUCERS];
    stress *s = dtk_calloc(1, sizeof(*s));
    unsigned seen = 0;
    const char *key;
    int i;

    (void)state;
    s->q = new_queue("dedup", 0, 0);
    atomic_init(&s->seed, 99);
    for (i = 0; i < NKEYS; i++) {
        snprintf(s->keys[i], sizeof(s->keys[i]), "ns/key-%02d", i);
    }
    for (i = 0; i < PRODUCERS; i++) {
        assert_int_equal(pthread_create(&adders[i], NULL, adder_main, s), 0);
    }
    for (i = 0; i < PRODUCERS; i++) {
        assert_int_equal(pthread_join(adders[i], NULL), 0);
    }
    assert_int_equal(atomic_load(&s->worker_errors), 0);
    /* 8 x 8000 concurrent adds of 16 keys: each key is queued once. */
    assert_int_equal(dtk_workqueue_len(s->q), NKEYS);
    for (i = 0; i < NKEYS; i++) {
        assert_int_equal(dtk_workqueue_get(s->q, &key), 0);
        assert_int_equal(seen & (1u << key_index(key)), 0);
        seen |= 1u << key_index(key);
        dtk_workqueue_done(s->q, key);
    }
    assert_int_equal(seen, (1u << NKEYS) - 1);
    assert_int_equal(dtk_workqueue_len(s->q), 0);
    dtk_workqueue_shutdown(s->q);
    assert_int_equal(dtk_workqueue_get(s->q, &key), DTK_ESHUTDOWN);
    dtk_workqueue_free(s->q);
    dtk_free(s);
}

/* ---- delays ------------------------------------------------------------- */

static void test_workqueue__add_after_orders_by_ready_time(void **state)
{
    dtk_workqueue *q = new_queue("delays", 0, 0);
    int64_t t0 = dtk_clock_now_ms();

    (void)state;
    assert_int_equal(dtk_workqueue_add_after(q, "ns/c", 90), 0);
    assert_int_equal(dtk_workqueue_add_after(q, "ns/a", 30), 0);
    assert_int_equal(dtk_workqueue_add_after(q, "ns/b", 60), 0);
    assert_int_equal(dtk_workqueue_add_after(q, "ns/now", 0), 0);
    assert_int_equal(dtk_workqueue_add_after(q, "ns/later", 600000), 0);
    assert_int_equal(dtk_workqueue_len(q), 1); /* only the undelayed one */
    expect_get_done(q, "ns/now");
    expect_get_done(q, "ns/a");
    assert_true(dtk_clock_now_ms() - t0 >= 30);
    expect_get_done(q, "ns/b");
    assert_true(dtk_clock_now_ms() - t0 >= 60);
    expect_get_done(q, "ns/c");
    assert_true(dtk_clock_now_ms() - t0 >= 90);
    /* "ns/later" still waits; free drops it. */
    assert_int_equal(dtk_workqueue_len(q), 0);
    dtk_workqueue_free(q);
}

static void test_workqueue__add_after_keeps_earlier_ready_time(void **state)
{
    dtk_workqueue *q = new_queue("earlier", 0, 0);

    (void)state;
    /* Later request for a waiting key: the earlier time stays. */
    assert_int_equal(dtk_workqueue_add_after(q, "ns/a", 20), 0);
    assert_int_equal(dtk_workqueue_add_after(q, "ns/a", 600000), 0);
    expect_get_done(q, "ns/a");
    /* Earlier request for a waiting key: it moves up. */
    assert_int_equal(dtk_workqueue_add_after(q, "ns/b", 600000), 0);
    assert_int_equal(dtk_workqueue_add_after(q, "ns/b", 20), 0);
    expect_get_done(q, "ns/b");
    /* A delayed add of a key still queued does not queue it twice: c's
     * timer fires before d's, so once d is queued c's has fired. */
    assert_int_equal(dtk_workqueue_add(q, "ns/c"), 0);
    assert_int_equal(dtk_workqueue_add_after(q, "ns/c", 10), 0);
    assert_int_equal(dtk_workqueue_add_after(q, "ns/d", 30), 0);
    assert_int_equal(wait_len_at_least(q, 2), 2);
    expect_get_done(q, "ns/c");
    expect_get_done(q, "ns/d");
    assert_int_equal(dtk_workqueue_len(q), 0);
    dtk_workqueue_free(q);
}

/* ---- rate limiting ------------------------------------------------------ */

static void test_workqueue__backoff_doubles_and_caps(void **state)
{
    static const int64_t want[] = {5,   10,  20,  40,   80,
                                   160, 320, 640, 1000, 1000};
    dtk_workqueue *q = new_queue("backoff", 5, 1000);
    dtk_workqueue *dflt = NULL;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_int_equal(dtk_workqueue_backoff_ms(q, "ns/a"), want[i]);
        assert_int_equal(dtk_workqueue_num_requeues(q, "ns/a"), (int)i);
        assert_int_equal(dtk_workqueue_add_rate_limited(q, "ns/a"), 0);
    }
    assert_int_equal(dtk_workqueue_num_requeues(q, "ns/a"), 10);
    /* Keys back off independently. */
    assert_int_equal(dtk_workqueue_backoff_ms(q, "ns/other"), 5);
    dtk_workqueue_free(q);

    /* The defaults are controller-runtime's: 5 ms doubling up to 1000 s,
     * and many failures do not overflow. */
    assert_int_equal(dtk_workqueue_new(&dflt, NULL), 0);
    for (i = 0; i < 100; i++) {
        int64_t b = dtk_workqueue_backoff_ms(dflt, "ns/x");

        if (i < 18) {
            assert_int_equal(b, (int64_t)5 << i);
        } else {
            assert_int_equal(b, 1000 * 1000);
        }
        assert_int_equal(dtk_workqueue_add_rate_limited(dflt, "ns/x"), 0);
    }
    dtk_workqueue_free(dflt);
}

static void test_workqueue__rate_limited_add_waits_its_backoff(void **state)
{
    dtk_workqueue *q = new_queue("ratelimited", 40, 10000);
    int64_t t0;

    (void)state;
    t0 = dtk_clock_now_ms();
    assert_int_equal(dtk_workqueue_add_rate_limited(q, "ns/a"), 0);
    assert_int_equal(dtk_workqueue_len(q), 0);
    expect_get(q, "ns/a");
    assert_true(dtk_clock_now_ms() - t0 >= 40);
    t0 = dtk_clock_now_ms();
    assert_int_equal(dtk_workqueue_add_rate_limited(q, "ns/a"), 0);
    dtk_workqueue_done(q, "ns/a");
    expect_get(q, "ns/a");
    assert_true(dtk_clock_now_ms() - t0 >= 80);
    dtk_workqueue_done(q, "ns/a");
    assert_int_equal(dtk_workqueue_num_requeues(q, "ns/a"), 2);
    dtk_workqueue_free(q);
}

static void test_workqueue__forget_resets_backoff(void **state)
{
    dtk_workqueue *q = new_queue("forget", 5, 1000);
    int i;

    (void)state;
    for (i = 0; i < 3; i++) {
        assert_int_equal(dtk_workqueue_add_rate_limited(q, "ns/a"), 0);
    }
    assert_int_equal(dtk_workqueue_num_requeues(q, "ns/a"), 3);
    assert_int_equal(dtk_workqueue_backoff_ms(q, "ns/a"), 40);
    dtk_workqueue_forget(q, "ns/a");
    assert_int_equal(dtk_workqueue_num_requeues(q, "ns/a"), 0);
    assert_int_equal(dtk_workqueue_backoff_ms(q, "ns/a"), 5);
    /* Forget does not drop the pending delayed add. */
    expect_get_done(q, "ns/a");
    /* Forgetting an unknown key is harmless. */
    dtk_workqueue_forget(q, "ns/unknown");
    assert_int_equal(dtk_workqueue_num_requeues(q, "ns/unknown"), 0);
    dtk_workqueue_free(q);
}

static void test_workqueue__token_bucket_limits_overall_rate(void **state)
{
    dtk_workqueue_options opts = DTK_WORKQUEUE_OPTIONS_INIT;
    dtk_workqueue *q = NULL;
    int64_t t0;

    (void)state;
    opts.name = "bucket";
    opts.base_delay_ms = 1;
    opts.qps = 10;
    opts.burst = 1;
    assert_int_equal(dtk_workqueue_new(&q, &opts), 0);
    t0 = dtk_clock_now_ms();
    /* The first takes the only token; the second waits 1/qps = 100 ms
     * although its own backoff is 1 ms. */
    assert_int_equal(dtk_workqueue_add_rate_limited(q, "ns/a"), 0);
    assert_int_equal(dtk_workqueue_add_rate_limited(q, "ns/b"), 0);
    expect_get_done(q, "ns/a");
    expect_get_done(q, "ns/b");
    assert_true(dtk_clock_now_ms() - t0 >= 90);
    dtk_workqueue_free(q);
}

/* ---- shutdown ----------------------------------------------------------- */

static void test_workqueue__shutdown_wakes_blocked_getters(void **state)
{
    dtk_workqueue *q = new_queue("blocked", 0, 0);
    getter g[3];
    int i;

    (void)state;
    for (i = 0; i < 3; i++) {
        getter_start(&g[i], q);
    }
    for (i = 0; i < 3; i++) {
        wait_until_sleeping(&g[i].tid);
        pthread_mutex_lock(&g[i].lock);
        assert_false(g[i].finished);
        pthread_mutex_unlock(&g[i].lock);
    }
    dtk_workqueue_shutdown(q);
    for (i = 0; i < 3; i++) {
        getter_finish(&g[i], WAIT_MS);
        assert_int_equal(g[i].rc, DTK_ESHUTDOWN);
        assert_string_equal(g[i].key, "");
        assert_string_equal(g[i].message, "workqueue 'blocked': shut down");
    }
    assert_true(dtk_workqueue_shutting_down(q));
    dtk_workqueue_free(q);
}

static void test_workqueue__get_hands_out_queued_keys_after_shutdown(
    void **state)
{
    dtk_workqueue *q = new_queue("drained", 0, 0);
    const char *key = NULL;

    (void)state;
    assert_int_equal(dtk_workqueue_add(q, "ns/a"), 0);
    assert_int_equal(dtk_workqueue_add(q, "ns/b"), 0);
    assert_int_equal(dtk_workqueue_add_after(q, "ns/delayed", 600000), 0);
    dtk_workqueue_shutdown(q);
    dtk_workqueue_shutdown(q); /* idempotent */
    assert_int_equal(dtk_workqueue_add(q, "ns/c"), DTK_ESHUTDOWN);
    assert_string_equal(dtk_error_last()->message,
                        "workqueue 'drained': shutting down");
    assert_int_equal(dtk_workqueue_add_after(q, "ns/c", 10), DTK_ESHUTDOWN);
    assert_int_equal(dtk_workqueue_add_rate_limited(q, "ns/c"), DTK_ESHUTDOWN);
    assert_int_equal(dtk_workqueue_get(q, &key), 0);
    assert_string_equal(key, "ns/a");
    dtk_workqueue_done(q, key);
    assert_int_equal(dtk_workqueue_get(q, &key), 0);
    assert_string_equal(key, "ns/b");
    dtk_workqueue_done(q, key);
    /* The delayed key was dropped; the queue is empty: the end. */
    assert_int_equal(dtk_workqueue_get(q, &key), DTK_ESHUTDOWN);
    assert_null(key);
    dtk_workqueue_free(q);
}

typedef struct drainer {
    dtk_workqueue *q;
    int64_t timeout_ms;
    atomic_int tid;
    atomic_int returned;
    int rc;
} drainer;

static void *drainer_main(void *arg)
{
    drainer *d = arg;

    atomic_store(&d->tid, (int)syscall(SYS_gettid));
    d->rc = dtk_workqueue_shutdown_with_drain(d->q, d->timeout_ms);
    atomic_store(&d->returned, 1);
    return NULL;
}

static void test_workqueue__shutdown_with_drain_waits_for_in_flight(
    void **state)
{
    dtk_workqueue *q = new_queue("drain", 0, 0);
    drainer d;
    pthread_t thread;
    const char *key = NULL;

    (void)state;
    memset(&d, 0, sizeof(d));
    d.q = q;
    d.timeout_ms = 60000;
    atomic_init(&d.tid, 0);
    atomic_init(&d.returned, 0);
    assert_int_equal(dtk_workqueue_add(q, "ns/a"), 0);
    assert_int_equal(dtk_workqueue_get(q, &key), 0);
    assert_int_equal(pthread_create(&thread, NULL, drainer_main, &d), 0);
    wait_until_sleeping(&d.tid);
    /* The drainer is blocked: the queue is shut, "ns/a" still in flight. */
    assert_true(dtk_workqueue_shutting_down(q));
    assert_int_equal(atomic_load(&d.returned), 0);
    assert_int_equal(dtk_workqueue_add(q, "ns/b"), DTK_ESHUTDOWN);
    dtk_workqueue_done(q, key);
    assert_int_equal(pthread_join(thread, NULL), 0);
    assert_int_equal(d.rc, 0);
    dtk_workqueue_free(q);
}

static void test_workqueue__shutdown_with_drain_times_out(void **state)
{
    dtk_workqueue *q = new_queue("stuck", 0, 0);
    const char *key = NULL;
    int64_t t0;

    (void)state;
    assert_int_equal(dtk_workqueue_add(q, "ns/a"), 0);
    assert_int_equal(dtk_workqueue_get(q, &key), 0);
    t0 = dtk_clock_now_ms();
    assert_int_equal(dtk_workqueue_shutdown_with_drain(q, 50), DTK_ETIMEOUT);
    assert_true(dtk_clock_now_ms() - t0 >= 50);
    assert_string_equal(dtk_error_last()->message,
                        "workqueue 'stuck': 1 key(s) still processing after "
                        "50 ms");
    dtk_workqueue_done(q, key);
    /* Once the straggler is done, draining succeeds at once. */
    assert_int_equal(dtk_workqueue_shutdown_with_drain(q, 50), 0);
    dtk_workqueue_free(q);
}

static void test_workqueue__free_leaves_no_thread(void **state)
{
    int before = count_threads();
    dtk_workqueue *q = new_queue("threads", 0, 0);

    (void)state;
    /* One timer thread per queue. */
    assert_int_equal(wait_thread_count(before + 1), before + 1);
    assert_int_equal(dtk_workqueue_add_after(q, "ns/a", 600000), 0);
    assert_int_equal(dtk_workqueue_add(q, "ns/b"), 0);
    dtk_workqueue_free(q); /* without an explicit shutdown */
    assert_int_equal(wait_thread_count(before), before);
    dtk_workqueue_free(NULL);
}

/* ---- validation --------------------------------------------------------- */

static void test_workqueue__rejects_bad_options_and_keys(void **state)
{
    dtk_workqueue_options opts = DTK_WORKQUEUE_OPTIONS_INIT;
    dtk_metrics_registry *reg = dtk_metrics_registry_new();
    dtk_workqueue *q = NULL;

    (void)state;
    opts.name = "v";
    opts.base_delay_ms = -1;
    assert_int_equal(dtk_workqueue_new(&q, &opts), DTK_EINVALID);
    assert_null(q);
    assert_string_equal(dtk_error_last()->message,
                        "workqueue 'v': base_delay_ms: must be between 0 and "
                        "100000000000, got -1");
    opts.base_delay_ms = 100;
    opts.max_delay_ms = 10;
    assert_int_equal(dtk_workqueue_new(&q, &opts), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "workqueue 'v': max_delay_ms 10 is less than "
                        "base_delay_ms 100");
    opts.max_delay_ms = 0;
    opts.qps = 5;
    assert_int_equal(dtk_workqueue_new(&q, &opts), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "workqueue 'v': burst: must be at least 1 when qps is "
                        "set, got 0");
    opts.qps = -1;
    assert_int_equal(dtk_workqueue_new(&q, &opts), DTK_EINVALID);
    assert_string_equal(
        dtk_error_last()->message,
        "workqueue 'v': qps: must be between 0 and 1e9, got -1");
    opts.qps = 0;
    opts.name = NULL;
    opts.metrics = reg;
    assert_int_equal(dtk_workqueue_new(&q, &opts), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "workqueue name: required when metrics are enabled");
    assert_null(q);

    assert_int_equal(dtk_workqueue_new(&q, NULL), 0);
    assert_int_equal(dtk_workqueue_add(q, ""), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "workqueue 'workqueue': key must not be empty");
    assert_int_equal(dtk_workqueue_add(q, NULL), DTK_EINVALID);
    assert_int_equal(dtk_workqueue_add_after(q, NULL, 5), DTK_EINVALID);
    assert_int_equal(dtk_workqueue_add_rate_limited(q, ""), DTK_EINVALID);
    assert_int_equal(dtk_workqueue_len(q), 0);
    dtk_workqueue_free(q);
    dtk_metrics_registry_free(reg);
}

/* ---- metrics ------------------------------------------------------------ */

static char *expose(dtk_metrics_registry *reg)
{
    dtk_buf buf = DTK_BUF_INIT((size_t)1024 * 1024);

    assert_int_equal(dtk_metrics_write(&buf, reg), 0);
    return dtk_buf_detach(&buf);
}

#define SERIES "{controller=\"podinfo\",name=\"wq\"}"

/* Polls the exposition until it contains line (the in-flight gauges are
 * refreshed every 500 ms by the timer thread). */
static void wait_for_line(dtk_metrics_registry *reg,
                          const char *line,
                          int present)
{
    int64_t deadline = dtk_clock_now_ms() + WAIT_MS;
    int found;

    for (;;) {
        char *text = expose(reg);

        found = strstr(text, line) != NULL;
        dtk_free(text);
        if (found == present || dtk_clock_now_ms() >= deadline) {
            break;
        }
        dtk_clock_sleep_ms(10);
    }
    assert_int_equal(found, present);
}

static void test_workqueue__reports_controller_runtime_metrics(void **state)
{
    dtk_workqueue_options opts = DTK_WORKQUEUE_OPTIONS_INIT;
    dtk_metrics_registry *reg = dtk_metrics_registry_new();
    dtk_workqueue *q = NULL;
    dtk_workqueue *twin = NULL;
    const char *key = NULL;
    char *text;

    (void)state;
    opts.name = "wq";
    opts.controller = "podinfo";
    opts.metrics = reg;
    assert_int_equal(dtk_workqueue_new(&q, &opts), 0);
    assert_int_equal(dtk_workqueue_add(q, "ns/a"), 0);
    assert_int_equal(dtk_workqueue_add(q, "ns/b"), 0);
    assert_int_equal(dtk_workqueue_add(q, "ns/a"), 0); /* deduped: no add */
    assert_int_equal(dtk_workqueue_get(q, &key), 0);

    text = expose(reg);
    assert_non_null(strstr(text, "# HELP workqueue_depth Current depth of "
                                 "workqueue\n# TYPE workqueue_depth gauge\n"
                                 "workqueue_depth" SERIES " 1\n"));
    assert_non_null(strstr(text, "# TYPE workqueue_adds_total counter\n"
                                 "workqueue_adds_total" SERIES " 2\n"));
    assert_non_null(strstr(
        text, "workqueue_queue_duration_seconds_bucket{controller=\"podinfo\","
              "name=\"wq\",le=\"9.999999999999999e-06\"} "));
    assert_non_null(
        strstr(text, "workqueue_queue_duration_seconds_count" SERIES " 1\n"));
    assert_non_null(
        strstr(text, "workqueue_work_duration_seconds_count" SERIES " 0\n"));
    assert_non_null(strstr(text, "workqueue_retries_total" SERIES " 0\n"));
    dtk_free(text);

    /* A key in flight shows up in the two in-flight gauges. */
    wait_for_line(reg, "workqueue_unfinished_work_seconds" SERIES " 0\n", 0);
    wait_for_line(
        reg, "workqueue_longest_running_processor_seconds" SERIES " 0\n", 0);
    assert_int_equal(dtk_workqueue_add_rate_limited(q, "ns/c"), 0);
    assert_int_equal(dtk_workqueue_add_after(q, "ns/d", 0), 0);
    dtk_workqueue_done(q, key);
    wait_for_line(reg, "workqueue_unfinished_work_seconds" SERIES " 0\n", 1);
    text = expose(reg);
    assert_non_null(strstr(text, "workqueue_retries_total" SERIES " 2\n"));
    assert_non_null(
        strstr(text, "workqueue_work_duration_seconds_count" SERIES " 1\n"));
    dtk_free(text);

    /* A second queue with the same labels shares the families. */
    assert_int_equal(dtk_workqueue_new(&twin, &opts), 0);
    dtk_workqueue_free(twin);
    dtk_workqueue_free(q);
    dtk_metrics_registry_free(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_workqueue__add_dedups_and_keeps_fifo_order),
        cmocka_unit_test(test_workqueue__add_during_processing_waits_for_done),
        cmocka_unit_test(test_workqueue__key_never_processed_concurrently),
        cmocka_unit_test(test_workqueue__key_never_queued_twice),
        cmocka_unit_test(test_workqueue__add_after_orders_by_ready_time),
        cmocka_unit_test(test_workqueue__add_after_keeps_earlier_ready_time),
        cmocka_unit_test(test_workqueue__backoff_doubles_and_caps),
        cmocka_unit_test(test_workqueue__rate_limited_add_waits_its_backoff),
        cmocka_unit_test(test_workqueue__forget_resets_backoff),
        cmocka_unit_test(test_workqueue__token_bucket_limits_overall_rate),
        cmocka_unit_test(test_workqueue__shutdown_wakes_blocked_getters),
        cmocka_unit_test(
            test_workqueue__get_hands_out_queued_keys_after_shutdown),
        cmocka_unit_test(
            test_workqueue__shutdown_with_drain_waits_for_in_flight),
        cmocka_unit_test(test_workqueue__shutdown_with_drain_times_out),
        cmocka_unit_test(test_workqueue__free_leaves_no_thread),
        cmocka_unit_test(test_workqueue__rejects_bad_options_and_keys),
        cmocka_unit_test(test_workqueue__reports_controller_runtime_metrics),
    };

    /* Watchdog: a hang anywhere ends the binary (counted as a failure). */
    alarm(300);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The queue proper: FIFO ring, dirty and processing sets (client-go's
 * util/workqueue/queue.go), lifecycle and metrics wiring. See
 * workqueue_int.h for the data layout and workqueue.h for the contract.
 */
#include "pkg/workqueue/workqueue_int.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "pkg/base/alloc.h"
#include "pkg/base/error.h"

#define TABLE_INITIAL 64
#define RING_INITIAL  64
#define NS_PER_MS     DTK_WORKQUEUE__NS_PER_MS
#define NS_PER_S      1e9
#define MAX_DELAY_MS  DTK_WORKQUEUE__MAX_DELAY_MS

int64_t dtk_workqueue__now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- hash table of entries --------------------------------------------- */

/* FNV-1a: short keys, good enough spread, no allocation. */
static uint64_t hash_key(const char *key, size_t *len_out)
{
    const unsigned char *p = (const unsigned char *)key;
    uint64_t h = 14695981039346656037ULL;

    for (; *p != '\0'; p++) {
        h = (h ^ *p) * 1099511628211ULL;
    }
    *len_out = (size_t)((const char *)p - key);
    return h;
}

static void table_grow(dtk_workqueue *q)
{
    size_t size = q->table_size * 2;
    dtk_workqueue__entry **table = dtk_calloc(size, sizeof(dtk_workqueue__entry *));
    size_t i;

    for (i = 0; i < q->table_size; i++) {
        dtk_workqueue__entry *e = q->table[i];

        while (e != NULL) {
            dtk_workqueue__entry *next = e->hnext;
            size_t slot = (size_t)(e->hash & (size - 1));

            e->hnext = table[slot];
            table[slot] = e;
            e = next;
        }
    }
    dtk_free(q->table);
    q->table = table;
    q->table_size = size;
}

dtk_workqueue__entry *dtk_workqueue__lookup(dtk_workqueue *q,
                                            const char *key,
                                            int create)
{
    size_t len;
    uint64_t hash = hash_key(key, &len);
    size_t slot = (size_t)(hash & (q->table_size - 1));
    dtk_workqueue__entry *e;

    for (e = q->table[slot]; e != NULL; e = e->hnext) {
        if (e->hash == hash && e->keylen == len &&
            memcmp(e->key, key, len) == 0) {
            return e;
        }
    }
    if (!create) {
        return NULL;
    }
    if (q->entries + 1 > q->table_size) {
        table_grow(q);
        slot = (size_t)(hash & (q->table_size - 1));
    }
    e = dtk_malloc(sizeof(*e) + len + 1);
    memset(e, 0, sizeof(*e));
    e->hash = hash;
    e->heap_index = DTK_WORKQUEUE__NO_HEAP;
    e->keylen = len;
    memcpy(e->key, key, len + 1);
    e->hnext = q->table[slot];
    q->table[slot] = e;
    q->entries++;
    return e;
}

void dtk_workqueue__release(dtk_workqueue *q, dtk_workqueue__entry *e)
{
    dtk_workqueue__entry **link;

    if (e->flags != 0 || e->failures != 0 ||
        e->heap_index != DTK_WORKQUEUE__NO_HEAP) {
        return;
    }
    link = &q->table[e->hash & (q->table_size - 1)];
    while (*link != e) {
        dtk_assert(*link != NULL);
        link = &(*link)->hnext;
    }
    *link = e->hnext;
    q->entries--;
    dtk_free(e);
}

/* ---- FIFO ring ---------------------------------------------------------- */

static void ring_push(dtk_workqueue *q, dtk_workqueue__entry *e)
{
    if (q->ring_len == q->ring_cap) {
        size_t cap = q->ring_cap * 2;
        dtk_workqueue__entry **ring = dtk_malloc(cap * sizeof(dtk_workqueue__entry *));
        size_t i;

        for (i = 0; i < q->ring_len; i++) {
            ring[i] = q->ring[(q->ring_head + i) & (q->ring_cap - 1)];
        }
        dtk_free(q->ring);
        q->ring = ring;
        q->ring_cap = cap;
        q->ring_head = 0;
    }
    q->ring[(q->ring_head + q->ring_len) & (q->ring_cap - 1)] = e;
    q->ring_len++;
    e->flags |= DTK_WORKQUEUE__QUEUED;
    pthread_cond_signal(&q->getter_cond);
}

static dtk_workqueue__entry *ring_pop(dtk_workqueue *q)
{
    dtk_workqueue__entry *e = q->ring[q->ring_head];

    q->ring_head = (q->ring_head + 1) & (q->ring_cap - 1);
    q->ring_len--;
    e->flags &= ~DTK_WORKQUEUE__QUEUED;
    return e;
}

/* ---- processing list ---------------------------------------------------- */

static void processing_link(dtk_workqueue *q, dtk_workqueue__entry *e)
{
    e->pprev = NULL;
    e->pnext = q->processing;
    if (q->processing != NULL) {
        q->processing->pprev = e;
    }
    q->processing = e;
    q->processing_count++;
    e->flags |= DTK_WORKQUEUE__PROCESSING;
}

static void processing_unlink(dtk_workqueue *q, dtk_workqueue__entry *e)
{
    if (e->pprev != NULL) {
        e->pprev->pnext = e->pnext;
    } else {
        q->processing = e->pnext;
    }
    if (e->pnext != NULL) {
        e->pnext->pprev = e->pprev;
    }
    e->pprev = NULL;
    e->pnext = NULL;
    q->processing_count--;
    e->flags &= ~DTK_WORKQUEUE__PROCESSING;
}

/* ---- shared helpers ----------------------------------------------------- */

int dtk_workqueue__check_key(dtk_workqueue *q, const char *key)
{
    if (key == NULL || key[0] == '\0') {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "workqueue '%s': key must not be empty", q->name);
        return DTK_EINVALID;
    }
    return 0;
}

int dtk_workqueue__shutdown_error(dtk_workqueue *q)
{
    dtk_error_set(DTK_ERRCLASS_NONE, "workqueue '%s': shutting down", q->name);
    return DTK_ESHUTDOWN;
}

void dtk_workqueue__add_locked(dtk_workqueue *q, dtk_workqueue__entry *e)
{
    if (e->flags & DTK_WORKQUEUE__DIRTY) {
        return; /* queued already, or queued again at its done */
    }
    e->flags |= DTK_WORKQUEUE__DIRTY;
    /* Like client-go, depth and adds count dirty markings, and the queue
     * latency of a key added during its processing runs from this add. */
    dtk_metrics_counter_inc(q->m_adds);
    dtk_metrics_gauge_inc(q->m_depth);
    if (q->metrics_on) {
        e->added_ns = dtk_workqueue__now_ns();
    }
    if (e->flags & DTK_WORKQUEUE__PROCESSING) {
        return;
    }
    ring_push(q, e);
}

/* ---- lifecycle ---------------------------------------------------------- */

static int validate_options(dtk_workqueue_options *o)
{
    const char *name =
        o->name != NULL && o->name[0] != '\0' ? o->name : "workqueue";

    if (o->metrics != NULL && (o->name == NULL || o->name[0] == '\0')) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "workqueue name: required when metrics are enabled");
        return DTK_EINVALID;
    }
    o->name = name;
    if (o->controller == NULL || o->controller[0] == '\0') {
        o->controller = name;
    }
    if (o->base_delay_ms < 0 || o->base_delay_ms > MAX_DELAY_MS) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "workqueue '%s': base_delay_ms: must be between 0 and "
                      "%lld, got %lld",
                      name, (long long)MAX_DELAY_MS,
                      (long long)o->base_delay_ms);
        return DTK_EINVALID;
    }
    if (o->max_delay_ms < 0 || o->max_delay_ms > MAX_DELAY_MS) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "workqueue '%s': max_delay_ms: must be between 0 and "
                      "%lld, got %lld",
                      name, (long long)MAX_DELAY_MS,
                      (long long)o->max_delay_ms);
        return DTK_EINVALID;
    }
    if (o->base_delay_ms == 0) {
        o->base_delay_ms = DTK_WORKQUEUE_DEFAULT_BASE_DELAY_MS;
    }
    if (o->max_delay_ms == 0) {
        o->max_delay_ms = DTK_WORKQUEUE_DEFAULT_MAX_DELAY_MS;
    }
    if (o->max_delay_ms < o->base_delay_ms) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "workqueue '%s': max_delay_ms %lld is less than "
                      "base_delay_ms %lld",
                      name, (long long)o->max_delay_ms,
                      (long long)o->base_delay_ms);
        return DTK_EINVALID;
    }
    if (!(o->qps >= 0) || o->qps > 1e9) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "workqueue '%s': qps: must be between 0 and 1e9, got %g",
                      name, o->qps);
        return DTK_EINVALID;
    }
    if (o->qps > 0 && o->burst < 1) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "workqueue '%s': burst: must be at least 1 when qps is "
                      "set, got %d",
                      name, o->burst);
        return DTK_EINVALID;
    }
    return 0;
}

/* controller-runtime's workqueue metric families (pkg/internal/metrics/
 * workqueue.go): same names, help texts, labels and buckets. */
static int metrics_setup(dtk_workqueue *q, const dtk_workqueue_options *o)
{
    static const char *const labels[] = {"name", "controller", NULL};
    double buckets[DTK_METRICS_WORKQUEUE_BUCKETS_LEN];
    const char *values[] = {o->name, o->controller, NULL};
    dtk_metrics_registry *reg = o->metrics;
    dtk_metrics_family *f = NULL;
    int error;

    dtk_metrics_exponential_buckets(buckets, 10e-9, 10,
                                    DTK_METRICS_WORKQUEUE_BUCKETS_LEN);
    if ((error = dtk_metrics_register_gauge(&f, reg, "workqueue_depth",
                                            "Current depth of workqueue",
                                            labels)) < 0 ||
        (error = dtk_metrics_with(&q->m_depth, f, values)) < 0) {
        return error;
    }
    if ((error = dtk_metrics_register_counter(
             &f, reg, "workqueue_adds_total",
             "Total number of adds handled by workqueue", labels)) < 0 ||
        (error = dtk_metrics_with(&q->m_adds, f, values)) < 0) {
        return error;
    }
    if ((error = dtk_metrics_register_histogram(
             &f, reg, "workqueue_queue_duration_seconds",
             "How long in seconds an item stays in workqueue before being "
             "requested",
             labels, buckets, DTK_METRICS_WORKQUEUE_BUCKETS_LEN)) < 0 ||
        (error = dtk_metrics_with(&q->m_queue_latency, f, values)) < 0) {
        return error;
    }
    if ((error = dtk_metrics_register_histogram(
             &f, reg, "workqueue_work_duration_seconds",
             "How long in seconds processing an item from workqueue takes.",
             labels, buckets, DTK_METRICS_WORKQUEUE_BUCKETS_LEN)) < 0 ||
        (error = dtk_metrics_with(&q->m_work_duration, f, values)) < 0) {
        return error;
    }
    if ((error = dtk_metrics_register_gauge(
             &f, reg, "workqueue_unfinished_work_seconds",
             "How many seconds of work has been done that is in progress and "
             "hasn't been observed by work_duration. Large values indicate "
             "stuck threads. One can deduce the number of stuck threads by "
             "observing the rate at which this increases.",
             labels)) < 0 ||
        (error = dtk_metrics_with(&q->m_unfinished, f, values)) < 0) {
        return error;
    }
    if ((error = dtk_metrics_register_gauge(
             &f, reg, "workqueue_longest_running_processor_seconds",
             "How many seconds has the longest running processor for "
             "workqueue been running.",
             labels)) < 0 ||
        (error = dtk_metrics_with(&q->m_longest, f, values)) < 0) {
        return error;
    }
    if ((error = dtk_metrics_register_counter(
             &f, reg, "workqueue_retries_total",
             "Total number of retries handled by workqueue", labels)) < 0 ||
        (error = dtk_metrics_with(&q->m_retries, f, values)) < 0) {
        return error;
    }
    q->metrics_on = 1;
    return 0;
}

static void queue_dispose(dtk_workqueue *q)
{
    size_t i;

    for (i = 0; i < q->table_size; i++) {
        dtk_workqueue__entry *e = q->table[i];

        while (e != NULL) {
            dtk_workqueue__entry *next = e->hnext;

            dtk_free(e);
            e = next;
        }
    }
    dtk_free(q->table);
    dtk_free(q->ring);
    dtk_workqueue__heap_dispose(q);
    dtk_free(q->name);
    pthread_cond_destroy(&q->getter_cond);
    pthread_cond_destroy(&q->drain_cond);
    pthread_cond_destroy(&q->timer_cond);
    pthread_mutex_destroy(&q->lock);
    dtk_free(q);
}

int dtk_workqueue_new(dtk_workqueue **out, const dtk_workqueue_options *options)
{
    dtk_workqueue_options opts = DTK_WORKQUEUE_OPTIONS_INIT;
    dtk_workqueue *q = NULL;
    pthread_condattr_t attr;
    int error;

    *out = NULL;
    if (options != NULL) {
        opts = *options;
    }
    if ((error = validate_options(&opts)) < 0) {
        goto out;
    }
    q = dtk_calloc(1, sizeof(*q));
    pthread_mutex_init(&q->lock, NULL);
    /* Deadlines are on the monotonic clock, immune to wall-clock jumps. */
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&q->getter_cond, &attr);
    pthread_cond_init(&q->drain_cond, &attr);
    pthread_cond_init(&q->timer_cond, &attr);
    pthread_condattr_destroy(&attr);
    q->name = dtk_strdup(opts.name);
    q->table_size = TABLE_INITIAL;
    q->table = dtk_calloc(q->table_size, sizeof(dtk_workqueue__entry *));
    q->ring_cap = RING_INITIAL;
    q->ring = dtk_malloc(q->ring_cap * sizeof(dtk_workqueue__entry *));
    q->base_delay_ns = opts.base_delay_ms * NS_PER_MS;
    q->max_delay_ns = opts.max_delay_ms * NS_PER_MS;
    q->qps = opts.qps;
    q->burst = opts.burst;
    q->tokens = opts.burst;
    q->tokens_ns = dtk_workqueue__now_ns();
    if (opts.metrics != NULL && (error = metrics_setup(q, &opts)) < 0) {
        goto out;
    }
    if ((error = dtk_workqueue__timer_start(q)) < 0) {
        goto out;
    }
    *out = q;
    q = NULL;
out:
    if (q != NULL) {
        queue_dispose(q);
    }
    return error;
}

void dtk_workqueue_free(dtk_workqueue *q)
{
    if (q == NULL) {
        return;
    }
    dtk_workqueue_shutdown(q);
    dtk_workqueue__timer_join(q);
    pthread_mutex_lock(&q->lock);
    dtk_assert(q->waiting_getters == 0 && q->draining == 0);
    pthread_mutex_unlock(&q->lock);
    queue_dispose(q);
}

/* ---- operations --------------------------------------------------------- */

int dtk_workqueue_add(dtk_workqueue *q, const char *key)
{
    int error = dtk_workqueue__check_key(q, key);

    if (error < 0) {
        return error;
    }
    pthread_mutex_lock(&q->lock);
    if (q->shutting_down) {
        error = DTK_ESHUTDOWN;
    } else {
        dtk_workqueue__add_locked(q, dtk_workqueue__lookup(q, key, 1));
    }
    pthread_mutex_unlock(&q->lock);
    if (error < 0) {
        return dtk_workqueue__shutdown_error(q);
    }
    return 0;
}

int dtk_workqueue_get(dtk_workqueue *q, const char **key_out)
{
    dtk_workqueue__entry *e = NULL;

    *key_out = NULL;
    pthread_mutex_lock(&q->lock);
    q->waiting_getters++;
    while (q->ring_len == 0 && !q->shutting_down) {
        pthread_cond_wait(&q->getter_cond, &q->lock);
    }
    q->waiting_getters--;
    if (q->ring_len > 0) {
        e = ring_pop(q);
        e->flags &= ~DTK_WORKQUEUE__DIRTY;
        processing_link(q, e);
        dtk_metrics_gauge_dec(q->m_depth);
        if (q->metrics_on) {
            e->started_ns = dtk_workqueue__now_ns();
            dtk_metrics_histogram_observe(
                q->m_queue_latency,
                (double)(e->started_ns - e->added_ns) / NS_PER_S);
        }
        *key_out = e->key;
    }
    pthread_mutex_unlock(&q->lock);
    if (e == NULL) {
        dtk_error_set(DTK_ERRCLASS_NONE, "workqueue '%s': shut down", q->name);
        return DTK_ESHUTDOWN;
    }
    return 0;
}

void dtk_workqueue_done(dtk_workqueue *q, const char *key)
{
    dtk_workqueue__entry *e;

    pthread_mutex_lock(&q->lock);
    e = dtk_workqueue__lookup(q, key, 0);
    dtk_assert(e != NULL && (e->flags & DTK_WORKQUEUE__PROCESSING));
    if (q->metrics_on) {
        dtk_metrics_histogram_observe(
            q->m_work_duration,
            (double)(dtk_workqueue__now_ns() - e->started_ns) / NS_PER_S);
    }
    processing_unlink(q, e);
    if (e->flags & DTK_WORKQUEUE__DIRTY) {
        ring_push(q, e);
    }
    if (q->processing_count == 0 && q->draining > 0) {
        pthread_cond_broadcast(&q->drain_cond);
    }
    dtk_workqueue__release(q, e);
    pthread_mutex_unlock(&q->lock);
}

size_t dtk_workqueue_len(dtk_workqueue *q)
{
    size_t n;

    pthread_mutex_lock(&q->lock);
    n = q->ring_len;
    pthread_mutex_unlock(&q->lock);
    return n;
}

int dtk_workqueue_shutting_down(dtk_workqueue *q)
{
    int down;

    pthread_mutex_lock(&q->lock);
    down = q->shutting_down;
    pthread_mutex_unlock(&q->lock);
    return down;
}

void dtk_workqueue_shutdown(dtk_workqueue *q)
{
    pthread_mutex_lock(&q->lock);
    if (!q->shutting_down) {
        q->shutting_down = 1;
        dtk_workqueue__heap_clear(q);
        pthread_cond_broadcast(&q->getter_cond);
        pthread_cond_signal(&q->timer_cond);
    }
    pthread_mutex_unlock(&q->lock);
}

int dtk_workqueue_shutdown_with_drain(dtk_workqueue *q, int64_t timeout_ms)
{
    struct timespec deadline;
    size_t in_flight;
    int64_t until;

    dtk_workqueue_shutdown(q);
    if (timeout_ms < 0) {
        timeout_ms = 0;
    } else if (timeout_ms > MAX_DELAY_MS) {
        timeout_ms = MAX_DELAY_MS;
    }
    until = dtk_workqueue__now_ns() + timeout_ms * NS_PER_MS;
    deadline.tv_sec = (time_t)(until / 1000000000);
    deadline.tv_nsec = (long)(until % 1000000000);
    pthread_mutex_lock(&q->lock);
    q->draining++;
    while (q->processing_count > 0) {
        if (pthread_cond_timedwait(&q->drain_cond, &q->lock, &deadline) ==
            ETIMEDOUT) {
            break;
        }
    }
    q->draining--;
    in_flight = q->processing_count;
    pthread_mutex_unlock(&q->lock);
    if (in_flight > 0) {
        dtk_error_set(DTK_ERRCLASS_NONE,
                      "workqueue '%s': %zu key(s) still processing after "
                      "%lld ms",
                      q->name, in_flight, (long long)timeout_ms);
        return DTK_ETIMEOUT;
    }
    return 0;
}

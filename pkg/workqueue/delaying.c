/* Delayed adds: a binary min-heap of entries ordered by (ready time, arrival
 * sequence), served by one timer thread per queue (client-go's
 * delaying_queue.go, with the heap under the queue's own mutex instead of a
 * channel). The timer thread sleeps on timer_cond until the earliest ready
 * time, moves every ready entry into the FIFO, and, when metrics are on,
 * refreshes the two in-flight gauges every 500 ms like client-go's
 * updateUnfinishedWorkLoop.
 */
#include "pkg/workqueue/workqueue_int.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "pkg/base/alloc.h"
#include "pkg/base/error.h"

#define HEAP_INITIAL      16
#define METRICS_PERIOD_NS INT64_C(500000000)
#define NS_PER_MS         DTK_WORKQUEUE__NS_PER_MS
#define MAX_DELAY_MS      DTK_WORKQUEUE__MAX_DELAY_MS

static int heap_less(const dtk_workqueue__entry *a,
                     const dtk_workqueue__entry *b)
{
    if (a->ready_ns != b->ready_ns) {
        return a->ready_ns < b->ready_ns;
    }
    return a->heap_seq < b->heap_seq;
}

static void heap_set(dtk_workqueue *q, size_t i, dtk_workqueue__entry *e)
{
    q->heap[i] = e;
    e->heap_index = i;
}

static void sift_up(dtk_workqueue *q, size_t i)
{
    dtk_workqueue__entry *e = q->heap[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;

        if (!heap_less(e, q->heap[parent])) {
            break;
        }
        heap_set(q, i, q->heap[parent]);
        i = parent;
    }
    heap_set(q, i, e);
}

static void sift_down(dtk_workqueue *q, size_t i)
{
    dtk_workqueue__entry *e = q->heap[i];

    for (;;) {
        size_t child = 2 * i + 1;

        if (child >= q->heap_len) {
            break;
        }
        if (child + 1 < q->heap_len &&
            heap_less(q->heap[child + 1], q->heap[child])) {
            child++;
        }
        if (!heap_less(q->heap[child], e)) {
            break;
        }
        heap_set(q, i, q->heap[child]);
        i = child;
    }
    heap_set(q, i, e);
}

static dtk_workqueue__entry *heap_pop(dtk_workqueue *q)
{
    dtk_workqueue__entry *top = q->heap[0];

    q->heap_len--;
    if (q->heap_len > 0) {
        heap_set(q, 0, q->heap[q->heap_len]);
        sift_down(q, 0);
    }
    top->heap_index = DTK_WORKQUEUE__NO_HEAP;
    return top;
}

void dtk_workqueue__heap_schedule(dtk_workqueue *q,
                                  dtk_workqueue__entry *e,
                                  int64_t ready_ns)
{
    if (e->heap_index == DTK_WORKQUEUE__NO_HEAP) {
        if (q->heap_len == q->heap_cap) {
            q->heap_cap = q->heap_cap ? q->heap_cap * 2 : HEAP_INITIAL;
            q->heap = dtk_realloc(q->heap, q->heap_cap * sizeof(dtk_workqueue__entry *));
        }
        e->ready_ns = ready_ns;
        e->heap_seq = q->heap_seq++;
        heap_set(q, q->heap_len, e);
        q->heap_len++;
        sift_up(q, e->heap_index);
    } else if (ready_ns < e->ready_ns) {
        /* Already waiting: only an earlier ready time changes anything. */
        e->ready_ns = ready_ns;
        sift_up(q, e->heap_index);
    } else {
        return;
    }
    if (e->heap_index == 0) {
        pthread_cond_signal(&q->timer_cond);
    }
}

void dtk_workqueue__heap_clear(dtk_workqueue *q)
{
    size_t i;
    size_t n = q->heap_len;

    q->heap_len = 0;
    for (i = 0; i < n; i++) {
        dtk_workqueue__entry *e = q->heap[i];

        e->heap_index = DTK_WORKQUEUE__NO_HEAP;
        dtk_workqueue__release(q, e);
    }
}

void dtk_workqueue__heap_dispose(dtk_workqueue *q)
{
    dtk_free(q->heap);
    q->heap = NULL;
    q->heap_len = 0;
    q->heap_cap = 0;
}

/* Sets workqueue_unfinished_work_seconds (sum of the running times of keys
 * in processing) and workqueue_longest_running_processor_seconds. */
static void update_in_flight_gauges(dtk_workqueue *q, int64_t now)
{
    const dtk_workqueue__entry *e;
    double total = 0;
    double longest = 0;

    for (e = q->processing; e != NULL; e = e->pnext) {
        double running = (double)(now - e->started_ns) / 1e9;

        total += running;
        if (running > longest) {
            longest = running;
        }
    }
    dtk_metrics_gauge_set(q->m_unfinished, total);
    dtk_metrics_gauge_set(q->m_longest, longest);
}

static void *timer_main(void *arg)
{
    dtk_workqueue *q = arg;
    int64_t next_metrics = dtk_workqueue__now_ns() + METRICS_PERIOD_NS;

    pthread_mutex_lock(&q->lock);
    while (!q->shutting_down) {
        int64_t now = dtk_workqueue__now_ns();
        int64_t wake = INT64_MAX;

        while (q->heap_len > 0 && q->heap[0]->ready_ns <= now) {
            dtk_workqueue__add_locked(q, heap_pop(q));
        }
        if (q->metrics_on) {
            if (now >= next_metrics) {
                update_in_flight_gauges(q, now);
                next_metrics = now + METRICS_PERIOD_NS;
            }
            wake = next_metrics;
        }
        if (q->heap_len > 0 && q->heap[0]->ready_ns < wake) {
            wake = q->heap[0]->ready_ns;
        }
        if (wake == INT64_MAX) {
            pthread_cond_wait(&q->timer_cond, &q->lock);
        } else {
            struct timespec ts;

            ts.tv_sec = (time_t)(wake / 1000000000);
            ts.tv_nsec = (long)(wake % 1000000000);
            pthread_cond_timedwait(&q->timer_cond, &q->lock, &ts);
        }
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

int dtk_workqueue__timer_start(dtk_workqueue *q)
{
    int rc = pthread_create(&q->timer, NULL, timer_main, q);

    if (rc != 0) {
        errno = rc;
        dtk_error_set(DTK_ERRCLASS_OS,
                      "workqueue '%s': cannot start the timer thread", q->name);
        return DTK_ERROR;
    }
    q->timer_started = 1;
    return 0;
}

void dtk_workqueue__timer_join(dtk_workqueue *q)
{
    if (q->timer_started) {
        pthread_join(q->timer, NULL);
        q->timer_started = 0;
    }
}

int dtk_workqueue_add_after(dtk_workqueue *q, const char *key, int64_t delay_ms)
{
    int error = dtk_workqueue__check_key(q, key);
    dtk_workqueue__entry *e;

    if (error < 0) {
        return error;
    }
    if (delay_ms > MAX_DELAY_MS) {
        delay_ms = MAX_DELAY_MS;
    }
    pthread_mutex_lock(&q->lock);
    if (q->shutting_down) {
        pthread_mutex_unlock(&q->lock);
        return dtk_workqueue__shutdown_error(q);
    }
    dtk_metrics_counter_inc(q->m_retries);
    e = dtk_workqueue__lookup(q, key, 1);
    if (delay_ms <= 0) {
        dtk_workqueue__add_locked(q, e);
    } else {
        dtk_workqueue__heap_schedule(
            q, e, dtk_workqueue__now_ns() + delay_ms * NS_PER_MS);
    }
    pthread_mutex_unlock(&q->lock);
    return 0;
}

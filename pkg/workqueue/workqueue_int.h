/* Internals shared by queue.c (FIFO, dirty and processing sets), delaying.c
 * (min-heap + timer thread) and ratelimit.c (backoff, token bucket). Only
 * files in pkg/workqueue/ include this.
 *
 * One mutex guards the whole queue. Every key known to the queue has one
 * entry in a hash table, and the entry carries all of the key's state as
 * flags, so each operation costs one hash lookup:
 *   DIRTY      added and not yet handed out (client-go's dirty set)
 *   QUEUED     in the FIFO ring; implies DIRTY and not PROCESSING
 *   PROCESSING handed out by get, done not yet called (processing set)
 *   heap_index != NO_HEAP: waiting in the delay heap
 *   failures > 0: backoff state of the rate limiter
 * An entry is freed as soon as none of these hold, so memory follows the
 * number of live keys.
 */
#ifndef DTK_WORKQUEUE_WORKQUEUE_INT_H
#define DTK_WORKQUEUE_WORKQUEUE_INT_H

#include <pthread.h>
#include <stdint.h>

#include "pkg/workqueue/workqueue.h"

#define DTK_WORKQUEUE__DIRTY      0x1u
#define DTK_WORKQUEUE__QUEUED     0x2u
#define DTK_WORKQUEUE__PROCESSING 0x4u
#define DTK_WORKQUEUE__NO_HEAP    SIZE_MAX
#define DTK_WORKQUEUE__NS_PER_MS  INT64_C(1000000)
/* Delays are kept in int64 nanoseconds; this bound (about 3 years) keeps
 * every sum far from overflow. */
#define DTK_WORKQUEUE__MAX_DELAY_MS (INT64_C(100000) * 1000 * 1000)

typedef struct dtk_workqueue__entry dtk_workqueue__entry;

struct dtk_workqueue__entry {
    dtk_workqueue__entry *hnext; /* hash chain */
    dtk_workqueue__entry *pprev; /* processing list (for the gauges) */
    dtk_workqueue__entry *pnext;
    uint64_t hash;
    unsigned flags;
    unsigned failures;
    size_t heap_index;
    int64_t ready_ns;   /* delay heap: when the key becomes ready */
    uint64_t heap_seq;  /* delay heap: FIFO among equal ready times */
    int64_t added_ns;   /* metrics: when it was queued */
    int64_t started_ns; /* metrics: when get handed it out */
    size_t keylen;
    char key[]; /* NUL-terminated */
};

struct dtk_workqueue {
    pthread_mutex_t lock;
    pthread_cond_t getter_cond; /* a key was queued, or shutdown */
    pthread_cond_t drain_cond;  /* processing set became empty */
    pthread_cond_t timer_cond;  /* new earliest heap entry, or shutdown */

    char *name;
    int shutting_down;
    int waiting_getters; /* for the free-time assertion */
    int draining;

    /* Key -> entry; chained, power-of-two size. */
    dtk_workqueue__entry **table;
    size_t table_size;
    size_t entries;

    /* FIFO ring of queued entries. */
    dtk_workqueue__entry **ring;
    size_t ring_cap; /* power of two */
    size_t ring_head;
    size_t ring_len;

    /* Processing set as a list (membership is the PROCESSING flag). */
    dtk_workqueue__entry *processing;
    size_t processing_count;

    /* Delay heap ordered by (ready_ns, heap_seq). */
    dtk_workqueue__entry **heap;
    size_t heap_len;
    size_t heap_cap;
    uint64_t heap_seq;
    pthread_t timer;
    int timer_started;

    /* Rate limiter. */
    int64_t base_delay_ns;
    int64_t max_delay_ns;
    double qps;
    double burst;
    double tokens;
    int64_t tokens_ns; /* when tokens was last brought up to date */

    /* Metrics; all NULL when disabled (the update calls are then no-ops). */
    int metrics_on;
    dtk_metrics_series *m_depth;
    dtk_metrics_series *m_adds;
    dtk_metrics_series *m_queue_latency;
    dtk_metrics_series *m_work_duration;
    dtk_metrics_series *m_unfinished;
    dtk_metrics_series *m_longest;
    dtk_metrics_series *m_retries;
};

/* Monotonic nanoseconds. */
int64_t dtk_workqueue__now_ns(void);

/* queue.c; the caller holds q->lock. */
dtk_workqueue__entry *dtk_workqueue__lookup(dtk_workqueue *q,
                                            const char *key,
                                            int create);
/* Frees e if it no longer carries any state. */
void dtk_workqueue__release(dtk_workqueue *q, dtk_workqueue__entry *e);
/* The add of client-go's Type.Add on an existing entry. */
void dtk_workqueue__add_locked(dtk_workqueue *q, dtk_workqueue__entry *e);
int dtk_workqueue__check_key(dtk_workqueue *q, const char *key);
int dtk_workqueue__shutdown_error(dtk_workqueue *q);

/* delaying.c */
int dtk_workqueue__timer_start(dtk_workqueue *q);
void dtk_workqueue__timer_join(dtk_workqueue *q);
/* Puts e on the heap, or moves it earlier; the caller holds q->lock. */
void dtk_workqueue__heap_schedule(dtk_workqueue *q,
                                  dtk_workqueue__entry *e,
                                  int64_t ready_ns);
/* Drops every waiting entry (shutdown); the caller holds q->lock. */
void dtk_workqueue__heap_clear(dtk_workqueue *q);
void dtk_workqueue__heap_dispose(dtk_workqueue *q);

/* ratelimit.c; the caller holds q->lock. */
int64_t dtk_workqueue__backoff_ns(dtk_workqueue *q,
                                  const dtk_workqueue__entry *e);
int64_t dtk_workqueue__bucket_delay_ns(dtk_workqueue *q, int64_t now_ns);

#endif

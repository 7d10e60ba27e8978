/* Rate-limited work queue of string keys ("namespace/name"): the C form of
 * client-go's workqueue.TypedRateLimitingInterface.
 * Thread-safety: thread-safe; any number of producers and workers.
 *
 * Guarantees (client-go util/workqueue/doc.go):
 * - Fair: keys are handed out in the order they were added (FIFO).
 * - Stingy: a key is queued at most once however often it is added while it
 *   waits (the "dirty" set).
 * - Never concurrent: a key is handed to at most one worker at a time (the
 *   "processing" set). Adding a key while it is processed marks it dirty; it
 *   is queued again only when the worker calls dtk_workqueue_done.
 * - Delays: dtk_workqueue_add_after parks a key on a min-heap served by one
 *   timer thread; when a key is already waiting, the earlier ready time wins.
 * - Rate limits: dtk_workqueue_add_rate_limited delays a key by
 *   base_delay_ms * 2^failures, capped at max_delay_ms (client-go's
 *   ItemExponentialFailureRateLimiter), and, when qps > 0, by an overall
 *   token bucket as well (the larger delay wins, client-go's MaxOf).
 *   controller-runtime >= v0.23 uses no bucket, so it is off by default.
 *
 * The worker loop:
 *
 *     const char *key;
 *     while (dtk_workqueue_get(q, &key) == 0) {
 *         int error = reconcile(key);        // key borrowed until done
 *         if (error < 0 && !dtk_error_is_terminal(error))
 *             dtk_workqueue_add_rate_limited(q, key);
 *         else
 *             dtk_workqueue_forget(q, key);
 *         dtk_workqueue_done(q, key);        // key invalid from here on
 *     }
 *
 * Metrics (when options.metrics is set) use controller-runtime's names,
 * help texts and buckets with labels {controller, name}: workqueue_depth,
 * workqueue_adds_total, workqueue_queue_duration_seconds,
 * workqueue_work_duration_seconds, workqueue_unfinished_work_seconds,
 * workqueue_longest_running_processor_seconds (these two refreshed every
 * 500 ms by the timer thread, as client-go does) and workqueue_retries_total
 * (every add_after / add_rate_limited).
 */
#ifndef DTK_WORKQUEUE_WORKQUEUE_H
#define DTK_WORKQUEUE_WORKQUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "pkg/metrics/metrics.h"

typedef struct dtk_workqueue dtk_workqueue;

#define DTK_WORKQUEUE_DEFAULT_BASE_DELAY_MS 5
#define DTK_WORKQUEUE_DEFAULT_MAX_DELAY_MS  INT64_C(1000000) /* 1000 s */

typedef struct dtk_workqueue_options {
    /* Queue name: the "name" label of the metrics and part of error
     * messages. Required when metrics is set; default "workqueue". */
    const char *name;
    /* "controller" label of the metrics; default: name (as
     * controller-runtime sets both to the controller name). */
    const char *controller;
    /* Per-key exponential backoff; 0 picks the default. */
    int64_t base_delay_ms;
    int64_t max_delay_ms;
    /* Overall token bucket for rate-limited adds; qps 0 disables it. When
     * enabled, burst must be >= 1. */
    double qps;
    int burst;
    /* Registry for the workqueue_* metrics; NULL disables them (no clock
     * reads on the hot path). Borrowed; it must outlive the queue. */
    dtk_metrics_registry *metrics;
} dtk_workqueue_options;

/* clang-format off */
#define DTK_WORKQUEUE_OPTIONS_INIT { NULL, NULL, 0, 0, 0.0, 0, NULL }
/* clang-format on */

/* Creates a queue and starts its timer thread; *out is owned by the caller
 * (dtk_workqueue_free). options may be NULL for all defaults (copied).
 * Returns DTK_EINVALID for bad options (the message names the field), or
 * DTK_ERROR when the timer thread cannot be started. */
int dtk_workqueue_new(dtk_workqueue **out,
                      const dtk_workqueue_options *options);

/* Shuts the queue down if needed, joins the timer thread and frees
 * everything. No other thread may be inside or later call a queue function
 * (join the workers first; asserted for blocked getters). NULL is a no-op. */
void dtk_workqueue_free(dtk_workqueue *q);

/* Marks key as needing processing (key is copied). A key already queued is
 * not queued again; a key being processed is queued again after its done.
 * Returns DTK_ESHUTDOWN after shutdown (the key is dropped, as in client-go)
 * and DTK_EINVALID for a NULL or empty key. */
int dtk_workqueue_add(dtk_workqueue *q, const char *key);

/* Adds key after delay_ms (<= 0: now). If key is already waiting, the
 * earlier of the two ready times is kept. Counts as a retry in metrics.
 * Returns DTK_ESHUTDOWN after shutdown, DTK_EINVALID for a bad key. Keys
 * still waiting at shutdown are dropped. */
int dtk_workqueue_add_after(dtk_workqueue *q,
                            const char *key,
                            int64_t delay_ms);

/* add_after with the key's backoff (base * 2^failures, capped, and the
 * token bucket if enabled), then counts one more failure for the key.
 * Same returns as dtk_workqueue_add_after. */
int dtk_workqueue_add_rate_limited(dtk_workqueue *q, const char *key);

/* The per-key backoff the next add_rate_limited of key would use, in ms,
 * without the token bucket and without counting a failure. */
int64_t dtk_workqueue_backoff_ms(dtk_workqueue *q, const char *key);

/* Resets key's failure count (call after a successful reconcile). It does
 * not remove the key from the queue or the delay heap. */
void dtk_workqueue_forget(dtk_workqueue *q, const char *key);

/* How many times key was added with add_rate_limited since its last
 * forget. */
int dtk_workqueue_num_requeues(dtk_workqueue *q, const char *key);

/* Blocks until a key is ready and hands it to the caller, who now
 * processes it. *key_out is borrowed from the queue and valid until the
 * caller's dtk_workqueue_done for that key; copy it to keep it longer.
 * After shutdown the remaining queued keys are still handed out; once the
 * queue is empty it returns DTK_ESHUTDOWN (with *key_out = NULL). */
int dtk_workqueue_get(dtk_workqueue *q, const char **key_out);

/* Ends processing of key, which must have come from dtk_workqueue_get (a
 * key that is not being processed is a programming error, asserted). If it
 * was added meanwhile, it is queued again. key may be the pointer get
 * returned. */
void dtk_workqueue_done(dtk_workqueue *q, const char *key);

/* Number of keys ready and waiting for a worker (not the processing or
 * delayed ones). */
size_t dtk_workqueue_len(dtk_workqueue *q);

/* Stops accepting adds, drops delayed keys and wakes every blocked getter.
 * Keys already queued are still handed out by get. Idempotent. */
void dtk_workqueue_shutdown(dtk_workqueue *q);

/* dtk_workqueue_shutdown, then waits until no key is being processed (every
 * get has had its done), as client-go's ShutDownWithDrain. Keys still queued
 * are not waited for: the workers' next gets take them until the queue is
 * empty. Returns DTK_ETIMEOUT when keys are still in flight after
 * timeout_ms (the queue stays shut down). */
int dtk_workqueue_shutdown_with_drain(dtk_workqueue *q, int64_t timeout_ms);

/* Whether shutdown has begun. */
int dtk_workqueue_shutting_down(dtk_workqueue *q);

#endif

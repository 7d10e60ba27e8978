/* Controllers and the manager: the controller-runtime of this project.
 *
 * A controller owns a rate-limited work queue of keys ("namespace/name",
 * or "name" for cluster-scoped objects) and N worker threads. Each worker
 * takes a key, calls the reconcile function, and then, as controller-runtime
 * does:
 *
 *   returned error (not DTK_EINVALID)  -> requeue rate-limited (per-key
 *                                         exponential backoff), result
 *                                         "error"; the result is ignored
 *   DTK_EINVALID (terminal)             -> forget: no retry until the key is
 *                                         added again (the object changed);
 *                                         result "error", counted in
 *                                         controller_runtime_terminal_...
 *   result.requeue_after_ms > 0         -> forget the backoff, add the key
 *                                         again after that delay,
 *                                         result "requeue_after"
 *   result.requeue                      -> requeue rate-limited, "requeue"
 *   otherwise                           -> forget, "success"
 *
 * A key is never reconciled by two workers at once (the queue's processing
 * set). Every reconcile gets a fresh reconcile_id and a dtk_log_ctx
 * (controller, object, reconcile_id) to pass down; the worker logs each
 * failure once, at ERROR, with the message the reconciler set through
 * dtk_error_set. The reconcile function must not log the same failure.
 *
 * Metrics (controller-runtime's names, help texts and buckets), labelled
 * {controller}: controller_runtime_reconcile_total{controller,result},
 * controller_runtime_reconcile_errors_total,
 * controller_runtime_terminal_reconcile_errors_total,
 * controller_runtime_reconcile_time_seconds (histogram),
 * controller_runtime_active_workers,
 * controller_runtime_max_concurrent_reconciles, and the queue's
 * workqueue_* families (name = controller = the controller's name).
 *
 * The manager starts, in this order: the HTTP endpoints (/metrics,
 * /healthz, /readyz: pkg/health), leader election (when enabled; it runs
 * in the background), the runnables in the order they were added
 * (informers), then waits until every runnable has synced (at most
 * cache_sync_timeout_ms), then starts the controllers' workers: at once
 * without leader election, otherwise when this replica starts leading. It
 * stops in the reverse order within graceful_shutdown_timeout_ms: the
 * controllers first (queues shut down and drained: reconciles in flight
 * finish, queued keys are dropped), then the runnables (last added first),
 * then leader election (the lease is released), then the HTTP endpoints.
 * /readyz fails until the runnables have synced; it does not depend on
 * leadership, so a standby replica is ready. /healthz has "ping".
 *
 * Thread-safety: dtk_controller_enqueue*, dtk_manager_request_stop and the
 * read-only accessors are thread-safe. Everything else belongs to one
 * owner thread (main).
 */
#ifndef DTK_RUNTIME_RUNTIME_H
#define DTK_RUNTIME_RUNTIME_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "pkg/base/log.h"
#include "pkg/health/health.h"
#include "pkg/kube/kube.h"
#include "pkg/leader/lease.h"
#include "pkg/metrics/metrics.h"
#include "pkg/workqueue/workqueue.h"

/* ---- reconcile ---------------------------------------------------------- */

/* What to reconcile. Every pointer is borrowed for the duration of the
 * reconcile call only. */
typedef struct dtk_request {
    const char *key;       /* the queue key: "ns/name" or "name" */
    const char *namespace; /* "" for cluster-scoped objects */
    const char *name;
    const char *reconcile_id; /* a UUID, unique per reconcile */
    const dtk_log_ctx *log;   /* controller, object (= key), reconcile_id */
    /* Non-zero once the controller stops (atomic_load it): a long
     * reconcile should return early. */
    const atomic_int *stopping;
} dtk_request;

typedef struct dtk_result {
    int64_t requeue_after_ms; /* > 0: reconcile again after this delay */
    int requeue;              /* reconcile again, rate-limited */
} dtk_result;

/* Reconciles req. Returns 0 (then *result says what next; it starts
 * zeroed), or a negative dtk_error_code with a message set by
 * dtk_error_set: DTK_EINVALID is terminal, anything else is retried with
 * backoff. Runs on a worker thread; payload is the controller's. */
typedef int (*dtk_reconcile_fn)(dtk_result *result,
                                const dtk_request *req,
                                void *payload);

/* ---- controller --------------------------------------------------------- */

typedef struct dtk_controller dtk_controller;

typedef struct dtk_controller_options {
    /* Required; the "controller" label of the metrics and logs. Unique per
     * manager. [a-z0-9-] and at most 63 bytes. */
    const char *name;
    dtk_reconcile_fn reconcile;    /* required */
    void *payload;                 /* passed to reconcile; borrowed */
    int max_concurrent_reconciles; /* workers; 0: 1 (controller-runtime) */
    int64_t base_delay_ms;         /* backoff base; 0: 5 ms */
    int64_t max_delay_ms;          /* backoff cap; 0: 1000 s */
    /* NULL: dtk_metrics_default(). Borrowed; must outlive the
     * controller. */
    dtk_metrics_registry *metrics;
} dtk_controller_options;

/* clang-format off */
#define DTK_CONTROLLER_OPTIONS_INIT { NULL, NULL, NULL, 0, 0, 0, NULL }
/* clang-format on */

/* Creates a controller with its queue (keys may be added before the
 * workers start, as informers do while they sync). *out is owned by the
 * caller, or by a manager after dtk_manager_add_controller.
 * Returns DTK_EINVALID naming the bad option, DTK_EEXISTS when the metric
 * families exist with other definitions. */
int dtk_controller_new(dtk_controller **out,
                       const dtk_controller_options *options);

/* Stops the controller if it runs (graceful timeout 30 s) and frees it.
 * NULL is a no-op. */
void dtk_controller_free(dtk_controller *c);

/* Starts the workers. Returns DTK_EINVALID when already started (a
 * controller starts once), DTK_ERROR when a thread cannot be created (the
 * ones started are stopped again). */
int dtk_controller_start(dtk_controller *c);

/* Shuts the queue down and waits up to timeout_ms for the reconciles in
 * flight (keys still queued are dropped), then joins the workers. Returns
 * 0, or DTK_ETIMEOUT when reconciles are still running (the workers are
 * then left running; dtk_controller_free waits for them). No-op when not
 * started. */
int dtk_controller_stop(dtk_controller *c, int64_t timeout_ms);

/* Adds key for reconciliation (thread-safe; what event handlers call).
 * Returns DTK_ESHUTDOWN once stopping, DTK_EINVALID for an empty key. */
int dtk_controller_enqueue(dtk_controller *c, const char *key);
int dtk_controller_enqueue_after(dtk_controller *c,
                                 const char *key,
                                 int64_t delay_ms);

/* The controller's queue (borrowed), for handlers that need more. */
dtk_workqueue *dtk_controller_queue(dtk_controller *c);
const char *dtk_controller_name(const dtk_controller *c);

/* ---- manager ------------------------------------------------------------ */

/* Something the manager starts and stops: an informer, a cache, a server.
 * Not gated by leader election. */
typedef struct dtk_runnable {
    const char *name; /* for logs and errors; copied */
    /* Starts the runnable's own threads and returns (must not block for
     * long). < 0 aborts the manager's start. Required. */
    int (*start)(void *payload);
    /* Stops within timeout_ms and joins its threads. Optional. Returns 0
     * or DTK_ETIMEOUT. */
    int (*stop)(void *payload, int64_t timeout_ms);
    /* 1 once the initial sync is done (informer HasSynced). Optional:
     * NULL counts as synced once started. Called from other threads. */
    int (*has_synced)(void *payload);
    void *payload; /* borrowed; must outlive the manager */
} dtk_runnable;

/* clang-format off */
#define DTK_RUNNABLE_INIT { NULL, NULL, NULL, NULL, NULL }
/* clang-format on */

typedef struct dtk_manager dtk_manager;

#define DTK_MANAGER_DEFAULT_CACHE_SYNC_TIMEOUT_MS        120000
#define DTK_MANAGER_DEFAULT_GRACEFUL_SHUTDOWN_TIMEOUT_MS 30000

typedef struct dtk_manager_options {
    /* HTTP endpoints: NULL bind_address disables them. bind_port 0 picks
     * a free port (dtk_manager_http_port). */
    const char *bind_address;
    int bind_port;
    /* NULL: dtk_metrics_default(). Borrowed. */
    dtk_metrics_registry *metrics;
    /* Leader election: off unless set. kube_config is required then
     * (borrowed). leader: lease namespace/name, identity and durations;
     * its callbacks and metrics are the manager's own (ignored here). */
    int leader_election;
    dtk_kube_config *kube_config;
    dtk_leader_options leader;
    int64_t cache_sync_timeout_ms;        /* 0: 2 min */
    int64_t graceful_shutdown_timeout_ms; /* 0: 30 s */
} dtk_manager_options;

/* clang-format off */
#define DTK_MANAGER_OPTIONS_INIT \
    { NULL, 0, NULL, 0, NULL, DTK_LEADER_OPTIONS_INIT, 0, 0 }
/* clang-format on */

/* Creates a manager (nothing started). *out is owned by the caller.
 * Returns DTK_EINVALID for bad options (leader election without a lease
 * name, namespace or kube_config; bad durations). */
int dtk_manager_new(dtk_manager **out, const dtk_manager_options *options);

/* Stops the manager if it runs and frees it and its controllers. After a
 * stop that returned DTK_ETIMEOUT this waits for the reconciles still in
 * flight: exit the process instead. NULL is a no-op. */
void dtk_manager_free(dtk_manager *m);

/* Registers a runnable (copied) before start. Returns DTK_EINVALID without
 * a start function or after start. */
int dtk_manager_add_runnable(dtk_manager *m, const dtk_runnable *r);

/* Hands c to the manager (which frees it) before start. Returns
 * DTK_EEXISTS for a second controller of the same name, DTK_EINVALID after
 * start; on error the caller keeps c. */
int dtk_manager_add_controller(dtk_manager *m, dtk_controller *c);

/* The manager's health checks, to add more (borrowed). "ping" (healthz)
 * and "runnables" (readyz) are built in. */
dtk_health *dtk_manager_health(dtk_manager *m);

/* Starts everything in order (see above) and returns once the runnables
 * have synced; workers may start later, when leadership is acquired.
 * Returns DTK_EUNAVAIL when the HTTP address cannot be bound, the
 * runnable's error when one fails to start, DTK_ETIMEOUT (naming the
 * runnable) when the sync does not complete in cache_sync_timeout_ms, or
 * DTK_ESHUTDOWN when a stop was requested meanwhile; everything started is
 * then stopped again. DTK_EINVALID when called twice. */
int dtk_manager_start(dtk_manager *m);

/* Blocks until dtk_manager_request_stop or the loss of leadership.
 * Returns 0 for a stop request, DTK_EUNAVAIL ("leader election lost")
 * when leadership was lost, DTK_ERROR when the workers could not be
 * started on becoming leader: the process should then stop and exit
 * non-zero. One waiter at a time. */
int dtk_manager_wait(dtk_manager *m);

/* Asks dtk_manager_wait (or a dtk_manager_start still waiting for the
 * sync) to return. Async-signal-safe: one write(2) to a pipe, so a signal
 * handler may call it. */
void dtk_manager_request_stop(dtk_manager *m);

/* Stops everything in reverse order within graceful_shutdown_timeout_ms.
 * Returns 0, or DTK_ETIMEOUT when reconciles or runnables did not finish
 * in time; the lease is then kept (not released), so no other replica
 * starts while this one may still act, and the caller should exit. No-op
 * when not started; idempotent. */
int dtk_manager_stop(dtk_manager *m);

/* start + wait + stop. Returns 0 after a requested stop, else the first
 * error (start failure, DTK_EUNAVAIL for lost leadership, DTK_ETIMEOUT
 * for a shutdown over its deadline). */
int dtk_manager_run(dtk_manager *m);

/* The bound HTTP port, 0 when the endpoints are off or not started. */
int dtk_manager_http_port(const dtk_manager *m);

/* 1 when the controllers may run: leading, or leader election off and
 * started. */
int dtk_manager_is_leader(const dtk_manager *m);

#endif

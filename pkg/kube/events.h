/* Event recorder: core/v1 Events about objects (what `kubectl describe`
 * shows), the C form of client-go's tools/record EventRecorder with its
 * EventCorrelator.
 * Thread-safety: thread-safe. Any thread may record; one sender thread per
 * recorder talks to the API server. dtk_kube_recorder_new/free belong to one
 * owner thread.
 *
 * Recording never blocks on the network: the call correlates the event under
 * a short mutex (no I/O) and hands it to a bounded queue (1000 by default);
 * when the queue is full the event is dropped. The sender thread writes:
 *
 *   - a new event (object, type, reason, message) -> POST of an Event named
 *     "<object name>.<hex nanoseconds>" with count 1;
 *   - the same event again within the de-duplication window (10 minutes
 *     since it was last seen) -> a merge PATCH of that Event's count and
 *     lastTimestamp (client-go's "series" of a core/v1 Event). A repeat that
 *     arrives while the previous write for that Event is still queued is
 *     folded into that write, so a hot loop costs one write per sender
 *     round trip, not one per call;
 *   - every write costs a token from a per-object bucket (burst 25, one new
 *     token every 5 minutes, client-go's spam filter keyed by source and
 *     object): without a token the write is dropped, but the occurrence
 *     still counts, and the next write that passes carries the total.
 *
 * Failed writes are retried with exponential backoff when the server was
 * unreachable, overloaded or slow (a bounded number of attempts, 12 by
 * default, like client-go); a rejected write (4xx) is dropped at once. A
 * PATCH of an Event that is gone becomes a POST of the whole event.
 *
 * What is sent is exactly what the caller gave (the object reference, type,
 * reason, message) plus the recorder's component and instance names and
 * timestamps. Messages are stored in the cluster and readable by anyone who
 * may read Events in that namespace: callers must never pass credentials,
 * Secret data or tokens in a reason or message. The recorder itself never
 * logs a message (DEBUG lines name only the object and reason).
 */
#ifndef DTK_KUBE_EVENTS_H
#define DTK_KUBE_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "pkg/json/json.h"
#include "pkg/kube/kube.h"

#define DTK_KUBE_EVENT_NORMAL  "Normal"
#define DTK_KUBE_EVENT_WARNING "Warning"
/* Longer messages are cut (at a UTF-8 character boundary) to this many
 * bytes, the events.k8s.io "note" limit. */
#define DTK_KUBE_EVENT_MESSAGE_MAX 1024
/* Reasons are short CamelCase words; longer ones are refused. */
#define DTK_KUBE_EVENT_REASON_MAX 128

/* What an event is about (a core/v1 ObjectReference). All strings are
 * borrowed for the duration of a call. */
typedef struct dtk_kube_object_ref {
    const char *api_version;      /* required: "dtk.io/v1alpha1", "v1" */
    const char *kind;             /* required: "ServiceInstance" */
    const char *namespace;        /* NULL/"" for cluster-scoped objects, whose
                                   * Events go to namespace "default" */
    const char *name;             /* required */
    const char *uid;              /* optional but recommended */
    const char *resource_version; /* optional */
} dtk_kube_object_ref;

/* clang-format off */
#define DTK_KUBE_OBJECT_REF_INIT { NULL, NULL, NULL, NULL, NULL, NULL }
/* clang-format on */

/* Fills *out with strings borrowed from object (apiVersion, kind,
 * metadata.namespace/name/uid/resourceVersion); valid while object lives
 * unchanged. Returns DTK_EINVALID naming the missing field ("kind:
 * required"). */
int dtk_kube_object_ref_from(dtk_kube_object_ref *out, const dtk_json *object);

typedef struct dtk_kube_recorder dtk_kube_recorder;

typedef struct dtk_kube_recorder_options {
    /* reportingComponent and source.component: who reports, e.g. the
     * controller name "dtk-operator". Required, at most 128 bytes. */
    const char *component;
    /* reportingInstance: which replica; NULL: the host name. At most 128
     * bytes. */
    const char *instance;
    size_t queue_size;        /* 0: 1000 */
    int spam_burst;           /* 0: 25 */
    int64_t spam_refill_ms;   /* 0: 300000 (one token per 5 minutes) */
    int64_t dedupe_window_ms; /* 0: 600000 */
    size_t cache_size;        /* 0: 4096 events and 4096 objects (LRU) */
    int max_attempts;         /* 0: 12 (first try included) */
    int64_t retry_base_ms;    /* 0: 1000, doubled per retry */
    int64_t retry_max_ms;     /* 0: 10000 */
    long request_timeout_ms;  /* 0: 10000 */
} dtk_kube_recorder_options;

/* clang-format off */
#define DTK_KUBE_RECORDER_OPTIONS_INIT \
    { NULL, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0 }
/* clang-format on */

/* What happened to recorded events so far. */
typedef struct dtk_kube_recorder_stats {
    uint64_t recorded;      /* calls accepted (valid arguments) */
    uint64_t coalesced;     /* folded into a write still queued */
    uint64_t spam_dropped;  /* no token: not written (still counted) */
    uint64_t queue_dropped; /* the queue was full */
    uint64_t created;       /* successful POSTs */
    uint64_t patched;       /* successful PATCHes */
    uint64_t failed;        /* writes given up (rejected or retries spent) */
    uint64_t retries;       /* attempts after a failed one */
} dtk_kube_recorder_stats;

/* Creates a recorder and starts its sender thread. config is borrowed and
 * must outlive the recorder; options are copied. *out is owned by the
 * caller (dtk_kube_recorder_free).
 * Returns DTK_EINVALID naming a bad option, DTK_ERROR when the thread cannot
 * be started. */
int dtk_kube_recorder_new(dtk_kube_recorder **out,
                          dtk_kube_config *config,
                          const dtk_kube_recorder_options *options);

/* Stops the sender thread: a write in flight finishes (bounded by
 * request_timeout_ms), retry waits end at once, and events still queued are
 * dropped (call dtk_kube_recorder_flush first to send them). No record call
 * may run concurrently with or after free. NULL is a no-op. */
void dtk_kube_recorder_free(dtk_kube_recorder *rec);

/* Waits until every queued event was written or given up. Returns 0, or
 * DTK_ETIMEOUT when writes are still pending after timeout_ms. */
int dtk_kube_recorder_flush(dtk_kube_recorder *rec, int64_t timeout_ms);

/* Records an event about ref. type: DTK_KUBE_EVENT_NORMAL or
 * DTK_KUBE_EVENT_WARNING; reason: a short CamelCase word; message: free text
 * for humans (cut to DTK_KUBE_EVENT_MESSAGE_MAX bytes; invalid UTF-8 bytes
 * become '?'). All borrowed for the call. Never blocks on I/O.
 * Returns 0 when the event was accepted (queued, folded into a queued write,
 * or counted and held back by the spam filter), DTK_EUNAVAIL when the queue
 * was full (dropped), DTK_EINVALID (message names the argument) for a bad
 * type, reason or reference. */
int dtk_kube_recorder_event(dtk_kube_recorder *rec,
                            const dtk_kube_object_ref *ref,
                            const char *type,
                            const char *reason,
                            const char *message);

/* dtk_kube_recorder_event with a printf-style message. */
int dtk_kube_recorder_eventf(dtk_kube_recorder *rec,
                             const dtk_kube_object_ref *ref,
                             const char *type,
                             const char *reason,
                             const char *fmt,
                             ...) __attribute__((format(printf, 5, 6)));

/* A consistent snapshot of the counters. */
void dtk_kube_recorder_stats_get(dtk_kube_recorder *rec,
                                 dtk_kube_recorder_stats *out);

#endif

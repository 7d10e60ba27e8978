/* Leader election on a coordination.k8s.io/v1 Lease (client-go's
 * tools/leaderelection algorithm, LeaseLock).
 * Thread-safety: dtk_leader_new/start/stop/free from one owner thread;
 * dtk_leader_is_leader, dtk_leader_holder and dtk_leader_identity from any
 * thread. The callbacks run on the election thread.
 *
 * One election thread per candidate:
 *
 *   acquire  every retry_period (jittered up to 1.2x more): GET the Lease;
 *            404 -> CREATE it with holder = identity; held by another
 *            candidate and still valid -> wait; otherwise take it over with
 *            an UPDATE that carries the observed resourceVersion (409: lost
 *            the race, try again later), leaseTransitions + 1 and a new
 *            acquireTime. Validity is judged on this process's monotonic
 *            clock from the moment it last saw the record change, plus the
 *            record's leaseDurationSeconds, never from the remote renewTime,
 *            so clock skew between candidates does not matter.
 *   lead     on_started_leading, then every retry_period an UPDATE of
 *            renewTime (acquireTime and leaseTransitions kept). When no
 *            renewal succeeds within renew_deadline of the last successful
 *            one (counted from when that request was sent), the candidate
 *            stops leading for good: dtk_leader_is_leader turns 0, then
 *            on_stopped_leading runs and the thread ends (the operator is
 *            expected to exit non-zero, as controller-runtime does).
 *   stop     dtk_leader_stop ends the thread; a leader releases the Lease
 *            (holderIdentity "", leaseDurationSeconds 1, transitions kept,
 *            client-go's ReleaseOnCancel) so a standby takes over at its next
 *            retry instead of waiting for the lease to expire.
 *
 * Every request is sent once (no client-level retries) with a timeout no
 * longer than the time left before the renew deadline, so a leader never
 * believes it leads past renew_deadline after its last good renewal, which
 * is shorter than lease_duration, the earliest moment a standby may take
 * over. Constraints (checked): lease_duration > renew_deadline >
 * 1.2 * retry_period, lease_duration in whole seconds (the Lease holds
 * leaseDurationSeconds).
 *
 * Metric (when options.metrics is set): leader_election_master_status{name}
 * is 1 while this candidate leads, else 0 (controller-runtime's name).
 */
#ifndef DTK_LEADER_LEASE_H
#define DTK_LEADER_LEASE_H

#include <stddef.h>
#include <stdint.h>

#include "pkg/base/buf.h"
#include "pkg/kube/kube.h"
#include "pkg/metrics/metrics.h"

/* client-go / controller-runtime defaults. */
#define DTK_LEADER_DEFAULT_LEASE_DURATION_MS 15000
#define DTK_LEADER_DEFAULT_RENEW_DEADLINE_MS 10000
#define DTK_LEADER_DEFAULT_RETRY_PERIOD_MS   2000
#define DTK_LEADER_JITTER_FACTOR             1.2

typedef struct dtk_leader dtk_leader;

/* Called on the election thread with no lock held. Keep them short: a
 * callback that blocks delays renewals. */
typedef void (*dtk_leader_fn)(void *payload);
/* identity: borrowed for the call; "" when the lease was released. */
typedef void (*dtk_leader_new_leader_fn)(const char *identity, void *payload);

typedef struct dtk_leader_options {
    const char *lease_namespace; /* required */
    const char *lease_name;      /* required; also the metric's "name" */
    /* Unique per candidate; NULL: "<hostname>_<random uuid>" (the
     * controller-runtime default). */
    const char *identity;
    int64_t lease_duration_ms; /* 0: 15000; whole seconds */
    int64_t renew_deadline_ms; /* 0: 10000 */
    int64_t retry_period_ms;   /* 0: 2000 */
    /* Keep the lease on dtk_leader_stop instead of releasing it (the
     * standby then waits for it to expire). */
    int skip_release;
    /* Registry for leader_election_master_status; NULL: no metric.
     * Borrowed; it must outlive the elector. */
    dtk_metrics_registry *metrics;
    dtk_leader_fn on_started_leading;       /* optional */
    dtk_leader_fn on_stopped_leading;       /* optional; lost, not stopped */
    dtk_leader_new_leader_fn on_new_leader; /* optional */
    void *payload;
} dtk_leader_options;

/* clang-format off */
#define DTK_LEADER_OPTIONS_INIT \
    { NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL }
/* clang-format on */

/* Creates a candidate (not started). config is borrowed and must outlive
 * the elector; options and their strings are copied. *out is owned by the
 * caller (dtk_leader_free).
 * Returns DTK_EINVALID (the message names the option) for a missing lease
 * name or namespace, bad durations, or an invalid client configuration. */
int dtk_leader_new(dtk_leader **out,
                   dtk_kube_config *config,
                   const dtk_leader_options *options);

/* Starts the election thread. Returns DTK_EINVALID when already started,
 * DTK_ERROR when the thread cannot be created. */
int dtk_leader_start(dtk_leader *le);

/* Ends the election thread and joins it; a leader releases the lease
 * unless skip_release. Bounded: at most one request in flight (timeout <=
 * renew_deadline) plus the release request. on_stopped_leading is not
 * called. Idempotent; a no-op before start. */
void dtk_leader_stop(dtk_leader *le);

/* Ends the election thread like dtk_leader_stop but never releases the
 * lease: for a shutdown that could not stop its workers in time, so no
 * standby takes over before this lease expires. */
void dtk_leader_abandon(dtk_leader *le);

/* Stops if needed and frees. NULL is a no-op. */
void dtk_leader_free(dtk_leader *le);

/* 1 between on_started_leading and the loss of the lease (or stop), and
 * only while the last successful renewal is younger than renew_deadline
 * (so a stalled election thread cannot make two leaders); else 0.
 * Lock-free: two atomic loads and a clock read. */
int dtk_leader_is_leader(const dtk_leader *le);

/* 1 once leadership was lost because renewals failed (the thread has
 * ended); 0 otherwise. */
int dtk_leader_lost(const dtk_leader *le);

/* Appends the holder of the lease as last observed ("" when unknown or
 * released) to out. Returns DTK_ETOOBIG when out is full. */
int dtk_leader_holder(dtk_leader *le, dtk_buf *out);

/* This candidate's identity; borrowed for the elector's lifetime. */
const char *dtk_leader_identity(const dtk_leader *le);

#endif

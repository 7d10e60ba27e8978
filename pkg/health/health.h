/* Health checks and the operator's HTTP endpoints: /healthz (liveness),
 * /readyz (readiness) and /metrics (Prometheus text), the C form of
 * controller-runtime's healthz package and metrics server.
 * Thread-safety: thread-safe. Checks may be added at any time; they run on
 * the HTTP server's connection threads (several at once), without any lock
 * held, so a check must be thread-safe and quick (read an atomic flag).
 *
 * Endpoints (GET or HEAD; anything else is 405):
 *   /healthz, /readyz       every check of that kind; 200 "ok" when all
 *                           pass, else 503 with one line per check:
 *                           "[+]ping ok", "[-]informers failed: reason
 *                           withheld", then "healthz check failed". The
 *                           reasons are withheld because these endpoints
 *                           answer anyone who can reach the port.
 *                           ?verbose lists the checks on success too;
 *                           ?exclude=<name> (repeatable) skips a check.
 *   /healthz/<name>         one check: 200 "ok", or 503 with its message
 *   /readyz/<name>          (for an operator with access to the port).
 *   /metrics                the registry in text format 0.0.4.
 * controller-runtime answers failed checks with 500; 503 says "not ready
 * yet" more precisely, and kubelet probes treat both as failure.
 */
#ifndef DTK_HEALTH_HEALTH_H
#define DTK_HEALTH_HEALTH_H

#include <stddef.h>

#include "pkg/base/buf.h"
#include "pkg/metrics/metrics.h"

typedef enum dtk_health_kind {
    DTK_HEALTH_LIVENESS = 0, /* /healthz */
    DTK_HEALTH_READINESS,    /* /readyz */
} dtk_health_kind;

/* Returns 0 when healthy, else a negative code with a one-line message set
 * by dtk_error_set (shown only on /healthz/<name> and /readyz/<name>). */
typedef int (*dtk_health_check_fn)(void *payload);

typedef struct dtk_health dtk_health;

/* An empty set of checks (a kind without checks passes, like
 * controller-runtime's implicit "ping"). Free with dtk_health_free. */
dtk_health *dtk_health_new(void);
void dtk_health_free(dtk_health *h);

/* Adds a named check (name copied; [a-z0-9-] and 1 to 63 bytes).
 * payload is borrowed and must outlive h. Returns DTK_EINVALID for a bad
 * name, DTK_EEXISTS when the kind already has a check of that name. */
int dtk_health_add(dtk_health *h,
                   dtk_health_kind kind,
                   const char *name,
                   dtk_health_check_fn fn,
                   void *payload);

/* A check that always passes (controller-runtime's healthz.Ping). */
int dtk_health_ping(void *payload);

/* Runs the checks of kind (only the one named only, when not NULL; none
 * named in exclude, a NULL-terminated list that may be NULL) and appends
 * the report described above to out (verbose: the full list even when all
 * pass). Returns 0 when all pass, DTK_EUNAVAIL when one fails,
 * DTK_ENOTFOUND when only names no check. */
int dtk_health_run(dtk_health *h,
                   dtk_health_kind kind,
                   const char *only,
                   const char *const *exclude,
                   int verbose,
                   dtk_buf *out);

typedef struct dtk_health_server dtk_health_server;

typedef struct dtk_health_server_options {
    const char *address; /* dotted IPv4; NULL: "127.0.0.1" */
    int port;            /* 0: a free port (dtk_health_server_port) */
    /* Served on /metrics; NULL: dtk_metrics_default(). Borrowed. */
    dtk_metrics_registry *metrics;
} dtk_health_server_options;

/* clang-format off */
#define DTK_HEALTH_SERVER_OPTIONS_INIT { NULL, 0, NULL }
/* clang-format on */

/* Serves h (borrowed; must outlive the server) and the metrics on a
 * background thread pool. *out is owned by the caller
 * (dtk_health_server_stop). Returns DTK_EUNAVAIL when the address cannot be
 * bound (the message names it). */
int dtk_health_server_start(dtk_health_server **out,
                            dtk_health *h,
                            const dtk_health_server_options *options);

/* The bound port. */
int dtk_health_server_port(const dtk_health_server *s);

/* Stops serving, joins the server's threads and frees s. NULL is a
 * no-op. */
void dtk_health_server_stop(dtk_health_server *s);

#endif

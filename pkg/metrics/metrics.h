/* Metrics registry: counters, gauges and histograms with fixed label names
 * per family, exposed in the Prometheus text format 0.0.4.
 * Thread-safety: thread-safe. Registration and series lookup take a short
 * mutex; updates on a series are lock-free atomics and never allocate.
 *
 * Model (the same as client_golang's *Vec types):
 * - A family has a name, a help text, a type and a fixed list of label names
 *   ("controller", "result"). It is owned by its registry.
 * - A series is one combination of label values ("podinfo", "success").
 *   dtk_metrics_with() finds or creates it once; keep the pointer and update
 *   it on the hot path. Series live as long as the registry.
 * - A family without labels has exactly one series, created at registration,
 *   so it is exposed (as 0) before its first update. A family with labels is
 *   exposed once it has at least one series.
 *
 * Exposition follows client_golang byte for byte where dashboards care:
 * families sorted by name, series sorted by label values, label pairs sorted
 * by label name ("le" last), values in Go's shortest 'g' float format
 * ("1e+06", "0.005", "9.999999999999999e-06").
 */
#ifndef DTK_METRICS_METRICS_H
#define DTK_METRICS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "pkg/base/buf.h"

typedef struct dtk_metrics_registry dtk_metrics_registry;
typedef struct dtk_metrics_family dtk_metrics_family;
typedef struct dtk_metrics_series dtk_metrics_series;

typedef enum dtk_metrics_type {
    DTK_METRICS_COUNTER = 0,
    DTK_METRICS_GAUGE,
    DTK_METRICS_HISTOGRAM,
} dtk_metrics_type;

/* The Content-Type of dtk_metrics_write's output. */
#define DTK_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Upper bounds of a histogram family, without +Inf (added implicitly; a
 * trailing +Inf given here is accepted and dropped). At most this many. */
#define DTK_METRICS_MAX_BUCKETS 128
/* At most this many label names per family. */
#define DTK_METRICS_MAX_LABELS 16

/* controller-runtime's controller_runtime_reconcile_time_seconds buckets
 * (0.005 s ... 60 s). */
#define DTK_METRICS_RECONCILE_BUCKETS_LEN 40
extern const double
    dtk_metrics_reconcile_buckets[DTK_METRICS_RECONCILE_BUCKETS_LEN];

/* controller-runtime's workqueue duration buckets,
 * ExponentialBuckets(10e-9, 10, 12): 1e-08 s ... 1000 s. */
#define DTK_METRICS_WORKQUEUE_BUCKETS_LEN 12

/* Fills out[0..count) with start, start*factor, ... computed by repeated
 * multiplication exactly as client_golang's ExponentialBuckets, so the "le"
 * labels match a Go operator's. start > 0, factor > 1. */
void dtk_metrics_exponential_buckets(double *out,
                                     double start,
                                     double factor,
                                     size_t count);

/* A family description. labels is NULL-terminated (NULL for none). Strings
 * and arrays are copied by dtk_metrics_register. */
typedef struct dtk_metrics_desc {
    dtk_metrics_type type;
    const char *name;
    const char *help;
    const char *const *labels;
    const double *buckets; /* histograms only */
    size_t nbuckets;
} dtk_metrics_desc;

/* clang-format off */
#define DTK_METRICS_DESC_INIT { DTK_METRICS_COUNTER, NULL, NULL, NULL, NULL, 0 }
/* clang-format on */

/* Creates an empty registry; the caller frees it with
 * dtk_metrics_registry_free. Never fails. */
dtk_metrics_registry *dtk_metrics_registry_new(void);

/* Frees the registry, its families and series. Every family and series
 * pointer obtained from it becomes invalid; no other thread may use it any
 * more. NULL is a no-op. */
void dtk_metrics_registry_free(dtk_metrics_registry *reg);

/* The process-wide registry (controller-runtime's metrics.Registry), created
 * on first use and never freed. Borrowed. */
dtk_metrics_registry *dtk_metrics_default(void);

/* Registers a family; *out is borrowed from the registry.
 * Registering the same name again with an identical description (type, help,
 * labels, buckets) returns the existing family, so independent components
 * (every workqueue) can register shared families.
 * Returns DTK_EINVALID for a bad name, label name or bucket list, and
 * DTK_EEXISTS when the name is taken by a different description. */
int dtk_metrics_register(dtk_metrics_family **out,
                         dtk_metrics_registry *reg,
                         const dtk_metrics_desc *desc);

/* Shorthands for dtk_metrics_register. */
int dtk_metrics_register_counter(dtk_metrics_family **out,
                                 dtk_metrics_registry *reg,
                                 const char *name,
                                 const char *help,
                                 const char *const *labels);
int dtk_metrics_register_gauge(dtk_metrics_family **out,
                               dtk_metrics_registry *reg,
                               const char *name,
                               const char *help,
                               const char *const *labels);
int dtk_metrics_register_histogram(dtk_metrics_family **out,
                                   dtk_metrics_registry *reg,
                                   const char *name,
                                   const char *help,
                                   const char *const *labels,
                                   const double *buckets,
                                   size_t nbuckets);

/* Finds or creates the series for values (NULL-terminated, one per label
 * name, in the family's label order; NULL for a family without labels).
 * *out is borrowed for the registry's lifetime. Only the first call for a
 * combination allocates.
 * Returns DTK_EINVALID when the number of values is wrong or a value is not
 * valid UTF-8. */
int dtk_metrics_with(dtk_metrics_series **out,
                     dtk_metrics_family *family,
                     const char *const *values);

/* Updates. A NULL series is a no-op, so optional metrics cost one branch.
 * Calling an update of the wrong type is a programming error (assert). */
void dtk_metrics_counter_inc(dtk_metrics_series *s);
/* v must be >= 0 (a counter never goes down; asserted). */
void dtk_metrics_counter_add(dtk_metrics_series *s, double v);
void dtk_metrics_gauge_set(dtk_metrics_series *s, double v);
void dtk_metrics_gauge_add(dtk_metrics_series *s, double v);
void dtk_metrics_gauge_inc(dtk_metrics_series *s);
void dtk_metrics_gauge_dec(dtk_metrics_series *s);
void dtk_metrics_histogram_observe(dtk_metrics_series *s, double v);

/* Reads, for tests and health checks. dtk_metrics_value is a counter's or
 * gauge's value (a histogram's sum); 0 for NULL. */
double dtk_metrics_value(const dtk_metrics_series *s);
uint64_t dtk_metrics_histogram_count(const dtk_metrics_series *s);

/* Appends the whole registry in the text exposition format 0.0.4 to out.
 * Returns DTK_ETOOBIG when out's limit is reached (out then holds a
 * truncated, unusable text). */
int dtk_metrics_write(dtk_buf *out, dtk_metrics_registry *reg);

#endif

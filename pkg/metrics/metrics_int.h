/* Internals shared by metrics.c (registry, updates) and expo.c (text
 * exposition). Only files in pkg/metrics/ include this. */
#ifndef DTK_METRICS_METRICS_INT_H
#define DTK_METRICS_METRICS_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "pkg/metrics/metrics.h"

/* Doubles are kept as their bit pattern in an atomic 64-bit word and updated
 * with a compare-and-swap loop (client_golang does the same). */
struct dtk_metrics_series {
    dtk_metrics_series *next; /* hash chain of the family */
    dtk_metrics_family *family;
    uint64_t hash;
    char **values; /* one per label, in declared order; immutable */
    /* Counter: integer increments go to ival (one fetch_add), fractional
     * adds to bits; the value is their sum. Gauge: bits. Histogram: bits
     * is the sum of observations. */
    _Atomic uint64_t ival;
    _Atomic uint64_t bits;
    /* Histogram: nbuckets + 1 non-cumulative counts, the last for +Inf;
     * made cumulative when written. */
    _Atomic uint64_t *counts;
};

struct dtk_metrics_family {
    dtk_metrics_family *next; /* registry list */
    dtk_metrics_type type;
    char *name;
    char *help;
    size_t nlabels;
    char **labels;  /* declared order */
    size_t *sorted; /* sorted[i]: declared index of the i-th label by name */
    double *buckets;
    size_t nbuckets;

    pthread_mutex_t lock; /* guards the series table below */
    dtk_metrics_series **table;
    size_t table_size; /* power of two */
    size_t count;
};

struct dtk_metrics_registry {
    pthread_mutex_t lock; /* guards the family list */
    dtk_metrics_family *families;
    size_t count;
};

double dtk_metrics__load_double(const _Atomic uint64_t *bits);

/* Go's strconv.FormatFloat(v, 'g', -1, 64) with the special cases of
 * Prometheus' expfmt ("+Inf", "-Inf", "NaN"). out needs 32 bytes. */
void dtk_metrics__format_double(char *out, size_t size, double v);

#endif

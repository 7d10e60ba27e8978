/* Internals shared by pkg/runtime's files; include only from pkg/runtime. */
#ifndef DTK_RUNTIME_RUNTIME_INT_H
#define DTK_RUNTIME_RUNTIME_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "pkg/runtime/runtime.h"

struct dtk_controller {
    char *name;
    dtk_reconcile_fn reconcile;
    void *payload;
    int workers;
    dtk_workqueue *queue;

    /* Owner thread only. */
    pthread_t *threads;
    int running; /* workers started and not joined */
    int started;

    atomic_int stopping_flag;
    uint64_t id_seed;
    _Atomic uint64_t id_counter;

    /* Metric series (lock-free updates). */
    dtk_metrics_series *m_success;
    dtk_metrics_series *m_error;
    dtk_metrics_series *m_requeue;
    dtk_metrics_series *m_requeue_after;
    dtk_metrics_series *m_errors;
    dtk_metrics_series *m_terminal;
    dtk_metrics_series *m_time;
    dtk_metrics_series *m_max_workers;
    dtk_metrics_series *m_active;
};

#endif

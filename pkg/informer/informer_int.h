/* Internals shared by the files of pkg/informer. Only pkg/informer/
 * includes this.
 *
 *   object.c     dtk_object: packing a JSON tree into one allocation
 *   store.c      dtk_indexer: map + indexes under a rwlock
 *   dispatch.c   handlers: registration, delivery, resync
 *   reflector.c  dtk_informer: lifecycle, the list/watch thread, backoff
 */
#ifndef DTK_INFORMER_INFORMER_INT_H
#define DTK_INFORMER_INFORMER_INT_H

#include <pthread.h>

#include "pkg/base/buf.h"
#include "pkg/informer/informer.h"

struct dtk_informer {
    dtk_kube_config *config;
    dtk_kube_gvr gvr; /* points at the three copies below */
    char *group;
    char *version;
    char *resource;
    char *name;
    char *ns;
    char *label_selector;
    char *field_selector;
    long page_size;
    int64_t resync_ms;
    int64_t backoff_initial_ms;
    int64_t backoff_max_ms;
    int64_t backoff_reset_ms;
    dtk_informer_error_fn on_error;
    void *on_error_payload;

    dtk_indexer *store;
    dtk_informer_handler *handlers; /* fixed once started */
    size_t handler_count;

    /* Informer thread only. */
    dtk_kube_client *client;
    unsigned int seed;
    int64_t next_resync_ms; /* 0: resync off */
    int64_t backoff_ms;     /* the next wait before jitter; 0: initial */
    int64_t last_failure_ms;

    /* Set by stop, read by the thread and by curl's progress callback
     * (dtk_kube_client_set_cancel). */
    volatile int stopping;

    pthread_t thread;
    int started;
    int joined;

    /* mu guards everything below; cond signals synced and stopping. */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int synced;
    dtk_buf rv;
    dtk_informer_stats stats;
};

/* dispatch.c: deliver to every handler, in registration order. Objects are
 * borrowed. */
void dtk_informer__on_add(dtk_informer *inf, dtk_object *obj);
void dtk_informer__on_update(dtk_informer *inf,
                             dtk_object *old_obj,
                             dtk_object *new_obj);
void dtk_informer__on_delete(dtk_informer *inf,
                             dtk_object *obj,
                             int final_state_unknown);
/* Delivers the changes of a replace. */
void dtk_informer__dispatch_changes(dtk_informer *inf,
                                    const dtk_indexer_changes *changes);
/* Runs the periodic resync when it is due. */
void dtk_informer__maybe_resync(dtk_informer *inf);

/* object.c: an object's key from namespace and name, into out. */
int dtk_object__key(dtk_buf *out, const char *ns, const char *name);

#endif

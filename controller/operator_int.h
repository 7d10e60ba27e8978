/* Shared state of the operator's controllers (semi-private).
 * Thread-safety: the struct is written by dtk_operator_register only; after
 * that every field is read-only and each pointed-to object is thread-safe
 * (informers, controllers, recorder, config).
 */
#ifndef DTK_CONTROLLER_OPERATOR_INT_H
#define DTK_CONTROLLER_OPERATOR_INT_H

#include <pthread.h>
#include <stdint.h>

#include "controller/controller.h"
#include "pkg/base/map.h"
#include "pkg/informer/informer.h"
#include "pkg/kube/events.h"

#define DTK_API_GROUP   "dtk.io"
#define DTK_API_VERSION "dtk.io/v1alpha1"

#define DTK_FINALIZER_TEARDOWN "dtk.io/teardown"
#define DTK_FINALIZER_IN_USE   "dtk.io/in-use"
#define DTK_ANN_CONVERGE       "dtk.io/converge-requested-at"
#define DTK_ANN_UPGRADE        "dtk.io/upgrade-requested-at"
#define DTK_ANN_ABANDON        "dtk.io/abandon"

/* Index names. Values are "namespace/name" of the referenced object. */
#define DTK_INDEX_BY_TARGET   "target"
#define DTK_INDEX_BY_PARENT   "parent"
#define DTK_INDEX_BY_ASSEMBLY "assembly"
#define DTK_INDEX_BY_SECRET   "secret"

typedef enum dtk_op_kind {
    DTK_KIND_TARGET = 0,
    DTK_KIND_ASSEMBLY,
    DTK_KIND_INSTANCE,
    DTK_KIND_SECRET,
    DTK_KIND_COUNT,
} dtk_op_kind;

extern const dtk_kube_gvr dtk_gvr_targets;
extern const dtk_kube_gvr dtk_gvr_assemblies;
extern const dtk_kube_gvr dtk_gvr_instances;

struct dtk_operator {
    dtk_kube_config *config;
    char **namespaces; /* NULL-free array of namespace_count; 0: all */
    size_t namespace_count;
    /* informers[kind][i]: one per namespace (or one for all). */
    dtk_informer **informers[DTK_KIND_COUNT];
    size_t informer_count; /* per kind */
    dtk_kube_recorder *recorder;
    dtk_controller *targets;   /* owned by the manager */
    dtk_controller *assemblies;
    dtk_controller *instances;
    char *clusterid;
    /* When each Target's catalogs were last fetched, and for which spec
     * generation and Secret versions (dtk_target_seen values). */
    pthread_mutex_t catalog_mu;
    dtk_map catalog_seen; /* guarded by catalog_mu */
};

typedef struct dtk_target_seen {
    char *fingerprint;
    int64_t fetched_ms;
} dtk_target_seen;

/* The informer of kind that watches ns (NULL when ns is not watched). */
dtk_informer *dtk_operator__informer(dtk_operator *op, dtk_op_kind kind,
                                     const char *ns);

/* A new reference to the cached object, or DTK_ENOTFOUND. */
int dtk_operator__get(dtk_object **out, dtk_operator *op, dtk_op_kind kind,
                      const char *ns, const char *name);

/* References to the cached objects of kind in ns whose index holds
 * "ns/value". */
void dtk_operator__by_index(dtk_object_list *out, dtk_operator *op,
                            dtk_op_kind kind, const char *ns,
                            const char *index, const char *value);

/* Records an Event about obj (best effort; never fails the caller). */
void dtk_operator__event(dtk_operator *op, const dtk_json *obj,
                         const char *type, const char *reason,
                         const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The reconcilers (dtk_reconcile_fn), payload = the dtk_operator. */
int dtk_target_reconcile(dtk_result *result, const dtk_request *req,
                         void *payload);
int dtk_assembly_reconcile(dtk_result *result, const dtk_request *req,
                           void *payload);
int dtk_instance_reconcile(dtk_result *result, const dtk_request *req,
                           void *payload);

#endif

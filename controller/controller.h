/* The operator's controllers, wired into one manager.
 * Thread-safety: dtk_operator_register and dtk_operator_free belong to the
 * owner thread (main); the controllers run on the manager's workers.
 *
 * dtk_operator_register creates the informers (Targets, Assemblies,
 * ServiceInstances, Secrets; one per watched namespace, or one for all
 * namespaces), their indexes (instances by target, by assembly, by parent,
 * by Secret named in parametersFrom; targets by Secret named in
 * authSecretRef), the event handlers that map a change of one kind to the
 * keys of the others, the event recorder, and the three controllers
 * ("target", "assembly", "serviceinstance"), and hands the informers (as
 * runnables) and the controllers to the manager.
 */
#ifndef DTK_CONTROLLER_CONTROLLER_H
#define DTK_CONTROLLER_CONTROLLER_H

#include <stddef.h>

#include "pkg/kube/kube.h"
#include "pkg/metrics/metrics.h"
#include "pkg/runtime/runtime.h"

typedef struct dtk_operator dtk_operator;

typedef struct dtk_operator_options {
    dtk_kube_config *config;       /* required; borrowed, must outlive */
    const char *const *namespaces; /* watched namespaces; NULL/0: all */
    size_t namespace_count;
    int workers;           /* workers per controller; 0: 2 */
    const char *clusterid; /* OSB context clusterid; NULL: "dtk-operator" */
    dtk_metrics_registry *metrics; /* NULL: the default registry */
} dtk_operator_options;

/* clang-format off */
#define DTK_OPERATOR_OPTIONS_INIT { NULL, NULL, 0, 0, NULL, NULL }
/* clang-format on */

/* Builds everything and registers it with m (before dtk_manager_start).
 * *out is owned by the caller and must be freed with dtk_operator_free
 * after dtk_manager_free (the manager borrows the informers). Returns
 * DTK_EINVALID for bad options, or the error of the informer, recorder or
 * controller that could not be made. */
int dtk_operator_register(dtk_operator **out, dtk_manager *m,
                          const dtk_operator_options *options);

/* Flushes pending Events (up to 5 s) and frees the informers and the
 * recorder. NULL is a no-op. */
void dtk_operator_free(dtk_operator *op);

#endif

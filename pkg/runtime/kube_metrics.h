/* client-go's REST client metrics for pkg/kube, named as controller-runtime
 * exposes them: rest_client_requests_total{code,method,host} and
 * rest_client_request_duration_seconds{verb,host}.
 * Thread-safety: the hook is called from any thread; it is thread-safe.
 */
#ifndef DTK_RUNTIME_KUBE_METRICS_H
#define DTK_RUNTIME_KUBE_METRICS_H

#include "pkg/kube/kube.h"
#include "pkg/metrics/metrics.h"

typedef struct dtk_kube_metrics dtk_kube_metrics;

/* Registers the families in reg and points options->on_request at them.
 * *out must outlive every client made from the resulting config; free it
 * with dtk_kube_metrics_free after those. Returns DTK_EEXISTS/DTK_EINVALID
 * from the registry. */
int dtk_kube_metrics_install(dtk_kube_metrics **out,
                             dtk_kube_config_options *options,
                             dtk_metrics_registry *reg);
void dtk_kube_metrics_free(dtk_kube_metrics *m);

#endif

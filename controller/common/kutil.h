/* Small Kubernetes helpers the reconcilers share: Secret values, status
 * writes, finalizers and owned Secrets.
 * Thread-safety: none needed; each call uses the caller's client.
 */
#ifndef DTK_CONTROLLER_COMMON_KUTIL_H
#define DTK_CONTROLLER_COMMON_KUTIL_H

#include <stddef.h>

#include "pkg/base/buf.h"
#include "pkg/json/json.h"
#include "pkg/kube/kube.h"

/* Decodes data[key] of a Secret object into out (appended, NUL-terminated
 * by the buffer). Returns DTK_ENOTFOUND ("secret 'name' has no key 'k'")
 * when absent, DTK_EINVALID when it is not base64. Never quotes the value. */
int dtk_kutil_secret_value(dtk_buf *out, const dtk_json *secret,
                           const char *key);

/* PUTs a copy of *obj with its status replaced by status (borrowed) to the
 * status subresource, using the resourceVersion of *obj, and replaces *obj
 * (owned by the caller) with the server's answer. Returns DTK_ECONFLICT for
 * a stale object, and the client's other errors. */
int dtk_kutil_write_status(dtk_json **obj, dtk_kube_client *client,
                           const dtk_kube_gvr *gvr, const dtk_json *status);

/* Adds (add = 1) or removes a finalizer with a merge patch that carries the
 * resourceVersion of *obj; *obj is replaced with the answer. No request
 * when nothing changes. */
int dtk_kutil_finalizer(dtk_json **obj, dtk_kube_client *client,
                        const dtk_kube_gvr *gvr, const char *finalizer,
                        int add);

/* Creates or updates the Secret ns/name with type and data (an object of
 * string values, borrowed; base64-encoded here), controlled by owner
 * (borrowed object). An existing Secret controlled by another owner is not
 * touched: DTK_EEXISTS ("secret 'x' exists and is not owned by ..."). No
 * write when the Secret already holds exactly this. */
int dtk_kutil_apply_secret(dtk_kube_client *client, const char *ns,
                           const char *name, const char *type,
                           const dtk_json *string_data, const dtk_json *owner,
                           const dtk_json *labels);

/* Does the object's metadata.finalizers hold name? */
int dtk_kutil_has_finalizer(const dtk_json *obj, const char *name);

/* metadata.<field> as a string, or NULL. */
const char *dtk_kutil_meta(const dtk_json *obj, const char *field);

/* metadata.annotations[key], or NULL. */
const char *dtk_kutil_annotation(const dtk_json *obj, const char *key);

/* metadata.generation (0 when absent). */
long long dtk_kutil_generation(const dtk_json *obj);

#endif

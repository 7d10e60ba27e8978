/* Kubernetes object metadata and resource addressing.
 * Thread-safety: the functions are thread-safe; a dtk_kube_meta has one
 * owner. The dtk_kube_gvr constants are immutable.
 *
 * A dtk_kube_gvr names a resource collection (group, version, plural
 * resource, namespaced or not) and builds its REST paths: the core group ""
 * lives under /api/v1, every other group under /apis/<group>/<version>.
 * Namespaces, names and subresources are percent-escaped, and values that
 * would change the meaning of the path ("", ".", "..", anything with '/' or
 * '%') are refused, as the API server itself refuses them.
 *
 * dtk_kube_meta is ObjectMeta decoded into C: strings are copied out of the
 * JSON tree, so it outlives the object it came from.
 */
#ifndef DTK_KUBE_META_H
#define DTK_KUBE_META_H

#include <stddef.h>
#include <stdint.h>

#include "pkg/base/buf.h"
#include "pkg/json/json.h"

typedef struct dtk_kube_gvr {
    const char *group;    /* "" for the core group */
    const char *version;  /* "v1" */
    const char *resource; /* plural, lowercase: "configmaps" */
    int namespaced;
} dtk_kube_gvr;

/* clang-format off */
#define DTK_KUBE_GVR_INIT(group, version, resource, namespaced) \
    { (group), (version), (resource), (namespaced) }
/* clang-format on */

/* Resources the operator's own machinery uses. */
extern const dtk_kube_gvr dtk_kube_gvr_namespaces;
extern const dtk_kube_gvr dtk_kube_gvr_configmaps;
extern const dtk_kube_gvr dtk_kube_gvr_secrets;
extern const dtk_kube_gvr dtk_kube_gvr_events; /* core/v1 */
extern const dtk_kube_gvr dtk_kube_gvr_leases; /* coordination/v1 */
extern const dtk_kube_gvr dtk_kube_gvr_controllerrevisions; /* apps/v1 */

/* Appends the path of a collection, object or subresource to out:
 *   /api/v1/namespaces/ns/configmaps/name/status
 *   /apis/dtk.io/v1alpha1/targets            (all namespaces, or cluster)
 * ns: required for a namespaced resource when name is set; NULL for a
 * cluster-scoped one (ignored) or for a list/watch across all namespaces.
 * name and subresource: optional (a subresource needs a name).
 * Returns DTK_EINVALID (message names the value) for a missing or unsafe
 * segment, DTK_ETOOBIG when out is full. */
int dtk_kube_gvr_path(dtk_buf *out,
                      const dtk_kube_gvr *gvr,
                      const char *ns,
                      const char *name,
                      const char *subresource);

/* Appends "group/version" (or "version" for the core group) to out: the
 * apiVersion of objects of this resource. */
int dtk_kube_gvr_api_version(dtk_buf *out, const dtk_kube_gvr *gvr);

typedef struct dtk_kube_owner_ref {
    char *api_version;
    char *kind;
    char *name;
    char *uid;
    int controller;
    int block_owner_deletion;
} dtk_kube_owner_ref;

typedef struct dtk_kube_pair {
    char *key;
    char *value;
} dtk_kube_pair;

typedef struct dtk_kube_meta {
    char *namespace; /* NULL when absent (cluster-scoped) */
    char *name;
    char *generate_name;
    char *uid;
    char *resource_version;
    int64_t generation; /* 0 when absent */
    char *creation_timestamp;
    char *deletion_timestamp; /* NULL unless the object is being deleted */
    dtk_kube_pair *labels;
    size_t label_count;
    dtk_kube_pair *annotations;
    size_t annotation_count;
    dtk_kube_owner_ref *owner_refs;
    size_t owner_ref_count;
    char **finalizers;
    size_t finalizer_count;
} dtk_kube_meta;

/* clang-format off */
#define DTK_KUBE_META_INIT { NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, 0, NULL, 0, NULL, 0, NULL, 0 }
/* clang-format on */

/* Decodes object.metadata into *out (which must be DTK_KUBE_META_INIT or
 * disposed). Every field is optional; unknown fields are ignored. Returns
 * DTK_ERROR with the JSON path in the message ("metadata.labels.app:
 * expected a string") when a field has the wrong type; *out is then left
 * empty. */
int dtk_kube_meta_decode(dtk_kube_meta *out, const dtk_json *object);
void dtk_kube_meta_dispose(dtk_kube_meta *meta);

/* Lookups; the results are borrowed from meta. NULL/0 when absent. */
const char *dtk_kube_meta_label(const dtk_kube_meta *meta, const char *key);
const char *dtk_kube_meta_annotation(const dtk_kube_meta *meta,
                                     const char *key);
int dtk_kube_meta_has_finalizer(const dtk_kube_meta *meta, const char *name);
/* The owner reference with controller: true, or NULL. */
const dtk_kube_owner_ref *dtk_kube_meta_controller(const dtk_kube_meta *meta);

/* Builds an ownerReferences entry. The caller owns the result. */
dtk_json *dtk_kube_owner_ref_new(const char *api_version,
                                 const char *kind,
                                 const char *name,
                                 const char *uid,
                                 int controller,
                                 int block_owner_deletion);

/* Builds the entry pointing at owner (an object with apiVersion, kind,
 * metadata.name and metadata.uid); controller sets both controller and
 * blockOwnerDeletion, like controller-runtime's SetControllerReference.
 * Returns DTK_EINVALID naming the missing field. */
int dtk_kube_owner_ref_from_object(dtk_json **out,
                                   const dtk_json *owner,
                                   int controller);

/* Adds ref (borrowed, copied) to object.metadata.ownerReferences, replacing
 * an entry with the same uid. Returns DTK_EEXISTS when ref is a controller
 * reference and another owner already is the controller (the object then is
 * unchanged), DTK_EINVALID when object or ref is malformed. */
int dtk_kube_meta_set_owner_ref(dtk_json *object, const dtk_json *ref);

#endif

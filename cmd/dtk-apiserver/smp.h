/* Strategic merge patch (application/strategic-merge-patch+json) for the
 * built-in kinds the development API server serves.
 * Thread-safety: none; the functions touch only the trees passed in. The
 * per-kind tables are constant.
 *
 * Semantics are those of kube-apiserver v1.32
 * (k8s.io/apimachinery/pkg/util/strategicpatch, StrategicMergeMapPatch): maps
 * merge recursively and null deletes a member; lists replace unless the Go
 * type tags them patchStrategy=merge, in which case lists of objects merge by
 * their patchMergeKey and lists of scalars become a set union; the
 * directives `$patch: replace|delete` (in maps and list items),
 * `$deleteFromPrimitiveList/<list>`, `$setElementOrder/<list>` and
 * `$retainKeys` are honoured, with the library's ordering rules. As in
 * Kubernetes, `$patch: merge` is refused ("unknown patch type: merge in map",
 * "merging lists cannot yet be specified in the patch").
 *
 * Kinds and their merge lists (from the k8s.io/api struct tags):
 *   every kind      metadata.ownerReferences (merge key uid),
 *                   metadata.finalizers (set of strings)
 *   v1 ServiceAccount   secrets (merge key name); imagePullSecrets is atomic
 *   v1 Namespace        status.conditions (merge key type); spec.finalizers
 *                       is atomic
 *   v1 Secret, ConfigMap, Event; coordination.k8s.io/v1 Lease;
 *   apps/v1 ControllerRevision; events.k8s.io/v1 Event: no other lists.
 * Custom resources have no strategic merge patch (Kubernetes answers 415).
 *
 * Unlike kube-apiserver, which decodes the result into a Go struct (dropping
 * unknown members), the result here is plain JSON: directive members are
 * removed from values the patch adds so they are never stored.
 */
#ifndef DTK_APISERVER_SMP_H
#define DTK_APISERVER_SMP_H

#include "pkg/json/json.h"

/* Lists merged by strategy (object list plus patch list plus order list)
 * may hold at most this many items together; real objects hold a handful. */
#define DTK_SMP_MAX_LIST_ITEMS 4096

/* Returns 1 when kind in group ("" for core) has a strategic merge patch
 * table here, else 0 (custom resources, unknown kinds). */
int dtk_smp_supported(const char *group, const char *kind);

/* Applies patch to *obj_inout (an object, owned by the caller) as
 * kube-apiserver would for group/kind. Atomic: on failure *obj_inout is
 * unchanged. patch is borrowed; a JSON null patch changes nothing.
 * Errors (DTK_EINVALID, one-line message naming the problem, never quoting
 * values):
 *   - kind not supported: "strategic merge patch is not supported for
 *     <Kind>[.<group>]" (callers answer 415 before getting here);
 *   - patch not an object: "json: cannot unmarshal array into Go value of
 *     type map[string]interface {}" (Kubernetes: 400);
 *   - malformed directives, with the library's texts, e.g. "invalid patch
 *     format of primitive list", "invalid patch format of retainKeys",
 *     "invalid patch format of setElementOrder list", "unknown patch type:
 *     bogus in map", "map does not contain declared merge key: uid",
 *     "list element types are not identical", "The order in patch list
 *     doesn't match $setElementOrder list".
 * DTK_ETOOBIG when a merged list exceeds DTK_SMP_MAX_LIST_ITEMS. */
int dtk_smp_apply(dtk_json **obj_inout,
                  const dtk_json *patch,
                  const char *group,
                  const char *kind);

#endif

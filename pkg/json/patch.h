/* JSON merge patch (RFC 7386) and JSON patch (RFC 6902) over dtk_json trees.
 * Thread-safety: none; the functions touch only the trees passed in, so
 * distinct trees may be patched from distinct threads.
 *
 * JSON patch follows what kube-apiserver v1.32 does (it applies patches with
 * evanphx/json-patch v4.12), including its error texts and its leniencies
 * beyond RFC 6902, which a client written against a real cluster may rely on:
 *   - "replace" of a missing object member adds it;
 *   - array indices may be negative (-1 is the last element) and may carry a
 *     sign or leading zeros ("+1", "01");
 *   - a member whose value is null and a missing member read alike: "test"
 *     with value null succeeds on a missing member, "copy" from a missing
 *     member copies null;
 *   - a missing "value" member is read as null;
 *   - the part of a path before its first '/' is ignored ("a/b" is "/b"),
 *     "add"/"remove" of "" (the whole document) fail, and "replace" of ""
 *     with a value that is not an object or array changes nothing.
 * Where Kubernetes crashes ("test" without "value" on a missing member) this
 * module returns an error instead. Equality in "test" is by value (1 equals
 * 1.0), as RFC 6902 section 4.6 asks.
 */
#ifndef DTK_JSON_PATCH_H
#define DTK_JSON_PATCH_H

#include "pkg/json/json.h"

/* kube-apiserver refuses longer JSON patches with 413 (handlers/patch.go). */
#define DTK_JSON_PATCH_MAX_OPS 10000

/* Bound on the bytes "copy" operations may add, kube-apiserver's default
 * JSONPatchMaxCopyBytes; it stops a short patch from doubling a document
 * many times over. */
#define DTK_JSON_PATCH_MAX_COPY_BYTES ((size_t)3 * 1024 * 1024)

/* Applies an RFC 7386 merge patch: members whose patch value is null are
 * removed, objects merge recursively, arrays and scalars replace, and a patch
 * that is not an object replaces the whole document. Nulls inside objects the
 * patch adds are dropped (RFC 7386 section 2).
 * *target_inout is owned by the caller and replaced in place (it may be NULL,
 * read as an absent document). patch is borrowed.
 * Returns 0, or DTK_EINVALID when patch is NULL. Kubernetes only accepts an
 * object patch on an object; callers that serve the API check that. */
int dtk_json_merge_patch(dtk_json **target_inout, const dtk_json *patch);

/* Computes the smallest merge patch turning original into modified: changed
 * and added members with their new value, removed members as null, nested
 * objects as nested patches, arrays whole. When both are equal objects *out
 * is an empty object (dtk_json_len(*out) == 0 means "nothing to send"). When
 * either side is not an object, *out is a copy of modified, the only merge
 * patch that yields it.
 * Merge patches cannot express a member whose new value is null; such a
 * member is sent as null and therefore removed.
 * original and modified are borrowed; *out is owned by the caller.
 * Returns 0, or DTK_EINVALID when an argument is NULL. */
int dtk_json_merge_patch_create(dtk_json **out,
                                const dtk_json *original,
                                const dtk_json *modified);

/* Applies an RFC 6902 patch (an array of operation objects) atomically: on
 * any failure *doc_inout is left exactly as it was.
 * *doc_inout (an object or array) is owned by the caller; ops is borrowed.
 * Errors, with Kubernetes' wording in dtk_error_last()->message:
 *   DTK_EINVALID  ops is not an array of objects, e.g. "json: cannot
 *                 unmarshal object into Go value of type jsonpatch.Patch"
 *                 (Kubernetes answers 400 BadRequest), or an operation
 *                 failed, e.g. "testing value /spec/x failed: test failed",
 *                 "remove operation does not apply: doc is missing path:
 *                 \"/spec/y\": missing value", "Unexpected kind: bogus"
 *                 (Kubernetes answers 422, message "the server rejected our
 *                 request due to an error in our request" with this text as
 *                 the cause);
 *                 Copies adding more than DTK_JSON_PATCH_MAX_COPY_BYTES fail
 *                 here too ("Unable to complete the copy, the accumulated
 *                 size increase of copy is N, exceeding the limit 3145728");
 *   DTK_ETOOBIG   more than DTK_JSON_PATCH_MAX_OPS operations ("The allowed
 *                 maximum operations in a JSON patch is 10000, got N", 413). */
int dtk_json_patch_apply(dtk_json **doc_inout, const dtk_json *ops);

/* As dtk_json_patch_apply; on failure *failed_op_out (if not NULL) is the
 * index of the operation that failed, or -1 when the patch as a whole was
 * refused before any operation ran (not an array, an item not an object, too
 * many operations). On success it is -1. */
int dtk_json_patch_apply_ex(dtk_json **doc_inout,
                            const dtk_json *ops,
                            long *failed_op_out);

#endif

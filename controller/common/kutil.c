/* Kubernetes helpers shared by the reconcilers.
 *
 * Status writes go to /status with the observed resourceVersion, so a
 * concurrent change answers 409 and the reconcile is simply retried.
 * Finalizers change through a merge patch that includes the
 * resourceVersion (a merge patch replaces the whole list, so it must not
 * race with another writer). Owned Secrets are compared before they are
 * written, so a steady state writes nothing.
 */
#include "controller/common/kutil.h"

#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/b64.h"
#include "pkg/base/error.h"

int dtk_kutil_secret_value(dtk_buf *out, const dtk_json *secret,
                           const char *key)
{
    static const char *const data_path[] = {"data", NULL};
    const dtk_json *data = dtk_json_path(secret, data_path);
    const char *b64 = dtk_json_get_string(data, key);
    const char *name = dtk_kutil_meta(secret, "name");
    int error;

    if (b64 == NULL) {
        dtk_error_set(DTK_ERRCLASS_INVALID, "secret '%s' has no key '%s'",
                      name ? name : "", key);
        return DTK_ENOTFOUND;
    }
    error = dtk_b64_decode(out, b64, strlen(b64));
    if (error < 0) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "secret '%s' key '%s': not base64", name ? name : "",
                      key);
        return DTK_EINVALID;
    }
    return 0;
}

const char *dtk_kutil_meta(const dtk_json *obj, const char *field)
{
    return dtk_json_get_string(dtk_json_get(obj, "metadata"), field);
}

const char *dtk_kutil_annotation(const dtk_json *obj, const char *key)
{
    static const char *const path[] = {"metadata", "annotations", NULL};
    return dtk_json_get_string(dtk_json_path(obj, path), key);
}

long long dtk_kutil_generation(const dtk_json *obj)
{
    int64_t g = 0;
    if (dtk_json_int(&g, dtk_json_get(dtk_json_get(obj, "metadata"),
                                      "generation")) < 0) {
        return 0;
    }
    return (long long)g;
}

int dtk_kutil_has_finalizer(const dtk_json *obj, const char *name)
{
    static const char *const path[] = {"metadata", "finalizers", NULL};
    const dtk_json *list = dtk_json_path(obj, path);
    size_t n = dtk_json_len(list);

    for (size_t i = 0; list && list->type == DTK_JSON_ARRAY && i < n; i++) {
        const char *s = dtk_json_string(dtk_json_at(list, i));
        if (s != NULL && strcmp(s, name) == 0) {
            return 1;
        }
    }
    return 0;
}

int dtk_kutil_write_status(dtk_json **obj, dtk_kube_client *client,
                           const dtk_kube_gvr *gvr, const dtk_json *status)
{
    dtk_json *copy = dtk_json_copy(*obj);
    dtk_json *answer = NULL;
    int error;

    dtk_json_set(copy, "status", dtk_json_copy(status));
    error = dtk_kube_update(&answer, client, gvr, dtk_kutil_meta(*obj,
                            "namespace"), dtk_kutil_meta(*obj, "name"),
                            "status", copy, NULL);
    if (error < 0) {
        goto out;
    }
    if (answer != NULL) {
        dtk_json_free(*obj);
        *obj = answer;
        answer = NULL;
    }
out:
    dtk_json_free(copy);
    dtk_json_free(answer);
    return error;
}

int dtk_kutil_finalizer(dtk_json **obj, dtk_kube_client *client,
                        const dtk_kube_gvr *gvr, const char *finalizer,
                        int add)
{
    static const char *const path[] = {"metadata", "finalizers", NULL};
    const dtk_json *list = dtk_json_path(*obj, path);
    dtk_json *patch = NULL, *meta, *fins, *answer = NULL;
    int has = dtk_kutil_has_finalizer(*obj, finalizer);
    int error = 0;

    if ((add && has) || (!add && !has)) {
        return 0;
    }
    patch = dtk_json_new_object();
    meta = dtk_json_new_object();
    fins = dtk_json_new_array();
    for (size_t i = 0; list && list->type == DTK_JSON_ARRAY &&
                       i < dtk_json_len(list); i++) {
        const char *s = dtk_json_string(dtk_json_at(list, i));
        if (s != NULL && strcmp(s, finalizer) != 0) {
            dtk_json_append(fins, dtk_json_new_string(s));
        }
    }
    if (add) {
        dtk_json_append(fins, dtk_json_new_string(finalizer));
    }
    dtk_json_set(meta, "finalizers", fins);
    dtk_json_set(meta, "resourceVersion",
                 dtk_json_new_string(dtk_kutil_meta(*obj, "resourceVersion")
                                         ? dtk_kutil_meta(*obj,
                                                          "resourceVersion")
                                         : ""));
    dtk_json_set(patch, "metadata", meta);
    error = dtk_kube_patch(&answer, client, gvr,
                           dtk_kutil_meta(*obj, "namespace"),
                           dtk_kutil_meta(*obj, "name"), NULL,
                           DTK_KUBE_PATCH_MERGE, patch, NULL);
    if (error < 0) {
        goto out;
    }
    if (answer != NULL) {
        dtk_json_free(*obj);
        *obj = answer;
        answer = NULL;
    }
out:
    dtk_json_free(patch);
    dtk_json_free(answer);
    return error;
}

/* data with every value base64-encoded. */
static dtk_json *encode_data(const dtk_json *string_data)
{
    dtk_json *data = dtk_json_new_object();
    dtk_buf b = DTK_BUF_INIT(4 * 1024 * 1024);

    for (size_t i = 0; string_data && string_data->type == DTK_JSON_OBJECT &&
                       i < string_data->u.object.len; i++) {
        const dtk_json *v = string_data->u.object.values[i];
        dtk_buf_reset(&b);
        if (v->type == DTK_JSON_STRING) {
            dtk_b64_encode(&b, v->u.string.ptr, v->u.string.len);
        }
        dtk_json_set(data, string_data->u.object.keys[i],
                     dtk_json_new_string(dtk_buf_cstr(&b)));
    }
    dtk_buf_dispose(&b);
    return data;
}

int dtk_kutil_apply_secret(dtk_kube_client *client, const char *ns,
                           const char *name, const char *type,
                           const dtk_json *string_data, const dtk_json *owner,
                           const dtk_json *labels)
{
    dtk_json *existing = NULL, *desired = NULL, *meta, *ref = NULL;
    dtk_json *refs, *data = encode_data(string_data);
    const char *owner_uid = dtk_kutil_meta(owner, "uid");
    int error;

    error = dtk_kube_owner_ref_from_object(&ref, owner, 1);
    if (error < 0) {
        goto out;
    }
    error = dtk_kube_get(&existing, client, &dtk_kube_gvr_secrets, ns, name,
                         NULL);
    if (error < 0 && error != DTK_ENOTFOUND) {
        goto out;
    }
    if (error == DTK_ENOTFOUND) {
        dtk_error_clear();
        desired = dtk_json_new_object();
        dtk_json_set(desired, "apiVersion", dtk_json_new_string("v1"));
        dtk_json_set(desired, "kind", dtk_json_new_string("Secret"));
        meta = dtk_json_new_object();
        dtk_json_set(meta, "name", dtk_json_new_string(name));
        dtk_json_set(meta, "namespace", dtk_json_new_string(ns));
        if (labels != NULL) {
            dtk_json_set(meta, "labels", dtk_json_copy(labels));
        }
        refs = dtk_json_new_array();
        dtk_json_append(refs, ref);
        ref = NULL;
        dtk_json_set(meta, "ownerReferences", refs);
        dtk_json_set(desired, "metadata", meta);
        dtk_json_set(desired, "type", dtk_json_new_string(type));
        dtk_json_set(desired, "data", data);
        data = NULL;
        error = dtk_kube_create(NULL, client, &dtk_kube_gvr_secrets, ns,
                                desired, NULL);
        goto out;
    }
    {
        static const char *const rpath[] = {"metadata", "ownerReferences",
                                            NULL};
        const dtk_json *orefs = dtk_json_path(existing, rpath);
        int owned = 0;
        for (size_t i = 0; i < dtk_json_len(orefs); i++) {
            const dtk_json *r = dtk_json_at(orefs, i);
            const char *uid = dtk_json_get_string(r, "uid");
            if (uid != NULL && owner_uid != NULL &&
                strcmp(uid, owner_uid) == 0) {
                owned = 1;
            }
        }
        if (!owned) {
            dtk_error_set(DTK_ERRCLASS_KUBE,
                          "secret '%s' exists and is not owned by '%s'", name,
                          dtk_kutil_meta(owner, "name"));
            error = DTK_EEXISTS;
            goto out;
        }
    }
    if (dtk_json_equal(dtk_json_get(existing, "data"), data) &&
        dtk_json_get_string(existing, "type") != NULL &&
        strcmp(dtk_json_get_string(existing, "type"), type) == 0) {
        error = 0;
        goto out;
    }
    desired = dtk_json_copy(existing);
    dtk_json_set(desired, "data", data);
    data = NULL;
    error = dtk_kube_update(NULL, client, &dtk_kube_gvr_secrets, ns, name,
                            NULL, desired, NULL);
out:
    dtk_json_free(existing);
    dtk_json_free(desired);
    dtk_json_free(data);
    dtk_json_free(ref);
    return error;
}

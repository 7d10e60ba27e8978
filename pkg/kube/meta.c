/* ObjectMeta decoding, GVR paths and ownerReferences (see meta.h). */
#include "pkg/kube/meta.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/error.h"
#include "pkg/http/http.h"

const dtk_kube_gvr dtk_kube_gvr_namespaces =
    DTK_KUBE_GVR_INIT("", "v1", "namespaces", 0);
const dtk_kube_gvr dtk_kube_gvr_configmaps =
    DTK_KUBE_GVR_INIT("", "v1", "configmaps", 1);
const dtk_kube_gvr dtk_kube_gvr_secrets =
    DTK_KUBE_GVR_INIT("", "v1", "secrets", 1);
const dtk_kube_gvr dtk_kube_gvr_events =
    DTK_KUBE_GVR_INIT("", "v1", "events", 1);
const dtk_kube_gvr dtk_kube_gvr_leases =
    DTK_KUBE_GVR_INIT("coordination.k8s.io", "v1", "leases", 1);
const dtk_kube_gvr dtk_kube_gvr_controllerrevisions =
    DTK_KUBE_GVR_INIT("apps", "v1", "controllerrevisions", 1);

/* A value that becomes one path segment: the API server refuses names with
 * '/' or '%' and the names "." and ".."; curl would also fold dot
 * segments, silently addressing another resource. */
static int check_segment(const char *what, const char *value)
{
    if (value == NULL || value[0] == '\0') {
        dtk_error_set(DTK_ERRCLASS_INVALID, "%s: must not be empty", what);
        return DTK_EINVALID;
    }
    if (strcmp(value, ".") == 0 || strcmp(value, "..") == 0 ||
        strpbrk(value, "/%") != NULL) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "%s '%s': not usable in a resource path", what, value);
        return DTK_EINVALID;
    }
    return 0;
}

static int put_segment(dtk_buf *out, const char *what, const char *value)
{
    int error = check_segment(what, value);

    if (error == 0) {
        error = dtk_buf_putc(out, '/');
    }
    if (error == 0) {
        error = dtk_http_escape(out, value);
    }
    return error;
}

int dtk_kube_gvr_path(dtk_buf *out,
                      const dtk_kube_gvr *gvr,
                      const char *ns,
                      const char *name,
                      const char *subresource)
{
    int error;

    if (gvr->group == NULL || gvr->group[0] == '\0') {
        error = dtk_buf_puts(out, "/api");
    } else {
        error = dtk_buf_puts(out, "/apis");
        if (error == 0) {
            error = put_segment(out, "group", gvr->group);
        }
    }
    if (error == 0) {
        error = put_segment(out, "version", gvr->version);
    }
    if (error == 0 && gvr->namespaced && (ns != NULL || name != NULL)) {
        error = dtk_buf_puts(out, "/namespaces");
        if (error == 0) {
            error = put_segment(out, "namespace", ns);
        }
    }
    if (error == 0) {
        error = put_segment(out, "resource", gvr->resource);
    }
    if (error == 0 && name != NULL) {
        error = put_segment(out, "name", name);
    }
    if (error == 0 && subresource != NULL) {
        if (name == NULL) {
            dtk_error_set(DTK_ERRCLASS_INVALID,
                          "subresource '%s' needs an object name", subresource);
            return DTK_EINVALID;
        }
        error = put_segment(out, "subresource", subresource);
    }
    return error;
}

int dtk_kube_gvr_api_version(dtk_buf *out, const dtk_kube_gvr *gvr)
{
    if (gvr->group == NULL || gvr->group[0] == '\0') {
        return dtk_buf_puts(out, gvr->version);
    }
    return dtk_buf_printf(out, "%s/%s", gvr->group, gvr->version);
}

static void free_pairs(dtk_kube_pair *pairs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        dtk_free(pairs[i].key);
        dtk_free(pairs[i].value);
    }
    dtk_free(pairs);
}

void dtk_kube_meta_dispose(dtk_kube_meta *meta)
{
    dtk_free(meta->namespace);
    dtk_free(meta->name);
    dtk_free(meta->generate_name);
    dtk_free(meta->uid);
    dtk_free(meta->resource_version);
    dtk_free(meta->creation_timestamp);
    dtk_free(meta->deletion_timestamp);
    free_pairs(meta->labels, meta->label_count);
    free_pairs(meta->annotations, meta->annotation_count);
    for (size_t i = 0; i < meta->owner_ref_count; i++) {
        dtk_free(meta->owner_refs[i].api_version);
        dtk_free(meta->owner_refs[i].kind);
        dtk_free(meta->owner_refs[i].name);
        dtk_free(meta->owner_refs[i].uid);
    }
    dtk_free(meta->owner_refs);
    for (size_t i = 0; i < meta->finalizer_count; i++) {
        dtk_free(meta->finalizers[i]);
    }
    dtk_free(meta->finalizers);
    memset(meta, 0, sizeof(*meta));
}

static int type_error(const char *path, const char *expected)
{
    dtk_error_set(DTK_ERRCLASS_KUBE, "%s: expected %s", path, expected);
    return DTK_ERROR;
}

/* Paths made of constant names and indexes always fit their array; a
 * truncation would be a programming error. */
static const char *fixed_path(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static const char *fixed_path(char *out, size_t size, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(out, size, fmt, ap);
    va_end(ap);
    dtk_assert(n >= 0 && (size_t)n < size);
    return out;
}

/* Optional string member: absent and null are NULL. */
static int opt_string(char **out,
                      const dtk_json *obj,
                      const char *key,
                      const char *path)
{
    const dtk_json *v = dtk_json_get(obj, key);

    if (v == NULL || v->type == DTK_JSON_NULL) {
        return 0;
    }
    if (v->type != DTK_JSON_STRING) {
        return type_error(path, "a string");
    }
    *out = dtk_strndup(v->u.string.ptr, v->u.string.len);
    return 0;
}

static int opt_bool(int *out,
                    const dtk_json *obj,
                    const char *key,
                    const char *path)
{
    const dtk_json *v = dtk_json_get(obj, key);

    if (v == NULL || v->type == DTK_JSON_NULL) {
        return 0;
    }
    if (v->type != DTK_JSON_BOOL) {
        return type_error(path, "a boolean");
    }
    *out = v->u.boolean;
    return 0;
}

static int decode_map(dtk_kube_pair **out,
                      size_t *count,
                      const dtk_json *v,
                      const char *what)
{
    char path[64];

    if (v == NULL || v->type == DTK_JSON_NULL) {
        return 0;
    }
    if (v->type != DTK_JSON_OBJECT) {
        return type_error(fixed_path(path, sizeof(path), "metadata.%s", what),
                          "an object");
    }
    *out = dtk_calloc(v->u.object.len, sizeof(**out));
    for (size_t i = 0; i < v->u.object.len; i++) {
        const dtk_json *value = v->u.object.values[i];

        if (value->type != DTK_JSON_STRING) {
            /* The key comes from the input: a long one is cut short by
             * the bounded error message, not by a fixed array here. */
            dtk_error_set(DTK_ERRCLASS_KUBE, "metadata.%s.%s: expected %s",
                          what, v->u.object.keys[i], "a string");
            return DTK_ERROR;
        }
        (*out)[i].key = dtk_strdup(v->u.object.keys[i]);
        (*out)[i].value = dtk_strndup(value->u.string.ptr, value->u.string.len);
        *count = i + 1;
    }
    return 0;
}

/* Fields of ownerReferences[i]; the path names the field on error. */
static int ref_string(char **out, const dtk_json *r, size_t i, const char *key)
{
    char path[96];

    fixed_path(path, sizeof(path), "metadata.ownerReferences[%zu].%s", i, key);
    return opt_string(out, r, key, path);
}

static int ref_bool(int *out, const dtk_json *r, size_t i, const char *key)
{
    char path[96];

    fixed_path(path, sizeof(path), "metadata.ownerReferences[%zu].%s", i, key);
    return opt_bool(out, r, key, path);
}

static int decode_owner_refs(dtk_kube_meta *m, const dtk_json *v)
{
    char path[64];
    int error = 0;

    if (v == NULL || v->type == DTK_JSON_NULL) {
        return 0;
    }
    if (v->type != DTK_JSON_ARRAY) {
        return type_error("metadata.ownerReferences", "an array");
    }
    m->owner_refs = dtk_calloc(dtk_json_len(v), sizeof(*m->owner_refs));
    for (size_t i = 0; i < dtk_json_len(v) && error == 0; i++) {
        const dtk_json *r = dtk_json_at(v, i);
        dtk_kube_owner_ref *ref = &m->owner_refs[i];

        m->owner_ref_count = i + 1;
        if (r->type != DTK_JSON_OBJECT) {
            return type_error(fixed_path(path, sizeof(path),
                                         "metadata.ownerReferences[%zu]", i),
                              "an object");
        }
        error = ref_string(&ref->api_version, r, i, "apiVersion");
        if (error == 0) {
            error = ref_string(&ref->kind, r, i, "kind");
        }
        if (error == 0) {
            error = ref_string(&ref->name, r, i, "name");
        }
        if (error == 0) {
            error = ref_string(&ref->uid, r, i, "uid");
        }
        if (error == 0) {
            error = ref_bool(&ref->controller, r, i, "controller");
        }
        if (error == 0) {
            error = ref_bool(&ref->block_owner_deletion, r, i,
                             "blockOwnerDeletion");
        }
    }
    return error;
}

static int decode_finalizers(dtk_kube_meta *m, const dtk_json *v)
{
    char path[64];

    if (v == NULL || v->type == DTK_JSON_NULL) {
        return 0;
    }
    if (v->type != DTK_JSON_ARRAY) {
        return type_error("metadata.finalizers", "an array");
    }
    m->finalizers = dtk_calloc(dtk_json_len(v), sizeof(char *));
    for (size_t i = 0; i < dtk_json_len(v); i++) {
        const dtk_json *f = dtk_json_at(v, i);

        if (f->type != DTK_JSON_STRING) {
            return type_error(
                fixed_path(path, sizeof(path), "metadata.finalizers[%zu]", i),
                "a string");
        }
        m->finalizers[i] = dtk_strndup(f->u.string.ptr, f->u.string.len);
        m->finalizer_count = i + 1;
    }
    return 0;
}

int dtk_kube_meta_decode(dtk_kube_meta *out, const dtk_json *object)
{
    dtk_kube_meta m = DTK_KUBE_META_INIT;
    const dtk_json *md;
    const dtk_json *gen;
    int error = 0;

    if (object == NULL || object->type != DTK_JSON_OBJECT) {
        error = type_error("object", "an object");
        goto out;
    }
    md = dtk_json_get(object, "metadata");
    if (md == NULL || md->type == DTK_JSON_NULL) {
        goto out;
    }
    if (md->type != DTK_JSON_OBJECT) {
        error = type_error("metadata", "an object");
        goto out;
    }
    error = opt_string(&m.namespace, md, "namespace", "metadata.namespace");
    if (error == 0) {
        error = opt_string(&m.name, md, "name", "metadata.name");
    }
    if (error == 0) {
        error = opt_string(&m.generate_name, md, "generateName",
                           "metadata.generateName");
    }
    if (error == 0) {
        error = opt_string(&m.uid, md, "uid", "metadata.uid");
    }
    if (error == 0) {
        error = opt_string(&m.resource_version, md, "resourceVersion",
                           "metadata.resourceVersion");
    }
    if (error == 0) {
        error = opt_string(&m.creation_timestamp, md, "creationTimestamp",
                           "metadata.creationTimestamp");
    }
    if (error == 0) {
        error = opt_string(&m.deletion_timestamp, md, "deletionTimestamp",
                           "metadata.deletionTimestamp");
    }
    gen = dtk_json_get(md, "generation");
    if (error == 0 && gen != NULL && gen->type != DTK_JSON_NULL &&
        dtk_json_int(&m.generation, gen) < 0) {
        error = type_error("metadata.generation", "an integer");
    }
    if (error == 0) {
        error = decode_map(&m.labels, &m.label_count,
                           dtk_json_get(md, "labels"), "labels");
    }
    if (error == 0) {
        error = decode_map(&m.annotations, &m.annotation_count,
                           dtk_json_get(md, "annotations"), "annotations");
    }
    if (error == 0) {
        error = decode_owner_refs(&m, dtk_json_get(md, "ownerReferences"));
    }
    if (error == 0) {
        error = decode_finalizers(&m, dtk_json_get(md, "finalizers"));
    }
out:
    if (error < 0) {
        dtk_kube_meta_dispose(&m);
    }
    *out = m;
    return error;
}

static const char *find_pair(const dtk_kube_pair *pairs,
                             size_t n,
                             const char *key)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(pairs[i].key, key) == 0) {
            return pairs[i].value;
        }
    }
    return NULL;
}

const char *dtk_kube_meta_label(const dtk_kube_meta *meta, const char *key)
{
    return find_pair(meta->labels, meta->label_count, key);
}

const char *dtk_kube_meta_annotation(const dtk_kube_meta *meta, const char *key)
{
    return find_pair(meta->annotations, meta->annotation_count, key);
}

int dtk_kube_meta_has_finalizer(const dtk_kube_meta *meta, const char *name)
{
    for (size_t i = 0; i < meta->finalizer_count; i++) {
        if (strcmp(meta->finalizers[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

const dtk_kube_owner_ref *dtk_kube_meta_controller(const dtk_kube_meta *meta)
{
    for (size_t i = 0; i < meta->owner_ref_count; i++) {
        if (meta->owner_refs[i].controller) {
            return &meta->owner_refs[i];
        }
    }
    return NULL;
}

dtk_json *dtk_kube_owner_ref_new(const char *api_version,
                                 const char *kind,
                                 const char *name,
                                 const char *uid,
                                 int controller,
                                 int block_owner_deletion)
{
    dtk_json *ref = dtk_json_new_object();

    dtk_json_set(ref, "apiVersion", dtk_json_new_string(api_version));
    dtk_json_set(ref, "kind", dtk_json_new_string(kind));
    dtk_json_set(ref, "name", dtk_json_new_string(name));
    dtk_json_set(ref, "uid", dtk_json_new_string(uid));
    if (controller) {
        dtk_json_set(ref, "controller", dtk_json_new_bool(1));
    }
    if (block_owner_deletion) {
        dtk_json_set(ref, "blockOwnerDeletion", dtk_json_new_bool(1));
    }
    return ref;
}

int dtk_kube_owner_ref_from_object(dtk_json **out,
                                   const dtk_json *owner,
                                   int controller)
{
    static const char *const name_path[] = {"metadata", "name", NULL};
    static const char *const uid_path[] = {"metadata", "uid", NULL};
    const char *api_version = dtk_json_get_string(owner, "apiVersion");
    const char *kind = dtk_json_get_string(owner, "kind");
    const char *name = dtk_json_string(dtk_json_path(owner, name_path));
    const char *uid = dtk_json_string(dtk_json_path(owner, uid_path));
    const char *missing = api_version == NULL ? "apiVersion"
                          : kind == NULL      ? "kind"
                          : name == NULL      ? "metadata.name"
                          : uid == NULL       ? "metadata.uid"
                                              : NULL;

    if (missing != NULL) {
        dtk_error_set(DTK_ERRCLASS_INVALID, "owner %s: required", missing);
        return DTK_EINVALID;
    }
    *out = dtk_kube_owner_ref_new(api_version, kind, name, uid, controller,
                                  controller);
    return 0;
}

static int is_true(const dtk_json *obj, const char *key)
{
    const dtk_json *v = dtk_json_get(obj, key);

    return v != NULL && v->type == DTK_JSON_BOOL && v->u.boolean;
}

int dtk_kube_meta_set_owner_ref(dtk_json *object, const dtk_json *ref)
{
    static const char *const md_path[] = {"metadata", NULL};
    const char *uid = dtk_json_get_string(ref, "uid");
    dtk_json *md;
    dtk_json *refs;
    size_t replace = (size_t)-1;

    if (uid == NULL || object == NULL || object->type != DTK_JSON_OBJECT) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "owner reference: an object and a uid are required");
        return DTK_EINVALID;
    }
    md = dtk_json_ensure_object(object, md_path);
    if (md == NULL) {
        dtk_error_set(DTK_ERRCLASS_INVALID, "metadata: expected an object");
        return DTK_EINVALID;
    }
    refs = dtk_json_get(md, "ownerReferences");
    if (refs == NULL || refs->type == DTK_JSON_NULL) {
        dtk_json_set(md, "ownerReferences", dtk_json_new_array());
        refs = dtk_json_get(md, "ownerReferences");
    }
    if (refs->type != DTK_JSON_ARRAY) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "metadata.ownerReferences: expected an array");
        return DTK_EINVALID;
    }
    for (size_t i = 0; i < dtk_json_len(refs); i++) {
        const dtk_json *r = dtk_json_at(refs, i);
        const char *ruid = dtk_json_get_string(r, "uid");

        if (ruid != NULL && strcmp(ruid, uid) == 0) {
            replace = i;
        } else if (is_true(ref, "controller") && is_true(r, "controller")) {
            const char *kind = dtk_json_get_string(r, "kind");
            const char *name = dtk_json_get_string(r, "name");

            dtk_error_set(
                DTK_ERRCLASS_KUBE, "object is already controlled by %s '%s'",
                kind != NULL ? kind : "an owner", name != NULL ? name : "");
            return DTK_EEXISTS;
        }
    }
    if (replace != (size_t)-1) {
        dtk_json_remove_at(refs, replace);
        dtk_json_insert_at(refs, replace, dtk_json_copy(ref));
    } else {
        dtk_json_append(refs, dtk_json_copy(ref));
    }
    return 0;
}

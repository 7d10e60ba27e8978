/* Admission of custom resources and CustomResourceDefinitions: the
 * apiextensions-apiserver rules (prune, default, validate against the
 * schema; CRD status conditions) on top of the schema module. */
#include "cmd/dtk-apiserver/apiserver.h"

#include <string.h>

#include "cmd/dtk-apiserver/fielderr.h"
#include "cmd/dtk-apiserver/schema.h"
#include "pkg/base/alloc.h"
#include "pkg/base/clock.h"

#define CRD_CLEANUP_FINALIZER "customresourcecleanup.apiextensions.k8s.io"

static dtk_json *condition(const char *type, const char *reason,
                           const char *message, const dtk_json *old_status)
{
    dtk_json *c = dtk_json_new_object();
    const dtk_json *old = dtk_json_get(old_status, "conditions");
    const char *since = NULL;
    char now[40];

    for (size_t i = 0; i < dtk_json_len(old); i++) {
        const dtk_json *oc = dtk_json_at(old, i);
        const char *t = dtk_json_get_string(oc, "type");
        const char *st = dtk_json_get_string(oc, "status");

        if (t != NULL && strcmp(t, type) == 0 && st != NULL &&
            strcmp(st, "True") == 0) {
            since = dtk_json_get_string(oc, "lastTransitionTime");
        }
    }
    dtk_meta_now(now, sizeof(now));
    dtk_json_set(c, "type", dtk_json_new_string(type));
    dtk_json_set(c, "status", dtk_json_new_string("True"));
    dtk_json_set(c, "lastTransitionTime",
                 dtk_json_new_string(since ? since : now));
    dtk_json_set(c, "reason", dtk_json_new_string(reason));
    dtk_json_set(c, "message", dtk_json_new_string(message));
    return c;
}

void dtk_crd_set_status(dtk_json *crd)
{
    const dtk_json *spec = dtk_json_get(crd, "spec");
    const dtk_json *names = dtk_json_get(spec, "names");
    const dtk_json *versions = dtk_json_get(spec, "versions");
    dtk_json *old = dtk_json_take(crd, "status");
    dtk_json *status = dtk_json_new_object();
    dtk_json *conds = dtk_json_new_array();
    dtk_json *accepted = dtk_json_copy(names);
    dtk_json *stored = dtk_json_new_array();
    const dtk_json *old_stored = dtk_json_get(old, "storedVersions");

    dtk_json_append(conds, condition("NamesAccepted", "NoConflicts",
                                     "no conflicts found", old));
    dtk_json_append(conds,
                    condition("Established", "InitialNamesAccepted",
                              "the initial names have been accepted", old));
    if (dtk_json_get(accepted, "singular") == NULL) {
        dtk_buf lower = DTK_BUF_INIT(0);
        const char *kind = dtk_json_get_string(names, "kind");

        for (const char *p = kind ? kind : ""; *p; p++) {
            dtk_buf_putc(&lower, (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p));
        }
        dtk_json_set(accepted, "singular",
                     dtk_json_new_string(dtk_buf_cstr(&lower)));
        dtk_buf_dispose(&lower);
    }
    if (dtk_json_get(accepted, "listKind") == NULL) {
        dtk_buf lk = DTK_BUF_INIT(0);

        dtk_buf_printf(&lk, "%sList", dtk_json_get_string(names, "kind"));
        dtk_json_set(accepted, "listKind", dtk_json_new_string(lk.ptr));
        dtk_buf_dispose(&lk);
    }
    for (size_t i = 0; i < dtk_json_len(old_stored); i++) {
        dtk_json_append(stored, dtk_json_copy(dtk_json_at(old_stored, i)));
    }
    for (size_t i = 0; i < dtk_json_len(versions); i++) {
        const dtk_json *v = dtk_json_at(versions, i);
        const dtk_json *storage = dtk_json_get(v, "storage");
        int seen = 0;

        if (storage == NULL || storage->type != DTK_JSON_BOOL ||
            !storage->u.boolean) {
            continue;
        }
        for (size_t j = 0; j < dtk_json_len(stored); j++) {
            seen |= dtk_json_equal(dtk_json_at(stored, j),
                                   dtk_json_get(v, "name"));
        }
        if (!seen) {
            dtk_json_append(stored, dtk_json_copy(dtk_json_get(v, "name")));
        }
    }
    dtk_json_set(status, "conditions", conds);
    dtk_json_set(status, "acceptedNames", accepted);
    dtk_json_set(status, "storedVersions", stored);
    dtk_json_set(crd, "status", status);
    dtk_json_free(old);
}

static void ensure_finalizer(dtk_json *obj, const char *name)
{
    dtk_json *meta = dtk_meta_of(obj);
    dtk_json *f = dtk_json_get(meta, "finalizers");

    if (f == NULL || f->type != DTK_JSON_ARRAY) {
        f = dtk_json_new_array();
        dtk_json_set(meta, "finalizers", f);
    }
    for (size_t i = 0; i < dtk_json_len(f); i++) {
        const char *v = dtk_json_string(dtk_json_at(f, i));

        if (v != NULL && strcmp(v, name) == 0) {
            return;
        }
    }
    dtk_json_append(f, dtk_json_new_string(name));
}

/* "unknown field \"spec.a\", unknown field \"spec.b\"" */
static void unknown_fields_text(dtk_buf *out, const dtk_json *paths)
{
    for (size_t i = 0; i < dtk_json_len(paths); i++) {
        dtk_buf_printf(out, "%sunknown field \"%s\"", i ? ", " : "",
                       dtk_json_string(dtk_json_at(paths, i)));
    }
}

int dtk_custom_admit(const dtk_restype *t, dtk_json *obj, const dtk_json *old,
                     int status_only, const char *field_validation,
                     dtk_fielderr_list *errs, dtk_json **bad_request_out,
                     dtk_buf *warning_out)
{
    dtk_json *unknown;

    *bad_request_out = NULL;
    if (t == NULL) {
        /* A CRD: its cleanup finalizer is added at creation, as the
         * apiextensions-apiserver does, so deleting it removes its objects
         * first. */
        if (old == NULL) {
            ensure_finalizer(obj, CRD_CLEANUP_FINALIZER);
        }
        return 0;
    }
    if (t->compiled == NULL) {
        return 0;
    }
    unknown = dtk_json_new_array();
    dtk_schema_coerce(t->compiled, obj, unknown);
    if (dtk_json_len(unknown) > 0 && field_validation != NULL &&
        strcmp(field_validation, "Strict") == 0) {
        dtk_buf msg = DTK_BUF_INIT(0);

        dtk_buf_printf(&msg,
                       "%s in version \"%s\" cannot be handled as a %s: "
                       "strict decoding error: ",
                       t->kind, t->version, t->kind);
        unknown_fields_text(&msg, unknown);
        *bad_request_out = dtk_status_new(400, "BadRequest", msg.ptr);
        dtk_buf_dispose(&msg);
        dtk_json_free(unknown);
        return 0;
    }
    if (dtk_json_len(unknown) > 0 &&
        (field_validation == NULL || strcmp(field_validation, "Ignore") != 0)) {
        unknown_fields_text(warning_out, unknown);
    }
    dtk_json_free(unknown);
    if (old == NULL) {
        dtk_schema_validate(t->compiled, obj, errs);
    } else if (status_only) {
        dtk_schema_validate_status_update(t->compiled, obj, old, errs, NULL);
    } else {
        dtk_schema_validate_update(t->compiled, obj, old, errs, NULL);
    }
    return 0;
}

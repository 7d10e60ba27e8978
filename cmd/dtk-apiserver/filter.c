/* The selectors of list, watch and deletecollection requests: the label
 * and field selector parsers of selector.h, plus which fields each kind can
 * be selected by (metadata.name and metadata.namespace always; CRD
 * selectableFields; a few built-in fields). A bad selector is a 400
 * BadRequest with Kubernetes' message.
 */
#include "cmd/dtk-apiserver/apiserver.h"

#include <stdlib.h>
#include <string.h>

#include "cmd/dtk-apiserver/selector.h"
#include "pkg/base/alloc.h"
#include "pkg/base/error.h"

struct dtk_filter {
    dtk_labelsel *labels;
    dtk_fieldsel *fields;
    char **kind_fields; /* NULL-terminated; selectable fields of a CRD */
};

void dtk_filter_free(dtk_filter *f)
{
    if (f == NULL) {
        return;
    }
    dtk_labelsel_free(f->labels);
    dtk_fieldsel_free(f->fields);
    for (size_t i = 0; f->kind_fields != NULL && f->kind_fields[i]; i++) {
        dtk_free(f->kind_fields[i]);
    }
    dtk_free(f->kind_fields);
    dtk_free(f);
}

/* ---- the fields a kind can be selected by -------------------------------- */

static const char *const secret_fields[] = {"type", NULL};
static const char *const namespace_fields[] = {"status.phase", NULL};
static const char *const event_fields[] = {
    "involvedObject.kind",      "involvedObject.namespace",
    "involvedObject.name",      "involvedObject.uid",
    "involvedObject.apiVersion", "involvedObject.resourceVersion",
    "involvedObject.fieldPath", "reason",
    "reportingComponent",       "source",
    "type",                     NULL};

/* The kind's own field list (besides metadata.name/namespace), or NULL for
 * kinds without one; CRD selectableFields are copied into f. */
static const char *const *kind_fields(dtk_filter *f, const dtk_restype *t)
{
    size_t n;

    if (t->custom) {
        n = dtk_json_len(t->selectable_fields);
        if (n == 0) {
            return NULL;
        }
        f->kind_fields = dtk_calloc(n + 1, sizeof(char *));
        for (size_t i = 0, k = 0; i < n; i++) {
            const char *jp = dtk_json_get_string(
                dtk_json_at(t->selectable_fields, i), "jsonPath");

            if (jp != NULL && jp[0] == '.') {
                f->kind_fields[k++] = dtk_strdup(jp + 1);
            }
        }
        return (const char *const *)f->kind_fields;
    }
    if (*t->group != '\0') {
        return NULL;
    }
    if (strcmp(t->resource, "secrets") == 0) {
        return secret_fields;
    }
    if (strcmp(t->resource, "namespaces") == 0) {
        return namespace_fields;
    }
    if (strcmp(t->resource, "events") == 0) {
        return event_fields;
    }
    return NULL;
}

int dtk_filter_parse(dtk_filter **out, dtk_json **status_out,
                     const dtk_restype *t, const char *label_selector,
                     const char *field_selector)
{
    dtk_filter *f;
    int error;

    *out = NULL;
    if ((label_selector == NULL || *label_selector == '\0') &&
        (field_selector == NULL || *field_selector == '\0')) {
        return 0;
    }
    f = dtk_calloc(1, sizeof(*f));
    error = dtk_labelsel_parse(&f->labels, label_selector);
    if (error == 0) {
        error = dtk_fieldsel_parse(&f->fields, field_selector,
                                   kind_fields(f, t));
    }
    if (error < 0) {
        *status_out = dtk_status_new(400, "BadRequest",
                                     dtk_error_last()->message);
        dtk_filter_free(f);
        return error;
    }
    *out = f;
    return 0;
}

int dtk_filter_match(const dtk_filter *f, const dtk_json *obj)
{
    return f == NULL || (dtk_labelsel_matches_object(f->labels, obj) &&
                         dtk_fieldsel_matches(f->fields, obj));
}

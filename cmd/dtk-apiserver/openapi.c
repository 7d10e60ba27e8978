/* Just enough OpenAPI for kubectl.
 *
 * kubectl apply (default --validate=strict) first asks whether the server
 * supports the fieldValidation query parameter by looking, in the OpenAPI v3
 * document of the object's group/version, for a PATCH operation tagged with
 * the object's x-kubernetes-group-version-kind that lists a fieldValidation
 * parameter (cli-runtime query_param_verifier_v3.go); when OpenAPI is
 * missing it fails with "failed to download openapi". So every served type
 * gets such a path item, and custom resources publish their schemas under
 * components.schemas (kubectl explain reads them). /openapi/v2 carries the
 * same schemas as Swagger 2.0 definitions for older clients.
 */
#include "cmd/dtk-apiserver/apiserver.h"

#include <inttypes.h>
#include <string.h>

#include "pkg/base/alloc.h"

static dtk_json *gvk(const dtk_restype *t)
{
    dtk_json *arr = dtk_json_new_array();
    dtk_json *g = dtk_json_new_object();

    dtk_json_set(g, "group", dtk_json_new_string(t->group));
    dtk_json_set(g, "kind", dtk_json_new_string(t->kind));
    dtk_json_set(g, "version", dtk_json_new_string(t->version));
    dtk_json_append(arr, g);
    return arr;
}

static dtk_json *param(const char *name, const char *in, int required)
{
    dtk_json *p = dtk_json_new_object();
    dtk_json *schema = dtk_json_new_object();

    dtk_json_set(p, "name", dtk_json_new_string(name));
    dtk_json_set(p, "in", dtk_json_new_string(in));
    if (required) {
        dtk_json_set(p, "required", dtk_json_new_bool(1));
    }
    dtk_json_set(schema, "type", dtk_json_new_string("string"));
    dtk_json_set(schema, "uniqueItems", dtk_json_new_bool(1));
    dtk_json_set(p, "schema", schema);
    return p;
}

static void schema_name(dtk_buf *out, const dtk_restype *t)
{
    /* Kubernetes names definitions by reversed group: io.dtk.v1alpha1.X. */
    const char *g = t->group;
    const char *parts[16];
    size_t lens[16];
    size_t n = 0;

    dtk_buf_reset(out);
    if (*g == '\0') {
        dtk_buf_printf(out, "io.k8s.api.core.%s.%s", t->version, t->kind);
        return;
    }
    while (*g && n < 16) {
        const char *dot = strchr(g, '.');
        size_t len = dot ? (size_t)(dot - g) : strlen(g);

        parts[n] = g;
        lens[n++] = len;
        g += len;
        if (*g == '.') {
            g++;
        }
    }
    for (size_t i = n; i > 0; i--) {
        dtk_buf_put(out, parts[i - 1], lens[i - 1]);
        dtk_buf_putc(out, '.');
    }
    dtk_buf_printf(out, "%s.%s", t->version, t->kind);
}

static dtk_json *object_schema(const dtk_restype *t)
{
    dtk_json *schema = t->schema ? dtk_json_copy(t->schema)
                                 : dtk_json_new_object();

    if (schema->type != DTK_JSON_OBJECT) {
        dtk_json_free(schema);
        schema = dtk_json_new_object();
    }
    if (dtk_json_get(schema, "type") == NULL) {
        dtk_json_set(schema, "type", dtk_json_new_string("object"));
    }
    dtk_json_set(schema, "x-kubernetes-group-version-kind", gvk(t));
    return schema;
}

/* OpenAPI v3 document of one group/version. */
static dtk_json *gv_document(dtk_apiserver *s, const char *group,
                             const char *version)
{
    dtk_json *doc = dtk_json_new_object();
    dtk_json *info = dtk_json_new_object();
    dtk_json *paths = dtk_json_new_object();
    dtk_json *components = dtk_json_new_object();
    dtk_json *schemas = dtk_json_new_object();
    dtk_buf path = DTK_BUF_INIT(0);
    dtk_buf name = DTK_BUF_INIT(0);
    int found = 0;

    dtk_json_set(doc, "openapi", dtk_json_new_string("3.0.0"));
    dtk_json_set(info, "title", dtk_json_new_string("Kubernetes"));
    dtk_json_set(info, "version", dtk_json_new_string("v1.32.0"));
    dtk_json_set(doc, "info", info);
    for (size_t i = 0; i < s->type_count; i++) {
        dtk_restype *t = s->types[i];
        dtk_json *item, *patch, *params;

        if (strcmp(t->group, group) != 0 || strcmp(t->version, version) != 0) {
            continue;
        }
        found = 1;
        dtk_buf_reset(&path);
        if (*group) {
            dtk_buf_printf(&path, "/apis/%s/%s/%s%s/{name}", group, version,
                           t->namespaced ? "namespaces/{namespace}/" : "",
                           t->resource);
        } else {
            dtk_buf_printf(&path, "/api/%s/%s%s/{name}", version,
                           t->namespaced ? "namespaces/{namespace}/" : "",
                           t->resource);
        }
        item = dtk_json_new_object();
        patch = dtk_json_new_object();
        params = dtk_json_new_array();
        dtk_json_append(params, param("dryRun", "query", 0));
        dtk_json_append(params, param("fieldManager", "query", 0));
        dtk_json_append(params, param("fieldValidation", "query", 0));
        dtk_json_append(params, param("force", "query", 0));
        dtk_json_set(patch, "parameters", params);
        dtk_json_set(patch, "x-kubernetes-action", dtk_json_new_string("patch"));
        {
            dtk_json *arr = gvk(t);

            dtk_json_set(patch, "x-kubernetes-group-version-kind",
                         dtk_json_copy(dtk_json_at(arr, 0)));
            dtk_json_free(arr);
        }
        dtk_json_set(item, "patch", patch);
        dtk_json_set(paths, path.ptr, item);
        schema_name(&name, t);
        dtk_json_set(schemas, name.ptr, object_schema(t));
    }
    dtk_json_set(doc, "paths", paths);
    dtk_json_set(components, "schemas", schemas);
    dtk_json_set(doc, "components", components);
    dtk_buf_dispose(&path);
    dtk_buf_dispose(&name);
    if (!found) {
        dtk_json_free(doc);
        return NULL;
    }
    return doc;
}

static dtk_json *v3_index(dtk_apiserver *s)
{
    dtk_json *doc = dtk_json_new_object();
    dtk_json *paths = dtk_json_new_object();
    dtk_buf key = DTK_BUF_INIT(0);
    dtk_buf url = DTK_BUF_INIT(0);

    for (size_t i = 0; i < s->type_count; i++) {
        dtk_restype *t = s->types[i];
        dtk_json *entry;

        dtk_buf_reset(&key);
        if (*t->group) {
            dtk_buf_printf(&key, "apis/%s/%s", t->group, t->version);
        } else {
            dtk_buf_printf(&key, "api/%s", t->version);
        }
        if (dtk_json_get(paths, key.ptr) != NULL) {
            continue;
        }
        dtk_buf_reset(&url);
        /* The hash changes with every write: clients refetch instead of
         * trusting a stale cached document. */
        dtk_buf_printf(&url, "/openapi/v3/%s?hash=%016" PRIx64, key.ptr,
                       (uint64_t)s->rv * 2654435761u);
        entry = dtk_json_new_object();
        dtk_json_set(entry, "serverRelativeURL", dtk_json_new_string(url.ptr));
        dtk_json_set(paths, key.ptr, entry);
    }
    dtk_json_set(doc, "paths", paths);
    dtk_buf_dispose(&key);
    dtk_buf_dispose(&url);
    return doc;
}

static dtk_json *v2_document(dtk_apiserver *s)
{
    dtk_json *doc = dtk_json_new_object();
    dtk_json *info = dtk_json_new_object();
    dtk_json *defs = dtk_json_new_object();
    dtk_buf name = DTK_BUF_INIT(0);

    dtk_json_set(doc, "swagger", dtk_json_new_string("2.0"));
    dtk_json_set(info, "title", dtk_json_new_string("Kubernetes"));
    dtk_json_set(info, "version", dtk_json_new_string("v1.32.0"));
    dtk_json_set(doc, "info", info);
    dtk_json_set(doc, "paths", dtk_json_new_object());
    for (size_t i = 0; i < s->type_count; i++) {
        if (!s->types[i]->custom) {
            continue;
        }
        schema_name(&name, s->types[i]);
        dtk_json_set(defs, name.ptr, object_schema(s->types[i]));
    }
    dtk_json_set(doc, "definitions", defs);
    dtk_buf_dispose(&name);
    return doc;
}

int dtk_openapi_serve(dtk_apiserver *s, dtk_httpserver_exchange *ex,
                      const char *path)
{
    dtk_json *doc = NULL;

    if (strcmp(path, "/openapi/v2") == 0) {
        doc = v2_document(s);
    } else if (strcmp(path, "/openapi/v3") == 0) {
        doc = v3_index(s);
    } else if (strncmp(path, "/openapi/v3/api/", 16) == 0) {
        doc = gv_document(s, "", path + 16);
    } else if (strncmp(path, "/openapi/v3/apis/", 17) == 0) {
        const char *gv = path + 17;
        const char *slash = strchr(gv, '/');

        if (slash != NULL) {
            char *group = dtk_strndup(gv, (size_t)(slash - gv));

            doc = gv_document(s, group, slash + 1);
            dtk_free(group);
        }
    }
    if (doc == NULL) {
        return 0;
    }
    dtk_respond_json(ex, 200, doc);
    dtk_json_free(doc);
    return 1;
}

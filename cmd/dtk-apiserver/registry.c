/* Served resource types: the built-in kinds an operator needs and the kinds
 * defined by CustomResourceDefinitions, plus the discovery documents.
 * Caller holds dtk_apiserver.mu for every function here. */
#include "cmd/dtk-apiserver/apiserver.h"

#include <stdlib.h>
#include <string.h>

#include "cmd/dtk-apiserver/fielderr.h"
#include "cmd/dtk-apiserver/schema.h"
#include "cmd/dtk-apiserver/smp.h"
#include "pkg/base/alloc.h"

typedef struct builtin {
    const char *group, *version, *resource, *singular, *kind, *short_name;
    int namespaced, has_status, generation;
} builtin;

static const builtin builtins[] = {
    {"", "v1", "namespaces", "namespace", "Namespace", "ns", 0, 1, 0},
    {"", "v1", "secrets", "secret", "Secret", NULL, 1, 0, 0},
    {"", "v1", "configmaps", "configmap", "ConfigMap", "cm", 1, 0, 0},
    {"", "v1", "events", "event", "Event", "ev", 1, 0, 0},
    {"", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", "sa", 1,
     0, 0},
    {"coordination.k8s.io", "v1", "leases", "lease", "Lease", NULL, 1, 0, 0},
    {"apps", "v1", "controllerrevisions", "controllerrevision",
     "ControllerRevision", NULL, 1, 0, 0},
    {"events.k8s.io", "v1", "events", "event", "Event", "ev", 1, 0, 0},
    {"apiextensions.k8s.io", "v1", "customresourcedefinitions",
     "customresourcedefinition", "CustomResourceDefinition", "crd", 0, 1, 1},
};

dtk_bucket *dtk_registry_bucket(dtk_apiserver *s, const char *group,
                                const char *resource)
{
    dtk_buf gr = DTK_BUF_INIT(0);
    dtk_bucket *b;

    dtk_buf_printf(&gr, "%s/%s", group, resource);
    b = dtk_map_get(&s->buckets, dtk_buf_cstr(&gr));
    if (b == NULL) {
        b = dtk_calloc(1, sizeof(*b));
        b->group_resource = dtk_buf_detach(&gr);
        dtk_map_put(&s->buckets, b->group_resource, b);
    }
    dtk_buf_dispose(&gr);
    return b;
}

static void add_type(dtk_apiserver *s, dtk_restype *t)
{
    t->bucket = dtk_registry_bucket(s, t->group, t->resource);
    t->bucket->refs++;
    s->types = dtk_realloc(s->types, (s->type_count + 1) * sizeof(*s->types));
    s->types[s->type_count++] = t;
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        dtk_free(v[i]);
    }
    dtk_free(v);
}

static void restype_free(dtk_restype *t)
{
    dtk_free(t->group);
    dtk_free(t->version);
    dtk_free(t->resource);
    dtk_free(t->singular);
    dtk_free(t->kind);
    dtk_free(t->list_kind);
    free_strings(t->short_names, t->short_name_count);
    free_strings(t->categories, t->category_count);
    dtk_free(t->crd_name);
    dtk_json_free(t->schema);
    dtk_schema_free(t->compiled);
    dtk_json_free(t->columns);
    dtk_json_free(t->selectable_fields);
    dtk_free(t);
}

void dtk_registry_add_builtins(dtk_apiserver *s)
{
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
        const builtin *b = &builtins[i];
        dtk_restype *t = dtk_calloc(1, sizeof(*t));
        dtk_buf lk = DTK_BUF_INIT(0);

        t->group = dtk_strdup(b->group);
        t->version = dtk_strdup(b->version);
        t->resource = dtk_strdup(b->resource);
        t->singular = dtk_strdup(b->singular);
        t->kind = dtk_strdup(b->kind);
        dtk_buf_printf(&lk, "%sList", b->kind);
        t->list_kind = dtk_buf_detach(&lk);
        t->namespaced = b->namespaced;
        t->has_status = b->has_status;
        t->generation = b->generation;
        t->strategic_merge = dtk_smp_supported(b->group, b->kind);
        t->storage_version = 1;
        if (b->short_name != NULL) {
            t->short_names = dtk_calloc(1, sizeof(char *));
            t->short_names[0] = dtk_strdup(b->short_name);
            t->short_name_count = 1;
        }
        add_type(s, t);
    }
}

void dtk_registry_dispose(dtk_apiserver *s)
{
    for (size_t i = 0; i < s->type_count; i++) {
        restype_free(s->types[i]);
    }
    dtk_free(s->types);
    s->types = NULL;
    s->type_count = 0;
}

dtk_restype *dtk_registry_find(dtk_apiserver *s, const char *group,
                               const char *version, const char *resource)
{
    for (size_t i = 0; i < s->type_count; i++) {
        dtk_restype *t = s->types[i];

        if (strcmp(t->group, group) == 0 && strcmp(t->version, version) == 0 &&
            strcmp(t->resource, resource) == 0) {
            return t;
        }
    }
    return NULL;
}

dtk_restype *dtk_registry_storage_type(dtk_apiserver *s, dtk_bucket *b)
{
    dtk_restype *any = NULL;

    for (size_t i = 0; i < s->type_count; i++) {
        if (s->types[i]->bucket == b) {
            if (s->types[i]->storage_version) {
                return s->types[i];
            }
            any = s->types[i];
        }
    }
    return any;
}

/* ---- CustomResourceDefinitions ------------------------------------------ */

int dtk_registry_validate_crd(const dtk_json *crd, dtk_fielderr_list *errs)
{
    const dtk_json *spec = dtk_json_get(crd, "spec");
    const dtk_json *names = dtk_json_get(spec, "names");
    const char *group = dtk_json_get_string(spec, "group");
    const char *plural = dtk_json_get_string(names, "plural");
    const char *kind = dtk_json_get_string(names, "kind");
    const char *scope = dtk_json_get_string(spec, "scope");
    const char *name = dtk_meta_get(crd, "name");
    const dtk_json *versions = dtk_json_get(spec, "versions");
    size_t before = errs->len;
    int storage = 0;

    if (group == NULL || *group == '\0') {
        dtk_fielderr_required(errs, "spec.group", NULL);
    } else if (!dtk_meta_is_dns_subdomain(group) || strchr(group, '.') == NULL) {
        dtk_fielderr_invalid(errs, "spec.group", dtk_json_get(spec, "group"),
                             "should be a domain with at least one dot");
    }
    if (plural == NULL || *plural == '\0') {
        dtk_fielderr_required(errs, "spec.names.plural", NULL);
    } else if (!dtk_meta_is_dns_label(plural, 63)) {
        dtk_fielderr_invalid(errs, "spec.names.plural",
                             dtk_json_get(names, "plural"),
                             "a lowercase RFC 1123 label must consist of lower "
                             "case alphanumeric characters or '-', and must "
                             "start and end with an alphanumeric character");
    }
    if (kind == NULL || *kind == '\0') {
        dtk_fielderr_required(errs, "spec.names.kind", NULL);
    }
    if (scope == NULL || (strcmp(scope, "Namespaced") != 0 &&
                          strcmp(scope, "Cluster") != 0)) {
        static const char *const scopes[] = {"\"Cluster\"", "\"Namespaced\""};

        if (scope == NULL) {
            dtk_fielderr_required(errs, "spec.scope", NULL);
        } else {
            dtk_fielderr_not_supported(errs, "spec.scope",
                                       dtk_json_get(spec, "scope"), scopes, 2);
        }
    }
    if (group != NULL && plural != NULL && name != NULL) {
        dtk_buf expect = DTK_BUF_INIT(0);

        dtk_buf_printf(&expect, "%s.%s", plural, group);
        if (strcmp(name, dtk_buf_cstr(&expect)) != 0) {
            dtk_fielderr_invalid(
                errs, "metadata.name",
                dtk_json_path(crd, (const char *const[]){"metadata", "name",
                                                         NULL}),
                "must be spec.names.plural+\".\"+spec.group");
        }
        dtk_buf_dispose(&expect);
    }
    if (dtk_json_len(versions) == 0 ||
        versions->type != DTK_JSON_ARRAY) {
        dtk_fielderr_invalid(errs, "spec.versions", versions,
                             "must have exactly one version marked as storage "
                             "version");
        return errs->len > before ? -1 : 0;
    }
    for (size_t i = 0; i < dtk_json_len(versions); i++) {
        const dtk_json *v = dtk_json_at(versions, i);
        const dtk_json *schema = dtk_json_path(
            v, (const char *const[]){"schema", "openAPIV3Schema", NULL});
        char field[96];

        if (dtk_json_get_string(v, "name") == NULL) {
            snprintf(field, sizeof(field), "spec.versions[%zu].name", i);
            dtk_fielderr_required(errs, field, NULL);
        }
        if (dtk_json_get(v, "storage") != NULL &&
            dtk_json_get(v, "storage")->type == DTK_JSON_BOOL &&
            dtk_json_get(v, "storage")->u.boolean) {
            storage++;
        }
        snprintf(field, sizeof(field),
                 "spec.versions[%zu].schema.openAPIV3Schema", i);
        if (schema == NULL) {
            dtk_fielderr_required(errs, field, "schemas are required");
        } else {
            dtk_schema_check_structural(schema, field, errs);
        }
    }
    if (storage != 1) {
        dtk_fielderr_invalid(errs, "spec.versions", NULL,
                             "must have exactly one version marked as storage "
                             "version");
    }
    return errs->len > before ? -1 : 0;
}

static char **string_array(const dtk_json *arr, size_t *count_out)
{
    size_t n = dtk_json_len(arr);
    char **out = NULL;
    size_t count = 0;

    if (n > 0 && arr->type == DTK_JSON_ARRAY) {
        out = dtk_calloc(n, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
            const char *v = dtk_json_string(dtk_json_at(arr, i));

            if (v != NULL) {
                out[count++] = dtk_strdup(v);
            }
        }
    }
    *count_out = count;
    return out;
}

void dtk_registry_remove_crd(dtk_apiserver *s, const char *crd_name)
{
    size_t kept = 0;

    for (size_t i = 0; i < s->type_count; i++) {
        dtk_restype *t = s->types[i];

        if (t->custom && strcmp(t->crd_name, crd_name) == 0) {
            t->bucket->refs--;
            restype_free(t);
        } else {
            s->types[kept++] = t;
        }
    }
    s->type_count = kept;
}

void dtk_registry_apply_crd(dtk_apiserver *s, const dtk_json *crd)
{
    const char *crd_name = dtk_meta_get(crd, "name");
    const dtk_json *spec = dtk_json_get(crd, "spec");
    const dtk_json *names = dtk_json_get(spec, "names");
    const dtk_json *versions = dtk_json_get(spec, "versions");
    const char *kind = dtk_json_get_string(names, "kind");
    const char *list_kind = dtk_json_get_string(names, "listKind");
    const char *singular = dtk_json_get_string(names, "singular");

    dtk_registry_remove_crd(s, crd_name);
    for (size_t i = 0; i < dtk_json_len(versions); i++) {
        const dtk_json *v = dtk_json_at(versions, i);
        const dtk_json *served = dtk_json_get(v, "served");
        const dtk_json *storage = dtk_json_get(v, "storage");
        dtk_restype *t;
        dtk_buf lk = DTK_BUF_INIT(0);
        char *lower;

        if (served != NULL && served->type == DTK_JSON_BOOL &&
            !served->u.boolean) {
            continue;
        }
        t = dtk_calloc(1, sizeof(*t));
        t->group = dtk_strdup(dtk_json_get_string(spec, "group"));
        t->version = dtk_strdup(dtk_json_get_string(v, "name"));
        t->resource = dtk_strdup(dtk_json_get_string(names, "plural"));
        t->kind = dtk_strdup(kind);
        if (list_kind != NULL) {
            t->list_kind = dtk_strdup(list_kind);
        } else {
            dtk_buf_printf(&lk, "%sList", kind);
            t->list_kind = dtk_buf_detach(&lk);
        }
        if (singular != NULL) {
            t->singular = dtk_strdup(singular);
        } else {
            lower = dtk_strdup(kind);
            for (char *p = lower; *p; p++) {
                if (*p >= 'A' && *p <= 'Z') {
                    *p = (char)(*p - 'A' + 'a');
                }
            }
            t->singular = lower;
        }
        t->namespaced =
            strcmp(dtk_json_get_string(spec, "scope"), "Namespaced") == 0;
        t->short_names = string_array(dtk_json_get(names, "shortNames"),
                                      &t->short_name_count);
        t->categories = string_array(dtk_json_get(names, "categories"),
                                     &t->category_count);
        t->has_status = dtk_json_path(v, (const char *const[]){
                                             "subresources", "status",
                                             NULL}) != NULL;
        t->custom = 1;
        t->generation = 1;
        t->storage_version = storage != NULL &&
                             storage->type == DTK_JSON_BOOL &&
                             storage->u.boolean;
        t->crd_name = dtk_strdup(crd_name);
        t->schema = dtk_json_copy(dtk_json_path(
            v, (const char *const[]){"schema", "openAPIV3Schema", NULL}));
        if (t->schema != NULL) {
            dtk_fielderr_list ignored = DTK_FIELDERR_LIST_INIT;

            /* Validated when the CRD was written; a CRD replayed from an
             * older data directory that no longer compiles is served
             * without validation rather than not at all. */
            dtk_schema_compile(&t->compiled, t->schema, "", &ignored);
            dtk_fielderr_list_dispose(&ignored);
        }
        t->columns = dtk_json_copy(dtk_json_get(v, "additionalPrinterColumns"));
        t->selectable_fields =
            dtk_json_copy(dtk_json_get(v, "selectableFields"));
        add_type(s, t);
        dtk_buf_dispose(&lk);
    }
}

/* ---- discovery --------------------------------------------------------- */

/* Kubernetes version priority: GA > beta > alpha, then by number. Returns
 * <0 when a sorts before b (a is preferred). */
static int version_rank(const char *v, long *major, int *stage, long *minor)
{
    char *end = NULL;

    *major = 0;
    *stage = 3;
    *minor = 0;
    if (v[0] != 'v' || v[1] < '0' || v[1] > '9') {
        return 0;
    }
    *major = strtol(v + 1, &end, 10);
    if (*end == '\0') {
        return 1;
    }
    if (strncmp(end, "beta", 4) == 0) {
        *stage = 2;
        end += 4;
    } else if (strncmp(end, "alpha", 5) == 0) {
        *stage = 1;
        end += 5;
    } else {
        return 0;
    }
    *minor = strtol(end, NULL, 10);
    return 1;
}

static int version_cmp(const char *a, const char *b)
{
    long ma, mb, na, nb;
    int sa, sb;
    int ka = version_rank(a, &ma, &sa, &na);
    int kb = version_rank(b, &mb, &sb, &nb);

    if (ka != kb) {
        return kb - ka;
    }
    if (!ka) {
        return strcmp(a, b);
    }
    if (sa != sb) {
        return sb - sa;
    }
    if (ma != mb) {
        return ma > mb ? -1 : 1;
    }
    return na > nb ? -1 : (na < nb ? 1 : 0);
}

dtk_json *dtk_registry_api_versions(dtk_apiserver *s)
{
    dtk_json *doc = dtk_json_new_object();
    dtk_json *versions = dtk_json_new_array();
    dtk_json *addrs = dtk_json_new_array();
    dtk_json *addr = dtk_json_new_object();
    char server[64];

    snprintf(server, sizeof(server), "127.0.0.1:%d",
             s->http ? dtk_httpserver_port(s->http) : s->config.port);
    dtk_json_set(doc, "kind", dtk_json_new_string("APIVersions"));
    dtk_json_append(versions, dtk_json_new_string("v1"));
    dtk_json_set(doc, "versions", versions);
    dtk_json_set(addr, "clientCIDR", dtk_json_new_string("0.0.0.0/0"));
    dtk_json_set(addr, "serverAddress", dtk_json_new_string(server));
    dtk_json_append(addrs, addr);
    dtk_json_set(doc, "serverAddressByClientCIDRs", addrs);
    return doc;
}

/* The sorted distinct versions of a group, preferred first. */
static size_t group_versions(dtk_apiserver *s, const char *group,
                             const char **out, size_t max)
{
    size_t n = 0;

    for (size_t i = 0; i < s->type_count; i++) {
        const char *v = s->types[i]->version;
        int seen = 0;

        if (strcmp(s->types[i]->group, group) != 0) {
            continue;
        }
        for (size_t j = 0; j < n; j++) {
            seen |= strcmp(out[j], v) == 0;
        }
        if (!seen && n < max) {
            out[n++] = v;
        }
    }
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i; j > 0 && version_cmp(out[j], out[j - 1]) < 0; j--) {
            const char *tmp = out[j];

            out[j] = out[j - 1];
            out[j - 1] = tmp;
        }
    }
    return n;
}

static dtk_json *group_doc(dtk_apiserver *s, const char *group)
{
    const char *versions[32];
    size_t n = group_versions(s, group, versions, 32);
    dtk_json *g;
    dtk_json *list;

    if (n == 0) {
        return NULL;
    }
    g = dtk_json_new_object();
    list = dtk_json_new_array();
    dtk_json_set(g, "name", dtk_json_new_string(group));
    for (size_t i = 0; i < n; i++) {
        dtk_json *gv = dtk_json_new_object();
        dtk_buf text = DTK_BUF_INIT(0);

        dtk_buf_printf(&text, "%s/%s", group, versions[i]);
        dtk_json_set(gv, "groupVersion", dtk_json_new_string(text.ptr));
        dtk_json_set(gv, "version", dtk_json_new_string(versions[i]));
        if (i == 0) {
            dtk_json_set(g, "preferredVersion", dtk_json_copy(gv));
        }
        dtk_json_append(list, gv);
        dtk_buf_dispose(&text);
    }
    dtk_json_set(g, "versions", list);
    /* preferredVersion after versions, as Kubernetes orders it. */
    dtk_json_set(g, "preferredVersion",
                 dtk_json_take(g, "preferredVersion"));
    return g;
}

dtk_json *dtk_registry_group(dtk_apiserver *s, const char *group)
{
    dtk_json *g = group_doc(s, group);

    if (g != NULL) {
        dtk_json *doc = dtk_json_new_object();

        dtk_json_set(doc, "kind", dtk_json_new_string("APIGroup"));
        dtk_json_set(doc, "apiVersion", dtk_json_new_string("v1"));
        for (size_t i = 0; i < g->u.object.len; i++) {
            dtk_json_set(doc, g->u.object.keys[i],
                         dtk_json_copy(g->u.object.values[i]));
        }
        dtk_json_free(g);
        return doc;
    }
    return NULL;
}

dtk_json *dtk_registry_group_list(dtk_apiserver *s)
{
    dtk_json *doc = dtk_json_new_object();
    dtk_json *groups = dtk_json_new_array();
    const char *seen[256];
    size_t n = 0;

    dtk_json_set(doc, "kind", dtk_json_new_string("APIGroupList"));
    dtk_json_set(doc, "apiVersion", dtk_json_new_string("v1"));
    for (size_t i = 0; i < s->type_count; i++) {
        const char *g = s->types[i]->group;
        int dup = *g == '\0';

        for (size_t j = 0; j < n && !dup; j++) {
            dup = strcmp(seen[j], g) == 0;
        }
        if (!dup && n < 256) {
            seen[n++] = g;
            dtk_json_append(groups, group_doc(s, g));
        }
    }
    dtk_json_set(doc, "groups", groups);
    return doc;
}

static dtk_json *string_list(char **v, size_t n)
{
    dtk_json *arr = dtk_json_new_array();

    for (size_t i = 0; i < n; i++) {
        dtk_json_append(arr, dtk_json_new_string(v[i]));
    }
    return arr;
}

static dtk_json *verbs(const char *const *v)
{
    dtk_json *arr = dtk_json_new_array();

    for (; *v; v++) {
        dtk_json_append(arr, dtk_json_new_string(*v));
    }
    return arr;
}

dtk_json *dtk_registry_resource_list(dtk_apiserver *s, const char *group,
                                     const char *version)
{
    static const char *const all_verbs[] = {
        "create", "delete", "deletecollection", "get", "list",
        "patch",  "update", "watch",            NULL};
    static const char *const status_verbs[] = {"get", "patch", "update",
                                               NULL};
    dtk_json *doc;
    dtk_json *resources;
    dtk_buf gv = DTK_BUF_INIT(0);
    int found = 0;

    for (size_t i = 0; i < s->type_count && !found; i++) {
        found = strcmp(s->types[i]->group, group) == 0 &&
                strcmp(s->types[i]->version, version) == 0;
    }
    if (!found) {
        return NULL;
    }
    doc = dtk_json_new_object();
    resources = dtk_json_new_array();
    dtk_json_set(doc, "kind", dtk_json_new_string("APIResourceList"));
    dtk_json_set(doc, "apiVersion", dtk_json_new_string("v1"));
    if (*group) {
        dtk_buf_printf(&gv, "%s/%s", group, version);
    } else {
        dtk_buf_puts(&gv, version);
    }
    dtk_json_set(doc, "groupVersion", dtk_json_new_string(gv.ptr));
    for (size_t i = 0; i < s->type_count; i++) {
        dtk_restype *t = s->types[i];
        dtk_json *r;

        if (strcmp(t->group, group) != 0 || strcmp(t->version, version) != 0) {
            continue;
        }
        r = dtk_json_new_object();
        dtk_json_set(r, "name", dtk_json_new_string(t->resource));
        dtk_json_set(r, "singularName", dtk_json_new_string(t->singular));
        dtk_json_set(r, "namespaced", dtk_json_new_bool(t->namespaced));
        dtk_json_set(r, "kind", dtk_json_new_string(t->kind));
        dtk_json_set(r, "verbs", verbs(all_verbs));
        if (t->short_name_count) {
            dtk_json_set(r, "shortNames",
                         string_list(t->short_names, t->short_name_count));
        }
        if (t->category_count) {
            dtk_json_set(r, "categories",
                         string_list(t->categories, t->category_count));
        }
        dtk_json_append(resources, r);
        if (t->has_status) {
            dtk_buf sub = DTK_BUF_INIT(0);

            r = dtk_json_new_object();
            dtk_buf_printf(&sub, "%s/status", t->resource);
            dtk_json_set(r, "name", dtk_json_new_string(sub.ptr));
            dtk_json_set(r, "singularName", dtk_json_new_string(""));
            dtk_json_set(r, "namespaced", dtk_json_new_bool(t->namespaced));
            dtk_json_set(r, "kind", dtk_json_new_string(t->kind));
            dtk_json_set(r, "verbs", verbs(status_verbs));
            dtk_json_append(resources, r);
            dtk_buf_dispose(&sub);
        }
    }
    dtk_json_set(doc, "resources", resources);
    dtk_buf_dispose(&gv);
    return doc;
}

/* /v2/catalog decoding into dtk_osb_catalog.
 *
 * Required fields (service name, id, description, bindable, plans with at
 * least one entry; plan id, name, description) are checked and errors name
 * the JSON path. Optional fields of the wrong type fall back to their
 * defaults: a vendor quirk in an optional field must not hide the whole
 * catalog. Unknown fields are ignored. Plan schemas are moved out of the
 * parsed document, not copied.
 */
#include <stdio.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/error.h"
#include "pkg/osb/osb.h"
#include "pkg/osb/osb_int.h"

static int get_bool_or(const dtk_json *obj, const char *key, int dflt)
{
    const dtk_json *v = dtk_json_get(obj, key);

    return v != NULL && v->type == DTK_JSON_BOOL ? v->u.boolean : dflt;
}

static int require_string(char **out,
                          const dtk_json *obj,
                          const char *key,
                          const char *path)
{
    const dtk_json *v = dtk_json_get(obj, key);

    if (v == NULL || v->type != DTK_JSON_STRING || v->u.string.len == 0) {
        dtk_error_set(DTK_ERRCLASS_OSB, "%s.%s: expected a non-empty string",
                      path, key);
        return DTK_ERROR;
    }
    *out = dtk_strndup(v->u.string.ptr, v->u.string.len);
    return 0;
}

static char *optional_string(const dtk_json *obj, const char *key)
{
    const dtk_json *v = dtk_json_get(obj, key);

    if (v == NULL || v->type != DTK_JSON_STRING) {
        return NULL;
    }
    return dtk_strndup(v->u.string.ptr, v->u.string.len);
}

/* Moves schemas.<a>.<b>.parameters out of plan when it is an object. */
static dtk_json *take_schema(dtk_json *plan, const char *a, const char *b)
{
    const char *const path[] = {"schemas", a, b, NULL};
    dtk_json *holder = dtk_json_path(plan, path);
    const dtk_json *s = dtk_json_get(holder, "parameters");

    if (s == NULL || s->type != DTK_JSON_OBJECT) {
        return NULL;
    }
    return dtk_json_take(holder, "parameters");
}

static void plan_dispose(dtk_osb_plan *p)
{
    dtk_free(p->id);
    dtk_free(p->name);
    dtk_free(p->description);
    dtk_free(p->maintenance_version);
    dtk_free(p->maintenance_description);
    dtk_json_free(p->schema_instance_create);
    dtk_json_free(p->schema_instance_update);
    dtk_json_free(p->schema_binding_create);
}

static void service_dispose(dtk_osb_service *s)
{
    dtk_free(s->id);
    dtk_free(s->name);
    dtk_free(s->description);
    for (size_t i = 0; i < s->plan_count; i++) {
        plan_dispose(&s->plans[i]);
    }
    dtk_free(s->plans);
}

void dtk_osb_catalog_free(dtk_osb_catalog *catalog)
{
    if (catalog == NULL) {
        return;
    }
    for (size_t i = 0; i < catalog->service_count; i++) {
        service_dispose(&catalog->services[i]);
    }
    dtk_free(catalog->services);
    dtk_free(catalog);
}

static int decode_plan(dtk_osb_plan *p,
                       dtk_json *obj,
                       const dtk_osb_service *s,
                       const char *path)
{
    const dtk_json *v;
    const dtk_json *mi;
    int64_t n;
    int error;

    if (obj->type != DTK_JSON_OBJECT) {
        dtk_error_set(DTK_ERRCLASS_OSB, "%s: expected an object", path);
        return DTK_ERROR;
    }
    if ((error = require_string(&p->id, obj, "id", path)) < 0 ||
        (error = require_string(&p->name, obj, "name", path)) < 0 ||
        (error = require_string(&p->description, obj, "description", path)) <
            0) {
        return error;
    }
    p->free = get_bool_or(obj, "free", 1);
    p->bindable = get_bool_or(obj, "bindable", s->bindable);
    p->plan_updateable =
        get_bool_or(obj, "plan_updateable", s->plan_updateable);
    p->binding_rotatable = get_bool_or(obj, "binding_rotatable", 0);
    v = dtk_json_get(obj, "maximum_polling_duration");
    if (v != NULL && dtk_json_is_integer(v) && dtk_json_int(&n, v) == 0 &&
        n > 0 && n < 100L * 365 * 86400) {
        p->maximum_polling_duration = (long)n;
    }
    dtk_error_clear();
    mi = dtk_json_get(obj, "maintenance_info");
    if (mi != NULL && mi->type == DTK_JSON_OBJECT) {
        p->maintenance_version = optional_string(mi, "version");
        if (p->maintenance_version != NULL) {
            p->maintenance_description = optional_string(mi, "description");
        }
    }
    p->schema_instance_create = take_schema(obj, "service_instance", "create");
    p->schema_instance_update = take_schema(obj, "service_instance", "update");
    p->schema_binding_create = take_schema(obj, "service_binding", "create");
    return 0;
}

static int decode_service(dtk_osb_service *s, dtk_json *obj, size_t index)
{
    char path[96];
    char plan_path[128];
    const dtk_json *bindable;
    dtk_json *plans;
    int error;

    /* Neither snprintf can truncate: an index has at most 20 digits. */
    snprintf(path, sizeof(path), "services[%zu]", index);
    if (obj->type != DTK_JSON_OBJECT) {
        dtk_error_set(DTK_ERRCLASS_OSB, "%s: expected an object", path);
        return DTK_ERROR;
    }
    if ((error = require_string(&s->id, obj, "id", path)) < 0 ||
        (error = require_string(&s->name, obj, "name", path)) < 0 ||
        (error = require_string(&s->description, obj, "description", path)) <
            0) {
        return error;
    }
    bindable = dtk_json_get(obj, "bindable");
    if (bindable == NULL || bindable->type != DTK_JSON_BOOL) {
        dtk_error_set(DTK_ERRCLASS_OSB, "%s.bindable: expected a boolean",
                      path);
        return DTK_ERROR;
    }
    s->bindable = bindable->u.boolean;
    s->plan_updateable = get_bool_or(obj, "plan_updateable", 0);
    s->instances_retrievable = get_bool_or(obj, "instances_retrievable", 0);
    s->bindings_retrievable = get_bool_or(obj, "bindings_retrievable", 0);
    s->allow_context_updates = get_bool_or(obj, "allow_context_updates", 0);
    plans = dtk_json_get(obj, "plans");
    if (plans == NULL || plans->type != DTK_JSON_ARRAY ||
        dtk_json_len(plans) == 0) {
        dtk_error_set(DTK_ERRCLASS_OSB,
                      "%s.plans: expected an array of at least one plan", path);
        return DTK_ERROR;
    }
    s->plans = dtk_calloc(dtk_json_len(plans), sizeof(*s->plans));
    for (size_t i = 0; i < dtk_json_len(plans); i++) {
        snprintf(plan_path, sizeof(plan_path), "%s.plans[%zu]", path, i);
        s->plan_count = i + 1;
        error = decode_plan(&s->plans[i], dtk_json_at(plans, i), s, plan_path);
        if (error < 0) {
            return error;
        }
    }
    return 0;
}

int dtk_osb__catalog_decode(dtk_osb_catalog **out, dtk_json *doc)
{
    dtk_osb_catalog *cat = NULL;
    dtk_json *services = dtk_json_get(doc, "services");
    int error = 0;

    *out = NULL;
    if (services == NULL || services->type != DTK_JSON_ARRAY) {
        dtk_error_set(DTK_ERRCLASS_OSB, "services: expected an array");
        return DTK_ERROR;
    }
    cat = dtk_calloc(1, sizeof(*cat));
    cat->services = dtk_calloc(dtk_json_len(services), sizeof(*cat->services));
    for (size_t i = 0; i < dtk_json_len(services); i++) {
        cat->service_count = i + 1;
        error = decode_service(&cat->services[i], dtk_json_at(services, i), i);
        if (error < 0) {
            goto out;
        }
    }
    *out = cat;
    cat = NULL;
out:
    dtk_osb_catalog_free(cat);
    return error;
}

int dtk_osb_catalog_parse(dtk_osb_catalog **out, const char *body, size_t len)
{
    dtk_json *doc = NULL;
    int error;

    *out = NULL;
    error = dtk_json_parse(&doc, body, len);
    if (error < 0) {
        dtk_error_prefix("catalog");
        return error;
    }
    error = dtk_osb__catalog_decode(out, doc);
    dtk_json_free(doc);
    return error;
}

const dtk_osb_service *dtk_osb_catalog_service(const dtk_osb_catalog *catalog,
                                               const char *id_or_name)
{
    if (catalog == NULL || id_or_name == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < catalog->service_count; i++) {
        if (strcmp(catalog->services[i].id, id_or_name) == 0) {
            return &catalog->services[i];
        }
    }
    for (size_t i = 0; i < catalog->service_count; i++) {
        if (strcmp(catalog->services[i].name, id_or_name) == 0) {
            return &catalog->services[i];
        }
    }
    return NULL;
}

const dtk_osb_plan *dtk_osb_service_plan(const dtk_osb_service *service,
                                         const char *id_or_name)
{
    if (service == NULL || id_or_name == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < service->plan_count; i++) {
        if (strcmp(service->plans[i].id, id_or_name) == 0) {
            return &service->plans[i];
        }
    }
    for (size_t i = 0; i < service->plan_count; i++) {
        if (strcmp(service->plans[i].name, id_or_name) == 0) {
            return &service->plans[i];
        }
    }
    return NULL;
}

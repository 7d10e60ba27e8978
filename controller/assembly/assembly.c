/* Assembly decoding and validation (see assembly.h). */
#include "controller/assembly/assembly.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "controller/common/expr.h"
#include "controller/common/problems.h"
#include "pkg/base/alloc.h"
#include "pkg/base/digest.h"
#include "pkg/base/error.h"

void dtk_assembly_free(dtk_assembly *a)
{
    if (a == NULL) {
        return;
    }
    for (size_t i = 0; i < a->component_count; i++) {
        dtk_free(a->components[i].deps);
    }
    dtk_free(a->components);
    dtk_free(a->params);
    dtk_free(a->order);
    dtk_json_free(a->spec);
    dtk_free(a);
}

int dtk_assembly_revision(char *out, const dtk_json *spec)
{
    dtk_json *canon = dtk_json_copy(spec);
    dtk_buf text = DTK_BUF_INIT(0);
    char hex[DTK_DIGEST_SHA256_HEX_SIZE];
    int error;

    dtk_json_sort_keys(canon);
    error = dtk_json_write(&text, canon);
    if (error == 0) {
        error = dtk_digest_sha256_hex(hex, dtk_buf_cstr(&text), text.len);
    }
    if (error == 0) {
        memcpy(out, hex, 10);
        out[10] = '\0';
    }
    dtk_json_free(canon);
    dtk_buf_dispose(&text);
    return error;
}

long dtk_assembly_find(const dtk_assembly *a, const char *name)
{
    for (size_t i = 0; i < a->component_count; i++) {
        if (strcmp(a->components[i].name, name) == 0) {
            return (long)i;
        }
    }
    return -1;
}

const dtk_asm_param *dtk_assembly_param(const dtk_assembly *a,
                                        const char *name)
{
    for (size_t i = 0; i < a->param_count; i++) {
        if (strcmp(a->params[i].name, name) == 0) {
            return &a->params[i];
        }
    }
    return NULL;
}

static int type_matches(const char *type, const dtk_json *v)
{
    if (strcmp(type, "string") == 0) {
        return v->type == DTK_JSON_STRING;
    }
    if (strcmp(type, "integer") == 0) {
        return dtk_json_is_integer(v);
    }
    if (strcmp(type, "number") == 0) {
        return v->type == DTK_JSON_NUMBER;
    }
    if (strcmp(type, "boolean") == 0) {
        return v->type == DTK_JSON_BOOL;
    }
    if (strcmp(type, "object") == 0) {
        return v->type == DTK_JSON_OBJECT;
    }
    if (strcmp(type, "array") == 0) {
        return v->type == DTK_JSON_ARRAY;
    }
    return 0;
}

int dtk_assembly_check_value(const dtk_asm_param *p, const dtk_json *value)
{
    dtk_buf allowed = DTK_BUF_INIT(0);
    int found = 0;

    if (!type_matches(p->type, value)) {
        dtk_error_set(DTK_ERRCLASS_INVALID, "parameter %s: must be %s %s",
                      p->name, strcmp(p->type, "integer") == 0 ? "an" : "a",
                      p->type);
        return DTK_EINVALID;
    }
    if (p->enum_values == NULL || dtk_json_len(p->enum_values) == 0) {
        return 0;
    }
    for (size_t i = 0; i < dtk_json_len(p->enum_values); i++) {
        const dtk_json *e = dtk_json_at(p->enum_values, i);

        found |= dtk_json_equal(e, value);
        if (!p->sensitive) {
            if (i > 0) {
                dtk_buf_puts(&allowed, ", ");
            }
            if (e->type == DTK_JSON_STRING) {
                dtk_buf_printf(&allowed, "'%s'", e->u.string.ptr);
            } else {
                dtk_json_write(&allowed, e);
            }
        }
    }
    if (!found) {
        if (p->sensitive) {
            dtk_error_set(DTK_ERRCLASS_INVALID,
                          "parameter %s: must be one of the declared values",
                          p->name);
        } else {
            dtk_error_set(DTK_ERRCLASS_INVALID,
                          "parameter %s: must be one of %s", p->name,
                          dtk_buf_cstr(&allowed));
        }
    }
    dtk_buf_dispose(&allowed);
    return found ? 0 : DTK_EINVALID;
}

static int is_dns_label(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 63) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 (c == '-' && i > 0 && i + 1 < n);

        if (!ok) {
            return 0;
        }
    }
    return 1;
}

static void decode_params(dtk_assembly *a, dtk_buf *problems)
{
    const dtk_json *list = dtk_json_get(a->spec, "parameters");
    size_t n = dtk_json_len(list);

    if (list != NULL && list->type != DTK_JSON_ARRAY) {
        dtk_problem_add(problems, "spec.parameters: must be a list");
        return;
    }
    a->params = dtk_calloc(n ? n : 1, sizeof(dtk_asm_param));
    for (size_t i = 0; i < n; i++) {
        const dtk_json *d = dtk_json_at(list, i);
        dtk_asm_param *p = &a->params[a->param_count];
        const char *type = dtk_json_get_string(d, "type");
        const dtk_json *req = dtk_json_get(d, "required");
        const dtk_json *sens = dtk_json_get(d, "sensitive");

        p->name = dtk_json_get_string(d, "name");
        if (p->name == NULL || *p->name == '\0') {
            dtk_problem_add(problems, "spec.parameters[%zu].name: required", i);
            continue;
        }
        if (dtk_assembly_param(a, p->name) != NULL) {
            dtk_problem_add(problems, "spec.parameters[%zu]: parameter %s is declared "
                    "twice", i, p->name);
            continue;
        }
        p->type = type ? type : "string";
        if (strcmp(p->type, "string") != 0 && strcmp(p->type, "integer") != 0 &&
            strcmp(p->type, "number") != 0 && strcmp(p->type, "boolean") != 0 &&
            strcmp(p->type, "object") != 0 && strcmp(p->type, "array") != 0) {
            dtk_problem_add(problems, "spec.parameters[%zu].type: '%s' is not one of "
                    "string, integer, number, boolean, object, array",
                    i, p->type);
            continue;
        }
        p->default_value = dtk_json_get(d, "default");
        p->enum_values = dtk_json_get(d, "enum");
        p->required = req && req->type == DTK_JSON_BOOL && req->u.boolean;
        p->sensitive = sens && sens->type == DTK_JSON_BOOL && sens->u.boolean;
        a->param_count++;
        for (size_t k = 0; k < dtk_json_len(p->enum_values); k++) {
            if (!type_matches(p->type, dtk_json_at(p->enum_values, k))) {
                dtk_problem_add(problems, "spec.parameters[%zu].enum[%zu]: must be "
                        "of type %s", i, k, p->type);
            }
        }
        if (p->default_value != NULL &&
            dtk_assembly_check_value(p, p->default_value) < 0) {
            dtk_problem_add(problems, "spec.parameters[%zu].default: %s", i,
                    dtk_error_last()->message);
            dtk_error_clear();
        }
    }
}

static void decode_components(dtk_assembly *a, dtk_buf *problems)
{
    const dtk_json *list = dtk_json_get(a->spec, "components");
    size_t n = dtk_json_len(list);

    a->components = dtk_calloc(n ? n : 1, sizeof(dtk_asm_component));
    for (size_t i = 0; i < n; i++) {
        const dtk_json *c = dtk_json_at(list, i);
        dtk_asm_component *comp = &a->components[a->component_count];
        const dtk_json *service = dtk_json_get(c, "service");
        const dtk_json *container = dtk_json_get(c, "container");

        comp->name = dtk_json_get_string(c, "name");
        if (comp->name == NULL || !is_dns_label(comp->name)) {
            dtk_problem_add(problems, "spec.components[%zu].name: must be a lowercase "
                    "RFC 1123 label", i);
            continue;
        }
        if (dtk_assembly_find(a, comp->name) >= 0) {
            dtk_problem_add(problems, "spec.components[%zu]: component %s is declared "
                    "twice", i, comp->name);
            continue;
        }
        if ((service != NULL) == (container != NULL)) {
            dtk_problem_add(problems, "spec.components[%zu]: component %s needs "
                    "exactly one of service or container", i, comp->name);
            continue;
        }
        comp->kind = service ? DTK_COMPONENT_SERVICE : DTK_COMPONENT_CONTAINER;
        comp->spec = service ? service : container;
        if (service != NULL && (dtk_json_get_string(service, "class") == NULL ||
                                dtk_json_get_string(service, "plan") == NULL)) {
            dtk_problem_add(problems, "spec.components[%zu].service: class and plan "
                    "are required", i);
        }
        if (container != NULL &&
            dtk_json_get_string(container, "image") == NULL) {
            dtk_problem_add(problems, "spec.components[%zu].container.image: "
                    "required", i);
        }
        a->component_count++;
    }
}

typedef struct ref_check {
    dtk_assembly *a;
    dtk_buf *problems;
    const char *where;  /* field path for messages */
    long self;          /* component index or -1 */
    size_t *deps;       /* collected component dependencies */
    size_t dep_count;
} ref_check;

static void add_dep(ref_check *rc, size_t idx)
{
    for (size_t i = 0; i < rc->dep_count; i++) {
        if (rc->deps[i] == idx) {
            return;
        }
    }
    rc->deps = dtk_realloc(rc->deps, (rc->dep_count + 1) * sizeof(size_t));
    rc->deps[rc->dep_count++] = idx;
}

/* Validates one reference path and records component dependencies. */
static int check_ref(const char *path, void *payload)
{
    ref_check *rc = payload;
    char comp[128];

    if (strncmp(path, "parameters.", 11) == 0) {
        const char *name = path + 11;
        size_t n = strcspn(name, ".");
        char pname[128];

        if (n >= sizeof(pname)) {
            n = sizeof(pname) - 1;
        }
        memcpy(pname, name, n);
        pname[n] = '\0';
        if (dtk_assembly_param(rc->a, pname) == NULL) {
            dtk_problem_add(rc->problems, "%s: ${%s} refers to parameter %s, which "
                    "is not declared", rc->where, path, pname);
        }
        return 0;
    }
    if (strncmp(path, "target.parameters.", 18) == 0 ||
        strncmp(path, "parent.outputs.", 15) == 0) {
        return 0;
    }
    if (strncmp(path, "components.", 11) == 0) {
        const char *name = path + 11;
        size_t n = strcspn(name, ".");
        const char *field = name + n;
        long idx;

        if (n >= sizeof(comp)) {
            n = sizeof(comp) - 1;
        }
        memcpy(comp, name, n);
        comp[n] = '\0';
        idx = dtk_assembly_find(rc->a, comp);
        if (idx < 0) {
            dtk_problem_add(rc->problems, "%s: ${%s} refers to component %s, which "
                    "does not exist", rc->where, path, comp);
            return 0;
        }
        if (strncmp(field, ".credentials.", 13) != 0 &&
            strncmp(field, ".outputs.", 9) != 0 &&
            strcmp(field, ".host") != 0 && strncmp(field, ".ports.", 7) != 0) {
            dtk_problem_add(rc->problems, "%s: ${%s} must name credentials.<key>, "
                    "outputs.<key>, host or ports.<port> of component %s",
                    rc->where, path, comp);
            return 0;
        }
        if (idx == rc->self) {
            dtk_problem_add(rc->problems, "%s: component %s refers to itself",
                    rc->where, comp);
            return 0;
        }
        add_dep(rc, (size_t)idx);
        return 0;
    }
    dtk_problem_add(rc->problems, "%s: ${%s} refers to nothing (expressions start "
            "with parameters., target.parameters., components. or "
            "parent.outputs.)", rc->where, path);
    return 0;
}

static void check_refs(dtk_assembly *a, dtk_buf *problems)
{
    const dtk_json *list = dtk_json_get(a->spec, "components");
    const dtk_json *outputs = dtk_json_get(a->spec, "outputs");
    char where[96];

    for (size_t i = 0; i < a->component_count; i++) {
        dtk_asm_component *comp = &a->components[i];
        const dtk_json *decl = NULL;
        const dtk_json *deps;
        ref_check rc = {a, problems, where, (long)i, NULL, 0};

        for (size_t k = 0; k < dtk_json_len(list) && decl == NULL; k++) {
            const char *name = dtk_json_get_string(dtk_json_at(list, k),
                                                   "name");

            if (name != NULL && strcmp(name, comp->name) == 0) {
                decl = dtk_json_at(list, k);
            }
        }
        snprintf(where, sizeof(where), "component %s", comp->name);
        if (dtk_expr_scan_json(comp->spec, check_ref, &rc) < 0) {
            dtk_problem_add(problems, "%s: %s", where, dtk_error_last()->message);
            dtk_error_clear();
        }
        deps = dtk_json_get(decl, "dependsOn");
        for (size_t k = 0; k < dtk_json_len(deps); k++) {
            const char *d = dtk_json_string(dtk_json_at(deps, k));
            long idx = d ? dtk_assembly_find(a, d) : -1;

            if (idx < 0) {
                dtk_problem_add(problems, "component %s: dependsOn '%s' is not a "
                        "component", comp->name, d ? d : "");
            } else if (idx == (long)i) {
                dtk_problem_add(problems, "component %s: depends on itself",
                        comp->name);
            } else {
                add_dep(&rc, (size_t)idx);
            }
        }
        comp->deps = rc.deps;
        comp->dep_count = rc.dep_count;
    }
    for (size_t i = 0; outputs != NULL && i < outputs->u.object.len &&
                       outputs->type == DTK_JSON_OBJECT;
         i++) {
        ref_check rc = {a, problems, where, -1, NULL, 0};

        snprintf(where, sizeof(where), "output %s", outputs->u.object.keys[i]);
        if (dtk_expr_scan_json(outputs->u.object.values[i], check_ref, &rc) <
            0) {
            dtk_problem_add(problems, "%s: %s", where, dtk_error_last()->message);
            dtk_error_clear();
        }
        dtk_free(rc.deps);
    }
}

static void check_actions(dtk_assembly *a, dtk_buf *problems)
{
    const dtk_json *actions = dtk_json_get(a->spec, "actions");

    for (size_t i = 0; i < dtk_json_len(actions); i++) {
        const dtk_json *act = dtk_json_at(actions, i);
        const char *name = dtk_json_get_string(act, "name");
        const dtk_json *exec = dtk_json_get(act, "exec");
        const char *target = dtk_json_get_string(exec, "component");
        long idx = target ? dtk_assembly_find(a, target) : -1;

        if (exec != NULL &&
            (idx < 0 ||
             a->components[idx].kind != DTK_COMPONENT_CONTAINER)) {
            dtk_problem_add(problems, "action %s: exec.component '%s' is not a "
                    "container component",
                    name ? name : "", target ? target : "");
        }
    }
}

/* Topological order (Kahn), ties by declaration order; on a cycle, names
 * one cycle. */
static void order_components(dtk_assembly *a, dtk_buf *problems)
{
    size_t n = a->component_count;
    size_t *remaining = dtk_calloc(n ? n : 1, sizeof(size_t));
    int *done = dtk_calloc(n ? n : 1, sizeof(int));
    size_t placed = 0;

    a->order = dtk_calloc(n ? n : 1, sizeof(size_t));
    for (size_t i = 0; i < n; i++) {
        remaining[i] = a->components[i].dep_count;
    }
    while (placed < n) {
        size_t pick = n;

        for (size_t i = 0; i < n && pick == n; i++) {
            size_t pending = 0;

            for (size_t k = 0; k < a->components[i].dep_count; k++) {
                pending += !done[a->components[i].deps[k]];
            }
            if (!done[i] && pending == 0) {
                pick = i;
            }
        }
        if (pick == n) {
            break;
        }
        done[pick] = 1;
        a->order[placed++] = pick;
    }
    if (placed < n) {
        /* Walk from an unplaced component along unplaced dependencies until
         * a component repeats: that is a cycle. */
        size_t *path = dtk_calloc(n + 1, sizeof(size_t));
        size_t len = 0;
        size_t cur = 0;
        dtk_buf text = DTK_BUF_INIT(0);

        while (done[cur]) {
            cur++;
        }
        for (;;) {
            size_t start = len;

            for (size_t k = 0; k < len; k++) {
                if (path[k] == cur) {
                    start = k;
                }
            }
            if (start < len) {
                for (size_t k = start; k < len; k++) {
                    dtk_buf_printf(&text, "%s -> ",
                                   a->components[path[k]].name);
                }
                dtk_buf_puts(&text, a->components[cur].name);
                break;
            }
            path[len++] = cur;
            for (size_t k = 0; k < a->components[cur].dep_count; k++) {
                if (!done[a->components[cur].deps[k]]) {
                    cur = a->components[cur].deps[k];
                    break;
                }
            }
        }
        dtk_problem_add(problems, "dependency cycle: %s", dtk_buf_cstr(&text));
        dtk_buf_dispose(&text);
        dtk_free(path);
    }
    dtk_free(remaining);
    dtk_free(done);
}

int dtk_assembly_decode(dtk_assembly **out, dtk_buf *problems,
                        const dtk_json *object)
{
    dtk_assembly *a = dtk_calloc(1, sizeof(*a));
    const dtk_json *spec = dtk_json_get(object, "spec");
    int error = 0;

    *out = NULL;
    a->spec = dtk_json_copy(spec ? spec : object);
    if (a->spec == NULL || a->spec->type != DTK_JSON_OBJECT) {
        dtk_problem_add(problems, "spec: must be an object");
        error = DTK_EINVALID;
        goto out;
    }
    if (dtk_json_get(a->spec, "compose") != NULL) {
        dtk_problem_add(problems, "spec.compose: docker-compose import is not "
                "supported yet by this operator version");
    }
    decode_params(a, problems);
    decode_components(a, problems);
    if (problems->len == 0) {
        check_refs(a, problems);
        check_actions(a, problems);
    }
    if (problems->len == 0) {
        order_components(a, problems);
    }
    if (problems->len > 0) {
        dtk_error_set(DTK_ERRCLASS_INVALID, "%s", dtk_buf_cstr(problems));
        error = DTK_EINVALID;
        goto out;
    }
    error = dtk_assembly_revision(a->revision, a->spec);
    if (error < 0) {
        goto out;
    }
    *out = a;
    a = NULL;
out:
    dtk_assembly_free(a);
    return error;
}

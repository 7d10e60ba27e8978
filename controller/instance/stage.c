/* ServiceInstance staging (see stage.h). */
#include "controller/instance/stage.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "controller/common/problems.h"
#include "pkg/base/alloc.h"
#include "pkg/base/digest.h"
#include "pkg/base/error.h"

/* Copies the declared parameters present in src over dst. */
static void overlay(dtk_json *dst, const dtk_assembly *a, const dtk_json *src)
{
    if (src == NULL || src->type != DTK_JSON_OBJECT) {
        return;
    }
    for (size_t i = 0; i < src->u.object.len; i++) {
        if (dtk_assembly_param(a, src->u.object.keys[i]) != NULL) {
            dtk_json_set(dst, src->u.object.keys[i],
                         dtk_json_copy(src->u.object.values[i]));
        }
    }
}

static void apply_source(dtk_json *params, dtk_buf *problems,
                         const dtk_assembly *a, const dtk_param_source *src)
{
    dtk_json *parsed = NULL;

    if (dtk_json_parse(&parsed, src->value, src->value_len) == 0 &&
        parsed->type == DTK_JSON_OBJECT) {
        for (size_t i = 0; i < parsed->u.object.len; i++) {
            const char *name = parsed->u.object.keys[i];

            if (dtk_assembly_param(a, name) == NULL) {
                dtk_problem_add(problems, "parametersFrom key %s: parameter %s is not "
                        "declared by the assembly", src->key, name);
                continue;
            }
            dtk_json_set(params, name,
                         dtk_json_copy(parsed->u.object.values[i]));
        }
    } else if (dtk_assembly_param(a, src->key) == NULL) {
        dtk_problem_add(problems, "parametersFrom key %s: parameter %s is not "
                "declared by the assembly", src->key, src->key);
    } else {
        const dtk_asm_param *p = dtk_assembly_param(a, src->key);

        /* A plain text value: typed when the declaration asks for it. */
        if (parsed != NULL && strcmp(p->type, "string") != 0) {
            dtk_json_set(params, src->key, parsed);
            parsed = NULL;
        } else {
            dtk_json_set(params, src->key,
                         dtk_json_new_stringn(src->value, src->value_len));
        }
    }
    dtk_error_clear(); /* a parse failure above is expected for plain text */
    dtk_json_free(parsed);
}

int dtk_stage_parameters(dtk_json **out, dtk_buf *problems,
                         const dtk_assembly *a, const dtk_json *target_params,
                         const dtk_json *parent_outputs,
                         const dtk_json *instance_params,
                         const dtk_param_source *from, size_t from_count)
{
    dtk_json *params = dtk_json_new_object();
    int error = 0;

    *out = NULL;
    for (size_t i = 0; i < a->param_count; i++) {
        if (a->params[i].default_value != NULL) {
            dtk_json_set(params, a->params[i].name,
                         dtk_json_copy(a->params[i].default_value));
        }
    }
    overlay(params, a, target_params);
    overlay(params, a, parent_outputs);
    if (instance_params != NULL && instance_params->type == DTK_JSON_OBJECT) {
        for (size_t i = 0; i < instance_params->u.object.len; i++) {
            if (dtk_assembly_param(a, instance_params->u.object.keys[i]) ==
                NULL) {
                dtk_problem_add(problems, "spec.parameters.%s: parameter %s is not "
                        "declared by the assembly",
                        instance_params->u.object.keys[i],
                        instance_params->u.object.keys[i]);
            }
        }
        overlay(params, a, instance_params);
    }
    for (size_t i = 0; i < from_count; i++) {
        apply_source(params, problems, a, &from[i]);
    }
    for (size_t i = 0; i < a->param_count; i++) {
        const dtk_asm_param *p = &a->params[i];
        const dtk_json *v = dtk_json_get(params, p->name);

        if (v == NULL) {
            if (p->required) {
                dtk_problem_add(problems, "parameter %s: required", p->name);
            }
            continue;
        }
        if (dtk_assembly_check_value(p, v) < 0) {
            dtk_problem_add(problems, "%s", dtk_error_last()->message);
            dtk_error_clear();
        }
    }
    if (problems->len > 0) {
        dtk_error_set(DTK_ERRCLASS_INVALID, "%s", dtk_buf_cstr(problems));
        error = DTK_EINVALID;
        dtk_json_free(params);
        return error;
    }
    *out = params;
    return 0;
}

int dtk_stage_external_id(char *out, const char *instance_uid,
                          const char *component, const char *what)
{
    dtk_buf seed = DTK_BUF_INIT(0);
    char hex[DTK_DIGEST_SHA256_HEX_SIZE];
    int error;

    dtk_buf_printf(&seed, "dtk.io/%s/%s/%s", instance_uid, component, what);
    error = dtk_digest_sha256_hex(hex, dtk_buf_cstr(&seed), seed.len);
    dtk_buf_dispose(&seed);
    if (error < 0) {
        return error;
    }
    /* The layout of a version-5 style UUID (name-based): 8-4-4-4-12. */
    snprintf(out, 37, "%.8s-%.4s-5%.3s-%c%.3s-%.12s", hex, hex + 8, hex + 13,
             "89ab"[hex[16] % 4], hex + 17, hex + 20);
    return 0;
}

dtk_json *dtk_stage_redact(const dtk_assembly *a, const dtk_json *params)
{
    dtk_json *copy = dtk_json_copy(params);

    for (size_t i = 0; copy != NULL && i < a->param_count; i++) {
        if (a->params[i].sensitive &&
            dtk_json_get(copy, a->params[i].name) != NULL) {
            dtk_json_set(copy, a->params[i].name,
                         dtk_json_new_string("(sensitive)"));
        }
    }
    return copy;
}

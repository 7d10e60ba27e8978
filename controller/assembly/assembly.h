/* The Assembly template as the reconcilers use it: decoded, validated and
 * ordered. Thread-safety: an assembly is immutable once decoded.
 *
 * Validation names every problem by its field path (component names,
 * references to components, parameters and actions that do not exist,
 * parameter declarations whose default or enum does not fit their type,
 * dependency cycles with the cycle spelled out). The converge order is the
 * topological order of the dependency graph (explicit dependsOn plus
 * references to other components), ties broken by declaration order so the
 * order is stable.
 */
#ifndef DTK_CONTROLLER_ASSEMBLY_ASSEMBLY_H
#define DTK_CONTROLLER_ASSEMBLY_ASSEMBLY_H

#include <stddef.h>

#include "pkg/base/buf.h"
#include "pkg/json/json.h"

typedef enum dtk_component_kind {
    DTK_COMPONENT_SERVICE = 0,
    DTK_COMPONENT_CONTAINER,
} dtk_component_kind;

typedef struct dtk_asm_param {
    const char *name;  /* borrowed from the assembly's spec */
    const char *type;  /* string, integer, number, boolean, object, array */
    const dtk_json *default_value; /* or NULL */
    const dtk_json *enum_values;   /* array or NULL */
    int required;
    int sensitive;
} dtk_asm_param;

typedef struct dtk_asm_component {
    const char *name;
    dtk_component_kind kind;
    const dtk_json *spec; /* the "service" or "container" object */
    size_t *deps;         /* indexes of components this one needs */
    size_t dep_count;
} dtk_asm_component;

typedef struct dtk_assembly {
    dtk_json *spec; /* owned copy of .spec */
    dtk_asm_param *params;
    size_t param_count;
    dtk_asm_component *components;
    size_t component_count;
    size_t *order; /* component indexes, dependencies first */
    char revision[16];
} dtk_assembly;

/* Decodes and validates an Assembly object (or its spec when the object
 * has no "spec"). On DTK_EINVALID, problems holds "; "-separated messages
 * that name each field, and *out is NULL. *out is owned by the caller. */
int dtk_assembly_decode(dtk_assembly **out, dtk_buf *problems,
                        const dtk_json *object);
void dtk_assembly_free(dtk_assembly *a);

/* The content revision of a spec: 10 hex digits of the SHA-256 of its
 * canonical JSON. out >= 16 bytes. */
int dtk_assembly_revision(char *out, const dtk_json *spec);

/* Index of the named component or -1. */
long dtk_assembly_find(const dtk_assembly *a, const char *name);
const dtk_asm_param *dtk_assembly_param(const dtk_assembly *a,
                                        const char *name);

/* Checks a value against a parameter's declared type (and enum); on
 * DTK_EINVALID the message is "parameter <name>: must be ...", without the
 * value when the parameter is sensitive. */
int dtk_assembly_check_value(const dtk_asm_param *p, const dtk_json *value);

#endif

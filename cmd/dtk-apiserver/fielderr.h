/* Field errors worded exactly as Kubernetes words them
 * (k8s.io/apimachinery/pkg/util/validation/field, v1.32), and the 422
 * "Invalid" Status they aggregate into.
 * Thread-safety: none; one owner.
 *
 * Kubernetes prints one error as "<field>: <body>", where <body> is
 * "<Type>: <value>: <detail>" for value-carrying types ("Invalid value",
 * "Unsupported value", "Duplicate value", ...) and "<Type>: <detail>" for the
 * others ("Required value", "Forbidden", ...). A Status cause carries
 * reason (e.g. "FieldValueInvalid"), message (the body) and field.
 */
#ifndef DTK_APISERVER_FIELDERR_H
#define DTK_APISERVER_FIELDERR_H

#include <stddef.h>
#include <stdint.h>

#include "pkg/json/json.h"

typedef struct dtk_fielderr {
    char *reason;  /* "FieldValueInvalid", "FieldValueRequired", ... */
    char *field;   /* "spec.replicas", "metadata.name", "spec.items[2].x" */
    char *message; /* the body, e.g. "Invalid value: 0: must be positive" */
} dtk_fielderr;

typedef struct dtk_fielderr_list {
    dtk_fielderr *items;
    size_t len, cap;
} dtk_fielderr_list;

/* clang-format off */
#define DTK_FIELDERR_LIST_INIT { NULL, 0, 0 }
/* clang-format on */

void dtk_fielderr_list_dispose(dtk_fielderr_list *list);

/* value may be NULL where Kubernetes omits it. value is borrowed; strings
 * print quoted (Go %q), numbers and booleans bare, null as "null", objects
 * and arrays as compact JSON. detail may be NULL or "". */
void dtk_fielderr_invalid(dtk_fielderr_list *list, const char *field,
                      const dtk_json *value, const char *detail);
void dtk_fielderr_type_invalid(dtk_fielderr_list *list, const char *field,
                           const dtk_json *value, const char *detail);
void dtk_fielderr_required(dtk_fielderr_list *list, const char *field,
                       const char *detail);
void dtk_fielderr_forbidden(dtk_fielderr_list *list, const char *field,
                        const char *detail);
void dtk_fielderr_duplicate(dtk_fielderr_list *list, const char *field,
                        const dtk_json *value);
/* supported: the accepted values as they should be printed, e.g. "\"a\"". */
void dtk_fielderr_not_supported(dtk_fielderr_list *list, const char *field,
                            const dtk_json *value,
                            const char *const *supported, size_t n);
void dtk_fielderr_too_long(dtk_fielderr_list *list, const char *field,
                       const dtk_json *value, int64_t max_length);
void dtk_fielderr_too_many(dtk_fielderr_list *list, const char *field, int64_t actual,
                       int64_t max_items);

/* Builds the 422 Status object for kind/group/name:
 * message "<Kind>[.<group>] \"<name>\" is invalid: <e1>" or "... [<e1>, <e2>]",
 * reason "Invalid", code 422, details {name, group, kind, causes[]}.
 * The caller owns the result. */
dtk_json *dtk_fielderr_status(const dtk_fielderr_list *list, const char *kind,
                          const char *group, const char *name);

#endif

/* Field errors worded exactly as Kubernetes words them
 * (k8s.io/apimachinery/pkg/util/validation/field, v1.32), and the 422
 * "Invalid" Status they aggregate into (k8s.io/apimachinery/pkg/api/errors
 * NewInvalid).
 * Thread-safety: none; one owner per list. The formatting helpers are
 * thread-safe (no shared state).
 *
 * Kubernetes prints one error as "<field>: <body>", where <body> is
 * "<Type>: <value>: <detail>" for value-carrying types ("Invalid value",
 * "Unsupported value", "Duplicate value", "Too many", "Not found") and
 * "<Type>: <detail>" for the others ("Required value", "Forbidden",
 * "Too long", "Internal error"); ": <detail>" is left out when the detail is
 * empty. A Status cause carries reason (e.g. "FieldValueInvalid"), message
 * (the body) and field.
 *
 * Values print as Go's fmt does for the decoded JSON value (v1.32
 * ErrorBody): strings quoted like %q, integers in decimal, other numbers
 * like %v of a float64 (1.5, 1e+06), booleans bare, JSON null and a NULL
 * pointer as "null" (quoted: Go prints a nil value as the string "null"),
 * objects and arrays in Go %#v syntax, e.g.
 * map[string]interface {}{"name":"a"} and []interface {}{1, "x"}.
 */
#ifndef DTK_APISERVER_FIELDERR_H
#define DTK_APISERVER_FIELDERR_H

#include <stddef.h>
#include <stdint.h>

#include "pkg/base/buf.h"
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

/* The field Kubernetes prints for a nil *field.Path, e.g. for the
 * "some validation rules were not checked" error. */
#define DTK_FIELDERR_NIL_PATH "<nil>"

/* Frees every error; the list can be reused afterwards. */
void dtk_fielderr_list_dispose(dtk_fielderr_list *list);

/* Moves every error of src to the end of dst; src is left empty. */
void dtk_fielderr_list_move(dtk_fielderr_list *dst, dtk_fielderr_list *src);

/* Adds an error whose parts are already formatted (all copied). */
void dtk_fielderr_add(dtk_fielderr_list *list,
                      const char *reason,
                      const char *field,
                      const char *message);

/* Constructors, one per Go field.* function. field, detail and the strings
 * are copied; value is borrowed for the call only. detail may be NULL or "".
 * value NULL prints "null" (quoted), as Go prints nil. */
void dtk_fielderr_invalid(dtk_fielderr_list *list,
                          const char *field,
                          const dtk_json *value,
                          const char *detail);
/* Same as dtk_fielderr_invalid with a string value (printed quoted). */
void dtk_fielderr_invalid_string(dtk_fielderr_list *list,
                                 const char *field,
                                 const char *value,
                                 const char *detail);
/* "FieldValueTypeInvalid", printed "Invalid value: ...". */
void dtk_fielderr_type_invalid(dtk_fielderr_list *list,
                               const char *field,
                               const dtk_json *value,
                               const char *detail);
void dtk_fielderr_type_invalid_string(dtk_fielderr_list *list,
                                      const char *field,
                                      const char *value,
                                      const char *detail);
void dtk_fielderr_required(dtk_fielderr_list *list,
                           const char *field,
                           const char *detail);
void dtk_fielderr_forbidden(dtk_fielderr_list *list,
                            const char *field,
                            const char *detail);
void dtk_fielderr_duplicate(dtk_fielderr_list *list,
                            const char *field,
                            const dtk_json *value);
void dtk_fielderr_not_found(dtk_fielderr_list *list,
                            const char *field,
                            const dtk_json *value);
/* supported: the accepted values as plain text; each is printed quoted
 * ("supported values: \"a\", \"b\""), as Go's NotSupported does. */
void dtk_fielderr_not_supported(dtk_fielderr_list *list,
                                const char *field,
                                const dtk_json *value,
                                const char *const *supported,
                                size_t n);
/* "Too long: may not be more than <max> bytes" (v1.32 TooLong; the value is
 * never printed), or "Too long: value is too long" when max_length < 0. */
void dtk_fielderr_too_long(dtk_fielderr_list *list,
                           const char *field,
                           const dtk_json *value,
                           int64_t max_length);
/* "Too many: <actual>: must have at most <max> items"; actual < 0 leaves the
 * value out, max_items < 0 prints "has too many items". */
void dtk_fielderr_too_many(dtk_fielderr_list *list,
                           const char *field,
                           int64_t actual,
                           int64_t max_items);
void dtk_fielderr_internal(dtk_fielderr_list *list,
                           const char *field,
                           const char *detail);

/* The aggregated text Kubernetes prints for a list (utilerrors.Aggregate
 * of field.ErrorList.ToAggregate): "" for none, "<f>: <body>" for one
 * distinct error, "[<e1>, <e2>]" for several; identical errors are printed
 * once. The caller frees the result with dtk_free. */
char *dtk_fielderr_list_string(const dtk_fielderr_list *list);

/* Builds the 422 Status object for kind/group/name:
 * message "<Kind>[.<group>] \"<name>\" is invalid: <aggregate>" (or
 * "... is invalid" for an empty list), reason "Invalid", code 422,
 * details {name, group, kind, causes[{reason, message, field}]}; empty name
 * and group are left out of details, as Go's omitempty does. Every error is
 * a cause (duplicates included). group and name may be NULL or "".
 * The caller owns the result. */
dtk_json *dtk_fielderr_status(const dtk_fielderr_list *list,
                              const char *kind,
                              const char *group,
                              const char *name);

/* Formatting helpers shared with the schema validator. They append to out
 * and ignore DTK_ETOOBIG (the text is then cut at the buffer limit). */

/* Go strconv.Quote of s[0..len). */
void dtk_fielderr_fmt_quote(dtk_buf *out, const char *s, size_t len);
/* Go %v of a float64: shortest repr, exponent form below 1e-4 and from
 * 1e+06 on (1e+06, 1.5e-05), NaN and +Inf as Go prints them. */
void dtk_fielderr_fmt_float(dtk_buf *out, double v);
/* A float64 as Go's encoding/json writes it: shortest repr, exponent form
 * below 1e-6 and from 1e21 on (1e-7, 1e+21). */
void dtk_fielderr_fmt_float_json(dtk_buf *out, double v);
/* Whether a JSON number decodes to an int64 in Kubernetes (integer text
 * that fits; json.Number.Int64), with the value in *out. Leaves the error
 * state and errno alone. */
int dtk_fielderr_number_int(const dtk_json *v, int64_t *out);
/* Go %v of a JSON number as Kubernetes decodes it: an int64 when the text is
 * an integer that fits, else a float64. */
void dtk_fielderr_fmt_number(dtk_buf *out, const dtk_json *v);
/* The value as field.Error.ErrorBody prints it (see the file comment). */
void dtk_fielderr_fmt_value(dtk_buf *out, const dtk_json *v);

#endif

/* Internals shared by schema.c (compile, validate, prune, default),
 * schema_regex.c (pattern translation) and schema_cel.c (the CEL subset).
 * Thread-safety: compiled nodes and programs are immutable after compile.
 */
#ifndef DTK_APISERVER_SCHEMA_INT_H
#define DTK_APISERVER_SCHEMA_INT_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "pkg/json/json.h"

/* The "type" keyword, as a bit set (x-kubernetes-int-or-string gives
 * INTEGER|STRING). */
enum {
    DTK_SCHEMA__T_STRING = 1 << 0,
    DTK_SCHEMA__T_NUMBER = 1 << 1,
    DTK_SCHEMA__T_INTEGER = 1 << 2,
    DTK_SCHEMA__T_BOOLEAN = 1 << 3,
    DTK_SCHEMA__T_ARRAY = 1 << 4,
    DTK_SCHEMA__T_OBJECT = 1 << 5,
};

enum {
    DTK_SCHEMA__LIST_ATOMIC = 0,
    DTK_SCHEMA__LIST_SET,
    DTK_SCHEMA__LIST_MAP,
};

typedef struct dtk_schema__node dtk_schema__node;
typedef struct dtk_schema__cel dtk_schema__cel;

typedef struct dtk_schema__prop {
    char *name;
    dtk_schema__node *node;
} dtk_schema__prop;

/* One x-kubernetes-validations entry. */
typedef struct dtk_schema__rule {
    char *rule;               /* trimmed */
    char *message;            /* trimmed, or NULL */
    char *field_path;         /* normalized, e.g. "spec.x" or "m[k]", or NULL */
    char *reason;             /* "FieldValueForbidden", ... or NULL */
    dtk_schema__cel *program; /* never NULL once compiled */
    dtk_schema__cel *message_program; /* messageExpression, or NULL */
} dtk_schema__rule;

struct dtk_schema__node {
    unsigned types;   /* DTK_SCHEMA__T_* bits; 0 when "type" is absent */
    char *type;       /* the type as written ("" when absent) */
    char *type_names; /* as kube-openapi joins them: "integer,string" */
    int nullable;
    int int_or_string;
    int preserve_unknown;
    int embedded;
    int resource_root; /* the root: apiVersion, kind, metadata visible */
    char *format;      /* a supported string format, normalized ("datetime"), or
                          NULL: unsupported formats are ignored, as Kubernetes'
                          StripUnsupportedFormatsPostProcess does */

    int has_maximum, has_minimum, has_multiple_of;
    int exclusive_maximum, exclusive_minimum;
    double maximum, minimum, multiple_of;

    int64_t max_length, min_length; /* -1: unset */
    int64_t max_items, min_items;
    int64_t max_properties, min_properties;
    int unique_items;

    char *pattern; /* as written, for messages */
    regex_t *pattern_re;

    dtk_json *enum_values; /* array, or NULL */
    dtk_json *default_value;

    char **required;
    size_t n_required;

    dtk_schema__prop *props;
    size_t n_props;

    int has_additional;  /* additionalProperties present */
    int additional_bool; /* its boolean value when it is a boolean */
    dtk_schema__node *additional;

    dtk_schema__node *items;

    dtk_schema__node **all_of, **any_of, **one_of;
    size_t n_all_of, n_any_of, n_one_of;
    dtk_schema__node *not_;

    int list_type;
    char **map_keys;
    size_t n_map_keys;
    int map_atomic; /* x-kubernetes-map-type: atomic */

    dtk_schema__rule *rules;
    size_t n_rules;
};

/* Property lookup; NULL when absent. */
const dtk_schema__node *dtk_schema__prop_get(const dtk_schema__node *n,
                                             const char *name);

/* --- Patterns (schema_regex.c) -------------------------------------- */

/* Compiles a CRD pattern (Go RE2 syntax, which CRD authors write as
 * ECMA-262 in practice) into a POSIX extended regex. On failure sets
 * *err_out (the caller frees it) and returns DTK_EINVALID for a pattern Go
 * rejects too, worded like Go's regexp package ("error parsing regexp:
 * missing closing ): `(a`"), or DTK_ERROR for valid RE2 this server cannot
 * run ("a Unicode class (\p{...}) is not supported by this development
 * API server"). */
int dtk_schema__regex_compile(regex_t **out,
                              const char *pattern,
                              char **err_out);
void dtk_schema__regex_free(regex_t *re);
/* Unanchored search, like Go's MatchString; s may hold NUL bytes. */
int dtk_schema__regex_match(const regex_t *re, const char *s, size_t len);

/* --- String formats (schema_regex.c) ----------------------------------- */

/* Normalizes a format name as go-openapi does (drops '-') and returns the
 * supported name, or NULL when Kubernetes v1.32 ignores the format. */
const char *dtk_schema__format_supported(const char *format);
/* Whether s[0..len) is valid for the (normalized) format. */
int dtk_schema__format_valid(const char *format, const char *s, size_t len);

/* --- CEL subset (schema_cel.c) ----------------------------------------- */

enum {
    DTK_SCHEMA__CEL_WANT_BOOL = 0,
    DTK_SCHEMA__CEL_WANT_STRING,
};

/* Parses and checks expr for a value of schema self (may be NULL for
 * untyped). On failure returns DTK_EINVALID with *err_out worded like
 * Kubernetes' "compilation failed: ERROR: <input>:1:6: ..." (multi-line,
 * with the source line and a caret); the caller frees it. */
int dtk_schema__cel_compile(dtk_schema__cel **out,
                            const char *expr,
                            const dtk_schema__node *self,
                            int want,
                            char **err_out);
void dtk_schema__cel_free(dtk_schema__cel *p);
int dtk_schema__cel_uses_old_self(const dtk_schema__cel *p);

/* The steps one evaluation may take (Kubernetes' per-call cost limit),
 * and the steps all rules of one object may take together (its runtime
 * cost budget). A step is one AST node visited or one element a
 * comprehension, equality or concatenation touches. */
#define DTK_SCHEMA__CEL_CALL_LIMIT 1000000L
#define DTK_SCHEMA__CEL_BUDGET     10000000L

/* Evaluates a bool program. self must not be NULL; old_self is NULL when
 * there is no old value. *budget (steps left for this object, may be NULL)
 * is charged with the steps taken. Returns 0 with *result set,
 * DTK_EINVALID for an evaluation error ("no such key: x") or DTK_ETOOBIG
 * when the per-call limit or the budget ran out (*budget < 0 then tells
 * the budget), with *err_out set (caller frees). */
int dtk_schema__cel_eval_bool(const dtk_schema__cel *p,
                              const dtk_json *self,
                              const dtk_json *old_self,
                              long *budget,
                              int *result,
                              char **err_out);
/* Evaluates a string program (messageExpression); *out is owned by the
 * caller. Same codes as dtk_schema__cel_eval_bool. */
int dtk_schema__cel_eval_string(const dtk_schema__cel *p,
                                const dtk_json *self,
                                const dtk_json *old_self,
                                long *budget,
                                char **out,
                                char **err_out);

#endif

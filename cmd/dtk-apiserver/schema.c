/* CRD openAPIV3Schema: compile and check, validate, prune, default.
 *
 * dtk_schema_compile turns the JSON schema into a tree of nodes (patterns
 * and CEL rules compiled once) while it runs the checks Kubernetes v1.32
 * runs when a CRD is written, in the same order: structural-schema
 * invariants (sorted by message, as ValidateStructural sorts them), then
 * the defaults, then the OpenAPI keyword checks and the CEL rules.
 *
 * Validation follows the layers of the CR strategy: the kube-openapi
 * validator (the order of its validators, its "<name> in body ..." details,
 * and how kubeOpenAPIResultToFieldErrors maps them to field errors),
 * embedded-resource metadata, x-kubernetes-list-type uniqueness, then CEL
 * unless a blocking error came first. Go iterates maps in random order; we
 * use the schema's property order, then the object's member order, so our
 * output is deterministic (Kubernetes' order may differ run to run).
 * Deliberately not reproduced, or reproduced only in part:
 *   - kube-openapi's MatchCount, which picks the anyOf/oneOf branch whose
 *     errors are shown when all fail (we show the branch that passed the
 *     most checks, the first one on a tie);
 *   - the CEL cost estimator at CRD creation, and CEL cost units at run
 *     time: a step count with a per-call limit and a per-object budget
 *     stands in for both (see schema_int.h);
 *   - ObjectMeta validation of embedded resources: apiVersion, kind and
 *     the path-segment rules of metadata.name only (no label, annotation,
 *     namespace or generateName checks);
 *   - ratcheting correlates properties, map keys and list-type=map items;
 *     items of list-type=set lists are not correlated one by one (only
 *     with their whole, unchanged list);
 *   - the CRD root-schema restrictions that apply when the status
 *     subresource is enabled (they belong to CRD validation, which sees
 *     the subresources);
 *   - Go's json.Marshal sorts object keys and escapes <, >, & in the
 *     non-string enum values of "supported values: ..."; we keep the
 *     member order and the characters.
 *
 * Recursion: schema depth is bounded by JSON parsing (128 levels) and
 * objects are validated along the schema, so recursion depth is at most the
 * depth of the JSON trees.
 */
#include "cmd/dtk-apiserver/schema.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/dtk-apiserver/schema_int.h"
#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/error.h"

struct dtk_schema {
    dtk_schema__node *root;
    int has_rules; /* any x-kubernetes-validations: Kubernetes has no CEL
                      validator otherwise, and then never reports blocked
                      rules */
};

#define BLOCKED_CEL_MESSAGE                                                   \
    "some validation rules were not checked because the object was invalid; " \
    "correct the existing errors to complete validation"

/* ------------------------------------------------------------------ */
/* Small helpers                                                        */

static void path_truncate(dtk_buf *b, size_t len)
{
    b->len = len;
    if (b->ptr != NULL) {
        b->ptr[len] = '\0';
    }
}

/* field.Path.Child: ".name", or "name" at the root. */
static void path_child(dtk_buf *b, const char *name)
{
    if (b->len > 0) {
        (void)dtk_buf_putc(b, '.');
    }
    (void)dtk_buf_puts(b, name);
}

/* field.Path.Key: "[key]". */
static void path_key(dtk_buf *b, const char *key)
{
    (void)dtk_buf_printf(b, "[%s]", key);
}

static void path_index(dtk_buf *b, size_t i)
{
    (void)dtk_buf_printf(b, "[%zu]", i);
}

/* The rendered field.Path, "<nil>" for the empty (nil) path. */
static const char *path_str(const dtk_buf *b)
{
    return b->len > 0 ? dtk_buf_cstr(b) : DTK_FIELDERR_NIL_PATH;
}

const dtk_schema__node *dtk_schema__prop_get(const dtk_schema__node *n,
                                             const char *name)
{
    for (size_t i = 0; i < n->n_props; i++) {
        if (strcmp(n->props[i].name, name) == 0) {
            return n->props[i].node;
        }
    }
    return NULL;
}

/* How Kubernetes' unstructured JSON holds a number: an int64 when the text
 * is an integer that fits, a float64 otherwise. */
static int num_as_int(const dtk_json *v, int64_t *out)
{
    return dtk_fielderr_number_int(v, out);
}

/* reflect.DeepEqual on decoded JSON: an int64 never equals a float64. */
static int go_equal(const dtk_json *a, const dtk_json *b)
{
    if (a->type != b->type) {
        return 0;
    }
    switch (a->type) {
    case DTK_JSON_NULL:
        return 1;
    case DTK_JSON_BOOL:
        return a->u.boolean == b->u.boolean;
    case DTK_JSON_NUMBER: {
        int64_t x, y;
        int ai = num_as_int(a, &x);
        int bi = num_as_int(b, &y);

        if (ai != bi) {
            return 0;
        }
        return ai ? x == y : dtk_json_double(a) == dtk_json_double(b);
    }
    case DTK_JSON_STRING:
        return a->u.string.len == b->u.string.len &&
               memcmp(a->u.string.ptr, b->u.string.ptr, a->u.string.len) == 0;
    case DTK_JSON_ARRAY:
        if (a->u.array.len != b->u.array.len) {
            return 0;
        }
        for (size_t i = 0; i < a->u.array.len; i++) {
            if (!go_equal(a->u.array.items[i], b->u.array.items[i])) {
                return 0;
            }
        }
        return 1;
    case DTK_JSON_OBJECT:
        if (a->u.object.len != b->u.object.len) {
            return 0;
        }
        for (size_t i = 0; i < a->u.object.len; i++) {
            const dtk_json *o = dtk_json_get(b, a->u.object.keys[i]);

            if (o == NULL || !go_equal(a->u.object.values[i], o)) {
                return 0;
            }
        }
        return 1;
    }
    return 0;
}

/* swag.IsFloat64AJSONInteger */
static int float_is_json_integer(double f)
{
    const double max_json = 9007199254740991.0; /* 1<<53 - 1 */
    double g, diff;

    if (isnan(f) || isinf(f) || f < -max_json || f > max_json) {
        return 0;
    }
    g = trunc(f);
    if (f == g) {
        return 1;
    }
    diff = fabs(f - g);
    if (g == 0) {
        return 0;
    }
    return diff / (fabs(f) + fabs(g)) < 1e-9;
}

/* The JSON text Go's json.Marshal gives a decoded value, as used for the
 * non-string values of "supported values: ...". Objects keep our member
 * order (Go sorts keys). */
static char *go_json(const dtk_json *v)
{
    dtk_buf b = DTK_BUF_INIT(0);
    int64_t i;

    if (v->type == DTK_JSON_NUMBER) {
        if (num_as_int(v, &i)) {
            (void)dtk_buf_printf(&b, "%lld", (long long)i);
        } else {
            dtk_fielderr_fmt_float_json(&b, dtk_json_double(v));
        }
        return dtk_buf_detach(&b);
    }
    dtk_buf_dispose(&b);
    return dtk_json_to_string(v);
}

static size_t rune_count(const char *s, size_t n)
{
    size_t count = 0;

    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)s[i] & 0xc0) != 0x80) {
            count++;
        }
    }
    return count;
}

static const char *json_kind(const dtk_json *v)
{
    int64_t i;

    switch (v->type) {
    case DTK_JSON_NULL:
        return "null";
    case DTK_JSON_BOOL:
        return "boolean";
    case DTK_JSON_NUMBER:
        return num_as_int(v, &i) ? "integer" : "number";
    case DTK_JSON_STRING:
        return "string";
    case DTK_JSON_ARRAY:
        return "array";
    default:
        return "object";
    }
}

/* ------------------------------------------------------------------ */
/* Node lifetime                                                        */

static void node_free(dtk_schema__node *n)
{
    if (n == NULL) {
        return;
    }
    dtk_free(n->type);
    dtk_free(n->type_names);
    dtk_free(n->format);
    dtk_free(n->pattern);
    dtk_schema__regex_free(n->pattern_re);
    dtk_json_free(n->enum_values);
    dtk_json_free(n->default_value);
    for (size_t i = 0; i < n->n_required; i++) {
        dtk_free(n->required[i]);
    }
    dtk_free(n->required);
    for (size_t i = 0; i < n->n_props; i++) {
        dtk_free(n->props[i].name);
        node_free(n->props[i].node);
    }
    dtk_free(n->props);
    node_free(n->additional);
    node_free(n->items);
    for (size_t i = 0; i < n->n_all_of; i++) {
        node_free(n->all_of[i]);
    }
    dtk_free(n->all_of);
    for (size_t i = 0; i < n->n_any_of; i++) {
        node_free(n->any_of[i]);
    }
    dtk_free(n->any_of);
    for (size_t i = 0; i < n->n_one_of; i++) {
        node_free(n->one_of[i]);
    }
    dtk_free(n->one_of);
    node_free(n->not_);
    for (size_t i = 0; i < n->n_map_keys; i++) {
        dtk_free(n->map_keys[i]);
    }
    dtk_free(n->map_keys);
    for (size_t i = 0; i < n->n_rules; i++) {
        dtk_free(n->rules[i].rule);
        dtk_free(n->rules[i].message);
        dtk_free(n->rules[i].field_path);
        dtk_free(n->rules[i].reason);
        dtk_schema__cel_free(n->rules[i].program);
        dtk_schema__cel_free(n->rules[i].message_program);
    }
    dtk_free(n->rules);
    dtk_free(n);
}

void dtk_schema_free(dtk_schema *s)
{
    if (s == NULL) {
        return;
    }
    node_free(s->root);
    dtk_free(s);
}

/* ------------------------------------------------------------------ */
/* Validation context                                                   */

typedef struct vctx {
    dtk_fielderr_list *errs;
    dtk_fielderr_list *warnings; /* ratcheted errors go here, may be NULL */
    const char *prefix; /* field prefix for kube-openapi names, or NULL */
    int update;         /* old values are given */
    int ratcheting;     /* errors in unchanged values become warnings */
    int cel_stopped;    /* a rule ran out of budget: no further rules */
    long cel_budget;    /* CEL steps left for this object */
} vctx;

/* Errors appended since mark belong to a value equal to its old value:
 * they become warnings (CRDValidationRatcheting). */
static void ratchet(vctx *c, size_t mark)
{
    dtk_fielderr_list moved = DTK_FIELDERR_LIST_INIT;

    if (c->errs->len <= mark) {
        return;
    }
    for (size_t i = mark; i < c->errs->len; i++) {
        dtk_fielderr_add(&moved, c->errs->items[i].reason,
                         c->errs->items[i].field, c->errs->items[i].message);
        dtk_free(c->errs->items[i].reason);
        dtk_free(c->errs->items[i].field);
        dtk_free(c->errs->items[i].message);
    }
    c->errs->len = mark;
    if (c->warnings != NULL) {
        dtk_fielderr_list_move(c->warnings, &moved);
    }
    dtk_fielderr_list_dispose(&moved);
}

/* The field of a kube-openapi error: its Name (without a leading '.')
 * under the prefix, or the prefix itself ("<nil>" without one) when the
 * Name is empty. */
static void openapi_field(const vctx *c, const char *name, dtk_buf *out)
{
    const char *n = name[0] == '.' ? name + 1 : name;

    dtk_buf_reset(out);
    if (name[0] != '\0' && strcmp(name, ".") != 0) {
        if (c->prefix != NULL) {
            (void)dtk_buf_printf(out, "%s.%s", c->prefix, n);
        } else {
            (void)dtk_buf_puts(out, n);
        }
        return;
    }
    (void)dtk_buf_puts(out,
                       c->prefix != NULL ? c->prefix : DTK_FIELDERR_NIL_PATH);
}

/* The errors of kubeOpenAPIResultToFieldErrors, by kube-openapi code. */
static void oa_invalid(vctx *c,
                       const char *name,
                       const dtk_json *value,
                       const char *msg)
{
    dtk_buf field = DTK_BUF_INIT(0);
    dtk_json *empty = NULL;

    openapi_field(c, name, &field);
    if (value == NULL) {
        /* A nil Value becomes "" in the default branch. */
        empty = dtk_json_new_string("");
        value = empty;
    }
    dtk_fielderr_invalid(c->errs, dtk_buf_cstr(&field), value, msg);
    dtk_json_free(empty);
    dtk_buf_dispose(&field);
}

static void oa_invalid_int(vctx *c,
                           const char *name,
                           int64_t value,
                           const char *msg)
{
    dtk_json *v = dtk_json_new_int(value);

    oa_invalid(c, name, v, msg);
    dtk_json_free(v);
}

static void oa_type(vctx *c,
                    const char *name,
                    const char *type,
                    const char *got)
{
    dtk_buf field = DTK_BUF_INIT(0);
    dtk_buf msg = DTK_BUF_INIT(0);

    openapi_field(c, name, &field);
    (void)dtk_buf_printf(&msg, "%s in body must be of type %s: ", name, type);
    dtk_fielderr_fmt_quote(&msg, got, strlen(got));
    dtk_fielderr_type_invalid_string(c->errs, dtk_buf_cstr(&field), got,
                                     dtk_buf_cstr(&msg));
    dtk_buf_dispose(&msg);
    dtk_buf_dispose(&field);
}

/* Errors that are not *errors.Validation (anyOf, oneOf, allOf, not) land
 * on the caller's path: nil for a custom resource. */
static void oa_composite(vctx *c, const char *msg)
{
    dtk_fielderr_invalid_string(
        c->errs, c->prefix != NULL ? c->prefix : DTK_FIELDERR_NIL_PATH, "",
        msg);
}

/* ------------------------------------------------------------------ */
/* kube-openapi validation                                              */

static size_t v_schema(vctx *c,
                       const dtk_schema__node *n,
                       const dtk_json *v,
                       dtk_buf *name,
                       const dtk_json *old);

static int has_type(const dtk_schema__node *n, unsigned t)
{
    return (n->types & t) != 0;
}

static unsigned kind_bit(const dtk_json *v)
{
    int64_t i;

    switch (v->type) {
    case DTK_JSON_BOOL:
        return DTK_SCHEMA__T_BOOLEAN;
    case DTK_JSON_NUMBER:
        return num_as_int(v, &i) ? DTK_SCHEMA__T_INTEGER : DTK_SCHEMA__T_NUMBER;
    case DTK_JSON_STRING:
        return DTK_SCHEMA__T_STRING;
    case DTK_JSON_ARRAY:
        return DTK_SCHEMA__T_ARRAY;
    case DTK_JSON_OBJECT:
        return DTK_SCHEMA__T_OBJECT;
    default:
        return 0;
    }
}

/* typeValidator.Validate; returns 1 when it passes. format is the
 * supported format as written ("date-time"), or "". */
static int v_type(vctx *c,
                  const dtk_schema__node *n,
                  const dtk_json *v,
                  const char *name)
{
    const char *format = n->format != NULL ? n->format : "";
    unsigned bit;
    const char *sch;
    const char *vformat = "";
    int is_float_int, is_int_float;
    int string_or_slice;

    if (v->type == DTK_JSON_NULL) {
        if (n->types != 0 && !n->nullable) {
            oa_type(c, name, n->type_names, "null");
            return 0;
        }
        return 1;
    }
    bit = kind_bit(v);
    sch = json_kind(v);
    if (bit == DTK_SCHEMA__T_INTEGER) {
        vformat = "int64";
    } else if (bit == DTK_SCHEMA__T_NUMBER) {
        vformat = "float64";
    }
    is_float_int = bit == DTK_SCHEMA__T_NUMBER &&
                   float_is_json_integer(dtk_json_double(v)) &&
                   has_type(n, DTK_SCHEMA__T_INTEGER);
    is_int_float =
        bit == DTK_SCHEMA__T_INTEGER && has_type(n, DTK_SCHEMA__T_NUMBER);
    string_or_slice = v->type == DTK_JSON_STRING || v->type == DTK_JSON_ARRAY;
    if (!string_or_slice && format[0] != '\0' &&
        !(has_type(n, bit) || strcmp(vformat, format) == 0 || is_float_int ||
          is_int_float)) {
        oa_type(c, name, format, vformat);
        return 0;
    }
    if (!has_type(n, DTK_SCHEMA__T_NUMBER | DTK_SCHEMA__T_INTEGER) &&
        format[0] != '\0' && string_or_slice) {
        return 1;
    }
    if (!(has_type(n, bit) || is_float_int || is_int_float)) {
        oa_type(c, name, n->type_names, sch);
        return 0;
    }
    return 1;
}

/* stringValidator: stops at the first failure. */
static int v_string(vctx *c,
                    const dtk_schema__node *n,
                    const dtk_json *v,
                    const char *name)
{
    size_t runes = rune_count(v->u.string.ptr, v->u.string.len);
    dtk_buf msg = DTK_BUF_INIT(0);
    dtk_buf field = DTK_BUF_INIT(0);
    int ok = 1;

    if (n->max_length >= 0 && (int64_t)runes > n->max_length) {
        openapi_field(c, name, &field);
        dtk_fielderr_too_long(c->errs, dtk_buf_cstr(&field), v, n->max_length);
        ok = 0;
    } else if (n->min_length >= 0 && (int64_t)runes < n->min_length) {
        (void)dtk_buf_printf(&msg,
                             "%s in body should be at least %lld chars "
                             "long",
                             name, (long long)n->min_length);
        oa_invalid(c, name, v, dtk_buf_cstr(&msg));
        ok = 0;
    } else if (n->pattern_re != NULL &&
               !dtk_schema__regex_match(n->pattern_re, v->u.string.ptr,
                                        v->u.string.len)) {
        (void)dtk_buf_printf(&msg, "%s in body should match '%s'", name,
                             n->pattern);
        oa_invalid(c, name, v, dtk_buf_cstr(&msg));
        ok = 0;
    }
    dtk_buf_dispose(&msg);
    dtk_buf_dispose(&field);
    return ok;
}

/* formatValidator, for a supported format on a string. */
static int v_format(vctx *c,
                    const dtk_schema__node *n,
                    const dtk_json *v,
                    const char *name)
{
    const char *norm = dtk_schema__format_supported(n->format);
    dtk_buf field = DTK_BUF_INIT(0);
    dtk_buf msg = DTK_BUF_INIT(0);

    if (norm == NULL ||
        dtk_schema__format_valid(norm, v->u.string.ptr, v->u.string.len)) {
        return 1;
    }
    openapi_field(c, name, &field);
    (void)dtk_buf_printf(&msg, "%s in body must be of type %s: ", name,
                         n->format);
    dtk_fielderr_fmt_quote(&msg, v->u.string.ptr, v->u.string.len);
    dtk_fielderr_type_invalid(c->errs, dtk_buf_cstr(&field), v,
                              dtk_buf_cstr(&msg));
    dtk_buf_dispose(&msg);
    dtk_buf_dispose(&field);
    return 0;
}

/* "%v" of a bound: an int64 when Go converted it to one, else the float. */
static void fmt_bound(dtk_buf *out, double bound, int as_int)
{
    if (as_int) {
        (void)dtk_buf_printf(out, "%lld", (long long)(int64_t)bound);
    } else {
        dtk_fielderr_fmt_float(out, bound);
    }
}

/* int64(f) in Go, saturated instead of undefined. */
static int64_t to_int64(double f)
{
    if (isnan(f)) {
        return 0;
    }
    if (f >= 9223372036854775807.0) {
        return INT64_MAX;
    }
    if (f <= -9223372036854775808.0) {
        return INT64_MIN;
    }
    return (int64_t)f;
}

/* numberValidator: multipleOf, minimum, maximum. An integer value is
 * compared with int64(bound), as MaximumNativeType does. */
static int v_number(vctx *c,
                    const dtk_schema__node *n,
                    const dtk_json *v,
                    const char *name)
{
    int64_t iv = 0;
    int is_int = num_as_int(v, &iv);
    double dv = is_int ? (double)iv : dtk_json_double(v);
    dtk_buf msg = DTK_BUF_INIT(0);
    int ok = 1;

    if (n->has_multiple_of) {
        double f = n->multiple_of;
        int64_t fi = to_int64(f);

        dtk_buf_reset(&msg);
        if (is_int && fi >= 1) {
            if (iv % fi != 0) {
                (void)dtk_buf_printf(&msg,
                                     "%s in body should be a multiple "
                                     "of %lld",
                                     name, (long long)fi);
                oa_invalid(c, name, v, dtk_buf_cstr(&msg));
                ok = 0;
            }
        } else if (f < 0 || (is_int && fi < 0)) {
            dtk_json *fv = dtk_json_new_double(f);

            (void)dtk_buf_printf(&msg,
                                 "factor MultipleOf declared for %s must "
                                 "be positive: ",
                                 name);
            fmt_bound(&msg, f, is_int);
            if (is_int) {
                dtk_json_free(fv);
                fv = dtk_json_new_int(fi);
            }
            oa_invalid(c, name, fv, dtk_buf_cstr(&msg));
            dtk_json_free(fv);
            ok = 0;
        } else if (f > 0) {
            double mult = f < 1 ? 1 / f * dv : dv / f;

            if (!float_is_json_integer(mult)) {
                (void)dtk_buf_printf(&msg,
                                     "%s in body should be a multiple "
                                     "of ",
                                     name);
                dtk_fielderr_fmt_float(&msg, f);
                oa_invalid(c, name, v, dtk_buf_cstr(&msg));
                ok = 0;
            }
        }
    }
    if (n->has_minimum) {
        int fail;

        dtk_buf_reset(&msg);
        if (is_int) {
            int64_t m = to_int64(n->minimum);

            fail = n->exclusive_minimum ? iv <= m : iv < m;
        } else {
            fail = n->exclusive_minimum ? dv <= n->minimum : dv < n->minimum;
        }
        if (fail) {
            (void)dtk_buf_printf(&msg, "%s in body should be %s ", name,
                                 n->exclusive_minimum
                                     ? "greater than"
                                     : "greater than or equal to");
            fmt_bound(&msg, n->minimum, is_int);
            oa_invalid(c, name, v, dtk_buf_cstr(&msg));
            ok = 0;
        }
    }
    if (n->has_maximum) {
        int fail;

        dtk_buf_reset(&msg);
        if (is_int) {
            int64_t m = to_int64(n->maximum);

            fail = n->exclusive_maximum ? iv >= m : iv > m;
        } else {
            fail = n->exclusive_maximum ? dv >= n->maximum : dv > n->maximum;
        }
        if (fail) {
            (void)dtk_buf_printf(
                &msg, "%s in body should be %s ", name,
                n->exclusive_maximum ? "less than" : "less than or equal to");
            fmt_bound(&msg, n->maximum, is_int);
            oa_invalid(c, name, v, dtk_buf_cstr(&msg));
            ok = 0;
        }
    }
    dtk_buf_dispose(&msg);
    return ok;
}

/* The old item a list-map item correlates with: same values for every map
 * key. NULL when there is none. */
static int same_map_keys(const dtk_schema__node *n,
                         const dtk_json *item,
                         const dtk_json *o)
{
    if (o->type != DTK_JSON_OBJECT) {
        return 0;
    }
    for (size_t k = 0; k < n->n_map_keys; k++) {
        const dtk_json *a = dtk_json_get(item, n->map_keys[k]);
        const dtk_json *b = dtk_json_get(o, n->map_keys[k]);

        if (!((a == NULL && b == NULL) ||
              (a != NULL && b != NULL && go_equal(a, b)))) {
            return 0;
        }
    }
    return 1;
}

/* The old item a list-map item at index hint correlates with: same values
 * for every map key. The same index is tried first, so an update that
 * keeps the order costs O(n) instead of O(n^2). NULL when there is none. */
static const dtk_json *map_list_old_item(const dtk_schema__node *n,
                                         const dtk_json *item,
                                         const dtk_json *old,
                                         size_t hint)
{
    if (old == NULL || old->type != DTK_JSON_ARRAY ||
        item->type != DTK_JSON_OBJECT) {
        return NULL;
    }
    if (hint < old->u.array.len &&
        same_map_keys(n, item, old->u.array.items[hint])) {
        return old->u.array.items[hint];
    }
    for (size_t i = 0; i < old->u.array.len; i++) {
        if (same_map_keys(n, item, old->u.array.items[i])) {
            return old->u.array.items[i];
        }
    }
    return NULL;
}

/* schemaSliceValidator: items, then minItems, maxItems, uniqueItems. */
static size_t v_slice(vctx *c,
                      const dtk_schema__node *n,
                      const dtk_json *v,
                      dtk_buf *name,
                      const dtk_json *old)
{
    size_t len = v->u.array.len;
    size_t count = 0;
    size_t mark = name->len;
    char *nm;
    dtk_buf msg = DTK_BUF_INIT(0);

    if (n->items != NULL) {
        for (size_t i = 0; i < len; i++) {
            const dtk_json *oi = NULL;

            if (n->list_type == DTK_SCHEMA__LIST_MAP) {
                oi = map_list_old_item(n, v->u.array.items[i], old, i);
            }
            path_index(name, i);
            count += v_schema(c, n->items, v->u.array.items[i], name, oi);
            path_truncate(name, mark);
        }
    }
    nm = dtk_strdup(dtk_buf_cstr(name));
    if (n->min_items >= 0 && (int64_t)len < n->min_items) {
        (void)dtk_buf_printf(&msg,
                             "%s in body should have at least %lld "
                             "items",
                             nm, (long long)n->min_items);
        oa_invalid_int(c, nm, (int64_t)len, dtk_buf_cstr(&msg));
    }
    if (n->max_items >= 0 && (int64_t)len > n->max_items) {
        dtk_buf field = DTK_BUF_INIT(0);

        openapi_field(c, nm, &field);
        dtk_fielderr_too_many(c->errs, dtk_buf_cstr(&field), (int64_t)len,
                              n->max_items);
        dtk_buf_dispose(&field);
    }
    if (n->unique_items) {
        int dup = 0;

        for (size_t i = 0; i < len && !dup; i++) {
            for (size_t j = 0; j < i && !dup; j++) {
                dup = go_equal(v->u.array.items[i], v->u.array.items[j]);
            }
        }
        if (dup) {
            dtk_buf_reset(&msg);
            (void)dtk_buf_printf(&msg,
                                 "%s in body shouldn't contain "
                                 "duplicates",
                                 nm);
            oa_invalid(c, nm, NULL, dtk_buf_cstr(&msg));
        }
    }
    dtk_free(nm);
    dtk_buf_dispose(&msg);
    return count + 1;
}

/* basicCommonValidator: enum. Numbers compare after Go's conversion of the
 * value to the enum member's type (so 1.0 matches an enum 1); a null value
 * never matches (reflect.ValueOf(nil) is not valid). */
static int enum_member_matches(const dtk_json *data, const dtk_json *e)
{
    int64_t ei, di;

    if (data->type == DTK_JSON_NUMBER && e->type == DTK_JSON_NUMBER) {
        if (num_as_int(e, &ei)) {
            if (num_as_int(data, &di)) {
                return di == ei;
            }
            return to_int64(dtk_json_double(data)) == ei;
        }
        return dtk_json_double(data) == dtk_json_double(e);
    }
    return go_equal(data, e);
}

static int v_enum(vctx *c,
                  const dtk_schema__node *n,
                  const dtk_json *v,
                  const char *name)
{
    const dtk_json *e = n->enum_values;
    const char **values;
    char **owned;
    dtk_buf field = DTK_BUF_INIT(0);
    size_t len;

    if (e == NULL || e->u.array.len == 0) {
        return 1;
    }
    len = e->u.array.len;
    if (v->type != DTK_JSON_NULL) {
        for (size_t i = 0; i < len; i++) {
            if (enum_member_matches(v, e->u.array.items[i])) {
                return 1;
            }
        }
    }
    values = dtk_calloc(len, sizeof(*values));
    owned = dtk_calloc(len, sizeof(*owned));
    for (size_t i = 0; i < len; i++) {
        const dtk_json *m = e->u.array.items[i];

        if (m->type == DTK_JSON_STRING) {
            owned[i] = dtk_strndup(m->u.string.ptr, m->u.string.len);
        } else {
            owned[i] = go_json(m);
        }
        values[i] = owned[i];
    }
    openapi_field(c, name, &field);
    dtk_fielderr_not_supported(c->errs, dtk_buf_cstr(&field), v, values, len);
    for (size_t i = 0; i < len; i++) {
        dtk_free(owned[i]);
    }
    dtk_free(owned);
    dtk_free(values);
    dtk_buf_dispose(&field);
    return 0;
}

/* objectValidator. */
static size_t v_object(vctx *c,
                       const dtk_schema__node *n,
                       const dtk_json *v,
                       dtk_buf *name,
                       const dtk_json *old)
{
    size_t nkeys = v->u.object.len;
    size_t mark = name->len;
    size_t count = 0;
    char *nm = dtk_strdup(dtk_buf_cstr(name));
    dtk_buf msg = DTK_BUF_INIT(0);
    const dtk_json *old_obj =
        old != NULL && old->type == DTK_JSON_OBJECT && !n->map_atomic ? old
                                                                      : NULL;

    if (n->min_properties >= 0 && (int64_t)nkeys < n->min_properties) {
        (void)dtk_buf_printf(&msg,
                             "%s in body should have at least %lld "
                             "properties",
                             nm, (long long)n->min_properties);
        oa_invalid_int(c, nm, (int64_t)nkeys, dtk_buf_cstr(&msg));
        goto out;
    }
    if (n->max_properties >= 0 && (int64_t)nkeys > n->max_properties) {
        dtk_buf field = DTK_BUF_INIT(0);

        openapi_field(c, nm, &field);
        dtk_fielderr_too_many(c->errs, dtk_buf_cstr(&field), (int64_t)nkeys,
                              n->max_properties);
        dtk_buf_dispose(&field);
        goto out;
    }
    if (n->has_additional && n->additional == NULL && !n->additional_bool) {
        /* additionalProperties: false */
        for (size_t i = 0; i < nkeys; i++) {
            const char *k = v->u.object.keys[i];
            dtk_json *kv;

            if (dtk_schema__prop_get(n, k) != NULL) {
                continue;
            }
            dtk_buf_reset(&msg);
            (void)dtk_buf_printf(&msg, "%s.%s in body is a forbidden property",
                                 nm, k);
            kv = dtk_json_new_string(k);
            oa_invalid(c, nm, kv, dtk_buf_cstr(&msg));
            dtk_json_free(kv);
        }
    } else if (n->additional != NULL) {
        for (size_t i = 0; i < nkeys; i++) {
            const char *k = v->u.object.keys[i];

            if (dtk_schema__prop_get(n, k) != NULL) {
                continue;
            }
            (void)dtk_buf_printf(name, ".%s", k);
            count +=
                v_schema(c, n->additional, v->u.object.values[i], name,
                         old_obj != NULL ? dtk_json_get(old_obj, k) : NULL);
            path_truncate(name, mark);
        }
    }
    for (size_t i = 0; i < n->n_props; i++) {
        const dtk_json *pv = dtk_json_get(v, n->props[i].name);

        if (pv == NULL) {
            continue;
        }
        if (name->len > 0) {
            (void)dtk_buf_putc(name, '.');
        }
        (void)dtk_buf_puts(name, n->props[i].name);
        count += v_schema(
            c, n->props[i].node, pv, name,
            old_obj != NULL ? dtk_json_get(old_obj, n->props[i].name) : NULL);
        path_truncate(name, mark);
    }
    for (size_t i = 0; i < n->n_required; i++) {
        if (dtk_json_get(v, n->required[i]) == NULL) {
            dtk_buf field = DTK_BUF_INIT(0);

            dtk_buf_reset(&msg);
            (void)dtk_buf_printf(&msg, "%s.%s", nm, n->required[i]);
            openapi_field(c, dtk_buf_cstr(&msg), &field);
            dtk_fielderr_required(c->errs, dtk_buf_cstr(&field), "");
            dtk_buf_dispose(&field);
        }
    }
out:
    dtk_free(nm);
    dtk_buf_dispose(&msg);
    return count + 1;
}

/* Validates v against branch into a private list; returns the errors
 * through *errs_out and the checks it passed. */
static size_t v_branch(vctx *c,
                       const dtk_schema__node *branch,
                       const dtk_json *v,
                       dtk_buf *name,
                       dtk_fielderr_list *errs_out)
{
    vctx sub = *c;
    size_t count;

    sub.errs = errs_out;
    sub.update = 0;
    count = v_schema(&sub, branch, v, name, NULL);
    return count;
}

/* schemaPropsValidator: anyOf, oneOf, allOf, not. */
static size_t v_props(vctx *c,
                      const dtk_schema__node *n,
                      const dtk_json *v,
                      dtk_buf *name)
{
    dtk_buf msg = DTK_BUF_INIT(0);
    char *nm = dtk_strdup(dtk_buf_cstr(name));
    size_t count = 1;

    if (n->n_any_of > 0) {
        dtk_fielderr_list best = DTK_FIELDERR_LIST_INIT;
        size_t best_count = 0;
        int have_best = 0;
        int ok = 0;

        for (size_t i = 0; i < n->n_any_of && !ok; i++) {
            dtk_fielderr_list e = DTK_FIELDERR_LIST_INIT;
            size_t m = v_branch(c, n->any_of[i], v, name, &e);

            if (e.len == 0) {
                ok = 1;
                count += m;
            } else if (!have_best || m > best_count) {
                dtk_fielderr_list_dispose(&best);
                best = e;
                best_count = m;
                have_best = 1;
                continue;
            }
            dtk_fielderr_list_dispose(&e);
        }
        if (!ok) {
            dtk_fielderr_fmt_quote(&msg, nm, strlen(nm));
            (void)dtk_buf_puts(&msg, " must validate at least one schema "
                                     "(anyOf)");
            oa_composite(c, dtk_buf_cstr(&msg));
            dtk_fielderr_list_move(c->errs, &best);
        }
        dtk_fielderr_list_dispose(&best);
    }
    if (n->n_one_of > 0) {
        dtk_fielderr_list best = DTK_FIELDERR_LIST_INIT;
        size_t best_count = 0;
        int have_best = 0;
        size_t validated = 0;

        for (size_t i = 0; i < n->n_one_of; i++) {
            dtk_fielderr_list e = DTK_FIELDERR_LIST_INIT;
            size_t m = v_branch(c, n->one_of[i], v, name, &e);

            if (e.len == 0) {
                validated++;
                dtk_fielderr_list_dispose(&best);
                have_best = 0;
                count += m;
            } else if (validated == 0 && (!have_best || m > best_count)) {
                dtk_fielderr_list_dispose(&best);
                best = e;
                best_count = m;
                have_best = 1;
                continue;
            }
            dtk_fielderr_list_dispose(&e);
        }
        if (validated != 1) {
            dtk_buf_reset(&msg);
            dtk_fielderr_fmt_quote(&msg, nm, strlen(nm));
            if (validated == 0) {
                (void)dtk_buf_puts(&msg, " must validate one and only one "
                                         "schema (oneOf). Found none valid");
            } else {
                (void)dtk_buf_printf(&msg,
                                     " must validate one and only one "
                                     "schema (oneOf). Found %zu valid "
                                     "alternatives",
                                     validated);
            }
            oa_composite(c, dtk_buf_cstr(&msg));
            dtk_fielderr_list_move(c->errs, &best);
        }
        dtk_fielderr_list_dispose(&best);
    }
    if (n->n_all_of > 0) {
        size_t validated = 0;

        for (size_t i = 0; i < n->n_all_of; i++) {
            dtk_fielderr_list e = DTK_FIELDERR_LIST_INIT;

            count += v_branch(c, n->all_of[i], v, name, &e);
            if (e.len == 0) {
                validated++;
            }
            dtk_fielderr_list_move(c->errs, &e);
        }
        if (validated != n->n_all_of) {
            dtk_buf_reset(&msg);
            dtk_fielderr_fmt_quote(&msg, nm, strlen(nm));
            (void)dtk_buf_printf(&msg,
                                 " must validate all the schemas "
                                 "(allOf)%s",
                                 validated == 0 ? ". None validated" : "");
            oa_composite(c, dtk_buf_cstr(&msg));
        }
    }
    if (n->not_ != NULL) {
        dtk_fielderr_list e = DTK_FIELDERR_LIST_INIT;

        (void)v_branch(c, n->not_, v, name, &e);
        if (e.len == 0) {
            dtk_buf_reset(&msg);
            dtk_fielderr_fmt_quote(&msg, nm, strlen(nm));
            (void)dtk_buf_puts(&msg, " must not validate the schema (not)");
            oa_composite(c, dtk_buf_cstr(&msg));
        }
        dtk_fielderr_list_dispose(&e);
    }
    dtk_free(nm);
    dtk_buf_dispose(&msg);
    return count;
}

/* SchemaValidator.Validate; returns a count of passed checks (our stand-in
 * for kube-openapi's MatchCount). */
static size_t v_schema_inner(vctx *c,
                             const dtk_schema__node *n,
                             const dtk_json *v,
                             dtk_buf *name,
                             const dtk_json *old)
{
    size_t count = 0;
    const char *nm = dtk_buf_cstr(name);
    int type_applies = n->types != 0 || n->format != NULL;

    if (v->type == DTK_JSON_NULL) {
        count += type_applies ? (size_t)v_type(c, n, v, nm) : 0;
        count += (size_t)v_enum(c, n, v, nm);
        return count;
    }
    if (type_applies) {
        count += (size_t)v_type(c, n, v, nm) + 1;
    }
    count += v_props(c, n, v, name);
    nm = dtk_buf_cstr(name);
    if (v->type == DTK_JSON_STRING) {
        count += (size_t)v_string(c, n, v, nm) + 1;
        if (n->format != NULL) {
            count += (size_t)v_format(c, n, v, nm) + 1;
        }
    }
    if (v->type == DTK_JSON_NUMBER) {
        count += (size_t)v_number(c, n, v, nm) + 1;
    }
    if (v->type == DTK_JSON_ARRAY) {
        count += v_slice(c, n, v, name, old);
    }
    count += (size_t)v_enum(c, n, v, dtk_buf_cstr(name)) + 1;
    if (v->type == DTK_JSON_OBJECT) {
        count += v_object(c, n, v, name, old);
    }
    return count + 1;
}

static size_t v_schema(vctx *c,
                       const dtk_schema__node *n,
                       const dtk_json *v,
                       dtk_buf *name,
                       const dtk_json *old)
{
    size_t mark = c->errs->len;
    size_t count;

    if (c->ratcheting && old != NULL && go_equal(v, old)) {
        vctx plain = *c;

        plain.update = 0;
        plain.ratcheting = 0;
        count = v_schema_inner(&plain, n, v, name, NULL);
        ratchet(c, mark);
        return count;
    }
    return v_schema_inner(c, n, v, name, c->update ? old : NULL);
}

/* ------------------------------------------------------------------ */
/* Embedded resources (schema/objectmeta/validation.go)                 */

static int is_dns1035_label(const char *s, size_t n)
{
    if (n == 0 || !(s[0] >= 'a' && s[0] <= 'z')) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '-')) {
            return 0;
        }
    }
    return s[n - 1] != '-';
}

static void validate_embedded_meta(vctx *c, const dtk_json *x, dtk_buf *path)
{
    size_t mark = path->len;

    if (dtk_json_get(x, "apiVersion") == NULL) {
        path_child(path, "apiVersion");
        dtk_fielderr_required(c->errs, path_str(path), "must not be empty");
        path_truncate(path, mark);
    }
    if (dtk_json_get(x, "kind") == NULL) {
        path_child(path, "kind");
        dtk_fielderr_required(c->errs, path_str(path), "must not be empty");
        path_truncate(path, mark);
    }
    for (size_t i = 0; i < x->u.object.len; i++) {
        const char *k = x->u.object.keys[i];
        const dtk_json *v = x->u.object.values[i];

        if (strcmp(k, "apiVersion") == 0) {
            path_child(path, k);
            if (v->type != DTK_JSON_STRING) {
                dtk_fielderr_invalid(c->errs, path_str(path), v,
                                     "must be a string");
            } else if (v->u.string.len == 0) {
                dtk_fielderr_invalid(c->errs, path_str(path), v,
                                     "must not be empty");
            } else {
                const char *s = v->u.string.ptr;
                const char *slash = strchr(s, '/');

                if (slash != NULL && strchr(slash + 1, '/') != NULL) {
                    dtk_buf msg = DTK_BUF_INIT(0);

                    (void)dtk_buf_printf(&msg,
                                         "unexpected GroupVersion "
                                         "string: %s",
                                         s);
                    dtk_fielderr_invalid(c->errs, path_str(path), v,
                                         dtk_buf_cstr(&msg));
                    dtk_buf_dispose(&msg);
                }
            }
            path_truncate(path, mark);
        } else if (strcmp(k, "kind") == 0) {
            path_child(path, k);
            if (v->type != DTK_JSON_STRING) {
                dtk_fielderr_invalid(c->errs, path_str(path), v,
                                     "must be a string");
            } else if (v->u.string.len == 0) {
                dtk_fielderr_invalid(c->errs, path_str(path), v,
                                     "must not be empty");
            } else {
                char *low = dtk_strndup(v->u.string.ptr, v->u.string.len);
                dtk_buf msg = DTK_BUF_INIT(0);
                int errs = 0;

                for (char *p = low; *p != '\0'; p++) {
                    if (*p >= 'A' && *p <= 'Z') {
                        *p = (char)(*p - 'A' + 'a');
                    }
                }
                (void)dtk_buf_puts(&msg, "may have mixed case, but should "
                                         "otherwise match: ");
                if (v->u.string.len > 63) {
                    (void)dtk_buf_puts(&msg, "must be no more than 63 "
                                             "characters");
                    errs++;
                }
                if (!is_dns1035_label(low, v->u.string.len)) {
                    if (errs > 0) {
                        (void)dtk_buf_putc(&msg, ',');
                    }
                    (void)dtk_buf_puts(
                        &msg,
                        "a DNS-1035 label must consist of lower case "
                        "alphanumeric characters or '-', start with an "
                        "alphabetic character, and end with an alphanumeric "
                        "character (e.g. 'my-name',  or 'abc-123', regex "
                        "used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')");
                    errs++;
                }
                if (errs > 0) {
                    dtk_fielderr_invalid(c->errs, path_str(path), v,
                                         dtk_buf_cstr(&msg));
                }
                dtk_buf_dispose(&msg);
                dtk_free(low);
            }
            path_truncate(path, mark);
        } else if (strcmp(k, "metadata") == 0) {
            path_child(path, k);
            if (v->type != DTK_JSON_OBJECT) {
                dtk_fielderr_invalid(c->errs, path_str(path), v,
                                     "must be an object");
            } else {
                const dtk_json *name = dtk_json_get(v, "name");

                if (name != NULL && name->type == DTK_JSON_STRING) {
                    const char *s = name->u.string.ptr;
                    const char *msg = NULL;

                    /* path.ValidatePathSegmentName */
                    if (strcmp(s, ".") == 0) {
                        msg = "may not be '.'";
                    } else if (strcmp(s, "..") == 0) {
                        msg = "may not be '..'";
                    } else if (strchr(s, '/') != NULL) {
                        msg = "may not contain '/'";
                    } else if (strchr(s, '%') != NULL) {
                        msg = "may not contain '%'";
                    }
                    if (msg != NULL) {
                        path_child(path, "name");
                        dtk_fielderr_invalid(c->errs, path_str(path), name,
                                             msg);
                    }
                }
            }
            path_truncate(path, mark);
        }
    }
}

static void v_embedded(vctx *c,
                       const dtk_schema__node *n,
                       const dtk_json *x,
                       dtk_buf *path)
{
    size_t mark = path->len;

    if (n == NULL) {
        return;
    }
    if (x->type == DTK_JSON_OBJECT) {
        if (n->embedded) {
            validate_embedded_meta(c, x, path);
        }
        for (size_t i = 0; i < x->u.object.len; i++) {
            const char *k = x->u.object.keys[i];
            const dtk_schema__node *p = dtk_schema__prop_get(n, k);

            if (p != NULL) {
                path_child(path, k);
                v_embedded(c, p, x->u.object.values[i], path);
            } else if (n->additional != NULL) {
                path_key(path, k);
                v_embedded(c, n->additional, x->u.object.values[i], path);
            }
            path_truncate(path, mark);
        }
    } else if (x->type == DTK_JSON_ARRAY) {
        for (size_t i = 0; i < x->u.array.len; i++) {
            path_index(path, i);
            v_embedded(c, n->items, x->u.array.items[i], path);
            path_truncate(path, mark);
        }
    }
}

/* ------------------------------------------------------------------ */
/* List types (schema/listtype/validation.go)                            */

/* The first repeated appearance of each duplicated key, as
 * validateListSet reports them. keys[i] NULL stands for "unspecified". */
static void report_duplicates(vctx *c,
                              const dtk_json *const *keys,
                              size_t len,
                              const dtk_json *const *shown,
                              dtk_buf *path)
{
    size_t mark = path->len;
    char *counted = dtk_calloc(len ? len : 1, 1);

    for (size_t i = 0; i < len; i++) {
        if (counted[i]) {
            continue;
        }
        for (size_t j = i + 1; j < len; j++) {
            int same;

            if (counted[j]) {
                continue;
            }
            same = (keys[i] == NULL && keys[j] == NULL) ||
                   (keys[i] != NULL && keys[j] != NULL &&
                    go_equal(keys[i], keys[j]));
            if (!same) {
                continue;
            }
            if (!counted[i]) {
                /* The second appearance is the one reported. */
                path_index(path, j);
                dtk_fielderr_duplicate(c->errs, path_str(path), shown[j]);
                path_truncate(path, mark);
            }
            counted[i] = 1;
            counted[j] = 1;
        }
    }
    dtk_free(counted);
}

static void v_listtype(vctx *c,
                       const dtk_schema__node *n,
                       const dtk_json *x,
                       dtk_buf *path);

static void v_listtype_array(vctx *c,
                             const dtk_schema__node *n,
                             const dtk_json *x,
                             dtk_buf *path)
{
    size_t len = x->u.array.len;
    size_t mark = path->len;

    if (n->list_type == DTK_SCHEMA__LIST_SET && len > 1) {
        report_duplicates(c, (const dtk_json *const *)x->u.array.items, len,
                          (const dtk_json *const *)x->u.array.items, path);
    } else if (n->list_type == DTK_SCHEMA__LIST_MAP) {
        int ok = 1;

        for (size_t i = 0; i < len && ok; i++) {
            const dtk_json *it = x->u.array.items[i];

            if (it->type != DTK_JSON_NULL && it->type != DTK_JSON_OBJECT) {
                path_index(path, i);
                dtk_fielderr_invalid(c->errs, path_str(path), it,
                                     "must be an object for an array of "
                                     "list-type map");
                path_truncate(path, mark);
                ok = 0;
            }
        }
        if (ok && len > 1) {
            const dtk_json **keys = dtk_calloc(len, sizeof(*keys));
            const dtk_json **shown = dtk_calloc(len, sizeof(*shown));
            dtk_json **owned = dtk_calloc(len, sizeof(*owned));

            for (size_t i = 0; i < len; i++) {
                const dtk_json *it = x->u.array.items[i];
                dtk_json *key = dtk_json_new_object();

                for (size_t k = 0; k < n->n_map_keys; k++) {
                    const dtk_json *kv = it->type == DTK_JSON_OBJECT
                                             ? dtk_json_get(it, n->map_keys[k])
                                             : NULL;

                    if (kv != NULL) {
                        dtk_json_set(key, n->map_keys[k], dtk_json_copy(kv));
                    }
                }
                owned[i] = key;
                shown[i] = key;
                if (n->n_map_keys == 1) {
                    /* One key: compare the value itself; a missing key is
                     * "unspecified", shown as an empty map. */
                    keys[i] =
                        key->u.object.len > 0 ? key->u.object.values[0] : NULL;
                } else {
                    keys[i] = key;
                }
            }
            report_duplicates(c, keys, len, shown, path);
            for (size_t i = 0; i < len; i++) {
                dtk_json_free(owned[i]);
            }
            dtk_free(owned);
            dtk_free(shown);
            dtk_free(keys);
        }
    }
    if (n->items != NULL) {
        for (size_t i = 0; i < len; i++) {
            path_index(path, i);
            v_listtype(c, n->items, x->u.array.items[i], path);
            path_truncate(path, mark);
        }
    }
}

static void v_listtype(vctx *c,
                       const dtk_schema__node *n,
                       const dtk_json *x,
                       dtk_buf *path)
{
    size_t mark = path->len;

    if (n == NULL) {
        return;
    }
    if (x->type == DTK_JSON_ARRAY) {
        v_listtype_array(c, n, x, path);
        return;
    }
    if (x->type != DTK_JSON_OBJECT) {
        return;
    }
    if (n->additional != NULL) {
        for (size_t i = 0; i < x->u.object.len; i++) {
            path_key(path, x->u.object.keys[i]);
            v_listtype(c, n->additional, x->u.object.values[i], path);
            path_truncate(path, mark);
        }
    }
    for (size_t i = 0; i < x->u.object.len; i++) {
        const dtk_schema__node *p =
            dtk_schema__prop_get(n, x->u.object.keys[i]);

        if (p != NULL) {
            path_child(path, x->u.object.keys[i]);
            v_listtype(c, p, x->u.object.values[i], path);
            path_truncate(path, mark);
        }
    }
}

/* ------------------------------------------------------------------ */
/* CEL rules (schema/cel/validation.go)                                 */

static const char *rule_error_string(const dtk_schema__rule *r)
{
    return r->message != NULL ? r->message : r->rule;
}

static void cel_error(vctx *c,
                      const char *field,
                      const char *reason,
                      const char *type,
                      const char *detail)
{
    if (reason != NULL && strcmp(reason, "FieldValueForbidden") == 0) {
        dtk_fielderr_forbidden(c->errs, field, detail);
    } else if (reason != NULL && strcmp(reason, "FieldValueRequired") == 0) {
        dtk_fielderr_required(c->errs, field, detail);
    } else if (reason != NULL && strcmp(reason, "FieldValueDuplicate") == 0) {
        dtk_json *t = dtk_json_new_string(type);

        dtk_fielderr_duplicate(c->errs, field, t);
        dtk_json_free(t);
    } else {
        dtk_fielderr_invalid_string(c->errs, field, type, detail);
    }
}

static void cel_rules(vctx *c,
                      const dtk_schema__node *n,
                      const dtk_schema__node *owner,
                      const dtk_json *v,
                      const dtk_json *old,
                      dtk_buf *path,
                      int unchanged)
{
    for (size_t i = 0; i < owner->n_rules && !c->cel_stopped; i++) {
        const dtk_schema__rule *r = &owner->rules[i];
        int uses_old;
        int result = 0;
        char *err = NULL;
        int error;
        size_t mark = c->errs->len;

        if (r->program == NULL) {
            continue;
        }
        uses_old = dtk_schema__cel_uses_old_self(r->program);
        if (uses_old && old == NULL) {
            /* Transition rules run only when there is an old value. */
            continue;
        }
        if (c->cel_budget <= 0) {
            dtk_fielderr_invalid_string(c->errs, path_str(path), n->type,
                                        "validation failed due to running "
                                        "out of cost budget, no further "
                                        "validation rules will be run");
            c->cel_stopped = 1;
            return;
        }
        error = dtk_schema__cel_eval_bool(r->program, v, old, &c->cel_budget,
                                          &result, &err);
        if (error == DTK_ETOOBIG) {
            dtk_buf msg = DTK_BUF_INIT(0);

            if (c->cel_budget < 0) {
                (void)dtk_buf_puts(&msg, "validation failed due to running "
                                         "out of cost budget, no further "
                                         "validation rules will be run");
            } else {
                (void)dtk_buf_printf(&msg,
                                     "'%s': no further validation rules "
                                     "will be run due to call cost exceeds "
                                     "limit for rule: %s",
                                     err, rule_error_string(r));
            }
            dtk_fielderr_invalid_string(c->errs, path_str(path), n->type,
                                        dtk_buf_cstr(&msg));
            dtk_buf_dispose(&msg);
            dtk_free(err);
            c->cel_stopped = 1;
            return;
        }
        if (error < 0) {
            dtk_buf msg = DTK_BUF_INIT(0);

            if (strncmp(err, "no such overload", 16) == 0) {
                (void)dtk_buf_printf(&msg,
                                     "'%s': call arguments did not "
                                     "match a supported operator, "
                                     "function or macro signature for "
                                     "rule: %s",
                                     err, rule_error_string(r));
            } else {
                (void)dtk_buf_printf(&msg, "%s evaluating rule: %s", err,
                                     rule_error_string(r));
            }
            dtk_fielderr_invalid_string(c->errs, path_str(path), n->type,
                                        dtk_buf_cstr(&msg));
            dtk_buf_dispose(&msg);
            dtk_free(err);
            continue;
        }
        if (result) {
            continue;
        }
        {
            dtk_buf field = DTK_BUF_INIT(0);
            dtk_buf detail = DTK_BUF_INIT(0);
            char *msg_expr = NULL;

            (void)dtk_buf_put(&field, dtk_buf_cstr(path), path->len);
            if (r->field_path != NULL) {
                path_child(&field, r->field_path);
            }
            if (r->message_program != NULL) {
                char *merr = NULL;
                int e2 = dtk_schema__cel_eval_string(r->message_program, v, old,
                                                     &c->cel_budget, &msg_expr,
                                                     &merr);

                dtk_free(merr);
                if (e2 == 0) {
                    /* Trimmed; empty or multi-line results fall back to the
                     * message, as Kubernetes does. */
                    char *s = msg_expr;
                    size_t len = strlen(s);

                    while (len > 0 &&
                           (s[len - 1] == ' ' || s[len - 1] == '\t' ||
                            s[len - 1] == '\n')) {
                        s[--len] = '\0';
                    }
                    while (*s == ' ' || *s == '\t' || *s == '\n') {
                        s++;
                    }
                    if (*s != '\0' && strchr(s, '\n') == NULL &&
                        strlen(s) <= 5000) {
                        (void)dtk_buf_puts(&detail, s);
                    }
                }
            }
            if (detail.len == 0) {
                if (r->message != NULL) {
                    (void)dtk_buf_puts(&detail, r->message);
                } else {
                    (void)dtk_buf_printf(&detail, "failed rule: %s", r->rule);
                }
            }
            cel_error(c, path_str(&field), r->reason, n->type,
                      dtk_buf_cstr(&detail));
            if (!uses_old && unchanged) {
                ratchet(c, mark);
            }
            dtk_free(msg_expr);
            dtk_buf_dispose(&detail);
            dtk_buf_dispose(&field);
        }
    }
}

static void v_cel(vctx *c,
                  const dtk_schema__node *n,
                  const dtk_json *v,
                  const dtk_json *old,
                  dtk_buf *path,
                  int parent_unchanged,
                  int correlated)
{
    size_t mark = path->len;
    int unchanged = parent_unchanged;

    if (n == NULL || v->type == DTK_JSON_NULL || c->cel_stopped) {
        return;
    }
    if (old != NULL && old->type == DTK_JSON_NULL) {
        old = NULL;
    }
    if (c->ratcheting && correlated) {
        unchanged = old != NULL && go_equal(v, old);
    }
    cel_rules(c, n, n, v, old, path, unchanged);
    for (size_t i = 0; i < n->n_all_of; i++) {
        cel_rules(c, n, n->all_of[i], v, old, path, unchanged);
    }
    if (v->type == DTK_JSON_OBJECT) {
        const dtk_json *old_obj =
            old != NULL && old->type == DTK_JSON_OBJECT && !n->map_atomic
                ? old
                : NULL;

        if (n->additional != NULL) {
            for (size_t i = 0; i < v->u.object.len; i++) {
                const char *k = v->u.object.keys[i];

                path_key(path, k);
                v_cel(c, n->additional, v->u.object.values[i],
                      old_obj != NULL ? dtk_json_get(old_obj, k) : NULL, path,
                      unchanged, old_obj != NULL);
                path_truncate(path, mark);
            }
        }
        for (size_t i = 0; i < v->u.object.len; i++) {
            const char *k = v->u.object.keys[i];
            const dtk_schema__node *p = dtk_schema__prop_get(n, k);

            if (p == NULL) {
                continue;
            }
            path_child(path, k);
            v_cel(c, p, v->u.object.values[i],
                  old_obj != NULL ? dtk_json_get(old_obj, k) : NULL, path,
                  unchanged, old_obj != NULL);
            path_truncate(path, mark);
        }
    } else if (v->type == DTK_JSON_ARRAY && n->items != NULL) {
        for (size_t i = 0; i < v->u.array.len; i++) {
            const dtk_json *oi = NULL;

            /* Only list-type map items correlate with old items. */
            if (n->list_type == DTK_SCHEMA__LIST_MAP) {
                oi = map_list_old_item(n, v->u.array.items[i], old, i);
            }
            path_index(path, i);
            v_cel(c, n->items, v->u.array.items[i], oi, path, unchanged,
                  n->list_type == DTK_SCHEMA__LIST_MAP && old != NULL);
            path_truncate(path, mark);
        }
    }
}

int dtk_schema_has_blocking_error(const dtk_fielderr_list *errs)
{
    for (size_t i = 0; i < errs->len; i++) {
        const char *r = errs->items[i].reason;

        if (strcmp(r, "FieldValueNotSupported") == 0 ||
            strcmp(r, "FieldValueRequired") == 0 ||
            strcmp(r, "FieldValueTooLong") == 0 ||
            strcmp(r, "FieldValueTooMany") == 0 ||
            strcmp(r, "FieldValueTypeInvalid") == 0) {
            return 1;
        }
    }
    return 0;
}

static void validate(const dtk_schema *s,
                     const dtk_json *obj,
                     const dtk_json *old,
                     int status_only,
                     dtk_fielderr_list *errs,
                     dtk_fielderr_list *warnings)
{
    vctx c;
    dtk_buf name = DTK_BUF_INIT(0);
    dtk_buf path = DTK_BUF_INIT(0);

    memset(&c, 0, sizeof(c));
    c.errs = errs;
    c.warnings = warnings;
    c.cel_budget = DTK_SCHEMA__CEL_BUDGET;
    c.update = old != NULL;
    c.ratcheting = old != NULL;
    if (status_only) {
        /* 1. .status against the status schema alone, with names relative
         * to it under the field "status" (ValidateStatusUpdate) */
        const dtk_schema__node *sn = dtk_schema__prop_get(s->root, "status");
        const dtk_json *st = dtk_json_get(obj, "status");

        if (sn != NULL && st != NULL) {
            c.prefix = "status";
            (void)v_schema(&c, sn, st, &name,
                           old != NULL ? dtk_json_get(old, "status") : NULL);
            c.prefix = NULL;
        }
    } else {
        /* 1. the OpenAPI schema */
        (void)v_schema(&c, s->root, obj, &name, old);
        /* 2. embedded resources */
        c.update = 0;
        c.ratcheting = 0;
        v_embedded(&c, s->root, obj, &path);
    }
    c.update = 0;
    c.ratcheting = 0;
    /* 3. list types; on update only when the old object kept them */
    if (old != NULL) {
        dtk_fielderr_list old_errs = DTK_FIELDERR_LIST_INIT;
        vctx oc = c;

        oc.errs = &old_errs;
        v_listtype(&oc, s->root, old, &path);
        if (old_errs.len == 0) {
            v_listtype(&c, s->root, obj, &path);
        }
        dtk_fielderr_list_dispose(&old_errs);
    } else {
        v_listtype(&c, s->root, obj, &path);
    }
    /* 4. CEL, unless the object does not have the shape rules expect */
    if (!s->has_rules) {
        /* no CEL validator */
    } else if (dtk_schema_has_blocking_error(errs)) {
        dtk_fielderr_invalid(errs, DTK_FIELDERR_NIL_PATH, NULL,
                             BLOCKED_CEL_MESSAGE);
    } else {
        c.update = old != NULL;
        c.ratcheting = old != NULL;
        v_cel(&c, s->root, obj, old, &path, 0, old != NULL);
    }
    dtk_buf_dispose(&name);
    dtk_buf_dispose(&path);
}

void dtk_schema_validate(const dtk_schema *s,
                         const dtk_json *obj,
                         dtk_fielderr_list *errs)
{
    validate(s, obj, NULL, 0, errs, NULL);
}

void dtk_schema_validate_update(const dtk_schema *s,
                                const dtk_json *obj,
                                const dtk_json *old,
                                dtk_fielderr_list *errs,
                                dtk_fielderr_list *warnings)
{
    validate(s, obj, old, 0, errs, warnings);
}

void dtk_schema_validate_status_update(const dtk_schema *s,
                                       const dtk_json *obj,
                                       const dtk_json *old,
                                       dtk_fielderr_list *errs,
                                       dtk_fielderr_list *warnings)
{
    validate(s, obj, old, 1, errs, warnings);
}

/* ------------------------------------------------------------------ */
/* Pruning and defaulting                                               */

static int is_meta_field(const char *k)
{
    return strcmp(k, "apiVersion") == 0 || strcmp(k, "kind") == 0 ||
           strcmp(k, "metadata") == 0;
}

static int is_object_meta_field(const char *k)
{
    static const char *const known[] = {"name",
                                        "generateName",
                                        "namespace",
                                        "selfLink",
                                        "uid",
                                        "resourceVersion",
                                        "generation",
                                        "creationTimestamp",
                                        "deletionTimestamp",
                                        "deletionGracePeriodSeconds",
                                        "labels",
                                        "annotations",
                                        "ownerReferences",
                                        "finalizers",
                                        "managedFields"};

    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strcmp(k, known[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

typedef struct prune_ctx {
    dtk_json *paths; /* JSON array of strings, or NULL */
    dtk_buf path;    /* UnknownFieldPathOptions.ParentPath */
} prune_ctx;

static void prune_record(prune_ctx *p, const char *key)
{
    size_t mark = p->path.len;

    if (p->paths == NULL) {
        return;
    }
    if (p->path.len > 0) {
        (void)dtk_buf_putc(&p->path, '.');
    }
    (void)dtk_buf_puts(&p->path, key);
    dtk_json_append(p->paths,
                    dtk_json_new_stringn(dtk_buf_cstr(&p->path), p->path.len));
    path_truncate(&p->path, mark);
}

static void prune_key(prune_ctx *p, const char *key)
{
    if (p->path.len > 0) {
        (void)dtk_buf_putc(&p->path, '.');
    }
    (void)dtk_buf_puts(&p->path, key);
}

/* Removes members for which keep[i] is 0, in one pass. */
static void compact_object(dtk_json *x, const char *keep)
{
    size_t w = 0;

    for (size_t i = 0; i < x->u.object.len; i++) {
        if (keep[i]) {
            x->u.object.keys[w] = x->u.object.keys[i];
            x->u.object.values[w] = x->u.object.values[i];
            w++;
        } else {
            dtk_free(x->u.object.keys[i]);
            dtk_json_free(x->u.object.values[i]);
        }
    }
    x->u.object.len = w;
}

static void prune(prune_ctx *p,
                  dtk_json *x,
                  const dtk_schema__node *s,
                  int resource);

/* An embedded resource's metadata keeps the ObjectMeta fields only. */
static void prune_embedded_meta(prune_ctx *p, dtk_json *meta)
{
    size_t mark = p->path.len;
    char *keep;

    if (meta->type != DTK_JSON_OBJECT) {
        return;
    }
    prune_key(p, "metadata");
    keep = dtk_calloc(meta->u.object.len ? meta->u.object.len : 1, 1);
    for (size_t i = 0; i < meta->u.object.len; i++) {
        keep[i] = (char)is_object_meta_field(meta->u.object.keys[i]);
        if (!keep[i]) {
            prune_record(p, meta->u.object.keys[i]);
        }
    }
    compact_object(meta, keep);
    dtk_free(keep);
    path_truncate(&p->path, mark);
}

/* skipPrune: preserve unknown fields here, but prune declared ones. */
static void skip_prune(prune_ctx *p,
                       dtk_json *x,
                       const dtk_schema__node *s,
                       int resource)
{
    size_t mark = p->path.len;

    if (s == NULL) {
        return;
    }
    if (x->type == DTK_JSON_OBJECT) {
        for (size_t i = 0; i < x->u.object.len; i++) {
            const char *k = x->u.object.keys[i];
            const dtk_schema__node *sub;

            if (resource && is_meta_field(k)) {
                continue;
            }
            sub = dtk_schema__prop_get(s, k);
            if (sub != NULL || s->has_additional) {
                prune_key(p, k);
                prune(p, x->u.object.values[i],
                      sub != NULL ? sub : s->additional,
                      sub != NULL
                          ? sub->embedded
                          : (s->additional != NULL && s->additional->embedded));
                path_truncate(&p->path, mark);
            }
        }
    } else if (x->type == DTK_JSON_ARRAY) {
        for (size_t i = 0; i < x->u.array.len; i++) {
            path_index(&p->path, i);
            skip_prune(p, x->u.array.items[i], s->items,
                       s->items != NULL && s->items->embedded);
            path_truncate(&p->path, mark);
        }
    }
}

static void prune(prune_ctx *p,
                  dtk_json *x,
                  const dtk_schema__node *s,
                  int resource)
{
    size_t mark = p->path.len;

    if (s != NULL && s->preserve_unknown) {
        skip_prune(p, x, s, resource);
        return;
    }
    if (x->type == DTK_JSON_OBJECT) {
        char *keep = dtk_calloc(x->u.object.len ? x->u.object.len : 1, 1);

        for (size_t i = 0; i < x->u.object.len; i++) {
            const char *k = x->u.object.keys[i];
            const dtk_schema__node *sub;

            if (s == NULL) {
                prune_record(p, k);
                continue;
            }
            if (resource && is_meta_field(k)) {
                keep[i] = 1;
                continue;
            }
            sub = dtk_schema__prop_get(s, k);
            if (sub != NULL || s->has_additional) {
                const dtk_schema__node *next =
                    sub != NULL ? sub : s->additional;

                keep[i] = 1;
                prune_key(p, k);
                prune(p, x->u.object.values[i], next,
                      next != NULL && next->embedded);
                path_truncate(&p->path, mark);
            } else {
                /* apiVersion, kind and metadata at the root are not
                 * reported (Kubernetes keeps them out of the list). */
                if (!is_meta_field(k) || p->path.len > 0) {
                    prune_record(p, k);
                }
            }
        }
        compact_object(x, keep);
        dtk_free(keep);
    } else if (x->type == DTK_JSON_ARRAY) {
        for (size_t i = 0; i < x->u.array.len; i++) {
            const dtk_schema__node *items = s != NULL ? s->items : NULL;

            path_index(&p->path, i);
            prune(p, x->u.array.items[i], items,
                  items != NULL && items->embedded);
            path_truncate(&p->path, mark);
        }
    }
}

/* Embedded resources (not the root, which the server owns) get their
 * metadata reduced to ObjectMeta, as objectmeta.Coerce does. */
static void prune_embedded(prune_ctx *p,
                           dtk_json *x,
                           const dtk_schema__node *s,
                           int root)
{
    size_t mark = p->path.len;

    if (s == NULL) {
        return;
    }
    if (x->type == DTK_JSON_OBJECT) {
        if (s->embedded && !root) {
            dtk_json *meta = dtk_json_get(x, "metadata");

            if (meta != NULL) {
                prune_embedded_meta(p, meta);
            }
        }
        for (size_t i = 0; i < x->u.object.len; i++) {
            const char *k = x->u.object.keys[i];
            const dtk_schema__node *sub = dtk_schema__prop_get(s, k);

            if (sub == NULL) {
                sub = s->additional;
            }
            if (sub == NULL || (root && is_meta_field(k))) {
                continue;
            }
            prune_key(p, k);
            prune_embedded(p, x->u.object.values[i], sub, 0);
            path_truncate(&p->path, mark);
        }
    } else if (x->type == DTK_JSON_ARRAY) {
        for (size_t i = 0; i < x->u.array.len; i++) {
            path_index(&p->path, i);
            prune_embedded(p, x->u.array.items[i], s->items, 0);
            path_truncate(&p->path, mark);
        }
    }
}

static int cmp_json_strings(const void *a, const void *b)
{
    const dtk_json *const *x = a;
    const dtk_json *const *y = b;

    return strcmp((*x)->u.string.ptr, (*y)->u.string.ptr);
}

static void prune_root(const dtk_schema__node *root,
                       dtk_json *obj,
                       dtk_json *unknown_paths,
                       int resource)
{
    prune_ctx p;
    size_t first = 0;

    p.paths = unknown_paths != NULL && unknown_paths->type == DTK_JSON_ARRAY
                  ? unknown_paths
                  : NULL;
    if (p.paths != NULL) {
        first = p.paths->u.array.len;
    }
    dtk_buf_init(&p.path, 0);
    prune(&p, obj, root, resource);
    prune_embedded(&p, obj, root, resource);
    if (p.paths != NULL && p.paths->u.array.len > first + 1) {
        qsort(p.paths->u.array.items + first, p.paths->u.array.len - first,
              sizeof(dtk_json *), cmp_json_strings);
    }
    dtk_buf_dispose(&p.path);
}

void dtk_schema_prune(const dtk_schema *s,
                      dtk_json *obj,
                      dtk_json *unknown_paths)
{
    prune_root(s->root, obj, unknown_paths, 1);
}

static const dtk_schema__node *field_schema(const dtk_schema__node *s,
                                            const char *k)
{
    const dtk_schema__node *sub;

    if (s == NULL) {
        return NULL;
    }
    sub = dtk_schema__prop_get(s, k);
    return sub != NULL ? sub : s->additional;
}

/* defaulting.PruneNonNullableNullsWithoutDefaults */
static void prune_nulls(dtk_json *x, const dtk_schema__node *s)
{
    if (x->type == DTK_JSON_OBJECT) {
        char *keep = dtk_calloc(x->u.object.len ? x->u.object.len : 1, 1);

        for (size_t i = 0; i < x->u.object.len; i++) {
            const dtk_schema__node *sub = field_schema(s, x->u.object.keys[i]);
            dtk_json *v = x->u.object.values[i];

            keep[i] = 1;
            if (v->type == DTK_JSON_NULL && sub != NULL && !sub->nullable &&
                sub->default_value == NULL) {
                keep[i] = 0;
            } else {
                prune_nulls(v, sub);
            }
        }
        compact_object(x, keep);
        dtk_free(keep);
    } else if (x->type == DTK_JSON_ARRAY) {
        for (size_t i = 0; i < x->u.array.len; i++) {
            prune_nulls(x->u.array.items[i], s != NULL ? s->items : NULL);
        }
    }
}

static int non_nullable_null(const dtk_json *v, const dtk_schema__node *s)
{
    return v->type == DTK_JSON_NULL && s != NULL && !s->nullable &&
           s->default_value != NULL;
}

/* defaulting.Default */
static void apply_defaults(dtk_json *x, const dtk_schema__node *s)
{
    if (s == NULL) {
        return;
    }
    if (x->type == DTK_JSON_OBJECT) {
        for (size_t i = 0; i < s->n_props; i++) {
            const dtk_schema__node *prop = s->props[i].node;
            dtk_json *v;

            if (prop->default_value == NULL) {
                continue;
            }
            v = dtk_json_get(x, s->props[i].name);
            if (v == NULL) {
                dtk_json_set(x, s->props[i].name,
                             dtk_json_copy(prop->default_value));
            } else if (non_nullable_null(v, prop)) {
                dtk_json_replace(v, dtk_json_copy(prop->default_value));
            }
        }
        for (size_t i = 0; i < x->u.object.len; i++) {
            const dtk_schema__node *prop =
                dtk_schema__prop_get(s, x->u.object.keys[i]);
            dtk_json *v = x->u.object.values[i];

            if (prop != NULL) {
                apply_defaults(v, prop);
            } else if (s->additional != NULL) {
                /* Go defaults the replaced null in place and then
                 * recurses into the old (null) value, i.e. not into the
                 * inserted default. */
                if (non_nullable_null(v, s->additional)) {
                    dtk_json_replace(
                        v, dtk_json_copy(s->additional->default_value));
                } else {
                    apply_defaults(v, s->additional);
                }
            }
        }
    } else if (x->type == DTK_JSON_ARRAY) {
        for (size_t i = 0; i < x->u.array.len; i++) {
            dtk_json *v = x->u.array.items[i];

            if (non_nullable_null(v, s->items)) {
                dtk_json_replace(v, dtk_json_copy(s->items->default_value));
            } else {
                apply_defaults(v, s->items);
            }
        }
    }
}

void dtk_schema_default(const dtk_schema *s, dtk_json *obj)
{
    apply_defaults(obj, s->root);
}

void dtk_schema_coerce(const dtk_schema *s,
                       dtk_json *obj,
                       dtk_json *unknown_paths)
{
    dtk_schema_prune(s, obj, unknown_paths);
    prune_nulls(obj, s->root);
    dtk_schema_default(s, obj);
}

/* ------------------------------------------------------------------ */
/* Compile and CRD checks                                               */

enum level { LEVEL_ROOT, LEVEL_ITEM, LEVEL_FIELD };

typedef struct cctx {
    dtk_fielderr_list structural; /* sorted before they are reported */
    dtk_fielderr_list spec;       /* OpenAPI keyword errors */
    dtk_fielderr_list cel;        /* rule compile errors */
    size_t rules;                 /* x-kubernetes-validations seen */
} cctx;

static const char *const known_types[] = {"array",  "boolean", "integer",
                                          "number", "object",  "string"};

static unsigned type_bit(const char *t)
{
    if (strcmp(t, "string") == 0) {
        return DTK_SCHEMA__T_STRING;
    }
    if (strcmp(t, "number") == 0) {
        return DTK_SCHEMA__T_NUMBER;
    }
    if (strcmp(t, "integer") == 0) {
        return DTK_SCHEMA__T_INTEGER;
    }
    if (strcmp(t, "boolean") == 0) {
        return DTK_SCHEMA__T_BOOLEAN;
    }
    if (strcmp(t, "array") == 0) {
        return DTK_SCHEMA__T_ARRAY;
    }
    if (strcmp(t, "object") == 0) {
        return DTK_SCHEMA__T_OBJECT;
    }
    return 0;
}

/* Appends ".<keyword>" to the CRD path in b and returns the mark to
 * restore. */
static size_t kw(dtk_buf *b, const char *keyword)
{
    size_t mark = b->len;

    (void)dtk_buf_printf(b, ".%s", keyword);
    return mark;
}

/* A keyword of the wrong JSON type: the CRD would not even decode. */
static void bad_kind(dtk_fielderr_list *errs,
                     dtk_buf *path,
                     const char *keyword,
                     const dtk_json *v,
                     const char *what)
{
    size_t mark = kw(path, keyword);
    dtk_buf msg = DTK_BUF_INIT(0);

    (void)dtk_buf_printf(&msg, "must be %s", what);
    dtk_fielderr_invalid(errs, dtk_buf_cstr(path), v, dtk_buf_cstr(&msg));
    dtk_buf_dispose(&msg);
    path_truncate(path, mark);
}

static int get_bool(
    cctx *cc, const dtk_json *j, const char *key, dtk_buf *path, int *out)
{
    const dtk_json *v = dtk_json_get(j, key);

    *out = 0;
    if (v == NULL) {
        return 0;
    }
    if (v->type != DTK_JSON_BOOL) {
        bad_kind(&cc->spec, path, key, v, "a boolean");
        return 0;
    }
    *out = v->u.boolean;
    return 1;
}

static int get_count(
    cctx *cc, const dtk_json *j, const char *key, dtk_buf *path, int64_t *out)
{
    const dtk_json *v = dtk_json_get(j, key);
    int64_t n;

    *out = -1;
    if (v == NULL) {
        return 0;
    }
    if (v->type != DTK_JSON_NUMBER || !num_as_int(v, &n) || n < 0) {
        bad_kind(&cc->spec, path, key, v, "a non-negative integer");
        return 0;
    }
    *out = n;
    return 1;
}

static int get_number(
    cctx *cc, const dtk_json *j, const char *key, dtk_buf *path, double *out)
{
    const dtk_json *v = dtk_json_get(j, key);

    if (v == NULL) {
        return 0;
    }
    if (v->type != DTK_JSON_NUMBER) {
        bad_kind(&cc->spec, path, key, v, "a number");
        return 0;
    }
    *out = dtk_json_double(v);
    return 1;
}

static char *get_string(cctx *cc,
                        const dtk_json *j,
                        const char *key,
                        dtk_buf *path)
{
    const dtk_json *v = dtk_json_get(j, key);

    if (v == NULL) {
        return NULL;
    }
    if (v->type != DTK_JSON_STRING) {
        bad_kind(&cc->spec, path, key, v, "a string");
        return NULL;
    }
    return dtk_strndup(v->u.string.ptr, v->u.string.len);
}

static char **get_string_list(
    cctx *cc, const dtk_json *j, const char *key, dtk_buf *path, size_t *n_out)
{
    const dtk_json *v = dtk_json_get(j, key);
    char **list;

    *n_out = 0;
    if (v == NULL) {
        return NULL;
    }
    if (v->type != DTK_JSON_ARRAY) {
        bad_kind(&cc->spec, path, key, v, "a list of strings");
        return NULL;
    }
    for (size_t i = 0; i < v->u.array.len; i++) {
        if (v->u.array.items[i]->type != DTK_JSON_STRING) {
            bad_kind(&cc->spec, path, key, v, "a list of strings");
            return NULL;
        }
    }
    list = dtk_calloc(v->u.array.len ? v->u.array.len : 1, sizeof(*list));
    for (size_t i = 0; i < v->u.array.len; i++) {
        list[i] = dtk_strndup(v->u.array.items[i]->u.string.ptr,
                              v->u.array.items[i]->u.string.len);
    }
    *n_out = v->u.array.len;
    return list;
}

static int compare_errors(const void *a, const void *b)
{
    const dtk_fielderr *x = a;
    const dtk_fielderr *y = b;
    int c = strcmp(x->field, y->field);
    size_t xl, yl;

    /* Go sorts by Error() = "<field>: <body>"; comparing the field first
     * differs only when one field is a prefix of another, so compare the
     * full strings in that case. */
    if (c == 0) {
        return strcmp(x->message, y->message);
    }
    xl = strlen(x->field);
    yl = strlen(y->field);
    if (strncmp(x->field, y->field, xl < yl ? xl : yl) == 0) {
        const char *xs = xl < yl ? ": " : x->field + yl;
        const char *ys = yl < xl ? ": " : y->field + xl;

        return strcmp(xs, ys);
    }
    return c;
}

/* Where a schema node sits. */
typedef struct nctx {
    enum level lvl;
    int nested;  /* a value validation under allOf/anyOf/oneOf/not */
    int in_meta; /* inside a resource's apiVersion, kind or metadata */
    const char *no_defaults; /* why defaults are forbidden here, or NULL */
    int is_root;
    int int_or_string_branch; /* {type: integer}/{type: string} of the
                                 int-or-string anyOf pattern */
} nctx;

static dtk_schema__node *compile_node(cctx *cc,
                                      const dtk_json *j,
                                      dtk_buf *path,
                                      nctx where);

/* anyOf: [{type: integer}, {type: string}], exactly. */
static int is_int_or_string_any_of(const dtk_json *any_of)
{
    const char *types[] = {"integer", "string"};

    if (any_of == NULL || any_of->type != DTK_JSON_ARRAY ||
        any_of->u.array.len != 2) {
        return 0;
    }
    for (size_t i = 0; i < 2; i++) {
        const dtk_json *b = any_of->u.array.items[i];
        const char *t = dtk_json_get_string(b, "type");

        if (b->type != DTK_JSON_OBJECT || b->u.object.len != 1 || t == NULL ||
            strcmp(t, types[i]) != 0) {
            return 0;
        }
    }
    return 1;
}

static dtk_schema__node **compile_list(cctx *cc,
                                       const dtk_json *j,
                                       const char *key,
                                       dtk_buf *path,
                                       nctx where,
                                       int int_or_string,
                                       size_t *n_out)
{
    const dtk_json *v = dtk_json_get(j, key);
    dtk_schema__node **list;
    size_t mark;

    *n_out = 0;
    if (v == NULL) {
        return NULL;
    }
    if (v->type != DTK_JSON_ARRAY) {
        bad_kind(&cc->spec, path, key, v, "a list of schemas");
        return NULL;
    }
    list = dtk_calloc(v->u.array.len ? v->u.array.len : 1, sizeof(*list));
    mark = path->len;
    for (size_t i = 0; i < v->u.array.len; i++) {
        nctx sub = where;

        sub.nested = 1;
        sub.is_root = 0;
        sub.int_or_string_branch = int_or_string;
        (void)dtk_buf_printf(path, ".%s[%zu]", key, i);
        list[i] = compile_node(cc, v->u.array.items[i], path, sub);
        path_truncate(path, mark);
    }
    *n_out = v->u.array.len;
    return list;
}

/* Nested value validations (under anyOf, allOf, oneOf, not) may not carry
 * what makes a schema structural. */
static void check_nested(cctx *cc, const dtk_json *j, dtk_buf *path)
{
    static const struct {
        const char *key;
        const char *msg;
    } forbidden[] = {
        {"type", "must be empty to be structural"},
        {"additionalProperties", "must be undefined to be structural"},
        {"default", "must be undefined to be structural"},
        {"title", "must be empty to be structural"},
        {"description", "must be empty to be structural"},
        {"nullable", "must be false to be structural"},
        {"x-kubernetes-preserve-unknown-fields",
         "must be false to be structural"},
        {"x-kubernetes-embedded-resource", "must be false to be structural"},
        {"x-kubernetes-int-or-string", "must be false to be structural"},
        {"x-kubernetes-list-map-keys", "must be empty to be structural"},
        {"x-kubernetes-list-type", "must be undefined to be structural"},
    };
    const dtk_json *props = dtk_json_get(j, "properties");

    for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++) {
        const dtk_json *v = dtk_json_get(j, forbidden[i].key);
        int set;

        if (v == NULL) {
            continue;
        }
        /* Zero values do not count (Go compares with the zero value). */
        set = !(v->type == DTK_JSON_BOOL && !v->u.boolean) &&
              !(v->type == DTK_JSON_STRING && v->u.string.len == 0) &&
              !(v->type == DTK_JSON_ARRAY && v->u.array.len == 0) &&
              v->type != DTK_JSON_NULL;
        if (set) {
            size_t mark = kw(path, forbidden[i].key);

            dtk_fielderr_forbidden(&cc->structural, dtk_buf_cstr(path),
                                   forbidden[i].msg);
            path_truncate(path, mark);
        }
    }
    if (props != NULL && dtk_json_get(props, "metadata") != NULL) {
        size_t mark = path->len;

        (void)dtk_buf_puts(path, ".properties[metadata]");
        dtk_fielderr_forbidden(&cc->structural, dtk_buf_cstr(path),
                               "must not be specified in a nested context");
        path_truncate(path, mark);
    }
}

/* The root metadata schema may only restrict name and generateName. */
static void check_root_metadata(cctx *cc, const dtk_json *meta, dtk_buf *path)
{
    int ok = meta->type == DTK_JSON_OBJECT;

    for (size_t i = 0; ok && i < meta->u.object.len; i++) {
        const char *k = meta->u.object.keys[i];
        const dtk_json *v = meta->u.object.values[i];

        if (strcmp(k, "type") == 0 || strcmp(k, "default") == 0) {
            continue;
        }
        if (strcmp(k, "properties") == 0 && v->type == DTK_JSON_OBJECT) {
            for (size_t p = 0; p < v->u.object.len; p++) {
                if (strcmp(v->u.object.keys[p], "name") != 0 &&
                    strcmp(v->u.object.keys[p], "generateName") != 0) {
                    ok = 0;
                }
            }
            continue;
        }
        ok = 0;
    }
    if (!ok) {
        size_t mark = path->len;

        (void)dtk_buf_puts(path, ".properties[metadata]");
        dtk_fielderr_forbidden(&cc->structural, dtk_buf_cstr(path),
                               "must not specify anything other than name "
                               "and generateName, but metadata is implicitly "
                               "specified");
        path_truncate(path, mark);
    }
}

/* validateStructuralCompleteness: properties and items named in value
 * validations must exist in the structural part. */
static void check_completeness(cctx *cc,
                               const dtk_schema__node *spine,
                               const dtk_json *nested,
                               dtk_buf *spath,
                               dtk_buf *vpath)
{
    const dtk_json *props = dtk_json_get(nested, "properties");
    const dtk_json *items = dtk_json_get(nested, "items");
    static const char *const junctors[] = {"allOf", "anyOf", "oneOf"};
    const dtk_json *not_ = dtk_json_get(nested, "not");
    size_t sm = spath->len, vm = vpath->len;

    if (props != NULL && props->type == DTK_JSON_OBJECT) {
        for (size_t i = 0; i < props->u.object.len; i++) {
            const char *k = props->u.object.keys[i];
            const dtk_schema__node *sub =
                spine != NULL ? dtk_schema__prop_get(spine, k) : NULL;

            (void)dtk_buf_printf(spath, ".properties[%s]", k);
            (void)dtk_buf_printf(vpath, ".properties[%s]", k);
            if (sub == NULL) {
                dtk_buf msg = DTK_BUF_INIT(0);

                (void)dtk_buf_printf(&msg, "because it is defined in %s",
                                     dtk_buf_cstr(vpath));
                dtk_fielderr_required(&cc->structural, dtk_buf_cstr(spath),
                                      dtk_buf_cstr(&msg));
                dtk_buf_dispose(&msg);
            } else {
                check_completeness(cc, sub, props->u.object.values[i], spath,
                                   vpath);
            }
            path_truncate(spath, sm);
            path_truncate(vpath, vm);
        }
    }
    if (items != NULL && items->type == DTK_JSON_OBJECT) {
        (void)dtk_buf_puts(spath, ".items");
        (void)dtk_buf_puts(vpath, ".items");
        if (spine == NULL || spine->items == NULL) {
            dtk_buf msg = DTK_BUF_INIT(0);

            (void)dtk_buf_printf(&msg, "because it is defined in %s",
                                 dtk_buf_cstr(vpath));
            dtk_fielderr_required(&cc->structural, dtk_buf_cstr(spath),
                                  dtk_buf_cstr(&msg));
            dtk_buf_dispose(&msg);
        } else {
            check_completeness(cc, spine->items, items, spath, vpath);
        }
        path_truncate(spath, sm);
        path_truncate(vpath, vm);
    }
    for (size_t k = 0; k < 3; k++) {
        const dtk_json *l = dtk_json_get(nested, junctors[k]);

        if (l == NULL || l->type != DTK_JSON_ARRAY) {
            continue;
        }
        for (size_t i = 0; i < l->u.array.len; i++) {
            (void)dtk_buf_printf(vpath, ".%s[%zu]", junctors[k], i);
            check_completeness(cc, spine, l->u.array.items[i], spath, vpath);
            path_truncate(vpath, vm);
        }
    }
    if (not_ != NULL && not_->type == DTK_JSON_OBJECT) {
        (void)dtk_buf_puts(vpath, ".not");
        check_completeness(cc, spine, not_, spath, vpath);
        path_truncate(vpath, vm);
    }
}

/* %#v of an apiextensions.ValidationRule, the value Kubernetes prints for
 * a rule that does not compile. Go prints set pointers as addresses; we
 * print a fixed one. */
static void fmt_rule_struct(dtk_buf *b, const dtk_json *rule)
{
    static const char *const strings[] = {"rule", "message",
                                          "messageExpression"};
    static const char *const names[] = {"Rule", "Message", "MessageExpression"};
    const dtk_json *reason = dtk_json_get(rule, "reason");
    const dtk_json *fp = dtk_json_get(rule, "fieldPath");
    const dtk_json *oos = dtk_json_get(rule, "optionalOldSelf");

    (void)dtk_buf_puts(b, "apiextensions.ValidationRule{");
    for (size_t i = 0; i < 3; i++) {
        const char *s = dtk_json_get_string(rule, strings[i]);

        (void)dtk_buf_printf(b, "%s:", names[i]);
        dtk_fielderr_fmt_quote(b, s != NULL ? s : "",
                               s != NULL ? strlen(s) : 0);
        (void)dtk_buf_puts(b, ", ");
    }
    (void)dtk_buf_printf(b,
                         "Reason:(*apiextensions.FieldValueErrorReason)"
                         "(%s), FieldPath:",
                         reason != NULL ? "0xc000000000" : "nil");
    {
        const char *s = dtk_json_string(fp);

        dtk_fielderr_fmt_quote(b, s != NULL ? s : "",
                               s != NULL ? strlen(s) : 0);
    }
    (void)dtk_buf_printf(b, ", OptionalOldSelf:(*bool)(%s)}",
                         oos != NULL ? "0xc000000000" : "nil");
}

static void rule_invalid(cctx *cc,
                         dtk_buf *path,
                         size_t i,
                         const char *field,
                         const dtk_json *rule,
                         const char *detail)
{
    size_t mark = path->len;
    dtk_buf msg = DTK_BUF_INIT(0);

    (void)dtk_buf_printf(path, ".x-kubernetes-validations[%zu].%s", i, field);
    (void)dtk_buf_puts(&msg, "Invalid value: ");
    fmt_rule_struct(&msg, rule);
    (void)dtk_buf_printf(&msg, ": %s", detail);
    dtk_fielderr_add(&cc->cel, "FieldValueInvalid", dtk_buf_cstr(path),
                     dtk_buf_cstr(&msg));
    dtk_buf_dispose(&msg);
    path_truncate(path, mark);
}

static char *trim_dup(const char *s)
{
    size_t len;

    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') {
        s++;
    }
    len = strlen(s);
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
                       s[len - 1] == '\n' || s[len - 1] == '\r')) {
        len--;
    }
    return dtk_strndup(s, len);
}

/* Resolves a rule's fieldPath (".a.b", ".m['k']") against the schema into
 * a field.Path string ("a.b", "m[k]"); NULL with *err set when invalid. */
static char *resolve_field_path(const dtk_schema__node *n,
                                const char *fp,
                                const char **err)
{
    dtk_buf out = DTK_BUF_INIT(0);
    const char *p = fp;

    *err = NULL;
    while (*p != '\0') {
        char name[256];
        size_t len = 0;
        int named;

        if (n == NULL) {
            *err = "does not refer to a valid field";
            break;
        }
        if (*p == '.') {
            p++;
            while (*p != '\0' && *p != '.' && *p != '[' &&
                   len + 1 < sizeof(name)) {
                name[len++] = *p++;
            }
        } else if (*p == '[' && p[1] == '\'') {
            p += 2;
            while (*p != '\0' && !(p[0] == '\'' && p[1] == ']') &&
                   len + 1 < sizeof(name)) {
                if (*p == '\\' && p[1] != '\0') {
                    p++;
                }
                name[len++] = *p++;
            }
            if (*p != '\'') {
                *err = "unexpected end of JSON path";
                break;
            }
            p += 2;
        } else {
            *err = "expected [ or . but got something else";
            break;
        }
        name[len] = '\0';
        if (len == 0) {
            *err = "unexpected end of JSON path";
            break;
        }
        named = n->n_props > 0;
        if (named) {
            const dtk_schema__node *sub = dtk_schema__prop_get(n, name);

            if (sub == NULL) {
                *err = "does not refer to a valid field";
                break;
            }
            path_child(&out, name);
            n = sub;
        } else if (n->additional != NULL) {
            path_key(&out, name);
            n = n->additional;
        } else {
            *err = "does not refer to a valid field";
            break;
        }
    }
    if (*err != NULL) {
        dtk_buf_dispose(&out);
        return NULL;
    }
    return dtk_buf_detach(&out);
}

static void compile_rules(cctx *cc,
                          dtk_schema__node *n,
                          const dtk_json *j,
                          dtk_buf *path)
{
    const dtk_json *rules = dtk_json_get(j, "x-kubernetes-validations");
    size_t mark = path->len;

    if (rules == NULL) {
        return;
    }
    if (rules->type != DTK_JSON_ARRAY) {
        bad_kind(&cc->spec, path, "x-kubernetes-validations", rules,
                 "a list of rules");
        return;
    }
    n->rules = dtk_calloc(rules->u.array.len ? rules->u.array.len : 1,
                          sizeof(*n->rules));
    cc->rules += rules->u.array.len;
    for (size_t i = 0; i < rules->u.array.len; i++) {
        const dtk_json *r = rules->u.array.items[i];
        const char *rule = dtk_json_get_string(r, "rule");
        const char *message = dtk_json_get_string(r, "message");
        const char *msg_expr = dtk_json_get_string(r, "messageExpression");
        const char *reason = dtk_json_get_string(r, "reason");
        const char *fp = dtk_json_get_string(r, "fieldPath");
        dtk_schema__rule out;
        char *trimmed_rule = NULL;
        char *trimmed_msg = NULL;
        char *err = NULL;
        int error;

        memset(&out, 0, sizeof(out));
        if (r->type != DTK_JSON_OBJECT) {
            (void)dtk_buf_printf(path, ".x-kubernetes-validations[%zu]", i);
            dtk_fielderr_invalid(&cc->spec, dtk_buf_cstr(path), r,
                                 "must be an object");
            path_truncate(path, mark);
            continue;
        }
        trimmed_rule = trim_dup(rule != NULL ? rule : "");
        trimmed_msg = message != NULL ? trim_dup(message) : NULL;
        (void)dtk_buf_printf(path, ".x-kubernetes-validations[%zu]", i);
        if (trimmed_rule[0] == '\0') {
            path_child(path, "rule");
            dtk_fielderr_required(&cc->spec, dtk_buf_cstr(path),
                                  "rule is not specified");
        } else if (message != NULL && message[0] != '\0' &&
                   trimmed_msg[0] == '\0') {
            path_child(path, "message");
            dtk_fielderr_invalid_string(&cc->spec, dtk_buf_cstr(path), message,
                                        "message must be non-empty if "
                                        "specified");
        } else if (trimmed_msg != NULL && strchr(trimmed_msg, '\n') != NULL) {
            path_child(path, "message");
            dtk_fielderr_invalid_string(&cc->spec, dtk_buf_cstr(path), message,
                                        "message must not contain line "
                                        "breaks");
        } else if (strchr(trimmed_rule, '\n') != NULL &&
                   (trimmed_msg == NULL || trimmed_msg[0] == '\0')) {
            path_child(path, "message");
            dtk_fielderr_required(&cc->spec, dtk_buf_cstr(path),
                                  "message must be specified if rule "
                                  "contains line breaks");
        } else if (reason != NULL && strcmp(reason, "FieldValueInvalid") != 0 &&
                   strcmp(reason, "FieldValueForbidden") != 0 &&
                   strcmp(reason, "FieldValueRequired") != 0 &&
                   strcmp(reason, "FieldValueDuplicate") != 0) {
            static const char *const reasons[] = {
                "FieldValueRequired", "FieldValueForbidden",
                "FieldValueInvalid", "FieldValueDuplicate"};
            dtk_json *rv = dtk_json_new_string(reason);

            path_child(path, "reason");
            dtk_fielderr_not_supported(&cc->spec, dtk_buf_cstr(path), rv,
                                       reasons, 4);
            dtk_json_free(rv);
        }
        path_truncate(path, mark);
        if (dtk_json_get(r, "optionalOldSelf") != NULL) {
            rule_invalid(cc, path, i, "rule", r,
                         "optionalOldSelf is not supported by this "
                         "development API server");
        }
        if (fp != NULL && fp[0] != '\0') {
            const char *fperr = NULL;

            out.field_path = resolve_field_path(n, fp, &fperr);
            if (out.field_path == NULL) {
                dtk_buf msg = DTK_BUF_INIT(0);

                (void)dtk_buf_printf(path,
                                     ".x-kubernetes-validations[%zu]."
                                     "fieldPath",
                                     i);
                (void)dtk_buf_printf(&msg,
                                     "fieldPath must be a valid path: "
                                     "%s",
                                     fperr);
                dtk_fielderr_invalid_string(&cc->spec, dtk_buf_cstr(path), fp,
                                            dtk_buf_cstr(&msg));
                dtk_buf_dispose(&msg);
                path_truncate(path, mark);
            }
        }
        if (trimmed_rule[0] != '\0') {
            error = dtk_schema__cel_compile(&out.program, trimmed_rule, n,
                                            DTK_SCHEMA__CEL_WANT_BOOL, &err);
            if (error < 0) {
                rule_invalid(cc, path, i, "rule", r, err);
                dtk_free(err);
                err = NULL;
            }
        }
        if (msg_expr != NULL && msg_expr[0] != '\0') {
            char *trimmed_expr = trim_dup(msg_expr);

            error =
                dtk_schema__cel_compile(&out.message_program, trimmed_expr, n,
                                        DTK_SCHEMA__CEL_WANT_STRING, &err);
            if (error < 0) {
                rule_invalid(cc, path, i, "messageExpression", r, err);
                dtk_free(err);
                err = NULL;
            }
            dtk_free(trimmed_expr);
        }
        out.rule = trimmed_rule;
        out.message =
            trimmed_msg != NULL && trimmed_msg[0] != '\0' ? trimmed_msg : NULL;
        if (out.message == NULL) {
            dtk_free(trimmed_msg);
        }
        out.reason = reason != NULL ? dtk_strdup(reason) : NULL;
        n->rules[n->n_rules++] = out;
    }
}

/* x-kubernetes-list-map-keys errors print the keys as Go prints a
 * []string: []string{"a", "b"}. */
static void keys_invalid(dtk_fielderr_list *errs,
                         const dtk_buf *path,
                         const dtk_json *keys,
                         const char *detail)
{
    dtk_buf body = DTK_BUF_INIT(0);

    (void)dtk_buf_puts(&body, "Invalid value: []string{");
    for (size_t i = 0; i < keys->u.array.len; i++) {
        const dtk_json *k = keys->u.array.items[i];

        if (i > 0) {
            (void)dtk_buf_puts(&body, ", ");
        }
        dtk_fielderr_fmt_quote(&body, k->u.string.ptr, k->u.string.len);
    }
    (void)dtk_buf_printf(&body, "}: %s", detail);
    dtk_fielderr_add(errs, "FieldValueInvalid", dtk_buf_cstr(path),
                     dtk_buf_cstr(&body));
    dtk_buf_dispose(&body);
}

static dtk_schema__node *compile_node(cctx *cc,
                                      const dtk_json *j,
                                      dtk_buf *path,
                                      nctx where)
{
    dtk_schema__node *n = dtk_calloc(1, sizeof(*n));
    const dtk_json *v;
    char *format = NULL;
    size_t mark = path->len;
    enum level lvl = where.lvl;
    int nested = where.nested;
    int in_meta = where.in_meta;
    int is_root = where.is_root;

    n->max_length = n->min_length = -1;
    n->max_items = n->min_items = -1;
    n->max_properties = n->min_properties = -1;
    n->type = dtk_strdup("");
    n->type_names = dtk_strdup("");
    if (j == NULL || j->type != DTK_JSON_OBJECT) {
        dtk_fielderr_invalid(&cc->spec, dtk_buf_cstr(path), j,
                             "must be a schema object");
        return n;
    }

    /* --- OpenAPI keyword checks (specStandardValidatorV3) --- */
    v = dtk_json_get(j, "type");
    if (v != NULL && v->type != DTK_JSON_STRING) {
        bad_kind(&cc->spec, path, "type", v, "a string");
    } else if (v != NULL && v->u.string.len > 0) {
        dtk_free(n->type);
        n->type = dtk_strndup(v->u.string.ptr, v->u.string.len);
        if (strcmp(n->type, "null") == 0) {
            size_t m = kw(path, "type");

            dtk_fielderr_forbidden(&cc->spec, dtk_buf_cstr(path),
                                   "type cannot be set to null, use nullable "
                                   "as an alternative");
            path_truncate(path, m);
        } else if (type_bit(n->type) == 0) {
            size_t m = kw(path, "type");

            dtk_fielderr_not_supported(&cc->spec, dtk_buf_cstr(path), v,
                                       known_types, 6);
            path_truncate(path, m);
        }
        n->types = type_bit(n->type);
    }
    {
        static const struct {
            const char *key;
            const char *msg;
        } unsupported[] = {
            {"id", "id is not supported"},
            {"additionalItems", "additionalItems is not supported"},
            {"patternProperties", "patternProperties is not supported"},
            {"definitions", "definitions is not supported"},
            {"dependencies", "dependencies is not supported"},
            {"$ref", "$ref is not supported"},
        };

        for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]);
             i++) {
            if (dtk_json_get(j, unsupported[i].key) != NULL) {
                size_t m = kw(path, unsupported[i].key);

                dtk_fielderr_forbidden(&cc->spec, dtk_buf_cstr(path),
                                       unsupported[i].msg);
                path_truncate(path, m);
            }
        }
    }
    v = dtk_json_get(j, "items");
    if (v != NULL && v->type == DTK_JSON_ARRAY) {
        size_t m = kw(path, "items");

        dtk_fielderr_forbidden(&cc->spec, dtk_buf_cstr(path),
                               "items must be a schema object and not an "
                               "array");
        path_truncate(path, m);
    }
    (void)get_bool(cc, j, "nullable", path, &n->nullable);
    (void)get_bool(cc, j, "x-kubernetes-int-or-string", path,
                   &n->int_or_string);
    (void)get_bool(cc, j, "x-kubernetes-embedded-resource", path, &n->embedded);
    if (get_bool(cc, j, "x-kubernetes-preserve-unknown-fields", path,
                 &n->preserve_unknown) &&
        !n->preserve_unknown) {
        size_t m = kw(path, "x-kubernetes-preserve-unknown-fields");
        dtk_json *f = dtk_json_new_bool(0);

        dtk_fielderr_invalid(&cc->spec, dtk_buf_cstr(path), f,
                             "must be true or undefined");
        dtk_json_free(f);
        path_truncate(path, m);
    }
    if (in_meta && n->embedded) {
        size_t m = kw(path, "x-kubernetes-embedded-resource");

        dtk_fielderr_forbidden(&cc->spec, dtk_buf_cstr(path),
                               "must not be used inside of resource meta");
        path_truncate(path, m);
    }
    if (n->int_or_string) {
        n->types = DTK_SCHEMA__T_INTEGER | DTK_SCHEMA__T_STRING;
        dtk_free(n->type_names);
        n->type_names = dtk_strdup("integer,string");
    } else if (n->types != 0) {
        dtk_free(n->type_names);
        n->type_names = dtk_strdup(n->type);
    }
    format = get_string(cc, j, "format", path);
    if (format != NULL && dtk_schema__format_supported(format) != NULL) {
        n->format = format;
        format = NULL;
    }
    dtk_free(format);

    n->has_maximum = get_number(cc, j, "maximum", path, &n->maximum);
    n->has_minimum = get_number(cc, j, "minimum", path, &n->minimum);
    n->has_multiple_of = get_number(cc, j, "multipleOf", path, &n->multiple_of);
    (void)get_bool(cc, j, "exclusiveMaximum", path, &n->exclusive_maximum);
    (void)get_bool(cc, j, "exclusiveMinimum", path, &n->exclusive_minimum);
    (void)get_count(cc, j, "maxLength", path, &n->max_length);
    (void)get_count(cc, j, "minLength", path, &n->min_length);
    (void)get_count(cc, j, "maxItems", path, &n->max_items);
    (void)get_count(cc, j, "minItems", path, &n->min_items);
    (void)get_count(cc, j, "maxProperties", path, &n->max_properties);
    (void)get_count(cc, j, "minProperties", path, &n->min_properties);
    if (get_bool(cc, j, "uniqueItems", path, &n->unique_items) &&
        n->unique_items) {
        size_t m = kw(path, "uniqueItems");

        dtk_fielderr_forbidden(&cc->spec, dtk_buf_cstr(path),
                               "uniqueItems cannot be set to true since the "
                               "runtime complexity becomes quadratic");
        path_truncate(path, m);
    }
    n->required = get_string_list(cc, j, "required", path, &n->n_required);
    v = dtk_json_get(j, "enum");
    if (v != NULL) {
        if (v->type != DTK_JSON_ARRAY) {
            bad_kind(&cc->spec, path, "enum", v, "a list");
        } else {
            n->enum_values = dtk_json_copy(v);
        }
    }
    v = dtk_json_get(j, "default");
    if (v != NULL) {
        n->default_value = dtk_json_copy(v);
        if (where.no_defaults != NULL) {
            size_t m = kw(path, "default");
            dtk_buf msg = DTK_BUF_INIT(0);

            (void)dtk_buf_printf(&msg, "must not be set %s", where.no_defaults);
            dtk_fielderr_forbidden(&cc->spec, dtk_buf_cstr(path),
                                   dtk_buf_cstr(&msg));
            dtk_buf_dispose(&msg);
            path_truncate(path, m);
        }
    }

    /* pattern: a structural invariant in Kubernetes */
    n->pattern = get_string(cc, j, "pattern", path);
    if (n->pattern != NULL && n->pattern[0] != '\0') {
        char *err = NULL;
        int error = dtk_schema__regex_compile(&n->pattern_re, n->pattern, &err);

        if (error < 0) {
            size_t m = kw(path, "pattern");
            dtk_buf msg = DTK_BUF_INIT(0);

            if (error == DTK_EINVALID) {
                (void)dtk_buf_printf(&msg,
                                     "must be a valid regular "
                                     "expression, but isn't: %s",
                                     err);
            } else {
                (void)dtk_buf_printf(&msg, "cannot be used: %s", err);
            }
            dtk_fielderr_invalid_string(&cc->structural, dtk_buf_cstr(path),
                                        n->pattern, dtk_buf_cstr(&msg));
            dtk_buf_dispose(&msg);
            dtk_free(err);
            path_truncate(path, m);
        }
    }

    /* --- children --- */
    v = dtk_json_get(j, "additionalProperties");
    if (v != NULL) {
        const dtk_json *props = dtk_json_get(j, "properties");

        n->has_additional = 1;
        if (v->type == DTK_JSON_BOOL) {
            n->additional_bool = v->u.boolean;
        } else if (v->type == DTK_JSON_OBJECT) {
            size_t m = kw(path, "additionalProperties");
            nctx sub = where;

            sub.lvl = LEVEL_FIELD;
            sub.is_root = 0;
            sub.int_or_string_branch = 0;
            if (in_meta) {
                /* Pruning without a value would be ambiguous. */
                sub.no_defaults = "inside additionalProperties applying to "
                                  "object metadata";
            }
            n->additional = compile_node(cc, v, path, sub);
            path_truncate(path, m);
        } else {
            bad_kind(&cc->spec, path, "additionalProperties", v,
                     "a boolean or a schema");
        }
        if (props != NULL && props->type == DTK_JSON_OBJECT &&
            props->u.object.len > 0 &&
            (n->additional != NULL || !n->additional_bool)) {
            size_t m = kw(path, "additionalProperties");

            dtk_fielderr_forbidden(&cc->spec, dtk_buf_cstr(path),
                                   "additionalProperties and properties are "
                                   "mutual exclusive");
            path_truncate(path, m);
        }
        if (!nested && lvl == LEVEL_ROOT) {
            size_t m = kw(path, "additionalProperties");

            dtk_fielderr_forbidden(&cc->structural, dtk_buf_cstr(path),
                                   "must not be used at the root");
            path_truncate(path, m);
        }
        if (!nested && n->embedded) {
            size_t m = kw(path, "additionalProperties");

            dtk_fielderr_forbidden(&cc->structural, dtk_buf_cstr(path),
                                   "must not be used if "
                                   "x-kubernetes-embedded-resource is set");
            path_truncate(path, m);
        }
    }
    v = dtk_json_get(j, "properties");
    if (v != NULL && v->type != DTK_JSON_OBJECT) {
        bad_kind(&cc->spec, path, "properties", v, "an object of schemas");
    } else if (v != NULL) {
        n->props = dtk_calloc(v->u.object.len ? v->u.object.len : 1,
                              sizeof(*n->props));
        for (size_t i = 0; i < v->u.object.len; i++) {
            const char *k = v->u.object.keys[i];
            nctx sub = where;
            dtk_buf reason = DTK_BUF_INIT(0);

            sub.lvl = LEVEL_FIELD;
            sub.is_root = 0;
            sub.int_or_string_branch = 0;
            if (!nested && (is_root || n->embedded) && is_meta_field(k)) {
                sub.in_meta = 1;
                if (is_root) {
                    (void)dtk_buf_printf(&reason, "in top-level %s", k);
                    sub.no_defaults = dtk_buf_cstr(&reason);
                }
            }
            (void)dtk_buf_printf(path, ".properties[%s]", k);
            n->props[i].name = dtk_strdup(k);
            n->props[i].node =
                compile_node(cc, v->u.object.values[i], path, sub);
            dtk_buf_dispose(&reason);
            n->n_props++;
            path_truncate(path, mark);
        }
    }
    n->not_ = NULL;
    v = dtk_json_get(j, "not");
    if (v != NULL) {
        size_t m = kw(path, "not");
        nctx sub = where;

        sub.nested = 1;
        sub.is_root = 0;
        sub.int_or_string_branch = 0;
        n->not_ = compile_node(cc, v, path, sub);
        path_truncate(path, m);
    }
    {
        /* The two int-or-string shapes Kubernetes accepts with types in
         * nested value validations: anyOf of integer and string, or that
         * anyOf as the first allOf entry. */
        const dtk_json *all_of = dtk_json_get(j, "allOf");
        const dtk_json *first = all_of != NULL &&
                                        all_of->type == DTK_JSON_ARRAY &&
                                        all_of->u.array.len > 0
                                    ? all_of->u.array.items[0]
                                    : NULL;
        int any_pattern =
            !nested && is_int_or_string_any_of(dtk_json_get(j, "anyOf"));
        int all_pattern = !nested && first != NULL &&
                          is_int_or_string_any_of(dtk_json_get(first, "anyOf"));

        n->all_of = compile_list(cc, j, "allOf", path, where, 0, &n->n_all_of);
        if (all_pattern && n->n_all_of > 0) {
            /* Recompile the first entry's anyOf without the nested check. */
            dtk_schema__node *f = n->all_of[0];
            size_t m = path->len;
            nctx sub = where;

            for (size_t i = 0; i < f->n_any_of; i++) {
                node_free(f->any_of[i]);
            }
            dtk_free(f->any_of);
            sub.nested = 1;
            sub.is_root = 0;
            (void)dtk_buf_puts(path, ".allOf[0]");
            f->any_of =
                compile_list(cc, first, "anyOf", path, sub, 1, &f->n_any_of);
            path_truncate(path, m);
        }
        n->one_of = compile_list(cc, j, "oneOf", path, where, 0, &n->n_one_of);
        n->any_of = compile_list(cc, j, "anyOf", path, where, any_pattern,
                                 &n->n_any_of);
    }
    v = dtk_json_get(j, "items");
    if (v != NULL && v->type == DTK_JSON_OBJECT) {
        size_t m = kw(path, "items");
        nctx sub = where;

        sub.lvl = LEVEL_ITEM;
        sub.is_root = 0;
        sub.int_or_string_branch = 0;
        n->items = compile_node(cc, v, path, sub);
        path_truncate(path, m);
    } else if (v != NULL && v->type != DTK_JSON_ARRAY) {
        bad_kind(&cc->spec, path, "items", v, "a schema");
    }

    /* --- list and map types --- */
    {
        char *lt = get_string(cc, j, "x-kubernetes-list-type", path);
        char *mt = get_string(cc, j, "x-kubernetes-map-type", path);
        const dtk_json *keys_json =
            dtk_json_get(j, "x-kubernetes-list-map-keys");

        n->map_keys = get_string_list(cc, j, "x-kubernetes-list-map-keys", path,
                                      &n->n_map_keys);
        if (lt != NULL) {
            if (n->types != DTK_SCHEMA__T_ARRAY || n->int_or_string) {
                size_t m = kw(path, "type");

                if (n->type[0] == '\0') {
                    dtk_fielderr_required(&cc->spec, dtk_buf_cstr(path),
                                          "must be array if "
                                          "x-kubernetes-list-type is "
                                          "specified");
                } else {
                    dtk_fielderr_invalid_string(&cc->spec, dtk_buf_cstr(path),
                                                n->type,
                                                "must be array if "
                                                "x-kubernetes-list-type is "
                                                "specified");
                }
                path_truncate(path, m);
            }
            if (strcmp(lt, "set") == 0) {
                n->list_type = DTK_SCHEMA__LIST_SET;
            } else if (strcmp(lt, "map") == 0) {
                n->list_type = DTK_SCHEMA__LIST_MAP;
            } else if (strcmp(lt, "atomic") != 0) {
                static const char *const lts[] = {"atomic", "set", "map"};
                dtk_json *ltv = dtk_json_new_string(lt);
                size_t m = kw(path, "x-kubernetes-list-type");

                dtk_fielderr_not_supported(&cc->spec, dtk_buf_cstr(path), ltv,
                                           lts, 3);
                dtk_json_free(ltv);
                path_truncate(path, m);
            }
            if (n->list_type == DTK_SCHEMA__LIST_SET && n->items != NULL) {
                const dtk_json *ij = dtk_json_get(j, "items");
                const char *imt =
                    dtk_json_get_string(ij, "x-kubernetes-map-type");
                const char *ilt =
                    dtk_json_get_string(ij, "x-kubernetes-list-type");
                size_t m = path->len;

                /* Go passes the items' list-type pointer as the value in
                 * both cases: nil prints "null". */
                if (n->items->types == DTK_SCHEMA__T_OBJECT &&
                    (imt == NULL || strcmp(imt, "atomic") != 0)) {
                    dtk_json *iv =
                        ilt != NULL ? dtk_json_new_string(ilt) : NULL;

                    (void)dtk_buf_puts(path, ".items.x-kubernetes-map-type");
                    dtk_fielderr_invalid(&cc->spec, dtk_buf_cstr(path), iv,
                                         "must be atomic as item of a list "
                                         "with x-kubernetes-list-type=set");
                    dtk_json_free(iv);
                    path_truncate(path, m);
                } else if (n->items->types == DTK_SCHEMA__T_ARRAY &&
                           ilt != NULL && strcmp(ilt, "atomic") != 0) {
                    (void)dtk_buf_puts(path, ".items.x-kubernetes-list-type");
                    dtk_fielderr_invalid_string(&cc->spec, dtk_buf_cstr(path),
                                                ilt,
                                                "must be atomic as item of a "
                                                "list with "
                                                "x-kubernetes-list-type=set");
                    path_truncate(path, m);
                }
            }
            if (n->list_type == DTK_SCHEMA__LIST_MAP) {
                if (n->n_map_keys == 0) {
                    size_t m = kw(path, "x-kubernetes-list-map-keys");

                    dtk_fielderr_required(&cc->spec, dtk_buf_cstr(path),
                                          "must not be empty if "
                                          "x-kubernetes-list-type is map");
                    path_truncate(path, m);
                }
                if (n->items == NULL) {
                    size_t m = kw(path, "items");

                    dtk_fielderr_required(&cc->spec, dtk_buf_cstr(path),
                                          "must have a schema if "
                                          "x-kubernetes-list-type is map");
                    path_truncate(path, m);
                } else if (n->items->types != DTK_SCHEMA__T_OBJECT) {
                    size_t m = path->len;

                    (void)dtk_buf_puts(path, ".items.type");
                    dtk_fielderr_invalid_string(&cc->spec, dtk_buf_cstr(path),
                                                n->items->type,
                                                "must be object if parent "
                                                "array's "
                                                "x-kubernetes-list-type is "
                                                "map");
                    path_truncate(path, m);
                } else {
                    for (size_t k = 0; k < n->n_map_keys; k++) {
                        const dtk_schema__node *kp =
                            dtk_schema__prop_get(n->items, n->map_keys[k]);

                        if (kp == NULL) {
                            size_t m = kw(path, "x-kubernetes-list-map-keys");

                            keys_invalid(&cc->spec, path, keys_json,
                                         "entries must all be names of item "
                                         "properties");
                            path_truncate(path, m);
                        } else if (kp->types == DTK_SCHEMA__T_ARRAY ||
                                   kp->types == DTK_SCHEMA__T_OBJECT) {
                            size_t m = path->len;

                            (void)dtk_buf_printf(path,
                                                 ".items.properties[%s]"
                                                 ".type",
                                                 n->map_keys[k]);
                            dtk_fielderr_invalid_string(
                                &cc->spec, dtk_buf_cstr(path), n->items->type,
                                "must be a scalar type if parent array's "
                                "x-kubernetes-list-type is map");
                            path_truncate(path, m);
                        }
                        for (size_t o = 0; o < k; o++) {
                            if (strcmp(n->map_keys[o], n->map_keys[k]) == 0) {
                                size_t m =
                                    kw(path, "x-kubernetes-list-map-keys");

                                keys_invalid(&cc->spec, path, keys_json,
                                             "must not contain duplicate "
                                             "entries");
                                path_truncate(path, m);
                            }
                        }
                    }
                }
            }
        }
        if (n->n_map_keys > 0 && n->list_type != DTK_SCHEMA__LIST_MAP) {
            size_t m = kw(path, "x-kubernetes-list-type");

            if (lt == NULL) {
                dtk_fielderr_required(&cc->spec, dtk_buf_cstr(path),
                                      "must be map if "
                                      "x-kubernetes-list-map-keys is "
                                      "non-empty");
            } else {
                dtk_fielderr_invalid_string(&cc->spec, dtk_buf_cstr(path), lt,
                                            "must be map if "
                                            "x-kubernetes-list-map-keys is "
                                            "non-empty");
            }
            path_truncate(path, m);
        }
        if (mt != NULL) {
            if (n->types != DTK_SCHEMA__T_OBJECT || n->int_or_string) {
                size_t m = kw(path, "type");

                if (n->type[0] == '\0') {
                    dtk_fielderr_required(&cc->spec, dtk_buf_cstr(path),
                                          "must be object if "
                                          "x-kubernetes-map-type is "
                                          "specified");
                } else {
                    dtk_fielderr_invalid_string(&cc->spec, dtk_buf_cstr(path),
                                                n->type,
                                                "must be object if "
                                                "x-kubernetes-map-type is "
                                                "specified");
                }
                path_truncate(path, m);
            }
            if (strcmp(mt, "atomic") == 0) {
                n->map_atomic = 1;
            } else if (strcmp(mt, "granular") != 0) {
                static const char *const mts[] = {"atomic", "granular"};
                dtk_json *mtv = dtk_json_new_string(mt);
                size_t m = kw(path, "x-kubernetes-map-type");

                dtk_fielderr_not_supported(&cc->spec, dtk_buf_cstr(path), mtv,
                                           mts, 2);
                dtk_json_free(mtv);
                path_truncate(path, m);
            }
        }
        dtk_free(lt);
        dtk_free(mt);
    }

    /* --- structural invariants (validateStructuralInvariants) --- */
    if (nested) {
        if (!where.int_or_string_branch) {
            check_nested(cc, j, path);
        }
    } else {
        if (n->types == DTK_SCHEMA__T_ARRAY && !n->int_or_string &&
            n->items == NULL) {
            size_t m = kw(path, "items");

            dtk_fielderr_required(&cc->structural, dtk_buf_cstr(path),
                                  "must be specified");
            path_truncate(path, m);
        }
        if (n->int_or_string && n->preserve_unknown) {
            size_t m = kw(path, "x-kubernetes-preserve-unknown-fields");
            dtk_json *t = dtk_json_new_bool(1);

            dtk_fielderr_invalid(&cc->structural, dtk_buf_cstr(path), t,
                                 "must be false if "
                                 "x-kubernetes-int-or-string is true");
            dtk_json_free(t);
            path_truncate(path, m);
        }
        if (n->int_or_string && n->embedded) {
            size_t m = kw(path, "x-kubernetes-embedded-resource");
            dtk_json *t = dtk_json_new_bool(1);

            dtk_fielderr_invalid(&cc->structural, dtk_buf_cstr(path), t,
                                 "must be false if "
                                 "x-kubernetes-int-or-string is true");
            dtk_json_free(t);
            path_truncate(path, m);
        }
        if (n->embedded && strcmp(n->type, "object") != 0) {
            size_t m = kw(path, "type");

            if (n->type[0] == '\0') {
                dtk_fielderr_required(&cc->structural, dtk_buf_cstr(path),
                                      "must be object if "
                                      "x-kubernetes-embedded-resource is "
                                      "true");
            } else {
                dtk_fielderr_invalid_string(&cc->structural, dtk_buf_cstr(path),
                                            n->type,
                                            "must be object if "
                                            "x-kubernetes-embedded-resource "
                                            "is true");
            }
            path_truncate(path, m);
        } else if (n->type[0] == '\0' && !n->int_or_string &&
                   !n->preserve_unknown) {
            size_t m = kw(path, "type");

            dtk_fielderr_required(
                &cc->structural, dtk_buf_cstr(path),
                lvl == LEVEL_ROOT   ? "must not be empty at the root"
                : lvl == LEVEL_ITEM ? "must not be empty for specified "
                                      "array items"
                                    : "must not be empty for specified "
                                      "object fields");
            path_truncate(path, m);
        }
        if (lvl == LEVEL_ROOT && n->type[0] != '\0' &&
            strcmp(n->type, "object") != 0) {
            size_t m = kw(path, "type");

            dtk_fielderr_invalid_string(&cc->structural, dtk_buf_cstr(path),
                                        n->type, "must be object at the root");
            path_truncate(path, m);
        }
        if (is_root || n->embedded) {
            static const char *const metas[] = {"kind", "apiVersion",
                                                "metadata"};

            for (size_t k = 0; k < 3; k++) {
                const dtk_schema__node *p = dtk_schema__prop_get(n, metas[k]);
                const char *want = k < 2 ? "string" : "object";

                if (p != NULL && strcmp(p->type, want) != 0) {
                    size_t m = path->len;
                    dtk_buf msg = DTK_BUF_INIT(0);

                    (void)dtk_buf_printf(path, ".properties[%s].type",
                                         metas[k]);
                    (void)dtk_buf_printf(&msg, "must be %s", want);
                    dtk_fielderr_invalid_string(&cc->structural,
                                                dtk_buf_cstr(path), p->type,
                                                dtk_buf_cstr(&msg));
                    dtk_buf_dispose(&msg);
                    path_truncate(path, m);
                }
            }
        }
        if (is_root) {
            const dtk_json *props = dtk_json_get(j, "properties");
            const dtk_json *meta = dtk_json_get(props, "metadata");

            if (meta != NULL) {
                check_root_metadata(cc, meta, path);
            }
        }
        if (n->embedded && !n->preserve_unknown && n->n_props == 0) {
            size_t m = kw(path, "properties");

            dtk_fielderr_required(&cc->structural, dtk_buf_cstr(path),
                                  "must not be empty if "
                                  "x-kubernetes-embedded-resource is true "
                                  "without "
                                  "x-kubernetes-preserve-unknown-fields");
            path_truncate(path, m);
        }
        /* Value validations must not introduce fields the structural
         * part lacks. */
        {
            static const char *const junctors[] = {"allOf", "anyOf", "oneOf"};
            dtk_buf vpath = DTK_BUF_INIT(0);

            for (size_t k = 0; k < 3; k++) {
                const dtk_json *l = dtk_json_get(j, junctors[k]);

                if (l == NULL || l->type != DTK_JSON_ARRAY) {
                    continue;
                }
                for (size_t i = 0; i < l->u.array.len; i++) {
                    dtk_buf spath = DTK_BUF_INIT(0);

                    (void)dtk_buf_puts(&spath, dtk_buf_cstr(path));
                    dtk_buf_reset(&vpath);
                    (void)dtk_buf_printf(&vpath, "%s.%s[%zu]",
                                         dtk_buf_cstr(path), junctors[k], i);
                    check_completeness(cc, n, l->u.array.items[i], &spath,
                                       &vpath);
                    dtk_buf_dispose(&spath);
                }
            }
            v = dtk_json_get(j, "not");
            if (v != NULL && v->type == DTK_JSON_OBJECT) {
                dtk_buf spath = DTK_BUF_INIT(0);

                (void)dtk_buf_puts(&spath, dtk_buf_cstr(path));
                dtk_buf_reset(&vpath);
                (void)dtk_buf_printf(&vpath, "%s.not", dtk_buf_cstr(path));
                check_completeness(cc, n, v, &spath, &vpath);
                dtk_buf_dispose(&spath);
            }
            dtk_buf_dispose(&vpath);
        }
    }

    /* --- CEL rules (their compile errors are reported last) --- */
    n->resource_root = is_root;
    compile_rules(cc, n, j, path);
    return n;
}

/* Marks rules with oldSelf below lists that cannot correlate items (only
 * list-type map can) or below atomic maps. */
static void check_uncorrelatable(cctx *cc,
                                 const dtk_schema__node *n,
                                 dtk_buf *path,
                                 int within,
                                 const char *where)
{
    size_t mark = path->len;

    if (n == NULL) {
        return;
    }
    if (within) {
        for (size_t i = 0; i < n->n_rules; i++) {
            if (n->rules[i].program != NULL &&
                dtk_schema__cel_uses_old_self(n->rules[i].program)) {
                dtk_buf msg = DTK_BUF_INIT(0);

                (void)dtk_buf_printf(path,
                                     ".x-kubernetes-validations[%zu]."
                                     "rule",
                                     i);
                (void)dtk_buf_printf(&msg,
                                     "oldSelf cannot be used on the "
                                     "uncorrelatable portion of the "
                                     "schema within %s",
                                     where);
                dtk_fielderr_invalid_string(&cc->cel, dtk_buf_cstr(path),
                                            n->rules[i].rule,
                                            dtk_buf_cstr(&msg));
                dtk_buf_dispose(&msg);
                path_truncate(path, mark);
            }
        }
    }
    for (size_t i = 0; i < n->n_props; i++) {
        char *w = within ? dtk_strdup(where) : dtk_strdup(dtk_buf_cstr(path));

        (void)dtk_buf_printf(path, ".properties[%s]", n->props[i].name);
        check_uncorrelatable(cc, n->props[i].node, path,
                             within || n->map_atomic, w);
        path_truncate(path, mark);
        dtk_free(w);
    }
    if (n->additional != NULL) {
        char *w = within ? dtk_strdup(where) : dtk_strdup(dtk_buf_cstr(path));

        (void)dtk_buf_puts(path, ".additionalProperties");
        check_uncorrelatable(cc, n->additional, path, within || n->map_atomic,
                             w);
        path_truncate(path, mark);
        dtk_free(w);
    }
    if (n->items != NULL) {
        char *w = within ? dtk_strdup(where) : dtk_strdup(dtk_buf_cstr(path));

        (void)dtk_buf_puts(path, ".items");
        check_uncorrelatable(cc, n->items, path,
                             within || n->list_type != DTK_SCHEMA__LIST_MAP, w);
        path_truncate(path, mark);
        dtk_free(w);
    }
}

/* A fresh validator rooted at one node, for defaults. */
static void validate_default(cctx *cc, const dtk_schema__node *n, dtk_buf *path)
{
    dtk_buf dpath = DTK_BUF_INIT(0);
    dtk_buf name = DTK_BUF_INIT(0);
    dtk_fielderr_list errs = DTK_FIELDERR_LIST_INIT;
    dtk_json *pruned = dtk_json_copy(n->default_value);
    vctx c;

    (void)dtk_buf_printf(&dpath, "%s.default", dtk_buf_cstr(path));
    prune_root(n, pruned, NULL, n->embedded);
    if (!go_equal(pruned, n->default_value)) {
        dtk_fielderr_invalid(&cc->structural, dtk_buf_cstr(&dpath),
                             n->default_value, "must not have unknown fields");
        goto out;
    }
    memset(&c, 0, sizeof(c));
    c.errs = &errs;
    c.prefix = dtk_buf_cstr(&dpath);
    c.cel_budget = DTK_SCHEMA__CEL_BUDGET;
    if (n->embedded && n->default_value->type == DTK_JSON_OBJECT) {
        dtk_buf p = DTK_BUF_INIT(0);

        (void)dtk_buf_puts(&p, dtk_buf_cstr(&dpath));
        validate_embedded_meta(&c, n->default_value, &p);
        if (errs.len == 0) {
            v_listtype(&c, n, n->default_value, &p);
        }
        dtk_buf_dispose(&p);
    }
    if (errs.len == 0) {
        (void)v_schema(&c, n, n->default_value, &name, NULL);
    }
    if (errs.len == 0) {
        dtk_buf p = DTK_BUF_INIT(0);

        (void)dtk_buf_puts(&p, dtk_buf_cstr(&dpath));
        c.update = 1;
        c.ratcheting = 0;
        v_cel(&c, n, n->default_value, n->default_value, &p, 0, 1);
        dtk_buf_dispose(&p);
    }
    dtk_fielderr_list_move(&cc->structural, &errs);
out:
    dtk_fielderr_list_dispose(&errs);
    dtk_json_free(pruned);
    dtk_buf_dispose(&name);
    dtk_buf_dispose(&dpath);
}

/* structuraldefaulting.ValidateDefaults: items and properties, not
 * additionalProperties; nothing inside the root's apiVersion, kind and
 * metadata (those defaults are checked elsewhere in Kubernetes). */
static void check_defaults(cctx *cc,
                           const dtk_schema__node *n,
                           dtk_buf *path,
                           int is_root)
{
    size_t mark = path->len;

    if (n == NULL) {
        return;
    }
    if (n->default_value != NULL) {
        validate_default(cc, n, path);
    }
    if (n->items != NULL) {
        (void)dtk_buf_puts(path, ".items");
        check_defaults(cc, n->items, path, 0);
        path_truncate(path, mark);
    }
    for (size_t i = 0; i < n->n_props; i++) {
        if (is_root && is_meta_field(n->props[i].name)) {
            continue;
        }
        (void)dtk_buf_printf(path, ".properties[%s]", n->props[i].name);
        check_defaults(cc, n->props[i].node, path, 0);
        path_truncate(path, mark);
    }
}

int dtk_schema_compile(dtk_schema **out,
                       const dtk_json *schema,
                       const char *path_prefix,
                       dtk_fielderr_list *errs)
{
    cctx cc;
    dtk_buf path = DTK_BUF_INIT(0);
    dtk_schema__node *root = NULL;
    int nullable = 0;
    int error = 0;

    memset(&cc, 0, sizeof(cc));
    *out = NULL;
    (void)dtk_buf_puts(&path, path_prefix != NULL ? path_prefix : "");

    if (schema != NULL && schema->type == DTK_JSON_OBJECT &&
        dtk_json_get(schema, "nullable") != NULL &&
        dtk_json_get(schema, "nullable")->type == DTK_JSON_BOOL) {
        nullable = dtk_json_get(schema, "nullable")->u.boolean;
    }
    if (nullable) {
        size_t m = kw(&path, "nullable");

        dtk_fielderr_forbidden(errs, dtk_buf_cstr(&path),
                               "nullable cannot be true at the root");
        path_truncate(&path, m);
    }
    {
        nctx where;

        memset(&where, 0, sizeof(where));
        where.lvl = LEVEL_ROOT;
        where.is_root = 1;
        root = compile_node(&cc, schema, &path, where);
    }
    check_uncorrelatable(&cc, root, &path, 0, "");

    /* Kubernetes order: structural errors (sorted); only without them the
     * defaults; then the OpenAPI keyword errors; CEL compile errors only
     * when the schema is otherwise sound. */
    if (cc.structural.len > 1) {
        qsort(cc.structural.items, cc.structural.len, sizeof(dtk_fielderr),
              compare_errors);
    }
    if (cc.structural.len == 0) {
        check_defaults(&cc, root, &path, 1);
    }
    dtk_fielderr_list_move(errs, &cc.structural);
    if (cc.spec.len > 0) {
        dtk_fielderr_list_move(errs, &cc.spec);
    } else if (errs->len == 0) {
        dtk_fielderr_list_move(errs, &cc.cel);
    }
    if (errs->len > 0) {
        error = DTK_EINVALID;
        goto out;
    }
    *out = dtk_calloc(1, sizeof(**out));
    (*out)->root = root;
    (*out)->has_rules = cc.rules > 0;
    root = NULL;
out:
    node_free(root);
    dtk_fielderr_list_dispose(&cc.structural);
    dtk_fielderr_list_dispose(&cc.spec);
    dtk_fielderr_list_dispose(&cc.cel);
    dtk_buf_dispose(&path);
    return error;
}

int dtk_schema_check_structural(const dtk_json *schema,
                                const char *path_prefix,
                                dtk_fielderr_list *errs)
{
    dtk_schema *s = NULL;
    int error = dtk_schema_compile(&s, schema, path_prefix, errs);

    dtk_schema_free(s);
    return error;
}

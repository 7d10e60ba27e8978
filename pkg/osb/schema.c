/* Client-side validation of user parameters against a plan's JSON schema.
 *
 * OSB requires platforms to support JSON Schema draft-04 for
 * `schemas.*.parameters`. Brokers use a small part of it, and that part is
 * what is checked here, so a user sees "parameter size: must be one of
 * 'small', 'large'" on the resource instead of a broker's 400:
 *   type (a name or a list), enum, required, properties,
 *   additionalProperties (false or a schema), minimum/maximum with the
 *   draft-04 boolean exclusiveMinimum/exclusiveMaximum (or draft-06
 *   numbers), minLength/maxLength (in code points), minItems/maxItems,
 *   items (one schema for all items).
 * Anything else ($ref, pattern, oneOf, formats, ...) is ignored: the broker
 * still validates, this only catches what it can explain well. Schema
 * keywords of the wrong type are ignored too (a broker bug is not the
 * user's fault).
 *
 * Messages name the parameter by its path ("db.size", "hosts[2]") and the
 * rule; values from the schema (enum members, bounds) are quoted, values
 * from the user never are: parameters may carry secrets.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/error.h"
#include "pkg/osb/osb.h"

#define MAX_VIOLATIONS 8
#define MAX_DEPTH      64
#define MAX_PATH       200
#define MAX_ENUM_SHOWN 10

typedef struct vctx {
    dtk_buf msg;
    dtk_buf path;
    int count;
} vctx;

static void report(vctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void report(vctx *c, const char *fmt, ...)
{
    va_list ap;

    c->count++;
    if (c->count > MAX_VIOLATIONS) {
        return;
    }
    if (c->count > 1) {
        (void)dtk_buf_puts(&c->msg, "; ");
    }
    if (c->path.len == 0) {
        (void)dtk_buf_puts(&c->msg, "parameters: ");
    } else {
        (void)dtk_buf_printf(&c->msg, "parameter %s: ", dtk_buf_cstr(&c->path));
    }
    va_start(ap, fmt);
    (void)dtk_buf_vprintf(&c->msg, fmt, ap);
    va_end(ap);
}

static void path_truncate(dtk_buf *path, size_t len)
{
    if (path->ptr != NULL) {
        path->len = len;
        path->ptr[len] = '\0';
    }
}

/* Appends ".name" (or "name" at the top) with control characters masked;
 * past MAX_PATH the path ends in "...". */
static void path_push_key(dtk_buf *path, const char *key)
{
    if (path->len >= MAX_PATH) {
        return;
    }
    if (path->len > 0) {
        (void)dtk_buf_putc(path, '.');
    }
    for (const char *p = key; *p && path->len < MAX_PATH; p++) {
        unsigned char ch = (unsigned char)*p;

        (void)dtk_buf_putc(path, ch < 0x20 || ch == 0x7f ? '?' : (char)ch);
    }
    if (path->len >= MAX_PATH) {
        (void)dtk_buf_puts(path, "...");
    }
}

static const char *type_phrase(const char *t)
{
    if (strcmp(t, "integer") == 0) {
        return "an integer";
    }
    if (strcmp(t, "object") == 0) {
        return "an object";
    }
    if (strcmp(t, "array") == 0) {
        return "an array";
    }
    if (strcmp(t, "null") == 0) {
        return "null";
    }
    if (strcmp(t, "string") == 0) {
        return "a string";
    }
    if (strcmp(t, "number") == 0) {
        return "a number";
    }
    if (strcmp(t, "boolean") == 0) {
        return "a boolean";
    }
    return NULL; /* unknown type name: ignored */
}

/* 1: matches, 0: does not, -1: unknown type name. */
static int type_matches(const char *t, const dtk_json *v)
{
    switch (v->type) {
    case DTK_JSON_NULL:
        return strcmp(t, "null") == 0 ? 1 : type_phrase(t) ? 0 : -1;
    case DTK_JSON_BOOL:
        return strcmp(t, "boolean") == 0 ? 1 : type_phrase(t) ? 0 : -1;
    case DTK_JSON_NUMBER:
        if (strcmp(t, "number") == 0) {
            return 1;
        }
        if (strcmp(t, "integer") == 0) {
            return dtk_json_is_integer(v);
        }
        return type_phrase(t) ? 0 : -1;
    case DTK_JSON_STRING:
        return strcmp(t, "string") == 0 ? 1 : type_phrase(t) ? 0 : -1;
    case DTK_JSON_ARRAY:
        return strcmp(t, "array") == 0 ? 1 : type_phrase(t) ? 0 : -1;
    case DTK_JSON_OBJECT:
        return strcmp(t, "object") == 0 ? 1 : type_phrase(t) ? 0 : -1;
    }
    return -1;
}

/* Returns 0 when v passes "type", else reports and returns -1. */
static int check_type(vctx *c, const dtk_json *t, const dtk_json *v)
{
    dtk_buf names = DTK_BUF_INIT(1024);
    int known = 0;
    int rc = 0;

    if (t->type == DTK_JSON_STRING) {
        if (type_matches(t->u.string.ptr, v) == 0) {
            report(c, "must be %s", type_phrase(t->u.string.ptr));
            return -1;
        }
        return 0;
    }
    if (t->type != DTK_JSON_ARRAY) {
        return 0;
    }
    for (size_t i = 0; i < dtk_json_len(t); i++) {
        const char *name = dtk_json_string(dtk_json_at(t, i));
        int m = name ? type_matches(name, v) : -1;

        if (m != 0) {
            /* A match, or a type name we do not know: give up. */
            goto out;
        }
        (void)dtk_buf_printf(&names, "%s%s", known ? ", " : "", name);
        known++;
    }
    if (known > 0) {
        report(c, "must be one of the types %s", dtk_buf_cstr(&names));
        rc = -1;
    }
out:
    dtk_buf_dispose(&names);
    return rc;
}

static void check_enum(vctx *c, const dtk_json *e, const dtk_json *v)
{
    dtk_buf list = DTK_BUF_INIT(4096);
    size_t n = dtk_json_len(e);

    if (e->type != DTK_JSON_ARRAY || n == 0) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (dtk_json_equal(dtk_json_at(e, i), v)) {
            return;
        }
    }
    for (size_t i = 0; i < n && i < MAX_ENUM_SHOWN; i++) {
        const dtk_json *item = dtk_json_at(e, i);

        if (i > 0) {
            (void)dtk_buf_puts(&list, ", ");
        }
        if (item->type == DTK_JSON_STRING) {
            (void)dtk_buf_printf(&list, "'%s'", item->u.string.ptr);
        } else {
            (void)dtk_json_write(&list, item);
        }
    }
    if (n > MAX_ENUM_SHOWN) {
        (void)dtk_buf_puts(&list, ", ...");
    }
    report(c, "must be one of %s", dtk_buf_cstr(&list));
    dtk_buf_dispose(&list);
}

static int is_number(const dtk_json *v)
{
    return v != NULL && v->type == DTK_JSON_NUMBER;
}

static int is_true(const dtk_json *v)
{
    return v != NULL && v->type == DTK_JSON_BOOL && v->u.boolean;
}

static void check_number(vctx *c, const dtk_json *schema, const dtk_json *v)
{
    const dtk_json *min = dtk_json_get(schema, "minimum");
    const dtk_json *max = dtk_json_get(schema, "maximum");
    const dtk_json *xmin = dtk_json_get(schema, "exclusiveMinimum");
    const dtk_json *xmax = dtk_json_get(schema, "exclusiveMaximum");
    double x = dtk_json_double(v);

    if (is_number(min)) {
        double m = dtk_json_double(min);

        if (is_true(xmin) && x <= m) {
            report(c, "must be greater than %s", min->u.number);
        } else if (!is_true(xmin) && x < m) {
            report(c, "must be at least %s", min->u.number);
        }
    }
    if (is_number(xmin) && x <= dtk_json_double(xmin)) {
        report(c, "must be greater than %s", xmin->u.number);
    }
    if (is_number(max)) {
        double m = dtk_json_double(max);

        if (is_true(xmax) && x >= m) {
            report(c, "must be less than %s", max->u.number);
        } else if (!is_true(xmax) && x > m) {
            report(c, "must be at most %s", max->u.number);
        }
    }
    if (is_number(xmax) && x >= dtk_json_double(xmax)) {
        report(c, "must be less than %s", xmax->u.number);
    }
}

static size_t utf8_length(const char *s, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            n++;
        }
    }
    return n;
}

static int get_count(const dtk_json *schema, const char *key, int64_t *out)
{
    const dtk_json *v = dtk_json_get(schema, key);

    if (v == NULL || !dtk_json_is_integer(v) || dtk_json_int(out, v) < 0) {
        dtk_error_clear();
        return 0;
    }
    return 1;
}

static void check_string(vctx *c, const dtk_json *schema, const dtk_json *v)
{
    size_t n = utf8_length(v->u.string.ptr, v->u.string.len);
    int64_t lim;

    if (get_count(schema, "minLength", &lim) && (int64_t)n < lim) {
        report(c, "must be at least %lld characters long", (long long)lim);
    }
    if (get_count(schema, "maxLength", &lim) && (int64_t)n > lim) {
        report(c, "must be at most %lld characters long", (long long)lim);
    }
}

static void validate(vctx *c,
                     const dtk_json *schema,
                     const dtk_json *v,
                     int depth);

static void check_array(vctx *c,
                        const dtk_json *schema,
                        const dtk_json *v,
                        int depth)
{
    const dtk_json *items = dtk_json_get(schema, "items");
    size_t n = dtk_json_len(v);
    size_t saved = c->path.len;
    int64_t lim;

    if (get_count(schema, "minItems", &lim) && (int64_t)n < lim) {
        report(c, "must have at least %lld items", (long long)lim);
    }
    if (get_count(schema, "maxItems", &lim) && (int64_t)n > lim) {
        report(c, "must have at most %lld items", (long long)lim);
    }
    if (items == NULL || items->type != DTK_JSON_OBJECT) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        (void)dtk_buf_printf(&c->path, "[%zu]", i);
        validate(c, items, dtk_json_at(v, i), depth + 1);
        path_truncate(&c->path, saved);
    }
}

static void check_object(vctx *c,
                         const dtk_json *schema,
                         const dtk_json *v,
                         int depth)
{
    const dtk_json *required = dtk_json_get(schema, "required");
    const dtk_json *props = dtk_json_get(schema, "properties");
    const dtk_json *extra = dtk_json_get(schema, "additionalProperties");
    size_t saved = c->path.len;

    if (props != NULL && props->type != DTK_JSON_OBJECT) {
        props = NULL;
    }
    if (required != NULL && required->type == DTK_JSON_ARRAY) {
        for (size_t i = 0; i < dtk_json_len(required); i++) {
            const char *name = dtk_json_string(dtk_json_at(required, i));

            if (name != NULL && dtk_json_get(v, name) == NULL) {
                path_push_key(&c->path, name);
                report(c, "is required");
                path_truncate(&c->path, saved);
            }
        }
    }
    for (size_t i = 0; i < v->u.object.len; i++) {
        const char *key = v->u.object.keys[i];
        const dtk_json *sub = dtk_json_get(props, key);

        path_push_key(&c->path, key);
        if (sub != NULL) {
            validate(c, sub, v->u.object.values[i], depth + 1);
        } else if (extra != NULL && extra->type == DTK_JSON_BOOL &&
                   !extra->u.boolean &&
                   dtk_json_get(schema, "patternProperties") == NULL) {
            report(c, "is not a parameter of this plan");
        } else if (extra != NULL && extra->type == DTK_JSON_OBJECT) {
            validate(c, extra, v->u.object.values[i], depth + 1);
        }
        path_truncate(&c->path, saved);
    }
}

static void validate(vctx *c,
                     const dtk_json *schema,
                     const dtk_json *v,
                     int depth)
{
    const dtk_json *t;
    const dtk_json *e;

    if (schema == NULL || schema->type != DTK_JSON_OBJECT || v == NULL ||
        depth > MAX_DEPTH) {
        return;
    }
    t = dtk_json_get(schema, "type");
    if (t != NULL && check_type(c, t, v) < 0) {
        return; /* further rules would only repeat the problem */
    }
    e = dtk_json_get(schema, "enum");
    if (e != NULL) {
        check_enum(c, e, v);
    }
    switch (v->type) {
    case DTK_JSON_NUMBER:
        check_number(c, schema, v);
        break;
    case DTK_JSON_STRING:
        check_string(c, schema, v);
        break;
    case DTK_JSON_ARRAY:
        check_array(c, schema, v, depth);
        break;
    case DTK_JSON_OBJECT:
        check_object(c, schema, v, depth);
        break;
    default:
        break;
    }
}

int dtk_osb_schema_validate(const dtk_json *schema, const dtk_json *params)
{
    vctx c;
    dtk_json *empty = NULL;
    int error = 0;

    memset(&c, 0, sizeof(c));
    dtk_buf_init(&c.msg, 4096);
    dtk_buf_init(&c.path, 4096);
    if (params == NULL) {
        empty = dtk_json_new_object();
        params = empty;
    }
    validate(&c, schema, params, 0);
    if (c.count > MAX_VIOLATIONS) {
        (void)dtk_buf_printf(&c.msg, "; and %d more", c.count - MAX_VIOLATIONS);
    }
    if (c.count > 0) {
        dtk_error_set(DTK_ERRCLASS_INVALID, "%s", dtk_buf_cstr(&c.msg));
        error = DTK_EINVALID;
    }
    dtk_json_free(empty);
    dtk_buf_dispose(&c.msg);
    dtk_buf_dispose(&c.path);
    return error;
}

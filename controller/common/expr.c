/* ${...} expressions (see expr.h). */
#include "controller/common/expr.h"

#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/error.h"

#define MAX_PATH 512

static int is_path_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

static int has_empty_segment(const char *s, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        if (s[i] == '.' && s[i - 1] == '.') {
            return 1;
        }
    }
    return 0;
}

/* Parses the expression starting at p (pointing at "${"); on success writes
 * the path and returns the length of the whole "${...}". */
static int parse_one(const char *p, char *path, size_t size, size_t *len_out)
{
    const char *start = p + 2;
    const char *end = strchr(start, '}');
    size_t n;

    if (end == NULL) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "expression '%.40s' is missing its closing '}'", p);
        return DTK_EINVALID;
    }
    n = (size_t)(end - start);
    if (n == 0 || n >= size || start[0] == '.' || start[n - 1] == '.' ||
        has_empty_segment(start, n)) {
        dtk_error_set(DTK_ERRCLASS_INVALID, "expression '%.*s' is not a "
                      "dotted path",
                      (int)(n + 3 > 80 ? 80 : n + 3), p);
        return DTK_EINVALID;
    }
    for (size_t i = 0; i < n; i++) {
        if (!is_path_char(start[i])) {
            dtk_error_set(DTK_ERRCLASS_INVALID,
                          "expression '%.*s' has an invalid character",
                          (int)(n + 3 > 80 ? 80 : n + 3), p);
            return DTK_EINVALID;
        }
    }
    memcpy(path, start, n);
    path[n] = '\0';
    *len_out = n + 3;
    return 0;
}

int dtk_expr_present(const char *text)
{
    for (const char *p = strstr(text, "${"); p != NULL;
         p = strstr(p + 2, "${")) {
        if (p == text || p[-1] != '$') {
            return 1;
        }
    }
    return 0;
}

int dtk_expr_scan(const char *text, dtk_expr_ref_cb cb, void *payload)
{
    const char *p = text;
    char path[MAX_PATH];

    while ((p = strchr(p, '$')) != NULL) {
        size_t len = 0;
        int error;

        if (p[1] == '$' && p[2] == '{') {
            p += 3; /* "$${" is a literal "${" */
            continue;
        }
        if (p[1] != '{') {
            p++;
            continue;
        }
        error = parse_one(p, path, sizeof(path), &len);
        if (error < 0) {
            return error;
        }
        error = cb(path, payload);
        if (error < 0) {
            return error;
        }
        p += len;
    }
    return 0;
}

int dtk_expr_scan_json(const dtk_json *value, dtk_expr_ref_cb cb,
                       void *payload)
{
    int error = 0;

    if (value == NULL) {
        return 0;
    }
    switch (value->type) {
    case DTK_JSON_STRING:
        return dtk_expr_scan(value->u.string.ptr, cb, payload);
    case DTK_JSON_ARRAY:
        for (size_t i = 0; i < value->u.array.len && error == 0; i++) {
            error = dtk_expr_scan_json(value->u.array.items[i], cb, payload);
        }
        return error;
    case DTK_JSON_OBJECT:
        for (size_t i = 0; i < value->u.object.len && error == 0; i++) {
            error = dtk_expr_scan_json(value->u.object.values[i], cb, payload);
        }
        return error;
    default:
        return 0;
    }
}

static const dtk_json *lookup(const dtk_json *context, const char *path)
{
    const dtk_json *cur = context;
    const char *p = path;

    while (cur != NULL && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        char seg[MAX_PATH];

        memcpy(seg, p, n);
        seg[n] = '\0';
        cur = dtk_json_get(cur, seg);
        p += n;
        if (*p == '.') {
            p++;
        }
    }
    return cur;
}

static int missing(const char *path)
{
    dtk_error_set(DTK_ERRCLASS_INVALID, "${%s} is not available", path);
    return DTK_ENOTFOUND;
}

/* Appends the text form of v. */
static int append_value(dtk_buf *out, const dtk_json *v)
{
    switch (v->type) {
    case DTK_JSON_STRING:
        return dtk_buf_put(out, v->u.string.ptr, v->u.string.len);
    case DTK_JSON_NUMBER:
        return dtk_buf_puts(out, v->u.number);
    case DTK_JSON_BOOL:
        return dtk_buf_puts(out, v->u.boolean ? "true" : "false");
    case DTK_JSON_NULL:
        return 0;
    default:
        return dtk_json_write(out, v);
    }
}

static int resolve_string(dtk_json **out, const char *text,
                          const dtk_json *context)
{
    dtk_buf buf = DTK_BUF_INIT(0);
    char path[MAX_PATH];
    const char *p = text;
    size_t len = 0;
    int error = 0;

    /* Exactly one expression: the value keeps its type. */
    if (text[0] == '$' && text[1] == '{' &&
        parse_one(text, path, sizeof(path), &len) == 0 && text[len] == '\0') {
        const dtk_json *v = lookup(context, path);

        if (v == NULL) {
            return missing(path);
        }
        *out = dtk_json_copy(v);
        return 0;
    }
    while (*p && error == 0) {
        const char *dollar = strchr(p, '$');

        if (dollar == NULL) {
            error = dtk_buf_puts(&buf, p);
            break;
        }
        error = dtk_buf_put(&buf, p, (size_t)(dollar - p));
        if (error < 0) {
            break;
        }
        if (dollar[1] == '$' && dollar[2] == '{') {
            error = dtk_buf_puts(&buf, "${");
            p = dollar + 3;
        } else if (dollar[1] == '{') {
            const dtk_json *v;

            error = parse_one(dollar, path, sizeof(path), &len);
            if (error < 0) {
                break;
            }
            v = lookup(context, path);
            if (v == NULL) {
                error = missing(path);
                break;
            }
            error = append_value(&buf, v);
            p = dollar + len;
        } else {
            error = dtk_buf_putc(&buf, '$');
            p = dollar + 1;
        }
    }
    if (error == 0) {
        *out = dtk_json_new_stringn(dtk_buf_cstr(&buf), buf.len);
    }
    /* The buffer may hold credentials: wipe before freeing. */
    if (buf.ptr != NULL) {
        memset(buf.ptr, 0, buf.cap);
    }
    dtk_buf_dispose(&buf);
    return error;
}

int dtk_expr_resolve(dtk_json **out, const dtk_json *value,
                     const dtk_json *context)
{
    dtk_json *result = NULL;
    int error = 0;

    *out = NULL;
    switch (value->type) {
    case DTK_JSON_STRING:
        return resolve_string(out, value->u.string.ptr, context);
    case DTK_JSON_ARRAY:
        result = dtk_json_new_array();
        for (size_t i = 0; i < value->u.array.len && error == 0; i++) {
            dtk_json *item = NULL;

            error = dtk_expr_resolve(&item, value->u.array.items[i], context);
            if (error == 0) {
                dtk_json_append(result, item);
            }
        }
        break;
    case DTK_JSON_OBJECT:
        result = dtk_json_new_object();
        for (size_t i = 0; i < value->u.object.len && error == 0; i++) {
            dtk_json *item = NULL;

            error = dtk_expr_resolve(&item, value->u.object.values[i],
                                     context);
            if (error == 0) {
                dtk_json_set(result, value->u.object.keys[i], item);
            }
        }
        break;
    default:
        result = dtk_json_copy(value);
        break;
    }
    if (error < 0) {
        dtk_json_free(result);
        return error;
    }
    *out = result;
    return 0;
}

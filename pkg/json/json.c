/* JSON document model (see json.h).
 *
 * Parsing uses yajl's callback parser with a stack of open containers; the
 * depth limit is enforced in the start callbacks, before any deep structure
 * exists, because yajl_tree_free and any recursive walker would overflow the
 * stack on hostile input (STYLE.md "Things not to copy"). yajl's own error
 * text quotes the input and is never used; errors name the byte offset.
 */
#include "pkg/json/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

#include "pkg/base/alloc.h"
#include "pkg/base/error.h"

static dtk_json *new_value(dtk_json_type type)
{
    dtk_json *v = dtk_calloc(1, sizeof(*v));

    v->type = type;
    return v;
}

dtk_json *dtk_json_new_null(void)
{
    return new_value(DTK_JSON_NULL);
}

dtk_json *dtk_json_new_bool(int value)
{
    dtk_json *v = new_value(DTK_JSON_BOOL);

    v->u.boolean = value ? 1 : 0;
    return v;
}

dtk_json *dtk_json_new_number_text(const char *text)
{
    dtk_json *v = new_value(DTK_JSON_NUMBER);

    v->u.number = dtk_strdup(text);
    return v;
}

dtk_json *dtk_json_new_int(int64_t value)
{
    char text[32];

    snprintf(text, sizeof(text), "%lld", (long long)value);
    return dtk_json_new_number_text(text);
}

dtk_json *dtk_json_new_double(double value)
{
    char text[64];

    if (!isfinite(value)) {
        value = 0;
    }
    snprintf(text, sizeof(text), "%.17g", value);
    return dtk_json_new_number_text(text);
}

dtk_json *dtk_json_new_stringn(const char *s, size_t len)
{
    dtk_json *v = new_value(DTK_JSON_STRING);

    v->u.string.ptr = dtk_strndup(s, len);
    v->u.string.len = len;
    return v;
}

dtk_json *dtk_json_new_string(const char *s)
{
    return dtk_json_new_stringn(s, strlen(s));
}

dtk_json *dtk_json_new_object(void)
{
    return new_value(DTK_JSON_OBJECT);
}

dtk_json *dtk_json_new_array(void)
{
    return new_value(DTK_JSON_ARRAY);
}

/* Frees children iteratively-enough: recursion depth equals tree depth, which
 * parsing bounds by DTK_JSON_MAX_DEPTH and builders keep small. */
static void free_children(dtk_json *v)
{
    switch (v->type) {
    case DTK_JSON_NUMBER:
        dtk_free(v->u.number);
        break;
    case DTK_JSON_STRING:
        dtk_free(v->u.string.ptr);
        break;
    case DTK_JSON_ARRAY:
        for (size_t i = 0; i < v->u.array.len; i++) {
            dtk_json_free(v->u.array.items[i]);
        }
        dtk_free(v->u.array.items);
        break;
    case DTK_JSON_OBJECT:
        for (size_t i = 0; i < v->u.object.len; i++) {
            dtk_free(v->u.object.keys[i]);
            dtk_json_free(v->u.object.values[i]);
        }
        dtk_free(v->u.object.keys);
        dtk_free(v->u.object.values);
        break;
    default:
        break;
    }
}

void dtk_json_free(dtk_json *v)
{
    if (v == NULL) {
        return;
    }
    free_children(v);
    dtk_free(v);
}

void dtk_json_replace(dtk_json *slot, dtk_json *src)
{
    free_children(slot);
    *slot = *src;
    dtk_free(src);
}

dtk_json *dtk_json_copy(const dtk_json *v)
{
    dtk_json *c;

    if (v == NULL) {
        return NULL;
    }
    switch (v->type) {
    case DTK_JSON_BOOL:
        return dtk_json_new_bool(v->u.boolean);
    case DTK_JSON_NUMBER:
        return dtk_json_new_number_text(v->u.number);
    case DTK_JSON_STRING:
        return dtk_json_new_stringn(v->u.string.ptr, v->u.string.len);
    case DTK_JSON_ARRAY:
        c = dtk_json_new_array();
        for (size_t i = 0; i < v->u.array.len; i++) {
            dtk_json_append(c, dtk_json_copy(v->u.array.items[i]));
        }
        return c;
    case DTK_JSON_OBJECT:
        c = dtk_json_new_object();
        for (size_t i = 0; i < v->u.object.len; i++) {
            dtk_json_set(c, v->u.object.keys[i],
                         dtk_json_copy(v->u.object.values[i]));
        }
        return c;
    default:
        return dtk_json_new_null();
    }
}

int dtk_json_is_integer(const dtk_json *v)
{
    const char *p;

    if (v == NULL || v->type != DTK_JSON_NUMBER) {
        return 0;
    }
    p = v->u.number;
    if (*p == '-') {
        p++;
    }
    if (*p == '\0') {
        return 0;
    }
    for (; *p; p++) {
        if (*p < '0' || *p > '9') {
            return 0;
        }
    }
    return 1;
}

int dtk_json_int(int64_t *out, const dtk_json *v)
{
    char *end = NULL;
    long long n;

    if (!dtk_json_is_integer(v)) {
        dtk_error_set(DTK_ERRCLASS_JSON, "expected an integer");
        return DTK_EINVALID;
    }
    errno = 0;
    n = strtoll(v->u.number, &end, 10);
    if (errno != 0 || end == NULL || *end != '\0') {
        dtk_error_set(DTK_ERRCLASS_JSON, "integer out of range");
        return DTK_EINVALID;
    }
    *out = (int64_t)n;
    return 0;
}

double dtk_json_double(const dtk_json *v)
{
    if (v == NULL || v->type != DTK_JSON_NUMBER) {
        return 0;
    }
    return strtod(v->u.number, NULL);
}

static int numbers_equal(const dtk_json *a, const dtk_json *b)
{
    int64_t x, y;

    if (strcmp(a->u.number, b->u.number) == 0) {
        return 1;
    }
    if (dtk_json_int(&x, a) == 0 && dtk_json_int(&y, b) == 0) {
        return x == y;
    }
    dtk_error_clear();
    return dtk_json_double(a) == dtk_json_double(b);
}

int dtk_json_equal(const dtk_json *a, const dtk_json *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }
    if (a->type != b->type) {
        return 0;
    }
    switch (a->type) {
    case DTK_JSON_NULL:
        return 1;
    case DTK_JSON_BOOL:
        return a->u.boolean == b->u.boolean;
    case DTK_JSON_NUMBER:
        return numbers_equal(a, b);
    case DTK_JSON_STRING:
        return a->u.string.len == b->u.string.len &&
               memcmp(a->u.string.ptr, b->u.string.ptr, a->u.string.len) == 0;
    case DTK_JSON_ARRAY:
        if (a->u.array.len != b->u.array.len) {
            return 0;
        }
        for (size_t i = 0; i < a->u.array.len; i++) {
            if (!dtk_json_equal(a->u.array.items[i], b->u.array.items[i])) {
                return 0;
            }
        }
        return 1;
    case DTK_JSON_OBJECT:
        if (a->u.object.len != b->u.object.len) {
            return 0;
        }
        for (size_t i = 0; i < a->u.object.len; i++) {
            const dtk_json *other = dtk_json_get(b, a->u.object.keys[i]);

            if (other == NULL || !dtk_json_equal(a->u.object.values[i], other)) {
                return 0;
            }
        }
        return 1;
    }
    return 0;
}

static long find_key(const dtk_json *obj, const char *key)
{
    for (size_t i = 0; i < obj->u.object.len; i++) {
        if (strcmp(obj->u.object.keys[i], key) == 0) {
            return (long)i;
        }
    }
    return -1;
}

dtk_json *dtk_json_get(const dtk_json *obj, const char *key)
{
    long i;

    if (obj == NULL || obj->type != DTK_JSON_OBJECT) {
        return NULL;
    }
    i = find_key(obj, key);
    return i < 0 ? NULL : obj->u.object.values[i];
}

void dtk_json_set(dtk_json *obj, const char *key, dtk_json *value)
{
    long i;

    dtk_assert(obj != NULL && obj->type == DTK_JSON_OBJECT && value != NULL);
    i = find_key(obj, key);
    if (i >= 0) {
        dtk_json_free(obj->u.object.values[i]);
        obj->u.object.values[i] = value;
        return;
    }
    if (obj->u.object.len == obj->u.object.cap) {
        size_t cap = obj->u.object.cap ? obj->u.object.cap * 2 : 4;

        obj->u.object.keys =
            dtk_realloc(obj->u.object.keys, cap * sizeof(char *));
        obj->u.object.values =
            dtk_realloc(obj->u.object.values, cap * sizeof(dtk_json *));
        obj->u.object.cap = cap;
    }
    obj->u.object.keys[obj->u.object.len] = dtk_strdup(key);
    obj->u.object.values[obj->u.object.len] = value;
    obj->u.object.len++;
}

dtk_json *dtk_json_take(dtk_json *obj, const char *key)
{
    long i;
    dtk_json *v;

    if (obj == NULL || obj->type != DTK_JSON_OBJECT) {
        return NULL;
    }
    i = find_key(obj, key);
    if (i < 0) {
        return NULL;
    }
    v = obj->u.object.values[i];
    dtk_free(obj->u.object.keys[i]);
    memmove(obj->u.object.keys + i, obj->u.object.keys + i + 1,
            (obj->u.object.len - (size_t)i - 1) * sizeof(char *));
    memmove(obj->u.object.values + i, obj->u.object.values + i + 1,
            (obj->u.object.len - (size_t)i - 1) * sizeof(dtk_json *));
    obj->u.object.len--;
    return v;
}

int dtk_json_remove(dtk_json *obj, const char *key)
{
    dtk_json *v = dtk_json_take(obj, key);

    if (v == NULL) {
        return 0;
    }
    dtk_json_free(v);
    return 1;
}

dtk_json *dtk_json_path(const dtk_json *v, const char *const *path)
{
    const dtk_json *cur = v;

    for (size_t i = 0; path[i] != NULL && cur != NULL; i++) {
        cur = dtk_json_get(cur, path[i]);
    }
    return (dtk_json *)cur;
}

dtk_json *dtk_json_ensure_object(dtk_json *v, const char *const *path)
{
    dtk_json *cur = v;

    if (cur == NULL || cur->type != DTK_JSON_OBJECT) {
        return NULL;
    }
    for (size_t i = 0; path[i] != NULL; i++) {
        dtk_json *next = dtk_json_get(cur, path[i]);

        if (next == NULL || next->type == DTK_JSON_NULL) {
            next = dtk_json_new_object();
            dtk_json_set(cur, path[i], next);
        } else if (next->type != DTK_JSON_OBJECT) {
            return NULL;
        }
        cur = next;
    }
    return cur;
}

void dtk_json_insert_at(dtk_json *arr, size_t i, dtk_json *item)
{
    dtk_assert(arr != NULL && arr->type == DTK_JSON_ARRAY && item != NULL);
    dtk_assert(i <= arr->u.array.len);
    if (arr->u.array.len == arr->u.array.cap) {
        size_t cap = arr->u.array.cap ? arr->u.array.cap * 2 : 4;

        arr->u.array.items =
            dtk_realloc(arr->u.array.items, cap * sizeof(dtk_json *));
        arr->u.array.cap = cap;
    }
    memmove(arr->u.array.items + i + 1, arr->u.array.items + i,
            (arr->u.array.len - i) * sizeof(dtk_json *));
    arr->u.array.items[i] = item;
    arr->u.array.len++;
}

void dtk_json_append(dtk_json *arr, dtk_json *item)
{
    dtk_json_insert_at(arr, arr->u.array.len, item);
}

size_t dtk_json_len(const dtk_json *v)
{
    if (v == NULL) {
        return 0;
    }
    if (v->type == DTK_JSON_ARRAY) {
        return v->u.array.len;
    }
    if (v->type == DTK_JSON_OBJECT) {
        return v->u.object.len;
    }
    return 0;
}

dtk_json *dtk_json_at(const dtk_json *arr, size_t i)
{
    if (arr == NULL || arr->type != DTK_JSON_ARRAY || i >= arr->u.array.len) {
        return NULL;
    }
    return arr->u.array.items[i];
}

void dtk_json_remove_at(dtk_json *arr, size_t i)
{
    dtk_assert(arr != NULL && arr->type == DTK_JSON_ARRAY);
    dtk_assert(i < arr->u.array.len);
    dtk_json_free(arr->u.array.items[i]);
    memmove(arr->u.array.items + i, arr->u.array.items + i + 1,
            (arr->u.array.len - i - 1) * sizeof(dtk_json *));
    arr->u.array.len--;
}

const char *dtk_json_string(const dtk_json *v)
{
    if (v == NULL || v->type != DTK_JSON_STRING) {
        return NULL;
    }
    return v->u.string.ptr;
}

const char *dtk_json_get_string(const dtk_json *obj, const char *key)
{
    return dtk_json_string(dtk_json_get(obj, key));
}

const char *dtk_json_type_name(dtk_json_type type)
{
    switch (type) {
    case DTK_JSON_NULL:
        return "null";
    case DTK_JSON_BOOL:
        return "boolean";
    case DTK_JSON_NUMBER:
        return "number";
    case DTK_JSON_STRING:
        return "string";
    case DTK_JSON_ARRAY:
        return "array";
    case DTK_JSON_OBJECT:
        return "object";
    }
    return "unknown";
}

void dtk_json_sort_keys(dtk_json *v)
{
    if (v == NULL) {
        return;
    }
    if (v->type == DTK_JSON_ARRAY) {
        for (size_t i = 0; i < v->u.array.len; i++) {
            dtk_json_sort_keys(v->u.array.items[i]);
        }
        return;
    }
    if (v->type != DTK_JSON_OBJECT) {
        return;
    }
    /* Insertion sort: objects are small, and it is stable. */
    for (size_t i = 1; i < v->u.object.len; i++) {
        for (size_t j = i; j > 0 && strcmp(v->u.object.keys[j - 1],
                                           v->u.object.keys[j]) > 0;
             j--) {
            char *k = v->u.object.keys[j];
            dtk_json *val = v->u.object.values[j];

            v->u.object.keys[j] = v->u.object.keys[j - 1];
            v->u.object.values[j] = v->u.object.values[j - 1];
            v->u.object.keys[j - 1] = k;
            v->u.object.values[j - 1] = val;
        }
    }
    for (size_t i = 0; i < v->u.object.len; i++) {
        dtk_json_sort_keys(v->u.object.values[i]);
    }
}

/* ---- parsing ---------------------------------------------------------- */

typedef struct parse_state {
    dtk_json *root;
    dtk_json *stack[DTK_JSON_MAX_DEPTH + 1];
    char *pending_key[DTK_JSON_MAX_DEPTH + 1];
    int depth;
    int too_deep;
} parse_state;

/* Attaches v to the current container (or makes it the root). */
static int attach(parse_state *st, dtk_json *v)
{
    dtk_json *top;

    if (st->depth == 0) {
        st->root = v;
        return 1;
    }
    top = st->stack[st->depth - 1];
    if (top->type == DTK_JSON_ARRAY) {
        dtk_json_append(top, v);
    } else {
        char *key = st->pending_key[st->depth - 1];

        /* Duplicate keys: the last one wins, as in Go's encoding/json. */
        dtk_json_set(top, key, v);
        dtk_free(key);
        st->pending_key[st->depth - 1] = NULL;
    }
    return 1;
}

static int cb_null(void *ctx)
{
    return attach(ctx, dtk_json_new_null());
}

static int cb_boolean(void *ctx, int value)
{
    return attach(ctx, dtk_json_new_bool(value));
}

static int cb_number(void *ctx, const char *s, size_t len)
{
    dtk_json *v = new_value(DTK_JSON_NUMBER);

    v->u.number = dtk_strndup(s, len);
    return attach(ctx, v);
}

static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
    return attach(ctx, dtk_json_new_stringn((const char *)s, len));
}

static int open_container(parse_state *st, dtk_json *v)
{
    if (st->depth >= DTK_JSON_MAX_DEPTH) {
        st->too_deep = 1;
        dtk_json_free(v);
        return 0;
    }
    attach(st, v);
    st->stack[st->depth] = v;
    st->pending_key[st->depth] = NULL;
    st->depth++;
    return 1;
}

static int cb_start_map(void *ctx)
{
    return open_container(ctx, dtk_json_new_object());
}

static int cb_map_key(void *ctx, const unsigned char *key, size_t len)
{
    parse_state *st = ctx;

    dtk_free(st->pending_key[st->depth - 1]);
    st->pending_key[st->depth - 1] = dtk_strndup((const char *)key, len);
    return 1;
}

static int cb_end(void *ctx)
{
    parse_state *st = ctx;

    st->depth--;
    dtk_free(st->pending_key[st->depth]);
    st->pending_key[st->depth] = NULL;
    return 1;
}

static int cb_start_array(void *ctx)
{
    return open_container(ctx, dtk_json_new_array());
}

static const yajl_callbacks parse_callbacks = {
    cb_null,      cb_boolean, NULL,   NULL,           cb_number, cb_string,
    cb_start_map, cb_map_key, cb_end, cb_start_array, cb_end,
};

int dtk_json_parse(dtk_json **out, const char *text, size_t len)
{
    parse_state st;
    yajl_handle h = NULL;
    yajl_status status;
    int error = 0;

    memset(&st, 0, sizeof(st));
    *out = NULL;
    h = yajl_alloc(&parse_callbacks, NULL, &st);
    status = yajl_parse(h, (const unsigned char *)text, len);
    if (status == yajl_status_ok) {
        status = yajl_complete_parse(h);
    }
    if (status != yajl_status_ok) {
        size_t offset = yajl_get_bytes_consumed(h);

        if (st.too_deep) {
            dtk_error_set(DTK_ERRCLASS_JSON,
                          "JSON nesting deeper than %d levels",
                          DTK_JSON_MAX_DEPTH);
        } else if (len == 0) {
            dtk_error_set(DTK_ERRCLASS_JSON, "empty JSON document");
        } else {
            dtk_error_set(DTK_ERRCLASS_JSON, "invalid JSON near byte %zu",
                          offset);
        }
        error = DTK_EINVALID;
        goto out;
    }
    if (st.root == NULL) {
        dtk_error_set(DTK_ERRCLASS_JSON, "empty JSON document");
        error = DTK_EINVALID;
        goto out;
    }
    *out = st.root;
    st.root = NULL;
out:
    for (int i = 0; i < DTK_JSON_MAX_DEPTH + 1; i++) {
        dtk_free(st.pending_key[i]);
    }
    dtk_json_free(st.root);
    yajl_free(h);
    return error;
}

/* ---- writing ---------------------------------------------------------- */

static int gen_value(yajl_gen g, const dtk_json *v)
{
    yajl_gen_status s = yajl_gen_status_ok;

    switch (v->type) {
    case DTK_JSON_NULL:
        s = yajl_gen_null(g);
        break;
    case DTK_JSON_BOOL:
        s = yajl_gen_bool(g, v->u.boolean);
        break;
    case DTK_JSON_NUMBER:
        s = yajl_gen_number(g, v->u.number, strlen(v->u.number));
        break;
    case DTK_JSON_STRING:
        s = yajl_gen_string(g, (const unsigned char *)v->u.string.ptr,
                            v->u.string.len);
        break;
    case DTK_JSON_ARRAY:
        s = yajl_gen_array_open(g);
        for (size_t i = 0; s == yajl_gen_status_ok && i < v->u.array.len; i++) {
            if (gen_value(g, v->u.array.items[i]) < 0) {
                return -1;
            }
        }
        if (s == yajl_gen_status_ok) {
            s = yajl_gen_array_close(g);
        }
        break;
    case DTK_JSON_OBJECT:
        s = yajl_gen_map_open(g);
        for (size_t i = 0; s == yajl_gen_status_ok && i < v->u.object.len;
             i++) {
            const char *k = v->u.object.keys[i];

            s = yajl_gen_string(g, (const unsigned char *)k, strlen(k));
            if (s == yajl_gen_status_ok &&
                gen_value(g, v->u.object.values[i]) < 0) {
                return -1;
            }
        }
        if (s == yajl_gen_status_ok) {
            s = yajl_gen_map_close(g);
        }
        break;
    }
    return s == yajl_gen_status_ok ? 0 : -1;
}

int dtk_json_write(dtk_buf *out, const dtk_json *v)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    const unsigned char *text = NULL;
    size_t len = 0;
    int error = 0;

    yajl_gen_config(g, yajl_gen_validate_utf8, 1);
    if (gen_value(g, v) < 0) {
        dtk_error_set(DTK_ERRCLASS_JSON, "value is not valid UTF-8 JSON");
        error = DTK_EINVALID;
        goto out;
    }
    if (yajl_gen_get_buf(g, &text, &len) != yajl_gen_status_ok) {
        dtk_error_set(DTK_ERRCLASS_JSON, "JSON generator failed");
        error = DTK_ERROR;
        goto out;
    }
    error = dtk_buf_put(out, text, len);
out:
    yajl_gen_free(g);
    return error;
}

char *dtk_json_to_string(const dtk_json *v)
{
    dtk_buf buf = DTK_BUF_INIT(0);

    if (dtk_json_write(&buf, v) < 0) {
        dtk_buf_dispose(&buf);
        return NULL;
    }
    return dtk_buf_detach(&buf);
}

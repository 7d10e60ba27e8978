/* JSON merge patch and JSON patch (see patch.h).
 *
 * Merge patch is RFC 7386 verbatim: a short recursive walk over the patch.
 *
 * JSON patch reproduces kube-apiserver v1.32, which applies patches with
 * evanphx/json-patch v4.12: the same path resolution (split on '/', the last
 * segment is the key inside the container the earlier segments lead to), the
 * same container semantics (negative array indices, "replace" adding missing
 * members) and the same error texts, which Kubernetes returns verbatim to
 * clients and which kubectl prints. Behaviour was checked against
 * `kubectl patch --local --type=json` (kubectl v1.32 links the same library).
 * Operations run on a copy of the document, so a failing patch leaves the
 * caller's document untouched; the copy is swapped in at the end.
 *
 * Not done on purpose: JSON patch "test" compares by value (RFC 6902) rather
 * than by raw text as the Go library does, and where the Go library panics
 * (a "test" without "value" on a missing member) this code reports a failed
 * test.
 */
#include "pkg/json/patch.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/error.h"

/* ---- merge patch (RFC 7386) ------------------------------------------- */

static void merge_into(dtk_json *obj, const dtk_json *patch);

/* MergePatch({}, v) for objects, a copy for everything else. */
static dtk_json *merge_materialize(const dtk_json *v)
{
    dtk_json *obj;

    if (v->type != DTK_JSON_OBJECT) {
        return dtk_json_copy(v);
    }
    obj = dtk_json_new_object();
    merge_into(obj, v);
    return obj;
}

/* obj and patch are objects. Recursion depth is bounded by the patch's
 * depth, which parsing limits to DTK_JSON_MAX_DEPTH. */
static void merge_into(dtk_json *obj, const dtk_json *patch)
{
    for (size_t i = 0; i < patch->u.object.len; i++) {
        const char *key = patch->u.object.keys[i];
        const dtk_json *value = patch->u.object.values[i];
        dtk_json *cur;

        if (value->type == DTK_JSON_NULL) {
            dtk_json_remove(obj, key);
            continue;
        }
        cur = dtk_json_get(obj, key);
        if (cur != NULL && cur->type == DTK_JSON_OBJECT &&
            value->type == DTK_JSON_OBJECT) {
            merge_into(cur, value);
        } else {
            dtk_json_set(obj, key, merge_materialize(value));
        }
    }
}

int dtk_json_merge_patch(dtk_json **target_inout, const dtk_json *patch)
{
    dtk_json *target = *target_inout;

    if (patch == NULL) {
        dtk_error_set(DTK_ERRCLASS_JSON, "merge patch is missing");
        return DTK_EINVALID;
    }
    if (patch->type != DTK_JSON_OBJECT) {
        dtk_json_free(target);
        *target_inout = dtk_json_copy(patch);
        return 0;
    }
    if (target == NULL || target->type != DTK_JSON_OBJECT) {
        dtk_json_free(target);
        *target_inout = merge_materialize(patch);
        return 0;
    }
    merge_into(target, patch);
    return 0;
}

/* original and modified are objects; returns the (possibly empty) patch. */
static dtk_json *merge_diff(const dtk_json *original, const dtk_json *modified)
{
    dtk_json *out = dtk_json_new_object();

    for (size_t i = 0; i < modified->u.object.len; i++) {
        const char *key = modified->u.object.keys[i];
        const dtk_json *b = modified->u.object.values[i];
        const dtk_json *a = dtk_json_get(original, key);

        if (a != NULL && a->type == DTK_JSON_OBJECT &&
            b->type == DTK_JSON_OBJECT) {
            dtk_json *sub = merge_diff(a, b);

            if (dtk_json_len(sub) > 0) {
                dtk_json_set(out, key, sub);
            } else {
                dtk_json_free(sub);
            }
        } else if (a == NULL || !dtk_json_equal(a, b)) {
            dtk_json_set(out, key, dtk_json_copy(b));
        }
    }
    for (size_t i = 0; i < original->u.object.len; i++) {
        const char *key = original->u.object.keys[i];

        if (dtk_json_get(modified, key) == NULL) {
            dtk_json_set(out, key, dtk_json_new_null());
        }
    }
    return out;
}

int dtk_json_merge_patch_create(dtk_json **out,
                                const dtk_json *original,
                                const dtk_json *modified)
{
    *out = NULL;
    if (original == NULL || modified == NULL) {
        dtk_error_set(DTK_ERRCLASS_JSON, "merge patch input is missing");
        return DTK_EINVALID;
    }
    if (original->type == DTK_JSON_OBJECT &&
        modified->type == DTK_JSON_OBJECT) {
        *out = merge_diff(original, modified);
    } else {
        /* Only a whole replacement turns a non-object into anything. */
        *out = dtk_json_copy(modified);
    }
    return 0;
}

/* ---- JSON patch (RFC 6902, as Kubernetes applies it) ------------------- */

/* Appends s quoted like Go's %q (strconv.Quote), for error texts that
 * Kubernetes produces with %q. */
static void go_quote(dtk_buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    dtk_buf_putc(b, '"');
    while (*p != '\0') {
        unsigned char c = *p;
        size_t n = 0;

        switch (c) {
        case '"':
            dtk_buf_puts(b, "\\\"");
            p++;
            continue;
        case '\\':
            dtk_buf_puts(b, "\\\\");
            p++;
            continue;
        case '\n':
            dtk_buf_puts(b, "\\n");
            p++;
            continue;
        case '\r':
            dtk_buf_puts(b, "\\r");
            p++;
            continue;
        case '\t':
            dtk_buf_puts(b, "\\t");
            p++;
            continue;
        default:
            break;
        }
        if (c >= 0x20 && c < 0x7f) {
            dtk_buf_putc(b, (char)c);
            p++;
            continue;
        }
        /* Valid multi-byte UTF-8 is printed as is, anything else as \xNN. */
        if (c >= 0xc2 && c <= 0xdf) {
            n = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 3;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 4;
        }
        if (n > 0) {
            size_t k = 1;

            while (k < n && (p[k] & 0xc0) == 0x80) {
                k++;
            }
            if (k == n) {
                dtk_buf_put(b, p, n);
                p += n;
                continue;
            }
        }
        dtk_buf_printf(b, "\\x%02x", c);
        p++;
    }
    dtk_buf_putc(b, '"');
}

/* Go's strconv.Atoi: optional sign, decimal digits, 64-bit range. On
 * failure writes Go's error text into cause. */
static int go_atoi(long long *out, const char *s, dtk_buf *cause)
{
    const char *p = s;
    int negative = 0;
    unsigned long long n = 0;
    const char *reason = "invalid syntax";

    if (*p == '+' || *p == '-') {
        negative = *p == '-';
        p++;
    }
    if (*p == '\0') {
        goto fail;
    }
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            goto fail;
        }
        if (n > (ULLONG_MAX - 9) / 10) {
            n = ULLONG_MAX;
        } else {
            n = n * 10 + (unsigned long long)(*p - '0');
        }
    }
    if ((!negative && n > (unsigned long long)INT64_MAX) ||
        (negative && n > (unsigned long long)INT64_MAX + 1)) {
        reason = "value out of range";
        goto fail;
    }
    *out = negative ? (long long)(0 - n) : (long long)n;
    return 0;
fail:
    if (cause != NULL) {
        dtk_buf_puts(cause, "strconv.Atoi: parsing ");
        go_quote(cause, s);
        dtk_buf_printf(cause, ": %s", reason);
    }
    return -1;
}

/* RFC 6901 unescaping, in the library's order: "~1" first, then "~0". */
static char *pointer_unescape(const char *seg, size_t len)
{
    char *tmp = dtk_malloc(len + 1);
    char *out = dtk_malloc(len + 1);
    size_t n = 0, m = 0;

    for (size_t i = 0; i < len; i++) {
        if (seg[i] == '~' && i + 1 < len && seg[i + 1] == '1') {
            tmp[n++] = '/';
            i++;
        } else {
            tmp[n++] = seg[i];
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (tmp[i] == '~' && i + 1 < n && tmp[i + 1] == '0') {
            out[m++] = '~';
            i++;
        } else {
            out[m++] = tmp[i];
        }
    }
    out[m] = '\0';
    dtk_free(tmp);
    return out;
}

static int is_container(const dtk_json *v)
{
    return v != NULL &&
           (v->type == DTK_JSON_OBJECT || v->type == DTK_JSON_ARRAY);
}

/* Reads container[key]. Objects: the member, or NULL when absent (no
 * error). Arrays: Go's partialArray.get (negative indices count from the
 * end). Returns 0, or -1 with the reason in cause. */
static int con_get(dtk_json **out,
                   dtk_json *con,
                   const char *key,
                   dtk_buf *cause)
{
    long long idx;
    long long len;

    *out = NULL;
    if (con->type == DTK_JSON_OBJECT) {
        *out = dtk_json_get(con, key);
        return 0;
    }
    if (go_atoi(&idx, key, cause) < 0) {
        return -1;
    }
    len = (long long)dtk_json_len(con);
    if (idx < 0) {
        if (idx < -len) {
            goto invalid;
        }
        idx += len;
    }
    if (idx >= len) {
        goto invalid;
    }
    *out = dtk_json_at(con, (size_t)idx);
    return 0;
invalid:
    dtk_buf_printf(cause,
                   "Unable to access invalid index: %lld: invalid index "
                   "referenced",
                   idx);
    return -1;
}

/* Adds val (stolen, freed on failure) at container[key]. */
static int con_add(dtk_json *con,
                   const char *key,
                   dtk_json *val,
                   dtk_buf *cause)
{
    long long idx, orig_idx;
    long long size;

    if (con->type == DTK_JSON_OBJECT) {
        dtk_json_set(con, key, val);
        return 0;
    }
    if (strcmp(key, "-") == 0) {
        dtk_json_append(con, val);
        return 0;
    }
    if (go_atoi(&idx, key, cause) < 0) {
        /* Go wraps the Atoi error: "value was not a proper array index". */
        dtk_buf tmp = DTK_BUF_INIT(0);

        dtk_buf_printf(&tmp, "value was not a proper array index: '%s': %s",
                       key, dtk_buf_cstr(cause));
        dtk_buf_reset(cause);
        dtk_buf_puts(cause, dtk_buf_cstr(&tmp));
        dtk_buf_dispose(&tmp);
        dtk_json_free(val);
        return -1;
    }
    orig_idx = idx;
    size = (long long)dtk_json_len(con) + 1;
    if (idx >= size || (idx < 0 && idx < -size)) {
        dtk_buf_printf(cause,
                       "Unable to access invalid index: %lld: invalid index "
                       "referenced",
                       orig_idx);
        dtk_json_free(val);
        return -1;
    }
    if (idx < 0) {
        idx += size;
    }
    dtk_json_insert_at(con, (size_t)idx, val);
    return 0;
}

static int con_remove(dtk_json *con, const char *key, dtk_buf *cause)
{
    long long idx;
    long long len;

    if (con->type == DTK_JSON_OBJECT) {
        if (!dtk_json_remove(con, key)) {
            dtk_buf_printf(cause,
                           "Unable to remove nonexistent key: %s: missing "
                           "value",
                           key);
            return -1;
        }
        return 0;
    }
    if (go_atoi(&idx, key, cause) < 0) {
        return -1;
    }
    len = (long long)dtk_json_len(con);
    if (idx >= len || (idx < 0 && idx < -len)) {
        dtk_buf_printf(cause,
                       "Unable to access invalid index: %lld: invalid index "
                       "referenced",
                       idx);
        return -1;
    }
    if (idx < 0) {
        idx += len;
    }
    dtk_json_remove_at(con, (size_t)idx);
    return 0;
}

/* Replaces container[key] with val (stolen); the key was checked by
 * con_get, so this cannot fail for arrays. Objects add missing members. */
static void con_set(dtk_json *con, const char *key, dtk_json *val)
{
    long long idx = 0;
    long long len;

    if (con->type == DTK_JSON_OBJECT) {
        dtk_json_set(con, key, val);
        return;
    }
    go_atoi(&idx, key, NULL);
    len = (long long)dtk_json_len(con);
    if (idx < 0) {
        idx += len;
    }
    dtk_json_replace(dtk_json_at(con, (size_t)idx), val);
}

/* Go's findObject: resolves all segments but the last to a container and
 * returns the unescaped last segment in *key_out (owned by the caller).
 * Returns NULL when the path has no '/' or a segment does not resolve to an
 * object or array. */
static dtk_json *find_object(dtk_json *root, const char *path, char **key_out)
{
    const char *first = strchr(path, '/');
    const char *last = strrchr(path, '/');
    const char *seg;
    dtk_json *cur = root;
    dtk_buf ignored = DTK_BUF_INIT(0);

    *key_out = NULL;
    if (first == NULL || !is_container(root)) {
        return NULL;
    }
    /* Segments between the first and the last '/' lead to the container;
     * whatever precedes the first '/' is ignored, as in the library. */
    seg = first + 1;
    while (seg <= last) {
        const char *end = strchr(seg, '/');
        char *key;
        dtk_json *next = NULL;
        int rc;

        if (end == NULL || end > last) {
            break;
        }
        key = pointer_unescape(seg, (size_t)(end - seg));
        rc = con_get(&next, cur, key, &ignored);
        dtk_free(key);
        dtk_buf_reset(&ignored);
        if (rc < 0 || !is_container(next)) {
            dtk_buf_dispose(&ignored);
            return NULL;
        }
        cur = next;
        seg = end + 1;
    }
    dtk_buf_dispose(&ignored);
    *key_out = pointer_unescape(last + 1, strlen(last + 1));
    return cur;
}

/* How an operation's string member (path/from) was found. */
enum { FIELD_OK = 0, FIELD_MISSING, FIELD_TYPE };

static const char *go_json_type(const dtk_json *v)
{
    switch (v->type) {
    case DTK_JSON_BOOL:
        return "bool";
    case DTK_JSON_NUMBER:
        return "number";
    case DTK_JSON_STRING:
        return "string";
    case DTK_JSON_ARRAY:
        return "array";
    case DTK_JSON_OBJECT:
        return "object";
    default:
        return "null";
    }
}

static int op_field(const char **out,
                    const dtk_json *op,
                    const char *name,
                    const char **type_out)
{
    const dtk_json *v = dtk_json_get(op, name);

    *out = NULL;
    *type_out = NULL;
    if (v == NULL || v->type == DTK_JSON_NULL) {
        return FIELD_MISSING;
    }
    if (v->type != DTK_JSON_STRING) {
        *type_out = go_json_type(v);
        return FIELD_TYPE;
    }
    *out = v->u.string.ptr;
    return FIELD_OK;
}

/* The Go error text for a path/from member that could not be decoded, in the
 * form the given operation reports it. */
static int decode_fail(const char *opname,
                       const char *what,
                       int status,
                       const char *type,
                       int always_missing)
{
    if (always_missing) {
        dtk_error_set(DTK_ERRCLASS_JSON,
                      "%s operation failed to decode %s: missing value", opname,
                      what);
    } else if (status == FIELD_TYPE) {
        dtk_error_set(DTK_ERRCLASS_JSON,
                      "%s operation failed to decode %s: json: cannot "
                      "unmarshal %s into Go value of type string",
                      opname, what, type);
    } else if (strcmp(what, "from") == 0) {
        dtk_error_set(DTK_ERRCLASS_JSON,
                      "%s operation failed to decode from: operation, missing "
                      "from field: missing value",
                      opname);
    } else {
        dtk_error_set(DTK_ERRCLASS_JSON,
                      "%s operation failed to decode path: operation missing "
                      "path field: missing value",
                      opname);
    }
    return DTK_EINVALID;
}

/* The operation's "value", or a fresh null when it is missing. */
static dtk_json *op_value_copy(const dtk_json *op)
{
    const dtk_json *v = dtk_json_get(op, "value");

    return v == NULL ? dtk_json_new_null() : dtk_json_copy(v);
}

typedef struct patch_state {
    dtk_json *doc; /* the working copy */
    size_t copied; /* bytes added by "copy" so far */
    dtk_buf cause; /* scratch for container errors */
} patch_state;

static int op_add(patch_state *st, const dtk_json *op)
{
    const char *path, *type;
    char *key = NULL;
    dtk_json *con;
    int error = 0;

    if (op_field(&path, op, "path", &type) != FIELD_OK) {
        return decode_fail("add", "path", FIELD_MISSING, NULL, 1);
    }
    con = find_object(st->doc, path, &key);
    if (con == NULL) {
        dtk_error_set(DTK_ERRCLASS_JSON,
                      "add operation does not apply: doc is missing path: "
                      "\"%s\": missing value",
                      path);
        error = DTK_EINVALID;
        goto out;
    }
    if (con_add(con, key, op_value_copy(op), &st->cause) < 0) {
        dtk_error_set(DTK_ERRCLASS_JSON, "error in add for path: '%s': %s",
                      path, dtk_buf_cstr(&st->cause));
        error = DTK_EINVALID;
        goto out;
    }
out:
    dtk_free(key);
    return error;
}

static int op_remove(patch_state *st, const dtk_json *op)
{
    const char *path, *type;
    char *key = NULL;
    dtk_json *con;
    int error = 0;

    if (op_field(&path, op, "path", &type) != FIELD_OK) {
        return decode_fail("remove", "path", FIELD_MISSING, NULL, 1);
    }
    con = find_object(st->doc, path, &key);
    if (con == NULL) {
        dtk_error_set(DTK_ERRCLASS_JSON,
                      "remove operation does not apply: doc is missing path: "
                      "\"%s\": missing value",
                      path);
        error = DTK_EINVALID;
        goto out;
    }
    if (con_remove(con, key, &st->cause) < 0) {
        dtk_error_set(DTK_ERRCLASS_JSON, "error in remove for path: '%s': %s",
                      path, dtk_buf_cstr(&st->cause));
        error = DTK_EINVALID;
        goto out;
    }
out:
    dtk_free(key);
    return error;
}

static int op_replace(patch_state *st, const dtk_json *op)
{
    const char *path, *type;
    char *key = NULL;
    dtk_json *con, *cur = NULL;
    const dtk_json *value;
    int status;
    int error = 0;

    status = op_field(&path, op, "path", &type);
    if (status != FIELD_OK) {
        return decode_fail("replace", "path", status, type, 0);
    }
    if (path[0] == '\0') {
        /* The whole document. The library swaps in an object or array,
         * silently ignores any other value (its error is wrapped around a
         * nil error) and crashes without one; the crash becomes an error. */
        value = dtk_json_get(op, "value");
        if (value == NULL) {
            dtk_error_set(DTK_ERRCLASS_JSON,
                          "replace operation value must be object or array");
            return DTK_EINVALID;
        }
        if (!is_container(value)) {
            return 0;
        }
        dtk_json_free(st->doc);
        st->doc = dtk_json_copy(value);
        return 0;
    }
    con = find_object(st->doc, path, &key);
    if (con == NULL) {
        dtk_error_set(DTK_ERRCLASS_JSON,
                      "replace operation does not apply: doc is missing path: "
                      "%s: missing value",
                      path);
        error = DTK_EINVALID;
        goto out;
    }
    if (con_get(&cur, con, key, &st->cause) < 0) {
        dtk_error_set(DTK_ERRCLASS_JSON,
                      "replace operation does not apply: doc is missing key: "
                      "%s: missing value",
                      path);
        error = DTK_EINVALID;
        goto out;
    }
    con_set(con, key, op_value_copy(op));
out:
    dtk_free(key);
    return error;
}

static int op_move(patch_state *st, const dtk_json *op)
{
    const char *from, *path, *type;
    char *key = NULL;
    dtk_json *con, *cur = NULL, *val = NULL;
    int status;
    int error = 0;

    status = op_field(&from, op, "from", &type);
    if (status != FIELD_OK) {
        return decode_fail("move", "from", status, type, 0);
    }
    con = find_object(st->doc, from, &key);
    if (con == NULL) {
        dtk_error_set(DTK_ERRCLASS_JSON,
                      "move operation does not apply: doc is missing from "
                      "path: %s: missing value",
                      from);
        error = DTK_EINVALID;
        goto out;
    }
    status = con_get(&cur, con, key, &st->cause);
    if (status == 0) {
        val = cur == NULL ? dtk_json_new_null() : dtk_json_copy(cur);
        status = con_remove(con, key, &st->cause);
    }
    if (status < 0) {
        /* The library names the key, not the path, in this message. */
        dtk_error_set(DTK_ERRCLASS_JSON, "error in move for path: '%s': %s",
                      key, dtk_buf_cstr(&st->cause));
        error = DTK_EINVALID;
        goto out;
    }
    dtk_free(key);
    key = NULL;
    status = op_field(&path, op, "path", &type);
    if (status != FIELD_OK) {
        error = decode_fail("move", "path", status, type, 0);
        goto out;
    }
    con = find_object(st->doc, path, &key);
    if (con == NULL) {
        dtk_error_set(DTK_ERRCLASS_JSON,
                      "move operation does not apply: doc is missing "
                      "destination path: %s: missing value",
                      path);
        error = DTK_EINVALID;
        goto out;
    }
    status = con_add(con, key, val, &st->cause);
    val = NULL;
    if (status < 0) {
        dtk_error_set(DTK_ERRCLASS_JSON, "error in move for path: '%s': %s",
                      path, dtk_buf_cstr(&st->cause));
        error = DTK_EINVALID;
        goto out;
    }
out:
    dtk_json_free(val);
    dtk_free(key);
    return error;
}

static int op_test(patch_state *st, const dtk_json *op)
{
    const char *path, *type;
    char *key = NULL;
    dtk_json *con, *cur = NULL;
    const dtk_json *want = dtk_json_get(op, "value");
    int status;
    int ok;
    int error = 0;

    status = op_field(&path, op, "path", &type);
    if (status != FIELD_OK) {
        return decode_fail("test", "path", status, type, 0);
    }
    if (path[0] == '\0') {
        cur = st->doc;
    } else {
        con = find_object(st->doc, path, &key);
        if (con == NULL) {
            dtk_error_set(DTK_ERRCLASS_JSON,
                          "test operation does not apply: is missing path: "
                          "%s: missing value",
                          path);
            error = DTK_EINVALID;
            goto out;
        }
        if (con_get(&cur, con, key, &st->cause) < 0) {
            dtk_error_set(DTK_ERRCLASS_JSON, "error in test for path: '%s': %s",
                          path, dtk_buf_cstr(&st->cause));
            error = DTK_EINVALID;
            goto out;
        }
    }
    if (cur == NULL || cur->type == DTK_JSON_NULL) {
        /* Missing and null read alike; "value": null matches both. */
        ok = want != NULL && want->type == DTK_JSON_NULL;
    } else {
        ok = want != NULL && dtk_json_equal(cur, want);
    }
    if (!ok) {
        dtk_error_set(DTK_ERRCLASS_JSON, "testing value %s failed: test failed",
                      path);
        error = DTK_EINVALID;
    }
out:
    dtk_free(key);
    return error;
}

static int op_copy(patch_state *st, const dtk_json *op)
{
    const char *from, *path, *type;
    char *key = NULL;
    dtk_json *con, *cur = NULL, *val = NULL;
    dtk_buf text = DTK_BUF_INIT(0);
    int status;
    int error = 0;

    status = op_field(&from, op, "from", &type);
    if (status != FIELD_OK) {
        return decode_fail("copy", "from", status, type, 0);
    }
    con = find_object(st->doc, from, &key);
    if (con == NULL) {
        dtk_error_set(DTK_ERRCLASS_JSON,
                      "copy operation does not apply: doc is missing from "
                      "path: %s: missing value",
                      from);
        error = DTK_EINVALID;
        goto out;
    }
    if (con_get(&cur, con, key, &st->cause) < 0) {
        dtk_error_set(DTK_ERRCLASS_JSON, "error in copy for from: '%s': %s",
                      from, dtk_buf_cstr(&st->cause));
        error = DTK_EINVALID;
        goto out;
    }
    /* Size the copy as the library does: its compact JSON text, 0 for a
     * missing member. A value too large to serialise is over any limit. */
    if (cur != NULL && cur->type != DTK_JSON_NULL) {
        if (dtk_json_write(&text, cur) < 0) {
            st->copied = SIZE_MAX;
        } else {
            st->copied += text.len;
        }
    }
    if (st->copied > DTK_JSON_PATCH_MAX_COPY_BYTES) {
        dtk_error_set(DTK_ERRCLASS_JSON,
                      "Unable to complete the copy, the accumulated size "
                      "increase of copy is %zu, exceeding the limit %zu",
                      st->copied, DTK_JSON_PATCH_MAX_COPY_BYTES);
        error = DTK_EINVALID;
        goto out;
    }
    val = cur == NULL ? dtk_json_new_null() : dtk_json_copy(cur);
    dtk_free(key);
    key = NULL;
    if (op_field(&path, op, "path", &type) != FIELD_OK) {
        error = decode_fail("copy", "path", FIELD_MISSING, NULL, 1);
        goto out;
    }
    con = find_object(st->doc, path, &key);
    if (con == NULL) {
        dtk_error_set(DTK_ERRCLASS_JSON,
                      "copy operation does not apply: doc is missing "
                      "destination path: %s: missing value",
                      path);
        error = DTK_EINVALID;
        goto out;
    }
    status = con_add(con, key, val, &st->cause);
    val = NULL;
    if (status < 0) {
        dtk_error_set(DTK_ERRCLASS_JSON,
                      "error while adding value during copy: %s",
                      dtk_buf_cstr(&st->cause));
        error = DTK_EINVALID;
        goto out;
    }
out:
    dtk_buf_dispose(&text);
    dtk_json_free(val);
    dtk_free(key);
    return error;
}

static int apply_op(patch_state *st, const dtk_json *op)
{
    const dtk_json *kind = dtk_json_get(op, "op");
    const char *name = "unknown";

    if (kind != NULL && kind->type == DTK_JSON_STRING) {
        name = kind->u.string.ptr;
    }
    dtk_buf_reset(&st->cause);
    if (strcmp(name, "add") == 0) {
        return op_add(st, op);
    }
    if (strcmp(name, "remove") == 0) {
        return op_remove(st, op);
    }
    if (strcmp(name, "replace") == 0) {
        return op_replace(st, op);
    }
    if (strcmp(name, "move") == 0) {
        return op_move(st, op);
    }
    if (strcmp(name, "test") == 0) {
        return op_test(st, op);
    }
    if (strcmp(name, "copy") == 0) {
        return op_copy(st, op);
    }
    dtk_error_set(DTK_ERRCLASS_JSON, "Unexpected kind: %s", name);
    return DTK_EINVALID;
}

int dtk_json_patch_apply_ex(dtk_json **doc_inout,
                            const dtk_json *ops,
                            long *failed_op_out)
{
    patch_state st = {NULL, 0, DTK_BUF_INIT(0)};
    size_t n;
    int error = 0;

    if (failed_op_out != NULL) {
        *failed_op_out = -1;
    }
    /* The whole patch is decoded before any operation runs, as in Go; a
     * JSON null decodes to an empty patch there. */
    if (ops == NULL || ops->type == DTK_JSON_NULL) {
        return 0;
    }
    if (ops->type != DTK_JSON_ARRAY) {
        dtk_error_set(DTK_ERRCLASS_JSON,
                      "json: cannot unmarshal %s into Go value of type "
                      "jsonpatch.Patch",
                      go_json_type(ops));
        return DTK_EINVALID;
    }
    n = dtk_json_len(ops);
    for (size_t i = 0; i < n; i++) {
        const dtk_json *op = dtk_json_at(ops, i);

        if (op->type != DTK_JSON_OBJECT && op->type != DTK_JSON_NULL) {
            dtk_error_set(DTK_ERRCLASS_JSON,
                          "json: cannot unmarshal %s into Go value of type "
                          "jsonpatch.Operation",
                          go_json_type(op));
            return DTK_EINVALID;
        }
    }
    if (n > DTK_JSON_PATCH_MAX_OPS) {
        dtk_error_set(DTK_ERRCLASS_JSON,
                      "The allowed maximum operations in a JSON patch is %d, "
                      "got %zu",
                      DTK_JSON_PATCH_MAX_OPS, n);
        return DTK_ETOOBIG;
    }
    if (!is_container(*doc_inout)) {
        dtk_error_set(DTK_ERRCLASS_JSON,
                      "json: cannot unmarshal %s into Go value of type "
                      "jsonpatch.partialDoc",
                      *doc_inout == NULL ? "null" : go_json_type(*doc_inout));
        return DTK_EINVALID;
    }
    st.doc = dtk_json_copy(*doc_inout);
    for (size_t i = 0; i < n; i++) {
        error = apply_op(&st, dtk_json_at(ops, i));
        if (error < 0) {
            if (failed_op_out != NULL) {
                *failed_op_out = (long)i;
            }
            goto out;
        }
    }
    dtk_json_free(*doc_inout);
    *doc_inout = st.doc;
    st.doc = NULL;
out:
    dtk_json_free(st.doc);
    dtk_buf_dispose(&st.cause);
    return error;
}

int dtk_json_patch_apply(dtk_json **doc_inout, const dtk_json *ops)
{
    return dtk_json_patch_apply_ex(doc_inout, ops, NULL);
}

/* Field errors and the 422 Invalid Status, worded as Kubernetes v1.32.
 *
 * Each constructor renders the error body once, the way Go's
 * field.Error.ErrorBody does, and stores reason/field/body as plain strings,
 * so the list is cheap to aggregate and to turn into Status causes. The Go
 * formatting the bodies depend on (strconv.Quote, %v of float64, %#v of
 * map[string]interface{} and []interface{}) is reproduced here; only the
 * Unicode "printable" table behind strconv.Quote is approximated (see
 * go_is_print).
 *
 * Deliberately not done: field.Path building (callers pass the rendered
 * path), the Go field.Error Origin/declarative-validation extras added after
 * v1.32.
 */
#include "cmd/dtk-apiserver/fielderr.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/error.h"

/* Big enough for any value the API server accepts (request bodies are
 * bounded far below), small enough that a bug cannot eat the machine. */
#define MESSAGE_LIMIT ((size_t)16 * 1024 * 1024)

void dtk_fielderr_list_dispose(dtk_fielderr_list *list)
{
    if (list == NULL) {
        return;
    }
    for (size_t i = 0; i < list->len; i++) {
        dtk_free(list->items[i].reason);
        dtk_free(list->items[i].field);
        dtk_free(list->items[i].message);
    }
    dtk_free(list->items);
    list->items = NULL;
    list->len = 0;
    list->cap = 0;
}

static dtk_fielderr *list_push(dtk_fielderr_list *list)
{
    if (list->len == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 8;

        list->items = dtk_realloc(list->items, cap * sizeof(*list->items));
        list->cap = cap;
    }
    return &list->items[list->len++];
}

void dtk_fielderr_list_move(dtk_fielderr_list *dst, dtk_fielderr_list *src)
{
    for (size_t i = 0; i < src->len; i++) {
        *list_push(dst) = src->items[i];
    }
    dtk_free(src->items);
    src->items = NULL;
    src->len = 0;
    src->cap = 0;
}

void dtk_fielderr_add(dtk_fielderr_list *list,
                      const char *reason,
                      const char *field,
                      const char *message)
{
    dtk_fielderr *e = list_push(list);

    e->reason = dtk_strdup(reason);
    e->field = dtk_strdup(field ? field : DTK_FIELDERR_NIL_PATH);
    e->message = dtk_strdup(message ? message : "");
}

/* Takes ownership of the rendered body. */
static void add_body(dtk_fielderr_list *list,
                     const char *reason,
                     const char *field,
                     dtk_buf *body)
{
    dtk_fielderr *e = list_push(list);

    e->reason = dtk_strdup(reason);
    e->field = dtk_strdup(field ? field : DTK_FIELDERR_NIL_PATH);
    e->message = dtk_buf_detach(body);
}

/* ------------------------------------------------------------------ */
/* Go formatting                                                        */

static void put(dtk_buf *out, const char *s, size_t len)
{
    /* A full buffer only cuts the text; the caller's error stays usable. */
    (void)dtk_buf_put(out, s, len);
}

static void puts_(dtk_buf *out, const char *s)
{
    put(out, s, strlen(s));
}

/* Decodes one UTF-8 sequence like Go's utf8.DecodeRune: returns the rune
 * and its length, or -1 with length 1 for an invalid byte. */
static long decode_rune(const unsigned char *s, size_t len, size_t *size)
{
    unsigned char c = s[0];
    long r;
    size_t n;

    *size = 1;
    if (c < 0x80) {
        return c;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        r = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        r = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        r = c & 0x07;
    } else {
        return -1;
    }
    if (len < n) {
        return -1;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return -1;
        }
        r = (r << 6) | (s[i] & 0x3f);
    }
    /* Overlong forms, surrogates and values past U+10FFFF are invalid. */
    if ((n == 3 && r < 0x800) || (n == 4 && r < 0x10000) || r > 0x10ffff ||
        (r >= 0xd800 && r <= 0xdfff)) {
        return -1;
    }
    *size = n;
    return r;
}

/* An approximation of Go's unicode.IsPrint (letters, marks, numbers,
 * punctuation, symbols and U+0020): without the Unicode tables we treat
 * every code point as printable except controls, the non-ASCII space
 * separators, the common format characters, private use areas and
 * noncharacters. Unassigned code points, which Go escapes, print as-is. */
static int go_is_print(long r)
{
    if (r < 0x20 || (r >= 0x7f && r <= 0xa0) || r == 0xad) {
        return 0;
    }
    if (r < 0x7f) {
        return 1;
    }
    if (r == 0x1680 || (r >= 0x2000 && r <= 0x200f) ||
        (r >= 0x2028 && r <= 0x202f) || (r >= 0x205f && r <= 0x206f) ||
        r == 0x3000 || r == 0xfeff || (r >= 0xfff9 && r <= 0xfffb) ||
        (r >= 0x600 && r <= 0x605) || r == 0x61c || r == 0x6dd || r == 0x70f ||
        r == 0x180e || (r >= 0xe000 && r <= 0xf8ff) ||
        (r >= 0xfdd0 && r <= 0xfdef) || (r & 0xfffe) == 0xfffe ||
        (r >= 0xe0000 && r <= 0xe007f) || r >= 0xf0000) {
        return 0;
    }
    return 1;
}

void dtk_fielderr_fmt_quote(dtk_buf *out, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    char tmp[16];
    size_t i = 0;

    puts_(out, "\"");
    while (i < len) {
        size_t size;
        long r = decode_rune(p + i, len - i, &size);

        if (r < 0) {
            (void)dtk_buf_printf(out, "\\x%02x", p[i]);
        } else if (r == '"' || r == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)r;
            put(out, tmp, 2);
        } else if (go_is_print(r)) {
            put(out, (const char *)p + i, size);
        } else {
            switch (r) {
            case '\a':
                puts_(out, "\\a");
                break;
            case '\b':
                puts_(out, "\\b");
                break;
            case '\f':
                puts_(out, "\\f");
                break;
            case '\n':
                puts_(out, "\\n");
                break;
            case '\r':
                puts_(out, "\\r");
                break;
            case '\t':
                puts_(out, "\\t");
                break;
            case '\v':
                puts_(out, "\\v");
                break;
            default:
                if (r < ' ' || r == 0x7f) {
                    (void)dtk_buf_printf(out, "\\x%02lx", r);
                } else if (r < 0x10000) {
                    (void)dtk_buf_printf(out, "\\u%04lx", r);
                } else {
                    (void)dtk_buf_printf(out, "\\U%08lx", r);
                }
                break;
            }
        }
        i += size;
    }
    puts_(out, "\"");
}

/* Shortest decimal digits that read back as v (v finite, > 0): digits
 * without a point in digs, and the decimal exponent of the first digit. */
static void shortest_digits(double v, char *digs, size_t cap, int *exp10)
{
    /* %.16e of a double needs at most 24 bytes, so tmp never cuts. */
    char tmp[40];
    int p;

    for (p = 1; p <= 17; p++) {
        int n = snprintf(tmp, sizeof(tmp), "%.*e", p - 1, v);

        dtk_assert(n > 0 && (size_t)n < sizeof(tmp));
        if (strtod(tmp, NULL) == v) {
            break;
        }
    }
    {
        size_t n = 0;
        char *e = strchr(tmp, 'e');

        for (char *c = tmp; c < e && n + 1 < cap; c++) {
            if (*c >= '0' && *c <= '9') {
                digs[n++] = *c;
            }
        }
        /* %e may emit trailing zeros at the chosen precision: Go's shortest
         * digits never end in 0. */
        while (n > 1 && digs[n - 1] == '0') {
            n--;
        }
        digs[n] = '\0';
        *exp10 = (int)strtol(e + 1, NULL, 10);
    }
}

/* Shared by %v (exponent form below 1e-4 and from 1e+06 on) and
 * encoding/json (below 1e-6 and from 1e+21 on, "e-7" not "e-07"). */
static void fmt_float_style(dtk_buf *out, double v, int json)
{
    char digs[32];
    int exp10;
    int nd;
    int lo = json ? -6 : -4;
    int hi = json ? 21 : 6;

    if (isnan(v)) {
        puts_(out, "NaN");
        return;
    }
    if (isinf(v)) {
        puts_(out, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (signbit(v)) {
        puts_(out, "-");
        v = -v;
    }
    if (v == 0) {
        puts_(out, "0");
        return;
    }
    shortest_digits(v, digs, sizeof(digs), &exp10);
    nd = (int)strlen(digs);
    if (exp10 < lo || exp10 >= hi) {
        put(out, digs, 1);
        if (nd > 1) {
            puts_(out, ".");
            put(out, digs + 1, (size_t)nd - 1);
        }
        (void)dtk_buf_printf(out, json ? "e%c%d" : "e%c%02d",
                             exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
        return;
    }
    if (exp10 >= 0) {
        int dp = exp10 + 1;

        for (int i = 0; i < dp; i++) {
            put(out, i < nd ? &digs[i] : "0", 1);
        }
        if (nd > dp) {
            puts_(out, ".");
            put(out, digs + dp, (size_t)(nd - dp));
        }
        return;
    }
    puts_(out, "0.");
    for (int i = 0; i < -exp10 - 1; i++) {
        puts_(out, "0");
    }
    put(out, digs, (size_t)nd);
}

void dtk_fielderr_fmt_float(dtk_buf *out, double v)
{
    /* strconv 'g' with the shortest precision switches to %e when the
     * exponent is below -4 or at least 6 (the "precision 6" rule). */
    fmt_float_style(out, v, 0);
}

void dtk_fielderr_fmt_float_json(dtk_buf *out, double v)
{
    fmt_float_style(out, v, 1);
}

int dtk_fielderr_number_int(const dtk_json *v, int64_t *out)
{
    int saved = errno;
    char *end = NULL;
    long long n;
    int ok;

    if (!dtk_json_is_integer(v)) {
        return 0;
    }
    errno = 0;
    n = strtoll(v->u.number, &end, 10);
    ok = errno == 0 && end != NULL && *end == '\0';
    errno = saved;
    if (ok) {
        *out = (int64_t)n;
    }
    return ok;
}

void dtk_fielderr_fmt_number(dtk_buf *out, const dtk_json *v)
{
    int64_t n;

    if (dtk_fielderr_number_int(v, &n)) {
        (void)dtk_buf_printf(out, "%lld", (long long)n);
        return;
    }
    dtk_fielderr_fmt_float(out, dtk_json_double(v));
}

static int cmp_keys(const void *a, const void *b)
{
    const char *const *x = a;
    const char *const *y = b;

    return strcmp(*x, *y);
}

/* Go %#v of a value inside an interface{}: the nested form. Recursion
 * depth equals JSON depth, which parsing bounds. */
static void fmt_gosyntax(dtk_buf *out, const dtk_json *v)
{
    switch (v->type) {
    case DTK_JSON_NULL:
        puts_(out, "interface {}(nil)");
        break;
    case DTK_JSON_BOOL:
        puts_(out, v->u.boolean ? "true" : "false");
        break;
    case DTK_JSON_NUMBER:
        dtk_fielderr_fmt_number(out, v);
        break;
    case DTK_JSON_STRING:
        dtk_fielderr_fmt_quote(out, v->u.string.ptr, v->u.string.len);
        break;
    case DTK_JSON_ARRAY:
        puts_(out, "[]interface {}{");
        for (size_t i = 0; i < v->u.array.len; i++) {
            if (i > 0) {
                puts_(out, ", ");
            }
            fmt_gosyntax(out, v->u.array.items[i]);
        }
        puts_(out, "}");
        break;
    case DTK_JSON_OBJECT: {
        /* Go's fmt prints map keys sorted. */
        size_t n = v->u.object.len;
        const char **keys = dtk_calloc(n ? n : 1, sizeof(*keys));

        for (size_t i = 0; i < n; i++) {
            keys[i] = v->u.object.keys[i];
        }
        qsort(keys, n, sizeof(*keys), cmp_keys);
        puts_(out, "map[string]interface {}{");
        for (size_t i = 0; i < n; i++) {
            if (i > 0) {
                puts_(out, ", ");
            }
            dtk_fielderr_fmt_quote(out, keys[i], strlen(keys[i]));
            puts_(out, ":");
            fmt_gosyntax(out, dtk_json_get(v, keys[i]));
        }
        puts_(out, "}");
        dtk_free(keys);
        break;
    }
    }
}

void dtk_fielderr_fmt_value(dtk_buf *out, const dtk_json *v)
{
    if (v == NULL || v->type == DTK_JSON_NULL) {
        /* Go replaces a nil BadValue by the string "null", then quotes. */
        puts_(out, "\"null\"");
        return;
    }
    switch (v->type) {
    case DTK_JSON_BOOL:
        puts_(out, v->u.boolean ? "true" : "false");
        break;
    case DTK_JSON_NUMBER:
        dtk_fielderr_fmt_number(out, v);
        break;
    case DTK_JSON_STRING:
        dtk_fielderr_fmt_quote(out, v->u.string.ptr, v->u.string.len);
        break;
    default:
        fmt_gosyntax(out, v);
        break;
    }
}

/* ------------------------------------------------------------------ */
/* Constructors                                                         */

static void detail_suffix(dtk_buf *body, const char *detail)
{
    if (detail != NULL && detail[0] != '\0') {
        puts_(body, ": ");
        puts_(body, detail);
    }
}

static void add_valued(dtk_fielderr_list *list,
                       const char *reason,
                       const char *type,
                       const char *field,
                       const dtk_json *value,
                       const char *detail)
{
    dtk_buf body = DTK_BUF_INIT(MESSAGE_LIMIT);

    puts_(&body, type);
    puts_(&body, ": ");
    dtk_fielderr_fmt_value(&body, value);
    detail_suffix(&body, detail);
    add_body(list, reason, field, &body);
}

static void add_valued_string(dtk_fielderr_list *list,
                              const char *reason,
                              const char *type,
                              const char *field,
                              const char *value,
                              const char *detail)
{
    dtk_buf body = DTK_BUF_INIT(MESSAGE_LIMIT);

    puts_(&body, type);
    puts_(&body, ": ");
    dtk_fielderr_fmt_quote(&body, value, strlen(value));
    detail_suffix(&body, detail);
    add_body(list, reason, field, &body);
}

static void add_plain(dtk_fielderr_list *list,
                      const char *reason,
                      const char *type,
                      const char *field,
                      const char *detail)
{
    dtk_buf body = DTK_BUF_INIT(MESSAGE_LIMIT);

    puts_(&body, type);
    detail_suffix(&body, detail);
    add_body(list, reason, field, &body);
}

void dtk_fielderr_invalid(dtk_fielderr_list *list,
                          const char *field,
                          const dtk_json *value,
                          const char *detail)
{
    add_valued(list, "FieldValueInvalid", "Invalid value", field, value,
               detail);
}

void dtk_fielderr_invalid_string(dtk_fielderr_list *list,
                                 const char *field,
                                 const char *value,
                                 const char *detail)
{
    add_valued_string(list, "FieldValueInvalid", "Invalid value", field, value,
                      detail);
}

void dtk_fielderr_type_invalid(dtk_fielderr_list *list,
                               const char *field,
                               const dtk_json *value,
                               const char *detail)
{
    add_valued(list, "FieldValueTypeInvalid", "Invalid value", field, value,
               detail);
}

void dtk_fielderr_type_invalid_string(dtk_fielderr_list *list,
                                      const char *field,
                                      const char *value,
                                      const char *detail)
{
    add_valued_string(list, "FieldValueTypeInvalid", "Invalid value", field,
                      value, detail);
}

void dtk_fielderr_required(dtk_fielderr_list *list,
                           const char *field,
                           const char *detail)
{
    add_plain(list, "FieldValueRequired", "Required value", field, detail);
}

void dtk_fielderr_forbidden(dtk_fielderr_list *list,
                            const char *field,
                            const char *detail)
{
    add_plain(list, "FieldValueForbidden", "Forbidden", field, detail);
}

void dtk_fielderr_duplicate(dtk_fielderr_list *list,
                            const char *field,
                            const dtk_json *value)
{
    add_valued(list, "FieldValueDuplicate", "Duplicate value", field, value,
               NULL);
}

void dtk_fielderr_not_found(dtk_fielderr_list *list,
                            const char *field,
                            const dtk_json *value)
{
    add_valued(list, "FieldValueNotFound", "Not found", field, value, NULL);
}

void dtk_fielderr_not_supported(dtk_fielderr_list *list,
                                const char *field,
                                const dtk_json *value,
                                const char *const *supported,
                                size_t n)
{
    dtk_buf detail = DTK_BUF_INIT(MESSAGE_LIMIT);

    if (n > 0) {
        puts_(&detail, "supported values: ");
        for (size_t i = 0; i < n; i++) {
            if (i > 0) {
                puts_(&detail, ", ");
            }
            dtk_fielderr_fmt_quote(&detail, supported[i], strlen(supported[i]));
        }
    }
    add_valued(list, "FieldValueNotSupported", "Unsupported value", field,
               value, dtk_buf_cstr(&detail));
    dtk_buf_dispose(&detail);
}

void dtk_fielderr_too_long(dtk_fielderr_list *list,
                           const char *field,
                           const dtk_json *value,
                           int64_t max_length)
{
    dtk_buf detail = DTK_BUF_INIT(0);

    (void)value;
    if (max_length >= 0) {
        (void)dtk_buf_printf(&detail, "may not be more than %lld bytes",
                             (long long)max_length);
    } else {
        (void)dtk_buf_puts(&detail, "value is too long");
    }
    add_plain(list, "FieldValueTooLong", "Too long", field,
              dtk_buf_cstr(&detail));
    dtk_buf_dispose(&detail);
}

void dtk_fielderr_too_many(dtk_fielderr_list *list,
                           const char *field,
                           int64_t actual,
                           int64_t max_items)
{
    dtk_buf body = DTK_BUF_INIT(MESSAGE_LIMIT);

    puts_(&body, "Too many");
    if (actual >= 0) {
        (void)dtk_buf_printf(&body, ": %lld", (long long)actual);
    }
    if (max_items >= 0) {
        (void)dtk_buf_printf(&body, ": must have at most %lld items",
                             (long long)max_items);
    } else {
        puts_(&body, ": has too many items");
    }
    add_body(list, "FieldValueTooMany", field, &body);
}

void dtk_fielderr_internal(dtk_fielderr_list *list,
                           const char *field,
                           const char *detail)
{
    add_plain(list, "InternalError", "Internal error", field, detail);
}

/* ------------------------------------------------------------------ */
/* Aggregation                                                          */

static void error_string(dtk_buf *out, const dtk_fielderr *e)
{
    puts_(out, e->field);
    puts_(out, ": ");
    puts_(out, e->message);
}

static int same_error(const dtk_fielderr *a, const dtk_fielderr *b)
{
    return strcmp(a->field, b->field) == 0 &&
           strcmp(a->message, b->message) == 0;
}

char *dtk_fielderr_list_string(const dtk_fielderr_list *list)
{
    dtk_buf out = DTK_BUF_INIT(MESSAGE_LIMIT);
    size_t distinct = 0;

    /* ToAggregate drops repeated messages, keeping the first; the aggregate
     * is bracketed only when more than one distinct message remains. The
     * quadratic scan is fine: lists are short, and only long ones cost. */
    for (size_t i = 0; i < list->len; i++) {
        int seen = 0;

        for (size_t j = 0; j < i && !seen; j++) {
            seen = same_error(&list->items[i], &list->items[j]);
        }
        if (seen) {
            continue;
        }
        if (distinct > 0) {
            puts_(&out, ", ");
        }
        error_string(&out, &list->items[i]);
        distinct++;
    }
    if (distinct > 1) {
        dtk_buf wrapped = DTK_BUF_INIT(MESSAGE_LIMIT);

        puts_(&wrapped, "[");
        put(&wrapped, dtk_buf_cstr(&out), out.len);
        puts_(&wrapped, "]");
        dtk_buf_dispose(&out);
        return dtk_buf_detach(&wrapped);
    }
    return dtk_buf_detach(&out);
}

dtk_json *dtk_fielderr_status(const dtk_fielderr_list *list,
                              const char *kind,
                              const char *group,
                              const char *name)
{
    dtk_buf message = DTK_BUF_INIT(MESSAGE_LIMIT);
    dtk_json *status = dtk_json_new_object();
    dtk_json *details = dtk_json_new_object();
    dtk_json *causes = dtk_json_new_array();
    char *aggregate = dtk_fielderr_list_string(list);

    if (group == NULL) {
        group = "";
    }
    if (name == NULL) {
        name = "";
    }
    /* schema.GroupKind.String(): "Kind" or "Kind.group". */
    puts_(&message, kind);
    if (group[0] != '\0') {
        puts_(&message, ".");
        puts_(&message, group);
    }
    puts_(&message, " ");
    dtk_fielderr_fmt_quote(&message, name, strlen(name));
    puts_(&message, " is invalid");
    if (list->len > 0) {
        puts_(&message, ": ");
        puts_(&message, aggregate);
    }

    for (size_t i = 0; i < list->len; i++) {
        const dtk_fielderr *e = &list->items[i];
        dtk_json *cause = dtk_json_new_object();

        /* StatusCause fields are omitempty. */
        if (e->reason[0] != '\0') {
            dtk_json_set(cause, "reason", dtk_json_new_string(e->reason));
        }
        if (e->message[0] != '\0') {
            dtk_json_set(cause, "message", dtk_json_new_string(e->message));
        }
        if (e->field[0] != '\0') {
            dtk_json_set(cause, "field", dtk_json_new_string(e->field));
        }
        dtk_json_append(causes, cause);
    }
    if (name[0] != '\0') {
        dtk_json_set(details, "name", dtk_json_new_string(name));
    }
    if (group[0] != '\0') {
        dtk_json_set(details, "group", dtk_json_new_string(group));
    }
    dtk_json_set(details, "kind", dtk_json_new_string(kind));
    if (list->len > 0) {
        dtk_json_set(details, "causes", causes);
    } else {
        dtk_json_free(causes);
    }

    dtk_json_set(status, "kind", dtk_json_new_string("Status"));
    dtk_json_set(status, "apiVersion", dtk_json_new_string("v1"));
    dtk_json_set(status, "metadata", dtk_json_new_object());
    dtk_json_set(status, "status", dtk_json_new_string("Failure"));
    dtk_json_set(status, "message",
                 dtk_json_new_stringn(dtk_buf_cstr(&message), message.len));
    dtk_json_set(status, "reason", dtk_json_new_string("Invalid"));
    dtk_json_set(status, "details", details);
    dtk_json_set(status, "code", dtk_json_new_int(422));

    dtk_free(aggregate);
    dtk_buf_dispose(&message);
    return status;
}

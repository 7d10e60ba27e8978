/* Label and field selectors of list, watch and deletecollection requests,
 * with the syntax and matching rules of k8s.io/apimachinery/pkg/labels and
 * pkg/fields:
 *   labels: k=v, k==v, k!=v, k in (a,b), k notin (a,b), k, !k, k>1, k<1,
 *           comma-separated (AND); != and notin match objects without k.
 *   fields: f=v, f==v, f!=v, comma-separated; "\" escapes ",", "=", "\";
 *           metadata.name and metadata.namespace for every kind, plus the
 *           fields a kind declares (CRD selectableFields, a few built-ins).
 * A bad selector is a 400 BadRequest naming the problem.
 */
#include "cmd/dtk-apiserver/apiserver.h"

#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/error.h"

typedef enum op {
    OP_EQ,
    OP_NE,
    OP_IN,
    OP_NOTIN,
    OP_EXISTS,
    OP_NOT_EXISTS,
    OP_GT,
    OP_LT,
} op;

typedef struct requirement {
    char *key;
    op op;
    char **values;
    size_t value_count;
} requirement;

typedef struct field_term {
    char *path; /* dotted field path */
    char *value;
    int negate;
} field_term;

struct dtk_filter {
    requirement *labels;
    size_t label_count;
    field_term *fields;
    size_t field_count;
};

void dtk_filter_free(dtk_filter *f)
{
    if (f == NULL) {
        return;
    }
    for (size_t i = 0; i < f->label_count; i++) {
        dtk_free(f->labels[i].key);
        for (size_t k = 0; k < f->labels[i].value_count; k++) {
            dtk_free(f->labels[i].values[k]);
        }
        dtk_free(f->labels[i].values);
    }
    dtk_free(f->labels);
    for (size_t i = 0; i < f->field_count; i++) {
        dtk_free(f->fields[i].path);
        dtk_free(f->fields[i].value);
    }
    dtk_free(f->fields);
    dtk_free(f);
}

/* ---- label selector lexer ------------------------------------------------ */

typedef enum token_kind {
    TOK_END,
    TOK_IDENT,
    TOK_COMMA,
    TOK_EQ,     /* = */
    TOK_DEQ,    /* == */
    TOK_NE,     /* != */
    TOK_BANG,   /* ! */
    TOK_LPAREN,
    TOK_RPAREN,
    TOK_GT,
    TOK_LT,
    TOK_IN,
    TOK_NOTIN,
} token_kind;

typedef struct lexer {
    const char *p;
    token_kind kind;
    char text[320];
} lexer;

static int is_special(char c)
{
    return c == ',' || c == '=' || c == '!' || c == '(' || c == ')' ||
           c == '<' || c == '>' || c == ' ' || c == '\t' || c == '\n' ||
           c == '\r';
}

static void next(lexer *lx)
{
    size_t n = 0;

    while (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\n' ||
           *lx->p == '\r') {
        lx->p++;
    }
    lx->text[0] = '\0';
    switch (*lx->p) {
    case '\0':
        lx->kind = TOK_END;
        return;
    case ',':
        lx->kind = TOK_COMMA;
        lx->p++;
        return;
    case '(':
        lx->kind = TOK_LPAREN;
        lx->p++;
        return;
    case ')':
        lx->kind = TOK_RPAREN;
        lx->p++;
        return;
    case '>':
        lx->kind = TOK_GT;
        lx->p++;
        return;
    case '<':
        lx->kind = TOK_LT;
        lx->p++;
        return;
    case '=':
        lx->p++;
        lx->kind = TOK_EQ;
        if (*lx->p == '=') {
            lx->p++;
            lx->kind = TOK_DEQ;
        }
        return;
    case '!':
        lx->p++;
        lx->kind = TOK_BANG;
        if (*lx->p == '=') {
            lx->p++;
            lx->kind = TOK_NE;
        }
        return;
    default:
        break;
    }
    while (*lx->p && !is_special(*lx->p)) {
        if (n < sizeof(lx->text) - 1) {
            lx->text[n++] = *lx->p;
        }
        lx->p++;
    }
    lx->text[n] = '\0';
    lx->kind = strcmp(lx->text, "in") == 0      ? TOK_IN
               : strcmp(lx->text, "notin") == 0 ? TOK_NOTIN
                                                : TOK_IDENT;
}

/* ---- validation of keys and values (apimachinery validation) ------------- */

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

static int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
}

static int valid_name_part(const char *s, size_t n)
{
    if (n == 0 || n > 63 || !is_alnum(s[0]) || !is_alnum(s[n - 1])) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!is_name_char(s[i])) {
            return 0;
        }
    }
    return 1;
}

static const char value_msg[] =
    "a valid label must be an empty string or consist of alphanumeric "
    "characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
    "regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?"
    "[A-Za-z0-9])?')";
static const char name_msg[] =
    "name part must consist of alphanumeric characters, '-', '_' or '.', and "
    "must start and end with an alphanumeric character (e.g. 'MyName',  or "
    "'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

static int check_key(const char *key)
{
    const char *slash = strchr(key, '/');
    const char *name = slash ? slash + 1 : key;

    if (slash != NULL) {
        char prefix[254];
        size_t pn = (size_t)(slash - key);

        if (pn == 0 || pn > 253) {
            goto bad_prefix;
        }
        memcpy(prefix, key, pn);
        prefix[pn] = '\0';
        if (!dtk_meta_is_dns_subdomain(prefix)) {
            goto bad_prefix;
        }
    }
    if (!valid_name_part(name, strlen(name))) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "unable to parse requirement: key: Invalid value: "
                      "\"%s\": %s",
                      key, name_msg);
        return DTK_EINVALID;
    }
    return 0;
bad_prefix:
    dtk_error_set(DTK_ERRCLASS_INVALID,
                  "unable to parse requirement: key: Invalid value: \"%s\": "
                  "prefix part a lowercase RFC 1123 subdomain must consist "
                  "of lower case alphanumeric characters, '-' or '.', and "
                  "must start and end with an alphanumeric character",
                  key);
    return DTK_EINVALID;
}

static int check_value(const char *key, size_t index, const char *value)
{
    size_t n = strlen(value);

    if (n == 0 || valid_name_part(value, n)) {
        return 0;
    }
    dtk_error_set(DTK_ERRCLASS_INVALID,
                  "unable to parse requirement: values[%zu][%s]: Invalid "
                  "value: \"%s\": %s",
                  index, key, value, value_msg);
    return DTK_EINVALID;
}

static void add_value(requirement *r, const char *v)
{
    r->values = dtk_realloc(r->values, (r->value_count + 1) * sizeof(char *));
    r->values[r->value_count++] = dtk_strdup(v);
}

static int unexpected(lexer *lx, const char *expected)
{
    dtk_error_set(DTK_ERRCLASS_INVALID, "found '%s', expected: %s",
                  lx->kind == TOK_END ? "" : (lx->text[0] ? lx->text : "?"),
                  expected);
    return DTK_EINVALID;
}

static int parse_requirement(lexer *lx, requirement *r)
{
    int error;

    if (lx->kind == TOK_BANG) {
        next(lx);
        if (lx->kind != TOK_IDENT) {
            return unexpected(lx, "identifier after '!'");
        }
        r->key = dtk_strdup(lx->text);
        r->op = OP_NOT_EXISTS;
        next(lx);
        return check_key(r->key);
    }
    if (lx->kind != TOK_IDENT) {
        return unexpected(lx, "identifier");
    }
    r->key = dtk_strdup(lx->text);
    error = check_key(r->key);
    if (error < 0) {
        return error;
    }
    next(lx);
    switch (lx->kind) {
    case TOK_END:
    case TOK_COMMA:
        r->op = OP_EXISTS;
        return 0;
    case TOK_EQ:
    case TOK_DEQ:
    case TOK_NE:
    case TOK_GT:
    case TOK_LT:
        r->op = lx->kind == TOK_NE   ? OP_NE
                : lx->kind == TOK_GT ? OP_GT
                : lx->kind == TOK_LT ? OP_LT
                                     : OP_EQ;
        next(lx);
        if (lx->kind == TOK_IDENT || lx->kind == TOK_IN ||
            lx->kind == TOK_NOTIN) {
            add_value(r, lx->text);
            next(lx);
        } else if (lx->kind == TOK_END || lx->kind == TOK_COMMA) {
            add_value(r, "");
        } else {
            return unexpected(lx, "identifier");
        }
        if ((r->op == OP_GT || r->op == OP_LT)) {
            char *end = NULL;

            strtoll(r->values[0], &end, 10);
            if (r->values[0][0] == '\0' || *end != '\0') {
                dtk_error_set(DTK_ERRCLASS_INVALID,
                              "unable to parse requirement: for 'Gt', 'Lt' "
                              "operators, the value must be an integer");
                return DTK_EINVALID;
            }
            return 0;
        }
        return check_value(r->key, 0, r->values[0]);
    case TOK_IN:
    case TOK_NOTIN:
        r->op = lx->kind == TOK_IN ? OP_IN : OP_NOTIN;
        next(lx);
        if (lx->kind != TOK_LPAREN) {
            return unexpected(lx, "'('");
        }
        next(lx);
        for (;;) {
            if (lx->kind == TOK_IDENT) {
                add_value(r, lx->text);
                next(lx);
            } else {
                add_value(r, "");
            }
            error = check_value(r->key, r->value_count - 1,
                                r->values[r->value_count - 1]);
            if (error < 0) {
                return error;
            }
            if (lx->kind == TOK_RPAREN) {
                next(lx);
                return 0;
            }
            if (lx->kind != TOK_COMMA) {
                return unexpected(lx, "',' or ')'");
            }
            next(lx);
        }
    default:
        return unexpected(lx, "'=', '!=', '==', 'in', notin'");
    }
}

static int parse_labels(dtk_filter *f, const char *text)
{
    lexer lx;
    int error;

    lx.p = text;
    next(&lx);
    while (lx.kind != TOK_END) {
        requirement *r;

        f->labels = dtk_realloc(f->labels,
                                (f->label_count + 1) * sizeof(requirement));
        r = &f->labels[f->label_count++];
        memset(r, 0, sizeof(*r));
        error = parse_requirement(&lx, r);
        if (error < 0) {
            return error;
        }
        if (lx.kind == TOK_COMMA) {
            next(&lx);
            if (lx.kind == TOK_END) {
                return unexpected(&lx, "identifier after ','");
            }
        } else if (lx.kind != TOK_END) {
            return unexpected(&lx, "','");
        }
    }
    return 0;
}

/* ---- field selectors ------------------------------------------------------ */

/* The fields a kind can be selected by besides metadata.name/namespace. */
static int field_allowed(const dtk_restype *t, const char *field)
{
    static const char *const secret_fields[] = {"type", NULL};
    static const char *const namespace_fields[] = {"status.phase", NULL};
    static const char *const event_fields[] = {
        "involvedObject.kind",      "involvedObject.namespace",
        "involvedObject.name",      "involvedObject.uid",
        "involvedObject.apiVersion", "involvedObject.resourceVersion",
        "involvedObject.fieldPath", "reason",
        "reportingComponent",       "source",
        "type",                     NULL};
    const char *const *extra = NULL;

    if (strcmp(field, "metadata.name") == 0 ||
        strcmp(field, "metadata.namespace") == 0) {
        return 1;
    }
    if (t->custom) {
        for (size_t i = 0; i < dtk_json_len(t->selectable_fields); i++) {
            const char *jp = dtk_json_get_string(
                dtk_json_at(t->selectable_fields, i), "jsonPath");

            if (jp != NULL && jp[0] == '.' && strcmp(jp + 1, field) == 0) {
                return 1;
            }
        }
        return 0;
    }
    if (*t->group == '\0' && strcmp(t->resource, "secrets") == 0) {
        extra = secret_fields;
    } else if (*t->group == '\0' && strcmp(t->resource, "namespaces") == 0) {
        extra = namespace_fields;
    } else if (*t->group == '\0' && strcmp(t->resource, "events") == 0) {
        extra = event_fields;
    }
    for (; extra != NULL && *extra != NULL; extra++) {
        if (strcmp(*extra, field) == 0) {
            return 1;
        }
    }
    return 0;
}

static int parse_fields(dtk_filter *f, const dtk_restype *t, const char *text)
{
    const char *p = text;

    while (*p) {
        dtk_buf lhs = DTK_BUF_INIT(4096);
        dtk_buf rhs = DTK_BUF_INIT(4096);
        dtk_buf *cur = &lhs;
        int negate = 0, have_op = 0;
        field_term *term;

        while (*p && *p != ',') {
            if (*p == '\\' && p[1] != '\0') {
                dtk_buf_putc(cur, p[1]);
                p += 2;
                continue;
            }
            if (!have_op && (*p == '=' || (*p == '!' && p[1] == '='))) {
                negate = *p == '!';
                p += (negate || p[1] == '=') ? 2 : 1;
                have_op = 1;
                cur = &rhs;
                continue;
            }
            dtk_buf_putc(cur, *p++);
        }
        if (*p == ',') {
            p++;
        }
        if (!have_op) {
            dtk_error_set(DTK_ERRCLASS_INVALID,
                          "invalid selector: '%s'; can't understand '%s'",
                          text, dtk_buf_cstr(&lhs));
            dtk_buf_dispose(&lhs);
            dtk_buf_dispose(&rhs);
            return DTK_EINVALID;
        }
        if (!field_allowed(t, dtk_buf_cstr(&lhs))) {
            dtk_error_set(DTK_ERRCLASS_INVALID,
                          "\"%s\" is not a known field selector: only "
                          "\"metadata.name\", \"metadata.namespace\"",
                          dtk_buf_cstr(&lhs));
            dtk_buf_dispose(&lhs);
            dtk_buf_dispose(&rhs);
            return DTK_EINVALID;
        }
        f->fields = dtk_realloc(f->fields,
                                (f->field_count + 1) * sizeof(field_term));
        term = &f->fields[f->field_count++];
        term->path = dtk_buf_detach(&lhs);
        term->value = dtk_buf_detach(&rhs);
        term->negate = negate;
    }
    return 0;
}

int dtk_filter_parse(dtk_filter **out, dtk_json **status_out,
                     const dtk_restype *t, const char *label_selector,
                     const char *field_selector)
{
    dtk_filter *f;
    int error = 0;

    *out = NULL;
    if ((label_selector == NULL || *label_selector == '\0') &&
        (field_selector == NULL || *field_selector == '\0')) {
        return 0;
    }
    f = dtk_calloc(1, sizeof(*f));
    if (label_selector != NULL) {
        error = parse_labels(f, label_selector);
    }
    if (error == 0 && field_selector != NULL) {
        error = parse_fields(f, t, field_selector);
    }
    if (error < 0) {
        *status_out = dtk_status_new(400, "BadRequest",
                                     dtk_error_last()->message);
        dtk_filter_free(f);
        return error;
    }
    *out = f;
    return 0;
}

static int label_matches(const requirement *r, const dtk_json *labels)
{
    const char *v = dtk_json_get_string(labels, r->key);
    int in = 0;

    switch (r->op) {
    case OP_EXISTS:
        return v != NULL;
    case OP_NOT_EXISTS:
        return v == NULL;
    case OP_EQ:
        return v != NULL && strcmp(v, r->values[0]) == 0;
    case OP_NE:
        return v == NULL || strcmp(v, r->values[0]) != 0;
    case OP_IN:
    case OP_NOTIN:
        for (size_t i = 0; v != NULL && i < r->value_count; i++) {
            in |= strcmp(v, r->values[i]) == 0;
        }
        return r->op == OP_IN ? (v != NULL && in) : (v == NULL || !in);
    case OP_GT:
    case OP_LT: {
        char *end = NULL;
        long long have, want = strtoll(r->values[0], NULL, 10);

        if (v == NULL) {
            return 0;
        }
        have = strtoll(v, &end, 10);
        if (*v == '\0' || *end != '\0') {
            return 0;
        }
        return r->op == OP_GT ? have > want : have < want;
    }
    }
    return 0;
}

/* The field's value as text ("" when absent), as Kubernetes' field sets
 * present it. */
static void field_value(dtk_buf *out, const dtk_json *obj, const char *path)
{
    const dtk_json *cur = obj;
    const char *p = path;

    while (cur != NULL && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        char seg[256];

        if (n >= sizeof(seg)) {
            return;
        }
        memcpy(seg, p, n);
        seg[n] = '\0';
        cur = dtk_json_get(cur, seg);
        p += n + (dot ? 1 : 0);
    }
    if (cur == NULL || cur->type == DTK_JSON_NULL) {
        return;
    }
    if (cur->type == DTK_JSON_STRING) {
        dtk_buf_put(out, cur->u.string.ptr, cur->u.string.len);
    } else if (cur->type == DTK_JSON_NUMBER) {
        dtk_buf_puts(out, cur->u.number);
    } else if (cur->type == DTK_JSON_BOOL) {
        dtk_buf_puts(out, cur->u.boolean ? "true" : "false");
    }
}

int dtk_filter_match(const dtk_filter *f, const dtk_json *obj)
{
    const dtk_json *labels;

    if (f == NULL) {
        return 1;
    }
    labels = dtk_json_get(dtk_json_get(obj, "metadata"), "labels");
    for (size_t i = 0; i < f->label_count; i++) {
        if (!label_matches(&f->labels[i], labels)) {
            return 0;
        }
    }
    for (size_t i = 0; i < f->field_count; i++) {
        dtk_buf v = DTK_BUF_INIT(0);
        int eq;

        field_value(&v, obj, f->fields[i].path);
        eq = strcmp(dtk_buf_cstr(&v), f->fields[i].value) == 0;
        dtk_buf_dispose(&v);
        if (eq == f->fields[i].negate) {
            return 0;
        }
    }
    return 1;
}

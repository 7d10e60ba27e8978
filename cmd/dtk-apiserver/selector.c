/* Label and field selectors (see selector.h).
 *
 * The label selector parser is a transcription of apimachinery's: a lexer
 * that turns the whole string into tokens first, then a recursive-descent
 * parser with one token of lookahead in which "in" and "notin" are plain
 * identifiers wherever a value is expected. Requirements are validated as
 * NewRequirement does (qualified-name keys, label values, integers for '>'
 * and '<') and every message reproduces Kubernetes' text, including the
 * "<nil>" its nil field path prints for bad keys and the bracketed list it
 * prints for several errors. Values of "in"/"notin" are kept as a sorted
 * set, as the Go code does.
 *
 * Field selectors follow pkg/fields: terms split on unescaped commas and
 * sorted, each split at its first "!=", "==" or "=", values unescaped, and
 * field names checked against the allowed set only after all terms parsed.
 *
 * Not done: the selectors' canonical String() form, which the server never
 * needs to send.
 */
#include "cmd/dtk-apiserver/selector.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/error.h"

/* ---- Go-compatible text helpers --------------------------------------- */

/* Appends s quoted like Go's %q. */
static void go_quote(dtk_buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    dtk_buf_putc(b, '"');
    while (*p != '\0') {
        unsigned char c = *p;
        size_t n = 0;

        if (c == '"' || c == '\\') {
            dtk_buf_putc(b, '\\');
            dtk_buf_putc(b, (char)c);
            p++;
            continue;
        }
        if (c == '\n' || c == '\r' || c == '\t') {
            dtk_buf_puts(b, c == '\n' ? "\\n" : c == '\r' ? "\\r" : "\\t");
            p++;
            continue;
        }
        if (c >= 0x20 && c < 0x7f) {
            dtk_buf_putc(b, (char)c);
            p++;
            continue;
        }
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

/* Go's strconv.ParseInt(s, 10, 64). */
static int parse_int64(long long *out, const char *s)
{
    char *end = NULL;
    long long v;

    if (*s == '\0' || !(*s == '+' || *s == '-' || (*s >= '0' && *s <= '9'))) {
        return -1;
    }
    if ((*s == '+' || *s == '-') && !(s[1] >= '0' && s[1] <= '9')) {
        return -1;
    }
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == NULL || *end != '\0') {
        return -1;
    }
    *out = v;
    return 0;
}

/* Returns arr with room for one more element past len (the capacity
 * doubles, so building a long list stays linear). */
static void *grow(void *arr, size_t *cap, size_t len, size_t elem)
{
    if (len < *cap) {
        return arr;
    }
    *cap = *cap ? *cap * 2 : 8;
    return dtk_realloc(arr, *cap * elem);
}

/* ---- Kubernetes name validation (pkg/util/validation) ------------------ */

#define QNAME_FMT "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
#define QNAME_MSG                                                         \
    "must consist of alphanumeric characters, '-', '_' or '.', and must " \
    "start and end with an alphanumeric character"
#define QNAME_REGEX_ERR                                                    \
    QNAME_MSG " (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used " \
              "for validation is '" QNAME_FMT "')"
#define DNS1123_SUBDOMAIN_REGEX_ERR                                           \
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric " \
    "characters, '-' or '.', and must start and end with an alphanumeric "    \
    "character (e.g. 'example.com', regex used for validation is "            \
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
#define LABEL_VALUE_REGEX_ERR                                               \
    "a valid label must be an empty string or consist of alphanumeric "     \
    "characters, '-', '_' or '.', and must start and end with an "          \
    "alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', " \
    "regex used for validation is '(" QNAME_FMT ")?')"

static int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] over s[0..len). */
static int qualified_name_ok(const char *s, size_t len)
{
    if (len == 0 || !is_alnum(s[0]) || !is_alnum(s[len - 1])) {
        return 0;
    }
    for (size_t i = 1; i + 1 < len; i++) {
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.') {
            return 0;
        }
    }
    return 1;
}

static int is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* [a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)* */
static int dns1123_subdomain_ok(const char *s, size_t len)
{
    size_t start = 0;

    if (len == 0) {
        return 0;
    }
    while (start <= len) {
        size_t end = start;

        while (end < len && s[end] != '.') {
            end++;
        }
        if (end == start || !is_lower_alnum(s[start]) ||
            !is_lower_alnum(s[end - 1])) {
            return 0;
        }
        for (size_t i = start; i < end; i++) {
            if (!is_lower_alnum(s[i]) && s[i] != '-') {
                return 0;
            }
        }
        start = end + 1;
    }
    return 1;
}

static void join_err(dtk_buf *errs, const char *msg)
{
    if (errs->len > 0) {
        dtk_buf_puts(errs, "; ");
    }
    dtk_buf_puts(errs, msg);
}

/* validation.IsQualifiedName; appends the "; "-joined errors to errs. */
static void check_qualified_name(dtk_buf *errs, const char *value)
{
    const char *slash = strchr(value, '/');
    const char *name = value;
    size_t name_len;

    if (slash != NULL && strchr(slash + 1, '/') != NULL) {
        join_err(errs, "a qualified name " QNAME_REGEX_ERR
                       " with an optional DNS subdomain prefix and '/' (e.g. "
                       "'example.com/MyName')");
        return;
    }
    if (slash != NULL) {
        size_t prefix_len = (size_t)(slash - value);

        if (prefix_len == 0) {
            join_err(errs, "prefix part must be non-empty");
        } else {
            if (prefix_len > 253) {
                join_err(errs,
                         "prefix part must be no more than 253 characters");
            }
            if (!dns1123_subdomain_ok(value, prefix_len)) {
                join_err(errs, "prefix part " DNS1123_SUBDOMAIN_REGEX_ERR);
            }
        }
        name = slash + 1;
    }
    name_len = strlen(name);
    if (name_len == 0) {
        join_err(errs, "name part must be non-empty");
    } else if (name_len > 63) {
        join_err(errs, "name part must be no more than 63 characters");
    }
    if (!qualified_name_ok(name, name_len)) {
        join_err(errs, "name part " QNAME_REGEX_ERR);
    }
}

/* validation.IsValidLabelValue. */
static void check_label_value(dtk_buf *errs, const char *value)
{
    size_t len = strlen(value);

    if (len > 63) {
        join_err(errs, "must be no more than 63 characters");
    }
    if (len > 0 && !qualified_name_ok(value, len)) {
        join_err(errs, LABEL_VALUE_REGEX_ERR);
    }
}

/* ---- label selector lexer --------------------------------------------- */

typedef enum tok {
    T_ERROR = 0,
    T_EOS,
    T_CLOSEPAR,
    T_COMMA,
    T_NOT,
    T_DEQ,
    T_EQ,
    T_GT,
    T_IDENT,
    T_IN,
    T_LT,
    T_NEQ,
    T_NOTIN,
    T_OPENPAR,
} tok;

typedef struct token {
    tok t;
    char *lit;
} token;

typedef struct lexer {
    const char *s;
    size_t pos;
    token *items;
    size_t n, cap;
} lexer;

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int is_special(char c)
{
    return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' ||
           c == '>' || c == '<';
}

static tok literal_token(const char *s, size_t len)
{
    static const struct {
        const char *text;
        tok t;
    } table[] = {
        {")", T_CLOSEPAR}, {",", T_COMMA},     {"!", T_NOT},     {"==", T_DEQ},
        {"=", T_EQ},       {">", T_GT},        {"in", T_IN},     {"<", T_LT},
        {"!=", T_NEQ},     {"notin", T_NOTIN}, {"(", T_OPENPAR},
    };

    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (strlen(table[i].text) == len &&
            memcmp(table[i].text, s, len) == 0) {
            return table[i].t;
        }
    }
    return T_ERROR;
}

static void lex_push(lexer *l, tok t, const char *lit, size_t len)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->items = dtk_realloc(l->items, l->cap * sizeof(*l->items));
    }
    l->items[l->n].t = t;
    l->items[l->n].lit = dtk_strndup(lit, len);
    l->n++;
}

/* Go's Lexer.Lex over the whole string (Parser.scan). */
static void lex_all(lexer *l)
{
    for (;;) {
        const char *s = l->s;
        size_t start;

        while (s[l->pos] != '\0' && is_blank(s[l->pos])) {
            l->pos++;
        }
        start = l->pos;
        if (s[start] == '\0') {
            lex_push(l, T_EOS, "", 0);
            return;
        }
        if (is_special(s[start])) {
            /* The longest run of special characters that is a token. */
            tok last = T_ERROR;
            size_t last_len = 0, len = 0;

            while (is_special(s[start + len])) {
                tok t = literal_token(s + start, len + 1);

                if (t != T_ERROR) {
                    last = t;
                    last_len = len + 1;
                } else if (last != T_ERROR) {
                    break;
                }
                len++;
            }
            if (last == T_ERROR) {
                dtk_buf msg = DTK_BUF_INIT(0);

                dtk_buf_puts(&msg, "error expected: keyword found '");
                dtk_buf_put(&msg, s + start, len);
                dtk_buf_putc(&msg, '\'');
                lex_push(l, T_ERROR, dtk_buf_cstr(&msg), msg.len);
                dtk_buf_dispose(&msg);
                l->pos = start + len;
            } else {
                lex_push(l, last, s + start, last_len);
                l->pos = start + last_len;
            }
            continue;
        }
        while (s[l->pos] != '\0' && !is_special(s[l->pos]) &&
               !is_blank(s[l->pos])) {
            l->pos++;
        }
        {
            tok t = literal_token(s + start, l->pos - start);

            /* Only "in" and "notin" are word tokens. */
            if (t != T_IN && t != T_NOTIN) {
                t = T_IDENT;
            }
            lex_push(l, t, s + start, l->pos - start);
        }
    }
}

/* ---- label selector parser -------------------------------------------- */

typedef enum op {
    OP_IN,
    OP_NOTIN,
    OP_EQ,
    OP_DEQ,
    OP_NEQ,
    OP_EXISTS,
    OP_NOTEXISTS,
    OP_GT,
    OP_LT,
} op;

typedef struct requirement {
    char *key;
    op op;
    char **values; /* sorted, unique */
    size_t nvalues, cap;
} requirement;

struct dtk_labelsel {
    requirement *reqs;
    size_t n, cap;
};

typedef struct parser {
    lexer lx;
    size_t pos;
    dtk_buf err; /* the error text once one occurred */
} parser;

/* The token at the cursor; in value context "in"/"notin" are identifiers. */
static token peek(const parser *p, int values)
{
    token t = p->lx.items[p->pos];

    if (values && (t.t == T_IN || t.t == T_NOTIN)) {
        t.t = T_IDENT;
    }
    return t;
}

static token next(parser *p, int values)
{
    token t = peek(p, values);

    /* The final T_EOS is never consumed past. */
    if (p->pos + 1 < p->lx.n) {
        p->pos++;
    }
    return t;
}

static void requirement_dispose(requirement *r)
{
    dtk_free(r->key);
    for (size_t i = 0; i < r->nvalues; i++) {
        dtk_free(r->values[i]);
    }
    dtk_free(r->values);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Adds v to r->values; values_done() makes them a sorted set afterwards
 * (sets.String semantics), once, so long value lists stay cheap. */
static void add_value(requirement *r, const char *v)
{
    r->values = grow(r->values, &r->cap, r->nvalues, sizeof(char *));
    r->values[r->nvalues++] = dtk_strdup(v);
}

static void values_done(requirement *r)
{
    size_t n = 0;

    if (r->nvalues < 2) {
        return;
    }
    qsort(r->values, r->nvalues, sizeof(char *), str_cmp);
    for (size_t i = 0; i < r->nvalues; i++) {
        if (n > 0 && strcmp(r->values[n - 1], r->values[i]) == 0) {
            dtk_free(r->values[i]);
        } else {
            r->values[n++] = r->values[i];
        }
    }
    r->nvalues = n;
}

/* Sets the parser's error to "found '<lit><rest>", the form of all the
 * grammar errors. */
static int perr(parser *p, const char *lit, const char *rest)
{
    dtk_buf_reset(&p->err);
    dtk_buf_printf(&p->err, "found '%s%s", lit, rest);
    return -1;
}

/* The "Invalid value" error of a key: the parser validates keys with a nil
 * field path, which Go prints as "<nil>". */
static int check_key(parser *p, const char *key)
{
    dtk_buf errs = DTK_BUF_INIT(0);

    check_qualified_name(&errs, key);
    if (errs.len > 0) {
        dtk_buf_reset(&p->err);
        dtk_buf_puts(&p->err, "<nil>: Invalid value: ");
        go_quote(&p->err, key);
        dtk_buf_printf(&p->err, ": %s", dtk_buf_cstr(&errs));
        dtk_buf_dispose(&errs);
        return -1;
    }
    dtk_buf_dispose(&errs);
    return 0;
}

/* Appends one field error to the aggregate, skipping duplicates. Values
 * are a set, so only messages of the same value can repeat. Text beyond
 * the error message bound would be cut anyway, so it is not built. */
static void agg_add(dtk_buf *agg, size_t *count, const char *msg)
{
    if (*count > 0 && strstr(dtk_buf_cstr(agg), msg) != NULL) {
        return;
    }
    if (agg->len > DTK_ERROR_MESSAGE_MAX) {
        (*count)++; /* not shown, but it makes the list bracketed */
        return;
    }
    if (*count > 0) {
        dtk_buf_puts(agg, ", ");
    }
    dtk_buf_puts(agg, msg);
    (*count)++;
}

/* NewRequirement's checks on the values; errors aggregate like Go's
 * utilerrors.NewAggregate ("[e1, e2]" for several). */
static int check_values(parser *p, const requirement *r)
{
    dtk_buf agg = DTK_BUF_INIT(0);
    dtk_buf one = DTK_BUF_INIT(0);
    dtk_buf errs = DTK_BUF_INIT(0);
    size_t count = 0;
    long long ignored;

    if (r->op == OP_GT || r->op == OP_LT) {
        for (size_t i = 0; i < r->nvalues; i++) {
            if (parse_int64(&ignored, r->values[i]) < 0) {
                dtk_buf_reset(&one);
                dtk_buf_printf(&one, "values[%zu]: Invalid value: ", i);
                go_quote(&one, r->values[i]);
                dtk_buf_puts(&one, ": for 'Gt', 'Lt' operators, the value "
                                   "must be an integer");
                agg_add(&agg, &count, dtk_buf_cstr(&one));
            }
        }
    }
    for (size_t i = 0; i < r->nvalues; i++) {
        dtk_buf_reset(&errs);
        check_label_value(&errs, r->values[i]);
        if (errs.len > 0) {
            dtk_buf_reset(&one);
            dtk_buf_printf(&one, "values[%zu][%s]: Invalid value: ", i, r->key);
            go_quote(&one, r->values[i]);
            dtk_buf_printf(&one, ": %s", dtk_buf_cstr(&errs));
            agg_add(&agg, &count, dtk_buf_cstr(&one));
        }
    }
    if (count > 0) {
        dtk_buf_reset(&p->err);
        dtk_buf_printf(&p->err, count > 1 ? "[%s]" : "%s", dtk_buf_cstr(&agg));
    }
    dtk_buf_dispose(&agg);
    dtk_buf_dispose(&one);
    dtk_buf_dispose(&errs);
    return count > 0 ? -1 : 0;
}

/* parseValues: "(" [values] ")" for in/notin. */
static int parse_set(parser *p, requirement *r)
{
    token t = next(p, 1);

    if (t.t != T_OPENPAR) {
        return perr(p, t.lit, "' expected: '('");
    }
    t = peek(p, 1);
    if (t.t == T_CLOSEPAR) {
        next(p, 1);
        add_value(r, "");
        return 0;
    }
    if (t.t != T_IDENT && t.t != T_COMMA) {
        return perr(p, t.lit, "', expected: ',', ')' or identifier");
    }
    /* parseIdentifiersList */
    for (;;) {
        token c = next(p, 1);

        if (c.t == T_IDENT) {
            token after = peek(p, 1);

            add_value(r, c.lit);
            if (after.t == T_COMMA) {
                continue;
            }
            if (after.t == T_CLOSEPAR) {
                break;
            }
            return perr(p, after.lit, "', expected: ',' or ')'");
        }
        if (c.t == T_COMMA) {
            token after = peek(p, 1);

            if (r->nvalues == 0) {
                add_value(r, ""); /* "(," */
            }
            if (after.t == T_CLOSEPAR) {
                add_value(r, ""); /* ",)" */
                break;
            }
            if (after.t == T_COMMA) {
                next(p, 1);
                add_value(r, ""); /* ",," */
            }
            continue;
        }
        return perr(p, c.lit, "', expected: ',', or identifier");
    }
    next(p, 1); /* the ')' just seen */
    return 0;
}

/* parseRequirement, including NewRequirement's validation. */
static int parse_requirement(parser *p, requirement *r)
{
    token t = next(p, 1);
    token o;
    int not_exists = 0;

    if (t.t == T_NOT) {
        not_exists = 1;
        t = next(p, 1);
    }
    if (t.t != T_IDENT) {
        return perr(p, t.lit, "', expected: identifier");
    }
    if (check_key(p, t.lit) < 0) {
        return -1;
    }
    r->key = dtk_strdup(t.lit);
    o = peek(p, 1);
    if (not_exists) {
        r->op = OP_NOTEXISTS;
        return 0;
    }
    if (o.t == T_EOS || o.t == T_COMMA) {
        r->op = OP_EXISTS;
        return 0;
    }
    o = next(p, 0);
    switch (o.t) {
    case T_IN:
        r->op = OP_IN;
        break;
    case T_NOTIN:
        r->op = OP_NOTIN;
        break;
    case T_EQ:
        r->op = OP_EQ;
        break;
    case T_DEQ:
        r->op = OP_DEQ;
        break;
    case T_NEQ:
        r->op = OP_NEQ;
        break;
    case T_GT:
        r->op = OP_GT;
        break;
    case T_LT:
        r->op = OP_LT;
        break;
    default:
        return perr(p, o.lit, "', expected: in, notin, =, ==, !=, gt, lt");
    }
    if (r->op == OP_IN || r->op == OP_NOTIN) {
        if (parse_set(p, r) < 0) {
            return -1;
        }
    } else {
        /* parseExactValue */
        token v = peek(p, 1);

        if (v.t == T_EOS || v.t == T_COMMA) {
            add_value(r, "");
        } else {
            v = next(p, 1);
            if (v.t != T_IDENT) {
                return perr(p, v.lit, "', expected: identifier");
            }
            add_value(r, v.lit);
        }
    }
    values_done(r);
    return check_values(p, r);
}

static int req_cmp(const void *a, const void *b)
{
    return strcmp(((const requirement *)a)->key, ((const requirement *)b)->key);
}

void dtk_labelsel_free(dtk_labelsel *sel)
{
    if (sel == NULL) {
        return;
    }
    for (size_t i = 0; i < sel->n; i++) {
        requirement_dispose(&sel->reqs[i]);
    }
    dtk_free(sel->reqs);
    dtk_free(sel);
}

int dtk_labelsel_parse(dtk_labelsel **out, const char *text)
{
    parser p;
    dtk_labelsel *sel = dtk_calloc(1, sizeof(*sel));
    int error = 0;

    *out = NULL;
    memset(&p, 0, sizeof(p));
    p.lx.s = text != NULL ? text : "";
    dtk_buf_init(&p.err, 0);
    lex_all(&p.lx);
    for (;;) {
        token t = peek(&p, 1);
        requirement r;

        if (t.t == T_EOS) {
            break;
        }
        if (t.t != T_IDENT && t.t != T_NOT) {
            perr(&p, t.lit, "', expected: !, identifier, or 'end of string'");
            goto fail;
        }
        memset(&r, 0, sizeof(r));
        if (parse_requirement(&p, &r) < 0) {
            requirement_dispose(&r);
            dtk_error_set(DTK_ERRCLASS_INVALID,
                          "unable to parse requirement: %s",
                          dtk_buf_cstr(&p.err));
            error = DTK_EINVALID;
            goto out;
        }
        sel->reqs = grow(sel->reqs, &sel->cap, sel->n, sizeof(r));
        sel->reqs[sel->n++] = r;
        t = next(&p, 1);
        if (t.t == T_EOS) {
            break;
        }
        if (t.t != T_COMMA) {
            perr(&p, t.lit, "', expected: ',' or 'end of string'");
            goto fail;
        }
        t = peek(&p, 1);
        if (t.t != T_IDENT && t.t != T_NOT) {
            perr(&p, t.lit, "', expected: identifier after ','");
            goto fail;
        }
    }
    /* Sorted by key, as the Go parser returns them. */
    if (sel->n > 1) {
        qsort(sel->reqs, sel->n, sizeof(*sel->reqs), req_cmp);
    }
    *out = sel;
    sel = NULL;
    goto out;
fail:
    dtk_error_set(DTK_ERRCLASS_INVALID, "%s", dtk_buf_cstr(&p.err));
    error = DTK_EINVALID;
out:
    for (size_t i = 0; i < p.lx.n; i++) {
        dtk_free(p.lx.items[i].lit);
    }
    dtk_free(p.lx.items);
    dtk_buf_dispose(&p.err);
    dtk_labelsel_free(sel);
    return error;
}

static int has_value(const requirement *r, const char *v)
{
    for (size_t i = 0; i < r->nvalues; i++) {
        if (strcmp(r->values[i], v) == 0) {
            return 1;
        }
    }
    return 0;
}

static int requirement_matches(const requirement *r, const dtk_json *labels)
{
    const char *v = dtk_json_get_string(labels, r->key);
    long long have, want;

    switch (r->op) {
    case OP_IN:
    case OP_EQ:
    case OP_DEQ:
        return v != NULL && has_value(r, v);
    case OP_NOTIN:
    case OP_NEQ:
        return v == NULL || !has_value(r, v);
    case OP_EXISTS:
        return v != NULL;
    case OP_NOTEXISTS:
        return v == NULL;
    case OP_GT:
    case OP_LT:
        if (v == NULL || r->nvalues != 1 || parse_int64(&have, v) < 0 ||
            parse_int64(&want, r->values[0]) < 0) {
            return 0;
        }
        return r->op == OP_GT ? have > want : have < want;
    }
    return 0;
}

int dtk_labelsel_matches(const dtk_labelsel *sel, const dtk_json *labels)
{
    if (labels != NULL && labels->type != DTK_JSON_OBJECT) {
        labels = NULL;
    }
    for (size_t i = 0; i < sel->n; i++) {
        if (!requirement_matches(&sel->reqs[i], labels)) {
            return 0;
        }
    }
    return 1;
}

int dtk_labelsel_matches_object(const dtk_labelsel *sel, const dtk_json *obj)
{
    static const char *const path[] = {"metadata", "labels", NULL};

    return dtk_labelsel_matches(sel,
                                obj != NULL ? dtk_json_path(obj, path) : NULL);
}

int dtk_labelsel_empty(const dtk_labelsel *sel)
{
    return sel->n == 0;
}

/* ---- field selectors --------------------------------------------------- */

typedef struct field_term {
    char *field;
    char *value;
    int negate; /* "!=" */
} field_term;

struct dtk_fieldsel {
    field_term *terms;
    size_t n, cap;
};

void dtk_fieldsel_free(dtk_fieldsel *sel)
{
    if (sel == NULL) {
        return;
    }
    for (size_t i = 0; i < sel->n; i++) {
        dtk_free(sel->terms[i].field);
        dtk_free(sel->terms[i].value);
    }
    dtk_free(sel->terms);
    dtk_free(sel);
}

/* fields.UnescapeValue. */
static int unescape_value(char **out, const char *s)
{
    dtk_buf v = DTK_BUF_INIT(0);
    int in_slash = 0;

    *out = NULL;
    for (const char *c = s; *c != '\0'; c++) {
        if (in_slash) {
            if (*c != '\\' && *c != ',' && *c != '=') {
                /* Go prints the backslash and the whole character. */
                size_t n = 1;
                unsigned char u = (unsigned char)*c;

                if (u >= 0xc0) {
                    while ((((unsigned char)c[n]) & 0xc0) == 0x80) {
                        n++;
                    }
                }
                dtk_error_set(DTK_ERRCLASS_INVALID,
                              "invalid field selector: invalid escape "
                              "sequence: \\%.*s",
                              (int)n, c);
                dtk_buf_dispose(&v);
                return DTK_EINVALID;
            }
            dtk_buf_putc(&v, *c);
            in_slash = 0;
            continue;
        }
        if (*c == '\\') {
            in_slash = 1;
        } else if (*c == ',' || *c == '=') {
            dtk_error_set(DTK_ERRCLASS_INVALID,
                          "invalid field selector: unescaped character in "
                          "value: %d",
                          *c);
            dtk_buf_dispose(&v);
            return DTK_EINVALID;
        } else {
            dtk_buf_putc(&v, *c);
        }
    }
    if (in_slash) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "invalid field selector: invalid escape sequence: \\");
        dtk_buf_dispose(&v);
        return DTK_EINVALID;
    }
    *out = dtk_buf_detach(&v);
    return 0;
}

static int field_allowed(const char *field, const char *const *kind_fields)
{
    if (strcmp(field, "metadata.name") == 0 ||
        strcmp(field, "metadata.namespace") == 0) {
        return 1;
    }
    for (size_t i = 0; kind_fields != NULL && kind_fields[i] != NULL; i++) {
        if (strcmp(field, kind_fields[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

int dtk_fieldsel_parse(dtk_fieldsel **out,
                       const char *text,
                       const char *const *kind_fields)
{
    dtk_fieldsel *sel = dtk_calloc(1, sizeof(*sel));
    char **parts = NULL;
    size_t nparts = 0, parts_cap = 0;
    int error = 0;

    *out = NULL;
    if (text == NULL) {
        text = "";
    }
    /* splitTerms: commas not preceded by an unconsumed backslash. */
    if (*text != '\0') {
        size_t start = 0, i = 0;
        int in_slash = 0;

        for (;; i++) {
            char c = text[i];

            if (c == '\0' || (!in_slash && c == ',')) {
                parts = grow(parts, &parts_cap, nparts, sizeof(char *));
                parts[nparts++] = dtk_strndup(text + start, i - start);
                start = i + 1;
                if (c == '\0') {
                    break;
                }
                continue;
            }
            in_slash = in_slash ? 0 : c == '\\';
        }
        qsort(parts, nparts, sizeof(char *), str_cmp);
    }
    for (size_t i = 0; i < nparts; i++) {
        const char *part = parts[i];
        const char *opat = NULL;
        size_t oplen = 0;
        field_term term = {NULL, NULL, 0};

        if (*part == '\0') {
            continue;
        }
        /* splitTerm: the first position where "!=", "==" or "=" starts. */
        for (const char *c = part; *c != '\0' && opat == NULL; c++) {
            if (c[0] == '!' && c[1] == '=') {
                opat = c;
                oplen = 2;
                term.negate = 1;
            } else if (c[0] == '=' && c[1] == '=') {
                opat = c;
                oplen = 2;
            } else if (c[0] == '=') {
                opat = c;
                oplen = 1;
            }
        }
        if (opat == NULL) {
            dtk_error_set(DTK_ERRCLASS_INVALID,
                          "invalid selector: '%s'; can't understand '%s'", text,
                          part);
            error = DTK_EINVALID;
            goto out;
        }
        error = unescape_value(&term.value, opat + oplen);
        if (error < 0) {
            goto out;
        }
        term.field = dtk_strndup(part, (size_t)(opat - part));
        sel->terms = grow(sel->terms, &sel->cap, sel->n, sizeof(term));
        sel->terms[sel->n++] = term;
    }
    /* Transform: field names are checked once every term has parsed. */
    for (size_t i = 0; i < sel->n; i++) {
        const char *field = sel->terms[i].field;

        if (field_allowed(field, kind_fields)) {
            continue;
        }
        if (kind_fields != NULL) {
            dtk_error_set(DTK_ERRCLASS_INVALID, "field label not supported: %s",
                          field);
        } else {
            dtk_buf msg = DTK_BUF_INIT(0);

            go_quote(&msg, field);
            dtk_buf_puts(&msg, " is not a known field selector: only "
                               "\"metadata.name\", \"metadata.namespace\"");
            dtk_error_set(DTK_ERRCLASS_INVALID, "%s", dtk_buf_cstr(&msg));
            dtk_buf_dispose(&msg);
        }
        error = DTK_EINVALID;
        goto out;
    }
    *out = sel;
    sel = NULL;
out:
    for (size_t i = 0; i < nparts; i++) {
        dtk_free(parts[i]);
    }
    dtk_free(parts);
    dtk_fieldsel_free(sel);
    return error;
}

/* The field's value as Kubernetes' field sets hold it: text, "" if absent. */
static void field_value(dtk_buf *out, const dtk_json *obj, const char *field)
{
    const dtk_json *cur = obj;
    const char *seg = field;

    while (cur != NULL) {
        const char *dot = strchr(seg, '.');
        size_t len = dot != NULL ? (size_t)(dot - seg) : strlen(seg);
        const dtk_json *next_v = NULL;

        if (cur->type != DTK_JSON_OBJECT) {
            return;
        }
        for (size_t i = 0; i < cur->u.object.len; i++) {
            const char *k = cur->u.object.keys[i];

            if (strlen(k) == len && memcmp(k, seg, len) == 0) {
                next_v = cur->u.object.values[i];
                break;
            }
        }
        cur = next_v;
        if (dot == NULL) {
            break;
        }
        seg = dot + 1;
    }
    if (cur == NULL) {
        return;
    }
    switch (cur->type) {
    case DTK_JSON_STRING:
        dtk_buf_put(out, cur->u.string.ptr, cur->u.string.len);
        break;
    case DTK_JSON_NUMBER:
        dtk_buf_puts(out, cur->u.number);
        break;
    case DTK_JSON_BOOL:
        dtk_buf_puts(out, cur->u.boolean ? "true" : "false");
        break;
    default:
        break;
    }
}

int dtk_fieldsel_matches(const dtk_fieldsel *sel, const dtk_json *obj)
{
    dtk_buf v = DTK_BUF_INIT(0);
    int ok = 1;

    for (size_t i = 0; i < sel->n && ok; i++) {
        const field_term *t = &sel->terms[i];
        int equal;

        dtk_buf_reset(&v);
        field_value(&v, obj, t->field);
        equal = v.len == strlen(t->value) &&
                memcmp(dtk_buf_cstr(&v), t->value, v.len) == 0;
        ok = t->negate ? !equal : equal;
    }
    dtk_buf_dispose(&v);
    return ok;
}

int dtk_fieldsel_empty(const dtk_fieldsel *sel)
{
    return sel->n == 0;
}

const char *dtk_fieldsel_exact(const dtk_fieldsel *sel, const char *field)
{
    for (size_t i = 0; i < sel->n; i++) {
        if (!sel->terms[i].negate && strcmp(sel->terms[i].field, field) == 0) {
            return sel->terms[i].value;
        }
    }
    return NULL;
}

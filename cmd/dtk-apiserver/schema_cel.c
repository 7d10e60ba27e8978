/* A small, honest subset of CEL for x-kubernetes-validations.
 *
 * A recursive-descent parser builds an AST from the rule; a checker walks it
 * with the schema of `self` to find undefined fields and type errors the
 * way Kubernetes' compile step does (wording "compilation failed: ERROR:
 * <input>:L:C: msg" plus the source line and a caret), and refuses anything
 * outside the subset with a clear "... is not supported by this development
 * API server" error, so a CRD that needs more is rejected at creation
 * instead of being half-checked. An evaluator then runs the AST over
 * dtk_json values, without copying the object.
 *
 * Supported:
 *   identifiers  self, oldSelf (transition rules), comprehension variables
 *   literals     int (decimal, 0x hex), double, string ('..', "..",
 *                triple-quoted, r-raw, the CEL escapes), true, false, null,
 *                lists [a, b], maps {'k': v} with string keys
 *   operators    ! - * / % + == != < <= > >= in && || ?:
 *   access       a.f, a['k'], list[i], has(a.f)
 *   functions    size() (also size(x)), s.matches(re), s.startsWith(x),
 *                s.endsWith(x), s.contains(x), s.lowerAscii(),
 *                s.upperAscii(), string(x), int(x), double(x)
 *   macros       l.all(x, p), l.exists(x, p), l.exists_one(x, p),
 *                l.map(x, e), l.filter(x, p) on lists and maps (keys)
 * Semantics follow CEL: && and || absorb errors when the other side decides
 * ("false && error" is false), integer overflow and division by zero are
 * errors, strings compare by code point, size() of a string counts code
 * points, ints and doubles compare across types (Kubernetes enables cross
 * type numeric comparisons). Numbers from the object are ints when their
 * JSON text is an integer, doubles otherwise (Kubernetes types them from the
 * schema instead; the difference only shows in arithmetic mixing the two,
 * which we reject with "no such overload").
 * Not supported (rejected at compile): uint and bytes literals, optional
 * syntax (a.?f), timestamps, durations, quantities, IP/CIDR/URL libraries,
 * the Kubernetes list library (isSorted, sum, indexOf, ...), string
 * library functions other than the ones above, type(), dyn(), macros with a
 * 3-argument map.
 * Every evaluation is bounded by a step budget (cost), like Kubernetes'
 * per-call limit.
 */
#include "cmd/dtk-apiserver/schema_int.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/dtk-apiserver/fielderr.h"
#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/error.h"

#define MAX_PARSE_DEPTH         100
#define MAX_COMPREHENSION_DEPTH 8

/* ------------------------------------------------------------------ */
/* AST                                                                  */

typedef enum op {
    OP_NULL,
    OP_BOOL,
    OP_INT,
    OP_DOUBLE,
    OP_STRING,
    OP_IDENT,  /* slot */
    OP_SELECT, /* args[0].name */
    OP_HAS,    /* has(args[0].name) */
    OP_INDEX,  /* args[0][args[1]] */
    OP_CALL,   /* name(args...), receiver in target */
    OP_NOT,
    OP_NEG,
    OP_MUL,
    OP_DIV,
    OP_MOD,
    OP_ADD,
    OP_SUB,
    OP_EQ,
    OP_NE,
    OP_LT,
    OP_LE,
    OP_GT,
    OP_GE,
    OP_IN,
    OP_AND,
    OP_OR,
    OP_COND,
    OP_LIST,
    OP_MAP, /* args: k0, v0, k1, v1, ... */
    OP_ALL, /* target.all(var, args[0]) */
    OP_EXISTS,
    OP_EXISTS_ONE,
    OP_MAPM, /* target.map(var, args[0]) */
    OP_FILTER,
} op;

typedef struct ast ast;
struct ast {
    op op;
    size_t pos; /* offset in the source, for errors */
    int boolean;
    int64_t i;
    double d;
    char *str; /* string literal, field, function name */
    size_t str_len;
    int slot; /* identifier / comprehension variable slot */
    ast *target;
    ast **args;
    size_t nargs;
    regex_t *re; /* precompiled literal of matches() */
};

struct dtk_schema__cel {
    char *src;
    ast *root;
    int uses_old_self;
};

static void ast_free(ast *a)
{
    if (a == NULL) {
        return;
    }
    ast_free(a->target);
    for (size_t i = 0; i < a->nargs; i++) {
        ast_free(a->args[i]);
    }
    dtk_free(a->args);
    dtk_free(a->str);
    dtk_schema__regex_free(a->re);
    dtk_free(a);
}

static ast *ast_new(op o, size_t pos)
{
    ast *a = dtk_calloc(1, sizeof(*a));

    a->op = o;
    a->pos = pos;
    a->slot = -1;
    return a;
}

static void ast_push(ast *a, ast *child)
{
    a->args = dtk_realloc(a->args, (a->nargs + 1) * sizeof(*a->args));
    a->args[a->nargs++] = child;
}

/* ------------------------------------------------------------------ */
/* Lexer and parser                                                     */

typedef enum tok {
    T_EOF,
    T_IDENT,
    T_INT,
    T_DOUBLE,
    T_STRING,
    T_PUNCT, /* text in punct */
    T_ERROR,
} tok;

typedef struct parser {
    const char *src;
    size_t len;
    size_t pos;
    /* current token */
    tok t;
    size_t tpos;
    char punct[3];
    dtk_buf text; /* identifier or decoded string */
    int64_t ival;
    double dval;
    int depth;
    /* comprehension variables in scope, innermost last */
    char *vars[MAX_COMPREHENSION_DEPTH];
    int nvars;
    int uses_old_self;
    /* first error */
    size_t err_pos;
    char *err;
} parser;

static void p_error(parser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void p_error(parser *p, size_t pos, const char *fmt, ...)
{
    dtk_buf b = DTK_BUF_INIT(0);
    va_list ap;

    if (p->err != NULL) {
        return;
    }
    va_start(ap, fmt);
    (void)dtk_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    p->err = dtk_buf_detach(&b);
    p->err_pos = pos;
}

static void skip_space(parser *p)
{
    while (p->pos < p->len) {
        char c = p->src[p->pos];

        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
            p->pos++;
        } else if (c == '/' && p->pos + 1 < p->len &&
                   p->src[p->pos + 1] == '/') {
            while (p->pos < p->len && p->src[p->pos] != '\n') {
                p->pos++;
            }
        } else {
            break;
        }
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static void put_utf8(dtk_buf *b, unsigned long r)
{
    unsigned char buf[4];
    size_t n;

    if (r < 0x80) {
        buf[0] = (unsigned char)r;
        n = 1;
    } else if (r < 0x800) {
        buf[0] = (unsigned char)(0xc0 | (r >> 6));
        buf[1] = (unsigned char)(0x80 | (r & 0x3f));
        n = 2;
    } else if (r < 0x10000) {
        buf[0] = (unsigned char)(0xe0 | (r >> 12));
        buf[1] = (unsigned char)(0x80 | ((r >> 6) & 0x3f));
        buf[2] = (unsigned char)(0x80 | (r & 0x3f));
        n = 3;
    } else {
        buf[0] = (unsigned char)(0xf0 | (r >> 18));
        buf[1] = (unsigned char)(0x80 | ((r >> 12) & 0x3f));
        buf[2] = (unsigned char)(0x80 | ((r >> 6) & 0x3f));
        buf[3] = (unsigned char)(0x80 | (r & 0x3f));
        n = 4;
    }
    (void)dtk_buf_put(b, buf, n);
}

/* Lexes a string literal starting at p->pos (after any r prefix). */
static void lex_string(parser *p, int raw)
{
    char q = p->src[p->pos];
    int triple = p->pos + 2 < p->len && p->src[p->pos + 1] == q &&
                 p->src[p->pos + 2] == q;
    size_t start = p->tpos;

    p->pos += triple ? 3 : 1;
    dtk_buf_reset(&p->text);
    for (;;) {
        char c;

        if (p->pos >= p->len) {
            p_error(p, start,
                    "Syntax error: token recognition error at: '%.*s'",
                    (int)(p->len - start > 20 ? 20 : p->len - start),
                    p->src + start);
            p->t = T_ERROR;
            return;
        }
        c = p->src[p->pos];
        if (triple) {
            if (c == q && p->pos + 2 < p->len && p->src[p->pos + 1] == q &&
                p->src[p->pos + 2] == q) {
                p->pos += 3;
                break;
            }
        } else {
            if (c == q) {
                p->pos++;
                break;
            }
            if (c == '\n' || c == '\r') {
                p_error(p, start,
                        "Syntax error: token recognition error at: '%.*s'",
                        (int)(p->pos - start), p->src + start);
                p->t = T_ERROR;
                return;
            }
        }
        if (c != '\\' || raw) {
            (void)dtk_buf_putc(&p->text, c);
            p->pos++;
            continue;
        }
        /* An escape. */
        if (p->pos + 1 >= p->len) {
            p_error(p, p->pos, "Syntax error: invalid escape sequence");
            p->t = T_ERROR;
            return;
        }
        c = p->src[++p->pos];
        p->pos++;
        switch (c) {
        case 'a':
            (void)dtk_buf_putc(&p->text, '\a');
            break;
        case 'b':
            (void)dtk_buf_putc(&p->text, '\b');
            break;
        case 'f':
            (void)dtk_buf_putc(&p->text, '\f');
            break;
        case 'n':
            (void)dtk_buf_putc(&p->text, '\n');
            break;
        case 'r':
            (void)dtk_buf_putc(&p->text, '\r');
            break;
        case 't':
            (void)dtk_buf_putc(&p->text, '\t');
            break;
        case 'v':
            (void)dtk_buf_putc(&p->text, '\v');
            break;
        case '\\':
        case '\'':
        case '"':
        case '`':
        case '?':
            (void)dtk_buf_putc(&p->text, c);
            break;
        case 'x':
        case 'u':
        case 'U': {
            int n = c == 'x' ? 2 : (c == 'u' ? 4 : 8);
            unsigned long r = 0;

            for (int k = 0; k < n; k++) {
                int h = p->pos < p->len ? hexval(p->src[p->pos]) : -1;

                if (h < 0) {
                    p_error(p, p->pos, "Syntax error: invalid escape sequence");
                    p->t = T_ERROR;
                    return;
                }
                r = r * 16 + (unsigned long)h;
                p->pos++;
            }
            if (r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff)) {
                p_error(p, p->pos, "Syntax error: invalid unicode code point");
                p->t = T_ERROR;
                return;
            }
            put_utf8(&p->text, r);
            break;
        }
        default:
            if (c >= '0' && c <= '3' && p->pos + 1 < p->len &&
                p->src[p->pos] >= '0' && p->src[p->pos] <= '7' &&
                p->src[p->pos + 1] >= '0' && p->src[p->pos + 1] <= '7') {
                unsigned r = (unsigned)(c - '0') * 64 +
                             (unsigned)(p->src[p->pos] - '0') * 8 +
                             (unsigned)(p->src[p->pos + 1] - '0');

                p->pos += 2;
                put_utf8(&p->text, r);
                break;
            }
            p_error(p, p->pos - 2, "Syntax error: invalid escape sequence");
            p->t = T_ERROR;
            return;
        }
    }
    p->t = T_STRING;
}

static void lex_number(parser *p)
{
    size_t start = p->pos;
    int is_double = 0;
    char tmp[64];
    size_t n;

    if (p->src[p->pos] == '0' && p->pos + 1 < p->len &&
        (p->src[p->pos + 1] == 'x' || p->src[p->pos + 1] == 'X')) {
        uint64_t v = 0;
        size_t digits = 0;

        p->pos += 2;
        while (p->pos < p->len && hexval(p->src[p->pos]) >= 0) {
            if (v > (uint64_t)INT64_MAX / 16) {
                p_error(p, start, "invalid int literal");
                p->t = T_ERROR;
                return;
            }
            v = v * 16 + (uint64_t)hexval(p->src[p->pos]);
            p->pos++;
            digits++;
        }
        if (digits == 0 || v > (uint64_t)INT64_MAX) {
            p_error(p, start, "invalid int literal");
            p->t = T_ERROR;
            return;
        }
        if (p->pos < p->len &&
            (p->src[p->pos] == 'u' || p->src[p->pos] == 'U')) {
            p_error(p, start,
                    "unsigned integer literals are not supported by this "
                    "development API server");
            p->t = T_ERROR;
            return;
        }
        p->ival = (int64_t)v;
        p->t = T_INT;
        return;
    }
    while (p->pos < p->len && isdigit((unsigned char)p->src[p->pos])) {
        p->pos++;
    }
    if (p->pos + 1 < p->len && p->src[p->pos] == '.' &&
        isdigit((unsigned char)p->src[p->pos + 1])) {
        is_double = 1;
        p->pos++;
        while (p->pos < p->len && isdigit((unsigned char)p->src[p->pos])) {
            p->pos++;
        }
    }
    if (p->pos < p->len && (p->src[p->pos] == 'e' || p->src[p->pos] == 'E')) {
        size_t save = p->pos;

        p->pos++;
        if (p->pos < p->len &&
            (p->src[p->pos] == '+' || p->src[p->pos] == '-')) {
            p->pos++;
        }
        if (p->pos < p->len && isdigit((unsigned char)p->src[p->pos])) {
            is_double = 1;
            while (p->pos < p->len && isdigit((unsigned char)p->src[p->pos])) {
                p->pos++;
            }
        } else {
            p->pos = save;
        }
    }
    if (!is_double && p->pos < p->len &&
        (p->src[p->pos] == 'u' || p->src[p->pos] == 'U')) {
        p_error(p, start,
                "unsigned integer literals are not supported by this "
                "development API server");
        p->t = T_ERROR;
        return;
    }
    n = p->pos - start;
    if (n >= sizeof(tmp)) {
        p_error(p, start, "invalid int literal");
        p->t = T_ERROR;
        return;
    }
    memcpy(tmp, p->src + start, n);
    tmp[n] = '\0';
    errno = 0;
    if (is_double) {
        p->dval = strtod(tmp, NULL);
        p->t = T_DOUBLE;
        return;
    }
    {
        long long v = strtoll(tmp, NULL, 10);

        if (errno == ERANGE) {
            /* -9223372036854775808 is parsed as -(9223372036854775808):
             * keep the magnitude for the negation to fold. */
            if (strcmp(tmp, "9223372036854775808") == 0) {
                p->ival = INT64_MIN;
                p->t = T_INT;
                p->dval = 1; /* marks "needs negation" */
                return;
            }
            p_error(p, start, "invalid int literal");
            p->t = T_ERROR;
            return;
        }
        p->ival = v;
        p->dval = 0;
        p->t = T_INT;
    }
}

static void next(parser *p)
{
    static const char *const two[] = {"==", "!=", "<=", ">=", "&&", "||"};
    char c;

    if (p->t == T_ERROR) {
        return;
    }
    skip_space(p);
    p->tpos = p->pos;
    if (p->pos >= p->len) {
        p->t = T_EOF;
        return;
    }
    c = p->src[p->pos];
    if ((c == 'r' || c == 'R') && p->pos + 1 < p->len &&
        (p->src[p->pos + 1] == '\'' || p->src[p->pos + 1] == '"')) {
        p->pos++;
        lex_string(p, 1);
        return;
    }
    if ((c == 'b' || c == 'B') && p->pos + 1 < p->len &&
        (p->src[p->pos + 1] == '\'' || p->src[p->pos + 1] == '"')) {
        p_error(p, p->pos,
                "bytes literals are not supported by this development API "
                "server");
        p->t = T_ERROR;
        return;
    }
    if (isalpha((unsigned char)c) || c == '_') {
        dtk_buf_reset(&p->text);
        while (p->pos < p->len && (isalnum((unsigned char)p->src[p->pos]) ||
                                   p->src[p->pos] == '_')) {
            (void)dtk_buf_putc(&p->text, p->src[p->pos++]);
        }
        p->t = T_IDENT;
        return;
    }
    if (isdigit((unsigned char)c) ||
        (c == '.' && p->pos + 1 < p->len &&
         isdigit((unsigned char)p->src[p->pos + 1]))) {
        lex_number(p);
        return;
    }
    if (c == '\'' || c == '"') {
        lex_string(p, 0);
        return;
    }
    for (size_t k = 0; k < sizeof(two) / sizeof(two[0]); k++) {
        if (p->pos + 1 < p->len && p->src[p->pos] == two[k][0] &&
            p->src[p->pos + 1] == two[k][1]) {
            memcpy(p->punct, two[k], 3);
            p->pos += 2;
            p->t = T_PUNCT;
            return;
        }
    }
    if (strchr("+-*/%!<>?:.,()[]{}", c) != NULL) {
        p->punct[0] = c;
        p->punct[1] = '\0';
        p->pos++;
        p->t = T_PUNCT;
        return;
    }
    p_error(p, p->pos, "Syntax error: token recognition error at: '%c'", c);
    p->t = T_ERROR;
}

static int is_punct(const parser *p, const char *s)
{
    return p->t == T_PUNCT && strcmp(p->punct, s) == 0;
}

static int is_ident(const parser *p, const char *s)
{
    return p->t == T_IDENT && strcmp(dtk_buf_cstr(&p->text), s) == 0;
}

static int expect(parser *p, const char *s)
{
    if (!is_punct(p, s)) {
        if (p->t == T_EOF) {
            p_error(p, p->tpos,
                    "Syntax error: mismatched input '<EOF>' "
                    "expecting '%s'",
                    s);
        } else {
            p_error(p, p->tpos,
                    "Syntax error: mismatched input '%.*s' expecting '%s'",
                    (int)(p->pos - p->tpos), p->src + p->tpos, s);
        }
        return 0;
    }
    next(p);
    return 1;
}

static ast *parse_expr(parser *p);

static int enter(parser *p)
{
    if (++p->depth > MAX_PARSE_DEPTH) {
        p_error(p, p->tpos, "expression recursion limit exceeded: %d",
                MAX_PARSE_DEPTH);
        return 0;
    }
    return 1;
}

/* One more level of a left-deep chain (a.b.c, 1 + 2 + 3): these nest the
 * AST as deeply as parentheses do, so they count against the same limit. */
static int chain(parser *p, int *levels)
{
    (*levels)++;
    return enter(p);
}

static void parse_args(parser *p, ast *call, const char *close)
{
    if (is_punct(p, close)) {
        next(p);
        return;
    }
    for (;;) {
        ast *arg = parse_expr(p);

        if (arg == NULL) {
            return;
        }
        ast_push(call, arg);
        if (is_punct(p, ",")) {
            next(p);
            if (is_punct(p, close)) {
                /* trailing comma */
                next(p);
                return;
            }
            continue;
        }
        expect(p, close);
        return;
    }
}

static const char *const supported_functions[] = {
    "size",       "matches",    "startsWith", "endsWith", "contains",
    "lowerAscii", "upperAscii", "string",     "int",      "double",
};

static int function_supported(const char *name)
{
    for (size_t i = 0; i < sizeof(supported_functions) / sizeof(char *); i++) {
        if (strcmp(name, supported_functions[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* target.all(x, pred) and friends: args are an identifier and the body. */
static ast *parse_macro(
    parser *p, ast *target, op o, size_t pos, const char *name)
{
    ast *m = ast_new(o, pos);
    ast *var = NULL;

    m->target = target;
    parse_args(p, m, ")");
    if (p->err != NULL) {
        ast_free(m);
        return NULL;
    }
    if (m->nargs == 3 && o == OP_MAPM) {
        p_error(p, pos,
                "map() with a filter argument is not supported by this "
                "development API server");
        ast_free(m);
        return NULL;
    }
    if (m->nargs != 2) {
        p_error(p, pos, "%s() requires 2 arguments", name);
        ast_free(m);
        return NULL;
    }
    var = m->args[0];
    if (var->op != OP_IDENT || var->str == NULL) {
        p_error(p, var->pos, "argument must be a simple name");
        ast_free(m);
        return NULL;
    }
    return m;
}

/* Binds the identifier as a comprehension variable while its body is
 * parsed: macros are parsed after their arguments, so variables are
 * resolved in a second pass (resolve()). */
static ast *parse_primary(parser *p)
{
    size_t pos = p->tpos;
    ast *a = NULL;

    switch (p->t) {
    case T_INT:
        a = ast_new(OP_INT, pos);
        a->i = p->ival;
        /* 9223372036854775808 only makes sense negated. */
        a->d = p->dval;
        next(p);
        return a;
    case T_DOUBLE:
        a = ast_new(OP_DOUBLE, pos);
        a->d = p->dval;
        next(p);
        return a;
    case T_STRING:
        a = ast_new(OP_STRING, pos);
        a->str_len = p->text.len;
        a->str = dtk_buf_detach(&p->text);
        next(p);
        return a;
    case T_IDENT: {
        const char *name = dtk_buf_cstr(&p->text);

        if (strcmp(name, "true") == 0 || strcmp(name, "false") == 0) {
            a = ast_new(OP_BOOL, pos);
            a->boolean = name[0] == 't';
            next(p);
            return a;
        }
        if (strcmp(name, "null") == 0) {
            next(p);
            return ast_new(OP_NULL, pos);
        }
        a = ast_new(OP_IDENT, pos);
        a->str = dtk_strdup(name);
        next(p);
        if (!is_punct(p, "(")) {
            return a;
        }
        /* A global function call. */
        next(p);
        a->op = OP_CALL;
        if (strcmp(a->str, "has") == 0) {
            ast *h;

            parse_args(p, a, ")");
            if (p->err != NULL) {
                ast_free(a);
                return NULL;
            }
            if (a->nargs != 1 || a->args[0]->op != OP_SELECT) {
                p_error(p, pos, "invalid argument to has() macro");
                ast_free(a);
                return NULL;
            }
            h = ast_new(OP_HAS, pos);
            h->args = a->args;
            h->nargs = a->nargs;
            a->args = NULL;
            a->nargs = 0;
            ast_free(a);
            return h;
        }
        if (!function_supported(a->str) ||
            (strcmp(a->str, "size") != 0 && strcmp(a->str, "string") != 0 &&
             strcmp(a->str, "int") != 0 && strcmp(a->str, "double") != 0)) {
            p_error(p, pos,
                    "function '%s' is not supported by this development API "
                    "server",
                    a->str);
            ast_free(a);
            return NULL;
        }
        parse_args(p, a, ")");
        if (p->err == NULL && a->nargs != 1) {
            p_error(p, pos,
                    "found no matching overload for '%s' applied to "
                    "%zu arguments",
                    a->str, a->nargs);
        }
        if (p->err != NULL) {
            ast_free(a);
            return NULL;
        }
        return a;
    }
    case T_PUNCT:
        if (is_punct(p, "(")) {
            next(p);
            a = parse_expr(p);
            if (a != NULL && !expect(p, ")")) {
                ast_free(a);
                return NULL;
            }
            return a;
        }
        if (is_punct(p, "[")) {
            next(p);
            a = ast_new(OP_LIST, pos);
            parse_args(p, a, "]");
            if (p->err != NULL) {
                ast_free(a);
                return NULL;
            }
            return a;
        }
        if (is_punct(p, "{")) {
            next(p);
            a = ast_new(OP_MAP, pos);
            while (!is_punct(p, "}") && p->err == NULL) {
                ast *k = parse_expr(p);
                ast *v;

                if (k == NULL || !expect(p, ":")) {
                    ast_free(k);
                    break;
                }
                v = parse_expr(p);
                if (v == NULL) {
                    ast_free(k);
                    break;
                }
                ast_push(a, k);
                ast_push(a, v);
                if (is_punct(p, ",")) {
                    next(p);
                } else if (!is_punct(p, "}")) {
                    expect(p, "}");
                }
            }
            if (p->err != NULL) {
                ast_free(a);
                return NULL;
            }
            next(p);
            return a;
        }
        if (is_punct(p, ".")) {
            p_error(p, pos,
                    "leading-dot identifiers are not supported by this "
                    "development API server");
            return NULL;
        }
        break;
    case T_EOF:
        p_error(p, pos,
                "Syntax error: mismatched input '<EOF>' expecting "
                "{'[', '{', '(', '.', '-', '!', 'true', 'false', "
                "'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, "
                "IDENTIFIER}");
        return NULL;
    default:
        break;
    }
    if (p->err == NULL) {
        p_error(p, pos, "Syntax error: extraneous input '%.*s'",
                (int)(p->pos - p->tpos), p->src + p->tpos);
    }
    return NULL;
}

static ast *parse_member(parser *p)
{
    ast *a = parse_primary(p);
    int levels = 0;

    while (a != NULL && p->err == NULL) {
        size_t pos = p->tpos;

        if ((is_punct(p, ".") || is_punct(p, "[")) && !chain(p, &levels)) {
            break;
        }

        if (is_punct(p, ".")) {
            char *name;

            next(p);
            if (is_punct(p, "?")) {
                p_error(p, pos,
                        "optional field selection (.?) is not supported by "
                        "this development API server");
                break;
            }
            if (p->t != T_IDENT) {
                p_error(p, p->tpos,
                        "Syntax error: no viable alternative at "
                        "input '.%.*s'",
                        (int)(p->pos - p->tpos), p->src + p->tpos);
                break;
            }
            name = dtk_strdup(dtk_buf_cstr(&p->text));
            next(p);
            if (is_punct(p, "(")) {
                op o = OP_CALL;

                next(p);
                if (strcmp(name, "all") == 0) {
                    o = OP_ALL;
                } else if (strcmp(name, "exists") == 0) {
                    o = OP_EXISTS;
                } else if (strcmp(name, "exists_one") == 0) {
                    o = OP_EXISTS_ONE;
                } else if (strcmp(name, "map") == 0) {
                    o = OP_MAPM;
                } else if (strcmp(name, "filter") == 0) {
                    o = OP_FILTER;
                }
                if (o != OP_CALL) {
                    a = parse_macro(p, a, o, pos, name);
                    dtk_free(name);
                    continue;
                }
                if (!function_supported(name) || strcmp(name, "string") == 0 ||
                    strcmp(name, "int") == 0 || strcmp(name, "double") == 0) {
                    p_error(p, pos,
                            "function '%s' is not supported by this "
                            "development API server",
                            name);
                    dtk_free(name);
                    break;
                }
                {
                    ast *c = ast_new(OP_CALL, pos);

                    c->str = name;
                    c->target = a;
                    a = c;
                    parse_args(p, c, ")");
                }
                continue;
            }
            {
                ast *s = ast_new(OP_SELECT, pos);

                s->str = name;
                ast_push(s, a);
                a = s;
            }
            continue;
        }
        if (is_punct(p, "[")) {
            ast *ix = ast_new(OP_INDEX, pos);
            ast *e;

            next(p);
            ast_push(ix, a);
            a = ix;
            e = parse_expr(p);
            if (e == NULL) {
                break;
            }
            ast_push(ix, e);
            expect(p, "]");
            continue;
        }
        break;
    }
    p->depth -= levels;
    if (p->err != NULL) {
        ast_free(a);
        return NULL;
    }
    return a;
}

static ast *parse_unary(parser *p)
{
    size_t pos = p->tpos;

    if (is_punct(p, "!") || is_punct(p, "-")) {
        op o = is_punct(p, "!") ? OP_NOT : OP_NEG;
        ast *inner;
        ast *u;

        next(p);
        if (!enter(p)) {
            return NULL;
        }
        inner = parse_unary(p);
        p->depth--;
        if (inner == NULL) {
            return NULL;
        }
        /* Fold negative literals, as CEL's parser does. */
        if (o == OP_NEG && inner->op == OP_INT) {
            if (inner->d != 0) {
                inner->d = 0; /* INT64_MIN, already negative */
            } else {
                inner->i = -inner->i;
            }
            inner->pos = pos;
            return inner;
        }
        if (o == OP_NEG && inner->op == OP_DOUBLE) {
            inner->d = -inner->d;
            inner->pos = pos;
            return inner;
        }
        u = ast_new(o, pos);
        ast_push(u, inner);
        return u;
    }
    return parse_member(p);
}

static ast *binary(op o, size_t pos, ast *l, ast *r)
{
    ast *b = ast_new(o, pos);

    ast_push(b, l);
    ast_push(b, r);
    return b;
}

static ast *parse_mul(parser *p)
{
    ast *l = parse_unary(p);
    int levels = 0;

    while (l != NULL &&
           (is_punct(p, "*") || is_punct(p, "/") || is_punct(p, "%"))) {
        op o = is_punct(p, "*") ? OP_MUL : (is_punct(p, "/") ? OP_DIV : OP_MOD);
        size_t pos = p->tpos;
        ast *r;

        if (!chain(p, &levels)) {
            ast_free(l);
            l = NULL;
            break;
        }
        next(p);
        r = parse_unary(p);
        if (r == NULL) {
            ast_free(l);
            l = NULL;
            break;
        }
        l = binary(o, pos, l, r);
    }
    p->depth -= levels;
    return l;
}

static ast *parse_add(parser *p)
{
    ast *l = parse_mul(p);
    int levels = 0;

    while (l != NULL && (is_punct(p, "+") || is_punct(p, "-"))) {
        op o = is_punct(p, "+") ? OP_ADD : OP_SUB;
        size_t pos = p->tpos;
        ast *r;

        if (!chain(p, &levels)) {
            ast_free(l);
            l = NULL;
            break;
        }
        next(p);
        r = parse_mul(p);
        if (r == NULL) {
            ast_free(l);
            l = NULL;
            break;
        }
        l = binary(o, pos, l, r);
    }
    p->depth -= levels;
    return l;
}

static ast *parse_rel(parser *p)
{
    ast *l = parse_add(p);
    int levels = 0;

    for (;;) {
        op o;
        size_t pos = p->tpos;
        ast *r;

        if (l == NULL) {
            p->depth -= levels;
            return NULL;
        }
        if (is_punct(p, "==")) {
            o = OP_EQ;
        } else if (is_punct(p, "!=")) {
            o = OP_NE;
        } else if (is_punct(p, "<")) {
            o = OP_LT;
        } else if (is_punct(p, "<=")) {
            o = OP_LE;
        } else if (is_punct(p, ">")) {
            o = OP_GT;
        } else if (is_punct(p, ">=")) {
            o = OP_GE;
        } else if (is_ident(p, "in")) {
            o = OP_IN;
        } else {
            p->depth -= levels;
            return l;
        }
        if (!chain(p, &levels)) {
            ast_free(l);
            p->depth -= levels;
            return NULL;
        }
        next(p);
        r = parse_add(p);
        if (r == NULL) {
            ast_free(l);
            p->depth -= levels;
            return NULL;
        }
        l = binary(o, pos, l, r);
    }
}

static ast *parse_and(parser *p)
{
    ast *l = parse_rel(p);
    int levels = 0;

    while (l != NULL && is_punct(p, "&&")) {
        size_t pos = p->tpos;
        ast *r;

        if (!chain(p, &levels)) {
            ast_free(l);
            l = NULL;
            break;
        }
        next(p);
        r = parse_rel(p);
        if (r == NULL) {
            ast_free(l);
            l = NULL;
            break;
        }
        l = binary(OP_AND, pos, l, r);
    }
    p->depth -= levels;
    return l;
}

static ast *parse_or(parser *p)
{
    ast *l = parse_and(p);
    int levels = 0;

    while (l != NULL && is_punct(p, "||")) {
        size_t pos = p->tpos;
        ast *r;

        if (!chain(p, &levels)) {
            ast_free(l);
            l = NULL;
            break;
        }
        next(p);
        r = parse_and(p);
        if (r == NULL) {
            ast_free(l);
            l = NULL;
            break;
        }
        l = binary(OP_OR, pos, l, r);
    }
    p->depth -= levels;
    return l;
}

static ast *parse_expr(parser *p)
{
    ast *c;

    if (!enter(p)) {
        return NULL;
    }
    c = parse_or(p);
    if (c != NULL && is_punct(p, "?")) {
        size_t pos = p->tpos;
        ast *t, *f, *cond;

        next(p);
        t = parse_or(p);
        if (t == NULL || !expect(p, ":")) {
            ast_free(c);
            ast_free(t);
            p->depth--;
            return NULL;
        }
        f = parse_expr(p);
        if (f == NULL) {
            ast_free(c);
            ast_free(t);
            p->depth--;
            return NULL;
        }
        cond = ast_new(OP_COND, pos);
        ast_push(cond, c);
        ast_push(cond, t);
        ast_push(cond, f);
        c = cond;
    }
    p->depth--;
    if (p->err != NULL) {
        ast_free(c);
        return NULL;
    }
    return c;
}

/* ------------------------------------------------------------------ */
/* Checker: scopes, schema-driven field checks, types                   */

typedef enum stype {
    ST_DYN,
    ST_NULL,
    ST_BOOL,
    ST_INT,
    ST_DOUBLE,
    ST_STRING,
    ST_LIST,
    ST_MAP,
} stype;

typedef struct sinfo {
    stype t;
    const dtk_schema__node *schema; /* for maps and lists, when known */
    int resource; /* an object whose apiVersion/kind/metadata are visible */
    int meta;     /* such an object's metadata: name, generateName only */
} sinfo;

typedef struct checker {
    parser *p;
    sinfo vars[2 + MAX_COMPREHENSION_DEPTH];
    char *names[2 + MAX_COMPREHENSION_DEPTH];
    int nvars;
} checker;

static const char *stype_name(stype t)
{
    switch (t) {
    case ST_NULL:
        return "null_type";
    case ST_BOOL:
        return "bool";
    case ST_INT:
        return "int";
    case ST_DOUBLE:
        return "double";
    case ST_STRING:
        return "string";
    case ST_LIST:
        return "list(dyn)";
    case ST_MAP:
        return "map(string, dyn)";
    default:
        return "dyn";
    }
}

static sinfo of_schema(const dtk_schema__node *n, int resource)
{
    sinfo s = {ST_DYN, n, resource};

    if (n == NULL || n->int_or_string) {
        return s;
    }
    switch (n->types) {
    case DTK_SCHEMA__T_STRING:
        s.t = ST_STRING;
        break;
    case DTK_SCHEMA__T_INTEGER:
        s.t = ST_INT;
        break;
    case DTK_SCHEMA__T_NUMBER:
        s.t = ST_DOUBLE;
        break;
    case DTK_SCHEMA__T_BOOLEAN:
        s.t = ST_BOOL;
        break;
    case DTK_SCHEMA__T_ARRAY:
        s.t = ST_LIST;
        break;
    case DTK_SCHEMA__T_OBJECT:
        s.t = ST_MAP;
        break;
    default:
        break;
    }
    return s;
}

/* CEL escapes property names that are not identifiers: "__dash__" for '-',
 * "__dot__" for '.', "__slash__" for '/', "__underscores__" for "__", and a
 * "__" prefix for reserved words. Returns the property name (owned). */
static char *unescape_field(const char *name)
{
    static const char *const reserved[] = {
        "true",   "false",    "null", "in",      "as",        "break",
        "const",  "continue", "else", "for",     "function",  "if",
        "import", "let",      "loop", "package", "namespace", "return",
        "var",    "void",     "while"};
    dtk_buf out = DTK_BUF_INIT(0);
    size_t n = strlen(name);

    if (n > 4 && strncmp(name, "__", 2) == 0 &&
        strcmp(name + n - 2, "__") == 0) {
        for (size_t k = 0; k < sizeof(reserved) / sizeof(reserved[0]); k++) {
            if (n - 4 == strlen(reserved[k]) &&
                strncmp(name + 2, reserved[k], n - 4) == 0) {
                (void)dtk_buf_put(&out, reserved[k], n - 4);
                return dtk_buf_detach(&out);
            }
        }
    }
    for (size_t i = 0; i < n;) {
        if (strncmp(name + i, "__dash__", 8) == 0) {
            (void)dtk_buf_putc(&out, '-');
            i += 8;
        } else if (strncmp(name + i, "__dot__", 7) == 0) {
            (void)dtk_buf_putc(&out, '.');
            i += 7;
        } else if (strncmp(name + i, "__slash__", 9) == 0) {
            (void)dtk_buf_putc(&out, '/');
            i += 9;
        } else if (strncmp(name + i, "__underscores__", 15) == 0) {
            (void)dtk_buf_puts(&out, "__");
            i += 15;
        } else {
            (void)dtk_buf_putc(&out, name[i]);
            i++;
        }
    }
    return dtk_buf_detach(&out);
}

/* The static type of a field selected from a map of the given info; sets
 * an "undefined field" error when the schema rules the field out. */
static sinfo select_type(checker *c,
                         const sinfo *from,
                         const char *field,
                         size_t pos)
{
    sinfo dyn = {ST_DYN, NULL, 0};
    const dtk_schema__node *n = from->schema;
    const dtk_schema__node *prop;

    if (from->meta) {
        sinfo s = {ST_STRING, NULL, 0};

        if (strcmp(field, "name") == 0 || strcmp(field, "generateName") == 0) {
            return s;
        }
        p_error(c->p, pos, "undefined field '%s'", field);
        return dyn;
    }
    if (from->t == ST_DYN || n == NULL) {
        return dyn;
    }
    if (from->t != ST_MAP) {
        p_error(c->p, pos, "type '%s' does not support field selection",
                stype_name(from->t));
        return dyn;
    }
    if (from->resource &&
        (strcmp(field, "apiVersion") == 0 || strcmp(field, "kind") == 0)) {
        sinfo s = {ST_STRING, NULL, 0};

        return s;
    }
    if (from->resource && strcmp(field, "metadata") == 0) {
        /* Kubernetes exposes metadata.name and generateName only. */
        sinfo s = {ST_MAP, NULL, 0, 1};

        return s;
    }
    /* Kubernetes types CEL from the schema alone: fields kept by
     * x-kubernetes-preserve-unknown-fields are not visible, and declared
     * fields without a type are left out of the object type. */
    prop = dtk_schema__prop_get(n, field);
    if (prop != NULL && (prop->types != 0 || prop->int_or_string)) {
        return of_schema(prop, prop->embedded);
    }
    if (prop == NULL && n->additional != NULL) {
        return of_schema(n->additional, n->additional->embedded);
    }
    p_error(c->p, pos, "undefined field '%s'", field);
    return dyn;
}

static sinfo elem_type(const sinfo *list)
{
    sinfo dyn = {ST_DYN, NULL, 0};

    if (list->t == ST_LIST && list->schema != NULL &&
        list->schema->items != NULL) {
        return of_schema(list->schema->items, list->schema->items->embedded);
    }
    if (list->t == ST_MAP) {
        sinfo s = {ST_STRING, NULL, 0};

        return s; /* comprehensions over maps range over keys */
    }
    return dyn;
}

static int is_num(stype t)
{
    return t == ST_INT || t == ST_DOUBLE;
}

static void no_overload(
    checker *c, const ast *a, const char *fn, const sinfo *l, const sinfo *r)
{
    if (r != NULL) {
        p_error(c->p, a->pos,
                "found no matching overload for '%s' applied to '(%s, %s)'", fn,
                stype_name(l->t), stype_name(r->t));
    } else {
        p_error(c->p, a->pos,
                "found no matching overload for '%s' applied to '(%s)'", fn,
                stype_name(l->t));
    }
}

static sinfo check(checker *c, ast *a);

static sinfo check_call(checker *c, ast *a)
{
    sinfo res = {ST_DYN, NULL, 0};
    sinfo recv = {ST_DYN, NULL, 0};
    sinfo args[2];
    const char *fn = a->str;

    if (a->target != NULL) {
        recv = check(c, a->target);
    }
    for (size_t i = 0; i < a->nargs && i < 2; i++) {
        args[i] = check(c, a->args[i]);
    }
    if (c->p->err != NULL) {
        return res;
    }
    if (strcmp(fn, "size") == 0) {
        sinfo *x = a->target != NULL ? &recv : &args[0];

        if (a->target != NULL && a->nargs != 0) {
            p_error(c->p, a->pos, "size() takes no arguments");
        } else if (x->t != ST_DYN && x->t != ST_STRING && x->t != ST_LIST &&
                   x->t != ST_MAP) {
            no_overload(c, a, "size", x, NULL);
        }
        res.t = ST_INT;
        return res;
    }
    if (strcmp(fn, "string") == 0 || strcmp(fn, "int") == 0 ||
        strcmp(fn, "double") == 0) {
        stype want =
            fn[0] == 's' ? ST_STRING : (fn[0] == 'i' ? ST_INT : ST_DOUBLE);

        if (args[0].t != ST_DYN && args[0].t != ST_STRING &&
            !is_num(args[0].t) &&
            !(want == ST_STRING && args[0].t == ST_BOOL)) {
            no_overload(c, a, fn, &args[0], NULL);
        }
        res.t = want;
        return res;
    }
    /* String methods. */
    if (recv.t != ST_DYN && recv.t != ST_STRING) {
        no_overload(c, a, fn, &recv, NULL);
        return res;
    }
    if (strcmp(fn, "lowerAscii") == 0 || strcmp(fn, "upperAscii") == 0) {
        if (a->nargs != 0) {
            p_error(c->p, a->pos, "%s() takes no arguments", fn);
        }
        res.t = ST_STRING;
        return res;
    }
    if (a->nargs != 1) {
        p_error(c->p, a->pos,
                "found no matching overload for '%s' applied to %zu "
                "arguments",
                fn, a->nargs);
        return res;
    }
    if (args[0].t != ST_DYN && args[0].t != ST_STRING) {
        no_overload(c, a, fn, &recv, &args[0]);
        return res;
    }
    if (strcmp(fn, "matches") == 0 && a->args[0]->op == OP_STRING) {
        char *err = NULL;
        int error = dtk_schema__regex_compile(&a->re, a->args[0]->str, &err);

        if (error < 0) {
            p_error(c->p, a->args[0]->pos, "invalid regular expression: %s",
                    err);
        }
        dtk_free(err);
    }
    res.t = ST_BOOL;
    return res;
}

static int find_var(checker *c, const char *name)
{
    for (int i = c->nvars - 1; i >= 0; i--) {
        if (c->names[i] != NULL && strcmp(c->names[i], name) == 0) {
            return i;
        }
    }
    return -1;
}

static sinfo check_comprehension(checker *c, ast *a)
{
    sinfo res = {ST_DYN, NULL, 0};
    sinfo range = check(c, a->target);
    sinfo body;
    ast *var = a->args[0];

    if (c->p->err != NULL) {
        return res;
    }
    if (range.t != ST_DYN && range.t != ST_LIST && range.t != ST_MAP) {
        p_error(c->p, a->pos,
                "expression of type '%s' cannot be the range "
                "of a comprehension (must be list, map, or "
                "dynamic)",
                stype_name(range.t));
        return res;
    }
    if (c->nvars >= 2 + MAX_COMPREHENSION_DEPTH) {
        p_error(c->p, a->pos, "comprehensions nest too deeply");
        return res;
    }
    if (strcmp(var->str, "self") == 0 || strcmp(var->str, "oldSelf") == 0) {
        p_error(c->p, var->pos,
                "comprehension variable '%s' shadows a "
                "reserved name",
                var->str);
        return res;
    }
    a->slot = c->nvars;
    c->names[c->nvars] = var->str;
    c->vars[c->nvars] = elem_type(&range);
    c->nvars++;
    body = check(c, a->args[1]);
    c->nvars--;
    c->names[c->nvars] = NULL;
    if (c->p->err != NULL) {
        return res;
    }
    switch (a->op) {
    case OP_ALL:
    case OP_EXISTS:
    case OP_EXISTS_ONE:
    case OP_FILTER:
        if (body.t != ST_BOOL && body.t != ST_DYN) {
            p_error(c->p, a->args[1]->pos,
                    "found no matching overload for '_&&_' applied to "
                    "'(bool, %s)'",
                    stype_name(body.t));
        }
        res.t = a->op == OP_FILTER ? ST_LIST : ST_BOOL;
        if (a->op == OP_FILTER && range.t == ST_LIST) {
            res.schema = range.schema;
        }
        return res;
    default:
        res.t = ST_LIST;
        return res;
    }
}

static sinfo check(checker *c, ast *a)
{
    sinfo res = {ST_DYN, NULL, 0};
    sinfo l, r;

    if (c->p->err != NULL) {
        return res;
    }
    switch (a->op) {
    case OP_NULL:
        res.t = ST_NULL;
        return res;
    case OP_BOOL:
        res.t = ST_BOOL;
        return res;
    case OP_INT:
        if (a->d != 0) {
            p_error(c->p, a->pos, "invalid int literal");
        }
        res.t = ST_INT;
        return res;
    case OP_DOUBLE:
        res.t = ST_DOUBLE;
        return res;
    case OP_STRING:
        res.t = ST_STRING;
        return res;
    case OP_IDENT: {
        int v = find_var(c, a->str);

        if (v < 0) {
            p_error(c->p, a->pos,
                    "undeclared reference to '%s' (in container "
                    "'')",
                    a->str);
            return res;
        }
        if (v == 1) {
            c->p->uses_old_self = 1;
        }
        a->slot = v;
        return c->vars[v];
    }
    case OP_SELECT: {
        char *field;

        l = check(c, a->args[0]);
        if (c->p->err != NULL) {
            return res;
        }
        field = unescape_field(a->str);
        res = select_type(c, &l, field, a->pos);
        dtk_free(a->str);
        a->str = field;
        a->str_len = strlen(field);
        return res;
    }
    case OP_HAS: {
        ast *sel = a->args[0];
        char *field;

        l = check(c, sel->args[0]);
        if (c->p->err != NULL) {
            return res;
        }
        field = unescape_field(sel->str);
        (void)select_type(c, &l, field, sel->pos);
        dtk_free(sel->str);
        sel->str = field;
        sel->str_len = strlen(field);
        res.t = ST_BOOL;
        return res;
    }
    case OP_INDEX:
        l = check(c, a->args[0]);
        r = check(c, a->args[1]);
        if (c->p->err != NULL) {
            return res;
        }
        if (l.t == ST_LIST) {
            if (r.t != ST_INT && r.t != ST_DYN) {
                no_overload(c, a, "_[_]", &l, &r);
            }
            return elem_type(&l);
        }
        if (l.t == ST_MAP) {
            if (r.t != ST_STRING && r.t != ST_DYN) {
                no_overload(c, a, "_[_]", &l, &r);
            }
            if (a->args[1]->op == OP_STRING) {
                return select_type(c, &l, a->args[1]->str, a->pos);
            }
            if (l.schema != NULL && l.schema->additional != NULL) {
                return of_schema(l.schema->additional, 0);
            }
            return res;
        }
        if (l.t != ST_DYN) {
            no_overload(c, a, "_[_]", &l, &r);
        }
        return res;
    case OP_CALL:
        return check_call(c, a);
    case OP_NOT:
        l = check(c, a->args[0]);
        if (c->p->err == NULL && l.t != ST_BOOL && l.t != ST_DYN) {
            no_overload(c, a, "!_", &l, NULL);
        }
        res.t = ST_BOOL;
        return res;
    case OP_NEG:
        l = check(c, a->args[0]);
        if (c->p->err == NULL && !is_num(l.t) && l.t != ST_DYN) {
            no_overload(c, a, "-_", &l, NULL);
        }
        res.t = l.t;
        return res;
    case OP_MUL:
    case OP_DIV:
    case OP_MOD:
    case OP_SUB:
    case OP_ADD: {
        static const char *const names[] = {"_*_", "_/_", "_%_", "_+_", "_-_"};
        const char *name = names[a->op == OP_MUL   ? 0
                                 : a->op == OP_DIV ? 1
                                 : a->op == OP_MOD ? 2
                                 : a->op == OP_ADD ? 3
                                                   : 4];

        l = check(c, a->args[0]);
        r = check(c, a->args[1]);
        if (c->p->err != NULL) {
            return res;
        }
        if (l.t == ST_DYN || r.t == ST_DYN) {
            res.t = l.t == ST_DYN ? r.t : l.t;
            if (res.t != ST_INT && res.t != ST_DOUBLE && res.t != ST_STRING &&
                res.t != ST_LIST) {
                res.t = ST_DYN;
            }
            return res;
        }
        if (l.t != r.t ||
            !(is_num(l.t) ||
              (a->op == OP_ADD && (l.t == ST_STRING || l.t == ST_LIST))) ||
            (a->op == OP_MOD && l.t != ST_INT)) {
            no_overload(c, a, name, &l, &r);
            return res;
        }
        res.t = l.t;
        return res;
    }
    case OP_EQ:
    case OP_NE:
        l = check(c, a->args[0]);
        r = check(c, a->args[1]);
        if (c->p->err == NULL && l.t != r.t && l.t != ST_DYN && r.t != ST_DYN &&
            l.t != ST_NULL && r.t != ST_NULL && !(is_num(l.t) && is_num(r.t))) {
            no_overload(c, a, a->op == OP_EQ ? "_==_" : "_!=_", &l, &r);
        }
        res.t = ST_BOOL;
        return res;
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE: {
        static const char *const names[] = {"_<_", "_<=_", "_>_", "_>=_"};

        l = check(c, a->args[0]);
        r = check(c, a->args[1]);
        if (c->p->err == NULL && l.t != ST_DYN && r.t != ST_DYN &&
            !(is_num(l.t) && is_num(r.t)) &&
            !(l.t == r.t && (l.t == ST_STRING || l.t == ST_BOOL))) {
            no_overload(c, a, names[a->op - OP_LT], &l, &r);
        }
        res.t = ST_BOOL;
        return res;
    }
    case OP_IN:
        l = check(c, a->args[0]);
        r = check(c, a->args[1]);
        if (c->p->err == NULL && r.t != ST_DYN && r.t != ST_LIST &&
            r.t != ST_MAP) {
            no_overload(c, a, "@in", &l, &r);
        }
        res.t = ST_BOOL;
        return res;
    case OP_AND:
    case OP_OR:
        l = check(c, a->args[0]);
        r = check(c, a->args[1]);
        if (c->p->err == NULL && ((l.t != ST_BOOL && l.t != ST_DYN) ||
                                  (r.t != ST_BOOL && r.t != ST_DYN))) {
            no_overload(c, a, a->op == OP_AND ? "_&&_" : "_||_", &l, &r);
        }
        res.t = ST_BOOL;
        return res;
    case OP_COND: {
        sinfo cond = check(c, a->args[0]);

        l = check(c, a->args[1]);
        r = check(c, a->args[2]);
        if (c->p->err != NULL) {
            return res;
        }
        if (cond.t != ST_BOOL && cond.t != ST_DYN) {
            no_overload(c, a, "_?_:_", &cond, NULL);
            return res;
        }
        if (l.t == r.t) {
            return l;
        }
        if (l.t == ST_NULL) {
            return r;
        }
        if (r.t == ST_NULL) {
            return l;
        }
        return res;
    }
    case OP_LIST:
        for (size_t i = 0; i < a->nargs; i++) {
            (void)check(c, a->args[i]);
        }
        res.t = ST_LIST;
        return res;
    case OP_MAP:
        for (size_t i = 0; i < a->nargs; i++) {
            sinfo s = check(c, a->args[i]);

            if (i % 2 == 0 && c->p->err == NULL && s.t != ST_STRING &&
                s.t != ST_DYN) {
                p_error(c->p, a->args[i]->pos,
                        "map keys other than strings are not supported by "
                        "this development API server");
            }
        }
        res.t = ST_MAP;
        return res;
    case OP_ALL:
    case OP_EXISTS:
    case OP_EXISTS_ONE:
    case OP_MAPM:
    case OP_FILTER:
        return check_comprehension(c, a);
    }
    return res;
}

/* "ERROR: <input>:L:C: msg\n | line\n | ....^" as cel-go prints issues. */
static char *format_issue(const char *src, size_t pos, const char *msg)
{
    dtk_buf b = DTK_BUF_INIT(0);
    size_t line = 1, col = 0, line_start = 0, line_end;

    for (size_t i = 0; i < pos && src[i] != '\0'; i++) {
        if (src[i] == '\n') {
            line++;
            line_start = i + 1;
            col = 0;
        } else {
            col++;
        }
    }
    line_end = line_start;
    while (src[line_end] != '\0' && src[line_end] != '\n') {
        line_end++;
    }
    (void)dtk_buf_printf(&b, "ERROR: <input>:%zu:%zu: %s\n | ", line, col + 1,
                         msg);
    (void)dtk_buf_put(&b, src + line_start, line_end - line_start);
    (void)dtk_buf_puts(&b, "\n | ");
    for (size_t i = 0; i < col; i++) {
        (void)dtk_buf_putc(&b, '.');
    }
    (void)dtk_buf_putc(&b, '^');
    return dtk_buf_detach(&b);
}

int dtk_schema__cel_compile(dtk_schema__cel **out,
                            const char *expr,
                            const dtk_schema__node *self,
                            int want,
                            char **err_out)
{
    parser p;
    checker c;
    ast *root = NULL;
    sinfo result;
    dtk_schema__cel *prog = NULL;
    dtk_buf msg = DTK_BUF_INIT(0);
    int error = DTK_EINVALID;

    memset(&p, 0, sizeof(p));
    memset(&c, 0, sizeof(c));
    *out = NULL;
    *err_out = NULL;
    p.src = expr;
    p.len = strlen(expr);
    dtk_buf_init(&p.text, 0);
    next(&p);
    root = parse_expr(&p);
    if (root != NULL && p.err == NULL && p.t != T_EOF) {
        p_error(&p, p.tpos,
                "Syntax error: extraneous input '%.*s' expecting "
                "<EOF>",
                (int)(p.pos - p.tpos), p.src + p.tpos);
    }
    if (p.err == NULL) {
        c.p = &p;
        c.names[0] = "self";
        c.names[1] = "oldSelf";
        c.vars[0] = of_schema(
            self, self != NULL && (self->embedded || self->resource_root));
        c.vars[1] = c.vars[0];
        c.nvars = 2;
        result = check(&c, root);
    }
    if (p.err != NULL) {
        char *issue = format_issue(expr, p.err_pos, p.err);

        (void)dtk_buf_printf(
            &msg, "%scompilation failed: %s",
            want == DTK_SCHEMA__CEL_WANT_STRING ? "messageExpression " : "",
            issue);
        dtk_free(issue);
        goto out;
    }
    if (want == DTK_SCHEMA__CEL_WANT_BOOL && result.t != ST_BOOL) {
        (void)dtk_buf_puts(&msg, "cel expression must evaluate to a bool");
        goto out;
    }
    if (want == DTK_SCHEMA__CEL_WANT_STRING && result.t != ST_STRING) {
        (void)dtk_buf_puts(&msg, "messageExpression must evaluate to a string");
        goto out;
    }
    prog = dtk_calloc(1, sizeof(*prog));
    prog->src = dtk_strdup(expr);
    prog->root = root;
    prog->uses_old_self = p.uses_old_self;
    root = NULL;
    *out = prog;
    error = 0;
out:
    if (error < 0) {
        *err_out = dtk_buf_detach(&msg);
    }
    dtk_buf_dispose(&msg);
    dtk_buf_dispose(&p.text);
    dtk_free(p.err);
    ast_free(root);
    return error;
}

void dtk_schema__cel_free(dtk_schema__cel *p)
{
    if (p == NULL) {
        return;
    }
    ast_free(p->root);
    dtk_free(p->src);
    dtk_free(p);
}

int dtk_schema__cel_uses_old_self(const dtk_schema__cel *p)
{
    return p->uses_old_self;
}

/* ------------------------------------------------------------------ */
/* Evaluator                                                            */

typedef enum vkind {
    V_ERR,
    V_NULL,
    V_BOOL,
    V_INT,
    V_DOUBLE,
    V_STRING,
    V_LIST, /* a JSON array */
    V_MAP,  /* a JSON object */
} vkind;

typedef struct val {
    vkind k;
    int b;
    int64_t i;
    double d;
    const char *s; /* V_STRING bytes, or V_ERR message */
    size_t n;
    const dtk_json *j; /* V_LIST, V_MAP */
} val;

typedef struct eval {
    val vars[2 + MAX_COMPREHENSION_DEPTH];
    long steps;
    long limit; /* the per-call limit, or less when the budget is short */
    int over_budget;
    /* Everything created during one evaluation, freed at the end. */
    dtk_json **json;
    size_t njson, capjson;
    char **strs;
    size_t nstrs, capstrs;
} eval;

static const char *keep_str(eval *e, char *s)
{
    if (e->nstrs == e->capstrs) {
        e->capstrs = e->capstrs ? e->capstrs * 2 : 8;
        e->strs = dtk_realloc(e->strs, e->capstrs * sizeof(*e->strs));
    }
    e->strs[e->nstrs++] = s;
    return s;
}

static const dtk_json *keep_json(eval *e, dtk_json *j)
{
    if (e->njson == e->capjson) {
        e->capjson = e->capjson ? e->capjson * 2 : 8;
        e->json = dtk_realloc(e->json, e->capjson * sizeof(*e->json));
    }
    e->json[e->njson++] = j;
    return j;
}

static val verr(eval *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static val verr(eval *e, const char *fmt, ...)
{
    dtk_buf b = DTK_BUF_INIT(0);
    val v;
    va_list ap;

    memset(&v, 0, sizeof(v));
    va_start(ap, fmt);
    (void)dtk_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    v.k = V_ERR;
    v.n = b.len;
    v.s = keep_str(e, dtk_buf_detach(&b));
    return v;
}

static val vbool(int b)
{
    val v;

    memset(&v, 0, sizeof(v));
    v.k = V_BOOL;
    v.b = b != 0;
    return v;
}

static val vint(int64_t i)
{
    val v;

    memset(&v, 0, sizeof(v));
    v.k = V_INT;
    v.i = i;
    return v;
}

static val vdouble(double d)
{
    val v;

    memset(&v, 0, sizeof(v));
    v.k = V_DOUBLE;
    v.d = d;
    return v;
}

static val vstr(const char *s, size_t n)
{
    val v;

    memset(&v, 0, sizeof(v));
    v.k = V_STRING;
    v.s = s;
    v.n = n;
    return v;
}

static val of_json(const dtk_json *j)
{
    val v;
    int64_t i;

    memset(&v, 0, sizeof(v));
    switch (j->type) {
    case DTK_JSON_NULL:
        v.k = V_NULL;
        break;
    case DTK_JSON_BOOL:
        v.k = V_BOOL;
        v.b = j->u.boolean;
        break;
    case DTK_JSON_NUMBER:
        if (dtk_fielderr_number_int(j, &i)) {
            v.k = V_INT;
            v.i = i;
        } else {
            v.k = V_DOUBLE;
            v.d = dtk_json_double(j);
        }
        break;
    case DTK_JSON_STRING:
        v.k = V_STRING;
        v.s = j->u.string.ptr;
        v.n = j->u.string.len;
        break;
    case DTK_JSON_ARRAY:
        v.k = V_LIST;
        v.j = j;
        break;
    case DTK_JSON_OBJECT:
        v.k = V_MAP;
        v.j = j;
        break;
    }
    return v;
}

/* A value as a new JSON tree, for building lists and maps. */
static dtk_json *to_json(const val *v)
{
    switch (v->k) {
    case V_BOOL:
        return dtk_json_new_bool(v->b);
    case V_INT:
        return dtk_json_new_int(v->i);
    case V_DOUBLE: {
        dtk_json *j = dtk_json_new_double(v->d);

        /* Keep doubles doubles: "2" would read back as an int. */
        if (dtk_json_is_integer(j)) {
            dtk_buf b = DTK_BUF_INIT(0);

            (void)dtk_buf_printf(&b, "%s.0", j->u.number);
            dtk_json_free(j);
            j = dtk_json_new_number_text(dtk_buf_cstr(&b));
            dtk_buf_dispose(&b);
        }
        return j;
    }
    case V_STRING:
        return dtk_json_new_stringn(v->s, v->n);
    case V_LIST:
    case V_MAP:
        return dtk_json_copy(v->j);
    default:
        return dtk_json_new_null();
    }
}

static const char *kind_name(vkind k)
{
    switch (k) {
    case V_NULL:
        return "null_type";
    case V_BOOL:
        return "bool";
    case V_INT:
        return "int";
    case V_DOUBLE:
        return "double";
    case V_STRING:
        return "string";
    case V_LIST:
        return "list";
    case V_MAP:
        return "map";
    default:
        return "error";
    }
}

static val ev(eval *e, const ast *a);

static int step(eval *e)
{
    if (++e->steps > e->limit) {
        e->over_budget = 1;
        return 0;
    }
    return 1;
}

static val over_budget(eval *e)
{
    e->over_budget = 1;
    return verr(e, "operation cancelled: actual cost limit exceeded");
}

static size_t rune_count(const char *s, size_t n)
{
    size_t count = 0;

    for (size_t i = 0; i < n; i++) {
        /* Count every byte that does not continue a sequence; invalid
         * bytes count one each, as Go's utf8.RuneCount does. */
        if (((unsigned char)s[i] & 0xc0) != 0x80) {
            count++;
        }
    }
    return count;
}

static int compare_strings(const char *a, size_t an, const char *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    int c = memcmp(a, b, n);

    if (c != 0) {
        return c < 0 ? -1 : 1;
    }
    return an < bn ? -1 : (an > bn ? 1 : 0);
}

/* CEL equality; 1, 0, or -1 when the cost budget ran out. */
static int equal(eval *e, const val *x, const val *y)
{
    if (!step(e)) {
        return -1;
    }
    if ((x->k == V_INT || x->k == V_DOUBLE) &&
        (y->k == V_INT || y->k == V_DOUBLE)) {
        if (x->k == V_INT && y->k == V_INT) {
            return x->i == y->i;
        }
        return (x->k == V_INT ? (double)x->i : x->d) ==
               (y->k == V_INT ? (double)y->i : y->d);
    }
    if (x->k != y->k) {
        return 0;
    }
    switch (x->k) {
    case V_NULL:
        return 1;
    case V_BOOL:
        return x->b == y->b;
    case V_STRING:
        return x->n == y->n && memcmp(x->s, y->s, x->n) == 0;
    case V_LIST:
        if (x->j->u.array.len != y->j->u.array.len) {
            return 0;
        }
        for (size_t i = 0; i < x->j->u.array.len; i++) {
            val a = of_json(x->j->u.array.items[i]);
            val b = of_json(y->j->u.array.items[i]);
            int r = equal(e, &a, &b);

            if (r != 1) {
                return r;
            }
        }
        return 1;
    case V_MAP:
        if (x->j->u.object.len != y->j->u.object.len) {
            return 0;
        }
        for (size_t i = 0; i < x->j->u.object.len; i++) {
            const dtk_json *other = dtk_json_get(y->j, x->j->u.object.keys[i]);
            val a, b;
            int r;

            if (other == NULL) {
                return 0;
            }
            a = of_json(x->j->u.object.values[i]);
            b = of_json(other);
            r = equal(e, &a, &b);
            if (r != 1) {
                return r;
            }
        }
        return 1;
    default:
        return 0;
    }
}

static val ev_select(eval *e, const ast *a, int test_only)
{
    val obj = ev(e, a->args[0]);
    const dtk_json *f;

    if (obj.k == V_ERR) {
        return obj;
    }
    if (obj.k != V_MAP) {
        if (obj.k == V_NULL) {
            return verr(e, "no such key: %s", a->str);
        }
        return verr(e, "no such overload");
    }
    f = dtk_json_get(obj.j, a->str);
    if (test_only) {
        return vbool(f != NULL);
    }
    if (f == NULL) {
        return verr(e, "no such key: %s", a->str);
    }
    return of_json(f);
}

static val ev_index(eval *e, const ast *a)
{
    val obj = ev(e, a->args[0]);
    val ix;

    if (obj.k == V_ERR) {
        return obj;
    }
    ix = ev(e, a->args[1]);
    if (ix.k == V_ERR) {
        return ix;
    }
    if (obj.k == V_LIST) {
        int64_t i;

        if (ix.k == V_INT) {
            i = ix.i;
        } else if (ix.k == V_DOUBLE && ix.d == floor(ix.d)) {
            i = (int64_t)ix.d;
        } else {
            return verr(e, "unsupported index type '%s' in list",
                        kind_name(ix.k));
        }
        if (i < 0 || (uint64_t)i >= obj.j->u.array.len) {
            return verr(e, "index out of bounds: %lld", (long long)i);
        }
        return of_json(obj.j->u.array.items[i]);
    }
    if (obj.k == V_MAP) {
        char *key;
        const dtk_json *f;

        if (ix.k != V_STRING) {
            return verr(e, "no such key: %s", kind_name(ix.k));
        }
        key = dtk_strndup(ix.s, ix.n);
        f = dtk_json_get(obj.j, key);
        if (f == NULL) {
            val err = verr(e, "no such key: %s", key);

            dtk_free(key);
            return err;
        }
        dtk_free(key);
        return of_json(f);
    }
    return verr(e, "no such overload");
}

static val ev_arith(eval *e, op o, val l, val r)
{
    if (l.k == V_INT && r.k == V_INT) {
        int64_t res;

        switch (o) {
        case OP_ADD:
            if (__builtin_add_overflow(l.i, r.i, &res)) {
                return verr(e, "integer overflow");
            }
            return vint(res);
        case OP_SUB:
            if (__builtin_sub_overflow(l.i, r.i, &res)) {
                return verr(e, "integer overflow");
            }
            return vint(res);
        case OP_MUL:
            if (__builtin_mul_overflow(l.i, r.i, &res)) {
                return verr(e, "integer overflow");
            }
            return vint(res);
        case OP_DIV:
            if (r.i == 0) {
                return verr(e, "division by zero");
            }
            if (l.i == INT64_MIN && r.i == -1) {
                return verr(e, "integer overflow");
            }
            return vint(l.i / r.i);
        default:
            if (r.i == 0) {
                return verr(e, "modulus by zero");
            }
            if (l.i == INT64_MIN && r.i == -1) {
                return verr(e, "integer overflow");
            }
            return vint(l.i % r.i);
        }
    }
    if (l.k == V_DOUBLE && r.k == V_DOUBLE && o != OP_MOD) {
        switch (o) {
        case OP_ADD:
            return vdouble(l.d + r.d);
        case OP_SUB:
            return vdouble(l.d - r.d);
        case OP_MUL:
            return vdouble(l.d * r.d);
        default:
            return vdouble(l.d / r.d);
        }
    }
    if (o == OP_ADD && l.k == V_STRING && r.k == V_STRING) {
        char *s = dtk_malloc(l.n + r.n + 1);

        memcpy(s, l.s, l.n);
        memcpy(s + l.n, r.s, r.n);
        s[l.n + r.n] = '\0';
        return vstr(keep_str(e, s), l.n + r.n);
    }
    if (o == OP_ADD && l.k == V_LIST && r.k == V_LIST) {
        dtk_json *j = dtk_json_new_array();
        val v;

        if (e->steps + (long)(l.j->u.array.len + r.j->u.array.len) > e->limit) {
            dtk_json_free(j);
            return over_budget(e);
        }
        e->steps += (long)(l.j->u.array.len + r.j->u.array.len);
        for (size_t i = 0; i < l.j->u.array.len; i++) {
            dtk_json_append(j, dtk_json_copy(l.j->u.array.items[i]));
        }
        for (size_t i = 0; i < r.j->u.array.len; i++) {
            dtk_json_append(j, dtk_json_copy(r.j->u.array.items[i]));
        }
        memset(&v, 0, sizeof(v));
        v.k = V_LIST;
        v.j = keep_json(e, j);
        return v;
    }
    return verr(e, "no such overload");
}

/* -1, 0, 1, or 2 when the values do not compare. */
static int order(const val *l, const val *r)
{
    if ((l->k == V_INT || l->k == V_DOUBLE) &&
        (r->k == V_INT || r->k == V_DOUBLE)) {
        if (l->k == V_INT && r->k == V_INT) {
            return l->i < r->i ? -1 : (l->i > r->i ? 1 : 0);
        }
        {
            double a = l->k == V_INT ? (double)l->i : l->d;
            double b = r->k == V_INT ? (double)r->i : r->d;

            if (isnan(a) || isnan(b)) {
                return 2;
            }
            return a < b ? -1 : (a > b ? 1 : 0);
        }
    }
    if (l->k == V_STRING && r->k == V_STRING) {
        return compare_strings(l->s, l->n, r->s, r->n);
    }
    if (l->k == V_BOOL && r->k == V_BOOL) {
        return l->b < r->b ? -1 : (l->b > r->b ? 1 : 0);
    }
    return 2;
}

static val ev_call(eval *e, const ast *a)
{
    const char *fn = a->str;
    val recv, arg;

    memset(&recv, 0, sizeof(recv));
    memset(&arg, 0, sizeof(arg));
    if (a->target != NULL) {
        recv = ev(e, a->target);
        if (recv.k == V_ERR) {
            return recv;
        }
    }
    if (a->nargs > 0) {
        arg = ev(e, a->args[0]);
        if (arg.k == V_ERR) {
            return arg;
        }
    }
    if (strcmp(fn, "size") == 0) {
        val *x = a->target != NULL ? &recv : &arg;

        switch (x->k) {
        case V_STRING:
            return vint((int64_t)rune_count(x->s, x->n));
        case V_LIST:
            return vint((int64_t)x->j->u.array.len);
        case V_MAP:
            return vint((int64_t)x->j->u.object.len);
        default:
            return verr(e, "no such overload");
        }
    }
    if (strcmp(fn, "string") == 0) {
        switch (arg.k) {
        case V_STRING:
            return arg;
        case V_BOOL:
            return vstr(arg.b ? "true" : "false", arg.b ? 4 : 5);
        case V_INT: {
            dtk_buf b = DTK_BUF_INIT(0);
            size_t n;

            (void)dtk_buf_printf(&b, "%lld", (long long)arg.i);
            n = b.len;
            return vstr(keep_str(e, dtk_buf_detach(&b)), n);
        }
        case V_DOUBLE: {
            dtk_buf b = DTK_BUF_INIT(0);
            size_t n;

            dtk_fielderr_fmt_float(&b, arg.d);
            n = b.len;
            return vstr(keep_str(e, dtk_buf_detach(&b)), n);
        }
        default:
            return verr(e, "no such overload");
        }
    }
    if (strcmp(fn, "int") == 0) {
        if (arg.k == V_INT) {
            return arg;
        }
        if (arg.k == V_DOUBLE) {
            if (!(arg.d > -9223372036854775808.0 &&
                  arg.d < 9223372036854775808.0)) {
                return verr(e, "double is out of range for int");
            }
            return vint((int64_t)arg.d);
        }
        if (arg.k == V_STRING) {
            char *s = dtk_strndup(arg.s, arg.n);
            char *end = NULL;
            long long v;

            errno = 0;
            v = strtoll(s, &end, 10);
            if (errno != 0 || end == s || *end != '\0' ||
                isspace((unsigned char)s[0])) {
                val err = verr(e, "cannot convert string to int");

                dtk_free(s);
                return err;
            }
            dtk_free(s);
            return vint(v);
        }
        return verr(e, "no such overload");
    }
    if (strcmp(fn, "double") == 0) {
        if (arg.k == V_DOUBLE) {
            return arg;
        }
        if (arg.k == V_INT) {
            return vdouble((double)arg.i);
        }
        if (arg.k == V_STRING) {
            char *s = dtk_strndup(arg.s, arg.n);
            char *end = NULL;
            double v = strtod(s, &end);
            int ok = end != s && *end == '\0';

            dtk_free(s);
            if (!ok) {
                return verr(e, "cannot convert string to double");
            }
            return vdouble(v);
        }
        return verr(e, "no such overload");
    }
    if (recv.k != V_STRING) {
        return verr(e, "no such overload");
    }
    if (strcmp(fn, "lowerAscii") == 0 || strcmp(fn, "upperAscii") == 0) {
        char *s = dtk_malloc(recv.n + 1);

        for (size_t i = 0; i < recv.n; i++) {
            unsigned char c = (unsigned char)recv.s[i];

            s[i] =
                (char)(c < 0x80 ? (fn[0] == 'l' ? tolower(c) : toupper(c)) : c);
        }
        s[recv.n] = '\0';
        return vstr(keep_str(e, s), recv.n);
    }
    if (arg.k != V_STRING) {
        return verr(e, "no such overload");
    }
    if (strcmp(fn, "startsWith") == 0) {
        return vbool(arg.n <= recv.n && memcmp(recv.s, arg.s, arg.n) == 0);
    }
    if (strcmp(fn, "endsWith") == 0) {
        return vbool(arg.n <= recv.n &&
                     memcmp(recv.s + recv.n - arg.n, arg.s, arg.n) == 0);
    }
    if (strcmp(fn, "contains") == 0) {
        if (arg.n == 0) {
            return vbool(1);
        }
        for (size_t i = 0; i + arg.n <= recv.n; i++) {
            if (memcmp(recv.s + i, arg.s, arg.n) == 0) {
                return vbool(1);
            }
        }
        return vbool(0);
    }
    if (strcmp(fn, "matches") == 0) {
        regex_t *re = a->re;
        val res;

        if (re == NULL) {
            char *pat = dtk_strndup(arg.s, arg.n);
            char *err = NULL;
            int error = dtk_schema__regex_compile(&re, pat, &err);

            dtk_free(pat);
            if (error < 0) {
                val v = verr(e, "%s", err);

                dtk_free(err);
                return v;
            }
        }
        res = vbool(dtk_schema__regex_match(re, recv.s, recv.n));
        if (re != a->re) {
            dtk_schema__regex_free(re);
        }
        return res;
    }
    return verr(e, "no such overload");
}

static val ev_comprehension(eval *e, const ast *a)
{
    val range = ev(e, a->target);
    size_t n;
    size_t count = 0;
    val first_err;
    int have_err = 0;
    dtk_json *built = NULL;

    memset(&first_err, 0, sizeof(first_err));
    if (range.k == V_ERR) {
        return range;
    }
    if (range.k == V_LIST) {
        n = range.j->u.array.len;
    } else if (range.k == V_MAP) {
        n = range.j->u.object.len;
    } else {
        return verr(e, "no such overload");
    }
    if (a->op == OP_MAPM || a->op == OP_FILTER) {
        built = dtk_json_new_array();
    }
    for (size_t i = 0; i < n; i++) {
        val item, r;

        if (!step(e)) {
            dtk_json_free(built);
            return over_budget(e);
        }
        if (range.k == V_LIST) {
            item = of_json(range.j->u.array.items[i]);
        } else {
            const char *k = range.j->u.object.keys[i];

            item = vstr(k, strlen(k));
        }
        e->vars[a->slot] = item;
        r = ev(e, a->args[1]);
        if (e->over_budget) {
            dtk_json_free(built);
            return r;
        }
        if (a->op == OP_MAPM) {
            if (r.k == V_ERR) {
                dtk_json_free(built);
                return r;
            }
            dtk_json_append(built, to_json(&r));
            continue;
        }
        if (r.k == V_ERR) {
            if (!have_err) {
                first_err = r;
                have_err = 1;
            }
            if (a->op == OP_FILTER) {
                dtk_json_free(built);
                return r;
            }
            continue;
        }
        if (r.k != V_BOOL) {
            dtk_json_free(built);
            return verr(e, "no such overload");
        }
        switch (a->op) {
        case OP_ALL:
            if (!r.b) {
                return vbool(0);
            }
            break;
        case OP_EXISTS:
            if (r.b) {
                return vbool(1);
            }
            break;
        case OP_EXISTS_ONE:
            count += r.b ? 1 : 0;
            break;
        default: /* OP_FILTER */
            if (r.b) {
                dtk_json_append(built, to_json(&item));
            }
            break;
        }
    }
    if (built != NULL) {
        val v;

        memset(&v, 0, sizeof(v));
        v.k = V_LIST;
        v.j = keep_json(e, built);
        return v;
    }
    if (have_err) {
        return first_err;
    }
    switch (a->op) {
    case OP_ALL:
        return vbool(1);
    case OP_EXISTS:
        return vbool(0);
    default:
        return vbool(count == 1);
    }
}

static val ev(eval *e, const ast *a)
{
    val l, r;

    if (!step(e)) {
        return over_budget(e);
    }
    switch (a->op) {
    case OP_NULL: {
        val v;

        memset(&v, 0, sizeof(v));
        v.k = V_NULL;
        return v;
    }
    case OP_BOOL:
        return vbool(a->boolean);
    case OP_INT:
        return vint(a->i);
    case OP_DOUBLE:
        return vdouble(a->d);
    case OP_STRING:
        return vstr(a->str, a->str_len);
    case OP_IDENT:
        return e->vars[a->slot];
    case OP_SELECT:
        return ev_select(e, a, 0);
    case OP_HAS:
        return ev_select(e, a->args[0], 1);
    case OP_INDEX:
        return ev_index(e, a);
    case OP_CALL:
        return ev_call(e, a);
    case OP_NOT:
        l = ev(e, a->args[0]);
        if (l.k == V_ERR) {
            return l;
        }
        if (l.k != V_BOOL) {
            return verr(e, "no such overload");
        }
        return vbool(!l.b);
    case OP_NEG:
        l = ev(e, a->args[0]);
        if (l.k == V_ERR) {
            return l;
        }
        if (l.k == V_INT) {
            if (l.i == INT64_MIN) {
                return verr(e, "integer overflow");
            }
            return vint(-l.i);
        }
        if (l.k == V_DOUBLE) {
            return vdouble(-l.d);
        }
        return verr(e, "no such overload");
    case OP_MUL:
    case OP_DIV:
    case OP_MOD:
    case OP_ADD:
    case OP_SUB:
        l = ev(e, a->args[0]);
        if (l.k == V_ERR) {
            return l;
        }
        r = ev(e, a->args[1]);
        if (r.k == V_ERR) {
            return r;
        }
        return ev_arith(e, a->op, l, r);
    case OP_EQ:
    case OP_NE: {
        int eq;

        l = ev(e, a->args[0]);
        if (l.k == V_ERR) {
            return l;
        }
        r = ev(e, a->args[1]);
        if (r.k == V_ERR) {
            return r;
        }
        eq = equal(e, &l, &r);
        if (eq < 0) {
            return over_budget(e);
        }
        return vbool(a->op == OP_EQ ? eq : !eq);
    }
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE: {
        int c;

        l = ev(e, a->args[0]);
        if (l.k == V_ERR) {
            return l;
        }
        r = ev(e, a->args[1]);
        if (r.k == V_ERR) {
            return r;
        }
        c = order(&l, &r);
        if (c == 2) {
            if ((l.k == V_DOUBLE && isnan(l.d)) ||
                (r.k == V_DOUBLE && isnan(r.d))) {
                return vbool(0);
            }
            return verr(e, "no such overload");
        }
        switch (a->op) {
        case OP_LT:
            return vbool(c < 0);
        case OP_LE:
            return vbool(c <= 0);
        case OP_GT:
            return vbool(c > 0);
        default:
            return vbool(c >= 0);
        }
    }
    case OP_IN:
        l = ev(e, a->args[0]);
        if (l.k == V_ERR) {
            return l;
        }
        r = ev(e, a->args[1]);
        if (r.k == V_ERR) {
            return r;
        }
        if (r.k == V_LIST) {
            for (size_t i = 0; i < r.j->u.array.len; i++) {
                val item = of_json(r.j->u.array.items[i]);
                int eq = equal(e, &l, &item);

                if (eq < 0) {
                    return over_budget(e);
                }
                if (eq) {
                    return vbool(1);
                }
            }
            return vbool(0);
        }
        if (r.k == V_MAP) {
            char *key;
            int found;

            if (l.k != V_STRING) {
                return vbool(0);
            }
            key = dtk_strndup(l.s, l.n);
            found = dtk_json_get(r.j, key) != NULL;
            dtk_free(key);
            return vbool(found);
        }
        return verr(e, "no such overload");
    case OP_AND:
    case OP_OR: {
        int decisive = a->op == OP_OR; /* the value that decides */

        l = ev(e, a->args[0]);
        if (e->over_budget) {
            return l;
        }
        if (l.k == V_BOOL && l.b == decisive) {
            return l;
        }
        r = ev(e, a->args[1]);
        if (e->over_budget) {
            return r;
        }
        if (r.k == V_BOOL && r.b == decisive) {
            return r;
        }
        if (l.k == V_ERR) {
            return l;
        }
        if (r.k == V_ERR) {
            return r;
        }
        if (l.k != V_BOOL || r.k != V_BOOL) {
            return verr(e, "no such overload");
        }
        return vbool(!decisive);
    }
    case OP_COND:
        l = ev(e, a->args[0]);
        if (l.k == V_ERR) {
            return l;
        }
        if (l.k != V_BOOL) {
            return verr(e, "no such overload");
        }
        return ev(e, a->args[l.b ? 1 : 2]);
    case OP_LIST: {
        dtk_json *j = dtk_json_new_array();
        val v;

        for (size_t i = 0; i < a->nargs; i++) {
            val item = ev(e, a->args[i]);

            if (item.k == V_ERR) {
                dtk_json_free(j);
                return item;
            }
            dtk_json_append(j, to_json(&item));
        }
        memset(&v, 0, sizeof(v));
        v.k = V_LIST;
        v.j = keep_json(e, j);
        return v;
    }
    case OP_MAP: {
        dtk_json *j = dtk_json_new_object();
        val v;

        for (size_t i = 0; i + 1 < a->nargs; i += 2) {
            val k = ev(e, a->args[i]);
            val item;
            char *key;

            if (k.k == V_ERR) {
                dtk_json_free(j);
                return k;
            }
            if (k.k != V_STRING) {
                dtk_json_free(j);
                return verr(e, "unsupported key type");
            }
            item = ev(e, a->args[i + 1]);
            if (item.k == V_ERR) {
                dtk_json_free(j);
                return item;
            }
            key = dtk_strndup(k.s, k.n);
            if (dtk_json_get(j, key) != NULL) {
                val err = verr(e, "Failed with repeated key");

                dtk_free(key);
                dtk_json_free(j);
                return err;
            }
            dtk_json_set(j, key, to_json(&item));
            dtk_free(key);
        }
        memset(&v, 0, sizeof(v));
        v.k = V_MAP;
        v.j = keep_json(e, j);
        return v;
    }
    case OP_ALL:
    case OP_EXISTS:
    case OP_EXISTS_ONE:
    case OP_MAPM:
    case OP_FILTER:
        return ev_comprehension(e, a);
    }
    return verr(e, "no such overload");
}

static void eval_dispose(eval *e)
{
    for (size_t i = 0; i < e->njson; i++) {
        dtk_json_free(e->json[i]);
    }
    dtk_free(e->json);
    for (size_t i = 0; i < e->nstrs; i++) {
        dtk_free(e->strs[i]);
    }
    dtk_free(e->strs);
}

static int run(const dtk_schema__cel *p,
               const dtk_json *self,
               const dtk_json *old_self,
               long *budget,
               eval *e,
               val *out,
               char **err_out)
{
    int error = 0;

    memset(e, 0, sizeof(*e));
    e->limit = DTK_SCHEMA__CEL_CALL_LIMIT;
    if (budget != NULL && *budget < e->limit) {
        e->limit = *budget;
    }
    e->vars[0] = of_json(self);
    if (old_self != NULL) {
        e->vars[1] = of_json(old_self);
    } else {
        e->vars[1] = vint(0);
        e->vars[1].k = V_NULL;
    }
    *out = ev(e, p->root);
    if (e->over_budget) {
        *err_out = dtk_strdup("operation cancelled: actual cost limit "
                              "exceeded");
        error = DTK_ETOOBIG;
    } else if (out->k == V_ERR) {
        *err_out = dtk_strndup(out->s, out->n);
        error = DTK_EINVALID;
    }
    if (budget != NULL) {
        *budget -= e->steps;
        if (e->over_budget && e->limit < DTK_SCHEMA__CEL_CALL_LIMIT) {
            *budget = -1; /* the object's budget ran out, not the call's */
        }
    }
    return error;
}

int dtk_schema__cel_eval_bool(const dtk_schema__cel *p,
                              const dtk_json *self,
                              const dtk_json *old_self,
                              long *budget,
                              int *result,
                              char **err_out)
{
    eval e;
    val v;
    int error;

    *err_out = NULL;
    error = run(p, self, old_self, budget, &e, &v, err_out);
    if (error == 0 && v.k != V_BOOL) {
        *err_out = dtk_strdup("no such overload");
        error = DTK_EINVALID;
    }
    if (error == 0) {
        *result = v.b;
    }
    eval_dispose(&e);
    return error;
}

int dtk_schema__cel_eval_string(const dtk_schema__cel *p,
                                const dtk_json *self,
                                const dtk_json *old_self,
                                long *budget,
                                char **out,
                                char **err_out)
{
    eval e;
    val v;
    int error;

    *out = NULL;
    *err_out = NULL;
    error = run(p, self, old_self, budget, &e, &v, err_out);
    if (error == 0 && v.k != V_STRING) {
        *err_out = dtk_strdup("messageExpression failed to convert to string");
        error = DTK_EINVALID;
    }
    if (error == 0) {
        *out = dtk_strndup(v.s, v.n);
    }
    eval_dispose(&e);
    return error;
}

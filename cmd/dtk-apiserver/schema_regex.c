/* CRD patterns and string formats.
 *
 * Kubernetes compiles `pattern` with Go's regexp package (RE2 syntax); CRD
 * authors mostly write the ECMA-262 subset both share. We translate that
 * subset to POSIX extended regular expressions and let glibc regcomp(3)
 * match (unanchored, like Go's MatchString):
 *   \d \D \w \W \s \S      -> [0-9] [^0-9] [A-Za-z0-9_] [^A-Za-z0-9_]
 *                             [[:space:]] [^[:space:]], also inside [...]
 *   \n \t \r \f \v \a      -> the control character
 *   \xHH \x{HHHH}          -> the character (UTF-8)
 *   \. \- \/ and any other escaped punctuation -> the literal character
 *   \b \B                  -> glibc's word boundary operators
 *   \A \z                  -> ^ $
 *   (?:...) (?P<n>...) (?<n>...) -> plain groups (we never extract groups)
 *   (?i) at the start      -> REG_ICASE
 *   *? +? ?? {n,m}?        -> greedy forms (same match/no-match answer)
 *   [...]                  -> rebuilt so ']' comes first and '-' last, as
 *                             POSIX needs; [[:alpha:]] classes pass through
 * Errors are worded like Go's ("error parsing regexp: missing closing ):
 * `(a`") for what RE2 rejects too: unbalanced ( ) [ ], a repetition without
 * argument or nested (a**), repeat counts above 1000, reversed ranges,
 * unknown escapes (including ECMA's \uXXXX and back-references), and
 * look-around ("invalid or unsupported Perl syntax: `(?=`").
 * What differs, and is rejected with "not supported by this development
 * API server" instead of silently matching wrongly: \p{..} Unicode classes,
 * \Q..\E, flags other than a leading (?i), and non-ASCII characters inside
 * [...]. Known remaining differences: '.' also matches '\n' (RE2 does not
 * without (?s)), and '.' matches one byte, not one code point, outside
 * ASCII (regcomp runs in the C locale).
 *
 * Formats follow go-openapi strfmt as vendored by Kubernetes v1.32; the
 * checks are faithful for date, date-time, uuid*, ip*, cidr, mac, byte,
 * hexcolor, rgbcolor, ssn, isbn*, bsonobjectid, and looser for hostname,
 * email, uri, duration and creditcard (documented per function).
 */
#include "cmd/dtk-apiserver/schema_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/error.h"

/* RE2's limit on a single repeat count and on nested repetition growth. */
#define MAX_REPEAT      1000
#define MAX_GROUP_DEPTH 100

typedef struct translator {
    const char *pat;
    size_t len;
    size_t i;
    dtk_buf out;
    int icase;
    int depth;
    /* Repetition growth inside each open group, and of the last atom, so
     * (a{1000}){1000} is refused like RE2's "expression too large". */
    double group_weight[MAX_GROUP_DEPTH + 1];
    double atom_weight;
    int can_repeat;    /* an atom precedes: a quantifier is allowed */
    int just_repeated; /* the previous token was a quantifier */
    char *err;         /* Go-style error, owned */
    int unsupported;   /* err is a "not supported here" error */
} translator;

static void tr_fail(translator *t,
                    const char *code,
                    const char *expr,
                    size_t expr_len)
{
    dtk_buf msg = DTK_BUF_INIT(0);

    if (t->err != NULL) {
        return;
    }
    (void)dtk_buf_printf(&msg, "error parsing regexp: %s: `", code);
    (void)dtk_buf_put(&msg, expr, expr_len);
    (void)dtk_buf_puts(&msg, "`");
    t->err = dtk_buf_detach(&msg);
}

static void tr_unsupported(translator *t, const char *what)
{
    dtk_buf msg = DTK_BUF_INIT(0);

    if (t->err != NULL) {
        return;
    }
    (void)dtk_buf_printf(
        &msg, "%s is not supported by this development API server", what);
    t->err = dtk_buf_detach(&msg);
    t->unsupported = 1;
}

static void emit(translator *t, const char *s)
{
    (void)dtk_buf_puts(&t->out, s);
}

static void emit_literal_byte(translator *t, unsigned char c)
{
    char tmp[3];

    if (strchr(".[]()*+?{}|^$\\", c) != NULL && c != '\0') {
        tmp[0] = '\\';
        tmp[1] = (char)c;
        tmp[2] = '\0';
    } else {
        tmp[0] = (char)c;
        tmp[1] = '\0';
    }
    emit(t, tmp);
}

/* Encodes a code point as UTF-8 into buf (at least 4 bytes); returns the
 * length. */
static size_t utf8_encode(unsigned long r, unsigned char *buf)
{
    if (r < 0x80) {
        buf[0] = (unsigned char)r;
        return 1;
    }
    if (r < 0x800) {
        buf[0] = (unsigned char)(0xc0 | (r >> 6));
        buf[1] = (unsigned char)(0x80 | (r & 0x3f));
        return 2;
    }
    if (r < 0x10000) {
        buf[0] = (unsigned char)(0xe0 | (r >> 12));
        buf[1] = (unsigned char)(0x80 | ((r >> 6) & 0x3f));
        buf[2] = (unsigned char)(0x80 | (r & 0x3f));
        return 3;
    }
    buf[0] = (unsigned char)(0xf0 | (r >> 18));
    buf[1] = (unsigned char)(0x80 | ((r >> 12) & 0x3f));
    buf[2] = (unsigned char)(0x80 | ((r >> 6) & 0x3f));
    buf[3] = (unsigned char)(0x80 | (r & 0x3f));
    return 4;
}

/* Parses \xHH or \x{H..} after the 'x' at t->i; returns the code point or
 * -1 (error set). */
static long parse_hex_escape(translator *t, size_t esc_start)
{
    unsigned long r = 0;
    size_t digits = 0;

    if (t->i < t->len && t->pat[t->i] == '{') {
        t->i++;
        while (t->i < t->len && isxdigit((unsigned char)t->pat[t->i])) {
            r = r * 16 +
                (unsigned long)(isdigit((unsigned char)t->pat[t->i])
                                    ? t->pat[t->i] - '0'
                                    : (tolower((unsigned char)t->pat[t->i]) -
                                       'a' + 10));
            t->i++;
            if (++digits > 8) {
                break;
            }
        }
        if (t->i >= t->len || t->pat[t->i] != '}' || digits == 0 ||
            r > 0x10ffff) {
            tr_fail(t, "invalid escape sequence", t->pat + esc_start,
                    (t->i < t->len ? t->i + 1 : t->len) - esc_start);
            return -1;
        }
        t->i++;
        return (long)r;
    }
    for (int k = 0; k < 2; k++) {
        if (t->i >= t->len || !isxdigit((unsigned char)t->pat[t->i])) {
            tr_fail(t, "invalid escape sequence", t->pat + esc_start,
                    t->i - esc_start);
            return -1;
        }
        r = r * 16 +
            (unsigned long)(isdigit((unsigned char)t->pat[t->i])
                                ? t->pat[t->i] - '0'
                                : (tolower((unsigned char)t->pat[t->i]) - 'a' +
                                   10));
        t->i++;
    }
    return (long)r;
}

/* A character set being built from [...]: a byte bitmap plus POSIX
 * classes, emitted in the order POSIX requires. */
typedef struct charset {
    unsigned char bits[32];
    dtk_buf classes; /* "[:space:]" etc. */
} charset;

static void cs_add(charset *cs, unsigned lo, unsigned hi)
{
    for (unsigned c = lo; c <= hi && c < 256; c++) {
        cs->bits[c / 8] |= (unsigned char)(1u << (c % 8));
    }
}

static int cs_has(const charset *cs, unsigned c)
{
    return (cs->bits[c / 8] >> (c % 8)) & 1;
}

static void cs_emit(translator *t, charset *cs, int negated)
{
    /* ']' first, '-' last, '^' not first; ranges compressed. */
    emit(t, negated ? "[^" : "[");
    if (cs_has(cs, ']')) {
        emit(t, "]");
    }
    for (unsigned c = 1; c < 256; c++) {
        unsigned end;

        if (!cs_has(cs, c) || c == ']' || c == '-' || c == '^') {
            continue;
        }
        end = c;
        while (end + 1 < 256 && cs_has(cs, end + 1) && end + 1 != ']' &&
               end + 1 != '-' && end + 1 != '^') {
            end++;
        }
        (void)dtk_buf_putc(&t->out, (char)c);
        if (end > c + 1) {
            (void)dtk_buf_putc(&t->out, '-');
        }
        if (end > c) {
            (void)dtk_buf_putc(&t->out, (char)end);
        }
        c = end;
    }
    (void)dtk_buf_put(&t->out, dtk_buf_cstr(&cs->classes), cs->classes.len);
    if (cs_has(cs, '^')) {
        emit(t, "^");
    }
    if (cs_has(cs, '-')) {
        emit(t, "-");
    }
    emit(t, "]");
}

/* Reads one bracket item (a char, escape or class) at t->i. Returns the
 * byte value, -2 when a class was added to cs, -1 on error. */
static int bracket_item(translator *t, charset *cs, size_t open)
{
    unsigned char c = (unsigned char)t->pat[t->i];

    if (c >= 0x80) {
        tr_unsupported(t, "a non-ASCII character inside [...]");
        return -1;
    }
    if (c == '[' && t->i + 1 < t->len && t->pat[t->i + 1] == ':') {
        const char *end = strstr(t->pat + t->i + 2, ":]");
        static const char *const names[] = {
            "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph",
            "lower", "print", "punct", "space", "upper", "word",  "xdigit"};
        size_t n;

        if (end != NULL) {
            n = (size_t)(end - (t->pat + t->i + 2));
            for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
                if (strlen(names[k]) == n &&
                    strncmp(names[k], t->pat + t->i + 2, n) == 0) {
                    if (strcmp(names[k], "word") == 0) {
                        cs_add(cs, '0', '9');
                        cs_add(cs, 'A', 'Z');
                        cs_add(cs, 'a', 'z');
                        cs_add(cs, '_', '_');
                    } else if (strcmp(names[k], "ascii") == 0) {
                        cs_add(cs, 1, 127);
                    } else {
                        (void)dtk_buf_printf(&cs->classes, "[:%s:]", names[k]);
                    }
                    t->i += n + 4;
                    return -2;
                }
            }
            tr_fail(t, "invalid character class range", t->pat + t->i, n + 4);
            return -1;
        }
    }
    if (c != '\\') {
        t->i++;
        return c;
    }
    t->i++;
    if (t->i >= t->len) {
        tr_fail(t, "missing closing ]", t->pat + open, t->len - open);
        return -1;
    }
    c = (unsigned char)t->pat[t->i++];
    switch (c) {
    case 'd':
        cs_add(cs, '0', '9');
        return -2;
    case 'w':
        cs_add(cs, '0', '9');
        cs_add(cs, 'A', 'Z');
        cs_add(cs, 'a', 'z');
        cs_add(cs, '_', '_');
        return -2;
    case 's':
        (void)dtk_buf_puts(&cs->classes, "[:space:]");
        return -2;
    case 'D':
    case 'W':
    case 'S':
        tr_unsupported(t,
                       "a negated class escape (\\D, \\W, \\S) inside [...]");
        return -1;
    case 'n':
        return '\n';
    case 't':
        return '\t';
    case 'r':
        return '\r';
    case 'f':
        return '\f';
    case 'v':
        return '\v';
    case 'a':
        return '\a';
    case 'x': {
        long r = parse_hex_escape(t, t->i - 2);

        if (r < 0) {
            return -1;
        }
        if (r >= 0x80) {
            tr_unsupported(t, "a non-ASCII character inside [...]");
            return -1;
        }
        return (int)r;
    }
    default:
        if (c < 0x80 && !isalnum(c)) {
            return c;
        }
        if (c == 'p' || c == 'P') {
            tr_unsupported(t, "a Unicode class (\\p{...})");
            return -1;
        }
        tr_fail(t, "invalid escape sequence", t->pat + t->i - 2, 2);
        return -1;
    }
}

static void tr_bracket(translator *t)
{
    size_t open = t->i;
    charset cs;
    int negated = 0;
    int first = 1;

    memset(cs.bits, 0, sizeof(cs.bits));
    dtk_buf_init(&cs.classes, 0);
    t->i++;
    if (t->i < t->len && t->pat[t->i] == '^') {
        negated = 1;
        t->i++;
    }
    for (;;) {
        int lo, hi;

        if (t->i >= t->len) {
            tr_fail(t, "missing closing ]", t->pat + open, t->len - open);
            break;
        }
        if (t->pat[t->i] == ']' && !first) {
            t->i++;
            cs_emit(t, &cs, negated);
            break;
        }
        first = 0;
        lo = bracket_item(t, &cs, open);
        if (lo == -1) {
            break;
        }
        if (lo == -2) {
            continue;
        }
        if (t->i + 1 < t->len && t->pat[t->i] == '-' &&
            t->pat[t->i + 1] != ']') {
            size_t range_start = t->i - 1;

            t->i++;
            hi = bracket_item(t, &cs, open);
            if (hi == -1) {
                break;
            }
            if (hi == -2) {
                tr_fail(t, "invalid character class range",
                        t->pat + range_start, t->i - range_start);
                break;
            }
            if (hi < lo) {
                tr_fail(t, "invalid character class range",
                        t->pat + range_start, t->i - range_start);
                break;
            }
            cs_add(&cs, (unsigned)lo, (unsigned)hi);
        } else {
            cs_add(&cs, (unsigned)lo, (unsigned)lo);
        }
    }
    dtk_buf_dispose(&cs.classes);
}

static void tr_atom_done(translator *t, double weight)
{
    t->can_repeat = 1;
    t->just_repeated = 0;
    t->atom_weight = weight;
}

static void tr_escape(translator *t)
{
    size_t start = t->i;
    unsigned char c;

    t->i++;
    if (t->i >= t->len) {
        tr_fail(t, "trailing backslash at end of expression", "", 0);
        return;
    }
    c = (unsigned char)t->pat[t->i++];
    switch (c) {
    case 'd':
        emit(t, "[0-9]");
        break;
    case 'D':
        emit(t, "[^0-9]");
        break;
    case 'w':
        emit(t, "[A-Za-z0-9_]");
        break;
    case 'W':
        emit(t, "[^A-Za-z0-9_]");
        break;
    case 's':
        emit(t, "[[:space:]]");
        break;
    case 'S':
        emit(t, "[^[:space:]]");
        break;
    case 'b':
        emit(t, "\\b");
        t->can_repeat = 0;
        return;
    case 'B':
        emit(t, "\\B");
        t->can_repeat = 0;
        return;
    case 'A':
        emit(t, "^");
        t->can_repeat = 0;
        return;
    case 'z':
        emit(t, "$");
        t->can_repeat = 0;
        return;
    case 'n':
        emit_literal_byte(t, '\n');
        break;
    case 't':
        emit_literal_byte(t, '\t');
        break;
    case 'r':
        emit_literal_byte(t, '\r');
        break;
    case 'f':
        emit_literal_byte(t, '\f');
        break;
    case 'v':
        emit_literal_byte(t, '\v');
        break;
    case 'a':
        emit_literal_byte(t, '\a');
        break;
    case 'x': {
        long r = parse_hex_escape(t, start);
        unsigned char buf[4];
        size_t n;

        if (r < 0) {
            return;
        }
        n = utf8_encode((unsigned long)r, buf);
        if (n == 1) {
            emit_literal_byte(t, buf[0]);
        } else {
            /* A multi-byte character is quantified as a whole. */
            emit(t, "(");
            (void)dtk_buf_put(&t->out, buf, n);
            emit(t, ")");
        }
        break;
    }
    case 'p':
    case 'P':
        tr_unsupported(t, "a Unicode class (\\p{...})");
        return;
    case 'Q':
        tr_unsupported(t, "\\Q...\\E quoting");
        return;
    default:
        if (c < 0x80 && !isalnum(c)) {
            emit_literal_byte(t, c);
            break;
        }
        tr_fail(t, "invalid escape sequence", t->pat + start, 2);
        return;
    }
    tr_atom_done(t, 1);
}

/* Parses {n}, {n,}, {n,m} at t->i; returns 1 and the bounds when it is a
 * repeat (RE2 treats anything else as a literal '{'). */
static int parse_repeat(const translator *t, long *lo, long *hi, size_t *end)
{
    size_t i = t->i + 1;
    long a = 0, b;
    int digits = 0;

    while (i < t->len && isdigit((unsigned char)t->pat[i])) {
        a = a * 10 + (t->pat[i] - '0');
        if (a > 100000) {
            a = 100000;
        }
        i++;
        digits++;
    }
    if (digits == 0 || i >= t->len) {
        return 0;
    }
    b = a;
    if (t->pat[i] == ',') {
        i++;
        b = -1;
        digits = 0;
        if (i < t->len && isdigit((unsigned char)t->pat[i])) {
            b = 0;
            while (i < t->len && isdigit((unsigned char)t->pat[i])) {
                b = b * 10 + (t->pat[i] - '0');
                if (b > 100000) {
                    b = 100000;
                }
                i++;
            }
        }
    }
    if (i >= t->len || t->pat[i] != '}') {
        return 0;
    }
    *lo = a;
    *hi = b;
    *end = i + 1;
    return 1;
}

static void tr_quantifier(translator *t)
{
    size_t start = t->i;
    char c = t->pat[t->i];
    double weight = 1;

    if (c == '{') {
        long lo, hi;
        size_t end;

        if (!parse_repeat(t, &lo, &hi, &end)) {
            /* A literal brace. */
            t->i++;
            emit(t, "\\{");
            tr_atom_done(t, 1);
            return;
        }
        if (lo > MAX_REPEAT || hi > MAX_REPEAT || (hi >= 0 && hi < lo)) {
            tr_fail(t, "invalid repeat count", t->pat + start, end - start);
            return;
        }
        weight = (double)(hi >= 0 ? hi : lo);
        if (weight < 1) {
            weight = 1;
        }
        t->i = end;
    } else {
        t->i++;
    }
    if (t->just_repeated) {
        /* Go shows the two operators, e.g. "**". */
        tr_fail(t, "invalid nested repetition operator", t->pat + t->i - 2, 2);
        return;
    }
    if (!t->can_repeat) {
        tr_fail(t, "missing argument to repetition operator", t->pat + start,
                t->i - start);
        return;
    }
    (void)dtk_buf_put(&t->out, t->pat + start, t->i - start);
    if (t->atom_weight * weight > MAX_REPEAT * 10.0) {
        tr_fail(t, "expression too large", t->pat, t->len);
        return;
    }
    if (t->atom_weight * weight > t->group_weight[t->depth]) {
        t->group_weight[t->depth] = t->atom_weight * weight;
    }
    /* A lazy marker changes which match is found, not whether one is. */
    if (t->i < t->len && t->pat[t->i] == '?') {
        t->i++;
    }
    t->just_repeated = 1;
    t->can_repeat = 0;
}

static void tr_group_open(translator *t)
{
    size_t start = t->i;

    t->i++;
    if (t->i < t->len && t->pat[t->i] == '?') {
        t->i++;
        if (t->i < t->len && t->pat[t->i] == ':') {
            t->i++;
        } else if (t->i < t->len &&
                   (t->pat[t->i] == '=' || t->pat[t->i] == '!')) {
            tr_fail(t, "invalid or unsupported Perl syntax", t->pat + start, 3);
            return;
        } else if (t->i + 1 < t->len && t->pat[t->i] == '<' &&
                   (t->pat[t->i + 1] == '=' || t->pat[t->i + 1] == '!')) {
            tr_fail(t, "invalid or unsupported Perl syntax", t->pat + start, 4);
            return;
        } else if (t->i < t->len &&
                   (t->pat[t->i] == '<' || t->pat[t->i] == 'P')) {
            /* A named group: skip the name. */
            const char *gt = memchr(t->pat + t->i, '>', t->len - t->i);

            if (gt == NULL) {
                tr_fail(t, "invalid named capture", t->pat + start,
                        t->len - start);
                return;
            }
            t->i = (size_t)(gt - t->pat) + 1;
        } else if (start == 0 && t->i + 1 < t->len && t->pat[t->i] == 'i' &&
                   t->pat[t->i + 1] == ')') {
            t->icase = 1;
            t->i += 2;
            return;
        } else {
            tr_unsupported(t, "a regexp flag group other than a leading (?i)");
            return;
        }
    }
    if (t->depth >= MAX_GROUP_DEPTH) {
        tr_fail(t, "expression nests too deeply", t->pat, t->len);
        return;
    }
    t->depth++;
    t->group_weight[t->depth] = 1;
    emit(t, "(");
    t->can_repeat = 0;
    t->just_repeated = 0;
}

static void tr_group_close(translator *t)
{
    if (t->depth == 0) {
        tr_fail(t, "unexpected )", t->pat, t->len);
        return;
    }
    t->i++;
    emit(t, ")");
    tr_atom_done(t, t->group_weight[t->depth]);
    t->depth--;
}

static int translate(translator *t)
{
    while (t->i < t->len && t->err == NULL) {
        unsigned char c = (unsigned char)t->pat[t->i];

        switch (c) {
        case '\\':
            tr_escape(t);
            break;
        case '[':
            tr_bracket(t);
            tr_atom_done(t, 1);
            break;
        case '(':
            tr_group_open(t);
            break;
        case ')':
            tr_group_close(t);
            break;
        case '*':
        case '+':
        case '?':
        case '{':
            tr_quantifier(t);
            break;
        case '|':
            t->i++;
            emit(t, "|");
            t->can_repeat = 0;
            t->just_repeated = 0;
            break;
        case '^':
        case '$':
            t->i++;
            (void)dtk_buf_putc(&t->out, (char)c);
            t->can_repeat = 0;
            t->just_repeated = 0;
            break;
        case '.':
            t->i++;
            emit(t, ".");
            tr_atom_done(t, 1);
            break;
        default:
            t->i++;
            emit_literal_byte(t, c);
            tr_atom_done(t, 1);
            break;
        }
    }
    if (t->err == NULL && t->depth > 0) {
        tr_fail(t, "missing closing )", t->pat, t->len);
    }
    return t->err == NULL ? 0 : DTK_EINVALID;
}

int dtk_schema__regex_compile(regex_t **out,
                              const char *pattern,
                              char **err_out)
{
    translator t;
    regex_t *re = NULL;
    int error;
    int rc;

    memset(&t, 0, sizeof(t));
    t.pat = pattern;
    t.len = strlen(pattern);
    t.group_weight[0] = 1;
    dtk_buf_init(&t.out, 0);
    *out = NULL;
    *err_out = NULL;

    error = translate(&t);
    if (error < 0) {
        *err_out = t.err;
        t.err = NULL;
        error = t.unsupported ? DTK_ERROR : DTK_EINVALID;
        goto out;
    }
    re = dtk_malloc(sizeof(*re));
    rc = regcomp(re, dtk_buf_cstr(&t.out),
                 REG_EXTENDED | REG_NOSUB | (t.icase ? REG_ICASE : 0));
    if (rc != 0) {
        char msg[256];
        dtk_buf m = DTK_BUF_INIT(0);

        regerror(rc, re, msg, sizeof(msg));
        (void)dtk_buf_printf(&m, "error parsing regexp: %s: `%s`", msg,
                             pattern);
        *err_out = dtk_buf_detach(&m);
        dtk_free(re);
        re = NULL;
        error = DTK_EINVALID;
        goto out;
    }
    *out = re;
    re = NULL;
    error = 0;
out:
    dtk_buf_dispose(&t.out);
    dtk_free(t.err);
    return error;
}

void dtk_schema__regex_free(regex_t *re)
{
    if (re == NULL) {
        return;
    }
    regfree(re);
    dtk_free(re);
}

int dtk_schema__regex_match(const regex_t *re, const char *s, size_t len)
{
    regmatch_t m[1];

    m[0].rm_so = 0;
    m[0].rm_eo = (regoff_t)len;
    return regexec(re, s, 1, m, REG_STARTEND) == 0;
}

/* ------------------------------------------------------------------ */
/* Formats                                                              */

/* The formats Kubernetes v1.32 validates (apiextensions supportedFormats),
 * by their normalized name. Everything else is ignored, as
 * StripUnsupportedFormatsPostProcess strips it. */
static const char *const supported_formats[] = {
    "bsonobjectid", "uri",    "email",    "hostname",   "ipv4",     "ipv6",
    "cidr",         "mac",    "uuid",     "uuid3",      "uuid4",    "uuid5",
    "isbn",         "isbn10", "isbn13",   "creditcard", "ssn",      "hexcolor",
    "rgbcolor",     "byte",   "password", "date",       "duration", "datetime",
};

const char *dtk_schema__format_supported(const char *format)
{
    char norm[64];
    size_t n = 0;

    for (const char *p = format; *p != '\0'; p++) {
        if (*p == '-') {
            continue;
        }
        if (n + 1 >= sizeof(norm)) {
            return NULL;
        }
        norm[n++] = *p;
    }
    norm[n] = '\0';
    for (size_t i = 0; i < sizeof(supported_formats) / sizeof(char *); i++) {
        if (strcmp(norm, supported_formats[i]) == 0) {
            return supported_formats[i];
        }
    }
    return NULL;
}

static int all_hex(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

static int all_digits(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return len > 0;
}

/* (?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?V[0-9a-f]{3}-?[89ab]?...: version 0 means
 * any UUID. */
static int valid_uuid(const char *s, size_t len, int version)
{
    static const size_t groups[] = {8, 4, 4, 4, 12};
    size_t i = 0;

    for (size_t g = 0; g < 5; g++) {
        if (g > 0 && i < len && s[i] == '-') {
            i++;
        }
        if (i + groups[g] > len || !all_hex(s + i, groups[g])) {
            return 0;
        }
        if (version != 0 && g == 2 && s[i] != '0' + version) {
            return 0;
        }
        if ((version == 4 || version == 5) && g == 3 &&
            strchr("89abAB", s[i]) == NULL) {
            return 0;
        }
        i += groups[g];
    }
    return i == len;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) {
        return 29;
    }
    return days[m - 1];
}

/* time.Parse("2006-01-02", s) */
static int valid_date(const char *s, size_t len)
{
    int y, m, d;

    if (len != 10 || s[4] != '-' || s[7] != '-' || !all_digits(s, 4) ||
        !all_digits(s + 5, 2) || !all_digits(s + 8, 2)) {
        return 0;
    }
    y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
        (s[3] - '0');
    m = (s[5] - '0') * 10 + (s[6] - '0');
    d = (s[8] - '0') * 10 + (s[9] - '0');
    return m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

/* strfmt.IsDateTime: a date, 't', then
 * ^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$
 * on the lowercased text, hours <= 23, minutes and seconds <= 59. */
static int valid_datetime(const char *s, size_t len)
{
    char low[80];
    const char *t;
    const char *p;
    size_t n;

    if (len < 4 || len >= sizeof(low)) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        low[i] = (char)tolower((unsigned char)s[i]);
    }
    low[len] = '\0';
    if (memchr(low, '\0', len) != NULL) {
        return 0;
    }
    t = strchr(low, 't');
    if (t == NULL || !valid_date(low, (size_t)(t - low))) {
        return 0;
    }
    p = t + 1;
    /* Go splits on every 't'; the time is the text up to the next one. */
    n = strcspn(p, "t");
    if (n < 8 || !isdigit((unsigned char)p[0]) ||
        !isdigit((unsigned char)p[1]) || p[2] != ':' ||
        !isdigit((unsigned char)p[3]) || !isdigit((unsigned char)p[4]) ||
        p[5] != ':' || !isdigit((unsigned char)p[6]) ||
        !isdigit((unsigned char)p[7])) {
        return 0;
    }
    if (strncmp(p, "23", 2) > 0 || strncmp(p + 3, "59", 2) > 0 ||
        strncmp(p + 6, "59", 2) > 0) {
        return 0;
    }
    p += 8;
    n -= 8;
    if (n > 0 && p[0] != 'z' && p[0] != '+' && p[0] != '-') {
        /* (.[0-9]+): any one character, then digits */
        size_t k = 1;

        while (k < n && isdigit((unsigned char)p[k])) {
            k++;
        }
        if (k == 1) {
            return 0;
        }
        p += k;
        n -= k;
    }
    if (n == 1 && p[0] == 'z') {
        return 1;
    }
    return n == 6 && (p[0] == '+' || p[0] == '-') &&
           isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2]) &&
           p[3] == ':' && isdigit((unsigned char)p[4]) &&
           isdigit((unsigned char)p[5]);
}

/* Go's time.ParseDuration ("1h30m", "1.5s", "-2ms") or strfmt's "<n> <unit>"
 * form ("22 ns", "3 days"). */
static int valid_duration(const char *s, size_t len)
{
    static const char *const go_units[] = {"ns", "us", "\xc2\xb5s", "\xce\xbcs",
                                           "ms", "s",  "m",         "h"};
    static const char *const long_units[] = {"ns",
                                             "us",
                                             "\xc2\xb5s",
                                             "ms",
                                             "s",
                                             "m",
                                             "h",
                                             "d",
                                             "w",
                                             "nanosecond",
                                             "nanoseconds",
                                             "microsecond",
                                             "microseconds",
                                             "millisecond",
                                             "milliseconds",
                                             "second",
                                             "seconds",
                                             "sec",
                                             "secs",
                                             "minute",
                                             "minutes",
                                             "min",
                                             "mins",
                                             "hour",
                                             "hours",
                                             "hr",
                                             "hrs",
                                             "day",
                                             "days",
                                             "week",
                                             "weeks",
                                             "wk",
                                             "wks"};
    size_t i = 0;
    int ok;

    if (len == 0) {
        return 0;
    }
    /* The Go form. */
    if (s[i] == '-' || s[i] == '+') {
        i++;
    }
    if (len - i == 1 && s[i] == '0') {
        return 1;
    }
    ok = i < len;
    while (ok && i < len) {
        size_t digits = 0, best = 0;

        while (i < len && isdigit((unsigned char)s[i])) {
            i++;
            digits++;
        }
        if (i < len && s[i] == '.') {
            i++;
            while (i < len && isdigit((unsigned char)s[i])) {
                i++;
                digits++;
            }
        }
        if (digits == 0) {
            ok = 0;
            break;
        }
        for (size_t u = 0; u < sizeof(go_units) / sizeof(go_units[0]); u++) {
            size_t ul = strlen(go_units[u]);

            if (ul > best && i + ul <= len &&
                strncmp(s + i, go_units[u], ul) == 0) {
                best = ul;
            }
        }
        if (best == 0) {
            ok = 0;
            break;
        }
        i += best;
    }
    if (ok) {
        return 1;
    }
    /* The "<number><spaces><unit>" form. */
    i = 0;
    while (i < len && isdigit((unsigned char)s[i])) {
        i++;
    }
    if (i == 0) {
        return 0;
    }
    while (i < len && s[i] == ' ') {
        i++;
    }
    for (size_t u = 0; u < sizeof(long_units) / sizeof(long_units[0]); u++) {
        if (strlen(long_units[u]) == len - i &&
            strncmp(s + i, long_units[u], len - i) == 0) {
            return 1;
        }
    }
    return 0;
}

static int valid_ip(const char *s, size_t len, int family)
{
    char buf[64];
    unsigned char addr[16];

    if (len == 0 || len >= sizeof(buf) || memchr(s, '\0', len) != NULL) {
        return 0;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    return inet_pton(family, buf, addr) == 1;
}

/* govalidator IsIPv4/IsIPv6: net.ParseIP succeeds and the text has a '.'
 * (v4) or a ':' (v6); "::ffff:1.2.3.4" is both. */
static int valid_ipv4(const char *s, size_t len)
{
    return memchr(s, '.', len) != NULL &&
           (valid_ip(s, len, AF_INET) || valid_ip(s, len, AF_INET6));
}

static int valid_ipv6(const char *s, size_t len)
{
    return memchr(s, ':', len) != NULL && valid_ip(s, len, AF_INET6);
}

static int valid_cidr(const char *s, size_t len)
{
    const char *slash = memchr(s, '/', len);
    size_t alen;
    int v6;
    long bits = 0;

    if (slash == NULL) {
        return 0;
    }
    alen = (size_t)(slash - s);
    v6 = memchr(s, ':', alen) != NULL;
    if (!(v6 ? valid_ip(s, alen, AF_INET6) : valid_ip(s, alen, AF_INET))) {
        return 0;
    }
    if (!all_digits(slash + 1, len - alen - 1) || len - alen - 1 > 3 ||
        (len - alen - 1 > 1 && slash[1] == '0')) {
        return 0;
    }
    for (size_t i = alen + 1; i < len; i++) {
        bits = bits * 10 + (s[i] - '0');
    }
    return bits <= (v6 ? 128 : 32);
}

/* net.ParseMAC: 6, 8 or 20 octets as hex pairs separated by ':' or '-',
 * or 3, 4 or 10 dot-separated groups of four hex digits. */
static int valid_mac(const char *s, size_t len)
{
    if (len >= 14 && s[4] == '.') {
        size_t groups = (len + 1) / 5;

        if ((len + 1) % 5 != 0 ||
            (groups != 3 && groups != 4 && groups != 10)) {
            return 0;
        }
        for (size_t g = 0; g < groups; g++) {
            if (!all_hex(s + g * 5, 4) ||
                (g + 1 < groups && s[g * 5 + 4] != '.')) {
                return 0;
            }
        }
        return 1;
    }
    if (len >= 17 && (s[2] == ':' || s[2] == '-')) {
        size_t groups = (len + 1) / 3;
        char sep = s[2];

        if ((len + 1) % 3 != 0 ||
            (groups != 6 && groups != 8 && groups != 20)) {
            return 0;
        }
        for (size_t g = 0; g < groups; g++) {
            if (!all_hex(s + g * 3, 2) ||
                (g + 1 < groups && s[g * 3 + 2] != sep)) {
                return 0;
            }
        }
        return 1;
    }
    return 0;
}

/* An approximation of strfmt's hostname pattern: dot-separated labels of
 * letters, digits (and non-ASCII, which the pattern's \p{L}\p{S} allow),
 * with inner hyphens, each at most 63 bytes, 255 in all; the last label is
 * at least two characters when there are several. */
static int valid_hostname(const char *s, size_t len)
{
    size_t label = 0;
    size_t labels = 1;

    if (len == 0 || len > 255) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '.') {
            if (label == 0 || s[i - 1] == '-' || i + 1 == len) {
                return 0;
            }
            label = 0;
            labels++;
            continue;
        }
        if (c == '-') {
            if (label == 0) {
                return 0;
            }
        } else if (!(isalnum(c) || c >= 0x80)) {
            return 0;
        }
        if (++label > 63) {
            return 0;
        }
    }
    if (s[len - 1] == '-') {
        return 0;
    }
    return labels == 1 || label >= 2;
}

/* A loose net/mail.ParseAddress: "local@domain" or "Name <local@domain>",
 * without spaces in the address. */
static int valid_email(const char *s, size_t len)
{
    const char *lt = memchr(s, '<', len);
    const char *at;

    if (lt != NULL) {
        if (s[len - 1] != '>') {
            return 0;
        }
        len = (size_t)(s + len - 1 - (lt + 1));
        s = lt + 1;
    }
    at = memchr(s, '@', len);
    if (at == NULL || at == s || at == s + len - 1 ||
        memchr(at + 1, '@', (size_t)(s + len - at - 1)) != NULL) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] <= ' ' || s[i] == '<' || s[i] == '>') {
            return 0;
        }
    }
    return 1;
}

/* url.ParseRequestURI: an absolute URI ("scheme:...") or an absolute path,
 * without control characters. */
static int valid_uri(const char *s, size_t len)
{
    size_t i = 0;

    if (len == 0) {
        return 0;
    }
    for (size_t k = 0; k < len; k++) {
        if ((unsigned char)s[k] < 0x20 || s[k] == 0x7f) {
            return 0;
        }
    }
    if (s[0] == '/') {
        return 1;
    }
    if (!isalpha((unsigned char)s[0])) {
        return 0;
    }
    while (i < len && (isalnum((unsigned char)s[i]) || s[i] == '+' ||
                       s[i] == '-' || s[i] == '.')) {
        i++;
    }
    return i < len && s[i] == ':' && i + 1 < len;
}

static int valid_base64(const char *s, size_t len)
{
    size_t pad = 0;

    if (len == 0 || len % 4 != 0) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '=') {
            pad++;
            if (i < len - 2) {
                return 0;
            }
        } else if (pad > 0 || !(isalnum(c) || c == '+' || c == '/')) {
            return 0;
        }
    }
    return pad <= 2;
}

static int valid_hexcolor(const char *s, size_t len)
{
    if (len > 0 && s[0] == '#') {
        s++;
        len--;
    }
    return (len == 3 || len == 6) && all_hex(s, len);
}

/* ^rgb\(\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,...\)$ */
static int valid_rgbcolor(const char *s, size_t len)
{
    size_t i = 4;

    if (len < 10 || strncmp(s, "rgb(", 4) != 0 || s[len - 1] != ')') {
        return 0;
    }
    for (int k = 0; k < 3; k++) {
        size_t start;
        long v = 0;

        while (i < len && isspace((unsigned char)s[i])) {
            i++;
        }
        start = i;
        while (i < len && isdigit((unsigned char)s[i]) && i - start < 3) {
            v = v * 10 + (s[i] - '0');
            i++;
        }
        if (i == start || v > 255 || (i - start > 1 && s[start] == '0')) {
            return 0;
        }
        while (i < len && isspace((unsigned char)s[i])) {
            i++;
        }
        if (i >= len || s[i] != (k < 2 ? ',' : ')')) {
            return 0;
        }
        i++;
    }
    return i == len;
}

/* govalidator IsSSN: exactly 11 characters, ^\d{3}[- ]?\d{2}[- ]?\d{4}$ */
static int valid_ssn(const char *s, size_t len)
{
    return len == 11 && all_digits(s, 3) && (s[3] == '-' || s[3] == ' ') &&
           all_digits(s + 4, 2) && (s[6] == '-' || s[6] == ' ') &&
           all_digits(s + 7, 4);
}

/* govalidator IsISBN: spaces and dashes removed, then the checksum. */
static int valid_isbn(const char *s, size_t len, int version)
{
    char d[16];
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        if (s[i] == ' ' || s[i] == '-') {
            continue;
        }
        if (n >= sizeof(d)) {
            return 0;
        }
        d[n++] = s[i];
    }
    if (version == 10 && n == 10) {
        int sum = 0;

        for (size_t i = 0; i < 9; i++) {
            if (!isdigit((unsigned char)d[i])) {
                return 0;
            }
            sum += (int)(i + 1) * (d[i] - '0');
        }
        if (d[9] == 'X') {
            sum += 10 * 10;
        } else if (isdigit((unsigned char)d[9])) {
            sum += 10 * (d[9] - '0');
        } else {
            return 0;
        }
        return sum % 11 == 0;
    }
    if (version == 13 && n == 13 && all_digits(d, 13)) {
        int sum = 0;

        for (size_t i = 0; i < 12; i++) {
            sum += (i % 2 == 0 ? 1 : 3) * (d[i] - '0');
        }
        return (10 - sum % 10) % 10 == d[12] - '0';
    }
    return 0;
}

/* A loose govalidator IsCreditCard: the digits (other characters dropped)
 * are 12 to 19 long and pass the Luhn check. */
static int valid_creditcard(const char *s, size_t len)
{
    int sum = 0;
    int alt = 0;
    size_t digits = 0;

    for (size_t i = len; i > 0; i--) {
        int v;

        if (!isdigit((unsigned char)s[i - 1])) {
            continue;
        }
        v = s[i - 1] - '0';
        if (alt) {
            v *= 2;
            if (v > 9) {
                v -= 9;
            }
        }
        sum += v;
        alt = !alt;
        digits++;
    }
    return digits >= 12 && digits <= 19 && sum % 10 == 0;
}

int dtk_schema__format_valid(const char *format, const char *s, size_t len)
{
    if (strcmp(format, "date") == 0) {
        return valid_date(s, len);
    }
    if (strcmp(format, "datetime") == 0) {
        return valid_datetime(s, len);
    }
    if (strcmp(format, "duration") == 0) {
        return valid_duration(s, len);
    }
    if (strcmp(format, "uuid") == 0) {
        return valid_uuid(s, len, 0);
    }
    if (strncmp(format, "uuid", 4) == 0) {
        return valid_uuid(s, len, format[4] - '0');
    }
    if (strcmp(format, "ipv4") == 0) {
        return valid_ipv4(s, len);
    }
    if (strcmp(format, "ipv6") == 0) {
        return valid_ipv6(s, len);
    }
    if (strcmp(format, "cidr") == 0) {
        return valid_cidr(s, len);
    }
    if (strcmp(format, "mac") == 0) {
        return valid_mac(s, len);
    }
    if (strcmp(format, "hostname") == 0) {
        return valid_hostname(s, len);
    }
    if (strcmp(format, "email") == 0) {
        return valid_email(s, len);
    }
    if (strcmp(format, "uri") == 0) {
        return valid_uri(s, len);
    }
    if (strcmp(format, "byte") == 0) {
        return valid_base64(s, len);
    }
    if (strcmp(format, "bsonobjectid") == 0) {
        return len == 24 && all_hex(s, len);
    }
    if (strcmp(format, "hexcolor") == 0) {
        return valid_hexcolor(s, len);
    }
    if (strcmp(format, "rgbcolor") == 0) {
        return valid_rgbcolor(s, len);
    }
    if (strcmp(format, "ssn") == 0) {
        return valid_ssn(s, len);
    }
    if (strcmp(format, "isbn") == 0) {
        return valid_isbn(s, len, 10) || valid_isbn(s, len, 13);
    }
    if (strcmp(format, "isbn10") == 0) {
        return valid_isbn(s, len, 10);
    }
    if (strcmp(format, "isbn13") == 0) {
        return valid_isbn(s, len, 13);
    }
    if (strcmp(format, "creditcard") == 0) {
        return valid_creditcard(s, len);
    }
    return 1; /* password, and anything not checked */
}

/* Logging (see log.h). Lines are assembled in a stack buffer and written with a
 * single write(2) so concurrent threads never interleave within a line. A line
 * longer than the buffer is truncated and marked, rather than allocated. */
#include "pkg/base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

volatile int dtk_log_current_level = DTK_LOG_INFO;
static volatile int log_format = DTK_LOG_TEXT;

static const char *const level_names[] = {"error", "warn", "info", "debug",
                                          "trace"};

void dtk_log_set_level(dtk_log_level level)
{
    dtk_log_current_level = (int)level;
}

void dtk_log_set_format(dtk_log_format format)
{
    log_format = (int)format;
}

int dtk_log_parse_level(dtk_log_level *out, const char *name)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (dtk_log_level)i;
            return 0;
        }
    }
    return -6; /* DTK_EINVALID; log.h stays free of error.h */
}

typedef struct line {
    char data[8192];
    size_t len;
    int truncated;
} line;

static void put(line *l, const char *s, size_t n)
{
    size_t room = sizeof(l->data) - 1 - l->len;

    if (n > room) {
        n = room;
        l->truncated = 1;
    }
    memcpy(l->data + l->len, s, n);
    l->len += n;
}

static void puts_(line *l, const char *s)
{
    put(l, s, strlen(s));
}

/* Writes s as the inside of a JSON string. */
static void put_json_escaped(line *l, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];

        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(l, esc, 2);
        } else if (c == '\n') {
            put(l, "\\n", 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            put(l, esc, 6);
        } else {
            put(l, (const char *)&c, 1);
        }
    }
}

static int needs_quotes(const char *s)
{
    if (*s == '\0') {
        return 1;
    }
    for (; *s; s++) {
        if (*s == ' ' || *s == '"' || *s == '=' || (unsigned char)*s < 0x20) {
            return 1;
        }
    }
    return 0;
}

static void put_text_field(line *l, const char *key, const char *value)
{
    put(l, " ", 1);
    puts_(l, key);
    put(l, "=", 1);
    if (needs_quotes(value)) {
        put(l, "\"", 1);
        put_json_escaped(l, value, strlen(value));
        put(l, "\"", 1);
    } else {
        puts_(l, value);
    }
}

static void put_json_field(line *l, const char *key, size_t key_len,
                           const char *value, size_t value_len)
{
    put(l, ",\"", 2);
    put_json_escaped(l, key, key_len);
    put(l, "\":\"", 3);
    put_json_escaped(l, value, value_len);
    put(l, "\"", 1);
}

/* Converts logfmt fields (key=value, key="quoted \" value") into JSON
 * members. Malformed input is kept as one "fields" member. */
static void put_fields_as_json(line *l, const char *fields)
{
    const char *p = fields;

    while (*p) {
        const char *key;
        const char *eq;
        char value[4096];
        size_t vlen = 0;

        while (*p == ' ') {
            p++;
        }
        if (*p == '\0') {
            break;
        }
        key = p;
        eq = strchr(p, '=');
        if (eq == NULL) {
            put_json_field(l, "fields", 6, p, strlen(p));
            return;
        }
        p = eq + 1;
        if (*p == '"') {
            p++;
            while (*p && *p != '"' && vlen < sizeof(value) - 1) {
                if (*p == '\\' && p[1] != '\0') {
                    p++;
                    value[vlen++] = *p == 'n' ? '\n' : *p;
                } else {
                    value[vlen++] = *p;
                }
                p++;
            }
            if (*p == '"') {
                p++;
            }
        } else {
            while (*p && *p != ' ' && vlen < sizeof(value) - 1) {
                value[vlen++] = *p++;
            }
        }
        put_json_field(l, key, (size_t)(eq - key), value, vlen);
    }
}

static void put_timestamp(line *l)
{
    struct timespec ts;
    struct tm tm;
    char buf[64];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    puts_(l, buf);
}

void dtk__log(dtk_log_level level, const dtk_log_ctx *ctx, const char *msg,
              const char *fields_fmt, ...)
{
    line l;
    char fields[4096];
    va_list ap;
    int json = log_format == DTK_LOG_JSON;
    ssize_t written;

    l.len = 0;
    l.truncated = 0;
    va_start(ap, fields_fmt);
    vsnprintf(fields, sizeof(fields), fields_fmt, ap);
    va_end(ap);

    if (json) {
        puts_(&l, "{\"ts\":\"");
        put_timestamp(&l);
        puts_(&l, "\",\"level\":\"");
        puts_(&l, level_names[level]);
        puts_(&l, "\",\"msg\":\"");
        put_json_escaped(&l, msg, strlen(msg));
        put(&l, "\"", 1);
        if (ctx && ctx->controller) {
            put_json_field(&l, "controller", 10, ctx->controller,
                           strlen(ctx->controller));
        }
        if (ctx && ctx->object) {
            put_json_field(&l, "object", 6, ctx->object, strlen(ctx->object));
        }
        if (ctx && ctx->reconcile_id) {
            put_json_field(&l, "reconcile_id", 12, ctx->reconcile_id,
                           strlen(ctx->reconcile_id));
        }
        put_fields_as_json(&l, fields);
        put(&l, "}", 1);
    } else {
        puts_(&l, "ts=");
        put_timestamp(&l);
        put_text_field(&l, "level", level_names[level]);
        put_text_field(&l, "msg", msg);
        if (ctx && ctx->controller) {
            put_text_field(&l, "controller", ctx->controller);
        }
        if (ctx && ctx->object) {
            put_text_field(&l, "object", ctx->object);
        }
        if (ctx && ctx->reconcile_id) {
            put_text_field(&l, "reconcile_id", ctx->reconcile_id);
        }
        if (fields[0] != '\0') {
            put(&l, " ", 1);
            puts_(&l, fields);
        }
        if (l.truncated) {
            l.len = sizeof(l.data) - 16;
            puts_(&l, " truncated=true");
        }
    }
    l.data[l.len++] = '\n';
    written = write(STDERR_FILENO, l.data, l.len);
    (void)written;
}

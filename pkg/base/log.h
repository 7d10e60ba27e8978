/* Structured logging: one line per event on stderr.
 * Thread-safety: thread-safe (each line is written with one write call).
 *
 * The message is a constant; variable data goes in logfmt fields
 * ("key=value key2=\"two words\""). In JSON mode the same fields become JSON
 * members. The level is checked before the arguments are evaluated, so a
 * disabled DEBUG line costs one comparison.
 */
#ifndef DTK_BASE_LOG_H
#define DTK_BASE_LOG_H

typedef enum dtk_log_level {
    DTK_LOG_ERROR = 0,
    DTK_LOG_WARN,
    DTK_LOG_INFO,
    DTK_LOG_DEBUG,
    DTK_LOG_TRACE,
} dtk_log_level;

typedef enum dtk_log_format {
    DTK_LOG_TEXT = 0, /* logfmt */
    DTK_LOG_JSON,
} dtk_log_format;

/* Context that a worker passes down so every line names its object. Fields
 * may be NULL. Borrowed for the duration of the call. */
typedef struct dtk_log_ctx {
    const char *controller;
    const char *object;
    const char *reconcile_id;
} dtk_log_ctx;

extern volatile int dtk_log_current_level;

void dtk_log_set_level(dtk_log_level level);
void dtk_log_set_format(dtk_log_format format);

/* Parses "error", "warn", "info", "debug", "trace". Returns DTK_EINVALID
 * for anything else. */
int dtk_log_parse_level(dtk_log_level *out, const char *name);

void dtk__log(dtk_log_level level, const dtk_log_ctx *ctx, const char *msg,
              const char *fields_fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define dtk_log_enabled(level) ((int)(level) <= dtk_log_current_level)

#define dtk_log(level, ctx, msg, ...)                                          \
    do {                                                                       \
        if (dtk_log_enabled(level)) {                                          \
            dtk__log((level), (ctx), (msg), __VA_ARGS__);                      \
        }                                                                      \
    } while (0)

#endif

/* Error codes and the thread-local last-error message.
 * Thread-safety: thread-safe (the message is per thread).
 *
 * Functions that can fail return 0 or a negative dtk_error_code and set a
 * one-line message at the place the failure is detected. Callers pass codes up
 * unchanged and read the message once, where the failure is reported.
 */
#ifndef DTK_BASE_ERROR_H
#define DTK_BASE_ERROR_H

typedef enum dtk_error_code {
    DTK_OK = 0,
    DTK_ERROR = -1,     /* generic failure */
    DTK_ENOTFOUND = -2, /* the thing asked for does not exist */
    DTK_ECONFLICT = -3, /* optimistic-concurrency conflict */
    DTK_EGONE = -4,     /* a version or operation is no longer available */
    DTK_ETOOBIG = -5,   /* an input exceeded its bound */
    DTK_EINVALID = -6,  /* bad input: terminal, do not retry */
    DTK_ETIMEOUT = -7,  /* a deadline passed */
    DTK_EUNAVAIL = -8,  /* a peer is unreachable or overloaded; retry */
    DTK_ESHUTDOWN = -9, /* the component is shutting down */
    DTK_EEXISTS = -10,  /* the thing to create already exists */
    DTK_EAUTH = -11,    /* authentication or authorisation refused */
} dtk_error_code;

typedef enum dtk_error_class {
    DTK_ERRCLASS_NONE = 0,
    DTK_ERRCLASS_OS,   /* appends strerror(errno) */
    DTK_ERRCLASS_JSON,
    DTK_ERRCLASS_HTTP,
    DTK_ERRCLASS_KUBE,
    DTK_ERRCLASS_CONFIG,
    DTK_ERRCLASS_OSB,
    DTK_ERRCLASS_DOCKER,
    DTK_ERRCLASS_INVALID,
} dtk_error_class;

#define DTK_ERROR_MESSAGE_MAX 1024

typedef struct dtk_error {
    dtk_error_class klass;
    char message[DTK_ERROR_MESSAGE_MAX];
} dtk_error;

/* Sets this thread's message; longer messages are truncated. */
void dtk_error_set(dtk_error_class klass, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefixes this thread's current message with "<prefix>: ", to add context
 * while the code travels up. */
void dtk_error_prefix(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Borrowed until the next dtk_error_* call on this thread. Never NULL: an
 * empty message means nothing was set. */
const dtk_error *dtk_error_last(void);

void dtk_error_clear(void);

/* A terminal error is not retried until the input changes. */
int dtk_error_is_terminal(int error);

/* Stable lowercase name of a code, for logs and metrics labels. */
const char *dtk_error_name(int error);

#endif

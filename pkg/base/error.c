#include "pkg/base/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local dtk_error last_error;

void dtk_error_set(dtk_error_class klass, const char *fmt, ...)
{
    int saved_errno = errno;
    va_list ap;
    int n;

    last_error.klass = klass;
    va_start(ap, fmt);
    n = vsnprintf(last_error.message, sizeof(last_error.message), fmt, ap);
    va_end(ap);
    if (klass == DTK_ERRCLASS_OS && n >= 0 &&
        (size_t)n < sizeof(last_error.message)) {
        char tmp[128];
        const char *reason = strerror_r(saved_errno, tmp, sizeof(tmp)) == 0
                                 ? tmp
                                 : "unknown error";
        snprintf(last_error.message + n, sizeof(last_error.message) - (size_t)n,
                 ": %s", reason);
    }
}

void dtk_error_prefix(const char *fmt, ...)
{
    char prefix[256];
    char old[DTK_ERROR_MESSAGE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, last_error.message, sizeof(old));
    /* Truncation is accepted: the message is bounded by design. */
    if (old[0] == '\0') {
        memcpy(last_error.message, prefix, sizeof(prefix));
    } else {
        size_t plen = strlen(prefix);
        size_t room = sizeof(last_error.message) - 1;
        size_t n = plen < room ? plen : room;

        memcpy(last_error.message, prefix, n);
        if (n + 2 < room) {
            size_t olen = strlen(old);

            memcpy(last_error.message + n, ": ", 2);
            n += 2;
            olen = olen < room - n ? olen : room - n;
            memcpy(last_error.message + n, old, olen);
            n += olen;
        }
        last_error.message[n] = '\0';
    }
}

const dtk_error *dtk_error_last(void)
{
    return &last_error;
}

void dtk_error_clear(void)
{
    last_error.klass = DTK_ERRCLASS_NONE;
    last_error.message[0] = '\0';
}

int dtk_error_is_terminal(int error)
{
    return error == DTK_EINVALID;
}

const char *dtk_error_name(int error)
{
    switch (error) {
    case DTK_OK:
        return "ok";
    case DTK_ENOTFOUND:
        return "not_found";
    case DTK_ECONFLICT:
        return "conflict";
    case DTK_EGONE:
        return "gone";
    case DTK_ETOOBIG:
        return "too_big";
    case DTK_EINVALID:
        return "invalid";
    case DTK_ETIMEOUT:
        return "timeout";
    case DTK_EUNAVAIL:
        return "unavailable";
    case DTK_ESHUTDOWN:
        return "shutdown";
    case DTK_EEXISTS:
        return "exists";
    case DTK_EAUTH:
        return "auth";
    default:
        return "error";
    }
}

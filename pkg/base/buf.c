#include "pkg/base/buf.h"

#include <stdio.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/error.h"

void dtk_buf_init(dtk_buf *buf, size_t limit)
{
    buf->ptr = NULL;
    buf->len = 0;
    buf->cap = 0;
    buf->limit = limit;
}

void dtk_buf_dispose(dtk_buf *buf)
{
    dtk_free(buf->ptr);
    buf->ptr = NULL;
    buf->len = 0;
    buf->cap = 0;
}

void dtk_buf_reset(dtk_buf *buf)
{
    buf->len = 0;
    if (buf->ptr != NULL) {
        buf->ptr[0] = '\0';
    }
}

static size_t effective_limit(const dtk_buf *buf)
{
    return buf->limit ? buf->limit : DTK_BUF_DEFAULT_LIMIT;
}

/* Makes room for extra more bytes plus the terminating NUL. */
static int ensure(dtk_buf *buf, size_t extra)
{
    size_t need;
    size_t cap;

    if (extra > effective_limit(buf) || buf->len + extra > effective_limit(buf)) {
        dtk_error_set(DTK_ERRCLASS_NONE, "content exceeds the limit of %zu bytes",
                      effective_limit(buf));
        return DTK_ETOOBIG;
    }
    need = buf->len + extra + 1;
    if (need <= buf->cap) {
        return 0;
    }
    cap = buf->cap ? buf->cap : 64;
    while (cap < need) {
        cap *= 2;
    }
    buf->ptr = dtk_realloc(buf->ptr, cap);
    buf->cap = cap;
    return 0;
}

int dtk_buf_put(dtk_buf *buf, const void *data, size_t len)
{
    int error = ensure(buf, len);

    if (error < 0) {
        return error;
    }
    if (len > 0) {
        memcpy(buf->ptr + buf->len, data, len);
    }
    buf->len += len;
    buf->ptr[buf->len] = '\0';
    return 0;
}

int dtk_buf_puts(dtk_buf *buf, const char *s)
{
    return dtk_buf_put(buf, s, strlen(s));
}

int dtk_buf_putc(dtk_buf *buf, char c)
{
    return dtk_buf_put(buf, &c, 1);
}

int dtk_buf_vprintf(dtk_buf *buf, const char *fmt, va_list ap)
{
    va_list copy;
    int n;
    int error;

    va_copy(copy, ap);
    n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0) {
        dtk_error_set(DTK_ERRCLASS_NONE, "format '%s' failed", fmt);
        return DTK_ERROR;
    }
    error = ensure(buf, (size_t)n);
    if (error < 0) {
        return error;
    }
    vsnprintf(buf->ptr + buf->len, (size_t)n + 1, fmt, ap);
    buf->len += (size_t)n;
    return 0;
}

int dtk_buf_printf(dtk_buf *buf, const char *fmt, ...)
{
    va_list ap;
    int error;

    va_start(ap, fmt);
    error = dtk_buf_vprintf(buf, fmt, ap);
    va_end(ap);
    return error;
}

const char *dtk_buf_cstr(const dtk_buf *buf)
{
    return buf->ptr ? buf->ptr : "";
}

char *dtk_buf_detach(dtk_buf *buf)
{
    char *p = buf->ptr;

    if (p == NULL) {
        p = dtk_strdup("");
    }
    buf->ptr = NULL;
    buf->len = 0;
    buf->cap = 0;
    return p;
}

void dtk_buf_consume(dtk_buf *buf, size_t n)
{
    if (n >= buf->len) {
        dtk_buf_reset(buf);
        return;
    }
    memmove(buf->ptr, buf->ptr + n, buf->len - n);
    buf->len -= n;
    buf->ptr[buf->len] = '\0';
}

/* dtk_buf: a bounded, always NUL-terminated, growable byte buffer.
 * Thread-safety: none; one owner.
 *
 * Every buffer has a limit (curl's dynbuf "toobig"): appending past it fails
 * with DTK_ETOOBIG and leaves the content as it was, so untrusted input can
 * never grow memory without bound. A limit of 0 means DTK_BUF_DEFAULT_LIMIT.
 */
#ifndef DTK_BASE_BUF_H
#define DTK_BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#define DTK_BUF_DEFAULT_LIMIT ((size_t)64 * 1024 * 1024)

typedef struct dtk_buf {
    char *ptr;   /* NULL until the first append; NUL-terminated after */
    size_t len;
    size_t cap;
    size_t limit;
} dtk_buf;

/* clang-format off */
#define DTK_BUF_INIT(lim) { NULL, 0, 0, (lim) }
/* clang-format on */

void dtk_buf_init(dtk_buf *buf, size_t limit);

/* Frees the content; the buffer can be reused afterwards. */
void dtk_buf_dispose(dtk_buf *buf);

/* Keeps the allocation, empties the content. */
void dtk_buf_reset(dtk_buf *buf);

/* Returns DTK_ETOOBIG when the result would exceed the limit. */
int dtk_buf_put(dtk_buf *buf, const void *data, size_t len);
int dtk_buf_puts(dtk_buf *buf, const char *s);
int dtk_buf_putc(dtk_buf *buf, char c);
int dtk_buf_printf(dtk_buf *buf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int dtk_buf_vprintf(dtk_buf *buf, const char *fmt, va_list ap);

/* The content, never NULL (an empty string before the first append). */
const char *dtk_buf_cstr(const dtk_buf *buf);

/* Moves the content out; the caller frees it with dtk_free. The buffer is
 * left empty. Never NULL. */
char *dtk_buf_detach(dtk_buf *buf);

/* Drops the first n bytes (used by stream framers). */
void dtk_buf_consume(dtk_buf *buf, size_t n);

#endif

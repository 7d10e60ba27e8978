#include "controller/common/problems.h"

#include <stdarg.h>

void dtk_problem_add(dtk_buf *problems, const char *fmt, ...)
{
    va_list ap;

    if (problems->len > 0) {
        dtk_buf_puts(problems, "; ");
    }
    va_start(ap, fmt);
    dtk_buf_vprintf(problems, fmt, ap);
    va_end(ap);
}

/* Collecting validation problems into one "; "-separated message, the text
 * that lands in a condition. Thread-safety: none (the buffer's owner). */
#ifndef DTK_CONTROLLER_COMMON_PROBLEMS_H
#define DTK_CONTROLLER_COMMON_PROBLEMS_H

#include "pkg/base/buf.h"

void dtk_problem_add(dtk_buf *problems, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif

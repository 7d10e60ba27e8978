/* Allocation wrappers (see alloc.h). Leaks are found by LeakSanitizer in the
 * `make asan` run rather than by cmocka's allocator, because cmocka's
 * allocator is not thread-safe and many modules here are threaded. */
#include "pkg/base/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static _Noreturn void oom(size_t size, const char *file, int line)
{
    fprintf(stderr, "dtk: out of memory allocating %zu bytes at %s:%d\n", size,
            file, line);
    abort();
}

void dtk__assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "dtk: assertion failed: %s at %s:%d\n", expr, file, line);
    abort();
}

void *dtk__malloc(size_t size, const char *file, int line)
{
    void *p = malloc(size ? size : 1);

    if (p == NULL) {
        oom(size, file, line);
    }
    return p;
}

void *dtk__calloc(size_t n, size_t size, const char *file, int line)
{
    void *p;

    if (n == 0 || size == 0) {
        n = 1;
        size = 1;
    }
    p = calloc(n, size);
    if (p == NULL) {
        oom(n * size, file, line);
    }
    return p;
}

void *dtk__realloc(void *ptr, size_t size, const char *file, int line)
{
    void *p = realloc(ptr, size ? size : 1);

    if (p == NULL) {
        oom(size, file, line);
    }
    return p;
}

char *dtk__strndup(const char *s, size_t n, const char *file, int line)
{
    char *p = dtk__malloc(n + 1, file, line);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *dtk__strdup(const char *s, const char *file, int line)
{
    if (s == NULL) {
        return NULL;
    }
    return dtk__strndup(s, strlen(s), file, line);
}

void dtk__free(void *ptr, const char *file, int line)
{
    (void)file;
    (void)line;
    free(ptr);
}

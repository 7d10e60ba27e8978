/* Allocation wrappers: every heap allocation of the project goes through here.
 * Thread-safety: thread-safe (they call the C library allocator).
 *
 * Out of memory aborts with size and file:line (the Redis policy): callers never
 * test the result. Untrusted sizes are bounded before they reach an allocator
 * (see dtk_buf). file:line is kept so an OOM report names the call site.
 */
#ifndef DTK_BASE_ALLOC_H
#define DTK_BASE_ALLOC_H

#include <stddef.h>

void *dtk__malloc(size_t size, const char *file, int line);
void *dtk__calloc(size_t n, size_t size, const char *file, int line);
void *dtk__realloc(void *ptr, size_t size, const char *file, int line);
char *dtk__strdup(const char *s, const char *file, int line);
char *dtk__strndup(const char *s, size_t n, const char *file, int line);
void dtk__free(void *ptr, const char *file, int line);

#define dtk_malloc(size) dtk__malloc((size), __FILE__, __LINE__)
#define dtk_calloc(n, size) dtk__calloc((n), (size), __FILE__, __LINE__)
#define dtk_realloc(ptr, size) dtk__realloc((ptr), (size), __FILE__, __LINE__)
#define dtk_strdup(s) dtk__strdup((s), __FILE__, __LINE__)
#define dtk_strndup(s, n) dtk__strndup((s), (n), __FILE__, __LINE__)
#define dtk_free(ptr) dtk__free((ptr), __FILE__, __LINE__)

/* Aborts with file:line when cond is false. Always compiled in; for
 * invariants only, never for input validation. */
#define dtk_assert(cond)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            dtk__assert_fail(#cond, __FILE__, __LINE__);                       \
        }                                                                      \
    } while (0)

_Noreturn void dtk__assert_fail(const char *expr, const char *file, int line);

#endif

/* String-keyed hash map with owned keys and borrowed values.
 * Thread-safety: none; one owner (callers lock).
 *
 * Open addressing with linear probing and tombstones; grows at 70% load. The
 * map copies keys and never frees values: the owner frees values before
 * dtk_map_dispose (iterate with dtk_map_next).
 */
#ifndef DTK_BASE_MAP_H
#define DTK_BASE_MAP_H

#include <stddef.h>

typedef struct dtk_map_slot {
    char *key; /* NULL: empty; DTK_MAP_TOMBSTONE: deleted */
    void *value;
    size_t hash;
} dtk_map_slot;

typedef struct dtk_map {
    dtk_map_slot *slots;
    size_t cap;  /* power of two, or 0 */
    size_t len;  /* live entries */
    size_t used; /* live + tombstones */
} dtk_map;

/* clang-format off */
#define DTK_MAP_INIT { NULL, 0, 0, 0 }
/* clang-format on */

void dtk_map_dispose(dtk_map *map);

/* Borrowed value or NULL. */
void *dtk_map_get(const dtk_map *map, const char *key);

/* Inserts or replaces; returns the previous value (for the caller to free)
 * or NULL. The key is copied. */
void *dtk_map_put(dtk_map *map, const char *key, void *value);

/* Removes; returns the value (for the caller to free) or NULL. */
void *dtk_map_remove(dtk_map *map, const char *key);

size_t dtk_map_len(const dtk_map *map);

/* Iteration: start with *iter = 0; returns 0 at the end. Not stable across
 * insertions. key_out/value_out may be NULL. */
int dtk_map_next(const dtk_map *map, size_t *iter, const char **key_out,
                 void **value_out);

#endif

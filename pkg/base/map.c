#include "pkg/base/map.h"

#include <string.h>

#include "pkg/base/alloc.h"

static char tombstone_marker;
#define TOMBSTONE (&tombstone_marker)

/* FNV-1a: short keys ("namespace/name"), good enough spread. */
static size_t hash_key(const char *key)
{
    size_t h = (size_t)14695981039346656037ULL;

    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= (size_t)1099511628211ULL;
    }
    return h;
}

void dtk_map_dispose(dtk_map *map)
{
    for (size_t i = 0; i < map->cap; i++) {
        if (map->slots[i].key != NULL && map->slots[i].key != TOMBSTONE) {
            dtk_free(map->slots[i].key);
        }
    }
    dtk_free(map->slots);
    map->slots = NULL;
    map->cap = map->len = map->used = 0;
}

static dtk_map_slot *find(const dtk_map *map, const char *key, size_t h)
{
    size_t mask;

    if (map->cap == 0) {
        return NULL;
    }
    mask = map->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        dtk_map_slot *s = &map->slots[i];

        if (s->key == NULL) {
            return NULL;
        }
        if (s->key != TOMBSTONE && s->hash == h && strcmp(s->key, key) == 0) {
            return s;
        }
    }
}

static void grow(dtk_map *map)
{
    dtk_map_slot *old = map->slots;
    size_t old_cap = map->cap;
    size_t cap = old_cap ? old_cap * 2 : 16;

    /* Many tombstones and few live entries: rehash at the same size. */
    if (old_cap && map->len * 2 < old_cap) {
        cap = old_cap;
    }
    map->slots = dtk_calloc(cap, sizeof(dtk_map_slot));
    map->cap = cap;
    map->used = map->len;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].key != NULL && old[i].key != TOMBSTONE) {
            size_t mask = cap - 1;
            size_t j = old[i].hash & mask;

            while (map->slots[j].key != NULL) {
                j = (j + 1) & mask;
            }
            map->slots[j] = old[i];
        }
    }
    dtk_free(old);
}

void *dtk_map_get(const dtk_map *map, const char *key)
{
    dtk_map_slot *s = find(map, key, hash_key(key));

    return s ? s->value : NULL;
}

void *dtk_map_put(dtk_map *map, const char *key, void *value)
{
    size_t h = hash_key(key);
    dtk_map_slot *s = find(map, key, h);
    size_t mask;
    size_t i;

    if (s != NULL) {
        void *prev = s->value;

        s->value = value;
        return prev;
    }
    if ((map->used + 1) * 10 > map->cap * 7) {
        grow(map);
    }
    mask = map->cap - 1;
    for (i = h & mask; map->slots[i].key != NULL &&
                       map->slots[i].key != TOMBSTONE;
         i = (i + 1) & mask) {
    }
    if (map->slots[i].key == NULL) {
        map->used++;
    }
    map->slots[i].key = dtk_strdup(key);
    map->slots[i].value = value;
    map->slots[i].hash = h;
    map->len++;
    return NULL;
}

void *dtk_map_remove(dtk_map *map, const char *key)
{
    dtk_map_slot *s = find(map, key, hash_key(key));
    void *value;

    if (s == NULL) {
        return NULL;
    }
    value = s->value;
    dtk_free(s->key);
    s->key = TOMBSTONE;
    s->value = NULL;
    map->len--;
    return value;
}

size_t dtk_map_len(const dtk_map *map)
{
    return map->len;
}

int dtk_map_next(const dtk_map *map, size_t *iter, const char **key_out,
                 void **value_out)
{
    for (size_t i = *iter; i < map->cap; i++) {
        const dtk_map_slot *s = &map->slots[i];

        if (s->key != NULL && s->key != TOMBSTONE) {
            if (key_out) {
                *key_out = s->key;
            }
            if (value_out) {
                *value_out = s->value;
            }
            *iter = i + 1;
            return 1;
        }
    }
    *iter = map->cap;
    return 0;
}

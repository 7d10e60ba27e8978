/* dtk_indexer: the informer's cache (client-go's threadSafeMap + Indexer).
 *
 * A map key -> object (the store holds one reference per object) and, per
 * index, a map value -> bucket of the objects with that value. All of it is
 * guarded by one rwlock: readers take references under the read lock and
 * use the objects after releasing it (objects are immutable); a write
 * changes the object map and every index under the write lock, so no reader
 * ever sees an object without its index entries or the other way round.
 *
 * Index values are not stored per object: the old object's values are
 * computed again when it is replaced or removed (index functions are pure),
 * which keeps a cached object at its packed size.
 *
 * Buckets hold borrowed object pointers (the object map holds the
 * reference) keyed by object key: a small array up to SMALL_BUCKET entries
 * (most values, like "instances of this target", have a few objects), a
 * hash map beyond (a namespace index may hold thousands).
 */
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/error.h"
#include "pkg/base/map.h"
#include "pkg/informer/informer_int.h"

#define SMALL_BUCKET 8

struct dtk_index_values {
    dtk_buf text; /* values, each followed by '\0' */
    size_t count;
};

typedef struct bucket {
    dtk_object **small; /* used while big.cap == 0 */
    size_t len, cap;
    dtk_map big; /* key -> dtk_object* */
} bucket;

typedef struct store_index {
    char *name;
    dtk_index_fn fn;
    void *payload;
    dtk_map buckets; /* value -> bucket* */
} store_index;

struct dtk_indexer {
    pthread_rwlock_t lock;
    dtk_map objects; /* key -> dtk_object* (one reference each) */
    store_index *indexes;
    size_t index_count;
    /* Scratch for index values, used under the write lock. */
    dtk_index_values old_values;
    dtk_index_values new_values;
};

/* ---- Index values ------------------------------------------------------ */

void dtk_index_values_add(dtk_index_values *values, const char *value)
{
    if (value == NULL) {
        return;
    }
    /* The default limit (64 MiB) is far beyond any sane index. */
    if (dtk_buf_put(&values->text, value, strlen(value) + 1) == 0) {
        values->count++;
    }
}

void dtk_index_by_namespace(dtk_index_values *out,
                            const dtk_object *obj,
                            void *payload)
{
    (void)payload;
    dtk_index_values_add(out, dtk_object_namespace(obj));
}

static void values_reset(dtk_index_values *v)
{
    dtk_buf_reset(&v->text);
    v->count = 0;
}

/* Iterates the values: start with *pos = NULL. */
static const char *values_next(const dtk_index_values *v, const char **pos)
{
    const char *end = v->text.ptr + v->text.len;
    const char *p = *pos == NULL ? v->text.ptr : *pos + strlen(*pos) + 1;

    if (v->count == 0 || p >= end) {
        return NULL;
    }
    *pos = p;
    return p;
}

static int values_contain(const dtk_index_values *v, const char *value)
{
    const char *pos = NULL;
    const char *s;

    while ((s = values_next(v, &pos)) != NULL) {
        if (strcmp(s, value) == 0) {
            return 1;
        }
    }
    return 0;
}

static void index_values(dtk_index_values *out,
                         const store_index *ix,
                         const dtk_object *obj)
{
    values_reset(out);
    if (obj != NULL) {
        ix->fn(out, obj, ix->payload);
    }
}

/* ---- Buckets ----------------------------------------------------------- */

static void bucket_set(bucket *b, dtk_object *obj)
{
    const char *key = dtk_object_key(obj);

    if (b->big.cap > 0) {
        dtk_map_put(&b->big, key, obj);
        return;
    }
    for (size_t i = 0; i < b->len; i++) {
        if (strcmp(dtk_object_key(b->small[i]), key) == 0) {
            b->small[i] = obj;
            return;
        }
    }
    if (b->len == SMALL_BUCKET) {
        for (size_t i = 0; i < b->len; i++) {
            dtk_map_put(&b->big, dtk_object_key(b->small[i]), b->small[i]);
        }
        dtk_map_put(&b->big, key, obj);
        dtk_free(b->small);
        b->small = NULL;
        b->len = b->cap = 0;
        return;
    }
    if (b->len == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 2;
        b->small = dtk_realloc(b->small, b->cap * sizeof(*b->small));
    }
    b->small[b->len++] = obj;
}

static void bucket_unset(bucket *b, const char *key)
{
    if (b->big.cap > 0) {
        dtk_map_remove(&b->big, key);
        return;
    }
    for (size_t i = 0; i < b->len; i++) {
        if (strcmp(dtk_object_key(b->small[i]), key) == 0) {
            b->small[i] = b->small[--b->len];
            return;
        }
    }
}

static size_t bucket_len(const bucket *b)
{
    return b->big.cap > 0 ? dtk_map_len(&b->big) : b->len;
}

static void bucket_free(bucket *b)
{
    if (b == NULL) {
        return;
    }
    dtk_free(b->small);
    dtk_map_dispose(&b->big);
    dtk_free(b);
}

static void bucket_collect(dtk_object_list *out, const bucket *b)
{
    size_t n = bucket_len(b);
    size_t iter = 0;
    void *value;

    out->items = dtk_calloc(n > 0 ? n : 1, sizeof(dtk_object *));
    if (b->big.cap > 0) {
        while (dtk_map_next(&b->big, &iter, NULL, &value)) {
            out->items[out->len++] = dtk_object_ref(value);
        }
        return;
    }
    for (size_t i = 0; i < b->len; i++) {
        out->items[out->len++] = dtk_object_ref(b->small[i]);
    }
}

/* ---- Index maintenance (write lock held) ------------------------------- */

/* Moves key from the buckets of old_obj's values to those of new_obj's
 * (either may be NULL). Buckets of values both have are repointed to
 * new_obj. */
static void index_update(dtk_indexer *s,
                         store_index *ix,
                         dtk_object *old_obj,
                         dtk_object *new_obj)
{
    const char *key = dtk_object_key(old_obj != NULL ? old_obj : new_obj);
    const char *pos = NULL;
    const char *v;

    index_values(&s->old_values, ix, old_obj);
    index_values(&s->new_values, ix, new_obj);
    while ((v = values_next(&s->old_values, &pos)) != NULL) {
        bucket *b;

        if (values_contain(&s->new_values, v)) {
            continue;
        }
        b = dtk_map_get(&ix->buckets, v);
        if (b == NULL) {
            continue;
        }
        bucket_unset(b, key);
        if (bucket_len(b) == 0) {
            bucket_free(dtk_map_remove(&ix->buckets, v));
        }
    }
    pos = NULL;
    while ((v = values_next(&s->new_values, &pos)) != NULL) {
        bucket *b = dtk_map_get(&ix->buckets, v);

        if (b == NULL) {
            b = dtk_calloc(1, sizeof(*b));
            dtk_map_put(&ix->buckets, v, b);
        }
        bucket_set(b, new_obj);
    }
}

static void indexes_update(dtk_indexer *s,
                           dtk_object *old_obj,
                           dtk_object *new_obj)
{
    for (size_t i = 0; i < s->index_count; i++) {
        index_update(s, &s->indexes[i], old_obj, new_obj);
    }
}

/* Puts obj (stealing the reference); returns the replaced object (its
 * reference now the caller's) or NULL. */
static dtk_object *put_locked(dtk_indexer *s, dtk_object *obj)
{
    dtk_object *old = dtk_map_put(&s->objects, dtk_object_key(obj), obj);

    indexes_update(s, old, obj);
    return old;
}

static dtk_object *remove_locked(dtk_indexer *s, const char *key)
{
    dtk_object *old = dtk_map_remove(&s->objects, key);

    if (old != NULL) {
        indexes_update(s, old, NULL);
    }
    return old;
}

/* ---- Public ------------------------------------------------------------ */

dtk_indexer *dtk_indexer_new(void)
{
    dtk_indexer *s = dtk_calloc(1, sizeof(*s));

    dtk_assert(pthread_rwlock_init(&s->lock, NULL) == 0);
    dtk_buf_init(&s->old_values.text, 0);
    dtk_buf_init(&s->new_values.text, 0);
    return s;
}

static void index_dispose(store_index *ix)
{
    size_t iter = 0;
    void *value;

    while (dtk_map_next(&ix->buckets, &iter, NULL, &value)) {
        bucket_free(value);
    }
    dtk_map_dispose(&ix->buckets);
    dtk_free(ix->name);
}

void dtk_indexer_free(dtk_indexer *store)
{
    size_t iter = 0;
    void *value;

    if (store == NULL) {
        return;
    }
    while (dtk_map_next(&store->objects, &iter, NULL, &value)) {
        dtk_object_unref(value);
    }
    dtk_map_dispose(&store->objects);
    for (size_t i = 0; i < store->index_count; i++) {
        index_dispose(&store->indexes[i]);
    }
    dtk_free(store->indexes);
    dtk_buf_dispose(&store->old_values.text);
    dtk_buf_dispose(&store->new_values.text);
    pthread_rwlock_destroy(&store->lock);
    dtk_free(store);
}

static store_index *find_index(dtk_indexer *s, const char *name)
{
    for (size_t i = 0; i < s->index_count; i++) {
        if (strcmp(s->indexes[i].name, name) == 0) {
            return &s->indexes[i];
        }
    }
    return NULL;
}

int dtk_indexer_add_index(dtk_indexer *store,
                          const char *name,
                          dtk_index_fn fn,
                          void *payload)
{
    store_index *ix;
    size_t iter = 0;
    void *value;
    int error = 0;

    if (name == NULL || fn == NULL) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "index: a name and a function are required");
        return DTK_EINVALID;
    }
    pthread_rwlock_wrlock(&store->lock);
    if (find_index(store, name) != NULL) {
        dtk_error_set(DTK_ERRCLASS_INVALID, "index '%s': already exists", name);
        error = DTK_EEXISTS;
        goto out;
    }
    store->indexes = dtk_realloc(store->indexes, (store->index_count + 1) *
                                                     sizeof(store_index));
    ix = &store->indexes[store->index_count++];
    memset(ix, 0, sizeof(*ix));
    ix->name = dtk_strdup(name);
    ix->fn = fn;
    ix->payload = payload;
    while (dtk_map_next(&store->objects, &iter, NULL, &value)) {
        index_update(store, ix, NULL, value);
    }
out:
    pthread_rwlock_unlock(&store->lock);
    return error;
}

int dtk_indexer_get(dtk_object **out, dtk_indexer *store, const char *key)
{
    dtk_object *obj;

    pthread_rwlock_rdlock(&store->lock);
    obj = dtk_map_get(&store->objects, key);
    if (obj != NULL) {
        dtk_object_ref(obj);
    }
    pthread_rwlock_unlock(&store->lock);
    if (obj == NULL) {
        dtk_error_set(DTK_ERRCLASS_NONE, "%s: not in the cache", key);
        return DTK_ENOTFOUND;
    }
    *out = obj;
    return 0;
}

void dtk_indexer_list(dtk_object_list *out, dtk_indexer *store)
{
    size_t iter = 0;
    void *value;

    pthread_rwlock_rdlock(&store->lock);
    out->len = 0;
    out->items =
        dtk_calloc(dtk_map_len(&store->objects) + 1, sizeof(dtk_object *));
    while (dtk_map_next(&store->objects, &iter, NULL, &value)) {
        out->items[out->len++] = dtk_object_ref(value);
    }
    pthread_rwlock_unlock(&store->lock);
}

int dtk_indexer_by_index(dtk_object_list *out,
                         dtk_indexer *store,
                         const char *index,
                         const char *value)
{
    store_index *ix;
    bucket *b;
    int error = 0;

    pthread_rwlock_rdlock(&store->lock);
    out->len = 0;
    out->items = NULL;
    ix = find_index(store, index);
    if (ix == NULL) {
        dtk_error_set(DTK_ERRCLASS_INVALID, "index '%s': unknown", index);
        error = DTK_EINVALID;
        goto out;
    }
    b = dtk_map_get(&ix->buckets, value);
    if (b != NULL) {
        bucket_collect(out, b);
    }
out:
    pthread_rwlock_unlock(&store->lock);
    return error;
}

size_t dtk_indexer_len(dtk_indexer *store)
{
    size_t n;

    pthread_rwlock_rdlock(&store->lock);
    n = dtk_map_len(&store->objects);
    pthread_rwlock_unlock(&store->lock);
    return n;
}

void dtk_indexer_put(dtk_object **old_out, dtk_indexer *store, dtk_object *obj)
{
    dtk_object *old;

    dtk_object_ref(obj);
    pthread_rwlock_wrlock(&store->lock);
    old = put_locked(store, obj);
    pthread_rwlock_unlock(&store->lock);
    if (old_out != NULL) {
        *old_out = old;
    } else {
        dtk_object_unref(old);
    }
}

void dtk_indexer_remove(dtk_object **old_out,
                        dtk_indexer *store,
                        const char *key)
{
    dtk_object *old;

    pthread_rwlock_wrlock(&store->lock);
    old = remove_locked(store, key);
    pthread_rwlock_unlock(&store->lock);
    if (old_out != NULL) {
        *old_out = old;
    } else {
        dtk_object_unref(old);
    }
}

void dtk_indexer_changes_dispose(dtk_indexer_changes *changes)
{
    for (size_t i = 0; i < changes->len; i++) {
        dtk_object_unref(changes->items[i].old_obj);
        dtk_object_unref(changes->items[i].new_obj);
    }
    dtk_free(changes->items);
    changes->items = NULL;
    changes->len = changes->cap = 0;
}

static void change_add(dtk_indexer_changes *c,
                       dtk_indexer_change_type type,
                       dtk_object *old_obj,
                       dtk_object *new_obj)
{
    if (c->len == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->items = dtk_realloc(c->items, c->cap * sizeof(*c->items));
    }
    c->items[c->len].type = type;
    c->items[c->len].old_obj = old_obj;
    c->items[c->len].new_obj = new_obj;
    c->len++;
}

static int same_version(const dtk_object *a, const dtk_object *b)
{
    const char *ra = dtk_object_resource_version(a);
    const char *rb = dtk_object_resource_version(b);

    if (ra != NULL && rb != NULL) {
        return strcmp(ra, rb) == 0; /* versions compare for equality only */
    }
    return dtk_json_equal(dtk_object_json(a), dtk_object_json(b));
}

void dtk_indexer_replace(dtk_indexer_changes *out,
                         dtk_indexer *store,
                         dtk_object **objects,
                         size_t count)
{
    dtk_map keep = DTK_MAP_INIT; /* keys of objects */
    char **gone = NULL;
    size_t ngone = 0;
    size_t iter = 0;
    const char *key;

    pthread_rwlock_wrlock(&store->lock);
    for (size_t i = 0; i < count; i++) {
        dtk_object *obj = objects[i];
        dtk_object *old = dtk_map_get(&store->objects, dtk_object_key(obj));

        dtk_map_put(&keep, dtk_object_key(obj), &keep); /* a set */
        if (old != NULL && same_version(old, obj)) {
            dtk_object_unref(obj);
            continue;
        }
        old = put_locked(store, dtk_object_ref(obj));
        /* The change keeps the reference stolen from objects. */
        change_add(out, old != NULL ? DTK_INDEXER_UPDATED : DTK_INDEXER_ADDED,
                   old, obj);
    }
    if (dtk_map_len(&store->objects) > dtk_map_len(&keep)) {
        gone = dtk_calloc(dtk_map_len(&store->objects), sizeof(char *));
        while (dtk_map_next(&store->objects, &iter, &key, NULL)) {
            if (dtk_map_get(&keep, key) == NULL) {
                gone[ngone++] = dtk_strdup(key);
            }
        }
    }
    for (size_t i = 0; i < ngone; i++) {
        change_add(out, DTK_INDEXER_DELETED, remove_locked(store, gone[i]),
                   NULL);
        dtk_free(gone[i]);
    }
    pthread_rwlock_unlock(&store->lock);
    dtk_free(gone);
    dtk_map_dispose(&keep);
}

/* Informer: a local, watched cache of one Kubernetes resource, the C form of
 * client-go's Reflector + SharedIndexInformer.
 *
 * Three parts, each usable on its own:
 *
 *   dtk_object    one cached object: immutable, reference counted, its JSON
 *                 packed into a single allocation with its key. Thread-safe
 *                 (the count is atomic; the content never changes).
 *   dtk_indexer   the store: a thread-safe cache of objects keyed
 *                 "namespace/name" ("name" for cluster-scoped objects), with
 *                 named indexes (client-go's Indexer). Readers on any
 *                 thread; writes under a write lock, so a reader sees an
 *                 object and its index entries change together.
 *   dtk_informer  one thread that LISTs the resource (pages of 500), then
 *                 WATCHes it from the list's resourceVersion with bookmarks,
 *                 keeps the store equal to the server and calls handlers.
 *
 * Reading the cache (any thread, any time):
 *
 *     dtk_object *obj = NULL;
 *     if (dtk_informer_get(&obj, inf, "ns", "name") == 0) {
 *         const dtk_json *json = dtk_object_json(obj);  // read only
 *         ...
 *         dtk_object_unref(obj);
 *     }
 *
 * Every object handed out is a reference the caller releases (get, list,
 * by_index); objects passed to handlers are borrowed for the call (take a
 * reference with dtk_object_ref to keep one). NEVER modify the JSON of a
 * cached object: it is shared by every reader. Copy it (dtk_json_copy) to
 * build a write. Objects are cached as the server sent them (a real
 * kube-apiserver leaves kind and apiVersion out of the items of a LIST of a
 * built-in type; watch events carry them).
 *
 * Handlers run on the informer thread, one event at a time, in the order the
 * server sent them, after the store has been updated and with no lock held
 * (so a handler may read the store, which already holds the new state).
 * They must be quick and only enqueue (dtk_workqueue_add of
 * dtk_object_key); a slow handler delays the whole informer.
 *
 * Recovery (reflector.c): a watch that ends normally is resumed from the
 * last resourceVersion seen (events and BOOKMARKs), so nothing is lost and
 * nothing is replayed. 410 Expired (on the watch, or on the list) leads to a
 * relist: LIST at the last version, or at "" (most recent) when that is
 * gone too; the store is replaced and handlers get a delete (with
 * final_state_unknown set) for every object that vanished in between, and
 * an add or update only for objects that were added or changed. Other
 * failures are retried with backoff (0.8 s doubling to 30 s with jitter,
 * reset after 2 minutes without failures).
 */
#ifndef DTK_INFORMER_INFORMER_H
#define DTK_INFORMER_INFORMER_H

#include <stddef.h>
#include <stdint.h>

#include "pkg/json/json.h"
#include "pkg/kube/kube.h"

/* ---- Objects ---------------------------------------------------------- */

typedef struct dtk_object dtk_object;

/* Wraps a Kubernetes object (it needs metadata.name; metadata.namespace is
 * optional). Steals json: it is packed into the object and freed, also on
 * failure. *out holds one reference (dtk_object_unref).
 * Returns DTK_EINVALID when json is not an object with a string
 * metadata.name (the message names the field). */
int dtk_object_new(dtk_object **out, dtk_json *json);

/* Adds a reference; returns obj. Thread-safe. */
dtk_object *dtk_object_ref(dtk_object *obj);

/* Drops a reference; the last one frees the object. NULL is a no-op. */
void dtk_object_unref(dtk_object *obj);

/* The object's JSON, borrowed for the object's lifetime. Read only: the
 * tree is packed into one allocation, so dtk_json_set/take/free on it (or
 * on any node in it) corrupts memory. */
const dtk_json *dtk_object_json(const dtk_object *obj);

/* "namespace/name", or "name" for a cluster-scoped object. Borrowed. */
const char *dtk_object_key(const dtk_object *obj);
/* Borrowed; namespace and resource version are NULL when absent. */
const char *dtk_object_namespace(const dtk_object *obj);
const char *dtk_object_name(const dtk_object *obj);
const char *dtk_object_resource_version(const dtk_object *obj);

/* A list of references, as returned by the list functions. */
typedef struct dtk_object_list {
    dtk_object **items;
    size_t len;
} dtk_object_list;

/* clang-format off */
#define DTK_OBJECT_LIST_INIT { NULL, 0 }
/* clang-format on */

/* Drops every reference and empties the list. */
void dtk_object_list_dispose(dtk_object_list *list);

/* ---- Store and indexes ------------------------------------------------ */

typedef struct dtk_indexer dtk_indexer;

/* Collects the index values of one object (see dtk_index_fn). */
typedef struct dtk_index_values dtk_index_values;

/* Adds one value (copied). Adding the same value twice is harmless. */
void dtk_index_values_add(dtk_index_values *values, const char *value);

/* Returns the index values of obj by calling dtk_index_values_add zero or
 * more times: an object with no value is not in the index. Called with the
 * store's write lock held, each time an object is added, replaced or
 * removed: it must be a pure function of the object (the same object, the
 * same values), quick, and must not use the store. */
typedef void (*dtk_index_fn)(dtk_index_values *out,
                             const dtk_object *obj,
                             void *payload);

/* A ready index function: the object's namespace (client-go's
 * NamespaceIndex). payload is unused. */
void dtk_index_by_namespace(dtk_index_values *out,
                            const dtk_object *obj,
                            void *payload);

/* An empty store. Free with dtk_indexer_free, which drops its references. */
dtk_indexer *dtk_indexer_new(void);
void dtk_indexer_free(dtk_indexer *store);

/* Adds an index named name (copied); objects already in the store are
 * indexed at once. payload is passed to fn. Returns DTK_EEXISTS when the
 * name is taken, DTK_EINVALID for a NULL name or function. */
int dtk_indexer_add_index(dtk_indexer *store,
                          const char *name,
                          dtk_index_fn fn,
                          void *payload);

/* *out: a new reference to the object with that key. Returns
 * DTK_ENOTFOUND (message: "<key>: not in the cache") when absent. */
int dtk_indexer_get(dtk_object **out, dtk_indexer *store, const char *key);

/* *out (DTK_OBJECT_LIST_INIT or disposed): references to every object, in
 * no particular order. */
void dtk_indexer_list(dtk_object_list *out, dtk_indexer *store);

/* *out: references to the objects whose index values include value (an
 * empty list when none). Returns DTK_EINVALID for an unknown index name. */
int dtk_indexer_by_index(dtk_object_list *out,
                         dtk_indexer *store,
                         const char *index,
                         const char *value);

size_t dtk_indexer_len(dtk_indexer *store);

/* Writes (the informer thread; any thread may write, one at a time). */

/* Inserts or replaces obj under its key; the store takes its own
 * reference. *old_out (old_out may be NULL): the object it replaced (a
 * reference the caller now owns) or NULL. */
void dtk_indexer_put(dtk_object **old_out, dtk_indexer *store, dtk_object *obj);

/* Removes the object with that key. *old_out (may be NULL): the removed
 * object (a reference the caller owns) or NULL when there was none. */
void dtk_indexer_remove(dtk_object **old_out,
                        dtk_indexer *store,
                        const char *key);

typedef enum dtk_indexer_change_type {
    DTK_INDEXER_ADDED = 1,
    DTK_INDEXER_UPDATED,
    DTK_INDEXER_DELETED,
} dtk_indexer_change_type;

/* One difference found by dtk_indexer_replace; it owns one reference to each
 * object that is set (old_obj: UPDATED, DELETED; new_obj: ADDED, UPDATED). */
typedef struct dtk_indexer_change {
    dtk_indexer_change_type type;
    dtk_object *old_obj;
    dtk_object *new_obj;
} dtk_indexer_change;

typedef struct dtk_indexer_changes {
    dtk_indexer_change *items;
    size_t len, cap;
} dtk_indexer_changes;

/* clang-format off */
#define DTK_INDEXER_CHANGES_INIT { NULL, 0, 0 }
/* clang-format on */

void dtk_indexer_changes_dispose(dtk_indexer_changes *changes);

/* Makes the store hold exactly objects[0..count) in one step (readers see
 * the old content or the new, never a mix). Steals the references in
 * objects (the array itself stays the caller's). An object whose key is
 * already cached with the same resourceVersion (the same JSON when either
 * has none) is unchanged: the cached one is kept and the new one dropped.
 * Appends to *out, in this order: ADDED/UPDATED in the order of objects,
 * then DELETED for every cached key absent from objects. */
void dtk_indexer_replace(dtk_indexer_changes *out,
                         dtk_indexer *store,
                         dtk_object **objects,
                         size_t count);

/* ---- Informer --------------------------------------------------------- */

typedef struct dtk_informer dtk_informer;

/* Event handlers; any function may be NULL. Objects are borrowed for the
 * call. Called on the informer thread with no lock held, after the store
 * has been updated. Must only enqueue. */
typedef struct dtk_informer_handler {
    void (*on_add)(dtk_object *obj, void *payload);
    /* Also called by the periodic resync with old_obj == new_obj. */
    void (*on_update)(dtk_object *old_obj, dtk_object *new_obj, void *payload);
    /* obj: the last state the server sent (DELETED event; delivered even
     * when the cache did not hold the object, as client-go does), or, with
     * final_state_unknown set, the last state the cache held for an object
     * found gone by a relist (client-go's DeletedFinalStateUnknown). */
    void (*on_delete)(dtk_object *obj, int final_state_unknown, void *payload);
    void *payload;
} dtk_informer_handler;

/* clang-format off */
#define DTK_INFORMER_HANDLER_INIT { NULL, NULL, NULL, NULL }
/* clang-format on */

/* Called on the informer thread, with no lock held, after each failed LIST
 * or WATCH (before the backoff wait) and on each 410 Expired: error is the
 * code, message the one-line error text (no secrets). For logging and
 * metrics; must not block. */
typedef void (*dtk_informer_error_fn)(int error,
                                      const char *message,
                                      void *payload);

typedef struct dtk_informer_options {
    const char *name;           /* for errors and logs; NULL: the resource */
    const char *namespace;      /* NULL: all namespaces (and cluster-scoped
                                 * resources) */
    const char *label_selector; /* NULL: none */
    const char *field_selector; /* NULL: none */
    long page_size;             /* LIST page size; 0: 500 */
    int64_t resync_ms;          /* replay every cached object to on_update
                                 * this often; 0: never. At least 1000. */
    int64_t backoff_initial_ms; /* 0: 800 */
    int64_t backoff_max_ms;     /* 0: 30000 */
    int64_t backoff_reset_ms;   /* failure-free time after which the
                                 * backoff starts over; 0: 120000 */
    dtk_informer_error_fn on_error;
    void *on_error_payload;
} dtk_informer_options;

/* clang-format off */
#define DTK_INFORMER_OPTIONS_INIT \
    { NULL, NULL, NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL }
/* clang-format on */

/* Counters since start, for tests, metrics and readiness. */
typedef struct dtk_informer_stats {
    uint64_t lists;        /* successful LISTs (the first and relists) */
    uint64_t list_errors;  /* failed LISTs (a 410 falling back to "" too) */
    uint64_t watches;      /* WATCH requests made */
    uint64_t watch_errors; /* WATCHes that failed (not 410, not a normal
                            * end of the stream) */
    uint64_t expired;      /* 410 Expired answers (watch or list) */
    uint64_t events;       /* ADDED/MODIFIED/DELETED events applied */
    uint64_t bookmarks;    /* BOOKMARK events */
    uint64_t skipped;      /* events whose object had no metadata.name */
    uint64_t resyncs;      /* periodic resyncs done */
    int last_error;        /* code of the last failure; 0: none yet */
} dtk_informer_stats;

/* Creates a stopped informer for gvr (copied) through config (borrowed; it
 * must outlive the informer). options may be NULL (copied). *out owned by
 * the caller (dtk_informer_free). Returns DTK_EINVALID for bad options
 * (resync_ms below 1000, a negative page size or backoff; the message
 * names the field). */
int dtk_informer_new(dtk_informer **out,
                     dtk_kube_config *config,
                     const dtk_kube_gvr *gvr,
                     const dtk_informer_options *options);

/* Stops the informer if it runs, then frees it and its store. Objects the
 * caller still references stay valid. NULL is a no-op. */
void dtk_informer_free(dtk_informer *informer);

/* Registers handlers (copied) before dtk_informer_start; they are called
 * in the order registered. Returns DTK_EINVALID once started. */
int dtk_informer_add_handler(dtk_informer *informer,
                             const dtk_informer_handler *handler);

/* Adds an index to the informer's store (dtk_indexer_add_index); allowed at
 * any time. */
int dtk_informer_add_index(dtk_informer *informer,
                           const char *name,
                           dtk_index_fn fn,
                           void *payload);

/* Starts the informer thread, which owns a new dtk_kube_client. Returns
 * DTK_EINVALID when already started (an informer runs once) or when the
 * client cannot be made (TLS material), DTK_ERROR when the thread cannot
 * be created. */
int dtk_informer_start(dtk_informer *informer);

/* Stops the thread and waits for it: a request in flight is cancelled
 * (about a second at most), a backoff wait ends at once, and no handler is
 * called afterwards. Idempotent; safe before start. */
void dtk_informer_stop(dtk_informer *informer);

/* Non-zero once the first LIST has been stored and its adds delivered to
 * every handler (client-go's HasSynced); stays set. Thread-safe. */
int dtk_informer_has_synced(dtk_informer *informer);

/* Waits until has_synced, up to timeout_ms (< 0: no limit). Returns 0,
 * DTK_ETIMEOUT (message names the informer), or DTK_ESHUTDOWN when the
 * informer was stopped or never started. */
int dtk_informer_wait_synced(dtk_informer *informer, int64_t timeout_ms);

/* Cache reads: as dtk_indexer_get/list/by_index on the informer's store.
 * ns may be NULL for a cluster-scoped resource. */
int dtk_informer_get(dtk_object **out,
                     dtk_informer *informer,
                     const char *ns,
                     const char *name);
void dtk_informer_list(dtk_object_list *out, dtk_informer *informer);
int dtk_informer_by_index(dtk_object_list *out,
                          dtk_informer *informer,
                          const char *index,
                          const char *value);

/* The informer's store, borrowed for the informer's lifetime. Do not write
 * to it while the informer runs. */
dtk_indexer *dtk_informer_indexer(dtk_informer *informer);

/* A snapshot of the counters. Thread-safe. */
void dtk_informer_stats_get(dtk_informer_stats *out, dtk_informer *informer);

/* The last resourceVersion seen (list, event or bookmark); "" before the
 * first list. The caller frees it (dtk_free). Thread-safe. */
char *dtk_informer_resource_version(dtk_informer *informer);

#endif

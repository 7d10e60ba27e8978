/* dtk-apiserver internals shared between its files.
 * Thread-safety: everything under dtk_apiserver.mu unless noted.
 *
 * The development API server keeps every object in memory, in one store
 * guarded by one mutex: the write rate of a test cluster is far below what a
 * single lock can serve, and one lock makes resourceVersion ordering, watch
 * delivery and garbage collection trivially consistent. Every committed write
 * takes the next resourceVersion and appends exactly one event to a bounded
 * history ring, so "events after version X" is an index computation and a
 * version older than the ring is answered with 410 Expired.
 */
#ifndef DTK_APISERVER_APISERVER_H
#define DTK_APISERVER_APISERVER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pkg/base/buf.h"
#include "pkg/base/map.h"
#include "pkg/httpserver/server.h"
#include "pkg/json/json.h"

/* A served group/version/resource. Several versions of one CRD share one
 * bucket of objects (conversion strategy None: only apiVersion differs). */
typedef struct dtk_restype {
    char *group; /* "" for core */
    char *version;
    char *resource; /* plural */
    char *singular;
    char *kind;
    char *list_kind;
    int namespaced;
    char **short_names;
    size_t short_name_count;
    char **categories;
    size_t category_count;
    int has_status;      /* status subresource */
    int custom;          /* served from a CRD */
    int generation;      /* maintains metadata.generation */
    int strategic_merge; /* accepts strategic merge patches */
    int storage_version; /* this version is the CRD's storage version */
    char *crd_name;      /* owning CRD, custom only */
    dtk_json *schema;    /* openAPIV3Schema, custom only (owned copy) */
    struct dtk_schema *compiled; /* the same, compiled; custom only */
    dtk_json *columns;   /* additionalPrinterColumns (owned copy) or NULL */
    dtk_json *selectable_fields; /* CRD selectableFields or NULL */
    struct dtk_bucket *bucket;
} dtk_restype;

/* The objects of one group/resource. */
typedef struct dtk_bucket {
    char *group_resource; /* "dtk.io/widgets", "/secrets" */
    dtk_map objects;      /* "ns/name" or "name" -> dtk_stored */
    int refs;             /* restypes pointing here */
} dtk_bucket;

typedef struct dtk_stored {
    dtk_json *obj; /* the object as stored (storage apiVersion) */
    char *text;    /* its serialisation, cached for reads and watches */
    size_t text_len;
    int64_t rv;
} dtk_stored;

typedef enum dtk_event_type {
    DTK_EV_ADDED = 0,
    DTK_EV_MODIFIED,
    DTK_EV_DELETED,
} dtk_event_type;

/* One committed write. Texts are kept instead of trees: a history of tens of
 * thousands of events stays small, and watchers copy bytes. */
typedef struct dtk_event {
    int64_t rv;
    dtk_event_type type;
    dtk_bucket *bucket;
    char *namespace_; /* "" for cluster-scoped */
    char *name;
    char *text;      /* object after the write (before it, for DELETED) */
    char *prev_text; /* object before the write, NULL for ADDED */
} dtk_event;

typedef struct dtk_fault {
    char *method; /* NULL: any */
    char *path_prefix;
    int remaining;
    int code;
    int retry_after;
    int latency_ms;
} dtk_fault;

typedef struct dtk_apiserver_config {
    const char *address;
    int port;
    const char *tls_cert_pem;
    const char *tls_key_pem;
    const char *token_file;
    const char *data_dir;
    int enable_faults;
    size_t history_size;
    int bookmark_interval_s;
    size_t max_body;
} dtk_apiserver_config;

typedef struct dtk_apiserver {
    pthread_mutex_t mu;
    pthread_cond_t changed; /* broadcast on every commit and on stop */
    dtk_apiserver_config config;
    dtk_map buckets;  /* group_resource -> dtk_bucket */
    dtk_restype **types; /* guarded by mu */
    size_t type_count;
    int64_t rv; /* last committed resourceVersion */
    dtk_event *history; /* ring of config.history_size */
    size_t history_len;
    size_t history_start; /* index of the oldest event */
    int64_t compacted_rv; /* versions <= this are gone from history */
    unsigned watch_epoch; /* bumped to close every open watch */
    int stopping;
    dtk_fault *faults;
    size_t fault_count;
    FILE *wal; /* data-dir write-ahead log, or NULL */
    int64_t wal_records;
    pthread_t housekeeper;
    int housekeeper_started;
    int housekeeping_wanted; /* guarded by mu */
    /* Separate from changed: commits must not wake the housekeeper. */
    pthread_cond_t housekeeping_cv;
    dtk_httpserver *http;
} dtk_apiserver;

/* ---- registry.c ---- */
void dtk_registry_add_builtins(dtk_apiserver *s);
void dtk_registry_dispose(dtk_apiserver *s);
/* Finds a type by group, version and plural (or NULL). */
dtk_restype *dtk_registry_find(dtk_apiserver *s, const char *group,
                               const char *version, const char *resource);
/* (Re)builds the types of a CRD object; returns DTK_EINVALID with field
 * errors already in errs when the CRD is not acceptable. */
struct dtk_fielderr_list;
int dtk_registry_validate_crd(const dtk_json *crd,
                              struct dtk_fielderr_list *errs);
void dtk_registry_apply_crd(dtk_apiserver *s, const dtk_json *crd);
void dtk_registry_remove_crd(dtk_apiserver *s, const char *crd_name);
dtk_bucket *dtk_registry_bucket(dtk_apiserver *s, const char *group,
                                const char *resource);
/* Discovery documents; caller owns the result. NULL when unknown. */
dtk_json *dtk_registry_api_versions(dtk_apiserver *s);
dtk_json *dtk_registry_group_list(dtk_apiserver *s);
dtk_json *dtk_registry_group(dtk_apiserver *s, const char *group);
dtk_json *dtk_registry_resource_list(dtk_apiserver *s, const char *group,
                                     const char *version);
/* The restype serving the storage version of a bucket (or any). */
dtk_restype *dtk_registry_storage_type(dtk_apiserver *s, dtk_bucket *b);

/* ---- store.c ---- */
/* key: "ns/name" for namespaced objects, "name" otherwise. */
void dtk_store_key(dtk_buf *out, const char *ns, const char *name);
dtk_stored *dtk_store_get(dtk_bucket *b, const char *ns, const char *name);
/* Commits obj (steals it) as the new state of ns/name: assigns the next
 * resourceVersion into metadata.resourceVersion, records the event, logs to
 * the WAL and wakes watchers. */
int dtk_store_put(dtk_apiserver *s, dtk_bucket *b, dtk_json *obj,
                  dtk_event_type type);
/* Removes ns/name, recording a DELETED event carrying the last state with a
 * fresh resourceVersion. */
int dtk_store_delete(dtk_apiserver *s, dtk_bucket *b, const char *ns,
                     const char *name);
/* Index of the first history event with rv > after, or -1 when after is
 * older than the history window (410). history_len when none yet. */
long dtk_store_history_index(dtk_apiserver *s, int64_t after);
dtk_event *dtk_store_history_at(dtk_apiserver *s, size_t index);
void dtk_store_compact(dtk_apiserver *s);
void dtk_store_init(dtk_apiserver *s);
void dtk_store_dispose(dtk_apiserver *s);
/* Persistence: replay the data dir into memory and open the WAL. */
int dtk_store_open_data_dir(dtk_apiserver *s);

/* ---- status.c ---- */
/* Builds a metav1.Status failure; caller owns it. */
dtk_json *dtk_status_new(int code, const char *reason, const char *message);
/* Adds details {name, group, kind}. */
void dtk_status_details(dtk_json *status, const char *name, const char *group,
                        const char *kind);
void dtk_respond_json(dtk_httpserver_exchange *ex, int code,
                      const dtk_json *body);
void dtk_respond_status(dtk_httpserver_exchange *ex, dtk_json *status);
void dtk_respond_error(dtk_httpserver_exchange *ex, int code,
                       const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- handler.c ---- */
void dtk_apiserver_handle(dtk_httpserver_exchange *ex, void *payload);
/* Deletes an object as a client DELETE with the given propagation would
 * (finalizers honoured). Caller holds mu. */
int dtk_apiserver_delete_locked(dtk_apiserver *s, dtk_restype *t,
                                const char *ns, const char *name,
                                const char *propagation);

/* ---- filter.c ---- */
/* Label and field selectors of a list or watch request, compiled once. */
typedef struct dtk_filter dtk_filter;
/* Returns 0 with *out NULL when there is nothing to filter on; on a bad
 * selector returns DTK_EINVALID with a 400 Status in *status_out. */
int dtk_filter_parse(dtk_filter **out, dtk_json **status_out,
                     const dtk_restype *t, const char *label_selector,
                     const char *field_selector);
int dtk_filter_match(const dtk_filter *f, const dtk_json *obj);
void dtk_filter_free(dtk_filter *f);

/* ---- watch.c ---- */
void dtk_watch_serve(dtk_apiserver *s, dtk_httpserver_exchange *ex,
                     dtk_restype *t, const char *ns, const char *name);

/* ---- housekeeping.c ---- */
int dtk_housekeeping_start(dtk_apiserver *s);
void dtk_housekeeping_stop(dtk_apiserver *s);
/* Caller holds mu: asks the housekeeper to run (GC, namespace and CRD
 * finalisation). */
void dtk_housekeeping_kick(dtk_apiserver *s);

/* ---- table.c ---- */
int dtk_table_wanted(dtk_httpserver_exchange *ex);
/* Converts a list of objects (borrowed) to a meta.k8s.io/v1 Table. */
dtk_json *dtk_table_from_objects(const dtk_restype *t, dtk_json *const *objs,
                                 size_t n, const char *rv,
                                 const char *continue_token);

/* ---- openapi.c ---- */
int dtk_openapi_serve(dtk_apiserver *s, dtk_httpserver_exchange *ex,
                      const char *path);

/* ---- meta.c ---- */
/* Current time as RFC 3339 (seconds). out >= 32 bytes. */
void dtk_meta_now(char *out, size_t size);
void dtk_meta_uid(char *out, size_t size);
const char *dtk_meta_get(const dtk_json *obj, const char *field);
dtk_json *dtk_meta_of(dtk_json *obj); /* metadata object, created if absent */
int64_t dtk_meta_rv(const dtk_json *obj);
/* RFC 1123 label of at most max bytes / RFC 1123 subdomain. */
int dtk_meta_is_dns_label(const char *s, size_t max);
int dtk_meta_is_dns_subdomain(const char *s);

#endif

/* Kubernetes protobuf bodies to JSON objects (see proto.h).
 *
 * libprotobuf-c does the wire parsing: it bounds every length by the input,
 * rejects truncated or malformed messages and keeps unknown fields aside.
 * This file only maps the parsed messages to JSON, one function per message
 * type, in the order of the Go struct fields so the text matches what
 * Kubernetes writes. The rules follow Go's encoding/json on the k8s.io/api
 * types:
 *   - `string` fields with omitempty: dropped when empty;
 *   - pointer fields (*string, *int32, *bool, *Time): written when present
 *     in the message, even when empty or zero (proto2 keeps presence);
 *   - struct fields (ObjectMeta, ObjectReference, Time, MicroTime,
 *     RawExtension): always written, a zero time as null;
 *   - maps: keys sorted byte-wise, a repeated key keeps its last value;
 *   - metav1.Time drops fractions of a second when decoded, MicroTime keeps
 *     microseconds.
 * Strings are coerced to UTF-8 as Go does (each invalid byte becomes
 * U+FFFD). protobuf-c hands strings over NUL-terminated without a length, so
 * a value containing a NUL byte is cut there.
 */
#include "cmd/dtk-apiserver/proto.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <protobuf-c/protobuf-c.h>

#include "apps_v1.pb-c.h"
#include "coordination_v1.pb-c.h"
#include "core_v1.pb-c.h"
#include "events_v1.pb-c.h"
#include "meta_v1.pb-c.h"
#include "pkg/base/alloc.h"
#include "pkg/base/b64.h"
#include "pkg/base/error.h"
#include "runtime.pb-c.h"

typedef K8s__Io__Apimachinery__Pkg__Runtime__Unknown pb_unknown;
typedef K8s__Io__Apimachinery__Pkg__Apis__Meta__V1__ObjectMeta pb_object_meta;
typedef K8s__Io__Apimachinery__Pkg__Apis__Meta__V1__OwnerReference
    pb_owner_reference;
typedef K8s__Io__Apimachinery__Pkg__Apis__Meta__V1__ManagedFieldsEntry
    pb_managed_fields;
typedef K8s__Io__Apimachinery__Pkg__Apis__Meta__V1__Time pb_time;
typedef K8s__Io__Apimachinery__Pkg__Apis__Meta__V1__MicroTime pb_micro_time;
typedef K8s__Io__Apimachinery__Pkg__Apis__Meta__V1__DeleteOptions
    pb_delete_options;
typedef K8s__Io__Api__Core__V1__Namespace pb_namespace;
typedef K8s__Io__Api__Core__V1__NamespaceCondition pb_namespace_condition;
typedef K8s__Io__Api__Core__V1__Secret pb_secret;
typedef K8s__Io__Api__Core__V1__ConfigMap pb_config_map;
typedef K8s__Io__Api__Core__V1__ServiceAccount pb_service_account;
typedef K8s__Io__Api__Core__V1__ObjectReference pb_object_reference;
typedef K8s__Io__Api__Core__V1__EventSource pb_event_source;
typedef K8s__Io__Api__Core__V1__Event pb_core_event;
typedef K8s__Io__Api__Coordination__V1__Lease pb_lease;
typedef K8s__Io__Api__Apps__V1__ControllerRevision pb_controller_revision;
typedef K8s__Io__Api__Events__V1__Event pb_events_event;

/* The 4-byte prefix of every Kubernetes protobuf body. */
static const unsigned char magic[4] = {'k', '8', 's', 0};

/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the range of RFC 3339.
 * The first is also Go's zero time.Time, which Kubernetes writes as null. */
#define UNIX_YEAR_1 INT64_C(-62135596800)
#define UNIX_YEAR_9999_END INT64_C(253402300799)

/* ---- allocation --------------------------------------------------------- */

/* protobuf-c allocates through here, so running out of memory aborts like
 * everywhere else in the project instead of looking like bad input. */
static void *pb_alloc(void *data, size_t size)
{
    (void)data;
    return dtk_malloc(size);
}

static void pb_free(void *data, void *ptr)
{
    (void)data;
    dtk_free(ptr);
}

static ProtobufCAllocator allocator = {pb_alloc, pb_free, NULL};

/* ---- strings ------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), or 0 when the byte starts none. */
static size_t utf8_sequence(const unsigned char *p, size_t avail)
{
    unsigned char lo = 0x80, hi = 0xBF;
    size_t n;

    if (p[0] < 0x80) {
        return 1;
    }
    if (p[0] >= 0xC2 && p[0] <= 0xDF) {
        n = 2;
    } else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        n = 3;
        lo = p[0] == 0xE0 ? 0xA0 : 0x80;
        hi = p[0] == 0xED ? 0x9F : 0xBF;
    } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        n = 4;
        lo = p[0] == 0xF0 ? 0x90 : 0x80;
        hi = p[0] == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (avail < n || p[1] < lo || p[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xBF) {
            return 0;
        }
    }
    return n;
}

/* s as a valid UTF-8 C string: s itself when it already is, otherwise a copy
 * in *copy (caller frees) with every invalid byte replaced by U+FFFD, as
 * Go's encoding/json writes it. */
static const char *utf8_coerce(const char *s, dtk_buf *copy)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s), i = 0;

    while (i < len && utf8_sequence(p + i, len - i) > 0) {
        i += utf8_sequence(p + i, len - i);
    }
    if (i == len) {
        return s;
    }
    dtk_buf_put(copy, s, i);
    while (i < len) {
        size_t n = utf8_sequence(p + i, len - i);

        if (n == 0) {
            dtk_buf_puts(copy, "\xEF\xBF\xBD");
            i++;
        } else {
            dtk_buf_put(copy, p + i, n);
            i += n;
        }
    }
    return dtk_buf_cstr(copy);
}

/* A JSON string of s (NULL reads as ""). */
static dtk_json *new_string(const char *s)
{
    dtk_buf copy = DTK_BUF_INIT(0);
    dtk_json *v = dtk_json_new_string(utf8_coerce(s ? s : "", &copy));

    dtk_buf_dispose(&copy);
    return v;
}

/* Go `string` with omitempty. */
static void set_string(dtk_json *obj, const char *key, const char *s)
{
    if (s != NULL && *s != '\0') {
        dtk_json_set(obj, key, new_string(s));
    }
}

/* Go `*string`: written whenever the message carries the field. */
static void set_string_ptr(dtk_json *obj, const char *key, const char *s)
{
    if (s != NULL) {
        dtk_json_set(obj, key, new_string(s));
    }
}

/* Go `[]string` with omitempty. */
static void set_strings(dtk_json *obj, const char *key, char **items, size_t n)
{
    dtk_json *arr;

    if (n == 0) {
        return;
    }
    arr = dtk_json_new_array();
    for (size_t i = 0; i < n; i++) {
        dtk_json_append(arr, new_string(items[i]));
    }
    dtk_json_set(obj, key, arr);
}

/* Go integer with omitempty (present and non-zero), or a pointer (present). */
static void set_int(dtk_json *obj, const char *key, int has, int64_t v,
                    int pointer)
{
    if (has && (pointer || v != 0)) {
        dtk_json_set(obj, key, dtk_json_new_int(v));
    }
}

/* Go `*bool`. */
static void set_bool_ptr(dtk_json *obj, const char *key, int has, int v)
{
    if (has) {
        dtk_json_set(obj, key, dtk_json_new_bool(v));
    }
}

/* ---- maps --------------------------------------------------------------- */

typedef struct map_pair {
    char *key;      /* coerced to UTF-8, owned */
    dtk_json *value; /* owned */
    size_t seq;      /* position in the message: the last one wins */
} map_pair;

typedef struct map_builder {
    map_pair *pairs;
    size_t len;
} map_builder;

static void map_init(map_builder *m, size_t n)
{
    m->pairs = dtk_calloc(n, sizeof(*m->pairs));
    m->len = 0;
}

/* Frees what the builder still owns (after an error). */
static void map_dispose(map_builder *m)
{
    for (size_t i = 0; m->pairs != NULL && i < m->len; i++) {
        dtk_free(m->pairs[i].key);
        dtk_json_free(m->pairs[i].value);
    }
    dtk_free(m->pairs);
    m->pairs = NULL;
    m->len = 0;
}

/* Adds key (NULL reads as "", as a Go map key would) and steals value. */
static void map_add(map_builder *m, const char *key, dtk_json *value)
{
    dtk_buf copy = DTK_BUF_INIT(0);

    m->pairs[m->len].key = dtk_strdup(utf8_coerce(key ? key : "", &copy));
    m->pairs[m->len].value = value;
    m->pairs[m->len].seq = m->len;
    m->len++;
    dtk_buf_dispose(&copy);
}

static int pair_cmp(const void *a, const void *b)
{
    const map_pair *x = a, *y = b;
    int c = strcmp(x->key, y->key);

    if (c != 0) {
        return c;
    }
    return x->seq < y->seq ? -1 : 1;
}

/* Sets obj[key] to the map (sorted, unique keys), omitted when empty, and
 * empties the builder. The object is filled directly: with sorted unique
 * keys the duplicate lookup of dtk_json_set (linear per key) is not needed,
 * so a body of many thousand keys costs n log n, not n squared. */
static void map_set(dtk_json *obj, const char *key, map_builder *m)
{
    dtk_json *map;
    size_t n = 0;

    if (m->len == 0) {
        map_dispose(m);
        return;
    }
    qsort(m->pairs, m->len, sizeof(*m->pairs), pair_cmp);
    map = dtk_json_new_object();
    map->u.object.keys = dtk_calloc(m->len, sizeof(char *));
    map->u.object.values = dtk_calloc(m->len, sizeof(dtk_json *));
    map->u.object.cap = m->len;
    for (size_t i = 0; i < m->len; i++) {
        if (i + 1 < m->len && strcmp(m->pairs[i].key, m->pairs[i + 1].key) ==
                                  0) {
            dtk_free(m->pairs[i].key); /* a later value of the same key */
            dtk_json_free(m->pairs[i].value);
            continue;
        }
        map->u.object.keys[n] = m->pairs[i].key;
        map->u.object.values[n] = m->pairs[i].value;
        n++;
    }
    map->u.object.len = n;
    dtk_free(m->pairs);
    m->pairs = NULL;
    m->len = 0;
    dtk_json_set(obj, key, map);
}

/* Go []byte as JSON: standard base64 with padding. */
static int new_base64(dtk_json **out, const ProtobufCBinaryData *data)
{
    dtk_buf text = DTK_BUF_INIT(0);
    int error;

    error = dtk_b64_encode(&text, data->data, data->len);
    if (error == 0) {
        *out = dtk_json_new_string(dtk_buf_cstr(&text));
    }
    dtk_buf_dispose(&text);
    return error;
}

/* ---- times -------------------------------------------------------------- */

/* JSON of a metav1.Time (micro == 0) or MicroTime given as the fields of its
 * message; present == 0 is an empty message, Go's zero time. */
static int new_time(dtk_json **out, const char *path, int present,
                    int64_t seconds, int64_t nanos, int micro)
{
    struct tm tm;
    time_t t;
    char text[64];
    int n;

    if (!present) {
        *out = dtk_json_new_null();
        return 0;
    }
    if (seconds < UNIX_YEAR_1 - 2 || seconds > UNIX_YEAR_9999_END + 2) {
        goto range;
    }
    if (!micro) {
        nanos = 0; /* metav1.Time decodes time.Unix(seconds, 0) */
    }
    /* MicroTime decodes time.Unix(seconds, nanos), which normalises
     * nanoseconds outside [0, 1e9). */
    seconds += nanos / 1000000000;
    nanos %= 1000000000;
    if (nanos < 0) {
        nanos += 1000000000;
        seconds--;
    }
    if (seconds == UNIX_YEAR_1 && nanos == 0) {
        *out = dtk_json_new_null(); /* the zero time */
        return 0;
    }
    if (seconds < UNIX_YEAR_1 || seconds > UNIX_YEAR_9999_END) {
        goto range;
    }
    t = (time_t)seconds;
    if (gmtime_r(&t, &tm) == NULL) {
        goto range;
    }
    if (micro) {
        n = snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(nanos / 1000));
    } else {
        n = snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02dZ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
    }
    dtk_assert(n > 0 && (size_t)n < sizeof(text)); /* years are 0001-9999 */
    *out = dtk_json_new_string(text);
    return 0;
range:
    dtk_error_set(DTK_ERRCLASS_INVALID,
                  "%s: time is outside the years 0001 to 9999", path);
    return DTK_EINVALID;
}

/* A metav1.Time field. A Go `Time` (pointer == 0) is always written, null
 * when absent; a `*Time` only when the message carries it. */
static int set_time(dtk_json *obj, const char *key, const char *path,
                    const pb_time *t, int pointer)
{
    dtk_json *v = NULL;
    int error;

    if (t == NULL && pointer) {
        return 0;
    }
    error = new_time(&v, path, t != NULL && (t->has_seconds || t->has_nanos),
                     t ? t->seconds : 0, t ? t->nanos : 0, 0);
    if (error == 0) {
        dtk_json_set(obj, key, v);
    }
    return error;
}

/* A metav1.MicroTime field, with the same pointer rule as set_time. */
static int set_micro_time(dtk_json *obj, const char *key, const char *path,
                          const pb_micro_time *t, int pointer)
{
    dtk_json *v = NULL;
    int error;

    if (t == NULL && pointer) {
        return 0;
    }
    error = new_time(&v, path, t != NULL && (t->has_seconds || t->has_nanos),
                     t ? t->seconds : 0, t ? t->nanos : 0, 1);
    if (error == 0) {
        dtk_json_set(obj, key, v);
    }
    return error;
}

/* ---- raw JSON (RawExtension, FieldsV1) ---------------------------------- */

/* Embedded JSON bytes as a value; no bytes is null (Go's nil Raw). */
static int new_raw_json(dtk_json **out, const char *path, int has,
                        const ProtobufCBinaryData *raw)
{
    if (!has || raw->len == 0) {
        *out = dtk_json_new_null();
        return 0;
    }
    if (dtk_json_parse(out, (const char *)raw->data, raw->len) < 0) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "%s: the embedded object is not valid JSON", path);
        return DTK_EINVALID;
    }
    return 0;
}

/* ---- meta/v1 ------------------------------------------------------------ */

static dtk_json *owner_reference_json(const pb_owner_reference *o)
{
    dtk_json *v = dtk_json_new_object();

    /* apiVersion, kind, name and uid have no omitempty. */
    dtk_json_set(v, "apiVersion", new_string(o->apiversion));
    dtk_json_set(v, "kind", new_string(o->kind));
    dtk_json_set(v, "name", new_string(o->name));
    dtk_json_set(v, "uid", new_string(o->uid));
    set_bool_ptr(v, "controller", o->has_controller, o->controller);
    set_bool_ptr(v, "blockOwnerDeletion", o->has_blockownerdeletion,
                 o->blockownerdeletion);
    return v;
}

static int managed_fields_json(dtk_json **out, const pb_managed_fields *m)
{
    dtk_json *v = dtk_json_new_object();
    int error;

    set_string(v, "manager", m->manager);
    set_string(v, "operation", m->operation);
    set_string(v, "apiVersion", m->apiversion);
    error = set_time(v, "time", "metadata.managedFields.time", m->time, 1);
    if (error < 0) {
        goto out;
    }
    set_string(v, "fieldsType", m->fieldstype);
    if (m->fieldsv1 != NULL) {
        dtk_json *raw = NULL;

        error = new_raw_json(&raw, "metadata.managedFields.fieldsV1",
                             m->fieldsv1->has_raw, &m->fieldsv1->raw);
        if (error < 0) {
            goto out;
        }
        dtk_json_set(v, "fieldsV1", raw);
    }
    set_string(v, "subresource", m->subresource);
    *out = v;
    v = NULL;
out:
    dtk_json_free(v);
    return error;
}

/* Sets obj.metadata. An absent ObjectMeta is Go's zero value, which is
 * written as {"creationTimestamp":null}. */
static int set_object_meta(dtk_json *obj, const pb_object_meta *m)
{
    static const pb_object_meta empty =
        K8S__IO__APIMACHINERY__PKG__APIS__META__V1__OBJECT_META__INIT;
    dtk_json *v = dtk_json_new_object();
    map_builder map;
    int error;

    if (m == NULL) {
        m = &empty;
    }
    set_string(v, "name", m->name);
    set_string(v, "generateName", m->generatename);
    set_string(v, "namespace", m->namespace_);
    set_string(v, "selfLink", m->selflink);
    set_string(v, "uid", m->uid);
    set_string(v, "resourceVersion", m->resourceversion);
    set_int(v, "generation", m->has_generation, m->generation, 0);
    error = set_time(v, "creationTimestamp", "metadata.creationTimestamp",
                     m->creationtimestamp, 0);
    if (error < 0) {
        goto out;
    }
    error = set_time(v, "deletionTimestamp", "metadata.deletionTimestamp",
                     m->deletiontimestamp, 1);
    if (error < 0) {
        goto out;
    }
    set_int(v, "deletionGracePeriodSeconds", m->has_deletiongraceperiodseconds,
            m->deletiongraceperiodseconds, 1);
    map_init(&map, m->n_labels);
    for (size_t i = 0; i < m->n_labels; i++) {
        map_add(&map, m->labels[i]->key, new_string(m->labels[i]->value));
    }
    map_set(v, "labels", &map);
    map_init(&map, m->n_annotations);
    for (size_t i = 0; i < m->n_annotations; i++) {
        map_add(&map, m->annotations[i]->key,
                new_string(m->annotations[i]->value));
    }
    map_set(v, "annotations", &map);
    if (m->n_ownerreferences > 0) {
        dtk_json *arr = dtk_json_new_array();

        for (size_t i = 0; i < m->n_ownerreferences; i++) {
            dtk_json_append(arr, owner_reference_json(m->ownerreferences[i]));
        }
        dtk_json_set(v, "ownerReferences", arr);
    }
    set_strings(v, "finalizers", m->finalizers, m->n_finalizers);
    if (m->n_managedfields > 0) {
        dtk_json *arr = dtk_json_new_array();

        dtk_json_set(v, "managedFields", arr);
        for (size_t i = 0; i < m->n_managedfields; i++) {
            dtk_json *entry = NULL;

            error = managed_fields_json(&entry, m->managedfields[i]);
            if (error < 0) {
                goto out;
            }
            dtk_json_append(arr, entry);
        }
    }
    dtk_json_set(obj, "metadata", v);
    v = NULL;
out:
    dtk_json_free(v);
    return error;
}

static int delete_options_json(dtk_json *obj, const ProtobufCMessage *msg)
{
    const pb_delete_options *d = (const pb_delete_options *)msg;

    set_int(obj, "gracePeriodSeconds", d->has_graceperiodseconds,
            d->graceperiodseconds, 1);
    if (d->preconditions != NULL) {
        dtk_json *p = dtk_json_new_object();

        set_string_ptr(p, "uid", d->preconditions->uid);
        set_string_ptr(p, "resourceVersion",
                       d->preconditions->resourceversion);
        dtk_json_set(obj, "preconditions", p);
    }
    set_bool_ptr(obj, "orphanDependents", d->has_orphandependents,
                 d->orphandependents);
    set_string_ptr(obj, "propagationPolicy", d->propagationpolicy);
    set_strings(obj, "dryRun", d->dryrun, d->n_dryrun);
    set_bool_ptr(obj, "ignoreStoreReadErrorWithClusterBreakingPotential",
                 d->has_ignorestorereaderrorwithclusterbreakingpotential,
                 d->ignorestorereaderrorwithclusterbreakingpotential);
    return 0;
}

/* ---- core/v1 ------------------------------------------------------------ */

/* ObjectReference: every field is a string with omitempty. */
static dtk_json *object_reference_json(const pb_object_reference *r)
{
    dtk_json *v = dtk_json_new_object();

    if (r == NULL) {
        return v;
    }
    set_string(v, "kind", r->kind);
    set_string(v, "namespace", r->namespace_);
    set_string(v, "name", r->name);
    set_string(v, "uid", r->uid);
    set_string(v, "apiVersion", r->apiversion);
    set_string(v, "resourceVersion", r->resourceversion);
    set_string(v, "fieldPath", r->fieldpath);
    return v;
}

static dtk_json *event_source_json(const pb_event_source *s)
{
    dtk_json *v = dtk_json_new_object();

    if (s != NULL) {
        set_string(v, "component", s->component);
        set_string(v, "host", s->host);
    }
    return v;
}

static int namespace_json(dtk_json *obj, const ProtobufCMessage *msg)
{
    const pb_namespace *ns = (const pb_namespace *)msg;
    dtk_json *spec = dtk_json_new_object();
    dtk_json *status = dtk_json_new_object();
    int error;

    error = set_object_meta(obj, ns->metadata);
    if (error < 0) {
        goto out;
    }
    if (ns->spec != NULL) {
        set_strings(spec, "finalizers", ns->spec->finalizers,
                    ns->spec->n_finalizers);
    }
    if (ns->status != NULL) {
        set_string(status, "phase", ns->status->phase);
        if (ns->status->n_conditions > 0) {
            dtk_json *arr = dtk_json_new_array();

            dtk_json_set(status, "conditions", arr);
            for (size_t i = 0; i < ns->status->n_conditions; i++) {
                const pb_namespace_condition *c = ns->status->conditions[i];
                dtk_json *cond = dtk_json_new_object();

                dtk_json_append(arr, cond);
                dtk_json_set(cond, "type", new_string(c->type));
                dtk_json_set(cond, "status", new_string(c->status));
                error = set_time(cond, "lastTransitionTime",
                                 "status.conditions.lastTransitionTime",
                                 c->lasttransitiontime, 0);
                if (error < 0) {
                    goto out;
                }
                set_string(cond, "reason", c->reason);
                set_string(cond, "message", c->message);
            }
        }
    }
    dtk_json_set(obj, "spec", spec);
    spec = NULL;
    dtk_json_set(obj, "status", status);
    status = NULL;
out:
    dtk_json_free(spec);
    dtk_json_free(status);
    return error;
}

static int secret_json(dtk_json *obj, const ProtobufCMessage *msg)
{
    const pb_secret *s = (const pb_secret *)msg;
    map_builder map = {NULL, 0};
    int error;

    error = set_object_meta(obj, s->metadata);
    if (error < 0) {
        goto out;
    }
    set_bool_ptr(obj, "immutable", s->has_immutable, s->immutable);
    map_init(&map, s->n_data);
    for (size_t i = 0; i < s->n_data; i++) {
        dtk_json *value = NULL;

        error = new_base64(&value, &s->data[i]->value);
        if (error < 0) {
            goto out;
        }
        map_add(&map, s->data[i]->key, value);
    }
    map_set(obj, "data", &map);
    map_init(&map, s->n_stringdata);
    for (size_t i = 0; i < s->n_stringdata; i++) {
        map_add(&map, s->stringdata[i]->key,
                new_string(s->stringdata[i]->value));
    }
    map_set(obj, "stringData", &map);
    set_string(obj, "type", s->type);
out:
    map_dispose(&map);
    return error;
}

static int config_map_json(dtk_json *obj, const ProtobufCMessage *msg)
{
    const pb_config_map *c = (const pb_config_map *)msg;
    map_builder map = {NULL, 0};
    int error;

    error = set_object_meta(obj, c->metadata);
    if (error < 0) {
        goto out;
    }
    set_bool_ptr(obj, "immutable", c->has_immutable, c->immutable);
    map_init(&map, c->n_data);
    for (size_t i = 0; i < c->n_data; i++) {
        map_add(&map, c->data[i]->key, new_string(c->data[i]->value));
    }
    map_set(obj, "data", &map);
    map_init(&map, c->n_binarydata);
    for (size_t i = 0; i < c->n_binarydata; i++) {
        dtk_json *value = NULL;

        error = new_base64(&value, &c->binarydata[i]->value);
        if (error < 0) {
            goto out;
        }
        map_add(&map, c->binarydata[i]->key, value);
    }
    map_set(obj, "binaryData", &map);
out:
    map_dispose(&map);
    return error;
}

static int service_account_json(dtk_json *obj, const ProtobufCMessage *msg)
{
    const pb_service_account *sa = (const pb_service_account *)msg;
    int error;

    error = set_object_meta(obj, sa->metadata);
    if (error < 0) {
        return error;
    }
    if (sa->n_secrets > 0) {
        dtk_json *arr = dtk_json_new_array();

        for (size_t i = 0; i < sa->n_secrets; i++) {
            dtk_json_append(arr, object_reference_json(sa->secrets[i]));
        }
        dtk_json_set(obj, "secrets", arr);
    }
    if (sa->n_imagepullsecrets > 0) {
        dtk_json *arr = dtk_json_new_array();

        for (size_t i = 0; i < sa->n_imagepullsecrets; i++) {
            dtk_json *ref = dtk_json_new_object();

            set_string(ref, "name", sa->imagepullsecrets[i]->name);
            dtk_json_append(arr, ref);
        }
        dtk_json_set(obj, "imagePullSecrets", arr);
    }
    set_bool_ptr(obj, "automountServiceAccountToken",
                 sa->has_automountserviceaccounttoken,
                 sa->automountserviceaccounttoken);
    return 0;
}

static int core_event_json(dtk_json *obj, const ProtobufCMessage *msg)
{
    const pb_core_event *e = (const pb_core_event *)msg;
    int error;

    error = set_object_meta(obj, e->metadata);
    if (error < 0) {
        return error;
    }
    dtk_json_set(obj, "involvedObject",
                 object_reference_json(e->involvedobject));
    set_string(obj, "reason", e->reason);
    set_string(obj, "message", e->message);
    dtk_json_set(obj, "source", event_source_json(e->source));
    error = set_time(obj, "firstTimestamp", "firstTimestamp",
                     e->firsttimestamp, 0);
    if (error < 0) {
        return error;
    }
    error = set_time(obj, "lastTimestamp", "lastTimestamp", e->lasttimestamp,
                     0);
    if (error < 0) {
        return error;
    }
    set_int(obj, "count", e->has_count, e->count, 0);
    set_string(obj, "type", e->type);
    error = set_micro_time(obj, "eventTime", "eventTime", e->eventtime, 0);
    if (error < 0) {
        return error;
    }
    if (e->series != NULL) {
        dtk_json *series = dtk_json_new_object();

        dtk_json_set(obj, "series", series);
        set_int(series, "count", e->series->has_count, e->series->count, 0);
        error = set_micro_time(series, "lastObservedTime",
                               "series.lastObservedTime",
                               e->series->lastobservedtime, 0);
        if (error < 0) {
            return error;
        }
    }
    set_string(obj, "action", e->action);
    if (e->related != NULL) {
        dtk_json_set(obj, "related", object_reference_json(e->related));
    }
    /* reportingComponent and reportingInstance have no omitempty. */
    dtk_json_set(obj, "reportingComponent", new_string(e->reportingcomponent));
    dtk_json_set(obj, "reportingInstance", new_string(e->reportinginstance));
    return 0;
}

/* ---- coordination.k8s.io/v1, apps/v1, events.k8s.io/v1 ------------------- */

static int lease_json(dtk_json *obj, const ProtobufCMessage *msg)
{
    const pb_lease *l = (const pb_lease *)msg;
    dtk_json *spec = dtk_json_new_object();
    int error;

    error = set_object_meta(obj, l->metadata);
    if (error < 0) {
        goto out;
    }
    if (l->spec != NULL) {
        /* Every LeaseSpec field is a pointer in Go. */
        set_string_ptr(spec, "holderIdentity", l->spec->holderidentity);
        set_int(spec, "leaseDurationSeconds", l->spec->has_leasedurationseconds,
                l->spec->leasedurationseconds, 1);
        error = set_micro_time(spec, "acquireTime", "spec.acquireTime",
                               l->spec->acquiretime, 1);
        if (error < 0) {
            goto out;
        }
        error = set_micro_time(spec, "renewTime", "spec.renewTime",
                               l->spec->renewtime, 1);
        if (error < 0) {
            goto out;
        }
        set_int(spec, "leaseTransitions", l->spec->has_leasetransitions,
                l->spec->leasetransitions, 1);
        set_string_ptr(spec, "strategy", l->spec->strategy);
        set_string_ptr(spec, "preferredHolder", l->spec->preferredholder);
    }
    dtk_json_set(obj, "spec", spec);
    spec = NULL;
out:
    dtk_json_free(spec);
    return error;
}

static int controller_revision_json(dtk_json *obj, const ProtobufCMessage *msg)
{
    const pb_controller_revision *c = (const pb_controller_revision *)msg;
    dtk_json *data = NULL;
    int error;

    error = set_object_meta(obj, c->metadata);
    if (error < 0) {
        return error;
    }
    error = new_raw_json(&data, "data", c->data != NULL && c->data->has_raw,
                         c->data ? &c->data->raw : NULL);
    if (error < 0) {
        return error;
    }
    dtk_json_set(obj, "data", data);
    /* revision has no omitempty. */
    dtk_json_set(obj, "revision",
                 dtk_json_new_int(c->has_revision ? c->revision : 0));
    return 0;
}

static int events_event_json(dtk_json *obj, const ProtobufCMessage *msg)
{
    const pb_events_event *e = (const pb_events_event *)msg;
    int error;

    error = set_object_meta(obj, e->metadata);
    if (error < 0) {
        return error;
    }
    error = set_micro_time(obj, "eventTime", "eventTime", e->eventtime, 0);
    if (error < 0) {
        return error;
    }
    if (e->series != NULL) {
        dtk_json *series = dtk_json_new_object();

        dtk_json_set(obj, "series", series);
        /* events.k8s.io EventSeries fields have no omitempty. */
        dtk_json_set(series, "count",
                     dtk_json_new_int(e->series->has_count ? e->series->count
                                                           : 0));
        error = set_micro_time(series, "lastObservedTime",
                               "series.lastObservedTime",
                               e->series->lastobservedtime, 0);
        if (error < 0) {
            return error;
        }
    }
    set_string(obj, "reportingController", e->reportingcontroller);
    set_string(obj, "reportingInstance", e->reportinginstance);
    set_string(obj, "action", e->action);
    set_string(obj, "reason", e->reason);
    dtk_json_set(obj, "regarding", object_reference_json(e->regarding));
    if (e->related != NULL) {
        dtk_json_set(obj, "related", object_reference_json(e->related));
    }
    set_string(obj, "note", e->note);
    set_string(obj, "type", e->type);
    dtk_json_set(obj, "deprecatedSource",
                 event_source_json(e->deprecatedsource));
    error = set_time(obj, "deprecatedFirstTimestamp",
                     "deprecatedFirstTimestamp", e->deprecatedfirsttimestamp,
                     0);
    if (error < 0) {
        return error;
    }
    error = set_time(obj, "deprecatedLastTimestamp", "deprecatedLastTimestamp",
                     e->deprecatedlasttimestamp, 0);
    if (error < 0) {
        return error;
    }
    set_int(obj, "deprecatedCount", e->has_deprecatedcount,
            e->deprecatedcount, 0);
    return 0;
}

/* ---- envelope ----------------------------------------------------------- */

typedef struct kind_decoder {
    const char *api_version; /* NULL: any group version */
    const char *kind;
    const ProtobufCMessageDescriptor *descriptor;
    int (*to_json)(dtk_json *obj, const ProtobufCMessage *msg);
} kind_decoder;

static const kind_decoder decoders[] = {
    {"v1", "Namespace", &k8s__io__api__core__v1__namespace__descriptor,
     namespace_json},
    {"v1", "Secret", &k8s__io__api__core__v1__secret__descriptor,
     secret_json},
    {"v1", "ConfigMap", &k8s__io__api__core__v1__config_map__descriptor,
     config_map_json},
    {"v1", "ServiceAccount",
     &k8s__io__api__core__v1__service_account__descriptor,
     service_account_json},
    {"v1", "Event", &k8s__io__api__core__v1__event__descriptor,
     core_event_json},
    {"coordination.k8s.io/v1", "Lease",
     &k8s__io__api__coordination__v1__lease__descriptor, lease_json},
    {"apps/v1", "ControllerRevision",
     &k8s__io__api__apps__v1__controller_revision__descriptor,
     controller_revision_json},
    {"events.k8s.io/v1", "Event", &k8s__io__api__events__v1__event__descriptor,
     events_event_json},
    /* Every group version carries DeleteOptions. */
    {NULL, "DeleteOptions",
     &k8s__io__apimachinery__pkg__apis__meta__v1__delete_options__descriptor,
     delete_options_json},
};

static const char supported_kinds[] =
    "v1 Namespace, Secret, ConfigMap, ServiceAccount and Event, "
    "coordination.k8s.io/v1 Lease, apps/v1 ControllerRevision, "
    "events.k8s.io/v1 Event and DeleteOptions";

/* A client-sent name fit to quote in a message: short printable ASCII. */
static const char *quotable(const char *s)
{
    size_t n = strlen(s);

    if (n > 63) {
        return "(too long)";
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '\'') {
            return "(not printable)";
        }
    }
    return s;
}

static const kind_decoder *find_decoder(const char *api_version,
                                        const char *kind)
{
    for (size_t i = 0; i < sizeof(decoders) / sizeof(decoders[0]); i++) {
        if (strcmp(decoders[i].kind, kind) == 0 &&
            (decoders[i].api_version == NULL ||
             strcmp(decoders[i].api_version, api_version) == 0)) {
            return &decoders[i];
        }
    }
    return NULL;
}

int dtk_proto_decode(dtk_json **out, const void *body, size_t len)
{
    pb_unknown *env = NULL;
    ProtobufCMessage *msg = NULL;
    dtk_json *obj = NULL;
    const kind_decoder *dec;
    const char *api_version = "";
    const char *kind = "";
    int error = DTK_EINVALID;

    *out = NULL;
    if (len < sizeof(magic) || memcmp(body, magic, sizeof(magic)) != 0) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "protobuf body does not start with the 'k8s\\0' magic "
                      "bytes");
        goto out;
    }
    env = k8s__io__apimachinery__pkg__runtime__unknown__unpack(
        &allocator, len - sizeof(magic),
        (const uint8_t *)body + sizeof(magic));
    if (env == NULL) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "protobuf body: the runtime.Unknown envelope could not "
                      "be decoded");
        goto out;
    }
    if (env->typemeta != NULL) {
        api_version = env->typemeta->apiversion ? env->typemeta->apiversion
                                                : "";
        kind = env->typemeta->kind ? env->typemeta->kind : "";
    }
    if (*api_version == '\0' || *kind == '\0') {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "protobuf body: the envelope has no apiVersion or kind");
        goto out;
    }
    if (env->contentencoding != NULL && *env->contentencoding != '\0') {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "protobuf body: contentEncoding '%s' is not supported",
                      quotable(env->contentencoding));
        goto out;
    }
    if (env->contenttype != NULL && *env->contenttype != '\0' &&
        strcmp(env->contenttype, DTK_PROTO_CONTENT_TYPE) != 0) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "protobuf body: contentType '%s' is not supported",
                      quotable(env->contenttype));
        goto out;
    }
    dec = find_decoder(api_version, kind);
    if (dec == NULL) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "protobuf bodies are supported for %s, not '%s' of "
                      "'%s'; send JSON",
                      supported_kinds, quotable(kind), quotable(api_version));
        goto out;
    }
    msg = protobuf_c_message_unpack(dec->descriptor, &allocator,
                                    env->has_raw ? env->raw.len : 0,
                                    env->has_raw ? env->raw.data : magic);
    if (msg == NULL) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "protobuf body: the %s message could not be decoded",
                      dec->kind);
        goto out;
    }
    obj = dtk_json_new_object();
    dtk_json_set(obj, "kind", new_string(kind));
    dtk_json_set(obj, "apiVersion", new_string(api_version));
    error = dec->to_json(obj, msg);
    if (error < 0) {
        goto out;
    }
    *out = obj;
    obj = NULL;
out:
    dtk_json_free(obj);
    if (msg != NULL) {
        protobuf_c_message_free_unpacked(msg, &allocator);
    }
    if (env != NULL) {
        k8s__io__apimachinery__pkg__runtime__unknown__free_unpacked(
            env, &allocator);
    }
    return error;
}

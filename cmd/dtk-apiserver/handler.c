/* Request routing and the REST verbs of dtk-apiserver.
 *
 * Everything but watch streaming runs under the store lock: requests are
 * short, and a single lock keeps every rule about resourceVersions,
 * finalizers and generations simple to reason about. Objects are built as
 * Kubernetes' registry builds them: decode, default, validate, then commit;
 * a write that changes nothing is answered with the stored object and
 * commits nothing (no new resourceVersion, no watch event).
 */
#include "cmd/dtk-apiserver/apiserver.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmd/dtk-apiserver/fielderr.h"
#include "cmd/dtk-apiserver/smp.h"
#include "cmd/dtk-apiserver/proto.h"
#include "pkg/base/alloc.h"
#include "pkg/base/clock.h"
#include "pkg/base/error.h"
#include "pkg/base/log.h"
#include "pkg/json/patch.h"

#define MAX_SEGMENTS 12



typedef struct request {
    dtk_apiserver *s;
    dtk_httpserver_exchange *ex;
    const char *method;
    char *segs[MAX_SEGMENTS];
    size_t nseg;
    dtk_restype *t;
    const char *ns;   /* NULL for cluster scope or all namespaces */
    const char *name; /* NULL for collections */
    const char *sub;  /* subresource or NULL */
    int watch;
} request;

/* ---- small helpers ------------------------------------------------------ */

static void api_version_of(dtk_buf *out, const dtk_restype *t)
{
    dtk_buf_reset(out);
    if (*t->group) {
        dtk_buf_printf(out, "%s/%s", t->group, t->version);
    } else {
        dtk_buf_puts(out, t->version);
    }
}

/* "secrets" or "widgets.dtk.io": how Kubernetes names a resource in
 * messages. */
static void qualified_resource(dtk_buf *out, const dtk_restype *t)
{
    dtk_buf_reset(out);
    if (*t->group) {
        dtk_buf_printf(out, "%s.%s", t->resource, t->group);
    } else {
        dtk_buf_puts(out, t->resource);
    }
}

static void respond_not_found(request *r, const char *name)
{
    dtk_buf qr = DTK_BUF_INIT(0);
    dtk_json *st;
    char msg[600];

    qualified_resource(&qr, r->t);
    snprintf(msg, sizeof(msg), "%s \"%s\" not found", dtk_buf_cstr(&qr), name);
    st = dtk_status_new(404, "NotFound", msg);
    dtk_status_details(st, name, r->t->group, r->t->resource);
    dtk_respond_status(r->ex, st);
    dtk_buf_dispose(&qr);
}

static void respond_conflict(request *r, const char *name, const char *why)
{
    dtk_buf qr = DTK_BUF_INIT(0);
    dtk_json *st;
    char msg[800];

    qualified_resource(&qr, r->t);
    snprintf(msg, sizeof(msg), "Operation cannot be fulfilled on %s \"%s\": %s",
             dtk_buf_cstr(&qr), name, why);
    st = dtk_status_new(409, "Conflict", msg);
    dtk_status_details(st, name, r->t->group, r->t->resource);
    dtk_respond_status(r->ex, st);
    dtk_buf_dispose(&qr);
}

static void respond_invalid(request *r, const dtk_fielderr_list *errs,
                            const char *name)
{
    dtk_respond_status(r->ex, dtk_fielderr_status(errs, r->t->kind,
                                                  r->t->group, name));
}

/* The object as the request's version presents it. Caller owns it. */
static dtk_json *versioned_copy(const dtk_restype *t, const dtk_json *obj)
{
    dtk_json *c = dtk_json_copy(obj);
    dtk_buf av = DTK_BUF_INIT(0);

    api_version_of(&av, t);
    dtk_json_set(c, "apiVersion", dtk_json_new_string(av.ptr));
    dtk_buf_dispose(&av);
    return c;
}

static void respond_object(request *r, int code, const dtk_json *obj)
{
    if (dtk_table_wanted(r->ex)) {
        dtk_json *c = versioned_copy(r->t, obj);
        dtk_json *table = dtk_table_from_objects(r->t, &c, 1, NULL, NULL);

        dtk_respond_json(r->ex, code, table);
        dtk_json_free(table);
        dtk_json_free(c);
        return;
    }
    {
        dtk_json *c = versioned_copy(r->t, obj);

        dtk_respond_json(r->ex, code, c);
        dtk_json_free(c);
    }
}

static int content_type_is(request *r, const char *want)
{
    const char *ct = dtk_httpserver_header(r->ex, "Content-Type");
    size_t n = strlen(want);

    return ct != NULL && strncasecmp(ct, want, n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static int is_true(const char *v)
{
    return v != NULL && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

static int dry_run(request *r)
{
    const char *v = dtk_httpserver_query(r->ex, "dryRun");

    return v != NULL && strcmp(v, "All") == 0;
}

/* Parses the request body (JSON, or Kubernetes protobuf for the kinds
 * proto.c knows) as a JSON object; answers 400 itself. */
static dtk_json *body_object(request *r)
{
    size_t len = 0;
    const char *body = dtk_httpserver_body(r->ex, &len);
    dtk_json *obj = NULL;

    if (content_type_is(r, DTK_PROTO_CONTENT_TYPE)) {
        if (dtk_proto_decode(&obj, body, len) < 0) {
            dtk_respond_error(r->ex, 400, "BadRequest", "%s",
                              dtk_error_last()->message);
            return NULL;
        }
        return obj;
    }
    if (dtk_json_parse(&obj, body, len) < 0) {
        dtk_respond_error(r->ex, 400, "BadRequest",
                          "the body of the request could not be decoded: %s",
                          dtk_error_last()->message);
        return NULL;
    }
    if (obj->type != DTK_JSON_OBJECT) {
        dtk_json_free(obj);
        dtk_respond_error(r->ex, 400, "BadRequest",
                          "the body of the request must be a JSON object");
        return NULL;
    }
    return obj;
}

static int has_finalizers(const dtk_json *obj)
{
    return dtk_json_len(dtk_json_get(dtk_json_get(obj, "metadata"),
                                     "finalizers")) > 0;
}

static int being_deleted(const dtk_json *obj)
{
    return dtk_meta_get(obj, "deletionTimestamp") != NULL;
}

static dtk_restype *core_type(dtk_apiserver *s, const char *resource)
{
    return dtk_registry_find(s, "", "v1", resource);
}

/* ---- kind-specific admission -------------------------------------------- */

static const char dns1123_subdomain_msg[] =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
    "characters, '-' or '.', and must start and end with an alphanumeric "
    "character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
static const char dns1123_label_msg[] =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric "
    "characters or '-', and must start and end with an alphanumeric "
    "character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

static void validate_name(const dtk_restype *t, const dtk_json *obj,
                          dtk_fielderr_list *errs)
{
    const char *name = dtk_meta_get(obj, "name");
    const dtk_json *value =
        dtk_json_path(obj, (const char *const[]){"metadata", "name", NULL});

    if (strcmp(t->resource, "namespaces") == 0) {
        if (!dtk_meta_is_dns_label(name, 63)) {
            dtk_fielderr_invalid(errs, "metadata.name", value,
                                 dns1123_label_msg);
        }
    } else if (!dtk_meta_is_dns_subdomain(name)) {
        dtk_fielderr_invalid(errs, "metadata.name", value,
                             dns1123_subdomain_msg);
    }
}

/* Secrets: stringData is write-only and merges into data; data values must
 * be base64. */
int dtk_builtin_admit_secret(dtk_json *obj, dtk_fielderr_list *errs);

static int admit_builtin(request *r, dtk_json *obj, const dtk_json *old,
                         dtk_fielderr_list *errs)
{
    const char *res = r->t->resource;

    (void)old;
    if (*r->t->group != '\0') {
        return 0;
    }
    if (strcmp(res, "secrets") == 0) {
        return dtk_builtin_admit_secret(obj, errs);
    }
    if (strcmp(res, "namespaces") == 0) {
        static const char *const fin_path[] = {"spec", NULL};
        dtk_json *spec = dtk_json_ensure_object(obj, fin_path);
        dtk_json *status;

        if (spec != NULL && dtk_json_get(spec, "finalizers") == NULL) {
            dtk_json *f = dtk_json_new_array();

            dtk_json_append(f, dtk_json_new_string("kubernetes"));
            dtk_json_set(spec, "finalizers", f);
        }
        status = dtk_json_new_object();
        dtk_json_set(status, "phase",
                     dtk_json_new_string(being_deleted(obj) ? "Terminating"
                                                            : "Active"));
        dtk_json_set(obj, "status", status);
    }
    return 0;
}

/* Custom resources: prune, default and validate against the CRD schema;
 * CRDs themselves: validate and compute their status. */
int dtk_custom_admit(const dtk_restype *t, dtk_json *obj, const dtk_json *old,
                     int status_only, const char *field_validation,
                     dtk_fielderr_list *errs, dtk_json **bad_request_out,
                     dtk_buf *warning_out);
void dtk_crd_set_status(dtk_json *crd);

static int is_crd_type(const dtk_restype *t)
{
    return strcmp(t->group, "apiextensions.k8s.io") == 0 &&
           strcmp(t->resource, "customresourcedefinitions") == 0;
}

/* Runs admission; answers the request itself on rejection and returns < 0. */
static int admit(request *r, dtk_json *obj, const dtk_json *old)
{
    dtk_fielderr_list errs = DTK_FIELDERR_LIST_INIT;
    dtk_json *bad = NULL;
    const char *fv = dtk_httpserver_query(r->ex, "fieldValidation");
    dtk_buf warning = DTK_BUF_INIT(0);
    int error = 0;

    if (old == NULL || !dtk_json_equal(dtk_json_get(dtk_json_get(obj, "metadata"), "name"),
                                       dtk_json_get(dtk_json_get(old, "metadata"), "name"))) {
        validate_name(r->t, obj, &errs);
    }
    if (r->t->custom) {
        error = dtk_custom_admit(r->t, obj, old,
                                 r->sub != NULL && strcmp(r->sub, "status") == 0,
                                 fv, &errs, &bad, &warning);
    } else if (is_crd_type(r->t)) {
        dtk_registry_validate_crd(obj, &errs);
        if (errs.len == 0) {
            error = dtk_custom_admit(NULL, obj, old, 0, fv, &errs, &bad,
                                     &warning);
        }
        if (errs.len == 0 && bad == NULL) {
            dtk_crd_set_status(obj);
        }
    } else {
        error = admit_builtin(r, obj, old, &errs);
    }
    if (bad != NULL) {
        dtk_respond_status(r->ex, bad);
        error = DTK_EINVALID;
    } else if (errs.len > 0) {
        respond_invalid(r, &errs, dtk_meta_get(obj, "name"));
        error = DTK_EINVALID;
    } else if (error < 0) {
        dtk_respond_error(r->ex, 500, "InternalError", "%s",
                          dtk_error_last()->message);
    } else if (warning.len > 0) {
        /* fieldValidation=Warn (the default): kubectl prints these. */
        dtk_buf header = DTK_BUF_INIT(0);

        dtk_buf_puts(&header, "299 - \"");
        for (const char *p = warning.ptr; *p; p++) {
            if (*p == '"' || *p == '\\') {
                dtk_buf_putc(&header, '\\');
            }
            dtk_buf_putc(&header, *p);
        }
        dtk_buf_putc(&header, '"');
        dtk_httpserver_add_header(r->ex, "Warning", header.ptr);
        dtk_buf_dispose(&header);
    }
    dtk_fielderr_list_dispose(&errs);
    dtk_buf_dispose(&warning);
    return error;
}

/* ---- namespaces ---------------------------------------------------------- */

/* Answers 404/403 itself when objects cannot be created in ns. */
static int check_namespace(request *r, const char *ns, int creating)
{
    dtk_restype *nt = core_type(r->s, "namespaces");
    dtk_stored *st = dtk_store_get(nt->bucket, NULL, ns);

    if (st == NULL) {
        dtk_json *status;
        char msg[300];

        snprintf(msg, sizeof(msg), "namespaces \"%s\" not found", ns);
        status = dtk_status_new(404, "NotFound", msg);
        dtk_status_details(status, ns, "", "namespaces");
        dtk_respond_status(r->ex, status);
        return -1;
    }
    if (creating && being_deleted(st->obj)) {
        dtk_json *status;
        char msg[400];

        snprintf(msg, sizeof(msg),
                 "%s \"%s\" is forbidden: unable to create new content in "
                 "namespace %s because it is being terminated",
                 r->t->resource, dtk_meta_get(st->obj, "name"), ns);
        status = dtk_status_new(403, "Forbidden", msg);
        dtk_status_details(status, ns, "", "namespaces");
        dtk_respond_status(r->ex, status);
        return -1;
    }
    return 0;
}

/* ---- create -------------------------------------------------------------- */

static void random_suffix(char *out, size_t n)
{
    static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    char uid[40];

    dtk_meta_uid(uid, sizeof(uid));
    for (size_t i = 0; i < n; i++) {
        unsigned v = (unsigned)(unsigned char)uid[i * 2] * 31u +
                     (unsigned)(unsigned char)uid[i * 2 + 1];

        out[i] = alphabet[v % (sizeof(alphabet) - 1)];
    }
    out[n] = '\0';
}

/* Checks apiVersion/kind of a body against the endpoint; answers 400. */
static int check_type_meta(request *r, dtk_json *obj)
{
    const char *kind = dtk_json_get_string(obj, "kind");
    const char *av = dtk_json_get_string(obj, "apiVersion");
    dtk_buf want = DTK_BUF_INIT(0);
    int error = 0;

    api_version_of(&want, r->t);
    if (kind == NULL || *kind == '\0') {
        dtk_json_set(obj, "kind", dtk_json_new_string(r->t->kind));
    } else if (strcmp(kind, r->t->kind) != 0) {
        dtk_respond_error(r->ex, 400, "BadRequest",
                          "the object provided is unrecognized (must be of "
                          "type %s): kind '%s' does not match",
                          r->t->kind, kind);
        error = -1;
        goto out;
    }
    if (av == NULL || *av == '\0') {
        dtk_json_set(obj, "apiVersion", dtk_json_new_string(want.ptr));
    } else if (strcmp(av, want.ptr) != 0) {
        dtk_respond_error(r->ex, 400, "BadRequest",
                          "the API version in the data (%s) does not match "
                          "the expected API version (%s)",
                          av, want.ptr);
        error = -1;
        goto out;
    }
    /* Objects are stored under the storage version. */
    if (r->t->custom && !r->t->storage_version) {
        dtk_restype *st = dtk_registry_storage_type(r->s, r->t->bucket);

        if (st != NULL) {
            api_version_of(&want, st);
            dtk_json_set(obj, "apiVersion", dtk_json_new_string(want.ptr));
        }
    }
out:
    dtk_buf_dispose(&want);
    return error;
}

static void after_commit(request *r, const dtk_json *obj)
{
    if (is_crd_type(r->t)) {
        dtk_registry_apply_crd(r->s, obj);
    }
}

/* Answers with the stored text when it is what the client asked for: no
 * copy and no second serialisation on the write path. */
static void respond_stored(request *r, int code, const dtk_stored *st)
{
    if (!dtk_table_wanted(r->ex) &&
        (r->t->storage_version || !r->t->custom)) {
        dtk_httpserver_respond(r->ex, code, "application/json", st->text,
                               st->text_len);
        return;
    }
    respond_object(r, code, st->obj);
}

/* Commits obj (stolen) and answers with the committed object. An object
 * that is being deleted and has no finalizers left is removed at once. */
static void commit_and_respond(request *r, dtk_json *obj,
                               dtk_event_type type, int code)
{
    dtk_bucket *b = r->t->bucket;
    const char *ns = r->t->namespaced ? r->ns : NULL;
    char *name = dtk_strdup(dtk_meta_get(obj, "name"));
    dtk_stored *st;

    if (dtk_store_put(r->s, b, obj, type) < 0) {
        dtk_respond_error(r->ex, 500, "InternalError", "%s",
                          dtk_error_last()->message);
        goto out;
    }
    st = dtk_store_get(b, ns, name);
    after_commit(r, st->obj);
    if (being_deleted(st->obj) && !has_finalizers(st->obj)) {
        dtk_json *last = dtk_json_copy(st->obj);

        dtk_store_delete(r->s, b, ns, name);
        dtk_housekeeping_kick(r->s);
        respond_object(r, code, last);
        dtk_json_free(last);
    } else {
        respond_stored(r, code, st);
    }
out:
    dtk_free(name);
}

static void handle_create(request *r)
{
    dtk_json *obj = NULL;
    dtk_json *meta;
    const char *name;
    const char *body_ns;
    char uid[40], now[40];
    dtk_buf qr = DTK_BUF_INIT(0);

    if (!content_type_is(r, "application/json") &&
        !content_type_is(r, DTK_PROTO_CONTENT_TYPE)) {
        dtk_respond_error(r->ex, 415, "UnsupportedMediaType",
                          "the body of the request was in an unknown format - "
                          "accepted media types include: application/json, "
                          DTK_PROTO_CONTENT_TYPE);
        goto out;
    }
    obj = body_object(r);
    if (obj == NULL || check_type_meta(r, obj) < 0) {
        goto out;
    }
    meta = dtk_meta_of(obj);
    if (meta == NULL) {
        dtk_respond_error(r->ex, 400, "BadRequest",
                          "metadata must be an object");
        goto out;
    }
    body_ns = dtk_json_get_string(meta, "namespace");
    if (r->t->namespaced) {
        if (body_ns != NULL && *body_ns && strcmp(body_ns, r->ns) != 0) {
            dtk_respond_error(r->ex, 400, "BadRequest",
                              "the namespace of the provided object does not "
                              "match the namespace sent on the request");
            goto out;
        }
        dtk_json_set(meta, "namespace", dtk_json_new_string(r->ns));
        if (check_namespace(r, r->ns, 1) < 0) {
            goto out;
        }
    } else {
        dtk_json_remove(meta, "namespace");
    }
    if (dtk_json_get_string(meta, "resourceVersion") != NULL &&
        *dtk_json_get_string(meta, "resourceVersion") != '\0') {
        dtk_respond_error(r->ex, 500, "InternalError",
                          "resourceVersion should not be set on objects to "
                          "be created");
        goto out;
    }
    name = dtk_json_get_string(meta, "name");
    if ((name == NULL || *name == '\0') &&
        dtk_json_get_string(meta, "generateName") != NULL) {
        char suffix[6];
        dtk_buf gen = DTK_BUF_INIT(0);

        random_suffix(suffix, 5);
        dtk_buf_printf(&gen, "%s%s", dtk_json_get_string(meta, "generateName"),
                       suffix);
        dtk_json_set(meta, "name", dtk_json_new_string(gen.ptr));
        dtk_buf_dispose(&gen);
    }
    name = dtk_json_get_string(meta, "name");
    if (name == NULL || *name == '\0') {
        dtk_fielderr_list errs = DTK_FIELDERR_LIST_INIT;

        dtk_fielderr_required(&errs, "metadata.name",
                              "name or generateName is required");
        respond_invalid(r, &errs, "");
        dtk_fielderr_list_dispose(&errs);
        goto out;
    }
    dtk_meta_uid(uid, sizeof(uid));
    dtk_meta_now(now, sizeof(now));
    dtk_json_set(meta, "uid", dtk_json_new_string(uid));
    dtk_json_set(meta, "creationTimestamp", dtk_json_new_string(now));
    dtk_json_remove(meta, "deletionTimestamp");
    dtk_json_remove(meta, "deletionGracePeriodSeconds");
    dtk_json_remove(meta, "managedFields");
    if (r->t->generation) {
        dtk_json_set(meta, "generation", dtk_json_new_int(1));
    } else {
        dtk_json_remove(meta, "generation");
    }
    if (r->t->has_status) {
        dtk_json_remove(obj, "status");
    }
    if (admit(r, obj, NULL) < 0) {
        goto out;
    }
    if (dtk_store_get(r->t->bucket, r->ns, dtk_meta_get(obj, "name")) != NULL) {
        dtk_json *st;
        char msg[600];

        qualified_resource(&qr, r->t);
        snprintf(msg, sizeof(msg), "%s \"%s\" already exists",
                 dtk_buf_cstr(&qr), dtk_meta_get(obj, "name"));
        st = dtk_status_new(409, "AlreadyExists", msg);
        dtk_status_details(st, dtk_meta_get(obj, "name"), r->t->group,
                           r->t->resource);
        dtk_respond_status(r->ex, st);
        goto out;
    }
    if (dry_run(r)) {
        respond_object(r, 201, obj);
        goto out;
    }
    commit_and_respond(r, obj, DTK_EV_ADDED, 201);
    obj = NULL;
out:
    dtk_json_free(obj);
    dtk_buf_dispose(&qr);
}

/* ---- get / list ------------------------------------------------------------ */

static void handle_get(request *r)
{
    dtk_stored *st = dtk_store_get(r->t->bucket, r->ns, r->name);

    if (st == NULL) {
        respond_not_found(r, r->name);
        return;
    }
    respond_object(r, 200, st->obj);
}

typedef struct item {
    const char *key;
    const char *text;   /* borrowed */
    dtk_json *obj;      /* borrowed (current state) or NULL */
    dtk_json *parsed;   /* owned when parsed from text */
} item;

static int item_cmp(const void *a, const void *b)
{
    return strcmp(((const item *)a)->key, ((const item *)b)->key);
}

/* The state of a bucket at version rv: the current objects with the history
 * undone back to rv. Map values are dtk_stored; those rebuilt from history
 * are appended to *temps (texts borrowed from the history, obj NULL) for the
 * caller to free with dtk_free. */
static void snapshot_at(dtk_apiserver *s, dtk_bucket *b, int64_t rv,
                        dtk_map *out, dtk_stored ***temps, size_t *ntemps)
{
    size_t iter = 0;
    const char *key;
    void *value;
    dtk_buf k = DTK_BUF_INIT(0);

    while (dtk_map_next(&b->objects, &iter, &key, &value)) {
        dtk_map_put(out, key, value);
    }
    for (size_t i = s->history_len; i > 0; i--) {
        dtk_event *ev = dtk_store_history_at(s, i - 1);
        dtk_stored *old;

        if (ev->rv <= rv) {
            break;
        }
        if (ev->bucket != b) {
            continue;
        }
        dtk_store_key(&k, ev->namespace_, ev->name);
        if (ev->type == DTK_EV_ADDED) {
            dtk_map_remove(out, k.ptr);
            continue;
        }
        old = dtk_calloc(1, sizeof(*old));
        old->text = ev->prev_text;
        *temps = dtk_realloc(*temps, (*ntemps + 1) * sizeof(dtk_stored *));
        (*temps)[(*ntemps)++] = old;
        dtk_map_put(out, k.ptr, old);
    }
    dtk_buf_dispose(&k);
}

static int parse_int64(const char *text, int64_t *out)
{
    char *end = NULL;
    long long v;

    if (text == NULL || *text == '\0') {
        return -1;
    }
    v = strtoll(text, &end, 10);
    if (*end != '\0' || v < 0) {
        return -1;
    }
    *out = v;
    return 0;
}

static void hex_encode(dtk_buf *out, const char *s)
{
    static const char hex[] = "0123456789abcdef";

    for (; *s; s++) {
        dtk_buf_putc(out, hex[(unsigned char)*s >> 4]);
        dtk_buf_putc(out, hex[(unsigned char)*s & 15]);
    }
}

static int hex_decode(dtk_buf *out, const char *s)
{
    size_t n = strlen(s);

    if (n % 2) {
        return -1;
    }
    for (size_t i = 0; i < n; i += 2) {
        int v = 0;

        for (int j = 0; j < 2; j++) {
            char c = s[i + (size_t)j];

            v <<= 4;
            if (c >= '0' && c <= '9') {
                v |= c - '0';
            } else if (c >= 'a' && c <= 'f') {
                v |= c - 'a' + 10;
            } else {
                return -1;
            }
        }
        dtk_buf_putc(out, (char)v);
    }
    return 0;
}

static void respond_expired(request *r, const char *message)
{
    dtk_respond_status(r->ex, dtk_status_new(410, "Expired", message));
}

static void respond_too_large_rv(request *r)
{
    dtk_json *st = dtk_status_new(504, "Timeout",
                                  "Too large resource version");
    dtk_json *details = dtk_json_new_object();
    dtk_json *causes = dtk_json_new_array();
    dtk_json *cause = dtk_json_new_object();

    dtk_json_set(cause, "reason", dtk_json_new_string("ResourceVersionTooLarge"));
    dtk_json_set(cause, "message", dtk_json_new_string("Too large resource version"));
    dtk_json_append(causes, cause);
    dtk_json_set(details, "causes", causes);
    dtk_json_set(details, "retryAfterSeconds", dtk_json_new_int(1));
    dtk_json_set(st, "details", details);
    dtk_respond_status(r->ex, st);
}

static void handle_list(request *r)
{
    dtk_apiserver *s = r->s;
    const char *rv_param = dtk_httpserver_query(r->ex, "resourceVersion");
    const char *match = dtk_httpserver_query(r->ex, "resourceVersionMatch");
    const char *limit_param = dtk_httpserver_query(r->ex, "limit");
    const char *cont = dtk_httpserver_query(r->ex, "continue");
    dtk_filter *filter = NULL;
    dtk_json *bad = NULL;
    dtk_map snap = DTK_MAP_INIT;
    dtk_stored **temps = NULL;
    size_t ntemps = 0;
    item *items = NULL;
    size_t n = 0, cap = 0, start = 0, end;
    int64_t limit = 0, at_rv = s->rv, want_rv = 0;
    dtk_buf start_key = DTK_BUF_INIT(0);
    dtk_buf out = DTK_BUF_INIT(0);
    dtk_buf av = DTK_BUF_INIT(0);
    dtk_buf token = DTK_BUF_INIT(0);
    size_t iter = 0;
    const char *key;
    void *value;
    int exact = 0;

    if (limit_param != NULL && *limit_param &&
        (parse_int64(limit_param, &limit) < 0)) {
        dtk_respond_error(r->ex, 400, "BadRequest", "invalid limit '%s'",
                          limit_param);
        goto out;
    }
    if (match != NULL && *match && (rv_param == NULL || !*rv_param)) {
        dtk_respond_error(r->ex, 400, "BadRequest",
                          "resourceVersionMatch: Forbidden: resourceVersionMatch "
                          "is forbidden unless resourceVersion is provided");
        goto out;
    }
    if (dtk_httpserver_query(r->ex, "sendInitialEvents") != NULL) {
        dtk_respond_error(r->ex, 400, "BadRequest",
                          "sendInitialEvents: Forbidden: sendInitialEvents is "
                          "forbidden for list");
        goto out;
    }
    if (cont != NULL && *cont) {
        const char *slash = strchr(cont, '/');
        char rvtext[32];

        if (rv_param != NULL && *rv_param && strcmp(rv_param, "0") != 0) {
            dtk_respond_error(r->ex, 400, "BadRequest",
                              "specifying resource version is not allowed "
                              "when using continue");
            goto out;
        }
        if (slash == NULL || (size_t)(slash - cont) >= sizeof(rvtext)) {
            dtk_respond_error(r->ex, 400, "BadRequest",
                              "continue key is not valid");
            goto out;
        }
        memcpy(rvtext, cont, (size_t)(slash - cont));
        rvtext[slash - cont] = '\0';
        if (parse_int64(rvtext, &at_rv) < 0 ||
            hex_decode(&start_key, slash + 1) < 0 || at_rv > s->rv) {
            dtk_respond_error(r->ex, 400, "BadRequest",
                              "continue key is not valid");
            goto out;
        }
        exact = 1;
        if (at_rv < s->compacted_rv) {
            respond_expired(r, "The provided continue parameter is too old to "
                               "display a consistent list result. You can "
                               "start a new list without the continue "
                               "parameter.");
            goto out;
        }
    } else if (rv_param != NULL && *rv_param && strcmp(rv_param, "0") != 0) {
        if (parse_int64(rv_param, &want_rv) < 0) {
            dtk_respond_error(r->ex, 400, "BadRequest",
                              "invalid resource version: %s", rv_param);
            goto out;
        }
        if (want_rv > s->rv) {
            respond_too_large_rv(r);
            goto out;
        }
        if ((match != NULL && strcmp(match, "Exact") == 0) ||
            ((match == NULL || !*match) && limit > 0)) {
            if (want_rv < s->compacted_rv) {
                respond_expired(r, "The resourceVersion for the provided list "
                                   "is too old.");
                goto out;
            }
            exact = 1;
            at_rv = want_rv;
        }
    }
    if (dtk_filter_parse(&filter, &bad, r->t,
                         dtk_httpserver_query(r->ex, "labelSelector"),
                         dtk_httpserver_query(r->ex, "fieldSelector")) < 0) {
        dtk_respond_status(r->ex, bad);
        goto out;
    }
    if (exact && at_rv != s->rv) {
        snapshot_at(s, r->t->bucket, at_rv, &snap, &temps, &ntemps);
    } else {
        at_rv = s->rv;
        while (dtk_map_next(&r->t->bucket->objects, &iter, &key, &value)) {
            dtk_map_put(&snap, key, value);
        }
    }
    iter = 0;
    while (dtk_map_next(&snap, &iter, &key, &value)) {
        item it = {key, ((dtk_stored *)value)->text,
                   ((dtk_stored *)value)->obj, NULL};

        if (r->ns != NULL && r->t->namespaced) {
            size_t nl = strlen(r->ns);

            if (strncmp(key, r->ns, nl) != 0 || key[nl] != '/') {
                continue;
            }
        }
        if (start_key.len > 0 && strcmp(key, start_key.ptr) <= 0) {
            continue;
        }
        if (it.obj == NULL && (filter != NULL || dtk_table_wanted(r->ex) ||
                               !r->t->storage_version)) {
            if (dtk_json_parse(&it.parsed, it.text, strlen(it.text)) < 0) {
                continue;
            }
            it.obj = it.parsed;
        }
        if (filter != NULL && !dtk_filter_match(filter, it.obj)) {
            dtk_json_free(it.parsed);
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            items = dtk_realloc(items, cap * sizeof(item));
        }
        items[n++] = it;
    }
    if (n > 1) {
        qsort(items, n, sizeof(item), item_cmp);
    }
    end = n;
    if (limit > 0 && (size_t)limit < n) {
        end = (size_t)limit;
        dtk_buf_printf(&token, "%" PRId64 "/", at_rv);
        hex_encode(&token, items[end - 1].key);
    }
    api_version_of(&av, r->t);
    if (dtk_table_wanted(r->ex)) {
        dtk_json **objs = dtk_calloc(end - start + 1, sizeof(dtk_json *));
        dtk_json *table;
        char rvtext[32];

        for (size_t i = start; i < end; i++) {
            if (items[i].obj == NULL) {
                dtk_json_parse(&items[i].parsed, items[i].text,
                               strlen(items[i].text));
                items[i].obj = items[i].parsed;
            }
            objs[i - start] = items[i].obj;
        }
        snprintf(rvtext, sizeof(rvtext), "%" PRId64, at_rv);
        table = dtk_table_from_objects(r->t, objs, end - start, rvtext,
                                       token.len ? token.ptr : NULL);
        dtk_respond_json(r->ex, 200, table);
        dtk_json_free(table);
        dtk_free(objs);
        goto out;
    }
    dtk_buf_printf(&out,
                   "{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":"
                   "{\"resourceVersion\":\"%" PRId64 "\"",
                   r->t->list_kind, av.ptr, at_rv);
    if (token.len) {
        dtk_buf_printf(&out, ",\"continue\":\"%s\",\"remainingItemCount\":%zu",
                       token.ptr, n - end);
    }
    dtk_buf_puts(&out, "},\"items\":[");
    for (size_t i = start; i < end; i++) {
        if (i > start) {
            dtk_buf_putc(&out, ',');
        }
        if (r->t->storage_version || !r->t->custom) {
            dtk_buf_puts(&out, items[i].text);
        } else {
            dtk_json *c = versioned_copy(r->t, items[i].obj);

            dtk_json_write(&out, c);
            dtk_json_free(c);
        }
    }
    dtk_buf_puts(&out, "]}\n");
    if (out.len > 0) {
        dtk_httpserver_respond(r->ex, 200, "application/json", out.ptr,
                               out.len);
    }
out:
    for (size_t i = 0; i < n; i++) {
        dtk_json_free(items[i].parsed);
    }
    dtk_free(items);
    for (size_t i = 0; i < ntemps; i++) {
        dtk_free(temps[i]);
    }
    dtk_free(temps);
    dtk_map_dispose(&snap);
    dtk_filter_free(filter);
    dtk_buf_dispose(&start_key);
    dtk_buf_dispose(&out);
    dtk_buf_dispose(&av);
    dtk_buf_dispose(&token);
}

/* ---- update and patch ------------------------------------------------------ */

/* Equal outside metadata (and outside status when it is a subresource). */
static int content_equal(const dtk_json *a, const dtk_json *b, int skip_status)
{
    for (int pass = 0; pass < 2; pass++) {
        const dtk_json *x = pass ? b : a;
        const dtk_json *y = pass ? a : b;

        for (size_t i = 0; i < x->u.object.len; i++) {
            const char *k = x->u.object.keys[i];

            if (strcmp(k, "metadata") == 0 ||
                (skip_status && strcmp(k, "status") == 0)) {
                continue;
            }
            if (!dtk_json_equal(x->u.object.values[i], dtk_json_get(y, k))) {
                return 0;
            }
        }
    }
    return 1;
}

static void keep_member(dtk_json *dst, const dtk_json *src, const char *key)
{
    const dtk_json *v = dtk_json_get(src, key);

    if (v != NULL) {
        dtk_json_set(dst, key, dtk_json_copy(v));
    } else {
        dtk_json_remove(dst, key);
    }
}

/* Names of finalizers in now that are not in before, as Go prints a
 * []string; empty when none. */
static void new_finalizers(dtk_buf *out, const dtk_json *before,
                           const dtk_json *now)
{
    const dtk_json *b = dtk_json_get(dtk_json_get(before, "metadata"),
                                     "finalizers");
    const dtk_json *n = dtk_json_get(dtk_json_get(now, "metadata"),
                                     "finalizers");
    int count = 0;

    for (size_t i = 0; i < dtk_json_len(n); i++) {
        const dtk_json *f = dtk_json_at(n, i);
        int found = 0;

        for (size_t j = 0; j < dtk_json_len(b) && !found; j++) {
            found = dtk_json_equal(f, dtk_json_at(b, j));
        }
        if (!found && dtk_json_string(f) != NULL) {
            dtk_buf_printf(out, "%s\"%s\"", count++ ? ", " : "[]string{",
                           dtk_json_string(f));
        }
    }
    if (count) {
        dtk_buf_putc(out, '}');
    }
}

/* Commits incoming (stolen) as the new state of st's object, following the
 * update rules; answers the request. */
static void update_object(request *r, dtk_stored *st, dtk_json *incoming,
                          int require_rv)
{
    const dtk_json *old = st->obj;
    dtk_json *obj = NULL;
    dtk_json *meta;
    const dtk_json *old_meta = dtk_json_get(old, "metadata");
    const char *rv = dtk_meta_get(incoming, "resourceVersion");
    /* Copied: the stored object (and its strings) is freed by the commit. */
    char *name = dtk_strdup(dtk_meta_get(old, "name"));
    dtk_buf fin = DTK_BUF_INIT(0);
    int status_only = r->sub != NULL && strcmp(r->sub, "status") == 0;

    if (check_type_meta(r, incoming) < 0) {
        goto out;
    }
    if (rv == NULL || *rv == '\0') {
        if (require_rv && r->t->custom) {
            dtk_fielderr_list errs = DTK_FIELDERR_LIST_INIT;

            /* Kubernetes prints the Go uint64 zero as 0x0 here. */
            dtk_fielderr_add(&errs, "FieldValueInvalid",
                             "metadata.resourceVersion",
                             "Invalid value: 0x0: must be specified for an "
                             "update");
            respond_invalid(r, &errs, name);
            dtk_fielderr_list_dispose(&errs);
            goto out;
        }
    } else if (strcmp(rv, dtk_meta_get(old, "resourceVersion")) != 0) {
        respond_conflict(r, name,
                         "the object has been modified; please apply your "
                         "changes to the latest version and try again");
        goto out;
    }
    if (status_only) {
        obj = dtk_json_copy(old);
        keep_member(obj, incoming, "status");
        dtk_json_free(incoming);
    } else {
        obj = incoming;
        if (r->t->has_status) {
            keep_member(obj, old, "status");
        }
    }
    incoming = NULL;
    meta = dtk_meta_of(obj);
    if (meta == NULL) {
        dtk_respond_error(r->ex, 400, "BadRequest",
                          "metadata must be an object");
        goto out;
    }
    keep_member(meta, old_meta, "uid");
    keep_member(meta, old_meta, "creationTimestamp");
    keep_member(meta, old_meta, "deletionTimestamp");
    keep_member(meta, old_meta, "deletionGracePeriodSeconds");
    keep_member(meta, old_meta, "generation");
    keep_member(meta, old_meta, "namespace");
    keep_member(meta, old_meta, "name");
    dtk_json_set(meta, "resourceVersion",
                 dtk_json_new_string(dtk_meta_get(old, "resourceVersion")));
    if (being_deleted(old)) {
        new_finalizers(&fin, old, obj);
        if (fin.len > 0) {
            dtk_fielderr_list errs = DTK_FIELDERR_LIST_INIT;
            dtk_buf detail = DTK_BUF_INIT(0);

            dtk_buf_printf(&detail,
                           "no new finalizers can be added if the object is "
                           "being deleted, found new finalizers %s",
                           fin.ptr);
            dtk_fielderr_forbidden(&errs, "metadata.finalizers", detail.ptr);
            respond_invalid(r, &errs, name);
            dtk_fielderr_list_dispose(&errs);
            dtk_buf_dispose(&detail);
            goto out;
        }
    }
    if (admit(r, obj, old) < 0) {
        goto out;
    }
    if (r->t->generation && !content_equal(old, obj, r->t->has_status)) {
        int64_t gen = 0;

        dtk_json_int(&gen, dtk_json_get(old_meta, "generation"));
        dtk_json_set(meta, "generation", dtk_json_new_int(gen + 1));
    }
    if (dtk_json_equal(old, obj)) {
        respond_object(r, 200, old);
        goto out;
    }
    if (dry_run(r)) {
        respond_object(r, 200, obj);
        goto out;
    }
    commit_and_respond(r, obj, DTK_EV_MODIFIED, 200);
    obj = NULL;
out:
    dtk_json_free(incoming);
    dtk_json_free(obj);
    dtk_buf_dispose(&fin);
    dtk_free(name);
}

static void handle_update(request *r)
{
    dtk_stored *st = dtk_store_get(r->t->bucket, r->ns, r->name);
    dtk_json *obj;
    const char *body_name;
    const char *body_ns;

    if (!content_type_is(r, "application/json") &&
        !content_type_is(r, DTK_PROTO_CONTENT_TYPE)) {
        dtk_respond_error(r->ex, 415, "UnsupportedMediaType",
                          "the body of the request was in an unknown format - "
                          "accepted media types include: application/json, "
                          DTK_PROTO_CONTENT_TYPE);
        return;
    }
    obj = body_object(r);
    if (obj == NULL) {
        return;
    }
    body_name = dtk_meta_get(obj, "name");
    body_ns = dtk_meta_get(obj, "namespace");
    if (body_name != NULL && strcmp(body_name, r->name) != 0) {
        dtk_respond_error(r->ex, 400, "BadRequest",
                          "the name of the object (%s) does not match the "
                          "name on the URL (%s)",
                          body_name, r->name);
        dtk_json_free(obj);
        return;
    }
    if (r->t->namespaced && body_ns != NULL && *body_ns &&
        strcmp(body_ns, r->ns) != 0) {
        dtk_respond_error(r->ex, 400, "BadRequest",
                          "the namespace of the provided object does not "
                          "match the namespace sent on the request");
        dtk_json_free(obj);
        return;
    }
    if (st == NULL) {
        dtk_json_free(obj);
        respond_not_found(r, r->name);
        return;
    }
    update_object(r, st, obj, 1);
}

static void handle_patch(request *r)
{
    dtk_stored *st = dtk_store_get(r->t->bucket, r->ns, r->name);
    size_t len = 0;
    const char *body = dtk_httpserver_body(r->ex, &len);
    dtk_json *patch = NULL;
    dtk_json *doc = NULL;
    int error = 0;

    if (content_type_is(r, "application/apply-patch+yaml") ||
        content_type_is(r, "application/apply-patch+cbor")) {
        dtk_respond_error(r->ex, 415, "UnsupportedMediaType",
                          "server-side apply is not supported by dtk-apiserver "
                          "(a development server): use client-side kubectl "
                          "apply, a merge patch or a JSON patch");
        return;
    }
    if (!content_type_is(r, "application/merge-patch+json") &&
        !content_type_is(r, "application/json-patch+json") &&
        !(content_type_is(r, "application/strategic-merge-patch+json") &&
          r->t->strategic_merge)) {
        dtk_respond_error(r->ex, 415, "UnsupportedMediaType",
                          "the body of the request was in an unknown format - "
                          "accepted media types include: "
                          "application/json-patch+json, "
                          "application/merge-patch+json, "
                          "application/apply-patch+yaml");
        return;
    }
    if (st == NULL) {
        respond_not_found(r, r->name);
        return;
    }
    if (dtk_json_parse(&patch, body, len) < 0) {
        dtk_respond_error(r->ex, 400, "BadRequest",
                          "the body of the request could not be decoded: %s",
                          dtk_error_last()->message);
        return;
    }
    doc = versioned_copy(r->t, st->obj);
    if (content_type_is(r, "application/json-patch+json")) {
        error = patch->type == DTK_JSON_ARRAY
                    ? dtk_json_patch_apply(&doc, patch)
                    : (dtk_error_set(DTK_ERRCLASS_INVALID,
                                     "a JSON patch must be an array of "
                                     "operations"),
                       DTK_EINVALID);
    } else if (content_type_is(r, "application/merge-patch+json")) {
        error = dtk_json_merge_patch(&doc, patch);
    } else {
        error = dtk_smp_apply(&doc, patch, r->t->group, r->t->kind);
    }
    if (error == 0 && (doc == NULL || doc->type != DTK_JSON_OBJECT)) {
        dtk_error_set(DTK_ERRCLASS_INVALID, "the patched document is not an "
                                            "object");
        error = DTK_EINVALID;
    }
    if (error < 0) {
        dtk_respond_error(r->ex, 422, "Invalid", "%s",
                          dtk_error_last()->message);
        goto out;
    }
    update_object(r, st, doc, 0);
    doc = NULL;
out:
    dtk_json_free(patch);
    dtk_json_free(doc);
}

/* ---- delete ------------------------------------------------------------------- */

/* Removes ownerReferences to uid from every object (Orphan propagation). */
static void orphan_dependents(dtk_apiserver *s, const char *uid)
{
    size_t iter = 0;
    void *value;

    while (dtk_map_next(&s->buckets, &iter, NULL, &value)) {
        dtk_bucket *b = value;
        size_t it2 = 0;
        void *sv;
        dtk_json **changed = NULL;
        size_t nchanged = 0;

        while (dtk_map_next(&b->objects, &it2, NULL, &sv)) {
            dtk_stored *st = sv;
            const dtk_json *refs = dtk_json_get(
                dtk_json_get(st->obj, "metadata"), "ownerReferences");
            dtk_json *copy;
            dtk_json *newrefs;

            for (size_t i = 0; i < dtk_json_len(refs); i++) {
                const char *u = dtk_json_get_string(dtk_json_at(refs, i), "uid");

                if (u != NULL && strcmp(u, uid) == 0) {
                    break;
                }
                if (i + 1 == dtk_json_len(refs)) {
                    refs = NULL;
                }
            }
            if (dtk_json_len(refs) == 0) {
                continue;
            }
            copy = dtk_json_copy(st->obj);
            newrefs = dtk_json_new_array();
            for (size_t i = 0; i < dtk_json_len(refs); i++) {
                const dtk_json *ref = dtk_json_at(refs, i);
                const char *u = dtk_json_get_string(ref, "uid");

                if (u == NULL || strcmp(u, uid) != 0) {
                    dtk_json_append(newrefs, dtk_json_copy(ref));
                }
            }
            if (dtk_json_len(newrefs) == 0) {
                dtk_json_free(newrefs);
                dtk_json_remove(dtk_meta_of(copy), "ownerReferences");
            } else {
                dtk_json_set(dtk_meta_of(copy), "ownerReferences", newrefs);
            }
            changed = dtk_realloc(changed, (nchanged + 1) * sizeof(dtk_json *));
            changed[nchanged++] = copy;
        }
        /* Commit after iterating: a commit may not reshape the map, but
         * keeping iteration and mutation apart is simpler to trust. */
        for (size_t i = 0; i < nchanged; i++) {
            dtk_store_put(s, b, changed[i], DTK_EV_MODIFIED);
        }
        dtk_free(changed);
    }
}

static int has_finalizer(const dtk_json *obj, const char *name)
{
    const dtk_json *f = dtk_json_get(dtk_json_get(obj, "metadata"),
                                     "finalizers");

    for (size_t i = 0; i < dtk_json_len(f); i++) {
        const char *v = dtk_json_string(dtk_json_at(f, i));

        if (v != NULL && strcmp(v, name) == 0) {
            return 1;
        }
    }
    return 0;
}

int dtk_apiserver_delete_locked(dtk_apiserver *s, dtk_restype *t,
                                const char *ns, const char *name,
                                const char *propagation)
{
    dtk_stored *st = dtk_store_get(t->bucket, t->namespaced ? ns : NULL, name);
    dtk_json *copy;
    dtk_json *meta;
    char now[40];
    int namespace_kind = *t->group == '\0' &&
                         strcmp(t->resource, "namespaces") == 0;

    if (st == NULL) {
        return DTK_ENOTFOUND;
    }
    if (propagation != NULL && strcmp(propagation, "Orphan") == 0) {
        orphan_dependents(s, dtk_meta_get(st->obj, "uid"));
        st = dtk_store_get(t->bucket, t->namespaced ? ns : NULL, name);
    }
    copy = dtk_json_copy(st->obj);
    meta = dtk_meta_of(copy);
    if (propagation != NULL && strcmp(propagation, "Foreground") == 0 &&
        !has_finalizer(copy, "foregroundDeletion") && !being_deleted(copy)) {
        dtk_json *f = dtk_json_get(meta, "finalizers");

        if (f == NULL || f->type != DTK_JSON_ARRAY) {
            f = dtk_json_new_array();
            dtk_json_set(meta, "finalizers", f);
        }
        dtk_json_append(f, dtk_json_new_string("foregroundDeletion"));
    }
    if (has_finalizers(copy) || namespace_kind) {
        if (being_deleted(st->obj) &&
            dtk_json_equal(st->obj, copy)) {
            dtk_json_free(copy);
            return 1;
        }
        if (!being_deleted(copy)) {
            dtk_meta_now(now, sizeof(now));
            dtk_json_set(meta, "deletionTimestamp", dtk_json_new_string(now));
            dtk_json_set(meta, "deletionGracePeriodSeconds",
                         dtk_json_new_int(0));
            if (t->generation) {
                int64_t gen = 0;

                dtk_json_int(&gen, dtk_json_get(meta, "generation"));
                if (gen > 0) {
                    dtk_json_set(meta, "generation", dtk_json_new_int(gen + 1));
                }
            }
            if (namespace_kind) {
                dtk_json *status = dtk_json_new_object();

                dtk_json_set(status, "phase",
                             dtk_json_new_string("Terminating"));
                dtk_json_set(copy, "status", status);
            }
        }
        dtk_store_put(s, t->bucket, copy, DTK_EV_MODIFIED);
        dtk_housekeeping_kick(s);
        return 1;
    }
    dtk_json_free(copy);
    dtk_store_delete(s, t->bucket, t->namespaced ? ns : NULL, name);
    dtk_housekeeping_kick(s);
    return 0;
}

static int check_preconditions(request *r, const dtk_json *opts,
                               const dtk_stored *st)
{
    const dtk_json *pre = dtk_json_get(opts, "preconditions");
    const char *uid = dtk_json_get_string(pre, "uid");
    const char *rv = dtk_json_get_string(pre, "resourceVersion");
    char why[400];

    if (uid != NULL && strcmp(uid, dtk_meta_get(st->obj, "uid")) != 0) {
        snprintf(why, sizeof(why),
                 "Precondition failed: UID in precondition: %s, UID in object "
                 "meta: %s",
                 uid, dtk_meta_get(st->obj, "uid"));
        respond_conflict(r, r->name, why);
        return -1;
    }
    if (rv != NULL &&
        strcmp(rv, dtk_meta_get(st->obj, "resourceVersion")) != 0) {
        snprintf(why, sizeof(why),
                 "Precondition failed: ResourceVersion in precondition: %s, "
                 "ResourceVersion in object meta: %s",
                 rv, dtk_meta_get(st->obj, "resourceVersion"));
        respond_conflict(r, r->name, why);
        return -1;
    }
    return 0;
}

static dtk_json *delete_options(request *r, int *bad)
{
    size_t len = 0;
    const char *body = dtk_httpserver_body(r->ex, &len);
    dtk_json *opts = NULL;

    *bad = 0;
    if (len == 0) {
        return dtk_json_new_object();
    }
    if (dtk_json_parse(&opts, body, len) < 0 || opts->type != DTK_JSON_OBJECT) {
        dtk_json_free(opts);
        dtk_respond_error(r->ex, 400, "BadRequest",
                          "the body of the request must be DeleteOptions");
        *bad = 1;
        return NULL;
    }
    return opts;
}

static const char *propagation_of(request *r, const dtk_json *opts)
{
    const char *p = dtk_httpserver_query(r->ex, "propagationPolicy");
    const dtk_json *orphan = dtk_json_get(opts, "orphanDependents");

    if (p == NULL) {
        p = dtk_json_get_string(opts, "propagationPolicy");
    }
    if (p == NULL && orphan != NULL && orphan->type == DTK_JSON_BOOL &&
        orphan->u.boolean) {
        p = "Orphan";
    }
    return p;
}

static void respond_deleted(request *r, const dtk_json *last)
{
    if (r->t->custom || is_crd_type(r->t)) {
        respond_object(r, 200, last);
    } else {
        dtk_json *st = dtk_status_new(200, "", "");
        dtk_json *d = dtk_json_new_object();

        dtk_json_remove(st, "message");
        dtk_json_remove(st, "reason");
        dtk_json_remove(st, "code");
        dtk_json_set(d, "name", dtk_json_new_string(r->name));
        if (*r->t->group) {
            dtk_json_set(d, "group", dtk_json_new_string(r->t->group));
        }
        dtk_json_set(d, "kind", dtk_json_new_string(r->t->resource));
        dtk_json_set(d, "uid", dtk_json_new_string(dtk_meta_get(last, "uid")));
        dtk_json_set(st, "details", d);
        dtk_respond_json(r->ex, 200, st);
        dtk_json_free(st);
    }
}

static void handle_delete(request *r)
{
    dtk_stored *st = dtk_store_get(r->t->bucket, r->ns, r->name);
    int bad = 0;
    dtk_json *opts = delete_options(r, &bad);
    const char *policy;
    const char *p_err = NULL;
    dtk_json *last = NULL;
    int rc;

    if (bad) {
        return;
    }
    policy = propagation_of(r, opts);
    if (policy != NULL && strcmp(policy, "Orphan") != 0 &&
        strcmp(policy, "Background") != 0 &&
        strcmp(policy, "Foreground") != 0) {
        p_err = policy;
    }
    if (p_err != NULL) {
        dtk_respond_error(r->ex, 422, "Invalid",
                          "DeleteOptions.meta.k8s.io \"\" is invalid: "
                          "propagationPolicy: Unsupported value: \"%s\": "
                          "supported values: \"Foreground\", \"Background\", "
                          "\"Orphan\", \"nil\"",
                          p_err);
        goto out;
    }
    if (st == NULL) {
        respond_not_found(r, r->name);
        goto out;
    }
    if (check_preconditions(r, opts, st) < 0) {
        goto out;
    }
    if (dry_run(r)) {
        respond_object(r, 200, st->obj);
        goto out;
    }
    last = dtk_json_copy(st->obj);
    rc = dtk_apiserver_delete_locked(r->s, r->t, r->ns, r->name, policy);
    if (rc == 1) {
        st = dtk_store_get(r->t->bucket, r->ns, r->name);
        respond_object(r, 200, st->obj);
    } else {
        respond_deleted(r, last);
    }
out:
    dtk_json_free(opts);
    dtk_json_free(last);
}

static void handle_delete_collection(request *r)
{
    dtk_filter *filter = NULL;
    dtk_json *bad = NULL;
    int bad_body = 0;
    dtk_json *opts = delete_options(r, &bad_body);
    char **names = NULL;
    size_t n = 0;
    size_t iter = 0;
    void *value;
    dtk_buf av = DTK_BUF_INIT(0);
    dtk_json *list = NULL;
    dtk_json *items;

    if (bad_body) {
        return;
    }
    if (dtk_filter_parse(&filter, &bad, r->t,
                         dtk_httpserver_query(r->ex, "labelSelector"),
                         dtk_httpserver_query(r->ex, "fieldSelector")) < 0) {
        dtk_respond_status(r->ex, bad);
        goto out;
    }
    list = dtk_json_new_object();
    items = dtk_json_new_array();
    api_version_of(&av, r->t);
    dtk_json_set(list, "kind", dtk_json_new_string(r->t->list_kind));
    dtk_json_set(list, "apiVersion", dtk_json_new_string(av.ptr));
    while (dtk_map_next(&r->t->bucket->objects, &iter, NULL, &value)) {
        dtk_stored *st = value;
        const char *ns = dtk_meta_get(st->obj, "namespace");

        if (r->ns != NULL && r->t->namespaced &&
            (ns == NULL || strcmp(ns, r->ns) != 0)) {
            continue;
        }
        if (filter != NULL && !dtk_filter_match(filter, st->obj)) {
            continue;
        }
        names = dtk_realloc(names, (n + 1) * 2 * sizeof(char *));
        names[2 * n] = dtk_strdup(ns ? ns : "");
        names[2 * n + 1] = dtk_strdup(dtk_meta_get(st->obj, "name"));
        dtk_json_append(items, versioned_copy(r->t, st->obj));
        n++;
    }
    dtk_json_set(list, "metadata", dtk_json_new_object());
    dtk_json_set(list, "items", items);
    if (!dry_run(r)) {
        for (size_t i = 0; i < n; i++) {
            dtk_apiserver_delete_locked(r->s, r->t, names[2 * i],
                                        names[2 * i + 1],
                                        propagation_of(r, opts));
        }
    }
    dtk_respond_json(r->ex, 200, list);
out:
    for (size_t i = 0; i < 2 * n; i++) {
        dtk_free(names[i]);
    }
    dtk_free(names);
    dtk_json_free(list);
    dtk_json_free(opts);
    dtk_filter_free(filter);
    dtk_buf_dispose(&av);
}

/* ---- routing ------------------------------------------------------------------ */

static void split_path(request *r, const char *path)
{
    const char *p = path;

    while (*p == '/') {
        p++;
    }
    while (*p && r->nseg < MAX_SEGMENTS) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);

        if (n > 0) {
            r->segs[r->nseg++] = dtk_strndup(p, n);
        }
        p += n;
        while (*p == '/') {
            p++;
        }
    }
}

static void respond_not_found_path(request *r)
{
    dtk_respond_error(r->ex, 404, "NotFound",
                      "the server could not find the requested resource");
}

/* Resolves segs[from..] = [watch/][namespaces/NS/]RES[/NAME[/SUB]]. Returns
 * 0 when a resource was found; answers 404 itself otherwise. */
static int resolve_resource(request *r, const char *group, const char *version,
                            size_t from)
{
    char **seg = r->segs + from;
    size_t n = r->nseg - from;
    dtk_restype *t;

    if (n > 0 && strcmp(seg[0], "watch") == 0) {
        r->watch = 1;
        seg++;
        n--;
    }
    if (n >= 3 && strcmp(seg[0], "namespaces") == 0) {
        t = dtk_registry_find(r->s, group, version, seg[2]);
        if (t != NULL && t->namespaced) {
            r->t = t;
            r->ns = seg[1];
            r->name = n >= 4 ? seg[3] : NULL;
            r->sub = n >= 5 ? seg[4] : NULL;
            if (n > 5) {
                respond_not_found_path(r);
                return -1;
            }
            return 0;
        }
    }
    if (n == 0) {
        respond_not_found_path(r);
        return -1;
    }
    t = dtk_registry_find(r->s, group, version, seg[0]);
    if (t == NULL || n > 3) {
        respond_not_found_path(r);
        return -1;
    }
    r->t = t;
    r->name = n >= 2 ? seg[1] : NULL;
    r->sub = n >= 3 ? seg[2] : NULL;
    r->ns = NULL;
    if (t->namespaced && r->name != NULL) {
        /* A namespaced object needs a namespace in its path. */
        respond_not_found_path(r);
        return -1;
    }
    return 0;
}

static int is_watch_query(request *r)
{
    return is_true(dtk_httpserver_query(r->ex, "watch"));
}

static void dispatch_resource(request *r)
{
    const char *m = r->method;

    if (r->sub != NULL && (strcmp(r->sub, "status") != 0 || !r->t->has_status)) {
        respond_not_found_path(r);
        return;
    }
    if (r->sub != NULL && strcmp(m, "GET") != 0 && strcmp(m, "PUT") != 0 &&
        strcmp(m, "PATCH") != 0) {
        dtk_respond_error(r->ex, 405, "MethodNotAllowed",
                          "the server does not allow this method on the "
                          "requested resource");
        return;
    }
    if (r->watch || (strcmp(m, "GET") == 0 && is_watch_query(r))) {
        if (strcmp(m, "GET") != 0) {
            dtk_respond_error(r->ex, 405, "MethodNotAllowed",
                              "the server does not allow this method on the "
                              "requested resource");
            return;
        }
        dtk_watch_serve(r->s, r->ex, r->t, r->ns, r->name);
        return;
    }
    if (r->name == NULL) {
        if (strcmp(m, "GET") == 0) {
            handle_list(r);
        } else if (strcmp(m, "POST") == 0) {
            if (r->t->namespaced && r->ns == NULL) {
                respond_not_found_path(r);
            } else {
                handle_create(r);
            }
        } else if (strcmp(m, "DELETE") == 0) {
            handle_delete_collection(r);
        } else {
            dtk_respond_error(r->ex, 405, "MethodNotAllowed",
                              "the server does not allow this method on the "
                              "requested resource");
        }
        return;
    }
    if (strcmp(m, "GET") == 0) {
        handle_get(r);
    } else if (strcmp(m, "PUT") == 0) {
        handle_update(r);
    } else if (strcmp(m, "PATCH") == 0) {
        handle_patch(r);
    } else if (strcmp(m, "DELETE") == 0 && r->sub == NULL) {
        handle_delete(r);
    } else {
        dtk_respond_error(r->ex, 405, "MethodNotAllowed",
                          "the server does not allow this method on the "
                          "requested resource");
    }
}

static void respond_doc(request *r, dtk_json *doc)
{
    if (doc == NULL) {
        respond_not_found_path(r);
        return;
    }
    dtk_respond_json(r->ex, 200, doc);
    dtk_json_free(doc);
}

static void respond_version(request *r)
{
    dtk_json *v = dtk_json_new_object();

    dtk_json_set(v, "major", dtk_json_new_string("1"));
    dtk_json_set(v, "minor", dtk_json_new_string("32"));
    dtk_json_set(v, "gitVersion", dtk_json_new_string("v1.32.0-dtk"));
    dtk_json_set(v, "gitCommit", dtk_json_new_string("dtk-apiserver"));
    dtk_json_set(v, "gitTreeState", dtk_json_new_string("clean"));
    dtk_json_set(v, "buildDate", dtk_json_new_string("2026-11-23T00:00:00Z"));
    dtk_json_set(v, "goVersion", dtk_json_new_string("c11"));
    dtk_json_set(v, "compiler", dtk_json_new_string("gcc"));
    dtk_json_set(v, "platform", dtk_json_new_string("linux/amd64"));
    respond_doc(r, v);
}

int dtk_faults_serve(dtk_apiserver *s, dtk_httpserver_exchange *ex,
                     const char *path);
/* Returns 1 when a fault answered the request. May sleep (latency) with mu
 * released. Caller holds mu. */
int dtk_faults_apply(dtk_apiserver *s, dtk_httpserver_exchange *ex);
/* Returns 1 when the request was refused for lack of a valid token. */
int dtk_auth_refuse(dtk_apiserver *s, dtk_httpserver_exchange *ex);

static void route(request *r)
{
    const char *p = dtk_httpserver_path(r->ex);
    size_t n;

    split_path(r, p);
    n = r->nseg;
    if (n == 1 && (strcmp(r->segs[0], "healthz") == 0 ||
                   strcmp(r->segs[0], "livez") == 0 ||
                   strcmp(r->segs[0], "readyz") == 0)) {
        dtk_httpserver_respond(r->ex, 200, "text/plain", "ok", 2);
        return;
    }
    if (dtk_auth_refuse(r->s, r->ex)) {
        return;
    }
    if (n >= 1 && strcmp(r->segs[0], "_dtk") == 0) {
        if (!dtk_faults_serve(r->s, r->ex, p)) {
            respond_not_found_path(r);
        }
        return;
    }
    if (dtk_faults_apply(r->s, r->ex)) {
        return;
    }
    if (n == 1 && strcmp(r->segs[0], "version") == 0) {
        respond_version(r);
    } else if (n >= 1 && strcmp(r->segs[0], "openapi") == 0) {
        if (!dtk_openapi_serve(r->s, r->ex, p)) {
            respond_not_found_path(r);
        }
    } else if (n == 1 && strcmp(r->segs[0], "api") == 0) {
        respond_doc(r, dtk_registry_api_versions(r->s));
    } else if (n == 2 && strcmp(r->segs[0], "api") == 0) {
        respond_doc(r, dtk_registry_resource_list(r->s, "", r->segs[1]));
    } else if (n >= 3 && strcmp(r->segs[0], "api") == 0) {
        if (resolve_resource(r, "", r->segs[1], 2) == 0) {
            dispatch_resource(r);
        }
    } else if (n == 1 && strcmp(r->segs[0], "apis") == 0) {
        respond_doc(r, dtk_registry_group_list(r->s));
    } else if (n == 2 && strcmp(r->segs[0], "apis") == 0) {
        respond_doc(r, dtk_registry_group(r->s, r->segs[1]));
    } else if (n == 3 && strcmp(r->segs[0], "apis") == 0) {
        respond_doc(r, dtk_registry_resource_list(r->s, r->segs[1],
                                                  r->segs[2]));
    } else if (n >= 4 && strcmp(r->segs[0], "apis") == 0) {
        if (resolve_resource(r, r->segs[1], r->segs[2], 3) == 0) {
            dispatch_resource(r);
        }
    } else {
        respond_not_found_path(r);
    }
}

void dtk_apiserver_handle(dtk_httpserver_exchange *ex, void *payload)
{
    request r;
    int64_t start = dtk_clock_now_ms();

    memset(&r, 0, sizeof(r));
    r.s = payload;
    r.ex = ex;
    r.method = dtk_httpserver_method(ex);
    pthread_mutex_lock(&r.s->mu);
    route(&r);
    pthread_mutex_unlock(&r.s->mu);
    dtk_log(DTK_LOG_DEBUG, NULL, "Request", "method=%s path=%s duration_ms=%lld",
            r.method, dtk_httpserver_path(ex),
            (long long)(dtk_clock_now_ms() - start));
    for (size_t i = 0; i < r.nseg; i++) {
        dtk_free(r.segs[i]);
    }
}

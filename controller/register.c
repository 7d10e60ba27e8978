/* Wiring: informers, indexes, cross-kind event mapping and controllers.
 *
 * One informer per kind and watched namespace (or one for all namespaces):
 * a namespace-restricted operator needs RBAC only in its namespaces. The
 * handlers only enqueue:
 *   Target      -> the Target (spec or deletion changes), and every
 *                  instance staged on it (its status may have changed);
 *   Assembly    -> the Assembly (spec changes), and its instances;
 *   Instance    -> the instance (spec, annotations, deletion), its children
 *                  (layered instances), and its Target (InUse);
 *   Secret      -> Targets and instances that name it, and the instance
 *                  controlling it (a deleted binding Secret is rewritten).
 * Status-only updates of a Target, Assembly or instance do not enqueue the
 * object itself, so a status write does not cause another reconcile.
 */
#include "controller/controller.h"

#include <stdarg.h>
#include <string.h>

#include "controller/common/kutil.h"
#include "controller/operator_int.h"
#include "pkg/base/alloc.h"
#include "pkg/base/error.h"

const dtk_kube_gvr dtk_gvr_targets =
    DTK_KUBE_GVR_INIT("dtk.io", "v1alpha1", "targets", 1);
const dtk_kube_gvr dtk_gvr_assemblies =
    DTK_KUBE_GVR_INIT("dtk.io", "v1alpha1", "assemblies", 1);
const dtk_kube_gvr dtk_gvr_instances =
    DTK_KUBE_GVR_INIT("dtk.io", "v1alpha1", "serviceinstances", 1);

static const dtk_kube_gvr *kind_gvr(dtk_op_kind kind)
{
    switch (kind) {
    case DTK_KIND_TARGET:
        return &dtk_gvr_targets;
    case DTK_KIND_ASSEMBLY:
        return &dtk_gvr_assemblies;
    case DTK_KIND_INSTANCE:
        return &dtk_gvr_instances;
    default:
        return &dtk_kube_gvr_secrets;
    }
}

static const char *kind_name(dtk_op_kind kind)
{
    static const char *const names[] = {"targets", "assemblies",
                                        "serviceinstances", "secrets"};
    return names[kind];
}

dtk_informer *dtk_operator__informer(dtk_operator *op, dtk_op_kind kind,
                                     const char *ns)
{
    if (op->namespace_count == 0) {
        return op->informers[kind][0];
    }
    for (size_t i = 0; ns != NULL && i < op->namespace_count; i++) {
        if (strcmp(op->namespaces[i], ns) == 0) {
            return op->informers[kind][i];
        }
    }
    return NULL;
}

int dtk_operator__get(dtk_object **out, dtk_operator *op, dtk_op_kind kind,
                      const char *ns, const char *name)
{
    dtk_informer *inf = dtk_operator__informer(op, kind, ns);
    if (inf == NULL) {
        dtk_error_set(DTK_ERRCLASS_NONE, "namespace '%s' is not watched", ns);
        return DTK_ENOTFOUND;
    }
    return dtk_informer_get(out, inf, ns, name);
}

void dtk_operator__by_index(dtk_object_list *out, dtk_operator *op,
                            dtk_op_kind kind, const char *ns,
                            const char *index, const char *value)
{
    dtk_informer *inf = dtk_operator__informer(op, kind, ns);
    dtk_buf key = DTK_BUF_INIT(1024);

    if (inf != NULL && dtk_buf_printf(&key, "%s/%s", ns, value) == 0) {
        dtk_informer_by_index(out, inf, index, dtk_buf_cstr(&key));
    }
    dtk_buf_dispose(&key);
}

void dtk_operator__event(dtk_operator *op, const dtk_json *obj,
                         const char *type, const char *reason,
                         const char *fmt, ...)
{
    dtk_kube_object_ref ref = DTK_KUBE_OBJECT_REF_INIT;
    dtk_buf msg = DTK_BUF_INIT(DTK_KUBE_EVENT_MESSAGE_MAX * 2);
    va_list ap;

    if (op->recorder == NULL ||
        dtk_kube_object_ref_from(&ref, obj) < 0) {
        dtk_error_clear();
        dtk_buf_dispose(&msg);
        return;
    }
    va_start(ap, fmt);
    dtk_buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    if (dtk_kube_recorder_event(op->recorder, &ref, type, reason,
                                dtk_buf_cstr(&msg)) < 0) {
        dtk_error_clear();
    }
    dtk_buf_dispose(&msg);
}

/* ---- indexes ------------------------------------------------------------ */

static void add_ns_value(dtk_index_values *out, const dtk_object *obj,
                         const char *value)
{
    dtk_buf b = DTK_BUF_INIT(1024);
    const char *ns = dtk_object_namespace(obj);

    if (value != NULL && ns != NULL &&
        dtk_buf_printf(&b, "%s/%s", ns, value) == 0) {
        dtk_index_values_add(out, dtk_buf_cstr(&b));
    }
    dtk_buf_dispose(&b);
}

static void index_instance(dtk_index_values *out, const dtk_object *obj,
                           void *payload)
{
    const char *which = payload;
    const dtk_json *spec = dtk_json_get(dtk_object_json(obj), "spec");
    const dtk_json *tref = dtk_json_get(spec, "targetRef");
    const char *tkind = dtk_json_get_string(tref, "kind");
    int is_parent = tkind != NULL && strcmp(tkind, "ServiceInstance") == 0;

    if (strcmp(which, DTK_INDEX_BY_TARGET) == 0 && !is_parent) {
        add_ns_value(out, obj, dtk_json_get_string(tref, "name"));
    } else if (strcmp(which, DTK_INDEX_BY_PARENT) == 0 && is_parent) {
        add_ns_value(out, obj, dtk_json_get_string(tref, "name"));
    } else if (strcmp(which, DTK_INDEX_BY_ASSEMBLY) == 0) {
        add_ns_value(out, obj,
                     dtk_json_get_string(dtk_json_get(spec, "assemblyRef"),
                                         "name"));
    } else if (strcmp(which, DTK_INDEX_BY_SECRET) == 0) {
        const dtk_json *from = dtk_json_get(spec, "parametersFrom");
        for (size_t i = 0; i < dtk_json_len(from); i++) {
            const dtk_json *ref =
                dtk_json_get(dtk_json_at(from, i), "secretKeyRef");
            add_ns_value(out, obj, dtk_json_get_string(ref, "name"));
        }
    }
}

static void index_target_secrets(dtk_index_values *out, const dtk_object *obj,
                                 void *payload)
{
    static const char *const path[] = {"spec", "brokers", NULL};
    const dtk_json *brokers = dtk_json_path(dtk_object_json(obj), path);
    (void)payload;

    for (size_t i = 0; brokers && brokers->type == DTK_JSON_ARRAY &&
                       i < dtk_json_len(brokers); i++) {
        const dtk_json *ref =
            dtk_json_get(dtk_json_at(brokers, i), "authSecretRef");
        add_ns_value(out, obj, dtk_json_get_string(ref, "name"));
    }
}

/* ---- handlers ----------------------------------------------------------- */

static void enqueue_index(dtk_operator *op, dtk_controller *c,
                          dtk_op_kind kind, const char *ns, const char *index,
                          const char *value)
{
    dtk_object_list l = DTK_OBJECT_LIST_INIT;

    if (ns == NULL || value == NULL) {
        return;
    }
    dtk_operator__by_index(&l, op, kind, ns, index, value);
    for (size_t i = 0; i < l.len; i++) {
        dtk_controller_enqueue(c, dtk_object_key(l.items[i]));
    }
    dtk_object_list_dispose(&l);
}

static void enqueue_ref(dtk_controller *c, const char *ns, const char *name)
{
    dtk_buf b = DTK_BUF_INIT(1024);
    if (ns != NULL && name != NULL &&
        dtk_buf_printf(&b, "%s/%s", ns, name) == 0) {
        dtk_controller_enqueue(c, dtk_buf_cstr(&b));
    }
    dtk_buf_dispose(&b);
}

/* Did anything other than status (and resourceVersion) change? */
static int spec_or_meta_changed(dtk_object *old_obj, dtk_object *new_obj)
{
    const dtk_json *a = dtk_object_json(old_obj);
    const dtk_json *b = dtk_object_json(new_obj);
    const dtk_json *ma = dtk_json_get(a, "metadata");
    const dtk_json *mb = dtk_json_get(b, "metadata");
    static const char *const keys[] = {"generation", "deletionTimestamp",
                                       "finalizers", "annotations", NULL};

    if (old_obj == new_obj) {
        return 1; /* a resync: reconcile again */
    }
    for (size_t i = 0; keys[i] != NULL; i++) {
        const dtk_json *x = dtk_json_get(ma, keys[i]);
        const dtk_json *y = dtk_json_get(mb, keys[i]);
        if ((x == NULL) != (y == NULL) ||
            (x != NULL && !dtk_json_equal(x, y))) {
            return 1;
        }
    }
    return 0;
}

static void target_changed(dtk_operator *op, dtk_object *obj, int self)
{
    if (self) {
        dtk_controller_enqueue(op->targets, dtk_object_key(obj));
    }
    enqueue_index(op, op->instances, DTK_KIND_INSTANCE,
                  dtk_object_namespace(obj), DTK_INDEX_BY_TARGET,
                  dtk_object_name(obj));
}

static void target_add(dtk_object *obj, void *payload)
{
    target_changed(payload, obj, 1);
}

static void target_update(dtk_object *o, dtk_object *n, void *payload)
{
    target_changed(payload, n, spec_or_meta_changed(o, n));
}

static void target_delete(dtk_object *obj, int unknown, void *payload)
{
    (void)unknown;
    target_changed(payload, obj, 0);
}

static void assembly_changed(dtk_operator *op, dtk_object *obj, int self)
{
    if (self) {
        dtk_controller_enqueue(op->assemblies, dtk_object_key(obj));
    }
    enqueue_index(op, op->instances, DTK_KIND_INSTANCE,
                  dtk_object_namespace(obj), DTK_INDEX_BY_ASSEMBLY,
                  dtk_object_name(obj));
}

static void assembly_add(dtk_object *obj, void *payload)
{
    assembly_changed(payload, obj, 1);
}

static void assembly_update(dtk_object *o, dtk_object *n, void *payload)
{
    assembly_changed(payload, n, spec_or_meta_changed(o, n));
}

static void assembly_delete(dtk_object *obj, int unknown, void *payload)
{
    (void)unknown;
    assembly_changed(payload, obj, 0);
}

static void instance_changed(dtk_operator *op, dtk_object *obj, int self,
                             int deleted)
{
    const dtk_json *spec = dtk_json_get(dtk_object_json(obj), "spec");
    const dtk_json *tref = dtk_json_get(spec, "targetRef");
    const char *tkind = dtk_json_get_string(tref, "kind");
    const char *ns = dtk_object_namespace(obj);

    if (self) {
        dtk_controller_enqueue(op->instances, dtk_object_key(obj));
    }
    enqueue_index(op, op->instances, DTK_KIND_INSTANCE, ns,
                  DTK_INDEX_BY_PARENT, dtk_object_name(obj));
    if (tkind != NULL && strcmp(tkind, "ServiceInstance") == 0) {
        if (deleted) {
            enqueue_ref(op->instances, ns, dtk_json_get_string(tref, "name"));
        }
    } else {
        enqueue_ref(op->targets, ns, dtk_json_get_string(tref, "name"));
    }
}

static void instance_add(dtk_object *obj, void *payload)
{
    instance_changed(payload, obj, 1, 0);
}

static void instance_update(dtk_object *o, dtk_object *n, void *payload)
{
    int self = spec_or_meta_changed(o, n);
    dtk_operator *op = payload;

    if (self) {
        instance_changed(op, n, 1, 0);
    } else {
        /* Status only: children may wait for this parent's outputs. */
        enqueue_index(op, op->instances, DTK_KIND_INSTANCE,
                      dtk_object_namespace(n), DTK_INDEX_BY_PARENT,
                      dtk_object_name(n));
    }
}

static void instance_delete(dtk_object *obj, int unknown, void *payload)
{
    (void)unknown;
    instance_changed(payload, obj, 0, 1);
}

static void secret_changed(dtk_operator *op, dtk_object *obj)
{
    static const char *const path[] = {"metadata", "ownerReferences", NULL};
    const dtk_json *refs = dtk_json_path(dtk_object_json(obj), path);
    const char *ns = dtk_object_namespace(obj);

    enqueue_index(op, op->targets, DTK_KIND_TARGET, ns, DTK_INDEX_BY_SECRET,
                  dtk_object_name(obj));
    enqueue_index(op, op->instances, DTK_KIND_INSTANCE, ns,
                  DTK_INDEX_BY_SECRET, dtk_object_name(obj));
    for (size_t i = 0; i < dtk_json_len(refs); i++) {
        const dtk_json *r = dtk_json_at(refs, i);
        const char *kind = dtk_json_get_string(r, "kind");
        const char *api = dtk_json_get_string(r, "apiVersion");
        const dtk_json *ctl = dtk_json_get(r, "controller");
        if (kind != NULL && api != NULL &&
            strcmp(kind, "ServiceInstance") == 0 &&
            strcmp(api, DTK_API_VERSION) == 0 && ctl != NULL &&
            ctl->type == DTK_JSON_BOOL && ctl->u.boolean) {
            enqueue_ref(op->instances, ns, dtk_json_get_string(r, "name"));
        }
    }
}

static void secret_add(dtk_object *obj, void *payload)
{
    secret_changed(payload, obj);
}

static void secret_update(dtk_object *o, dtk_object *n, void *payload)
{
    if (o != n) {
        secret_changed(payload, n);
    }
}

static void secret_delete(dtk_object *obj, int unknown, void *payload)
{
    (void)unknown;
    secret_changed(payload, obj);
}

/* ---- runnables ---------------------------------------------------------- */

static int inf_start(void *payload)
{
    return dtk_informer_start(payload);
}

static int inf_stop(void *payload, int64_t timeout_ms)
{
    (void)timeout_ms;
    dtk_informer_stop(payload);
    return 0;
}

static int inf_synced(void *payload)
{
    return dtk_informer_has_synced(payload);
}

static int new_controller(dtk_controller **out, dtk_manager *m,
                          const char *name, dtk_reconcile_fn fn,
                          dtk_operator *op, const dtk_operator_options *o)
{
    dtk_controller_options co = DTK_CONTROLLER_OPTIONS_INIT;
    dtk_controller *c = NULL;
    int error;

    co.name = name;
    co.reconcile = fn;
    co.payload = op;
    co.max_concurrent_reconciles = o->workers > 0 ? o->workers : 2;
    co.base_delay_ms = 500;
    /* Retries of broker and API failures: capped at a minute, so a
     * recovered broker is noticed soon. */
    co.max_delay_ms = 60000;
    co.metrics = o->metrics;
    error = dtk_controller_new(&c, &co);
    if (error < 0) {
        return error;
    }
    error = dtk_manager_add_controller(m, c);
    if (error < 0) {
        dtk_controller_free(c);
        return error;
    }
    *out = c;
    return 0;
}

int dtk_operator_register(dtk_operator **out, dtk_manager *m,
                          const dtk_operator_options *o)
{
    dtk_operator *op = NULL;
    dtk_kube_recorder_options ro = DTK_KUBE_RECORDER_OPTIONS_INIT;
    int error = 0;

    if (o == NULL || o->config == NULL) {
        dtk_error_set(DTK_ERRCLASS_CONFIG, "operator: config is required");
        return DTK_EINVALID;
    }
    op = dtk_calloc(1, sizeof(*op));
    pthread_mutex_init(&op->catalog_mu, NULL);
    op->config = o->config;
    op->clusterid = dtk_strdup(o->clusterid ? o->clusterid : "dtk-operator");
    op->namespace_count = o->namespace_count;
    if (o->namespace_count > 0) {
        op->namespaces = dtk_calloc(o->namespace_count, sizeof(char *));
        for (size_t i = 0; i < o->namespace_count; i++) {
            op->namespaces[i] = dtk_strdup(o->namespaces[i]);
        }
    }
    op->informer_count = o->namespace_count > 0 ? o->namespace_count : 1;

    ro.component = "dtk-operator";
    error = dtk_kube_recorder_new(&op->recorder, o->config, &ro);
    if (error < 0) {
        goto out;
    }
    /* Controllers first: the handlers enqueue into them. */
    error = new_controller(&op->targets, m, "target", dtk_target_reconcile,
                           op, o);
    if (error < 0) {
        goto out;
    }
    error = new_controller(&op->assemblies, m, "assembly",
                           dtk_assembly_reconcile, op, o);
    if (error < 0) {
        goto out;
    }
    error = new_controller(&op->instances, m, "serviceinstance",
                           dtk_instance_reconcile, op, o);
    if (error < 0) {
        goto out;
    }
    for (int kind = 0; kind < DTK_KIND_COUNT; kind++) {
        op->informers[kind] =
            dtk_calloc(op->informer_count, sizeof(dtk_informer *));
        for (size_t i = 0; i < op->informer_count; i++) {
            dtk_informer_options io = DTK_INFORMER_OPTIONS_INIT;
            dtk_informer_handler h = DTK_INFORMER_HANDLER_INIT;
            dtk_runnable r = DTK_RUNNABLE_INIT;
            dtk_informer *inf = NULL;

            io.name = kind_name(kind);
            io.namespace = op->namespace_count ? op->namespaces[i] : NULL;
            /* Every object is reconciled again every 10 minutes. */
            io.resync_ms = kind == DTK_KIND_SECRET ? 0 : 600000;
            error = dtk_informer_new(&inf, o->config, kind_gvr(kind), &io);
            if (error < 0) {
                goto out;
            }
            op->informers[kind][i] = inf;
            h.payload = op;
            switch (kind) {
            case DTK_KIND_TARGET:
                h.on_add = target_add;
                h.on_update = target_update;
                h.on_delete = target_delete;
                error = dtk_informer_add_index(inf, DTK_INDEX_BY_SECRET,
                                               index_target_secrets, NULL);
                break;
            case DTK_KIND_ASSEMBLY:
                h.on_add = assembly_add;
                h.on_update = assembly_update;
                h.on_delete = assembly_delete;
                break;
            case DTK_KIND_INSTANCE:
                h.on_add = instance_add;
                h.on_update = instance_update;
                h.on_delete = instance_delete;
                error = dtk_informer_add_index(inf, DTK_INDEX_BY_TARGET,
                                               index_instance,
                                               (void *)DTK_INDEX_BY_TARGET);
                if (error == 0) {
                    error = dtk_informer_add_index(
                        inf, DTK_INDEX_BY_PARENT, index_instance,
                        (void *)DTK_INDEX_BY_PARENT);
                }
                if (error == 0) {
                    error = dtk_informer_add_index(
                        inf, DTK_INDEX_BY_ASSEMBLY, index_instance,
                        (void *)DTK_INDEX_BY_ASSEMBLY);
                }
                if (error == 0) {
                    error = dtk_informer_add_index(
                        inf, DTK_INDEX_BY_SECRET, index_instance,
                        (void *)DTK_INDEX_BY_SECRET);
                }
                break;
            default:
                h.on_add = secret_add;
                h.on_update = secret_update;
                h.on_delete = secret_delete;
                break;
            }
            if (error < 0) {
                goto out;
            }
            error = dtk_informer_add_handler(inf, &h);
            if (error < 0) {
                goto out;
            }
            r.name = kind_name(kind);
            r.start = inf_start;
            r.stop = inf_stop;
            r.has_synced = inf_synced;
            r.payload = inf;
            error = dtk_manager_add_runnable(m, &r);
            if (error < 0) {
                goto out;
            }
        }
    }
    *out = op;
    op = NULL;
out:
    dtk_operator_free(op);
    return error;
}

void dtk_operator_free(dtk_operator *op)
{
    if (op == NULL) {
        return;
    }
    for (int kind = 0; kind < DTK_KIND_COUNT; kind++) {
        for (size_t i = 0; op->informers[kind] && i < op->informer_count;
             i++) {
            dtk_informer_free(op->informers[kind][i]);
        }
        dtk_free(op->informers[kind]);
    }
    if (op->recorder != NULL) {
        dtk_kube_recorder_flush(op->recorder, 5000);
        dtk_kube_recorder_free(op->recorder);
    }
    for (size_t i = 0; i < op->namespace_count; i++) {
        dtk_free(op->namespaces[i]);
    }
    dtk_free(op->namespaces);
    {
        size_t iter = 0;
        const char *key;
        void *value;
        while (dtk_map_next(&op->catalog_seen, &iter, &key, &value)) {
            dtk_target_seen *seen = value;
            dtk_free(seen->fingerprint);
            dtk_free(seen);
        }
        dtk_map_dispose(&op->catalog_seen);
    }
    pthread_mutex_destroy(&op->catalog_mu);
    dtk_free(op->clusterid);
    dtk_free(op);
}

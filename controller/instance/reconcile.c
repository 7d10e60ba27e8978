/* The ServiceInstance reconciler: stage, plan, converge, tear down.
 *
 * Each reconcile reads the instance fresh from the API server (the cache
 * may lag behind our own status writes), then:
 *   1. deletion: the finalizer dtk.io/teardown unbinds and deprovisions in
 *      reverse dependency order (deletionPolicy Orphan or the annotation
 *      dtk.io/abandon: "true" drop the finalizer without touching the
 *      broker);
 *   2. stage: resolve the Target (or the parent instance, then its
 *      Target) and the Assembly in the same namespace, pin the Assembly
 *      revision in a ControllerRevision "<instance>-<revision>" owned by
 *      the instance (later edits raise UpdateAvailable and change nothing
 *      unless updatePolicy is Follow or dtk.io/upgrade-requested-at
 *      changes), merge and validate the parameters, publish status.plan;
 *   3. converge (Automatic, or Manual once dtk.io/converge-requested-at
 *      has a new value): components in dependency order, fail-fast
 *      (dependents of a failed component are Blocked);
 *   4. outputs and the aggregated binding Secret "<instance>-binding";
 *   5. conditions (Ready, Reconciling, Stalled, TargetReady,
 *      AssemblyResolved, ParametersValid, UpdateAvailable), phase, history,
 *      written only when something changed.
 * Values of sensitive parameters and credentials never reach status,
 * Events or logs: status holds ids, states and redacted outputs.
 */
#include <stdio.h>
#include <string.h>

#include "controller/common/conditions.h"
#include "controller/common/expr.h"
#include "controller/common/kutil.h"
#include "controller/instance/instance_int.h"
#include "controller/instance/stage.h"
#include "pkg/base/alloc.h"
#include "pkg/base/clock.h"
#include "pkg/base/error.h"

#define MAX_LAYERS  8
#define MAX_HISTORY 10

static int str_eq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static void cond(dtk_ictx *c, const char *type, dtk_condition_status s,
                 const char *reason, const char *msg)
{
    dtk_conditions_set(c->status, type, s, reason, msg ? msg : "", c->gen,
                       NULL);
}

dtk_json *dtk_instance__entry(dtk_ictx *c, const char *name)
{
    dtk_json *list = dtk_json_get(c->status, "components");
    dtk_json *e;

    if (list == NULL || list->type != DTK_JSON_ARRAY) {
        list = dtk_json_new_array();
        dtk_json_set(c->status, "components", list);
    }
    for (size_t i = 0; i < dtk_json_len(list); i++) {
        e = dtk_json_at(list, i);
        if (str_eq(dtk_json_get_string(e, "name"), name)) {
            return e;
        }
    }
    e = dtk_json_new_object();
    dtk_json_set(e, "name", dtk_json_new_string(name));
    dtk_json_append(list, e);
    return e;
}

int dtk_instance__flush(dtk_ictx *c)
{
    const dtk_json *old = dtk_json_get(c->obj, "status");
    if (old != NULL && dtk_json_equal(old, c->status)) {
        return 0;
    }
    return dtk_kutil_write_status(&c->obj, c->kc, &dtk_gvr_instances,
                                  c->status);
}

/* ---- stage -------------------------------------------------------------- */

/* Outcome of staging: 0 staged, 1 waiting (conditions say why). */
static int resolve_target(dtk_ictx *c)
{
    static const char *const tref_path[] = {"spec", "targetRef", NULL};
    dtk_json *cur = dtk_json_copy(c->obj);
    dtk_object *o = NULL;
    char msg[600];
    int waiting = 0;

    for (int depth = 0;; depth++) {
        const dtk_json *tref = dtk_json_path(cur, tref_path);
        const char *kind = dtk_json_get_string(tref, "kind");
        const char *name = dtk_json_get_string(tref, "name");

        if (depth >= MAX_LAYERS || name == NULL) {
            cond(c, "TargetReady", DTK_CONDITION_FALSE, "InvalidTargetRef",
                 "spec.targetRef: layering deeper than 8 instances");
            waiting = 1;
            break;
        }
        if (str_eq(kind, "ServiceInstance")) {
            const dtk_json *ps;
            if (str_eq(name, c->req->name) && depth == 0) {
                cond(c, "TargetReady", DTK_CONDITION_FALSE,
                     "InvalidTargetRef",
                     "spec.targetRef: an instance cannot be its own parent");
                waiting = 1;
                break;
            }
            if (dtk_operator__get(&o, c->op, DTK_KIND_INSTANCE,
                                  c->req->namespace, name) < 0) {
                dtk_error_clear();
                snprintf(msg, sizeof(msg),
                         "service instance '%s' not found in namespace '%s'",
                         name, c->req->namespace);
                cond(c, "TargetReady", DTK_CONDITION_FALSE, "ParentNotFound",
                     msg);
                waiting = 1;
                break;
            }
            ps = dtk_json_get(dtk_object_json(o), "status");
            if (depth == 0) {
                if (!c->deleting && !dtk_conditions_is_true(ps, "Ready")) {
                    snprintf(msg, sizeof(msg),
                             "parent service instance '%s' is not Ready",
                             name);
                    cond(c, "TargetReady", DTK_CONDITION_FALSE,
                         "ParentNotReady", msg);
                    waiting = 1;
                    break;
                }
                c->parent_outputs =
                    dtk_json_get(ps, "outputs")
                        ? dtk_json_copy(dtk_json_get(ps, "outputs"))
                        : dtk_json_new_object();
            }
            dtk_json_free(cur);
            cur = dtk_json_copy(dtk_object_json(o));
            dtk_object_unref(o);
            o = NULL;
            continue;
        }
        if (dtk_operator__get(&o, c->op, DTK_KIND_TARGET, c->req->namespace,
                              name) < 0) {
            dtk_error_clear();
            snprintf(msg, sizeof(msg),
                     "target '%s' not found in namespace '%s'", name,
                     c->req->namespace);
            cond(c, "TargetReady", DTK_CONDITION_FALSE, "TargetNotFound",
                 msg);
            waiting = 1;
            break;
        }
        c->target = dtk_json_copy(dtk_object_json(o));
        {
            const dtk_json *ts = dtk_json_get(c->target, "status");
            const dtk_json *rc = dtk_conditions_get(ts, "Ready");
            if (!c->deleting && !dtk_conditions_is_true(ts, "Ready")) {
                snprintf(msg, sizeof(msg), "target '%s' is not ready: %s",
                         name,
                         rc && dtk_json_get_string(rc, "message")
                             ? dtk_json_get_string(rc, "message")
                             : "not reconciled yet");
                cond(c, "TargetReady", DTK_CONDITION_FALSE, "TargetNotReady",
                     msg);
                waiting = 1;
                break;
            }
            snprintf(msg, sizeof(msg), "target '%s' is ready", name);
            cond(c, "TargetReady", DTK_CONDITION_TRUE, "Ready", msg);
        }
        break;
    }
    dtk_object_unref(o);
    dtk_json_free(cur);
    return waiting;
}

static int create_revision(dtk_ictx *c, const char *rev,
                           const dtk_json *spec)
{
    dtk_json *cr = dtk_json_new_object(), *meta = dtk_json_new_object();
    dtk_json *refs = dtk_json_new_array(), *ref = NULL, *data;
    dtk_json *labels = dtk_json_new_object();
    dtk_buf name = DTK_BUF_INIT(512);
    int error;

    error = dtk_kube_owner_ref_from_object(&ref, c->obj, 1);
    if (error < 0) {
        goto out;
    }
    dtk_buf_printf(&name, "%s-%s", c->req->name, rev);
    dtk_json_set(cr, "apiVersion", dtk_json_new_string("apps/v1"));
    dtk_json_set(cr, "kind", dtk_json_new_string("ControllerRevision"));
    dtk_json_set(meta, "name", dtk_json_new_string(dtk_buf_cstr(&name)));
    dtk_json_set(meta, "namespace", dtk_json_new_string(c->req->namespace));
    dtk_json_set(labels, "dtk.io/instance", dtk_json_new_string(c->req->name));
    dtk_json_set(labels, "dtk.io/assembly-revision", dtk_json_new_string(rev));
    dtk_json_set(meta, "labels", labels);
    labels = NULL;
    dtk_json_append(refs, ref);
    ref = NULL;
    dtk_json_set(meta, "ownerReferences", refs);
    refs = NULL;
    dtk_json_set(cr, "metadata", meta);
    meta = NULL;
    data = dtk_json_new_object();
    dtk_json_set(data, "spec", dtk_json_copy(spec));
    dtk_json_set(cr, "data", data);
    dtk_json_set(cr, "revision", dtk_json_new_int(c->gen > 0 ? c->gen : 1));
    error = dtk_kube_create(NULL, c->kc, &dtk_kube_gvr_controllerrevisions,
                            c->req->namespace, cr, NULL);
    if (error == DTK_EEXISTS) {
        dtk_error_clear();
        error = 0;
    }
out:
    dtk_json_free(cr);
    dtk_json_free(meta);
    dtk_json_free(refs);
    dtk_json_free(ref);
    dtk_json_free(labels);
    dtk_buf_dispose(&name);
    return error;
}

/* Resolves the pinned Assembly into c->assembly. Returns 0 (resolved),
 * 1 (waiting; conditions set) or < 0. */
static int resolve_assembly(dtk_ictx *c)
{
    static const char *const aref_path[] = {"spec", "assemblyRef", NULL};
    const char *aname =
        dtk_json_get_string(dtk_json_path(c->obj, aref_path), "name");
    const char *pinned = dtk_json_get_string(c->status, "assemblyRevision");
    const char *policy = dtk_json_get_string(dtk_json_get(c->obj, "spec"),
                                             "updatePolicy");
    const char *upgrade = dtk_kutil_annotation(c->obj, DTK_ANN_UPGRADE);
    const char *handled =
        dtk_json_get_string(c->status, "lastHandledUpgradeRequest");
    dtk_object *o = NULL;
    dtk_assembly *cur = NULL;
    dtk_json *snap = NULL, *cr = NULL;
    dtk_buf problems = DTK_BUF_INIT(32 * 1024), name = DTK_BUF_INIT(512);
    char msg[800], pinned_copy[16] = "";
    int follow = str_eq(policy, "Follow");
    int error = 0, want_new;

    if (pinned != NULL) {
        snprintf(pinned_copy, sizeof(pinned_copy), "%s", pinned);
    }
    if (dtk_operator__get(&o, c->op, DTK_KIND_ASSEMBLY, c->req->namespace,
                          aname) == 0) {
        if (dtk_assembly_decode(&cur, &problems, dtk_object_json(o)) < 0) {
            dtk_error_clear();
        }
    } else {
        dtk_error_clear();
    }
    want_new = pinned_copy[0] == '\0' ||
               (cur != NULL && strcmp(cur->revision, pinned_copy) != 0 &&
                (follow || (upgrade != NULL && !str_eq(upgrade, handled))));
    if (want_new) {
        if (o == NULL) {
            snprintf(msg, sizeof(msg),
                     "assembly '%s' not found in namespace '%s'", aname,
                     c->req->namespace);
            cond(c, "AssemblyResolved", DTK_CONDITION_FALSE,
                 "AssemblyNotFound", msg);
            error = 1;
            goto out;
        }
        if (cur == NULL) {
            snprintf(msg, sizeof(msg), "assembly '%s' is invalid: %s", aname,
                     dtk_buf_cstr(&problems));
            cond(c, "AssemblyResolved", DTK_CONDITION_FALSE,
                 "InvalidAssembly", msg);
            error = 1;
            goto out;
        }
        error = create_revision(c, cur->revision, cur->spec);
        if (error < 0) {
            goto out;
        }
        if (pinned_copy[0] != '\0') {
            dtk_operator__event(c->op, c->obj, "Normal", "Upgraded",
                                "assembly revision %s -> %s", pinned_copy,
                                cur->revision);
        }
        dtk_json_set(c->status, "assemblyRevision",
                     dtk_json_new_string(cur->revision));
        if (upgrade != NULL) {
            dtk_json_set(c->status, "lastHandledUpgradeRequest",
                         dtk_json_new_string(upgrade));
        }
        c->assembly = cur;
        cur = NULL;
    } else {
        dtk_buf_printf(&name, "%s-%s", c->req->name, pinned_copy);
        error = dtk_kube_get(&cr, c->kc, &dtk_kube_gvr_controllerrevisions,
                             c->req->namespace, dtk_buf_cstr(&name), NULL);
        if (error == DTK_ENOTFOUND) {
            dtk_error_clear();
            error = 0;
            if (cur != NULL && strcmp(cur->revision, pinned_copy) == 0) {
                /* The snapshot was deleted: the same content re-creates
                 * it. */
                error = create_revision(c, cur->revision, cur->spec);
                if (error < 0) {
                    goto out;
                }
                c->assembly = cur;
                cur = NULL;
            } else {
                snprintf(msg, sizeof(msg),
                         "the snapshot of assembly revision %s (controller "
                         "revision '%s') is missing",
                         pinned_copy, dtk_buf_cstr(&name));
                cond(c, "AssemblyResolved", DTK_CONDITION_FALSE,
                     "SnapshotMissing", msg);
                error = 1;
                goto out;
            }
        } else if (error < 0) {
            goto out;
        } else {
            static const char *const spath[] = {"data", "spec", NULL};
            const dtk_json *spec = dtk_json_path(cr, spath);
            snap = dtk_json_new_object();
            dtk_json_set(snap, "spec",
                         spec ? dtk_json_copy(spec) : dtk_json_new_object());
            dtk_buf_reset(&problems);
            if (dtk_assembly_decode(&c->assembly, &problems, snap) < 0) {
                dtk_error_clear();
                snprintf(msg, sizeof(msg), "pinned snapshot is invalid: %s",
                         dtk_buf_cstr(&problems));
                cond(c, "AssemblyResolved", DTK_CONDITION_FALSE,
                     "InvalidAssembly", msg);
                error = 1;
                goto out;
            }
        }
    }
    snprintf(msg, sizeof(msg), "assembly '%s' revision %s", aname,
             c->assembly->revision);
    cond(c, "AssemblyResolved", DTK_CONDITION_TRUE, "Resolved", msg);
    if (cur != NULL && strcmp(cur->revision, c->assembly->revision) != 0) {
        const dtk_json *prev = dtk_conditions_get(c->status,
                                                  "UpdateAvailable");
        snprintf(msg, sizeof(msg),
                 "assembly revision %s is available (pinned: %s); set "
                 "updatePolicy: Follow or annotate %s to take it",
                 cur->revision, c->assembly->revision, DTK_ANN_UPGRADE);
        if (!str_eq(dtk_json_get_string(prev, "status"), "True") ||
            !str_eq(dtk_json_get_string(prev, "message"), msg)) {
            dtk_operator__event(c->op, c->obj, "Normal", "UpdateAvailable",
                                "%s", msg);
        }
        cond(c, "UpdateAvailable", DTK_CONDITION_TRUE, "NewRevision", msg);
    } else {
        cond(c, "UpdateAvailable", DTK_CONDITION_FALSE, "UpToDate",
             "the pinned revision is the latest");
    }
out:
    dtk_assembly_free(cur);
    dtk_json_free(snap);
    dtk_json_free(cr);
    dtk_object_unref(o);
    dtk_buf_dispose(&problems);
    dtk_buf_dispose(&name);
    return error;
}

/* Merges parameters into c->params. Returns 0 or 1 (waiting/invalid). */
static int stage_parameters(dtk_ictx *c)
{
    static const char *const from_path[] = {"spec", "parametersFrom", NULL};
    static const char *const tp_path[] = {"spec", "parameters", NULL};
    const dtk_json *from = dtk_json_path(c->obj, from_path);
    size_t n = dtk_json_len(from);
    dtk_param_source *src = dtk_calloc(n ? n : 1, sizeof(*src));
    dtk_buf *vals = dtk_calloc(n ? n : 1, sizeof(dtk_buf));
    dtk_buf problems = DTK_BUF_INIT(32 * 1024);
    char msg[600];
    int waiting = 0;

    for (size_t i = 0; i < n; i++) {
        dtk_buf_init(&vals[i], 1024 * 1024);
    }
    for (size_t i = 0; i < n; i++) {
        const dtk_json *ref =
            dtk_json_get(dtk_json_at(from, i), "secretKeyRef");
        const char *sname = dtk_json_get_string(ref, "name");
        const char *key = dtk_json_get_string(ref, "key");
        dtk_object *secret = NULL;
        if (dtk_operator__get(&secret, c->op, DTK_KIND_SECRET,
                              c->req->namespace, sname) < 0) {
            dtk_error_clear();
            snprintf(msg, sizeof(msg),
                     "spec.parametersFrom[%zu]: secret '%s' not found", i,
                     sname ? sname : "");
            cond(c, "ParametersValid", DTK_CONDITION_FALSE, "SecretNotFound",
                 msg);
            waiting = 1;
            goto out;
        }
        if (dtk_kutil_secret_value(&vals[i], dtk_object_json(secret), key) <
            0) {
            snprintf(msg, sizeof(msg), "spec.parametersFrom[%zu]: %.500s",
                     i, dtk_error_last()->message);
            dtk_error_clear();
            dtk_object_unref(secret);
            cond(c, "ParametersValid", DTK_CONDITION_FALSE, "SecretKeyNotFound",
                 msg);
            waiting = 1;
            goto out;
        }
        dtk_object_unref(secret);
        src[i].key = key;
        src[i].value = vals[i].ptr ? vals[i].ptr : "";
        src[i].value_len = vals[i].len;
    }
    if (dtk_stage_parameters(&c->params, &problems, c->assembly,
                             dtk_json_path(c->target, tp_path),
                             c->parent_outputs,
                             dtk_json_get(dtk_json_get(c->obj, "spec"),
                                          "parameters"),
                             src, n) < 0) {
        dtk_error_clear();
        cond(c, "ParametersValid", DTK_CONDITION_FALSE, "InvalidParameters",
             dtk_buf_cstr(&problems));
        waiting = 1;
        goto out;
    }
    cond(c, "ParametersValid", DTK_CONDITION_TRUE, "Valid",
         "parameters are valid");
out:
    for (size_t i = 0; i < n; i++) {
        if (vals[i].ptr != NULL) {
            memset(vals[i].ptr, 0, vals[i].cap);
        }
        dtk_buf_dispose(&vals[i]);
    }
    dtk_free(vals);
    dtk_free(src);
    dtk_buf_dispose(&problems);
    return waiting;
}

static void build_context(dtk_ictx *c)
{
    static const char *const tp_path[] = {"spec", "parameters", NULL};
    const dtk_json *tp = dtk_json_path(c->target, tp_path);
    dtk_json *t = dtk_json_new_object(), *p = dtk_json_new_object();

    c->context = dtk_json_new_object();
    dtk_json_set(c->context, "parameters", dtk_json_copy(c->params));
    dtk_json_set(t, "parameters", tp ? dtk_json_copy(tp)
                                     : dtk_json_new_object());
    dtk_json_set(c->context, "target", t);
    dtk_json_set(p, "outputs", c->parent_outputs
                                   ? dtk_json_copy(c->parent_outputs)
                                   : dtk_json_new_object());
    dtk_json_set(c->context, "parent", p);
    dtk_json_set(c->context, "components", dtk_json_new_object());
}

/* status.plan from the resolved specs and what status says exists. */
static void build_plan(dtk_ictx *c)
{
    dtk_json *plan = dtk_json_new_array();

    for (size_t k = 0; k < c->assembly->component_count; k++) {
        size_t i = c->assembly->order[k];
        const dtk_asm_component *comp = &c->assembly->components[i];
        dtk_json *item = dtk_json_new_object();
        const char *action = "create", *reason = "";
        dtk_json *e = dtk_instance__entry(c, comp->name);
        const char *state = dtk_json_get_string(e, "state");
        char reason_buf[256];

        dtk_json_set(item, "component", dtk_json_new_string(comp->name));
        if (comp->kind == DTK_COMPONENT_CONTAINER) {
            dtk_json_set(e, "kind", dtk_json_new_string("container"));
            reason = "container components need operator part 2";
        } else if (dtk_json_get_string(e, "instanceID") == NULL) {
            reason = "not provisioned yet";
        } else if (str_eq(state, "Ready") &&
                   str_eq(dtk_json_get_string(e, "wantedHash"),
                          dtk_json_get_string(e, "parametersHash"))) {
            action = "none";
            reason = "up to date";
        } else if (str_eq(state, "Failed")) {
            action = "update";
            reason = "retry after failure";
        } else {
            action = "update";
            snprintf(reason_buf, sizeof(reason_buf), "state %s",
                     state ? state : "unknown");
            reason = reason_buf;
        }
        dtk_json_set(item, "action", dtk_json_new_string(action));
        dtk_json_set(item, "reason", dtk_json_new_string(reason));
        dtk_json_append(plan, item);
    }
    /* Components the pinned revision no longer has: delete them. */
    {
        const dtk_json *comps = dtk_json_get(c->status, "components");
        for (size_t i = 0; i < dtk_json_len(comps); i++) {
            const dtk_json *e = dtk_json_at(comps, i);
            const char *name = dtk_json_get_string(e, "name");
            dtk_json *item;
            if (name == NULL || dtk_assembly_find(c->assembly, name) >= 0) {
                continue;
            }
            item = dtk_json_new_object();
            dtk_json_set(item, "component", dtk_json_new_string(name));
            dtk_json_set(item, "action", dtk_json_new_string("delete"));
            dtk_json_set(item, "reason",
                         dtk_json_new_string("not in the assembly revision"));
            dtk_json_append(plan, item);
        }
    }
    dtk_json_set(c->status, "plan", plan);
}

/* Does the raw output text reference a credential or sensitive value? */
static int sensitive_ref(const char *path, void *payload)
{
    const dtk_assembly *a = payload;
    if (strncmp(path, "components.", 11) == 0 &&
        strstr(path, ".credentials") != NULL) {
        return DTK_EINVALID;
    }
    if (strncmp(path, "parameters.", 11) == 0) {
        const dtk_asm_param *p = dtk_assembly_param(a, path + 11);
        if (p != NULL && p->sensitive) {
            return DTK_EINVALID;
        }
    }
    return 0;
}

/* status.outputs (redacted) and the aggregated binding Secret. */
static int publish_outputs(dtk_ictx *c)
{
    static const char *const out_path[] = {"spec", "outputs", NULL};
    const dtk_json *outs = dtk_json_path(c->assembly->spec, out_path);
    const dtk_json *outs_spec = outs ? outs : dtk_json_get(c->assembly->spec,
                                                           "outputs");
    dtk_json *resolved = NULL, *status_out = dtk_json_new_object();
    dtk_json *data = dtk_json_new_object(), *labels = dtk_json_new_object();
    const dtk_json *comps = dtk_json_get(c->context, "components");
    dtk_buf name = DTK_BUF_INIT(512);
    size_t services = 0;
    int error = 0;

    if (outs_spec != NULL) {
        error = dtk_expr_resolve(&resolved, outs_spec, c->context);
        if (error < 0) {
            goto out;
        }
    }
    for (size_t i = 0; resolved && resolved->type == DTK_JSON_OBJECT &&
                       i < resolved->u.object.len; i++) {
        const char *key = resolved->u.object.keys[i];
        const dtk_json *v = resolved->u.object.values[i];
        const dtk_json *raw = dtk_json_get(outs_spec, key);
        char *text = v->type == DTK_JSON_STRING ? NULL : dtk_json_to_string(v);
        const char *s = text ? text : dtk_json_string(v);
        int secret = dtk_expr_scan_json(raw, sensitive_ref,
                                        c->assembly) < 0;
        dtk_error_clear();
        dtk_json_set(status_out, key,
                     dtk_json_new_string(secret ? "(sensitive)" : s));
        dtk_json_set(data, key, dtk_json_new_string(s));
        dtk_free(text);
    }
    for (size_t i = 0; comps && i < comps->u.object.len; i++) {
        const dtk_json *cr =
            dtk_json_get(comps->u.object.values[i], "credentials");
        if (dtk_json_len(cr) > 0) {
            services++;
        }
    }
    for (size_t i = 0; comps && i < comps->u.object.len; i++) {
        const char *cname = comps->u.object.keys[i];
        const dtk_json *cr =
            dtk_json_get(comps->u.object.values[i], "credentials");
        for (size_t k = 0; cr && cr->type == DTK_JSON_OBJECT &&
                           k < cr->u.object.len; k++) {
            const char *key = cr->u.object.keys[k];
            dtk_buf kb = DTK_BUF_INIT(512);
            if (str_eq(key, "type") || str_eq(key, "provider")) {
                dtk_buf_dispose(&kb);
                continue;
            }
            if (services == 1) {
                dtk_buf_puts(&kb, key);
            } else {
                dtk_buf_printf(&kb, "%s-%s", cname, key);
            }
            if (dtk_json_get(data, dtk_buf_cstr(&kb)) == NULL) {
                dtk_json_set(data, dtk_buf_cstr(&kb),
                             dtk_json_copy(cr->u.object.values[k]));
            }
            dtk_buf_dispose(&kb);
        }
    }
    dtk_json_set(data, "type", dtk_json_new_string("dtk"));
    dtk_json_set(data, "provider", dtk_json_new_string("dtk.io"));
    dtk_json_set(labels, "dtk.io/instance", dtk_json_new_string(c->req->name));
    dtk_buf_printf(&name, "%s-binding", c->req->name);
    error = dtk_kutil_apply_secret(c->kc, c->req->namespace,
                                   dtk_buf_cstr(&name),
                                   "servicebinding.io/dtk", data, c->obj,
                                   labels);
    if (error < 0) {
        goto out;
    }
    {
        dtk_json *b = dtk_json_new_object();
        dtk_json_set(b, "name", dtk_json_new_string(dtk_buf_cstr(&name)));
        dtk_json_set(c->status, "binding", b);
    }
    dtk_json_set(c->status, "outputs", status_out);
    status_out = NULL;
out:
    dtk_json_free(resolved);
    dtk_json_free(status_out);
    dtk_json_free(data);
    dtk_json_free(labels);
    dtk_buf_dispose(&name);
    return error;
}

static void add_history(dtk_ictx *c, const char *result)
{
    dtk_json *h = dtk_json_get(c->status, "history");
    dtk_json *last, *item;
    char now[40];

    if (h == NULL || h->type != DTK_JSON_ARRAY) {
        h = dtk_json_new_array();
        dtk_json_set(c->status, "history", h);
    }
    last = dtk_json_len(h) ? dtk_json_at(h, dtk_json_len(h) - 1) : NULL;
    if (last != NULL) {
        int64_t g = 0;
        dtk_json_int(&g, dtk_json_get(last, "generation"));
        if (g == c->gen &&
            str_eq(dtk_json_get_string(last, "result"), result) &&
            str_eq(dtk_json_get_string(last, "revision"),
                   c->assembly->revision)) {
            return;
        }
    }
    dtk_clock_rfc3339(now, sizeof(now), 0);
    item = dtk_json_new_object();
    dtk_json_set(item, "revision", dtk_json_new_string(c->assembly->revision));
    dtk_json_set(item, "generation", dtk_json_new_int(c->gen));
    dtk_json_set(item, "result", dtk_json_new_string(result));
    dtk_json_set(item, "time", dtk_json_new_string(now));
    dtk_json_append(h, item);
    while (dtk_json_len(h) > MAX_HISTORY) {
        dtk_json_remove_at(h, 0);
    }
}

static void set_phase(dtk_ictx *c, const char *phase)
{
    dtk_json_set(c->status, "phase", dtk_json_new_string(phase));
}

/* ---- converge ----------------------------------------------------------- */

/* Tears down components that the pinned revision no longer has (last
 * first) and drops their entries. Sets *progress while one is pending. */
static int remove_stale(dtk_ictx *c, int *progress)
{
    dtk_json *comps = dtk_json_get(c->status, "components");

    for (size_t k = dtk_json_len(comps); k > 0; k--) {
        dtk_json *e = dtk_json_at(comps, k - 1);
        const char *name = dtk_json_get_string(e, "name");
        int r;
        if (name == NULL || dtk_assembly_find(c->assembly, name) >= 0) {
            continue;
        }
        if (str_eq(dtk_json_get_string(e, "kind"), "service")) {
            r = dtk_instance__teardown_service(c, e);
            if (r < 0) {
                return r;
            }
            if (r == 0) {
                *progress = 1;
                continue;
            }
            if (dtk_json_get_string(e, "bindingSecret") != NULL) {
                r = dtk_kube_delete(NULL, c->kc, &dtk_kube_gvr_secrets,
                                    c->req->namespace,
                                    dtk_json_get_string(e, "bindingSecret"),
                                    NULL);
                if (r < 0 && r != DTK_ENOTFOUND) {
                    return r;
                }
                dtk_error_clear();
            }
            dtk_operator__event(c->op, c->obj, "Normal", "ComponentRemoved",
                                "component '%s' is no longer in the assembly "
                                "and was deleted",
                                name);
        }
        dtk_json_remove_at(comps, k - 1);
    }
    return 0;
}

/* Returns < 0 on error; sets phase and conditions. */
static int converge(dtk_ictx *c, const char *request)
{
    dtk_buf problem = DTK_BUF_INIT(4096);
    const char *blocked_by = NULL;
    int progress = 0, failed = 0, unsupported = 0, error = 0;

    error = remove_stale(c, &progress);
    if (error < 0) {
        goto out;
    }
    for (size_t k = 0; k < c->assembly->component_count; k++) {
        size_t i = c->assembly->order[k];
        const dtk_asm_component *comp = &c->assembly->components[i];
        dtk_json *e = dtk_instance__entry(c, comp->name);
        dtk_json *resolved = NULL;
        dtk_ic_state st;
        int blocked = 0;

        for (size_t d = 0; d < comp->dep_count; d++) {
            const char *dn = c->assembly->components[comp->deps[d]].name;
            const char *ds =
                dtk_json_get_string(dtk_instance__entry(c, dn), "state");
            if (!str_eq(ds, "Ready")) {
                blocked = 1;
                blocked_by = dn;
            }
        }
        if (blocked) {
            char m[300];
            snprintf(m, sizeof(m), "waits for component '%s'", blocked_by);
            if (failed || unsupported) {
                dtk_json_set(e, "state", dtk_json_new_string("Blocked"));
            } else if (dtk_json_get(e, "state") == NULL) {
                dtk_json_set(e, "state", dtk_json_new_string("Pending"));
            }
            dtk_json_set(e, "message", dtk_json_new_string(m));
            continue;
        }
        if (comp->kind == DTK_COMPONENT_CONTAINER) {
            dtk_json_set(e, "kind", dtk_json_new_string("container"));
            dtk_json_set(e, "state", dtk_json_new_string("Staged"));
            dtk_json_set(e, "message",
                         dtk_json_new_string("container components need "
                                             "operator part 2"));
            if (!unsupported) {
                dtk_buf_printf(&problem, "component '%s': container "
                               "components need operator part 2",
                               comp->name);
            }
            unsupported = 1;
            continue;
        }
        error = dtk_expr_resolve(&resolved, comp->spec, c->context);
        if (error < 0) {
            char m[1100];
            snprintf(m, sizeof(m), "%s", dtk_error_last()->message);
            dtk_error_clear();
            error = 0;
            dtk_json_set(e, "kind", dtk_json_new_string("service"));
            dtk_json_set(e, "state", dtk_json_new_string("Failed"));
            dtk_json_set(e, "message", dtk_json_new_string(m));
            st = DTK_IC_FAILED;
        } else {
            st = dtk_instance__converge_service(c, i, resolved, &error);
        }
        dtk_json_free(resolved);
        if (error < 0) {
            goto out;
        }
        e = dtk_instance__entry(c, comp->name);
        if (st == DTK_IC_FAILED) {
            failed = 1;
            if (problem.len == 0) {
                dtk_buf_printf(&problem, "component '%s': %s", comp->name,
                               dtk_json_get_string(e, "message"));
            }
        } else if (st == DTK_IC_PROGRESS) {
            progress = 1;
            if (problem.len == 0) {
                const char *m = dtk_json_get_string(e, "message");
                dtk_buf_printf(&problem, "component '%s': %s%s%s",
                               comp->name,
                               dtk_json_get_string(e, "state"),
                               m && *m ? ": " : "", m ? m : "");
            }
        }
    }
    if (failed) {
        set_phase(c, "Failed");
        cond(c, "Ready", DTK_CONDITION_FALSE, "ComponentFailed",
             dtk_buf_cstr(&problem));
        cond(c, "Reconciling", DTK_CONDITION_FALSE, "Failed",
             "converge stopped at a failed component");
        cond(c, "Stalled", DTK_CONDITION_TRUE, "ComponentFailed",
             dtk_buf_cstr(&problem));
        add_history(c, "Failed");
    } else if (progress) {
        set_phase(c, "Converging");
        cond(c, "Ready", DTK_CONDITION_FALSE, "Converging",
             dtk_buf_cstr(&problem));
        cond(c, "Reconciling", DTK_CONDITION_TRUE, "Converging",
             dtk_buf_cstr(&problem));
        cond(c, "Stalled", DTK_CONDITION_FALSE, "Converging", "");
    } else if (unsupported) {
        set_phase(c, "Staged");
        cond(c, "Ready", DTK_CONDITION_FALSE, "ContainersNotSupported",
             dtk_buf_cstr(&problem));
        cond(c, "Reconciling", DTK_CONDITION_FALSE, "ContainersNotSupported",
             "");
        cond(c, "Stalled", DTK_CONDITION_TRUE, "ContainersNotSupported",
             dtk_buf_cstr(&problem));
    } else {
        error = publish_outputs(c);
        if (error < 0) {
            goto out;
        }
        if (!dtk_conditions_is_true(dtk_json_get(c->obj, "status"),
                                    "Ready")) {
            dtk_operator__event(c->op, c->obj, "Normal", "Ready",
                                "all %zu component(s) are ready",
                                c->assembly->component_count);
        }
        set_phase(c, "Ready");
        cond(c, "Ready", DTK_CONDITION_TRUE, "Ready",
             "all components are ready");
        cond(c, "Reconciling", DTK_CONDITION_FALSE, "Ready", "");
        cond(c, "Stalled", DTK_CONDITION_FALSE, "Ready", "");
        add_history(c, "Ready");
    }
    if (!progress && request != NULL) {
        dtk_json_set(c->status, "lastHandledConvergeRequest",
                     dtk_json_new_string(request));
    }
out:
    dtk_buf_dispose(&problem);
    return error;
}

/* ---- teardown ----------------------------------------------------------- */

static int teardown(dtk_ictx *c)
{
    const char *policy = dtk_json_get_string(dtk_json_get(c->obj, "spec"),
                                             "deletionPolicy");
    const char *abandon = dtk_kutil_annotation(c->obj, DTK_ANN_ABANDON);
    const dtk_json *comps = dtk_json_get(c->status, "components");
    dtk_object_list children = DTK_OBJECT_LIST_INIT;
    int error = 0, pending = 0;

    if (!dtk_kutil_has_finalizer(c->obj, DTK_FINALIZER_TEARDOWN)) {
        return 0;
    }
    if (str_eq(abandon, "true") || str_eq(policy, "Orphan")) {
        dtk_operator__event(c->op, c->obj, "Warning",
                            str_eq(abandon, "true") ? "Abandoned" : "Orphaned",
                            "external resources are left as they are");
        return dtk_kutil_finalizer(&c->obj, c->kc, &dtk_gvr_instances,
                                   DTK_FINALIZER_TEARDOWN, 0);
    }
    set_phase(c, "Deleting");
    dtk_operator__by_index(&children, c->op, DTK_KIND_INSTANCE,
                           c->req->namespace, DTK_INDEX_BY_PARENT,
                           c->req->name);
    if (children.len > 0) {
        char msg[300];
        snprintf(msg, sizeof(msg),
                 "%zu layered instance(s) use this instance (e.g. '%s')",
                 children.len, dtk_object_name(children.items[0]));
        cond(c, "Ready", DTK_CONDITION_FALSE, "ChildrenExist", msg);
        dtk_object_list_dispose(&children);
        c->result->requeue_after_ms = 10000;
        return dtk_instance__flush(c);
    }
    if (dtk_json_len(comps) > 0 && c->target == NULL) {
        resolve_target(c);
    }
    for (size_t k = dtk_json_len(comps); k > 0; k--) {
        dtk_json *e = dtk_json_at(comps, k - 1);
        int r;
        if (!str_eq(dtk_json_get_string(e, "kind"), "service") ||
            dtk_json_get_string(e, "instanceID") == NULL ||
            dtk_json_get(e, "deleted") != NULL) {
            continue;
        }
        if (c->target == NULL) {
            cond(c, "Ready", DTK_CONDITION_FALSE, "TargetNotFound",
                 "the target is gone: cannot tear down; annotate "
                 "dtk.io/abandon: \"true\" to forget the external resources");
            c->result->requeue_after_ms = 30000;
            return dtk_instance__flush(c);
        }
        r = dtk_instance__teardown_service(c, e);
        if (r < 0) {
            char msg[1100];
            snprintf(msg, sizeof(msg), "teardown: %s",
                     dtk_error_last()->message);
            cond(c, "Ready", DTK_CONDITION_FALSE, "TeardownFailed", msg);
            dtk_instance__flush(c);
            dtk_error_set(DTK_ERRCLASS_OSB, "%s", msg);
            return DTK_EUNAVAIL;
        }
        if (r == 0) {
            pending = 1;
            break; /* reverse order: one at a time */
        }
    }
    if (pending) {
        cond(c, "Ready", DTK_CONDITION_FALSE, "Deleting",
             "waiting for the broker");
        return dtk_instance__flush(c);
    }
    error = dtk_instance__flush(c);
    if (error < 0) {
        return error;
    }
    dtk_operator__event(c->op, c->obj, "Normal", "TornDown",
                        "external resources are deleted");
    return dtk_kutil_finalizer(&c->obj, c->kc, &dtk_gvr_instances,
                               DTK_FINALIZER_TEARDOWN, 0);
}

/* ---- reconcile ---------------------------------------------------------- */

static void ictx_dispose(dtk_ictx *c)
{
    dtk_kube_client_free(c->kc);
    dtk_json_free(c->obj);
    dtk_json_free(c->status);
    dtk_json_free(c->target);
    dtk_json_free(c->parent_outputs);
    dtk_assembly_free(c->assembly);
    dtk_json_free(c->params);
    dtk_json_free(c->context);
}

/* Any component with an operation in flight? */
static int in_flight(const dtk_json *status)
{
    const dtk_json *comps = dtk_json_get(status, "components");
    for (size_t i = 0; i < dtk_json_len(comps); i++) {
        const dtk_json *e = dtk_json_at(comps, i);
        const char *st = dtk_json_get_string(e, "state");
        if (dtk_json_get(e, "polling") != NULL ||
            str_eq(st, "OrphanMitigation") || str_eq(st, "Provisioning") ||
            str_eq(st, "Binding") || str_eq(st, "Updating")) {
            return 1;
        }
    }
    return 0;
}

static int plan_has_work(const dtk_json *status)
{
    const dtk_json *plan = dtk_json_get(status, "plan");
    for (size_t i = 0; i < dtk_json_len(plan); i++) {
        if (!str_eq(dtk_json_get_string(dtk_json_at(plan, i), "action"),
                    "none")) {
            return 1;
        }
    }
    return 0;
}

/* Stage failed or waits: Ready False with the first False condition. */
static void staged_not_ready(dtk_ictx *c)
{
    static const char *const order[] = {"TargetReady", "AssemblyResolved",
                                        "ParametersValid", NULL};
    for (size_t i = 0; order[i] != NULL; i++) {
        const dtk_json *k = dtk_conditions_get(c->status, order[i]);
        if (k != NULL && str_eq(dtk_json_get_string(k, "status"), "False")) {
            const char *reason = dtk_json_get_string(k, "reason");
            const char *msg = dtk_json_get_string(k, "message");
            /* Bad input stalls; a missing or unready dependency is
             * awaited (the watch on it brings us back). */
            int stalled = str_eq(reason, "InvalidParameters") ||
                          str_eq(reason, "InvalidAssembly") ||
                          str_eq(reason, "InvalidTargetRef");
            if (dtk_json_get_string(c->status, "phase") == NULL ||
                str_eq(dtk_json_get_string(c->status, "phase"), "Staged")) {
                set_phase(c, "Staged");
            }
            cond(c, "Ready", DTK_CONDITION_FALSE, reason, msg);
            cond(c, "Stalled", stalled ? DTK_CONDITION_TRUE
                                       : DTK_CONDITION_FALSE,
                 reason, stalled ? msg : "");
            cond(c, "Reconciling", stalled ? DTK_CONDITION_FALSE
                                           : DTK_CONDITION_TRUE,
                 reason, stalled ? "" : msg);
            return;
        }
    }
}

int dtk_instance_reconcile(dtk_result *result, const dtk_request *req,
                           void *payload)
{
    dtk_ictx c;
    const char *request, *policy;
    char request_copy[256] = "";
    int error, waiting;

    memset(&c, 0, sizeof(c));
    c.op = payload;
    c.req = req;
    c.result = result;
    error = dtk_kube_client_new(&c.kc, c.op->config);
    if (error < 0) {
        goto out;
    }
    error = dtk_kube_get(&c.obj, c.kc, &dtk_gvr_instances, req->namespace,
                         req->name, NULL);
    if (error == DTK_ENOTFOUND) {
        dtk_error_clear();
        error = 0;
        goto out;
    }
    if (error < 0) {
        goto out;
    }
    c.gen = dtk_kutil_generation(c.obj);
    c.status = dtk_json_get(c.obj, "status")
                   ? dtk_json_copy(dtk_json_get(c.obj, "status"))
                   : dtk_json_new_object();

    if (dtk_kutil_meta(c.obj, "deletionTimestamp") != NULL) {
        c.deleting = 1;
        error = teardown(&c);
        goto out;
    }
    error = dtk_kutil_finalizer(&c.obj, c.kc, &dtk_gvr_instances,
                                DTK_FINALIZER_TEARDOWN, 1);
    if (error < 0) {
        goto out;
    }
    request = dtk_kutil_annotation(c.obj, DTK_ANN_CONVERGE);
    if (request != NULL) {
        snprintf(request_copy, sizeof(request_copy), "%s", request);
    }
    snprintf(c.fail_key, sizeof(c.fail_key), "%lld/%.40s", c.gen,
             request_copy);

    /* Stage. */
    waiting = resolve_target(&c);
    if (!waiting) {
        waiting = resolve_assembly(&c);
        if (waiting < 0) {
            error = waiting;
            goto out;
        }
    }
    if (!waiting) {
        waiting = stage_parameters(&c);
    }
    if (waiting) {
        staged_not_ready(&c);
        dtk_json_set(c.status, "observedGeneration", dtk_json_new_int(c.gen));
        error = dtk_instance__flush(&c);
        goto out;
    }
    build_context(&c);
    build_plan(&c);

    /* Converge, unless Manual and not asked. */
    policy = dtk_json_get_string(dtk_json_get(c.obj, "spec"),
                                 "convergePolicy");
    if (str_eq(policy, "Manual") && !in_flight(c.status) &&
        (request_copy[0] == '\0' ||
         str_eq(request_copy, dtk_json_get_string(
                                  c.status, "lastHandledConvergeRequest"))) &&
        (plan_has_work(c.status) ||
         !str_eq(dtk_json_get_string(c.status, "phase"), "Ready"))) {
        char msg[300];
        size_t changes = 0;
        const dtk_json *plan = dtk_json_get(c.status, "plan");
        for (size_t i = 0; i < dtk_json_len(plan); i++) {
            if (!str_eq(dtk_json_get_string(dtk_json_at(plan, i), "action"),
                        "none")) {
                changes++;
            }
        }
        snprintf(msg, sizeof(msg),
                 "convergePolicy is Manual: %zu change(s) planned; annotate "
                 "%s to converge",
                 changes, DTK_ANN_CONVERGE);
        if (!str_eq(dtk_json_get_string(c.status, "phase"), "Staged")) {
            dtk_operator__event(c.op, c.obj, "Normal", "Staged", "%s", msg);
        }
        set_phase(&c, "Staged");
        cond(&c, "Ready", DTK_CONDITION_FALSE, "Staged", msg);
        cond(&c, "Reconciling", DTK_CONDITION_FALSE, "Staged", "");
        cond(&c, "Stalled", DTK_CONDITION_FALSE, "Staged", "");
    } else {
        error = converge(&c, request_copy[0] ? request_copy : NULL);
        if (error < 0) {
            /* Keep what was learnt (ids, operations) before retrying. */
            int e2;
            char saved[DTK_ERROR_MESSAGE_MAX];
            snprintf(saved, sizeof(saved), "%s", dtk_error_last()->message);
            dtk_json_set(c.status, "observedGeneration",
                         dtk_json_new_int(c.gen));
            e2 = dtk_instance__flush(&c);
            (void)e2;
            dtk_error_set(DTK_ERRCLASS_NONE, "%s", saved);
            goto out;
        }
    }
    dtk_json_set(c.status, "observedGeneration", dtk_json_new_int(c.gen));
    error = dtk_instance__flush(&c);
out:
    ictx_dispose(&c);
    return error;
}

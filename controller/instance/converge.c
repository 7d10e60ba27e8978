/* Service components: the OSB state machine of one component.
 *
 * The state lives in the component's status entry, so a restarted operator
 * continues where the last one stopped:
 *   instanceID, bindingID  derived from the instance UID and written to
 *                          status BEFORE the first request (a crash then
 *                          re-sends the same PUT: never a duplicate);
 *   state                  Provisioning, Provisioned, Updating, Binding,
 *                          Ready, Failed, OrphanMitigation, Deleting;
 *   operation, opType      the async operation being polled (polling=true);
 *   polls, opStartedAt     for the capped poll backoff and the deadline;
 *   planID, parametersHash what the broker has (an update is due when the
 *                          wanted plan or parameters differ);
 *   bindRequested, bound   whether a binding may exist / does exist;
 *   failedFor              "<generation>/<converge request>" of a terminal
 *                          failure: nothing is retried until that changes.
 * Every decision comes from dtk_osb_classify: DONE, POLL (requeue after
 * Retry-After or a backoff capped at 60 s), FAILED (terminal), ORPHAN
 * (deprovision/unbind without identity until 200/410, then Failed), RETRY
 * (the worker's rate-limited backoff), GONE.
 * Credentials go only into the component's Secret and the in-memory
 * expression context; never into status, Events or logs.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "controller/common/kutil.h"
#include "controller/instance/instance_int.h"
#include "controller/instance/stage.h"
#include "controller/target/target.h"
#include "pkg/base/alloc.h"
#include "pkg/base/digest.h"
#include "pkg/base/error.h"

#define MAX_POLL_S     60
#define MAX_POLL_TOTAL 3600 /* platform limit on one async operation */

void dtk_instance__cap_requeue(dtk_ictx *c, int64_t delay_ms)
{
    if (delay_ms <= 0) {
        delay_ms = 1000;
    }
    if (delay_ms > MAX_POLL_S * 1000) {
        delay_ms = MAX_POLL_S * 1000;
    }
    if (c->result->requeue_after_ms == 0 ||
        delay_ms < c->result->requeue_after_ms) {
        c->result->requeue_after_ms = delay_ms;
    }
}

static const char *get_s(const dtk_json *o, const char *k)
{
    return dtk_json_get_string(o, k);
}

static void set_s(dtk_json *o, const char *k, const char *v)
{
    if (v == NULL) {
        dtk_json_remove(o, k);
    } else {
        dtk_json_set(o, k, dtk_json_new_string(v));
    }
}

static int get_b(const dtk_json *o, const char *k)
{
    const dtk_json *v = dtk_json_get(o, k);
    return v != NULL && v->type == DTK_JSON_BOOL && v->u.boolean;
}

static void set_b(dtk_json *o, const char *k, int v)
{
    if (v) {
        dtk_json_set(o, k, dtk_json_new_bool(1));
    } else {
        dtk_json_remove(o, k);
    }
}

static int64_t get_i(const dtk_json *o, const char *k)
{
    int64_t v = 0;
    dtk_json_int(&v, dtk_json_get(o, k));
    return v;
}

static int str_eq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static void set_state(dtk_json *e, const char *state, const char *message)
{
    char *copy = dtk_strdup(message ? message : "");
    set_s(e, "state", state);
    set_s(e, "message", copy);
    dtk_free(copy);
}

/* The hash of what the broker should have: plan and parameters. */
static void wanted_hash(char out[DTK_DIGEST_SHA256_HEX_SIZE],
                        const char *plan_id, const dtk_json *params)
{
    dtk_json *v = dtk_json_new_object();
    dtk_buf b = DTK_BUF_INIT(4 * 1024 * 1024);

    dtk_json_set(v, "plan", dtk_json_new_string(plan_id ? plan_id : ""));
    dtk_json_set(v, "parameters",
                 params ? dtk_json_copy(params) : dtk_json_new_object());
    dtk_json_sort_keys(v);
    if (dtk_json_write(&b, v) < 0 ||
        dtk_digest_sha256_hex(out, b.ptr ? b.ptr : "", b.len) < 0) {
        out[0] = '\0';
    }
    out[16] = '\0';
    dtk_json_free(v);
    dtk_buf_dispose(&b);
}

typedef struct osb_call {
    dtk_osb_client *client;
    dtk_osb_context ctx;
    dtk_osb_request req;
    dtk_osb_reply reply;
} osb_call;

static int call_init(osb_call *call, dtk_ictx *c, const dtk_json *e)
{
    const char *broker = get_s(e, "broker");
    dtk_osb_request r = DTK_OSB_REQUEST_INIT;
    dtk_osb_reply rep = DTK_OSB_REPLY_INIT;
    int error;

    memset(call, 0, sizeof(*call));
    call->req = r;
    call->reply = rep;
    error = dtk_target_osb_client(&call->client, c->op, c->target, broker);
    if (error < 0) {
        return error;
    }
    call->ctx.clusterid = c->op->clusterid;
    call->ctx.namespace = c->req->namespace;
    call->ctx.instance_name = c->req->name;
    call->req.instance_id = get_s(e, "instanceID");
    call->req.binding_id = get_s(e, "bindingID");
    call->req.service_id = get_s(e, "serviceID");
    call->req.plan_id = get_s(e, "planID");
    call->req.context = &call->ctx;
    return 0;
}

static void call_dispose(osb_call *call)
{
    dtk_osb_reply_dispose(&call->reply);
    dtk_osb_client_free(call->client);
}

static const char *describe(char *buf, size_t size, const osb_call *call)
{
    return dtk_osb_describe(buf, size, &call->reply);
}

static dtk_osb_op poll_op(const char *op_type)
{
    if (str_eq(op_type, "update")) {
        return DTK_OSB_OP_UPDATE;
    } else if (str_eq(op_type, "deprovision")) {
        return DTK_OSB_OP_DEPROVISION;
    } else if (str_eq(op_type, "bind")) {
        return DTK_OSB_OP_BIND;
    } else if (str_eq(op_type, "unbind")) {
        return DTK_OSB_OP_UNBIND;
    }
    return DTK_OSB_OP_PROVISION;
}

/* Starts polling after a 202: remembers the operation. */
static void begin_poll(dtk_ictx *c, dtk_json *e, const char *op_type,
                       const osb_call *call)
{
    char now[32];
    set_b(e, "polling", 1);
    set_s(e, "opType", op_type);
    set_s(e, "operation", call->reply.operation);
    dtk_json_set(e, "polls", dtk_json_new_int(0));
    snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
    set_s(e, "opStartedAt", now);
    dtk_instance__cap_requeue(
        c, (int64_t)(call->reply.decision.delay_s > 0
                         ? call->reply.decision.delay_s
                         : 1) * 1000);
}

static void end_poll(dtk_json *e)
{
    dtk_json_remove(e, "polling");
    dtk_json_remove(e, "opType");
    dtk_json_remove(e, "operation");
    dtk_json_remove(e, "polls");
    dtk_json_remove(e, "opStartedAt");
}

int64_t dtk_instance_poll_delay_s(int64_t polls, long retry_after_s)
{
    int64_t delay_s;
    if (retry_after_s >= 0) {
        delay_s = retry_after_s > 0 ? retry_after_s : 1;
    } else if (polls < 1) {
        delay_s = 1;
    } else {
        delay_s = polls < 7 ? ((int64_t)1 << (polls - 1)) : MAX_POLL_S;
    }
    return delay_s > MAX_POLL_S ? MAX_POLL_S : delay_s;
}

/* A poll that is still in progress: see dtk_instance_poll_delay_s. */
static void next_poll(dtk_ictx *c, dtk_json *e, const osb_call *call)
{
    int64_t polls = get_i(e, "polls") + 1;

    dtk_json_set(e, "polls", dtk_json_new_int(polls));
    dtk_instance__cap_requeue(
        c, dtk_instance_poll_delay_s(polls, call->reply.retry_after_s) *
               1000);
}

dtk_json *dtk_instance_secret_data(const dtk_json *creds, const char *type,
                                   const char *provider)
{
    dtk_json *data = dtk_json_new_object();

    for (size_t i = 0; creds && creds->type == DTK_JSON_OBJECT &&
                       i < creds->u.object.len; i++) {
        const dtk_json *v = creds->u.object.values[i];
        if (v->type == DTK_JSON_STRING) {
            dtk_json_set(data, creds->u.object.keys[i], dtk_json_copy(v));
        } else {
            char *text = dtk_json_to_string(v);
            dtk_json_set(data, creds->u.object.keys[i],
                         dtk_json_new_string(text ? text : ""));
            dtk_free(text);
        }
    }
    if (dtk_json_get(data, "type") == NULL) {
        set_s(data, "type", type ? type : "service");
    }
    if (dtk_json_get(data, "provider") == NULL && provider != NULL) {
        set_s(data, "provider", provider);
    }
    return data;
}

static void fail(dtk_ictx *c, dtk_json *e, const char *reason,
                 const char *msg)
{
    /* msg may point into e (its current message): copy it first. */
    char *copy = dtk_strdup(msg ? msg : "failed");

    set_state(e, "Failed", copy);
    set_s(e, "failedFor", c->fail_key);
    dtk_operator__event(c->op, c->obj, "Warning", reason, "component '%s': %s",
                        get_s(e, "name"), copy);
    dtk_free(copy);
}

/* Writes the component Secret from creds; adds them to the context. */
static int write_binding_secret(dtk_ictx *c, dtk_json *e,
                                const dtk_json *creds, const char *klass)
{
    dtk_json *data = dtk_instance_secret_data(creds, klass,
                                              get_s(e, "broker"));
    dtk_json *labels = dtk_json_new_object();
    dtk_buf name = DTK_BUF_INIT(512);
    int error;

    set_s(labels, "dtk.io/instance", c->req->name);
    set_s(labels, "dtk.io/component", get_s(e, "name"));
    dtk_buf_printf(&name, "%s-%s", c->req->name, get_s(e, "name"));
    error = dtk_kutil_apply_secret(c->kc, c->req->namespace,
                                   dtk_buf_cstr(&name),
                                   "servicebinding.io/dtk", data, c->obj,
                                   labels);
    if (error == 0) {
        set_s(e, "bindingSecret", dtk_buf_cstr(&name));
    }
    dtk_json_free(data);
    dtk_json_free(labels);
    dtk_buf_dispose(&name);
    return error;
}

static void add_context(dtk_ictx *c, const dtk_json *e, const dtk_json *creds)
{
    static const char *const path[] = {"components", NULL};
    dtk_json *comps = dtk_json_ensure_object(c->context, path);
    dtk_json *me = dtk_json_new_object();
    dtk_json *outputs = dtk_json_new_object();

    dtk_json_set(me, "credentials",
                 creds ? dtk_json_copy(creds) : dtk_json_new_object());
    set_s(outputs, "instanceID", get_s(e, "instanceID"));
    if (get_s(e, "dashboardURL") != NULL) {
        set_s(outputs, "dashboardURL", get_s(e, "dashboardURL"));
    }
    dtk_json_set(me, "outputs", outputs);
    dtk_json_set(comps, get_s(e, "name"), me);
}

/* Reads the credentials back from the component Secret (data decoded). */
static int load_secret_creds(dtk_json **out, dtk_ictx *c, const char *name)
{
    dtk_json *secret = NULL, *creds = NULL;
    const dtk_json *data;
    dtk_buf v = DTK_BUF_INIT(4 * 1024 * 1024);
    int error;

    error = dtk_kube_get(&secret, c->kc, &dtk_kube_gvr_secrets,
                         c->req->namespace, name, NULL);
    if (error < 0) {
        goto out;
    }
    creds = dtk_json_new_object();
    data = dtk_json_get(secret, "data");
    for (size_t i = 0; data && data->type == DTK_JSON_OBJECT &&
                       i < data->u.object.len; i++) {
        dtk_buf_reset(&v);
        if (dtk_kutil_secret_value(&v, secret, data->u.object.keys[i]) ==
            0) {
            dtk_json_set(creds, data->u.object.keys[i],
                         dtk_json_new_stringn(v.ptr ? v.ptr : "", v.len));
        }
    }
    dtk_error_clear();
    *out = creds;
    creds = NULL;
out:
    if (v.ptr != NULL) {
        memset(v.ptr, 0, v.cap);
    }
    dtk_buf_dispose(&v);
    dtk_json_free(secret);
    dtk_json_free(creds);
    return error;
}

/* Finishes a bind: the credentials from the reply (sync), else fetched. */
static int finish_bind(dtk_ictx *c, dtk_json *e, osb_call *call,
                       const char *klass, int fetch)
{
    const dtk_json *creds;
    dtk_osb_reply fetched = DTK_OSB_REPLY_INIT;
    int error = 0;

    if (fetch) {
        error = dtk_osb_fetch(&fetched, call->client, &call->req);
        if (error < 0 || fetched.decision.action != DTK_OSB_DONE) {
            if (error == 0) {
                dtk_error_set(DTK_ERRCLASS_OSB,
                              "bind: the binding could not be fetched");
                error = DTK_EUNAVAIL;
            }
            goto out;
        }
        creds = dtk_osb_reply_credentials(&fetched);
    } else {
        creds = dtk_osb_reply_credentials(&call->reply);
    }
    error = write_binding_secret(c, e, creds, klass);
    if (error < 0) {
        goto out;
    }
    set_b(e, "bound", 1);
    add_context(c, e, creds);
    dtk_operator__event(c->op, c->obj, "Normal", "Bound",
                        "component '%s': bound; credentials in secret '%s'",
                        get_s(e, "name"), get_s(e, "bindingSecret"));
out:
    dtk_osb_reply_dispose(&fetched);
    return error;
}

/* Orphan mitigation: deprovision (or unbind) without identity until the
 * broker answers 200 or 410. Returns 1 when done, 0 when pending. */
static int mitigate(dtk_ictx *c, dtk_json *e, osb_call *call, int *error)
{
    int binding = str_eq(get_s(e, "orphan"), "binding");
    char msg[512];

    *error = binding ? dtk_osb_unbind(&call->reply, call->client, &call->req)
                     : dtk_osb_deprovision(&call->reply, call->client,
                                           &call->req);
    switch (call->reply.decision.action) {
    case DTK_OSB_DONE:
    case DTK_OSB_GONE:
        *error = 0;
        dtk_json_remove(e, "orphan");
        return 1;
    case DTK_OSB_POLL:
        *error = 0;
        begin_poll(c, e, binding ? "unbind" : "deprovision", call);
        return 0;
    default:
        /* Keep trying with the worker's backoff; never drop the record. */
        if (*error == 0 || *error == DTK_EINVALID) {
            dtk_error_set(DTK_ERRCLASS_OSB, "orphan mitigation: %s",
                          describe(msg, sizeof(msg), call));
            *error = DTK_EUNAVAIL;
        }
        return 0;
    }
}

static dtk_ic_state poll(dtk_ictx *c, dtk_json *e, osb_call *call,
                         const char *klass, int *error)
{
    const char *op_type = get_s(e, "opType");
    dtk_osb_op polled = poll_op(op_type);
    char *operation = get_s(e, "operation")
                          ? dtk_strdup(get_s(e, "operation"))
                          : NULL;
    long long started = 0;
    dtk_osb_decision d;
    char msg[512];

    sscanf(get_s(e, "opStartedAt") ? get_s(e, "opStartedAt") : "0", "%lld",
           &started);
    call->req.polled = polled;
    call->req.operation = operation;
    *error = dtk_osb_last_operation(&call->reply, call->client, &call->req);
    d = call->reply.decision;
    if (d.action == DTK_OSB_POLL && started > 0 &&
        time(NULL) - started > MAX_POLL_TOTAL) {
        d = dtk_osb_classify_poll_expired(polled);
    }
    dtk_free(operation);
    call->req.operation = NULL;
    describe(msg, sizeof(msg), call);
    switch (d.action) {
    case DTK_OSB_POLL:
        *error = 0;
        next_poll(c, e, call);
        return DTK_IC_PROGRESS;
    case DTK_OSB_DONE:
        *error = 0;
        end_poll(e);
        if (polled == DTK_OSB_OP_BIND) {
            *error = finish_bind(c, e, call, klass, 1);
            if (*error < 0) {
                return DTK_IC_PROGRESS;
            }
            set_state(e, "Ready", "");
            return DTK_IC_READY;
        }
        if (polled == DTK_OSB_OP_DEPROVISION || polled == DTK_OSB_OP_UNBIND) {
            return DTK_IC_READY; /* orphan mitigation finished */
        }
        set_s(e, "parametersHash", get_s(e, "wantedHash"));
        dtk_operator__event(c->op, c->obj, "Normal",
                            polled == DTK_OSB_OP_UPDATE ? "Updated"
                                                        : "Provisioned",
                            "component '%s': %s succeeded", get_s(e, "name"),
                            polled == DTK_OSB_OP_UPDATE ? "update"
                                                        : "provision");
        set_state(e, "Provisioned", "");
        return DTK_IC_READY;
    case DTK_OSB_ORPHAN:
        *error = 0;
        end_poll(e);
        set_s(e, "orphan", polled == DTK_OSB_OP_BIND ? "binding"
                                                     : "instance");
        set_state(e, "OrphanMitigation", msg);
        dtk_operator__event(c->op, c->obj, "Warning", "OrphanMitigation",
                            "component '%s': %s; deleting what the broker "
                            "may have created",
                            get_s(e, "name"), msg);
        dtk_instance__cap_requeue(c, 1000);
        return DTK_IC_PROGRESS;
    case DTK_OSB_GONE:
    case DTK_OSB_FAILED:
        *error = 0;
        end_poll(e);
        fail(c, e, "OperationFailed", msg);
        return DTK_IC_FAILED;
    default: /* RETRY: poll again with the worker's backoff */
        if (*error == 0) {
            dtk_error_set(DTK_ERRCLASS_OSB, "%s", msg);
            *error = DTK_EUNAVAIL;
        }
        return DTK_IC_PROGRESS;
    }
}

dtk_ic_state dtk_instance__converge_service(dtk_ictx *c, size_t index,
                                            const dtk_json *svc, int *error)
{
    const dtk_asm_component *comp = &c->assembly->components[index];
    dtk_json *e = dtk_instance__entry(c, comp->name);
    const char *klass = get_s(svc, "class");
    const char *plan = get_s(svc, "plan");
    const dtk_json *params = dtk_json_get(svc, "parameters");
    const dtk_json *bindv = dtk_json_get(svc, "bind");
    dtk_target_offering off;
    osb_call call;
    char hash[DTK_DIGEST_SHA256_HEX_SIZE];
    char ids[40], msg[512];
    int want_bind;
    dtk_ic_state st = DTK_IC_PROGRESS;

    memset(&call, 0, sizeof(call));
    *error = 0;
    set_s(e, "kind", "service");
    if (str_eq(get_s(e, "failedFor"), c->fail_key)) {
        return DTK_IC_FAILED; /* terminal until the spec changes */
    }
    dtk_json_remove(e, "failedFor");
    if (dtk_target_find_offering(&off, dtk_json_get(c->target, "status"),
                                 get_s(svc, "broker"), klass, plan) < 0) {
        set_state(e, "Failed", dtk_error_last()->message);
        dtk_error_clear();
        return DTK_IC_FAILED;
    }
    want_bind = bindv != NULL && bindv->type == DTK_JSON_BOOL
                    ? bindv->u.boolean
                    : off.bindable;
    if (want_bind && !off.bindable) {
        set_state(e, "Failed", "bind: true, but the plan is not bindable");
        return DTK_IC_FAILED;
    }
    wanted_hash(hash, off.plan_id, params);
    set_s(e, "wantedHash", hash);

    /* IDs first, in status, before any request. */
    if (get_s(e, "instanceID") == NULL) {
        dtk_stage_external_id(ids, dtk_kutil_meta(c->obj, "uid"), comp->name,
                              "instance");
        set_s(e, "instanceID", ids);
        dtk_stage_external_id(ids, dtk_kutil_meta(c->obj, "uid"), comp->name,
                              "binding");
        set_s(e, "bindingID", ids);
        set_s(e, "broker", off.broker);
        set_s(e, "serviceID", off.service_id);
        set_s(e, "planID", off.plan_id);
        set_state(e, "Provisioning", "");
        *error = dtk_instance__flush(c);
        if (*error < 0) {
            return DTK_IC_PROGRESS;
        }
        dtk_operator__event(c->op, c->obj, "Normal", "Provisioning",
                            "component '%s': provisioning %s/%s from broker "
                            "'%s'",
                            comp->name, klass, plan, off.broker);
        e = dtk_instance__entry(c, comp->name);
    }
    *error = call_init(&call, c, e);
    if (*error < 0) {
        goto out;
    }
    call.req.parameters = params;

    if (str_eq(get_s(e, "state"), "OrphanMitigation")) {
        if (get_b(e, "polling")) {
            st = poll(c, e, &call, klass, error);
            if (st != DTK_IC_READY) {
                goto out;
            }
        } else if (!mitigate(c, e, &call, error)) {
            st = DTK_IC_PROGRESS;
            goto out;
        }
        dtk_json_remove(e, "orphan");
        if (get_b(e, "bindRequested") && !get_b(e, "bound")) {
            dtk_json_remove(e, "bindRequested");
        }
        fail(c, e, "OrphanMitigated",
             get_s(e, "message") ? get_s(e, "message") : "failed");
        st = DTK_IC_FAILED;
        goto out;
    }
    if (get_b(e, "polling")) {
        st = poll(c, e, &call, klass, error);
        if (st != DTK_IC_READY) {
            goto out;
        }
    }

    if (str_eq(get_s(e, "state"), "Provisioning")) {
        *error = dtk_osb_provision(&call.reply, call.client, &call.req);
        describe(msg, sizeof(msg), &call);
        switch (call.reply.decision.action) {
        case DTK_OSB_DONE:
            *error = 0;
            set_s(e, "parametersHash", hash);
            set_state(e, "Provisioned", "");
            dtk_operator__event(c->op, c->obj, "Normal", "Provisioned",
                                "component '%s': provisioned", comp->name);
            break;
        case DTK_OSB_POLL:
            *error = 0;
            begin_poll(c, e, "provision", &call);
            set_state(e, "Provisioning", "waiting for the broker");
            st = DTK_IC_PROGRESS;
            goto out;
        case DTK_OSB_ORPHAN:
            *error = 0;
            set_s(e, "orphan", "instance");
            set_state(e, "OrphanMitigation", msg);
            dtk_operator__event(c->op, c->obj, "Warning", "ProvisionFailed",
                                "component '%s': %s; deprovisioning the "
                                "instance the broker may have created",
                                comp->name, msg);
            dtk_instance__cap_requeue(c, 1000);
            st = DTK_IC_PROGRESS;
            goto out;
        case DTK_OSB_FAILED:
        case DTK_OSB_GONE:
            *error = 0;
            fail(c, e, "ProvisionFailed", msg);
            st = DTK_IC_FAILED;
            goto out;
        default:
            set_state(e, "Provisioning", msg);
            st = DTK_IC_PROGRESS;
            goto out;
        }
    }

    /* Updates: plan or parameters changed. */
    if (!str_eq(get_s(e, "parametersHash"), hash)) {
        char *prev_plan = dtk_strdup(get_s(e, "planID") ? get_s(e, "planID")
                                                        : "");
        call.req.previous_plan_id = prev_plan;
        call.req.plan_id = str_eq(prev_plan, off.plan_id) ? NULL
                                                           : off.plan_id;
        *error = dtk_osb_update(&call.reply, call.client, &call.req);
        describe(msg, sizeof(msg), &call);
        call.req.previous_plan_id = NULL;
        dtk_free(prev_plan);
        switch (call.reply.decision.action) {
        case DTK_OSB_DONE:
            *error = 0;
            set_s(e, "planID", off.plan_id);
            set_s(e, "parametersHash", hash);
            set_state(e, "Provisioned", "");
            dtk_operator__event(c->op, c->obj, "Normal", "Updated",
                                "component '%s': updated", comp->name);
            break;
        case DTK_OSB_POLL:
            *error = 0;
            set_s(e, "planID", off.plan_id);
            begin_poll(c, e, "update", &call);
            set_state(e, "Updating", "waiting for the broker");
            st = DTK_IC_PROGRESS;
            goto out;
        case DTK_OSB_RETRY:
            set_state(e, "Updating", msg);
            st = DTK_IC_PROGRESS;
            goto out;
        default:
            *error = 0;
            fail(c, e, "UpdateFailed", msg);
            st = DTK_IC_FAILED;
            goto out;
        }
        call.req.plan_id = get_s(e, "planID");
    }

    /* Binding. */
    if (want_bind && get_b(e, "bound")) {
        dtk_json *creds = NULL;
        if (load_secret_creds(&creds, c, get_s(e, "bindingSecret")
                                             ? get_s(e, "bindingSecret")
                                             : "-") == 0) {
            add_context(c, e, creds);
            dtk_json_free(creds);
        } else {
            /* The Secret is gone: bind again (same binding id). */
            dtk_error_clear();
            set_b(e, "bound", 0);
        }
    }
    if (want_bind && !get_b(e, "bound")) {
        if (!get_b(e, "bindRequested")) {
            set_b(e, "bindRequested", 1);
            set_state(e, "Binding", "");
            *error = dtk_instance__flush(c);
            if (*error < 0) {
                goto out;
            }
            e = dtk_instance__entry(c, comp->name);
        }
        call.req.parameters = NULL;
        *error = dtk_osb_bind(&call.reply, call.client, &call.req);
        describe(msg, sizeof(msg), &call);
        switch (call.reply.decision.action) {
        case DTK_OSB_DONE:
            *error = finish_bind(c, e, &call, klass, 0);
            if (*error < 0) {
                goto out;
            }
            break;
        case DTK_OSB_POLL:
            *error = 0;
            begin_poll(c, e, "bind", &call);
            set_state(e, "Binding", "waiting for the broker");
            st = DTK_IC_PROGRESS;
            goto out;
        case DTK_OSB_ORPHAN:
            *error = 0;
            set_s(e, "orphan", "binding");
            set_state(e, "OrphanMitigation", msg);
            dtk_operator__event(c->op, c->obj, "Warning", "BindFailed",
                                "component '%s': %s; unbinding", comp->name,
                                msg);
            dtk_instance__cap_requeue(c, 1000);
            st = DTK_IC_PROGRESS;
            goto out;
        case DTK_OSB_RETRY:
            set_state(e, "Binding", msg);
            st = DTK_IC_PROGRESS;
            goto out;
        default:
            *error = 0;
            fail(c, e, "BindFailed", msg);
            st = DTK_IC_FAILED;
            goto out;
        }
    } else if (!want_bind) {
        add_context(c, e, NULL);
    }
    set_state(e, "Ready", "");
    st = DTK_IC_READY;
out:
    call_dispose(&call);
    return st;
}

int dtk_instance__teardown_service(dtk_ictx *c, dtk_json *e)
{
    osb_call call;
    char msg[512];
    int error = 0;

    memset(&call, 0, sizeof(call));
    if (get_s(e, "instanceID") == NULL || get_b(e, "deleted")) {
        return 1;
    }
    error = call_init(&call, c, e);
    if (error < 0) {
        goto out;
    }
    if (get_b(e, "polling")) {
        dtk_osb_op polled = poll_op(get_s(e, "opType"));
        dtk_osb_decision d;
        call.req.polled = polled;
        call.req.operation = get_s(e, "operation");
        error = dtk_osb_last_operation(&call.reply, call.client, &call.req);
        call.req.operation = NULL;
        d = call.reply.decision;
        if (d.action == DTK_OSB_POLL) {
            error = 0;
            next_poll(c, e, &call);
            goto out;
        }
        end_poll(e);
        error = 0;
        if (polled == DTK_OSB_OP_UNBIND &&
            (d.action == DTK_OSB_DONE || d.action == DTK_OSB_GONE)) {
            set_b(e, "bound", 0);
            set_b(e, "bindRequested", 0);
        } else if (polled == DTK_OSB_OP_DEPROVISION &&
                   (d.action == DTK_OSB_DONE || d.action == DTK_OSB_GONE)) {
            set_b(e, "deleted", 1);
            set_state(e, "Deleted", "");
            dtk_operator__event(c->op, c->obj, "Normal", "Deprovisioned",
                                "component '%s': deprovisioned",
                                get_s(e, "name"));
            error = 1;
            goto out;
        }
        /* Anything else (a provision still finishing, a failed delete):
         * send the delete again below. */
    }
    if (get_b(e, "bindRequested") || get_b(e, "bound")) {
        set_state(e, "Deleting", "unbinding");
        error = dtk_osb_unbind(&call.reply, call.client, &call.req);
        switch (call.reply.decision.action) {
        case DTK_OSB_DONE:
        case DTK_OSB_GONE:
            error = 0;
            set_b(e, "bound", 0);
            set_b(e, "bindRequested", 0);
            dtk_operator__event(c->op, c->obj, "Normal", "Unbound",
                                "component '%s': unbound", get_s(e, "name"));
            break;
        case DTK_OSB_POLL:
            error = 0;
            begin_poll(c, e, "unbind", &call);
            goto out;
        default:
            /* Teardown keeps trying (with backoff) until 200 or 410. */
            dtk_error_set(DTK_ERRCLASS_OSB, "%s",
                          describe(msg, sizeof(msg), &call));
            error = DTK_EUNAVAIL;
            set_state(e, "Deleting", dtk_error_last()->message);
            goto out;
        }
        dtk_osb_reply_dispose(&call.reply);
    }
    set_state(e, "Deleting", "deprovisioning");
    error = dtk_osb_deprovision(&call.reply, call.client, &call.req);
    switch (call.reply.decision.action) {
    case DTK_OSB_DONE:
    case DTK_OSB_GONE:
        error = 1;
        set_b(e, "deleted", 1);
        set_state(e, "Deleted", "");
        dtk_operator__event(c->op, c->obj, "Normal", "Deprovisioned",
                            "component '%s': deprovisioned",
                            get_s(e, "name"));
        break;
    case DTK_OSB_POLL:
        error = 0;
        begin_poll(c, e, "deprovision", &call);
        break;
    default:
        dtk_error_set(DTK_ERRCLASS_OSB, "%s",
                      describe(msg, sizeof(msg), &call));
        error = DTK_EUNAVAIL;
        set_state(e, "Deleting", dtk_error_last()->message);
        break;
    }
out:
    call_dispose(&call);
    return error;
}

/* Target helpers and the Target reconciler.
 *
 * The reconciler resolves each broker's credentials (username/password or
 * token from authSecretRef), fetches its catalog through pkg/osb, keeps the
 * allowed services and publishes status.catalog with the conditions
 * BrokersReady and Ready (DockerReady stays Unknown: containers are the
 * operator's part 2). A failing broker gives Ready=False with the broker's
 * name and the failure (never a credential). Catalogs are fetched again
 * every catalogRefreshSeconds (requeue_after), and sooner (30 s) while a
 * broker fails. A Target in use by instances keeps its finalizer: its
 * deletion waits, with the condition InUse naming the instances.
 */
#include "controller/target/target.h"

#include <stdio.h>
#include <string.h>

#include "controller/common/conditions.h"
#include "controller/common/kutil.h"
#include "controller/operator_int.h"
#include "pkg/base/alloc.h"
#include "pkg/base/b64.h"
#include "pkg/base/clock.h"
#include "pkg/base/error.h"

dtk_json *dtk_target_catalog_entry(const char *broker,
                                   const dtk_osb_catalog *catalog,
                                   const dtk_json *allowed)
{
    dtk_json *entry = dtk_json_new_object();
    dtk_json *services = dtk_json_new_array();

    dtk_json_set(entry, "broker", dtk_json_new_string(broker));
    for (size_t i = 0; catalog && i < catalog->service_count; i++) {
        const dtk_osb_service *s = &catalog->services[i];
        dtk_json *js, *plans;
        int ok = allowed == NULL;
        for (size_t k = 0; !ok && k < dtk_json_len(allowed); k++) {
            const char *name = dtk_json_string(dtk_json_at(allowed, k));
            ok = name != NULL && strcmp(name, s->name) == 0;
        }
        if (!ok) {
            continue;
        }
        js = dtk_json_new_object();
        dtk_json_set(js, "name", dtk_json_new_string(s->name));
        dtk_json_set(js, "id", dtk_json_new_string(s->id));
        if (s->description != NULL) {
            dtk_json_set(js, "description",
                         dtk_json_new_string(s->description));
        }
        dtk_json_set(js, "bindable", dtk_json_new_bool(s->bindable));
        dtk_json_set(js, "planUpdateable",
                     dtk_json_new_bool(s->plan_updateable));
        plans = dtk_json_new_array();
        for (size_t p = 0; p < s->plan_count; p++) {
            const dtk_osb_plan *pl = &s->plans[p];
            dtk_json *jp = dtk_json_new_object();
            dtk_json_set(jp, "name", dtk_json_new_string(pl->name));
            dtk_json_set(jp, "id", dtk_json_new_string(pl->id));
            if (pl->description != NULL) {
                dtk_json_set(jp, "description",
                             dtk_json_new_string(pl->description));
            }
            dtk_json_set(jp, "free", dtk_json_new_bool(pl->free));
            dtk_json_set(jp, "bindable", dtk_json_new_bool(pl->bindable));
            dtk_json_append(plans, jp);
        }
        dtk_json_set(js, "plans", plans);
        dtk_json_append(services, js);
    }
    dtk_json_set(entry, "services", services);
    return entry;
}

static int json_bool(const dtk_json *v)
{
    return v != NULL && v->type == DTK_JSON_BOOL && v->u.boolean;
}

static int str_eq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

int dtk_target_find_offering(dtk_target_offering *out,
                             const dtk_json *target_status,
                             const char *broker, const char *klass,
                             const char *plan)
{
    const dtk_json *catalog = dtk_json_get(target_status, "catalog");
    int broker_seen = 0;

    for (size_t b = 0; b < dtk_json_len(catalog); b++) {
        const dtk_json *entry = dtk_json_at(catalog, b);
        const char *bname = dtk_json_get_string(entry, "broker");
        const dtk_json *services = dtk_json_get(entry, "services");
        if (broker != NULL && !str_eq(broker, bname)) {
            continue;
        }
        broker_seen = 1;
        for (size_t s = 0; s < dtk_json_len(services); s++) {
            const dtk_json *svc = dtk_json_at(services, s);
            const dtk_json *plans = dtk_json_get(svc, "plans");
            if (!str_eq(klass, dtk_json_get_string(svc, "name")) &&
                !str_eq(klass, dtk_json_get_string(svc, "id"))) {
                continue;
            }
            for (size_t p = 0; p < dtk_json_len(plans); p++) {
                const dtk_json *pl = dtk_json_at(plans, p);
                if (!str_eq(plan, dtk_json_get_string(pl, "name")) &&
                    !str_eq(plan, dtk_json_get_string(pl, "id"))) {
                    continue;
                }
                out->broker = bname;
                out->service_id = dtk_json_get_string(svc, "id");
                out->plan_id = dtk_json_get_string(pl, "id");
                out->bindable = json_bool(dtk_json_get(pl, "bindable"));
                out->plan_updateable =
                    json_bool(dtk_json_get(svc, "planUpdateable"));
                return 0;
            }
            dtk_error_set(DTK_ERRCLASS_INVALID,
                          "plan '%s' of service class '%s' does not exist",
                          plan ? plan : "", klass ? klass : "");
            return DTK_ENOTFOUND;
        }
    }
    if (broker != NULL && !broker_seen) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "broker '%s' has no catalog in the target", broker);
    } else if (broker != NULL) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "service class '%s' is not offered by broker '%s'",
                      klass ? klass : "", broker);
    } else {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "service class '%s' is not offered by any broker of "
                      "the target",
                      klass ? klass : "");
    }
    return DTK_ENOTFOUND;
}

static const dtk_json *find_broker(const dtk_json *target, const char *name)
{
    static const char *const path[] = {"spec", "brokers", NULL};
    const dtk_json *brokers = dtk_json_path(target, path);

    for (size_t i = 0; i < dtk_json_len(brokers); i++) {
        const dtk_json *b = dtk_json_at(brokers, i);
        if (str_eq(name, dtk_json_get_string(b, "name"))) {
            return b;
        }
    }
    return NULL;
}

static void wipe(dtk_buf *b)
{
    if (b->ptr != NULL) {
        memset(b->ptr, 0, b->cap);
    }
}

int dtk_target_osb_client(dtk_osb_client **out, struct dtk_operator *op,
                          const dtk_json *target, const char *broker)
{
    const dtk_json *b = find_broker(target, broker);
    const char *ns = dtk_kutil_meta(target, "namespace");
    const char *secret_name;
    const char *ca_b64;
    dtk_object *secret = NULL;
    dtk_osb_options o = DTK_OSB_OPTIONS_INIT;
    dtk_buf user = DTK_BUF_INIT(4096), pass = DTK_BUF_INIT(4096);
    dtk_buf token = DTK_BUF_INIT(64 * 1024), ca = DTK_BUF_INIT(1024 * 1024);
    int error = 0;

    if (b == NULL) {
        dtk_error_set(DTK_ERRCLASS_INVALID, "broker '%s' is not configured",
                      broker);
        return DTK_ENOTFOUND;
    }
    o.url = dtk_json_get_string(b, "url");
    o.insecure_skip_verify = json_bool(dtk_json_get(b, "insecureSkipTLSVerify"));
    ca_b64 = dtk_json_get_string(b, "caBundle");
    if (ca_b64 != NULL) {
        if (dtk_b64_decode(&ca, ca_b64, strlen(ca_b64)) < 0) {
            dtk_error_set(DTK_ERRCLASS_INVALID,
                          "broker '%s': caBundle is not base64", broker);
            error = DTK_EINVALID;
            goto out;
        }
        o.ca_pem = dtk_buf_cstr(&ca);
    }
    secret_name =
        dtk_json_get_string(dtk_json_get(b, "authSecretRef"), "name");
    if (secret_name != NULL) {
        error = dtk_operator__get(&secret, op, DTK_KIND_SECRET, ns,
                                  secret_name);
        if (error < 0) {
            dtk_error_set(DTK_ERRCLASS_INVALID,
                          "broker '%s': secret '%s' not found", broker,
                          secret_name);
            error = DTK_ENOTFOUND;
            goto out;
        }
        if (dtk_kutil_secret_value(&token, dtk_object_json(secret),
                                   "token") == 0) {
            o.bearer_token = dtk_buf_cstr(&token);
        } else if (dtk_kutil_secret_value(&user, dtk_object_json(secret),
                                          "username") == 0 &&
                   dtk_kutil_secret_value(&pass, dtk_object_json(secret),
                                          "password") == 0) {
            o.username = dtk_buf_cstr(&user);
            o.password = dtk_buf_cstr(&pass);
        } else {
            dtk_error_set(DTK_ERRCLASS_INVALID,
                          "broker '%s': secret '%s' needs the keys "
                          "username and password, or token",
                          broker, secret_name);
            error = DTK_EINVALID;
            goto out;
        }
        dtk_error_clear();
    }
    o.timeout_ms = 60000;
    error = dtk_osb_client_new(out, &o);
    if (error < 0) {
        dtk_error_prefix("broker '%s'", broker);
    }
out:
    /* The buffers held credentials: wipe before freeing. */
    wipe(&user);
    wipe(&pass);
    wipe(&token);
    dtk_buf_dispose(&user);
    dtk_buf_dispose(&pass);
    dtk_buf_dispose(&token);
    dtk_buf_dispose(&ca);
    dtk_object_unref(secret);
    return error;
}

/* ---- reconciler --------------------------------------------------------- */

/* What the catalogs depend on: the spec generation, the annotations (so
 * annotating a Target, e.g. dtk.io/refresh-requested-at, fetches again)
 * and the versions of the broker Secrets. */
static void fingerprint(dtk_buf *out, dtk_operator *op, const dtk_json *obj)
{
    static const char *const path[] = {"spec", "brokers", NULL};
    static const char *const ann_path[] = {"metadata", "annotations", NULL};
    const dtk_json *brokers = dtk_json_path(obj, path);
    const dtk_json *ann = dtk_json_path(obj, ann_path);
    const char *ns = dtk_kutil_meta(obj, "namespace");

    dtk_buf_printf(out, "%lld/", dtk_kutil_generation(obj));
    if (ann != NULL) {
        dtk_json_write(out, ann);
    }
    for (size_t i = 0; i < dtk_json_len(brokers); i++) {
        const char *name = dtk_json_get_string(
            dtk_json_get(dtk_json_at(brokers, i), "authSecretRef"), "name");
        dtk_object *secret = NULL;
        const char *rv = "-";
        if (name != NULL &&
            dtk_operator__get(&secret, op, DTK_KIND_SECRET, ns, name) == 0) {
            rv = dtk_object_resource_version(secret);
        }
        dtk_error_clear();
        dtk_buf_printf(out, "/%s", rv ? rv : "?");
        dtk_object_unref(secret);
    }
}

/* Milliseconds left before the catalogs of key must be fetched again, or
 * 0 when they must be fetched now. */
static int64_t catalog_fresh(dtk_operator *op, const char *key,
                             const char *fp, int64_t refresh_ms)
{
    dtk_target_seen *seen;
    int64_t left = 0;

    pthread_mutex_lock(&op->catalog_mu);
    seen = dtk_map_get(&op->catalog_seen, key);
    if (seen != NULL && strcmp(seen->fingerprint, fp) == 0) {
        left = seen->fetched_ms + refresh_ms - dtk_clock_now_ms();
    }
    pthread_mutex_unlock(&op->catalog_mu);
    return left > 0 ? left : 0;
}

static void catalog_fetched(dtk_operator *op, const char *key,
                            const char *fp, int ok)
{
    dtk_target_seen *seen = NULL, *old;

    if (ok) {
        seen = dtk_calloc(1, sizeof(*seen));
        seen->fingerprint = dtk_strdup(fp);
        seen->fetched_ms = dtk_clock_now_ms();
    }
    pthread_mutex_lock(&op->catalog_mu);
    old = seen ? dtk_map_put(&op->catalog_seen, key, seen)
               : dtk_map_remove(&op->catalog_seen, key);
    pthread_mutex_unlock(&op->catalog_mu);
    if (old != NULL) {
        dtk_free(old->fingerprint);
        dtk_free(old);
    }
}

static void in_use(dtk_buf *names, dtk_operator *op, const char *ns,
                   const char *name)
{
    dtk_object_list l = DTK_OBJECT_LIST_INIT;

    dtk_operator__by_index(&l, op, DTK_KIND_INSTANCE, ns, DTK_INDEX_BY_TARGET,
                           name);
    for (size_t i = 0; i < l.len; i++) {
        dtk_buf_printf(names, "%s%s", names->len ? ", " : "",
                       dtk_object_name(l.items[i]));
    }
    dtk_object_list_dispose(&l);
}

int dtk_target_reconcile(dtk_result *result, const dtk_request *req,
                         void *payload)
{
    static const char *const brokers_path[] = {"spec", "brokers", NULL};
    dtk_operator *op = payload;
    dtk_object *cached = NULL;
    dtk_json *obj = NULL, *status = NULL, *catalog = NULL;
    dtk_kube_client *client = NULL;
    dtk_buf users = DTK_BUF_INIT(16 * 1024);
    dtk_buf failures = DTK_BUF_INIT(16 * 1024);
    dtk_buf fp = DTK_BUF_INIT(4096);
    int64_t fresh_ms;
    const dtk_json *brokers, *spec;
    size_t broker_count = 0;
    int has_docker;
    long long gen;
    int64_t refresh_s = 600;
    int failed = 0, error;

    error = dtk_operator__get(&cached, op, DTK_KIND_TARGET, req->namespace,
                              req->name);
    if (error == DTK_ENOTFOUND) {
        dtk_error_clear();
        catalog_fetched(op, req->key, "", 0);
        error = 0;
        goto out;
    }
    if (error < 0) {
        goto out;
    }
    obj = dtk_json_copy(dtk_object_json(cached));
    gen = dtk_kutil_generation(obj);
    spec = dtk_json_get(obj, "spec");
    dtk_json_int(&refresh_s, dtk_json_get(spec, "catalogRefreshSeconds"));
    has_docker = dtk_json_get(spec, "docker") != NULL;
    spec = NULL; /* obj is replaced by the writes below */
    if (refresh_s < 30) {
        refresh_s = 30;
    }
    status = dtk_json_get(obj, "status")
                 ? dtk_json_copy(dtk_json_get(obj, "status"))
                 : dtk_json_new_object();
    error = dtk_kube_client_new(&client, op->config);
    if (error < 0) {
        goto out;
    }

    /* Deletion: wait while instances use the target. */
    in_use(&users, op, req->namespace, req->name);
    if (dtk_kutil_meta(obj, "deletionTimestamp") != NULL) {
        if (users.len > 0) {
            if (dtk_conditions_set(status, "InUse", DTK_CONDITION_TRUE,
                                   "InstancesExist", dtk_buf_cstr(&users),
                                   gen, NULL)) {
                error = dtk_kutil_write_status(&obj, client, &dtk_gvr_targets,
                                               status);
                dtk_operator__event(op, obj, "Warning", "DeletionBlocked",
                                    "target is used by: %s",
                                    dtk_buf_cstr(&users));
            }
            result->requeue_after_ms = 10000;
            goto out;
        }
        error = dtk_kutil_finalizer(&obj, client, &dtk_gvr_targets,
                                    DTK_FINALIZER_IN_USE, 0);
        goto out;
    }
    error = dtk_kutil_finalizer(&obj, client, &dtk_gvr_targets,
                                DTK_FINALIZER_IN_USE, 1);
    if (error < 0) {
        goto out;
    }
    if (users.len > 0) {
        dtk_conditions_set(status, "InUse", DTK_CONDITION_TRUE,
                           "InstancesExist", dtk_buf_cstr(&users), gen, NULL);
    } else {
        dtk_conditions_set(status, "InUse", DTK_CONDITION_FALSE, "Unused",
                           "no instance is staged on this target", gen, NULL);
    }

    /* Catalogs: fetched again when the spec or a Secret changed, or the
     * refresh period is over (instance events bring us here often). */
    fingerprint(&fp, op, obj);
    fresh_ms = catalog_fresh(op, req->key, dtk_buf_cstr(&fp),
                             refresh_s * 1000);
    if (fresh_ms > 0 &&
        dtk_conditions_is_true(dtk_json_get(obj, "status"), "BrokersReady")) {
        result->requeue_after_ms = fresh_ms;
        if (!dtk_json_equal(dtk_json_get(obj, "status"), status)) {
            error = dtk_kutil_write_status(&obj, client, &dtk_gvr_targets,
                                           status);
        }
        goto out;
    }
    catalog = dtk_json_new_array();
    brokers = dtk_json_path(obj, brokers_path);
    broker_count = dtk_json_len(brokers);
    for (size_t i = 0; i < dtk_json_len(brokers); i++) {
        const dtk_json *b = dtk_json_at(brokers, i);
        const char *name = dtk_json_get_string(b, "name");
        dtk_osb_client *osb = NULL;
        dtk_osb_catalog *cat = NULL;
        dtk_osb_reply reply = DTK_OSB_REPLY_INIT;
        int e = dtk_target_osb_client(&osb, op, obj, name);
        if (e == 0) {
            e = dtk_osb_catalog_fetch(&cat, &reply, osb, NULL);
            if (e < 0) {
                dtk_error_prefix("broker '%s'", name);
            }
        }
        if (e < 0) {
            dtk_buf_printf(&failures, "%s%s", failures.len ? "; " : "",
                           dtk_error_last()->message);
            dtk_error_clear();
            failed++;
            /* Keep the last good catalog of this broker. */
            {
                const dtk_json *old = dtk_json_get(dtk_json_get(obj,
                                                   "status"), "catalog");
                for (size_t k = 0; k < dtk_json_len(old); k++) {
                    const dtk_json *oe = dtk_json_at(old, k);
                    if (str_eq(dtk_json_get_string(oe, "broker"), name)) {
                        dtk_json_append(catalog, dtk_json_copy(oe));
                    }
                }
            }
        } else {
            dtk_json_append(catalog,
                            dtk_target_catalog_entry(
                                name, cat, dtk_json_get(b, "allowedServices")));
        }
        dtk_osb_catalog_free(cat);
        dtk_osb_reply_dispose(&reply);
        dtk_osb_client_free(osb);
    }
    dtk_json_set(status, "catalog", catalog);
    catalog = NULL;
    catalog_fetched(op, req->key, dtk_buf_cstr(&fp), !failed);
    if (failed) {
        dtk_conditions_set(status, "BrokersReady", DTK_CONDITION_FALSE,
                           "BrokerUnavailable", dtk_buf_cstr(&failures), gen,
                           NULL);
        dtk_conditions_set(status, "Ready", DTK_CONDITION_FALSE,
                           "BrokerUnavailable", dtk_buf_cstr(&failures), gen,
                           NULL);
    } else {
        char msg[128];
        snprintf(msg, sizeof(msg), "%zu broker(s) answered with a catalog",
                 broker_count);
        dtk_conditions_set(status, "BrokersReady", DTK_CONDITION_TRUE,
                           "CatalogFetched", msg, gen, NULL);
        dtk_conditions_set(status, "Ready", DTK_CONDITION_TRUE, "Ready", msg,
                           gen, NULL);
    }
    if (has_docker) {
        dtk_conditions_set(status, "DockerReady", DTK_CONDITION_UNKNOWN,
                           "NotImplemented",
                           "docker targets need operator part 2", gen, NULL);
    } else {
        dtk_conditions_remove(status, "DockerReady");
    }
    dtk_json_set(status, "observedGeneration", dtk_json_new_int(gen));
    result->requeue_after_ms =
        failed ? 30000 : refresh_s * 1000;
    if (dtk_json_get(obj, "status") == NULL ||
        !dtk_json_equal(dtk_json_get(obj, "status"), status)) {
        int was_ready = dtk_conditions_is_true(dtk_json_get(obj, "status"),
                                               "Ready");
        error = dtk_kutil_write_status(&obj, client, &dtk_gvr_targets, status);
        if (error == 0 && failed) {
            dtk_operator__event(op, obj, "Warning", "BrokerUnavailable", "%s",
                                dtk_buf_cstr(&failures));
        } else if (error == 0 && !was_ready) {
            dtk_operator__event(op, obj, "Normal", "CatalogFetched",
                                "%zu broker(s) answered with a catalog",
                                broker_count);
        }
    }
out:
    dtk_kube_client_free(client);
    dtk_json_free(catalog);
    dtk_json_free(status);
    dtk_json_free(obj);
    dtk_object_unref(cached);
    dtk_buf_dispose(&users);
    dtk_buf_dispose(&failures);
    dtk_buf_dispose(&fp);
    return error;
}

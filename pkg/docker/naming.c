/* Naming and labelling conventions for what the operator owns on an engine
 * (../shared/DESIGN.md "Containers"), and the config hash that detects
 * drift. See the end of docker.h for the rules.
 */
#include "pkg/docker/docker_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/digest.h"
#include "pkg/base/error.h"

/* Hex digits of the disambiguating hash in shortened names. */
#define NAME_HASH_LEN 10
/* Longest accepted part: a Kubernetes object name (DNS subdomain). */
#define NAME_PART_MAX 253

/* ---- Names --------------------------------------------------------------- */

/* Lowercase [a-z0-9-] copy of s into out; returns 1 when a character had to
 * change. */
static int sanitize(dtk_buf *out, const char *s)
{
    int changed = 0;

    for (; *s; s++) {
        char ch = *s;

        if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-') {
            dtk_assert(dtk_buf_putc(out, ch) == 0);
        } else {
            dtk_assert(dtk_buf_putc(out, '-') == 0);
            changed = 1;
        }
    }
    return changed;
}

/* parts: NULL-terminated; replica < 0: no replica suffix. */
static int make_name(dtk_buf *out,
                     const char *kind,
                     const char *const *parts,
                     int replica)
{
    dtk_buf plain = DTK_BUF_INIT(0);
    dtk_buf raw = DTK_BUF_INIT(0);
    char suffix[16] = "";
    char hash[DTK_DIGEST_SHA256_HEX_SIZE];
    int changed = 0;
    int error = 0;
    size_t keep;

    for (size_t i = 0; parts[i] != NULL; i++) {
        size_t len = strlen(parts[i]);

        if (len == 0 || len > NAME_PART_MAX) {
            dtk_error_set(DTK_ERRCLASS_DOCKER,
                          "%s name: part %zu must have 1 to %d characters",
                          kind, i + 1, NAME_PART_MAX);
            error = DTK_EINVALID;
            goto out;
        }
        dtk_assert(dtk_buf_puts(&plain, i == 0 ? "dtk-" : "-") == 0);
        changed |= sanitize(&plain, parts[i]);
        /* NUL separators keep ("a-b","c") and ("a","b-c") apart. */
        dtk_assert(dtk_buf_put(&raw, parts[i], len + 1) == 0);
    }
    if (replica >= 0) {
        snprintf(suffix, sizeof(suffix), "-%d", replica);
    }
    if (!changed && plain.len + strlen(suffix) <= DTK_DOCKER_NAME_MAX) {
        error = dtk_buf_printf(out, "%s%s", dtk_buf_cstr(&plain), suffix);
        goto out;
    }
    error = dtk_digest_sha256_hex(hash, raw.ptr, raw.len);
    if (error < 0) {
        goto out;
    }
    keep = DTK_DOCKER_NAME_MAX - strlen(suffix) - 1 - NAME_HASH_LEN;
    if (keep > plain.len) {
        keep = plain.len;
    }
    while (keep > 0 && plain.ptr[keep - 1] == '-') {
        keep--;
    }
    error = dtk_buf_printf(out, "%.*s-%.*s%s", (int)keep, plain.ptr,
                           NAME_HASH_LEN, hash, suffix);
out:
    dtk_buf_dispose(&plain);
    dtk_buf_dispose(&raw);
    return error;
}

int dtk_docker_container_name(dtk_buf *out,
                              const char *namespace_name,
                              const char *instance,
                              const char *component,
                              int replica)
{
    const char *parts[] = {namespace_name, instance, component, NULL};

    if (namespace_name == NULL || instance == NULL || component == NULL) {
        dtk_error_set(DTK_ERRCLASS_DOCKER,
                      "container name: namespace, instance and component "
                      "are required");
        return DTK_EINVALID;
    }
    if (replica < 0) {
        dtk_error_set(DTK_ERRCLASS_DOCKER,
                      "container name: replica %d is negative", replica);
        return DTK_EINVALID;
    }
    return make_name(out, "container", parts, replica);
}

int dtk_docker_network_name(dtk_buf *out,
                            const char *namespace_name,
                            const char *instance)
{
    const char *parts[] = {namespace_name, instance, NULL};

    if (namespace_name == NULL || instance == NULL) {
        dtk_error_set(DTK_ERRCLASS_DOCKER,
                      "network name: namespace and instance are required");
        return DTK_EINVALID;
    }
    return make_name(out, "network", parts, -1);
}

int dtk_docker_volume_name(dtk_buf *out,
                           const char *namespace_name,
                           const char *instance,
                           const char *volume)
{
    const char *parts[] = {namespace_name, instance, volume, NULL};

    if (namespace_name == NULL || instance == NULL || volume == NULL) {
        dtk_error_set(DTK_ERRCLASS_DOCKER,
                      "volume name: namespace, instance and volume are "
                      "required");
        return DTK_EINVALID;
    }
    return make_name(out, "volume", parts, -1);
}

/* ---- Labels -------------------------------------------------------------- */

int dtk_docker__labels_encode(dtk_json *labels,
                              const dtk_docker_kv *kv,
                              size_t count,
                              const dtk_docker_owner *owner,
                              const char *config_hash)
{
    for (size_t i = 0; i < count; i++) {
        if (kv[i].key == NULL || kv[i].key[0] == '\0') {
            dtk_error_set(DTK_ERRCLASS_DOCKER, "labels[%zu]: empty key", i);
            return DTK_EINVALID;
        }
        dtk_json_set(labels, kv[i].key,
                     dtk_json_new_string(kv[i].value ? kv[i].value : ""));
    }
    if (owner == NULL) {
        return 0;
    }
    if (owner->namespace_name == NULL || owner->instance == NULL ||
        owner->instance_uid == NULL) {
        dtk_error_set(DTK_ERRCLASS_DOCKER,
                      "owner: namespace, instance and instance uid are "
                      "required");
        return DTK_EINVALID;
    }
    dtk_json_set(labels, DTK_DOCKER_LABEL_MANAGED_BY,
                 dtk_json_new_string(DTK_DOCKER_MANAGED_BY_VALUE));
    dtk_json_set(labels, DTK_DOCKER_LABEL_NAMESPACE,
                 dtk_json_new_string(owner->namespace_name));
    dtk_json_set(labels, DTK_DOCKER_LABEL_INSTANCE,
                 dtk_json_new_string(owner->instance));
    dtk_json_set(labels, DTK_DOCKER_LABEL_INSTANCE_UID,
                 dtk_json_new_string(owner->instance_uid));
    if (owner->component != NULL) {
        char replica[16];

        snprintf(replica, sizeof(replica), "%d", owner->replica);
        dtk_json_set(labels, DTK_DOCKER_LABEL_COMPONENT,
                     dtk_json_new_string(owner->component));
        dtk_json_set(labels, DTK_DOCKER_LABEL_REPLICA,
                     dtk_json_new_string(replica));
    }
    if (config_hash != NULL) {
        dtk_json_set(labels, DTK_DOCKER_LABEL_CONFIG_HASH,
                     dtk_json_new_string(config_hash));
    }
    return 0;
}

/* ---- Config hash --------------------------------------------------------- */

typedef struct sort_item {
    const char *key;
    size_t key_len;
    size_t index; /* keeps equal keys in their given order */
    dtk_json *item;
    char *text; /* owned, when key is the item's JSON text */
} sort_item;

static int compare_items(const void *a, const void *b)
{
    const sort_item *x = a;
    const sort_item *y = b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);

    if (c != 0) {
        return c;
    }
    if (x->key_len != y->key_len) {
        return x->key_len < y->key_len ? -1 : 1;
    }
    return x->index < y->index ? -1 : (x->index > y->index ? 1 : 0);
}

/* Sorts arr in place: by the text before '=' for env entries (by_env_key),
 * else by each item's compact JSON text. */
static void sort_array(dtk_json *arr, int by_env_key)
{
    size_t n = dtk_json_len(arr);
    sort_item *items;

    if (n < 2) {
        return;
    }
    items = dtk_calloc(n, sizeof(*items));
    for (size_t i = 0; i < n; i++) {
        dtk_json *item = dtk_json_at(arr, i);

        items[i].index = i;
        items[i].item = item;
        if (by_env_key && dtk_json_string(item) != NULL) {
            items[i].key = dtk_json_string(item);
            items[i].key_len = strcspn(items[i].key, "=");
        } else {
            items[i].text = dtk_json_to_string(item);
            items[i].key = items[i].text ? items[i].text : "";
            items[i].key_len = strlen(items[i].key);
        }
    }
    qsort(items, n, sizeof(*items), compare_items);
    for (size_t i = 0; i < n; i++) {
        arr->u.array.items[i] = items[i].item;
        dtk_free(items[i].text);
    }
    dtk_free(items);
}

static dtk_json *string_or_null(const char *s)
{
    return s != NULL ? dtk_json_new_string(s) : dtk_json_new_null();
}

static dtk_json *array_or_null(const char *const *items)
{
    return items != NULL ? dtk_docker__string_array(items)
                         : dtk_json_new_null();
}

static dtk_json *canonical_spec(const dtk_docker_container_spec *s)
{
    dtk_json *doc = dtk_json_new_object();
    dtk_json *arr;
    dtk_json *obj;
    const char *restart = s->restart_policy ? s->restart_policy : "no";

    /* Bump when the serialisation changes on purpose: every container is
     * then recreated once, which is the honest outcome. */
    dtk_json_set(doc, "v", dtk_json_new_int(1));
    dtk_json_set(doc, "image", string_or_null(s->image));
    arr = dtk_docker__string_array(s->env);
    sort_array(arr, 1);
    dtk_json_set(doc, "env", arr);
    dtk_json_set(doc, "entrypoint", array_or_null(s->entrypoint));
    dtk_json_set(doc, "cmd", array_or_null(s->cmd));
    dtk_json_set(doc, "workingDir", string_or_null(s->working_dir));
    dtk_json_set(doc, "user", string_or_null(s->user));
    dtk_json_set(doc, "hostname", string_or_null(s->hostname));
    arr = dtk_json_new_array();
    for (size_t i = 0; i < s->port_count; i++) {
        const dtk_docker_port *p = &s->ports[i];

        obj = dtk_json_new_object();
        dtk_json_set(obj, "containerPort", dtk_json_new_int(p->container_port));
        dtk_json_set(obj, "protocol",
                     dtk_json_new_string(p->protocol ? p->protocol : "tcp"));
        dtk_json_set(obj, "hostIP", string_or_null(p->host_ip));
        dtk_json_set(obj, "hostPort", dtk_json_new_int(p->host_port));
        dtk_json_append(arr, obj);
    }
    sort_array(arr, 0);
    dtk_json_set(doc, "ports", arr);
    arr = dtk_json_new_array();
    for (size_t i = 0; i < s->mount_count; i++) {
        const dtk_docker_mount *m = &s->mounts[i];

        obj = dtk_json_new_object();
        dtk_json_set(obj, "target", string_or_null(m->target));
        dtk_json_set(obj, "type",
                     dtk_json_new_string(m->type ? m->type : "volume"));
        dtk_json_set(obj, "source", string_or_null(m->source));
        dtk_json_set(obj, "readOnly", dtk_json_new_bool(m->read_only != 0));
        dtk_json_append(arr, obj);
    }
    sort_array(arr, 0);
    dtk_json_set(doc, "mounts", arr);
    obj = dtk_json_new_object();
    dtk_json_set(obj, "name", dtk_json_new_string(restart));
    dtk_json_set(obj, "maxRetries",
                 dtk_json_new_int(strcmp(restart, "on-failure") == 0
                                      ? s->restart_max_retries
                                      : 0));
    dtk_json_set(doc, "restart", obj);
    if (s->healthcheck != NULL) {
        const dtk_docker_healthcheck *h = s->healthcheck;

        obj = dtk_json_new_object();
        dtk_json_set(obj, "test", array_or_null(h->test));
        dtk_json_set(obj, "intervalMs", dtk_json_new_int(h->interval_ms));
        dtk_json_set(obj, "timeoutMs", dtk_json_new_int(h->timeout_ms));
        dtk_json_set(obj, "startPeriodMs",
                     dtk_json_new_int(h->start_period_ms));
        dtk_json_set(obj, "retries", dtk_json_new_int(h->retries));
        dtk_json_set(doc, "healthcheck", obj);
    } else {
        dtk_json_set(doc, "healthcheck", dtk_json_new_null());
    }
    arr = dtk_json_new_array();
    for (size_t i = 0; i < s->label_count; i++) {
        const dtk_docker_kv *kv = &s->labels[i];

        if (kv->key == NULL || strncmp(kv->key, "io.dtk.", 7) == 0) {
            continue; /* ours are identity or the hash itself */
        }
        obj = dtk_json_new_array();
        dtk_json_append(obj, dtk_json_new_string(kv->key));
        dtk_json_append(obj, dtk_json_new_string(kv->value ? kv->value : ""));
        dtk_json_append(arr, obj);
    }
    sort_array(arr, 0);
    dtk_json_set(doc, "labels", arr);
    dtk_json_set(doc, "network", string_or_null(s->network));
    arr = dtk_docker__string_array(s->aliases);
    sort_array(arr, 0);
    dtk_json_set(doc, "aliases", arr);
    dtk_json_set(doc, "stopSignal", string_or_null(s->stop_signal));
    dtk_json_set(doc, "stopGracePeriodS",
                 dtk_json_new_int(
                     s->stop_grace_period_s < 0 ? -1 : s->stop_grace_period_s));
    return doc;
}

int dtk_docker_config_hash(char out[DTK_DOCKER_CONFIG_HASH_SIZE],
                           const dtk_docker_container_spec *spec)
{
    dtk_json *doc = canonical_spec(spec);
    dtk_buf text = DTK_BUF_INIT(DTK_DOCKER_BODY_LIMIT);
    int error;

    out[0] = '\0';
    error = dtk_json_write(&text, doc);
    if (error < 0) {
        dtk_error_prefix("container spec");
        goto out;
    }
    error = dtk_digest_sha256_hex(out, text.ptr, text.len);
out:
    dtk_buf_dispose(&text);
    dtk_json_free(doc);
    return error;
}

/* ---- Finding what an instance owns --------------------------------------- */

void dtk_docker_owner_filter_init(dtk_docker_owner_filter *f,
                                  const char *instance_uid,
                                  const char *component)
{
    memset(f, 0, sizeof(*f));
    dtk_buf_init(&f->storage[0], 0);
    dtk_buf_init(&f->storage[1], 0);
    f->labels[0] = DTK_DOCKER_LABEL_MANAGED_BY "=" DTK_DOCKER_MANAGED_BY_VALUE;
    dtk_assert(dtk_buf_printf(&f->storage[0], "%s=%s",
                              DTK_DOCKER_LABEL_INSTANCE_UID,
                              instance_uid) == 0);
    f->labels[1] = dtk_buf_cstr(&f->storage[0]);
    if (component != NULL) {
        dtk_assert(dtk_buf_printf(&f->storage[1], "%s=%s",
                                  DTK_DOCKER_LABEL_COMPONENT, component) == 0);
        f->labels[2] = dtk_buf_cstr(&f->storage[1]);
    }
}

void dtk_docker_owner_filter_dispose(dtk_docker_owner_filter *f)
{
    dtk_buf_dispose(&f->storage[0]);
    dtk_buf_dispose(&f->storage[1]);
    memset(f->labels, 0, sizeof(f->labels));
}

int dtk_docker_container_list_owned(dtk_docker *client,
                                    dtk_docker_containers *out,
                                    const char *instance_uid,
                                    const char *component)
{
    dtk_docker_owner_filter f;
    dtk_docker_list_options opts = DTK_DOCKER_LIST_OPTIONS_INIT;
    int error;

    if (instance_uid == NULL || instance_uid[0] == '\0') {
        dtk_error_set(DTK_ERRCLASS_DOCKER,
                      "list owned containers: instance uid is required");
        return DTK_EINVALID;
    }
    dtk_docker_owner_filter_init(&f, instance_uid, component);
    opts.labels = f.labels;
    opts.all = 1;
    error = dtk_docker_container_list(client, out, &opts);
    dtk_docker_owner_filter_dispose(&f);
    return error;
}

int dtk_docker_container_drifted(const dtk_docker_labels *labels,
                                 const char *config_hash)
{
    const char *have =
        dtk_docker_labels_get(labels, DTK_DOCKER_LABEL_CONFIG_HASH);

    return have == NULL || strcmp(have, config_hash) != 0;
}

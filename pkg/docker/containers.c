/* Containers: create, lifecycle, list, inspect, wait and logs. */
#include "pkg/docker/docker_int.h"

#include <stdio.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/error.h"

/* Engine-side durations are nanoseconds. */
#define NS_PER_MS 1000000LL

/* Extra time the HTTP request gets beyond the engine-side grace period. */
#define STOP_MARGIN_MS 15000L

static void what(dtk_buf *b, const char *verb, const char *id)
{
    dtk_buf_reset(b);
    (void)dtk_buf_printf(b, "%s container '%s'", verb, id);
}

static int check_id(const char *verb, const char *id)
{
    if (id == NULL || id[0] == '\0') {
        dtk_error_set(DTK_ERRCLASS_DOCKER,
                      "%s container: id or name is "
                      "required",
                      verb);
        return DTK_EINVALID;
    }
    return 0;
}

/* ---- Create -------------------------------------------------------------- */

static int port_key(char *out, size_t size, const dtk_docker_port *p)
{
    const char *proto = p->protocol ? p->protocol : "tcp";
    int n;

    if (p->container_port <= 0 || p->container_port > 65535 ||
        p->host_port < 0 || p->host_port > 65535) {
        dtk_error_set(DTK_ERRCLASS_DOCKER,
                      "ports: %d->%d is not a valid port mapping", p->host_port,
                      p->container_port);
        return DTK_EINVALID;
    }
    if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0 &&
        strcmp(proto, "sctp") != 0) {
        dtk_error_set(DTK_ERRCLASS_DOCKER,
                      "ports: protocol '%s' is not tcp, udp or sctp", proto);
        return DTK_EINVALID;
    }
    n = snprintf(out, size, "%d/%s", p->container_port, proto);
    dtk_assert(n > 0 && (size_t)n < size);
    return 0;
}

static int encode_ports(dtk_json *config,
                        dtk_json *host_config,
                        const dtk_docker_container_spec *s)
{
    dtk_json *exposed;
    dtk_json *bindings;

    if (s->port_count == 0) {
        return 0;
    }
    exposed = dtk_json_new_object();
    bindings = dtk_json_new_object();
    dtk_json_set(config, "ExposedPorts", exposed);
    dtk_json_set(host_config, "PortBindings", bindings);
    for (size_t i = 0; i < s->port_count; i++) {
        const dtk_docker_port *p = &s->ports[i];
        char key[32];
        char host_port[16] = "";
        dtk_json *list;
        dtk_json *binding;
        int error = port_key(key, sizeof(key), p);

        if (error < 0) {
            return error;
        }
        dtk_json_set(exposed, key, dtk_json_new_object());
        list = dtk_json_get(bindings, key);
        if (list == NULL) {
            list = dtk_json_new_array();
            dtk_json_set(bindings, key, list);
        }
        if (p->host_port > 0) {
            snprintf(host_port, sizeof(host_port), "%d", p->host_port);
        }
        binding = dtk_json_new_object();
        dtk_json_set(binding, "HostIp",
                     dtk_json_new_string(p->host_ip ? p->host_ip : ""));
        dtk_json_set(binding, "HostPort", dtk_json_new_string(host_port));
        dtk_json_append(list, binding);
    }
    return 0;
}

static int encode_mounts(dtk_json *host_config,
                         const dtk_docker_container_spec *s)
{
    dtk_json *mounts;

    if (s->mount_count == 0) {
        return 0;
    }
    mounts = dtk_json_new_array();
    dtk_json_set(host_config, "Mounts", mounts);
    for (size_t i = 0; i < s->mount_count; i++) {
        const dtk_docker_mount *m = &s->mounts[i];
        const char *type = m->type ? m->type : "volume";
        dtk_json *obj;

        if (m->target == NULL || m->target[0] != '/') {
            dtk_error_set(DTK_ERRCLASS_DOCKER,
                          "mounts[%zu].target: expected an absolute path", i);
            return DTK_EINVALID;
        }
        if (strcmp(type, "tmpfs") != 0 &&
            (m->source == NULL || m->source[0] == '\0')) {
            dtk_error_set(DTK_ERRCLASS_DOCKER,
                          "mounts[%zu].source: required for type '%s'", i,
                          type);
            return DTK_EINVALID;
        }
        obj = dtk_json_new_object();
        dtk_json_set(obj, "Type", dtk_json_new_string(type));
        if (m->source != NULL) {
            dtk_json_set(obj, "Source", dtk_json_new_string(m->source));
        }
        dtk_json_set(obj, "Target", dtk_json_new_string(m->target));
        dtk_json_set(obj, "ReadOnly", dtk_json_new_bool(m->read_only != 0));
        dtk_json_append(mounts, obj);
    }
    return 0;
}

static void encode_healthcheck(dtk_json *config,
                               const dtk_docker_healthcheck *h)
{
    dtk_json *obj = dtk_json_new_object();

    dtk_json_set(obj, "Test", dtk_docker__string_array(h->test));
    if (h->interval_ms > 0) {
        dtk_json_set(obj, "Interval",
                     dtk_json_new_int(h->interval_ms * NS_PER_MS));
    }
    if (h->timeout_ms > 0) {
        dtk_json_set(obj, "Timeout",
                     dtk_json_new_int(h->timeout_ms * NS_PER_MS));
    }
    if (h->start_period_ms > 0) {
        dtk_json_set(obj, "StartPeriod",
                     dtk_json_new_int(h->start_period_ms * NS_PER_MS));
    }
    if (h->retries > 0) {
        dtk_json_set(obj, "Retries", dtk_json_new_int(h->retries));
    }
    dtk_json_set(config, "Healthcheck", obj);
}

static int encode_spec(dtk_json **out, const dtk_docker_container_spec *s)
{
    dtk_json *config = dtk_json_new_object();
    dtk_json *host_config = dtk_json_new_object();
    dtk_json *labels = dtk_json_new_object();
    char hash[DTK_DOCKER_CONFIG_HASH_SIZE];
    int error;

    *out = NULL;
    dtk_json_set(config, "Image", dtk_json_new_string(s->image));
    if (s->env != NULL) {
        dtk_json_set(config, "Env", dtk_docker__string_array(s->env));
    }
    if (s->entrypoint != NULL) {
        dtk_json_set(config, "Entrypoint",
                     dtk_docker__string_array(s->entrypoint));
    }
    if (s->cmd != NULL) {
        dtk_json_set(config, "Cmd", dtk_docker__string_array(s->cmd));
    }
    if (s->working_dir != NULL) {
        dtk_json_set(config, "WorkingDir", dtk_json_new_string(s->working_dir));
    }
    if (s->user != NULL) {
        dtk_json_set(config, "User", dtk_json_new_string(s->user));
    }
    if (s->hostname != NULL) {
        dtk_json_set(config, "Hostname", dtk_json_new_string(s->hostname));
    }
    if (s->healthcheck != NULL) {
        if (s->healthcheck->test == NULL || s->healthcheck->test[0] == NULL) {
            dtk_error_set(DTK_ERRCLASS_DOCKER,
                          "healthcheck.test: required (use {\"NONE\"} to "
                          "disable)");
            error = DTK_EINVALID;
            goto out;
        }
        encode_healthcheck(config, s->healthcheck);
    }
    if (s->stop_signal != NULL) {
        dtk_json_set(config, "StopSignal", dtk_json_new_string(s->stop_signal));
    }
    if (s->stop_grace_period_s >= 0) {
        dtk_json_set(config, "StopTimeout",
                     dtk_json_new_int(s->stop_grace_period_s));
    }
    if (s->owner != NULL) {
        error = dtk_docker_config_hash(hash, s);
        if (error < 0) {
            goto out;
        }
    }
    error = dtk_docker__labels_encode(labels, s->labels, s->label_count,
                                      s->owner, s->owner ? hash : NULL);
    if (error < 0) {
        goto out;
    }
    dtk_json_set(config, "Labels", labels);
    labels = NULL;
    error = encode_ports(config, host_config, s);
    if (error == 0) {
        error = encode_mounts(host_config, s);
    }
    if (error < 0) {
        goto out;
    }
    if (s->restart_policy != NULL) {
        dtk_json *rp = dtk_json_new_object();

        dtk_json_set(rp, "Name", dtk_json_new_string(s->restart_policy));
        if (strcmp(s->restart_policy, "on-failure") == 0) {
            dtk_json_set(rp, "MaximumRetryCount",
                         dtk_json_new_int(s->restart_max_retries));
        }
        dtk_json_set(host_config, "RestartPolicy", rp);
    }
    if (s->network != NULL) {
        dtk_json *endpoints = dtk_json_new_object();
        dtk_json *endpoint = dtk_json_new_object();
        dtk_json *networking = dtk_json_new_object();

        dtk_json_set(host_config, "NetworkMode",
                     dtk_json_new_string(s->network));
        if (s->aliases != NULL) {
            dtk_json_set(endpoint, "Aliases",
                         dtk_docker__string_array(s->aliases));
        }
        dtk_json_set(endpoints, s->network, endpoint);
        dtk_json_set(networking, "EndpointsConfig", endpoints);
        dtk_json_set(config, "NetworkingConfig", networking);
    } else if (s->aliases != NULL && s->aliases[0] != NULL) {
        dtk_error_set(DTK_ERRCLASS_DOCKER,
                      "aliases: need a network (the default bridge has no "
                      "DNS)");
        error = DTK_EINVALID;
        goto out;
    }
    dtk_json_set(config, "HostConfig", host_config);
    host_config = NULL;
    *out = config;
    config = NULL;
out:
    dtk_json_free(labels);
    dtk_json_free(host_config);
    dtk_json_free(config);
    return error;
}

int dtk_docker_container_create(dtk_docker *client,
                                char **id_out,
                                const dtk_docker_container_spec *spec)
{
    dtk_buf name = DTK_BUF_INIT(0);
    dtk_buf path = DTK_BUF_INIT(0);
    dtk_buf w = DTK_BUF_INIT(0);
    dtk_json *body = NULL;
    dtk_docker__req req = DTK_DOCKER__REQ_INIT;
    int error;

    if (id_out != NULL) {
        *id_out = NULL;
    }
    if (spec->image == NULL || spec->image[0] == '\0') {
        dtk_error_set(DTK_ERRCLASS_DOCKER, "create container: image is "
                                           "required");
        return DTK_EINVALID;
    }
    if (spec->name != NULL) {
        error = dtk_buf_puts(&name, spec->name);
    } else if (spec->owner != NULL && spec->owner->component != NULL) {
        error = dtk_docker_container_name(
            &name, spec->owner->namespace_name, spec->owner->instance,
            spec->owner->component, spec->owner->replica);
    } else {
        error = 0;
    }
    if (error < 0) {
        goto out;
    }
    what(&w, "create", name.len ? dtk_buf_cstr(&name) : spec->image);
    error = encode_spec(&body, spec);
    if (error < 0) {
        dtk_error_prefix("%s", dtk_buf_cstr(&w));
        goto out;
    }
    error = dtk_buf_puts(&path, "/containers/create");
    if (error == 0 && name.len > 0) {
        error = dtk_buf_puts(&path, "?name=");
        if (error == 0) {
            error = dtk_http_escape(&path, dtk_buf_cstr(&name));
        }
    }
    if (error < 0) {
        goto out;
    }
    req.method = "POST";
    req.path = dtk_buf_cstr(&path);
    req.body = body;
    req.flags = DTK_DOCKER__CREATE;
    req.what = dtk_buf_cstr(&w);
    error = dtk_docker__create(client, &req, id_out);
out:
    dtk_json_free(body);
    dtk_buf_dispose(&name);
    dtk_buf_dispose(&path);
    dtk_buf_dispose(&w);
    return error;
}

/* ---- Lifecycle ----------------------------------------------------------- */

/* POST /containers/{id}/<action>[?query] with no body. */
static int simple_post(dtk_docker *client,
                       const char *verb,
                       const char *id,
                       const char *action,
                       const char *query,
                       long timeout_ms)
{
    dtk_buf path = DTK_BUF_INIT(0);
    dtk_buf w = DTK_BUF_INIT(0);
    dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;
    dtk_docker__req req = DTK_DOCKER__REQ_INIT;
    int error = check_id(verb, id);

    if (error < 0) {
        return error;
    }
    what(&w, verb, id);
    error = dtk_buf_puts(&path, "/containers");
    if (error == 0) {
        error = dtk_docker__path_segment(&path, id);
    }
    if (error == 0) {
        error = dtk_buf_printf(&path, "/%s%s%s", action, query ? "?" : "",
                               query ? query : "");
    }
    if (error < 0) {
        goto out;
    }
    req.method = "POST";
    req.path = dtk_buf_cstr(&path);
    req.timeout_ms = timeout_ms;
    req.what = dtk_buf_cstr(&w);
    error = dtk_docker__call(client, &req, &resp);
out:
    dtk_http_response_dispose(&resp);
    dtk_buf_dispose(&path);
    dtk_buf_dispose(&w);
    return error;
}

int dtk_docker_container_start(dtk_docker *client, const char *id)
{
    return simple_post(client, "start", id, "start", NULL, 0);
}

int dtk_docker_container_stop(dtk_docker *client, const char *id, int grace_s)
{
    char query[32];

    if (grace_s < 0) {
        dtk_docker_container_info info = DTK_DOCKER_CONTAINER_INFO_INIT;
        const char *const path[] = {"Config", "StopTimeout", NULL};
        int64_t t = 10;
        int error = dtk_docker_container_inspect(client, &info, id);

        if (error < 0) {
            dtk_docker_container_info_dispose(&info);
            return error;
        }
        if (dtk_json_int(&t, dtk_json_path(info.raw, path)) < 0 || t < 0) {
            t = 10; /* the engine's default */
        }
        dtk_error_clear();
        dtk_docker_container_info_dispose(&info);
        grace_s = t > 3600 ? 3600 : (int)t;
    }
    snprintf(query, sizeof(query), "t=%d", grace_s);
    return simple_post(client, "stop", id, "stop", query,
                       client->timeout_ms + grace_s * 1000L + STOP_MARGIN_MS);
}

int dtk_docker_container_kill(dtk_docker *client,
                              const char *id,
                              const char *signal)
{
    dtk_buf query = DTK_BUF_INIT(0);
    int error = dtk_buf_puts(&query, "signal=");

    if (error == 0) {
        error = dtk_http_escape(&query, signal ? signal : "SIGKILL");
    }
    if (error == 0) {
        error =
            simple_post(client, "kill", id, "kill", dtk_buf_cstr(&query), 0);
    }
    dtk_buf_dispose(&query);
    return error;
}

int dtk_docker_container_remove(dtk_docker *client, const char *id, int force)
{
    dtk_buf path = DTK_BUF_INIT(0);
    dtk_buf w = DTK_BUF_INIT(0);
    dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;
    dtk_docker__req req = DTK_DOCKER__REQ_INIT;
    int error = check_id("remove", id);

    if (error < 0) {
        return error;
    }
    what(&w, "remove", id);
    error = dtk_buf_puts(&path, "/containers");
    if (error == 0) {
        error = dtk_docker__path_segment(&path, id);
    }
    if (error == 0) {
        error = dtk_buf_printf(&path, "?v=1&force=%d", force ? 1 : 0);
    }
    if (error < 0) {
        goto out;
    }
    req.method = "DELETE";
    req.path = dtk_buf_cstr(&path);
    req.what = dtk_buf_cstr(&w);
    /* A forced remove kills first: allow for a slow engine. */
    req.timeout_ms = client->timeout_ms + STOP_MARGIN_MS;
    error = dtk_docker__call(client, &req, &resp);
out:
    dtk_http_response_dispose(&resp);
    dtk_buf_dispose(&path);
    dtk_buf_dispose(&w);
    return error;
}

int dtk_docker_container_ensure_removed(dtk_docker *client, const char *id)
{
    int error = dtk_docker_container_remove(client, id, 1);

    if (error == DTK_ENOTFOUND) {
        dtk_error_clear();
        return 0;
    }
    return error;
}

int dtk_docker_container_wait(dtk_docker *client,
                              int *exit_code_out,
                              const char *id,
                              long timeout_ms)
{
    dtk_buf path = DTK_BUF_INIT(0);
    dtk_buf w = DTK_BUF_INIT(0);
    dtk_json *doc = NULL;
    dtk_docker__req req = DTK_DOCKER__REQ_INIT;
    const char *const err_path[] = {"Error", "Message", NULL};
    const char *err;
    int64_t code;
    int error = check_id("wait for", id);

    *exit_code_out = -1;
    if (error < 0) {
        return error;
    }
    what(&w, "wait for", id);
    error = dtk_buf_puts(&path, "/containers");
    if (error == 0) {
        error = dtk_docker__path_segment(&path, id);
    }
    if (error == 0) {
        error = dtk_buf_puts(&path, "/wait?condition=not-running");
    }
    if (error < 0) {
        goto out;
    }
    req.method = "POST";
    req.path = dtk_buf_cstr(&path);
    req.timeout_ms = timeout_ms > 0 ? timeout_ms : client->timeout_ms;
    req.what = dtk_buf_cstr(&w);
    error = dtk_docker__call_json(client, &req, &doc);
    if (error < 0) {
        goto out;
    }
    err = dtk_json_string(dtk_json_path(doc, err_path));
    if (err != NULL && err[0] != '\0') {
        dtk_error_set(DTK_ERRCLASS_DOCKER, "%s: %s", dtk_buf_cstr(&w), err);
        error = DTK_ERROR;
        goto out;
    }
    if (dtk_json_int(&code, dtk_json_get(doc, "StatusCode")) < 0) {
        dtk_error_set(DTK_ERRCLASS_DOCKER,
                      "%s: engine response has no StatusCode",
                      dtk_buf_cstr(&w));
        error = DTK_ERROR;
        goto out;
    }
    *exit_code_out = (int)code;
out:
    dtk_json_free(doc);
    dtk_buf_dispose(&path);
    dtk_buf_dispose(&w);
    return error;
}

/* ---- List and inspect ---------------------------------------------------- */

static char *strip_slash(const char *name)
{
    if (name == NULL) {
        return NULL;
    }
    return dtk_strdup(name[0] == '/' ? name + 1 : name);
}

int dtk_docker_container_list(dtk_docker *client,
                              dtk_docker_containers *out,
                              const dtk_docker_list_options *options)
{
    dtk_buf path = DTK_BUF_INIT(0);
    dtk_json *doc = NULL;
    size_t n;
    int error;

    out->items = NULL;
    out->count = 0;
    error = dtk_buf_printf(&path, "/containers/json?all=%d",
                           options && options->all ? 1 : 0);
    if (error == 0) {
        error = dtk_docker__filters(&path, options, '&');
    }
    if (error < 0) {
        goto out;
    }
    error = dtk_docker__get_list(client, dtk_buf_cstr(&path), "list containers",
                                 &doc);
    if (error < 0) {
        goto out;
    }
    n = dtk_json_len(doc);
    out->items = dtk_calloc(n ? n : 1, sizeof(*out->items));
    for (size_t i = 0; i < n; i++) {
        const dtk_json *item = dtk_json_at(doc, i);
        dtk_docker_container_summary *s = &out->items[out->count];
        int64_t created = 0;

        if (dtk_json_get_string(item, "Id") == NULL) {
            continue;
        }
        s->id = dtk_docker__strdup_member(item, "Id");
        s->name = strip_slash(
            dtk_json_string(dtk_json_at(dtk_json_get(item, "Names"), 0)));
        s->image = dtk_docker__strdup_member(item, "Image");
        s->state = dtk_docker__strdup_member(item, "State");
        s->status = dtk_docker__strdup_member(item, "Status");
        if (dtk_json_int(&created, dtk_json_get(item, "Created")) == 0) {
            s->created = created;
        }
        dtk_docker__labels_decode(&s->labels, dtk_json_get(item, "Labels"));
        out->count++;
    }
    dtk_error_clear();
out:
    dtk_json_free(doc);
    dtk_buf_dispose(&path);
    return error;
}

void dtk_docker_containers_dispose(dtk_docker_containers *list)
{
    for (size_t i = 0; i < list->count; i++) {
        dtk_docker_container_summary *s = &list->items[i];

        dtk_free(s->id);
        dtk_free(s->name);
        dtk_free(s->image);
        dtk_free(s->state);
        dtk_free(s->status);
        dtk_docker__labels_dispose(&s->labels);
    }
    dtk_free(list->items);
    list->items = NULL;
    list->count = 0;
}

static int get_bool(const dtk_json *obj, const char *key)
{
    const dtk_json *v = dtk_json_get(obj, key);

    return v != NULL && v->type == DTK_JSON_BOOL && v->u.boolean;
}

static int64_t get_int(const dtk_json *obj, const char *key, int64_t dflt)
{
    int64_t v;

    return dtk_json_int(&v, dtk_json_get(obj, key)) == 0 ? v : dflt;
}

int dtk_docker_container_inspect(dtk_docker *client,
                                 dtk_docker_container_info *out,
                                 const char *id)
{
    dtk_buf path = DTK_BUF_INIT(0);
    dtk_buf w = DTK_BUF_INIT(0);
    dtk_json *doc = NULL;
    dtk_docker__req req = DTK_DOCKER__REQ_INIT;
    const dtk_json *state;
    const dtk_json *config;
    int error = check_id("inspect", id);

    memset(out, 0, sizeof(*out));
    if (error < 0) {
        return error;
    }
    what(&w, "inspect", id);
    error = dtk_buf_puts(&path, "/containers");
    if (error == 0) {
        error = dtk_docker__path_segment(&path, id);
    }
    if (error == 0) {
        error = dtk_buf_puts(&path, "/json");
    }
    if (error < 0) {
        goto out;
    }
    req.method = "GET";
    req.path = dtk_buf_cstr(&path);
    req.what = dtk_buf_cstr(&w);
    error = dtk_docker__call_json(client, &req, &doc);
    if (error < 0) {
        goto out;
    }
    if (dtk_json_get_string(doc, "Id") == NULL) {
        dtk_error_set(DTK_ERRCLASS_DOCKER, "%s: engine response has no Id",
                      dtk_buf_cstr(&w));
        error = DTK_ERROR;
        goto out;
    }
    state = dtk_json_get(doc, "State");
    config = dtk_json_get(doc, "Config");
    out->id = dtk_docker__strdup_member(doc, "Id");
    out->name = strip_slash(dtk_json_get_string(doc, "Name"));
    out->image = dtk_docker__strdup_member(config, "Image");
    out->image_id = dtk_docker__strdup_member(doc, "Image");
    out->status = dtk_docker__strdup_member(state, "Status");
    out->running = get_bool(state, "Running");
    out->restarting = get_bool(state, "Restarting");
    out->oom_killed = get_bool(state, "OOMKilled");
    out->exit_code = (int)get_int(state, "ExitCode", 0);
    out->pid = get_int(state, "Pid", 0);
    out->restart_count = (int)get_int(doc, "RestartCount", 0);
    out->health =
        dtk_docker__strdup_member(dtk_json_get(state, "Health"), "Status");
    out->started_at = dtk_docker__strdup_member(state, "StartedAt");
    out->finished_at = dtk_docker__strdup_member(state, "FinishedAt");
    dtk_docker__labels_decode(&out->labels, dtk_json_get(config, "Labels"));
    out->raw = doc;
    doc = NULL;
    dtk_error_clear();
out:
    dtk_json_free(doc);
    dtk_buf_dispose(&path);
    dtk_buf_dispose(&w);
    return error;
}

void dtk_docker_container_info_dispose(dtk_docker_container_info *info)
{
    dtk_free(info->id);
    dtk_free(info->name);
    dtk_free(info->image);
    dtk_free(info->image_id);
    dtk_free(info->status);
    dtk_free(info->health);
    dtk_free(info->started_at);
    dtk_free(info->finished_at);
    dtk_docker__labels_dispose(&info->labels);
    dtk_json_free(info->raw);
    memset(info, 0, sizeof(*info));
}

int dtk_docker_container_host_port(const dtk_docker_container_info *info,
                                   int *host_port_out,
                                   int container_port,
                                   const char *protocol)
{
    const char *const path[] = {"NetworkSettings", "Ports", NULL};
    const dtk_json *ports = dtk_json_path(info->raw, path);
    const dtk_json *list;
    char key[32];

    *host_port_out = 0;
    snprintf(key, sizeof(key), "%d/%s", container_port,
             protocol ? protocol : "tcp");
    list = dtk_json_get(ports, key);
    for (size_t i = 0; i < dtk_json_len(list); i++) {
        const char *hp = dtk_json_get_string(dtk_json_at(list, i), "HostPort");
        int port = 0;

        for (const char *p = hp;
             p != NULL && *p >= '0' && *p <= '9' && port <= 65535; p++) {
            port = port * 10 + (*p - '0');
        }
        if (port > 0 && port <= 65535) {
            *host_port_out = port;
            return 0;
        }
    }
    dtk_error_set(DTK_ERRCLASS_DOCKER,
                  "container '%s': port %s is not published", info->name, key);
    return DTK_ENOTFOUND;
}

const char *dtk_docker_container_ip(const dtk_docker_container_info *info,
                                    const char *network)
{
    const char *const path[] = {"NetworkSettings", "Networks", NULL};
    const dtk_json *net = dtk_json_get(dtk_json_path(info->raw, path), network);
    const char *ip = dtk_json_get_string(net, "IPAddress");

    return ip != NULL && ip[0] != '\0' ? ip : NULL;
}

/* ---- Logs ---------------------------------------------------------------- */

int dtk_docker_container_logs(dtk_docker *client,
                              dtk_docker_output *out,
                              const char *id,
                              const dtk_docker_logs_options *options)
{
    dtk_docker_logs_options dflt = DTK_DOCKER_LOGS_OPTIONS_INIT;
    dtk_docker_container_info info = DTK_DOCKER_CONTAINER_INFO_INIT;
    dtk_buf path = DTK_BUF_INIT(0);
    dtk_buf w = DTK_BUF_INIT(0);
    dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;
    dtk_docker__req req = DTK_DOCKER__REQ_INIT;
    dtk_docker__collect collect;
    const char *const tty_path[] = {"Config", "Tty", NULL};
    const dtk_json *tty;
    int error;

    if (options == NULL) {
        options = &dflt;
    }
    memset(&collect, 0, sizeof(collect));
    /* Without a TTY the stream is multiplexed, with one it is raw: only the
     * container's config tells (API 1.41 has no distinct content type). */
    error = dtk_docker_container_inspect(client, &info, id);
    if (error < 0) {
        goto out;
    }
    tty = dtk_json_path(info.raw, tty_path);
    collect.raw = tty != NULL && tty->type == DTK_JSON_BOOL && tty->u.boolean;
    collect.out = out;
    what(&w, "read logs of", id);
    error = dtk_buf_puts(&path, "/containers");
    if (error == 0) {
        error = dtk_docker__path_segment(&path, info.id);
    }
    if (error == 0) {
        error = dtk_buf_printf(&path, "/logs?stdout=%d&stderr=%d&timestamps=%d",
                               options->no_stdout ? 0 : 1,
                               options->no_stderr ? 0 : 1,
                               options->timestamps ? 1 : 0);
    }
    if (error == 0 && options->tail > 0) {
        error = dtk_buf_printf(&path, "&tail=%d", options->tail);
    }
    if (error < 0) {
        goto out;
    }
    req.method = "GET";
    req.path = dtk_buf_cstr(&path);
    req.what = dtk_buf_cstr(&w);
    error = dtk_docker__stream(client, &req, &resp, dtk_docker__collect_cb,
                               &collect);
    if (error == 0 && collect.bad_stream) {
        dtk_error_prefix("%s", dtk_buf_cstr(&w));
        error = DTK_ERROR;
    } else if (error == 0 && !collect.raw) {
        error = dtk_docker_demux_finish(&collect.demux);
        if (error < 0) {
            dtk_error_prefix("%s", dtk_buf_cstr(&w));
            error = DTK_ERROR;
        }
    }
out:
    dtk_docker_container_info_dispose(&info);
    dtk_http_response_dispose(&resp);
    dtk_buf_dispose(&path);
    dtk_buf_dispose(&w);
    return error;
}

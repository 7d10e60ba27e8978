/* Networks: create, inspect, list, connect, disconnect, remove. */
#include "pkg/docker/docker_int.h"

#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/error.h"

static int network_path(dtk_buf *path, const char *id, const char *suffix)
{
    int error = dtk_buf_puts(path, "/networks");

    if (error == 0) {
        error = dtk_docker__path_segment(path, id);
    }
    if (error == 0 && suffix != NULL) {
        error = dtk_buf_puts(path, suffix);
    }
    return error;
}

static int check_name(const char *verb, const char *id)
{
    if (id == NULL || id[0] == '\0') {
        dtk_error_set(DTK_ERRCLASS_DOCKER,
                      "%s network: id or name is "
                      "required",
                      verb);
        return DTK_EINVALID;
    }
    return 0;
}

int dtk_docker_network_create(dtk_docker *client,
                              char **id_out,
                              const dtk_docker_network_spec *spec)
{
    dtk_buf name = DTK_BUF_INIT(0);
    dtk_buf w = DTK_BUF_INIT(0);
    dtk_json *body = NULL;
    dtk_json *labels = NULL;
    dtk_docker__req req = DTK_DOCKER__REQ_INIT;
    int error;

    if (id_out != NULL) {
        *id_out = NULL;
    }
    if (spec->name != NULL && spec->name[0] != '\0') {
        error = dtk_buf_puts(&name, spec->name);
    } else if (spec->owner != NULL) {
        error = dtk_docker_network_name(&name, spec->owner->namespace_name,
                                        spec->owner->instance);
    } else {
        dtk_error_set(DTK_ERRCLASS_DOCKER,
                      "create network: a name or an owner is required");
        error = DTK_EINVALID;
    }
    if (error < 0) {
        goto out;
    }
    (void)dtk_buf_printf(&w, "create network '%s'", dtk_buf_cstr(&name));
    labels = dtk_json_new_object();
    error = dtk_docker__labels_encode(labels, spec->labels, spec->label_count,
                                      spec->owner, NULL);
    if (error < 0) {
        dtk_error_prefix("%s", dtk_buf_cstr(&w));
        goto out;
    }
    body = dtk_json_new_object();
    dtk_json_set(body, "Name", dtk_json_new_string(dtk_buf_cstr(&name)));
    dtk_json_set(body, "CheckDuplicate", dtk_json_new_bool(1));
    dtk_json_set(body, "Driver",
                 dtk_json_new_string(spec->driver ? spec->driver : "bridge"));
    dtk_json_set(body, "Internal", dtk_json_new_bool(spec->internal != 0));
    dtk_json_set(body, "Attachable", dtk_json_new_bool(spec->attachable != 0));
    dtk_json_set(body, "Labels", labels);
    labels = NULL;
    req.method = "POST";
    req.path = "/networks/create";
    req.body = body;
    req.flags = DTK_DOCKER__CREATE;
    req.what = dtk_buf_cstr(&w);
    error = dtk_docker__create(client, &req, id_out);
out:
    dtk_json_free(body);
    dtk_json_free(labels);
    dtk_buf_dispose(&name);
    dtk_buf_dispose(&w);
    return error;
}

static void decode_network(dtk_docker_network_info *out, const dtk_json *doc)
{
    const dtk_json *internal = dtk_json_get(doc, "Internal");
    const dtk_json *containers = dtk_json_get(doc, "Containers");
    size_t n = dtk_json_len(containers);

    memset(out, 0, sizeof(*out));
    out->id = dtk_docker__strdup_member(doc, "Id");
    out->name = dtk_docker__strdup_member(doc, "Name");
    out->driver = dtk_docker__strdup_member(doc, "Driver");
    out->internal = internal != NULL && internal->type == DTK_JSON_BOOL &&
                    internal->u.boolean;
    dtk_docker__labels_decode(&out->labels, dtk_json_get(doc, "Labels"));
    if (containers != NULL && containers->type == DTK_JSON_OBJECT && n > 0) {
        out->containers = dtk_calloc(n, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
            out->containers[i] = dtk_strdup(containers->u.object.keys[i]);
        }
        out->container_count = n;
    }
}

int dtk_docker_network_inspect(dtk_docker *client,
                               dtk_docker_network_info *out,
                               const char *id_or_name)
{
    dtk_buf path = DTK_BUF_INIT(0);
    dtk_buf w = DTK_BUF_INIT(0);
    dtk_json *doc = NULL;
    dtk_docker__req req = DTK_DOCKER__REQ_INIT;
    int error = check_name("inspect", id_or_name);

    memset(out, 0, sizeof(*out));
    if (error < 0) {
        return error;
    }
    (void)dtk_buf_printf(&w, "inspect network '%s'", id_or_name);
    error = network_path(&path, id_or_name, NULL);
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
    decode_network(out, doc);
out:
    dtk_json_free(doc);
    dtk_buf_dispose(&path);
    dtk_buf_dispose(&w);
    return error;
}

void dtk_docker_network_info_dispose(dtk_docker_network_info *info)
{
    dtk_free(info->id);
    dtk_free(info->name);
    dtk_free(info->driver);
    dtk_docker__labels_dispose(&info->labels);
    for (size_t i = 0; i < info->container_count; i++) {
        dtk_free(info->containers[i]);
    }
    dtk_free(info->containers);
    memset(info, 0, sizeof(*info));
}

int dtk_docker_network_list(dtk_docker *client,
                            dtk_docker_networks *out,
                            const dtk_docker_list_options *options)
{
    dtk_buf path = DTK_BUF_INIT(0);
    dtk_json *doc = NULL;
    size_t n;
    int error;

    out->items = NULL;
    out->count = 0;
    error = dtk_buf_puts(&path, "/networks");
    if (error == 0) {
        error = dtk_docker__filters(&path, options, '?');
    }
    if (error < 0) {
        goto out;
    }
    error = dtk_docker__get_list(client, dtk_buf_cstr(&path), "list networks",
                                 &doc);
    if (error < 0) {
        goto out;
    }
    n = dtk_json_len(doc);
    out->items = dtk_calloc(n ? n : 1, sizeof(*out->items));
    for (size_t i = 0; i < n; i++) {
        decode_network(&out->items[i], dtk_json_at(doc, i));
    }
    out->count = n;
out:
    dtk_json_free(doc);
    dtk_buf_dispose(&path);
    return error;
}

void dtk_docker_networks_dispose(dtk_docker_networks *list)
{
    for (size_t i = 0; i < list->count; i++) {
        dtk_docker_network_info_dispose(&list->items[i]);
    }
    dtk_free(list->items);
    list->items = NULL;
    list->count = 0;
}

static int connect_call(dtk_docker *client,
                        const char *verb,
                        const char *network,
                        const char *container,
                        dtk_json *body)
{
    dtk_buf path = DTK_BUF_INIT(0);
    dtk_buf w = DTK_BUF_INIT(0);
    dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;
    dtk_docker__req req = DTK_DOCKER__REQ_INIT;
    int error = check_name(verb, network);

    if (error == 0 && (container == NULL || container[0] == '\0')) {
        dtk_error_set(DTK_ERRCLASS_DOCKER,
                      "%s network '%s': a container "
                      "is required",
                      verb, network);
        error = DTK_EINVALID;
    }
    if (error < 0) {
        goto out;
    }
    (void)dtk_buf_printf(&w, "%s container '%s' %s network '%s'", verb,
                         container,
                         strcmp(verb, "connect") == 0 ? "to" : "from", network);
    dtk_json_set(body, "Container", dtk_json_new_string(container));
    error =
        network_path(&path, network,
                     strcmp(verb, "connect") == 0 ? "/connect" : "/disconnect");
    if (error < 0) {
        goto out;
    }
    req.method = "POST";
    req.path = dtk_buf_cstr(&path);
    req.body = body;
    req.what = dtk_buf_cstr(&w);
    error = dtk_docker__call(client, &req, &resp);
out:
    dtk_json_free(body);
    dtk_http_response_dispose(&resp);
    dtk_buf_dispose(&path);
    dtk_buf_dispose(&w);
    return error;
}

int dtk_docker_network_connect(dtk_docker *client,
                               const char *network,
                               const char *container,
                               const char *const *aliases)
{
    dtk_json *body = dtk_json_new_object();
    dtk_json *endpoint = dtk_json_new_object();

    if (aliases != NULL) {
        dtk_json_set(endpoint, "Aliases", dtk_docker__string_array(aliases));
    }
    dtk_json_set(body, "EndpointConfig", endpoint);
    return connect_call(client, "connect", network, container, body);
}

int dtk_docker_network_disconnect(dtk_docker *client,
                                  const char *network,
                                  const char *container,
                                  int force)
{
    dtk_json *body = dtk_json_new_object();

    dtk_json_set(body, "Force", dtk_json_new_bool(force != 0));
    return connect_call(client, "disconnect", network, container, body);
}

int dtk_docker_network_remove(dtk_docker *client, const char *id_or_name)
{
    dtk_buf path = DTK_BUF_INIT(0);
    dtk_buf w = DTK_BUF_INIT(0);
    dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;
    dtk_docker__req req = DTK_DOCKER__REQ_INIT;
    int error = check_name("remove", id_or_name);

    if (error < 0) {
        return error;
    }
    (void)dtk_buf_printf(&w, "remove network '%s'", id_or_name);
    error = network_path(&path, id_or_name, NULL);
    if (error < 0) {
        goto out;
    }
    req.method = "DELETE";
    req.path = dtk_buf_cstr(&path);
    req.what = dtk_buf_cstr(&w);
    error = dtk_docker__call(client, &req, &resp);
out:
    dtk_http_response_dispose(&resp);
    dtk_buf_dispose(&path);
    dtk_buf_dispose(&w);
    return error;
}

int dtk_docker_network_ensure_removed(dtk_docker *client,
                                      const char *id_or_name)
{
    int error = dtk_docker_network_remove(client, id_or_name);

    if (error == DTK_ENOTFOUND) {
        dtk_error_clear();
        return 0;
    }
    return error;
}

/* Volumes: create, list, remove. */
#include "pkg/docker/docker_int.h"

#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/error.h"

static void decode_volume(dtk_docker_volume_info *out, const dtk_json *doc)
{
    memset(out, 0, sizeof(*out));
    out->name = dtk_docker__strdup_member(doc, "Name");
    out->driver = dtk_docker__strdup_member(doc, "Driver");
    out->mountpoint = dtk_docker__strdup_member(doc, "Mountpoint");
    dtk_docker__labels_decode(&out->labels, dtk_json_get(doc, "Labels"));
}

int dtk_docker_volume_create(dtk_docker *client,
                             dtk_docker_volume_info *out,
                             const dtk_docker_volume_spec *spec)
{
    dtk_buf w = DTK_BUF_INIT(0);
    dtk_json *body = dtk_json_new_object();
    dtk_json *labels = dtk_json_new_object();
    dtk_json *doc = NULL;
    dtk_docker__req req = DTK_DOCKER__REQ_INIT;
    int error;

    if (out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    (void)dtk_buf_printf(&w, "create volume '%s'",
                         spec->name ? spec->name : "");
    error = dtk_docker__labels_encode(labels, spec->labels, spec->label_count,
                                      spec->owner, NULL);
    if (error < 0) {
        dtk_error_prefix("%s", dtk_buf_cstr(&w));
        goto out;
    }
    if (spec->name != NULL) {
        dtk_json_set(body, "Name", dtk_json_new_string(spec->name));
    }
    dtk_json_set(body, "Driver",
                 dtk_json_new_string(spec->driver ? spec->driver : "local"));
    dtk_json_set(body, "Labels", labels);
    labels = NULL;
    req.method = "POST";
    req.path = "/volumes/create";
    req.body = body;
    req.flags = DTK_DOCKER__CREATE;
    req.what = dtk_buf_cstr(&w);
    error = dtk_docker__call_json(client, &req, &doc);
    if (error < 0) {
        goto out;
    }
    if (dtk_json_get_string(doc, "Name") == NULL) {
        dtk_error_set(DTK_ERRCLASS_DOCKER, "%s: engine response has no Name",
                      dtk_buf_cstr(&w));
        error = DTK_ERROR;
        goto out;
    }
    if (out != NULL) {
        decode_volume(out, doc);
    }
out:
    dtk_json_free(doc);
    dtk_json_free(labels);
    dtk_json_free(body);
    dtk_buf_dispose(&w);
    return error;
}

void dtk_docker_volume_info_dispose(dtk_docker_volume_info *info)
{
    dtk_free(info->name);
    dtk_free(info->driver);
    dtk_free(info->mountpoint);
    dtk_docker__labels_dispose(&info->labels);
    memset(info, 0, sizeof(*info));
}

int dtk_docker_volume_list(dtk_docker *client,
                           dtk_docker_volumes *out,
                           const dtk_docker_list_options *options)
{
    dtk_buf path = DTK_BUF_INIT(0);
    dtk_json *doc = NULL;
    dtk_docker__req req = DTK_DOCKER__REQ_INIT;
    const dtk_json *volumes;
    size_t n;
    int error;

    out->items = NULL;
    out->count = 0;
    error = dtk_buf_puts(&path, "/volumes");
    if (error == 0) {
        error = dtk_docker__filters(&path, options, '?');
    }
    if (error < 0) {
        goto out;
    }
    req.method = "GET";
    req.path = dtk_buf_cstr(&path);
    req.what = "list volumes";
    error = dtk_docker__call_json(client, &req, &doc);
    if (error < 0) {
        goto out;
    }
    /* "Volumes" is null, not [], when there are none. */
    volumes = dtk_json_get(doc, "Volumes");
    n = volumes != NULL && volumes->type == DTK_JSON_ARRAY
            ? dtk_json_len(volumes)
            : 0;
    out->items = dtk_calloc(n ? n : 1, sizeof(*out->items));
    for (size_t i = 0; i < n; i++) {
        decode_volume(&out->items[i], dtk_json_at(volumes, i));
    }
    out->count = n;
out:
    dtk_json_free(doc);
    dtk_buf_dispose(&path);
    return error;
}

void dtk_docker_volumes_dispose(dtk_docker_volumes *list)
{
    for (size_t i = 0; i < list->count; i++) {
        dtk_docker_volume_info_dispose(&list->items[i]);
    }
    dtk_free(list->items);
    list->items = NULL;
    list->count = 0;
}

int dtk_docker_volume_remove(dtk_docker *client, const char *name, int force)
{
    dtk_buf path = DTK_BUF_INIT(0);
    dtk_buf w = DTK_BUF_INIT(0);
    dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;
    dtk_docker__req req = DTK_DOCKER__REQ_INIT;
    int error;

    if (name == NULL || name[0] == '\0') {
        dtk_error_set(DTK_ERRCLASS_DOCKER, "remove volume: name is required");
        return DTK_EINVALID;
    }
    (void)dtk_buf_printf(&w, "remove volume '%s'", name);
    error = dtk_buf_puts(&path, "/volumes");
    if (error == 0) {
        error = dtk_docker__path_segment(&path, name);
    }
    if (error == 0 && force) {
        error = dtk_buf_puts(&path, "?force=1");
    }
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

int dtk_docker_volume_ensure_removed(dtk_docker *client, const char *name)
{
    int error = dtk_docker_volume_remove(client, name, 0);

    if (error == DTK_ENOTFOUND) {
        dtk_error_clear();
        return 0;
    }
    return error;
}

/* Images: inspect, pull (with registry credentials), remove.
 *
 * Registry credentials come from a kubernetes.io/dockerconfigjson Secret and
 * travel to the engine as X-Registry-Auth: base64url (Go's URLEncoding, with
 * padding) of {"username","password","serveraddress"}. The engine, not this
 * client, talks to the registry. Buffers that held a password are wiped
 * before they are freed, and no message quotes a credential.
 *
 * A pull answers 200 at once and then streams JSON progress lines; a failure
 * after that point arrives as a line {"error": "...", "errorDetail": {...}},
 * so the stream is read line by line (each line bounded).
 */
#include "pkg/docker/docker_int.h"

#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/b64.h"
#include "pkg/base/error.h"

/* Longest progress line accepted from a pull. */
#define PULL_LINE_MAX     ((size_t)64 * 1024)
#define DOCKER_HUB        "docker.io"
#define DOCKER_HUB_SERVER "https://index.docker.io/v1/"

static void wipe(dtk_buf *b)
{
    if (b->ptr != NULL) {
        volatile char *p = b->ptr;

        for (size_t i = 0; i < b->cap; i++) {
            p[i] = 0;
        }
    }
    dtk_buf_dispose(b);
}

/* Zeroes every string in a tree (they may hold credentials). Depth is
 * bounded by DTK_JSON_MAX_DEPTH at parse time. */
static void wipe_json(dtk_json *v)
{
    if (v == NULL) {
        return;
    }
    if (v->type == DTK_JSON_STRING) {
        memset(v->u.string.ptr, 0, v->u.string.len);
    } else if (v->type == DTK_JSON_ARRAY) {
        for (size_t i = 0; i < v->u.array.len; i++) {
            wipe_json(v->u.array.items[i]);
        }
    } else if (v->type == DTK_JSON_OBJECT) {
        for (size_t i = 0; i < v->u.object.len; i++) {
            wipe_json(v->u.object.values[i]);
        }
    }
}

/* ---- References and registries --------------------------------------------
 */

int dtk_docker_image_registry(dtk_buf *out, const char *image)
{
    const char *slash;
    size_t n;

    if (image == NULL || image[0] == '\0') {
        dtk_error_set(DTK_ERRCLASS_DOCKER, "image reference is empty");
        return DTK_EINVALID;
    }
    slash = strchr(image, '/');
    if (slash == NULL) {
        return dtk_buf_puts(out, DOCKER_HUB);
    }
    n = (size_t)(slash - image);
    /* Like the engine: the first component names a registry when it has a
     * '.' or a ':' or is "localhost"; else it is a Docker Hub namespace. */
    if (memchr(image, '.', n) != NULL || memchr(image, ':', n) != NULL ||
        (n == 9 && strncmp(image, "localhost", 9) == 0)) {
        return dtk_buf_put(out, image, n);
    }
    return dtk_buf_puts(out, DOCKER_HUB);
}

/* Splits "name[:tag][@digest]" into the fromImage and tag parameters. */
static int split_reference(dtk_buf *name, dtk_buf *tag, const char *image)
{
    const char *at = strchr(image, '@');
    const char *slash = strrchr(image, '/');
    const char *colon;

    if (at != NULL) {
        int error = dtk_buf_put(name, image, (size_t)(at - image));

        return error < 0 ? error : dtk_buf_puts(tag, at + 1);
    }
    colon = strrchr(slash != NULL ? slash : image, ':');
    if (colon != NULL) {
        int error = dtk_buf_put(name, image, (size_t)(colon - image));

        return error < 0 ? error : dtk_buf_puts(tag, colon + 1);
    }
    return dtk_buf_puts(name, image) < 0 ? DTK_ETOOBIG
                                         : dtk_buf_puts(tag, "latest");
}

/* "https://Registry.example.com:5000/v1/" -> "registry.example.com:5000" */
static void normalize_server(dtk_buf *out, const char *key)
{
    const char *p = key;
    size_t n;

    if (strncmp(p, "https://", 8) == 0) {
        p += 8;
    } else if (strncmp(p, "http://", 7) == 0) {
        p += 7;
    }
    n = strcspn(p, "/");
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];

        dtk_assert(dtk_buf_putc(out, (ch >= 'A' && ch <= 'Z')
                                         ? (char)(ch - 'A' + 'a')
                                         : ch) == 0);
    }
}

static int is_hub(const char *server)
{
    return strcmp(server, "docker.io") == 0 ||
           strcmp(server, "index.docker.io") == 0 ||
           strcmp(server, "registry-1.docker.io") == 0;
}

/* The auths entry for registry, or NULL; *key_out names it. */
static const dtk_json *find_entry(const dtk_json *auths,
                                  const char *registry,
                                  const char **key_out)
{
    dtk_buf server = DTK_BUF_INIT(0);
    const dtk_json *found = NULL;
    int hub = is_hub(registry);

    for (size_t i = 0; i < auths->u.object.len && found == NULL; i++) {
        dtk_buf_reset(&server);
        normalize_server(&server, auths->u.object.keys[i]);
        if (strcmp(dtk_buf_cstr(&server), registry) == 0 ||
            (hub && is_hub(dtk_buf_cstr(&server)))) {
            found = auths->u.object.values[i];
            *key_out = auths->u.object.keys[i];
        }
    }
    dtk_buf_dispose(&server);
    return found;
}

int dtk_docker_registry_auth(dtk_buf *out,
                             const char *dockerconfigjson,
                             const char *image)
{
    dtk_buf registry = DTK_BUF_INIT(0);
    dtk_buf userpass = DTK_BUF_INIT(0);
    dtk_buf text = DTK_BUF_INIT(DTK_DOCKER_BODY_LIMIT);
    dtk_json *config = NULL;
    dtk_json *auth = NULL;
    const dtk_json *auths;
    const dtk_json *entry;
    const char *key = NULL;
    const char *username;
    const char *password;
    const char *token;
    const char *encoded;
    int error;

    error = dtk_docker_image_registry(&registry, image);
    if (error < 0) {
        goto out;
    }
    if (dockerconfigjson == NULL ||
        dtk_json_parse(&config, dockerconfigjson, strlen(dockerconfigjson)) <
            0 ||
        config->type != DTK_JSON_OBJECT) {
        /* pkg/json's message gives only an offset; still, do not repeat it:
         * say what is wrong without any of the content. */
        dtk_error_set(DTK_ERRCLASS_DOCKER,
                      "dockerconfigjson: not a JSON object");
        error = DTK_EINVALID;
        goto out;
    }
    auths = dtk_json_get(config, "auths");
    if (auths == NULL) {
        auths = config; /* legacy .dockercfg: the map itself */
    }
    if (auths->type != DTK_JSON_OBJECT) {
        dtk_error_set(DTK_ERRCLASS_DOCKER,
                      "dockerconfigjson: auths: expected an object");
        error = DTK_EINVALID;
        goto out;
    }
    entry = find_entry(auths, dtk_buf_cstr(&registry), &key);
    if (entry == NULL) {
        dtk_error_set(DTK_ERRCLASS_DOCKER,
                      "dockerconfigjson: no credentials for registry '%s'",
                      dtk_buf_cstr(&registry));
        error = DTK_ENOTFOUND;
        goto out;
    }
    if (entry->type != DTK_JSON_OBJECT) {
        dtk_error_set(DTK_ERRCLASS_DOCKER,
                      "dockerconfigjson: auths['%s']: expected an object", key);
        error = DTK_EINVALID;
        goto out;
    }
    username = dtk_json_get_string(entry, "username");
    password = dtk_json_get_string(entry, "password");
    token = dtk_json_get_string(entry, "identitytoken");
    encoded = dtk_json_get_string(entry, "auth");
    if (encoded != NULL && encoded[0] != '\0') {
        char *colon;

        if (dtk_b64_decode(&userpass, encoded, strlen(encoded)) < 0 ||
            (colon = memchr(userpass.ptr, ':', userpass.len)) == NULL) {
            dtk_error_set(DTK_ERRCLASS_DOCKER,
                          "dockerconfigjson: auths['%s'].auth: expected "
                          "base64 of 'username:password'",
                          key);
            error = DTK_EINVALID;
            goto out;
        }
        *colon = '\0';
        username = userpass.ptr;
        password = colon + 1;
    }
    if ((username == NULL || password == NULL) && token == NULL) {
        dtk_error_set(DTK_ERRCLASS_DOCKER,
                      "dockerconfigjson: auths['%s']: needs auth, "
                      "username and password, or identitytoken",
                      key);
        error = DTK_EINVALID;
        goto out;
    }
    auth = dtk_json_new_object();
    if (username != NULL) {
        dtk_json_set(auth, "username", dtk_json_new_string(username));
    }
    if (password != NULL && token == NULL) {
        dtk_json_set(auth, "password", dtk_json_new_string(password));
    }
    if (token != NULL) {
        dtk_json_set(auth, "identitytoken", dtk_json_new_string(token));
    }
    dtk_json_set(auth, "serveraddress",
                 dtk_json_new_string(is_hub(dtk_buf_cstr(&registry))
                                         ? DOCKER_HUB_SERVER
                                         : dtk_buf_cstr(&registry)));
    error = dtk_json_write(&text, auth);
    if (error < 0) {
        dtk_error_set(DTK_ERRCLASS_DOCKER,
                      "dockerconfigjson: auths['%s']: credentials are not "
                      "valid UTF-8",
                      key);
        error = DTK_EINVALID;
        goto out;
    }
    error = dtk_b64_encode_url(out, text.ptr, text.len);
out:
    /* The trees held the password too. */
    wipe_json(auth);
    wipe_json(config);
    dtk_json_free(auth);
    dtk_json_free(config);
    wipe(&userpass);
    wipe(&text);
    dtk_buf_dispose(&registry);
    return error;
}

/* ---- Inspect and remove -------------------------------------------------- */

static int image_path(dtk_buf *path, const char *name, const char *suffix)
{
    int error = dtk_buf_puts(path, "/images");

    if (error == 0) {
        error = dtk_docker__path_segment(path, name);
    }
    if (error == 0 && suffix != NULL) {
        error = dtk_buf_puts(path, suffix);
    }
    return error;
}

int dtk_docker_image_inspect(dtk_docker *client,
                             dtk_docker_image_info *out,
                             const char *name)
{
    dtk_buf path = DTK_BUF_INIT(0);
    dtk_buf w = DTK_BUF_INIT(0);
    dtk_json *doc = NULL;
    dtk_docker__req req = DTK_DOCKER__REQ_INIT;
    const dtk_json *tags;
    int64_t size = 0;
    int error;

    memset(out, 0, sizeof(*out));
    if (name == NULL || name[0] == '\0') {
        dtk_error_set(DTK_ERRCLASS_DOCKER, "inspect image: name is required");
        return DTK_EINVALID;
    }
    (void)dtk_buf_printf(&w, "inspect image '%s'", name);
    error = image_path(&path, name, "/json");
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
    out->id = dtk_docker__strdup_member(doc, "Id");
    tags = dtk_json_get(doc, "RepoTags");
    out->repo_tags = dtk_calloc(dtk_json_len(tags) + 1, sizeof(char *));
    for (size_t i = 0; i < dtk_json_len(tags); i++) {
        const char *t = dtk_json_string(dtk_json_at(tags, i));

        if (t != NULL) {
            out->repo_tags[out->repo_tag_count++] = dtk_strdup(t);
        }
    }
    if (dtk_json_int(&size, dtk_json_get(doc, "Size")) == 0) {
        out->size = size;
    }
    dtk_error_clear();
    out->raw = doc;
    doc = NULL;
out:
    dtk_json_free(doc);
    dtk_buf_dispose(&path);
    dtk_buf_dispose(&w);
    return error;
}

void dtk_docker_image_info_dispose(dtk_docker_image_info *info)
{
    dtk_free(info->id);
    for (size_t i = 0; i < info->repo_tag_count; i++) {
        dtk_free(info->repo_tags[i]);
    }
    dtk_free(info->repo_tags);
    dtk_json_free(info->raw);
    memset(info, 0, sizeof(*info));
}

int dtk_docker_image_remove(dtk_docker *client, const char *name, int force)
{
    dtk_buf path = DTK_BUF_INIT(0);
    dtk_buf w = DTK_BUF_INIT(0);
    dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;
    dtk_docker__req req = DTK_DOCKER__REQ_INIT;
    int error;

    if (name == NULL || name[0] == '\0') {
        dtk_error_set(DTK_ERRCLASS_DOCKER, "remove image: name is required");
        return DTK_EINVALID;
    }
    (void)dtk_buf_printf(&w, "remove image '%s'", name);
    error = image_path(&path, name, force ? "?force=1" : NULL);
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

/* ---- Pull ---------------------------------------------------------------- */

typedef struct pull_progress {
    dtk_buf line;
    char *error; /* the engine's last error message */
    int too_long;
} pull_progress;

static void pull_line(pull_progress *p)
{
    dtk_json *doc = NULL;
    const char *const detail_path[] = {"errorDetail", "message", NULL};
    const char *msg;

    if (p->line.len == 0 ||
        dtk_json_parse(&doc, p->line.ptr, p->line.len) < 0) {
        dtk_error_clear(); /* progress we cannot read is not a failure */
        return;
    }
    msg = dtk_json_string(dtk_json_path(doc, detail_path));
    if (msg == NULL) {
        msg = dtk_json_get_string(doc, "error");
    }
    if (msg != NULL) {
        dtk_free(p->error);
        p->error = dtk_strdup(msg);
    }
    dtk_json_free(doc);
}

static int on_pull_data(const char *data, size_t len, void *payload)
{
    pull_progress *p = payload;

    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\n') {
            pull_line(p);
            dtk_buf_reset(&p->line);
        } else if (dtk_buf_putc(&p->line, data[i]) < 0) {
            p->too_long = 1;
            return 1;
        }
    }
    return 0;
}

static int pull_error_code(const char *msg)
{
    if (strstr(msg, "not found") != NULL ||
        strstr(msg, "manifest unknown") != NULL ||
        strstr(msg, "repository does not exist") != NULL) {
        return DTK_ENOTFOUND;
    }
    if (strstr(msg, "unauthorized") != NULL ||
        strstr(msg, "authentication required") != NULL) {
        return DTK_EAUTH;
    }
    return DTK_ERROR;
}

int dtk_docker_image_pull(dtk_docker *client,
                          const char *image,
                          const dtk_docker_pull_options *options)
{
    dtk_docker_pull_options dflt = DTK_DOCKER_PULL_OPTIONS_INIT;
    dtk_buf name = DTK_BUF_INIT(0);
    dtk_buf tag = DTK_BUF_INIT(0);
    dtk_buf path = DTK_BUF_INIT(0);
    dtk_buf w = DTK_BUF_INIT(0);
    dtk_buf auth = DTK_BUF_INIT(0);
    dtk_buf header = DTK_BUF_INIT(0);
    const char *headers[2] = {NULL, NULL};
    dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;
    dtk_docker__req req = DTK_DOCKER__REQ_INIT;
    pull_progress progress;
    int error;

    memset(&progress, 0, sizeof(progress));
    dtk_buf_init(&progress.line, PULL_LINE_MAX);
    if (options == NULL) {
        options = &dflt;
    }
    if (image == NULL || image[0] == '\0') {
        dtk_error_set(DTK_ERRCLASS_DOCKER, "pull image: name is required");
        error = DTK_EINVALID;
        goto out;
    }
    (void)dtk_buf_printf(&w, "pull image '%s'", image);
    if (options->dockerconfigjson != NULL) {
        error =
            dtk_docker_registry_auth(&auth, options->dockerconfigjson, image);
        if (error == DTK_ENOTFOUND) {
            dtk_error_clear(); /* no entry for this registry: anonymous */
        } else if (error < 0) {
            dtk_error_prefix("%s", dtk_buf_cstr(&w));
            goto out;
        } else {
            error = dtk_buf_printf(&header, "X-Registry-Auth: %s",
                                   dtk_buf_cstr(&auth));
            if (error < 0) {
                goto out;
            }
            headers[0] = dtk_buf_cstr(&header);
        }
    }
    error = split_reference(&name, &tag, image);
    if (error == 0) {
        error = dtk_buf_puts(&path, "/images/create?fromImage=");
    }
    if (error == 0) {
        error = dtk_http_escape(&path, dtk_buf_cstr(&name));
    }
    if (error == 0) {
        error = dtk_buf_puts(&path, "&tag=");
    }
    if (error == 0) {
        error = dtk_http_escape(&path, dtk_buf_cstr(&tag));
    }
    if (error < 0) {
        goto out;
    }
    req.method = "POST";
    req.path = dtk_buf_cstr(&path);
    req.headers = headers;
    req.timeout_ms = options->timeout_ms > 0
                         ? options->timeout_ms
                         : DTK_DOCKER_DEFAULT_PULL_TIMEOUT_MS;
    req.what = dtk_buf_cstr(&w);
    error = dtk_docker__stream(client, &req, &resp, on_pull_data, &progress);
    if (error == DTK_ERROR && resp.status >= 500) {
        /* A 500 before the stream started: the words tell more. */
        error = pull_error_code(dtk_error_last()->message);
    }
    if (error < 0) {
        goto out;
    }
    if (progress.too_long) {
        dtk_error_set(DTK_ERRCLASS_DOCKER,
                      "%s: a progress line exceeds %zu bytes", dtk_buf_cstr(&w),
                      PULL_LINE_MAX);
        error = DTK_ETOOBIG;
        goto out;
    }
    pull_line(&progress); /* a last line without '\n' */
    if (progress.error != NULL) {
        dtk_error_set(DTK_ERRCLASS_DOCKER, "%s: %s", dtk_buf_cstr(&w),
                      progress.error);
        error = pull_error_code(progress.error);
    }
out:
    dtk_free(progress.error);
    dtk_buf_dispose(&progress.line);
    dtk_http_response_dispose(&resp);
    wipe(&auth);
    wipe(&header);
    dtk_buf_dispose(&name);
    dtk_buf_dispose(&tag);
    dtk_buf_dispose(&path);
    dtk_buf_dispose(&w);
    return error;
}

int dtk_docker_image_ensure(dtk_docker *client,
                            const char *image,
                            const dtk_docker_pull_options *options)
{
    dtk_docker_image_info info = DTK_DOCKER_IMAGE_INFO_INIT;
    int error = dtk_docker_image_inspect(client, &info, image);

    dtk_docker_image_info_dispose(&info);
    if (error == DTK_ENOTFOUND) {
        dtk_error_clear();
        error = dtk_docker_image_pull(client, image, options);
    }
    return error;
}

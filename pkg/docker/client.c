/* The Docker client handle, transport, version negotiation and the one place
 * where HTTP statuses become error codes (see docker.h).
 *
 * Unix sockets and TCP(+TLS) differ only in how the pkg/http client is made
 * and in the base URL: "http://localhost" over CURLOPT_UNIX_SOCKET_PATH, or
 * "http(s)://host:port". Everything above dtk_docker__call is shared.
 */
#include "pkg/docker/docker_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/error.h"

/* Longest engine message kept in an error (the error itself is bounded at
 * DTK_ERROR_MESSAGE_MAX). */
#define ENGINE_MESSAGE_MAX 400

static int parse_host(dtk_docker *c,
                      const dtk_docker_options *o,
                      dtk_http_client_options *ho,
                      int *tls_out)
{
    const char *host = o->host != NULL ? o->host : DTK_DOCKER_DEFAULT_HOST;
    int tls = o->tls || o->ca_pem != NULL || o->cert_pem != NULL ||
              o->key_pem != NULL;
    const char *rest;

    *tls_out = tls;
    if (strncmp(host, "unix://", 7) == 0) {
        rest = host + 7;
        if (rest[0] != '/') {
            dtk_error_set(DTK_ERRCLASS_DOCKER,
                          "docker host '%s': expected an absolute socket "
                          "path after unix://",
                          host);
            return DTK_EINVALID;
        }
        ho->unix_socket = rest;
        c->base_url = dtk_strdup("http://localhost");
        *tls_out = 0;
        return 0;
    }
    if (strncmp(host, "tcp://", 6) == 0) {
        dtk_buf url = DTK_BUF_INIT(0);
        const char *colon;

        rest = host + 6;
        if (rest[0] == '\0' || strchr(rest, '/') != NULL) {
            dtk_error_set(DTK_ERRCLASS_DOCKER,
                          "docker host '%s': expected tcp://host:port", host);
            return DTK_EINVALID;
        }
        /* An IPv6 literal is bracketed; its port follows "]:". */
        colon = strrchr(rest, ':');
        if (colon != NULL && strchr(rest, ']') != NULL &&
            colon < strchr(rest, ']')) {
            colon = NULL;
        }
        if (dtk_buf_printf(&url, "%s://%s", tls ? "https" : "http", rest) < 0 ||
            (colon == NULL &&
             dtk_buf_puts(&url, tls ? ":2376" : ":2375") < 0)) {
            dtk_buf_dispose(&url);
            return DTK_ETOOBIG;
        }
        c->base_url = dtk_buf_detach(&url);
        return 0;
    }
    if (strncmp(host, "http://", 7) == 0 || strncmp(host, "https://", 8) == 0) {
        size_t n = strlen(host);

        while (n > 0 && host[n - 1] == '/') {
            n--;
        }
        c->base_url = dtk_strndup(host, n);
        *tls_out = host[4] == 's';
        return 0;
    }
    dtk_error_set(DTK_ERRCLASS_DOCKER,
                  "docker host '%s': expected unix://, tcp://, http:// or "
                  "https://",
                  host);
    return DTK_EINVALID;
}

/* Parses "MAJOR.MINOR" (at most 5 digits each, nothing else). */
static int version_number(unsigned *major, unsigned *minor, const char *text)
{
    unsigned v[2] = {0, 0};
    const char *p = text;

    if (text == NULL) {
        return 0;
    }
    for (int i = 0; i < 2; i++) {
        const char *start = p;

        while (*p >= '0' && *p <= '9' && p - start < 5) {
            v[i] = v[i] * 10 + (unsigned)(*p - '0');
            p++;
        }
        if (p == start || (i == 0 && *p++ != '.')) {
            return 0;
        }
    }
    if (*p != '\0') {
        return 0;
    }
    *major = v[0];
    *minor = v[1];
    return 1;
}

int dtk_docker_new(dtk_docker **out, const dtk_docker_options *options)
{
    dtk_docker *c = dtk_calloc(1, sizeof(*c));
    dtk_http_client_options ho = DTK_HTTP_CLIENT_OPTIONS_INIT;
    int tls = 0;
    int error;

    *out = NULL;
    c->host = dtk_strdup(options->host != NULL ? options->host
                                               : DTK_DOCKER_DEFAULT_HOST);
    error = parse_host(c, options, &ho, &tls);
    if (error < 0) {
        goto out;
    }
    if ((options->cert_pem == NULL) != (options->key_pem == NULL)) {
        dtk_error_set(DTK_ERRCLASS_DOCKER,
                      "docker host '%s': a client certificate needs its key "
                      "and the key its certificate",
                      c->host);
        error = DTK_EINVALID;
        goto out;
    }
    if (options->api_version != NULL) {
        unsigned major, minor;

        if (!version_number(&major, &minor, options->api_version)) {
            dtk_error_set(DTK_ERRCLASS_DOCKER,
                          "api_version: expected MAJOR.MINOR, got '%s'",
                          options->api_version);
            error = DTK_EINVALID;
            goto out;
        }
        memcpy(c->api_version, options->api_version,
               strlen(options->api_version) + 1);
    }
    if (tls) {
        c->tls_identity = options->cert_pem != NULL;
        ho.ca_pem = options->ca_pem;
        ho.client_cert_pem = options->cert_pem;
        ho.client_key_pem = options->key_pem;
        ho.insecure_skip_verify = options->insecure_skip_verify;
    }
    ho.connect_timeout_ms = options->connect_timeout_ms;
    c->timeout_ms = options->timeout_ms > 0 ? options->timeout_ms
                                            : DTK_DOCKER_DEFAULT_TIMEOUT_MS;
    ho.timeout_ms = c->timeout_ms;
    error = dtk_http_client_new(&c->http, &ho);
    if (error < 0) {
        dtk_error_prefix("docker host '%s'", c->host);
        goto out;
    }
    *out = c;
    c = NULL;
out:
    dtk_docker_free(c);
    return error;
}

void dtk_docker_free(dtk_docker *client)
{
    if (client == NULL) {
        return;
    }
    dtk_http_client_free(client->http);
    dtk_free(client->host);
    dtk_free(client->base_url);
    dtk_free(client);
}

const char *dtk_docker_host(const dtk_docker *client)
{
    return client->host;
}

const char *dtk_docker_api_version(const dtk_docker *client)
{
    return client->api_version[0] ? client->api_version : NULL;
}

/* ---- Error mapping ------------------------------------------------------- */

/* The engine's message: {"message": "..."} or the first line of a plain
 * body, with control characters replaced, at most ENGINE_MESSAGE_MAX. */
static void engine_message(char *out, size_t size, const dtk_buf *body)
{
    dtk_json *doc = NULL;
    const char *msg = NULL;
    size_t n = 0;

    out[0] = '\0';
    if (body->len > 0 &&
        dtk_json_parse(&doc, dtk_buf_cstr(body), body->len) == 0) {
        msg = dtk_json_get_string(doc, "message");
    }
    if (msg == NULL && doc == NULL && body->len > 0) {
        msg = dtk_buf_cstr(body);
    }
    dtk_error_clear();
    for (; msg != NULL && msg[n] != '\0' && n + 1 < size; n++) {
        unsigned char ch = (unsigned char)msg[n];

        if (ch == '\n' || ch == '\r') {
            break;
        }
        out[n] = iscntrl(ch) ? ' ' : (char)ch;
    }
    while (n > 0 && out[n - 1] == ' ') {
        n--;
    }
    out[n] = '\0';
    dtk_json_free(doc);
}

int dtk_docker__status_error(long status,
                             const dtk_buf *body,
                             int flags,
                             const char *what)
{
    char msg[ENGINE_MESSAGE_MAX + 1];
    int code;

    switch (status) {
    case 400:
        code = DTK_EINVALID;
        break;
    case 401:
        code = DTK_EAUTH;
        break;
    case 403:
        code = DTK_ECONFLICT;
        break;
    case 404:
        code = DTK_ENOTFOUND;
        break;
    case 409:
        code = (flags & DTK_DOCKER__CREATE) ? DTK_EEXISTS : DTK_ECONFLICT;
        break;
    case 503:
        code = DTK_EUNAVAIL;
        break;
    default:
        code = DTK_ERROR;
        break;
    }
    engine_message(msg, sizeof(msg), body);
    if (msg[0] != '\0') {
        dtk_error_set(DTK_ERRCLASS_DOCKER, "%s: %s", what, msg);
    } else {
        dtk_error_set(DTK_ERRCLASS_DOCKER, "%s: http status %ld", what, status);
    }
    return code;
}

/* ---- Transport ----------------------------------------------------------- */

static int version_less(unsigned amaj,
                        unsigned amin,
                        unsigned bmaj,
                        unsigned bmin)
{
    return amaj < bmaj || (amaj == bmaj && amin < bmin);
}

/* GET /version into doc; the shared first half of negotiation and
 * dtk_docker_version. */
static int get_version_doc(dtk_docker *c, dtk_json **doc)
{
    dtk_docker__req req = DTK_DOCKER__REQ_INIT;

    req.method = "GET";
    req.path = "/version";
    req.flags = DTK_DOCKER__UNVERSIONED;
    req.what = "get engine version";
    return dtk_docker__call_json(c, &req, doc);
}

static int negotiate_from(dtk_docker *c, const dtk_json *doc)
{
    const char *server = dtk_json_get_string(doc, "ApiVersion");
    unsigned smaj, smin, maxmaj, maxmin, minmaj, minmin;

    if (!version_number(&smaj, &smin, server)) {
        dtk_error_set(DTK_ERRCLASS_DOCKER,
                      "docker engine '%s': /version has no usable ApiVersion",
                      c->host);
        return DTK_ERROR;
    }
    dtk_assert(version_number(&maxmaj, &maxmin, DTK_DOCKER_API_VERSION_MAX));
    dtk_assert(version_number(&minmaj, &minmin, DTK_DOCKER_API_VERSION_MIN));
    if (version_less(smaj, smin, minmaj, minmin)) {
        dtk_error_set(DTK_ERRCLASS_DOCKER,
                      "docker engine '%s': api version %u.%u is older than "
                      "the oldest supported, " DTK_DOCKER_API_VERSION_MIN,
                      c->host, smaj, smin);
        return DTK_ERROR;
    }
    if (version_less(maxmaj, maxmin, smaj, smin)) {
        smaj = maxmaj;
        smin = maxmin;
    }
    snprintf(c->api_version, sizeof(c->api_version), "%u.%u", smaj, smin);
    return 0;
}

static int negotiate(dtk_docker *c)
{
    dtk_json *doc = NULL;
    int error;

    if (c->api_version[0] != '\0') {
        return 0;
    }
    error = get_version_doc(c, &doc);
    if (error == 0) {
        error = negotiate_from(c, doc);
    }
    dtk_json_free(doc);
    return error;
}

/* With TLS 1.3 an engine that refuses our client certificate does so after
 * the client considers the handshake done: depending on timing curl then
 * reports the engine's "bad certificate" alert, or only that the
 * connection broke while sending or receiving. Say what it probably is. */
static void tls_hint(const dtk_docker *c, int error)
{
    const char *msg = dtk_error_last()->message;

    if (c->tls_identity && error == DTK_EUNAVAIL &&
        strstr(msg, "certificate") == NULL &&
        (strstr(msg, "sending data") != NULL ||
         strstr(msg, "receiving data") != NULL ||
         strstr(msg, "returned nothing") != NULL)) {
        char copy[DTK_ERROR_MESSAGE_MAX];

        snprintf(copy, sizeof(copy), "%s", msg);
        dtk_error_set(DTK_ERRCLASS_DOCKER,
                      "%s; the engine closed the TLS connection: it may not "
                      "accept this client certificate",
                      copy);
    }
}

static int perform(dtk_docker *c,
                   const dtk_docker__req *req,
                   dtk_http_response *resp,
                   dtk_http_data_cb cb,
                   void *payload)
{
    dtk_buf url = DTK_BUF_INIT(0);
    dtk_buf body = DTK_BUF_INIT(DTK_DOCKER_BODY_LIMIT);
    const char *headers[16];
    size_t nh = 0;
    dtk_http_request hr = DTK_HTTP_REQUEST_INIT;
    int error;

    if (!(req->flags & DTK_DOCKER__UNVERSIONED)) {
        error = negotiate(c);
        if (error < 0) {
            goto out;
        }
    }
    error = dtk_buf_puts(&url, c->base_url);
    if (error == 0 && !(req->flags & DTK_DOCKER__UNVERSIONED)) {
        error = dtk_buf_printf(&url, "/v%s", c->api_version);
    }
    if (error == 0) {
        error = dtk_buf_puts(&url, req->path);
    }
    if (error < 0) {
        goto out;
    }
    if (req->body != NULL) {
        error = dtk_json_write(&body, req->body);
        if (error < 0) {
            dtk_error_prefix("%s: request body", req->what);
            goto out;
        }
        headers[nh++] = "Content-Type: application/json";
    }
    for (size_t i = 0; req->headers != NULL && req->headers[i] != NULL &&
                       nh + 1 < sizeof(headers) / sizeof(headers[0]);
         i++) {
        headers[nh++] = req->headers[i];
    }
    headers[nh] = NULL;
    hr.method = req->method;
    hr.url = dtk_buf_cstr(&url);
    hr.headers = headers;
    if (req->body != NULL) {
        hr.body = dtk_buf_cstr(&body);
        hr.body_len = body.len;
    }
    hr.timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : c->timeout_ms;
    hr.response_limit = DTK_DOCKER_BODY_LIMIT;
    error = cb != NULL ? dtk_http_stream(c->http, &hr, resp, cb, payload)
                       : dtk_http_do(c->http, &hr, resp);
    if (error < 0) {
        dtk_error_prefix("%s: docker engine '%s'", req->what, c->host);
        tls_hint(c, error);
        goto out;
    }
    if ((resp->status >= 200 && resp->status < 300) || resp->status == 304) {
        error = 0;
        goto out;
    }
    error = dtk_docker__status_error(resp->status, &resp->body, req->flags,
                                     req->what);
out:
    dtk_buf_dispose(&url);
    dtk_buf_dispose(&body);
    return error;
}

int dtk_docker__call(dtk_docker *c,
                     const dtk_docker__req *req,
                     dtk_http_response *resp)
{
    return perform(c, req, resp, NULL, NULL);
}

int dtk_docker__stream(dtk_docker *c,
                       const dtk_docker__req *req,
                       dtk_http_response *resp,
                       dtk_http_data_cb cb,
                       void *payload)
{
    return perform(c, req, resp, cb, payload);
}

int dtk_docker__call_json(dtk_docker *c,
                          const dtk_docker__req *req,
                          dtk_json **out)
{
    dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;
    int error;

    *out = NULL;
    error = dtk_docker__call(c, req, &resp);
    if (error < 0) {
        goto out;
    }
    error = dtk_json_parse(out, dtk_buf_cstr(&resp.body), resp.body.len);
    if (error < 0) {
        dtk_error_prefix("%s: engine response", req->what);
        error = DTK_ERROR;
    }
out:
    dtk_http_response_dispose(&resp);
    return error;
}

int dtk_docker__create(dtk_docker *c, const dtk_docker__req *req,
                       char **id_out)
{
    dtk_json *doc = NULL;
    const char *id;
    int error = dtk_docker__call_json(c, req, &doc);

    if (error < 0) {
        return error;
    }
    id = dtk_json_get_string(doc, "Id");
    if (id == NULL) {
        dtk_error_set(DTK_ERRCLASS_DOCKER, "%s: engine response has no Id",
                      req->what);
        error = DTK_ERROR;
    } else if (id_out != NULL) {
        *id_out = dtk_strdup(id);
    }
    dtk_json_free(doc);
    return error;
}

int dtk_docker__get_list(dtk_docker *c,
                         const char *path,
                         const char *what,
                         dtk_json **out)
{
    dtk_docker__req req = DTK_DOCKER__REQ_INIT;
    int error;

    req.method = "GET";
    req.path = path;
    req.what = what;
    error = dtk_docker__call_json(c, &req, out);
    if (error == 0 && (*out)->type != DTK_JSON_ARRAY) {
        dtk_error_set(DTK_ERRCLASS_DOCKER,
                      "%s: engine response is not an array", what);
        dtk_json_free(*out);
        *out = NULL;
        error = DTK_ERROR;
    }
    return error;
}

/* ---- Ping and version ---------------------------------------------------- */

int dtk_docker_ping(dtk_docker *client)
{
    dtk_docker__req req = DTK_DOCKER__REQ_INIT;
    dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;
    int error;

    req.method = "GET";
    req.path = "/_ping";
    req.flags = DTK_DOCKER__UNVERSIONED;
    req.what = "ping";
    error = dtk_docker__call(client, &req, &resp);
    if (error == 0 && strcmp(dtk_buf_cstr(&resp.body), "OK") != 0) {
        dtk_error_set(DTK_ERRCLASS_DOCKER,
                      "ping: docker engine '%s' did not answer OK",
                      client->host);
        error = DTK_ERROR;
    }
    dtk_http_response_dispose(&resp);
    return error;
}

int dtk_docker_version(dtk_docker *client, dtk_docker_version_info *out)
{
    dtk_json *doc = NULL;
    int error;

    error = get_version_doc(client, &doc);
    if (error < 0) {
        goto out;
    }
    if (client->api_version[0] == '\0') {
        error = negotiate_from(client, doc);
        if (error < 0) {
            goto out;
        }
    }
    out->version = dtk_docker__strdup_member(doc, "Version");
    out->api_version = dtk_docker__strdup_member(doc, "ApiVersion");
    out->min_api_version = dtk_docker__strdup_member(doc, "MinAPIVersion");
    out->os = dtk_docker__strdup_member(doc, "Os");
    out->arch = dtk_docker__strdup_member(doc, "Arch");
    out->kernel_version = dtk_docker__strdup_member(doc, "KernelVersion");
out:
    dtk_json_free(doc);
    return error;
}

void dtk_docker_version_info_dispose(dtk_docker_version_info *info)
{
    dtk_free(info->version);
    dtk_free(info->api_version);
    dtk_free(info->min_api_version);
    dtk_free(info->os);
    dtk_free(info->arch);
    dtk_free(info->kernel_version);
    memset(info, 0, sizeof(*info));
}

/* ---- Helpers shared by the other files ----------------------------------- */

int dtk_docker__path_segment(dtk_buf *path, const char *segment)
{
    int error = dtk_buf_putc(path, '/');

    return error < 0 ? error : dtk_http_escape(path, segment);
}

int dtk_docker__filters(dtk_buf *query,
                        const dtk_docker_list_options *opts,
                        char sep)
{
    dtk_json *filters = NULL;
    char *text = NULL;
    int error = 0;

    if (opts == NULL || ((opts->labels == NULL || opts->labels[0] == NULL) &&
                         opts->name == NULL)) {
        return 0;
    }
    filters = dtk_json_new_object();
    if (opts->labels != NULL && opts->labels[0] != NULL) {
        dtk_json_set(filters, "label", dtk_docker__string_array(opts->labels));
    }
    if (opts->name != NULL) {
        dtk_json *names = dtk_json_new_array();

        dtk_json_append(names, dtk_json_new_string(opts->name));
        dtk_json_set(filters, "name", names);
    }
    text = dtk_json_to_string(filters);
    if (text == NULL) {
        dtk_error_set(DTK_ERRCLASS_DOCKER,
                      "list filters: labels must be valid UTF-8");
        error = DTK_EINVALID;
        goto out;
    }
    error = dtk_buf_putc(query, sep);
    if (error == 0) {
        error = dtk_buf_puts(query, "filters=");
    }
    if (error == 0) {
        error = dtk_http_escape(query, text);
    }
out:
    dtk_free(text);
    dtk_json_free(filters);
    return error;
}

char *dtk_docker__strdup_member(const dtk_json *obj, const char *key)
{
    const char *s = dtk_json_get_string(obj, key);

    return s != NULL ? dtk_strdup(s) : NULL;
}

void dtk_docker__labels_decode(dtk_docker_labels *out, const dtk_json *obj)
{
    size_t n = 0;

    out->items = NULL;
    out->count = 0;
    if (obj == NULL || obj->type != DTK_JSON_OBJECT || obj->u.object.len == 0) {
        return;
    }
    out->items = dtk_calloc(obj->u.object.len, sizeof(dtk_docker_label));
    for (size_t i = 0; i < obj->u.object.len; i++) {
        const char *v = dtk_json_string(obj->u.object.values[i]);

        if (v == NULL) {
            continue;
        }
        out->items[n].key = dtk_strdup(obj->u.object.keys[i]);
        out->items[n].value = dtk_strdup(v);
        n++;
    }
    out->count = n;
}

void dtk_docker__labels_dispose(dtk_docker_labels *labels)
{
    for (size_t i = 0; i < labels->count; i++) {
        dtk_free(labels->items[i].key);
        dtk_free(labels->items[i].value);
    }
    dtk_free(labels->items);
    labels->items = NULL;
    labels->count = 0;
}

const char *dtk_docker_labels_get(const dtk_docker_labels *labels,
                                  const char *key)
{
    for (size_t i = 0; i < labels->count; i++) {
        if (strcmp(labels->items[i].key, key) == 0) {
            return labels->items[i].value;
        }
    }
    return NULL;
}

dtk_json *dtk_docker__string_array(const char *const *items)
{
    dtk_json *arr = dtk_json_new_array();

    for (size_t i = 0; items != NULL && items[i] != NULL; i++) {
        dtk_json_append(arr, dtk_json_new_string(items[i]));
    }
    return arr;
}

void dtk_docker_output_dispose(dtk_docker_output *output)
{
    dtk_buf_dispose(&output->out);
    dtk_buf_dispose(&output->err);
    output->truncated = 0;
}

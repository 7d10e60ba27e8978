/* The OSB client: requests, headers, and turning HTTP results into replies.
 *
 * Request bodies are built as dtk_json trees and written by the generator;
 * ids are percent-encoded into URLs; the operation string is echoed exactly
 * as the broker returned it, percent-encoded. Raw response bytes are wiped
 * before they are freed, because bind and fetch-binding responses carry
 * credentials. Only a DEBUG line per request is logged, without bodies.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/error.h"
#include "pkg/base/log.h"
#include "pkg/http/http.h"
#include "pkg/osb/osb.h"
#include "pkg/osb/osb_int.h"

#define BODY_LIMIT ((size_t)4 * 1024 * 1024)
#define URL_LIMIT  ((size_t)64 * 1024)
#define MAX_ID_LEN 1024

struct dtk_osb_client {
    dtk_http_client *http;
    char *base; /* without a trailing '/' */
    char *username;
    char *password;
    char *token;
    size_t response_limit;
    size_t catalog_limit;
    uint64_t rng;
};

static void free_secret(char *s)
{
    if (s != NULL) {
        dtk_osb__wipe(s, strlen(s));
        dtk_free(s);
    }
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint64_t seed(void)
{
    uint64_t s = 0;
    struct timespec ts;
    int fd = open("/dev/urandom", O_RDONLY);

    if (fd >= 0) {
        if (read(fd, &s, sizeof(s)) != (ssize_t)sizeof(s)) {
            s = 0;
        }
        close(fd);
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    return s ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^
           ((uint64_t)getpid() << 16);
}

/* A random (version 4) GUID: request identities only need to be unique. */
static void new_guid(char out[37], uint64_t *state)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    uint64_t a = splitmix64(state);
    uint64_t c = splitmix64(state);
    int j = 0;

    for (int i = 0; i < 8; i++) {
        b[i] = (unsigned char)(a >> (8 * i));
        b[8 + i] = (unsigned char)(c >> (8 * i));
    }
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out[j++] = '-';
        }
        out[j++] = hex[b[i] >> 4];
        out[j++] = hex[b[i] & 15];
    }
    out[j] = '\0';
}

int dtk_osb_client_new(dtk_osb_client **out, const dtk_osb_options *options)
{
    dtk_osb_client *c = NULL;
    dtk_http_client_options ho = DTK_HTTP_CLIENT_OPTIONS_INIT;
    size_t n;
    int error;

    *out = NULL;
    if (options->url == NULL || (strncmp(options->url, "http://", 7) != 0 &&
                                 strncmp(options->url, "https://", 8) != 0)) {
        dtk_error_set(DTK_ERRCLASS_OSB,
                      "broker url: expected an http:// or https:// URL");
        return DTK_EINVALID;
    }
    if (options->bearer_token != NULL && options->username != NULL) {
        dtk_error_set(DTK_ERRCLASS_OSB,
                      "broker auth: give either basic auth or a bearer "
                      "token, not both");
        return DTK_EINVALID;
    }
    ho.ca_pem = options->ca_pem;
    ho.insecure_skip_verify = options->insecure_skip_verify;
    ho.connect_timeout_ms = options->connect_timeout_ms > 0
                                ? options->connect_timeout_ms
                                : DTK_OSB_DEFAULT_CONNECT_TIMEOUT_MS;
    ho.timeout_ms = options->timeout_ms > 0 ? options->timeout_ms
                                            : DTK_OSB_DEFAULT_TIMEOUT_MS;
    c = dtk_calloc(1, sizeof(*c));
    error = dtk_http_client_new(&c->http, &ho);
    if (error < 0) {
        dtk_free(c);
        return error;
    }
    n = strlen(options->url);
    while (n > 0 && options->url[n - 1] == '/') {
        n--;
    }
    c->base = dtk_strndup(options->url, n);
    c->username = options->username ? dtk_strdup(options->username) : NULL;
    c->password = options->password ? dtk_strdup(options->password) : NULL;
    c->token = options->bearer_token ? dtk_strdup(options->bearer_token) : NULL;
    c->response_limit = options->response_limit ? options->response_limit
                                                : DTK_OSB_RESPONSE_LIMIT;
    c->catalog_limit =
        options->catalog_limit ? options->catalog_limit : DTK_OSB_CATALOG_LIMIT;
    c->rng = seed();
    *out = c;
    return 0;
}

void dtk_osb_client_free(dtk_osb_client *client)
{
    if (client == NULL) {
        return;
    }
    dtk_http_client_free(client->http);
    dtk_free(client->base);
    dtk_free(client->username);
    free_secret(client->password);
    free_secret(client->token);
    dtk_free(client);
}

/* ---- request building ------------------------------------------------ */

static int base64(dtk_buf *out, const unsigned char *in, size_t len)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    int error = 0;

    for (size_t i = 0; i < len && error == 0; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        char q[4];

        if (i + 1 < len) {
            v |= (unsigned)in[i + 1] << 8;
        }
        if (i + 2 < len) {
            v |= in[i + 2];
        }
        q[0] = tab[(v >> 18) & 63];
        q[1] = tab[(v >> 12) & 63];
        q[2] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
        q[3] = i + 2 < len ? tab[v & 63] : '=';
        error = dtk_buf_put(out, q, 4);
    }
    return error;
}

static int valid_extra(const dtk_json *extra)
{
    if (extra->type != DTK_JSON_OBJECT) {
        return 0;
    }
    for (size_t i = 0; i < extra->u.object.len; i++) {
        const dtk_json *list = extra->u.object.values[i];

        if (list->type != DTK_JSON_ARRAY) {
            return 0;
        }
        for (size_t j = 0; j < dtk_json_len(list); j++) {
            if (dtk_json_at(list, j)->type != DTK_JSON_STRING) {
                return 0;
            }
        }
    }
    return 1;
}

int dtk_osb_identity_header(dtk_buf *out, const dtk_osb_identity *identity)
{
    dtk_json *doc = NULL;
    dtk_json *groups;
    dtk_buf text = DTK_BUF_INIT(256 * 1024);
    int error = 0;

    if (identity->username == NULL || identity->uid == NULL) {
        dtk_error_set(DTK_ERRCLASS_OSB,
                      "identity: username and uid are required");
        return DTK_EINVALID;
    }
    if (identity->extra != NULL && !valid_extra(identity->extra)) {
        dtk_error_set(DTK_ERRCLASS_OSB,
                      "identity.extra: expected an object of string arrays");
        return DTK_EINVALID;
    }
    doc = dtk_json_new_object();
    dtk_json_set(doc, "username", dtk_json_new_string(identity->username));
    dtk_json_set(doc, "uid", dtk_json_new_string(identity->uid));
    groups = dtk_json_new_array();
    for (size_t i = 0; identity->groups && identity->groups[i]; i++) {
        dtk_json_append(groups, dtk_json_new_string(identity->groups[i]));
    }
    dtk_json_set(doc, "groups", groups);
    dtk_json_set(doc, "extra",
                 identity->extra ? dtk_json_copy(identity->extra)
                                 : dtk_json_new_object());
    error = dtk_json_write(&text, doc);
    if (error < 0) {
        dtk_error_prefix("identity");
        goto out;
    }
    if ((error = dtk_buf_puts(out, "kubernetes ")) < 0 ||
        (error = base64(out, (const unsigned char *)text.ptr, text.len)) < 0) {
        dtk_error_set(DTK_ERRCLASS_OSB, "identity: header too large");
        goto out;
    }
out:
    dtk_json_free(doc);
    dtk_buf_dispose(&text);
    return error;
}

/* Fails the call before anything is sent. */
static int invalid(dtk_osb_reply *reply, dtk_osb_op op, const char *reason)
{
    dtk_osb_reply_dispose(reply);
    reply->op = op;
    reply->decision.action = DTK_OSB_FAILED;
    reply->decision.error = DTK_EINVALID;
    reply->decision.reason = reason;
    return DTK_EINVALID;
}

/* An id is non-empty, bounded, and free of control characters (it also
 * goes into headers and must not split them). */
static int check_id(const char *value, const char *name)
{
    size_t n;

    if (value == NULL || value[0] == '\0') {
        dtk_error_set(DTK_ERRCLASS_OSB, "%s: required", name);
        return DTK_EINVALID;
    }
    n = strlen(value);
    if (n > MAX_ID_LEN) {
        dtk_error_set(DTK_ERRCLASS_OSB, "%s: longer than %d bytes", name,
                      MAX_ID_LEN);
        return DTK_EINVALID;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)value[i];

        if (ch < 0x20 || ch == 0x7f) {
            dtk_error_set(DTK_ERRCLASS_OSB, "%s: contains a control character",
                          name);
            return DTK_EINVALID;
        }
    }
    return 0;
}

static int check_context(const dtk_osb_context *ctx, int need_name)
{
    if (ctx == NULL) {
        dtk_error_set(DTK_ERRCLASS_OSB, "context: required");
        return DTK_EINVALID;
    }
    if (check_id(ctx->clusterid, "context.clusterid") < 0 ||
        check_id(ctx->namespace, "context.namespace") < 0 ||
        (need_name &&
         check_id(ctx->instance_name, "context.instance_name") < 0)) {
        return DTK_EINVALID;
    }
    if ((ctx->namespace_annotations != NULL &&
         ctx->namespace_annotations->type != DTK_JSON_OBJECT) ||
        (ctx->instance_annotations != NULL &&
         ctx->instance_annotations->type != DTK_JSON_OBJECT)) {
        dtk_error_set(DTK_ERRCLASS_OSB, "context: annotations must be objects");
        return DTK_EINVALID;
    }
    return 0;
}

static dtk_json *context_json(const dtk_osb_context *ctx, int full)
{
    dtk_json *o = dtk_json_new_object();

    dtk_json_set(o, "platform", dtk_json_new_string("kubernetes"));
    dtk_json_set(o, "namespace", dtk_json_new_string(ctx->namespace));
    dtk_json_set(o, "clusterid", dtk_json_new_string(ctx->clusterid));
    if (ctx->instance_name != NULL) {
        dtk_json_set(o, "instance_name",
                     dtk_json_new_string(ctx->instance_name));
    }
    if (full && ctx->namespace_annotations != NULL) {
        dtk_json_set(o, "namespace_annotations",
                     dtk_json_copy(ctx->namespace_annotations));
    }
    if (full && ctx->instance_annotations != NULL) {
        dtk_json_set(o, "instance_annotations",
                     dtk_json_copy(ctx->instance_annotations));
    }
    return o;
}

static const char *space_guid(const dtk_osb_context *ctx)
{
    return ctx->namespace_uid != NULL ? ctx->namespace_uid : ctx->namespace;
}

static dtk_json *maintenance_json(const char *version)
{
    dtk_json *o = dtk_json_new_object();

    dtk_json_set(o, "version", dtk_json_new_string(version));
    return o;
}

/* Validates parameters (type, schema) before anything is sent. */
static int check_parameters(const dtk_osb_request *req)
{
    if (req->parameters != NULL && req->parameters->type != DTK_JSON_OBJECT) {
        dtk_error_set(DTK_ERRCLASS_INVALID, "parameters: must be an object");
        return DTK_EINVALID;
    }
    if (req->parameters_schema != NULL) {
        return dtk_osb_schema_validate(req->parameters_schema, req->parameters);
    }
    return 0;
}

static int add_path(dtk_buf *url, const char *prefix, const char *id)
{
    int error = dtk_buf_puts(url, prefix);

    return error < 0 ? error : dtk_http_escape(url, id);
}

static int add_query(dtk_buf *url, const char *key, const char *value)
{
    int error;

    if (value == NULL) {
        return 0;
    }
    error = dtk_buf_printf(
        url, "%s%s=", strchr(dtk_buf_cstr(url), '?') ? "&" : "?", key);
    return error < 0 ? error : dtk_http_escape(url, value);
}

/* base/v2/service_instances/:iid[/service_bindings/:bid] */
static int resource_url(dtk_buf *url,
                        const dtk_osb_client *c,
                        const char *instance_id,
                        const char *binding_id)
{
    int error = dtk_buf_puts(url, c->base);

    if (error == 0) {
        error = add_path(url, "/v2/service_instances/", instance_id);
    }
    if (error == 0 && binding_id != NULL) {
        error = add_path(url, "/service_bindings/", binding_id);
    }
    return error;
}

/* ---- performing ------------------------------------------------------ */

static int finish(dtk_osb_reply *reply)
{
    char msg[DTK_ERROR_MESSAGE_MAX];

    switch (reply->decision.action) {
    case DTK_OSB_DONE:
    case DTK_OSB_POLL:
    case DTK_OSB_GONE:
        dtk_error_clear();
        return 0;
    default:
        dtk_osb_describe(msg, sizeof(msg), reply);
        dtk_error_set(DTK_ERRCLASS_OSB, "%s", msg);
        return reply->decision.error < 0 ? reply->decision.error : DTK_ERROR;
    }
}

static int perform(dtk_osb_reply *reply,
                   dtk_osb_client *c,
                   dtk_osb_op op,
                   const char *method,
                   const char *url,
                   const dtk_buf *body,
                   const dtk_osb_request *req,
                   size_t limit)
{
    const char *headers[8];
    size_t nh = 0;
    dtk_buf idh = DTK_BUF_INIT(512 * 1024);
    char ridh[MAX_ID_LEN + 64];
    char guid[37];
    const char *rid = req != NULL ? req->request_id : NULL;
    dtk_http_request hr = DTK_HTTP_REQUEST_INIT;
    dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;
    int rc;
    int error = 0;

    dtk_osb_reply_dispose(reply);
    reply->op = op;
    if (rid == NULL) {
        new_guid(guid, &c->rng);
        rid = guid;
    } else if (check_id(rid, "request_id") < 0) {
        return invalid(reply, op, "InvalidRequest");
    }
    headers[nh++] = "X-Broker-API-Version: " DTK_OSB_API_VERSION;
    headers[nh++] = "Accept: application/json";
    if (body != NULL) {
        headers[nh++] = "Content-Type: application/json";
    }
    /* Cannot truncate: rid is at most MAX_ID_LEN bytes (check_id). */
    snprintf(ridh, sizeof(ridh), "X-Broker-API-Request-Identity: %s", rid);
    headers[nh++] = ridh;
    if (req != NULL && req->identity != NULL) {
        if ((error = dtk_buf_puts(&idh,
                                  "X-Broker-API-Originating-Identity: ")) < 0 ||
            (error = dtk_osb_identity_header(&idh, req->identity)) < 0) {
            dtk_buf_dispose(&idh);
            return invalid(reply, op, "InvalidRequest");
        }
        headers[nh++] = dtk_buf_cstr(&idh);
    }
    headers[nh] = NULL;

    hr.method = method;
    hr.url = url;
    hr.headers = headers;
    hr.body = body ? body->ptr : NULL;
    hr.body_len = body ? body->len : 0;
    hr.response_limit = limit;
    hr.username = c->username;
    hr.password = c->password;
    hr.bearer_token = c->token;
    rc = dtk_http_do(c->http, &hr, &resp);
    if (rc < 0) {
        dtk_osb_reply_transport_failure(reply, op, resp.status, rc);
    } else {
        dtk_osb_reply_parse(reply, op, resp.status,
                            dtk_http_response_header(&resp, "Retry-After"),
                            resp.body.ptr, resp.body.len, 0);
    }
    snprintf(reply->request_id, sizeof(reply->request_id), "%.39s", rid);
    dtk_log(DTK_LOG_DEBUG, NULL, "OSB request",
            "op=\"%s\" status=%ld action=%s reason=%s request_id=%s",
            dtk_osb_op_name(op), reply->status,
            dtk_osb_action_name(reply->decision.action),
            reply->decision.reason ? reply->decision.reason : "-",
            reply->request_id);
    /* The raw bytes may hold credentials. */
    dtk_osb__wipe(resp.body.ptr, resp.body.len);
    dtk_http_response_dispose(&resp);
    dtk_buf_dispose(&idh);
    return finish(reply);
}

static int write_body(dtk_buf *out, const dtk_json *doc)
{
    int error = dtk_json_write(out, doc);

    if (error < 0) {
        dtk_error_prefix("request body");
    }
    return error;
}

/* The common tail of provision, update and bind: writes doc (stolen) as
 * the body, sends it to the instance (or binding) with
 * accepts_incomplete=true, and wipes the body afterwards because parameters
 * may hold secrets. */
static int send_document(dtk_osb_reply *reply,
                         dtk_osb_client *client,
                         dtk_osb_op op,
                         const char *method,
                         const char *binding_id,
                         dtk_json *doc,
                         const dtk_osb_request *req)
{
    dtk_buf url = DTK_BUF_INIT(URL_LIMIT);
    dtk_buf body = DTK_BUF_INIT(BODY_LIMIT);
    int error;

    error = write_body(&body, doc);
    if (error == 0) {
        error = resource_url(&url, client, req->instance_id, binding_id);
    }
    if (error == 0) {
        error = add_query(&url, "accepts_incomplete", "true");
    }
    if (error < 0) {
        invalid(reply, op, "InvalidRequest");
        goto out;
    }
    error = perform(reply, client, op, method, dtk_buf_cstr(&url), &body, req,
                    client->response_limit);
out:
    dtk_osb__json_wipe_free(doc);
    dtk_osb__wipe(body.ptr, body.len);
    dtk_buf_dispose(&url);
    dtk_buf_dispose(&body);
    return error;
}

int dtk_osb_provision(dtk_osb_reply *reply,
                      dtk_osb_client *client,
                      const dtk_osb_request *req)
{
    const dtk_osb_op op = DTK_OSB_OP_PROVISION;
    dtk_json *doc = NULL;

    if (check_id(req->instance_id, "instance_id") < 0 ||
        check_id(req->service_id, "service_id") < 0 ||
        check_id(req->plan_id, "plan_id") < 0 ||
        check_context(req->context, 1) < 0) {
        return invalid(reply, op, "InvalidRequest");
    }
    if (check_parameters(req) < 0) {
        return invalid(reply, op, "InvalidParameters");
    }
    doc = dtk_json_new_object();
    dtk_json_set(doc, "service_id", dtk_json_new_string(req->service_id));
    dtk_json_set(doc, "plan_id", dtk_json_new_string(req->plan_id));
    dtk_json_set(doc, "organization_guid",
                 dtk_json_new_string(req->context->clusterid));
    dtk_json_set(doc, "space_guid",
                 dtk_json_new_string(space_guid(req->context)));
    dtk_json_set(doc, "context", context_json(req->context, 1));
    if (req->parameters != NULL) {
        dtk_json_set(doc, "parameters", dtk_json_copy(req->parameters));
    }
    if (req->maintenance_version != NULL) {
        dtk_json_set(doc, "maintenance_info",
                     maintenance_json(req->maintenance_version));
    }
    return send_document(reply, client, op, "PUT", NULL, doc, req);
}

int dtk_osb_update(dtk_osb_reply *reply,
                   dtk_osb_client *client,
                   const dtk_osb_request *req)
{
    const dtk_osb_op op = DTK_OSB_OP_UPDATE;
    dtk_json *doc = NULL;
    dtk_json *prev;

    if (check_id(req->instance_id, "instance_id") < 0 ||
        check_id(req->service_id, "service_id") < 0 ||
        (req->plan_id != NULL && check_id(req->plan_id, "plan_id") < 0) ||
        (req->context != NULL && check_context(req->context, 1) < 0)) {
        return invalid(reply, op, "InvalidRequest");
    }
    if (check_parameters(req) < 0) {
        return invalid(reply, op, "InvalidParameters");
    }
    doc = dtk_json_new_object();
    dtk_json_set(doc, "service_id", dtk_json_new_string(req->service_id));
    if (req->plan_id != NULL) {
        dtk_json_set(doc, "plan_id", dtk_json_new_string(req->plan_id));
    }
    if (req->parameters != NULL) {
        dtk_json_set(doc, "parameters", dtk_json_copy(req->parameters));
    }
    if (req->context != NULL) {
        dtk_json_set(doc, "context", context_json(req->context, 1));
    }
    if (req->maintenance_version != NULL) {
        dtk_json_set(doc, "maintenance_info",
                     maintenance_json(req->maintenance_version));
    }
    if (req->previous_plan_id != NULL ||
        req->previous_maintenance_version != NULL) {
        prev = dtk_json_new_object();
        if (req->previous_plan_id != NULL) {
            dtk_json_set(prev, "plan_id",
                         dtk_json_new_string(req->previous_plan_id));
        }
        if (req->previous_maintenance_version != NULL) {
            dtk_json_set(prev, "maintenance_info",
                         maintenance_json(req->previous_maintenance_version));
        }
        dtk_json_set(doc, "previous_values", prev);
    }
    return send_document(reply, client, op, "PATCH", NULL, doc, req);
}

static int delete_resource(dtk_osb_reply *reply,
                           dtk_osb_client *client,
                           const dtk_osb_request *req,
                           dtk_osb_op op)
{
    dtk_buf url = DTK_BUF_INIT(URL_LIMIT);
    const char *binding = op == DTK_OSB_OP_UNBIND ? req->binding_id : NULL;
    int error;

    if (check_id(req->instance_id, "instance_id") < 0 ||
        (op == DTK_OSB_OP_UNBIND &&
         check_id(req->binding_id, "binding_id") < 0) ||
        check_id(req->service_id, "service_id") < 0 ||
        check_id(req->plan_id, "plan_id") < 0) {
        return invalid(reply, op, "InvalidRequest");
    }
    if ((error = resource_url(&url, client, req->instance_id, binding)) < 0 ||
        (error = add_query(&url, "accepts_incomplete", "true")) < 0 ||
        (error = add_query(&url, "service_id", req->service_id)) < 0 ||
        (error = add_query(&url, "plan_id", req->plan_id)) < 0) {
        invalid(reply, op, "InvalidRequest");
        goto out;
    }
    error = perform(reply, client, op, "DELETE", dtk_buf_cstr(&url), NULL, req,
                    client->response_limit);
out:
    dtk_buf_dispose(&url);
    return error;
}

int dtk_osb_deprovision(dtk_osb_reply *reply,
                        dtk_osb_client *client,
                        const dtk_osb_request *req)
{
    return delete_resource(reply, client, req, DTK_OSB_OP_DEPROVISION);
}

int dtk_osb_unbind(dtk_osb_reply *reply,
                   dtk_osb_client *client,
                   const dtk_osb_request *req)
{
    return delete_resource(reply, client, req, DTK_OSB_OP_UNBIND);
}

int dtk_osb_bind(dtk_osb_reply *reply,
                 dtk_osb_client *client,
                 const dtk_osb_request *req)
{
    const dtk_osb_op op = DTK_OSB_OP_BIND;
    dtk_json *doc = NULL;
    dtk_json *resource;
    const char *app_guid;

    if (check_id(req->instance_id, "instance_id") < 0 ||
        check_id(req->binding_id, "binding_id") < 0 ||
        check_id(req->service_id, "service_id") < 0 ||
        check_id(req->plan_id, "plan_id") < 0 ||
        check_context(req->context, 0) < 0 ||
        (req->predecessor_binding_id != NULL &&
         check_id(req->predecessor_binding_id, "predecessor_binding_id") < 0)) {
        return invalid(reply, op, "InvalidRequest");
    }
    if (check_parameters(req) < 0) {
        return invalid(reply, op, "InvalidParameters");
    }
    app_guid = req->app_guid ? req->app_guid : space_guid(req->context);
    doc = dtk_json_new_object();
    dtk_json_set(doc, "service_id", dtk_json_new_string(req->service_id));
    dtk_json_set(doc, "plan_id", dtk_json_new_string(req->plan_id));
    dtk_json_set(doc, "context", context_json(req->context, 0));
    resource = dtk_json_new_object();
    dtk_json_set(resource, "app_guid", dtk_json_new_string(app_guid));
    dtk_json_set(doc, "bind_resource", resource);
    /* Deprecated, but brokers written for CF still read it. */
    dtk_json_set(doc, "app_guid", dtk_json_new_string(app_guid));
    if (req->parameters != NULL) {
        dtk_json_set(doc, "parameters", dtk_json_copy(req->parameters));
    }
    if (req->predecessor_binding_id != NULL) {
        dtk_json_set(doc, "predecessor_binding_id",
                     dtk_json_new_string(req->predecessor_binding_id));
    }
    return send_document(reply, client, op, "PUT", req->binding_id, doc, req);
}

int dtk_osb_last_operation(dtk_osb_reply *reply,
                           dtk_osb_client *client,
                           const dtk_osb_request *req)
{
    dtk_buf url = DTK_BUF_INIT(URL_LIMIT);
    dtk_osb_op op;
    int binding;
    int error;

    switch (req->polled) {
    case DTK_OSB_OP_PROVISION:
        op = DTK_OSB_OP_POLL_PROVISION;
        break;
    case DTK_OSB_OP_UPDATE:
        op = DTK_OSB_OP_POLL_UPDATE;
        break;
    case DTK_OSB_OP_DEPROVISION:
        op = DTK_OSB_OP_POLL_DEPROVISION;
        break;
    case DTK_OSB_OP_BIND:
        op = DTK_OSB_OP_POLL_BIND;
        break;
    case DTK_OSB_OP_UNBIND:
        op = DTK_OSB_OP_POLL_UNBIND;
        break;
    default:
        dtk_error_set(DTK_ERRCLASS_OSB,
                      "polled: expected provision, update, deprovision, "
                      "bind or unbind");
        return invalid(reply, DTK_OSB_OP_POLL_PROVISION, "InvalidRequest");
    }
    binding = op == DTK_OSB_OP_POLL_BIND || op == DTK_OSB_OP_POLL_UNBIND;
    if (check_id(req->instance_id, "instance_id") < 0 ||
        (binding && check_id(req->binding_id, "binding_id") < 0) ||
        (req->operation != NULL && strlen(req->operation) > 10000)) {
        if (req->operation != NULL && strlen(req->operation) > 10000) {
            dtk_error_set(DTK_ERRCLASS_OSB,
                          "operation: longer than 10000 characters");
        }
        return invalid(reply, op, "InvalidRequest");
    }
    if ((error = resource_url(&url, client, req->instance_id,
                              binding ? req->binding_id : NULL)) < 0 ||
        (error = dtk_buf_puts(&url, "/last_operation")) < 0 ||
        (error = add_query(&url, "service_id", req->service_id)) < 0 ||
        (error = add_query(&url, "plan_id", req->plan_id)) < 0 ||
        (error = add_query(&url, "operation", req->operation)) < 0) {
        invalid(reply, op, "InvalidRequest");
        goto out;
    }
    error = perform(reply, client, op, "GET", dtk_buf_cstr(&url), NULL, req,
                    client->response_limit);
out:
    dtk_buf_dispose(&url);
    return error;
}

int dtk_osb_fetch(dtk_osb_reply *reply,
                  dtk_osb_client *client,
                  const dtk_osb_request *req)
{
    dtk_buf url = DTK_BUF_INIT(URL_LIMIT);
    dtk_osb_op op = req->binding_id != NULL ? DTK_OSB_OP_FETCH_BINDING
                                            : DTK_OSB_OP_FETCH_INSTANCE;
    int error;

    if (check_id(req->instance_id, "instance_id") < 0 ||
        (req->binding_id != NULL &&
         check_id(req->binding_id, "binding_id") < 0)) {
        return invalid(reply, op, "InvalidRequest");
    }
    if ((error = resource_url(&url, client, req->instance_id,
                              req->binding_id)) < 0 ||
        (error = add_query(&url, "service_id", req->service_id)) < 0 ||
        (error = add_query(&url, "plan_id", req->plan_id)) < 0) {
        invalid(reply, op, "InvalidRequest");
        goto out;
    }
    error = perform(reply, client, op, "GET", dtk_buf_cstr(&url), NULL, req,
                    client->response_limit);
out:
    dtk_buf_dispose(&url);
    return error;
}

int dtk_osb_catalog_fetch(dtk_osb_catalog **out,
                          dtk_osb_reply *reply,
                          dtk_osb_client *client,
                          const dtk_osb_request *req)
{
    const dtk_osb_op op = DTK_OSB_OP_CATALOG;
    dtk_buf url = DTK_BUF_INIT(URL_LIMIT);
    char msg[DTK_ERROR_MESSAGE_MAX];
    int error;

    *out = NULL;
    if ((error = dtk_buf_puts(&url, client->base)) < 0 ||
        (error = dtk_buf_puts(&url, "/v2/catalog")) < 0) {
        invalid(reply, op, "InvalidRequest");
        goto out;
    }
    error = perform(reply, client, op, "GET", dtk_buf_cstr(&url), NULL, req,
                    client->catalog_limit);
    if (error < 0 || reply->decision.action != DTK_OSB_DONE) {
        goto out;
    }
    error = dtk_osb__catalog_decode(out, reply->body);
    /* The schemas were moved out; the rest of the body is of no use. */
    dtk_json_free(reply->body);
    reply->body = NULL;
    if (error < 0) {
        snprintf(msg, sizeof(msg), "%s", dtk_error_last()->message);
        /* The broker's admin may fix it: retry, do not give up. */
        reply->decision.action = DTK_OSB_RETRY;
        reply->decision.error = DTK_ERROR;
        reply->decision.reason = "InvalidCatalog";
        dtk_error_set(DTK_ERRCLASS_OSB, "catalog: %s", msg);
    }
out:
    dtk_buf_dispose(&url);
    return error;
}

/* libmicrohttpd wrapper (see server.h for why this library).
 *
 * Mode: one thread per connection plus an internal accept thread. The API
 * server's watch streams block in their content reader on that connection's
 * own thread, which is what this mode is for; ordinary requests are short.
 * The access handler is called several times per request by MHD (headers,
 * body pieces, end); a per-request context collects the body and the
 * response headers in between.
 */
#include "pkg/httpserver/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/error.h"

#define DEFAULT_MAX_BODY ((size_t)3 * 1024 * 1024)

struct dtk_httpserver {
    struct MHD_Daemon *daemon;
    dtk_httpserver_handler handler;
    void *payload;
    size_t max_body;
    int port;
};

typedef struct header_pair {
    char *name;
    char *value;
} header_pair;

struct dtk_httpserver_exchange {
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    dtk_buf body;
    int too_big;
    header_pair *headers;
    size_t header_count;
    int responded;
};

const char *dtk_httpserver_method(const dtk_httpserver_exchange *ex)
{
    return ex->method;
}

const char *dtk_httpserver_path(const dtk_httpserver_exchange *ex)
{
    return ex->path;
}

const char *dtk_httpserver_query(const dtk_httpserver_exchange *ex,
                                 const char *name)
{
    return MHD_lookup_connection_value(ex->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *dtk_httpserver_header(const dtk_httpserver_exchange *ex,
                                  const char *name)
{
    return MHD_lookup_connection_value(ex->conn, MHD_HEADER_KIND, name);
}

const char *dtk_httpserver_body(const dtk_httpserver_exchange *ex,
                                size_t *len_out)
{
    *len_out = ex->body.len;
    return dtk_buf_cstr(&ex->body);
}

void dtk_httpserver_add_header(dtk_httpserver_exchange *ex, const char *name,
                               const char *value)
{
    ex->headers = dtk_realloc(ex->headers,
                              (ex->header_count + 1) * sizeof(header_pair));
    ex->headers[ex->header_count].name = dtk_strdup(name);
    ex->headers[ex->header_count].value = dtk_strdup(value);
    ex->header_count++;
}

static void queue(dtk_httpserver_exchange *ex, int status,
                  const char *content_type, struct MHD_Response *resp)
{
    dtk_assert(!ex->responded);
    ex->responded = 1;
    if (content_type != NULL) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                content_type);
    }
    for (size_t i = 0; i < ex->header_count; i++) {
        MHD_add_response_header(resp, ex->headers[i].name,
                                ex->headers[i].value);
    }
    MHD_queue_response(ex->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
}

void dtk_httpserver_respond(dtk_httpserver_exchange *ex, int status,
                            const char *content_type, const char *body,
                            size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, (void *)body, MHD_RESPMEM_MUST_COPY);

    queue(ex, status, content_type, resp);
}

typedef struct stream_ctx {
    dtk_httpserver_reader reader;
    dtk_httpserver_reader_free free_cb;
    void *payload;
} stream_ctx;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    stream_ctx *s = cls;
    ssize_t n;

    (void)pos;
    n = s->reader(s->payload, buf, max);
    if (n == -1) {
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    if (n <= 0) {
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    return n;
}

static void stream_free(void *cls)
{
    stream_ctx *s = cls;

    if (s->free_cb != NULL) {
        s->free_cb(s->payload);
    }
    dtk_free(s);
}

void dtk_httpserver_respond_stream(dtk_httpserver_exchange *ex, int status,
                                   const char *content_type,
                                   dtk_httpserver_reader reader,
                                   void *payload,
                                   dtk_httpserver_reader_free free_cb)
{
    stream_ctx *s = dtk_calloc(1, sizeof(*s));
    struct MHD_Response *resp;

    s->reader = reader;
    s->free_cb = free_cb;
    s->payload = payload;
    /* 16 KiB blocks: large enough to batch many small watch events into one
     * chunk when they are queued together. */
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024,
                                             stream_read, s, stream_free);
    queue(ex, status, content_type, resp);
}

static void exchange_free(dtk_httpserver_exchange *ex)
{
    if (ex == NULL) {
        return;
    }
    dtk_buf_dispose(&ex->body);
    for (size_t i = 0; i < ex->header_count; i++) {
        dtk_free(ex->headers[i].name);
        dtk_free(ex->headers[i].value);
    }
    dtk_free(ex->headers);
    dtk_free(ex);
}

static const char too_big_body[] =
    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
    "\"status\":\"Failure\",\"message\":\"the request body is too large\","
    "\"reason\":\"RequestEntityTooLarge\",\"code\":413}\n";

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn,
                                 const char *url, const char *method,
                                 const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    dtk_httpserver *server = cls;
    dtk_httpserver_exchange *ex = *con_cls;

    (void)version;
    if (ex == NULL) {
        const char *cl;

        ex = dtk_calloc(1, sizeof(*ex));
        ex->conn = conn;
        ex->method = method;
        ex->path = url;
        dtk_buf_init(&ex->body, server->max_body);
        *con_cls = ex;
        cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                         MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl != NULL && strtoull(cl, NULL, 10) > (unsigned long long)server->max_body) {
            ex->too_big = 1;
            dtk_httpserver_respond(ex, 413, "application/json", too_big_body,
                                   sizeof(too_big_body) - 1);
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (!ex->too_big &&
            dtk_buf_put(&ex->body, upload_data, *upload_data_size) < 0) {
            ex->too_big = 1;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (ex->responded) {
        return MHD_YES;
    }
    if (ex->too_big) {
        dtk_httpserver_respond(ex, 413, "application/json", too_big_body,
                               sizeof(too_big_body) - 1);
        return MHD_YES;
    }
    server->handler(ex, server->payload);
    dtk_assert(ex->responded);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn,
                         void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    exchange_free(*con_cls);
    *con_cls = NULL;
}

int dtk_httpserver_start(dtk_httpserver **out,
                         const dtk_httpserver_options *options,
                         dtk_httpserver_handler handler, void *payload)
{
    dtk_httpserver *server = dtk_calloc(1, sizeof(*server));
    struct sockaddr_in addr;
    const union MHD_DaemonInfo *info;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    const char *address = options->address ? options->address : "127.0.0.1";
    int tls = options->tls_cert_pem != NULL && options->tls_key_pem != NULL;

    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)options->port);
    if (inet_pton(AF_INET, address, &addr.sin_addr) != 1) {
        dtk_free(server);
        dtk_error_set(DTK_ERRCLASS_INVALID, "listen address '%s' is not IPv4",
                      address);
        return DTK_EINVALID;
    }
    server->handler = handler;
    server->payload = payload;
    server->max_body = options->max_body ? options->max_body : DEFAULT_MAX_BODY;
    if (tls) {
        flags |= MHD_USE_TLS;
    }
    {
        /* TLS options are only passed when TLS is on: MHD rejects them
         * otherwise. */
        struct MHD_OptionItem tls_opts[] = {
            {MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)options->tls_cert_pem},
            {MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)options->tls_key_pem},
            {MHD_OPTION_END, 0, NULL},
        };

        server->daemon = MHD_start_daemon(
            flags, 0, NULL, NULL, on_access, server, MHD_OPTION_SOCK_ADDR,
            &addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, server,
            MHD_OPTION_CONNECTION_TIMEOUT,
            (unsigned)(options->idle_timeout_s ? options->idle_timeout_s : 60),
            MHD_OPTION_CONNECTION_LIMIT,
            (unsigned)(options->max_connections ? options->max_connections
                                                : 1000),
            MHD_OPTION_ARRAY, tls ? tls_opts : tls_opts + 2, MHD_OPTION_END);
    }
    if (server->daemon == NULL) {
        dtk_free(server);
        dtk_error_set(DTK_ERRCLASS_OS, "cannot serve on %s:%d%s", address,
                      options->port, tls ? " with TLS" : "");
        return DTK_EUNAVAIL;
    }
    info = MHD_get_daemon_info(server->daemon, MHD_DAEMON_INFO_BIND_PORT);
    server->port = info ? info->port : options->port;
    *out = server;
    return 0;
}

int dtk_httpserver_port(const dtk_httpserver *server)
{
    return server->port;
}

void dtk_httpserver_stop(dtk_httpserver *server)
{
    if (server == NULL) {
        return;
    }
    MHD_stop_daemon(server->daemon);
    dtk_free(server);
}

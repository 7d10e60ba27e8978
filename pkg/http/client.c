/* libcurl implementation of the HTTP client (see http.h).
 *
 * One CURL easy handle per client keeps connections alive between requests;
 * the handle is reset between requests and every option is set again, so a
 * request never inherits another's method or body. CURLOPT_NOSIGNAL is set
 * because the process is threaded. Verbose output is never enabled: curl's
 * trace would print Authorization headers.
 */
#include "pkg/http/http.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "pkg/base/alloc.h"
#include "pkg/base/error.h"

struct dtk_http_client {
    CURL *curl;
    char *unix_socket;
    char *ca_pem;
    char *client_cert_pem;
    char *client_key_pem;
    int insecure_skip_verify;
    long connect_timeout_ms;
    long timeout_ms;
    char *tls_server_name;
    /* libcurl's detail for the last failure (CURLOPT_ERRORBUFFER), e.g.
     * "OpenSSL SSL_read: ... alert bad certificate". Lives as long as the
     * handle, so curl never writes to freed memory. */
    char errbuf[CURL_ERROR_SIZE];
};

typedef struct transfer {
    dtk_http_response *resp;
    size_t limit;
    int over_limit;
    dtk_http_data_cb cb;
    void *payload;
    int stopped_by_cb;
    volatile int *cancel;
    const char *errbuf; /* the client's */
} transfer;

int dtk_http_global_init(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        dtk_error_set(DTK_ERRCLASS_HTTP, "libcurl initialisation failed");
        return DTK_ERROR;
    }
    return 0;
}

void dtk_http_global_cleanup(void)
{
    curl_global_cleanup();
}

int dtk_http_client_new(dtk_http_client **out,
                        const dtk_http_client_options *options)
{
    dtk_http_client *c = dtk_calloc(1, sizeof(*c));

    c->curl = curl_easy_init();
    if (c->curl == NULL) {
        dtk_free(c);
        dtk_error_set(DTK_ERRCLASS_HTTP, "cannot create a libcurl handle");
        return DTK_ERROR;
    }
    c->unix_socket = dtk_strdup(options->unix_socket);
    c->ca_pem = dtk_strdup(options->ca_pem);
    c->client_cert_pem = dtk_strdup(options->client_cert_pem);
    c->client_key_pem = dtk_strdup(options->client_key_pem);
    c->insecure_skip_verify = options->insecure_skip_verify;
    c->tls_server_name = dtk_strdup(options->tls_server_name);
    c->connect_timeout_ms = options->connect_timeout_ms > 0
                                ? options->connect_timeout_ms
                                : DTK_HTTP_DEFAULT_CONNECT_TIMEOUT_MS;
    c->timeout_ms = options->timeout_ms > 0 ? options->timeout_ms
                                            : DTK_HTTP_DEFAULT_TIMEOUT_MS;
    *out = c;
    return 0;
}

static void free_secret(char *s)
{
    if (s != NULL) {
        /* Key material should not linger in freed memory. */
        volatile char *p = s;

        while (*p) {
            *p++ = 0;
        }
        dtk_free(s);
    }
}

void dtk_http_client_free(dtk_http_client *client)
{
    if (client == NULL) {
        return;
    }
    curl_easy_cleanup(client->curl);
    dtk_free(client->unix_socket);
    dtk_free(client->ca_pem);
    dtk_free(client->client_cert_pem);
    free_secret(client->client_key_pem);
    dtk_free(client->tls_server_name);
    dtk_free(client);
}

int dtk_http_client_set_identity(dtk_http_client *client, const char *cert_pem,
                                 const char *key_pem)
{
    dtk_free(client->client_cert_pem);
    free_secret(client->client_key_pem);
    client->client_cert_pem = dtk_strdup(cert_pem);
    client->client_key_pem = dtk_strdup(key_pem);
    return 0;
}

void dtk_http_response_dispose(dtk_http_response *resp)
{
    dtk_buf_dispose(&resp->body);
    for (size_t i = 0; i < resp->header_count; i++) {
        dtk_free(resp->headers[i]);
    }
    dtk_free(resp->headers);
    resp->headers = NULL;
    resp->header_count = 0;
    resp->status = 0;
}

const char *dtk_http_response_header(const dtk_http_response *resp,
                                     const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; i < resp->header_count; i++) {
        const char *h = resp->headers[i];

        if (strncasecmp(h, name, n) == 0 && h[n] == ':') {
            h += n + 1;
            while (*h == ' ' || *h == '\t') {
                h++;
            }
            return h;
        }
    }
    return NULL;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
    transfer *t = userdata;
    dtk_http_response *resp = t->resp;
    size_t len = size * nmemb;
    size_t n = len;

    while (n > 0 && (data[n - 1] == '\r' || data[n - 1] == '\n')) {
        n--;
    }
    if (strncmp(data, "HTTP/", 5) == 0) {
        /* A new response (after 100-continue or a redirect) starts over. */
        for (size_t i = 0; i < resp->header_count; i++) {
            dtk_free(resp->headers[i]);
        }
        resp->header_count = 0;
        return len;
    }
    if (n == 0 || memchr(data, ':', n) == NULL || resp->header_count >= 256) {
        return len;
    }
    resp->headers = dtk_realloc(resp->headers, (resp->header_count + 1) *
                                                   sizeof(char *));
    resp->headers[resp->header_count++] = dtk_strndup(data, n);
    return len;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    transfer *t = userdata;
    size_t len = size * nmemb;

    if (t->cb != NULL && t->resp->status >= 200 && t->resp->status < 300) {
        if (t->cb(data, len, t->payload) != 0) {
            t->stopped_by_cb = 1;
            return 0; /* aborts the transfer */
        }
        return len;
    }
    if (dtk_buf_put(&t->resp->body, data, len) < 0) {
        t->over_limit = 1;
        return 0;
    }
    return len;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow)
{
    transfer *t = userdata;

    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return t->cancel != NULL && *t->cancel ? 1 : 0;
}

/* The URL without its query string, for error messages. */
static void url_for_message(char *out, size_t size, const char *url)
{
    size_t n = strcspn(url, "?");

    if (n >= size) {
        n = size - 1;
    }
    memcpy(out, url, n);
    out[n] = '\0';
}

/* "<method> <url>: <curl's text>", with libcurl's detail appended when it
 * adds something (TLS failures say which alert the peer sent there). */
static void set_transfer_error(const dtk_http_request *req, const char *url,
                               CURLcode rc, const transfer *t)
{
    const char *text = curl_easy_strerror(rc);

    if (t->errbuf != NULL && t->errbuf[0] != '\0' &&
        strcmp(t->errbuf, text) != 0) {
        dtk_error_set(DTK_ERRCLASS_HTTP, "%s %s: %s (%s)", req->method, url,
                      text, t->errbuf);
    } else {
        dtk_error_set(DTK_ERRCLASS_HTTP, "%s %s: %s", req->method, url, text);
    }
}

static int map_curl_error(CURLcode rc, const dtk_http_request *req,
                          const transfer *t)
{
    char url[256];

    url_for_message(url, sizeof(url), req->url);
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        dtk_error_set(DTK_ERRCLASS_HTTP, "%s %s: timed out", req->method, url);
        return DTK_ETIMEOUT;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
        set_transfer_error(req, url, rc, t);
        return DTK_EUNAVAIL;
    case CURLE_WRITE_ERROR:
        if (t->over_limit) {
            dtk_error_set(DTK_ERRCLASS_HTTP,
                          "%s %s: response body exceeds %zu bytes",
                          req->method, url, t->limit);
            return DTK_ETOOBIG;
        }
        break;
    default:
        break;
    }
    set_transfer_error(req, url, rc, t);
    return DTK_ERROR;
}

static void set_blob(CURL *curl, CURLoption opt, const char *pem)
{
    struct curl_blob blob;

    blob.data = (void *)pem;
    blob.len = strlen(pem);
    blob.flags = CURL_BLOB_COPY;
    curl_easy_setopt(curl, opt, &blob);
}

static struct curl_slist *build_headers(const dtk_http_request *req)
{
    struct curl_slist *list = NULL;
    struct curl_slist *next;

    /* curl adds "Expect: 100-continue" for large bodies, costing a round
     * trip; Kubernetes and brokers never need it. */
    list = curl_slist_append(list, "Expect:");
    for (size_t i = 0; req->headers != NULL && req->headers[i] != NULL; i++) {
        next = curl_slist_append(list, req->headers[i]);
        dtk_assert(next != NULL);
        list = next;
    }
    return list;
}

static void configure(dtk_http_client *c, const dtk_http_request *req,
                      transfer *t, struct curl_slist *headers,
                      char *auth_header)
{
    CURL *curl = c->curl;
    long timeout = req->timeout_ms ? req->timeout_ms : c->timeout_ms;

    curl_easy_reset(curl);
    c->errbuf[0] = '\0';
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_URL, req->url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);
    if (strcmp(req->method, "HEAD") == 0) {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    }
    if (req->body != NULL) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)req->body_len);
    }
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout > 0 ? timeout : 0L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
    if (c->unix_socket != NULL) {
        curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, c->unix_socket);
    }
    if (c->ca_pem != NULL) {
        set_blob(curl, CURLOPT_CAINFO_BLOB, c->ca_pem);
    }
    if (c->client_cert_pem != NULL && c->client_key_pem != NULL) {
        set_blob(curl, CURLOPT_SSLCERT_BLOB, c->client_cert_pem);
        curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
        set_blob(curl, CURLOPT_SSLKEY_BLOB, c->client_key_pem);
        curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (c->insecure_skip_verify) {
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (req->username != NULL) {
        /* CURLAUTH_BASIC alone sends the credentials pre-emptively. */
        curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(curl, CURLOPT_USERNAME, req->username);
        curl_easy_setopt(curl, CURLOPT_PASSWORD,
                         req->password ? req->password : "");
    }
    if (auth_header != NULL) {
        headers = curl_slist_append(headers, auth_header);
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, t);
    if (req->cancel != NULL) {
        curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(curl, CURLOPT_XFERINFODATA, t);
    }
}

/* tls_server_name: request the URL with that name as its host and let curl
 * connect to the real host and port (CURLOPT_CONNECT_TO), so SNI and the
 * certificate check use the name. *url_out is freed with curl_free. */
static int use_tls_server_name(dtk_http_client *c, const dtk_http_request *req,
                               char **url_out,
                               struct curl_slist **connect_to_out)
{
    CURLU *u = curl_url();
    char *host = NULL;
    char *port = NULL;
    char *url = NULL;
    dtk_buf line = DTK_BUF_INIT(0);
    int error = DTK_EINVALID;

    dtk_assert(u != NULL);
    if (curl_url_set(u, CURLUPART_URL, req->url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
            CURLUE_OK ||
        curl_url_set(u, CURLUPART_HOST, c->tls_server_name, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK) {
        dtk_error_set(DTK_ERRCLASS_HTTP,
                      "tls server name '%s' cannot be used with the url",
                      c->tls_server_name);
        goto out;
    }
    if (dtk_buf_printf(&line, "%s:%s:%s:%s", c->tls_server_name, port, host,
                       port) < 0) {
        goto out;
    }
    *connect_to_out = curl_slist_append(NULL, line.ptr);
    dtk_assert(*connect_to_out != NULL);
    *url_out = url;
    url = NULL;
    error = 0;
out:
    curl_free(host);
    curl_free(port);
    curl_free(url);
    curl_url_cleanup(u);
    dtk_buf_dispose(&line);
    return error;
}

/* Records the status as soon as headers are complete, so on_body knows
 * whether to stream. */
static size_t on_header_status(char *data, size_t size, size_t nmemb,
                               void *userdata);

static int perform(dtk_http_client *c, const dtk_http_request *req,
                   dtk_http_response *resp, dtk_http_data_cb cb, void *payload)
{
    transfer t;
    struct curl_slist *headers = NULL;
    struct curl_slist *connect_to = NULL;
    char *named_url = NULL;
    dtk_buf auth = DTK_BUF_INIT(0);
    CURLcode rc;
    int error = 0;

    memset(&t, 0, sizeof(t));
    t.resp = resp;
    t.limit = req->response_limit ? req->response_limit
                                  : DTK_HTTP_DEFAULT_RESPONSE_LIMIT;
    t.cb = cb;
    t.payload = payload;
    t.cancel = req->cancel;
    t.errbuf = c->errbuf;
    resp->body.limit = t.limit;
    headers = build_headers(req);
    if (req->bearer_token != NULL) {
        error = dtk_buf_printf(&auth, "Authorization: Bearer %s",
                               req->bearer_token);
        if (error < 0) {
            goto out;
        }
    }
    configure(c, req, &t, headers, auth.ptr);
    curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header_status);
    if (c->tls_server_name != NULL) {
        error = use_tls_server_name(c, req, &named_url, &connect_to);
        if (error < 0) {
            goto out;
        }
        curl_easy_setopt(c->curl, CURLOPT_URL, named_url);
        curl_easy_setopt(c->curl, CURLOPT_CONNECT_TO, connect_to);
    }
    rc = curl_easy_perform(c->curl);
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
    if (rc == CURLE_OK || (t.stopped_by_cb && rc == CURLE_WRITE_ERROR) ||
        (rc == CURLE_ABORTED_BY_CALLBACK && req->cancel != NULL)) {
        error = 0;
        goto out;
    }
    error = map_curl_error(rc, req, &t);
out:
    /* The slist may have grown in configure(); CURLOPT_HTTPHEADER holds the
     * head, which did not change. */
    curl_slist_free_all(headers);
    curl_slist_free_all(connect_to);
    curl_free(named_url);
    if (auth.ptr != NULL) {
        memset(auth.ptr, 0, auth.len);
    }
    dtk_buf_dispose(&auth);
    return error;
}

static size_t on_header_status(char *data, size_t size, size_t nmemb,
                               void *userdata)
{
    transfer *t = userdata;
    size_t len = size * nmemb;

    if (strncmp(data, "HTTP/", 5) == 0) {
        const char *sp = memchr(data, ' ', len);
        long status = 0;

        for (const char *p = sp ? sp + 1 : data + len;
             p < data + len && isdigit((unsigned char)*p); p++) {
            status = status * 10 + (*p - '0');
        }
        t->resp->status = status;
    }
    return on_header(data, size, nmemb, userdata);
}

int dtk_http_do(dtk_http_client *client, const dtk_http_request *req,
                dtk_http_response *resp)
{
    return perform(client, req, resp, NULL, NULL);
}

int dtk_http_stream(dtk_http_client *client, const dtk_http_request *req,
                    dtk_http_response *resp, dtk_http_data_cb cb,
                    void *payload)
{
    return perform(client, req, resp, cb, payload);
}

int dtk_http_escape(dtk_buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    int error = 0;

    for (; *s && error == 0; s++) {
        unsigned char ch = (unsigned char)*s;

        if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            error = dtk_buf_putc(out, (char)ch);
        } else {
            char enc[3] = {'%', hex[ch >> 4], hex[ch & 15]};

            error = dtk_buf_put(out, enc, 3);
        }
    }
    return error;
}

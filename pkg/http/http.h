/* HTTP client over libcurl: one reusable connection cache per client.
 * Thread-safety: none; one client per thread (a CURL easy handle must never
 * be shared between threads). curl_global_init must have run before the
 * first client is created (dtk_http_global_init, called from main).
 *
 * Every request has a connect timeout and a total timeout. Response bodies
 * are bounded (default 1 MiB). TLS material is taken from memory, never from
 * temporary files. Credentials are never written to error messages: errors
 * name the method and the URL without its query string.
 */
#ifndef DTK_HTTP_HTTP_H
#define DTK_HTTP_HTTP_H

#include <stddef.h>

#include "pkg/base/buf.h"

#define DTK_HTTP_DEFAULT_CONNECT_TIMEOUT_MS 5000L
#define DTK_HTTP_DEFAULT_TIMEOUT_MS 30000L
#define DTK_HTTP_DEFAULT_RESPONSE_LIMIT ((size_t)1024 * 1024)

typedef struct dtk_http_client dtk_http_client;

typedef struct dtk_http_client_options {
    /* Talk HTTP over this unix socket instead of TCP (Docker). */
    const char *unix_socket;
    /* PEM text; copied. NULL uses the system store. */
    const char *ca_pem;
    const char *client_cert_pem;
    const char *client_key_pem;
    int insecure_skip_verify;
    long connect_timeout_ms; /* 0: default */
    long timeout_ms;         /* 0: default */
    /* Verify the server certificate against this name and send it as SNI
     * while connecting to the URL's host (kubeconfig tls-server-name). The
     * Host header carries this name too. NULL: the URL's host. Copied. */
    const char *tls_server_name;
} dtk_http_client_options;

/* clang-format off */
#define DTK_HTTP_CLIENT_OPTIONS_INIT { NULL, NULL, NULL, NULL, 0, 0, 0, NULL }
/* clang-format on */

typedef struct dtk_http_request {
    const char *method; /* "GET", "POST", ... */
    const char *url;
    const char *const *headers; /* NULL-terminated "Name: value" lines */
    const char *body;
    size_t body_len;
    long timeout_ms;       /* 0: the client's default; <0: no total limit */
    size_t response_limit; /* 0: DTK_HTTP_DEFAULT_RESPONSE_LIMIT */
    const char *username;  /* basic auth, sent pre-emptively */
    const char *password;
    const char *bearer_token;
    /* Streaming only: set to non-zero from another thread to end the
     * transfer within about a second. */
    volatile int *cancel;
} dtk_http_request;

/* clang-format off */
#define DTK_HTTP_REQUEST_INIT { NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL, NULL, NULL }
/* clang-format on */

typedef struct dtk_http_response {
    long status;
    dtk_buf body;
    char **headers; /* "Name: value" lines, CR/LF stripped */
    size_t header_count;
} dtk_http_response;

/* clang-format off */
#define DTK_HTTP_RESPONSE_INIT { 0, DTK_BUF_INIT(0), NULL, 0 }
/* clang-format on */

/* Once per process before threads start. */
int dtk_http_global_init(void);
void dtk_http_global_cleanup(void);

/* *out owned by the caller; options are copied. Returns DTK_EINVALID when the
 * TLS material cannot be used. */
int dtk_http_client_new(dtk_http_client **out,
                        const dtk_http_client_options *options);
void dtk_http_client_free(dtk_http_client *client);

/* Replaces the client's TLS client identity (for rotated credentials). */
int dtk_http_client_set_identity(dtk_http_client *client, const char *cert_pem,
                                 const char *key_pem);

/* Performs one request. Returns 0 when any HTTP response arrived (check
 * resp->status), DTK_ETIMEOUT when a deadline passed, DTK_EUNAVAIL when the
 * peer could not be reached, DTK_ETOOBIG when the body exceeded the limit,
 * DTK_ERROR otherwise (TLS failures included). resp must be initialised with
 * DTK_HTTP_RESPONSE_INIT and disposed by the caller in every case. */
int dtk_http_do(dtk_http_client *client, const dtk_http_request *req,
                dtk_http_response *resp);

/* Receives streamed body bytes of a 2xx response; return non-zero to stop. */
typedef int (*dtk_http_data_cb)(const char *data, size_t len, void *payload);

/* Like dtk_http_do, but the body of a 2xx response is handed to cb as it
 * arrives instead of being collected (watch streams, logs). Non-2xx bodies
 * are collected into resp->body for error decoding. Returns 0 when the
 * stream ended normally or cb/cancel stopped it. */
int dtk_http_stream(dtk_http_client *client, const dtk_http_request *req,
                    dtk_http_response *resp, dtk_http_data_cb cb,
                    void *payload);

void dtk_http_response_dispose(dtk_http_response *resp);

/* Case-insensitive header lookup; the value is borrowed from resp. */
const char *dtk_http_response_header(const dtk_http_response *resp,
                                     const char *name);

/* Percent-encodes s for a URL path segment or query value into out. */
int dtk_http_escape(dtk_buf *out, const char *s);

#endif

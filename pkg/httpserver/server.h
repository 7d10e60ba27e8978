/* Embedded HTTP/1.1 server over libmicrohttpd.
 * Thread-safety: dtk_httpserver_start/stop from one owner thread; the handler
 * runs on one thread per connection and must be thread-safe itself.
 *
 * Why libmicrohttpd and not libwebsockets: the development API server streams
 * watch events as chunked responses of unknown length, written from whichever
 * thread produced the event. libwebsockets leaves chunk framing of server
 * responses to the caller ("you must add the chunking manually",
 * warmcat/libwebsockets#2714) and allows writes only from its service thread;
 * libmicrohttpd chunk-encodes a response of unknown size itself and lets a
 * content reader block on its own connection thread. So no HTTP framing is
 * written by hand here.
 *
 * Request bodies are read whole into a bounded buffer; a larger body gets 413
 * without being buffered. Slow clients are cut off by an idle timeout.
 */
#ifndef DTK_HTTPSERVER_SERVER_H
#define DTK_HTTPSERVER_SERVER_H

#include <stddef.h>
#include <sys/types.h>

typedef struct dtk_httpserver dtk_httpserver;
typedef struct dtk_httpserver_exchange dtk_httpserver_exchange;

/* Called once per request with the complete body. It must call exactly one
 * of the dtk_httpserver_respond* functions before returning. */
typedef void (*dtk_httpserver_handler)(dtk_httpserver_exchange *ex,
                                       void *payload);

/* A streaming body source, called on the connection's thread; it may block.
 * Returns the number of bytes written to buf (> 0), or -1 to end the stream
 * normally, or -2 to abort the connection. Never 0. */
typedef ssize_t (*dtk_httpserver_reader)(void *payload, char *buf,
                                         size_t max);
typedef void (*dtk_httpserver_reader_free)(void *payload);

typedef struct dtk_httpserver_options {
    const char *address; /* dotted IPv4 to bind, default "127.0.0.1" */
    int port;            /* 0 picks a free port */
    const char *tls_cert_pem; /* both set: HTTPS */
    const char *tls_key_pem;
    size_t max_body;          /* default 3 MiB, like kube-apiserver */
    unsigned idle_timeout_s;  /* default 60 */
    unsigned max_connections; /* default 1000 */
} dtk_httpserver_options;

/* clang-format off */
#define DTK_HTTPSERVER_OPTIONS_INIT { "127.0.0.1", 0, NULL, NULL, 0, 0, 0 }
/* clang-format on */

/* Starts serving on a background thread pool. *out owned by the caller.
 * Returns DTK_EUNAVAIL when the address cannot be bound. */
int dtk_httpserver_start(dtk_httpserver **out,
                         const dtk_httpserver_options *options,
                         dtk_httpserver_handler handler, void *payload);

/* The bound port (useful with port 0). */
int dtk_httpserver_port(const dtk_httpserver *server);

/* Stops accepting, closes connections and joins every thread. Blocked
 * readers must have been woken by the owner first. NULL is a no-op. */
void dtk_httpserver_stop(dtk_httpserver *server);

/* Request accessors: borrowed for the duration of the handler call. */
const char *dtk_httpserver_method(const dtk_httpserver_exchange *ex);
const char *dtk_httpserver_path(const dtk_httpserver_exchange *ex);
/* Decoded query parameter, or NULL. */
const char *dtk_httpserver_query(const dtk_httpserver_exchange *ex,
                                 const char *name);
/* Request header (case-insensitive), or NULL. */
const char *dtk_httpserver_header(const dtk_httpserver_exchange *ex,
                                  const char *name);
const char *dtk_httpserver_body(const dtk_httpserver_exchange *ex,
                                size_t *len_out);

/* Adds a response header; call before responding. Copied. */
void dtk_httpserver_add_header(dtk_httpserver_exchange *ex, const char *name,
                               const char *value);

/* Sends a complete response; body is copied. */
void dtk_httpserver_respond(dtk_httpserver_exchange *ex, int status,
                            const char *content_type, const char *body,
                            size_t len);

/* Sends a chunked response whose body comes from reader. payload is owned
 * by the response from here on: free_cb runs when the connection is done
 * with it, also when the client goes away. */
void dtk_httpserver_respond_stream(dtk_httpserver_exchange *ex, int status,
                                   const char *content_type,
                                   dtk_httpserver_reader reader,
                                   void *payload,
                                   dtk_httpserver_reader_free free_cb);

#endif

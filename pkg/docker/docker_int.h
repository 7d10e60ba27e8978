/* Internals shared by the files of pkg/docker. Not for use outside it. */
#ifndef DTK_DOCKER_DOCKER_INT_H
#define DTK_DOCKER_DOCKER_INT_H

#include "pkg/base/buf.h"
#include "pkg/docker/docker.h"
#include "pkg/http/http.h"
#include "pkg/json/json.h"

struct dtk_docker {
    dtk_http_client *http;
    char *host;           /* as configured, for messages */
    char *base_url;       /* "http://localhost", "https://127.0.0.1:2376" */
    char api_version[16]; /* negotiated or pinned; "" until known */
    long timeout_ms;
    int tls_identity; /* TLS with a client certificate */
};

/* Flags for dtk_docker__call. */
enum {
    DTK_DOCKER__CREATE = 1,      /* 409 means "already exists" */
    DTK_DOCKER__UNVERSIONED = 2, /* path without the /vX.Y prefix */
};

typedef struct dtk_docker__req {
    const char *method;
    const char *path; /* "/containers/json?all=1", already escaped */
    const dtk_json *body;
    const char *const *headers;
    long timeout_ms; /* 0: the client's */
    int flags;
    const char *what; /* "inspect container 'x'", for messages */
} dtk_docker__req;

/* clang-format off */
#define DTK_DOCKER__REQ_INIT { NULL, NULL, NULL, NULL, 0, 0, NULL }
/* clang-format on */

/* Sends one request and maps the outcome: returns 0 for 2xx and 304 (and
 * *resp holds the response), else the mapped code with the message set.
 * resp must be DTK_HTTP_RESPONSE_INIT; the caller disposes it. */
int dtk_docker__call(dtk_docker *c,
                     const dtk_docker__req *req,
                     dtk_http_response *resp);

/* Like dtk_docker__call, but a 2xx body is handed to cb as it arrives. */
int dtk_docker__stream(dtk_docker *c,
                       const dtk_docker__req *req,
                       dtk_http_response *resp,
                       dtk_http_data_cb cb,
                       void *payload);

/* dtk_docker__call + parse of the JSON body into *out (owned by caller).
 * A body that is not JSON is DTK_ERROR. */
int dtk_docker__call_json(dtk_docker *c,
                          const dtk_docker__req *req,
                          dtk_json **out);

/* dtk_docker__call_json for the engine's create endpoints: *id_out (may be
 * NULL) receives a copy of the answer's "Id", owned by the caller. An answer
 * without an Id is DTK_ERROR. */
int dtk_docker__create(dtk_docker *c, const dtk_docker__req *req,
                       char **id_out);

/* GET path (what names it in messages) and parse a JSON array into *out
 * (owned by the caller): the engine's list endpoints. A body that is not a
 * JSON array is DTK_ERROR. */
int dtk_docker__get_list(dtk_docker *c,
                         const char *path,
                         const char *what,
                         dtk_json **out);

/* Maps an HTTP status to a code and sets "<what>: <engine message>". */
int dtk_docker__status_error(long status,
                             const dtk_buf *body,
                             int flags,
                             const char *what);

/* Appends "/<escaped segment>". */
int dtk_docker__path_segment(dtk_buf *path, const char *segment);

/* Appends sep (the query's '?' or '&') and "filters=<escaped JSON>" for
 * labels/name; nothing when there is nothing to filter on. */
int dtk_docker__filters(dtk_buf *query,
                        const dtk_docker_list_options *opts,
                        char sep);

/* Copies a string member, or NULL. */
char *dtk_docker__strdup_member(const dtk_json *obj, const char *key);

/* Decodes a {"k":"v"} object into labels (non-strings are skipped). */
void dtk_docker__labels_decode(dtk_docker_labels *out, const dtk_json *obj);
void dtk_docker__labels_dispose(dtk_docker_labels *labels);

/* Adds spec labels and, when owner is set, the owner labels (and, when
 * config_hash is non-NULL, the config hash) to the JSON object labels. */
int dtk_docker__labels_encode(dtk_json *labels,
                              const dtk_docker_kv *kv,
                              size_t count,
                              const dtk_docker_owner *owner,
                              const char *config_hash);

/* JSON array of strings from a NULL-terminated list. */
dtk_json *dtk_docker__string_array(const char *const *items);

/* Output collector for demultiplexed streams. */
typedef struct dtk_docker__collect {
    dtk_docker_output *out;
    dtk_docker_demux demux;
    int raw; /* TTY: no framing, everything is stdout */
    int bad_stream;
} dtk_docker__collect;

/* A dtk_http_data_cb feeding a dtk_docker__collect. */
int dtk_docker__collect_cb(const char *data, size_t len, void *payload);

#endif

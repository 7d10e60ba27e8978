/* Kubernetes REST client: configuration, requests, watch, Status errors.
 *
 * Two objects, split along the threading model:
 *
 *   dtk_kube_config  where and who: server URL, TLS material (in memory,
 *                    never in temporary files), credentials, and the client
 *                    behaviour (timeouts, retries, QPS). Loaded once, shared
 *                    by every thread. Thread-safe: the parts that change at
 *                    run time (a bearer token re-read from its file, exec
 *                    plugin credentials, the QPS token bucket) sit behind a
 *                    mutex inside it. Must outlive every client made from it.
 *
 *   dtk_kube_client  one per thread: owns one libcurl handle (its connection
 *                    cache) and the last Status the server answered. Not
 *                    thread-safe; never share one between threads.
 *
 * Every request has a connect timeout and a total timeout. 429 and 5xx are
 * retried with exponential backoff (bounded attempts), honouring Retry-After;
 * a POST or PATCH is only retried after 5xx when the server asked for it with
 * Retry-After (a 429 was never processed, so it is always safe). A 401 makes
 * the client re-read its token file or re-run its exec plugin once and retry.
 *
 * Errors: a non-2xx answer becomes a negative dtk_error_code (status.c):
 *   404 -> DTK_ENOTFOUND        409 AlreadyExists -> DTK_EEXISTS
 *   409 (other) -> DTK_ECONFLICT 410 -> DTK_EGONE      413 -> DTK_ETOOBIG
 *   400, 405, 406, 415, 422 -> DTK_EINVALID            401, 403 -> DTK_EAUTH
 *   408, 504, reason Timeout/ServerTimeout, client deadline -> DTK_ETIMEOUT
 *   429, other 5xx, connection failures -> DTK_EUNAVAIL
 * with the message "<METHOD> <path>: <Status.message> (<code> <reason>)"
 * (the query string is left out). The decoded Status (code, reason, message,
 * causes, Retry-After) stays readable with dtk_kube_client_status().
 *
 * Secrets (tokens, passwords, private keys, Authorization headers) never
 * appear in an error message or a log line.
 */
#ifndef DTK_KUBE_KUBE_H
#define DTK_KUBE_KUBE_H

#include <stddef.h>
#include <stdint.h>

#include "pkg/base/buf.h"
#include "pkg/json/json.h"
#include "pkg/kube/meta.h"

/* ---- Configuration ---------------------------------------------------- */

#define DTK_KUBE_IN_CLUSTER_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* Called after every HTTP attempt (retries included) on the requesting
 * thread, with no lock held: the hook behind rest_client_requests_total
 * {code,method,host} and rest_client_request_duration_seconds. code is the
 * HTTP status, or 0 when no response arrived (label it "<error>" like
 * client-go). host is "host:port" of the server. */
typedef void (*dtk_kube_request_hook)(const char *method,
                                      const char *host,
                                      int code,
                                      double duration_s,
                                      void *payload);

typedef struct dtk_kube_config_options {
    /* Where to load from (dtk_kube_config_load):
     * kubeconfig: an explicit file (like --kubeconfig): it must exist.
     * NULL: the $KUBECONFIG path list, else in-cluster, else ~/.kube/config. */
    const char *kubeconfig;
    const char *context;        /* NULL: the current-context */
    const char *in_cluster_dir; /* NULL: DTK_KUBE_IN_CLUSTER_DIR */

    /* Client behaviour. 0 picks the default shown. */
    long connect_timeout_ms; /* 5000 */
    long timeout_ms;         /* 30000: total per attempt (not watches) */
    int max_attempts;        /* 5: first try + retries; 1: no retries */
    long retry_base_ms;      /* 200: backoff base, doubled per retry */
    long retry_max_ms;       /* 5000: backoff cap */
    long max_retry_after_ms; /* 30000: a longer Retry-After is not waited
                              * for; the error is returned instead */
    double qps;              /* <= 0: no client-side rate limit (default) */
    int burst;               /* token bucket size when qps > 0; 0: 10 */
    long token_reload_ms;    /* 60000: bearer token file re-read period */
    long exec_timeout_ms;    /* 60000: exec credential plugin run time */
    const char *user_agent;  /* "dtk-operator" */
    dtk_kube_request_hook on_request;
    void *on_request_payload;
} dtk_kube_config_options;

/* clang-format off */
#define DTK_KUBE_CONFIG_OPTIONS_INIT \
    { NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, 0.0, 0, 0, 0, NULL, NULL, NULL }
/* clang-format on */

typedef struct dtk_kube_config dtk_kube_config;

/* The controller-runtime order: options->kubeconfig, else $KUBECONFIG, else
 * in-cluster (when KUBERNETES_SERVICE_HOST/PORT are set), else
 * ~/.kube/config. *out owned by the caller (dtk_kube_config_free).
 * Returns DTK_EINVALID for a malformed file or field (the message names the
 * file and the field path, never a secret value), DTK_ENOTFOUND when no
 * configuration exists, or a missing context/cluster/user. */
int dtk_kube_config_load(dtk_kube_config **out,
                         const dtk_kube_config_options *options);

/* Kubeconfig only: options->kubeconfig, else $KUBECONFIG (a ':'-separated
 * list, merged: the first file to set a map key or the current-context
 * wins; missing files are skipped), else ~/.kube/config. Relative paths in
 * a file are resolved against that file's directory; *-data fields override
 * their path forms. Supported user auth: client certificate, token,
 * tokenFile, username/password, exec plugins (client.authentication.k8s.io
 * v1 and v1beta1), impersonation (as, as-uid, as-groups). Errors as above. */
int dtk_kube_config_load_kubeconfig(dtk_kube_config **out,
                                    const dtk_kube_config_options *options);

/* In-cluster: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT,
 * CA from <dir>/ca.crt, bearer token from <dir>/token (re-read every
 * token_reload_ms and after a 401; a failed re-read keeps the last token),
 * namespace from <dir>/namespace ("default" when absent). Returns
 * DTK_ENOTFOUND when the variables are unset, DTK_EINVALID when the token
 * or CA file cannot be read. */
int dtk_kube_config_in_cluster(dtk_kube_config **out,
                               const dtk_kube_config_options *options);

/* A configuration for a plain URL with no credentials (development API
 * server, tests). ca_pem may be NULL. */
int dtk_kube_config_for_url(dtk_kube_config **out,
                            const char *server_url,
                            const char *ca_pem,
                            const dtk_kube_config_options *options);

void dtk_kube_config_free(dtk_kube_config *config);

/* Borrowed for the configuration's lifetime. */
const char *dtk_kube_config_server(const dtk_kube_config *config);
/* The context's namespace, the in-cluster namespace, or "default". */
const char *dtk_kube_config_namespace(const dtk_kube_config *config);
/* The context used, or NULL (in-cluster, URL). */
const char *dtk_kube_config_context(const dtk_kube_config *config);

/* ---- Status ----------------------------------------------------------- */

typedef struct dtk_kube_status_cause {
    char *reason;
    char *message;
    char *field;
} dtk_kube_status_cause;

/* The last answer of the server, decoded from a metav1.Status body when
 * there was one. All strings may be NULL. */
typedef struct dtk_kube_status {
    long http_code; /* 0 when no response arrived */
    int code;       /* Status.code, else http_code */
    char *status;   /* "Success" | "Failure" */
    char *reason;   /* "NotFound", "AlreadyExists", "Conflict", ... */
    char *message;
    char *details_name;
    char *details_kind;
    dtk_kube_status_cause *causes;
    size_t cause_count;
    long retry_after_s; /* Retry-After or details.retryAfterSeconds; -1 */
    int error;          /* the dtk_error_code it maps to; 0 for success */
} dtk_kube_status;

/* clang-format off */
#define DTK_KUBE_STATUS_INIT { 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, 0, -1, 0 }
/* clang-format on */

void dtk_kube_status_dispose(dtk_kube_status *status);

/* Decodes an HTTP answer into *out (disposed first) and returns its code:
 * 0 for 2xx (a Status with status "Failure" in a 2xx body still maps by its
 * code), else the mapping above, with the message "<context>: <detail>".
 * body may be NULL or not a Status; its text is never quoted. */
int dtk_kube_status_decode(dtk_kube_status *out,
                           long http_code,
                           const dtk_json *body,
                           const char *context);

/* ---- Client ----------------------------------------------------------- */

typedef struct dtk_kube_client dtk_kube_client;

/* *out owned by the caller; config is borrowed and must outlive it.
 * Returns DTK_EINVALID when the TLS material cannot be used. */
int dtk_kube_client_new(dtk_kube_client **out, dtk_kube_config *config);
void dtk_kube_client_free(dtk_kube_client *client);

/* Makes the client's requests cancellable from another thread: once
 * *cancel is non-zero, a request in flight ends within about a second, a
 * wait between retries ends at once, and no further attempt is made. The
 * request then returns DTK_ESHUTDOWN ("request cancelled"); a watch whose
 * stream had started returns 0, as with its own options->cancel (which
 * takes precedence when set). cancel is borrowed and must stay valid while
 * the client is used; NULL removes it. */
void dtk_kube_client_set_cancel(dtk_kube_client *client,
                                volatile int *cancel);

/* The Status of the last request on this client (success or failure).
 * Borrowed until the next request on this client. */
const dtk_kube_status *dtk_kube_client_status(const dtk_kube_client *client);

typedef struct dtk_kube_call {
    const char *method;       /* "GET", "POST", ... */
    const char *path;         /* absolute path with query: "/api/v1/..." */
    const char *content_type; /* for body; NULL: application/json */
    const char *body;         /* NULL: none */
    size_t body_len;
    long timeout_ms;          /* 0: the config's */
    size_t response_limit;    /* 0: 8 MiB */
    int max_attempts;         /* 0: the config's; 1: no retries (callers
                               * with their own retry loop and deadline:
                               * leader election, the event recorder) */
} dtk_kube_call;

/* clang-format off */
#define DTK_KUBE_CALL_INIT { NULL, NULL, NULL, NULL, 0, 0, 0, 0 }
/* clang-format on */

/* Performs any request and parses the 2xx JSON body into *out (NULL when
 * the body is empty; out may be NULL to discard it). Returns 0, the mapped
 * error of a non-2xx answer, DTK_ETIMEOUT, DTK_EUNAVAIL, DTK_ETOOBIG, or
 * DTK_ERROR when a 2xx body is not JSON. */
int dtk_kube_do(dtk_json **out,
                dtk_kube_client *client,
                const dtk_kube_call *call);

/* GET one object (subresource: optional, e.g. "status", "scale").
 * Returns DTK_ENOTFOUND, DTK_EAUTH, ..., or DTK_ERROR when the answer is
 * not an object (a kind-less body or a Status). */
int dtk_kube_get(dtk_json **out,
                 dtk_kube_client *client,
                 const dtk_kube_gvr *gvr,
                 const char *ns,
                 const char *name,
                 const char *subresource);

typedef struct dtk_kube_list_options {
    const char *label_selector;
    const char *field_selector;
    const char *resource_version;       /* "", "0" or a version */
    const char *resource_version_match; /* "NotOlderThan" | "Exact" */
    long limit;                         /* page size; 0: 500; < 0: unpaged */
    const char *continue_token;         /* dtk_kube_list_page only */
    long timeout_seconds;               /* server side; 0: not sent */
} dtk_kube_list_options;

/* clang-format off */
#define DTK_KUBE_LIST_OPTIONS_INIT { NULL, NULL, NULL, NULL, 0, NULL, 0 }
/* clang-format on */

/* One page: the List object as the server sent it (items,
 * metadata.resourceVersion, metadata.continue). ns NULL: all namespaces.
 * Returns DTK_EGONE for an expired continue token, DTK_ERROR when the
 * answer is not a List. */
int dtk_kube_list_page(dtk_json **out,
                       dtk_kube_client *client,
                       const dtk_kube_gvr *gvr,
                       const char *ns,
                       const dtk_kube_list_options *options);

/* Every page (limit/continue): *items_out is a JSON array of all items
 * (owned by the caller) and *resource_version_out (owned, may be "") the
 * List's resourceVersion, from which a watch starts. When a continue token
 * expires (410) mid-way, the pages so far are dropped and the list is done
 * again unpaged, as client-go's pager does. Returns as dtk_kube_list_page;
 * the outputs are only set on success. */
int dtk_kube_list(dtk_json **items_out,
                  char **resource_version_out,
                  dtk_kube_client *client,
                  const dtk_kube_gvr *gvr,
                  const char *ns,
                  const dtk_kube_list_options *options);

typedef struct dtk_kube_write_options {
    const char *field_manager;    /* required for DTK_KUBE_PATCH_APPLY */
    int force;                    /* apply: take over conflicting fields */
    int dry_run;                  /* dryRun=All */
    const char *field_validation; /* "Strict" | "Warn" | "Ignore" */
} dtk_kube_write_options;

/* clang-format off */
#define DTK_KUBE_WRITE_OPTIONS_INIT { NULL, 0, 0, NULL }
/* clang-format on */

/* POST obj to the collection. options may be NULL. Returns DTK_EEXISTS,
 * DTK_EINVALID (422, with causes in the status), ... *out: the created
 * object (out may be NULL). */
int dtk_kube_create(dtk_json **out,
                    dtk_kube_client *client,
                    const dtk_kube_gvr *gvr,
                    const char *ns,
                    const dtk_json *obj,
                    const dtk_kube_write_options *options);

/* PUT obj (with its metadata.resourceVersion) to the object, or to its
 * subresource ("status"). Returns DTK_ECONFLICT for a stale
 * resourceVersion, DTK_ENOTFOUND, DTK_EINVALID, ... */
int dtk_kube_update(dtk_json **out,
                    dtk_kube_client *client,
                    const dtk_kube_gvr *gvr,
                    const char *ns,
                    const char *name,
                    const char *subresource,
                    const dtk_json *obj,
                    const dtk_kube_write_options *options);

typedef enum dtk_kube_patch_type {
    DTK_KUBE_PATCH_MERGE = 0, /* application/merge-patch+json (RFC 7386) */
    DTK_KUBE_PATCH_JSON,      /* application/json-patch+json (RFC 6902) */
    DTK_KUBE_PATCH_STRATEGIC, /* built-in types only; CRs answer 415 */
    DTK_KUBE_PATCH_APPLY,     /* server-side apply; needs field_manager */
} dtk_kube_patch_type;

/* PATCH the object or its subresource. patch: an object (merge, strategic,
 * apply) or an array of operations (JSON patch). Returns DTK_EINVALID
 * without a request when an apply patch has no field manager or the patch
 * has the wrong JSON type; else as dtk_kube_update. */
int dtk_kube_patch(dtk_json **out,
                   dtk_kube_client *client,
                   const dtk_kube_gvr *gvr,
                   const char *ns,
                   const char *name,
                   const char *subresource,
                   dtk_kube_patch_type type,
                   const dtk_json *patch,
                   const dtk_kube_write_options *options);

typedef struct dtk_kube_delete_options {
    const char *precondition_uid;
    const char *precondition_resource_version;
    const char *propagation_policy; /* "Background" | "Foreground" |
                                     * "Orphan"; NULL: server default */
    long grace_period_seconds;      /* < 0: server default */
    int dry_run;
} dtk_kube_delete_options;

/* clang-format off */
#define DTK_KUBE_DELETE_OPTIONS_INIT { NULL, NULL, NULL, -1, 0 }
/* clang-format on */

/* DELETE the object with a DeleteOptions body. *out (out may be NULL): the
 * object as it is now (finalizers pending) or the success Status. Returns
 * DTK_ENOTFOUND, DTK_ECONFLICT when a precondition fails, ... */
int dtk_kube_delete(dtk_json **out,
                    dtk_kube_client *client,
                    const dtk_kube_gvr *gvr,
                    const char *ns,
                    const char *name,
                    const dtk_kube_delete_options *options);

/* ---- Watch ------------------------------------------------------------ */

#define DTK_KUBE_DEFAULT_MAX_EVENT ((size_t)4 * 1024 * 1024)

typedef enum dtk_kube_event_type {
    DTK_KUBE_ADDED = 1,
    DTK_KUBE_MODIFIED,
    DTK_KUBE_DELETED,
    DTK_KUBE_BOOKMARK,
    DTK_KUBE_ERROR,
} dtk_kube_event_type;

typedef struct dtk_kube_event {
    dtk_kube_event_type type;
    dtk_json *object; /* owned by the event; a callback may take it by
                       * setting it to NULL */
} dtk_kube_event;

/* Returns 0 to go on, > 0 to end the watch normally, < 0 to end it with
 * that error. Called on the watching thread. */
typedef int (*dtk_kube_event_cb)(dtk_kube_event *event, void *payload);

typedef struct dtk_kube_watch_options {
    const char *resource_version; /* from the list; NULL/"" : most recent */
    const char *label_selector;
    const char *field_selector;
    long timeout_seconds; /* server-side duration; 0: 300. The client
                           * deadline is this plus 30 s. */
    int allow_bookmarks;
    int send_initial_events; /* WatchList; adds resourceVersionMatch=
                              * NotOlderThan */
    size_t max_event_size;   /* 0: DTK_KUBE_DEFAULT_MAX_EVENT */
    volatile int *cancel;    /* set non-zero from another thread to stop */
} dtk_kube_watch_options;

/* clang-format off */
#define DTK_KUBE_WATCH_OPTIONS_INIT { NULL, NULL, NULL, 0, 0, 0, 0, NULL }
/* clang-format on */

/* Streams ADDED/MODIFIED/DELETED/BOOKMARK events to cb until the server
 * ends the stream (returns 0), cancel is set (0; DTK_ESHUTDOWN when that
 * happens before the stream started), or cb stops it (0 or its
 * negative value). An ERROR event ends the watch with its Status mapped:
 * code 410 or reason Expired -> DTK_EGONE (relist). Also DTK_ETOOBIG when an
 * event exceeds max_event_size, DTK_ERROR for a malformed event,
 * DTK_ETIMEOUT at the client deadline, and every error of a request. */
int dtk_kube_watch(dtk_kube_client *client,
                   const dtk_kube_gvr *gvr,
                   const char *ns,
                   const dtk_kube_watch_options *options,
                   dtk_kube_event_cb cb,
                   void *payload);

/* The newline framing of a watch body, usable on its own: bytes go in as
 * they arrive (events may be split anywhere, several may share a chunk),
 * complete events come out. */
typedef struct dtk_kube_watch_decoder {
    dtk_buf pending; /* an incomplete event */
    size_t max_event;
    dtk_kube_status status; /* of the ERROR event that ended the stream */
} dtk_kube_watch_decoder;

void dtk_kube_watch_decoder_init(dtk_kube_watch_decoder *dec, size_t max_event);
void dtk_kube_watch_decoder_dispose(dtk_kube_watch_decoder *dec);

/* Feeds bytes; calls cb for every complete event (not for ERROR events,
 * which end the stream with their mapped code, their Status kept in
 * dec->status). Returns 0, cb's non-zero value, DTK_ETOOBIG, DTK_ERROR. */
int dtk_kube_watch_decoder_feed(dtk_kube_watch_decoder *dec,
                                const char *data,
                                size_t len,
                                dtk_kube_event_cb cb,
                                void *payload);

/* At the end of the stream: DTK_ERROR when an incomplete event remains. */
int dtk_kube_watch_decoder_finish(dtk_kube_watch_decoder *dec);

#endif

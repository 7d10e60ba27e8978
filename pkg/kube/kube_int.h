/* Internals shared by the files of pkg/kube. Only pkg/kube/ includes this.
 *
 *   config.c      dtk_kube_config: options, in-cluster, load order, QPS
 *   kubeconfig.c  kubeconfig files (libyaml): parse, merge, validate
 *   auth.c        credentials that change at run time: token file, exec
 *   client.c      requests, retries, verbs
 *   watch.c       watch stream framing
 *   status.c      HTTP status + metav1.Status -> dtk_error_code
 *   meta.c        ObjectMeta, GVR paths, ownerReferences
 */
#ifndef DTK_KUBE_KUBE_INT_H
#define DTK_KUBE_KUBE_INT_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "pkg/base/buf.h"
#include "pkg/http/http.h"
#include "pkg/kube/kube.h"

/* Bounds on files the configuration reads: kubeconfig, CA, certificates,
 * keys, tokens, plugin output. */
#define DTK_KUBE__FILE_LIMIT ((size_t)4 * 1024 * 1024)

typedef enum dtk_kube__auth_kind {
    DTK_KUBE__AUTH_NONE = 0,
    DTK_KUBE__AUTH_TOKEN,      /* static bearer token */
    DTK_KUBE__AUTH_TOKEN_FILE, /* re-read every reload_ms and on 401 */
    DTK_KUBE__AUTH_EXEC,       /* plugin, re-run on expiry and on 401 */
} dtk_kube__auth_kind;

/* An exec credential plugin as configured. */
typedef struct dtk_kube__exec {
    char *command;      /* resolved against the kubeconfig's directory when
                         * it contains a '/' */
    char **argv;        /* argv[0] = command; NULL-terminated */
    char **env;         /* "NAME=value"; NULL-terminated */
    char *api_version;  /* client.authentication.k8s.io/v1 or v1beta1 */
    char *install_hint; /* shown when the command cannot be run */
    char *exec_info;    /* KUBERNETES_EXEC_INFO (JSON) */
} dtk_kube__exec;

/* Credentials that change at run time. One per config, shared by every
 * thread. lock protects everything below it; a refresh (file read, plugin
 * run) happens outside the lock, with `refreshing` set so that other
 * threads wait on cond instead of starting a second plugin. */
typedef struct dtk_kube__auth {
    dtk_kube__auth_kind kind;
    char *token_file;
    long reload_ms;
    dtk_kube__exec *exec;
    long exec_timeout_ms;

    pthread_mutex_t lock;
    pthread_cond_t cond;
    char *token;    /* current bearer token */
    char *cert_pem; /* client identity from the plugin */
    char *key_pem;
    int64_t loaded_ms; /* monotonic time of the last file read */
    time_t expiry;     /* plugin credential expiry (wall clock) */
    int has_expiry;
    unsigned long generation; /* bumped whenever the credentials change */
    int refreshing;
    int stale; /* a 401 condemned the current credentials */
} dtk_kube__auth;

/* A snapshot of the credentials for one request. */
typedef struct dtk_kube__cred {
    char *token;
    char *cert_pem;
    char *key_pem;
    unsigned long generation;
} dtk_kube__cred;

struct dtk_kube_config {
    char *server;    /* scheme://host[:port][/prefix], no trailing '/' */
    char *host;      /* host[:port], for the request hook */
    char *namespace; /* default namespace */
    char *context;   /* context name or NULL */
    char *ca_pem;
    char *cert_pem;
    char *key_pem;
    char *tls_server_name;
    int insecure;
    char *username;
    char *password;
    char **headers; /* extra request headers (User-Agent, Impersonate-*),
                     * NULL-terminated */
    size_t header_count;
    dtk_kube__auth auth;

    long connect_timeout_ms;
    long timeout_ms;
    int max_attempts;
    long retry_base_ms;
    long retry_max_ms;
    long max_retry_after_ms;
    dtk_kube_request_hook on_request;
    void *on_request_payload;

    /* Client-side token bucket, shared by all clients of the config. */
    pthread_mutex_t bucket_lock;
    double qps;
    double burst;
    double tokens;
    int64_t bucket_ms;
};

/* config.c */
/* A configuration with options applied and nothing else; DTK_EINVALID for
 * a bad user agent. options may be NULL. */
int dtk_kube__config_new(dtk_kube_config **out,
                         const dtk_kube_config_options *options);
/* Normalises server, derives host; DTK_EINVALID for a bad URL. */
int dtk_kube__config_set_server(dtk_kube_config *cfg, const char *server);
/* DTK_EINVALID when the value holds a line break (header injection). */
int dtk_kube__config_add_header(dtk_kube_config *cfg,
                                const char *name,
                                const char *value);
/* Waits for a token of the QPS bucket (no-op when qps <= 0). */
void dtk_kube__config_throttle(dtk_kube_config *cfg);
/* Reads a whole file into out (bounded). DTK_ENOTFOUND when it does not
 * exist, DTK_ETOOBIG, DTK_ERROR; the message names the path. */
int dtk_kube__read_file(dtk_buf *out, const char *path, size_t limit);
/* Reads a small text file with surrounding white space stripped. */
int dtk_kube__read_trimmed(char **out, const char *path);
/* Wipes and frees a string holding a secret. NULL is a no-op. */
void dtk_kube__free_secret(char *s);

/* kubeconfig.c */
int dtk_kube__kubeconfig_load(dtk_kube_config *cfg,
                              const dtk_kube_config_options *options);

/* auth.c */
void dtk_kube__auth_init(dtk_kube__auth *auth);
void dtk_kube__auth_dispose(dtk_kube__auth *auth);
/* The credentials to use now, refreshing them first when due. Returns
 * DTK_EAUTH when none can be obtained (message says why). */
int dtk_kube__auth_get(dtk_kube__auth *auth, dtk_kube__cred *out);
/* After a 401 answered a request made with credentials of generation
 * `used`: marks them stale. Returns 1 when a retry can use other
 * credentials, 0 when there is nothing to refresh. */
int dtk_kube__auth_invalidate(dtk_kube__auth *auth, unsigned long used);
void dtk_kube__cred_dispose(dtk_kube__cred *cred);
void dtk_kube__exec_free(dtk_kube__exec *exec);

/* client.c: one request with retries, auth and the hook. */
typedef struct dtk_kube__req {
    const char *method;
    const char *path;
    const char *content_type;
    const char *body;
    size_t body_len;
    long timeout_ms; /* 0: config; < 0: none */
    size_t response_limit;
    int max_attempts; /* 0: config */
    volatile int *cancel;
    dtk_http_data_cb stream_cb; /* streams a 2xx body */
    void *stream_payload;
} dtk_kube__req;

/* Returns 0 when the final answer is 2xx (resp holds it), else the mapped
 * error with the client's status set. resp: DTK_HTTP_RESPONSE_INIT, the
 * caller disposes it in every case. */
int dtk_kube__send(dtk_kube_client *client,
                   const dtk_kube__req *req,
                   dtk_http_response *resp);
dtk_kube_status *dtk_kube__client_status(dtk_kube_client *client);
/* The client's cancel flag (dtk_kube_client_set_cancel) or NULL. */
volatile int *dtk_kube__client_cancel(dtk_kube_client *client);
/* Appends "&key=escaped(value)" (or '?' first). */
int dtk_kube__query(dtk_buf *path, const char *key, const char *value);
int dtk_kube__query_long(dtk_buf *path, const char *key, long value);

/* status.c: resets status to an answer without a body. */
void dtk_kube__status_reset(dtk_kube_status *status, long http_code);
/* Copies src into dst (disposed first). */
void dtk_kube__status_copy(dtk_kube_status *dst, const dtk_kube_status *src);

#endif

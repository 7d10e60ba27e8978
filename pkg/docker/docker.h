/* Docker Engine API client: unix socket or TCP (+TLS) through pkg/http.
 * Thread-safety: none; one client per thread (it owns a libcurl handle).
 *
 * The API version is negotiated on the first call that needs it (GET
 * /version): the lower of the engine's ApiVersion and
 * DTK_DOCKER_API_VERSION_MAX, refused below DTK_DOCKER_API_VERSION_MIN. Every
 * call has a timeout; response bodies are bounded (DTK_DOCKER_BODY_LIMIT) and
 * decoded with pkg/json.
 *
 * Errors: HTTP statuses become codes here, once:
 *   304 (already started / already stopped)  -> 0, success for the caller
 *   400 -> DTK_EINVALID      401 -> DTK_EAUTH
 *   403 -> DTK_ECONFLICT (Docker uses it for "network has active endpoints",
 *          "pre-defined network cannot be removed": refusals of the current
 *          state, not of the caller's identity)
 *   404 -> DTK_ENOTFOUND
 *   409 -> DTK_EEXISTS on create calls (name in use), DTK_ECONFLICT elsewhere
 *   503 -> DTK_EUNAVAIL      other -> DTK_ERROR
 * and transport failures keep pkg/http's codes (DTK_EUNAVAIL when the engine
 * cannot be reached, DTK_ETIMEOUT, DTK_ERROR for TLS failures). The message
 * says what was attempted and carries the engine's own message, e.g.
 * "inspect container 'web': No such container: web". Registry passwords and
 * TLS keys never appear in messages.
 *
 * Ownership: "*_out" results from this API are owned by the caller and
 * released with the matching *_dispose; const char * inputs are borrowed for
 * the call only.
 *
 * Conventions for what the operator owns (../shared/DESIGN.md) live at the
 * end: deterministic names, owner labels and the config hash used to detect
 * drift.
 */
#ifndef DTK_DOCKER_DOCKER_H
#define DTK_DOCKER_DOCKER_H

#include <stddef.h>
#include <stdint.h>

#include "pkg/base/buf.h"
#include "pkg/json/json.h"

#define DTK_DOCKER_API_VERSION_MAX         "1.41"
#define DTK_DOCKER_API_VERSION_MIN         "1.40"
#define DTK_DOCKER_DEFAULT_HOST            "unix:///var/run/docker.sock"
#define DTK_DOCKER_BODY_LIMIT              ((size_t)1024 * 1024)
#define DTK_DOCKER_DEFAULT_TIMEOUT_MS      30000L
#define DTK_DOCKER_DEFAULT_PULL_TIMEOUT_MS (10L * 60 * 1000)

typedef struct dtk_docker dtk_docker;

/* ---- Client ------------------------------------------------------------ */

typedef struct dtk_docker_options {
    /* unix:///path, tcp://host[:port] (2376 with TLS, else 2375), or
     * http(s)://host:port. NULL: DTK_DOCKER_DEFAULT_HOST. */
    const char *host;
    /* tcp:// only: use TLS. Implied when any PEM below is set. */
    int tls;
    const char *ca_pem;   /* PEM text, copied; NULL: system store */
    const char *cert_pem; /* client identity for --tlsverify engines */
    const char *key_pem;
    int insecure_skip_verify;
    /* Pin the API version ("1.41") and skip negotiation. NULL: negotiate. */
    const char *api_version;
    long connect_timeout_ms; /* 0: 5 s */
    long timeout_ms;         /* per call; 0: DTK_DOCKER_DEFAULT_TIMEOUT_MS */
} dtk_docker_options;

/* clang-format off */
#define DTK_DOCKER_OPTIONS_INIT { NULL, 0, NULL, NULL, NULL, 0, NULL, 0, 0 }
/* clang-format on */

/* Makes a client; no I/O happens here. Returns DTK_EINVALID for a host that
 * is not understood. *out is owned by the caller. */
int dtk_docker_new(dtk_docker **out, const dtk_docker_options *options);
void dtk_docker_free(dtk_docker *client);

/* The host as configured (borrowed), for messages and status. */
const char *dtk_docker_host(const dtk_docker *client);

/* The negotiated API version ("1.41"), or NULL before the first call that
 * negotiated it (borrowed). */
const char *dtk_docker_api_version(const dtk_docker *client);

/* GET /_ping. DTK_EUNAVAIL when the engine is not reachable. */
int dtk_docker_ping(dtk_docker *client);

typedef struct dtk_docker_version_info {
    char *version;     /* "20.10.24+dfsg1" */
    char *api_version; /* the engine's newest, "1.41" */
    char *min_api_version;
    char *os;
    char *arch;
    char *kernel_version;
} dtk_docker_version_info;

/* clang-format off */
#define DTK_DOCKER_VERSION_INFO_INIT { NULL, NULL, NULL, NULL, NULL, NULL }
/* clang-format on */

/* GET /version; also negotiates the API version. */
int dtk_docker_version(dtk_docker *client, dtk_docker_version_info *out);
void dtk_docker_version_info_dispose(dtk_docker_version_info *info);

/* ---- Shared types ------------------------------------------------------ */

/* An input label (borrowed strings). */
typedef struct dtk_docker_kv {
    const char *key;
    const char *value;
} dtk_docker_kv;

/* Labels read back from the engine (owned by the enclosing result). */
typedef struct dtk_docker_label {
    char *key;
    char *value;
} dtk_docker_label;

typedef struct dtk_docker_labels {
    dtk_docker_label *items;
    size_t count;
} dtk_docker_labels;

/* The value of key, borrowed, or NULL. */
const char *dtk_docker_labels_get(const dtk_docker_labels *labels,
                                  const char *key);

/* Filters for the list calls. */
typedef struct dtk_docker_list_options {
    /* NULL-terminated "key" or "key=value" entries; all must match. */
    const char *const *labels;
    const char *name; /* substring match, as the engine does; NULL: any */
    int all;          /* containers: include stopped ones */
} dtk_docker_list_options;

/* clang-format off */
#define DTK_DOCKER_LIST_OPTIONS_INIT { NULL, NULL, 0 }
/* clang-format on */

/* Output of logs and exec, demultiplexed. Each buffer keeps at most its
 * limit; what does not fit is dropped and truncated is set (the call still
 * succeeds). */
typedef struct dtk_docker_output {
    dtk_buf out;
    dtk_buf err;
    int truncated;
} dtk_docker_output;

/* clang-format off */
#define DTK_DOCKER_OUTPUT_INIT { DTK_BUF_INIT(DTK_DOCKER_BODY_LIMIT), \
                                 DTK_BUF_INIT(DTK_DOCKER_BODY_LIMIT), 0 }
/* clang-format on */

void dtk_docker_output_dispose(dtk_docker_output *output);

/* ---- Ownership (see the end of this header) ----------------------------- */

/* Who owns a container, network or volume. component is NULL for
 * instance-wide objects (the network). Borrowed strings. */
typedef struct dtk_docker_owner {
    const char *namespace_name;
    const char *instance;
    const char *instance_uid;
    const char *component;
    int replica;
} dtk_docker_owner;

/* clang-format off */
#define DTK_DOCKER_OWNER_INIT { NULL, NULL, NULL, NULL, 0 }
/* clang-format on */

/* ---- Containers ---------------------------------------------------------- */

typedef struct dtk_docker_port {
    int container_port;
    const char *protocol; /* "tcp" (NULL) or "udp" */
    const char *host_ip;  /* NULL: all addresses; "127.0.0.1" for loopback */
    int host_port;        /* 0: an ephemeral port chosen by the engine */
} dtk_docker_port;

typedef struct dtk_docker_mount {
    const char *type;   /* "volume" (NULL), "bind" or "tmpfs" */
    const char *source; /* volume name or host path; NULL for tmpfs */
    const char *target; /* path in the container */
    int read_only;
} dtk_docker_mount;

typedef struct dtk_docker_healthcheck {
    /* {"CMD-SHELL", "wget -q -O /dev/null http://localhost/", NULL},
     * {"CMD", "prog", "arg", NULL} or {"NONE", NULL} to disable. */
    const char *const *test;
    int64_t interval_ms; /* 0: engine default (30 s); else >= 1 */
    int64_t timeout_ms;
    int64_t start_period_ms;
    int retries; /* 0: engine default (3) */
} dtk_docker_healthcheck;

/* clang-format off */
#define DTK_DOCKER_HEALTHCHECK_INIT { NULL, 0, 0, 0, 0 }
/* clang-format on */

typedef struct dtk_docker_container_spec {
    /* NULL: derived from owner with dtk_docker_container_name. */
    const char *name;
    const char *image;
    const char *const *env;        /* NULL-terminated "KEY=value" */
    const char *const *entrypoint; /* NULL: the image's */
    const char *const *cmd;        /* NULL: the image's */
    const char *working_dir;
    const char *user;
    const char *hostname;
    const dtk_docker_port *ports;
    size_t port_count;
    const dtk_docker_mount *mounts;
    size_t mount_count;
    /* "no" (NULL), "always", "unless-stopped" or "on-failure". */
    const char *restart_policy;
    int restart_max_retries;                   /* on-failure only */
    const dtk_docker_healthcheck *healthcheck; /* NULL: the image's */
    const dtk_docker_kv *labels;
    size_t label_count;
    const char *network;        /* NULL: the default bridge */
    const char *const *aliases; /* DNS aliases on network */
    const char *stop_signal;    /* NULL: SIGTERM (or the image's) */
    int stop_grace_period_s;    /* < 0: engine default (10 s) */
    /* When set, create adds the owner labels and the config hash label, and
     * a NULL name is derived from it. */
    const dtk_docker_owner *owner;
} dtk_docker_container_spec;

/* clang-format off */
#define DTK_DOCKER_CONTAINER_SPEC_INIT { NULL, NULL, NULL, NULL, NULL, NULL, \
    NULL, NULL, NULL, 0, NULL, 0, NULL, 0, NULL, NULL, 0, NULL, NULL, NULL, \
    -1, NULL }
/* clang-format on */

/* POST /containers/create. *id_out (caller frees with dtk_free) may be NULL.
 * DTK_EEXISTS when the name is taken, DTK_ENOTFOUND when the image is not
 * present (pull first), DTK_EINVALID for a spec the engine refuses. */
int dtk_docker_container_create(dtk_docker *client,
                                char **id_out,
                                const dtk_docker_container_spec *spec);

/* An already running container is success. DTK_ENOTFOUND. */
int dtk_docker_container_start(dtk_docker *client, const char *id);

/* Sends the stop signal, waits grace_s seconds, then SIGKILL. grace_s < 0
 * uses the container's own grace period (read with an inspect). An already
 * stopped container is success. DTK_ENOTFOUND. */
int dtk_docker_container_stop(dtk_docker *client, const char *id, int grace_s);

/* signal NULL: SIGKILL. DTK_ECONFLICT when the container is not running. */
int dtk_docker_container_kill(dtk_docker *client,
                              const char *id,
                              const char *signal);

/* force kills a running container first; the container's anonymous volumes
 * go with it. DTK_ENOTFOUND when it is already gone, DTK_ECONFLICT when it
 * runs and force is 0. */
int dtk_docker_container_remove(dtk_docker *client, const char *id, int force);

/* Force-removes; a container that is already gone is success (the error is
 * cleared). For teardown paths. */
int dtk_docker_container_ensure_removed(dtk_docker *client, const char *id);

/* Waits until the container is not running and returns its exit code.
 * DTK_ETIMEOUT after timeout_ms (<= 0: the client's timeout). */
int dtk_docker_container_wait(dtk_docker *client,
                              int *exit_code_out,
                              const char *id,
                              long timeout_ms);

typedef struct dtk_docker_container_summary {
    char *id;
    char *name; /* without the leading "/" */
    char *image;
    char *state;  /* "created", "running", "exited", ... */
    char *status; /* "Up 3 seconds" */
    int64_t created;
    dtk_docker_labels labels;
} dtk_docker_container_summary;

typedef struct dtk_docker_containers {
    dtk_docker_container_summary *items;
    size_t count;
} dtk_docker_containers;

/* clang-format off */
#define DTK_DOCKER_CONTAINERS_INIT { NULL, 0 }
/* clang-format on */

/* GET /containers/json with label and name filters. options may be NULL. */
int dtk_docker_container_list(dtk_docker *client,
                              dtk_docker_containers *out,
                              const dtk_docker_list_options *options);
void dtk_docker_containers_dispose(dtk_docker_containers *list);

typedef struct dtk_docker_container_info {
    char *id;
    char *name;     /* without the leading "/" */
    char *image;    /* Config.Image, as created */
    char *image_id; /* sha256:... */
    char *status;   /* State.Status: "created", "running", "exited", ... */
    int running;
    int restarting;
    int oom_killed;
    int exit_code;
    int64_t pid;
    int restart_count;
    char *health; /* "starting", "healthy", "unhealthy"; NULL: none */
    char *started_at;
    char *finished_at;
    dtk_docker_labels labels;
    dtk_json *raw; /* the whole document, for fields not decoded here */
} dtk_docker_container_info;

/* clang-format off */
#define DTK_DOCKER_CONTAINER_INFO_INIT { NULL, NULL, NULL, NULL, NULL, 0, 0, \
    0, 0, 0, 0, NULL, NULL, NULL, { NULL, 0 }, NULL }
/* clang-format on */

/* GET /containers/{id}/json. DTK_ENOTFOUND. */
int dtk_docker_container_inspect(dtk_docker *client,
                                 dtk_docker_container_info *out,
                                 const char *id);
void dtk_docker_container_info_dispose(dtk_docker_container_info *info);

/* The host port published for container_port/protocol (NULL: "tcp").
 * DTK_ENOTFOUND when it is not published (or the container is not
 * running). */
int dtk_docker_container_host_port(const dtk_docker_container_info *info,
                                   int *host_port_out,
                                   int container_port,
                                   const char *protocol);

/* The container's address on network (borrowed), or NULL. */
const char *dtk_docker_container_ip(const dtk_docker_container_info *info,
                                    const char *network);

typedef struct dtk_docker_logs_options {
    int no_stdout;
    int no_stderr;
    int tail; /* the last N lines; <= 0: all */
    int timestamps;
} dtk_docker_logs_options;

/* clang-format off */
#define DTK_DOCKER_LOGS_OPTIONS_INIT { 0, 0, 0, 0 }
/* clang-format on */

/* GET /containers/{id}/logs (not following), demultiplexed into out (which
 * the caller initialised with DTK_DOCKER_OUTPUT_INIT and disposes). options
 * may be NULL. DTK_ENOTFOUND. */
int dtk_docker_container_logs(dtk_docker *client,
                              dtk_docker_output *out,
                              const char *id,
                              const dtk_docker_logs_options *options);

/* ---- Exec (day-2 actions) ------------------------------------------------ */

typedef struct dtk_docker_exec_spec {
    const char *const *cmd; /* NULL-terminated, required */
    const char *const *env; /* "KEY=value" */
    const char *user;
    const char *working_dir;
    long timeout_ms; /* for the whole run; <= 0: the client's timeout */
} dtk_docker_exec_spec;

/* clang-format off */
#define DTK_DOCKER_EXEC_SPEC_INIT { NULL, NULL, NULL, NULL, 0 }
/* clang-format on */

/* POST /containers/{id}/exec. DTK_ENOTFOUND, DTK_ECONFLICT when the container
 * is not running. *exec_id_out freed with dtk_free. */
int dtk_docker_exec_create(dtk_docker *client,
                           char **exec_id_out,
                           const char *container,
                           const dtk_docker_exec_spec *spec);

/* POST /exec/{id}/start attached: returns when the command's output ends.
 * out as for logs. DTK_ETIMEOUT after timeout_ms (the command keeps
 * running in the container). */
int dtk_docker_exec_start(dtk_docker *client,
                          dtk_docker_output *out,
                          const char *exec_id,
                          long timeout_ms);

/* GET /exec/{id}/json. exit_code is -1 while running. */
int dtk_docker_exec_inspect(dtk_docker *client,
                            int *running_out,
                            int *exit_code_out,
                            const char *exec_id);

/* create + start + inspect: runs cmd in the container and returns its
 * output and exit code. */
int dtk_docker_exec_run(dtk_docker *client,
                        dtk_docker_output *out,
                        int *exit_code_out,
                        const char *container,
                        const dtk_docker_exec_spec *spec);

/* ---- Images -------------------------------------------------------------- */

typedef struct dtk_docker_image_info {
    char *id;
    char **repo_tags;
    size_t repo_tag_count;
    int64_t size;
    dtk_json *raw;
} dtk_docker_image_info;

/* clang-format off */
#define DTK_DOCKER_IMAGE_INFO_INIT { NULL, NULL, 0, 0, NULL }
/* clang-format on */

/* GET /images/{name}/json. DTK_ENOTFOUND when not present locally. */
int dtk_docker_image_inspect(dtk_docker *client,
                             dtk_docker_image_info *out,
                             const char *name);
void dtk_docker_image_info_dispose(dtk_docker_image_info *info);

typedef struct dtk_docker_pull_options {
    /* The content of a kubernetes.io/dockerconfigjson Secret (".auths") or
     * of a legacy .dockercfg; the entry for the image's registry is sent as
     * X-Registry-Auth. NULL or no entry: anonymous. */
    const char *dockerconfigjson;
    long timeout_ms; /* 0: DTK_DOCKER_DEFAULT_PULL_TIMEOUT_MS */
} dtk_docker_pull_options;

/* clang-format off */
#define DTK_DOCKER_PULL_OPTIONS_INIT { NULL, 0 }
/* clang-format on */

/* POST /images/create?fromImage=&tag= (tag "latest" when none is given). The
 * engine reports failures either as an HTTP error or inside a 200 progress
 * stream; both come back with the engine's message, as DTK_ENOTFOUND when it
 * says "not found", "manifest unknown" or "repository does not exist",
 * DTK_EAUTH for "unauthorized"/"authentication required" (read from the
 * text: the stream carries no status), else DTK_ERROR. A malformed
 * dockerconfigjson is DTK_EINVALID. options may be NULL. */
int dtk_docker_image_pull(dtk_docker *client,
                          const char *image,
                          const dtk_docker_pull_options *options);

/* Inspect, and pull only when the image is not present. */
int dtk_docker_image_ensure(dtk_docker *client,
                            const char *image,
                            const dtk_docker_pull_options *options);

/* DELETE /images/{name}. DTK_ENOTFOUND, DTK_ECONFLICT when a container uses
 * it and force is 0. */
int dtk_docker_image_remove(dtk_docker *client, const char *name, int force);

/* The registry host an image reference points at: "docker.io" for
 * "nginx:1" or "library/nginx", "registry.example.com:5000" for
 * "registry.example.com:5000/team/app:1". */
int dtk_docker_image_registry(dtk_buf *out, const char *image);

/* The X-Registry-Auth value for image: base64url (padded) of the JSON auth
 * config {"username","password","serveraddress"} (or "identitytoken") taken
 * from the dockerconfigjson entry of the image's registry. DTK_ENOTFOUND when
 * the config has no entry for it, DTK_EINVALID (naming the key, never a
 * value) when the config is malformed. */
int dtk_docker_registry_auth(dtk_buf *out,
                             const char *dockerconfigjson,
                             const char *image);

/* ---- Networks ------------------------------------------------------------ */

typedef struct dtk_docker_network_spec {
    /* NULL: derived from owner with dtk_docker_network_name. */
    const char *name;
    const char *driver; /* NULL: "bridge" */
    const dtk_docker_kv *labels;
    size_t label_count;
    int internal;
    int attachable;
    const dtk_docker_owner *owner; /* adds the owner labels */
} dtk_docker_network_spec;

/* clang-format off */
#define DTK_DOCKER_NETWORK_SPEC_INIT { NULL, NULL, NULL, 0, 0, 0, NULL }
/* clang-format on */

/* POST /networks/create with CheckDuplicate. DTK_EEXISTS when the name is
 * taken. *id_out may be NULL. */
int dtk_docker_network_create(dtk_docker *client,
                              char **id_out,
                              const dtk_docker_network_spec *spec);

typedef struct dtk_docker_network_info {
    char *id;
    char *name;
    char *driver;
    int internal;
    dtk_docker_labels labels;
    char **containers; /* ids of attached containers (inspect only) */
    size_t container_count;
} dtk_docker_network_info;

/* clang-format off */
#define DTK_DOCKER_NETWORK_INFO_INIT { NULL, NULL, NULL, 0, { NULL, 0 }, NULL, 0 }
/* clang-format on */

int dtk_docker_network_inspect(dtk_docker *client,
                               dtk_docker_network_info *out,
                               const char *id_or_name);
void dtk_docker_network_info_dispose(dtk_docker_network_info *info);

typedef struct dtk_docker_networks {
    dtk_docker_network_info *items;
    size_t count;
} dtk_docker_networks;

/* clang-format off */
#define DTK_DOCKER_NETWORKS_INIT { NULL, 0 }
/* clang-format on */

int dtk_docker_network_list(dtk_docker *client,
                            dtk_docker_networks *out,
                            const dtk_docker_list_options *options);
void dtk_docker_networks_dispose(dtk_docker_networks *list);

/* Attaches a container with DNS aliases (NULL-terminated, may be NULL).
 * DTK_ECONFLICT when it is already attached. */
int dtk_docker_network_connect(dtk_docker *client,
                               const char *network,
                               const char *container,
                               const char *const *aliases);
int dtk_docker_network_disconnect(dtk_docker *client,
                                  const char *network,
                                  const char *container,
                                  int force);

/* DTK_ENOTFOUND, DTK_ECONFLICT while containers are attached. */
int dtk_docker_network_remove(dtk_docker *client, const char *id_or_name);
/* Already gone is success. */
int dtk_docker_network_ensure_removed(dtk_docker *client,
                                      const char *id_or_name);

/* ---- Volumes ------------------------------------------------------------- */

typedef struct dtk_docker_volume_spec {
    const char *name;   /* NULL: the engine picks one */
    const char *driver; /* NULL: "local" */
    const dtk_docker_kv *labels;
    size_t label_count;
    const dtk_docker_owner *owner;
} dtk_docker_volume_spec;

/* clang-format off */
#define DTK_DOCKER_VOLUME_SPEC_INIT { NULL, NULL, NULL, 0, NULL }
/* clang-format on */

typedef struct dtk_docker_volume_info {
    char *name;
    char *driver;
    char *mountpoint;
    dtk_docker_labels labels;
} dtk_docker_volume_info;

/* clang-format off */
#define DTK_DOCKER_VOLUME_INFO_INIT { NULL, NULL, NULL, { NULL, 0 } }
/* clang-format on */

/* POST /volumes/create (the engine returns an existing volume of the same
 * name unchanged). out may be NULL. */
int dtk_docker_volume_create(dtk_docker *client,
                             dtk_docker_volume_info *out,
                             const dtk_docker_volume_spec *spec);
void dtk_docker_volume_info_dispose(dtk_docker_volume_info *info);

typedef struct dtk_docker_volumes {
    dtk_docker_volume_info *items;
    size_t count;
} dtk_docker_volumes;

/* clang-format off */
#define DTK_DOCKER_VOLUMES_INIT { NULL, 0 }
/* clang-format on */

int dtk_docker_volume_list(dtk_docker *client,
                           dtk_docker_volumes *out,
                           const dtk_docker_list_options *options);
void dtk_docker_volumes_dispose(dtk_docker_volumes *list);

/* DTK_ENOTFOUND, DTK_ECONFLICT while a container uses it. */
int dtk_docker_volume_remove(dtk_docker *client, const char *name, int force);
int dtk_docker_volume_ensure_removed(dtk_docker *client, const char *name);

/* ---- Multiplexed stream (logs, exec) --------------------------------------
 * Without a TTY the engine frames output as an 8-byte header {stream, 0, 0,
 * 0, size as big-endian uint32} and size payload bytes. The decoder keeps
 * its state between reads, so frames may be split anywhere; it never
 * buffers a payload (memory is constant). */

enum {
    DTK_DOCKER_STREAM_STDIN = 0,
    DTK_DOCKER_STREAM_STDOUT = 1,
    DTK_DOCKER_STREAM_STDERR = 2,
    DTK_DOCKER_STREAM_SYSTEMERR = 3,
};

/* Receives payload pieces; return non-zero to stop (the value is passed
 * back by dtk_docker_demux_feed). */
typedef int (*dtk_docker_demux_cb)(int stream,
                                   const char *data,
                                   size_t len,
                                   void *payload);

typedef struct dtk_docker_demux {
    unsigned char header[8];
    size_t header_len; /* bytes of the current header seen so far */
    size_t remaining;  /* payload bytes of the current frame still due */
    int stream;
} dtk_docker_demux;

/* clang-format off */
#define DTK_DOCKER_DEMUX_INIT { { 0 }, 0, 0, 0 }
/* clang-format on */

/* Returns 0, the callback's non-zero value, or DTK_EINVALID for a header
 * with an unknown stream byte (the input is not a multiplexed stream). */
int dtk_docker_demux_feed(dtk_docker_demux *demux,
                          const char *data,
                          size_t len,
                          dtk_docker_demux_cb cb,
                          void *payload);

/* DTK_EINVALID when the stream ended inside a frame. */
int dtk_docker_demux_finish(const dtk_docker_demux *demux);

/* ---- What the operator owns: names, labels, drift --------------------------
 * Containers are named dtk-<namespace>-<instance>-<component>-<replica> and
 * the instance network dtk-<namespace>-<instance>. Names are lowercase
 * [a-z0-9-] and at most DTK_DOCKER_NAME_MAX characters, so they are valid
 * Docker names and DNS labels (the embedded DNS resolves container names).
 * Characters outside [a-z0-9-] become '-'. When the plain name is longer,
 * or anything had to be replaced, the readable part is cut and
 * "-<10 hex digits of SHA-256 of the untouched parts>" is inserted before
 * the replica, so distinct inputs keep distinct names. Ownership is decided
 * by labels (instance UID), never by parsing names. */

#define DTK_DOCKER_NAME_MAX 63

#define DTK_DOCKER_LABEL_MANAGED_BY   "io.dtk.managed-by"
#define DTK_DOCKER_MANAGED_BY_VALUE   "dtk-operator"
#define DTK_DOCKER_LABEL_NAMESPACE    "io.dtk.namespace"
#define DTK_DOCKER_LABEL_INSTANCE     "io.dtk.instance"
#define DTK_DOCKER_LABEL_INSTANCE_UID "io.dtk.instance-uid"
#define DTK_DOCKER_LABEL_COMPONENT    "io.dtk.component"
#define DTK_DOCKER_LABEL_REPLICA      "io.dtk.replica"
#define DTK_DOCKER_LABEL_CONFIG_HASH  "io.dtk.config-hash"

/* 64 hex digits and the NUL. */
#define DTK_DOCKER_CONFIG_HASH_SIZE 65

/* Appends the container name. DTK_EINVALID when a part is empty or replica
 * is negative. */
int dtk_docker_container_name(dtk_buf *out,
                              const char *namespace_name,
                              const char *instance,
                              const char *component,
                              int replica);

/* Appends the instance network's name. */
int dtk_docker_network_name(dtk_buf *out,
                            const char *namespace_name,
                            const char *instance);

/* Appends a named volume's name: dtk-<namespace>-<instance>-<volume>. */
int dtk_docker_volume_name(dtk_buf *out,
                           const char *namespace_name,
                           const char *instance,
                           const char *volume);

/* SHA-256 (hex) over a canonical serialisation of everything in spec that
 * shapes the container: image, env, entrypoint, cmd, working dir, user,
 * hostname, ports, mounts, restart policy, healthcheck, labels (except
 * io.dtk.*), network, aliases, stop signal and grace period. name and owner
 * are identity, not configuration, and are left out. Set-like lists
 * (ports, mounts, aliases, labels, env by key) are sorted first, so their
 * order does not matter; argv order does. */
int dtk_docker_config_hash(char out[DTK_DOCKER_CONFIG_HASH_SIZE],
                           const dtk_docker_container_spec *spec);

/* Label filters selecting what instance_uid owns (component NULL: all of
 * it), for dtk_docker_list_options.labels. The entries point into storage,
 * which must outlive filters. */
typedef struct dtk_docker_owner_filter {
    const char *labels[4];
    dtk_buf storage[2];
} dtk_docker_owner_filter;

void dtk_docker_owner_filter_init(dtk_docker_owner_filter *filter,
                                  const char *instance_uid,
                                  const char *component);
void dtk_docker_owner_filter_dispose(dtk_docker_owner_filter *filter);

/* Lists every container (running or not) owned by instance_uid, optionally
 * only one component. */
int dtk_docker_container_list_owned(dtk_docker *client,
                                    dtk_docker_containers *out,
                                    const char *instance_uid,
                                    const char *component);

/* 1 when the container's config-hash label differs from config_hash (or is
 * missing), i.e. it must be recreated; 0 when it matches. */
int dtk_docker_container_drifted(const dtk_docker_labels *labels,
                                 const char *config_hash);

#endif

/* dtk-operator: flags, configuration, signals; wires the manager.
 *
 * The only place that calls exit(). Flags (each also readable from the
 * environment variable in brackets):
 *   --kubeconfig PATH                 ($KUBECONFIG; else in-cluster, else
 *                                      ~/.kube/config)
 *   --namespace NS (repeatable)        (DTK_NAMESPACES, comma-separated)
 *   --workers N                        (DTK_WORKERS; default 2)
 *   --leader-elect                     (DTK_LEADER_ELECT=true)
 *   --leader-election-id NAME          (default dtk-operator-leader)
 *   --leader-election-namespace NS     (default: the config's namespace)
 *   --metrics-bind-address HOST:PORT   (default 127.0.0.1:8080; 0: off)
 *   --health-probe-bind-address H:P    (default 127.0.0.1:8081; 0: off)
 *   --log-level error|warn|info|debug|trace   (DTK_LOG_LEVEL)
 *   --log-format text|json             (DTK_LOG_FORMAT)
 *   --cluster-id ID                    (DTK_CLUSTER_ID; OSB context)
 * SIGTERM or SIGINT stops the manager: the queues drain (reconciles in
 * flight finish) and the lease is released, within 30 s. Losing the lease
 * exits with status 1, as controller-runtime does, so the replica restarts
 * as a standby.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/controller.h"
#include "pkg/base/alloc.h"
#include "pkg/base/error.h"
#include "pkg/base/log.h"
#include "pkg/health/health.h"
#include "pkg/http/http.h"
#include "pkg/runtime/runtime.h"

#define MAX_NAMESPACES 64

typedef struct flags {
    const char *kubeconfig;
    const char *namespaces[MAX_NAMESPACES];
    size_t namespace_count;
    char *namespace_env; /* owned copy of DTK_NAMESPACES */
    long workers;
    int leader_elect;
    const char *leader_id;
    const char *leader_ns;
    const char *metrics_addr;
    const char *health_addr;
    const char *log_level;
    const char *log_format;
    const char *cluster_id;
} flags;

static dtk_manager *g_manager;

static void on_signal(int sig)
{
    (void)sig;
    if (g_manager != NULL) {
        dtk_manager_request_stop(g_manager);
    }
}

static void usage(FILE *f)
{
    fputs("usage: dtk-operator [--kubeconfig PATH] [--namespace NS]...\n"
          "  [--workers N] [--leader-elect] [--leader-election-id NAME]\n"
          "  [--leader-election-namespace NS]\n"
          "  [--metrics-bind-address HOST:PORT|0]\n"
          "  [--health-probe-bind-address HOST:PORT|0]\n"
          "  [--log-level error|warn|info|debug|trace]\n"
          "  [--log-format text|json] [--cluster-id ID]\n",
          f);
}

/* "--name value" or "--name=value". Returns the value or NULL. */
static const char *flag_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0) {
        return NULL;
    }
    if (argv[*i][n] == '=') {
        return argv[*i] + n + 1;
    }
    if (argv[*i][n] == '\0' && *i + 1 < argc) {
        *i += 1;
        return argv[*i];
    }
    return NULL;
}

static int add_namespaces(flags *f, char *list)
{
    char *t = list;
    while (t != NULL) {
        char *comma = strchr(t, ',');
        if (comma != NULL) {
            *comma = '\0';
        }
        if (*t != '\0') {
            if (f->namespace_count == MAX_NAMESPACES) {
                fprintf(stderr, "dtk-operator: at most %d namespaces\n",
                        MAX_NAMESPACES);
                return -1;
            }
            f->namespaces[f->namespace_count++] = t;
        }
        t = comma != NULL ? comma + 1 : NULL;
    }
    return 0;
}

static int parse_long(long *out, const char *s, long min, long max)
{
    char *end = NULL;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

/* "HOST:PORT", ":PORT" (127.0.0.1) or "0" (disabled: returns 0 with
 * *host NULL). host points into a static-lifetime copy. */
static int parse_address(char **host, int *port, const char *flag,
                         const char *value)
{
    const char *colon;
    long p = 0;

    *host = NULL;
    *port = 0;
    if (value == NULL || strcmp(value, "0") == 0 || *value == '\0') {
        return 0;
    }
    colon = strrchr(value, ':');
    if (colon == NULL || parse_long(&p, colon + 1, 0, 65535) < 0) {
        fprintf(stderr, "dtk-operator: %s: expected HOST:PORT or 0\n", flag);
        return -1;
    }
    if (colon == value) {
        *host = dtk_strdup("127.0.0.1");
    } else {
        *host = dtk_strndup(value, (size_t)(colon - value));
    }
    *port = (int)p;
    return 0;
}

static int parse_flags(flags *f, int argc, char **argv)
{
    const char *env;

    f->workers = 2;
    f->leader_id = "dtk-operator-leader";
    f->metrics_addr = "127.0.0.1:8080";
    f->health_addr = "127.0.0.1:8081";
    f->log_level = getenv("DTK_LOG_LEVEL") ? getenv("DTK_LOG_LEVEL") : "info";
    f->log_format =
        getenv("DTK_LOG_FORMAT") ? getenv("DTK_LOG_FORMAT") : "text";
    f->cluster_id = getenv("DTK_CLUSTER_ID");
    env = getenv("DTK_WORKERS");
    if (env != NULL && parse_long(&f->workers, env, 1, 64) < 0) {
        fprintf(stderr, "dtk-operator: DTK_WORKERS: expected 1..64\n");
        return -1;
    }
    env = getenv("DTK_LEADER_ELECT");
    f->leader_elect = env != NULL && strcmp(env, "true") == 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(argv[i], "--leader-elect") == 0 ||
                   strcmp(argv[i], "--leader-elect=true") == 0) {
            f->leader_elect = 1;
        } else if (strcmp(argv[i], "--leader-elect=false") == 0) {
            f->leader_elect = 0;
        } else if ((v = flag_value(argc, argv, &i, "--kubeconfig"))) {
            f->kubeconfig = v;
        } else if ((v = flag_value(argc, argv, &i, "--namespace"))) {
            if (f->namespace_count == MAX_NAMESPACES) {
                fprintf(stderr, "dtk-operator: at most %d namespaces\n",
                        MAX_NAMESPACES);
                return -1;
            }
            f->namespaces[f->namespace_count++] = v;
        } else if ((v = flag_value(argc, argv, &i, "--workers"))) {
            if (parse_long(&f->workers, v, 1, 64) < 0) {
                fprintf(stderr, "dtk-operator: --workers: expected 1..64\n");
                return -1;
            }
        } else if ((v = flag_value(argc, argv, &i,
                                   "--leader-election-namespace"))) {
            f->leader_ns = v;
        } else if ((v = flag_value(argc, argv, &i, "--leader-election-id"))) {
            f->leader_id = v;
        } else if ((v = flag_value(argc, argv, &i,
                                   "--metrics-bind-address"))) {
            f->metrics_addr = v;
        } else if ((v = flag_value(argc, argv, &i,
                                   "--health-probe-bind-address"))) {
            f->health_addr = v;
        } else if ((v = flag_value(argc, argv, &i, "--log-level"))) {
            f->log_level = v;
        } else if ((v = flag_value(argc, argv, &i, "--log-format"))) {
            f->log_format = v;
        } else if ((v = flag_value(argc, argv, &i, "--cluster-id"))) {
            f->cluster_id = v;
        } else {
            fprintf(stderr, "dtk-operator: unknown or incomplete flag '%s'\n",
                    argv[i]);
            usage(stderr);
            return -1;
        }
    }
    if (f->namespace_count == 0 && getenv("DTK_NAMESPACES") != NULL) {
        f->namespace_env = dtk_strdup(getenv("DTK_NAMESPACES"));
        if (add_namespaces(f, f->namespace_env) < 0) {
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    flags f = {0};
    dtk_kube_config_options co = DTK_KUBE_CONFIG_OPTIONS_INIT;
    dtk_kube_config *config = NULL;
    dtk_manager_options mo = DTK_MANAGER_OPTIONS_INIT;
    dtk_manager *m = NULL;
    dtk_operator_options oo = DTK_OPERATOR_OPTIONS_INIT;
    dtk_operator *op = NULL;
    dtk_health_server *metrics_server = NULL;
    dtk_health_server_options hso = DTK_HEALTH_SERVER_OPTIONS_INIT;
    char *health_host = NULL, *metrics_host = NULL;
    int health_port = 0, metrics_port = 0;
    dtk_log_level level;
    struct sigaction sa;
    int rc = 1, error;

    error = parse_flags(&f, argc, argv);
    if (error != 0) {
        rc = error > 0 ? 0 : 2;
        goto out;
    }
    if (dtk_log_parse_level(&level, f.log_level) < 0) {
        fprintf(stderr, "dtk-operator: --log-level: expected error, warn, "
                        "info, debug or trace\n");
        rc = 2;
        goto out;
    }
    dtk_log_set_level(level);
    if (strcmp(f.log_format, "json") == 0) {
        dtk_log_set_format(DTK_LOG_JSON);
    } else if (strcmp(f.log_format, "text") == 0) {
        dtk_log_set_format(DTK_LOG_TEXT);
    } else {
        fprintf(stderr, "dtk-operator: --log-format: expected text or json\n");
        rc = 2;
        goto out;
    }
    if (parse_address(&health_host, &health_port,
                      "--health-probe-bind-address", f.health_addr) < 0 ||
        parse_address(&metrics_host, &metrics_port, "--metrics-bind-address",
                      f.metrics_addr) < 0) {
        rc = 2;
        goto out;
    }
    dtk_http_global_init();

    co.kubeconfig = f.kubeconfig;
    error = dtk_kube_config_load(&config, &co);
    if (error < 0) {
        dtk_log(DTK_LOG_ERROR, NULL, "Cannot load the Kubernetes config",
                "error=\"%s\"", dtk_error_last()->message);
        goto out;
    }

    /* One HTTP server for /healthz, /readyz and /metrics on the probe
     * address; a second one for /metrics when its address differs. */
    if (health_host != NULL) {
        mo.bind_address = health_host;
        mo.bind_port = health_port;
    } else if (metrics_host != NULL) {
        mo.bind_address = metrics_host;
        mo.bind_port = metrics_port;
    }
    mo.leader_election = f.leader_elect;
    mo.kube_config = config;
    mo.leader.lease_name = f.leader_id;
    mo.leader.lease_namespace =
        f.leader_ns ? f.leader_ns : dtk_kube_config_namespace(config);
    error = dtk_manager_new(&m, &mo);
    if (error < 0) {
        dtk_log(DTK_LOG_ERROR, NULL, "Cannot create the manager",
                "error=\"%s\"", dtk_error_last()->message);
        goto out;
    }
    oo.config = config;
    oo.namespaces = f.namespaces;
    oo.namespace_count = f.namespace_count;
    oo.workers = (int)f.workers;
    oo.clusterid = f.cluster_id;
    error = dtk_operator_register(&op, m, &oo);
    if (error < 0) {
        dtk_log(DTK_LOG_ERROR, NULL, "Cannot set up the controllers",
                "error=\"%s\"", dtk_error_last()->message);
        goto out;
    }

    g_manager = m;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    dtk_log(DTK_LOG_INFO, NULL, "Starting dtk-operator",
            "server=%s namespaces=%zu workers=%ld leader_elect=%d",
            dtk_kube_config_server(config), f.namespace_count, f.workers,
            f.leader_elect);
    error = dtk_manager_start(m);
    if (error < 0) {
        dtk_log(DTK_LOG_ERROR, NULL, "Cannot start the manager",
                "error=\"%s\"", dtk_error_last()->message);
        dtk_manager_stop(m);
        goto out;
    }
    if (health_host != NULL && metrics_host != NULL &&
        (strcmp(health_host, metrics_host) != 0 ||
         health_port != metrics_port)) {
        hso.address = metrics_host;
        hso.port = metrics_port;
        error = dtk_health_server_start(&metrics_server,
                                        dtk_manager_health(m), &hso);
        if (error < 0) {
            dtk_log(DTK_LOG_ERROR, NULL, "Cannot serve metrics",
                    "error=\"%s\"", dtk_error_last()->message);
            dtk_manager_stop(m);
            goto out;
        }
    }
    dtk_log(DTK_LOG_INFO, NULL, "Started", "http_port=%d metrics_port=%d",
            dtk_manager_http_port(m),
            metrics_server ? dtk_health_server_port(metrics_server)
                           : dtk_manager_http_port(m));
    error = dtk_manager_wait(m);
    if (error < 0) {
        dtk_log(DTK_LOG_ERROR, NULL, "Stopping", "error=\"%s\"",
                dtk_error_last()->message);
    } else {
        dtk_log(DTK_LOG_INFO, NULL, "Stopping", "reason=%s", "signal");
    }
    dtk_health_server_stop(metrics_server);
    metrics_server = NULL;
    if (dtk_manager_stop(m) < 0) {
        dtk_log(DTK_LOG_ERROR, NULL, "Shutdown did not finish in time",
                "error=\"%s\"", dtk_error_last()->message);
        /* Reconciles may still run: leave without waiting for them. */
        fflush(stderr);
        _Exit(1);
    }
    rc = error < 0 ? 1 : 0;
    dtk_log(DTK_LOG_INFO, NULL, "Stopped", "exit_code=%d", rc);
out:
    g_manager = NULL;
    dtk_health_server_stop(metrics_server);
    dtk_manager_free(m);
    dtk_operator_free(op);
    dtk_kube_config_free(config);
    dtk_free(health_host);
    dtk_free(metrics_host);
    dtk_free(f.namespace_env);
    exit(rc);
}

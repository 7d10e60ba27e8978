/* dtk-apiserver: a single-process, in-memory Kubernetes API server for
 * development and tests. NOT FOR PRODUCTION: no authorisation, no admission
 * webhooks, no aggregation, one lock.
 *
 * Usage: dtk-apiserver [--address 127.0.0.1] [--port 8080] [--port-file F]
 *          [--tls-cert-file F --tls-private-key-file F] [--token-file F]
 *          [--data-dir D] [--enable-faults] [--watch-history N]
 *          [--bookmark-interval S] [--max-request-bytes N]
 *          [--kubeconfig-out F] [--log-level L]
 */
#include "cmd/dtk-apiserver/apiserver.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "pkg/base/alloc.h"
#include "pkg/base/error.h"
#include "pkg/base/log.h"

void dtk_faults_dispose(dtk_apiserver *s);
void dtk_auth_dispose(void);

typedef struct options {
    dtk_apiserver_config config;
    const char *port_file;
    const char *kubeconfig_out;
    const char *tls_cert_file;
    const char *tls_key_file;
} options;

static void usage(void)
{
    fprintf(stderr,
            "usage: dtk-apiserver [--address A] [--port N] [--port-file F]\n"
            "         [--tls-cert-file F --tls-private-key-file F] "
            "[--token-file F]\n"
            "         [--data-dir D] [--enable-faults] [--watch-history N]\n"
            "         [--bookmark-interval S] [--max-request-bytes N]\n"
            "         [--kubeconfig-out F] [--log-level error|warn|info|debug]\n"
            "A development Kubernetes API server. Not for production.\n");
}

static int parse_long(const char *flag, const char *v, long min, long max,
                      long *out)
{
    char *end = NULL;
    long n;

    errno = 0;
    n = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || n < min || n > max) {
        fprintf(stderr, "dtk-apiserver: %s: '%s' is not a number in %ld..%ld\n",
                flag, v, min, max);
        return -1;
    }
    *out = n;
    return 0;
}

static int parse_args(options *o, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;

        if (strcmp(a, "--enable-faults") == 0) {
            o->config.enable_faults = 1;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            exit(0);
        }
        if (v == NULL) {
            fprintf(stderr, "dtk-apiserver: %s: missing value\n", a);
            return -1;
        }
        i++;
        if (strcmp(a, "--address") == 0) {
            o->config.address = v;
        } else if (strcmp(a, "--port") == 0) {
            if (parse_long(a, v, 0, 65535, &n) < 0) {
                return -1;
            }
            o->config.port = (int)n;
        } else if (strcmp(a, "--port-file") == 0) {
            o->port_file = v;
        } else if (strcmp(a, "--tls-cert-file") == 0) {
            o->tls_cert_file = v;
        } else if (strcmp(a, "--tls-private-key-file") == 0) {
            o->tls_key_file = v;
        } else if (strcmp(a, "--token-file") == 0) {
            o->config.token_file = v;
        } else if (strcmp(a, "--data-dir") == 0) {
            o->config.data_dir = v;
        } else if (strcmp(a, "--watch-history") == 0) {
            if (parse_long(a, v, 10, 10000000, &n) < 0) {
                return -1;
            }
            o->config.history_size = (size_t)n;
        } else if (strcmp(a, "--bookmark-interval") == 0) {
            if (parse_long(a, v, 1, 3600, &n) < 0) {
                return -1;
            }
            o->config.bookmark_interval_s = (int)n;
        } else if (strcmp(a, "--max-request-bytes") == 0) {
            if (parse_long(a, v, 1024, 1L << 30, &n) < 0) {
                return -1;
            }
            o->config.max_body = (size_t)n;
        } else if (strcmp(a, "--kubeconfig-out") == 0) {
            o->kubeconfig_out = v;
        } else if (strcmp(a, "--log-level") == 0) {
            dtk_log_level level;

            if (dtk_log_parse_level(&level, v) < 0) {
                fprintf(stderr, "dtk-apiserver: --log-level: unknown level "
                                "'%s'\n", v);
                return -1;
            }
            dtk_log_set_level(level);
        } else {
            fprintf(stderr, "dtk-apiserver: unknown flag '%s'\n", a);
            usage();
            return -1;
        }
    }
    if ((o->tls_cert_file == NULL) != (o->tls_key_file == NULL)) {
        fprintf(stderr, "dtk-apiserver: --tls-cert-file and "
                        "--tls-private-key-file go together\n");
        return -1;
    }
    return 0;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    dtk_buf buf = DTK_BUF_INIT(16 * 1024 * 1024);
    char chunk[4096];
    size_t n;

    if (f == NULL) {
        return NULL;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (dtk_buf_put(&buf, chunk, n) < 0) {
            break;
        }
    }
    fclose(f);
    return dtk_buf_detach(&buf);
}

static int write_text(const char *path, const char *text)
{
    char tmp[4096];
    FILE *f;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    if (f == NULL) {
        return -1;
    }
    fputs(text, f);
    if (fclose(f) != 0) {
        return -1;
    }
    return rename(tmp, path);
}

static void ensure_namespace(dtk_apiserver *s, const char *name)
{
    dtk_restype *t = dtk_registry_find(s, "", "v1", "namespaces");
    dtk_json *ns;
    dtk_json *meta;
    dtk_json *spec;
    dtk_json *fin;
    dtk_json *status;
    char uid[40], now[40];

    if (dtk_store_get(t->bucket, NULL, name) != NULL) {
        return;
    }
    ns = dtk_json_new_object();
    meta = dtk_json_new_object();
    spec = dtk_json_new_object();
    fin = dtk_json_new_array();
    status = dtk_json_new_object();
    dtk_meta_uid(uid, sizeof(uid));
    dtk_meta_now(now, sizeof(now));
    dtk_json_set(ns, "kind", dtk_json_new_string("Namespace"));
    dtk_json_set(ns, "apiVersion", dtk_json_new_string("v1"));
    dtk_json_set(meta, "name", dtk_json_new_string(name));
    dtk_json_set(meta, "uid", dtk_json_new_string(uid));
    dtk_json_set(meta, "creationTimestamp", dtk_json_new_string(now));
    dtk_json_set(ns, "metadata", meta);
    dtk_json_append(fin, dtk_json_new_string("kubernetes"));
    dtk_json_set(spec, "finalizers", fin);
    dtk_json_set(ns, "spec", spec);
    dtk_json_set(status, "phase", dtk_json_new_string("Active"));
    dtk_json_set(ns, "status", status);
    dtk_store_put(s, t->bucket, ns, DTK_EV_ADDED);
}

/* Serves the CRDs found in the store (after a data-dir replay). */
static void serve_stored_crds(dtk_apiserver *s)
{
    dtk_restype *ct = dtk_registry_find(s, "apiextensions.k8s.io", "v1",
                                        "customresourcedefinitions");
    size_t iter = 0;
    void *value;

    while (dtk_map_next(&ct->bucket->objects, &iter, NULL, &value)) {
        dtk_registry_apply_crd(s, ((dtk_stored *)value)->obj);
    }
}

static int write_kubeconfig(const char *path, const char *scheme, int port,
                            const char *token)
{
    dtk_buf text = DTK_BUF_INIT(0);
    int rc;

    dtk_buf_printf(&text,
                   "apiVersion: v1\n"
                   "kind: Config\n"
                   "clusters:\n"
                   "- name: dtk\n"
                   "  cluster:\n"
                   "    server: %s://127.0.0.1:%d\n%s"
                   "users:\n"
                   "- name: dtk\n"
                   "  user:%s%s\n"
                   "contexts:\n"
                   "- name: dtk\n"
                   "  context:\n"
                   "    cluster: dtk\n"
                   "    user: dtk\n"
                   "    namespace: default\n"
                   "current-context: dtk\n",
                   scheme, port,
                   strcmp(scheme, "https") == 0
                       ? "    insecure-skip-tls-verify: true\n"
                       : "",
                   token ? "\n    token: " : " {}", token ? token : "");
    rc = write_text(path, text.ptr);
    dtk_buf_dispose(&text);
    return rc;
}

int main(int argc, char **argv)
{
    options o;
    dtk_apiserver s;
    dtk_httpserver_options hopts = DTK_HTTPSERVER_OPTIONS_INIT;
    pthread_condattr_t cattr;
    sigset_t sigs;
    int sig = 0;
    char *cert = NULL;
    char *key = NULL;
    char *token = NULL;
    int rc = 1;

    memset(&o, 0, sizeof(o));
    memset(&s, 0, sizeof(s));
    o.config.address = "127.0.0.1";
    o.config.port = 8080;
    o.config.bookmark_interval_s = 60;
    if (parse_args(&o, argc, argv) < 0) {
        return 2;
    }
    if (o.tls_cert_file != NULL) {
        cert = read_file(o.tls_cert_file);
        key = read_file(o.tls_key_file);
        if (cert == NULL || key == NULL) {
            fprintf(stderr, "dtk-apiserver: cannot read the TLS certificate "
                            "or key file\n");
            goto out;
        }
        o.config.tls_cert_pem = cert;
        o.config.tls_key_pem = key;
    }
    if (o.config.token_file != NULL) {
        token = read_file(o.config.token_file);
        if (token == NULL) {
            fprintf(stderr, "dtk-apiserver: cannot read --token-file '%s'\n",
                    o.config.token_file);
            goto out;
        }
        token[strcspn(token, "\r\n")] = '\0';
    }
    s.config = o.config;
    pthread_mutex_init(&s.mu, NULL);
    pthread_condattr_init(&cattr);
    pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
    pthread_cond_init(&s.changed, &cattr);
    pthread_cond_init(&s.housekeeping_cv, NULL);
    pthread_condattr_destroy(&cattr);
    dtk_store_init(&s);
    dtk_registry_add_builtins(&s);
    if (s.config.data_dir != NULL) {
        mkdir(s.config.data_dir, 0700);
        if (dtk_store_open_data_dir(&s) < 0) {
            fprintf(stderr, "dtk-apiserver: --data-dir '%s': %s\n",
                    s.config.data_dir, dtk_error_last()->message);
            goto out;
        }
        serve_stored_crds(&s);
    }
    ensure_namespace(&s, "default");
    ensure_namespace(&s, "kube-system");
    ensure_namespace(&s, "kube-public");
    ensure_namespace(&s, "kube-node-lease");
    if (dtk_housekeeping_start(&s) < 0) {
        fprintf(stderr, "dtk-apiserver: cannot start a thread\n");
        goto out;
    }
    /* Signals are taken by sigwait in this thread only: block them before
     * the HTTP threads are created so they inherit the mask. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    hopts.address = s.config.address;
    hopts.port = s.config.port;
    hopts.tls_cert_pem = s.config.tls_cert_pem;
    hopts.tls_key_pem = s.config.tls_key_pem;
    hopts.max_body = s.config.max_body;
    if (dtk_httpserver_start(&s.http, &hopts, dtk_apiserver_handle, &s) < 0) {
        fprintf(stderr, "dtk-apiserver: %s\n", dtk_error_last()->message);
        goto out;
    }
    if (o.port_file != NULL) {
        char text[16];

        snprintf(text, sizeof(text), "%d\n", dtk_httpserver_port(s.http));
        write_text(o.port_file, text);
    }
    if (o.kubeconfig_out != NULL &&
        write_kubeconfig(o.kubeconfig_out, cert ? "https" : "http",
                         dtk_httpserver_port(s.http), token) != 0) {
        fprintf(stderr, "dtk-apiserver: cannot write --kubeconfig-out '%s'\n",
                o.kubeconfig_out);
        goto out;
    }
    dtk_log(DTK_LOG_INFO, NULL, "Serving",
            "address=%s port=%d tls=%s data_dir=%s faults=%s",
            s.config.address, dtk_httpserver_port(s.http),
            cert ? "true" : "false",
            s.config.data_dir ? s.config.data_dir : "-",
            s.config.enable_faults ? "enabled" : "disabled");
    sigwait(&sigs, &sig);
    dtk_log(DTK_LOG_INFO, NULL, "Stopping", "signal=%d", sig);
    rc = 0;
out:
    pthread_mutex_lock(&s.mu);
    s.stopping = 1;
    pthread_cond_broadcast(&s.changed);
    pthread_mutex_unlock(&s.mu);
    dtk_httpserver_stop(s.http);
    dtk_housekeeping_stop(&s);
    if (s.history != NULL) {
        dtk_store_dispose(&s);
        dtk_registry_dispose(&s);
        dtk_faults_dispose(&s);
        pthread_cond_destroy(&s.changed);
        pthread_cond_destroy(&s.housekeeping_cv);
        pthread_mutex_destroy(&s.mu);
    }
    dtk_auth_dispose();
    dtk_free(cert);
    dtk_free(key);
    dtk_free(token);
    return rc;
}

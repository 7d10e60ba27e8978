/* dtk_kube_config: options, in-cluster configuration, the load order, and
 * the client-side QPS token bucket (see kube.h). Kubeconfig files are read
 * in kubeconfig.c, run-time credentials live in auth.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/clock.h"
#include "pkg/base/error.h"
#include "pkg/kube/kube_int.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 5000L
#define DEFAULT_TIMEOUT_MS         30000L
#define DEFAULT_MAX_ATTEMPTS       5
#define DEFAULT_RETRY_BASE_MS      200L
#define DEFAULT_RETRY_MAX_MS       5000L
#define DEFAULT_MAX_RETRY_AFTER_MS 30000L
#define DEFAULT_BURST              10
#define DEFAULT_TOKEN_RELOAD_MS    60000L
#define DEFAULT_EXEC_TIMEOUT_MS    60000L

void dtk_kube__free_secret(char *s)
{
    if (s != NULL) {
        volatile char *p = s;

        while (*p) {
            *p++ = 0;
        }
        dtk_free(s);
    }
}

int dtk_kube__read_file(dtk_buf *out, const char *path, size_t limit)
{
    char chunk[8192];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int error = 0;

    if (fd < 0) {
        int missing = errno == ENOENT;

        dtk_error_set(DTK_ERRCLASS_OS, "cannot read '%s'", path);
        return missing ? DTK_ENOTFOUND : DTK_ERROR;
    }
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            dtk_error_set(DTK_ERRCLASS_OS, "cannot read '%s'", path);
            error = DTK_ERROR;
            break;
        }
        if (n == 0) {
            break;
        }
        if (out->len + (size_t)n > limit ||
            dtk_buf_put(out, chunk, (size_t)n) < 0) {
            dtk_error_set(DTK_ERRCLASS_CONFIG, "'%s' exceeds %zu bytes", path,
                          limit);
            error = DTK_ETOOBIG;
            break;
        }
    }
    /* The chunk may have held key material. */
    memset(chunk, 0, sizeof(chunk));
    close(fd);
    return error;
}

int dtk_kube__config_new(dtk_kube_config **out,
                         const dtk_kube_config_options *o)
{
    static const dtk_kube_config_options defaults =
        DTK_KUBE_CONFIG_OPTIONS_INIT;
    dtk_kube_config *cfg = dtk_calloc(1, sizeof(*cfg));
    int error;

    if (o == NULL) {
        o = &defaults;
    }
    cfg->connect_timeout_ms = o->connect_timeout_ms > 0
                                  ? o->connect_timeout_ms
                                  : DEFAULT_CONNECT_TIMEOUT_MS;
    cfg->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
    cfg->max_attempts =
        o->max_attempts > 0 ? o->max_attempts : DEFAULT_MAX_ATTEMPTS;
    cfg->retry_base_ms =
        o->retry_base_ms > 0 ? o->retry_base_ms : DEFAULT_RETRY_BASE_MS;
    cfg->retry_max_ms =
        o->retry_max_ms > 0 ? o->retry_max_ms : DEFAULT_RETRY_MAX_MS;
    cfg->max_retry_after_ms = o->max_retry_after_ms > 0
                                  ? o->max_retry_after_ms
                                  : DEFAULT_MAX_RETRY_AFTER_MS;
    cfg->on_request = o->on_request;
    cfg->on_request_payload = o->on_request_payload;
    cfg->qps = o->qps > 0 ? o->qps : 0;
    cfg->burst = o->burst > 0 ? o->burst : DEFAULT_BURST;
    cfg->tokens = cfg->burst;
    cfg->bucket_ms = dtk_clock_now_ms();
    pthread_mutex_init(&cfg->bucket_lock, NULL);
    dtk_kube__auth_init(&cfg->auth);
    cfg->auth.reload_ms =
        o->token_reload_ms > 0 ? o->token_reload_ms : DEFAULT_TOKEN_RELOAD_MS;
    cfg->auth.exec_timeout_ms =
        o->exec_timeout_ms > 0 ? o->exec_timeout_ms : DEFAULT_EXEC_TIMEOUT_MS;
    cfg->headers = dtk_calloc(1, sizeof(char *));
    error = dtk_kube__config_add_header(
        cfg, "User-Agent", o->user_agent ? o->user_agent : "dtk-operator");
    if (error < 0) {
        dtk_kube_config_free(cfg);
        return error;
    }
    *out = cfg;
    return 0;
}

int dtk_kube__config_add_header(dtk_kube_config *cfg,
                                const char *name,
                                const char *value)
{
    dtk_buf line = DTK_BUF_INIT(0);

    if (strpbrk(value, "\r\n") != NULL) {
        dtk_error_set(DTK_ERRCLASS_CONFIG,
                      "%s header value: must not contain a line break", name);
        return DTK_EINVALID;
    }
    if (dtk_buf_printf(&line, "%s: %s", name, value) < 0) {
        dtk_buf_dispose(&line);
        return DTK_ETOOBIG;
    }
    cfg->headers =
        dtk_realloc(cfg->headers, (cfg->header_count + 2) * sizeof(char *));
    cfg->headers[cfg->header_count++] = dtk_buf_detach(&line);
    cfg->headers[cfg->header_count] = NULL;
    return 0;
}

int dtk_kube__config_set_server(dtk_kube_config *cfg, const char *server)
{
    dtk_buf url = DTK_BUF_INIT(0);
    const char *authority;
    size_t host_len;
    int error = 0;

    if (server == NULL || server[0] == '\0') {
        dtk_error_set(DTK_ERRCLASS_CONFIG, "server: required");
        return DTK_EINVALID;
    }
    /* Like client-go, a bare host:port means https. */
    if (strstr(server, "://") == NULL) {
        error = dtk_buf_puts(&url, "https://");
    }
    if (error == 0) {
        error = dtk_buf_puts(&url, server);
    }
    while (error == 0 && url.len > 0 && url.ptr[url.len - 1] == '/') {
        url.ptr[--url.len] = '\0';
    }
    if (error < 0) {
        goto out;
    }
    authority = strstr(url.ptr, "://") + 3;
    host_len = strcspn(authority, "/");
    if (memchr(authority, '@', host_len) != NULL) {
        /* Not quoted: it would hold a password. */
        dtk_error_set(DTK_ERRCLASS_CONFIG,
                      "server: credentials in the URL are not supported");
        error = DTK_EINVALID;
        goto out;
    }
    if ((strncmp(url.ptr, "https://", 8) != 0 &&
         strncmp(url.ptr, "http://", 7) != 0) ||
        host_len == 0 || strpbrk(url.ptr, "?# \t\r\n") != NULL) {
        dtk_error_set(DTK_ERRCLASS_CONFIG,
                      "server '%s': expected an http or https URL", server);
        error = DTK_EINVALID;
        goto out;
    }
    dtk_free(cfg->host);
    dtk_free(cfg->server);
    cfg->host = dtk_strndup(authority, host_len);
    cfg->server = dtk_buf_detach(&url);
out:
    dtk_buf_dispose(&url);
    return error;
}

void dtk_kube__config_throttle(dtk_kube_config *cfg)
{
    int64_t now;
    int64_t wait_ms = 0;

    if (cfg->qps <= 0) {
        return;
    }
    /* A reservation, like golang.org/x/time/rate: take the token now (the
     * balance may go negative) and sleep outside the lock until it would
     * have been there. */
    pthread_mutex_lock(&cfg->bucket_lock);
    now = dtk_clock_now_ms();
    cfg->tokens += (double)(now - cfg->bucket_ms) * cfg->qps / 1000.0;
    if (cfg->tokens > cfg->burst) {
        cfg->tokens = cfg->burst;
    }
    cfg->bucket_ms = now;
    cfg->tokens -= 1.0;
    if (cfg->tokens < 0) {
        wait_ms = (int64_t)(-cfg->tokens * 1000.0 / cfg->qps + 0.5);
    }
    pthread_mutex_unlock(&cfg->bucket_lock);
    if (wait_ms > 0) {
        dtk_clock_sleep_ms(wait_ms);
    }
}

void dtk_kube_config_free(dtk_kube_config *cfg)
{
    if (cfg == NULL) {
        return;
    }
    dtk_free(cfg->server);
    dtk_free(cfg->host);
    dtk_free(cfg->namespace);
    dtk_free(cfg->context);
    dtk_free(cfg->ca_pem);
    dtk_free(cfg->cert_pem);
    dtk_kube__free_secret(cfg->key_pem);
    dtk_free(cfg->tls_server_name);
    dtk_free(cfg->username);
    dtk_kube__free_secret(cfg->password);
    for (size_t i = 0; i < cfg->header_count; i++) {
        dtk_free(cfg->headers[i]);
    }
    dtk_free(cfg->headers);
    dtk_kube__auth_dispose(&cfg->auth);
    pthread_mutex_destroy(&cfg->bucket_lock);
    dtk_free(cfg);
}

/* Reads a small text file and strips surrounding white space. */
int dtk_kube__read_trimmed(char **out, const char *path)
{
    dtk_buf buf = DTK_BUF_INIT(0);
    const char *start;
    size_t len;
    int error = dtk_kube__read_file(&buf, path, DTK_KUBE__FILE_LIMIT);

    if (error == 0) {
        start = dtk_buf_cstr(&buf);
        len = buf.len;
        while (len > 0 && strchr(" \t\r\n", start[0]) != NULL) {
            start++;
            len--;
        }
        while (len > 0 && strchr(" \t\r\n", start[len - 1]) != NULL) {
            len--;
        }
        *out = dtk_strndup(start, len);
    }
    if (buf.ptr != NULL) {
        memset(buf.ptr, 0, buf.len);
    }
    dtk_buf_dispose(&buf);
    return error;
}

int dtk_kube_config_in_cluster(dtk_kube_config **out,
                               const dtk_kube_config_options *options)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    const char *dir = options != NULL && options->in_cluster_dir != NULL
                          ? options->in_cluster_dir
                          : DTK_KUBE_IN_CLUSTER_DIR;
    dtk_kube_config *cfg = NULL;
    dtk_buf url = DTK_BUF_INIT(0);
    dtk_buf path = DTK_BUF_INIT(0);
    dtk_buf ca = DTK_BUF_INIT(DTK_KUBE__FILE_LIMIT);
    dtk_kube__cred cred = {0};
    char *ns = NULL;
    int error;

    if (host == NULL || host[0] == '\0' || port == NULL || port[0] == '\0') {
        dtk_error_set(DTK_ERRCLASS_CONFIG,
                      "not running in a cluster: KUBERNETES_SERVICE_HOST and "
                      "KUBERNETES_SERVICE_PORT are not set");
        return DTK_ENOTFOUND;
    }
    error = dtk_kube__config_new(&cfg, options);
    if (error < 0) {
        goto out;
    }
    error = dtk_buf_printf(
        &url, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host,
        port);
    if (error == 0) {
        error = dtk_kube__config_set_server(cfg, url.ptr);
    }
    if (error < 0) {
        dtk_error_prefix("in-cluster config");
        error = DTK_EINVALID;
        goto out;
    }
    if (dtk_buf_printf(&path, "%s/ca.crt", dir) < 0 ||
        dtk_kube__read_file(&ca, path.ptr, DTK_KUBE__FILE_LIMIT) < 0) {
        dtk_error_prefix("in-cluster config");
        error = DTK_EINVALID;
        goto out;
    }
    cfg->ca_pem = dtk_buf_detach(&ca);
    dtk_buf_reset(&path);
    if (dtk_buf_printf(&path, "%s/token", dir) < 0) {
        error = DTK_ETOOBIG;
        goto out;
    }
    cfg->auth.kind = DTK_KUBE__AUTH_TOKEN_FILE;
    cfg->auth.token_file = dtk_strdup(path.ptr);
    /* Read it once now, so a missing token is a startup error. */
    if (dtk_kube__auth_get(&cfg->auth, &cred) < 0) {
        dtk_error_prefix("in-cluster config");
        error = DTK_EINVALID;
        goto out;
    }
    dtk_buf_reset(&path);
    if (dtk_buf_printf(&path, "%s/namespace", dir) < 0) {
        error = DTK_ETOOBIG;
        goto out;
    }
    if (dtk_kube__read_trimmed(&ns, path.ptr) == 0 && ns[0] != '\0') {
        cfg->namespace = ns;
        ns = NULL;
    } else {
        dtk_error_clear();
        cfg->namespace = dtk_strdup("default");
    }
    *out = cfg;
    cfg = NULL;
    error = 0;
out:
    dtk_kube__cred_dispose(&cred);
    dtk_free(ns);
    dtk_buf_dispose(&url);
    dtk_buf_dispose(&path);
    dtk_buf_dispose(&ca);
    dtk_kube_config_free(cfg);
    return error;
}

int dtk_kube_config_for_url(dtk_kube_config **out,
                            const char *server_url,
                            const char *ca_pem,
                            const dtk_kube_config_options *options)
{
    dtk_kube_config *cfg = NULL;
    int error = dtk_kube__config_new(&cfg, options);

    if (error == 0) {
        error = dtk_kube__config_set_server(cfg, server_url);
    }
    if (error < 0) {
        dtk_kube_config_free(cfg);
        return error;
    }
    cfg->ca_pem = dtk_strdup(ca_pem);
    cfg->namespace = dtk_strdup("default");
    *out = cfg;
    return 0;
}

int dtk_kube_config_load_kubeconfig(dtk_kube_config **out,
                                    const dtk_kube_config_options *options)
{
    static const dtk_kube_config_options defaults =
        DTK_KUBE_CONFIG_OPTIONS_INIT;
    dtk_kube_config *cfg = NULL;
    int error;

    if (options == NULL) {
        options = &defaults;
    }
    error = dtk_kube__config_new(&cfg, options);
    if (error < 0) {
        return error;
    }
    error = dtk_kube__kubeconfig_load(cfg, options);
    if (error < 0) {
        dtk_kube_config_free(cfg);
        return error;
    }
    *out = cfg;
    return 0;
}

int dtk_kube_config_load(dtk_kube_config **out,
                         const dtk_kube_config_options *options)
{
    const char *list = getenv("KUBECONFIG");
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");

    if ((options == NULL || options->kubeconfig == NULL) &&
        (list == NULL || list[0] == '\0') && host != NULL && host[0] != '\0' &&
        port != NULL && port[0] != '\0') {
        return dtk_kube_config_in_cluster(out, options);
    }
    return dtk_kube_config_load_kubeconfig(out, options);
}

const char *dtk_kube_config_server(const dtk_kube_config *config)
{
    return config->server;
}

const char *dtk_kube_config_namespace(const dtk_kube_config *config)
{
    return config->namespace != NULL ? config->namespace : "default";
}

const char *dtk_kube_config_context(const dtk_kube_config *config)
{
    return config->context;
}

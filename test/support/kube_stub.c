/* Stub Kubernetes API server for tests (see kube_stub.h). */
#include "test/support/kube_stub.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/json/json.h"

static void copy_field(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src != NULL ? src : "");
}

static void record(dtk_kstub *s, dtk_httpserver_exchange *ex)
{
    static const char *const keys[] = {
        "watch",
        "resourceVersion",
        "resourceVersionMatch",
        "labelSelector",
        "fieldSelector",
        "limit",
        "continue",
        "timeoutSeconds",
        "allowWatchBookmarks",
        "sendInitialEvents",
        "fieldManager",
        "force",
        "dryRun",
        "fieldValidation",
    };
    const char *auth = dtk_httpserver_header(ex, "Authorization");
    size_t len;
    const char *body = dtk_httpserver_body(ex, &len);
    size_t used = 0;

    copy_field(s->method, sizeof(s->method), dtk_httpserver_method(ex));
    copy_field(s->path, sizeof(s->path), dtk_httpserver_path(ex));
    copy_field(s->auth, sizeof(s->auth), auth);
    copy_field(s->content_type, sizeof(s->content_type),
               dtk_httpserver_header(ex, "Content-Type"));
    copy_field(s->impersonate, sizeof(s->impersonate),
               dtk_httpserver_header(ex, "Impersonate-User"));
    copy_field(s->user_agent, sizeof(s->user_agent),
               dtk_httpserver_header(ex, "User-Agent"));
    s->query[0] = '\0';
    for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
        const char *v = dtk_httpserver_query(ex, keys[i]);

        if (v != NULL && used < sizeof(s->query)) {
            int n = snprintf(s->query + used, sizeof(s->query) - used,
                             "%s%s=%s", used ? "&" : "", keys[i], v);

            used += n > 0 ? (size_t)n : 0;
        }
    }
    dtk_buf_reset(&s->body);
    dtk_buf_put(&s->body, body, len);
    if (s->auth_log.len > 0) {
        dtk_buf_putc(&s->auth_log, '|');
    }
    dtk_buf_puts(&s->auth_log, auth != NULL ? auth : "-");
    dtk_buf_printf(&s->request_log, "%s %s%s%s\n", s->method, s->path,
                   s->query[0] ? "?" : "", s->query);
}

static void handle(dtk_httpserver_exchange *ex, void *payload)
{
    dtk_kstub *s = payload;
    int hit;

    pthread_mutex_lock(&s->lock);
    hit = s->hits++;
    record(s, ex);
    pthread_mutex_unlock(&s->lock);
    s->fn(s, ex, hit, s->payload);
}

int dtk_kstub_start(dtk_kstub **out,
                    const char *cert_pem,
                    const char *key_pem,
                    dtk_kstub_fn fn,
                    void *payload)
{
    dtk_kstub *s = dtk_calloc(1, sizeof(*s));
    dtk_httpserver_options o = DTK_HTTPSERVER_OPTIONS_INIT;
    int error;

    pthread_mutex_init(&s->lock, NULL);
    s->fn = fn;
    s->payload = payload;
    dtk_buf_init(&s->body, 0);
    dtk_buf_init(&s->auth_log, 0);
    dtk_buf_init(&s->request_log, 0);
    o.tls_cert_pem = cert_pem;
    o.tls_key_pem = key_pem;
    o.idle_timeout_s = 30;
    error = dtk_httpserver_start(&s->server, &o, handle, s);
    if (error < 0) {
        dtk_free(s);
        return error;
    }
    s->port = dtk_httpserver_port(s->server);
    snprintf(s->base, sizeof(s->base), "%s://127.0.0.1:%d",
             cert_pem ? "https" : "http", s->port);
    *out = s;
    return 0;
}

void dtk_kstub_stop(dtk_kstub *s)
{
    if (s == NULL) {
        return;
    }
    dtk_httpserver_stop(s->server);
    dtk_buf_dispose(&s->body);
    dtk_buf_dispose(&s->auth_log);
    dtk_buf_dispose(&s->request_log);
    pthread_mutex_destroy(&s->lock);
    dtk_free(s);
}

int dtk_kstub_hits(dtk_kstub *s)
{
    int n;

    pthread_mutex_lock(&s->lock);
    n = s->hits;
    pthread_mutex_unlock(&s->lock);
    return n;
}

void dtk_kstub_json(dtk_httpserver_exchange *ex, int code, const char *json)
{
    dtk_httpserver_respond(ex, code, "application/json", json, strlen(json));
}

void dtk_kstub_status(dtk_httpserver_exchange *ex,
                      int code,
                      const char *reason,
                      const char *message)
{
    dtk_json *st = dtk_json_new_object();
    char *text;

    dtk_json_set(st, "kind", dtk_json_new_string("Status"));
    dtk_json_set(st, "apiVersion", dtk_json_new_string("v1"));
    dtk_json_set(st, "metadata", dtk_json_new_object());
    dtk_json_set(st, "status", dtk_json_new_string("Failure"));
    dtk_json_set(st, "message", dtk_json_new_string(message));
    dtk_json_set(st, "reason", dtk_json_new_string(reason));
    dtk_json_set(st, "code", dtk_json_new_int(code));
    text = dtk_json_to_string(st);
    dtk_kstub_json(ex, code, text);
    dtk_free(text);
    dtk_json_free(st);
}

void dtk_kstub_configmap(dtk_httpserver_exchange *ex, const char *name)
{
    dtk_json *cm = dtk_json_new_object();
    dtk_json *md = dtk_json_new_object();
    dtk_json *data = dtk_json_new_object();
    const char *auth = dtk_httpserver_header(ex, "Authorization");
    char *text;

    dtk_json_set(cm, "apiVersion", dtk_json_new_string("v1"));
    dtk_json_set(cm, "kind", dtk_json_new_string("ConfigMap"));
    dtk_json_set(md, "name", dtk_json_new_string(name));
    dtk_json_set(md, "resourceVersion", dtk_json_new_string("1"));
    dtk_json_set(cm, "metadata", md);
    dtk_json_set(data, "path", dtk_json_new_string(dtk_httpserver_path(ex)));
    dtk_json_set(data, "authorization", dtk_json_new_string(auth ? auth : ""));
    dtk_json_set(cm, "data", data);
    text = dtk_json_to_string(cm);
    dtk_kstub_json(ex, 200, text);
    dtk_free(text);
    dtk_json_free(cm);
}

char *dtk_kstub_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    char *dir;

    snprintf(tmpl, sizeof(tmpl), "%s/dtk-kube-test-XXXXXX",
             base != NULL && base[0] ? base : "/tmp");
    dir = mkdtemp(tmpl);
    if (dir == NULL) {
        return NULL;
    }
    return dtk_strdup(dir);
}

void dtk_kstub_rmdir(char *dir)
{
    char cmd[600];

    if (dir == NULL) {
        return;
    }
    /* Only ever a directory this helper made. */
    if (strstr(dir, "/dtk-kube-test-") != NULL && strchr(dir, '\'') == NULL) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0) {
            fprintf(stderr, "cannot remove %s\n", dir);
        }
    }
    dtk_free(dir);
}

static void make_parents(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(path, 0700) < 0 && errno != EEXIST) {
                fprintf(stderr, "mkdir %s failed\n", path);
            }
            *p = '/';
        }
    }
}

char *dtk_kstub_write(const char *dir, const char *name, const char *content)
{
    dtk_buf path = DTK_BUF_INIT(0);
    FILE *f;

    dtk_buf_printf(&path, "%s/%s", dir, name);
    make_parents(path.ptr);
    f = fopen(path.ptr, "w");
    if (f == NULL) {
        fprintf(stderr, "cannot write %s\n", path.ptr);
        dtk_buf_dispose(&path);
        return NULL;
    }
    fputs(content, f);
    fclose(f);
    return dtk_buf_detach(&path);
}

char *dtk_kstub_read(const char *path)
{
    dtk_buf b = DTK_BUF_INIT(0);
    char chunk[4096];
    size_t n;
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        return NULL;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        dtk_buf_put(&b, chunk, n);
    }
    fclose(f);
    return dtk_buf_detach(&b);
}

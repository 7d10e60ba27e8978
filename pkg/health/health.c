/* Health checks and the HTTP endpoints (see health.h).
 *
 * The check list only grows; a run copies the entries it needs under the
 * mutex and calls the checks after releasing it, so a slow check never
 * blocks another request or dtk_health_add. Output follows
 * controller-runtime's healthz handler line for line, except the status
 * code of a failure (503) and that exclusions come as one comma-separated
 * "exclude" value (pkg/httpserver exposes one value per query name).
 */
#include "pkg/health/health.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/error.h"
#include "pkg/httpserver/server.h"

#define NAME_MAX_LEN  63
#define METRICS_LIMIT ((size_t)32 * 1024 * 1024)
#define MAX_EXCLUDES  16

typedef struct check {
    dtk_health_kind kind;
    char *name;
    dtk_health_check_fn fn;
    void *payload;
} check;

struct dtk_health {
    pthread_mutex_t mu;
    check *checks; /* guarded by mu */
    size_t len;    /* guarded by mu */
};

struct dtk_health_server {
    dtk_httpserver *http;
    dtk_health *health;
    dtk_metrics_registry *metrics;
};

dtk_health *dtk_health_new(void)
{
    dtk_health *h = dtk_calloc(1, sizeof(*h));

    pthread_mutex_init(&h->mu, NULL);
    return h;
}

void dtk_health_free(dtk_health *h)
{
    if (h == NULL) {
        return;
    }
    for (size_t i = 0; i < h->len; i++) {
        dtk_free(h->checks[i].name);
    }
    dtk_free(h->checks);
    pthread_mutex_destroy(&h->mu);
    dtk_free(h);
}

int dtk_health_ping(void *payload)
{
    (void)payload;
    return 0;
}

static int valid_name(const char *name)
{
    size_t len = name != NULL ? strlen(name) : 0;

    if (len == 0 || len > NAME_MAX_LEN) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return 0;
        }
    }
    return 1;
}

int dtk_health_add(dtk_health *h,
                   dtk_health_kind kind,
                   const char *name,
                   dtk_health_check_fn fn,
                   void *payload)
{
    int error = 0;

    if (!valid_name(name) || fn == NULL) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "health check name: expected 1 to %d of [a-z0-9-] "
                      "and a function",
                      NAME_MAX_LEN);
        return DTK_EINVALID;
    }
    pthread_mutex_lock(&h->mu);
    for (size_t i = 0; i < h->len; i++) {
        if (h->checks[i].kind == kind && strcmp(h->checks[i].name, name) == 0) {
            dtk_error_set(DTK_ERRCLASS_INVALID,
                          "health check '%s': already added", name);
            error = DTK_EEXISTS;
            goto out;
        }
    }
    h->checks = dtk_realloc(h->checks, (h->len + 1) * sizeof(check));
    h->checks[h->len].kind = kind;
    h->checks[h->len].name = dtk_strdup(name);
    h->checks[h->len].fn = fn;
    h->checks[h->len].payload = payload;
    h->len++;
out:
    pthread_mutex_unlock(&h->mu);
    return error;
}

static int excluded(const char *const *exclude, const char *name)
{
    for (size_t i = 0; exclude != NULL && exclude[i] != NULL; i++) {
        if (strcmp(exclude[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const check *)a)->name, ((const check *)b)->name);
}

int dtk_health_run(dtk_health *h,
                   dtk_health_kind kind,
                   const char *only,
                   const char *const *exclude,
                   int verbose,
                   dtk_buf *out)
{
    const char *what = kind == DTK_HEALTH_LIVENESS ? "healthz" : "readyz";
    check *mine = NULL;
    size_t n = 0;
    int failed = 0;
    int error = 0;

    /* Copy what to run, then run without the lock. Names stay valid: the
     * list only grows and names are freed with h. */
    pthread_mutex_lock(&h->mu);
    mine = dtk_calloc(h->len + 1, sizeof(check));
    for (size_t i = 0; i < h->len; i++) {
        if (h->checks[i].kind == kind &&
            (only == NULL || strcmp(h->checks[i].name, only) == 0)) {
            mine[n++] = h->checks[i];
        }
    }
    pthread_mutex_unlock(&h->mu);

    if (only != NULL) {
        if (n == 0) {
            dtk_error_set(DTK_ERRCLASS_NONE, "%s check '%s': not found", what,
                          only);
            error = DTK_ENOTFOUND;
            goto out;
        }
        dtk_error_clear();
        error = mine[0].fn(mine[0].payload);
        if (error < 0) {
            const char *msg = dtk_error_last()->message;

            dtk_buf_printf(out, "internal server error: %s\n",
                           *msg ? msg : dtk_error_name(error));
            error = DTK_EUNAVAIL;
        } else {
            error = 0;
            dtk_buf_puts(out, "ok");
        }
        goto out;
    }

    qsort(mine, n, sizeof(check), by_name);
    {
        int *result = dtk_calloc(n + 1, sizeof(int)); /* 1 ok, 2 excluded */

        for (size_t i = 0; i < n; i++) {
            if (excluded(exclude, mine[i].name)) {
                result[i] = 2;
                continue;
            }
            dtk_error_clear();
            result[i] = mine[i].fn(mine[i].payload) < 0 ? 0 : 1;
            failed |= result[i] == 0;
        }
        dtk_error_clear();
        if (!failed && !verbose) {
            dtk_buf_puts(out, "ok");
        } else {
            if (n == 0) {
                dtk_buf_puts(out, "[+]ping ok\n");
            }
            for (size_t i = 0; i < n; i++) {
                if (result[i] == 2) {
                    dtk_buf_printf(out, "[+]%s excluded: ok\n", mine[i].name);
                } else if (result[i] == 1) {
                    dtk_buf_printf(out, "[+]%s ok\n", mine[i].name);
                } else {
                    dtk_buf_printf(out, "[-]%s failed: reason withheld\n",
                                   mine[i].name);
                }
            }
            dtk_buf_printf(out, "%s check %s\n", what,
                           failed ? "failed" : "passed");
        }
        dtk_free(result);
    }
    if (failed) {
        dtk_error_set(DTK_ERRCLASS_NONE, "%s check failed", what);
        error = DTK_EUNAVAIL;
    }
out:
    dtk_free(mine);
    return error;
}

/* ---- HTTP ------------------------------------------------------------- */

static void respond_text(dtk_httpserver_exchange *ex,
                         int status,
                         const dtk_buf *body)
{
    dtk_httpserver_add_header(ex, "X-Content-Type-Options", "nosniff");
    dtk_httpserver_respond(ex, status, "text/plain; charset=utf-8",
                           dtk_buf_cstr(body), body->len);
}

static void serve_checks(dtk_health_server *s,
                         dtk_httpserver_exchange *ex,
                         dtk_health_kind kind,
                         const char *only)
{
    dtk_buf body = DTK_BUF_INIT(0);
    char *list = NULL;
    const char *excl[MAX_EXCLUDES + 1];
    const char *q = dtk_httpserver_query(ex, "exclude");
    const char *v = dtk_httpserver_query(ex, "verbose");
    size_t ne = 0;
    int error;

    /* "exclude=a,b": split a private copy in place. */
    if (q != NULL) {
        char *p;

        list = dtk_strdup(q);
        p = list;
        while (p != NULL && *p != '\0' && ne < MAX_EXCLUDES) {
            char *comma = strchr(p, ',');

            if (comma != NULL) {
                *comma = '\0';
            }
            excl[ne++] = p;
            p = comma != NULL ? comma + 1 : NULL;
        }
    }
    excl[ne] = NULL;
    error = dtk_health_run(
        s->health, kind, only, excl,
        v != NULL && strcmp(v, "false") != 0 && strcmp(v, "0") != 0, &body);
    if (error == DTK_ENOTFOUND) {
        dtk_buf_reset(&body);
        dtk_buf_puts(&body, "404 page not found\n");
        respond_text(ex, 404, &body);
    } else {
        respond_text(ex, error < 0 ? 503 : 200, &body);
    }
    dtk_free(list);
    dtk_buf_dispose(&body);
}

static void serve_metrics(dtk_health_server *s, dtk_httpserver_exchange *ex)
{
    dtk_buf body = DTK_BUF_INIT(METRICS_LIMIT);

    if (dtk_metrics_write(&body, s->metrics) < 0) {
        dtk_buf_reset(&body);
        dtk_buf_puts(&body, "metrics exposition exceeds its bound\n");
        respond_text(ex, 500, &body);
    } else {
        dtk_httpserver_respond(ex, 200, DTK_METRICS_CONTENT_TYPE,
                               dtk_buf_cstr(&body), body.len);
    }
    dtk_buf_dispose(&body);
}

static void on_request(dtk_httpserver_exchange *ex, void *payload)
{
    dtk_health_server *s = payload;
    const char *method = dtk_httpserver_method(ex);
    const char *path = dtk_httpserver_path(ex);
    dtk_buf body = DTK_BUF_INIT(0);

    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        dtk_httpserver_add_header(ex, "Allow", "GET, HEAD");
        dtk_buf_puts(&body, "method not allowed\n");
        respond_text(ex, 405, &body);
    } else if (strcmp(path, "/metrics") == 0) {
        serve_metrics(s, ex);
    } else if (strcmp(path, "/healthz") == 0) {
        serve_checks(s, ex, DTK_HEALTH_LIVENESS, NULL);
    } else if (strcmp(path, "/readyz") == 0) {
        serve_checks(s, ex, DTK_HEALTH_READINESS, NULL);
    } else if (strncmp(path, "/healthz/", 9) == 0 && path[9] != '\0') {
        serve_checks(s, ex, DTK_HEALTH_LIVENESS, path + 9);
    } else if (strncmp(path, "/readyz/", 8) == 0 && path[8] != '\0') {
        serve_checks(s, ex, DTK_HEALTH_READINESS, path + 8);
    } else {
        dtk_buf_puts(&body, "404 page not found\n");
        respond_text(ex, 404, &body);
    }
    dtk_buf_dispose(&body);
}

int dtk_health_server_start(dtk_health_server **out,
                            dtk_health *h,
                            const dtk_health_server_options *options)
{
    dtk_httpserver_options ho = DTK_HTTPSERVER_OPTIONS_INIT;
    dtk_health_server *s = dtk_calloc(1, sizeof(*s));
    int error;

    *out = NULL;
    s->health = h;
    s->metrics = options != NULL && options->metrics != NULL
                     ? options->metrics
                     : dtk_metrics_default();
    if (options != NULL && options->address != NULL) {
        ho.address = options->address;
    }
    ho.port = options != NULL ? options->port : 0;
    ho.max_body = 64 * 1024; /* requests carry no body */
    ho.idle_timeout_s = 30;
    ho.max_connections = 64;
    error = dtk_httpserver_start(&s->http, &ho, on_request, s);
    if (error < 0) {
        dtk_free(s);
        return error;
    }
    *out = s;
    return 0;
}

int dtk_health_server_port(const dtk_health_server *s)
{
    return dtk_httpserver_port(s->http);
}

void dtk_health_server_stop(dtk_health_server *s)
{
    if (s == NULL) {
        return;
    }
    dtk_httpserver_stop(s->http);
    dtk_free(s);
}

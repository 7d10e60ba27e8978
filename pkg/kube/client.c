/* The REST client: one request with retries (dtk_kube__send) and the verbs
 * on top of it (see kube.h for the contract).
 *
 * Retry policy, per request:
 *  - 429: always retried (the server did not process it);
 *  - 5xx: retried for GET/PUT/DELETE; for POST/PATCH only when the server
 *    sent Retry-After (or details.retryAfterSeconds), i.e. said so;
 *  - a connection failure (DTK_EUNAVAIL) before any 2xx: retried for
 *    GET/PUT/DELETE only (the request may have been processed);
 *  - timeouts are not retried: the caller's deadline has been spent;
 *  - the wait is the exponential backoff (base * 2^n, capped, with jitter)
 *    or Retry-After if longer; a Retry-After beyond max_retry_after_ms ends
 *    the retries and returns the error (the caller requeues);
 *  - a 401 condemns the credentials once per request: the token file is
 *    re-read or the exec plugin re-run, and the request is sent again
 *    without counting as an attempt.
 * Each attempt waits for the QPS bucket first and reports to the hook.
 */
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/clock.h"
#include "pkg/base/error.h"
#include "pkg/base/log.h"
#include "pkg/kube/kube_int.h"

#define OBJECT_RESPONSE_LIMIT ((size_t)8 * 1024 * 1024)
#define LIST_RESPONSE_LIMIT   ((size_t)64 * 1024 * 1024)
#define REQUEST_BODY_LIMIT    ((size_t)16 * 1024 * 1024)
#define DEFAULT_PAGE_SIZE     500

struct dtk_kube_client {
    dtk_kube_config *cfg;
    dtk_http_client *http;
    unsigned long identity_generation;
    dtk_kube_status status;
    unsigned int seed;
    volatile int *cancel; /* dtk_kube_client_set_cancel */
};

int dtk_kube_client_new(dtk_kube_client **out, dtk_kube_config *cfg)
{
    dtk_http_client_options o = DTK_HTTP_CLIENT_OPTIONS_INIT;
    dtk_kube_client *c = dtk_calloc(1, sizeof(*c));
    int error;

    o.ca_pem = cfg->ca_pem;
    o.client_cert_pem = cfg->cert_pem;
    o.client_key_pem = cfg->key_pem;
    o.insecure_skip_verify = cfg->insecure;
    o.tls_server_name = cfg->tls_server_name;
    o.connect_timeout_ms = cfg->connect_timeout_ms;
    o.timeout_ms = cfg->timeout_ms;
    error = dtk_http_client_new(&c->http, &o);
    if (error < 0) {
        dtk_free(c);
        return error;
    }
    c->cfg = cfg;
    c->status.retry_after_s = -1;
    c->seed = (unsigned int)dtk_clock_now_ms() ^ (unsigned int)(size_t)c;
    *out = c;
    return 0;
}

void dtk_kube_client_free(dtk_kube_client *client)
{
    if (client == NULL) {
        return;
    }
    dtk_http_client_free(client->http);
    dtk_kube_status_dispose(&client->status);
    dtk_free(client);
}

const dtk_kube_status *dtk_kube_client_status(const dtk_kube_client *client)
{
    return &client->status;
}

dtk_kube_status *dtk_kube__client_status(dtk_kube_client *client)
{
    return &client->status;
}

void dtk_kube_client_set_cancel(dtk_kube_client *client,
                                volatile int *cancel)
{
    client->cancel = cancel;
}

volatile int *dtk_kube__client_cancel(dtk_kube_client *client)
{
    return client->cancel;
}

static int cancelled(volatile int *cancel)
{
    return cancel != NULL && *cancel != 0;
}

static int cancel_error(dtk_kube_client *c, const char *ctx)
{
    dtk_kube__status_reset(&c->status, 0);
    c->status.error = DTK_ESHUTDOWN;
    dtk_error_set(DTK_ERRCLASS_KUBE, "%s: request cancelled", ctx);
    return DTK_ESHUTDOWN;
}

/* Sleeps between retries; returns non-zero at once when cancelled. */
static int retry_wait(volatile int *cancel, long wait_ms)
{
    int64_t until = dtk_clock_now_ms() + wait_ms;

    if (cancel == NULL) {
        dtk_clock_sleep_ms(wait_ms);
        return 0;
    }
    for (;;) {
        int64_t left = until - dtk_clock_now_ms();

        if (cancelled(cancel)) {
            return 1;
        }
        if (left <= 0) {
            return 0;
        }
        dtk_clock_sleep_ms(left < 20 ? left : 20);
    }
}

int dtk_kube__query(dtk_buf *path, const char *key, const char *value)
{
    int error = dtk_buf_putc(
        path, memchr(dtk_buf_cstr(path), '?', path->len) != NULL ? '&' : '?');

    if (error == 0) {
        error = dtk_http_escape(path, key);
    }
    if (error == 0) {
        error = dtk_buf_putc(path, '=');
    }
    if (error == 0) {
        error = dtk_http_escape(path, value);
    }
    return error;
}

int dtk_kube__query_long(dtk_buf *path, const char *key, long value)
{
    dtk_buf num = DTK_BUF_INIT(0);
    int error = dtk_buf_printf(&num, "%ld", value);

    if (error == 0) {
        error = dtk_kube__query(path, key, num.ptr);
    }
    dtk_buf_dispose(&num);
    return error;
}

/* Retry-After in seconds (the HTTP-date form is not used by Kubernetes and
 * counts as absent). */
static long parse_retry_after(const char *value)
{
    long n = 0;

    if (value == NULL || *value == '\0') {
        return -1;
    }
    for (const char *p = value; *p; p++) {
        if (*p < '0' || *p > '9' || n > 100000000L) {
            return -1;
        }
        n = n * 10 + (*p - '0');
    }
    return n;
}

static long backoff_ms(dtk_kube_client *c, int attempt)
{
    long d = c->cfg->retry_base_ms;

    for (int i = 1; i < attempt && d < c->cfg->retry_max_ms; i++) {
        d *= 2;
    }
    if (d > c->cfg->retry_max_ms) {
        d = c->cfg->retry_max_ms;
    }
    /* Half fixed, half random: spreads clients that failed together. */
    return d / 2 + (long)(rand_r(&c->seed) % (unsigned long)(d / 2 + 1));
}

static void report(dtk_kube_client *c,
                   const char *method,
                   long code,
                   int64_t start_ms)
{
    if (c->cfg->on_request != NULL) {
        c->cfg->on_request(method, c->cfg->host, (int)code,
                           (double)(dtk_clock_now_ms() - start_ms) / 1000.0,
                           c->cfg->on_request_payload);
    }
}

int dtk_kube__send(dtk_kube_client *c,
                   const dtk_kube__req *r,
                   dtk_http_response *resp)
{
    dtk_kube_config *cfg = c->cfg;
    dtk_buf url = DTK_BUF_INIT(0);
    dtk_buf ctx = DTK_BUF_INIT(0);
    dtk_buf ctype = DTK_BUF_INIT(0);
    const char **headers = NULL;
    size_t nh = 0;
    dtk_kube__cred cred = {0};
    dtk_json *body = NULL;
    volatile int *cancel = r->cancel != NULL ? r->cancel : c->cancel;
    int idempotent =
        strcmp(r->method, "POST") != 0 && strcmp(r->method, "PATCH") != 0;
    int refreshed = 0;
    int max_attempts = r->max_attempts > 0 ? r->max_attempts
                                           : cfg->max_attempts;
    int error;

    error = dtk_buf_printf(&url, "%s%s", cfg->server, r->path);
    if (error == 0) {
        error = dtk_buf_printf(&ctx, "%s %.*s", r->method,
                               (int)strcspn(r->path, "?"), r->path);
    }
    if (error == 0 && r->body != NULL) {
        error = dtk_buf_printf(&ctype, "Content-Type: %s",
                               r->content_type ? r->content_type
                                               : "application/json");
    }
    if (error < 0) {
        dtk_error_set(DTK_ERRCLASS_KUBE, "request path exceeds its bound");
        goto out;
    }
    headers = dtk_calloc(cfg->header_count + 3, sizeof(char *));
    for (size_t i = 0; i < cfg->header_count; i++) {
        headers[nh++] = cfg->headers[i];
    }
    headers[nh++] = "Accept: application/json";
    if (r->body != NULL) {
        headers[nh++] = ctype.ptr;
    }
    for (int attempt = 1;; attempt++) {
        dtk_http_request req = DTK_HTTP_REQUEST_INIT;
        long retry_after;
        long wait_ms;
        int64_t start;
        int started;

        dtk_http_response_dispose(resp);
        dtk_kube__cred_dispose(&cred);
        if (cancelled(cancel)) {
            error = cancel_error(c, ctx.ptr);
            goto out;
        }
        dtk_kube__config_throttle(cfg);
        error = dtk_kube__auth_get(&cfg->auth, &cred);
        if (error < 0) {
            dtk_kube__status_reset(&c->status, 0);
            c->status.error = error;
            goto out;
        }
        if (cred.cert_pem != NULL &&
            cred.generation != c->identity_generation) {
            dtk_http_client_set_identity(c->http, cred.cert_pem, cred.key_pem);
            c->identity_generation = cred.generation;
        }
        req.method = r->method;
        req.url = url.ptr;
        req.headers = headers;
        req.body = r->body;
        req.body_len = r->body_len;
        req.timeout_ms = r->timeout_ms;
        req.response_limit =
            r->response_limit ? r->response_limit : OBJECT_RESPONSE_LIMIT;
        req.cancel = cancel;
        if (cfg->username != NULL) {
            req.username = cfg->username;
            req.password = cfg->password;
        } else {
            req.bearer_token = cred.token;
        }
        start = dtk_clock_now_ms();
        if (r->stream_cb != NULL) {
            error = dtk_http_stream(c->http, &req, resp, r->stream_cb,
                                    r->stream_payload);
        } else {
            error = dtk_http_do(c->http, &req, resp);
        }
        report(c, r->method, error < 0 && resp->status == 0 ? 0 : resp->status,
               start);
        started = resp->status >= 200 && resp->status < 300;
        if (cancelled(cancel) && !(started && r->stream_cb != NULL)) {
            /* A stopped stream keeps its documented result (0); anything
             * else was cut short and its answer is not to be trusted. */
            error = cancel_error(c, ctx.ptr);
            goto out;
        }
        if (error < 0) {
            dtk_kube__status_reset(&c->status, started ? resp->status : 0);
            c->status.error = error;
            if (error == DTK_EUNAVAIL && idempotent && !started &&
                attempt < max_attempts) {
                wait_ms = backoff_ms(c, attempt);
                dtk_log(DTK_LOG_DEBUG, NULL, "Retrying Kubernetes request",
                        "request=\"%s\" attempt=%d wait_ms=%ld reason=\"%s\"",
                        ctx.ptr, attempt, wait_ms, dtk_error_last()->message);
                if (retry_wait(cancel, wait_ms)) {
                    error = cancel_error(c, ctx.ptr);
                    goto out;
                }
                continue;
            }
            goto out;
        }
        if (started) {
            dtk_kube__status_reset(&c->status, resp->status);
            goto out;
        }
        if (resp->status == 401 && !refreshed &&
            dtk_kube__auth_invalidate(&cfg->auth, cred.generation)) {
            refreshed = 1;
            attempt--; /* a credential refresh is not a retry */
            continue;
        }
        dtk_json_free(body);
        body = NULL;
        if (resp->body.len > 0 &&
            dtk_json_parse(&body, resp->body.ptr, resp->body.len) < 0) {
            body = NULL;
        }
        error = dtk_kube_status_decode(&c->status, resp->status, body, ctx.ptr);
        retry_after =
            parse_retry_after(dtk_http_response_header(resp, "Retry-After"));
        if (retry_after >= 0) {
            c->status.retry_after_s = retry_after;
        } else {
            retry_after = c->status.retry_after_s;
        }
        if ((resp->status == 429 || resp->status >= 500) &&
            attempt < max_attempts &&
            (resp->status == 429 || idempotent || retry_after >= 0)) {
            wait_ms = backoff_ms(c, attempt);
            if (retry_after >= 0 &&
                retry_after * 1000 > cfg->max_retry_after_ms) {
                goto out; /* too long to wait here: the caller requeues */
            }
            if (retry_after * 1000 > wait_ms) {
                wait_ms = retry_after * 1000;
            }
            dtk_log(DTK_LOG_DEBUG, NULL, "Retrying Kubernetes request",
                    "request=\"%s\" attempt=%d code=%ld wait_ms=%ld", ctx.ptr,
                    attempt, resp->status, wait_ms);
            if (retry_wait(cancel, wait_ms)) {
                error = cancel_error(c, ctx.ptr);
                goto out;
            }
            continue;
        }
        goto out;
    }
out:
    dtk_json_free(body);
    dtk_kube__cred_dispose(&cred);
    dtk_free(headers);
    dtk_buf_dispose(&url);
    dtk_buf_dispose(&ctx);
    dtk_buf_dispose(&ctype);
    return error;
}

typedef enum expect {
    EXPECT_ANY = 0,
    EXPECT_OBJECT, /* a Kubernetes object, not a Status */
    EXPECT_LIST,   /* an object with items */
    EXPECT_OBJECT_OR_STATUS,
} expect;

static int bad_answer(const char *method, const char *path, const char *what)
{
    dtk_error_set(DTK_ERRCLASS_KUBE, "%s %.*s: %s", method,
                  (int)strcspn(path, "?"), path, what);
    return DTK_ERROR;
}

/* Checks the kind of a 2xx answer. */
static int check_answer(dtk_kube_client *c,
                        const char *method,
                        const char *path,
                        const dtk_json *doc,
                        expect want)
{
    const char *kind;
    const dtk_json *items;

    if (want == EXPECT_ANY) {
        return 0;
    }
    if (doc == NULL || doc->type != DTK_JSON_OBJECT) {
        return bad_answer(method, path, "answer is not a JSON object");
    }
    kind = dtk_json_get_string(doc, "kind");
    if (kind != NULL && strcmp(kind, "Status") == 0) {
        dtk_buf ctx = DTK_BUF_INIT(0);
        int error;

        if (dtk_buf_printf(&ctx, "%s %.*s", method, (int)strcspn(path, "?"),
                           path) < 0) {
            dtk_buf_dispose(&ctx);
            return DTK_ETOOBIG;
        }
        error = dtk_kube_status_decode(&c->status, c->status.http_code, doc,
                                       ctx.ptr);
        dtk_buf_dispose(&ctx);
        if (error < 0 || want == EXPECT_OBJECT_OR_STATUS) {
            return error;
        }
        return bad_answer(method, path,
                          "answer is a Status, not the expected object");
    }
    if (kind == NULL) {
        return bad_answer(method, path, "answer has no kind");
    }
    if (want == EXPECT_LIST) {
        items = dtk_json_get(doc, "items");
        if (items == NULL ||
            (items->type != DTK_JSON_ARRAY && items->type != DTK_JSON_NULL)) {
            return bad_answer(method, path, "answer is not a List");
        }
    }
    return 0;
}

/* One JSON request: body (may be NULL) is serialised, the answer parsed
 * and checked. */
static int call(dtk_json **out,
                dtk_kube_client *c,
                const char *method,
                const char *path,
                const char *content_type,
                const dtk_json *body,
                size_t limit,
                expect want)
{
    dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;
    dtk_kube__req r = {0};
    dtk_buf text = DTK_BUF_INIT(REQUEST_BODY_LIMIT);
    dtk_json *doc = NULL;
    int error = 0;

    if (body != NULL) {
        error = dtk_json_write(&text, body);
        if (error < 0) {
            dtk_error_prefix("%s %.*s: request body", method,
                             (int)strcspn(path, "?"), path);
            goto out;
        }
        r.body = dtk_buf_cstr(&text);
        r.body_len = text.len;
        r.content_type = content_type;
    }
    r.method = method;
    r.path = path;
    r.response_limit = limit;
    error = dtk_kube__send(c, &r, &resp);
    if (error < 0) {
        goto out;
    }
    if (resp.body.len > 0) {
        error = dtk_json_parse(&doc, resp.body.ptr, resp.body.len);
        if (error < 0) {
            error = bad_answer(method, path, "answer is not JSON");
            goto out;
        }
    }
    error = check_answer(c, method, path, doc, want);
    if (error < 0) {
        goto out;
    }
    if (out != NULL) {
        *out = doc;
        doc = NULL;
    }
out:
    dtk_json_free(doc);
    dtk_http_response_dispose(&resp);
    dtk_buf_dispose(&text);
    return error;
}

int dtk_kube_do(dtk_json **out,
                dtk_kube_client *client,
                const dtk_kube_call *call_in)
{
    dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;
    dtk_kube__req r = {0};
    dtk_json *doc = NULL;
    int error;

    if (out != NULL) {
        *out = NULL;
    }
    r.method = call_in->method;
    r.path = call_in->path;
    r.content_type = call_in->content_type;
    r.body = call_in->body;
    r.body_len = call_in->body_len;
    r.timeout_ms = call_in->timeout_ms;
    r.response_limit = call_in->response_limit;
    r.max_attempts = call_in->max_attempts;
    error = dtk_kube__send(client, &r, &resp);
    if (error == 0 && resp.body.len > 0 && out != NULL) {
        if (dtk_json_parse(&doc, resp.body.ptr, resp.body.len) < 0) {
            error = bad_answer(r.method, r.path, "answer is not JSON");
        } else {
            *out = doc;
        }
    }
    dtk_http_response_dispose(&resp);
    return error;
}

int dtk_kube_get(dtk_json **out,
                 dtk_kube_client *client,
                 const dtk_kube_gvr *gvr,
                 const char *ns,
                 const char *name,
                 const char *subresource)
{
    dtk_buf path = DTK_BUF_INIT(0);
    int error;

    if (name == NULL) {
        dtk_error_set(DTK_ERRCLASS_INVALID, "name: required for a get");
        return DTK_EINVALID;
    }
    error = dtk_kube_gvr_path(&path, gvr, ns, name, subresource);
    if (error == 0) {
        error = call(out, client, "GET", path.ptr, NULL, NULL,
                     OBJECT_RESPONSE_LIMIT, EXPECT_OBJECT);
    }
    dtk_buf_dispose(&path);
    return error;
}

static int list_path(dtk_buf *path,
                     const dtk_kube_gvr *gvr,
                     const char *ns,
                     const dtk_kube_list_options *o,
                     const char *cont,
                     int first)
{
    long limit = o->limit == 0 ? DEFAULT_PAGE_SIZE : o->limit;
    int error = dtk_kube_gvr_path(path, gvr, ns, NULL, NULL);

    if (error == 0 && o->label_selector != NULL) {
        error = dtk_kube__query(path, "labelSelector", o->label_selector);
    }
    if (error == 0 && o->field_selector != NULL) {
        error = dtk_kube__query(path, "fieldSelector", o->field_selector);
    }
    /* Later pages carry no resourceVersion: the continue token pins the
     * snapshot, and the server refuses both together. */
    if (error == 0 && first && o->resource_version != NULL) {
        error = dtk_kube__query(path, "resourceVersion", o->resource_version);
    }
    if (error == 0 && first && o->resource_version_match != NULL) {
        error = dtk_kube__query(path, "resourceVersionMatch",
                                o->resource_version_match);
    }
    if (error == 0 && limit > 0) {
        error = dtk_kube__query_long(path, "limit", limit);
    }
    if (error == 0 && cont != NULL && cont[0] != '\0') {
        error = dtk_kube__query(path, "continue", cont);
    }
    if (error == 0 && o->timeout_seconds > 0) {
        error =
            dtk_kube__query_long(path, "timeoutSeconds", o->timeout_seconds);
    }
    return error;
}

int dtk_kube_list_page(dtk_json **out,
                       dtk_kube_client *client,
                       const dtk_kube_gvr *gvr,
                       const char *ns,
                       const dtk_kube_list_options *options)
{
    static const dtk_kube_list_options defaults = DTK_KUBE_LIST_OPTIONS_INIT;
    const dtk_kube_list_options *o = options ? options : &defaults;
    dtk_buf path = DTK_BUF_INIT(0);
    int error;

    error = list_path(&path, gvr, ns, o, o->continue_token,
                      o->continue_token == NULL || !o->continue_token[0]);
    if (error == 0) {
        error = call(out, client, "GET", path.ptr, NULL, NULL,
                     LIST_RESPONSE_LIMIT, EXPECT_LIST);
    }
    dtk_buf_dispose(&path);
    return error;
}

/* Moves the items of page to the end of items. */
static void move_items(dtk_json *items, dtk_json *page)
{
    dtk_json *arr = dtk_json_take(page, "items");

    if (arr == NULL) {
        return;
    }
    if (arr->type == DTK_JSON_ARRAY) {
        for (size_t i = 0; i < arr->u.array.len; i++) {
            dtk_json_append(items, arr->u.array.items[i]);
        }
        arr->u.array.len = 0;
    }
    dtk_json_free(arr);
}

int dtk_kube_list(dtk_json **items_out,
                  char **resource_version_out,
                  dtk_kube_client *client,
                  const dtk_kube_gvr *gvr,
                  const char *ns,
                  const dtk_kube_list_options *options)
{
    static const char *const rv_path[] = {"metadata", "resourceVersion", NULL};
    static const char *const cont_path[] = {"metadata", "continue", NULL};
    static const dtk_kube_list_options defaults = DTK_KUBE_LIST_OPTIONS_INIT;
    dtk_kube_list_options o = options ? *options : defaults;
    dtk_json *items = dtk_json_new_array();
    dtk_json *page = NULL;
    char *cont = NULL;
    char *rv = NULL;
    int restarted = 0;
    int error;

    o.continue_token = NULL;
    for (;;) {
        dtk_buf path = DTK_BUF_INIT(0);
        const char *next;

        error = list_path(&path, gvr, ns, &o, cont, cont == NULL);
        if (error == 0) {
            error = call(&page, client, "GET", path.ptr, NULL, NULL,
                         LIST_RESPONSE_LIMIT, EXPECT_LIST);
        }
        dtk_buf_dispose(&path);
        if (error == DTK_EGONE && cont != NULL && !restarted) {
            /* The continue token expired: start over unpaged, like
             * client-go's pager with FullListIfExpired. */
            dtk_log(DTK_LOG_DEBUG, NULL, "List continuation expired",
                    "resource=%s", gvr->resource);
            dtk_error_clear();
            dtk_json_free(items);
            items = dtk_json_new_array();
            dtk_free(cont);
            cont = NULL;
            o.limit = -1;
            restarted = 1;
            continue;
        }
        if (error < 0) {
            goto out;
        }
        dtk_free(rv);
        rv = dtk_strdup(dtk_json_string(dtk_json_path(page, rv_path)));
        next = dtk_json_string(dtk_json_path(page, cont_path));
        dtk_free(cont);
        cont = next != NULL && next[0] != '\0' ? dtk_strdup(next) : NULL;
        move_items(items, page);
        dtk_json_free(page);
        page = NULL;
        if (cont == NULL) {
            break;
        }
    }
    *items_out = items;
    items = NULL;
    *resource_version_out = rv != NULL ? rv : dtk_strdup("");
    rv = NULL;
out:
    dtk_json_free(items);
    dtk_json_free(page);
    dtk_free(cont);
    dtk_free(rv);
    return error;
}

static int write_query(dtk_buf *path, const dtk_kube_write_options *o)
{
    int error = 0;

    if (o == NULL) {
        return 0;
    }
    if (o->field_manager != NULL) {
        error = dtk_kube__query(path, "fieldManager", o->field_manager);
    }
    if (error == 0 && o->force) {
        error = dtk_kube__query(path, "force", "true");
    }
    if (error == 0 && o->dry_run) {
        error = dtk_kube__query(path, "dryRun", "All");
    }
    if (error == 0 && o->field_validation != NULL) {
        error = dtk_kube__query(path, "fieldValidation", o->field_validation);
    }
    return error;
}

int dtk_kube_create(dtk_json **out,
                    dtk_kube_client *client,
                    const dtk_kube_gvr *gvr,
                    const char *ns,
                    const dtk_json *obj,
                    const dtk_kube_write_options *options)
{
    dtk_buf path = DTK_BUF_INIT(0);
    int error;

    if (gvr->namespaced && ns == NULL) {
        dtk_error_set(DTK_ERRCLASS_INVALID, "namespace: required to create %s",
                      gvr->resource);
        return DTK_EINVALID;
    }
    error = dtk_kube_gvr_path(&path, gvr, ns, NULL, NULL);
    if (error == 0) {
        error = write_query(&path, options);
    }
    if (error == 0) {
        error = call(out, client, "POST", path.ptr, NULL, obj,
                     OBJECT_RESPONSE_LIMIT, EXPECT_OBJECT);
    }
    dtk_buf_dispose(&path);
    return error;
}

int dtk_kube_update(dtk_json **out,
                    dtk_kube_client *client,
                    const dtk_kube_gvr *gvr,
                    const char *ns,
                    const char *name,
                    const char *subresource,
                    const dtk_json *obj,
                    const dtk_kube_write_options *options)
{
    dtk_buf path = DTK_BUF_INIT(0);
    int error;

    if (name == NULL) {
        dtk_error_set(DTK_ERRCLASS_INVALID, "name: required for an update");
        return DTK_EINVALID;
    }
    error = dtk_kube_gvr_path(&path, gvr, ns, name, subresource);
    if (error == 0) {
        error = write_query(&path, options);
    }
    if (error == 0) {
        error = call(out, client, "PUT", path.ptr, NULL, obj,
                     OBJECT_RESPONSE_LIMIT, EXPECT_OBJECT);
    }
    dtk_buf_dispose(&path);
    return error;
}

int dtk_kube_patch(dtk_json **out,
                   dtk_kube_client *client,
                   const dtk_kube_gvr *gvr,
                   const char *ns,
                   const char *name,
                   const char *subresource,
                   dtk_kube_patch_type type,
                   const dtk_json *patch,
                   const dtk_kube_write_options *options)
{
    static const char *const types[] = {
        "application/merge-patch+json",
        "application/json-patch+json",
        "application/strategic-merge-patch+json",
        "application/apply-patch+yaml",
    };
    dtk_json_type want =
        type == DTK_KUBE_PATCH_JSON ? DTK_JSON_ARRAY : DTK_JSON_OBJECT;
    dtk_buf path = DTK_BUF_INIT(0);
    int error;

    if ((unsigned)type >= sizeof(types) / sizeof(*types)) {
        dtk_error_set(DTK_ERRCLASS_INVALID, "patch type %d: unknown",
                      (int)type);
        return DTK_EINVALID;
    }
    if (patch == NULL || patch->type != want) {
        dtk_error_set(DTK_ERRCLASS_INVALID, "patch: expected %s for %s",
                      want == DTK_JSON_ARRAY ? "an array" : "an object",
                      types[type]);
        return DTK_EINVALID;
    }
    if (type == DTK_KUBE_PATCH_APPLY &&
        (options == NULL || options->field_manager == NULL)) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "apply patch: a field manager is required");
        return DTK_EINVALID;
    }
    if (name == NULL) {
        dtk_error_set(DTK_ERRCLASS_INVALID, "name: required for a patch");
        return DTK_EINVALID;
    }
    error = dtk_kube_gvr_path(&path, gvr, ns, name, subresource);
    if (error == 0) {
        error = write_query(&path, options);
    }
    if (error == 0) {
        error = call(out, client, "PATCH", path.ptr, types[type], patch,
                     OBJECT_RESPONSE_LIMIT, EXPECT_OBJECT);
    }
    dtk_buf_dispose(&path);
    return error;
}

int dtk_kube_delete(dtk_json **out,
                    dtk_kube_client *client,
                    const dtk_kube_gvr *gvr,
                    const char *ns,
                    const char *name,
                    const dtk_kube_delete_options *options)
{
    dtk_buf path = DTK_BUF_INIT(0);
    dtk_json *body = dtk_json_new_object();
    int error;

    if (name == NULL) {
        dtk_json_free(body);
        dtk_error_set(DTK_ERRCLASS_INVALID, "name: required for a delete");
        return DTK_EINVALID;
    }
    dtk_json_set(body, "kind", dtk_json_new_string("DeleteOptions"));
    dtk_json_set(body, "apiVersion", dtk_json_new_string("v1"));
    if (options != NULL) {
        if (options->precondition_uid != NULL ||
            options->precondition_resource_version != NULL) {
            dtk_json *pre = dtk_json_new_object();

            if (options->precondition_uid != NULL) {
                dtk_json_set(pre, "uid",
                             dtk_json_new_string(options->precondition_uid));
            }
            if (options->precondition_resource_version != NULL) {
                dtk_json_set(pre, "resourceVersion",
                             dtk_json_new_string(
                                 options->precondition_resource_version));
            }
            dtk_json_set(body, "preconditions", pre);
        }
        if (options->propagation_policy != NULL) {
            dtk_json_set(body, "propagationPolicy",
                         dtk_json_new_string(options->propagation_policy));
        }
        if (options->grace_period_seconds >= 0) {
            dtk_json_set(body, "gracePeriodSeconds",
                         dtk_json_new_int(options->grace_period_seconds));
        }
        if (options->dry_run) {
            dtk_json *all = dtk_json_new_array();

            dtk_json_append(all, dtk_json_new_string("All"));
            dtk_json_set(body, "dryRun", all);
        }
    }
    error = dtk_kube_gvr_path(&path, gvr, ns, name, NULL);
    if (error == 0) {
        error = call(out, client, "DELETE", path.ptr, NULL, body,
                     OBJECT_RESPONSE_LIMIT, EXPECT_OBJECT_OR_STATUS);
    }
    dtk_json_free(body);
    dtk_buf_dispose(&path);
    return error;
}

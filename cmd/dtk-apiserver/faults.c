/* Test-only fault injection and bearer-token authentication.
 *
 * Faults exist only with --enable-faults. They are programmed over HTTP:
 *   POST /_dtk/faults        {"method":"GET","path":"/apis/dtk.io","count":3,
 *                             "code":429,"retryAfter":1,"latencyMs":0}
 *                            (code 0 with latencyMs > 0 only delays)
 *   DELETE /_dtk/faults      clears them
 *   POST /_dtk/close-watches ends every open watch (clients re-watch)
 *   POST /_dtk/compact       drops the event history: resumed watches and
 *                            exact-version lists get 410 Expired
 * With --token-file every request except /healthz, /livez and /readyz must
 * carry "Authorization: Bearer <token>"; the file is read again when it
 * changes, so tests can rotate it.
 */
#include "cmd/dtk-apiserver/apiserver.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pkg/base/alloc.h"
#include "pkg/base/clock.h"
#include "pkg/base/error.h"

static void fault_free(dtk_fault *f)
{
    dtk_free(f->method);
    dtk_free(f->path_prefix);
}

static void clear_faults(dtk_apiserver *s)
{
    for (size_t i = 0; i < s->fault_count; i++) {
        fault_free(&s->faults[i]);
    }
    dtk_free(s->faults);
    s->faults = NULL;
    s->fault_count = 0;
}

void dtk_faults_dispose(dtk_apiserver *s)
{
    clear_faults(s);
}

static int add_fault(dtk_apiserver *s, dtk_httpserver_exchange *ex)
{
    size_t len = 0;
    const char *body = dtk_httpserver_body(ex, &len);
    dtk_json *spec = NULL;
    dtk_fault f;
    int64_t count = 1, code = 0, retry = 0, latency = 0;

    memset(&f, 0, sizeof(f));
    if (dtk_json_parse(&spec, body, len) < 0 || spec->type != DTK_JSON_OBJECT) {
        dtk_json_free(spec);
        dtk_respond_error(ex, 400, "BadRequest", "fault: expected a JSON object");
        return 1;
    }
    if (dtk_json_get(spec, "count") != NULL) {
        dtk_json_int(&count, dtk_json_get(spec, "count"));
    }
    if (dtk_json_get(spec, "code") != NULL) {
        dtk_json_int(&code, dtk_json_get(spec, "code"));
    }
    if (dtk_json_get(spec, "retryAfter") != NULL) {
        dtk_json_int(&retry, dtk_json_get(spec, "retryAfter"));
    }
    if (dtk_json_get(spec, "latencyMs") != NULL) {
        dtk_json_int(&latency, dtk_json_get(spec, "latencyMs"));
    }
    if ((code != 0 && (code < 400 || code > 599)) || count < 1 ||
        latency < 0 || latency > 60000) {
        dtk_json_free(spec);
        dtk_respond_error(ex, 400, "BadRequest",
                          "fault: code must be 400-599 (or 0), count >= 1, "
                          "latencyMs 0-60000");
        return 1;
    }
    f.method = dtk_strdup(dtk_json_get_string(spec, "method"));
    f.path_prefix = dtk_strdup(dtk_json_get_string(spec, "path")
                                   ? dtk_json_get_string(spec, "path")
                                   : "/");
    f.remaining = (int)count;
    f.code = (int)code;
    f.retry_after = (int)retry;
    f.latency_ms = (int)latency;
    s->faults = dtk_realloc(s->faults, (s->fault_count + 1) * sizeof(f));
    s->faults[s->fault_count++] = f;
    dtk_json_free(spec);
    dtk_httpserver_respond(ex, 201, "application/json", "{}", 2);
    return 1;
}

int dtk_faults_serve(dtk_apiserver *s, dtk_httpserver_exchange *ex,
                     const char *path)
{
    const char *method = dtk_httpserver_method(ex);

    if (!s->config.enable_faults) {
        return 0;
    }
    if (strcmp(path, "/_dtk/faults") == 0 && strcmp(method, "POST") == 0) {
        return add_fault(s, ex);
    }
    if (strcmp(path, "/_dtk/faults") == 0 && strcmp(method, "DELETE") == 0) {
        clear_faults(s);
        dtk_httpserver_respond(ex, 200, "application/json", "{}", 2);
        return 1;
    }
    if (strcmp(path, "/_dtk/close-watches") == 0 &&
        strcmp(method, "POST") == 0) {
        s->watch_epoch++;
        pthread_cond_broadcast(&s->changed);
        dtk_httpserver_respond(ex, 200, "application/json", "{}", 2);
        return 1;
    }
    if (strcmp(path, "/_dtk/compact") == 0 && strcmp(method, "POST") == 0) {
        dtk_store_compact(s);
        pthread_cond_broadcast(&s->changed);
        dtk_httpserver_respond(ex, 200, "application/json", "{}", 2);
        return 1;
    }
    return 0;
}

static const char *reason_for(int code)
{
    switch (code) {
    case 429:
        return "TooManyRequests";
    case 503:
        return "ServiceUnavailable";
    case 504:
        return "Timeout";
    case 500:
        return "InternalError";
    case 409:
        return "Conflict";
    case 404:
        return "NotFound";
    default:
        return code >= 500 ? "InternalError" : "BadRequest";
    }
}

int dtk_faults_apply(dtk_apiserver *s, dtk_httpserver_exchange *ex)
{
    const char *method = dtk_httpserver_method(ex);
    const char *path = dtk_httpserver_path(ex);

    for (size_t i = 0; i < s->fault_count; i++) {
        dtk_fault *f = &s->faults[i];
        dtk_json *st;
        int latency;

        if (f->remaining <= 0 ||
            (f->method != NULL && strcmp(f->method, method) != 0) ||
            strncmp(path, f->path_prefix, strlen(f->path_prefix)) != 0) {
            continue;
        }
        f->remaining--;
        latency = f->latency_ms;
        if (latency > 0) {
            /* Sleep without the lock so other clients keep being served. */
            pthread_mutex_unlock(&s->mu);
            dtk_clock_sleep_ms(latency);
            pthread_mutex_lock(&s->mu);
            if (i >= s->fault_count) {
                return 0;
            }
            f = &s->faults[i];
        }
        if (f->code == 0) {
            return 0;
        }
        st = dtk_status_new(f->code, reason_for(f->code),
                            "injected fault (dtk-apiserver --enable-faults)");
        if (f->retry_after > 0) {
            dtk_json *d = dtk_json_new_object();

            dtk_json_set(d, "retryAfterSeconds",
                         dtk_json_new_int(f->retry_after));
            dtk_json_set(st, "details", d);
        }
        dtk_respond_status(ex, st);
        return 1;
    }
    return 0;
}

/* ---- bearer token ----------------------------------------------------------- */

static char *cached_token;
static struct timespec cached_mtime;
static off_t cached_size = -1;

void dtk_auth_dispose(void)
{
    dtk_free(cached_token);
    cached_token = NULL;
}

/* Re-reads the token file when its mtime or size changed. Caller holds mu. */
static const char *current_token(const char *file)
{
    struct stat sb;
    FILE *f;
    char buf[4096];
    size_t n;

    if (stat(file, &sb) != 0) {
        return cached_token;
    }
    if (cached_token != NULL && sb.st_size == cached_size &&
        sb.st_mtim.tv_sec == cached_mtime.tv_sec &&
        sb.st_mtim.tv_nsec == cached_mtime.tv_nsec) {
        return cached_token;
    }
    f = fopen(file, "r");
    if (f == NULL) {
        return cached_token;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
                     buf[n - 1] == ' ')) {
        n--;
    }
    buf[n] = '\0';
    dtk_free(cached_token);
    cached_token = dtk_strdup(buf);
    cached_mtime = sb.st_mtim;
    cached_size = sb.st_size;
    return cached_token;
}

int dtk_auth_refuse(dtk_apiserver *s, dtk_httpserver_exchange *ex)
{
    const char *want;
    const char *auth;

    if (s->config.token_file == NULL) {
        return 0;
    }
    want = current_token(s->config.token_file);
    auth = dtk_httpserver_header(ex, "Authorization");
    if (want != NULL && *want != '\0' && auth != NULL &&
        strncmp(auth, "Bearer ", 7) == 0 && strcmp(auth + 7, want) == 0) {
        return 0;
    }
    dtk_respond_error(ex, 401, "Unauthorized", "Unauthorized");
    return 1;
}

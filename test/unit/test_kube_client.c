/* The REST client against stub API servers on 127.0.0.1 that return canned
 * Kubernetes answers (the "fake transport" seam for protocol details):
 * Status mapping, retries, Retry-After, timeouts, paging, watch framing,
 * token rotation, exec plugins, TLS (server verification, tls-server-name,
 * client certificates) and in-cluster configuration.
 *
 * Certificates are made once per run with the openssl command line. The
 * client-certificate test uses `openssl s_server -Verify 1
 * -verify_return_error`, which refuses a handshake without a client
 * certificate signed by the test CA (libmicrohttpd can only request one).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/b64.h"
#include "pkg/base/clock.h"
#include "pkg/base/error.h"
#include "pkg/http/http.h"
#include "pkg/kube/kube.h"
#include "test/support/kube_stub.h"

/* ---- Certificates (once per run) -------------------------------------- */

static struct {
    char *dir;
    char *ca;
    char *server_cert;
    char *server_key;
    char *client_cert;
    char *client_key;
    char *other_ca;
} certs;

static char *read_cert(const char *name)
{
    char path[600];
    char *text;

    snprintf(path, sizeof(path), "%s/%s", certs.dir, name);
    text = dtk_kstub_read(path);
    assert_non_null(text);
    return text;
}

static int group_setup(void **state)
{
    char cmd[4096];

    (void)state;
    certs.dir = dtk_kstub_tmpdir();
    assert_non_null(certs.dir);
#define EC "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && "
             "printf 'subjectAltName=DNS:localhost\\n' > server.ext && "
             "printf 'extendedKeyUsage=clientAuth\\n' > client.ext && "
             "openssl req -x509 " EC " -keyout ca.key -out ca.pem "
             "-subj /CN=dtk-test-ca -days 2 && "
             "openssl req " EC " -keyout server.key -out server.csr "
             "-subj /CN=localhost && "
             "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key "
             "-CAcreateserial -out server.pem -days 2 -extfile server.ext && "
             "openssl req " EC " -keyout client.key -out client.csr "
             "-subj /CN=dtk-test-user && "
             "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key "
             "-CAcreateserial -out client.pem -days 2 -extfile client.ext && "
             "openssl req -x509 " EC " -keyout other.key -out other.pem "
             "-subj /CN=other-ca -days 2 >/dev/null 2>&1",
             certs.dir);
#undef EC
    if (system(cmd) != 0) {
        fprintf(stderr, "certificate generation failed: %s\n", cmd);
        return -1;
    }
    certs.ca = read_cert("ca.pem");
    certs.server_cert = read_cert("server.pem");
    certs.server_key = read_cert("server.key");
    certs.client_cert = read_cert("client.pem");
    certs.client_key = read_cert("client.key");
    certs.other_ca = read_cert("other.pem");
    dtk_http_global_init();
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    dtk_free(certs.ca);
    dtk_free(certs.server_cert);
    dtk_free(certs.server_key);
    dtk_free(certs.client_cert);
    dtk_free(certs.client_key);
    dtk_free(certs.other_ca);
    dtk_kstub_rmdir(certs.dir);
    dtk_http_global_cleanup();
    return 0;
}

/* ---- Fixture ---------------------------------------------------------- */

typedef struct fixture fixture;
typedef void (*scenario_fn)(fixture *f, dtk_httpserver_exchange *ex, int hit);

struct fixture {
    dtk_kstub *stub; /* plain HTTP */
    dtk_kstub *tls;  /* HTTPS with the test CA, on demand */
    char *dir;
    scenario_fn scenario;
    pthread_mutex_t lock;
    char expected_token[64];   /* "" accepts anything */
    const char *const *pieces; /* watch stream */
};

static void dispatch(dtk_kstub *s,
                     dtk_httpserver_exchange *ex,
                     int hit,
                     void *payload)
{
    fixture *f = payload;

    (void)s;
    f->scenario(f, ex, hit);
}

static void ok_scenario(fixture *f, dtk_httpserver_exchange *ex, int hit)
{
    (void)f;
    (void)hit;
    dtk_kstub_configmap(ex, "cm");
}

static int setup(void **state)
{
    fixture *f = dtk_calloc(1, sizeof(*f));

    pthread_mutex_init(&f->lock, NULL);
    f->scenario = ok_scenario;
    assert_int_equal(dtk_kstub_start(&f->stub, NULL, NULL, dispatch, f), 0);
    f->dir = dtk_kstub_tmpdir();
    assert_non_null(f->dir);
    unsetenv("KUBECONFIG");
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    dtk_kstub_stop(f->stub);
    dtk_kstub_stop(f->tls);
    dtk_kstub_rmdir(f->dir);
    pthread_mutex_destroy(&f->lock);
    dtk_free(f);
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    return 0;
}

static void start_tls(fixture *f)
{
    assert_int_equal(dtk_kstub_start(&f->tls, certs.server_cert,
                                     certs.server_key, dispatch, f),
                     0);
}

static dtk_kube_config_options fast_options(void)
{
    dtk_kube_config_options o = DTK_KUBE_CONFIG_OPTIONS_INIT;

    o.retry_base_ms = 10;
    o.retry_max_ms = 40;
    return o;
}

static dtk_kube_config *url_config(fixture *f, dtk_kube_config_options *o)
{
    dtk_kube_config_options d = fast_options();
    dtk_kube_config *cfg = NULL;

    assert_int_equal(
        dtk_kube_config_for_url(&cfg, f->stub->base, NULL, o ? o : &d), 0);
    return cfg;
}

static dtk_json *parse(const char *text)
{
    dtk_json *v = NULL;

    assert_int_equal(dtk_json_parse(&v, text, strlen(text)), 0);
    return v;
}

static char *b64(const char *s)
{
    dtk_buf b = DTK_BUF_INIT(0);

    assert_int_equal(dtk_b64_encode(&b, s, strlen(s)), 0);
    return dtk_buf_detach(&b);
}

/* Writes a kubeconfig from a template and loads it. Placeholders:
 * @SERVER@ plain stub, @TLS@ https://localhost:<tls port>, @TLSIP@
 * https://127.0.0.1:<tls port>, @DIR@ the test directory, @CA@ @OTHERCA@
 * @CERT@ @KEY@ base64 PEM. */
static int load_kc(dtk_kube_config **cfg,
                   fixture *f,
                   const char *tmpl,
                   dtk_kube_config_options *o)
{
    char *ca = b64(certs.ca);
    char *other = b64(certs.other_ca);
    char *cert = b64(certs.client_cert);
    char *key = b64(certs.client_key);
    char tls[64] = "";
    char tlsip[64] = "";
    const char *names[] = {"@SERVER@", "@TLS@",     "@TLSIP@", "@DIR@",
                           "@CA@",     "@OTHERCA@", "@CERT@",  "@KEY@"};
    const char *values[8];
    dtk_buf text = DTK_BUF_INIT(0);
    dtk_kube_config_options d = fast_options();
    char *path;
    int error;

    if (f->tls != NULL) {
        snprintf(tls, sizeof(tls), "https://localhost:%d", f->tls->port);
        snprintf(tlsip, sizeof(tlsip), "https://127.0.0.1:%d", f->tls->port);
    }
    values[0] = f->stub->base;
    values[1] = tls;
    values[2] = tlsip;
    values[3] = f->dir;
    values[4] = ca;
    values[5] = other;
    values[6] = cert;
    values[7] = key;
    for (const char *p = tmpl; *p;) {
        size_t best = 0;
        const char *at = NULL;

        for (size_t i = 0; i < 8; i++) {
            const char *hit = strstr(p, names[i]);

            if (hit != NULL && (at == NULL || hit < at)) {
                at = hit;
                best = i;
            }
        }
        if (at == NULL) {
            dtk_buf_puts(&text, p);
            break;
        }
        dtk_buf_put(&text, p, (size_t)(at - p));
        dtk_buf_puts(&text, values[best]);
        p = at + strlen(names[best]);
    }
    path = dtk_kstub_write(f->dir, "kubeconfig", dtk_buf_cstr(&text));
    assert_non_null(path);
    if (o == NULL) {
        o = &d;
    }
    o->kubeconfig = path;
    error = dtk_kube_config_load(cfg, o);
    o->kubeconfig = NULL;
    dtk_free(path);
    dtk_buf_dispose(&text);
    dtk_free(ca);
    dtk_free(other);
    dtk_free(cert);
    dtk_free(key);
    return error;
}

static int get_cm(dtk_kube_client *c, const char *name, dtk_json **out)
{
    dtk_json *obj = NULL;
    int error =
        dtk_kube_get(&obj, c, &dtk_kube_gvr_configmaps, "default", name, NULL);

    if (out != NULL) {
        *out = obj;
    } else {
        dtk_json_free(obj);
    }
    return error;
}

static void set_expected(fixture *f, const char *token)
{
    pthread_mutex_lock(&f->lock);
    snprintf(f->expected_token, sizeof(f->expected_token), "%s", token);
    pthread_mutex_unlock(&f->lock);
}

/* ---- Status mapping ----------------------------------------------------- */

typedef struct status_case {
    const char *name;
    const char *reason;
    const char *message;
    int code;
    int want;
} status_case;

static const status_case status_cases[] = {
    {"s404", "NotFound", "configmaps \"s404\" not found", 404, DTK_ENOTFOUND},
    {"s409a", "AlreadyExists", "configmaps \"s409a\" already exists", 409,
     DTK_EEXISTS},
    {"s409c", "Conflict",
     "Operation cannot be fulfilled on configmaps \"s409c\": the object has "
     "been modified; please apply your changes to the latest version and "
     "try again",
     409, DTK_ECONFLICT},
    {"s410", "Gone", "the resource is gone", 410, DTK_EGONE},
    {"s400", "BadRequest", "bad request", 400, DTK_EINVALID},
    {"s401", "Unauthorized", "Unauthorized", 401, DTK_EAUTH},
    {"s403", "Forbidden",
     "configmaps \"s403\" is forbidden: User \"bob\" cannot get resource", 403,
     DTK_EAUTH},
    {"s413", "RequestEntityTooLarge", "the request is too large", 413,
     DTK_ETOOBIG},
    {"s429", "TooManyRequests", "too many requests", 429, DTK_EUNAVAIL},
    {"s500", "InternalError", "Internal error occurred: etcd", 500,
     DTK_EUNAVAIL},
    {"s503", "ServiceUnavailable", "the server is shutting down", 503,
     DTK_EUNAVAIL},
    {"s504", "Timeout", "the request timed out", 504, DTK_ETIMEOUT},
};

static void status_scenario(fixture *f, dtk_httpserver_exchange *ex, int hit)
{
    const char *path = dtk_httpserver_path(ex);
    const char *name = strrchr(path, '/') + 1;

    (void)f;
    (void)hit;
    for (size_t i = 0; i < sizeof(status_cases) / sizeof(*status_cases); i++) {
        if (strcmp(name, status_cases[i].name) == 0) {
            dtk_kstub_status(ex, status_cases[i].code, status_cases[i].reason,
                             status_cases[i].message);
            return;
        }
    }
    if (strcmp(name, "s422") == 0) {
        dtk_kstub_json(
            ex, 422,
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
            "\"status\":\"Failure\",\"message\":\"ConfigMap \\\"s422\\\" is "
            "invalid: metadata.labels: Invalid value: \\\"-x\\\"\",\"reason\":"
            "\"Invalid\",\"details\":{\"name\":\"s422\",\"kind\":\"ConfigMap\","
            "\"causes\":[{\"reason\":\"FieldValueInvalid\",\"message\":"
            "\"Invalid value: \\\"-x\\\"\",\"field\":\"metadata.labels\"}]},"
            "\"code\":422}");
    } else if (strcmp(name, "html502") == 0) {
        static const char html[] =
            "<html><body>Bad Gateway token=s3cr3t</body></html>";

        dtk_httpserver_respond(ex, 502, "text/html", html, strlen(html));
    } else {
        dtk_kstub_configmap(ex, name);
    }
}

static void test_kube_client__status_bodies_map_to_codes(void **state)
{
    fixture *f = *state;
    dtk_kube_config_options o = fast_options();
    dtk_kube_config *cfg;
    dtk_kube_client *c = NULL;
    const dtk_kube_status *st;
    char want[600];

    o.max_attempts = 1; /* the mapping, not the retries */
    cfg = url_config(f, &o);
    f->scenario = status_scenario;
    assert_int_equal(dtk_kube_client_new(&c, cfg), 0);
    for (size_t i = 0; i < sizeof(status_cases) / sizeof(*status_cases); i++) {
        const status_case *k = &status_cases[i];

        assert_int_equal(get_cm(c, k->name, NULL), k->want);
        snprintf(want, sizeof(want),
                 "GET /api/v1/namespaces/default/configmaps/%s: %s (%d %s)",
                 k->name, k->message, k->code, k->reason);
        assert_string_equal(dtk_error_last()->message, want);
        st = dtk_kube_client_status(c);
        assert_int_equal(st->code, k->code);
        assert_int_equal(st->http_code, k->code);
        assert_string_equal(st->reason, k->reason);
        assert_string_equal(st->message, k->message);
        assert_int_equal(st->error, k->want);
    }
    /* 422 with causes. */
    assert_int_equal(get_cm(c, "s422", NULL), DTK_EINVALID);
    st = dtk_kube_client_status(c);
    assert_int_equal(st->cause_count, 1);
    assert_string_equal(st->causes[0].field, "metadata.labels");
    assert_string_equal(st->causes[0].reason, "FieldValueInvalid");
    assert_string_equal(st->details_kind, "ConfigMap");
    /* A proxy's HTML page: mapped by code, never quoted. */
    assert_int_equal(get_cm(c, "html502", NULL), DTK_EUNAVAIL);
    assert_string_equal(dtk_error_last()->message,
                        "GET /api/v1/namespaces/default/configmaps/html502: "
                        "HTTP 502 with no Status in the answer");
    assert_null(dtk_kube_client_status(c)->reason);
    /* Success clears the last status. */
    assert_int_equal(get_cm(c, "fine", NULL), 0);
    assert_int_equal(dtk_kube_client_status(c)->http_code, 200);
    assert_int_equal(dtk_kube_client_status(c)->error, 0);
    dtk_kube_client_free(c);
    dtk_kube_config_free(cfg);
}

static void odd_answers(fixture *f, dtk_httpserver_exchange *ex, int hit)
{
    const char *path = dtk_httpserver_path(ex);

    (void)f;
    (void)hit;
    if (strstr(path, "/notjson") != NULL) {
        dtk_httpserver_respond(ex, 200, "text/plain", "hello", 5);
    } else if (strstr(path, "/nokind") != NULL) {
        dtk_kstub_json(ex, 200, "{\"a\":1}");
    } else if (strstr(path, "/status") != NULL) {
        dtk_kstub_json(ex, 200,
                       "{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                       "\"status\":\"Success\",\"code\":200}");
    } else {
        dtk_kstub_json(ex, 200, "{\"kind\":\"ConfigMapList\",\"metadata\":{}}");
    }
}

static void test_kube_client__unexpected_answers_are_clear_errors(void **state)
{
    fixture *f = *state;
    dtk_kube_config *cfg = url_config(f, NULL);
    dtk_kube_client *c = NULL;
    dtk_json *out = NULL;

    f->scenario = odd_answers;
    assert_int_equal(dtk_kube_client_new(&c, cfg), 0);
    assert_int_equal(get_cm(c, "notjson", NULL), DTK_ERROR);
    assert_string_equal(dtk_error_last()->message,
                        "GET /api/v1/namespaces/default/configmaps/notjson: "
                        "answer is not JSON");
    assert_int_equal(get_cm(c, "nokind", NULL), DTK_ERROR);
    assert_string_equal(dtk_error_last()->message,
                        "GET /api/v1/namespaces/default/configmaps/nokind: "
                        "answer has no kind");
    assert_int_equal(dtk_kube_get(&out, c, &dtk_kube_gvr_configmaps, "default",
                                  "x", "status"),
                     DTK_ERROR);
    assert_string_equal(dtk_error_last()->message,
                        "GET /api/v1/namespaces/default/configmaps/x/status: "
                        "answer is a Status, not the expected object");
    assert_int_equal(
        dtk_kube_list_page(&out, c, &dtk_kube_gvr_configmaps, "default", NULL),
        DTK_ERROR);
    assert_string_equal(dtk_error_last()->message,
                        "GET /api/v1/namespaces/default/configmaps: answer "
                        "is not a List");
    assert_null(out);
    dtk_kube_client_free(c);
    dtk_kube_config_free(cfg);
}

/* ---- Retries ------------------------------------------------------------ */

typedef struct hook_log {
    pthread_mutex_t lock;
    int calls;
    char codes[128];
    char method[16];
    char host[64];
    double total_s;
} hook_log;

static void on_request(const char *method,
                       const char *host,
                       int code,
                       double duration_s,
                       void *payload)
{
    hook_log *h = payload;
    size_t n;

    pthread_mutex_lock(&h->lock);
    h->calls++;
    n = strlen(h->codes);
    snprintf(h->codes + n, sizeof(h->codes) - n, "%s%d", n ? "," : "", code);
    snprintf(h->method, sizeof(h->method), "%s", method);
    snprintf(h->host, sizeof(h->host), "%s", host);
    h->total_s += duration_s;
    pthread_mutex_unlock(&h->lock);
}

static void throttled_once(fixture *f, dtk_httpserver_exchange *ex, int hit)
{
    (void)f;
    if (hit == 0) {
        dtk_httpserver_add_header(ex, "Retry-After", "1");
        dtk_kstub_status(ex, 429, "TooManyRequests",
                         "the server has received too many requests");
        return;
    }
    dtk_kstub_configmap(ex, "cm");
}

static void test_kube_client__429_with_retry_after_is_retried(void **state)
{
    fixture *f = *state;
    hook_log h = {PTHREAD_MUTEX_INITIALIZER, 0, "", "", "", 0};
    dtk_kube_config_options o = fast_options();
    dtk_kube_config *cfg;
    dtk_kube_client *c = NULL;
    char host[64];
    int64_t start;

    o.on_request = on_request;
    o.on_request_payload = &h;
    cfg = url_config(f, &o);
    f->scenario = throttled_once;
    assert_int_equal(dtk_kube_client_new(&c, cfg), 0);
    start = dtk_clock_now_ms();
    assert_int_equal(get_cm(c, "cm", NULL), 0);
    /* Retry-After: 1 was honoured (the backoff alone is 10 ms). */
    assert_true(dtk_clock_now_ms() - start >= 950);
    assert_int_equal(dtk_kstub_hits(f->stub), 2);
    assert_int_equal(h.calls, 2);
    assert_string_equal(h.codes, "429,200");
    assert_string_equal(h.method, "GET");
    snprintf(host, sizeof(host), "127.0.0.1:%d", f->stub->port);
    assert_string_equal(h.host, host);
    dtk_kube_client_free(c);
    dtk_kube_config_free(cfg);
}

static void burst_of_500(fixture *f, dtk_httpserver_exchange *ex, int hit)
{
    (void)f;
    if (hit < 3) {
        dtk_kstub_status(ex, 500, "InternalError",
                         "Internal error occurred: etcdserver: leader "
                         "changed");
        return;
    }
    if (strcmp(dtk_httpserver_method(ex), "POST") == 0) {
        dtk_kstub_json(ex, 201,
                       "{\"kind\":\"ConfigMap\",\"apiVersion\":"
                       "\"v1\",\"metadata\":{\"name\":\"new\"}}");
        return;
    }
    dtk_kstub_configmap(ex, "cm");
}

static void test_kube_client__5xx_burst_is_retried_for_idempotent_requests(
    void **state)
{
    fixture *f = *state;
    dtk_kube_config *cfg = url_config(f, NULL);
    dtk_kube_client *c = NULL;
    dtk_json *obj = dtk_json_new_object();

    f->scenario = burst_of_500;
    assert_int_equal(dtk_kube_client_new(&c, cfg), 0);
    assert_int_equal(get_cm(c, "cm", NULL), 0);
    assert_int_equal(dtk_kstub_hits(f->stub), 4);
    dtk_kube_client_free(c);
    dtk_kube_config_free(cfg);

    /* Five attempts by default: five 500s in a row are returned. */
    dtk_kstub_stop(f->stub);
    assert_int_equal(dtk_kstub_start(&f->stub, NULL, NULL, dispatch, f), 0);
    f->scenario = status_scenario;
    cfg = url_config(f, NULL);
    assert_int_equal(dtk_kube_client_new(&c, cfg), 0);
    assert_int_equal(get_cm(c, "s503", NULL), DTK_EUNAVAIL);
    assert_int_equal(dtk_kstub_hits(f->stub), 5);

    /* A POST after a 500 without Retry-After is not repeated: it may have
     * been carried out. */
    dtk_kstub_stop(f->stub);
    assert_int_equal(dtk_kstub_start(&f->stub, NULL, NULL, dispatch, f), 0);
    f->scenario = burst_of_500;
    dtk_kube_client_free(c);
    dtk_kube_config_free(cfg);
    cfg = url_config(f, NULL);
    assert_int_equal(dtk_kube_client_new(&c, cfg), 0);
    dtk_json_set(obj, "kind", dtk_json_new_string("ConfigMap"));
    assert_int_equal(dtk_kube_create(NULL, c, &dtk_kube_gvr_configmaps,
                                     "default", obj, NULL),
                     DTK_EUNAVAIL);
    assert_int_equal(dtk_kstub_hits(f->stub), 1);
    dtk_json_free(obj);
    dtk_kube_client_free(c);
    dtk_kube_config_free(cfg);
}

/* A call with max_attempts 1 is sent once however the server answers: the
 * caller (leader election, the event recorder) runs its own retry loop
 * against its own deadline. */
static void test_kube_client__call_max_attempts_overrides_the_config(
    void **state)
{
    fixture *f = *state;
    dtk_kube_config *cfg = url_config(f, NULL);
    dtk_kube_client *c = NULL;
    dtk_kube_call call = DTK_KUBE_CALL_INIT;

    f->scenario = burst_of_500;
    assert_int_equal(dtk_kube_client_new(&c, cfg), 0);
    call.method = "GET";
    call.path = "/api/v1/namespaces/default/configmaps/cm";
    call.max_attempts = 1;
    assert_int_equal(dtk_kube_do(NULL, c, &call), DTK_EUNAVAIL);
    assert_non_null(strstr(dtk_error_last()->message,
                           "GET /api/v1/namespaces/default/configmaps/cm"));
    assert_int_equal(dtk_kstub_hits(f->stub), 1);

    /* 0 keeps the configuration's retries: the burst is ridden out. */
    call.max_attempts = 0;
    assert_int_equal(dtk_kube_do(NULL, c, &call), 0);
    assert_int_equal(dtk_kstub_hits(f->stub), 4);
    dtk_kube_client_free(c);
    dtk_kube_config_free(cfg);
}

static void unavailable_then_created(fixture *f, dtk_httpserver_exchange *ex,
                                     int hit)
{
    (void)f;
    if (hit == 0) {
        dtk_httpserver_add_header(ex, "Retry-After", "0");
        dtk_kstub_status(ex, 503, "ServiceUnavailable", "try again");
        return;
    }
    dtk_kstub_json(ex, 201,
                   "{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\","
                   "\"metadata\":{\"name\":\"new\"}}");
}

static void long_retry_after(fixture *f, dtk_httpserver_exchange *ex, int hit)
{
    (void)f;
    (void)hit;
    dtk_httpserver_add_header(ex, "Retry-After", "120");
    dtk_kstub_status(ex, 429, "TooManyRequests", "slow down");
}

static void test_kube_client__post_is_retried_only_when_the_server_says_so(
    void **state)
{
    fixture *f = *state;
    dtk_kube_config *cfg = url_config(f, NULL);
    dtk_kube_client *c = NULL;
    dtk_json *obj = dtk_json_new_object();
    dtk_json *created = NULL;
    int64_t start;

    f->scenario = unavailable_then_created;
    assert_int_equal(dtk_kube_client_new(&c, cfg), 0);
    dtk_json_set(obj, "kind", dtk_json_new_string("ConfigMap"));
    assert_int_equal(dtk_kube_create(&created, c, &dtk_kube_gvr_configmaps,
                                     "default", obj, NULL),
                     0);
    assert_int_equal(dtk_kstub_hits(f->stub), 2);
    assert_string_equal(dtk_json_get_string(created, "kind"), "ConfigMap");
    dtk_json_free(created);

    /* A Retry-After longer than we wait: the error comes back at once,
     * with the delay for the caller's requeue. */
    f->scenario = long_retry_after;
    start = dtk_clock_now_ms();
    assert_int_equal(get_cm(c, "cm", NULL), DTK_EUNAVAIL);
    assert_true(dtk_clock_now_ms() - start < 20000);
    assert_int_equal(dtk_kstub_hits(f->stub), 3);
    assert_int_equal(dtk_kube_client_status(c)->retry_after_s, 120);
    assert_int_equal(dtk_kube_client_status(c)->code, 429);
    dtk_json_free(obj);
    dtk_kube_client_free(c);
    dtk_kube_config_free(cfg);
}

static void slow_answer(fixture *f, dtk_httpserver_exchange *ex, int hit)
{
    (void)f;
    (void)hit;
    dtk_clock_sleep_ms(1000);
    dtk_kstub_configmap(ex, "late");
}

static void test_kube_client__slow_response_hits_the_timeout(void **state)
{
    fixture *f = *state;
    dtk_kube_config_options o = fast_options();
    dtk_kube_config *cfg;
    dtk_kube_client *c = NULL;

    o.timeout_ms = 250;
    cfg = url_config(f, &o);
    f->scenario = slow_answer;
    assert_int_equal(dtk_kube_client_new(&c, cfg), 0);
    assert_int_equal(get_cm(c, "late", NULL), DTK_ETIMEOUT);
    assert_non_null(strstr(dtk_error_last()->message,
                           "/api/v1/namespaces/default/configmaps/late: "
                           "timed out"));
    /* A timeout is not retried: the deadline is spent. */
    assert_int_equal(dtk_kstub_hits(f->stub), 1);
    assert_int_equal(dtk_kube_client_status(c)->error, DTK_ETIMEOUT);
    dtk_kube_client_free(c);
    dtk_kube_config_free(cfg);
}

typedef struct canceller {
    volatile int *flag;
    long after_ms;
} canceller;

static void *cancel_later(void *arg)
{
    canceller *k = arg;

    dtk_clock_sleep_ms(k->after_ms);
    *k->flag = 1;
    return NULL;
}

static void slower_answer(fixture *f, dtk_httpserver_exchange *ex, int hit)
{
    (void)f;
    (void)hit;
    dtk_clock_sleep_ms(4000);
    dtk_kstub_configmap(ex, "late");
}

static void retry_after_five(fixture *f, dtk_httpserver_exchange *ex,
                             int hit)
{
    (void)f;
    (void)hit;
    dtk_httpserver_add_header(ex, "Retry-After", "5");
    dtk_kstub_status(ex, 429, "TooManyRequests", "slow down");
}

static void test_kube_client__cancel_flag_ends_requests_and_retry_waits(
    void **state)
{
    fixture *f = *state;
    dtk_kube_config *cfg = url_config(f, NULL);
    dtk_kube_client *c = NULL;
    volatile int flag = 0;
    canceller k = {&flag, 200};
    pthread_t t;
    int64_t start;

    assert_int_equal(dtk_kube_client_new(&c, cfg), 0);
    dtk_kube_client_set_cancel(c, &flag);
    /* Not set: requests run as usual. */
    assert_int_equal(get_cm(c, "cm", NULL), 0);

    /* A request in flight ends soon after the flag is set, long before
     * the 4 s answer and the 30 s timeout. */
    f->scenario = slower_answer;
    start = dtk_clock_now_ms();
    assert_int_equal(pthread_create(&t, NULL, cancel_later, &k), 0);
    assert_int_equal(get_cm(c, "late", NULL), DTK_ESHUTDOWN);
    assert_true(dtk_clock_now_ms() - start < 3000);
    assert_string_equal(dtk_error_last()->message,
                        "GET /api/v1/namespaces/default/configmaps/late: "
                        "request cancelled");
    assert_int_equal(dtk_kube_client_status(c)->error, DTK_ESHUTDOWN);
    pthread_join(t, NULL);

    /* A wait for Retry-After ends at once; no further attempt is made. */
    flag = 0;
    f->scenario = retry_after_five;
    start = dtk_clock_now_ms();
    assert_int_equal(pthread_create(&t, NULL, cancel_later, &k), 0);
    assert_int_equal(get_cm(c, "cm", NULL), DTK_ESHUTDOWN);
    assert_true(dtk_clock_now_ms() - start < 3000);
    pthread_join(t, NULL);

    /* Once set, nothing is sent at all. */
    start = dtk_kstub_hits(f->stub);
    assert_int_equal(get_cm(c, "cm", NULL), DTK_ESHUTDOWN);
    assert_int_equal(dtk_kstub_hits(f->stub), start);
    dtk_kube_client_free(c);
    dtk_kube_config_free(cfg);
}

static void test_kube_client__unreachable_server_is_unavailable(void **state)
{
    hook_log h = {PTHREAD_MUTEX_INITIALIZER, 0, "", "", "", 0};
    dtk_kube_config_options o = fast_options();
    dtk_kube_config *cfg = NULL;
    dtk_kube_client *c = NULL;

    (void)state;
    o.max_attempts = 3;
    o.on_request = on_request;
    o.on_request_payload = &h;
    assert_int_equal(
        dtk_kube_config_for_url(&cfg, "http://127.0.0.1:1", NULL, &o), 0);
    assert_int_equal(dtk_kube_client_new(&c, cfg), 0);
    assert_int_equal(get_cm(c, "cm", NULL), DTK_EUNAVAIL);
    /* Retried (a GET is safe), and every attempt reported with code 0. */
    assert_string_equal(h.codes, "0,0,0");
    dtk_kube_client_free(c);
    dtk_kube_config_free(cfg);
}

static void test_kube_client__qps_limit_spaces_requests(void **state)
{
    fixture *f = *state;
    dtk_kube_config_options o = fast_options();
    dtk_kube_config *cfg;
    dtk_kube_client *c = NULL;
    int64_t start;

    o.qps = 10;
    o.burst = 1;
    cfg = url_config(f, &o);
    assert_int_equal(dtk_kube_client_new(&c, cfg), 0);
    start = dtk_clock_now_ms();
    for (int i = 0; i < 4; i++) {
        assert_int_equal(get_cm(c, "cm", NULL), 0);
    }
    /* One token at once, then one every 100 ms. */
    assert_true(dtk_clock_now_ms() - start >= 280);
    dtk_kube_client_free(c);
    dtk_kube_config_free(cfg);
}

/* ---- Paging ------------------------------------------------------------- */

static void pages(fixture *f, dtk_httpserver_exchange *ex, int hit)
{
    const char *cont = dtk_httpserver_query(ex, "continue");
    const char *limit = dtk_httpserver_query(ex, "limit");

    (void)f;
    (void)hit;
    if (limit == NULL) {
        /* The unpaged fallback. */
        dtk_kstub_json(
            ex, 200,
            "{\"kind\":\"ConfigMapList\",\"apiVersion\":\"v1\",\"metadata\":"
            "{\"resourceVersion\":\"90\"},\"items\":[{\"metadata\":{\"name\":"
            "\"a\"}},{\"metadata\":{\"name\":\"b\"}},{\"metadata\":{\"name\":"
            "\"c\"}},{\"metadata\":{\"name\":\"d\"}},{\"metadata\":{\"name\":"
            "\"e\"}}]}");
    } else if (cont == NULL) {
        dtk_kstub_json(
            ex, 200,
            "{\"kind\":\"ConfigMapList\",\"apiVersion\":\"v1\",\"metadata\":"
            "{\"resourceVersion\":\"77\",\"continue\":\"t1\"},\"items\":["
            "{\"metadata\":{\"name\":\"a\"}},{\"metadata\":{\"name\":\"b\"}}]}");
    } else if (strcmp(cont, "t1") == 0) {
        dtk_kstub_json(
            ex, 200,
            "{\"kind\":\"ConfigMapList\",\"apiVersion\":\"v1\",\"metadata\":"
            "{\"resourceVersion\":\"77\",\"continue\":\"t2\"},\"items\":["
            "{\"metadata\":{\"name\":\"c\"}},{\"metadata\":{\"name\":\"d\"}}]}");
    } else if (strcmp(cont, "t2") == 0) {
        dtk_kstub_json(
            ex, 200,
            "{\"kind\":\"ConfigMapList\",\"apiVersion\":\"v1\",\"metadata\":"
            "{\"resourceVersion\":\"77\"},\"items\":[{\"metadata\":{\"name\":"
            "\"e\"}}]}");
    } else {
        dtk_kstub_status(ex, 410, "Expired",
                         "The provided continue parameter is too old to "
                         "display a consistent list result.");
    }
}

static char *item_names(const dtk_json *items)
{
    static const char *const name_path[] = {"metadata", "name", NULL};
    dtk_buf b = DTK_BUF_INIT(0);

    for (size_t i = 0; i < dtk_json_len(items); i++) {
        dtk_buf_puts(&b, dtk_json_string(
                             dtk_json_path(dtk_json_at(items, i), name_path)));
    }
    return dtk_buf_detach(&b);
}

static void test_kube_client__list_follows_continue_across_pages(void **state)
{
    fixture *f = *state;
    dtk_kube_config *cfg = url_config(f, NULL);
    dtk_kube_client *c = NULL;
    dtk_kube_list_options lo = DTK_KUBE_LIST_OPTIONS_INIT;
    dtk_json *items = NULL;
    char *rv = NULL;
    char *names;

    f->scenario = pages;
    lo.limit = 2;
    lo.label_selector = "app=web,tier in (a,b)";
    lo.resource_version = "0";
    assert_int_equal(dtk_kube_client_new(&c, cfg), 0);
    assert_int_equal(
        dtk_kube_list(&items, &rv, c, &dtk_kube_gvr_configmaps, "default", &lo),
        0);
    names = item_names(items);
    assert_string_equal(names, "abcde");
    assert_string_equal(rv, "77");
    /* The selector goes on every page; resourceVersion only on the
     * first (the server refuses it together with continue). */
    assert_string_equal(
        dtk_buf_cstr(&f->stub->request_log),
        "GET /api/v1/namespaces/default/configmaps?resourceVersion=0&"
        "labelSelector=app=web,tier in (a,b)&limit=2\n"
        "GET /api/v1/namespaces/default/configmaps?labelSelector=app=web,"
        "tier in (a,b)&limit=2&continue=t1\n"
        "GET /api/v1/namespaces/default/configmaps?labelSelector=app=web,"
        "tier in (a,b)&limit=2&continue=t2\n");
    dtk_free(names);
    dtk_free(rv);
    dtk_json_free(items);
    dtk_kube_client_free(c);
    dtk_kube_config_free(cfg);
}

static void pages_expiring(fixture *f, dtk_httpserver_exchange *ex, int hit)
{
    const char *cont = dtk_httpserver_query(ex, "continue");

    if (cont != NULL && strcmp(cont, "t1") == 0) {
        dtk_kstub_status(ex, 410, "Expired",
                         "The provided continue parameter is too old to "
                         "display a consistent list result.");
        return;
    }
    pages(f, ex, hit);
}

static void test_kube_client__expired_continue_falls_back_to_a_full_list(
    void **state)
{
    fixture *f = *state;
    dtk_kube_config *cfg = url_config(f, NULL);
    dtk_kube_client *c = NULL;
    dtk_kube_list_options lo = DTK_KUBE_LIST_OPTIONS_INIT;
    dtk_json *items = NULL;
    dtk_json *page = NULL;
    char *rv = NULL;
    char *names;

    f->scenario = pages_expiring;
    lo.limit = 2;
    assert_int_equal(dtk_kube_client_new(&c, cfg), 0);
    assert_int_equal(
        dtk_kube_list(&items, &rv, c, &dtk_kube_gvr_configmaps, NULL, &lo), 0);
    names = item_names(items);
    assert_string_equal(names, "abcde");
    assert_string_equal(rv, "90");
    assert_string_equal(dtk_buf_cstr(&f->stub->request_log),
                        "GET /api/v1/configmaps?limit=2\n"
                        "GET /api/v1/configmaps?limit=2&continue=t1\n"
                        "GET /api/v1/configmaps\n");
    /* One page on its own reports the expiry. */
    lo.continue_token = "t1";
    assert_int_equal(
        dtk_kube_list_page(&page, c, &dtk_kube_gvr_configmaps, NULL, &lo),
        DTK_EGONE);
    assert_string_equal(dtk_kube_client_status(c)->reason, "Expired");
    dtk_free(names);
    dtk_free(rv);
    dtk_json_free(items);
    dtk_kube_client_free(c);
    dtk_kube_config_free(cfg);
}

/* ---- Writes ------------------------------------------------------------- */

static void echo_write(fixture *f, dtk_httpserver_exchange *ex, int hit)
{
    size_t len;
    const char *body = dtk_httpserver_body(ex, &len);

    (void)f;
    (void)hit;
    if (strcmp(dtk_httpserver_method(ex), "DELETE") == 0) {
        dtk_kstub_json(ex, 200,
                       "{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                       "\"metadata\":{},\"status\":\"Success\","
                       "\"details\":{\"name\":\"cm\"}}");
        return;
    }
    if (len > 0 && body[0] == '{' &&
        strcmp(dtk_httpserver_method(ex), "POST") == 0) {
        dtk_httpserver_respond(ex, 201, "application/json", body, len);
        return;
    }
    dtk_kstub_configmap(ex, "cm");
}

static void test_kube_client__write_verbs_send_kubernetes_requests(void **state)
{
    fixture *f = *state;
    dtk_kube_config *cfg = url_config(f, NULL);
    dtk_kube_client *c = NULL;
    dtk_kube_write_options wo = DTK_KUBE_WRITE_OPTIONS_INIT;
    dtk_kube_delete_options dopt = DTK_KUBE_DELETE_OPTIONS_INIT;
    const dtk_kube_gvr targets =
        DTK_KUBE_GVR_INIT("dtk.io", "v1alpha1", "targets", 1);
    dtk_json *obj = NULL;
    dtk_json *out = NULL;
    dtk_json *ops = NULL;

    f->scenario = echo_write;
    assert_int_equal(dtk_kube_client_new(&c, cfg), 0);
    obj = parse("{\"apiVersion\":\"dtk.io/v1alpha1\",\"kind\":\"Target\","
                "\"metadata\":{\"name\":\"t\"},\"spec\":{}}");

    wo.field_manager = "dtk-operator";
    assert_int_equal(dtk_kube_create(&out, c, &targets, "ns", obj, &wo), 0);
    assert_string_equal(f->stub->method, "POST");
    assert_string_equal(f->stub->path, "/apis/dtk.io/v1alpha1/namespaces/ns/"
                                       "targets");
    assert_string_equal(f->stub->query, "fieldManager=dtk-operator");
    assert_string_equal(f->stub->content_type, "application/json");
    assert_string_equal(dtk_buf_cstr(&f->stub->body),
                        "{\"apiVersion\":\"dtk.io/v1alpha1\",\"kind\":"
                        "\"Target\",\"metadata\":{\"name\":\"t\"},\"spec\":"
                        "{}}");
    assert_string_equal(dtk_json_get_string(out, "kind"), "Target");
    dtk_json_free(out);
    out = NULL;

    assert_int_equal(
        dtk_kube_update(&out, c, &targets, "ns", "t", "status", obj, NULL), 0);
    assert_string_equal(f->stub->method, "PUT");
    assert_string_equal(f->stub->path,
                        "/apis/dtk.io/v1alpha1/namespaces/ns/targets/t/status");
    dtk_json_free(out);
    out = NULL;

    assert_int_equal(dtk_kube_patch(NULL, c, &targets, "ns", "t", NULL,
                                    DTK_KUBE_PATCH_MERGE, obj, NULL),
                     0);
    assert_string_equal(f->stub->method, "PATCH");
    assert_string_equal(f->stub->content_type, "application/merge-patch+json");

    ops = parse("[{\"op\":\"test\",\"path\":\"/metadata/resourceVersion\","
                "\"value\":\"5\"}]");
    assert_int_equal(dtk_kube_patch(NULL, c, &targets, "ns", "t", NULL,
                                    DTK_KUBE_PATCH_JSON, ops, NULL),
                     0);
    assert_string_equal(f->stub->content_type, "application/json-patch+json");
    assert_string_equal(dtk_buf_cstr(&f->stub->body),
                        "[{\"op\":\"test\",\"path\":\"/metadata/"
                        "resourceVersion\",\"value\":\"5\"}]");

    wo.force = 1;
    assert_int_equal(dtk_kube_patch(NULL, c, &targets, "ns", "t", NULL,
                                    DTK_KUBE_PATCH_APPLY, obj, &wo),
                     0);
    assert_string_equal(f->stub->content_type, "application/apply-patch+yaml");
    assert_string_equal(f->stub->query, "fieldManager=dtk-operator&force=true");

    /* Refused before any request. */
    assert_int_equal(dtk_kstub_hits(f->stub), 5);
    assert_int_equal(dtk_kube_patch(NULL, c, &targets, "ns", "t", NULL,
                                    DTK_KUBE_PATCH_APPLY, obj, NULL),
                     DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "apply patch: a field manager is required");
    assert_int_equal(dtk_kube_patch(NULL, c, &targets, "ns", "t", NULL,
                                    DTK_KUBE_PATCH_JSON, obj, NULL),
                     DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "patch: expected an array for "
                        "application/json-patch+json");
    assert_int_equal(dtk_kube_create(NULL, c, &targets, NULL, obj, NULL),
                     DTK_EINVALID);
    assert_int_equal(dtk_kstub_hits(f->stub), 5);

    dopt.precondition_uid = "u-1";
    dopt.precondition_resource_version = "5";
    dopt.propagation_policy = "Foreground";
    assert_int_equal(dtk_kube_delete(&out, c, &targets, "ns", "t", &dopt), 0);
    assert_string_equal(f->stub->method, "DELETE");
    assert_string_equal(dtk_buf_cstr(&f->stub->body),
                        "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\","
                        "\"preconditions\":{\"uid\":\"u-1\","
                        "\"resourceVersion\":\"5\"},\"propagationPolicy\":"
                        "\"Foreground\"}");
    assert_string_equal(dtk_json_get_string(out, "status"), "Success");
    dtk_json_free(out);
    dtk_json_free(ops);
    dtk_json_free(obj);
    dtk_kube_client_free(c);
    dtk_kube_config_free(cfg);
}

/* ---- Watch -------------------------------------------------------------- */

typedef struct stream {
    const char *const *pieces;
    size_t next;
} stream;

static ssize_t stream_read(void *payload, char *buf, size_t max)
{
    stream *s = payload;
    size_t len;

    if (s->pieces[s->next] == NULL) {
        return -1;
    }
    /* A pause between pieces, so that they travel as separate chunks. */
    if (s->next > 0) {
        dtk_clock_sleep_ms(30);
    }
    len = strlen(s->pieces[s->next]);
    dtk_assert(len <= max);
    memcpy(buf, s->pieces[s->next], len);
    s->next++;
    return (ssize_t)len;
}

static void stream_free(void *payload)
{
    dtk_free(payload);
}

static void watch_scenario(fixture *f, dtk_httpserver_exchange *ex, int hit)
{
    stream *s = dtk_calloc(1, sizeof(*s));

    (void)hit;
    s->pieces = f->pieces;
    dtk_httpserver_respond_stream(ex, 200, "application/json", stream_read, s,
                                  stream_free);
}

#define EV(type, name, rv)                                                     \
    "{\"type\":\"" type "\",\"object\":{\"kind\":\"ConfigMap\",\"apiVersion\"" \
    ":\"v1\",\"metadata\":{\"name\":\"" name "\",\"resourceVersion\":\"" rv    \
    "\"}}}\n"

/* Event boundaries fall mid-JSON, and one chunk carries several events. */
static const char *const split_pieces[] = {
    "{\"type\":\"ADDED\",\"object\":{\"kind\":\"ConfigMap\",\"apiVersion\":"
    "\"v1\",\"metadata\":{\"na",
    "me\":\"a\",\"resourceVersion\":\"6\"}}}\n" EV("MODIFIED", "a", "7")
        EV("BOOKMARK", "", "8") "{\"type\":\"DELETED\",\"obj",
    "ect\":{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{"
    "\"name\":\"a\",\"resourceVersion\":\"9\"}}}",
    "\n",
    NULL,
};

typedef struct events {
    dtk_buf log;
    int stop_after;
    int count;
} events;

static int on_event(dtk_kube_event *ev, void *payload)
{
    static const char *const rv_path[] = {"metadata", "resourceVersion", NULL};
    events *e = payload;

    e->count++;
    dtk_buf_printf(&e->log, "%d@%s ", (int)ev->type,
                   dtk_json_string(dtk_json_path(ev->object, rv_path)));
    if (e->stop_after > 0 && e->count >= e->stop_after) {
        return 1;
    }
    return 0;
}

static void test_kube_client__watch_frames_events_split_across_chunks(
    void **state)
{
    fixture *f = *state;
    dtk_kube_config *cfg = url_config(f, NULL);
    dtk_kube_client *c = NULL;
    dtk_kube_watch_options wo = DTK_KUBE_WATCH_OPTIONS_INIT;
    events e = {DTK_BUF_INIT(0), 0, 0};

    f->scenario = watch_scenario;
    f->pieces = split_pieces;
    wo.resource_version = "5";
    wo.allow_bookmarks = 1;
    wo.timeout_seconds = 60;
    assert_int_equal(dtk_kube_client_new(&c, cfg), 0);
    assert_int_equal(dtk_kube_watch(c, &dtk_kube_gvr_configmaps, "default", &wo,
                                    on_event, &e),
                     0);
    assert_string_equal(dtk_buf_cstr(&e.log), "1@6 2@7 4@8 3@9 ");
    assert_string_equal(f->stub->query,
                        "watch=1&resourceVersion=5&timeoutSeconds=60&"
                        "allowWatchBookmarks=true");

    /* The callback can end the watch early. */
    dtk_buf_reset(&e.log);
    e.count = 0;
    e.stop_after = 2;
    assert_int_equal(dtk_kube_watch(c, &dtk_kube_gvr_configmaps, "default", &wo,
                                    on_event, &e),
                     0);
    assert_string_equal(dtk_buf_cstr(&e.log), "1@6 2@7 ");
    dtk_buf_dispose(&e.log);
    dtk_kube_client_free(c);
    dtk_kube_config_free(cfg);
}

static const char *const expired_pieces[] = {
    EV("ADDED", "a", "6"),
    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":"
    "\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old "
    "resource version: 5 (1200)\",\"reason\":\"Expired\",\"code\":410}}\n",
    NULL,
};

static const char *const oversized_pieces[] = {
    EV("ADDED", "a", "6"),
    "{\"type\":\"ADDED\",\"object\":{\"kind\":\"ConfigMap\",\"data\":{\"x\":"
    "\"0123456789012345678901234567890123456789012345678901234567890123456789"
    "0123456789012345678901234567890123456789012345678901234567890123456789"
    "0123456789012345678901234567890123456789012345678901234567890123456789"
    "\"}}}\n",
    NULL,
};

static void gone_on_connect(fixture *f, dtk_httpserver_exchange *ex, int hit)
{
    (void)f;
    (void)hit;
    dtk_kstub_status(ex, 410, "Expired", "too old resource version: 1 (9)");
}

static void test_kube_client__watch_error_410_is_gone(void **state)
{
    fixture *f = *state;
    dtk_kube_config *cfg = url_config(f, NULL);
    dtk_kube_client *c = NULL;
    dtk_kube_watch_options wo = DTK_KUBE_WATCH_OPTIONS_INIT;
    events e = {DTK_BUF_INIT(0), 0, 0};
    const dtk_kube_status *st;

    f->scenario = watch_scenario;
    f->pieces = expired_pieces;
    wo.resource_version = "5";
    assert_int_equal(dtk_kube_client_new(&c, cfg), 0);
    assert_int_equal(
        dtk_kube_watch(c, &dtk_kube_gvr_configmaps, NULL, &wo, on_event, &e),
        DTK_EGONE);
    assert_string_equal(dtk_buf_cstr(&e.log), "1@6 ");
    assert_string_equal(dtk_error_last()->message,
                        "GET /api/v1/configmaps: watch: too old resource "
                        "version: 5 (1200) (410 Expired)");
    st = dtk_kube_client_status(c);
    assert_int_equal(st->code, 410);
    assert_string_equal(st->reason, "Expired");
    assert_int_equal(st->error, DTK_EGONE);

    /* Also when the server refuses the watch with an HTTP 410. */
    f->scenario = gone_on_connect;
    assert_int_equal(
        dtk_kube_watch(c, &dtk_kube_gvr_configmaps, NULL, &wo, on_event, &e),
        DTK_EGONE);

    /* An event over the bound ends the watch. */
    f->scenario = watch_scenario;
    f->pieces = oversized_pieces;
    wo.max_event_size = 200;
    dtk_buf_reset(&e.log);
    assert_int_equal(
        dtk_kube_watch(c, &dtk_kube_gvr_configmaps, NULL, &wo, on_event, &e),
        DTK_ETOOBIG);
    assert_string_equal(dtk_error_last()->message,
                        "GET /api/v1/configmaps: watch: event exceeds 200 "
                        "bytes");
    assert_string_equal(dtk_buf_cstr(&e.log), "1@6 ");
    dtk_buf_dispose(&e.log);
    dtk_kube_client_free(c);
    dtk_kube_config_free(cfg);
}

/* ---- Bearer token file rotation ------------------------------------------ */

static void token_scenario(fixture *f, dtk_httpserver_exchange *ex, int hit)
{
    const char *auth = dtk_httpserver_header(ex, "Authorization");
    char want[96];
    int ok;

    (void)hit;
    pthread_mutex_lock(&f->lock);
    snprintf(want, sizeof(want), "Bearer %s", f->expected_token);
    ok = f->expected_token[0] == '\0' ||
         (auth != NULL && strcmp(auth, want) == 0);
    pthread_mutex_unlock(&f->lock);
    if (!ok) {
        dtk_kstub_status(ex, 401, "Unauthorized", "Unauthorized");
        return;
    }
    dtk_kstub_configmap(ex, "cm");
}

static const char token_file_kc[] =
    "current-context: x\n"
    "clusters: [{name: c, cluster: {server: \"@SERVER@\"}}]\n"
    "users: [{name: u, user: {tokenFile: \"@DIR@/token\"}}]\n"
    "contexts: [{name: x, context: {cluster: c, user: u}}]\n";

static void test_kube_client__token_file_is_reread_on_401(void **state)
{
    fixture *f = *state;
    dtk_kube_config_options o = fast_options();
    dtk_kube_config *cfg = NULL;
    dtk_kube_client *c = NULL;
    char *p;

    f->scenario = token_scenario;
    o.token_reload_ms = 3600L * 1000; /* only a 401 makes it re-read */
    p = dtk_kstub_write(f->dir, "token", "one\n");
    dtk_free(p);
    assert_int_equal(load_kc(&cfg, f, token_file_kc, &o), 0);
    assert_int_equal(dtk_kube_client_new(&c, cfg), 0);
    set_expected(f, "one");
    assert_int_equal(get_cm(c, "cm", NULL), 0);
    p = dtk_kstub_write(f->dir, "token", "two\n");
    dtk_free(p);
    /* Within the period the cached token is still used. */
    assert_int_equal(get_cm(c, "cm", NULL), 0);
    /* The server now wants the new token: a 401, a re-read, a retry. */
    set_expected(f, "two");
    assert_int_equal(get_cm(c, "cm", NULL), 0);
    assert_string_equal(dtk_buf_cstr(&f->stub->auth_log),
                        "Bearer one|Bearer one|Bearer one|Bearer two");

    /* A token the server keeps refusing: one re-read, then the 401. */
    set_expected(f, "three");
    assert_int_equal(get_cm(c, "cm", NULL), DTK_EAUTH);
    assert_string_equal(dtk_error_last()->message,
                        "GET /api/v1/namespaces/default/configmaps/cm: "
                        "Unauthorized (401 Unauthorized)");
    assert_int_equal(dtk_kstub_hits(f->stub), 6);
    dtk_kube_client_free(c);
    dtk_kube_config_free(cfg);
}

static void test_kube_client__token_file_is_reread_after_the_period(
    void **state)
{
    fixture *f = *state;
    dtk_kube_config_options o = fast_options();
    dtk_kube_config *cfg = NULL;
    dtk_kube_client *c = NULL;
    char *p;

    o.token_reload_ms = 100;
    p = dtk_kstub_write(f->dir, "token", "one");
    dtk_free(p);
    assert_int_equal(load_kc(&cfg, f, token_file_kc, &o), 0);
    assert_int_equal(dtk_kube_client_new(&c, cfg), 0);
    assert_int_equal(get_cm(c, "cm", NULL), 0);
    p = dtk_kstub_write(f->dir, "token", "two");
    dtk_free(p);
    dtk_clock_sleep_ms(300); /* longer than the period */
    assert_int_equal(get_cm(c, "cm", NULL), 0);
    /* Picked up without any 401. */
    assert_string_equal(dtk_buf_cstr(&f->stub->auth_log),
                        "Bearer one|Bearer two");

    /* A failed re-read keeps the last token. */
    p = dtk_kstub_write(f->dir, "token", "");
    dtk_free(p);
    dtk_clock_sleep_ms(300);
    assert_int_equal(get_cm(c, "cm", NULL), 0);
    assert_string_equal(dtk_buf_cstr(&f->stub->auth_log),
                        "Bearer one|Bearer two|Bearer two");
    dtk_kube_client_free(c);
    dtk_kube_config_free(cfg);
}

/* ---- Exec credential plugin -------------------------------------------- */

static const char plugin_script[] =
    "#!/bin/sh\n"
    "state=\"$1\"\n"
    "n=$(cat \"$state/count\" 2>/dev/null || echo 0)\n"
    "n=$((n + 1))\n"
    "echo $n > \"$state/count\"\n"
    "printf '%s' \"$KUBERNETES_EXEC_INFO\" > \"$state/info\"\n"
    "case \"$PLUGIN_MODE\" in\n"
    "fail)\n"
    "  echo '{\"status\":{\"token\":\"leaked-s3cr3t\"}}'\n"
    "  exit 1;;\n"
    "expired)\n"
    "  printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",'\n"
    "  printf '\"kind\":\"ExecCredential\",\"status\":{\"token\":\"exec-%s\",'"
    " $n\n"
    "  printf '\"expirationTimestamp\":\"2001-01-01T00:00:00Z\"}}';;\n"
    "cert)\n"
    "  printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",'\n"
    "  printf '\"kind\":\"ExecCredential\",\"status\":{'\n"
    "  printf '\"clientCertificateData\":\"%s\",' \"$(awk '{printf \"%s\\\\n\","
    " $0}' \"$state/client.pem\")\"\n"
    "  printf '\"clientKeyData\":\"%s\"}}' \"$(awk '{printf \"%s\\\\n\", $0}'"
    " \"$state/client.key\")\";;\n"
    "*)\n"
    "  printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",'\n"
    "  printf '\"kind\":\"ExecCredential\",\"status\":{\"token\":\"exec-%s\"}}'"
    " $n;;\n"
    "esac\n";

static int load_exec(dtk_kube_config **cfg,
                     fixture *f,
                     const char *mode,
                     const char *server)
{
    char kc[2048];
    char *script = dtk_kstub_write(f->dir, "plugin.sh", plugin_script);

    assert_non_null(script);
    assert_int_equal(chmod(script, 0700), 0);
    dtk_free(script);
    /* "./plugin.sh" contains a '/': resolved against the kubeconfig's
     * directory, not the working directory. */
    snprintf(kc, sizeof(kc),
             "current-context: x\n"
             "clusters: [{name: c, cluster: {server: \"%s\"%s}}]\n"
             "users:\n"
             "- name: u\n"
             "  user:\n"
             "    exec:\n"
             "      apiVersion: client.authentication.k8s.io/v1\n"
             "      command: ./plugin.sh\n"
             "      args: [\"@DIR@\"]\n"
             "      env: [{name: PLUGIN_MODE, value: %s}]\n"
             "      interactiveMode: Never\n"
             "      provideClusterInfo: true\n"
             "contexts: [{name: x, context: {cluster: c, user: u}}]\n",
             server,
             strncmp(server, "https", 5) == 0
                 ? ", certificate-authority-data: @CA@"
                 : "",
             mode);
    return load_kc(cfg, f, kc, NULL);
}

static int plugin_runs(fixture *f)
{
    char path[600];
    char *text;
    int n = 0;

    snprintf(path, sizeof(path), "%s/count", f->dir);
    text = dtk_kstub_read(path);
    if (text != NULL) {
        n = (int)strtol(text, NULL, 10);
    }
    dtk_free(text);
    return n;
}

static void test_kube_client__exec_plugin_rerun_on_expiry(void **state)
{
    fixture *f = *state;
    dtk_kube_config *cfg = NULL;
    dtk_kube_client *c = NULL;
    char path[600];
    char *info;

    f->scenario = token_scenario;
    assert_int_equal(load_exec(&cfg, f, "expired", "@SERVER@"), 0);
    assert_int_equal(dtk_kube_client_new(&c, cfg), 0);
    assert_int_equal(get_cm(c, "cm", NULL), 0);
    assert_int_equal(get_cm(c, "cm", NULL), 0);
    /* Each credential had already expired: a run per request. */
    assert_int_equal(plugin_runs(f), 2);
    assert_string_equal(dtk_buf_cstr(&f->stub->auth_log),
                        "Bearer exec-1|Bearer exec-2");
    /* The plugin got KUBERNETES_EXEC_INFO, with the cluster. */
    snprintf(path, sizeof(path), "%s/info", f->dir);
    info = dtk_kstub_read(path);
    assert_non_null(info);
    assert_non_null(strstr(info, "\"kind\":\"ExecCredential\""));
    assert_non_null(strstr(info, "\"interactive\":false"));
    assert_non_null(strstr(info, f->stub->base));
    dtk_free(info);
    dtk_kube_client_free(c);
    dtk_kube_config_free(cfg);
}

static void test_kube_client__exec_plugin_rerun_on_401(void **state)
{
    fixture *f = *state;
    dtk_kube_config *cfg = NULL;
    dtk_kube_client *c = NULL;

    f->scenario = token_scenario;
    assert_int_equal(load_exec(&cfg, f, "fresh", "@SERVER@"), 0);
    assert_int_equal(dtk_kube_client_new(&c, cfg), 0);
    assert_int_equal(get_cm(c, "cm", NULL), 0);
    assert_int_equal(get_cm(c, "cm", NULL), 0);
    assert_int_equal(plugin_runs(f), 1); /* no expiry: cached */
    set_expected(f, "exec-2");
    assert_int_equal(get_cm(c, "cm", NULL), 0);
    assert_int_equal(plugin_runs(f), 2);
    assert_string_equal(dtk_buf_cstr(&f->stub->auth_log),
                        "Bearer exec-1|Bearer exec-1|Bearer exec-1|"
                        "Bearer exec-2");
    dtk_kube_client_free(c);
    dtk_kube_config_free(cfg);
}

static void test_kube_client__exec_plugin_failure_is_auth_error(void **state)
{
    fixture *f = *state;
    dtk_kube_config *cfg = NULL;
    dtk_kube_client *c = NULL;
    char want[700];

    assert_int_equal(load_exec(&cfg, f, "fail", "@SERVER@"), 0);
    assert_int_equal(dtk_kube_client_new(&c, cfg), 0);
    assert_int_equal(get_cm(c, "cm", NULL), DTK_EAUTH);
    snprintf(want, sizeof(want),
             "exec plugin '%s/./plugin.sh': exited with status 1", f->dir);
    assert_string_equal(dtk_error_last()->message, want);
    /* Nothing was sent, and the plugin's output is not repeated. */
    assert_int_equal(dtk_kstub_hits(f->stub), 0);
    assert_null(strstr(dtk_error_last()->message, "s3cr3t"));
    dtk_kube_client_free(c);
    dtk_kube_config_free(cfg);
}

typedef struct worker_arg {
    dtk_kube_config *cfg;
    int failures;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    dtk_kube_client *c = NULL;

    if (dtk_kube_client_new(&c, a->cfg) < 0) {
        a->failures++;
        return NULL;
    }
    for (int i = 0; i < 3; i++) {
        if (get_cm(c, "cm", NULL) < 0) {
            a->failures++;
        }
    }
    dtk_kube_client_free(c);
    return NULL;
}

static void test_kube_client__threads_share_one_plugin_run(void **state)
{
    fixture *f = *state;
    dtk_kube_config *cfg = NULL;
    pthread_t t[4];
    worker_arg a[4];

    f->scenario = token_scenario;
    assert_int_equal(load_exec(&cfg, f, "fresh", "@SERVER@"), 0);
    for (int i = 0; i < 4; i++) {
        a[i].cfg = cfg;
        a[i].failures = 0;
        assert_int_equal(pthread_create(&t[i], NULL, worker, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].failures, 0);
    }
    /* One client per thread, one configuration, one plugin run. */
    assert_int_equal(plugin_runs(f), 1);
    assert_int_equal(dtk_kstub_hits(f->stub), 12);
    dtk_kube_config_free(cfg);
}

/* ---- TLS ---------------------------------------------------------------- */

static void test_kube_client__tls_server_is_verified_with_the_ca(void **state)
{
    fixture *f = *state;
    dtk_kube_config *cfg = NULL;
    dtk_kube_client *c = NULL;
    int error;

    start_tls(f);
    /* The kubeconfig's CA verifies the server's certificate. */
    assert_int_equal(load_kc(&cfg, f,
                             "current-context: x\n"
                             "clusters: [{name: c, cluster: {server: "
                             "\"@TLS@\", certificate-authority-data: @CA@}}]\n"
                             "contexts: [{name: x, context: {cluster: c}}]\n",
                             NULL),
                     0);
    assert_int_equal(dtk_kube_client_new(&c, cfg), 0);
    assert_int_equal(get_cm(c, "cm", NULL), 0);
    dtk_kube_client_free(c);
    dtk_kube_config_free(cfg);

    /* Another CA: refused. */
    assert_int_equal(load_kc(&cfg, f,
                             "current-context: x\n"
                             "clusters: [{name: c, cluster: {server: "
                             "\"@TLS@\", certificate-authority-data: "
                             "@OTHERCA@}}]\n"
                             "contexts: [{name: x, context: {cluster: c}}]\n",
                             NULL),
                     0);
    assert_int_equal(dtk_kube_client_new(&c, cfg), 0);
    error = get_cm(c, "cm", NULL);
    assert_true(error == DTK_ERROR || error == DTK_EUNAVAIL);
    assert_non_null(strstr(dtk_error_last()->message, "GET https://localhost"));
    dtk_kube_client_free(c);
    dtk_kube_config_free(cfg);

    /* insecure-skip-tls-verify: accepted without a CA. */
    assert_int_equal(load_kc(&cfg, f,
                             "current-context: x\n"
                             "clusters: [{name: c, cluster: {server: "
                             "\"@TLS@\", insecure-skip-tls-verify: true}}]\n"
                             "contexts: [{name: x, context: {cluster: c}}]\n",
                             NULL),
                     0);
    assert_int_equal(dtk_kube_client_new(&c, cfg), 0);
    assert_int_equal(get_cm(c, "cm", NULL), 0);
    dtk_kube_client_free(c);
    dtk_kube_config_free(cfg);
}

static void test_kube_client__tls_server_name_overrides_the_host(void **state)
{
    fixture *f = *state;
    dtk_kube_config *cfg = NULL;
    dtk_kube_client *c = NULL;
    int error;

    start_tls(f);
    /* The certificate names localhost only; the URL says 127.0.0.1. */
    assert_int_equal(
        load_kc(&cfg, f,
                "current-context: x\n"
                "clusters: [{name: c, cluster: {server: "
                "\"@TLSIP@\", certificate-authority-data: @CA@}}]\n"
                "contexts: [{name: x, context: {cluster: c}}]\n",
                NULL),
        0);
    assert_int_equal(dtk_kube_client_new(&c, cfg), 0);
    error = get_cm(c, "cm", NULL);
    assert_true(error == DTK_ERROR || error == DTK_EUNAVAIL);
    dtk_kube_client_free(c);
    dtk_kube_config_free(cfg);

    assert_int_equal(load_kc(&cfg, f,
                             "current-context: x\n"
                             "clusters: [{name: c, cluster: {server: "
                             "\"@TLSIP@\", certificate-authority-data: @CA@, "
                             "tls-server-name: localhost}}]\n"
                             "contexts: [{name: x, context: {cluster: c}}]\n",
                             NULL),
                     0);
    assert_int_equal(dtk_kube_client_new(&c, cfg), 0);
    assert_int_equal(get_cm(c, "cm", NULL), 0);
    dtk_kube_client_free(c);
    dtk_kube_config_free(cfg);
}

/* openssl s_server requiring a client certificate from the test CA. */
typedef struct s_server {
    pid_t pid;
    int out;
    int port;
} s_server;

static void s_server_start(s_server *s, const char *dir)
{
    int fds[2];
    char line[512];
    size_t used = 0;
    int64_t deadline = dtk_clock_now_ms() + 15000;

    s->port = 0;
    assert_int_equal(pipe(fds), 0);
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        int null = open("/dev/null", O_WRONLY);

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(fds[1], 1);
        dup2(null, 2);
        close(fds[0]);
        close(fds[1]);
        if (chdir(dir) < 0) {
            _exit(126);
        }
        execlp("openssl", "openssl", "s_server", "-accept", "127.0.0.1:0",
               "-cert", "server.pem", "-key", "server.key", "-CAfile", "ca.pem",
               "-Verify", "1", "-verify_return_error", "-HTTP", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    s->out = fds[0];
    /* "ACCEPT 127.0.0.1:<port>" once it listens. */
    while (s->port == 0 && dtk_clock_now_ms() < deadline) {
        struct pollfd p = {s->out, POLLIN, 0};
        ssize_t n;
        char *acc;

        if (poll(&p, 1, 500) <= 0) {
            continue;
        }
        n = read(s->out, line + used, sizeof(line) - used - 1);
        if (n <= 0) {
            break;
        }
        used += (size_t)n;
        line[used] = '\0';
        acc = strstr(line, "ACCEPT ");
        if (acc != NULL && strchr(acc, '\n') != NULL) {
            char *colon = strchr(acc, '\n');

            while (colon > acc && *colon != ':') {
                colon--;
            }
            s->port = (int)strtol(colon + 1, NULL, 10);
        }
    }
    assert_true(s->port > 0);
}

static void s_server_stop(s_server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR) {
        }
        s->pid = 0;
    }
    if (s->out >= 0) {
        close(s->out);
    }
}

static void test_kube_client__client_certificate_is_presented(void **state)
{
    fixture *f = *state;
    s_server srv = {0, -1, 0};
    dtk_kube_config *cfg = NULL;
    dtk_kube_client *c = NULL;
    dtk_json *obj = NULL;
    char kc[1024];
    char *p;
    int error;

    /* s_server -HTTP answers with the file named by the path. */
    p = dtk_kstub_write(certs.dir, "api/v1/namespaces/default/configmaps/mtls",
                        "HTTP/1.0 200 ok\r\nContent-Type: application/json"
                        "\r\n\r\n{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\","
                        "\"metadata\":{\"name\":\"mtls\"}}");
    dtk_free(p);
    s_server_start(&srv, certs.dir);
    snprintf(kc, sizeof(kc),
             "current-context: x\n"
             "clusters: [{name: c, cluster: {server: "
             "\"https://localhost:%d\", certificate-authority-data: @CA@}}]\n"
             "users: [{name: u, user: {client-certificate-data: @CERT@, "
             "client-key-data: @KEY@}}]\n"
             "contexts: [{name: x, context: {cluster: c, user: u}}]\n",
             srv.port);
    assert_int_equal(load_kc(&cfg, f, kc, NULL), 0);
    assert_int_equal(dtk_kube_client_new(&c, cfg), 0);
    error = get_cm(c, "mtls", &obj);
    assert_int_equal(error, 0);
    assert_string_equal(dtk_json_get_string(obj, "kind"), "ConfigMap");
    dtk_json_free(obj);
    dtk_kube_client_free(c);
    dtk_kube_config_free(cfg);

    /* Without the client certificate the handshake is refused. */
    snprintf(kc, sizeof(kc),
             "current-context: x\n"
             "clusters: [{name: c, cluster: {server: "
             "\"https://localhost:%d\", certificate-authority-data: @CA@}}]\n"
             "contexts: [{name: x, context: {cluster: c}}]\n",
             srv.port);
    assert_int_equal(load_kc(&cfg, f, kc, NULL), 0);
    assert_int_equal(dtk_kube_client_new(&c, cfg), 0);
    error = get_cm(c, "mtls", NULL);
    assert_true(error < 0);
    dtk_kube_client_free(c);
    dtk_kube_config_free(cfg);
    s_server_stop(&srv);
}

static void test_kube_client__exec_plugin_client_certificate(void **state)
{
    fixture *f = *state;
    s_server srv = {0, -1, 0};
    dtk_kube_config *cfg = NULL;
    dtk_kube_client *c = NULL;
    char server[64];
    char *p;

    p = dtk_kstub_write(certs.dir, "api/v1/namespaces/default/configmaps/mtls",
                        "HTTP/1.0 200 ok\r\nContent-Type: application/json"
                        "\r\n\r\n{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\","
                        "\"metadata\":{\"name\":\"mtls\"}}");
    dtk_free(p);
    p = dtk_kstub_write(f->dir, "client.pem", certs.client_cert);
    dtk_free(p);
    p = dtk_kstub_write(f->dir, "client.key", certs.client_key);
    dtk_free(p);
    s_server_start(&srv, certs.dir);
    snprintf(server, sizeof(server), "https://localhost:%d", srv.port);
    /* The identity comes from the plugin's ExecCredential only. */
    assert_int_equal(load_exec(&cfg, f, "cert", server), 0);
    assert_int_equal(dtk_kube_client_new(&c, cfg), 0);
    assert_int_equal(get_cm(c, "mtls", NULL), 0);
    assert_int_equal(plugin_runs(f), 1);
    dtk_kube_client_free(c);
    dtk_kube_config_free(cfg);
    s_server_stop(&srv);
}

/* ---- In-cluster --------------------------------------------------------- */

static void test_kube_client__in_cluster_config(void **state)
{
    fixture *f = *state;
    dtk_kube_config_options o = fast_options();
    dtk_kube_config *cfg = NULL;
    dtk_kube_client *c = NULL;
    char port[16];
    char *sa;
    char *p;

    start_tls(f);
    f->scenario = token_scenario;
    sa = dtk_kstub_tmpdir();
    p = dtk_kstub_write(sa, "token", "sa-token-1\n");
    dtk_free(p);
    p = dtk_kstub_write(sa, "ca.crt", certs.ca);
    dtk_free(p);
    p = dtk_kstub_write(sa, "namespace", "ops");
    dtk_free(p);
    o.in_cluster_dir = sa;

    assert_int_equal(dtk_kube_config_in_cluster(&cfg, &o), DTK_ENOTFOUND);
    assert_string_equal(dtk_error_last()->message,
                        "not running in a cluster: KUBERNETES_SERVICE_HOST "
                        "and KUBERNETES_SERVICE_PORT are not set");

    snprintf(port, sizeof(port), "%d", f->tls->port);
    setenv("KUBERNETES_SERVICE_HOST", "localhost", 1);
    setenv("KUBERNETES_SERVICE_PORT", port, 1);
    /* With no KUBECONFIG, the default order picks in-cluster. */
    assert_int_equal(dtk_kube_config_load(&cfg, &o), 0);
    assert_string_equal(dtk_kube_config_namespace(cfg), "ops");
    assert_null(dtk_kube_config_context(cfg));
    assert_int_equal(dtk_kube_client_new(&c, cfg), 0);
    set_expected(f, "sa-token-1");
    assert_int_equal(get_cm(c, "cm", NULL), 0);
    /* The kubelet rotates the token; the server stops taking the old. */
    p = dtk_kstub_write(sa, "token", "sa-token-2\n");
    dtk_free(p);
    set_expected(f, "sa-token-2");
    assert_int_equal(get_cm(c, "cm", NULL), 0);
    assert_string_equal(dtk_buf_cstr(&f->tls->auth_log),
                        "Bearer sa-token-1|Bearer sa-token-1|"
                        "Bearer sa-token-2");
    dtk_kube_client_free(c);
    dtk_kube_config_free(cfg);

    /* A missing token is a startup error naming the file. */
    p = dtk_kstub_write(sa, "token", "");
    dtk_free(p);
    assert_int_equal(dtk_kube_config_in_cluster(&cfg, &o), DTK_EINVALID);
    assert_non_null(strstr(dtk_error_last()->message, "/token' is empty"));
    dtk_kstub_rmdir(sa);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_kube_client__status_bodies_map_to_codes),
        T(test_kube_client__unexpected_answers_are_clear_errors),
        T(test_kube_client__429_with_retry_after_is_retried),
        T(test_kube_client__5xx_burst_is_retried_for_idempotent_requests),
        T(test_kube_client__call_max_attempts_overrides_the_config),
        T(test_kube_client__post_is_retried_only_when_the_server_says_so),
        T(test_kube_client__slow_response_hits_the_timeout),
        T(test_kube_client__cancel_flag_ends_requests_and_retry_waits),
        T(test_kube_client__unreachable_server_is_unavailable),
        T(test_kube_client__qps_limit_spaces_requests),
        T(test_kube_client__list_follows_continue_across_pages),
        T(test_kube_client__expired_continue_falls_back_to_a_full_list),
        T(test_kube_client__write_verbs_send_kubernetes_requests),
        T(test_kube_client__watch_frames_events_split_across_chunks),
        T(test_kube_client__watch_error_410_is_gone),
        T(test_kube_client__token_file_is_reread_on_401),
        T(test_kube_client__token_file_is_reread_after_the_period),
        T(test_kube_client__exec_plugin_rerun_on_expiry),
        T(test_kube_client__exec_plugin_rerun_on_401),
        T(test_kube_client__exec_plugin_failure_is_auth_error),
        T(test_kube_client__threads_share_one_plugin_run),
        T(test_kube_client__tls_server_is_verified_with_the_ca),
        T(test_kube_client__tls_server_name_overrides_the_host),
        T(test_kube_client__client_certificate_is_presented),
        T(test_kube_client__exec_plugin_client_certificate),
        T(test_kube_client__in_cluster_config),
    };
#undef T

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

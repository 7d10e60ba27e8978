/* dtk-apiserver persistence (--data-dir), TLS and bearer-token auth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/error.h"
#include "pkg/http/http.h"
#include "pkg/json/json.h"
#include "test/support/apiserver.h"

typedef struct reply {
    long status;
    dtk_json *body;
} reply;

static reply call_with(dtk_http_client *c, const char *base,
                       const char *method, const char *path, const char *body,
                       const char *token)
{
    char url[512];
    static const char *const headers[] = {"Content-Type: application/json",
                                          NULL};
    dtk_http_request req = DTK_HTTP_REQUEST_INIT;
    dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;
    reply r = {0, NULL};

    snprintf(url, sizeof(url), "%s%s", base, path);
    req.method = method;
    req.url = url;
    req.headers = headers;
    req.body = body;
    req.body_len = body ? strlen(body) : 0;
    req.bearer_token = token;
    req.timeout_ms = 10000;
    if (dtk_http_do(c, &req, &resp) < 0) {
        fail_msg("%s %s: %s", method, path, dtk_error_last()->message);
    }
    r.status = resp.status;
    if (dtk_json_parse(&r.body, dtk_buf_cstr(&resp.body), resp.body.len) < 0) {
        r.body = NULL;
    }
    dtk_http_response_dispose(&resp);
    return r;
}

static long long rv_of(const dtk_json *obj)
{
    const char *rv = dtk_json_get_string(dtk_json_get(obj, "metadata"),
                                         "resourceVersion");

    return rv ? strtoll(rv, NULL, 10) : -1;
}

static void test_apiserver_durable__writes_survive_restart_and_sigkill(
    void **state)
{
    dtk_test_apiserver a;
    dtk_http_client *c = NULL;
    dtk_http_client_options o = DTK_HTTP_CLIENT_OPTIONS_INIT;
    char datadir[400];
    const char *args[3];
    reply r;
    long long rv1, rv2;

    (void)state;
    assert_int_equal(dtk_test_apiserver_start(&a, NULL), 0);
    dtk_test_apiserver_stop(&a);
    snprintf(datadir, sizeof(datadir), "%s/data", a.dir);
    args[0] = "--data-dir";
    args[1] = datadir;
    args[2] = NULL;
    assert_int_equal(dtk_test_apiserver_restart(&a, args), 0);
    dtk_http_client_new(&c, &o);
    r = call_with(c, a.url, "POST", "/api/v1/namespaces/default/configmaps",
                  "{\"metadata\":{\"name\":\"keep\"},\"data\":{\"k\":\"1\"}}",
                  NULL);
    assert_int_equal(r.status, 201);
    rv1 = rv_of(r.body);
    dtk_json_free(r.body);
    /* A clean restart keeps the object. */
    dtk_test_apiserver_stop(&a);
    dtk_http_client_free(c);
    assert_int_equal(dtk_test_apiserver_restart(&a, args), 0);
    dtk_http_client_new(&c, &o);
    r = call_with(c, a.url, "GET", "/api/v1/namespaces/default/configmaps/keep",
                  NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(rv_of(r.body), rv1);
    dtk_json_free(r.body);
    /* An acknowledged write survives kill -9; versions keep increasing. */
    r = call_with(c, a.url, "PATCH",
                  "/api/v1/namespaces/default/configmaps/keep",
                  "{\"data\":{\"k\":\"2\"}}", NULL);
    assert_int_equal(r.status, 415); /* merge patch needs its media type */
    dtk_json_free(r.body);
    r = call_with(c, a.url, "PUT", "/api/v1/namespaces/default/configmaps/keep",
                  "{\"metadata\":{\"name\":\"keep\"},\"data\":{\"k\":\"2\"}}",
                  NULL);
    assert_int_equal(r.status, 200);
    rv2 = rv_of(r.body);
    assert_true(rv2 > rv1);
    dtk_json_free(r.body);
    dtk_test_apiserver_kill(&a);
    dtk_http_client_free(c);
    assert_int_equal(dtk_test_apiserver_restart(&a, args), 0);
    dtk_http_client_new(&c, &o);
    r = call_with(c, a.url, "GET", "/api/v1/namespaces/default/configmaps/keep",
                  NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(dtk_json_get_string(dtk_json_get(r.body, "data"), "k"),
                        "2");
    assert_int_equal(rv_of(r.body), rv2);
    dtk_json_free(r.body);
    r = call_with(c, a.url, "POST", "/api/v1/namespaces/default/configmaps",
                  "{\"metadata\":{\"name\":\"later\"}}", NULL);
    assert_true(rv_of(r.body) > rv2);
    dtk_json_free(r.body);
    dtk_http_client_free(c);
    dtk_test_apiserver_dispose(&a);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    dtk_buf b = DTK_BUF_INIT(0);
    char chunk[4096];
    size_t n;

    assert_non_null(f);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        dtk_buf_put(&b, chunk, n);
    }
    fclose(f);
    return dtk_buf_detach(&b);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_apiserver_durable__tls_and_rotating_bearer_token(void **state)
{
    dtk_test_apiserver a;
    dtk_http_client *c = NULL;
    dtk_http_client *untrusting = NULL;
    dtk_http_client_options o = DTK_HTTP_CLIENT_OPTIONS_INIT;
    dtk_http_client_options plain = DTK_HTTP_CLIENT_OPTIONS_INIT;
    char cmd[1400], cert[400], key[400], token[400], url[64];
    const char *args[7];
    char *ca = NULL;
    reply r;
    dtk_http_request req = DTK_HTTP_REQUEST_INIT;
    dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;

    (void)state;
    assert_int_equal(dtk_test_apiserver_start(&a, NULL), 0);
    dtk_test_apiserver_stop(&a);
    snprintf(cert, sizeof(cert), "%s/tls.crt", a.dir);
    snprintf(key, sizeof(key), "%s/tls.key", a.dir);
    snprintf(token, sizeof(token), "%s/token", a.dir);
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "
             "/CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout %s "
             "-out %s >/dev/null 2>&1",
             key, cert);
    assert_int_equal(system(cmd), 0);
    write_file(token, "first-token\n");
    args[0] = "--tls-cert-file";
    args[1] = cert;
    args[2] = "--tls-private-key-file";
    args[3] = key;
    args[4] = "--token-file";
    args[5] = token;
    args[6] = NULL;
    assert_int_equal(dtk_test_apiserver_restart(&a, args), 0);
    ca = slurp(cert);
    o.ca_pem = ca;
    dtk_http_client_new(&c, &o);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d", a.port);
    r = call_with(c, url, "GET", "/api/v1/namespaces", NULL, "first-token");
    assert_int_equal(r.status, 200);
    dtk_json_free(r.body);
    r = call_with(c, url, "GET", "/api/v1/namespaces", NULL, NULL);
    assert_int_equal(r.status, 401);
    assert_string_equal(dtk_json_get_string(r.body, "reason"), "Unauthorized");
    dtk_json_free(r.body);
    r = call_with(c, url, "GET", "/api/v1/namespaces", NULL, "wrong");
    assert_int_equal(r.status, 401);
    dtk_json_free(r.body);
    /* The token file is rotated: the new token works, the old one not. */
    write_file(token, "second-token-longer\n");
    r = call_with(c, url, "GET", "/api/v1/namespaces", NULL,
                  "second-token-longer");
    assert_int_equal(r.status, 200);
    dtk_json_free(r.body);
    r = call_with(c, url, "GET", "/api/v1/namespaces", NULL, "first-token");
    assert_int_equal(r.status, 401);
    dtk_json_free(r.body);
    /* A client without the CA refuses the server certificate. */
    dtk_http_client_new(&untrusting, &plain);
    req.method = "GET";
    req.url = url;
    req.timeout_ms = 5000;
    assert_int_equal(dtk_http_do(untrusting, &req, &resp), DTK_ERROR);
    assert_non_null(strstr(dtk_error_last()->message, "certificate"));
    dtk_http_response_dispose(&resp);
    dtk_http_client_free(untrusting);
    dtk_http_client_free(c);
    dtk_free(ca);
    dtk_test_apiserver_dispose(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_apiserver_durable__writes_survive_restart_and_sigkill),
        cmocka_unit_test(test_apiserver_durable__tls_and_rotating_bearer_token),
    };
    int rc;

    dtk_http_global_init();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    dtk_http_global_cleanup();
    return rc;
}

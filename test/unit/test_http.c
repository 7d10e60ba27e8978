/* The HTTP client and server wrappers against each other on 127.0.0.1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/clock.h"
#include "pkg/base/error.h"
#include "pkg/http/http.h"
#include "pkg/httpserver/server.h"

typedef struct fixture {
    dtk_httpserver *server;
    dtk_http_client *client;
    char base[64];
} fixture;

typedef struct counter {
    int remaining;
} counter;

static ssize_t count_down(void *payload, char *buf, size_t max)
{
    counter *c = payload;

    if (c->remaining == 0) {
        return -1;
    }
    c->remaining--;
    return snprintf(buf, max, "line %d\n", c->remaining);
}

static void free_counter(void *payload)
{
    dtk_free(payload);
}

static void handler(dtk_httpserver_exchange *ex, void *payload)
{
    const char *path = dtk_httpserver_path(ex);
    size_t len;
    const char *body = dtk_httpserver_body(ex, &len);
    char text[256];

    (void)payload;
    if (strcmp(path, "/echo") == 0) {
        const char *q = dtk_httpserver_query(ex, "q");
        const char *h = dtk_httpserver_header(ex, "X-Test");

        snprintf(text, sizeof(text), "%s %s q=%s h=%s body=%.*s",
                 dtk_httpserver_method(ex), path, q ? q : "-", h ? h : "-",
                 (int)len, body);
        dtk_httpserver_add_header(ex, "Retry-After", "7");
        dtk_httpserver_respond(ex, 201, "text/plain", text, strlen(text));
    } else if (strcmp(path, "/stream") == 0) {
        counter *c = dtk_calloc(1, sizeof(*c));

        c->remaining = 3;
        dtk_httpserver_respond_stream(ex, 200, "text/plain", count_down, c,
                                      free_counter);
    } else if (strcmp(path, "/slow") == 0) {
        dtk_clock_sleep_ms(600);
        dtk_httpserver_respond(ex, 200, "text/plain", "late", 4);
    } else {
        dtk_httpserver_respond(ex, 404, "text/plain", "no", 2);
    }
}

static int setup(void **state)
{
    fixture *f = dtk_calloc(1, sizeof(*f));
    dtk_httpserver_options so = DTK_HTTPSERVER_OPTIONS_INIT;
    dtk_http_client_options co = DTK_HTTP_CLIENT_OPTIONS_INIT;

    so.max_body = 1024;
    assert_int_equal(dtk_httpserver_start(&f->server, &so, handler, NULL), 0);
    assert_int_equal(dtk_http_client_new(&f->client, &co), 0);
    snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%d",
             dtk_httpserver_port(f->server));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    dtk_http_client_free(f->client);
    dtk_httpserver_stop(f->server);
    dtk_free(f);
    return 0;
}

static int get(fixture *f, const char *method, const char *path,
               const char *body, dtk_http_response *resp)
{
    char url[256];
    static const char *const headers[] = {"X-Test: yes", NULL};
    dtk_http_request req = DTK_HTTP_REQUEST_INIT;

    snprintf(url, sizeof(url), "%s%s", f->base, path);
    req.method = method;
    req.url = url;
    req.headers = headers;
    req.body = body;
    req.body_len = body ? strlen(body) : 0;
    req.timeout_ms = 300;
    return dtk_http_do(f->client, &req, resp);
}

static void test_http__request_roundtrip_with_query_headers_body(void **state)
{
    fixture *f = *state;
    dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;

    assert_int_equal(get(f, "POST", "/echo?q=a%20b", "{\"x\":1}", &resp), 0);
    assert_int_equal(resp.status, 201);
    assert_string_equal(dtk_buf_cstr(&resp.body),
                        "POST /echo q=a b h=yes body={\"x\":1}");
    assert_string_equal(dtk_http_response_header(&resp, "retry-after"), "7");
    dtk_http_response_dispose(&resp);
    /* The connection is reused for a second request. */
    assert_int_equal(get(f, "GET", "/missing", NULL, &resp), 0);
    assert_int_equal(resp.status, 404);
    dtk_http_response_dispose(&resp);
}

static void test_http__oversized_body_gets_413(void **state)
{
    fixture *f = *state;
    dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;
    char big[4096];

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(get(f, "PUT", "/echo", big, &resp), 0);
    assert_int_equal(resp.status, 413);
    assert_non_null(strstr(dtk_buf_cstr(&resp.body), "RequestEntityTooLarge"));
    dtk_http_response_dispose(&resp);
}

static int collect(const char *data, size_t len, void *payload)
{
    return dtk_buf_put(payload, data, len) < 0;
}

static void test_http__chunked_stream_is_delivered_in_order(void **state)
{
    fixture *f = *state;
    dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;
    dtk_http_request req = DTK_HTTP_REQUEST_INIT;
    dtk_buf got = DTK_BUF_INIT(0);
    char url[128];

    snprintf(url, sizeof(url), "%s/stream", f->base);
    req.method = "GET";
    req.url = url;
    assert_int_equal(dtk_http_stream(f->client, &req, &resp, collect, &got), 0);
    assert_int_equal(resp.status, 200);
    assert_string_equal(dtk_buf_cstr(&got), "line 2\nline 1\nline 0\n");
    assert_string_equal(dtk_http_response_header(&resp, "Transfer-Encoding"),
                        "chunked");
    dtk_buf_dispose(&got);
    dtk_http_response_dispose(&resp);
}

static void test_http__timeout_and_refused_are_distinct(void **state)
{
    fixture *f = *state;
    dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;
    dtk_http_request req = DTK_HTTP_REQUEST_INIT;

    assert_int_equal(get(f, "GET", "/slow?token=secret", NULL, &resp),
                     DTK_ETIMEOUT);
    assert_null(strstr(dtk_error_last()->message, "secret"));
    assert_non_null(strstr(dtk_error_last()->message, "/slow: timed out"));
    dtk_http_response_dispose(&resp);
    req.method = "GET";
    req.url = "http://127.0.0.1:1/";
    assert_int_equal(dtk_http_do(f->client, &req, &resp), DTK_EUNAVAIL);
    dtk_http_response_dispose(&resp);
}

static void test_http__response_limit_is_enforced(void **state)
{
    fixture *f = *state;
    dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;
    dtk_http_request req = DTK_HTTP_REQUEST_INIT;
    char url[128];

    snprintf(url, sizeof(url), "%s/echo", f->base);
    req.method = "GET";
    req.url = url;
    req.response_limit = 8;
    assert_int_equal(dtk_http_do(f->client, &req, &resp), DTK_ETOOBIG);
    dtk_http_response_dispose(&resp);
}

static void test_http__escape_encodes_reserved_bytes(void **state)
{
    dtk_buf out = DTK_BUF_INIT(0);

    (void)state;
    assert_int_equal(dtk_http_escape(&out, "a b/c?d=é"), 0);
    assert_string_equal(dtk_buf_cstr(&out), "a%20b%2Fc%3Fd%3D%C3%A9");
    dtk_buf_dispose(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http__request_roundtrip_with_query_headers_body),
        cmocka_unit_test(test_http__oversized_body_gets_413),
        cmocka_unit_test(test_http__chunked_stream_is_delivered_in_order),
        cmocka_unit_test(test_http__timeout_and_refused_are_distinct),
        cmocka_unit_test(test_http__response_limit_is_enforced),
        cmocka_unit_test(test_http__escape_encodes_reserved_bytes),
    };
    int rc;

    dtk_http_global_init();
    rc = cmocka_run_group_tests(tests, setup, teardown);
    dtk_http_global_cleanup();
    return rc;
}

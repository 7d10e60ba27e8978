/* dtk-apiserver over raw HTTP: the API semantics an operator relies on.
 * One server per test group; every test uses its own namespace. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/clock.h"
#include "pkg/base/error.h"
#include "pkg/http/http.h"
#include "pkg/json/json.h"
#include "test/support/apiserver.h"

static dtk_test_apiserver server;
static dtk_http_client *client;

typedef struct reply {
    long status;
    dtk_json *body; /* NULL when not JSON */
    char *text;
    char retry_after[16];
} reply;

static void reply_dispose(reply *r)
{
    dtk_json_free(r->body);
    dtk_free(r->text);
    memset(r, 0, sizeof(*r));
}

static reply call(const char *method, const char *path,
                  const char *content_type, const char *body)
{
    char url[1024], ct[128];
    const char *headers[2] = {NULL, NULL};
    dtk_http_request req = DTK_HTTP_REQUEST_INIT;
    dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;
    reply r;
    const char *ra;

    memset(&r, 0, sizeof(r));
    snprintf(url, sizeof(url), "%s%s", server.url, path);
    if (content_type != NULL) {
        snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
        headers[0] = ct;
    }
    req.method = method;
    req.url = url;
    req.headers = headers;
    req.body = body;
    req.body_len = body ? strlen(body) : 0;
    req.timeout_ms = 10000;
    req.response_limit = 64 * 1024 * 1024;
    if (dtk_http_do(client, &req, &resp) < 0) {
        fail_msg("%s %s: %s", method, path, dtk_error_last()->message);
    }
    r.status = resp.status;
    r.text = dtk_strdup(dtk_buf_cstr(&resp.body));
    if (dtk_json_parse(&r.body, resp.body.ptr ? resp.body.ptr : "",
                       resp.body.len) < 0) {
        r.body = NULL;
    }
    ra = dtk_http_response_header(&resp, "Retry-After");
    if (ra != NULL) {
        snprintf(r.retry_after, sizeof(r.retry_after), "%s", ra);
    }
    dtk_http_response_dispose(&resp);
    return r;
}

static const char *str(const dtk_json *v, const char *const *path)
{
    const char *s = dtk_json_string(dtk_json_path(v, path));

    return s ? s : "";
}

#define P(...) ((const char *const[]){__VA_ARGS__, NULL})

static int64_t rv_of(const dtk_json *obj)
{
    return strtoll(str(obj, P("metadata", "resourceVersion")), NULL, 10);
}

static void create_namespace(const char *ns)
{
    char body[256];
    reply r;

    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":"
             "{\"name\":\"%s\"}}",
             ns);
    r = call("POST", "/api/v1/namespaces", "application/json", body);
    assert_int_equal(r.status, 201);
    reply_dispose(&r);
}

static reply create_cm(const char *ns, const char *name, const char *labels)
{
    char path[256], body[512];

    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps", ns);
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":"
             "{\"name\":\"%s\",\"labels\":%s},\"data\":{\"k\":\"v\"}}",
             name, labels ? labels : "{}");
    return call("POST", path, "application/json", body);
}

static const char widget_crd[] =
    "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":"
    "\"CustomResourceDefinition\",\"metadata\":{\"name\":"
    "\"widgets.test.dtk.io\"},\"spec\":{\"group\":\"test.dtk.io\","
    "\"scope\":\"Namespaced\",\"names\":{\"plural\":\"widgets\","
    "\"singular\":\"widget\",\"kind\":\"Widget\"},\"versions\":[{\"name\":"
    "\"v1\",\"served\":true,\"storage\":true,\"subresources\":{\"status\":{}},"
    "\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\",\"properties\":{"
    "\"spec\":{\"type\":\"object\",\"properties\":{\"size\":{\"type\":"
    "\"integer\"}}},\"status\":{\"type\":\"object\","
    "\"x-kubernetes-preserve-unknown-fields\":true}}}}}]}}";

static int setup(void **state)
{
    dtk_http_client_options o = DTK_HTTP_CLIENT_OPTIONS_INIT;
    static const char *const args[] = {"--enable-faults", "--watch-history",
                                       "50", "--bookmark-interval", "1",
                                       NULL};
    reply r;

    (void)state;
    dtk_http_global_init();
    if (dtk_test_apiserver_start(&server, args) < 0) {
        return -1;
    }
    dtk_http_client_new(&client, &o);
    r = call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
             "application/json", widget_crd);
    if (r.status != 201) {
        fprintf(stderr, "CRD create: %ld %s\n", r.status, r.text);
        reply_dispose(&r);
        return -1;
    }
    reply_dispose(&r);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dtk_http_client_free(client);
    dtk_test_apiserver_dispose(&server);
    dtk_http_global_cleanup();
    return 0;
}

/* Collects a watch stream until it ends (the server ends it at
 * timeoutSeconds). Returns the events as a JSON array. */
static int collect(const char *data, size_t len, void *payload)
{
    return dtk_buf_put(payload, data, len) < 0;
}

static dtk_json *watch(const char *path_and_query)
{
    char url[1024];
    dtk_http_request req = DTK_HTTP_REQUEST_INIT;
    dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;
    dtk_buf body = DTK_BUF_INIT(0);
    dtk_json *events = dtk_json_new_array();
    dtk_http_client *c = NULL;
    dtk_http_client_options o = DTK_HTTP_CLIENT_OPTIONS_INIT;
    const char *p;

    snprintf(url, sizeof(url), "%s%s", server.url, path_and_query);
    req.method = "GET";
    req.url = url;
    req.timeout_ms = 20000;
    dtk_http_client_new(&c, &o);
    assert_int_equal(dtk_http_stream(c, &req, &resp, collect, &body), 0);
    assert_int_equal(resp.status, 200);
    p = dtk_buf_cstr(&body);
    while (*p) {
        const char *nl = strchr(p, '\n');
        dtk_json *ev = NULL;

        assert_non_null(nl);
        assert_int_equal(dtk_json_parse(&ev, p, (size_t)(nl - p)), 0);
        dtk_json_append(events, ev);
        p = nl + 1;
    }
    dtk_buf_dispose(&body);
    dtk_http_response_dispose(&resp);
    dtk_http_client_free(c);
    return events;
}

static const char *ev_type(const dtk_json *events, size_t i)
{
    return dtk_json_get_string(dtk_json_at(events, i), "type");
}

static const char *ev_name(const dtk_json *events, size_t i)
{
    return str(dtk_json_at(events, i), P("object", "metadata", "name"));
}

/* ---- tests ---------------------------------------------------------------- */

static void test_apiserver__create_sets_server_fields_and_rejects_duplicates(
    void **state)
{
    reply r, d;

    (void)state;
    create_namespace("t-create");
    r = create_cm("t-create", "a", NULL);
    assert_int_equal(r.status, 201);
    assert_true(strlen(str(r.body, P("metadata", "uid"))) == 36);
    assert_true(strlen(str(r.body, P("metadata", "creationTimestamp"))) == 20);
    assert_true(rv_of(r.body) > 0);
    d = create_cm("t-create", "a", NULL);
    assert_int_equal(d.status, 409);
    assert_string_equal(str(d.body, P("reason")), "AlreadyExists");
    assert_string_equal(str(d.body, P("message")),
                        "configmaps \"a\" already exists");
    reply_dispose(&r);
    reply_dispose(&d);
    r = create_cm("missing-ns", "a", NULL);
    assert_int_equal(r.status, 404);
    assert_string_equal(str(r.body, P("message")),
                        "namespaces \"missing-ns\" not found");
    reply_dispose(&r);
    r = call("POST", "/api/v1/namespaces/t-create/configmaps",
             "application/json",
             "{\"metadata\":{\"generateName\":\"gen-\"}}");
    assert_int_equal(r.status, 201);
    assert_int_equal(strlen(str(r.body, P("metadata", "name"))), 9);
    assert_memory_equal(str(r.body, P("metadata", "name")), "gen-", 4);
    reply_dispose(&r);
}

static void test_apiserver__bad_input_gets_status_errors(void **state)
{
    reply r;
    char *big;

    (void)state;
    create_namespace("t-bad");
    r = call("POST", "/api/v1/namespaces/t-bad/configmaps", "application/json",
             "{\"metadata\": {\"name\": ");
    assert_int_equal(r.status, 400);
    assert_string_equal(str(r.body, P("reason")), "BadRequest");
    reply_dispose(&r);
    r = call("POST", "/api/v1/namespaces/t-bad/configmaps", "text/plain", "x");
    assert_int_equal(r.status, 415);
    reply_dispose(&r);
    r = call("GET", "/api/v1/nothing", NULL, NULL);
    assert_int_equal(r.status, 404);
    assert_string_equal(str(r.body, P("kind")), "Status");
    reply_dispose(&r);
    r = call("POST", "/api/v1/namespaces/t-bad/configmaps", "application/json",
             "{\"metadata\":{\"name\":\"Not_Valid\"}}");
    assert_int_equal(r.status, 422);
    assert_string_equal(str(r.body, P("reason")), "Invalid");
    assert_non_null(strstr(str(r.body, P("message")),
                           "ConfigMap \"Not_Valid\" is invalid: metadata.name: "
                           "Invalid value: \"Not_Valid\": a lowercase RFC "
                           "1123 subdomain"));
    reply_dispose(&r);
    big = dtk_malloc(4 * 1024 * 1024);
    memset(big, ' ', 4 * 1024 * 1024 - 1);
    big[0] = '{';
    big[4 * 1024 * 1024 - 2] = '}';
    big[4 * 1024 * 1024 - 1] = '\0';
    r = call("POST", "/api/v1/namespaces/t-bad/configmaps", "application/json",
             big);
    assert_int_equal(r.status, 413);
    reply_dispose(&r);
    dtk_free(big);
    /* The server is still serving. */
    r = call("GET", "/api/v1/namespaces/t-bad/configmaps", NULL, NULL);
    assert_int_equal(r.status, 200);
    reply_dispose(&r);
}

static void test_apiserver__update_conflicts_and_noop(void **state)
{
    reply c, u, n, stale;
    char body[512];
    int64_t rv;

    (void)state;
    create_namespace("t-update");
    c = create_cm("t-update", "a", NULL);
    rv = rv_of(c.body);
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{"
             "\"name\":\"a\",\"resourceVersion\":\"%lld\"},\"data\":{\"k\":"
             "\"v2\"}}",
             (long long)rv);
    u = call("PUT", "/api/v1/namespaces/t-update/configmaps/a",
             "application/json", body);
    assert_int_equal(u.status, 200);
    assert_true(rv_of(u.body) > rv);
    stale = call("PUT", "/api/v1/namespaces/t-update/configmaps/a",
                 "application/json", body);
    assert_int_equal(stale.status, 409);
    assert_string_equal(str(stale.body, P("reason")), "Conflict");
    assert_string_equal(str(stale.body, P("message")),
                        "Operation cannot be fulfilled on configmaps \"a\": "
                        "the object has been modified; please apply your "
                        "changes to the latest version and try again");
    /* A merge patch that changes nothing keeps the resourceVersion. */
    n = call("PATCH", "/api/v1/namespaces/t-update/configmaps/a",
             "application/merge-patch+json", "{\"data\":{\"k\":\"v2\"}}");
    assert_int_equal(n.status, 200);
    assert_int_equal(rv_of(n.body), rv_of(u.body));
    reply_dispose(&c);
    reply_dispose(&u);
    reply_dispose(&n);
    reply_dispose(&stale);
}

static void test_apiserver__custom_resource_update_rules(void **state)
{
    reply c, u, s, g;
    char body[512];

    (void)state;
    create_namespace("t-cr");
    c = call("POST", "/apis/test.dtk.io/v1/namespaces/t-cr/widgets",
             "application/json",
             "{\"apiVersion\":\"test.dtk.io/v1\",\"kind\":\"Widget\","
             "\"metadata\":{\"name\":\"w\"},\"spec\":{\"size\":1},"
             "\"status\":{\"phase\":\"ignored\"}}");
    assert_int_equal(c.status, 201);
    assert_null(dtk_json_get(c.body, "status"));
    assert_string_equal(dtk_json_get(dtk_json_get(c.body, "metadata"),
                                     "generation")->u.number, "1");
    /* PUT without resourceVersion is refused for custom resources. */
    u = call("PUT", "/apis/test.dtk.io/v1/namespaces/t-cr/widgets/w",
             "application/json",
             "{\"apiVersion\":\"test.dtk.io/v1\",\"kind\":\"Widget\","
             "\"metadata\":{\"name\":\"w\"},\"spec\":{\"size\":2}}");
    assert_int_equal(u.status, 422);
    assert_string_equal(str(u.body, P("message")),
                        "Widget.test.dtk.io \"w\" is invalid: "
                        "metadata.resourceVersion: Invalid value: 0x0: must "
                        "be specified for an update");
    reply_dispose(&u);
    /* Status written through /status does not bump generation; spec on
     * /status is ignored. */
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"test.dtk.io/v1\",\"kind\":\"Widget\","
             "\"metadata\":{\"name\":\"w\",\"resourceVersion\":\"%s\"},"
             "\"spec\":{\"size\":9},\"status\":{\"phase\":\"Ready\"}}",
             str(c.body, P("metadata", "resourceVersion")));
    s = call("PUT", "/apis/test.dtk.io/v1/namespaces/t-cr/widgets/w/status",
             "application/json", body);
    assert_int_equal(s.status, 200);
    assert_string_equal(str(s.body, P("status", "phase")), "Ready");
    assert_string_equal(dtk_json_path(s.body, P("spec", "size"))->u.number,
                        "1");
    assert_string_equal(dtk_json_path(s.body, P("metadata", "generation"))
                            ->u.number,
                        "1");
    /* A spec change on the main endpoint bumps generation and keeps the
     * status; a label change does not bump it. */
    g = call("PATCH", "/apis/test.dtk.io/v1/namespaces/t-cr/widgets/w",
             "application/merge-patch+json",
             "{\"spec\":{\"size\":5},\"status\":{\"phase\":\"x\"}}");
    assert_int_equal(g.status, 200);
    assert_string_equal(dtk_json_path(g.body, P("metadata", "generation"))
                            ->u.number,
                        "2");
    assert_string_equal(str(g.body, P("status", "phase")), "Ready");
    reply_dispose(&g);
    g = call("PATCH", "/apis/test.dtk.io/v1/namespaces/t-cr/widgets/w",
             "application/merge-patch+json",
             "{\"metadata\":{\"labels\":{\"a\":\"b\"}}}");
    assert_string_equal(dtk_json_path(g.body, P("metadata", "generation"))
                            ->u.number,
                        "2");
    reply_dispose(&g);
    g = call("PATCH", "/apis/test.dtk.io/v1/namespaces/t-cr/widgets/w",
             "application/strategic-merge-patch+json", "{}");
    assert_int_equal(g.status, 415);
    reply_dispose(&g);
    g = call("PATCH", "/apis/test.dtk.io/v1/namespaces/t-cr/widgets/w",
             "application/apply-patch+yaml", "{}");
    assert_int_equal(g.status, 415);
    assert_non_null(strstr(str(g.body, P("message")), "server-side apply"));
    reply_dispose(&g);
    reply_dispose(&c);
    reply_dispose(&s);
}

static void test_apiserver__finalizers_hold_deletion(void **state)
{
    reply c, d, p, g;

    (void)state;
    create_namespace("t-fin");
    c = call("POST", "/apis/test.dtk.io/v1/namespaces/t-fin/widgets",
             "application/json",
             "{\"metadata\":{\"name\":\"w\",\"finalizers\":[\"dtk.io/x\"]},"
             "\"spec\":{\"size\":1}}");
    assert_int_equal(c.status, 201);
    d = call("DELETE", "/apis/test.dtk.io/v1/namespaces/t-fin/widgets/w", NULL,
             NULL);
    assert_int_equal(d.status, 200);
    assert_true(strlen(str(d.body, P("metadata", "deletionTimestamp"))) > 0);
    assert_string_equal(dtk_json_path(d.body, P("metadata", "generation"))
                            ->u.number,
                        "2");
    p = call("PATCH", "/apis/test.dtk.io/v1/namespaces/t-fin/widgets/w",
             "application/merge-patch+json",
             "{\"metadata\":{\"finalizers\":[\"dtk.io/x\",\"dtk.io/y\"]}}");
    assert_int_equal(p.status, 422);
    assert_non_null(strstr(str(p.body, P("message")),
                           "metadata.finalizers: Forbidden: no new finalizers "
                           "can be added if the object is being deleted, "
                           "found new finalizers []string{\"dtk.io/y\"}"));
    reply_dispose(&p);
    g = call("GET", "/apis/test.dtk.io/v1/namespaces/t-fin/widgets/w", NULL,
             NULL);
    assert_int_equal(g.status, 200);
    reply_dispose(&g);
    p = call("PATCH", "/apis/test.dtk.io/v1/namespaces/t-fin/widgets/w",
             "application/merge-patch+json",
             "{\"metadata\":{\"finalizers\":null}}");
    assert_int_equal(p.status, 200);
    g = call("GET", "/apis/test.dtk.io/v1/namespaces/t-fin/widgets/w", NULL,
             NULL);
    assert_int_equal(g.status, 404);
    assert_string_equal(str(g.body, P("message")),
                        "widgets.test.dtk.io \"w\" not found");
    reply_dispose(&c);
    reply_dispose(&d);
    reply_dispose(&p);
    reply_dispose(&g);
}

static int wait_gone(const char *path)
{
    int64_t deadline = dtk_clock_now_ms() + 10000;

    while (dtk_clock_now_ms() < deadline) {
        reply r = call("GET", path, NULL, NULL);
        long status = r.status;

        reply_dispose(&r);
        if (status == 404) {
            return 1;
        }
        dtk_clock_sleep_ms(20);
    }
    return 0;
}

static void test_apiserver__owner_deletion_collects_dependents(void **state)
{
    reply owner, dep, d;
    char body[600];

    (void)state;
    create_namespace("t-gc");
    owner = create_cm("t-gc", "owner", NULL);
    snprintf(body, sizeof(body),
             "{\"metadata\":{\"name\":\"dep\",\"ownerReferences\":[{"
             "\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"owner\","
             "\"uid\":\"%s\"}]}}",
             str(owner.body, P("metadata", "uid")));
    dep = call("POST", "/api/v1/namespaces/t-gc/secrets", "application/json",
               body);
    assert_int_equal(dep.status, 201);
    d = call("DELETE", "/api/v1/namespaces/t-gc/configmaps/owner", NULL, NULL);
    assert_int_equal(d.status, 200);
    assert_string_equal(str(d.body, P("status")), "Success");
    assert_true(wait_gone("/api/v1/namespaces/t-gc/secrets/dep"));
    reply_dispose(&owner);
    reply_dispose(&dep);
    reply_dispose(&d);
}

static void test_apiserver__namespace_deletion_removes_content(void **state)
{
    reply c, d;

    (void)state;
    create_namespace("t-nsdel");
    c = create_cm("t-nsdel", "a", NULL);
    d = call("DELETE", "/api/v1/namespaces/t-nsdel", NULL, NULL);
    assert_int_equal(d.status, 200);
    assert_string_equal(str(d.body, P("status", "phase")), "Terminating");
    assert_true(wait_gone("/api/v1/namespaces/t-nsdel"));
    reply_dispose(&c);
    c = call("GET", "/api/v1/namespaces/t-nsdel/configmaps/a", NULL, NULL);
    assert_int_equal(c.status, 404);
    reply_dispose(&c);
    reply_dispose(&d);
}

static void test_apiserver__watch_resumes_from_a_version(void **state)
{
    reply a, b, del;
    dtk_json *events;
    char q[256];

    (void)state;
    create_namespace("t-watch");
    a = create_cm("t-watch", "a", NULL);
    b = create_cm("t-watch", "b", NULL);
    del = call("DELETE", "/api/v1/namespaces/t-watch/configmaps/a", NULL, NULL);
    snprintf(q, sizeof(q),
             "/api/v1/namespaces/t-watch/configmaps?watch=1&resourceVersion="
             "%lld&timeoutSeconds=1",
             (long long)rv_of(a.body));
    events = watch(q);
    assert_int_equal(dtk_json_len(events), 2);
    assert_string_equal(ev_type(events, 0), "ADDED");
    assert_string_equal(ev_name(events, 0), "b");
    assert_string_equal(ev_type(events, 1), "DELETED");
    assert_string_equal(ev_name(events, 1), "a");
    /* The DELETED object carries the deletion's own version. */
    assert_true(rv_of(dtk_json_get(dtk_json_at(events, 1), "object")) >
                rv_of(b.body));
    dtk_json_free(events);
    /* Without a version: synthetic ADDED for what exists. */
    events = watch("/api/v1/namespaces/t-watch/configmaps?watch=true&"
                   "timeoutSeconds=1");
    assert_int_equal(dtk_json_len(events), 1);
    assert_string_equal(ev_type(events, 0), "ADDED");
    assert_string_equal(ev_name(events, 0), "b");
    dtk_json_free(events);
    reply_dispose(&a);
    reply_dispose(&b);
    reply_dispose(&del);
}

static void test_apiserver__watch_bookmarks(void **state)
{
    dtk_json *events;
    reply a;
    size_t n;

    (void)state;
    create_namespace("t-bm");
    a = create_cm("t-bm", "a", NULL);
    /* --bookmark-interval 1: periodic bookmarks, and one before the end. */
    events = watch("/api/v1/namespaces/t-bm/configmaps?watch=1&"
                   "allowWatchBookmarks=true&timeoutSeconds=3&"
                   "resourceVersion=1");
    n = dtk_json_len(events);
    assert_true(n >= 3);
    assert_string_equal(ev_type(events, 0), "ADDED");
    assert_string_equal(ev_type(events, n - 1), "BOOKMARK");
    assert_string_equal(str(dtk_json_at(events, n - 1),
                            P("object", "kind")),
                        "ConfigMap");
    assert_null(dtk_json_path(dtk_json_at(events, n - 1),
                              P("object", "metadata", "name")));
    assert_true(rv_of(dtk_json_get(dtk_json_at(events, n - 1), "object")) >=
                rv_of(a.body));
    dtk_json_free(events);
    reply_dispose(&a);
}

static void test_apiserver__send_initial_events_ends_with_marked_bookmark(
    void **state)
{
    dtk_json *events;
    reply a, bad;
    const dtk_json *last;

    (void)state;
    create_namespace("t-init");
    a = create_cm("t-init", "a", NULL);
    events = watch("/api/v1/namespaces/t-init/configmaps?watch=1&"
                   "sendInitialEvents=true&resourceVersionMatch=NotOlderThan&"
                   "allowWatchBookmarks=true&timeoutSeconds=1");
    assert_true(dtk_json_len(events) >= 2);
    assert_string_equal(ev_type(events, 0), "ADDED");
    last = dtk_json_at(events, 1);
    assert_string_equal(dtk_json_get_string(last, "type"), "BOOKMARK");
    assert_string_equal(str(last, P("object", "metadata", "annotations",
                                    "k8s.io/initial-events-end")),
                        "true");
    dtk_json_free(events);
    bad = call("GET",
               "/api/v1/namespaces/t-init/configmaps?watch=1&"
               "sendInitialEvents=true",
               NULL, NULL);
    assert_int_equal(bad.status, 422);
    reply_dispose(&bad);
    reply_dispose(&a);
}

static void test_apiserver__compacted_history_gives_410(void **state)
{
    reply a, c, l;
    dtk_json *events;
    char q[256];

    (void)state;
    create_namespace("t-410");
    a = create_cm("t-410", "a", NULL);
    c = call("POST", "/_dtk/compact", "application/json", "{}");
    assert_int_equal(c.status, 200);
    reply_dispose(&c);
    c = create_cm("t-410", "b", NULL);
    snprintf(q, sizeof(q),
             "/api/v1/namespaces/t-410/configmaps?watch=1&resourceVersion="
             "%lld&timeoutSeconds=5",
             (long long)rv_of(a.body) - 1);
    events = watch(q);
    assert_int_equal(dtk_json_len(events), 1);
    assert_string_equal(ev_type(events, 0), "ERROR");
    assert_string_equal(str(dtk_json_at(events, 0), P("object", "reason")),
                        "Expired");
    assert_string_equal(dtk_json_path(dtk_json_at(events, 0),
                                      P("object", "code"))
                            ->u.number,
                        "410");
    dtk_json_free(events);
    snprintf(q, sizeof(q),
             "/api/v1/namespaces/t-410/configmaps?limit=10&resourceVersion="
             "%lld",
             (long long)rv_of(a.body) - 1);
    l = call("GET", q, NULL, NULL);
    assert_int_equal(l.status, 410);
    assert_string_equal(str(l.body, P("reason")), "Expired");
    reply_dispose(&l);
    reply_dispose(&a);
    reply_dispose(&c);
}

static void test_apiserver__paging_is_a_consistent_snapshot(void **state)
{
    reply p1, p2, extra, del;
    char q[512];

    (void)state;
    create_namespace("t-page");
    for (int i = 0; i < 5; i++) {
        char name[16];
        reply r;

        snprintf(name, sizeof(name), "c%d", i);
        r = create_cm("t-page", name, NULL);
        reply_dispose(&r);
    }
    p1 = call("GET", "/api/v1/namespaces/t-page/configmaps?limit=2", NULL,
              NULL);
    assert_int_equal(p1.status, 200);
    assert_int_equal(dtk_json_len(dtk_json_get(p1.body, "items")), 2);
    /* Changes after the first page do not show in the following pages. */
    extra = create_cm("t-page", "c9", NULL);
    del = call("DELETE", "/api/v1/namespaces/t-page/configmaps/c3", NULL,
               NULL);
    snprintf(q, sizeof(q), "/api/v1/namespaces/t-page/configmaps?limit=10&"
                           "continue=%s",
             str(p1.body, P("metadata", "continue")));
    p2 = call("GET", q, NULL, NULL);
    assert_int_equal(p2.status, 200);
    assert_int_equal(dtk_json_len(dtk_json_get(p2.body, "items")), 3);
    assert_string_equal(str(dtk_json_at(dtk_json_get(p2.body, "items"), 1),
                            P("metadata", "name")),
                        "c3");
    assert_null(dtk_json_path(p2.body, P("metadata", "continue")));
    assert_string_equal(str(p1.body, P("metadata", "resourceVersion")),
                        str(p2.body, P("metadata", "resourceVersion")));
    reply_dispose(&p1);
    reply_dispose(&p2);
    reply_dispose(&extra);
    reply_dispose(&del);
}

static void test_apiserver__faults_are_injected(void **state)
{
    reply f, r;

    (void)state;
    f = call("POST", "/_dtk/faults", "application/json",
             "{\"method\":\"GET\",\"path\":\"/api/v1/namespaces/default/"
             "secrets\",\"count\":2,\"code\":429,\"retryAfter\":3}");
    assert_int_equal(f.status, 201);
    reply_dispose(&f);
    r = call("GET", "/api/v1/namespaces/default/secrets", NULL, NULL);
    assert_int_equal(r.status, 429);
    assert_string_equal(r.retry_after, "3");
    assert_string_equal(str(r.body, P("reason")), "TooManyRequests");
    reply_dispose(&r);
    r = call("GET", "/api/v1/namespaces/default/secrets", NULL, NULL);
    assert_int_equal(r.status, 429);
    reply_dispose(&r);
    r = call("GET", "/api/v1/namespaces/default/secrets", NULL, NULL);
    assert_int_equal(r.status, 200);
    reply_dispose(&r);
}

static void test_apiserver__discovery_lists_crd_resources(void **state)
{
    reply r;
    const dtk_json *res;
    int found = 0, status = 0;

    (void)state;
    r = call("GET", "/apis/test.dtk.io/v1", NULL, NULL);
    assert_int_equal(r.status, 200);
    res = dtk_json_get(r.body, "resources");
    for (size_t i = 0; i < dtk_json_len(res); i++) {
        const char *name = dtk_json_get_string(dtk_json_at(res, i), "name");

        found |= strcmp(name, "widgets") == 0;
        status |= strcmp(name, "widgets/status") == 0;
    }
    assert_true(found && status);
    reply_dispose(&r);
    r = call("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
                    "widgets.test.dtk.io",
             NULL, NULL);
    assert_string_equal(
        str(dtk_json_at(dtk_json_path(r.body, P("status", "conditions")), 1),
            P("type")),
        "Established");
    reply_dispose(&r);
}

static void test_apiserver__slow_clients_do_not_block_others(void **state)
{
    int fds[20];
    struct sockaddr_in addr;
    reply r;
    static const char partial[] = "POST /api/v1/namespaces HTTP/1.1\r\n"
                                  "Host: x\r\nContent-Length: 1000\r\n";

    (void)state;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)server.port);
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    /* Twenty clients that send half a request and then stall. */
    for (int i = 0; i < 20; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fds[i] >= 0);
        assert_int_equal(connect(fds[i], (struct sockaddr *)&addr,
                                 sizeof(addr)),
                         0);
        assert_int_equal(write(fds[i], partial, sizeof(partial) - 1),
                         (ssize_t)(sizeof(partial) - 1));
    }
    r = call("GET", "/api/v1/namespaces/default", NULL, NULL);
    assert_int_equal(r.status, 200);
    reply_dispose(&r);
    for (int i = 0; i < 20; i++) {
        close(fds[i]);
    }
}

static void test_apiserver__delete_collection_by_label(void **state)
{
    reply a, b, d, l;

    (void)state;
    create_namespace("t-dc");
    a = create_cm("t-dc", "a", "{\"app\":\"x\"}");
    b = create_cm("t-dc", "b", "{\"app\":\"y\"}");
    d = call("DELETE", "/api/v1/namespaces/t-dc/configmaps?labelSelector=app%3Dx",
             NULL, NULL);
    assert_int_equal(d.status, 200);
    assert_int_equal(dtk_json_len(dtk_json_get(d.body, "items")), 1);
    l = call("GET", "/api/v1/namespaces/t-dc/configmaps", NULL, NULL);
    assert_int_equal(dtk_json_len(dtk_json_get(l.body, "items")), 1);
    assert_string_equal(str(dtk_json_at(dtk_json_get(l.body, "items"), 0),
                            P("metadata", "name")),
                        "b");
    reply_dispose(&a);
    reply_dispose(&b);
    reply_dispose(&d);
    reply_dispose(&l);
}

static void test_apiserver__selector_watch_turns_mismatch_into_delete(
    void **state)
{
    reply a, p1, p2;
    dtk_json *events;
    char q[256];

    (void)state;
    create_namespace("t-sel");
    a = create_cm("t-sel", "a", "{\"app\":\"web\"}");
    p1 = call("PATCH", "/api/v1/namespaces/t-sel/configmaps/a",
              "application/merge-patch+json",
              "{\"metadata\":{\"labels\":{\"app\":\"db\"}}}");
    p2 = call("PATCH", "/api/v1/namespaces/t-sel/configmaps/a",
              "application/merge-patch+json",
              "{\"metadata\":{\"labels\":{\"app\":\"web\"}}}");
    snprintf(q, sizeof(q),
             "/api/v1/namespaces/t-sel/configmaps?watch=1&labelSelector="
             "app%%3Dweb&resourceVersion=%lld&timeoutSeconds=1",
             (long long)rv_of(a.body));
    events = watch(q);
    /* Stopped matching: DELETED (previous state, this event's version);
     * matching again: ADDED. */
    assert_int_equal(dtk_json_len(events), 2);
    assert_string_equal(ev_type(events, 0), "DELETED");
    assert_string_equal(str(dtk_json_at(events, 0),
                            P("object", "metadata", "labels", "app")),
                        "web");
    assert_int_equal(rv_of(dtk_json_get(dtk_json_at(events, 0), "object")),
                     rv_of(p1.body));
    assert_string_equal(ev_type(events, 1), "ADDED");
    dtk_json_free(events);
    reply_dispose(&a);
    reply_dispose(&p1);
    reply_dispose(&p2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_apiserver__create_sets_server_fields_and_rejects_duplicates),
        cmocka_unit_test(test_apiserver__bad_input_gets_status_errors),
        cmocka_unit_test(test_apiserver__update_conflicts_and_noop),
        cmocka_unit_test(test_apiserver__custom_resource_update_rules),
        cmocka_unit_test(test_apiserver__finalizers_hold_deletion),
        cmocka_unit_test(test_apiserver__owner_deletion_collects_dependents),
        cmocka_unit_test(test_apiserver__namespace_deletion_removes_content),
        cmocka_unit_test(test_apiserver__watch_resumes_from_a_version),
        cmocka_unit_test(test_apiserver__watch_bookmarks),
        cmocka_unit_test(
            test_apiserver__send_initial_events_ends_with_marked_bookmark),
        cmocka_unit_test(test_apiserver__compacted_history_gives_410),
        cmocka_unit_test(test_apiserver__paging_is_a_consistent_snapshot),
        cmocka_unit_test(test_apiserver__faults_are_injected),
        cmocka_unit_test(test_apiserver__discovery_lists_crd_resources),
        cmocka_unit_test(test_apiserver__slow_clients_do_not_block_others),
        cmocka_unit_test(test_apiserver__delete_collection_by_label),
        cmocka_unit_test(
            test_apiserver__selector_watch_turns_mismatch_into_delete),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}

/* pkg/osb against the real @sap/sbf test broker (test/broker) on 127.0.0.1:
 * every operation sync and async, re-sent requests, polling with
 * Retry-After, 410 on delete, the orphan mitigation rows the broker can
 * produce (with injected faults for the rest), and the broker's own record
 * of the headers the client sent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/clock.h"
#include "pkg/base/error.h"
#include "pkg/http/http.h"
#include "pkg/osb/osb.h"
#include "test/support/broker.h"

#define TOKEN "test-bearer-token-0123456789"

static dtk_test_broker *broker;

typedef struct fx {
    dtk_osb_client *client;
    dtk_osb_reply reply;
    dtk_osb_context ctx;
    dtk_osb_request req;
} fx;

static int group_setup(void **state)
{
    dtk_test_broker_options o = DTK_TEST_BROKER_OPTIONS_INIT;

    (void)state;
    o.bearer_token = TOKEN;
    if (dtk_test_broker_start(&broker, &o) < 0) {
        fprintf(stderr, "cannot start the test broker: %s\n",
                dtk_error_last()->message);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    dtk_test_broker_stop(broker);
    broker = NULL;
    return 0;
}

static dtk_osb_client *client_with(const char *user,
                                   const char *password,
                                   const char *token,
                                   long timeout_ms)
{
    dtk_osb_options o = DTK_OSB_OPTIONS_INIT;
    dtk_osb_client *c = NULL;

    o.url = dtk_test_broker_url(broker);
    o.username = user;
    o.password = password;
    o.bearer_token = token;
    o.timeout_ms = timeout_ms;
    assert_int_equal(dtk_osb_client_new(&c, &o), 0);
    return c;
}

static int setup(void **state)
{
    fx *f = dtk_calloc(1, sizeof(*f));
    dtk_osb_reply empty = DTK_OSB_REPLY_INIT;
    dtk_osb_request req = DTK_OSB_REQUEST_INIT;

    assert_int_equal(dtk_test_broker_reset(broker), 0);
    f->client = client_with(dtk_test_broker_username(broker),
                            dtk_test_broker_password(broker), NULL, 10000);
    f->reply = empty;
    f->ctx.clusterid = "cluster-7";
    f->ctx.namespace = "team-a";
    f->ctx.namespace_uid = "ns-uid-42";
    f->ctx.instance_name = "db";
    f->req = req;
    f->req.instance_id = "inst-1";
    f->req.service_id = "svc-db";
    f->req.plan_id = "plan-sync";
    f->req.context = &f->ctx;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;

    dtk_osb_reply_dispose(&f->reply);
    dtk_osb_client_free(f->client);
    dtk_free(f);
    return 0;
}

/* ---- helpers over the broker's record --------------------------------- */

static dtk_json *requests(void)
{
    dtk_json *doc = NULL;

    assert_int_equal(
        dtk_test_broker_call(broker, "GET", "/test/requests", NULL, &doc), 0);
    return doc;
}

/* The n-th recorded request (negative: from the end); borrowed from doc. */
static const dtk_json *request_at(const dtk_json *doc, long n)
{
    const dtk_json *list = dtk_json_get(doc, "requests");
    size_t len = dtk_json_len(list);

    assert_true(len > 0);
    if (n < 0) {
        n += (long)len;
    }
    assert_true(n >= 0 && (size_t)n < len);
    return dtk_json_at(list, (size_t)n);
}

/* The last recorded request with this method; borrowed from doc. */
static const dtk_json *last_with_method(const dtk_json *doc, const char *method)
{
    const dtk_json *list = dtk_json_get(doc, "requests");

    for (size_t i = dtk_json_len(list); i > 0; i--) {
        const dtk_json *rec = dtk_json_at(list, i - 1);

        if (strcmp(dtk_json_get_string(rec, "method"), method) == 0) {
            return rec;
        }
    }
    fail_msg("no %s request recorded", method);
    return NULL;
}

static const char *header(const dtk_json *rec, const char *name)
{
    return dtk_json_get_string(dtk_json_get(rec, "headers"), name);
}

static const char *str_at(const dtk_json *v, const char *const *path)
{
    return dtk_json_string(dtk_json_path(v, path));
}

static dtk_json *broker_state(void)
{
    dtk_json *doc = NULL;

    assert_int_equal(
        dtk_test_broker_call(broker, "GET", "/test/state", NULL, &doc), 0);
    return doc;
}

static const dtk_json *state_instance(const dtk_json *st, const char *id)
{
    return dtk_json_get(dtk_json_get(st, "instances"), id);
}

static size_t count_instances(void)
{
    dtk_json *st = broker_state();
    size_t n = dtk_json_len(dtk_json_get(st, "instances"));

    dtk_json_free(st);
    return n;
}

static dtk_json *json(const char *text)
{
    dtk_json *v = NULL;

    assert_int_equal(dtk_json_parse(&v, text, strlen(text)), 0);
    return v;
}

/* Polls until the decision is no longer POLL, waiting as told (bounded). */
static int poll_until_done(fx *f,
                           dtk_osb_op polled,
                           const char *operation,
                           int *polls_out)
{
    dtk_osb_request r = f->req;
    int error;
    int polls = 0;

    r.polled = polled;
    r.operation = operation;
    for (;;) {
        error = dtk_osb_last_operation(&f->reply, f->client, &r);
        polls++;
        if (f->reply.decision.action != DTK_OSB_POLL || polls > 20) {
            break;
        }
        assert_true(f->reply.decision.delay_s >= 1 &&
                    f->reply.decision.delay_s <= 2);
        dtk_clock_sleep_ms(f->reply.decision.delay_s * 1000L);
    }
    if (polls_out != NULL) {
        *polls_out = polls;
    }
    return error;
}

/* ---- tests --------------------------------------------------------------- */

static void test_osb__catalog_has_plans_schemas_and_flags(void **state)
{
    fx *f = *state;
    dtk_osb_catalog *cat = NULL;
    const dtk_osb_service *s;
    const dtk_osb_plan *p;
    dtk_json *log;
    const dtk_json *rec;
    const char *rid;

    assert_int_equal(dtk_osb_catalog_fetch(&cat, &f->reply, f->client, NULL),
                     0);
    assert_int_equal(f->reply.decision.action, DTK_OSB_DONE);
    s = dtk_osb_catalog_service(cat, "dtk-test-db");
    assert_non_null(s);
    assert_true(s->instances_retrievable && s->bindings_retrievable);
    assert_int_equal(s->plan_count, 3);
    p = dtk_osb_service_plan(s, "small");
    assert_non_null(p->schema_instance_create);
    assert_string_equal(p->maintenance_version, "1.0.0");
    assert_int_equal(dtk_osb_service_plan(s, "async")->maximum_polling_duration,
                     60);
    assert_false(dtk_osb_service_plan(s, "unbindable")->bindable);

    log = requests();
    rec = request_at(log, -1);
    assert_string_equal(dtk_json_get_string(rec, "path"), "/v2/catalog");
    assert_string_equal(header(rec, "x-broker-api-version"), "2.17");
    assert_string_equal(dtk_json_get_string(rec, "auth_scheme"), "Basic");
    assert_string_equal(dtk_json_get_string(rec, "auth_user"), "broker");
    assert_null(header(rec, "x-broker-api-originating-identity"));
    rid = header(rec, "x-broker-api-request-identity");
    assert_non_null(rid);
    assert_int_equal(strlen(rid), 36);
    assert_int_equal(rid[14], '4'); /* a version 4 GUID */
    assert_string_equal(f->reply.request_id, rid);
    dtk_json_free(log);
    dtk_osb_catalog_free(cat);
}

static void test_osb__headers_carry_version_identities_and_auth(void **state)
{
    fx *f = *state;
    static const char *const groups[] = {"system:authenticated", "admins",
                                         NULL};
    static const char *const ctx_path[] = {"body", "context", NULL};
    static const char *const user_path[] = {"originating_identity", "value",
                                            "username", NULL};
    static const char *const platform_path[] = {"originating_identity",
                                                "platform", NULL};
    dtk_json *extra = json("{\"scopes\":[\"db.admin\"]}");
    dtk_json *annotations = json("{\"team\":\"a\"}");
    dtk_osb_identity id = {"alice", "uid-alice", groups, extra};
    dtk_json *log;
    dtk_json *expected;
    const dtk_json *rec;
    dtk_buf dump = DTK_BUF_INIT(0);

    f->ctx.instance_annotations = annotations;
    f->req.identity = &id;
    f->req.request_id = "req-0001";
    f->req.maintenance_version = "1.0.0";
    assert_int_equal(dtk_osb_provision(&f->reply, f->client, &f->req), 0);
    assert_int_equal(f->reply.status, 201);
    assert_string_equal(f->reply.request_id, "req-0001");

    log = requests();
    rec = request_at(log, -1);
    assert_string_equal(dtk_json_get_string(rec, "method"), "PUT");
    assert_string_equal(dtk_json_get_string(rec, "path"),
                        "/v2/service_instances/inst-1");
    assert_string_equal(dtk_json_get_string(rec, "query"),
                        "accepts_incomplete=true");
    assert_string_equal(header(rec, "x-broker-api-version"), "2.17");
    assert_string_equal(header(rec, "x-broker-api-request-identity"),
                        "req-0001");
    assert_string_equal(header(rec, "content-type"), "application/json");
    /* SBF parsed the identity (a malformed one is a 400) and so did the
     * recorder: */
    assert_string_equal(str_at(rec, platform_path), "kubernetes");
    assert_string_equal(str_at(rec, user_path), "alice");
    expected = json("{\"username\":\"alice\",\"uid\":\"uid-alice\","
                    "\"groups\":[\"system:authenticated\",\"admins\"],"
                    "\"extra\":{\"scopes\":[\"db.admin\"]}}");
    assert_true(dtk_json_equal(
        dtk_json_get(dtk_json_get(rec, "originating_identity"), "value"),
        expected));
    dtk_json_free(expected);
    expected = json("{\"platform\":\"kubernetes\",\"namespace\":\"team-a\","
                    "\"clusterid\":\"cluster-7\",\"instance_name\":\"db\","
                    "\"instance_annotations\":{\"team\":\"a\"}}");
    assert_true(dtk_json_equal(dtk_json_path(rec, ctx_path), expected));
    dtk_json_free(expected);
    assert_string_equal(
        dtk_json_get_string(dtk_json_get(rec, "body"), "organization_guid"),
        "cluster-7");
    assert_string_equal(
        dtk_json_get_string(dtk_json_get(rec, "body"), "space_guid"),
        "ns-uid-42");
    assert_string_equal(dtk_json_get_string(rec, "auth_scheme"), "Basic");
    /* The password is never in the broker's record. */
    assert_int_equal(dtk_json_write(&dump, log), 0);
    assert_null(strstr(dtk_buf_cstr(&dump), dtk_test_broker_password(broker)));
    dtk_buf_dispose(&dump);
    dtk_json_free(log);
    dtk_json_free(extra);
    dtk_json_free(annotations);
}

static void test_osb__wrong_password_is_unauthorized_without_leaking(
    void **state)
{
    fx *f = *state;
    dtk_osb_client *bad =
        client_with("broker", "not-the-password-S3CRET", NULL, 5000);
    dtk_osb_catalog *cat = NULL;

    (void)f;
    assert_int_equal(dtk_osb_catalog_fetch(&cat, &f->reply, bad, NULL),
                     DTK_EAUTH);
    assert_null(cat);
    assert_int_equal(f->reply.status, 401);
    assert_int_equal(f->reply.decision.action, DTK_OSB_RETRY);
    assert_string_equal(dtk_error_last()->message,
                        "catalog: broker answered 401: Unauthorized");
    assert_null(strstr(dtk_error_last()->message, "S3CRET"));
    dtk_osb_client_free(bad);
}

static void test_osb__bearer_token_is_sent(void **state)
{
    fx *f = *state;
    dtk_osb_client *c = client_with(NULL, NULL, TOKEN, 5000);
    dtk_osb_client *wrong = client_with(NULL, NULL, "other-token", 5000);
    dtk_osb_catalog *cat = NULL;
    dtk_json *log;
    int64_t status = 0;

    assert_int_equal(dtk_osb_catalog_fetch(&cat, &f->reply, c, NULL), 0);
    assert_non_null(cat);
    dtk_osb_catalog_free(cat);
    assert_int_equal(dtk_osb_catalog_fetch(&cat, &f->reply, wrong, NULL),
                     DTK_EAUTH);
    log = requests();
    assert_string_equal(dtk_json_get_string(request_at(log, -2), "auth_scheme"),
                        "Bearer");
    assert_string_equal(dtk_json_get_string(request_at(log, -1), "auth_scheme"),
                        "Bearer");
    assert_int_equal(
        dtk_json_int(&status, dtk_json_get(request_at(log, -1), "status")), 0);
    assert_int_equal(status, 401);
    dtk_json_free(log);
    dtk_osb_client_free(c);
    dtk_osb_client_free(wrong);
}

static void test_osb__sync_provision_is_idempotent(void **state)
{
    fx *f = *state;
    dtk_json *small = json("{\"size\":\"small\"}");
    dtk_json *large = json("{\"size\":\"large\"}");
    dtk_json *st;

    f->req.parameters = small;
    assert_int_equal(dtk_osb_provision(&f->reply, f->client, &f->req), 0);
    assert_int_equal(f->reply.status, 201);
    assert_int_equal(f->reply.decision.action, DTK_OSB_DONE);
    assert_string_equal(f->reply.dashboard_url,
                        "http://127.0.0.1/dashboard/inst-1");
    /* Re-sent after a crash: same answer, still one instance. */
    assert_int_equal(dtk_osb_provision(&f->reply, f->client, &f->req), 0);
    assert_int_equal(f->reply.decision.action, DTK_OSB_DONE);
    assert_int_equal(count_instances(), 1);
    /* Same id, other attributes: 409, terminal, no orphan mitigation. */
    f->req.parameters = large;
    assert_int_equal(dtk_osb_provision(&f->reply, f->client, &f->req),
                     DTK_EINVALID);
    assert_int_equal(f->reply.status, 409);
    assert_int_equal(f->reply.decision.action, DTK_OSB_FAILED);
    assert_string_equal(dtk_error_last()->message,
                        "provision: broker answered 409: instance exists "
                        "with different attributes");
    st = broker_state();
    assert_string_equal(
        dtk_json_get_string(
            dtk_json_get(state_instance(st, "inst-1"), "parameters"), "size"),
        "small");
    dtk_json_free(st);
    dtk_json_free(small);
    dtk_json_free(large);
}

static void test_osb__async_provision_polls_with_retry_after(void **state)
{
    fx *f = *state;
    dtk_json *params = json("{\"polls\":2}");
    dtk_json *log;
    char *operation;
    int polls = 0;

    f->req.plan_id = "plan-async";
    f->req.parameters = params;
    assert_int_equal(dtk_osb_provision(&f->reply, f->client, &f->req), 0);
    assert_int_equal(f->reply.status, 202);
    assert_int_equal(f->reply.decision.action, DTK_OSB_POLL);
    assert_string_equal(f->reply.operation, "provision/1 a&b=c#d%");
    assert_non_null(f->reply.dashboard_url);
    operation = dtk_strdup(f->reply.operation);
    /* A re-sent PUT gets the same operation. */
    assert_int_equal(dtk_osb_provision(&f->reply, f->client, &f->req), 0);
    assert_int_equal(f->reply.status, 202);
    assert_string_equal(f->reply.operation, operation);

    assert_int_equal(
        poll_until_done(f, DTK_OSB_OP_PROVISION, operation, &polls), 0);
    assert_int_equal(f->reply.decision.action, DTK_OSB_DONE);
    assert_int_equal(polls, 3); /* two "in progress" with Retry-After: 1 */
    log = requests();
    assert_string_equal(dtk_json_get_string(request_at(log, -1), "path"),
                        "/v2/service_instances/inst-1/last_operation");
    assert_string_equal(dtk_json_get_string(request_at(log, -1), "query"),
                        "service_id=svc-db&plan_id=plan-async&operation="
                        "provision%2F1%20a%26b%3Dc%23d%25");
    dtk_json_free(log);

    /* The instance is retrievable now (404 while provisioning). */
    assert_int_equal(dtk_osb_fetch(&f->reply, f->client, &f->req), 0);
    assert_int_equal(f->reply.decision.action, DTK_OSB_DONE);
    assert_string_equal(dtk_json_get_string(f->reply.body, "plan_id"),
                        "plan-async");
    dtk_free(operation);
    dtk_json_free(params);
}

static void test_osb__async_failure_is_orphan_mitigated(void **state)
{
    fx *f = *state;
    dtk_json *params = json("{\"fail\":true,\"polls\":0}");
    static const char *const groups[] = {NULL};
    dtk_osb_identity id = {"bob", "uid-bob", groups, NULL};
    dtk_json *log;
    const dtk_json *rec;
    char *operation;

    f->req.plan_id = "plan-async";
    f->req.parameters = params;
    f->req.identity = &id;
    assert_int_equal(dtk_osb_provision(&f->reply, f->client, &f->req), 0);
    operation = dtk_strdup(f->reply.operation);
    assert_int_equal(poll_until_done(f, DTK_OSB_OP_PROVISION, operation, NULL),
                     DTK_ERROR);
    assert_int_equal(f->reply.decision.action, DTK_OSB_ORPHAN);
    assert_string_equal(dtk_error_last()->message,
                        "poll provision: operation failed: injected failure "
                        "of provision (orphan mitigation required)");
    assert_int_equal(count_instances(), 1);

    /* Orphan mitigation: DELETE without originating identity. */
    f->req.identity = NULL;
    assert_int_equal(dtk_osb_deprovision(&f->reply, f->client, &f->req), 0);
    assert_int_equal(f->reply.status, 202);
    dtk_free(operation);
    operation = dtk_strdup(f->reply.operation);
    assert_int_equal(
        poll_until_done(f, DTK_OSB_OP_DEPROVISION, operation, NULL), 0);
    assert_int_equal(f->reply.decision.action, DTK_OSB_DONE);
    assert_int_equal(count_instances(), 0);
    log = requests();
    rec = last_with_method(log, "DELETE");
    assert_string_equal(dtk_json_get_string(rec, "query"),
                        "accepts_incomplete=true&service_id=svc-db&plan_id="
                        "plan-async");
    assert_null(header(rec, "x-broker-api-originating-identity"));
    assert_non_null(
        header(request_at(log, 0), "x-broker-api-originating-identity"));
    dtk_json_free(log);
    /* The resource is gone: a repeated DELETE is 410, i.e. success. */
    assert_int_equal(dtk_osb_deprovision(&f->reply, f->client, &f->req), 0);
    assert_int_equal(f->reply.status, 410);
    assert_int_equal(f->reply.decision.action, DTK_OSB_GONE);
    dtk_free(operation);
    dtk_json_free(params);
}

static void test_osb__sync_500_leaves_an_orphan_to_deprovision(void **state)
{
    fx *f = *state;
    dtk_json *params = json("{\"fail\":true}");

    f->req.parameters = params;
    assert_int_equal(dtk_osb_provision(&f->reply, f->client, &f->req),
                     DTK_EUNAVAIL);
    assert_int_equal(f->reply.status, 500);
    assert_int_equal(f->reply.decision.action, DTK_OSB_ORPHAN);
    assert_string_equal(dtk_error_last()->message,
                        "provision: broker answered 500: injected provision "
                        "failure (orphan mitigation required)");
    assert_int_equal(count_instances(), 1); /* the orphan */
    assert_int_equal(dtk_osb_deprovision(&f->reply, f->client, &f->req), 0);
    assert_int_equal(f->reply.status, 200);
    assert_int_equal(f->reply.decision.action, DTK_OSB_DONE);
    assert_int_equal(count_instances(), 0);
    assert_int_equal(dtk_osb_deprovision(&f->reply, f->client, &f->req), 0);
    assert_int_equal(f->reply.decision.action, DTK_OSB_GONE);
    dtk_json_free(params);
}

static void test_osb__client_timeout_on_provision_is_an_orphan(void **state)
{
    fx *f = *state;
    dtk_osb_client *quick =
        client_with(dtk_test_broker_username(broker),
                    dtk_test_broker_password(broker), NULL, 500);
    dtk_json *params = json("{\"delay_seconds\":2}");
    int64_t deadline;

    f->req.parameters = params;
    assert_int_equal(dtk_osb_provision(&f->reply, quick, &f->req),
                     DTK_ETIMEOUT);
    assert_int_equal(f->reply.decision.action, DTK_OSB_ORPHAN);
    assert_string_equal(f->reply.decision.reason, "Timeout");
    assert_int_equal(count_instances(), 1);
    /* A timed-out DELETE is simply retried, no orphan mitigation. */
    assert_int_equal(dtk_test_broker_fault(broker, "{\"method\":\"DELETE\","
                                                   "\"delay_ms\":1500}"),
                     0);
    assert_int_equal(dtk_osb_deprovision(&f->reply, quick, &f->req),
                     DTK_ETIMEOUT);
    assert_int_equal(f->reply.decision.action, DTK_OSB_RETRY);
    /* The broker still carries out the DELETE the client gave up on
     * (wait for it, so it cannot touch the next test's state); the retry
     * then finds the instance gone: 410, success. */
    deadline = dtk_clock_now_ms() + 10000;
    while (count_instances() != 0) {
        assert_true(dtk_clock_now_ms() < deadline);
        dtk_clock_sleep_ms(50);
    }
    assert_int_equal(dtk_osb_deprovision(&f->reply, f->client, &f->req), 0);
    assert_int_equal(f->reply.decision.action, DTK_OSB_GONE);
    dtk_osb_client_free(quick);
    dtk_json_free(params);
}

static void test_osb__update_sends_previous_values(void **state)
{
    fx *f = *state;
    static const char *const prev_plan[] = {"body", "previous_values",
                                            "plan_id", NULL};
    static const char *const prev_mi[] = {"body", "previous_values",
                                          "maintenance_info", "version", NULL};
    dtk_json *large = json("{\"size\":\"large\"}");
    dtk_json *log;
    dtk_json *st;
    const dtk_json *rec;

    assert_int_equal(dtk_osb_provision(&f->reply, f->client, &f->req), 0);
    f->req.parameters = large;
    f->req.plan_id = NULL; /* no plan change */
    f->req.previous_plan_id = "plan-sync";
    f->req.previous_maintenance_version = "1.0.0";
    assert_int_equal(dtk_osb_update(&f->reply, f->client, &f->req), 0);
    assert_int_equal(f->reply.status, 200);
    assert_int_equal(f->reply.decision.action, DTK_OSB_DONE);
    log = requests();
    rec = request_at(log, -1);
    assert_string_equal(dtk_json_get_string(rec, "method"), "PATCH");
    assert_string_equal(dtk_json_get_string(rec, "query"),
                        "accepts_incomplete=true");
    assert_string_equal(str_at(rec, prev_plan), "plan-sync");
    assert_string_equal(str_at(rec, prev_mi), "1.0.0");
    assert_null(dtk_json_get(dtk_json_get(rec, "body"), "plan_id"));
    st = broker_state();
    assert_string_equal(
        dtk_json_get_string(
            dtk_json_get(state_instance(st, "inst-1"), "parameters"), "size"),
        "large");
    assert_string_equal(
        dtk_json_get_string(state_instance(st, "inst-1"), "plan_id"),
        "plan-sync");
    dtk_json_free(st);
    dtk_json_free(log);
    dtk_json_free(large);
}

static void test_osb__async_update_and_concurrency_error(void **state)
{
    fx *f = *state;
    dtk_json *params = json("{\"polls\":0}");
    char *operation;

    f->req.plan_id = "plan-async";
    assert_int_equal(dtk_osb_provision(&f->reply, f->client, &f->req), 0);
    operation = dtk_strdup(f->reply.operation);
    assert_int_equal(poll_until_done(f, DTK_OSB_OP_PROVISION, operation, NULL),
                     0);
    dtk_free(operation);
    f->req.parameters = params;
    f->req.previous_plan_id = "plan-async";
    assert_int_equal(dtk_osb_update(&f->reply, f->client, &f->req), 0);
    assert_int_equal(f->reply.status, 202);
    operation = dtk_strdup(f->reply.operation);
    /* While it runs, another mutation is a ConcurrencyError: retry later,
     * never orphan-mitigate. */
    assert_int_equal(dtk_osb_deprovision(&f->reply, f->client, &f->req),
                     DTK_ECONFLICT);
    assert_int_equal(f->reply.status, 422);
    assert_string_equal(f->reply.error, "ConcurrencyError");
    assert_int_equal(f->reply.decision.action, DTK_OSB_RETRY);
    assert_int_equal(count_instances(), 1);
    assert_int_equal(poll_until_done(f, DTK_OSB_OP_UPDATE, operation, NULL), 0);
    assert_int_equal(f->reply.decision.action, DTK_OSB_DONE);
    dtk_free(operation);
    dtk_json_free(params);
}

static void test_osb__sync_bind_and_unbind(void **state)
{
    fx *f = *state;
    static const char *const app_guid[] = {"body", "bind_resource", "app_guid",
                                           NULL};
    const dtk_json *creds;
    dtk_json *log;
    dtk_json *st;
    dtk_buf dump = DTK_BUF_INIT(0);
    char *password;

    assert_int_equal(dtk_osb_provision(&f->reply, f->client, &f->req), 0);
    f->req.binding_id = "bind-1";
    assert_int_equal(dtk_osb_bind(&f->reply, f->client, &f->req), 0);
    assert_int_equal(f->reply.status, 201);
    creds = dtk_osb_reply_credentials(&f->reply);
    assert_non_null(creds);
    assert_string_equal(dtk_json_get_string(creds, "username"), "user-bind-1");
    password = dtk_strdup(dtk_json_get_string(creds, "password"));
    /* Re-sent bind: same binding, same credentials. */
    assert_int_equal(dtk_osb_bind(&f->reply, f->client, &f->req), 0);
    assert_string_equal(
        dtk_json_get_string(dtk_osb_reply_credentials(&f->reply), "password"),
        password);
    log = requests();
    assert_string_equal(str_at(request_at(log, -1), app_guid), "ns-uid-42");
    assert_string_equal(dtk_json_get_string(request_at(log, -1), "query"),
                        "accepts_incomplete=true");
    dtk_json_free(log);
    /* The broker's state endpoint never shows credentials. */
    st = broker_state();
    assert_int_equal(dtk_json_write(&dump, st), 0);
    assert_null(strstr(dtk_buf_cstr(&dump), password));
    dtk_json_free(st);
    dtk_buf_dispose(&dump);

    assert_int_equal(dtk_osb_unbind(&f->reply, f->client, &f->req), 0);
    assert_int_equal(f->reply.status, 200);
    assert_int_equal(f->reply.decision.action, DTK_OSB_DONE);
    assert_int_equal(dtk_osb_unbind(&f->reply, f->client, &f->req), 0);
    assert_int_equal(f->reply.status, 410);
    assert_int_equal(f->reply.decision.action, DTK_OSB_GONE);
    assert_null(dtk_osb_reply_credentials(&f->reply));
    dtk_free(password);
}

static void test_osb__async_bind_gets_credentials_by_fetch(void **state)
{
    fx *f = *state;
    char *operation;
    dtk_json *st;

    f->req.plan_id = "plan-async";
    assert_int_equal(dtk_osb_provision(&f->reply, f->client, &f->req), 0);
    operation = dtk_strdup(f->reply.operation);
    assert_int_equal(poll_until_done(f, DTK_OSB_OP_PROVISION, operation, NULL),
                     0);
    dtk_free(operation);
    f->req.binding_id = "bind-async";
    assert_int_equal(dtk_osb_bind(&f->reply, f->client, &f->req), 0);
    assert_int_equal(f->reply.status, 202);
    /* SBF adds "credentials": {} to the 202; the client drops it. */
    assert_null(dtk_osb_reply_credentials(&f->reply));
    operation = dtk_strdup(f->reply.operation);
    /* Not retrievable yet. */
    assert_int_equal(dtk_osb_fetch(&f->reply, f->client, &f->req), 0);
    assert_int_equal(f->reply.decision.action, DTK_OSB_GONE);
    assert_int_equal(poll_until_done(f, DTK_OSB_OP_BIND, operation, NULL), 0);
    assert_int_equal(f->reply.decision.action, DTK_OSB_DONE);
    assert_int_equal(dtk_osb_fetch(&f->reply, f->client, &f->req), 0);
    assert_int_equal(f->reply.op, DTK_OSB_OP_FETCH_BINDING);
    assert_string_equal(
        dtk_json_get_string(dtk_osb_reply_credentials(&f->reply), "uri"),
        "testdb://127.0.0.1:5432/bind-async");
    dtk_free(operation);

    assert_int_equal(dtk_osb_unbind(&f->reply, f->client, &f->req), 0);
    assert_int_equal(f->reply.status, 202);
    operation = dtk_strdup(f->reply.operation);
    assert_int_equal(poll_until_done(f, DTK_OSB_OP_UNBIND, operation, NULL), 0);
    st = broker_state();
    assert_int_equal(dtk_json_len(dtk_json_get(st, "bindings")), 0);
    dtk_json_free(st);
    dtk_free(operation);
}

static void test_osb__unbindable_plan_and_maintenance_conflict(void **state)
{
    fx *f = *state;

    f->req.plan_id = "plan-nobind";
    assert_int_equal(dtk_osb_provision(&f->reply, f->client, &f->req), 0);
    f->req.binding_id = "b";
    assert_int_equal(dtk_osb_bind(&f->reply, f->client, &f->req), DTK_EINVALID);
    assert_int_equal(f->reply.status, 400);
    assert_string_equal(f->reply.decision.reason, "BadRequest");
    assert_string_equal(dtk_error_last()->message,
                        "bind: broker answered 400: Service or plan not "
                        "bindable");
    f->req.instance_id = "inst-2";
    f->req.plan_id = "plan-sync";
    f->req.maintenance_version = "0.9.0";
    assert_int_equal(dtk_osb_provision(&f->reply, f->client, &f->req),
                     DTK_EINVALID);
    assert_string_equal(f->reply.decision.reason, "MaintenanceInfoConflict");
    assert_int_equal(count_instances(), 1);
}

static void test_osb__last_operation_for_unknown_instance(void **state)
{
    fx *f = *state;
    dtk_osb_request r = f->req;

    r.instance_id = "never-created";
    r.operation = "x";
    r.polled = DTK_OSB_OP_PROVISION;
    assert_int_equal(dtk_osb_last_operation(&f->reply, f->client, &r),
                     DTK_EINVALID);
    assert_int_equal(f->reply.status, 404);
    assert_string_equal(f->reply.decision.reason, "NotFound");
    r.polled = DTK_OSB_OP_DEPROVISION;
    assert_int_equal(dtk_osb_last_operation(&f->reply, f->client, &r), 0);
    assert_int_equal(f->reply.decision.action, DTK_OSB_GONE);
}

static void test_osb__malformed_and_unexpected_answers(void **state)
{
    fx *f = *state;

    /* 201 with an HTML body: the broker did create it: orphan. */
    assert_int_equal(dtk_test_broker_fault(
                         broker, "{\"method\":\"PUT\",\"passthrough\":true,"
                                 "\"status\":201,\"content_type\":\"text/"
                                 "html\",\"body\":\"<html>ok</html>\"}"),
                     0);
    assert_int_equal(dtk_osb_provision(&f->reply, f->client, &f->req),
                     DTK_ERROR);
    assert_int_equal(f->reply.decision.action, DTK_OSB_ORPHAN);
    assert_string_equal(dtk_error_last()->message,
                        "provision: broker sent an invalid 201 body (orphan "
                        "mitigation required)");
    assert_int_equal(count_instances(), 1);

    /* 204 to a bind: other 2xx, orphan. */
    f->req.binding_id = "b-204";
    assert_int_equal(dtk_test_broker_fault(broker,
                                           "{\"path\":\"service_bindings\","
                                           "\"passthrough\":true,"
                                           "\"status\":204}"),
                     0);
    assert_int_equal(dtk_osb_bind(&f->reply, f->client, &f->req), DTK_ERROR);
    assert_int_equal(f->reply.decision.action, DTK_OSB_ORPHAN);
    assert_string_equal(f->reply.decision.reason, "UnexpectedStatus");

    /* A dropped connection during bind: no answer, orphan. libcurl
     * silently re-sends once on a reused connection that died, so the
     * fault hits twice (bind PUTs are idempotent, so that re-send is
     * harmless). */
    f->req.binding_id = "b-drop";
    assert_int_equal(dtk_test_broker_fault(broker,
                                           "{\"path\":\"service_bindings\","
                                           "\"destroy\":true,\"times\":2}"),
                     0);
    assert_int_equal(dtk_osb_bind(&f->reply, f->client, &f->req), DTK_EUNAVAIL);
    assert_int_equal(f->reply.decision.action, DTK_OSB_ORPHAN);
    assert_string_equal(f->reply.decision.reason, "Unreachable");

    /* Update answered with an HTML 500: retry, never orphan-mitigate. */
    assert_int_equal(
        dtk_test_broker_fault(broker, "{\"method\":\"PATCH\",\"status\":500,"
                                      "\"content_type\":\"text/html\","
                                      "\"body\":\"<h1>crash</h1>\"}"),
        0);
    assert_int_equal(dtk_osb_update(&f->reply, f->client, &f->req),
                     DTK_EUNAVAIL);
    assert_int_equal(f->reply.decision.action, DTK_OSB_RETRY);
    assert_null(f->reply.description);

    /* 408 from the broker: retry, no orphan mitigation. */
    assert_int_equal(dtk_test_broker_fault(broker,
                                           "{\"method\":\"DELETE\","
                                           "\"status\":408,\"body\":\"\"}"),
                     0);
    assert_int_equal(dtk_osb_deprovision(&f->reply, f->client, &f->req),
                     DTK_ETIMEOUT);
    assert_int_equal(f->reply.decision.action, DTK_OSB_RETRY);
    assert_int_equal(count_instances(), 1);

    /* A 1.5 MiB body on a provision answer is over the 1 MiB limit. */
    f->req.instance_id = "inst-big";
    assert_int_equal(dtk_test_broker_fault(
                         broker, "{\"method\":\"PUT\",\"passthrough\":true,"
                                 "\"status\":201,\"body_size\":1572864}"),
                     0);
    assert_int_equal(dtk_osb_provision(&f->reply, f->client, &f->req),
                     DTK_ERROR);
    assert_int_equal(f->reply.decision.action, DTK_OSB_ORPHAN);
    assert_string_equal(dtk_error_last()->message,
                        "provision: broker answered 201 with a body over the "
                        "size limit (orphan mitigation required)");
    assert_int_equal(count_instances(), 2);
}

static void test_osb__202_without_operation_and_410_polls(void **state)
{
    fx *f = *state;
    dtk_json *params = json("{\"polls\":1}");
    dtk_json *log;
    dtk_osb_request r;

    f->req.plan_id = "plan-async";
    f->req.parameters = params;
    /* A broker that sends no operation (overview-broker does that). */
    assert_int_equal(dtk_test_broker_fault(
                         broker, "{\"method\":\"PUT\",\"passthrough\":true,"
                                 "\"status\":202,\"body\":\"{}\"}"),
                     0);
    assert_int_equal(dtk_osb_provision(&f->reply, f->client, &f->req), 0);
    assert_int_equal(f->reply.decision.action, DTK_OSB_POLL);
    assert_null(f->reply.operation);
    /* 410 while polling a provision is invalid: keep polling. */
    assert_int_equal(dtk_test_broker_fault(broker,
                                           "{\"path\":\"last_operation\","
                                           "\"status\":410,\"body\":\"{}\"}"),
                     0);
    r = f->req;
    r.polled = DTK_OSB_OP_PROVISION;
    assert_int_equal(dtk_osb_last_operation(&f->reply, f->client, &r), 0);
    assert_int_equal(f->reply.decision.action, DTK_OSB_POLL);
    assert_string_equal(f->reply.decision.reason, "InvalidResponse");
    assert_int_equal(poll_until_done(f, DTK_OSB_OP_PROVISION, NULL, NULL), 0);
    assert_int_equal(f->reply.decision.action, DTK_OSB_DONE);
    log = requests();
    assert_string_equal(dtk_json_get_string(request_at(log, -1), "query"),
                        "service_id=svc-db&plan_id=plan-async");
    dtk_json_free(log);

    /* 410 while polling a deprovision means gone: success. */
    assert_int_equal(dtk_osb_deprovision(&f->reply, f->client, &f->req), 0);
    assert_int_equal(f->reply.decision.action, DTK_OSB_POLL);
    assert_int_equal(dtk_test_broker_fault(broker,
                                           "{\"path\":\"last_operation\","
                                           "\"status\":410,\"body\":\"{}\"}"),
                     0);
    r.polled = DTK_OSB_OP_DEPROVISION;
    r.operation = f->reply.operation;
    assert_int_equal(dtk_osb_last_operation(&f->reply, f->client, &r), 0);
    assert_int_equal(f->reply.decision.action, DTK_OSB_GONE);
    dtk_json_free(params);
}

static void test_osb__schema_violation_is_reported_before_sending(void **state)
{
    fx *f = *state;
    dtk_osb_catalog *cat = NULL;
    const dtk_osb_plan *plan;
    dtk_json *params = json("{\"size\":\"medium\",\"replicas\":3}");
    dtk_json *log;

    assert_int_equal(dtk_osb_catalog_fetch(&cat, &f->reply, f->client, NULL),
                     0);
    plan = dtk_osb_service_plan(dtk_osb_catalog_service(cat, "svc-db"),
                                "plan-sync");
    f->req.parameters = params;
    f->req.parameters_schema = plan->schema_instance_create;
    assert_int_equal(dtk_osb_provision(&f->reply, f->client, &f->req),
                     DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "parameter size: must be one of 'small', 'large'");
    log = requests();
    assert_int_equal(dtk_json_len(dtk_json_get(log, "requests")), 1);
    dtk_json_free(log);
    dtk_json_free(params);
    dtk_osb_catalog_free(cat);
}

static void test_osb__connections_are_reused(void **state)
{
    fx *f = *state;
    dtk_json *log;
    int64_t port0 = 0;
    int64_t port = 0;

    assert_int_equal(dtk_osb_provision(&f->reply, f->client, &f->req), 0);
    f->req.binding_id = "b";
    assert_int_equal(dtk_osb_bind(&f->reply, f->client, &f->req), 0);
    assert_int_equal(dtk_osb_unbind(&f->reply, f->client, &f->req), 0);
    assert_int_equal(dtk_osb_deprovision(&f->reply, f->client, &f->req), 0);
    log = requests();
    assert_int_equal(dtk_json_len(dtk_json_get(log, "requests")), 4);
    assert_int_equal(
        dtk_json_int(&port0, dtk_json_get(request_at(log, 0), "remote_port")),
        0);
    for (long i = 1; i < 4; i++) {
        assert_int_equal(dtk_json_int(&port, dtk_json_get(request_at(log, i),
                                                          "remote_port")),
                         0);
        assert_int_equal(port, port0);
    }
    dtk_json_free(log);
}

static char *read_text(const char *path)
{
    FILE *fp = fopen(path, "r");
    dtk_buf b = DTK_BUF_INIT(0);
    char chunk[1024];
    size_t n;

    assert_non_null(fp);
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
        assert_int_equal(dtk_buf_put(&b, chunk, n), 0);
    }
    fclose(fp);
    return dtk_buf_detach(&b);
}

static void test_osb__tls_with_custom_ca_and_insecure_switch(void **state)
{
    fx *f = *state;
    dtk_test_broker *tls = NULL;
    dtk_test_broker_options bo = DTK_TEST_BROKER_OPTIONS_INIT;
    dtk_osb_options o = DTK_OSB_OPTIONS_INIT;
    dtk_osb_client *c = NULL;
    dtk_osb_catalog *cat = NULL;
    char *ca = read_text("test/fixtures/osb/ca.pem");

    bo.tls_cert = "test/fixtures/osb/server.pem";
    bo.tls_key = "test/fixtures/osb/server-key.pem";
    assert_int_equal(dtk_test_broker_start(&tls, &bo), 0);
    assert_memory_equal(dtk_test_broker_url(tls), "https://", 8);
    o.url = dtk_test_broker_url(tls);
    o.username = dtk_test_broker_username(tls);
    o.password = dtk_test_broker_password(tls);

    /* The system store does not know the test CA. */
    assert_int_equal(dtk_osb_client_new(&c, &o), 0);
    assert_int_equal(dtk_osb_catalog_fetch(&cat, &f->reply, c, NULL),
                     DTK_ERROR);
    assert_int_equal(f->reply.decision.action, DTK_OSB_RETRY);
    assert_string_equal(f->reply.decision.reason, "TransportError");
    dtk_osb_client_free(c);

    o.ca_pem = ca;
    assert_int_equal(dtk_osb_client_new(&c, &o), 0);
    assert_int_equal(dtk_osb_catalog_fetch(&cat, &f->reply, c, NULL), 0);
    assert_int_equal(cat->service_count, 1);
    dtk_osb_catalog_free(cat);
    dtk_osb_client_free(c);

    o.ca_pem = NULL;
    o.insecure_skip_verify = 1;
    assert_int_equal(dtk_osb_client_new(&c, &o), 0);
    assert_int_equal(dtk_osb_catalog_fetch(&cat, &f->reply, c, NULL), 0);
    dtk_osb_catalog_free(cat);
    dtk_osb_client_free(c);
    dtk_test_broker_stop(tls);
    dtk_free(ca);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_osb__catalog_has_plans_schemas_and_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_osb__headers_carry_version_identities_and_auth, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_osb__wrong_password_is_unauthorized_without_leaking, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_osb__bearer_token_is_sent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_osb__sync_provision_is_idempotent,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_osb__async_provision_polls_with_retry_after, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_osb__async_failure_is_orphan_mitigated, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_osb__sync_500_leaves_an_orphan_to_deprovision, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_osb__client_timeout_on_provision_is_an_orphan, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_osb__update_sends_previous_values,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_osb__async_update_and_concurrency_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_osb__sync_bind_and_unbind, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_osb__async_bind_gets_credentials_by_fetch, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_osb__unbindable_plan_and_maintenance_conflict, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_osb__last_operation_for_unknown_instance, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_osb__malformed_and_unexpected_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_osb__202_without_operation_and_410_polls, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_osb__schema_violation_is_reported_before_sending, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_osb__connections_are_reused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_osb__tls_with_custom_ca_and_insecure_switch, setup, teardown),
    };
    int failed;

    dtk_http_global_init();
    failed = cmocka_run_group_tests(tests, group_setup, group_teardown);
    dtk_http_global_cleanup();
    return failed;
}

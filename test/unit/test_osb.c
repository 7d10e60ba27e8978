/* pkg/osb without a network: the classifier over every row of the orphan
 * mitigation table and every status code of the platform checklist, the
 * reply and catalog parsers on real-world and hostile bodies, the
 * originating identity header, and parameter schema messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/error.h"
#include "pkg/http/http.h"
#include "pkg/osb/osb.h"

/* Transport failures are written as negative "statuses" in the table. */
#define TIMEOUT     (-1)
#define UNREACHABLE (-2)

typedef struct row {
    int line;
    dtk_osb_op op;
    long status;
    const char *body;
    const char *retry_after;
    dtk_osb_action action;
    int delay_s;        /* -1: do not check */
    const char *reason; /* NULL: do not check */
    int error;          /* 1: do not check */
} row;

#define ROW(op, st, body, ra, act, delay, reason, err)                         \
    {                                                                          \
        __LINE__, DTK_OSB_OP_##op, st, body, ra, DTK_OSB_##act, delay, reason, \
            err                                                                \
    }

static const char *const HTML =
    "<html><body><h1>500 Internal Server Error</h1></body></html>";

/* clang-format off */
static const row rows[] = {
    /* Provision. */
    ROW(PROVISION, 200, "{}", NULL, DONE, 0, "Succeeded", 0),
    ROW(PROVISION, 200, "not json", NULL, DONE, 0, "Succeeded", 0),
    ROW(PROVISION, 201, "{\"dashboard_url\":\"http://d\",\"x-new\":[1]}",
        NULL, DONE, 0, "Succeeded", 0),
    ROW(PROVISION, 201, "{\"dashboard_url\":", NULL, ORPHAN, 0,
        "InvalidResponse", DTK_ERROR),
    ROW(PROVISION, 201, "{\"operation\":5}", NULL, ORPHAN, 0,
        "InvalidResponse", DTK_ERROR),
    ROW(PROVISION, 201, "[]", NULL, ORPHAN, 0, "InvalidResponse", DTK_ERROR),
    ROW(PROVISION, 202, "{\"operation\":\"op 1\"}", NULL, POLL, 5,
        "InProgress", 0),
    ROW(PROVISION, 202, "{\"operation\":\"op 1\"}", "3", POLL, 3,
        "InProgress", 0),
    ROW(PROVISION, 202, "{}", NULL, POLL, 5, "InProgress", 0),
    ROW(PROVISION, 202, "", NULL, ORPHAN, 0, "InvalidResponse", DTK_ERROR),
    ROW(PROVISION, 202, "<html></html>", NULL, ORPHAN, 0, "InvalidResponse",
        DTK_ERROR),
    ROW(PROVISION, 204, "", NULL, ORPHAN, 0, "UnexpectedStatus", DTK_ERROR),
    ROW(PROVISION, 206, "{}", NULL, ORPHAN, 0, "UnexpectedStatus",
        DTK_ERROR),
    ROW(PROVISION, 302, "", NULL, FAILED, 0, "UnexpectedStatus",
        DTK_EINVALID),
    ROW(PROVISION, 400, "{\"description\":\"bad\"}", NULL, FAILED, 0,
        "BadRequest", DTK_EINVALID),
    ROW(PROVISION, 401, "{\"description\":\"Unauthorized\"}", NULL, RETRY, 0,
        "Unauthorized", DTK_EAUTH),
    ROW(PROVISION, 403, "", NULL, RETRY, 0, "Forbidden", DTK_EAUTH),
    ROW(PROVISION, 404, "", NULL, FAILED, 0, "NotFound", DTK_EINVALID),
    ROW(PROVISION, 408, "", NULL, RETRY, 0, "RequestTimeout", DTK_ETIMEOUT),
    ROW(PROVISION, 409, "{}", NULL, FAILED, 0, "Conflict", DTK_EINVALID),
    ROW(PROVISION, 410, "{}", NULL, FAILED, 0, "Gone", DTK_EINVALID),
    ROW(PROVISION, 412, "{\"description\":\"v\"}", NULL, FAILED, 0,
        "UnsupportedAPIVersion", DTK_EINVALID),
    ROW(PROVISION, 413, "", NULL, FAILED, 0, "ClientError", DTK_EINVALID),
    ROW(PROVISION, 422, "{\"error\":\"ConcurrencyError\"}", NULL, RETRY, 0,
        "ConcurrencyError", DTK_ECONFLICT),
    ROW(PROVISION, 422, "{\"error\":\"ConcurrencyError\"}", "9", RETRY, 9,
        "ConcurrencyError", DTK_ECONFLICT),
    ROW(PROVISION, 422, "{\"error\":\"AsyncRequired\"}", NULL, FAILED, 0,
        "AsyncRequired", DTK_EINVALID),
    ROW(PROVISION, 422, "{\"error\":\"MaintenanceInfoConflict\"}", NULL,
        FAILED, 0, "MaintenanceInfoConflict", DTK_EINVALID),
    /* The description text never decides (the go client's mistake). */
    ROW(PROVISION, 422, "{\"description\":\"ConcurrencyError\"}", NULL,
        FAILED, 0, "UnprocessableEntity", DTK_EINVALID),
    ROW(PROVISION, 422, "{\"error\":\"{\\\"error\\\":\\\"x\\\"}\"}", NULL,
        FAILED, 0, "UnprocessableEntity", DTK_EINVALID),
    ROW(PROVISION, 429, "", "7", RETRY, 7, "TooManyRequests", DTK_EUNAVAIL),
    ROW(PROVISION, 500, "{\"description\":\"boom\"}", NULL, ORPHAN, 0,
        "BrokerError", DTK_EUNAVAIL),
    ROW(PROVISION, 502, "", NULL, ORPHAN, 0, "BrokerError", DTK_EUNAVAIL),
    ROW(PROVISION, 503, "{}", "30", ORPHAN, 0, "BrokerError", DTK_EUNAVAIL),
    ROW(PROVISION, TIMEOUT, NULL, NULL, ORPHAN, 0, "Timeout", DTK_ETIMEOUT),
    ROW(PROVISION, UNREACHABLE, NULL, NULL, ORPHAN, 0, "Unreachable",
        DTK_EUNAVAIL),

    /* Update: never orphan-mitigated. */
    ROW(UPDATE, 200, "{}", NULL, DONE, 0, "Succeeded", 0),
    ROW(UPDATE, 200, "", NULL, DONE, 0, "Succeeded", 0),
    ROW(UPDATE, 202, "{\"operation\":\"u\"}", NULL, POLL, 5, "InProgress",
        0),
    ROW(UPDATE, 202, "garbage", NULL, RETRY, 0, "InvalidResponse",
        DTK_ERROR),
    ROW(UPDATE, 201, "{}", NULL, FAILED, 0, "UnexpectedStatus",
        DTK_EINVALID),
    ROW(UPDATE, 204, "", NULL, FAILED, 0, "UnexpectedStatus", DTK_EINVALID),
    ROW(UPDATE, 400, "{}", NULL, FAILED, 0, "BadRequest", DTK_EINVALID),
    ROW(UPDATE, 408, "", NULL, RETRY, 0, "RequestTimeout", DTK_ETIMEOUT),
    ROW(UPDATE, 409, "{}", NULL, FAILED, 0, "Conflict", DTK_EINVALID),
    ROW(UPDATE, 422, "{\"error\":\"ConcurrencyError\"}", NULL, RETRY, 0,
        "ConcurrencyError", DTK_ECONFLICT),
    ROW(UPDATE, 422, "{\"description\":\"quota\"}", NULL, FAILED, 0,
        "UnprocessableEntity", DTK_EINVALID),
    ROW(UPDATE, 500, HTML, NULL, RETRY, 0, "BrokerError", DTK_EUNAVAIL),
    ROW(UPDATE, 500, "{\"update_repeatable\":false}", NULL, FAILED, 0,
        "BrokerError", DTK_EINVALID),
    ROW(UPDATE, TIMEOUT, NULL, NULL, RETRY, 0, "Timeout", DTK_ETIMEOUT),

    /* Deprovision. */
    ROW(DEPROVISION, 200, "{}", NULL, DONE, 0, "Succeeded", 0),
    ROW(DEPROVISION, 200, "<p>ok</p>", NULL, DONE, 0, "Succeeded", 0),
    ROW(DEPROVISION, 202, "{\"operation\":\"d\"}", NULL, POLL, 5,
        "InProgress", 0),
    ROW(DEPROVISION, 202, "{", NULL, RETRY, 0, "InvalidResponse", DTK_ERROR),
    ROW(DEPROVISION, 201, "{}", NULL, ORPHAN, 0, "UnexpectedStatus",
        DTK_ERROR),
    ROW(DEPROVISION, 204, "", NULL, ORPHAN, 0, "UnexpectedStatus",
        DTK_ERROR),
    ROW(DEPROVISION, 400, "{}", NULL, FAILED, 0, "BadRequest", DTK_EINVALID),
    ROW(DEPROVISION, 404, "{}", NULL, FAILED, 0, "NotFound", DTK_EINVALID),
    ROW(DEPROVISION, 408, "", NULL, RETRY, 0, "RequestTimeout",
        DTK_ETIMEOUT),
    ROW(DEPROVISION, 410, "{}", NULL, GONE, 0, "Gone", 0),
    ROW(DEPROVISION, 410, "", NULL, GONE, 0, "Gone", 0),
    ROW(DEPROVISION, 422, "{\"error\":\"ConcurrencyError\"}", NULL, RETRY, 0,
        "ConcurrencyError", DTK_ECONFLICT),
    ROW(DEPROVISION, 422, "{\"error\":\"AsyncRequired\"}", NULL, FAILED, 0,
        "AsyncRequired", DTK_EINVALID),
    ROW(DEPROVISION, 500, "", NULL, ORPHAN, 0, "BrokerError", DTK_EUNAVAIL),
    ROW(DEPROVISION, TIMEOUT, NULL, NULL, RETRY, 0, "Timeout", DTK_ETIMEOUT),
    ROW(DEPROVISION, UNREACHABLE, NULL, NULL, RETRY, 0, "Unreachable",
        DTK_EUNAVAIL),

    /* Bind. */
    ROW(BIND, 200, "{\"credentials\":{\"u\":\"x\"}}", NULL, DONE, 0,
        "Succeeded", 0),
    ROW(BIND, 200, "<html/>", NULL, FAILED, 0, "InvalidResponse",
        DTK_EINVALID),
    ROW(BIND, 201, "{\"credentials\":{\"u\":\"x\"}}", NULL, DONE, 0,
        "Succeeded", 0),
    ROW(BIND, 201, "{\"credentials\":\"x\"}", NULL, ORPHAN, 0,
        "InvalidResponse", DTK_ERROR),
    ROW(BIND, 201, "", NULL, ORPHAN, 0, "InvalidResponse", DTK_ERROR),
    ROW(BIND, 202, "{\"operation\":\"b\",\"credentials\":{}}", NULL, POLL, 5,
        "InProgress", 0),
    ROW(BIND, 202, "nope", NULL, ORPHAN, 0, "InvalidResponse", DTK_ERROR),
    ROW(BIND, 204, "", NULL, ORPHAN, 0, "UnexpectedStatus", DTK_ERROR),
    ROW(BIND, 400, "{\"description\":\"not bindable\"}", NULL, FAILED, 0,
        "BadRequest", DTK_EINVALID),
    ROW(BIND, 408, "", NULL, RETRY, 0, "RequestTimeout", DTK_ETIMEOUT),
    ROW(BIND, 409, "{}", NULL, FAILED, 0, "Conflict", DTK_EINVALID),
    ROW(BIND, 422, "{\"error\":\"RequiresApp\"}", NULL, FAILED, 0,
        "RequiresApp", DTK_EINVALID),
    ROW(BIND, 422, "{\"error\":\"ConcurrencyError\"}", NULL, RETRY, 0,
        "ConcurrencyError", DTK_ECONFLICT),
    ROW(BIND, 500, HTML, NULL, ORPHAN, 0, "BrokerError", DTK_EUNAVAIL),
    ROW(BIND, TIMEOUT, NULL, NULL, ORPHAN, 0, "Timeout", DTK_ETIMEOUT),

    /* Unbind. */
    ROW(UNBIND, 200, "{}", NULL, DONE, 0, "Succeeded", 0),
    ROW(UNBIND, 202, "{\"operation\":\"x\"}", NULL, POLL, 5, "InProgress",
        0),
    ROW(UNBIND, 204, "", NULL, ORPHAN, 0, "UnexpectedStatus", DTK_ERROR),
    ROW(UNBIND, 400, "{}", NULL, FAILED, 0, "BadRequest", DTK_EINVALID),
    ROW(UNBIND, 408, "", NULL, RETRY, 0, "RequestTimeout", DTK_ETIMEOUT),
    ROW(UNBIND, 410, "{}", NULL, GONE, 0, "Gone", 0),
    ROW(UNBIND, 422, "{\"error\":\"ConcurrencyError\"}", NULL, RETRY, 0,
        "ConcurrencyError", DTK_ECONFLICT),
    ROW(UNBIND, 500, "", NULL, ORPHAN, 0, "BrokerError", DTK_EUNAVAIL),
    ROW(UNBIND, TIMEOUT, NULL, NULL, RETRY, 0, "Timeout", DTK_ETIMEOUT),

    /* last_operation for instances. */
    ROW(POLL_PROVISION, 200, "{\"state\":\"in progress\"}", "2", POLL, 2,
        "InProgress", 0),
    ROW(POLL_PROVISION, 200, "{\"state\":\"in progress\"}", NULL, POLL, 5,
        "InProgress", 0),
    ROW(POLL_PROVISION, 200, "{\"state\":\"in progress\"}", "0", POLL, 1,
        "InProgress", 0),
    ROW(POLL_PROVISION, 200, "{\"state\":\"in progress\"}", "99999999", POLL,
        DTK_OSB_MAX_DELAY_S, "InProgress", 0),
    ROW(POLL_PROVISION, 200, "{\"state\":\"in progress\"}", "soon", POLL, 5,
        "InProgress", 0),
    ROW(POLL_PROVISION, 200, "{\"state\":\"succeeded\"}", NULL, DONE, 0,
        "Succeeded", 0),
    ROW(POLL_PROVISION, 200, "{\"state\":\"failed\",\"description\":\"d\"}",
        NULL, ORPHAN, 0, "OperationFailed", DTK_ERROR),
    ROW(POLL_PROVISION, 200, "{\"state\":\"done\"}", NULL, POLL, 5,
        "InvalidResponse", 0),
    ROW(POLL_PROVISION, 200, "{\"description\":\"no state\"}", NULL, POLL, 5,
        "InvalidResponse", 0),
    ROW(POLL_PROVISION, 200, HTML, NULL, POLL, 5, "InvalidResponse", 0),
    ROW(POLL_PROVISION, 400, "{}", NULL, POLL, 5, "InvalidResponse", 0),
    ROW(POLL_PROVISION, 404, "{}", NULL, FAILED, 0, "NotFound",
        DTK_EINVALID),
    ROW(POLL_PROVISION, 410, "{}", NULL, POLL, 5, "InvalidResponse", 0),
    ROW(POLL_PROVISION, 500, "", NULL, POLL, 5, "BrokerError", 0),
    ROW(POLL_PROVISION, TIMEOUT, NULL, NULL, POLL, 5, "Timeout", 0),
    ROW(POLL_UPDATE, 200, "{\"state\":\"succeeded\"}", NULL, DONE, 0,
        "Succeeded", 0),
    ROW(POLL_UPDATE, 200, "{\"state\":\"failed\",\"instance_usable\":false}",
        NULL, FAILED, 0, "OperationFailed", DTK_EINVALID),
    ROW(POLL_UPDATE, 410, "{}", NULL, POLL, 5, "InvalidResponse", 0),
    ROW(POLL_UPDATE, 404, "{}", NULL, FAILED, 0, "NotFound", DTK_EINVALID),
    ROW(POLL_DEPROVISION, 200, "{\"state\":\"succeeded\"}", NULL, DONE, 0,
        "Succeeded", 0),
    ROW(POLL_DEPROVISION, 200, "{\"state\":\"failed\"}", NULL, ORPHAN, 0,
        "OperationFailed", DTK_ERROR),
    ROW(POLL_DEPROVISION, 410, "{}", NULL, GONE, 0, "Gone", 0),
    ROW(POLL_DEPROVISION, 404, "", NULL, GONE, 0, "Gone", 0),
    ROW(POLL_DEPROVISION, 503, "", "4", POLL, 4, "BrokerError", 0),

    /* last_operation for bindings. */
    ROW(POLL_BIND, 200, "{\"state\":\"in progress\"}", "1", POLL, 1,
        "InProgress", 0),
    ROW(POLL_BIND, 200, "{\"state\":\"succeeded\"}", NULL, DONE, 0,
        "Succeeded", 0),
    ROW(POLL_BIND, 200, "{\"state\":\"failed\"}", NULL, ORPHAN, 0,
        "OperationFailed", DTK_ERROR),
    ROW(POLL_BIND, 404, "{}", NULL, FAILED, 0, "NotFound", DTK_EINVALID),
    ROW(POLL_BIND, 410, "{}", NULL, POLL, 5, "InvalidResponse", 0),
    ROW(POLL_UNBIND, 200, "{\"state\":\"failed\"}", NULL, ORPHAN, 0,
        "OperationFailed", DTK_ERROR),
    ROW(POLL_UNBIND, 410, "", NULL, GONE, 0, "Gone", 0),
    ROW(POLL_UNBIND, 401, "", NULL, POLL, 5, "Unauthorized", 0),

    /* Reads. */
    ROW(CATALOG, 200, "{\"services\":[]}", NULL, DONE, 0, "Succeeded", 0),
    ROW(CATALOG, 200, "{\"services\":{}}", NULL, RETRY, 0,
        "InvalidResponse", DTK_ERROR),
    ROW(CATALOG, 200, HTML, NULL, RETRY, 0, "InvalidResponse", DTK_ERROR),
    ROW(CATALOG, 401, "", NULL, RETRY, 0, "Unauthorized", DTK_EAUTH),
    ROW(CATALOG, 412, "", NULL, FAILED, 0, "UnsupportedAPIVersion",
        DTK_EINVALID),
    ROW(CATALOG, 500, "", NULL, RETRY, 0, "BrokerError", DTK_EUNAVAIL),
    ROW(CATALOG, TIMEOUT, NULL, NULL, RETRY, 0, "Timeout", DTK_ETIMEOUT),
    ROW(FETCH_INSTANCE, 200, "{\"plan_id\":\"p\"}", NULL, DONE, 0,
        "Succeeded", 0),
    ROW(FETCH_INSTANCE, 404, "{}", NULL, GONE, 0, "Gone", 0),
    ROW(FETCH_INSTANCE, 422, "{\"error\":\"ConcurrencyError\"}", NULL, RETRY,
        0, "ConcurrencyError", DTK_ECONFLICT),
    ROW(FETCH_INSTANCE, 500, "", NULL, RETRY, 0, "BrokerError",
        DTK_EUNAVAIL),
    ROW(FETCH_BINDING, 200, "{\"credentials\":{}}", NULL, DONE, 0,
        "Succeeded", 0),
    ROW(FETCH_BINDING, 200, "{\"credentials\":[]}", NULL, RETRY, 0,
        "InvalidResponse", DTK_ERROR),
    ROW(FETCH_BINDING, 404, "", NULL, GONE, 0, "Gone", 0),
};
/* clang-format on */

static void run_row(const row *r, dtk_osb_reply *reply)
{
    if (r->status == TIMEOUT) {
        dtk_osb_reply_transport_failure(reply, r->op, 0, DTK_ETIMEOUT);
    } else if (r->status == UNREACHABLE) {
        dtk_osb_reply_transport_failure(reply, r->op, 0, DTK_EUNAVAIL);
    } else {
        dtk_osb_reply_parse(reply, r->op, r->status, r->retry_after, r->body,
                            r->body ? strlen(r->body) : 0, 0);
    }
}

static void test_osb__classifier_follows_the_orphan_mitigation_table(
    void **state)
{
    size_t failures = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const row *r = &rows[i];
        dtk_osb_reply reply = DTK_OSB_REPLY_INIT;
        const dtk_osb_decision *d;
        int ok;

        run_row(r, &reply);
        d = &reply.decision;
        ok = d->action == r->action &&
             (r->delay_s < 0 || d->delay_s == r->delay_s) &&
             (r->reason == NULL || strcmp(d->reason, r->reason) == 0) &&
             (r->error == 1 || d->error == r->error);
        /* The classifier is pure: classifying again gives the same. */
        ok = ok && dtk_osb_classify(&reply).action == d->action;
        if (!ok) {
            print_error("row at line %d (%s %ld): got %s delay=%d reason=%s "
                        "error=%d\n",
                        r->line, dtk_osb_op_name(r->op), r->status,
                        dtk_osb_action_name(d->action), d->delay_s, d->reason,
                        d->error);
            failures++;
        }
        dtk_osb_reply_dispose(&reply);
    }
    assert_int_equal(failures, 0);
}

static void test_osb__poll_deadline_is_a_failure(void **state)
{
    (void)state;
    assert_int_equal(
        dtk_osb_classify_poll_expired(DTK_OSB_OP_POLL_PROVISION).action,
        DTK_OSB_ORPHAN);
    assert_int_equal(dtk_osb_classify_poll_expired(DTK_OSB_OP_POLL_BIND).action,
                     DTK_OSB_ORPHAN);
    assert_int_equal(
        dtk_osb_classify_poll_expired(DTK_OSB_OP_POLL_DEPROVISION).action,
        DTK_OSB_ORPHAN);
    assert_int_equal(
        dtk_osb_classify_poll_expired(DTK_OSB_OP_POLL_UPDATE).action,
        DTK_OSB_FAILED);
    assert_string_equal(
        dtk_osb_classify_poll_expired(DTK_OSB_OP_POLL_UNBIND).reason,
        "PollingTimeout");
}

static void test_osb__retry_after_http_date(void **state)
{
    dtk_osb_reply reply = DTK_OSB_REPLY_INIT;
    /* Wed, 21 Oct 2015 07:28:00 GMT = 1445412480. */
    const char *body = "{\"state\":\"in progress\"}";

    (void)state;
    dtk_osb_reply_parse(&reply, DTK_OSB_OP_POLL_BIND, 200,
                        "Wed, 21 Oct 2015 07:28:00 GMT", body, strlen(body),
                        1445412480LL - 42);
    assert_int_equal(reply.retry_after_s, 42);
    assert_int_equal(reply.decision.delay_s, 42);
    /* A date in the past means "now": poll after the minimum of 1 s. */
    dtk_osb_reply_parse(&reply, DTK_OSB_OP_POLL_BIND, 200,
                        "Wed, 21 Oct 2015 07:28:00 GMT", body, strlen(body),
                        1445412480LL + 100);
    assert_int_equal(reply.retry_after_s, 0);
    assert_int_equal(reply.decision.delay_s, 1);
    dtk_osb_reply_parse(&reply, DTK_OSB_OP_POLL_BIND, 200,
                        "Wed, 32 Oct 2015 07:28:00 GMT", body, strlen(body), 1);
    assert_int_equal(reply.retry_after_s, -1);
    dtk_osb_reply_dispose(&reply);
}

static void test_osb__sloppy_bodies_are_tolerated(void **state)
{
    dtk_osb_reply reply = DTK_OSB_REPLY_INIT;
    const char *bind202 = "{\"operation\":\"op-9\",\"credentials\":{}}";
    const char *vendor =
        "{\"dashboard_url\":\"http://x/d\",\"operation\":null,"
        "\"x-vendor\":{\"a\":[1,{\"b\":null}]},\"metadata\":{\"labels\":{}}}";
    char text[512];
    const char *text_body;

    (void)state;
    /* credentials: {} in a 202 is dropped, the operation is kept. */
    dtk_osb_reply_parse(&reply, DTK_OSB_OP_BIND, 202, NULL, bind202,
                        strlen(bind202), 0);
    assert_int_equal(reply.decision.action, DTK_OSB_POLL);
    assert_string_equal(reply.operation, "op-9");
    assert_null(dtk_osb_reply_credentials(&reply));
    assert_null(dtk_json_get(reply.body, "credentials"));

    /* Unknown fields are kept and never required; null operation is
     * "no operation". */
    dtk_osb_reply_parse(&reply, DTK_OSB_OP_PROVISION, 201, NULL, vendor,
                        strlen(vendor), 0);
    assert_int_equal(reply.decision.action, DTK_OSB_DONE);
    assert_string_equal(reply.dashboard_url, "http://x/d");
    assert_null(reply.operation);
    assert_non_null(dtk_json_get(reply.body, "x-vendor"));

    /* An HTML 500 page: judged by status, described without a body. */
    dtk_osb_reply_parse(&reply, DTK_OSB_OP_PROVISION, 500, NULL, HTML,
                        strlen(HTML), 0);
    assert_int_equal(reply.body_valid, 0);
    assert_null(reply.description);
    assert_string_equal(dtk_osb_describe(text, sizeof(text), &reply),
                        "provision: broker answered 500 (BrokerError) "
                        "(orphan mitigation required)");

    /* Overview-broker style: the error field holds stringified JSON. */
    text_body = "{\"error\":\"{\\\"a\\\":1}\"}";
    dtk_osb_reply_parse(&reply, DTK_OSB_OP_DEPROVISION, 500, NULL, text_body,
                        strlen(text_body), 0);
    assert_string_equal(reply.error, "{\"a\":1}");
    assert_int_equal(reply.decision.action, DTK_OSB_ORPHAN);
    dtk_osb_reply_dispose(&reply);
    assert_null(reply.body);
    assert_int_equal(reply.retry_after_s, -1);
}

static void test_osb__descriptions_are_one_bounded_line(void **state)
{
    dtk_osb_reply reply = DTK_OSB_REPLY_INIT;
    dtk_buf body = DTK_BUF_INIT(0);
    char text[1024];
    const char *failed;

    (void)state;
    assert_int_equal(dtk_buf_puts(&body, "{\"error\":\"ConcurrencyError\","
                                         "\"description\":\"line1\\nline2"),
                     0);
    for (int i = 0; i < 2000; i++) {
        assert_int_equal(dtk_buf_putc(&body, 'x'), 0);
    }
    assert_int_equal(dtk_buf_puts(&body, "\"}"), 0);
    dtk_osb_reply_parse(&reply, DTK_OSB_OP_DEPROVISION, 422, NULL, body.ptr,
                        body.len, 0);
    assert_int_equal(reply.decision.action, DTK_OSB_RETRY);
    assert_int_equal(strlen(reply.description), 512);
    assert_null(strchr(reply.description, '\n'));
    assert_memory_equal(reply.description, "line1 line2", 11);
    dtk_osb_describe(text, sizeof(text), &reply);
    assert_memory_equal(text,
                        "deprovision: broker answered 422 ConcurrencyError: "
                        "line1 line2",
                        62);
    failed = "{\"state\":\"failed\",\"description\":\"disk full\"}";
    dtk_osb_reply_parse(&reply, DTK_OSB_OP_POLL_PROVISION, 200, NULL, failed,
                        strlen(failed), 0);
    assert_string_equal(dtk_osb_describe(text, sizeof(text), &reply),
                        "poll provision: operation failed: disk full "
                        "(orphan mitigation required)");
    dtk_osb_reply_transport_failure(&reply, DTK_OSB_OP_BIND, 0, DTK_ETIMEOUT);
    assert_string_equal(dtk_osb_describe(text, sizeof(text), &reply),
                        "bind: no answer from the broker (timeout) "
                        "(orphan mitigation required)");
    dtk_buf_dispose(&body);
    dtk_osb_reply_dispose(&reply);
}

static void test_osb__hostile_bodies_never_crash(void **state)
{
    dtk_osb_reply reply = DTK_OSB_REPLY_INIT;
    dtk_buf deep = DTK_BUF_INIT(0);
    dtk_buf big = DTK_BUF_INIT(0);

    (void)state;
    for (int i = 0; i < 100000; i++) {
        assert_int_equal(dtk_buf_putc(&deep, '['), 0);
    }
    dtk_osb_reply_parse(&reply, DTK_OSB_OP_PROVISION, 201, NULL, deep.ptr,
                        deep.len, 0);
    assert_int_equal(reply.body_valid, 0);
    assert_int_equal(reply.decision.action, DTK_OSB_ORPHAN);
    /* A valid 3 MB body parses; the size bound lives in the HTTP layer. */
    assert_int_equal(dtk_buf_puts(&big, "{\"operation\":\""), 0);
    for (int i = 0; i < 3000000; i++) {
        assert_int_equal(dtk_buf_putc(&big, 'o'), 0);
    }
    assert_int_equal(dtk_buf_puts(&big, "\"}"), 0);
    dtk_osb_reply_parse(&reply, DTK_OSB_OP_UNBIND, 202, NULL, big.ptr, big.len,
                        0);
    assert_int_equal(reply.decision.action, DTK_OSB_POLL);
    assert_int_equal(strlen(reply.operation), 3000000);
    /* Binary junk and NUL bytes. */
    dtk_osb_reply_parse(&reply, DTK_OSB_OP_BIND, 201, NULL, "\0\xff{\"", 4, 0);
    assert_int_equal(reply.decision.action, DTK_OSB_ORPHAN);
    /* A body cut at the size limit is a malformed body, not silence. */
    dtk_osb_reply_transport_failure(&reply, DTK_OSB_OP_PROVISION, 201,
                                    DTK_ETOOBIG);
    assert_int_equal(reply.decision.action, DTK_OSB_ORPHAN);
    assert_string_equal(reply.decision.reason, "InvalidResponse");
    dtk_osb_reply_transport_failure(&reply, DTK_OSB_OP_DEPROVISION, 200,
                                    DTK_ETOOBIG);
    assert_int_equal(reply.decision.action, DTK_OSB_DONE);
    assert_string_equal(dtk_error_last()->message, "");
    dtk_buf_dispose(&deep);
    dtk_buf_dispose(&big);
    dtk_osb_reply_dispose(&reply);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    dtk_buf b = DTK_BUF_INIT(0);
    char chunk[4096];
    size_t n;

    assert_non_null(f);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        assert_int_equal(dtk_buf_put(&b, chunk, n), 0);
    }
    fclose(f);
    *len = b.len;
    return dtk_buf_detach(&b);
}

static void test_osb__catalog_decodes_the_test_broker_catalog(void **state)
{
    dtk_osb_catalog *cat = NULL;
    const dtk_osb_service *s;
    const dtk_osb_plan *p;
    size_t len;
    char *text = read_file("test/broker/catalog.json", &len);

    (void)state;
    assert_int_equal(dtk_osb_catalog_parse(&cat, text, len), 0);
    assert_int_equal(cat->service_count, 1);
    s = dtk_osb_catalog_service(cat, "dtk-test-db");
    assert_non_null(s);
    assert_ptr_equal(dtk_osb_catalog_service(cat, "svc-db"), s);
    assert_null(dtk_osb_catalog_service(cat, "DTK-TEST-DB"));
    assert_true(s->bindable && s->plan_updateable);
    assert_true(s->instances_retrievable && s->bindings_retrievable);
    assert_true(s->allow_context_updates);
    assert_int_equal(s->plan_count, 3);
    p = dtk_osb_service_plan(s, "small");
    assert_string_equal(p->id, "plan-sync");
    assert_string_equal(p->maintenance_version, "1.0.0");
    assert_string_equal(p->maintenance_description, "initial release");
    assert_non_null(p->schema_instance_create);
    assert_non_null(p->schema_instance_update);
    assert_non_null(p->schema_binding_create);
    assert_int_equal(p->maximum_polling_duration, 0);
    p = dtk_osb_service_plan(s, "plan-async");
    assert_int_equal(p->maximum_polling_duration, 60);
    assert_false(p->free);
    assert_null(p->schema_instance_create);
    assert_null(p->maintenance_description);
    p = dtk_osb_service_plan(s, "unbindable");
    assert_false(p->bindable);
    assert_true(p->plan_updateable); /* inherited from the service */
    assert_true(p->free);            /* the default */
    dtk_osb_catalog_free(cat);
    dtk_free(text);
}

static void expect_catalog_error(const char *text,
                                 int code,
                                 const char *message)
{
    dtk_osb_catalog *cat = NULL;

    assert_int_equal(dtk_osb_catalog_parse(&cat, text, strlen(text)), code);
    assert_null(cat);
    assert_string_equal(dtk_error_last()->message, message);
}

static void test_osb__catalog_errors_name_the_field(void **state)
{
    dtk_osb_catalog *cat = NULL;
    const char *empty = "{\"services\":[],\"x\":1}";

    (void)state;
    assert_int_equal(dtk_osb_catalog_parse(&cat, empty, strlen(empty)), 0);
    assert_int_equal(cat->service_count, 0);
    dtk_osb_catalog_free(cat);
    expect_catalog_error("{}", DTK_ERROR, "services: expected an array");
    expect_catalog_error(
        "{\"services\":[{\"id\":\"s\",\"name\":\"n\",\"description\":\"d\","
        "\"bindable\":true,\"plans\":[{\"id\":\"p\",\"name\":\"a\","
        "\"description\":\"d\"},{\"name\":\"b\",\"description\":\"d\"}]}]}",
        DTK_ERROR, "services[0].plans[1].id: expected a non-empty string");
    expect_catalog_error(
        "{\"services\":[{\"id\":\"s\",\"name\":\"n\",\"description\":\"d\","
        "\"bindable\":\"yes\",\"plans\":[]}]}",
        DTK_ERROR, "services[0].bindable: expected a boolean");
    expect_catalog_error(
        "{\"services\":[{\"id\":\"s\",\"name\":\"n\",\"description\":\"d\","
        "\"bindable\":true,\"plans\":[]}]}",
        DTK_ERROR,
        "services[0].plans: expected an array of at least one "
        "plan");
    assert_int_equal(dtk_osb_catalog_parse(&cat, "{\"services\":[", 13),
                     DTK_EINVALID);
    assert_null(cat);
    assert_memory_equal(dtk_error_last()->message, "catalog: invalid JSON", 21);
}

static void test_osb__identity_header_is_kubernetes_base64_json(void **state)
{
    static const char *const groups[] = {"system:authenticated", "dev", NULL};
    dtk_json *extra = NULL;
    dtk_osb_identity id = {"alice", "u-1", groups, NULL};
    dtk_buf out = DTK_BUF_INIT(0);
    const char *ex = "{\"scopes\":[\"a\",\"b\"]}";

    (void)state;
    assert_int_equal(dtk_json_parse(&extra, ex, strlen(ex)), 0);
    id.extra = extra;
    assert_int_equal(dtk_osb_identity_header(&out, &id), 0);
    /* base64 of {"username":"alice","uid":"u-1","groups":[
     * "system:authenticated","dev"],"extra":{"scopes":["a","b"]}} */
    assert_string_equal(
        dtk_buf_cstr(&out),
        "kubernetes eyJ1c2VybmFtZSI6ImFsaWNlIiwidWlkIjoidS0xIiwiZ3JvdXBzIjpb"
        "InN5c3RlbTphdXRoZW50aWNhdGVkIiwiZGV2Il0sImV4dHJhIjp7InNjb3BlcyI6Wy"
        "JhIiwiYiJdfX0=");
    dtk_json_free(extra);
    dtk_buf_reset(&out);
    ex = "{\"scopes\":\"a\"}";
    assert_int_equal(dtk_json_parse(&extra, ex, strlen(ex)), 0);
    id.extra = extra;
    assert_int_equal(dtk_osb_identity_header(&out, &id), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "identity.extra: expected an object of string arrays");
    dtk_json_free(extra);
    dtk_buf_dispose(&out);
}

static dtk_json *json(const char *text)
{
    dtk_json *v = NULL;

    assert_int_equal(dtk_json_parse(&v, text, strlen(text)), 0);
    return v;
}

static void expect_schema(const char *schema,
                          const char *params,
                          const char *message)
{
    dtk_json *s = json(schema);
    dtk_json *p = params ? json(params) : NULL;
    int error = dtk_osb_schema_validate(s, p);

    if (message == NULL) {
        assert_int_equal(error, 0);
    } else {
        assert_int_equal(error, DTK_EINVALID);
        assert_string_equal(dtk_error_last()->message, message);
    }
    dtk_json_free(s);
    dtk_json_free(p);
}

static const char *const PLAN_SCHEMA =
    "{\"$schema\":\"http://json-schema.org/draft-04/schema#\","
    "\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"size\"],"
    "\"properties\":{"
    "\"size\":{\"type\":\"string\",\"enum\":[\"small\",\"large\"]},"
    "\"replicas\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":5},"
    "\"ratio\":{\"type\":\"number\",\"minimum\":0,\"exclusiveMinimum\":true,"
    "\"maximum\":1,\"exclusiveMaximum\":true},"
    "\"name\":{\"type\":\"string\",\"minLength\":3,\"maxLength\":8},"
    "\"tags\":{\"type\":\"array\",\"maxItems\":2,"
    "\"items\":{\"type\":\"string\"}},"
    "\"db\":{\"type\":\"object\",\"required\":[\"host\"],"
    "\"properties\":{\"port\":{\"type\":[\"integer\",\"null\"]}}},"
    "\"mode\":{\"enum\":[1,true,\"x\"]},"
    "\"free\":{\"$ref\":\"#/definitions/whatever\",\"pattern\":\"^a$\"}}}";

static void test_osb__schema_messages_name_the_parameter(void **state)
{
    (void)state;
    expect_schema(PLAN_SCHEMA, "{\"size\":\"small\",\"replicas\":3}", NULL);
    expect_schema(PLAN_SCHEMA, "{\"size\":\"medium\"}",
                  "parameter size: must be one of 'small', 'large'");
    expect_schema(PLAN_SCHEMA, "{\"size\":1}",
                  "parameter size: must be a string");
    expect_schema(PLAN_SCHEMA, "{\"size\":\"small\",\"replicas\":1.5}",
                  "parameter replicas: must be an integer");
    expect_schema(PLAN_SCHEMA, "{\"size\":\"small\",\"replicas\":9}",
                  "parameter replicas: must be at most 5");
    expect_schema(PLAN_SCHEMA, "{\"size\":\"small\",\"replicas\":0}",
                  "parameter replicas: must be at least 1");
    expect_schema(PLAN_SCHEMA, "{\"size\":\"small\",\"ratio\":0}",
                  "parameter ratio: must be greater than 0");
    expect_schema(PLAN_SCHEMA, "{\"size\":\"small\",\"ratio\":1}",
                  "parameter ratio: must be less than 1");
    expect_schema(PLAN_SCHEMA, "{\"size\":\"small\",\"name\":\"ab\"}",
                  "parameter name: must be at least 3 characters long");
    /* Length counts characters, not bytes. */
    expect_schema(PLAN_SCHEMA,
                  "{\"size\":\"small\",\"name\":\"\xc3\xa9\xc3\xa9\xc3\xa9\"}",
                  NULL);
    expect_schema(PLAN_SCHEMA, "{\"size\":\"small\",\"name\":\"abcdefghi\"}",
                  "parameter name: must be at most 8 characters long");
    expect_schema(PLAN_SCHEMA, "{\"size\":\"small\",\"tags\":[\"a\",2,\"c\"]}",
                  "parameter tags: must have at most 2 items; "
                  "parameter tags[1]: must be a string");
    expect_schema(PLAN_SCHEMA, "{\"size\":\"small\",\"db\":{\"port\":\"x\"}}",
                  "parameter db.host: is required; parameter db.port: must "
                  "be one of the types integer, null");
    expect_schema(PLAN_SCHEMA,
                  "{\"size\":\"small\",\"db\":{\"host\":\"h\",\"port\":null}}",
                  NULL);
    expect_schema(PLAN_SCHEMA, "{\"size\":\"small\",\"mode\":false}",
                  "parameter mode: must be one of 1, true, 'x'");
    expect_schema(PLAN_SCHEMA, "{\"size\":\"small\",\"sise\":\"secret\"}",
                  "parameter sise: is not a parameter of this plan");
    /* Unsupported keywords are left to the broker. */
    expect_schema(PLAN_SCHEMA, "{\"size\":\"small\",\"free\":\"zzz\"}", NULL);
    expect_schema(PLAN_SCHEMA, NULL, "parameter size: is required");
    expect_schema(PLAN_SCHEMA, "[1]", "parameters: must be an object");
    expect_schema(PLAN_SCHEMA,
                  "{\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,\"g\":1,"
                  "\"h\":1,\"i\":1,\"j\":1}",
                  "parameter size: is required; parameter a: is not a "
                  "parameter of this plan; parameter b: is not a parameter "
                  "of this plan; parameter c: is not a parameter of this "
                  "plan; parameter d: is not a parameter of this plan; "
                  "parameter e: is not a parameter of this plan; parameter "
                  "f: is not a parameter of this plan; parameter g: is not "
                  "a parameter of this plan; and 3 more");
    /* A broken schema is not the user's fault. */
    expect_schema("{\"type\":5,\"properties\":[],\"required\":\"x\"}",
                  "{\"a\":1}", NULL);
    expect_schema("{\"type\":\"uuid\"}", "{}", NULL);
}

static void test_osb__bad_requests_fail_before_sending(void **state)
{
    dtk_osb_client *c = NULL;
    dtk_osb_options o = DTK_OSB_OPTIONS_INIT;
    dtk_osb_request req = DTK_OSB_REQUEST_INIT;
    dtk_osb_context ctx = {"cluster-1", "ns", NULL, "inst", NULL, NULL};
    dtk_osb_reply reply = DTK_OSB_REPLY_INIT;
    dtk_json *schema = json("{\"properties\":{\"size\":{\"enum\":[\"s\"]}}}");
    dtk_json *params = json("{\"size\":\"xl\"}");

    (void)state;
    o.url = "ftp://broker";
    assert_int_equal(dtk_osb_client_new(&c, &o), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "broker url: expected an http:// or https:// URL");
    o.url = "http://127.0.0.1:1/";
    o.username = "u";
    o.bearer_token = "t";
    assert_int_equal(dtk_osb_client_new(&c, &o), DTK_EINVALID);
    o.bearer_token = NULL;
    assert_int_equal(dtk_osb_client_new(&c, &o), 0);

    /* Port 1 is closed: had anything been sent, these would be
     * Unreachable, not InvalidRequest. */
    req.service_id = "s";
    req.plan_id = "p";
    req.context = &ctx;
    assert_int_equal(dtk_osb_provision(&reply, c, &req), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message, "instance_id: required");
    assert_int_equal(reply.decision.action, DTK_OSB_FAILED);
    assert_string_equal(reply.decision.reason, "InvalidRequest");
    req.instance_id = "i\r\nX-Evil: 1";
    assert_int_equal(dtk_osb_provision(&reply, c, &req), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "instance_id: contains a control character");
    req.instance_id = "i-1";
    req.parameters = params;
    req.parameters_schema = schema;
    assert_int_equal(dtk_osb_provision(&reply, c, &req), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "parameter size: must be one of 's'");
    assert_string_equal(reply.decision.reason, "InvalidParameters");
    ctx.instance_name = NULL;
    req.parameters_schema = NULL;
    assert_int_equal(dtk_osb_provision(&reply, c, &req), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "context.instance_name: required");
    req.polled = DTK_OSB_OP_CATALOG;
    assert_int_equal(dtk_osb_last_operation(&reply, c, &req), DTK_EINVALID);
    /* And with everything in place, the closed port is reported. */
    ctx.instance_name = "inst";
    assert_int_equal(dtk_osb_provision(&reply, c, &req), DTK_EUNAVAIL);
    assert_int_equal(reply.decision.action, DTK_OSB_ORPHAN);
    assert_string_equal(dtk_error_last()->message,
                        "provision: no answer from the broker (unavailable) "
                        "(orphan mitigation required)");
    dtk_osb_reply_dispose(&reply);
    dtk_osb_client_free(c);
    dtk_json_free(schema);
    dtk_json_free(params);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_osb__classifier_follows_the_orphan_mitigation_table),
        cmocka_unit_test(test_osb__poll_deadline_is_a_failure),
        cmocka_unit_test(test_osb__retry_after_http_date),
        cmocka_unit_test(test_osb__sloppy_bodies_are_tolerated),
        cmocka_unit_test(test_osb__descriptions_are_one_bounded_line),
        cmocka_unit_test(test_osb__hostile_bodies_never_crash),
        cmocka_unit_test(test_osb__catalog_decodes_the_test_broker_catalog),
        cmocka_unit_test(test_osb__catalog_errors_name_the_field),
        cmocka_unit_test(test_osb__identity_header_is_kubernetes_base64_json),
        cmocka_unit_test(test_osb__schema_messages_name_the_parameter),
        cmocka_unit_test(test_osb__bad_requests_fail_before_sending),
    };

    int failed;

    dtk_http_global_init();
    failed = cmocka_run_group_tests(tests, NULL, NULL);
    dtk_http_global_cleanup();
    return failed;
}

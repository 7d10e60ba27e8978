/* The response classifier: what the platform must do after a broker answer.
 *
 * A pure function of (operation, HTTP status, parsed body), so every row
 * below is unit-tested without a network. It decides on the status code
 * first and looks at the body second, and then only at the machine-readable
 * fields (`error`, `state`, `operation`, `instance_usable`,
 * `update_repeatable`), never at `description` text: stock SBF error bodies
 * carry only a description, other brokers send `{}` or HTML.
 *
 * OSB 2.17 "Orphan Mitigation" table as implemented (OM = orphan-mitigate,
 * i.e. DTK_OSB_ORPHAN; "-" = no OM):
 *
 *   request              answer                      decision
 *   any                  200                         DONE (a bind 200 whose
 *                                                    body is not an object
 *                                                    is FAILED: the
 *                                                    credentials are lost)
 *   provision, bind      201 / 202 well-formed       DONE / POLL
 *   provision, bind      201 / 202 malformed         OM
 *   deprovision, unbind  202 well-formed / malformed POLL / RETRY (a
 *                                                    re-sent DELETE is
 *                                                    idempotent)
 *   update               202 well-formed / malformed POLL / RETRY
 *   provision, deprov.   other 2xx (201 on DELETE,   OM
 *   bind, unbind         204, ...)
 *   update               other 2xx                   FAILED, no OM
 *   any                  408                         RETRY, no OM
 *   any                  other 4xx                   no OM:
 *                          410 on deprovision/unbind GONE (success)
 *                          422 ConcurrencyError      RETRY
 *                          401, 403                  RETRY (credentials
 *                                                    may be rotated)
 *                          429                       RETRY (Retry-After)
 *                          400, 409, 412, other 422,
 *                          other 4xx                 FAILED
 *   provision, deprov.   5xx                         OM
 *   bind, unbind         5xx                         OM
 *   update               5xx                         RETRY, or FAILED when
 *                                                    update_repeatable=false
 *   provision, bind      no answer (timeout, reset)  OM
 *   deprov., unbind,     no answer                   RETRY (re-send the
 *   update, reads                                    DELETE), no OM
 *   last_operation for   200 "failed"                OM for provision,
 *                                                    deprovision, bind,
 *                                                    unbind; FAILED for
 *                                                    update
 *   last_operation       200 "in progress"           POLL after Retry-After
 *                                                    (or the default)
 *   last_operation       200 "succeeded"             DONE
 *   last_operation       410 for deprovision/unbind  GONE; for others it is
 *                                                    invalid: POLL
 *   last_operation       404 for deprovision/unbind  GONE (nothing left)
 *   last_operation       404 otherwise               FAILED (nothing exists,
 *                                                    so nothing to mitigate)
 *   last_operation       any other answer, bad body  POLL (the spec says keep
 *                        or no answer                polling until valid or
 *                                                    the deadline, see
 *                                                    dtk_osb_classify_poll_
 *                                                    expired)
 *   catalog, fetch       200 well-formed             DONE; 404/410 on fetch
 *                                                    is GONE; 5xx, no answer
 *                                                    or a bad body: RETRY
 */
#include "pkg/osb/osb.h"

#include <stdio.h>
#include <string.h>

#include "pkg/base/error.h"

static int is_poll(dtk_osb_op op)
{
    return op >= DTK_OSB_OP_POLL_PROVISION && op <= DTK_OSB_OP_POLL_UNBIND;
}

static int is_create(dtk_osb_op op)
{
    return op == DTK_OSB_OP_PROVISION || op == DTK_OSB_OP_BIND;
}

static int is_delete(dtk_osb_op op)
{
    return op == DTK_OSB_OP_DEPROVISION || op == DTK_OSB_OP_UNBIND;
}

static int is_read(dtk_osb_op op)
{
    return op == DTK_OSB_OP_CATALOG || op == DTK_OSB_OP_FETCH_INSTANCE ||
           op == DTK_OSB_OP_FETCH_BINDING;
}

static int clamp_delay(long s)
{
    if (s < 1) {
        return 1;
    }
    return s > DTK_OSB_MAX_DELAY_S ? DTK_OSB_MAX_DELAY_S : (int)s;
}

static int poll_delay(const dtk_osb_reply *r)
{
    return clamp_delay(r->retry_after_s >= 0 ? r->retry_after_s
                                             : DTK_OSB_DEFAULT_POLL_S);
}

/* RETRY waits for Retry-After when the broker gave one, else 0 lets the
 * caller's rate limiter choose. */
static int retry_delay(const dtk_osb_reply *r)
{
    return r->retry_after_s >= 0 ? clamp_delay(r->retry_after_s) : 0;
}

static dtk_osb_decision make(const dtk_osb_reply *r,
                             dtk_osb_action action,
                             int error,
                             const char *reason)
{
    dtk_osb_decision d;

    d.action = action;
    d.error = error;
    d.reason = reason;
    d.delay_s = 0;
    if (action == DTK_OSB_POLL) {
        d.delay_s = poll_delay(r);
    } else if (action == DTK_OSB_RETRY) {
        d.delay_s = retry_delay(r);
    }
    d.instance_usable = r->instance_usable;
    d.update_repeatable = r->update_repeatable;
    return d;
}

static int error_is(const dtk_osb_reply *r, const char *code)
{
    return r->error != NULL && strcmp(r->error, code) == 0;
}

static dtk_osb_decision no_answer(const dtk_osb_reply *r)
{
    int error = r->transport_error ? r->transport_error : DTK_EUNAVAIL;
    const char *reason = error == DTK_ETIMEOUT   ? "Timeout"
                         : error == DTK_EUNAVAIL ? "Unreachable"
                         : error == DTK_ETOOBIG  ? "ResponseTooLarge"
                                                 : "TransportError";

    if (is_poll(r->op)) {
        return make(r, DTK_OSB_POLL, 0, reason);
    }
    if (is_create(r->op)) {
        /* The broker may have created the resource before the answer was
         * lost: it must be deleted before anything else. */
        return make(r, DTK_OSB_ORPHAN, error, reason);
    }
    return make(r, DTK_OSB_RETRY, error, reason);
}

static dtk_osb_decision classify_poll(const dtk_osb_reply *r)
{
    dtk_osb_op polled = r->op;
    int deleting = polled == DTK_OSB_OP_POLL_DEPROVISION ||
                   polled == DTK_OSB_OP_POLL_UNBIND;

    if (r->status == 200) {
        if (!r->body_valid) {
            return make(r, DTK_OSB_POLL, 0, "InvalidResponse");
        }
        switch (r->state) {
        case DTK_OSB_STATE_IN_PROGRESS:
            return make(r, DTK_OSB_POLL, 0, "InProgress");
        case DTK_OSB_STATE_SUCCEEDED:
            return make(r, DTK_OSB_DONE, 0, "Succeeded");
        case DTK_OSB_STATE_FAILED:
            if (polled == DTK_OSB_OP_POLL_UPDATE) {
                return make(r, DTK_OSB_FAILED, DTK_EINVALID, "OperationFailed");
            }
            return make(r, DTK_OSB_ORPHAN, DTK_ERROR, "OperationFailed");
        default:
            return make(r, DTK_OSB_POLL, 0, "InvalidResponse");
        }
    }
    if (r->status == 410) {
        /* Only an asynchronous delete may end in 410. */
        return deleting ? make(r, DTK_OSB_GONE, 0, "Gone")
                        : make(r, DTK_OSB_POLL, 0, "InvalidResponse");
    }
    if (r->status == 404) {
        return deleting ? make(r, DTK_OSB_GONE, 0, "Gone")
                        : make(r, DTK_OSB_FAILED, DTK_EINVALID, "NotFound");
    }
    if (r->status == 401 || r->status == 403) {
        return make(r, DTK_OSB_POLL, 0, "Unauthorized");
    }
    if (r->status >= 500) {
        return make(r, DTK_OSB_POLL, 0, "BrokerError");
    }
    return make(r, DTK_OSB_POLL, 0, "InvalidResponse");
}

static dtk_osb_decision classify_2xx(const dtk_osb_reply *r)
{
    dtk_osb_op op = r->op;

    if (r->status == 200) {
        if (op == DTK_OSB_OP_BIND && !r->body_valid) {
            return make(r, DTK_OSB_FAILED, DTK_EINVALID, "InvalidResponse");
        }
        if (is_read(op) && !r->body_valid) {
            return make(r, DTK_OSB_RETRY, DTK_ERROR, "InvalidResponse");
        }
        return make(r, DTK_OSB_DONE, 0, "Succeeded");
    }
    if (is_read(op)) {
        return make(r, DTK_OSB_RETRY, DTK_ERROR, "UnexpectedStatus");
    }
    if (r->status == 201 && is_create(op)) {
        return r->body_valid
                   ? make(r, DTK_OSB_DONE, 0, "Succeeded")
                   : make(r, DTK_OSB_ORPHAN, DTK_ERROR, "InvalidResponse");
    }
    if (r->status == 202) {
        if (r->body_valid) {
            return make(r, DTK_OSB_POLL, 0, "InProgress");
        }
        if (is_create(op)) {
            return make(r, DTK_OSB_ORPHAN, DTK_ERROR, "InvalidResponse");
        }
        /* Update and delete: re-sending is idempotent and yields the
         * operation again. */
        return make(r, DTK_OSB_RETRY, DTK_ERROR, "InvalidResponse");
    }
    /* Any other 2xx. */
    if (op == DTK_OSB_OP_UPDATE) {
        return make(r, DTK_OSB_FAILED, DTK_EINVALID, "UnexpectedStatus");
    }
    return make(r, DTK_OSB_ORPHAN, DTK_ERROR, "UnexpectedStatus");
}

static dtk_osb_decision classify_422(const dtk_osb_reply *r)
{
    if (error_is(r, "ConcurrencyError")) {
        return make(r, DTK_OSB_RETRY, DTK_ECONFLICT, "ConcurrencyError");
    }
    if (error_is(r, "AsyncRequired")) {
        return make(r, DTK_OSB_FAILED, DTK_EINVALID, "AsyncRequired");
    }
    if (error_is(r, "MaintenanceInfoConflict")) {
        return make(r, DTK_OSB_FAILED, DTK_EINVALID, "MaintenanceInfoConflict");
    }
    if (error_is(r, "RequiresApp")) {
        return make(r, DTK_OSB_FAILED, DTK_EINVALID, "RequiresApp");
    }
    return make(r, DTK_OSB_FAILED, DTK_EINVALID, "UnprocessableEntity");
}

static dtk_osb_decision classify_4xx(const dtk_osb_reply *r)
{
    dtk_osb_op op = r->op;

    switch (r->status) {
    case 408:
        return make(r, DTK_OSB_RETRY, DTK_ETIMEOUT, "RequestTimeout");
    case 401:
        return make(r, DTK_OSB_RETRY, DTK_EAUTH, "Unauthorized");
    case 403:
        return make(r, DTK_OSB_RETRY, DTK_EAUTH, "Forbidden");
    case 429:
        return make(r, DTK_OSB_RETRY, DTK_EUNAVAIL, "TooManyRequests");
    case 422:
        return classify_422(r);
    case 410:
        if (is_delete(op) || op == DTK_OSB_OP_FETCH_INSTANCE ||
            op == DTK_OSB_OP_FETCH_BINDING) {
            return make(r, DTK_OSB_GONE, 0, "Gone");
        }
        return make(r, DTK_OSB_FAILED, DTK_EINVALID, "Gone");
    case 404:
        if (op == DTK_OSB_OP_FETCH_INSTANCE || op == DTK_OSB_OP_FETCH_BINDING) {
            return make(r, DTK_OSB_GONE, 0, "Gone");
        }
        return make(r, DTK_OSB_FAILED, DTK_EINVALID, "NotFound");
    case 409:
        return make(r, DTK_OSB_FAILED, DTK_EINVALID, "Conflict");
    case 400:
        return make(r, DTK_OSB_FAILED, DTK_EINVALID, "BadRequest");
    case 412:
        return make(r, DTK_OSB_FAILED, DTK_EINVALID, "UnsupportedAPIVersion");
    default:
        return make(r, DTK_OSB_FAILED, DTK_EINVALID, "ClientError");
    }
}

dtk_osb_decision dtk_osb_classify(const dtk_osb_reply *r)
{
    dtk_osb_op op = r->op;

    /* A body cut off at the size limit still has a status: it is a
     * response with a malformed body. Any other transport failure means
     * no (complete) answer. */
    if (r->status == 0 ||
        (r->transport_error != 0 && r->transport_error != DTK_ETOOBIG)) {
        return no_answer(r);
    }
    if (is_poll(op)) {
        return classify_poll(r);
    }
    if (r->status >= 200 && r->status < 300) {
        return classify_2xx(r);
    }
    if (r->status >= 400 && r->status < 500) {
        return classify_4xx(r);
    }
    if (r->status >= 500) {
        if (is_create(op) || is_delete(op)) {
            return make(r, DTK_OSB_ORPHAN, DTK_EUNAVAIL, "BrokerError");
        }
        if (op == DTK_OSB_OP_UPDATE && r->update_repeatable == 0) {
            return make(r, DTK_OSB_FAILED, DTK_EINVALID, "BrokerError");
        }
        return make(r, DTK_OSB_RETRY, DTK_EUNAVAIL, "BrokerError");
    }
    /* 1xx/3xx as a final answer: not an OSB response; nothing suggests
     * the broker acted on it. */
    if (is_read(op)) {
        return make(r, DTK_OSB_RETRY, DTK_ERROR, "UnexpectedStatus");
    }
    return make(r, DTK_OSB_FAILED, DTK_EINVALID, "UnexpectedStatus");
}

dtk_osb_decision dtk_osb_classify_poll_expired(dtk_osb_op poll_op)
{
    dtk_osb_decision d = {DTK_OSB_ORPHAN,   0,  DTK_ETIMEOUT,
                          "PollingTimeout", -1, -1};

    if (poll_op == DTK_OSB_OP_POLL_UPDATE || poll_op == DTK_OSB_OP_UPDATE) {
        d.action = DTK_OSB_FAILED;
        d.error = DTK_EINVALID;
    }
    return d;
}

const char *dtk_osb_op_name(dtk_osb_op op)
{
    static const char *const names[DTK_OSB_OP_COUNT] = {
        "catalog",        "provision",   "update",           "deprovision",
        "bind",           "unbind",      "fetch instance",   "fetch binding",
        "poll provision", "poll update", "poll deprovision", "poll bind",
        "poll unbind",
    };

    if ((int)op < 0 || (int)op >= DTK_OSB_OP_COUNT) {
        return "unknown";
    }
    return names[op];
}

const char *dtk_osb_action_name(dtk_osb_action action)
{
    switch (action) {
    case DTK_OSB_DONE:
        return "done";
    case DTK_OSB_POLL:
        return "poll";
    case DTK_OSB_FAILED:
        return "failed";
    case DTK_OSB_ORPHAN:
        return "orphan";
    case DTK_OSB_RETRY:
        return "retry";
    case DTK_OSB_GONE:
        return "gone";
    }
    return "unknown";
}

const char *dtk_osb_describe(char *out, size_t size, const dtk_osb_reply *r)
{
    const dtk_osb_decision *d = &r->decision;
    const char *op = dtk_osb_op_name(r->op);
    const char *desc = r->description;
    const char *om =
        d->action == DTK_OSB_ORPHAN ? " (orphan mitigation required)" : "";
    int n;

    if (size == 0) {
        return out;
    }
    if (r->status == 0 ||
        (r->transport_error != 0 && r->transport_error != DTK_ETOOBIG)) {
        n = snprintf(out, size, "%s: no answer from the broker (%s)%s", op,
                     dtk_error_name(r->transport_error), om);
    } else if (r->state == DTK_OSB_STATE_FAILED && r->status == 200) {
        n = snprintf(out, size, "%s: operation failed: %s%s", op,
                     desc ? desc : "(no description)", om);
    } else if (r->transport_error == DTK_ETOOBIG) {
        n = snprintf(out, size,
                     "%s: broker answered %ld with a body over "
                     "the size limit%s",
                     op, r->status, om);
    } else if (r->error != NULL || desc != NULL) {
        n = snprintf(out, size, "%s: broker answered %ld%s%s: %s%s", op,
                     r->status, r->error ? " " : "", r->error ? r->error : "",
                     desc ? desc : "(no description)", om);
    } else if (!r->body_valid &&
               strcmp(d->reason ? d->reason : "", "InvalidResponse") == 0) {
        n = snprintf(out, size, "%s: broker sent an invalid %ld body%s", op,
                     r->status, om);
    } else {
        n = snprintf(out, size, "%s: broker answered %ld (%s)%s", op, r->status,
                     d->reason ? d->reason : "no description", om);
    }
    if (n < 0) {
        out[0] = '\0';
    }
    /* Truncation is acceptable for a message; snprintf terminated it. */
    return out;
}

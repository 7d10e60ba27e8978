/* HTTP status + metav1.Status -> dtk_error_code (the one place where the
 * meaning of a Kubernetes answer is translated; see kube.h for the table).
 *
 * The code decides first; the reason refines it where one code carries two
 * meanings (409 AlreadyExists vs Conflict, 5xx ServerTimeout). When there is
 * no usable code (an ERROR watch event without one) the reason alone
 * decides. The server's message is quoted in our message, a body that is not
 * a Status never is.
 */
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/error.h"
#include "pkg/kube/kube_int.h"

void dtk_kube_status_dispose(dtk_kube_status *status)
{
    dtk_free(status->status);
    dtk_free(status->reason);
    dtk_free(status->message);
    dtk_free(status->details_name);
    dtk_free(status->details_kind);
    for (size_t i = 0; i < status->cause_count; i++) {
        dtk_free(status->causes[i].reason);
        dtk_free(status->causes[i].message);
        dtk_free(status->causes[i].field);
    }
    dtk_free(status->causes);
    memset(status, 0, sizeof(*status));
    status->retry_after_s = -1;
}

void dtk_kube__status_reset(dtk_kube_status *status, long http_code)
{
    dtk_kube_status_dispose(status);
    status->http_code = http_code;
    status->code = (int)http_code;
}

void dtk_kube__status_copy(dtk_kube_status *dst, const dtk_kube_status *src)
{
    dtk_kube_status_dispose(dst);
    *dst = *src;
    dst->status = dtk_strdup(src->status);
    dst->reason = dtk_strdup(src->reason);
    dst->message = dtk_strdup(src->message);
    dst->details_name = dtk_strdup(src->details_name);
    dst->details_kind = dtk_strdup(src->details_kind);
    dst->causes = NULL;
    dst->cause_count = 0;
    if (src->cause_count > 0) {
        dst->causes = dtk_calloc(src->cause_count, sizeof(*dst->causes));
        for (size_t i = 0; i < src->cause_count; i++) {
            dst->causes[i].reason = dtk_strdup(src->causes[i].reason);
            dst->causes[i].message = dtk_strdup(src->causes[i].message);
            dst->causes[i].field = dtk_strdup(src->causes[i].field);
        }
        dst->cause_count = src->cause_count;
    }
}

static int reason_is(const char *reason, const char *want)
{
    return reason != NULL && strcmp(reason, want) == 0;
}

static int map_reason(const char *reason)
{
    static const struct {
        const char *reason;
        int error;
    } table[] = {
        {"NotFound", DTK_ENOTFOUND},
        {"AlreadyExists", DTK_EEXISTS},
        {"Conflict", DTK_ECONFLICT},
        {"Gone", DTK_EGONE},
        {"Expired", DTK_EGONE},
        {"Invalid", DTK_EINVALID},
        {"BadRequest", DTK_EINVALID},
        {"MethodNotAllowed", DTK_EINVALID},
        {"NotAcceptable", DTK_EINVALID},
        {"UnsupportedMediaType", DTK_EINVALID},
        {"Unauthorized", DTK_EAUTH},
        {"Forbidden", DTK_EAUTH},
        {"RequestEntityTooLarge", DTK_ETOOBIG},
        {"TooManyRequests", DTK_EUNAVAIL},
        {"ServiceUnavailable", DTK_EUNAVAIL},
        {"InternalError", DTK_EUNAVAIL},
        {"Timeout", DTK_ETIMEOUT},
        {"ServerTimeout", DTK_ETIMEOUT},
    };

    for (size_t i = 0; reason != NULL && i < sizeof(table) / sizeof(*table);
         i++) {
        if (strcmp(reason, table[i].reason) == 0) {
            return table[i].error;
        }
    }
    return DTK_ERROR;
}

static int map_code(long code, const char *reason)
{
    if (code >= 200 && code < 300) {
        return 0;
    }
    switch (code) {
    case 400:
    case 405:
    case 406:
    case 415:
    case 422:
        return DTK_EINVALID;
    case 401:
    case 403:
        return DTK_EAUTH;
    case 404:
        return DTK_ENOTFOUND;
    case 408:
    case 504:
        return DTK_ETIMEOUT;
    case 409:
        return reason_is(reason, "AlreadyExists") ? DTK_EEXISTS : DTK_ECONFLICT;
    case 410:
        return DTK_EGONE;
    case 413:
        return DTK_ETOOBIG;
    case 429:
        return DTK_EUNAVAIL;
    default:
        break;
    }
    if (code >= 500 && code < 600) {
        return reason_is(reason, "Timeout") ||
                       reason_is(reason, "ServerTimeout")
                   ? DTK_ETIMEOUT
                   : DTK_EUNAVAIL;
    }
    if (code <= 0) {
        return map_reason(reason);
    }
    return DTK_ERROR;
}

static char *copy_string(const dtk_json *obj, const char *key)
{
    return dtk_strdup(dtk_json_get_string(obj, key));
}

/* Fills status from a Status object (anything else is ignored). */
static int decode_body(dtk_kube_status *status, const dtk_json *body)
{
    const char *kind = dtk_json_get_string(body, "kind");
    const dtk_json *details;
    const dtk_json *causes;
    int64_t n;

    if (kind == NULL || strcmp(kind, "Status") != 0) {
        return 0;
    }
    status->status = copy_string(body, "status");
    status->reason = copy_string(body, "reason");
    status->message = copy_string(body, "message");
    if (dtk_json_int(&n, dtk_json_get(body, "code")) == 0 && n > 0 &&
        n < 1000) {
        status->code = (int)n;
    }
    details = dtk_json_get(body, "details");
    if (details != NULL && details->type == DTK_JSON_OBJECT) {
        status->details_name = copy_string(details, "name");
        status->details_kind = copy_string(details, "kind");
        if (dtk_json_int(&n, dtk_json_get(details, "retryAfterSeconds")) == 0 &&
            n >= 0) {
            status->retry_after_s = (long)n;
        }
        causes = dtk_json_get(details, "causes");
        if (causes != NULL && causes->type == DTK_JSON_ARRAY &&
            dtk_json_len(causes) > 0) {
            size_t len = dtk_json_len(causes);

            status->causes = dtk_calloc(len, sizeof(*status->causes));
            for (size_t i = 0; i < len; i++) {
                const dtk_json *c = dtk_json_at(causes, i);

                status->causes[i].reason = copy_string(c, "reason");
                status->causes[i].message = copy_string(c, "message");
                status->causes[i].field = copy_string(c, "field");
            }
            status->cause_count = len;
        }
    }
    return 1;
}

int dtk_kube_status_decode(dtk_kube_status *out,
                           long http_code,
                           const dtk_json *body,
                           const char *context)
{
    int is_status;
    int failure;
    const char *ctx = context != NULL ? context : "kubernetes";

    dtk_kube__status_reset(out, http_code);
    is_status = body != NULL && decode_body(out, body);
    failure = is_status && reason_is(out->status, "Failure");
    if (http_code >= 200 && http_code < 300 && !failure) {
        out->error = 0;
        return 0;
    }
    /* A Failure inside a 2xx answer, or a watch ERROR event (no HTTP
     * code: http_code 0), maps by the Status's own code. */
    out->error = map_code(http_code < 300 ? out->code : http_code, out->reason);
    if (out->error == 0) {
        out->error = DTK_ERROR;
    }
    if (is_status && out->message != NULL && out->message[0] != '\0') {
        if (out->reason != NULL && out->reason[0] != '\0') {
            dtk_error_set(DTK_ERRCLASS_KUBE, "%s: %s (%d %s)", ctx,
                          out->message, out->code, out->reason);
        } else {
            dtk_error_set(DTK_ERRCLASS_KUBE, "%s: %s (%d)", ctx, out->message,
                          out->code);
        }
    } else if (is_status) {
        dtk_error_set(DTK_ERRCLASS_KUBE, "%s: %d %s", ctx, out->code,
                      out->reason != NULL ? out->reason : "Failure");
    } else {
        dtk_error_set(DTK_ERRCLASS_KUBE,
                      "%s: HTTP %ld with no Status in the answer", ctx,
                      http_code);
    }
    return out->error;
}

/* metav1.Status responses. */
#include "cmd/dtk-apiserver/apiserver.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pkg/base/alloc.h"

dtk_json *dtk_status_new(int code, const char *reason, const char *message)
{
    dtk_json *st = dtk_json_new_object();

    dtk_json_set(st, "kind", dtk_json_new_string("Status"));
    dtk_json_set(st, "apiVersion", dtk_json_new_string("v1"));
    dtk_json_set(st, "metadata", dtk_json_new_object());
    dtk_json_set(st, "status", dtk_json_new_string(
                                   code < 400 ? "Success" : "Failure"));
    dtk_json_set(st, "message", dtk_json_new_string(message));
    dtk_json_set(st, "reason", dtk_json_new_string(reason));
    dtk_json_set(st, "code", dtk_json_new_int(code));
    return st;
}

void dtk_status_details(dtk_json *status, const char *name, const char *group,
                        const char *kind)
{
    dtk_json *d = dtk_json_new_object();

    if (name != NULL) {
        dtk_json_set(d, "name", dtk_json_new_string(name));
    }
    if (group != NULL && *group != '\0') {
        dtk_json_set(d, "group", dtk_json_new_string(group));
    }
    if (kind != NULL) {
        dtk_json_set(d, "kind", dtk_json_new_string(kind));
    }
    /* Status.details comes after message/reason in Kubernetes' output; key
     * order does not matter to clients. */
    dtk_json_set(status, "details", d);
}

void dtk_respond_json(dtk_httpserver_exchange *ex, int code,
                      const dtk_json *body)
{
    dtk_buf out = DTK_BUF_INIT(0);

    if (dtk_json_write(&out, body) < 0) {
        static const char fallback[] =
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
            "\"status\":\"Failure\",\"message\":\"response encoding "
            "failed\",\"reason\":\"InternalError\",\"code\":500}";

        dtk_httpserver_respond(ex, 500, "application/json", fallback,
                               sizeof(fallback) - 1);
    } else {
        dtk_buf_putc(&out, '\n');
        dtk_httpserver_respond(ex, code, "application/json", out.ptr, out.len);
    }
    dtk_buf_dispose(&out);
}

void dtk_respond_status(dtk_httpserver_exchange *ex, dtk_json *status)
{
    int64_t code = 500;
    const dtk_json *retry;

    dtk_json_int(&code, dtk_json_get(status, "code"));
    retry = dtk_json_path(status,
                          (const char *const[]){"details", "retryAfterSeconds",
                                                NULL});
    if (retry != NULL && dtk_json_is_integer(retry)) {
        dtk_httpserver_add_header(ex, "Retry-After", retry->u.number);
    }
    dtk_respond_json(ex, (int)code, status);
    dtk_json_free(status);
}

void dtk_respond_error(dtk_httpserver_exchange *ex, int code,
                       const char *reason, const char *fmt, ...)
{
    char message[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    dtk_respond_status(ex, dtk_status_new(code, reason, message));
}

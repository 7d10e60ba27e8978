/* libFuzzer target for the OSB response parsers.
 *
 * The first input byte picks the operation and status code, the second a
 * Retry-After form; the rest is the body. Every body goes through
 * dtk_osb_reply_parse (which classifies it), dtk_osb_describe, the
 * credentials accessor, and dtk_osb_catalog_parse; a body that parses as
 * an object is also used as a parameter schema and as parameters. Any
 * crash, leak, or sanitizer report is a bug. Built and run by
 * test/fuzz/run.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pkg/base/error.h"
#include "pkg/osb/osb.h"

static const long statuses[] = {200, 201, 202, 204, 400, 401, 404, 408,
                                409, 410, 412, 422, 429, 500, 503, 0};

static const char *const retry_afters[] = {
    NULL,
    "1",
    "0",
    "999999999999",
    "Wed, 21 Oct 2015 07:28:00 GMT",
    "soon",
    " 5 ",
    "Sun, 06 Nov 1994 08:49:37 GMT",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dtk_osb_reply reply = DTK_OSB_REPLY_INIT;
    dtk_osb_catalog *cat = NULL;
    dtk_json *doc = NULL;
    char text[1024];
    dtk_osb_op op;
    long status;
    const char *ra;

    if (size < 2) {
        return 0;
    }
    op = (dtk_osb_op)(data[0] % DTK_OSB_OP_COUNT);
    status = statuses[(data[0] / DTK_OSB_OP_COUNT) %
                      (sizeof(statuses) / sizeof(statuses[0]))];
    ra = retry_afters[data[1] %
                      (sizeof(retry_afters) / sizeof(retry_afters[0]))];
    data += 2;
    size -= 2;

    if (status == 0) {
        dtk_osb_reply_transport_failure(&reply, op, 0, DTK_ETIMEOUT);
    } else {
        dtk_osb_reply_parse(&reply, op, status, ra, (const char *)data, size,
                            1445412000LL);
    }
    dtk_osb_describe(text, sizeof(text), &reply);
    (void)dtk_osb_reply_credentials(&reply);
    if (reply.decision.action > DTK_OSB_GONE || strlen(text) >= sizeof(text)) {
        __builtin_trap();
    }
    dtk_osb_reply_dispose(&reply);

    if (dtk_osb_catalog_parse(&cat, (const char *)data, size) == 0) {
        for (size_t i = 0; i < cat->service_count; i++) {
            (void)dtk_osb_service_plan(&cat->services[i], "x");
        }
        dtk_osb_catalog_free(cat);
    }
    if (dtk_json_parse(&doc, (const char *)data, size) == 0) {
        /* The same document as schema and as parameters. */
        (void)dtk_osb_schema_validate(doc, doc);
        (void)dtk_osb_schema_validate(doc, NULL);
        dtk_json_free(doc);
    }
    dtk_error_clear();
    return 0;
}

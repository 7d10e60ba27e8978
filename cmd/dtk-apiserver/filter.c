#include "cmd/dtk-apiserver/apiserver.h"

#include "pkg/base/alloc.h"

int dtk_filter_parse(dtk_filter **out, dtk_json **status_out,
                     const dtk_restype *t, const char *label_selector,
                     const char *field_selector)
{
    (void)t;
    *out = NULL;
    if ((label_selector && *label_selector) ||
        (field_selector && *field_selector)) {
        *status_out = dtk_status_new(400, "BadRequest", "selectors pending");
        return -6;
    }
    return 0;
}

int dtk_filter_match(const dtk_filter *f, const dtk_json *obj)
{
    (void)f;
    (void)obj;
    return 1;
}

void dtk_filter_free(dtk_filter *f)
{
    (void)f;
}

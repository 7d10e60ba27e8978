#include "cmd/dtk-apiserver/apiserver.h"
#include "pkg/base/error.h"
int dtk_smp_apply(dtk_json **doc, const dtk_json *patch, const char *g, const char *k);
static void merge(dtk_json *t, const dtk_json *p)
{
    for (size_t i = 0; i < p->u.object.len; i++) {
        const char *k = p->u.object.keys[i];
        const dtk_json *v = p->u.object.values[i];
        dtk_json *cur = dtk_json_get(t, k);
        if (v->type == DTK_JSON_NULL) { dtk_json_remove(t, k); }
        else if (v->type == DTK_JSON_OBJECT && cur && cur->type == DTK_JSON_OBJECT) { merge(cur, v); }
        else if (v->type == DTK_JSON_OBJECT) { dtk_json *o = dtk_json_new_object(); merge(o, v); dtk_json_set(t, k, o); }
        else { dtk_json_set(t, k, dtk_json_copy(v)); }
    }
}
int dtk_smp_apply(dtk_json **doc, const dtk_json *patch, const char *g, const char *k) { (void)g; (void)k; merge(*doc, patch); return 0; }

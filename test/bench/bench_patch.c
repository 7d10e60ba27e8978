/* Throughput of the patch and selector code the development API server runs
 * per request. Prints "name: value unit" lines. Run from the repository
 * root (it reads test/fixtures/kubectl-apply). */
#include <stdio.h>
#include <string.h>

#include "cmd/dtk-apiserver/selector.h"
#include "cmd/dtk-apiserver/smp.h"
#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/clock.h"
#include "pkg/json/json.h"
#include "pkg/json/patch.h"

static dtk_json *parse(const char *text)
{
    dtk_json *v = NULL;

    if (dtk_json_parse(&v, text, strlen(text)) < 0) {
        fprintf(stderr, "bench: bad JSON\n");
        return dtk_json_new_null();
    }
    return v;
}

static dtk_json *fixture(const char *name)
{
    char path[256];
    dtk_buf text = DTK_BUF_INIT(1 << 20);
    char chunk[4096];
    dtk_json *v = NULL;
    size_t n;
    FILE *f;

    snprintf(path, sizeof(path), "test/fixtures/kubectl-apply/%s.json", name);
    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "bench: cannot open %s\n", path);
        return dtk_json_new_object();
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        dtk_buf_put(&text, chunk, n);
    }
    fclose(f);
    if (dtk_json_parse(&v, dtk_buf_cstr(&text), text.len) < 0) {
        v = dtk_json_new_object();
    }
    dtk_buf_dispose(&text);
    return v;
}

static void report(const char *name,
                   int64_t start_ms,
                   long iterations,
                   const char *unit)
{
    double ms = (double)(dtk_clock_now_ms() - start_ms);

    if (strcmp(unit, "us/op") == 0) {
        printf("%s: %.2f us/op\n", name, ms * 1000.0 / (double)iterations);
    } else {
        printf("%s: %.1f ns/op\n", name, ms * 1e6 / (double)iterations);
    }
}

int main(void)
{
    dtk_json *live = fixture("configmap-create");
    dtk_json *patch = fixture("configmap-labels-finalizers-patch");
    dtk_json *ops = parse(
        "[{\"op\":\"test\",\"path\":\"/metadata/name\",\"value\":\"cm\"},"
        "{\"op\":\"add\",\"path\":\"/metadata/labels/x\",\"value\":\"1\"},"
        "{\"op\":\"replace\",\"path\":\"/data/a\",\"value\":\"9\"},"
        "{\"op\":\"remove\",\"path\":\"/data/b\"}]");
    dtk_json *merge = parse("{\"metadata\":{\"finalizers\":[\"a\",\"b\"],"
                            "\"labels\":{\"a\":null}},\"data\":{\"c\":\"3\"}}");
    dtk_json *labels = parse("{\"app\":\"web\",\"tier\":\"front\","
                             "\"example.com/team\":\"core\"}");
    dtk_labelsel *sel = NULL;
    const long n = 20000;
    int64_t t0;

    /* kubectl apply's three-way patch on a ConfigMap, as served. */
    t0 = dtk_clock_now_ms();
    for (long i = 0; i < n; i++) {
        dtk_json *obj = dtk_json_copy(live);

        dtk_smp_apply(&obj, patch, "", "ConfigMap");
        dtk_json_free(obj);
    }
    report("smp_kubectl_apply_configmap", t0, n, "us/op");

    t0 = dtk_clock_now_ms();
    for (long i = 0; i < n; i++) {
        dtk_json *obj = dtk_json_copy(live);

        dtk_json_patch_apply(&obj, ops);
        dtk_json_free(obj);
    }
    report("json_patch_4_ops_configmap", t0, n, "us/op");

    t0 = dtk_clock_now_ms();
    for (long i = 0; i < n; i++) {
        dtk_json *obj = dtk_json_copy(live);

        dtk_json_merge_patch(&obj, merge);
        dtk_json_free(obj);
    }
    report("merge_patch_configmap", t0, n, "us/op");

    t0 = dtk_clock_now_ms();
    for (long i = 0; i < n; i++) {
        dtk_labelsel_parse(&sel, "app in (web,api),tier!=back,"
                                 "example.com/team");
        dtk_labelsel_free(sel);
        sel = NULL;
    }
    report("labelsel_parse_3_requirements", t0, n, "us/op");

    dtk_labelsel_parse(&sel, "app in (web,api),tier!=back,example.com/team");
    t0 = dtk_clock_now_ms();
    for (long i = 0; i < n * 50; i++) {
        if (!dtk_labelsel_matches(sel, labels)) {
            fprintf(stderr, "bench: selector should match\n");
            break;
        }
    }
    report("labelsel_match_3_requirements", t0, n * 50, "ns/op");
    dtk_labelsel_free(sel);

    /* The worst case the server accepts: a 4096-item list merge that
     * reorders every item. */
    {
        dtk_json *o = parse("{\"metadata\":{\"finalizers\":[]}}");
        dtk_json *p = parse("{\"metadata\":{\"finalizers\":[],"
                            "\"$setElementOrder/finalizers\":[]}}");
        dtk_json *of = dtk_json_get(dtk_json_get(o, "metadata"), "finalizers");
        dtk_json *meta = dtk_json_get(p, "metadata");
        char name[32];
        const long rounds = 5;

        for (int i = 0; i < 2048; i++) {
            snprintf(name, sizeof(name), "example.com/f%04d", i);
            if (i < 1500) {
                dtk_json_append(of, dtk_json_new_string(name));
            }
            snprintf(name, sizeof(name), "example.com/f%04d", 2047 - i);
            dtk_json_append(dtk_json_get(meta, "$setElementOrder/finalizers"),
                            dtk_json_new_string(name));
            if (2047 - i >= 1500) {
                dtk_json_append(dtk_json_get(meta, "finalizers"),
                                dtk_json_new_string(name));
            }
        }
        t0 = dtk_clock_now_ms();
        for (long i = 0; i < rounds; i++) {
            dtk_json *obj = dtk_json_copy(o);

            dtk_smp_apply(&obj, p, "", "ConfigMap");
            dtk_json_free(obj);
        }
        printf("smp_4096_item_list_reorder: %.1f ms/op\n",
               (double)(dtk_clock_now_ms() - t0) / (double)rounds);
        dtk_json_free(p);
        dtk_json_free(o);
    }

    dtk_json_free(labels);
    dtk_json_free(merge);
    dtk_json_free(ops);
    dtk_json_free(patch);
    dtk_json_free(live);
    return 0;
}

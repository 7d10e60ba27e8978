#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "cmd/dtk-apiserver/smp.h"
#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/error.h"
#include "pkg/json/json.h"

/* Expected results below were cross-checked with `kubectl patch --local`
 * (kubectl v1.32 applies strategic merge patches with the same library as
 * kube-apiserver). */

static dtk_json *js(const char *text)
{
    size_t len = strlen(text);
    char *copy = dtk_strdup(text);
    dtk_json *v = NULL;

    for (size_t i = 0; i < len; i++) {
        if (copy[i] == '\'') {
            copy[i] = '"';
        }
    }
    if (dtk_json_parse(&v, copy, len) < 0) {
        fail_msg("bad test JSON: %s", text);
    }
    dtk_free(copy);
    return v;
}

static void assert_text(const dtk_json *v, const char *expected)
{
    dtk_json *want = js(expected);
    char *got = dtk_json_to_string(v);
    char *exp = dtk_json_to_string(want);

    if (strcmp(got, exp) != 0) {
        fail_msg("got      %s\nexpected %s", got, exp);
    }
    dtk_free(got);
    dtk_free(exp);
    dtk_json_free(want);
}

/* A body kubectl sent, from test/fixtures/kubectl-apply (tests run from the
 * repository root). */
static dtk_json *fixture(const char *name)
{
    char path[256];
    dtk_buf text = DTK_BUF_INIT(1 << 20);
    dtk_json *v = NULL;
    FILE *f;
    size_t n;
    char chunk[4096];

    snprintf(path, sizeof(path), "test/fixtures/kubectl-apply/%s.json", name);
    f = fopen(path, "rb");
    if (f == NULL) {
        fail_msg("cannot open %s", path);
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        assert_int_equal(dtk_buf_put(&text, chunk, n), 0);
    }
    fclose(f);
    assert_int_equal(dtk_json_parse(&v, dtk_buf_cstr(&text), text.len), 0);
    dtk_buf_dispose(&text);
    return v;
}

/* The object as a server stores it after kubectl's create. */
static dtk_json *stored(const char *create_fixture)
{
    dtk_json *obj = fixture(create_fixture);
    dtk_json *meta = dtk_json_get(obj, "metadata");

    dtk_json_set(meta, "uid",
                 dtk_json_new_string("0b5c5d3e-1111-2222-3333-444455556666"));
    dtk_json_set(meta, "resourceVersion", dtk_json_new_string("7"));
    dtk_json_set(meta, "creationTimestamp",
                 dtk_json_new_string("2026-01-01T00:00:00Z"));
    return obj;
}

static const char *last_applied(const dtk_json *obj)
{
    static const char *const path[] = {
        "metadata", "annotations",
        "kubectl.kubernetes.io/last-applied-configuration", NULL};

    return dtk_json_string(dtk_json_path(obj, path));
}

static void apply_ok(dtk_json **obj,
                     const dtk_json *patch,
                     const char *group,
                     const char *kind)
{
    int error = dtk_smp_apply(obj, patch, group, kind);

    if (error != 0) {
        fail_msg("patch failed: %s", dtk_error_last()->message);
    }
}

/* Applies patch (written with ') to obj (written with ') and compares. */
static void check(const char *kind,
                  const char *obj,
                  const char *patch,
                  const char *expect)
{
    dtk_json *o = js(obj);
    dtk_json *p = js(patch);

    apply_ok(&o, p, "", kind);
    assert_text(o, expect);
    dtk_json_free(o);
    dtk_json_free(p);
}

static void check_fails(const char *group,
                        const char *kind,
                        const char *obj,
                        const char *patch,
                        const char *message)
{
    dtk_json *o = js(obj);
    dtk_json *before = dtk_json_copy(o);
    dtk_json *p = js(patch);

    dtk_error_clear();
    assert_int_equal(dtk_smp_apply(&o, p, group, kind), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message, message);
    assert_true(dtk_json_equal(o, before));
    dtk_json_free(o);
    dtk_json_free(before);
    dtk_json_free(p);
}

/* ---- what kubectl apply sends ------------------------------------------ */

static void test_smp__kubectl_apply_changes_secret_string_data(void **state)
{
    dtk_json *live = stored("secret-stringdata-create");
    dtk_json *patch = fixture("secret-stringdata-patch");
    dtk_json *data;

    (void)state;
    /* The server turned stringData into data at create time. */
    dtk_json_remove(live, "stringData");
    data = js("{'a':'MQ=='}");
    dtk_json_set(live, "data", data);
    apply_ok(&live, patch, "", "Secret");
    /* stringData comes back for the server to fold into data; the
     * annotation is kubectl's new record of the manifest. */
    assert_text(dtk_json_get(live, "stringData"), "{'a':'2'}");
    assert_text(dtk_json_get(live, "data"), "{'a':'MQ=='}");
    assert_string_equal(last_applied(live), last_applied(patch));
    assert_non_null(strstr(last_applied(live), "\"stringData\":{\"a\":\"2\"}"));
    assert_string_equal(
        dtk_json_get_string(dtk_json_get(live, "metadata"), "uid"),
        "0b5c5d3e-1111-2222-3333-444455556666");
    dtk_json_free(patch);
    dtk_json_free(live);
}

static void test_smp__kubectl_apply_changes_secret_data_key(void **state)
{
    dtk_json *live = stored("secret-data-create");
    dtk_json *patch = fixture("secret-data-patch");

    (void)state;
    apply_ok(&live, patch, "", "Secret");
    assert_text(dtk_json_get(live, "data"), "{'a':'Mg=='}");
    assert_string_equal(dtk_json_get_string(live, "type"), "Opaque");
    assert_string_equal(last_applied(live), last_applied(patch));
    dtk_json_free(patch);
    dtk_json_free(live);
}

static void test_smp__kubectl_apply_removes_configmap_key(void **state)
{
    dtk_json *live = stored("configmap-create");
    dtk_json *patch = fixture("configmap-remove-key-patch");

    (void)state;
    /* {"data":{"b":null},"metadata":{"annotations":{...}}} */
    assert_true(dtk_json_get(dtk_json_get(patch, "data"), "b")->type ==
                DTK_JSON_NULL);
    apply_ok(&live, patch, "", "ConfigMap");
    assert_text(dtk_json_get(live, "data"), "{'a':'1'}");
    assert_text(dtk_json_get(dtk_json_get(live, "metadata"), "labels"),
                "{'a':'1','b':'2'}");
    assert_text(dtk_json_get(dtk_json_get(live, "metadata"), "finalizers"),
                "['example.com/f1']");
    assert_string_equal(last_applied(live), last_applied(patch));
    dtk_json_free(patch);
    dtk_json_free(live);
}

static void test_smp__kubectl_apply_changes_labels_and_finalizers(void **state)
{
    dtk_json *live = stored("configmap-create");
    dtk_json *patch = fixture("configmap-labels-finalizers-patch");
    dtk_json *meta = dtk_json_get(live, "metadata");

    (void)state;
    /* A controller added its own finalizer after the create; apply must
     * keep it while swapping the one it manages. */
    dtk_json_append(dtk_json_get(meta, "finalizers"),
                    dtk_json_new_string("kubernetes.io/keep"));
    apply_ok(&live, patch, "", "ConfigMap");
    meta = dtk_json_get(live, "metadata");
    assert_text(dtk_json_get(meta, "labels"), "{'a':'1','c':'3'}");
    assert_text(dtk_json_get(meta, "finalizers"),
                "['example.com/f2','kubernetes.io/keep']");
    assert_null(dtk_json_get(meta, "$setElementOrder/finalizers"));
    assert_null(dtk_json_get(meta, "$deleteFromPrimitiveList/finalizers"));
    assert_text(dtk_json_get(live, "data"), "{'a':'1','b':'2'}");
    assert_string_equal(last_applied(live), last_applied(patch));
    dtk_json_free(patch);
    dtk_json_free(live);
}

static void test_smp__kubectl_apply_replaces_service_account_secret(
    void **state)
{
    dtk_json *live = stored("serviceaccount-create");
    dtk_json *patch = fixture("serviceaccount-secrets-patch");

    (void)state;
    /* $setElementOrder/secrets plus {"$patch":"delete","name":"s1"}. */
    apply_ok(&live, patch, "", "ServiceAccount");
    assert_text(dtk_json_get(live, "secrets"), "[{'name':'s3'},{'name':'s2'}]");
    assert_null(dtk_json_get(live, "$setElementOrder/secrets"));
    dtk_json_free(patch);
    dtk_json_free(live);
}

/* ---- lists ------------------------------------------------------------- */

#define SA                                                                \
    "{'kind':'ServiceAccount','metadata':{'name':'sa','labels':{'a':'1'," \
    "'b':'2'},'finalizers':['f1','f0'],'ownerReferences':[{'uid':'u1',"   \
    "'name':'o1'},{'uid':'u2','name':'o2'}]},'secrets':[{'name':'s1'},"   \
    "{'name':'s2','namespace':'x'}],'imagePullSecrets':[{'name':'p1'}]}"

static void test_smp__finalizers_are_a_set(void **state)
{
    dtk_json *o;
    dtk_json *p;
    static const char *const fin[] = {"metadata", "finalizers", NULL};
    static const struct {
        const char *patch;
        const char *finalizers;
    } cases[] = {
        /* New items go first, known ones keep their place. */
        {"{'metadata':{'finalizers':['f2']}}", "['f2','f1','f0']"},
        {"{'metadata':{'finalizers':['f0','f2']}}", "['f1','f0','f2']"},
        /* Items the patch names follow the patch's order. */
        {"{'metadata':{'finalizers':['f0','f1']}}", "['f0','f1']"},
        {"{'metadata':{'$deleteFromPrimitiveList/finalizers':['f1','zz']}}",
         "['f0']"},
        {"{'metadata':{'$setElementOrder/finalizers':['f0','f1']}}",
         "['f0','f1']"},
        {"{'metadata':{'$deleteFromPrimitiveList/finalizers':['f1'],"
         "'$setElementOrder/finalizers':['f2','f0'],'finalizers':['f2']}}",
         "['f2','f0']"},
        /* null removes the list. */
        {"{'metadata':{'finalizers':null}}", "null"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const dtk_json *got;

        o = js(SA);
        p = js(cases[i].patch);
        apply_ok(&o, p, "", "ServiceAccount");
        got = dtk_json_path(o, fin);
        if (strcmp(cases[i].finalizers, "null") == 0) {
            assert_null(got);
        } else {
            assert_text(got, cases[i].finalizers);
        }
        dtk_json_free(o);
        dtk_json_free(p);
    }
}

static void test_smp__owner_references_merge_by_uid(void **state)
{
    dtk_json *o = js(SA);
    dtk_json *p = js("{'metadata':{'ownerReferences':[{'uid':'u2',"
                     "'controller':true},{'uid':'u3','name':'o3',"
                     "'blockOwnerDeletion':null},{'$patch':'delete',"
                     "'uid':'u1'}]}}");
    static const char *const own[] = {"metadata", "ownerReferences", NULL};

    (void)state;
    apply_ok(&o, p, "", "ServiceAccount");
    /* u2 merged, u3 added with its null dropped, both in the patch's
     * order; u1 deleted. */
    assert_text(dtk_json_path(o, own),
                "[{'uid':'u2','name':'o2','controller':true},"
                "{'uid':'u3','name':'o3'}]");
    dtk_json_free(p);
    dtk_json_free(o);

    /* "$patch: replace" among the items replaces the list. */
    check("ServiceAccount", SA,
          "{'metadata':{'ownerReferences':[{'$patch':'replace'},"
          "{'uid':'u9','name':'o9'}]}}",
          "{'kind':'ServiceAccount','metadata':{'name':'sa','labels':{'a':"
          "'1','b':'2'},'finalizers':['f1','f0'],'ownerReferences':[{'uid':"
          "'u9','name':'o9'}]},'secrets':[{'name':'s1'},{'name':'s2',"
          "'namespace':'x'}],'imagePullSecrets':[{'name':'p1'}]}");
}

static void test_smp__set_element_order_follows_go_slice_sharing(void **state)
{
    dtk_json *o = js("{'kind':'ServiceAccount','metadata':{'ownerReferences':"
                     "[{'uid':'u1'},{'uid':'u2'},{'uid':'u4'}]}}");
    dtk_json *p = js("{'metadata':{'ownerReferences':[{'uid':'u3'},"
                     "{'uid':'u5'},{'$patch':'delete','uid':'u1'}],"
                     "'$setElementOrder/ownerReferences':[{'uid':'u3'},"
                     "{'uid':'u5'},{'uid':'u1'},{'uid':'u4'}]}}");
    static const char *const own[] = {"metadata", "ownerReferences", NULL};

    (void)state;
    /* Go orders by the original slice after mergeSlice shifted and
     * appended into it ([u2,u4,u3]), so u2 ends up first; kubectl gives the
     * same. */
    apply_ok(&o, p, "", "ServiceAccount");
    assert_text(dtk_json_path(o, own),
                "[{'uid':'u2'},{'uid':'u3'},{'uid':'u5'},{'uid':'u4'}]");
    dtk_json_free(p);
    dtk_json_free(o);
}

static void test_smp__long_lists_keep_go_stable_sort_order(void **state)
{
    dtk_buf patch = DTK_BUF_INIT(0);
    dtk_buf want = DTK_BUF_INIT(0);
    dtk_buf obj = DTK_BUF_INIT(0);
    dtk_json *o, *p;
    static const char *const fin[] = {"metadata", "finalizers", NULL};

    (void)state;
    /* 25 finalizers reversed by $setElementOrder: more than one block of
     * Go's insertion sort, so the merge steps run too. */
    dtk_buf_puts(&obj, "{'kind':'ConfigMap','metadata':{'finalizers':[");
    dtk_buf_puts(&patch, "{'metadata':{'$setElementOrder/finalizers':[");
    dtk_buf_puts(&want, "[");
    for (int i = 0; i < 25; i++) {
        dtk_buf_printf(&obj, "%s'f%02d'", i ? "," : "", i);
        dtk_buf_printf(&patch, "%s'f%02d'", i ? "," : "", 24 - i);
        dtk_buf_printf(&want, "%s'f%02d'", i ? "," : "", 24 - i);
    }
    dtk_buf_puts(&obj, "]}}");
    dtk_buf_puts(&patch, "],'finalizers':['f24','f30']}}");
    dtk_buf_puts(&want, "]");
    o = js(dtk_buf_cstr(&obj));
    p = js(dtk_buf_cstr(&patch));
    /* f30 is not in the order list: the patch is refused. */
    assert_int_equal(dtk_smp_apply(&o, p, "", "ConfigMap"), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "The order in patch list doesn't match "
                        "$setElementOrder list");
    dtk_json_free(p);
    dtk_buf_reset(&patch);
    dtk_buf_puts(&patch, "{'metadata':{'$setElementOrder/finalizers':[");
    for (int i = 0; i < 25; i++) {
        dtk_buf_printf(&patch, "%s'f%02d'", i ? "," : "", 24 - i);
    }
    dtk_buf_puts(&patch, "]}}");
    p = js(dtk_buf_cstr(&patch));
    apply_ok(&o, p, "", "ConfigMap");
    assert_text(dtk_json_path(o, fin), dtk_buf_cstr(&want));
    dtk_json_free(p);
    dtk_json_free(o);
    dtk_buf_dispose(&patch);
    dtk_buf_dispose(&want);
    dtk_buf_dispose(&obj);
}

static void test_smp__lists_without_strategy_replace(void **state)
{
    (void)state;
    /* ServiceAccount.imagePullSecrets is atomic (unlike PodSpec's). */
    check("ServiceAccount",
          "{'imagePullSecrets':[{'name':'p1'}],'secrets':[{'name':'s1'}]}",
          "{'imagePullSecrets':[{'name':'p2'}],'secrets':[{'name':'s3'}]}",
          "{'imagePullSecrets':[{'name':'p2'}],'secrets':[{'name':'s3'},"
          "{'name':'s1'}]}");
    /* Namespace.spec.finalizers is atomic, but a deletion list still
     * deletes from it; status.conditions merge by type. */
    check("Namespace",
          "{'spec':{'finalizers':['kubernetes','x']},'status':{'conditions':"
          "[{'type':'A','status':'True'},{'type':'B','status':'False'}]}}",
          "{'spec':{'$deleteFromPrimitiveList/finalizers':['x']},'status':"
          "{'conditions':[{'type':'B','status':'True'},{'type':'C'}]}}",
          "{'spec':{'finalizers':['kubernetes']},'status':{'conditions':"
          "[{'type':'A','status':'True'},{'type':'B','status':'True'},"
          "{'type':'C'}]}}");
    check("Namespace", "{'spec':{'finalizers':['kubernetes','x']}}",
          "{'spec':{'finalizers':['y']}}", "{'spec':{'finalizers':['y']}}");
    /* managedFields has no strategy either. */
    check("ConfigMap",
          "{'metadata':{'managedFields':[{'manager':'a'},{'manager':'b'}]}}",
          "{'metadata':{'managedFields':[{}]}}",
          "{'metadata':{'managedFields':[{}]}}");
}

/* ---- maps and directives ----------------------------------------------- */

static void test_smp__maps_merge_and_null_deletes(void **state)
{
    (void)state;
    check("ConfigMap",
          "{'metadata':{'labels':{'a':'1','b':'2'},'annotations':{'x':'y'}},"
          "'data':{'k':'v'},'immutable':false}",
          "{'metadata':{'labels':{'b':null,'c':'3'},'annotations':null},"
          "'data':{'k':'w'},'immutable':true,'binaryData':{'z':'AA=='}}",
          "{'metadata':{'labels':{'a':'1','c':'3'}},'data':{'k':'w'},"
          "'immutable':true,'binaryData':{'z':'AA=='}}");
    /* Nested values the patch adds lose their nulls; null for an absent
     * member is ignored. */
    check("Event", "{'involvedObject':{'kind':'Pod'}}",
          "{'series':{'count':2,'lastObservedTime':null},'gone':null,"
          "'involvedObject':{'name':'p','uid':null}}",
          "{'involvedObject':{'kind':'Pod','name':'p'},'series':{'count':2}}");
    /* A scalar replaced by a map and back. */
    check("ConfigMap", "{'data':'x'}", "{'data':{'a':'1'}}",
          "{'data':{'a':'1'}}");
    check("ConfigMap", "{'data':{'a':'1'}}", "{'data':'x'}", "{'data':'x'}");
}

static void test_smp__patch_directives_in_maps(void **state)
{
    (void)state;
    check("ConfigMap", "{'metadata':{'labels':{'a':'1','b':'2'}}}",
          "{'metadata':{'labels':{'$patch':'replace','c':'3'}}}",
          "{'metadata':{'labels':{'c':'3'}}}");
    check("ConfigMap", "{'metadata':{'labels':{'a':'1','b':'2'}}}",
          "{'metadata':{'labels':{'$patch':'delete'}}}",
          "{'metadata':{'labels':{}}}");
    /* Added where nothing was: a map carrying "$patch" is dropped, as in
     * Kubernetes. */
    check("ConfigMap", "{'metadata':{'name':'x'}}",
          "{'metadata':{'labels':{'$patch':'replace','c':'3'}}}",
          "{'metadata':{'name':'x'}}");
    /* $retainKeys clears the members not listed. */
    check("ConfigMap",
          "{'metadata':{'name':'x','labels':{'a':'1'},'finalizers':['f']}}",
          "{'metadata':{'$retainKeys':['name','labels'],'labels':{'z':'1'}}}",
          "{'metadata':{'name':'x','labels':{'a':'1','z':'1'}}}");
}

static void test_smp__whole_object_replace(void **state)
{
    dtk_json *o = js("{'kind':'Lease','spec':{'holderIdentity':'a'}}");
    dtk_json *p = js("{'$patch':'replace','kind':'Lease','spec':{}}");

    (void)state;
    apply_ok(&o, p, "coordination.k8s.io", "Lease");
    assert_text(o, "{'kind':'Lease','spec':{}}");
    dtk_json_free(p);
    dtk_json_free(o);
}

static void test_smp__every_served_kind_is_supported(void **state)
{
    static const char *const kinds[][2] = {
        {"", "Secret"},
        {"", "ConfigMap"},
        {"", "Namespace"},
        {"", "ServiceAccount"},
        {"", "Event"},
        {"coordination.k8s.io", "Lease"},
        {"apps", "ControllerRevision"},
        {"events.k8s.io", "Event"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        dtk_json *o = js("{'metadata':{'finalizers':['a']}}");
        dtk_json *p = js("{'metadata':{'finalizers':['b']}}");

        assert_true(dtk_smp_supported(kinds[i][0], kinds[i][1]));
        apply_ok(&o, p, kinds[i][0], kinds[i][1]);
        assert_text(o, "{'metadata':{'finalizers':['b','a']}}");
        dtk_json_free(o);
        dtk_json_free(p);
    }
    assert_false(dtk_smp_supported("example.com", "Widget"));
    assert_false(dtk_smp_supported("", "Pod"));
    assert_false(dtk_smp_supported("apps", "Secret"));
    assert_false(dtk_smp_supported(NULL, NULL));
    assert_true(dtk_smp_supported(NULL, "ConfigMap"));
}

static void test_smp__null_patch_changes_nothing(void **state)
{
    dtk_json *o = js(SA);
    dtk_json *p = js("null");

    (void)state;
    assert_int_equal(dtk_smp_apply(&o, p, "", "ServiceAccount"), 0);
    assert_text(o, SA);
    dtk_json_free(p);
    dtk_json_free(o);
}

static void test_smp__long_lists_are_bounded(void **state)
{
    dtk_json *o = js("{'metadata':{'finalizers':[]}}");
    dtk_json *p = js("{'metadata':{'finalizers':[],"
                     "'$setElementOrder/finalizers':[]}}");
    dtk_json *of = dtk_json_get(dtk_json_get(o, "metadata"), "finalizers");
    dtk_json *pf = dtk_json_get(dtk_json_get(p, "metadata"), "finalizers");
    dtk_json *order = dtk_json_get(dtk_json_get(p, "metadata"),
                                   "$setElementOrder/finalizers");
    char name[32];
    static const char *const fin[] = {"metadata", "finalizers", NULL};

    (void)state;
    /* The largest allowed: 1500 kept, 548 added, all 2048 reordered (the
     * patch list follows the order list). */
    for (int i = 0; i < 2048; i++) {
        snprintf(name, sizeof(name), "example.com/f%04d", i);
        if (i < 1500) {
            dtk_json_append(of, dtk_json_new_string(name));
        }
        snprintf(name, sizeof(name), "example.com/f%04d", 2047 - i);
        dtk_json_append(order, dtk_json_new_string(name));
        if (2047 - i >= 1500) {
            dtk_json_append(pf, dtk_json_new_string(name));
        }
    }
    apply_ok(&o, p, "", "ConfigMap");
    assert_int_equal(dtk_json_len(dtk_json_path(o, fin)), 2048);
    assert_string_equal(dtk_json_string(dtk_json_at(dtk_json_path(o, fin), 0)),
                        "example.com/f2047");
    assert_string_equal(
        dtk_json_string(dtk_json_at(dtk_json_path(o, fin), 2047)),
        "example.com/f0000");
    /* One more item is refused. */
    dtk_json_free(p);
    p = js("{'metadata':{'finalizers':['x']}}");
    for (int i = 0; i < 2048; i++) {
        snprintf(name, sizeof(name), "example.com/g%04d", i);
        dtk_json_append(dtk_json_get(dtk_json_get(p, "metadata"), "finalizers"),
                        dtk_json_new_string(name));
    }
    assert_int_equal(dtk_smp_apply(&o, p, "", "ConfigMap"), DTK_ETOOBIG);
    assert_string_equal(dtk_error_last()->message,
                        "strategic merge patch of a list with more than 4096 "
                        "items");
    assert_int_equal(dtk_json_len(dtk_json_path(o, fin)), 2048);
    dtk_json_free(p);
    dtk_json_free(o);
}

/* ---- errors ------------------------------------------------------------ */

static void test_smp__malformed_patches_are_refused(void **state)
{
    (void)state;
    check_fails("example.com", "Widget", "{}", "{}",
                "strategic merge patch is not supported for "
                "Widget.example.com");
    check_fails("", "Pod", "{}", "{}",
                "strategic merge patch is not supported for Pod");
    check_fails("", "ConfigMap", "{}", "[1]",
                "json: cannot unmarshal array into Go value of type "
                "map[string]interface {}");
    check_fails("", "ConfigMap", "{}", "'x'",
                "json: cannot unmarshal string into Go value of type "
                "map[string]interface {}");
    check_fails("", "ConfigMap", SA,
                "{'metadata':{'labels':{'$patch':'merge','c':'3'}}}",
                "unknown patch type: merge in map");
    check_fails("", "ConfigMap", SA,
                "{'metadata':{'labels':{'$patch':'bogus'}}}",
                "unknown patch type: bogus in map");
    check_fails("", "ServiceAccount", SA,
                "{'metadata':{'ownerReferences':[{'$patch':'merge'}]}}",
                "merging lists cannot yet be specified in the patch");
    check_fails("", "ServiceAccount", SA,
                "{'metadata':{'ownerReferences':[{'name':'nokey'}]}}",
                "map does not contain declared merge key: uid");
    check_fails("", "ServiceAccount", SA,
                "{'metadata':{'ownerReferences':[{'$patch':'delete'}]}}",
                "map does not contain declared merge key: uid");
    check_fails("", "ServiceAccount", SA, "{'metadata':{'finalizers':[1]}}",
                "list element types are not identical");
    check_fails("", "ServiceAccount", SA,
                "{'metadata':{'finalizers':[{'a':1}]}}",
                "list element types are not identical");
    check_fails("", "ServiceAccount", "{'metadata':{'finalizers':[]}}",
                "{'metadata':{'finalizers':[['a']]}}",
                "lists of lists are not supported");
    check_fails("", "ServiceAccount", "{'metadata':{'finalizers':[]}}",
                "{'metadata':{'finalizers':[{'a':1}]}}",
                "cannot merge lists without merge key for type string");
    check_fails("", "ServiceAccount", SA,
                "{'metadata':{'$deleteFromPrimitiveList':['f1']}}",
                "invalid patch format of primitive list");
    check_fails("", "ServiceAccount", SA,
                "{'metadata':{'$setElementOrderX':['f1']}}",
                "invalid patch format of setElementOrder list");
    check_fails("", "ServiceAccount", SA,
                "{'metadata':{'$setElementOrder/finalizers':'f1'}}",
                "expected a []interface {}, but received a string");
    check_fails("", "ServiceAccount", SA,
                "{'metadata':{'$setElementOrder/finalizers':['zz'],"
                "'finalizers':['f2']}}",
                "The order in patch list doesn't match $setElementOrder list");
    check_fails("", "ServiceAccount", SA,
                "{'metadata':{'$retainKeys':['name'],'labels':{'x':'1'}}}",
                "invalid patch format of retainKeys");
    check_fails("", "ServiceAccount", SA, "{'metadata':{'$retainKeys':'name'}}",
                "invalid patch format of retainKeys");
    check_fails("", "ServiceAccount", SA,
                "{'$setElementOrder/secrets':[{'nom':'s1'}]}",
                "map does not contain declared merge key: name");
}

static void test_smp__failed_patch_leaves_object_untouched(void **state)
{
    dtk_json *o = js(SA);
    char *before = dtk_json_to_string(o);
    char *after;
    /* Members before the bad list are applied to the working copy first. */
    dtk_json *p = js("{'metadata':{'labels':{'a':null},'finalizers':['x'],"
                     "'ownerReferences':[{'name':'nokey'}]},"
                     "'secrets':null}");

    (void)state;
    assert_int_equal(dtk_smp_apply(&o, p, "", "ServiceAccount"), DTK_EINVALID);
    after = dtk_json_to_string(o);
    assert_string_equal(after, before);
    dtk_free(after);
    dtk_free(before);
    dtk_json_free(p);
    dtk_json_free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smp__kubectl_apply_changes_secret_string_data),
        cmocka_unit_test(test_smp__kubectl_apply_changes_secret_data_key),
        cmocka_unit_test(test_smp__kubectl_apply_removes_configmap_key),
        cmocka_unit_test(test_smp__kubectl_apply_changes_labels_and_finalizers),
        cmocka_unit_test(
            test_smp__kubectl_apply_replaces_service_account_secret),
        cmocka_unit_test(test_smp__finalizers_are_a_set),
        cmocka_unit_test(test_smp__owner_references_merge_by_uid),
        cmocka_unit_test(test_smp__set_element_order_follows_go_slice_sharing),
        cmocka_unit_test(test_smp__long_lists_keep_go_stable_sort_order),
        cmocka_unit_test(test_smp__long_lists_are_bounded),
        cmocka_unit_test(test_smp__lists_without_strategy_replace),
        cmocka_unit_test(test_smp__maps_merge_and_null_deletes),
        cmocka_unit_test(test_smp__patch_directives_in_maps),
        cmocka_unit_test(test_smp__whole_object_replace),
        cmocka_unit_test(test_smp__every_served_kind_is_supported),
        cmocka_unit_test(test_smp__null_patch_changes_nothing),
        cmocka_unit_test(test_smp__malformed_patches_are_refused),
        cmocka_unit_test(test_smp__failed_patch_leaves_object_untouched),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/error.h"
#include "pkg/json/json.h"
#include "pkg/json/patch.h"

/* JSON written with ' for " so the cases stay readable; none of them needs
 * a literal apostrophe. */
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

/* Asserts v serialises exactly as expected (written with '). */
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

/* Applies a JSON patch expecting success; returns the patched document. */
static dtk_json *patched(const char *doc, const char *ops)
{
    dtk_json *d = js(doc);
    dtk_json *o = js(ops);
    int error = dtk_json_patch_apply(&d, o);

    if (error != 0) {
        fail_msg("patch %s failed: %s", ops, dtk_error_last()->message);
    }
    dtk_json_free(o);
    return d;
}

/* Applies a JSON patch expecting failure with code and message; checks the
 * document is unchanged. */
static void assert_patch_fails(const char *doc,
                               const char *ops,
                               int code,
                               const char *message)
{
    dtk_json *d = js(doc);
    dtk_json *before = dtk_json_copy(d);
    dtk_json *o = js(ops);
    int error;

    dtk_error_clear();
    error = dtk_json_patch_apply(&d, o);
    if (error != code) {
        fail_msg("patch %s: got %d (%s), expected %d", ops, error,
                 dtk_error_last()->message, code);
    }
    assert_string_equal(dtk_error_last()->message, message);
    assert_true(dtk_json_equal(d, before));
    dtk_json_free(o);
    dtk_json_free(before);
    dtk_json_free(d);
}

static void check_patch(const char *doc, const char *ops, const char *expect)
{
    dtk_json *d = patched(doc, ops);

    assert_text(d, expect);
    dtk_json_free(d);
}

static void check_merge(const char *target,
                        const char *patch,
                        const char *expect)
{
    dtk_json *t = js(target);
    dtk_json *p = js(patch);

    assert_int_equal(dtk_json_merge_patch(&t, p), 0);
    assert_text(t, expect);
    dtk_json_free(t);
    dtk_json_free(p);
}

/* ---- RFC 7386 ---------------------------------------------------------- */

static void test_patch__merge_rfc7386_appendix_a(void **state)
{
    static const char *const cases[][3] = {
        {"{'a':'b'}", "{'a':'c'}", "{'a':'c'}"},
        {"{'a':'b'}", "{'b':'c'}", "{'a':'b','b':'c'}"},
        {"{'a':'b'}", "{'a':null}", "{}"},
        {"{'a':'b','b':'c'}", "{'a':null}", "{'b':'c'}"},
        {"{'a':['b']}", "{'a':'c'}", "{'a':'c'}"},
        {"{'a':'c'}", "{'a':['b']}", "{'a':['b']}"},
        {"{'a':{'b':'c'}}", "{'a':{'b':'d','c':null}}", "{'a':{'b':'d'}}"},
        {"{'a':[{'b':'c'}]}", "{'a':[1]}", "{'a':[1]}"},
        {"['a','b']", "['c','d']", "['c','d']"},
        {"{'a':'b'}", "['c']", "['c']"},
        {"{'a':'foo'}", "null", "null"},
        {"{'a':'foo'}", "'bar'", "'bar'"},
        {"{'e':null}", "{'a':1}", "{'e':null,'a':1}"},
        {"[1,2]", "{'a':'b','c':null}", "{'a':'b'}"},
        {"{}", "{'a':{'bb':{'ccc':null}}}", "{'a':{'bb':{}}}"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        check_merge(cases[i][0], cases[i][1], cases[i][2]);
    }
}

static void test_patch__merge_keeps_member_order_and_merges_in_place(
    void **state)
{
    (void)state;
    /* Replaced members stay where they were, new ones are appended, and
     * nested objects merge instead of being replaced. */
    check_merge("{'metadata':{'name':'x','labels':{'a':'1','b':'2'}},"
                "'spec':{'r':1}}",
                "{'metadata':{'labels':{'a':null,'c':'3'},"
                "'finalizers':['f']},'spec':{'r':2}}",
                "{'metadata':{'name':'x','labels':{'b':'2','c':'3'},"
                "'finalizers':['f']},'spec':{'r':2}}");
}

static void test_patch__merge_absent_target_and_null_patch(void **state)
{
    dtk_json *t = NULL;
    dtk_json *p = js("{'a':{'b':null,'c':1}}");

    (void)state;
    assert_int_equal(dtk_json_merge_patch(&t, p), 0);
    assert_text(t, "{'a':{'c':1}}");
    assert_int_equal(dtk_json_merge_patch(&t, NULL), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message, "merge patch is missing");
    assert_text(t, "{'a':{'c':1}}");
    dtk_json_free(p);
    dtk_json_free(t);
}

/* The operator's use: a patch from the object it read to the one it wants,
 * which applied to the original gives the wanted object. */
static void check_create(const char *original,
                         const char *modified,
                         const char *expect_patch)
{
    dtk_json *o = js(original);
    dtk_json *m = js(modified);
    dtk_json *p = NULL;
    dtk_json *applied = js(original);

    assert_int_equal(dtk_json_merge_patch_create(&p, o, m), 0);
    assert_text(p, expect_patch);
    assert_int_equal(dtk_json_merge_patch(&applied, p), 0);
    assert_true(dtk_json_equal(applied, m));
    dtk_json_free(o);
    dtk_json_free(m);
    dtk_json_free(p);
    dtk_json_free(applied);
}

static void test_patch__merge_create_is_minimal_and_round_trips(void **state)
{
    (void)state;
    /* Equal documents: an empty patch (nothing to send). */
    check_create("{'metadata':{'name':'a','labels':{'x':'1'}}}",
                 "{'metadata':{'name':'a','labels':{'x':'1'}}}", "{}");
    /* Adding a finalizer (arrays are sent whole). */
    check_create("{'metadata':{'name':'a','finalizers':['f1']},'spec':{}}",
                 "{'metadata':{'name':'a','finalizers':['f1','f2']},"
                 "'spec':{}}",
                 "{'metadata':{'finalizers':['f1','f2']}}");
    /* Removing the last finalizer and an annotation, changing a label. */
    check_create("{'metadata':{'finalizers':['f1'],'annotations':{'a':'1',"
                 "'b':'2'},'labels':{'l':'x'}}}",
                 "{'metadata':{'annotations':{'a':'1'},'labels':{'l':'y'}}}",
                 "{'metadata':{'annotations':{'b':null},'labels':{'l':'y'},"
                 "'finalizers':null}}");
    /* A nested object replaced by a scalar and a new nested object. */
    check_create("{'a':{'b':1},'c':2}", "{'a':3,'c':2,'d':{'e':[1]}}",
                 "{'a':3,'d':{'e':[1]}}");
    /* Numbers equal by value need no patch. */
    check_create("{'n':1}", "{'n':1.0}", "{}");
    /* Not objects: the patch is the new document. */
    check_create("[1]", "[2]", "[2]");
    check_create("{'a':1}", "'s'", "'s'");
    check_create("'s'", "{'a':{'b':1}}", "{'a':{'b':1}}");
}

/* ---- RFC 6902 appendix A ----------------------------------------------- */

static void test_patch__json_rfc6902_appendix_a(void **state)
{
    (void)state;
    /* A.1 to A.8, A.10, A.11, A.14, A.16 succeed. */
    check_patch("{'foo':'bar'}", "[{'op':'add','path':'/baz','value':'qux'}]",
                "{'foo':'bar','baz':'qux'}");
    check_patch("{'foo':['bar','baz']}",
                "[{'op':'add','path':'/foo/1','value':'qux'}]",
                "{'foo':['bar','qux','baz']}");
    check_patch("{'baz':'qux','foo':'bar'}", "[{'op':'remove','path':'/baz'}]",
                "{'foo':'bar'}");
    check_patch("{'foo':['bar','qux','baz']}",
                "[{'op':'remove','path':'/foo/1'}]", "{'foo':['bar','baz']}");
    check_patch("{'baz':'qux','foo':'bar'}",
                "[{'op':'replace','path':'/baz','value':'boo'}]",
                "{'baz':'boo','foo':'bar'}");
    check_patch("{'foo':{'bar':'baz','waldo':'fred'},'qux':{'corge':'grault'}}",
                "[{'op':'move','from':'/foo/waldo','path':'/qux/thud'}]",
                "{'foo':{'bar':'baz'},'qux':{'corge':'grault','thud':'fred'}}");
    check_patch("{'foo':['all','grass','cows','eat']}",
                "[{'op':'move','from':'/foo/1','path':'/foo/3'}]",
                "{'foo':['all','cows','eat','grass']}");
    check_patch("{'baz':'qux','foo':['a',2,'c']}",
                "[{'op':'test','path':'/baz','value':'qux'},"
                "{'op':'test','path':'/foo/1','value':2}]",
                "{'baz':'qux','foo':['a',2,'c']}");
    check_patch("{'foo':'bar'}",
                "[{'op':'add','path':'/child','value':{'grandchild':{}}}]",
                "{'foo':'bar','child':{'grandchild':{}}}");
    check_patch("{'foo':'bar'}",
                "[{'op':'add','path':'/baz','value':'qux','xyz':123}]",
                "{'foo':'bar','baz':'qux'}");
    check_patch("{'/':9,'~1':10}", "[{'op':'test','path':'/~01','value':10}]",
                "{'/':9,'~1':10}");
    check_patch("{'foo':['bar']}",
                "[{'op':'add','path':'/foo/-','value':['abc','def']}]",
                "{'foo':['bar',['abc','def']]}");

    /* A.9, A.12, A.13 (duplicate "op": the last one wins, as in Go),
     * A.15 fail. */
    assert_patch_fails("{'baz':'qux','foo':['a',2,'c']}",
                       "[{'op':'test','path':'/baz','value':'bar'}]",
                       DTK_EINVALID, "testing value /baz failed: test failed");
    assert_patch_fails("{'foo':'bar'}",
                       "[{'op':'add','path':'/baz/bat','value':'qux'}]",
                       DTK_EINVALID,
                       "add operation does not apply: doc is missing path: "
                       "\"/baz/bat\": missing value");
    assert_patch_fails("{'foo':'bar'}",
                       "[{'op':'add','path':'/baz','value':'qux',"
                       "'op':'remove'}]",
                       DTK_EINVALID,
                       "error in remove for path: '/baz': Unable to remove "
                       "nonexistent key: baz: missing value");
    assert_patch_fails("{'/':9,'~1':10}",
                       "[{'op':'test','path':'/~01','value':'10'}]",
                       DTK_EINVALID, "testing value /~01 failed: test failed");
}

/* ---- Kubernetes' behaviour (checked with kubectl patch --local) -------- */

#define CM                                                                  \
    "{'kind':'ConfigMap','metadata':{'name':'cm','annotations':{'a/b':'s'," \
    "'m~n':'t'},'finalizers':['f1','f0']},'data':{'a':'1','b':'2'}}"

static void test_patch__json_kubernetes_leniencies(void **state)
{
    dtk_json *d;

    (void)state;
    /* replace of a missing member adds it. */
    d = patched(CM, "[{'op':'replace','path':'/data/zz','value':'x'}]");
    assert_text(dtk_json_get(d, "data"), "{'a':'1','b':'2','zz':'x'}");
    dtk_json_free(d);
    /* Negative, signed and zero-padded indices. */
    d = patched(CM, "[{'op':'add','path':'/metadata/finalizers/-1','value':"
                    "'x'},{'op':'replace','path':'/metadata/finalizers/-3',"
                    "'value':'y'},{'op':'add','path':'/metadata/finalizers/01',"
                    "'value':'z'},{'op':'remove','path':"
                    "'/metadata/finalizers/+3'}]");
    assert_text(
        dtk_json_path(d, (const char *const[]){"metadata", "finalizers", NULL}),
        "['y','z','f0']");
    dtk_json_free(d);
    /* Missing and null read alike in test and copy; "value" may be
     * missing in add (null). */
    d = patched(CM, "[{'op':'test','path':'/data/zz','value':null},"
                    "{'op':'copy','from':'/data/zz','path':'/data/c'},"
                    "{'op':'add','path':'/data/n'},"
                    "{'op':'test','path':'/data/n','value':null}]");
    assert_text(dtk_json_get(d, "data"), "{'a':'1','b':'2','c':null,'n':null}");
    dtk_json_free(d);
    /* What precedes the first '/' is ignored; ~0 and ~1 unescape. */
    d = patched(CM, "[{'op':'add','path':'data/c','value':'x'},"
                    "{'op':'remove','path':'/metadata/annotations/a~1b'},"
                    "{'op':'move','from':'/metadata/annotations/m~0n','path':"
                    "'/metadata/annotations/x~1y'}]");
    assert_text(d, "{'kind':'ConfigMap','metadata':{'name':'cm',"
                   "'annotations':{'x/y':'t'},'finalizers':['f1','f0']},"
                   "'data':{'a':'1','b':'2'},'c':'x'}");
    dtk_json_free(d);
    /* The whole document: replaced by an object, left alone for a
     * scalar, compared by test. */
    check_patch(CM,
                "[{'op':'replace','path':'','value':{'kind':'X'}},"
                "{'op':'test','path':'','value':{'kind':'X'}}]",
                "{'kind':'X'}");
    d = patched(CM, "[{'op':'replace','path':'','value':1}]");
    assert_text(d, CM);
    dtk_json_free(d);
    /* test compares structured values and numbers by value. */
    check_patch("{'a':[1,{'b':null}],'n':1.0}",
                "[{'op':'test','path':'/a','value':[1,{'b':null}]},"
                "{'op':'test','path':'/n','value':1}]",
                "{'a':[1,{'b':null}],'n':1.0}");
}

static void test_patch__json_errors_use_kubernetes_wording(void **state)
{
    (void)state;
    assert_patch_fails(CM, "[{'op':'test','path':'/data/a','value':'2'}]",
                       DTK_EINVALID,
                       "testing value /data/a failed: test "
                       "failed");
    assert_patch_fails(CM, "[{'op':'remove','path':'/data/zz'}]", DTK_EINVALID,
                       "error in remove for path: '/data/zz': Unable to "
                       "remove nonexistent key: zz: missing value");
    assert_patch_fails(CM, "[{'op':'remove','path':'/spec/y'}]", DTK_EINVALID,
                       "remove operation does not apply: doc is missing "
                       "path: \"/spec/y\": missing value");
    assert_patch_fails(CM, "[{'op':'add','path':'/data/a/b','value':'x'}]",
                       DTK_EINVALID,
                       "add operation does not apply: doc is missing path: "
                       "\"/data/a/b\": missing value");
    assert_patch_fails(CM, "[{'op':'add','path':'','value':{}}]", DTK_EINVALID,
                       "add operation does not apply: doc is missing path: "
                       "\"\": missing value");
    assert_patch_fails(
        CM, "[{'op':'add','path':'/metadata/finalizers/3','value':'x'}]",
        DTK_EINVALID,
        "error in add for path: '/metadata/finalizers/3': Unable to access "
        "invalid index: 3: invalid index referenced");
    assert_patch_fails(
        CM, "[{'op':'add','path':'/metadata/finalizers/x','value':'x'}]",
        DTK_EINVALID,
        "error in add for path: '/metadata/finalizers/x': value was not a "
        "proper array index: 'x': strconv.Atoi: parsing \"x\": invalid "
        "syntax");
    assert_patch_fails(CM, "[{'op':'remove','path':'/metadata/finalizers/-'}]",
                       DTK_EINVALID,
                       "error in remove for path: '/metadata/finalizers/-': "
                       "strconv.Atoi: parsing \"-\": invalid syntax");
    assert_patch_fails(
        CM, "[{'op':'remove','path':'/metadata/finalizers/-3'}]", DTK_EINVALID,
        "error in remove for path: '/metadata/finalizers/-3': Unable to "
        "access invalid index: -3: invalid index referenced");
    assert_patch_fails(
        CM, "[{'op':'replace','path':'/metadata/finalizers/5','value':'x'}]",
        DTK_EINVALID,
        "replace operation does not apply: doc is missing key: "
        "/metadata/finalizers/5: missing value");
    assert_patch_fails(CM, "[{'op':'replace','path':'/x/y','value':1}]",
                       DTK_EINVALID,
                       "replace operation does not apply: doc is missing "
                       "path: /x/y: missing value");
    assert_patch_fails(
        CM, "[{'op':'test','path':'/metadata/finalizers/9','value':'x'}]",
        DTK_EINVALID,
        "error in test for path: '/metadata/finalizers/9': Unable to access "
        "invalid index: 9: invalid index referenced");
    assert_patch_fails(CM, "[{'op':'test','path':'/nope/zz','value':null}]",
                       DTK_EINVALID,
                       "test operation does not apply: is missing path: "
                       "/nope/zz: missing value");
    /* Kubernetes crashes on this one; here the test simply fails. */
    assert_patch_fails(CM, "[{'op':'test','path':'/data/zz'}]", DTK_EINVALID,
                       "testing value /data/zz failed: test failed");
    assert_patch_fails(CM, "[{'op':'move','from':'/data/zz','path':'/data/c'}]",
                       DTK_EINVALID,
                       "error in move for path: 'zz': Unable to remove "
                       "nonexistent key: zz: missing value");
    assert_patch_fails(
        CM, "[{'op':'move','from':'/metadata/finalizers/9','path':'/data/c'}]",
        DTK_EINVALID,
        "error in move for path: '9': Unable to access invalid index: 9: "
        "invalid index referenced");
    assert_patch_fails(CM, "[{'op':'move','from':'/nope/zz','path':'/data/c'}]",
                       DTK_EINVALID,
                       "move operation does not apply: doc is missing from "
                       "path: /nope/zz: missing value");
    assert_patch_fails(CM, "[{'op':'move','from':'/data','path':'/data/x'}]",
                       DTK_EINVALID,
                       "move operation does not apply: doc is missing "
                       "destination path: /data/x: missing value");
    assert_patch_fails(CM, "[{'op':'copy','from':'/nope/zz','path':'/data/c'}]",
                       DTK_EINVALID,
                       "copy operation does not apply: doc is missing from "
                       "path: /nope/zz: missing value");
    assert_patch_fails(CM, "[{'op':'copy','from':'/data/a','path':'/nope/c'}]",
                       DTK_EINVALID,
                       "copy operation does not apply: doc is missing "
                       "destination path: /nope/c: missing value");
    assert_patch_fails(
        CM, "[{'op':'copy','from':'/metadata/finalizers/9','path':'/x'}]",
        DTK_EINVALID,
        "error in copy for from: '/metadata/finalizers/9': Unable to access "
        "invalid index: 9: invalid index referenced");
}

static void test_patch__json_malformed_operations(void **state)
{
    dtk_json *d = js(CM);
    dtk_json *o = js("{'op':'add'}");
    long failed = 7;

    (void)state;
    assert_patch_fails(CM, "[{'op':'bogus','path':'/a'}]", DTK_EINVALID,
                       "Unexpected kind: bogus");
    assert_patch_fails(CM, "[{'path':'/a'}]", DTK_EINVALID,
                       "Unexpected kind: unknown");
    assert_patch_fails(CM, "[{'op':1,'path':'/a'}]", DTK_EINVALID,
                       "Unexpected kind: unknown");
    assert_patch_fails(CM, "[null]", DTK_EINVALID, "Unexpected kind: unknown");
    assert_patch_fails(CM, "[{'op':'add','value':'1'}]", DTK_EINVALID,
                       "add operation failed to decode path: missing value");
    assert_patch_fails(CM, "[{'op':'add','path':1}]", DTK_EINVALID,
                       "add operation failed to decode path: missing value");
    assert_patch_fails(CM, "[{'op':'remove'}]", DTK_EINVALID,
                       "remove operation failed to decode path: missing "
                       "value");
    assert_patch_fails(CM, "[{'op':'replace','value':'1'}]", DTK_EINVALID,
                       "replace operation failed to decode path: operation "
                       "missing path field: missing value");
    assert_patch_fails(CM, "[{'op':'replace','path':1,'value':1}]",
                       DTK_EINVALID,
                       "replace operation failed to decode path: json: "
                       "cannot unmarshal number into Go value of type "
                       "string");
    assert_patch_fails(CM, "[{'op':'move','path':'/data/q'}]", DTK_EINVALID,
                       "move operation failed to decode from: operation, "
                       "missing from field: missing value");
    assert_patch_fails(CM, "[{'op':'move','from':true,'path':'/a'}]",
                       DTK_EINVALID,
                       "move operation failed to decode from: json: cannot "
                       "unmarshal bool into Go value of type string");
    assert_patch_fails(CM, "[{'op':'copy','from':'/data/a'}]", DTK_EINVALID,
                       "copy operation failed to decode path: missing value");
    assert_patch_fails(CM, "[{'op':'test','value':1}]", DTK_EINVALID,
                       "test operation failed to decode path: operation "
                       "missing path field: missing value");
    assert_patch_fails(CM, "[{'op':'replace','path':''}]", DTK_EINVALID,
                       "replace operation value must be object or array");
    /* The patch as a whole: refused before anything runs (index -1). */
    assert_int_equal(dtk_json_patch_apply_ex(&d, o, &failed), DTK_EINVALID);
    assert_int_equal(failed, -1);
    assert_string_equal(dtk_error_last()->message,
                        "json: cannot unmarshal object into Go value of type "
                        "jsonpatch.Patch");
    assert_patch_fails(CM, "[{'op':'add','path':'/a','value':1},2]",
                       DTK_EINVALID,
                       "json: cannot unmarshal number into Go value of type "
                       "jsonpatch.Operation");
    dtk_json_free(o);
    dtk_json_free(d);
    /* An empty patch and a JSON null change nothing. */
    check_patch(CM, "[]", CM);
    check_patch(CM, "null", CM);
}

static void test_patch__json_is_atomic_and_names_the_failing_op(void **state)
{
    dtk_json *d = js(CM);
    char *before = dtk_json_to_string(d);
    char *after;
    dtk_json *o = js("[{'op':'add','path':'/data/c','value':'3'},"
                     "{'op':'remove','path':'/metadata/finalizers/0'},"
                     "{'op':'replace','path':'/metadata/name','value':'x'},"
                     "{'op':'test','path':'/data/c','value':'4'}]");
    long failed = -1;

    (void)state;
    assert_int_equal(dtk_json_patch_apply_ex(&d, o, &failed), DTK_EINVALID);
    assert_int_equal(failed, 3);
    assert_string_equal(dtk_error_last()->message,
                        "testing value /data/c failed: test failed");
    after = dtk_json_to_string(d);
    assert_string_equal(after, before);
    dtk_free(after);
    dtk_json_free(o);
    /* The same operations without the failing test all apply, in order. */
    o = js("[{'op':'add','path':'/data/c','value':'3'},"
           "{'op':'remove','path':'/metadata/finalizers/0'},"
           "{'op':'replace','path':'/metadata/name','value':'x'},"
           "{'op':'test','path':'/data/c','value':'3'}]");
    assert_int_equal(dtk_json_patch_apply_ex(&d, o, &failed), 0);
    assert_int_equal(failed, -1);
    assert_text(d, "{'kind':'ConfigMap','metadata':{'name':'x','annotations':"
                   "{'a/b':'s','m~n':'t'},'finalizers':['f0']},'data':{'a':"
                   "'1','b':'2','c':'3'}}");
    dtk_json_free(o);
    dtk_free(before);
    dtk_json_free(d);
}

static void test_patch__json_bounds_operations_and_copies(void **state)
{
    dtk_json *d = js("{'a':'x'}");
    dtk_json *ops = dtk_json_new_array();
    dtk_json *big;
    char *text;
    long failed = 0;

    (void)state;
    for (int i = 0; i <= DTK_JSON_PATCH_MAX_OPS; i++) {
        dtk_json_append(ops, js("{'op':'test','path':'/a','value':'x'}"));
    }
    assert_int_equal(dtk_json_patch_apply_ex(&d, ops, &failed), DTK_ETOOBIG);
    assert_int_equal(failed, -1);
    assert_string_equal(dtk_error_last()->message,
                        "The allowed maximum operations in a JSON patch is "
                        "10000, got 10001");
    dtk_json_remove_at(ops, 0);
    assert_int_equal(dtk_json_patch_apply(&d, ops), 0);
    dtk_json_free(ops);
    dtk_json_free(d);

    /* Copies of a 1 MB string: three fit in 3 MiB, the fourth does not. */
    text = dtk_malloc(1000001);
    memset(text, 'x', 1000000);
    text[1000000] = '\0';
    d = dtk_json_new_object();
    big = dtk_json_new_string(text);
    dtk_json_set(d, "big", big);
    ops = js("[{'op':'copy','from':'/big','path':'/c1'},"
             "{'op':'copy','from':'/big','path':'/c2'},"
             "{'op':'copy','from':'/big','path':'/c3'},"
             "{'op':'copy','from':'/big','path':'/c4'}]");
    assert_int_equal(dtk_json_patch_apply_ex(&d, ops, &failed), DTK_EINVALID);
    assert_int_equal(failed, 3);
    assert_string_equal(dtk_error_last()->message,
                        "Unable to complete the copy, the accumulated size "
                        "increase of copy is 4000008, exceeding the limit "
                        "3145728");
    assert_int_equal(dtk_json_len(d), 1);
    dtk_json_remove_at(ops, 3);
    assert_int_equal(dtk_json_patch_apply(&d, ops), 0);
    assert_int_equal(dtk_json_len(d), 4);
    dtk_json_free(ops);
    dtk_json_free(d);
    dtk_free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_patch__merge_rfc7386_appendix_a),
        cmocka_unit_test(
            test_patch__merge_keeps_member_order_and_merges_in_place),
        cmocka_unit_test(test_patch__merge_absent_target_and_null_patch),
        cmocka_unit_test(test_patch__merge_create_is_minimal_and_round_trips),
        cmocka_unit_test(test_patch__json_rfc6902_appendix_a),
        cmocka_unit_test(test_patch__json_kubernetes_leniencies),
        cmocka_unit_test(test_patch__json_errors_use_kubernetes_wording),
        cmocka_unit_test(test_patch__json_malformed_operations),
        cmocka_unit_test(test_patch__json_is_atomic_and_names_the_failing_op),
        cmocka_unit_test(test_patch__json_bounds_operations_and_copies),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

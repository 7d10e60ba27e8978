/* pkg/kube without a server: ObjectMeta, GVR paths, ownerReferences, Status
 * mapping, the watch framer, and base64. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/b64.h"
#include "pkg/base/error.h"
#include "pkg/json/json.h"
#include "pkg/kube/kube.h"
#include "pkg/kube/meta.h"

static dtk_json *parse(const char *text)
{
    dtk_json *v = NULL;

    assert_int_equal(dtk_json_parse(&v, text, strlen(text)), 0);
    return v;
}

static void test_kube_meta__decodes_object_meta(void **state)
{
    dtk_json *obj = parse(
        "{\"apiVersion\":\"dtk.io/v1alpha1\",\"kind\":\"Target\","
        "\"metadata\":{\"namespace\":\"team-a\",\"name\":\"staging\","
        "\"uid\":\"u-1\",\"resourceVersion\":\"42\",\"generation\":7,"
        "\"labels\":{\"app\":\"web\",\"tier\":\"front\"},"
        "\"annotations\":{\"dtk.io/converge-requested-at\":\"now\"},"
        "\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"Other\","
        "\"name\":\"x\",\"uid\":\"u-0\"},{\"apiVersion\":\"dtk.io/v1alpha1\","
        "\"kind\":\"ServiceInstance\",\"name\":\"blog\",\"uid\":\"u-9\","
        "\"controller\":true,\"blockOwnerDeletion\":true}],"
        "\"finalizers\":[\"dtk.io/teardown\"],"
        "\"deletionTimestamp\":\"2026-11-23T10:00:00Z\"}}");
    dtk_kube_meta m = DTK_KUBE_META_INIT;
    const dtk_kube_owner_ref *ctl;

    (void)state;
    assert_int_equal(dtk_kube_meta_decode(&m, obj), 0);
    assert_string_equal(m.namespace, "team-a");
    assert_string_equal(m.name, "staging");
    assert_string_equal(m.uid, "u-1");
    assert_string_equal(m.resource_version, "42");
    assert_int_equal(m.generation, 7);
    assert_string_equal(m.deletion_timestamp, "2026-11-23T10:00:00Z");
    assert_string_equal(dtk_kube_meta_label(&m, "tier"), "front");
    assert_null(dtk_kube_meta_label(&m, "missing"));
    assert_string_equal(
        dtk_kube_meta_annotation(&m, "dtk.io/converge-requested-at"), "now");
    assert_true(dtk_kube_meta_has_finalizer(&m, "dtk.io/teardown"));
    assert_false(dtk_kube_meta_has_finalizer(&m, "other"));
    assert_int_equal(m.owner_ref_count, 2);
    ctl = dtk_kube_meta_controller(&m);
    assert_non_null(ctl);
    assert_string_equal(ctl->name, "blog");
    assert_string_equal(ctl->uid, "u-9");
    assert_true(ctl->block_owner_deletion);
    dtk_kube_meta_dispose(&m);
    dtk_json_free(obj);
}

static void
test_kube_meta__absent_metadata_is_empty_and_bad_types_name_the_path(
    void **state)
{
    dtk_json *obj = parse("{\"kind\":\"X\"}");
    dtk_kube_meta m = DTK_KUBE_META_INIT;

    (void)state;
    assert_int_equal(dtk_kube_meta_decode(&m, obj), 0);
    assert_null(m.name);
    assert_null(m.deletion_timestamp);
    assert_int_equal(m.generation, 0);
    dtk_kube_meta_dispose(&m);
    dtk_json_free(obj);

    obj = parse("{\"metadata\":{\"name\":\"a\",\"labels\":{\"app\":3}}}");
    assert_int_equal(dtk_kube_meta_decode(&m, obj), DTK_ERROR);
    assert_string_equal(dtk_error_last()->message,
                        "metadata.labels.app: expected a string");
    assert_null(m.name);
    dtk_json_free(obj);

    obj = parse("{\"metadata\":{\"generation\":\"seven\"}}");
    assert_int_equal(dtk_kube_meta_decode(&m, obj), DTK_ERROR);
    assert_string_equal(dtk_error_last()->message,
                        "metadata.generation: expected an integer");
    dtk_json_free(obj);

    obj = parse("{\"metadata\":{\"ownerReferences\":[{\"uid\":1}]}}");
    assert_int_equal(dtk_kube_meta_decode(&m, obj), DTK_ERROR);
    assert_string_equal(dtk_error_last()->message,
                        "metadata.ownerReferences[0].uid: expected a string");
    dtk_json_free(obj);
}

static void check_path(const dtk_kube_gvr *gvr,
                       const char *ns,
                       const char *name,
                       const char *sub,
                       const char *want)
{
    dtk_buf b = DTK_BUF_INIT(0);

    assert_int_equal(dtk_kube_gvr_path(&b, gvr, ns, name, sub), 0);
    assert_string_equal(dtk_buf_cstr(&b), want);
    dtk_buf_dispose(&b);
}

static void test_kube_meta__gvr_paths_for_core_groups_and_scopes(void **state)
{
    const dtk_kube_gvr targets =
        DTK_KUBE_GVR_INIT("dtk.io", "v1alpha1", "targets", 1);
    const dtk_kube_gvr crds = DTK_KUBE_GVR_INIT("apiextensions.k8s.io", "v1",
                                                "customresourcedefinitions", 0);
    dtk_buf b = DTK_BUF_INIT(0);

    (void)state;
    check_path(&dtk_kube_gvr_configmaps, "default", "cm", NULL,
               "/api/v1/namespaces/default/configmaps/cm");
    check_path(&dtk_kube_gvr_configmaps, NULL, NULL, NULL,
               "/api/v1/configmaps");
    check_path(&targets, "team-a", "staging", "status",
               "/apis/dtk.io/v1alpha1/namespaces/team-a/targets/staging/"
               "status");
    check_path(&targets, "team-a", NULL, NULL,
               "/apis/dtk.io/v1alpha1/namespaces/team-a/targets");
    check_path(&crds, "ignored", "targets.dtk.io", NULL,
               "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
               "targets.dtk.io");
    check_path(&dtk_kube_gvr_leases, "ns", "system:leader", NULL,
               "/apis/coordination.k8s.io/v1/namespaces/ns/leases/"
               "system%3Aleader");
    check_path(&dtk_kube_gvr_namespaces, NULL, "kube-system", NULL,
               "/api/v1/namespaces/kube-system");

    assert_int_equal(dtk_kube_gvr_path(&b, &targets, "ns", "..", NULL),
                     DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "name '..': not usable in a resource path");
    assert_int_equal(dtk_kube_gvr_path(&b, &targets, "a/b", "x", NULL),
                     DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "namespace 'a/b': not usable in a resource path");
    assert_int_equal(dtk_kube_gvr_path(&b, &targets, NULL, "x", NULL),
                     DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "namespace: must not be empty");
    assert_int_equal(dtk_kube_gvr_path(&b, &targets, "ns", "", NULL),
                     DTK_EINVALID);
    dtk_buf_reset(&b);
    assert_int_equal(dtk_kube_gvr_api_version(&b, &targets), 0);
    assert_string_equal(dtk_buf_cstr(&b), "dtk.io/v1alpha1");
    dtk_buf_reset(&b);
    assert_int_equal(dtk_kube_gvr_api_version(&b, &dtk_kube_gvr_secrets), 0);
    assert_string_equal(dtk_buf_cstr(&b), "v1");
    dtk_buf_dispose(&b);
}

static void test_kube_meta__owner_refs_are_built_and_one_controller_kept(
    void **state)
{
    dtk_json *owner = parse("{\"apiVersion\":\"dtk.io/v1alpha1\","
                            "\"kind\":\"ServiceInstance\",\"metadata\":{"
                            "\"name\":\"blog\",\"uid\":\"u-9\"}}");
    dtk_json *child = parse("{\"kind\":\"Secret\",\"metadata\":{\"name\":"
                            "\"blog-db\"}}");
    dtk_json *ref = NULL;
    dtk_json *other = NULL;
    dtk_json *incomplete = parse("{\"kind\":\"X\",\"metadata\":{}}");
    char *text;

    (void)state;
    assert_int_equal(dtk_kube_owner_ref_from_object(&ref, owner, 1), 0);
    assert_int_equal(dtk_kube_meta_set_owner_ref(child, ref), 0);
    /* Setting it again replaces, does not duplicate. */
    assert_int_equal(dtk_kube_meta_set_owner_ref(child, ref), 0);
    text = dtk_json_to_string(child);
    assert_string_equal(
        text, "{\"kind\":\"Secret\",\"metadata\":{\"name\":\"blog-db\","
              "\"ownerReferences\":[{\"apiVersion\":\"dtk.io/v1alpha1\","
              "\"kind\":\"ServiceInstance\",\"name\":\"blog\",\"uid\":"
              "\"u-9\",\"controller\":true,\"blockOwnerDeletion\":true}]}}");
    dtk_free(text);

    other = dtk_kube_owner_ref_new("v1", "Other", "o", "u-2", 1, 0);
    assert_int_equal(dtk_kube_meta_set_owner_ref(child, other), DTK_EEXISTS);
    assert_string_equal(
        dtk_error_last()->message,
        "object is already controlled by ServiceInstance 'blog'");
    dtk_json_free(other);
    other = dtk_kube_owner_ref_new("v1", "Other", "o", "u-2", 0, 0);
    assert_int_equal(dtk_kube_meta_set_owner_ref(child, other), 0);
    assert_int_equal(dtk_json_len(dtk_json_get(dtk_json_get(child, "metadata"),
                                               "ownerReferences")),
                     2);

    dtk_json_free(ref);
    ref = NULL;
    assert_int_equal(dtk_kube_owner_ref_from_object(&ref, incomplete, 0),
                     DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "owner apiVersion: required");
    dtk_json_free(other);
    dtk_json_free(incomplete);
    dtk_json_free(owner);
    dtk_json_free(child);
}

typedef struct map_case {
    long http;
    const char *reason;
    int want;
} map_case;

static void test_kube_meta__status_maps_codes_and_reasons(void **state)
{
    static const map_case cases[] = {
        {404, "NotFound", DTK_ENOTFOUND},
        {409, "AlreadyExists", DTK_EEXISTS},
        {409, "Conflict", DTK_ECONFLICT},
        {410, "Expired", DTK_EGONE},
        {410, "Gone", DTK_EGONE},
        {422, "Invalid", DTK_EINVALID},
        {400, "BadRequest", DTK_EINVALID},
        {415, "UnsupportedMediaType", DTK_EINVALID},
        {401, "Unauthorized", DTK_EAUTH},
        {403, "Forbidden", DTK_EAUTH},
        {413, "RequestEntityTooLarge", DTK_ETOOBIG},
        {429, "TooManyRequests", DTK_EUNAVAIL},
        {500, "InternalError", DTK_EUNAVAIL},
        {503, "ServiceUnavailable", DTK_EUNAVAIL},
        {500, "ServerTimeout", DTK_ETIMEOUT},
        {504, "Timeout", DTK_ETIMEOUT},
    };
    dtk_kube_status st = DTK_KUBE_STATUS_INIT;
    char text[512];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        dtk_json *body;

        snprintf(text, sizeof(text),
                 "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
                 "\"status\":\"Failure\",\"message\":\"m%zu\",\"reason\":"
                 "\"%s\",\"code\":%ld}",
                 i, cases[i].reason, cases[i].http);
        body = parse(text);
        assert_int_equal(
            dtk_kube_status_decode(&st, cases[i].http, body, "GET /x"),
            cases[i].want);
        snprintf(text, sizeof(text), "GET /x: m%zu (%ld %s)", i, cases[i].http,
                 cases[i].reason);
        assert_string_equal(dtk_error_last()->message, text);
        assert_string_equal(st.reason, cases[i].reason);
        dtk_json_free(body);
    }
    /* A watch ERROR event has no HTTP code: the Status's own decides. */
    {
        dtk_json *body = parse("{\"kind\":\"Status\",\"status\":\"Failure\","
                               "\"message\":\"too old resource version: 1 "
                               "(5)\",\"reason\":\"Expired\",\"code\":410}");

        assert_int_equal(dtk_kube_status_decode(&st, 0, body, "watch"),
                         DTK_EGONE);
        assert_int_equal(st.code, 410);
        dtk_json_free(body);
    }
    /* Not a Status: never quoted. */
    {
        dtk_json *body = parse("{\"secret\":\"s3cr3t\"}");

        assert_int_equal(dtk_kube_status_decode(&st, 502, body, "GET /x"),
                         DTK_EUNAVAIL);
        assert_string_equal(dtk_error_last()->message,
                            "GET /x: HTTP 502 with no Status in the answer");
        dtk_json_free(body);
    }
    assert_int_equal(dtk_kube_status_decode(&st, 200, NULL, "GET /x"), 0);
    dtk_kube_status_dispose(&st);
}

typedef struct seen {
    dtk_buf log;
    int count;
} seen;

static int record(dtk_kube_event *ev, void *payload)
{
    seen *s = payload;
    static const char *const name_path[] = {"metadata", "name", NULL};
    const char *name = dtk_json_string(dtk_json_path(ev->object, name_path));

    s->count++;
    dtk_buf_printf(&s->log, "%d:%s;", (int)ev->type, name ? name : "-");
    return 0;
}

static const char stream_text[] =
    "{\"type\":\"ADDED\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{"
    "\"name\":\"a\",\"resourceVersion\":\"1\"}}}\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{"
    "\"name\":\"a\",\"resourceVersion\":\"2\"}}}\r\n"
    "\n"
    "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{"
    "\"resourceVersion\":\"3\"}}}\n"
    "{\"type\":\"DELETED\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{"
    "\"name\":\"a\",\"resourceVersion\":\"4\"}}}\n";

static void test_kube_meta__watch_framer_handles_every_split(void **state)
{
    size_t len = sizeof(stream_text) - 1;

    (void)state;
    /* Every cut point, and byte by byte: the same four events. */
    for (size_t cut = 0; cut <= len; cut++) {
        dtk_kube_watch_decoder dec;
        seen s = {DTK_BUF_INIT(0), 0};

        dtk_kube_watch_decoder_init(&dec, 0);
        assert_int_equal(
            dtk_kube_watch_decoder_feed(&dec, stream_text, cut, record, &s), 0);
        assert_int_equal(dtk_kube_watch_decoder_feed(&dec, stream_text + cut,
                                                     len - cut, record, &s),
                         0);
        assert_int_equal(dtk_kube_watch_decoder_finish(&dec), 0);
        assert_string_equal(dtk_buf_cstr(&s.log), "1:a;2:a;4:-;3:a;");
        dtk_buf_dispose(&s.log);
        dtk_kube_watch_decoder_dispose(&dec);
    }
    {
        dtk_kube_watch_decoder dec;
        seen s = {DTK_BUF_INIT(0), 0};

        dtk_kube_watch_decoder_init(&dec, 0);
        for (size_t i = 0; i < len; i++) {
            assert_int_equal(dtk_kube_watch_decoder_feed(&dec, stream_text + i,
                                                         1, record, &s),
                             0);
        }
        assert_int_equal(s.count, 4);
        dtk_buf_dispose(&s.log);
        dtk_kube_watch_decoder_dispose(&dec);
    }
}

static void test_kube_meta__watch_framer_bounds_and_errors(void **state)
{
    dtk_kube_watch_decoder dec;
    seen s = {DTK_BUF_INIT(0), 0};
    char big[300];
    static const char gone[] =
        "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":"
        "\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old "
        "resource version: 1 (5)\",\"reason\":\"Expired\",\"code\":410}}\n";

    (void)state;
    /* An event larger than the bound, arriving in pieces. */
    memset(big, 'x', sizeof(big));
    dtk_kube_watch_decoder_init(&dec, 256);
    {
        static const char head[] = "{\"type\":\"ADDED\",\"object\":{\"a\":\"";

        assert_int_equal(
            dtk_kube_watch_decoder_feed(&dec, head, strlen(head), record, &s),
            0);
    }
    assert_int_equal(
        dtk_kube_watch_decoder_feed(&dec, big, sizeof(big), record, &s),
        DTK_ETOOBIG);
    assert_string_equal(dtk_error_last()->message,
                        "watch: event exceeds 256 bytes");
    dtk_kube_watch_decoder_dispose(&dec);

    dtk_kube_watch_decoder_init(&dec, 0);
    assert_int_equal(
        dtk_kube_watch_decoder_feed(&dec, gone, strlen(gone), record, &s),
        DTK_EGONE);
    assert_int_equal(dec.status.code, 410);
    assert_string_equal(dec.status.reason, "Expired");
    assert_int_equal(s.count, 0);
    dtk_kube_watch_decoder_dispose(&dec);

    dtk_kube_watch_decoder_init(&dec, 0);
    assert_int_equal(
        dtk_kube_watch_decoder_feed(&dec, "{not json}\n", 11, record, &s),
        DTK_ERROR);
    assert_string_equal(dtk_error_last()->message,
                        "watch: event is not a JSON object");
    dtk_kube_watch_decoder_dispose(&dec);

    dtk_kube_watch_decoder_init(&dec, 0);
    assert_int_equal(
        dtk_kube_watch_decoder_feed(&dec, "{\"type\":\"ADD\",\"object\":{}}\n",
                                    27, record, &s),
        DTK_ERROR);
    assert_string_equal(dtk_error_last()->message,
                        "watch: unknown event type 'ADD'");
    dtk_kube_watch_decoder_dispose(&dec);

    dtk_kube_watch_decoder_init(&dec, 0);
    assert_int_equal(
        dtk_kube_watch_decoder_feed(&dec, "{\"type\":", 8, record, &s), 0);
    assert_int_equal(dtk_kube_watch_decoder_finish(&dec), DTK_ERROR);
    assert_string_equal(dtk_error_last()->message,
                        "watch: stream ended inside an event");
    dtk_kube_watch_decoder_dispose(&dec);
    dtk_buf_dispose(&s.log);
}

static void test_kube_meta__b64_roundtrip_and_strictness(void **state)
{
    dtk_buf out = DTK_BUF_INIT(0);
    static const unsigned char bin[] = {0, 1, 2, 250, 251, 252, 253, 254, 255};

    (void)state;
    assert_int_equal(dtk_b64_encode(&out, "hello", 5), 0);
    assert_string_equal(dtk_buf_cstr(&out), "aGVsbG8=");
    dtk_buf_reset(&out);
    assert_int_equal(dtk_b64_decode(&out, "aGVsbG8=", 8), 0);
    assert_int_equal(out.len, 5);
    assert_memory_equal(out.ptr, "hello", 5);
    dtk_buf_reset(&out);
    assert_int_equal(dtk_b64_decode(&out, "aGVs\nbG8=\n", 10), 0);
    assert_string_equal(dtk_buf_cstr(&out), "hello");
    dtk_buf_reset(&out);
    assert_int_equal(dtk_b64_encode(&out, bin, sizeof(bin)), 0);
    {
        dtk_buf back = DTK_BUF_INIT(0);

        assert_int_equal(dtk_b64_decode(&back, out.ptr, out.len), 0);
        assert_int_equal(back.len, sizeof(bin));
        assert_memory_equal(back.ptr, bin, sizeof(bin));
        dtk_buf_dispose(&back);
    }
    dtk_buf_reset(&out);
    assert_int_equal(dtk_b64_decode(&out, "", 0), 0);
    assert_int_equal(out.len, 0);
    /* Bad alphabet, bad padding, truncated group: nothing appended. */
    assert_int_equal(dtk_b64_decode(&out, "aGV*bG8=", 8), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message, "not valid base64");
    assert_int_equal(dtk_b64_decode(&out, "aGVsbG8", 7), DTK_EINVALID);
    assert_int_equal(dtk_b64_decode(&out, "aG=sbG8=", 8), DTK_EINVALID);
    assert_int_equal(dtk_b64_decode(&out, "aGVs bG8=", 9), DTK_EINVALID);
    assert_int_equal(dtk_b64_decode(&out, "a-Vs", 4), DTK_EINVALID);
    assert_int_equal(out.len, 0);
    {
        dtk_buf small = DTK_BUF_INIT(3);

        assert_int_equal(dtk_b64_encode(&small, "hello", 5), DTK_ETOOBIG);
        dtk_buf_dispose(&small);
    }
    dtk_buf_dispose(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kube_meta__decodes_object_meta),
        cmocka_unit_test(
            test_kube_meta__absent_metadata_is_empty_and_bad_types_name_the_path),
        cmocka_unit_test(test_kube_meta__gvr_paths_for_core_groups_and_scopes),
        cmocka_unit_test(
            test_kube_meta__owner_refs_are_built_and_one_controller_kept),
        cmocka_unit_test(test_kube_meta__status_maps_codes_and_reasons),
        cmocka_unit_test(test_kube_meta__watch_framer_handles_every_split),
        cmocka_unit_test(test_kube_meta__watch_framer_bounds_and_errors),
        cmocka_unit_test(test_kube_meta__b64_roundtrip_and_strictness),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Protobuf request bodies to JSON (cmd/dtk-apiserver/proto.c).
 *
 * The kubectl cases decode bodies captured from kubectl v1.32 (see
 * test/fixtures/proto/README.md) and compare with both a literal and the
 * JSON `kubectl create ... --dry-run=client -o json` printed for the same
 * object, i.e. with what Kubernetes' own Go encoder writes. The other kinds
 * are built here with the protoc-c encoders of the same .proto files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "apps_v1.pb-c.h"
#include "cmd/dtk-apiserver/proto.h"
#include "coordination_v1.pb-c.h"
#include "core_v1.pb-c.h"
#include "events_v1.pb-c.h"
#include "meta_v1.pb-c.h"
#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/error.h"
#include "runtime.pb-c.h"

#define FIXTURES "test/fixtures/proto/"

static const uint8_t magic[4] = {'k', '8', 's', 0};

typedef K8s__Io__Apimachinery__Pkg__Apis__Meta__V1__ObjectMeta pb_object_meta;
typedef K8s__Io__Apimachinery__Pkg__Apis__Meta__V1__ObjectMeta__LabelsEntry
    pb_label;
typedef K8s__Io__Apimachinery__Pkg__Apis__Meta__V1__OwnerReference
    pb_owner_reference;
typedef K8s__Io__Apimachinery__Pkg__Apis__Meta__V1__Time pb_time;
typedef K8s__Io__Apimachinery__Pkg__Apis__Meta__V1__MicroTime pb_micro_time;

/* ---- helpers ------------------------------------------------------------ */

static void read_fixture(dtk_buf *out, const char *name)
{
    char path[256];
    char chunk[4096];
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), FIXTURES "%s", name);
    f = fopen(path, "rb");
    if (f == NULL) {
        fail_msg("cannot open %s (tests run from the repository root)", path);
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        assert_int_equal(dtk_buf_put(out, chunk, n), 0);
    }
    fclose(f);
}

/* Packs msg as the object of a Kubernetes protobuf body. */
static void envelope(dtk_buf *out, const char *api_version, const char *kind,
                     const ProtobufCMessage *msg)
{
    K8s__Io__Apimachinery__Pkg__Runtime__TypeMeta tm =
        K8S__IO__APIMACHINERY__PKG__RUNTIME__TYPE_META__INIT;
    K8s__Io__Apimachinery__Pkg__Runtime__Unknown unk =
        K8S__IO__APIMACHINERY__PKG__RUNTIME__UNKNOWN__INIT;
    uint8_t *raw = dtk_malloc(protobuf_c_message_get_packed_size(msg));
    uint8_t *env;
    size_t env_len;

    tm.apiversion = (char *)api_version;
    tm.kind = (char *)kind;
    unk.typemeta = &tm;
    unk.has_raw = 1;
    unk.raw.data = raw;
    unk.raw.len = protobuf_c_message_pack(msg, raw);
    unk.contentencoding = "";
    unk.contenttype = "";
    env_len = protobuf_c_message_get_packed_size(&unk.base);
    env = dtk_malloc(env_len);
    protobuf_c_message_pack(&unk.base, env);
    assert_int_equal(dtk_buf_put(out, magic, sizeof(magic)), 0);
    assert_int_equal(dtk_buf_put(out, env, env_len), 0);
    dtk_free(env);
    dtk_free(raw);
}

/* Decodes a body that must succeed and returns its compact JSON text. */
static char *decode_text(const void *body, size_t len)
{
    dtk_json *obj = NULL;
    char *text;

    dtk_error_clear();
    if (dtk_proto_decode(&obj, body, len) != 0) {
        fail_msg("decode failed: %s", dtk_error_last()->message);
    }
    assert_non_null(obj);
    text = dtk_json_to_string(obj);
    assert_non_null(text);
    dtk_json_free(obj);
    return text;
}

/* Decodes a body that must fail with DTK_EINVALID and message. */
static void assert_rejected(const void *body, size_t len, const char *message)
{
    dtk_json *obj = NULL;

    dtk_error_clear();
    assert_int_equal(dtk_proto_decode(&obj, body, len), DTK_EINVALID);
    assert_null(obj);
    assert_string_equal(dtk_error_last()->message, message);
}

/* The captured kubectl body decodes to expected, which is also, byte for
 * byte, kubectl's own JSON of the object. */
static void assert_kubectl_fixture(const char *name, const char *expected)
{
    dtk_buf pb = DTK_BUF_INIT(0);
    dtk_buf js = DTK_BUF_INIT(0);
    char pb_name[64], js_name[64];
    dtk_json *kubectl = NULL;
    char *kubectl_text;
    char *text;

    snprintf(pb_name, sizeof(pb_name), "%s.pb", name);
    snprintf(js_name, sizeof(js_name), "%s.json", name);
    read_fixture(&pb, pb_name);
    read_fixture(&js, js_name);
    text = decode_text(pb.ptr, pb.len);
    assert_string_equal(text, expected);
    assert_int_equal(dtk_json_parse(&kubectl, js.ptr, js.len), 0);
    kubectl_text = dtk_json_to_string(kubectl);
    assert_string_equal(text, kubectl_text);
    dtk_free(kubectl_text);
    dtk_json_free(kubectl);
    dtk_free(text);
    dtk_buf_dispose(&pb);
    dtk_buf_dispose(&js);
}

/* ---- bodies captured from kubectl --------------------------------------- */

static void test_proto__kubectl_namespace(void **state)
{
    (void)state;
    assert_kubectl_fixture("namespace",
                           "{\"kind\":\"Namespace\",\"apiVersion\":\"v1\","
                           "\"metadata\":{\"name\":\"proto-ns\","
                           "\"creationTimestamp\":null},"
                           "\"spec\":{},\"status\":{}}");
}

static void test_proto__kubectl_secret_data_is_base64(void **state)
{
    (void)state;
    assert_kubectl_fixture("secret",
                           "{\"kind\":\"Secret\",\"apiVersion\":\"v1\","
                           "\"metadata\":{\"name\":\"proto-secret\","
                           "\"namespace\":\"default\","
                           "\"creationTimestamp\":null},"
                           "\"data\":{\"password\":\"czNjcjN0LXRlc3Q=\","
                           "\"user\":\"YWRtaW4=\"}}");
}

static void test_proto__kubectl_secret_binary_value_and_type(void **state)
{
    (void)state;
    assert_kubectl_fixture("secret_binary",
                           "{\"kind\":\"Secret\",\"apiVersion\":\"v1\","
                           "\"metadata\":{\"name\":\"proto-blob\","
                           "\"namespace\":\"default\","
                           "\"creationTimestamp\":null},"
                           "\"data\":{\"blob\":\"AAH+/2Jpbg==\"},"
                           "\"type\":\"example.com/blob\"}");
}

static void test_proto__kubectl_configmap_data_and_binary_data(void **state)
{
    (void)state;
    assert_kubectl_fixture("configmap",
                           "{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\","
                           "\"metadata\":{\"name\":\"proto-cm\","
                           "\"namespace\":\"default\","
                           "\"creationTimestamp\":null},"
                           "\"data\":{\"empty\":\"\","
                           "\"greeting\":\"hello-world\"},"
                           "\"binaryData\":{\"blob\":\"AAH+/2Jpbg==\"}}");
}

static void test_proto__kubectl_serviceaccount(void **state)
{
    (void)state;
    assert_kubectl_fixture("serviceaccount",
                           "{\"kind\":\"ServiceAccount\",\"apiVersion\":\"v1\","
                           "\"metadata\":{\"name\":\"proto-sa\","
                           "\"namespace\":\"default\","
                           "\"creationTimestamp\":null}}");
}

/* ---- kinds built with the protoc-c encoders ----------------------------- */

static void test_proto__lease_keeps_pointer_fields_and_micro_time(void **state)
{
    K8s__Io__Api__Coordination__V1__Lease lease =
        K8S__IO__API__COORDINATION__V1__LEASE__INIT;
    K8s__Io__Api__Coordination__V1__LeaseSpec spec =
        K8S__IO__API__COORDINATION__V1__LEASE_SPEC__INIT;
    pb_object_meta meta =
        K8S__IO__APIMACHINERY__PKG__APIS__META__V1__OBJECT_META__INIT;
    pb_micro_time acquire =
        K8S__IO__APIMACHINERY__PKG__APIS__META__V1__MICRO_TIME__INIT;
    pb_micro_time renew =
        K8S__IO__APIMACHINERY__PKG__APIS__META__V1__MICRO_TIME__INIT;
    pb_time created = K8S__IO__APIMACHINERY__PKG__APIS__META__V1__TIME__INIT;
    pb_label l1, l2, l3;
    pb_label *labels[] = {&l1, &l2, &l3};
    pb_owner_reference owner =
        K8S__IO__APIMACHINERY__PKG__APIS__META__V1__OWNER_REFERENCE__INIT;
    pb_owner_reference *owners[] = {&owner};
    char *finalizers[] = {"dtk.io/cleanup"};
    dtk_buf body = DTK_BUF_INIT(0);
    char *text;

    (void)state;
    for (size_t i = 0; i < 3; i++) {
        k8s__io__apimachinery__pkg__apis__meta__v1__object_meta__labels_entry__init(
            labels[i]);
    }
    meta.name = "dtk-operator";
    meta.namespace_ = "dtk-system";
    meta.uid = "";                /* empty: omitted like Go's omitempty */
    meta.has_generation = 1;      /* zero: omitted */
    meta.has_deletiongraceperiodseconds = 1; /* *int64: kept at zero */
    created.has_seconds = 1;
    created.seconds = 1700000000;
    created.has_nanos = 1;
    created.nanos = 999999999; /* metav1.Time keeps whole seconds */
    meta.creationtimestamp = &created;
    l1.key = "zone";
    l1.value = "b";
    l2.key = "app";
    l2.value = "dtk";
    l3.key = "zone";
    l3.value = "a"; /* a repeated key keeps its last value */
    meta.n_labels = 3;
    meta.labels = labels;
    owner.apiversion = "apps/v1";
    owner.kind = "Deployment";
    owner.name = "dtk";
    owner.uid = "u-1";
    owner.has_controller = 1;
    owner.controller = 1;
    meta.n_ownerreferences = 1;
    meta.ownerreferences = owners;
    meta.n_finalizers = 1;
    meta.finalizers = finalizers;
    spec.holderidentity = "";          /* *string: kept even when empty */
    spec.has_leasedurationseconds = 1; /* *int32: kept at zero */
    acquire.has_seconds = 1;
    acquire.seconds = 1700000000;
    acquire.has_nanos = 1;
    acquire.nanos = 123456789; /* MicroTime keeps microseconds */
    spec.acquiretime = &acquire;
    renew.has_seconds = 1;
    renew.seconds = 1700000000;
    renew.has_nanos = 1;
    renew.nanos = -1000; /* normalised like Go's time.Unix */
    spec.renewtime = &renew;
    spec.has_leasetransitions = 1;
    spec.leasetransitions = 3;
    lease.metadata = &meta;
    lease.spec = &spec;
    envelope(&body, "coordination.k8s.io/v1", "Lease", &lease.base);
    text = decode_text(body.ptr, body.len);
    assert_string_equal(
        text, "{\"kind\":\"Lease\",\"apiVersion\":\"coordination.k8s.io/v1\","
              "\"metadata\":{\"name\":\"dtk-operator\","
              "\"namespace\":\"dtk-system\","
              "\"creationTimestamp\":\"2023-11-14T22:13:20Z\","
              "\"deletionGracePeriodSeconds\":0,"
              "\"labels\":{\"app\":\"dtk\",\"zone\":\"a\"},"
              "\"ownerReferences\":[{\"apiVersion\":\"apps/v1\","
              "\"kind\":\"Deployment\",\"name\":\"dtk\",\"uid\":\"u-1\","
              "\"controller\":true}],"
              "\"finalizers\":[\"dtk.io/cleanup\"]},"
              "\"spec\":{\"holderIdentity\":\"\",\"leaseDurationSeconds\":0,"
              "\"acquireTime\":\"2023-11-14T22:13:20.123456Z\","
              "\"renewTime\":\"2023-11-14T22:13:19.999999Z\","
              "\"leaseTransitions\":3}}");
    dtk_free(text);
    dtk_buf_dispose(&body);
}

static void test_proto__core_event_writes_go_defaults(void **state)
{
    K8s__Io__Api__Core__V1__Event ev = K8S__IO__API__CORE__V1__EVENT__INIT;
    K8s__Io__Api__Core__V1__ObjectReference involved =
        K8S__IO__API__CORE__V1__OBJECT_REFERENCE__INIT;
    K8s__Io__Api__Core__V1__EventSource source =
        K8S__IO__API__CORE__V1__EVENT_SOURCE__INIT;
    K8s__Io__Api__Core__V1__EventSeries series =
        K8S__IO__API__CORE__V1__EVENT_SERIES__INIT;
    pb_object_meta meta =
        K8S__IO__APIMACHINERY__PKG__APIS__META__V1__OBJECT_META__INIT;
    pb_time first = K8S__IO__APIMACHINERY__PKG__APIS__META__V1__TIME__INIT;
    pb_time empty = K8S__IO__APIMACHINERY__PKG__APIS__META__V1__TIME__INIT;
    dtk_buf body = DTK_BUF_INIT(0);
    char *text;

    (void)state;
    meta.name = "w1.179";
    meta.namespace_ = "default";
    involved.kind = "Widget";
    involved.name = "w1";
    involved.namespace_ = "default";
    involved.apiversion = "dtk.io/v1";
    source.component = "dtk-operator";
    first.has_seconds = 1;
    first.seconds = 1700000000;
    series.has_count = 1;
    series.count = 2;
    ev.metadata = &meta;
    ev.involvedobject = &involved;
    ev.reason = "Provisioned";
    ev.message = "instance is ready";
    ev.source = &source;
    ev.firsttimestamp = &first;
    ev.lasttimestamp = &empty; /* empty message: Go's zero time, null */
    ev.has_count = 1;          /* zero: omitted */
    ev.type = "Normal";
    ev.series = &series;
    envelope(&body, "v1", "Event", &ev.base);
    text = decode_text(body.ptr, body.len);
    assert_string_equal(
        text, "{\"kind\":\"Event\",\"apiVersion\":\"v1\","
              "\"metadata\":{\"name\":\"w1.179\",\"namespace\":\"default\","
              "\"creationTimestamp\":null},"
              "\"involvedObject\":{\"kind\":\"Widget\","
              "\"namespace\":\"default\",\"name\":\"w1\","
              "\"apiVersion\":\"dtk.io/v1\"},"
              "\"reason\":\"Provisioned\",\"message\":\"instance is ready\","
              "\"source\":{\"component\":\"dtk-operator\"},"
              "\"firstTimestamp\":\"2023-11-14T22:13:20Z\","
              "\"lastTimestamp\":null,\"type\":\"Normal\","
              "\"eventTime\":null,"
              "\"series\":{\"count\":2,\"lastObservedTime\":null},"
              "\"reportingComponent\":\"\",\"reportingInstance\":\"\"}");
    dtk_free(text);
    dtk_buf_dispose(&body);
}

static void test_proto__events_v1_event(void **state)
{
    K8s__Io__Api__Events__V1__Event ev = K8S__IO__API__EVENTS__V1__EVENT__INIT;
    K8s__Io__Api__Events__V1__EventSeries series =
        K8S__IO__API__EVENTS__V1__EVENT_SERIES__INIT;
    K8s__Io__Api__Core__V1__ObjectReference regarding =
        K8S__IO__API__CORE__V1__OBJECT_REFERENCE__INIT;
    pb_micro_time when =
        K8S__IO__APIMACHINERY__PKG__APIS__META__V1__MICRO_TIME__INIT;
    pb_object_meta meta =
        K8S__IO__APIMACHINERY__PKG__APIS__META__V1__OBJECT_META__INIT;
    dtk_buf body = DTK_BUF_INIT(0);
    char *text;

    (void)state;
    meta.generatename = "w1.";
    meta.namespace_ = "default";
    when.has_seconds = 1;
    when.seconds = 1700000123;
    when.has_nanos = 1;
    when.nanos = 500;
    regarding.kind = "Widget";
    regarding.name = "w1";
    ev.metadata = &meta;
    ev.eventtime = &when;
    ev.series = &series; /* count and lastObservedTime have no omitempty */
    ev.reportingcontroller = "dtk.io/operator";
    ev.reportinginstance = "dtk-operator-0";
    ev.action = "Provision";
    ev.reason = "Provisioned";
    ev.regarding = &regarding;
    ev.note = "ready";
    ev.type = "Normal";
    envelope(&body, "events.k8s.io/v1", "Event", &ev.base);
    text = decode_text(body.ptr, body.len);
    assert_string_equal(
        text, "{\"kind\":\"Event\",\"apiVersion\":\"events.k8s.io/v1\","
              "\"metadata\":{\"generateName\":\"w1.\","
              "\"namespace\":\"default\",\"creationTimestamp\":null},"
              "\"eventTime\":\"2023-11-14T22:15:23.000000Z\","
              "\"series\":{\"count\":0,\"lastObservedTime\":null},"
              "\"reportingController\":\"dtk.io/operator\","
              "\"reportingInstance\":\"dtk-operator-0\","
              "\"action\":\"Provision\",\"reason\":\"Provisioned\","
              "\"regarding\":{\"kind\":\"Widget\",\"name\":\"w1\"},"
              "\"note\":\"ready\",\"type\":\"Normal\","
              "\"deprecatedSource\":{},\"deprecatedFirstTimestamp\":null,"
              "\"deprecatedLastTimestamp\":null}");
    dtk_free(text);
    dtk_buf_dispose(&body);
}

static void test_proto__controller_revision_embeds_raw_json(void **state)
{
    K8s__Io__Api__Apps__V1__ControllerRevision cr =
        K8S__IO__API__APPS__V1__CONTROLLER_REVISION__INIT;
    K8s__Io__Apimachinery__Pkg__Runtime__RawExtension data =
        K8S__IO__APIMACHINERY__PKG__RUNTIME__RAW_EXTENSION__INIT;
    pb_object_meta meta =
        K8S__IO__APIMACHINERY__PKG__APIS__META__V1__OBJECT_META__INIT;
    const char *raw = "{\"spec\":{\"template\":{\"x\":[1,2]}},\"a\":\"b\"}";
    dtk_buf body = DTK_BUF_INIT(0);
    char *text;

    (void)state;
    meta.name = "ds-7f9c";
    cr.metadata = &meta;
    data.has_raw = 1;
    data.raw.data = (uint8_t *)raw;
    data.raw.len = strlen(raw);
    cr.data = &data;
    envelope(&body, "apps/v1", "ControllerRevision", &cr.base);
    text = decode_text(body.ptr, body.len);
    assert_string_equal(
        text, "{\"kind\":\"ControllerRevision\",\"apiVersion\":\"apps/v1\","
              "\"metadata\":{\"name\":\"ds-7f9c\",\"creationTimestamp\":null},"
              "\"data\":{\"spec\":{\"template\":{\"x\":[1,2]}},\"a\":\"b\"},"
              "\"revision\":0}");
    dtk_free(text);

    /* Raw bytes that are not JSON cannot be written as JSON. */
    data.raw.data = (uint8_t *)"k8s\0\x0a";
    data.raw.len = 5;
    dtk_buf_reset(&body);
    envelope(&body, "apps/v1", "ControllerRevision", &cr.base);
    assert_rejected(body.ptr, body.len,
                    "data: the embedded object is not valid JSON");
    dtk_buf_dispose(&body);
}

static void test_proto__delete_options_of_any_group_version(void **state)
{
    K8s__Io__Apimachinery__Pkg__Apis__Meta__V1__DeleteOptions opts =
        K8S__IO__APIMACHINERY__PKG__APIS__META__V1__DELETE_OPTIONS__INIT;
    K8s__Io__Apimachinery__Pkg__Apis__Meta__V1__Preconditions pre =
        K8S__IO__APIMACHINERY__PKG__APIS__META__V1__PRECONDITIONS__INIT;
    char *dry_run[] = {"All"};
    dtk_buf body = DTK_BUF_INIT(0);
    char *text;

    (void)state;
    opts.has_graceperiodseconds = 1;
    pre.uid = "u-1";
    opts.preconditions = &pre;
    opts.propagationpolicy = "Foreground";
    opts.n_dryrun = 1;
    opts.dryrun = dry_run;
    envelope(&body, "dtk.io/v1", "DeleteOptions", &opts.base);
    text = decode_text(body.ptr, body.len);
    assert_string_equal(
        text, "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"dtk.io/v1\","
              "\"gracePeriodSeconds\":0,"
              "\"preconditions\":{\"uid\":\"u-1\"},"
              "\"propagationPolicy\":\"Foreground\","
              "\"dryRun\":[\"All\"]}");
    dtk_free(text);
    dtk_buf_dispose(&body);
}

static void test_proto__invalid_utf8_becomes_replacement_char(void **state)
{
    K8s__Io__Api__Core__V1__ConfigMap cm =
        K8S__IO__API__CORE__V1__CONFIG_MAP__INIT;
    K8s__Io__Api__Core__V1__ConfigMap__DataEntry e =
        K8S__IO__API__CORE__V1__CONFIG_MAP__DATA_ENTRY__INIT;
    K8s__Io__Api__Core__V1__ConfigMap__DataEntry *entries[] = {&e};
    pb_object_meta meta =
        K8S__IO__APIMACHINERY__PKG__APIS__META__V1__OBJECT_META__INIT;
    dtk_buf body = DTK_BUF_INIT(0);
    char *text;

    (void)state;
    meta.name = "c\xc3\xa9";   /* valid: kept */
    e.key = "k";
    e.value = "a\xff\xed\xa0\x80z"; /* a stray byte and a surrogate */
    cm.metadata = &meta;
    cm.n_data = 1;
    cm.data = entries;
    envelope(&body, "v1", "ConfigMap", &cm.base);
    text = decode_text(body.ptr, body.len);
    assert_string_equal(text,
                        "{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\","
                        "\"metadata\":{\"name\":\"c\xc3\xa9\","
                        "\"creationTimestamp\":null},"
                        "\"data\":{\"k\":\"a\xef\xbf\xbd\xef\xbf\xbd"
                        "\xef\xbf\xbd\xef\xbf\xbdz\"}}");
    dtk_free(text);
    dtk_buf_dispose(&body);
}

static void test_proto__time_range_and_zero_time(void **state)
{
    K8s__Io__Api__Core__V1__Namespace ns =
        K8S__IO__API__CORE__V1__NAMESPACE__INIT;
    pb_object_meta meta =
        K8S__IO__APIMACHINERY__PKG__APIS__META__V1__OBJECT_META__INIT;
    pb_time t = K8S__IO__APIMACHINERY__PKG__APIS__META__V1__TIME__INIT;
    dtk_buf body = DTK_BUF_INIT(0);
    char *text;

    (void)state;
    meta.name = "n";
    meta.deletiontimestamp = &t;
    ns.metadata = &meta;
    t.has_seconds = 1;
    t.seconds = INT64_C(-62135596800); /* Go's zero time.Time: null */
    envelope(&body, "v1", "Namespace", &ns.base);
    text = decode_text(body.ptr, body.len);
    assert_string_equal(text, "{\"kind\":\"Namespace\",\"apiVersion\":\"v1\","
                              "\"metadata\":{\"name\":\"n\","
                              "\"creationTimestamp\":null,"
                              "\"deletionTimestamp\":null},"
                              "\"spec\":{},\"status\":{}}");
    dtk_free(text);

    t.seconds = 1700000000;
    t.has_nanos = 1;
    t.nanos = -5; /* metav1.Time ignores nanos: no borrow from seconds */
    dtk_buf_reset(&body);
    envelope(&body, "v1", "Namespace", &ns.base);
    text = decode_text(body.ptr, body.len);
    assert_non_null(strstr(text, "\"deletionTimestamp\":"
                                 "\"2023-11-14T22:13:20Z\""));
    dtk_free(text);

    t.seconds = INT64_C(253402300800); /* 10000-01-01 */
    dtk_buf_reset(&body);
    envelope(&body, "v1", "Namespace", &ns.base);
    assert_rejected(body.ptr, body.len,
                    "metadata.deletionTimestamp: time is outside the years "
                    "0001 to 9999");
    t.seconds = INT64_MIN;
    dtk_buf_reset(&body);
    envelope(&body, "v1", "Namespace", &ns.base);
    assert_rejected(body.ptr, body.len,
                    "metadata.deletionTimestamp: time is outside the years "
                    "0001 to 9999");
    dtk_buf_dispose(&body);
}

/* ---- bad input ---------------------------------------------------------- */

static void test_proto__rejects_bad_magic_and_envelope(void **state)
{
    static const char garbage[] = "k8s\0\x0a\xff\xff\xff\xff\x0f";

    (void)state;
    assert_rejected("", 0,
                    "protobuf body does not start with the 'k8s\\0' magic "
                    "bytes");
    assert_rejected("{\"kind\":\"Secret\"}", 17,
                    "protobuf body does not start with the 'k8s\\0' magic "
                    "bytes");
    assert_rejected(garbage, sizeof(garbage) - 1,
                    "protobuf body: the runtime.Unknown envelope could not be "
                    "decoded");
    /* The magic alone is an empty envelope: no type. */
    assert_rejected("k8s\0", 4,
                    "protobuf body: the envelope has no apiVersion or kind");
}

static void test_proto__rejects_unsupported_kind_and_encoding(void **state)
{
    K8s__Io__Api__Core__V1__Namespace ns =
        K8S__IO__API__CORE__V1__NAMESPACE__INIT;
    K8s__Io__Apimachinery__Pkg__Runtime__TypeMeta tm =
        K8S__IO__APIMACHINERY__PKG__RUNTIME__TYPE_META__INIT;
    K8s__Io__Apimachinery__Pkg__Runtime__Unknown unk =
        K8S__IO__APIMACHINERY__PKG__RUNTIME__UNKNOWN__INIT;
    uint8_t packed[128];
    dtk_buf body = DTK_BUF_INIT(0);

    (void)state;
    envelope(&body, "apps/v1", "Deployment", &ns.base);
    assert_rejected(body.ptr, body.len,
                    "protobuf bodies are supported for v1 Namespace, Secret, "
                    "ConfigMap, ServiceAccount and Event, "
                    "coordination.k8s.io/v1 Lease, apps/v1 "
                    "ControllerRevision, events.k8s.io/v1 Event and "
                    "DeleteOptions, not 'Deployment' of 'apps/v1'; send JSON");
    dtk_buf_reset(&body);
    envelope(&body, "v2", "Secret", &ns.base);
    assert_rejected(body.ptr, body.len,
                    "protobuf bodies are supported for v1 Namespace, Secret, "
                    "ConfigMap, ServiceAccount and Event, "
                    "coordination.k8s.io/v1 Lease, apps/v1 "
                    "ControllerRevision, events.k8s.io/v1 Event and "
                    "DeleteOptions, not 'Secret' of 'v2'; send JSON");

    tm.apiversion = "v1";
    tm.kind = "Namespace";
    unk.typemeta = &tm;
    unk.contentencoding = "gzip";
    memcpy(packed, magic, sizeof(magic));
    dtk_buf_reset(&body);
    assert_int_equal(dtk_buf_put(&body, packed,
                                 4 + protobuf_c_message_pack(&unk.base,
                                                             packed + 4)),
                     0);
    assert_rejected(body.ptr, body.len,
                    "protobuf body: contentEncoding 'gzip' is not supported");
    dtk_buf_dispose(&body);
}

static void test_proto__malformed_object_names_kind_not_values(void **state)
{
    dtk_buf pb = DTK_BUF_INIT(0);
    dtk_buf cut = DTK_BUF_INIT(0);
    K8s__Io__Apimachinery__Pkg__Runtime__Unknown *unk;

    (void)state;
    read_fixture(&pb, "secret.pb");
    /* Keep the envelope intact but cut the Secret message inside it. */
    unk = k8s__io__apimachinery__pkg__runtime__unknown__unpack(
        NULL, pb.len - 4, (const uint8_t *)pb.ptr + 4);
    assert_non_null(unk);
    assert_true(unk->raw.len > 10);
    unk->raw.len -= 7;
    {
        uint8_t *packed = dtk_malloc(
            protobuf_c_message_get_packed_size(&unk->base) + 4);
        size_t n;

        memcpy(packed, magic, sizeof(magic));
        n = protobuf_c_message_pack(&unk->base, packed + 4);
        assert_int_equal(dtk_buf_put(&cut, packed, n + 4), 0);
        dtk_free(packed);
    }
    k8s__io__apimachinery__pkg__runtime__unknown__free_unpacked(unk, NULL);
    assert_rejected(cut.ptr, cut.len,
                    "protobuf body: the Secret message could not be decoded");
    assert_null(strstr(dtk_error_last()->message, "s3cr3t"));
    dtk_buf_dispose(&cut);
    dtk_buf_dispose(&pb);
}

/* Every prefix and every single-byte change of real bodies either decodes
 * to an object or is refused with DTK_EINVALID: never a crash, never a
 * read past the end (ASan checks the latter in `make asan`). */
static void test_proto__truncated_and_corrupted_bodies_are_safe(void **state)
{
    static const char *const names[] = {"secret.pb", "configmap.pb",
                                        "namespace.pb"};
    size_t decoded = 0, refused = 0;

    (void)state;
    for (size_t f = 0; f < sizeof(names) / sizeof(names[0]); f++) {
        dtk_buf pb = DTK_BUF_INIT(0);

        read_fixture(&pb, names[f]);
        for (size_t len = 0; len <= pb.len; len++) {
            /* An exact-size copy, so ASan sees any read past len. */
            char *copy = dtk_malloc(len ? len : 1);
            dtk_json *obj = NULL;
            int error;

            memcpy(copy, pb.ptr, len);
            error = dtk_proto_decode(&obj, copy, len);
            assert_true(error == 0 || error == DTK_EINVALID);
            if (error == 0) {
                assert_int_equal(obj->type, DTK_JSON_OBJECT);
                decoded++;
            } else {
                refused++;
            }
            dtk_json_free(obj);
            dtk_free(copy);
        }
        for (size_t i = 0; i < pb.len; i++) {
            for (int bit = 0; bit < 8; bit++) {
                dtk_json *obj = NULL;
                int error;

                unsigned char *byte = (unsigned char *)pb.ptr + i;

                *byte ^= (unsigned char)(1u << bit);
                error = dtk_proto_decode(&obj, pb.ptr, pb.len);
                *byte ^= (unsigned char)(1u << bit);
                assert_true(error == 0 || error == DTK_EINVALID);
                if (error == 0) {
                    assert_int_equal(obj->type, DTK_JSON_OBJECT);
                }
                dtk_json_free(obj);
            }
        }
        dtk_buf_dispose(&pb);
    }
    /* The whole bodies decode (so do prefixes that only drop the empty
     * trailing envelope fields); cuts inside a message are refused. */
    assert_true(decoded >= 3);
    assert_true(refused > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proto__kubectl_namespace),
        cmocka_unit_test(test_proto__kubectl_secret_data_is_base64),
        cmocka_unit_test(test_proto__kubectl_secret_binary_value_and_type),
        cmocka_unit_test(test_proto__kubectl_configmap_data_and_binary_data),
        cmocka_unit_test(test_proto__kubectl_serviceaccount),
        cmocka_unit_test(test_proto__lease_keeps_pointer_fields_and_micro_time),
        cmocka_unit_test(test_proto__core_event_writes_go_defaults),
        cmocka_unit_test(test_proto__events_v1_event),
        cmocka_unit_test(test_proto__controller_revision_embeds_raw_json),
        cmocka_unit_test(test_proto__delete_options_of_any_group_version),
        cmocka_unit_test(test_proto__invalid_utf8_becomes_replacement_char),
        cmocka_unit_test(test_proto__time_range_and_zero_time),
        cmocka_unit_test(test_proto__rejects_bad_magic_and_envelope),
        cmocka_unit_test(test_proto__rejects_unsupported_kind_and_encoding),
        cmocka_unit_test(test_proto__malformed_object_names_kind_not_values),
        cmocka_unit_test(test_proto__truncated_and_corrupted_bodies_are_safe),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The event recorder against dtk-apiserver: what lands on the server, how
 * repeats are folded into one Event, how the spam filter caps writes, and
 * that recording never blocks when the server is away. Writes are counted
 * through the server's resourceVersion, which grows by one per write. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/clock.h"
#include "pkg/base/error.h"
#include "pkg/http/http.h"
#include "pkg/json/json.h"
#include "pkg/kube/events.h"
#include "pkg/kube/kube.h"
#include "test/support/apiserver.h"

#define FLUSH_MS 20000

static dtk_test_apiserver server;
static dtk_kube_config *config;
static dtk_kube_client *client;

/* ---- helpers ---------------------------------------------------------- */

static void make_namespace(const char *ns)
{
    char text[256];
    dtk_json *obj = NULL;

    snprintf(text, sizeof(text),
             "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\","
             "\"metadata\":{\"name\":\"%s\"}}",
             ns);
    assert_int_equal(dtk_json_parse(&obj, text, strlen(text)), 0);
    assert_int_equal(dtk_kube_create(NULL, client, &dtk_kube_gvr_namespaces,
                                     NULL, obj, NULL),
                     0);
    dtk_json_free(obj);
}

/* Creates a ConfigMap and returns it as the server stored it (uid, rv). */
static dtk_json *make_configmap(const char *ns, const char *name)
{
    char text[256];
    dtk_json *obj = NULL, *created = NULL;

    snprintf(text, sizeof(text),
             "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
             "\"metadata\":{\"name\":\"%s\"}}",
             name);
    assert_int_equal(dtk_json_parse(&obj, text, strlen(text)), 0);
    assert_int_equal(dtk_kube_create(&created, client, &dtk_kube_gvr_configmaps,
                                     ns, obj, NULL),
                     0);
    dtk_json_free(obj);
    return created;
}

static dtk_kube_recorder *new_recorder(dtk_kube_config *cfg,
                                       const dtk_kube_recorder_options *in)
{
    dtk_kube_recorder_options o = DTK_KUBE_RECORDER_OPTIONS_INIT;
    dtk_kube_recorder *rec = NULL;

    if (in != NULL) {
        o = *in;
    }
    o.component = "dtk-operator";
    o.instance = "test-instance";
    if (o.retry_base_ms == 0) {
        o.retry_base_ms = 50;
    }
    assert_int_equal(dtk_kube_recorder_new(&rec, cfg, &o), 0);
    return rec;
}

/* The server's current resourceVersion (a List's). */
static int64_t server_rv(void)
{
    dtk_json *list = NULL;
    dtk_kube_list_options lo = DTK_KUBE_LIST_OPTIONS_INIT;
    const char *rv;
    int64_t v;

    lo.limit = 1;
    assert_int_equal(
        dtk_kube_list_page(&list, client, &dtk_kube_gvr_events, NULL, &lo), 0);
    rv = dtk_json_string(dtk_json_path(
        list, (const char *const[]){"metadata", "resourceVersion", NULL}));
    assert_non_null(rv);
    v = strtoll(rv, NULL, 10);
    dtk_json_free(list);
    return v;
}

/* The Events in ns about the object named obj (an array, caller frees). */
static dtk_json *events_about(const char *ns, const char *obj)
{
    dtk_json *items = NULL, *out = dtk_json_new_array();
    char *rv = NULL;

    assert_int_equal(
        dtk_kube_list(&items, &rv, client, &dtk_kube_gvr_events, ns, NULL), 0);
    for (size_t i = 0; i < dtk_json_len(items); i++) {
        const dtk_json *ev = dtk_json_at(items, i);
        const char *name =
            dtk_json_get_string(dtk_json_get(ev, "involvedObject"), "name");

        if (name != NULL && strcmp(name, obj) == 0) {
            dtk_json_append(out, dtk_json_copy(ev));
        }
    }
    dtk_json_free(items);
    dtk_free(rv);
    return out;
}

static const char *str_at(const dtk_json *v, const char *a, const char *b)
{
    const dtk_json *x = dtk_json_get(v, a);

    if (b != NULL) {
        x = dtk_json_get(x, b);
    }
    return dtk_json_string(x) ? dtk_json_string(x) : "";
}

static int64_t count_of(const dtk_json *ev)
{
    int64_t n = -1;

    assert_int_equal(dtk_json_int(&n, dtk_json_get(ev, "count")), 0);
    return n;
}

static void add_fault(const char *json)
{
    dtk_kube_call call = DTK_KUBE_CALL_INIT;

    call.method = "POST";
    call.path = "/_dtk/faults";
    call.body = json;
    call.body_len = strlen(json);
    assert_int_equal(dtk_kube_do(NULL, client, &call), 0);
}

/* ---- tests -------------------------------------------------------------- */

static void test_events__event_carries_the_object_and_the_recorder(void **state)
{
    dtk_kube_recorder *rec = new_recorder(config, NULL);
    dtk_json *cm, *evs;
    const dtk_json *ev;
    dtk_kube_object_ref ref;
    dtk_buf long_msg = DTK_BUF_INIT(0);
    const char *msg;

    (void)state;
    make_namespace("ev-fields");
    cm = make_configmap("ev-fields", "web");
    assert_int_equal(dtk_kube_object_ref_from(&ref, cm), 0);
    assert_int_equal(dtk_kube_recorder_eventf(
                         rec, &ref, DTK_KUBE_EVENT_WARNING, "ProvisionFailed",
                         "broker '%s' answered %d", "mysql", 503),
                     0);
    assert_int_equal(dtk_kube_recorder_flush(rec, FLUSH_MS), 0);

    evs = events_about("ev-fields", "web");
    assert_int_equal(dtk_json_len(evs), 1);
    ev = dtk_json_at(evs, 0);
    assert_string_equal(str_at(ev, "type", NULL), "Warning");
    assert_string_equal(str_at(ev, "reason", NULL), "ProvisionFailed");
    assert_string_equal(str_at(ev, "message", NULL),
                        "broker 'mysql' answered 503");
    assert_int_equal(count_of(ev), 1);
    assert_string_equal(str_at(ev, "involvedObject", "kind"), "ConfigMap");
    assert_string_equal(str_at(ev, "involvedObject", "apiVersion"), "v1");
    assert_string_equal(str_at(ev, "involvedObject", "namespace"), "ev-fields");
    assert_string_equal(str_at(ev, "involvedObject", "uid"),
                        str_at(cm, "metadata", "uid"));
    assert_string_equal(str_at(ev, "involvedObject", "resourceVersion"),
                        str_at(cm, "metadata", "resourceVersion"));
    assert_string_equal(str_at(ev, "reportingComponent", NULL), "dtk-operator");
    assert_string_equal(str_at(ev, "reportingInstance", NULL), "test-instance");
    assert_string_equal(str_at(ev, "source", "component"), "dtk-operator");
    assert_string_equal(str_at(ev, "metadata", "namespace"), "ev-fields");
    assert_memory_equal(str_at(ev, "metadata", "name"), "web.", 4);
    assert_string_equal(str_at(ev, "firstTimestamp", NULL),
                        str_at(ev, "lastTimestamp", NULL));
    dtk_json_free(evs);

    /* A long message is cut to 1 KiB at a character boundary. */
    for (int i = 0; i < 1000; i++) {
        dtk_buf_puts(&long_msg, "\xc3\xa9"); /* "é": two bytes */
    }
    assert_int_equal(dtk_kube_recorder_event(rec, &ref, DTK_KUBE_EVENT_NORMAL,
                                             "Long", long_msg.ptr),
                     0);
    assert_int_equal(dtk_kube_recorder_flush(rec, FLUSH_MS), 0);
    evs = events_about("ev-fields", "web");
    assert_int_equal(dtk_json_len(evs), 2);
    for (size_t i = 0; i < 2; i++) {
        ev = dtk_json_at(evs, i);
        if (strcmp(str_at(ev, "reason", NULL), "Long") == 0) {
            msg = str_at(ev, "message", NULL);
            assert_int_equal(strlen(msg), DTK_KUBE_EVENT_MESSAGE_MAX);
            assert_memory_equal(msg, long_msg.ptr, DTK_KUBE_EVENT_MESSAGE_MAX);
        }
    }
    dtk_json_free(evs);

    /* A cluster-scoped object's Events go to "default". */
    {
        dtk_kube_object_ref ns_ref = DTK_KUBE_OBJECT_REF_INIT;

        ns_ref.api_version = "v1";
        ns_ref.kind = "Namespace";
        ns_ref.name = "ev-fields";
        assert_int_equal(dtk_kube_recorder_event(rec, &ns_ref,
                                                 DTK_KUBE_EVENT_NORMAL,
                                                 "Labelled", "done"),
                         0);
        assert_int_equal(dtk_kube_recorder_flush(rec, FLUSH_MS), 0);
        evs = events_about("default", "ev-fields");
        assert_int_equal(dtk_json_len(evs), 1);
        assert_string_equal(
            str_at(dtk_json_at(evs, 0), "involvedObject", "kind"), "Namespace");
        assert_null(dtk_json_get(
            dtk_json_get(dtk_json_at(evs, 0), "involvedObject"), "namespace"));
        dtk_json_free(evs);
    }
    dtk_buf_dispose(&long_msg);
    dtk_json_free(cm);
    dtk_kube_recorder_free(rec);
}

static void test_events__bad_arguments_are_refused(void **state)
{
    dtk_kube_recorder *rec = new_recorder(config, NULL);
    dtk_kube_recorder_options o = DTK_KUBE_RECORDER_OPTIONS_INIT;
    dtk_kube_recorder *none = NULL;
    dtk_kube_object_ref ref = DTK_KUBE_OBJECT_REF_INIT;
    dtk_json *obj = NULL;
    dtk_kube_recorder_stats st;

    (void)state;
    assert_int_equal(dtk_kube_recorder_new(&none, config, &o), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "component: expected 1 to 128 bytes");
    assert_null(none);

    ref.api_version = "v1";
    ref.kind = "ConfigMap";
    ref.namespace = "default";
    ref.name = "x";
    assert_int_equal(dtk_kube_recorder_event(rec, &ref, "Error", "Failed", "m"),
                     DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "type: expected 'Normal' or 'Warning'");
    assert_int_equal(
        dtk_kube_recorder_event(rec, &ref, DTK_KUBE_EVENT_NORMAL, "", "m"),
        DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "reason: expected 1 to 128 bytes");
    ref.name = NULL;
    assert_int_equal(dtk_kube_recorder_event(rec, &ref, DTK_KUBE_EVENT_NORMAL,
                                             "Synced", "m"),
                     DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message, "object name: required");

    assert_int_equal(dtk_json_parse(&obj, "{\"apiVersion\":\"v1\"}",
                                    strlen("{\"apiVersion\":\"v1\"}")),
                     0);
    assert_int_equal(dtk_kube_object_ref_from(&ref, obj), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message, "kind: required");
    dtk_json_free(obj);

    dtk_kube_recorder_stats_get(rec, &st);
    assert_int_equal(st.recorded, 0);
    dtk_kube_recorder_free(rec);
}

static void test_events__a_hot_loop_is_one_event_with_a_count(void **state)
{
    dtk_kube_recorder *rec = new_recorder(config, NULL);
    dtk_kube_object_ref ref = DTK_KUBE_OBJECT_REF_INIT;
    dtk_kube_recorder_stats st;
    dtk_json *evs;
    char first_name[300];
    int64_t rv0, writes;

    (void)state;
    make_namespace("ev-hot");
    ref.api_version = "dtk.io/v1alpha1";
    ref.kind = "ServiceInstance";
    ref.namespace = "ev-hot";
    ref.name = "blog";
    ref.uid = "8d3c4e0a-0000-4000-8000-000000000001";

    rv0 = server_rv();
    for (int i = 0; i < 100; i++) {
        assert_int_equal(dtk_kube_recorder_event(rec, &ref,
                                                 DTK_KUBE_EVENT_WARNING,
                                                 "BackendUnreachable",
                                                 "docker: connection refused"),
                         0);
    }
    assert_int_equal(dtk_kube_recorder_flush(rec, FLUSH_MS), 0);
    writes = server_rv() - rv0;
    dtk_kube_recorder_stats_get(rec, &st);
    printf("100 identical events: %lld API writes (%llu created, %llu "
           "patched, %llu folded into queued writes)\n",
           (long long)writes, (unsigned long long)st.created,
           (unsigned long long)st.patched, (unsigned long long)st.coalesced);
    assert_int_equal(writes, (int64_t)(st.created + st.patched));
    assert_int_equal(st.created, 1);
    assert_true(writes <= 25); /* at most the spam burst */
    assert_int_equal(st.spam_dropped, 0);

    evs = events_about("ev-hot", "blog");
    assert_int_equal(dtk_json_len(evs), 1);
    assert_int_equal(count_of(dtk_json_at(evs, 0)), 100);
    snprintf(first_name, sizeof(first_name), "%s",
             str_at(dtk_json_at(evs, 0), "metadata", "name"));
    dtk_json_free(evs);

    /* More of the same: the same Event's count grows. */
    for (int i = 0; i < 10; i++) {
        assert_int_equal(dtk_kube_recorder_event(rec, &ref,
                                                 DTK_KUBE_EVENT_WARNING,
                                                 "BackendUnreachable",
                                                 "docker: connection refused"),
                         0);
    }
    assert_int_equal(dtk_kube_recorder_flush(rec, FLUSH_MS), 0);
    evs = events_about("ev-hot", "blog");
    assert_int_equal(dtk_json_len(evs), 1);
    assert_int_equal(count_of(dtk_json_at(evs, 0)), 110);
    dtk_kube_recorder_stats_get(rec, &st);
    assert_int_equal(st.created, 1);
    assert_true(st.patched >= 1); /* the existing Event was patched */
    assert_string_equal(str_at(dtk_json_at(evs, 0), "metadata", "name"),
                        first_name);
    dtk_json_free(evs);
    dtk_kube_recorder_free(rec);
}

static void test_events__distinct_events_are_distinct_objects(void **state)
{
    dtk_kube_recorder *rec = new_recorder(config, NULL);
    dtk_kube_object_ref ref = DTK_KUBE_OBJECT_REF_INIT;
    dtk_json *evs;

    (void)state;
    make_namespace("ev-distinct");
    ref.api_version = "dtk.io/v1alpha1";
    ref.kind = "ServiceInstance";
    ref.namespace = "ev-distinct";
    ref.name = "shop";
    assert_int_equal(dtk_kube_recorder_event(rec, &ref, DTK_KUBE_EVENT_NORMAL,
                                             "Provisioned", "ok"),
                     0);
    assert_int_equal(dtk_kube_recorder_event(rec, &ref, DTK_KUBE_EVENT_NORMAL,
                                             "Bound", "ok"),
                     0);
    assert_int_equal(dtk_kube_recorder_event(rec, &ref, DTK_KUBE_EVENT_NORMAL,
                                             "Bound", "ok, again"),
                     0);
    assert_int_equal(dtk_kube_recorder_event(rec, &ref, DTK_KUBE_EVENT_WARNING,
                                             "Bound", "ok"),
                     0);
    assert_int_equal(dtk_kube_recorder_event(rec, &ref, DTK_KUBE_EVENT_NORMAL,
                                             "Provisioned", "ok"),
                     0);
    assert_int_equal(dtk_kube_recorder_flush(rec, FLUSH_MS), 0);
    evs = events_about("ev-distinct", "shop");
    assert_int_equal(dtk_json_len(evs), 4);
    for (size_t i = 0; i < 4; i++) {
        const dtk_json *ev = dtk_json_at(evs, i);
        int provisioned =
            strcmp(str_at(ev, "reason", NULL), "Provisioned") == 0;

        assert_int_equal(count_of(ev), provisioned ? 2 : 1);
    }
    dtk_json_free(evs);
    dtk_kube_recorder_free(rec);
}

static void test_events__spam_filter_caps_writes_per_object(void **state)
{
    dtk_kube_recorder_options o = DTK_KUBE_RECORDER_OPTIONS_INIT;
    dtk_kube_recorder *rec = new_recorder(config, NULL);
    dtk_kube_recorder *slow = NULL;
    dtk_kube_object_ref ref = DTK_KUBE_OBJECT_REF_INIT;
    dtk_kube_recorder_stats st;
    dtk_json *evs;
    int64_t rv0;

    (void)state;
    make_namespace("ev-spam");
    ref.api_version = "v1";
    ref.kind = "ConfigMap";
    ref.namespace = "ev-spam";
    ref.name = "noisy";
    /* 40 different events about one object: 25 get through. */
    rv0 = server_rv();
    for (int i = 0; i < 40; i++) {
        assert_int_equal(dtk_kube_recorder_eventf(rec, &ref,
                                                  DTK_KUBE_EVENT_NORMAL, "Step",
                                                  "step %d", i),
                         0);
    }
    /* Another object has its own bucket. */
    ref.name = "quiet";
    assert_int_equal(dtk_kube_recorder_event(rec, &ref, DTK_KUBE_EVENT_NORMAL,
                                             "Step", "step 0"),
                     0);
    assert_int_equal(dtk_kube_recorder_flush(rec, FLUSH_MS), 0);
    dtk_kube_recorder_stats_get(rec, &st);
    assert_int_equal(st.spam_dropped, 15);
    assert_int_equal(st.created, 26);
    assert_int_equal(server_rv() - rv0, 26);
    evs = events_about("ev-spam", "noisy");
    assert_int_equal(dtk_json_len(evs), 25);
    dtk_json_free(evs);
    evs = events_about("ev-spam", "quiet");
    assert_int_equal(dtk_json_len(evs), 1);
    dtk_json_free(evs);
    dtk_kube_recorder_free(rec);

    /* The bucket refills: burst 2, one token per 300 ms. */
    o.spam_burst = 2;
    o.spam_refill_ms = 300;
    slow = new_recorder(config, &o);
    ref.name = "refill";
    for (int i = 0; i < 3; i++) {
        assert_int_equal(dtk_kube_recorder_eventf(slow, &ref,
                                                  DTK_KUBE_EVENT_NORMAL, "Tick",
                                                  "tick %d", i),
                         0);
    }
    dtk_kube_recorder_stats_get(slow, &st);
    assert_int_equal(st.spam_dropped, 1);
    dtk_clock_sleep_ms(450);
    assert_int_equal(dtk_kube_recorder_event(slow, &ref, DTK_KUBE_EVENT_NORMAL,
                                             "Tick", "tick 3"),
                     0);
    assert_int_equal(dtk_kube_recorder_flush(slow, FLUSH_MS), 0);
    dtk_kube_recorder_stats_get(slow, &st);
    assert_int_equal(st.spam_dropped, 1);
    assert_int_equal(st.created, 3);
    dtk_kube_recorder_free(slow);
}

static void test_events__failures_are_retried_or_dropped(void **state)
{
    dtk_kube_recorder *rec = new_recorder(config, NULL);
    dtk_kube_object_ref ref = DTK_KUBE_OBJECT_REF_INIT;
    dtk_kube_recorder_stats st;
    dtk_json *evs;
    char path[256];

    (void)state;
    make_namespace("ev-retry");
    ref.api_version = "v1";
    ref.kind = "ConfigMap";
    ref.namespace = "ev-retry";
    ref.name = "flaky";

    /* Two 503s: retried with backoff, then created. */
    add_fault("{\"method\":\"POST\",\"path\":\"/api/v1/namespaces/ev-retry/"
              "events\",\"count\":2,\"code\":503}");
    assert_int_equal(dtk_kube_recorder_event(rec, &ref, DTK_KUBE_EVENT_NORMAL,
                                             "Retried", "m"),
                     0);
    assert_int_equal(dtk_kube_recorder_flush(rec, FLUSH_MS), 0);
    dtk_kube_recorder_stats_get(rec, &st);
    assert_int_equal(st.retries, 2);
    assert_int_equal(st.created, 1);

    /* A rejected write (400) is not retried. */
    add_fault("{\"method\":\"POST\",\"path\":\"/api/v1/namespaces/ev-retry/"
              "events\",\"count\":1,\"code\":400}");
    assert_int_equal(dtk_kube_recorder_event(rec, &ref, DTK_KUBE_EVENT_NORMAL,
                                             "Rejected", "m"),
                     0);
    assert_int_equal(dtk_kube_recorder_flush(rec, FLUSH_MS), 0);
    dtk_kube_recorder_stats_get(rec, &st);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.retries, 2);

    /* A repeat of an Event that was deleted meanwhile re-creates it, with
     * the count carried on. */
    evs = events_about("ev-retry", "flaky");
    assert_int_equal(dtk_json_len(evs), 1);
    assert_int_equal(
        dtk_kube_delete(NULL, client, &dtk_kube_gvr_events, "ev-retry",
                        str_at(dtk_json_at(evs, 0), "metadata", "name"), NULL),
        0);
    snprintf(path, sizeof(path), "%s",
             str_at(dtk_json_at(evs, 0), "metadata", "name"));
    dtk_json_free(evs);
    assert_int_equal(dtk_kube_recorder_event(rec, &ref, DTK_KUBE_EVENT_NORMAL,
                                             "Retried", "m"),
                     0);
    assert_int_equal(dtk_kube_recorder_flush(rec, FLUSH_MS), 0);
    evs = events_about("ev-retry", "flaky");
    assert_int_equal(dtk_json_len(evs), 1);
    assert_string_equal(str_at(dtk_json_at(evs, 0), "metadata", "name"), path);
    assert_int_equal(count_of(dtk_json_at(evs, 0)), 2);
    dtk_json_free(evs);
    dtk_kube_recorder_stats_get(rec, &st);
    assert_int_equal(st.created, 2);
    assert_int_equal(st.patched, 0);
    dtk_kube_recorder_free(rec);
}

/* A server that accepts connections and never answers: the worst case for
 * a caller that would wait on the network. */
static int blackhole(int *port_out)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 16), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port_out = ntohs(a.sin_port);
    return fd;
}

static void test_events__recording_never_blocks_when_the_server_is_away(
    void **state)
{
    dtk_kube_recorder_options o = DTK_KUBE_RECORDER_OPTIONS_INIT;
    dtk_kube_config *dead = NULL;
    dtk_kube_recorder *rec;
    dtk_kube_object_ref ref = DTK_KUBE_OBJECT_REF_INIT;
    dtk_kube_recorder_stats st;
    char url[64], name[32];
    int port, fd = blackhole(&port);
    int64_t t0, worst = 0, total, t_free;
    int full = 0;

    (void)state;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    assert_int_equal(dtk_kube_config_for_url(&dead, url, NULL, NULL), 0);
    o.request_timeout_ms = 1000;
    rec = new_recorder(dead, &o);
    ref.api_version = "v1";
    ref.kind = "ConfigMap";
    ref.namespace = "default";

    /* 1500 different objects: nothing folds, nothing is spam. */
    t0 = dtk_clock_now_ms();
    for (int i = 0; i < 1500; i++) {
        int64_t s = dtk_clock_now_ms(), d;
        int error;

        snprintf(name, sizeof(name), "obj-%d", i);
        ref.name = name;
        error = dtk_kube_recorder_event(rec, &ref, DTK_KUBE_EVENT_NORMAL,
                                        "Created", "m");
        d = dtk_clock_now_ms() - s;
        worst = d > worst ? d : worst;
        if (error == DTK_EUNAVAIL) {
            full++;
        } else {
            assert_int_equal(error, 0);
        }
    }
    total = dtk_clock_now_ms() - t0;
    printf("1500 events with the server away: %lld ms in total, worst call "
           "%lld ms\n",
           (long long)total, (long long)worst);
    assert_true(worst < 200);
    assert_true(total < 3000);
    dtk_kube_recorder_stats_get(rec, &st);
    /* The queue holds 1000; one more may be in flight. */
    assert_true(full == 500 || full == 499);
    assert_int_equal(st.queue_dropped, (uint64_t)full);
    assert_int_equal(dtk_kube_recorder_flush(rec, 300), DTK_ETIMEOUT);

    /* Stopping waits for at most the write in flight. */
    t_free = dtk_clock_now_ms();
    dtk_kube_recorder_free(rec);
    t_free = dtk_clock_now_ms() - t_free;
    printf("recorder stopped in %lld ms (request timeout 1000 ms)\n",
           (long long)t_free);
    assert_true(t_free < 1000 + 2000);
    dtk_kube_config_free(dead);
    close(fd);
}

static int group_setup(void **state)
{
    static const char *const args[] = {"--enable-faults", NULL};

    (void)state;
    dtk_http_global_init();
    if (dtk_test_apiserver_start(&server, args) < 0) {
        return -1;
    }
    if (dtk_kube_config_for_url(&config, server.url, NULL, NULL) < 0 ||
        dtk_kube_client_new(&client, config) < 0) {
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    dtk_kube_client_free(client);
    dtk_kube_config_free(config);
    dtk_test_apiserver_dispose(&server);
    dtk_http_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_events__event_carries_the_object_and_the_recorder),
        cmocka_unit_test(test_events__bad_arguments_are_refused),
        cmocka_unit_test(test_events__a_hot_loop_is_one_event_with_a_count),
        cmocka_unit_test(test_events__distinct_events_are_distinct_objects),
        cmocka_unit_test(test_events__spam_filter_caps_writes_per_object),
        cmocka_unit_test(test_events__failures_are_retried_or_dropped),
        cmocka_unit_test(
            test_events__recording_never_blocks_when_the_server_is_away),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

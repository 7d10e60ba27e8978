/* Informer figures against dtk-apiserver on this machine:
 *
 *   informer_initial_sync_ms        start -> synced over 10,000 custom
 *                                   objects of about 1 KiB (LIST in pages of
 *                                   500, packing, store, one add handler);
 *                                   median of 3 informers
 *   informer_object_json_bytes      average JSON size of one cached object
 *                                   as the server sends it
 *   informer_rss_per_object_bytes   resident memory per cached object: RSS
 *                                   (/proc/self/statm) after the first sync
 *                                   minus before, over 10,000 (target: at
 *                                   most 3x the JSON size)
 *   informer_rss_per_object_ratio   the same over the JSON size
 *   informer_tree_rss_per_object_bytes  for comparison: the same objects
 *                                   held as plain dtk_json trees (what the
 *                                   packing saves)
 *   informer_watch_events_per_sec   ADDED events applied (store + handler)
 *                                   per second, replayed from history: the
 *                                   informer is kept from watching (injected
 *                                   500s) while 20,000 objects are created,
 *                                   then resumes from its older version and
 *                                   replays them; timed from the first to
 *                                   the last event its handler sees, so the
 *                                   figure is the informer's speed, not the
 *                                   server's write rate (target: >= 20,000/s)
 *   informer_watch_events_per_cpu_sec  the same per second of the informer
 *                                   thread's CPU time (its one core)
 *   apiserver_replay_events_per_sec the bound set by the server: the same
 *                                   replay read by a client that only counts
 *                                   lines
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/clock.h"
#include "pkg/base/error.h"
#include "pkg/http/http.h"
#include "pkg/informer/informer.h"
#include "pkg/kube/kube.h"
#include "test/support/apiserver.h"

#define OBJECTS 10000
#define REPLAY  20000
#define RUNS    3

static dtk_test_apiserver server;
static dtk_http_client *http;

static const dtk_kube_gvr things =
    DTK_KUBE_GVR_INIT("bench.dtk.io", "v1", "things", 1);

static const char crd[] =
    "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":"
    "\"CustomResourceDefinition\",\"metadata\":{\"name\":"
    "\"things.bench.dtk.io\"},\"spec\":{\"group\":\"bench.dtk.io\","
    "\"scope\":\"Namespaced\",\"names\":{\"plural\":\"things\",\"kind\":"
    "\"Thing\"},\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":"
    "true,\"subresources\":{\"status\":{}},\"schema\":{\"openAPIV3Schema\":"
    "{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}}}]}}";

static int request(const char *method, const char *path, const char *body)
{
    char url[256];
    const char *headers[] = {"Content-Type: application/json", NULL};
    dtk_http_request req = DTK_HTTP_REQUEST_INIT;
    dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;
    long status;

    snprintf(url, sizeof(url), "%s%s", server.url, path);
    req.method = method;
    req.url = url;
    req.headers = headers;
    req.body = body;
    req.body_len = body != NULL ? strlen(body) : 0;
    req.timeout_ms = 30000;
    if (dtk_http_do(http, &req, &resp) < 0) {
        fprintf(stderr, "%s %s: %s\n", method, path, dtk_error_last()->message);
        exit(1);
    }
    status = resp.status;
    dtk_http_response_dispose(&resp);
    return (int)status;
}

/* About 1 KiB once the server added its metadata. */
static void create_thing(const char *ns, const char *name)
{
    char body[2048], path[256], pad[700];

    memset(pad, 'x', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"bench.dtk.io/v1\",\"kind\":\"Thing\","
             "\"metadata\":{\"name\":\"%s\",\"labels\":{\"app\":\"bench\","
             "\"tier\":\"backend\"},\"annotations\":{\"owner\":\"team-a\"}},"
             "\"spec\":{\"replicas\":3,\"image\":\"busybox:1.36\",\"ports\":"
             "[{\"name\":\"http\",\"port\":8080},{\"name\":\"metrics\","
             "\"port\":9090}],\"target\":\"t-1\",\"pad\":\"%s\"}}",
             name, pad);
    snprintf(path, sizeof(path), "/apis/bench.dtk.io/v1/namespaces/%s/things",
             ns);
    if (request("POST", path, body) != 201) {
        fprintf(stderr, "create %s/%s failed\n", ns, name);
        exit(1);
    }
}

static long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;

    if (f == NULL || fscanf(f, "%ld %ld", &size, &resident) != 2) {
        fprintf(stderr, "cannot read /proc/self/statm\n");
        exit(1);
    }
    fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

typedef struct lines {
    long seen;
    long target;
} lines;

static int count_lines(const char *data, size_t len, void *payload)
{
    lines *l = payload;

    for (size_t i = 0; i < len; i++) {
        l->seen += data[i] == '\n';
    }
    return l->seen >= l->target;
}

/* Events/s of a raw watch from rv reading n events. */
static double raw_replay(const char *rv, long n)
{
    dtk_http_client *c = NULL;
    dtk_http_client_options o = DTK_HTTP_CLIENT_OPTIONS_INIT;
    dtk_http_request req = DTK_HTTP_REQUEST_INIT;
    dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;
    lines l = {0, n};
    char url[512];
    int64_t t0;

    snprintf(url, sizeof(url),
             "%s/apis/bench.dtk.io/v1/namespaces/replay/things?watch=1&"
             "resourceVersion=%s&timeoutSeconds=120",
             server.url, rv);
    dtk_http_client_new(&c, &o);
    req.method = "GET";
    req.url = url;
    req.timeout_ms = 150000;
    req.response_limit = 1024;
    t0 = dtk_clock_now_ms();
    dtk_http_stream(c, &req, &resp, count_lines, &l);
    t0 = dtk_clock_now_ms() - t0;
    dtk_http_response_dispose(&resp);
    dtk_http_client_free(c);
    return (double)l.seen * 1000.0 / (double)(t0 > 0 ? t0 : 1);
}

typedef struct counter {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    long adds;
    long target;
    int64_t first_ms;
    int64_t last_ms;
    double first_cpu_s; /* informer thread CPU time */
    double last_cpu_s;
} counter;

static double thread_cpu_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_add(dtk_object *obj, void *payload)
{
    counter *c = payload;
    int64_t now = dtk_clock_now_ms();
    double cpu = thread_cpu_s();

    (void)obj;
    pthread_mutex_lock(&c->mu);
    if (c->adds++ == 0) {
        c->first_ms = now;
        c->first_cpu_s = cpu;
    }
    c->last_ms = now;
    c->last_cpu_s = cpu;
    if (c->adds >= c->target) {
        pthread_cond_broadcast(&c->cond);
    }
    pthread_mutex_unlock(&c->mu);
}

static dtk_informer *new_informer(dtk_kube_config *cfg,
                                  const char *ns,
                                  counter *c,
                                  int64_t backoff_max_ms)
{
    dtk_informer_options o = DTK_INFORMER_OPTIONS_INIT;
    dtk_informer_handler h = DTK_INFORMER_HANDLER_INIT;
    dtk_informer *inf = NULL;

    o.namespace = ns;
    o.backoff_initial_ms = backoff_max_ms > 0 ? 20 : 0;
    o.backoff_max_ms = backoff_max_ms;
    h.on_add = on_add;
    h.payload = c;
    if (dtk_informer_new(&inf, cfg, &things, &o) < 0 ||
        dtk_informer_add_handler(inf, &h) < 0) {
        fprintf(stderr, "informer: %s\n", dtk_error_last()->message);
        exit(1);
    }
    return inf;
}

static double median(double *v, int n)
{
    for (int i = 1; i < n; i++) {
        for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
            double t = v[j];

            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    }
    return v[n / 2];
}

static void counter_init(counter *c, long target)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cond, NULL);
    c->target = target;
}

static void counter_wait(counter *c)
{
    pthread_mutex_lock(&c->mu);
    while (c->adds < c->target) {
        pthread_cond_wait(&c->cond, &c->mu);
    }
    pthread_mutex_unlock(&c->mu);
}

int main(void)
{
    static const char *const args[] = {"--watch-history", "200000",
                                       "--enable-faults", NULL};
    dtk_kube_config_options ko = DTK_KUBE_CONFIG_OPTIONS_INIT;
    dtk_http_client_options ho = DTK_HTTP_CLIENT_OPTIONS_INIT;
    dtk_kube_config *cfg = NULL;
    dtk_object_list all = DTK_OBJECT_LIST_INIT;
    dtk_json **trees;
    double sync_ms[RUNS];
    long rss0, rss_before = 0, rss1 = 0, json_total = 0;
    double per_obj, tree_per_obj, rate, cpu_rate, raw_rate;
    char *replay_rv = NULL;
    char name[64];
    counter c;

    dtk_http_global_init();
    if (dtk_test_apiserver_start(&server, args) < 0) {
        return 1;
    }
    dtk_http_client_new(&http, &ho);
    request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            crd);
    request("POST", "/api/v1/namespaces",
            "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":"
            "{\"name\":\"replay\"}}");
    for (int i = 0; i < OBJECTS; i++) {
        snprintf(name, sizeof(name), "thing-%05d", i);
        create_thing("default", name);
    }
    ko.max_attempts = 1;
    if (dtk_kube_config_for_url(&cfg, server.url, NULL, &ko) < 0) {
        fprintf(stderr, "config: %s\n", dtk_error_last()->message);
        return 1;
    }

    /* Initial sync; memory of the first informer's cache. */
    for (int run = 0; run < RUNS; run++) {
        dtk_informer *inf;
        int64_t t0;

        counter_init(&c, OBJECTS);
        inf = new_informer(cfg, "default", &c, 0);
        rss0 = rss_bytes();
        t0 = dtk_clock_now_ms();
        dtk_informer_start(inf);
        if (dtk_informer_wait_synced(inf, 120000) < 0) {
            fprintf(stderr, "sync: %s\n", dtk_error_last()->message);
            return 1;
        }
        sync_ms[run] = (double)(dtk_clock_now_ms() - t0);
        counter_wait(&c);
        if (run == 0) {
            rss_before = rss0;
            rss1 = rss_bytes();
            dtk_informer_list(&all, inf);
            for (size_t i = 0; i < all.len; i++) {
                char *text = dtk_json_to_string(dtk_object_json(all.items[i]));

                json_total += (long)strlen(text);
                dtk_free(text);
            }
            if (all.len != OBJECTS) {
                fprintf(stderr, "cached %zu objects, expected %d\n", all.len,
                        OBJECTS);
                return 1;
            }
        }
        dtk_informer_free(inf);
    }
    per_obj = (double)(rss1 - rss_before) / OBJECTS;

    /* The same objects as plain parsed trees, for comparison. */
    rss0 = rss_bytes();
    trees = dtk_calloc(all.len, sizeof(*trees));
    for (size_t i = 0; i < all.len; i++) {
        trees[i] = dtk_json_copy(dtk_object_json(all.items[i]));
    }
    tree_per_obj = (double)(rss_bytes() - rss0) / OBJECTS;
    for (size_t i = 0; i < all.len; i++) {
        dtk_json_free(trees[i]);
    }
    dtk_free(trees);
    dtk_object_list_dispose(&all);

    /* Replay: an informer on the empty namespace "replay" syncs, is kept
     * from watching while REPLAY objects are created, then resumes. */
    {
        dtk_informer *inf;
        char fault[256];

        counter_init(&c, REPLAY);
        inf = new_informer(cfg, "replay", &c, 100);
        dtk_informer_start(inf);
        if (dtk_informer_wait_synced(inf, 60000) < 0) {
            fprintf(stderr, "sync: %s\n", dtk_error_last()->message);
            return 1;
        }
        replay_rv = dtk_informer_resource_version(inf);
        snprintf(fault, sizeof(fault),
                 "{\"method\":\"GET\",\"path\":\"/apis/bench.dtk.io/v1/"
                 "namespaces/replay/things\",\"count\":1000000,\"code\":500}");
        request("POST", "/_dtk/faults", fault);
        request("POST", "/_dtk/close-watches", "{}");
        for (int i = 0; i < REPLAY; i++) {
            snprintf(name, sizeof(name), "r-%05d", i);
            create_thing("replay", name);
        }
        request("DELETE", "/_dtk/faults", NULL);
        counter_wait(&c);
        rate = (double)(REPLAY - 1) * 1000.0 /
               (double)(c.last_ms > c.first_ms ? c.last_ms - c.first_ms : 1);
        cpu_rate = (double)(REPLAY - 1) / (c.last_cpu_s - c.first_cpu_s);
        dtk_informer_free(inf);
        raw_rate = raw_replay(replay_rv, REPLAY);
        dtk_free(replay_rv);
    }

    printf("informer_initial_sync_ms: %.0f ms (%d objects, median of %d)\n",
           median(sync_ms, RUNS), OBJECTS, RUNS);
    printf("informer_object_json_bytes: %ld bytes\n", json_total / OBJECTS);
    printf("informer_rss_per_object_bytes: %.0f bytes\n", per_obj);
    printf("informer_rss_per_object_ratio: %.2f x (target <= 3)\n",
           per_obj / ((double)json_total / OBJECTS));
    printf("informer_tree_rss_per_object_bytes: %.0f bytes (plain dtk_json "
           "trees, for comparison)\n",
           tree_per_obj);
    printf("informer_watch_events_per_sec: %.0f events/s (%d ADDED events "
           "replayed from history; target >= 20000)\n",
           rate, REPLAY);
    printf("informer_watch_events_per_cpu_sec: %.0f events/s (the same per "
           "second of the informer thread's CPU time)\n",
           cpu_rate);
    printf("apiserver_replay_events_per_sec: %.0f events/s (the same replay "
           "read by a client that only counts lines: the server's bound)\n",
           raw_rate);
    dtk_kube_config_free(cfg);
    dtk_http_client_free(http);
    dtk_test_apiserver_dispose(&server);
    dtk_http_global_cleanup();
    return 0;
}

/* Leader election against dtk-apiserver.
 *
 * Contention between processes: the test binary re-executes itself as a
 * candidate ("--candidate URL NS LEASE ID LEASE_MS RENEW_MS RETRY_MS"),
 * which runs one dtk_leader and answers "state" on its stdin with
 * "leading=<0|1> lost=<0|1>" on its stdout, and "stop" by stopping (and so
 * releasing) and exiting. Candidates die with the test (PR_SET_PDEATHSIG)
 * and are always reaped by PID.
 *
 * Durations are short (2 s lease / 1.5 s renew / 0.3 s retry); bounds carry
 * slack for a loaded 2-core machine but still fail when expiry, release or
 * renewal is wrong. */
#define _GNU_SOURCE /* pipe2 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/clock.h"
#include "pkg/base/error.h"
#include "pkg/base/log.h"
#include "pkg/http/http.h"
#include "pkg/json/json.h"
#include "pkg/kube/kube.h"
#include "pkg/leader/lease.h"
#include "pkg/metrics/metrics.h"
#include "pkg/runtime/runtime.h"
#include "test/support/apiserver.h"

#define WAIT_MS  20000
#define LEASE_MS 2000
#define RENEW_MS 1500
#define RETRY_MS 300
/* The longest jittered wait of a standby: retry * (1 + 1.2). */
#define MAX_RETRY_MS ((int64_t)(RETRY_MS * (1 + DTK_LEADER_JITTER_FACTOR)))
#define SLACK_MS     1500

static dtk_test_apiserver server;
static dtk_kube_config *config;
static dtk_kube_client *client;

/* ---- the candidate process ------------------------------------------- */

static int candidate_main(int argc, char **argv)
{
    dtk_kube_config *cfg = NULL;
    dtk_leader *le = NULL;
    dtk_leader_options o = DTK_LEADER_OPTIONS_INIT;
    char line[64];

    if (argc != 9) {
        fprintf(stderr, "candidate: bad arguments\n");
        return 2;
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dtk_http_global_init();
    if (dtk_kube_config_for_url(&cfg, argv[2], NULL, NULL) < 0) {
        fprintf(stderr, "candidate: %s\n", dtk_error_last()->message);
        return 2;
    }
    o.lease_namespace = argv[3];
    o.lease_name = argv[4];
    o.identity = argv[5];
    o.lease_duration_ms = strtoll(argv[6], NULL, 10);
    o.renew_deadline_ms = strtoll(argv[7], NULL, 10);
    o.retry_period_ms = strtoll(argv[8], NULL, 10);
    if (dtk_leader_new(&le, cfg, &o) < 0 || dtk_leader_start(le) < 0) {
        fprintf(stderr, "candidate: %s\n", dtk_error_last()->message);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    while (fgets(line, sizeof(line), stdin) != NULL) {
        if (strncmp(line, "state", 5) == 0) {
            printf("leading=%d lost=%d\n", dtk_leader_is_leader(le),
                   dtk_leader_lost(le));
        } else if (strncmp(line, "stop", 4) == 0) {
            break;
        }
    }
    dtk_leader_free(le);
    printf("stopped\n");
    dtk_kube_config_free(cfg);
    dtk_http_global_cleanup();
    return 0;
}

/* ---- driving candidates from the test --------------------------------- */

typedef struct candidate {
    pid_t pid;
    int to;   /* its stdin */
    int from; /* its stdout */
    char id[64];
} candidate;

static void spawn(candidate *c,
                  const char *lease,
                  const char *id,
                  int64_t lease_ms,
                  int64_t renew_ms,
                  int64_t retry_ms)
{
    int in[2], out[2];
    char l[32], r[32], t[32];

    snprintf(c->id, sizeof(c->id), "%s", id);
    snprintf(l, sizeof(l), "%lld", (long long)lease_ms);
    snprintf(r, sizeof(r), "%lld", (long long)renew_ms);
    snprintf(t, sizeof(t), "%lld", (long long)retry_ms);
    assert_int_equal(pipe2(in, O_CLOEXEC), 0);
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        execl("/proc/self/exe", "test_leader", "--candidate", server.url,
              "default", lease, id, l, r, t, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    c->to = in[1];
    c->from = out[0];
}

/* Reads one line (up to '\n') within WAIT_MS; returns 0 or -1. */
static int read_line(candidate *c, char *buf, size_t size)
{
    int64_t deadline = dtk_clock_now_ms() + WAIT_MS;
    size_t n = 0;

    while (n + 1 < size) {
        struct pollfd p = {c->from, POLLIN, 0};
        int64_t left = deadline - dtk_clock_now_ms();
        ssize_t got;

        if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
            return -1;
        }
        got = read(c->from, buf + n, 1);
        if (got <= 0) {
            return -1;
        }
        if (buf[n] == '\n') {
            buf[n] = '\0';
            return 0;
        }
        n++;
    }
    return -1;
}

/* 1 when the candidate leads, 0 when not; fails the test when it does not
 * answer. lost_out may be NULL. */
static int leads(candidate *c, int *lost_out)
{
    char line[64];
    int leading = -1, lost = -1;

    assert_int_equal(write(c->to, "state\n", 6), 6);
    assert_int_equal(read_line(c, line, sizeof(line)), 0);
    assert_int_equal(sscanf(line, "leading=%d lost=%d", &leading, &lost), 2);
    if (lost_out != NULL) {
        *lost_out = lost;
    }
    return leading;
}

static void stop_candidate(candidate *c)
{
    char line[64];
    int status;

    assert_int_equal(write(c->to, "stop\n", 5), 5);
    assert_int_equal(read_line(c, line, sizeof(line)), 0);
    assert_string_equal(line, "stopped");
    assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(c->to);
    close(c->from);
    c->pid = 0;
}

static void kill_candidate(candidate *c)
{
    if (c->pid > 0) {
        kill(c->pid, SIGKILL);
        waitpid(c->pid, NULL, 0);
        close(c->to);
        close(c->from);
        c->pid = 0;
    }
}

/* Waits until c leads; returns the monotonic ms when it was seen leading. */
static int64_t wait_leading(candidate *c)
{
    int64_t deadline = dtk_clock_now_ms() + WAIT_MS;

    while (dtk_clock_now_ms() < deadline) {
        if (leads(c, NULL)) {
            return dtk_clock_now_ms();
        }
        dtk_clock_sleep_ms(20);
    }
    fail_msg("candidate %s did not start leading", c->id);
    return 0;
}

/* ---- reading the Lease ----------------------------------------------------
 */

typedef struct lease_view {
    char holder[64];
    int64_t duration_s;
    int64_t transitions;
    char acquire[40];
    char renew[40];
} lease_view;

static lease_view read_lease(const char *name)
{
    dtk_json *obj = NULL;
    const dtk_json *spec;
    lease_view v;
    const char *s;

    memset(&v, 0, sizeof(v));
    if (dtk_kube_get(&obj, client, &dtk_kube_gvr_leases, "default", name,
                     NULL) < 0) {
        fail_msg("get lease %s: %s", name, dtk_error_last()->message);
    }
    spec = dtk_json_get(obj, "spec");
    s = dtk_json_get_string(spec, "holderIdentity");
    snprintf(v.holder, sizeof(v.holder), "%s", s ? s : "");
    dtk_json_int(&v.duration_s, dtk_json_get(spec, "leaseDurationSeconds"));
    dtk_json_int(&v.transitions, dtk_json_get(spec, "leaseTransitions"));
    s = dtk_json_get_string(spec, "acquireTime");
    snprintf(v.acquire, sizeof(v.acquire), "%s", s ? s : "");
    s = dtk_json_get_string(spec, "renewTime");
    snprintf(v.renew, sizeof(v.renew), "%s", s ? s : "");
    dtk_json_free(obj);
    return v;
}

/* MicroTime "2026-01-02T03:04:05.123456Z" -> epoch microseconds. */
static int64_t micro_of(const char *text)
{
    char base[32];
    time_t sec;
    const char *dot = strchr(text, '.');
    long usec;

    assert_non_null(dot);
    assert_int_equal(strlen(dot), 8); /* ".uuuuuuZ": microseconds */
    assert_true((size_t)(dot - text) < sizeof(base) - 2);
    memcpy(base, text, (size_t)(dot - text));
    base[dot - text] = 'Z';
    base[dot - text + 1] = '\0';
    assert_int_equal(dtk_clock_parse_rfc3339(&sec, base), 0);
    usec = strtol(dot + 1, NULL, 10);
    return (int64_t)sec * 1000000 + usec;
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

static void clear_faults(void)
{
    dtk_kube_call call = DTK_KUBE_CALL_INIT;

    call.method = "DELETE";
    call.path = "/_dtk/faults";
    assert_int_equal(dtk_kube_do(NULL, client, &call), 0);
}

/* ---- tests -------------------------------------------------------------- */

static void test_leader__exactly_one_leads_and_a_killed_leader_is_replaced(
    void **state)
{
    candidate a, b;
    candidate *leader, *standby;
    lease_view before, after;
    int64_t t_kill, t_takeover, elapsed;

    (void)state;
    spawn(&a, "kill-lease", "cand-a", LEASE_MS, RENEW_MS, RETRY_MS);
    spawn(&b, "kill-lease", "cand-b", LEASE_MS, RENEW_MS, RETRY_MS);

    /* One of them leads within a few retry periods. */
    for (int64_t deadline = dtk_clock_now_ms() + WAIT_MS;;) {
        if (leads(&a, NULL) || leads(&b, NULL)) {
            break;
        }
        assert_true(dtk_clock_now_ms() < deadline);
        dtk_clock_sleep_ms(20);
    }

    /* Sampled over several lease durations: always exactly one leader, and
     * it is the Lease's holder. */
    for (int i = 0; i < 20; i++) {
        int la = leads(&a, NULL), lb = leads(&b, NULL);
        lease_view v = read_lease("kill-lease");

        assert_int_equal(la + lb, 1);
        assert_string_equal(v.holder, la ? "cand-a" : "cand-b");
        assert_int_equal(v.duration_s, LEASE_MS / 1000);
        dtk_clock_sleep_ms(200);
    }
    leader = leads(&a, NULL) ? &a : &b;
    standby = leader == &a ? &b : &a;

    /* SIGKILL: no release. The standby waits for the lease to expire on its
     * own clock, then takes over. */
    t_kill = dtk_clock_now_ms();
    kill_candidate(leader);
    dtk_clock_sleep_ms(100); /* let a renewal already in flight land */
    before = read_lease("kill-lease");
    assert_string_equal(before.holder, leader->id);
    t_takeover = 0;
    while (dtk_clock_now_ms() - t_kill < WAIT_MS) {
        if (leads(standby, NULL)) {
            t_takeover = dtk_clock_now_ms();
            break;
        }
        dtk_clock_sleep_ms(20);
    }
    assert_true(t_takeover > 0);
    elapsed = t_takeover - t_kill;
    printf("takeover after SIGKILL: %lld ms (lease %d ms, retry %d ms)\n",
           (long long)elapsed, LEASE_MS, RETRY_MS);
    assert_true(elapsed <= LEASE_MS + 2 * MAX_RETRY_MS + SLACK_MS);

    after = read_lease("kill-lease");
    assert_string_equal(after.holder, standby->id);
    assert_int_equal(after.transitions, before.transitions + 1);
    assert_string_not_equal(after.acquire, before.acquire);
    /* Never before expiry: the new acquireTime is at least one lease
     * duration after the dead leader's last renewTime (same host clock). */
    assert_true(micro_of(after.acquire) - micro_of(before.renew) >=
                (int64_t)LEASE_MS * 1000);
    assert_int_equal(leads(standby, NULL), 1);
    kill_candidate(standby);
}

static void test_leader__clean_release_hands_over_at_once(void **state)
{
    candidate a, b;
    lease_view held, taken, released;
    int64_t t_stop, t_takeover;
    /* A long lease: a takeover well under it proves the release. */
    const int64_t lease_ms = 8000, renew_ms = 5000;

    (void)state;
    spawn(&a, "release-lease", "rel-a", lease_ms, renew_ms, RETRY_MS);
    wait_leading(&a);
    spawn(&b, "release-lease", "rel-b", lease_ms, renew_ms, RETRY_MS);
    /* b has seen the lease held (a few of its retries) and stays standby. */
    dtk_clock_sleep_ms(3 * MAX_RETRY_MS);
    assert_int_equal(leads(&b, NULL), 0);
    held = read_lease("release-lease");
    assert_string_equal(held.holder, "rel-a");

    t_stop = dtk_clock_now_ms();
    stop_candidate(&a);
    t_takeover = wait_leading(&b);
    printf("takeover after release: %lld ms (lease %lld ms)\n",
           (long long)(t_takeover - t_stop), (long long)lease_ms);
    assert_true(t_takeover - t_stop <= MAX_RETRY_MS + SLACK_MS);
    assert_true(t_takeover - t_stop < lease_ms / 2);
    taken = read_lease("release-lease");
    assert_string_equal(taken.holder, "rel-b");
    assert_int_equal(taken.transitions, held.transitions + 1);
    assert_int_equal(taken.duration_s, lease_ms / 1000);

    /* The release record itself: empty holder, 1 s, transitions kept. */
    stop_candidate(&b);
    released = read_lease("release-lease");
    assert_string_equal(released.holder, "");
    assert_int_equal(released.duration_s, 1);
    assert_int_equal(released.transitions, taken.transitions);
}

/* In-process candidates for the fault-injection cases. */
typedef struct watcher {
    atomic_int started;
    atomic_int stopped;
    _Atomic int64_t stopped_at;
} watcher;

static void on_started(void *payload)
{
    watcher *w = payload;

    atomic_fetch_add(&w->started, 1);
}

static void on_stopped(void *payload)
{
    watcher *w = payload;

    atomic_store(&w->stopped_at, dtk_clock_now_ms());
    atomic_fetch_add(&w->stopped, 1);
}

static dtk_leader *new_candidate(const char *lease,
                                 const char *id,
                                 watcher *w,
                                 dtk_metrics_registry *reg)
{
    dtk_leader_options o = DTK_LEADER_OPTIONS_INIT;
    dtk_leader *le = NULL;

    o.lease_namespace = "default";
    o.lease_name = lease;
    o.identity = id;
    o.lease_duration_ms = LEASE_MS;
    o.renew_deadline_ms = RENEW_MS;
    o.retry_period_ms = RETRY_MS;
    o.metrics = reg;
    o.on_started_leading = on_started;
    o.on_stopped_leading = on_stopped;
    o.payload = w;
    assert_int_equal(dtk_leader_new(&le, config, &o), 0);
    return le;
}

static void wait_in_process_leader(dtk_leader *le)
{
    int64_t deadline = dtk_clock_now_ms() + WAIT_MS;

    while (!dtk_leader_is_leader(le)) {
        assert_true(dtk_clock_now_ms() < deadline);
        dtk_clock_sleep_ms(10);
    }
}

static void test_leader__conflicts_are_lost_races_not_leadership(void **state)
{
    static const char lease_json[] =
        "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\","
        "\"metadata\":{\"name\":\"race-lease\",\"namespace\":\"default\"},"
        "\"spec\":{\"holderIdentity\":\"ghost\",\"leaseDurationSeconds\":1,"
        "\"leaseTransitions\":4}}";
    dtk_json *obj = NULL;
    dtk_leader *le = NULL;
    dtk_leader *many[3] = {NULL, NULL, NULL};
    watcher w = {0}, mw[3];
    lease_view v;

    (void)state;
    /* A lease held by a dead "ghost". The candidate's first takeover PUT
     * gets a 409 (a concurrent writer): it must not lead on that, and must
     * win on a later retry. */
    assert_int_equal(dtk_json_parse(&obj, lease_json, strlen(lease_json)), 0);
    assert_int_equal(dtk_kube_create(NULL, client, &dtk_kube_gvr_leases,
                                     "default", obj, NULL),
                     0);
    dtk_json_free(obj);
    add_fault("{\"method\":\"PUT\",\"path\":\"/apis/coordination.k8s.io/v1/"
              "namespaces/default/leases/race-lease\",\"count\":1,"
              "\"code\":409}");
    le = new_candidate("race-lease", "racer", &w, NULL);
    assert_int_equal(dtk_leader_start(le), 0);
    wait_in_process_leader(le);
    v = read_lease("race-lease");
    assert_string_equal(v.holder, "racer");
    /* One transition: the conflicting attempt did not count. */
    assert_int_equal(v.transitions, 5);
    assert_int_equal(atomic_load(&w.started), 1);
    dtk_leader_free(le);
    clear_faults();

    /* Three candidates start at once on an absent lease: the creates race
     * (409 AlreadyExists for the losers) and exactly one leads. */
    for (int i = 0; i < 3; i++) {
        char id[32];

        snprintf(id, sizeof(id), "crowd-%d", i);
        memset(&mw[i], 0, sizeof(mw[i]));
        many[i] = new_candidate("crowd-lease", id, &mw[i], NULL);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(dtk_leader_start(many[i]), 0);
    }
    for (int64_t deadline = dtk_clock_now_ms() + WAIT_MS;;) {
        int n = 0;

        for (int i = 0; i < 3; i++) {
            n += dtk_leader_is_leader(many[i]);
        }
        if (n > 0) {
            break;
        }
        assert_true(dtk_clock_now_ms() < deadline);
        dtk_clock_sleep_ms(10);
    }
    for (int s = 0; s < 10; s++) {
        int n = 0, who = -1;

        for (int i = 0; i < 3; i++) {
            if (dtk_leader_is_leader(many[i])) {
                n++;
                who = i;
            }
        }
        assert_int_equal(n, 1);
        v = read_lease("crowd-lease");
        assert_string_equal(v.holder, dtk_leader_identity(many[who]));
        dtk_clock_sleep_ms(150);
    }
    for (int i = 0; i < 3; i++) {
        dtk_leader_free(many[i]);
        assert_int_equal(atomic_load(&mw[i].stopped), 0);
    }
}

static void test_leader__failed_renewals_stop_leading(void **state)
{
    dtk_metrics_registry *reg = dtk_metrics_registry_new();
    dtk_buf text = DTK_BUF_INIT(0);
    dtk_leader *le = NULL;
    watcher w = {0};
    int64_t t_fault, lost_after;

    (void)state;
    le = new_candidate("renew-lease", "renewer", &w, reg);
    assert_int_equal(dtk_leader_start(le), 0);
    wait_in_process_leader(le);
    assert_int_equal(dtk_metrics_write(&text, reg), 0);
    assert_non_null(strstr(text.ptr, "leader_election_master_status"
                                     "{name=\"renew-lease\"} 1\n"));
    dtk_buf_reset(&text);

    /* Every request about the lease now fails: the leader must give up
     * within the renew deadline, not before it. */
    t_fault = dtk_clock_now_ms();
    add_fault("{\"path\":\"/apis/coordination.k8s.io/v1/namespaces/default/"
              "leases/renew-lease\",\"count\":100000,\"code\":500}");
    while (atomic_load(&w.stopped) == 0) {
        assert_true(dtk_clock_now_ms() - t_fault < WAIT_MS);
        dtk_clock_sleep_ms(10);
    }
    lost_after = atomic_load(&w.stopped_at) - t_fault;
    printf("leadership lost %lld ms after renewals began to fail "
           "(renew deadline %d ms)\n",
           (long long)lost_after, RENEW_MS);
    assert_true(lost_after >= RENEW_MS - RETRY_MS - 200);
    assert_true(lost_after <= RENEW_MS + SLACK_MS);
    assert_int_equal(dtk_leader_is_leader(le), 0);
    assert_int_equal(dtk_leader_lost(le), 1);
    assert_int_equal(atomic_load(&w.stopped), 1);
    assert_int_equal(dtk_metrics_write(&text, reg), 0);
    assert_non_null(strstr(text.ptr, "leader_election_master_status"
                                     "{name=\"renew-lease\"} 0\n"));
    clear_faults();
    /* A lost elector does not come back on its own. */
    dtk_clock_sleep_ms(2 * MAX_RETRY_MS);
    assert_int_equal(dtk_leader_is_leader(le), 0);
    dtk_leader_free(le);
    assert_int_equal(atomic_load(&w.stopped), 1);
    dtk_buf_dispose(&text);
    dtk_metrics_registry_free(reg);
}

/* ---- the manager with leader election ------------------------------- */

static int count_reconcile(dtk_result *res,
                           const dtk_request *req,
                           void *payload)
{
    (void)res;
    (void)req;
    atomic_fetch_add((atomic_int *)payload, 1);
    return 0;
}

static dtk_manager *new_elected_manager(const char *id,
                                        atomic_int *counter,
                                        dtk_metrics_registry *reg,
                                        dtk_controller **ctrl_out)
{
    dtk_manager_options mo = DTK_MANAGER_OPTIONS_INIT;
    dtk_controller_options co = DTK_CONTROLLER_OPTIONS_INIT;
    dtk_manager *m = NULL;
    dtk_controller *c = NULL;

    mo.bind_address = "127.0.0.1";
    mo.metrics = reg;
    mo.leader_election = 1;
    mo.kube_config = config;
    mo.leader.lease_namespace = "default";
    mo.leader.lease_name = "mgr-lease";
    mo.leader.identity = id;
    mo.leader.lease_duration_ms = LEASE_MS;
    mo.leader.renew_deadline_ms = RENEW_MS;
    mo.leader.retry_period_ms = RETRY_MS;
    assert_int_equal(dtk_manager_new(&m, &mo), 0);
    co.name = "elected";
    co.reconcile = count_reconcile;
    co.payload = counter;
    co.metrics = reg;
    assert_int_equal(dtk_controller_new(&c, &co), 0);
    assert_int_equal(dtk_manager_add_controller(m, c), 0);
    assert_int_equal(dtk_controller_enqueue(c, "default/thing"), 0);
    *ctrl_out = c;
    return m;
}

static long get_status(int port, const char *path, dtk_buf *body)
{
    dtk_http_client *c = NULL;
    dtk_http_client_options o = DTK_HTTP_CLIENT_OPTIONS_INIT;
    dtk_http_request req = DTK_HTTP_REQUEST_INIT;
    dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;
    char url[128];
    long status;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    o.timeout_ms = 10000;
    assert_int_equal(dtk_http_client_new(&c, &o), 0);
    req.method = "GET";
    req.url = url;
    req.response_limit = 4 * 1024 * 1024;
    assert_int_equal(dtk_http_do(c, &req, &resp), 0);
    status = resp.status;
    if (body != NULL) {
        dtk_buf_reset(body);
        dtk_buf_puts(body, dtk_buf_cstr(&resp.body));
    }
    dtk_http_response_dispose(&resp);
    dtk_http_client_free(c);
    return status;
}

static void test_leader__manager_runs_workers_only_while_leading(void **state)
{
    dtk_metrics_registry *reg1 = dtk_metrics_registry_new();
    dtk_metrics_registry *reg2 = dtk_metrics_registry_new();
    atomic_int n1, n2;
    dtk_controller *c1, *c2;
    dtk_manager *m1, *m2;
    dtk_buf body = DTK_BUF_INIT(0);
    int64_t t0;

    (void)state;
    atomic_init(&n1, 0);
    atomic_init(&n2, 0);
    m1 = new_elected_manager("mgr-1", &n1, reg1, &c1);
    assert_int_equal(dtk_manager_start(m1), 0);
    for (t0 = dtk_clock_now_ms(); atomic_load(&n1) == 0;) {
        assert_true(dtk_clock_now_ms() - t0 < WAIT_MS);
        dtk_clock_sleep_ms(10);
    }
    assert_int_equal(dtk_manager_is_leader(m1), 1);

    /* The standby is ready (synced) but does not reconcile. */
    m2 = new_elected_manager("mgr-2", &n2, reg2, &c2);
    assert_int_equal(dtk_manager_start(m2), 0);
    assert_int_equal(get_status(dtk_manager_http_port(m2), "/readyz", NULL),
                     200);
    dtk_clock_sleep_ms(3 * MAX_RETRY_MS);
    assert_int_equal(atomic_load(&n2), 0);
    assert_int_equal(dtk_manager_is_leader(m2), 0);
    get_status(dtk_manager_http_port(m2), "/metrics", &body);
    assert_non_null(strstr(body.ptr, "leader_election_master_status{name="
                                     "\"mgr-lease\"} 0\n"));
    get_status(dtk_manager_http_port(m1), "/metrics", &body);
    assert_non_null(strstr(body.ptr, "leader_election_master_status{name="
                                     "\"mgr-lease\"} 1\n"));

    /* The leader stops cleanly (releases): the standby's workers start. */
    t0 = dtk_clock_now_ms();
    assert_int_equal(dtk_manager_stop(m1), 0);
    while (atomic_load(&n2) == 0) {
        assert_true(dtk_clock_now_ms() - t0 < WAIT_MS);
        dtk_clock_sleep_ms(10);
    }
    printf("standby manager reconciling %lld ms after the leader stopped\n",
           (long long)(dtk_clock_now_ms() - t0));
    assert_true(dtk_clock_now_ms() - t0 < MAX_RETRY_MS + SLACK_MS);
    assert_int_equal(atomic_load(&n1), 1);
    dtk_manager_free(m1);

    /* Renewals fail: dtk_manager_wait reports the lost election. */
    add_fault("{\"path\":\"/apis/coordination.k8s.io/v1/namespaces/default/"
              "leases/mgr-lease\",\"count\":100000,\"code\":503}");
    t0 = dtk_clock_now_ms();
    assert_int_equal(dtk_manager_wait(m2), DTK_EUNAVAIL);
    assert_string_equal(dtk_error_last()->message, "leader election lost");
    assert_true(dtk_clock_now_ms() - t0 <= RENEW_MS + SLACK_MS);
    assert_int_equal(dtk_manager_is_leader(m2), 0);
    assert_int_equal(dtk_manager_stop(m2), 0);
    clear_faults();
    dtk_manager_free(m2);
    dtk_buf_dispose(&body);
    dtk_metrics_registry_free(reg1);
    dtk_metrics_registry_free(reg2);
}

static void test_leader__bad_options_are_rejected(void **state)
{
    dtk_leader_options o = DTK_LEADER_OPTIONS_INIT;
    dtk_leader *le = NULL;

    (void)state;
    o.lease_namespace = "default";
    assert_int_equal(dtk_leader_new(&le, config, &o), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message, "lease_name: required");
    assert_null(le);

    o.lease_name = "x";
    o.lease_duration_ms = 2000;
    o.renew_deadline_ms = 2000;
    assert_int_equal(dtk_leader_new(&le, config, &o), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "lease_duration_ms (2000) must be greater than "
                        "renew_deadline_ms (2000)");

    o.lease_duration_ms = 2500;
    o.renew_deadline_ms = 1000;
    assert_int_equal(dtk_leader_new(&le, config, &o), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "lease_duration_ms (2500): must be whole seconds");

    o.lease_duration_ms = 2000;
    o.retry_period_ms = 900;
    assert_int_equal(dtk_leader_new(&le, config, &o), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "renew_deadline_ms (1000) must be greater than 1.2 "
                        "* retry_period_ms (900)");

    /* Defaults are client-go's, and a NULL identity is generated. */
    o.lease_duration_ms = o.renew_deadline_ms = o.retry_period_ms = 0;
    assert_int_equal(dtk_leader_new(&le, config, &o), 0);
    assert_non_null(strchr(dtk_leader_identity(le), '_'));
    assert_int_equal(dtk_leader_is_leader(le), 0);
    dtk_leader_free(le);
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

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leader__bad_options_are_rejected),
        cmocka_unit_test(
            test_leader__exactly_one_leads_and_a_killed_leader_is_replaced),
        cmocka_unit_test(test_leader__clean_release_hands_over_at_once),
        cmocka_unit_test(test_leader__conflicts_are_lost_races_not_leadership),
        cmocka_unit_test(test_leader__failed_renewals_stop_leading),
        cmocka_unit_test(test_leader__manager_runs_workers_only_while_leading),
    };

    if (argc > 1 && strcmp(argv[1], "--candidate") == 0) {
        return candidate_main(argc, argv);
    }
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

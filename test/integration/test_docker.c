/* pkg/docker against a real Docker Engine (Debian's docker.io) that the
 * harness starts for this binary alone (test/support/dockerd.h), with a
 * busybox image imported from Debian's busybox-static. No registry and no
 * network access: pulls are covered by test/unit/test_docker.c (the header
 * sent) and here only up to the engine's own error for an unreachable
 * registry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/clock.h"
#include "pkg/base/error.h"
#include "pkg/docker/docker.h"
#include "pkg/http/http.h"
#include "pkg/json/json.h"
#include "test/support/dockerd.h"

/* Waits that poll real processes: generous, for a loaded 2-core machine. */
#define WAIT_MS 30000

typedef struct fixture {
    dtk_test_dockerd engine;
    int running;
    dtk_docker *client;
} fixture;

static fixture fx;

#define NEED_ENGINE()      \
    do {                   \
        if (!fx.running) { \
            skip();        \
        }                  \
    } while (0)

static int group_setup(void **state)
{
    dtk_docker_options o = DTK_DOCKER_OPTIONS_INIT;
    int rc;

    (void)state;
    rc = dtk_test_dockerd_start(&fx.engine);
    if (rc == 1) {
        printf("SKIP: dockerd cannot run on this machine: %s\n",
               fx.engine.skip_reason);
        return 0;
    }
    if (rc < 0) {
        return -1;
    }
    fx.running = 1;
    o.host = fx.engine.host;
    if (dtk_docker_new(&fx.client, &o) < 0) {
        fprintf(stderr, "client: %s\n", dtk_error_last()->message);
        dtk_test_dockerd_stop(&fx.engine);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    dtk_docker_free(fx.client);
    fx.client = NULL;
    dtk_test_dockerd_stop(&fx.engine);
    return 0;
}

/* ---- Helpers ---------------------------------------------------------------
 */

static char *run(const dtk_docker_container_spec *spec)
{
    char *id = NULL;
    int rc = dtk_docker_container_create(fx.client, &id, spec);

    if (rc < 0) {
        fail_msg("create: %s", dtk_error_last()->message);
    }
    rc = dtk_docker_container_start(fx.client, id);
    if (rc < 0) {
        fail_msg("start: %s", dtk_error_last()->message);
    }
    return id;
}

static void removed(char *id)
{
    assert_int_equal(dtk_docker_container_ensure_removed(fx.client, id), 0);
    dtk_free(id);
}

/* GET url until it answers 200 (the server in the container needs a moment
 * after start) or the deadline passes. */
static void http_get(dtk_buf *body, const char *url)
{
    dtk_http_client *c = NULL;
    dtk_http_client_options o = DTK_HTTP_CLIENT_OPTIONS_INIT;
    int64_t deadline = dtk_clock_now_ms() + WAIT_MS;
    long status = 0;

    o.timeout_ms = 2000;
    assert_int_equal(dtk_http_client_new(&c, &o), 0);
    while (dtk_clock_now_ms() < deadline) {
        dtk_http_request req = DTK_HTTP_REQUEST_INIT;
        dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;

        req.method = "GET";
        req.url = url;
        if (dtk_http_do(c, &req, &resp) == 0) {
            status = resp.status;
            if (status == 200) {
                assert_int_equal(dtk_buf_puts(body, dtk_buf_cstr(&resp.body)),
                                 0);
                dtk_http_response_dispose(&resp);
                break;
            }
        }
        dtk_http_response_dispose(&resp);
        dtk_clock_sleep_ms(100);
    }
    dtk_http_client_free(c);
    assert_int_equal(status, 200);
}

static void inspect(dtk_docker_container_info *info, const char *id)
{
    if (dtk_docker_container_inspect(fx.client, info, id) < 0) {
        fail_msg("inspect: %s", dtk_error_last()->message);
    }
}

static void exec_ok(dtk_docker_output *out,
                    int *code,
                    const char *id,
                    const char *const *cmd)
{
    dtk_docker_exec_spec es = DTK_DOCKER_EXEC_SPEC_INIT;

    es.cmd = cmd;
    if (dtk_docker_exec_run(fx.client, out, code, id, &es) < 0) {
        fail_msg("exec: %s", dtk_error_last()->message);
    }
}

/* Polls the container's stdout until it contains text. */
static void wait_for_log(const char *id, const char *text)
{
    int64_t deadline = dtk_clock_now_ms() + WAIT_MS;

    for (;;) {
        dtk_docker_output out = DTK_DOCKER_OUTPUT_INIT;
        int found;

        if (dtk_docker_container_logs(fx.client, &out, id, NULL) < 0) {
            fail_msg("logs: %s", dtk_error_last()->message);
        }
        found = strstr(dtk_buf_cstr(&out.out), text) != NULL;
        dtk_docker_output_dispose(&out);
        if (found) {
            return;
        }
        if (dtk_clock_now_ms() > deadline) {
            fail_msg("container %s never wrote '%s'", id, text);
        }
        dtk_clock_sleep_ms(50);
    }
}

static int64_t stop_ms(const char *id, int grace_s)
{
    int64_t start = dtk_clock_now_ms();

    if (dtk_docker_container_stop(fx.client, id, grace_s) < 0) {
        fail_msg("stop: %s", dtk_error_last()->message);
    }
    return dtk_clock_now_ms() - start;
}

/* PID 1 in a container ignores SIGTERM unless it installs a handler, so
 * this one only ends with SIGKILL. */
static const char *const ignore_term[] = {"sh", "-c", "sleep 1000 & wait",
                                          NULL};
/* Ends at once on SIGTERM: keeps tests fast when they stop it. */
static const char *const sleeper[] = {
    "sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait", NULL};

/* ---- Tests -----------------------------------------------------------------
 */

static void test_docker__ping_and_version(void **state)
{
    dtk_docker_version_info v = DTK_DOCKER_VERSION_INFO_INIT;

    (void)state;
    NEED_ENGINE();
    assert_int_equal(dtk_docker_ping(fx.client), 0);
    assert_int_equal(dtk_docker_version(fx.client, &v), 0);
    assert_non_null(v.version);
    assert_non_null(v.api_version);
    assert_string_equal(v.os, "linux");
    /* Debian's engine is 20.10 (API 1.41); newer engines are capped. */
    assert_string_equal(dtk_docker_api_version(fx.client), "1.41");
    printf("engine %s, api %s (negotiated %s)\n", v.version, v.api_version,
           dtk_docker_api_version(fx.client));
    dtk_docker_version_info_dispose(&v);
}

static void test_docker__published_port_serves_http_on_loopback(void **state)
{
    static const char *const env[] = {"GREETING=hello-from-dtk", NULL};
    static const char *const cmd[] = {
        "sh", "-c",
        "echo \"$GREETING\" > /www/index.html && exec httpd -f -p 8080 -h /www",
        NULL};
    static const char *const health_test[] = {
        "CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:8080/", NULL};
    static const dtk_docker_kv labels[] = {{"team", "blue"}};
    dtk_docker_port port = {8080, "tcp", "127.0.0.1", 0};
    dtk_docker_healthcheck hc = DTK_DOCKER_HEALTHCHECK_INIT;
    dtk_docker_owner owner = {"shop", "blog", "uid-http", "web", 0};
    dtk_docker_container_spec spec = DTK_DOCKER_CONTAINER_SPEC_INIT;
    dtk_docker_container_info info = DTK_DOCKER_CONTAINER_INFO_INIT;
    const char *const rp_path[] = {"HostConfig", "RestartPolicy", "Name", NULL};
    char hash[DTK_DOCKER_CONFIG_HASH_SIZE];
    dtk_buf body = DTK_BUF_INIT(0);
    char url[64];
    char *id;
    int host_port = 0;
    int64_t deadline;

    (void)state;
    NEED_ENGINE();
    hc.test = health_test;
    hc.interval_ms = 200;
    hc.timeout_ms = 2000;
    hc.retries = 3;
    spec.image = fx.engine.image;
    spec.env = env;
    spec.cmd = cmd;
    spec.ports = &port;
    spec.port_count = 1;
    spec.restart_policy = "unless-stopped";
    spec.healthcheck = &hc;
    spec.labels = labels;
    spec.label_count = 1;
    spec.stop_grace_period_s = 1;
    spec.owner = &owner;
    id = run(&spec);
    /* Starting a running container is success (304). */
    assert_int_equal(dtk_docker_container_start(fx.client, id), 0);

    inspect(&info, id);
    assert_true(info.running);
    assert_string_equal(info.name, "dtk-shop-blog-web-0");
    assert_string_equal(info.image, fx.engine.image);
    assert_string_equal(dtk_json_string(dtk_json_path(info.raw, rp_path)),
                        "unless-stopped");
    assert_string_equal(dtk_docker_labels_get(&info.labels, "team"), "blue");
    assert_string_equal(
        dtk_docker_labels_get(&info.labels, DTK_DOCKER_LABEL_INSTANCE_UID),
        "uid-http");
    assert_string_equal(
        dtk_docker_labels_get(&info.labels, DTK_DOCKER_LABEL_COMPONENT), "web");
    assert_int_equal(dtk_docker_config_hash(hash, &spec), 0);
    assert_int_equal(dtk_docker_container_drifted(&info.labels, hash), 0);
    assert_int_equal(
        dtk_docker_container_host_port(&info, &host_port, 8080, NULL), 0);
    assert_true(host_port > 0);
    assert_int_equal(
        dtk_docker_container_host_port(&info, &host_port, 9999, NULL),
        DTK_ENOTFOUND);
    dtk_docker_container_info_dispose(&info);

    inspect(&info, id);
    assert_int_equal(
        dtk_docker_container_host_port(&info, &host_port, 8080, "tcp"), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", host_port);
    http_get(&body, url);
    assert_string_equal(dtk_buf_cstr(&body), "hello-from-dtk\n");
    dtk_docker_container_info_dispose(&info);

    /* The healthcheck runs and turns healthy. */
    deadline = dtk_clock_now_ms() + WAIT_MS;
    for (;;) {
        inspect(&info, id);
        if ((info.health != NULL && strcmp(info.health, "healthy") == 0) ||
            dtk_clock_now_ms() > deadline) {
            break;
        }
        dtk_docker_container_info_dispose(&info);
        dtk_clock_sleep_ms(100);
    }
    assert_non_null(info.health);
    assert_string_equal(info.health, "healthy");
    dtk_docker_container_info_dispose(&info);
    dtk_buf_dispose(&body);
    removed(id);
}

static void test_docker__list_by_labels_finds_what_an_instance_owns(
    void **state)
{
    static const dtk_docker_kv team[] = {{"team", "green"}};
    dtk_docker_owner a_web = {"shop", "list-a", "uid-list-a", "web", 0};
    dtk_docker_owner a_db = {"shop", "list-a", "uid-list-a", "db", 0};
    dtk_docker_owner b_web = {"shop", "list-b", "uid-list-b", "web", 0};
    dtk_docker_container_spec spec = DTK_DOCKER_CONTAINER_SPEC_INIT;
    dtk_docker_containers list = DTK_DOCKER_CONTAINERS_INIT;
    dtk_docker_list_options lo = DTK_DOCKER_LIST_OPTIONS_INIT;
    const char *const by_team[] = {"team=green", NULL};
    char hash[DTK_DOCKER_CONFIG_HASH_SIZE];
    char *ids[3] = {NULL, NULL, NULL};

    (void)state;
    NEED_ENGINE();
    spec.image = fx.engine.image;
    spec.cmd = sleeper;
    spec.labels = team;
    spec.label_count = 1;
    spec.owner = &a_web;
    assert_int_equal(dtk_docker_container_create(fx.client, &ids[0], &spec), 0);
    spec.owner = &a_db;
    assert_int_equal(dtk_docker_container_create(fx.client, &ids[1], &spec), 0);
    spec.owner = &b_web;
    assert_int_equal(dtk_docker_container_create(fx.client, &ids[2], &spec), 0);
    assert_int_equal(dtk_docker_container_start(fx.client, ids[1]), 0);

    assert_int_equal(
        dtk_docker_container_list_owned(fx.client, &list, "uid-list-a", NULL),
        0);
    assert_int_equal(list.count, 2);
    dtk_docker_containers_dispose(&list);

    assert_int_equal(
        dtk_docker_container_list_owned(fx.client, &list, "uid-list-a", "web"),
        0);
    assert_int_equal(list.count, 1);
    assert_string_equal(list.items[0].id, ids[0]);
    assert_string_equal(list.items[0].name, "dtk-shop-list-a-web-0");
    assert_string_equal(list.items[0].state, "created");
    assert_string_equal(
        dtk_docker_labels_get(&list.items[0].labels, DTK_DOCKER_LABEL_REPLICA),
        "0");
    /* Same spec: no drift; a changed spec is drift. */
    assert_int_equal(dtk_docker_config_hash(hash, &spec), 0);
    assert_int_equal(dtk_docker_container_drifted(&list.items[0].labels, hash),
                     0);
    spec.cmd = ignore_term;
    assert_int_equal(dtk_docker_config_hash(hash, &spec), 0);
    assert_int_equal(dtk_docker_container_drifted(&list.items[0].labels, hash),
                     1);
    dtk_docker_containers_dispose(&list);

    /* Without "all", only running containers match. */
    lo.labels = by_team;
    assert_int_equal(dtk_docker_container_list(fx.client, &list, &lo), 0);
    assert_int_equal(list.count, 1);
    assert_string_equal(list.items[0].id, ids[1]);
    assert_string_equal(list.items[0].state, "running");
    dtk_docker_containers_dispose(&list);
    lo.all = 1;
    assert_int_equal(dtk_docker_container_list(fx.client, &list, &lo), 0);
    assert_int_equal(list.count, 3);
    dtk_docker_containers_dispose(&list);
    /* Labels and name together. */
    lo.name = "dtk-shop-list-a-web";
    assert_int_equal(dtk_docker_container_list(fx.client, &list, &lo), 0);
    assert_int_equal(list.count, 1);
    assert_string_equal(list.items[0].id, ids[0]);
    dtk_docker_containers_dispose(&list);

    assert_int_equal(
        dtk_docker_container_list_owned(fx.client, &list, "uid-list-b", NULL),
        0);
    assert_int_equal(list.count, 1);
    assert_string_equal(list.items[0].id, ids[2]);
    dtk_docker_containers_dispose(&list);
    for (int i = 0; i < 3; i++) {
        removed(ids[i]);
    }
    assert_int_equal(
        dtk_docker_container_list_owned(fx.client, &list, "uid-list-a", NULL),
        0);
    assert_int_equal(list.count, 0);
    dtk_docker_containers_dispose(&list);
}

static void test_docker__exec_returns_output_and_exit_code(void **state)
{
    static const char *const both[] = {
        "sh", "-c", "echo out; echo err >&2; echo more; exit 3", NULL};
    static const char *const with_env[] = {"sh", "-c", "echo $FOO; pwd", NULL};
    static const char *const env[] = {"FOO=bar", NULL};
    /* 20000 lines of 41 bytes: many frames, split across many reads. */
    static const char *const big[] = {
        "sh", "-c",
        "i=0; while [ $i -lt 20000 ]; do "
        "echo 0123456789012345678901234567890123456789; i=$((i+1)); done",
        NULL};
    dtk_docker_container_spec spec = DTK_DOCKER_CONTAINER_SPEC_INIT;
    dtk_docker_exec_spec es = DTK_DOCKER_EXEC_SPEC_INIT;
    dtk_docker_output out = DTK_DOCKER_OUTPUT_INIT;
    char *exec_id = NULL;
    char *id;
    int code = -1;

    (void)state;
    NEED_ENGINE();
    spec.name = "exec-target";
    spec.image = fx.engine.image;
    spec.cmd = sleeper;
    id = run(&spec);

    exec_ok(&out, &code, id, both);
    assert_int_equal(code, 3);
    assert_string_equal(dtk_buf_cstr(&out.out), "out\nmore\n");
    assert_string_equal(dtk_buf_cstr(&out.err), "err\n");
    assert_int_equal(out.truncated, 0);
    dtk_docker_output_dispose(&out);

    es.cmd = with_env;
    es.env = env;
    es.working_dir = "/tmp";
    assert_int_equal(
        dtk_docker_exec_run(fx.client, &out, &code, "exec-target", &es), 0);
    assert_int_equal(code, 0);
    assert_string_equal(dtk_buf_cstr(&out.out), "bar\n/tmp\n");
    dtk_docker_output_dispose(&out);

    exec_ok(&out, &code, id, big);
    assert_int_equal(code, 0);
    assert_int_equal(out.out.len, 20000 * 41);
    assert_int_equal(out.err.len, 0);
    assert_memory_equal(out.out.ptr + 19999 * 41,
                        "0123456789012345678901234567890123456789\n", 41);
    dtk_docker_output_dispose(&out);

    /* The bound: what does not fit is dropped and flagged. */
    out.out.limit = 1000;
    exec_ok(&out, &code, id, big);
    assert_int_equal(code, 0);
    assert_int_equal(out.out.len, 1000);
    assert_int_equal(out.truncated, 1);
    dtk_docker_output_dispose(&out);

    /* The pieces separately. */
    es = (dtk_docker_exec_spec)DTK_DOCKER_EXEC_SPEC_INIT;
    es.cmd = both;
    assert_int_equal(dtk_docker_exec_create(fx.client, &exec_id, id, &es), 0);
    assert_int_equal(dtk_docker_exec_start(fx.client, &out, exec_id, 0), 0);
    assert_string_equal(dtk_buf_cstr(&out.err), "err\n");
    dtk_docker_output_dispose(&out);
    dtk_free(exec_id);

    /* Killed (SIGKILL is the default signal), then not running: a
     * conflict, with the engine's words. */
    assert_int_equal(dtk_docker_container_kill(fx.client, id, NULL), 0);
    assert_int_equal(dtk_docker_container_wait(fx.client, &code, id, WAIT_MS),
                     0);
    assert_int_equal(code, 137);
    assert_int_equal(dtk_docker_exec_run(fx.client, &out, &code, id, &es),
                     DTK_ECONFLICT);
    assert_non_null(strstr(dtk_error_last()->message, "exec in container '"));
    assert_non_null(strstr(dtk_error_last()->message, "is not running"));
    dtk_docker_output_dispose(&out);
    removed(id);
}

static void test_docker__logs_wait_and_tail(void **state)
{
    static const char *const cmd[] = {
        "sh", "-c",
        "for i in 1 2 3 4 5; do echo line$i; done; echo oops >&2; exit 7",
        NULL};
    static const char *const lines_then_sleep[] = {
        "sh", "-c",
        "for i in 1 2 3 4 5; do echo line$i; done; "
        "trap 'exit 0' TERM; sleep 1000 & wait",
        NULL};
    dtk_docker_container_spec spec = DTK_DOCKER_CONTAINER_SPEC_INIT;
    dtk_docker_output out = DTK_DOCKER_OUTPUT_INIT;
    dtk_docker_logs_options lo = DTK_DOCKER_LOGS_OPTIONS_INIT;
    char *id;
    char *long_id;
    int code = -1;
    int64_t start;

    (void)state;
    NEED_ENGINE();
    spec.image = fx.engine.image;
    spec.cmd = cmd;
    id = run(&spec);
    assert_int_equal(dtk_docker_container_wait(fx.client, &code, id, WAIT_MS),
                     0);
    assert_int_equal(code, 7);

    assert_int_equal(dtk_docker_container_logs(fx.client, &out, id, NULL), 0);
    assert_string_equal(dtk_buf_cstr(&out.out),
                        "line1\nline2\nline3\nline4\nline5\n");
    assert_string_equal(dtk_buf_cstr(&out.err), "oops\n");
    dtk_docker_output_dispose(&out);

    lo.no_stdout = 1;
    assert_int_equal(dtk_docker_container_logs(fx.client, &out, id, &lo), 0);
    assert_string_equal(dtk_buf_cstr(&out.out), "");
    assert_string_equal(dtk_buf_cstr(&out.err), "oops\n");
    dtk_docker_output_dispose(&out);
    removed(id);

    /* Waiting on something that does not end is bounded. */
    spec.cmd = lines_then_sleep;
    long_id = run(&spec);
    start = dtk_clock_now_ms();
    assert_int_equal(dtk_docker_container_wait(fx.client, &code, long_id, 300),
                     DTK_ETIMEOUT);
    assert_true(dtk_clock_now_ms() - start < WAIT_MS);
    assert_non_null(strstr(dtk_error_last()->message, "wait for container '"));
    assert_non_null(strstr(dtk_error_last()->message, "timed out"));

    /* Tail: the last lines only (one stream here: the order of stdout and
     * stderr lines in the log is not defined). The container is still
     * running, so wait until its output is in the log. */
    wait_for_log(long_id, "line5\n");
    lo = (dtk_docker_logs_options)DTK_DOCKER_LOGS_OPTIONS_INIT;
    lo.tail = 2;
    assert_int_equal(dtk_docker_container_logs(fx.client, &out, long_id, &lo),
                     0);
    assert_string_equal(dtk_buf_cstr(&out.out), "line4\nline5\n");
    dtk_docker_output_dispose(&out);
    removed(long_id);
}

static void test_docker__user_network_resolves_aliases(void **state)
{
    static const char *const server_cmd[] = {
        "sh", "-c",
        "echo db-says-hi > /www/index.html && exec httpd -f -p 8080 -h /www",
        NULL};
    static const char *const client_cmd[] = {
        "sh", "-c",
        "for i in $(seq 1 100); do "
        "nslookup db > /tmp/ns 2>&1 && "
        "wget -q -O - http://db:8080/ 2>/dev/null | cat > /tmp/got; "
        "[ -s /tmp/got ] && { cat /tmp/got; exit 0; }; sleep 0.2; done; "
        "cat /tmp/ns; exit 1",
        NULL};
    static const char *const db_alias[] = {"db", NULL};
    static const char *const cache_alias[] = {"cache", NULL};
    static const char *const fetch[] = {
        "sh", "-c", "wget -q -O - http://db:8080/ | cat", NULL};
    static const char *const lookup_cache[] = {"nslookup", "cache", NULL};
    dtk_docker_owner owner = {"shop", "netblog", "uid-net", NULL, 0};
    dtk_docker_network_spec ns = DTK_DOCKER_NETWORK_SPEC_INIT;
    dtk_docker_network_info info = DTK_DOCKER_NETWORK_INFO_INIT;
    dtk_docker_networks nets = DTK_DOCKER_NETWORKS_INIT;
    dtk_docker_list_options lo = DTK_DOCKER_LIST_OPTIONS_INIT;
    dtk_docker_owner_filter filter;
    dtk_docker_container_spec spec = DTK_DOCKER_CONTAINER_SPEC_INIT;
    dtk_docker_output out = DTK_DOCKER_OUTPUT_INIT;
    char *net_id = NULL;
    char *server;
    char *client;
    char *third;
    int code = -1;

    (void)state;
    NEED_ENGINE();
    ns.owner = &owner;
    assert_int_equal(dtk_docker_network_create(fx.client, &net_id, &ns), 0);
    assert_int_equal(dtk_docker_network_create(fx.client, NULL, &ns),
                     DTK_EEXISTS);
    assert_non_null(strstr(dtk_error_last()->message,
                           "create network 'dtk-shop-netblog': "));

    dtk_docker_owner_filter_init(&filter, "uid-net", NULL);
    lo.labels = filter.labels;
    assert_int_equal(dtk_docker_network_list(fx.client, &nets, &lo), 0);
    assert_int_equal(nets.count, 1);
    assert_string_equal(nets.items[0].id, net_id);
    assert_string_equal(nets.items[0].name, "dtk-shop-netblog");
    dtk_docker_networks_dispose(&nets);
    dtk_docker_owner_filter_dispose(&filter);

    spec.image = fx.engine.image;
    spec.cmd = server_cmd;
    spec.network = "dtk-shop-netblog";
    spec.aliases = db_alias;
    spec.name = "net-server";
    server = run(&spec);
    spec.cmd = client_cmd;
    spec.aliases = NULL;
    spec.name = "net-client";
    client = run(&spec);
    assert_int_equal(
        dtk_docker_container_wait(fx.client, &code, client, WAIT_MS), 0);
    assert_int_equal(dtk_docker_container_logs(fx.client, &out, client, NULL),
                     0);
    assert_string_equal(dtk_buf_cstr(&out.out), "db-says-hi\n");
    assert_int_equal(code, 0);
    dtk_docker_output_dispose(&out);

    /* Connect a container from the default bridge with an alias. */
    spec = (dtk_docker_container_spec)DTK_DOCKER_CONTAINER_SPEC_INIT;
    spec.image = fx.engine.image;
    spec.cmd = sleeper;
    third = run(&spec);
    assert_int_equal(
        dtk_docker_network_connect(fx.client, net_id, third, cache_alias), 0);
    assert_int_equal(
        dtk_docker_network_connect(fx.client, net_id, third, cache_alias),
        DTK_ECONFLICT);
    exec_ok(&out, &code, third, fetch);
    assert_int_equal(code, 0);
    assert_string_equal(dtk_buf_cstr(&out.out), "db-says-hi\n");
    dtk_docker_output_dispose(&out);
    exec_ok(&out, &code, server, lookup_cache);
    assert_int_equal(code, 0);
    dtk_docker_output_dispose(&out);

    assert_int_equal(
        dtk_docker_network_inspect(fx.client, &info, "dtk-shop-netblog"), 0);
    assert_string_equal(info.id, net_id);
    assert_int_equal(info.container_count, 2); /* server and third */
    assert_string_equal(
        dtk_docker_labels_get(&info.labels, DTK_DOCKER_LABEL_INSTANCE_UID),
        "uid-net");
    dtk_docker_network_info_dispose(&info);

    /* In use: refused with the engine's reason. */
    assert_int_equal(dtk_docker_network_remove(fx.client, net_id),
                     DTK_ECONFLICT);
    assert_non_null(strstr(dtk_error_last()->message, "active endpoints"));

    /* (A lookup of "cache" now would go to the host's resolver and wait for
     * its timeout: the membership shows the disconnect instead.) */
    assert_int_equal(dtk_docker_network_disconnect(fx.client, net_id, third, 0),
                     0);
    assert_int_equal(dtk_docker_network_inspect(fx.client, &info, net_id), 0);
    assert_int_equal(info.container_count, 1);
    dtk_docker_network_info_dispose(&info);

    removed(server);
    removed(client);
    removed(third);
    assert_int_equal(dtk_docker_network_remove(fx.client, net_id), 0);
    assert_int_equal(dtk_docker_network_ensure_removed(fx.client, net_id), 0);
    assert_int_equal(dtk_docker_network_remove(fx.client, net_id),
                     DTK_ENOTFOUND);
    dtk_free(net_id);
}

static void test_docker__stop_honours_grace_period_and_signal(void **state)
{
    /* "ready" once the handler is installed: a signal that arrives before
     * would be ignored (PID 1 without a handler). */
    static const char *const on_usr1[] = {
        "sh", "-c",
        "trap 'echo got-usr1; exit 0' USR1; echo ready; sleep 1000 & wait",
        NULL};
    dtk_docker_container_spec spec = DTK_DOCKER_CONTAINER_SPEC_INIT;
    dtk_docker_container_info info = DTK_DOCKER_CONTAINER_INFO_INIT;
    dtk_docker_output out = DTK_DOCKER_OUTPUT_INIT;
    const char *const stop_timeout_path[] = {"Config", "StopTimeout", NULL};
    int64_t stop_timeout = 0;
    char *id;
    int64_t took;

    (void)state;
    NEED_ENGINE();
    /* The container's own grace period (1 s) applies with grace_s < 0:
     * SIGTERM is ignored, SIGKILL follows after the grace, well before the
     * engine's default of 10 s. */
    spec.image = fx.engine.image;
    spec.cmd = ignore_term;
    spec.stop_grace_period_s = 1;
    id = run(&spec);
    inspect(&info, id);
    assert_int_equal(
        dtk_json_int(&stop_timeout, dtk_json_path(info.raw, stop_timeout_path)),
        0);
    assert_int_equal(stop_timeout, 1);
    dtk_docker_container_info_dispose(&info);
    /* grace_s < 0 reads it back (that inspect) and sends it as t=1. */
    took = stop_ms(id, -1);
    printf("stop with a 1 s grace period took %lld ms\n", (long long)took);
    assert_true(took >= 900);
    assert_true(took < 9000);
    inspect(&info, id);
    assert_false(info.running);
    assert_int_equal(info.exit_code, 137);
    dtk_docker_container_info_dispose(&info);
    /* Stopping a stopped container is success (304); killing it is not. */
    assert_int_equal(dtk_docker_container_stop(fx.client, id, 1), 0);
    assert_int_equal(dtk_docker_container_kill(fx.client, id, NULL),
                     DTK_ECONFLICT);
    assert_non_null(strstr(dtk_error_last()->message, "is not running"));
    removed(id);

    /* The stop signal is the container's: SIGUSR1 here, handled at once. */
    spec.cmd = on_usr1;
    spec.stop_signal = "SIGUSR1";
    id = run(&spec);
    wait_for_log(id, "ready\n");
    took = stop_ms(id, 20);
    assert_true(took < 15000);
    inspect(&info, id);
    assert_int_equal(info.exit_code, 0);
    dtk_docker_container_info_dispose(&info);
    assert_int_equal(dtk_docker_container_logs(fx.client, &out, id, NULL), 0);
    assert_string_equal(dtk_buf_cstr(&out.out), "ready\ngot-usr1\n");
    dtk_docker_output_dispose(&out);
    removed(id);
}

static void test_docker__removing_what_is_gone_is_not_an_error(void **state)
{
    dtk_docker_container_info info = DTK_DOCKER_CONTAINER_INFO_INIT;
    dtk_docker_container_spec spec = DTK_DOCKER_CONTAINER_SPEC_INIT;
    char *id = NULL;

    (void)state;
    NEED_ENGINE();
    assert_int_equal(dtk_docker_container_remove(fx.client, "dtk-gone", 1),
                     DTK_ENOTFOUND);
    assert_string_equal(dtk_error_last()->message,
                        "remove container 'dtk-gone': No such container: "
                        "dtk-gone");
    assert_int_equal(dtk_docker_container_ensure_removed(fx.client, "dtk-gone"),
                     0);
    assert_string_equal(dtk_error_last()->message, "");
    assert_int_equal(dtk_docker_container_inspect(fx.client, &info, "dtk-gone"),
                     DTK_ENOTFOUND);
    assert_int_equal(dtk_docker_container_start(fx.client, "dtk-gone"),
                     DTK_ENOTFOUND);
    assert_int_equal(dtk_docker_container_stop(fx.client, "dtk-gone", 1),
                     DTK_ENOTFOUND);

    assert_int_equal(dtk_docker_network_remove(fx.client, "dtk-gone"),
                     DTK_ENOTFOUND);
    assert_non_null(
        strstr(dtk_error_last()->message, "remove network 'dtk-gone': "));
    assert_int_equal(dtk_docker_network_ensure_removed(fx.client, "dtk-gone"),
                     0);
    assert_int_equal(dtk_docker_volume_remove(fx.client, "dtk-gone", 0),
                     DTK_ENOTFOUND);
    assert_int_equal(dtk_docker_volume_ensure_removed(fx.client, "dtk-gone"),
                     0);
    assert_int_equal(dtk_docker_image_remove(fx.client, "dtk-test/gone:1", 0),
                     DTK_ENOTFOUND);
    assert_non_null(
        strstr(dtk_error_last()->message, "remove image 'dtk-test/gone:1': "));

    /* A container that exists and is removed for real. */
    spec.image = fx.engine.image;
    spec.cmd = sleeper;
    spec.name = "remove-me";
    id = run(&spec);
    assert_int_equal(dtk_docker_container_remove(fx.client, id, 0),
                     DTK_ECONFLICT); /* running, not forced */
    assert_int_equal(
        dtk_docker_container_ensure_removed(fx.client, "remove-me"), 0);
    assert_int_equal(dtk_docker_container_inspect(fx.client, &info, id),
                     DTK_ENOTFOUND);
    dtk_free(id);
}

static void test_docker__create_errors_carry_the_engine_message(void **state)
{
    dtk_docker_container_spec spec = DTK_DOCKER_CONTAINER_SPEC_INIT;
    dtk_docker_port bad_port = {70000, NULL, NULL, 0};
    static const char *const aliases[] = {"x", NULL};
    char *id = NULL;

    (void)state;
    NEED_ENGINE();
    spec.image = "dtk-test/missing:1";
    spec.name = "missing-image";
    assert_int_equal(dtk_docker_container_create(fx.client, &id, &spec),
                     DTK_ENOTFOUND);
    assert_string_equal(dtk_error_last()->message,
                        "create container 'missing-image': No such image: "
                        "dtk-test/missing:1");
    assert_null(id);

    spec.image = fx.engine.image;
    spec.restart_policy = "sometimes";
    assert_int_equal(dtk_docker_container_create(fx.client, &id, &spec),
                     DTK_EINVALID);
    assert_non_null(strstr(dtk_error_last()->message,
                           "create container 'missing-image': "));
    assert_non_null(strstr(dtk_error_last()->message, "sometimes"));

    spec.restart_policy = NULL;
    spec.ports = &bad_port;
    spec.port_count = 1;
    assert_int_equal(dtk_docker_container_create(fx.client, &id, &spec),
                     DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "create container 'missing-image': ports: 0->70000 "
                        "is not a valid port mapping");
    spec.port_count = 0;
    spec.aliases = aliases;
    assert_int_equal(dtk_docker_container_create(fx.client, &id, &spec),
                     DTK_EINVALID);

    spec.aliases = NULL;
    spec.name = "twice";
    assert_int_equal(dtk_docker_container_create(fx.client, &id, &spec), 0);
    assert_int_equal(dtk_docker_container_create(fx.client, NULL, &spec),
                     DTK_EEXISTS);
    assert_non_null(strstr(dtk_error_last()->message, "already in use"));
    removed(id);
}

static void test_docker__volumes_persist_and_refuse_removal_in_use(void **state)
{
    static const char *const write_cmd[] = {"sh", "-c",
                                            "echo kept > /data/file", NULL};
    static const char *const read_cmd[] = {"cat", "/data/file", NULL};
    dtk_docker_owner owner = {"shop", "volblog", "uid-vol", NULL, 0};
    dtk_docker_volume_spec vs = DTK_DOCKER_VOLUME_SPEC_INIT;
    dtk_docker_volume_info vol = DTK_DOCKER_VOLUME_INFO_INIT;
    dtk_docker_volumes vols = DTK_DOCKER_VOLUMES_INIT;
    dtk_docker_list_options lo = DTK_DOCKER_LIST_OPTIONS_INIT;
    dtk_docker_owner_filter filter;
    dtk_docker_container_spec spec = DTK_DOCKER_CONTAINER_SPEC_INIT;
    dtk_docker_mount mount = {NULL, NULL, "/data", 0};
    dtk_docker_output out = DTK_DOCKER_OUTPUT_INIT;
    dtk_buf name = DTK_BUF_INIT(0);
    char *a;
    char *b;
    int code = -1;

    (void)state;
    NEED_ENGINE();
    assert_int_equal(dtk_docker_volume_name(&name, "shop", "volblog", "data"),
                     0);
    vs.name = dtk_buf_cstr(&name);
    vs.owner = &owner;
    assert_int_equal(dtk_docker_volume_create(fx.client, &vol, &vs), 0);
    assert_string_equal(vol.name, "dtk-shop-volblog-data");
    assert_string_equal(vol.driver, "local");
    assert_string_equal(
        dtk_docker_labels_get(&vol.labels, DTK_DOCKER_LABEL_INSTANCE_UID),
        "uid-vol");
    dtk_docker_volume_info_dispose(&vol);

    dtk_docker_owner_filter_init(&filter, "uid-vol", NULL);
    lo.labels = filter.labels;
    assert_int_equal(dtk_docker_volume_list(fx.client, &vols, &lo), 0);
    assert_int_equal(vols.count, 1);
    assert_string_equal(vols.items[0].name, "dtk-shop-volblog-data");
    dtk_docker_volumes_dispose(&vols);
    dtk_docker_owner_filter_dispose(&filter);

    mount.source = vs.name;
    spec.image = fx.engine.image;
    spec.cmd = sleeper;
    spec.mounts = &mount;
    spec.mount_count = 1;
    a = run(&spec);
    exec_ok(&out, &code, a, write_cmd);
    assert_int_equal(code, 0);
    dtk_docker_output_dispose(&out);
    removed(a);

    b = run(&spec);
    exec_ok(&out, &code, b, read_cmd);
    assert_int_equal(code, 0);
    assert_string_equal(dtk_buf_cstr(&out.out), "kept\n");
    dtk_docker_output_dispose(&out);

    assert_int_equal(dtk_docker_volume_remove(fx.client, vs.name, 0),
                     DTK_ECONFLICT);
    assert_non_null(strstr(dtk_error_last()->message, "in use"));
    removed(b);
    assert_int_equal(dtk_docker_volume_remove(fx.client, vs.name, 0), 0);
    assert_int_equal(dtk_docker_volume_ensure_removed(fx.client, vs.name), 0);
    dtk_buf_dispose(&name);
}

static void test_docker__images_inspect_ensure_and_pull_errors(void **state)
{
    static const char config[] =
        "{\"auths\":{\"127.0.0.1:1\":{\"username\":\"ci\","
        "\"password\":\"pw-never-shown\"}}}";
    dtk_docker_image_info info = DTK_DOCKER_IMAGE_INFO_INIT;
    dtk_docker_pull_options po = DTK_DOCKER_PULL_OPTIONS_INIT;
    int rc;

    (void)state;
    NEED_ENGINE();
    assert_int_equal(
        dtk_docker_image_inspect(fx.client, &info, fx.engine.image), 0);
    assert_true(strncmp(info.id, "sha256:", 7) == 0);
    assert_int_equal(info.repo_tag_count, 1);
    assert_string_equal(info.repo_tags[0], fx.engine.image);
    assert_true(info.size > 0);
    dtk_docker_image_info_dispose(&info);
    /* Present: ensure does not pull (a pull would fail: no registry). */
    assert_int_equal(dtk_docker_image_ensure(fx.client, fx.engine.image, NULL),
                     0);
    assert_int_equal(
        dtk_docker_image_inspect(fx.client, &info, "dtk-test/absent:1"),
        DTK_ENOTFOUND);
    assert_non_null(strstr(dtk_error_last()->message,
                           "inspect image 'dtk-test/absent:1': "));
    assert_non_null(
        strstr(dtk_error_last()->message, "No such image: dtk-test/absent:1"));

    /* A registry nobody listens on: the engine's own error comes back, the
     * password does not. */
    po.dockerconfigjson = config;
    po.timeout_ms = WAIT_MS;
    rc = dtk_docker_image_ensure(fx.client, "127.0.0.1:1/dtk/none:1", &po);
    printf("pull from a dead registry: %d %s\n", rc, dtk_error_last()->message);
    assert_true(rc < 0);
    assert_non_null(strstr(dtk_error_last()->message,
                           "pull image '127.0.0.1:1/dtk/none:1': "));
    assert_non_null(strstr(dtk_error_last()->message, "127.0.0.1:1"));
    assert_null(strstr(dtk_error_last()->message, "pw-never-shown"));
}

static void test_docker__tls_engine_checks_certificates(void **state)
{
    dtk_docker *c = NULL;
    dtk_docker_options o = DTK_DOCKER_OPTIONS_INIT;
    dtk_docker_version_info v = DTK_DOCKER_VERSION_INFO_INIT;
    dtk_docker_containers list = DTK_DOCKER_CONTAINERS_INIT;
    int rc;

    (void)state;
    NEED_ENGINE();
    o.host = fx.engine.tls_host;
    o.timeout_ms = 10000;
    o.ca_pem = fx.engine.ca_pem;
    o.cert_pem = fx.engine.cert_pem;
    o.key_pem = fx.engine.key_pem;
    assert_int_equal(dtk_docker_new(&c, &o), 0);
    assert_int_equal(dtk_docker_version(c, &v), 0);
    assert_string_equal(dtk_docker_api_version(c), "1.41");
    dtk_docker_version_info_dispose(&v);
    assert_int_equal(dtk_docker_container_list(c, &list, NULL), 0);
    dtk_docker_containers_dispose(&list);
    dtk_docker_free(c);

    /* The engine's certificate does not chain to the CA we trust. */
    o.ca_pem = fx.engine.wrong_ca_pem;
    assert_int_equal(dtk_docker_new(&c, &o), 0);
    rc = dtk_docker_ping(c);
    printf("wrong CA: %d %s\n", rc, dtk_error_last()->message);
    assert_int_equal(rc, DTK_ERROR);
    assert_non_null(strstr(dtk_error_last()->message, "docker engine 'tcp://"));
    assert_non_null(strstr(dtk_error_last()->message, "certificate"));
    dtk_docker_free(c);

    /* Our certificate is not one the engine accepts. */
    o.ca_pem = fx.engine.ca_pem;
    o.cert_pem = fx.engine.wrong_cert_pem;
    o.key_pem = fx.engine.wrong_key_pem;
    assert_int_equal(dtk_docker_new(&c, &o), 0);
    rc = dtk_docker_ping(c);
    printf("wrong client certificate: %d %s\n", rc, dtk_error_last()->message);
    assert_true(rc < 0);
    assert_non_null(strstr(dtk_error_last()->message, "docker engine 'tcp://"));
    /* Either the engine's alert ("bad certificate") or, when the connection
     * broke first, the hint: both name the certificate. */
    assert_non_null(strstr(dtk_error_last()->message, "certificate"));
    dtk_docker_free(c);

    /* No client certificate at all. */
    o.cert_pem = NULL;
    o.key_pem = NULL;
    assert_int_equal(dtk_docker_new(&c, &o), 0);
    rc = dtk_docker_ping(c);
    printf("no client certificate: %d %s\n", rc, dtk_error_last()->message);
    assert_true(rc < 0);
    assert_non_null(strstr(dtk_error_last()->message, "certificate"));
    dtk_docker_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docker__ping_and_version),
        cmocka_unit_test(test_docker__published_port_serves_http_on_loopback),
        cmocka_unit_test(
            test_docker__list_by_labels_finds_what_an_instance_owns),
        cmocka_unit_test(test_docker__exec_returns_output_and_exit_code),
        cmocka_unit_test(test_docker__logs_wait_and_tail),
        cmocka_unit_test(test_docker__user_network_resolves_aliases),
        cmocka_unit_test(test_docker__stop_honours_grace_period_and_signal),
        cmocka_unit_test(test_docker__removing_what_is_gone_is_not_an_error),
        cmocka_unit_test(test_docker__create_errors_carry_the_engine_message),
        cmocka_unit_test(
            test_docker__volumes_persist_and_refuse_removal_in_use),
        cmocka_unit_test(test_docker__images_inspect_ensure_and_pull_errors),
        cmocka_unit_test(test_docker__tls_engine_checks_certificates),
    };
    int rc;

    dtk_http_global_init();
    rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
    dtk_http_global_cleanup();
    return rc;
}

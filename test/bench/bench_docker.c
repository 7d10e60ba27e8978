/* Docker client throughput against a private engine (the test harness's
 * dockerd and busybox image). Prints "name: value unit" lines.
 *   docker_container_create_start_remove: full lifecycle of one container
 *   docker_container_inspect: GET /containers/{id}/json on a running one
 *   docker_exec_run: exec create + start + inspect of "true"
 * Figures depend on the machine and its load; they are for comparing
 * changes, not absolute targets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/clock.h"
#include "pkg/base/error.h"
#include "pkg/docker/docker.h"
#include "pkg/http/http.h"
#include "test/support/dockerd.h"

static const char *const sleeper[] = {
    "sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait", NULL};

static void die(const char *what)
{
    fprintf(stderr, "bench_docker: %s: %s\n", what, dtk_error_last()->message);
    exit(1);
}

int main(void)
{
    dtk_test_dockerd engine;
    dtk_docker *c = NULL;
    dtk_docker_options o = DTK_DOCKER_OPTIONS_INIT;
    dtk_docker_container_spec spec = DTK_DOCKER_CONTAINER_SPEC_INIT;
    dtk_docker_exec_spec es = DTK_DOCKER_EXEC_SPEC_INIT;
    static const char *const true_cmd[] = {"true", NULL};
    int64_t start, elapsed;
    int rc, n;
    char *id = NULL;

    dtk_http_global_init();
    start = dtk_clock_now_ms();
    rc = dtk_test_dockerd_start(&engine);
    if (rc != 0) {
        fprintf(stderr, "bench_docker: no engine%s%s\n", rc > 0 ? ": " : "",
                rc > 0 ? engine.skip_reason : "");
        return rc > 0 ? 0 : 1;
    }
    printf("docker_harness_start: %lld ms\n",
           (long long)(dtk_clock_now_ms() - start));
    o.host = engine.host;
    if (dtk_docker_new(&c, &o) < 0 || dtk_docker_ping(c) < 0) {
        die("client");
    }
    spec.image = engine.image;
    spec.cmd = sleeper;

    /* Lifecycle: at least 20 rounds and 3 s. */
    start = dtk_clock_now_ms();
    for (n = 0; n < 20 || dtk_clock_now_ms() - start < 3000; n++) {
        char *cid = NULL;

        if (dtk_docker_container_create(c, &cid, &spec) < 0 ||
            dtk_docker_container_start(c, cid) < 0 ||
            dtk_docker_container_remove(c, cid, 1) < 0) {
            die("lifecycle");
        }
        dtk_free(cid);
    }
    elapsed = dtk_clock_now_ms() - start;
    printf("docker_container_create_start_remove: %.1f containers/s\n",
           n * 1000.0 / (double)elapsed);

    if (dtk_docker_container_create(c, &id, &spec) < 0 ||
        dtk_docker_container_start(c, id) < 0) {
        die("start");
    }
    start = dtk_clock_now_ms();
    for (n = 0; n < 200 || dtk_clock_now_ms() - start < 2000; n++) {
        dtk_docker_container_info info = DTK_DOCKER_CONTAINER_INFO_INIT;

        if (dtk_docker_container_inspect(c, &info, id) < 0) {
            die("inspect");
        }
        dtk_docker_container_info_dispose(&info);
    }
    elapsed = dtk_clock_now_ms() - start;
    printf("docker_container_inspect: %.0f calls/s\n",
           n * 1000.0 / (double)elapsed);

    es.cmd = true_cmd;
    start = dtk_clock_now_ms();
    for (n = 0; n < 20 || dtk_clock_now_ms() - start < 2000; n++) {
        dtk_docker_output out = DTK_DOCKER_OUTPUT_INIT;
        int code = -1;

        if (dtk_docker_exec_run(c, &out, &code, id, &es) < 0 || code != 0) {
            die("exec");
        }
        dtk_docker_output_dispose(&out);
    }
    elapsed = dtk_clock_now_ms() - start;
    printf("docker_exec_run: %.1f execs/s\n", n * 1000.0 / (double)elapsed);

    if (dtk_docker_container_remove(c, id, 1) < 0) {
        die("remove");
    }
    dtk_free(id);
    dtk_docker_free(c);
    dtk_test_dockerd_stop(&engine);
    dtk_http_global_cleanup();
    return 0;
}

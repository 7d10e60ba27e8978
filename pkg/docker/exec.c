/* Exec: run a command in a running container (day-2 actions).
 *
 * Start is attached and without a TTY: the engine answers 200 and then
 * writes the multiplexed stream until the command's output ends, then closes
 * the connection, so libcurl reads the body to EOF. The exit code is read
 * with an inspect afterwards; the engine records it a moment after the
 * stream closes, so inspect is polled briefly until Running is false.
 */
#include "pkg/docker/docker_int.h"

#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/clock.h"
#include "pkg/base/error.h"

/* How long the exit code may lag behind the end of the output. */
#define EXIT_CODE_WAIT_MS 10000

int dtk_docker_exec_create(dtk_docker *client,
                           char **exec_id_out,
                           const char *container,
                           const dtk_docker_exec_spec *spec)
{
    dtk_buf path = DTK_BUF_INIT(0);
    dtk_buf w = DTK_BUF_INIT(0);
    dtk_json *body = NULL;
    dtk_docker__req req = DTK_DOCKER__REQ_INIT;
    int error = 0;

    *exec_id_out = NULL;
    if (container == NULL || container[0] == '\0' || spec->cmd == NULL ||
        spec->cmd[0] == NULL) {
        dtk_error_set(DTK_ERRCLASS_DOCKER,
                      "exec: a container and a command are required");
        return DTK_EINVALID;
    }
    (void)dtk_buf_printf(&w, "exec in container '%s'", container);
    body = dtk_json_new_object();
    dtk_json_set(body, "AttachStdin", dtk_json_new_bool(0));
    dtk_json_set(body, "AttachStdout", dtk_json_new_bool(1));
    dtk_json_set(body, "AttachStderr", dtk_json_new_bool(1));
    dtk_json_set(body, "Tty", dtk_json_new_bool(0));
    dtk_json_set(body, "Cmd", dtk_docker__string_array(spec->cmd));
    if (spec->env != NULL) {
        dtk_json_set(body, "Env", dtk_docker__string_array(spec->env));
    }
    if (spec->user != NULL) {
        dtk_json_set(body, "User", dtk_json_new_string(spec->user));
    }
    if (spec->working_dir != NULL) {
        dtk_json_set(body, "WorkingDir",
                     dtk_json_new_string(spec->working_dir));
    }
    error = dtk_buf_puts(&path, "/containers");
    if (error == 0) {
        error = dtk_docker__path_segment(&path, container);
    }
    if (error == 0) {
        error = dtk_buf_puts(&path, "/exec");
    }
    if (error < 0) {
        goto out;
    }
    req.method = "POST";
    req.path = dtk_buf_cstr(&path);
    req.body = body;
    req.what = dtk_buf_cstr(&w);
    error = dtk_docker__create(client, &req, exec_id_out);
out:
    dtk_json_free(body);
    dtk_buf_dispose(&path);
    dtk_buf_dispose(&w);
    return error;
}

int dtk_docker_exec_start(dtk_docker *client,
                          dtk_docker_output *out,
                          const char *exec_id,
                          long timeout_ms)
{
    dtk_buf path = DTK_BUF_INIT(0);
    dtk_buf w = DTK_BUF_INIT(0);
    dtk_json *body = dtk_json_new_object();
    dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;
    dtk_docker__req req = DTK_DOCKER__REQ_INIT;
    dtk_docker__collect collect;
    int error;

    memset(&collect, 0, sizeof(collect));
    collect.out = out;
    (void)dtk_buf_printf(&w, "start exec '%s'", exec_id);
    dtk_json_set(body, "Detach", dtk_json_new_bool(0));
    dtk_json_set(body, "Tty", dtk_json_new_bool(0));
    error = dtk_buf_puts(&path, "/exec");
    if (error == 0) {
        error = dtk_docker__path_segment(&path, exec_id);
    }
    if (error == 0) {
        error = dtk_buf_puts(&path, "/start");
    }
    if (error < 0) {
        goto out;
    }
    req.method = "POST";
    req.path = dtk_buf_cstr(&path);
    req.body = body;
    req.timeout_ms = timeout_ms;
    req.what = dtk_buf_cstr(&w);
    error = dtk_docker__stream(client, &req, &resp, dtk_docker__collect_cb,
                               &collect);
    if (error == 0 && collect.bad_stream) {
        dtk_error_prefix("%s", dtk_buf_cstr(&w));
        error = DTK_ERROR;
    } else if (error == 0) {
        error = dtk_docker_demux_finish(&collect.demux);
        if (error < 0) {
            dtk_error_prefix("%s", dtk_buf_cstr(&w));
            error = DTK_ERROR;
        }
    }
out:
    dtk_json_free(body);
    dtk_http_response_dispose(&resp);
    dtk_buf_dispose(&path);
    dtk_buf_dispose(&w);
    return error;
}

int dtk_docker_exec_inspect(dtk_docker *client,
                            int *running_out,
                            int *exit_code_out,
                            const char *exec_id)
{
    dtk_buf path = DTK_BUF_INIT(0);
    dtk_buf w = DTK_BUF_INIT(0);
    dtk_json *doc = NULL;
    dtk_docker__req req = DTK_DOCKER__REQ_INIT;
    const dtk_json *running;
    int64_t code;
    int error;

    *running_out = 0;
    *exit_code_out = -1;
    (void)dtk_buf_printf(&w, "inspect exec '%s'", exec_id);
    error = dtk_buf_puts(&path, "/exec");
    if (error == 0) {
        error = dtk_docker__path_segment(&path, exec_id);
    }
    if (error == 0) {
        error = dtk_buf_puts(&path, "/json");
    }
    if (error < 0) {
        goto out;
    }
    req.method = "GET";
    req.path = dtk_buf_cstr(&path);
    req.what = dtk_buf_cstr(&w);
    error = dtk_docker__call_json(client, &req, &doc);
    if (error < 0) {
        goto out;
    }
    running = dtk_json_get(doc, "Running");
    if (running == NULL || running->type != DTK_JSON_BOOL) {
        dtk_error_set(DTK_ERRCLASS_DOCKER, "%s: engine response has no Running",
                      dtk_buf_cstr(&w));
        error = DTK_ERROR;
        goto out;
    }
    *running_out = running->u.boolean;
    if (!*running_out &&
        dtk_json_int(&code, dtk_json_get(doc, "ExitCode")) == 0) {
        *exit_code_out = (int)code;
    }
    dtk_error_clear();
out:
    dtk_json_free(doc);
    dtk_buf_dispose(&path);
    dtk_buf_dispose(&w);
    return error;
}

int dtk_docker_exec_run(dtk_docker *client,
                        dtk_docker_output *out,
                        int *exit_code_out,
                        const char *container,
                        const dtk_docker_exec_spec *spec)
{
    char *exec_id = NULL;
    int running = 1;
    int64_t deadline;
    int64_t pause_ms = 5;
    int error;

    *exit_code_out = -1;
    error = dtk_docker_exec_create(client, &exec_id, container, spec);
    if (error < 0) {
        goto out;
    }
    error = dtk_docker_exec_start(client, out, exec_id, spec->timeout_ms);
    if (error < 0) {
        goto out;
    }
    deadline = dtk_clock_now_ms() + EXIT_CODE_WAIT_MS;
    for (;;) {
        error =
            dtk_docker_exec_inspect(client, &running, exit_code_out, exec_id);
        if (error < 0 || !running) {
            break;
        }
        if (dtk_clock_now_ms() >= deadline) {
            dtk_error_set(DTK_ERRCLASS_DOCKER,
                          "exec in container '%s': output ended but the "
                          "command still runs after %d ms",
                          container, EXIT_CODE_WAIT_MS);
            error = DTK_ETIMEOUT;
            break;
        }
        dtk_clock_sleep_ms(pause_ms);
        pause_ms = pause_ms < 200 ? pause_ms * 2 : 200;
    }
out:
    dtk_free(exec_id);
    return error;
}

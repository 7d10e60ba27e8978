/* The test broker as a child process (see broker.h). */
#include "test/support/broker.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/clock.h"
#include "pkg/base/error.h"
#include "pkg/http/http.h"

#define START_TIMEOUT_MS   60000
#define INSTALL_TIMEOUT_MS 300000

struct dtk_test_broker {
    pid_t pid;
    int port;
    char dir[64];
    char port_file[96];
    char log_file[96];
    char url[64];
    char password[40];
    dtk_http_client *http;
};

/* n-1 random hex digits (not secret beyond the test run). */
static void random_hex(char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[32];
    int fd = open("/dev/urandom", O_RDONLY);
    ssize_t got = fd >= 0 ? read(fd, b, sizeof(b)) : -1;
    size_t i;

    if (fd >= 0) {
        close(fd);
    }
    if (got != (ssize_t)sizeof(b)) {
        int64_t t = dtk_clock_now_ms() ^ ((int64_t)getpid() << 20);

        for (i = 0; i < sizeof(b); i++) {
            b[i] = (unsigned char)(t >> (i % 8 * 8)) ^ (unsigned char)i;
        }
    }
    for (i = 0; i + 1 < n && i < 2 * sizeof(b); i++) {
        out[i] = hex[(i % 2 ? b[i / 2] : b[i / 2] >> 4) & 15];
    }
    out[i] = '\0';
}

/* Waits for pid up to timeout_ms; returns its exit status or -1. */
static int wait_child(pid_t pid, int64_t timeout_ms)
{
    int64_t deadline = dtk_clock_now_ms() + timeout_ms;
    int status;

    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);

        if (r == pid) {
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
        }
        if (r < 0 && errno != EINTR) {
            return -1;
        }
        if (dtk_clock_now_ms() > deadline) {
            return -1;
        }
        dtk_clock_sleep_ms(20);
    }
}

static void dump_log(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[512];

    if (f == NULL) {
        return;
    }
    fprintf(stderr, "--- test broker log (%s) ---\n", path);
    while (fgets(line, sizeof(line), f) != NULL) {
        fputs(line, stderr);
    }
    fclose(f);
}

static int ensure_installed(void)
{
    pid_t pid = fork();
    int rc;

    if (pid < 0) {
        dtk_error_set(DTK_ERRCLASS_OS, "fork");
        return DTK_EUNAVAIL;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execlp("sh", "sh", "test/broker/ensure.sh", (char *)NULL);
        _exit(127);
    }
    rc = wait_child(pid, INSTALL_TIMEOUT_MS);
    if (rc != 0) {
        if (rc < 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
        dtk_error_set(DTK_ERRCLASS_NONE,
                      "test broker: npm packages could not be installed "
                      "(test/broker/ensure.sh exit %d)",
                      rc);
        return DTK_EUNAVAIL;
    }
    return 0;
}

static int read_port(const char *path)
{
    FILE *f = fopen(path, "r");
    int port = 0;

    if (f == NULL) {
        return 0;
    }
    if (fscanf(f, "%d", &port) != 1) {
        port = 0;
    }
    fclose(f);
    return port;
}

static void child_exec(const dtk_test_broker *b,
                       const dtk_test_broker_options *o,
                       pid_t parent)
{
    char ppid[24];
    const char *argv[16];
    int n = 0;
    int fd;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
        _exit(1); /* the parent died before prctl */
    }
    fd = open(b->log_file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    setenv("DTK_BROKER_PASSWORD", b->password, 1);
    if (o->bearer_token != NULL) {
        setenv("DTK_BROKER_TOKEN", o->bearer_token, 1);
    }
    snprintf(ppid, sizeof(ppid), "%ld", (long)parent);
    argv[n++] = "node";
    argv[n++] = "test/broker/server.js";
    argv[n++] = "--port";
    argv[n++] = "0";
    argv[n++] = "--port-file";
    argv[n++] = b->port_file;
    argv[n++] = "--parent-pid";
    argv[n++] = ppid;
    if (o->tls_cert != NULL && o->tls_key != NULL) {
        argv[n++] = "--tls-cert";
        argv[n++] = o->tls_cert;
        argv[n++] = "--tls-key";
        argv[n++] = o->tls_key;
    }
    argv[n] = NULL;
    execvp(getenv("DTK_NODE") ? getenv("DTK_NODE") : "node",
           (char *const *)argv);
    _exit(127);
}

static int health(dtk_test_broker *b)
{
    char url[96];
    dtk_http_request req = DTK_HTTP_REQUEST_INIT;
    dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;
    int ok;

    snprintf(url, sizeof(url), "%s/health", b->url);
    req.method = "GET";
    req.url = url;
    req.timeout_ms = 2000;
    ok = dtk_http_do(b->http, &req, &resp) == 0 && resp.status == 200;
    dtk_http_response_dispose(&resp);
    dtk_error_clear();
    return ok;
}

int dtk_test_broker_start(dtk_test_broker **out,
                          const dtk_test_broker_options *options)
{
    dtk_test_broker_options dflt = DTK_TEST_BROKER_OPTIONS_INIT;
    dtk_http_client_options ho = DTK_HTTP_CLIENT_OPTIONS_INIT;
    dtk_test_broker *b = NULL;
    int64_t deadline;
    pid_t parent;
    int error;

    *out = NULL;
    if (options == NULL) {
        options = &dflt;
    }
    if ((error = ensure_installed()) < 0) {
        return error;
    }
    b = dtk_calloc(1, sizeof(*b));
    snprintf(b->dir, sizeof(b->dir), "/tmp/dtk-broker-XXXXXX");
    if (mkdtemp(b->dir) == NULL) {
        dtk_error_set(DTK_ERRCLASS_OS, "mkdtemp");
        dtk_free(b);
        return DTK_ERROR;
    }
    snprintf(b->port_file, sizeof(b->port_file), "%s/port", b->dir);
    snprintf(b->log_file, sizeof(b->log_file), "%s/broker.log", b->dir);
    memcpy(b->password, "pw-", 3);
    random_hex(b->password + 3, sizeof(b->password) - 3);
    ho.insecure_skip_verify = options->tls_cert != NULL;
    error = dtk_http_client_new(&b->http, &ho);
    if (error < 0) {
        goto fail;
    }
    parent = getpid();
    b->pid = fork();
    if (b->pid < 0) {
        dtk_error_set(DTK_ERRCLASS_OS, "fork");
        error = DTK_EUNAVAIL;
        goto fail;
    }
    if (b->pid == 0) {
        child_exec(b, options, parent);
    }
    deadline = dtk_clock_now_ms() + START_TIMEOUT_MS;
    while (b->port == 0) {
        if (waitpid(b->pid, NULL, WNOHANG) == b->pid) {
            b->pid = 0;
            dtk_error_set(DTK_ERRCLASS_NONE, "test broker exited at start");
            error = DTK_EUNAVAIL;
            goto fail;
        }
        if (dtk_clock_now_ms() > deadline) {
            dtk_error_set(DTK_ERRCLASS_NONE,
                          "test broker did not start within %d s",
                          START_TIMEOUT_MS / 1000);
            error = DTK_EUNAVAIL;
            goto fail;
        }
        b->port = read_port(b->port_file);
        if (b->port == 0) {
            dtk_clock_sleep_ms(25);
        }
    }
    snprintf(b->url, sizeof(b->url), "%s://127.0.0.1:%d",
             options->tls_cert ? "https" : "http", b->port);
    while (!health(b)) {
        if (dtk_clock_now_ms() > deadline) {
            dtk_error_set(DTK_ERRCLASS_NONE, "test broker is not healthy");
            error = DTK_EUNAVAIL;
            goto fail;
        }
        dtk_clock_sleep_ms(25);
    }
    *out = b;
    return 0;
fail:
    dump_log(b->log_file);
    dtk_test_broker_stop(b);
    return error;
}

void dtk_test_broker_stop(dtk_test_broker *b)
{
    if (b == NULL) {
        return;
    }
    if (b->pid > 0) {
        kill(b->pid, SIGTERM);
        if (wait_child(b->pid, 5000) < 0) {
            kill(b->pid, SIGKILL);
            waitpid(b->pid, NULL, 0);
        }
    }
    dtk_http_client_free(b->http);
    unlink(b->port_file);
    unlink(b->log_file);
    rmdir(b->dir);
    dtk_free(b);
}

const char *dtk_test_broker_url(const dtk_test_broker *b)
{
    return b->url;
}

const char *dtk_test_broker_username(const dtk_test_broker *b)
{
    (void)b;
    return "broker";
}

const char *dtk_test_broker_password(const dtk_test_broker *b)
{
    return b->password;
}

int dtk_test_broker_call(dtk_test_broker *b,
                         const char *method,
                         const char *path,
                         const char *body,
                         dtk_json **out)
{
    static const char *const headers[] = {"Content-Type: application/json",
                                          NULL};
    dtk_buf url = DTK_BUF_INIT(0);
    dtk_http_request req = DTK_HTTP_REQUEST_INIT;
    dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;
    int error;

    if (out != NULL) {
        *out = NULL;
    }
    (void)dtk_buf_printf(&url, "%s%s", b->url, path);
    req.method = method;
    req.url = dtk_buf_cstr(&url);
    req.headers = headers;
    req.body = body;
    req.body_len = body ? strlen(body) : 0;
    req.timeout_ms = 10000;
    req.response_limit = 64 * 1024 * 1024;
    error = dtk_http_do(b->http, &req, &resp);
    if (error == 0 && resp.status != 200) {
        dtk_error_set(DTK_ERRCLASS_NONE, "%s %s: status %ld", method, path,
                      resp.status);
        error = DTK_ERROR;
    }
    if (error == 0 && out != NULL) {
        error = dtk_json_parse(out, resp.body.ptr, resp.body.len);
    }
    dtk_http_response_dispose(&resp);
    dtk_buf_dispose(&url);
    return error;
}

int dtk_test_broker_reset(dtk_test_broker *b)
{
    return dtk_test_broker_call(b, "POST", "/test/reset", "{}", NULL);
}

int dtk_test_broker_fault(dtk_test_broker *b, const char *rule_json)
{
    return dtk_test_broker_call(b, "POST", "/test/faults", rule_json, NULL);
}

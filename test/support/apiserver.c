#define _DEFAULT_SOURCE /* mkdtemp */
#define _XOPEN_SOURCE 700 /* nftw */
#include "test/support/apiserver.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pkg/base/clock.h"
#include "pkg/http/http.h"

void dtk_test_bin(char *out, size_t size, const char *name)
{
    const char *bin = getenv("DTK_BIN");

    snprintf(out, size, "%s/%s", bin && *bin ? bin : "build/bin", name);
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

static int healthy(const char *url, int tls)
{
    dtk_http_client *c = NULL;
    dtk_http_client_options o = DTK_HTTP_CLIENT_OPTIONS_INIT;
    dtk_http_request req = DTK_HTTP_REQUEST_INIT;
    dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;
    char u[128];
    int ok;

    snprintf(u, sizeof(u), "%s/healthz", url);
    o.timeout_ms = 1000;
    o.insecure_skip_verify = tls; /* only to see that it is up */
    if (dtk_http_client_new(&c, &o) < 0) {
        return 0;
    }
    req.method = "GET";
    req.url = u;
    ok = dtk_http_do(c, &req, &resp) == 0 && resp.status == 200;
    dtk_http_response_dispose(&resp);
    dtk_http_client_free(c);
    return ok;
}

static int spawn(dtk_test_apiserver *a, const char *const *args)
{
    char bin[512], portfile[320];
    const char *argv[64];
    size_t n = 0;
    int64_t deadline;
    int tls = 0;

    dtk_test_bin(bin, sizeof(bin), "dtk-apiserver");
    snprintf(portfile, sizeof(portfile), "%s/port", a->dir);
    snprintf(a->kubeconfig, sizeof(a->kubeconfig), "%s/kubeconfig", a->dir);
    snprintf(a->log, sizeof(a->log), "%s/apiserver.log", a->dir);
    unlink(portfile);
    argv[n++] = bin;
    argv[n++] = "--port";
    argv[n++] = "0";
    argv[n++] = "--port-file";
    argv[n++] = portfile;
    argv[n++] = "--kubeconfig-out";
    argv[n++] = a->kubeconfig;
    for (size_t i = 0; args != NULL && args[i] != NULL && n < 62; i++) {
        argv[n++] = args[i];
        tls |= strcmp(args[i], "--tls-cert-file") == 0;
    }
    argv[n] = NULL;
    a->pid = fork();
    if (a->pid < 0) {
        perror("fork");
        return -1;
    }
    if (a->pid == 0) {
        int fd = open(a->log, O_WRONLY | O_CREAT | O_APPEND, 0600);

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (fd >= 0) {
            dup2(fd, STDERR_FILENO);
            dup2(fd, STDOUT_FILENO);
            close(fd);
        }
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    deadline = dtk_clock_now_ms() + 15000;
    while (dtk_clock_now_ms() < deadline) {
        int status;

        if (waitpid(a->pid, &status, WNOHANG) == a->pid) {
            fprintf(stderr, "dtk-apiserver exited early (status %d); log %s\n",
                    status, a->log);
            a->pid = 0;
            return -1;
        }
        a->port = read_port(portfile);
        if (a->port > 0) {
            snprintf(a->url, sizeof(a->url), "%s://127.0.0.1:%d",
                     tls ? "https" : "http", a->port);
            if (healthy(a->url, tls)) {
                return 0;
            }
        }
        dtk_clock_sleep_ms(20);
    }
    fprintf(stderr, "dtk-apiserver did not become healthy; log %s\n", a->log);
    dtk_test_apiserver_kill(a);
    return -1;
}

int dtk_test_apiserver_start(dtk_test_apiserver *a, const char *const *args)
{
    memset(a, 0, sizeof(*a));
    snprintf(a->dir, sizeof(a->dir), "/tmp/dtk-apiserver-test-XXXXXX");
    if (mkdtemp(a->dir) == NULL) {
        perror("mkdtemp");
        return -1;
    }
    return spawn(a, args);
}

int dtk_test_apiserver_restart(dtk_test_apiserver *a, const char *const *args)
{
    return spawn(a, args);
}

static void stop_with(dtk_test_apiserver *a, int sig, int64_t grace_ms)
{
    int64_t deadline;

    if (a->pid <= 0) {
        return;
    }
    kill(a->pid, sig);
    deadline = dtk_clock_now_ms() + grace_ms;
    while (dtk_clock_now_ms() < deadline) {
        if (waitpid(a->pid, NULL, WNOHANG) == a->pid) {
            a->pid = 0;
            return;
        }
        dtk_clock_sleep_ms(10);
    }
    kill(a->pid, SIGKILL);
    waitpid(a->pid, NULL, 0);
    a->pid = 0;
}

void dtk_test_apiserver_stop(dtk_test_apiserver *a)
{
    stop_with(a, SIGTERM, 5000);
}

void dtk_test_apiserver_kill(dtk_test_apiserver *a)
{
    stop_with(a, SIGKILL, 5000);
}

static int remove_entry(const char *path, const struct stat *sb, int flag,
                        struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void dtk_test_apiserver_dispose(dtk_test_apiserver *a)
{
    dtk_test_apiserver_stop(a);
    if (a->dir[0] != '\0' && getenv("DTK_KEEP_TEST_DIRS") == NULL) {
        nftw(a->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
}

#include "test/support/dockerd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/clock.h"

#define SCRIPT "test/integration/lib/dockerd.sh"
/* Generous: dockerd, certificates and the image import take ~3 s on an idle
 * 2-core VM. */
#define START_TIMEOUT_MS 120000
#define STOP_TIMEOUT_MS  60000

static void copy(char *out, size_t size, const char *s)
{
    size_t n = strlen(s);

    if (n >= size) {
        n = size - 1;
    }
    memcpy(out, s, n);
    out[n] = '\0';
}

static char *read_pem(const char *dir, const char *name)
{
    dtk_buf path = DTK_BUF_INIT(0);
    dtk_buf text = DTK_BUF_INIT((size_t)1024 * 1024);
    char chunk[4096];
    FILE *f;
    size_t n;

    if (dtk_buf_printf(&path, "%s/%s", dir, name) < 0) {
        dtk_buf_dispose(&path);
        return NULL;
    }
    f = fopen(dtk_buf_cstr(&path), "r");
    dtk_buf_dispose(&path);
    if (f == NULL) {
        return NULL;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (dtk_buf_put(&text, chunk, n) < 0) {
            break;
        }
    }
    fclose(f);
    return dtk_buf_detach(&text);
}

static const char *script_path(char *out, size_t size)
{
    const char *src = getenv("DTK_SRCDIR");

    if (src != NULL && src[0] != '\0') {
        snprintf(out, size, "%s/%s", src, SCRIPT);
    } else {
        copy(out, size, SCRIPT);
    }
    return access(out, R_OK) == 0 ? out : NULL;
}

/* Reads one line from fd into line (without '\n') before deadline.
 * Returns 1 for a line, 0 at end of file, -1 on timeout or error. */
static int read_line(int fd, char *line, size_t size, int64_t deadline)
{
    size_t n = 0;

    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        int64_t left = deadline - dtk_clock_now_ms();
        char ch;
        ssize_t r;

        if (left <= 0) {
            return -1;
        }
        if (poll(&p, 1, (int)(left > 1000 ? 1000 : left)) < 0 &&
            errno != EINTR) {
            return -1;
        }
        if (p.revents == 0) {
            continue;
        }
        r = read(fd, &ch, 1);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return 0;
        }
        if (ch == '\n') {
            line[n] = '\0';
            return 1;
        }
        if (n + 1 < size) {
            line[n++] = ch;
        }
    }
}

static void wait_guardian(dtk_test_dockerd *d, int64_t timeout_ms)
{
    int64_t deadline = dtk_clock_now_ms() + timeout_ms;

    if (d->guardian <= 0) {
        return;
    }
    while (dtk_clock_now_ms() < deadline) {
        pid_t r = waitpid(d->guardian, NULL, WNOHANG);

        if (r == d->guardian || (r < 0 && errno == ECHILD)) {
            d->guardian = 0;
            return;
        }
        dtk_clock_sleep_ms(50);
    }
    fprintf(stderr,
            "dockerd harness: guardian %d did not finish in %lld "
            "ms; killing it and dockerd %d\n",
            (int)d->guardian, (long long)timeout_ms, (int)d->dockerd_pid);
    kill(d->guardian, SIGKILL);
    waitpid(d->guardian, NULL, 0);
    if (d->dockerd_pid > 0) {
        kill(d->dockerd_pid, SIGKILL);
    }
    d->guardian = 0;
}

int dtk_test_dockerd_start(dtk_test_dockerd *d)
{
    char script[512];
    char line[1024];
    char tls_dir[320] = "";
    int in[2] = {-1, -1};
    int out[2] = {-1, -1};
    int64_t deadline;
    int rc;
    pid_t parent = getpid();

    memset(d, 0, sizeof(*d));
    d->control_fd = -1;
    d->report_fd = -1;
    if (script_path(script, sizeof(script)) == NULL) {
        fprintf(stderr,
                "dockerd harness: %s not found (run from the "
                "repository root or set DTK_SRCDIR)\n",
                SCRIPT);
        return -1;
    }
    if (pipe(in) < 0 || pipe(out) < 0) {
        perror("dockerd harness: pipe");
        goto fail;
    }
    d->guardian = fork();
    if (d->guardian < 0) {
        perror("dockerd harness: fork");
        d->guardian = 0;
        goto fail;
    }
    if (d->guardian == 0) {
        /* SIGTERM lets the script's trap tear down; the closed pipe alone
         * would also do it. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) {
            _exit(1);
        }
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execl("/bin/bash", "bash", script, "serve", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    d->control_fd = in[1];
    d->report_fd = out[0];
    fcntl(d->control_fd, F_SETFD, FD_CLOEXEC);
    fcntl(d->report_fd, F_SETFD, FD_CLOEXEC);
    deadline = dtk_clock_now_ms() + START_TIMEOUT_MS;
    while ((rc = read_line(d->report_fd, line, sizeof(line), deadline)) == 1) {
        char *eq = strchr(line, '=');
        const char *v = eq != NULL ? eq + 1 : "";

        if (strcmp(line, "ready") == 0) {
            break;
        }
        if (eq == NULL) {
            continue;
        }
        *eq = '\0';
        if (strcmp(line, "skip") == 0) {
            copy(d->skip_reason, sizeof(d->skip_reason), v);
        } else if (strcmp(line, "dir") == 0) {
            copy(d->dir, sizeof(d->dir), v);
        } else if (strcmp(line, "host") == 0) {
            copy(d->host, sizeof(d->host), v);
        } else if (strcmp(line, "tls_host") == 0) {
            copy(d->tls_host, sizeof(d->tls_host), v);
        } else if (strcmp(line, "tls_dir") == 0) {
            copy(tls_dir, sizeof(tls_dir), v);
        } else if (strcmp(line, "image") == 0) {
            copy(d->image, sizeof(d->image), v);
        } else if (strcmp(line, "pid") == 0) {
            d->dockerd_pid = (pid_t)strtol(v, NULL, 10);
        }
    }
    if (d->skip_reason[0] != '\0') {
        dtk_test_dockerd_stop(d);
        fprintf(stderr, "dockerd harness: dockerd cannot run here: %s\n",
                d->skip_reason);
        if (getenv("DTK_REQUIRE_DOCKERD") != NULL) {
            return -1;
        }
        return 1;
    }
    if (rc != 1) {
        fprintf(stderr, "dockerd harness: %s\n",
                rc < 0 ? "no report from dockerd.sh within the start timeout"
                       : "dockerd.sh ended without a report");
        goto fail;
    }
    d->ca_pem = read_pem(tls_dir, "ca.pem");
    d->cert_pem = read_pem(tls_dir, "cert.pem");
    d->key_pem = read_pem(tls_dir, "key.pem");
    d->wrong_ca_pem = read_pem(tls_dir, "wrong-ca.pem");
    d->wrong_cert_pem = read_pem(tls_dir, "wrong-cert.pem");
    d->wrong_key_pem = read_pem(tls_dir, "wrong-key.pem");
    if (d->host[0] == '\0' || d->image[0] == '\0' || d->ca_pem == NULL ||
        d->cert_pem == NULL || d->key_pem == NULL || d->wrong_ca_pem == NULL ||
        d->wrong_cert_pem == NULL || d->wrong_key_pem == NULL) {
        fprintf(stderr, "dockerd harness: incomplete report from "
                        "dockerd.sh\n");
        goto fail;
    }
    return 0;
fail:
    if (in[0] >= 0 && d->control_fd < 0) {
        close(in[0]);
        close(in[1]);
    }
    if (out[0] >= 0 && d->report_fd < 0) {
        close(out[0]);
        close(out[1]);
    }
    dtk_test_dockerd_stop(d);
    return -1;
}

void dtk_test_dockerd_stop(dtk_test_dockerd *d)
{
    if (d->control_fd >= 0) {
        close(d->control_fd); /* end of input: the guardian tears down */
        d->control_fd = -1;
    }
    wait_guardian(d, STOP_TIMEOUT_MS);
    if (d->report_fd >= 0) {
        close(d->report_fd);
        d->report_fd = -1;
    }
    dtk_free(d->ca_pem);
    dtk_free(d->cert_pem);
    dtk_free(d->key_pem);
    dtk_free(d->wrong_ca_pem);
    dtk_free(d->wrong_cert_pem);
    dtk_free(d->wrong_key_pem);
    d->ca_pem = d->cert_pem = d->key_pem = NULL;
    d->wrong_ca_pem = d->wrong_cert_pem = d->wrong_key_pem = NULL;
}

/* Test harness: a private Docker Engine for one test binary.
 * Thread-safety: none; start and stop from the main thread.
 *
 * It runs test/integration/lib/dockerd.sh in "serve" mode as a guardian
 * process: the script starts dockerd (own socket, data root, exec root,
 * bridge, and a TLS listener on 127.0.0.1 with certificates it generates),
 * imports a busybox test image, reports, and then waits for its stdin to
 * close. Closing that pipe (dtk_test_dockerd_stop) or the test process dying
 * in any way (the pipe closes; PR_SET_PDEATHSIG sends SIGTERM as well) makes
 * it stop dockerd by PID and remove everything it created.
 */
#ifndef DTK_TEST_SUPPORT_DOCKERD_H
#define DTK_TEST_SUPPORT_DOCKERD_H

#include <sys/types.h>

typedef struct dtk_test_dockerd {
    pid_t guardian; /* the bash process; 0 when not running */
    int control_fd; /* its stdin; closing it stops everything */
    int report_fd;  /* its stdout */
    pid_t dockerd_pid;
    char dir[256];     /* private temporary directory */
    char host[320];    /* "unix://<dir>/docker.sock" */
    char tls_host[64]; /* "tcp://127.0.0.1:<port>" (--tlsverify) */
    char image[128];   /* the busybox test image */
    /* PEM text (owned): the CA the engine's certificate chains to and a
     * client identity it accepts; then an unrelated CA and an identity
     * signed by it, for the failure cases. */
    char *ca_pem;
    char *cert_pem;
    char *key_pem;
    char *wrong_ca_pem;
    char *wrong_cert_pem;
    char *wrong_key_pem;
    char skip_reason[512];
} dtk_test_dockerd;

/* Returns 0 when the engine is up; 1 when dockerd cannot run on this
 * machine (d->skip_reason says why, e.g. not root); -1 when the harness
 * itself failed (message on stderr). With DTK_REQUIRE_DOCKERD=1 in the
 * environment a skip is reported as -1. */
int dtk_test_dockerd_start(dtk_test_dockerd *d);

/* Stops dockerd and removes its files; waits up to 60 s. Safe to call
 * after a failed or skipped start. */
void dtk_test_dockerd_stop(dtk_test_dockerd *d);

#endif

/* Test harness: runs build/bin/dtk-apiserver as a child process on a free
 * 127.0.0.1 port and stops it by PID (also when the test process dies:
 * PR_SET_PDEATHSIG). Thread-safety: none. */
#ifndef DTK_TEST_SUPPORT_APISERVER_H
#define DTK_TEST_SUPPORT_APISERVER_H

#include <sys/types.h>

typedef struct dtk_test_apiserver {
    pid_t pid;
    int port;
    char dir[256];        /* private temp dir: port file, kubeconfig, logs */
    char url[64];         /* "http://127.0.0.1:PORT" (https with TLS) */
    char kubeconfig[320]; /* written by the server (--kubeconfig-out) */
    char log[320];        /* the server's stderr */
} dtk_test_apiserver;

/* Starts the server with extra flags (NULL-terminated, may be NULL) and waits
 * until /healthz answers. Returns 0, or -1 with a message on stderr. */
int dtk_test_apiserver_start(dtk_test_apiserver *a, const char *const *args);

/* Same, reusing a->dir (for restart tests with --data-dir inside it). */
int dtk_test_apiserver_restart(dtk_test_apiserver *a, const char *const *args);

/* SIGTERM, wait up to 5 s, then SIGKILL. Keeps the directory. */
void dtk_test_apiserver_stop(dtk_test_apiserver *a);

/* SIGKILL, no grace. */
void dtk_test_apiserver_kill(dtk_test_apiserver *a);

/* Stops the server if running and removes its directory. */
void dtk_test_apiserver_dispose(dtk_test_apiserver *a);

/* Path of a bin/ program: $DTK_BIN/name or build/bin/name. */
void dtk_test_bin(char *out, size_t size, const char *name);

#endif

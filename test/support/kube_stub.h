/* A stub Kubernetes API server for pkg/kube unit tests: a real HTTP(S)
 * server (pkg/httpserver on 127.0.0.1, free port) whose answers come from a
 * per-test scenario function, plus a log of what the client sent. Also temp
 * directory helpers.
 * Thread-safety: the scenario runs on the server's connection threads; the
 * log is guarded by the stub's lock (use dtk_kstub_lock/unlock to read it
 * while requests may be in flight).
 */
#ifndef DTK_TEST_KUBE_STUB_H
#define DTK_TEST_KUBE_STUB_H

#include <pthread.h>

#include "pkg/base/buf.h"
#include "pkg/httpserver/server.h"

typedef struct dtk_kstub dtk_kstub;

/* hit: 0-based number of this request. */
typedef void (*dtk_kstub_fn)(dtk_kstub *s,
                             dtk_httpserver_exchange *ex,
                             int hit,
                             void *payload);

struct dtk_kstub {
    dtk_httpserver *server;
    pthread_mutex_t lock;
    dtk_kstub_fn fn;
    void *payload;
    int port;
    char base[80]; /* "http://127.0.0.1:port" or https */
    /* Log, under lock. */
    int hits;
    char method[16];
    char path[512];
    char query[1024]; /* known parameters, "k=v&k=v" */
    char auth[1024];  /* Authorization of the last request */
    char content_type[128];
    char impersonate[256]; /* Impersonate-User */
    char user_agent[128];
    dtk_buf body;        /* last request body */
    dtk_buf auth_log;    /* every Authorization, '|' separated */
    dtk_buf request_log; /* "METHOD path?query\n" per request */
};

/* cert_pem/key_pem NULL: plain HTTP. */
int dtk_kstub_start(dtk_kstub **out,
                    const char *cert_pem,
                    const char *key_pem,
                    dtk_kstub_fn fn,
                    void *payload);
void dtk_kstub_stop(dtk_kstub *s);
int dtk_kstub_hits(dtk_kstub *s);

/* Answers with a real metav1.Status body. */
void dtk_kstub_status(dtk_httpserver_exchange *ex,
                      int code,
                      const char *reason,
                      const char *message);
void dtk_kstub_json(dtk_httpserver_exchange *ex, int code, const char *json);
/* A ConfigMap named name whose data echoes what the request carried. */
void dtk_kstub_configmap(dtk_httpserver_exchange *ex, const char *name);

/* A fresh directory under $TMPDIR or /tmp; free with dtk_kstub_rmdir. */
char *dtk_kstub_tmpdir(void);
void dtk_kstub_rmdir(char *dir);
/* Writes dir/name (parents created); returns the path (dtk_free). */
char *dtk_kstub_write(const char *dir, const char *name, const char *content);
/* Reads a whole file; NULL when missing (dtk_free). */
char *dtk_kstub_read(const char *path);

#endif

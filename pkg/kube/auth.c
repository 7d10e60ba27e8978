/* Credentials that change while the process runs (see kube_int.h):
 *
 *  - a bearer token file (in-cluster projected tokens rotate about hourly;
 *    client-go re-reads the file every minute): re-read every reload_ms and
 *    when a 401 condemned the token; a failed re-read keeps the last token;
 *  - an exec credential plugin (client.authentication.k8s.io): run when
 *    there are no credentials yet, when they expired
 *    (status.expirationTimestamp), and after a 401.
 *
 * Only one thread refreshes at a time; the others wait on a condition
 * variable. The file read or the plugin run itself happens without the lock
 * held, so no thread blocks on I/O inside a lock.
 *
 * The plugin runs through posix_spawn (safe in a threaded process) with
 * stdin from /dev/null (an operator is never interactive), our environment
 * plus the plugin's env entries plus KUBERNETES_EXEC_INFO, and stderr
 * inherited, as kubectl does, so the plugin can explain itself. Its stdout
 * is read with a deadline and a size bound and is never quoted in errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/clock.h"
#include "pkg/base/error.h"
#include "pkg/base/log.h"
#include "pkg/json/json.h"
#include "pkg/kube/kube_int.h"

extern char **environ;

#define EXEC_OUTPUT_LIMIT ((size_t)1024 * 1024)

void dtk_kube__auth_init(dtk_kube__auth *auth)
{
    pthread_mutex_init(&auth->lock, NULL);
    pthread_cond_init(&auth->cond, NULL);
}

void dtk_kube__exec_free(dtk_kube__exec *exec)
{
    if (exec == NULL) {
        return;
    }
    dtk_free(exec->command);
    for (size_t i = 0; exec->argv != NULL && exec->argv[i] != NULL; i++) {
        dtk_free(exec->argv[i]);
    }
    dtk_free(exec->argv);
    for (size_t i = 0; exec->env != NULL && exec->env[i] != NULL; i++) {
        dtk_kube__free_secret(exec->env[i]);
    }
    dtk_free(exec->env);
    dtk_free(exec->api_version);
    dtk_free(exec->install_hint);
    dtk_free(exec->exec_info);
    dtk_free(exec);
}

void dtk_kube__auth_dispose(dtk_kube__auth *auth)
{
    dtk_kube__free_secret(auth->token);
    dtk_free(auth->token_file);
    dtk_kube__exec_free(auth->exec);
    dtk_free(auth->cert_pem);
    dtk_kube__free_secret(auth->key_pem);
    pthread_mutex_destroy(&auth->lock);
    pthread_cond_destroy(&auth->cond);
}

void dtk_kube__cred_dispose(dtk_kube__cred *cred)
{
    dtk_kube__free_secret(cred->token);
    dtk_free(cred->cert_pem);
    dtk_kube__free_secret(cred->key_pem);
    memset(cred, 0, sizeof(*cred));
}

/* What a refresh produced. */
typedef struct fresh {
    char *token;
    char *cert_pem;
    char *key_pem;
    time_t expiry;
    int has_expiry;
} fresh;

static void fresh_dispose(fresh *f)
{
    dtk_kube__free_secret(f->token);
    dtk_free(f->cert_pem);
    dtk_kube__free_secret(f->key_pem);
    memset(f, 0, sizeof(*f));
}

static int read_token_file(fresh *f, const char *path)
{
    int error = dtk_kube__read_trimmed(&f->token, path);

    if (error < 0) {
        dtk_error_prefix("bearer token file");
        return error;
    }
    if (f->token[0] == '\0') {
        dtk_error_set(DTK_ERRCLASS_CONFIG, "bearer token file '%s' is empty",
                      path);
        return DTK_EINVALID;
    }
    return 0;
}

/* The environment of the plugin: ours minus the names it sets, then its
 * entries, then KUBERNETES_EXEC_INFO. Entries are borrowed except the last
 * one, which *info_out owns. */
static char **plugin_env(const dtk_kube__exec *e, char **info_out)
{
    size_t n = 0;
    size_t m = 0;
    size_t k = 0;
    char **env;
    dtk_buf info = DTK_BUF_INIT(0);

    while (environ != NULL && environ[n] != NULL) {
        n++;
    }
    while (e->env != NULL && e->env[m] != NULL) {
        m++;
    }
    env = dtk_calloc(n + m + 2, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        const char *entry = environ[i];
        size_t name_len = strcspn(entry, "=");
        int overridden = strncmp(entry, "KUBERNETES_EXEC_INFO=", 21) == 0;

        for (size_t j = 0; j < m && !overridden; j++) {
            overridden = strncmp(entry, e->env[j], name_len + 1) == 0;
        }
        if (!overridden) {
            env[k++] = environ[i];
        }
    }
    for (size_t j = 0; j < m; j++) {
        env[k++] = e->env[j];
    }
    if (dtk_buf_printf(&info, "KUBERNETES_EXEC_INFO=%s", e->exec_info) == 0) {
        *info_out = dtk_buf_detach(&info);
        env[k++] = *info_out;
    }
    dtk_buf_dispose(&info);
    env[k] = NULL;
    return env;
}

/* Waits for the child until the deadline, then kills it. Returns the wait
 * status, or -1 when it had to be killed. */
static int reap(pid_t pid, int64_t deadline)
{
    int status = 0;

    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);

        if (r == pid) {
            return status;
        }
        if (r < 0 && errno != EINTR) {
            return -1;
        }
        if (dtk_clock_now_ms() >= deadline) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            return -1;
        }
        dtk_clock_sleep_ms(5);
    }
}

/* Runs the plugin and collects its stdout into out. */
static int spawn_plugin(dtk_buf *out, const dtk_kube__exec *e, long timeout_ms)
{
    int64_t deadline = dtk_clock_now_ms() + timeout_ms;
    posix_spawn_file_actions_t fa;
    char **env = NULL;
    char *info = NULL;
    int fds[2] = {-1, -1};
    pid_t pid = -1;
    int status;
    int rc;
    int error = 0;
    int timed_out = 0;

    if (pipe(fds) < 0) {
        dtk_error_set(DTK_ERRCLASS_OS, "exec plugin '%s': pipe", e->command);
        return DTK_ERROR;
    }
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    env = plugin_env(e, &info);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    if (strchr(e->command, '/') != NULL) {
        rc = posix_spawn(&pid, e->command, &fa, NULL, e->argv, env);
    } else {
        rc = posix_spawnp(&pid, e->command, &fa, NULL, e->argv, env);
    }
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    fds[1] = -1;
    if (rc != 0) {
        errno = rc;
        dtk_error_set(DTK_ERRCLASS_OS, "exec plugin '%s': cannot run",
                      e->command);
        if (e->install_hint != NULL) {
            /* Messages are one line: the hint's first line only. */
            char msg[DTK_ERROR_MESSAGE_MAX];

            memcpy(msg, dtk_error_last()->message, sizeof(msg));
            dtk_error_set(DTK_ERRCLASS_CONFIG, "%s (%.*s)", msg,
                          (int)strcspn(e->install_hint, "\r\n"),
                          e->install_hint);
        }
        error = DTK_EAUTH;
        pid = -1;
        goto out;
    }
    for (;;) {
        struct pollfd p = {fds[0], POLLIN, 0};
        int64_t left = deadline - dtk_clock_now_ms();
        char chunk[4096];
        ssize_t n;

        if (left <= 0) {
            timed_out = 1;
            break;
        }
        rc = poll(&p, 1, (int)(left > 1000 ? 1000 : left));
        if (rc < 0 && errno == EINTR) {
            continue;
        }
        if (rc <= 0) {
            continue;
        }
        n = read(fds[0], chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        if (out->len + (size_t)n > EXEC_OUTPUT_LIMIT ||
            dtk_buf_put(out, chunk, (size_t)n) < 0) {
            memset(chunk, 0, sizeof(chunk));
            dtk_error_set(DTK_ERRCLASS_CONFIG,
                          "exec plugin '%s': output exceeds %zu bytes",
                          e->command, EXEC_OUTPUT_LIMIT);
            error = DTK_EAUTH;
            deadline = 0; /* kill it below */
            break;
        }
        memset(chunk, 0, sizeof(chunk));
    }
    status = reap(pid, timed_out ? 0 : deadline);
    pid = -1;
    if (error < 0) {
        goto out;
    }
    if (timed_out || status < 0) {
        dtk_error_set(DTK_ERRCLASS_CONFIG,
                      "exec plugin '%s': did not finish within %ld ms",
                      e->command, timeout_ms);
        error = DTK_EAUTH;
    } else if (WIFSIGNALED(status)) {
        dtk_error_set(DTK_ERRCLASS_CONFIG,
                      "exec plugin '%s': killed by signal %d", e->command,
                      WTERMSIG(status));
        error = DTK_EAUTH;
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        dtk_error_set(DTK_ERRCLASS_CONFIG,
                      "exec plugin '%s': exited with status %d", e->command,
                      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        error = DTK_EAUTH;
    }
out:
    if (fds[0] >= 0) {
        close(fds[0]);
    }
    dtk_free(env);
    dtk_free(info);
    return error;
}

static int plugin_fail(const dtk_kube__exec *e, const char *what)
{
    dtk_error_set(DTK_ERRCLASS_CONFIG, "exec plugin '%s': %s", e->command,
                  what);
    return DTK_EAUTH;
}

/* Decodes an ExecCredential. Its text is never quoted. */
static int decode_credential(fresh *f,
                             const dtk_kube__exec *e,
                             const dtk_buf *text)
{
    dtk_json *doc = NULL;
    const dtk_json *st;
    const char *api_version;
    const char *kind;
    const char *token;
    const char *cert;
    const char *key;
    const char *exp;
    int error = 0;

    if (dtk_json_parse(&doc, dtk_buf_cstr(text), text->len) < 0 ||
        doc->type != DTK_JSON_OBJECT) {
        error = plugin_fail(e, "output is not an ExecCredential JSON object");
        goto out;
    }
    api_version = dtk_json_get_string(doc, "apiVersion");
    kind = dtk_json_get_string(doc, "kind");
    if (kind == NULL || strcmp(kind, "ExecCredential") != 0) {
        error = plugin_fail(e, "output kind is not ExecCredential");
        goto out;
    }
    if (api_version == NULL || strcmp(api_version, e->api_version) != 0) {
        dtk_error_set(DTK_ERRCLASS_CONFIG,
                      "exec plugin '%s': output apiVersion '%.64s' does not "
                      "match '%s'",
                      e->command, api_version ? api_version : "",
                      e->api_version);
        error = DTK_EAUTH;
        goto out;
    }
    st = dtk_json_get(doc, "status");
    if (st == NULL || st->type != DTK_JSON_OBJECT) {
        error = plugin_fail(e, "output has no status");
        goto out;
    }
    token = dtk_json_get_string(st, "token");
    cert = dtk_json_get_string(st, "clientCertificateData");
    key = dtk_json_get_string(st, "clientKeyData");
    if ((cert == NULL) != (key == NULL)) {
        error = plugin_fail(e, "status needs both clientCertificateData and "
                               "clientKeyData");
        goto out;
    }
    if ((token == NULL || token[0] == '\0') && cert == NULL) {
        error = plugin_fail(e, "status has neither a token nor a client "
                               "certificate");
        goto out;
    }
    exp = dtk_json_get_string(st, "expirationTimestamp");
    if (exp != NULL && dtk_clock_parse_rfc3339(&f->expiry, exp) < 0) {
        error =
            plugin_fail(e, "status.expirationTimestamp: not an RFC 3339 time");
        goto out;
    }
    f->has_expiry = exp != NULL;
    f->token = token != NULL && token[0] != '\0' ? dtk_strdup(token) : NULL;
    f->cert_pem = dtk_strdup(cert);
    f->key_pem = dtk_strdup(key);
out:
    dtk_json_free(doc);
    return error;
}

static int run_plugin(fresh *f, const dtk_kube__exec *e, long timeout_ms)
{
    dtk_buf out = DTK_BUF_INIT(EXEC_OUTPUT_LIMIT);
    int error = spawn_plugin(&out, e, timeout_ms);

    if (error == 0) {
        error = decode_credential(f, e, &out);
    }
    if (out.ptr != NULL) {
        memset(out.ptr, 0, out.len);
    }
    dtk_buf_dispose(&out);
    return error;
}

/* Called with the lock held. */
static int refresh_due(const dtk_kube__auth *a)
{
    if (a->stale) {
        return 1;
    }
    switch (a->kind) {
    case DTK_KUBE__AUTH_TOKEN_FILE:
        return a->token == NULL ||
               dtk_clock_now_ms() - a->loaded_ms >= a->reload_ms;
    case DTK_KUBE__AUTH_EXEC:
        return (a->token == NULL && a->cert_pem == NULL) ||
               (a->has_expiry && time(NULL) >= a->expiry);
    default:
        return 0;
    }
}

/* Called with the lock held. */
static void snapshot(const dtk_kube__auth *a, dtk_kube__cred *out)
{
    out->token = dtk_strdup(a->token);
    out->cert_pem = dtk_strdup(a->cert_pem);
    out->key_pem = dtk_strdup(a->key_pem);
    out->generation = a->generation;
}

int dtk_kube__auth_get(dtk_kube__auth *a, dtk_kube__cred *out)
{
    fresh f = {0};
    int error = 0;

    memset(out, 0, sizeof(*out));
    if (a->kind == DTK_KUBE__AUTH_NONE) {
        return 0;
    }
    pthread_mutex_lock(&a->lock);
    while (a->refreshing) {
        pthread_cond_wait(&a->cond, &a->lock);
    }
    if (!refresh_due(a)) {
        snapshot(a, out);
        pthread_mutex_unlock(&a->lock);
        return 0;
    }
    a->refreshing = 1;
    pthread_mutex_unlock(&a->lock);

    /* token_file and exec never change after loading: safe unlocked. */
    if (a->kind == DTK_KUBE__AUTH_TOKEN_FILE) {
        error = read_token_file(&f, a->token_file);
    } else {
        error = run_plugin(&f, a->exec, a->exec_timeout_ms);
    }

    pthread_mutex_lock(&a->lock);
    a->refreshing = 0;
    pthread_cond_broadcast(&a->cond);
    if (error == 0) {
        dtk_kube__free_secret(a->token);
        dtk_free(a->cert_pem);
        dtk_kube__free_secret(a->key_pem);
        a->token = f.token;
        a->cert_pem = f.cert_pem;
        a->key_pem = f.key_pem;
        a->expiry = f.expiry;
        a->has_expiry = f.has_expiry;
        memset(&f, 0, sizeof(f));
        a->generation++;
        a->stale = 0;
        a->loaded_ms = dtk_clock_now_ms();
    } else if (a->kind == DTK_KUBE__AUTH_TOKEN_FILE && a->token != NULL) {
        /* Keep the last token (client-go does the same); try again after
         * another period. */
        dtk_log(DTK_LOG_DEBUG, NULL, "Keeping the last bearer token",
                "file=%s reason=\"%s\"", a->token_file,
                dtk_error_last()->message);
        dtk_error_clear();
        a->stale = 0;
        a->loaded_ms = dtk_clock_now_ms();
        error = 0;
    }
    if (error == 0) {
        snapshot(a, out);
    }
    pthread_mutex_unlock(&a->lock);
    fresh_dispose(&f);
    return error < 0 ? DTK_EAUTH : 0;
}

int dtk_kube__auth_invalidate(dtk_kube__auth *a, unsigned long used)
{
    int retry = 0;

    if (a->kind != DTK_KUBE__AUTH_TOKEN_FILE &&
        a->kind != DTK_KUBE__AUTH_EXEC) {
        return 0;
    }
    pthread_mutex_lock(&a->lock);
    if (a->generation == used) {
        a->stale = 1;
    }
    retry = 1;
    pthread_mutex_unlock(&a->lock);
    return retry;
}

/* The manager: start order, leadership gating and ordered shutdown (see
 * runtime.h for the contract).
 *
 * Threads: the owner (main) runs start/wait/stop. The election thread
 * (pkg/leader) calls on_started_leading, which starts the controllers'
 * workers if the runnables have synced, and on_stopped_leading, which wakes
 * the waiter. Both paths and stop meet under `mu`, so controllers start at
 * most once and never after stop has begun. Stop requests and the loss of
 * leadership travel through a self-pipe: one byte each ('s' stop, 'l'
 * lost, 'e' workers could not start), which a signal handler may write
 * (write(2) is async-signal-safe).
 */
#include "pkg/runtime/runtime_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/clock.h"
#include "pkg/base/error.h"
#include "pkg/base/log.h"

#define SYNC_POLL_MS 50 /* controller-runtime's WaitForCacheSync polls 100 */

typedef struct runnable_slot {
    dtk_runnable r;
    char *name;
    int started;
} runnable_slot;

struct dtk_manager {
    /* Options (copied). */
    char *bind_address;
    int bind_port;
    dtk_metrics_registry *metrics;
    int leader_election;
    int64_t cache_sync_timeout_ms;
    int64_t graceful_ms;

    dtk_health *health;
    dtk_health_server *http;
    dtk_leader *leader;
    runnable_slot *runnables;
    size_t runnable_count;
    dtk_controller **controllers;
    size_t controller_count;

    int started; /* owner only */
    int stopped; /* owner only */
    int wake[2]; /* self-pipe: read end, write end */
    atomic_int synced;
    atomic_int lost;
    atomic_int http_port;

    pthread_mutex_t mu;
    int leading;             /* guarded by mu */
    int controllers_started; /* guarded by mu */
    int stopping;            /* guarded by mu */
};

/* ---- leadership ------------------------------------------------------- */

static void notify(dtk_manager *m, char what)
{
    ssize_t n;

    do {
        n = write(m->wake[1], &what, 1);
    } while (n < 0 && errno == EINTR);
    /* EAGAIN: the pipe is full of wake-ups already; one is enough. */
}

/* Called with mu held, once the runnables synced and (with leader
 * election) this replica leads. Returns DTK_ERROR when a controller cannot
 * start its workers (threads exhausted): nothing sensible can run then. */
static int start_controllers_locked(dtk_manager *m)
{
    if (m->controllers_started || m->stopping) {
        return 0;
    }
    m->controllers_started = 1;
    for (size_t i = 0; i < m->controller_count; i++) {
        int error = dtk_controller_start(m->controllers[i]);

        if (error < 0) {
            dtk_error_prefix("controller '%s'",
                             dtk_controller_name(m->controllers[i]));
            return error;
        }
    }
    return 0;
}

static void on_started_leading(void *payload)
{
    dtk_manager *m = payload;

    int error = 0;

    pthread_mutex_lock(&m->mu);
    m->leading = 1;
    if (atomic_load(&m->synced)) {
        error = start_controllers_locked(m);
    }
    pthread_mutex_unlock(&m->mu);
    if (error < 0) {
        dtk_log(DTK_LOG_ERROR, NULL, "Could not start controllers",
                "error=\"%s\"", dtk_error_last()->message);
        notify(m, 'e'); /* dtk_manager_wait reports it */
    }
}

static void on_stopped_leading(void *payload)
{
    dtk_manager *m = payload;

    atomic_store(&m->lost, 1);
    pthread_mutex_lock(&m->mu);
    m->leading = 0;
    pthread_mutex_unlock(&m->mu);
    notify(m, 'l'); /* dtk_manager_wait returns it; main reports it */
}

static int readyz_synced(void *payload)
{
    dtk_manager *m = payload;

    if (!atomic_load(&m->synced)) {
        dtk_error_set(DTK_ERRCLASS_NONE, "runnables not synced yet");
        return DTK_EUNAVAIL;
    }
    return 0;
}

/* ---- new / free ------------------------------------------------------- */

int dtk_manager_new(dtk_manager **out, const dtk_manager_options *options)
{
    dtk_manager *m = NULL;
    int error = 0;

    *out = NULL;
    if (options->leader_election && options->kube_config == NULL) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "leader election: kube_config: required");
        return DTK_EINVALID;
    }
    if (options->cache_sync_timeout_ms < 0 ||
        options->graceful_shutdown_timeout_ms < 0) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "manager timeouts: must not be negative");
        return DTK_EINVALID;
    }
    m = dtk_calloc(1, sizeof(*m));
    m->wake[0] = m->wake[1] = -1;
    m->bind_address = options->bind_address != NULL
                          ? dtk_strdup(options->bind_address)
                          : NULL;
    m->bind_port = options->bind_port;
    m->metrics =
        options->metrics != NULL ? options->metrics : dtk_metrics_default();
    m->leader_election = options->leader_election;
    m->cache_sync_timeout_ms = options->cache_sync_timeout_ms > 0
                                   ? options->cache_sync_timeout_ms
                                   : DTK_MANAGER_DEFAULT_CACHE_SYNC_TIMEOUT_MS;
    m->graceful_ms = options->graceful_shutdown_timeout_ms > 0
                         ? options->graceful_shutdown_timeout_ms
                         : DTK_MANAGER_DEFAULT_GRACEFUL_SHUTDOWN_TIMEOUT_MS;
    atomic_init(&m->synced, 0);
    atomic_init(&m->lost, 0);
    atomic_init(&m->http_port, 0);
    pthread_mutex_init(&m->mu, NULL);
    m->health = dtk_health_new();
    error = dtk_health_add(m->health, DTK_HEALTH_LIVENESS, "ping",
                           dtk_health_ping, NULL);
    if (error == 0) {
        error = dtk_health_add(m->health, DTK_HEALTH_READINESS, "synced",
                               readyz_synced, m);
    }
    if (error < 0) {
        goto out;
    }
    if (pipe(m->wake) != 0) {
        m->wake[0] = m->wake[1] = -1;
        dtk_error_set(DTK_ERRCLASS_OS, "manager wake-up pipe");
        error = DTK_ERROR;
        goto out;
    }
    fcntl(m->wake[0], F_SETFD, FD_CLOEXEC);
    fcntl(m->wake[1], F_SETFD, FD_CLOEXEC);
    fcntl(m->wake[1], F_SETFL, O_NONBLOCK);
    if (m->leader_election) {
        dtk_leader_options lo = options->leader;

        lo.metrics = m->metrics;
        lo.on_started_leading = on_started_leading;
        lo.on_stopped_leading = on_stopped_leading;
        lo.on_new_leader = NULL;
        lo.payload = m;
        error = dtk_leader_new(&m->leader, options->kube_config, &lo);
        if (error < 0) {
            dtk_error_prefix("leader election");
            goto out;
        }
    }
    *out = m;
    m = NULL;
out:
    dtk_manager_free(m);
    return error;
}

void dtk_manager_free(dtk_manager *m)
{
    if (m == NULL) {
        return;
    }
    dtk_manager_stop(m);
    for (size_t i = 0; i < m->controller_count; i++) {
        dtk_controller_free(m->controllers[i]);
    }
    dtk_free(m->controllers);
    for (size_t i = 0; i < m->runnable_count; i++) {
        dtk_free(m->runnables[i].name);
    }
    dtk_free(m->runnables);
    dtk_leader_free(m->leader);
    dtk_health_free(m->health);
    if (m->wake[0] >= 0) {
        close(m->wake[0]);
        close(m->wake[1]);
    }
    pthread_mutex_destroy(&m->mu);
    dtk_free(m->bind_address);
    dtk_free(m);
}

int dtk_manager_add_runnable(dtk_manager *m, const dtk_runnable *r)
{
    runnable_slot *slot;

    if (m->started) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "runnable: the manager has started already");
        return DTK_EINVALID;
    }
    if (r == NULL || r->start == NULL) {
        dtk_error_set(DTK_ERRCLASS_INVALID, "runnable: start: required");
        return DTK_EINVALID;
    }
    m->runnables = dtk_realloc(m->runnables,
                               (m->runnable_count + 1) * sizeof(runnable_slot));
    slot = &m->runnables[m->runnable_count++];
    slot->r = *r;
    slot->name = dtk_strdup(r->name != NULL ? r->name : "runnable");
    slot->r.name = slot->name;
    slot->started = 0;
    return 0;
}

int dtk_manager_add_controller(dtk_manager *m, dtk_controller *c)
{
    if (m->started) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "controller '%s': the manager has started already",
                      dtk_controller_name(c));
        return DTK_EINVALID;
    }
    for (size_t i = 0; i < m->controller_count; i++) {
        if (strcmp(dtk_controller_name(m->controllers[i]),
                   dtk_controller_name(c)) == 0) {
            dtk_error_set(DTK_ERRCLASS_INVALID,
                          "controller '%s': a controller of this name was "
                          "added already",
                          dtk_controller_name(c));
            return DTK_EEXISTS;
        }
    }
    m->controllers = dtk_realloc(m->controllers, (m->controller_count + 1) *
                                                     sizeof(*m->controllers));
    m->controllers[m->controller_count++] = c;
    return 0;
}

dtk_health *dtk_manager_health(dtk_manager *m)
{
    return m->health;
}

/* ---- start -------------------------------------------------------------- */

/* Reads one wake-up byte if there is one within wait_ms (-1: forever).
 * Returns 0 for none, 's' or 'l'. */
static char take_wakeup(dtk_manager *m, int wait_ms)
{
    struct pollfd p;
    char what = 0;
    ssize_t n;

    p.fd = m->wake[0];
    p.events = POLLIN;
    p.revents = 0;
    if (poll(&p, 1, wait_ms) <= 0) {
        return 0;
    }
    do {
        n = read(m->wake[0], &what, 1);
    } while (n < 0 && errno == EINTR);
    return n == 1 ? what : 0;
}

static int lost_error(void)
{
    dtk_error_set(DTK_ERRCLASS_NONE, "leader election lost");
    return DTK_EUNAVAIL;
}

/* Waits until every runnable has synced, a stop is requested, leadership
 * is lost or the cache sync timeout passes. */
static int wait_synced(dtk_manager *m)
{
    int64_t deadline = dtk_clock_now_ms() + m->cache_sync_timeout_ms;

    for (;;) {
        const char *pending = NULL;
        char what;

        for (size_t i = 0; i < m->runnable_count && pending == NULL; i++) {
            runnable_slot *s = &m->runnables[i];

            if (s->r.has_synced != NULL && !s->r.has_synced(s->r.payload)) {
                pending = s->name;
            }
        }
        if (pending == NULL) {
            return 0;
        }
        if (dtk_clock_now_ms() >= deadline) {
            dtk_error_set(DTK_ERRCLASS_NONE,
                          "runnable '%s': not synced after %lld ms", pending,
                          (long long)m->cache_sync_timeout_ms);
            return DTK_ETIMEOUT;
        }
        what = take_wakeup(m, SYNC_POLL_MS);
        if (what == 'l') {
            return lost_error();
        }
        if (what == 's') {
            dtk_error_set(DTK_ERRCLASS_NONE,
                          "manager: stop requested while waiting for the "
                          "sync");
            return DTK_ESHUTDOWN;
        }
    }
}

int dtk_manager_start(dtk_manager *m)
{
    int error = 0;

    if (m->started) {
        dtk_error_set(DTK_ERRCLASS_INVALID, "manager: already started");
        return DTK_EINVALID;
    }
    m->started = 1;

    /* 1. HTTP endpoints: probes answer (readyz: not yet) from the start. */
    if (m->bind_address != NULL) {
        dtk_health_server_options ho = DTK_HEALTH_SERVER_OPTIONS_INIT;

        ho.address = m->bind_address;
        ho.port = m->bind_port;
        ho.metrics = m->metrics;
        error = dtk_health_server_start(&m->http, m->health, &ho);
        if (error < 0) {
            goto fail;
        }
        atomic_store(&m->http_port, dtk_health_server_port(m->http));
        dtk_log(DTK_LOG_INFO, NULL, "Serving metrics and health probes",
                "address=%s port=%d", m->bind_address,
                dtk_health_server_port(m->http));
    }

    /* 2. Leader election, in the background. */
    if (m->leader != NULL) {
        error = dtk_leader_start(m->leader);
        if (error < 0) {
            goto fail;
        }
    }

    /* 3. Runnables, in the order they were added. */
    for (size_t i = 0; i < m->runnable_count; i++) {
        runnable_slot *s = &m->runnables[i];

        dtk_error_clear();
        error = s->r.start(s->r.payload);
        if (error < 0) {
            dtk_error_prefix("runnable '%s'", s->name);
            goto fail;
        }
        s->started = 1;
    }

    /* 4. Wait for the caches. */
    error = wait_synced(m);
    if (error < 0) {
        goto fail;
    }
    atomic_store(&m->synced, 1);

    /* 5. Workers: now, or when leading. */
    pthread_mutex_lock(&m->mu);
    if (m->leader == NULL || m->leading) {
        error = start_controllers_locked(m);
    }
    pthread_mutex_unlock(&m->mu);
    if (error < 0) {
        goto fail;
    }
    if (m->leader != NULL && !dtk_leader_is_leader(m->leader)) {
        dtk_log(DTK_LOG_INFO, NULL, "Waiting for leadership to start workers",
                "identity=%s", dtk_leader_identity(m->leader));
    }
    return 0;
fail : {
    dtk_error saved = *dtk_error_last();

    dtk_manager_stop(m);
    dtk_error_set(DTK_ERRCLASS_NONE, "%s", saved.message);
}
    return error;
}

/* ---- wait / stop ----------------------------------------------------------
 */

int dtk_manager_wait(dtk_manager *m)
{
    for (;;) {
        char what = take_wakeup(m, -1);

        if (what == 'l' || atomic_load(&m->lost)) {
            return lost_error();
        }
        if (what == 'e') {
            dtk_error_set(DTK_ERRCLASS_NONE,
                          "controllers could not start their workers");
            return DTK_ERROR;
        }
        if (what == 's') {
            return 0;
        }
    }
}

void dtk_manager_request_stop(dtk_manager *m)
{
    notify(m, 's');
}

static int64_t remaining(int64_t deadline)
{
    int64_t left = deadline - dtk_clock_now_ms();

    return left > 0 ? left : 0;
}

int dtk_manager_stop(dtk_manager *m)
{
    int64_t deadline;
    int timed_out = 0;
    const char *late = NULL;

    if (!m->started || m->stopped) {
        return 0;
    }
    m->stopped = 1;
    deadline = dtk_clock_now_ms() + m->graceful_ms;
    pthread_mutex_lock(&m->mu);
    m->stopping = 1; /* no controller starts from here on */
    pthread_mutex_unlock(&m->mu);

    /* Controllers first (last added first): drain what is in flight. */
    for (size_t i = m->controller_count; i-- > 0;) {
        if (dtk_controller_stop(m->controllers[i], remaining(deadline)) < 0) {
            timed_out = 1;
            late = late ? late : dtk_controller_name(m->controllers[i]);
        }
    }
    /* Runnables in reverse. */
    for (size_t i = m->runnable_count; i-- > 0;) {
        runnable_slot *s = &m->runnables[i];

        if (!s->started) {
            continue;
        }
        s->started = 0;
        if (s->r.stop != NULL &&
            s->r.stop(s->r.payload, remaining(deadline)) < 0) {
            timed_out = 1;
            late = late ? late : s->name;
        }
    }
    /* Leader election: release the lease only when nothing of ours still
     * runs; otherwise let it expire. */
    if (m->leader != NULL) {
        if (timed_out) {
            dtk_leader_abandon(m->leader);
        } else {
            dtk_leader_stop(m->leader);
        }
    }
    dtk_health_server_stop(m->http);
    m->http = NULL;
    atomic_store(&m->http_port, 0);
    if (timed_out) {
        dtk_error_set(DTK_ERRCLASS_NONE,
                      "graceful shutdown: '%s' did not stop within %lld ms",
                      late, (long long)m->graceful_ms);
        return DTK_ETIMEOUT;
    }
    return 0;
}

int dtk_manager_run(dtk_manager *m)
{
    int error = dtk_manager_start(m);
    int stop_error;

    if (error < 0) {
        return error;
    }
    error = dtk_manager_wait(m);
    if (error < 0) {
        dtk_error saved = *dtk_error_last();

        dtk_manager_stop(m);
        dtk_error_set(DTK_ERRCLASS_NONE, "%s", saved.message);
        return error;
    }
    stop_error = dtk_manager_stop(m);
    return stop_error;
}

int dtk_manager_http_port(const dtk_manager *m)
{
    return atomic_load(&((dtk_manager *)m)->http_port);
}

int dtk_manager_is_leader(const dtk_manager *m)
{
    dtk_manager *mm = (dtk_manager *)m;
    int started;

    if (mm->leader != NULL) {
        return dtk_leader_is_leader(mm->leader);
    }
    pthread_mutex_lock(&mm->mu);
    started = mm->controllers_started && !mm->stopping;
    pthread_mutex_unlock(&mm->mu);
    return started;
}

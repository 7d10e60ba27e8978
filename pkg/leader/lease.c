/* Leader election on a Lease: the C form of client-go's LeaderElector with
 * a LeaseLock (see lease.h for the protocol).
 *
 * Mapping to client-go (tools/leaderelection/leaderelection.go):
 *   acquire()            -> acquire_loop: jittered, sliding retry period
 *   renew()              -> lead_loop: every retry period, a poll of
 *                           try_acquire_or_renew bounded by renew_deadline
 *   tryAcquireOrRenew()  -> try_acquire_or_renew, including the leader's
 *                           fast path (update the cached lease without a
 *                           GET) and the fall back to GET on failure
 *   observedRecord/Time  -> observed/observed_ms (monotonic)
 *   release()            -> release_lease
 *   maybeReportTransition-> report_transition (on_new_leader)
 *
 * What it deliberately does not do: coordinated leader election (strategy,
 * preferredHolder) and other lock kinds (ConfigMaps/Endpoints are gone from
 * client-go). The election thread logs leadership transitions at INFO: it
 * has no caller to return them to. Request failures are logged at DEBUG,
 * except that the first failure of a streak is a WARN line, so an election
 * stuck on (say) a missing RBAC rule is visible without debug logging.
 */
#include "pkg/leader/lease.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/clock.h"
#include "pkg/base/error.h"
#include "pkg/base/log.h"

#define LEASE_RESPONSE_LIMIT ((size_t)1024 * 1024)
/* Lower bound of a request timeout: a deadline that is (nearly) spent still
 * gets one short attempt rather than none. */
#define MIN_REQUEST_TIMEOUT_MS 50

/* The spec fields of the Lease that the algorithm reads and writes. */
typedef struct record {
    char *holder; /* "" when absent or released */
    int64_t duration_s;
    char *acquire_time;
    char *renew_time;
    int64_t transitions;
} record;

struct dtk_leader {
    dtk_kube_config *config;
    char *ns;
    char *name;
    char *identity;
    int64_t lease_ms;
    int64_t renew_deadline_ms;
    int64_t retry_ms;
    int skip_release;
    dtk_leader_fn on_started;
    dtk_leader_fn on_stopped;
    dtk_leader_new_leader_fn on_new_leader;
    void *payload;
    dtk_metrics_series *master_status;

    /* Election thread only. */
    dtk_kube_client *client;
    dtk_json *cached;   /* the lease as last read or written */
    char *observed_raw; /* canonical text of the observed record */
    int64_t observed_ms;
    char *reported_leader;
    unsigned int seed;
    int last_error; /* of the current failure streak, 0 when none */

    pthread_t thread;
    int started;
    atomic_int leading;
    atomic_int lost;
    /* Monotonic ms until which this candidate may act as leader: the send
     * time of its last successful acquire/renew plus renew_deadline. */
    _Atomic int64_t valid_until_ms;

    pthread_mutex_t mu;
    pthread_cond_t cond; /* signalled by dtk_leader_stop */
    int stopping;        /* guarded by mu */
    int abandon;         /* guarded by mu: stop without release */
    record observed;     /* guarded by mu (written by the thread only) */
};

/* ---- helpers --------------------------------------------------------------
 */

static void record_dispose(record *r)
{
    dtk_free(r->holder);
    dtk_free(r->acquire_time);
    dtk_free(r->renew_time);
    memset(r, 0, sizeof(*r));
}

static void record_copy(record *out, const record *in)
{
    out->holder = dtk_strdup(in->holder ? in->holder : "");
    out->duration_s = in->duration_s;
    out->acquire_time = in->acquire_time ? dtk_strdup(in->acquire_time) : NULL;
    out->renew_time = in->renew_time ? dtk_strdup(in->renew_time) : NULL;
    out->transitions = in->transitions;
}

/* client-go compares the raw record bytes to see a change; the canonical
 * text of the five fields is the same test. */
static char *record_raw(const record *r)
{
    dtk_buf b = DTK_BUF_INIT(0);

    dtk_buf_printf(
        &b, "%s\n%lld\n%s\n%s\n%lld", r->holder ? r->holder : "",
        (long long)r->duration_s, r->acquire_time ? r->acquire_time : "",
        r->renew_time ? r->renew_time : "", (long long)r->transitions);
    return dtk_buf_detach(&b);
}

static const char *spec_string(const dtk_json *spec, const char *key)
{
    const char *s = dtk_json_get_string(spec, key);

    return s != NULL ? s : "";
}

static int64_t spec_int(const dtk_json *spec, const char *key)
{
    int64_t v = 0;

    if (dtk_json_int(&v, dtk_json_get(spec, key)) < 0) {
        v = 0;
    }
    return v;
}

/* Reads the election record out of a Lease; absent fields are zero, as
 * LeaseSpecToLeaderElectionRecord reads them. */
static void record_from_lease(record *out, const dtk_json *lease)
{
    const dtk_json *spec = dtk_json_get(lease, "spec");
    const char *at = dtk_json_get_string(spec, "acquireTime");
    const char *rt = dtk_json_get_string(spec, "renewTime");

    out->holder = dtk_strdup(spec_string(spec, "holderIdentity"));
    out->duration_s = spec_int(spec, "leaseDurationSeconds");
    out->acquire_time = at ? dtk_strdup(at) : NULL;
    out->renew_time = rt ? dtk_strdup(rt) : NULL;
    out->transitions = spec_int(spec, "leaseTransitions");
}

static int64_t now_ms(void)
{
    return dtk_clock_now_ms();
}

/* Waits until deadline_ms (monotonic) or stop. Returns 1 when stopping. */
static int wait_until(dtk_leader *le, int64_t deadline_ms)
{
    int stopping;

    pthread_mutex_lock(&le->mu);
    while (!le->stopping && now_ms() < deadline_ms) {
        struct timespec ts;
        int64_t ms = deadline_ms;

        ts.tv_sec = (time_t)(ms / 1000);
        ts.tv_nsec = (long)(ms % 1000) * 1000000L;
        pthread_cond_timedwait(&le->cond, &le->mu, &ts);
    }
    stopping = le->stopping;
    pthread_mutex_unlock(&le->mu);
    return stopping;
}

static int is_stopping(dtk_leader *le)
{
    int stopping;

    pthread_mutex_lock(&le->mu);
    stopping = le->stopping;
    pthread_mutex_unlock(&le->mu);
    return stopping;
}

/* wait.Jitter(retry, 1.2): retry + rand[0,1) * 1.2 * retry. */
static int64_t jittered_retry(dtk_leader *le)
{
    double r = (double)rand_r(&le->seed) / ((double)RAND_MAX + 1.0);

    return le->retry_ms +
           (int64_t)(r * DTK_LEADER_JITTER_FACTOR * (double)le->retry_ms);
}

/* Sets the observed record (a copy of r) and the time it was seen. */
static void set_observed(dtk_leader *le, const record *r)
{
    record copy;

    memset(&copy, 0, sizeof(copy));
    record_copy(&copy, r);
    dtk_free(le->observed_raw);
    le->observed_raw = record_raw(&copy);
    le->observed_ms = now_ms();
    pthread_mutex_lock(&le->mu);
    record_dispose(&le->observed);
    le->observed = copy;
    pthread_mutex_unlock(&le->mu);
}

/* Only the election thread writes le->observed, so it reads it unlocked. */
static int observed_is_self(const dtk_leader *le)
{
    return le->observed.holder != NULL &&
           strcmp(le->observed.holder, le->identity) == 0;
}

static int lease_valid(const dtk_leader *le, int64_t now)
{
    return le->observed_ms + le->observed.duration_s * 1000 > now;
}

static void keep_cached(dtk_leader *le, dtk_json *lease)
{
    dtk_json_free(le->cached);
    le->cached = lease;
}

/* Logs the first failure of a streak at WARN, repeats at DEBUG. */
static void note_failure(dtk_leader *le, const char *what, int error)
{
    if (le->last_error != error) {
        dtk_log(DTK_LOG_WARN, NULL, "Leader election request failed",
                "lease=%s/%s identity=%s step=%s error=\"%s\"", le->ns,
                le->name, le->identity, what, dtk_error_last()->message);
    } else {
        dtk_log(DTK_LOG_DEBUG, NULL, "Leader election request failed",
                "lease=%s/%s step=%s error=\"%s\"", le->ns, le->name, what,
                dtk_error_last()->message);
    }
    le->last_error = error;
}

/* ---- requests ----------------------------------------------------------- */

static long request_timeout(int64_t deadline_ms)
{
    int64_t left = deadline_ms - now_ms();

    return left < MIN_REQUEST_TIMEOUT_MS ? MIN_REQUEST_TIMEOUT_MS : (long)left;
}

static int lease_call(dtk_json **out,
                      dtk_leader *le,
                      const char *method,
                      int with_name,
                      const dtk_json *body,
                      int64_t deadline_ms)
{
    dtk_kube_call call = DTK_KUBE_CALL_INIT;
    dtk_buf path = DTK_BUF_INIT(0);
    dtk_buf text = DTK_BUF_INIT(LEASE_RESPONSE_LIMIT);
    int error;

    error = dtk_kube_gvr_path(&path, &dtk_kube_gvr_leases, le->ns,
                              with_name ? le->name : NULL, NULL);
    if (error < 0) {
        goto out;
    }
    if (body != NULL) {
        error = dtk_json_write(&text, body);
        if (error < 0) {
            goto out;
        }
        call.body = text.ptr;
        call.body_len = text.len;
    }
    call.method = method;
    call.path = path.ptr;
    call.timeout_ms = request_timeout(deadline_ms);
    call.response_limit = LEASE_RESPONSE_LIMIT;
    call.max_attempts = 1; /* the retry period is the retry loop */
    error = dtk_kube_do(out, le->client, &call);
out:
    dtk_buf_dispose(&path);
    dtk_buf_dispose(&text);
    return error;
}

static void set_spec(dtk_json *lease, const record *r)
{
    static const char *const spec_path[] = {"spec", NULL};
    dtk_json *spec = dtk_json_ensure_object(lease, spec_path);

    dtk_assert(spec != NULL);
    dtk_json_set(spec, "holderIdentity", dtk_json_new_string(r->holder));
    dtk_json_set(spec, "leaseDurationSeconds", dtk_json_new_int(r->duration_s));
    dtk_json_set(spec, "acquireTime",
                 r->acquire_time ? dtk_json_new_string(r->acquire_time)
                                 : dtk_json_new_null());
    dtk_json_set(spec, "renewTime",
                 r->renew_time ? dtk_json_new_string(r->renew_time)
                               : dtk_json_new_null());
    dtk_json_set(spec, "leaseTransitions", dtk_json_new_int(r->transitions));
}

static int lease_create(dtk_leader *le, const record *r, int64_t deadline_ms)
{
    static const char *const meta_path[] = {"metadata", NULL};
    dtk_json *lease = dtk_json_new_object();
    dtk_json *meta;
    dtk_json *created = NULL;
    int error;

    dtk_json_set(lease, "apiVersion",
                 dtk_json_new_string("coordination.k8s.io/v1"));
    dtk_json_set(lease, "kind", dtk_json_new_string("Lease"));
    meta = dtk_json_ensure_object(lease, meta_path);
    dtk_json_set(meta, "name", dtk_json_new_string(le->name));
    dtk_json_set(meta, "namespace", dtk_json_new_string(le->ns));
    set_spec(lease, r);
    error = lease_call(&created, le, "POST", 0, lease, deadline_ms);
    if (error == 0) {
        keep_cached(le, created);
        created = NULL;
    }
    dtk_json_free(created);
    dtk_json_free(lease);
    return error;
}

/* PUT of the cached lease with r as its spec: the cached resourceVersion is
 * the precondition, so a concurrent writer makes it fail with
 * DTK_ECONFLICT. */
static int lease_update(dtk_leader *le, const record *r, int64_t deadline_ms)
{
    dtk_json *lease;
    dtk_json *updated = NULL;
    int error;

    if (le->cached == NULL) {
        dtk_error_set(DTK_ERRCLASS_KUBE, "lease '%s/%s': not read yet", le->ns,
                      le->name);
        return DTK_ERROR;
    }
    lease = dtk_json_copy(le->cached);
    set_spec(lease, r);
    error = lease_call(&updated, le, "PUT", 1, lease, deadline_ms);
    if (error == 0) {
        keep_cached(le, updated);
        updated = NULL;
    }
    dtk_json_free(updated);
    dtk_json_free(lease);
    return error;
}

/* ---- the algorithm ---------------------------------------------------- */

static void report_transition(dtk_leader *le)
{
    const char *holder = le->observed.holder ? le->observed.holder : "";

    if (le->reported_leader != NULL &&
        strcmp(le->reported_leader, holder) == 0) {
        return;
    }
    dtk_free(le->reported_leader);
    le->reported_leader = dtk_strdup(holder);
    if (*holder != '\0') {
        dtk_log(DTK_LOG_INFO, NULL, "New leader elected",
                "lease=%s/%s leader=%s", le->ns, le->name, holder);
    }
    if (le->on_new_leader != NULL) {
        le->on_new_leader(holder, le->payload);
    }
}

/* tryAcquireOrRenew: 1 when this candidate holds the lease afterwards. */
static int try_acquire_or_renew(dtk_leader *le, int64_t deadline_ms)
{
    char now_text[40];
    record want;
    record old;
    dtk_json *lease = NULL;
    char *raw = NULL;
    int acquired = 0;
    int error;

    memset(&old, 0, sizeof(old));
    dtk_clock_rfc3339(now_text, sizeof(now_text), 1);
    want.holder = le->identity;
    want.duration_s = le->lease_ms / 1000;
    want.acquire_time = now_text;
    want.renew_time = now_text;
    want.transitions = 0;

    /* 1. The leader's fast path: update the lease it wrote last. */
    if (observed_is_self(le) && lease_valid(le, now_ms())) {
        want.acquire_time = le->observed.acquire_time;
        want.transitions = le->observed.transitions;
        error = lease_update(le, &want, deadline_ms);
        if (error == 0) {
            set_observed(le, &want);
            acquired = 1;
            goto out;
        }
        note_failure(le, "renew", error);
        want.acquire_time = now_text;
        want.transitions = 0;
        if (now_ms() >= deadline_ms) {
            goto out;
        }
    }

    /* 2. Read the lease; create it when absent. */
    error = lease_call(&lease, le, "GET", 1, NULL, deadline_ms);
    if (error == DTK_ENOTFOUND) {
        error = lease_create(le, &want, deadline_ms);
        if (error < 0) {
            note_failure(le, "create", error);
            goto out;
        }
        set_observed(le, &want);
        acquired = 1;
        goto out;
    }
    if (error < 0) {
        note_failure(le, "get", error);
        goto out;
    }
    record_from_lease(&old, lease);
    keep_cached(le, lease);
    lease = NULL;

    /* 3. A changed record restarts the expiry clock. */
    raw = record_raw(&old);
    if (le->observed_raw == NULL || strcmp(raw, le->observed_raw) != 0) {
        set_observed(le, &old);
    }
    if (*old.holder != '\0' && lease_valid(le, now_ms()) &&
        !observed_is_self(le)) {
        le->last_error = 0;
        goto out; /* held by another candidate */
    }

    /* 4. Take over (or renew, when the lease is still ours). */
    if (observed_is_self(le)) {
        want.acquire_time = old.acquire_time;
        want.transitions = old.transitions;
    } else {
        want.transitions = old.transitions + 1;
    }
    error = lease_update(le, &want, deadline_ms);
    if (error < 0) {
        /* DTK_ECONFLICT: another candidate wrote first; lost the race. */
        note_failure(le, "update", error);
        goto out;
    }
    set_observed(le, &want);
    acquired = 1;
out:
    if (acquired) {
        le->last_error = 0;
    }
    record_dispose(&old);
    dtk_free(raw);
    dtk_json_free(lease);
    return acquired;
}

static void release_lease(dtk_leader *le)
{
    char now_text[40];
    record rel;
    int error;

    if (!observed_is_self(le)) {
        return;
    }
    dtk_clock_rfc3339(now_text, sizeof(now_text), 1);
    rel.holder = "";
    rel.duration_s = 1;
    rel.acquire_time = now_text;
    rel.renew_time = now_text;
    rel.transitions = le->observed.transitions;
    error = lease_update(le, &rel, now_ms() + le->renew_deadline_ms);
    if (error < 0) {
        note_failure(le, "release", error);
        return;
    }
    set_observed(le, &rel);
    dtk_log(DTK_LOG_INFO, NULL, "Released leader lease",
            "lease=%s/%s identity=%s", le->ns, le->name, le->identity);
}

static void set_leading(dtk_leader *le, int on)
{
    atomic_store(&le->leading, on);
    if (le->master_status != NULL) {
        dtk_metrics_gauge_set(le->master_status, on ? 1.0 : 0.0);
    }
}

/* acquire(): returns 1 once leading, 0 when stopped first. */
static int acquire_loop(dtk_leader *le)
{
    dtk_log(DTK_LOG_INFO, NULL, "Attempting to acquire leader lease",
            "lease=%s/%s identity=%s", le->ns, le->name, le->identity);
    for (;;) {
        int64_t start = now_ms();
        int ok;

        if (is_stopping(le)) {
            return 0;
        }
        ok = try_acquire_or_renew(le, start + le->renew_deadline_ms);
        report_transition(le);
        if (ok) {
            atomic_store(&le->valid_until_ms, start + le->renew_deadline_ms);
            return 1;
        }
        if (wait_until(le, now_ms() + jittered_retry(le))) {
            return 0;
        }
    }
}

/* renew(): returns 1 when stopped while leading, 0 when the lease was lost.
 *
 * client-go starts the renew deadline when a renewal round begins; here it
 * runs from the moment the last successful request was sent, which is no
 * later than the server's write of that renewal and so no later than the
 * moment any standby saw it. With renew_deadline < lease_duration this
 * candidate gives up before any standby may take over, however slow its
 * requests or its thread are. */
static int lead_loop(dtk_leader *le)
{
    for (;;) {
        int64_t deadline = atomic_load(&le->valid_until_ms);

        if (wait_until(le, now_ms() + le->retry_ms)) {
            return 1;
        }
        for (;;) {
            int64_t start = now_ms();
            int64_t next;

            if (start + MIN_REQUEST_TIMEOUT_MS >= deadline) {
                return 0;
            }
            if (try_acquire_or_renew(le, deadline)) {
                atomic_store(&le->valid_until_ms,
                             start + le->renew_deadline_ms);
                report_transition(le);
                break;
            }
            report_transition(le);
            next = now_ms() + le->retry_ms;
            if (next > deadline) {
                next = deadline;
            }
            if (wait_until(le, next)) {
                return 1;
            }
        }
    }
}

static void *election_main(void *arg)
{
    dtk_leader *le = arg;

    if (!acquire_loop(le)) {
        return NULL;
    }
    set_leading(le, 1);
    dtk_log(DTK_LOG_INFO, NULL, "Successfully acquired leader lease",
            "lease=%s/%s identity=%s", le->ns, le->name, le->identity);
    if (le->on_started != NULL) {
        le->on_started(le->payload);
    }
    if (lead_loop(le)) {
        int abandon;

        set_leading(le, 0);
        pthread_mutex_lock(&le->mu);
        abandon = le->abandon;
        pthread_mutex_unlock(&le->mu);
        if (!le->skip_release && !abandon) {
            release_lease(le);
        }
        return NULL;
    }
    set_leading(le, 0);
    atomic_store(&le->lost, 1);
    dtk_log(DTK_LOG_INFO, NULL, "Leader lease lost",
            "lease=%s/%s identity=%s renew_deadline_ms=%lld", le->ns, le->name,
            le->identity, (long long)le->renew_deadline_ms);
    if (le->on_stopped != NULL) {
        le->on_stopped(le->payload);
    }
    return NULL;
}

/* ---- public ---------------------------------------------------------------
 */

/* "<hostname>_<uuid v4>", the controller-runtime default identity. */
static char *default_identity(void)
{
    unsigned char b[16];
    char host[256];
    dtk_buf out = DTK_BUF_INIT(0);
    int fd = open("/dev/urandom", O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, b, sizeof(b)) : -1;

    if (fd >= 0) {
        close(fd);
    }
    if (n != (ssize_t)sizeof(b)) {
        /* No urandom: time and pid still make a unique-enough identity. */
        uint64_t t = (uint64_t)now_ms() ^ ((uint64_t)getpid() << 32);

        for (size_t i = 0; i < sizeof(b); i++) {
            b[i] = (unsigned char)(t >> ((i % 8) * 8)) ^ (unsigned char)i;
        }
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    if (gethostname(host, sizeof(host)) != 0) {
        host[0] = '\0';
    }
    host[sizeof(host) - 1] = '\0';
    dtk_buf_printf(&out,
                   "%s_%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                   "%02x%02x%02x%02x%02x%02x",
                   host[0] ? host : "dtk", b[0], b[1], b[2], b[3], b[4], b[5],
                   b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                   b[15]);
    return dtk_buf_detach(&out);
}

static int check_options(const dtk_leader_options *o,
                         int64_t lease,
                         int64_t renew,
                         int64_t retry)
{
    if (o->lease_name == NULL || *o->lease_name == '\0') {
        dtk_error_set(DTK_ERRCLASS_INVALID, "lease_name: required");
        return DTK_EINVALID;
    }
    if (o->lease_namespace == NULL || *o->lease_namespace == '\0') {
        dtk_error_set(DTK_ERRCLASS_INVALID, "lease_namespace: required");
        return DTK_EINVALID;
    }
    if (o->identity != NULL && *o->identity == '\0') {
        dtk_error_set(DTK_ERRCLASS_INVALID, "identity: must not be empty");
        return DTK_EINVALID;
    }
    if (lease < 1000 || renew <= 0 || retry <= 0) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "lease_duration_ms: must be at least 1000 and the "
                      "other durations positive");
        return DTK_EINVALID;
    }
    if (lease % 1000 != 0) {
        /* leaseDurationSeconds is an integer: a fraction would be cut off
         * and the renew deadline could outlast the lease others see. */
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "lease_duration_ms (%lld): must be whole seconds",
                      (long long)lease);
        return DTK_EINVALID;
    }
    if (lease <= renew) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "lease_duration_ms (%lld) must be greater than "
                      "renew_deadline_ms (%lld)",
                      (long long)lease, (long long)renew);
        return DTK_EINVALID;
    }
    if ((double)renew <= DTK_LEADER_JITTER_FACTOR * (double)retry) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "renew_deadline_ms (%lld) must be greater than 1.2 * "
                      "retry_period_ms (%lld)",
                      (long long)renew, (long long)retry);
        return DTK_EINVALID;
    }
    return 0;
}

int dtk_leader_new(dtk_leader **out,
                   dtk_kube_config *config,
                   const dtk_leader_options *options)
{
    static const char *const labels[] = {"name", NULL};
    dtk_leader *le = NULL;
    dtk_metrics_family *family = NULL;
    pthread_condattr_t attr;
    int64_t lease, renew, retry;
    int error;

    *out = NULL;
    lease = options->lease_duration_ms ? options->lease_duration_ms
                                       : DTK_LEADER_DEFAULT_LEASE_DURATION_MS;
    renew = options->renew_deadline_ms ? options->renew_deadline_ms
                                       : DTK_LEADER_DEFAULT_RENEW_DEADLINE_MS;
    retry = options->retry_period_ms ? options->retry_period_ms
                                     : DTK_LEADER_DEFAULT_RETRY_PERIOD_MS;
    error = check_options(options, lease, renew, retry);
    if (error < 0) {
        return error;
    }
    le = dtk_calloc(1, sizeof(*le));
    le->config = config;
    le->ns = dtk_strdup(options->lease_namespace);
    le->name = dtk_strdup(options->lease_name);
    le->identity =
        options->identity ? dtk_strdup(options->identity) : default_identity();
    le->lease_ms = lease;
    le->renew_deadline_ms = renew;
    le->retry_ms = retry;
    le->skip_release = options->skip_release;
    le->on_started = options->on_started_leading;
    le->on_stopped = options->on_stopped_leading;
    le->on_new_leader = options->on_new_leader;
    le->payload = options->payload;
    le->seed = (unsigned int)now_ms() ^ (unsigned int)getpid() ^
               (unsigned int)(size_t)le;
    atomic_init(&le->leading, 0);
    atomic_init(&le->lost, 0);
    atomic_init(&le->valid_until_ms, 0);
    pthread_mutex_init(&le->mu, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&le->cond, &attr);
    pthread_condattr_destroy(&attr);
    error = dtk_kube_client_new(&le->client, config);
    if (error < 0) {
        goto out;
    }
    if (options->metrics != NULL) {
        const char *values[] = {le->name, NULL};

        error = dtk_metrics_register_gauge(
            &family, options->metrics, "leader_election_master_status",
            "Gauge of if the reporting system is master of the relevant "
            "lease, 0 indicates backup, 1 indicates master. 'name' is the "
            "string used to identify the lease. Please make sure to group "
            "by name.",
            labels);
        if (error == 0) {
            error = dtk_metrics_with(&le->master_status, family, values);
        }
        if (error < 0) {
            goto out;
        }
        dtk_metrics_gauge_set(le->master_status, 0.0);
    }
    *out = le;
    le = NULL;
out:
    dtk_leader_free(le);
    return error;
}

int dtk_leader_start(dtk_leader *le)
{
    if (le->started) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "leader election '%s/%s': "
                      "already started",
                      le->ns, le->name);
        return DTK_EINVALID;
    }
    if (pthread_create(&le->thread, NULL, election_main, le) != 0) {
        dtk_error_set(DTK_ERRCLASS_OS, "leader election thread");
        return DTK_ERROR;
    }
    le->started = 1;
    return 0;
}

static void stop_thread(dtk_leader *le, int abandon)
{
    if (le == NULL || !le->started) {
        return;
    }
    pthread_mutex_lock(&le->mu);
    le->stopping = 1;
    le->abandon = abandon;
    pthread_cond_broadcast(&le->cond);
    pthread_mutex_unlock(&le->mu);
    pthread_join(le->thread, NULL);
    le->started = 0;
}

void dtk_leader_stop(dtk_leader *le)
{
    stop_thread(le, 0);
}

void dtk_leader_abandon(dtk_leader *le)
{
    stop_thread(le, 1);
}

void dtk_leader_free(dtk_leader *le)
{
    if (le == NULL) {
        return;
    }
    dtk_leader_stop(le);
    dtk_kube_client_free(le->client);
    dtk_json_free(le->cached);
    dtk_free(le->observed_raw);
    dtk_free(le->reported_leader);
    record_dispose(&le->observed);
    pthread_cond_destroy(&le->cond);
    pthread_mutex_destroy(&le->mu);
    dtk_free(le->ns);
    dtk_free(le->name);
    dtk_free(le->identity);
    dtk_free(le);
}

int dtk_leader_is_leader(const dtk_leader *le)
{
    dtk_leader *l = (dtk_leader *)le;

    return atomic_load(&l->leading) &&
           now_ms() < atomic_load(&l->valid_until_ms);
}

int dtk_leader_lost(const dtk_leader *le)
{
    return atomic_load(&((dtk_leader *)le)->lost);
}

int dtk_leader_holder(dtk_leader *le, dtk_buf *out)
{
    int error;

    pthread_mutex_lock(&le->mu);
    error = dtk_buf_puts(out, le->observed.holder ? le->observed.holder : "");
    pthread_mutex_unlock(&le->mu);
    return error;
}

const char *dtk_leader_identity(const dtk_leader *le)
{
    return le->identity;
}

/* The informer thread: client-go's Reflector.ListAndWatch, one thread per
 * informer, owning its dtk_kube_client.
 *
 *   LIST (pages of page_size) at the last version seen ("" the first time:
 *   a consistent read of the current state)
 *     -> dtk_indexer_replace -> handlers (adds/updates/deletes) -> synced
 *   WATCH from the list's version, allowWatchBookmarks=true,
 *   timeoutSeconds random in [300, 600)
 *     -> every event: store, then handlers; its version (BOOKMARKs too)
 *        becomes the version to resume from
 *   the stream ends normally (timeout, server closed it)
 *     -> WATCH again from the last version: nothing lost, nothing replayed
 *   410 Expired on the watch
 *     -> LIST at the last version; if that is gone too (410, or "too large
 *        resource version"), LIST at "" -> replace -> WATCH from the new
 *        version. Objects that vanished meanwhile get a delete with
 *        final_state_unknown.
 *   any other failure (429, 5xx, timeouts, connection errors, a watch that
 *   ends within a second without events)
 *     -> backoff, then retry the same step (a failed watch resumes from the
 *        last version; it does not relist).
 *
 * Backoff: initial 0.8 s, doubled per failure up to 30 s, each wait drawn
 * from [d, 2d) and capped (client-go's jitter 1.0), starting over once no
 * failure happened for 2 minutes. The kube client's own retries (429 with
 * Retry-After, idempotent 5xx) happen first, inside each request.
 *
 * Stop: the stopping flag is the client's cancel flag, so a request in
 * flight (a list page, a watch, a wait between the client's retries) ends
 * within about a second (curl's progress callback), and a backoff wait is a
 * condition wait that stop signals.
 *
 * When resync is on, a watch is asked to end no later than the next resync
 * (a shorter timeoutSeconds), so the resync runs on time on this thread even
 * when no event arrives; busy streams resync from the event callback.
 *
 * Errors are not logged here beyond DEBUG (library rule): they go to the
 * on_error hook and to the stats for the caller to report.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pkg/base/alloc.h"
#include "pkg/base/clock.h"
#include "pkg/base/error.h"
#include "pkg/base/log.h"
#include "pkg/informer/informer_int.h"

#define DEFAULT_PAGE_SIZE          500
#define DEFAULT_BACKOFF_INITIAL_MS 800
#define DEFAULT_BACKOFF_MAX_MS     30000
#define DEFAULT_BACKOFF_RESET_MS   120000
#define WATCH_TIMEOUT_MIN_S        300
#define WATCH_TIMEOUT_SPAN_S       300
#define SHORT_WATCH_MS             1000

/* ---- Lifecycle ---------------------------------------------------------- */

static char *copy_opt(const char *s)
{
    return s != NULL && s[0] != '\0' ? dtk_strdup(s) : NULL;
}

static int invalid(const char *field, const char *problem)
{
    dtk_error_set(DTK_ERRCLASS_INVALID, "informer options: %s: %s", field,
                  problem);
    return DTK_EINVALID;
}

static int check_options(const dtk_kube_gvr *gvr, const dtk_informer_options *o)
{
    if (gvr == NULL || gvr->version == NULL || gvr->resource == NULL ||
        gvr->resource[0] == '\0' || gvr->version[0] == '\0') {
        return invalid("gvr", "a version and a resource are required");
    }
    if (o->page_size < 0) {
        return invalid("page_size", "must not be negative");
    }
    if (o->resync_ms != 0 && o->resync_ms < 1000) {
        return invalid("resync_ms", "must be 0 (off) or at least 1000");
    }
    if (o->backoff_initial_ms < 0 || o->backoff_max_ms < 0 ||
        o->backoff_reset_ms < 0) {
        return invalid("backoff", "durations must not be negative");
    }
    return 0;
}

int dtk_informer_new(dtk_informer **out,
                     dtk_kube_config *config,
                     const dtk_kube_gvr *gvr,
                     const dtk_informer_options *options)
{
    static const dtk_informer_options defaults = DTK_INFORMER_OPTIONS_INIT;
    const dtk_informer_options *o = options != NULL ? options : &defaults;
    pthread_condattr_t attr;
    dtk_informer *inf;
    int error;

    error = check_options(gvr, o);
    if (error < 0) {
        return error;
    }
    inf = dtk_calloc(1, sizeof(*inf));
    inf->config = config;
    inf->group = dtk_strdup(gvr->group != NULL ? gvr->group : "");
    inf->version = dtk_strdup(gvr->version);
    inf->resource = dtk_strdup(gvr->resource);
    inf->gvr.group = inf->group;
    inf->gvr.version = inf->version;
    inf->gvr.resource = inf->resource;
    inf->gvr.namespaced = gvr->namespaced;
    inf->name = dtk_strdup(o->name != NULL ? o->name : gvr->resource);
    inf->ns = gvr->namespaced ? copy_opt(o->namespace) : NULL;
    inf->label_selector = copy_opt(o->label_selector);
    inf->field_selector = copy_opt(o->field_selector);
    inf->page_size = o->page_size > 0 ? o->page_size : DEFAULT_PAGE_SIZE;
    inf->resync_ms = o->resync_ms;
    inf->backoff_initial_ms = o->backoff_initial_ms > 0
                                  ? o->backoff_initial_ms
                                  : DEFAULT_BACKOFF_INITIAL_MS;
    inf->backoff_max_ms =
        o->backoff_max_ms > 0 ? o->backoff_max_ms : DEFAULT_BACKOFF_MAX_MS;
    if (inf->backoff_max_ms < inf->backoff_initial_ms) {
        inf->backoff_max_ms = inf->backoff_initial_ms;
    }
    inf->backoff_reset_ms = o->backoff_reset_ms > 0 ? o->backoff_reset_ms
                                                    : DEFAULT_BACKOFF_RESET_MS;
    inf->on_error = o->on_error;
    inf->on_error_payload = o->on_error_payload;
    inf->store = dtk_indexer_new();
    dtk_buf_init(&inf->rv, 0);
    pthread_mutex_init(&inf->mu, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&inf->cond, &attr);
    pthread_condattr_destroy(&attr);
    *out = inf;
    return 0;
}

void dtk_informer_free(dtk_informer *inf)
{
    if (inf == NULL) {
        return;
    }
    dtk_informer_stop(inf);
    dtk_kube_client_free(inf->client);
    dtk_indexer_free(inf->store);
    dtk_free(inf->handlers);
    dtk_buf_dispose(&inf->rv);
    pthread_cond_destroy(&inf->cond);
    pthread_mutex_destroy(&inf->mu);
    dtk_free(inf->group);
    dtk_free(inf->version);
    dtk_free(inf->resource);
    dtk_free(inf->name);
    dtk_free(inf->ns);
    dtk_free(inf->label_selector);
    dtk_free(inf->field_selector);
    dtk_free(inf);
}

int dtk_informer_add_index(dtk_informer *inf,
                           const char *name,
                           dtk_index_fn fn,
                           void *payload)
{
    return dtk_indexer_add_index(inf->store, name, fn, payload);
}

dtk_indexer *dtk_informer_indexer(dtk_informer *inf)
{
    return inf->store;
}

int dtk_informer_get(dtk_object **out,
                     dtk_informer *inf,
                     const char *ns,
                     const char *name)
{
    dtk_buf key = DTK_BUF_INIT(0);
    int error;

    if (name == NULL) {
        dtk_error_set(DTK_ERRCLASS_INVALID, "name: required for a get");
        return DTK_EINVALID;
    }
    if (dtk_object__key(&key, ns, name) < 0) {
        dtk_buf_dispose(&key);
        dtk_error_set(DTK_ERRCLASS_INVALID, "key exceeds its bound");
        return DTK_EINVALID;
    }
    error = dtk_indexer_get(out, inf->store, key.ptr);
    dtk_buf_dispose(&key);
    return error;
}

void dtk_informer_list(dtk_object_list *out, dtk_informer *inf)
{
    dtk_indexer_list(out, inf->store);
}

int dtk_informer_by_index(dtk_object_list *out,
                          dtk_informer *inf,
                          const char *index,
                          const char *value)
{
    return dtk_indexer_by_index(out, inf->store, index, value);
}

int dtk_informer_has_synced(dtk_informer *inf)
{
    int synced;

    pthread_mutex_lock(&inf->mu);
    synced = inf->synced;
    pthread_mutex_unlock(&inf->mu);
    return synced;
}

static void deadline_ts(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int dtk_informer_wait_synced(dtk_informer *inf, int64_t timeout_ms)
{
    struct timespec until;
    int error = 0;

    if (timeout_ms >= 0) {
        deadline_ts(&until, timeout_ms);
    }
    pthread_mutex_lock(&inf->mu);
    while (!inf->synced) {
        if (!inf->started || inf->stopping) {
            dtk_error_set(DTK_ERRCLASS_NONE, "informer '%s': not running",
                          inf->name);
            error = DTK_ESHUTDOWN;
            break;
        }
        if (timeout_ms < 0) {
            pthread_cond_wait(&inf->cond, &inf->mu);
        } else if (pthread_cond_timedwait(&inf->cond, &inf->mu, &until) != 0 &&
                   !inf->synced) {
            dtk_error_set(DTK_ERRCLASS_NONE,
                          "informer '%s': not synced after %lld ms", inf->name,
                          (long long)timeout_ms);
            error = DTK_ETIMEOUT;
            break;
        }
    }
    pthread_mutex_unlock(&inf->mu);
    return error;
}

void dtk_informer_stats_get(dtk_informer_stats *out, dtk_informer *inf)
{
    pthread_mutex_lock(&inf->mu);
    *out = inf->stats;
    pthread_mutex_unlock(&inf->mu);
}

char *dtk_informer_resource_version(dtk_informer *inf)
{
    char *rv;

    pthread_mutex_lock(&inf->mu);
    rv = dtk_strdup(dtk_buf_cstr(&inf->rv));
    pthread_mutex_unlock(&inf->mu);
    return rv;
}

/* ---- Thread state helpers ------------------------------------------------ */

/* The version to resume from. Only the informer thread writes inf->rv, so
 * it reads it without the lock. */
static const char *last_rv(dtk_informer *inf)
{
    return dtk_buf_cstr(&inf->rv);
}

/* Records the version of an event or list (NULL or "": kept). */
static void set_rv(dtk_informer *inf, const char *rv, int event)
{
    pthread_mutex_lock(&inf->mu);
    if (rv != NULL && rv[0] != '\0') {
        dtk_buf_reset(&inf->rv);
        if (dtk_buf_puts(&inf->rv, rv) < 0) {
            dtk_buf_reset(&inf->rv); /* absurd: relist from "" instead */
        }
    }
    if (event) {
        inf->stats.events++;
    }
    pthread_mutex_unlock(&inf->mu);
}

static void count(dtk_informer *inf, uint64_t *counter)
{
    pthread_mutex_lock(&inf->mu);
    (*counter)++;
    pthread_mutex_unlock(&inf->mu);
}

/* A failure: counted, reported to the hook. The message is this thread's
 * last error. */
static void report(dtk_informer *inf, uint64_t *counter, int error)
{
    const char *message = dtk_error_last()->message;

    pthread_mutex_lock(&inf->mu);
    if (counter != NULL) {
        (*counter)++;
    }
    inf->stats.last_error = error;
    pthread_mutex_unlock(&inf->mu);
    dtk_log(DTK_LOG_DEBUG, NULL, "Informer request failed",
            "informer=%s error=%s reason=\"%s\"", inf->name,
            dtk_error_name(error), message);
    if (inf->on_error != NULL) {
        inf->on_error(error, message, inf->on_error_payload);
    }
    dtk_error_clear();
}

/* Sleeps for the next backoff step, or until stop. */
static void backoff_wait(dtk_informer *inf)
{
    int64_t now = dtk_clock_now_ms();
    int64_t base, wait;
    struct timespec until;

    if (inf->backoff_ms == 0 ||
        now - inf->last_failure_ms > inf->backoff_reset_ms) {
        inf->backoff_ms = inf->backoff_initial_ms;
    }
    base = inf->backoff_ms;
    wait = base + (int64_t)((double)base * ((double)rand_r(&inf->seed) /
                                            ((double)RAND_MAX + 1.0)));
    if (wait > inf->backoff_max_ms) {
        wait = inf->backoff_max_ms;
    }
    inf->backoff_ms =
        base * 2 < inf->backoff_max_ms ? base * 2 : inf->backoff_max_ms;
    inf->last_failure_ms = now;
    deadline_ts(&until, wait);
    pthread_mutex_lock(&inf->mu);
    while (!inf->stopping &&
           pthread_cond_timedwait(&inf->cond, &inf->mu, &until) == 0) {
    }
    pthread_mutex_unlock(&inf->mu);
}

/* ---- LIST ---------------------------------------------------------------- */

static int too_large_rv(dtk_kube_client *client)
{
    const dtk_kube_status *st = dtk_kube_client_status(client);

    for (size_t i = 0; i < st->cause_count; i++) {
        if (st->causes[i].reason != NULL &&
            strcmp(st->causes[i].reason, "ResourceVersionTooLarge") == 0) {
            return 1;
        }
    }
    return 0;
}

typedef struct listing {
    dtk_object **objs;
    size_t len, cap;
    char *rv; /* the List's resourceVersion */
} listing;

static void listing_dispose(listing *l)
{
    for (size_t i = 0; i < l->len; i++) {
        dtk_object_unref(l->objs[i]);
    }
    dtk_free(l->objs);
    dtk_free(l->rv);
    memset(l, 0, sizeof(*l));
}

/* Packs the items of one page into objects, stealing them from the page, so
 * that only one page is ever held as a parsed tree. */
static void take_items(dtk_informer *inf, listing *l, dtk_json *page)
{
    dtk_json *items = dtk_json_get(page, "items");
    size_t n =
        items != NULL && items->type == DTK_JSON_ARRAY ? items->u.array.len : 0;

    if (l->len + n > l->cap) {
        l->cap = l->len + n > l->cap * 2 ? l->len + n : l->cap * 2;
        l->objs = dtk_realloc(l->objs, l->cap * sizeof(*l->objs));
    }
    for (size_t i = 0; i < n; i++) {
        dtk_json *item = items->u.array.items[i];

        items->u.array.items[i] = NULL;
        if (dtk_object_new(&l->objs[l->len], item) < 0) {
            dtk_error_clear();
            count(inf, &inf->stats.skipped);
            continue;
        }
        l->len++;
    }
    if (items != NULL && items->type == DTK_JSON_ARRAY) {
        items->u.array.len = 0;
    }
}

/* A paginated LIST at rv (NULL: most recent), like client-go's pager: an
 * expired continue token restarts the list unpaged. */
static int list_pages(dtk_informer *inf, listing *out, const char *rv)
{
    static const char *const rv_path[] = {"metadata", "resourceVersion", NULL};
    static const char *const cont_path[] = {"metadata", "continue", NULL};
    dtk_kube_list_options lo = DTK_KUBE_LIST_OPTIONS_INIT;
    dtk_json *page = NULL;
    char *cont = NULL;
    int restarted = 0;
    int error;

    lo.label_selector = inf->label_selector;
    lo.field_selector = inf->field_selector;
    lo.limit = inf->page_size;
    lo.resource_version = rv;
    for (;;) {
        const char *next;

        lo.continue_token = cont;
        error = dtk_kube_list_page(&page, inf->client, &inf->gvr, inf->ns, &lo);
        if (error == DTK_EGONE && cont != NULL && !restarted &&
            !inf->stopping) {
            dtk_error_clear();
            listing_dispose(out);
            dtk_free(cont);
            cont = NULL;
            lo.limit = -1;
            restarted = 1;
            continue;
        }
        if (error < 0) {
            goto out;
        }
        dtk_free(out->rv);
        out->rv = dtk_strdup(dtk_json_string(dtk_json_path(page, rv_path)));
        next = dtk_json_string(dtk_json_path(page, cont_path));
        dtk_free(cont);
        cont = next != NULL && next[0] != '\0' ? dtk_strdup(next) : NULL;
        take_items(inf, out, page);
        dtk_json_free(page);
        page = NULL;
        if (cont == NULL || inf->stopping) {
            break;
        }
    }
out:
    dtk_json_free(page);
    dtk_free(cont);
    return error;
}

static int list_and_replace(dtk_informer *inf)
{
    dtk_indexer_changes changes = DTK_INDEXER_CHANGES_INIT;
    listing l = {NULL, 0, 0, NULL};
    char *list_rv = dtk_strdup(last_rv(inf));
    int error;

    error = list_pages(inf, &l, list_rv[0] != '\0' ? list_rv : NULL);
    if ((error == DTK_EGONE ||
         (error == DTK_ETIMEOUT && too_large_rv(inf->client))) &&
        list_rv[0] != '\0' && !inf->stopping) {
        /* The last version is no longer served: read the current state. */
        report(inf, error == DTK_EGONE ? &inf->stats.expired : NULL, error);
        count(inf, &inf->stats.list_errors);
        listing_dispose(&l);
        error = list_pages(inf, &l, NULL);
    }
    if (error < 0 || inf->stopping) {
        goto out;
    }
    /* The store takes the references. */
    dtk_indexer_replace(&changes, inf->store, l.objs, l.len);
    set_rv(inf, l.rv, 0);
    count(inf, &inf->stats.lists);
    dtk_log(DTK_LOG_DEBUG, NULL, "Informer listed",
            "informer=%s objects=%zu changes=%zu resource_version=%s",
            inf->name, l.len, changes.len, l.rv != NULL ? l.rv : "");
    l.len = 0;
    dtk_informer__dispatch_changes(inf, &changes);
    pthread_mutex_lock(&inf->mu);
    if (!inf->synced && !inf->stopping) {
        inf->synced = 1;
        pthread_cond_broadcast(&inf->cond);
    }
    pthread_mutex_unlock(&inf->mu);
out:
    dtk_indexer_changes_dispose(&changes);
    listing_dispose(&l);
    dtk_free(list_rv);
    return error;
}

/* ---- WATCH --------------------------------------------------------------- */

typedef struct watch_ctx {
    dtk_informer *inf;
    uint64_t events; /* events and bookmarks seen by this watch */
} watch_ctx;

static int apply_event(dtk_informer *inf, dtk_kube_event *ev)
{
    static const char *const rv_path[] = {"metadata", "resourceVersion", NULL};
    dtk_object *obj = NULL;
    dtk_object *old = NULL;
    dtk_json *json = ev->object;

    if (ev->type == DTK_KUBE_BOOKMARK) {
        set_rv(inf, dtk_json_string(dtk_json_path(json, rv_path)), 0);
        count(inf, &inf->stats.bookmarks);
        return 0;
    }
    ev->object = NULL; /* ours now; packed into the object */
    if (dtk_object_new(&obj, json) < 0) {
        /* Cannot be cached or keyed; a server never sends one. Its version
         * is lost with it, which at worst replays a few events later. */
        dtk_log(DTK_LOG_DEBUG, NULL, "Informer skipped an event",
                "informer=%s reason=\"%s\"", inf->name,
                dtk_error_last()->message);
        dtk_error_clear();
        count(inf, &inf->stats.skipped);
        return 0;
    }
    if (ev->type == DTK_KUBE_DELETED) {
        dtk_indexer_remove(&old, inf->store, dtk_object_key(obj));
        set_rv(inf, dtk_object_resource_version(obj), 1);
        dtk_informer__on_delete(inf, obj, 0);
    } else {
        /* ADDED for a cached key (or MODIFIED for an unknown one) is
         * delivered by what the cache held, as client-go does. */
        dtk_indexer_put(&old, inf->store, obj);
        set_rv(inf, dtk_object_resource_version(obj), 1);
        if (old != NULL) {
            dtk_informer__on_update(inf, old, obj);
        } else {
            dtk_informer__on_add(inf, obj);
        }
    }
    dtk_object_unref(old);
    dtk_object_unref(obj);
    return 0;
}

static int on_event(dtk_kube_event *ev, void *payload)
{
    watch_ctx *w = payload;

    if (w->inf->stopping) {
        return 1;
    }
    w->events++;
    apply_event(w->inf, ev);
    dtk_informer__maybe_resync(w->inf);
    return 0;
}

/* One watch from the last version. *events_out: events received;
 * *timeout_out: the timeoutSeconds asked for. */
static int watch_once(dtk_informer *inf,
                      uint64_t *events_out,
                      long *timeout_out)
{
    dtk_kube_watch_options wo = DTK_KUBE_WATCH_OPTIONS_INIT;
    watch_ctx w = {inf, 0};
    char *rv = dtk_strdup(last_rv(inf));
    long timeout_s =
        WATCH_TIMEOUT_MIN_S + (long)(rand_r(&inf->seed) % WATCH_TIMEOUT_SPAN_S);
    int error;

    if (inf->next_resync_ms != 0) {
        int64_t left_ms = inf->next_resync_ms - dtk_clock_now_ms();
        long left_s = (long)((left_ms + 999) / 1000);

        if (left_s < timeout_s) {
            timeout_s = left_s > 1 ? left_s : 1;
        }
    }
    wo.resource_version = rv;
    wo.label_selector = inf->label_selector;
    wo.field_selector = inf->field_selector;
    wo.timeout_seconds = timeout_s;
    wo.allow_bookmarks = 1;
    count(inf, &inf->stats.watches);
    error = dtk_kube_watch(inf->client, &inf->gvr, inf->ns, &wo, on_event, &w);
    *events_out = w.events;
    *timeout_out = timeout_s;
    dtk_free(rv);
    return error;
}

/* ---- The thread ---------------------------------------------------------- */

static void *informer_main(void *arg)
{
    dtk_informer *inf = arg;
    int need_list = 1;
    int expired_without_events = 0;

    if (inf->resync_ms > 0) {
        inf->next_resync_ms = dtk_clock_now_ms() + inf->resync_ms;
    }
    while (!inf->stopping) {
        uint64_t events = 0;
        int64_t started_ms, elapsed_ms;
        long timeout_s = 0;
        int error;

        if (need_list) {
            error = list_and_replace(inf);
            if (inf->stopping) {
                break;
            }
            if (error < 0) {
                report(inf, &inf->stats.list_errors, error);
                backoff_wait(inf);
                continue;
            }
            need_list = 0;
        }
        started_ms = dtk_clock_now_ms();
        error = watch_once(inf, &events, &timeout_s);
        elapsed_ms = dtk_clock_now_ms() - started_ms;
        if (inf->stopping) {
            break;
        }
        dtk_informer__maybe_resync(inf);
        if (error == DTK_EGONE) {
            /* Relist. Twice in a row without a single event in between
             * means the server cannot serve what it just listed: back off
             * rather than spin. */
            report(inf, &inf->stats.expired, error);
            need_list = 1;
            if (events == 0 && expired_without_events++ > 0) {
                backoff_wait(inf);
            }
            continue;
        }
        expired_without_events = 0;
        if (error < 0) {
            report(inf, &inf->stats.watch_errors, error);
            backoff_wait(inf);
        } else if (events == 0 && elapsed_ms < SHORT_WATCH_MS &&
                   elapsed_ms < timeout_s * 500) {
            /* client-go's "very short watch": a server closing watches at
             * once must not be hammered. */
            dtk_error_set(DTK_ERRCLASS_KUBE,
                          "informer '%s': watch closed at once without "
                          "events",
                          inf->name);
            report(inf, &inf->stats.watch_errors, DTK_EUNAVAIL);
            backoff_wait(inf);
        }
    }
    return NULL;
}

int dtk_informer_start(dtk_informer *inf)
{
    int error;

    pthread_mutex_lock(&inf->mu);
    if (inf->started) {
        pthread_mutex_unlock(&inf->mu);
        dtk_error_set(DTK_ERRCLASS_INVALID, "informer '%s': already started",
                      inf->name);
        return DTK_EINVALID;
    }
    pthread_mutex_unlock(&inf->mu);
    error = dtk_kube_client_new(&inf->client, inf->config);
    if (error < 0) {
        return error;
    }
    dtk_kube_client_set_cancel(inf->client, &inf->stopping);
    inf->seed = (unsigned int)dtk_clock_now_ms() ^ (unsigned int)(size_t)inf;
    pthread_mutex_lock(&inf->mu);
    inf->started = 1;
    pthread_mutex_unlock(&inf->mu);
    if (pthread_create(&inf->thread, NULL, informer_main, inf) != 0) {
        pthread_mutex_lock(&inf->mu);
        inf->started = 0;
        pthread_mutex_unlock(&inf->mu);
        dtk_kube_client_free(inf->client);
        inf->client = NULL;
        dtk_error_set(DTK_ERRCLASS_OS, "informer '%s': cannot start a thread",
                      inf->name);
        return DTK_ERROR;
    }
    return 0;
}

void dtk_informer_stop(dtk_informer *inf)
{
    int join;

    pthread_mutex_lock(&inf->mu);
    inf->stopping = 1;
    pthread_cond_broadcast(&inf->cond);
    join = inf->started && !inf->joined;
    inf->joined = inf->joined || inf->started;
    pthread_mutex_unlock(&inf->mu);
    if (join) {
        pthread_join(inf->thread, NULL);
    }
}

/* The event recorder (see events.h): correlation on the caller's thread,
 * writes on one sender thread.
 *
 * State, all guarded by one mutex (held only for in-memory work):
 *   events  event key (source, object, type, reason, message) -> entry:
 *           the Event's name, its count, first timestamp, when it was last
 *           seen, whether it was ever queued, and the queued write for it
 *           (if any, not yet taken by the sender). LRU-bounded.
 *   spam    spam key (source, object) -> token bucket. LRU-bounded.
 *   queue   FIFO of writes, bounded.
 * A write ("item") carries copies of everything needed to POST the whole
 * Event, so a PATCH that finds the Event gone can create it instead, and a
 * write never points into the caches (entries may be evicted while it
 * waits); an entry finds its queued write by pointer, cleared by the sender
 * when it takes the write.
 *
 * Deliberately not done: client-go's aggregation of similar events (same
 * reason, different messages) into "(combined from similar events)"; the
 * per-object spam filter already bounds what such events can cost.
 */
#include "pkg/kube/events.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/clock.h"
#include "pkg/base/error.h"
#include "pkg/base/log.h"
#include "pkg/base/map.h"

#define DEFAULT_QUEUE_SIZE         1000
#define DEFAULT_SPAM_BURST         25
#define DEFAULT_SPAM_REFILL_MS     INT64_C(300000)
#define DEFAULT_DEDUPE_WINDOW_MS   INT64_C(600000)
#define DEFAULT_CACHE_SIZE         4096
#define DEFAULT_MAX_ATTEMPTS       12
#define DEFAULT_RETRY_BASE_MS      1000
#define DEFAULT_RETRY_MAX_MS       10000
#define DEFAULT_REQUEST_TIMEOUT_MS 10000L
#define NAME_MAX_LEN               253
#define FIELD_MAX                  128
#define EVENT_RESPONSE_LIMIT       ((size_t)256 * 1024)
#define KEY_SEP                    "\x1f"

typedef struct lru_node {
    struct lru_node *prev, *next;
} lru_node;

typedef struct item item;

typedef struct entry {
    lru_node lru; /* first member: node <-> entry */
    char *key;
    char *name; /* the Event's metadata.name */
    int64_t count;
    char first_ts[40];
    int64_t last_seen_ms;
    int sent;      /* a write for this Event was queued at least once */
    item *pending; /* the queued, not yet taken, write */
} entry;

typedef struct bucket {
    lru_node lru;
    char *key;
    double tokens;
    int64_t refilled_ms;
} bucket;

struct item {
    item *next;
    int patch; /* 0: POST the whole Event */
    char *ns;
    char *name;
    char *api_version, *kind, *obj_ns, *obj_name, *uid, *resource_version;
    char *type, *reason, *message;
    char first_ts[40];
    char last_ts[40];
    int64_t count;
    entry *owner; /* guarded by mu; NULL once taken or evicted */
};

struct dtk_kube_recorder {
    dtk_kube_config *config;
    dtk_kube_client *client; /* sender thread only */
    char *component;
    char *instance;
    size_t queue_size;
    int spam_burst;
    int64_t spam_refill_ms;
    int64_t dedupe_window_ms;
    size_t cache_size;
    int max_attempts;
    int64_t retry_base_ms;
    int64_t retry_max_ms;
    long request_timeout_ms;

    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;
    pthread_cond_t wake; /* sender: work or stop */
    pthread_cond_t idle; /* flushers: queue empty and nothing in flight */
    /* Everything below is guarded by mu. */
    int stopping;
    int in_flight;
    item *head, *tail;
    size_t queued;
    dtk_map events;
    lru_node events_lru; /* most recent first */
    dtk_map spam;
    lru_node spam_lru;
    int64_t last_name_ns;
    dtk_kube_recorder_stats stats;
};

/* ---- small helpers --------------------------------------------------------
 */

static void lru_init(lru_node *head)
{
    head->prev = head->next = head;
}

static void lru_unlink(lru_node *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}

static void lru_push_front(lru_node *head, lru_node *n)
{
    n->next = head->next;
    n->prev = head;
    head->next->prev = n;
    head->next = n;
}

static void lru_touch(lru_node *head, lru_node *n)
{
    lru_unlink(n);
    lru_push_front(head, n);
}

static char *dup_or_null(const char *s)
{
    return s != NULL && *s != '\0' ? dtk_strdup(s) : NULL;
}

static void item_free(item *it)
{
    if (it == NULL) {
        return;
    }
    dtk_free(it->ns);
    dtk_free(it->name);
    dtk_free(it->api_version);
    dtk_free(it->kind);
    dtk_free(it->obj_ns);
    dtk_free(it->obj_name);
    dtk_free(it->uid);
    dtk_free(it->resource_version);
    dtk_free(it->type);
    dtk_free(it->reason);
    dtk_free(it->message);
    dtk_free(it);
}

static void entry_free(entry *e)
{
    if (e->pending != NULL) {
        e->pending->owner = NULL;
    }
    dtk_free(e->key);
    dtk_free(e->name);
    dtk_free(e);
}

/* Length of the longest prefix of s (at most max bytes) that does not end
 * inside a UTF-8 sequence, and a copy with invalid bytes replaced by '?'. */
static char *clean_message(const char *s)
{
    size_t len = strlen(s);
    char *out;
    size_t i = 0, o = 0;

    if (len > DTK_KUBE_EVENT_MESSAGE_MAX) {
        len = DTK_KUBE_EVENT_MESSAGE_MAX;
    }
    out = dtk_malloc(len + 1);
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        size_t n = c < 0x80             ? 1
                   : (c & 0xe0) == 0xc0 ? 2
                   : (c & 0xf0) == 0xe0 ? 3
                   : (c & 0xf8) == 0xf0 ? 4
                                        : 0;
        size_t k;

        if (n == 0 || (n == 2 && c < 0xc2) || (n == 4 && c > 0xf4)) {
            out[o++] = '?';
            i++;
            continue;
        }
        if (i + n > len) {
            break; /* cut inside a character: drop the partial one */
        }
        for (k = 1; k < n; k++) {
            if (((unsigned char)s[i + k] & 0xc0) != 0x80) {
                break;
            }
        }
        if (k < n) {
            out[o++] = '?';
            i++;
            continue;
        }
        memcpy(out + o, s + i, n);
        o += n;
        i += n;
    }
    out[o] = '\0';
    return out;
}

static int64_t realtime_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* "<object name>.<hex ns>" (client-go's makeEvent), unique within this
 * recorder, cut to the 253 bytes a name may have. Called under mu. */
static char *new_event_name(dtk_kube_recorder *rec, const char *obj_name)
{
    dtk_buf b = DTK_BUF_INIT(0);
    char suffix[24];
    int64_t ns = realtime_ns();
    size_t room;
    int n;

    if (ns <= rec->last_name_ns) {
        ns = rec->last_name_ns + 1;
    }
    rec->last_name_ns = ns;
    n = snprintf(suffix, sizeof(suffix), ".%llx", (unsigned long long)ns);
    dtk_assert(n > 0 && (size_t)n < sizeof(suffix)); /* 17 bytes at most */
    room = NAME_MAX_LEN - strlen(suffix);
    dtk_buf_put(&b, obj_name,
                strlen(obj_name) < room ? strlen(obj_name) : room);
    dtk_buf_puts(&b, suffix);
    return dtk_buf_detach(&b);
}

static int check_field(const char *what, const char *value, int required)
{
    if (value == NULL || *value == '\0') {
        if (!required) {
            return 0;
        }
        dtk_error_set(DTK_ERRCLASS_INVALID, "%s: required", what);
        return DTK_EINVALID;
    }
    if (strlen(value) > NAME_MAX_LEN) {
        dtk_error_set(DTK_ERRCLASS_INVALID, "%s: longer than %d bytes", what,
                      NAME_MAX_LEN);
        return DTK_EINVALID;
    }
    return 0;
}

/* ---- the correlator (caller's thread, under mu) ----------------------- */

static void evict_events(dtk_kube_recorder *rec)
{
    while (dtk_map_len(&rec->events) > rec->cache_size) {
        entry *e = (entry *)rec->events_lru.prev;

        lru_unlink(&e->lru);
        dtk_map_remove(&rec->events, e->key);
        entry_free(e);
    }
}

static void evict_spam(dtk_kube_recorder *rec)
{
    while (dtk_map_len(&rec->spam) > rec->cache_size) {
        bucket *b = (bucket *)rec->spam_lru.prev;

        lru_unlink(&b->lru);
        dtk_map_remove(&rec->spam, b->key);
        dtk_free(b->key);
        dtk_free(b);
    }
}

/* Takes a token from the object's bucket; 0 when there is none. */
static int spam_take(dtk_kube_recorder *rec, const char *key, int64_t now)
{
    bucket *b = dtk_map_get(&rec->spam, key);

    if (b == NULL) {
        b = dtk_calloc(1, sizeof(*b));
        b->key = dtk_strdup(key);
        b->tokens = rec->spam_burst;
        b->refilled_ms = now;
        lru_init(&b->lru);
        dtk_map_put(&rec->spam, key, b);
        lru_push_front(&rec->spam_lru, &b->lru);
        evict_spam(rec);
    } else {
        lru_touch(&rec->spam_lru, &b->lru);
    }
    b->tokens += (double)(now - b->refilled_ms) / (double)rec->spam_refill_ms;
    if (b->tokens > rec->spam_burst) {
        b->tokens = rec->spam_burst;
    }
    b->refilled_ms = now;
    if (b->tokens < 1.0) {
        return 0;
    }
    b->tokens -= 1.0;
    return 1;
}

static item *new_item(const entry *e,
                      const dtk_kube_object_ref *ref,
                      const char *type,
                      const char *reason,
                      const char *message,
                      const char *now_ts)
{
    item *it = dtk_calloc(1, sizeof(*it));

    it->patch = e->sent;
    it->ns = dtk_strdup(ref->namespace != NULL && *ref->namespace != '\0'
                            ? ref->namespace
                            : "default");
    it->name = dtk_strdup(e->name);
    it->api_version = dtk_strdup(ref->api_version);
    it->kind = dtk_strdup(ref->kind);
    it->obj_ns = dup_or_null(ref->namespace);
    it->obj_name = dtk_strdup(ref->name);
    it->uid = dup_or_null(ref->uid);
    it->resource_version = dup_or_null(ref->resource_version);
    it->type = dtk_strdup(type);
    it->reason = dtk_strdup(reason);
    it->message = dtk_strdup(message);
    memcpy(it->first_ts, e->first_ts, sizeof(it->first_ts));
    memcpy(it->last_ts, now_ts, sizeof(it->last_ts));
    it->count = e->count;
    return it;
}

int dtk_kube_recorder_event(dtk_kube_recorder *rec,
                            const dtk_kube_object_ref *ref,
                            const char *type,
                            const char *reason,
                            const char *message)
{
    dtk_buf spam_key = DTK_BUF_INIT(0);
    dtk_buf key = DTK_BUF_INIT(0);
    char *msg = NULL;
    char now_ts[40];
    int64_t now;
    entry *e;
    int error = 0;

    if (type == NULL || (strcmp(type, DTK_KUBE_EVENT_NORMAL) != 0 &&
                         strcmp(type, DTK_KUBE_EVENT_WARNING) != 0)) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "type: expected 'Normal' or 'Warning'");
        return DTK_EINVALID;
    }
    if (reason == NULL || *reason == '\0' ||
        strlen(reason) > DTK_KUBE_EVENT_REASON_MAX) {
        dtk_error_set(DTK_ERRCLASS_INVALID, "reason: expected 1 to %d bytes",
                      DTK_KUBE_EVENT_REASON_MAX);
        return DTK_EINVALID;
    }
    if (ref == NULL) {
        dtk_error_set(DTK_ERRCLASS_INVALID, "object: required");
        return DTK_EINVALID;
    }
    error = check_field("object apiVersion", ref->api_version, 1);
    if (error == 0) {
        error = check_field("object kind", ref->kind, 1);
    }
    if (error == 0) {
        error = check_field("object name", ref->name, 1);
    }
    if (error == 0) {
        error = check_field("object namespace", ref->namespace, 0);
    }
    if (error == 0) {
        error = check_field("object uid", ref->uid, 0);
    }
    if (error == 0) {
        error = check_field("object resourceVersion", ref->resource_version, 0);
    }
    if (error < 0) {
        return error;
    }
    msg = clean_message(message != NULL ? message : "");
    dtk_buf_printf(&spam_key,
                   "%s" KEY_SEP "%s" KEY_SEP "%s" KEY_SEP "%s" KEY_SEP
                   "%s" KEY_SEP "%s" KEY_SEP "%s",
                   rec->component, rec->instance, ref->kind,
                   ref->namespace ? ref->namespace : "", ref->name,
                   ref->uid ? ref->uid : "", ref->api_version);
    dtk_buf_printf(&key, "%s" KEY_SEP "%s" KEY_SEP "%s" KEY_SEP "%s",
                   dtk_buf_cstr(&spam_key), type, reason, msg);
    dtk_clock_rfc3339(now_ts, sizeof(now_ts), 0);
    now = dtk_clock_now_ms();

    pthread_mutex_lock(&rec->mu);
    if (rec->stopping) {
        pthread_mutex_unlock(&rec->mu);
        dtk_error_set(DTK_ERRCLASS_KUBE, "event recorder: stopped");
        error = DTK_ESHUTDOWN;
        goto out;
    }
    rec->stats.recorded++;
    e = dtk_map_get(&rec->events, key.ptr);
    if (e != NULL && now - e->last_seen_ms <= rec->dedupe_window_ms) {
        /* A repeat: the same Event, one more occurrence. */
        e->count++;
        e->last_seen_ms = now;
        lru_touch(&rec->events_lru, &e->lru);
        if (e->pending != NULL) {
            e->pending->count = e->count;
            memcpy(e->pending->last_ts, now_ts, sizeof(e->pending->last_ts));
            rec->stats.coalesced++;
            goto unlock;
        }
    } else {
        /* New, or last seen too long ago: a new Event. */
        if (e == NULL) {
            e = dtk_calloc(1, sizeof(*e));
            e->key = dtk_strdup(key.ptr);
            lru_init(&e->lru);
            dtk_map_put(&rec->events, key.ptr, e);
            lru_push_front(&rec->events_lru, &e->lru);
        } else {
            if (e->pending != NULL) {
                e->pending->owner = NULL;
                e->pending = NULL;
            }
            dtk_free(e->name);
            lru_touch(&rec->events_lru, &e->lru);
        }
        e->name = new_event_name(rec, ref->name);
        e->count = 1;
        e->sent = 0;
        e->last_seen_ms = now;
        memcpy(e->first_ts, now_ts, sizeof(e->first_ts));
    }
    if (!spam_take(rec, spam_key.ptr, now)) {
        rec->stats.spam_dropped++;
        goto evict;
    }
    if (rec->queued >= rec->queue_size) {
        rec->stats.queue_dropped++;
        dtk_error_set(DTK_ERRCLASS_KUBE,
                      "event recorder: queue full (%zu events)",
                      rec->queue_size);
        error = DTK_EUNAVAIL;
        goto evict;
    }
    {
        item *it = new_item(e, ref, type, reason, msg, now_ts);

        it->owner = e;
        e->pending = it;
        e->sent = 1;
        if (rec->tail != NULL) {
            rec->tail->next = it;
        } else {
            rec->head = it;
        }
        rec->tail = it;
        rec->queued++;
        pthread_cond_signal(&rec->wake);
    }
evict:
    evict_events(rec);
unlock:
    pthread_mutex_unlock(&rec->mu);
out:
    dtk_free(msg);
    dtk_buf_dispose(&spam_key);
    dtk_buf_dispose(&key);
    return error;
}

int dtk_kube_recorder_eventf(dtk_kube_recorder *rec,
                             const dtk_kube_object_ref *ref,
                             const char *type,
                             const char *reason,
                             const char *fmt,
                             ...)
{
    dtk_buf msg = DTK_BUF_INIT(DTK_KUBE_EVENT_MESSAGE_MAX * 4);
    va_list ap;
    int error;

    va_start(ap, fmt);
    error = dtk_buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    if (error == DTK_ETOOBIG) {
        /* Only the first DTK_KUBE_EVENT_MESSAGE_MAX bytes are kept anyway;
         * format into a larger buffer once to keep them. */
        dtk_buf big = DTK_BUF_INIT(0);

        va_start(ap, fmt);
        error = dtk_buf_vprintf(&big, fmt, ap);
        va_end(ap);
        dtk_buf_dispose(&msg);
        msg = big;
    }
    if (error == 0) {
        error =
            dtk_kube_recorder_event(rec, ref, type, reason, dtk_buf_cstr(&msg));
    }
    dtk_buf_dispose(&msg);
    return error;
}

/* ---- the sender thread -------------------------------------------------- */

static void set_string(dtk_json *obj, const char *key, const char *value)
{
    if (value != NULL) {
        dtk_json_set(obj, key, dtk_json_new_string(value));
    }
}

static dtk_json *event_body(const dtk_kube_recorder *rec, const item *it)
{
    dtk_json *ev = dtk_json_new_object();
    dtk_json *meta = dtk_json_new_object();
    dtk_json *involved = dtk_json_new_object();
    dtk_json *source = dtk_json_new_object();

    set_string(ev, "apiVersion", "v1");
    set_string(ev, "kind", "Event");
    set_string(meta, "name", it->name);
    set_string(meta, "namespace", it->ns);
    dtk_json_set(ev, "metadata", meta);
    set_string(involved, "apiVersion", it->api_version);
    set_string(involved, "kind", it->kind);
    set_string(involved, "namespace", it->obj_ns);
    set_string(involved, "name", it->obj_name);
    set_string(involved, "uid", it->uid);
    set_string(involved, "resourceVersion", it->resource_version);
    dtk_json_set(ev, "involvedObject", involved);
    set_string(ev, "type", it->type);
    set_string(ev, "reason", it->reason);
    set_string(ev, "message", it->message);
    set_string(source, "component", rec->component);
    dtk_json_set(ev, "source", source);
    set_string(ev, "firstTimestamp", it->first_ts);
    set_string(ev, "lastTimestamp", it->last_ts);
    dtk_json_set(ev, "count", dtk_json_new_int(it->count));
    set_string(ev, "reportingComponent", rec->component);
    set_string(ev, "reportingInstance", rec->instance);
    return ev;
}

static int send_json(dtk_kube_recorder *rec,
                     const char *method,
                     const char *path,
                     const char *content_type,
                     const dtk_json *body)
{
    dtk_kube_call call = DTK_KUBE_CALL_INIT;
    dtk_buf text = DTK_BUF_INIT(0);
    int error = dtk_json_write(&text, body);

    if (error < 0) {
        goto out;
    }
    call.method = method;
    call.path = path;
    call.content_type = content_type;
    call.body = text.ptr;
    call.body_len = text.len;
    call.timeout_ms = rec->request_timeout_ms;
    call.response_limit = EVENT_RESPONSE_LIMIT;
    call.max_attempts = 1; /* this thread's own retry loop decides */
    error = dtk_kube_do(NULL, rec->client, &call);
out:
    dtk_buf_dispose(&text);
    return error;
}

/* One attempt: PATCH (count, lastTimestamp) or POST; a PATCH of a missing
 * Event becomes a POST of the whole Event. Sets *created. */
static int send_once(dtk_kube_recorder *rec, const item *it, int *created)
{
    dtk_buf path = DTK_BUF_INIT(0);
    dtk_json *body = NULL;
    int error;

    *created = 0;
    if (it->patch) {
        body = dtk_json_new_object();
        dtk_json_set(body, "count", dtk_json_new_int(it->count));
        dtk_json_set(body, "lastTimestamp", dtk_json_new_string(it->last_ts));
        error = dtk_kube_gvr_path(&path, &dtk_kube_gvr_events, it->ns, it->name,
                                  NULL);
        if (error == 0) {
            error = send_json(rec, "PATCH", path.ptr,
                              "application/merge-patch+json", body);
        }
        if (error != DTK_ENOTFOUND) {
            goto out;
        }
        dtk_json_free(body);
        dtk_buf_reset(&path);
    }
    body = event_body(rec, it);
    error = dtk_kube_gvr_path(&path, &dtk_kube_gvr_events, it->ns, NULL, NULL);
    if (error == 0) {
        error = send_json(rec, "POST", path.ptr, NULL, body);
    }
    *created = error == 0;
out:
    dtk_json_free(body);
    dtk_buf_dispose(&path);
    return error;
}

/* Waits up to ms or until stop; returns 1 when stopping. Called under mu. */
static int wait_locked(dtk_kube_recorder *rec, int64_t ms)
{
    int64_t deadline = dtk_clock_now_ms() + ms;

    while (!rec->stopping && dtk_clock_now_ms() < deadline) {
        struct timespec ts;

        ts.tv_sec = (time_t)(deadline / 1000);
        ts.tv_nsec = (long)(deadline % 1000) * 1000000L;
        pthread_cond_timedwait(&rec->wake, &rec->mu, &ts);
    }
    return rec->stopping;
}

static void deliver(dtk_kube_recorder *rec, item *it)
{
    int64_t backoff = rec->retry_base_ms;

    for (int attempt = 1;; attempt++) {
        int created = 0;
        int error = send_once(rec, it, &created);
        int stop;

        pthread_mutex_lock(&rec->mu);
        if (error == 0) {
            if (created) {
                rec->stats.created++;
            } else {
                rec->stats.patched++;
            }
            pthread_mutex_unlock(&rec->mu);
            return;
        }
        /* Only an unreachable, overloaded or slow server is worth waiting
         * for; anything it rejected will be rejected again. */
        if ((error != DTK_EUNAVAIL && error != DTK_ETIMEOUT) ||
            attempt >= rec->max_attempts) {
            rec->stats.failed++;
            pthread_mutex_unlock(&rec->mu);
            dtk_log(DTK_LOG_DEBUG, NULL, "Dropping event",
                    "object=%s/%s reason=%s attempts=%d error=\"%s\"", it->ns,
                    it->obj_name, it->reason, attempt,
                    dtk_error_last()->message);
            return;
        }
        rec->stats.retries++;
        stop = wait_locked(rec, backoff);
        pthread_mutex_unlock(&rec->mu);
        if (stop) {
            return;
        }
        backoff =
            backoff * 2 > rec->retry_max_ms ? rec->retry_max_ms : backoff * 2;
    }
}

static void *sender_main(void *arg)
{
    dtk_kube_recorder *rec = arg;

    pthread_mutex_lock(&rec->mu);
    for (;;) {
        item *it;

        while (rec->head == NULL && !rec->stopping) {
            rec->in_flight = 0;
            pthread_cond_broadcast(&rec->idle);
            pthread_cond_wait(&rec->wake, &rec->mu);
        }
        if (rec->stopping) {
            break;
        }
        it = rec->head;
        rec->head = it->next;
        if (rec->head == NULL) {
            rec->tail = NULL;
        }
        rec->queued--;
        /* From here on repeats queue a new write: this one is in flight. */
        if (it->owner != NULL) {
            it->owner->pending = NULL;
            it->owner = NULL;
        }
        rec->in_flight = 1;
        pthread_mutex_unlock(&rec->mu);
        deliver(rec, it);
        item_free(it);
        pthread_mutex_lock(&rec->mu);
    }
    rec->in_flight = 0;
    pthread_cond_broadcast(&rec->idle);
    pthread_mutex_unlock(&rec->mu);
    return NULL;
}

/* ---- public ---------------------------------------------------------------
 */

int dtk_kube_object_ref_from(dtk_kube_object_ref *out, const dtk_json *object)
{
    static const char *const meta[] = {"metadata", NULL};
    const dtk_json *m = dtk_json_path(object, meta);

    memset(out, 0, sizeof(*out));
    out->api_version = dtk_json_get_string(object, "apiVersion");
    out->kind = dtk_json_get_string(object, "kind");
    out->namespace = dtk_json_get_string(m, "namespace");
    out->name = dtk_json_get_string(m, "name");
    out->uid = dtk_json_get_string(m, "uid");
    out->resource_version = dtk_json_get_string(m, "resourceVersion");
    if (out->api_version == NULL || *out->api_version == '\0') {
        dtk_error_set(DTK_ERRCLASS_INVALID, "apiVersion: required");
        return DTK_EINVALID;
    }
    if (out->kind == NULL || *out->kind == '\0') {
        dtk_error_set(DTK_ERRCLASS_INVALID, "kind: required");
        return DTK_EINVALID;
    }
    if (out->name == NULL || *out->name == '\0') {
        dtk_error_set(DTK_ERRCLASS_INVALID, "metadata.name: required");
        return DTK_EINVALID;
    }
    return 0;
}

static int check_options(const dtk_kube_recorder_options *o)
{
    if (o->component == NULL || *o->component == '\0' ||
        strlen(o->component) > FIELD_MAX) {
        dtk_error_set(DTK_ERRCLASS_INVALID, "component: expected 1 to %d bytes",
                      FIELD_MAX);
        return DTK_EINVALID;
    }
    if (o->instance != NULL &&
        (*o->instance == '\0' || strlen(o->instance) > FIELD_MAX)) {
        dtk_error_set(DTK_ERRCLASS_INVALID, "instance: expected 1 to %d bytes",
                      FIELD_MAX);
        return DTK_EINVALID;
    }
    if (o->spam_burst < 0 || o->spam_refill_ms < 0 || o->dedupe_window_ms < 0 ||
        o->max_attempts < 0 || o->retry_base_ms < 0 || o->retry_max_ms < 0 ||
        o->request_timeout_ms < 0) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "event recorder options: negative value");
        return DTK_EINVALID;
    }
    return 0;
}

int dtk_kube_recorder_new(dtk_kube_recorder **out,
                          dtk_kube_config *config,
                          const dtk_kube_recorder_options *options)
{
    dtk_kube_recorder *rec = NULL;
    pthread_condattr_t attr;
    char host[256];
    int error;

    *out = NULL;
    error = check_options(options);
    if (error < 0) {
        return error;
    }
    rec = dtk_calloc(1, sizeof(*rec));
    rec->config = config;
    rec->component = dtk_strdup(options->component);
    if (options->instance != NULL) {
        rec->instance = dtk_strdup(options->instance);
    } else {
        if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0') {
            memcpy(host, "unknown", sizeof("unknown"));
        }
        host[FIELD_MAX] = '\0';
        rec->instance = dtk_strdup(host);
    }
    rec->queue_size =
        options->queue_size ? options->queue_size : DEFAULT_QUEUE_SIZE;
    rec->spam_burst =
        options->spam_burst ? options->spam_burst : DEFAULT_SPAM_BURST;
    rec->spam_refill_ms = options->spam_refill_ms ? options->spam_refill_ms
                                                  : DEFAULT_SPAM_REFILL_MS;
    rec->dedupe_window_ms = options->dedupe_window_ms
                                ? options->dedupe_window_ms
                                : DEFAULT_DEDUPE_WINDOW_MS;
    rec->cache_size =
        options->cache_size ? options->cache_size : DEFAULT_CACHE_SIZE;
    rec->max_attempts =
        options->max_attempts ? options->max_attempts : DEFAULT_MAX_ATTEMPTS;
    rec->retry_base_ms =
        options->retry_base_ms ? options->retry_base_ms : DEFAULT_RETRY_BASE_MS;
    rec->retry_max_ms =
        options->retry_max_ms ? options->retry_max_ms : DEFAULT_RETRY_MAX_MS;
    rec->request_timeout_ms = options->request_timeout_ms
                                  ? options->request_timeout_ms
                                  : DEFAULT_REQUEST_TIMEOUT_MS;
    lru_init(&rec->events_lru);
    lru_init(&rec->spam_lru);
    pthread_mutex_init(&rec->mu, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&rec->wake, &attr);
    pthread_cond_init(&rec->idle, &attr);
    pthread_condattr_destroy(&attr);
    error = dtk_kube_client_new(&rec->client, config);
    if (error < 0) {
        goto out;
    }
    if (pthread_create(&rec->thread, NULL, sender_main, rec) != 0) {
        dtk_error_set(DTK_ERRCLASS_OS, "event recorder thread");
        error = DTK_ERROR;
        goto out;
    }
    rec->thread_started = 1;
    *out = rec;
    rec = NULL;
out:
    dtk_kube_recorder_free(rec);
    return error;
}

void dtk_kube_recorder_free(dtk_kube_recorder *rec)
{
    size_t iter = 0;
    void *value;
    size_t dropped;

    if (rec == NULL) {
        return;
    }
    pthread_mutex_lock(&rec->mu);
    rec->stopping = 1;
    pthread_cond_broadcast(&rec->wake);
    pthread_mutex_unlock(&rec->mu);
    if (rec->thread_started) {
        pthread_join(rec->thread, NULL);
    }
    dropped = rec->queued;
    while (rec->head != NULL) {
        item *it = rec->head;

        rec->head = it->next;
        item_free(it);
    }
    if (dropped > 0) {
        dtk_log(DTK_LOG_DEBUG, NULL, "Dropping queued events at shutdown",
                "count=%zu", dropped);
    }
    while (dtk_map_next(&rec->events, &iter, NULL, &value)) {
        entry *e = value;

        e->pending = NULL; /* the items are gone already */
        entry_free(e);
    }
    dtk_map_dispose(&rec->events);
    iter = 0;
    while (dtk_map_next(&rec->spam, &iter, NULL, &value)) {
        bucket *b = value;

        dtk_free(b->key);
        dtk_free(b);
    }
    dtk_map_dispose(&rec->spam);
    dtk_kube_client_free(rec->client);
    pthread_cond_destroy(&rec->wake);
    pthread_cond_destroy(&rec->idle);
    pthread_mutex_destroy(&rec->mu);
    dtk_free(rec->component);
    dtk_free(rec->instance);
    dtk_free(rec);
}

int dtk_kube_recorder_flush(dtk_kube_recorder *rec, int64_t timeout_ms)
{
    int64_t deadline = dtk_clock_now_ms() + timeout_ms;
    int error = 0;

    pthread_mutex_lock(&rec->mu);
    while ((rec->head != NULL || rec->in_flight) && !rec->stopping) {
        struct timespec ts;

        if (dtk_clock_now_ms() >= deadline) {
            dtk_error_set(DTK_ERRCLASS_KUBE,
                          "event recorder: %zu events still pending after "
                          "%lld ms",
                          rec->queued + (size_t)rec->in_flight,
                          (long long)timeout_ms);
            error = DTK_ETIMEOUT;
            break;
        }
        ts.tv_sec = (time_t)(deadline / 1000);
        ts.tv_nsec = (long)(deadline % 1000) * 1000000L;
        pthread_cond_timedwait(&rec->idle, &rec->mu, &ts);
    }
    pthread_mutex_unlock(&rec->mu);
    return error;
}

void dtk_kube_recorder_stats_get(dtk_kube_recorder *rec,
                                 dtk_kube_recorder_stats *out)
{
    pthread_mutex_lock(&rec->mu);
    *out = rec->stats;
    pthread_mutex_unlock(&rec->mu);
}

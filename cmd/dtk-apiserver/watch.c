/* Watch streams.
 *
 * A watch is a chunked response whose reader runs on the connection's own
 * thread: it takes the store lock, turns history events after its cursor
 * into newline-delimited JSON in a pending buffer, and hands bytes to the
 * HTTP layer, waiting on the store's condition variable when there is
 * nothing to send. Event texts are cached at commit time, so a plain watch
 * only copies bytes; selector-filtered watches parse the old and new state to
 * turn "stopped matching" into DELETED and "started matching" into ADDED, as
 * the kube-apiserver watch cache does. A cursor that falls out of the
 * history window (compaction) ends the stream with an ERROR 410 Expired
 * event, which is exactly what a real server does for a too-old version.
 */
#include "cmd/dtk-apiserver/apiserver.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pkg/base/alloc.h"
#include "pkg/base/clock.h"
#include "pkg/base/error.h"

#define PENDING_HIGH_WATER (64 * 1024)

typedef struct watcher {
    dtk_apiserver *s;
    char *group, *version, *resource;
    dtk_bucket *bucket;
    char *ns;   /* NULL: all namespaces */
    char *name; /* NULL: all names */
    dtk_filter *filter;
    int table;
    int bookmarks;
    int initial_end_bookmark;
    int64_t cursor;
    int64_t deadline_ms;
    int64_t next_bookmark_ms;
    unsigned epoch;
    char **initial; /* texts of synthetic ADDED events still to send */
    size_t initial_len, initial_pos;
    int initial_done;
    dtk_buf pending;
    size_t sent; /* bytes of pending already handed out */
    int done;
} watcher;

static void watcher_free(void *payload)
{
    watcher *w = payload;

    for (size_t i = w->initial_pos; i < w->initial_len; i++) {
        dtk_free(w->initial[i]);
    }
    dtk_free(w->initial);
    dtk_free(w->group);
    dtk_free(w->version);
    dtk_free(w->resource);
    dtk_free(w->ns);
    dtk_free(w->name);
    dtk_filter_free(w->filter);
    dtk_buf_dispose(&w->pending);
    dtk_free(w);
}

static const char *type_name(dtk_event_type t)
{
    switch (t) {
    case DTK_EV_ADDED:
        return "ADDED";
    case DTK_EV_MODIFIED:
        return "MODIFIED";
    default:
        return "DELETED";
    }
}

/* Does the object (as text, possibly parsed into *parsed) pass the watch's
 * namespace, name and selector filters? */
static int passes(watcher *w, const char *ns, const char *name,
                  const char *text, dtk_json **parsed)
{
    if (w->ns != NULL && strcmp(w->ns, ns) != 0) {
        return 0;
    }
    if (w->name != NULL && strcmp(w->name, name) != 0) {
        return 0;
    }
    if (w->filter == NULL) {
        return 1;
    }
    if (*parsed == NULL &&
        dtk_json_parse(parsed, text, strlen(text)) < 0) {
        return 0;
    }
    return dtk_filter_match(w->filter, *parsed);
}

/* Appends {"type":T,"object":OBJ}\n, converting the object when the watch
 * asks for another version or for Table rows. */
static void append_event(watcher *w, dtk_restype *t, const char *type,
                         const char *text, dtk_json *parsed, int64_t rv)
{
    dtk_json *own = NULL;
    dtk_json *out = NULL;
    int convert = w->table || !t->storage_version || rv > 0;

    dtk_buf_printf(&w->pending, "{\"type\":\"%s\",\"object\":", type);
    if (!convert) {
        dtk_buf_puts(&w->pending, text);
        dtk_buf_puts(&w->pending, "}\n");
        return;
    }
    if (parsed == NULL) {
        if (dtk_json_parse(&own, text, strlen(text)) < 0) {
            dtk_buf_puts(&w->pending, "{}}\n");
            return;
        }
        parsed = own;
    }
    out = dtk_json_copy(parsed);
    if (!t->storage_version) {
        dtk_buf av = DTK_BUF_INIT(0);

        dtk_buf_printf(&av, "%s/%s", t->group, t->version);
        dtk_json_set(out, "apiVersion", dtk_json_new_string(av.ptr));
        dtk_buf_dispose(&av);
    }
    if (rv > 0) {
        char rvtext[32];

        snprintf(rvtext, sizeof(rvtext), "%" PRId64, rv);
        dtk_json_set(dtk_meta_of(out), "resourceVersion",
                     dtk_json_new_string(rvtext));
    }
    if (w->table) {
        dtk_json *table = dtk_table_from_objects(t, &out, 1, NULL, NULL);

        dtk_json_free(out);
        out = table;
    }
    dtk_json_write(&w->pending, out);
    dtk_buf_puts(&w->pending, "}\n");
    dtk_json_free(out);
    dtk_json_free(own);
}

static void append_bookmark(watcher *w, dtk_restype *t, int initial_end)
{
    dtk_json *obj = dtk_json_new_object();
    dtk_json *meta = dtk_json_new_object();
    dtk_buf av = DTK_BUF_INIT(0);
    char rvtext[32];

    if (*t->group) {
        dtk_buf_printf(&av, "%s/%s", t->group, t->version);
    } else {
        dtk_buf_puts(&av, t->version);
    }
    snprintf(rvtext, sizeof(rvtext), "%" PRId64, w->cursor);
    dtk_json_set(obj, "kind", dtk_json_new_string(t->kind));
    dtk_json_set(obj, "apiVersion", dtk_json_new_string(av.ptr));
    dtk_json_set(meta, "resourceVersion", dtk_json_new_string(rvtext));
    if (initial_end) {
        dtk_json *ann = dtk_json_new_object();

        dtk_json_set(ann, "k8s.io/initial-events-end",
                     dtk_json_new_string("true"));
        dtk_json_set(meta, "annotations", ann);
    }
    dtk_json_set(obj, "metadata", meta);
    dtk_buf_puts(&w->pending, "{\"type\":\"BOOKMARK\",\"object\":");
    dtk_json_write(&w->pending, obj);
    dtk_buf_puts(&w->pending, "}\n");
    dtk_json_free(obj);
    dtk_buf_dispose(&av);
}

static void append_error(watcher *w, int64_t requested)
{
    dtk_json *st;
    char msg[128];

    snprintf(msg, sizeof(msg), "too old resource version: %" PRId64
             " (%" PRId64 ")", requested, w->s->compacted_rv + 1);
    st = dtk_status_new(410, "Expired", msg);
    dtk_buf_puts(&w->pending, "{\"type\":\"ERROR\",\"object\":");
    dtk_json_write(&w->pending, st);
    dtk_buf_puts(&w->pending, "}\n");
    dtk_json_free(st);
}

/* Converts history events after the cursor into pending bytes. */
static void scan_history(watcher *w, dtk_restype *t)
{
    dtk_apiserver *s = w->s;
    long idx = dtk_store_history_index(s, w->cursor);

    if (idx < 0) {
        append_error(w, w->cursor);
        w->done = 1;
        return;
    }
    for (size_t i = (size_t)idx;
         i < s->history_len && w->pending.len < PENDING_HIGH_WATER; i++) {
        dtk_event *ev = dtk_store_history_at(s, i);
        dtk_json *cur = NULL;
        dtk_json *prev = NULL;
        int cur_ok, prev_ok;

        w->cursor = ev->rv;
        if (ev->bucket != w->bucket) {
            continue;
        }
        if (w->filter == NULL) {
            if (passes(w, ev->namespace_, ev->name, ev->text, &cur)) {
                append_event(w, t, type_name(ev->type), ev->text, NULL, 0);
            }
            continue;
        }
        cur_ok = ev->type != DTK_EV_DELETED &&
                 passes(w, ev->namespace_, ev->name, ev->text, &cur);
        prev_ok = ev->prev_text != NULL &&
                  passes(w, ev->namespace_, ev->name, ev->prev_text, &prev);
        if (cur_ok && !prev_ok) {
            append_event(w, t, "ADDED", ev->text, cur, 0);
        } else if (cur_ok && prev_ok) {
            append_event(w, t, "MODIFIED", ev->text, cur, 0);
        } else if (!cur_ok && prev_ok) {
            /* Stopped matching: DELETED with the previous state at this
             * event's version, as the kube-apiserver watch cache sends. */
            append_event(w, t, "DELETED", ev->prev_text, prev, ev->rv);
        }
        dtk_json_free(cur);
        dtk_json_free(prev);
    }
}

static void wait_changed(dtk_apiserver *s, int64_t until_ms)
{
    struct timespec ts;
    int64_t now = dtk_clock_now_ms();
    int64_t wait = until_ms - now;

    if (wait <= 0) {
        return;
    }
    if (wait > 1000) {
        wait = 1000;
    }
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += wait / 1000;
    ts.tv_nsec += (wait % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&s->changed, &s->mu, &ts);
}

/* Fills pending with the next bytes to send; caller holds mu. */
static void produce(watcher *w)
{
    dtk_apiserver *s = w->s;
    dtk_restype *t;

    while (w->pending.len == 0 && !w->done) {
        int64_t now = dtk_clock_now_ms();

        t = dtk_registry_find(s, w->group, w->version, w->resource);
        if (t == NULL || s->stopping || w->epoch != s->watch_epoch) {
            w->done = 1;
            break;
        }
        if (w->initial_pos < w->initial_len) {
            while (w->initial_pos < w->initial_len &&
                   w->pending.len < PENDING_HIGH_WATER) {
                char *text = w->initial[w->initial_pos++];

                append_event(w, t, "ADDED", text, NULL, 0);
                dtk_free(text);
            }
            continue;
        }
        if (!w->initial_done) {
            w->initial_done = 1;
            if (w->initial_end_bookmark) {
                append_bookmark(w, t, 1);
                continue;
            }
        }
        if (now >= w->deadline_ms) {
            if (w->bookmarks) {
                scan_history(w, t);
                if (w->pending.len == 0 && !w->done) {
                    append_bookmark(w, t, 0);
                }
            }
            w->done = 1;
            break;
        }
        scan_history(w, t);
        if (w->pending.len > 0 || w->done) {
            break;
        }
        if (w->bookmarks && now >= w->next_bookmark_ms) {
            append_bookmark(w, t, 0);
            w->next_bookmark_ms = now + s->config.bookmark_interval_s * 1000L;
            break;
        }
        wait_changed(s, w->bookmarks && w->next_bookmark_ms < w->deadline_ms
                            ? w->next_bookmark_ms
                            : w->deadline_ms);
    }
}

static ssize_t watch_read(void *payload, char *buf, size_t max)
{
    watcher *w = payload;
    dtk_apiserver *s = w->s;
    ssize_t n;

    pthread_mutex_lock(&s->mu);
    if (w->sent == w->pending.len) {
        dtk_buf_reset(&w->pending);
        w->sent = 0;
        produce(w);
    }
    if (w->pending.len == 0) {
        pthread_mutex_unlock(&s->mu);
        return -1;
    }
    n = (ssize_t)(w->pending.len - w->sent < max ? w->pending.len - w->sent
                                                 : max);
    memcpy(buf, w->pending.ptr + w->sent, (size_t)n);
    w->sent += (size_t)n;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static int parse_nonneg(const char *text, int64_t *out)
{
    char *end = NULL;
    long long v;

    if (text == NULL || *text == '\0') {
        return -1;
    }
    v = strtoll(text, &end, 10);
    if (*end != '\0' || v < 0) {
        return -1;
    }
    *out = v;
    return 0;
}

static void collect_initial(watcher *w)
{
    size_t iter = 0;
    void *value;

    while (dtk_map_next(&w->bucket->objects, &iter, NULL, &value)) {
        dtk_stored *st = value;
        dtk_json *parsed = st->obj;
        const char *ns = dtk_meta_get(st->obj, "namespace");

        if (w->ns != NULL && (ns == NULL || strcmp(ns, w->ns) != 0)) {
            continue;
        }
        if (w->name != NULL &&
            strcmp(dtk_meta_get(st->obj, "name"), w->name) != 0) {
            continue;
        }
        if (w->filter != NULL && !dtk_filter_match(w->filter, parsed)) {
            continue;
        }
        if (w->initial_len % 64 == 0) {
            w->initial = dtk_realloc(w->initial, (w->initial_len + 64) *
                                                     sizeof(char *));
        }
        w->initial[w->initial_len++] = dtk_strdup(st->text);
    }
}

void dtk_watch_serve(dtk_apiserver *s, dtk_httpserver_exchange *ex,
                     dtk_restype *t, const char *ns, const char *name)
{
    const char *rv = dtk_httpserver_query(ex, "resourceVersion");
    const char *match = dtk_httpserver_query(ex, "resourceVersionMatch");
    const char *initial = dtk_httpserver_query(ex, "sendInitialEvents");
    const char *timeout = dtk_httpserver_query(ex, "timeoutSeconds");
    const char *bm = dtk_httpserver_query(ex, "allowWatchBookmarks");
    int send_initial = initial != NULL && strcmp(initial, "true") == 0;
    watcher *w = dtk_calloc(1, sizeof(*w));
    dtk_json *bad = NULL;
    int64_t timeout_s = 0;
    int64_t from = 0;

    w->s = s;
    w->group = dtk_strdup(t->group);
    w->version = dtk_strdup(t->version);
    w->resource = dtk_strdup(t->resource);
    w->bucket = t->bucket;
    w->ns = t->namespaced && ns ? dtk_strdup(ns) : NULL;
    w->name = name ? dtk_strdup(name) : NULL;
    w->table = dtk_table_wanted(ex);
    w->bookmarks = bm != NULL && (strcmp(bm, "true") == 0 || strcmp(bm, "1") == 0);
    w->epoch = s->watch_epoch;
    dtk_buf_init(&w->pending, 0);
    if (initial != NULL && !send_initial && strcmp(initial, "false") != 0) {
        dtk_respond_error(ex, 400, "BadRequest",
                          "sendInitialEvents: Invalid value: \"%s\"", initial);
        goto fail;
    }
    if (send_initial && (match == NULL || strcmp(match, "NotOlderThan") != 0)) {
        dtk_respond_error(ex, 422, "Invalid",
                          "ListOptions.meta.k8s.io \"\" is invalid: "
                          "resourceVersionMatch: Forbidden: sendInitialEvents "
                          "requires setting resourceVersionMatch to "
                          "NotOlderThan");
        goto fail;
    }
    if (!send_initial && match != NULL && *match) {
        dtk_respond_error(ex, 422, "Invalid",
                          "ListOptions.meta.k8s.io \"\" is invalid: "
                          "resourceVersionMatch: Forbidden: "
                          "resourceVersionMatch is forbidden for watch unless "
                          "sendInitialEvents is provided");
        goto fail;
    }
    if (timeout != NULL && parse_nonneg(timeout, &timeout_s) < 0) {
        dtk_respond_error(ex, 400, "BadRequest",
                          "timeoutSeconds: Invalid value: \"%s\"", timeout);
        goto fail;
    }
    if (timeout_s == 0) {
        /* kube-apiserver picks 30-60 minutes when the client sends none. */
        timeout_s = 1800 + (int64_t)(dtk_clock_now_ms() % 1800);
    }
    if (dtk_filter_parse(&w->filter, &bad, t,
                         dtk_httpserver_query(ex, "labelSelector"),
                         dtk_httpserver_query(ex, "fieldSelector")) < 0) {
        dtk_respond_status(ex, bad);
        goto fail;
    }
    w->deadline_ms = dtk_clock_now_ms() + timeout_s * 1000;
    w->next_bookmark_ms = dtk_clock_now_ms() + s->config.bookmark_interval_s * 1000L;
    if (send_initial || rv == NULL || *rv == '\0' || strcmp(rv, "0") == 0) {
        collect_initial(w);
        w->cursor = s->rv;
        w->initial_end_bookmark = send_initial && w->bookmarks;
    } else if (parse_nonneg(rv, &from) < 0) {
        dtk_respond_error(ex, 400, "BadRequest",
                          "invalid resource version: %s", rv);
        goto fail;
    } else {
        w->cursor = from;
    }
    w->initial_done = !w->initial_end_bookmark;
    dtk_httpserver_respond_stream(ex, 200, "application/json", watch_read, w,
                                  watcher_free);
    return;
fail:
    watcher_free(w);
}

/* Object store, history ring and write-ahead log (see apiserver.h).
 *
 * Every commit takes resourceVersion rv+1 and appends one event, so the event
 * for version v sits at ring index v - compacted_rv - 1. With --data-dir each
 * commit is appended to wal.jsonl and flushed with fdatasync before the
 * client is answered; at start the snapshot and the log are replayed and
 * rewritten as a new snapshot, so versions keep increasing across restarts.
 * A torn last line (kill -9 during a write) was never acknowledged and is
 * dropped.
 */
#include "cmd/dtk-apiserver/apiserver.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/error.h"
#include "pkg/base/log.h"

void dtk_store_key(dtk_buf *out, const char *ns, const char *name)
{
    dtk_buf_reset(out);
    if (ns != NULL && *ns != '\0') {
        dtk_buf_puts(out, ns);
        dtk_buf_putc(out, '/');
    }
    dtk_buf_puts(out, name);
}

dtk_stored *dtk_store_get(dtk_bucket *b, const char *ns, const char *name)
{
    dtk_buf key = DTK_BUF_INIT(0);
    dtk_stored *st;

    dtk_store_key(&key, ns, name);
    st = dtk_map_get(&b->objects, dtk_buf_cstr(&key));
    dtk_buf_dispose(&key);
    return st;
}

static void event_dispose(dtk_event *ev)
{
    dtk_free(ev->namespace_);
    dtk_free(ev->name);
    dtk_free(ev->text);
    dtk_free(ev->prev_text);
    memset(ev, 0, sizeof(*ev));
}

void dtk_store_init(dtk_apiserver *s)
{
    if (s->config.history_size == 0) {
        s->config.history_size = 10000;
    }
    s->history = dtk_calloc(s->config.history_size, sizeof(dtk_event));
}

static void stored_free(dtk_stored *st)
{
    if (st == NULL) {
        return;
    }
    dtk_json_free(st->obj);
    dtk_free(st->text);
    dtk_free(st);
}

void dtk_store_dispose(dtk_apiserver *s)
{
    size_t iter = 0;
    void *value;

    for (size_t i = 0; i < s->history_len; i++) {
        event_dispose(&s->history[(s->history_start + i) %
                                  s->config.history_size]);
    }
    dtk_free(s->history);
    while (dtk_map_next(&s->buckets, &iter, NULL, &value)) {
        dtk_bucket *b = value;
        size_t it2 = 0;
        void *obj;

        while (dtk_map_next(&b->objects, &it2, NULL, &obj)) {
            stored_free(obj);
        }
        dtk_map_dispose(&b->objects);
        dtk_free(b->group_resource);
        dtk_free(b);
    }
    dtk_map_dispose(&s->buckets);
    if (s->wal != NULL) {
        fclose(s->wal);
    }
}

long dtk_store_history_index(dtk_apiserver *s, int64_t after)
{
    if (after < s->compacted_rv) {
        return -1;
    }
    if (after >= s->rv) {
        return (long)s->history_len;
    }
    return (long)(after - s->compacted_rv);
}

dtk_event *dtk_store_history_at(dtk_apiserver *s, size_t index)
{
    dtk_assert(index < s->history_len);
    return &s->history[(s->history_start + index) % s->config.history_size];
}

void dtk_store_compact(dtk_apiserver *s)
{
    for (size_t i = 0; i < s->history_len; i++) {
        event_dispose(&s->history[(s->history_start + i) %
                                  s->config.history_size]);
    }
    s->history_len = 0;
    s->history_start = 0;
    s->compacted_rv = s->rv;
}

static dtk_event *push_event(dtk_apiserver *s)
{
    size_t size = s->config.history_size;
    dtk_event *ev;

    if (s->history_len == size) {
        dtk_event *oldest = &s->history[s->history_start];

        s->compacted_rv = oldest->rv;
        event_dispose(oldest);
        s->history_start = (s->history_start + 1) % size;
        s->history_len--;
    }
    ev = &s->history[(s->history_start + s->history_len) % size];
    s->history_len++;
    return ev;
}

static void set_rv(dtk_json *obj, int64_t rv)
{
    static const char *const meta_path[] = {"metadata", NULL};
    dtk_json *meta = dtk_json_ensure_object(obj, meta_path);
    char text[32];

    snprintf(text, sizeof(text), "%" PRId64, rv);
    dtk_json_set(meta, "resourceVersion", dtk_json_new_string(text));
}

/* Appends one record to the WAL and makes it durable. A failure here is
 * reported to the client as a 500: the write is not acknowledged. */
static int wal_append(dtk_apiserver *s, const char *op, const dtk_bucket *b,
                      const char *key, const char *text)
{
    dtk_json *rec = NULL;
    dtk_buf line = DTK_BUF_INIT(0);
    int error = 0;

    if (s->wal == NULL) {
        return 0;
    }
    rec = dtk_json_new_object();
    dtk_json_set(rec, "rv", dtk_json_new_int(s->rv));
    dtk_json_set(rec, "op", dtk_json_new_string(op));
    dtk_json_set(rec, "gr", dtk_json_new_string(b->group_resource));
    dtk_json_set(rec, "key", dtk_json_new_string(key));
    error = dtk_json_write(&line, rec);
    if (error < 0) {
        goto out;
    }
    if (text != NULL) {
        /* Splice the cached text in as "obj" rather than re-serialising. */
        line.len--; /* drop '}' */
        error = dtk_buf_printf(&line, ",\"obj\":%s}", text);
        if (error < 0) {
            goto out;
        }
    }
    dtk_buf_putc(&line, '\n');
    if (fwrite(line.ptr, 1, line.len, s->wal) != line.len ||
        fflush(s->wal) != 0 || fdatasync(fileno(s->wal)) != 0) {
        dtk_error_set(DTK_ERRCLASS_OS, "cannot write the data directory log");
        error = DTK_ERROR;
        goto out;
    }
    s->wal_records++;
out:
    dtk_json_free(rec);
    dtk_buf_dispose(&line);
    return error;
}

int dtk_store_put(dtk_apiserver *s, dtk_bucket *b, dtk_json *obj,
                  dtk_event_type type)
{
    dtk_buf key = DTK_BUF_INIT(0);
    const char *ns = dtk_meta_get(obj, "namespace");
    const char *name = dtk_meta_get(obj, "name");
    dtk_stored *st;
    dtk_event *ev;
    char *text;
    int error;

    dtk_store_key(&key, ns, name);
    s->rv++;
    set_rv(obj, s->rv);
    text = dtk_json_to_string(obj);
    dtk_assert(text != NULL); /* inputs were validated UTF-8 JSON */
    error = wal_append(s, "put", b, dtk_buf_cstr(&key), text);
    if (error < 0) {
        s->rv--;
        dtk_free(text);
        dtk_json_free(obj);
        goto out;
    }
    st = dtk_map_get(&b->objects, dtk_buf_cstr(&key));
    ev = push_event(s);
    ev->rv = s->rv;
    ev->type = type;
    ev->bucket = b;
    ev->namespace_ = dtk_strdup(ns ? ns : "");
    ev->name = dtk_strdup(name);
    ev->text = dtk_strdup(text);
    if (st == NULL) {
        st = dtk_calloc(1, sizeof(*st));
        dtk_map_put(&b->objects, dtk_buf_cstr(&key), st);
        ev->type = DTK_EV_ADDED;
    } else {
        ev->prev_text = st->text;
        dtk_json_free(st->obj);
    }
    st->obj = obj;
    st->text = text;
    st->text_len = strlen(text);
    st->rv = s->rv;
    pthread_cond_broadcast(&s->changed);
out:
    dtk_buf_dispose(&key);
    return error;
}

int dtk_store_delete(dtk_apiserver *s, dtk_bucket *b, const char *ns,
                     const char *name)
{
    dtk_buf key = DTK_BUF_INIT(0);
    dtk_stored *st;
    dtk_event *ev;
    int error = 0;

    dtk_store_key(&key, ns, name);
    st = dtk_map_get(&b->objects, dtk_buf_cstr(&key));
    if (st == NULL) {
        error = DTK_ENOTFOUND;
        goto out;
    }
    s->rv++;
    error = wal_append(s, "del", b, dtk_buf_cstr(&key), NULL);
    if (error < 0) {
        s->rv--;
        goto out;
    }
    dtk_map_remove(&b->objects, dtk_buf_cstr(&key));
    /* The DELETED event carries the last state at the deletion's version. */
    set_rv(st->obj, s->rv);
    ev = push_event(s);
    ev->rv = s->rv;
    ev->type = DTK_EV_DELETED;
    ev->bucket = b;
    ev->namespace_ = dtk_strdup(ns ? ns : "");
    ev->name = dtk_strdup(name);
    ev->text = dtk_json_to_string(st->obj);
    ev->prev_text = st->text;
    st->text = NULL;
    stored_free(st);
    pthread_cond_broadcast(&s->changed);
out:
    dtk_buf_dispose(&key);
    return error;
}

/* ---- data directory ----------------------------------------------------- */

/* Reads one line into line (without the newline). Returns 1 for a complete
 * line, 0 at EOF, and 2 for a final line without newline (torn write). */
static int read_line(FILE *f, dtk_buf *line)
{
    char chunk[65536];

    dtk_buf_reset(line);
    while (fgets(chunk, sizeof(chunk), f) != NULL) {
        size_t n = strlen(chunk);

        if (n > 0 && chunk[n - 1] == '\n') {
            dtk_buf_put(line, chunk, n - 1);
            return 1;
        }
        dtk_buf_put(line, chunk, n);
    }
    return line->len > 0 ? 2 : 0;
}

static dtk_bucket *bucket_by_name(dtk_apiserver *s, const char *gr)
{
    dtk_bucket *b = dtk_map_get(&s->buckets, gr);

    if (b == NULL) {
        const char *slash = strchr(gr, '/');
        char *group;

        if (slash == NULL) {
            return NULL;
        }
        group = dtk_strndup(gr, (size_t)(slash - gr));
        b = dtk_registry_bucket(s, group, slash + 1);
        dtk_free(group);
    }
    return b;
}

/* Applies one replayed record without logging or events. */
static int replay_record(dtk_apiserver *s, const dtk_json *rec)
{
    const char *op = dtk_json_get_string(rec, "op");
    const char *gr = dtk_json_get_string(rec, "gr");
    const char *key = dtk_json_get_string(rec, "key");
    const dtk_json *obj = dtk_json_get(rec, "obj");
    int64_t rv = 0;
    dtk_bucket *b;
    dtk_stored *st;

    if (op == NULL || gr == NULL || key == NULL ||
        dtk_json_int(&rv, dtk_json_get(rec, "rv")) < 0) {
        return DTK_EINVALID;
    }
    b = bucket_by_name(s, gr);
    if (b == NULL) {
        return DTK_EINVALID;
    }
    if (rv > s->rv) {
        s->rv = rv;
    }
    st = dtk_map_remove(&b->objects, key);
    stored_free(st);
    if (strcmp(op, "put") == 0 && obj != NULL) {
        st = dtk_calloc(1, sizeof(*st));
        st->obj = dtk_json_copy(obj);
        st->text = dtk_json_to_string(st->obj);
        st->text_len = strlen(st->text);
        st->rv = rv;
        dtk_map_put(&b->objects, key, st);
    }
    return 0;
}

static int replay_file(dtk_apiserver *s, const char *path, int *torn_out)
{
    FILE *f = fopen(path, "r");
    dtk_buf line = DTK_BUF_INIT(0);
    dtk_json *rec = NULL;
    int rc;
    int error = 0;
    long lineno = 0;

    *torn_out = 0;
    if (f == NULL) {
        return errno == ENOENT ? 0 : DTK_ERROR;
    }
    while ((rc = read_line(f, &line)) != 0) {
        lineno++;
        if (line.len == 0) {
            continue;
        }
        if (dtk_json_parse(&rec, line.ptr, line.len) < 0 ||
            replay_record(s, rec) < 0) {
            if (rc == 2) {
                *torn_out = 1; /* never acknowledged: drop it */
                dtk_json_free(rec);
                rec = NULL;
                break;
            }
            dtk_error_set(DTK_ERRCLASS_INVALID, "%s:%ld: unreadable record",
                          path, lineno);
            error = DTK_EINVALID;
            goto out;
        }
        dtk_json_free(rec);
        rec = NULL;
    }
out:
    dtk_json_free(rec);
    dtk_buf_dispose(&line);
    fclose(f);
    return error;
}

/* Writes every object as a "put" record into a new snapshot, atomically. */
static int write_snapshot(dtk_apiserver *s, const char *dir)
{
    char tmp[4096], path[4096];
    FILE *f;
    size_t iter = 0;
    void *value;
    int error = 0;

    snprintf(tmp, sizeof(tmp), "%s/snapshot.jsonl.tmp", dir);
    snprintf(path, sizeof(path), "%s/snapshot.jsonl", dir);
    f = fopen(tmp, "w");
    if (f == NULL) {
        dtk_error_set(DTK_ERRCLASS_OS, "cannot create '%s'", tmp);
        return DTK_ERROR;
    }
    s->wal = f; /* reuse the record writer */
    {
        /* The highest version survives even when its object was deleted. */
        dtk_json *mark = dtk_json_new_object();
        dtk_buf line = DTK_BUF_INIT(0);

        dtk_json_set(mark, "rv", dtk_json_new_int(s->rv));
        dtk_json_set(mark, "op", dtk_json_new_string("mark"));
        dtk_json_set(mark, "gr", dtk_json_new_string("/namespaces"));
        dtk_json_set(mark, "key", dtk_json_new_string(""));
        dtk_json_write(&line, mark);
        dtk_buf_putc(&line, '\n');
        fwrite(line.ptr, 1, line.len, f);
        dtk_buf_dispose(&line);
        dtk_json_free(mark);
    }
    while (error == 0 && dtk_map_next(&s->buckets, &iter, NULL, &value)) {
        dtk_bucket *b = value;
        size_t it2 = 0;
        const char *key;
        void *obj;

        while (error == 0 && dtk_map_next(&b->objects, &it2, &key, &obj)) {
            dtk_stored *st = obj;
            int64_t saved = s->rv;

            s->rv = st->rv;
            error = wal_append(s, "put", b, key, st->text);
            s->rv = saved;
        }
    }
    s->wal = NULL;
    if (fclose(f) != 0 && error == 0) {
        error = DTK_ERROR;
    }
    if (error == 0 && rename(tmp, path) != 0) {
        dtk_error_set(DTK_ERRCLASS_OS, "cannot replace '%s'", path);
        error = DTK_ERROR;
    }
    return error;
}

int dtk_store_open_data_dir(dtk_apiserver *s)
{
    const char *dir = s->config.data_dir;
    char snap[4096], wal[4096];
    int torn = 0;
    int error;

    snprintf(snap, sizeof(snap), "%s/snapshot.jsonl", dir);
    snprintf(wal, sizeof(wal), "%s/wal.jsonl", dir);
    error = replay_file(s, snap, &torn);
    if (error == 0) {
        error = replay_file(s, wal, &torn);
    }
    if (error < 0) {
        return error;
    }
    if (torn) {
        dtk_log(DTK_LOG_WARN, NULL, "Dropped an unacknowledged torn record",
                "file=%s", wal);
    }
    error = write_snapshot(s, dir);
    if (error < 0) {
        return error;
    }
    s->wal = fopen(wal, "w");
    if (s->wal == NULL) {
        dtk_error_set(DTK_ERRCLASS_OS, "cannot open '%s'", wal);
        return DTK_ERROR;
    }
    s->compacted_rv = s->rv;
    return 0;
}

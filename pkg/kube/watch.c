/* Watch: newline framing of the event stream and the streaming request.
 *
 * The API server writes one JSON object per line (apimachinery's
 * newline framer); HTTP chunks and curl's write calls cut the stream
 * anywhere. Complete lines are parsed straight from the received bytes;
 * only an incomplete tail is copied, into `pending`, bounded by the largest
 * allowed event, so a hostile or broken stream cannot grow memory without
 * limit. An ERROR event carries a Status and ends the watch: 410 (or reason
 * Expired/Gone) becomes DTK_EGONE, which tells the reflector to relist.
 */
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/error.h"
#include "pkg/kube/kube_int.h"

#define WATCH_GRACE_S           30
#define DEFAULT_WATCH_TIMEOUT_S 300

void dtk_kube_watch_decoder_init(dtk_kube_watch_decoder *dec, size_t max_event)
{
    memset(dec, 0, sizeof(*dec));
    dec->max_event = max_event ? max_event : DTK_KUBE_DEFAULT_MAX_EVENT;
    /* The tail plus one write call of curl (CURL_MAX_WRITE_SIZE). */
    dtk_buf_init(&dec->pending, dec->max_event + 16384);
    dec->status.retry_after_s = -1;
}

void dtk_kube_watch_decoder_dispose(dtk_kube_watch_decoder *dec)
{
    dtk_buf_dispose(&dec->pending);
    dtk_kube_status_dispose(&dec->status);
}

static int too_big(const dtk_kube_watch_decoder *dec)
{
    dtk_error_set(DTK_ERRCLASS_KUBE, "watch: event exceeds %zu bytes",
                  dec->max_event);
    return DTK_ETOOBIG;
}

static int event_type(dtk_kube_event_type *out, const char *type)
{
    static const struct {
        const char *name;
        dtk_kube_event_type type;
    } names[] = {
        {"ADDED", DTK_KUBE_ADDED},     {"MODIFIED", DTK_KUBE_MODIFIED},
        {"DELETED", DTK_KUBE_DELETED}, {"BOOKMARK", DTK_KUBE_BOOKMARK},
        {"ERROR", DTK_KUBE_ERROR},
    };

    for (size_t i = 0; type != NULL && i < sizeof(names) / sizeof(*names);
         i++) {
        if (strcmp(type, names[i].name) == 0) {
            *out = names[i].type;
            return 0;
        }
    }
    return DTK_ERROR;
}

static int handle_line(dtk_kube_watch_decoder *dec,
                       const char *line,
                       size_t len,
                       dtk_kube_event_cb cb,
                       void *payload)
{
    dtk_json *doc = NULL;
    dtk_kube_event ev = {0};
    const char *type;
    int error = 0;

    while (len > 0 && strchr(" \t\r", line[len - 1]) != NULL) {
        len--;
    }
    while (len > 0 && strchr(" \t\r", line[0]) != NULL) {
        line++;
        len--;
    }
    if (len == 0) {
        return 0;
    }
    if (dtk_json_parse(&doc, line, len) < 0 || doc->type != DTK_JSON_OBJECT) {
        dtk_error_set(DTK_ERRCLASS_KUBE, "watch: event is not a JSON object");
        error = DTK_ERROR;
        goto out;
    }
    type = dtk_json_get_string(doc, "type");
    if (event_type(&ev.type, type) < 0) {
        dtk_error_set(DTK_ERRCLASS_KUBE, "watch: unknown event type '%.32s'",
                      type != NULL ? type : "");
        error = DTK_ERROR;
        goto out;
    }
    ev.object = dtk_json_take(doc, "object");
    if (ev.object == NULL || ev.object->type != DTK_JSON_OBJECT) {
        dtk_error_set(DTK_ERRCLASS_KUBE, "watch: %s event without an object",
                      type);
        error = DTK_ERROR;
        goto out;
    }
    if (ev.type == DTK_KUBE_ERROR) {
        const char *kind = dtk_json_get_string(ev.object, "kind");

        if (kind == NULL || strcmp(kind, "Status") != 0) {
            dtk_kube__status_reset(&dec->status, 0);
            dtk_error_set(DTK_ERRCLASS_KUBE,
                          "watch: ERROR event without a Status");
            dec->status.error = DTK_ERROR;
            error = DTK_ERROR;
            goto out;
        }
        error = dtk_kube_status_decode(&dec->status, 0, ev.object, "watch");
        if (error == 0) {
            error = dec->status.error = DTK_ERROR;
        }
        goto out;
    }
    error = cb(&ev, payload);
out:
    dtk_json_free(ev.object);
    dtk_json_free(doc);
    return error;
}

int dtk_kube_watch_decoder_feed(dtk_kube_watch_decoder *dec,
                                const char *data,
                                size_t len,
                                dtk_kube_event_cb cb,
                                void *payload)
{
    size_t pos = 0;

    while (pos < len) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t seg = nl != NULL ? (size_t)(nl - (data + pos)) : len - pos;
        const char *line;
        size_t line_len;
        int rc;

        if (dec->pending.len + seg > dec->max_event) {
            return too_big(dec);
        }
        if (nl == NULL) {
            return dtk_buf_put(&dec->pending, data + pos, seg) < 0
                       ? too_big(dec)
                       : 0;
        }
        if (dec->pending.len > 0) {
            if (dtk_buf_put(&dec->pending, data + pos, seg) < 0) {
                return too_big(dec);
            }
            line = dec->pending.ptr;
            line_len = dec->pending.len;
        } else {
            line = data + pos;
            line_len = seg;
        }
        rc = handle_line(dec, line, line_len, cb, payload);
        dtk_buf_reset(&dec->pending);
        pos += seg + 1;
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

int dtk_kube_watch_decoder_finish(dtk_kube_watch_decoder *dec)
{
    for (size_t i = 0; i < dec->pending.len; i++) {
        if (strchr(" \t\r", dec->pending.ptr[i]) == NULL) {
            dtk_error_set(DTK_ERRCLASS_KUBE,
                          "watch: stream ended inside an event");
            return DTK_ERROR;
        }
    }
    return 0;
}

typedef struct watch_state {
    dtk_kube_watch_decoder dec;
    dtk_kube_event_cb cb;
    void *payload;
    int result;    /* the decoder's non-zero answer that stopped it */
    int cb_result; /* set when that answer came from the callback */
} watch_state;

static int forward(dtk_kube_event *ev, void *payload)
{
    watch_state *w = payload;

    w->cb_result = w->cb(ev, w->payload);
    return w->cb_result;
}

static int on_data(const char *data, size_t len, void *payload)
{
    watch_state *w = payload;

    w->result = dtk_kube_watch_decoder_feed(&w->dec, data, len, forward, w);
    return w->result != 0;
}

int dtk_kube_watch(dtk_kube_client *client,
                   const dtk_kube_gvr *gvr,
                   const char *ns,
                   const dtk_kube_watch_options *options,
                   dtk_kube_event_cb cb,
                   void *payload)
{
    static const dtk_kube_watch_options defaults = DTK_KUBE_WATCH_OPTIONS_INIT;
    const dtk_kube_watch_options *o = options ? options : &defaults;
    long timeout_s =
        o->timeout_seconds > 0 ? o->timeout_seconds : DEFAULT_WATCH_TIMEOUT_S;
    dtk_http_response resp = DTK_HTTP_RESPONSE_INIT;
    dtk_buf path = DTK_BUF_INIT(0);
    dtk_kube__req r = {0};
    volatile int *cancel =
        o->cancel != NULL ? o->cancel : dtk_kube__client_cancel(client);
    watch_state w;
    int error;

    memset(&w, 0, sizeof(w));
    dtk_kube_watch_decoder_init(&w.dec, o->max_event_size);
    w.cb = cb;
    w.payload = payload;
    error = dtk_kube_gvr_path(&path, gvr, ns, NULL, NULL);
    if (error == 0) {
        error = dtk_kube__query(&path, "watch", "1");
    }
    if (error == 0 && o->resource_version != NULL &&
        o->resource_version[0] != '\0') {
        error = dtk_kube__query(&path, "resourceVersion", o->resource_version);
    }
    if (error == 0 && o->label_selector != NULL) {
        error = dtk_kube__query(&path, "labelSelector", o->label_selector);
    }
    if (error == 0 && o->field_selector != NULL) {
        error = dtk_kube__query(&path, "fieldSelector", o->field_selector);
    }
    if (error == 0) {
        error = dtk_kube__query_long(&path, "timeoutSeconds", timeout_s);
    }
    if (error == 0 && o->allow_bookmarks) {
        error = dtk_kube__query(&path, "allowWatchBookmarks", "true");
    }
    if (error == 0 && o->send_initial_events) {
        error = dtk_kube__query(&path, "sendInitialEvents", "true");
        if (error == 0) {
            error =
                dtk_kube__query(&path, "resourceVersionMatch", "NotOlderThan");
        }
    }
    if (error < 0) {
        goto out;
    }
    r.method = "GET";
    r.path = path.ptr;
    r.timeout_ms = (timeout_s + WATCH_GRACE_S) * 1000L;
    r.response_limit = (size_t)1024 * 1024; /* non-2xx Status bodies */
    r.cancel = cancel;
    r.stream_cb = on_data;
    r.stream_payload = &w;
    error = dtk_kube__send(client, &r, &resp);
    if (w.result > 0) {
        error = 0; /* the callback ended the watch */
    } else if (w.result < 0) {
        error = w.result;
        if (w.dec.status.error != 0) {
            /* An ERROR event: its Status becomes the client's. */
            dtk_kube__status_copy(dtk_kube__client_status(client),
                                  &w.dec.status);
        }
        if (w.cb_result == 0) {
            /* The decoder's own message: say which watch. */
            dtk_error_prefix("GET %.*s", (int)strcspn(path.ptr, "?"), path.ptr);
        }
    } else if (error == 0 && !(cancel != NULL && *cancel)) {
        error = dtk_kube_watch_decoder_finish(&w.dec);
    }
out:
    dtk_http_response_dispose(&resp);
    dtk_buf_dispose(&path);
    dtk_kube_watch_decoder_dispose(&w.dec);
    return error;
}

/* Parsing broker answers into dtk_osb_reply (no network here).
 *
 * Real brokers are sloppy: stock SBF sends `{"description": ...}` only,
 * others send `{}`, an HTML error page, `credentials: {}` in a 202, no
 * `operation` in a 202, or vendor fields nobody documented. So nothing here
 * fails: a body is "valid" when it is a JSON object whose known fields have
 * the spec's types; everything else is judged by the status code alone.
 * Unknown fields are kept in reply->body and never looked at.
 */
#include <ctype.h>
#include <string.h>
#include <time.h>

#include "pkg/base/alloc.h"
#include "pkg/base/error.h"
#include "pkg/osb/osb.h"
#include "pkg/osb/osb_int.h"

void dtk_osb__wipe(void *p, size_t len)
{
    volatile unsigned char *q = p;

    while (q != NULL && len-- > 0) {
        *q++ = 0;
    }
}

static void json_wipe(dtk_json *v)
{
    size_t i;

    if (v == NULL) {
        return;
    }
    switch (v->type) {
    case DTK_JSON_STRING:
        dtk_osb__wipe(v->u.string.ptr, v->u.string.len);
        break;
    case DTK_JSON_NUMBER:
        dtk_osb__wipe(v->u.number, strlen(v->u.number));
        break;
    case DTK_JSON_ARRAY:
        /* Depth is bounded by DTK_JSON_MAX_DEPTH at parse time. */
        for (i = 0; i < v->u.array.len; i++) {
            json_wipe(v->u.array.items[i]);
        }
        break;
    case DTK_JSON_OBJECT:
        for (i = 0; i < v->u.object.len; i++) {
            dtk_osb__wipe(v->u.object.keys[i], strlen(v->u.object.keys[i]));
            json_wipe(v->u.object.values[i]);
        }
        break;
    default:
        break;
    }
}

void dtk_osb__json_wipe_free(dtk_json *v)
{
    json_wipe(v);
    dtk_json_free(v);
}

void dtk_osb_reply_dispose(dtk_osb_reply *reply)
{
    dtk_osb_reply empty = DTK_OSB_REPLY_INIT;

    if (reply == NULL) {
        return;
    }
    dtk_free(reply->error);
    dtk_free(reply->description);
    dtk_free(reply->operation);
    dtk_free(reply->dashboard_url);
    dtk_osb__json_wipe_free(reply->body);
    *reply = empty;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil), so no timegm (not POSIX) is needed. */
static long long days_from_civil(long long y, unsigned m, unsigned d)
{
    long long era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

static int read_num(const char **p, int digits, int *out)
{
    int v = 0;

    for (int i = 0; i < digits; i++) {
        if (!isdigit((unsigned char)(*p)[i])) {
            return -1;
        }
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += digits;
    *out = v;
    return 0;
}

/* IMF-fixdate only ("Sun, 06 Nov 1994 08:49:37 GMT"), the form RFC 9110
 * requires senders to use. */
static int parse_http_date(long long *out, const char *s)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    int day, year, hh, mm, ss, month = -1;

    if (strlen(s) != 29 || s[3] != ',' || s[4] != ' ') {
        return -1;
    }
    s += 5;
    if (read_num(&s, 2, &day) < 0 || *s++ != ' ') {
        return -1;
    }
    for (int i = 0; i < 12; i++) {
        if (strncmp(s, months + 3 * i, 3) == 0) {
            month = i + 1;
        }
    }
    s += 3;
    if (month < 0 || *s++ != ' ' || read_num(&s, 4, &year) < 0 || *s++ != ' ' ||
        read_num(&s, 2, &hh) < 0 || *s++ != ':' || read_num(&s, 2, &mm) < 0 ||
        *s++ != ':' || read_num(&s, 2, &ss) < 0 || strcmp(s, " GMT") != 0) {
        return -1;
    }
    if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60) {
        return -1;
    }
    *out = days_from_civil(year, (unsigned)month, (unsigned)day) * 86400 +
           hh * 3600 + mm * 60 + ss;
    return 0;
}

long dtk_osb__parse_retry_after(const char *value, long long now_epoch)
{
    long long when;
    long v = 0;
    const char *p;

    if (value == NULL) {
        return -1;
    }
    while (*value == ' ' || *value == '\t') {
        value++;
    }
    if (isdigit((unsigned char)*value)) {
        for (p = value; isdigit((unsigned char)*p); p++) {
            if (v > 100000000L) {
                return DTK_OSB_MAX_DELAY_S; /* absurdly long: clamp */
            }
            v = v * 10 + (*p - '0');
        }
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        return *p == '\0' ? v : -1;
    }
    if (parse_http_date(&when, value) < 0) {
        return -1;
    }
    if (now_epoch == 0) {
        now_epoch = (long long)time(NULL);
    }
    if (when <= now_epoch) {
        return 0;
    }
    return when - now_epoch > DTK_OSB_MAX_DELAY_S ? DTK_OSB_MAX_DELAY_S
                                                  : (long)(when - now_epoch);
}

/* A one-line, bounded copy of a broker's description. */
static char *clean_description(const char *s, size_t len)
{
    char *out;
    size_t n = len > DTK_OSB__DESCRIPTION_MAX ? DTK_OSB__DESCRIPTION_MAX : len;

    /* Do not cut a UTF-8 sequence in half. */
    while (n < len && n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) {
        n--;
    }
    out = dtk_strndup(s, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];

        if (c < 0x20 || c == 0x7f) {
            out[i] = ' ';
        }
    }
    return out;
}

/* 1 when member key is absent, null, or of type t. */
static int type_ok(const dtk_json *obj, const char *key, dtk_json_type t)
{
    const dtk_json *v = dtk_json_get(obj, key);

    return v == NULL || v->type == DTK_JSON_NULL || v->type == t;
}

static int get_bool(const dtk_json *obj, const char *key)
{
    const dtk_json *v = dtk_json_get(obj, key);

    if (v == NULL || v->type != DTK_JSON_BOOL) {
        return -1;
    }
    return v->u.boolean ? 1 : 0;
}

static char *dup_string(const dtk_json *obj, const char *key)
{
    const dtk_json *v = dtk_json_get(obj, key);

    if (v == NULL || v->type != DTK_JSON_STRING) {
        return NULL;
    }
    return dtk_strndup(v->u.string.ptr, v->u.string.len);
}

static int is_poll_op(dtk_osb_op op)
{
    return op >= DTK_OSB_OP_POLL_PROVISION && op <= DTK_OSB_OP_POLL_UNBIND;
}

static dtk_osb_state parse_state(const dtk_json *obj)
{
    const char *s = dtk_json_get_string(obj, "state");

    if (s == NULL) {
        return DTK_OSB_STATE_NONE;
    }
    if (strcmp(s, "in progress") == 0) {
        return DTK_OSB_STATE_IN_PROGRESS;
    }
    if (strcmp(s, "succeeded") == 0) {
        return DTK_OSB_STATE_SUCCEEDED;
    }
    if (strcmp(s, "failed") == 0) {
        return DTK_OSB_STATE_FAILED;
    }
    return DTK_OSB_STATE_INVALID;
}

/* Whether the fields this operation relies on have the spec's types. */
static int well_formed(const dtk_json *obj, dtk_osb_op op, long status)
{
    /* Error bodies are judged by status; any object will do. */
    if (status < 200 || status >= 300) {
        return 1;
    }
    if (!type_ok(obj, "operation", DTK_JSON_STRING) ||
        !type_ok(obj, "dashboard_url", DTK_JSON_STRING) ||
        !type_ok(obj, "metadata", DTK_JSON_OBJECT)) {
        return 0;
    }
    if ((op == DTK_OSB_OP_BIND || op == DTK_OSB_OP_FETCH_BINDING) &&
        status != 202 && !type_ok(obj, "credentials", DTK_JSON_OBJECT)) {
        return 0;
    }
    if (op == DTK_OSB_OP_CATALOG &&
        (dtk_json_get(obj, "services") == NULL ||
         dtk_json_get(obj, "services")->type != DTK_JSON_ARRAY)) {
        return 0;
    }
    if (is_poll_op(op) && dtk_json_get_string(obj, "state") == NULL) {
        return 0;
    }
    return 1;
}

void dtk_osb_reply_parse(dtk_osb_reply *reply,
                         dtk_osb_op op,
                         long status,
                         const char *retry_after,
                         const char *body,
                         size_t len,
                         long long now_epoch)
{
    dtk_json *doc = NULL;
    const dtk_json *desc;

    dtk_osb_reply_dispose(reply);
    reply->op = op;
    reply->status = status;
    reply->retry_after_s = dtk_osb__parse_retry_after(retry_after, now_epoch);
    if (body != NULL && len > 0 && dtk_json_parse(&doc, body, len) < 0) {
        /* Not JSON (HTML page, truncated, too deep): judged by status. */
        dtk_error_clear();
        doc = NULL;
    }
    if (doc != NULL && doc->type != DTK_JSON_OBJECT) {
        dtk_osb__json_wipe_free(doc);
        doc = NULL;
    }
    if (doc != NULL) {
        reply->error = dup_string(doc, "error");
        desc = dtk_json_get(doc, "description");
        if (desc != NULL && desc->type == DTK_JSON_STRING) {
            reply->description =
                clean_description(desc->u.string.ptr, desc->u.string.len);
        }
        reply->instance_usable = get_bool(doc, "instance_usable");
        reply->update_repeatable = get_bool(doc, "update_repeatable");
        if (well_formed(doc, op, status)) {
            reply->body_valid = 1;
            reply->operation = dup_string(doc, "operation");
            reply->dashboard_url = dup_string(doc, "dashboard_url");
            if (is_poll_op(op)) {
                reply->state = parse_state(doc);
            }
            if (op == DTK_OSB_OP_BIND && status == 202) {
                /* A 202 MUST NOT carry credentials; SBF sends {}. */
                dtk_osb__json_wipe_free(dtk_json_take(doc, "credentials"));
            }
            reply->body = doc;
            doc = NULL;
        }
    }
    dtk_osb__json_wipe_free(doc);
    reply->decision = dtk_osb_classify(reply);
}

void dtk_osb_reply_transport_failure(dtk_osb_reply *reply,
                                     dtk_osb_op op,
                                     long status,
                                     int transport_error)
{
    dtk_osb_reply_dispose(reply);
    reply->op = op;
    reply->status = status;
    reply->transport_error = transport_error;
    reply->decision = dtk_osb_classify(reply);
}

const dtk_json *dtk_osb_reply_credentials(const dtk_osb_reply *reply)
{
    const dtk_json *c = dtk_json_get(reply->body, "credentials");

    return c != NULL && c->type == DTK_JSON_OBJECT ? c : NULL;
}

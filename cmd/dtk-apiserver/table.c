/* Server-side printing: meta.k8s.io/v1 Table responses for `kubectl get`.
 *
 * Custom resources print Name plus their additionalPrinterColumns (or Name
 * and Age when they declare none), evaluated with the JSONPath subset CRD
 * authors use: dotted fields, [n], [*] and [?(@.field=="value")] filters.
 * Dates print as kubectl's human durations ("5m", "3h2m"). Rows carry
 * PartialObjectMetadata unless includeObject asks otherwise.
 */
#include "cmd/dtk-apiserver/apiserver.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pkg/base/alloc.h"
#include "pkg/base/clock.h"

int dtk_table_wanted(dtk_httpserver_exchange *ex)
{
    const char *accept = dtk_httpserver_header(ex, "Accept");

    return accept != NULL && strstr(accept, "as=Table") != NULL;
}

static void human_duration(char *out, size_t size, long long secs)
{
    long long m, h, d, y;

    if (secs < -1) {
        snprintf(out, size, "<invalid>");
    } else if (secs < 0) {
        snprintf(out, size, "0s");
    } else if (secs < 120) {
        snprintf(out, size, "%llds", secs);
    } else if ((m = secs / 60) < 10) {
        if (secs % 60 == 0) {
            snprintf(out, size, "%lldm", m);
        } else {
            snprintf(out, size, "%lldm%llds", m, secs % 60);
        }
    } else if (m < 180) {
        snprintf(out, size, "%lldm", m);
    } else if ((h = secs / 3600) < 8) {
        if (m % 60 == 0) {
            snprintf(out, size, "%lldh", h);
        } else {
            snprintf(out, size, "%lldh%lldm", h, m % 60);
        }
    } else if (h < 48) {
        snprintf(out, size, "%lldh", h);
    } else if ((d = h / 24) < 8) {
        if (h % 24 == 0) {
            snprintf(out, size, "%lldd", d);
        } else {
            snprintf(out, size, "%lldd%lldh", d, h % 24);
        }
    } else if (d < 730) {
        snprintf(out, size, "%lldd", d);
    } else if ((y = d / 365) < 8) {
        snprintf(out, size, "%lldy%lldd", y, d % 365);
    } else {
        snprintf(out, size, "%lldy", y);
    }
}

static dtk_json *age_cell(const char *timestamp)
{
    time_t when;
    char text[32];

    if (timestamp == NULL || dtk_clock_parse_rfc3339(&when, timestamp) < 0) {
        return dtk_json_new_string("<unknown>");
    }
    human_duration(text, sizeof(text), (long long)(time(NULL) - when));
    return dtk_json_new_string(text);
}

/* ---- JSONPath subset ----------------------------------------------------- */

typedef struct matches {
    const dtk_json *v[32];
    size_t n;
} matches;

static void add_match(matches *m, const dtk_json *v)
{
    if (v != NULL && m->n < 32) {
        m->v[m->n++] = v;
    }
}

/* Evaluates path (starting at '.' or '[') against v into m. Unsupported
 * syntax yields no match, which prints as an empty cell. */
static void eval(const dtk_json *v, const char *path, matches *m)
{
    char field[256];
    size_t n = 0;

    if (v == NULL) {
        return;
    }
    if (*path == '\0') {
        add_match(m, v);
        return;
    }
    if (*path == '.') {
        path++;
        while (*path && *path != '.' && *path != '[' && n < sizeof(field) - 1) {
            field[n++] = *path++;
        }
        field[n] = '\0';
        if (n == 0) {
            eval(v, path, m);
            return;
        }
        eval(dtk_json_get(v, field), path, m);
        return;
    }
    if (*path == '[') {
        const char *close = strchr(path, ']');
        const char *rest;

        if (close == NULL) {
            return;
        }
        rest = close + 1;
        if (path[1] == '*') {
            for (size_t i = 0; i < dtk_json_len(v); i++) {
                eval(v->type == DTK_JSON_ARRAY ? dtk_json_at(v, i)
                                               : v->u.object.values[i],
                     rest, m);
            }
        } else if (path[1] == '?') {
            /* [?(@.key=="value")] */
            const char *at = strstr(path, "@.");
            const char *eq = strstr(path, "==");
            char key[128], want[256];
            size_t kl, wl;
            const char *q1, *q2;

            close = strstr(path, ")]");
            if (at == NULL || eq == NULL || close == NULL) {
                return;
            }
            rest = close + 2;
            kl = (size_t)(eq - (at + 2));
            q1 = eq + 2;
            while (*q1 == ' ') {
                q1++;
            }
            if (*q1 != '"' && *q1 != '\'') {
                return;
            }
            q2 = strchr(q1 + 1, *q1);
            if (q2 == NULL || kl >= sizeof(key) ||
                (size_t)(q2 - q1 - 1) >= sizeof(want)) {
                return;
            }
            memcpy(key, at + 2, kl);
            while (kl > 0 && key[kl - 1] == ' ') {
                kl--;
            }
            key[kl] = '\0';
            wl = (size_t)(q2 - q1 - 1);
            memcpy(want, q1 + 1, wl);
            want[wl] = '\0';
            for (size_t i = 0; i < dtk_json_len(v) && v->type == DTK_JSON_ARRAY;
                 i++) {
                const char *got =
                    dtk_json_get_string(dtk_json_at(v, i), key);

                if (got != NULL && strcmp(got, want) == 0) {
                    eval(dtk_json_at(v, i), rest, m);
                }
            }
        } else {
            long idx = strtol(path + 1, NULL, 10);

            if (idx < 0) {
                idx += (long)dtk_json_len(v);
            }
            if (idx >= 0) {
                eval(dtk_json_at(v, (size_t)idx), rest, m);
            }
        }
    }
}

static dtk_json *cell_for(const dtk_json *obj, const dtk_json *col)
{
    const char *path = dtk_json_get_string(col, "jsonPath");
    const char *type = dtk_json_get_string(col, "type");
    matches m = {{NULL}, 0};
    dtk_buf joined = DTK_BUF_INIT(0);
    dtk_json *cell;

    if (path == NULL) {
        return dtk_json_new_null();
    }
    if (path[0] == '{') {
        path++; /* "{.spec.x}" form */
    }
    eval(obj, path, &m);
    if (m.n == 0) {
        return dtk_json_new_null();
    }
    if (m.n == 1 && type != NULL && strcmp(type, "date") == 0) {
        return age_cell(dtk_json_string(m.v[0]));
    }
    if (m.n == 1 && m.v[0]->type != DTK_JSON_OBJECT &&
        m.v[0]->type != DTK_JSON_ARRAY) {
        return dtk_json_copy(m.v[0]);
    }
    for (size_t i = 0; i < m.n; i++) {
        const char *s = dtk_json_string(m.v[i]);

        if (i > 0) {
            dtk_buf_putc(&joined, ',');
        }
        if (s != NULL) {
            dtk_buf_puts(&joined, s);
        } else {
            dtk_json_write(&joined, m.v[i]);
        }
    }
    cell = dtk_json_new_string(dtk_buf_cstr(&joined));
    dtk_buf_dispose(&joined);
    return cell;
}

static dtk_json *column(const char *name, const char *type,
                        const char *format, const char *description,
                        int priority)
{
    dtk_json *c = dtk_json_new_object();

    dtk_json_set(c, "name", dtk_json_new_string(name));
    dtk_json_set(c, "type", dtk_json_new_string(type));
    dtk_json_set(c, "format", dtk_json_new_string(format ? format : ""));
    dtk_json_set(c, "description",
                 dtk_json_new_string(description ? description : ""));
    dtk_json_set(c, "priority", dtk_json_new_int(priority));
    return c;
}

static const char name_description[] =
    "Name must be unique within a namespace. Is required when creating "
    "resources, although some resources may allow a client to request the "
    "generation of an appropriate name automatically. Name is primarily "
    "intended for creation idempotence and configuration definition. Cannot "
    "be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/"
    "names#names";
static const char age_description[] =
    "CreationTimestamp is a timestamp representing the server time when this "
    "object was created.";

typedef enum builtin_columns {
    COLS_DEFAULT,
    COLS_NAMESPACE,
    COLS_SECRET,
    COLS_CONFIGMAP,
} builtin_columns;

static builtin_columns builtin_kind(const dtk_restype *t)
{
    if (*t->group != '\0') {
        return COLS_DEFAULT;
    }
    if (strcmp(t->resource, "namespaces") == 0) {
        return COLS_NAMESPACE;
    }
    if (strcmp(t->resource, "secrets") == 0) {
        return COLS_SECRET;
    }
    if (strcmp(t->resource, "configmaps") == 0) {
        return COLS_CONFIGMAP;
    }
    return COLS_DEFAULT;
}

static dtk_json *definitions(const dtk_restype *t)
{
    dtk_json *defs = dtk_json_new_array();

    dtk_json_append(defs, column("Name", "string", "name", name_description, 0));
    if (t->custom && dtk_json_len(t->columns) > 0) {
        for (size_t i = 0; i < dtk_json_len(t->columns); i++) {
            const dtk_json *c = dtk_json_at(t->columns, i);
            int64_t prio = 0;

            dtk_json_int(&prio, dtk_json_get(c, "priority"));
            dtk_json_append(
                defs, column(dtk_json_get_string(c, "name")
                                 ? dtk_json_get_string(c, "name")
                                 : "",
                             dtk_json_get_string(c, "type")
                                 ? dtk_json_get_string(c, "type")
                                 : "string",
                             dtk_json_get_string(c, "format"),
                             dtk_json_get_string(c, "description"),
                             (int)prio));
        }
        return defs;
    }
    switch (builtin_kind(t)) {
    case COLS_NAMESPACE:
        dtk_json_append(defs, column("Status", "string", "",
                                     "The status of the namespace", 0));
        break;
    case COLS_SECRET:
        dtk_json_append(defs, column("Type", "string", "",
                                     "The type of the secret", 0));
        dtk_json_append(defs, column("Data", "string", "",
                                     "The number of entries in the secret",
                                     0));
        break;
    case COLS_CONFIGMAP:
        dtk_json_append(defs, column("Data", "string", "",
                                     "Number of data in configmap", 0));
        break;
    default:
        break;
    }
    dtk_json_append(defs, column("Age", "string", "", age_description, 0));
    return defs;
}

static dtk_json *cells(const dtk_restype *t, const dtk_json *obj)
{
    dtk_json *row = dtk_json_new_array();
    const char *created = dtk_meta_get(obj, "creationTimestamp");

    dtk_json_append(row, dtk_json_new_string(dtk_meta_get(obj, "name")));
    if (t->custom && dtk_json_len(t->columns) > 0) {
        for (size_t i = 0; i < dtk_json_len(t->columns); i++) {
            dtk_json_append(row, cell_for(obj, dtk_json_at(t->columns, i)));
        }
        return row;
    }
    switch (builtin_kind(t)) {
    case COLS_NAMESPACE: {
        const char *phase = dtk_json_get_string(dtk_json_get(obj, "status"),
                                                "phase");

        dtk_json_append(row, dtk_json_new_string(phase ? phase : ""));
        break;
    }
    case COLS_SECRET: {
        const char *type = dtk_json_get_string(obj, "type");

        dtk_json_append(row, dtk_json_new_string(type ? type : "Opaque"));
        dtk_json_append(row,
                        dtk_json_new_int((int64_t)dtk_json_len(
                            dtk_json_get(obj, "data"))));
        break;
    }
    case COLS_CONFIGMAP:
        dtk_json_append(row, dtk_json_new_int((int64_t)(
                                 dtk_json_len(dtk_json_get(obj, "data")) +
                                 dtk_json_len(dtk_json_get(obj, "binaryData")))));
        break;
    default:
        break;
    }
    dtk_json_append(row, age_cell(created));
    return row;
}

static dtk_json *partial_metadata(const dtk_json *obj)
{
    dtk_json *p = dtk_json_new_object();

    dtk_json_set(p, "kind", dtk_json_new_string("PartialObjectMetadata"));
    dtk_json_set(p, "apiVersion", dtk_json_new_string("meta.k8s.io/v1"));
    dtk_json_set(p, "metadata", dtk_json_copy(dtk_json_get(obj, "metadata")));
    return p;
}

dtk_json *dtk_table_from_objects(const dtk_restype *t, dtk_json *const *objs,
                                 size_t n, const char *rv,
                                 const char *continue_token)
{
    dtk_json *table = dtk_json_new_object();
    dtk_json *meta = dtk_json_new_object();
    dtk_json *rows = dtk_json_new_array();

    dtk_json_set(table, "kind", dtk_json_new_string("Table"));
    dtk_json_set(table, "apiVersion", dtk_json_new_string("meta.k8s.io/v1"));
    if (rv != NULL) {
        dtk_json_set(meta, "resourceVersion", dtk_json_new_string(rv));
    }
    if (continue_token != NULL) {
        dtk_json_set(meta, "continue", dtk_json_new_string(continue_token));
    }
    dtk_json_set(table, "metadata", meta);
    dtk_json_set(table, "columnDefinitions", definitions(t));
    for (size_t i = 0; i < n; i++) {
        dtk_json *row = dtk_json_new_object();

        dtk_json_set(row, "cells", cells(t, objs[i]));
        dtk_json_set(row, "object", partial_metadata(objs[i]));
        dtk_json_append(rows, row);
    }
    dtk_json_set(table, "rows", rows);
    return table;
}

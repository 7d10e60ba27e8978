#include "controller/common/conditions.h"

#include <string.h>

#include "pkg/base/clock.h"

#define MAX_MESSAGE 32768

static const char *status_text(dtk_condition_status v)
{
    switch (v) {
    case DTK_CONDITION_TRUE:
        return "True";
    case DTK_CONDITION_FALSE:
        return "False";
    default:
        return "Unknown";
    }
}

const dtk_json *dtk_conditions_get(const dtk_json *status, const char *type)
{
    const dtk_json *list = dtk_json_get(status, "conditions");

    for (size_t i = 0; i < dtk_json_len(list); i++) {
        const char *t = dtk_json_get_string(dtk_json_at(list, i), "type");

        if (t != NULL && strcmp(t, type) == 0) {
            return dtk_json_at(list, i);
        }
    }
    return NULL;
}

int dtk_conditions_is_true(const dtk_json *status, const char *type)
{
    const char *v = dtk_json_get_string(dtk_conditions_get(status, type),
                                        "status");

    return v != NULL && strcmp(v, "True") == 0;
}

static int set_string(dtk_json *obj, const char *key, const char *value,
                      size_t max)
{
    const char *old = dtk_json_get_string(obj, key);
    size_t n = strlen(value);

    if (n > max) {
        n = max;
    }
    if (old != NULL && strlen(old) == n && memcmp(old, value, n) == 0) {
        return 0;
    }
    dtk_json_set(obj, key, dtk_json_new_stringn(value, n));
    return 1;
}

int dtk_conditions_set(dtk_json *status, const char *type,
                       dtk_condition_status value, const char *reason,
                       const char *message, int64_t observed_generation,
                       const char *now)
{
    dtk_json *list = dtk_json_get(status, "conditions");
    dtk_json *c = (dtk_json *)dtk_conditions_get(status, type);
    char clock[40];
    int64_t old_gen = -1;
    int changed = 0;

    if (now == NULL) {
        dtk_clock_rfc3339(clock, sizeof(clock), 0);
        now = clock;
    }
    if (list == NULL || list->type != DTK_JSON_ARRAY) {
        list = dtk_json_new_array();
        dtk_json_set(status, "conditions", list);
    }
    if (c == NULL) {
        c = dtk_json_new_object();
        dtk_json_set(c, "type", dtk_json_new_string(type));
        dtk_json_append(list, c);
        changed = 1;
    }
    if (set_string(c, "status", status_text(value), 16)) {
        dtk_json_set(c, "lastTransitionTime", dtk_json_new_string(now));
        changed = 1;
    } else if (dtk_json_get(c, "lastTransitionTime") == NULL) {
        dtk_json_set(c, "lastTransitionTime", dtk_json_new_string(now));
        changed = 1;
    }
    changed |= set_string(c, "reason", reason, 1024);
    changed |= set_string(c, "message", message ? message : "", MAX_MESSAGE);
    if (dtk_json_is_integer(dtk_json_get(c, "observedGeneration"))) {
        dtk_json_int(&old_gen, dtk_json_get(c, "observedGeneration"));
    }
    if (old_gen != observed_generation) {
        dtk_json_set(c, "observedGeneration",
                     dtk_json_new_int(observed_generation));
        changed = 1;
    }
    return changed;
}

int dtk_conditions_remove(dtk_json *status, const char *type)
{
    dtk_json *list = dtk_json_get(status, "conditions");

    for (size_t i = 0; i < dtk_json_len(list); i++) {
        const char *t = dtk_json_get_string(dtk_json_at(list, i), "type");

        if (t != NULL && strcmp(t, type) == 0) {
            dtk_json_remove_at(list, i);
            return 1;
        }
    }
    return 0;
}

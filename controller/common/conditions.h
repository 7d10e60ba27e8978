/* status.conditions as metav1.Condition lists, kstatus-compatible.
 * Thread-safety: none needed (pure functions over caller-owned trees).
 *
 * dtk_conditions_set follows meta.SetStatusCondition: lastTransitionTime
 * changes only when status flips, so rewriting the same condition is a no-op
 * and a status write that changes nothing can be skipped.
 */
#ifndef DTK_CONTROLLER_COMMON_CONDITIONS_H
#define DTK_CONTROLLER_COMMON_CONDITIONS_H

#include <stdint.h>

#include "pkg/json/json.h"

typedef enum dtk_condition_status {
    DTK_CONDITION_TRUE = 0,
    DTK_CONDITION_FALSE,
    DTK_CONDITION_UNKNOWN,
} dtk_condition_status;

/* Sets (adds or updates) condition type in status.conditions of obj
 * (status is created when absent). reason must be CamelCase; message is
 * truncated to 32 KiB. now is RFC 3339; NULL uses the clock. Returns 1 when
 * something changed, 0 otherwise. */
int dtk_conditions_set(dtk_json *status, const char *type,
                       dtk_condition_status value, const char *reason,
                       const char *message, int64_t observed_generation,
                       const char *now);

/* Removes a condition; returns 1 when it existed. */
int dtk_conditions_remove(dtk_json *status, const char *type);

/* The condition object of type (borrowed) or NULL. */
const dtk_json *dtk_conditions_get(const dtk_json *status, const char *type);

/* Is type present with status "True"? */
int dtk_conditions_is_true(const dtk_json *status, const char *type);

#endif

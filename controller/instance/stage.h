/* Staging a ServiceInstance: the pure part of the instance reconciler.
 * Thread-safety: none needed (functions over caller-owned trees).
 *
 * Parameters are merged with the precedence of DESIGN.md: Assembly
 * defaults < Target parameters < parent outputs < instance parameters <
 * parametersFrom, keeping only the parameters the Assembly declares (the
 * Target's and the parent's other values stay reachable as
 * target.parameters.* and parent.outputs.*). Every problem is reported with
 * the parameter's name and never with a value of a sensitive parameter.
 */
#ifndef DTK_CONTROLLER_INSTANCE_STAGE_H
#define DTK_CONTROLLER_INSTANCE_STAGE_H

#include "controller/assembly/assembly.h"
#include "pkg/base/buf.h"
#include "pkg/json/json.h"

/* One value read from a Secret for parametersFrom: the key and its text
 * (borrowed). A text that is a JSON object merges its members at the top
 * level (service-catalog semantics); any other text sets the parameter
 * named key. */
typedef struct dtk_param_source {
    const char *key;
    const char *value;
    size_t value_len;
} dtk_param_source;

/* Merges and validates. *out is the parameters object (owned by the
 * caller). On DTK_EINVALID, problems holds "; "-separated messages. */
int dtk_stage_parameters(dtk_json **out, dtk_buf *problems,
                         const dtk_assembly *a, const dtk_json *target_params,
                         const dtk_json *parent_outputs,
                         const dtk_json *instance_params,
                         const dtk_param_source *from, size_t from_count);

/* A deterministic UUID-formatted id for an external object of an instance
 * ("instance" or "binding" of a component), derived from the instance UID:
 * a re-sent request after a crash reuses the id, so a broker sees the same
 * instance, never a second one. out >= 37 bytes. */
int dtk_stage_external_id(char *out, const char *instance_uid,
                          const char *component, const char *what);

/* A copy of params with every sensitive parameter's value replaced by
 * "(sensitive)", for status and events. */
dtk_json *dtk_stage_redact(const dtk_assembly *a, const dtk_json *params);

#endif

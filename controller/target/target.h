/* Targets: broker clients from a Target's spec, catalog status, and the
 * lookup of a service offering in a Target's published catalog.
 * Thread-safety: none needed (functions over caller-owned data).
 */
#ifndef DTK_CONTROLLER_TARGET_TARGET_H
#define DTK_CONTROLLER_TARGET_TARGET_H

#include "pkg/json/json.h"
#include "pkg/osb/osb.h"

struct dtk_operator;

/* The status.catalog entry of one broker: {broker, services: [{name, id,
 * description, bindable, planUpdateable, plans: [{name, id, description,
 * free, bindable}]}]}, keeping only the services named in allowed (a JSON
 * array of names; NULL: all). The caller owns the result. */
dtk_json *dtk_target_catalog_entry(const char *broker,
                                   const dtk_osb_catalog *catalog,
                                   const dtk_json *allowed);

/* An offering found in a Target's status.catalog. Strings borrowed from
 * the status. */
typedef struct dtk_target_offering {
    const char *broker;
    const char *service_id;
    const char *plan_id;
    int bindable;
    int plan_updateable;
} dtk_target_offering;

/* Finds class/plan (names or ids) in status.catalog, in broker when it is
 * not NULL, else in the first broker that offers class. Returns
 * DTK_ENOTFOUND with "service class 'x' is not offered by broker 'b'" or
 * "plan 'p' of service class 'x' does not exist" (no value is secret). */
int dtk_target_find_offering(dtk_target_offering *out,
                             const dtk_json *target_status,
                             const char *broker, const char *klass,
                             const char *plan);

/* A client for broker (by name) of target (an object), with credentials
 * read from its authSecretRef in the operator's Secret cache: username
 * and password, or token. *out owned by the caller. Returns DTK_ENOTFOUND
 * ("broker 'b' is not configured", "secret 'x' not found"), DTK_EINVALID
 * for a Secret without usable keys; never quotes a credential. */
int dtk_target_osb_client(dtk_osb_client **out, struct dtk_operator *op,
                          const dtk_json *target, const char *broker);

#endif

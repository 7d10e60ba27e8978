/* Open Service Broker API 2.17 client (the platform side).
 * Thread-safety: none; one dtk_osb_client per thread (it owns a libcurl
 * handle). Catalogs and replies are plain data owned by their caller.
 *
 * Every request carries X-Broker-API-Version: 2.17, a request identity (a
 * random GUID unless the caller gives one) and, when the caller passes one,
 * the Kubernetes originating identity. Basic auth is sent pre-emptively
 * (brokers built on SBF never send a challenge), or a bearer token.
 * accepts_incomplete=true is sent on every PUT, PATCH and DELETE, so every
 * mutating call may end in a 202 that the caller polls.
 *
 * The design is "classify, then act": each operation fills a dtk_osb_reply
 * (status, parsed body) and runs dtk_osb_classify() over it, a pure function
 * that implements the spec's orphan-mitigation table and decides on the
 * status code first and the body second, never on description text. The
 * decision tells the reconciler what to do next: done, poll again after N
 * seconds, failed, failed and orphan-mitigate, retry later, or gone.
 *
 * Credentials (bind and fetch-binding replies) live only in reply->body and
 * are wiped when the reply is disposed, as are the raw response bytes and
 * the request body (parameters may hold secrets); nothing here logs a body.
 * Copies left in freed memory while a buffer grew (realloc in dtk_buf,
 * libcurl's own receive buffer) are outside this module's reach.
 */
#ifndef DTK_OSB_OSB_H
#define DTK_OSB_OSB_H

#include <stddef.h>

#include "pkg/json/json.h"

#define DTK_OSB_API_VERSION                "2.17"
#define DTK_OSB_DEFAULT_TIMEOUT_MS         60000L
#define DTK_OSB_DEFAULT_CONNECT_TIMEOUT_MS 5000L
/* Poll interval when the broker sends no Retry-After. */
#define DTK_OSB_DEFAULT_POLL_S 5
/* Retry-After values are clamped to this (a broker's typo must not park an
 * operation for a year). */
#define DTK_OSB_MAX_DELAY_S    3600
#define DTK_OSB_RESPONSE_LIMIT ((size_t)1024 * 1024)
#define DTK_OSB_CATALOG_LIMIT  ((size_t)8 * 1024 * 1024)

typedef struct dtk_osb_client dtk_osb_client;

/* ---- Operations and decisions -------------------------------------- */

typedef enum dtk_osb_op {
    DTK_OSB_OP_CATALOG = 0,
    DTK_OSB_OP_PROVISION,
    DTK_OSB_OP_UPDATE,
    DTK_OSB_OP_DEPROVISION,
    DTK_OSB_OP_BIND,
    DTK_OSB_OP_UNBIND,
    DTK_OSB_OP_FETCH_INSTANCE,
    DTK_OSB_OP_FETCH_BINDING,
    /* last_operation polls, named by the operation being polled: the
     * meaning of "failed", 404 and 410 depends on it. */
    DTK_OSB_OP_POLL_PROVISION,
    DTK_OSB_OP_POLL_UPDATE,
    DTK_OSB_OP_POLL_DEPROVISION,
    DTK_OSB_OP_POLL_BIND,
    DTK_OSB_OP_POLL_UNBIND,
} dtk_osb_op;

#define DTK_OSB_OP_COUNT 13

/* What the platform must do next. */
typedef enum dtk_osb_action {
    DTK_OSB_DONE = 0, /* succeeded; use the reply */
    DTK_OSB_POLL,     /* in progress: poll last_operation after delay_s */
    DTK_OSB_FAILED,   /* terminal: do not repeat the same request */
    DTK_OSB_ORPHAN,   /* failed, and the resource may exist: deprovision
                       * (or unbind) it without originating identity,
                       * until the broker answers 200 or 410 */
    DTK_OSB_RETRY,    /* nothing changed or the request is safe to
                       * repeat: send it again after delay_s (0: the
                       * caller's backoff) */
    DTK_OSB_GONE,     /* the resource does not exist: success for deletes */
} dtk_osb_action;

typedef enum dtk_osb_state {
    DTK_OSB_STATE_NONE = 0, /* no state in the body */
    DTK_OSB_STATE_IN_PROGRESS,
    DTK_OSB_STATE_SUCCEEDED,
    DTK_OSB_STATE_FAILED,
    DTK_OSB_STATE_INVALID, /* a state the spec does not define */
} dtk_osb_state;

typedef struct dtk_osb_decision {
    dtk_osb_action action;
    int delay_s; /* POLL and RETRY: seconds to wait (0: caller's backoff) */
    int error;   /* 0 for DONE/POLL/GONE, else a negative dtk_error_code:
                  * DTK_EINVALID (terminal), DTK_ECONFLICT (concurrency),
                  * DTK_EAUTH, DTK_ETIMEOUT, DTK_EUNAVAIL, DTK_ERROR */
    /* CamelCase reason for conditions and metrics, static: "Succeeded",
     * "InProgress", "Gone", "ConcurrencyError", "AsyncRequired",
     * "MaintenanceInfoConflict", "RequiresApp", "Conflict", "BadRequest",
     * "Unauthorized", "BrokerError", "InvalidResponse", "Timeout",
     * "Unreachable", "OperationFailed", "UnexpectedStatus", ... */
    const char *reason;
    int instance_usable;   /* -1: not said; 0/1 from the broker */
    int update_repeatable; /* -1: not said; 0/1 from the broker */
} dtk_osb_decision;

/* ---- Replies -------------------------------------------------------- */

typedef struct dtk_osb_reply {
    dtk_osb_op op;
    long status;         /* HTTP status; 0 when no response arrived */
    int transport_error; /* 0, or DTK_ETIMEOUT, DTK_EUNAVAIL, DTK_ETOOBIG,
                          * DTK_ERROR (TLS, ...) */
    int body_valid;      /* the body was a JSON object */
    long retry_after_s;  /* -1: no usable Retry-After header */
    /* Error body (any status; absent fields are NULL / -1). */
    char *error;       /* CamelCase code, e.g. "ConcurrencyError" */
    char *description; /* one line, control characters replaced, ≤ 512 */
    int instance_usable;
    int update_repeatable;
    /* Success body. */
    char *operation;     /* async operation id, NULL when absent */
    char *dashboard_url; /* provision/update/fetch instance */
    dtk_osb_state state; /* last_operation */
    /* The whole body when it was an object (unknown fields kept, never
     * required). For a 202 bind, "credentials" is removed: a 202 MUST NOT
     * carry credentials and SBF sends an empty object there. Owned;
     * credentials are wiped from memory by dtk_osb_reply_dispose. */
    dtk_json *body;
    char request_id[40]; /* the X-Broker-API-Request-Identity sent */
    dtk_osb_decision decision;
} dtk_osb_reply;

/* clang-format off */
#define DTK_OSB_REPLY_INIT { 0, 0, 0, 0, -1, NULL, NULL, -1, -1, NULL, NULL, \
    DTK_OSB_STATE_NONE, NULL, {0}, { DTK_OSB_DONE, 0, 0, NULL, -1, -1 } }
/* clang-format on */

/* Frees the reply's fields (wiping credentials) and re-initialises it. */
void dtk_osb_reply_dispose(dtk_osb_reply *reply);

/* Parses one broker answer without any network: the body bytes (need not
 * be NUL-terminated), the Retry-After header value (or NULL) and the
 * status, then classifies it into reply->decision. Never fails: bodies
 * that are empty, HTML, truncated, too deep or not objects leave
 * body_valid at 0 and are judged by status alone. reply must be
 * initialised; its previous content is disposed. now_epoch is the wall
 * clock for HTTP-date Retry-After values (0: the current time). */
void dtk_osb_reply_parse(dtk_osb_reply *reply,
                         dtk_osb_op op,
                         long status,
                         const char *retry_after,
                         const char *body,
                         size_t len,
                         long long now_epoch);

/* Records a failure to get any response (transport_error is DTK_ETIMEOUT,
 * DTK_EUNAVAIL, DTK_ETOOBIG or DTK_ERROR) and classifies it. status may be
 * the status line that arrived before the failure (0 if none). */
void dtk_osb_reply_transport_failure(dtk_osb_reply *reply,
                                     dtk_osb_op op,
                                     long status,
                                     int transport_error);

/* The classifier: a pure function of (operation, status, parsed body). It
 * reads reply->op, status, transport_error, body_valid, error, state,
 * operation, retry_after_s, instance_usable, update_repeatable and body.
 * It follows the orphan mitigation table of OSB 2.17 (see the table in
 * classify.c). */
dtk_osb_decision dtk_osb_classify(const dtk_osb_reply *reply);

/* What to do when polling went on past min(platform limit, the plan's
 * maximum_polling_duration): the operation MUST be considered failed, with
 * orphan mitigation for provision, deprovision, bind and unbind. */
dtk_osb_decision dtk_osb_classify_poll_expired(dtk_osb_op poll_op);

/* A one-line human message for a decision, e.g. "provision: broker
 * answered 500: injected failure" or "bind: broker sent an invalid 201
 * body". Never contains credentials or request bodies. Returns out. */
const char *dtk_osb_describe(char *out,
                             size_t size,
                             const dtk_osb_reply *reply);

/* The bound credentials of a DONE bind or fetch-binding reply: a JSON
 * object borrowed from reply, or NULL. */
const dtk_json *dtk_osb_reply_credentials(const dtk_osb_reply *reply);

/* Stable names for logs and metrics. */
const char *dtk_osb_op_name(dtk_osb_op op);
const char *dtk_osb_action_name(dtk_osb_action action);

/* ---- Client --------------------------------------------------------- */

typedef struct dtk_osb_options {
    const char *url; /* broker base URL, without /v2 (a trailing / is ok) */
    const char *username; /* basic auth (pre-emptive) */
    const char *password;
    const char *bearer_token; /* instead of basic auth */
    const char *ca_pem;       /* PEM CA bundle; NULL: system store */
    int insecure_skip_verify; /* explicit switch, never a default */
    long connect_timeout_ms;  /* 0: DTK_OSB_DEFAULT_CONNECT_TIMEOUT_MS */
    long timeout_ms;          /* 0: DTK_OSB_DEFAULT_TIMEOUT_MS */
    size_t response_limit;    /* 0: DTK_OSB_RESPONSE_LIMIT */
    size_t catalog_limit;     /* 0: DTK_OSB_CATALOG_LIMIT */
} dtk_osb_options;

/* clang-format off */
#define DTK_OSB_OPTIONS_INIT { NULL, NULL, NULL, NULL, NULL, 0, 0, 0, 0, 0 }
/* clang-format on */

/* Creates a client; options and the strings they point to are copied
 * (secrets are wiped on free). Returns DTK_EINVALID when url is missing or
 * not http(s), or when both basic auth and a bearer token are given. */
int dtk_osb_client_new(dtk_osb_client **out, const dtk_osb_options *options);
void dtk_osb_client_free(dtk_osb_client *client);

/* The Kubernetes user.info behind a request (OSB profile "Kubernetes
 * Originating Identity Header"). Borrowed for the call. */
typedef struct dtk_osb_identity {
    const char *username;
    const char *uid;
    const char *const *groups; /* NULL-terminated; NULL: none */
    const dtk_json *extra;     /* object of string arrays; NULL: {} */
} dtk_osb_identity;

/* The Kubernetes context object (profile "Kubernetes Context Object").
 * organization_guid is sent as clusterid and space_guid as namespace_uid
 * (or namespace when the UID is unknown), as service-catalog did: brokers
 * still reject provision requests without them. */
typedef struct dtk_osb_context {
    const char *clusterid;     /* required, stable per cluster */
    const char *namespace;     /* required */
    const char *namespace_uid; /* optional */
    const char *instance_name; /* required for provision and update */
    const dtk_json *namespace_annotations; /* optional object */
    const dtk_json *instance_annotations;  /* optional object */
} dtk_osb_context;

/* One request. Each operation reads the fields listed on it; ids must be
 * non-empty (they are percent-encoded in URLs). Everything is borrowed for
 * the duration of the call and must not point into the reply the call
 * fills (copy reply->operation before polling with the same reply). */
typedef struct dtk_osb_request {
    const char *instance_id;
    const char *binding_id;
    const char *service_id;
    const char *plan_id;
    const dtk_osb_context *context;
    const dtk_json *parameters; /* object; NULL: not sent */
    /* Validated before anything is sent when set (draft-04 subset, see
     * dtk_osb_schema_validate); a violation returns DTK_EINVALID. */
    const dtk_json *parameters_schema;
    const char *maintenance_version; /* maintenance_info.version */
    /* Update: previous_values. */
    const char *previous_plan_id;
    const char *previous_maintenance_version;
    /* Bind. */
    const char *app_guid; /* bind_resource.app_guid; NULL: namespace_uid */
    const char *predecessor_binding_id; /* rotation (binding_rotatable) */
    /* Poll: the operation being polled and the id the broker returned. */
    dtk_osb_op polled; /* DTK_OSB_OP_PROVISION ... DTK_OSB_OP_UNBIND */
    const char *operation;
    /* NULL: no originating identity (catalog, orphan mitigation). */
    const dtk_osb_identity *identity;
    const char *request_id; /* NULL: a random GUID */
} dtk_osb_request;

/* clang-format off */
#define DTK_OSB_REQUEST_INIT { NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
    NULL, NULL, NULL, NULL, NULL, DTK_OSB_OP_PROVISION, NULL, NULL, NULL }
/* clang-format on */

/* Every operation below:
 * - disposes and fills *reply (initialised by the caller with
 *   DTK_OSB_REPLY_INIT, disposed by the caller in every case);
 * - returns 0 when reply->decision.action is DONE, POLL or GONE, and
 *   otherwise reply->decision.error with the message set to
 *   dtk_osb_describe();
 * - returns DTK_EINVALID without sending anything when the request lacks a
 *   field (message names it) or the parameters violate parameters_schema
 *   (message "parameter size: must be one of 'small', 'large'");
 *   reply->decision is then FAILED with reason "InvalidRequest" or
 *   "InvalidParameters". */

/* PUT /v2/service_instances/:instance_id. Reads instance_id, service_id,
 * plan_id, context (required), parameters, parameters_schema,
 * maintenance_version, identity, request_id. */
int dtk_osb_provision(dtk_osb_reply *reply,
                      dtk_osb_client *client,
                      const dtk_osb_request *req);

/* PATCH /v2/service_instances/:instance_id. Reads instance_id, service_id
 * (required); plan_id only for a plan change; parameters only what the
 * user changed; context; previous_plan_id, previous_maintenance_version
 * (previous_values); maintenance_version; parameters_schema (the plan's
 * update schema); identity, request_id. */
int dtk_osb_update(dtk_osb_reply *reply,
                   dtk_osb_client *client,
                   const dtk_osb_request *req);

/* DELETE /v2/service_instances/:instance_id?service_id&plan_id. 410 is
 * GONE (success). Reads instance_id, service_id, plan_id, identity
 * (NULL for orphan mitigation), request_id. */
int dtk_osb_deprovision(dtk_osb_reply *reply,
                        dtk_osb_client *client,
                        const dtk_osb_request *req);

/* PUT .../service_bindings/:binding_id. Reads instance_id, binding_id,
 * service_id, plan_id, context (required: platform, namespace,
 * clusterid), parameters, parameters_schema, app_guid,
 * predecessor_binding_id, identity, request_id. On DONE the credentials
 * are in dtk_osb_reply_credentials(reply). */
int dtk_osb_bind(dtk_osb_reply *reply,
                 dtk_osb_client *client,
                 const dtk_osb_request *req);

/* DELETE .../service_bindings/:binding_id?service_id&plan_id. */
int dtk_osb_unbind(dtk_osb_reply *reply,
                   dtk_osb_client *client,
                   const dtk_osb_request *req);

/* GET .../last_operation for an instance (polled = PROVISION, UPDATE or
 * DEPROVISION) or a binding (BIND, UNBIND; binding_id required). Sends
 * service_id, plan_id (for an update, the pre-update plan) and operation
 * exactly as the broker returned it, percent-encoded. */
int dtk_osb_last_operation(dtk_osb_reply *reply,
                           dtk_osb_client *client,
                           const dtk_osb_request *req);

/* GET /v2/service_instances/:id (only when instances_retrievable) or
 * .../service_bindings/:bid (only when bindings_retrievable; binding_id
 * set). 404 is GONE: missing or still being created. */
int dtk_osb_fetch(dtk_osb_reply *reply,
                  dtk_osb_client *client,
                  const dtk_osb_request *req);

/* ---- Catalog -------------------------------------------------------- */

typedef struct dtk_osb_plan {
    char *id;
    char *name;
    char *description;
    int free;                      /* default 1 */
    int bindable;                  /* effective: plan, else service */
    int plan_updateable;           /* effective: plan, else service */
    int binding_rotatable;         /* default 0 */
    long maximum_polling_duration; /* seconds; 0: none given */
    char *maintenance_version;     /* NULL: no maintenance_info */
    char *maintenance_description;
    /* JSON schemas of the parameters ("schemas.<x>.<y>.parameters"),
     * owned, NULL when absent. */
    dtk_json *schema_instance_create;
    dtk_json *schema_instance_update;
    dtk_json *schema_binding_create;
} dtk_osb_plan;

typedef struct dtk_osb_service {
    char *id;
    char *name;
    char *description;
    int bindable;
    int plan_updateable;
    int instances_retrievable;
    int bindings_retrievable;
    int allow_context_updates;
    dtk_osb_plan *plans;
    size_t plan_count;
} dtk_osb_service;

typedef struct dtk_osb_catalog {
    dtk_osb_service *services;
    size_t service_count;
} dtk_osb_catalog;

/* Parses a /v2/catalog body. Unknown fields are ignored; an empty services
 * array is valid. Returns DTK_ERROR naming the path when a required field
 * is missing or has the wrong type ("services[0].plans[1].id: expected a
 * non-empty string"), DTK_EINVALID for text that is not JSON. *out is owned
 * by the caller. */
int dtk_osb_catalog_parse(dtk_osb_catalog **out, const char *body, size_t len);
void dtk_osb_catalog_free(dtk_osb_catalog *catalog);

/* Lookups by id or by (case-sensitive) name; borrowed or NULL. */
const dtk_osb_service *dtk_osb_catalog_service(const dtk_osb_catalog *catalog,
                                               const char *id_or_name);
const dtk_osb_plan *dtk_osb_service_plan(const dtk_osb_service *service,
                                         const char *id_or_name);

/* GET /v2/catalog. On DONE, *out is the parsed catalog (owned by the
 * caller); a 200 with an invalid catalog is RETRY with reason
 * "InvalidCatalog", DTK_ERROR and the parse error as message. Reads identity
 * and request_id from req, which may be NULL. */
int dtk_osb_catalog_fetch(dtk_osb_catalog **out,
                          dtk_osb_reply *reply,
                          dtk_osb_client *client,
                          const dtk_osb_request *req);

/* ---- Parameter schemas ---------------------------------------------- */

/* Validates params against a plan's parameter schema: the draft-04 subset
 * that brokers use (type, enum, required, properties, additionalProperties,
 * minimum/maximum with exclusive flags, minLength/maxLength,
 * minItems/maxItems, items). Unknown keywords and $ref are ignored: the
 * broker remains the authority. params NULL counts as {}. Returns 0, or
 * DTK_EINVALID with every violation (up to 8) in one message, each
 * "parameter <path>: <problem>", e.g. "parameter size: must be one of
 * 'small', 'large'"; user values are never quoted back. */
int dtk_osb_schema_validate(const dtk_json *schema, const dtk_json *params);

/* Writes the X-Broker-API-Originating-Identity value for identity
 * ("kubernetes <base64 JSON>") into out. Exposed for tests. */
int dtk_osb_identity_header(dtk_buf *out, const dtk_osb_identity *identity);

#endif

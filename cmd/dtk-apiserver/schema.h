/* Custom resource schemas: the part of apiextensions-apiserver (Kubernetes
 * v1.32) that checks a CRD's openAPIV3Schema when the CRD is written, and
 * prunes, defaults and validates custom resources against it, with
 * Kubernetes' error wording (see fielderr.h).
 * Thread-safety: a compiled dtk_schema is immutable; any number of threads
 * may use one at the same time. Object trees belong to the caller.
 *
 * Typical use by the API server:
 *   on CRD create/update:  dtk_schema_compile(&s, openAPIV3Schema,
 *                            "spec.versions[0].schema.openAPIV3Schema", &errs)
 *                          (errors become the CRD's 422)
 *   on CR decode:          dtk_schema_coerce(s, obj, unknown_paths)
 *                          (prune, drop non-nullable nulls, default)
 *   on CR create:          dtk_schema_validate(s, obj, &errs)
 *   on CR update:          dtk_schema_validate_update(s, obj, old, &errs,
 *                                                     &warnings)
 * The root object's apiVersion, kind and metadata are the server's job: the
 * schema only constrains metadata.name/generateName, and pruning keeps the
 * three fields untouched.
 *
 * x-kubernetes-validations: a documented subset of CEL runs here (see
 * schema_cel.c). A rule outside the subset makes dtk_schema_compile fail, so
 * a CRD author learns at once that this development server cannot run it.
 */
#ifndef DTK_APISERVER_SCHEMA_H
#define DTK_APISERVER_SCHEMA_H

#include "cmd/dtk-apiserver/fielderr.h"
#include "pkg/json/json.h"

typedef struct dtk_schema dtk_schema;

/* Checks schema as the CRD validation of v1.32 does (allowed keywords,
 * structural schema, valid patterns, list types, defaults that validate
 * against their own schema and are pruned, CEL rules in the supported
 * subset) and compiles it. Errors are appended to errs with field paths
 * under path_prefix (e.g. "spec.versions[0].schema.openAPIV3Schema"), worded
 * like Kubernetes. schema is borrowed for the call only (the result keeps
 * copies of what it needs).
 * Returns 0 with *out set (the caller frees it with dtk_schema_free), or
 * DTK_EINVALID with *out NULL and at least one error in errs. */
int dtk_schema_compile(dtk_schema **out,
                       const dtk_json *schema,
                       const char *path_prefix,
                       dtk_fielderr_list *errs);

void dtk_schema_free(dtk_schema *s);

/* dtk_schema_compile without keeping the result: 0 or DTK_EINVALID. */
int dtk_schema_check_structural(const dtk_json *schema,
                                const char *path_prefix,
                                dtk_fielderr_list *errs);

/* Validates a custom resource for create, in the order the CR strategy of
 * v1.32 does: the OpenAPI schema (kube-openapi wording, e.g.
 * "spec.replicas: Invalid value: \"string\": spec.replicas in body must be
 * of type integer: \"string\""), embedded resources (apiVersion/kind),
 * x-kubernetes-list-type set/map uniqueness ("Duplicate value"), then the
 * CEL rules, unless an earlier error blocks them (Kubernetes then adds
 * "<nil>: Invalid value: \"null\": some validation rules were not checked
 * because the object was invalid; ..."). Errors are appended to errs. */
void dtk_schema_validate(const dtk_schema *s,
                         const dtk_json *obj,
                         dtk_fielderr_list *errs);

/* Validation for update: as dtk_schema_validate, plus transition rules
 * (oldSelf) on values that exist in both objects, and ratcheting: an error
 * in a value equal to its old value (correlated by property, map key or
 * list-map key) is not an error but a warning ("<field>: <body>" entries in
 * warnings, which may be NULL); list-type uniqueness is not checked when the
 * old object already broke it. */
void dtk_schema_validate_update(const dtk_schema *s,
                                const dtk_json *obj,
                                const dtk_json *old,
                                dtk_fielderr_list *errs,
                                dtk_fielderr_list *warnings);

/* Validation for a write to the /status subresource, as the status
 * strategy does: only .status is checked against the schema's "status"
 * property (fields under "status", but kube-openapi names relative to it:
 * "status.phase: Invalid value: 5: phase in body must be of type string:
 * ..."), then list types and CEL rules on the whole object, with
 * ratcheting as in dtk_schema_validate_update. */
void dtk_schema_validate_status_update(const dtk_schema *s,
                                       const dtk_json *obj,
                                       const dtk_json *old,
                                       dtk_fielderr_list *errs,
                                       dtk_fielderr_list *warnings);

/* Removes the fields the schema does not declare, unless
 * x-kubernetes-preserve-unknown-fields is true at that level. At the root
 * and in embedded resources apiVersion, kind and metadata are kept (an
 * embedded resource's metadata keeps the known ObjectMeta fields only). When
 * unknown_paths is a JSON array, the removed paths ("spec.foo",
 * "spec.items[0].bar") are appended to it, sorted, for fieldValidation
 * warnings ("unknown field \"spec.foo\""). */
void dtk_schema_prune(const dtk_schema *s,
                      dtk_json *obj,
                      dtk_json *unknown_paths);

/* Applies defaults: an absent property (or a null where the schema is not
 * nullable) gets a copy of its schema default, recursively, also in items
 * and additionalProperties; the inserted value is itself defaulted. */
void dtk_schema_default(const dtk_schema *s, dtk_json *obj);

/* What the server does to every decoded custom resource: prune, drop nulls
 * the schema does not allow and has no default for, then default. */
void dtk_schema_coerce(const dtk_schema *s,
                       dtk_json *obj,
                       dtk_json *unknown_paths);

/* Whether errs holds an error that makes Kubernetes skip the CEL rules
 * (Unsupported value, Required value, Too long, Too many, type errors). */
int dtk_schema_has_blocking_error(const dtk_fielderr_list *errs);

#endif
